/* SPDX-License-Identifier: MIT */
/* The inspection API (include/shmring_admin.h) on real shared memory: looking never attaches or
 * changes anything, listing finds rings by header, stale removal keeps what is in use.
 * Windows: a section lives exactly while some process has it open, so there is no idle ring to
 * create, inspect or remove, and no list of names: the Windows cases (first below) inspect rings
 * in use, and check that listing and unlink say SHMRING_ENOSYS and that stale removal keeps all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "shmring.h"
#include "shmring_admin.h"
#include "shmring_compat.h"
#include "test_open_util.h" /* plant, unplant */
#include "testutil.h"

static shmring *open_flags(const char *name, int role, unsigned flags)
{
    struct shmring_opts o = {.flags = flags};
    shmring *r = NULL;
    int rc = shmring_open(name, role, &o, &r);
    if (rc != 0) {
        fail_msg("shmring_open(%s, %d) = %d", name, role, rc);
    }
    return r;
}

static int stop_at_once(void *ctx, const char *name, const struct shmring_info *info, int err)
{
    (void)name, (void)info, (void)err;
    ++*(int *)ctx;
    return 1;
}

#ifdef _WIN32
/* inspect reads what stats says, without attaching: an observer would count in
 * shmring_others_attached, inspect does not, and the generation does not move. */
static void test_inspect_without_attaching(void **state)
{
    (void)state;
    const char *name = t_name("insp");
    struct shmring_opts o = {.size = 8192, .flags = SHMRING_CREATE};
    shmring *p = NULL;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &o, &p), 0);
    struct shmring_info info;
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.check, 0);
    assert_int_equal(info.in_use, 1); /* a section that exists has a live user */
    assert_int_equal(info.size, 8192);
    assert_int_equal(info.mode, 0600);
    assert_int_equal(info.uid, 0); /* no uid on Windows: the owner is checked, not reported */
    assert_int_equal(info.stats.kind, SHMRING_KIND_SPSC);
    assert_int_equal(info.stats.capacity, 8192 - SHMRING_HEADER_SIZE);
    assert_int_equal(info.messages, 0);
    assert_int_equal(info.producer.alive, 1);
    assert_int_equal(info.producer.state, SHMRING_PEER_ATTACHED);
    assert_int_equal(info.consumer.alive, 0);
    assert_int_equal(info.consumer.state, SHMRING_PEER_NEVER);
    uint64_t gen = info.stats.generation;
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.stats.generation, gen);

    /* Three messages: the same numbers as shmring_stats. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(shmring_send(p, "abc", 3), 0);
    }
    struct shmring_stats st;
    assert_int_equal(shmring_stats(p, &st), 0);
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.messages, 3);
    assert_int_equal(info.stats.sent_msgs, 3);
    assert_int_equal(info.stats.tail, st.tail);
    assert_int_equal(info.stats.used_bytes, st.used_bytes);
    assert_int_equal(info.stats.generation, st.generation);
    assert_int_equal(info.stats.producer_pid, (int32_t)GetCurrentProcessId());
    assert_int_equal(shmring_others_attached(p), 0); /* inspect did not count as a user */
    shmring *o2 = open_flags(name, SHMRING_OBSERVER, 0);
    assert_int_equal(shmring_others_attached(p), 1);
    shmring_close(o2);
    assert_int_equal(shmring_others_attached(p), 0);
    assert_int_equal(shmring_others_attached(NULL), SHMRING_EINVAL);
    shmring_close(p);
    assert_false(t_shm_exists(name)); /* the last user removed it: inspect was never one */

    assert_int_equal(shmring_inspect(name, &info), SHMRING_ENOENT);
    assert_int_equal(shmring_inspect("bad/name", &info), SHMRING_EINVAL);
    assert_int_equal(shmring_inspect(name, NULL), SHMRING_EINVAL);
}

/* A mapping that is not a ring is reported through check, not as an error, and kept. */
static void test_inspect_foreign(void **state)
{
    (void)state;
    const char *name = t_name("foreign");
    uint8_t junk[4096];
    memset(junk, 0x5a, sizeof junk);
    plant(name, junk, sizeof junk);
    struct shmring_info info;
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.check, SHMRING_EPROTO);
    assert_int_equal(info.size, 4096);
    assert_int_equal(shmring_remove_stale(name, SHMRING_STALE_PERSIST), SHMRING_STALE_KEPT);
    assert_true(t_shm_exists(name));
    unplant(name);
}

/* No ring can stay unused: shmring_create says so instead of returning 0 for a section that
 * went with its handle (it did, before the fix). PERSIST and group/other modes: SHMRING_ENOTSUP,
 * as for shmring_open. */
static void test_create_unused(void **state)
{
    (void)state;
    const char *name = t_name("create");
    assert_int_equal(shmring_create(name, NULL), SHMRING_ENOSYS);
    assert_false(t_shm_exists(name));
    struct shmring_opts mp = {.flags = SHMRING_MULTI_PRODUCER, .max_producers = 3};
    assert_int_equal(shmring_create(name, &mp), SHMRING_ENOSYS);
    struct shmring_opts persist = {.flags = SHMRING_PERSIST};
    assert_int_equal(shmring_create(name, &persist), SHMRING_ENOTSUP);
    assert_false(t_shm_exists(name));
    assert_int_equal(shmring_create("a/b", NULL), SHMRING_EINVAL);
    shmring *p = open_flags(name, SHMRING_PRODUCER, SHMRING_CREATE);
    assert_int_equal(shmring_create(name, NULL), SHMRING_EEXIST); /* in use */
    shmring_close(p);
    assert_false(t_shm_exists(name));
}

/* Sections cannot be enumerated: listing says so (after checking its argument). */
static void test_list(void **state)
{
    (void)state;
    int calls = 0;
    assert_int_equal(shmring_list(NULL, NULL), SHMRING_EINVAL);
    assert_int_equal(shmring_list(stop_at_once, &calls), SHMRING_ENOSYS);
    assert_int_equal(calls, 0);
}

/* There are no stale sections: one that opens has a live user and is kept, one that does not is
 * gone (kept, too: nothing to remove). The arguments are checked as on POSIX. */
static void test_remove_stale(void **state)
{
    (void)state;
    const char *name = t_name("stale");
    shmring *c = open_flags(name, SHMRING_CONSUMER, SHMRING_CREATE);
    const unsigned flags[] = {0, SHMRING_STALE_DRY_RUN, SHMRING_STALE_PERSIST,
                              SHMRING_STALE_PERSIST | SHMRING_STALE_DRY_RUN};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        assert_int_equal(shmring_remove_stale(name, flags[i]), SHMRING_STALE_KEPT);
        assert_true(t_shm_exists(name));
    }
    assert_int_equal(shmring_unlink(name), SHMRING_ENOSYS);
    shmring_close(c); /* we were the only user: the name is gone */
    assert_false(t_shm_exists(name));
    assert_int_equal(shmring_remove_stale(name, 0), SHMRING_STALE_KEPT); /* gone: nothing */
    assert_int_equal(shmring_remove_stale(name, 8), SHMRING_EINVAL);
    assert_int_equal(shmring_remove_stale("..", 0), SHMRING_EINVAL);
}
#else
struct seen {
    const char *want[3];
    int found[3];
    int calls;
};

static int on_ring(void *ctx, const char *name, const struct shmring_info *info, int err)
{
    struct seen *s = ctx;
    s->calls++;
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, s->want[i]) == 0) {
            assert_int_equal(err, 0);
            assert_non_null(info);
            s->found[i] = info->check == 0 ? (int)info->stats.kind : -1;
        }
    }
    return 0;
}

/* inspect reads what stats says, without attaching: an idle non-persistent ring stays (an
 * observer's open and close would remove it), its generation does not move. */
static void test_inspect_without_attaching(void **state)
{
    (void)state;
    const char *name = t_name("insp");
    struct shmring_opts o = {.size = 8192};
    assert_int_equal(shmring_create(name, &o), 0);
    assert_int_equal(shmring_create(name, &o), -EEXIST);
    struct shmring_info info;
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.check, 0);
    assert_int_equal(info.in_use, 0);
    assert_int_equal(info.size, 8192);
    assert_int_equal(info.mode, 0600);
    assert_int_equal(info.uid, geteuid());
    assert_int_equal(info.stats.kind, SHMRING_KIND_SPSC);
    assert_int_equal(info.stats.capacity, 8192 - SHMRING_HEADER_SIZE);
    assert_int_equal(info.messages, 0);
    assert_int_equal(info.producer.state, SHMRING_PEER_NEVER);
    uint64_t gen = info.stats.generation;
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.stats.generation, gen);
    assert_true(t_shm_exists(name));

    /* With a producer and three messages: the same numbers as shmring_stats. */
    shmring *p = open_flags(name, SHMRING_PRODUCER, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(shmring_send(p, "abc", 3), 0);
    }
    struct shmring_stats st;
    assert_int_equal(shmring_stats(p, &st), 0);
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.in_use, 1);
    assert_int_equal(info.messages, 3);
    assert_int_equal(info.stats.sent_msgs, 3);
    assert_int_equal(info.stats.tail, st.tail);
    assert_int_equal(info.stats.used_bytes, st.used_bytes);
    assert_int_equal(info.stats.generation, st.generation);
    assert_int_equal(info.stats.producer_pid, getpid());
    assert_int_equal(info.producer.alive, 1);
    assert_int_equal(info.producer.state, SHMRING_PEER_ATTACHED);
    assert_int_equal(info.consumer.alive, 0);
    assert_int_equal(shmring_others_attached(p), 0); /* inspect did not count as a user */
    shmring *o2 = open_flags(name, SHMRING_OBSERVER, 0);
    assert_int_equal(shmring_others_attached(p), 1);
    shmring_close(o2);
    assert_int_equal(shmring_others_attached(p), 0);
    assert_int_equal(shmring_others_attached(NULL), SHMRING_EINVAL);
    shmring_close(p);
    assert_false(t_shm_exists(name)); /* the last user removed it: inspect was never one */

    assert_int_equal(shmring_inspect(name, &info), SHMRING_ENOENT);
    assert_int_equal(shmring_inspect("bad/name", &info), SHMRING_EINVAL);
    assert_int_equal(shmring_inspect(name, NULL), SHMRING_EINVAL);
}

/* A mapping that is not a ring is reported through check, not as an error. */
static void test_inspect_foreign(void **state)
{
    (void)state;
    const char *name = t_name("foreign");
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++) {
        fputc(0x5a, f);
    }
    fclose(f);
    struct shmring_info info;
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.check, SHMRING_EPROTO);
    assert_int_equal(info.size, 4096);
    assert_int_equal(shmring_remove_stale(name, SHMRING_STALE_PERSIST), SHMRING_STALE_KEPT);
    assert_true(t_shm_exists(name));
    unlink(path);
}

static void test_list(void **state)
{
    (void)state;
    struct seen s = {{t_name("list-a"), t_name("list-b"), t_name("list-legacy")}, {0, 0, 0}, 0};
    assert_int_equal(shmring_create(s.want[0], NULL), 0);
    struct shmring_opts persist = {.flags = SHMRING_PERSIST};
    assert_int_equal(shmring_create(s.want[1], &persist), 0);
    setenv("SHMRING_COMPAT_NAME", s.want[2], 1);
    SetSharedMem("listed");
    int n = shmring_list(on_ring, &s);
    assert_true(n >= 3);
    assert_int_equal(n, s.calls);
    assert_int_equal(s.found[0], SHMRING_KIND_SPSC);
    assert_int_equal(s.found[1], SHMRING_KIND_SPSC);
    assert_int_equal(s.found[2], SHMRING_KIND_LEGACY);
    int calls = 0;
    assert_int_equal(shmring_list(stop_at_once, &calls), 1);
    assert_int_equal(calls, 1);
    assert_int_equal(shmring_list(NULL, NULL), SHMRING_EINVAL);
    assert_int_equal(shmring_unlink(s.want[0]), 0);
    assert_int_equal(shmring_unlink(s.want[1]), 0);
}

/* Stale removal: in use -> kept; idle -> removed (dry run: only said); idle persistent -> kept
 * unless SHMRING_STALE_PERSIST. */
static void test_remove_stale(void **state)
{
    (void)state;
    const char *name = t_name("stale");
    assert_int_equal(shmring_create(name, NULL), 0);
    shmring *c = open_flags(name, SHMRING_CONSUMER, 0);
    assert_int_equal(shmring_remove_stale(name, 0), SHMRING_STALE_KEPT);
    assert_true(t_shm_exists(name));
    shmring_close(c); /* we were the only user: the name is gone */
    assert_false(t_shm_exists(name));
    assert_int_equal(shmring_create(name, NULL), 0); /* idle: nobody opened it since */
    assert_int_equal(shmring_remove_stale(name, SHMRING_STALE_DRY_RUN), SHMRING_STALE_REMOVED);
    assert_true(t_shm_exists(name));
    assert_int_equal(shmring_remove_stale(name, 0), SHMRING_STALE_REMOVED);
    assert_false(t_shm_exists(name));
    assert_int_equal(shmring_remove_stale(name, 0), SHMRING_STALE_KEPT); /* gone: nothing */

    struct shmring_opts persist = {.flags = SHMRING_PERSIST};
    assert_int_equal(shmring_create(name, &persist), 0);
    assert_int_equal(shmring_remove_stale(name, 0), SHMRING_STALE_PERSISTENT);
    assert_true(t_shm_exists(name));
    assert_int_equal(shmring_remove_stale(name, SHMRING_STALE_PERSIST), SHMRING_STALE_REMOVED);
    assert_false(t_shm_exists(name));
    assert_int_equal(shmring_remove_stale(name, 8), SHMRING_EINVAL);
    assert_int_equal(shmring_remove_stale("..", 0), SHMRING_EINVAL);
}

#endif

static void test_create_and_helpers(void **state)
{
    (void)state;
    const char *name = t_name("create");
    struct shmring_opts bad = {.size = 5000};
    assert_int_equal(shmring_create(name, &bad), SHMRING_EINVAL);
    struct shmring_opts limit = {.flags = SHMRING_MULTI_PRODUCER, .max_producers = 1025};
    assert_int_equal(shmring_create(name, &limit), SHMRING_EINVAL);
    struct shmring_opts stray = {.max_producers = 2}; /* a limit without the flag */
    assert_int_equal(shmring_create(name, &stray), SHMRING_EINVAL);
    /* A multi-producer ring: inspection reports its kind, its limit and no live producer. */
    const char *mp_name = t_name("create-mp");
    struct shmring_opts mp = {.flags = SHMRING_MULTI_PRODUCER, .max_producers = 3};
#ifdef _WIN32
    /* (No ring without a user on Windows: an observer holds it.) */
    mp.flags |= SHMRING_CREATE;
    shmring *mp_obs = NULL;
    assert_int_equal(shmring_open(mp_name, SHMRING_OBSERVER, &mp, &mp_obs), 0);
#else
    assert_int_equal(shmring_create(mp_name, &mp), 0);
#endif
    struct shmring_info mpi;
    assert_int_equal(shmring_inspect(mp_name, &mpi), 0);
    assert_int_equal(mpi.check, 0);
    assert_int_equal(mpi.stats.kind, SHMRING_KIND_MPSC);
    assert_int_equal(mpi.stats.max_producers, 3);
    assert_int_equal(mpi.stats.producers, 0);
    shmring *prod = NULL;
    assert_int_equal(shmring_open(mp_name, SHMRING_PRODUCER, NULL, &prod), 0);
    assert_int_equal(shmring_inspect(mp_name, &mpi), 0);
    assert_int_equal(mpi.stats.producers, 1); /* the kernel says its slot is held */
    shmring_close(prod);
#ifdef _WIN32
    assert_int_equal(shmring_inspect(mp_name, &mpi), 0);
    assert_int_equal(mpi.stats.producers, 0);
    shmring_close(mp_obs);
#endif
    assert_false(t_shm_exists(mp_name));       /* its only user's close removed it */
    struct shmring_opts mode = {.mode = 0660}; /* not 0640: read only with write (issue #10) */
#ifdef _WIN32
    assert_int_equal(shmring_create(name, &mode), SHMRING_ENOTSUP); /* owner-only descriptors */
    assert_false(t_shm_exists(name));
#else
    assert_int_equal(shmring_create(name, &mode), 0);
    struct shmring_info info;
    assert_int_equal(shmring_inspect(name, &info), 0);
    assert_int_equal(info.mode, 0660);
    assert_int_equal(shmring_unlink(name), 0);
#endif

    assert_int_equal(shmring_check_name("ok.name_1-x"), 0);
    assert_int_equal(shmring_check_name(""), SHMRING_EINVAL);
    assert_int_equal(shmring_check_name("a/b"), SHMRING_EINVAL);
    assert_int_equal(shmring_check_name(NULL), SHMRING_EINVAL);
    uint64_t page = shmring_page_size();
#ifdef _WIN32
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    assert_int_equal(page, si.dwPageSize);
#else
    assert_int_equal(page, (uint64_t)sysconf(_SC_PAGESIZE));
#endif
    for (uint64_t len = 0; len < 70000; len = len * 3 + 1) {
        uint64_t size = shmring_size_for_msg(len);
        assert_true(size >= SHMRING_DEFAULT_SIZE && size % page == 0);
        /* It fits a ring of that size, and not one page less. */
        const char *rn = t_name("sizefor");
        struct shmring_opts o = {.size = (size_t)size, .flags = SHMRING_CREATE};
        shmring *p = NULL;
        assert_int_equal(shmring_open(rn, SHMRING_PRODUCER, &o, &p), 0);
        assert_true(shmring_max_msg(p) >= len);
        shmring_close(p);
        if (size > SHMRING_DEFAULT_SIZE) {
            o.size = (size_t)(size - page);
            assert_int_equal(shmring_open(rn, SHMRING_PRODUCER, &o, &p), 0);
            assert_true(shmring_max_msg(p) < len);
            shmring_close(p);
        }
    }
    assert_int_equal(shmring_size_for_msg(SHMRING_MAX_SIZE), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_without_attaching),
        cmocka_unit_test(test_inspect_foreign),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_remove_stale),
        cmocka_unit_test(test_create_and_helpers),
#ifdef _WIN32
        cmocka_unit_test(test_create_unused),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
