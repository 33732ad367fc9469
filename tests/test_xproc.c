/* SPDX-License-Identifier: MIT */
/* Cross-process transfer: a producer process and a consumer process (both forked) pass millions
 * of self-checking messages of random sizes, and every message is checked: its sequence number
 * (so loss, duplication and reordering show), its exact length (both sides draw the lengths from
 * the same PRNG) and a checksum over its bytes (so corruption shows).
 *
 * The parent never calls into the library: each child is a process in which shmring runs its
 * once-per-process setup (and reads SHMRING_NO_MEMBARRIER) for the first time.
 *
 * Message counts: SHMRING_XPROC_SCALE=<percent> scales them (default 100; 10 under a sanitizer,
 * which slows the checksums by an order of magnitude), SHMRING_XPROC_SPIN_SCALE=<percent> the
 * spinning cases' instead when set (tests/core.cmake sets both on Windows, where both arches run
 * under wine in CI's time budget).
 *
 * The processes: t_spawn_flat (fork on POSIX; on Windows the program starts again), sharing
 * struct xshared through t_shared.h. */
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
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "platform.h" /* shmring__plat_light_is_fence: which barrier pair is in effect */
#include "shmring.h"
#include "t_shared.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define X_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define X_SANITIZED 1
#endif
#endif
#ifndef X_SANITIZED
#define X_SANITIZED 0
#endif

#define X_WAIT_NS   (10 * 1000000000LL) /* one blocking call; a healthy run never gets near */
#define X_STUCK_MS  20000               /* no progress for this long in a spinning loop */
#define X_STALL_MS  35                  /* a blocking call this slow slept a whole slice */
#define X_MAX_STALL 100                 /* stalls allowed to scheduling noise on a busy host */

enum { V_SPIN, V_BLOCKING, V_ZEROCOPY, V_BATCH };

struct xrun {
    const char *what;
    size_t size; /* mapping bytes; 0 = the default 4096 */
    uint64_t count;
    int variant;
    int no_membarrier; /* SHMRING_NO_MEMBARRIER=1 in both processes */
    int pauses;        /* now and then one side pauses, so that the other sleeps in the kernel */
};

struct xshared {
    _Atomic uint32_t cons_ready;
    char name[256];
    uint64_t seed;
    int fence[2]; /* shmring__plat_light_is_fence seen by producer, consumer */
    uint64_t received;
    uint64_t stalls[2];
    struct shmring_stats st; /* the consumer's, after the producer closed */
    char err[2][256];
};

struct xarg {
    struct xrun run;     /* a copy (what is only the parent's) */
    struct t_shared mem; /* struct xshared */
    struct xshared *sh;  /* the child's own mapping of it */
};

/* Lengths 1..max: mostly log-uniform (every power of two equally often, so tiny messages are
 * frequent), 1 in 8 uniform over 1..max, and max itself 1 in 256. For a big ring (max > 2048)
 * the log-uniform part stops at 2048, 1 in 16384 is uniform over 1..max and 1 in 65536 is max:
 * every length can occur, yet the bytes moved (which is what costs time here: every byte is
 * generated and checksummed) stay bounded. */
static size_t x_len(uint64_t *rng, size_t max)
{
    uint64_t r = t_rand(rng);
    unsigned pick = (unsigned)(r & 0xffff);
    r >>= 16;
    size_t top = max;
    if (max > 2048) {
        if (pick == 0) {
            return max;
        }
        if (pick < 4) {
            return 1 + (size_t)(r % max);
        }
        top = 2048;
    } else if ((pick & 0xff) == 0) {
        return max;
    } else if ((pick & 0x700) == 0) {
        return 1 + (size_t)(r % max);
    }
    unsigned bits = 1; /* top >= 1: the first round would make it 1 (and never 0: r % bits) */
    while (((size_t)1 << bits) <= top) {
        bits++;
    }
    unsigned k = (unsigned)(r % bits);
    r >>= 8;
    size_t lo = (size_t)1 << k;
    size_t hi = (lo << 1) - 1 < top ? (lo << 1) - 1 : top;
    return lo + (size_t)(r % (hi - lo + 1));
}

/* 1 in 4096 messages, when pauses are on: far longer than the peer's spin phase (~50 us, several
 * times that under a sanitizer), so the peer goes to sleep in the kernel and must be woken. */
static void x_maybe_pause(const struct xrun *run, uint64_t *rng)
{
    if (run->pauses && (t_rand(rng) & 4095) == 0) {
        shmring__plat_sleep_ns(1000000);
    }
}

static void x_setenv(const struct xrun *run)
{
    /* Read once per process, at the first shmring_open: so this must come first. */
    if (run->no_membarrier) {
        t_setenv("SHMRING_NO_MEMBARRIER", "1");
    } else {
        t_unsetenv("SHMRING_NO_MEMBARRIER");
    }
}

#define X_FAIL(side, ...)                                                                          \
    do {                                                                                           \
        snprintf(a->sh->err[side], sizeof a->sh->err[side], __VA_ARGS__);                          \
        T_FAILED_RETURN(1);                                                                        \
    } while (0)

/* ---- producer ------------------------------------------------------------------------------- */

static int x_producer(void *p)
{
    struct xarg *a = p;
    const struct xrun *run = &a->run;
    if ((a->sh = t_shared_attach(&a->mem)) == NULL) {
        return 1;
    }
    x_setenv(run);
    /* The consumer opened first: the name exists and must not be re-created by us. */
    const struct shmring_opts o = {.size = run->size};
    shmring *r = NULL;
    int rc = shmring_open(a->sh->name, SHMRING_PRODUCER, &o, &r);
    if (rc != 0) {
        X_FAIL(0, "producer open: %s", shmring_strerror(rc));
    }
    a->sh->fence[0] = shmring__plat_light_is_fence;
    const size_t max = shmring_max_msg(r);
    uint8_t *buf = malloc(max * 32 + 64);
    struct shmring_buf iov[32];
    uint64_t rng = a->sh->seed, prng = a->sh->seed ^ 0x5555;
    struct t_spin s = {0, 0, X_STUCK_MS};
    for (uint64_t seq = 0; seq < run->count;) {
        if (run->variant == V_BATCH) {
            /* Up to 32 messages per call; what does not fit is offered again. */
            size_t n = (size_t)(1 + t_rand(&prng) % 32);
            if (n > run->count - seq) {
                n = (size_t)(run->count - seq);
            }
            rc = t_send_batch(r, seq, n, x_len, &rng, iov, buf);
            if (rc < 0) {
                X_FAIL(0, "send_batch at %llu: %s", (unsigned long long)seq, shmring_strerror(rc));
            }
            if (rc == 0 && !t_spin_once(&s)) {
                X_FAIL(0, "producer stuck at %llu", (unsigned long long)seq);
            }
            if (rc > 0) {
                s.n = 0;
            }
            seq += (uint64_t)rc;
            continue;
        }
        size_t len = x_len(&rng, max);
        int64_t t0 = run->variant == V_SPIN ? 0 : t_now_ms();
        if (run->variant == V_ZEROCOPY) {
            /* Reserve a little more than needed, now and then, and commit the real length. */
            size_t extra = (size_t)(t_rand(&prng) % 4 == 0 ? t_rand(&prng) % 64 : 0);
            size_t rlen = len + extra <= max ? len + extra : max;
            void *slot = NULL;
            rc = shmring_reserve_wait(r, rlen, &slot, X_WAIT_NS);
            if (rc == 0) {
                t_msg_fill(slot, len, seq);
                rc = shmring_commit(r, len);
            }
        } else if (run->variant == V_BLOCKING) {
            t_msg_fill(buf, len, seq);
            rc = shmring_send_wait(r, buf, len, X_WAIT_NS);
        } else {
            t_msg_fill(buf, len, seq);
            while ((rc = shmring_send(r, buf, len)) == SHMRING_EAGAIN) {
                if (!t_spin_once(&s)) {
                    X_FAIL(0, "producer stuck at %llu", (unsigned long long)seq);
                }
            }
            s.n = 0;
        }
        if (rc != 0) {
            X_FAIL(0, "send at %llu (len %zu): %s", (unsigned long long)seq, len,
                   shmring_strerror(rc));
        }
        if (run->variant != V_SPIN && t_now_ms() - t0 >= X_STALL_MS) {
            a->sh->stalls[0]++;
        }
        x_maybe_pause(run, &prng);
        seq++;
    }
    free(buf);
    shmring_close(r); /* the consumer drains the rest, then sees SHMRING_EPIPE */
    return 0;
}

/* ---- consumer ------------------------------------------------------------------------------- */

static int x_consumer(void *p)
{
    struct xarg *a = p;
    const struct xrun *run = &a->run;
    if ((a->sh = t_shared_attach(&a->mem)) == NULL) {
        return 1;
    }
    x_setenv(run);
    const struct shmring_opts o = {.size = run->size, .flags = SHMRING_CREATE | SHMRING_EXCL};
    shmring *r = NULL;
    int rc = shmring_open(a->sh->name, SHMRING_CONSUMER, &o, &r);
    if (rc != 0) {
        X_FAIL(1, "consumer open: %s", shmring_strerror(rc));
    }
    a->sh->fence[1] = shmring__plat_light_is_fence;
    atomic_store(&a->sh->cons_ready, 1);
    const size_t max = shmring_max_msg(r);
    uint8_t *buf = malloc(max + 1);
    struct t_check chk = {x_len, a->sh->seed, 0, max, 0, ""};
    uint64_t prng = a->sh->seed ^ 0xAAAA;
    struct t_spin s = {0, 0, X_STUCK_MS};
    while (chk.seq < run->count && !chk.bad) {
        if (run->variant == V_BATCH) {
            size_t lim = (size_t)(t_rand(&prng) % 64); /* 0 = everything visible */
            if (lim > run->count - chk.seq) {
                lim = (size_t)(run->count - chk.seq);
            }
            t_drain_check(&chk, r, lim, &s);
            continue;
        }
        int64_t t0 = run->variant == V_SPIN ? 0 : t_now_ms();
        if (run->variant == V_ZEROCOPY) {
            t_peek_check(&chk, r, X_WAIT_NS, &s);
        } else {
            t_recv_check(&chk, r, buf, run->variant == V_BLOCKING ? X_WAIT_NS : 0, &s);
        }
        if (run->variant != V_SPIN && t_now_ms() - t0 >= X_STALL_MS) {
            a->sh->stalls[1]++;
        }
        x_maybe_pause(run, &prng);
    }
    a->sh->received = chk.seq;
    if (chk.bad) {
        X_FAIL(1, "%s", chk.why);
    }
    /* Nothing after the last message: the next receive reports the producer's close. */
    s.n = 0;
    while ((rc = (int)shmring_recv_wait(r, buf, max + 1, X_WAIT_NS)) == SHMRING_EAGAIN) {
        if (!t_spin_once(&s)) {
            break;
        }
    }
    if (rc != SHMRING_EPIPE) {
        X_FAIL(1, "after the last message: %d (%s), want SHMRING_EPIPE", rc, shmring_strerror(rc));
    }
    shmring_stats(r, &a->sh->st);
    free(buf);
    shmring_close(r);
    return 0;
}

/* ---- the runs ------------------------------------------------------------------------------- */

static uint64_t scaled(uint64_t n, int variant)
{
    const char *e = getenv("SHMRING_XPROC_SCALE");
    const char *spin = getenv("SHMRING_XPROC_SPIN_SCALE");
    if (variant == V_SPIN && spin != NULL) {
        e = spin;
    }
    uint64_t pct = e != NULL ? strtoull(e, NULL, 10) : X_SANITIZED ? 10 : 100;
    uint64_t m = n * pct / 100;
    return m > 1000 ? m : 1000;
}

/* 1 when this kernel offers the membarrier commands the library uses. */
static int have_membarrier(void)
{
#ifdef _WIN32
    return 0;
#else
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    return cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
           (cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
#endif
}

static void x_run(const struct xrun *run0, const char *tag)
{
    struct xrun run = *run0;
    run.count = scaled(run.count, run.variant);
    struct xarg arg;
    memset(&arg, 0, sizeof arg);
    arg.run = run;
    struct xshared *sh = t_shared_new(&arg.mem, tag, sizeof *sh);
    memset(sh, 0, sizeof *sh);
    snprintf(sh->name, sizeof sh->name, "%s", t_name(tag));
    sh->seed = 0x1234567ULL + (uint64_t)getpid() * 7919;
    int64_t t0 = t_now_ms();
    t_proc c = t_spawn_flat(x_consumer, &arg, sizeof arg);
    assert_true(c != -1);
    int64_t until = t_now_ms() + 10000;
    while (atomic_load(&sh->cons_ready) == 0 && t_now_ms() < until) {
        shmring__plat_sleep_ns(200000);
    }
    if (atomic_load(&sh->cons_ready) == 0) {
        t_proc_kill(c);
        t_proc_wait(c);
        fail_msg("%s: consumer did not start: %s", run.what, sh->err[1]);
    }
    t_proc p = t_spawn_flat(x_producer, &arg, sizeof arg);
    assert_true(p != -1);
    int sp = t_proc_wait(p);
    int sc = t_proc_wait(c);
    int64_t ms = t_now_ms() - t0;
    printf("    %s: %llu msgs, %llu bytes in %lld ms; sleeps p/c %llu/%llu, wakeups %llu, "
           "full/empty %llu/%llu, stalls p/c %llu/%llu, fence p/c %d/%d\n",
           run.what, (unsigned long long)sh->st.recv_msgs, (unsigned long long)sh->st.recv_bytes,
           (long long)ms, (unsigned long long)sh->st.producer_sleeps,
           (unsigned long long)sh->st.consumer_sleeps, (unsigned long long)sh->st.wakeups,
           (unsigned long long)sh->st.full_events, (unsigned long long)sh->st.empty_events,
           (unsigned long long)sh->stalls[0], (unsigned long long)sh->stalls[1], sh->fence[0],
           sh->fence[1]);
    if (sp != 0 || sc != 0) {
        fail_msg("%s: producer exit %d [%s], consumer exit %d [%s]", run.what, sp, sh->err[0], sc,
                 sh->err[1]);
    }
    assert_int_equal(sh->received, run.count);
    assert_int_equal(sh->st.sent_msgs, run.count);
    assert_int_equal(sh->st.recv_msgs, run.count);
    assert_int_equal(sh->st.sent_bytes, sh->st.recv_bytes);
    assert_int_equal(sh->st.used_bytes, 0);
    assert_int_equal(sh->st.size, run.size ? run.size : SHMRING_DEFAULT_SIZE);
    /* Which barrier pair ran: the fallback when asked for, membarrier otherwise if present. */
    int want_fence = run.no_membarrier || !have_membarrier();
    assert_int_equal(sh->fence[0], want_fence);
    assert_int_equal(sh->fence[1], want_fence);
    if (run.pauses) {
        /* The pauses must have sent both sides to sleep in the kernel, and woken them. */
        assert_true(sh->st.producer_sleeps > 0 || run.variant == V_BATCH);
        assert_true(sh->st.consumer_sleeps > 0);
        assert_true(sh->st.wakeups > 0);
    }
    /* A lost wake-up costs a whole sleep slice (~40 ms) instead of microseconds. */
    if (sh->stalls[0] + sh->stalls[1] > X_MAX_STALL) {
        fail_msg("%s: %llu blocking calls took >= %d ms: lost wake-ups?", run.what,
                 (unsigned long long)(sh->stalls[0] + sh->stalls[1]), X_STALL_MS);
    }
    assert_false(t_shm_exists(sh->name)); /* the last close removed it */
    t_shared_free(&arg.mem, sh);
}

static void test_spin_4k(void **state)
{
    (void)state;
    const struct xrun run = {"send/recv spinning, 4 KiB", 0, 10000000, V_SPIN, 0, 0};
    x_run(&run, "spin4k");
}

static void test_spin_1m(void **state)
{
    (void)state;
    const struct xrun run = {"send/recv spinning, 1 MiB", 1 << 20, 10000000, V_SPIN, 0, 0};
    x_run(&run, "spin1m");
}

static void test_blocking_4k(void **state)
{
    (void)state;
    const struct xrun run = {"send_wait/recv_wait, 4 KiB", 0, 1000000, V_BLOCKING, 0, 1};
    x_run(&run, "block4k");
}

static void test_blocking_no_membarrier(void **state)
{
    (void)state;
    const struct xrun run = {
        "send_wait/recv_wait, SHMRING_NO_MEMBARRIER=1, 4 KiB", 0, 1000000, V_BLOCKING, 1, 1};
    x_run(&run, "blocknomb");
}

static void test_zerocopy_4k(void **state)
{
    (void)state;
    const struct xrun run = {
        "reserve_wait/commit + peek_wait/release, 4 KiB", 0, 1000000, V_ZEROCOPY, 0, 1};
    x_run(&run, "zc4k");
}

static void test_batch_1m(void **state)
{
    (void)state;
    const struct xrun run = {"send_batch/drain, 1 MiB", 1 << 20, 2000000, V_BATCH, 0, 0};
    x_run(&run, "batch1m");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spin_4k),     cmocka_unit_test(test_spin_1m),
        cmocka_unit_test(test_blocking_4k), cmocka_unit_test(test_blocking_no_membarrier),
        cmocka_unit_test(test_zerocopy_4k), cmocka_unit_test(test_batch_1m),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
