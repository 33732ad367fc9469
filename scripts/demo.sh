#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh: build the library and examples, then run the demo: a producer process and a consumer
# process exchange messages over the default 4 KiB ring; the same workload over a pipe follows.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc
cmake -S . -B build -DSHMRING_TESTS=OFF -DSHMRING_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
./build/examples/demo "${1:-1}"
