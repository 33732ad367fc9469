#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-tidy.sh [BUILD_DIR]: clang-tidy with the repository's .clang-tidy on every C file that
# the Linux build compiles (library, tool, examples, tests; the benchmarks and the NATS bridge
# when their packages are there). Any warning fails.
# check-tidy.sh --win [BUILD_DIR...]: the same on the Windows builds of scripts/test-windows.sh
# (default build-win-i686 build-win-x86_64, which it configures with a compilation database):
# the library with src/win, the tool, and the tests under tests/win. clang reads mingw's headers
# for the target that the database's compiler names (x86_64-w64-mingw32-gcc), so the checks see
# Windows' types: a 32-bit `long` and, on i686, a 32-bit size_t and shmring_ssize.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc clang clang-tidy libcmocka-dev
win=0
if [ "${1:-}" = --win ]; then
  win=1
  shift
fi
if [ $win = 1 ]; then
  if [ $# -gt 0 ]; then builds=("$@"); else builds=(build-win-i686 build-win-x86_64); fi
  for b in "${builds[@]}"; do
    [ -f "$b/compile_commands.json" ] ||
      { echo "check-tidy: no $b/compile_commands.json: run scripts/test-windows.sh first" >&2; exit 2; }
  done
else
  builds=("${1:-build-tidy}")
  cmake -S . -B "${builds[0]}" -DCMAKE_C_COMPILER=clang -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DSHMRING_BENCH=OFF -DSHMRING_EXAMPLES=ON >/dev/null
  # Generated headers (shmring_version.h) must exist before clang-tidy reads the sources.
  cmake --build "${builds[0]}" -j"$(nproc)" >/dev/null
fi
# Only this tree's headers are checked: .clang-tidy's HeaderFilterRegex, anchored here, so that
# a dependency's headers under some other include/ (mingw's CMocka in the cache) are not.
# $PWD with the regular expression's special characters escaped.
here=$(printf '%s' "$PWD" | sed 's/[][\\.*^$+?(){}|]/\\&/g')
filter="^$here/(src|include|tests|examples|bench|bridge)/"
# mingw's Windows headers write their `long` constants (ERROR_*, WAIT_*) as x##l through
# __MSABI_LONG, which cert-dcl16-c reports, without a location, in every file that uses one. The
# headers define it only when it is not defined yet: the same value with an upper-case suffix.
extra=()
[ $win = 0 ] || extra=('--extra-arg=-D__MSABI_LONG(x)=x##L')
log=$(mktemp)
trap 'rm -f "$log"' EXIT
total=0
failed=0
for b in "${builds[@]}"; do
  # CMake writes one `"file": "..."` line per compilation; the C files of this tree, each once.
  files=$(grep -oE '"file": "[^"]+\.c"' "$b/compile_commands.json" |
    sed -E 's/^"file": "(.*)"$/\1/' | awk -v p="$PWD/" 'index($0, p) == 1' | sort -u)
  if [ -z "$files" ]; then
    echo "check-tidy: no C file under $PWD in $b/compile_commands.json" >&2
    exit 2
  fi
  n=$(echo "$files" | wc -l)
  total=$((total + n))
  if ! echo "$files" | xargs -P"$(nproc)" -n4 clang-tidy -p "$b" --quiet \
    --header-filter="$filter" "${extra[@]}" >"$log" 2>&1; then
    # Not every failure has a finding line (a crash of clang-tidy), and head may close the pipe.
    { grep -E 'warning:|error:' -A3 "$log" || tail -20 "$log"; } | head -200 || true
    echo "check-tidy: FAILED in $b: $(grep -cE '(warning|error):' "$log") finding(s) in $n files"
    failed=1
  fi
done
[ $failed = 0 ] || exit 1
echo "check-tidy: ok: $total files (${builds[*]}), no findings"
