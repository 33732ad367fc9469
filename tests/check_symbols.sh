#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports exactly the functions its public headers declare (SHMRING_API in
# include/shmring.h, shmring_compat.h, shmring_admin.h): nothing internal leaks, nothing
# declared is missing.   check_symbols.sh libshmring.so INCLUDE_DIR
set -u
so=$1 inc=$2
if ! command -v nm >/dev/null 2>&1; then
    echo "SKIP: nm is not installed"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exported" # without @@VERSION
# Declarations may span lines: join each header, then take the name before "(" in every
# SHMRING_API declaration.
# Through the preprocessor, as this platform's compiler sees them (Windows-only forms such as
# SetSharedMemA drop out); SHMRING_API has then become the default-visibility attribute.
for h in shmring.h shmring_compat.h shmring_admin.h; do
    ${CC:-cc} -E -P -I "$inc" ${GEN_INC:+-I "$GEN_INC"} "$inc/$h" | tr '\n' ' ' |
        grep -oE 'visibility\("default"\)\)\)[^;(]*\(' |
        sed -E 's/.*[ *]([A-Za-z_][A-Za-z0-9_]*)[ ]*\($/\1/'
done | sort -u >"$tmp/declared"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "FAIL: exported symbols (+) differ from the public declarations (-)"
    exit 1
fi
echo "ok: $(wc -l <"$tmp/exported") exported functions, all declared in the public headers"
