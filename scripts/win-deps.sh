#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# win-deps.sh: what the Windows build and its wine tests need. As root, installs the missing
# Debian packages (mingw-w64, wine, wine64, wine32:i386, enabling the i386 architecture first),
# then creates the wine prefix under the cache dir ($SHMRING_CACHE/wine) once. Prints the time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=win-env.sh
. "$here/win-env.sh"
start=$(date +%s%N)

if ! dpkg --print-foreign-architectures | grep -qx i386; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "win-deps: run as root: dpkg --add-architecture i386 && apt-get update" >&2
    exit 1
  fi
  echo "win-deps: enabling the i386 architecture (for wine32)"
  dpkg --add-architecture i386
  apt-get update -qq >/dev/null
fi
# deps.sh runs apt-get update before it installs anything, so the new i386 lists are there.
"$here/deps.sh" mingw-w64 wine wine64 wine32:i386

arches="i686 x86_64"
boot=(wineboot)
if ! win32_runs; then
  # /usr/bin/wineboot starts the 32-bit loader, which cannot run here: boot a 64-bit prefix.
  echo "win-deps: this kernel cannot run 32-bit programs (ia32 emulation off: Exec format error):" \
    "i686 programs are built, only x86_64 ones run"
  arches="x86_64"
  boot=("$(wine64_loader)" wineboot)
fi
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "win-deps: creating the wine prefix $WINEPREFIX"
  mkdir -p "$WINEPREFIX"
  "${boot[@]}" -i >/dev/null 2>&1 || true # a 64-bit-only boot reports the 32-bit parts it skips
  wineserver -w
fi
[ -f "$WINEPREFIX/system.reg" ] || { echo "win-deps: wineboot did not create $WINEPREFIX" >&2; exit 1; }

# Smoke test, about a second: a 32- and a 64-bit console program (the ones that can run) must
# run and print.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <stdio.h>\nint main(void) { printf("hello %%d\\n", (int)sizeof(void *) * 8); return 0; }\n' \
  >"$tmp/hello.c"
for arch in $arches; do
  "$arch-w64-mingw32-gcc" -o "$tmp/hello-$arch.exe" "$tmp/hello.c"
  out=$("$here/wine-run.sh" "$tmp/hello-$arch.exe" | tr -d '\r')
  echo "win-deps: $arch hello.exe under wine: $out"
  case "$arch:$out" in i686:"hello 32" | x86_64:"hello 64") ;; *) exit 1 ;; esac
done

ms=$((($(date +%s%N) - start) / 1000000))
printf 'win-deps: ok (%s, prefix %s) in %d.%d s\n' "$("$(wine64_loader)" --version)" "$WINEPREFIX" \
  $((ms / 1000)) $((ms % 1000 / 100))
