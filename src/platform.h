/* SPDX-License-Identifier: MIT */
/* The internal platform layer: everything the library needs from the operating system.
 * src/unix/ implements it with POSIX shared memory, open-file-description locks and (on Linux)
 * futex and membarrier. Nothing above this header includes a system header for these. */
#ifndef SHMRING_PLATFORM_H
#define SHMRING_PLATFORM_H

#include <stdatomic.h>
#include <stdint.h>

/* A named segment as this process sees it. */
struct shmring__plat_seg {
    int fd;        /* -1 when closed */
    void *base;    /* mapping, NULL when unmapped */
    uint64_t size; /* bytes mapped */
};

/* Facts about a named object, read without trusting its content. */
struct shmring__plat_stat {
    uint64_t size;
    uint32_t uid;
    uint32_t mode; /* permission bits */
    uint64_t dev, ino;
};

/* Named objects. All return 0 or a negative errno value. `path` is "/<name>". */
int shmring__plat_open(const char *path, int create_excl, unsigned mode, int *fd);
int shmring__plat_unlink(const char *path);
int shmring__plat_fstat(int fd, struct shmring__plat_stat *st);
/* 1 if `fd` is still the object linked under `path`, 0 if not (unlinked or replaced), or a
 * negative error when that cannot be told. Never opens what is linked there. */
int shmring__plat_is_linked(int fd, const char *path);
int shmring__plat_resize(int fd, uint64_t size);  /* reserve the memory, then set the size */
int shmring__plat_reserve(int fd, uint64_t size); /* reserve the memory of [0, size) */
int shmring__plat_chmod(int fd, unsigned mode);
int shmring__plat_map(int fd, uint64_t size, void **base);
void shmring__plat_unmap(void *base, uint64_t size);
void shmring__plat_close(int fd);
long shmring__plat_page_size(void);
uint32_t shmring__plat_euid(void);

/* Lock bytes on a segment: kernel locks owned by the open file description, so they vanish when
 * the last descriptor of the handle is closed, including when the process dies. */
enum {
    SHMRING__LOCK_INIT = 0,     /* exclusive while a process initialises, attaches or detaches */
    SHMRING__LOCK_ATTACH = 1,   /* shared by every attached handle: "someone alive uses it" */
    SHMRING__LOCK_PRODUCER = 2, /* exclusive: the producer role */
    SHMRING__LOCK_CONSUMER = 3, /* exclusive: the consumer role */
    SHMRING__LOCK_LEGACY = 4    /* exclusive while SetSharedMem writes */
};
enum { SHMRING__UNLOCK = 0, SHMRING__SHARED = 1, SHMRING__EXCLUSIVE = 2 };

/* Takes, converts or drops a lock without waiting: 0, SHMRING_EAGAIN if another holder conflicts.
 */
int shmring__plat_lock(int fd, int byte, int kind);
/* Waits for the lock up to timeout_ns (< 0 forever): 0, SHMRING_ETIMEDOUT. */
int shmring__plat_lock_wait(int fd, int byte, int kind, int64_t timeout_ns);
/* 1 if some other open file description holds a lock on `byte`, 0 if not, or a negative error. */
int shmring__plat_lock_held(int fd, int byte);

/* Waits while *word == expected, at most timeout_ns (< 0 forever). Returns 0 when woken or the
 * word differs, SHMRING_ETIMEDOUT, SHMRING_EINTR. Works across processes on a shared mapping. */
int shmring__plat_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns);
/* Wakes every waiter on word. */
void shmring__plat_wake(_Atomic uint32_t *word);
/* 1 when a real kernel wait is used, 0 for the spin-and-sleep fallback. */
int shmring__plat_has_futex(void);

/* The asymmetric barrier pair that keeps the publish path free of fences: a side about to sleep
 * stores its "waiting" flag and calls heavy_barrier() before re-checking the ring; a side that
 * publishes calls light_barrier() between its index store and its load of the peer's flag. On
 * Linux heavy is membarrier(GLOBAL_EXPEDITED), which forces a full barrier on every CPU running a
 * registered process, so light is only a compiler barrier. Elsewhere both are seq_cst fences. */
void shmring__plat_barrier_init(void);
void shmring__plat_heavy_barrier(void);
extern int shmring__plat_light_is_fence;
/* B0: the light barrier that B1 names; pairs with H0. */
static inline void shmring__plat_light_barrier(void)
{
    if (shmring__plat_light_is_fence) {
        atomic_thread_fence(memory_order_seq_cst);
    } else {
        atomic_signal_fence(memory_order_seq_cst);
    }
}

/* Monotonic clock in nanoseconds; the coarse one is cheaper and good to a few milliseconds. */
int64_t shmring__plat_now_ns(void);
/* now + timeout_ns, saturated at INT64_MAX; INT64_MAX for a negative timeout (forever). */
int64_t shmring__plat_deadline(int64_t timeout_ns);
int64_t shmring__plat_coarse_ns(void);
void shmring__plat_sleep_ns(int64_t ns);
void shmring__plat_cpu_relax(void);
/* Lets another runnable thread of this CPU run (returns at once when there is none). */
void shmring__plat_yield(void);
int32_t shmring__plat_pid(void);

/* Fork handlers (pthread_atfork): prepare/parent run around fork in the parent, child in the
 * child before fork returns, so the child can drop what it inherited. */
int shmring__plat_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* For tools (src/admin.c, through segment.c): looking without attaching. */
/* Opens the named object read-only, never following a symlink: 0 or a negative code. */
int shmring__plat_open_ro(const char *path, int *fd);
/* Maps `size` bytes of fd read-only. */
int shmring__plat_map_ro(int fd, uint64_t size, const void **base);
/* Calls fn(ctx, name) for each object of the system's shared-memory namespace that is not a
 * directory ("name" without the leading '/'), in no particular order, until fn returns non-zero.
 * 0, SHMRING_ENOSYS when the system keeps no such directory, or another negative code. */
int shmring__plat_list(int (*fn)(void *ctx, const char *name), void *ctx);

#endif /* SHMRING_PLATFORM_H */
