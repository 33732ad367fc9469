/* SPDX-License-Identifier: MIT */
// shmring_bench_mpsc: several producer processes into one consumer.
//   shmring_bench_mpsc [MSGS_PER_PRODUCER [REPETITIONS [MODE [SIZE]]]]   (default 2000000, 5)
// MODE (polling, blocking) and SIZE (8, 64) pick one part of the table; default both of each.
// Cases, each at 8 and 64 bytes, polling (non-blocking calls retried) and blocking:
//   shmring-spsc 1p        the single-producer ring (baseline of the claim's cost)
//   shmring-mpsc 1p        a multi-producer ring with one producer
//   shmring-mpsc 2p        two producers
//   posix-mq 2p            mq_send / mq_receive (O_NONBLOCK when polling)
//   boost-mq 2p            boost::interprocess::message_queue (try_send/try_receive polling)
// Every message carries (producer, number) and the consumer checks per-producer order. Rates are
// messages per second at the consumer, from the first to the last message. With one producer,
// consumer and producer are pinned to CPUs of their own (the first two this process may use),
// for both rings alike; with two producers nobody is pinned, and the program prints when the
// processes outnumber the CPUs.
#include <boost/interprocess/ipc/message_queue.hpp>

#include <algorithm>
#include <vector>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <shmring.h>
#include <string>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpsc.h"

namespace bip = boost::interprocess;

namespace
{

enum Kind {
    SPSC = BENCH_MPSC_SPSC,
    MPSC = BENCH_MPSC_MPSC,
    MQ = BENCH_MPSC_MQ,
    BOOST = BENCH_MPSC_BOOST
};

double now_s()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void stamp(unsigned char *m, unsigned id, uint64_t n)
{
    uint64_t v = static_cast<uint64_t>(id) << 48 | n;
    std::memcpy(m, &v, 8);
}

std::string name_of(Kind k)
{
    return "bench-mpsc-" + std::to_string(getpid()) + "-" + std::to_string(static_cast<int>(k));
}

// The start gate: every producer opens the queue, says so on `ready`, and waits for a byte on
// `go` before it sends. Without it, under load, a producer could send everything and close
// before another had even opened, and the consumer then (rightly) saw SHMRING_EPIPE and stopped,
// leaving the late producer spinning on a full ring.
int gate_ready[2] = {-1, -1}, gate_go[2] = {-1, -1};

bool gate_pass()
{
    char c = 1;
    return write(gate_ready[1], &c, 1) == 1 && read(gate_go[0], &c, 1) == 1;
}

// One producer process: n messages of size bytes.
int produce(Kind k, const std::string &name, unsigned id, uint64_t n, size_t size, bool block)
{
    unsigned char buf[64] = {0};
    if (k == MQ) {
        mqd_t q = mq_open(("/" + name).c_str(), O_WRONLY | (block ? 0 : O_NONBLOCK));
        if (!gate_pass() || q == (mqd_t)-1) {
            return 1;
        }
        for (uint64_t i = 0; i < n; i++) {
            stamp(buf, id, i);
            while (mq_send(q, reinterpret_cast<char *>(buf), size, 0) != 0) {
                if (errno != EAGAIN) {
                    return 1;
                }
                sched_yield();
            }
        }
        mq_close(q);
        return 0;
    }
    if (k == BOOST) {
        bip::message_queue *qp = nullptr;
        try {
            qp = new bip::message_queue(bip::open_only, name.c_str());
        } catch (...) {
        }
        if (!gate_pass() || qp == nullptr) {
            return 1;
        }
        bip::message_queue &q = *qp;
        for (uint64_t i = 0; i < n; i++) {
            stamp(buf, id, i);
            if (block) {
                q.send(buf, size, 0);
            } else {
                while (!q.try_send(buf, size, 0)) {
                    sched_yield();
                }
            }
        }
        delete qp;
        return 0;
    }
    shmring *r;
    int opened = shmring_open(name.c_str(), SHMRING_PRODUCER, nullptr, &r);
    if (!gate_pass() || opened != 0) {
        return 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        stamp(buf, id, i);
        int err;
        if (block) {
            err = shmring_send_wait(r, buf, size, -1);
        } else {
            while ((err = shmring_send(r, buf, size)) == -EAGAIN) {
                sched_yield();
            }
        }
        if (err != 0) {
            return 1;
        }
    }
    shmring_close(r);
    return 0;
}

// The CPUs this program may use, as it started (the harness's cases pin it later).
cpu_set_t g_allowed;
bool g_allowed_known = false;
struct AllowedAtStart {
    AllowedAtStart()
    {
        g_allowed_known = sched_getaffinity(0, sizeof g_allowed, &g_allowed) == 0;
    }
} g_allowed_at_start; // runs before main, so before any case pinned us

// Places the calling process: on CPU number `which` (0, 1) of the allowed ones, or anywhere
// allowed (which < 0). Best effort: a refused affinity leaves things as they are.
void place(int which)
{
    if (!g_allowed_known) {
        return;
    }
    cpu_set_t set = g_allowed;
    if (which >= 0) {
        CPU_ZERO(&set);
        int seen = 0;
        for (int i = 0; i < CPU_SETSIZE; i++) {
            if (CPU_ISSET(i, &g_allowed) && seen++ == which) {
                CPU_SET(i, &set);
                break;
            }
        }
        if (seen <= which) {
            return; /* fewer CPUs than that */
        }
    }
    (void)sched_setaffinity(0, sizeof set, &set);
}

// Ring bytes per message of the last shmring run, read by bench_mpsc_ring_bytes().
double g_ring_bytes = 0;

// Runs one case; returns messages per second, or -1.
double run(Kind k, unsigned producers, uint64_t n, size_t size, bool block)
{
    std::string name = name_of(k);
    g_ring_bytes = 0;
    const bool pinned = producers == 1 && g_allowed_known && CPU_COUNT(&g_allowed) >= 2;
    place(pinned ? 1 : -1); // the consumer; its producer on the other CPU
    shmring *c = nullptr;
    mqd_t q = (mqd_t)-1;
    bip::message_queue *bq = nullptr;
    if (k == SPSC || k == MPSC) {
        shmring_opts o{};
        o.size = 1 << 20;
        o.flags = SHMRING_CREATE | SHMRING_EXCL | (k == MPSC ? SHMRING_MULTI_PRODUCER : 0);
        if (shmring_open(name.c_str(), SHMRING_CONSUMER, &o, &c) != 0) {
            return -1;
        }
    } else if (k == MQ) {
        mq_attr a{};
        a.mq_maxmsg = 10; // the default limit for unprivileged users (/proc/sys/fs/mqueue)
        a.mq_msgsize = 64;
        q = mq_open(("/" + name).c_str(), O_RDONLY | O_CREAT | O_EXCL | (block ? 0 : O_NONBLOCK),
                    0600, &a);
        if (q == (mqd_t)-1) {
            return -1;
        }
    } else {
        bip::message_queue::remove(name.c_str());
        bq = new bip::message_queue(bip::create_only, name.c_str(), 1024, 64);
    }
    pid_t pids[8];
    if (pipe(gate_ready) != 0 || pipe(gate_go) != 0) {
        return -1;
    }
    for (unsigned i = 0; i < producers; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            if (pinned) {
                place(0);
            }
            close(gate_ready[0]);
            close(gate_go[1]);
            _exit(produce(k, name, i, n, size, block));
        }
    }
    // Open the gate once every producer has opened the queue (a producer that failed to open
    // passes the gate too, and then exits with an error).
    close(gate_ready[1]);
    close(gate_go[0]);
    unsigned opened = 0;
    char gc;
    while (opened < producers && read(gate_ready[0], &gc, 1) == 1) {
        opened++;
    }
    for (unsigned i = 0; i < producers; i++) {
        gc = 1;
        if (write(gate_go[1], &gc, 1) != 1) {
            break;
        }
    }
    close(gate_ready[0]);
    close(gate_go[1]);
    uint64_t next[8] = {0};
    unsigned char buf[64];
    uint64_t total = n * producers;
    double t0 = 0;
    bool ok = true;
    for (uint64_t got = 0; got < total && ok; got++) {
        size_t len = 0;
        if (k == MQ) {
            ssize_t r;
            while ((r = mq_receive(q, reinterpret_cast<char *>(buf), sizeof buf, nullptr)) < 0) {
                if (errno != EAGAIN) {
                    ok = false;
                    break;
                }
                sched_yield();
            }
            len = r < 0 ? 0 : static_cast<size_t>(r);
        } else if (k == BOOST) {
            unsigned prio;
            bip::message_queue::size_type rl = 0;
            if (block) {
                bq->receive(buf, sizeof buf, rl, prio);
            } else {
                while (!bq->try_receive(buf, sizeof buf, rl, prio)) {
                    sched_yield();
                }
            }
            len = rl;
        } else {
            shmring_ssize r;
            if (block) {
                r = shmring_recv_wait(c, buf, sizeof buf, 30 * 1000000000LL);
            } else {
                while ((r = shmring_recv(c, buf, sizeof buf)) == -EAGAIN) {
                    sched_yield();
                }
            }
            if (r < 0) {
                ok = false;
                break;
            }
            len = static_cast<size_t>(r);
        }
        if (got == 0) {
            t0 = now_s();
        }
        uint64_t v;
        std::memcpy(&v, buf, 8);
        unsigned id = static_cast<unsigned>(v >> 48);
        if (len != size || id >= producers || (v & 0xffffffffffffULL) != next[id]++) {
            std::fprintf(stderr, "wrong message\n");
            ok = false;
        }
    }
    double dt = now_s() - t0;
    for (unsigned i = 0; i < producers; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    if (c != nullptr) {
        // The consumer's position counts records and padding alike (the ring is new).
        struct shmring_stats stats = {};
        if (ok && shmring_stats(c, &stats) == 0 && stats.recv_msgs > 0) {
            g_ring_bytes = static_cast<double>(stats.head) / static_cast<double>(stats.recv_msgs);
        }
        shmring_close(c);
    }
    if (q != (mqd_t)-1) {
        mq_close(q);
        mq_unlink(("/" + name).c_str());
    }
    if (bq != nullptr) {
        delete bq;
        bip::message_queue::remove(name.c_str());
    }
    return ok ? static_cast<double>(total - 1) / dt : -1;
}

} // namespace

double bench_mpsc_ring_bytes(void)
{
    return g_ring_bytes;
}

double bench_mpsc_run(int kind, unsigned producers, uint64_t n, size_t size, int block)
{
    return producers < 1 || producers > 8 || size < 8 || size > 64
               ? -1
               : run(static_cast<Kind>(kind), producers, n, size, block != 0);
}

#ifdef BENCH_MPSC_MAIN
namespace
{
double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 2000000;
    int reps = argc > 2 ? std::atoi(argv[2]) : 5;
    const char *only_mode = argc > 3 ? argv[3] : nullptr;
    size_t only_size = argc > 4 ? std::strtoull(argv[4], nullptr, 0) : 0;
    if (only_mode != nullptr && std::strcmp(only_mode, "polling") != 0 &&
        std::strcmp(only_mode, "blocking") != 0) {
        std::fprintf(stderr, "usage: %s [MSGS [REPS [polling|blocking [8|64]]]]\n", argv[0]);
        return 2;
    }
    auto wanted = [&](int block, size_t size) {
        return (only_mode == nullptr ||
                (std::strcmp(only_mode, "blocking") == 0) == (block != 0)) &&
               (only_size == 0 || only_size == size);
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    std::printf("# %llu messages per producer (a quarter for mq and Boost), %d repetitions "
                "interleaved, medians; %ld CPUs; the 2p cases run 3 processes%s\n",
                static_cast<unsigned long long>(n), reps, cpus,
                cpus < 3 ? " (more processes than CPUs)" : "");
    struct Case {
        Kind k;
        const char *name;
        unsigned p;
    } cases[] = {{SPSC, "shmring-spsc", 1},
                 {MPSC, "shmring-mpsc", 1},
                 {MPSC, "shmring-mpsc", 2},
                 {MQ, "posix-mq", 2},
                 {BOOST, "boost-mq", 2}};
    const size_t sizes[] = {8, 64};
    // rate[block][size][case][rep], and the ring bytes per message of the shmring runs
    std::vector<double> rate[2][2][5], ring_bytes[2][2][5];
    for (int rep = 0; rep < reps; rep++) {
        for (int block = 0; block <= 1; block++) {
            for (int si = 0; si < 2; si++) {
                if (!wanted(block, sizes[si])) {
                    continue;
                }
                for (int i = 0; i < 5; i++) {
                    uint64_t per = cases[i].k >= MQ ? n / 4 : n; // the slow peers: fewer
                    rate[block][si][i].push_back(
                        run(cases[i].k, cases[i].p, per, sizes[si], block != 0));
                    ring_bytes[block][si][i].push_back(bench_mpsc_ring_bytes());
                }
            }
        }
    }
    std::printf(
        "# ring B/msg: the consumer's ring bytes per message; above the record (16 B at 8 B, "
        "72 B at 64 B) it is padding, as a claim after another producer's starts on a "
        "fresh cache line: with two producers, how often their claims interleaved\n");
    std::printf("%-10s %-14s %-3s %5s %14s %10s\n", "mode", "transport", "p", "size", "msgs/s",
                "ring B/msg");
    for (int block = 0; block <= 1; block++) {
        for (int si = 0; si < 2; si++) {
            if (!wanted(block, sizes[si])) {
                continue;
            }
            for (int i = 0; i < 5; i++) {
                std::printf("%-10s %-14s %-3u %5zu %14.0f", block ? "blocking" : "polling",
                            cases[i].name, cases[i].p, sizes[si], median(rate[block][si][i]));
                if (cases[i].k == SPSC || cases[i].k == MPSC) {
                    std::printf(" %10.1f\n", median(ring_bytes[block][si][i]));
                } else {
                    std::printf(" %10s\n", "-");
                }
            }
            // Each two-producer run: its rate and how much its claims interleaved.
            std::printf("# %s %zu B, mpsc-2p runs (msgs/s @ ring B/msg):",
                        block ? "blocking" : "polling", sizes[si]);
            for (int rep = 0; rep < reps; rep++) {
                std::printf(" %.1fM@%.1f", rate[block][si][2][rep] / 1e6,
                            ring_bytes[block][si][2][rep]);
            }
            std::printf("\n");
            // Ratios of runs made next to each other (same repetition), then their median.
            // spsc/boost-2p is the yardstick for mpsc-2p/boost-2p: how far the pinned
            // single-producer ring, one consumer's whole CPU, outruns Boost in this host state.
            std::vector<double> r1, rb, rq, rs;
            for (int rep = 0; rep < reps; rep++) {
                r1.push_back(rate[block][si][1][rep] / rate[block][si][0][rep]);
                rb.push_back(rate[block][si][2][rep] / rate[block][si][4][rep]);
                rq.push_back(rate[block][si][2][rep] / rate[block][si][3][rep]);
                rs.push_back(rate[block][si][0][rep] / rate[block][si][4][rep]);
            }
            std::printf("# %s %zu B (paired medians): mpsc-1p/spsc %.2fx, mpsc-2p/boost-2p %.1fx, "
                        "mpsc-2p/mq-2p %.1fx, spsc/boost-2p %.1fx\n",
                        block ? "blocking" : "polling", sizes[si], median(r1), median(rb),
                        median(rq), median(rs));
        }
    }
    return 0;
}
#endif
