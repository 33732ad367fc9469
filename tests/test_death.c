/* SPDX-License-Identifier: MIT */
/* A peer SIGKILLed (Windows: TerminateProcess'd) at a random moment, 100 times per side (20 under
 * wine: SHMRING_DEATH_RUNS, tests/lifecycle.cmake), with real processes:
 *  - producer killed: the consumer receives exactly a prefix of the sequence (every message the
 *    producer is known to have committed, nothing it had not started), then -EPIPE; a new
 *    producer attaches and the stream continues;
 *  - consumer killed: the producer sees -EPIPE once the ring is full; a new consumer receives
 *    every message the old one had not released, and at most one it had already seen.
 * Every message is numbered and checksummed (t_msg_fill), so a gap, a duplicate or a torn message
 * is caught. Runs alternate between "the survivor notices the death before the replacement
 * attaches" and "the replacement attaches at once". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include "t_cmocka.h"

#include "test_lifeutil.h"

#define SEC (1000000000LL)
#define MS  (1000000LL)
/* Runs per side: 100, or SHMRING_DEATH_RUNS. */
static int g_runs = 100;
#define BASE (1ULL << 40) /* first number of a replacement producer that starts its own stream */

static uint64_t seq_of(const void *msg)
{
    uint64_t s;
    memcpy(&s, msg, 8);
    return s;
}

/* Message lengths: mostly small, some large, a few near the largest, so records wrap, padding
 * records appear and the ring is often full. Always >= 16 so the number and checksum fit. */
static size_t pick_len(uint64_t *rng, size_t max)
{
    uint64_t x = t_rand(rng) % 100;
    size_t len = x < 70   ? 16 + (size_t)(t_rand(rng) % 48)
                 : x < 95 ? 64 + (size_t)(t_rand(rng) % 536)
                          : max / 2 + (size_t)(t_rand(rng) % (max / 2));
    return len > max ? max : len;
}

/* ---- producer killed ------------------------------------------------------------------------- */

enum { PH_IDLE, PH_SEND, PH_RESERVED, PH_BATCH, PH_NPHASES };

struct pk_shared {
    _Atomic uint64_t attempt;   /* highest count the producer may have committed */
    _Atomic uint64_t committed; /* count it knows it committed */
    _Atomic uint32_t ready, phase;
    _Atomic int64_t t_open;  /* tl_now_ns() when its open returned */
    _Atomic int64_t open_ns; /* how long that open took */
};

struct pk_args {
    struct tl_name n;
    struct pk_shared *sh;
    uint64_t from, count, seed;
    int forever;
};

static int pk_producer(void *p)
{
    struct pk_args *a = p;
    struct pk_shared *sh = tl_here(a->sh);
    shmring *r;
    int64_t t0 = tl_now_ns();
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    int64_t t1 = tl_now_ns();
    atomic_store(&sh->open_ns, t1 - t0);
    atomic_store(&sh->t_open, t1); /* the clock is the system's: the parent compares it */
    size_t max = shmring_max_msg(r);
    uint8_t *buf = malloc(8 * max);
    TL_CHECK(buf != NULL);
    atomic_store(&sh->ready, 1);
    uint64_t rng = a->seed;
    uint64_t seq = a->from;
    uint64_t end = a->from + a->count;
    while (a->forever || seq < end) {
        uint64_t mode = t_rand(&rng) % 4;
        if (mode == 0) { /* copy */
            size_t len = pick_len(&rng, max);
            t_msg_fill(buf, len, seq);
            atomic_store(&sh->attempt, seq - a->from + 1);
            atomic_store(&sh->phase, PH_SEND);
            TL_CHECK_RC(shmring_send_wait(r, buf, len, 5 * SEC), 0);
            seq++;
        } else if (mode == 1) { /* zero-copy: a kill between reserve and commit must not leak */
            size_t len = pick_len(&rng, max);
            size_t room = len + 64 <= max ? len + 64 : len; /* commit may be shorter */
            void *slot;
            atomic_store(&sh->attempt, seq - a->from + 1);
            TL_CHECK_RC(shmring_reserve_wait(r, room, &slot, 5 * SEC), 0);
            atomic_store(&sh->phase, PH_RESERVED);
            t_msg_fill(slot, len, seq);
            tl_spin_ns((int64_t)(t_rand(&rng) % 20000)); /* widen the window */
            TL_CHECK_RC(shmring_commit(r, len), 0);
            seq++;
        } else if (mode == 2) { /* batch, non-blocking */
            struct shmring_buf iov[8];
            size_t k = 1 + (size_t)(t_rand(&rng) % 8);
            if (!a->forever && seq + k > end) {
                k = (size_t)(end - seq);
            }
            size_t off = 0;
            for (size_t i = 0; i < k; i++) {
                size_t len = 16 + (size_t)(t_rand(&rng) % 100);
                t_msg_fill(buf + off, len, seq + i);
                iov[i].base = buf + off;
                iov[i].len = len;
                off += len;
            }
            atomic_store(&sh->attempt, seq - a->from + k);
            atomic_store(&sh->phase, PH_BATCH);
            int m = shmring_send_batch(r, iov, k);
            TL_CHECK(m >= 0);
            seq += (uint64_t)m;
        } else { /* non-blocking, spinning */
            size_t len = pick_len(&rng, max);
            t_msg_fill(buf, len, seq);
            atomic_store(&sh->attempt, seq - a->from + 1);
            atomic_store(&sh->phase, PH_SEND);
            int e;
            while ((e = shmring_send(r, buf, len)) == SHMRING_EAGAIN) {
            }
            TL_CHECK_RC(e, 0);
            seq++;
        }
        atomic_store(&sh->committed, seq - a->from);
        atomic_store(&sh->phase, PH_IDLE);
    }
    TL_CHECK_RC(shmring_close(r), 0);
    free(buf);
    return 0;
}

struct consumer_view {
    shmring *c;
    uint8_t *buf;
    size_t cap;
    uint64_t rng;
};

/* One message by recv_wait or peek_wait + release (chosen at random); returns its length or the
 * error; *seq gets its number. The message is checked against its own number. */
static ssize_t take(struct consumer_view *v, int64_t timeout, uint64_t *seq, int *torn)
{
    ssize_t n;
    if (t_rand(&v->rng) % 2 == 0) {
        n = shmring_recv_wait(v->c, v->buf, v->cap, timeout);
        if (n < 0) {
            return n;
        }
        *seq = seq_of(v->buf);
        *torn = !t_msg_check(v->buf, (size_t)n, *seq);
    } else {
        const void *m;
        n = shmring_peek_wait(v->c, &m, timeout);
        if (n < 0) {
            return n;
        }
        *seq = seq_of(m);
        *torn = !t_msg_check(m, (size_t)n, *seq);
        if (shmring_release(v->c) != 0) {
            *torn = 1;
        }
    }
    return n;
}

struct pk_totals {
    int phases[PH_NPHASES];
    int killed_before_attach, epipe_between, dup_free_runs, epipe_runs;
    uint64_t messages, old_msgs;
    int64_t max_epipe_ns, sum_epipe_ns, max_takeover_ns, sum_takeover_ns, max_open_ns, sum_open_ns;
};

static void run_producer_kill(int run, uint64_t *rng, void *totals)
{
    struct pk_totals *tot = totals;
    char tag[32];
    snprintf(tag, sizeof tag, "pk%d", run);
    struct pk_args a = {tl_name(tag), tl_shared(sizeof(struct pk_shared)), 0, 0, t_rand(rng), 1};
    struct consumer_view v = {NULL, NULL, 0, t_rand(rng)};
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &v.c), 0);
    v.cap = shmring_max_msg(v.c);
    v.buf = malloc(v.cap);

    t_proc p1 = t_spawn_flat(pk_producer, &a, sizeof a);
    int early = t_rand(rng) % 10 == 0; /* sometimes kill it while it may still be opening */
    if (!early) {
        assert_true(tl_await(&a.sh->ready, 5000));
    }
    /* Receive while it runs, then kill it at a random moment. */
    int64_t kill_at = tl_now_ns() + (int64_t)(t_rand(rng) % (20 * MS));
    uint64_t got = 0;
    uint64_t seq = 0; /* in the failure message even when take() failed */
    int torn = 0;
    while (!early && tl_now_ns() < kill_at) {
        ssize_t n = take(&v, MS, &seq, &torn);
        if (n == SHMRING_ETIMEDOUT) {
            continue;
        }
        assert_true(n >= 0);
        assert_false(torn);
        assert_int_equal(seq, got);
        got++;
    }
    assert_int_equal(tl_end(p1), T_KILLED);
    int64_t killed = tl_now_ns(); /* reaped: the death is complete */
    uint32_t phase = atomic_load(&a.sh->phase);
    /* Killed before it said it attached: maybe it never did, and then the consumer waits. */
    int64_t drain_timeout = atomic_load(&a.sh->ready) ? 2 * SEC : 300 * MS;
    tot->phases[phase < PH_NPHASES ? phase : 0]++;

    uint64_t count = 50 + t_rand(rng) % 350;
    int replace_at_once = run % 2 == 1;
    struct pk_args a2 = a;
    a2.forever = 0;
    a2.count = count;
    a2.seed = t_rand(rng);
    a2.sh = tl_shared(sizeof(struct pk_shared));
    t_proc p2 = -1;
    uint64_t next_first;      /* the number the replacement starts with */
    int next_first_taken = 0; /* that message was received already */
    if (!replace_at_once) {
        /* Drain to -EPIPE: after it we have seen everything the dead producer committed. */
        ssize_t n;
        while ((n = take(&v, drain_timeout, &seq, &torn)) >= 0) {
            assert_false(torn);
            assert_int_equal(seq, got);
            got++;
        }
        if (n == SHMRING_ETIMEDOUT) {
            /* Only when it died before attaching: then there is no dead producer to report. */
            assert_true(early);
            assert_int_equal(got, 0);
            tot->killed_before_attach++;
        } else {
            assert_int_equal(n, SHMRING_EPIPE);
            int64_t t = tl_now_ns() - killed;
            tot->max_epipe_ns = t > tot->max_epipe_ns ? t : tot->max_epipe_ns;
            tot->sum_epipe_ns += t;
            tot->epipe_runs++;
        }
        next_first = got; /* the replacement continues the numbering exactly */
        a2.from = got;
        int64_t spawned = tl_now_ns();
        p2 = t_spawn_flat(pk_producer, &a2, sizeof a2);
        /* -EPIPE lasts until it attaches; then it ends, even before its first message. */
        assert_true(tl_await(&a2.sh->ready, 5000));
        /* Its open, from the start of the process: the role came free with the death. */
        int64_t took = atomic_load(&a2.sh->t_open) - spawned;
        tot->max_takeover_ns = took > tot->max_takeover_ns ? took : tot->max_takeover_ns;
        tot->sum_takeover_ns += took;
        int64_t open = atomic_load(&a2.sh->open_ns);
        tot->max_open_ns = open > tot->max_open_ns ? open : tot->max_open_ns;
        tot->sum_open_ns += open;
        const void *m;
        ssize_t n1 = shmring_peek(v.c, &m);
        if (n1 >= 0) { /* it sent already: check and take that first message here */
            assert_true(seq_of(m) == next_first && t_msg_check(m, (size_t)n1, next_first));
            assert_int_equal(shmring_release(v.c), 0);
            next_first_taken = 1;
        } else {
            assert_int_equal(n1, SHMRING_EAGAIN);
        }
    } else {
        next_first = BASE; /* the replacement starts its own stream; the old one must end first */
        a2.from = BASE;
        p2 = t_spawn_flat(pk_producer, &a2, sizeof a2);
        int saw_epipe = 0;
        for (;;) {
            ssize_t n = take(&v, 2 * SEC, &seq, &torn);
            if (n == SHMRING_EPIPE) {
                /* Noticed the death before the replacement attached: only between streams. */
                tot->epipe_between += !saw_epipe;
                saw_epipe = 1;
                continue;
            }
            assert_true(n >= 0);
            assert_false(torn);
            if (seq == BASE) {
                next_first_taken = 1;
                break;
            }
            assert_int_equal(seq, got); /* no gap or duplicate in the old stream */
            got++;
        }
    }
    /* Exactly the committed prefix: at least what the producer knew it committed, at most what
     * it had started to send (a kill between publish and bookkeeping counts either way). */
    uint64_t committed = atomic_load(&a.sh->committed);
    uint64_t attempt = atomic_load(&a.sh->attempt);
    if (got < committed || got > attempt) {
        fail_msg("run %d: received %llu of the old stream, producer committed %llu..%llu", run,
                 (unsigned long long)got, (unsigned long long)committed,
                 (unsigned long long)attempt);
    }
    tot->old_msgs += got;

    /* The new stream, complete and in order, then -EPIPE when it closes. */
    uint64_t expect = next_first + (uint64_t)next_first_taken;
    for (; expect < next_first + count; expect++) {
        ssize_t n = take(&v, 5 * SEC, &seq, &torn);
        if (n < 0 || torn || seq != expect) {
            struct shmring_stats st;
            shmring_stats(v.c, &st);
            fail_msg("run %d (at once %d, early %d, phase %u): expected %llu got %llu len %zd torn "
                     "%d; old got %llu committed %llu attempt %llu; head %llu tail %llu",
                     run, replace_at_once, early, phase, (unsigned long long)expect,
                     (unsigned long long)seq, n, torn, (unsigned long long)got,
                     (unsigned long long)committed, (unsigned long long)attempt,
                     (unsigned long long)st.head, (unsigned long long)st.tail);
        }
    }
    assert_int_equal(take(&v, 5 * SEC, &seq, &torn), SHMRING_EPIPE);
    assert_int_equal(t_proc_wait(p2), 0);
    tot->messages += got + count;
    assert_int_equal(shmring_close(v.c), 0);
    assert_false(t_shm_exists(a.n.s));
    free(v.buf);
    tl_unshare(a.sh, sizeof *a.sh);
    tl_unshare(a2.sh, sizeof *a2.sh);
}

/* g_runs runs of one(run, &rng, totals), the seeds drawn from seed; returns the seconds taken. */
static double kill_runs(void (*one)(int, uint64_t *, void *), uint64_t seed, void *totals)
{
    uint64_t rng = seed;
    int64_t t0 = tl_now_ns();
    for (int i = 0; i < g_runs; i++) {
        one(i, &rng, totals);
    }
    return (double)(tl_now_ns() - t0) / 1e9;
}

static void test_producer_killed(void **state)
{
    (void)state;
    struct pk_totals tot = {0};
    double secs = kill_runs(run_producer_kill, 0x5eed0001, &tot);
    print_message("    %d producer kills in %.2f s, %llu messages checked (%llu from killed "
                  "producers)\n",
                  g_runs, secs, (unsigned long long)tot.messages, (unsigned long long)tot.old_msgs);
    print_message("    killed while: idle %d, in send %d, holding a reservation %d, in a batch %d;"
                  " before attaching %d\n",
                  tot.phases[PH_IDLE], tot.phases[PH_SEND], tot.phases[PH_RESERVED],
                  tot.phases[PH_BATCH], tot.killed_before_attach);
    print_message("    -EPIPE seen between the streams in %d of %d immediate replacements; "
                  "reaped -> -EPIPE (drain included) mean %.1f ms, max %.1f ms over %d runs\n",
                  tot.epipe_between, g_runs / 2,
                  (double)tot.sum_epipe_ns / 1e6 / (tot.epipe_runs > 0 ? tot.epipe_runs : 1),
                  (double)tot.max_epipe_ns / 1e6, tot.epipe_runs);
    int takeovers = g_runs - g_runs / 2;
    print_message(
        "    takeover after -EPIPE: the replacement's shmring_open took mean %.2f ms, max "
        "%.2f ms; it returned mean %.1f ms, max %.1f ms after the process was started\n",
        (double)tot.sum_open_ns / 1e6 / takeovers, (double)tot.max_open_ns / 1e6,
        (double)tot.sum_takeover_ns / 1e6 / takeovers, (double)tot.max_takeover_ns / 1e6);
    assert_true(tot.epipe_runs > 0);
    assert_true(tot.max_epipe_ns < 100 * MS);
}

/* ---- consumer killed ------------------------------------------------------------------------- */

/* The old consumer's progress is ONE word, next << 2 | state, so a kill never splits it. */
enum {
    CK_IDLE = 0,    /* it has not read message `next` (a peek may be under way) */
    CK_IN_RECV = 1, /* inside recv_wait for `next`: may have consumed it without returning */
    CK_HOLDING = 2  /* peek returned `next` (it was seen); the release may have happened */
};

struct ck_shared {
    _Atomic uint64_t progress;
    _Atomic uint32_t ready, err;
    /* The new consumer's report. */
    uint64_t first, last, count;
    _Atomic uint32_t err2;
};

struct ck_args {
    struct tl_name n;
    struct ck_shared *sh;
    uint64_t seed;
};

static int ck_old_consumer(void *p)
{
    struct ck_args *a = p;
    struct ck_shared *sh = tl_here(a->sh);
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r), 0);
    size_t cap = shmring_max_msg(r);
    uint8_t *buf = malloc(cap);
    uint64_t rng = a->seed;
    atomic_store(&sh->ready, 1);
    for (uint64_t next = 0;; next++) {
        if (t_rand(&rng) % 2 == 0) {
            atomic_store(&sh->progress, next << 2 | CK_IN_RECV);
            ssize_t n = shmring_recv_wait(r, buf, cap, -1);
            TL_CHECK(n >= 16 && seq_of(buf) == next && t_msg_check(buf, (size_t)n, next));
        } else {
            const void *m;
            ssize_t n = shmring_peek_wait(r, &m, -1);
            TL_CHECK(n >= 16 && seq_of(m) == next && t_msg_check(m, (size_t)n, next));
            atomic_store(&sh->progress, next << 2 | CK_HOLDING);
            tl_spin_ns((int64_t)(t_rand(&rng) % 5000)); /* "processing" before releasing */
            TL_CHECK_RC(shmring_release(r), 0);
        }
        atomic_store(&sh->progress, (next + 1) << 2 | CK_IDLE);
    }
    return 0;
}

static int ck_new_consumer(void *p)
{
    struct ck_args *a = p;
    struct ck_shared *sh = tl_here(a->sh);
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r), 0);
    size_t cap = shmring_max_msg(r);
    uint8_t *buf = malloc(cap);
    ssize_t n;
    uint64_t count = 0;
    while ((n = shmring_recv_wait(r, buf, cap, 5 * SEC)) >= 0) {
        TL_CHECK(n >= 16 && t_msg_check(buf, (size_t)n, seq_of(buf)));
        if (count == 0) {
            sh->first = seq_of(buf);
        } else {
            TL_CHECK(seq_of(buf) == sh->last + 1);
        }
        sh->last = seq_of(buf);
        count++;
    }
    TL_CHECK_RC(n, SHMRING_EPIPE);
    sh->count = count;
    TL_CHECK_RC(shmring_close(r), 0);
    free(buf);
    return 0;
}

struct ck_totals {
    int dups, held_at_kill, in_recv_at_kill, epipe_seen;
    uint64_t messages;
};

/* Producer side: send seq with send_wait; on -EPIPE (consumer gone, ring full) wait for the
 * replacement and retry the same message. Returns the number of -EPIPE results. */
static int ck_send(shmring *p, uint8_t *buf, size_t len, uint64_t seq, t_proc *c2,
                   struct ck_args *a)
{
    int epipes = 0;
    t_msg_fill(buf, len, seq);
    for (;;) {
        int e = shmring_send_wait(p, buf, len, 5 * SEC);
        if (e == 0) {
            return epipes;
        }
        if (e != SHMRING_EPIPE) {
            fail_msg("send_wait: %s", shmring_strerror(e));
        }
        epipes++;
        if (*c2 == -1) {
            *c2 = t_spawn_flat(ck_new_consumer, a, sizeof *a);
        }
        tl_sleep_us(200);
    }
}

static void run_consumer_kill(int run, uint64_t *rng, void *totals)
{
    struct ck_totals *tot = totals;
    char tag[32];
    snprintf(tag, sizeof tag, "ck%d", run);
    struct ck_args a = {tl_name(tag), tl_shared(sizeof(struct ck_shared)), t_rand(rng)};
    shmring *p;
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p), 0);
    size_t max = shmring_max_msg(p);
    uint8_t *buf = malloc(max);
    t_proc c1 = t_spawn_flat(ck_old_consumer, &a, sizeof a);
    assert_true(tl_await(&a.sh->ready, 5000));
    t_proc c2 = -1;
    uint64_t seq = 0;
    int64_t kill_at = tl_now_ns() + (int64_t)(t_rand(rng) % (20 * MS));
    while (tl_now_ns() < kill_at) {
        assert_int_equal(ck_send(p, buf, pick_len(rng, max), seq++, &c2, &a), 0);
    }
    assert_int_equal(tl_end(c1), T_KILLED);
    uint64_t progress = atomic_load(&a.sh->progress);
    if (run % 2 == 1) {
        c2 = t_spawn_flat(ck_new_consumer, &a, sizeof a); /* at once */
    }
    /* Keep sending: with the consumer dead the ring fills and send_wait says -EPIPE, then the
     * replacement attaches (ck_send spawns it) and the same message goes through. */
    uint64_t total = seq + 50 + t_rand(rng) % 350;
    int epipes = 0;
    while (seq < total) {
        epipes += ck_send(p, buf, pick_len(rng, max), seq++, &c2, &a);
    }
    if (c2 == -1) {
        /* The ring never filled (the old consumer had drained a lot); the replacement is still
         * needed, and so is the -EPIPE: fill the ring until it comes. */
        int e;
        uint8_t small[16];
        do {
            t_msg_fill(small, 16, seq);
            e = shmring_send_wait(p, small, 16, 5 * SEC);
            if (e == 0) {
                seq++;
            }
        } while (e == 0);
        assert_int_equal(e, SHMRING_EPIPE);
        epipes++;
        total = seq;
        c2 = t_spawn_flat(ck_new_consumer, &a, sizeof a);
    }
    if (epipes > 0) {
        tot->epipe_seen++;
    }
    assert_int_equal(shmring_close(p), 0);
    assert_int_equal(t_proc_wait(c2), 0);

    /* Every message the old consumer had not released, in order, at most one seen before. */
    uint64_t next = progress >> 2;
    int st = (int)(progress & 3);
    uint64_t first = a.sh->first;
    /* Idle: exactly from `next`. In recv or holding: `next` again (not released yet) or the one
     * after (released); never a gap, never an older message. */
    if (!(first == next || (st != CK_IDLE && first == next + 1))) {
        fail_msg("run %d: old consumer at %llu (state %d), new one started at %llu", run,
                 (unsigned long long)next, st, (unsigned long long)first);
    }
    assert_int_equal(a.sh->last, total - 1);
    assert_int_equal(a.sh->count, total - first);
    tot->held_at_kill += st == CK_HOLDING;
    tot->in_recv_at_kill += st == CK_IN_RECV;
    tot->dups += st == CK_HOLDING && first == next; /* seen by the old one, and again */
    tot->messages += total;
    free(buf);
    assert_false(t_shm_exists(a.n.s));
    tl_unshare(a.sh, sizeof *a.sh);
}

static void test_consumer_killed(void **state)
{
    (void)state;
    struct ck_totals tot = {0};
    double secs = kill_runs(run_consumer_kill, 0x5eed0002, &tot);
    print_message("    %d consumer kills in %.2f s, %llu messages checked\n", g_runs, secs,
                  (unsigned long long)tot.messages);
    print_message("    killed holding a peeked message %d times (redelivered, i.e. seen twice: %d);"
                  " inside recv_wait %d times\n",
                  tot.held_at_kill, tot.dups, tot.in_recv_at_kill);
    print_message("    the producer saw -EPIPE in %d runs (the others replaced the consumer "
                  "before the ring filled)\n",
                  tot.epipe_seen);
}

int main(void)
{
    const char *runs = getenv("SHMRING_DEATH_RUNS");
    if (runs != NULL && atoi(runs) > 1) {
        g_runs = atoi(runs);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_killed),
        cmocka_unit_test(test_consumer_killed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
