/* The benchmark's C side. bench.cc (Google Benchmark) asks for one measurement at a time through
 * bench_throughput() and bench_latency(); everything below them is C: the harness that forks and
 * pins the two processes (harness.c), shmring driven through its public API exactly as a user
 * calls it (shim.c), the floor ring and cache-line ping-pong (floor.c), and the pipe, socketpair
 * and POSIX mq peers (peers.c). Boost.Interprocess lives in boost_mq.cc behind the same table. */
#ifndef SHMRING_BENCH_SHIM_H
#define SHMRING_BENCH_SHIM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bench_transport {
    BENCH_SHMRING_COPY,  /* shmring_send / shmring_recv */
    BENCH_SHMRING_ZC,    /* shmring_reserve + commit / shmring_peek + release */
    BENCH_SHMRING_BATCH, /* shmring_send_batch / shmring_drain */
    BENCH_FLOOR,         /* minimal fixed-slot SPSC ring; two of them for round trips */
    BENCH_CACHELINE,     /* round trips only: one cache line bounced between the processes */
    BENCH_PIPE,
    BENCH_SOCKET, /* socketpair(AF_UNIX, SOCK_SEQPACKET) */
    BENCH_MQ,     /* POSIX mq_* */
    BENCH_BOOST,  /* boost::interprocess::message_queue */
    BENCH_NTRANSPORTS
};

struct bench_case {
    int transport;   /* enum bench_transport */
    size_t size;     /* message bytes (>= 8) */
    size_t map;      /* ring mapping bytes (shmring, floor); ignored by the other transports */
    int sleeping;    /* round trips: 1 = blocking calls with an idle gap, 0 = busy-polling */
    double target_s; /* wall time of the measured round; calibrated by warm-up rounds */
    int one_cpu;     /* round trips: both processes pinned to the same CPU */
};

struct bench_result {
    uint64_t msgs;         /* messages (throughput) or round trips (latency) measured */
    double seconds;        /* duration of the measured round */
    double p50_ns, p99_ns; /* round trips: median and 99th percentile */
    double sleeps_per_rt;  /* round trips over shmring: kernel sleeps per round trip, both sides */
    double full_polls;     /* throughput: failed sends (ring full) per message, producer */
    double empty_polls;    /* throughput: failed receives (ring empty) per message, consumer */
    double line_rtt_ns;    /* the placement probe: a cache line's round trip between the two
                            * processes just before the measurement */
    uint64_t preempted;    /* involuntary context switches of both processes in the round: a
                            * busy-polling result with many was disturbed by other work */
    char msg[200];         /* why it failed, or why it is not applicable */
};

/* Short name of a transport ("shmring-copy", "pipe", ...). */
const char *bench_transport_name(int transport);

/* 1 when the case cannot run (e.g. a 4000-byte message on a 4 KiB ring), with the reason. */
int bench_not_applicable(const struct bench_case *c, int latency, char *why, size_t cap);

/* One measured run: forks a peer process, warms up, calibrates and measures. 0 or a negative
 * errno value with out->msg saying what went wrong (a wrong or lost message is -EBADMSG). */
int bench_throughput(const struct bench_case *c, struct bench_result *out);
int bench_latency(const struct bench_case *c, struct bench_result *out);

/* How the two processes are pinned ("producer cpu 0, consumer cpu 1" or "not pinned: ..."). */
const char *bench_pinning(void);

/* Cost of one timestamp taken between round trips, in ns (included in every latency sample). */
double bench_timer_overhead_ns(void);

/* ---- the transports' side of the harness ----------------------------------------------------- */

/* Per-run state of one transport. `child` is 0 in the parent (producer, or round-trip
 * initiator) and 1 in the forked child (consumer, or echo). */
struct bench_ep {
    struct bench_case c;
    int latency;             /* two directions (ping and pong) instead of one */
    uint64_t id;             /* unique per run: part of every name */
    unsigned char *buf;      /* c.size bytes: the message being sent or received */
    unsigned char *tmpl;     /* c.size bytes: the body every message carries */
    uint64_t body_xor;       /* xor of the template's body words (checks zero-copy reads) */
    unsigned char *bufs;     /* batch API: `batch` message buffers */
    struct shmring_buf *iov; /* their iovecs */
    size_t batch;            /* messages per shmring_send_batch */
    uint64_t expect;         /* batch consumer: next sequence number */
    int bad;                 /* batch consumer: the handler saw a wrong message */
    uint64_t polls;          /* calls that found the ring full (producer) or empty (consumer) */
    char name[2][96];        /* object names */
    int fd[4];               /* descriptors (-1 = none) */
    void *h[4];              /* handles, mappings */
    size_t mem_len;          /* bytes mapped at h[0] (floor) */
    char err[200];           /* the reason of the last failure */
};

struct bench_ops {
    /* Parent, before fork: create what both processes use. 0 or -errno. */
    int (*setup)(struct bench_ep *e);
    /* Each process after fork (child = 0 or 1). May be NULL. */
    int (*open)(struct bench_ep *e, int child);
    /* Throughput: messages seq .. seq + n - 1, sent by the parent, received and checked by the
     * child. 0 or -errno (-EBADMSG: a wrong message). */
    int (*produce)(struct bench_ep *e, uint64_t seq, uint64_t n);
    int (*consume)(struct bench_ep *e, uint64_t seq, uint64_t n);
    /* Round trips: the parent sends message seq and waits for it to come back; the child
     * returns messages seq .. seq + n - 1. */
    int (*ping)(struct bench_ep *e, uint64_t seq);
    int (*echo)(struct bench_ep *e, uint64_t seq, uint64_t n);
    /* Kernel sleeps so far on both sides (shmring only; NULL elsewhere). */
    uint64_t (*sleeps)(struct bench_ep *e);
    /* Each process: close its side. The parent's call also removes the names. */
    void (*close)(struct bench_ep *e, int child);
};

extern const struct bench_ops bench_shmring_copy_ops, bench_shmring_zc_ops, bench_shmring_batch_ops,
    bench_floor_ops, bench_cacheline_ops, bench_pipe_ops, bench_socket_ops, bench_mq_ops,
    bench_boost_ops;

/* Set when the round's deadline passes: every retry loop gives up with -ETIMEDOUT. */
extern volatile sig_atomic_t bench_stop;

/* The message format: the sequence number in the first 8 bytes, its complement in the last 8
 * (when size >= 16), the template in between. The check reads both ends, so a stale, torn,
 * duplicated, lost or truncated message fails. */
void bench_stamp(unsigned char *msg, size_t size, uint64_t seq);
int bench_check(const unsigned char *msg, size_t size, uint64_t seq);
/* bench_check, plus the xor of every body word against e->body_xor: a zero-copy reader touches
 * every byte as a copying one does. */
int bench_check_all(const struct bench_ep *e, const unsigned char *msg, uint64_t seq);

/* Records why the run failed and returns err. */
int bench_fail(struct bench_ep *e, int err, const char *what);
/* -EBADMSG with the expected and received sequence numbers. */
int bench_bad(struct bench_ep *e, const unsigned char *msg, size_t len, uint64_t seq);

#ifdef __cplusplus
}
#endif

#endif /* SHMRING_BENCH_SHIM_H */
