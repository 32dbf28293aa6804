#!/usr/bin/env bash
# Compares the ABI of a freshly built libdeepcore.so with the committed
# baseline (doc/abi/libdeepcore.abi) using libabigail's abidiff.
#
#   tests/check_abi.sh BUILD_LIB BASELINE [HEADERS_DIR]
#
# BUILD_LIB must carry debug information (buildtype debug or
# debugoptimized); HEADERS_DIR defaults to include/deepcore beside this
# script and limits the comparison to the public types.
#
# Passes (0) when the ABI is unchanged or only grew (functions, enum
# values added). Fails (1) on any removed or changed function or
# variable, unless the soname changed too (an announced break: the diff
# is shown and the baseline must then be refreshed, see doc/abi.md).
# Skips (77, Meson's "skipped") when abidiff is not installed or the
# library has no debug information.
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 BUILD_LIB BASELINE [HEADERS_DIR]" >&2
    exit 2
fi
if ! command -v abidiff >/dev/null 2>&1; then
    echo "SKIP: abidiff not found (apt-get install abigail-tools)"
    exit 77
fi
lib=$1
baseline=$2
headers=${3:-$(cd "$(dirname "$0")/.." && pwd)/include/deepcore}
for f in "$lib" "$baseline"; do
    if [ ! -r "$f" ]; then
        echo "FAIL: cannot read $f" >&2
        exit 1
    fi
done
if [ ! -d "$headers" ]; then
    echo "FAIL: no headers directory $headers" >&2
    exit 1
fi
# Without DWARF abidiff sees symbol names only and would miss every
# change of a signature: say so instead of passing quietly.
if ! readelf -S --wide "$lib" | grep -q '\.debug_info'; then
    echo "SKIP: $lib has no debug information; check a debug or debugoptimized build"
    exit 77
fi

old_soname=$(sed -n "s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n 1)
new_soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')

# The library is read as abidw read it for the baseline (doc/abi.md,
# "Refreshing the baseline"): exported functions and the public types
# behind them only. Otherwise abidiff sees internal types the baseline
# dropped and counts hundreds of "filtered out" changes.
report=$(abidiff --no-show-locs --exported-interfaces-only --drop-private-types \
                 --headers-dir2 "$headers" "$baseline" "$lib" 2>&1)
status=$?
echo "abidiff $baseline $lib: exit $status"
[ -n "$report" ] && echo "$report"

if [ $((status & 3)) -ne 0 ]; then
    echo "FAIL: abidiff could not compare the two (exit $status)" >&2
    exit 1
fi
if [ "$status" -eq 0 ]; then
    echo "PASS: the ABI matches the baseline"
    exit 0
fi

# abidiff flags only removed symbols as incompatible (bit 8); a changed
# signature is bit 4 like an addition. So read its summary lines
# ("Functions changes summary: 0 Removed, 1 Changed, 2 Added functions",
# and the same for variables and for symbols without debug info): only
# additions are compatible.
broken=$(echo "$report" | grep -E 'changes summary:' |
         grep -E '[1-9][0-9]* Removed|[1-9][0-9]* Changed')
if [ $((status & 8)) -eq 0 ] && [ -z "$broken" ]; then
    echo "PASS: compatible additions only (refresh the baseline when releasing, see doc/abi.md)"
    exit 0
fi

if [ -n "$old_soname" ] && [ "$old_soname" != "$new_soname" ]; then
    echo "PASS: incompatible changes with a new soname ($old_soname -> $new_soname);" \
         "refresh doc/abi/libdeepcore.abi (doc/abi.md)"
    exit 0
fi
echo "FAIL: incompatible ABI change with the same soname ($new_soname)." >&2
echo "      Keep the old signature and add a new function, or bump the soname" >&2
echo "      (doc/abi.md, 'Checking against the baseline')." >&2
exit 1
