/* SPDX-License-Identifier: MIT */
/* The classic SetSharedMem/GetSharedMem calls over a shmring mapping flagged SHMRING__F_LEGACY.
 * The core gives us the header, validation, first-attach initialisation and the lifetime (last
 * detacher unlinks, exit detaches, a forked child drops what it inherited, a name whose users
 * were all killed starts afresh); the value protocol itself is src/legacy_value.c. This file
 * attaches, and gives that protocol what needs the operating system:
 *  - setters exclude one another with the platform's legacy-setter role (freed at once when its
 *    holder dies, so a dead setter never blocks later ones) and, inside a process, with g_mu:
 *    every thread of a process shares the one handle, and so one role holder;
 *  - a getter asks that role whether an in-place setter still lives, and waits for it within a
 *    bounded time. */
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "legacy_value.h"
#include "compat.h"
#include "shmring_compat.h"

#define COMPAT_NAME_ENV        "SHMRING_COMPAT_NAME"
#define COMPAT_LOCK_TIMEOUT_NS (1000000000LL) /* a setter waits this long for another setter */
#define COMPAT_GET_TIMEOUT_NS  (1000000000LL) /* a getter waits this long for an overwrite */

_Static_assert(SHMRING_COMPAT_SIZE - SHMRING_HEADER_SIZE >= SHMRING_COMPAT_MAX_STRING,
               "the longest value fits the data area");
_Static_assert(SHMRING_COMPAT_MAX_STRING == SHMRING__LV_MAX, "one maximum for the value");

/* g_mu serialises, within this process, setters and every change of the attach state below. */
static shmring__plat_mutex g_mu = SHMRING__PLAT_MUTEX_INIT;
static _Atomic(shmring *) g_handle; /* the attached handle, NULL before the first attach */
static int32_t g_pid;               /* under g_mu: the process that attached g_handle */
static int32_t g_exit_pid;          /* under g_mu: the process that is exiting (see exiting()) */
static _Atomic int g_status;        /* shmring_compat_status() */
static _Atomic int g_local_writer;  /* 1 while a thread of ours overwrites in place */

/* What the value protocol's callbacks need during one call. */
struct call {
    struct shmring__seg *seg; /* the handle's segment, which holds our setter role */
    int64_t deadline;         /* a getter's: 0 until it starts to wait */
};

static int setter_lock_held(void *ctx)
{
    return shmring__seg_role_held(((struct call *)ctx)->seg, SHMRING__ROLE_ID_LEGACY_SETTER);
}

/* A copy takes well under a microsecond, so spin first; a live in-place writer may have been
 * descheduled, so then yield and nap, within a bounded time. */
static int get_pause(void *ctx, uint32_t round)
{
    struct call *c = ctx;
    if (round < 64) {
        shmring__plat_cpu_relax();
        return 0;
    }
    int64_t now = shmring__plat_coarse_ns();
    if (c->deadline == 0) {
        c->deadline = now + COMPAT_GET_TIMEOUT_NS;
    } else if (now >= c->deadline) {
        return SHMRING_ETIMEDOUT;
    }
    shmring__plat_sleep_ns(round < 256 ? 0 : 50000);
    return 0;
}

/* The value of the handle's mapping. cap comes from our own mapping's size, never the header. */
static void value_of(shmring *h, struct call *c, struct shmring__lv *v)
{
    c->seg = &h->seg;
    c->deadline = 0;
    v->hdr = h->hdr;
    v->data = (uint8_t *)h->hdr + SHMRING_HEADER_SIZE;
    v->cap = h->seg.size - SHMRING_HEADER_SIZE;
    v->local_writer = &g_local_writer;
    v->setter_lock_held = setter_lock_held;
    v->pause = get_pause;
    v->ctx = c;
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
    shmring__plat_mutex_lock(&g_mu);
}

void shmring__compat_unlock(void)
{
    shmring__plat_mutex_unlock(&g_mu);
}

/* The core's exit handler calls this before it detaches every handle, and exit_end() after.
 * Taking g_mu keeps the detach from running while a setter uses the handle, and lets no attach
 * be half-way: one that started before is in the core's list by now and gets detached. From here
 * on a call of this process must not create the name (see attach()). */
static void exit_begin(void)
{
    shmring__plat_mutex_lock(&g_mu);
    g_exit_pid = shmring__plat_pid();
}

static void exit_end(void)
{
    shmring__plat_mutex_unlock(&g_mu);
}

/* At load, so that the core's exit handler can never run without telling us. Registered at the
 * first attach instead, it came too late when the core's handler already existed (an earlier
 * shmring_open, or inherited across fork): exit() ran it, then a thread's first set/get attached
 * normally, created the name and ended with the process, leaving the name behind. */
__attribute__((constructor)) static void compat_load(void)
{
    shmring__set_exit_lock(exit_begin, exit_end);
}

/* Registered only to learn whether the exit-handler list still accepts one. */
static void exit_probe(void)
{
}

/* Under g_mu, before an attach that would create the name: 1 if this process is exiting. glibc
 * refuses new exit handlers (shmring__plat_at_exit) once exit() has run all its handlers (one
 * registered while they run still runs). A refusal means that the core's exit handler has run, or
 * was refused too when the caller's shmring__process_init() registered it: either way it will not
 * detach a handle we attach now. */
static int exiting(void)
{
    int32_t pid = shmring__plat_pid();
    if (g_exit_pid != pid && shmring__plat_at_exit(exit_probe) != 0) {
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

static int lock_setters(struct shmring__seg *seg)
{
    /* A setter holds the lock for one copy of at most 3 KiB: a few yields usually win it without
     * the sleeping wait, whose naps are far longer than a copy. */
    for (int i = 0; i < 8; i++) {
        int r = shmring__seg_take_role(seg, SHMRING__ROLE_ID_LEGACY_SETTER);
        if (r != SHMRING_EBUSY) {
            return r;
        }
        shmring__plat_sleep_ns(0);
    }
    return shmring__plat_role_take_wait(seg->plat, SHMRING__ROLE_ID_LEGACY_SETTER,
                                        COMPAT_LOCK_TIMEOUT_NS);
}

/* Under g_mu: writes s[0..n) as the new value. */
static int set_value(shmring *h, const char *s, uint64_t n)
{
    struct call c;
    struct shmring__lv v;
    value_of(h, &c, &v);
    int err = lock_setters(c.seg);
    if (err < 0) {
        return err;
    }
    shmring__lv_set(&v, s, n);
    shmring__seg_drop_role(c.seg, SHMRING__ROLE_ID_LEGACY_SETTER);
    return 0;
}

/* ---- getting ------------------------------------------------------------------------------- */

/* Copies the value into buf[0..cch) (cch >= 1), NUL-terminated; "" with an error. */
static int get_value(shmring *h, char *buf, uint64_t cch)
{
    struct call c;
    struct shmring__lv v;
    value_of(h, &c, &v);
    return shmring__lv_get(&v, buf, cch);
}

/* ---- the exported calls -------------------------------------------------------------------- */

int shmring__compat_set(const char *utf8, size_t n)
{
    if (utf8 == NULL && n != 0) {
        return SHMRING_EINVAL;
    }
    if (n > SHMRING_COMPAT_MAX_STRING) {
        n = SHMRING_COMPAT_MAX_STRING;
    }
    const char *lpszBuf = utf8 != NULL ? utf8 : "";
    /* A setter cancelled while holding g_mu would block every later set of this process. */
    int cancel_state = shmring__plat_cancel_off();
    shmring__process_init(); /* the fork handlers exist before we first hold g_mu */
    shmring__plat_mutex_lock(&g_mu);
    shmring *h = NULL;
    int transient = 0;
    int err = attach(&h, &transient);
    if (err == 0) {
        err = set_value(h, lpszBuf, n);
        if (transient) {
            shmring_close(h);
        }
    }
    shmring__plat_mutex_unlock(&g_mu);
    report(err);
    shmring__plat_cancel_restore(cancel_state);
    return err;
}

int shmring__compat_get(char *lpszBuf, size_t cchSize)
{
    if (lpszBuf == NULL || cchSize == 0) {
        return SHMRING_EINVAL;
    }
    int cancel_state = shmring__plat_cancel_off();
    int err;
    shmring *h = attached();
    if (h != NULL) {
        err = get_value(h, lpszBuf, cchSize);
    } else {
        int transient = 0;
        shmring__process_init(); /* as in SetSharedMem */
        shmring__plat_mutex_lock(&g_mu);
        err = attach(&h, &transient);
        if (err == 0 && transient) {
            err = get_value(h, lpszBuf, cchSize);
            shmring_close(h);
            h = NULL;
        }
        shmring__plat_mutex_unlock(&g_mu);
        if (err == 0 && h != NULL) {
            err = get_value(h, lpszBuf, cchSize); /* g_handle: valid without g_mu */
        } else if (err < 0) {
            lpszBuf[0] = '\0';
        }
    }
    report(err);
    shmring__plat_cancel_restore(cancel_state);
    return err;
}

int shmring_compat_status(void)
{
    /* LX1 (relaxed): see report(). */
    return atomic_load_explicit(&g_status, memory_order_relaxed);
}
