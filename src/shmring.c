/* SPDX-License-Identifier: MIT */
/* The public handle: joins a segment and a ring side, enforces roles, and keeps a process-wide
 * list of handles so that exit() detaches them and a forked child drops what it inherited. */
#include <stdlib.h>
#include <string.h>

#include "handle.h"

#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- process-wide handle list ---------------------------------------------------------- */

static shmring__plat_mutex list_lock = SHMRING__PLAT_MUTEX_INIT;
static shmring *list_head;
static shmring__plat_once_t process_once = SHMRING__PLAT_ONCE_INIT;

static void role_detach(shmring *r);
static void bookmark_attach(shmring *r);

static void (*_Atomic exit_lock)(void);
static void (*_Atomic exit_unlock)(void);

void shmring__set_exit_lock(void (*lock)(void), void (*unlock)(void))
{
    /* Relaxed: set once before the first set/get handle exists, read at exit by the thread that
     * runs the handlers, after the once and the list lock that ordered the attach. */
    atomic_store_explicit(&exit_unlock, unlock, memory_order_relaxed);
    atomic_store_explicit(&exit_lock, lock, memory_order_relaxed);
}

static void on_exit_detach_all(void)
{
    /* exit() without shmring_close: detach every handle so the last user removes the name.
     * Other threads may still be inside a call: the mappings stay (the process is ending
     * anyway), and the set/get calls' own lock keeps a SetSharedMem from using the descriptor
     * while we close it. Its lock comes first: SetSharedMem takes the list lock under it. */
    void (*lock)(void) = atomic_load_explicit(&exit_lock, memory_order_relaxed);
    void (*unlock)(void) = atomic_load_explicit(&exit_unlock, memory_order_relaxed);
    if (lock != NULL) {
        lock();
    }
    shmring__plat_mutex_lock(&list_lock);
    for (shmring *r = list_head; r != NULL; r = r->next) {
        if (r->role != 0) {
            role_detach(r);
            shmring__seg_close_at_exit(&r->seg);
            r->role = 0;
        }
    }
    shmring__plat_mutex_unlock(&list_lock);
    if (unlock != NULL) {
        unlock();
    }
}

/* The set/get lock is taken here, before the list lock (the order of SetSharedMem, which opens
 * under it), rather than by handlers of compat.c's own: those were registered only after the
 * first set/get attach, which runs under the lock, so a fork meanwhile gave a child that lock
 * held forever (#10 fault 13). */
static void fork_prepare(void)
{
    shmring__compat_lock();
    shmring__plat_mutex_lock(&list_lock);
}

static void fork_parent(void)
{
    shmring__plat_mutex_unlock(&list_lock);
    shmring__compat_unlock();
}

static void fork_child(void)
{
    /* The child shares our open file descriptions, and with them our role and attach locks.
     * Closing its copies lets those locks die with the parent; its handles become inert. */
    for (shmring *r = list_head; r != NULL; r = r->next) {
        if (r->role != 0) {
            shmring__seg_forget(&r->seg);
            r->role = 0;
        }
    }
    shmring__plat_mutex_unlock(&list_lock);
    shmring__compat_unlock();
}

static void process_init(void)
{
    shmring__plat_barrier_init();
    shmring__plat_at_fork(fork_prepare, fork_parent, fork_child);
    shmring__plat_at_exit(on_exit_detach_all);
}

void shmring__process_init(void)
{
    shmring__plat_once(&process_once, process_init);
}

/* Under list_lock. */
static void list_remove(shmring *r)
{
    for (shmring **p = &list_head; *p != NULL; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
}

/* ---- roles ------------------------------------------------------------------------------ */

static int role_attach(shmring *r)
{
    struct shmring__hdr *h = r->hdr;
    int err;
    if (r->mp_slots != 0) {
        return shmring__mp_role_attach(r);
    }
    if (r->role == SHMRING_PRODUCER) {
        if ((err = shmring__seg_take_role(&r->seg, SHMRING__ROLE_ID_PRODUCER)) < 0) {
            return err;
        }
        if ((err = shmring__prod_attach(&r->side.prod, h, r->seg.size)) < 0) {
            return err;
        }
        bookmark_attach(r);
        /* C5, W5, P1 (relaxed): we hold the role lock; nothing is published through them. */
        r->sleeps = atomic_load_explicit(&h->producer_sleeps, memory_order_relaxed);
        atomic_store_explicit(&h->producer_waiting, 0, memory_order_relaxed);
        atomic_store_explicit(&h->producer_pid, shmring__plat_pid(), memory_order_relaxed);
        /* R3: pairs with A3 in shmring__peer_gone(): a consumer that sees ATTACHED no longer
         * reports SHMRING_EPIPE. */
        atomic_store_explicit(&h->producer_state, SHMRING__PEER_ATTACHED, memory_order_release);
    } else if (r->role == SHMRING_CONSUMER) {
        if ((err = shmring__seg_take_role(&r->seg, SHMRING__ROLE_ID_CONSUMER)) < 0) {
            return err;
        }
        if ((err = shmring__cons_attach(&r->side.cons, h, r->seg.size)) < 0) {
            return err;
        }
        shmring__consumer_attached(r);
    }
    return 0;
}

void shmring__consumer_attached(shmring *r)
{
    struct shmring__hdr *h = r->hdr;
    /* C5, W5, P1 (relaxed): as for the producer (W5 clears a dead holder's flag: at worst one
     * spurious wake-up). */
    r->sleeps = atomic_load_explicit(&h->consumer_sleeps, memory_order_relaxed);
    atomic_store_explicit(&h->consumer_waiting, 0, memory_order_relaxed);
    atomic_store_explicit(&h->consumer_pid, shmring__plat_pid(), memory_order_relaxed);
    /* R4: pairs with A3 in shmring__peer_gone() on the producers' side. */
    atomic_store_explicit(&h->consumer_state, SHMRING__PEER_ATTACHED, memory_order_release);
}

static void role_detach(shmring *r)
{
    struct shmring__hdr *h = r->hdr;
    if (r->mp_slots != 0) {
        shmring__mp_role_detach(r);
        return;
    }
    if (r->role == SHMRING_PRODUCER) {
        /* P2 (relaxed): informational; liveness is the role lock. */
        atomic_store_explicit(&h->producer_pid, 0, memory_order_relaxed);
        /* R5: after the last publish (R1); pairs with A3: a consumer that sees CLOSED re-reads
         * tail and so still receives everything committed before the close. */
        atomic_store_explicit(&h->producer_state, SHMRING__PEER_CLOSED, memory_order_release);
        shmring__plat_heavy_barrier(); /* H2: R5 before W3's flag check; pairs with H1 */
        shmring__wake_slow(r,
                           &h->consumer_waiting); /* a sleeping consumer sees SHMRING_EPIPE now */
        shmring__seg_drop_role(&r->seg, SHMRING__ROLE_ID_PRODUCER);
    } else if (r->role == SHMRING_CONSUMER) {
        if (r->side.cons.dirty) {
            shmring__cons_publish(&r->side.cons);
        }
        /* P2 (relaxed): as for the producer. */
        atomic_store_explicit(&h->consumer_pid, 0, memory_order_relaxed);
        /* R6: after the last R2; pairs with A3: a producer that sees CLOSED gets SHMRING_EPIPE. */
        atomic_store_explicit(&h->consumer_state, SHMRING__PEER_CLOSED, memory_order_release);
        shmring__plat_heavy_barrier(); /* H2, as for the producer */
        shmring__wake_slow(r, &h->producer_waiting);
        shmring__seg_drop_role(&r->seg, SHMRING__ROLE_ID_CONSUMER);
    }
}

int shmring__peer_gone(shmring *r, int force)
{
    struct shmring__hdr *h = r->hdr;
    if (r->role == SHMRING__ROLE_MCONS) {
        return shmring__mp_peer_gone(r, force);
    }
    int producer_side = r->role == SHMRING_PRODUCER || r->role == SHMRING__ROLE_MPROD;
    _Atomic uint32_t *state = producer_side ? &h->consumer_state : &h->producer_state;
    /* A3: pairs with R3/R4 (attach) and R5/R6 (close) of the peer; for a producer of a
     * multi-producer ring, R4 and MR15 of the consumer. */
    uint32_t s = atomic_load_explicit(state, memory_order_acquire);
    if (s == SHMRING__PEER_NEVER) {
        return 0; /* not yet attached: wait for it */
    }
    if (s != SHMRING__PEER_ATTACHED) {
        return 1;
    }
    /* Once seen dead, always probed: every call says SHMRING_EPIPE until a new peer holds the role
     * (it stores ATTACHED over the dead one's ATTACHED, so only the lock tells them apart). */
    if (!force && !r->peer_dead) {
        int64_t now = shmring__plat_coarse_ns();
        if (now < r->next_liveness_ns) {
            return 0;
        }
        r->next_liveness_ns = now + SHMRING__LIVENESS_PERIOD_NS;
    }
    /* The kernel drops the role lock when its holder dies, whatever its pid became. */
    r->peer_dead = !shmring__seg_role_held(&r->seg, producer_side ? SHMRING__ROLE_ID_CONSUMER
                                                                  : SHMRING__ROLE_ID_PRODUCER);
    return r->peer_dead;
}

void shmring__wake_slow(shmring *r, _Atomic uint32_t *peer_waiting)
{
    /* W3 (relaxed): the exchange makes exactly one waker make the system call per sleep;
     * the barriers (B1/H2 against H1) order it, the kernel wait re-checks the word. */
    if (atomic_exchange_explicit(peer_waiting, 0, memory_order_relaxed) != 0) {
        /* The sleeper is the other side: a producer wakes the consumer, and back. */
        int side = r->role == SHMRING_PRODUCER || r->role == SHMRING__ROLE_MPROD
                       ? SHMRING__SIDE_CONSUMER
                       : SHMRING__SIDE_PRODUCER;
        shmring__plat_wake(r->seg.plat, side, peer_waiting);
        atomic_fetch_add_explicit(&r->hdr->wakeups, 1, memory_order_relaxed); /* C6 (relaxed) */
    }
}

/* ---- open / close ----------------------------------------------------------------------- */

/* The kind comes from the (validated) header, whoever created it: a multi-producer ring's
 * producer and consumer take the internal roles. Asking for SHMRING_MULTI_PRODUCER (or a
 * producer limit) on a ring of another kind or limit is SHMRING_EINVAL, like a different size. */
static int mp_kind(shmring *r, const struct shmring_opts *opts)
{
    struct shmring__hdr *h = r->hdr;
    int multi = (h->flags & SHMRING__F_MPSC) != 0;
    if (!multi) {
        return (opts->flags & SHMRING_MULTI_PRODUCER) ? SHMRING_EINVAL : 0;
    }
    struct shmring__mp_view v;
    if (shmring__mp_view_init(&v, h, r->seg.size) < 0) {
        return SHMRING_EPROTO;
    }
    if (opts->max_producers != 0 && opts->max_producers != v.nslots) {
        return SHMRING_EINVAL;
    }
    r->mp_slots = v.nslots;
    if (r->role == SHMRING_PRODUCER) {
        r->role = SHMRING__ROLE_MPROD;
    } else if (r->role == SHMRING_CONSUMER) {
        r->role = SHMRING__ROLE_MCONS;
    } else if (r->role == SHMRING__ROLE_LEGACY) {
        return SHMRING_EPROTO;
    }
    return 0;
}

int shmring__open(const char *name, int role, const struct shmring_opts *opts, uint32_t hdr_flags,
                  shmring **out)
{
    static const struct shmring_opts defaults = {.flags = SHMRING_CREATE};
    if (out == NULL) {
        return SHMRING_EINVAL;
    }
    *out = NULL;
    if (opts == NULL) {
        opts = &defaults;
    }
    unsigned known = SHMRING_CREATE | SHMRING_EXCL | SHMRING_PERSIST | SHMRING_ANY_OWNER |
                     SHMRING_MULTI_PRODUCER;
    unsigned reserved = 0;
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++) {
        reserved |= opts->reserved[i];
    }
    int multi = (opts->flags & SHMRING_MULTI_PRODUCER) != 0;
    if (multi) {
        if (opts->max_producers > SHMRING__MP_MAX_PRODUCERS || hdr_flags != 0) {
            return SHMRING_EINVAL;
        }
        uint32_t nslots = opts->max_producers ? opts->max_producers : SHMRING__MP_DEF_PRODUCERS;
        hdr_flags = SHMRING__F_MPSC | nslots << SHMRING__FMT_PRODUCERS_SHIFT;
    }
    if ((role != SHMRING_PRODUCER && role != SHMRING_CONSUMER && role != SHMRING_OBSERVER &&
         role != SHMRING__ROLE_LEGACY) ||
        (opts->flags & ~known) != 0 || (!multi && opts->max_producers != 0) || reserved != 0 ||
        ((opts->flags & SHMRING_EXCL) && !(opts->flags & SHMRING_CREATE)) ||
        (opts->mode & ~0777u) != 0) {
        return SHMRING_EINVAL;
    }
    shmring__plat_once(&process_once, process_init);
    shmring *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return SHMRING_ENOMEM;
    }
    unsigned mode = opts->mode ? opts->mode : 0600;
    /* The list lock is held across the whole open: a fork from another thread waits for it
     * (fork_prepare), so a child can never inherit descriptors that its handler cannot see.
     * Cancellation is off meanwhile: the open has cancellation points (open, nanosleep, close),
     * and a thread cancelled there would leave the lock held: every later fork, open, close and
     * exit of the process would hang (#10 fault 12). */
    int cancel_state = shmring__plat_cancel_off();
    shmring__plat_mutex_lock(&list_lock);
    int err = shmring__seg_open(&r->seg, name, opts->size, mode, opts->flags, hdr_flags);
    if (err == SHMRING_EPROTO && role == SHMRING_OBSERVER && hdr_flags == 0) {
        /* An observer may also look at a set/get value mapping (stats then say KIND_LEGACY).
         * The first attempt refused it before changing anything; a mapping that is neither is
         * refused again. */
        err = shmring__seg_open(&r->seg, name, opts->size, mode, opts->flags & ~SHMRING_CREATE,
                                SHMRING__F_LEGACY);
    }
    if (err == 0) {
        r->hdr = r->seg.hdr;
        r->role = role;
        r->magic = SHMRING__HANDLE_MAGIC;
        if ((err = mp_kind(r, opts)) < 0 || (err = role_attach(r)) < 0) {
            shmring__seg_close(&r->seg);
        }
    }
    if (err == 0) {
        r->next = list_head;
        list_head = r;
    }
    shmring__plat_mutex_unlock(&list_lock);
    shmring__plat_cancel_restore(cancel_state);
    if (err < 0) {
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

int shmring_open(const char *name, int role, const struct shmring_opts *opts, shmring **out)
{
    if (role == SHMRING__ROLE_LEGACY) {
        return SHMRING_EINVAL;
    }
    return shmring__open(name, role, opts, 0, out);
}

int shmring_close(shmring *r)
{
    if (r == NULL) {
        return 0;
    }
    if (r->magic != SHMRING__HANDLE_MAGIC) {
        return SHMRING_EINVAL;
    }
    /* The list lock is held across the whole close, as across an open: a fork from another
     * thread waits for it (fork_prepare), so no child inherits the descriptor while we hold its
     * INIT lock (the child would keep it for as long as it lives) or is left with a handle its
     * fork handler cannot see. Cancellation is off meanwhile, as in an open. */
    int cancel_state = shmring__plat_cancel_off();
    shmring__plat_mutex_lock(&list_lock);
    list_remove(r);
    if (r->role != 0) {
        role_detach(r);
        shmring__seg_close(&r->seg);
    } else {
        shmring__seg_forget(&r->seg); /* inherited across fork, or detached at exit */
    }
    shmring__plat_mutex_unlock(&list_lock);
    shmring__plat_cancel_restore(cancel_state);
    r->magic = 0;
    free(r);
    return 0;
}

int shmring_unlink(const char *name)
{
    int err = shmring__seg_check_name(name);
    return err < 0 ? err : shmring__plat_unlink(name);
}

/* ---- argument checks shared by the data calls --------------------------------------------- */

static inline int check_handle(const shmring *r, int role)
{
    if (UNLIKELY(r == NULL || r->magic != SHMRING__HANDLE_MAGIC)) {
        return SHMRING_EINVAL;
    }
    if (UNLIKELY(r->role != role)) {
        return SHMRING_EPERM;
    }
    return 0;
}

static inline int producer_ready(shmring *r)
{
    int err = check_handle(r, SHMRING_PRODUCER);
    if (LIKELY(err == 0)) {
        if (UNLIKELY(r->side.prod.broken)) {
            return SHMRING_EPROTO;
        }
        if (UNLIKELY(r->side.prod.resv_open)) {
            return SHMRING_EINVAL;
        }
    }
    return err;
}

static inline int consumer_ready(shmring *r)
{
    int err = check_handle(r, SHMRING_CONSUMER);
    if (LIKELY(err == 0)) {
        if (UNLIKELY(r->side.cons.broken)) {
            return r->side.cons.broken;
        }
    }
    return err;
}

/* A full ring: count it, and say SHMRING_EPIPE instead of SHMRING_EAGAIN if nobody will ever read.
 */
static int producer_full(shmring *r, int err)
{
    if (err == SHMRING_EAGAIN) {
        /* C7 (relaxed): only the producer writes it. */
        atomic_store_explicit(&r->hdr->full_events, r->side.prod.full_events, memory_order_relaxed);
        if (shmring__peer_gone(r, 0)) {
            return SHMRING_EPIPE;
        }
    }
    return err;
}

/* An empty ring: give back skipped padding, count it, and say SHMRING_EPIPE once the producer is
 * gone and everything it committed has been read. */
static int consumer_empty(shmring *r, int err)
{
    struct shmring__cons *c = &r->side.cons;
    if (err != SHMRING_EAGAIN) {
        return err;
    }
    if (c->dirty) {
        shmring__cons_publish(c);
    }
    c->empty_events++;
    /* C8 (relaxed): only the consumer writes it. */
    atomic_store_explicit(&r->hdr->empty_events, c->empty_events, memory_order_relaxed);
    if (shmring__peer_gone(r, 0)) {
        /* A6: pairs with R1, ordered after A3 (which saw R5): the producer may have published
         * between our empty check and its close. */
        uint64_t tail = atomic_load_explicit(&r->hdr->tail, memory_order_acquire);
        return tail == c->head ? SHMRING_EPIPE : SHMRING_EAGAIN;
    }
    return SHMRING_EAGAIN;
}

/* ---- producer ------------------------------------------------------------------------------ */

/* Multi-producer handles fail the role checks above with SHMRING_EPERM (handle.h): only then, in
 * the cold branch, does the out-of-line shmring__mp_* call look at their kind (it returns
 * SHMRING_EPERM for any other role). Reading the role there, not here, keeps the SPSC code
 * unchanged. */
#define MP(err, r, mprole) ((err) == SHMRING_EPERM)

int shmring_send(shmring *r, const void *msg, size_t len)
{
    int err = producer_ready(r);
    if (UNLIKELY(err != 0)) {
        return MP(err, r, SHMRING__ROLE_MPROD) ? shmring__mp_send(r, msg, len) : err;
    }
    if (UNLIKELY(msg == NULL && len != 0)) {
        return SHMRING_EINVAL;
    }
    struct shmring__prod *p = &r->side.prod;
    err = shmring__prod_room(p, len);
    if (UNLIKELY(err != 0)) {
        return producer_full(r, err);
    }
    /* msg may be NULL when len is 0: shmring__copy() reads nothing then. */
    shmring__copy(p->data + p->widx + SHMRING__REC_HDR, msg, len);
    shmring__prod_commit(p, len);
    shmring__prod_publish(p);
    shmring__wake_peer(r, &r->hdr->consumer_waiting);
    return 0;
}

int shmring_reserve(shmring *r, size_t len, void **slot)
{
    int err = producer_ready(r);
    if (UNLIKELY(err != 0)) {
        return MP(err, r, SHMRING__ROLE_MPROD) ? shmring__mp_reserve(r, len, slot) : err;
    }
    if (UNLIKELY(slot == NULL)) {
        return SHMRING_EINVAL;
    }
    err = shmring__prod_reserve(&r->side.prod, len, slot);
    return UNLIKELY(err != 0) ? producer_full(r, err) : 0;
}

int shmring_commit(shmring *r, size_t len)
{
    int err = check_handle(r, SHMRING_PRODUCER);
    if (UNLIKELY(err != 0)) {
        return MP(err, r, SHMRING__ROLE_MPROD) ? shmring__mp_commit(r, len) : err;
    }
    struct shmring__prod *p = &r->side.prod;
    if (UNLIKELY(!p->resv_open || len > p->resv_len)) {
        return SHMRING_EINVAL;
    }
    shmring__prod_commit(p, len);
    shmring__prod_publish(p);
    shmring__wake_peer(r, &r->hdr->consumer_waiting);
    return 0;
}

int shmring_abort(shmring *r)
{
    int err = check_handle(r, SHMRING_PRODUCER);
    if (err != 0) {
        return MP(err, r, SHMRING__ROLE_MPROD) ? shmring__mp_abort(r) : err;
    }
    if (!r->side.prod.resv_open) {
        return SHMRING_EINVAL;
    }
    r->side.prod.resv_open = 0;
    return 0;
}

int shmring_send_batch(shmring *r, const struct shmring_buf *msgs, size_t n)
{
    int err = producer_ready(r);
    if (UNLIKELY(err != 0)) {
        return MP(err, r, SHMRING__ROLE_MPROD) ? shmring__mp_send_batch(r, msgs, n) : err;
    }
    if (UNLIKELY(msgs == NULL && n != 0)) {
        return SHMRING_EINVAL;
    }
    struct shmring__prod *p = &r->side.prod;
    size_t sent = 0;
    for (; sent < n && sent < (size_t)INT32_MAX; sent++) {
        const struct shmring_buf *m = &msgs[sent];
        if (UNLIKELY(m->base == NULL && m->len != 0)) {
            err = SHMRING_EINVAL;
            break;
        }
        err = shmring__prod_room(p, m->len);
        if (err != 0) {
            break;
        }
        /* base may be NULL when len is 0: shmring__copy() reads nothing then. */
        shmring__copy(p->data + p->widx + SHMRING__REC_HDR, m->base, m->len);
        shmring__prod_commit(p, m->len);
    }
    if (sent > 0) {
        shmring__prod_publish(p);
        shmring__wake_peer(r, &r->hdr->consumer_waiting);
        return (int)sent;
    }
    if (err == SHMRING_EAGAIN) {
        err = producer_full(r, err);
        return err == SHMRING_EPIPE ? err : 0;
    }
    return err;
}

/* ---- consumer ------------------------------------------------------------------------------ */

/* Out of line so that the dispatch leaves shmring_recv's code as it was (cachegrind: one
 * instruction per message more when the call was written inline). */
__attribute__((noinline, cold)) static shmring_ssize recv_other(shmring *r, void *buf, size_t cap,
                                                                int err)
{
    return MP(err, r, SHMRING__ROLE_MCONS) ? shmring__mp_recv(r, buf, cap) : err;
}

shmring_ssize shmring_recv(shmring *r, void *buf, size_t cap)
{
    int err = consumer_ready(r);
    if (UNLIKELY(err != 0)) {
        return recv_other(r, buf, cap, err);
    }
    struct shmring__cons *c = &r->side.cons;
    if (UNLIKELY((buf == NULL && cap != 0) || c->peek_size != 0)) {
        return SHMRING_EINVAL;
    }
    const void *msg;
    uint64_t size;
    int64_t len = shmring__cons_next(c, &msg, &size);
    if (UNLIKELY(len < 0)) {
        return consumer_empty(r, (int)len);
    }
    if (UNLIKELY((uint64_t)len > cap)) {
        return SHMRING_EMSGSIZE; /* left in place */
    }
    shmring__copy(buf, msg, (uint64_t)len); /* buf may be NULL when len is 0 (cap 0) */
    shmring__cons_advance(c, size, (uint64_t)len);
    shmring__cons_publish(c);
    shmring__wake_peer(r, &r->hdr->producer_waiting);
    return (shmring_ssize)len;
}

shmring_ssize shmring_peek(shmring *r, const void **msg)
{
    int err = consumer_ready(r);
    if (UNLIKELY(err != 0)) {
        return MP(err, r, SHMRING__ROLE_MCONS) ? shmring__mp_peek(r, msg) : err;
    }
    if (UNLIKELY(msg == NULL)) {
        return SHMRING_EINVAL;
    }
    int64_t len = shmring__cons_peek(&r->side.cons, msg);
    return UNLIKELY(len < 0) ? consumer_empty(r, (int)len) : (shmring_ssize)len;
}

int shmring_release(shmring *r)
{
    int err = check_handle(r, SHMRING_CONSUMER);
    if (UNLIKELY(err != 0)) {
        return MP(err, r, SHMRING__ROLE_MCONS) ? shmring__mp_release(r) : err;
    }
    struct shmring__cons *c = &r->side.cons;
    if (UNLIKELY(c->peek_size == 0)) {
        return SHMRING_EINVAL;
    }
    shmring__cons_consume(c);
    shmring__cons_publish(c);
    shmring__wake_peer(r, &r->hdr->producer_waiting);
    return 0;
}

int shmring_drain(shmring *r, shmring_handler fn, void *ctx, size_t max)
{
    int err = consumer_ready(r);
    if (UNLIKELY(err != 0)) {
        return MP(err, r, SHMRING__ROLE_MCONS) ? shmring__mp_drain(r, fn, ctx, max) : err;
    }
    struct shmring__cons *c = &r->side.cons;
    if (UNLIKELY(fn == NULL || c->peek_size != 0)) {
        return SHMRING_EINVAL;
    }
    if (max == 0 || max > (size_t)INT32_MAX) {
        max = (size_t)INT32_MAX;
    }
    size_t done = 0;
    int64_t len = 0;
    while (done < max) {
        if (c->head == c->tail_cache && done > 0) {
            /* Give the producer its room back before looking for more: one publish per batch
             * of visible messages, and a producer waiting on a full ring is not starved. */
            shmring__cons_publish(c);
            shmring__wake_peer(r, &r->hdr->producer_waiting);
        }
        const void *msg;
        uint64_t size;
        len = shmring__cons_next(c, &msg, &size);
        if (len < 0) {
            break;
        }
        int stop = fn(ctx, msg, (size_t)len);
        shmring__cons_advance(c, size, (uint64_t)len);
        done++;
        if (stop != 0) {
            break;
        }
    }
    if (c->dirty) {
        shmring__cons_publish(c);
        shmring__wake_peer(r, &r->hdr->producer_waiting);
    }
    if (done > 0) {
        return (int)done;
    }
    err = consumer_empty(r, (int)len);
    return err == SHMRING_EAGAIN ? 0 : err;
}

/* ---- information ----------------------------------------------------------------------- */

/* An inert handle (inherited across fork, or detached at exit: role 0) has no ring: 0. */
size_t shmring_capacity(const shmring *r)
{
    if (r == NULL || r->magic != SHMRING__HANDLE_MAGIC || r->role == 0) {
        return 0;
    }
    uint64_t hsize =
        r->mp_slots != 0 ? shmring__mp_header_size(r->mp_slots) : (uint64_t)SHMRING_HEADER_SIZE;
    return (size_t)(r->seg.size - hsize);
}

size_t shmring_max_msg(const shmring *r)
{
    return r != NULL && r->magic == SHMRING__HANDLE_MAGIC && r->role != 0
               ? (size_t)shmring__max_msg_for(shmring_capacity(r))
               : 0;
}

int shmring_role(const shmring *r)
{
    if (r == NULL || r->magic != SHMRING__HANDLE_MAGIC) {
        return SHMRING_EINVAL;
    }
    return r->role == SHMRING__ROLE_MPROD   ? SHMRING_PRODUCER
           : r->role == SHMRING__ROLE_MCONS ? SHMRING_CONSUMER
                                            : r->role;
}

const char *shmring_name(const shmring *r)
{
    return r != NULL && r->magic == SHMRING__HANDLE_MAGIC ? r->seg.name : NULL;
}

static int32_t live_pid(shmring *r, int role, int lock_byte, _Atomic int32_t *pid)
{
    if (r->role == role) {
        return shmring__plat_pid();
    }
    if (r->role == 0 || !shmring__seg_role_held(&r->seg, lock_byte)) {
        return 0;
    }
    return atomic_load_explicit(pid, memory_order_relaxed); /* P3 (relaxed): informational */
}

int shmring_stats(shmring *r, struct shmring_stats *out)
{
    if (r == NULL || r->magic != SHMRING__HANDLE_MAGIC || out == NULL || r->role == 0) {
        return SHMRING_EINVAL;
    }
    struct shmring__hdr *h = r->hdr;
    memset(out, 0, sizeof *out);
    /* C9 (relaxed): a snapshot; each counter has a single writer and no decision depends on
     * them (head, tail and generation below too). */
    out->sent_msgs = atomic_load_explicit(&h->sent_msgs, memory_order_relaxed);
    out->sent_bytes = atomic_load_explicit(&h->sent_bytes, memory_order_relaxed);
    out->recv_msgs = atomic_load_explicit(&h->recv_msgs, memory_order_relaxed);
    out->recv_bytes = atomic_load_explicit(&h->recv_bytes, memory_order_relaxed);
    out->full_events = atomic_load_explicit(&h->full_events, memory_order_relaxed);
    out->empty_events = atomic_load_explicit(&h->empty_events, memory_order_relaxed);
    out->producer_sleeps = atomic_load_explicit(&h->producer_sleeps, memory_order_relaxed);
    out->consumer_sleeps = atomic_load_explicit(&h->consumer_sleeps, memory_order_relaxed);
    out->wakeups = atomic_load_explicit(&h->wakeups, memory_order_relaxed);
    out->producer_pid = live_pid(r, SHMRING_PRODUCER, SHMRING__ROLE_ID_PRODUCER, &h->producer_pid);
    out->consumer_pid = live_pid(r, SHMRING_CONSUMER, SHMRING__ROLE_ID_CONSUMER, &h->consumer_pid);
    out->size = r->seg.size;
    out->capacity = r->seg.size - SHMRING_HEADER_SIZE;
    out->max_msg = shmring__max_msg_for(out->capacity);
    out->head = atomic_load_explicit(&h->head, memory_order_relaxed);
    out->tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    out->used_bytes = out->tail - out->head;
    out->flags = (h->flags & SHMRING__F_PERSIST) ? SHMRING_PERSIST : 0;
    out->kind = (h->flags & SHMRING__F_LEGACY) ? SHMRING_KIND_LEGACY : SHMRING_KIND_SPSC;
    out->producers = out->producer_pid != 0;
    out->max_producers = 1;
    out->generation = atomic_load_explicit(&h->generation, memory_order_relaxed);
    if (r->mp_slots != 0) {
        if (r->role == SHMRING__ROLE_MCONS) {
            out->consumer_pid = shmring__plat_pid();
        }
        shmring__mp_stats(r, out);
    }
    return 0;
}

const char *shmring_version(void)
{
    return SHMRING_VERSION_STRING;
}

/* ---- bookmark ------------------------------------------------------------------------------
 * Two slots {mark, value} on the producer's line. A slot is in force when 0 < mark <= tail: it
 * was set before the publish that moved tail past mark - 1. shmring_set_bookmark writes a slot
 * that is not in force yet (pending) if there is one, else the older of the two, so the newest
 * one in force is never touched while a reader may be using it. Each slot is a small seqlock
 * whose sequence is the mark itself: 0 while its value is rewritten. */

/* A new producer forgets what a dead one set but never published: otherwise our first publish
 * would put its value in force. Ordered before that publish by R1. */
static void bookmark_attach(shmring *r)
{
    struct shmring__hdr *h = r->hdr;
    for (int i = 0; i < 2; i++) {
        /* K1 (relaxed): only the producer writes the slots, and we hold the producer's role;
         * the store is ordered before our first publish by R1. */
        if (atomic_load_explicit(&h->bookmark_mark[i], memory_order_relaxed) > r->side.prod.tail) {
            atomic_store_explicit(&h->bookmark_mark[i], 0, memory_order_relaxed);
        }
    }
}

/* The bookmark and the consumer's read-ahead exist on single-producer rings only. On a
 * multi-producer ring (mp_slots, a process-local copy, is set for every role there) they say
 * SHMRING_ENOTSUP, for every role: "not the producer" or "a bad handle" would send the caller
 * looking for the wrong fault. */
static int single_producer_only(const shmring *r)
{
    return r != NULL && r->magic == SHMRING__HANDLE_MAGIC && r->mp_slots != 0 ? SHMRING_ENOTSUP : 0;
}

int shmring_set_bookmark(shmring *r, uint64_t value)
{
    int err = single_producer_only(r);
    if (err == 0) {
        err = check_handle(r, SHMRING_PRODUCER);
    }
    if (err != 0) {
        return err;
    }
    struct shmring__prod *p = &r->side.prod;
    if (p->broken) {
        return SHMRING_EPROTO;
    }
    struct shmring__hdr *h = r->hdr;
    /* K2 (relaxed): tail and the slots are written only by this producer. */
    uint64_t published = atomic_load_explicit(&h->tail, memory_order_relaxed);
    uint64_t m0 = atomic_load_explicit(&h->bookmark_mark[0], memory_order_relaxed);
    uint64_t m1 = atomic_load_explicit(&h->bookmark_mark[1], memory_order_relaxed);
    int i = m0 > published ? 0 : m1 > published ? 1 : m0 <= m1 ? 0 : 1;
    /* K3 (relaxed): invalidates the slot; ordered before the value by K4. */
    atomic_store_explicit(&h->bookmark_mark[i], 0, memory_order_relaxed);
    /* K4: orders the invalidation above before the new value; pairs with K10 in
     * shmring_get_bookmark(): a reader that saw the new value sees mark 0 or the new mark. */
    atomic_thread_fence(memory_order_release);
    /* K5 (relaxed): published by K6. */
    atomic_store_explicit(&h->bookmark_value[i], value, memory_order_relaxed);
    /* K6: publishes the value with its mark; pairs with K8 in shmring_get_bookmark(). The mark
     * is 1 + our local tail, above the shared tail until the next publish (R1) moves it. */
    atomic_store_explicit(&h->bookmark_mark[i], p->tail + 1, memory_order_release);
    return 0;
}

int shmring_get_bookmark(shmring *r, uint64_t *value)
{
    if (single_producer_only(r) != 0) {
        return SHMRING_ENOTSUP;
    }
    if (r == NULL || r->magic != SHMRING__HANDLE_MAGIC || value == NULL ||
        (r->role != SHMRING_PRODUCER && r->role != SHMRING_CONSUMER &&
         r->role != SHMRING_OBSERVER)) {
        return SHMRING_EINVAL;
    }
    struct shmring__hdr *h = r->hdr;
    for (int round = 0; round < 1000; round++) {
        /* K7: pairs with R1 in shmring__prod_publish(): a slot whose mark is <= this tail was
         * written before that publish, so its value is visible; later sets have larger marks. */
        uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
        uint64_t best = 0, best_value = 0;
        int torn = 0;
        for (int i = 0; i < 2 && !torn; i++) {
            /* K8: pairs with K6 in shmring_set_bookmark(). */
            uint64_t m = atomic_load_explicit(&h->bookmark_mark[i], memory_order_acquire);
            /* K9 (relaxed): ordered after K8; checked by K10 and K11. */
            uint64_t v = atomic_load_explicit(&h->bookmark_value[i], memory_order_relaxed);
            /* K10: pairs with K4: the value read above is not newer than the mark read below. */
            atomic_thread_fence(memory_order_acquire);
            /* K11 (relaxed): ordered after K9 by K10; a changed mark means a torn read. */
            torn = atomic_load_explicit(&h->bookmark_mark[i], memory_order_relaxed) != m;
            if (m != 0 && m <= tail && m > best) {
                best = m;
                best_value = v;
            }
        }
        if (!torn) {
            if (best == 0) {
                return SHMRING_ENOENT;
            }
            *value = best_value;
            return 0;
        }
    }
    return SHMRING_EAGAIN; /* the producer kept rewriting the slot we read */
}

/* ---- consumer read-ahead ---------------------------------------------------------------- */

shmring_ssize shmring_peek_next(shmring *r, const void **msg, uint64_t *pos)
{
    int err = single_producer_only(r);
    if (err == 0) {
        err = check_handle(r, SHMRING_CONSUMER);
    }
    if (err != 0) {
        return err;
    }
    struct shmring__cons *c = &r->side.cons;
    if (msg == NULL || pos == NULL) {
        return SHMRING_EINVAL;
    }
    if (r->ahead.n == 0) {
        if (c->broken != 0) {
            return c->broken;
        }
        c->peek_size = 0; /* a message peeked by shmring_peek stays in the ring */
        r->ahead.head = c->head;
        r->ahead.ridx = c->ridx;
        r->ahead.tail = c->tail_cache;
    } else if (c->broken != SHMRING_EINVAL) {
        return c->broken;
    }
    /* The ring functions work on a copy whose head is the read-ahead position: the shared head
     * (and c->head) stay where they are until shmring_release_n. */
    struct shmring__cons t = *c;
    t.head = r->ahead.head;
    t.ridx = r->ahead.ridx;
    t.tail_cache = r->ahead.tail;
    t.broken = 0;
    uint64_t size;
    int64_t len = shmring__cons_next(&t, msg, &size);
    r->ahead.head = t.head; /* past a skipped padding record, if any */
    r->ahead.ridx = t.ridx;
    r->ahead.tail = t.tail_cache;
    if (len == SHMRING_EAGAIN) {
        if (shmring__peer_gone(r, 0)) {
            /* A7: pairs with R1: the producer may have published between our look and its
             * close (as A6). */
            uint64_t tail = atomic_load_explicit(&r->hdr->tail, memory_order_acquire);
            return tail == t.head ? SHMRING_EPIPE : SHMRING_EAGAIN;
        }
        return SHMRING_EAGAIN;
    }
    if (len < 0) {
        c->broken = (int)len;
        return (shmring_ssize)len; /* an error code */
    }
    *pos = t.head;
    r->ahead.head = t.head + size;
    r->ahead.ridx = t.ridx + size == c->cap ? 0 : t.ridx + size;
    r->ahead.n++;
    c->broken = SHMRING_EINVAL;
    return (shmring_ssize)len;
}

int shmring_release_n(shmring *r, size_t n)
{
    int err = single_producer_only(r);
    if (err == 0) {
        err = check_handle(r, SHMRING_CONSUMER);
    }
    if (err != 0) {
        return err;
    }
    struct shmring__cons *c = &r->side.cons;
    if (n > r->ahead.n || (r->ahead.n > 0 && c->broken != SHMRING_EINVAL)) {
        return r->ahead.n > 0 && c->broken != SHMRING_EINVAL ? c->broken : SHMRING_EINVAL;
    }
    if (n == 0) {
        return 0;
    }
    /* Walk the n records again on the real view. They were checked by shmring_peek_next; a
     * producer that rewrote them since is caught by the same checks. */
    c->broken = 0;
    for (size_t i = 0; i < n; i++) {
        const void *m;
        uint64_t size;
        int64_t len = shmring__cons_next(c, &m, &size);
        if (len < 0) {
            c->broken = len == SHMRING_EAGAIN ? SHMRING_EPROTO : (int)len;
            return c->broken;
        }
        shmring__cons_advance(c, size, (uint64_t)len);
    }
    r->ahead.n -= n;
    if (r->ahead.n == 0 && c->head != r->ahead.head) {
        c->broken = SHMRING_EPROTO; /* the records changed under us */
        return SHMRING_EPROTO;
    }
    c->broken = r->ahead.n > 0 ? SHMRING_EINVAL : 0;
    shmring__cons_publish(c);
    shmring__wake_peer(r, &r->hdr->producer_waiting);
    return 0;
}

int shmring_rewind(shmring *r)
{
    int err = single_producer_only(r);
    if (err == 0) {
        err = check_handle(r, SHMRING_CONSUMER);
    }
    if (err != 0) {
        return err;
    }
    if (r->ahead.n > 0) {
        r->ahead.n = 0;
        if (r->side.cons.broken == SHMRING_EINVAL) {
            r->side.cons.broken = 0;
        }
    }
    return 0;
}
