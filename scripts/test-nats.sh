#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-nats.sh: the NATS bridge tests (CTest label `nats`): installs nats-server and libnats-dev
# when missing, builds, runs them. About 4-6 minutes on 2 cores. Counts: see
# tests/nats/test_nats.sh (NATS_TEST_* variables). Extra CTest arguments are passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc libcmocka-dev nats-server libnats-dev
cmake -S . -B build-nats -DSHMRING_WERROR=ON -DSHMRING_BENCH=OFF -DSHMRING_NATS=ON >/dev/null
cmake --build build-nats -j"$(nproc)" >/dev/null
ctest --test-dir build-nats --output-on-failure -L 'nats|^unit$' -R 'nats|bookmark' "$@"
