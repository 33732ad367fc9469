/* SPDX-License-Identifier: MIT */
/* The cold half of the multi-producer protocol: views, attaching, batches and the consumer's
 * handling of a record that stays uncommitted (docs/mpsc.md, "A claimer that dies"). */
#include <errno.h>
#include <string.h>

#include "ring_mp.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* Does the CPU have PREFETCHW (see shmring__mp_prefetch_w)? */
static int cpu_has_prefetchw(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8)) != 0;
#else
    return 0;
#endif
}

int shmring__mp_view_init(struct shmring__mp_view *v, void *mem, uint64_t size)
{
    memset(v, 0, sizeof *v);
    struct shmring__hdr *h = mem;
    /* Read once and checked against our own mapping size: ring_check accepted the header, but
     * a peer may have scribbled on it since. */
    volatile const struct shmring__hdr *vh = h;
    uint32_t flags = vh->flags;
    uint32_t nslots = vh->max_producers;
    if (!(flags & SHMRING__F_MPSC) || nslots == 0 || nslots > SHMRING__MP_MAX_PRODUCERS ||
        size < shmring__mp_header_size(nslots) + 2 * SHMRING__LINE || size % SHMRING__ALIGN != 0) {
        return SHMRING_EPROTO;
    }
    uint64_t hsize = shmring__mp_header_size(nslots);
    v->hdr = h;
    v->ext = (struct shmring__mp_ext *)((uint8_t *)mem + SHMRING__MP_EXT_OFF);
    v->slots = (struct shmring__mp_slot *)((uint8_t *)mem + SHMRING__MP_SLOTS_OFF);
    v->data = (uint8_t *)mem + hsize;
    v->cap = size - hsize;
    v->max_msg = shmring__max_msg_for(v->cap);
    v->nslots = nslots;
    return 0;
}

/* Readings of the three positions before an attach gives up on a ring whose positions keep
 * moving and never agree (see positions()). */
#define POSITIONS_TRIES 64

/* zeroed, head and claim as a consistent triple: zeroed <= head <= claim <= zeroed + cap, all
 * aligned. */
static int positions(const struct shmring__mp_view *v, uint64_t *zeroed, uint64_t *head,
                     uint64_t *claim)
{
    /* The three loads are not one snapshot. A process delayed between them (a loaded machine)
     * reads a `zeroed` that the live consumer has since moved on by laps, and the `claim` after
     * it then looks more than a data area ahead: a healthy ring refused an attach with
     * SHMRING_EPROTO (found by an attack that killed and reopened producers every 1.5 ms on a
     * 4 KiB ring: one open in a few hundred). So a reading that disagrees is taken again; only
     * one that disagrees twice with the same values, or POSITIONS_TRIES times, is corrupt. */
    uint64_t last[3] = {1, 1, 1}; /* misaligned: no real reading equals it */
    for (int tries = 0; tries < POSITIONS_TRIES; tries++) {
        /* MA4: pairs with MR12 (zeroed), MR16 (head) and MR2, MR9 (claim) of the other
         * processes: we continue from their state. */
        *zeroed = atomic_load_explicit(&v->hdr->zeroed, memory_order_acquire);
        *head = atomic_load_explicit(&v->hdr->head, memory_order_acquire);
        *claim = atomic_load_explicit(&v->ext->claim, memory_order_acquire);
        if (*claim - *zeroed <= v->cap && *head - *zeroed <= *claim - *zeroed &&
            *zeroed % SHMRING__ALIGN == 0 && *head % SHMRING__ALIGN == 0 &&
            *claim % SHMRING__ALIGN == 0) {
            return 0;
        }
        if (*zeroed == last[0] && *head == last[1] && *claim == last[2]) {
            break; /* nothing moved: the positions themselves disagree */
        }
        last[0] = *zeroed;
        last[1] = *head;
        last[2] = *claim;
    }
    return SHMRING_EPROTO;
}

int shmring__mprod_attach(struct shmring__mprod *p, void *mem, uint64_t size, uint32_t slot)
{
    memset(p, 0, sizeof *p);
    int err = shmring__mp_view_init(&p->v, mem, size);
    if (err < 0) {
        return err;
    }
    if (slot >= p->v.nslots) {
        return SHMRING_EINVAL;
    }
    uint64_t zeroed, head, claim;
    if ((err = positions(&p->v, &zeroed, &head, &claim)) < 0) {
        return err;
    }
    p->slot = slot;
    p->me = &p->v.slots[slot];
    p->head_cache = zeroed;
    p->last_pos = zeroed;
    p->last_idx = zeroed % p->v.cap;
    p->pf_dist = p->v.cap >= 4 * SHMRING__MP_PREFETCH ? SHMRING__MP_PREFETCH : 0;
    p->pf_write = cpu_has_prefetchw();
    /* Only the holder writes its slot, and we hold it now (its lock). A new epoch tells the
     * consumer that a CLAIMED record naming the previous epoch belongs to a dead process. */
    /* MX5 (relaxed): only the holder writes epoch and pend_size; MR7 below publishes them to
     * the consumer (epoch is read by MX7, pend_size by MA8). */
    uint32_t epoch = atomic_load_explicit(&p->me->epoch, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->me->epoch, epoch, memory_order_relaxed);
    p->claimed_tag = SHMRING__REC_CLAIMED | slot << 16 | (epoch & 0xffffu);
    atomic_store_explicit(&p->me->pend_size, 0, memory_order_relaxed);
    /* MS11 (relaxed): a dead solo holder may have left in_claim set, and a revoker waits for
     * every live slot whose in_claim is set (solo_attach in shmring_mp.c): we are in no claim.
     * Nothing is published by it; a revoker that still reads the old 1 looks again. */
    atomic_store_explicit(&p->me->in_claim, 0, memory_order_relaxed);
    /* MR7: the dead predecessor's announcement no longer makes the consumer wait for us. */
    shmring__mprod_unannounce(p);
    /* MC3 (relaxed): the counters continue; the slot lock's hand-over ordered them. */
    p->sent_msgs = atomic_load_explicit(&p->me->sent_msgs, memory_order_relaxed);
    p->sent_bytes = atomic_load_explicit(&p->me->sent_bytes, memory_order_relaxed);
    p->full_events = atomic_load_explicit(&p->me->full_events, memory_order_relaxed);
    return 0;
}

void shmring__mprod_detach(struct shmring__mprod *p)
{
    if (p->me == NULL) {
        return;
    }
    if (p->resv_open) {
        shmring__mprod_abort(p);
    }
    if (p->solo) {
        shmring__mprod_solo_ungrant(p); /* the next lone producer needs no revocation */
    }
    /* MC4 (relaxed): statistics; only the slot's holder writes them. Then MR7. */
    atomic_store_explicit(&p->me->full_events, p->full_events, memory_order_relaxed);
    shmring__mprod_unannounce(p);
}

int shmring__mprod_solo_grant(struct shmring__mprod *p, int by_count)
{
    struct shmring__hdr *h = p->v.hdr;
    /* MX12 (relaxed): a cheap filter only; MS6 below decides. */
    if (by_count && atomic_load_explicit(&h->mp_producers, memory_order_relaxed) != 1) {
        return 0;
    }
    uint32_t none = 0;
    /* MS5: the grant, seq_cst: ordered before MS6, and pairs with MS7 of a producer that
     * attaches now (it increments the count, then reads `solo`): in the single total order
     * either MS6 sees its increment, or its MS7 comes after this grant and revokes it. */
    if (!atomic_compare_exchange_strong_explicit(&p->v.ext->solo, &none, p->claimed_tag,
                                                 memory_order_seq_cst, memory_order_relaxed)) {
        return 0; /* someone holds it, or a peer wrote garbage: stay with the CAS */
    }
    /* MS6: is this producer still the only one counted? seq_cst, after MS5; also acquire of
     * MR17, so the claims of every producer that has left are visible before our first plain
     * store to `claim`. */
    if (by_count && atomic_load_explicit(&h->mp_producers, memory_order_seq_cst) != 1) {
        shmring__mprod_solo_ungrant(p);
        return 0;
    }
    p->solo = 1;
    return 1;
}

void shmring__mprod_solo_ungrant(struct shmring__mprod *p)
{
    uint32_t mine = p->claimed_tag;
    /* MS10: release: our last claim (MR18) before `solo` is free, for the producer that is
     * granted it next (its MS5 CAS reads this); fails harmlessly if a revoker cleared it. */
    atomic_compare_exchange_strong_explicit(&p->v.ext->solo, &mine, 0, memory_order_release,
                                            memory_order_relaxed);
    p->solo = 0;
}

uint32_t shmring__mp_solo_revoke(const struct shmring__mp_view *v, uint32_t my_tag)
{
    /* MS7: seq_cst, after this producer's increment of `mp_producers` (MX11): see MS5. */
    uint32_t tag = atomic_load_explicit(&v->ext->solo, memory_order_seq_cst);
    if (tag == 0 || tag == my_tag) {
        return 0;
    }
    /* MS7 as above: cleared before the heavy barrier (MS8), so the holder's next MS3 sees it.
     * Lost: another revoker cleared it (we wait for the same holder all the same). */
    uint32_t seen = tag;
    atomic_compare_exchange_strong_explicit(&v->ext->solo, &seen, 0, memory_order_seq_cst,
                                            memory_order_seq_cst);
    return tag;
}

int shmring__mp_in_claim(const struct shmring__mp_view *v, uint32_t slot)
{
    if (slot >= v->nslots) {
        return 0;
    }
    /* MS9: pairs with MS4 (and MS1, through the heavy barrier MS8): 0 means the slot's holder is
     * out of its claim and its last MR18 is visible. */
    return atomic_load_explicit(&v->slots[slot].in_claim, memory_order_acquire) != 0;
}

int shmring__mcons_attach(struct shmring__mcons *c, void *mem, uint64_t size)
{
    memset(c, 0, sizeof *c);
    int err = shmring__mp_view_init(&c->v, mem, size);
    if (err < 0) {
        return err;
    }
    uint64_t zeroed, head, claim;
    if ((err = positions(&c->v, &zeroed, &head, &claim)) < 0) {
        return err;
    }
    c->head = head;
    c->ridx = head % c->v.cap;
    /* A consumer that died may have left read records not zeroed yet: the first publish
     * zeroes them (they stay read: head is where we continue). */
    c->zeroed = zeroed;
    c->zidx = zeroed % c->v.cap;
    c->claim_cache = head; /* forces a fresh read of claim on the first peek */
    c->pf_on = c->v.cap >= 4 * SHMRING__MP_PREFETCH;
    c->pf_claim = c->pf_on ? claim : head; /* off: the gate never opens (head only grows) */
    c->pf_write = cpu_has_prefetchw();
    c->stall_pos = SHMRING__MP_NONE;
    c->idle_pos = SHMRING__MP_NONE;
    struct shmring__hdr *h = c->v.hdr;
    /* MC6 (relaxed): the counters continue; the consumer lock's hand-over ordered them. */
    c->recv_msgs = atomic_load_explicit(&h->recv_msgs, memory_order_relaxed);
    c->recv_bytes = atomic_load_explicit(&h->recv_bytes, memory_order_relaxed);
    c->empty_events = atomic_load_explicit(&h->empty_events, memory_order_relaxed);
    return 0;
}

/* A batch's claim ends without a claim: out of the solo holder's claim first. */
static int batch_out(struct shmring__mprod *p, int solo, int ret)
{
    if (solo) {
        shmring__mprod_solo_exit(p);
    }
    return ret;
}

int shmring__mprod_send_batch(struct shmring__mprod *p, const struct shmring_buf *msgs, size_t n)
{
    const uint64_t cap = p->v.cap;
    /* The messages that may go at all: up to the first invalid or oversized one. */
    size_t m = 0;
    for (; m < n && m < (size_t)INT32_MAX; m++) {
        if (msgs[m].base == NULL && msgs[m].len != 0) {
            if (m == 0) {
                return SHMRING_EINVAL;
            }
            break;
        }
        if (msgs[m].len > p->v.max_msg) {
            if (m == 0) {
                return SHMRING_EMSGSIZE;
            }
            break;
        }
    }
    if (m == 0) {
        return 0;
    }
    struct shmring__mp_ext *e = p->v.ext;
    const int solo = p->solo && shmring__mprod_solo_enter(p); /* as in shmring__mprod_claim */
    /* MX3 (relaxed): the CAS (MR9) checks it, as in shmring__mprod_claim(). */
    uint64_t c = atomic_load_explicit(&e->claim, memory_order_relaxed);
    size_t k = 0;
    uint64_t total = 0, idx = 0, gap = 0;
    uint64_t wrap_at = UINT64_MAX; /* the message after padding to the end */
    int announced = 0;
    for (unsigned tries = 0;; tries++) {
        if (tries == SHMRING__MP_CAS_TRIES || c % SHMRING__ALIGN != 0) {
            if (announced) {
                shmring__mprod_unannounce(p);
            }
            if (c % SHMRING__ALIGN != 0) {
                p->broken = 1;
                return batch_out(p, solo, SHMRING_EPROTO);
            }
            return batch_out(p, solo, 0);
        }
        /* Room: from the cached head, re-read once when it is not enough for all of them. */
        uint64_t room = 0;
        for (int fresh = 0; fresh < 2; fresh++) {
            if (fresh) {
                int r = shmring__mprod_room(p, c, cap); /* refreshes head_cache */
                if (r == 1 || r == SHMRING_EPROTO) {
                    room = r == 1 ? UINT64_MAX : 0;
                    if (r == SHMRING_EPROTO) {
                        if (announced) {
                            shmring__mprod_unannounce(p);
                        }
                        return batch_out(p, solo, SHMRING_EPROTO);
                    }
                    break;
                }
            }
            /* A head_cache many laps old says nothing: then only a fresh head does. */
            room = c - p->head_cache <= cap ? cap - (c - p->head_cache) : 0;
            idx = shmring__mprod_offset(p, c);
            /* After another producer's claim, start on a fresh line (see mprod_claim); the
             * padding fits before the end, as the data area is a multiple of a line. */
            gap = c == p->last_pos ? 0
                                   : (SHMRING__MP_LINE - idx % SHMRING__MP_LINE) % SHMRING__MP_LINE;
            uint64_t q = idx + gap == cap ? 0 : idx + gap;
            total = gap;
            wrap_at = UINT64_MAX;
            for (k = 0; k < m; k++) {
                const uint64_t need = shmring__rec_size(msgs[k].len);
                uint64_t step = need;
                if (need > cap - q) {
                    if (wrap_at != UINT64_MAX) {
                        break; /* a second wrap: more than the whole data area */
                    }
                    step += cap - q;
                }
                if (total + step > room) {
                    break;
                }
                if (need > cap - q) {
                    wrap_at = k;
                    q = 0;
                }
                total += step;
                q += need;
                if (q == cap) {
                    q = 0;
                }
            }
            if (k == m) {
                break;
            }
        }
        if (room == UINT64_MAX) { /* c is older than head: read it again */
            /* MX3 as above. */
            c = atomic_load_explicit(&e->claim, memory_order_relaxed);
            continue;
        }
        if (k == 0) {
            if (announced) {
                shmring__mprod_unannounce(p);
            }
            p->full_events++;
            return batch_out(p, solo, 0);
        }
        /* MR8: the announcement, as MR1 in shmring__mprod_claim(); pairs with MA8. */
        atomic_store_explicit(&p->me->pend_size, total, memory_order_release);
        atomic_store_explicit(&p->me->pend_pos, c, memory_order_release);
        announced = 1;
        if (solo) {
            /* MR18 as in shmring__mprod_claim_loop(). */
            atomic_store_explicit(&e->claim, c + total, memory_order_release);
            shmring__mprod_solo_exit(p);
            break;
        }
        /* MR9: the claim, as MR2; pairs with MA3, MA4, MA5, MA11. */
        if (atomic_compare_exchange_strong_explicit(&e->claim, &c, c + total, memory_order_release,
                                                    memory_order_relaxed)) {
            break;
        }
    }
    uint8_t *data = p->v.data;
    uint64_t q = idx, bytes = 0;
    if (gap != 0) {
        /* MR10: padding up to the line; pairs with MA2, MA6. */
        atomic_store_explicit(shmring__mp_word(data, q),
                              shmring__mp_rec_word(gap - SHMRING__REC_HDR, SHMRING__REC_PAD),
                              memory_order_release);
        q = q + gap == cap ? 0 : q + gap;
    }
    for (size_t i = 0; i < k; i++) {
        const uint64_t len = msgs[i].len;
        const uint64_t need = shmring__rec_size(len);
        if (i == wrap_at) {
            /* MR10 as above: padding to the end of the data area. */
            atomic_store_explicit(
                shmring__mp_word(data, q),
                shmring__mp_rec_word(cap - q - SHMRING__REC_HDR, SHMRING__REC_PAD),
                memory_order_release);
            q = 0;
        }
        /* MX4 (relaxed): CLAIMED before the payload, as MX2 in shmring__mprod_claim(): should
         * we die while copying, the consumer skips this record and the unwritten rest of the
         * claim. */
        atomic_store_explicit(shmring__mp_word(data, q), shmring__mp_rec_word(need, p->claimed_tag),
                              memory_order_relaxed);
        shmring__copy(data + q + SHMRING__REC_HDR, msgs[i].base, len);
        /* MR11: commits this message; pairs with MA2 in shmring__mcons_next() and MA6, MA7,
         * MA9 in shmring__mcons_resolve(). */
        atomic_store_explicit(shmring__mp_word(data, q),
                              shmring__mp_rec_word(len, SHMRING__REC_MSG), memory_order_release);
        bytes += len;
        q += need;
        if (q == cap) {
            q = 0;
        }
    }
    p->last_pos = c + total;
    p->last_idx = q;
    p->sent_msgs += k;
    p->sent_bytes += bytes;
    /* MC2 (relaxed): statistics, as MC1. */
    atomic_store_explicit(&p->me->sent_msgs, p->sent_msgs, memory_order_relaxed);
    atomic_store_explicit(&p->me->sent_bytes, p->sent_bytes, memory_order_relaxed);
    return (int)k;
}

/* Drops [head, head + n) of the data area (n > 0, not past its end): head moved (the bytes are
 * zeroed by the next publish). */
static void skip_dead(struct shmring__mcons *c, uint64_t n)
{
    c->head += n;
    c->ridx = c->ridx + n == c->v.cap ? 0 : c->ridx + n;
    c->dirty = 1;
    c->dead_claims++;
    c->dead_bytes += n;
}

int shmring__mcons_resolve(struct shmring__mcons *c, shmring__mp_alive_fn alive, void *ctx)
{
    const uint64_t cap = c->v.cap;
    uint8_t *data = c->v.data;
    const uint64_t x = c->head;
    const uint64_t ridx = c->ridx;
    const uint64_t to_end = cap - ridx;
    /* MA5: pairs with MR2, MR9: every claim below this position has been announced (MR1, MR8
     * are sequenced before the claim's CAS). */
    const uint64_t claim = atomic_load_explicit(&c->v.ext->claim, memory_order_acquire);
    if (claim - x > cap || claim - c->zeroed > cap || claim % SHMRING__ALIGN != 0) {
        c->broken = SHMRING_EPROTO;
        return SHMRING_EPROTO;
    }
    c->claim_cache = claim;
    if (claim == x) {
        return 0;
    }
    /* MA6: pairs with MR3-MR6, MR10, MR11, as MA2 in shmring__mcons_next(). */
    _Atomic uint64_t *word = shmring__mp_word(data, ridx);
    const uint64_t w = atomic_load_explicit(word, memory_order_acquire);
    const uint32_t tag = (uint32_t)(w >> 32);
    if (tag == SHMRING__REC_MSG || tag == SHMRING__REC_PAD) {
        return 0;
    }
    if (w != 0) {
        if ((tag & SHMRING__REC_CLAIMED_MASK) != SHMRING__REC_CLAIMED) {
            c->broken = SHMRING_EBADMSG;
            return SHMRING_EBADMSG;
        }
        /* CLAIMED by slot k in its holder's epoch e, for size bytes. */
        const uint32_t k = (tag >> 16) & 0x3ffu;
        const uint32_t e = tag & 0xffffu;
        const uint64_t size = (uint32_t)w;
        if (k >= c->v.nslots || size < SHMRING__REC_HDR || size % SHMRING__ALIGN != 0 ||
            size > to_end || size > claim - x) {
            c->broken = SHMRING_EBADMSG;
            return SHMRING_EBADMSG;
        }
        if (alive(ctx, k)) {
            struct shmring__mp_slot *s = &c->v.slots[k];
            /* MX7 (relaxed): only compared; a new holder's epoch (MX5) shows once it has the
             * lock, and an old one only makes us wait one more round. */
            uint32_t now = atomic_load_explicit(&s->epoch, memory_order_relaxed);
            /* The tag holds 16 bits of the epoch: after 65536 holders of the slot a live one
             * can carry the dead writer's tag (found by an attack: the consumer then waited as
             * long as that unrelated producer lived). The writer of the record at x, while it
             * lives and has not committed it, announces a claim that covers x; a later holder's
             * claims all lie past x. MA13: pairs with MR1, MR8 (release), as MA8 below: the
             * announcement is the one of the claim at x or a later one of the slot, which its
             * holder makes only after committing x's record (the re-read MA7 then sees it). */
            const uint64_t pos = atomic_load_explicit(&s->pend_pos, memory_order_acquire);
            const uint64_t psize = atomic_load_explicit(&s->pend_size, memory_order_acquire);
            if ((now & 0xffffu) == e && pos != SHMRING__MP_NONE && x - pos < psize) {
                return SHMRING_EAGAIN; /* its writer lives: wait for it, never skip it */
            }
        }
        /* Dead (or closed: a closing producer turns its reservation into padding before it
         * lets go of the slot, so look once more). MA7: pairs with MR5, MR6, MR11. */
        if (atomic_load_explicit(word, memory_order_acquire) != w) {
            return 0;
        }
        skip_dead(c, size);
        return 1;
    }
    /* Zero: the claimer has not written its CLAIMED word yet, or died before it did. Any
     * producer whose announced range [pend_pos, pend_pos + pend_size) covers x could be it. */
    uint64_t bound = claim - x < to_end ? claim - x : to_end; /* bytes we may skip at most */
    for (uint32_t k = 0; k < c->v.nslots; k++) {
        struct shmring__mp_slot *s = &c->v.slots[k];
        /* MA8: pairs with MR1, MR7, MR8 (release): the announcement is at least as new as the
         * CAS (MR2, MR9) of any claim below `claim` (MA5); a size newer than the position means
         * that claim is committed, which the re-read below (MA9) then sees. */
        const uint64_t pos = atomic_load_explicit(&s->pend_pos, memory_order_acquire);
        const uint64_t psize = atomic_load_explicit(&s->pend_size, memory_order_acquire);
        if (pos == SHMRING__MP_NONE) {
            continue;
        }
        if (x - pos < psize) {
            if (alive(ctx, k)) {
                return SHMRING_EAGAIN; /* a live producer may be writing it */
            }
        } else if (pos - x < bound && pos != x) {
            bound = pos - x; /* another claim starts there: stop before it */
        }
    }
    /* MA9: pairs with MR5, MR11 (and padding): after MA8, a claim committed meanwhile shows
     * here. */
    if (atomic_load_explicit(word, memory_order_acquire) != 0) {
        return 0;
    }
    /* Nobody alive is writing at x: the bytes up to the next written word or announced claim
     * belong to claims whose producers died before writing anything (they are zero). */
    uint64_t n = SHMRING__REC_HDR;
    /* MX6 (relaxed): loads of the words after X, below. */
    while (n < bound &&
           atomic_load_explicit(shmring__mp_word(data, ridx + n), memory_order_relaxed) == 0) {
        n += SHMRING__REC_HDR; /* relaxed: a zero word is all we learn; nonzero stops us */
    }
    skip_dead(c, n);
    return 1;
}

uint32_t shmring__mp_count_alive(const struct shmring__mp_view *v, shmring__mp_alive_fn alive,
                                 void *ctx)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < v->nslots; k++) {
        n += alive(ctx, k) != 0;
    }
    return n;
}
