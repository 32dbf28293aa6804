#!/usr/bin/env bash
# Runs the training-step benchmark (bench/train.c) and its PyTorch twin
# (bench/torch/train_twin.py) side by side and prints one table.
#
#   bench/run_train.sh [BUILD_DIR] [--quick] [--rounds N] [--threads N]
#                      [--workloads "mlp lenet gpt lstm tiny"]
#
# BUILD_DIR (default ./build) must hold a built bench/train; nothing is
# built here. For each workload, each round runs three programs one after
# the other: ours, PyTorch as a user gets it (no settings), and PyTorch
# tuned (OPENBLAS_CORETYPE=SkylakeX, OPENBLAS_NUM_THREADS=1,
# torch.set_num_threads(2)). Every run is its own process under
# /usr/bin/time -v, for its peak RSS. Per program, the table shows the
# median over the rounds of each run's median step time (ms), and the
# largest peak RSS. The tiny workload's three programs run pinned to one
# CPU (taskset), the same for all. --threads N is passed to ours (dc_set_num_threads);
# without it ours uses the library default. --quick runs a fifth of the
# steps.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=./build
quick=()
rounds=3
threads=()
workloads="mlp lenet gpt lstm tiny"

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=(--quick) ;;
        --rounds) rounds=$2; shift ;;
        --threads) threads=(--threads "$2"); shift ;;
        --workloads) workloads=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "run_train.sh: unknown option $1" >&2; exit 2 ;;
        *) build=$1 ;;
    esac
    shift
done

ours="$build/bench/train"
twin="$here/torch/train_twin.py"
python=/usr/bin/python3
if [ ! -x "$ours" ]; then
    echo "run_train.sh: $ours not found; build first (ninja -C $build bench/train)" >&2
    exit 1
fi
if [ ! -x /usr/bin/time ]; then
    echo "run_train.sh: /usr/bin/time is needed (apt-get install time)" >&2
    exit 1
fi

results=$(mktemp)
trap 'rm -f "$results" "$results.err"' EXIT

# run IMPL WORKLOAD CMD...: one timed process; appends
# "workload impl median_ms mean_ms rss_kb" to $results.
run() {
    local impl=$1 w=$2
    shift 2
    local out
    if ! out=$(/usr/bin/time -v "$@" 2>"$results.err"); then
        echo "run_train.sh: $impl $w failed:" >&2
        cat "$results.err" >&2
        exit 1
    fi
    local rss
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$results.err")
    local line
    line=$(grep "^workload=$w " <<<"$out")
    echo "  $line rss_kb=$rss" >&2
    awk -v impl="$impl" -v rss="$rss" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        print f["workload"], impl, f["median_ms"], f["mean_ms"], rss
    }' <<<"$line" >>"$results"
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" >&2
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for w in $workloads; do
    # The tiny MLP's step is serial in every program: all three run on
    # the same CPU (the first one this script may use), since the CPUs of
    # a virtual machine can differ in speed (seen here: a serial step 1.45x
    # (ours) to 1.8x (PyTorch) slower on one vCPU than on the other).
    pin=()
    if [ "$w" = tiny ] && command -v taskset >/dev/null; then
        pin=(taskset -c "$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')")
    fi
    for r in $(seq 1 "$rounds"); do
        echo "$w, round $r" >&2
        run ours "$w" "${pin[@]}" "$ours" --workload "$w" "${quick[@]}" "${threads[@]}"
        run user "$w" "${pin[@]}" env -u OPENBLAS_CORETYPE -u OPENBLAS_NUM_THREADS \
            "$python" "$twin" --workload "$w" --mode user "${quick[@]}"
        run tuned "$w" "${pin[@]}" env OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 \
            "$python" "$twin" --workload "$w" --mode tuned "${quick[@]}"
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# The table: step times are medians over rounds; each ratio is the median
# of the rounds' own ratios (each from three processes run back to back:
# this machine's speed drifts by up to 2x within minutes, so a ratio of
# two medians could pair a fast moment with a slow one), with the
# rounds' lowest and highest; RSS the largest of the rounds.
awk -v order="$workloads" '
function median(list,    n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lowest(list,    n, a, i, m) {
    n = split(list, a, " "); m = a[1]
    for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]
    return m
}
function highest(list,    n, a, i, m) {
    n = split(list, a, " "); m = a[1]
    for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]
    return m
}
{
    key = $1 SUBSEP $2
    med[key] = med[key] " " $3
    if ($5 + 0 > rss[key] + 0) rss[key] = $5
    # rows come as ours, user, tuned for each round
    if ($2 == "ours") last_ours[$1] = $3
    else if (last_ours[$1] != "") ratio[key] = ratio[key] " " (last_ours[$1] / $3)
}
END {
    printf "%-7s | %11s | %13s | %14s | %19s | %19s | %8s | %9s\n", "workload",
           "ours med ms", "torch user ms", "torch tuned ms", "ours/user (range)",
           "ours/tuned (range)", "RSS ours", "RSS torch"
    printf "--------+-------------+---------------+----------------+---------------------+---------------------+----------+----------\n"
    n = split(order, ws, " ")
    for (i = 1; i <= n; i++) {
        w = ws[i]
        o = median(med[w SUBSEP "ours"]); u = median(med[w SUBSEP "user"])
        t = median(med[w SUBSEP "tuned"])
        rt = rss[w SUBSEP "user"] + 0 > rss[w SUBSEP "tuned"] + 0 ? rss[w SUBSEP "user"] : rss[w SUBSEP "tuned"]
        ru = ratio[w SUBSEP "user"]; rtu = ratio[w SUBSEP "tuned"]
        printf "%-7s | %11.4f | %13.4f | %14.4f | %5.3f (%5.3f-%5.3f) | %5.3f (%5.3f-%5.3f) | %5.0f MB | %6.0f MB\n", w,
               o, u, t, median(ru), lowest(ru), highest(ru), median(rtu), lowest(rtu),
               highest(rtu), rss[w SUBSEP "ours"] / 1024, rt / 1024
    }
}' "$results"
