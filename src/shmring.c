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

static void fork_prepare(void)
{
    shmring__plat_mutex_lock(&list_lock);
}

static void fork_parent(void)
{
    shmring__plat_mutex_unlock(&list_lock);
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
}

static void process_init(void)
{
    shmring__plat_barrier_init();
    shmring__plat_at_fork(fork_prepare, fork_parent, fork_child);
    shmring__plat_at_exit(on_exit_detach_all);
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
    if (r->role == SHMRING_PRODUCER) {
        if ((err = shmring__seg_take_role(&r->seg, SHMRING__ROLE_ID_PRODUCER)) < 0) {
            return err;
        }
        if ((err = shmring__prod_attach(&r->side.prod, h, r->seg.size)) < 0) {
            return err;
        }
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
        /* C5, W5, P1 (relaxed): as for the producer. */
        r->sleeps = atomic_load_explicit(&h->consumer_sleeps, memory_order_relaxed);
        atomic_store_explicit(&h->consumer_waiting, 0, memory_order_relaxed);
        atomic_store_explicit(&h->consumer_pid, shmring__plat_pid(), memory_order_relaxed);
        /* R4: pairs with A3 in shmring__peer_gone() on the producer's side. */
        atomic_store_explicit(&h->consumer_state, SHMRING__PEER_ATTACHED, memory_order_release);
    }
    return 0;
}

static void role_detach(shmring *r)
{
    struct shmring__hdr *h = r->hdr;
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
    int producer_side = r->role == SHMRING_PRODUCER;
    _Atomic uint32_t *state = producer_side ? &h->consumer_state : &h->producer_state;
    /* A3: pairs with R3/R4 (attach) and R5/R6 (close) of the peer. */
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
        int side = r->role == SHMRING_PRODUCER ? SHMRING__SIDE_CONSUMER : SHMRING__SIDE_PRODUCER;
        shmring__plat_wake(r->seg.plat, side, peer_waiting);
        atomic_fetch_add_explicit(&r->hdr->wakeups, 1, memory_order_relaxed); /* C6 (relaxed) */
    }
}

/* ---- open / close ----------------------------------------------------------------------- */

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
    unsigned known = SHMRING_CREATE | SHMRING_EXCL | SHMRING_PERSIST | SHMRING_ANY_OWNER;
    unsigned reserved = 0;
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++) {
        reserved |= opts->reserved[i];
    }
    if (opts->flags & SHMRING_MULTI_PRODUCER) {
        return SHMRING_ENOTSUP; /* not in this version yet */
    }
    if ((role != SHMRING_PRODUCER && role != SHMRING_CONSUMER && role != SHMRING_OBSERVER &&
         role != SHMRING__ROLE_LEGACY) ||
        (opts->flags & ~known) != 0 || opts->max_producers != 0 || reserved != 0 ||
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
     * (fork_prepare), so a child can never inherit descriptors that its handler cannot see. */
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
        if ((err = role_attach(r)) < 0) {
            shmring__seg_close(&r->seg);
        }
    }
    if (err == 0) {
        r->next = list_head;
        list_head = r;
    }
    shmring__plat_mutex_unlock(&list_lock);
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
     * fork handler cannot see. */
    shmring__plat_mutex_lock(&list_lock);
    list_remove(r);
    if (r->role != 0) {
        role_detach(r);
        shmring__seg_close(&r->seg);
    } else {
        shmring__seg_forget(&r->seg); /* inherited across fork, or detached at exit */
    }
    shmring__plat_mutex_unlock(&list_lock);
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

int shmring_send(shmring *r, const void *msg, size_t len)
{
    int err = producer_ready(r);
    if (UNLIKELY(err != 0)) {
        return err;
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
        return err;
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
        return err;
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
        return err;
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
        return err;
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

shmring_ssize shmring_recv(shmring *r, void *buf, size_t cap)
{
    int err = consumer_ready(r);
    if (UNLIKELY(err != 0)) {
        return err;
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
        return err;
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
        return err;
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
        return err;
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
size_t shmring_max_msg(const shmring *r)
{
    return r != NULL && r->magic == SHMRING__HANDLE_MAGIC && r->role != 0
               ? (size_t)shmring__max_msg_for(r->seg.size - SHMRING_HEADER_SIZE)
               : 0;
}

size_t shmring_capacity(const shmring *r)
{
    return r != NULL && r->magic == SHMRING__HANDLE_MAGIC && r->role != 0
               ? (size_t)(r->seg.size - SHMRING_HEADER_SIZE)
               : 0;
}

int shmring_role(const shmring *r)
{
    return r != NULL && r->magic == SHMRING__HANDLE_MAGIC ? r->role : SHMRING_EINVAL;
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
    return 0;
}

const char *shmring_version(void)
{
    return SHMRING_VERSION_STRING;
}
