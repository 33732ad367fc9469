#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# build-cmocka-mingw.sh ARCH (i686 | x86_64): CMocka for mingw, built as a static library from
# Debian's own source package with cmake/toolchain-mingw-ARCH.cmake and installed into
# $SHMRING_CACHE/cmocka-ARCH (outside the repo), where the toolchain file finds it. Does nothing
# when that is already there. Enables deb-src for the Debian archive if needed (root).
# It is built with mingw's C99 printf (__USE_MINGW_ANSI_STDIO, as the tests are: %zu, %lld work
# on every Windows C runtime) and its header's format checks say so (gnu_printf).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=win-env.sh
. "$here/win-env.sh"
arch=${1:-}
case "$arch" in
  i686 | x86_64) ;;
  *) echo "usage: build-cmocka-mingw.sh i686|x86_64" >&2; exit 2 ;;
esac
prefix=$SHMRING_CACHE/cmocka-$arch
start=$(date +%s%N)
took() { local ms=$((($(date +%s%N) - start) / 1000000)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }

if [ -f "$prefix/lib/libcmocka.a" ] && [ -f "$prefix/include/cmocka.h" ] &&
  grep -q "c99-printf" "$prefix/VERSION" 2>/dev/null; then
  echo "cmocka-mingw: $arch: cached in $prefix ($(cat "$prefix/VERSION" 2>/dev/null)) ($(took))"
  exit 0
fi
"$here/deps.sh" cmake make dpkg-dev "gcc-mingw-w64-${arch//_/-}"

# deb-src: mirror every Debian archive entry (deb822 in sources.list.d, or one-line format in
# sources.list) as a deb-src entry in a file of our own, so the system's files stay untouched.
if ! apt-cache showsrc cmocka 2>/dev/null | grep -q '^Package: cmocka'; then
  [ "$(id -u)" -eq 0 ] || { echo "cmocka-mingw: needs deb-src entries for Debian: run as root" >&2; exit 1; }
  src822=/etc/apt/sources.list.d/shmring-deb-src.sources
  srclist=/etc/apt/sources.list.d/shmring-deb-src.list
  : >"$src822.tmp"
  for f in /etc/apt/sources.list.d/*.sources; do
    if [ ! -f "$f" ] || [ "$f" = "$src822" ]; then continue; fi
    awk 'function flush() {
           if (para != "" && isdeb && isdebian) printf "%s\n", para
           para = ""; isdeb = 0; isdebian = 0
         }
         /^[ \t]*$/ { flush(); next }
         /^Types:/ { if ($0 ~ /[ \t]deb([ \t]|$)/) isdeb = 1; para = para "Types: deb-src\n"; next }
         /^URIs:/ { if ($0 ~ /\/debian(-security)?\/?([ \t]|$)/) isdebian = 1 }
         { para = para $0 "\n" }
         END { flush() }' "$f" >>"$src822.tmp"
  done
  if [ -s "$src822.tmp" ]; then mv "$src822.tmp" "$src822"; else rm -f "$src822.tmp"; fi
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^[[:space:]]*deb\([[:space:]].*\/debian\(-security\)\?\/\?[[:space:]].*\)$/deb-src\1/p' \
      /etc/apt/sources.list >"$srclist"
    [ -s "$srclist" ] || rm -f "$srclist"
  fi
  echo "cmocka-mingw: added deb-src entries for the Debian archive; apt-get update"
  apt-get update -qq >/dev/null
fi

src=$SHMRING_CACHE/src
mkdir -p "$src"
if ! compgen -G "$src/cmocka-*/CMakeLists.txt" >/dev/null; then
  (cd "$src" && apt-get source -qq cmocka >"$src/apt-source.log" 2>&1) || {
    cat "$src/apt-source.log" >&2
    echo "cmocka-mingw: apt-get source cmocka failed" >&2
    exit 1
  }
fi
srcdir=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name "cmocka-*" | sort -V | tail -1)
version=$(basename "$srcdir")

build=$SHMRING_CACHE/build/cmocka-$arch
log=$build.log
rm -rf "$build" "$prefix"
mkdir -p "$build"
quiet() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "cmocka-mingw: failed: $*" >&2; exit 1; }; }
: >"$log"
quiet cmake -S "$srcdir" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-mingw-$arch.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_SHARED_LIBS=OFF \
  -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF -DCMAKE_C_FLAGS=-D__USE_MINGW_ANSI_STDIO=1
# Only the static library: cmocka.h has no dllimport, so a test links it without cmocka.dll.
quiet cmake --build "$build" -j"$(nproc)" --target cmocka-static
mkdir -p "$prefix/lib" "$prefix/include"
cp "$build/src/libcmocka-static.a" "$prefix/lib/libcmocka.a"
cp "$srcdir/include/cmocka.h" "$srcdir/include/cmocka_pbc.h" "$prefix/include/"
sed -i 's/__format__ (__printf__, a, b)/__format__ (gnu_printf, a, b)/' "$prefix/include/cmocka.h"
grep -q 'gnu_printf, a, b' "$prefix/include/cmocka.h" || { echo "cmocka-mingw: cmocka.h: format attribute not found" >&2; exit 1; }
echo "$version (Debian source, static, $arch-w64-mingw32, c99-printf)" >"$prefix/VERSION"
rm -rf "$build"
echo "cmocka-mingw: $arch: built $version into $prefix ($(took))"
