#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz.sh [SECONDS] [TARGET...]: builds the libFuzzer targets (clang, ASan+UBSan) and runs each
# target for SECONDS (default 60), one after the other, starting from its committed seed corpus
# (tests/fuzz/corpus_<target>/, only read). Exits non-zero on any finding: a crash, a sanitizer
# report, a failed model check, a leak, or an input that runs longer than 10 s (a hang).
#
# A finding is saved under build-fuzz/findings/<target>/ (crash-*, timeout-*, leak-*). Replay it
#   build-fuzz/tests/fuzz/fuzz_<target> build-fuzz/findings/<target>/crash-...
# and, once fixed, copy it to tests/fuzz/regress_<target>/: the CTest test fuzz_replay_<target>
# then replays it in every build (gcc too). Targets: mapping, api (see tests/fuzz/*.c).
# Environment: SHMRING_FUZZ_BUILD (build directory, default build-fuzz), SHMRING_FUZZ_JOBS
# (parallel fuzzing processes per target, default 1), SHMRING_FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(mapping api legacy)
build=${SHMRING_FUZZ_BUILD:-build-fuzz}
jobs=${SHMRING_FUZZ_JOBS:-1}

command -v clang >/dev/null || { echo "fuzz.sh: clang is required (apt-get install clang)"; exit 1; }
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DSHMRING_FUZZ=ON -DSHMRING_EXAMPLES=OFF \
  -DSHMRING_BENCH=OFF -DSHMRING_TOOL=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

declare -A max_len=([mapping]=16384 [api]=4096)
failed=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  work="$build/fuzz-work/$t"      # grows during the run; the committed seeds are not touched
  findings="$build/findings/$t"
  log="$build/fuzz-$t.log"
  mkdir -p "$work" "$findings"
  echo "--- fuzz_$t: ${secs} s (log: $log)"
  set +e
  # -jobs runs independent processes that share the work corpus; with 1 job, run in-process.
  if [ "$jobs" -gt 1 ]; then
    (cd "$work/.." && "$OLDPWD/$bin" -jobs="$jobs" -workers="$jobs" -max_total_time="$secs" \
      -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$t]:-4096}" \
      -artifact_prefix="$OLDPWD/$findings/" -print_final_stats=1 ${SHMRING_FUZZ_ARGS:-} \
      "$OLDPWD/$work" "$OLDPWD/tests/fuzz/corpus_$t") >"$log" 2>&1
    rc=$?
    cat "$work"/../fuzz-*.log >>"$log" 2>/dev/null
    rm -f "$work"/../fuzz-*.log
  else
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -max_len="${max_len[$t]:-4096}" -artifact_prefix="$findings/" -print_final_stats=1 \
      ${SHMRING_FUZZ_ARGS:-} "$work" "tests/fuzz/corpus_$t" >"$log" 2>&1
    rc=$?
  fi
  set -e
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|^#[0-9]+.*DONE' \
    "$log" | tail -4 || true
  if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer|LeakSanitizer)|runtime error:|check failed' "$log"; then
    echo "FINDING in fuzz_$t (exit $rc):"
    grep -E 'ERROR|runtime error|check failed|SUMMARY|Test unit written' "$log" | head -20
    failed=1
  else
    echo "fuzz_$t: no finding"
  fi
done
exit $failed
