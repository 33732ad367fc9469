/* SPDX-License-Identifier: MIT */
/* The SPSC ring protocol over a caller-given byte region laid out as in layout.h. It knows
 * nothing of names, files or processes and makes no system call, so the same code runs over
 * heap memory in unit tests, over arbitrary bytes in the fuzzer and over a shared mapping. */
#ifndef SHMRING_RING_H
#define SHMRING_RING_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "layout.h"

/* Writes a fresh header into mem[0..size) (size >= 1024, a multiple of 8) and publishes its
 * version last. flags: SHMRING__F_*, and for SHMRING__F_MPSC the number of producer slots
 * shifted by SHMRING__FMT_PRODUCERS_SHIFT (a multi-producer ring's data area is zeroed too).
 * Returns 0 or SHMRING_EINVAL. */
#define SHMRING__FMT_PRODUCERS_SHIFT 16
int shmring__ring_format(void *mem, uint64_t size, uint32_t flags);

/* Bytes of a mapping created with size 0, for shmring__ring_format's flags argument. */
uint64_t shmring__ring_default_size(uint32_t fmt_flags, long page);

/* A persistent ring reopened by a process alone on it: forget the producer slots' holders of
 * an earlier session (their pids and states; the kernel locks are gone anyway). */
void shmring__ring_forget_peers(void *mem, uint64_t size);

/* Checks every header field of mem[0..size) against size without trusting any of them.
 * 0: valid; SHMRING_EPROTO: not a shmring header, a different layout version or inconsistent sizes;
 * SHMRING_EAGAIN: the version is still 0 (not initialised yet). */
int shmring__ring_check(const void *mem, uint64_t size);

/* The producer's process-local view. The shared tail is written only through it. */
struct shmring__prod {
    struct shmring__hdr *hdr;
    uint8_t *data;
    uint64_t cap; /* data-area bytes */
    uint64_t max_msg;
    uint64_t tail;       /* next write position (the shared tail once published) */
    uint64_t widx;       /* tail % cap, kept incrementally */
    uint64_t head_cache; /* last head read from the consumer's line */
    uint64_t resv_len;   /* payload bytes of the open reservation */
    int resv_open;
    int broken; /* a corrupt index was seen: every call fails with SHMRING_EPROTO */
    uint64_t sent_msgs, sent_bytes, full_events; /* mirrored to the header on publish */
};

/* The consumer's process-local view. The shared head is written only through it. */
struct shmring__cons {
    struct shmring__hdr *hdr;
    uint8_t *data;
    uint64_t cap;
    uint64_t max_msg;
    uint64_t head;       /* next read position (the shared head once published) */
    uint64_t ridx;       /* head % cap */
    uint64_t tail_cache; /* last tail read from the producer's line */
    uint64_t peek_size;  /* record bytes of the peeked message; 0 = none */
    uint64_t peek_len;   /* its payload bytes */
    int broken;          /* SHMRING_EPROTO or SHMRING_EBADMSG once corruption was seen, else 0 */
    int dirty;           /* head moved past padding but is not published yet */
    uint64_t recv_msgs, recv_bytes, empty_events;
};

/* Attach to mem[0..size) whose header shmring__ring_check() accepted. SHMRING_EPROTO if the shared
 * indices are inconsistent. */
int shmring__prod_attach(struct shmring__prod *p, void *mem, uint64_t size);
int shmring__cons_attach(struct shmring__cons *c, void *mem, uint64_t size);

/* The hot path is inline so that shmring_send/recv compile to straight-line code. The functions
 * below copy the fields they use into locals and store them back once: the shared-memory stores
 * (atomics, volatile record headers) could alias the view as far as the compiler knows, so
 * reading fields after them would reload each one. */

/* Copies n bytes. Messages of 16 bytes or less, the common size of small messages, take two
 * possibly overlapping loads and stores instead of a call into the C library, which is a third
 * of a small message's cost. Never touches a byte outside [src, src + n) or [dst, dst + n). */
static inline void shmring__copy(void *dst, const void *src, uint64_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (n > 16) {
        memcpy(d, s, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {
        unsigned char a = s[0], b = s[n / 2], c = s[n - 1];
        d[0] = a;
        d[n / 2] = b;
        d[n - 1] = c;
    }
}

/* Producer: makes room for a len-byte payload, contiguous and 8-byte aligned, at
 * p->data + p->widx + SHMRING__REC_HDR (writing a padding record first when the end of the data
 * area is too close). 0, SHMRING_EAGAIN full, SHMRING_EMSGSIZE len > max_msg, SHMRING_EPROTO
 * corrupt head. */
static inline int shmring__prod_room(struct shmring__prod *p, uint64_t len)
{
    if (len > p->max_msg) {
        return SHMRING_EMSGSIZE;
    }
    const uint64_t cap = p->cap;
    const uint64_t tail = p->tail;
    const uint64_t widx = p->widx;
    const uint64_t need = shmring__rec_size(len);
    const uint64_t to_end = cap - widx;
    const uint64_t total = need <= to_end ? need : to_end + need; /* padding, then the record */
    if (cap - (tail - p->head_cache) < total) {
        /* A1: pairs with R2 in shmring__cons_publish(): the consumer has finished reading every
         * byte before head, so they may be overwritten. */
        uint64_t head = atomic_load_explicit(&p->hdr->head, memory_order_acquire);
        if (tail - head > cap || head - p->head_cache > cap) {
            p->broken = 1; /* head ran backwards or past tail: the consumer's line is corrupt */
            return SHMRING_EPROTO;
        }
        p->head_cache = head;
        if (cap - (tail - head) < total) {
            p->full_events++;
            return SHMRING_EAGAIN;
        }
    }
    if (need > to_end) {
        volatile struct shmring__rec *pad = (volatile struct shmring__rec *)(p->data + widx);
        pad->len = (uint32_t)(to_end - SHMRING__REC_HDR);
        pad->tag = SHMRING__REC_PAD;
        p->tail = tail + to_end;
        p->widx = 0;
    }
    return 0;
}

/* Producer: shmring__prod_room(), then opens a reservation at *slot. The caller checks that no
 * reservation is open. */
static inline int shmring__prod_reserve(struct shmring__prod *p, uint64_t len, void **slot)
{
    int err = shmring__prod_room(p, len);
    if (err != 0) {
        return err;
    }
    p->resv_len = len;
    p->resv_open = 1;
    *slot = p->data + p->widx + SHMRING__REC_HDR;
    return 0;
}

/* Producer: completes a len-byte record at widx whose room was made (not yet visible). */
static inline void shmring__prod_commit(struct shmring__prod *p, uint64_t len)
{
    const uint64_t widx = p->widx;
    const uint64_t size = shmring__rec_size(len);
    volatile struct shmring__rec *rec = (volatile struct shmring__rec *)(p->data + widx);
    rec->len = (uint32_t)len;
    rec->tag = SHMRING__REC_MSG;
    p->tail += size;
    p->widx = widx + size == p->cap ? 0 : widx + size;
    p->resv_open = 0;
    p->sent_msgs++;
    p->sent_bytes += len;
}

/* Producer: makes every commit so far visible to the consumer (one release store). */
static inline void shmring__prod_publish(struct shmring__prod *p)
{
    struct shmring__hdr *h = p->hdr;
    const uint64_t tail = p->tail;
    /* C3 (relaxed): only the producer writes these counters; readers (C9) take a snapshot. */
    atomic_store_explicit(&h->sent_msgs, p->sent_msgs, memory_order_relaxed);
    atomic_store_explicit(&h->sent_bytes, p->sent_bytes, memory_order_relaxed);
    /* R1: publishes the record headers and payloads written above; pairs with A2 in
     * shmring__cons_next(). */
    atomic_store_explicit(&h->tail, tail, memory_order_release);
}

/* Consumer: finds the oldest message without removing it. Returns its length and sets *msg to
 * its payload and *size to its record bytes; SHMRING_EAGAIN when empty, SHMRING_EBADMSG for a
 * malformed record, SHMRING_EPROTO for a corrupt tail. A padding record on the way is skipped
 * (c->dirty says the head moved). Every value read from the ring is read once into a local and
 * checked before use: the producer may be hostile. */
static inline int64_t shmring__cons_next(struct shmring__cons *c, const void **msg, uint64_t *size)
{
    const uint64_t cap = c->cap;
    uint64_t head = c->head;
    uint64_t ridx = c->ridx;
    uint64_t tail = c->tail_cache;
    for (;;) {
        if (head == tail) {
            /* A2: pairs with R1 in shmring__prod_publish(): records before tail are complete. */
            tail = atomic_load_explicit(&c->hdr->tail, memory_order_acquire);
            if (tail - head > cap || tail - c->tail_cache > cap) {
                c->broken = SHMRING_EPROTO; /* tail ran backwards or too far: the producer's line */
                return SHMRING_EPROTO;
            }
            c->tail_cache = tail;
            if (tail == head) {
                return SHMRING_EAGAIN;
            }
        }
        const uint64_t avail = tail - head;
        const uint64_t to_end = cap - ridx;
        volatile const struct shmring__rec *rec =
            (volatile const struct shmring__rec *)(c->data + ridx);
        const uint32_t len = rec->len;
        const uint32_t tag = rec->tag;
        if (tag == SHMRING__REC_MSG) {
            const uint64_t rsize = shmring__rec_size(len);
            if (len > c->max_msg || rsize > to_end || rsize > avail) {
                c->broken = SHMRING_EBADMSG;
                return SHMRING_EBADMSG;
            }
            *size = rsize;
            *msg = c->data + ridx + SHMRING__REC_HDR;
            return (int64_t)len;
        }
        /* Padding at offset 0 would span the whole data area: no producer writes it (a record
         * needs at most capacity / 2 bytes, so it always fits at 0). Refusing it also bounds
         * this loop to one skip per call: otherwise a hostile producer that keeps adding the
         * capacity to tail could hold a non-blocking call here indefinitely. */
        if (tag != SHMRING__REC_PAD || len != to_end - SHMRING__REC_HDR || to_end > avail ||
            ridx == 0) {
            c->broken = SHMRING_EBADMSG;
            return SHMRING_EBADMSG;
        }
        head += to_end; /* skip the padding; after it ridx is 0, so no second skip follows */
        ridx = 0;
        c->head = head;
        c->ridx = 0;
        c->dirty = 1;
    }
}

/* Consumer: shmring__cons_next(), remembering the message for shmring__cons_consume(). */
static inline int64_t shmring__cons_peek(struct shmring__cons *c, const void **msg)
{
    uint64_t size;
    int64_t len = shmring__cons_next(c, msg, &size);
    if (len >= 0) {
        c->peek_size = size;
        c->peek_len = (uint64_t)len;
    }
    return len;
}

/* Consumer: removes the message shmring__cons_next() found (size record bytes, len payload
 * bytes) locally; not yet visible to the producer. */
static inline void shmring__cons_advance(struct shmring__cons *c, uint64_t size, uint64_t len)
{
    const uint64_t ridx = c->ridx + size;
    c->head += size;
    c->ridx = ridx == c->cap ? 0 : ridx;
    c->recv_msgs++;
    c->recv_bytes += len;
    c->dirty = 1;
}

/* Consumer: removes the peeked message locally. */
static inline void shmring__cons_consume(struct shmring__cons *c)
{
    shmring__cons_advance(c, c->peek_size, c->peek_len);
    c->peek_size = 0;
}

/* Consumer: gives the consumed bytes back to the producer (one release store). */
static inline void shmring__cons_publish(struct shmring__cons *c)
{
    struct shmring__hdr *h = c->hdr;
    const uint64_t head = c->head;
    c->dirty = 0;
    /* C4 (relaxed): only the consumer writes these counters; readers (C9) take a snapshot. */
    atomic_store_explicit(&h->recv_msgs, c->recv_msgs, memory_order_relaxed);
    atomic_store_explicit(&h->recv_bytes, c->recv_bytes, memory_order_relaxed);
    /* R2: tells the producer that every byte before head has been read; pairs with A1 in
     * shmring__prod_room(). */
    atomic_store_explicit(&h->head, head, memory_order_release);
}

#endif /* SHMRING_RING_H */
