/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests (t_* names). */
#ifndef SHMRING_TESTUTIL_H
#define SHMRING_TESTUTIL_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "shmring.h"

/* A ring name unique to this test run: "<prefix>-<pid>-<tag>", prefix from SHMRING_TEST_PREFIX
 * (set per test by CTest) so parallel tests never share a name. Returns a static buffer slot
 * (8 rotating slots). */
const char *t_name(const char *tag);

/* 64-bit FNV-1a. */
uint64_t t_hash(const void *p, size_t n);

/* xorshift64* PRNG. */
uint64_t t_rand(uint64_t *state);

/* Fills msg[0..len) with a self-checking message for sequence number seq (len >= 0): the first
 * 8 bytes hold seq, the next 8 a hash over the rest (when len >= 16); shorter messages hold a
 * prefix of the sequence number. t_msg_check returns 1 when msg matches seq and len. */
void t_msg_fill(void *msg, size_t len, uint64_t seq);
int t_msg_check(const void *msg, size_t len, uint64_t seq);

/* Forks; the child runs fn(arg) and _exits with its return value. Returns the pid. */
pid_t t_spawn(int (*fn)(void *), void *arg);
/* Waits for pid; returns its exit status, or 128 + signal if it was killed. */
int t_wait(pid_t pid);

/* 1 if /dev/shm/<name> exists. */
int t_shm_exists(const char *name);

/* Milliseconds on the monotonic clock. */
int64_t t_now_ms(void);

/* ---- streams of t_msg_fill messages whose lengths both sides draw from one PRNG ------------ */

/* One round of waiting in a spinning loop: relaxes the CPU at first, then sleeps 20 us a round.
 * 0 once the wait has lasted stuck_ms. Set n = 0 after progress. */
struct t_spin {
    unsigned n;
    int64_t since_ms;
    int64_t stuck_ms;
};
int t_spin_once(struct t_spin *s);

/* Sends messages seq..seq+n-1 in one shmring_send_batch, lengths from draw_len(rng, max), bytes
 * in buf (room for n messages, each rounded up to 8 bytes). Returns its result; *rng is left past
 * the lengths of the messages that went, so that the receiver stays in step. */
int t_send_batch(shmring *r, uint64_t seq, size_t n, size_t (*draw_len)(uint64_t *, size_t),
                 uint64_t *rng, struct shmring_buf *iov, void *buf);

/* The receiving side: message seq must have the length draw_len(&rng, max) gives next and pass
 * t_msg_check. The calls below return 0, or 1 with bad and why set (a wrong message, a failed
 * call, or nothing for the spin's stuck_ms). */
struct t_check {
    size_t (*draw_len)(uint64_t *rng, size_t max);
    uint64_t rng, seq;
    size_t max; /* shmring_max_msg */
    int bad;
    char why[200];
};
/* Checks (msg, len) as message c->seq. */
int t_check_next(struct t_check *c, const void *msg, size_t len);
/* One shmring_drain of at most lim messages (0: all visible); a round of s when it finds none. */
int t_drain_check(struct t_check *c, shmring *r, size_t lim, struct t_spin *s);
/* The next message into buf (c->max + 1 bytes): by shmring_recv_wait when wait_ns > 0, else by
 * shmring_recv, spinning on s while the ring is empty. */
int t_recv_check(struct t_check *c, shmring *r, void *buf, int64_t wait_ns, struct t_spin *s);
/* The same by shmring_peek_wait (wait_ns > 0) or spinning shmring_peek, then shmring_release. */
int t_peek_check(struct t_check *c, shmring *r, int64_t wait_ns, struct t_spin *s);

#endif
