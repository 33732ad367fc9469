#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench.sh: the whole benchmark suite in one command (under 3 minutes on a 2-core machine).
# Builds build-bench/ (Release-like: the project's default RelWithDebInfo, -O2), runs every case
# 5 times in random interleaved order, and writes bench/results/:
#   bench.json      Google Benchmark's JSON, every repetition
#   results.md      tables: targets, throughput, round trips, with ratios to the pipe and floor
#   throughput.dat  and throughput.png: messages/s by message size (gnuplot)
# Environment: BENCH_REPS (5), BENCH_ROUND_MS (length of each measured round, 100),
# BENCH_FILTER (a Google Benchmark regex, default all), BENCH_OUT (bench/results). Extra
# arguments go to the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
./scripts/deps.sh cmake make gcc g++ libbenchmark-dev libboost-dev gnuplot-nox python3

reps=${BENCH_REPS:-5}
round_ms=${BENCH_ROUND_MS:-100}
out=${BENCH_OUT:-bench/results}
mkdir -p "$out"

cmake -S . -B build-bench -DSHMRING_BENCH=ON -DSHMRING_TESTS=OFF -DSHMRING_EXAMPLES=OFF \
  -DSHMRING_TOOL=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target shmring_bench >/dev/null

load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $(nproc) CPUs, load average $load0 before the run; $reps repetitions, ${round_ms} ms rounds"
if awk -v l="${load0%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench: warning: the machine is busy (load $load0): other work competes for the CPUs" >&2
fi
status=0
SHMRING_BENCH_TARGET_MS=$round_ms build-bench/bench/shmring_bench \
  --benchmark_repetitions="$reps" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_display_aggregates_only=true \
  --benchmark_filter="${BENCH_FILTER:-.}" \
  --benchmark_out="$out/bench.json" --benchmark_out_format=json "$@" || status=$?
load1=$(cut -d' ' -f1-3 /proc/loadavg)

BENCH_META="Command: \`./scripts/bench.sh\` ($reps repetitions, ${round_ms} ms rounds), \
$((SECONDS - start)) s in all. Load average before/after: $load0 / $load1. CPU: \
$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); kernel $(uname -r)." \
  python3 bench/report.py "$out"
gnuplot -e "dir='$out'" bench/throughput.gp
echo
sed -n '/^## Targets/,/^## Throughput/p' "$out/results.md" | sed '$d'
echo "bench: wrote $out/results.md, $out/bench.json, $out/throughput.png in $((SECONDS - start)) s"
exit "$status"
