/* SPDX-License-Identifier: MIT */
/* Roles and the first attach: a role held by a live process is busy, calls of the wrong role
 * fail, eight processes racing to create one name agree, and an initialiser that dies half-way
 * leaves a name the next opener repairs. The last two start processes (t_spawn_flat); on
 * Windows the initialiser that dies holds the init mutex and the section goes with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#include <process.h> /* getpid */

#include "platform_win.h" /* shmring__win_object_name */
#else
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "handle.h" /* struct shmring: the concurrent-attach test finds the handle's mapping */
#include "ring.h"
#include "shmring.h"
#include "platform.h" /* shmring__plat_yield */
#include "t_shared.h"
#include "testutil.h"
#include "test_open_util.h"

/* ---- roles --------------------------------------------------------------------------------- */

static void test_roles_busy(void **state)
{
    (void)state;
    const char *name = t_name("busy");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    shmring *r = NULL;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, NULL, &r), SHMRING_EBUSY);
    assert_null(r);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &r), SHMRING_EBUSY);
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
        assert_int_equal(shmring_send(r, buf, 8), SHMRING_EPERM);
        assert_int_equal(shmring_send_wait(r, buf, 8, 0), SHMRING_EPERM);
        assert_int_equal(shmring_send_wait(r, buf, 8, 1000000), SHMRING_EPERM);
        assert_int_equal(shmring_reserve(r, 8, &slot), SHMRING_EPERM);
        assert_int_equal(shmring_reserve_wait(r, 8, &slot, -1), SHMRING_EPERM);
        assert_int_equal(shmring_commit(r, 0), SHMRING_EPERM);
        assert_int_equal(shmring_abort(r), SHMRING_EPERM);
        assert_int_equal(shmring_send_batch(r, &iov, 1), SHMRING_EPERM);
    }
    shmring *not_consumers[] = {p, o};
    for (int i = 0; i < 2; i++) {
        shmring *r = not_consumers[i];
        assert_int_equal(shmring_recv(r, buf, sizeof buf), SHMRING_EPERM);
        assert_int_equal(shmring_recv_wait(r, buf, sizeof buf, -1), SHMRING_EPERM);
        assert_int_equal(shmring_peek(r, &msg), SHMRING_EPERM);
        assert_int_equal(shmring_peek_wait(r, &msg, 1000000), SHMRING_EPERM);
        assert_int_equal(shmring_release(r), SHMRING_EPERM);
        assert_int_equal(shmring_drain(r, nop_handler, NULL, 0), SHMRING_EPERM);
    }
    /* Nothing above moved a message: it is still the first and only one. */
    recv_seq(c, 8, 1);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN);

    /* A NULL handle is an argument error for every call. */
    assert_int_equal(shmring_send(NULL, buf, 1), SHMRING_EINVAL);
    assert_int_equal(shmring_recv(NULL, buf, 1), SHMRING_EINVAL);
    assert_int_equal(shmring_send_wait(NULL, buf, 1, -1), SHMRING_EINVAL);
    assert_int_equal(shmring_recv_wait(NULL, buf, 1, -1), SHMRING_EINVAL);
    assert_int_equal(shmring_reserve(NULL, 1, &slot), SHMRING_EINVAL);
    assert_int_equal(shmring_commit(NULL, 1), SHMRING_EINVAL);
    assert_int_equal(shmring_peek(NULL, &msg), SHMRING_EINVAL);
    assert_int_equal(shmring_release(NULL), SHMRING_EINVAL);
    assert_int_equal(shmring_send_batch(NULL, &iov, 1), SHMRING_EINVAL);
    assert_int_equal(shmring_drain(NULL, nop_handler, NULL, 0), SHMRING_EINVAL);
    assert_int_equal(shmring_stats(NULL, NULL), SHMRING_EINVAL);
    assert_int_equal(shmring_role(NULL), SHMRING_EINVAL);
    assert_int_equal(shmring_close(NULL), 0);
    shmring_close(o);
    shmring_close(c);
    shmring_close(p);
}

/* ---- concurrent first attach ------------------------------------------------------------------
 */

#define NPROC 8
#ifdef _WIN32
#define RACE_ROUNDS 5 /* a process start costs ~70 ms under wine: 40 of them, not 80 */
#else
#define RACE_ROUNDS 10
#endif

struct race {
    _Atomic uint32_t go, opened, checked;
    uint64_t token; /* what the producer sends: the parent's pid, so it is this run's */
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
        shmring__plat_yield();
    }
}

/* The inode of the object mapped at addr (Linux: /proc/self/maps), 0 if not found: which
 * object a handle attached, even if the name now points elsewhere. Windows has no such number,
 * and needs none: a name cannot point to another section while a handle of it is open, which
 * every child has until all have checked (1 stands for "the one section"). */
static uint64_t mapping_inode(const void *addr)
{
#ifdef _WIN32
    (void)addr;
    return 1;
#else
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) {
        return 0;
    }
    char line[512];
    uint64_t ino = 0;
    while (ino == 0 && fgets(line, sizeof line, f) != NULL) {
        unsigned long lo = 0;
        unsigned long long inode = 0;
        if (sscanf(line, "%lx-%*x %*s %*s %*s %llu", &lo, &inode) == 2 &&
            lo == (unsigned long)(uintptr_t)addr) {
            ino = inode;
        }
    }
    fclose(f);
    return ino;
#endif
}

struct race_arg {
    struct t_shared sh; /* struct race */
    int i;
};

static int race_child(void *arg)
{
    struct race_arg *a = arg;
    struct race *sh = t_shared_attach(&a->sh);
    if (sh == NULL) {
        return 3;
    }
    int role = a->i == 0 ? SHMRING_PRODUCER : a->i == 1 ? SHMRING_CONSUMER : SHMRING_OBSERVER;
    while (atomic_load(&sh->go) == 0) {
        shmring__plat_yield(); /* 8 spinners on 2 cores: let the parent run to say go */
    }
    shmring *r = NULL;
    int rc = shmring_open(sh->name, role, NULL, &r);
    sh->r[a->i].rc = rc;
    if (rc == 0) {
        sh->r[a->i].ino = mapping_inode(r->hdr);
        sh->r[a->i].generation = atomic_load(&r->hdr->generation);
    }
    atomic_fetch_add(&sh->opened, 1);
    if (rc != 0) {
        return 1;
    }
    /* Everyone holds the ring open now: show that they all hold the same one. */
    spin_until(&sh->opened, NPROC);
    int ok = 0;
    uint64_t token = sh->token;
    if (role == SHMRING_PRODUCER) {
        ok = shmring_send_wait(r, &token, sizeof token, 5000000000LL) == 0;
    } else if (role == SHMRING_CONSUMER) {
        uint64_t got = 0;
        ok = shmring_recv_wait(r, &got, sizeof got, 5000000000LL) == (ssize_t)sizeof got &&
             got == token;
    } else {
        struct shmring_stats s = {0};
        int64_t end = t_now_ms() + 5000;
        while (shmring_stats(r, &s) == 0 && s.sent_msgs == 0 && t_now_ms() < end) {
            shmring__plat_yield();
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
    struct t_shared shared;
    struct race *sh = t_shared_new(&shared, "race", sizeof *sh);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        memset(sh, 0, sizeof *sh);
        sh->token = 0xC0FFEE00ULL + (uint64_t)getpid();
        char tag[32];
        snprintf(tag, sizeof tag, "race%d", round);
        snprintf(sh->name, sizeof sh->name, "%s", t_name(tag));
        struct race_arg args[NPROC];
        t_proc procs[NPROC];
        for (int i = 0; i < NPROC; i++) {
            args[i] = (struct race_arg){shared, i};
            procs[i] = t_spawn_flat(race_child, &args[i], sizeof args[i]);
            assert_true(procs[i] != -1);
        }
        atomic_store(&sh->go, 1);
        for (int i = 0; i < NPROC; i++) {
            int st = t_proc_wait(procs[i]);
            if (st != 0 || sh->r[i].rc != 0) {
                fail_msg("round %d child %d: exit %d, open %d (%s)", round, i, st, sh->r[i].rc,
                         shmring_strerror(sh->r[i].rc));
            }
        }
        for (int i = 0; i < NPROC; i++) {
            assert_int_equal(sh->r[i].generation, 1); /* initialised exactly once */
            assert_int_not_equal(sh->r[i].ino, 0);
            assert_int_equal(sh->r[i].ino, sh->r[0].ino);
            assert_true(sh->r[i].ok);
        }
        assert_false(t_shm_exists(sh->name)); /* and removed by the last to close */
    }
    t_shared_free(&shared, sh);
}

/* ---- an initialiser that dies half-way ----------------------------------------------------------
 */

#ifdef _WIN32
struct midway_arg {
    char name[256];
    int with_magic;
};

/* Takes the init mutex as src/win/platform_win.c does, creates and sizes the section, writes part
 * of a header with version 0, then dies (TerminateProcess, as a kill would). */
static int midway_child(void *arg)
{
    struct midway_arg *a = arg;
    wchar_t on[300];
    if (shmring__win_object_name(a->name, ".init", on, 300) != 0) {
        return 1;
    }
    HANDLE init = CreateMutexW(NULL, TRUE, on);
    if (init == NULL || shmring__win_object_name(a->name, ".mem", on, 300) != 0) {
        return 2;
    }
    HANDLE sec = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, on);
    struct shmring__hdr *h = sec == NULL ? NULL : MapViewOfFile(sec, FILE_MAP_WRITE, 0, 0, 4096);
    if (h == NULL) {
        return 3;
    }
    if (a->with_magic) {
        atomic_store(&h->magic, SHMRING__MAGIC);
    }
    h->header_size = SHMRING_HEADER_SIZE;
    h->total_size = 4096;
    memset((uint8_t *)h + SHMRING_HEADER_SIZE, 0x5A, 100); /* stale bytes in the data area */
    TerminateProcess(GetCurrentProcess(), T_KILLED);
    return 4;
}

/* Windows: the section was only the initialiser's, so it went with it; the init mutex, which this
 * process keeps open, is abandoned, and the next opener takes it at once (not after the 5 s init
 * timeout) and starts afresh. */
static void test_initialiser_died(void **state)
{
    (void)state;
    for (int with_magic = 0; with_magic < 2; with_magic++) {
        struct midway_arg a;
        snprintf(a.name, sizeof a.name, "%s", t_name(with_magic ? "midway1" : "midway0"));
        a.with_magic = with_magic;
        wchar_t on[300];
        assert_int_equal(shmring__win_object_name(a.name, ".init", on, 300), 0);
        HANDLE init = CreateMutexW(NULL, FALSE, on); /* keeps the mutex when the child dies */
        assert_non_null(init);
        assert_int_equal(t_proc_wait(t_spawn_flat(midway_child, &a, sizeof a)), T_KILLED);
        assert_false(t_shm_exists(a.name));

        int64_t t0 = t_now_ms();
        shmring *p = open_ok(a.name, SHMRING_PRODUCER, NULL);
        assert_true(t_now_ms() - t0 < 4000); /* the init timeout is 5 s */
        shmring *c = open_ok(a.name, SHMRING_CONSUMER, &attach_opts);
        struct view v = view_map(a.name);
        assert_int_equal(atomic_load(&v.h->version), SHMRING_LAYOUT_VERSION);
        assert_int_equal(atomic_load(&v.h->generation), 1);
        assert_int_equal(shmring__ring_check(v.h, v.size), 0);
        assert_int_equal(shmring_recv(c, NULL, 0), SHMRING_EAGAIN);
        for (uint64_t i = 0; i < 100; i++) {
            send_seq(p, (size_t)(i * 13 % 900), i);
            recv_seq(c, (size_t)(i * 13 % 900), i);
        }
        view_unmap(&v);
        shmring_close(c);
        shmring_close(p);
        assert_false(t_shm_exists(a.name));
        CloseHandle(init);
    }
}
#else
struct midway_arg {
    char name[256];
    int with_magic;
};

/* Creates the object, takes the init lock as the POSIX backend would, sizes it, writes part of a
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
    fl.l_start = 0; /* byte 0: INIT, the init exclusion of src/unix/segment_unix.c */
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
        assert_int_equal(shmring_recv(c, NULL, 0), SHMRING_EAGAIN);
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

#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_busy),
        cmocka_unit_test(test_role_errors),
        cmocka_unit_test(test_concurrent_first_attach),
        cmocka_unit_test(test_initialiser_died),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
