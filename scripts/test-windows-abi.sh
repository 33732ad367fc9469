#!/usr/bin/env bash
# test-windows-abi.sh: the Windows tests of tests/win under wine, for i686 and x86_64: CMocka for
# mingw works, and the legacy value's calling conventions and export names are right (a stand-in
# shmabi.dll called from C and from a Delphi-mode Free Pascal program). Installs and builds what
# it needs first (cached per machine, see docs/windows.md). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s%N)
took() { local ms=$((($(date +%s%N) - start) / 1000000)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }
./scripts/deps.sh cmake make
./scripts/win-deps.sh
./scripts/build-cmocka-mingw.sh i686
./scripts/build-cmocka-mingw.sh x86_64
./scripts/build-fpc-win32.sh
echo "test-windows-abi: tools ready ($(took))"
for arch in i686 x86_64; do
  echo "--- $arch"
  cmake -S tests/win -B "build-win-$arch" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-mingw-$arch.cmake" >/dev/null
  cmake --build "build-win-$arch" -j2 >/dev/null
  ctest --test-dir "build-win-$arch" --output-on-failure -j2 "$@"
done
echo "test-windows-abi: done ($(took))"
