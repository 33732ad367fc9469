/* SPDX-License-Identifier: MIT */
/* The multi-producer, single-consumer ring protocol over a caller-given byte region laid out as
 * in layout.h (SHMRING__F_MPSC). Like ring.h it knows nothing of names, files or processes and
 * makes no system call: whether a producer slot's holder is alive is a question it asks through
 * a callback (the kernel lock in production, an answer injected by the unit test).
 *
 * The protocol and the argument for its ordering are in docs/mpsc.md, its labels (MR1, MA1,
 * ...) in docs/memory-model.md, "Multi-producer ring". In short: a producer announces {position,
 * size} in its slot (MR1), claims the bytes with a CAS on the claim word (MR2), marks the record
 * CLAIMED, writes the payload and commits the record with one release store of its header word
 * (MR5). The consumer reads records in position order, publishes head (MR16), and zeroes what it
 * consumed before giving it back to the producers (`zeroed`, MR12). A record that stays
 * uncommitted is examined by shmring__mcons_resolve(): a dead claimer's bytes are skipped, a
 * live one is waited for. */
#ifndef SHMRING_RING_MP_H
#define SHMRING_RING_MP_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "layout.h"
#include "ring.h" /* shmring__copy */

/* A claim that keeps losing its CAS gives up after this many tries with SHMRING_EAGAIN: a peer that
 * rewrites the claim word without end cannot hold a producer in the loop. */
#define SHMRING__MP_CAS_TRIES 4096u

/* Cache line of the data area that separates producers (see shmring__mprod_claim). The data
 * area's size is a multiple of 128, so offsets and positions agree modulo this. */
#define SHMRING__MP_LINE 64u

/* The claim and the consumer's read are inlined into every caller even where the compiler
 * would rather not (their bodies are long but mostly cold branches): a call costs the one-
 * producer path ~20 instructions a message (cachegrind). */
#define SHMRING__MP_INLINE static inline __attribute__((always_inline))

/* 1 if the holder of producer slot `slot` is alive, 0 if nobody holds it. */
typedef int (*shmring__mp_alive_fn)(void *ctx, uint32_t slot);

/* Where things are, computed once from the size of our own mapping and a header that
 * shmring__ring_check() accepted; never re-read from the header afterwards. */
struct shmring__mp_view {
    struct shmring__hdr *hdr;
    struct shmring__mp_ext *ext;
    struct shmring__mp_slot *slots;
    uint8_t *data;
    uint64_t cap; /* data-area bytes */
    uint64_t max_msg;
    uint32_t nslots;
};

/* Fills v for mem[0..size) if its header describes a multi-producer ring that fits: 0 or
 * SHMRING_EPROTO. */
int shmring__mp_view_init(struct shmring__mp_view *v, void *mem, uint64_t size);

/* Size of a multi-producer mapping created with size 0: the header and SHMRING__MP_DEF_DATA
 * data bytes, rounded up to a page. */
static inline uint64_t shmring__mp_default_size(uint32_t nslots, uint64_t page)
{
    uint64_t n = shmring__mp_header_size(nslots) + SHMRING__MP_DEF_DATA;
    return (n + page - 1) / page * page;
}

static inline _Atomic uint64_t *shmring__mp_word(uint8_t *data, uint64_t idx)
{
    return (_Atomic uint64_t *)(void *)(data + idx);
}

static inline uint64_t shmring__mp_rec_word(uint64_t len, uint32_t tag)
{
    return (uint64_t)tag << 32 | (uint32_t)len;
}

/* ---- producer ------------------------------------------------------------------------------ */

struct shmring__mprod {
    struct shmring__mp_view v;
    struct shmring__mp_slot *me;
    uint32_t slot;
    uint32_t claimed_tag; /* SHMRING__REC_CLAIMED | slot << 16 | epoch */
    uint64_t head_cache;  /* last `zeroed` read from the consumer's line */
    uint64_t last_pos;    /* a position and its data offset, to find offsets without dividing */
    uint64_t last_idx;
    uint64_t resv_idx;  /* the open reservation: offset of its record */
    uint64_t resv_size; /* its record bytes */
    uint64_t resv_len;  /* its payload bytes */
    int resv_open;
    int broken; /* a corrupt index was seen: every call fails with SHMRING_EPROTO */
    uint64_t sent_msgs, sent_bytes, full_events; /* mirrored to the slot */
    uint64_t pf_dist;   /* bytes ahead of the next record to prefetch for writing; 0: none */
    int pf_write;       /* the CPU has PREFETCHW (x86: CPUID 0x80000001 ECX bit 8) */
    int solo;           /* granted `solo` (the ring's word says whether it still is) */
    int solo_ok;        /* may be granted: peers' heavy barriers interrupt this process */
    uint32_t solo_tick; /* claims since the last look for a chance to be granted `solo` */
    int solo_probe;     /* that look found others counted: the caller asks the kernel (they may be
                         * dead, and the dead stay counted until their slot is taken again) */
    int64_t solo_probe_ns; /* when the caller last asked */
};

/* A prefetch for writing: the line comes exclusive, so the store into it later needs no
 * transfer. Without the CPU's PREFETCHW (compilers emit it only for -march that have it), the
 * builtin gives a read prefetch: the data comes, the ownership not. Never faults. */
static inline void shmring__mp_prefetch_w(int pf_write, const void *a)
{
#if defined(__x86_64__) || defined(__i386__)
    if (pf_write) {
        __asm__ volatile("prefetchw %0" : : "m"(*(const char *)a));
        return;
    }
#else
    (void)pf_write;
#endif
    __builtin_prefetch(a, 1, 3);
}

/* A consumer finding a zero word at the same head reads the claim word once in this many looks
 * (see shmring__mcons_next). */
#define SHMRING__MP_IDLE_LOOKS 16u

/* How far ahead of its records a producer prefetches (a few lines: far enough for a transfer
 * from the consumer's cache to complete, near enough to be still cached when written). */
#define SHMRING__MP_PREFETCH 512u

/* Takes producer slot `slot` of mem[0..size) (the caller holds its lock): a new epoch, no claim
 * in flight, counters continued. 0, SHMRING_EPROTO (bad header or positions), SHMRING_EINVAL
 * (slot). */
int shmring__mprod_attach(struct shmring__mprod *p, void *mem, uint64_t size, uint32_t slot);

/* Producer: leaves the slot (an open reservation becomes padding first). */
void shmring__mprod_detach(struct shmring__mprod *p);

/* The data offset of position pos. */
SHMRING__MP_INLINE uint64_t shmring__mprod_offset(const struct shmring__mprod *p, uint64_t pos)
{
    const uint64_t cap = p->v.cap;
    const uint64_t d = pos - p->last_pos;
    if (d < cap) {
        const uint64_t i = p->last_idx + d;
        return i >= cap ? i - cap : i;
    }
    return pos % cap;
}

/* Is there room for total bytes at claim position c? 0 yes, SHMRING_EAGAIN full, SHMRING_EPROTO
 * corrupt head, 1: c is older than head (it moved meanwhile): read the claim word again. */
SHMRING__MP_INLINE int shmring__mprod_room(struct shmring__mprod *p, uint64_t c, uint64_t total)
{
    const uint64_t cap = p->v.cap;
    if (c - p->head_cache <= cap - total) {
        return 0;
    }
    /* MA1: pairs with MR12 in shmring__mcons_zero_to(): the consumer has read and zeroed every
     * byte before `zeroed`, so they may be written. Read after c, so a sound value is at most cap
     * behind c, or ahead of c if c is stale. */
    const uint64_t head = atomic_load_explicit(&p->v.hdr->zeroed, memory_order_acquire);
    if ((int64_t)(c - head) < 0) {
        return 1;
    }
    if (c - head > cap || head % SHMRING__ALIGN != 0) {
        p->broken = 1;
        return SHMRING_EPROTO;
    }
    p->head_cache = head;
    return c - head <= cap - total ? 0 : SHMRING_EAGAIN;
}

/* ---- one producer alone --------------------------------------------------------------------
 * A locked instruction per claim is most of what a lone producer pays over the single-producer
 * ring: the CAS waits for every earlier store to leave the store buffer, and one of those misses
 * (the line the consumer zeroed last lap). So a producer that finds itself alone on the ring is
 * granted the ring's `solo` word and advances `claim` with a plain release store. A producer
 * that attaches next takes `solo` away (revokes it), runs the heavy barrier and waits until the
 * holder is outside its claim (`in_claim`), and only then makes its first CAS; the holder sees
 * the revocation at its next claim and uses the CAS from then on. The holder's side of this
 * asymmetric Dekker pair is a compiler barrier (the light barrier), which is sound only where the
 * revoker's heavy barrier interrupts the holder (Linux membarrier): solo_ok. The argument is in
 * docs/mpsc.md, "One producer alone". */

/* Claims between two looks of a non-solo producer for a chance to be granted `solo`. */
#define SHMRING__MP_SOLO_EVERY 1024u

/* Solo holder: out of its claim; a waiting revoker may go on. */
SHMRING__MP_INLINE void shmring__mprod_solo_exit(struct shmring__mprod *p)
{
    /* MS4: pairs with MS9 in shmring__mp_in_claim(): the revoker that sees 0 sees the claim
     * stored before it (MR18), and CASes from there. */
    atomic_store_explicit(&p->me->in_claim, 0, memory_order_release);
}

/* Solo holder, before it reads `claim`: 1 if `solo` is still ours (claim without a CAS, then
 * shmring__mprod_solo_exit), 0 if it was revoked (p->solo is cleared: CAS from now on). */
SHMRING__MP_INLINE int shmring__mprod_solo_enter(struct shmring__mprod *p)
{
    /* MS1 (relaxed): "inside a claim"; made visible to a revoker by MS2 + MS8. */
    atomic_store_explicit(&p->me->in_claim, 1, memory_order_relaxed);
    /* MS2: the light barrier, a compiler barrier; pairs with the revoker's heavy barrier (MS8),
     * which makes it a full one: either the revoker sees MS1, or MS3 sees the revocation. */
    atomic_signal_fence(memory_order_seq_cst);
    /* MS3 (relaxed): still ours? Only the holder grants itself `solo`; a revoker only clears it. */
    if (atomic_load_explicit(&p->v.ext->solo, memory_order_relaxed) == p->claimed_tag) {
        return 1;
    }
    shmring__mprod_solo_exit(p);
    p->solo = 0;
    return 0;
}

/* Grants `solo` to p if it is 0 and p is the only producer counted in `mp_producers` (by_count),
 * or unconditionally (the caller then checks the other slots and calls
 * shmring__mprod_solo_ungrant if one is held). 1 if granted. */
int shmring__mprod_solo_grant(struct shmring__mprod *p, int by_count);

/* Gives `solo` back (detach, or a grant that found another producer). */
void shmring__mprod_solo_ungrant(struct shmring__mprod *p);

/* Revoker: clears `solo` if it names some other producer, returning that tag (0: none). The
 * caller then runs the heavy barrier and waits while any other live slot is
 * shmring__mp_in_claim(), whatever this returned: another revoker may have cleared `solo` first
 * while the holder was still inside its claim. */
uint32_t shmring__mp_solo_revoke(const struct shmring__mp_view *v, uint32_t my_tag);

/* Revoker, after the heavy barrier: 1 while the holder of slot is inside a CAS-free claim
 * (`in_claim` is set; only a solo holder sets it, and a new holder of a dead one's slot clears
 * it at attach); its liveness is the caller's question. */
int shmring__mp_in_claim(const struct shmring__mp_view *v, uint32_t slot);

/* No claim in flight any more (after a CAS was lost and the producer gave up): a stale entry
 * would make the consumer wait for this live producer. */
SHMRING__MP_INLINE void shmring__mprod_unannounce(struct shmring__mprod *p)
{
    /* MR7: pairs with MA8 in shmring__mcons_resolve(). */
    atomic_store_explicit(&p->me->pend_pos, SHMRING__MP_NONE, memory_order_release);
}

/* The claim loop; solo (a constant where it is inlined): p holds `solo` and is inside
 * shmring__mprod_solo_enter, so `claim` is advanced with a plain store. */
SHMRING__MP_INLINE int shmring__mprod_claim_loop(struct shmring__mprod *p, uint64_t need,
                                                 uint64_t *idx_out, const int solo)
{
    struct shmring__mp_ext *e = p->v.ext;
    const uint64_t cap = p->v.cap;
    /* MX1 (relaxed): the CAS below (MR2) checks the value; room is checked against head (MA1). */
    uint64_t c = atomic_load_explicit(&e->claim, memory_order_relaxed);
    for (unsigned tries = 0;; tries++) {
        if (tries == SHMRING__MP_CAS_TRIES || c % SHMRING__ALIGN != 0) {
            shmring__mprod_unannounce(p);
            if (c % SHMRING__ALIGN != 0) {
                p->broken = 1;
                return SHMRING_EPROTO;
            }
            return SHMRING_EAGAIN;
        }
        /* After another producer's claim, start on a fresh cache line: two producers writing
         * records into one line would pass it back and forth between their CPUs. A producer's
         * consecutive claims (the one-producer case) stay packed, and know their offset. */
        uint64_t idx = p->last_idx, gap = 0;
        if (__builtin_expect(c != p->last_pos, 0)) {
            idx = shmring__mprod_offset(p, c);
            gap = (SHMRING__MP_LINE - idx % SHMRING__MP_LINE) % SHMRING__MP_LINE;
        }
        const uint64_t to_end = cap - idx;
        const uint64_t total = gap + need <= to_end ? gap + need : to_end + need;
        const int room = shmring__mprod_room(p, c, total);
        if (room != 0) {
            if (room == 1) {
                /* MX1 as above. */
                c = atomic_load_explicit(&e->claim, memory_order_relaxed); /* as above */
                continue;
            }
            if (tries > 0) {
                shmring__mprod_unannounce(p);
            }
            if (room == SHMRING_EAGAIN) {
                p->full_events++;
            }
            return room;
        }
        /* MR1: announce the claim before making it (size first: a reader that sees this
         * position sees this size or a later one); pairs with MA8 in shmring__mcons_resolve(). */
        atomic_store_explicit(&p->me->pend_size, total, memory_order_release);
        atomic_store_explicit(&p->me->pend_pos, c, memory_order_release);
        int won = 1;
        if (solo) {
            /* MR18: the claim of the solo holder, the only writer of `claim` now: as MR2, and
             * pairs with MS9 (through MS4) of a revoker, whose first CAS starts from here. */
            atomic_store_explicit(&e->claim, c + total, memory_order_release);
        } else {
            /* MR2: the claim. Release orders MR1 before it; pairs with MA3 and MA5 in the
             * consumer, whose acquire load of claim then sees MR1 (or a later announcement of
             * this slot), and MA4, MA11. Failure is relaxed: the loop announces again before
             * the next try. */
            won = atomic_compare_exchange_strong_explicit(
                &e->claim, &c, c + total, memory_order_release, memory_order_relaxed);
        }
        if (won) {
            uint64_t ridx = idx;
            if (gap + need > to_end) {
                /* MR3: padding up to the end of the data area; pairs with MA2, MA6. */
                atomic_store_explicit(
                    shmring__mp_word(p->v.data, idx),
                    shmring__mp_rec_word(to_end - SHMRING__REC_HDR, SHMRING__REC_PAD),
                    memory_order_release);
                ridx = 0;
            } else if (gap != 0) {
                /* MR3 as above: padding up to the line. */
                atomic_store_explicit(
                    shmring__mp_word(p->v.data, idx),
                    shmring__mp_rec_word(gap - SHMRING__REC_HDR, SHMRING__REC_PAD),
                    memory_order_release);
                ridx = idx + gap;
            }
            /* MX2 (relaxed): CLAIMED is "not committed" to the consumer, like the zero it
             * replaces; it only names this slot to the consumer (MA6) should this process die. */
            atomic_store_explicit(shmring__mp_word(p->v.data, ridx),
                                  shmring__mp_rec_word(need, p->claimed_tag), memory_order_relaxed);
            p->last_pos = c + total;
            p->last_idx = ridx + need == cap ? 0 : ridx + need;
            if (p->pf_dist != 0 && (p->last_idx & (SHMRING__MP_LINE - 1)) < need) {
                /* Ask for the line we will write a few records from now, for writing: the
                 * consumer zeroed it one lap ago, so it sits modified in the consumer's cache,
                 * and the next claim's CAS would otherwise wait for that transfer (a locked
                 * instruction waits for every earlier store). Once per line: only when this
                 * record ended in a new line (its end's offset in the line is below its
                 * size). A hint only; inside the area. */
                const uint64_t ahead = p->last_idx + p->pf_dist;
                shmring__mp_prefetch_w(p->pf_write,
                                       p->v.data + (ahead < cap ? ahead : ahead - cap));
            }
            *idx_out = ridx;
            return 0;
        }
        /* Lost: c now holds the current claim position; P1 is rewritten before the next CAS. */
    }
}

/* Producer: claims need record bytes (plus padding at the end of the data area when they do
 * not fit before it) and returns the record's offset in *idx. 0, SHMRING_EAGAIN, SHMRING_EPROTO. */
SHMRING__MP_INLINE int shmring__mprod_claim(struct shmring__mprod *p, uint64_t need,
                                            uint64_t *idx_out)
{
    if (p->solo) {
        if (__builtin_expect(shmring__mprod_solo_enter(p), 1)) {
            const int err = shmring__mprod_claim_loop(p, need, idx_out, 1);
            shmring__mprod_solo_exit(p);
            return err;
        }
    } else if (p->solo_ok && ++p->solo_tick % SHMRING__MP_SOLO_EVERY == 0) {
        /* From the next claim on, when alone; else the caller checks the other slots' locks. */
        p->solo_probe = !shmring__mprod_solo_grant(p, 1);
    }
    return shmring__mprod_claim_loop(p, need, idx_out, 0);
}

/* Producer: claims room for a len-byte message and opens a reservation at *slot. */
SHMRING__MP_INLINE int shmring__mprod_reserve(struct shmring__mprod *p, uint64_t len, void **slot)
{
    if (len > p->v.max_msg) {
        return SHMRING_EMSGSIZE;
    }
    const uint64_t need = shmring__rec_size(len);
    uint64_t idx = 0;
    int err = shmring__mprod_claim(p, need, &idx);
    if (err != 0) {
        return err;
    }
    p->resv_idx = idx;
    p->resv_size = need;
    p->resv_len = len;
    p->resv_open = 1;
    *slot = p->v.data + idx + SHMRING__REC_HDR;
    return 0;
}

/* Producer: commits the len-byte message whose record starts at data offset idx. */
SHMRING__MP_INLINE void shmring__mprod_commit_at(struct shmring__mprod *p, uint64_t idx,
                                                 uint64_t len)
{
    /* Fields into locals before the shared stores, which could alias them (see ring.h). */
    uint8_t *data = p->v.data;
    const uint64_t msgs = p->sent_msgs + 1, bytes = p->sent_bytes + len;
    struct shmring__mp_slot *me = p->me;
    p->sent_msgs = msgs;
    p->sent_bytes = bytes;
    /* MR5: publishes the payload written into the record; pairs with MA2 in
     * shmring__mcons_next() and MA6, MA7, MA9 in shmring__mcons_resolve(). */
    atomic_store_explicit(shmring__mp_word(data, idx), shmring__mp_rec_word(len, SHMRING__REC_MSG),
                          memory_order_release);
    /* MC1 (relaxed): only this slot's holder writes them; readers (MC10, MC11) sum a snapshot. */
    atomic_store_explicit(&me->sent_msgs, msgs, memory_order_relaxed);
    atomic_store_explicit(&me->sent_bytes, bytes, memory_order_relaxed);
}

/* Producer: commits the open reservation as a len-byte message (len <= resv_len); the rest of
 * the claimed bytes become padding. */
SHMRING__MP_INLINE void shmring__mprod_commit(struct shmring__mprod *p, uint64_t len)
{
    const uint64_t idx = p->resv_idx;
    const uint64_t size = shmring__rec_size(len);
    const uint64_t resv_size = p->resv_size;
    p->resv_open = 0;
    if (size < resv_size) {
        /* MR4: the rest of the claim as padding; pairs with MA2, MA6 (the consumer reads it
         * after MA2 of the message before it). */
        atomic_store_explicit(
            shmring__mp_word(p->v.data, idx + size),
            shmring__mp_rec_word(resv_size - size - SHMRING__REC_HDR, SHMRING__REC_PAD),
            memory_order_release);
    }
    shmring__mprod_commit_at(p, idx, len);
}

/* Producer: turns the open reservation into padding. */
static inline void shmring__mprod_abort(struct shmring__mprod *p)
{
    /* MR6: the reservation as padding; pairs with MA2, MA6, and MA7 (a closing producer's). */
    atomic_store_explicit(shmring__mp_word(p->v.data, p->resv_idx),
                          shmring__mp_rec_word(p->resv_size - SHMRING__REC_HDR, SHMRING__REC_PAD),
                          memory_order_release);
    p->resv_open = 0;
}

/* Producer: one message, copied. 0, SHMRING_EAGAIN, SHMRING_EMSGSIZE, SHMRING_EPROTO. */
SHMRING__MP_INLINE int shmring__mprod_send(struct shmring__mprod *p, const void *msg, uint64_t len)
{
    if (len > p->v.max_msg) {
        return SHMRING_EMSGSIZE;
    }
    uint64_t idx = 0;
    int err = shmring__mprod_claim(p, shmring__rec_size(len), &idx);
    if (err != 0) {
        return err;
    }
    /* No reservation: the claim is exactly the record, committed right after the copy. */
    shmring__copy(p->v.data + idx + SHMRING__REC_HDR, msg, len);
    shmring__mprod_commit_at(p, idx, len);
    return 0;
}

/* Producer: as many of msgs[0..n) as fit, with one claim; returns how many were sent (0: the
 * first does not fit), or SHMRING_EMSGSIZE / SHMRING_EINVAL for msgs[0], SHMRING_EPROTO. A later
 * message that is too large or invalid ends the batch before it. */
int shmring__mprod_send_batch(struct shmring__mprod *p, const struct shmring_buf *msgs, size_t n);

/* ---- consumer ------------------------------------------------------------------------------ */

struct shmring__mcons {
    struct shmring__mp_view v;
    uint64_t head;        /* next read position (the shared head once published) */
    uint64_t ridx;        /* head % cap */
    uint64_t zeroed;      /* bytes before it are zeroed and given back (the shared `zeroed`) */
    uint64_t zidx;        /* zeroed % cap */
    uint64_t claim_cache; /* last claim position read (only when head was not committed) */
    uint64_t peek_size;   /* record bytes of the peeked message; 0 = none */
    uint64_t peek_len;
    int broken;  /* SHMRING_EPROTO or SHMRING_EBADMSG once corruption was seen, else 0 */
    int dirty;   /* head moved but is not published yet (zeroed may trail it even when 0) */
    int stalled; /* the last SHMRING_EAGAIN was an uncommitted record at head, not an empty ring */
    uint64_t recv_msgs, recv_bytes, empty_events;
    uint64_t dead_claims, dead_bytes; /* claims of dead producers turned into padding */
    uint64_t idle_pos;  /* head at the last look that found nothing committed; MP_NONE: none */
    uint64_t idle;      /* looks at idle_pos after the first */
    int look_claim;     /* read the claim word at the next look (set before a sleep) */
    uint64_t stall_pos; /* for the caller's "stuck since" clock */
    int64_t stall_since_ns;
    int stall_ask_now; /* a dead claim was just skipped: ask about the next stall at once */
    uint64_t pf_claim; /* a claim position seen lately: lines well below it may be prefetched */
    int pf_on;         /* the data area is large enough to prefetch in (as the producer's) */
    int pf_write;      /* the CPU has PREFETCHW */
};

/* The consumer's prefetch (shmring__mcons_prefetch): how far past the line of head, how far
 * below a claim seen lately that line must end, and how many bytes a consumer that found no such
 * claim reads before it looks at `claim` again. */
#define SHMRING__MP_CONS_AHEAD 128u
#define SHMRING__MP_CONS_GAP   256u
#define SHMRING__MP_CONS_LOOK  4096u

int shmring__mcons_attach(struct shmring__mcons *c, void *mem, uint64_t size);

/* Zeroes n bytes (n a multiple of 8) of the data area; small records without a call. */
SHMRING__MP_INLINE void shmring__mp_zero(uint8_t *dst, uint64_t n)
{
    if (n <= 16) {
        const uint64_t z = 0;
        memcpy(dst, &z, 8);
        memcpy(dst + n - 8, &z, 8);
    } else if (n == SHMRING__MP_LINE) {
        memset(dst, 0, SHMRING__MP_LINE); /* the common case, a constant size: no call */
    } else {
        memset(dst, 0, n);
    }
}

/* Consumer: finds the oldest message without removing it: its length, *msg its payload and
 * *size its record bytes. SHMRING_EAGAIN when there is nothing committed at head (c->stalled says
 * whether a claimed record is still being written), SHMRING_EBADMSG, SHMRING_EPROTO. Padding on the
 * way is skipped (a later publish zeroes it); a call reads nothing at or past one data area
 * beyond `zeroed`, so it skips at most that much.
 *
 * The claim word is read only when the header at head is not committed: a committed header
 * there can only have been written inside a claim (the data area is zero everywhere else), so
 * the consumer leaves the producers' contended line alone while records are coming in. */
SHMRING__MP_INLINE int64_t shmring__mcons_next(struct shmring__mcons *c, const void **msg,
                                               uint64_t *size)
{
    const uint64_t cap = c->v.cap;
    uint8_t *data = c->v.data;
    c->stalled = 0;
    for (;;) {
        if (__builtin_expect(c->head - c->zeroed >= cap, 0)) {
            /* One data area past `zeroed`, the word at head is one we have read and not zeroed
             * yet (nobody can claim past zeroed + cap, so the ring is empty). Everything that
             * moves head without a publish can get here: messages delivered by drain (it
             * publishes every 32), skipped padding, skipped dead claims, a predecessor that died
             * between storing head and zeroed; the caller's publish then zeroes the word. This
             * also bounds the padding one call skips to one data area. */
            return SHMRING_EAGAIN;
        }
        const uint64_t ridx = c->ridx;
        const uint64_t to_end = cap - ridx;
        /* MA2: pairs with MR5, MR11 (commit) and MR3, MR4, MR6, MR10 (padding): the record's
         * bytes are complete. */
        const uint64_t w = atomic_load_explicit(shmring__mp_word(data, ridx), memory_order_acquire);
        const uint32_t len = (uint32_t)w;
        const uint32_t tag = (uint32_t)(w >> 32);
        if (tag == SHMRING__REC_MSG) {
            const uint64_t rsize = shmring__rec_size(len);
            if (len > c->v.max_msg || rsize > to_end) {
                c->broken = SHMRING_EBADMSG;
                return SHMRING_EBADMSG;
            }
            *size = rsize;
            *msg = data + ridx + SHMRING__REC_HDR;
            return (int64_t)len;
        }
        if (tag == SHMRING__REC_PAD) {
            const uint64_t psize = (uint64_t)len + SHMRING__REC_HDR;
            /* Past zeroed + cap only a hostile peer writes (no claim reaches there). */
            if (psize > to_end || psize % SHMRING__ALIGN != 0 ||
                c->head + psize - c->zeroed > cap) {
                c->broken = SHMRING_EBADMSG;
                return SHMRING_EBADMSG;
            }
            c->head += psize; /* zeroed later, with the records around it (publish) */
            c->ridx = ridx + psize == cap ? 0 : ridx + psize;
            c->dirty = 1;
            continue;
        }
        if (w != 0 && (tag & SHMRING__REC_CLAIMED_MASK) != SHMRING__REC_CLAIMED) {
            c->broken = SHMRING_EBADMSG;
            return SHMRING_EBADMSG;
        }
        /* Nothing committed at head. A consumer that has caught up looks here again and again;
         * reading the claim word on every look would take the line away from the producer whose
         * CAS needs it next (a locked instruction waits for that transfer). So: CLAIMED is
         * "stalled" without it, and after a zero word the claim is read on the first look at
         * this head and then on every SHMRING__MP_IDLE_LOOKS-th. */
        if (c->idle_pos != c->head) {
            c->idle_pos = c->head;
            c->idle = 0;
        } else {
            c->idle++;
        }
        if (w != 0) {
            c->stalled = 1;
            return SHMRING_EAGAIN;
        }
        if (c->idle % SHMRING__MP_IDLE_LOOKS != 0 && !c->look_claim) {
            c->stalled = c->claim_cache != c->head; /* as found by the last look */
            return SHMRING_EAGAIN;
        }
        /* MA3: pairs with MR2, MR9 (the claims): is anything claimed at head? (Record contents
         * are published by each record's own header, MA2.) */
        const uint64_t claim = atomic_load_explicit(&c->v.ext->claim, memory_order_acquire);
        if (claim - c->head > cap || claim - c->zeroed > cap || claim % SHMRING__ALIGN != 0) {
            c->broken =
                SHMRING_EPROTO; /* claim behind head (records read past it) or too far ahead */
            return SHMRING_EPROTO;
        }
        c->claim_cache = claim;
        c->look_claim = 0;
        c->stalled = claim != c->head; /* claimed, not committed yet; else empty */
        return SHMRING_EAGAIN;
    }
}

SHMRING__MP_INLINE int64_t shmring__mcons_peek(struct shmring__mcons *c, const void **msg)
{
    uint64_t size;
    int64_t len = shmring__mcons_next(c, msg, &size);
    if (len >= 0) {
        c->peek_size = size;
        c->peek_len = (uint64_t)len;
    }
    return len;
}

/* Consumer: removes the message found by shmring__mcons_next() locally (its bytes are zeroed
 * by a later publish). */
SHMRING__MP_INLINE void shmring__mcons_advance(struct shmring__mcons *c, uint64_t size,
                                               uint64_t len)
{
    const uint64_t ridx = c->ridx;
    c->head += size;
    c->ridx = ridx + size == c->v.cap ? 0 : ridx + size;
    c->recv_msgs++;
    c->recv_bytes += len;
    c->dirty = 1;
}

SHMRING__MP_INLINE void shmring__mcons_consume(struct shmring__mcons *c)
{
    shmring__mcons_advance(c, c->peek_size, c->peek_len);
    c->peek_size = 0;
}

/* Zeroes the consumed bytes [c->zeroed, to) (to <= head) and gives them back to the producers
 * (one release store). A whole data area or more (exactly one when the consumer stopped one lap
 * past `zeroed`; more only after a hostile peer's records) zeroes the whole area once. */
static inline void shmring__mcons_zero_to(struct shmring__mcons *c, uint64_t to)
{
    const uint64_t cap = c->v.cap;
    uint8_t *data = c->v.data;
    const uint64_t n = to - c->zeroed;
    const uint64_t zidx = c->zidx;
    if (n >= cap) {
        memset(data, 0, cap);
    } else if (n <= cap - zidx) {
        shmring__mp_zero(data + zidx, n);
    } else {
        memset(data + zidx, 0, cap - zidx);
        memset(data, 0, n - (cap - zidx));
    }
    /* The offset of `to`: head's, less the bytes between them (fewer than cap). */
    const uint64_t back = c->head - to;
    c->zidx = c->ridx >= back ? c->ridx - back : c->ridx + cap - back;
    c->zeroed = to;
    /* MR12: every byte before `zeroed` has been read and zeroed; pairs with MA1 in
     * shmring__mprod_room() and MA4 in the attach of a later process. */
    atomic_store_explicit(&c->v.hdr->zeroed, to, memory_order_release);
}

/* The consumer reads every line the producers wrote and then zeroes it (MR12). A line that is
 * read first comes shared, and the zeroing then needs a second transfer, for ownership;
 * prefetched for writing a little ahead, it comes once, owned, and the read and the zeroing hit
 * the cache (docs/mpsc.md, "The consumer's prefetch", for what it moved). Only lines that end
 * SHMRING__MP_CONS_GAP bytes below a claim the consumer has seen: usually their producers wrote
 * them a while ago (a record of several lines, or a slow producer, may still be writing one: the
 * prefetch then costs that producer a transfer, nothing else). A consumer that has caught up
 * with the producers does not prefetch, as it would take lines from under a producer writing
 * them; it looks at `claim` again at most once per SHMRING__MP_CONS_LOOK bytes it reads. Called
 * by a publish that gave lines back, up to `to` from `from`, after delivered messages (so at
 * most once per line while records are shorter than a line; `drain` publishes every 32
 * messages). Returns the data offset it prefetched, SHMRING__MP_NONE if none (for the unit test;
 * callers ignore it). */
SHMRING__MP_INLINE uint64_t shmring__mcons_prefetch(struct shmring__mcons *c, uint64_t from,
                                                    uint64_t to)
{
    if ((int64_t)(c->pf_claim - c->head) >=
        (int64_t)(SHMRING__MP_CONS_AHEAD + SHMRING__MP_LINE + SHMRING__MP_CONS_GAP)) {
        /* Inside the area: ridx < cap, so at < cap + 128, and cap >= 256 (view_init). */
        const uint64_t at = (c->ridx & ~(uint64_t)(SHMRING__MP_LINE - 1)) + SHMRING__MP_CONS_AHEAD;
        const uint64_t off = at < c->v.cap ? at : at - c->v.cap;
        shmring__mp_prefetch_w(c->pf_write, c->v.data + off);
        return off;
    }
    if (c->pf_on && ((from ^ to) & ~(uint64_t)(SHMRING__MP_CONS_LOOK - 1)) != 0) {
        /* MX13 (relaxed): a hint: it only decides whether to prefetch, which never faults; a
         * stale or hostile value costs at most a useless prefetch or a missed one. */
        c->pf_claim = atomic_load_explicit(&c->v.ext->claim, memory_order_relaxed);
    }
    return SHMRING__MP_NONE;
}

/* What shmring__mcons_publish_part gives back: the consumed bytes of the 64-byte lines the
 * consumer has finished, then the prefetch (after delivered messages); the same without the
 * prefetch (a look found nothing committed at head: a producer may be writing the lines ahead);
 * every consumed byte (the ring looked empty a second time, or the consumer leaves). */
enum { SHMRING__MP_PUB_LINES, SHMRING__MP_PUB_LINES_ONLY, SHMRING__MP_PUB_ALL };

/* Consumer: publishes head and the counters, and gives back consumed bytes as `mode` says
 * (SHMRING__MP_PUB_*). Zeroing only whole lines keeps the consumer from writing into the line a
 * producer is filling. Returns 1 when bytes were given back (a sleeping producer may want
 * them). */
SHMRING__MP_INLINE int shmring__mcons_publish_part(struct shmring__mcons *c, int mode)
{
    struct shmring__hdr *h = c->v.hdr;
    if (c->dirty) {
        c->dirty = 0;
        /* MC7 (relaxed): statistics; only the consumer writes them. */
        atomic_store_explicit(&h->recv_msgs, c->recv_msgs, memory_order_relaxed);
        atomic_store_explicit(&h->recv_bytes, c->recv_bytes, memory_order_relaxed);
        /* MR16: the read position; pairs with MA4 in the attach of a later consumer, which
         * continues after the records read here (they are not delivered twice). */
        atomic_store_explicit(&h->head, c->head, memory_order_release);
    }
    const uint64_t to =
        mode == SHMRING__MP_PUB_ALL ? c->head : c->head & ~(uint64_t)(SHMRING__MP_LINE - 1);
    const uint64_t from = c->zeroed;
    if ((int64_t)(to - from) <= 0) {
        return 0;
    }
    shmring__mcons_zero_to(c, to);
    if (mode == SHMRING__MP_PUB_LINES) {
        (void)shmring__mcons_prefetch(c, from, to);
    }
    return 1;
}

/* Consumer: publishes everything (head, counters, every consumed byte zeroed). */
SHMRING__MP_INLINE int shmring__mcons_publish(struct shmring__mcons *c)
{
    return shmring__mcons_publish_part(c, SHMRING__MP_PUB_ALL);
}

/* Consumer, slow path: the record at head has stayed uncommitted. Asks alive() about the
 * producers that could be writing it. Returns 1 when a dead producer's claim was turned into
 * padding (head moved), 0 when there is something to read now or nothing is claimed, SHMRING_EAGAIN
 * when a live producer is still writing it, SHMRING_EBADMSG / SHMRING_EPROTO for corrupt shared
 * state. */
int shmring__mcons_resolve(struct shmring__mcons *c, shmring__mp_alive_fn alive, void *ctx);

/* Live producers' slots, for inspection: calls fn for each slot k < nslots whose alive() is
 * 1. Returns how many. */
uint32_t shmring__mp_count_alive(const struct shmring__mp_view *v, shmring__mp_alive_fn alive,
                                 void *ctx);

#endif /* SHMRING_RING_MP_H */
