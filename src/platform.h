/* SPDX-License-Identifier: MIT */
/* src/platform.h: everything the library needs from the operating system, in the library's
 * terms (version 2, issue #11). The common code (the files directly in src/) never sees a
 * descriptor, a uid, a lock byte, a HANDLE or a pthread type, and includes no OS header; src/unix/
 * and src/win/ implement this file, and CMake picks the folder. All int results are 0 / a
 * non-negative answer, or a SHMRING_E* code (include/shmring.h). */
#ifndef SHMRING_PLATFORM_H
#define SHMRING_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "shmring.h"

/* ---- named segments ------------------------------------------------------------------------ */

/* Opaque: a POSIX fd + mapping + name, or a section HANDLE + view + mutex/event handles. */
struct shmring__plat_seg;

struct shmring__plat_attach {
    void *base;    /* the mapping */
    uint64_t size; /* its bytes (the object's size; never taken from the header) */
    int alone;     /* 1: no other live process is attached, the caller may (re)format */
    int created;   /* 1: this call created the name */
};

/* Opens the named segment (creating it when flags has SHMRING_CREATE; SHMRING_EXCL: only
 * create), maps it and returns holding the segment's init exclusion, which serialises opens and
 * closes of this name across processes, until _attach() or _abort().
 * name: already validated ([A-Za-z0-9._-]{1,200}, not "." or ".."). want_size: bytes when
 * creating (0 = create_size); when opening an existing one, 0 or its exact size
 * (SHMRING_EINVAL otherwise). create_size: the size to create with when want_size is 0
 * (0 = SHMRING_DEFAULT_SIZE; a multi-producer ring's default is larger). mode: permission bits
 * (POSIX: group/other read only with write; Windows: see src/win/). flags: SHMRING_CREATE, _EXCL,
 * _ANY_OWNER (others' segments too). Memory of a segment this call sized is reserved before this
 * returns (no SIGBUS later on a full tmpfs); an existing one is reserved by _seg_reserve(). Errors:
 * SHMRING_ENOENT, _EEXIST, _EACCES (other owner without SHMRING_ANY_OWNER, planted non-regular
 * object, symlink), _EINVAL (size), _EPROTO (size not a valid ring size), _ETIMEDOUT (init
 * exclusion held too long by another process), _EAGAIN (the name kept being replaced), _ENOSPC,
 * _ENOMEM, _EMFILE, _ENFILE. On error nothing is left behind: no handle, no mapping, no name we
 * created. */
int shmring__plat_seg_open(const char *name, uint64_t want_size, uint64_t create_size,
                           unsigned mode, unsigned flags, struct shmring__plat_seg **seg,
                           struct shmring__plat_attach *at);

/* Makes sure every page of the mapping has memory: call it before writing to a segment found
 * alone (its creator may have died before reserving it). SHMRING_ENOSPC / _ENOMEM. */
int shmring__plat_seg_reserve(struct shmring__plat_seg *seg);

/* Counts this process as attached ("someone alive uses it") and ends the init exclusion. */
int shmring__plat_seg_attach(struct shmring__plat_seg *seg);

/* An open that failed after _open(): unmaps, closes, removes the name if this call created it
 * and nobody else is attached, ends the init exclusion, frees seg. */
void shmring__plat_seg_abort(struct shmring__plat_seg *seg);

/* Detaches and frees seg. Returns 1 if this was the last attached user, else 0. When last and
 * remove_if_last, the name is removed (POSIX unlink; Windows: the kernel's handle count ends the
 * section anyway). Never blocks longer than the init timeout; on a timeout it still detaches
 * (the name then stays until a later opener finds nobody attached) and returns 0. */
int shmring__plat_seg_detach(struct shmring__plat_seg *seg, int remove_if_last);

/* Exit handlers: the same as _detach (the last-user answer, the name removal, every role and
 * attach mark of this process released), but the mapping stays, because other threads may
 * still be reading it, and seg is not freed; _forget() later unmaps and frees. */
int shmring__plat_seg_release_marks(struct shmring__plat_seg *seg, int remove_if_last);

/* In a forked child (or after _release_marks): drops this process's copy without touching
 * shared state or any mark the parent holds. Frees seg. */
void shmring__plat_seg_forget(struct shmring__plat_seg *seg);

/* 1 if a handle other than seg (in any process, ours included) is attached, 0 if not. An error
 * counts as 1. */
int shmring__plat_seg_others_attached(struct shmring__plat_seg *seg);

/* 1 if a name can stay with nobody attached (POSIX: the object lives until unlinked), 0 if an
 * object ends with its last handle (Windows): then shmring_create has nothing it could leave. */
extern const int shmring__plat_idle_names;

/* ---- roles: exclusive, kernel-tracked, freed at once when the holder dies ------------------ */

enum {
    SHMRING__ROLE_ID_PRODUCER = 0,
    SHMRING__ROLE_ID_CONSUMER = 1,
    SHMRING__ROLE_ID_LEGACY_SETTER = 2,
    SHMRING__ROLE_ID_SLOT0 = 16, /* multi-producer slot k is SLOT0 + k */
    SHMRING__ROLE_ID_MAX = 16 + 1024
};

/* 0, SHMRING_EBUSY (another handle, of any process, holds it), or an error. A handle holding a
 * role and taking it again gets 0. */
int shmring__plat_role_take(struct shmring__plat_seg *seg, int role);
/* As _take, waiting up to timeout_ns (< 0: forever): 0, SHMRING_ETIMEDOUT. */
int shmring__plat_role_take_wait(struct shmring__plat_seg *seg, int role, int64_t timeout_ns);
void shmring__plat_role_drop(struct shmring__plat_seg *seg, int role);
/* 1 if another live handle holds it (this handle's own hold does not count), 0 if free. An
 * error counts as 1: a false "dead" would make the peer report SHMRING_EPIPE and lose data. */
int shmring__plat_role_held(struct shmring__plat_seg *seg, int role);

/* ---- waiting on one side of a segment ------------------------------------------------------ */

enum { SHMRING__SIDE_CONSUMER = 0, SHMRING__SIDE_PRODUCER = 1 };

/* Sleeps while *word == expected, at most timeout_ns (< 0: forever). 0 when woken or the word
 * differs, SHMRING_ETIMEDOUT, SHMRING_EINTR. Linux: the kernel's wait on the shared word.
 * Windows: the segment's named semaphore for `side`, re-checking the word (WaitOnAddress is
 * process-local). */
int shmring__plat_wait(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word,
                       uint32_t expected, int64_t timeout_ns);
/* Wakes every waiter of `side`. */
void shmring__plat_wake(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word);

/* ---- inspection without attaching (the admin API, the tool) --------------------------------- */

struct shmring__plat_probe {
    uint64_t size;
    uint32_t owner;      /* POSIX: the owner's uid; Windows: 0 */
    uint32_t mode;       /* permission bits (0 where not applicable) */
    int owned_by_us;     /* POSIX: same euid; Windows: 1 */
    int in_use;          /* 1 if a live process is attached */
    unsigned roles;      /* bit (1 << role) for each role 0..2 a live handle holds */
    uint32_t slots_held; /* multi-producer slots (roles SLOT0 + k) live handles hold */
};
/* Facts about a name without attaching or changing anything; never blocks on planted
 * FIFOs/devices. When fn is not NULL and the size is a valid ring size, fn(ctx, base, size)
 * runs while the object is mapped read-only (never store through base), with *out already
 * filled in. */
int shmring__plat_probe(const char *name, struct shmring__plat_probe *out,
                        void (*fn)(void *ctx, const void *base, uint64_t size), void *ctx);
/* Calls fn for each name that may be a ring (POSIX: the entries of /dev/shm that are not
 * directories), in no order, until fn returns non-zero. Windows: SHMRING_ENOSYS. */
int shmring__plat_list(int (*fn)(void *ctx, const char *name), void *ctx);
/* Removes the name (SHMRING_ENOENT, _EACCES); Windows: SHMRING_ENOSYS. */
int shmring__plat_unlink(const char *name);
/* Removes the name if nobody is attached (stale), under the same exclusion as open/close: maps
 * it read-only and asks decide(ctx, base, size) (size a valid ring size), which returns 1 to
 * remove. 1 removed, 0 kept (in use, busy, replaced, invalid size, or decide said 0), or an
 * error (SHMRING_ENOENT counts as kept: 0). */
int shmring__plat_remove_stale(const char *name,
                               int (*decide)(void *ctx, const void *base, uint64_t size),
                               void *ctx);

/* ---- process-wide --------------------------------------------------------------------------- */

/* A mutex for in-process state; statically initialisable. The storage is opaque: big enough
 * and aligned for pthread_mutex_t / SRWLOCK. */
typedef struct {
    _Alignas(16) unsigned char opaque[64];
} shmring__plat_mutex;
#define SHMRING__PLAT_MUTEX_INIT                                                                   \
    {                                                                                              \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    } /* both backends accept all-zero as "unlocked" */
void shmring__plat_mutex_lock(shmring__plat_mutex *m);
void shmring__plat_mutex_unlock(shmring__plat_mutex *m);

/* Runs fn once per process (thread-safe; other callers wait until it has run). */
typedef struct {
    _Atomic int state;
} shmring__plat_once_t;
#define SHMRING__PLAT_ONCE_INIT                                                                    \
    {                                                                                              \
        0                                                                                          \
    }
void shmring__plat_once(shmring__plat_once_t *once, void (*fn)(void));

/* Exit hook (the C library's exit handlers / DLL_PROCESS_DETACH) and fork hooks (POSIX fork
 * handlers; no-op on Windows). */
int shmring__plat_at_exit(void (*fn)(void));
int shmring__plat_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* Disables thread cancellation around a call that holds locks (no-op where unsupported). */
int shmring__plat_cancel_off(void);
void shmring__plat_cancel_restore(int old);

/* ---- time, scheduling, identity, barriers ---------------------------------------------------- */
int64_t shmring__plat_now_ns(void);    /* monotonic */
int64_t shmring__plat_coarse_ns(void); /* monotonic, cheaper, good to a few ms */
/* now + timeout_ns, saturated; timeout_ns < 0 means INT64_MAX (forever). */
int64_t shmring__plat_deadline(int64_t timeout_ns);
void shmring__plat_sleep_ns(int64_t ns); /* <= 0: yield */
void shmring__plat_cpu_relax(void);
/* Lets another runnable thread of this CPU run (returns at once when there is none). */
void shmring__plat_yield(void);
int32_t shmring__plat_pid(void);
uint64_t shmring__plat_page_size(void);

/* The asymmetric barrier pair that keeps the publish path free of fences: a side about to sleep
 * stores its "waiting" flag and calls heavy_barrier() before re-checking the ring; a side that
 * publishes calls light_barrier() between its index store and its load of the peer's flag. On
 * Linux heavy is membarrier(GLOBAL_EXPEDITED), which forces a full barrier on every CPU running a
 * registered process, so light is only a compiler barrier. Elsewhere both are seq_cst fences. */
void shmring__plat_barrier_init(void);
void shmring__plat_heavy_barrier(void);
extern int shmring__plat_light_is_fence;
/* B0: the light barrier that B1 names; pairs with H0. */
static inline void shmring__plat_light_barrier(void)
{
    if (shmring__plat_light_is_fence) {
        atomic_thread_fence(memory_order_seq_cst);
    } else {
        atomic_signal_fence(memory_order_seq_cst);
    }
}

#endif /* SHMRING_PLATFORM_H */
