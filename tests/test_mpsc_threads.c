/* SPDX-License-Identifier: MIT */
/* Four producer threads and a consumer thread on one multi-producer ring, every message checked
 * (producer, number, length, bytes). Meant for ThreadSanitizer (-DSHMRING_SANITIZE=thread): as
 * in test_threads.c, every handle is pointed at one mapping after opening, because TSan tracks
 * memory by address and would see neither races nor release/acquire pairs across two mappings.
 * SHMRING_MPSC_MSGS sets the messages per producer (default 100000; 10000 under a sanitizer). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include "t_cmocka.h"

#include "test_mpsc.h"

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

#define NPROD 4

struct targ {
    shmring *r;
    unsigned id;
    uint64_t count;
    struct tm_shared *sh;
    int rc;
};

static void *producer_thread(void *p)
{
    struct targ *a = p;
    a->rc = tm_produce(a->r, a->id, a->count, a->sh, 0);
    shmring_close(a->r);
    return NULL;
}

static void test_threads_one_mapping(void **state)
{
    (void)state;
    const char *e = getenv("SHMRING_MPSC_MSGS");
    uint64_t count = e != NULL && atoll(e) > 0 ? (uint64_t)atoll(e) : T_SANITIZED ? 10000 : 100000;
    const char *name = t_name("mpthr");
    struct shmring_opts o = {
        .size = 32768, .flags = SHMRING_CREATE | SHMRING_MULTI_PRODUCER, .max_producers = NPROD};
    shmring *c;
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &o, &c), 0);
    struct targ args[NPROD];
    struct tm_shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    for (unsigned i = 0; i < NPROD; i++) {
        args[i] = (struct targ){NULL, i, count, sh, 0};
        assert_int_equal(shmring_open(name, SHMRING_PRODUCER, NULL, &args[i].r), 0);
        /* One mapping for all: the consumer's (see above). */
        shmring *r = args[i].r;
        r->hdr = c->hdr;
        uint32_t slot = r->side.mprod.slot;
        assert_int_equal(shmring__mprod_attach(&r->side.mprod, c->hdr, c->seg.size, slot), 0);
    }
    pthread_t th[NPROD];
    for (unsigned i = 0; i < NPROD; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, producer_thread, &args[i]), 0);
    }
    struct tm_check *chk = calloc(1, sizeof *chk);
    assert_non_null(chk);
    unsigned char buf[TM_MAX_LEN];
    for (;;) {
        shmring_ssize len = shmring_recv_wait(c, buf, sizeof buf, 30 * 1000000000LL);
        if (len == -EPIPE) {
            break;
        }
        assert_true(len >= 0);
        assert_int_equal(tm_check(chk, buf, (size_t)len), 0);
    }
    for (unsigned i = 0; i < NPROD; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].rc, 0);
        assert_int_equal(chk->next[i], count);
    }
    assert_int_equal(chk->total, count * NPROD);
    free(chk);
    free(sh);
    shmring_close(c);
}

/* Opens a producer and points it at c's mapping (see above). */
static shmring *open_on(const char *name, shmring *c)
{
    shmring *r;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, NULL, &r), 0);
    r->hdr = c->hdr;
    uint32_t slot = r->side.mprod.slot;
    assert_int_equal(shmring__mprod_attach(&r->side.mprod, c->hdr, c->seg.size, slot), 0);
    return r;
}

/* The `solo` handover under TSan: a lone producer thread claims without a CAS while 6 more
 * producer threads join (and take `solo` away) one after another; the survivor is granted it
 * again each time it is alone. Overlapping claims would show as races on the payload bytes. */
static void test_threads_solo_handover(void **state)
{
    (void)state;
    const char *name = t_name("mpthrsolo");
    struct shmring_opts o = {
        .size = 32768, .flags = SHMRING_CREATE | SHMRING_MULTI_PRODUCER, .max_producers = NPROD};
    shmring *c;
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &o, &c), 0);
    struct tm_shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    struct targ lone = {open_on(name, c), 0, 0, sh, 0};
    /* Its grant at open was for its first mapping's attach; grant it on this one. */
    const int solo_ok = !shmring__plat_light_is_fence;
    lone.r->side.mprod.solo_ok = solo_ok;
    atomic_store(&c->side.mcons.v.ext->solo, 0);
    if (solo_ok) {
        assert_int_equal(shmring__mprod_solo_grant(&lone.r->side.mprod, 1), 1);
    }
    /* Read before the thread runs: it frees its handle once it sees `stop` (relaxed). */
    const uint32_t lone_tag = lone.r->side.mprod.claimed_tag;
    pthread_t lt;
    assert_int_equal(pthread_create(&lt, NULL, producer_thread, &lone), 0);
    struct tm_check *chk = calloc(1, sizeof *chk);
    assert_non_null(chk);
    unsigned char buf[TM_MAX_LEN];
    const uint64_t per_joiner = T_SANITIZED ? 2000 : 20000;
    unsigned regranted = 0;
    for (unsigned j = 1; j <= 6; j++) {
        struct targ b = {open_on(name, c), j, per_joiner, sh, 0};
        pthread_t bt;
        assert_int_equal(pthread_create(&bt, NULL, producer_thread, &b), 0);
        while (chk->next[j] < per_joiner) {
            shmring_ssize len = shmring_recv_wait(c, buf, sizeof buf, 30 * 1000000000LL);
            assert_true(len >= 0);
            assert_int_equal(tm_check(chk, buf, (size_t)len), 0);
        }
        assert_int_equal(pthread_join(bt, NULL), 0);
        assert_int_equal(b.rc, 0);
        /* Alone again: re-granted within 1024 of its claims. */
        for (int64_t t0 = tl_now_ns(); solo_ok && tl_now_ns() - t0 < 30000000000LL;) {
            if (atomic_load(&c->side.mcons.v.ext->solo) == lone_tag) {
                regranted++;
                break;
            }
            shmring_ssize len = shmring_recv_wait(c, buf, sizeof buf, 30 * 1000000000LL);
            assert_true(len >= 0);
            assert_int_equal(tm_check(chk, buf, (size_t)len), 0);
        }
    }
    atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
    for (;;) {
        shmring_ssize len = shmring_recv_wait(c, buf, sizeof buf, 30 * 1000000000LL);
        if (len == -EPIPE) {
            break;
        }
        assert_true(len >= 0);
        assert_int_equal(tm_check(chk, buf, (size_t)len), 0);
    }
    assert_int_equal(pthread_join(lt, NULL), 0);
    assert_int_equal(lone.rc, 0);
    assert_int_equal(chk->next[0], atomic_load(&sh->committed[0]));
    if (solo_ok) {
        assert_int_equal(regranted, 6);
    }
    printf("# lone producer thread: %llu messages, granted solo again %u times\n",
           (unsigned long long)chk->next[0], regranted);
    free(chk);
    free(sh);
    shmring_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_one_mapping),
        cmocka_unit_test(test_threads_solo_handover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
