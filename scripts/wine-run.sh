#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wine-run.sh [--dlls DIR]... PROGRAM.exe [ARGS...]: run a Windows program under wine with the
# project's prefix ($SHMRING_CACHE/wine), no GUI and no debug output, and exit with its exit code
# (77 = skipped passes through to CTest). The loader matches the PE machine (i386 or x86-64).
# WINEPATH gets: every folder under each DIR that holds a .dll (the build tree), the program's own
# folder, and the mingw runtime folders (libgcc_s_*.dll, libwinpthread-1.dll) of that arch.
# It is the CMAKE_CROSSCOMPILING_EMULATOR of cmake/toolchain-mingw-*.cmake.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=win-env.sh
. "$here/win-env.sh"

dll_roots=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dlls) dll_roots+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: wine-run.sh [--dlls DIR]... PROGRAM.exe [ARGS...]" >&2; exit 2; }
exe=$1
shift
[ -f "$exe" ] || { echo "wine-run: no such program: $exe" >&2; exit 2; }

# PE machine: the 16 bits after "PE\0\0", whose offset is the 32-bit word at 0x3c.
pe=$(od -An -tu4 -j60 -N4 "$exe" | tr -d ' ')
machine=$(od -An -tx2 -j$((pe + 4)) -N2 "$exe" | tr -d ' ')
case "$machine" in
  014c) triplet=i686-w64-mingw32; loaders=(/usr/lib/wine/wine wine) ;;
  8664) triplet=x86_64-w64-mingw32; loaders=(/usr/lib/wine/wine64 wine64 wine) ;;
  *) echo "wine-run: $exe: not an i386 or x86-64 PE program (machine 0x$machine)" >&2; exit 2 ;;
esac
# Debian 12 keeps the real loaders in /usr/lib/wine (/usr/bin/wine is a script that picks the
# 32-bit one); elsewhere wine and wine64 are on PATH.
loader=
for l in "${loaders[@]}"; do
  if command -v "$l" >/dev/null 2>&1; then loader=$l; break; fi
done
[ -n "$loader" ] || { echo "wine-run: wine is not installed: run scripts/win-deps.sh" >&2; exit 1; }

winpath() { local p; p=$(cd "$1" && pwd); printf 'Z:%s' "${p//\//\\}"; }
dirs=("$(dirname "$exe")")
for root in "${dll_roots[@]+"${dll_roots[@]}"}"; do
  [ -d "$root" ] || continue
  while IFS= read -r d; do dirs+=("$d"); done \
    < <(find "$root" -maxdepth 4 -name '*.dll' -printf '%h\n' 2>/dev/null | sort -u)
done
if command -v "$triplet-gcc" >/dev/null 2>&1; then
  dirs+=("$(dirname "$("$triplet-gcc" -print-libgcc-file-name)")")
fi
[ -d "/usr/$triplet/lib" ] && dirs+=("/usr/$triplet/lib")
wp=
for d in "${dirs[@]}"; do wp="$wp${wp:+;}$(winpath "$d")"; done
export WINEPATH="$wp${WINEPATH:+;$WINEPATH}"

# The first wine program of a session starts the prefix's system processes (services.exe,
# winedevice.exe, ...) and they inherit its stderr; they and wineserver then live until a few
# seconds after the last program ends. Under CTest, which waits for a test's pipes to close,
# every test would take >= 3 s and start wine cold. So start the server and the system
# processes here, once, detached from our stdio, and keep them for a while after the last client.
mkdir -p "$WINEPREFIX"
(
  flock 9
  if wineserver -p"${SHMRING_WINESERVER_PERSIST:-15}" </dev/null >/dev/null 2>&1 9>&-; then
    "$loader" cmd.exe /c exit </dev/null >/dev/null 2>&1 9>&- || true
  fi
) 9>"$WINEPREFIX/.wine-run.lock"

exec "$loader" "$exe" "$@"
