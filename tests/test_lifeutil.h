/* SPDX-License-Identifier: MIT */
/* Helpers shared by the lifecycle, death and wait tests (test_life*, test_death*, test_wait*).
 * Everything here runs in forked children too, so nothing uses CMocka: a child reports a failed
 * check with TL_CHECK (prints file:line and returns 1 from the child function). */
#ifndef TEST_LIFEUTIL_H
#define TEST_LIFEUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handle.h" /* struct shmring: the tests peek at the shared header (r->hdr) */
#include "shmring.h"
#include "testutil.h"

#define TL_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "[pid %d] %s:%d: check failed: %s\n", (int)getpid(), __FILE__,         \
                    __LINE__, #cond);                                                              \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* Same, with the value of an error code in the message. */
#define TL_CHECK_RC(expr, want)                                                                    \
    do {                                                                                           \
        long tl_rc_ = (long)(expr);                                                                \
        if (tl_rc_ != (long)(want)) {                                                              \
            fprintf(stderr, "[pid %d] %s:%d: %s = %ld (%s), want %ld\n", (int)getpid(), __FILE__,  \
                    __LINE__, #expr, tl_rc_, shmring_strerror((int)tl_rc_), (long)(want));         \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static inline int64_t tl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void tl_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Busy-waits ns nanoseconds (precise short pauses; usleep rounds up to ~60 us). */
static inline void tl_spin_ns(int64_t ns)
{
    int64_t end = tl_now_ns() + ns;
    while (tl_now_ns() < end) {
    }
}

/* Zeroed memory shared with every child forked afterwards: the side channel of the tests. */
static inline void *tl_shared(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        abort();
    }
    return p;
}

static inline void tl_unshare(void *p, size_t n)
{
    munmap(p, n);
}

/* Polls flag until it is non-zero, at most timeout_ms. 1 when it became non-zero. */
static inline int tl_await(_Atomic uint32_t *flag, int64_t timeout_ms)
{
    int64_t end = tl_now_ns() + timeout_ms * 1000000;
    while (atomic_load_explicit(flag, memory_order_acquire) == 0) {
        if (tl_now_ns() > end) {
            return 0;
        }
        usleep(200);
    }
    return 1;
}

/* Polls until the peer sleeps in the kernel on its futex word (the flag it raises right before
 * FUTEX_WAIT), then a little longer so that it is really inside the system call. */
static inline int tl_await_sleeper(_Atomic uint32_t *waiting, int64_t timeout_ms)
{
    int64_t end = tl_now_ns() + timeout_ms * 1000000;
    while (atomic_load_explicit(waiting, memory_order_relaxed) == 0) {
        if (tl_now_ns() > end) {
            return 0;
        }
        usleep(100);
    }
    usleep(1000);
    return 1;
}

/* SIGKILLs pid and reaps it; returns its wait status as t_wait does (137 for SIGKILL). */
static inline int tl_kill(pid_t pid)
{
    kill(pid, SIGKILL);
    return t_wait(pid);
}

/* The name for one run: a stable copy of t_name(tag) that children inherit. */
struct tl_name {
    char s[256];
};
static inline struct tl_name tl_name(const char *tag)
{
    struct tl_name n;
    snprintf(n.s, sizeof n.s, "%s", t_name(tag));
    return n;
}

/* Makes this process the reaper of orphaned descendants, so a grandchild whose parent was killed
 * can be waited for here instead of by init. */
static inline void tl_subreaper(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* Reaps every child that has exited (grandchildren adopted as subreaper included). */
static inline void tl_reap_all(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

/* 1 if /proc/<pid>/fd or /proc/<pid>/maps mentions /dev/shm/<name>. */
static inline int tl_proc_uses(pid_t pid, const char *name)
{
    char path[64];
    char line[1024];
    char want[300];
    snprintf(want, sizeof want, "/dev/shm/%s", name);
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    int found = 0;
    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            if (strstr(line, want) != NULL) {
                found = 1;
            }
        }
        fclose(f);
    }
    for (int fd = 0; fd < 256 && !found; fd++) {
        char link[64];
        char target[512];
        snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)pid, fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            found = strstr(target, want) != NULL;
        }
    }
    return found;
}

/* Median of v[0..n) (sorts v). */
static inline int64_t tl_median(int64_t *v, int n)
{
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    return n > 0 ? v[n / 2] : 0;
}

/* A child that opens n.s in `role`, sets *ready, and holds the role until it is killed. */
struct tl_holder_args {
    struct tl_name n;
    int role;
    _Atomic uint32_t *ready;
};

static inline int tl_role_holder(void *p)
{
    struct tl_holder_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, a->role, NULL, &r), 0);
    atomic_store_explicit(a->ready, 1, memory_order_release); /* pairs with tl_await() */
    pause();
    return 0;
}

#endif
