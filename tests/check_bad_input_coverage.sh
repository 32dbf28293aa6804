#!/usr/bin/env bash
# Every public function (declared DC_API in the headers of the directory
# given) must have an entry {"dc_name", ...} in the table of
# tests/test_bad_input.c. Prints the missing names and fails when any is.
set -euo pipefail
header_dir=$1 test_file=$2
declared=$(cat "$header_dir"/*.h | grep -oE 'DC_API[^;(]*[ *]dc_[a-z0-9_]+\(' |
           grep -oE 'dc_[a-z0-9_]+\($' | tr -d '(' | sort -u)
# Only the table counts: the lines between its opening and its closing "};".
table=$(sed -n '/^static const bad_case bad_cases\[\] = {/,/^};/p' "$test_file")
if [ -z "$table" ]; then
    echo "no bad_cases table found in $test_file"
    exit 1
fi
listed=$(echo "$table" | grep -oE '^ *\{"dc_[a-z0-9_]+",' | grep -oE 'dc_[a-z0-9_]+' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$listed"))
unknown=$(comm -13 <(echo "$declared") <(echo "$listed"))
status=0
if [ -n "$missing" ]; then
    echo "public functions without a bad-input case:"
    echo "$missing"
    status=1
fi
if [ -n "$unknown" ]; then
    echo "table entries that are not public functions:"
    echo "$unknown"
    status=1
fi
echo "$(echo "$declared" | wc -l) public functions, $(echo "$listed" | wc -l) table entries"
exit $status
