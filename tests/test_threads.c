/* SPDX-License-Identifier: MIT */
/* A producer thread and a consumer thread in one process, every message checked (sequence
 * number, exact length, checksum). Meant to run under ThreadSanitizer too
 * (-DSHMRING_SANITIZE=thread): it then checks every access to the ring for data races.
 *
 * One mapping: the producer and consumer handles are both opened here, and each shmring_open maps
 * the object separately. ThreadSanitizer tracks memory by virtual address, so with two mappings
 * it would see the producer write at one address and the consumer read at another, and could
 * neither report a race between them nor see the release/acquire pairs that order them. So after
 * opening, the consumer handle is pointed at the producer handle's mapping (same object, same
 * offsets: nothing changes for the library except the address). The handle keeps its own
 * descriptor, locks and mapping for close. (Checked: with the producer's release store of the
 * tail weakened to relaxed, TSan reports races here on one mapping and none on two.)
 *
 * Message counts: SHMRING_THREADS_SCALE=<percent> scales them (default 100; 10 under a
 * sanitizer; tests/core.cmake sets a smaller share on Windows, under wine). The threads are
 * POSIX threads everywhere (winpthreads with mingw). */
#include <pthread.h> /* mingw: winpthreads */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <process.h> /* getpid */
#else
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "handle.h"   /* struct shmring: to put both handles on one mapping (see above) */
#include "platform.h" /* shmring__plat_sleep_ns */
#include "shmring.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define T_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define T_SANITIZED 1
#endif
#endif
#ifndef T_SANITIZED
#define T_SANITIZED 0
#endif

#define T_WAIT_NS  (10 * 1000000000LL)
#define T_STUCK_MS 20000

enum { V_SPIN, V_BLOCKING, V_ZEROCOPY, V_BATCH };

struct trun {
    size_t size;
    uint64_t count;
    int variant;
    int pauses;
};

struct tctx {
    const struct trun *run;
    shmring *p, *c;
    uint64_t seed;
    uint64_t received;
    char err[2][200];
};

/* Lengths 1..max: mostly log-uniform, 1 in 8 uniform, max itself 1 in 256. */
static size_t t_len(uint64_t *rng, size_t max)
{
    uint64_t r = t_rand(rng);
    unsigned pick = (unsigned)(r & 0xfff);
    r >>= 12;
    if ((pick & 0xff) == 0) {
        return max;
    }
    if ((pick & 0x700) == 0) {
        return 1 + (size_t)(r % max);
    }
    unsigned bits = 1; /* max >= 1: the first round would make it 1 (and never 0: r % bits) */
    while (((size_t)1 << bits) <= max) {
        bits++;
    }
    unsigned k = (unsigned)(r % bits);
    r >>= 8;
    size_t lo = (size_t)1 << k;
    size_t hi = (lo << 1) - 1 < max ? (lo << 1) - 1 : max;
    return lo + (size_t)(r % (hi - lo + 1));
}

static void maybe_pause(const struct trun *run, uint64_t *rng)
{
    if (run->pauses && (t_rand(rng) & 1023) == 0) {
        shmring__plat_sleep_ns(
            1000000); /* far longer than the other side's spin phase: it must sleep, be woken */
    }
}

#define T_FAIL(side, ...)                                                                          \
    do {                                                                                           \
        snprintf(x->err[side], sizeof x->err[side], __VA_ARGS__);                                  \
        T_FAILED_RETURN(NULL);                                                                     \
    } while (0)

static void *producer(void *arg)
{
    struct tctx *x = arg;
    const struct trun *run = x->run;
    shmring *r = x->p;
    const size_t max = shmring_max_msg(r);
    uint8_t *buf = malloc(max * 16 + 128);
    struct shmring_buf iov[16];
    uint64_t rng = x->seed, prng = x->seed ^ 0x5555;
    struct t_spin s = {0, 0, T_STUCK_MS};
    int rc;
    for (uint64_t seq = 0; seq < run->count;) {
        if (run->variant == V_BATCH) {
            size_t n = (size_t)(1 + t_rand(&prng) % 16);
            if (n > run->count - seq) {
                n = (size_t)(run->count - seq);
            }
            rc = t_send_batch(r, seq, n, t_len, &rng, iov, buf);
            if (rc < 0) {
                T_FAIL(0, "send_batch at %llu: %s", (unsigned long long)seq, shmring_strerror(rc));
            }
            if (rc == 0 && !t_spin_once(&s)) {
                T_FAIL(0, "producer stuck at %llu", (unsigned long long)seq);
            }
            if (rc > 0) {
                s.n = 0;
            }
            seq += (uint64_t)rc;
            continue;
        }
        size_t len = t_len(&rng, max);
        if (run->variant == V_ZEROCOPY) {
            size_t extra = (size_t)(t_rand(&prng) % 4 == 0 ? t_rand(&prng) % 64 : 0);
            size_t rlen = len + extra <= max ? len + extra : max;
            void *slot = NULL;
            while ((rc = shmring_reserve(r, rlen, &slot)) == SHMRING_EAGAIN) {
                if (!t_spin_once(&s)) {
                    T_FAIL(0, "producer stuck at %llu", (unsigned long long)seq);
                }
            }
            s.n = 0;
            if (rc == 0) {
                t_msg_fill(slot, len, seq);
                rc = shmring_commit(r, len);
            }
        } else if (run->variant == V_BLOCKING) {
            t_msg_fill(buf, len, seq);
            rc = shmring_send_wait(r, buf, len, T_WAIT_NS);
        } else {
            t_msg_fill(buf, len, seq);
            while ((rc = shmring_send(r, buf, len)) == SHMRING_EAGAIN) {
                if (!t_spin_once(&s)) {
                    T_FAIL(0, "producer stuck at %llu", (unsigned long long)seq);
                }
            }
            s.n = 0;
        }
        if (rc != 0) {
            T_FAIL(0, "send at %llu (len %zu): %s", (unsigned long long)seq, len,
                   shmring_strerror(rc));
        }
        maybe_pause(run, &prng);
        seq++;
    }
    free(buf);
    return NULL;
}

static void *consumer(void *arg)
{
    struct tctx *x = arg;
    const struct trun *run = x->run;
    shmring *r = x->c;
    const size_t max = shmring_max_msg(r);
    uint8_t *buf = malloc(max + 1);
    struct t_check chk = {t_len, x->seed, 0, max, 0, ""};
    uint64_t prng = x->seed ^ 0xAAAA;
    struct t_spin s = {0, 0, T_STUCK_MS};
    while (chk.seq < run->count && !chk.bad) {
        if (run->variant == V_BATCH) {
            size_t lim = (size_t)(t_rand(&prng) % 32);
            if (lim > run->count - chk.seq) {
                lim = (size_t)(run->count - chk.seq);
            }
            t_drain_check(&chk, r, lim, &s);
            continue;
        }
        if (run->variant == V_ZEROCOPY) {
            t_peek_check(&chk, r, 0, &s); /* spinning on shmring_peek */
        } else {
            t_recv_check(&chk, r, buf, run->variant == V_BLOCKING ? T_WAIT_NS : 0, &s);
        }
        maybe_pause(run, &prng);
    }
    x->received = chk.seq;
    if (chk.bad) {
        T_FAIL(1, "%s", chk.why);
    }
    /* Nothing beyond the last message. */
    ssize_t n = shmring_recv(r, buf, max + 1);
    if (n != SHMRING_EAGAIN) {
        T_FAIL(1, "after the last message: %zd, want SHMRING_EAGAIN", n);
    }
    free(buf);
    return NULL;
}

static uint64_t scaled(uint64_t n)
{
    const char *e = getenv("SHMRING_THREADS_SCALE");
    uint64_t pct = e != NULL ? strtoull(e, NULL, 10) : T_SANITIZED ? 10 : 100;
    uint64_t m = n * pct / 100;
    return m > 1000 ? m : 1000;
}

static void run_threads(const struct trun *run0, const char *tag)
{
    struct trun run = *run0;
    run.count = scaled(run.count);
    const char *name = t_name(tag);
    const struct shmring_opts o = {.size = run.size, .flags = SHMRING_CREATE | SHMRING_EXCL};
    shmring *p = NULL, *c = NULL;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &o, &p), 0);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &c), 0);
    /* One mapping for both (see the top of the file). */
    c->hdr = p->hdr;
    assert_int_equal(shmring__cons_attach(&c->side.cons, p->hdr, p->seg.size), 0);

    struct tctx x = {&run, p, c, 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid(), 0, {"", ""}};
    int64_t t0 = t_now_ms();
    pthread_t tp, tc;
    assert_int_equal(pthread_create(&tc, NULL, consumer, &x), 0);
    assert_int_equal(pthread_create(&tp, NULL, producer, &x), 0);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    struct shmring_stats st;
    assert_int_equal(shmring_stats(c, &st), 0);
    printf("    %s: %llu msgs, %llu bytes in %lld ms; sleeps p/c %llu/%llu, wakeups %llu\n", tag,
           (unsigned long long)st.recv_msgs, (unsigned long long)st.recv_bytes,
           (long long)(t_now_ms() - t0), (unsigned long long)st.producer_sleeps,
           (unsigned long long)st.consumer_sleeps, (unsigned long long)st.wakeups);
    if (x.err[0][0] != '\0' || x.err[1][0] != '\0') {
        fail_msg("%s: producer [%s], consumer [%s]", tag, x.err[0], x.err[1]);
    }
    assert_int_equal(x.received, run.count);
    assert_int_equal(st.sent_msgs, run.count);
    assert_int_equal(st.recv_msgs, run.count);
    assert_int_equal(st.sent_bytes, st.recv_bytes);
    if (run.pauses) {
        assert_true(st.consumer_sleeps > 0);
        assert_true(st.wakeups > 0);
    }
    shmring_close(c);
    shmring_close(p);
    assert_false(t_shm_exists(name));
}

static void test_threads_copy(void **state)
{
    (void)state;
    const struct trun run = {0, 1500000, V_SPIN, 0};
    run_threads(&run, "copy");
}

static void test_threads_blocking(void **state)
{
    (void)state;
    const struct trun run = {0, 300000, V_BLOCKING, 1};
    run_threads(&run, "blocking");
}

static void test_threads_zerocopy(void **state)
{
    (void)state;
    const struct trun run = {0, 1000000, V_ZEROCOPY, 0};
    run_threads(&run, "zerocopy");
}

static void test_threads_batch(void **state)
{
    (void)state;
    const struct trun run = {8192, 1000000, V_BATCH, 0};
    run_threads(&run, "batch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_copy),
        cmocka_unit_test(test_threads_blocking),
        cmocka_unit_test(test_threads_zerocopy),
        cmocka_unit_test(test_threads_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
