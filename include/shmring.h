/* SPDX-License-Identifier: MIT */
/* shmring: lock-free message passing between processes over named shared memory.
 *
 * A ring is a named POSIX shared-memory object ("/<name>", 4096 bytes by default) holding a small
 * header and a single-producer/single-consumer ring of variable-length messages. One process
 * opens it as the producer, one as the consumer, any number as observers (read-only statistics).
 * A ring created with SHMRING_MULTI_PRODUCER takes up to opts.max_producers producers at once
 * (the same calls, but for the bookmark and the consumer read-ahead, which are -ENOTSUP there;
 * each record is committed on its own; a producer that dies loses at most what it had claimed
 * and not committed, and never blocks the others: docs/mpsc.md).
 *
 * Conventions for every call below:
 *  - success is 0 or a non-negative count/length; failure is a negative errno value, and
 *    shmring_strerror() gives its text;
 *  - a handle belongs to the thread/process that opened it (one thread at a time per handle; a
 *    forked child must open its own);
 *  - nothing on the send/receive path allocates, locks or makes a system call unless the peer is
 *    asleep in a blocking call and must be woken.
 */
#ifndef SHMRING_H
#define SHMRING_H

#include <stddef.h>
#include <stdint.h>
#if !defined(_WIN32)
#include <errno.h> /* the SHMRING_E* codes below are -errno values on POSIX systems */
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SHMRING_STATIC)
#define SHMRING_API
#elif defined(_WIN32)
#if defined(SHMRING_BUILDING)
#define SHMRING_API __declspec(dllexport)
#else
#define SHMRING_API __declspec(dllimport)
#endif
#else
#define SHMRING_API __attribute__((visibility("default")))
#endif

/* SHMRING_VERSION_MAJOR, _MINOR, _PATCH and _STRING, generated from CMake's project(VERSION). */
#include "shmring_version.h"

/* Version of the shared-memory layout; processes using different majors refuse each other. */
#define SHMRING_LAYOUT_VERSION 2

/* A signed length: a message length (>= 0) or a SHMRING_E* code (< 0). As wide as size_t. */
typedef ptrdiff_t shmring_ssize;

/* One message of a batch (shmring_send_batch). base may be NULL when len is 0. */
struct shmring_buf {
    const void *base;
    size_t len;
};

/* Error codes. Every call returns 0 or a non-negative count/length on success and one of these
 * (always negative) on failure. On POSIX systems each equals -errno of the same name, so
 * `r == -EAGAIN` keeps working there; on Windows they are the fixed values given, which are
 * Linux's numbers. shmring_strerror() describes every one of them. */
#if defined(_WIN32)
#define SHMRING__ERR(posix_name, fixed) (-(fixed))
#else
#define SHMRING__ERR(posix_name, fixed) (-(posix_name))
#endif
#define SHMRING_EPERM        SHMRING__ERR(EPERM, 1)         /* not allowed for this role */
#define SHMRING_ENOENT       SHMRING__ERR(ENOENT, 2)        /* no such ring (or value) */
#define SHMRING_EINTR        SHMRING__ERR(EINTR, 4)         /* a signal interrupted a wait */
#define SHMRING_EAGAIN       SHMRING__ERR(EAGAIN, 11)       /* full or empty: try again */
#define SHMRING_ENOMEM       SHMRING__ERR(ENOMEM, 12)       /* out of memory */
#define SHMRING_EACCES       SHMRING__ERR(EACCES, 13)       /* permission denied */
#define SHMRING_EBUSY        SHMRING__ERR(EBUSY, 16)        /* role held by a live process */
#define SHMRING_EEXIST       SHMRING__ERR(EEXIST, 17)       /* exists (SHMRING_EXCL) */
#define SHMRING_EINVAL       SHMRING__ERR(EINVAL, 22)       /* invalid argument */
#define SHMRING_ENFILE       SHMRING__ERR(ENFILE, 23)       /* system descriptor limit */
#define SHMRING_EMFILE       SHMRING__ERR(EMFILE, 24)       /* process descriptor limit */
#define SHMRING_ENOSPC       SHMRING__ERR(ENOSPC, 28)       /* no room for shared memory */
#define SHMRING_EPIPE        SHMRING__ERR(EPIPE, 32)        /* the peer closed or died */
#define SHMRING_ENAMETOOLONG SHMRING__ERR(ENAMETOOLONG, 36) /* name too long */
#define SHMRING_ENOSYS       SHMRING__ERR(ENOSYS, 38)       /* not supported on this platform */
#define SHMRING_EPROTO       SHMRING__ERR(EPROTO, 71)       /* not a valid mapping / corrupt */
#define SHMRING_EBADMSG      SHMRING__ERR(EBADMSG, 74)      /* malformed record */
#define SHMRING_EMSGSIZE     SHMRING__ERR(EMSGSIZE, 90)     /* message too large */
#define SHMRING_ENOTSUP      SHMRING__ERR(EOPNOTSUPP, 95)   /* not for this kind of ring */
#define SHMRING_ETIMEDOUT    SHMRING__ERR(ETIMEDOUT, 110)   /* timed out */
#define SHMRING_EOWNERDEAD   SHMRING__ERR(EOWNERDEAD, 130)  /* a writer died mid-write */

#define SHMRING_DEFAULT_SIZE 4096u        /* total bytes of a mapping created with size 0 */
#define SHMRING_HEADER_SIZE  512u         /* bytes of the mapping taken by the header */
#define SHMRING_NAME_MAX     200u         /* longest valid name */
#define SHMRING_MAX_SIZE     (1ULL << 32) /* largest mapping (4 GiB) */

typedef struct shmring shmring; /* opaque per-process handle */

enum { SHMRING_PRODUCER = 1, SHMRING_CONSUMER = 2, SHMRING_OBSERVER = 3 };

enum {
    SHMRING_CREATE = 1,    /* create the name if it does not exist */
    SHMRING_EXCL = 2,      /* with CREATE: fail with -EEXIST if it exists */
    SHMRING_PERSIST = 4,   /* creator only: keep the name (and its messages) until shmring_unlink */
    SHMRING_ANY_OWNER = 8, /* allow attaching to a mapping owned by another user */
    SHMRING_MULTI_PRODUCER = 16 /* creator only: many producers, one consumer */
};

/* Options of shmring_open. Zero-initialise it (`struct shmring_opts o = {0};`): fields added in
 * later versions take the place of reserved words, whose zero keeps the old behaviour. */
struct shmring_opts {
    size_t size;            /* total mapping bytes when creating; a page multiple; 0 = 4096, or with
                             * SHMRING_MULTI_PRODUCER the header (640 + 128 per producer) + 4096 */
    unsigned mode;          /* permission bits when creating; 0 = 0600 */
    unsigned flags;         /* SHMRING_CREATE | _EXCL | _PERSIST | _ANY_OWNER | _MULTI_PRODUCER */
    unsigned max_producers; /* with SHMRING_MULTI_PRODUCER: producer slots 1-1024, 0 = 64;
                             * else 0. Up to that many producers may have the ring open at
                             * once (one more: -EBUSY). See docs/mpsc.md. */
    unsigned reserved[7];   /* must be 0 (-EINVAL otherwise) */
};

/* Opens (and with SHMRING_CREATE creates) the ring called `name` in the given role.
 * name: 1-200 characters of [A-Za-z0-9._-], not "." or ".."; it is the object "/<name>"
 * (/dev/shm/<name> on Linux). opts NULL means {0, 0, SHMRING_CREATE}.
 * Any number of processes may open one name at once; exactly one initialises it. If every process
 * that had it open has died, the next open starts it afresh (unless it was created persistent).
 * Errors: -EINVAL bad name, role, size or flags, or a size different from the existing mapping;
 * -ENOENT no such ring and no SHMRING_CREATE; -EEXIST SHMRING_EXCL and it exists;
 * -EACCES permissions, owned by another user without SHMRING_ANY_OWNER, or the name is a
 * symlink (never followed); -EPROTO not a shmring mapping, or another layout version;
 * -EBUSY the role is held by a live process;
 * -ETIMEDOUT another process kept the name locked for too long; -ENOMEM and other errno
 * values from the system. On success *out is a handle to pass to shmring_close. */
SHMRING_API int shmring_open(const char *name, int role, const struct shmring_opts *opts,
                             shmring **out);

/* Detaches and frees the handle (NULL is a no-op). A producer's close lets the consumer drain
 * what was committed and then see -EPIPE. The last process to detach removes the name unless it
 * is persistent. Returns 0. */
SHMRING_API int shmring_close(shmring *r);

/* Removes the name. Processes that have it open keep using their mapping; the next open creates
 * a new ring. Errors: -EINVAL bad name, -ENOENT, -EACCES. */
SHMRING_API int shmring_unlink(const char *name);

/* Producer: copies one message of len bytes (0 allowed) into the ring. Never blocks.
 * Errors: -EAGAIN full (try later); -EMSGSIZE len > shmring_max_msg(); -EPERM not the producer;
 * -EINVAL NULL msg with len > 0, or a reservation is open; -EPROTO the shared indices are
 * corrupt; -EPIPE the consumer closed or died and nothing more will be read (only reported when
 * the ring is full). */
SHMRING_API int shmring_send(shmring *r, const void *msg, size_t len);

/* Consumer: copies the oldest message into buf and removes it. Never blocks. Returns its length.
 * Errors: -EAGAIN empty; -EMSGSIZE cap is smaller than the message (it stays in the ring; see
 * shmring_peek for its length); -EPIPE empty and the producer closed or died;
 * -EPERM not the consumer; -EINVAL NULL buf with cap > 0, or a peeked message is not released;
 * -EBADMSG a record in the ring is malformed; -EPROTO the shared indices are corrupt. */
SHMRING_API shmring_ssize shmring_recv(shmring *r, void *buf, size_t cap);

/* Producer, zero-copy: reserves room for a message of up to len bytes and points *slot at it
 * (8-byte aligned, contiguous). Write the bytes, then shmring_commit. Errors as shmring_send;
 * -EINVAL if a reservation is already open. */
SHMRING_API int shmring_reserve(shmring *r, size_t len, void **slot);

/* Producer: publishes the reserved message with its final length (len <= the reserved length).
 * Errors: -EINVAL no open reservation or len too large; -EPERM not the producer. */
SHMRING_API int shmring_commit(shmring *r, size_t len);

/* Producer: drops an open reservation without sending anything. -EINVAL if none is open. */
SHMRING_API int shmring_abort(shmring *r);

/* Consumer, zero-copy: points *msg at the oldest message without removing it and returns its
 * length. The same message is returned until shmring_release. Errors as shmring_recv. */
SHMRING_API shmring_ssize shmring_peek(shmring *r, const void **msg);

/* Consumer: removes the message returned by shmring_peek. -EINVAL if none is peeked. */
SHMRING_API int shmring_release(shmring *r);

/* Producer: sends msgs[0..n) in order until one does not fit; returns how many were sent
 * (0 when the first does not fit). Publishes once for the whole batch.
 * Errors: -EMSGSIZE only when msgs[0] is larger than shmring_max_msg (a later oversized message
 * ends the batch before it); -EPERM; -EINVAL; -EPROTO; -EPIPE as shmring_send. */
SHMRING_API int shmring_send_batch(shmring *r, const struct shmring_buf *msgs, size_t n);

/* Called by shmring_drain for each message; msg is valid only during the call. A non-zero
 * return stops the drain after this message (which counts as consumed). */
typedef int (*shmring_handler)(void *ctx, const void *msg, size_t len);

/* Consumer: hands up to max messages (0 = no limit) to fn in order; returns how many were
 * consumed (0 when empty). Publishes once for the whole batch.
 * Errors (only when nothing was consumed): -EAGAIN is never returned (0 means empty);
 * -EPIPE empty and the producer is gone; -EPERM; -EINVAL; -EBADMSG; -EPROTO. */
SHMRING_API int shmring_drain(shmring *r, shmring_handler fn, void *ctx, size_t max);

/* Blocking forms. timeout_ns < 0: wait forever; 0: try once (like the non-blocking call);
 * > 0: wait at most that long, then -ETIMEDOUT. The waiter spins briefly, then sleeps in the
 * kernel; the peer wakes it with a system call only when it has said that it sleeps.
 * -EPIPE: the peer closed or died (reported within about 100 ms of its death); a peer that has
 * never attached is waited for. -EINTR: a signal interrupted the wait. */
SHMRING_API int shmring_send_wait(shmring *r, const void *msg, size_t len, int64_t timeout_ns);
SHMRING_API shmring_ssize shmring_recv_wait(shmring *r, void *buf, size_t cap, int64_t timeout_ns);
SHMRING_API int shmring_reserve_wait(shmring *r, size_t len, void **slot, int64_t timeout_ns);
SHMRING_API shmring_ssize shmring_peek_wait(shmring *r, const void **msg, int64_t timeout_ns);

/* Largest message that always fits an empty ring, wherever the ring's position is. */
SHMRING_API size_t shmring_max_msg(const shmring *r);

/* Bytes of the ring's data area (mapping size minus the 512-byte header). */
SHMRING_API size_t shmring_capacity(const shmring *r);

struct shmring_stats {
    uint64_t sent_msgs, sent_bytes, recv_msgs, recv_bytes;
    uint64_t full_events, empty_events; /* a send found the ring full / a recv found it empty */
    uint64_t producer_sleeps, consumer_sleeps, wakeups;
    int32_t producer_pid, consumer_pid; /* 0 when that role is free (or its holder died) */
    uint64_t size, capacity, max_msg;   /* mapping bytes, data-area bytes, largest message */
    uint64_t head, tail, used_bytes;    /* consumer/producer positions, tail - head */
    uint32_t flags;                     /* SHMRING_PERSIST, SHMRING_MULTI_PRODUCER */
    uint32_t kind;                      /* SHMRING_KIND_* */
    uint32_t producers;                 /* live producers */
    uint32_t max_producers;             /* 1 on a single-producer ring */
    uint64_t generation;                /* bumped each time the name is (re)initialised */
    uint64_t reserved[13];              /* 0; later versions may fill them */
};

/* What a mapping holds (shmring_stats().kind). */
enum { SHMRING_KIND_SPSC = 1, SHMRING_KIND_MPSC = 2, SHMRING_KIND_LEGACY = 3 };

/* Any role: reads the ring's counters and state. The counters are updated by each side without
 * atomic read-modify-write, so a snapshot may be a few messages behind. Errors: -EINVAL. */
SHMRING_API int shmring_stats(shmring *r, struct shmring_stats *out);

/* One live producer (shmring_producers). */
struct shmring_producer_info {
    int32_t pid;   /* as the producer recorded it (the kernel lock says it is alive) */
    uint32_t slot; /* its producer slot (0 on a single-producer ring) */
    uint64_t sent_msgs, sent_bytes; /* sent through this slot, by it and earlier holders */
    uint64_t reserved[4];
};

/* Any role: the live producers of the ring. Fills out[0..min(n, cap)) and returns n, the number
 * of live producers (call again with a larger array if n > cap). A single-producer ring has at
 * most one. Makes one system call per producer slot. Errors: -EINVAL. */
SHMRING_API int shmring_producers(shmring *r, struct shmring_producer_info *out, size_t cap);

/* The role the handle was opened with, and the ring's name. */
SHMRING_API int shmring_role(const shmring *r);
SHMRING_API const char *shmring_name(const shmring *r);

/* A short, distinct description of a code returned by this library (negative or positive). */
SHMRING_API const char *shmring_strerror(int err);

/* The library's version string, e.g. "2.0.0" (SHMRING_VERSION_STRING of the build). */
SHMRING_API const char *shmring_version(void);

/* ---- Bookmark: a producer's progress mark that survives a crash --------------------------- */

/* Producer: the next publish (shmring_send, shmring_commit, shmring_send_batch, or their
 * blocking forms) also publishes bookmark `value`, atomically with the messages it makes
 * visible: a reader sees the new value only once those messages are readable, and a producer
 * that dies after this call but before that publish leaves the previous bookmark in force (its
 * successor does not publish the orphan). Calling it again before the publish replaces the
 * pending value. Costs a few stores to the producer's own cache line; no system call.
 * Meant for bridges and loaders that must know after a takeover what they already committed
 * (e.g. the last upstream sequence number). A persistent ring keeps the bookmark while it
 * exists; a ring initialised afresh (the name removed, or every user gone from a
 * non-persistent ring) has none. Errors: -EINVAL bad handle; -EPERM not the producer;
 * -EPROTO the shared indices are corrupt; -ENOTSUP a multi-producer ring (the bookmark and the
 * read-ahead below are single-producer features; every role gets -ENOTSUP there). */
SHMRING_API int shmring_set_bookmark(shmring *r, uint64_t value);

/* Any role: the bookmark in force, i.e. the value given to the last shmring_set_bookmark that
 * was followed by a publish. Never blocks. Errors: -ENOENT no bookmark was ever published on
 * this ring; -EINVAL bad handle or NULL value; -EAGAIN the producer rewrote the slots 1000
 * times while we read (try again); -ENOTSUP a multi-producer ring. */
SHMRING_API int shmring_get_bookmark(shmring *r, uint64_t *value);

/* ---- Consumer read-ahead: look at many messages, release them later ----------------------- */

/* Consumer: points *msg at the message after the ones already read ahead (the oldest unreleased
 * message on the first call), without releasing anything, and sets *pos to its position (the
 * free-running byte offset of its record since the ring was initialised: increasing, and the
 * same for the same message after a consumer restart). Returns its length. The messages stay
 * valid and in the ring, for this or a later consumer, until shmring_release_n; while any is
 * read ahead, shmring_recv, shmring_peek, shmring_release and shmring_drain return -EINVAL.
 * A message peeked with shmring_peek and not released is read again. Errors as shmring_peek:
 * -EAGAIN nothing more to read; -EPIPE nothing more and the producer is gone; -EPERM; -EINVAL;
 * -EBADMSG; -EPROTO; and -ENOTSUP on a multi-producer ring (so for the three calls below). */
SHMRING_API shmring_ssize shmring_peek_next(shmring *r, const void **msg, uint64_t *pos);

/* The blocking form of shmring_peek_next (timeouts as shmring_peek_wait). */
SHMRING_API shmring_ssize shmring_peek_next_wait(shmring *r, const void **msg, uint64_t *pos,
                                                 int64_t timeout_ns);

/* Consumer: releases the n oldest messages read ahead (n <= their count; 0 is a no-op) and
 * gives their room back to the producer. Errors: -EINVAL n too large; -EPERM; -EBADMSG or
 * -EPROTO the producer changed records that were read ahead; -ENOTSUP. */
SHMRING_API int shmring_release_n(shmring *r, size_t n);

/* Consumer: forgets the read-ahead without releasing anything: the next shmring_peek_next
 * returns the oldest unreleased message again (a sender that must re-send what it has not had
 * acknowledged starts over with it). Errors: -EINVAL; -EPERM; -ENOTSUP. */
SHMRING_API int shmring_rewind(shmring *r);

#ifdef __cplusplus
}
#endif

#endif /* SHMRING_H */
