#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-win-build.sh [BUILD_PREFIX]: the library builds for Windows with the mingw-w64 cross
# compilers, i686 and x86_64, warnings as errors, from src/win/ (CMake picks src/win/*.c when
# WIN32): shmring.dll with the undecorated exports of src/win/shmring.def, dllshmem.dll, and the
# tool shmring.exe. The examples and benchmarks are POSIX programs for now (the Windows tests are
# tests/win, run by scripts/test-windows.sh). Build dirs: BUILD_PREFIX-<arch>
# (default build-win-lib-<arch>, git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-build-win-lib}
./scripts/deps.sh mingw-w64 cmake
fail() { echo "check-win-build: $*" >&2; exit 1; }
for arch in i686 x86_64; do
  build=$prefix-$arch
  cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="cmake/toolchain-mingw-$arch.cmake" \
    -DSHMRING_TESTS=OFF -DSHMRING_TOOL=ON -DSHMRING_EXAMPLES=OFF -DSHMRING_BENCH=OFF \
    -DSHMRING_NATS=OFF -DSHMRING_WERROR=ON >/dev/null
  nice cmake --build "$build" -j2 --target shmring shmring_static dllshmem shmring_tool >/dev/null
  case $arch in i686) pe='PE32 executable (DLL)' ;; *) pe='PE32+ executable (DLL)' ;; esac
  for dll in shmring dllshmem; do
    [ -f "$build/$dll.dll" ] || fail "no $dll.dll in $build"
    file "$build/$dll.dll" | grep -q "$pe" || fail "$build/$dll.dll is not a $pe"
    # Self-contained: only system DLLs (and shmring.dll for the forwarders) are imported.
    if "$arch-w64-mingw32-objdump" -p "$build/$dll.dll" | grep 'DLL Name' | grep -qiv \
      'kernel32\|advapi32\|msvcrt\|shmring\.dll'; then
      fail "$build/$dll.dll imports a DLL that is not part of Windows"
    fi
  done
  # shmring.exe: a console program that needs nothing but Windows and shmring.dll.
  case $arch in i686) pe='PE32 executable (console)' ;; *) pe='PE32+ executable (console)' ;; esac
  [ -f "$build/shmring.exe" ] || fail "no shmring.exe in $build"
  file "$build/shmring.exe" | grep -q "$pe" || fail "$build/shmring.exe is not a $pe"
  if "$arch-w64-mingw32-objdump" -p "$build/shmring.exe" | grep 'DLL Name' | grep -qiv \
    'kernel32\|msvcrt\|shmring\.dll'; then
    fail "$build/shmring.exe imports a DLL that is not part of Windows or shmring.dll"
  fi
  # The exports are exactly src/win/shmring.def's, which tests/win/check_def.cmake matches to
  # src/shmring.map.
  "$arch-w64-mingw32-objdump" -p "$build/shmring.dll" |
    sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | awk 'NR > 1 && NF {print $NF}' | sort >"$build/exports.txt"
  sed -n '/^EXPORTS/,$p' src/win/shmring.def | awk '/^[ \t]+[A-Za-z_]/ {print $1}' | sort >"$build/def.txt"
  diff -u "$build/def.txt" "$build/exports.txt" || fail "$build/shmring.dll exports differ from src/win/shmring.def"
  cmake -DROOT=. -P tests/win/check_def.cmake >/dev/null
  if grep -rq 'src/unix/' "$build/CMakeFiles/shmring.dir" 2>/dev/null; then
    fail "a src/unix/ file went into the $arch Windows build"
  fi
  echo "check-win-build: ok: $build/shmring.dll, dllshmem.dll, shmring.exe ($arch-w64-mingw32-gcc, -Werror)"
done
