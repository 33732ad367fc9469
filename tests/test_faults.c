/* SPDX-License-Identifier: MIT */
/* Issue #10: faults found when shmring was attacked. One test per fault (the numbers are the
 * issue's); each failed before its fix. The faults that need a small tmpfs of their own (a
 * failed or killed create, fault 1) are in test_faults_ns.c.
 *
 * Usage: test_faults [path of the shmring tool] (the tool checks of fault 2 are skipped without
 * it). Checks that need root (other users) print why and are skipped without it. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/futex.h>

#include "t_cmocka.h"

#include "shmring_compat.h"
#include "test_lifeutil.h"

#define NOBODY 65534u
#define OTHER  65533u

static const char *tool_path; /* argv[1]: the shmring tool, or NULL */

static void dev_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "/dev/shm/%s", name);
}

/* Runs fn(arg) in a child as uid (the caller must be root to change it), with an alarm: a hang
 * ends as 128 + SIGALRM. Returns the child's status as t_wait gives it. */
static int run_as(unsigned uid, int alarm_s, int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (uid != geteuid() &&
            (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid((uid_t)uid) != 0)) {
            perror("dropping privileges");
            _exit(99);
        }
        alarm((unsigned)alarm_s);
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc);
    }
    return t_wait(pid);
}

static int need_root(void)
{
    if (geteuid() != 0) {
        printf("skipped: this check needs root (to act as uid %u and %u)\n", NOBODY, OTHER);
        return 0;
    }
    return 1;
}

/* ---- fault 2: a FIFO, device or directory planted under the name ---------------------------- */

struct fifo_args {
    struct tl_name n;
};

/* Opens a ring, then a FIFO is renamed over its name: close must not block on it. */
static int fifo_over_name(void *p)
{
    struct fifo_args *a = p;
    char path[300], tmp[320];
    dev_path(path, sizeof path, a->n.s);
    snprintf(tmp, sizeof tmp, "%s.fifo", path);
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    TL_CHECK(mkfifo(tmp, 0644) == 0);
    TL_CHECK(rename(tmp, path) == 0);
    /* A new open finds the FIFO: refused, without blocking and without -EINVAL. */
    shmring *r2 = NULL;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r2), -EACCES);
    struct shmring_opts excl = {.flags = SHMRING_CREATE | SHMRING_EXCL};
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, &excl, &r2), -EEXIST);
    TL_CHECK_RC(shmring_close(r), 0); /* hung in the is-linked check before the fix */
    struct stat st;
    TL_CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode)); /* not ours: left alone */
    unlink(path);
    /* The exit handler runs the same check. */
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    TL_CHECK(mkfifo(tmp, 0644) == 0);
    TL_CHECK(rename(tmp, path) == 0);
    return 0; /* exit() detaches r */
}

struct dir_args {
    struct tl_name n;
};

static int planted_dir_open(void *p)
{
    struct dir_args *a = p;
    shmring *r = NULL;
    struct shmring_opts create = {.flags = SHMRING_CREATE};
    struct shmring_opts excl = {.flags = SHMRING_CREATE | SHMRING_EXCL};
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, &create, &r), -EACCES);
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), -EACCES);
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, &excl, &r), -EEXIST);
    return 0;
}

static int plant_fifo(void *p)
{
    struct fifo_args *a = p;
    char path[300];
    dev_path(path, sizeof path, a->n.s);
    TL_CHECK(mkfifo(path, 0644) == 0);
    TL_CHECK(chmod(path, 0644) == 0);
    return 0;
}

static int plant_dir(void *p)
{
    struct dir_args *a = p;
    char path[300];
    dev_path(path, sizeof path, a->n.s);
    TL_CHECK(mkdir(path, 0755) == 0);
    return 0;
}

/* Runs the tool with arguments as uid; returns its status (128 + SIGALRM if it hung). */
static int run_tool(unsigned uid, const char *a1, const char *a2)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (uid != geteuid() &&
            (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid((uid_t)uid) != 0)) {
            _exit(99);
        }
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
        }
        alarm(5);
        execl(tool_path, tool_path, a1, a2, (char *)NULL);
        _exit(126);
    }
    return t_wait(pid);
}

static void test_fault2_planted_fifo(void **state)
{
    (void)state;
    struct fifo_args a = {tl_name("fifo")};
    int st = run_as(geteuid(), 10, fifo_over_name, &a);
    if (st == 128 + SIGALRM) {
        fail_msg("fault 2: close, exit or open blocked on a FIFO renamed over the name");
    }
    assert_int_equal(st, 0);
    char path[300];
    dev_path(path, sizeof path, a.n.s);
    unlink(path);
    if (!need_root()) {
        return;
    }
    /* Another user's 0644 FIFO and directory: the library and the tool neither block nor say
     * -EINVAL. */
    struct fifo_args f = {tl_name("fifo2")};
    assert_int_equal(run_as(OTHER, 10, plant_fifo, &f), 0);
    struct dir_args d = {tl_name("dir")};
    assert_int_equal(run_as(OTHER, 10, plant_dir, &d), 0);
    struct dir_args fifo_open = {f.n}; /* the same refusals for a FIFO */
    assert_int_equal(run_as(NOBODY, 10, planted_dir_open, &fifo_open), 0);
    assert_int_equal(run_as(NOBODY, 10, planted_dir_open, &d), 0);
    assert_int_equal(run_as(0, 10, planted_dir_open, &d), 0);
    if (tool_path == NULL) {
        printf("skipped: the tool checks (no tool path given)\n");
    } else {
        unsigned users[] = {NOBODY, 0};
        for (int i = 0; i < 2; i++) {
            int s1 = run_tool(users[i], "stat", f.n.s);
            int s2 = run_tool(users[i], "ls", NULL);
            int s3 = run_tool(users[i], "stat", d.n.s);
            printf("uid %u: shmring stat <fifo> -> %d, ls -> %d, stat <dir> -> %d\n", users[i], s1,
                   s2, s3);
            if (s1 == 126 || s2 == 126) {
                printf("skipped: uid %u cannot run %s\n", users[i], tool_path);
                continue;
            }
            assert_int_not_equal(s1, 128 + SIGALRM);
            assert_int_not_equal(s2, 128 + SIGALRM);
            assert_int_not_equal(s3, 128 + SIGALRM);
            assert_true(s1 != 0 && s1 < 128); /* refused, not crashed */
            assert_int_equal(s2, 0);
        }
    }
    dev_path(path, sizeof path, f.n.s);
    unlink(path);
    dev_path(path, sizeof path, d.n.s);
    rmdir(path);
}

/* ---- fault 3: the descriptor limit ----------------------------------------------------------- */

/* Uses descriptors until `leave` are free (below a limit of 64). */
static int fill_fds(int leave)
{
    struct rlimit rl = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return -1;
    }
    int n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            break;
        }
        n++;
    }
    for (int fd = 63; fd >= 0 && leave > 0; fd--) {
        if (fcntl(fd, F_GETFD) >= 0 && fd > 2) {
            struct stat st;
            if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)) {
                close(fd);
                leave--;
            }
        }
    }
    return n;
}

static int emfile_child(void *p)
{
    struct tl_name *n = p;
    /* Close at the limit: the last closer still removes the name. */
    shmring *r;
    TL_CHECK_RC(shmring_open(n->s, SHMRING_PRODUCER, NULL, &r), 0);
    TL_CHECK(fill_fds(0) >= 0);
    TL_CHECK_RC(shmring_close(r), 0);
    TL_CHECK(!t_shm_exists(n->s));
    /* Open with no descriptor free: -EMFILE, and nothing left behind. */
    TL_CHECK(open("/dev/null", O_RDONLY) >= 0); /* the one the close gave back */
    r = NULL;
    TL_CHECK_RC(shmring_open(n->s, SHMRING_PRODUCER, NULL, &r), -EMFILE);
    TL_CHECK(!t_shm_exists(n->s));
    /* With one free: it works (or says -EMFILE); either way nothing is left behind. */
    int freed = 0;
    for (int fd = 63; fd > 2 && !freed; fd--) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)) {
            close(fd);
            freed = 1;
        }
    }
    TL_CHECK(freed);
    int rc = shmring_open(n->s, SHMRING_PRODUCER, NULL, &r);
    fprintf(stderr, "open with one descriptor free: %d (%s)\n", rc, shmring_strerror(rc));
    TL_CHECK(rc == 0 || rc == -EMFILE);
    if (rc == 0) {
        TL_CHECK_RC(shmring_close(r), 0);
    }
    TL_CHECK(!t_shm_exists(n->s));
    return 0;
}

static void test_fault3_descriptor_limit(void **state)
{
    (void)state;
    struct tl_name n = tl_name("emfile");
    int st = run_as(geteuid(), 20, emfile_child, &n);
    shmring_unlink(n.s);
    assert_int_equal(st, 0);
}

/* ---- fault 4: an outsider with read access ----------------------------------------------------
 */

struct reader_args {
    struct tl_name n;
    _Atomic uint32_t *ready;
};

/* All that read permission allows: open read-only and hold shared locks on every byte. */
static int hostile_reader(void *p)
{
    struct reader_args *a = p;
    char path[300];
    snprintf(path, sizeof path, "/%s", a->n.s);
    int fd = shm_open(path, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0) {
        fprintf(stderr, "reader: cannot open the ring (%s): nothing to hold\n", strerror(errno));
        atomic_store_explicit(a->ready, 2, memory_order_release);
        return 0;
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0; /* every byte */
    TL_CHECK(fcntl(fd, F_OFD_SETLK, &fl) == 0);
    atomic_store_explicit(a->ready, 1, memory_order_release);
    for (;;) {
        pause();
    }
}

static void test_fault4_reader_cannot_hold(void **state)
{
    (void)state;
    if (!need_root()) {
        skip();
    }
    static const unsigned modes[] = {0644, 0640, 0604, 0664};
    static const unsigned want[] = {0600, 0600, 0600, 0660};
    for (int i = 0; i < 4; i++) {
        struct reader_args a = {tl_name("reader"), tl_shared(4096)};
        struct shmring_opts opts = {.mode = modes[i], .flags = SHMRING_CREATE | SHMRING_PERSIST};
        shmring *r = NULL;
        assert_int_equal(shmring_open(a.n.s, SHMRING_OBSERVER, &opts, &r), 0);
        assert_int_equal(shmring_close(r), 0);
        char path[300];
        dev_path(path, sizeof path, a.n.s);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        printf("mode %04o asked, %04o given\n", modes[i], (unsigned)(st.st_mode & 0777));
        /* Group and others may read only what they may also write. */
        assert_int_equal(st.st_mode & 0777, want[i]);
        /* The outsider (in no group of the ring) holds what it can. */
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
                _exit(99);
            }
            _exit(hostile_reader(&a));
        }
        assert_true(tl_await(a.ready, 5000));
        /* A producer and a consumer open at once; the name goes with the last of them. */
        struct shmring_opts plain = {0};
        shmring *p = NULL, *c = NULL;
        int64_t t0 = t_now_ms();
        int rp = shmring_open(a.n.s, SHMRING_PRODUCER, &plain, &p);
        int64_t ms = t_now_ms() - t0;
        printf("producer open with the reader holding locks: %d (%s) after %lld ms\n", rp,
               shmring_strerror(rp), (long long)ms);
        assert_int_equal(rp, 0);
        assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, &plain, &c), 0);
        shmring_close(p);
        shmring_close(c);
        kill(pid, SIGKILL);
        t_wait(pid);
        shmring_unlink(a.n.s);
        tl_unshare((void *)a.ready, 4096);
    }
}

/* ---- fault 5: -EPIPE is sticky ------------------------------------------------------------- */

static int idle_producer(void *p)
{
    struct tl_holder_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    TL_CHECK_RC(shmring_send(r, "last", 4), 0);
    atomic_store_explicit(a->ready, 1, memory_order_release);
    pause();
    return 0;
}

static int idle_consumer(void *p)
{
    struct tl_holder_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_CONSUMER, NULL, &r), 0);
    atomic_store_explicit(a->ready, 1, memory_order_release);
    pause();
    return 0;
}

static void test_fault5_epipe_sticky(void **state)
{
    (void)state;
    struct tl_holder_args a = {tl_name("sticky"), SHMRING_PRODUCER, tl_shared(4096)};
    shmring *c;
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &c), 0);
    pid_t pid = t_spawn(idle_producer, &a);
    assert_true(tl_await(a.ready, 5000));
    assert_int_equal(tl_kill(pid), 137);
    char buf[64];
    /* What was committed comes first; then -EPIPE on every call. */
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 4);
    int64_t end = tl_now_ns() + 40 * 1000000LL;
    int calls = 0, pipes = 0, seen = 0, after = 0;
    while (tl_now_ns() < end) {
        ssize_t rc = shmring_recv(c, buf, sizeof buf);
        calls++;
        if (rc == -EPIPE) {
            pipes++;
            seen = 1;
        } else if (seen) {
            after++;
        }
        usleep(200);
    }
    printf("non-blocking recv after the producer's death: %d of %d calls gave -EPIPE, %d other "
           "results after the first -EPIPE\n",
           pipes, calls, after);
    assert_int_equal(after, 0);
    assert_true(seen);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, 1000), -EPIPE); /* 1 us */
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, 1), -EPIPE);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, 100 * 1000000LL), -EPIPE);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EPIPE);
    assert_int_equal(shmring_close(c), 0);

    /* A fresh consumer: recv_wait first, then recv at once. */
    struct tl_holder_args b = {tl_name("sticky2"), SHMRING_PRODUCER, tl_shared(4096)};
    assert_int_equal(shmring_open(b.n.s, SHMRING_CONSUMER, NULL, &c), 0);
    pid = t_spawn(idle_producer, &b);
    assert_true(tl_await(b.ready, 5000));
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 4);
    assert_int_equal(tl_kill(pid), 137);
    assert_int_equal(shmring_recv_wait(c, buf, sizeof buf, 2000 * 1000000LL), -EPIPE);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EPIPE);
    /* A new producer attaches: no longer -EPIPE. */
    shmring *p2;
    assert_int_equal(shmring_open(b.n.s, SHMRING_PRODUCER, NULL, &p2), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), -EAGAIN);
    assert_int_equal(shmring_send(p2, "x", 1), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 1);
    shmring_close(p2);
    shmring_close(c);

    /* The producer's side: a full ring whose consumer died. */
    struct tl_holder_args d = {tl_name("sticky3"), SHMRING_CONSUMER, tl_shared(4096)};
    shmring *p;
    assert_int_equal(shmring_open(d.n.s, SHMRING_PRODUCER, NULL, &p), 0);
    pid = t_spawn(idle_consumer, &d);
    assert_true(tl_await(d.ready, 5000));
    while (shmring_send(p, buf, 32) == 0) {
    }
    assert_int_equal(tl_kill(pid), 137);
    end = tl_now_ns() + 40 * 1000000LL;
    calls = pipes = seen = after = 0;
    while (tl_now_ns() < end) {
        int rc = shmring_send(p, buf, 32);
        calls++;
        if (rc == -EPIPE) {
            pipes++;
            seen = 1;
        } else if (seen) {
            after++;
        }
        usleep(200);
    }
    printf("non-blocking send after the consumer's death: %d of %d calls gave -EPIPE, %d other "
           "results after the first -EPIPE\n",
           pipes, calls, after);
    assert_int_equal(after, 0);
    assert_true(seen);
    assert_int_equal(shmring_send_wait(p, buf, 32, 1000), -EPIPE);
    shmring_close(p);
    tl_unshare((void *)a.ready, 4096);
    tl_unshare((void *)b.ready, 4096);
    tl_unshare((void *)d.ready, 4096);
}

/* ---- fault 6: fork while another thread closes --------------------------------------------------
 */

struct churn {
    struct tl_name n;
    _Atomic int stop;
};

static void *open_close_loop(void *p)
{
    struct churn *c = p;
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        shmring *r;
        if (shmring_open(c->n.s, SHMRING_OBSERVER, NULL, &r) == 0) {
            shmring_close(r);
        }
    }
    return NULL;
}

static void test_fault6_fork_during_close(void **state)
{
    (void)state;
    struct churn c = {tl_name("forkclose"), 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, open_close_loop, &c), 0);
    int leaked = 0;
    for (int i = 0; i < 200; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            /* The child must hold no descriptor or mapping of the ring: it would keep the
             * parent's INIT (or attach) lock for as long as it lives. */
            _exit(tl_proc_uses(getpid(), c.n.s) ? 1 : 0);
        }
        if (t_wait(pid) != 0) {
            leaked++;
        }
        usleep(500);
    }
    atomic_store_explicit(&c.stop, 1, memory_order_relaxed);
    pthread_join(th, NULL);
    printf("%d of 200 children forked during open/close held the ring\n", leaked);
    assert_int_equal(leaked, 0);
    assert_false(t_shm_exists(c.n.s));
}

/* ---- fault 7: exit() while other threads are in the legacy calls ------------------------------
 */

static void *legacy_loop(void *p)
{
    long k = (long)p;
    char buf[256];
    for (;;) {
        if (k % 2 == 0) {
            GetSharedMem(buf, sizeof buf);
        } else {
            SetSharedMem(k % 4 == 1 ? "a short value" : "another value, a little longer");
        }
    }
    return NULL;
}

static int legacy_exit_child(void *p)
{
    (void)p;
    /* CMocka's handlers would turn a crash into a test report inside this child. */
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        signal(sigs[i], SIG_DFL);
    }
    pthread_t th[4];
    for (long k = 0; k < 4; k++) {
        pthread_create(&th[k], NULL, legacy_loop, (void *)k);
    }
    tl_spin_ns((int64_t)(getpid() % 7) * 150000);
    exit(0);
}

/* Fault 7's setter stops half-way through its copy: the library's copy into the mapping is
 * wrapped at link time (-Wl,--wrap in tests/faults.cmake; test_compat.c does the same). With
 * TEST_FAULTS_MIDCOPY set, the calling thread copies half, says so in *g_midcopy (a page shared
 * with the test), sleeps 300 ms and copies the rest. The library itself has no such hook. */
#define MIDCOPY_ENV "TEST_FAULTS_MIDCOPY"
static _Atomic uint32_t *g_midcopy;
void __real_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n);
void __wrap_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n);

void __wrap_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n)
{
    if (getenv(MIDCOPY_ENV) == NULL || n < 2) {
        __real_shmring__lv_bytes_in(dst, src, n);
        return;
    }
    __real_shmring__lv_bytes_in(dst, src, n / 2);
    if (g_midcopy != NULL) {
        atomic_store(g_midcopy, 1);
    }
    tl_sleep_ms(300);
    __real_shmring__lv_bytes_in(dst + n / 2, src + n / 2, n - n / 2);
}

static void *slow_setter(void *p)
{
    (void)p;
    SetSharedMem("a value that the test hook copies in two halves, 300 ms apart");
    return NULL;
}

static void slow_exit_handler(void)
{
    tl_sleep_ms(400); /* another exit handler of the program, which runs after the library's */
}

/* A setter sleeps half-way through its copy (the test hook) while the main thread exits. */
static int exit_mid_set(void *p)
{
    (void)p;
    static const int sigs[] = {SIGSEGV, SIGBUS};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        signal(sigs[i], SIG_DFL);
    }
    atexit(slow_exit_handler); /* before the library's: runs after it */
    SetSharedMem("first");
    setenv(MIDCOPY_ENV, "1", 1); /* from here on: the next copy stops half-way */
    pthread_t th;
    pthread_create(&th, NULL, slow_setter, NULL);
    tl_sleep_ms(100);
    exit(0);
}

static void test_fault7_exit_during_legacy(void **state)
{
    (void)state;
    char name[300];
    snprintf(name, sizeof name, "%s", t_name("legacyexit"));
    setenv("SHMRING_COMPAT_NAME", name, 1);
    g_midcopy = tl_shared(sizeof *g_midcopy);
    int st = t_wait(t_spawn(exit_mid_set, NULL));
    printf("exit() while a thread was inside SetSharedMem: status %d%s, the copy %s\n", st,
           st == 128 + SIGSEGV ? " (SIGSEGV)" : "",
           atomic_load(g_midcopy) ? "stopped half-way" : "never stopped");
    assert_int_equal(atomic_load(g_midcopy), 1); /* the setter was inside its copy */
    g_midcopy = NULL;
    assert_int_equal(st, 0);
    assert_false(t_shm_exists(name));
    int crashed = 0, runs = 200;
    for (int i = 0; i < runs; i++) {
        pid_t pid = t_spawn(legacy_exit_child, NULL);
        int rc = t_wait(pid);
        if (rc != 0) {
            crashed++;
            printf("run %d: status %d\n", i, rc);
        }
    }
    unsetenv("SHMRING_COMPAT_NAME");
    printf("%d of %d processes that exited during Set/GetSharedMem crashed\n", crashed, runs);
    assert_int_equal(crashed, 0);
    assert_false(t_shm_exists(name));
}

/* ---- fault 8: timeouts near INT64_MAX ------------------------------------------------------ */

static int late_sender(void *p)
{
    struct tl_holder_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    tl_sleep_ms(150);
    TL_CHECK_RC(shmring_send(r, "late", 4), 0);
    tl_sleep_ms(50);
    return 0;
}

static void test_fault8_huge_timeout(void **state)
{
    (void)state;
    static const int64_t timeouts[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX / 2 + 1};
    for (int i = 0; i < 3; i++) {
        struct tl_holder_args a = {tl_name("huge"), SHMRING_PRODUCER, tl_shared(4096)};
        shmring *c;
        assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &c), 0);
        pid_t pid = t_spawn(late_sender, &a);
        char buf[16];
        ssize_t rc = shmring_recv_wait(c, buf, sizeof buf, timeouts[i]);
        printf("recv_wait(timeout %lld ns) = %zd\n", (long long)timeouts[i], rc);
        assert_int_equal(rc, 4);
        assert_int_equal(t_wait(pid), 0);
        shmring_close(c);
        tl_unshare((void *)a.ready, 4096);
    }
}

/* ---- fault 9: sizes of an inert handle --------------------------------------------------- */

static int inert_sizes(void *p)
{
    shmring *r = p;
    fprintf(stderr, "inherited handle: max_msg %zu, capacity %zu\n", shmring_max_msg(r),
            shmring_capacity(r));
    TL_CHECK(shmring_max_msg(r) == 0);
    TL_CHECK(shmring_capacity(r) == 0);
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

static void test_fault9_inert_sizes(void **state)
{
    (void)state;
    shmring *r;
    assert_int_equal(shmring_open(t_name("inert"), SHMRING_PRODUCER, NULL, &r), 0);
    assert_true(shmring_max_msg(r) > 0);
    assert_int_equal(t_wait(t_spawn(inert_sizes, r)), 0);
    shmring_close(r);
}

/* ---- fault 10: a peer that keeps waking the waiter ---------------------------------------- */

static int waker(void *p)
{
    struct tl_holder_args *a = p;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    _Atomic uint32_t *flag = &r->hdr->consumer_waiting;
    atomic_store_explicit(a->ready, 1, memory_order_release);
    for (;;) {
        atomic_store_explicit(flag, 0, memory_order_relaxed);
        syscall(SYS_futex, (uint32_t *)flag, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
        sched_yield();
    }
}

static int64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* CPU time is measured over a 1 s wait; on a machine busy with other tests (the sanitizer run
 * is parallel) one measurement came out at 11.5 % where the same binary alone gives 1.2-1.4 %.
 * So up to three tries, and the lowest counts: a waiter that really spins under the hostile
 * wake-ups (92 % of a CPU before the fix) exceeds the bound in every one. */
static void test_fault10_hostile_wakeups(void **state)
{
    (void)state;
    struct tl_holder_args a = {tl_name("waker"), SHMRING_PRODUCER, tl_shared(4096)};
    shmring *c;
    assert_int_equal(shmring_open(a.n.s, SHMRING_CONSUMER, NULL, &c), 0);
    pid_t pid = t_spawn(waker, &a);
    assert_true(tl_await(a.ready, 5000));
    char buf[16];
    int64_t best_pct10 = -1; /* tenths of a per cent */
    for (int attempt = 0; attempt < 3 && (best_pct10 < 0 || best_pct10 >= 100); attempt++) {
        int64_t cpu0 = cpu_us(), t0 = tl_now_ns();
        ssize_t rc = shmring_recv_wait(c, buf, sizeof buf, 1000 * 1000000LL);
        int64_t wall = (tl_now_ns() - t0) / 1000, cpu = cpu_us() - cpu0;
        printf("recv_wait under a hostile waker: %zd after %lld ms, %lld ms of CPU (%.1f%%)\n", rc,
               (long long)(wall / 1000), (long long)(cpu / 1000),
               100.0 * (double)cpu / (double)wall);
        assert_int_equal(rc, -ETIMEDOUT);
        int64_t pct10 = cpu * 1000 / wall;
        if (best_pct10 < 0 || pct10 < best_pct10) {
            best_pct10 = pct10;
        }
    }
    tl_kill(pid);
    assert_true(best_pct10 < 100); /* under 10 % of a CPU */
    shmring_close(c);
    tl_unshare((void *)a.ready, 4096);
}

int main(int argc, char **argv)
{
    tool_path = argc > 1 ? argv[1] : NULL;
    tl_subreaper();
    const char *only = getenv("T_FILTER"); /* e.g. T_FILTER='*fault5*' runs one test */
    if (only != NULL) {
        cmocka_set_test_filter(only);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault2_planted_fifo),
        cmocka_unit_test(test_fault3_descriptor_limit),
        cmocka_unit_test(test_fault4_reader_cannot_hold),
        cmocka_unit_test(test_fault5_epipe_sticky),
        cmocka_unit_test(test_fault6_fork_during_close),
        cmocka_unit_test(test_fault7_exit_during_legacy),
        cmocka_unit_test(test_fault8_huge_timeout),
        cmocka_unit_test(test_fault9_inert_sizes),
        cmocka_unit_test(test_fault10_hostile_wakeups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
