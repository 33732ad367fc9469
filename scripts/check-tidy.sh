#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-tidy.sh [BUILD_DIR]: clang-tidy with the repository's .clang-tidy on every C file that
# the Linux build compiles (library, tool, examples, tests; the benchmarks and the NATS bridge
# when their packages are there). Any warning fails. The Windows sources are compiled by mingw
# only (scripts/check-win-build.sh) and are not in this compilation database.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc clang clang-tidy libcmocka-dev
build=${1:-build-tidy}
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DSHMRING_BENCH=OFF -DSHMRING_EXAMPLES=ON >/dev/null
# Generated headers (shmring_version.h) must exist before clang-tidy reads the sources.
cmake --build "$build" -j"$(nproc)" >/dev/null
# CMake writes one `"file": "..."` line per compilation; the C files of this tree, each once.
files=$(grep -oE '"file": "[^"]+\.c"' "$build/compile_commands.json" | sed -E 's/^"file": "(.*)"$/\1/' |
  grep "^$PWD/" | sort -u)
n=$(echo "$files" | wc -l)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! echo "$files" | xargs -P"$(nproc)" -n4 clang-tidy -p "$build" --quiet >"$log" 2>&1; then
  grep -E 'warning:|error:' -A3 "$log" | head -200
  echo "check-tidy: FAILED: $(grep -cE '(warning|error):' "$log") finding(s) in $n files"
  exit 1
fi
echo "check-tidy: ok: $n files, no findings"
