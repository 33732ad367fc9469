/* SPDX-License-Identifier: MIT */
/* The multi-producer ring protocol (src/ring_mp.h) over heap memory: claims, per-record commits,
 * padding, the consumer's handling of claims whose writer died (liveness injected by the test),
 * and hostile shared state. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t_cmocka.h"

#include "ring_mp.h"
#include "testutil.h"

#define NSLOTS 4
#define SIZE   (shmring__mp_header_size(NSLOTS) + 4096)

static int alive_mask; /* bit k: slot k's holder lives */

static int t_alive(void *ctx, uint32_t k)
{
    (void)ctx;
    return (alive_mask >> k) & 1;
}

static void *fresh(uint64_t size, uint32_t nslots)
{
    void *mem = aligned_alloc(128, size);
    assert_non_null(mem);
    memset(mem, 0xa5, size); /* format must clear everything it relies on */
    assert_int_equal(
        shmring__ring_format(mem, size, SHMRING__F_MPSC | nslots << SHMRING__FMT_PRODUCERS_SHIFT),
        0);
    assert_int_equal(shmring__ring_check(mem, size), 0);
    return mem;
}

/* A fresh ring of size bytes, producer slot `slot` attached to p and the consumer to c. */
static void *fresh_pair(uint64_t size, uint32_t slot, struct shmring__mprod *p,
                        struct shmring__mcons *c)
{
    void *mem = fresh(size, NSLOTS);
    assert_int_equal(shmring__mprod_attach(p, mem, size, slot), 0);
    assert_int_equal(shmring__mcons_attach(c, mem, size), 0);
    return mem;
}

static int64_t get(struct shmring__mcons *c, void *buf, size_t cap)
{
    const void *msg;
    uint64_t size;
    int64_t len = shmring__mcons_next(c, &msg, &size);
    if (len >= 0) {
        assert_true((uint64_t)len <= cap);
        memcpy(buf, msg, (size_t)len);
        shmring__mcons_advance(c, size, (uint64_t)len);
        shmring__mcons_publish(c);
    }
    return len;
}

static void test_format_and_check(void **state)
{
    (void)state;
    uint64_t size = SIZE;
    void *mem = fresh(size, NSLOTS);
    struct shmring__hdr *h = mem;
    assert_int_equal(h->header_size, shmring__mp_header_size(NSLOTS));
    assert_int_equal(h->capacity, 4096);
    struct shmring__mp_view v;
    assert_int_equal(shmring__mp_view_init(&v, mem, size), 0);
    assert_int_equal(v.nslots, NSLOTS);
    assert_ptr_equal(v.data, (uint8_t *)mem + shmring__mp_header_size(NSLOTS));
    for (uint32_t k = 0; k < NSLOTS; k++) {
        assert_true(v.slots[k].pend_pos == SHMRING__MP_NONE);
    }
    /* Every field is validated. */
    h->max_producers = 0;
    assert_int_equal(shmring__ring_check(mem, size), -EPROTO);
    h->max_producers = NSLOTS + 1; /* header_size no longer matches */
    assert_int_equal(shmring__ring_check(mem, size), -EPROTO);
    h->max_producers = SHMRING__MP_MAX_PRODUCERS + 1;
    assert_int_equal(shmring__ring_check(mem, size), -EPROTO);
    h->max_producers = NSLOTS;
    h->header_size = SHMRING_HEADER_SIZE;
    assert_int_equal(shmring__ring_check(mem, size), -EPROTO);
    h->header_size = (uint32_t)shmring__mp_header_size(NSLOTS);
    h->flags |= SHMRING__F_LEGACY;
    assert_int_equal(shmring__ring_check(mem, size), -EPROTO);
    h->flags &= ~SHMRING__F_LEGACY;
    assert_int_equal(shmring__ring_check(mem, size), 0);
    /* A single-producer header with a producer count is corrupt too. */
    h->flags &= ~SHMRING__F_MPSC;
    assert_int_equal(shmring__ring_check(mem, size), -EPROTO);
    /* Too small for its slot table. */
    assert_int_equal(shmring__ring_format(mem, shmring__mp_header_size(64),
                                          SHMRING__F_MPSC | 64u << SHMRING__FMT_PRODUCERS_SHIFT),
                     -EINVAL);
    free(mem);
}

/* One producer, many messages of random sizes across many wraps: each arrives once, in order. */
static void test_one_producer_stream(void **state)
{
    (void)state;
    struct shmring__mprod p;
    struct shmring__mcons c;
    void *mem = fresh_pair(SIZE, 2, &p, &c);
    uint64_t rng = 7, rng2 = 7, sent = 0, got = 0;
    unsigned char msg[4096], buf[4096];
    while (got < 20000) {
        for (;;) {
            size_t len = (size_t)(t_rand(&rng) % (p.v.max_msg + 1));
            t_msg_fill(msg, len, sent);
            int err = shmring__mprod_send(&p, msg, len);
            if (err == -EAGAIN) {
                rng = rng2; /* replay this length next time */
                break;
            }
            assert_int_equal(err, 0);
            rng2 = rng;
            sent++;
        }
        int64_t len;
        while ((len = get(&c, buf, sizeof buf)) >= 0) {
            assert_true(t_msg_check(buf, (size_t)len, got));
            got++;
        }
        assert_int_equal(len, -EAGAIN);
        assert_false(c.stalled);
        rng2 = rng;
    }
    assert_int_equal(got, sent);
    assert_int_equal(p.me->sent_msgs, sent);
    free(mem);
}

/* Records become visible one by one in claim order: a slow producer's open reservation holds
 * back only the records claimed after it, and they all arrive once it commits. */
static void test_claim_order_and_slow_producer(void **state)
{
    (void)state;
    void *mem = fresh(SIZE, NSLOTS);
    struct shmring__mprod a, b;
    struct shmring__mcons c;
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 0), 0);
    assert_int_equal(shmring__mprod_attach(&b, mem, SIZE, 1), 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    char buf[64];
    assert_int_equal(shmring__mprod_send(&b, "b0", 2), 0);
    void *slot = NULL;
    assert_int_equal(shmring__mprod_reserve(&a, 10, &slot), 0);
    assert_int_equal(shmring__mprod_send(&b, "b1", 2), 0);
    assert_int_equal(get(&c, buf, sizeof buf), 2);
    assert_memory_equal(buf, "b0", 2);
    /* a's record is claimed and not committed: the consumer waits for it (a lives). */
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_true(c.stalled);
    alive_mask = 0x3;
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), -EAGAIN);
    memcpy(slot, "a0-shorter", 10);
    shmring__mprod_commit(&a, 5); /* shorter than reserved: the rest becomes padding */
    assert_int_equal(get(&c, buf, sizeof buf), 5);
    assert_memory_equal(buf, "a0-sh", 5);
    assert_int_equal(get(&c, buf, sizeof buf), 2);
    assert_memory_equal(buf, "b1", 2);
    /* An aborted reservation is padding. */
    assert_int_equal(shmring__mprod_reserve(&a, 100, &slot), 0);
    assert_int_equal(shmring__mprod_send(&b, "b2", 2), 0);
    shmring__mprod_abort(&a);
    assert_int_equal(get(&c, buf, sizeof buf), 2);
    assert_memory_equal(buf, "b2", 2);
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_false(c.stalled);
    free(mem);
}

/* A producer that died right after its claim CAS, before writing anything: its bytes are zero
 * and only its announcement names them. The consumer skips them once it is dead, not before,
 * and delivers what others committed after it. */
static void test_dead_before_claimed_word(void **state)
{
    (void)state;
    void *mem = fresh(SIZE, NSLOTS);
    struct shmring__mprod a, b;
    struct shmring__mcons c;
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 0), 0);
    assert_int_equal(shmring__mprod_attach(&b, mem, SIZE, 3), 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    char buf[256];
    uint64_t idx = 0;
    assert_int_equal(shmring__mprod_claim(&a, shmring__rec_size(100), &idx), 0);
    atomic_store(shmring__mp_word(a.v.data, idx), 0); /* died before the CLAIMED word */
    assert_int_equal(shmring__mprod_send(&b, "after", 5), 0);
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_true(c.stalled);
    alive_mask = 1u << 0 | 1u << 3;
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), -EAGAIN); /* a lives: wait */
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    alive_mask = 1u << 3; /* a died */
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1);
    assert_int_equal(c.dead_bytes, shmring__rec_size(100));
    assert_int_equal(get(&c, buf, sizeof buf), 5);
    assert_memory_equal(buf, "after", 5);
    /* Nothing left, and the skipped bytes are zero again. */
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    for (uint64_t i = 0; i < shmring__rec_size(100); i++) {
        assert_int_equal(a.v.data[idx + i], 0);
    }
    free(mem);
}

/* A producer that died while writing its payload (CLAIMED word written): skipped by the size
 * the CLAIMED word gives. A new holder of the same slot (new epoch) does not make it "alive". */
static void test_dead_after_claimed_word(void **state)
{
    (void)state;
    void *mem = fresh(SIZE, NSLOTS);
    struct shmring__mprod a, b;
    struct shmring__mcons c;
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 1), 0);
    assert_int_equal(shmring__mprod_attach(&b, mem, SIZE, 2), 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    char buf[256];
    void *slot = NULL;
    assert_int_equal(shmring__mprod_reserve(&a, 200, &slot), 0);
    memset(slot, 0x5a, 120); /* part of the payload, which looks like nothing valid */
    assert_int_equal(shmring__mprod_send(&b, "b", 1), 0);
    alive_mask = 0x6;
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), -EAGAIN);
    /* Slot 1 is taken over by a new producer: alive, but another epoch. */
    struct shmring__mprod a2;
    assert_int_equal(shmring__mprod_attach(&a2, mem, SIZE, 1), 0);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1);
    assert_int_equal(get(&c, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 'b');
    assert_int_equal(shmring__mprod_send(&a2, "a2", 2), 0);
    assert_int_equal(get(&c, buf, sizeof buf), 2);
    assert_memory_equal(buf, "a2", 2);
    free(mem);
}

/* The CLAIMED tag holds 16 bits of its writer's epoch: after 65536 more holders of the slot, a
 * live one carries the dead writer's tag. The consumer still skips the dead claim (the live
 * holder's announcement does not cover it) and delivers the new holder's message; before, it
 * waited for as long as the new holder lived (found by an attack with real processes). A live
 * writer of the record at head, with the same tag, is still waited for. */
static void test_epoch_wrap(void **state)
{
    (void)state;
    void *mem = fresh(SIZE, NSLOTS);
    struct shmring__mprod a, b;
    struct shmring__mcons c;
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 0), 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    char buf[256];
    void *slot = NULL;
    assert_int_equal(shmring__mprod_reserve(&a, 16, &slot), 0); /* a dies holding it */
    alive_mask = 0x1;
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), -EAGAIN); /* a lives: wait */
    for (uint32_t i = 0; i < 65536; i++) { /* 65536 holders of slot 0 come and go */
        assert_int_equal(shmring__mprod_attach(&b, mem, SIZE, 0), 0);
    }
    assert_int_equal(b.claimed_tag, a.claimed_tag); /* the same tag as the dead writer's */
    /* b lives and has claimed nothing yet; then it claims behind a's record. */
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1);
    assert_int_equal(shmring__mprod_send(&b, "b", 1), 0);
    assert_int_equal(get(&c, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 'b');
    /* A live writer with that tag, its record at head uncommitted: waited for, never skipped. */
    assert_int_equal(shmring__mprod_reserve(&b, 16, &slot), 0);
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), -EAGAIN);
    memcpy(slot, "0123456789abcdef", 16);
    shmring__mprod_commit(&b, 16);
    assert_int_equal(get(&c, buf, sizeof buf), 16);
    assert_memory_equal(buf, "0123456789abcdef", 16);
    free(mem);
}

/* test_lap_*: the consumer looks at head only while head is less than a data area past `zeroed`: at
 * exactly one area past it, the word at head is one the consumer read and has not zeroed yet
 * (the ring is then empty: no claim can reach past zeroed + cap). Three ways to get there
 * without a publish between: a drain of a whole area of records (it publishes every 32), padding
 * after a message in the same line, dead claims skipped one after the other (the handle looks
 * again at once when no producer lives). Found by tests/model/mpsc_ring.pml: before the fix the
 * first read message 0 again, the second message 0 again, the third said SHMRING_EPROTO. */
#define LAP_SIZE (shmring__mp_header_size(NSLOTS) + 256)

static void test_lap_after_messages(void **state)
{
    (void)state;
    struct shmring__mprod p;
    struct shmring__mcons c;
    const void *msg = NULL;
    uint64_t rsize = 0;
    char buf[8] = {0};
    /* Sixteen 8-byte messages (16-byte records) fill the 256-byte area; read without a
     * publish, as shmring_drain does. */
    void *mem = fresh_pair(LAP_SIZE, 0, &p, &c);
    for (uint64_t i = 0; i < 16; i++) {
        assert_int_equal(shmring__mprod_send(&p, &i, 8), 0);
    }
    assert_int_equal(shmring__mprod_send(&p, buf, 8), -EAGAIN); /* full */
    for (uint64_t i = 0; i < 16; i++) {
        assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), 8);
        assert_memory_equal(msg, &i, 8);
        shmring__mcons_advance(&c, rsize, 8);
    }
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), -EAGAIN);
    assert_false(c.stalled);
    assert_int_equal(c.head, 256);
    assert_int_equal(c.recv_msgs, 16);
    assert_int_equal(shmring__mcons_publish(&c), 1); /* everything back, and zero */
    assert_int_equal(shmring__mprod_send(&p, "again", 5), 0);
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), 5);
    assert_memory_equal(msg, "again", 5);
    free(mem);
}

static void test_lap_after_padding(void **state)
{
    (void)state;
    struct shmring__mprod p;
    struct shmring__mcons c;
    const void *msg = NULL;
    uint64_t rsize = 0;
    /* A message, then two aborted reservations up to one area past zeroed: the message's line
     * is not finished, so its header is not zeroed when the padding has been skipped. */
    void *mem = fresh_pair(LAP_SIZE, 0, &p, &c);
    assert_int_equal(shmring__mprod_send(&p, "first", 5), 0);
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), 5);
    shmring__mcons_advance(&c, rsize, 5);
    assert_int_equal(shmring__mcons_publish_part(&c, SHMRING__MP_PUB_LINES), 0);
    void *slot = NULL;
    assert_int_equal(shmring__mprod_reserve(&p, 120, &slot), 0); /* 128 bytes at 16 */
    shmring__mprod_abort(&p);
    assert_int_equal(shmring__mprod_reserve(&p, 104, &slot), 0); /* 112 bytes at 144 */
    shmring__mprod_abort(&p);
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), -EAGAIN);
    assert_false(c.stalled);
    assert_int_equal(c.head, 256);
    assert_int_equal(c.recv_msgs, 1);
    free(mem);

    /* Padding that reaches past zeroed + cap is a hostile peer's: no claim gets there. */
    char buf[16] = {0};
    mem = fresh_pair(LAP_SIZE, 0, &p, &c);
    for (int i = 0; i < 15; i++) { /* head and zeroed to 240 */
        assert_int_equal(shmring__mprod_send(&p, buf, 8), 0);
        assert_int_equal(get(&c, buf, sizeof buf), 8);
    }
    atomic_store(shmring__mp_word(c.v.data, 240), shmring__mp_rec_word(8, SHMRING__REC_PAD));
    atomic_store(shmring__mp_word(c.v.data, 0), shmring__mp_rec_word(248, SHMRING__REC_PAD));
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), -EBADMSG);
    assert_int_equal(c.head, 256);
    free(mem);

    /* A claim more than a data area past zeroed is corrupt, seen from head or from zeroed. */
    mem = fresh_pair(LAP_SIZE, 0, &p, &c);
    assert_int_equal(shmring__mprod_send(&p, buf, 8), 0);
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), 8);
    shmring__mcons_advance(&c, rsize, 8);    /* head 16, zeroed 0 */
    atomic_store(&c.v.ext->claim, 16 + 256); /* head + cap: past zeroed + cap */
    struct shmring__mcons c2 = c;
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), -EPROTO);
    assert_int_equal(shmring__mcons_resolve(&c2, t_alive, NULL), -EPROTO);
    free(mem);
}

static void test_lap_after_dead_claims(void **state)
{
    (void)state;
    struct shmring__mprod p, p2;
    struct shmring__mcons c;
    const void *msg = NULL;
    uint64_t rsize = 0;
    char buf[8] = {0};
    void *slot = NULL;
    /* Two claims whose producers died, the first after its padding to the end: skipped one
     * after the other, up to one area past zeroed. */
    void *mem = fresh_pair(LAP_SIZE, 0, &p, &c);
    assert_int_equal(shmring__mprod_attach(&p2, mem, LAP_SIZE, 1), 0);
    for (int i = 0; i < 15; i++) { /* head and zeroed to 240 */
        assert_int_equal(shmring__mprod_send(&p, buf, 8), 0);
        assert_int_equal(get(&c, buf, sizeof buf), 8);
    }
    assert_int_equal(c.zeroed, 240);
    assert_int_equal(shmring__mprod_reserve(&p, 120, &slot), 0);  /* padding 16, record 128 */
    assert_int_equal(shmring__mprod_reserve(&p2, 104, &slot), 0); /* record 112, at 384 */
    alive_mask = 0;                                               /* both died */
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), -EAGAIN);
    assert_true(c.stalled);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1);
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), -EAGAIN);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1);
    assert_int_equal(c.head, 496);
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), -EAGAIN);
    assert_false(c.stalled);
    assert_int_equal(c.broken, 0);
    assert_int_equal(c.head, 496);
    assert_int_equal(shmring__mcons_publish(&c), 1);
    assert_int_equal(shmring__mcons_next(&c, &msg, &rsize), -EAGAIN); /* empty, not broken */
    assert_int_equal(c.broken, 0);
    free(mem);
}

/* A batch is one claim; a producer that dies inside it loses only the uncommitted rest. */
static void test_batch_and_dead_inside_batch(void **state)
{
    (void)state;
    void *mem = fresh(SIZE, NSLOTS);
    struct shmring__mprod a, b;
    struct shmring__mcons c;
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 0), 0);
    assert_int_equal(shmring__mprod_attach(&b, mem, SIZE, 1), 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    char buf[4096];
    struct shmring_buf m[5] = {{"m0", 2}, {"m1", 2}, {"m2", 2}, {NULL, 0}, {"m4", 2}};
    uint64_t before = atomic_load(&a.v.ext->claim);
    assert_int_equal(shmring__mprod_send_batch(&a, m, 5), 5);
    assert_int_equal(atomic_load(&a.v.ext->claim) - before, 4 * 16 + 8);
    for (int i = 0; i < 5; i++) {
        int64_t len = get(&c, buf, sizeof buf);
        assert_int_equal(len, m[i].len);
        assert_memory_equal(buf, m[i].base ? m[i].base : "", (size_t)len);
    }
    /* Too many for the ring: as many as fit (the fourth would need padding at the end too). */
    static char big[1000];
    struct shmring_buf bigs[8];
    for (int i = 0; i < 8; i++) {
        bigs[i] = (struct shmring_buf){big, sizeof big};
    }
    assert_int_equal(shmring__mprod_send_batch(&a, bigs, 8), 3);
    assert_int_equal(shmring__mprod_send_batch(&a, bigs, 8), 0);
    while (get(&c, buf, sizeof buf) >= 0) {
    }
    /* Emulate death inside a batch of three: the first committed, the second CLAIMED with
     * part of its payload, the third never written. */
    uint64_t idx = 0;
    uint64_t need = shmring__rec_size(40);
    assert_int_equal(shmring__mprod_claim(&a, 3 * need, &idx), 0);
    uint8_t *d = a.v.data;
    memset(d + idx + 8, 'x', 40);
    atomic_store(shmring__mp_word(d, idx), shmring__mp_rec_word(40, SHMRING__REC_MSG));
    atomic_store(shmring__mp_word(d, idx + need), shmring__mp_rec_word(need, a.claimed_tag));
    memset(d + idx + need + 8, 0x77, 20);
    assert_int_equal(shmring__mprod_send(&b, "tail", 4), 0);
    assert_int_equal(get(&c, buf, sizeof buf), 40);
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    alive_mask = 0x2;
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1); /* the CLAIMED record */
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1); /* the zero rest */
    assert_int_equal(get(&c, buf, sizeof buf), 4);
    assert_memory_equal(buf, "tail", 4);
    free(mem);
}

/* Two producers that both announced the same position (one lost the CAS) and both died: the
 * loser's stale announcement neither hides the winner's claim nor stops the consumer. */
static void test_dead_loser_and_winner(void **state)
{
    (void)state;
    void *mem = fresh(SIZE, NSLOTS);
    struct shmring__mprod a, b, w;
    struct shmring__mcons c;
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 0), 0);
    assert_int_equal(shmring__mprod_attach(&b, mem, SIZE, 1), 0);
    assert_int_equal(shmring__mprod_attach(&w, mem, SIZE, 2), 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    char buf[256];
    uint64_t pos = atomic_load(&a.v.ext->claim);
    /* b announced pos with a large size, then lost (and died before announcing again). */
    atomic_store(&b.me->pend_size, 512);
    atomic_store(&b.me->pend_pos, pos);
    uint64_t idx = 0;
    assert_int_equal(shmring__mprod_claim(&a, 32, &idx), 0); /* won with 32 bytes */
    atomic_store(shmring__mp_word(a.v.data, idx), 0);        /* and died at once */
    assert_int_equal(shmring__mprod_send(&w, "live", 4), 0);
    alive_mask = 0x4;
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1);
    assert_int_equal(c.dead_bytes, 32); /* stopped at w's record, not at b's 512 */
    assert_int_equal(get(&c, buf, sizeof buf), 4);
    assert_memory_equal(buf, "live", 4);
    free(mem);
}

/* Hostile shared state: errors, never a loop or a read outside the mapping. */
static void test_hostile(void **state)
{
    (void)state;
    struct shmring__mprod p;
    struct shmring__mcons c;
    void *mem = fresh_pair(SIZE, 0, &p, &c);
    char buf[4096];
    /* Claim beyond head + capacity. */
    atomic_store(&p.v.ext->claim, 4096 + 8);
    assert_int_equal(get(&c, buf, sizeof buf), -EPROTO);
    assert_int_equal(shmring__mprod_send(&p, "x", 1), -EPROTO);
    free(mem);

    mem = fresh_pair(SIZE, 0, &p, &c);
    assert_int_equal(shmring__mprod_send(&p, "abc", 3), 0);
    /* A record longer than the claim: a committed header is trusted without reading the claim
     * (fast path), so it is delivered, inside the data area; the consumer then finds itself
     * past the claim and stops with -EPROTO. Then a CLAIMED word naming a slot out of range. */
    atomic_store(shmring__mp_word(p.v.data, 0), shmring__mp_rec_word(100, SHMRING__REC_MSG));
    assert_int_equal(get(&c, buf, sizeof buf), 100);
    assert_int_equal(get(&c, buf, sizeof buf), -EPROTO);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), -EPROTO); /* head is past the claim */
    atomic_store(&p.v.hdr->head, 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), -EPROTO); /* zeroed is past head */
    atomic_store(&p.v.hdr->zeroed, 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    atomic_store(shmring__mp_word(p.v.data, 0),
                 shmring__mp_rec_word(16, SHMRING__REC_CLAIMED | 1000u << 16));
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), -EBADMSG);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    /* Padding beyond the claim: skipped, then the consumer is past the claim. */
    atomic_store(shmring__mp_word(p.v.data, 0), shmring__mp_rec_word(4000, SHMRING__REC_PAD));
    assert_int_equal(get(&c, buf, sizeof buf), -EPROTO);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    atomic_store(shmring__mp_word(p.v.data, 0), shmring__mp_rec_word(4100, SHMRING__REC_PAD));
    assert_int_equal(get(&c, buf, sizeof buf), -EBADMSG); /* past the end of the data area */
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    atomic_store(shmring__mp_word(p.v.data, 0), 0x1234567812345678ULL);
    assert_int_equal(get(&c, buf, sizeof buf), -EBADMSG);
    /* Announcements pointing anywhere, all slots dead: progress, bounded by the claim. */
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    atomic_store(shmring__mp_word(p.v.data, 0), 0);
    /* The consumer zeroes what it skips only when it publishes, and the calls above failed
     * first: clear the payload of "abc" the way a publish would have. */
    atomic_store(shmring__mp_word(p.v.data, 8), 0);
    for (uint32_t k = 0; k < NSLOTS; k++) {
        atomic_store(&p.v.slots[k].pend_pos, UINT64_MAX - 8 * k);
        atomic_store(&p.v.slots[k].pend_size, UINT64_MAX);
    }
    alive_mask = 0;
    assert_int_equal(shmring__mcons_resolve(&c, t_alive, NULL), 1);
    /* Up to the claim. */
    assert_int_equal(c.head, 16);
    assert_int_equal(get(&c, buf, sizeof buf), -EAGAIN);
    assert_false(c.stalled);
    free(mem);
}

/* The consumer's prefetch (shmring__mcons_prefetch): only while a claim it has seen is at least
 * 448 bytes past head; the line 128 bytes past head's, inside the data area wherever head is and
 * whatever the claim word says; the claim word looked at again only when head crosses 4 KiB; a
 * ring of less than 2 KiB of data never. */
static void test_consumer_prefetch(void **state)
{
    (void)state;
    struct shmring__mprod p;
    struct shmring__mcons c;
    void *mem = fresh_pair(SIZE, 0, &p, &c);
    const uint64_t cap = c.v.cap;
    assert_true(c.pf_on);
    unsigned char msg[64] = {0};
    uint64_t sent = 0;
    while (shmring__mprod_send(&p, msg, sizeof msg) == 0) {
        sent++;
    }
    assert_true(sent > 8);
    const uint64_t claim = atomic_load_explicit(&c.v.ext->claim, memory_order_relaxed);
    assert_true(claim >= 448);
    /* Attached to an empty ring: nothing seen ahead, so no prefetch, and claim is not looked at
     * again within a 4 KiB block... */
    assert_int_equal(c.pf_claim, 0);
    assert_int_equal(shmring__mcons_prefetch(&c, 0, 64), SHMRING__MP_NONE);
    assert_int_equal(c.pf_claim, 0);
    /* ...but when head crosses into the next one; then the line 128 bytes on comes. */
    assert_int_equal(shmring__mcons_prefetch(&c, 4032, 4096), SHMRING__MP_NONE);
    assert_int_equal(c.pf_claim, claim);
    assert_int_equal(shmring__mcons_prefetch(&c, 0, 64), 128);
    /* The gate: 448 bytes ahead, yes; 440, no. */
    c.head = claim - 448;
    c.ridx = c.head % cap;
    assert_int_equal(shmring__mcons_prefetch(&c, 0, 64), ((c.ridx & ~(uint64_t)63) + 128) % cap);
    c.head = claim - 440;
    c.ridx = c.head % cap;
    assert_int_equal(shmring__mcons_prefetch(&c, 0, 64), SHMRING__MP_NONE);
    /* Caught up, or past the claim it saw: no (the gate compares signed distances). */
    c.head = claim;
    c.ridx = c.head % cap;
    assert_int_equal(shmring__mcons_prefetch(&c, 0, 64), SHMRING__MP_NONE);
    c.head = claim + 64;
    c.ridx = c.head % cap;
    assert_int_equal(shmring__mcons_prefetch(&c, 0, 64), SHMRING__MP_NONE);
    /* Near the end of the data area the line wraps to its start. */
    c.pf_claim = c.head + cap;
    for (uint64_t ridx = cap - 192; ridx < cap; ridx += 8) {
        c.ridx = ridx;
        uint64_t off = shmring__mcons_prefetch(&c, 0, 64);
        assert_true(off < cap && off % 64 == 0);
        assert_int_equal(off, ((ridx & ~(uint64_t)63) + 128) % cap);
    }
    /* A hostile claim word: the consumer believes it, and prefetches inside the area (a claim
     * far ahead of head: 2^62, 449) or not at all (behind head as a signed distance: 2^64 - 1,
     * 2^64 - 6; too near: 7). */
    static const struct {
        uint64_t claim;
        int prefetches;
    } hostile[] = {{UINT64_MAX, 0}, {UINT64_MAX - 5, 0}, {1ULL << 62, 1}, {449, 1}, {7, 0}};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        atomic_store_explicit(&c.v.ext->claim, hostile[i].claim, memory_order_relaxed);
        c.head = 0;
        c.pf_claim = 0;
        (void)shmring__mcons_prefetch(&c, 4000, 4100);
        assert_int_equal(c.pf_claim, hostile[i].claim);
        for (uint64_t ridx = 0; ridx < cap; ridx += 8) {
            c.ridx = ridx;
            uint64_t off = shmring__mcons_prefetch(&c, 0, 64);
            if (hostile[i].prefetches) {
                assert_int_equal(off, ((ridx & ~(uint64_t)63) + 128) % cap);
            } else {
                assert_int_equal(off, SHMRING__MP_NONE);
            }
        }
    }
    free(mem);
    /* Less than 2 KiB of data: no prefetch, and no look at claim for it. */
    const uint64_t small = shmring__mp_header_size(NSLOTS) + 1024;
    mem = fresh_pair(small, 0, &p, &c);
    assert_false(c.pf_on);
    while (shmring__mprod_send(&p, msg, sizeof msg) == 0) {
    }
    assert_int_equal(shmring__mcons_prefetch(&c, 4032, 4096), SHMRING__MP_NONE);
    assert_int_equal(c.pf_claim, 0);
    free(mem);
}

/* `solo`: granted to a producer that is alone (and only then), its claims made without a CAS
 * keep the stream intact, a revocation makes its next claim a CAS one, a holder inside its
 * claim (in_claim) is "busy" until it leaves or its slot changes hands, and the grant comes back
 * once it is alone again. Garbage in `solo` grants nobody and names nobody to wait for. */
static void test_solo_grant_and_revoke(void **state)
{
    (void)state;
    void *mem = fresh(SIZE, NSLOTS);
    struct shmring__hdr *h = mem;
    struct shmring__mprod a, b;
    struct shmring__mcons c;
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 0), 0);
    assert_int_equal(shmring__mcons_attach(&c, mem, SIZE), 0);
    _Atomic uint32_t *solo = &a.v.ext->solo;
    atomic_store(&h->mp_producers, 2);
    assert_int_equal(shmring__mprod_solo_grant(&a, 1), 0); /* another one is counted */
    assert_int_equal(atomic_load(solo), 0);
    atomic_store(&h->mp_producers, 1);
    assert_int_equal(shmring__mprod_solo_grant(&a, 1), 1);
    assert_int_equal(atomic_load(solo), a.claimed_tag);
    assert_int_equal(a.solo, 1);
    unsigned char msg[64], buf[64];
    uint64_t sent = 0, got = 0;
    for (int i = 0; i < 40; i++) {
        t_msg_fill(msg, 20, sent);
        assert_int_equal(shmring__mprod_send(&a, msg, 20), 0);
        sent++;
        assert_int_equal(atomic_load(&a.me->in_claim), 0); /* out of the claim again */
    }
    uint64_t claim_before = atomic_load(&a.v.ext->claim);
    assert_true(claim_before > 0);
    /* b attaches: counted, revokes, waits for nobody (a is outside its claim). */
    assert_int_equal(shmring__mprod_attach(&b, mem, SIZE, 1), 0);
    atomic_store(&h->mp_producers, 2);
    assert_int_equal(shmring__mp_solo_revoke(&b.v, b.claimed_tag), a.claimed_tag);
    assert_int_equal(atomic_load(solo), 0);
    assert_int_equal(shmring__mp_in_claim(&b.v, a.slot), 0);
    atomic_store(&a.me->in_claim, 1);
    assert_int_equal(shmring__mp_in_claim(&b.v, a.slot), 1);
    atomic_store(&a.me->in_claim, 0);
    assert_int_equal(shmring__mp_solo_revoke(&b.v, b.claimed_tag), 0); /* nothing left */
    /* Both send; a finds itself revoked at its next claim. */
    for (int i = 0; i < 40; i++) {
        struct shmring__mprod *p = i % 2 ? &b : &a;
        t_msg_fill(msg, 20, p == &a ? sent : 1000 + (uint64_t)i / 2);
        assert_int_equal(shmring__mprod_send(p, msg, 20), 0);
        if (p == &a) {
            sent++;
        }
        int64_t len;
        while ((len = get(&c, buf, sizeof buf)) >= 0) {
            uint64_t seq;
            memcpy(&seq, buf, 8);
            assert_true(t_msg_check(buf, (size_t)len, seq));
            if (seq < 1000) {
                assert_int_equal(seq, got);
                got++;
            }
        }
    }
    assert_int_equal(a.solo, 0);
    assert_int_equal(got, sent);
    /* Alone again (b detached): a is granted within SHMRING__MP_SOLO_EVERY claims. */
    shmring__mprod_detach(&b);
    atomic_store(&h->mp_producers, 1);
    a.solo_ok = 1;
    for (unsigned i = 0; i < SHMRING__MP_SOLO_EVERY + 1 && !a.solo; i++) {
        t_msg_fill(msg, 20, sent);
        assert_int_equal(shmring__mprod_send(&a, msg, 20), 0);
        sent++;
        int64_t len;
        while ((len = get(&c, buf, sizeof buf)) >= 0) {
            assert_true(t_msg_check(buf, (size_t)len, got));
            got++;
        }
    }
    assert_int_equal(a.solo, 1);
    assert_int_equal(atomic_load(solo), a.claimed_tag);
    /* A batch of the solo holder. */
    struct shmring_buf iov[3];
    unsigned char bm[3][20];
    for (int i = 0; i < 3; i++) {
        t_msg_fill(bm[i], 20, sent + (uint64_t)i);
        iov[i] = (struct shmring_buf){bm[i], 20};
    }
    assert_int_equal(shmring__mprod_send_batch(&a, iov, 3), 3);
    sent += 3;
    assert_int_equal(atomic_load(&a.me->in_claim), 0);
    int64_t len;
    while ((len = get(&c, buf, sizeof buf)) >= 0) {
        assert_true(t_msg_check(buf, (size_t)len, got));
        got++;
    }
    assert_int_equal(got, sent);
    /* Detach gives it back. */
    shmring__mprod_detach(&a);
    assert_int_equal(atomic_load(solo), 0);
    /* Garbage: no grant, nobody to wait for. */
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 0), 0);
    atomic_store(solo, 0xdeadbeefu);
    assert_int_equal(shmring__mprod_solo_grant(&a, 1), 0);
    assert_int_equal(shmring__mp_in_claim(&a.v, 1000u), 0); /* no such slot */
    /* A holder that died inside its claim left in_claim set: whoever takes the slot clears it. */
    atomic_store(&a.me->in_claim, 1);
    shmring__mprod_detach(&a);
    assert_int_equal(shmring__mp_in_claim(&a.v, 0), 1);
    assert_int_equal(shmring__mprod_attach(&a, mem, SIZE, 0), 0);
    assert_int_equal(shmring__mp_in_claim(&a.v, 0), 0);
    assert_int_equal(shmring__mp_solo_revoke(&a.v, a.claimed_tag), 0xdeadbeefu);
    assert_int_equal(atomic_load(solo), 0);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_check),
        cmocka_unit_test(test_one_producer_stream),
        cmocka_unit_test(test_claim_order_and_slow_producer),
        cmocka_unit_test(test_dead_before_claimed_word),
        cmocka_unit_test(test_dead_after_claimed_word),
        cmocka_unit_test(test_epoch_wrap),
        cmocka_unit_test(test_batch_and_dead_inside_batch),
        cmocka_unit_test(test_lap_after_messages),
        cmocka_unit_test(test_lap_after_padding),
        cmocka_unit_test(test_lap_after_dead_claims),
        cmocka_unit_test(test_dead_loser_and_winner),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_solo_grant_and_revoke),
        cmocka_unit_test(test_consumer_prefetch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
