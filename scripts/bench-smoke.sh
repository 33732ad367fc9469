#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-smoke.sh: CI's benchmark check, a few seconds. Builds the benchmark, runs every case once
# with tiny rounds and checks that each one ran and delivered every message intact. Timings are
# printed but never judged: a slow or noisy machine cannot fail it; a wrong message can.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc g++ libbenchmark-dev libboost-dev
cmake -S . -B build-bench-smoke -DSHMRING_BENCH=ON -DSHMRING_TESTS=OFF -DSHMRING_EXAMPLES=OFF \
  -DSHMRING_TOOL=OFF >/dev/null
cmake --build build-bench-smoke -j"$(nproc)" --target shmring_bench shmring_bench_prof >/dev/null
# The binary exits 1 when a case fails for any reason but "not applicable".
SHMRING_BENCH_TARGET_MS=${BENCH_SMOKE_ROUND_MS:-1} build-bench-smoke/bench/shmring_bench \
  "$@" 2>&1 | tail -n 4
echo "bench-smoke: ok"
