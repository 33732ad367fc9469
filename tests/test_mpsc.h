/* SPDX-License-Identifier: MIT */
/* Helpers of the multi-producer tests (test_mpsc, test_mpsc_kill): numbered, checksummed
 * messages of random sizes, one stream per producer id, and the consumer's per-producer check.
 * Used in forked children, so nothing here uses CMocka (TL_CHECK reports and returns 1). */
#ifndef TEST_MPSC_H
#define TEST_MPSC_H

#include <sched.h>

#include "test_lifeutil.h"

#define TM_MAX_IDS 512
#define TM_MAX_LEN 200 /* payload bytes: 8 .. TM_MAX_LEN */

/* Message n of producer id: t_msg_fill with seq = (id + 1) << 40 | n, so its first 8 bytes say
 * whose it is. */
static inline uint64_t tm_seq(unsigned id, uint64_t n)
{
    return (uint64_t)(id + 1) << 40 | n;
}

/* The length of message n of producer id, the same on both sides without a shared PRNG. */
static inline size_t tm_len(unsigned id, uint64_t n)
{
    uint64_t s = tm_seq(id, n) * 0x9e3779b97f4a7c15ULL;
    s ^= s >> 29;
    return 8 + (size_t)(s % (TM_MAX_LEN - 7));
}

/* Shared between the test and its children. committed[id]: messages of id known committed
 * (stored after the call that sent them returned). */
struct tm_shared {
    _Atomic uint64_t committed[TM_MAX_IDS];
    _Atomic uint32_t stop;
    _Atomic uint32_t ready[TM_MAX_IDS];
};

/* Sends messages 0..count-1 of producer id (count 0: until sh->stop), by a method picked by
 * id: send_wait, send_batch, reserve_wait + commit (slowly, to widen the claim window), or a
 * spinning send. Returns 0 or 1 (a failed check). */
static inline int tm_produce(shmring *r, unsigned id, uint64_t count, struct tm_shared *sh,
                             int slow_commit)
{
    unsigned char buf[16][TM_MAX_LEN];
    struct shmring_buf iov[16];
    uint64_t n = 0;
    unsigned method = id % 4;
    uint64_t rng = id * 7919 + 1;
    while (count == 0 ? atomic_load_explicit(&sh->stop, memory_order_relaxed) == 0 : n < count) {
        if (method == 1) {
            size_t k = 1 + (size_t)(t_rand(&rng) % 16);
            if (count != 0 && n + k > count) {
                k = (size_t)(count - n);
            }
            for (size_t i = 0; i < k; i++) {
                size_t len = tm_len(id, n + i);
                t_msg_fill(buf[i], len, tm_seq(id, n + i));
                iov[i] = (struct shmring_buf){buf[i], len};
            }
            int sent = shmring_send_batch(r, iov, k);
            TL_CHECK(sent >= 0);
            if (sent == 0) {
                sched_yield();
                continue;
            }
            n += (uint64_t)sent;
        } else {
            size_t len = tm_len(id, n);
            int err;
            if (method == 2) {
                void *slot = NULL;
                err = shmring_reserve_wait(r, len, &slot, 10 * 1000000000LL);
                if (err == 0) {
                    t_msg_fill(slot, len, tm_seq(id, n));
                    if (slow_commit) {
                        tl_spin_ns(20000); /* a wide claim window for the kill test */
                    }
                    err = shmring_commit(r, len);
                }
            } else {
                t_msg_fill(buf[0], len, tm_seq(id, n));
                if (method == 0) {
                    err = shmring_send_wait(r, buf[0], len, 10 * 1000000000LL);
                } else {
                    while ((err = shmring_send(r, buf[0], len)) == -EAGAIN) {
                        sched_yield();
                    }
                }
            }
            TL_CHECK_RC(err, 0);
            n++;
        }
        atomic_store_explicit(&sh->committed[id], n, memory_order_relaxed);
    }
    return 0;
}

/* A producer process (t_spawn): opens n as SHMRING_PRODUCER, sets ready[id], sends with
 * tm_produce (count 0: until sh->stop) and closes. */
struct tm_prod_args {
    struct tl_name n;
    unsigned id;
    uint64_t count;
    struct tm_shared *sh;
    int slow_commit;
};

static inline int tm_producer_main(void *p)
{
    struct tm_prod_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    TL_CHECK(shmring_role(r) == SHMRING_PRODUCER);
    atomic_store_explicit(&a->sh->ready[a->id], 1, memory_order_release);
    int rc = tm_produce(r, a->id, a->count, a->sh, a->slow_commit);
    shmring_close(r);
    return rc;
}

/* The consumer's view of every producer's stream. */
struct tm_check {
    uint64_t next[TM_MAX_IDS]; /* next message number expected from each id */
    uint64_t total;
};

/* Checks one received message: a known producer, its next number, its exact length and bytes. */
static inline int tm_check(struct tm_check *c, const void *msg, size_t len)
{
    TL_CHECK(len >= 8);
    uint64_t seq;
    memcpy(&seq, msg, 8);
    unsigned id = (unsigned)(seq >> 40) - 1;
    uint64_t n = seq & ((1ULL << 40) - 1);
    TL_CHECK(id < TM_MAX_IDS);
    if (n != c->next[id] || len != tm_len(id, n) || !t_msg_check(msg, len, seq)) {
        fprintf(stderr, "producer %u: got message %llu (len %zu), want %llu (len %zu)\n", id,
                (unsigned long long)n, len, (unsigned long long)c->next[id], tm_len(id, n));
        return 1;
    }
    c->next[id]++;
    c->total++;
    return 0;
}

#endif
