/* SPDX-License-Identifier: MIT */
/* The legacy value protocol (src/legacy_value.h) over heap memory: no names, files or processes.
 * The setters' lock and the "is a setter alive" question are callbacks here, so a test can say
 * "a setter of another process holds the lock" or "it died" exactly when it wants. A setter's
 * death in the middle of its copy is simulated by wrapping the copy at link time
 * (-Wl,--wrap=shmring__lv_bytes_in, see tests/core.cmake) and leaving it with longjmp after half
 * the bytes, as a SIGKILL would: nothing after that point of shmring__lv_set runs. GNU ld wraps
 * PE symbols too (i686's leading underscore included), so this runs on Windows as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t_cmocka.h"

#include "legacy_value.h"
#include "ring.h"
#include "testutil.h" /* t_aligned_alloc */

#define SIZE 4096u /* the legacy mapping's size */
#define CAP  (SIZE - SHMRING_HEADER_SIZE)

/* ---- the copy, which a test may make "die" half-way ------------------------------------------ */
void __real_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n);
void __wrap_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n);

static int die_in_copy; /* 1: the next copy stops after half its bytes */
static jmp_buf died;
static unsigned copies; /* copies made (to check a set did copy) */

void __wrap_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n)
{
    copies++;
    if (die_in_copy) {
        die_in_copy = 0;
        __real_shmring__lv_bytes_in(dst, src, n / 2);
        longjmp(died, 1);
    }
    __real_shmring__lv_bytes_in(dst, src, n);
}

/* ---- a value over heap memory, seen from two "processes" ------------------------------------ */

struct tv {
    uint8_t *mem;
    int lock_held;        /* what setter_lock_held() answers */
    uint32_t max_rounds;  /* pause() gives up after this many rounds */
    uint32_t rounds;      /* rounds paused in the last get */
    _Atomic int local_a;  /* process A's local-writer flag */
    _Atomic int local_b;  /* process B's */
    struct shmring__lv a; /* the setter's process */
    struct shmring__lv b; /* another process */
};

static int lock_held(void *ctx)
{
    return ((struct tv *)ctx)->lock_held;
}

static int pause_cb(void *ctx, uint32_t round)
{
    struct tv *t = ctx;
    t->rounds = round + 1;
    return round + 1 >= t->max_rounds ? SHMRING_ETIMEDOUT : 0;
}

static struct tv *tv_new(uint64_t size)
{
    struct tv *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->mem = t_aligned_alloc(SHMRING__ALIGN, (size_t)size); /* exact size: ASan sees overruns */
    assert_non_null(t->mem);
    memset(t->mem, 0xEE, (size_t)size);
    assert_int_equal(shmring__ring_format(t->mem, size, SHMRING__F_LEGACY), 0);
    t->max_rounds = 1000;
    struct shmring__lv *v[2] = {&t->a, &t->b};
    _Atomic int *local[2] = {&t->local_a, &t->local_b};
    for (int i = 0; i < 2; i++) {
        v[i]->hdr = (struct shmring__hdr *)t->mem;
        v[i]->data = t->mem + SHMRING_HEADER_SIZE;
        v[i]->cap = size - SHMRING_HEADER_SIZE;
        v[i]->local_writer = local[i];
        v[i]->setter_lock_held = lock_held;
        v[i]->pause = pause_cb;
        v[i]->ctx = t;
    }
    return t;
}

static void tv_free(struct tv *t)
{
    t_aligned_free(t->mem);
    free(t);
}

static uint64_t seq_of(struct tv *t)
{
    return atomic_load(&((struct shmring__hdr *)t->mem)->legacy_seq);
}

static void fill(char *s, size_t n, char base)
{
    for (size_t i = 0; i < n; i++) {
        s[i] = (char)(base + (char)(i % 23));
    }
    s[n] = '\0';
}

/* Gets through b with a buffer of cch bytes and checks the result and the string. */
static void expect(struct tv *t, uint64_t cch, int want_rc, const char *want)
{
    static char buf[CAP + 1];
    memset(buf, 0x55, sizeof buf);
    assert_int_equal(shmring__lv_get(&t->b, buf, cch), want_rc);
    assert_string_equal(buf, want);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_empty_then_set_get(void **state)
{
    (void)state;
    struct tv *t = tv_new(SIZE);
    expect(t, CAP, 0, ""); /* a fresh value is the empty string */
    assert_int_equal(shmring__lv_set(&t->a, "hello", 5), 5);
    expect(t, CAP, 0, "hello");
    assert_int_equal(shmring__lv_set(&t->a, "", 0), 0);
    expect(t, CAP, 0, "");
    assert_int_equal(seq_of(t) % 2, 0);
    char buf[1];
    assert_int_equal(shmring__lv_get(&t->b, buf, 0), SHMRING_EINVAL);
    tv_free(t);
}

/* Values that fit beside the current one alternate between the two ends: seq moves by 2 each
 * time and the previous bytes are never touched. */
static void test_alternating_ends(void **state)
{
    (void)state;
    struct tv *t = tv_new(SIZE);
    char s[1501];
    for (unsigned i = 0; i < 20; i++) {
        fill(s, 1000 + 25 * i, (char)('A' + i % 20));
        uint64_t before = seq_of(t);
        shmring__lv_set(&t->a, s, strlen(s));
        assert_int_equal(seq_of(t), before + 2);
        expect(t, CAP, 0, s);
        uint64_t cur = atomic_load(&t->a.hdr->legacy_cur);
        uint64_t off = cur >> 32, len = cur & 0xffffffffu;
        assert_true(off == 0 || off + len == CAP); /* flush left or flush right */
    }
    tv_free(t);
}

/* Old + new longer than the data area: overwritten in place, seq odd during the copy. */
static void test_overwrite_in_place(void **state)
{
    (void)state;
    struct tv *t = tv_new(SIZE);
    char s1[2001], s2[3001];
    fill(s1, 2000, 'a');
    fill(s2, 3000, 'K');
    shmring__lv_set(&t->a, s1, 2000);
    uint64_t before = seq_of(t);
    shmring__lv_set(&t->a, s2, 3000);
    assert_int_equal(seq_of(t), (before | 1) + 1); /* W3 then R2 */
    assert_int_equal(atomic_load(&t->local_a), 0);
    assert_int_equal(atomic_load(&t->a.hdr->legacy_cur), 3000); /* offset 0 */
    expect(t, CAP, 0, s2);
    tv_free(t);
}

/* A setter that dies while its new value fits beside the old one leaves the old one current. */
static void test_death_keeps_previous(void **state)
{
    (void)state;
    struct tv *t = tv_new(SIZE);
    shmring__lv_set(&t->a, "previous", 8);
    char s[1001];
    fill(s, 1000, 'x');
    die_in_copy = 1;
    if (setjmp(died) == 0) {
        shmring__lv_set(&t->a, s, 1000);
        fail_msg("the copy should have died");
    }
    expect(t, CAP, 0, "previous");
    shmring__lv_set(&t->a, "next", 4); /* later sets carry on */
    expect(t, CAP, 0, "next");
    tv_free(t);
}

/* A setter that dies overwriting in place: the value is lost, never torn. While its lock is held
 * (it may be a slow live setter) getters wait and give up with what pause() says; once the lock
 * is free (it died) they report SHMRING_EOWNERDEAD and "", until the next set repairs it. */
static void test_death_in_place(void **state)
{
    (void)state;
    struct tv *t = tv_new(SIZE);
    char s1[2001], s2[3001];
    fill(s1, 2000, 'a');
    fill(s2, 3000, 'K');
    shmring__lv_set(&t->a, s1, 2000);
    die_in_copy = 1;
    if (setjmp(died) == 0) {
        shmring__lv_set(&t->a, s2, 3000);
        fail_msg("the copy should have died");
    }
    assert_int_equal(seq_of(t) % 2, 1);
    t->lock_held = 1; /* the setter's process still holds the lock: it may be alive */
    expect(t, CAP, SHMRING_ETIMEDOUT, "");
    assert_int_equal(t->rounds, t->max_rounds);
    t->lock_held = SHMRING_EACCES; /* an error of the query counts as "alive" too */
    expect(t, CAP, SHMRING_ETIMEDOUT, "");
    t->lock_held = 0; /* the process died: the kernel dropped its lock */
    expect(t, CAP, SHMRING_EOWNERDEAD, "");
    /* Its own process's threads see their local flag instead (the lock is invisible to them):
     * the setter's flag is still 1, so they wait. */
    static char buf[64];
    assert_int_equal(shmring__lv_get(&t->a, buf, sizeof buf), SHMRING_ETIMEDOUT);
    atomic_store(&t->local_a, 0);
    shmring__lv_set(&t->b, "repaired", 8);
    assert_int_equal(seq_of(t) % 2, 0);
    expect(t, CAP, 0, "repaired");
    tv_free(t);
}

/* Bounds in legacy_cur that do not fit the data area (or exceed the maximum) are a scribble:
 * SHMRING_EPROTO and "", never a read outside; the next set repairs them. */
static void test_corrupt_bounds(void **state)
{
    (void)state;
    struct tv *t = tv_new(SIZE);
    const uint64_t bad[] = {
        (uint64_t)0 << 32 | (CAP + 1),             /* longer than the data area */
        (uint64_t)CAP << 32 | 1,                   /* starts at its end */
        (uint64_t)(CAP - 10) << 32 | 11,           /* runs past its end */
        (uint64_t)0 << 32 | (SHMRING__LV_MAX + 1), /* fits, but longer than any set stores */
        UINT64_MAX,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atomic_store(&t->a.hdr->legacy_cur, bad[i]);
        expect(t, CAP, SHMRING_EPROTO, "");
        shmring__lv_set(&t->a, "fixed", 5);
        expect(t, CAP, 0, "fixed");
    }
    tv_free(t);
}

/* Values are cut to SHMRING__LV_MAX bytes, and to the caller's buffer. */
static void test_truncation(void **state)
{
    (void)state;
    struct tv *t = tv_new(SIZE);
    static char s[4001], want[4001];
    fill(s, 4000, 'A');
    assert_int_equal(shmring__lv_set(&t->a, s, 4000), SHMRING__LV_MAX);
    memcpy(want, s, SHMRING__LV_MAX);
    want[SHMRING__LV_MAX] = '\0';
    expect(t, CAP, 0, want);
    want[9] = '\0';
    expect(t, 10, 0, want); /* 9 bytes and the NUL */
    expect(t, 1, 0, "");
    tv_free(t);
    /* A data area smaller than the maximum cuts to the area. */
    t = tv_new(1024);
    assert_int_equal(shmring__lv_set(&t->a, s, 4000), 1024 - SHMRING_HEADER_SIZE);
    memcpy(want, s, 1024 - SHMRING_HEADER_SIZE);
    want[1024 - SHMRING_HEADER_SIZE] = '\0';
    expect(t, CAP, 0, want);
    tv_free(t);
}

/* A getter racing a setter (simulated: seq moves between its copy and its re-check) retries. */
static int moving_pause(void *ctx, uint32_t round)
{
    struct tv *t = ctx;
    t->rounds = round + 1;
    return round < 3 ? 0 : SHMRING_ETIMEDOUT;
}

static void test_odd_then_even(void **state)
{
    (void)state;
    struct tv *t = tv_new(SIZE);
    shmring__lv_set(&t->a, "stable", 6);
    uint64_t s = seq_of(t);
    atomic_store(&t->a.hdr->legacy_seq, s + 1); /* a live in-place setter (lock held) */
    t->lock_held = 1;
    t->b.pause = moving_pause;
    expect(t, CAP, SHMRING_ETIMEDOUT, "");
    atomic_store(&t->a.hdr->legacy_seq, s + 2); /* it finished (cur unchanged here) */
    expect(t, CAP, 0, "stable");
    assert_int_equal(copies > 0, 1);
    tv_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_then_set_get), cmocka_unit_test(test_alternating_ends),
        cmocka_unit_test(test_overwrite_in_place), cmocka_unit_test(test_death_keeps_previous),
        cmocka_unit_test(test_death_in_place),     cmocka_unit_test(test_corrupt_bounds),
        cmocka_unit_test(test_truncation),         cmocka_unit_test(test_odd_then_even),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
