#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_examples.sh PRODUCER CONSUMER: the consumer, started first, prints exactly the producer's
# messages in order and exits 0 when the producer closes; no /dev/shm entry remains.
set -u
producer=$1 consumer=$2
name="example-pc-$$"
out=$(mktemp)
"$consumer" "$name" >"$out" &
cpid=$!
sleep 0.2
"$producer" "$name" 1000 || { echo "FAIL: producer exited $?"; exit 1; }
wait "$cpid"; rc=$?
fail=0
[ "$rc" -eq 0 ] || { echo "FAIL: consumer exited $rc"; fail=1; }
expected=$(seq 0 999 | sed 's/^/message /')
[ "$(cat "$out")" = "$expected" ] || { echo "FAIL: consumer output differs"; head -3 "$out"; fail=1; }
[ ! -e "/dev/shm/$name" ] || { echo "FAIL: /dev/shm/$name left behind"; fail=1; }
rm -f "$out"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
