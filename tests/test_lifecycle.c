/* SPDX-License-Identifier: MIT */
/* Lifetime of a ring across real processes: who removes the name, what survives SIGKILL, exit(),
 * fork and exec, role exclusion and takeover (pid reuse included), what each side sees when the
 * other closes or has not attached yet, and the statistics. Every peer is a child process
 * (t_spawn_flat: forked on POSIX, the program started again on Windows, killed with SIGKILL or
 * TerminateProcess). On Windows a section lives exactly while some process has a handle
 * (docs/windows.md, "Lifetime"): there the tests assert that rule where Linux asserts its own, and
 * the cases about unlink, SHMRING_PERSIST, fork, exec and pid reuse are POSIX-only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#ifndef _WIN32
#include <spawn.h>
#endif

#include "t_cmocka.h"

#include "test_lifeutil.h"

#ifndef _WIN32
extern char **environ;
#endif

#define SEC (1000000000LL)
#define MS  (1000000LL)

/* Sends seq [from, to) as checked messages of varying length with send_wait. */
static int send_range(shmring *r, uint64_t from, uint64_t to)
{
    uint8_t msg[512];
    for (uint64_t s = from; s < to; s++) {
        size_t len = 16 + (size_t)(s * 37 % 300);
        t_msg_fill(msg, len, s);
        TL_CHECK_RC(shmring_send_wait(r, msg, len, 5 * SEC), 0);
    }
    return 0;
}

/* Receives exactly seq [from, to) with recv_wait, checking every message. */
static int recv_range(shmring *r, uint64_t from, uint64_t to)
{
    uint8_t buf[4096];
    for (uint64_t s = from; s < to; s++) {
        ssize_t n = shmring_recv_wait(r, buf, sizeof buf, 5 * SEC);
        TL_CHECK(n >= 0 || (fprintf(stderr, "recv_wait: %s at seq %llu\n", shmring_strerror((int)n),
                                    (unsigned long long)s),
                            0));
        TL_CHECK(t_msg_check(buf, (size_t)n, s));
    }
    return 0;
}

/* ---- the last detacher removes the name ----------------------------------------------------- */

struct pc_args {
    struct tl_name n;
    int count;
    int use_exit; /* 1: leave with exit() and no shmring_close (the atexit path) */
};

static int pc_producer(void *p)
{
    struct pc_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    if (send_range(r, 0, (uint64_t)a->count) != 0) {
        return 1;
    }
    if (a->use_exit) {
        exit(0);
    }
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

static int pc_consumer(void *p)
{
    struct pc_args *a = p;
    shmring *r;
    uint8_t buf[4096];
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r), 0);
    if (recv_range(r, 0, (uint64_t)a->count) != 0) {
        return 1;
    }
    TL_CHECK_RC(shmring_recv_wait(r, buf, sizeof buf, 5 * SEC), SHMRING_EPIPE);
    TL_CHECK(t_shm_exists(a->n.s)); /* we are still attached */
    if (a->use_exit) {
        exit(0);
    }
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

static void run_pc(int use_exit)
{
    struct pc_args a = {tl_name(use_exit ? "exit" : "close"), 3000, use_exit};
    t_proc c = t_spawn_flat(pc_consumer, &a, sizeof a);
    t_proc p = t_spawn_flat(pc_producer, &a, sizeof a);
    assert_int_equal(t_proc_wait(p), 0);
    assert_int_equal(t_proc_wait(c), 0);
    assert_false(t_shm_exists(a.n.s));
}

static void test_close_removes_name(void **state)
{
    (void)state;
    run_pc(0);
}

static void test_exit_without_close_removes_name(void **state)
{
    (void)state;
    run_pc(1);
}

/* ---- everyone SIGKILLed: the next open starts afresh ---------------------------------------- */

struct killall_shared {
    _Atomic uint32_t p_ready, c_ready;
    uint64_t generation;
};

struct killall_args {
    struct tl_name n;
    struct killall_shared *sh;
};

static int ka_producer(void *p)
{
    struct killall_args *a = p;
    a->sh = tl_here(a->sh);
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    if (send_range(r, 0, 10) != 0) {
        return 1;
    }
    a->sh->generation = atomic_load(&r->hdr->generation);
    atomic_store(&a->sh->p_ready, 1);
    tl_idle_forever();
    return 0;
}

static int ka_consumer(void *p)
{
    struct killall_args *a = p;
    a->sh = tl_here(a->sh);
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r), 0);
    if (recv_range(r, 0, 3) != 0) {
        return 1;
    }
    atomic_store(&a->sh->c_ready, 1);
    tl_idle_forever();
    return 0;
}

static void test_all_killed_starts_afresh(void **state)
{
    (void)state;
    struct killall_args a = {tl_name("killall"), tl_shared(sizeof *a.sh)};
    t_proc c = t_spawn_flat(ka_consumer, &a, sizeof a);
    t_proc p = t_spawn_flat(ka_producer, &a, sizeof a);
    assert_true(tl_await(&a.sh->p_ready, 5000));
    assert_true(tl_await(&a.sh->c_ready, 5000));
    assert_int_equal(tl_end(p), T_KILLED);
    assert_int_equal(tl_end(c), T_KILLED);

#ifdef _WIN32
    /* The section ended with its last handle, killed or not: the next open creates a new one. */
    assert_false(t_shm_exists(a.n.s));
    struct shmring__seg_probe probe;
    assert_int_equal(shmring__seg_probe(a.n.s, &probe, NULL, NULL), SHMRING_ENOENT);
    shmring *r;
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &r), 0);
    assert_int_equal(atomic_load(&r->hdr->generation), 1);
#else
    /* The name outlives its killed users, but the kernel knows nobody uses it any more. */
    assert_true(t_shm_exists(a.n.s));
    struct shmring__seg_probe probe;
    assert_int_equal(shmring__seg_probe(a.n.s, &probe, NULL, NULL), 0);
    assert_int_equal(probe.in_use, 0);
    assert_int_equal(probe.check, 0);

    shmring *r;
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &r), 0);
    assert_int_equal(atomic_load(&r->hdr->generation), a.sh->generation + 1);
#endif
    struct shmring_stats st;
    assert_int_equal(shmring_stats(r, &st), 0);
    assert_int_equal(st.sent_msgs, 0);
    assert_int_equal(st.recv_msgs, 0);
    assert_int_equal(st.head, 0);
    assert_int_equal(st.tail, 0);
    assert_int_equal(st.producer_pid, 0);
    assert_int_equal(st.consumer_pid, shmring__plat_pid());
    uint8_t buf[64];
    /* Fresh: the 7 unread messages are gone and the dead producer is forgotten (no -EPIPE). */
    assert_int_equal(shmring_recv(r, buf, sizeof buf), SHMRING_EAGAIN);
    assert_int_equal(shmring_recv_wait(r, buf, sizeof buf, 30 * MS), SHMRING_ETIMEDOUT);
    assert_int_equal(shmring_close(r), 0);
    assert_false(t_shm_exists(a.n.s));
    tl_unshare(a.sh, sizeof *a.sh);
}

#ifndef _WIN32 /* POSIX-only: SHMRING_PERSIST, unlink, fork and exec do not exist on Windows */
/* ---- SHMRING_PERSIST ------------------------------------------------------------------------- */

struct persist_shared {
    _Atomic uint32_t ready;
    uint64_t generation;
};

struct persist_args {
    struct tl_name n;
    struct persist_shared *sh;
    uint64_t from, to;
    int then; /* 0: close, 1: exit() without close, 2: signal ready and wait to be killed */
};

static int persist_producer(void *p)
{
    struct persist_args *a = p;
    /* 64 KiB: room for every message of a step without a consumer. */
    struct shmring_opts o = {.size = a->from == 0 ? 65536 : 0,
                             .flags = SHMRING_CREATE | SHMRING_PERSIST};
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, &o, &r), 0);
    if (send_range(r, a->from, a->to) != 0) {
        return 1;
    }
    a->sh->generation = atomic_load(&r->hdr->generation);
    if (a->then == 1) {
        exit(0);
    }
    if (a->then == 2) {
        atomic_store(&a->sh->ready, 1);
        pause();
    }
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

static int persist_consumer(void *p)
{
    struct persist_args *a = p;
    shmring *r;
    uint8_t buf[4096];
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r), 0);
    TL_CHECK(atomic_load(&r->hdr->generation) == a->sh->generation); /* not started afresh */
    struct shmring_stats st;
    TL_CHECK_RC(shmring_stats(r, &st), 0);
    TL_CHECK(st.flags & SHMRING_PERSIST);
    TL_CHECK(st.producer_pid == 0);
    if (recv_range(r, a->from, a->to) != 0) {
        return 1;
    }
    /* The producer that wrote these is gone, but it belonged to an earlier session: a consumer
     * that attaches to an unused ring waits for the next producer, as on a fresh ring. */
    TL_CHECK_RC(shmring_recv(r, buf, sizeof buf), SHMRING_EAGAIN);
    TL_CHECK_RC(shmring_recv_wait(r, buf, sizeof buf, 30 * MS), SHMRING_ETIMEDOUT);
    if (a->then == 1) {
        exit(0);
    }
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

static void test_persist_keeps_messages(void **state)
{
    (void)state;
    struct persist_args a = {tl_name("persist"), tl_shared(sizeof(struct persist_shared)), 0, 40,
                             0};
    /* 1. The producer closes; nobody is attached; the name and the 40 messages stay. */
    assert_int_equal(t_wait(t_spawn(persist_producer, &a)), 0);
    assert_true(t_shm_exists(a.n.s));
    /* 2. A later consumer receives them; it leaves with exit() (atexit detach, no unlink). */
    a.then = 1;
    assert_int_equal(t_wait(t_spawn(persist_consumer, &a)), 0);
    assert_true(t_shm_exists(a.n.s));
    /* 3. A producer sends 40 more and is SIGKILLed: still kept, not started afresh. */
    a.from = 40;
    a.to = 80;
    a.then = 2;
    atomic_store(&a.sh->ready, 0);
    pid_t p = t_spawn(persist_producer, &a);
    assert_true(tl_await(&a.sh->ready, 5000));
    assert_int_equal(tl_kill(p), 128 + SIGKILL);
    assert_true(t_shm_exists(a.n.s));
    a.then = 0;
    assert_int_equal(t_wait(t_spawn(persist_consumer, &a)), 0);
    assert_true(t_shm_exists(a.n.s));
    /* 4. Only shmring_unlink removes it. */
    assert_int_equal(shmring_unlink(a.n.s), 0);
    assert_false(t_shm_exists(a.n.s));
    assert_int_equal(shmring_unlink(a.n.s), SHMRING_ENOENT);
    tl_unshare(a.sh, sizeof *a.sh);
}

/* Unlinking a ring in use: attached processes keep talking; the next open makes a new ring. */
static int unlinked_consumer(void *p)
{
    struct persist_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r), 0);
    atomic_store(&a->sh->ready, 1);
    if (recv_range(r, 0, 100) != 0) {
        return 1;
    }
    uint8_t buf[64];
    TL_CHECK_RC(shmring_recv_wait(r, buf, sizeof buf, 5 * SEC), SHMRING_EPIPE);
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

static void test_unlink_while_attached(void **state)
{
    (void)state;
    struct persist_args a = {tl_name("unlinked"), tl_shared(sizeof(struct persist_shared)), 0, 0,
                             0};
    struct shmring_opts o = {.flags = SHMRING_CREATE | SHMRING_PERSIST};
    shmring *p;
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, &o, &p), 0);
    pid_t c = t_spawn(unlinked_consumer, &a);
    assert_true(tl_await(&a.sh->ready, 5000));
    assert_int_equal(shmring_unlink(a.n.s), 0);
    assert_false(t_shm_exists(a.n.s));
    assert_int_equal(send_range(p, 0, 100), 0); /* still reaches the attached consumer */
    shmring *p2;
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p2), 0); /* a new ring */
    assert_int_equal(atomic_load(&p2->hdr->generation), 1);
    assert_int_equal(shmring_close(p), 0);
    assert_int_equal(t_wait(c), 0);
    /* The old ring's last user (the consumer) must not have removed the new ring's name. */
    assert_true(t_shm_exists(a.n.s));
    assert_int_equal(shmring_close(p2), 0);
    assert_false(t_shm_exists(a.n.s));
    tl_unshare(a.sh, sizeof *a.sh);
}

/* ---- fork and exec do not keep a role or the mapping alive ---------------------------------- */

struct fork_shared {
    _Atomic uint32_t ready;
    pid_t grandchild, execed;
    int child_ok;
};

struct fork_args {
    struct tl_name n;
    struct fork_shared *sh;
};

static int fork_grandchild(shmring *inherited, struct fork_shared *sh)
{
    /* The inherited handle is inert: it neither acts nor detaches the parent. */
    TL_CHECK_RC(shmring_send(inherited, "x", 1), SHMRING_EPERM);
    struct shmring_stats st;
    TL_CHECK_RC(shmring_stats(inherited, &st), SHMRING_EINVAL);
    TL_CHECK_RC(shmring_close(inherited), 0);
    sh->child_ok = 1;
    atomic_store(&sh->ready, 1);
    pause();
    return 0;
}

static int fork_producer(void *p)
{
    struct fork_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    fflush(NULL);
    pid_t g = fork();
    if (g == 0) {
        _exit(fork_grandchild(r, a->sh));
    }
    TL_CHECK(tl_await(&a->sh->ready, 5000));
    /* posix_spawn (clone + exec, no fork handlers): O_CLOEXEC alone must drop the segment. */
    char *argv[] = {"sleep", "30", NULL};
    pid_t s;
    TL_CHECK_RC(posix_spawnp(&s, "sleep", NULL, NULL, argv, environ), 0);
    a->sh->grandchild = g;
    a->sh->execed = s;
    TL_CHECK_RC(shmring_send(r, "still mine", 10), 0); /* the child's close did not detach us */
    atomic_store(&a->sh->ready, 2);
    pause();
    return 0;
}

static void test_fork_and_exec_drop_the_ring(void **state)
{
    (void)state;
    struct fork_args a = {tl_name("fork"), tl_shared(sizeof(struct fork_shared))};
    shmring *c;
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &c), 0);
    pid_t p = t_spawn(fork_producer, &a);
    int64_t end = tl_now_ns() + 5 * SEC;
    while (atomic_load(&a.sh->ready) != 2 && tl_now_ns() < end) {
        usleep(500);
    }
    assert_int_equal(atomic_load(&a.sh->ready), 2);
    assert_int_equal(a.sh->child_ok, 1);
    pid_t g = a.sh->grandchild;
    pid_t s = a.sh->execed;
    usleep(20000); /* let sleep(1) finish exec'ing */

    uint8_t buf[64];
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 10); /* the producer still works */
    assert_true(tl_proc_uses(p, a.n.s));  /* the detector sees the producer's mapping ... */
    assert_false(tl_proc_uses(g, a.n.s)); /* ... and none in the forked child ... */
    assert_false(tl_proc_uses(s, a.n.s)); /* ... nor in the exec'd one */

    shmring *p2;
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p2), SHMRING_EBUSY);
    assert_int_equal(tl_kill(p), 128 + SIGKILL);
    /* Its children live on, but hold neither the role nor the mapping. */
    assert_int_equal(kill(g, 0), 0);
    assert_int_equal(kill(s, 0), 0);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, SEC), SHMRING_EPIPE);
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p2), 0);
    assert_int_equal(shmring_close(p2), 0);
    assert_int_equal(shmring_close(c), 0);
    assert_false(t_shm_exists(a.n.s)); /* we were the last user although g and s still run */
    /* We are the subreaper (main), so the orphans come back to us. */
    assert_int_equal(tl_kill(g), 128 + SIGKILL);
    assert_int_equal(tl_kill(s), 128 + SIGKILL);
    tl_unshare(a.sh, sizeof *a.sh);
}

/* A holder that execs (here: into sleep(1)) keeps its pid but drops the ring: O_CLOEXEC closes
 * the descriptor and with it the role, like a death. */
static int exec_producer(void *p)
{
    struct fork_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    TL_CHECK_RC(send_range(r, 0, 3), 0);
    execlp("sleep", "sleep", "30", (char *)NULL);
    return 1;
}

static void test_exec_drops_the_role(void **state)
{
    (void)state;
    struct fork_args a = {tl_name("exec"), NULL};
    shmring *c;
    uint8_t buf[4096];
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &c), 0);
    pid_t p = t_spawn(exec_producer, &a);
    assert_int_equal(recv_range(c, 0, 3), 0);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, SEC), SHMRING_EPIPE);
    assert_int_equal(kill(p, 0), 0); /* the same pid, alive, now running sleep */
    assert_false(tl_proc_uses(p, a.n.s));
    struct shmring_stats st;
    assert_int_equal(shmring_stats(c, &st), 0);
    assert_int_equal(st.producer_pid, 0);
    shmring *p2;
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p2), 0);
    assert_int_equal(shmring_close(p2), 0);
    assert_int_equal(shmring_close(c), 0);
    assert_false(t_shm_exists(a.n.s));
    assert_int_equal(tl_kill(p), 128 + SIGKILL);
}
#endif /* !_WIN32 */

/* ---- roles: -EBUSY, takeover, pid reuse ------------------------------------------------------ */

static void busy_then_takeover(int role)
{
    struct tl_holder_args a = {tl_name(role == SHMRING_PRODUCER ? "busyp" : "busyc"), role,
                               tl_shared(sizeof(_Atomic uint32_t))};
    shmring *obs[3];
    assert_int_equal(shmring_open(a.n.s, SHMRING_OBSERVER, NULL, &obs[0]), 0);
    t_proc h = t_spawn_flat(tl_role_holder, &a, sizeof a);
    assert_true(tl_await(a.ready, 5000));
    int32_t hpid = (int32_t)atomic_load(a.ready); /* the holder stored its pid */
    shmring *r;
    /* Another process, and another handle of a process that does not hold it, are refused. */
    assert_int_equal(shmring_open(a.n.s, role, NULL, &r), SHMRING_EBUSY);
    assert_int_equal(shmring_open(a.n.s, role, NULL, &r), SHMRING_EBUSY);
    for (int i = 1; i < 3; i++) { /* observers are unlimited */
        assert_int_equal(shmring_open(a.n.s, SHMRING_OBSERVER, NULL, &obs[i]), 0);
    }
    struct shmring_stats st;
    assert_int_equal(shmring_stats(obs[0], &st), 0);
    assert_int_equal(role == SHMRING_PRODUCER ? st.producer_pid : st.consumer_pid, hpid);

    assert_int_equal(tl_end(h), T_KILLED);
    /* No waiting, no retry: the kernel dropped the role lock (Windows: abandoned the role's
     * mutex) with the process. */
    int64_t t0 = tl_now_ns();
    assert_int_equal(shmring_open(a.n.s, role, NULL, &r), 0);
    int64_t took = tl_now_ns() - t0;
    print_message("    takeover of the %s role after the kill: first open succeeded in %.3f ms\n",
                  role == SHMRING_PRODUCER ? "producer" : "consumer", (double)took / 1e6);
    /* And while we hold it, a second open is refused again. */
    shmring *r2;
    assert_int_equal(shmring_open(a.n.s, role, NULL, &r2), SHMRING_EBUSY);
    assert_int_equal(shmring_close(r), 0);
    assert_int_equal(shmring_open(a.n.s, role, NULL, &r2), 0); /* a closed role is free too */
    assert_int_equal(shmring_close(r2), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(shmring_close(obs[i]), 0);
    }
    assert_false(t_shm_exists(a.n.s));
    tl_unshare(a.ready, sizeof *a.ready);
}

static void test_busy_and_takeover_producer(void **state)
{
    (void)state;
    busy_then_takeover(SHMRING_PRODUCER);
}

static void test_busy_and_takeover_consumer(void **state)
{
    (void)state;
    busy_then_takeover(SHMRING_CONSUMER);
}

#ifndef _WIN32 /* POSIX-only: pid reuse (Windows decides liveness by a role mutex, not a pid) */
static int pause_forever(void *unused)
{
    (void)unused;
    pause();
    return 0;
}

/* Forks a child that runs pause() with exactly the given (free) pid, by steering the kernel's
 * next pid (needs CAP_SYS_ADMIN). Returns the pid, or -1 if that was not possible. */
static pid_t spawn_with_pid(pid_t want)
{
    if (getenv("SHMRING_TEST_NO_PID_STEER") != NULL) { /* to exercise the fallback below */
        return -1;
    }
    for (int attempt = 0; attempt < 50; attempt++) {
        int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
        if (fd < 0) {
            return -1;
        }
        char b[32];
        int n = snprintf(b, sizeof b, "%d", (int)want - 1);
        int ok = write(fd, b, (size_t)n) == n;
        close(fd);
        if (!ok) {
            return -1;
        }
        fflush(NULL);
        pid_t c = fork();
        if (c == 0) {
            pause();
            _exit(0);
        }
        if (c == want) {
            return c;
        }
        tl_kill(c); /* someone else forked in between: try again */
    }
    return -1;
}

static void test_pid_reuse_cannot_fake_liveness(void **state)
{
    (void)state;
    struct tl_holder_args a = {tl_name("pidreuse"), SHMRING_PRODUCER,
                               tl_shared(sizeof(_Atomic uint32_t))};
    shmring *c;
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &c), 0);
    pid_t h = t_spawn(tl_role_holder, &a);
    assert_true(tl_await(a.ready, 5000));
    assert_int_equal(tl_kill(h), 128 + SIGKILL);

    pid_t impostor = spawn_with_pid(h);
    if (impostor < 0) {
        /* Without the privilege, plant a live pid where the dead holder's was instead. */
        print_message("    cannot steer pid allocation; planting a live pid in the header\n");
        impostor = t_spawn(pause_forever, NULL);
        atomic_store(&c->hdr->producer_pid, impostor);
    } else {
        print_message("    pid %d of the SIGKILLed producer now belongs to a live process\n",
                      (int)h);
    }
    /* The header still names the dead holder's pid, and a live process has that pid now. */
    assert_int_equal(atomic_load(&c->hdr->producer_pid), impostor);
    assert_int_equal(kill(impostor, 0), 0);

    struct shmring_stats st;
    assert_int_equal(shmring_stats(c, &st), 0);
    assert_int_equal(st.producer_pid, 0);
    uint8_t buf[64];
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, SEC), SHMRING_EPIPE);
    shmring *p;
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN); /* -EPIPE ended */
    assert_int_equal(shmring_send(p, "hi", 2), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 2);
    assert_int_equal(shmring_close(p), 0);
    assert_int_equal(shmring_close(c), 0);
    assert_int_equal(tl_kill(impostor), 128 + SIGKILL);
    assert_false(t_shm_exists(a.n.s));
    tl_unshare(a.ready, sizeof *a.ready);
}
#endif /* !_WIN32 */

#ifdef _WIN32
/* The Windows counterpart of the pid reuse case (a pid cannot be steered there): liveness is the
 * role's mutex, so a live process's pid planted where the killed holder's was fakes nothing. */
static void test_planted_pid_cannot_fake_liveness(void **state)
{
    (void)state;
    struct tl_holder_args a = {tl_name("pidplant"), SHMRING_PRODUCER,
                               tl_shared(2 * sizeof(_Atomic uint32_t))};
    struct tl_holder_args b = {tl_name("pidplant2"), SHMRING_OBSERVER, a.ready + 1};
    shmring *c;
    struct shmring_stats st;
    uint8_t buf[64];
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &c), 0);
    t_proc h = t_spawn_flat(tl_role_holder, &a, sizeof a);
    assert_true(tl_await(a.ready, 5000));
    assert_int_equal(shmring_stats(c, &st), 0);
    assert_int_equal(st.producer_pid, (int32_t)atomic_load(a.ready));
    assert_int_equal(tl_end(h), T_KILLED);

    /* A live process (it holds an observer of another ring until it is killed). */
    t_proc imp = t_spawn_flat(tl_role_holder, &b, sizeof b);
    assert_true(tl_await(b.ready, 5000));
    int32_t impostor = (int32_t)atomic_load(b.ready);
    atomic_store(&c->hdr->producer_pid, impostor);
    assert_int_equal(atomic_load(&c->hdr->producer_pid), impostor);

    assert_int_equal(shmring_stats(c, &st), 0);
    assert_int_equal(st.producer_pid, 0);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, SEC), SHMRING_EPIPE);
    shmring *p;
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN); /* -EPIPE ended */
    assert_int_equal(shmring_send(p, "hi", 2), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 2);
    assert_int_equal(shmring_close(p), 0);
    assert_int_equal(shmring_close(c), 0);
    assert_int_equal(tl_end(imp), T_KILLED); /* it was alive throughout */
    assert_false(t_shm_exists(a.n.s));
    assert_false(t_shm_exists(b.n.s));
}
#endif

/* ---- what each side sees: close, never attached, a new peer --------------------------------- */

struct step_args {
    struct tl_name n;
    int count;
    _Atomic uint32_t *go; /* [0]: attached, [1]: may send, [2]: sent */
};

static int late_producer(void *p)
{
    struct step_args *a = p;
    a->go = tl_here(a->go);
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    atomic_store(&a->go[0], 1);
    TL_CHECK(tl_await(&a->go[1], 5000));
    if (send_range(r, 0, (uint64_t)a->count) != 0) {
        return 1;
    }
    atomic_store(&a->go[2], 1);
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

static void test_producer_close_then_epipe(void **state)
{
    (void)state;
    struct step_args a = {tl_name("pclose"), 7, tl_shared(3 * sizeof(_Atomic uint32_t))};
    shmring *c;
    uint8_t buf[4096];
    /* A consumer started first waits: no -EPIPE from a producer that never attached. */
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &c), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, 50 * MS), SHMRING_ETIMEDOUT);

    for (int round = 0; round < 2; round++) {
        memset((void *)a.go, 0, 3 * sizeof(_Atomic uint32_t));
        t_proc p = t_spawn_flat(late_producer, &a, sizeof a);
        assert_true(tl_await(&a.go[0], 5000));
        /* Attached and idle: still -EAGAIN (after round 0 this is "-EPIPE ended"). */
        assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN);
        atomic_store(&a.go[1], 1);
        assert_int_equal(t_proc_wait(p), 0); /* it sent 7 messages and closed */
        /* Every committed message first, then -EPIPE, from the non-blocking call too. */
        for (uint64_t s = 0; s < 7; s++) {
            ssize_t n = shmring_recv(c, buf, sizeof buf);
            assert_true(n > 0);
            assert_true(t_msg_check(buf, (size_t)n, s));
        }
        assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EPIPE);
        assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EPIPE); /* it stays */
        const void *m;
        assert_int_equal(shmring_peek(c, &m), SHMRING_EPIPE);
        assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, -1), SHMRING_EPIPE);
        struct shmring_stats st;
        assert_int_equal(shmring_stats(c, &st), 0);
        assert_int_equal(st.producer_pid, 0);
    }
    assert_int_equal(shmring_close(c), 0);
    assert_false(t_shm_exists(a.n.s));
    tl_unshare((void *)a.go, 3 * sizeof(_Atomic uint32_t));
}

static int late_consumer(void *p)
{
    struct step_args *a = p;
    a->go = tl_here(a->go);
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r), 0);
    atomic_store(&a->go[0], 1);
    TL_CHECK(tl_await(&a->go[1], 5000));
    if (recv_range(r, 0, (uint64_t)a->count) != 0) {
        return 1;
    }
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

static void test_consumer_close_and_producer_first(void **state)
{
    (void)state;
    struct step_args a = {tl_name("cclose"), 0, tl_shared(3 * sizeof(_Atomic uint32_t))};
    shmring *p;
    uint8_t msg[4096];
    assert_int_equal(shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p), 0);
    /* A producer started first fills the ring, then waits (no -EPIPE). */
    uint64_t n = 0;
    for (;;) {
        size_t len = 16 + (size_t)(n * 37 % 300);
        t_msg_fill(msg, len, n);
        int e = shmring_send(p, msg, len);
        if (e == SHMRING_EAGAIN) {
            break;
        }
        assert_int_equal(e, 0);
        n++;
    }
    assert_true(n > 5);
    size_t next_len = 16 + (size_t)(n * 37 % 300); /* the message that did not fit */
    t_msg_fill(msg, next_len, n);
    assert_int_equal(shmring_send_wait(p, msg, next_len, 50 * MS), SHMRING_ETIMEDOUT);

    /* A consumer that reads exactly those and closes: the full ring then says -EPIPE. */
    a.count = (int)n;
    t_proc c = t_spawn_flat(late_consumer, &a, sizeof a);
    assert_true(tl_await(&a.go[0], 5000));
    assert_int_equal(shmring_send(p, msg, next_len),
                     SHMRING_EAGAIN); /* attached, not reading yet */
    atomic_store(&a.go[1], 1);
    assert_int_equal(t_proc_wait(c), 0);
    /* Its close freed room: sends succeed until full, then -EPIPE (nobody will read). */
    int sent = 0;
    int e;
    while ((e = shmring_send(p, msg, 16)) == 0) {
        sent++;
    }
    assert_int_equal(e, SHMRING_EPIPE);
    assert_true(sent > 5);
    assert_int_equal(shmring_send_wait(p, msg, 16, -1), SHMRING_EPIPE);
    struct shmring_stats st;
    assert_int_equal(shmring_stats(p, &st), 0);
    assert_int_equal(st.consumer_pid, 0);
    assert_int_equal(shmring_close(p), 0);
    assert_false(t_shm_exists(a.n.s));
    tl_unshare((void *)a.go, 3 * sizeof(_Atomic uint32_t));
}

/* ---- statistics ------------------------------------------------------------------------------ */

static void test_stats_counters(void **state)
{
    (void)state;
    struct tl_name n = tl_name("stats");
    shmring *p;
    shmring *c;
    shmring *o;
    struct shmring_stats st;
    uint8_t msg[4096];
    assert_int_equal(shmring_open(n.s, SHMRING_OBSERVER, NULL, &o), 0);
    assert_int_equal(shmring_stats(o, &st), 0);
    assert_int_equal(st.producer_pid, 0); /* free roles */
    assert_int_equal(st.consumer_pid, 0);
    assert_int_equal(st.size, SHMRING_DEFAULT_SIZE);
    assert_int_equal(st.capacity, SHMRING_DEFAULT_SIZE - SHMRING_HEADER_SIZE);

    assert_int_equal(shmring_open(n.s, SHMRING_PRODUCER, NULL, &p), 0);
    assert_int_equal(shmring_open(n.s, SHMRING_CONSUMER, NULL, &c), 0);
    uint64_t sent = 0, sent_bytes = 0, recvd = 0, recv_bytes = 0, full = 0, empty = 0;
    uint64_t rng = 42;
    for (int round = 0; round < 50; round++) {
        /* Fill until full, counting the -EAGAINs (a few more after the first). */
        uint64_t extra = t_rand(&rng) % 3;
        for (;;) {
            size_t len = (size_t)(t_rand(&rng) % 400);
            int e = shmring_send(p, msg, len);
            if (e == SHMRING_EAGAIN) {
                full++;
                if (extra-- == 0) {
                    break;
                }
                continue;
            }
            assert_int_equal(e, 0);
            sent++;
            sent_bytes += len;
        }
        /* Drain, counting the -EAGAINs. */
        uint64_t k = t_rand(&rng) % 3;
        for (;;) {
            ssize_t r = shmring_recv(c, msg, sizeof msg);
            if (r == SHMRING_EAGAIN) {
                empty++;
                if (k-- == 0) {
                    break;
                }
                continue;
            }
            assert_true(r >= 0);
            recvd++;
            recv_bytes += (uint64_t)r;
        }
    }
    /* Every role sees the same counters. */
    shmring *all[3] = {p, c, o};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(shmring_stats(all[i], &st), 0);
        assert_int_equal(st.sent_msgs, sent);
        assert_int_equal(st.sent_bytes, sent_bytes);
        assert_int_equal(st.recv_msgs, recvd);
        assert_int_equal(st.recv_bytes, recv_bytes);
        assert_int_equal(st.full_events, full);
        assert_int_equal(st.empty_events, empty);
        assert_int_equal(st.producer_pid, shmring__plat_pid());
        assert_int_equal(st.consumer_pid, shmring__plat_pid());
        assert_int_equal(st.used_bytes, 0);
        assert_int_equal(st.tail - st.head, 0);
        assert_int_equal(st.producer_sleeps + st.consumer_sleeps + st.wakeups, 0);
    }
    assert_int_equal(sent, recvd);
    /* After a close the role reads 0; the counters survive and continue with the next peer. */
    assert_int_equal(shmring_close(p), 0);
    assert_int_equal(shmring_stats(o, &st), 0);
    assert_int_equal(st.producer_pid, 0);
    assert_int_equal(shmring_open(n.s, SHMRING_PRODUCER, NULL, &p), 0);
    assert_int_equal(shmring_send(p, msg, 10), 0);
    assert_int_equal(shmring_stats(o, &st), 0);
    assert_int_equal(st.sent_msgs, sent + 1);
    assert_int_equal(st.sent_bytes, sent_bytes + 10);
    assert_true(st.used_bytes >= 24); /* the record, maybe after a padding record */
    assert_int_equal(shmring_close(c), 0);
    assert_int_equal(shmring_stats(o, &st), 0);
    assert_int_equal(st.consumer_pid, 0);
    print_message("    %llu msgs, %llu full, %llu empty events counted exactly\n",
                  (unsigned long long)sent, (unsigned long long)full, (unsigned long long)empty);
    assert_int_equal(shmring_close(p), 0);
    assert_int_equal(shmring_close(o), 0);
    assert_false(t_shm_exists(n.s));
}

/* Cross-process: a holder's pid, and 0 once it died (without closing). */
static void test_stats_pids_across_processes(void **state)
{
    (void)state;
    struct tl_holder_args ap = {tl_name("statpid"), SHMRING_PRODUCER,
                                tl_shared(2 * sizeof(_Atomic uint32_t))};
    struct tl_holder_args ac = ap;
    ac.role = SHMRING_CONSUMER;
    ac.ready = ap.ready + 1;
    shmring *o;
    struct shmring_stats st;
    assert_int_equal(shmring_open(ap.n.s, SHMRING_OBSERVER, NULL, &o), 0);
    t_proc p = t_spawn_flat(tl_role_holder, &ap, sizeof ap);
    t_proc c = t_spawn_flat(tl_role_holder, &ac, sizeof ac);
    assert_true(tl_await(ap.ready, 5000));
    assert_true(tl_await(ac.ready, 5000));
    int32_t ppid = (int32_t)atomic_load(ap.ready); /* each holder stored its pid */
    int32_t cpid = (int32_t)atomic_load(ac.ready);
    assert_int_equal(shmring_stats(o, &st), 0);
    assert_int_equal(st.producer_pid, ppid);
    assert_int_equal(st.consumer_pid, cpid);
    assert_int_equal(tl_end(c), T_KILLED);
    assert_int_equal(shmring_stats(o, &st), 0);
    assert_int_equal(st.producer_pid, ppid);
    assert_int_equal(st.consumer_pid, 0);
    assert_int_equal(atomic_load(&o->hdr->consumer_pid), cpid); /* stale in the header */
    assert_int_equal(tl_end(p), T_KILLED);
    assert_int_equal(shmring_stats(o, &st), 0);
    assert_int_equal(st.producer_pid, 0);
    assert_int_equal(shmring_close(o), 0);
    assert_false(t_shm_exists(ap.n.s));
    tl_unshare(ap.ready, 2 * sizeof(_Atomic uint32_t));
}

/* ---- liveness probes never make a taker fail ------------------------------------------------ */

struct probe_shared {
    _Atomic uint32_t ready, stop;
    _Atomic uint64_t probes;
};

struct probe_args {
    struct tl_name n;
    struct probe_shared *sh;
};

/* Asks "is the producer role held?" as fast as it can: what a consumer polling a dead producer
 * does on every call (SHMRING_EPIPE is re-checked until a new producer holds the role). */
static int role_prober(void *p)
{
    struct probe_args *a = p;
    struct probe_shared *sh = tl_here(a->sh);
    shmring *o;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_OBSERVER, NULL, &o), 0);
    atomic_fetch_add(&sh->ready, 1);
    uint64_t n = 0;
    while (atomic_load(&sh->stop) == 0) {
        (void)shmring__seg_role_held(&o->seg, SHMRING__ROLE_ID_PRODUCER);
        n++;
    }
    atomic_fetch_add(&sh->probes, n);
    TL_CHECK_RC(shmring_close(o), 0);
    return 0;
}

/* Windows asked by owning the role's mutex for a moment, and a taker finding it owned gave up
 * after 2 ms: a prober preempted while owning it (a loaded machine) made a free role -EBUSY. */
static void test_probes_do_not_block_takeover(void **state)
{
    (void)state;
    enum { PROBERS = 2, OPENS = 300 };
    struct probe_args a = {tl_name("probes"), tl_shared(sizeof(struct probe_shared))};
    shmring *o;
    assert_int_equal(shmring_open(a.n.s, SHMRING_OBSERVER, NULL, &o), 0);
    t_proc w[PROBERS];
    for (int i = 0; i < PROBERS; i++) {
        w[i] = t_spawn_flat(role_prober, &a, sizeof a);
    }
    int64_t end = tl_now_ns() + 10 * SEC;
    while (atomic_load(&a.sh->ready) < PROBERS && tl_now_ns() < end) {
        tl_sleep_ms(1);
    }
    assert_int_equal(atomic_load(&a.sh->ready), PROBERS);
    int busy = 0;
    int64_t t0 = tl_now_ns();
    for (int i = 0; i < OPENS; i++) {
        shmring *p;
        int e = shmring_open(a.n.s, SHMRING_PRODUCER, NULL, &p);
        if (e == SHMRING_EBUSY) {
            busy++;
            continue;
        }
        assert_int_equal(e, 0);
        assert_int_equal(shmring_close(p), 0);
    }
    double ms = (double)(tl_now_ns() - t0) / 1e6;
    atomic_store(&a.sh->stop, 1);
    for (int i = 0; i < PROBERS; i++) {
        assert_int_equal(t_proc_wait(w[i]), 0);
    }
    print_message("    %d producer opens in %.0f ms beside %d probers (%llu probes): %d -EBUSY\n",
                  OPENS, ms, PROBERS, (unsigned long long)atomic_load(&a.sh->probes), busy);
    assert_int_equal(busy, 0);
    assert_true(atomic_load(&a.sh->probes) > 0);
    assert_int_equal(shmring_close(o), 0);
    assert_false(t_shm_exists(a.n.s));
    tl_unshare(a.sh, sizeof *a.sh);
}

/* ---- churn: opens and closes racing with each other and with SIGKILL ------------------------ */

struct churn_shared {
    _Atomic uint64_t opens, busy, errors;
    _Atomic int32_t last_error;
};

struct churn_args {
    struct tl_name n;
    struct churn_shared *sh;
    uint64_t seed;
};

static int churn_worker(void *p)
{
    struct churn_args *a = p;
    a->sh = tl_here(a->sh);
    uint64_t rng = a->seed;
    uint8_t buf[256];
    for (;;) {
        int role = 1 + (int)(t_rand(&rng) % 3);
        shmring *r;
        int e = shmring_open(a->n.s, role, NULL, &r);
        if (e == SHMRING_EBUSY && role != SHMRING_OBSERVER) {
            atomic_fetch_add(&a->sh->busy, 1);
            continue;
        }
        if (e != 0) {
            atomic_fetch_add(&a->sh->errors, 1);
            atomic_store(&a->sh->last_error, e);
            continue;
        }
        atomic_fetch_add(&a->sh->opens, 1);
        if (role == SHMRING_PRODUCER) {
            t_msg_fill(buf, 32, 7);
            (void)shmring_send(r, buf, 32);
        } else if (role == SHMRING_CONSUMER) {
            ssize_t got = shmring_recv(r, buf, sizeof buf);
            if (got >= 0 && !t_msg_check(buf, (size_t)got, 7)) {
                atomic_fetch_add(&a->sh->errors, 1);
                atomic_store(&a->sh->last_error, SHMRING_EBADMSG);
            }
        }
        if (t_rand(&rng) % 4 == 0) {
            tl_sleep_us(100);
        }
        shmring_close(r);
    }
    return 0;
}

static void test_open_close_churn_with_kills(void **state)
{
    (void)state;
    struct churn_args a = {tl_name("churn"), tl_shared(sizeof(struct churn_shared)), 1};
    enum { WORKERS = 3 };
    t_proc w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        a.seed = (uint64_t)i * 7919 + 1;
        w[i] = t_spawn_flat(churn_worker, &a, sizeof a);
    }
    uint64_t rng = 99;
    int kills = 0;
#ifdef _WIN32
    /* A process starts in 50-200 ms under wine (on a loaded 2-core machine), and an open and
     * close take 5-15 ms: kills every 2-10 ms would hit workers that have not reached their
     * first open, and 1.5 s gave as few as 136 opens. */
    const int64_t pause_us = 50000, spread_us = 100000, run_ns = 3 * SEC;
#else
    const int64_t pause_us = 2000, spread_us = 8000, run_ns = 1500 * MS;
#endif
    int64_t end = tl_now_ns() + run_ns;
    while (tl_now_ns() < end) {
        tl_sleep_us(pause_us + (int64_t)(t_rand(&rng) % (uint64_t)spread_us));
        int i = (int)(t_rand(&rng) % WORKERS);
        tl_end(w[i]);
        kills++;
        a.seed = t_rand(&rng);
        w[i] = t_spawn_flat(churn_worker, &a, sizeof a);
    }
    for (int i = 0; i < WORKERS; i++) {
        tl_end(w[i]);
    }
    print_message("    %llu opens, %llu -EBUSY, %d kills, %llu errors (last %s)\n",
                  (unsigned long long)atomic_load(&a.sh->opens),
                  (unsigned long long)atomic_load(&a.sh->busy), kills,
                  (unsigned long long)atomic_load(&a.sh->errors),
                  shmring_strerror(atomic_load(&a.sh->last_error)));
    assert_int_equal(atomic_load(&a.sh->errors), 0);
    assert_true(atomic_load(&a.sh->opens) > 100);
    /* Whatever state the kills left, one open and close cleans up. */
    shmring *r;
    assert_int_equal(shmring_open(a.n.s, SHMRING_OBSERVER, NULL, &r), 0);
    assert_int_equal(shmring_close(r), 0);
    assert_false(t_shm_exists(a.n.s));
    tl_unshare(a.sh, sizeof *a.sh);
}

int main(void)
{
#ifndef _WIN32
    tl_subreaper();
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_removes_name),
        cmocka_unit_test(test_exit_without_close_removes_name),
        cmocka_unit_test(test_all_killed_starts_afresh),
#ifndef _WIN32 /* Windows: no SHMRING_PERSIST (ENOTSUP), no unlink, no fork/exec, no pid reuse */
        cmocka_unit_test(test_persist_keeps_messages),
        cmocka_unit_test(test_unlink_while_attached),
        cmocka_unit_test(test_fork_and_exec_drop_the_ring),
        cmocka_unit_test(test_exec_drops_the_role),
#endif
        cmocka_unit_test(test_busy_and_takeover_producer),
        cmocka_unit_test(test_busy_and_takeover_consumer),
#ifndef _WIN32
        cmocka_unit_test(test_pid_reuse_cannot_fake_liveness),
#else /* its counterpart: no pid can be steered, one is planted */
        cmocka_unit_test(test_planted_pid_cannot_fake_liveness),
#endif
        cmocka_unit_test(test_producer_close_then_epipe),
        cmocka_unit_test(test_consumer_close_and_producer_first),
        cmocka_unit_test(test_stats_counters),
        cmocka_unit_test(test_stats_pids_across_processes),
        cmocka_unit_test(test_probes_do_not_block_takeover),
        cmocka_unit_test(test_open_close_churn_with_kills),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
