/* SPDX-License-Identifier: MIT */
/* The cold half of the ring protocol: formatting, validation and attaching. */
#include <errno.h>
#include <string.h>

#include "ring.h"
#include "ring_mp.h"

uint64_t shmring__ring_default_size(uint32_t fmt_flags, long page)
{
    if (!(fmt_flags & SHMRING__F_MPSC)) {
        return SHMRING_DEFAULT_SIZE;
    }
    uint32_t nslots = fmt_flags >> SHMRING__FMT_PRODUCERS_SHIFT;
    return shmring__mp_default_size(nslots, page > 0 ? (uint64_t)page : 4096);
}

void shmring__ring_forget_peers(void *mem, uint64_t size)
{
    struct shmring__mp_view v;
    if (shmring__mp_view_init(&v, mem, size) < 0) {
        return; /* not a multi-producer ring */
    }
    /* MX10 (relaxed): alone under INIT + exclusive ATTACH, as S1; the INIT unlock publishes. */
    for (uint32_t k = 0; k < v.nslots; k++) {
        atomic_store_explicit(&v.slots[k].pid, 0, memory_order_relaxed);
        if (atomic_load_explicit(&v.slots[k].state, memory_order_relaxed) != SHMRING__PEER_NEVER) {
            atomic_store_explicit(&v.slots[k].state, SHMRING__PEER_CLOSED, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&v.hdr->mp_producers, 0, memory_order_relaxed); /* MX10 as above */
}

int shmring__ring_format(void *mem, uint64_t size, uint32_t flags)
{
    uint32_t nslots = flags >> SHMRING__FMT_PRODUCERS_SHIFT;
    flags &= (1u << SHMRING__FMT_PRODUCERS_SHIFT) - 1;
    uint64_t hsize = SHMRING_HEADER_SIZE;
    if (flags & SHMRING__F_MPSC) {
        if (nslots == 0 || nslots > SHMRING__MP_MAX_PRODUCERS || (flags & SHMRING__F_LEGACY)) {
            return SHMRING_EINVAL;
        }
        hsize = shmring__mp_header_size(nslots);
    } else if (nslots != 0) {
        return SHMRING_EINVAL;
    }
    if (mem == NULL || size < hsize + 2 * SHMRING__LINE || size % SHMRING__ALIGN != 0 ||
        size > SHMRING_MAX_SIZE) {
        return SHMRING_EINVAL;
    }
    struct shmring__hdr *h = mem;
    /* G1 (relaxed): keep counting generations across a fresh start of the same object; only
     * the initialiser, alone under the INIT and ATTACH locks, touches the header now. */
    uint64_t gen = atomic_load_explicit(&h->magic, memory_order_relaxed) == SHMRING__MAGIC
                       ? atomic_load_explicit(&h->generation, memory_order_relaxed) + 1
                       : 1;
    /* G2 (relaxed) + F0: not-ready first, ordered before the plain stores below, so that an
     * opener never sees the old version beside new fields (it waits or starts afresh on 0). */
    atomic_store_explicit(&h->version, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    memset((char *)mem + 16, 0, SHMRING_HEADER_SIZE - 16);
    if (flags & SHMRING__F_MPSC) {
        /* The slot table, and the data area: a multi-producer ring reads a zero record header
         * as "not written yet", so nothing of an earlier ring may remain. */
        memset((char *)mem + SHMRING_HEADER_SIZE, 0, size - SHMRING_HEADER_SIZE);
        struct shmring__mp_slot *slots =
            (struct shmring__mp_slot *)((char *)mem + SHMRING__MP_SLOTS_OFF);
        /* MX9 (relaxed): "no claim in flight" in every slot; published by R0 below. */
        for (uint32_t k = 0; k < nslots; k++) {
            atomic_store_explicit(&slots[k].pend_pos, SHMRING__MP_NONE, memory_order_relaxed);
        }
    }
    h->header_size = (uint32_t)hsize;
    h->total_size = size;
    h->capacity = size - hsize;
    h->max_msg = (uint32_t)shmring__max_msg_for(h->capacity);
    h->flags = flags;
    h->max_producers = nslots;
    /* G3 (relaxed): published by R0 below. */
    atomic_store_explicit(&h->generation, gen, memory_order_relaxed);
    atomic_store_explicit(&h->magic, SHMRING__MAGIC, memory_order_relaxed);
    /* R0: publishes every header field above; pairs with A0 in shmring__ring_check(). */
    atomic_store_explicit(&h->version, SHMRING_LAYOUT_VERSION, memory_order_release);
    return 0;
}

int shmring__ring_check(const void *mem, uint64_t size)
{
    if (mem == NULL || size < SHMRING_HEADER_SIZE + 2 * SHMRING__LINE ||
        size % SHMRING__ALIGN != 0 || size > SHMRING_MAX_SIZE) {
        return SHMRING_EPROTO;
    }
    /* The fields are read through a cast-away const only for the atomic loads. */
    struct shmring__hdr *h = (struct shmring__hdr *)(uintptr_t)mem;
    /* A0: pairs with R0 in shmring__ring_format(): the fields below are complete. */
    uint32_t version = atomic_load_explicit(&h->version, memory_order_acquire);
    /* G4 (relaxed): ordered after A0; magic is written before R0 and never again. */
    uint64_t magic = atomic_load_explicit(&h->magic, memory_order_relaxed);
    if (version == 0 && (magic == 0 || magic == SHMRING__MAGIC)) {
        return SHMRING_EAGAIN;
    }
    if (magic != SHMRING__MAGIC || version != SHMRING_LAYOUT_VERSION) {
        return SHMRING_EPROTO;
    }
    volatile const struct shmring__hdr *v = h; /* each field read once, then checked */
    uint64_t capacity = v->capacity;
    uint32_t flags = v->flags;
    uint32_t nslots = v->max_producers;
    uint64_t hsize = SHMRING_HEADER_SIZE;
    if (flags & SHMRING__F_MPSC) {
        if (nslots == 0 || nslots > SHMRING__MP_MAX_PRODUCERS || (flags & SHMRING__F_LEGACY)) {
            return SHMRING_EPROTO;
        }
        hsize = shmring__mp_header_size(nslots);
    } else if (nslots != 0) {
        return SHMRING_EPROTO;
    }
    if (v->header_size != hsize || size < hsize + 2 * SHMRING__LINE || v->total_size != size ||
        capacity != size - hsize || v->max_msg != shmring__max_msg_for(capacity) ||
        (flags & ~(uint32_t)(SHMRING__F_PERSIST | SHMRING__F_LEGACY | SHMRING__F_MPSC)) != 0) {
        return SHMRING_EPROTO;
    }
    return 0;
}

static void view(struct shmring__hdr *h, uint64_t size, uint8_t **data, uint64_t *cap,
                 uint64_t *max_msg)
{
    /* The bounds come from the size of our own mapping, never from the header again: a peer
     * that scribbles on the header after the check cannot move them. */
    *data = (uint8_t *)h + SHMRING_HEADER_SIZE;
    *cap = size - SHMRING_HEADER_SIZE;
    *max_msg = shmring__max_msg_for(*cap);
}

static int positions_ok(uint64_t head, uint64_t tail, uint64_t cap)
{
    return tail - head <= cap && head % SHMRING__ALIGN == 0 && tail % SHMRING__ALIGN == 0;
}

int shmring__prod_attach(struct shmring__prod *p, void *mem, uint64_t size)
{
    memset(p, 0, sizeof *p);
    p->hdr = mem;
    view(p->hdr, size, &p->data, &p->cap, &p->max_msg);
    /* A4: pairs with R1 of an earlier producer and R2 of the consumer: we continue from the
     * committed tail, so a reserved-but-uncommitted record of a dead producer is overwritten. */
    uint64_t tail = atomic_load_explicit(&p->hdr->tail, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&p->hdr->head, memory_order_acquire);
    if (!positions_ok(head, tail, p->cap)) {
        return SHMRING_EPROTO;
    }
    p->tail = tail;
    p->widx = tail % p->cap;
    p->head_cache = head;
    /* C1 (relaxed): counters continue from the shared values; only this producer writes them
     * from now on, and the role lock hand-over ordered the previous producer's stores. */
    p->sent_msgs = atomic_load_explicit(&p->hdr->sent_msgs, memory_order_relaxed);
    p->sent_bytes = atomic_load_explicit(&p->hdr->sent_bytes, memory_order_relaxed);
    p->full_events = atomic_load_explicit(&p->hdr->full_events, memory_order_relaxed);
    return 0;
}

int shmring__cons_attach(struct shmring__cons *c, void *mem, uint64_t size)
{
    memset(c, 0, sizeof *c);
    c->hdr = mem;
    view(c->hdr, size, &c->data, &c->cap, &c->max_msg);
    /* A5: pairs with R2 of an earlier consumer and R1 of the producer. */
    uint64_t head = atomic_load_explicit(&c->hdr->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&c->hdr->tail, memory_order_acquire);
    if (!positions_ok(head, tail, c->cap)) {
        return SHMRING_EPROTO;
    }
    c->head = head;
    c->ridx = head % c->cap;
    c->tail_cache = head; /* forces a fresh read of tail on the first peek */
    /* C2 (relaxed): as C1, for the consumer's counters. */
    c->recv_msgs = atomic_load_explicit(&c->hdr->recv_msgs, memory_order_relaxed);
    c->recv_bytes = atomic_load_explicit(&c->hdr->recv_bytes, memory_order_relaxed);
    c->empty_events = atomic_load_explicit(&c->hdr->empty_events, memory_order_relaxed);
    return 0;
}
