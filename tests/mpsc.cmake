# SPDX-License-Identifier: MIT
# Issue 13: multi-producer rings. The protocol over heap memory (liveness injected), then real
# processes: 8 producers into one consumer, SIGKILL and SIGSTOP of producers, limits, and a
# threaded run for ThreadSanitizer. See docs/mpsc.md.
shmring_add_test(test_ring_mp SOURCES test_ring_mp.c LABELS unit TIMEOUT 60)
# 8 producer processes x SHMRING_MPSC_MSGS (1000000) each into one consumer, SIGSTOP, limits.
shmring_add_test(test_mpsc SOURCES test_mpsc.c LABELS xproc TIMEOUT 300)
# 200 rounds of SIGKILL of a random producer (inside claims and batches), slot reuse, every
# committed message delivered, consumer held up <= 100 ms by a dead claim.
shmring_add_test(test_mpsc_kill SOURCES test_mpsc_kill.c LABELS xproc TIMEOUT 300)
# The lone producer's CAS-free claims (`solo`): 40 producers join it one after another, 60 lone
# producers killed at random moments, a holder stopped inside its claim (docs/mpsc.md).
shmring_add_test(test_mpsc_solo SOURCES test_mpsc_solo.c LABELS xproc TIMEOUT 300)
# Four producer threads and a consumer on one mapping: the ThreadSanitizer run (label threads).
shmring_add_test(test_mpsc_threads SOURCES test_mpsc_threads.c LABELS threads TIMEOUT 300)
set_tests_properties(test_mpsc_threads PROPERTIES RUN_SERIAL TRUE)
