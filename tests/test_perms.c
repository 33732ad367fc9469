/* SPDX-License-Identifier: MIT */
/* Permissions and names: who may open a ring, with which mode it is created, and what a name
 * planted by someone else can do.
 *
 *   test_perms               checks that need no other user: the creation mode under several
 *                            umasks, close-on-exec descriptors, symlinks in /dev/shm, and a
 *                            process that holds the INIT lock (opens give up after 5 s)
 *   test_perms --other-user  checks with a second and third user: run as root, each "other
 *                            user" is a forked child that drops to uid/gid 65534 (nobody) or
 *                            65533 before acting. Not root: exit 77 (skipped), with the reason.
 *
 * Children report through their exit code (0 ok, 1 failed check with a message on stderr). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t_cmocka.h"

#include "handle.h"
#include "shmring.h"
#include "testutil.h"
#ifdef TEST_HAVE_COMPAT
#include "shmring_compat.h"
#endif

#define NOBODY 65534u /* the attacker, or the other owner */
#define OTHER  65533u /* a third user: a victim that is not root */

static const char *self_exe;

/* A failed check in a child: say where and what, return 1 from the child's function. */
#define CK(cond)                                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "[uid %u] %s:%d: check failed: %s\n", (unsigned)geteuid(), __FILE__,   \
                    __LINE__, #cond);                                                              \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)
#define CK_RC(expr, want)                                                                          \
    do {                                                                                           \
        long ck_rc_ = (long)(expr);                                                                \
        if (ck_rc_ != (long)(want)) {                                                              \
            fprintf(stderr, "[uid %u] %s:%d: %s = %ld (%s), want %ld\n", (unsigned)geteuid(),      \
                    __FILE__, __LINE__, #expr, ck_rc_, shmring_strerror((int)ck_rc_),              \
                    (long)(want));                                                                 \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* ---- helpers ---------------------------------------------------------------------------- */

static int shm_stat(const char *name, struct stat *st)
{
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return lstat(path, st);
}

static unsigned shm_mode(const char *name)
{
    struct stat st;
    return shm_stat(name, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xffffffffu;
}

static void shm_remove(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "/%s", name);
    shm_unlink(path);
}

static uint64_t shm_content_hash(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    uint8_t buf[8192];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n < 0 ? 0 : t_hash(buf, (size_t)n) ^ (uint64_t)n;
}

/* Runs fn(arg) in a child that first becomes uid:gid `uid` with no supplementary groups. */
static int as_user(unsigned uid, int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid((uid_t)uid) != 0) {
            perror("dropping privileges");
            _exit(99);
        }
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc);
    }
    return t_wait(pid);
}

/* A persistent ring created by the calling process with mode `mode` (0 = default), holding one
 * message "hello", then closed: the name stays. */
struct made {
    const char *name;
    unsigned mode;
};

static int make_ring(void *arg)
{
    struct made *m = arg;
    struct shmring_opts opts = {.mode = m->mode,
                                .flags = SHMRING_CREATE | SHMRING_EXCL | SHMRING_PERSIST};
    shmring *r = NULL;
    CK_RC(shmring_open(m->name, SHMRING_PRODUCER, &opts, &r), 0);
    CK_RC(shmring_send(r, "hello", 5), 0);
    CK_RC(shmring_close(r), 0);
    return 0;
}

/* ---- creation mode -------------------------------------------------------------------------- */

static void test_default_mode_0600(void **state)
{
    (void)state;
    static const mode_t masks[] = {022, 0, 077, 0777, 0111, 0600};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        mode_t old = umask(masks[i]);
        const char *name = t_name("mode");
        shmring *r = NULL;
        assert_int_equal(shmring_open(name, SHMRING_PRODUCER, NULL, &r), 0);
        struct stat st;
        assert_int_equal(shm_stat(name, &st), 0);
        if ((st.st_mode & 07777) != 0600) {
            fail_msg("umask %03o: created with mode %04o", (unsigned)masks[i],
                     (unsigned)(st.st_mode & 07777));
        }
        assert_int_equal(st.st_uid, geteuid());
        assert_true(S_ISREG(st.st_mode));
        /* The same with explicit options asking for the default. */
        shmring *r2 = NULL;
        const char *name2 = t_name("mode2");
        struct shmring_opts opts = {.flags = SHMRING_CREATE | SHMRING_EXCL};
        assert_int_equal(shmring_open(name2, SHMRING_CONSUMER, &opts, &r2), 0);
        assert_int_equal(shm_mode(name2), 0600);
        shmring_close(r2);
        shmring_close(r);
        umask(old);
        assert_false(t_shm_exists(name));
    }
}

static void test_explicit_mode(void **state)
{
    (void)state;
    static const unsigned modes[] = {0640, 0660, 0666, 0604, 0700, 0644};
    static const mode_t masks[] = {077, 0777, 0};
    for (size_t k = 0; k < sizeof masks / sizeof masks[0]; k++) {
        mode_t old = umask(masks[k]);
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            const char *name = t_name("xmode");
            struct shmring_opts opts = {.mode = modes[i], .flags = SHMRING_CREATE};
            shmring *r = NULL;
            assert_int_equal(shmring_open(name, SHMRING_OBSERVER, &opts, &r), 0);
            /* Group and others may read only what they may also write (issue #10, fault 4):
             * read access alone would let them hold the lock bytes. */
            unsigned want = modes[i];
            want &= (want & 0020) ? 0777u : ~0040u;
            want &= (want & 0002) ? 0777u : ~0004u;
            if (shm_mode(name) != want) {
                fail_msg("umask %03o, mode %04o: created with %04o, want %04o", (unsigned)masks[k],
                         modes[i], shm_mode(name), want);
            }
            /* An existing ring keeps its mode whatever a later opener asks. */
            shmring *r2 = NULL;
            struct shmring_opts other = {.mode = 0666, .flags = SHMRING_CREATE};
            assert_int_equal(shmring_open(name, SHMRING_PRODUCER, &other, &r2), 0);
            assert_int_equal(shm_mode(name), want);
            shmring_close(r2);
            shmring_close(r);
        }
        umask(old);
    }
    /* Only permission bits: no setuid, setgid or sticky bits. */
    static const unsigned bad[] = {01600, 02600, 04600, 010000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct shmring_opts opts = {.mode = bad[i], .flags = SHMRING_CREATE};
        shmring *r = NULL;
        assert_int_equal(shmring_open(t_name("bad"), SHMRING_PRODUCER, &opts, &r), -EINVAL);
        assert_null(r);
    }
}

/* ---- close-on-exec ----------------------------------------------------------------------- */

/* Re-executed as the child: counts its descriptors that lead to /dev/shm. */
static int list_shm_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        perror("/proc/self/fd");
        return 100;
    }
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char link[300], target[512];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strncmp(target, "/dev/shm/", 9) == 0) {
                printf("inherited fd %s -> %s\n", e->d_name, target);
                found++;
            }
        }
    }
    closedir(d);
    return found;
}

static int exec_and_count(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_exe, self_exe, "--list-shm-fds", (char *)NULL);
        perror("execl");
        _exit(100);
    }
    return t_wait(pid);
}

/* The descriptors of this process open on /dev/shm/<name> (at most cap), or -1. */
static int fds_of_shm(const char *name, int *fds, int cap)
{
    char want[512];
    snprintf(want, sizeof want, "/dev/shm/%s", name);
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        char link[300], target[512];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0) {
            target[len] = '\0';
            if (strcmp(target, want) == 0) {
                fds[n++] = atoi(e->d_name);
            }
        }
    }
    closedir(d);
    return n;
}

static void test_cloexec(void **state)
{
    (void)state;
    const char *name = t_name("cloexec");
    shmring *p = NULL, *c = NULL, *o = NULL;
    assert_int_equal(shmring_open(name, SHMRING_PRODUCER, NULL, &p), 0);
    assert_int_equal(shmring_open(name, SHMRING_CONSUMER, NULL, &c), 0);
    assert_int_equal(shmring_open(name, SHMRING_OBSERVER, NULL, &o), 0);
    /* The handles' descriptors are opaque to us now: find them in /proc/self/fd. */
    int fds[8];
    assert_int_equal(fds_of_shm(name, fds, 8), 3);
    for (int i = 0; i < 3; i++) {
        int fl = fcntl(fds[i], F_GETFD);
        assert_true(fl >= 0 && (fl & FD_CLOEXEC));
    }
    assert_int_equal(exec_and_count(), 0);
    /* The detector itself: a descriptor without FD_CLOEXEC is seen by the child. */
    int leak = fcntl(fds[0], F_DUPFD, 100);
    assert_true(leak >= 0);
    assert_int_equal(exec_and_count(), 1);
    close(leak);
#ifdef TEST_HAVE_COMPAT
    /* The set/get mapping's descriptor, once attached, is close-on-exec too. */
    setenv("SHMRING_COMPAT_NAME", t_name("compat-cloexec"), 1);
    SetSharedMem("x");
    assert_int_equal(shmring_compat_status(), 0);
    assert_int_equal(exec_and_count(), 0);
#endif
    shmring_close(o);
    shmring_close(c);
    shmring_close(p);
}

/* ---- symlinks ---------------------------------------------------------------------------- */

static void test_symlink_not_followed(void **state)
{
    (void)state;
    const char *target = t_name("target");
    const char *link = t_name("link");
    const char *dangling = t_name("dangling");
    struct made m = {target, 0};
    assert_int_equal(make_ring(&m), 0);
    uint64_t before = shm_content_hash(target);
    char lpath[512], tpath[512], nowhere[512];
    snprintf(lpath, sizeof lpath, "/dev/shm/%s", link);
    snprintf(tpath, sizeof tpath, "/dev/shm/%s", target);
    assert_int_equal(symlink(tpath, lpath), 0);

    static const unsigned flag_sets[] = {0, SHMRING_CREATE, SHMRING_CREATE | SHMRING_ANY_OWNER};
    static const int roles[] = {SHMRING_PRODUCER, SHMRING_CONSUMER, SHMRING_OBSERVER};
    for (size_t f = 0; f < 3; f++) {
        for (size_t k = 0; k < 3; k++) {
            struct shmring_opts opts = {.flags = flag_sets[f]};
            shmring *r = NULL;
            int rc = shmring_open(link, roles[k], &opts, &r);
            if (rc != -EACCES) {
                fail_msg("open through a symlink (flags %u, role %d): %d (%s), want -EACCES",
                         flag_sets[f], roles[k], rc, shmring_strerror(rc));
            }
        }
    }
    struct shmring_opts excl = {.flags = SHMRING_CREATE | SHMRING_EXCL};
    shmring *r = NULL;
    assert_int_equal(shmring_open(link, SHMRING_PRODUCER, &excl, &r), -EEXIST);
    /* The ring behind the link is untouched and still holds its message. */
    assert_int_equal(shm_content_hash(target), before);
    struct shmring_opts plain = {0};
    assert_int_equal(shmring_open(target, SHMRING_CONSUMER, &plain, &r), 0);
    char buf[16];
    assert_int_equal(shmring_recv(r, buf, sizeof buf), 5);
    shmring_close(r);

    /* A dangling link must not make us create its target. */
    snprintf(nowhere, sizeof nowhere, "/tmp/%s-created", dangling);
    snprintf(lpath, sizeof lpath, "/dev/shm/%s", dangling);
    assert_int_equal(symlink(nowhere, lpath), 0);
    struct shmring_opts create = {.flags = SHMRING_CREATE};
    assert_int_equal(shmring_open(dangling, SHMRING_PRODUCER, &create, &r), -EACCES);
    assert_int_equal(shmring_open(dangling, SHMRING_PRODUCER, &excl, &r), -EEXIST);
    struct stat st;
    assert_int_equal(stat(nowhere, &st), -1);
    /* shmring_unlink removes the link itself, never what it points to. */
    assert_int_equal(shmring_unlink(link), 0);
    assert_int_equal(shmring_unlink(dangling), 0);
    assert_true(t_shm_exists(target));
    assert_int_equal(shmring_unlink(target), 0);
}

/* ---- a process that holds the INIT lock ----------------------------------------------------- */

struct holder {
    const char *name;
    int readonly; /* open O_RDONLY and hold a shared lock: all that read permission allows */
    int pipe_w;
};

static int hold_init_lock(void *arg)
{
    struct holder *h = arg;
    char path[512];
    snprintf(path, sizeof path, "/%s", h->name);
    int fd = shm_open(path, h->readonly ? O_RDONLY : O_RDWR, 0);
    CK(fd >= 0);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = h->readonly ? F_RDLCK : F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0; /* SHMRING__LOCK_INIT */
    fl.l_len = 1;
    CK(fcntl(fd, F_OFD_SETLK, &fl) == 0);
    CK(write(h->pipe_w, "x", 1) == 1);
    for (;;) {
        pause(); /* until killed */
    }
}

/* Opening while someone else holds INIT gives up with -ETIMEDOUT after about 5 s. */
static int check_stall(const char *name, unsigned holder_uid, int readonly)
{
    int fds[2];
    CK(pipe(fds) == 0);
    struct holder h = {name, readonly, fds[1]};
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (holder_uid != geteuid() &&
            (setgroups(0, NULL) != 0 || setgid(holder_uid) != 0 || setuid(holder_uid) != 0)) {
            _exit(99);
        }
        _exit(hold_init_lock(&h));
    }
    char ch;
    CK(read(fds[0], &ch, 1) == 1);
    int64_t t0 = t_now_ms();
    shmring *r = NULL;
    struct shmring_opts opts = {0};
    int rc = shmring_open(name, SHMRING_OBSERVER, &opts, &r);
    int64_t ms = t_now_ms() - t0;
    kill(pid, SIGKILL);
    t_wait(pid);
    close(fds[0]);
    close(fds[1]);
    CK_RC(rc, -ETIMEDOUT);
    printf("open gave up after %lld ms while another process held the INIT lock\n", (long long)ms);
    CK(ms >= 4900 && ms < 9000);
    /* Once the holder is gone, opens work again at once. */
    CK_RC(shmring_open(name, SHMRING_OBSERVER, &opts, &r), 0);
    shmring_close(r);
    return 0;
}

static void test_init_lock_holder_times_out(void **state)
{
    (void)state;
    const char *name = t_name("stall");
    struct made m = {name, 0};
    assert_int_equal(make_ring(&m), 0);
    assert_int_equal(check_stall(name, geteuid(), 0), 0);
    shm_remove(name);
}

/* ---- other users (root only) -------------------------------------------------------------- */

struct try_open {
    const char *name;
    unsigned flags;
    int want;       /* expected result of shmring_open in every role */
    int expect_msg; /* with want == 0: the consumer receives "hello" */
};

static int try_open_roles(void *arg)
{
    struct try_open *t = arg;
    static const int roles[] = {SHMRING_OBSERVER, SHMRING_PRODUCER, SHMRING_CONSUMER};
    for (int i = 0; i < 3; i++) {
        struct shmring_opts opts = {.flags = t->flags};
        shmring *r = NULL;
        int rc = shmring_open(t->name, roles[i], &opts, &r);
        if (rc != t->want) {
            fprintf(stderr, "[uid %u] open %s role %d flags %u: %d (%s), want %d\n",
                    (unsigned)geteuid(), t->name, roles[i], t->flags, rc, shmring_strerror(rc),
                    t->want);
            return 1;
        }
        if (rc == 0) {
            if (roles[i] == SHMRING_CONSUMER && t->expect_msg) {
                char buf[16];
                CK_RC(shmring_recv(r, buf, sizeof buf), 5);
                CK(memcmp(buf, "hello", 5) == 0);
            }
            shmring_close(r);
        }
    }
    return 0;
}

static int expect_open(unsigned uid, const char *name, unsigned flags, int want, int expect_msg)
{
    struct try_open t = {name, flags, want, expect_msg};
    return uid == geteuid() ? try_open_roles(&t) : as_user(uid, try_open_roles, &t);
}

static void skip_unless_root(void)
{
    if (geteuid() != 0) {
        printf("skipped: other-user checks need root (to become uid %u and %u)\n", NOBODY, OTHER);
        skip();
    }
}

/* A ring owned by another user: refused unless SHMRING_ANY_OWNER and the bits allow it. */
static void test_other_owner(void **state)
{
    (void)state;
    skip_unless_root();
    const char *priv = t_name("priv");  /* nobody's, 0600 */
    const char *open_ = t_name("open"); /* nobody's, 0666 */
    const char *ro = t_name("ro");      /* nobody's, 0644 */
    struct made m1 = {priv, 0}, m2 = {open_, 0666}, m3 = {ro, 0644};
    assert_int_equal(as_user(NOBODY, make_ring, &m1), 0);
    assert_int_equal(as_user(NOBODY, make_ring, &m2), 0);
    assert_int_equal(as_user(NOBODY, make_ring, &m3), 0);
    struct stat st;
    assert_int_equal(shm_stat(priv, &st), 0);
    assert_int_equal(st.st_uid, NOBODY);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* Without the flag: -EACCES for everyone else, root included, whatever the bits. */
    const char *all[] = {priv, open_, ro};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(expect_open(0, all[i], 0, -EACCES, 0), 0);
        assert_int_equal(expect_open(0, all[i], SHMRING_CREATE, -EACCES, 0), 0);
        assert_int_equal(expect_open(OTHER, all[i], 0, -EACCES, 0), 0);
        assert_int_equal(expect_open(OTHER, all[i], SHMRING_CREATE, -EACCES, 0), 0);
    }
    /* With the flag, the permission bits decide: 0600 and 0644 (no write) keep OTHER out. */
    assert_int_equal(expect_open(OTHER, priv, SHMRING_ANY_OWNER, -EACCES, 0), 0);
    assert_int_equal(expect_open(OTHER, ro, SHMRING_ANY_OWNER, -EACCES, 0), 0);
    assert_int_equal(expect_open(OTHER, open_, SHMRING_ANY_OWNER, 0, 1), 0);
    /* Root's permission checks always pass: with the flag, root gets in. */
    assert_int_equal(expect_open(0, priv, SHMRING_ANY_OWNER, 0, 0), 0);
    /* The owner itself needs no flag. */
    assert_int_equal(expect_open(NOBODY, priv, 0, 0, 1), 0);
    for (int i = 0; i < 3; i++) {
        shm_remove(all[i]);
    }
}

/* A name planted in advance by another user cannot capture a creator. */
struct plant {
    const char *name;
    int kind; /* 0 empty file, 1 junk bytes, 2 a valid ring */
};

static int plant_name(void *arg)
{
    struct plant *p = arg;
    if (p->kind == 2) {
        struct made m = {p->name, 0666};
        return make_ring(&m);
    }
    char path[512];
    snprintf(path, sizeof path, "/%s", p->name);
    int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
    CK(fd >= 0);
    CK(fchmod(fd, 0666) == 0);
    if (p->kind == 1) {
        uint8_t junk[4096];
        memset(junk, 0x41, sizeof junk);
        CK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    }
    close(fd);
    return 0;
}

static void test_planted_name(void **state)
{
    (void)state;
    skip_unless_root();
    for (int kind = 0; kind < 3; kind++) {
        const char *name = t_name("planted");
        struct plant p = {name, kind};
        assert_int_equal(as_user(NOBODY, plant_name, &p), 0);
        uint64_t before = shm_content_hash(name);
        unsigned victims[] = {0, OTHER};
        for (int v = 0; v < 2; v++) {
            assert_int_equal(expect_open(victims[v], name, SHMRING_CREATE, -EACCES, 0), 0);
            assert_int_equal(
                expect_open(victims[v], name, SHMRING_CREATE | SHMRING_EXCL, -EEXIST, 0), 0);
            assert_int_equal(
                expect_open(victims[v], name, SHMRING_CREATE | SHMRING_PERSIST, -EACCES, 0), 0);
        }
        struct stat st;
        assert_int_equal(shm_stat(name, &st), 0);
        assert_int_equal(st.st_uid, NOBODY);
        assert_int_equal(shm_content_hash(name), before); /* nobody wrote into it */
        shm_remove(name);
    }
}

/* Read permission would be enough to hold a shared lock on INIT (and on every other lock byte),
 * so a ring asked for as 0644 is created 0600: another user cannot open it to stall us
 * (issue #10, fault 4; test_faults covers the roles and liveness too). */
static int open_readonly(void *arg)
{
    char path[512];
    snprintf(path, sizeof path, "/%s", (const char *)arg);
    int fd = shm_open(path, O_RDONLY, 0);
    CK(fd < 0 && errno == EACCES);
    return 0;
}

static void test_reader_cannot_stall(void **state)
{
    (void)state;
    skip_unless_root();
    const char *name = t_name("readable");
    struct made m = {name, 0644};
    assert_int_equal(make_ring(&m), 0);
    assert_int_equal(shm_mode(name), 0600);
    assert_int_equal(as_user(NOBODY, open_readonly, (void *)name), 0);
    shm_remove(name);
}

#ifdef TEST_HAVE_COMPAT
static int compat_main(const char *op, const char *arg);

/* The set/get mapping is per user: created 0600 by its first user; another user's calls fail
 * with -EACCES in shmring_compat_status() and cannot read or change the value. Each call runs
 * in a freshly executed process, as a legacy program would. */
static int compat_child(const char *op, const char *value, unsigned uid)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (uid != geteuid() && (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)) {
            _exit(99);
        }
        execl(self_exe, self_exe, op, value, (char *)NULL);
        /* The build tree may not be reachable for this user (e.g. under /root): run the check
         * in this forked child instead. The library dropped the parent's handles at fork, so
         * the calls attach afresh, as this user. */
        int rc = compat_main(op, value);
        fflush(NULL);
        _exit(rc);
    }
    return t_wait(pid);
}

static int compat_main(const char *op, const char *arg)
{
    if (strcmp(op, "--compat-set") == 0) {
        SetSharedMem(arg);
        printf("set: status %d\n", shmring_compat_status());
        return shmring_compat_status() == 0 ? 0 : 10 + -shmring_compat_status() % 100;
    }
    char buf[4096];
    memset(buf, 'Z', sizeof buf);
    GetSharedMem(buf, sizeof buf);
    int st = shmring_compat_status();
    printf("get: \"%s\", status %d\n", buf, st);
    if (st != 0) {
        return buf[0] == '\0' ? 10 + -st % 100 : 1;
    }
    return strcmp(buf, arg) == 0 ? 0 : 2;
}

static void test_legacy_per_user(void **state)
{
    (void)state;
    skip_unless_root();
    const char *name = t_name("legacy");
    setenv("SHMRING_COMPAT_NAME", name, 1);
    /* Root attaches (and so keeps the mapping alive) and sets a value. */
    SetSharedMem("root's value");
    assert_int_equal(shmring_compat_status(), 0);
    assert_int_equal(shm_mode(name), 0600);
    assert_int_equal(compat_child("--compat-get", "root's value", 0), 0);
    /* Another user gets "" and -EACCES, and cannot overwrite the value. */
    assert_int_equal(compat_child("--compat-get", "", NOBODY), 10 + EACCES);
    assert_int_equal(compat_child("--compat-set", "nobody's value", NOBODY), 10 + EACCES);
    char buf[64];
    GetSharedMem(buf, sizeof buf);
    assert_string_equal(buf, "root's value");
}
#endif

int main(int argc, char **argv)
{
    self_exe = "/proc/self/exe";
    if (argc > 1 && strcmp(argv[1], "--list-shm-fds") == 0) {
        return list_shm_fds();
    }
#ifdef TEST_HAVE_COMPAT
    if (argc > 2 && strncmp(argv[1], "--compat-", 9) == 0) {
        return compat_main(argv[1], argv[2]);
    }
#endif
    /* Resolve our own path now: a child that dropped privileges may not read /proc/self/exe
     * of a root process, but can exec the resolved file. */
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        self_exe = exe;
    }
    if (argc > 1 && strcmp(argv[1], "--other-user") == 0) {
        if (geteuid() != 0) {
            printf("skipped: the other-user checks need root, to run children as uid %u and %u\n",
                   NOBODY, OTHER);
            return 77;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_other_owner),
            cmocka_unit_test(test_planted_name),
            cmocka_unit_test(test_reader_cannot_stall),
#ifdef TEST_HAVE_COMPAT
            cmocka_unit_test(test_legacy_per_user),
#endif
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_mode_0600),
        cmocka_unit_test(test_explicit_mode),
        cmocka_unit_test(test_cloexec),
        cmocka_unit_test(test_symlink_not_followed),
        cmocka_unit_test(test_init_lock_holder_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
