#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ci-extra.sh: what CI runs after the README's test command. Each step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh cmake make gcc clang libcmocka-dev clang-format valgrind
jobs=$(nproc)
step() { echo; echo "--- $*"; }

step "clang, warnings as errors"
cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang -DSHMRING_WERROR=ON -DSHMRING_BENCH=OFF >/dev/null
cmake --build build-clang -j"$jobs" >/dev/null
echo "ok"

step "clang-format"
bad=$(git ls-files '*.c' '*.h' '*.cc' | xargs clang-format --dry-run --Werror 2>&1 | grep -c 'error:' || true)
if [ "$bad" != "0" ]; then
  git ls-files '*.c' '*.h' '*.cc' | xargs clang-format --dry-run --Werror
  exit 1
fi
echo "ok"

step "clang-tidy: .clang-tidy on every C file of the Linux build, no findings"
./scripts/check-tidy.sh build-clang # the clang build above, now with its compilation database

step "ASan + UBSan: the whole suite"
cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DSHMRING_SANITIZE="address;undefined" \
  -DSHMRING_BENCH=OFF -DSHMRING_EXAMPLES=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
# The plain build already ran the 10M-message wait stress and 8 x 1M messages into one
# consumer; under ASan a tenth and a fifth keep CI short.
SHMRING_STRESS_MSGS=1000000 SHMRING_MPSC_MSGS=200000 ctest --test-dir build-asan --output-on-failure -j2 -LE soak

step "TSan: threaded tests (one mapping)"
cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DSHMRING_SANITIZE=thread -DSHMRING_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$jobs" >/dev/null
ctest --test-dir build-tsan --output-on-failure -L threads

if [ -x scripts/fuzz.sh ]; then
  step "fuzz targets, bounded"
  ./scripts/fuzz.sh "${SHMRING_CI_FUZZ_SECONDS:-60}"
fi

if [ -x scripts/bench-smoke.sh ]; then
  step "benchmark smoke run (never fails on timing)"
  ./scripts/bench-smoke.sh
fi

step "examples under valgrind memcheck"
for ex in "build-test/examples/demo 0.2" "build-test/examples/pingpong 2000"; do
  valgrind -q --error-exitcode=1 --leak-check=full --trace-children=yes $ex >/dev/null
done
echo "ok"

step "man pages: mandoc -T lint, no warnings"
./scripts/check-man.sh

step "ABI: exported symbols = src/shmring.map = declarations, each with a man page"
./scripts/check-abi.sh build-test

step "memory model: atomic labels in src/ = docs/memory-model.md"
./scripts/check-labels.sh

step "SPIN models of the multi-producer ring: verified, and every mutant caught (tests/model/)"
./scripts/check-model.sh

step "install to a temporary prefix; build and run against it (find_package, pkg-config)"
./scripts/check-install.sh

step "Windows: shmring.dll and dllshmem.dll build with mingw-w64 (i686, x86_64) from src/win/"
./scripts/check-win-build.sh

step "NATS bridge: real nats-server processes (scripts/test-nats.sh)"
./scripts/test-nats.sh

step "Windows: mingw-w64 cross builds, tests under wine for i686 and x86_64 (scripts/test-windows.sh)"
./scripts/test-windows.sh

step "clang-tidy on the Windows builds (src/win, tests/win; LLP64 and 32-bit types)"
./scripts/check-tidy.sh --win build-win-i686 build-win-x86_64
