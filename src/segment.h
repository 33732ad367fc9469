/* SPDX-License-Identifier: MIT */
/* A named mapping's lifecycle in the library's terms: create-or-attach through the platform
 * layer, the first attacher's (re)initialisation policy, validation, roles and liveness of
 * peers. Everything OS-shaped is behind src/platform.h. */
#ifndef SHMRING_SEGMENT_H
#define SHMRING_SEGMENT_H

#include <stdint.h>

#include "layout.h"
#include "platform.h"

struct shmring__seg {
    struct shmring__plat_seg *plat; /* NULL when closed or never opened */
    struct shmring__hdr *hdr;       /* the mapping, NULL once dropped */
    uint64_t size;                  /* bytes mapped (the object's size, not the header's) */
    uint64_t generation;            /* of the header when we attached */
    char name[SHMRING_NAME_MAX + 1];
};

/* 0 if name is a valid ring name ([A-Za-z0-9._-]{1,200}, not "." or ".."), else SHMRING_EINVAL. */
int shmring__seg_check_name(const char *name);

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

/* Drops the mapping without touching shared state (a forked child, or after close_at_exit). */
void shmring__seg_forget(struct shmring__seg *s);

/* Roles (SHMRING__ROLE_ID_*): 0 or SHMRING_EBUSY. */
int shmring__seg_take_role(struct shmring__seg *s, int role);
void shmring__seg_drop_role(struct shmring__seg *s, int role);
/* 1 if a handle other than ours holds the role, 0 if nobody does (an error counts as held). */
int shmring__seg_role_held(struct shmring__seg *s, int role);
/* 1 if a handle other than ours has the segment attached, 0 if not. */
int shmring__seg_others_attached(struct shmring__seg *s);

/* Facts about a name without attaching (for tools): changes nothing. Its size and owner,
 * whether any live process has it attached or holds each role, and whether its header checks
 * out (0, SHMRING_EPROTO, SHMRING_EAGAIN). When it does and fn is not NULL, fn(ctx, hdr, size)
 * runs while the header is mapped (read-only: never store). */
struct shmring__seg_probe {
    uint64_t size;
    uint32_t owner, mode;
    int in_use;
    int check;
    uint32_t flags;
    int producer_alive, consumer_alive;
    uint32_t producers_alive; /* a multi-producer ring's producer slots held by live handles */
};
int shmring__seg_probe(const char *name, struct shmring__seg_probe *out,
                       void (*fn)(void *ctx, struct shmring__hdr *hdr, uint64_t size), void *ctx);

/* Removes the name if it is a valid ring that nobody has attached, deciding under the same
 * exclusion as every open and close (see shmring_remove_stale). keep_persistent: an idle
 * persistent ring is kept (returns 2); dry_run: decides only. 1 removed (or would be), 0 kept,
 * or a negative code. */
int shmring__seg_remove_stale(const char *name, int keep_persistent, int dry_run);

#endif /* SHMRING_SEGMENT_H */
