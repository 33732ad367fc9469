/* SPDX-License-Identifier: MIT */
/* Issue #10, second round: faults found when the fixes of the first round were attacked again.
 * One test per fault; each failed before its fix. Every check runs in a child of its own with an
 * alarm, so a deadlock ends as 128 + SIGALRM instead of hanging the suite, and so that the
 * process-wide state of the set/get calls starts fresh. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t_cmocka.h"

#include "shmring_compat.h"
#include "test_lifeutil.h"

/* Runs fn(arg) in a child with an alarm; returns its status as t_wait gives it. */
static int run_child(int alarm_s, int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm((unsigned)alarm_s);
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc);
    }
    return t_wait(pid);
}

/* Takes the INIT lock byte (byte 0) of /dev/shm/<name> through a descriptor of our own, as a
 * peer in the middle of its open or close holds it. Returns the descriptor, or -1. */
static int hold_init(const char *name)
{
    char path[SHMRING_NAME_MAX + 2];
    snprintf(path, sizeof path, "/%.200s", name);
    int fd = shm_open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) {
        return -1;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 1 when a fork from this process completes (the child exits at once), within the alarm. */
static int fork_works(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        _exit(0);
    }
    return pid > 0 && t_wait(pid) == 0;
}

/* ---- fault 11: a UNIX socket planted under the name ----------------------------------------- */

/* An outsider can bind a socket in /dev/shm (world-writable). open(2) of a socket fails with
 * ENXIO, which came back as the undocumented SHMRING_ENXIO (-6) instead of SHMRING_EACCES. */
static int planted_socket(void *p)
{
    struct tl_name *n = p;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    TL_CHECK(s >= 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "/dev/shm/%.90s", n->s);
    TL_CHECK(bind(s, (struct sockaddr *)&addr, sizeof addr) == 0);
    shmring *r = NULL;
    struct shmring_opts create = {.flags = SHMRING_CREATE};
    struct shmring_opts excl = {.flags = SHMRING_CREATE | SHMRING_EXCL};
    TL_CHECK_RC(shmring_open(n->s, SHMRING_CONSUMER, NULL, &r), -EACCES);
    TL_CHECK_RC(shmring_open(n->s, SHMRING_PRODUCER, &create, &r), -EACCES);
    TL_CHECK_RC(shmring_open(n->s, SHMRING_OBSERVER, &excl, &r), -EEXIST);
    /* The set/get calls on a planted socket: a documented status, the socket left alone. */
    TL_CHECK(setenv("SHMRING_COMPAT_NAME", n->s, 1) == 0);
    SetSharedMem("x");
    TL_CHECK_RC(shmring_compat_status(), -EACCES);
    struct stat st;
    TL_CHECK(lstat(addr.sun_path, &st) == 0 && S_ISSOCK(st.st_mode));
    unlink(addr.sun_path);
    close(s);
    return 0;
}

static void test_fault11_planted_socket(void **state)
{
    (void)state;
    struct tl_name n = tl_name("sock");
    int st = run_child(10, planted_socket, &n);
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/%s", n.s);
    unlink(path);
    assert_int_equal(st, 0);
}

/* ---- fault 12: a thread cancelled inside shmring_open or shmring_close ---------------------- */

/* Since fault 6, open and close hold the handle-list lock throughout, across cancellation
 * points (the INIT wait's nanosleep, open, close). A thread cancelled there left the lock held:
 * every later fork() (its prepare handler), open, close and exit() of the process hung. */
struct cancel_args {
    struct tl_name n;
    shmring *r;
    int close_it;
};

static void *open_or_close(void *p)
{
    struct cancel_args *a = p;
    if (a->close_it) {
        shmring_close(a->r);
    } else {
        shmring *r = NULL;
        if (shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r) == 0) {
            shmring_close(r);
        }
    }
    return NULL;
}

static int cancel_inside(void *p)
{
    struct cancel_args *a = p;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &a->r), 0);
    int fd = hold_init(a->n.s); /* the thread below waits for INIT: cancellation points */
    TL_CHECK(fd >= 0);
    pthread_t t;
    TL_CHECK(pthread_create(&t, NULL, open_or_close, a) == 0);
    tl_sleep_ms(100);
    TL_CHECK(pthread_cancel(t) == 0);
    close(fd); /* lets the (uncancelled) call finish */
    TL_CHECK(pthread_join(t, NULL) == 0);
    TL_CHECK(fork_works()); /* hung in fork_prepare before the fix */
    shmring *r = NULL;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_OBSERVER, NULL, &r), 0);
    TL_CHECK_RC(shmring_close(r), 0);
    if (!a->close_it) {
        TL_CHECK_RC(shmring_close(a->r), 0);
    }
    TL_CHECK(!t_shm_exists(a->n.s)); /* the call completed: the last closer removed the name */
    return 0;
}

static void test_fault12_cancel_in_open_close(void **state)
{
    (void)state;
    for (int close_it = 0; close_it < 2; close_it++) {
        struct cancel_args a = {tl_name(close_it ? "cclose" : "copen"), NULL, close_it};
        int st = run_child(10, cancel_inside, &a);
        shmring_unlink(a.n.s);
        if (st == 128 + SIGALRM) {
            fail_msg("fault 12: a thread cancelled in shmring_%s left the list lock held",
                     close_it ? "close" : "open");
        }
        assert_int_equal(st, 0);
    }
}

/* ---- fault 13: fork during the first SetSharedMem of a process ------------------------------ */

/* The set/get lock's fork handlers were registered only after the first attach returned, while
 * that attach ran under the lock: a fork from another thread meanwhile gave a child whose copy
 * of the lock was held forever, and its first set/get call hung. Made deterministic here: an
 * open of another ring holds the handle-list lock (its INIT is held); a forking thread, then the
 * first SetSharedMem (holding the set/get lock), queue for it, in that order. */
struct first_set_args {
    struct tl_name ring;
    int status;
    shmring *other;
};

static void *open_other(void *p)
{
    struct first_set_args *a = p;
    shmring_open(a->ring.s, SHMRING_CONSUMER, NULL, &a->other); /* closed after the fork */
    return NULL;
}

static void *first_set(void *p)
{
    (void)p;
    SetSharedMem("first");
    return NULL;
}

static void *forker(void *p)
{
    struct first_set_args *a = p;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(3);
        char buf[16];
        GetSharedMem(buf, sizeof buf); /* hung on the inherited set/get lock before the fix */
        SetSharedMem("child");
        GetSharedMem(buf, sizeof buf);
        _exit(strcmp(buf, "child") == 0 ? 0 : 2);
    }
    a->status = t_wait(pid);
    return NULL;
}

static int fork_during_first_set(void *p)
{
    struct first_set_args *a = p;
    char value_name[300];
    snprintf(value_name, sizeof value_name, "%s-v", a->ring.s);
    TL_CHECK(setenv("SHMRING_COMPAT_NAME", value_name, 1) == 0);
    shmring *prod;
    TL_CHECK_RC(shmring_open(a->ring.s, SHMRING_PRODUCER, NULL, &prod), 0); /* runs the init */
    int fd = hold_init(a->ring.s);
    TL_CHECK(fd >= 0);
    pthread_t t[3];
    TL_CHECK(pthread_create(&t[0], NULL, open_other, a) == 0); /* holds the list lock */
    tl_sleep_ms(100);
    TL_CHECK(pthread_create(&t[1], NULL, forker, a) == 0); /* queues first */
    tl_sleep_ms(100);
    TL_CHECK(pthread_create(&t[2], NULL, first_set, NULL) == 0); /* then the set/get lock */
    tl_sleep_ms(100);
    close(fd);
    for (int i = 0; i < 3; i++) {
        TL_CHECK(pthread_join(t[i], NULL) == 0);
    }
    shmring_close(a->other);
    shmring_close(prod);
    shmring_unlink(value_name);
    if (a->status != 0) {
        fprintf(stderr, "fault 13: the child's first set/get call: status %d%s\n", a->status,
                a->status == 128 + SIGALRM ? " (hung on the inherited set/get lock)" : "");
    }
    TL_CHECK(a->status == 0);
    return 0;
}

static void test_fault13_fork_during_first_set(void **state)
{
    (void)state;
    struct first_set_args a = {tl_name("cfork"), -1, NULL};
    int st = run_child(20, fork_during_first_set, &a);
    shmring_unlink(a.ring.s);
    assert_int_equal(st, 0);
}

/* ---- fault 14: a short timeout outlasted by the spin phase -------------------------------- */

/* The spin phase ran its 2000 attempts, with four sched_yield()s, whatever the timeout: on a
 * busy machine a 1 ns wait took 5-15 ms (one yield can give away a whole time slice). Each
 * attempt of a wait on an empty ring counts one empty event, which makes this deterministic. */
static void test_fault14_spin_respects_deadline(void **state)
{
    (void)state;
    struct tl_name n = tl_name("spin");
    shmring *c;
    assert_int_equal(shmring_open(n.s, SHMRING_CONSUMER, NULL, &c), 0);
    int64_t timeouts[] = {1, 1000};
    for (int i = 0; i < 2; i++) {
        struct shmring_stats s0, s1;
        assert_int_equal(shmring_stats(c, &s0), 0);
        char buf[16];
        int64_t t0 = tl_now_ns();
        shmring_ssize rc = shmring_recv_wait(c, buf, sizeof buf, timeouts[i]);
        int64_t t = tl_now_ns() - t0;
        assert_int_equal(shmring_stats(c, &s1), 0);
        uint64_t tries = s1.empty_events - s0.empty_events;
        printf("recv_wait with a %lld ns timeout: %td after %.1f us and %llu attempts\n",
               (long long)timeouts[i], rc, (double)t / 1e3, (unsigned long long)tries);
        assert_int_equal(rc, -ETIMEDOUT);
        assert_true(tries < 1000); /* 2000 + 1 before the fix */
    }
    shmring_close(c);
}

/* The same for a producer on a full ring. On rings of 64 KiB or more a wait with at least 60 us
 * left yields before every look, for at most 60 us, and then sleeps (wait.c, PRODUCER_SPIN_NS):
 * a loop of its own, so its deadline and its bound are checked here too. A shorter wait, and
 * any wait on a smaller ring, spins as the consumer's does (2000 paused looks). Each look of a
 * wait on a full ring counts one full event. */
static void test_fault14_producer_spin_respects_deadline(void **state)
{
    (void)state;
    const uint64_t sizes[] = {4096, 65536};
    for (int k = 0; k < 2; k++) {
        struct tl_name n = tl_name("pspin");
        struct shmring_opts o = {.size = sizes[k], .flags = SHMRING_CREATE | SHMRING_EXCL};
        shmring *p;
        assert_int_equal(shmring_open(n.s, SHMRING_PRODUCER, &o, &p), 0);
        char msg[64] = {0};
        int sent = 0;
        while (shmring_send(p, msg, sizeof msg) == 0) {
            sent++;
        }
        assert_true(sent > 0);
        const int64_t timeouts[] = {1, 1000, 5 * 1000000};
        for (int i = 0; i < 3; i++) {
            struct shmring_stats s0, s1;
            assert_int_equal(shmring_stats(p, &s0), 0);
            int64_t t0 = tl_now_ns();
            int rc = shmring_send_wait(p, msg, sizeof msg, timeouts[i]);
            int64_t t = tl_now_ns() - t0;
            assert_int_equal(shmring_stats(p, &s1), 0);
            uint64_t tries = s1.full_events - s0.full_events;
            uint64_t sleeps = s1.producer_sleeps - s0.producer_sleeps;
            printf("send_wait on a full %llu-byte ring with a %lld ns timeout: %d after %.1f us, "
                   "%llu attempts, %llu sleeps\n",
                   (unsigned long long)sizes[k], (long long)timeouts[i], rc, (double)t / 1e3,
                   (unsigned long long)tries, (unsigned long long)sleeps);
            assert_int_equal(rc, -ETIMEDOUT);
            if (timeouts[i] < 60000) {
                assert_true(tries < 1000); /* the spin has up to 2000 */
                continue;
            }
            assert_true(sleeps >= 1);
            if (sizes[k] >= 65536) {
                assert_true(tries < 1500); /* 60 us of yields, then a sleep to the deadline */
            } else if (t < 4 * 1000000) {
                assert_true(tries > 2000); /* all paused looks (unless a slow machine's clock
                                              check ended the spin at the deadline) */
            }
        }
        shmring_close(p);
        shmring_unlink(n.s);
    }
}

/* ---- fault 15: a first set/get call after the library's exit handler ---------------------- */

/* The set/get calls learned of exit() only from a handle the exit handler had dropped. With no
 * handle yet (the calls' first use comes from another thread, or from a later exit handler), a
 * call after the library's exit handler attached as usual: it created the name, and the process
 * ended with it attached, leaving the name behind (test_faults.c, fault 7, failed 1 run in 2).
 * glibc flushes stdio streams after every exit handler, so a stream of our own whose write
 * function makes the call runs it at exactly that point, deterministically. */
struct after_exit_args {
    struct tl_name ring;
    int open_first; /* 1: a shmring_open/close before exit (the library's exit handler exists) */
    int *status;    /* shared page: shmring_compat_status() after the late call, 1 before it */
};

static int *late_status;

static ssize_t late_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    (void)buf;
    char got[64];
    GetSharedMem(got, sizeof got);
    int rc = shmring_compat_status();
    SetSharedMem("set after the exit handlers");
    *late_status = rc != 0 ? rc : shmring_compat_status();
    return (ssize_t)n;
}

static int first_call_after_exit(void *p)
{
    struct after_exit_args *a = p;
    char value_name[300];
    snprintf(value_name, sizeof value_name, "%s-v", a->ring.s);
    TL_CHECK(setenv("SHMRING_COMPAT_NAME", value_name, 1) == 0);
    if (a->open_first) {
        shmring *r;
        const struct shmring_opts o = {.flags = SHMRING_CREATE};
        TL_CHECK_RC(shmring_open(a->ring.s, SHMRING_CONSUMER, &o, &r), 0);
        TL_CHECK_RC(shmring_close(r), 0);
    }
    late_status = a->status;
    *late_status = 1;
    static const cookie_io_functions_t io = {.write = late_write};
    FILE *f = fopencookie(NULL, "w", io);
    TL_CHECK(f != NULL);
    static char fbuf[64];
    TL_CHECK(setvbuf(f, fbuf, _IOFBF, sizeof fbuf) == 0);
    TL_CHECK(fputc('x', f) == 'x'); /* stays in the buffer until exit() flushes it */
    exit(0);
}

static void test_fault15_first_call_after_exit(void **state)
{
    (void)state;
    for (int open_first = 0; open_first < 2; open_first++) {
        struct after_exit_args a = {tl_name("lateexit"), open_first, tl_shared(4096)};
        char value_name[300];
        snprintf(value_name, sizeof value_name, "%s-v", a.ring.s);
        int st = run_child(10, first_call_after_exit, &a);
        int left = t_shm_exists(value_name);
        printf("%s: set/get after the exit handlers: status %d, name %s\n",
               open_first ? "after a shmring_open" : "first library call", *a.status,
               left ? "LEFT BEHIND" : "absent");
        shmring_unlink(value_name);
        shmring_unlink(a.ring.s);
        assert_int_equal(st, 0);
        assert_int_equal(*a.status, SHMRING_ENOENT); /* nobody else uses it: nothing to read */
        assert_false(left);
        tl_unshare(a.status, 4096);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault11_planted_socket),
        cmocka_unit_test(test_fault12_cancel_in_open_close),
        cmocka_unit_test(test_fault13_fork_during_first_set),
        cmocka_unit_test(test_fault14_spin_respects_deadline),
        cmocka_unit_test(test_fault14_producer_spin_respects_deadline),
        cmocka_unit_test(test_fault15_first_call_after_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
