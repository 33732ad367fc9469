#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds examples/legacy/legacy.pas against the freshly built libshmring.so and runs it: its own
# semantics check, then the classic pair in both directions with the C legacy programs.
#   run_fpc.sh SOURCE LIBDIR WORKDIR LEGACY_RUN C_SETTER C_GETTER [SANITIZERS]
# Exit 77 (skipped) when fpc is not installed, or when the library is built with sanitizers (their
# runtime must come first in a program, which a Pascal program does not provide).
set -u
src=$1 libdir=$2 work=$3 run=$4 csetter=$5 cgetter=$6 sanitize=${7:-}
if [ -n "$sanitize" ]; then
    echo "SKIP: libshmring is built with sanitizers ($sanitize); fpc programs cannot load it"
    exit 77
fi
if ! command -v fpc >/dev/null 2>&1; then
    echo "SKIP: fpc (Free Pascal) is not installed"
    exit 77
fi
mkdir -p "$work" || exit 1
fpc -vew -Fl"$libdir" -FU"$work" -FE"$work" -o"$work/legacy" "$src" || {
    echo "FAIL: fpc could not build $src"
    exit 1
}
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
expected="This is a test string"
"$work/legacy" check || exit 1
"$run" "$csetter" - "$work/legacy" get "$expected" || exit 1
"$run" "$work/legacy" set "$cgetter" - "$expected" || exit 1
echo "fpc legacy caller: ok"
