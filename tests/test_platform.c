/* SPDX-License-Identifier: MIT */
/* The contract of src/platform.h that every backend (src/unix/, src/win/) must pass, on real
 * processes: roles are exclusive across processes and free the moment their holder is killed;
 * "alone" and "last" answers, including after a peer was killed; wait/wake and timeouts across
 * processes; a name replaced while we held the old object. Peers are this binary started again
 * with arguments (t_spawn_self: no fork, so the same test runs on Windows). The test speaks
 * only platform.h: the segments here are raw memory, not rings.
 *
 * Shared words at the start of a test segment (it is zero when created):
 *   [0] the peer sets 1 once it holds what it was asked to hold
 *   [1] the wait word of the wait/wake test
 *   [2] a marker telling two objects apart
 *   [3] how many sleepers of the wake-all test are about to sleep */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t_cmocka.h"

#include "platform.h"
#include "t_spawn.h"
#include "testutil.h"

#define MS (1000000LL)

static _Atomic uint32_t *word(void *base, int i)
{
    return (_Atomic uint32_t *)base + i;
}

struct seg {
    struct shmring__plat_seg *s;
    struct shmring__plat_attach at;
};

static int seg_open(const char *name, unsigned flags, struct seg *g)
{
    memset(g, 0, sizeof *g);
    int r = shmring__plat_seg_open(name, 0, 0, 0600, flags, &g->s, &g->at);
    if (r == 0 && (r = shmring__plat_seg_attach(g->s)) != 0) {
        shmring__plat_seg_abort(g->s);
    }
    return r;
}

static void open_ok(const char *name, unsigned flags, struct seg *g)
{
    int r = seg_open(name, flags, g);
    if (r == SHMRING_ENOSYS) {
        skip(); /* a placeholder backend */
    }
    assert_int_equal(r, 0);
}

/* Waits (up to 10 s) until the peer sets word 0. */
static void wait_ready(void *base)
{
    int64_t end = shmring__plat_now_ns() + 10000 * MS;
    while (atomic_load(word(base, 0)) == 0 && shmring__plat_now_ns() < end) {
        shmring__plat_sleep_ns(1 * MS);
    }
    assert_int_equal(atomic_load(word(base, 0)), 1);
}

static t_proc spawn(const char *mode, const char *name, const char *arg)
{
    const char *args[] = {mode, name, arg, NULL};
    t_proc p = t_spawn_self(args);
    assert_true(p != -1);
    return p;
}

static int exists(const char *name)
{
    struct shmring__plat_probe p;
    int r = shmring__plat_probe(name, &p, NULL, NULL);
    assert_true(r == 0 || r == SHMRING_ENOENT);
    return r == 0;
}

/* ---- the peers (this binary with arguments) ----------------------------------------------- */

/* A peer's last step: sleep until the test kills it. Bounded, so that a peer whose test failed
 * before killing it does not hold ctest's output pipe until the test's timeout. */
static int wait_to_be_killed(void)
{
    for (int i = 0; i < 60; i++) {
        shmring__plat_sleep_ns(1000 * MS);
    }
    return 13;
}

/* peer-hold NAME ROLE: attaches, takes ROLE, says so, and waits to be killed. */
static int peer_hold(const char *name, int role)
{
    struct seg g;
    if (seg_open(name, 0, &g) != 0) {
        return 10;
    }
    if (shmring__plat_role_take(g.s, role) != 0) {
        return 11;
    }
    atomic_store(word(g.at.base, 0), 1);
    return wait_to_be_killed();
}

/* peer-attach NAME: attaches (creating the name if needed), says so, waits to be killed. */
static int peer_attach(const char *name)
{
    struct seg g;
    if (seg_open(name, SHMRING_CREATE, &g) != 0) {
        return 10;
    }
    atomic_store(word(g.at.base, 0), 1);
    return wait_to_be_killed();
}

/* peer-busy NAME ROLE: ROLE must be busy; attaching is not alone; detaching is not last. */
static int peer_busy(const char *name, int role)
{
    struct seg g;
    if (seg_open(name, 0, &g) != 0) {
        return 10;
    }
    if (g.at.alone || g.at.created) {
        return 11;
    }
    if (shmring__plat_role_take(g.s, role) != SHMRING_EBUSY) {
        return 12;
    }
    if (shmring__plat_role_held(g.s, role) != 1) {
        return 13;
    }
    if (shmring__plat_seg_others_attached(g.s) != 1) {
        return 14;
    }
    return shmring__plat_seg_detach(g.s, 1) == 0 ? 0 : 15;
}

/* peer-wake NAME: after 100 ms, clears the wait word and wakes the consumer side. */
static int peer_wake(const char *name)
{
    struct seg g;
    if (seg_open(name, 0, &g) != 0) {
        return 10;
    }
    shmring__plat_sleep_ns(100 * MS);
    atomic_store(word(g.at.base, 1), 0);
    shmring__plat_wake(g.s, SHMRING__SIDE_CONSUMER, word(g.at.base, 1));
    shmring__plat_seg_detach(g.s, 1);
    return 0;
}

/* peer-sleep NAME: waits on the producer side while word 1 is 1 (20 s at most). 0 when woken,
 * 1 when the wait timed out, 2 when it failed. */
static int peer_sleep(const char *name)
{
    struct seg g;
    if (seg_open(name, 0, &g) != 0) {
        return 10;
    }
    _Atomic uint32_t *w = word(g.at.base, 1);
    atomic_fetch_add(word(g.at.base, 3), 1);
    int64_t end = shmring__plat_now_ns() + 20000 * MS;
    int r = 0;
    while (atomic_load(w) == 1 && r == 0 && shmring__plat_now_ns() < end) {
        r = shmring__plat_wait(g.s, SHMRING__SIDE_PRODUCER, w, 1, end - shmring__plat_now_ns());
    }
    int woken = atomic_load(w) == 0;
    shmring__plat_seg_detach(g.s, 0);
    return woken ? 0 : r == SHMRING_ETIMEDOUT || r == 0 ? 1 : 2;
}

/* ---- roles ----------------------------------------------------------------------------------- */

static void test_roles_exclusive_and_freed_at_kill(void **state)
{
    (void)state;
    const char *name = t_name("roles");
    struct seg g;
    open_ok(name, SHMRING_CREATE | SHMRING_EXCL, &g);
    assert_int_equal(shmring__plat_role_take(g.s, SHMRING__ROLE_ID_PRODUCER), 0);
    assert_int_equal(shmring__plat_role_take(g.s, SHMRING__ROLE_ID_PRODUCER), 0); /* again: ok */
    assert_int_equal(shmring__plat_role_held(g.s, SHMRING__ROLE_ID_PRODUCER), 0); /* ours */
    assert_int_equal(shmring__plat_role_take(g.s, SHMRING__ROLE_ID_SLOT0 + 7), 0);

    /* Another process: our roles are busy for it. */
    char role[16];
    snprintf(role, sizeof role, "%d", SHMRING__ROLE_ID_PRODUCER);
    assert_int_equal(t_proc_wait(spawn("peer-busy", name, role)), 0);
    snprintf(role, sizeof role, "%d", SHMRING__ROLE_ID_SLOT0 + 7);
    assert_int_equal(t_proc_wait(spawn("peer-busy", name, role)), 0);

    /* Its role is busy for us while it lives, and free the moment it is killed. */
    snprintf(role, sizeof role, "%d", SHMRING__ROLE_ID_CONSUMER);
    t_proc p = spawn("peer-hold", name, role);
    wait_ready(g.at.base);
    assert_int_equal(shmring__plat_role_held(g.s, SHMRING__ROLE_ID_CONSUMER), 1);
    assert_int_equal(shmring__plat_role_take(g.s, SHMRING__ROLE_ID_CONSUMER), SHMRING_EBUSY);
    assert_int_equal(shmring__plat_role_take_wait(g.s, SHMRING__ROLE_ID_CONSUMER, 50 * MS),
                     SHMRING_ETIMEDOUT);
    assert_int_equal(shmring__plat_role_held(g.s, SHMRING__ROLE_ID_LEGACY_SETTER), 0);
    t_proc_kill(p);
    assert_int_equal(t_proc_wait(p), 128 + 9);
    assert_int_equal(shmring__plat_role_held(g.s, SHMRING__ROLE_ID_CONSUMER), 0);
    assert_int_equal(shmring__plat_role_take(g.s, SHMRING__ROLE_ID_CONSUMER), 0);

    /* A dropped role is free for others. */
    shmring__plat_role_drop(g.s, SHMRING__ROLE_ID_CONSUMER);
    atomic_store(word(g.at.base, 0), 0);
    p = spawn("peer-hold", name, role);
    wait_ready(g.at.base);
    t_proc_kill(p);
    assert_int_equal(t_proc_wait(p), 128 + 9);

    /* The taker waits for a role its holder drops. */
    assert_int_equal(shmring__plat_role_take_wait(g.s, SHMRING__ROLE_ID_CONSUMER, 1000 * MS), 0);
    assert_int_equal(shmring__plat_seg_detach(g.s, 1), 1);
    assert_false(exists(name));
}

/* ---- alone / created / last ------------------------------------------------------------------ */

static void test_alone_and_last(void **state)
{
    (void)state;
    const char *name = t_name("alone");
    struct seg g;
    open_ok(name, SHMRING_CREATE, &g);
    assert_int_equal(g.at.alone, 1);
    assert_int_equal(g.at.created, 1);
    assert_true(g.at.size >= SHMRING_DEFAULT_SIZE);
    assert_int_equal(shmring__plat_seg_others_attached(g.s), 0);

    /* A second process is not alone, did not create it, and its detach is not the last. */
    assert_int_equal(shmring__plat_role_take(g.s, SHMRING__ROLE_ID_LEGACY_SETTER), 0);
    assert_int_equal(t_proc_wait(spawn("peer-busy", name, "2")), 0);

    /* A killed peer no longer counts: our detach is the last, and removes the name. */
    t_proc p = spawn("peer-attach", name, NULL);
    wait_ready(g.at.base);
    assert_int_equal(shmring__plat_seg_others_attached(g.s), 1);
    t_proc_kill(p);
    assert_int_equal(t_proc_wait(p), 128 + 9);
    assert_int_equal(shmring__plat_seg_others_attached(g.s), 0);
    assert_int_equal(shmring__plat_seg_detach(g.s, 1), 1);
    assert_false(exists(name));

#ifdef _WIN32
    /* Windows: a section lives exactly as long as some process has it open, so a name whose only
     * user was killed is gone (the POSIX rule below keeps it for the next opener). */
    p = spawn("peer-attach", name, NULL);
    int64_t end = shmring__plat_now_ns() + 10000 * MS;
    while (!exists(name) && shmring__plat_now_ns() < end) {
        shmring__plat_sleep_ns(1 * MS);
    }
    assert_true(exists(name));
    t_proc_kill(p);
    assert_int_equal(t_proc_wait(p), 128 + 9);
    assert_false(exists(name));
#else
    /* A name whose only user was killed: the next opener is alone on it, not its creator. */
    p = spawn("peer-attach", name, NULL);
    /* Until the peer has created the name and taken INIT, an open without SHMRING_CREATE finds
     * nothing (no name, or an empty object nobody holds: SHMRING_ENOENT); not a failure yet. */
    int64_t end = shmring__plat_now_ns() + 10000 * MS;
    struct seg h;
    int r;
    while ((r = seg_open(name, 0, &h)) == SHMRING_ENOENT && shmring__plat_now_ns() < end) {
        shmring__plat_sleep_ns(1 * MS);
    }
    assert_int_equal(r, 0);
    wait_ready(h.at.base);
    t_proc_kill(p);
    assert_int_equal(t_proc_wait(p), 128 + 9);
    assert_int_equal(shmring__plat_seg_detach(h.s, 0), 1); /* last, but asked to keep the name */
    assert_true(exists(name));
    open_ok(name, SHMRING_CREATE, &h);
    assert_int_equal(h.at.alone, 1);
    assert_int_equal(h.at.created, 0);
    assert_int_equal(atomic_load(word(h.at.base, 0)), 1); /* the same object, kept */

    /* Exit handling: release_marks answers like detach and leaves the mapping readable. */
    assert_int_equal(shmring__plat_seg_release_marks(h.s, 1), 1);
    assert_int_equal(atomic_load(word(h.at.base, 0)), 1);
    assert_false(exists(name));
    shmring__plat_seg_forget(h.s);
#endif
}

/* ---- waits ------------------------------------------------------------------------------------
 */

static void test_wait_wake_and_timeouts(void **state)
{
    (void)state;
    const char *name = t_name("wait");
    struct seg g;
    open_ok(name, SHMRING_CREATE | SHMRING_EXCL, &g);
    _Atomic uint32_t *w = word(g.at.base, 1);
    atomic_store(w, 1);

    /* A timeout is honoured: not early, not far late. */
    int64_t t0 = shmring__plat_now_ns();
    assert_int_equal(shmring__plat_wait(g.s, SHMRING__SIDE_CONSUMER, w, 1, 50 * MS),
                     SHMRING_ETIMEDOUT);
    int64_t took = shmring__plat_now_ns() - t0;
    assert_true(took >= 45 * MS);
    assert_true(took < 3000 * MS);

    /* A word that already differs returns at once. */
    t0 = shmring__plat_now_ns();
    assert_int_equal(shmring__plat_wait(g.s, SHMRING__SIDE_CONSUMER, w, 2, 5000 * MS), 0);
    assert_true(shmring__plat_now_ns() - t0 < 1000 * MS);

    /* Another process's wake ends our sleep long before the timeout. */
    t_proc p = spawn("peer-wake", name, NULL);
    t0 = shmring__plat_now_ns();
    int r = 0;
    while (atomic_load(w) == 1 && r == 0 && shmring__plat_now_ns() - t0 < 10000 * MS) {
        r = shmring__plat_wait(g.s, SHMRING__SIDE_CONSUMER, w, 1, 10000 * MS);
    }
    took = shmring__plat_now_ns() - t0;
    assert_int_equal(r, 0);
    assert_int_equal(atomic_load(w), 0);
    assert_true(took < 5000 * MS);
    assert_int_equal(t_proc_wait(p), 0);

    /* A wake with no sleeper is harmless. */
    shmring__plat_wake(g.s, SHMRING__SIDE_PRODUCER, word(g.at.base, 2));
    assert_int_equal(shmring__plat_seg_detach(g.s, 1), 1);
}

/* One wake ends the sleep of every waiter of the side, not just one (a multi-producer ring's
 * producers all sleep on one side): three sleeping processes, one wake. */
static void test_wake_wakes_every_waiter(void **state)
{
    (void)state;
    const char *name = t_name("wakeall");
    struct seg g;
    open_ok(name, SHMRING_CREATE | SHMRING_EXCL, &g);
    _Atomic uint32_t *w = word(g.at.base, 1);
    atomic_store(w, 1);
    enum { SLEEPERS = 3 };
    t_proc p[SLEEPERS];
    for (int i = 0; i < SLEEPERS; i++) {
        p[i] = spawn("peer-sleep", name, NULL);
    }
    int64_t end = shmring__plat_now_ns() + 10000 * MS;
    while (atomic_load(word(g.at.base, 3)) < SLEEPERS && shmring__plat_now_ns() < end) {
        shmring__plat_sleep_ns(1 * MS);
    }
    assert_int_equal(atomic_load(word(g.at.base, 3)), SLEEPERS);
    shmring__plat_sleep_ns(300 * MS); /* let them reach the kernel wait */
    int64_t t0 = shmring__plat_now_ns();
    atomic_store(w, 0);
    shmring__plat_wake(g.s, SHMRING__SIDE_PRODUCER, w);
    for (int i = 0; i < SLEEPERS; i++) {
        assert_int_equal(t_proc_wait(p[i]), 0);
    }
    int64_t took = shmring__plat_now_ns() - t0;
    print_message("    %d sleepers woken by one wake in %.1f ms\n", SLEEPERS, (double)took / MS);
    assert_true(took < 5000 * MS);
    shmring__plat_seg_detach(g.s, 1);
}

/* ---- names ------------------------------------------------------------------------------------
 */

static void test_replaced_name(void **state)
{
    (void)state;
#ifdef _WIN32
    skip(); /* no unlink: a section's name lives while it is open (test_platform_win.c) */
#endif
    const char *name = t_name("replaced");
    struct seg a, b;
    open_ok(name, SHMRING_CREATE | SHMRING_EXCL, &a);
    atomic_store(word(a.at.base, 2), 0xABCD);
    assert_int_equal(seg_open(name, SHMRING_CREATE | SHMRING_EXCL, &b), SHMRING_EEXIST);
    assert_int_equal(seg_open(name, 0, &b), 0); /* a second handle of ours */
    assert_int_equal(b.at.alone, 0);
    assert_int_equal(atomic_load(word(b.at.base, 2)), 0xABCD);
    assert_int_equal(shmring__plat_seg_detach(b.s, 1), 0);

    /* The name now leads to a new object: an opener gets that one, fresh. */
    assert_int_equal(shmring__plat_unlink(name), 0);
    assert_int_equal(seg_open(name, 0, &b), SHMRING_ENOENT);
    open_ok(name, SHMRING_CREATE, &b);
    assert_int_equal(b.at.created, 1);
    assert_int_equal(b.at.alone, 1);
    assert_int_equal(atomic_load(word(b.at.base, 2)), 0);

    /* The last user of the old object must not remove the new object's name. */
    assert_int_equal(shmring__plat_seg_detach(a.s, 1), 1);
    assert_true(exists(name));
    struct shmring__plat_probe pr;
    assert_int_equal(shmring__plat_probe(name, &pr, NULL, NULL), 0);
    assert_int_equal(pr.in_use, 1);
    assert_int_equal(shmring__plat_seg_detach(b.s, 1), 1);
    assert_false(exists(name));
}

/* Looking never attaches; a name whose users are all dead is stale and can be removed. */
static void test_probe_and_stale(void **state)
{
    (void)state;
#ifdef _WIN32
    skip(); /* no stale names: a section ends with its last handle (test_platform_win.c) */
#endif
    const char *name = t_name("stale");
    struct seg g;
    open_ok(name, SHMRING_CREATE | SHMRING_EXCL, &g);
    assert_int_equal(shmring__plat_role_take(g.s, SHMRING__ROLE_ID_PRODUCER), 0);
    struct shmring__plat_probe pr;
    assert_int_equal(shmring__plat_probe(name, &pr, NULL, NULL), 0);
    assert_int_equal(pr.in_use, 1);
    assert_int_equal(pr.owned_by_us, 1);
    assert_int_equal(pr.size, g.at.size);
    assert_int_equal(pr.roles, 1u << SHMRING__ROLE_ID_PRODUCER);
    assert_int_equal(shmring__plat_seg_others_attached(g.s), 0); /* the probe did not attach */
    assert_int_equal(shmring__plat_remove_stale(name, NULL, NULL), 0); /* in use: kept */
    assert_int_equal(shmring__plat_seg_detach(g.s, 0), 1);

    t_proc p = spawn("peer-attach", name, NULL);
    struct seg h;
    open_ok(name, 0, &h);
    wait_ready(h.at.base);
    assert_int_equal(shmring__plat_seg_detach(h.s, 0), 0); /* the peer is still there */
    t_proc_kill(p);
    assert_int_equal(t_proc_wait(p), 128 + 9);
    assert_int_equal(shmring__plat_probe(name, &pr, NULL, NULL), 0);
    assert_int_equal(pr.in_use, 0);
    assert_int_equal(shmring__plat_remove_stale(name, NULL, NULL), 1);
    assert_false(exists(name));
    assert_int_equal(shmring__plat_remove_stale(name, NULL, NULL), 0); /* gone: nothing to do */
}

int main(int argc, char **argv)
{
    if (argc >= 3) {
        const char *mode = argv[1], *name = argv[2];
        int arg = argc >= 4 ? atoi(argv[3]) : 0;
        if (strcmp(mode, "peer-hold") == 0) {
            return peer_hold(name, arg);
        }
        if (strcmp(mode, "peer-attach") == 0) {
            return peer_attach(name);
        }
        if (strcmp(mode, "peer-busy") == 0) {
            return peer_busy(name, arg);
        }
        if (strcmp(mode, "peer-wake") == 0) {
            return peer_wake(name);
        }
        if (strcmp(mode, "peer-sleep") == 0) {
            return peer_sleep(name);
        }
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_exclusive_and_freed_at_kill),
        cmocka_unit_test(test_alone_and_last),
        cmocka_unit_test(test_wait_wake_and_timeouts),
        cmocka_unit_test(test_wake_wakes_every_waiter),
        cmocka_unit_test(test_replaced_name),
        cmocka_unit_test(test_probe_and_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
