#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test.sh: build everything with warnings as errors and run every test (all CTest labels but
# `soak`, which runs for minutes: see README). Extra CTest arguments are passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc libcmocka-dev
cmake -S . -B build-test -DSHMRING_WERROR=ON -DSHMRING_BENCH=OFF >/dev/null
cmake --build build-test -j"$(nproc)"
ctest --test-dir build-test --output-on-failure -j2 -LE soak "$@"
