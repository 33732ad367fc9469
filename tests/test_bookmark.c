/* SPDX-License-Identifier: MIT */
/* The producer's bookmark (shmring_set_bookmark / shmring_get_bookmark) and the consumer's
 * read-ahead (shmring_peek_next / shmring_release_n), the two calls the NATS bridge builds its
 * exactly-once guarantee on:
 *  - a bookmark takes effect with the next publish, never before, and a producer that dies after
 *    setting one but before publishing leaves the previous one in force, even when its successor
 *    publishes without setting one;
 *  - a producer SIGKILLed at random moments while it numbers its messages with the bookmark: the
 *    bookmark a successor reads always names the last message the consumer can receive;
 *  - a consumer that reads ahead and is SIGKILLed releases nothing: its successor reads every
 *    message again, in order, at the same positions. */
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "t_cmocka.h"

#include "testutil.h"

#define MS (1000000LL)

static shmring *open_role(const char *name, int role, unsigned flags)
{
    struct shmring_opts o = {.size = 8192, .flags = flags};
    shmring *r = NULL;
    assert_int_equal(shmring_open(name, role, &o, &r), 0);
    return r;
}

static uint64_t bm(shmring *r)
{
    uint64_t v = 0;
    assert_int_equal(shmring_get_bookmark(r, &v), 0);
    return v;
}

static void test_none_until_published(void **state)
{
    (void)state;
    const char *name = t_name("none");
    shmring *p = open_role(name, SHMRING_PRODUCER, SHMRING_CREATE);
    shmring *c = open_role(name, SHMRING_CONSUMER, 0);
    shmring *o = open_role(name, SHMRING_OBSERVER, 0);
    uint64_t v = 99;
    assert_int_equal(shmring_get_bookmark(p, &v), SHMRING_ENOENT);
    assert_int_equal(shmring_get_bookmark(c, &v), SHMRING_ENOENT);
    assert_int_equal(shmring_get_bookmark(o, &v), SHMRING_ENOENT);
    assert_int_equal(v, 99);
    assert_int_equal(shmring_set_bookmark(p, 7), 0);
    assert_int_equal(shmring_get_bookmark(c, &v), SHMRING_ENOENT); /* pending */
    assert_int_equal(shmring_send(p, "a", 1), 0);
    assert_int_equal(bm(c), 7);
    assert_int_equal(bm(o), 7);
    assert_int_equal(bm(p), 7);
    /* Replaced before the publish: only the last value counts. */
    assert_int_equal(shmring_set_bookmark(p, 8), 0);
    assert_int_equal(shmring_set_bookmark(p, 9), 0);
    assert_int_equal(bm(c), 7);
    assert_int_equal(shmring_send(p, "b", 1), 0);
    assert_int_equal(bm(c), 9);
    /* Every publishing call: commit, send_batch; a publish without a new set keeps the value. */
    void *slot;
    assert_int_equal(shmring_reserve(p, 4, &slot), 0);
    assert_int_equal(shmring_set_bookmark(p, 10), 0); /* with a reservation open */
    assert_int_equal(bm(c), 9);
    assert_int_equal(shmring_commit(p, 4), 0);
    assert_int_equal(bm(c), 10);
    struct shmring_buf b[2] = {{"x", 1}, {"y", 1}};
    assert_int_equal(shmring_set_bookmark(p, UINT64_MAX), 0);
    assert_int_equal(shmring_send_batch(p, b, 2), 2);
    assert_int_equal(bm(c), UINT64_MAX);
    assert_int_equal(shmring_send(p, "c", 1), 0);
    assert_int_equal(bm(c), UINT64_MAX);
    /* Argument and role errors. */
    assert_int_equal(shmring_set_bookmark(c, 1), SHMRING_EPERM);
    assert_int_equal(shmring_set_bookmark(o, 1), SHMRING_EPERM);
    assert_int_equal(shmring_set_bookmark(NULL, 1), SHMRING_EINVAL);
    assert_int_equal(shmring_get_bookmark(NULL, &v), SHMRING_EINVAL);
    assert_int_equal(shmring_get_bookmark(c, NULL), SHMRING_EINVAL);
    shmring_close(o);
    shmring_close(c);
    shmring_close(p);
}

/* Many sets and publishes across wrap-around: the value in force always matches the last
 * message the consumer can read. */
static void test_follows_messages(void **state)
{
    (void)state;
    const char *name = t_name("follow");
    shmring *p = open_role(name, SHMRING_PRODUCER, SHMRING_CREATE);
    shmring *c = open_role(name, SHMRING_CONSUMER, 0);
    uint64_t rng = 42;
    char buf[4096];
    for (uint64_t seq = 1; seq <= 20000; seq++) {
        size_t len = 16 + (size_t)(t_rand(&rng) % 600);
        t_msg_fill(buf, len, seq);
        assert_int_equal(shmring_set_bookmark(p, seq), 0);
        if (t_rand(&rng) % 3 == 0) {
            assert_int_equal(shmring_set_bookmark(p, seq * 1000), 0);
            assert_int_equal(shmring_set_bookmark(p, seq), 0);
        }
        assert_int_equal(shmring_send(p, buf, len), 0);
        assert_int_equal(bm(c), seq);
        shmring_ssize n = shmring_recv(c, buf, sizeof buf);
        assert_int_equal(n, (shmring_ssize)len);
        assert_true(t_msg_check(buf, len, seq));
    }
    shmring_close(c);
    shmring_close(p);
}

/* A producer that set a bookmark and closed (or died) before publishing: the next producer reads
 * the previous value, and its own first publish without a set does not revive the orphan. */
static void test_takeover_forgets_pending(void **state)
{
    (void)state;
    const char *name = t_name("takeover");
    shmring *c = open_role(name, SHMRING_CONSUMER, SHMRING_CREATE);
    shmring *p = open_role(name, SHMRING_PRODUCER, 0);
    assert_int_equal(shmring_set_bookmark(p, 1), 0);
    assert_int_equal(shmring_send(p, "1", 1), 0);
    assert_int_equal(shmring_set_bookmark(p, 2), 0); /* never published */
    shmring_close(p);
    p = open_role(name, SHMRING_PRODUCER, 0);
    assert_int_equal(bm(p), 1);
    assert_int_equal(shmring_send(p, "2", 1), 0);
    assert_int_equal(bm(c), 1);
    assert_int_equal(shmring_set_bookmark(p, 3), 0);
    assert_int_equal(shmring_send(p, "3", 1), 0);
    assert_int_equal(bm(c), 3);
    shmring_close(p);
    shmring_close(c);
}

/* Persistent rings keep the bookmark across every process leaving; a ring initialised afresh
 * has none. */
static void test_persistent_and_fresh(void **state)
{
    (void)state;
    const char *name = t_name("persist");
    shmring *p = open_role(name, SHMRING_PRODUCER, SHMRING_CREATE | SHMRING_PERSIST);
    assert_int_equal(shmring_set_bookmark(p, 1234), 0);
    assert_int_equal(shmring_send(p, "m", 1), 0);
    shmring_close(p);
    shmring *o = open_role(name, SHMRING_OBSERVER, 0);
    assert_int_equal(bm(o), 1234);
    shmring_close(o);
    assert_int_equal(shmring_unlink(name), 0);
    o = open_role(name, SHMRING_OBSERVER, SHMRING_CREATE);
    uint64_t v;
    assert_int_equal(shmring_get_bookmark(o, &v), SHMRING_ENOENT);
    shmring_close(o);
}

/* ---- producer SIGKILLed while it numbers its messages with the bookmark --------------------- */

struct kill_shared {
    _Atomic uint64_t sent; /* messages the child knows it committed */
    _Atomic int ready;
};

struct kill_args {
    const char *name;
    struct kill_shared *sh;
    uint64_t from;
};

/* Sends from, from+1, ... forever; message seq carries bookmark seq. */
static int killed_producer(void *p)
{
    struct kill_args *a = p;
    shmring *r;
    if (shmring_open(a->name, SHMRING_PRODUCER, NULL, &r) != 0) {
        return 2;
    }
    char buf[512];
    uint64_t rng = a->from * 7 + 1;
    atomic_store(&a->sh->ready, 1);
    for (uint64_t seq = a->from;; seq++) {
        size_t len = 16 + (size_t)(t_rand(&rng) % 300);
        t_msg_fill(buf, len, seq);
        if (shmring_set_bookmark(r, seq) != 0) {
            return 3;
        }
        if (t_rand(&rng) % 2) {
            void *slot;
            int err;
            while ((err = shmring_reserve_wait(r, len, &slot, 1000 * MS)) == SHMRING_ETIMEDOUT) {
            }
            if (err != 0) {
                return 4;
            }
            memcpy(slot, buf, len);
            if (shmring_commit(r, len) != 0) {
                return 5;
            }
        } else {
            int err;
            while ((err = shmring_send_wait(r, buf, len, 1000 * MS)) == SHMRING_ETIMEDOUT) {
            }
            if (err != 0) {
                return 6;
            }
        }
        atomic_store(&a->sh->sent, seq);
    }
}

static void test_producer_sigkill(void **state)
{
    (void)state;
    const char *name = t_name("kill");
    shmring *c = open_role(name, SHMRING_CONSUMER, SHMRING_CREATE);
    struct kill_shared *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    uint64_t rng = (uint64_t)time(NULL) | 1;
    uint64_t next = 1; /* the next message the consumer expects */
    char buf[512];
    for (unsigned round = 0; round < 30; round++) {
        struct kill_args a = {name, sh, next};
        atomic_store(&sh->ready, 0);
        pid_t pid = t_spawn(killed_producer, &a);
        while (!atomic_load(&sh->ready)) {
            usleep(100);
        }
        /* Consume for a random while, then kill the producer mid-stream. */
        int64_t until = t_now_ms() + 5 + (int64_t)(t_rand(&rng) % 40);
        while (t_now_ms() < until) {
            shmring_ssize n = shmring_recv_wait(c, buf, sizeof buf, 10 * MS);
            if (n >= 0) {
                assert_true(t_msg_check(buf, (size_t)n, next));
                next++;
            }
        }
        kill(pid, SIGKILL);
        assert_int_equal(t_wait(pid), 128 + SIGKILL);
        /* Drain what it committed: the bookmark then names the last message received. */
        shmring_ssize n;
        while ((n = shmring_recv(c, buf, sizeof buf)) >= 0) {
            assert_true(t_msg_check(buf, (size_t)n, next));
            next++;
        }
        assert_true(n == SHMRING_EPIPE || n == SHMRING_EAGAIN);
        assert_true(next - 1 >= atomic_load(&sh->sent));
        uint64_t v;
        assert_int_equal(shmring_get_bookmark(c, &v), 0);
        assert_int_equal(v, next - 1);
        /* The successor reads the same bookmark and continues after it. */
        shmring *p = open_role(name, SHMRING_PRODUCER, 0);
        assert_int_equal(bm(p), next - 1);
        shmring_close(p);
    }
    munmap(sh, sizeof *sh);
    shmring_close(c);
}

/* ---- read-ahead ----------------------------------------------------------------------------- */

static void test_read_ahead(void **state)
{
    (void)state;
    const char *name = t_name("ahead");
    shmring *p = open_role(name, SHMRING_PRODUCER, SHMRING_CREATE);
    shmring *c = open_role(name, SHMRING_CONSUMER, 0);
    char buf[1024];
    const void *m;
    uint64_t pos, last = 0;
    assert_int_equal(shmring_peek_next(c, &m, &pos), SHMRING_EAGAIN);
    assert_int_equal(shmring_peek_next(c, NULL, &pos), SHMRING_EINVAL);
    assert_int_equal(shmring_peek_next(p, &m, &pos), SHMRING_EPERM);
    uint64_t sent = 0, got = 0;
    uint64_t rng = 3;
    for (unsigned round = 0; round < 2000; round++) {
        /* Fill what fits, read all of it ahead, release a random part. */
        for (;;) {
            size_t len = 16 + (size_t)(t_rand(&rng) % 900);
            t_msg_fill(buf, len, sent + 1);
            if (shmring_send(p, buf, len) != 0) {
                break;
            }
            sent++;
        }
        uint64_t seen = 0;
        shmring_ssize n;
        while ((n = shmring_peek_next(c, &m, &pos)) >= 0) {
            assert_true(t_msg_check(m, (size_t)n, got + seen + 1));
            assert_true(pos >= last);
            last = pos + 1;
            seen++;
        }
        assert_int_equal(n, SHMRING_EAGAIN);
        assert_int_equal(got + seen, sent);
        /* One-message calls are refused while messages are read ahead. */
        assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EINVAL);
        assert_int_equal(shmring_peek(c, &m), SHMRING_EINVAL);
        assert_int_equal(shmring_release(c), SHMRING_EINVAL);
        assert_int_equal(shmring_release_n(c, seen + 1), SHMRING_EINVAL);
        /* Release a random part, then the rest: partial releases keep the read-ahead. */
        uint64_t k = t_rand(&rng) % (seen + 1);
        assert_int_equal(shmring_release_n(c, k), 0);
        got += k;
        struct shmring_stats st;
        assert_int_equal(shmring_stats(c, &st), 0);
        assert_int_equal(st.recv_msgs, got);
        assert_int_equal(shmring_release_n(c, seen - k), 0);
        got += seen - k;
        /* Nothing read ahead: the one-message calls work again. */
        assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN);
        last = 0;
    }
    shmring_close(p);
    /* Producer gone and everything released: -EPIPE. */
    assert_int_equal(shmring_peek_next(c, &m, &pos), SHMRING_EPIPE);
    shmring_close(c);
}

struct ahead_args {
    const char *name;
    _Atomic uint64_t *read; /* messages the child has read ahead */
};

static int ahead_reader(void *p)
{
    struct ahead_args *a = p;
    shmring *c;
    if (shmring_open(a->name, SHMRING_CONSUMER, NULL, &c) != 0) {
        return 2;
    }
    const void *m;
    uint64_t pos;
    for (uint64_t i = 1;; i++) {
        shmring_ssize n = shmring_peek_next_wait(c, &m, &pos, -1);
        if (n < 0 || !t_msg_check(m, (size_t)n, i)) {
            return 3;
        }
        atomic_store(a->read, i);
        if (i % 4 == 0 && shmring_release_n(c, 1) != 0) { /* a few released: 1 per 4 read */
            return 4;
        }
    }
}

/* A consumer killed while it holds messages read ahead releases only what it released. */
static void test_read_ahead_sigkill(void **state)
{
    (void)state;
    const char *name = t_name("aheadkill");
    struct shmring_opts o = {.size = 1 << 20, .flags = SHMRING_CREATE};
    shmring *p;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &o, &p), 0);
    char buf[256];
    uint64_t n_msgs = 2000;
    uint64_t positions[2001];
    for (uint64_t i = 1; i <= n_msgs; i++) {
        t_msg_fill(buf, 16 + i % 200, i);
        assert_int_equal(shmring_send(p, buf, 16 + i % 200), 0);
    }
    _Atomic uint64_t *read =
        mmap(NULL, sizeof *read, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(read != MAP_FAILED);
    atomic_store(read, 0);
    struct ahead_args a = {name, read};
    pid_t pid = t_spawn(ahead_reader, &a);
    while (atomic_load(read) < n_msgs) {
        usleep(1000);
    }
    kill(pid, SIGKILL);
    assert_int_equal(t_wait(pid), 128 + SIGKILL);
    /* Released: 1 message per 4 read, i.e. the 500 oldest. The rest is read again. */
    shmring *c;
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &c), 0);
    const void *m;
    uint64_t pos;
    for (uint64_t i = n_msgs / 4 + 1; i <= n_msgs; i++) {
        shmring_ssize n = shmring_peek_next(c, &m, &pos);
        assert_int_equal(n, (shmring_ssize)(16 + i % 200));
        assert_true(t_msg_check(m, (size_t)n, i));
        positions[i] = pos;
    }
    assert_int_equal(shmring_peek_next(c, &m, &pos), SHMRING_EAGAIN);
    /* Rewind: the same messages again from the oldest, at the same positions. */
    assert_int_equal(shmring_rewind(c), 0);
    for (uint64_t i = n_msgs / 4 + 1; i <= n_msgs / 2; i++) {
        assert_true(shmring_peek_next(c, &m, &pos) > 0);
        assert_true(t_msg_check(m, 16 + i % 200, i));
        assert_int_equal(pos, positions[i]);
    }
    assert_int_equal(shmring_rewind(c), 0);
    assert_int_equal(shmring_rewind(p), SHMRING_EPERM);
    /* Same positions when read again after a release of none by a new handle. */
    shmring_close(c);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &c), 0);
    for (uint64_t i = n_msgs / 4 + 1; i <= n_msgs; i++) {
        assert_true(shmring_peek_next(c, &m, &pos) > 0);
        assert_true(t_msg_check(m, 16 + i % 200, i));
        assert_int_equal(pos, positions[i]);
    }
    assert_int_equal(shmring_release_n(c, n_msgs - n_msgs / 4), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN);
    munmap((void *)read, sizeof *read);
    shmring_close(c);
    shmring_close(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_until_published),
        cmocka_unit_test(test_follows_messages),
        cmocka_unit_test(test_takeover_forgets_pending),
        cmocka_unit_test(test_persistent_and_fresh),
        cmocka_unit_test(test_producer_sigkill),
        cmocka_unit_test(test_read_ahead),
        cmocka_unit_test(test_read_ahead_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
