#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# build-fpc-win32.sh: a Free Pascal cross compiler for i386-win32, built from Debian's fpc-source
# package into $SHMRING_CACHE/fpc-win32 (outside the repo), once per machine: the compiler's
# message include generated from the shipped errore.msg with compiler/utils/msg2inc.pp, the i386
# compiler from compiler/pp.pas (-di386), and the win32 RTL units a console program or a program
# that imports a DLL needs (system, objpas, fpintres, sysinitpas). Prints the time it took.
# Afterwards: $SHMRING_CACHE/fpc-win32/bin/fpc-win32 [FPC OPTIONS] PROGRAM.pas -> PROGRAM.exe
# It links with FPC's own PE linker (the default for win32): the external one, -Xe with
# i686-w64-mingw32-ld 2.40, fails on FPC 3.2.2's linker script (see docs/windows.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=win-env.sh
. "$here/win-env.sh"
out=$SHMRING_CACHE/fpc-win32
start=$(date +%s%N)
took() { local ms=$((($(date +%s%N) - start) / 1000000)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }

if [ -x "$out/bin/fpc-win32" ] && [ -f "$out/units/system.ppu" ]; then
  echo "fpc-win32: cached in $out ($(cat "$out/VERSION")) ($(took))"
  exit 0
fi
"$here/deps.sh" fp-compiler-3.2.2 fp-units-rtl-3.2.2 fpc-source-3.2.2 binutils-mingw-w64-i686
ver=$(fpc -iV)
src=/usr/share/fpcsrc/$ver
msgfile=$(find /usr/lib -path "*/fpc/$ver/msg/errore.msg" 2>/dev/null | head -1)
[ -f "$src/compiler/pp.pas" ] || { echo "fpc-win32: no compiler source in $src (fpc-source-$ver)" >&2; exit 1; }
[ -n "$msgfile" ] || { echo "fpc-win32: errore.msg of fpc $ver not found under /usr/lib" >&2; exit 1; }

build=$SHMRING_CACHE/build/fpc-win32
log=$build.log
rm -rf "$build" "$out"
mkdir -p "$build/utils" "$build/msg" "$build/compiler" "$out/bin" "$out/units"
: >"$log"
quiet() { "$@" >>"$log" 2>&1 || { tail -30 "$log" >&2; echo "fpc-win32: failed: $*" >&2; exit 1; }; }

# 1. msgtxt.inc/msgidx.inc (Debian's fpc-source leaves the generated msgtxt.inc out).
quiet fpc -O2 -FU"$build/utils" -FE"$build/utils" "$src/compiler/utils/msg2inc.pp"
(cd "$build/msg" && quiet "$build/utils/msg2inc" "$msgfile" msg msg)

# 2. The cross compiler: a native x86-64 program generating i386 code (about 10 s).
c=$src/compiler
quiet fpc -di386 -dGDB -dBROWSERLOG -O2 -Fi"$build/msg" -Fu"$c" -Fi"$c" -Fu"$c/i386" -Fi"$c/i386" \
  -Fu"$c/x86" -Fi"$c/x86" -Fu"$c/systems" -FU"$build/compiler" -FE"$out/bin" -o"$out/bin/ppc386" \
  "$c/pp.pas"

# 3. The win32 RTL units a console program needs, with the options of rtl/win32/Makefile.fpc.
r=$src/rtl
ppc=("$out/bin/ppc386" -Twin32 -Pi386 -n -O2 -FU"$out/units" -Fu"$out/units" -Fi"$r/inc"
  -Fi"$r/i386" -Fi"$r/x86" -Fi"$r/win" -Fi"$r/win32" -Fu"$r/inc" -Fu"$r/win" -Fu"$r/objpas"
  -Fi"$r/objpas" -XPi686-w64-mingw32-)
(cd "$r/win32" && quiet "${ppc[@]}" -Us -Sg system.pp)
for unit in "$r/objpas/objpas.pp" "$r/inc/fpintres.pp" "$r/win32/sysinitpas.pp"; do
  (cd "$r/win32" && quiet "${ppc[@]}" "$unit")
done

cat >"$out/bin/fpc-win32" <<WRAP
#!/bin/sh
# Free Pascal $ver for i386-win32, built by scripts/build-fpc-win32.sh.
exec "$out/bin/ppc386" -Twin32 -Pi386 -n -Fu"$out/units" -XPi686-w64-mingw32- "\$@"
WRAP
chmod +x "$out/bin/fpc-win32"
echo "Free Pascal $ver i386-win32 (from fpc-source-$ver)" >"$out/VERSION"
rm -rf "$build"
echo "fpc-win32: built $(cat "$out/VERSION") into $out ($(took))"
