/* SPDX-License-Identifier: MIT */
/* Windows placeholder of src/platform.h: every segment call fails with SHMRING_ENOSYS, so the
 * library builds with mingw-w64 (scripts/check-win-stub.sh) while the real backend is written.
 * The process-wide services work (a mutex, once, the clocks), so that the library's own state
 * stays sound; nothing here opens a ring. Self-contained: the real src/win/ replaces this file. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdlib.h>

#include "../platform.h"

_Static_assert(sizeof(SRWLOCK) <= sizeof(shmring__plat_mutex), "an SRWLOCK fits the mutex");

/* ---- named segments, roles, waits, inspection: not supported yet ---------------------------- */

int shmring__plat_seg_open(const char *name, uint64_t want_size, uint64_t create_size,
                           unsigned mode, unsigned flags, struct shmring__plat_seg **seg,
                           struct shmring__plat_attach *at)
{
    (void)name;
    (void)want_size;
    (void)create_size;
    (void)mode;
    (void)flags;
    (void)at;
    *seg = NULL;
    return SHMRING_ENOSYS;
}

int shmring__plat_seg_reserve(struct shmring__plat_seg *seg)
{
    (void)seg;
    return SHMRING_ENOSYS;
}

int shmring__plat_seg_attach(struct shmring__plat_seg *seg)
{
    (void)seg;
    return SHMRING_ENOSYS;
}

void shmring__plat_seg_abort(struct shmring__plat_seg *seg)
{
    (void)seg;
}

int shmring__plat_seg_detach(struct shmring__plat_seg *seg, int remove_if_last)
{
    (void)seg;
    (void)remove_if_last;
    return 0;
}

int shmring__plat_seg_release_marks(struct shmring__plat_seg *seg, int remove_if_last)
{
    (void)seg;
    (void)remove_if_last;
    return 0;
}

void shmring__plat_seg_forget(struct shmring__plat_seg *seg)
{
    (void)seg;
}

int shmring__plat_seg_others_attached(struct shmring__plat_seg *seg)
{
    (void)seg;
    return 1; /* an error counts as "someone is there" */
}

int shmring__plat_role_take(struct shmring__plat_seg *seg, int role)
{
    (void)seg;
    (void)role;
    return SHMRING_ENOSYS;
}

int shmring__plat_role_take_wait(struct shmring__plat_seg *seg, int role, int64_t timeout_ns)
{
    (void)seg;
    (void)role;
    (void)timeout_ns;
    return SHMRING_ENOSYS;
}

void shmring__plat_role_drop(struct shmring__plat_seg *seg, int role)
{
    (void)seg;
    (void)role;
}

int shmring__plat_role_held(struct shmring__plat_seg *seg, int role)
{
    (void)seg;
    (void)role;
    return 1; /* an error counts as "held" */
}

int shmring__plat_wait(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word,
                       uint32_t expected, int64_t timeout_ns)
{
    (void)seg;
    (void)side;
    (void)word;
    (void)expected;
    (void)timeout_ns;
    return SHMRING_ENOSYS;
}

void shmring__plat_wake(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word)
{
    (void)seg;
    (void)side;
    (void)word;
}

int shmring__plat_probe(const char *name, struct shmring__plat_probe *out,
                        void (*fn)(void *ctx, const void *base, uint64_t size), void *ctx)
{
    (void)name;
    (void)out;
    (void)fn;
    (void)ctx;
    return SHMRING_ENOSYS;
}

int shmring__plat_list(int (*fn)(void *ctx, const char *name), void *ctx)
{
    (void)fn;
    (void)ctx;
    return SHMRING_ENOSYS;
}

int shmring__plat_unlink(const char *name)
{
    (void)name;
    return SHMRING_ENOSYS;
}

int shmring__plat_remove_stale(const char *name,
                               int (*decide)(void *ctx, const void *base, uint64_t size), void *ctx)
{
    (void)name;
    (void)decide;
    (void)ctx;
    return SHMRING_ENOSYS;
}

/* ---- process-wide: these work ---------------------------------------------------------------- */

void shmring__plat_mutex_lock(shmring__plat_mutex *m)
{
    AcquireSRWLockExclusive((PSRWLOCK)(void *)m->opaque); /* all-zero is SRWLOCK_INIT */
}

void shmring__plat_mutex_unlock(shmring__plat_mutex *m)
{
    ReleaseSRWLockExclusive((PSRWLOCK)(void *)m->opaque);
}

void shmring__plat_once(shmring__plat_once_t *once, void (*fn)(void))
{
    /* The protocol and orders of O1-O3 in unix/platform_unix.c: acquire here pairs with the
     * release below, so whatever fn did is visible once 2 is seen. */
    if (atomic_load_explicit(&once->state, memory_order_acquire) == 2) {
        return;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong_explicit(&once->state, &expected, 1, memory_order_acquire,
                                                memory_order_relaxed)) {
        fn();
        atomic_store_explicit(&once->state, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&once->state, memory_order_acquire) != 2) {
        SwitchToThread();
    }
}

int shmring__plat_at_exit(void (*fn)(void))
{
    return atexit(fn) == 0 ? 0 : SHMRING_ENOMEM;
}

int shmring__plat_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    (void)prepare;
    (void)parent;
    (void)child;
    return 0; /* no fork on Windows */
}

int shmring__plat_cancel_off(void)
{
    return 0;
}

void shmring__plat_cancel_restore(int old)
{
    (void)old;
}

int64_t shmring__plat_now_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER c;
    if (freq.QuadPart == 0) {
        QueryPerformanceFrequency(&freq);
    }
    QueryPerformanceCounter(&c);
    return (int64_t)((double)c.QuadPart * 1e9 / (double)freq.QuadPart);
}

int64_t shmring__plat_coarse_ns(void)
{
    return (int64_t)GetTickCount64() * 1000000;
}

int64_t shmring__plat_deadline(int64_t timeout_ns)
{
    int64_t now = shmring__plat_now_ns();
    return timeout_ns < 0 || timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

void shmring__plat_sleep_ns(int64_t ns)
{
    Sleep(ns <= 0 ? 0 : (DWORD)((ns + 999999) / 1000000));
}

void shmring__plat_cpu_relax(void)
{
    YieldProcessor();
}

void shmring__plat_yield(void)
{
    SwitchToThread();
}

int32_t shmring__plat_pid(void)
{
    return (int32_t)GetCurrentProcessId();
}

uint64_t shmring__plat_page_size(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize;
}

int shmring__plat_light_is_fence = 1;

void shmring__plat_barrier_init(void)
{
}

/* H0 here: both sides of the barrier pair are plain fences (B0 is one while light_is_fence). */
void shmring__plat_heavy_barrier(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}
