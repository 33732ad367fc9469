/* SPDX-License-Identifier: MIT */
/* Portable fallback where no futex exists: spin, then sleep in short naps. A wake is a no-op, so
 * a waiter notices new data within one nap (at most 1 ms). Barriers are plain seq_cst fences. */
#include <errno.h>

#include "../platform.h"

int shmring__plat_light_is_fence = 1;

void shmring__plat_barrier_init(void)
{
}

/* H0: the heavy barrier that H1 and H2 name: a plain fence here, paired with B0's fence. */
void shmring__plat_heavy_barrier(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}

int shmring__plat_wait(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word,
                       uint32_t expected, int64_t timeout_ns)
{
    (void)seg; /* the word itself is the wait object: it lives in the shared mapping */
    (void)side;
    int64_t nap = 50000;
    int64_t start = shmring__plat_now_ns();
    /* W6: pairs with W3, the waker's exchange that clears *word (acquire keeps later reads
     * after it). */
    while (atomic_load_explicit(word, memory_order_acquire) == expected) {
        int64_t left = timeout_ns < 0 ? nap : timeout_ns - (shmring__plat_now_ns() - start);
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        shmring__plat_sleep_ns(left < nap ? left : nap);
        nap = nap < 1000000 ? nap * 2 : nap;
    }
    return 0;
}

void shmring__plat_wake(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word)
{
    (void)seg;
    (void)side;
    (void)word;
}
