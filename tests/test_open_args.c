/* SPDX-License-Identifier: MIT */
/* Opening through the public API: names, sizes, creation flags, unlink and error texts.
 * Windows (no object files, no unlink, no persistent rings): the file checks are POSIX-only and
 * unlink, SHMRING_PERSIST and group/other modes are checked to say SHMRING_ENOSYS/_ENOTSUP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <errno.h>
#include <sys/stat.h>
#endif

#include "t_cmocka.h"

#include "handle.h" /* SHMRING__ROLE_LEGACY */
#include "ring.h"
#include "shmring.h"
#include "shmring_compat.h"
#include "testutil.h"
#include "test_open_util.h"

/* ---- names ------------------------------------------------------------------------------ */

static void test_bad_names(void **state)
{
    (void)state;
    char long_name[SHMRING_NAME_MAX + 2];
    memset(long_name, 'a', SHMRING_NAME_MAX + 1);
    long_name[SHMRING_NAME_MAX + 1] = '\0';
    const char *bad[] = {"",  ".",    "..",   long_name, "a/b", "/abc", "abc/",     "a b",
                         " ", "a\tb", "a\nb", "a:b",     "a*",  "a\\b", "\xc3\xa4", "abc\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shmring *r = (shmring *)(uintptr_t)1;
        assert_int_equal(shmring_open(bad[i], SHMRING_PRODUCER, NULL, &r), SHMRING_EINVAL);
        assert_null(r);
        assert_int_equal(shmring_unlink(bad[i]), SHMRING_EINVAL);
    }
    shmring *r = NULL;
    assert_int_equal(shmring_open(NULL, SHMRING_PRODUCER, NULL, &r), SHMRING_EINVAL);
    assert_int_equal(shmring_unlink(NULL), SHMRING_EINVAL);
    assert_int_equal(shmring_open(t_name("x"), SHMRING_PRODUCER, NULL, NULL), SHMRING_EINVAL);
    /* Nothing was created for the names that could exist as files. */
    assert_false(t_shm_exists("a b"));
    assert_false(t_shm_exists("a:b"));
    assert_false(t_shm_exists(long_name));
}

static void test_name_limits(void **state)
{
    (void)state;
    char name[SHMRING_NAME_MAX + 2];
    snprintf(name, sizeof name, "%s-", t_name("n200"));
    size_t n = strlen(name);
    memset(name + n, 'z', SHMRING_NAME_MAX - n);
    name[SHMRING_NAME_MAX] = '\0';
    assert_int_equal(strlen(name), 200);
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    assert_string_equal(shmring_name(p), name);
    assert_true(t_shm_exists(name));
    shmring *c = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    send_seq(p, 20, 1);
    recv_seq(c, 20, 1);
    /* The same name plus one character is refused. */
    name[SHMRING_NAME_MAX] = 'z';
    name[SHMRING_NAME_MAX + 1] = '\0';
    shmring *r = NULL;
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, NULL, &r), SHMRING_EINVAL);
    name[SHMRING_NAME_MAX] = '\0';
    shmring_close(c);
    shmring_close(p);
    assert_false(t_shm_exists(name)); /* the last close removed it */
    /* Every allowed character class. */
    char odd[64];
    snprintf(odd, sizeof odd, "%s.A-Z_a.z-09", t_name("chars"));
    p = open_ok(odd, SHMRING_PRODUCER, NULL);
    assert_true(t_shm_exists(odd));
    shmring_close(p);
    p = open_ok("...", SHMRING_OBSERVER, NULL); /* only "." and ".." are special */
    shmring_close(p);
}

/* ---- sizes ------------------------------------------------------------------------------- */

static void test_default_size(void **state)
{
    (void)state;
    const char *name = t_name("dflt");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
#ifndef _WIN32
    char path[512];
    struct stat st;
    shm_path(name, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4096);
    assert_int_equal(st.st_mode & 0777, 0600);
#endif
    assert_int_equal(shmring_capacity(p), 3584);
    assert_true(shmring_max_msg(p) >= 3584 / 2 - 8);
    struct shmring_stats s;
    assert_int_equal(shmring_stats(p, &s), 0);
    assert_int_equal(s.size, 4096);
    assert_int_equal(s.capacity, 3584);
    assert_int_equal(s.max_msg, shmring_max_msg(p));
    /* The largest message goes through; one byte more is refused. */
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    size_t max = shmring_max_msg(p);
    send_seq(p, max, 5);
    uint8_t big[4096];
    assert_int_equal(shmring_send(p, big, max + 1), SHMRING_EMSGSIZE);
    recv_seq(c, max, 5);
    shmring_close(c);
    shmring_close(p);

    /* opts.mode sets the permission bits exactly (not filtered by the umask). 0660, not 0640:
     * read without write is never given to group or others (issue #10, test_faults). */
    const struct shmring_opts m = {.mode = 0660, .flags = SHMRING_CREATE};
#ifdef _WIN32
    /* One owner-only descriptor: group and other bits are refused, not ignored. */
    shmring *r = (shmring *)(uintptr_t)1;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &m, &r), SHMRING_ENOTSUP);
    assert_null(r);
    assert_false(t_shm_exists(name));
#else
    mode_t old = umask(077);
    p = open_ok(name, SHMRING_PRODUCER, &m);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    shmring_close(p);
#endif
}

static void test_size_option(void **state)
{
    (void)state;
    const char *name = t_name("size");
    const struct shmring_opts mib = {.size = 1 << 20, .flags = SHMRING_CREATE};
    shmring *p = open_ok(name, SHMRING_PRODUCER, &mib);
#ifndef _WIN32
    char path[512];
    struct stat st;
    shm_path(name, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1 << 20);
#endif
    size_t cap = (1 << 20) - SHMRING_HEADER_SIZE;
    assert_int_equal(shmring_capacity(p), cap);
    assert_true(shmring_max_msg(p) >= cap / 2 - 8);
    /* A max-size message through the 1 MiB ring. */
    shmring *c = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    size_t max = shmring_max_msg(p);
    uint8_t *buf = malloc(max + 1);
    assert_non_null(buf);
    t_msg_fill(buf, max, 77);
    assert_int_equal(shmring_send(p, buf, max), 0);
    assert_int_equal(shmring_send(p, buf, max + 1), SHMRING_EMSGSIZE);
    memset(buf, 0, max);
    assert_int_equal(shmring_recv(c, buf, max), (ssize_t)max);
    assert_true(t_msg_check(buf, max, 77));
    free(buf);

    /* A different non-zero size while others are attached: -EINVAL; 0 takes the existing. */
    const size_t other[] = {4096, 2 << 20, (1 << 20) + 4096};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        const struct shmring_opts o = {.size = other[i], .flags = SHMRING_CREATE};
        shmring *r = NULL;
        assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &o, &r), SHMRING_EINVAL);
    }
    shmring *obs = open_ok(name, SHMRING_OBSERVER, &mib);
    shmring_close(obs);
    shmring_close(c);
    shmring_close(p);

    /* Sizes that are never valid. */
    /* (With a 32-bit size_t the last one would wrap to 4096: there no size_t is too big.) */
    const size_t bad[] = {
        1, 8, 2048, 4096 + 8, 5000, 4096 * 3 + 1, (size_t)SHMRING_MAX_SIZE + 4096};
    const size_t nbad = sizeof bad / sizeof bad[0] - (SIZE_MAX <= SHMRING_MAX_SIZE);
    for (size_t i = 0; i < nbad; i++) {
        const struct shmring_opts o = {.size = bad[i], .flags = SHMRING_CREATE};
        shmring *r = NULL;
        assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &o, &r), SHMRING_EINVAL);
        assert_false(t_shm_exists(name));
    }

    /* A different size for a persistent ring nobody has open: -EINVAL too, and it is kept. */
    const struct shmring_opts ps = {.size = 8192, .flags = SHMRING_CREATE | SHMRING_PERSIST};
#ifdef _WIN32
    /* A section ends with its last handle: no persistent rings. */
    shmring *r = (shmring *)(uintptr_t)1;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &ps, &r), SHMRING_ENOTSUP);
    assert_null(r);
    assert_false(t_shm_exists(name));
#else
    p = open_ok(name, SHMRING_PRODUCER, &ps);
    shmring_close(p);
    assert_true(t_shm_exists(name));
    const struct shmring_opts big = {.size = 16384, .flags = SHMRING_CREATE};
    shmring *r = NULL;
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &big, &r), SHMRING_EINVAL);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 8192);
    r = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    assert_int_equal(shmring_capacity(r), 8192 - SHMRING_HEADER_SIZE);
    shmring_close(r);
    assert_int_equal(shmring_unlink(name), 0);
#endif
}

/* ---- creation flags and unlink ------------------------------------------------------------- */

static void test_create_flags(void **state)
{
    (void)state;
    const char *name = t_name("flags");
    shmring *r = NULL;
    /* No CREATE on a missing name. */
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &attach_opts, &r), SHMRING_ENOENT);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &attach_opts, &r), SHMRING_ENOENT);
    assert_false(t_shm_exists(name));
    /* EXCL without CREATE, unknown flags, bad modes and roles. */
    const struct shmring_opts excl_only = {.flags = SHMRING_EXCL};
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &excl_only, &r), SHMRING_EINVAL);
    const struct shmring_opts unknown = {.flags = SHMRING_CREATE | 0x100};
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &unknown, &r), SHMRING_EINVAL);
    const struct shmring_opts badmode = {.mode = 01777, .flags = SHMRING_CREATE};
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &badmode, &r), SHMRING_EINVAL);
    const int bad_roles[] = {0, 4, -1, SHMRING__ROLE_LEGACY};
    for (size_t i = 0; i < sizeof bad_roles / sizeof bad_roles[0]; i++) {
        assert_int_equal(shmring_open(name, bad_roles[i], NULL, &r), SHMRING_EINVAL);
    }
    assert_false(t_shm_exists(name));

    /* CREATE|EXCL creates; a second CREATE|EXCL is -EEXIST whatever the role. */
    const struct shmring_opts excl = {.flags = SHMRING_CREATE | SHMRING_EXCL};
    shmring *p = open_ok(name, SHMRING_PRODUCER, &excl);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &excl, &r), SHMRING_EEXIST);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &excl, &r), SHMRING_EEXIST);
    shmring *c = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    send_seq(p, 3, 3);
    recv_seq(c, 3, 3);
    shmring_close(c);
    shmring_close(p);
    assert_false(t_shm_exists(name));
}

#ifdef _WIN32
/* A section has no name apart from its handles: unlink says it cannot, and changes nothing. */
static void test_unlink(void **state)
{
    (void)state;
    const char *name = t_name("unl");
    assert_int_equal(shmring_unlink(name), SHMRING_ENOSYS);
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    assert_int_equal(shmring_unlink(name), SHMRING_ENOSYS);
    assert_true(t_shm_exists(name));
    shmring *o = open_ok(name, SHMRING_OBSERVER, &attach_opts); /* still the same ring */
    send_seq(p, 40, 9);
    struct shmring_stats s;
    assert_int_equal(shmring_stats(o, &s), 0);
    assert_int_equal(s.sent_msgs, 1);
    recv_seq(c, 40, 9);
    shmring_close(o);
    shmring_close(c);
    shmring_close(p);
    assert_false(t_shm_exists(name));
}
#else
static void test_unlink(void **state)
{
    (void)state;
    const char *name = t_name("unl");
    shmring *r = NULL;
    assert_int_equal(shmring_unlink(name), SHMRING_ENOENT);
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    assert_int_equal(shmring_unlink(name), 0);
    assert_false(t_shm_exists(name));
    assert_int_equal(shmring_unlink(name), SHMRING_ENOENT);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &attach_opts, &r), SHMRING_ENOENT);
    /* The open handles keep working on their (now nameless) ring. */
    send_seq(p, 40, 9);
    recv_seq(c, 40, 9);
    /* A new open creates a new ring under the name, which the old handles do not see. */
    shmring *p2 = NULL;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, NULL, &p2), 0);
    send_seq(p2, 8, 1);
    assert_int_equal(shmring_recv(c, NULL, 0), SHMRING_EAGAIN);
    shmring_close(p2);
    shmring_close(c);
    shmring_close(p);
    assert_false(t_shm_exists(name));
}
#endif

/* ---- error texts ----------------------------------------------------------------------------- */

static void test_strerror(void **state)
{
    (void)state;
    const int codes[] = {-SHMRING_EAGAIN,  -SHMRING_EMSGSIZE, -SHMRING_EINVAL, -SHMRING_EEXIST,
                         -SHMRING_ENOENT,  -SHMRING_EACCES,   -SHMRING_EPERM,  -SHMRING_EPROTO,
                         -SHMRING_EBADMSG, -SHMRING_EBUSY,    -SHMRING_EPIPE,  -SHMRING_ETIMEDOUT,
                         -SHMRING_EINTR};
    const size_t n = sizeof codes / sizeof codes[0];
    const char *unknown = shmring_strerror(-123456);
    assert_non_null(unknown);
    for (size_t i = 0; i < n; i++) {
        const char *s = shmring_strerror(-codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 3);
        assert_string_not_equal(s, unknown);
        assert_null(strstr(s, "unknown"));
        assert_string_equal(s, shmring_strerror(codes[i])); /* either sign */
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(s, shmring_strerror(-codes[j]));
        }
    }
    assert_string_not_equal(shmring_strerror(0), unknown);
    assert_string_equal(shmring_version(), SHMRING_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_names),    cmocka_unit_test(test_name_limits),
        cmocka_unit_test(test_default_size), cmocka_unit_test(test_size_option),
        cmocka_unit_test(test_create_flags), cmocka_unit_test(test_unlink),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
