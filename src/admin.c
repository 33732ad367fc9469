/* SPDX-License-Identifier: MIT */
/* The inspection API (include/shmring_admin.h): looking at rings from outside, without attaching.
 * Everything OS-shaped goes through segment.c (read-only probe, stale removal under the init
 * exclusion) and the platform layer (the directory listing); this file reads headers and records.
 */
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "ring_mp.h"
#include "shmring_admin.h"

_Static_assert((int)SHMRING_PEER_NEVER == (int)SHMRING__PEER_NEVER &&
                   (int)SHMRING_PEER_ATTACHED == (int)SHMRING__PEER_ATTACHED &&
                   (int)SHMRING_PEER_CLOSED == (int)SHMRING__PEER_CLOSED,
               "public peer states are the header's");

/* Walking more records than this is not "cheap": the count is then reported as unknown. */
#define WALK_LIMIT (1u << 20)

/* Counts the records in [head, tail) the way the consumer would parse them, every length and
 * tag checked against the mapping's bounds. The producer writes only outside [head, tail), so
 * if head did not move during the walk, what we read was stable. -1: unknown. */
static int64_t count_messages(const struct shmring__hdr *h, uint64_t cap)
{
    const volatile unsigned char *data = (const unsigned char *)h + SHMRING_HEADER_SIZE;
    for (int attempt = 0; attempt < 3; attempt++) {
        /* I1: pairs with the consumer's publish of head and the producer's of tail (R2 and R1
         * in ring.h): records before tail are complete. */
        uint64_t head = atomic_load_explicit(&h->head, memory_order_acquire);
        uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
        if (tail - head > cap || head % SHMRING__ALIGN != 0 || tail % SHMRING__ALIGN != 0) {
            return -1;
        }
        uint64_t pos = head, n = 0;
        int bad = 0;
        while (pos != tail && !bad) {
            uint64_t off = pos % cap, to_end = cap - off, avail = tail - pos;
            const volatile struct shmring__rec *rec = (const volatile void *)(data + off);
            uint32_t len = rec->len, tag = rec->tag; /* each read once, then checked */
            if (tag == SHMRING__REC_MSG) {
                uint64_t size = shmring__rec_size(len);
                if (size > to_end || size > avail) {
                    bad = 1;
                }
                pos += size;
                n++;
            } else if (tag == SHMRING__REC_PAD && len == to_end - SHMRING__REC_HDR &&
                       to_end <= avail) {
                pos += to_end;
            } else {
                bad = 1;
            }
            if (n > WALK_LIMIT) {
                return -1;
            }
        }
        /* I2: orders the record reads above before the re-check of head. */
        atomic_thread_fence(memory_order_acquire);
        /* I3 (relaxed): ordered by I2. */
        uint64_t head2 = atomic_load_explicit(&h->head, memory_order_relaxed);
        if (head2 == head) {
            return bad ? -1 : (int64_t)n;
        }
    }
    return -1; /* the consumer kept moving: a count would be stale anyway */
}

struct inspect {
    struct shmring_info *info;
    const struct shmring__seg_probe *probe;
};

static void read_peer(_Atomic int32_t *pid, _Atomic uint32_t *state, int alive,
                      struct shmring_peer *out)
{
    /* I4 (relaxed): informational fields; the kernel's role lock is the liveness truth. */
    out->pid = atomic_load_explicit(pid, memory_order_relaxed);
    out->state = atomic_load_explicit(state, memory_order_relaxed);
    out->alive = alive != 0;
}

/* Runs while segment.c has the header mapped read-only. */
static void read_header(void *ctx, struct shmring__hdr *h, uint64_t size)
{
    struct inspect *in = ctx;
    struct shmring_info *info = in->info;
    struct shmring_stats *s = &info->stats;
    read_peer(&h->producer_pid, &h->producer_state, in->probe->producer_alive, &info->producer);
    read_peer(&h->consumer_pid, &h->consumer_state, in->probe->consumer_alive, &info->consumer);
    /* I5 (relaxed): a snapshot of single-writer counters, exactly as shmring_stats() (C9). */
    s->sent_msgs = atomic_load_explicit(&h->sent_msgs, memory_order_relaxed);
    s->sent_bytes = atomic_load_explicit(&h->sent_bytes, memory_order_relaxed);
    s->recv_msgs = atomic_load_explicit(&h->recv_msgs, memory_order_relaxed);
    s->recv_bytes = atomic_load_explicit(&h->recv_bytes, memory_order_relaxed);
    s->full_events = atomic_load_explicit(&h->full_events, memory_order_relaxed);
    s->empty_events = atomic_load_explicit(&h->empty_events, memory_order_relaxed);
    s->producer_sleeps = atomic_load_explicit(&h->producer_sleeps, memory_order_relaxed);
    s->consumer_sleeps = atomic_load_explicit(&h->consumer_sleeps, memory_order_relaxed);
    s->wakeups = atomic_load_explicit(&h->wakeups, memory_order_relaxed);
    s->generation = atomic_load_explicit(&h->generation, memory_order_relaxed);
    s->producer_pid = info->producer.alive ? info->producer.pid : 0;
    s->consumer_pid = info->consumer.alive ? info->consumer.pid : 0;
    s->size = size;
    s->capacity = size - SHMRING_HEADER_SIZE;
    s->max_msg = shmring__max_msg_for(s->capacity);
    s->flags = (h->flags & SHMRING__F_PERSIST) ? SHMRING_PERSIST : 0;
    s->producers = s->producer_pid != 0;
    s->max_producers = 1;
    info->messages = -1;
    if (h->flags & SHMRING__F_LEGACY) {
        s->kind = SHMRING_KIND_LEGACY;
        /* I6 (relaxed): a length for display; the seqlock protocol is the reader's business. */
        uint64_t cur = atomic_load_explicit(&h->legacy_cur, memory_order_relaxed);
        info->value_bytes = cur & 0xffffffffu;
        return;
    }
    s->kind = SHMRING_KIND_SPSC;
    s->head = atomic_load_explicit(&h->head, memory_order_relaxed);
    s->tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    struct shmring__mp_view mv;
    int mp = shmring__mp_view_init(&mv, h, size) == 0;
    if (mp) {
        /* A multi-producer ring (docs/mpsc.md): the claim word is its tail, the slots hold the
         * producers' counters. Records are committed one by one, so they are not counted. */
        s->kind = SHMRING_KIND_MPSC;
        s->capacity = mv.cap;
        s->max_msg = mv.max_msg;
        s->max_producers = mv.nslots;
        s->flags |= SHMRING_MULTI_PRODUCER;
        s->producers = in->probe->producers_alive;
        /* MC12 (relaxed): the claim word, for display. */
        s->tail = atomic_load_explicit(&mv.ext->claim, memory_order_relaxed);
        s->sent_msgs = s->sent_bytes = s->full_events = s->producer_sleeps = 0;
        for (uint32_t k = 0; k < mv.nslots; k++) {
            struct shmring__mp_slot *sl = &mv.slots[k];
            /* MC13 (relaxed): single-writer counters summed, as shmring_stats() (MC11). */
            s->sent_msgs += atomic_load_explicit(&sl->sent_msgs, memory_order_relaxed);
            s->sent_bytes += atomic_load_explicit(&sl->sent_bytes, memory_order_relaxed);
            s->full_events += atomic_load_explicit(&sl->full_events, memory_order_relaxed);
            s->producer_sleeps += atomic_load_explicit(&sl->sleeps, memory_order_relaxed);
        }
    }
    s->used_bytes = s->tail - s->head;
    if (s->used_bytes > s->capacity) { /* torn snapshot (head read after a later tail) */
        s->used_bytes = 0;
    }
    info->messages = mp ? -1 : count_messages(h, s->capacity);
}

int shmring_inspect(const char *name, struct shmring_info *info)
{
    if (info == NULL) {
        return SHMRING_EINVAL;
    }
    struct shmring__seg_probe p;
    struct shmring_info got;
    memset(&got, 0, sizeof got);
    got.messages = -1;
    struct inspect in = {&got, &p};
    int r = shmring__seg_probe(name, &p, read_header, &in);
    if (r < 0) {
        return r;
    }
    got.size = p.size;
    got.uid = p.owner;
    got.mode = p.mode;
    got.check = p.check;
    got.in_use = p.in_use != 0;
    *info = got;
    return 0;
}

/* ---- listing ---------------------------------------------------------------------------- */

struct names {
    char **v;
    size_t len, cap;
    int err;
};

static int collect(void *ctx, const char *name)
{
    struct names *n = ctx;
    if (shmring_check_name(name) != 0) {
        return 0; /* a name a ring cannot have */
    }
    if (n->len == n->cap) {
        size_t ncap = n->cap ? n->cap * 2 : 64;
        char **nv = realloc(n->v, ncap * sizeof *nv);
        if (nv == NULL) {
            n->err = SHMRING_ENOMEM;
            return 1;
        }
        n->v = nv;
        n->cap = ncap;
    }
    size_t l = strlen(name);
    if ((n->v[n->len] = malloc(l + 1)) == NULL) {
        n->err = SHMRING_ENOMEM;
        return 1;
    }
    memcpy(n->v[n->len++], name, l + 1);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int shmring_list(shmring_list_fn fn, void *ctx)
{
    if (fn == NULL) {
        return SHMRING_EINVAL;
    }
    struct names n = {NULL, 0, 0, 0};
    int r = shmring__plat_list(collect, &n);
    if (r == 0) {
        r = n.err;
    }
    int count = 0;
    if (r == 0 && n.len > 0) {
        qsort(n.v, n.len, sizeof *n.v, by_name);
        for (size_t i = 0; i < n.len && count < INT32_MAX; i++) {
            struct shmring_info info;
            int e = shmring_inspect(n.v[i], &info);
            if (e == SHMRING_ENOENT) {
                continue; /* removed meanwhile */
            }
            count++;
            if (fn(ctx, n.v[i], e == 0 ? &info : NULL, e) != 0) {
                break;
            }
        }
    }
    for (size_t i = 0; i < n.len; i++) {
        free(n.v[i]);
    }
    free(n.v);
    return r < 0 ? r : count;
}

/* ---- managing --------------------------------------------------------------------------- */

int shmring_remove_stale(const char *name, unsigned flags)
{
    if ((flags & ~(unsigned)(SHMRING_STALE_PERSIST | SHMRING_STALE_DRY_RUN)) != 0) {
        return SHMRING_EINVAL;
    }
    int r = shmring__seg_remove_stale(name, !(flags & SHMRING_STALE_PERSIST),
                                      (flags & SHMRING_STALE_DRY_RUN) != 0);
    return r == 2 ? SHMRING_STALE_PERSISTENT : r;
}

int shmring_create(const char *name, const struct shmring_opts *opts)
{
    static const struct shmring_opts defaults = {0};
    if (opts == NULL) {
        opts = &defaults;
    }
    unsigned reserved = 0;
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++) {
        reserved |= opts->reserved[i];
    }
    unsigned known = SHMRING_CREATE | SHMRING_EXCL | SHMRING_PERSIST | SHMRING_MULTI_PRODUCER;
    int multi = (opts->flags & SHMRING_MULTI_PRODUCER) != 0;
    if ((opts->flags & ~known) != 0 || (!multi && opts->max_producers != 0) ||
        opts->max_producers > SHMRING__MP_MAX_PRODUCERS || reserved != 0 ||
        (opts->mode & ~0777u) != 0) {
        return SHMRING_EINVAL;
    }
    uint32_t hdr_flags = 0;
    if (multi) {
        uint32_t nslots = opts->max_producers ? opts->max_producers : SHMRING__MP_DEF_PRODUCERS;
        hdr_flags = SHMRING__F_MPSC | nslots << SHMRING__FMT_PRODUCERS_SHIFT;
    }
    struct shmring__seg seg;
    unsigned flags = SHMRING_CREATE | SHMRING_EXCL | (opts->flags & SHMRING_PERSIST);
    int r =
        shmring__seg_open(&seg, name, opts->size, opts->mode ? opts->mode : 0600, flags, hdr_flags);
    if (r < 0) {
        return r;
    }
    /* A persistent ring survives its last close anyway. A non-persistent one would be removed
     * by the close of its last (only) user, us: leave without detaching instead, so the name
     * stays, unused, for the first process that opens it (which starts it afresh). */
    if (flags & SHMRING_PERSIST) {
        shmring__seg_close(&seg);
    } else if (!shmring__plat_idle_names) {
        /* Where a name ends with its last handle (Windows), the ring would be gone before we
         * return: say so instead of returning 0 for nothing. The open above checked every
         * argument (and SHMRING_EEXIST) as on POSIX. */
        shmring__seg_close(&seg);
        return SHMRING_ENOSYS;
    } else {
        shmring__seg_forget(&seg);
    }
    return 0;
}

int shmring_others_attached(shmring *r)
{
    if (r == NULL || r->magic != SHMRING__HANDLE_MAGIC || r->role == 0) {
        return SHMRING_EINVAL;
    }
    /* Every attached handle holds ATTACH shared; the query does not see our own. */
    return shmring__seg_others_attached(&r->seg);
}

int shmring_check_name(const char *name)
{
    return shmring__seg_check_name(name);
}

uint64_t shmring_page_size(void)
{
    return (uint64_t)shmring__plat_page_size();
}

uint64_t shmring_size_for_msg(uint64_t max_msg)
{
    uint64_t page = shmring_page_size();
    if (max_msg > SHMRING_MAX_SIZE) {
        return 0;
    }
    uint64_t need = SHMRING_HEADER_SIZE + 2 * (shmring__rec_size(max_msg) + SHMRING__ALIGN);
    need = (need + page - 1) / page * page;
    if (need < SHMRING_DEFAULT_SIZE) {
        need = SHMRING_DEFAULT_SIZE;
    }
    while (need <= SHMRING_MAX_SIZE && shmring__max_msg_for(need - SHMRING_HEADER_SIZE) < max_msg) {
        need += page;
    }
    return need <= SHMRING_MAX_SIZE ? need : 0;
}
