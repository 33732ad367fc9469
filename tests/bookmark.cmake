# SPDX-License-Identifier: MIT
# Issue 14: the producer's bookmark and the consumer's read-ahead (the calls the NATS bridge
# relies on), with real processes SIGKILLed mid-stream. About 2 s.
shmring_add_test(test_bookmark SOURCES test_bookmark.c LABELS unit xproc TIMEOUT 120)
