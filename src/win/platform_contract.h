/* SPDX-License-Identifier: MIT */
/* A copy of the platform contract (/work/PLATFORM-V2.h, src/platform.h once issue #11 phase 2
 * lands): src/win/ is written and tested against it until then; at the merge its includes switch
 * to "platform.h" and this file goes away. Identical to the contract but for "src/<file>.c" in
 * the first comment, whose "src/" "*.c" opened a comment in a comment (gcc -Wcomment). */
/* src/platform.h (version 2, the contract for issue #11 phase 2 and the Windows port).
 * Everything the library needs from the operating system, in the library's terms. The common
 * code (src/<file>.c) never sees a descriptor, a uid, a lock byte, a HANDLE or a pthread type, and
 * includes no OS header; src/unix/ and src/win/ implement this file, CMake picks the folder.
 * All int results are 0 / a non-negative answer, or a SHMRING_E* code (include/shmring.h). */
#ifndef SHMRING_PLATFORM_H
#define SHMRING_PLATFORM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "shmring.h"

/* ---- named segments ------------------------------------------------------------------------ */

/* Opaque: a POSIX fd + mapping + path, or a section HANDLE + view + mutex/event handles. */
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
 * creating (0 = SHMRING_DEFAULT_SIZE); when opening an existing one, 0 or its exact size
 * (SHMRING_EINVAL otherwise). mode: permission bits (POSIX; Windows: 0600 -> the creating user
 * only, group/other bits -> documented mapping or SHMRING_ENOTSUP). Memory of a created
 * segment is reserved before this returns (no SIGBUS later on a full tmpfs).
 * Errors: SHMRING_ENOENT, _EEXIST, _EACCES (other owner without SHMRING_ANY_OWNER, planted
 * non-regular object, symlink), _EINVAL (size), _EPROTO (size not a valid ring size),
 * _ETIMEDOUT (init exclusion held too long by another process), _ENOSPC, _ENOMEM, _EMFILE,
 * _ENFILE. On error nothing is left behind: no handle, no mapping, no name we created. */
int shmring__plat_seg_open(const char *name, uint64_t want_size, unsigned mode, unsigned flags,
                           struct shmring__plat_seg **seg, struct shmring__plat_attach *at);

/* Makes sure every page of the mapping has memory (called before (re)formatting an existing
 * segment that may have been left unreserved). SHMRING_ENOSPC / _ENOMEM. */
int shmring__plat_seg_reserve(struct shmring__plat_seg *seg);

/* Counts this process as attached ("someone alive uses it") and ends the init exclusion. */
int shmring__plat_seg_attach(struct shmring__plat_seg *seg);

/* An open that failed after _open(): unmaps, closes, removes the name if this call created it
 * and nobody else is attached, ends the init exclusion, frees seg. */
void shmring__plat_seg_abort(struct shmring__plat_seg *seg);

/* Detaches and frees seg. Returns 1 if this was the last attached user, else 0. When last and
 * remove_if_last, the name is removed (POSIX unlink; Windows: the kernel's handle count ends the
 * section anyway, so persistence is SHMRING_ENOTSUP at open there). Never blocks longer than the
 * init timeout; on a timeout it still detaches (the name then stays until a later opener finds
 * nobody attached). */
int shmring__plat_seg_detach(struct shmring__plat_seg *seg, int remove_if_last);

/* In a forked child (or after exit handling): drops this process's copy without touching
 * shared state or any lock the parent holds. Frees seg. */
void shmring__plat_seg_forget(struct shmring__plat_seg *seg);

/* Releases every role/attach mark this process holds on seg WITHOUT unmapping (exit handlers:
 * other threads may still be reading the mapping). */
void shmring__plat_seg_release_marks(struct shmring__plat_seg *seg);

/* ---- roles: exclusive, kernel-tracked, freed at once when the holder dies ------------------ */

enum {
    SHMRING__ROLE_ID_PRODUCER = 0,
    SHMRING__ROLE_ID_CONSUMER = 1,
    SHMRING__ROLE_ID_LEGACY_SETTER = 2,
    SHMRING__ROLE_ID_SLOT0 = 16, /* multi-producer slot k is SLOT0 + k */
    SHMRING__ROLE_ID_MAX = 16 + 1024
};

int shmring__plat_role_take(struct shmring__plat_seg *seg, int role); /* 0, SHMRING_EBUSY */
int shmring__plat_role_take_wait(struct shmring__plat_seg *seg, int role, int64_t timeout_ns);
void shmring__plat_role_drop(struct shmring__plat_seg *seg, int role);
/* 1 if another live process (or another handle of ours) holds it, 0 if free. An error counts
 * as 1: a false "dead" would make the peer report SHMRING_EPIPE and lose data. */
int shmring__plat_role_held(struct shmring__plat_seg *seg, int role);

/* ---- waiting on one side of a segment ------------------------------------------------------ */

enum { SHMRING__SIDE_CONSUMER = 0, SHMRING__SIDE_PRODUCER = 1 };

/* Sleeps while *word == expected, at most timeout_ns (< 0: forever). 0 when woken or the word
 * differs, SHMRING_ETIMEDOUT, SHMRING_EINTR. Linux: futex on the shared word. Windows: the
 * segment's named event for `side`, re-checking the word (WaitOnAddress is process-local). */
int shmring__plat_wait(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word,
                       uint32_t expected, int64_t timeout_ns);
/* Wakes every waiter of `side`. */
void shmring__plat_wake(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word);

/* ---- inspection without attaching (the admin API, the tool) --------------------------------- */

struct shmring__plat_probe {
    uint64_t size;
    int owned_by_us; /* POSIX: same euid; Windows: 1 */
    uint32_t mode;   /* permission bits (0 where not applicable) */
    int in_use;      /* 1 if a live process is attached */
};
/* Facts about a name, and a copy of up to cap bytes of its start (the header) in *hdr_copy.
 * Never blocks on planted FIFOs/devices, never attaches, never changes anything. */
int shmring__plat_probe(const char *name, struct shmring__plat_probe *out, void *hdr_copy,
                        size_t cap);
/* Calls fn for each name that may be a ring (POSIX: regular files of /dev/shm). Windows:
 * SHMRING_ENOSYS (sections cannot be enumerated). fn returns non-zero to stop. */
int shmring__plat_list(int (*fn)(void *ctx, const char *name), void *ctx);
/* Removes the name (SHMRING_ENOENT, _EACCES); Windows: SHMRING_ENOSYS. */
int shmring__plat_unlink(const char *name);
/* Removes the name if nobody is attached (stale), with the same exclusion as open/close:
 * 1 removed, 0 in use, or an error. */
int shmring__plat_remove_stale(const char *name);

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

/* Runs fn once per process (thread-safe). */
typedef struct {
    _Atomic int state;
} shmring__plat_once_t;
#define SHMRING__PLAT_ONCE_INIT                                                                    \
    {                                                                                              \
        0                                                                                          \
    }
void shmring__plat_once(shmring__plat_once_t *once, void (*fn)(void));

/* Exit hook (atexit / DLL_PROCESS_DETACH) and fork hooks (pthread_atfork; no-op on Windows). */
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
void shmring__plat_sleep_ns(int64_t ns);
void shmring__plat_cpu_relax(void);
void shmring__plat_yield(void);
int32_t shmring__plat_pid(void);
uint64_t shmring__plat_page_size(void);

/* The asymmetric barrier pair (see wait.c): heavy before a sleeper re-checks, light between a
 * publisher's index store and its flag load. Linux: membarrier; elsewhere both are fences. */
void shmring__plat_barrier_init(void);
void shmring__plat_heavy_barrier(void);
extern int shmring__plat_light_is_fence;
static inline void shmring__plat_light_barrier(void)
{
    if (shmring__plat_light_is_fence) {
        atomic_thread_fence(memory_order_seq_cst);
    } else {
        atomic_signal_fence(memory_order_seq_cst);
    }
}

#endif /* SHMRING_PLATFORM_H */
