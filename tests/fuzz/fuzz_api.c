/* SPDX-License-Identifier: MIT */
/* Fuzz target (b): a random sequence of public API calls on a valid ring, checked against a
 * model.
 *
 * One process opens a fresh named ring as observer (which keeps the name alive), producer and
 * consumer, then runs the calls the input describes: send, reserve/commit/abort, send_batch,
 * recv, peek/release, drain, the blocking forms with a zero or tiny timeout, closing and
 * reopening either side, misuse (wrong role, NULL arguments), stats. The model is a FIFO of
 * committed messages plus the producer's position arithmetic (record size, padding at the end of
 * the data area), so every result is predicted exactly:
 *  - what is received is exactly what was committed, in order, byte for byte;
 *  - SHMRING_EAGAIN (full) happens exactly when the model's free room, computed from the consumer's
 *    published head with the same record/padding arithmetic, is too small; SHMRING_EPIPE exactly
 * when the ring is full (producer) or empty (consumer) and the other side is closed;
 *  - SHMRING_EMSGSIZE, SHMRING_EINVAL and SHMRING_EPERM exactly where the API documents them;
 *  - the reserved slot, the record headers and the shared tail/head are where the model says.
 *
 * Input: byte 0 picks the size (4096 or 8192 bytes), byte 1 the start position (positions are
 * free-running 64-bit counts, so a ring may start anywhere, e.g. just below 2^63), then one
 * operation per byte (op % 16) with its arguments in the following bytes. */
#include <stdint.h>

#include "fuzz_obj.h"
#include "fuzz_util.h"
#include "handle.h"
#include "ring.h"
#include "shmring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QMAX     2048 /* more than the records a ring of 8192 bytes can hold (960) */
#define BUF_SIZE 8192
#define BATCH    8

enum { NEVER, ATTACHED, CLOSED };

struct qmsg {
    uint64_t pos; /* position of the record (after any padding) */
    uint64_t off; /* its offset in the data area */
    uint64_t len, seq;
};

struct model {
    uint64_t cap, max_msg;
    uint64_t tail;     /* the producer's next position, padding of an open reservation included */
    uint64_t widx;     /* tail's offset in the data area, kept incrementally as the library does */
    uint64_t pub_tail; /* the tail the consumer can see */
    int resv_open;
    uint64_t resv_len;
    uint8_t *resv_slot;
    struct qmsg q[QMAX];
    size_t qh, qn;
    uint64_t next_seq;
    uint64_t consumed_end; /* end of the last message removed by the consumer */
    int peeked;
    const void *peek_ptr;
    uint64_t sent_msgs, sent_bytes, recv_msgs, recv_bytes;
    int no_reopen; /* the positions start near 2^64; see open_ring() */
};

struct ctx {
    struct model m;
    shmring *obs, *prod, *cons;
    const char *name;
    uint8_t *data; /* the observer's view of the data area */
    struct fz_in in;
    uint8_t buf[BATCH][BUF_SIZE];
    uint8_t rbuf[BUF_SIZE + 64];
};

static struct ctx X; /* large; one input at a time */

static int prod_state(const struct ctx *x)
{
    return x->prod ? ATTACHED : CLOSED;
}

static int cons_state(const struct ctx *x)
{
    return x->cons ? ATTACHED : CLOSED;
}

static uint64_t shared_head(const struct ctx *x)
{
    return atomic_load_explicit(&x->obs->hdr->head, memory_order_relaxed);
}

static uint64_t shared_tail(const struct ctx *x)
{
    return atomic_load_explicit(&x->obs->hdr->tail, memory_order_relaxed);
}

static struct qmsg *front(struct model *m)
{
    return m->qn ? &m->q[m->qh] : NULL;
}

static void pop(struct model *m)
{
    struct qmsg *f = front(m);
    m->consumed_end = f->pos + shmring__rec_size(f->len);
    m->recv_msgs++;
    m->recv_bytes += f->len;
    m->qh = (m->qh + 1) % QMAX;
    m->qn--;
}

/* ---- the model's producer ---------------------------------------------------------------- */

/* The result the library must give for reserving len bytes, and the padding it writes first. */
static int expect_reserve(const struct ctx *x, uint64_t len, uint64_t *pad)
{
    const struct model *m = &x->m;
    if (len > m->max_msg) {
        return SHMRING_EMSGSIZE;
    }
    uint64_t need = shmring__rec_size(len);
    uint64_t to_end = m->cap - m->widx;
    uint64_t total = need <= to_end ? need : to_end + need;
    /* The room the consumer has given back is what it published, whatever the producer's cached
     * copy says: a cache that looks full is refreshed before SHMRING_EAGAIN. */
    if (m->cap - (m->tail - shared_head(x)) < total) {
        return SHMRING_EAGAIN;
    }
    *pad = need <= to_end ? 0 : to_end;
    return 0;
}

static void model_pad(struct model *m, uint64_t pad)
{
    if (pad) {
        m->tail += pad;
        m->widx = 0;
    }
}

static void model_commit(struct ctx *x, uint64_t len, uint64_t seq)
{
    struct model *m = &x->m;
    FZ_CHECK(m->qn < QMAX, "model queue overflow");
    /* The record header the library wrote, read through the observer's mapping. */
    struct shmring__rec rec;
    memcpy(&rec, x->data + m->widx, sizeof rec);
    FZ_CHECK(rec.tag == SHMRING__REC_MSG && rec.len == len, "record at %llu: tag %x len %u",
             (unsigned long long)m->widx, rec.tag, rec.len);
    FZ_CHECK(fz_verify(x->data + m->widx + SHMRING__REC_HDR, len, seq) == len,
             "payload of message %llu as written", (unsigned long long)seq);
    struct qmsg *q = &m->q[(m->qh + m->qn) % QMAX];
    q->pos = m->tail;
    q->off = m->widx;
    q->len = len;
    q->seq = seq;
    m->qn++;
    uint64_t size = shmring__rec_size(len);
    m->tail += size;
    m->widx += size;
    if (m->widx == m->cap) {
        m->widx = 0;
    }
    m->sent_msgs++;
    m->sent_bytes += len;
}

static void check_published_tail(const struct ctx *x)
{
    FZ_CHECK(shared_tail(x) == x->m.pub_tail, "shared tail %llu, model %llu",
             (unsigned long long)shared_tail(x), (unsigned long long)x->m.pub_tail);
}

static int full_result(const struct ctx *x, int e)
{
    return e == SHMRING_EAGAIN && cons_state(x) == CLOSED ? SHMRING_EPIPE : e;
}

/* ---- the model's consumer ---------------------------------------------------------------- */

static int empty_result(const struct ctx *x)
{
    return prod_state(x) == CLOSED ? SHMRING_EPIPE : SHMRING_EAGAIN;
}

static void check_message(const struct ctx *x, const struct qmsg *f, const void *msg, long len)
{
    (void)x;
    FZ_CHECK(len == (long)f->len, "message %llu: length %ld, model %llu",
             (unsigned long long)f->seq, len, (unsigned long long)f->len);
    uint64_t bad = fz_verify(msg, f->len, f->seq);
    FZ_CHECK(bad == f->len, "message %llu of %llu bytes differs at byte %llu",
             (unsigned long long)f->seq, (unsigned long long)f->len, (unsigned long long)bad);
}

static void check_pointer(const struct ctx *x, shmring *r, const struct qmsg *f, const void *msg)
{
    (void)x;
    const uint8_t *want =
        (const uint8_t *)r->seg.hdr + SHMRING_HEADER_SIZE + f->off + SHMRING__REC_HDR;
    FZ_CHECK(msg == want, "message %llu at %p, model %p", (unsigned long long)f->seq, msg,
             (const void *)want);
}

/* The published head after the consumer removed messages: exactly the end of the last one, or
 * (when the consumer also skipped a padding record) up to the next message or the tail. */
static void check_published_head(const struct ctx *x, int exact)
{
    const struct model *m = &x->m;
    uint64_t head = shared_head(x);
    FZ_CHECK(head % SHMRING__ALIGN == 0, "misaligned head %llu", (unsigned long long)head);
    if (exact) {
        FZ_CHECK(head == m->consumed_end, "shared head %llu, model %llu", (unsigned long long)head,
                 (unsigned long long)m->consumed_end);
        return;
    }
    uint64_t limit = m->qn ? m->q[m->qh].pos : m->pub_tail;
    FZ_CHECK(head - m->consumed_end <= limit - m->consumed_end,
             "shared head %llu outside [%llu, %llu]", (unsigned long long)head,
             (unsigned long long)m->consumed_end, (unsigned long long)limit);
}

/* ---- input helpers ----------------------------------------------------------------------- */

static uint64_t read_len(struct ctx *x)
{
    uint8_t b = fz_u8(&x->in);
    uint64_t max = x->m.max_msg;
    switch (b >> 6) {
    case 0:
        return b & 63;
    case 1:
        return ((b & 63) * 8 + fz_u8(&x->in) % 8) % (max + 1);
    case 2:
        return max - (b & 63);
    default:
        return b == 0xff ? (uint64_t)SIZE_MAX : max + 1 + (b & 63);
    }
}

/* ---- operations --------------------------------------------------------------------------- */

static void op_send(struct ctx *x, int wait)
{
    struct model *m = &x->m;
    uint64_t len = read_len(x);
    int64_t timeout = wait ? (fz_u8(&x->in) & 1) * 1000 : 0;
    if (!x->prod) {
        FZ_CHECK(shmring_send(NULL, x->buf[0], 0) == SHMRING_EINVAL, "send on NULL");
        return;
    }
    uint64_t seq = m->next_seq;
    if (len <= m->max_msg) {
        fz_fill(x->buf[0], len, seq);
    }
    uint64_t pad = 0;
    int want = m->resv_open ? SHMRING_EINVAL : full_result(x, expect_reserve(x, len, &pad));
    if (wait && timeout > 0 && want == SHMRING_EAGAIN) {
        want = SHMRING_ETIMEDOUT;
    }
    /* A zero-length message may come from a NULL pointer. */
    const void *src = len == 0 && (x->in.i & 1) ? NULL : x->buf[0];
    int got = wait ? shmring_send_wait(x->prod, src, (size_t)len, timeout)
                   : shmring_send(x->prod, src, (size_t)len);
    FZ_CHECK(got == want, "send(%llu): %d, model %d", (unsigned long long)len, got, want);
    if (got == 0) {
        m->next_seq++;
        model_pad(m, pad);
        model_commit(x, len, seq);
        m->pub_tail = m->tail;
    }
    check_published_tail(x);
}

static void op_reserve(struct ctx *x, int wait)
{
    struct model *m = &x->m;
    uint64_t len = read_len(x);
    int64_t timeout = wait ? (fz_u8(&x->in) & 1) * 1000 : 0;
    void *slot = NULL;
    if (!x->prod) {
        FZ_CHECK(shmring_reserve(NULL, 1, &slot) == SHMRING_EINVAL, "reserve on NULL");
        return;
    }
    uint64_t pad = 0;
    int want = m->resv_open ? SHMRING_EINVAL : full_result(x, expect_reserve(x, len, &pad));
    if (wait && timeout > 0 && want == SHMRING_EAGAIN) {
        want = SHMRING_ETIMEDOUT;
    }
    int got = wait ? shmring_reserve_wait(x->prod, (size_t)len, &slot, timeout)
                   : shmring_reserve(x->prod, (size_t)len, &slot);
    FZ_CHECK(got == want, "reserve(%llu): %d, model %d", (unsigned long long)len, got, want);
    if (got != 0) {
        return;
    }
    model_pad(m, pad);
    uint8_t *expect =
        (uint8_t *)x->prod->seg.hdr + SHMRING_HEADER_SIZE + m->widx + SHMRING__REC_HDR;
    FZ_CHECK(slot == expect, "slot at %p, model %p", slot, (void *)expect);
    FZ_CHECK((uintptr_t)slot % SHMRING__ALIGN == 0, "slot misaligned");
    memset(slot, 0xC3, (size_t)len); /* the whole reservation belongs to the caller */
    m->resv_open = 1;
    m->resv_len = len;
    m->resv_slot = slot;
    if (pad) {
        struct shmring__rec rec;
        memcpy(&rec, x->data + m->cap - pad, sizeof rec);
        FZ_CHECK(rec.tag == SHMRING__REC_PAD && rec.len == pad - SHMRING__REC_HDR,
                 "padding record: tag %x len %u", rec.tag, rec.len);
    }
    check_published_tail(x); /* nothing is visible before the commit */
}

static void op_commit(struct ctx *x)
{
    struct model *m = &x->m;
    uint8_t b = fz_u8(&x->in);
    if (!x->prod) {
        FZ_CHECK(shmring_commit(NULL, 0) == SHMRING_EINVAL, "commit on NULL");
        return;
    }
    uint64_t len = b == 0xff ? m->resv_len + 1 : b & 1 ? m->resv_len : b % (m->resv_len + 1);
    int want = (!m->resv_open || len > m->resv_len) ? SHMRING_EINVAL : 0;
    uint64_t seq = m->next_seq;
    if (want == 0) {
        fz_fill(m->resv_slot, len, seq);
    }
    int got = shmring_commit(x->prod, (size_t)len);
    FZ_CHECK(got == want, "commit(%llu): %d, model %d", (unsigned long long)len, got, want);
    if (got == 0) {
        m->next_seq++;
        model_commit(x, len, seq);
        m->pub_tail = m->tail;
        m->resv_open = 0;
    }
    check_published_tail(x);
}

static void op_abort(struct ctx *x)
{
    struct model *m = &x->m;
    if (!x->prod) {
        FZ_CHECK(shmring_abort(NULL) == SHMRING_EINVAL, "abort on NULL");
        return;
    }
    int want = m->resv_open ? 0 : SHMRING_EINVAL;
    int got = shmring_abort(x->prod);
    FZ_CHECK(got == want, "abort: %d, model %d", got, want);
    m->resv_open = 0; /* padding written by the reserve stays: the tail is already past it */
    check_published_tail(x);
}

static void op_batch(struct ctx *x)
{
    struct model *m = &x->m;
    struct shmring_buf iov[BATCH];
    size_t n = fz_u8(&x->in) % (BATCH + 1);
    uint64_t base_seq = m->next_seq;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = read_len(x);
        iov[i].len = (size_t)len;
        iov[i].base = len == 0 && (x->in.i & 1) ? NULL : x->buf[i]; /* NULL is fine for 0 */
        if (len <= m->max_msg) {
            fz_fill(x->buf[i], len, base_seq + i);
        }
    }
    if (n > 0 && (fz_u8(&x->in) & 15) == 0) {
        size_t k = fz_u8(&x->in) % n;
        if (iov[k].len == 0) {
            iov[k].len = 1;
        }
        iov[k].base = NULL; /* ends the batch there with SHMRING_EINVAL */
    }
    if (!x->prod) {
        FZ_CHECK(shmring_send_batch(NULL, iov, n) == SHMRING_EINVAL, "batch on NULL");
        return;
    }
    /* The model: reserve each in turn on a copy of the positions; stop at the first failure. */
    struct model saved = *m;
    int err = 0;
    size_t sent = 0;
    uint64_t pads[BATCH];
    if (m->resv_open) {
        err = SHMRING_EINVAL;
    } else {
        for (; sent < n; sent++) {
            if (iov[sent].base == NULL && iov[sent].len != 0) {
                err = SHMRING_EINVAL;
                break;
            }
            uint64_t pad = 0;
            err = expect_reserve(x, iov[sent].len, &pad);
            if (err != 0) {
                break;
            }
            pads[sent] = pad;
            /* Advance the model's positions as the library does (records land one by one). */
            model_pad(m, pad);
            uint64_t size = shmring__rec_size(iov[sent].len);
            m->tail += size;
            m->widx = (m->widx + size) % m->cap;
        }
    }
    *m = saved;
    int want = sent > 0                ? (int)sent
               : m->resv_open          ? SHMRING_EINVAL
               : err == SHMRING_EAGAIN ? (cons_state(x) == CLOSED ? SHMRING_EPIPE : 0)
                                       : err;
    int got = shmring_send_batch(x->prod, iov, n);
    FZ_CHECK(got == want, "send_batch(%zu): %d, model %d", n, got, want);
    for (int i = 0; i < got; i++) {
        model_pad(m, pads[i]);
        model_commit(x, iov[i].len, m->next_seq++);
    }
    if (got > 0) {
        m->pub_tail = m->tail;
    }
    check_published_tail(x);
}

static void op_recv(struct ctx *x, int wait)
{
    struct model *m = &x->m;
    uint8_t b = fz_u8(&x->in);
    int64_t timeout = wait ? (fz_u8(&x->in) & 1) * 1000 : 0;
    static const size_t caps[] = {0, 1, 7, 8, 15, 16, 17, 100};
    size_t cap = b < 128   ? caps[b % 8]
                 : b < 192 ? (size_t)m->max_msg
                 : b < 255 ? b * 13u
                           : BUF_SIZE;
    int null_buf = (b & 0x7f) == 0x7e || (cap == 0 && (b & 0x40)); /* NULL is fine for cap 0 */
    if (!x->cons) {
        FZ_CHECK(shmring_recv(NULL, x->rbuf, cap) == SHMRING_EINVAL, "recv on NULL");
        return;
    }
    struct qmsg *f = front(m);
    long want;
    if ((null_buf && cap > 0) || m->peeked) {
        want = SHMRING_EINVAL;
    } else if (!f) {
        want = empty_result(x);
        if (wait && timeout > 0 && want == SHMRING_EAGAIN) {
            want = SHMRING_ETIMEDOUT;
        }
    } else {
        want = f->len > cap ? SHMRING_EMSGSIZE : (long)f->len;
    }
    void *buf = null_buf ? NULL : x->rbuf;
    long got = wait ? (long)shmring_recv_wait(x->cons, buf, cap, timeout)
                    : (long)shmring_recv(x->cons, buf, cap);
    FZ_CHECK(got == want, "recv(cap %zu): %ld, model %ld (front %lld bytes)", cap, got, want,
             f ? (long long)f->len : -1LL);
    if (got >= 0) {
        check_message(x, f, null_buf ? NULL : x->rbuf, got);
        pop(m);
        check_published_head(x, 1);
    }
}

static void op_peek(struct ctx *x, int wait)
{
    struct model *m = &x->m;
    int64_t timeout = wait ? (fz_u8(&x->in) & 1) * 1000 : 0;
    const void *msg = NULL;
    if (!x->cons) {
        FZ_CHECK(shmring_peek(NULL, &msg) == SHMRING_EINVAL, "peek on NULL");
        return;
    }
    struct qmsg *f = front(m);
    long want = f ? (long)f->len : empty_result(x);
    if (!f && wait && timeout > 0 && want == SHMRING_EAGAIN) {
        want = SHMRING_ETIMEDOUT;
    }
    long got =
        wait ? (long)shmring_peek_wait(x->cons, &msg, timeout) : (long)shmring_peek(x->cons, &msg);
    FZ_CHECK(got == want, "peek: %ld, model %ld", got, want);
    if (got >= 0) {
        check_message(x, f, msg, got);
        check_pointer(x, x->cons, f, msg);
        FZ_CHECK(!m->peeked || msg == m->peek_ptr, "a second peek moved the message");
        m->peeked = 1;
        m->peek_ptr = msg;
    }
}

static void op_release(struct ctx *x)
{
    struct model *m = &x->m;
    if (!x->cons) {
        FZ_CHECK(shmring_release(NULL) == SHMRING_EINVAL, "release on NULL");
        return;
    }
    int want = m->peeked ? 0 : SHMRING_EINVAL;
    int got = shmring_release(x->cons);
    FZ_CHECK(got == want, "release: %d, model %d", got, want);
    if (got == 0) {
        pop(m);
        m->peeked = 0;
        check_published_head(x, 1);
    }
}

struct drain_ctx {
    struct ctx *x;
    unsigned stop_at, calls;
};

static int on_msg(void *arg, const void *msg, size_t len)
{
    struct drain_ctx *d = arg;
    struct model *m = &d->x->m;
    struct qmsg *f = front(m);
    FZ_CHECK(f != NULL, "drain handed a message the model does not have");
    check_message(d->x, f, msg, (long)len);
    check_pointer(d->x, d->x->cons, f, msg);
    pop(m);
    return ++d->calls == d->stop_at;
}

static void op_drain(struct ctx *x)
{
    struct model *m = &x->m;
    size_t max = fz_u8(&x->in) % 6;       /* 0 = no limit */
    unsigned stop_at = fz_u8(&x->in) % 8; /* 0 = never stop */
    if (!x->cons) {
        FZ_CHECK(shmring_drain(NULL, on_msg, NULL, 0) == SHMRING_EINVAL, "drain on NULL");
        return;
    }
    size_t avail = m->qn;
    size_t n = max == 0 || max > avail ? avail : max;
    if (stop_at != 0 && stop_at < n) {
        n = stop_at;
    }
    int want = m->peeked ? SHMRING_EINVAL : n > 0 ? (int)n : (avail == 0 ? empty_result(x) : 0);
    if (want == SHMRING_EAGAIN) {
        want = 0;
    }
    struct drain_ctx d = {x, stop_at, 0};
    int got = shmring_drain(x->cons, on_msg, &d, max);
    FZ_CHECK(got == want, "drain(max %zu, stop %u): %d, model %d", max, stop_at, got, want);
    FZ_CHECK(got < 0 || d.calls == (unsigned)got, "drain returned %d after %u calls", got, d.calls);
    check_published_head(x, 0);
}

static shmring *open_role(struct ctx *x, int role)
{
    struct shmring_opts opts = {0};
    shmring *r = NULL;
    int rc = shmring_open(x->name, role, &opts, &r);
    FZ_CHECK(rc == 0, "reopen role %d: %d", role, rc);
    return r;
}

static void op_restart_producer(struct ctx *x)
{
    struct model *m = &x->m;
    if (m->no_reopen) {
        return;
    }
    if (x->prod) {
        FZ_CHECK(shmring_close(x->prod) == 0, "close producer");
        x->prod = NULL;
        /* An open reservation and its padding were never published: they are gone. */
        m->resv_open = 0;
        m->tail = m->pub_tail;
        FZ_CHECK(atomic_load_explicit(&x->obs->hdr->producer_state, memory_order_relaxed) ==
                     SHMRING__PEER_CLOSED,
                 "producer state after close");
    } else {
        x->prod = open_role(x, SHMRING_PRODUCER);
        m->tail = m->pub_tail;
        m->widx = m->pub_tail % m->cap;
    }
    check_published_tail(x);
}

static void op_restart_consumer(struct ctx *x)
{
    struct model *m = &x->m;
    if (m->no_reopen) {
        return;
    }
    if (x->cons) {
        FZ_CHECK(shmring_close(x->cons) == 0, "close consumer");
        x->cons = NULL;
        m->peeked = 0; /* a peeked message stays in the ring for the next consumer */
    } else {
        x->cons = open_role(x, SHMRING_CONSUMER);
    }
    check_published_head(x, 0);
}

static void check_stats(struct ctx *x)
{
    struct model *m = &x->m;
    struct shmring_stats st;
    FZ_CHECK(shmring_stats(x->obs, &st) == 0, "stats");
    FZ_CHECK(st.sent_msgs == m->sent_msgs && st.sent_bytes == m->sent_bytes,
             "sent %llu/%llu, model %llu/%llu", (unsigned long long)st.sent_msgs,
             (unsigned long long)st.sent_bytes, (unsigned long long)m->sent_msgs,
             (unsigned long long)m->sent_bytes);
    FZ_CHECK(st.recv_msgs == m->recv_msgs && st.recv_bytes == m->recv_bytes,
             "received %llu/%llu, model %llu/%llu", (unsigned long long)st.recv_msgs,
             (unsigned long long)st.recv_bytes, (unsigned long long)m->recv_msgs,
             (unsigned long long)m->recv_bytes);
    FZ_CHECK(st.tail == m->pub_tail, "stats tail");
    FZ_CHECK(st.capacity == m->cap && st.max_msg == m->max_msg, "stats sizes");
    FZ_CHECK(st.producer_pid == (x->prod ? getpid() : 0), "producer pid %d", st.producer_pid);
    FZ_CHECK(st.consumer_pid == (x->cons ? getpid() : 0), "consumer pid %d", st.consumer_pid);
    FZ_CHECK(st.used_bytes == st.tail - st.head, "used bytes");
}

static void op_misuse(struct ctx *x)
{
    uint8_t b = fz_u8(&x->in);
    const void *msg;
    void *slot;
    struct shmring_buf iov = {NULL, 0};
    switch (b % 8) {
    case 0: /* producer calls on the consumer and the observer */
        if (x->cons) {
            FZ_CHECK(shmring_send(x->cons, "x", 1) == SHMRING_EPERM, "send as consumer");
            FZ_CHECK(shmring_commit(x->cons, 0) == SHMRING_EPERM, "commit as consumer");
        }
        FZ_CHECK(shmring_send_batch(x->obs, &iov, 1) == SHMRING_EPERM, "batch as observer");
        FZ_CHECK(shmring_reserve(x->obs, 1, &slot) == SHMRING_EPERM, "reserve as observer");
        break;
    case 1: /* consumer calls on the producer and the observer */
        if (x->prod) {
            FZ_CHECK(shmring_recv(x->prod, x->rbuf, 1) == SHMRING_EPERM, "recv as producer");
            FZ_CHECK(shmring_release(x->prod) == SHMRING_EPERM, "release as producer");
        }
        FZ_CHECK(shmring_peek(x->obs, &msg) == SHMRING_EPERM, "peek as observer");
        FZ_CHECK(shmring_drain(x->obs, on_msg, NULL, 0) == SHMRING_EPERM, "drain as observer");
        break;
    case 2:
        if (x->prod) {
            FZ_CHECK(shmring_reserve(x->prod, 1, NULL) == SHMRING_EINVAL, "reserve NULL slot");
            FZ_CHECK(shmring_send(x->prod, NULL, 1) == SHMRING_EINVAL, "send NULL");
            FZ_CHECK(shmring_send_batch(x->prod, NULL, 1) == SHMRING_EINVAL, "batch NULL");
        }
        break;
    case 3:
        if (x->cons) {
            FZ_CHECK(shmring_peek(x->cons, NULL) == SHMRING_EINVAL, "peek NULL");
            FZ_CHECK(shmring_drain(x->cons, NULL, NULL, 0) == SHMRING_EINVAL, "drain NULL");
            if (!x->m.peeked) {
                FZ_CHECK(shmring_recv(x->cons, NULL, 1) == SHMRING_EINVAL, "recv NULL");
            }
        }
        break;
    case 4:
        FZ_CHECK(shmring_max_msg(x->obs) == x->m.max_msg, "max_msg");
        FZ_CHECK(shmring_capacity(x->obs) == x->m.cap, "capacity");
        FZ_CHECK(shmring_role(x->obs) == SHMRING_OBSERVER, "role");
        FZ_CHECK(strcmp(shmring_name(x->obs), x->name) == 0, "name");
        break;
    case 5: {
        /* A second producer or consumer while the role is held: SHMRING_EBUSY. */
        shmring *r = NULL;
        struct shmring_opts opts = {0};
        if (x->prod) {
            FZ_CHECK(shmring_open(x->name, SHMRING_PRODUCER, &opts, &r) == SHMRING_EBUSY,
                     "2nd producer");
        }
        if (x->cons) {
            FZ_CHECK(shmring_open(x->name, SHMRING_CONSUMER, &opts, &r) == SHMRING_EBUSY,
                     "2nd consumer");
        }
        break;
    }
    default:
        check_stats(x);
        break;
    }
}

/* ---- driver ------------------------------------------------------------------------------ */

static void open_ring(struct ctx *x, uint8_t sel, uint8_t posb)
{
    struct model *m = &x->m;
    memset(m, 0, sizeof *m);
    x->name = fz_name("api");
    shmring_unlink(x->name); /* left over from an earlier crash */
    struct shmring_opts opts = {.size = (sel & 1) ? 8192 : 4096,
                                .flags = SHMRING_CREATE | SHMRING_EXCL};
    int rc = shmring_open(x->name, SHMRING_OBSERVER, &opts, &x->obs);
    FZ_CHECK(rc == 0, "create %s: %d", x->name, rc);
    /* Nobody else is attached yet: the observer may place the (empty) ring anywhere. Start
     * positions near 2^64 make the 64-bit positions wrap during the run. The offsets are kept
     * incrementally, so a side that attaches after the wrap would compute its offset as
     * position % capacity and disagree with the other side (2^64 is not a multiple of the
     * capacity); the layout rules that out (2^64 bytes are never sent), so such runs do not
     * restart a side. */
    uint64_t pos;
    switch (posb >> 6) {
    case 0:
        pos = (uint64_t)posb * 8;
        break;
    case 1:
        pos = (1ULL << 63) - (uint64_t)(posb & 63) * 24;
        break;
    case 2:
        pos = 0 - (uint64_t)(posb & 63) * 8 - 8;
        m->no_reopen = 1;
        break;
    default:
        pos = (uint64_t)(posb & 63) * 1000 * 8 + 1000000;
        break;
    }
    atomic_store_explicit(&x->obs->hdr->head, pos, memory_order_relaxed);
    atomic_store_explicit(&x->obs->hdr->tail, pos, memory_order_relaxed);
    x->data = (uint8_t *)x->obs->seg.hdr + SHMRING_HEADER_SIZE;
    x->prod = open_role(x, SHMRING_PRODUCER);
    x->cons = open_role(x, SHMRING_CONSUMER);
    m->cap = shmring_capacity(x->obs);
    m->max_msg = shmring__max_msg_for(m->cap);
    FZ_CHECK(m->cap == opts.size - SHMRING_HEADER_SIZE, "capacity");
    FZ_CHECK(shmring_max_msg(x->prod) == m->max_msg, "max_msg");
    m->tail = m->pub_tail = m->consumed_end = pos;
    m->widx = pos % m->cap;
}

static void close_ring(struct ctx *x)
{
    check_stats(x);
    shmring_close(x->prod);
    shmring_close(x->cons);
    shmring_close(x->obs);
    x->prod = x->cons = x->obs = NULL;
    /* The last handle removed the name. */
    FZ_CHECK(fz_obj_gone(x->name), "the name outlived its last handle");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctx *x = &X;
    x->in = (struct fz_in){data, size, 0};
    uint8_t sel = fz_u8(&x->in);
    uint8_t posb = fz_u8(&x->in);
    open_ring(x, sel, posb);
    while (fz_more(&x->in)) {
        uint8_t op = fz_u8(&x->in);
        switch (op % 16) {
        case 0:
        case 1:
            op_send(x, 0);
            break;
        case 2:
            op_reserve(x, 0);
            break;
        case 3:
            op_commit(x);
            break;
        case 4:
            op_abort(x);
            break;
        case 5:
            op_batch(x);
            break;
        case 6:
        case 7:
            op_recv(x, 0);
            break;
        case 8:
            op_peek(x, 0);
            break;
        case 9:
            op_release(x);
            break;
        case 10:
            op_drain(x);
            break;
        case 11:
            op_restart_producer(x);
            break;
        case 12:
            op_restart_consumer(x);
            break;
        case 13:
            switch ((op >> 4) % 4) {
            case 0:
                op_send(x, 1);
                break;
            case 1:
                op_reserve(x, 1);
                break;
            case 2:
                op_recv(x, 1);
                break;
            default:
                op_peek(x, 1);
                break;
            }
            break;
        case 14:
            check_stats(x);
            break;
        default:
            op_misuse(x);
            break;
        }
    }
    close_ring(x);
    return 0;
}
