/* SPDX-License-Identifier: MIT */
/* Helpers shared by the lifecycle, death and wait tests (test_life*, test_death*, test_wait*).
 * Everything here runs in child processes too (t_spawn_flat: forked on POSIX, the program started
 * again on Windows), so nothing uses CMocka: a child reports a failed check with TL_CHECK (prints
 * file:line and returns 1 from the child function). The POSIX-only helpers (tl_kill of a pid,
 * subreaper, /proc) serve the tests that stay POSIX-only. */
#ifndef TEST_LIFEUTIL_H
#define TEST_LIFEUTIL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#include <process.h> /* getpid */
#include <tlhelp32.h>
#else
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "handle.h" /* struct shmring: the tests peek at the shared header (r->hdr) */
#include "platform.h"
#include "shmring.h"
#include "testutil.h"

#define TL_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "[pid %d] %s:%d: check failed: %s\n", (int)getpid(), __FILE__,         \
                    __LINE__, #cond);                                                              \
            T_FAILED_RETURN(1);                                                                    \
        }                                                                                          \
    } while (0)

/* Same, with the value of an error code in the message. */
#define TL_CHECK_RC(expr, want)                                                                    \
    do {                                                                                           \
        long tl_rc_ = (long)(expr);                                                                \
        if (tl_rc_ != (long)(want)) {                                                              \
            fprintf(stderr, "[pid %d] %s:%d: %s = %ld (%s), want %ld\n", (int)getpid(), __FILE__,  \
                    __LINE__, #expr, tl_rc_, shmring_strerror((int)tl_rc_), (long)(want));         \
            T_FAILED_RETURN(1);                                                                    \
        }                                                                                          \
    } while (0)

#ifdef _WIN32
/* The library's clock (QueryPerformanceCounter: one clock for every process of the system). */
static inline int64_t tl_now_ns(void)
{
    return shmring__plat_now_ns();
}

static inline void tl_sleep_ms(int64_t ms)
{
    Sleep((DWORD)ms);
}

/* Sleep's unit is a millisecond: a shorter pause becomes one. */
static inline void tl_sleep_us(int64_t us)
{
    Sleep((DWORD)((us + 999) / 1000));
}
#else
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

static inline void tl_sleep_us(int64_t us)
{
    usleep((useconds_t)us);
}
#endif

/* Sleeps until the process is killed (POSIX pause(); Windows has no signals to wait for). On
 * Windows it also ends when the parent ends: a parent whose test failed never kills it, and a
 * child holding the inherited output handles would keep CTest waiting until the timeout. */
static inline void tl_idle_forever(void)
{
#ifdef _WIN32
    DWORD me = GetCurrentProcessId(), parent_id = 0;
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    PROCESSENTRY32 pe = {.dwSize = sizeof pe};
    for (BOOL ok = snap != INVALID_HANDLE_VALUE && Process32First(snap, &pe); ok;
         ok = Process32Next(snap, &pe)) {
        if (pe.th32ProcessID == me) {
            parent_id = pe.th32ParentProcessID;
        }
    }
    if (snap != INVALID_HANDLE_VALUE) {
        CloseHandle(snap);
    }
    HANDLE parent = parent_id != 0 ? OpenProcess(SYNCHRONIZE, FALSE, parent_id) : NULL;
    if (parent != NULL && WaitForSingleObject(parent, INFINITE) == WAIT_OBJECT_0) {
        _exit(0);
    }
#endif
    for (;;) {
        tl_sleep_ms(1000);
    }
}

/* Busy-waits ns nanoseconds (precise short pauses; usleep rounds up to ~60 us). */
static inline void tl_spin_ns(int64_t ns)
{
    int64_t end = tl_now_ns() + ns;
    while (tl_now_ns() < end) {
    }
}

/* Zeroed memory shared with every child started afterwards: the side channel of the tests. A
 * child function reaches it through tl_here(pointer the parent put in its argument).
 * POSIX: an anonymous shared mapping the forked child inherits at the same address.
 * Windows: a bump allocator in one named section per parent process ("arena"); the parent
 * publishes the section's name and its view's address in SHMRING_TL_ARENA, which child processes
 * inherit with the environment, and tl_here maps the section and moves the pointer into it. */
#ifdef _WIN32
#define TL_ARENA_BYTES (4u << 20)
static struct {
    unsigned char *base;
    uintptr_t parent_base; /* the address of the same bytes in the parent (0 in the parent) */
    size_t used;
} tl_arena_;

static inline void *tl_shared(size_t n)
{
    if (tl_arena_.base == NULL) {
        char name[64];
        char env[128];
        snprintf(name, sizeof name, "Local\\shmring-tl-arena-%lu", GetCurrentProcessId());
        HANDLE h =
            CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, TL_ARENA_BYTES, name);
        void *v = h != NULL ? MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, 0) : NULL;
        if (v == NULL) {
            fprintf(stderr, "tl_shared: section %s: error %lu\n", name, GetLastError());
            abort();
        }
        snprintf(env, sizeof env, "%s|%llx", name, (unsigned long long)(uintptr_t)v);
        SetEnvironmentVariableA("SHMRING_TL_ARENA", env);
        tl_arena_.base = v; /* the handle stays open until the process ends */
    }
    size_t take = (n + 127) & ~(size_t)127; /* whole cache-line pairs, as tl_shared's mmap */
    if (tl_arena_.parent_base != 0 || take > TL_ARENA_BYTES - tl_arena_.used) {
        fprintf(stderr, "tl_shared: the arena is full (or this is a child)\n");
        abort();
    }
    void *p = tl_arena_.base + tl_arena_.used;
    tl_arena_.used += take;
    return p; /* never reused, so still zero */
}

static inline void tl_unshare(void *p, size_t n)
{
    (void)p, (void)n; /* the arena ends with the process */
}

static inline void *tl_here(void *p)
{
    if (p == NULL || (tl_arena_.base != NULL && tl_arena_.parent_base == 0)) {
        return p; /* the parent's own pointer */
    }
    if (tl_arena_.base == NULL) {
        char env[128];
        DWORD len = GetEnvironmentVariableA("SHMRING_TL_ARENA", env, sizeof env);
        char *bar = len > 0 && len < sizeof env ? strchr(env, '|') : NULL;
        if (bar == NULL) {
            fprintf(stderr, "tl_here: no SHMRING_TL_ARENA from the parent\n");
            abort();
        }
        *bar = '\0';
        HANDLE h = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, env);
        void *v = h != NULL ? MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, 0) : NULL;
        if (v == NULL) {
            fprintf(stderr, "tl_here: section %s: error %lu\n", env, GetLastError());
            abort();
        }
        tl_arena_.parent_base = (uintptr_t)strtoull(bar + 1, NULL, 16);
        tl_arena_.base = v;
    }
    return tl_arena_.base + ((uintptr_t)p - tl_arena_.parent_base);
}
#else
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

static inline void *tl_here(void *p)
{
    return p; /* inherited by fork */
}
#endif

/* Polls flag until it is non-zero, at most timeout_ms. 1 when it became non-zero. */
static inline int tl_await(_Atomic uint32_t *flag, int64_t timeout_ms)
{
    int64_t end = tl_now_ns() + timeout_ms * 1000000;
    while (atomic_load_explicit(flag, memory_order_acquire) == 0) {
        if (tl_now_ns() > end) {
            return 0;
        }
        tl_sleep_us(200);
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
        tl_sleep_us(100);
    }
    tl_sleep_us(1000);
    return 1;
}

/* Kills a t_spawn_flat child (SIGKILL / TerminateProcess) and waits for it; returns
 * t_proc_wait's status (T_KILLED). */
static inline int tl_end(t_proc p)
{
    t_proc_kill(p);
    return t_proc_wait(p);
}

#ifndef _WIN32
/* SIGKILLs pid and reaps it; returns its wait status as t_wait does (137 for SIGKILL). */
static inline int tl_kill(pid_t pid)
{
    kill(pid, SIGKILL);
    return t_wait(pid);
}
#endif

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

#ifndef _WIN32
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
#endif /* !_WIN32 */

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

/* A child that opens n.s in `role`, stores its pid (never 0) in *ready, and holds the role until
 * it is killed. */
struct tl_holder_args {
    struct tl_name n;
    int role;
    _Atomic uint32_t *ready; /* tl_shared */
};

static inline int tl_role_holder(void *p)
{
    struct tl_holder_args *a = p;
    _Atomic uint32_t *ready = tl_here(a->ready);
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, a->role, NULL, &r), 0);
    /* pairs with tl_await() */
    atomic_store_explicit(ready, (uint32_t)shmring__plat_pid(), memory_order_release);
    tl_idle_forever();
    return 0;
}

#endif
