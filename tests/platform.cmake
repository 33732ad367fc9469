# SPDX-License-Identifier: MIT
# The contract of src/platform.h every backend must pass (roles across processes and at SIGKILL,
# alone/last, wait/wake and timeouts, replaced names). Peers are the test binary started again
# with arguments (t_spawn_self), so no fork is needed; t_spawn_posix.c is the POSIX starter.
shmring_add_test(test_platform SOURCES test_platform.c LABELS xproc TIMEOUT 120)
