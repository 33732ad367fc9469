/* SPDX-License-Identifier: MIT */
/* A named mapping's lifecycle: create-or-attach, first-attacher initialisation, validation,
 * roles, liveness of peers and removal of the name by the last process. */
#ifndef SHMRING_SEGMENT_H
#define SHMRING_SEGMENT_H

#include <stdint.h>

#include "layout.h"
#include "platform.h"

struct shmring__seg {
    struct shmring__plat_seg map;
    struct shmring__hdr *hdr;
    uint64_t generation;             /* of the header when we attached */
    char path[SHMRING_NAME_MAX + 2]; /* "/<name>" */
};

/* Bounds the wait for another process's open or close (they hold the init lock briefly). */
#define SHMRING__INIT_TIMEOUT_NS (5 * 1000000000ll)

/* "/<name>" into path, or SHMRING_EINVAL for an invalid name. */
int shmring__seg_path(const char *name, char path[SHMRING_NAME_MAX + 2]);

/* Opens or creates the named mapping and attaches to it (see shmring_open for the rules).
 * size: 0 = the default when creating, anything else must equal the existing size.
 * hdr_flags: SHMRING__F_LEGACY for the set/get mapping, 0 for a queue. */
int shmring__seg_open(struct shmring__seg *s, const char *name, uint64_t size, unsigned mode,
                      unsigned flags, uint32_t hdr_flags);

/* Detaches; removes the name when this was the last attached handle and it is not persistent. */
void shmring__seg_close(struct shmring__seg *s);

/* The same at exit, but the mapping stays until the process ends (or seg_forget): another
 * thread may still be reading it, and unmapping would turn that read into a SIGSEGV. */
void shmring__seg_close_at_exit(struct shmring__seg *s);

/* Drops the mapping and descriptor without touching shared state (a forked child). */
void shmring__seg_forget(struct shmring__seg *s);

/* Role locks (SHMRING__LOCK_PRODUCER/CONSUMER): 0 or SHMRING_EBUSY. */
int shmring__seg_take_role(struct shmring__seg *s, int lock_byte);
void shmring__seg_drop_role(struct shmring__seg *s, int lock_byte);
/* 1 if a handle other than ours holds the role, 0 if nobody does. */
int shmring__seg_role_held(struct shmring__seg *s, int lock_byte);

/* Facts about a name without attaching (for tools): opens and maps it read-only, so it changes
 * nothing. Its size and owner, whether any live process has it attached or holds each role,
 * and whether its header checks out (0, SHMRING_EPROTO, SHMRING_EAGAIN). When it does and fn
 * is not NULL, fn(ctx, hdr, size) runs while the header is mapped (read-only: never store). */
struct shmring__seg_probe {
    struct shmring__plat_stat st;
    int in_use;
    int check;
    uint32_t flags;
    int producer_alive, consumer_alive;
};
int shmring__seg_probe(const char *name, struct shmring__seg_probe *out,
                       void (*fn)(void *ctx, struct shmring__hdr *hdr, uint64_t size), void *ctx);

/* Removes the name if it is a valid ring that nobody has attached, deciding under INIT like
 * every open and close (see shmring_remove_stale). keep_persistent: an idle persistent ring is
 * kept (returns 2); dry_run: decides only. 1 removed (or would be), 0 kept, or a negative code. */
int shmring__seg_remove_stale(const char *name, int keep_persistent, int dry_run);

#endif /* SHMRING_SEGMENT_H */
