#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-man.sh: every man page in man/ renders without a warning (mandoc -T lint -W warning).
# One-line ".so" alias pages are checked through the page they name.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh mandoc
fail=0 n=0
for page in man/*.[0-9]; do
  head -n1 "$page" | grep -q '^\.so ' && continue
  n=$((n + 1))
  out=$(mandoc -T lint -W warning "$page" 2>&1) || true
  if [ -n "$out" ]; then
    echo "$out"
    fail=1
  fi
done
[ $fail -eq 0 ] || { echo "check-man: warnings above"; exit 1; }
echo "check-man: ok: $n pages render without warnings"
