#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-labels.sh: the labels of atomic accesses in src/ and the table in docs/memory-model.md
# are the same set. A label is an upper-case letter (or L or M and a letter) and a number: R1,
# LA0, MR12, C10; every such word in a comment of src/ counts, so a reference to a label that
# does not exist fails too. A label-like word followed by a file extension (PLATFORM-V2.h) is a
# file name.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -rhE '/\*|^[[:space:]]*\*' src | grep -oP '\b([LM][A-Z]|[A-Z])[0-9]+\b(?!\.[A-Za-z])' | sort -u >"$tmp/code"
grep -oE '^\| ([LM]?[A-Z][0-9]+) \|' docs/memory-model.md | tr -d '| ' | sort >"$tmp/doc.all"
sort -u "$tmp/doc.all" >"$tmp/doc"
fail=0
dups=$(uniq -d "$tmp/doc.all")
[ -z "$dups" ] || { echo "check-labels: listed twice in docs/memory-model.md: $dups"; fail=1; }
for l in $(comm -23 "$tmp/code" "$tmp/doc"); do echo "check-labels: $l is in src/ but not in docs/memory-model.md"; fail=1; done
for l in $(comm -13 "$tmp/code" "$tmp/doc"); do echo "check-labels: $l is in docs/memory-model.md but not in src/"; fail=1; done
[ $fail -eq 0 ] || exit 1
echo "check-labels: ok: $(wc -l <"$tmp/doc") labels, the same in src/ and docs/memory-model.md"
