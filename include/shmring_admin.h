/* SPDX-License-Identifier: MIT */
/* shmring_admin: inspecting and managing rings from outside, for tools such as the `shmring`
 * command. Nothing here is needed to pass messages; every call may make system calls.
 *
 * Looking must not change what is looked at: attaching to a ring (even as an observer) whose
 * users all died starts it afresh, and the last detach of a non-persistent ring removes its
 * name. So shmring_list and shmring_inspect never attach: they map the object read-only, check
 * its header without trusting it, and ask the kernel's locks who is alive. They take no role and
 * do not count as a user.
 *
 * Errors are the SHMRING_E* codes of shmring.h. */
#ifndef SHMRING_ADMIN_H
#define SHMRING_ADMIN_H

#include "shmring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A role's holder as the header records it and the kernel's lock confirms. */
struct shmring_peer {
    int32_t pid;    /* as recorded; 0 = none recorded */
    uint32_t alive; /* 1 if a live process holds the role */
    uint32_t state; /* SHMRING_PEER_NEVER, _ATTACHED or _CLOSED */
};
enum { SHMRING_PEER_NEVER = 0, SHMRING_PEER_ATTACHED = 1, SHMRING_PEER_CLOSED = 2 };

/* Everything shmring_inspect learns about a name. */
struct shmring_info {
    uint64_t size; /* bytes of the object */
    uint32_t uid;  /* its owner */
    uint32_t mode; /* its permission bits */
    /* 0: a valid shmring mapping of this layout version; SHMRING_EPROTO: not one (another
     * program's object, another layout version, corrupt); SHMRING_EAGAIN: its creator has not
     * finished (or died while creating it). The fields below are 0 unless check is 0. */
    int32_t check;
    uint32_t in_use; /* 1 if some live process has it attached (valid whatever check says) */
    /* stats as shmring_stats() reports them (kind, flags, counters, positions; producer_pid and
     * consumer_pid only of live holders), read without attaching. */
    struct shmring_stats stats;
    struct shmring_peer producer, consumer;
    int64_t messages;     /* messages waiting; -1 when they cannot be counted cheaply */
    uint64_t value_bytes; /* SHMRING_KIND_LEGACY: bytes of the current value */
    uint64_t reserved[8]; /* 0 */
};

/* Reads everything about `name` without attaching or changing anything. A mapping that is not a
 * shmring ring is not an error here: info->check says so. Errors: SHMRING_EINVAL bad name or
 * NULL info; SHMRING_ENOENT; SHMRING_EACCES (may not read it, or a symlink); others from the
 * system. */
SHMRING_API int shmring_inspect(const char *name, struct shmring_info *info);

/* Called by shmring_list for each name, in sorted order. err is 0 and info filled, or the
 * error shmring_inspect gave for that name (info is then NULL). A non-zero return stops. */
typedef int (*shmring_list_fn)(void *ctx, const char *name, const struct shmring_info *info,
                               int err);

/* Every object of the shared-memory directory (/dev/shm on Linux) whose name is a valid ring
 * name, inspected as by shmring_inspect; objects that vanish meanwhile are left out. Returns how
 * many were passed to fn, or SHMRING_ENOSYS (no such directory on this system), SHMRING_ENOMEM,
 * SHMRING_EACCES, SHMRING_EINVAL (fn NULL). */
SHMRING_API int shmring_list(shmring_list_fn fn, void *ctx);

/* Outcomes of shmring_remove_stale (>= 0). */
enum {
    SHMRING_STALE_KEPT = 0,      /* in use, not a shmring ring, gone, or busy opening/closing */
    SHMRING_STALE_REMOVED = 1,   /* removed (with SHMRING_STALE_DRY_RUN: would be) */
    SHMRING_STALE_PERSISTENT = 2 /* idle but persistent: kept (see SHMRING_STALE_PERSIST) */
};
enum {
    SHMRING_STALE_PERSIST = 1, /* also remove an idle persistent ring */
    SHMRING_STALE_DRY_RUN = 2  /* decide, remove nothing */
};

/* Removes `name` if it is a valid ring that no live process has attached (all its users exited
 * or were killed, or nobody opened it since shmring_create). The decision and the removal run
 * under the lock every open and close takes first, so nobody attaches in between, and an opener
 * already waiting for it starts a new ring. Returns a SHMRING_STALE_* outcome, or SHMRING_EINVAL
 * (bad name or flags), SHMRING_EACCES (may not lock or remove it), other system errors. */
SHMRING_API int shmring_remove_stale(const char *name, unsigned flags);

/* Creates the ring `name` without attaching to it: flags SHMRING_CREATE | SHMRING_EXCL are
 * implied; opts may add SHMRING_PERSIST and set size and mode (NULL: defaults). A
 * non-persistent ring so created stays, unused, until the first process opens it; from then on
 * it lives while some process has it open. Errors as shmring_open (SHMRING_EEXIST when the
 * name exists); SHMRING_ENOSYS for a non-persistent ring where a name ends with its last user
 * (Windows: no ring can stay unused there). */
SHMRING_API int shmring_create(const char *name, const struct shmring_opts *opts);

/* 1 if a handle other than r has r's ring attached (in any process), 0 if r is alone (its
 * close would remove a non-persistent ring), SHMRING_EINVAL for a bad handle. */
SHMRING_API int shmring_others_attached(shmring *r);

/* 0 if name is a valid ring name (1-200 characters of A-Z a-z 0-9 . _ -, not "." or ".."),
 * else SHMRING_EINVAL. */
SHMRING_API int shmring_check_name(const char *name);

/* The smallest mapping size (opts.size) whose largest message (shmring_max_msg) is at least
 * max_msg bytes: a multiple of the page size, at least SHMRING_DEFAULT_SIZE. 0 when no mapping
 * up to SHMRING_MAX_SIZE fits it. */
SHMRING_API uint64_t shmring_size_for_msg(uint64_t max_msg);

/* The system's page size: every mapping size is a multiple of it. */
SHMRING_API uint64_t shmring_page_size(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMRING_ADMIN_H */
