#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks that SetSharedMem, GetSharedMem and shmring_compat_status are exported, unmangled and
# defined, from the shared library's dynamic symbol table and from the static archive.
# A version suffix from src/shmring.map (SetSharedMem@@SHMRING_2.0) is accepted.
#   check_exports.sh libshmring.so libshmring.a
set -u
so=$1 ar=$2
if ! command -v nm >/dev/null 2>&1; then
    echo "SKIP: nm is not installed"
    exit 77
fi
ok=0
for sym in SetSharedMem GetSharedMem shmring_compat_status; do
    if nm -D --defined-only "$so" | grep -Eq " T $sym(@@?[A-Za-z0-9_.]+)?\$"; then
        echo "$so: $sym exported"
    else
        echo "FAIL: $so does not export $sym"
        ok=1
    fi
    if nm --defined-only "$ar" 2>/dev/null | grep -Eq " T $sym(@@?[A-Za-z0-9_.]+)?\$"; then
        echo "$ar: $sym defined"
    else
        echo "FAIL: $ar does not define $sym"
        ok=1
    fi
done
exit $ok
