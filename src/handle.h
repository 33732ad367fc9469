/* SPDX-License-Identifier: MIT */
/* The per-process handle, shared by the public API (shmring.c), the blocking calls (wait.c)
 * and the classic set/get calls (compat.c). */
#ifndef SHMRING_HANDLE_H
#define SHMRING_HANDLE_H

#include "ring.h"
#include "ring_mp.h"
#include "segment.h"

#define SHMRING__HANDLE_MAGIC 0x52494e47u /* catches use after close */
#define SHMRING__ROLE_LEGACY  16          /* internal: the SetSharedMem/GetSharedMem handle */
/* Internal roles of a multi-producer ring's producer and consumer (shmring_role() reports
 * SHMRING_PRODUCER/CONSUMER). Being other values, they fail the single-producer calls' role
 * check, whose cold branch dispatches to shmring_mp.c: the SPSC path pays nothing for them. */
#define SHMRING__ROLE_MPROD 17
#define SHMRING__ROLE_MCONS 18

/* A multi-producer consumer stuck on an uncommitted record asks whether its writer lives this
 * often (a few system calls each time); blocking waits sleep no longer than this then. */
#define SHMRING__MP_STALL_NS (10 * 1000000LL)

/* A liveness probe of the peer costs a system call; on the non-blocking empty/full path it runs
 * at most this often. Blocking waits probe on every sleep slice instead. */
#define SHMRING__LIVENESS_PERIOD_NS (10 * 1000000LL)

struct shmring {
    /* Hot: the side's ring view comes first. Only the one for `role` is used. */
    union {
        struct shmring__prod prod;
        struct shmring__cons cons;
        struct shmring__mprod mprod;
        struct shmring__mcons mcons;
    } side;
    struct shmring__hdr *hdr;
    int role; /* SHMRING_PRODUCER/CONSUMER/OBSERVER, SHMRING__ROLE_LEGACY, 0 after fork */
    uint32_t magic;
    int64_t next_liveness_ns;
    int peer_dead;   /* this side saw its peer die: SHMRING_EPIPE until a new peer holds the role */
    uint64_t sleeps; /* this side's sleeps, mirrored to the header */
    uint32_t mp_slots;   /* producer slots of a multi-producer ring, 0 for a single-producer one */
    uint32_t mp_queries; /* slot liveness queries of the current consumer call (its budget) */
    /* Consumer read-ahead (shmring_peek_next): the next record to look at and how many messages
     * lie unreleased before it. While n > 0, side.cons.broken is SHMRING_EINVAL so that the
     * one-message calls are refused without a test on their path. */
    struct {
        uint64_t head, ridx, tail, n;
    } ahead;
    struct shmring__seg seg;
    struct shmring *next; /* the process-wide list used at exit and fork */
};

/* Opens a handle (the body of shmring_open; compat.c uses it with SHMRING__ROLE_LEGACY). */
int shmring__open(const char *name, int role, const struct shmring_opts *opts, uint32_t hdr_flags,
                  shmring **out);

/* compat.c: a lock the exit handler takes before it detaches the set/get handle, so that no
 * SetSharedMem is half-way through when its descriptor goes. Taken before the list lock. */
void shmring__set_exit_lock(void (*lock)(void), void (*unlock)(void));

/* compat.c: the set/get lock, taken by the core's fork handlers before the list lock. */
void shmring__compat_lock(void);
void shmring__compat_unlock(void);

/* The once-per-process setup (fork and exit handlers, barriers); compat.c runs it before it
 * first takes its lock, so that a fork from another thread meanwhile already takes that lock. */
void shmring__process_init(void);

/* 1 when the peer of this side has closed or died (a producer that never attached is not
 * gone). force = 0 rate-limits the probe to SHMRING__LIVENESS_PERIOD_NS. */
int shmring__peer_gone(shmring *r, int force);

/* Multi-producer rings (shmring_mp.c): attach/detach of the internal roles, the peer probe, and
 * the data calls the public ones dispatch to. */
int shmring__mp_role_attach(shmring *r);
/* The consumer's common attach steps once it holds the role and its ring view: sleep count,
 * wait flag, pid, then consumer_state = ATTACHED (both kinds of ring). */
void shmring__consumer_attached(shmring *r);
void shmring__mp_role_detach(shmring *r);
int shmring__mp_peer_gone(shmring *r, int force);
int shmring__mp_send(shmring *r, const void *msg, size_t len);
int shmring__mp_reserve(shmring *r, size_t len, void **slot);
int shmring__mp_commit(shmring *r, size_t len);
int shmring__mp_abort(shmring *r);
int shmring__mp_send_batch(shmring *r, const struct shmring_buf *msgs, size_t n);
shmring_ssize shmring__mp_recv(shmring *r, void *buf, size_t cap);
shmring_ssize shmring__mp_peek(shmring *r, const void **msg);
int shmring__mp_release(shmring *r);
int shmring__mp_drain(shmring *r, shmring_handler fn, void *ctx, size_t max);
void shmring__mp_stats(shmring *r, struct shmring_stats *out);

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
