#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-win-stub.sh [BUILD_DIR]: the library builds for Windows with the mingw-w64 cross
# compiler against src/platform.h, from src/win/ alone (CMake picks src/win/*.c when WIN32).
# Only the library: tests, tool, examples and benchmarks are POSIX programs for now.
# BUILD_DIR defaults to build-win-stub (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-win-stub}
./scripts/deps.sh mingw-w64 cmake
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-x86_64.cmake \
  -DSHMRING_TESTS=OFF -DSHMRING_TOOL=OFF -DSHMRING_EXAMPLES=OFF -DSHMRING_BENCH=OFF \
  -DSHMRING_WERROR=ON >/dev/null
cmake --build "$build" -j2 --target shmring shmring_static
# What was built must be a PE DLL (and an import library), made from src/win/ and no POSIX file.
dll=$(find "$build" -maxdepth 1 -name 'libshmring*.dll' | head -n1)
[ -n "$dll" ] || { echo "check-win-stub: no DLL in $build" >&2; exit 1; }
file "$dll" | grep -q 'PE32+ executable (DLL)' || { echo "check-win-stub: $dll is not a PE32+ DLL" >&2; exit 1; }
if grep -rq 'src/unix/' "$build/CMakeFiles/shmring.dir" 2>/dev/null; then
  echo "check-win-stub: a src/unix/ file went into the Windows build" >&2
  exit 1
fi
echo "check-win-stub: ok: $dll from src/win/ with x86_64-w64-mingw32-gcc"
