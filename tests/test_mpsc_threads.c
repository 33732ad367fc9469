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

#include <cmocka.h>

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
        shmring_ssize len = shmring_recv_wait(c, buf, sizeof buf, 30 * 1000000000ll);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_one_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
