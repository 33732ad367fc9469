/* SPDX-License-Identifier: MIT */
/* POSIX named segments: shm_open objects, and open-file-description (OFD) lock bytes that carry
 * every cross-process decision, because they are the only bookkeeping that survives a SIGKILL
 * correctly: a dead process's locks are gone, a live process's are not, and pid reuse cannot fake
 * either. The locks belong to the open file description, so they vanish when its last
 * descriptor (or mapping) goes, including when the process dies.
 *
 *   byte 0  INIT    exclusive around open and close: sizing, deciding "am I alone?", unlinking
 *                   (the platform.h "init exclusion").
 *   byte 1  ATTACH  shared by every attached handle. Whoever gets it exclusively is alone: every
 *                   earlier user closed or died.
 *   byte 2+r        role r (0 producer, 1 consumer, 2 legacy setter), exclusive;
 *   byte 32+k       multi-producer slot k (role SHMRING__ROLE_ID_SLOT0 + k).
 *
 * The choreography: open the name (never following a symlink, never blocking on a FIFO), check
 * its owner, take INIT, make sure the object we hold is still the one linked under the name (a
 * closer may have unlinked it while we waited: then open again), try ATTACH exclusively to learn
 * "alone", size and reserve a new object, map. The last detacher (ATTACH exclusive under INIT)
 * unlinks the name. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_OFD_* locks */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../platform.h"

#ifndef F_OFD_SETLK
#error "open-file-description locks (F_OFD_SETLK) are required; add a platform file for this system"
#endif

#ifdef __linux__
#define SHM_DIR "/dev/shm" /* where glibc's and musl's shm_open put the names */
#endif

/* Bounds the wait for another process's open or close (they hold INIT briefly). */
#define INIT_TIMEOUT_NS  (5 * 1000000000LL)
#define STALE_TIMEOUT_NS (1000000000LL) /* remove_stale: INIT is held for a few system calls */

enum { LOCK_INIT = 0, LOCK_ATTACH = 1, LOCK_ROLE0 = 2, LOCK_SLOT0 = 32 };
enum { UNLOCK = 0, SHARED = 1, EXCLUSIVE = 2 };

struct shmring__plat_seg {
    int fd;         /* -1 once closed */
    void *base;     /* the mapping, NULL when unmapped */
    uint64_t size;  /* bytes mapped */
    int created;    /* this open created the name and is alone on it (until _attach) */
    int reserved;   /* the memory of [0, size) is reserved */
    char path[256]; /* "/<name>" */
};

/* ---- descriptors and lock bytes ----------------------------------------------------------- */

static int make_path(const char *name, char path[256])
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > 254) {
        return -EINVAL;
    }
    path[0] = '/';
    memcpy(path + 1, name, n + 1);
    return 0;
}

static int open_rw(const char *path, int create_excl, unsigned mode, int *fd)
{
    /* O_NOFOLLOW: a planted symlink in the shm directory must not redirect us. O_NONBLOCK: a
     * planted FIFO or device must not block the open (it is refused below). */
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (create_excl ? O_CREAT | O_EXCL : 0);
    int r = shm_open(path, flags, (mode_t)mode);
    if (r < 0) {
        /* ELOOP is O_NOFOLLOW refusing a symlink, EISDIR (EINVAL from glibc's shm_open, whose
         * names we validated) a planted directory, ENXIO a planted UNIX socket (ENODEV a device
         * without a driver): names someone planted that we may not use, reported like any other
         * name we are not allowed to open. */
        int e = errno;
        return e == ELOOP || e == EISDIR || e == EINVAL || e == ENXIO || e == ENODEV ? -EACCES : -e;
    }
    struct stat st;
    if (fstat(r, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(r); /* a FIFO, device or socket under the name: never ours */
        return create_excl ? -EEXIST : -EACCES;
    }
    if (create_excl && fchmod(r, (mode_t)mode) != 0) { /* the umask must not change the mode */
        int e = -errno;
        close(r);
        shm_unlink(path);
        return e;
    }
    *fd = r;
    return 0;
}

static int open_ro(const char *path, int *fd)
{
    /* O_NONBLOCK: anything may sit in the shm directory, and opening a FIFO for reading would
     * wait for a writer. It changes nothing for a shared-memory object. */
    int r = shm_open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (r < 0) {
        int e = errno;
        return e == ELOOP || e == EINVAL || e == EISDIR || e == ENXIO || e == ENODEV ? -EACCES : -e;
    }
    struct stat st;
    if (fstat(r, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(r);
        return -EACCES; /* a FIFO, device or directory: not a ring */
    }
    *fd = r;
    return 0;
}

/* 1 if `fd` is still the object linked under `path`, 0 if not (unlinked or replaced), or a
 * negative error when that cannot be told. Never opens what is linked there (on Linux). */
static int is_linked(int fd, const char *path)
{
    struct stat mine;
    struct stat linked;
    if (fstat(fd, &mine) != 0) {
        return -errno;
    }
#ifdef SHM_DIR
    /* Compares identities without opening the name: no descriptor is needed (so this works at
     * the descriptor limit), and nothing planted there (a FIFO, a device) can block us. */
    char full[sizeof SHM_DIR + 256];
    const size_t path_len = strlen(path);
    if (path_len >= 256) {
        return -ENAMETOOLONG;
    }
    memcpy(full, SHM_DIR, sizeof SHM_DIR - 1);
    memcpy(full + sizeof SHM_DIR - 1, path, path_len + 1);
    if (lstat(full, &linked) != 0) {
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    }
#else
    int other = shm_open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (other < 0) {
        return errno == ENOENT || errno == ELOOP ? 0 : -errno;
    }
    int ok = fstat(other, &linked) == 0;
    close(other);
    if (!ok) {
        return 0;
    }
#endif
    return mine.st_dev == linked.st_dev && mine.st_ino == linked.st_ino;
}

/* Reserves the pages: on a full tmpfs this fails cleanly with -ENOSPC instead of a SIGBUS on
 * first touch. Done before any size change, so that an object never has a size without its
 * memory, even if we are killed in between (tmpfs undoes a failed fallocate). Pages already
 * reserved cost nothing. posix_fallocate returns the error rather than setting errno. */
static int reserve(int fd, uint64_t size)
{
    int e = posix_fallocate(fd, 0, (off_t)size);
    if (e != 0 && e != EOPNOTSUPP && e != EINVAL) {
        return -e;
    }
    return 0;
}

static int lock_cmd(int fd, int byte, int kind, int cmd, int len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl); /* OFD locks require l_pid == 0 */
    fl.l_type = (short)(kind == EXCLUSIVE ? F_WRLCK : kind == SHARED ? F_RDLCK : F_UNLCK);
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = len;
    while (fcntl(fd, cmd, &fl) != 0) {
        if (errno == EINTR) {
            continue;
        }
        return errno == EACCES ? -EAGAIN : -errno; /* EACCES is the POSIX "conflict" too */
    }
    return 0;
}

/* Takes, converts or drops a lock without waiting: 0, -EAGAIN if another holder conflicts. */
static int lock(int fd, int byte, int kind)
{
    return lock_cmd(fd, byte, kind, F_OFD_SETLK, 1);
}

/* Polling with a growing sleep keeps the wait bounded without signals or threads. */
static int lock_wait(int fd, int byte, int kind, int64_t timeout_ns)
{
    int64_t deadline = shmring__plat_deadline(timeout_ns);
    int64_t nap = 20000;
    for (;;) {
        int r = lock(fd, byte, kind);
        if (r != -EAGAIN) {
            return r;
        }
        int64_t now = shmring__plat_now_ns();
        if (now >= deadline) {
            return -ETIMEDOUT;
        }
        shmring__plat_sleep_ns(nap < deadline - now ? nap : deadline - now);
        nap = nap < 2000000 ? nap * 2 : nap;
    }
}

/* 1 if some other open file description holds a lock on `byte`, 0 if not, or a negative error. */
static int lock_held(int fd, int byte)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) {
        return -errno;
    }
    return fl.l_type != F_UNLCK;
}

/* How many of the slot bytes [LOCK_SLOT0, LOCK_SLOT0 + n) other descriptions hold: one
 * F_OFD_GETLK over the rest of the range per held byte found, plus one. */
static uint32_t slots_held(int fd, int n)
{
    uint32_t held = 0;
    off_t start = LOCK_SLOT0, end = LOCK_SLOT0 + n;
    while (start < end) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = start;
        fl.l_len = end - start;
        if (fcntl(fd, F_OFD_GETLK, &fl) != 0 || fl.l_type == F_UNLCK) {
            break;
        }
        held++;
        start = fl.l_start + 1; /* slot locks are one byte each */
    }
    return held;
}

static int size_is_valid(uint64_t size)
{
    uint64_t page = shmring__plat_page_size();
    return size >= SHMRING_DEFAULT_SIZE && size <= SHMRING_MAX_SIZE && size % page == 0;
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

static void unmap_and_close(struct shmring__plat_seg *s)
{
    if (s->base != NULL) {
        munmap(s->base, (size_t)s->size);
    }
    if (s->fd >= 0) {
        close(s->fd); /* drops every lock this handle held */
    }
    s->base = NULL;
    s->size = 0;
    s->fd = -1;
}

/* ---- open / attach / detach ---------------------------------------------------------------- */

/* One attempt; -ESTALE asks the caller to start over (the name changed under us). On success
 * INIT is held; on failure nothing is left. */
static int try_open(struct shmring__plat_seg *s, uint64_t want, uint64_t create_size, unsigned mode,
                    unsigned flags, int *alone)
{
    int fd = -1;
    int r;
    int created = 0;
    mode = safe_mode(mode);
    if ((flags & SHMRING_CREATE) && (flags & SHMRING_EXCL)) {
        r = open_rw(s->path, 1, mode, &fd);
        created = r == 0;
    } else {
        r = open_rw(s->path, 0, mode, &fd);
        if (r == -ENOENT && (flags & SHMRING_CREATE)) {
            r = open_rw(s->path, 1, mode, &fd);
            if (r == -EEXIST) {
                return -ESTALE; /* created by someone else meanwhile: open theirs */
            }
            created = r == 0;
        }
    }
    if (r < 0) {
        return r;
    }
    s->fd = fd;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        r = -errno;
        goto fail;
    }
    /* A name planted by another user must not capture our messages (nor we theirs). */
    if (st.st_uid != geteuid() && !(flags & SHMRING_ANY_OWNER)) {
        r = -EACCES;
        goto fail;
    }
    /* Made readable-only for others by an older version: close that door for new readers. */
    if (st.st_uid == geteuid() && safe_mode(st.st_mode & 0777) != (st.st_mode & 0777)) {
        fchmod(fd, (mode_t)safe_mode(st.st_mode & 07777));
    }
    if ((r = lock_wait(fd, LOCK_INIT, EXCLUSIVE, INIT_TIMEOUT_NS)) < 0) {
        created = 0; /* someone else holds INIT: they may be using it by now */
        goto fail;
    }
    /* A closer may have unlinked this object while we waited for INIT: then it is an orphan
     * nobody else can find, and we must open the name again. */
    if ((r = is_linked(fd, s->path)) <= 0) {
        r = r == 0 ? -ESTALE : r;
        goto fail;
    }
    if (fstat(fd, &st) != 0) { /* the size is final now */
        r = -errno;
        goto fail;
    }
    *alone = lock(fd, LOCK_ATTACH, EXCLUSIVE) == 0;
    created = created && *alone; /* nobody else uses what we created: ours to remove on failure */
    s->created = created;
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) {
        /* Just created, or its creator died before sizing it. */
        if (!*alone) {
            r = -EPROTO; /* sizing finishes under INIT: others attached to nothing is corrupt */
            goto fail;
        }
        if (!(flags & SHMRING_CREATE)) {
            r = -ENOENT;
            goto fail;
        }
        size = want ? want : create_size ? create_size : SHMRING_DEFAULT_SIZE;
        if ((r = reserve(fd, size)) < 0) {
            goto fail;
        }
        if (ftruncate(fd, (off_t)size) != 0) {
            r = -errno;
            goto fail;
        }
        s->reserved = 1;
    } else {
        if (!size_is_valid(size)) {
            r = -EPROTO;
            goto fail;
        }
        if (want != 0 && want != size) {
            r = -EINVAL;
            goto fail;
        }
        /* Alone: its creator may have died after sizing it and before reserving its memory (or
         * an older version sized it first): reserve before touching a page, so that a full
         * tmpfs gives -ENOSPC here and not SIGBUS in a (re)format or in a later writer. */
        if (*alone) {
            if ((r = reserve(fd, size)) < 0) {
                goto fail;
            }
            s->reserved = 1;
        }
    }
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        r = -errno;
        goto fail;
    }
    s->base = p;
    s->size = size;
    return 0;
fail:
    /* A name we created and could not make into a ring (no memory, no address space, ...) must
     * not stay behind as a trap for the next opener. Removed only while it is still ours. */
    if (created && is_linked(fd, s->path) == 1) {
        shm_unlink(s->path);
    }
    unmap_and_close(s);
    s->created = 0;
    s->reserved = 0;
    return r;
}

/* An object under /dev/shm lives until it is unlinked, attached or not. */
const int shmring__plat_idle_names = 1;

int shmring__plat_seg_open(const char *name, uint64_t want_size, uint64_t create_size,
                           unsigned mode, unsigned flags, struct shmring__plat_seg **seg,
                           struct shmring__plat_attach *at)
{
    *seg = NULL;
    if ((want_size != 0 && !size_is_valid(want_size)) ||
        (create_size != 0 && !size_is_valid(create_size))) {
        return -EINVAL;
    }
    struct shmring__plat_seg *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return -ENOMEM;
    }
    s->fd = -1;
    int r = make_path(name, s->path);
    /* Each retry means another process created or removed the name in between; a bounded
     * number keeps a hostile process from holding us in the loop. */
    for (int attempt = 0; r == 0 && attempt < 64; attempt++) {
        int alone = 0;
        r = try_open(s, want_size, create_size, mode, flags, &alone);
        if (r == 0) {
            at->base = s->base;
            at->size = s->size;
            at->alone = alone;
            at->created = s->created;
            *seg = s;
            return 0;
        }
        r = r == -ESTALE ? 0 : r;
        if (r == 0 && attempt == 63) {
            r = -EAGAIN;
        }
    }
    free(s);
    return r;
}

int shmring__plat_seg_reserve(struct shmring__plat_seg *s)
{
    if (s->reserved) {
        return 0;
    }
    int r = reserve(s->fd, s->size);
    s->reserved = r == 0;
    return r;
}

int shmring__plat_seg_attach(struct shmring__plat_seg *s)
{
    /* Converts our exclusive ATTACH to shared (or takes it): we count as a user from now on. */
    int r = lock(s->fd, LOCK_ATTACH, SHARED);
    if (r < 0) {
        return r;
    }
    s->created = 0;
    lock(s->fd, LOCK_INIT, UNLOCK);
    return 0;
}

void shmring__plat_seg_abort(struct shmring__plat_seg *s)
{
    if (s->created && is_linked(s->fd, s->path) == 1) {
        shm_unlink(s->path);
    }
    unmap_and_close(s);
    free(s);
}

/* Under INIT (if it can be had in time): 1 if we are the last user; then unlinks the name if
 * asked and it is still ours. */
static int leave(struct shmring__plat_seg *s, int remove_if_last)
{
    if (lock_wait(s->fd, LOCK_INIT, EXCLUSIVE, INIT_TIMEOUT_NS) != 0) {
        return 0; /* the name stays until a later open finds nobody attached */
    }
    int last = lock(s->fd, LOCK_ATTACH, EXCLUSIVE) == 0;
    if (last && remove_if_last && is_linked(s->fd, s->path) == 1) {
        shm_unlink(s->path);
    }
    return last;
}

int shmring__plat_seg_detach(struct shmring__plat_seg *s, int remove_if_last)
{
    int last = s->fd >= 0 ? leave(s, remove_if_last) : 0;
    unmap_and_close(s);
    free(s);
    return last;
}

int shmring__plat_seg_release_marks(struct shmring__plat_seg *s, int remove_if_last)
{
    if (s->fd < 0) {
        return 0;
    }
    int last = leave(s, remove_if_last);
    /* The mapping keeps the open file description alive, and with it its locks: drop them all
     * (INIT, ATTACH, roles, slots) explicitly, or a later open would wait for our INIT. */
    lock_cmd(s->fd, 0, UNLOCK, F_OFD_SETLK, 0);
    close(s->fd);
    s->fd = -1;
    return last;
}

void shmring__plat_seg_forget(struct shmring__plat_seg *s)
{
    if (s != NULL) {
        unmap_and_close(s);
        free(s);
    }
}

int shmring__plat_seg_others_attached(struct shmring__plat_seg *s)
{
    /* Every attached handle holds ATTACH shared; the query does not see our own. */
    int r = lock_held(s->fd, LOCK_ATTACH);
    return r < 0 ? 1 : r;
}

/* ---- roles --------------------------------------------------------------------------------- */

static int role_byte(int role)
{
    if (role >= 0 && role <= SHMRING__ROLE_ID_LEGACY_SETTER) {
        return LOCK_ROLE0 + role;
    }
    if (role >= SHMRING__ROLE_ID_SLOT0 && role < SHMRING__ROLE_ID_MAX) {
        return LOCK_SLOT0 + (role - SHMRING__ROLE_ID_SLOT0);
    }
    return -EINVAL;
}

int shmring__plat_role_take(struct shmring__plat_seg *s, int role)
{
    int byte = role_byte(role);
    if (byte < 0) {
        return byte;
    }
    int r = lock(s->fd, byte, EXCLUSIVE);
    return r == -EAGAIN ? -EBUSY : r;
}

int shmring__plat_role_take_wait(struct shmring__plat_seg *s, int role, int64_t timeout_ns)
{
    int byte = role_byte(role);
    return byte < 0 ? byte : lock_wait(s->fd, byte, EXCLUSIVE, timeout_ns);
}

void shmring__plat_role_drop(struct shmring__plat_seg *s, int role)
{
    int byte = role_byte(role);
    if (byte >= 0) {
        lock(s->fd, byte, UNLOCK);
    }
}

int shmring__plat_role_held(struct shmring__plat_seg *s, int role)
{
    int byte = role_byte(role);
    int r = byte < 0 ? byte : lock_held(s->fd, byte);
    return r < 0 ? 1 : r; /* when in doubt, assume the peer lives: a false EPIPE loses data */
}

/* ---- looking without attaching ------------------------------------------------------------- */

int shmring__plat_probe(const char *name, struct shmring__plat_probe *out,
                        void (*fn)(void *ctx, const void *base, uint64_t size), void *ctx)
{
    char path[256];
    int r = make_path(name, path);
    if (r < 0) {
        return r;
    }
    memset(out, 0, sizeof *out);
    int fd = -1;
    if ((r = open_ro(path, &fd)) < 0) {
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        r = -errno;
        close(fd);
        return r;
    }
    out->size = (uint64_t)st.st_size;
    out->owner = (uint32_t)st.st_uid;
    out->mode = (uint32_t)(st.st_mode & 07777);
    out->owned_by_us = st.st_uid == geteuid();
    out->in_use = lock_held(fd, LOCK_ATTACH) == 1;
    for (int role = 0; role <= SHMRING__ROLE_ID_LEGACY_SETTER; role++) {
        if (lock_held(fd, LOCK_ROLE0 + role) == 1) {
            out->roles |= 1u << role;
        }
    }
    out->slots_held = slots_held(fd, SHMRING__ROLE_ID_MAX - SHMRING__ROLE_ID_SLOT0);
    if (fn != NULL && size_is_valid(out->size)) {
        void *p = mmap(NULL, (size_t)out->size, PROT_READ, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            fn(ctx, p, out->size);
            munmap(p, (size_t)out->size);
        }
    }
    close(fd);
    return 0;
}

int shmring__plat_list(int (*fn)(void *ctx, const char *name), void *ctx)
{
#ifdef SHM_DIR
    DIR *d = opendir(SHM_DIR);
    if (d == NULL) {
        return errno == ENOENT ? -ENOSYS : -errno;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type == DT_DIR) {
            continue; /* "." and "..", sub-directories (FIFOs etc. are refused by the probe) */
        }
        if (fn(ctx, e->d_name) != 0) {
            break;
        }
    }
    closedir(d);
    return 0;
#else
    (void)fn;
    (void)ctx;
    return -ENOSYS;
#endif
}

int shmring__plat_unlink(const char *name)
{
    char path[256];
    int r = make_path(name, path);
    if (r < 0) {
        return r;
    }
    return shm_unlink(path) == 0 ? 0 : -errno;
}

int shmring__plat_remove_stale(const char *name,
                               int (*decide)(void *ctx, const void *base, uint64_t size), void *ctx)
{
    char path[256];
    int r = make_path(name, path);
    if (r < 0) {
        return r;
    }
    int fd = -1;
    if ((r = open_rw(path, 0, 0, &fd)) < 0) {
        return r == -ENOENT ? 0 : r; /* gone meanwhile: nothing to do */
    }
    /* Under INIT nobody can attach, and an opener already waiting for it sees the name gone and
     * starts a new ring (try_open's is_linked check). */
    r = lock_wait(fd, LOCK_INIT, EXCLUSIVE, STALE_TIMEOUT_NS);
    struct stat st;
    if (r < 0 || is_linked(fd, path) != 1 || lock_held(fd, LOCK_ATTACH) != 0 ||
        fstat(fd, &st) != 0 || !size_is_valid((uint64_t)st.st_size)) {
        close(fd);
        return 0; /* busy, replaced, in use, or not a ring */
    }
    int remove = 1;
    if (decide != NULL) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            r = -errno;
            close(fd);
            return r;
        }
        remove = decide(ctx, p, (uint64_t)st.st_size) == 1;
        munmap(p, (size_t)st.st_size);
    }
    r = 0;
    if (remove) {
        r = shm_unlink(path) == 0 ? 1 : -errno;
    }
    close(fd); /* drops the INIT lock */
    return r;
}
