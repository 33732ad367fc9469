/* SPDX-License-Identifier: MIT */
/* Blocking calls: spin briefly, then sleep on a wait word in the mapping. The sleeper raises
 * its "waiting" flag, runs the heavy barrier and checks the ring once more before sleeping; the
 * publisher stores its index, runs the light barrier and reads the flag (handle.h). One of the
 * two always sees the other, so no wake-up is lost, and a publisher whose peer is awake makes no
 * system call at all. Sleeps are cut into slices so a dead peer is noticed within ~40 ms. */

#include "handle.h"

#define SPIN_ROUNDS 2000 /* ~20-60 us of polling before the first sleep */
/* After the first rounds the spin yields the CPU now and then: when the peer shares this CPU
 * (a one-CPU container, or both pinned together), it gets to run and answer instead of waiting
 * for our spin to end. With a CPU of its own the yield returns at once. */
#define SPIN_YIELD_EVERY    512 /* rounds 128, 640, 1152, 1664: a few, as a yield under load can */
#define SPIN_YIELD_AT       128 /* hand the CPU away for a whole time slice of another process */
#define SLICE_NS            (40 * 1000000LL) /* the longest sleep between liveness probes */
#define SPIN_DEADLINE_EVERY 64 /* rounds between clock reads in the spin (a vDSO call, ~20 ns) */
/* A wake-up that brings no progress (the peer published too little, or a hostile peer keeps
 * clearing our flag and waking us) is followed by a nap that doubles up to NAP_MAX: each pass
 * costs a heavy barrier, a liveness query and a kernel wait, so without it a waiter could be made
 * to burn a whole CPU. A real publish still ends the nap at the next look. */
#define NAP_MIN_NS (50 * 1000LL)
#define NAP_MAX_NS (4 * 1000000LL)
#define GONE_LOOKS 64 /* see gone_answer() */
/* A producer that finds a ring of at least PRODUCER_YIELD_MIN_SIZE bytes full yields the CPU
 * between its looks instead of pausing, for at most PRODUCER_SPIN_NS before it sleeps. Its wait
 * adds no latency (a ring of messages is ahead of its next one), while its looks cost the
 * consumer it waits for: each reads the line the consumer writes on every message, and a
 * producer that shares a CPU with the consumer (more processes than CPUs: two producers and a
 * consumer on two) holds that CPU while it pauses (docs/mpsc.md, "Wake-ups", for what it
 * moved). A smaller ring is drained within a few yields (4 KiB holds 56 messages of 64 B), and
 * its consumer then waits for the producer. A consumer waiting on an empty ring keeps pausing:
 * there the next message's latency is at stake, and a yield is a system call (1.3 us on the
 * development VM). */
#define PRODUCER_SPIN_NS        (60 * 1000LL)
#define PRODUCER_YIELD_MIN_SIZE (64 * 1024)

typedef int (*try_fn)(shmring *r, void *arg);

static int is_producer(const shmring *r)
{
    return r != NULL && r->magic == SHMRING__HANDLE_MAGIC &&
           (r->role == SHMRING_PRODUCER || r->role == SHMRING__ROLE_MPROD);
}

static int is_consumer(const shmring *r)
{
    return r != NULL && r->magic == SHMRING__HANDLE_MAGIC &&
           (r->role == SHMRING_CONSUMER || r->role == SHMRING__ROLE_MCONS);
}

/* Where this producer counts its sleeps: the header, or its slot on a multi-producer ring. */
static _Atomic uint64_t *producer_sleeps(shmring *r)
{
    return r->role == SHMRING__ROLE_MPROD ? &r->side.mprod.me->sleeps : &r->hdr->producer_sleeps;
}

/* The answer of a wait whose peer is gone: try once more (anything published before the peer
 * went is still ours), and SHMRING_EPIPE if that finds nothing. On a multi-producer ring only the
 * consumer's own look may say SHMRING_EPIPE (MA11: once nothing is claimed past head), and its
 * SHMRING_EAGAIN can mean a dead producer's claim at head with committed records behind it: the
 * look skips such a claim only after asking the kernel about its producer, which it does at most
 * every SHMRING__LIVENESS_PERIOD_NS. So the next look asks at once; if it still says
 * SHMRING_EAGAIN (a producer attached meanwhile, or its claim is live after all), the wait goes
 * on. Before this, a wait answered SHMRING_EPIPE with records still to deliver. */
static int gone_answer(shmring *r, try_fn try, void *arg)
{
    if (r->role == SHMRING__ROLE_MCONS) {
        /* Again while a look skips dead claims without delivering (head moves): the look that
         * skipped the last one has just used the probe, and would say SHMRING_EAGAIN where the
         * end has come. At most GONE_LOOKS looks (each skips up to 64 dead claims), so that a
         * peer that keeps writing padding cannot hold the wait past its deadline. */
        int res;
        int looks = 0;
        uint64_t head;
        do {
            head = r->side.mcons.head;
            r->next_liveness_ns = 0;
            r->side.mcons.look_claim = 1; /* a fresh `claim`: the cached one may be behind */
            res = try(r, arg);
        } while (res == SHMRING_EAGAIN && r->side.mcons.head != head && ++looks < GONE_LOOKS);
        return res;
    }
    int res = try(r, arg);
    return res == SHMRING_EAGAIN ? SHMRING_EPIPE : res;
}

/* The spin phase of a wait: looks again and again before the wait goes to sleep. Returns the
 * first result other than SHMRING_EAGAIN, or SHMRING_EAGAIN when the phase is over. */
static int spin(shmring *r, try_fn try, void *arg, int64_t deadline)
{
    int res = SHMRING_EAGAIN;
    if (is_producer(r) && r->seg.size >= PRODUCER_YIELD_MIN_SIZE) { /* see PRODUCER_SPIN_NS */
        /* A yield can give the CPU away for a whole time slice: only a wait with at least
         * PRODUCER_SPIN_NS left yields at every look; a shorter one spins as below (#10 fault
         * 14: a 1 ns wait took milliseconds). */
        int64_t now = shmring__plat_now_ns();
        if (deadline - now >= PRODUCER_SPIN_NS) {
            const int64_t end = now + PRODUCER_SPIN_NS;
            for (int i = 0; i < SPIN_ROUNDS && now < end; i++) {
                shmring__plat_yield();
                if ((res = try(r, arg)) != SHMRING_EAGAIN) {
                    return res;
                }
                now = shmring__plat_now_ns();
            }
            return res;
        }
    }
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        /* A timeout shorter than the spin ends it: without this check a 1 ns wait ran all
         * rounds and their yields, milliseconds on a busy machine (#10 fault 14). */
        if (i % SPIN_DEADLINE_EVERY == SPIN_DEADLINE_EVERY - 1 &&
            shmring__plat_now_ns() >= deadline) {
            break;
        }
        if (i % SPIN_YIELD_EVERY == SPIN_YIELD_AT) {
            shmring__plat_yield();
        } else {
            shmring__plat_cpu_relax();
        }
        if ((res = try(r, arg)) != SHMRING_EAGAIN) {
            return res;
        }
    }
    return res;
}

/* Runs try until it returns something other than SHMRING_EAGAIN, the deadline passes, or the peer
 * is gone. `mine` is this side's flag, `sleeps` the header counter of this side's sleeps. */
static int wait_loop(shmring *r, try_fn try, void *arg, int64_t timeout_ns, _Atomic uint32_t *mine,
                     _Atomic uint64_t *sleeps)
{
    /* The producers of a multi-producer ring share their flag: a waker clears it (exchange in
     * shmring__wake_slow), a sleeper never does, or it could clear another sleeper's 1 and that
     * one would miss its wake-up. A flag left at 1 costs at most one needless wake call. */
    const int shared = r->role == SHMRING__ROLE_MPROD;
    int res = try(r, arg);
    if (res != SHMRING_EAGAIN || timeout_ns == 0) {
        return res;
    }
    int64_t deadline = shmring__plat_deadline(timeout_ns); /* saturated: no overflow */
    int64_t nap = 0;
    if ((res = spin(r, try, arg, deadline)) != SHMRING_EAGAIN) {
        return res;
    }
    for (;;) {
        int64_t now = shmring__plat_now_ns();
        if (now >= deadline) {
            /* A peer that is gone is reported as such even by the shortest wait. */
            if (shmring__peer_gone(r, 1)) {
                res = gone_answer(r, try, arg);
                return res == SHMRING_EAGAIN ? SHMRING_ETIMEDOUT : res;
            }
            return SHMRING_ETIMEDOUT;
        }
        if (r->role == SHMRING__ROLE_MCONS) {
            r->side.mcons.look_claim = 1; /* whether a record is stalled decides the slice */
        }
        /* W1 (relaxed): ordered before the try below by H1. */
        atomic_store_explicit(mine, 1, memory_order_relaxed);
        /* H1: pairs with the light barrier in shmring__wake_peer(): after it, either our try
         * sees the peer's publish, or the peer sees our flag and wakes us. */
        shmring__plat_heavy_barrier();
        res = try(r, arg);
        if (res != SHMRING_EAGAIN) {
            if (!shared) {
                atomic_store_explicit(mine, 0,
                                      memory_order_relaxed); /* W2 (relaxed): a hint only */
            }
            return res;
        }
        if (shmring__peer_gone(r, 1) && (res = gone_answer(r, try, arg)) != SHMRING_EAGAIN) {
            if (!shared) {
                atomic_store_explicit(mine, 0, memory_order_relaxed); /* W2 */
            }
            return res;
        } /* else a multi-producer consumer sleeps a slice with its flag up and looks again */
        int64_t slice = deadline - now < SLICE_NS ? deadline - now : SLICE_NS;
        if (r->role == SHMRING__ROLE_MCONS && r->side.mcons.stalled &&
            slice > SHMRING__MP_STALL_NS) {
            slice = SHMRING__MP_STALL_NS; /* an uncommitted record: its writer may have died */
        }
        r->sleeps++;
        /* C10 (relaxed): only this side writes its sleep counter. */
        atomic_store_explicit(sleeps, r->sleeps, memory_order_relaxed);
        int side = is_producer(r) ? SHMRING__SIDE_PRODUCER : SHMRING__SIDE_CONSUMER;
        int w = shmring__plat_wait(r->seg.plat, side, mine, 1, slice);
        if (!shared) {
            atomic_store_explicit(mine, 0, memory_order_relaxed); /* W2 (relaxed): a hint only */
        }
        if (w == SHMRING_EINTR) {
            return SHMRING_EINTR;
        }
        /* Woken, usually by the peer's publish: look before raising the flag again, so that a
         * wake-up costs no heavy barrier (on Linux an IPI to the busy peer). The kernel wait
         * orders the peer's publish before this try; if it finds nothing, the loop re-arms. */
        if ((res = try(r, arg)) != SHMRING_EAGAIN) {
            return res;
        }
        if (w == 0) {
            nap = nap == 0 ? NAP_MIN_NS : nap < NAP_MAX_NS / 2 ? nap * 2 : NAP_MAX_NS;
            now = shmring__plat_now_ns();
            if (now < deadline) {
                shmring__plat_sleep_ns(nap < deadline - now ? nap : deadline - now);
            }
            if ((res = try(r, arg)) != SHMRING_EAGAIN) {
                return res;
            }
        }
    }
}

struct send_args {
    const void *msg;
    size_t len;
};

static int try_send(shmring *r, void *arg)
{
    struct send_args *a = arg;
    return shmring_send(r, a->msg, a->len);
}

int shmring_send_wait(shmring *r, const void *msg, size_t len, int64_t timeout_ns)
{
    if (!is_producer(r)) {
        return shmring_send(r, msg, len); /* the same argument errors */
    }
    struct send_args a = {msg, len};
    return wait_loop(r, try_send, &a, timeout_ns, &r->hdr->producer_waiting, producer_sleeps(r));
}

struct reserve_args {
    size_t len;
    void **slot;
};

static int try_reserve(shmring *r, void *arg)
{
    struct reserve_args *a = arg;
    return shmring_reserve(r, a->len, a->slot);
}

int shmring_reserve_wait(shmring *r, size_t len, void **slot, int64_t timeout_ns)
{
    if (!is_producer(r)) {
        return shmring_reserve(r, len, slot);
    }
    struct reserve_args a = {len, slot};
    return wait_loop(r, try_reserve, &a, timeout_ns, &r->hdr->producer_waiting, producer_sleeps(r));
}

struct recv_args {
    void *buf;
    size_t cap;
    const void **msg;
};

/* shmring_ssize results fit int here: a message is at most SHMRING_MAX_SIZE / 2 bytes. */
static int try_recv(shmring *r, void *arg)
{
    struct recv_args *a = arg;
    return (int)shmring_recv(r, a->buf, a->cap);
}

static int try_peek(shmring *r, void *arg)
{
    struct recv_args *a = arg;
    return (int)shmring_peek(r, a->msg);
}

shmring_ssize shmring_recv_wait(shmring *r, void *buf, size_t cap, int64_t timeout_ns)
{
    if (!is_consumer(r)) {
        return shmring_recv(r, buf, cap);
    }
    struct recv_args a = {buf, cap, NULL};
    return wait_loop(r, try_recv, &a, timeout_ns, &r->hdr->consumer_waiting,
                     &r->hdr->consumer_sleeps);
}

shmring_ssize shmring_peek_wait(shmring *r, const void **msg, int64_t timeout_ns)
{
    if (!is_consumer(r)) {
        return shmring_peek(r, msg);
    }
    struct recv_args a = {NULL, 0, msg};
    return wait_loop(r, try_peek, &a, timeout_ns, &r->hdr->consumer_waiting,
                     &r->hdr->consumer_sleeps);
}

struct peek_next_args {
    const void **msg;
    uint64_t *pos;
};

static int try_peek_next(shmring *r, void *arg)
{
    struct peek_next_args *a = arg;
    return (int)shmring_peek_next(r, a->msg, a->pos);
}

shmring_ssize shmring_peek_next_wait(shmring *r, const void **msg, uint64_t *pos,
                                     int64_t timeout_ns)
{
    if (r == NULL || r->magic != SHMRING__HANDLE_MAGIC || r->role != SHMRING_CONSUMER) {
        return shmring_peek_next(r, msg, pos);
    }
    struct peek_next_args a = {msg, pos};
    return wait_loop(r, try_peek_next, &a, timeout_ns, &r->hdr->consumer_waiting,
                     &r->hdr->consumer_sleeps);
}
