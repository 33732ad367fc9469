/* SPDX-License-Identifier: MIT */
/* Named mapping lifecycle. The kernel's locks carry every cross-process decision here, because
 * they are the only bookkeeping that survives a SIGKILL correctly: a dead process's locks are
 * gone, a live process's are not, and pid reuse cannot fake either.
 *
 *   INIT   exclusive around open and close: initialising, deciding "am I alone?", unlinking.
 *   ATTACH shared by every attached handle. Whoever gets it exclusively is alone: every earlier
 *          user closed or died, so a non-persistent ring starts afresh.
 */
#include <errno.h>
#include <string.h>

#include "ring.h"
#include "segment.h"

int shmring__seg_path(const char *name, char path[SHMRING_NAME_MAX + 2])
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
    path[0] = '/';
    memcpy(path + 1, name, n + 1);
    return 0;
}

static int size_is_valid(uint64_t size)
{
    uint64_t page = (uint64_t)shmring__plat_page_size();
    return size >= SHMRING_DEFAULT_SIZE && size <= SHMRING_MAX_SIZE && size % page == 0;
}

/* Under INIT and exclusive ATTACH: nobody else uses the object, so we may (re)write it. */
static int attach_alone(struct shmring__seg *s, uint64_t obj_size, uint64_t want, unsigned flags,
                        uint32_t hdr_flags)
{
    uint32_t fresh_flags = hdr_flags | ((flags & SHMRING_PERSIST) ? SHMRING__F_PERSIST : 0);
    int r;
    if (obj_size == 0) {
        /* Just created, or its creator died before sizing it. */
        if (!(flags & SHMRING_CREATE)) {
            return SHMRING_ENOENT;
        }
        uint64_t size = want ? want : SHMRING_DEFAULT_SIZE;
        if ((r = shmring__plat_resize(s->map.fd, size)) < 0 ||
            (r = shmring__plat_map(s->map.fd, size, &s->map.base)) < 0) {
            return r;
        }
        s->map.size = size;
        return shmring__ring_format(s->map.base, size, fresh_flags);
    }
    if (!size_is_valid(obj_size)) {
        return SHMRING_EPROTO;
    }
    if (want != 0 && want != obj_size) {
        return SHMRING_EINVAL;
    }
    /* Its creator may have died after sizing it and before reserving its memory (or an older
     * version sized it first): reserve before touching a page, so that a full tmpfs gives
     * SHMRING_ENOSPC here and not SIGBUS in the (re)format below or in a later writer. */
    if ((r = shmring__plat_reserve(s->map.fd, obj_size)) < 0) {
        return r;
    }
    if ((r = shmring__plat_map(s->map.fd, obj_size, &s->map.base)) < 0) {
        return r;
    }
    s->map.size = obj_size;
    struct shmring__hdr *h = s->map.base;
    r = shmring__ring_check(h, obj_size);
    if (r == SHMRING_EAGAIN) {
        /* Its initialiser died half-way (the INIT lock we hold was released by its death). */
        return shmring__ring_format(h, obj_size, fresh_flags);
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
        return shmring__ring_format(h, obj_size, fresh_flags);
    }
    /* S1 (relaxed, through the state stores below): persistent: keep the messages; forget
     * sleepers and role holders that no longer exist. */
    atomic_store_explicit(&h->consumer_waiting, 0, memory_order_relaxed);
    atomic_store_explicit(&h->producer_waiting, 0, memory_order_relaxed);
    atomic_store_explicit(&h->producer_pid, 0, memory_order_relaxed);
    atomic_store_explicit(&h->consumer_pid, 0, memory_order_relaxed);
    /* A peer that closed or died in an earlier session is not this session's peer: without
     * this, a consumer (producer) starting on an unused persistent ring would get SHMRING_EPIPE at
     * once instead of waiting for its peer, unlike on a fresh ring. Relaxed: nobody else is
     * attached (we hold INIT and ATTACH exclusively), and the INIT unlock publishes these stores.
     */
    atomic_store_explicit(&h->producer_state, SHMRING__PEER_NEVER, memory_order_relaxed);
    atomic_store_explicit(&h->consumer_state, SHMRING__PEER_NEVER, memory_order_relaxed);
    return 0;
}

/* Under INIT with others attached: validate what they built, change nothing. */
static int attach_shared(struct shmring__seg *s, uint64_t obj_size, uint64_t want,
                         uint32_t hdr_flags)
{
    int r;
    if (!size_is_valid(obj_size)) {
        return SHMRING_EPROTO;
    }
    if (want != 0 && want != obj_size) {
        return SHMRING_EINVAL;
    }
    if ((r = shmring__plat_map(s->map.fd, obj_size, &s->map.base)) < 0) {
        return r;
    }
    s->map.size = obj_size;
    r = shmring__ring_check(s->map.base, obj_size);
    if (r < 0) {
        return SHMRING_EPROTO; /* initialisation finishes under INIT, so "not ready" here is corrupt
                                */
    }
    uint32_t old_flags = ((struct shmring__hdr *)s->map.base)->flags;
    if ((old_flags & SHMRING__F_LEGACY) != (hdr_flags & SHMRING__F_LEGACY)) {
        return SHMRING_EPROTO;
    }
    return 0;
}

static void unmap_and_close(struct shmring__seg *s)
{
    shmring__plat_unmap(s->map.base, s->map.size);
    shmring__plat_close(s->map.fd); /* drops every lock this handle held */
    s->map.base = NULL;
    s->map.size = 0;
    s->map.fd = -1;
    s->hdr = NULL;
}

/* Group and others may read only what they may also write. Read access alone would let an
 * outsider hold shared locks on the lock bytes: block every role and the INIT lock, look like a
 * live peer, keep the name from being removed. Kernel locks cannot tell such a reader from a
 * user, so a ring is never readable by someone who cannot also write it (SECURITY.md). */
static unsigned safe_mode(unsigned mode)
{
    if (!(mode & 0020)) {
        mode &= ~0040u;
    }
    if (!(mode & 0002)) {
        mode &= ~0004u;
    }
    return mode;
}

/* One attempt; -ESTALE asks the caller to start over (the name changed under us). */
static int try_open(struct shmring__seg *s, uint64_t want, unsigned mode, unsigned flags,
                    uint32_t hdr_flags)
{
    int fd = -1;
    int r;
    int created = 0;
    mode = safe_mode(mode);
    if ((flags & SHMRING_CREATE) && (flags & SHMRING_EXCL)) {
        r = shmring__plat_open(s->path, 1, mode, &fd);
        created = r == 0;
    } else {
        r = shmring__plat_open(s->path, 0, mode, &fd);
        if (r == SHMRING_ENOENT && (flags & SHMRING_CREATE)) {
            r = shmring__plat_open(s->path, 1, mode, &fd);
            if (r == SHMRING_EEXIST) {
                return -ESTALE; /* created by someone else meanwhile: open theirs */
            }
            created = r == 0;
        }
    }
    if (r < 0) {
        return r;
    }
    s->map.fd = fd;
    struct shmring__plat_stat st;
    if ((r = shmring__plat_fstat(fd, &st)) < 0) {
        goto fail;
    }
    /* A name planted by another user must not capture our messages (nor we theirs). */
    if (st.uid != shmring__plat_euid() && !(flags & SHMRING_ANY_OWNER)) {
        r = SHMRING_EACCES;
        goto fail;
    }
    /* Made readable-only for others by an older version: close that door for new readers. */
    if (st.uid == shmring__plat_euid() && safe_mode(st.mode & 0777) != (st.mode & 0777)) {
        shmring__plat_chmod(fd, safe_mode(st.mode & 07777));
    }
    if ((r = shmring__plat_lock_wait(fd, SHMRING__LOCK_INIT, SHMRING__EXCLUSIVE,
                                     SHMRING__INIT_TIMEOUT_NS)) < 0) {
        created = 0; /* someone else holds INIT: they may be using it by now */
        goto fail;
    }
    /* A closer may have unlinked this object while we waited for INIT: then it is an orphan
     * nobody else can find, and we must open the name again. */
    if ((r = shmring__plat_is_linked(fd, s->path)) <= 0) {
        r = r == 0 ? -ESTALE : r;
        goto fail;
    }
    if ((r = shmring__plat_fstat(fd, &st)) < 0) { /* the size is final now */
        goto fail;
    }
    int alone = shmring__plat_lock(fd, SHMRING__LOCK_ATTACH, SHMRING__EXCLUSIVE) == 0;
    created = created && alone; /* nobody else uses what we created: ours to remove on failure */
    r = alone ? attach_alone(s, st.size, want, flags, hdr_flags)
              : attach_shared(s, st.size, want, hdr_flags);
    if (r < 0) {
        goto fail;
    }
    /* Converts our exclusive ATTACH to shared (or takes it): we count as a user from now on. */
    if ((r = shmring__plat_lock(fd, SHMRING__LOCK_ATTACH, SHMRING__SHARED)) < 0) {
        goto fail;
    }
    s->hdr = s->map.base;
    /* S2 (relaxed): we hold INIT, under which every generation store happens. */
    s->generation = atomic_load_explicit(&s->hdr->generation, memory_order_relaxed);
    shmring__plat_lock(fd, SHMRING__LOCK_INIT, SHMRING__UNLOCK);
    return 0;
fail:
    /* A name we created and could not make into a ring (no memory, no address space, ...) must
     * not stay behind as a trap for the next opener. Removed only while it is still ours. */
    if (created && shmring__plat_is_linked(fd, s->path) == 1) {
        shmring__plat_unlink(s->path);
    }
    unmap_and_close(s);
    return r;
}

int shmring__seg_open(struct shmring__seg *s, const char *name, uint64_t size, unsigned mode,
                      unsigned flags, uint32_t hdr_flags)
{
    memset(s, 0, sizeof *s);
    s->map.fd = -1;
    int r = shmring__seg_path(name, s->path);
    if (r < 0) {
        return r;
    }
    if (size != 0 && !size_is_valid(size)) {
        return SHMRING_EINVAL;
    }
    /* Each retry means another process created or removed the name in between; a bounded
     * number keeps a hostile process from holding us in the loop. */
    for (int attempt = 0; attempt < 64; attempt++) {
        r = try_open(s, size, mode, flags, hdr_flags);
        if (r != -ESTALE) {
            return r;
        }
    }
    return SHMRING_EAGAIN;
}

static void detach(struct shmring__seg *s, int unmap)
{
    if (s->map.fd < 0) {
        return;
    }
    /* If INIT cannot be had in time we still detach; the name then stays until a later open
     * finds nobody attached. */
    if (shmring__plat_lock_wait(s->map.fd, SHMRING__LOCK_INIT, SHMRING__EXCLUSIVE,
                                SHMRING__INIT_TIMEOUT_NS) == 0) {
        int last = shmring__plat_lock(s->map.fd, SHMRING__LOCK_ATTACH, SHMRING__EXCLUSIVE) == 0;
        uint32_t hflags = s->hdr != NULL ? s->hdr->flags : 0;
        if (last && !(hflags & SHMRING__F_PERSIST) &&
            shmring__plat_is_linked(s->map.fd, s->path) == 1) {
            shmring__plat_unlink(s->path);
        }
    }
    if (unmap) {
        unmap_and_close(s);
        return;
    }
    /* The mapping keeps the open file description alive, and with it its locks: drop them
     * (INIT, ATTACH, a role, LEGACY) explicitly, or a later open would wait for our INIT. */
    for (int byte = SHMRING__LOCK_INIT; byte <= SHMRING__LOCK_LEGACY; byte++) {
        shmring__plat_lock(s->map.fd, byte, SHMRING__UNLOCK);
    }
    shmring__plat_close(s->map.fd);
    s->map.fd = -1;
}

void shmring__seg_close(struct shmring__seg *s)
{
    detach(s, 1);
}

void shmring__seg_close_at_exit(struct shmring__seg *s)
{
    detach(s, 0);
}

void shmring__seg_forget(struct shmring__seg *s)
{
    unmap_and_close(s);
}

int shmring__seg_take_role(struct shmring__seg *s, int lock_byte)
{
    int r = shmring__plat_lock(s->map.fd, lock_byte, SHMRING__EXCLUSIVE);
    return r == SHMRING_EAGAIN ? SHMRING_EBUSY : r;
}

void shmring__seg_drop_role(struct shmring__seg *s, int lock_byte)
{
    shmring__plat_lock(s->map.fd, lock_byte, SHMRING__UNLOCK);
}

int shmring__seg_role_held(struct shmring__seg *s, int lock_byte)
{
    int r = shmring__plat_lock_held(s->map.fd, lock_byte);
    return r < 0 ? 1 : r; /* when in doubt, assume the peer lives: a false EPIPE loses data */
}

int shmring__seg_probe(const char *name, struct shmring__seg_probe *out,
                       void (*fn)(void *ctx, struct shmring__hdr *hdr, uint64_t size), void *ctx)
{
    char path[SHMRING_NAME_MAX + 2];
    int r = shmring__seg_path(name, path);
    if (r < 0) {
        return r;
    }
    memset(out, 0, sizeof *out);
    int fd = -1;
    if ((r = shmring__plat_open_ro(path, &fd)) < 0) {
        return r;
    }
    if ((r = shmring__plat_fstat(fd, &out->st)) < 0) {
        shmring__plat_close(fd);
        return r;
    }
    out->in_use = shmring__plat_lock_held(fd, SHMRING__LOCK_ATTACH) == 1;
    out->check = SHMRING_EPROTO;
    const void *base = NULL;
    if (size_is_valid(out->st.size) && shmring__plat_map_ro(fd, out->st.size, &base) == 0) {
        out->check = shmring__ring_check(base, out->st.size);
        if (out->check == 0) {
            struct shmring__hdr *h = (struct shmring__hdr *)base; /* read-only mapping */
            out->flags = h->flags;
            out->producer_alive = shmring__plat_lock_held(fd, SHMRING__LOCK_PRODUCER) == 1;
            out->consumer_alive = shmring__plat_lock_held(fd, SHMRING__LOCK_CONSUMER) == 1;
            if (fn != NULL) {
                fn(ctx, h, out->st.size);
            }
        }
        shmring__plat_unmap((void *)base, out->st.size);
    }
    shmring__plat_close(fd);
    return 0;
}

int shmring__seg_remove_stale(const char *name, int keep_persistent, int dry_run)
{
    char path[SHMRING_NAME_MAX + 2];
    int r = shmring__seg_path(name, path);
    if (r < 0) {
        return r;
    }
    int fd;
    if ((r = shmring__plat_open(path, 0, 0, &fd)) < 0) {
        return r == SHMRING_ENOENT ? 0 : r; /* gone meanwhile: nothing to do */
    }
    /* INIT is held only for the few system calls of an open or close: a second is plenty. Under
     * it nobody can attach, and an opener already waiting for it sees the name gone and starts
     * a new ring (try_open's is_linked check). */
    r = shmring__plat_lock_wait(fd, SHMRING__LOCK_INIT, SHMRING__EXCLUSIVE, 1000000000);
    struct shmring__seg_probe p;
    if (r < 0 || shmring__plat_is_linked(fd, path) != 1 ||
        shmring__seg_probe(name, &p, NULL, NULL) < 0 || p.check != 0 || p.in_use) {
        r = 0; /* busy, replaced, not a ring, or in use */
    } else if ((p.flags & SHMRING__F_PERSIST) && keep_persistent) {
        r = 2;
    } else if (dry_run) {
        r = 1;
    } else if ((r = shmring__plat_unlink(path)) == 0) {
        r = 1;
    }
    shmring__plat_close(fd); /* drops the INIT lock */
    return r;
}
