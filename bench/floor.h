/* SPDX-License-Identifier: MIT */
/* The floor ring: a deliberately minimal SPSC ring of fixed-size slots (see floor.c). Inline, so
 * that its loops compile to what a hand-written ring would; shared by floor.c (the benchmark)
 * and prof.c (the single-process loop for cachegrind/callgrind). */
#ifndef SHMRING_BENCH_FLOOR_H
#define SHMRING_BENCH_FLOOR_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FLOOR_LINE 128

struct floor_hdr {
    _Alignas(FLOOR_LINE) _Atomic uint64_t tail; /* written by the producer only */
    _Alignas(FLOOR_LINE) _Atomic uint64_t head; /* written by the consumer only */
};
_Static_assert(sizeof(struct floor_hdr) == 2 * FLOOR_LINE, "two line pairs");

/* One process's view of one floor ring. */
struct floor_side {
    struct floor_hdr *h;
    unsigned char *slots;
    uint64_t nslots, size;
    uint64_t pos;   /* my index: tail (producer) or head (consumer), free-running */
    uint64_t off;   /* pos % nslots * size, kept incrementally */
    uint64_t other; /* cached index of the other side */
};

static inline void floor_view(struct floor_side *s, void *mem, size_t map, size_t size)
{
    memset(s, 0, sizeof *s);
    s->h = mem;
    s->slots = (unsigned char *)mem + sizeof(struct floor_hdr);
    s->size = size;
    s->nslots = (map - sizeof(struct floor_hdr)) / size;
}

static inline int floor_send(struct floor_side *p, const void *msg)
{
    if (p->pos - p->other == p->nslots) {
        /* Pairs with the consumer's release store of head: the slot has been read. */
        p->other = atomic_load_explicit(&p->h->head, memory_order_acquire);
        if (p->pos - p->other == p->nslots) {
            return -EAGAIN;
        }
    }
    memcpy(p->slots + p->off, msg, p->size);
    p->off += p->size;
    if (p->off == p->nslots * p->size) {
        p->off = 0;
    }
    /* Publishes the slot written above; pairs with the consumer's acquire load of tail. */
    atomic_store_explicit(&p->h->tail, ++p->pos, memory_order_release);
    return 0;
}

static inline int floor_recv(struct floor_side *c, void *msg)
{
    if (c->pos == c->other) {
        /* Pairs with the producer's release store of tail: the slot is complete. */
        c->other = atomic_load_explicit(&c->h->tail, memory_order_acquire);
        if (c->pos == c->other) {
            return -EAGAIN;
        }
    }
    memcpy(msg, c->slots + c->off, c->size);
    c->off += c->size;
    if (c->off == c->nslots * c->size) {
        c->off = 0;
    }
    /* Gives the slot back; pairs with the producer's acquire load of head. */
    atomic_store_explicit(&c->h->head, ++c->pos, memory_order_release);
    return 0;
}

#endif /* SHMRING_BENCH_FLOOR_H */
