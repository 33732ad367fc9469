/* SPDX-License-Identifier: MIT */
/* shmring bench [--size BYTES] [--seconds N] [--ring SIZE]: a quick cross-process comparison
 * of shmring and a pipe on this machine. Four runs, each in a forked child: streaming
 * throughput and round-trip latency, over a ring and over a pipe. Every message carries its
 * sequence number, which the receiving side checks. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static const struct cli_cmd cmd = {
    "bench",
    "Usage: shmring bench [--size BYTES] [--seconds N] [--ring SIZE]\n"
    "\n"
    "Measures, between two processes of this machine, streaming throughput and round-trip\n"
    "latency over a shmring ring and over a pipe, and prints a table. Every message carries a\n"
    "sequence number that the receiver checks. Shows a progress line when stderr is a terminal.\n"
    "\n",
    "\n"
    "By default the two processes run pinned to two CPUs, as latency benchmarks usually are:\n"
    "two processes that share one CPU make every spin-then-sleep wait expensive.\n"
    "\n"
    "Exit codes: 0 done, 1 bad arguments, 8 a run failed (a sequence error, a child died).\n",
    21};

#define BATCH       256          /* messages between looks at the clock */
#define MAX_SAMPLES (1u << 21)   /* round trips whose time is kept for percentiles */
#define STUCK_NS    1000000000LL /* a wait this long makes the parent check on its child */
#define MAX_MSG     (16u << 20)

struct cfg {
    size_t len;
    int64_t run_ns;
    uint64_t ring_size;
    char name[64]; /* ring name prefix, unique to this process */
    int progress;  /* stderr is a terminal */
    int cpu[2];    /* parent's and child's CPU, or -1: not pinned */
};

static void pin(int cpu)
{
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set); /* best effort: unpinned still measures */
    }
}

/* The first two CPUs we may run on, or -1s when there are fewer than two. */
static void pick_cpus(int cpu[2])
{
    cpu[0] = cpu[1] = -1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        return;
    }
    int found = 0;
    for (int i = 0; i < CPU_SETSIZE && found < 2; i++) {
        if (CPU_ISSET(i, &set)) {
            cpu[found++] = i;
        }
    }
    if (found < 2) {
        cpu[0] = cpu[1] = -1;
    }
}

/* What a child reports back through a pipe when it ends. */
struct child_result {
    uint64_t msgs; /* messages received (streaming) or echoed */
    uint64_t bad;  /* sequence errors */
    int err;       /* 0 or a negative errno value that ended it abnormally */
};

struct run {
    const char *label;
    int ok;
    uint64_t msgs;        /* streamed messages */
    double rate;          /* messages per second */
    uint64_t rtts;        /* round trips */
    double p50, p99, max; /* nanoseconds */
};

/* ---- messages ---------------------------------------------------------------------------- */

/* The sequence number goes in the first min(len, 8) bytes, little-endian. */
static void seq_put(unsigned char *m, size_t len, uint64_t seq)
{
    for (size_t i = 0; i < len && i < 8; i++) {
        m[i] = (unsigned char)(seq >> (8 * i));
    }
}

static int seq_ok(const unsigned char *m, size_t len, size_t want_len, uint64_t seq)
{
    if (len != want_len) {
        return 0;
    }
    for (size_t i = 0; i < len && i < 8; i++) {
        if (m[i] != (unsigned char)(seq >> (8 * i))) {
            return 0;
        }
    }
    return 1;
}

/* ---- children and progress ----------------------------------------------------------------- */

typedef struct child_result (*child_fn)(const struct cfg *c, void *arg);

/* Forks; the child runs fn and writes its result to the pipe *res. */
static pid_t spawn(const struct cfg *c, child_fn fn, void *arg, int *res)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    fflush(NULL); /* the child must not inherit unflushed output */
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        pin(c->cpu[1]);
        struct child_result r = fn(c, arg);
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r && r.bad == 0 && r.err == 0 ? 0 : 3);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    *res = fds[0];
    return pid;
}

/* Waits for the child and reads its result. 0 if it ended well. */
static int collect(pid_t pid, int res, struct child_result *out)
{
    memset(out, 0, sizeof *out);
    ssize_t n;
    do {
        n = read(res, out, sizeof *out);
    } while (n < 0 && errno == EINTR && !cli_stop_signal);
    close(res);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (n != (ssize_t)sizeof *out) {
        out->err = -ECHILD;
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && out->err == 0 && out->bad == 0 ? 0 : -1;
}

/* 1 if the child has already ended (so a stuck wait will never finish). */
static int child_gone(pid_t pid)
{
    int st;
    return waitpid(pid, &st, WNOHANG) == pid;
}

static void progress(const struct cfg *c, const char *what, int64_t t0, int64_t now, uint64_t n)
{
    if (!c->progress) {
        return;
    }
    double s = (double)(now - t0) / 1e9;
    fprintf(stderr, "\r\033[K  %-24s %5.1f s  %12.0f /s", what, s, s > 0 ? (double)n / s : 0);
}

static void progress_done(const struct cfg *c)
{
    if (c->progress) {
        fputs("\r\033[K", stderr);
    }
}

/* ---- ring: streaming --------------------------------------------------------------------- */

struct check_ctx {
    size_t len;
    uint64_t next, bad;
};

static int check_msg(void *ctx, const void *msg, size_t len)
{
    struct check_ctx *k = ctx;
    k->bad += !seq_ok(msg, len, k->len, k->next);
    k->next++;
    return 0;
}

static struct child_result ring_sink(const struct cfg *c, void *arg)
{
    struct child_result res = {0, 0, 0};
    shmring *r;
    struct shmring_opts o = {0};
    if ((res.err = shmring_open(arg, SHMRING_CONSUMER, &o, &r)) < 0) {
        return res;
    }
    struct check_ctx k = {c->len, 0, 0};
    for (;;) {
        int n = shmring_drain(r, check_msg, &k, 0); /* many messages per publish */
        if (n > 0) {
            continue;
        }
        const void *m;
        ssize_t len = n < 0 ? n : shmring_peek_wait(r, &m, -1);
        if (len < 0) {
            res.err = len == -EPIPE || len == -EINTR ? 0 : (int)len; /* -EPIPE: the end */
            break;
        }
        check_msg(&k, m, (size_t)len);
        shmring_release(r);
    }
    res.msgs = k.next;
    res.bad = k.bad;
    shmring_close(r);
    return res;
}

static int ring_stream(const struct cfg *c, struct run *out)
{
    char name[96];
    snprintf(name, sizeof name, "%s-stream", c->name);
    shmring *p;
    struct shmring_opts o = {
        .size = (size_t)c->ring_size, .mode = 0600, .flags = SHMRING_CREATE | SHMRING_EXCL};
    int err = shmring_open(name, SHMRING_PRODUCER, &o, &p);
    if (err < 0) {
        cli_fail("bench: ring", err);
        return -1;
    }
    int res;
    pid_t pid = spawn(c, ring_sink, name, &res);
    int fork_err = -errno;
    if (pid < 0) {
        shmring_close(p);
        cli_fail("bench: fork", fork_err);
        return -1;
    }
    unsigned char *msg = calloc(1, c->len);
    uint64_t seq = 0;
    int64_t t0 = cli_now_ns(), now = t0, shown = t0;
    while (msg != NULL && err == 0 && now - t0 < c->run_ns && !cli_stop_signal) {
        for (int i = 0; i < BATCH && err == 0; i++) {
            seq_put(msg, c->len, seq);
            while ((err = shmring_send_wait(p, msg, c->len, STUCK_NS)) == -ETIMEDOUT) {
                if (child_gone(pid) || cli_stop_signal) {
                    break;
                }
            }
            seq += err == 0;
        }
        now = cli_now_ns();
        if (now - shown > 100000000) {
            progress(c, "shmring throughput", t0, now, seq);
            shown = now;
        }
    }
    shmring_close(p); /* the consumer drains the rest, then sees -EPIPE */
    struct child_result cr;
    int ok = collect(pid, res, &cr) == 0 && err == 0 && cr.msgs == seq && msg != NULL;
    int64_t t1 = cli_now_ns();
    progress_done(c);
    free(msg);
    if (!ok && !cli_stop_signal) {
        cli_msg("bench: shmring throughput run failed: sent %llu, received %llu, %llu out of "
                "sequence (%s)",
                (unsigned long long)seq, (unsigned long long)cr.msgs, (unsigned long long)cr.bad,
                cli_strerror(err ? err : cr.err));
    }
    out->msgs = seq;
    out->rate = (double)seq / ((double)(t1 - t0) / 1e9);
    return ok ? 0 : -1;
}

/* ---- ring: round trips ------------------------------------------------------------------- */

static struct child_result ring_echo(const struct cfg *c, void *arg)
{
    (void)c;
    struct child_result res = {0, 0, 0};
    const char *base = arg;
    char ping_name[96], pong_name[96];
    snprintf(ping_name, sizeof ping_name, "%s-ping", base);
    snprintf(pong_name, sizeof pong_name, "%s-pong", base);
    shmring *in, *back;
    struct shmring_opts o = {0};
    if ((res.err = shmring_open(ping_name, SHMRING_CONSUMER, &o, &in)) < 0) {
        return res;
    }
    if ((res.err = shmring_open(pong_name, SHMRING_PRODUCER, &o, &back)) < 0) {
        shmring_close(in);
        return res;
    }
    for (;;) {
        const void *m;
        void *slot;
        ssize_t n = shmring_peek_wait(in, &m, -1);
        int err = n < 0 ? (int)n : shmring_reserve_wait(back, (size_t)n, &slot, -1);
        if (err < 0) {
            res.err = err == -EPIPE || err == -EINTR ? 0 : err;
            break;
        }
        memcpy(slot, m, (size_t)n);
        shmring_commit(back, (size_t)n);
        shmring_release(in);
        res.msgs++;
    }
    shmring_close(in);
    shmring_close(back);
    return res;
}

struct samples {
    uint32_t *v;
    size_t n;
};

static void sample_add(struct samples *s, int64_t ns)
{
    if (s->v != NULL && s->n < MAX_SAMPLES) {
        s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    }
}

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void sample_summary(struct samples *s, struct run *out)
{
    if (s->n == 0) {
        return;
    }
    qsort(s->v, s->n, sizeof s->v[0], by_value);
    const size_t mid = s->n / 2; /* an index: integer division is meant */
    out->p50 = s->v[mid];
    out->p99 = s->v[(size_t)((double)(s->n - 1) * 0.99)];
    out->max = s->v[s->n - 1];
}

static int ring_rtt(const struct cfg *c, struct run *out)
{
    char ping_name[96], pong_name[96];
    snprintf(ping_name, sizeof ping_name, "%s-ping", c->name);
    snprintf(pong_name, sizeof pong_name, "%s-pong", c->name);
    shmring *ping, *pong;
    struct shmring_opts o = {
        .size = (size_t)c->ring_size, .mode = 0600, .flags = SHMRING_CREATE | SHMRING_EXCL};
    int err = shmring_open(ping_name, SHMRING_PRODUCER, &o, &ping);
    if (err < 0) {
        cli_fail("bench: ring", err);
        return -1;
    }
    if ((err = shmring_open(pong_name, SHMRING_CONSUMER, &o, &pong)) < 0) {
        shmring_close(ping);
        cli_fail("bench: ring", err);
        return -1;
    }
    int res;
    pid_t pid = spawn(c, ring_echo, (void *)c->name, &res);
    int fork_err = -errno;
    if (pid < 0) {
        shmring_close(ping);
        shmring_close(pong);
        cli_fail("bench: fork", fork_err);
        return -1;
    }
    struct samples s = {malloc(MAX_SAMPLES * sizeof(uint32_t)), 0};
    unsigned char *msg = calloc(1, c->len);
    uint64_t seq = 0, bad = 0;
    int64_t t0 = cli_now_ns(), now = t0, shown = t0;
    while (msg != NULL && err == 0 && now - t0 < c->run_ns && !cli_stop_signal) {
        for (int i = 0; i < BATCH / 4 && err == 0; i++) {
            int64_t a = cli_now_ns();
            seq_put(msg, c->len, seq);
            if ((err = shmring_send_wait(ping, msg, c->len, -1)) < 0) {
                break;
            }
            const void *m;
            ssize_t n;
            while ((n = shmring_peek_wait(pong, &m, STUCK_NS)) == -ETIMEDOUT) {
                if (child_gone(pid) || cli_stop_signal) {
                    break;
                }
            }
            if (n < 0) {
                err = (int)n;
                break;
            }
            bad += !seq_ok(m, (size_t)n, c->len, seq);
            shmring_release(pong);
            seq++;
            sample_add(&s, cli_now_ns() - a);
        }
        now = cli_now_ns();
        if (now - shown > 100000000) {
            progress(c, "shmring round trips", t0, now, seq);
            shown = now;
        }
    }
    shmring_close(ping); /* the echo sees -EPIPE and ends */
    struct child_result cr;
    int ok = collect(pid, res, &cr) == 0 && err == 0 && bad == 0 && msg != NULL;
    shmring_close(pong);
    progress_done(c);
    if (!ok && !cli_stop_signal) {
        cli_msg("bench: shmring round-trip run failed after %llu round trips, %llu out of "
                "sequence (%s)",
                (unsigned long long)seq, (unsigned long long)bad, cli_strerror(err ? err : cr.err));
    }
    out->rtts = seq;
    sample_summary(&s, out);
    free(s.v);
    free(msg);
    return ok ? 0 : -1;
}

/* ---- pipe: the same two runs --------------------------------------------------------------- */

static int read_all(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR && !cli_stop_signal) {
            continue;
        }
        if (r <= 0) {
            return r == 0 && got == 0 ? 0 : -1; /* 0: clean end before a message */
        }
        got += (size_t)r;
    }
    return 1;
}

static int write_all(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, (const char *)buf + put, n - put);
        if (r < 0 && errno == EINTR && !cli_stop_signal) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        put += (size_t)r;
    }
    return 0;
}

struct pipe_ends {
    int in, out;   /* the child reads in and (round trips) writes out */
    int theirs[2]; /* the parent's ends: the child closes its copies, or never sees EOF */
};

static void close_theirs(const struct pipe_ends *e)
{
    for (int i = 0; i < 2; i++) {
        if (e->theirs[i] >= 0) {
            close(e->theirs[i]);
        }
    }
}

static struct child_result pipe_sink(const struct cfg *c, void *arg)
{
    struct pipe_ends *e = arg;
    struct child_result res = {0, 0, 0};
    close_theirs(e);
    unsigned char *buf = malloc(c->len);
    struct check_ctx k = {c->len, 0, 0};
    int r;
    while (buf != NULL && (r = read_all(e->in, buf, c->len)) == 1) {
        check_msg(&k, buf, c->len);
    }
    res.err = buf == NULL ? -ENOMEM : r < 0 ? -EIO : 0;
    res.msgs = k.next;
    res.bad = k.bad;
    free(buf);
    return res;
}

static struct child_result pipe_echo(const struct cfg *c, void *arg)
{
    struct pipe_ends *e = arg;
    struct child_result res = {0, 0, 0};
    close_theirs(e);
    unsigned char *buf = malloc(c->len);
    int r;
    while (buf != NULL && (r = read_all(e->in, buf, c->len)) == 1) {
        if (write_all(e->out, buf, c->len) < 0) {
            r = -1;
            break;
        }
        res.msgs++;
    }
    res.err = buf == NULL ? -ENOMEM : r < 0 ? -EIO : 0;
    free(buf);
    return res;
}

static int pipe_stream(const struct cfg *c, struct run *out)
{
    int fds[2];
    if (pipe(fds) != 0) {
        cli_fail("bench: pipe", -errno);
        return -1;
    }
    struct pipe_ends e = {fds[0], -1, {fds[1], -1}};
    int res;
    pid_t pid = spawn(c, pipe_sink, &e, &res);
    int fork_err = -errno;
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        cli_fail("bench: fork", fork_err);
        return -1;
    }
    unsigned char *msg = calloc(1, c->len);
    uint64_t seq = 0;
    int err = msg == NULL ? -1 : 0;
    int64_t t0 = cli_now_ns(), now = t0, shown = t0;
    while (err == 0 && now - t0 < c->run_ns && !cli_stop_signal) {
        for (int i = 0; i < BATCH && err == 0; i++) {
            seq_put(msg, c->len, seq);
            err = write_all(fds[1], msg, c->len);
            seq += err == 0;
        }
        now = cli_now_ns();
        if (now - shown > 100000000) {
            progress(c, "pipe throughput", t0, now, seq);
            shown = now;
        }
    }
    close(fds[1]); /* end of input for the child */
    struct child_result cr;
    int ok = collect(pid, res, &cr) == 0 && err == 0 && cr.msgs == seq;
    int64_t t1 = cli_now_ns();
    progress_done(c);
    free(msg);
    if (!ok && !cli_stop_signal) {
        cli_msg("bench: pipe throughput run failed: sent %llu, received %llu, %llu out of "
                "sequence",
                (unsigned long long)seq, (unsigned long long)cr.msgs, (unsigned long long)cr.bad);
    }
    out->msgs = seq;
    out->rate = (double)seq / ((double)(t1 - t0) / 1e9);
    return ok ? 0 : -1;
}

static int pipe_rtt(const struct cfg *c, struct run *out)
{
    int there[2], back[2];
    if (pipe(there) != 0) {
        cli_fail("bench: pipe", -errno);
        return -1;
    }
    if (pipe(back) != 0) {
        close(there[0]);
        close(there[1]);
        cli_fail("bench: pipe", -errno);
        return -1;
    }
    struct pipe_ends e = {there[0], back[1], {there[1], back[0]}};
    int res;
    pid_t pid = spawn(c, pipe_echo, &e, &res);
    int fork_err = -errno;
    close(there[0]);
    close(back[1]);
    if (pid < 0) {
        close(there[1]);
        close(back[0]);
        cli_fail("bench: fork", fork_err);
        return -1;
    }
    struct samples s = {malloc(MAX_SAMPLES * sizeof(uint32_t)), 0};
    unsigned char *msg = calloc(1, c->len), *in = malloc(c->len);
    uint64_t seq = 0, bad = 0;
    int err = msg == NULL || in == NULL ? -1 : 0;
    int64_t t0 = cli_now_ns(), now = t0, shown = t0;
    while (err == 0 && now - t0 < c->run_ns && !cli_stop_signal) {
        for (int i = 0; i < BATCH / 4 && err == 0; i++) {
            int64_t a = cli_now_ns();
            seq_put(msg, c->len, seq);
            if (write_all(there[1], msg, c->len) < 0 || read_all(back[0], in, c->len) != 1) {
                err = -1;
                break;
            }
            bad += !seq_ok(in, c->len, c->len, seq);
            seq++;
            sample_add(&s, cli_now_ns() - a);
        }
        now = cli_now_ns();
        if (now - shown > 100000000) {
            progress(c, "pipe round trips", t0, now, seq);
            shown = now;
        }
    }
    close(there[1]);
    struct child_result cr;
    int ok = collect(pid, res, &cr) == 0 && err == 0 && bad == 0;
    close(back[0]);
    progress_done(c);
    if (!ok && !cli_stop_signal) {
        cli_msg("bench: pipe round-trip run failed after %llu round trips, %llu out of sequence",
                (unsigned long long)seq, (unsigned long long)bad);
    }
    out->rtts = seq;
    sample_summary(&s, out);
    free(s.v);
    free(msg);
    free(in);
    return ok ? 0 : -1;
}

/* ---- report ------------------------------------------------------------------------------ */

static const char *fmt_ns(double ns, char buf[32])
{
    if (ns <= 0) {
        snprintf(buf, 32, "-");
    } else if (ns < 1e3) {
        snprintf(buf, 32, "%.0f ns", ns);
    } else if (ns < 1e6) {
        snprintf(buf, 32, "%.1f us", ns / 1e3);
    } else {
        snprintf(buf, 32, "%.2f ms", ns / 1e6);
    }
    return buf;
}

static void report(const struct cfg *c, const struct run *runs, int n)
{
    char a[32], b[32], d[32];
    printf("%-8s %14s %10s %10s %10s %10s\n", "", "messages/s", "MB/s", "rtt p50", "rtt p99",
           "rtt max");
    for (int i = 0; i < n; i++) {
        const struct run *r = &runs[i];
        printf("%-8s %14.0f %10.1f %10s %10s %10s\n", r->label, r->rate,
               r->rate * (double)c->len / 1e6, fmt_ns(r->p50, a), fmt_ns(r->p99, b),
               fmt_ns(r->max, d));
    }
    printf("checked: ");
    for (int i = 0; i < n; i++) {
        printf("%s%s %llu streamed + %llu round trips", i ? "; " : "", runs[i].label,
               (unsigned long long)runs[i].msgs, (unsigned long long)runs[i].rtts);
    }
    printf(", every sequence number in order\n");
    if (n == 2 && runs[1].rate > 0 && runs[0].p50 > 0 && runs[1].p50 > 0) {
        double lat = runs[1].p50 / runs[0].p50;
        printf("shmring vs pipe: %.1fx the throughput; median round trip %.1fx %s\n",
               runs[0].rate / runs[1].rate, lat >= 1 ? lat : 1 / lat,
               lat >= 1 ? "lower" : "higher");
    }
}

int cmd_bench(int argc, char **argv)
{
    const char *size_s = NULL, *seconds_s = NULL, *ring_s = NULL;
    int npos, no_pin = 0;
    const struct cli_opt opts[] = {
        {"size", 's', &size_s, NULL, "BYTES",
         "message size, 1 to 16M (default 64; K/M suffixes allowed)"},
        {"seconds", 'd', &seconds_s, NULL, "N",
         "length of each of the four runs (default 1; fractions allowed)"},
        {"ring", 'r', &ring_s, NULL, "SIZE",
         "mapping size of the rings (default: 1M, or larger to fit the message)"},
        {"no-pin", 0, NULL, &no_pin, NULL, "do not pin the two processes to two different CPUs"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    int r = cli_start(argc, argv, &cmd, opts, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    if (npos != 0) {
        return cli_usage_error("bench", "takes no arguments");
    }
    struct cfg c = {64, 1000000000, 0, "", isatty(STDERR_FILENO), {-1, -1}};
    uint64_t v;
    if (size_s != NULL) {
        if (cli_parse_size(size_s, &v) < 0 || v == 0 || v > MAX_MSG) {
            return cli_usage_error("bench", "bad message size '%s': need 1 to 16M bytes", size_s);
        }
        c.len = (size_t)v;
    }
    if (seconds_s != NULL && (cli_parse_seconds(seconds_s, &c.run_ns) < 0 || c.run_ns <= 0)) {
        return cli_usage_error("bench", "bad duration '%s': need seconds > 0, e.g. 1 or 0.2",
                               seconds_s);
    }
    /* The smallest mapping whose largest message fits c.len, and at least 1M by default so that
     * many messages are in flight. */
    uint64_t page = shmring_page_size();
    uint64_t need = shmring_size_for_msg(c.len);
    c.ring_size = need > (1u << 20) ? need : (1u << 20);
    if (ring_s != NULL) {
        if (cli_parse_size(ring_s, &v) < 0 || v % page != 0 || v > SHMRING_MAX_SIZE) {
            return cli_usage_error("bench",
                                   "bad ring size '%s': need a multiple of %llu bytes "
                                   "up to 4G",
                                   ring_s, (unsigned long long)page);
        }
        if (v < need) {
            return cli_usage_error("bench",
                                   "ring size '%s' is too small for %zu-byte messages "
                                   "(at least %llu bytes)",
                                   ring_s, c.len, (unsigned long long)need);
        }
        c.ring_size = v;
    }
    snprintf(c.name, sizeof c.name, "shmring-bench-%d", (int)getpid());
    cli_catch_signals();
    if (!no_pin) {
        pick_cpus(c.cpu);
        pin(c.cpu[0]);
    }
    char rs[32], pinned[64] = "processes not pinned";
    if (c.cpu[0] >= 0) {
        snprintf(pinned, sizeof pinned, "processes on CPUs %d and %d", c.cpu[0], c.cpu[1]);
    }
    printf("shmring bench: %zu-byte messages, %.2g s per run, %s rings, %s\n", c.len,
           (double)c.run_ns / 1e9, cli_fmt_size(c.ring_size, rs), pinned);
    fflush(stdout);
    struct run runs[2] = {{"shmring", 0, 0, 0, 0, 0, 0, 0}, {"pipe", 0, 0, 0, 0, 0, 0, 0}};
    int failed = ring_stream(&c, &runs[0]) < 0;
    failed = failed || cli_stop_signal || ring_rtt(&c, &runs[0]) < 0;
    failed = failed || cli_stop_signal || pipe_stream(&c, &runs[1]) < 0;
    failed = failed || cli_stop_signal || pipe_rtt(&c, &runs[1]) < 0;
    if (cli_stop_signal) {
        return cli_signal_exit();
    }
    if (failed) {
        return CLI_OTHER;
    }
    report(&c, runs, 2);
    return cli_flush_stdout("bench");
}
