/* SPDX-License-Identifier: MIT */
/* The floor: the practical limit the shmring numbers are held against.
 *
 * A deliberately minimal SPSC ring of fixed-size slots: no record header, no length, no
 * validation, no statistics, no wake-up flag, no liveness. But the fastest simple design: the
 * producer's and the consumer's index each on its own 128-byte line pair, each side caching the
 * other's index and re-reading it only when its cache says full/empty, one release store per
 * message. It has the same total size as the shmring mapping it is compared with (its 256
 * bytes of index lines included) and it moves the same bytes: the producer copies each message
 * from its buffer into a slot, the consumer copies it out and checks its sequence numbers.
 *
 * The cache-line ping-pong is the least a round trip between two processes can cost: one word
 * written by one side and awaited by the other, and back. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* shm_open, mq_*, MSG_DONTWAIT */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "floor.h"
#include "shim.h"

/* A shared mapping like shmring's (a POSIX shared-memory object, unlinked at once: the child
 * inherits the mapping across fork). */
static int map_shared(struct bench_ep *e, size_t len)
{
    char name[96];
    snprintf(name, sizeof name, "/shmring-bench-floor-%llx", (unsigned long long)e->id);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        return bench_fail(e, -errno, "shm_open");
    }
    shm_unlink(name);
    int err = ftruncate(fd, (off_t)len) == 0 ? 0 : -errno;
    void *mem = err == 0 ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;
    if (err == 0 && mem == MAP_FAILED) {
        err = -errno;
    }
    close(fd);
    if (err < 0) {
        return bench_fail(e, err, "mapping the floor");
    }
    e->h[0] = mem;
    e->mem_len = len;
    return 0;
}

static void floor_close(struct bench_ep *e, int child)
{
    (void)child;
    if (e->h[0] != NULL) {
        munmap(e->h[0], e->mem_len);
        e->h[0] = NULL;
    }
}

/* ---- the floor ring ------------------------------------------------------------------------ */

/* Views live in the process that uses them (each process fills its own after fork). */
static struct floor_side fl_a, fl_b;

static int floor_setup(struct bench_ep *e)
{
    size_t map = e->latency ? 4096 : e->c.map; /* round trips: like shmring's default rings */
    e->c.map = map;
    return map_shared(e, e->latency ? 2 * map : map);
}

static int floor_open(struct bench_ep *e, int child)
{
    (void)child;
    unsigned char *mem = e->h[0];
    floor_view(&fl_a, mem, e->c.map, e->c.size);
    if (e->latency) {
        floor_view(&fl_b, mem + e->c.map, e->c.map, e->c.size);
    }
    return 0;
}

static int fl_send(struct bench_ep *e, struct floor_side *s, uint64_t seq)
{
    bench_stamp(e->buf, e->c.size, seq);
    while (floor_send(s, e->buf) != 0) {
        e->polls++;
        if (bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "floor send");
        }
    }
    return 0;
}

static int fl_recv(struct bench_ep *e, struct floor_side *s, uint64_t seq)
{
    while (floor_recv(s, e->buf) != 0) {
        e->polls++;
        if (bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "floor recv");
        }
    }
    return bench_check(e->buf, e->c.size, seq) ? 0 : bench_bad(e, e->buf, e->c.size, seq);
}

static int floor_produce(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = fl_send(e, &fl_a, seq + i);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static int floor_consume(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = fl_recv(e, &fl_a, seq + i);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

/* Round trips over two floor rings: pings on the first, pongs on the second. */
static int floor_ping(struct bench_ep *e, uint64_t seq)
{
    int err = fl_send(e, &fl_a, seq);
    return err < 0 ? err : fl_recv(e, &fl_b, seq);
}

static int floor_echo(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = fl_recv(e, &fl_a, seq + i);
        if (err == 0) {
            err = fl_send(e, &fl_b, seq + i);
        }
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

const struct bench_ops bench_floor_ops = {
    floor_setup, floor_open, floor_produce, floor_consume,
    floor_ping,  floor_echo, NULL,          floor_close,
};

/* ---- the cache-line ping-pong -------------------------------------------------------------- */

/* One word: the initiator writes 2k+1, the echo answers 2k+2. */
static int line_setup(struct bench_ep *e)
{
    return map_shared(e, 4096);
}

static int line_ping(struct bench_ep *e, uint64_t seq)
{
    _Atomic uint64_t *w = e->h[0];
    uint64_t v = 2 * seq + 1;
    /* Pairs with the echo's acquire load. */
    atomic_store_explicit(w, v, memory_order_release);
    /* Pairs with the echo's release store. */
    while (atomic_load_explicit(w, memory_order_acquire) != v + 1) {
        if (bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "cache-line ping");
        }
    }
    return 0;
}

static int line_echo(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    _Atomic uint64_t *w = e->h[0];
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = 2 * (seq + i) + 1;
        uint64_t got;
        while ((got = atomic_load_explicit(w, memory_order_acquire)) != v) {
            if (got > v + 1 || bench_stop) {
                return bench_fail(e, got > v + 1 ? -EBADMSG : -ETIMEDOUT, "cache-line echo");
            }
        }
        atomic_store_explicit(w, v + 1, memory_order_release);
    }
    return 0;
}

const struct bench_ops bench_cacheline_ops = {
    line_setup, NULL, NULL, NULL, line_ping, line_echo, NULL, floor_close,
};
