/* SPDX-License-Identifier: MIT */
/* Opening what is already under a name: foreign or corrupt objects are refused and left alone,
 * abandoned ones start afresh, an observer may look at the set/get mapping, and corruption seen
 * through the API is reported. On Windows the objects are sections this process plants and holds
 * (test_open_util.c); what needs an object nobody holds (abandoned rings) is POSIX-only, as such a
 * section cannot exist there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#include <sddl.h>

#include "platform_win.h" /* shmring__win_object_name */
#else
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "ring.h"
#include "shmring.h"
#include "shmring_compat.h"
#include "t_shared.h" /* t_setenv */
#include "testutil.h"
#include "test_open_util.h"

/* ---- what is already under the name -------------------------------------------------------- */

/* Contents an opener must refuse with -EPROTO, whether it may create or not, leaving the
 * object exactly as it was. */
static void expect_refused_by(const char *name, const void *bytes, size_t len, size_t nroles)
{
    plant(name, bytes, len);
    const int roles[] = {SHMRING_PRODUCER, SHMRING_CONSUMER, SHMRING_OBSERVER};
    for (size_t i = 0; i < nroles; i++) {
        shmring *r = (shmring *)(uintptr_t)1;
        assert_int_equal(shmring_open(name, roles[i], &create_opts, &r), SHMRING_EPROTO);
        assert_null(r);
        assert_int_equal(shmring_open(name, roles[i], &attach_opts, &r), SHMRING_EPROTO);
    }
    assert_true(holds(name, bytes, len));
    unplant(name);
}

static void expect_refused(const char *name, const void *bytes, size_t len)
{
    expect_refused_by(name, bytes, len, 3);
}

static void test_refuses_foreign_objects(void **state)
{
    (void)state;
    const char *name = t_name("foreign");
    uint8_t *junk = malloc(8192);
    uint64_t rng = 42;
    for (size_t i = 0; i < 8192; i++) {
        junk[i] = (uint8_t)(t_rand(&rng) >> 56);
    }
    expect_refused(name, junk, 4096); /* garbage bytes */
    memset(junk, 0xff, 4096);
    expect_refused(name, junk, 4096);

    /* A valid header with a different layout version. */
    uint8_t *img = image(4096, 0);
    struct shmring__hdr *h = (struct shmring__hdr *)img;
    atomic_store(&h->version, SHMRING_LAYOUT_VERSION + 1);
    expect_refused(name, img, 4096);
    free(img);

    /* Sizes inconsistent with each other or with the object. */
    img = image(8192, 0);            /* claims 8192 bytes ... */
    expect_refused(name, img, 4096); /* ... in a 4096-byte object */
    free(img);
    img = image(4096, 0);
    expect_refused(name, img, 8192); /* the other way round */
    h = (struct shmring__hdr *)img;
    h->capacity += 8;
    expect_refused(name, img, 4096);
    free(img);
    img = image(4096, 0);
    h = (struct shmring__hdr *)img;
    h->max_msg = 4000; /* a peer trusting this would overrun the data area */
    expect_refused(name, img, 4096);
    free(img);
    img = image(4096, 0);
    h = (struct shmring__hdr *)img;
    h->header_size = 256;
    expect_refused(name, img, 4096);
    free(img);
    img = image(4096, 0);
    h = (struct shmring__hdr *)img;
    h->flags = 0x100;
    expect_refused(name, img, 4096);
    free(img);
    /* A set/get value area is not a queue (an observer may look at it: see
     * test_observer_opens_legacy). */
    img = image(4096, SHMRING__F_LEGACY);
    expect_refused_by(name, img, 4096, 2);
    free(img);

    /* Object sizes that no shmring has: not a page multiple, too small, not even a header.
     * (Windows sections are whole pages of zeros beyond what was written: 5000 bytes are 8192
     * there, still not what the header says; 2048 or 100 bytes of this image are a whole valid
     * 4096-byte empty ring, so those two cases are POSIX-only.) */
    img = image(4096, 0);
    memset(junk, 0, 8192);
    memcpy(junk, img, 4096);
    expect_refused(name, junk, 5000);
#ifndef _WIN32
    expect_refused(name, junk, 2048);
    expect_refused(name, junk, 100);
#endif
    free(img);
    free(junk);
}

/* An observer may open the SetSharedMem/GetSharedMem mapping: its stats say KIND_LEGACY with the
 * mapping's size and no traffic, and the value is untouched. A producer or consumer is still
 * refused, and so is a legacy attach of a queue. */
struct legacy_arg {
    char name[256];
};

static int child_legacy_attach_of_queue(void *arg)
{
    t_setenv("SHMRING_COMPAT_NAME", ((struct legacy_arg *)arg)->name);
    SetSharedMem("x");
    return shmring_compat_status() == SHMRING_EPROTO ? 0 : 1;
}

static void test_observer_opens_legacy(void **state)
{
    (void)state;
    const char *name = t_name("legacy-obs");
    t_setenv("SHMRING_COMPAT_NAME", name);
    SetSharedMem("hello, observer"); /* this process now holds the value mapping */
    assert_int_equal(shmring_compat_status(), 0);

    shmring *o = open_ok(name, SHMRING_OBSERVER, &attach_opts);
    struct shmring_stats st;
    assert_int_equal(shmring_stats(o, &st), 0);
    assert_int_equal(st.kind, SHMRING_KIND_LEGACY);
    assert_int_equal(st.size, SHMRING_COMPAT_SIZE);
    assert_int_equal(st.capacity, SHMRING_COMPAT_SIZE - SHMRING_HEADER_SIZE);
    assert_int_equal(shmring_capacity(o), SHMRING_COMPAT_SIZE - SHMRING_HEADER_SIZE);
    assert_int_equal(st.sent_msgs + st.recv_msgs + st.sent_bytes + st.recv_bytes, 0);
    assert_int_equal(st.head, 0);
    assert_int_equal(st.tail, 0);
    assert_int_equal(st.producer_pid, 0);
    assert_int_equal(st.consumer_pid, 0);
    assert_int_equal(st.flags, 0);
    uint8_t buf[16];
    /* an observer reads nothing */
    assert_int_equal(shmring_recv(o, buf, sizeof buf), SHMRING_EPERM);
    /* Opening with CREATE (the default options) finds it too, and changes nothing. */
    shmring *o2 = open_ok(name, SHMRING_OBSERVER, NULL);
    assert_int_equal(shmring_stats(o2, &st), 0);
    assert_int_equal(st.kind, SHMRING_KIND_LEGACY);
    shmring_close(o2);

    shmring *r = (shmring *)(uintptr_t)1;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &attach_opts, &r), SHMRING_EPROTO);
    assert_null(r);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &create_opts, &r), SHMRING_EPROTO);
    assert_null(r);
    shmring_close(o);
    char got[64];
    GetSharedMem(got, sizeof got);
    assert_string_equal(got, "hello, observer");

    /* The other way round: the set/get calls refuse a queue. */
    struct legacy_arg q_arg;
    snprintf(q_arg.name, sizeof q_arg.name, "%s", t_name("legacy-q"));
    shmring *q = open_ok(q_arg.name, SHMRING_OBSERVER, &create_opts);
    assert_int_equal(shmring_stats(q, &st), 0);
    assert_int_equal(st.kind, SHMRING_KIND_SPSC);
    assert_int_equal(t_proc_wait(t_spawn_flat(child_legacy_attach_of_queue, &q_arg, sizeof q_arg)),
                     0);
    shmring_close(q);
}

/* Contents that mean "nobody finished or nobody is using this": the opener starts afresh.
 * POSIX-only: on Windows a section without a holder does not exist (it went with its last
 * handle), so there is nothing abandoned to find; test_open_lifecycle's test_initialiser_died
 * shows what is left instead. */
#ifndef _WIN32
static void test_reinitialises_abandoned(void **state)
{
    (void)state;
    const char *name = t_name("aband");
    struct shmring_stats s;

    /* All zero: an initialiser that sized the object and died before writing anything. */
    uint8_t *zero = calloc(1, 8192);
    plant(name, zero, 8192);
    shmring *c = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    assert_int_equal(shmring_capacity(c), 8192 - SHMRING_HEADER_SIZE);
    struct view v = view_map(name);
    assert_int_equal(atomic_load(&v.h->generation), 1);
    assert_int_equal(shmring__ring_check(v.h, v.size), 0);
    view_unmap(&v);
    shmring_close(c);
    assert_false(t_shm_exists(name));
    free(zero);

    /* A valid, non-persistent ring with messages that nobody has open: its users died without
     * removing the name. It starts afresh, one generation later, without the old messages. */
    uint8_t *img = image(4096, 0);
    struct shmring__hdr *h = (struct shmring__hdr *)img;
    atomic_store(&h->generation, 7);
    atomic_store(&h->tail, 16);
    atomic_store(&h->sent_msgs, 1);
    struct shmring__rec rec = {8, SHMRING__REC_MSG};
    memcpy(img + SHMRING_HEADER_SIZE, &rec, sizeof rec);
    plant(name, img, 4096);
    c = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    v = view_map(name);
    assert_int_equal(atomic_load(&v.h->generation), 8);
    view_unmap(&v);
    assert_int_equal(shmring_stats(c, &s), 0);
    assert_int_equal(s.tail, 0);
    assert_int_equal(s.sent_msgs, 0);
    assert_int_equal(shmring_recv(c, NULL, 0), SHMRING_EAGAIN);
    shmring_close(c);

    /* The same but persistent: kept as it is, message included. */
    h->flags = SHMRING__F_PERSIST;
    plant(name, img, 4096);
    c = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    v = view_map(name);
    assert_int_equal(atomic_load(&v.h->generation), 7);
    view_unmap(&v);
    uint8_t buf[8];
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 8);
    shmring_close(c);
    assert_true(t_shm_exists(name)); /* persistent */
    assert_int_equal(shmring_unlink(name), 0);
    free(img);

    /* An object of size 0: its creator died before sizing it. Creating takes it over; merely
     * attaching finds no ring there. */
    plant(name, NULL, 0);
    shmring *r = NULL;
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &attach_opts, &r), SHMRING_ENOENT);
    assert_true(t_shm_exists(name));
    c = open_ok(name, SHMRING_CONSUMER, &create_opts);
    assert_int_equal(shmring_capacity(c), 4096 - SHMRING_HEADER_SIZE);
    shmring_close(c);
    assert_false(t_shm_exists(name));
}
#endif

/* While another handle is attached nothing is re-initialised: a header that does not check out
 * is refused, even one that says "not initialised yet". */
static void test_attached_ring_is_not_reinitialised(void **state)
{
    (void)state;
    const char *name = t_name("attached");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    send_seq(p, 10, 1);
    struct view v = view_map(name);
    uint8_t saved[SHMRING_HEADER_SIZE];
    memcpy(saved, v.h, sizeof saved);
    shmring *r = NULL;

    atomic_store(&v.h->version, 0);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), SHMRING_EPROTO);
    memcpy(v.h, saved, sizeof saved);
    atomic_store(&v.h->version, SHMRING_LAYOUT_VERSION + 1);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), SHMRING_EPROTO);
    memcpy(v.h, saved, sizeof saved);
    atomic_store(&v.h->magic, 12345);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, NULL, &r), SHMRING_EPROTO);
    memcpy(v.h, saved, sizeof saved);
    v.h->total_size = 8192;
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, NULL, &r), SHMRING_EPROTO);
    memcpy(v.h, saved, sizeof saved);

    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    assert_int_equal(atomic_load(&v.h->generation), 1);
    recv_seq(c, 10, 1); /* the message sent before is still there */
    shmring_close(c);
    shmring_close(p);
    view_unmap(&v);
}

#ifdef _WIN32
/* Owned by someone else: refused unless SHMRING_ANY_OWNER. A ring planted with the owner
 * BUILTIN\Administrators (a group the token may name as owner when it is in it; else skipped) and
 * a DACL that lets this user in, so only the owner check can refuse it. */
static void test_foreign_owner(void **state)
{
    (void)state;
    const char *name = t_name("owner");
    wchar_t on[300];
    assert_int_equal(shmring__win_object_name(name, ".mem", on, 300), 0);
    PSECURITY_DESCRIPTOR sd = NULL;
    assert_true(ConvertStringSecurityDescriptorToSecurityDescriptorW(L"O:BAD:P(A;;GA;;;WD)",
                                                                     SDDL_REVISION_1, &sd, NULL));
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0, 4096, on);
    LocalFree(sd);
    if (h == NULL) {
        printf("skipped: this token cannot plant a section owned by Administrators (error %lu)\n",
               GetLastError());
        skip();
    }
    uint8_t *img = image(4096, 0);
    void *v = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 4096);
    assert_non_null(v);
    memcpy(v, img, 4096);
    UnmapViewOfFile(v);
    free(img);
    shmring *r = (shmring *)(uintptr_t)1;
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), SHMRING_EACCES);
    assert_null(r);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &attach_opts, &r), SHMRING_EACCES);
    const struct shmring_opts any = {.flags = SHMRING_ANY_OWNER};
    r = open_ok(name, SHMRING_CONSUMER, &any);
    assert_int_equal(shmring_capacity(r), 4096 - SHMRING_HEADER_SIZE);
    shmring_close(r);
    CloseHandle(h);
    assert_false(t_shm_exists(name));
}
#else
/* Owned by another user: refused unless SHMRING_ANY_OWNER (needs root to plant such a file). */
static void test_foreign_owner(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    const char *name = t_name("owner");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    char path[512];
    shm_path(name, path, sizeof path);
    assert_int_equal(chown(path, 12345, 12345), 0);
    shmring *r = NULL;
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), SHMRING_EACCES);
    const struct shmring_opts any = {.flags = SHMRING_ANY_OWNER};
    r = open_ok(name, SHMRING_CONSUMER, &any);
    shmring_close(r);
    shmring_close(p);
}
#endif

/* ---- corruption seen through the API ----------------------------------------------------------
 */

/* The ring-level checks (test_ring) reach the caller, and stick: once corruption was seen, the
 * handle refuses to go on rather than read or write on the strength of a bad index. */
static void test_corruption_is_reported(void **state)
{
    (void)state;
    const char *name = t_name("corrupt");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    struct view v = view_map(name);
    uint8_t buf[64];
    const void *msg = NULL;
    void *slot = NULL;
    struct shmring_buf iov = {buf, 8};

    /* A record header overwritten behind the producer's back. */
    send_seq(p, 16, 1);
    struct shmring__rec bad = {16, 0xdeadbeef};
    memcpy((uint8_t *)v.h + SHMRING_HEADER_SIZE, &bad, sizeof bad);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EBADMSG);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EBADMSG);
    assert_int_equal(shmring_peek(c, &msg), SHMRING_EBADMSG);
    assert_int_equal(shmring_drain(c, nop_handler, NULL, 0), SHMRING_EBADMSG);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, 1000000), SHMRING_EBADMSG);
    struct shmring_stats s;
    assert_int_equal(shmring_stats(c, &s), 0);
    assert_int_equal(s.recv_msgs, 0);
    shmring_close(c);
    shmring_close(p);
    view_unmap(&v);

    /* A tail that ran backwards: the consumer stops with -EPROTO. */
    p = open_ok(name, SHMRING_PRODUCER, NULL);
    c = open_ok(name, SHMRING_CONSUMER, NULL);
    v = view_map(name);
    send_seq(p, 16, 1);
    recv_seq(c, 16, 1);
    atomic_store(&v.h->tail, 8);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EPROTO);
    atomic_store(&v.h->tail, 24); /* put right again: the handle still refuses */
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EPROTO);

    /* A head beyond the tail: the producer stops with -EPROTO once it has to look at it. */
    while (shmring_send(p, buf, 40) == 0) {
    }
    atomic_store(&v.h->head, atomic_load(&v.h->tail) + 64);
    assert_int_equal(shmring_send(p, buf, 40), SHMRING_EPROTO);
    assert_int_equal(shmring_send(p, buf, 0), SHMRING_EPROTO);
    assert_int_equal(shmring_reserve(p, 8, &slot), SHMRING_EPROTO);
    assert_int_equal(shmring_send_batch(p, &iov, 1), SHMRING_EPROTO);
    assert_int_equal(shmring_send_wait(p, buf, 8, 1000000), SHMRING_EPROTO);
    shmring_close(c);
    shmring_close(p);
    view_unmap(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_foreign_objects),
        cmocka_unit_test(test_observer_opens_legacy),
#ifndef _WIN32 /* no section outlives its last handle (see the test) */
        cmocka_unit_test(test_reinitialises_abandoned),
#endif
        cmocka_unit_test(test_attached_ring_is_not_reinitialised),
        cmocka_unit_test(test_foreign_owner),
        cmocka_unit_test(test_corruption_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
