/* SPDX-License-Identifier: MIT */
/* Linux: sleep on a shared futex word; asymmetric barriers through membarrier(2). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall() */
#endif
#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../platform.h"

int shmring__plat_light_is_fence = 1; /* until membarrier registration succeeds */
static int heavy_is_membarrier;

void shmring__plat_barrier_init(void)
{
    /* SHMRING_NO_MEMBARRIER=1 forces plain fences on both sides (used by tests to cover both). */
    const char *off = getenv("SHMRING_NO_MEMBARRIER");
    if (off != NULL && off[0] == '1') {
        return;
    }
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) ||
        !(cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)) {
        return;
    }
    heavy_is_membarrier = 1;
    /* Only a registered process may drop the fence from its publish path: an unregistered one
     * is not interrupted by a peer's membarrier, so it keeps the fence. */
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0) {
        shmring__plat_light_is_fence = 0;
    }
}

/* H0: the heavy barrier that H1 and H2 name; with membarrier it pairs with B0 on the peer. */
void shmring__plat_heavy_barrier(void)
{
    atomic_thread_fence(memory_order_seq_cst); /* also orders this thread's own accesses */
    if (heavy_is_membarrier) {
        syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
    }
    atomic_thread_fence(memory_order_seq_cst);
}

int shmring__plat_wait(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word,
                       uint32_t expected, int64_t timeout_ns)
{
    (void)seg; /* the word itself is the wait object: it lives in the shared mapping */
    (void)side;
    struct timespec ts;
    struct timespec *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    /* FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes.
     * The kernel compares *word with expected under its own lock, so a wake that happened after
     * the caller's last check is never lost. */
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tsp, NULL, 0);
    if (r == 0) {
        return 0;
    }
    switch (errno) {
    case EAGAIN:
        return 0; /* the word already changed */
    case ETIMEDOUT:
        return -ETIMEDOUT;
    case EINTR:
        return -EINTR;
    default:
        return -errno;
    }
}

void shmring__plat_wake(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word)
{
    (void)seg;
    (void)side;
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}
