#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-model.sh [MODEL.pml...]: checks the SPIN models of tests/model/ (default: all of them).
# Each model must verify with no error, and each of its mutants (deliberate bugs the model
# enables with -DMUTANT_NAME, listed on its first line as `/* mutants: NAME ... */`) must fail:
# a model that cannot catch the bugs it is meant to catch proves nothing.
# In a model's first five lines: `/* cc: FLAGS */` adds compiler flags for pan.c, `/* pan: FLAGS */`
# flags for pan, `/* liveness */` checks acceptance cycles (pan -a) instead of safety only, and
# `/* configs: -DA -DB=1 ... */` more variants of the model (spin's -D flags, one a variant) that
# must verify with no error too.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh spin gcc
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(tests/model/*.pml)

header() { head -n 5 "$1" | sed -n "s|^/\* $2: \(.*\) \*/\$|\1|p" | head -n 1; }

# run MODEL DIR [SPIN_FLAG]: verifies; leaves pan's output in DIR/out.
run() {
  local model=$1 dir=$2 flag=${3:-} cc pan liveness
  mkdir -p "$dir"
  cp "$root/$model" "$dir/m.pml"
  cc=$(header "$model" cc)
  pan=$(header "$model" pan)
  liveness=$(head -n 5 "$model" | grep -c '^/\* liveness \*/$' || true)
  (
    cd "$dir"
    spin -a ${flag:+"$flag"} m.pml >spin.out 2>&1 || { cat spin.out; exit 1; }
    # shellcheck disable=SC2086 # word splitting of the flags is meant
    if [ "$liveness" = 1 ]; then
      gcc -w -O2 $cc -o pan pan.c
      ./pan -a $pan >out 2>&1 || true
    else
      gcc -w -O2 -DSAFETY $cc -o pan pan.c
      ./pan $pan >out 2>&1 || true
    fi
  )
}

errors_of() { sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$1" | tail -n 1; }
states_of() { sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$1" | tail -n 1; }

# verify MODEL NAME [SPIN_FLAG]: 0 if pan found no error and searched the whole space.
verify() {
  local model=$1 dir="$work/$2" t0=$SECONDS errs
  run "$model" "$dir" "${3:-}"
  errs=$(errors_of "$dir/out")
  if [ "$errs" != 0 ] || grep -q 'max search depth too small\|out of memory' "$dir/out"; then
    echo "check-model: $model${3:+ $3}: FAILED (errors: ${errs:-none reported}); pan said:"
    sed -n '1,40p' "$dir/out"
    return 1
  fi
  echo "check-model: $model${3:+ $3}: ok, $(states_of "$dir/out") states, $((SECONDS - t0)) s"
}

fail=0
for model in "${models[@]}"; do
  name=$(basename "$model" .pml)
  verify "$model" "$name" || { fail=1; continue; }
  n=0
  for config in $(header "$model" configs); do
    n=$((n + 1))
    verify "$model" "$name-config$n" "$config" || fail=1
  done
  mutants=$(head -n 1 "$model" | sed -n 's|^/\* mutants: \(.*\) \*/$|\1|p')
  [ -n "$mutants" ] || { echo "check-model: $model: no mutants line"; fail=1; continue; }
  for mutant in $mutants; do
    grep -q "MUTANT_$mutant\b" "$model" || { echo "check-model: $model: no MUTANT_$mutant in it"; fail=1; continue; }
    t0=$SECONDS
    run "$model" "$work/$name-$mutant" "-DMUTANT_$mutant" || true
    out="$work/$name-$mutant/out"
    errs=$(errors_of "$out")
    if [ -z "$errs" ] || [ "$errs" = 0 ]; then
      echo "check-model: $model: mutant $mutant NOT caught (errors: ${errs:-none reported})"
      fail=1
    else
      what=$(grep -m1 -oE 'assertion violated.*|invalid end state.*|acceptance cycle.*' "$out" || echo error)
      echo "check-model: $model: mutant $mutant caught in $((SECONDS - t0)) s: ${what:0:100}"
    fi
  done
done
exit $fail
