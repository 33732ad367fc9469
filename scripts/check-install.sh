#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-install.sh: installs shmring to a temporary prefix with cmake --install, then builds
# tests/install/hello.c against that prefix twice, with find_package(shmring) and with
# pkg-config --cflags --libs shmring, and runs both. Also checks that the man pages, the license
# and the generated version header were installed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc pkg-config
build=build-install
prefix=$(mktemp -d /tmp/shmring-prefix.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake -S . -B "$build" -DSHMRING_TESTS=OFF -DSHMRING_BENCH=OFF -DSHMRING_EXAMPLES=OFF \
  -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cmake --install "$build" >/dev/null

for f in include/shmring.h include/shmring_version.h include/shmring_compat.h \
         share/man/man3/shmring_open.3 share/man/man3/shmring_close.3 share/man/man7/shmring.7 \
         share/man/man1/shmring.1 share/licenses/shmring/LICENSE bin/shmring; do
  [ -e "$prefix/$f" ] || { echo "check-install: $f was not installed"; exit 1; }
done
pc=$(find "$prefix" -name shmring.pc | head -n1)
libdir=$(dirname "$(dirname "$pc")")
grep -q '^License: MIT$' "$pc" || { echo "check-install: no License in $pc"; exit 1; }

echo "--- find_package(shmring)"
cmake -S tests/install -B "$build/find_package" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$build/find_package" >/dev/null
LD_LIBRARY_PATH=$libdir "$build/find_package/hello"

echo "--- pkg-config --cflags --libs shmring"
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs shmring)
echo "cc tests/install/hello.c $flags"
# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -Wall -Werror tests/install/hello.c $flags -o "$build/hello-pkgconfig"
LD_LIBRARY_PATH=$libdir "$build/hello-pkgconfig"
echo "check-install: ok"
