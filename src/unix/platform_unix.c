/* SPDX-License-Identifier: MIT */
/* POSIX process-wide services of the platform layer: the mutex, once, exit and fork hooks,
 * thread cancellation, the clocks, sleeping, identity. Named segments are segment_unix.c, waits
 * and barriers wait_linux.c / wait_poll.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../platform.h"

/* ---- the mutex: a pthread_mutex_t in the opaque storage ------------------------------------ */

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(shmring__plat_mutex), "the mutex fits");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(shmring__plat_mutex), "and is aligned");

void shmring__plat_mutex_lock(shmring__plat_mutex *m)
{
    pthread_mutex_lock((pthread_mutex_t *)(void *)m->opaque);
}

void shmring__plat_mutex_unlock(shmring__plat_mutex *m)
{
    pthread_mutex_unlock((pthread_mutex_t *)(void *)m->opaque);
}

/* SHMRING__PLAT_MUTEX_INIT is all-zero bytes; that is PTHREAD_MUTEX_INITIALIZER on glibc and
 * musl. A C library where it is not fails here, at the first open, rather than in a lock. */
static void check_mutex_init(void)
{
    static const pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;
    static const unsigned char zero[sizeof init];
    /* The object representation is the question here, padding included. */
    // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison,cert-exp42-c,cert-flp37-c)
    if (memcmp(&init, zero, sizeof init) != 0) {
        fputs("shmring: PTHREAD_MUTEX_INITIALIZER is not all-zero here; port src/unix\n", stderr);
        abort();
    }
}

/* ---- once, exit and fork hooks, cancellation ------------------------------------------------ */

enum { ONCE_NEW = 0, ONCE_RUNNING = 1, ONCE_DONE = 2 };

void shmring__plat_once(shmring__plat_once_t *once, void (*fn)(void))
{
    /* O1: pairs with O3: whatever fn did is visible once DONE is seen. */
    if (atomic_load_explicit(&once->state, memory_order_acquire) == ONCE_DONE) {
        return;
    }
    int expected = ONCE_NEW;
    /* O2: the one caller that moves NEW -> RUNNING runs fn (acquire: after any earlier run's
     * effects, which cannot exist; relaxed on failure, the loop below re-reads with O1). */
    if (atomic_compare_exchange_strong_explicit(&once->state, &expected, ONCE_RUNNING,
                                                memory_order_acquire, memory_order_relaxed)) {
        check_mutex_init();
        fn();
        /* O3: publishes fn's effects; pairs with O1. */
        atomic_store_explicit(&once->state, ONCE_DONE, memory_order_release);
        return;
    }
    /* O1 again: another thread runs fn; it runs only a few system calls. */
    while (atomic_load_explicit(&once->state, memory_order_acquire) != ONCE_DONE) {
        sched_yield();
    }
}

int shmring__plat_at_exit(void (*fn)(void))
{
    return atexit(fn) == 0 ? 0 : -ENOMEM;
}

int shmring__plat_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    return -pthread_atfork(prepare, parent, child);
}

int shmring__plat_cancel_off(void)
{
    int old = PTHREAD_CANCEL_ENABLE;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    return old;
}

void shmring__plat_cancel_restore(int old)
{
    pthread_setcancelstate(old, NULL);
}

/* ---- time, scheduling, identity -------------------------------------------------------------- */

int64_t shmring__plat_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t shmring__plat_deadline(int64_t timeout_ns)
{
    int64_t now = shmring__plat_now_ns();
    /* Saturates: a timeout near INT64_MAX means "practically forever", not an overflow. */
    return timeout_ns < 0 || timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

int64_t shmring__plat_coarse_ns(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
#else
    return shmring__plat_now_ns();
#endif
}

void shmring__plat_sleep_ns(int64_t ns)
{
    if (ns <= 0) {
        sched_yield();
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

void shmring__plat_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void shmring__plat_yield(void)
{
    sched_yield();
}

int32_t shmring__plat_pid(void)
{
    return (int32_t)getpid();
}

uint64_t shmring__plat_page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (uint64_t)p : 4096;
}
