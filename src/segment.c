/* SPDX-License-Identifier: MIT */
/* Named mapping lifecycle, the OS-neutral part. The platform layer (src/platform.h) opens the
 * name under its init exclusion and says whether we are alone on it; this file decides what to
 * do with what it finds: a new or abandoned non-persistent ring starts afresh, a persistent one
 * keeps its messages, anything else must validate and match the kind asked for.
 */
#include <string.h>

#include "ring.h"
#include "segment.h"

int shmring__seg_check_name(const char *name)
{
    if (name == NULL) {
        return SHMRING_EINVAL;
    }
    size_t n = 0;
    for (; name[n] != '\0'; n++) {
        char ch = name[n];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-';
        if (!ok || n >= SHMRING_NAME_MAX) {
            return SHMRING_EINVAL;
        }
    }
    if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return SHMRING_EINVAL;
    }
    return 0;
}

static int size_is_valid(uint64_t size)
{
    uint64_t page = (uint64_t)shmring__plat_page_size();
    return size >= SHMRING_DEFAULT_SIZE && size <= SHMRING_MAX_SIZE && size % page == 0;
}

/* Under the init exclusion, alone: nobody else uses the object, so we may (re)write it. A
 * segment the platform just sized is all zeros, which ring_check calls "not ready". */
static int attach_alone(struct shmring__seg *s, unsigned flags, uint32_t hdr_flags)
{
    uint32_t fresh_flags = hdr_flags | ((flags & SHMRING_PERSIST) ? SHMRING__F_PERSIST : 0);
    struct shmring__hdr *h = s->hdr;
    int r = shmring__ring_check(h, s->size);
    if (r == SHMRING_EAGAIN) {
        /* New, or its initialiser died half-way (its death released the init exclusion). */
        return shmring__ring_format(h, s->size, fresh_flags);
    }
    if (r < 0) {
        return r;
    }
    uint32_t old_flags = h->flags;
    if ((old_flags & SHMRING__F_LEGACY) != (hdr_flags & SHMRING__F_LEGACY)) {
        return SHMRING_EPROTO;
    }
    if (!(old_flags & SHMRING__F_PERSIST)) {
        /* Every earlier user died without removing the name: start afresh. */
        return shmring__ring_format(h, s->size, fresh_flags);
    }
    /* S1 (relaxed, through the state stores below): persistent: keep the messages; forget
     * sleepers and role holders that no longer exist. */
    atomic_store_explicit(&h->consumer_waiting, 0, memory_order_relaxed);
    atomic_store_explicit(&h->producer_waiting, 0, memory_order_relaxed);
    atomic_store_explicit(&h->producer_pid, 0, memory_order_relaxed);
    shmring__ring_forget_peers(h, s->size);
    atomic_store_explicit(&h->consumer_pid, 0, memory_order_relaxed);
    /* A peer that closed or died in an earlier session is not this session's peer: without
     * this, a consumer (producer) starting on an unused persistent ring would get SHMRING_EPIPE at
     * once instead of waiting for its peer, unlike on a fresh ring. Relaxed: nobody else is
     * attached, and the end of the init exclusion publishes these stores. */
    atomic_store_explicit(&h->producer_state, SHMRING__PEER_NEVER, memory_order_relaxed);
    atomic_store_explicit(&h->consumer_state, SHMRING__PEER_NEVER, memory_order_relaxed);
    return 0;
}

/* Under the init exclusion with others attached: validate what they built, change nothing. */
static int attach_shared(struct shmring__seg *s, uint32_t hdr_flags)
{
    if (shmring__ring_check(s->hdr, s->size) < 0) {
        return SHMRING_EPROTO; /* initialisation finishes under INIT: "not ready" is corrupt */
    }
    if ((s->hdr->flags & SHMRING__F_LEGACY) != (hdr_flags & SHMRING__F_LEGACY)) {
        return SHMRING_EPROTO;
    }
    return 0;
}

/* The segment is gone from this handle; its name stays for shmring_name(). */
static void dropped(struct shmring__seg *s)
{
    s->plat = NULL;
    s->hdr = NULL;
    s->size = 0;
}

int shmring__seg_open(struct shmring__seg *s, const char *name, uint64_t size, unsigned mode,
                      unsigned flags, uint32_t hdr_flags)
{
    memset(s, 0, sizeof *s);
    int r = shmring__seg_check_name(name);
    if (r < 0) {
        return r;
    }
    if (size != 0 && !size_is_valid(size)) {
        return SHMRING_EINVAL;
    }
    memcpy(s->name, name, strlen(name) + 1);
    struct shmring__plat_attach at;
    uint64_t create_size = shmring__ring_default_size(hdr_flags, (long)shmring__plat_page_size());
    if ((r = shmring__plat_seg_open(name, size, create_size, mode, flags, &s->plat, &at)) < 0) {
        s->plat = NULL;
        return r;
    }
    s->hdr = at.base;
    s->size = at.size;
    if (at.alone) {
        /* Its creator may have died before reserving its memory: reserve before the first
         * store, so that a full tmpfs gives SHMRING_ENOSPC and not SIGBUS. */
        r = shmring__plat_seg_reserve(s->plat);
        r = r < 0 ? r : attach_alone(s, flags, hdr_flags);
    } else {
        r = attach_shared(s, hdr_flags);
    }
    if (r == 0) {
        /* S2 (relaxed): we hold the init exclusion, under which every generation store happens. */
        s->generation = atomic_load_explicit(&s->hdr->generation, memory_order_relaxed);
        r = shmring__plat_seg_attach(s->plat);
    }
    if (r < 0) {
        shmring__plat_seg_abort(s->plat);
        dropped(s);
    }
    return r;
}

/* The header's flags are stable while we are attached: only a process alone re-formats. */
static int remove_if_last(const struct shmring__seg *s)
{
    return s->hdr != NULL && !(s->hdr->flags & SHMRING__F_PERSIST);
}

void shmring__seg_close(struct shmring__seg *s)
{
    if (s->plat != NULL) {
        shmring__plat_seg_detach(s->plat, remove_if_last(s));
    }
    dropped(s);
}

void shmring__seg_close_at_exit(struct shmring__seg *s)
{
    if (s->plat != NULL) {
        shmring__plat_seg_release_marks(s->plat, remove_if_last(s));
    }
}

void shmring__seg_forget(struct shmring__seg *s)
{
    shmring__plat_seg_forget(s->plat);
    dropped(s);
}

int shmring__seg_take_role(struct shmring__seg *s, int role)
{
    return shmring__plat_role_take(s->plat, role);
}

void shmring__seg_drop_role(struct shmring__seg *s, int role)
{
    shmring__plat_role_drop(s->plat, role);
}

int shmring__seg_role_held(struct shmring__seg *s, int role)
{
    return shmring__plat_role_held(s->plat, role);
}

int shmring__seg_others_attached(struct shmring__seg *s)
{
    return shmring__plat_seg_others_attached(s->plat);
}

struct probe_ctx {
    struct shmring__seg_probe *out;
    const struct shmring__plat_probe *facts; /* filled by the platform before it calls us */
    void (*fn)(void *ctx, struct shmring__hdr *hdr, uint64_t size);
    void *ctx;
};

/* Runs while the platform has the object mapped read-only. */
static void probe_header(void *ctx, const void *base, uint64_t size)
{
    struct probe_ctx *pc = ctx;
    pc->out->check = shmring__ring_check(base, size);
    if (pc->out->check == 0) {
        struct shmring__hdr *h = (struct shmring__hdr *)(uintptr_t)base; /* read-only mapping */
        pc->out->flags = h->flags;
        pc->out->producer_alive = (int)((pc->facts->roles >> SHMRING__ROLE_ID_PRODUCER) & 1);
        pc->out->consumer_alive = (int)((pc->facts->roles >> SHMRING__ROLE_ID_CONSUMER) & 1);
        pc->out->producers_alive = pc->facts->slots_held;
        if (pc->fn != NULL) {
            pc->fn(pc->ctx, h, size);
        }
    }
}

int shmring__seg_probe(const char *name, struct shmring__seg_probe *out,
                       void (*fn)(void *ctx, struct shmring__hdr *hdr, uint64_t size), void *ctx)
{
    memset(out, 0, sizeof *out);
    int r = shmring__seg_check_name(name);
    if (r < 0) {
        return r;
    }
    struct shmring__plat_probe p;
    struct probe_ctx pc = {out, &p, fn, ctx};
    out->check = SHMRING_EPROTO; /* unless probe_header finds a valid header */
    if ((r = shmring__plat_probe(name, &p, probe_header, &pc)) < 0) {
        return r;
    }
    out->size = p.size;
    out->owner = p.owner;
    out->mode = p.mode;
    out->in_use = p.in_use;
    return 0;
}

struct stale_ctx {
    int keep_persistent, dry_run;
    int outcome; /* what to report when the platform did not remove: 0 or 2, or 1 (dry run) */
};

/* Under the platform's init exclusion, nobody attached: a valid ring is removed unless it is
 * persistent and kept, or this is a dry run. */
static int stale_decide(void *ctx, const void *base, uint64_t size)
{
    struct stale_ctx *sc = ctx;
    if (shmring__ring_check(base, size) != 0) {
        return 0; /* not a ring (or not finished): not ours to remove */
    }
    if ((((const struct shmring__hdr *)base)->flags & SHMRING__F_PERSIST) && sc->keep_persistent) {
        sc->outcome = 2;
        return 0;
    }
    if (sc->dry_run) {
        sc->outcome = 1;
        return 0;
    }
    return 1;
}

int shmring__seg_remove_stale(const char *name, int keep_persistent, int dry_run)
{
    int r = shmring__seg_check_name(name);
    if (r < 0) {
        return r;
    }
    struct stale_ctx sc = {keep_persistent, dry_run, 0};
    r = shmring__plat_remove_stale(name, stale_decide, &sc);
    return r == 0 ? sc.outcome : r;
}
