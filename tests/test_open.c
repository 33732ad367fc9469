/* The public API on real shared memory: names, sizes, creation flags, validation of what is
 * already under a name, roles, call-order errors, batch semantics and error texts. Mostly one
 * process; the concurrent-first-attach and dead-initialiser tests fork.
 *
 * Where a test must see what another process would see (the shared tail and head), it maps
 * /dev/shm/<name> a second time instead of looking through the handle. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "handle.h" /* struct shmring: the concurrent-attach test reads the handle's descriptor */
#include "ring.h"
#include "shmring.h"
#include "shmring_compat.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static const struct shmring_opts create_opts = {.flags = SHMRING_CREATE};
static const struct shmring_opts attach_opts = {0};

static shmring *open_ok(const char *name, int role, const struct shmring_opts *opts)
{
    shmring *r = NULL;
    int rc = shmring_open(name, role, opts, &r);
    if (rc != 0) {
        fail_msg("shmring_open(%s, %d) = %d (%s)", name, role, rc, shmring_strerror(rc));
    }
    assert_non_null(r);
    return r;
}

static void shm_path(const char *name, char *path, size_t n)
{
    snprintf(path, n, "/dev/shm/%s", name);
}

/* Plants /dev/shm/<name> with exactly these bytes (as a foreign or crashed process would). */
static void plant(const char *name, const void *bytes, size_t len)
{
    char path[512];
    shm_path(name, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    if (len > 0) {
        assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    }
    close(fd);
}

/* 1 if /dev/shm/<name> holds exactly these bytes. */
static int holds(const char *name, const void *bytes, size_t len)
{
    char path[512];
    shm_path(name, path, sizeof path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 0;
    }
    uint8_t *buf = malloc(len + 1);
    ssize_t n = read(fd, buf, len + 1);
    close(fd);
    int same = n == (ssize_t)len && memcmp(buf, bytes, len) == 0;
    free(buf);
    return same;
}

/* A second, independent mapping of the whole object: what another process sees. */
struct view {
    struct shmring__hdr *h;
    size_t size;
};

static struct view view_map(const char *name)
{
    char path[512];
    shm_path(name, path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(p != MAP_FAILED);
    return (struct view){p, (size_t)st.st_size};
}

static void view_unmap(struct view *v)
{
    munmap(v->h, v->size);
}

/* A valid header image of `size` bytes (a formatted ring with nothing in it), in an 8 KiB
 * zeroed buffer so that it can also be planted as a larger object. */
static uint8_t *image(uint64_t size, uint32_t flags)
{
    assert_true(size <= 8192);
    uint8_t *img = calloc(1, 8192);
    assert_non_null(img);
    assert_int_equal(shmring__ring_format(img, size, flags), 0);
    return img;
}

static void send_seq(shmring *p, size_t len, uint64_t seq)
{
    uint8_t buf[4096];
    assert_true(len <= sizeof buf);
    t_msg_fill(buf, len, seq);
    assert_int_equal(shmring_send(p, buf, len), 0);
}

static void recv_seq(shmring *c, size_t len, uint64_t seq)
{
    uint8_t buf[4096];
    ssize_t n = shmring_recv(c, buf, sizeof buf);
    assert_int_equal(n, (ssize_t)len);
    assert_true(t_msg_check(buf, len, seq));
}

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
        assert_int_equal(shmring_open(bad[i], SHMRING_PRODUCER, NULL, &r), -EINVAL);
        assert_null(r);
        assert_int_equal(shmring_unlink(bad[i]), -EINVAL);
    }
    shmring *r = NULL;
    assert_int_equal(shmring_open(NULL, SHMRING_PRODUCER, NULL, &r), -EINVAL);
    assert_int_equal(shmring_unlink(NULL), -EINVAL);
    assert_int_equal(shmring_open(t_name("x"), SHMRING_PRODUCER, NULL, NULL), -EINVAL);
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
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, NULL, &r), -EINVAL);
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
    char path[512];
    struct stat st;
    shm_path(name, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4096);
    assert_int_equal(st.st_mode & 0777, 0600);
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
    assert_int_equal(shmring_send(p, big, max + 1), -EMSGSIZE);
    recv_seq(c, max, 5);
    shmring_close(c);
    shmring_close(p);

    /* opts.mode sets the permission bits exactly (not filtered by the umask). */
    const struct shmring_opts m = {.mode = 0640, .flags = SHMRING_CREATE};
    mode_t old = umask(077);
    p = open_ok(name, SHMRING_PRODUCER, &m);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    shmring_close(p);
}

static void test_size_option(void **state)
{
    (void)state;
    const char *name = t_name("size");
    const struct shmring_opts mib = {.size = 1 << 20, .flags = SHMRING_CREATE};
    shmring *p = open_ok(name, SHMRING_PRODUCER, &mib);
    char path[512];
    struct stat st;
    shm_path(name, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1 << 20);
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
    assert_int_equal(shmring_send(p, buf, max + 1), -EMSGSIZE);
    memset(buf, 0, max);
    assert_int_equal(shmring_recv(c, buf, max), (ssize_t)max);
    assert_true(t_msg_check(buf, max, 77));
    free(buf);

    /* A different non-zero size while others are attached: -EINVAL; 0 takes the existing. */
    const size_t other[] = {4096, 2 << 20, (1 << 20) + 4096};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        const struct shmring_opts o = {.size = other[i], .flags = SHMRING_CREATE};
        shmring *r = NULL;
        assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &o, &r), -EINVAL);
    }
    shmring *obs = open_ok(name, SHMRING_OBSERVER, &mib);
    shmring_close(obs);
    shmring_close(c);
    shmring_close(p);

    /* Sizes that are never valid. */
    const size_t bad[] = {
        1, 8, 2048, 4096 + 8, 5000, 4096 * 3 + 1, (size_t)SHMRING_MAX_SIZE + 4096};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct shmring_opts o = {.size = bad[i], .flags = SHMRING_CREATE};
        shmring *r = NULL;
        assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &o, &r), -EINVAL);
        assert_false(t_shm_exists(name));
    }

    /* A different size for a persistent ring nobody has open: -EINVAL too, and it is kept. */
    const struct shmring_opts ps = {.size = 8192, .flags = SHMRING_CREATE | SHMRING_PERSIST};
    p = open_ok(name, SHMRING_PRODUCER, &ps);
    shmring_close(p);
    assert_true(t_shm_exists(name));
    const struct shmring_opts big = {.size = 16384, .flags = SHMRING_CREATE};
    shmring *r = NULL;
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &big, &r), -EINVAL);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 8192);
    r = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    assert_int_equal(shmring_capacity(r), 8192 - SHMRING_HEADER_SIZE);
    shmring_close(r);
    assert_int_equal(shmring_unlink(name), 0);
}

/* ---- creation flags and unlink ------------------------------------------------------------- */

static void test_create_flags(void **state)
{
    (void)state;
    const char *name = t_name("flags");
    shmring *r = NULL;
    /* No CREATE on a missing name. */
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &attach_opts, &r), -ENOENT);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &attach_opts, &r), -ENOENT);
    assert_false(t_shm_exists(name));
    /* EXCL without CREATE, unknown flags, bad modes and roles. */
    const struct shmring_opts excl_only = {.flags = SHMRING_EXCL};
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &excl_only, &r), -EINVAL);
    const struct shmring_opts unknown = {.flags = SHMRING_CREATE | 0x100};
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &unknown, &r), -EINVAL);
    const struct shmring_opts badmode = {.mode = 01777, .flags = SHMRING_CREATE};
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &badmode, &r), -EINVAL);
    const int bad_roles[] = {0, 4, -1, SHMRING__ROLE_LEGACY};
    for (size_t i = 0; i < sizeof bad_roles / sizeof bad_roles[0]; i++) {
        assert_int_equal(shmring_open(name, bad_roles[i], NULL, &r), -EINVAL);
    }
    assert_false(t_shm_exists(name));

    /* CREATE|EXCL creates; a second CREATE|EXCL is -EEXIST whatever the role. */
    const struct shmring_opts excl = {.flags = SHMRING_CREATE | SHMRING_EXCL};
    shmring *p = open_ok(name, SHMRING_PRODUCER, &excl);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &excl, &r), -EEXIST);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &excl, &r), -EEXIST);
    shmring *c = open_ok(name, SHMRING_CONSUMER, &attach_opts);
    send_seq(p, 3, 3);
    recv_seq(c, 3, 3);
    shmring_close(c);
    shmring_close(p);
    assert_false(t_shm_exists(name));
}

static void test_unlink(void **state)
{
    (void)state;
    const char *name = t_name("unl");
    shmring *r = NULL;
    assert_int_equal(shmring_unlink(name), -ENOENT);
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    assert_int_equal(shmring_unlink(name), 0);
    assert_false(t_shm_exists(name));
    assert_int_equal(shmring_unlink(name), -ENOENT);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &attach_opts, &r), -ENOENT);
    /* The open handles keep working on their (now nameless) ring. */
    send_seq(p, 40, 9);
    recv_seq(c, 40, 9);
    /* A new open creates a new ring under the name, which the old handles do not see. */
    shmring *p2 = NULL;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, NULL, &p2), 0);
    send_seq(p2, 8, 1);
    assert_int_equal(shmring_recv(c, NULL, 0), -EAGAIN);
    shmring_close(p2);
    shmring_close(c);
    shmring_close(p);
    assert_false(t_shm_exists(name));
}

/* ---- what is already under the name -------------------------------------------------------- */

/* Contents an opener must refuse with -EPROTO, whether it may create or not, leaving the
 * object exactly as it was. */
static void expect_refused_by(const char *name, const void *bytes, size_t len, size_t nroles)
{
    plant(name, bytes, len);
    const int roles[] = {SHMRING_PRODUCER, SHMRING_CONSUMER, SHMRING_OBSERVER};
    for (size_t i = 0; i < nroles; i++) {
        shmring *r = (shmring *)(uintptr_t)1;
        assert_int_equal(shmring_open(name, roles[i], &create_opts, &r), -EPROTO);
        assert_null(r);
        assert_int_equal(shmring_open(name, roles[i], &attach_opts, &r), -EPROTO);
    }
    assert_true(holds(name, bytes, len));
    assert_int_equal(shmring_unlink(name), 0);
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

    /* Object sizes that no shmring has: not a page multiple, too small, not even a header. */
    img = image(4096, 0);
    memset(junk, 0, 8192);
    memcpy(junk, img, 4096);
    expect_refused(name, junk, 5000);
    expect_refused(name, junk, 2048);
    expect_refused(name, junk, 100);
    free(img);
    free(junk);
}

/* An observer may open the SetSharedMem/GetSharedMem mapping: its stats say KIND_LEGACY with the
 * mapping's size and no traffic, and the value is untouched. A producer or consumer is still
 * refused, and so is a legacy attach of a queue. */
static int child_legacy_attach_of_queue(void *arg)
{
    setenv("SHMRING_COMPAT_NAME", arg, 1);
    SetSharedMem("x");
    return shmring_compat_status() == -EPROTO ? 0 : 1;
}

static void test_observer_opens_legacy(void **state)
{
    (void)state;
    const char *name = t_name("legacy-obs");
    setenv("SHMRING_COMPAT_NAME", name, 1);
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
    assert_int_equal(shmring_recv(o, buf, sizeof buf), -EPERM); /* an observer reads nothing */
    /* Opening with CREATE (the default options) finds it too, and changes nothing. */
    shmring *o2 = open_ok(name, SHMRING_OBSERVER, NULL);
    assert_int_equal(shmring_stats(o2, &st), 0);
    assert_int_equal(st.kind, SHMRING_KIND_LEGACY);
    shmring_close(o2);

    shmring *r = (shmring *)(uintptr_t)1;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &attach_opts, &r), -EPROTO);
    assert_null(r);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &create_opts, &r), -EPROTO);
    assert_null(r);
    shmring_close(o);
    char got[64];
    GetSharedMem(got, sizeof got);
    assert_string_equal(got, "hello, observer");

    /* The other way round: the set/get calls refuse a queue. */
    const char *qname = t_name("legacy-q");
    shmring *q = open_ok(qname, SHMRING_OBSERVER, &create_opts);
    assert_int_equal(shmring_stats(q, &st), 0);
    assert_int_equal(st.kind, SHMRING_KIND_SPSC);
    assert_int_equal(t_wait(t_spawn(child_legacy_attach_of_queue, (void *)qname)), 0);
    shmring_close(q);
}

/* Contents that mean "nobody finished or nobody is using this": the opener starts afresh. */
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
    assert_int_equal(shmring_recv(c, NULL, 0), -EAGAIN);
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
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, &attach_opts, &r), -ENOENT);
    assert_true(t_shm_exists(name));
    c = open_ok(name, SHMRING_CONSUMER, &create_opts);
    assert_int_equal(shmring_capacity(c), 4096 - SHMRING_HEADER_SIZE);
    shmring_close(c);
    assert_false(t_shm_exists(name));
}

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
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), -EPROTO);
    memcpy(v.h, saved, sizeof saved);
    atomic_store(&v.h->version, SHMRING_LAYOUT_VERSION + 1);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), -EPROTO);
    memcpy(v.h, saved, sizeof saved);
    atomic_store(&v.h->magic, 12345);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, NULL, &r), -EPROTO);
    memcpy(v.h, saved, sizeof saved);
    v.h->total_size = 8192;
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, NULL, &r), -EPROTO);
    memcpy(v.h, saved, sizeof saved);

    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    assert_int_equal(atomic_load(&v.h->generation), 1);
    recv_seq(c, 10, 1); /* the message sent before is still there */
    shmring_close(c);
    shmring_close(p);
    view_unmap(&v);
}

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
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), -EACCES);
    const struct shmring_opts any = {.flags = SHMRING_ANY_OWNER};
    r = open_ok(name, SHMRING_CONSUMER, &any);
    shmring_close(r);
    shmring_close(p);
}

/* ---- roles --------------------------------------------------------------------------------- */

static void test_roles_busy(void **state)
{
    (void)state;
    const char *name = t_name("busy");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    shmring *r = NULL;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, NULL, &r), -EBUSY);
    assert_null(r);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), -EBUSY);
    shmring *obs[20];
    for (int i = 0; i < 20; i++) {
        obs[i] = open_ok(name, SHMRING_OBSERVER, NULL);
        assert_int_equal(shmring_role(obs[i]), SHMRING_OBSERVER);
    }
    send_seq(p, 16, 1);
    struct shmring_stats s;
    assert_int_equal(shmring_stats(obs[19], &s), 0);
    assert_int_equal(s.sent_msgs, 1);
    assert_int_equal(s.producer_pid, getpid());
    /* A freed role can be taken again, and the ring goes on where it was. */
    shmring_close(p);
    p = open_ok(name, SHMRING_PRODUCER, NULL);
    send_seq(p, 16, 2);
    recv_seq(c, 16, 1);
    recv_seq(c, 16, 2);
    shmring_close(c);
    c = open_ok(name, SHMRING_CONSUMER, NULL);
    assert_int_equal(shmring_role(c), SHMRING_CONSUMER);
    assert_int_equal(shmring_role(p), SHMRING_PRODUCER);
    for (int i = 0; i < 20; i++) {
        shmring_close(obs[i]);
    }
    shmring_close(c);
    shmring_close(p);
}

static int nop_handler(void *ctx, const void *msg, size_t len)
{
    (void)ctx;
    (void)msg;
    (void)len;
    return 0;
}

static void test_role_errors(void **state)
{
    (void)state;
    const char *name = t_name("perm");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    shmring *o = open_ok(name, SHMRING_OBSERVER, NULL);
    uint8_t buf[64] = {0};
    void *slot = NULL;
    const void *msg = NULL;
    struct shmring_buf iov = {buf, 8};
    send_seq(p, 8, 1); /* something to receive, so the errors are not "empty" */

    shmring *not_producers[] = {c, o};
    for (int i = 0; i < 2; i++) {
        shmring *r = not_producers[i];
        assert_int_equal(shmring_send(r, buf, 8), -EPERM);
        assert_int_equal(shmring_send_wait(r, buf, 8, 0), -EPERM);
        assert_int_equal(shmring_send_wait(r, buf, 8, 1000000), -EPERM);
        assert_int_equal(shmring_reserve(r, 8, &slot), -EPERM);
        assert_int_equal(shmring_reserve_wait(r, 8, &slot, -1), -EPERM);
        assert_int_equal(shmring_commit(r, 0), -EPERM);
        assert_int_equal(shmring_abort(r), -EPERM);
        assert_int_equal(shmring_send_batch(r, &iov, 1), -EPERM);
    }
    shmring *not_consumers[] = {p, o};
    for (int i = 0; i < 2; i++) {
        shmring *r = not_consumers[i];
        assert_int_equal(shmring_recv(r, buf, sizeof buf), -EPERM);
        assert_int_equal(shmring_recv_wait(r, buf, sizeof buf, -1), -EPERM);
        assert_int_equal(shmring_peek(r, &msg), -EPERM);
        assert_int_equal(shmring_peek_wait(r, &msg, 1000000), -EPERM);
        assert_int_equal(shmring_release(r), -EPERM);
        assert_int_equal(shmring_drain(r, nop_handler, NULL, 0), -EPERM);
    }
    /* Nothing above moved a message: it is still the first and only one. */
    recv_seq(c, 8, 1);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EAGAIN);

    /* A NULL handle is an argument error for every call. */
    assert_int_equal(shmring_send(NULL, buf, 1), -EINVAL);
    assert_int_equal(shmring_recv(NULL, buf, 1), -EINVAL);
    assert_int_equal(shmring_send_wait(NULL, buf, 1, -1), -EINVAL);
    assert_int_equal(shmring_recv_wait(NULL, buf, 1, -1), -EINVAL);
    assert_int_equal(shmring_reserve(NULL, 1, &slot), -EINVAL);
    assert_int_equal(shmring_commit(NULL, 1), -EINVAL);
    assert_int_equal(shmring_peek(NULL, &msg), -EINVAL);
    assert_int_equal(shmring_release(NULL), -EINVAL);
    assert_int_equal(shmring_send_batch(NULL, &iov, 1), -EINVAL);
    assert_int_equal(shmring_drain(NULL, nop_handler, NULL, 0), -EINVAL);
    assert_int_equal(shmring_stats(NULL, NULL), -EINVAL);
    assert_int_equal(shmring_role(NULL), -EINVAL);
    assert_int_equal(shmring_close(NULL), 0);
    shmring_close(o);
    shmring_close(c);
    shmring_close(p);
}

/* ---- call-order and buffer errors ---------------------------------------------------------- */

static void test_recv_small_buffer(void **state)
{
    (void)state;
    const char *name = t_name("small");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    send_seq(p, 100, 1);
    send_seq(p, 0, 2);
    uint8_t buf[128];
    assert_int_equal(shmring_recv(c, buf, 99), -EMSGSIZE);
    assert_int_equal(shmring_recv(c, buf, 0), -EMSGSIZE);
    assert_int_equal(shmring_recv(c, NULL, 10), -EINVAL);
    const void *msg = NULL;
    assert_int_equal(shmring_peek(c, &msg), 100); /* still the first message */
    assert_true(t_msg_check(msg, 100, 1));
    assert_int_equal(shmring_release(c), 0);
    /* A zero-length message fits a zero-capacity (even NULL) buffer. */
    assert_int_equal(shmring_recv(c, NULL, 0), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EAGAIN);
    /* A failed recv did not count as received. */
    struct shmring_stats s;
    assert_int_equal(shmring_stats(c, &s), 0);
    assert_int_equal(s.recv_msgs, 2);
    assert_int_equal(s.recv_bytes, 100);
    shmring_close(c);
    shmring_close(p);
}

static void test_peek_release(void **state)
{
    (void)state;
    const char *name = t_name("peek");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    const void *a = NULL, *b = NULL;
    assert_int_equal(shmring_peek(c, &a), -EAGAIN);
    assert_int_equal(shmring_release(c), -EINVAL); /* nothing peeked */
    assert_int_equal(shmring_peek(c, NULL), -EINVAL);
    send_seq(p, 30, 1);
    send_seq(p, 40, 2);
    assert_int_equal(shmring_peek(c, &a), 30);
    assert_int_equal(shmring_peek(c, &b), 30);
    assert_ptr_equal(a, b);
    assert_true(t_msg_check(b, 30, 1));
    uint8_t buf[64];
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EINVAL); /* a peeked one is pending */
    assert_int_equal(shmring_drain(c, nop_handler, NULL, 0), -EINVAL);
    assert_int_equal(shmring_peek(c, &b), 30); /* ... and still the same one */
    assert_int_equal(shmring_release(c), 0);
    assert_int_equal(shmring_release(c), -EINVAL);
    assert_int_equal(shmring_peek(c, &a), 40);
    assert_true(t_msg_check(a, 40, 2));
    assert_int_equal(shmring_release(c), 0);
    assert_int_equal(shmring_peek(c, &a), -EAGAIN);
    shmring_close(c);
    shmring_close(p);
}

static void test_reserve_commit_errors(void **state)
{
    (void)state;
    const char *name = t_name("resv");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    void *slot = NULL, *slot2 = NULL;
    uint8_t buf[64] = {0};
    struct shmring_buf iov = {buf, 8};
    assert_int_equal(shmring_commit(p, 0), -EINVAL); /* nothing reserved */
    assert_int_equal(shmring_abort(p), -EINVAL);
    assert_int_equal(shmring_reserve(p, 8, NULL), -EINVAL);
    assert_int_equal(shmring_reserve(p, shmring_max_msg(p) + 1, &slot), -EMSGSIZE);
    assert_int_equal(shmring_commit(p, 0), -EINVAL); /* the failed reserve left nothing open */

    assert_int_equal(shmring_reserve(p, 32, &slot), 0);
    assert_true(((uintptr_t)slot % 8) == 0);
    assert_int_equal(shmring_reserve(p, 8, &slot2), -EINVAL); /* one at a time */
    assert_int_equal(shmring_send(p, buf, 8), -EINVAL);
    assert_int_equal(shmring_send_batch(p, &iov, 1), -EINVAL);
    assert_int_equal(shmring_commit(p, 33), -EINVAL); /* longer than reserved */
    t_msg_fill(slot, 20, 5);
    assert_int_equal(shmring_commit(p, 20), 0); /* still open after the refused commit */
    assert_int_equal(shmring_commit(p, 20), -EINVAL);

    assert_int_equal(shmring_reserve(p, 16, &slot), 0);
    memset(slot, 0xCC, 16);
    assert_int_equal(shmring_abort(p), 0);
    assert_int_equal(shmring_abort(p), -EINVAL);
    send_seq(p, 12, 6);
    assert_int_equal(shmring_send(p, NULL, 1), -EINVAL);
    assert_int_equal(shmring_send(p, NULL, 0), 0);

    recv_seq(c, 20, 5);
    recv_seq(c, 12, 6); /* the aborted reservation left no trace */
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EAGAIN);
    shmring_close(c);
    shmring_close(p);
}

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
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EBADMSG);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EBADMSG);
    assert_int_equal(shmring_peek(c, &msg), -EBADMSG);
    assert_int_equal(shmring_drain(c, nop_handler, NULL, 0), -EBADMSG);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, 1000000), -EBADMSG);
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
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EPROTO);
    atomic_store(&v.h->tail, 24); /* put right again: the handle still refuses */
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EPROTO);

    /* A head beyond the tail: the producer stops with -EPROTO once it has to look at it. */
    while (shmring_send(p, buf, 40) == 0) {
    }
    atomic_store(&v.h->head, atomic_load(&v.h->tail) + 64);
    assert_int_equal(shmring_send(p, buf, 40), -EPROTO);
    assert_int_equal(shmring_send(p, buf, 0), -EPROTO);
    assert_int_equal(shmring_reserve(p, 8, &slot), -EPROTO);
    assert_int_equal(shmring_send_batch(p, &iov, 1), -EPROTO);
    assert_int_equal(shmring_send_wait(p, buf, 8, 1000000), -EPROTO);
    shmring_close(c);
    shmring_close(p);
    view_unmap(&v);
}

/* ---- batches --------------------------------------------------------------------------------- */

static void test_send_batch(void **state)
{
    (void)state;
    const char *name = t_name("batch");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    const size_t max = shmring_max_msg(p);
    static uint8_t m[8][2048];
    struct shmring_buf iov[8];
    for (int i = 0; i < 8; i++) {
        iov[i].base = m[i];
        iov[i].len = (size_t)(10 * i);
        t_msg_fill(m[i], iov[i].len, (uint64_t)i);
    }
    assert_int_equal(shmring_send_batch(p, iov, 0), 0);
    assert_int_equal(shmring_send_batch(p, NULL, 0), 0);
    assert_int_equal(shmring_send_batch(p, NULL, 1), -EINVAL);
    assert_int_equal(shmring_send_batch(p, iov, 5), 5);
    for (int i = 0; i < 5; i++) {
        recv_seq(c, (size_t)(10 * i), (uint64_t)i);
    }
    assert_int_equal(shmring_recv(c, NULL, 0), -EAGAIN);

    /* An oversized first message is an error; a later one ends the batch before it. */
    iov[0].len = max + 1;
    assert_int_equal(shmring_send_batch(p, iov, 3), -EMSGSIZE);
    iov[0].len = 0;
    iov[2].len = max + 1;
    assert_int_equal(shmring_send_batch(p, iov, 4), 2);
    recv_seq(c, 0, 0);
    recv_seq(c, 10, 1);
    assert_int_equal(shmring_recv(c, NULL, 0), -EAGAIN); /* nothing after the oversized one */
    iov[2].len = 20;

    /* A NULL buffer: an error first, the end of the batch later. */
    iov[1].base = NULL;
    assert_int_equal(shmring_send_batch(p, iov + 1, 2), -EINVAL);
    assert_int_equal(shmring_send_batch(p, iov, 3), 1);
    recv_seq(c, 0, 0);
    iov[1].base = m[1];
    /* A NULL buffer of length 0 is a valid empty message. */
    iov[1].base = NULL;
    iov[1].len = 0;
    assert_int_equal(shmring_send_batch(p, iov + 1, 2), 2);
    recv_seq(c, 0, 1);
    recv_seq(c, 20, 2);
    iov[1].base = m[1];

    /* Only part fits: as many as fit, in order; then 0 (not -EAGAIN) while full. */
    for (int i = 0; i < 8; i++) {
        iov[i].len = 1000; /* 1008-byte records: 3 fit in 3584 */
        t_msg_fill(m[i], 1000, 100 + (uint64_t)i);
    }
    assert_int_equal(shmring_send_batch(p, iov, 5), 3);
    assert_int_equal(shmring_send_batch(p, iov + 3, 5), 0);
    recv_seq(c, 1000, 100);
    assert_int_equal(shmring_send_batch(p, iov + 3, 5), 1);
    recv_seq(c, 1000, 101);
    recv_seq(c, 1000, 102);
    recv_seq(c, 1000, 103);
    assert_int_equal(shmring_recv(c, NULL, 0), -EAGAIN);

    /* With the consumer gone and the ring full: -EPIPE. */
    assert_int_equal(shmring_send_batch(p, iov, 5), 3);
    shmring_close(c);
    assert_int_equal(shmring_send_batch(p, iov, 5), -EPIPE);
    shmring_close(p);
}

struct drain_ctx {
    uint64_t next_seq;
    size_t len;
    int stop_at; /* return non-zero from the call with this index (-1: never) */
    int calls;
    int bad;
    struct shmring__hdr *h; /* second mapping: the shared head must not move during a drain */
    uint64_t head0;
};

static int check_handler(void *ctx, const void *msg, size_t len)
{
    struct drain_ctx *d = ctx;
    if (len != d->len || !t_msg_check(msg, len, d->next_seq)) {
        d->bad++;
    }
    if (d->h != NULL && atomic_load(&d->h->head) != d->head0) {
        d->bad++;
    }
    d->next_seq++;
    return d->calls++ == d->stop_at;
}

static void test_drain(void **state)
{
    (void)state;
    const char *name = t_name("drain");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    struct drain_ctx d = {0, 100, -1, 0, 0, NULL, 0};
    assert_int_equal(shmring_drain(c, NULL, NULL, 0), -EINVAL);
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 0); /* empty: 0, not -EAGAIN */
    assert_int_equal(d.calls, 0);
    for (uint64_t i = 0; i < 25; i++) {
        send_seq(p, 100, i); /* 112-byte records: all 25 fit */
    }
    assert_int_equal(shmring_drain(c, check_handler, &d, 3), 3); /* max respected */
    assert_int_equal(d.calls, 3);
    d.stop_at = 4; /* the 2nd call of this drain (calls 3, 4) asks to stop */
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 2);
    assert_int_equal(d.next_seq, 5);
    recv_seq(c, 100, 5); /* the stopping message was consumed; order continues */
    d.next_seq = 6;
    d.stop_at = -1;
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 19);
    assert_int_equal(d.next_seq, 25);
    assert_int_equal(d.bad, 0);
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 0);

    /* Across the wrap (with padding), many laps: order kept, nothing lost. */
    uint64_t seq = 25;
    d.next_seq = 25;
    d.len = 700; /* 712-byte records: padding every lap */
    for (int lap = 0; lap < 50; lap++) {
        for (int i = 0; i < 4; i++) {
            send_seq(p, 700, seq++);
        }
        assert_int_equal(shmring_drain(c, check_handler, &d, 0), 4);
    }
    assert_int_equal(d.next_seq, seq);
    assert_int_equal(d.bad, 0);

    /* The producer gone and nothing left: -EPIPE (after what was left). */
    send_seq(p, 700, seq);
    shmring_close(p);
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 1);
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), -EPIPE);
    assert_int_equal(d.bad, 0);
    shmring_close(c);
}

/* send_batch and drain publish once per batch: while a batch is in progress the shared index
 * that the peer reads does not move.
 *
 * send_batch: message k's bytes live on page k, and pages 1.. are PROT_NONE. When send_batch
 * copies message k it faults; the SIGSEGV handler records the shared tail (read through an
 * independent mapping), makes the page readable and returns, and the copy resumes. So the
 * handler observes the tail in the middle of the batch, after messages 0..k-1 were committed.
 * drain: the handler reads the shared head on every call. */
static struct {
    uint8_t *pages;
    size_t page;
    int npages;
    struct shmring__hdr *h;
    uint64_t seen_tail[16];
    int faults;
} hook;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uint8_t *a = si->si_addr;
    if (a < hook.pages || a >= hook.pages + hook.npages * hook.page || hook.faults >= 16) {
        signal(sig, SIG_DFL); /* a real crash: let it happen */
        return;
    }
    hook.seen_tail[hook.faults++] = atomic_load_explicit(&hook.h->tail, memory_order_acquire);
    uint8_t *pg = hook.pages + ((size_t)(a - hook.pages) / hook.page) * hook.page;
    mprotect(pg, hook.page, PROT_READ);
}

static void test_batch_publishes_once(void **state)
{
    (void)state;
    const char *name = t_name("once");
    const struct shmring_opts big = {.size = 65536, .flags = SHMRING_CREATE};
    shmring *p = open_ok(name, SHMRING_PRODUCER, &big);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    struct view v = view_map(name);
    send_seq(p, 24, 0); /* a non-zero starting tail */
    recv_seq(c, 24, 0);

    hook.page = (size_t)sysconf(_SC_PAGESIZE);
    hook.npages = 6;
    hook.pages = mmap(NULL, hook.npages * hook.page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(hook.pages != MAP_FAILED);
    hook.h = v.h;
    hook.faults = 0;
    struct shmring_buf iov[6];
    uint64_t records = 0;
    for (int k = 0; k < hook.npages; k++) {
        iov[k].base = hook.pages + (size_t)k * hook.page;
        iov[k].len = 100 + (size_t)k * 300;
        t_msg_fill(hook.pages + (size_t)k * hook.page, iov[k].len, 1 + (uint64_t)k);
        records += shmring__rec_size(iov[k].len);
    }
    mprotect(hook.pages + hook.page, (hook.npages - 1) * hook.page, PROT_NONE);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);

    uint64_t tail0 = atomic_load(&v.h->tail);
    int sent = shmring_send_batch(p, iov, (size_t)hook.npages);
    sigaction(SIGSEGV, &old, NULL);
    assert_int_equal(sent, hook.npages);
    assert_int_equal(hook.faults, hook.npages - 1); /* one stop inside each later message */
    for (int k = 0; k < hook.faults; k++) {
        assert_int_equal(hook.seen_tail[k], tail0); /* nothing published mid-batch */
    }
    assert_int_equal(atomic_load(&v.h->tail), tail0 + records);

    /* drain: the head stays put during the handler calls, then moves once by all records. */
    uint64_t head0 = atomic_load(&v.h->head);
    struct drain_ctx d = {1, 0, -1, 0, 0, v.h, head0};
    for (int k = 0; k < hook.npages; k++) {
        d.len = iov[k].len;
        assert_int_equal(shmring_drain(c, check_handler, &d, 1), 1); /* one by one first ... */
        assert_int_equal(atomic_load(&v.h->head), head0 + shmring__rec_size(iov[k].len));
        head0 = atomic_load(&v.h->head);
        d.head0 = head0;
    }
    assert_int_equal(d.bad, 0);
    /* ... then a whole batch of equal messages in one drain. */
    for (uint64_t i = 0; i < 40; i++) {
        send_seq(p, 64, 100 + i);
    }
    d = (struct drain_ctx){100, 64, -1, 0, 0, v.h, atomic_load(&v.h->head)};
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 40);
    assert_int_equal(d.bad, 0);
    assert_int_equal(atomic_load(&v.h->head), atomic_load(&v.h->tail));

    munmap(hook.pages, hook.npages * hook.page);
    view_unmap(&v);
    shmring_close(c);
    shmring_close(p);
}

/* ---- error texts ----------------------------------------------------------------------------- */

static void test_strerror(void **state)
{
    (void)state;
    const int codes[] = {EAGAIN, EMSGSIZE, EINVAL, EEXIST, ENOENT,    EACCES, EPERM,
                         EPROTO, EBADMSG,  EBUSY,  EPIPE,  ETIMEDOUT, EINTR};
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

/* ---- concurrent first attach ------------------------------------------------------------------
 */

#define NPROC 8

struct race {
    _Atomic uint32_t go, opened, checked;
    char name[256];
    struct {
        int rc;
        uint64_t ino, generation;
        int ok;
    } r[NPROC];
};

static void spin_until(_Atomic uint32_t *v, uint32_t want)
{
    int64_t end = t_now_ms() + 10000;
    while (atomic_load(v) < want && t_now_ms() < end) {
        sched_yield();
    }
}

struct race_arg {
    struct race *sh;
    int i;
};

static int race_child(void *arg)
{
    struct race_arg *a = arg;
    struct race *sh = a->sh;
    int role = a->i == 0 ? SHMRING_PRODUCER : a->i == 1 ? SHMRING_CONSUMER : SHMRING_OBSERVER;
    while (atomic_load(&sh->go) == 0) {
        sched_yield(); /* 8 spinners on 2 cores: let the parent run to say go */
    }
    shmring *r = NULL;
    int rc = shmring_open(sh->name, role, NULL, &r);
    sh->r[a->i].rc = rc;
    if (rc == 0) {
        struct stat st;
        fstat(r->seg.map.fd, &st);
        sh->r[a->i].ino = (uint64_t)st.st_ino;
        sh->r[a->i].generation = atomic_load(&r->hdr->generation);
    }
    atomic_fetch_add(&sh->opened, 1);
    if (rc != 0) {
        return 1;
    }
    /* Everyone holds the ring open now: show that they all hold the same one. */
    spin_until(&sh->opened, NPROC);
    int ok = 0;
    uint64_t token = 0xC0FFEE00ull + (uint64_t)getppid();
    if (role == SHMRING_PRODUCER) {
        ok = shmring_send_wait(r, &token, sizeof token, 5000000000ll) == 0;
    } else if (role == SHMRING_CONSUMER) {
        uint64_t got = 0;
        ok = shmring_recv_wait(r, &got, sizeof got, 5000000000ll) == (ssize_t)sizeof got &&
             got == token;
    } else {
        struct shmring_stats s = {0};
        int64_t end = t_now_ms() + 5000;
        while (shmring_stats(r, &s) == 0 && s.sent_msgs == 0 && t_now_ms() < end) {
            sched_yield();
        }
        ok = s.sent_msgs == 1 && s.capacity == 4096 - SHMRING_HEADER_SIZE;
    }
    sh->r[a->i].ok = ok;
    atomic_fetch_add(&sh->checked, 1);
    spin_until(&sh->checked, NPROC); /* nobody closes before all have checked */
    shmring_close(r);
    return ok ? 0 : 2;
}

static void test_concurrent_first_attach(void **state)
{
    (void)state;
    struct race *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    for (int round = 0; round < 10; round++) {
        memset(sh, 0, sizeof *sh);
        char tag[32];
        snprintf(tag, sizeof tag, "race%d", round);
        snprintf(sh->name, sizeof sh->name, "%s", t_name(tag));
        struct race_arg args[NPROC];
        pid_t pids[NPROC];
        for (int i = 0; i < NPROC; i++) {
            args[i] = (struct race_arg){sh, i};
            pids[i] = t_spawn(race_child, &args[i]);
            assert_true(pids[i] > 0);
        }
        atomic_store(&sh->go, 1);
        for (int i = 0; i < NPROC; i++) {
            int st = t_wait(pids[i]);
            if (st != 0 || sh->r[i].rc != 0) {
                fail_msg("round %d child %d: exit %d, open %d (%s)", round, i, st, sh->r[i].rc,
                         shmring_strerror(sh->r[i].rc));
            }
        }
        for (int i = 0; i < NPROC; i++) {
            assert_int_equal(sh->r[i].generation, 1); /* initialised exactly once */
            assert_int_equal(sh->r[i].ino, sh->r[0].ino);
            assert_true(sh->r[i].ok);
        }
        assert_false(t_shm_exists(sh->name)); /* and removed by the last to close */
    }
    munmap(sh, sizeof *sh);
}

/* ---- an initialiser that dies half-way ----------------------------------------------------------
 */

struct midway_arg {
    char name[256];
    int with_magic;
};

/* Creates the object, takes the init lock as the library would, sizes it, writes part of a
 * header with version 0, then dies. */
static int midway_child(void *arg)
{
    struct midway_arg *a = arg;
    char path[512];
    shm_path(a->name, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        return 1;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = SHMRING__LOCK_INIT;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0 || ftruncate(fd, 4096) != 0) {
        return 2;
    }
    struct shmring__hdr *h = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        return 3;
    }
    if (a->with_magic) {
        atomic_store(&h->magic, SHMRING__MAGIC);
    }
    h->header_size = SHMRING_HEADER_SIZE;
    h->total_size = 4096;
    memset((uint8_t *)h + SHMRING_HEADER_SIZE, 0x5A, 100); /* stale bytes in the data area */
    raise(SIGKILL);
    return 4;
}

static void test_initialiser_died(void **state)
{
    (void)state;
    for (int with_magic = 0; with_magic < 2; with_magic++) {
        struct midway_arg a;
        snprintf(a.name, sizeof a.name, "%s", t_name(with_magic ? "midway1" : "midway0"));
        a.with_magic = with_magic;
        assert_int_equal(t_wait(t_spawn(midway_child, &a)), 128 + SIGKILL);
        assert_true(t_shm_exists(a.name));
        struct view v = view_map(a.name);
        assert_int_equal(atomic_load(&v.h->version), 0);

        shmring *p = open_ok(a.name, SHMRING_PRODUCER, NULL);
        shmring *c = open_ok(a.name, SHMRING_CONSUMER, &attach_opts);
        assert_int_equal(atomic_load(&v.h->version), SHMRING_LAYOUT_VERSION);
        assert_int_equal(atomic_load(&v.h->generation), 1);
        assert_int_equal(shmring__ring_check(v.h, v.size), 0);
        assert_int_equal(shmring_recv(c, NULL, 0), -EAGAIN);
        for (uint64_t i = 0; i < 100; i++) {
            send_seq(p, (size_t)(i * 13 % 900), i);
            recv_seq(c, (size_t)(i * 13 % 900), i);
        }
        view_unmap(&v);
        shmring_close(c);
        shmring_close(p);
        assert_false(t_shm_exists(a.name));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_name_limits),
        cmocka_unit_test(test_default_size),
        cmocka_unit_test(test_size_option),
        cmocka_unit_test(test_create_flags),
        cmocka_unit_test(test_unlink),
        cmocka_unit_test(test_refuses_foreign_objects),
        cmocka_unit_test(test_observer_opens_legacy),
        cmocka_unit_test(test_reinitialises_abandoned),
        cmocka_unit_test(test_attached_ring_is_not_reinitialised),
        cmocka_unit_test(test_foreign_owner),
        cmocka_unit_test(test_roles_busy),
        cmocka_unit_test(test_role_errors),
        cmocka_unit_test(test_recv_small_buffer),
        cmocka_unit_test(test_peek_release),
        cmocka_unit_test(test_reserve_commit_errors),
        cmocka_unit_test(test_corruption_is_reported),
        cmocka_unit_test(test_send_batch),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_batch_publishes_once),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_concurrent_first_attach),
        cmocka_unit_test(test_initialiser_died),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
