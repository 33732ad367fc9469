/* SPDX-License-Identifier: MIT */
/* The per-process handle, shared by the public API (shmring.c), the blocking calls (wait.c)
 * and the classic set/get calls (compat.c). */
#ifndef SHMRING_HANDLE_H
#define SHMRING_HANDLE_H

#include "ring.h"
#include "segment.h"

#define SHMRING__HANDLE_MAGIC 0x52494e47u /* catches use after close */
#define SHMRING__ROLE_LEGACY  16          /* internal: the SetSharedMem/GetSharedMem handle */

/* A liveness probe of the peer costs a system call; on the non-blocking empty/full path it runs
 * at most this often. Blocking waits probe on every sleep slice instead. */
#define SHMRING__LIVENESS_PERIOD_NS (10 * 1000000ll)

struct shmring {
    /* Hot: the side's ring view comes first. Only the one for `role` is used. */
    union {
        struct shmring__prod prod;
        struct shmring__cons cons;
    } side;
    struct shmring__hdr *hdr;
    int role; /* SHMRING_PRODUCER/CONSUMER/OBSERVER, SHMRING__ROLE_LEGACY, 0 after fork */
    uint32_t magic;
    int64_t next_liveness_ns;
    int peer_dead;   /* this side saw its peer die: SHMRING_EPIPE until a new peer holds the role */
    uint64_t sleeps; /* this side's sleeps, mirrored to the header */
    struct shmring__seg seg;
    struct shmring *next; /* the process-wide list used at exit and fork */
};

/* Opens a handle (the body of shmring_open; compat.c uses it with SHMRING__ROLE_LEGACY). */
int shmring__open(const char *name, int role, const struct shmring_opts *opts, uint32_t hdr_flags,
                  shmring **out);

/* compat.c: a lock the exit handler takes before it detaches the set/get handle, so that no
 * SetSharedMem is half-way through when its descriptor goes. Taken before the list lock. */
void shmring__set_exit_lock(void (*lock)(void), void (*unlock)(void));

/* 1 when the peer of this side has closed or died (a producer that never attached is not
 * gone). force = 0 rate-limits the probe to SHMRING__LIVENESS_PERIOD_NS. */
int shmring__peer_gone(shmring *r, int force);

/* Wake the peer if it said it sleeps: called after each publish. The light barrier orders the
 * index store before the flag load; it pairs with the heavy barrier in wait.c. */
static inline void shmring__wake_peer(shmring *r, _Atomic uint32_t *peer_waiting);
void shmring__wake_slow(shmring *r, _Atomic uint32_t *peer_waiting);

static inline void shmring__wake_peer(shmring *r, _Atomic uint32_t *peer_waiting)
{
    /* B1: orders the publish (R1/R2) before the W4 load; pairs with H1 in wait.c. */
    shmring__plat_light_barrier();
    /* W4 (relaxed): the flag is only a hint to make the system call; the kernel wait re-checks it.
     */
    if (atomic_load_explicit(peer_waiting, memory_order_relaxed) != 0) {
        shmring__wake_slow(r, peer_waiting);
    }
}

#endif /* SHMRING_HANDLE_H */
