/* SPDX-License-Identifier: MIT */
/* The harness every measurement goes through: one forked peer process per run, the two
 * processes pinned to different CPUs, warm-up rounds that calibrate the round length, then one
 * measured round. The processes talk through a small shared control page; the data goes only
 * through the transport under test. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

volatile sig_atomic_t bench_stop;
static int share_cpu; /* this run's two processes share one CPU: the harness's waits yield */

static inline void cpu_relax(void)
{
    if (share_cpu) {
        sched_yield(); /* a busy wait would hold the CPU the other process needs */
        return;
    }
#ifdef HAVE_TSC
    _mm_pause();
#endif
}

#define ROUND_TIMEOUT_S 20     /* a round that takes longer than this has hung */
#define PROBE_ROUNDS    1000   /* cache-line round trips of the placement probe */
#define SLEEP_GAP_NS    300000 /* idle time before each sleeping round trip (see below) */

static const struct {
    const char *name;
    const struct bench_ops *ops;
} transports[BENCH_NTRANSPORTS] = {
    [BENCH_SHMRING_COPY] = {"shmring-copy", &bench_shmring_copy_ops},
    [BENCH_SHMRING_ZC] = {"shmring-zerocopy", &bench_shmring_zc_ops},
    [BENCH_SHMRING_BATCH] = {"shmring-batch", &bench_shmring_batch_ops},
    [BENCH_FLOOR] = {"floor", &bench_floor_ops},
    [BENCH_CACHELINE] = {"cacheline", &bench_cacheline_ops},
    [BENCH_PIPE] = {"pipe", &bench_pipe_ops},
    [BENCH_SOCKET] = {"socketpair", &bench_socket_ops},
    [BENCH_MQ] = {"posix-mq", &bench_mq_ops},
    [BENCH_BOOST] = {"boost-mq", &bench_boost_ops},
};

const char *bench_transport_name(int transport)
{
    return transport >= 0 && transport < BENCH_NTRANSPORTS ? transports[transport].name : "?";
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- messages ------------------------------------------------------------------------------ */

void bench_stamp(unsigned char *msg, size_t size, uint64_t seq)
{
    memcpy(msg, &seq, 8);
    if (size >= 16) {
        uint64_t inv = ~seq;
        memcpy(msg + size - 8, &inv, 8);
    }
}

int bench_check(const unsigned char *msg, size_t size, uint64_t seq)
{
    uint64_t head, tail = ~seq;
    memcpy(&head, msg, 8);
    if (size >= 16) {
        memcpy(&tail, msg + size - 8, 8);
    }
    return head == seq && tail == ~seq;
}

/* xor of the 8-byte words of msg[8 .. size - 8), 64 bytes a step so that the compiler keeps it
 * in vector registers: reading the body costs about what copying it would. */
static uint64_t body_xor(const unsigned char *msg, size_t size)
{
    typedef uint64_t v2 __attribute__((vector_size(16)));
    v2 a = {0, 0}, b = {0, 0}, c = {0, 0}, d = {0, 0};
    size_t i = 8, end = size >= 16 ? size - 8 : 8;
    for (; i + 64 <= end; i += 64) {
        v2 w, x, y, z;
        memcpy(&w, msg + i, 16);
        memcpy(&x, msg + i + 16, 16);
        memcpy(&y, msg + i + 32, 16);
        memcpy(&z, msg + i + 48, 16);
        a ^= w;
        b ^= x;
        c ^= y;
        d ^= z;
    }
    a ^= b ^ c ^ d;
    uint64_t r = a[0] ^ a[1];
    for (; i + 8 <= end; i += 8) {
        uint64_t w;
        memcpy(&w, msg + i, 8);
        r ^= w;
    }
    return r;
}

int bench_check_all(const struct bench_ep *e, const unsigned char *msg, uint64_t seq)
{
    return bench_check(msg, e->c.size, seq) && body_xor(msg, e->c.size) == e->body_xor;
}

int bench_fail(struct bench_ep *e, int err, const char *what)
{
    if (e->err[0] == '\0') {
        snprintf(e->err, sizeof e->err, "%s: %s", what, strerror(-err));
    }
    return err;
}

int bench_bad(struct bench_ep *e, const unsigned char *msg, size_t len, uint64_t seq)
{
    uint64_t got = 0;
    memcpy(&got, msg, len < 8 ? len : 8);
    snprintf(e->err, sizeof e->err,
             "wrong message: expected seq %llu (%zu bytes), got seq %llu (%zu bytes)",
             (unsigned long long)seq, e->c.size, (unsigned long long)got, len);
    return -EBADMSG;
}

/* ---- applicability ------------------------------------------------------------------------- */

/* Mirrors shmring's documented limit: the largest message that fits an empty ring at any
 * position is half the data area minus the record header. */
static size_t shmring_max_for(size_t map)
{
    size_t half = ((map - 512) / 2) & ~(size_t)7;
    return half - 8;
}

int bench_not_applicable(const struct bench_case *c, int latency, char *why, size_t cap)
{
    why[0] = '\0';
    int t = c->transport;
    if (t == BENCH_CACHELINE && (!latency || c->size != 8)) {
        snprintf(why, cap, "N/A: the cache-line ping-pong carries one 8-byte word");
        return 1;
    }
    if (latency && (t == BENCH_SHMRING_ZC || t == BENCH_SHMRING_BATCH)) {
        snprintf(why, cap, "N/A: round trips use the copy API");
        return 1;
    }
    if (latency && c->sleeping && (t == BENCH_FLOOR || t == BENCH_CACHELINE)) {
        snprintf(why, cap, "N/A: the floor has no blocking calls");
        return 1;
    }
    if ((t == BENCH_SHMRING_COPY || t == BENCH_SHMRING_ZC || t == BENCH_SHMRING_BATCH) &&
        c->size > shmring_max_for(c->map)) {
        snprintf(why, cap, "N/A: %zu B > largest message %zu B of a %zu B mapping", c->size,
                 shmring_max_for(c->map), c->map);
        return 1;
    }
    if (t == BENCH_FLOOR && c->size > c->map - 256) {
        snprintf(why, cap, "N/A: no %zu B slot fits a %zu B mapping", c->size, c->map);
        return 1;
    }
    return 0;
}

/* ---- pinning ------------------------------------------------------------------------------- */

static int cpu_parent = -1, cpu_child = -1;
static char pin_note[160];

static void pick_cpus(void)
{
    if (pin_note[0] != '\0') {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        snprintf(pin_note, sizeof pin_note, "not pinned: sched_getaffinity: %s", strerror(errno));
        return;
    }
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, &set)) {
            if (cpu_parent < 0) {
                cpu_parent = i;
            } else if (cpu_child < 0) {
                cpu_child = i;
            }
        }
    }
    if (cpu_child < 0) {
        cpu_parent = -1;
        snprintf(pin_note, sizeof pin_note, "not pinned: only %d CPU available", CPU_COUNT(&set));
        return;
    }
    snprintf(pin_note, sizeof pin_note, "producer/initiator on cpu %d, consumer/echo on cpu %d",
             cpu_parent, cpu_child);
}

/* 0, or -errno when the kernel refused: the note then says so. */
static int pin_to(int cpu)
{
    if (cpu < 0) {
        return 0;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        int err = errno;
        snprintf(pin_note, sizeof pin_note, "not pinned: sched_setaffinity(cpu %d): %s", cpu,
                 strerror(err));
        cpu_parent = cpu_child = -1;
        return -err;
    }
    return 0;
}

const char *bench_pinning(void)
{
    pick_cpus();
    return pin_note;
}

/* ---- timing ------------------------------------------------------------------------------- */

/* Latency samples are timestamp differences: the TSC where there is one (about a third of the
 * cost of clock_gettime in a VM), converted with a rate measured over the same round. */
static inline uint64_t ticks(void)
{
#ifdef HAVE_TSC
    return __rdtsc();
#else
    return (uint64_t)now_ns();
#endif
}

double bench_timer_overhead_ns(void)
{
    /* The least of 50 batches: a batch the scheduler interrupted says nothing about the timer. */
    double best = 1e9;
    uint64_t x = 0;
    for (int b = 0; b < 50; b++) {
        int64_t t0 = now_ns();
        for (int i = 0; i < 1000; i++) {
            x += ticks();
        }
        double per = (double)(now_ns() - t0) / 1000;
        best = per < best ? per : best;
    }
    __asm__ __volatile__("" : : "r"(x));
    return best;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* ---- the control page --------------------------------------------------------------------- */

enum { OP_CONSUME = 1, OP_ECHO = 2, OP_QUIT = 3 };
enum { CHILD_STARTING = 0, CHILD_READY = 1, CHILD_FAILED = 2 };

struct ctl {
    _Atomic uint32_t child_state;
    _Atomic uint64_t cmd;  /* bumped by the parent for each command */
    _Atomic uint64_t done; /* set to cmd by the child when the command has finished */
    int op;
    uint64_t seq, n;
    int64_t t_end_ns; /* when the child received the last message */
    long nivcsw;      /* the child's involuntary context switches during the command */
    uint64_t polls;   /* the child's empty polls during the command */
    int result;
    char err[200];
    _Alignas(128) _Atomic uint64_t probe; /* the cache-line probe's word, on its own lines */
    char pad[120];
};

/* Times this process was preempted (its time slice ended while it could still run). */
static long involuntary_switches(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_nivcsw : 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    bench_stop = 1;
}

static double ticks_per_ns(void)
{
#ifdef HAVE_TSC
    static double cached;
    if (cached == 0) {
        int64_t t0 = now_ns();
        uint64_t a = ticks();
        struct timespec d = {0, 20000000};
        nanosleep(&d, NULL);
        int64_t t1 = now_ns();
        uint64_t b = ticks();
        cached = (double)(b - a) / (double)(t1 - t0);
    }
    return cached;
#else
    return 1.0;
#endif
}

/* How far apart the two CPUs are right now: the median round trip of one cache line bounced
 * PROBE_ROUNDS times through the control page. In a VM the host moves virtual CPUs between
 * cores and caches, and this number (80 to 460 ns on the machine of the README) moves with
 * it; every result carries the probe taken just before it. */
static double probe_line_rtt(struct ctl *k)
{
    uint64_t d[PROBE_ROUNDS];
    for (uint64_t i = 0; i < PROBE_ROUNDS; i++) {
        uint64_t v = 2 * i + 1;
        uint64_t a = ticks();
        atomic_store_explicit(&k->probe, v, memory_order_release);
        while (atomic_load_explicit(&k->probe, memory_order_acquire) != v + 1) {
        }
        d[i] = ticks() - a;
    }
    qsort(d, PROBE_ROUNDS, sizeof d[0], cmp_u64);
    return (double)d[PROBE_ROUNDS / 2] / ticks_per_ns();
}

static void child_main(const struct bench_ops *ops, struct bench_ep *e, struct ctl *k)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pin_to(e->c.one_cpu ? cpu_parent : cpu_child);
    if (ops->open != NULL) {
        int err = ops->open(e, 1);
        if (err < 0) {
            snprintf(k->err, sizeof k->err, "%s", e->err);
            atomic_store_explicit(&k->child_state, CHILD_FAILED, memory_order_release);
            _exit(1);
        }
    }
    atomic_store_explicit(&k->child_state, CHILD_READY, memory_order_release);
    /* The probe first (see probe_line_rtt): answer each odd value with the next even one. One
     * CPU has no line to bounce: no probe. */
    for (uint64_t v = 1; !e->c.one_cpu && v < 2 * PROBE_ROUNDS; v += 2) {
        while (atomic_load_explicit(&k->probe, memory_order_acquire) != v) {
        }
        atomic_store_explicit(&k->probe, v + 1, memory_order_release);
    }
    uint64_t seen = 0;
    for (;;) {
        uint64_t cmd;
        /* Pairs with the parent's release store of cmd: op, seq and n are visible. */
        while ((cmd = atomic_load_explicit(&k->cmd, memory_order_acquire)) == seen) {
            cpu_relax();
        }
        seen = cmd;
        if (k->op == OP_QUIT) {
            break;
        }
        long cs0 = involuntary_switches();
        e->polls = 0;
        int r = k->op == OP_CONSUME ? ops->consume(e, k->seq, k->n) : ops->echo(e, k->seq, k->n);
        k->t_end_ns = now_ns();
        k->nivcsw = involuntary_switches() - cs0;
        k->polls = e->polls;
        k->result = r;
        if (r < 0) {
            snprintf(k->err, sizeof k->err, "%s", e->err);
        }
        atomic_store_explicit(&k->done, cmd, memory_order_release);
        if (r < 0) {
            break;
        }
    }
    ops->close(e, 1);
    _exit(0);
}

struct run {
    const struct bench_ops *ops;
    struct bench_ep *e;
    struct ctl *k;
    pid_t pid;
    uint64_t seq; /* next sequence number */
    uint64_t *samples;
    size_t nsamples;
    long preempted; /* both processes' involuntary context switches in the last round */
};

/* Waits until the child has finished the current command. */
static int wait_child(struct run *r, uint64_t cmd)
{
    uint64_t spins = 0;
    while (atomic_load_explicit(&r->k->done, memory_order_acquire) != cmd) {
        if (bench_stop) {
            return bench_fail(r->e, -ETIMEDOUT, "waiting for the peer process");
        }
        if ((++spins & 0xfffff) == 0 && waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = -1;
            return bench_fail(r->e, -ECHILD, "peer process died");
        }
        cpu_relax();
    }
    if (r->k->result < 0) {
        snprintf(r->e->err, sizeof r->e->err, "peer: %.180s", r->k->err);
        return r->k->result;
    }
    return 0;
}

static uint64_t command(struct run *r, int op, uint64_t n)
{
    struct ctl *k = r->k;
    k->op = op;
    k->seq = r->seq;
    k->n = n;
    uint64_t cmd = atomic_load_explicit(&k->cmd, memory_order_relaxed) + 1;
    /* Pairs with the child's acquire load of cmd. */
    atomic_store_explicit(&k->cmd, cmd, memory_order_release);
    return cmd;
}

/* One throughput round: n messages, from the first send to the last message checked. */
static int round_tput(struct run *r, uint64_t n, double *secs)
{
    alarm(ROUND_TIMEOUT_S);
    uint64_t cmd = command(r, OP_CONSUME, n);
    long cs0 = involuntary_switches();
    r->e->polls = 0;
    int64_t t0 = now_ns();
    int err = r->ops->produce(r->e, r->seq, n);
    if (err == 0) {
        err = wait_child(r, cmd);
    }
    r->preempted = involuntary_switches() - cs0 + r->k->nivcsw;
    alarm(0);
    r->seq += n;
    *secs = (double)(r->k->t_end_ns - t0) / 1e9;
    return err;
}

/* One latency round: n round trips, each timed on its own. Sleeping rounds leave the peer idle
 * for SLEEP_GAP_NS before each round trip (longer than shmring's spin phase, far longer than
 * a wake-up), so that both sides are asleep in their blocking call when the message comes. */
static int round_rtt(struct run *r, uint64_t n, double *secs)
{
    alarm(ROUND_TIMEOUT_S);
    uint64_t cmd = command(r, OP_ECHO, n);
    long cs0 = involuntary_switches();
    int err = 0;
    int sleeping = r->e->c.sleeping;
    struct timespec gap = {0, SLEEP_GAP_NS};
    int64_t t0 = now_ns();
    for (uint64_t i = 0; i < n && err == 0; i++) {
        if (sleeping) {
            nanosleep(&gap, NULL);
        }
        uint64_t a = ticks();
        err = r->ops->ping(r->e, r->seq + i);
        uint64_t b = ticks();
        if (i < r->nsamples) {
            r->samples[i] = b - a;
        }
    }
    if (err == 0) {
        err = wait_child(r, cmd);
    }
    alarm(0);
    r->preempted = involuntary_switches() - cs0 + r->k->nivcsw;
    r->seq += n;
    *secs = (double)(now_ns() - t0) / 1e9; /* with the gaps: this only sizes the next round */
    return err;
}

static int run_case(const struct bench_case *c, int latency, struct bench_result *out)
{
    static uint64_t counter;
    memset(out, 0, sizeof *out);
    if (bench_not_applicable(c, latency, out->msg, sizeof out->msg)) {
        return -ENOTSUP;
    }
    pick_cpus();
    share_cpu = c->one_cpu;
    const struct bench_ops *ops = transports[c->transport].ops;
    struct bench_ep e;
    memset(&e, 0, sizeof e);
    e.c = *c;
    e.latency = latency;
    e.id = ((uint64_t)getpid() << 20) | ++counter;
    for (int i = 0; i < 4; i++) {
        e.fd[i] = -1;
    }
    size_t alloc = (c->size + 63) & ~(size_t)63;
    e.buf = aligned_alloc(64, alloc);
    e.tmpl = aligned_alloc(64, alloc);
    if (e.buf == NULL || e.tmpl == NULL) {
        free(e.buf);
        free(e.tmpl);
        snprintf(out->msg, sizeof out->msg, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->size; i++) {
        e.tmpl[i] = (unsigned char)(i * 131 + 7);
    }
    e.body_xor = body_xor(e.tmpl, c->size);
    memcpy(e.buf, e.tmpl, c->size);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: a blocked system call returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    bench_stop = 0;

    struct ctl *k =
        mmap(NULL, sizeof *k, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int err = k == MAP_FAILED ? -errno : ops->setup(&e);
    if (k == MAP_FAILED) {
        snprintf(e.err, sizeof e.err, "mmap: %s", strerror(-err));
        k = NULL;
    }
    struct run r = {ops, &e, k, -1, 0, NULL, 0, 0};
    int set_up = err == 0;
    if (err == 0) {
        fflush(NULL);
        r.pid = fork();
        if (r.pid < 0) {
            err = bench_fail(&e, -errno, "fork");
        } else if (r.pid == 0) {
            child_main(ops, &e, k);
        }
    }
    if (err == 0) {
        pin_to(cpu_parent);
        if (ops->open != NULL) {
            err = ops->open(&e, 0);
        }
    }
    if (err == 0) {
        int64_t deadline = now_ns() + 10 * 1000000000LL;
        uint32_t s;
        while ((s = atomic_load_explicit(&k->child_state, memory_order_acquire)) ==
               CHILD_STARTING) {
            if (now_ns() > deadline) {
                err = bench_fail(&e, -ETIMEDOUT, "peer process did not start");
                break;
            }
            sched_yield();
        }
        if (s == CHILD_FAILED) {
            snprintf(e.err, sizeof e.err, "peer: %.180s", k->err);
            err = -EIO;
        } else if (err == 0 && !c->one_cpu) {
            out->line_rtt_ns = probe_line_rtt(k);
        }
    }
    uint64_t sleeps0 = 0;
    if (err == 0) {
        /* Warm-up: rounds that double (or more) until one takes a quarter of the target, which
         * faults in every page, warms the caches and branch predictors, and gives the rate. */
        double target = c->target_s > 0 ? c->target_s : 0.1;
        uint64_t n = latency ? (c->sleeping ? 4 : 256) : 1024;
        double secs = 0;
        for (;;) {
            err = latency ? round_rtt(&r, n, &secs) : round_tput(&r, n, &secs);
            /* Throughput: also until the round wrapped the ring a few times, so that the
             * first rounds' page faults do not pass for the rate. */
            int cycled = latency || n * c->size >= 4 * (uint64_t)c->map;
            if (err != 0 || (secs >= target / 4 && cycled) || n >= (1ULL << 34)) {
                break;
            }
            n *= secs < target / 64 ? 8 : 2;
        }
        if (err == 0) {
            double per = secs / (double)n;
            uint64_t m = (uint64_t)(target / per);
            n = m < 16 ? 16 : m;
            if (latency) {
                n = n > 200000 ? 200000 : n;
                r.samples = malloc(n * sizeof *r.samples);
                r.nsamples = r.samples != NULL ? n : 0;
                if (ops->sleeps != NULL) {
                    sleeps0 = ops->sleeps(&e);
                }
            }
            err = latency ? round_rtt(&r, n, &secs) : round_tput(&r, n, &secs);
            out->msgs = n;
            out->seconds = secs;
            out->preempted = (uint64_t)r.preempted;
            if (!latency) {
                out->full_polls = (double)e.polls / (double)n;
                out->empty_polls = (double)k->polls / (double)n;
            }
        }
    }
    if (err == 0 && latency) {
        if (ops->sleeps != NULL) {
            out->sleeps_per_rt = (double)(ops->sleeps(&e) - sleeps0) / (double)out->msgs;
        }
        qsort(r.samples, r.nsamples, sizeof *r.samples, cmp_u64);
        double tpn = ticks_per_ns();
        out->p50_ns = (double)r.samples[r.nsamples / 2] / tpn;
        size_t i99 = (size_t)((double)r.nsamples * 0.99);
        out->p99_ns = (double)r.samples[i99 < r.nsamples ? i99 : r.nsamples - 1] / tpn;
    }
    if (r.pid > 0) {
        if (err == 0) {
            command(&r, OP_QUIT, 0);
        } else {
            kill(r.pid, SIGKILL);
        }
        int st;
        waitpid(r.pid, &st, 0);
    }
    if (set_up) {
        ops->close(&e, 0);
    }
    if (err != 0) {
        snprintf(out->msg, sizeof out->msg, "%s: %.170s", bench_transport_name(c->transport),
                 e.err[0] ? e.err : strerror(-err));
    }
    if (k != NULL) {
        munmap(k, sizeof *k);
    }
    free(r.samples);
    free(e.buf);
    free(e.tmpl);
    free(e.bufs);
    free(e.iov);
    return err;
}

int bench_throughput(const struct bench_case *c, struct bench_result *out)
{
    return run_case(c, 0, out);
}

int bench_latency(const struct bench_case *c, struct bench_result *out)
{
    return run_case(c, 1, out);
}
