/* SPDX-License-Identifier: MIT */
/* POSIX implementation of the named-segment part of the platform layer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_OFD_* locks, syscall() */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../platform.h"

#ifndef F_OFD_SETLK
#error "open-file-description locks (F_OFD_SETLK) are required; add a platform file for this system"
#endif

#ifdef __linux__
#define SHM_DIR "/dev/shm" /* where glibc's and musl's shm_open put the names */
#endif

int shmring__plat_open(const char *path, int create_excl, unsigned mode, int *fd)
{
    /* O_NOFOLLOW: a planted symlink in the shm directory must not redirect us. O_NONBLOCK: a
     * planted FIFO or device must not block the open (it is refused below). */
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (create_excl ? O_CREAT | O_EXCL : 0);
    int r = shm_open(path, flags, (mode_t)mode);
    if (r < 0) {
        /* ELOOP is O_NOFOLLOW refusing a symlink, EISDIR (EINVAL from glibc's shm_open, whose
         * names we validated) a planted directory: names someone planted that we may not use,
         * reported like any other name we are not allowed to open. */
        int e = errno;
        return e == ELOOP || e == EISDIR || e == EINVAL ? -EACCES : -e;
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

int shmring__plat_unlink(const char *path)
{
    return shm_unlink(path) == 0 ? 0 : -errno;
}

int shmring__plat_fstat(int fd, struct shmring__plat_stat *st)
{
    struct stat s;
    if (fstat(fd, &s) != 0) {
        return -errno;
    }
    st->size = (uint64_t)s.st_size;
    st->uid = (uint32_t)s.st_uid;
    st->mode = (uint32_t)(s.st_mode & 07777);
    st->dev = (uint64_t)s.st_dev;
    st->ino = (uint64_t)s.st_ino;
    return 0;
}

int shmring__plat_is_linked(int fd, const char *path)
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
    if (strlen(path) >= 256) {
        return -ENAMETOOLONG;
    }
    memcpy(full, SHM_DIR, sizeof SHM_DIR - 1);
    strcpy(full + sizeof SHM_DIR - 1, path);
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

int shmring__plat_reserve(int fd, uint64_t size)
{
    /* Reserve the pages: on a full tmpfs this fails cleanly with -ENOSPC instead of a SIGBUS on
     * first touch. Done before any size change, so that an object never has a size without its
     * memory, even if we are killed in between (tmpfs undoes a failed fallocate). Pages already
     * reserved cost nothing. posix_fallocate returns the error rather than setting errno. */
    int e = posix_fallocate(fd, 0, (off_t)size);
    if (e != 0 && e != EOPNOTSUPP && e != EINVAL) {
        return -e;
    }
    return 0;
}

int shmring__plat_resize(int fd, uint64_t size)
{
    int r = shmring__plat_reserve(fd, size); /* also sets the size where fallocate works */
    if (r < 0) {
        return r;
    }
    return ftruncate(fd, (off_t)size) == 0 ? 0 : -errno;
}

int shmring__plat_chmod(int fd, unsigned mode)
{
    return fchmod(fd, (mode_t)mode) == 0 ? 0 : -errno;
}

int shmring__plat_map(int fd, uint64_t size, void **base)
{
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        return -errno;
    }
    *base = p;
    return 0;
}

void shmring__plat_unmap(void *base, uint64_t size)
{
    if (base != NULL) {
        munmap(base, (size_t)size);
    }
}

void shmring__plat_close(int fd)
{
    if (fd >= 0) {
        close(fd);
    }
}

long shmring__plat_page_size(void)
{
    return sysconf(_SC_PAGESIZE);
}

uint32_t shmring__plat_euid(void)
{
    return (uint32_t)geteuid();
}

static int lock_cmd(int fd, int byte, int kind, int cmd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl); /* OFD locks require l_pid == 0 */
    fl.l_type = kind == SHMRING__EXCLUSIVE ? F_WRLCK : kind == SHMRING__SHARED ? F_RDLCK : F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    while (fcntl(fd, cmd, &fl) != 0) {
        if (errno == EINTR) {
            continue;
        }
        return errno == EACCES ? -EAGAIN : -errno; /* EACCES is the POSIX "conflict" too */
    }
    return 0;
}

int shmring__plat_lock(int fd, int byte, int kind)
{
    return lock_cmd(fd, byte, kind, F_OFD_SETLK);
}

int shmring__plat_lock_wait(int fd, int byte, int kind, int64_t timeout_ns)
{
    /* Polling with a growing sleep keeps the wait bounded without signals or threads; these
     * locks are held only for the few system calls of an open or close. */
    int64_t deadline = shmring__plat_deadline(timeout_ns);
    int64_t nap = 20000;
    for (;;) {
        int r = shmring__plat_lock(fd, byte, kind);
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

int shmring__plat_lock_held(int fd, int byte)
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

int64_t shmring__plat_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t shmring__plat_deadline(int64_t timeout_ns)
{
    int64_t now = shmring__plat_now_ns();
    /* Saturates: a timeout near INT64_MAX means "practically forever", not an overflow. */
    return timeout_ns < 0 || timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

int64_t shmring__plat_coarse_ns(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
#else
    return shmring__plat_now_ns();
#endif
}

void shmring__plat_sleep_ns(int64_t ns)
{
    if (ns <= 0) {
        sched_yield();
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

void shmring__plat_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void shmring__plat_yield(void)
{
    sched_yield();
}

int32_t shmring__plat_pid(void)
{
    return (int32_t)getpid();
}

int shmring__plat_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    return -pthread_atfork(prepare, parent, child);
}

/* ---- for tools: looking without attaching ------------------------------------------------- */

int shmring__plat_open_ro(const char *path, int *fd)
{
    /* O_NONBLOCK: anything may sit in the shm directory, and opening a FIFO for reading would
     * wait for a writer. It changes nothing for a shared-memory object. */
    int r = shm_open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (r < 0) {
        int e = errno;
        return e == ELOOP || e == EINVAL || e == EISDIR ? -EACCES : -e;
    }
    struct stat st;
    if (fstat(r, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(r);
        return -EACCES; /* a FIFO, device or directory: not a ring */
    }
    *fd = r;
    return 0;
}

int shmring__plat_map_ro(int fd, uint64_t size, const void **base)
{
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        return -errno;
    }
    *base = p;
    return 0;
}

/* Where POSIX shared-memory objects appear as files (Linux). */
#define SHM_DIR "/dev/shm"

int shmring__plat_list(int (*fn)(void *ctx, const char *name), void *ctx)
{
    DIR *d = opendir(SHM_DIR);
    if (d == NULL) {
        return errno == ENOENT ? -ENOSYS : -errno;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type == DT_DIR) {
            continue; /* "." and "..", sub-directories (sem. objects are files: the caller sorts) */
        }
        if (fn(ctx, e->d_name) != 0) {
            break;
        }
    }
    closedir(d);
    return 0;
}
