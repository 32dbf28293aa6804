#!/bin/sh
# The study's code on a tiny ladder (two sizes, a few steps), then the
# checks: each CSV has its header, one row per size, seed and evaluation
# step, and finite values; a second run resumes (runs nothing) and gives
# the same CSVs.
# When gnuplot is installed, the plot script must draw all six files.
#   check_tiny.sh SCALING_EXE OUT_DIR PLOT_SCRIPT
set -eu
exe=$1
out=$2
plot=$3
rm -rf "$out"
"$exe" --tiny --out "$out" --jobs 2 --no-plot >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
cat "$out.log"

fail() { echo "check_tiny: $*" >&2; exit 1; }

# file, header, expected rows (sizes x seeds x evaluations)
check_csv() {
  [ -f "$1" ] || fail "$1 is missing"
  [ "$(head -n 1 "$1")" = "$2" ] || fail "$1: header is '$(head -n 1 "$1")', wanted '$2'"
  awk -F, -v want="$3" -v cols="$(echo "$2" | awk -F, '{print NF}')" '
    NR == 1 { next }
    NF != cols { printf "line %d has %d fields, wanted %d\n", NR, NF, cols; bad = 1 }
    { for (i = 1; i <= NF; i++) if ($i !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) {
        printf "line %d field %d is not a finite number: %s\n", NR, i, $i; bad = 1 } }
    { key = $1 "x" $2 " seed " $5 " step " $6; if (key in seen) { print "duplicate row " key; bad = 1 }
      seen[key] = 1; rows++ }
    END { if (rows != want) { printf "%d rows, wanted %d\n", rows, want; bad = 1 } exit bad }
  ' "$1" || fail "$1 is malformed"
}

lm_header="layers,width,heads,n_params,seed,step,train_loss,val_loss,lr,seconds"
add_header="layers,width,heads,n_params,seed,step,train_loss,test_loss,exact_match,digit_acc,pos1_acc,pos2_acc,pos3_acc,pos4_acc,pos5_acc,pos6_acc,lr,seconds"
# --tiny: sizes 1x16 and 1x32, 20 steps evaluated every 10 (2 rows per
# run); the LM has one seed, addition two.
check_csv "$out/lm.csv" "$lm_header" 4
check_csv "$out/addition.csv" "$add_header" 8
# The steps are 10 and 20 for every run; the sizes are the tiny ladder.
[ "$(cut -d, -f6 "$out/addition.csv" | sed 1d | sort -u | tr '\n' ' ')" = "10 20 " ] ||
  fail "addition steps are not 10 and 20"
[ "$(cut -d, -f1,2 "$out/lm.csv" | sed 1d | sort -u | tr '\n' ' ')" = "1,16 1,32 " ] ||
  fail "the LM sizes are not 1x16 and 1x32"
# Accuracies lie in [0, 1].
awk -F, 'NR > 1 { for (i = 9; i <= 16; i++) if ($i < 0 || $i > 1) exit 1 }' "$out/addition.csv" ||
  fail "an accuracy is outside [0, 1]"
[ -f "$out/summary.csv" ] && [ -f "$out/fit.gp" ] || fail "summary.csv or fit.gp is missing"
grep -q "scaling law: L(N)" "$out.log" || fail "no fitted exponent in the summary"

# Resume: nothing left to run, same CSVs.
cp "$out/addition.csv" "$out/addition.first"
"$exe" --tiny --out "$out" --jobs 2 --no-plot >"$out.log2" 2>&1 || { cat "$out.log2"; exit 1; }
grep -q "^0 jobs to run, 6 already done" "$out.log2" || { cat "$out.log2"; fail "the second run did not resume"; }
cmp -s "$out/addition.csv" "$out/addition.first" || fail "the resumed run changed addition.csv"
if command -v gnuplot >/dev/null 2>&1; then
  gnuplot -e "dir='$out'" "$plot" || fail "gnuplot failed on $plot"
  for f in loss_vs_n emergence learning_curves; do
    for ext in png svg; do
      [ -s "$out/$f.$ext" ] || fail "$out/$f.$ext was not drawn"
    done
  done
else
  echo "check_tiny: gnuplot not installed, plots not checked"
fi
echo "check_tiny: OK"
