/* SPDX-License-Identifier: MIT */
/* The handle side of multi-producer rings: producer slots held by kernel locks, the data calls
 * over ring_mp.h, the consumer's handling of uncommitted records, and inspection. The public
 * calls in shmring.c dispatch here from their cold branches (handle.h, SHMRING__ROLE_MPROD). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"

#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* How often one call may turn a dead claim into padding and look again before it returns. */
#define RESOLVE_ROUNDS 64
/* Slot liveness queries (system calls) one consumer call makes at most. An honest ring asks one
 * or two per dead claim; a hostile peer can make every slot announce a claim covering head, and
 * with 1024 slots one call then made 64 rounds of 1024 queries (40 ms), and a blocking call with
 * a 1 ms timeout, which makes many such calls after its deadline, returned 5 s late (found by a
 * scribbler attack). Past the budget the call says SHMRING_EAGAIN; the next call goes on. */
#define QUERY_BUDGET 256

/* The liveness answer ring_mp.c asks for: the kernel drops a slot's lock when its holder dies. */
static int slot_alive(void *ctx, uint32_t k)
{
    shmring *r = ctx;
    if (r->role == SHMRING__ROLE_MPROD && r->side.mprod.slot == k) {
        return 1;
    }
    r->mp_queries++; /* each is a system call: see QUERY_BUDGET */
    return shmring__seg_role_held(&r->seg, SHMRING__ROLE_ID_SLOT0 + (int)k);
}

/* ---- attach / detach -------------------------------------------------------------------- */

/* A revoker waits at most this long for a live `solo` holder to leave its claim (a few
 * instructions; only a stopped or hostile holder stays inside). */
#define SOLO_WAIT_NS (10 * 1000000000LL)

/* Others are counted, but those may have died (they stay counted until a new producer takes
 * their slot): `solo` if no other slot is held. Granted first, then checked: a producer whose
 * slot lock comes after our look at it reads `solo` after that (MS7) and revokes it. Called
 * outside any claim: at attach, and from mprod_ready(). */
static void solo_grant_if_alone(shmring *r)
{
    struct shmring__mprod *p = &r->side.mprod;
    if (shmring__mprod_solo_grant(p, 0)) {
        for (uint32_t k = 0; k < r->mp_slots; k++) {
            if (k != p->slot && slot_alive(r, k)) {
                shmring__mprod_solo_ungrant(p);
                break;
            }
        }
    }
}

/* A new producer (`before` others were counted): takes `solo` away from a holder and waits
 * until that holder is out of its claim, so that our first CAS starts from its last claim; then
 * is granted `solo` itself when it is alone (docs/mpsc.md, "One producer alone"). */
static int solo_attach(shmring *r, uint32_t before)
{
    struct shmring__mprod *p = &r->side.mprod;
    /* The holder may have been revoked already by another new producer, which is still
     * waiting for it: then `solo` reads 0 here, yet the holder can still be inside its claim
     * (between MS3 and MR18). So the barrier always runs, and we wait for every other live slot
     * that is inside a claim, not only for the holder our own revocation names. (Before, a
     * second newcomer went straight to its CAS, and the holder's plain store of `claim` then
     * overwrote its first record: test_second_revoker_waits in test_mpsc_solo.) */
    (void)shmring__mp_solo_revoke(&p->v, p->claimed_tag);
    /* MS8: heavy barrier (H0), pairs with MS2: MS7's clearing before the MS9 loads. */
    shmring__plat_heavy_barrier();
    const int64_t deadline = shmring__plat_deadline(SOLO_WAIT_NS);
    for (uint32_t k = 0; k < r->mp_slots; k++) {
        if (k == p->slot) {
            continue;
        }
        for (unsigned looks = 0; shmring__mp_in_claim(&p->v, k); looks++) {
            if (!slot_alive(r, k)) {
                break; /* died inside its claim: nothing more comes from it */
            }
            if (shmring__plat_now_ns() >= deadline) {
                return SHMRING_EBUSY;
            }
            shmring__plat_sleep_ns(looks < 64 ? 0 : 100000);
        }
    }
    /* The light barrier is a compiler barrier only where peers' heavy barriers interrupt this
     * process: the condition for the holder's side of the pair (MS2). SHMRING_MP_SOLO=0 keeps
     * the CAS (a control for tests and benchmarks, and a way out). */
    const char *want = getenv("SHMRING_MP_SOLO");
    p->solo_ok = !shmring__plat_light_is_fence && !(want != NULL && want[0] == '0');
    if (!p->solo_ok) {
        return 0;
    }
    if (before == 0) {
        (void)shmring__mprod_solo_grant(p, 1);
        return 0;
    }
    solo_grant_if_alone(r);
    return 0;
}

int shmring__mp_role_attach(shmring *r)
{
    struct shmring__hdr *h = r->hdr;
    int err;
    if (r->role == SHMRING__ROLE_MPROD) {
        /* The first free slot: a dead producer's slot is free again at once (its lock died). */
        uint32_t k = 0;
        for (; k < r->mp_slots; k++) {
            if ((err = shmring__seg_take_role(&r->seg, SHMRING__ROLE_ID_SLOT0 + (int)k)) == 0) {
                break;
            }
            if (err != SHMRING_EBUSY) {
                return err;
            }
        }
        if (k == r->mp_slots) {
            return SHMRING_EBUSY; /* the producer limit is reached */
        }
        if ((err = shmring__mprod_attach(&r->side.mprod, h, r->seg.size, k)) < 0) {
            shmring__seg_drop_role(&r->seg, SHMRING__ROLE_ID_SLOT0 + (int)k);
            r->side.mprod.me = NULL;
            return err;
        }
        struct shmring__mp_slot *s = r->side.mprod.me;
        /* MC9 (relaxed): the slot lock is held; the count continues. */
        r->sleeps = atomic_load_explicit(&s->sleeps, memory_order_relaxed);
        /* MP1 (relaxed): informational (stat, ls, MP5 hint); liveness is the lock. */
        atomic_store_explicit(&s->pid, shmring__plat_pid(), memory_order_relaxed);
        atomic_store_explicit(&s->state, SHMRING__PEER_ATTACHED, memory_order_relaxed);
        /* MX11: one more producer; sequenced before MR13, so a consumer past MA10 counts it
         * (read by MA12). seq_cst: before MS7 in solo_attach(), see MS5. */
        const uint32_t before =
            atomic_fetch_add_explicit(&h->mp_producers, 1, memory_order_seq_cst);
        if ((err = solo_attach(r, before)) < 0) {
            /* MP3 and MR17 as in shmring__mp_role_detach(): nothing was claimed. */
            atomic_store_explicit(&s->pid, 0, memory_order_relaxed);
            atomic_store_explicit(&s->state, SHMRING__PEER_CLOSED, memory_order_release);
            atomic_fetch_sub_explicit(&h->mp_producers, 1, memory_order_release);
            shmring__seg_drop_role(&r->seg, SHMRING__ROLE_ID_SLOT0 + (int)k);
            r->side.mprod.me = NULL;
            return err;
        }
        /* MR13: pairs with MA10 in shmring__mp_peer_gone(): from now on an empty ring without a
         * live producer means SHMRING_EPIPE to the consumer. */
        atomic_store_explicit(&h->producer_state, SHMRING__PEER_ATTACHED, memory_order_release);
    } else if (r->role == SHMRING__ROLE_MCONS) {
        if ((err = shmring__seg_take_role(&r->seg, SHMRING__ROLE_ID_CONSUMER)) < 0) {
            return err;
        }
        if ((err = shmring__mcons_attach(&r->side.mcons, h, r->seg.size)) < 0) {
            return err;
        }
        shmring__consumer_attached(r);
    }
    return 0;
}

void shmring__mp_role_detach(shmring *r)
{
    struct shmring__hdr *h = r->hdr;
    if (r->role == SHMRING__ROLE_MPROD) {
        struct shmring__mprod *p = &r->side.mprod;
        if (p->me == NULL) {
            return;
        }
        shmring__mprod_detach(p); /* an open reservation becomes padding first */
        /* MP3: pid relaxed (informational); state = CLOSED with release, after the last commit
         * (MR5/MR11): pairs with MP5 + MF1 in shmring__mp_peer_gone(), so a consumer that
         * decides "every producer closed" from the states also sees every committed record. */
        atomic_store_explicit(&p->me->pid, 0, memory_order_relaxed);
        atomic_store_explicit(&p->me->state, SHMRING__PEER_CLOSED, memory_order_release);
        /* MR17: one producer fewer, after our last commit; pairs with MA12 in
         * shmring__mp_peer_gone(): a consumer that reads 0 sees every closed producer's records
         * (every decrement is a release, and they form one release sequence). */
        atomic_fetch_sub_explicit(&h->mp_producers, 1, memory_order_release);
        /* MH1: heavy barrier (H0), pairs with H1: orders the stores above before the W3 check
         * of the consumer's flag. */
        shmring__plat_heavy_barrier(); /* order the stores above before the flag check */
        shmring__wake_slow(r, &h->consumer_waiting); /* it may be waiting for SHMRING_EPIPE */
        shmring__seg_drop_role(&r->seg, SHMRING__ROLE_ID_SLOT0 + (int)p->slot);
    } else if (r->role == SHMRING__ROLE_MCONS) {
        shmring__mcons_publish(&r->side.mcons); /* every consumed byte zeroed and given back */
        /* MP4 (relaxed): informational. */
        atomic_store_explicit(&h->consumer_pid, 0, memory_order_relaxed);
        /* MR15: comes after the last MR12; pairs with A3 of the producers. */
        atomic_store_explicit(&h->consumer_state, SHMRING__PEER_CLOSED, memory_order_release);
        /* MH2: heavy barrier (H0), pairs with H1: MR15 before the W3 check of the producers'
         * shared flag. */
        shmring__plat_heavy_barrier();
        shmring__wake_slow(r, &h->producer_waiting);
        shmring__seg_drop_role(&r->seg, SHMRING__ROLE_ID_CONSUMER);
    }
}

/* The consumer's peer is "gone" once some producer has attached and none holds a slot now. */
int shmring__mp_peer_gone(shmring *r, int force)
{
    struct shmring__hdr *h = r->hdr;
    /* MA10: pairs with MR13 in shmring__mp_role_attach(). */
    if (atomic_load_explicit(&h->producer_state, memory_order_acquire) == SHMRING__PEER_NEVER) {
        return 0; /* none has attached yet: wait for one */
    }
    /* MA12: pairs with MR17: 0 means every producer that attached has closed, and their
     * records are visible. One word on a line producers rarely write: the consumer polls this
     * on every empty look, and the slots' lines are the producers' hot lines. */
    if (atomic_load_explicit(&h->mp_producers, memory_order_acquire) == 0) {
        return 1;
    }
    if (!force) {
        int64_t now = shmring__plat_coarse_ns();
        if (now < r->next_liveness_ns) {
            return 0;
        }
        r->next_liveness_ns = now + SHMRING__LIVENESS_PERIOD_NS;
    }
    uint32_t attached = 0;
    for (uint32_t k = 0; k < r->mp_slots; k++) {
        /* MP5 (relaxed): pairs with MP1, MP3; see below. */
        attached += atomic_load_explicit(&r->side.mcons.v.slots[k].state, memory_order_relaxed) ==
                    SHMRING__PEER_ATTACHED;
    }
    if (attached == 0) {
        /* MF1: acquire fence after the MP5 loads: pairs with MP3's release, so the records each
         * closed producer committed are visible to the consumer's re-check. */
        atomic_thread_fence(memory_order_acquire);
        return 1; /* every producer closed: no system call needed to know */
    }
    for (uint32_t k = 0; k < r->mp_slots; k++) {
        struct shmring__mp_slot *s = &r->side.mcons.v.slots[k];
        /* MP5 as above (relaxed): a hint to skip slots that nobody holds or whose holder closed
         * (a closing producer sets CLOSED before it drops the lock); the lock is the truth. */
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == SHMRING__PEER_ATTACHED &&
            slot_alive(r, k)) {
            return 0;
        }
    }
    return 1;
}

/* ---- producer ------------------------------------------------------------------------------ */

/* At most this often a producer that is counted with others asks the kernel whether they are
 * alive (one lock query per slot), so that a survivor of the others' deaths gets `solo` back. */
#define SOLO_PROBE_NS (100 * 1000000LL)

static void solo_probe(shmring *r)
{
    struct shmring__mprod *p = &r->side.mprod;
    p->solo_probe = 0;
    const int64_t now = shmring__plat_coarse_ns();
    if (now - p->solo_probe_ns < SOLO_PROBE_NS) {
        return;
    }
    p->solo_probe_ns = now;
    solo_grant_if_alone(r);
}

static inline int mprod_ready(shmring *r)
{
    struct shmring__mprod *p = &r->side.mprod;
    if (UNLIKELY(p->broken)) {
        return SHMRING_EPROTO;
    }
    if (UNLIKELY(p->resv_open)) {
        return SHMRING_EINVAL;
    }
    if (UNLIKELY(p->solo_probe)) {
        solo_probe(r); /* outside any claim: as at attach */
    }
    return 0;
}

/* A full ring: count it, and say SHMRING_EPIPE instead of SHMRING_EAGAIN if nobody will ever read.
 */
static int mprod_full(shmring *r, int err)
{
    if (err == SHMRING_EAGAIN) {
        struct shmring__mprod *p = &r->side.mprod;
        /* MC5 (relaxed): statistics; only the slot's holder writes them. */
        atomic_store_explicit(&p->me->full_events, p->full_events, memory_order_relaxed);
        if (shmring__peer_gone(r, 0)) {
            return SHMRING_EPIPE;
        }
    }
    return err;
}

int shmring__mp_send(shmring *r, const void *msg, size_t len)
{
    if (r->role != SHMRING__ROLE_MPROD) {
        return SHMRING_EPERM;
    }
    int err = mprod_ready(r);
    if (UNLIKELY(err != 0)) {
        return err;
    }
    if (UNLIKELY(msg == NULL && len != 0)) {
        return SHMRING_EINVAL;
    }
    err = shmring__mprod_send(&r->side.mprod, msg, len);
    if (UNLIKELY(err != 0)) {
        return mprod_full(r, err);
    }
    shmring__wake_peer(r, &r->hdr->consumer_waiting);
    return 0;
}

int shmring__mp_reserve(shmring *r, size_t len, void **slot)
{
    if (r->role != SHMRING__ROLE_MPROD) {
        return SHMRING_EPERM;
    }
    int err = mprod_ready(r);
    if (UNLIKELY(err != 0)) {
        return err;
    }
    if (UNLIKELY(slot == NULL)) {
        return SHMRING_EINVAL;
    }
    err = shmring__mprod_reserve(&r->side.mprod, len, slot);
    return UNLIKELY(err != 0) ? mprod_full(r, err) : 0;
}

int shmring__mp_commit(shmring *r, size_t len)
{
    if (r->role != SHMRING__ROLE_MPROD) {
        return SHMRING_EPERM;
    }
    struct shmring__mprod *p = &r->side.mprod;
    if (UNLIKELY(!p->resv_open || len > p->resv_len)) {
        return SHMRING_EINVAL;
    }
    shmring__mprod_commit(p, len);
    shmring__wake_peer(r, &r->hdr->consumer_waiting);
    return 0;
}

int shmring__mp_abort(shmring *r)
{
    if (r->role != SHMRING__ROLE_MPROD) {
        return SHMRING_EPERM;
    }
    struct shmring__mprod *p = &r->side.mprod;
    if (!p->resv_open) {
        return SHMRING_EINVAL;
    }
    shmring__mprod_abort(p);
    return 0;
}

int shmring__mp_send_batch(shmring *r, const struct shmring_buf *msgs, size_t n)
{
    if (r->role != SHMRING__ROLE_MPROD) {
        return SHMRING_EPERM;
    }
    int err = mprod_ready(r);
    if (UNLIKELY(err != 0)) {
        return err;
    }
    if (UNLIKELY(msgs == NULL && n != 0)) {
        return SHMRING_EINVAL;
    }
    int sent = shmring__mprod_send_batch(&r->side.mprod, msgs, n);
    if (sent > 0) {
        shmring__wake_peer(r, &r->hdr->consumer_waiting);
        return sent;
    }
    if (sent == 0 && n > 0) {
        err = mprod_full(r, SHMRING_EAGAIN);
        return err == SHMRING_EPIPE ? err : 0;
    }
    return sent;
}

/* ---- consumer ------------------------------------------------------------------------------ */

static inline int mcons_ready(shmring *r)
{
    return UNLIKELY(r->side.mcons.broken) ? r->side.mcons.broken : 0;
}

/* Nothing committed at head. 1: look again now (a dead claim was skipped or a record was just
 * committed); else the call's result: SHMRING_EAGAIN, SHMRING_EPIPE, SHMRING_EBADMSG,
 * SHMRING_EPROTO. */
static int mcons_empty(shmring *r, int err, int round)
{
    struct shmring__mcons *c = &r->side.mcons;
    if (err != SHMRING_EAGAIN) {
        return err;
    }
    if (round == 0) {
        r->mp_queries = 0;
    }
    if (c->stalled && round < RESOLVE_ROUNDS && r->mp_queries < QUERY_BUDGET) {
        /* An uncommitted record at head: normal for a moment (its producer is copying). After
         * SHMRING__MP_STALL_NS at the same place, or at once when no producer lives, ask. */
        int64_t now = shmring__plat_coarse_ns();
        int ask_now = 0;
        if (c->stall_pos != c->head) {
            c->stall_pos = c->head;
            c->stall_since_ns = now;
            /* Right after a dead claim, the next one is likely dead too (producers killed
             * together: an OOM kill, a stopped container): ask about it at once, one liveness
             * query, instead of after another SHMRING__MP_STALL_NS. Before, K claims of
             * producers killed together held the live ones behind them for K x 10-12 ms (found
             * by an attack: 20 dead claims, 239 ms). A live claim is then asked about again only
             * after the usual period. */
            ask_now = c->stall_ask_now;
        }
        c->stall_ask_now = 0;
        int gone = 0;
        if (ask_now || now - c->stall_since_ns >= SHMRING__MP_STALL_NS ||
            (gone = shmring__peer_gone(r, 0)) != 0) {
            c->stall_since_ns = now;
            int res = shmring__mcons_resolve(c, slot_alive, r);
            if (res >= 0) {
                c->stall_ask_now = res == 1; /* a dead claim was skipped */
                if (gone) {
                    /* Every producer was gone a moment ago: the next look probes again at once
                     * (the probe is rate-limited), so dead claims in a row are skipped in one
                     * call, not one per probe period, and the end is seen right after them. */
                    r->next_liveness_ns = 0;
                }
                return 1;
            }
            if (res != SHMRING_EAGAIN) {
                return res;
            }
        }
    }
    /* Nothing to read: give back the consumed bytes. The partial line at head only from the
     * second look on (a producer may need them for a message almost as large as the data
     * area): on the first, a producer is most likely writing the next record into it. */
    if (shmring__mcons_publish_part(c, c->idle != 0 ? SHMRING__MP_PUB_ALL
                                                    : SHMRING__MP_PUB_LINES_ONLY)) {
        shmring__wake_peer(r, &r->hdr->producer_waiting);
    }
    c->empty_events++;
    /* MC8 (relaxed): statistics; only the consumer writes it. */
    atomic_store_explicit(&r->hdr->empty_events, c->empty_events, memory_order_relaxed);
    if (!c->stalled && shmring__peer_gone(r, 0)) {
        /* MA11: pairs with MR2, MR9: a producer may have claimed between our empty check and
         * its close. */
        uint64_t claim = atomic_load_explicit(&c->v.ext->claim, memory_order_acquire);
        return claim == c->head ? SHMRING_EPIPE : SHMRING_EAGAIN;
    }
    return SHMRING_EAGAIN;
}

/* A record at head that is claimed and not yet committed is usually being copied right now:
 * this many polls of its header (about a microsecond) before reporting SHMRING_EAGAIN, so that a
 * caller does not go to sleep or yield for a write of a few nanoseconds. */
#define STALL_POLLS 256

/* shmring__mcons_next() with the stall handling of mcons_empty(): a length or an error. */
SHMRING__MP_INLINE int64_t mcons_next(shmring *r, const void **msg, uint64_t *size)
{
    int polls = 0;
    for (int round = 0;; round++) {
        int64_t len = shmring__mcons_next(&r->side.mcons, msg, size);
        if (LIKELY(len >= 0)) {
            return len;
        }
        if (len == SHMRING_EAGAIN && r->side.mcons.stalled && polls < STALL_POLLS) {
            polls++;
            round--;
            shmring__plat_cpu_relax();
            continue;
        }
        int res = mcons_empty(r, (int)len, round);
        if (res != 1) {
            return res;
        }
    }
}

shmring_ssize shmring__mp_recv(shmring *r, void *buf, size_t cap)
{
    if (r->role != SHMRING__ROLE_MCONS) {
        return SHMRING_EPERM;
    }
    int err = mcons_ready(r);
    if (UNLIKELY(err != 0)) {
        return err;
    }
    struct shmring__mcons *c = &r->side.mcons;
    if (UNLIKELY((buf == NULL && cap != 0) || c->peek_size != 0)) {
        return SHMRING_EINVAL;
    }
    const void *msg = NULL;
    uint64_t size = 0;
    int64_t len = mcons_next(r, &msg, &size);
    if (UNLIKELY(len < 0)) {
        return (shmring_ssize)len;
    }
    if (UNLIKELY((uint64_t)len > cap)) {
        return SHMRING_EMSGSIZE; /* left in place */
    }
    shmring__copy(buf, msg, (uint64_t)len);
    shmring__mcons_advance(c, size, (uint64_t)len);
    if (shmring__mcons_publish_part(c, SHMRING__MP_PUB_LINES)) {
        shmring__wake_peer(r, &r->hdr->producer_waiting);
    }
    return (shmring_ssize)len;
}

shmring_ssize shmring__mp_peek(shmring *r, const void **msg)
{
    if (r->role != SHMRING__ROLE_MCONS) {
        return SHMRING_EPERM;
    }
    int err = mcons_ready(r);
    if (UNLIKELY(err != 0)) {
        return err;
    }
    if (UNLIKELY(msg == NULL)) {
        return SHMRING_EINVAL;
    }
    struct shmring__mcons *c = &r->side.mcons;
    uint64_t size = 0;
    int64_t len = mcons_next(r, msg, &size);
    if (len >= 0) {
        c->peek_size = size;
        c->peek_len = (uint64_t)len;
    }
    return (shmring_ssize)len;
}

int shmring__mp_release(shmring *r)
{
    if (r->role != SHMRING__ROLE_MCONS) {
        return SHMRING_EPERM;
    }
    struct shmring__mcons *c = &r->side.mcons;
    if (UNLIKELY(c->peek_size == 0)) {
        return SHMRING_EINVAL;
    }
    shmring__mcons_consume(c);
    if (shmring__mcons_publish_part(c, SHMRING__MP_PUB_LINES)) {
        shmring__wake_peer(r, &r->hdr->producer_waiting);
    }
    return 0;
}

int shmring__mp_drain(shmring *r, shmring_handler fn, void *ctx, size_t max)
{
    if (r->role != SHMRING__ROLE_MCONS) {
        return SHMRING_EPERM;
    }
    int err = mcons_ready(r);
    if (UNLIKELY(err != 0)) {
        return err;
    }
    struct shmring__mcons *c = &r->side.mcons;
    if (UNLIKELY(fn == NULL || c->peek_size != 0)) {
        return SHMRING_EINVAL;
    }
    if (max == 0 || max > (size_t)INT32_MAX) {
        max = (size_t)INT32_MAX;
    }
    size_t done = 0;
    int64_t len = 0;
    while (done < max) {
        if (done % 32 == 0 && done > 0) {
            /* Room back to the producers now and then (shmring_drain publishes when it has
             * caught up with the tail; here there is no tail to catch up with). */
            if (shmring__mcons_publish_part(c, SHMRING__MP_PUB_LINES)) {
                shmring__wake_peer(r, &r->hdr->producer_waiting);
            }
        }
        const void *msg = NULL;
        uint64_t size = 0;
        len = done == 0 ? mcons_next(r, &msg, &size) : shmring__mcons_next(c, &msg, &size);
        if (len < 0) {
            break;
        }
        int stop = fn(ctx, msg, (size_t)len);
        shmring__mcons_advance(c, size, (uint64_t)len);
        done++;
        if (stop != 0) {
            break;
        }
    }
    /* Drained to empty: every consumed byte back, as in mcons_empty(). */
    if (shmring__mcons_publish_part(c, len == SHMRING_EAGAIN ? SHMRING__MP_PUB_ALL
                                                             : SHMRING__MP_PUB_LINES)) {
        shmring__wake_peer(r, &r->hdr->producer_waiting);
    }
    if (done > 0) {
        return (int)done;
    }
    return len == SHMRING_EAGAIN ? 0 : (int)len;
}

/* ---- information ----------------------------------------------------------------------- */

static struct shmring__mp_slot *slot_at(shmring *r, uint32_t k)
{
    return (struct shmring__mp_slot *)((uint8_t *)r->hdr + SHMRING__MP_SLOTS_OFF) + k;
}

void shmring__mp_stats(shmring *r, struct shmring_stats *out)
{
    struct shmring__hdr *h = r->hdr;
    /* MC10 (relaxed snapshot, with claim below): each slot counter has a single writer, the
     * sums are exact per slot. MP6 (relaxed): state and pid, a hint; the lock says who lives. */
    uint64_t msgs = 0, bytes = 0, full = 0, sleeps = 0;
    uint32_t live = 0;
    int32_t first_pid = 0;
    for (uint32_t k = 0; k < r->mp_slots; k++) {
        struct shmring__mp_slot *s = slot_at(r, k);
        msgs += atomic_load_explicit(&s->sent_msgs, memory_order_relaxed);
        bytes += atomic_load_explicit(&s->sent_bytes, memory_order_relaxed);
        full += atomic_load_explicit(&s->full_events, memory_order_relaxed);
        sleeps += atomic_load_explicit(&s->sleeps, memory_order_relaxed);
        if (atomic_load_explicit(&s->state, memory_order_relaxed) != SHMRING__PEER_NEVER &&
            slot_alive(r, k)) {
            live++;
            if (first_pid == 0) {
                first_pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
            }
        }
    }
    out->sent_msgs = msgs;
    out->sent_bytes = bytes;
    out->full_events = full;
    out->producer_sleeps = sleeps;
    out->producer_pid = first_pid;
    out->capacity = r->seg.size - shmring__mp_header_size(r->mp_slots);
    out->max_msg = shmring__max_msg_for(out->capacity);
    /* MC10 as above: claim is this ring's tail. */
    out->tail = atomic_load_explicit(
        &((struct shmring__mp_ext *)((uint8_t *)h + SHMRING__MP_EXT_OFF))->claim,
        memory_order_relaxed);
    out->used_bytes = out->tail - out->head;
    out->flags |= SHMRING_MULTI_PRODUCER;
    out->kind = SHMRING_KIND_MPSC;
    out->producers = live;
    out->max_producers = r->mp_slots;
}

int shmring_producers(shmring *r, struct shmring_producer_info *out, size_t cap)
{
    if (r == NULL || r->magic != SHMRING__HANDLE_MAGIC || r->role == 0 ||
        (out == NULL && cap != 0)) {
        return SHMRING_EINVAL;
    }
    struct shmring__hdr *h = r->hdr;
    size_t n = 0;
    if (r->mp_slots == 0) {
        /* A single-producer ring: its one producer, if it lives. MP7 (pid) and MC11 (counters)
         * as below: a relaxed snapshot. */
        int mine = r->role == SHMRING_PRODUCER;
        if (mine || shmring__seg_role_held(&r->seg, SHMRING__ROLE_ID_PRODUCER)) {
            if (cap > 0) {
                memset(&out[0], 0, sizeof out[0]);
                out[0].pid = mine ? shmring__plat_pid()
                                  : atomic_load_explicit(&h->producer_pid, memory_order_relaxed);
                out[0].sent_msgs = atomic_load_explicit(&h->sent_msgs, memory_order_relaxed);
                out[0].sent_bytes = atomic_load_explicit(&h->sent_bytes, memory_order_relaxed);
            }
            n = 1;
        }
        return (int)n;
    }
    for (uint32_t k = 0; k < r->mp_slots; k++) {
        struct shmring__mp_slot *s = slot_at(r, k);
        /* MP7 (relaxed): an informational snapshot; the lock says who lives. MC11 (relaxed):
         * the slot's counters, as MC10. */
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == SHMRING__PEER_NEVER ||
            !slot_alive(r, k)) {
            continue;
        }
        if (n < cap) {
            memset(&out[n], 0, sizeof out[n]);
            out[n].slot = k;
            out[n].pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
            out[n].sent_msgs = atomic_load_explicit(&s->sent_msgs, memory_order_relaxed);
            out[n].sent_bytes = atomic_load_explicit(&s->sent_bytes, memory_order_relaxed);
        }
        n++;
    }
    return (int)n;
}
