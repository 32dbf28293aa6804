#!/usr/bin/env bash
# Exported (dynamic, defined) symbols of the shared library must be exactly
# the functions declared DC_API in the public headers (the directory of
# the header given).
set -euo pipefail
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
declared=$(cat "$(dirname "$header")"/*.h | grep -oE 'DC_API[^;(]*[ *]dc_[a-z0-9_]+\(' | grep -oE 'dc_[a-z0-9_]+\($' | tr -d '(' | sort -u)
status=0
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$extra" ]; then echo "exported but not in the header:"; echo "$extra"; status=1; fi
if [ -n "$missing" ]; then echo "declared but not exported:"; echo "$missing"; status=1; fi
n=$(echo "$declared" | wc -l)
echo "$n public functions checked"
exit $status
