#!/usr/bin/env bash
# add-spdx.sh: puts an "SPDX-License-Identifier: MIT" line at the top of every tracked source file
# that has none (after a #! line), in that file's comment syntax. Idempotent: files whose first
# three lines already carry an identifier are left alone, so it can be re-run after a merge.
# Not touched: Markdown, data (fuzz corpora, bench results), .so alias man pages (their .so must
# stay the first line), LICENSE and dotfiles other than .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="SPDX-License-Identifier: MIT"
changed=0
while IFS= read -r f; do
  case $f in
    tests/fuzz/corpus_*/* | tests/fuzz/regress_*/* | bench/results/*) continue ;;
    *.c | *.h | *.cc | *.map | *.h.in) line="/* $tag */" ;;
    *.sh | *.py | *.cmake | *CMakeLists.txt | *.gp | *.pc.in | *.cmake.in | .ci/run) line="# $tag" ;;
    *.pas) line="// $tag" ;;
    man/*.[0-9])
      head -n1 "$f" | grep -q '^\.so ' && continue
      line=".\\\" $tag" ;;
    *) continue ;;
  esac
  head -n3 "$f" | grep -q 'SPDX-License-Identifier' && continue
  tmp=$(mktemp)
  if head -n1 "$f" | grep -q '^#!'; then
    { head -n1 "$f"; printf '%s\n' "$line"; tail -n +2 "$f"; } >"$tmp"
  else
    { printf '%s\n' "$line"; cat "$f"; } >"$tmp"
  fi
  cat "$tmp" >"$f" # keeps the file's mode (scripts stay executable)
  rm -f "$tmp"
  changed=$((changed + 1))
done < <(git ls-files)
echo "add-spdx: $changed files given an SPDX line"
