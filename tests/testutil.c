/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#include <process.h> /* getpid */

#include "platform_win.h" /* shmring__win_object_name */
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "platform.h" /* shmring__plat_cpu_relax */

const char *t_name(const char *tag)
{
    static char slots[8][256];
    static unsigned next;
    const char *prefix = getenv("SHMRING_TEST_PREFIX");
    char *s = slots[next++ % 8];
    snprintf(s, sizeof slots[0], "%s-%d-%s", prefix ? prefix : "shmring-test", (int)getpid(), tag);
    return s;
}

uint64_t t_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ULL;
    }
    return h;
}

uint64_t t_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

void t_msg_fill(void *msg, size_t len, uint64_t seq)
{
    unsigned char *m = msg;
    unsigned char seqb[8];
    memcpy(seqb, &seq, 8);
    if (len < 16) {
        memcpy(m, seqb, len < 8 ? len : 8);
        for (size_t i = 8; i < len; i++) {
            m[i] = (unsigned char)(seq * 31 + i);
        }
        return;
    }
    memcpy(m, seqb, 8);
    uint64_t x = seq * 0x9e3779b97f4a7c15ULL + len;
    for (size_t i = 16; i < len; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        m[i] = (unsigned char)(x >> 56);
    }
    uint64_t h = t_hash(m + 16, len - 16) ^ len;
    memcpy(m + 8, &h, 8);
}

int t_msg_check(const void *msg, size_t len, uint64_t seq)
{
    unsigned char want[16];
    const unsigned char *m = msg;
    if (len < 16) {
        unsigned char *buf = malloc(len ? len : 1);
        t_msg_fill(buf, len, seq);
        int ok = memcmp(buf, m, len) == 0;
        free(buf);
        return ok;
    }
    memcpy(want, &seq, 8);
    if (memcmp(want, m, 8) != 0) {
        return 0;
    }
    uint64_t h = t_hash(m + 16, len - 16) ^ len;
    return memcmp(&h, m + 8, 8) == 0;
}

#ifndef _WIN32
pid_t t_spawn(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc);
    }
    return pid;
}

t_proc t_spawn_flat(int (*fn)(void *), const void *arg, size_t size)
{
    (void)size; /* the child has the whole address space */
    return (t_proc)t_spawn(fn, (void *)arg);
}

int t_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (WIFSIGNALED(st)) {
        return 128 + WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}

#endif

#ifdef _WIN32
int t_shm_exists(const char *name)
{
    wchar_t on[300];
    if (shmring__win_object_name(name, ".mem", on, 300) != 0) {
        return 0;
    }
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, on);
    if (h == NULL) {
        return 0;
    }
    CloseHandle(h);
    return 1;
}
#else
int t_shm_exists(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return stat(path, &st) == 0;
}
#endif

int64_t t_now_ms(void)
{
    return shmring__plat_now_ns() / 1000000;
}

int t_spin_once(struct t_spin *s)
{
    if (s->n++ == 0) {
        s->since_ms = t_now_ms();
    }
    if (s->n < 1024) {
        /* The first ~30 us: the peer is most likely just busy on the other core. */
        shmring__plat_cpu_relax();
        return 1;
    }
    /* Longer: on a busy host the peer may be waiting for our core. sched_yield does not reliably
     * hand the core over (and is a costly system call on a virtual machine); a short sleep does. */
    shmring__plat_sleep_ns(20000);
    return (s->n & 63) != 0 || t_now_ms() - s->since_ms <= s->stuck_ms;
}

int t_send_batch(shmring *r, uint64_t seq, size_t n, size_t (*draw_len)(uint64_t *, size_t),
                 uint64_t *rng, struct shmring_buf *iov, void *buf)
{
    const size_t max = shmring_max_msg(r);
    uint64_t rng_save = *rng;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        iov[i].len = draw_len(rng, max);
        iov[i].base = (char *)buf + off;
        t_msg_fill((char *)buf + off, iov[i].len, seq + i);
        off += (iov[i].len + 7) & ~(size_t)7;
    }
    int rc = shmring_send_batch(r, iov, n);
    *rng = rng_save; /* replay the lengths of what went */
    for (int i = 0; i < rc; i++) {
        draw_len(rng, max);
    }
    return rc;
}

static int check_fail(struct t_check *c, const char *fmt, ...) T_PRINTF(2, 3);
static int check_fail(struct t_check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    c->bad = 1;
    return 1;
}

int t_check_next(struct t_check *c, const void *msg, size_t len)
{
    size_t want = c->draw_len(&c->rng, c->max);
    if (len != want) {
        return check_fail(c, "message %llu: length %zu, want %zu", (unsigned long long)c->seq, len,
                          want);
    }
    if (!t_msg_check(msg, len, c->seq)) {
        uint64_t got = 0;
        memcpy(&got, msg, len < 8 ? len : 8);
        return check_fail(c, "message %llu (len %zu): bad content (its first bytes say seq %llu)",
                          (unsigned long long)c->seq, len, (unsigned long long)got);
    }
    c->seq++;
    return 0;
}

static int drain_one(void *ctx, const void *msg, size_t len)
{
    return t_check_next(ctx, msg, len);
}

int t_drain_check(struct t_check *c, shmring *r, size_t lim, struct t_spin *s)
{
    int rc = shmring_drain(r, drain_one, c, lim);
    if (rc < 0) {
        return check_fail(c, "drain at %llu: %s", (unsigned long long)c->seq, shmring_strerror(rc));
    }
    if (rc == 0 && !t_spin_once(s)) {
        return check_fail(c, "consumer stuck at %llu", (unsigned long long)c->seq);
    }
    if (rc > 0) {
        s->n = 0;
    }
    return c->bad;
}

/* After a receive: n is its result, msg the message. */
static int check_received(struct t_check *c, ssize_t n, const void *msg)
{
    if (n < 0) {
        return check_fail(c, "receive at %llu: %s", (unsigned long long)c->seq,
                          shmring_strerror((int)n));
    }
    return t_check_next(c, msg, (size_t)n);
}

int t_recv_check(struct t_check *c, shmring *r, void *buf, int64_t wait_ns, struct t_spin *s)
{
    ssize_t n;
    if (wait_ns > 0) {
        n = shmring_recv_wait(r, buf, c->max + 1, wait_ns);
    } else {
        while ((n = shmring_recv(r, buf, c->max + 1)) == -EAGAIN) {
            if (!t_spin_once(s)) {
                return check_fail(c, "consumer stuck at %llu", (unsigned long long)c->seq);
            }
        }
        s->n = 0;
    }
    return check_received(c, n, buf);
}

int t_peek_check(struct t_check *c, shmring *r, int64_t wait_ns, struct t_spin *s)
{
    const void *msg = NULL;
    ssize_t n;
    if (wait_ns > 0) {
        n = shmring_peek_wait(r, &msg, wait_ns);
    } else {
        while ((n = shmring_peek(r, &msg)) == -EAGAIN) {
            if (!t_spin_once(s)) {
                return check_fail(c, "consumer stuck at %llu", (unsigned long long)c->seq);
            }
        }
        s->n = 0;
    }
    if (n < 0) {
        return check_received(c, n, msg);
    }
    t_check_next(c, msg, (size_t)n);
    int rc = shmring_release(r);
    if (rc != 0) {
        return check_fail(c, "release: %s", shmring_strerror(rc));
    }
    return c->bad;
}
