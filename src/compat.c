/* SPDX-License-Identifier: MIT */
/* The classic SetSharedMem/GetSharedMem calls over a shmring mapping flagged SHMRING__F_LEGACY.
 * The core gives us the header, validation, first-attach initialisation and the lifetime (last
 * detacher unlinks, exit detaches, a forked child drops what it inherited, a name whose users
 * were all killed starts afresh); this file adds only the value protocol.
 *
 * The value is one string in the data area: hdr->legacy_cur holds offset << 32 | length, and
 * hdr->legacy_seq is a seqlock counter over it.
 *  - Usually the new string fits beside the current one: the value always sits flush-left or
 *    flush-right, so the free bytes form one block, and the new string goes to the other end.
 *    The setter bumps seq by 2 (LW1), writes the bytes, then publishes cur (LR1). A setter that
 *    dies anywhere in this leaves the previous value intact and current.
 *  - When old + new do not fit together (more than the 3584-byte data area), it overwrites in
 *    place: seq becomes odd (LW3), bytes, cur, seq even again (LR2). A setter that dies here leaves
 *    seq odd; getters then report the empty string (-EOWNERDEAD), never a torn one, until the
 *    next set repairs the value.
 * Setters exclude one another with the kernel lock byte SHMRING__LOCK_LEGACY (the kernel drops it
 * when its holder dies, so a dead setter never blocks later ones) and, inside a process, with
 * g_mu: every thread of a process shares one open file description and so one lock owner.
 * Getters take no lock: they copy, then retry if seq moved, within a bounded time. Every value
 * read from the mapping is checked before use; another process may be hostile. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "shmring_compat.h"

#define COMPAT_NAME_ENV "SHMRING_COMPAT_NAME"
/* TEST HOOK, read at attach: every SetSharedMem of 2 bytes or more pauses after copying the
 * first half of the string: "1" stops the whole process with SIGSTOP, so that a test can SIGKILL
 * a setter deterministically inside the copy; "2" makes just the calling thread sleep 300 ms,
 * so that other threads of the process can read meanwhile. Nothing else reads it. */
#define COMPAT_HOOK_ENV      "SHMRING_COMPAT_TEST_STOP_MIDCOPY"
#define COMPAT_HOOK_STOP     1
#define COMPAT_HOOK_SLEEP    2
#define COMPAT_HOOK_SLEEP_NS (300 * 1000000ll)

#define COMPAT_LOCK_TIMEOUT_NS (1000000000ll) /* a setter waits this long for another setter */
#define COMPAT_GET_TIMEOUT_NS  (1000000000ll) /* a getter waits this long for an overwrite */
#define COMPAT_NO_ROOM         UINT64_MAX

/* LX6 (relaxed, TSan builds only). A seqlock reader races with the writer by design and throws away
 * what it copied when seq moved. ThreadSanitizer cannot know that, so under it the bytes go through
 * relaxed atomics (a byte at a time: slow, but only sanitizer builds pay). */
#if defined(__SANITIZE_THREAD__)
#define COMPAT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define COMPAT_TSAN 1
#endif
#endif

static void bytes_in(uint8_t *dst, const char *src, uint64_t n)
{
#ifdef COMPAT_TSAN
    for (uint64_t i = 0; i < n; i++) {
        __atomic_store_n(&dst[i], (uint8_t)src[i], __ATOMIC_RELAXED);
    }
#else
    memcpy(dst, src, (size_t)n);
#endif
}

static void bytes_out(char *dst, const uint8_t *src, uint64_t n)
{
#ifdef COMPAT_TSAN
    for (uint64_t i = 0; i < n; i++) {
        dst[i] = (char)__atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
#else
    memcpy(dst, src, (size_t)n);
#endif
}

_Static_assert(SHMRING_COMPAT_SIZE - SHMRING_HEADER_SIZE >= SHMRING_COMPAT_MAX_STRING,
               "the longest value fits the data area");
_Static_assert(SHMRING_COMPAT_MAX_STRING <= UINT32_MAX, "a length fits legacy_cur's low half");

/* g_mu serialises, within this process, setters and every change of the attach state below. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(shmring *) g_handle; /* the attached handle, NULL before the first attach */
static int32_t g_pid;               /* under g_mu: the process that attached g_handle */
static int32_t g_exit_pid;          /* under g_mu: the process that is exiting (see exiting()) */
static int g_hook;                  /* under g_mu: COMPAT_HOOK_* of the test hook, or 0 */
static _Atomic int g_status;        /* shmring_compat_status() */
static _Atomic int g_local_writer;  /* 1 while a thread of ours overwrites in place */

struct view {
    struct shmring__hdr *hdr;
    uint8_t *data;
    uint64_t cap; /* from our own mapping's size, never from the header */
    int fd;
};

static void view_of(shmring *h, struct view *v)
{
    v->hdr = h->hdr;
    v->data = (uint8_t *)h->hdr + SHMRING_HEADER_SIZE;
    v->cap = h->seg.map.size - SHMRING_HEADER_SIZE;
    v->fd = h->seg.map.fd;
}

static void report(int err)
{
    /* LX1 (relaxed): a note for the caller, nothing is published through it. Not storing an
     * unchanged value keeps threads that call in a loop from bouncing the cache line. */
    if (atomic_load_explicit(&g_status, memory_order_relaxed) != err) {
        atomic_store_explicit(&g_status, err, memory_order_relaxed);
    }
}

/* ---- attaching ----------------------------------------------------------------------------- */

/* A fork while another thread holds g_mu would leave the child's copy locked forever: the
 * core's fork handlers take it (before their list lock) and release it in parent and child. */
void shmring__compat_lock(void)
{
    pthread_mutex_lock(&g_mu);
}

void shmring__compat_unlock(void)
{
    pthread_mutex_unlock(&g_mu);
}

/* The core's exit handler calls this before it detaches every handle, and exit_end() after.
 * Taking g_mu keeps the detach from running while a setter uses the handle, and lets no attach
 * be half-way: one that started before is in the core's list by now and gets detached. From here
 * on a call of this process must not create the name (see attach()). */
static void exit_begin(void)
{
    pthread_mutex_lock(&g_mu);
    g_exit_pid = shmring__plat_pid();
}

static void exit_end(void)
{
    pthread_mutex_unlock(&g_mu);
}

/* At load, so that the core's exit handler can never run without telling us. Registered at the
 * first attach instead, it came too late when the core's handler already existed (an earlier
 * shmring_open, or inherited across fork): exit() ran it, then a thread's first set/get attached
 * normally, created the name and ended with the process, leaving the name behind. */
__attribute__((constructor)) static void compat_load(void)
{
    shmring__set_exit_lock(exit_begin, exit_end);
}

/* Registered only to learn whether atexit() still accepts a handler. */
static void exit_probe(void)
{
}

/* Under g_mu, before an attach that would create the name: 1 if this process is exiting. glibc
 * refuses atexit() once exit() has run all its handlers (one registered while they run still
 * runs). A refusal means that the core's exit handler has run, or was refused too when the
 * caller's shmring__process_init() registered it: either way it will not detach a handle we
 * attach now. */
static int exiting(void)
{
    int32_t pid = shmring__plat_pid();
    if (g_exit_pid != pid && atexit(exit_probe) != 0) {
        g_exit_pid = pid;
    }
    return g_exit_pid == pid;
}

/* The handle, if this process has a usable one (the fast path of every call). */
static shmring *attached(void)
{
    /* LA0: pairs with LR0 in attach(): the handle's fields are initialised. */
    shmring *h = atomic_load_explicit(&g_handle, memory_order_acquire);
    /* role is 0 once the core dropped the handle: in a forked child (the parent's locks are not
     * ours) or after the exit handlers detached it. */
    return h != NULL && h->role == SHMRING__ROLE_LEGACY ? h : NULL;
}

/* Under g_mu: attaches if needed. *transient = 1 when the exit handlers have already run: then
 * the handle serves one call and the caller closes it, so a call from a later exit handler still
 * works and the last detacher still removes the name. Such a call never creates the name: the
 * process may end inside it (exit() does not wait for other threads, nor for handlers it has
 * already passed), and a name created then would stay behind with nobody to remove it. If the
 * name is gone (we were its last user), it returns -ENOENT. */
static int attach(shmring **out, int *transient)
{
    *transient = 0;
    /* LX2 (relaxed): we hold g_mu, and only holders of g_mu store g_handle. */
    shmring *h = atomic_load_explicit(&g_handle, memory_order_relaxed);
    if (h != NULL && h->role == SHMRING__ROLE_LEGACY) {
        *out = h;
        return 0;
    }
    if (h != NULL) {
        /* Dropped by the core. The struct is not freed: another thread may still hold the
         * pointer, and the core's handle list keeps it. */
        if (g_pid == shmring__plat_pid()) {
            g_exit_pid = g_pid; /* same process: detached at exit; a different one: forked child */
        }
        atomic_store_explicit(&g_handle, NULL, memory_order_relaxed); /* LX2 */
    }
    const char *name = getenv(COMPAT_NAME_ENV);
    if (name == NULL || name[0] == '\0') {
        name = SHMRING_COMPAT_DEFAULT_NAME;
    }
    int late = exiting();
    static const struct shmring_opts create = {
        .size = SHMRING_COMPAT_SIZE, .mode = 0600, .flags = SHMRING_CREATE};
    static const struct shmring_opts existing = {.size = SHMRING_COMPAT_SIZE, .mode = 0600};
    int err = shmring__open(name, SHMRING__ROLE_LEGACY, late ? &existing : &create,
                            SHMRING__F_LEGACY, &h);
    if (err < 0) {
        return err;
    }
    const char *hook = getenv(COMPAT_HOOK_ENV);
    g_hook = hook == NULL ? 0 : atoi(hook);
    if (late) {
        *transient = 1;
    } else {
        g_pid = shmring__plat_pid();
        /* LR0: pairs with LA0 in attached(). */
        atomic_store_explicit(&g_handle, h, memory_order_release);
    }
    *out = h;
    return 0;
}

/* ---- setting ------------------------------------------------------------------------------- */

static int lock_setters(int fd)
{
    /* A setter holds the lock for one copy of at most 3 KiB: a few yields usually win it without
     * the sleeping wait, whose naps are far longer than a copy. */
    for (int i = 0; i < 8; i++) {
        int r = shmring__plat_lock(fd, SHMRING__LOCK_LEGACY, SHMRING__EXCLUSIVE);
        if (r != -EAGAIN) {
            return r;
        }
        shmring__plat_sleep_ns(0);
    }
    return shmring__plat_lock_wait(fd, SHMRING__LOCK_LEGACY, SHMRING__EXCLUSIVE,
                                   COMPAT_LOCK_TIMEOUT_NS);
}

static void copy_in(uint8_t *dst, const char *src, uint64_t n, int hook)
{
    if (hook != 0 && n >= 2) {
        bytes_in(dst, src, n / 2);
        if (hook == COMPAT_HOOK_STOP) { /* TEST HOOK (COMPAT_HOOK_ENV): a test kills us here */
            raise(SIGSTOP);
        } else if (hook == COMPAT_HOOK_SLEEP) {
            shmring__plat_sleep_ns(COMPAT_HOOK_SLEEP_NS);
        }
        bytes_in(dst + n / 2, src + n / 2, n - n / 2);
        return;
    }
    bytes_in(dst, src, n);
}

/* Under g_mu: writes s[0..n) as the new value. */
static int set_value(shmring *h, const char *s, uint64_t n)
{
    struct view v;
    view_of(h, &v);
    struct shmring__hdr *hdr = v.hdr;
    int err = lock_setters(v.fd);
    if (err < 0) {
        return err;
    }
    /* LX3 (relaxed): only setters store seq and cur, and we now exclude every other setter; the
     * last one's stores reached us through the lock hand-over (the kernel lock and g_mu are full
     * barriers). */
    uint64_t seq = atomic_load_explicit(&hdr->legacy_seq, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&hdr->legacy_cur, memory_order_relaxed);
    uint64_t off = cur >> 32;
    uint64_t len = cur & 0xffffffffu;
    /* Odd seq means a setter died overwriting: nothing is left to preserve. Bounds that do not
     * fit are corrupt: overwrite in place, which repairs them. */
    int intact = (seq & 1) == 0 && len <= v.cap && off <= v.cap - len;
    uint64_t pos = COMPAT_NO_ROOM;
    if (intact && n <= off) {
        pos = 0; /* the current value sits on the right */
    } else if (intact && n <= v.cap - (off + len)) {
        pos = v.cap - n; /* it sits on the left (or is empty) */
    }
    if (pos != COMPAT_NO_ROOM) {
        /* LW1: a new generation before any byte changes. Bytes of the current value are not
         * touched now, but the next set reuses them: a getter still copying them then must see
         * seq move. Release: pairs with LA1 in get_value(), so that a getter that reads LW1
         * also reads the current cur (LR1 of the previous set, which the lock hand-over ordered
         * before us) or a later one, never an older cur whose bytes lie in the block we now write.
         */
        atomic_store_explicit(&hdr->legacy_seq, seq + 2, memory_order_release);
        /* LF1: orders LW1 before the byte stores below; pairs with LF2 in get_value(): a
         * getter whose copy read any byte stored after this fence also reads LW1 (or later) and
         * retries. */
        atomic_thread_fence(memory_order_release);
        copy_in(v.data + pos, s, n, g_hook);
        /* LR1: publishes the bytes above; pairs with LA2 in get_value(). */
        atomic_store_explicit(&hdr->legacy_cur, pos << 32 | n, memory_order_release);
    } else {
        /* LW2: made visible by LW3's release to a getter of this process that reads LW3 (LA1);
         * the kernel lock we hold is invisible to it (same open file description). */
        atomic_store_explicit(&g_local_writer, 1, memory_order_relaxed);
        /* LW3: odd = "being overwritten" (already odd if a setter died here: keep it). */
        atomic_store_explicit(&hdr->legacy_seq, seq | 1, memory_order_release);
        /* LF3: LW3 before the byte stores; pairs with LF2 in get_value(). */
        atomic_thread_fence(memory_order_release);
        copy_in(v.data, s, n, g_hook);
        /* LX4 (relaxed): nobody uses cur while seq is odd; LR2 publishes it. */
        atomic_store_explicit(&hdr->legacy_cur, n, memory_order_relaxed);
        /* LR2: publishes the bytes and cur; pairs with LA1 in get_value(). */
        atomic_store_explicit(&hdr->legacy_seq, (seq | 1) + 1, memory_order_release);
        /* LR3: pairs with LA3 in writer_died(): a getter that reads 0 here also sees LR2. */
        atomic_store_explicit(&g_local_writer, 0, memory_order_release);
    }
    shmring__plat_lock(v.fd, SHMRING__LOCK_LEGACY, SHMRING__UNLOCK);
    return 0;
}

/* ---- getting ------------------------------------------------------------------------------- */

/* seq was odd (s1): 1 if the setter that made it odd is dead, 0 if it may still be writing. */
static int writer_died(const struct view *v, uint64_t s1)
{
    /* Another process's setter holds the kernel lock from before LW3 until after LR2, and the
     * kernel drops it when that process dies. An error counts as "alive": waiting is bounded,
     * a false verdict would hide a value. */
    if (shmring__plat_lock_held(v->fd, SHMRING__LOCK_LEGACY) != 0) {
        return 0;
    }
    /* LA3: pairs with LR3 in set_value() (our own threads, whose lock we cannot see). */
    if (atomic_load_explicit(&g_local_writer, memory_order_acquire) != 0) {
        return 0;
    }
    /* The lock was free. A setter that released it had stored LR2 first, and the kernel orders
     * the release before our lock query (both run under its lock), so an unchanged seq means
     * that the setter of s1 died. LA4: pairs with LR2, like LA1. */
    return atomic_load_explicit(&v->hdr->legacy_seq, memory_order_acquire) == s1;
}

/* Copies the value into buf[0..cch) (cch >= 1), NUL-terminated; "" with an error. */
static int get_value(shmring *h, char *buf, uint64_t cch)
{
    struct view v;
    view_of(h, &v);
    struct shmring__hdr *hdr = v.hdr;
    int64_t deadline = 0;
    for (uint32_t round = 0;; round++) {
        /* LA1: pairs with LR2 (an in-place set's bytes and cur are visible once seq is even),
         * with LW1 (the cur loaded below is not older than the one LW1's setter saw) and with LW3
         * (LW2 is visible to writer_died once we read an odd seq). */
        uint64_t s1 = atomic_load_explicit(&hdr->legacy_seq, memory_order_acquire);
        if ((s1 & 1) == 0) {
            /* LA2: pairs with LR1: the bytes of the value that cur names are complete. */
            uint64_t cur = atomic_load_explicit(&hdr->legacy_cur, memory_order_acquire);
            uint64_t off = cur >> 32;
            uint64_t len = cur & 0xffffffffu;
            /* A setter never stores more than the maximum: a longer value is a scribble. */
            int bad = len > SHMRING_COMPAT_MAX_STRING || len > v.cap || off > v.cap - len;
            uint64_t k = 0;
            if (!bad) {
                k = len < cch - 1 ? len : cch - 1;
                bytes_out(buf, v.data + off, k);
            }
            /* LF2: pairs with LF1/LF3 in set_value(): if the copy read a byte that a setter
             * stored after its LW1 or LW3, the load below reads that store (or a later one). */
            atomic_thread_fence(memory_order_acquire);
            /* LX5 (relaxed): ordered after the copy by LF2. */
            if (atomic_load_explicit(&hdr->legacy_seq, memory_order_relaxed) == s1) {
                if (bad) {
                    buf[0] = '\0';
                    return -EPROTO; /* stable, so not a race: a peer scribbled on cur */
                }
                buf[k] = '\0';
                return 0;
            }
        } else if (round % 32 == 0 && writer_died(&v, s1)) {
            buf[0] = '\0';
            return -EOWNERDEAD;
        }
        /* Retry. A copy takes well under a microsecond, so spin first; a live in-place writer
         * may have been descheduled, so then yield and nap, within a bounded time. */
        if (round < 64) {
            shmring__plat_cpu_relax();
            continue;
        }
        int64_t now = shmring__plat_coarse_ns();
        if (deadline == 0) {
            deadline = now + COMPAT_GET_TIMEOUT_NS;
        } else if (now >= deadline) {
            buf[0] = '\0';
            return -ETIMEDOUT;
        }
        shmring__plat_sleep_ns(round < 256 ? 0 : 50000);
    }
}

/* ---- the exported calls -------------------------------------------------------------------- */

void SetSharedMem(const char *lpszBuf)
{
    if (lpszBuf == NULL) {
        return;
    }
    /* A setter cancelled while holding g_mu would block every later set of this process. */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    uint64_t n = strnlen(lpszBuf, SHMRING_COMPAT_MAX_STRING);
    shmring__process_init(); /* the fork handlers exist before we first hold g_mu */
    pthread_mutex_lock(&g_mu);
    shmring *h = NULL;
    int transient = 0;
    int err = attach(&h, &transient);
    if (err == 0) {
        err = set_value(h, lpszBuf, n);
        if (transient) {
            shmring_close(h);
        }
    }
    pthread_mutex_unlock(&g_mu);
    report(err);
    pthread_setcancelstate(cancel_state, NULL);
}

void GetSharedMem(char *lpszBuf, unsigned int cchSize)
{
    if (lpszBuf == NULL || cchSize == 0) {
        return;
    }
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    int err;
    shmring *h = attached();
    if (h != NULL) {
        err = get_value(h, lpszBuf, cchSize);
    } else {
        int transient = 0;
        shmring__process_init(); /* as in SetSharedMem */
        pthread_mutex_lock(&g_mu);
        err = attach(&h, &transient);
        if (err == 0 && transient) {
            err = get_value(h, lpszBuf, cchSize);
            shmring_close(h);
            h = NULL;
        }
        pthread_mutex_unlock(&g_mu);
        if (err == 0 && h != NULL) {
            err = get_value(h, lpszBuf, cchSize); /* g_handle: valid without g_mu */
        } else if (err < 0) {
            lpszBuf[0] = '\0';
        }
    }
    report(err);
    pthread_setcancelstate(cancel_state, NULL);
}

int shmring_compat_status(void)
{
    /* LX1 (relaxed): see report(). */
    return atomic_load_explicit(&g_status, memory_order_relaxed);
}
