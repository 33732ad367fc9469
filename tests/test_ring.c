/* SPDX-License-Identifier: MIT */
/* The ring protocol (src/ring.h, src/ring.c) over heap memory: no names, files or processes.
 * Every test drives the producer and consumer views directly, so it can place the shared
 * positions anywhere, corrupt any byte, and check exact positions after each step. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t_cmocka.h"

#include "ring.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* A formatted region with both sides attached. The region is allocated with its exact size, so
 * a read past its end is caught by AddressSanitizer (the SHMRING_SANITIZE=address build). */
struct tr {
    uint8_t *mem;
    uint64_t size;
    struct shmring__hdr *h;
    struct shmring__prod p;
    struct shmring__cons c;
};

static void *region_alloc(uint64_t size)
{
    void *mem = t_aligned_alloc(SHMRING__ALIGN, (size_t)size);
    assert_non_null(mem);
    memset(mem, 0xEE, (size_t)size); /* not zero: the format must not rely on fresh memory */
    return mem;
}

/* Formats a ring of `size` bytes whose (empty) head and tail are both at `pos`. */
static void tr_open(struct tr *t, uint64_t size, uint64_t pos)
{
    t->mem = region_alloc(size);
    t->size = size;
    t->h = (struct shmring__hdr *)t->mem;
    assert_int_equal(shmring__ring_format(t->mem, size, 0), 0);
    assert_int_equal(shmring__ring_check(t->mem, size), 0);
    atomic_store(&t->h->head, pos);
    atomic_store(&t->h->tail, pos);
    assert_int_equal(shmring__prod_attach(&t->p, t->mem, size), 0);
    assert_int_equal(shmring__cons_attach(&t->c, t->mem, size), 0);
}

static void tr_close(struct tr *t)
{
    t_aligned_free(t->mem);
    t->mem = NULL;
}

static uint64_t cap_of(const struct tr *t)
{
    return t->size - SHMRING_HEADER_SIZE;
}

static uint8_t *data_of(const struct tr *t)
{
    return t->mem + SHMRING_HEADER_SIZE;
}

/* Producer: one message of len bytes with content for seq; does not publish. */
static int put(struct tr *t, uint64_t len, uint64_t seq)
{
    void *slot = NULL;
    int r = shmring__prod_reserve(&t->p, len, &slot);
    if (r != 0) {
        t->p.resv_open = 0; /* what the public API does after a failed reserve */
        return r;
    }
    assert_true(((uintptr_t)slot % SHMRING__ALIGN) == 0);
    assert_true((uint8_t *)slot >= data_of(t) + SHMRING__REC_HDR);
    assert_true((uint8_t *)slot + len <= data_of(t) + cap_of(t));
    t_msg_fill(slot, (size_t)len, seq);
    shmring__prod_commit(&t->p, len);
    return 0;
}

static int send1(struct tr *t, uint64_t len, uint64_t seq)
{
    int r = put(t, len, seq);
    if (r == 0) {
        shmring__prod_publish(&t->p);
    }
    return r;
}

/* Consumer: the next message must be seq with len bytes; consumes it without publishing. */
static void take(struct tr *t, uint64_t len, uint64_t seq)
{
    const void *msg = NULL;
    int64_t n = shmring__cons_peek(&t->c, &msg);
    assert_int_equal(n, (int64_t)len);
    assert_true(((uintptr_t)msg % SHMRING__ALIGN) == 0);
    assert_true(t_msg_check(msg, (size_t)len, seq));
    shmring__cons_consume(&t->c);
}

static void recv1(struct tr *t, uint64_t len, uint64_t seq)
{
    take(t, len, seq);
    shmring__cons_publish(&t->c);
}

static void expect_empty(struct tr *t)
{
    const void *msg = NULL;
    assert_int_equal(shmring__cons_peek(&t->c, &msg), SHMRING_EAGAIN);
}

/* Writes a record header straight into the data area at offset off. */
static void put_rec(struct tr *t, uint64_t off, uint32_t len, uint32_t tag)
{
    struct shmring__rec rec = {len, tag};
    memcpy(data_of(t) + off, &rec, sizeof rec);
}

/* Producer: messages whose records add up to exactly `bytes` (a multiple of 8), none padded.
 * Returns the number of messages; their lengths go to lens[] from *seq on. */
static uint64_t fill_bytes(struct tr *t, uint64_t bytes, uint64_t *seq, uint64_t *lens)
{
    uint64_t n = 0;
    uint64_t max_rec = shmring__rec_size(t->p.max_msg);
    while (bytes > 0) {
        uint64_t rec = bytes < max_rec ? bytes : max_rec;
        uint64_t len = rec - SHMRING__REC_HDR;
        uint64_t before = t->p.tail;
        assert_int_equal(put(t, len, *seq), 0);
        assert_int_equal(t->p.tail - before, rec); /* no padding was needed */
        lens[n++] = len;
        (*seq)++;
        bytes -= rec;
    }
    shmring__prod_publish(&t->p);
    return n;
}

/* ---- format and check ---------------------------------------------------------------------- */

/* shmring__copy() takes its own path for 1-3, 4-7, 8-16 and longer messages: every length copies
 * exactly its bytes, in place, and touches nothing either side of source or destination. */
static void test_copy_every_length(void **state)
{
    (void)state;
    unsigned char src[64 + 16], dst[64 + 16];
    for (size_t n = 0; n <= 64; n++) {
        for (size_t i = 0; i < sizeof src; i++) {
            src[i] = (unsigned char)(i * 7 + n + 1);
            dst[i] = 0xa5;
        }
        shmring__copy(dst + 8, src + 8, n);
        for (size_t i = 0; i < sizeof dst; i++) {
            int inside = i >= 8 && i < 8 + n;
            assert_int_equal(dst[i], inside ? src[i] : 0xa5);
        }
    }
    shmring__copy(NULL, NULL, 0); /* a zero-length send may pass NULL */
}

static void test_format_args(void **state)
{
    (void)state;
    uint8_t *mem = region_alloc(4096);
    assert_int_equal(shmring__ring_format(NULL, 4096, 0), SHMRING_EINVAL);
    assert_int_equal(shmring__ring_format(mem, SHMRING_HEADER_SIZE + 2 * SHMRING__LINE - 8, 0),
                     SHMRING_EINVAL);
    assert_int_equal(shmring__ring_format(mem, 4096 - 4, 0),
                     SHMRING_EINVAL); /* not a multiple of 8 */
    assert_int_equal(shmring__ring_format(mem, 4096, 0), 0);
    struct shmring__hdr *h = (struct shmring__hdr *)mem;
    assert_int_equal(atomic_load(&h->magic), SHMRING__MAGIC);
    assert_int_equal(atomic_load(&h->version), SHMRING_LAYOUT_VERSION);
    assert_int_equal(h->header_size, SHMRING_HEADER_SIZE);
    assert_int_equal(h->total_size, 4096);
    assert_int_equal(h->capacity, 4096 - SHMRING_HEADER_SIZE);
    assert_int_equal(h->max_msg, shmring__max_msg_for(4096 - SHMRING_HEADER_SIZE));
    assert_int_equal(atomic_load(&h->generation), 1);
    assert_int_equal(atomic_load(&h->head), 0);
    assert_int_equal(atomic_load(&h->tail), 0);
    /* A reformat of a valid header counts a new generation and starts the positions afresh. */
    atomic_store(&h->tail, 64);
    atomic_store(&h->head, 64);
    assert_int_equal(shmring__ring_format(mem, 4096, SHMRING__F_PERSIST), 0);
    assert_int_equal(atomic_load(&h->generation), 2);
    assert_int_equal(atomic_load(&h->tail), 0);
    assert_int_equal(h->flags, SHMRING__F_PERSIST);
    assert_int_equal(shmring__ring_check(mem, 4096), 0);
    t_aligned_free(mem);
}

static void test_max_msg_formula(void **state)
{
    (void)state;
    /* Not trivially small: at least half the data area minus a header and one alignment step. */
    for (uint64_t cap = 2 * SHMRING__LINE; cap < 20000; cap += 8) {
        uint64_t m = shmring__max_msg_for(cap);
        assert_true(m + SHMRING__REC_HDR + SHMRING__ALIGN >= cap / 2);
        assert_true(shmring__rec_size(m) <= cap / 2);
    }
    assert_int_equal(shmring__max_msg_for(3584), 1784);
}

static void test_check_rejects(void **state)
{
    (void)state;
    const uint64_t size = 4096;
    uint8_t *mem = region_alloc(2 * size);
    struct shmring__hdr *h = (struct shmring__hdr *)mem;
    uint8_t good[SHMRING_HEADER_SIZE];
    assert_int_equal(shmring__ring_format(mem, size, 0), 0);
    memcpy(good, mem, sizeof good);
#define RESET() memcpy(mem, good, sizeof good)

    assert_int_equal(shmring__ring_check(mem, size), 0);
    assert_int_equal(shmring__ring_check(NULL, size), SHMRING_EPROTO);
    assert_int_equal(shmring__ring_check(mem, size + 8),
                     SHMRING_EPROTO); /* not the formatted size */
    assert_int_equal(shmring__ring_check(mem, 2 * size), SHMRING_EPROTO);
    assert_int_equal(shmring__ring_check(mem, size - 8), SHMRING_EPROTO);
    assert_int_equal(shmring__ring_check(mem, 100), SHMRING_EPROTO);

    atomic_store(&h->magic, SHMRING__MAGIC ^ 1);
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    atomic_store(&h->version, SHMRING_LAYOUT_VERSION + 1);
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    atomic_store(&h->version, 0xffffffffu);
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    /* Version 0: an initialisation in progress (or abandoned), with our magic or none yet. */
    atomic_store(&h->version, 0);
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EAGAIN);
    atomic_store(&h->magic, 0);
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EAGAIN);
    /* ... but version 0 under a foreign magic is not ours at all. */
    atomic_store(&h->magic, 0x1122334455667788ULL);
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    h->header_size = SHMRING_HEADER_SIZE * 2;
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    h->total_size = size * 2;
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    h->capacity = size - SHMRING_HEADER_SIZE + 8;
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    h->capacity = size; /* ignores the header */
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    h->max_msg = h->max_msg + 8;
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    h->max_msg = h->max_msg - 8;
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    h->flags = 0x80;
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
    RESET();
    h->flags = SHMRING__F_PERSIST | SHMRING__F_LEGACY;
    assert_int_equal(shmring__ring_check(mem, size), 0);
    RESET();
    /* A header formatted for twice the size checks out only against that size. */
    assert_int_equal(shmring__ring_format(mem, 2 * size, 0), 0);
    assert_int_equal(shmring__ring_check(mem, 2 * size), 0);
    assert_int_equal(shmring__ring_check(mem, size), SHMRING_EPROTO);
#undef RESET
    t_aligned_free(mem);
}

static void test_attach_rejects_bad_positions(void **state)
{
    (void)state;
    const uint64_t size = 4096, cap = size - SHMRING_HEADER_SIZE;
    uint8_t *mem = region_alloc(size);
    struct shmring__hdr *h = (struct shmring__hdr *)mem;
    struct shmring__prod p;
    struct shmring__cons c;
    assert_int_equal(shmring__ring_format(mem, size, 0), 0);
    const uint64_t bad[][2] = {
        {1000, 992},            /* tail behind head */
        {1000, 1000 + cap + 8}, /* more than a ring's worth in use */
        {1004, 1004},           /* not 8-aligned */
        {1000, 1004},
        {8, UINT64_MAX - 7},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atomic_store(&h->head, bad[i][0]);
        atomic_store(&h->tail, bad[i][1]);
        assert_int_equal(shmring__prod_attach(&p, mem, size), SHMRING_EPROTO);
        assert_int_equal(shmring__cons_attach(&c, mem, size), SHMRING_EPROTO);
    }
    /* Exactly full is fine. */
    atomic_store(&h->head, 1000);
    atomic_store(&h->tail, 1000 + cap);
    assert_int_equal(shmring__prod_attach(&p, mem, size), 0);
    assert_int_equal(shmring__cons_attach(&c, mem, size), 0);
    assert_int_equal(p.widx, (1000 + cap) % cap);
    assert_int_equal(c.ridx, 1000 % cap);
    t_aligned_free(mem);
}

/* ---- basic protocol ------------------------------------------------------------------------ */

static void test_empty_full(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 0);
    const uint64_t cap = cap_of(&t);
    assert_int_equal(cap, 3584);
    expect_empty(&t);

    /* 8-byte payloads take 16-byte records: exactly cap / 16 fit. */
    uint64_t n = cap / 16;
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(put(&t, 8, i), 0);
    }
    assert_int_equal(t.p.tail, cap);
    uint64_t full_before = t.p.full_events;
    assert_int_equal(put(&t, 0, 999), SHMRING_EAGAIN);
    assert_int_equal(t.p.full_events, full_before + 1);
    assert_int_equal(t.p.tail, cap); /* a failed reserve changes nothing */

    /* Nothing is visible before the publish. */
    expect_empty(&t);
    assert_int_equal(atomic_load(&t.h->tail), 0);
    shmring__prod_publish(&t.p);
    assert_int_equal(atomic_load(&t.h->tail), cap);
    assert_int_equal(atomic_load(&t.h->sent_msgs), n);
    assert_int_equal(atomic_load(&t.h->sent_bytes), n * 8);

    /* A consumed but unpublished record does not give room back. */
    take(&t, 8, 0);
    assert_int_equal(put(&t, 0, 999), SHMRING_EAGAIN);
    shmring__cons_publish(&t.c);
    assert_int_equal(atomic_load(&t.h->head), 16);
    assert_int_equal(put(&t, 8, n), 0); /* exactly the 16 bytes given back */
    assert_int_equal(put(&t, 0, 999), SHMRING_EAGAIN);
    shmring__prod_publish(&t.p);
    for (uint64_t i = 1; i <= n; i++) {
        recv1(&t, 8, i);
    }
    expect_empty(&t);
    assert_int_equal(atomic_load(&t.h->head), cap + 16);
    assert_int_equal(atomic_load(&t.h->recv_msgs), n + 1);
    tr_close(&t);
}

static void test_wrap_padding(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 0);
    const uint64_t cap = cap_of(&t);
    for (uint64_t i = 0; i < 3; i++) {
        assert_int_equal(send1(&t, 1000, i), 0); /* 1008-byte records: 3024 bytes */
    }
    for (uint64_t i = 0; i < 3; i++) {
        recv1(&t, 1000, i);
    }
    /* 560 bytes remain before the end; a 1008-byte record goes to offset 0 after padding. */
    void *slot = NULL;
    assert_int_equal(shmring__prod_reserve(&t.p, 1000, &slot), 0);
    assert_ptr_equal(slot, data_of(&t) + SHMRING__REC_HDR);
    struct shmring__rec pad;
    memcpy(&pad, data_of(&t) + 3024, sizeof pad);
    assert_int_equal(pad.tag, SHMRING__REC_PAD);
    assert_int_equal(pad.len, cap - 3024 - SHMRING__REC_HDR);
    t_msg_fill(slot, 1000, 3);
    shmring__prod_commit(&t.p, 1000);
    shmring__prod_publish(&t.p);
    assert_int_equal(atomic_load(&t.h->tail), cap + 1008);

    const void *msg = NULL;
    assert_int_equal(shmring__cons_peek(&t.c, &msg), 1000);
    assert_ptr_equal(msg, slot);
    assert_int_equal(t.c.head, cap);                 /* padding skipped locally ... */
    assert_int_equal(atomic_load(&t.h->head), 3024); /* ... not yet given back */
    shmring__cons_consume(&t.c);
    shmring__cons_publish(&t.c);
    assert_int_equal(atomic_load(&t.h->head), cap + 1008);
    expect_empty(&t);

    /* The smallest padding: 8 bytes before the end (a pad record with no payload). */
    tr_close(&t);
    tr_open(&t, 4096, cap - 8);
    assert_int_equal(send1(&t, 0, 10), 0); /* exactly fits the last 8 bytes: no padding */
    assert_int_equal(t.p.widx, 0);
    recv1(&t, 0, 10);
    tr_close(&t);
    tr_open(&t, 4096, cap - 8);
    assert_int_equal(send1(&t, 1, 11), 0); /* 16 bytes: 8 of padding, then offset 0 */
    memcpy(&pad, data_of(&t) + cap - 8, sizeof pad);
    assert_int_equal(pad.tag, SHMRING__REC_PAD);
    assert_int_equal(pad.len, 0);
    assert_int_equal(t.p.tail, cap - 8 + 8 + 16);
    recv1(&t, 1, 11);
    assert_int_equal(atomic_load(&t.h->head), cap + 16);
    expect_empty(&t);
    tr_close(&t);
}

/* A trailing padding record with nothing after it yet: the consumer skips it, reports empty, and
 * gives the bytes back on its next publish. */
static void test_padding_alone(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 3000);
    const uint64_t cap = cap_of(&t);
    void *slot = NULL;
    assert_int_equal(shmring__prod_reserve(&t.p, 1000, &slot), 0); /* pads 584 bytes */
    t.p.resv_open = 0;                                             /* shmring_abort */
    shmring__prod_publish(&t.p);
    assert_int_equal(atomic_load(&t.h->tail), cap);
    expect_empty(&t);
    assert_int_equal(t.c.head, cap);
    assert_int_equal(t.c.dirty, 1);
    shmring__cons_publish(&t.c);
    assert_int_equal(atomic_load(&t.h->head), cap);
    assert_int_equal(send1(&t, 5, 1), 0);
    recv1(&t, 5, 1);
    tr_close(&t);
}

/* Full exactly at the wrap point: for every start offset H, fill to the end of the data area,
 * then exactly H more bytes from offset 0. No padding is written anywhere and the ring is full;
 * draining gives every message back in order and leaves the consumer at offset H again. The
 * drain crosses the end of the data area with the consumer's head landing exactly on it. */
static void test_full_at_wrap(void **state)
{
    (void)state;
    const uint64_t size = 4096, cap = size - SHMRING_HEADER_SIZE;
    uint64_t *lens = calloc(cap, sizeof *lens);
    assert_non_null(lens);
    for (uint64_t start = 0; start < cap; start += 8) {
        for (uint64_t lap = 0; lap < 2; lap++) {
            struct tr t;
            uint64_t base = lap * 1000 * cap + start; /* also far from position 0 */
            tr_open(&t, size, base);
            uint64_t seq = 0;
            uint64_t n = fill_bytes(&t, cap - start, &seq, lens);
            assert_int_equal(t.p.widx, 0); /* the tail sits at the end of the data area */
            assert_int_equal(t.p.tail % cap, 0);
            n += fill_bytes(&t, start, &seq, lens + n);
            assert_int_equal(t.p.tail - base, cap); /* full */
            assert_int_equal(put(&t, 0, 999), SHMRING_EAGAIN);
            /* The reverse: the consumer's head reaches the end of the data area while the
             * producer's tail is elsewhere; the ring is still consistent from there. */
            uint64_t i = 0;
            for (; (t.c.head - base) < cap - start; i++) {
                take(&t, lens[i], i);
            }
            assert_int_equal(t.c.ridx, 0);
            shmring__cons_publish(&t.c);
            assert_int_equal(atomic_load(&t.h->head) % cap, 0);
            /* Refill exactly the freed bytes, from the producer's tail at offset `start` to the
             * end of the data area: full again, without padding. */
            uint64_t m = fill_bytes(&t, cap - start, &seq, lens + n);
            assert_int_equal(put(&t, 0, 999), SHMRING_EAGAIN);
            for (; i < n + m; i++) {
                recv1(&t, lens[i], i);
            }
            expect_empty(&t);
            assert_int_equal(t.c.head, base + 2 * cap - start);
            assert_int_equal(t.c.ridx, 0);
            tr_close(&t);
        }
    }
    free(lens);
}

/* Records that exactly fill the free space, with and without padding before them. */
static void test_exact_fit(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 0);
    const uint64_t cap = cap_of(&t);
    /* Without padding: 1008 + 1008 + 1568 = cap. */
    assert_int_equal(send1(&t, 1000, 0), 0);
    assert_int_equal(send1(&t, 1000, 1), 0);
    assert_int_equal(put(&t, 1561, 99), SHMRING_EAGAIN); /* 1576: 8 bytes too many */
    assert_int_equal(send1(&t, 1560, 2), 0);             /* 1568: exactly the rest */
    assert_int_equal(put(&t, 0, 99), SHMRING_EAGAIN);
    recv1(&t, 1000, 0);
    recv1(&t, 1000, 1);
    recv1(&t, 1560, 2);
    tr_close(&t);

    /* With padding: the tail 24 bytes before the end, 1008 bytes free at the start. */
    tr_open(&t, 4096, 0);
    uint64_t seq = 0;
    uint64_t lens[8];
    assert_int_equal(send1(&t, 1000, seq++), 0); /* the 1008 bytes the consumer frees */
    uint64_t n = fill_bytes(&t, cap - 24 - 1008, &seq, lens);
    assert_int_equal(t.p.widx, cap - 24);
    recv1(&t, 1000, 0);
    uint64_t tail_before = t.p.tail;
    /* 24 bytes of padding + 1016 > 1032 free. */
    assert_int_equal(put(&t, 1001, 99), SHMRING_EAGAIN);
    assert_int_equal(t.p.tail, tail_before);
    assert_int_equal(t.p.widx, cap - 24);
    /* 24 + 1008 == 1032 free: fits exactly, and the ring is then full. */
    assert_int_equal(send1(&t, 1000, seq), 0);
    assert_int_equal(t.p.tail - atomic_load(&t.h->head), cap);
    assert_int_equal(put(&t, 0, 99), SHMRING_EAGAIN);
    for (uint64_t i = 0; i < n; i++) {
        recv1(&t, lens[i], 1 + i);
    }
    recv1(&t, 1000, seq);
    expect_empty(&t);
    tr_close(&t);
}

/* The largest message fits an empty ring wherever its position is, for several sizes
 * (including data areas whose half is not a multiple of 8); one byte more is SHMRING_EMSGSIZE. */
static void test_max_msg_every_position(void **state)
{
    (void)state;
    const uint64_t sizes[] = {4096, 8192, 768, 776, 1544, 512 + 3592, 512 + 1000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const uint64_t size = sizes[s], cap = size - SHMRING_HEADER_SIZE;
        const uint64_t max = shmring__max_msg_for(cap);
        assert_true(max > 0);
        for (uint64_t off = 0; off < cap; off += 8) {
            struct tr t;
            tr_open(&t, size, 7 * cap + off);
            assert_int_equal(t.p.max_msg, max);
            void *slot = NULL;
            assert_int_equal(shmring__prod_reserve(&t.p, max + 1, &slot), SHMRING_EMSGSIZE);
            assert_int_equal(send1(&t, max, off), 0);
            recv1(&t, max, off);
            expect_empty(&t);
            /* And again from wherever that left the ring. */
            assert_int_equal(send1(&t, max, off + 1), 0);
            recv1(&t, max, off + 1);
            tr_close(&t);
        }
    }
}

/* max_msg + 1 is SHMRING_EMSGSIZE even when the ring is full (not SHMRING_EAGAIN, which would make
 * a caller retry forever). */
static void test_msgsize_not_eagain(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 0);
    uint64_t max = t.p.max_msg;
    void *slot = NULL;
    assert_int_equal(shmring__prod_reserve(&t.p, max + 1, &slot), SHMRING_EMSGSIZE);
    assert_int_equal(shmring__prod_reserve(&t.p, UINT32_MAX, &slot), SHMRING_EMSGSIZE);
    assert_int_equal(shmring__prod_reserve(&t.p, UINT64_MAX, &slot), SHMRING_EMSGSIZE);
    assert_int_equal(send1(&t, max, 0), 0);
    assert_int_equal(send1(&t, max, 1), 0);
    assert_int_equal(put(&t, 0, 2), SHMRING_EAGAIN); /* full */
    assert_int_equal(shmring__prod_reserve(&t.p, max + 1, &slot), SHMRING_EMSGSIZE);
    assert_int_equal(shmring__prod_reserve(&t.p, max, &slot), SHMRING_EAGAIN);
    t.p.resv_open = 0;
    tr_close(&t);
}

static void test_zero_length(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 0);
    const uint64_t cap = cap_of(&t);
    for (uint64_t i = 0; i < cap / 8; i++) {
        assert_int_equal(put(&t, 0, i), 0);
    }
    assert_int_equal(put(&t, 0, 0), SHMRING_EAGAIN);
    shmring__prod_publish(&t.p);
    for (uint64_t i = 0; i < cap / 8; i++) {
        const void *msg = NULL;
        assert_int_equal(shmring__cons_peek(&t.c, &msg), 0);
        assert_ptr_equal(msg, data_of(&t) + i * 8 + SHMRING__REC_HDR);
        shmring__cons_consume(&t.c);
    }
    shmring__cons_publish(&t.c);
    expect_empty(&t);
    /* Mixed with others. */
    for (uint64_t i = 0; i < 100; i++) {
        assert_int_equal(send1(&t, (i % 3) == 0 ? 0 : i, i), 0);
        recv1(&t, (i % 3) == 0 ? 0 : i, i);
    }
    tr_close(&t);
}

static void test_commit_shorter(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 0);
    void *slot = NULL;
    assert_int_equal(shmring__prod_reserve(&t.p, 1000, &slot), 0);
    memset(slot, 0xAB, 1000);
    t_msg_fill(slot, 10, 7);
    shmring__prod_commit(&t.p, 10);
    assert_int_equal(t.p.tail, shmring__rec_size(10)); /* only the committed bytes are used */
    assert_int_equal(shmring__prod_reserve(&t.p, 1000, &slot), 0);
    assert_ptr_equal(slot, data_of(&t) + 24 + SHMRING__REC_HDR);
    shmring__prod_commit(&t.p, 0);
    assert_int_equal(send1(&t, 33, 8), 0);
    recv1(&t, 10, 7);
    recv1(&t, 0, 0);
    recv1(&t, 33, 8);
    expect_empty(&t);
    assert_int_equal(atomic_load(&t.h->head), 24 + 8 + 48);
    assert_int_equal(atomic_load(&t.h->sent_bytes), 43);
    tr_close(&t);
}

/* A reservation that needs padding, committed shorter: the padding stays (the record starts at
 * offset 0) and the consumer skips it. */
static void test_commit_shorter_after_padding(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 3000);
    const uint64_t cap = cap_of(&t);
    void *slot = NULL;
    assert_int_equal(shmring__prod_reserve(&t.p, 1000, &slot), 0);
    assert_ptr_equal(slot, data_of(&t) + SHMRING__REC_HDR);
    t_msg_fill(slot, 4, 1);
    shmring__prod_commit(&t.p, 4);
    shmring__prod_publish(&t.p);
    assert_int_equal(atomic_load(&t.h->tail), cap + 16);
    recv1(&t, 4, 1);
    expect_empty(&t);
    tr_close(&t);
}

static void test_peek_twice(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 4096, 3400); /* the second message needs padding */
    assert_int_equal(send1(&t, 100, 1), 0);
    assert_int_equal(send1(&t, 200, 2), 0);
    const void *a = NULL, *b = NULL;
    assert_int_equal(shmring__cons_peek(&t.c, &a), 100);
    assert_int_equal(shmring__cons_peek(&t.c, &b), 100);
    assert_ptr_equal(a, b);
    assert_true(t_msg_check(b, 100, 1));
    shmring__cons_consume(&t.c);
    assert_int_equal(shmring__cons_peek(&t.c, &a), 200);
    assert_int_equal(shmring__cons_peek(&t.c, &b), 200);
    assert_ptr_equal(a, b);
    assert_ptr_equal(a, data_of(&t) + SHMRING__REC_HDR);
    assert_true(t_msg_check(b, 200, 2));
    shmring__cons_consume(&t.c);
    shmring__cons_publish(&t.c);
    expect_empty(&t);
    tr_close(&t);
}

/* Many commits, one publish: the shared tail moves once, by the sum of the records. Likewise
 * many consumes and one publish of the head. */
static void test_batch_publish(void **state)
{
    (void)state;
    struct tr t;
    tr_open(&t, 8192, 0);
    uint64_t seq = 0;
    for (int round = 0; round < 20; round++) {
        uint64_t tail0 = atomic_load(&t.h->tail);
        uint64_t n = 1 + (uint64_t)round * 3;
        for (uint64_t i = 0; i < n; i++) {
            assert_int_equal(put(&t, (seq * 37) % 100, seq), 0);
            seq++;
            assert_int_equal(atomic_load(&t.h->tail), tail0);
            expect_empty(&t);
        }
        shmring__prod_publish(&t.p);
        assert_int_equal(atomic_load(&t.h->tail), t.p.tail);
        uint64_t head0 = atomic_load(&t.h->head);
        for (uint64_t i = seq - n; i < seq; i++) {
            take(&t, (i * 37) % 100, i);
            assert_int_equal(atomic_load(&t.h->head), head0);
        }
        expect_empty(&t);
        shmring__cons_publish(&t.c);
        assert_int_equal(atomic_load(&t.h->head), atomic_load(&t.h->tail));
    }
    assert_int_equal(atomic_load(&t.h->sent_msgs), seq);
    assert_int_equal(atomic_load(&t.h->recv_msgs), seq);
    tr_close(&t);
}

/* ---- corruption ------------------------------------------------------------------------------ */

static void test_corrupt_tail(void **state)
{
    (void)state;
    const uint64_t base = 5000;
    struct tr t;
    const void *msg = NULL;
    const uint64_t cap = 4096 - SHMRING_HEADER_SIZE;
    const uint64_t bad_tails[] = {
        base - 8, base - 1, 0, base + cap + 8, base + cap + 1, UINT64_MAX, base + (1ULL << 40),
    };
    for (size_t i = 0; i < sizeof bad_tails / sizeof bad_tails[0]; i++) {
        tr_open(&t, 4096, base);
        atomic_store(&t.h->tail, bad_tails[i]);
        msg = NULL;
        assert_int_equal(shmring__cons_peek(&t.c, &msg), SHMRING_EPROTO);
        assert_null(msg);
        assert_int_equal(t.c.broken, SHMRING_EPROTO);
        assert_int_equal(t.c.head, base);
        tr_close(&t);
    }
    /* After some traffic: the consumer has read everything and the tail jumps backwards. */
    tr_open(&t, 4096, base);
    for (uint64_t i = 0; i < 10; i++) {
        assert_int_equal(send1(&t, 50, i), 0);
        recv1(&t, 50, i);
    }
    atomic_store(&t.h->tail, t.c.head - 64);
    assert_int_equal(shmring__cons_peek(&t.c, &msg), SHMRING_EPROTO);
    tr_close(&t);
}

static void test_corrupt_head(void **state)
{
    (void)state;
    const uint64_t base = 3 * (4096 - SHMRING_HEADER_SIZE); /* offset 0: two max records fill it */
    struct tr t;
    void *slot = NULL;
    /* The producer reads the head only when its cached view says the ring is full. */
    const int64_t bad_heads[] = {+8, +1000, -8, -4000, INT64_MIN};
    for (size_t i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++) {
        tr_open(&t, 4096, base);
        assert_int_equal(send1(&t, 1784, 0), 0);
        assert_int_equal(send1(&t, 1784, 1), 0); /* full */
        recv1(&t, 1784, 0);
        /* Head relative to the producer's tail (+) or its cached head (-). */
        uint64_t head =
            bad_heads[i] > 0 ? t.p.tail + (uint64_t)bad_heads[i] : base + (uint64_t)bad_heads[i];
        atomic_store(&t.h->head, head);
        assert_int_equal(shmring__prod_reserve(&t.p, 16, &slot), SHMRING_EPROTO);
        assert_int_equal(t.p.broken, 1);
        tr_close(&t);
    }
    /* A head that ran backwards while staying within a ring's worth of the tail: only the
     * comparison with the cached head can tell (otherwise it would look like "full"). */
    tr_open(&t, 4096, base);
    uint64_t seq = 0, lens[4];
    fill_bytes(&t, 4096 - SHMRING_HEADER_SIZE - 8, &seq, lens);
    atomic_store(&t.h->head, base - 8);
    assert_int_equal(shmring__prod_reserve(&t.p, 8, &slot), SHMRING_EPROTO);
    tr_close(&t);
    /* A head that is merely stale or exactly at the tail is fine. */
    tr_open(&t, 4096, base);
    assert_int_equal(send1(&t, 1784, 0), 0);
    assert_int_equal(send1(&t, 1784, 1), 0);
    atomic_store(&t.h->head, t.p.tail);
    assert_int_equal(shmring__prod_reserve(&t.p, 16, &slot), 0);
    assert_int_equal(t.p.broken, 0);
    tr_close(&t);
}

/* Record headers a hostile or buggy producer could write. Each is rejected before any byte
 * beyond the data area (or beyond the published tail) is handed out. */
static void test_corrupt_records(void **state)
{
    (void)state;
    const uint64_t size = 4096, cap = size - SHMRING_HEADER_SIZE;
    const uint32_t max = (uint32_t)shmring__max_msg_for(cap);
    struct case_ {
        uint64_t off;   /* record offset in the data area (= head % cap) */
        uint64_t avail; /* published bytes from there */
        uint32_t len, tag;
        int64_t want;
    } cases[] = {
        {0, 64, 8, 0x12345678u, SHMRING_EBADMSG},              /* unknown tag */
        {0, 64, 8, 0, SHMRING_EBADMSG},                        /* zeroed memory */
        {0, 64, 8, SHMRING__REC_MSG ^ 0x100, SHMRING_EBADMSG}, /* one bit off */
        {0, cap, max + 1, SHMRING__REC_MSG,
         SHMRING_EBADMSG}, /* larger than max_msg, yet in bounds */
        {0, cap, UINT32_MAX, SHMRING__REC_MSG, SHMRING_EBADMSG},
        {0, 64, 57, SHMRING__REC_MSG, SHMRING_EBADMSG},         /* 72 bytes > 64 published */
        {0, 64, 56, SHMRING__REC_MSG, 56},                      /* exactly the published bytes */
        {cap - 16, 64, 9, SHMRING__REC_MSG, SHMRING_EBADMSG},   /* 24 bytes > 16 before the end */
        {cap - 16, 64, 8, SHMRING__REC_MSG, 8},                 /* exactly to the end */
        {cap - 64, 128, 48, SHMRING__REC_PAD, SHMRING_EBADMSG}, /* pad shorter than the rest */
        {cap - 64, 128, 64, SHMRING__REC_PAD, SHMRING_EBADMSG}, /* pad longer than the rest */
        {cap - 64, 32, 56, SHMRING__REC_PAD, SHMRING_EBADMSG},  /* pad beyond the published tail */
        {0, 64, 56, SHMRING__REC_PAD, SHMRING_EBADMSG},      /* pad that stops short of the end */
        {0, 64, cap - 8, SHMRING__REC_PAD, SHMRING_EBADMSG}, /* pad to the end, beyond the tail */
        {cap - 8, 8, UINT32_MAX, SHMRING__REC_PAD, SHMRING_EBADMSG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tr t;
        uint64_t base = 3 * cap + cases[i].off;
        tr_open(&t, size, base);
        put_rec(&t, cases[i].off, cases[i].len, cases[i].tag);
        atomic_store(&t.h->tail, base + cases[i].avail);
        const void *msg = NULL;
        int64_t got = shmring__cons_peek(&t.c, &msg);
        if (got != cases[i].want) {
            fail_msg("case %zu: peek = %lld, want %lld", i, (long long)got,
                     (long long)cases[i].want);
        }
        if (got < 0) {
            assert_null(msg);
            assert_int_equal(t.c.broken, SHMRING_EBADMSG);
            assert_int_equal(t.c.head, base); /* nothing consumed, nothing skipped */
            assert_int_equal(t.c.peek_size, 0);
        } else {
            assert_ptr_equal(msg, data_of(&t) + cases[i].off + SHMRING__REC_HDR);
        }
        tr_close(&t);
    }
    /* A valid pad followed by a bad record: skipped, then rejected. */
    struct tr t;
    tr_open(&t, size, 2 * cap - 64);
    put_rec(&t, cap - 64, 56, SHMRING__REC_PAD);
    put_rec(&t, 0, 5000, SHMRING__REC_MSG);
    atomic_store(&t.h->tail, 2 * cap + 64);
    const void *msg = NULL;
    assert_int_equal(shmring__cons_peek(&t.c, &msg), SHMRING_EBADMSG);
    tr_close(&t);
    /* A misaligned tail: the record cannot end there. */
    tr_open(&t, size, 0);
    put_rec(&t, 0, 8, SHMRING__REC_MSG);
    atomic_store(&t.h->tail, 12);
    assert_int_equal(shmring__cons_peek(&t.c, &msg), SHMRING_EBADMSG);
    tr_close(&t);
}

/* ---- randomized model test ------------------------------------------------------------------ */

/* The model: positions are recomputed from first principles (a record never wraps; if it does
 * not fit before the end, the rest is padding), and the FIFO holds what was committed. */
struct m_msg {
    uint64_t seq, len, pos; /* pos: position of the record header */
};

struct model {
    struct m_msg *q;
    uint64_t qcap, front, count, visible; /* queue indices are free-running */
    uint64_t tail, pub_tail, head, pub_head;
    int resv_open, peeked;
    uint64_t resv_len, resv_pos;
    uint8_t *resv_slot;
    uint64_t next_seq;
};

static uint64_t pick_len(uint64_t *rng, uint64_t max, int phase)
{
    uint64_t r = t_rand(rng);
    switch ((r >> 8) % 8) {
    case 0:
        return 0;
    case 1:
        return max;
    case 2:
        return (r >> 16) % 33;
    case 3:
        return max - (r >> 16) % 16;
    case 4:
        return (phase & 1) ? (r >> 16) % (max + 1) : (r >> 16) % 64;
    default:
        return (r >> 16) % (max + 1);
    }
}

static void model_run(uint64_t size, uint64_t seed, uint64_t ops)
{
    struct tr t;
    uint64_t rng = seed;
    const uint64_t cap = size - SHMRING_HEADER_SIZE;
    uint64_t base = (t_rand(&rng) % (1ULL << 40)) & ~(uint64_t)7;
    tr_open(&t, size, base);
    const uint64_t max = t.p.max_msg;
    struct model m = {0};
    m.qcap = cap / SHMRING__REC_HDR + 2;
    m.q = calloc(m.qcap, sizeof *m.q);
    assert_non_null(m.q);
    m.tail = m.pub_tail = m.head = m.pub_head = base;
    uint64_t sent = 0, received = 0, fulls = 0, empties = 0;

    for (uint64_t op = 0; op < ops; op++) {
        /* Phases favour one side so the ring swings between full and empty. */
        int phase = (int)((op / 2000) % 4);
        uint64_t r = t_rand(&rng);
        unsigned pick = (unsigned)(r % 100);
        int producer = phase == 0 ? pick < 70 : phase == 2 ? pick < 30 : pick < 50;
        unsigned sub = (unsigned)((r >> 32) % 100);
        if (producer) {
            if (!m.resv_open && sub < 60) {
                uint64_t len = sub < 2 ? max + 1 + (r >> 48) % 100 : pick_len(&rng, max, phase);
                void *slot = NULL;
                int got = shmring__prod_reserve(&t.p, len, &slot);
                if (len > max) {
                    assert_int_equal(got, SHMRING_EMSGSIZE);
                    continue;
                }
                uint64_t need = shmring__rec_size(len);
                uint64_t to_end = cap - m.tail % cap;
                uint64_t total = need <= to_end ? need : to_end + need;
                if (cap - (m.tail - m.pub_head) < total) {
                    assert_int_equal(got, SHMRING_EAGAIN);
                    t.p.resv_open = 0;
                    fulls++;
                    continue;
                }
                assert_int_equal(got, 0);
                if (need > to_end) {
                    m.tail += to_end;
                }
                assert_ptr_equal(slot, data_of(&t) + m.tail % cap + SHMRING__REC_HDR);
                assert_true((uint8_t *)slot + len <= data_of(&t) + cap);
                memset(slot, 0xA5, (size_t)len); /* stale bytes a shorter commit must hide */
                m.resv_open = 1;
                m.resv_len = len;
                m.resv_pos = m.tail;
                m.resv_slot = slot;
            } else if (m.resv_open && sub < 90) {
                uint64_t len = (r >> 40) % 4 == 0 ? (r >> 16) % (m.resv_len + 1) : m.resv_len;
                t_msg_fill(m.resv_slot, (size_t)len, m.next_seq);
                shmring__prod_commit(&t.p, len);
                assert_true(m.count < m.qcap);
                m.q[(m.front + m.count) % m.qcap] = (struct m_msg){m.next_seq, len, m.resv_pos};
                m.count++;
                m.next_seq++;
                m.tail = m.resv_pos + shmring__rec_size(len);
                m.resv_open = 0;
                sent++;
                assert_int_equal(t.p.tail, m.tail);
            } else if (m.resv_open && sub < 93) {
                t.p.resv_open = 0; /* shmring_abort: padding written by reserve stays */
                m.resv_open = 0;
            } else {
                shmring__prod_publish(&t.p);
                m.pub_tail = m.tail;
                m.visible = m.count;
                assert_int_equal(atomic_load(&t.h->tail), m.pub_tail);
            }
        } else {
            if (sub < 55) {
                const void *msg = NULL;
                int64_t got = shmring__cons_peek(&t.c, &msg);
                if (m.visible == 0) {
                    assert_int_equal(got, SHMRING_EAGAIN);
                    assert_false(m.peeked);
                    /* Whatever was published beyond the head is padding, skipped locally. */
                    assert_true(m.pub_tail - m.head < cap);
                    m.head = m.pub_tail;
                    assert_int_equal(t.c.head, m.head);
                    empties++;
                    continue;
                }
                struct m_msg *e = &m.q[m.front % m.qcap];
                assert_true(e->pos - m.head < cap); /* at most padding in between */
                m.head = e->pos;
                assert_int_equal(got, (int64_t)e->len);
                assert_ptr_equal(msg, data_of(&t) + e->pos % cap + SHMRING__REC_HDR);
                assert_true(t_msg_check(msg, (size_t)e->len, e->seq));
                assert_int_equal(t.c.head, m.head);
                m.peeked = 1;
            } else if (sub < 90) {
                if (!m.peeked) {
                    continue;
                }
                struct m_msg *e = &m.q[m.front % m.qcap];
                shmring__cons_consume(&t.c);
                m.head = e->pos + shmring__rec_size(e->len);
                m.front++;
                m.count--;
                m.visible--;
                m.peeked = 0;
                received++;
                assert_int_equal(t.c.head, m.head);
            } else {
                shmring__cons_publish(&t.c);
                m.pub_head = m.head;
                assert_int_equal(atomic_load(&t.h->head), m.pub_head);
            }
        }
    }
    /* The run must have exercised both ends, or it proves little. */
    assert_true(sent > ops / 20);
    assert_true(received > ops / 20);
    assert_true(fulls > 10);
    assert_true(empties > 10);
    free(m.q);
    tr_close(&t);
}

static void test_model_random(void **state)
{
    (void)state;
    const uint64_t sizes[] = {4096, 768, 1544, 512 + 1000, 16384};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            model_run(sizes[s], seed * 0x9E3779B97F4A7C15ULL + s, 60000);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_every_length),
        cmocka_unit_test(test_format_args),
        cmocka_unit_test(test_max_msg_formula),
        cmocka_unit_test(test_check_rejects),
        cmocka_unit_test(test_attach_rejects_bad_positions),
        cmocka_unit_test(test_empty_full),
        cmocka_unit_test(test_wrap_padding),
        cmocka_unit_test(test_padding_alone),
        cmocka_unit_test(test_full_at_wrap),
        cmocka_unit_test(test_exact_fit),
        cmocka_unit_test(test_max_msg_every_position),
        cmocka_unit_test(test_msgsize_not_eagain),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_commit_shorter),
        cmocka_unit_test(test_commit_shorter_after_padding),
        cmocka_unit_test(test_peek_twice),
        cmocka_unit_test(test_batch_publish),
        cmocka_unit_test(test_corrupt_tail),
        cmocka_unit_test(test_corrupt_head),
        cmocka_unit_test(test_corrupt_records),
        cmocka_unit_test(test_model_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
