#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-windows.sh: everything Windows, for CI and by hand. Installs and builds what it needs
# (scripts/win-deps.sh: mingw-w64 + wine + the prefix; CMocka for mingw; Free Pascal for win32;
# all cached per machine in $SHMRING_CACHE, see docs/windows.md), then for i686 and x86_64:
# cross-builds tests/win (which builds the real shmring.dll, dllshmem.dll and the static library
# from the top-level project; the platform layer src/win against src/platform.h, the legacy
# exports and conversions, the calling-convention proofs, callers in other processes) and runs it
# with CTest under wine. i686 goes first: the x86_64 tests also start its programs (a 32-bit and
# a 64-bit process on one ring). Extra arguments go to every ctest call.
# Timing: 76 s with the tools cached and new build dirs (a loaded 2-core machine), 9 s with
# existing build dirs; an estimated 4-5 min on a new machine (docs/windows.md).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s%N)
took() { local ms=$((($(date +%s%N) - start) / 1000000)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }
./scripts/deps.sh cmake make
./scripts/win-deps.sh
./scripts/build-cmocka-mingw.sh i686
./scripts/build-cmocka-mingw.sh x86_64
./scripts/build-fpc-win32.sh
echo "test-windows: tools ready ($(took))"
# shellcheck source-path=SCRIPTDIR source=win-env.sh
. scripts/win-env.sh
# Without ia32 emulation in the kernel no 32-bit program runs (win-deps.sh says so): i686 is
# still built (the compilers and every warning are checked), its tests and the x86_64 tests that
# start i686 programs are left out, loudly.
run32=1
win32_runs || run32=0
for arch in i686 x86_64; do
  tc="$PWD/cmake/toolchain-mingw-$arch.cmake"
  peer="$PWD/build-win-i686"
  [ $run32 = 1 ] || peer=
  echo "--- $arch: tests/win"
  # The compilation database is for scripts/check-tidy.sh --win.
  cmake -S tests/win -B "build-win-$arch" -DCMAKE_TOOLCHAIN_FILE="$tc" \
    -DSHMRING_WIN_PEER_DIR="$peer" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
  nice cmake --build "build-win-$arch" -j2 >/dev/null
  if [ $arch = i686 ] && [ $run32 = 0 ]; then
    echo "test-windows: i686 built, NOT RUN: this kernel cannot run 32-bit programs;" \
      "the x86_64 run leaves out its 32-bit peers (xarch_*, the Delphi peer)"
    continue
  fi
  ctest --test-dir "build-win-$arch" --output-on-failure -j2 "$@"
done
echo "test-windows: done ($(took))"
