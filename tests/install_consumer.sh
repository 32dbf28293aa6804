#!/usr/bin/env bash
# Installs the built library into a staging prefix and builds a program
# against it the way a user does: cc app.c $(pkg-config --cflags --libs deepcore).
set -euo pipefail
build=$1 prefix=$2
rm -rf "$prefix"
meson install -C "$build" --destdir "$prefix" --quiet >/dev/null
root="$prefix$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')"
libdir=$(find "$root" -name deepcore.pc -printf '%h\n' | head -1)
[ -n "$libdir" ] || { echo "deepcore.pc was not installed"; exit 1; }
# Point the .pc at the staged prefix.
sed -i "s|^prefix=.*|prefix=$root|" "$libdir/deepcore.pc"
export PKG_CONFIG_PATH="$libdir"
tmp=$(mktemp -d)
cat >"$tmp/app.c" <<'C'
#include <deepcore/deepcore.h>
#include <stdio.h>
int main(void) {
    int64_t shape[2] = {2, 2};
    dc_tensor *a = dc_full(DC_F32, 2, shape, 1.5);
    dc_tensor *p = dc_matmul(a, a);
    double v = 0;
    int64_t idx[2] = {1, 1};
    int ok = p && dc_get(p, idx, &v) == DC_OK && v == 4.5;
    printf("libdeepcore %s via pkg-config: %s\n", dc_version_string(), ok ? "ok" : "WRONG");
    dc_release(p);
    dc_release(a);
    return ok ? 0 : 1;
}
C
cc "$tmp/app.c" -o "$tmp/app" $(pkg-config --cflags --libs deepcore)
# the soname is libdeepcore.so.0
soname=$(readelf -d "$(dirname "$libdir")/libdeepcore.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libdeepcore.so.0" ] || { echo "soname is '$soname'"; exit 1; }
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/app"
rm -rf "$tmp"
