#!/usr/bin/env bash
# Static analysis of the library's sources (lib/): cppcheck and clang-tidy.
#
#   tests/static_analysis.sh BUILD_DIR [cppcheck|clang-tidy|all]
#
# BUILD_DIR is a configured Meson build of this tree (any buildtype): its
# compile_commands.json gives clang-tidy the real flags, and its include/
# holds the generated deepcore/version.h. clang-tidy reads its checks from
# .clang-tidy at the top of the tree. Suppress a false positive on its line,
# with the reason:
#     // cppcheck-suppress checkId ; reason
#     // NOLINT(check-name): reason
#
# Prints every finding and a count per tool; exits 1 when there is any,
# 0 when clean, 77 when a requested tool is not installed
# (apt-get install cppcheck clang-tidy).
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD_DIR [cppcheck|clang-tidy|all]" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
which=${2:-all}
src=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for tool in cppcheck clang-tidy; do
    if { [ "$which" = all ] || [ "$which" = "$tool" ]; } && ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not installed"
        exit 77
    fi
done
if [ ! -f "$build/compile_commands.json" ]; then
    echo "FAIL: $build/compile_commands.json not found (meson setup $build)" >&2
    exit 1
fi

cd "$src" || exit 2
sources=$(find lib -name '*.c' | sort)
failed=0

if [ "$which" = all ] || [ "$which" = cppcheck ]; then
    # invalidPointerCast is off: storage is untyped bytes (char *) cast to
    # the element type, which is how this library addresses tensor data.
    # The -D set is the one configuration the library is built in.
    cppcheck --enable=warning,performance,portability --error-exitcode=1 \
        --inline-suppr --std=c11 --quiet -j "$jobs" \
        --suppress=invalidPointerCast \
        -I include -I lib -I "$build/include" \
        -D__GNUC__=12 -D__x86_64__ -D_POSIX_C_SOURCE=200809L \
        -DDC_BUILDING_LIBRARY -DDC_HAVE_OPENBLAS \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
        lib 2> "$out/cppcheck.txt"
    status=$?
    n=$(grep -c ': \(error\|warning\|performance\|portability\|style\): ' "$out/cppcheck.txt")
    cat "$out/cppcheck.txt"
    echo "cppcheck: $n finding(s) (exit $status)"
    [ "$status" -ne 0 ] && failed=1
fi

if [ "$which" = all ] || [ "$which" = clang-tidy ]; then
    # One file per process; a header's findings are reported once.
    echo "$sources" | xargs -P "$jobs" -n 1 clang-tidy -p "$build" --quiet \
        > "$out/tidy.txt" 2> "$out/tidy.err"
    grep -E '^[^ ].*: (warning|error): ' "$out/tidy.txt" |
        sed "s|^$build/||; s|^\(\.\./\)*[^ ]*/lib/|lib/|; s|^\(\.\./\)*[^ ]*/include/|include/|" |
        sort -u > "$out/tidy-findings.txt"
    if grep -q 'error: ' "$out/tidy.err"; then
        grep 'error: ' "$out/tidy.err" >&2
        failed=1
    fi
    n=$(wc -l < "$out/tidy-findings.txt")
    if [ "$n" -gt 0 ]; then
        # the full report (with the analyzer's paths) for each finding
        cat "$out/tidy.txt"
        echo "clang-tidy findings, one line each:"
        cat "$out/tidy-findings.txt"
        echo "by check:"
        grep -oE '\[[A-Za-z0-9.,-]+\]$' "$out/tidy-findings.txt" | sort | uniq -c | sort -rn
        failed=1
    fi
    echo "clang-tidy: $n finding(s) in $(echo "$sources" | wc -l) files"
fi

exit $failed
