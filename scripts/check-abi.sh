#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-abi.sh [BUILD_DIR]: the exported surface is a contract. Checks that
#   1. the functions libshmring.so exports (nm -D --defined-only --extern-only) are exactly the
#      ones src/shmring.map lists, each bound to a version node of the map;
#   2. every SHMRING_API function declared in include/*.h is in the map (a call missing from it
#      would be hidden by the linker);
#   3. every function in the map has a man page: man/<name>.3, either a page whose NAME section
#      lists it (.Nm) or a one-line ".so man3/<page>.3" alias to such a page; or, without a file
#      of its own, it is listed in the NAME section of a family page.
# The list of functions comes from the map, so a new call needs only its map line and its page.
# BUILD_DIR (default build-test, what ./scripts/test.sh builds) is built if it has no library.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
map=src/shmring.map
if [ ! -e "$build/libshmring.so" ]; then
  cmake -S . -B "$build" -DSHMRING_BENCH=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target shmring >/dev/null
fi
so=$(readlink -f "$build/libshmring.so")
fail=0
bad() { echo "check-abi: $*"; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Symbols of the map's global: sections (version nodes and "local: *;" excluded).
sed -e 's#/\*.*\*/##g' "$map" | awk '
  /^[[:space:]]*(global|local):/ { sect = $1; sub(/:.*/, "", sect); next }
  /^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;/ && sect == "global" { gsub(/[[:space:];]/, ""); print }
  /[{}]/ { sect = "" }' | sort -u >"$tmp/map"
nodes=$(grep -oE '^[A-Z][A-Z0-9_.]* *\{' "$map" | tr -d ' {' | paste -sd'|')

# Exported functions and data, with the version node each is bound to.
nm -D --defined-only --extern-only "$so" | awk '$2 != "A" { print $3 }' >"$tmp/nm"
sed 's/@.*//' "$tmp/nm" | sort -u >"$tmp/exported"
while read -r sym; do
  case $sym in
    *@@*) node=${sym#*@@}
          echo "$node" | grep -Eqx "$nodes" || bad "$sym: version node not in $map" ;;
    *) bad "$sym: exported without a version node (is $map linked?)" ;;
  esac
done <"$tmp/nm"
comm -23 "$tmp/exported" "$tmp/map" | while read -r s; do echo "check-abi: $s: exported but not in $map"; done
comm -13 "$tmp/exported" "$tmp/map" | while read -r s; do echo "check-abi: $s: in $map but not exported"; done
[ -z "$(comm -3 "$tmp/exported" "$tmp/map")" ] || fail=1

# Public declarations as this platform's compiler sees them: the headers are preprocessed (so the
# Windows-only forms such as SetSharedMemA drop out), and SHMRING_API has expanded to the
# default-visibility attribute, which the function's name follows.
for h in include/*.h; do
  ${CC:-cc} -E -P -I include -I "$build/include" "$h"
done | tr '\n' ' ' | grep -oE 'visibility\("default"\)\)\)[^(;]*[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(' \
  | sed -E 's/[[:space:]]*\($//; s/.*[^A-Za-z0-9_]//' | sort -u >"$tmp/declared"
comm -23 "$tmp/declared" "$tmp/map" | while read -r s; do echo "check-abi: $s: declared SHMRING_API but not in $map"; done
[ -z "$(comm -23 "$tmp/declared" "$tmp/map")" ] || fail=1

# Man pages. names_of PAGE: the .Nm names of its NAME section (mdoc) or the NAME line (man).
names_of() {
  awk '/^\.Sh NAME|^\.SH "?NAME/ { on = 1; next } /^\.S[hH] / { on = 0 }
       on && /^\.Nm / { sub(/^\.Nm[[:space:]]+/, ""); gsub(/[ ,]+$/, ""); print }
       on && !/^\./ { n = split($0, w, /[ ,]+/); for (i = 1; i <= n; i++) { if (w[i] == "\\-" || w[i] == "-") break; print w[i] } }' "$1" \
    | sed 's/[[:space:],]*$//; s/\\f[BIRP]//g'
}
while read -r sym; do
  page=man/$sym.3
  if [ -f "$page" ]; then
    if target=$(sed -nE '1s#^\.so[[:space:]]+(man3/)?([^[:space:]]+)$#\2#p' "$page") && [ -n "$target" ]; then
      [ -f "man/$target" ] || { bad "$page: .so to missing man/$target"; continue; }
      page=man/$target
    fi
    names_of "$page" | grep -qx "$sym" || bad "$sym: $page does not list it in its NAME section"
  else
    found=
    for p in man/*.3; do
      if names_of "$p" | grep -qx "$sym"; then found=$p; break; fi
    done
    [ -n "$found" ] || bad "$sym: no man page (add man/$sym.3, or list it in a family page's NAME)"
  fi
done <"$tmp/map"

n=$(wc -l <"$tmp/map")
if [ $fail -ne 0 ]; then
  echo "check-abi: FAILED"
  exit 1
fi
echo "check-abi: ok: $n functions exported = $map = declared, each with a man page"
