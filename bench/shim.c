/* SPDX-License-Identifier: MIT */
/* shmring under test, driven only through its public header, as an application would: the
 * producer and consumer loops below are what a user writes around shmring_send/shmring_recv,
 * the zero-copy pair and the batch pair. Retry loops spin on -EAGAIN without pausing, like the
 * floor's, so both are measured the same way. */
#include <errno.h>
#include <shmring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#define BATCH 32 /* messages per shmring_send_batch call */

static int shm_open_side(struct bench_ep *e, int i, int role, unsigned flags, size_t map)
{
    struct shmring_opts o = {.size = map, .flags = flags};
    shmring *r;
    int err = shmring_open(e->name[i], role, &o, &r);
    if (err < 0) {
        snprintf(e->err, sizeof e->err, "shmring_open(%s): %s", e->name[i], shmring_strerror(err));
        return err;
    }
    e->h[role == SHMRING_PRODUCER ? 2 * i : 2 * i + 1] = r;
    return 0;
}

/* Ring 0 carries producer -> consumer (and pings); ring 1 carries the pongs. h[2i] is the
 * producer handle of ring i, h[2i+1] its consumer. The parent creates both rings before fork
 * so that the child's opens find them; the child's inherited handles are inert (the library
 * drops them in its fork handler) and it opens its own. */
static int shm_setup(struct bench_ep *e)
{
    /* Round trips always run on the default 4 KiB mapping. */
    size_t map = e->latency ? SHMRING_DEFAULT_SIZE : e->c.map;
    e->c.map = map;
    for (int i = 0; i < 1 + e->latency; i++) {
        snprintf(e->name[i], sizeof e->name[i], "shmring-bench-%llx-%d", (unsigned long long)e->id,
                 i);
        shmring_unlink(e->name[i]); /* a leftover of a killed run */
    }
    int err = shm_open_side(e, 0, SHMRING_PRODUCER, SHMRING_CREATE | SHMRING_EXCL, map);
    if (err == 0 && e->latency) {
        err = shm_open_side(e, 1, SHMRING_CONSUMER, SHMRING_CREATE | SHMRING_EXCL, map);
    }
    if (err == 0 && e->c.transport == BENCH_SHMRING_BATCH) {
        size_t stride = (e->c.size + 63) & ~(size_t)63;
        e->batch = BATCH;
        e->bufs = aligned_alloc(64, stride * BATCH);
        e->iov = calloc(BATCH, sizeof *e->iov);
        if (e->bufs == NULL || e->iov == NULL) {
            return bench_fail(e, -ENOMEM, "batch buffers");
        }
        for (size_t i = 0; i < BATCH; i++) {
            memcpy(e->bufs + i * stride, e->tmpl, e->c.size);
            e->iov[i].base = e->bufs + i * stride;
            e->iov[i].len = e->c.size;
        }
    }
    return err;
}

static int shm_open(struct bench_ep *e, int child)
{
    if (!child) {
        return 0;
    }
    int err = shm_open_side(e, 0, SHMRING_CONSUMER, 0, e->c.map);
    if (err == 0 && e->latency) {
        err = shm_open_side(e, 1, SHMRING_PRODUCER, 0, e->c.map);
    }
    return err;
}

static void shm_close(struct bench_ep *e, int child)
{
    (void)child;
    for (int i = 0; i < 4; i++) {
        shmring_close(e->h[i]); /* the last one to detach removes the name */
        e->h[i] = NULL;
    }
}

static uint64_t shm_sleeps(struct bench_ep *e)
{
    struct shmring_stats a, b;
    if (shmring_stats(e->h[0], &a) < 0 || shmring_stats(e->h[3], &b) < 0) {
        return 0;
    }
    return a.consumer_sleeps + a.producer_sleeps + b.consumer_sleeps + b.producer_sleeps;
}

static int shm_fail(struct bench_ep *e, int err, const char *call)
{
    snprintf(e->err, sizeof e->err, "%s: %s", call, shmring_strerror(err));
    return err;
}

/* ---- copy API ------------------------------------------------------------------------------ */

static int send_one(struct bench_ep *e, shmring *r, uint64_t seq)
{
    bench_stamp(e->buf, e->c.size, seq);
    int err;
    if (e->c.sleeping) {
        err = shmring_send_wait(r, e->buf, e->c.size, -1);
    } else {
        while ((err = shmring_send(r, e->buf, e->c.size)) == -EAGAIN) {
            e->polls++;
            if (bench_stop) {
                return bench_fail(e, -ETIMEDOUT, "shmring_send");
            }
        }
    }
    return err < 0 ? shm_fail(e, err, "shmring_send") : 0;
}

static int recv_one(struct bench_ep *e, shmring *r, uint64_t seq)
{
    ssize_t n;
    if (e->c.sleeping) {
        n = shmring_recv_wait(r, e->buf, e->c.size, -1);
    } else {
        while ((n = shmring_recv(r, e->buf, e->c.size)) == -EAGAIN) {
            e->polls++;
            if (bench_stop) {
                return bench_fail(e, -ETIMEDOUT, "shmring_recv");
            }
        }
    }
    if (n < 0) {
        return shm_fail(e, (int)n, "shmring_recv");
    }
    if ((size_t)n != e->c.size || !bench_check(e->buf, e->c.size, seq)) {
        return bench_bad(e, e->buf, (size_t)n, seq);
    }
    return 0;
}

static int copy_produce(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    shmring *r = e->h[0];
    for (uint64_t i = 0; i < n; i++) {
        int err = send_one(e, r, seq + i);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static int copy_consume(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    shmring *r = e->h[1];
    for (uint64_t i = 0; i < n; i++) {
        int err = recv_one(e, r, seq + i);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

static int copy_ping(struct bench_ep *e, uint64_t seq)
{
    int err = send_one(e, e->h[0], seq);
    return err < 0 ? err : recv_one(e, e->h[3], seq);
}

static int copy_echo(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        int err = recv_one(e, e->h[1], seq + i);
        if (err == 0) {
            err = send_one(e, e->h[2], seq + i);
        }
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

const struct bench_ops bench_shmring_copy_ops = {
    shm_setup, shm_open, copy_produce, copy_consume, copy_ping, copy_echo, shm_sleeps, shm_close,
};

/* ---- zero-copy API ------------------------------------------------------------------------- */

/* The producer builds each message in place (the template body, then its sequence numbers) and
 * the consumer reads every byte of it in place: the same bytes move as with the copy API, minus
 * the private buffers on either side. */
static int zc_produce(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    shmring *r = e->h[0];
    size_t size = e->c.size;
    for (uint64_t i = 0; i < n; i++) {
        void *slot;
        int err;
        while ((err = shmring_reserve(r, size, &slot)) == -EAGAIN) {
            e->polls++;
            if (bench_stop) {
                return bench_fail(e, -ETIMEDOUT, "shmring_reserve");
            }
        }
        if (err < 0) {
            return shm_fail(e, err, "shmring_reserve");
        }
        memcpy(slot, e->tmpl, size);
        bench_stamp(slot, size, seq + i);
        if ((err = shmring_commit(r, size)) < 0) {
            return shm_fail(e, err, "shmring_commit");
        }
    }
    return 0;
}

static int zc_consume(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    shmring *r = e->h[1];
    for (uint64_t i = 0; i < n; i++) {
        const void *msg;
        ssize_t len;
        while ((len = shmring_peek(r, &msg)) == -EAGAIN) {
            e->polls++;
            if (bench_stop) {
                return bench_fail(e, -ETIMEDOUT, "shmring_peek");
            }
        }
        if (len < 0) {
            return shm_fail(e, (int)len, "shmring_peek");
        }
        if ((size_t)len != e->c.size || !bench_check_all(e, msg, seq + i)) {
            return bench_bad(e, msg, (size_t)len, seq + i);
        }
        int err = shmring_release(r);
        if (err < 0) {
            return shm_fail(e, err, "shmring_release");
        }
    }
    return 0;
}

const struct bench_ops bench_shmring_zc_ops = {
    shm_setup, shm_open, zc_produce, zc_consume, NULL, NULL, NULL, shm_close,
};

/* ---- batch API ----------------------------------------------------------------------------- */

static int batch_produce(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    shmring *r = e->h[0];
    for (uint64_t i = 0; i < n;) {
        size_t k = n - i < e->batch ? (size_t)(n - i) : e->batch;
        for (size_t j = 0; j < k; j++) {
            bench_stamp(e->bufs + j * ((e->c.size + 63) & ~(size_t)63), e->c.size, seq + i + j);
        }
        for (size_t off = 0; off < k;) {
            int sent = shmring_send_batch(r, e->iov + off, k - off);
            if (sent < 0) {
                return shm_fail(e, sent, "shmring_send_batch");
            }
            e->polls += sent == 0;
            if (sent == 0 && bench_stop) {
                return bench_fail(e, -ETIMEDOUT, "shmring_send_batch");
            }
            off += (size_t)sent;
        }
        i += k;
    }
    return 0;
}

/* The drain handler copies each message out, as shmring_recv would, and checks it. */
static int batch_handler(void *ctx, const void *msg, size_t len)
{
    struct bench_ep *e = ctx;
    if (len != e->c.size) {
        e->bad = 1;
        bench_bad(e, msg, len, e->expect);
        return 1;
    }
    memcpy(e->buf, msg, len);
    if (!bench_check(e->buf, len, e->expect)) {
        e->bad = 1;
        bench_bad(e, e->buf, len, e->expect);
        return 1;
    }
    e->expect++;
    return 0;
}

static int batch_consume(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    shmring *r = e->h[1];
    e->expect = seq;
    while (e->expect < seq + n) {
        int got = shmring_drain(r, batch_handler, e, (size_t)(seq + n - e->expect));
        if (e->bad) {
            return -EBADMSG;
        }
        if (got < 0) {
            return shm_fail(e, got, "shmring_drain");
        }
        e->polls += got == 0;
        if (got == 0 && bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "shmring_drain");
        }
    }
    return 0;
}

const struct bench_ops bench_shmring_batch_ops = {
    shm_setup, shm_open, batch_produce, batch_consume, NULL, NULL, NULL, shm_close,
};
