/* SPDX-License-Identifier: MIT */
// shmring_bench: Google Benchmark driver. Each benchmark is one cross-process measurement made by
// the C harness (shim.h); repetitions and their interleaving are Google Benchmark's
// (--benchmark_repetitions, --benchmark_enable_random_interleaving), medians its aggregates.
//
// Names: tput/<transport>/<mapping>/<size> (mapping "-" for peers that have none) and
// rtt/<transport>/<busy|sleep|sleep1cpu>/<size> (sleep1cpu: both processes on one CPU). Counters:
// msgs_per_s and MB_per_s (throughput); p50_ns, p99_ns and sleeps_per_rt (round trips, where the
// reported time is the median); line_rtt_ns (a cache line's round trip between the two CPUs just
// before the case: how far apart the host placed them); x_floor_paired / x_pipe_paired (shmring
// against its baseline measured right after it in the same repetition).
//
// Environment: SHMRING_BENCH_TARGET_MS, the length of each measured round (default 100).
// Exit status 1 when a case failed for a reason other than "not applicable" (e.g. a wrong
// message), so that a smoke run catches a broken transport.
#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "shim.h"
#ifdef SHMRING_BENCH_MPSC
#include "mpsc.h"
#include <unistd.h>
#endif

namespace
{

double g_target_s = 0.1;
bool g_failed = false;

const size_t kSizes[] = {8, 64, 256, 1024, 4000};
const size_t kMaps[] = {4096, 1 << 20};

std::string map_name(size_t map)
{
    return map >= (1 << 20) ? std::to_string(map >> 20) + "M" : std::to_string(map >> 10) + "K";
}

void report_error(benchmark::State &st, int err, const char *msg)
{
    if (err != -ENOTSUP) {
        g_failed = true;
        std::fprintf(stderr, "shmring_bench: %s\n", msg);
    }
    st.SkipWithError(msg);
}

// The case a shmring result is paired with: run right after it in the same repetition, so that
// the ratio of the two is taken under the same conditions (CPU placement, other load). The
// median of these paired ratios is what the targets are judged on.
int partner_of(const bench_case &c, bool latency)
{
    if (c.transport > BENCH_SHMRING_BATCH) {
        return -1;
    }
    return latency && c.sleeping ? BENCH_PIPE : BENCH_FLOOR;
}

void throughput(benchmark::State &st, bench_case c)
{
    c.target_s = g_target_s;
    char why[200];
    if (bench_not_applicable(&c, 0, why, sizeof why)) {
        st.SkipWithError(why);
        return;
    }
    bench_result r{}, p{};
    bench_case pc = c;
    pc.transport = partner_of(c, false);
    for (auto _ : st) {
        int err = bench_throughput(&c, &r);
        if (err == 0 && pc.transport >= 0) {
            err = bench_throughput(&pc, &p);
            if (err != 0) {
                std::snprintf(r.msg, sizeof r.msg, "%s", p.msg);
            }
        }
        if (err != 0) {
            report_error(st, err, r.msg);
            break;
        }
        st.SetIterationTime(r.seconds);
    }
    if (r.msgs == 0 || r.seconds <= 0) {
        return;
    }
    double mps = static_cast<double>(r.msgs) / r.seconds;
    st.counters["msgs_per_s"] = mps;
    st.counters["MB_per_s"] = mps * static_cast<double>(c.size) / 1e6;
    st.counters["msgs"] = static_cast<double>(r.msgs);
    st.counters["full_polls"] = r.full_polls;
    st.counters["empty_polls"] = r.empty_polls;
    st.counters["preempted"] = static_cast<double>(r.preempted);
    st.counters["line_rtt_ns"] = r.line_rtt_ns;
    if (pc.transport >= 0 && p.seconds > 0) {
        st.counters["x_floor_paired"] = mps / (static_cast<double>(p.msgs) / p.seconds);
    }
}

void latency(benchmark::State &st, bench_case c)
{
    c.target_s = c.sleeping ? g_target_s * 3 : g_target_s;
    char why[200];
    if (bench_not_applicable(&c, 1, why, sizeof why)) {
        st.SkipWithError(why);
        return;
    }
    bench_result r{}, p{};
    bench_case pc = c;
    pc.transport = partner_of(c, true);
    for (auto _ : st) {
        int err = bench_latency(&c, &r);
        if (err == 0 && pc.transport >= 0) {
            err = bench_latency(&pc, &p);
            if (err != 0) {
                std::snprintf(r.msg, sizeof r.msg, "%s", p.msg);
            }
        }
        if (err != 0) {
            report_error(st, err, r.msg);
            break;
        }
        st.SetIterationTime(r.p50_ns / 1e9); // the reported time is the median round trip
    }
    if (r.msgs == 0) {
        return;
    }
    st.counters["p50_ns"] = r.p50_ns;
    st.counters["p99_ns"] = r.p99_ns;
    st.counters["round_trips"] = static_cast<double>(r.msgs);
    st.counters["preempted"] = static_cast<double>(r.preempted);
    if (!c.one_cpu) {
        st.counters["line_rtt_ns"] = r.line_rtt_ns;
    }
    if (c.transport <= BENCH_SHMRING_BATCH) {
        st.counters["sleeps_per_rt"] = r.sleeps_per_rt;
    }
    if (pc.transport >= 0 && p.p50_ns > 0) {
        st.counters[c.sleeping ? "x_pipe_paired" : "x_floor_paired"] = r.p50_ns / p.p50_ns;
    }
}

void add(const std::string &name, void (*fn)(benchmark::State &, bench_case), bench_case c)
{
    benchmark::RegisterBenchmark(name.c_str(), fn, c)
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(fn == latency ? benchmark::kMicrosecond : benchmark::kMillisecond);
}

// Registration order already alternates shmring, the floor and the peers size by size; random
// interleaving of the repetitions (set by scripts/bench.sh) spreads drift further.
void register_all()
{
    const int rings[] = {BENCH_SHMRING_COPY, BENCH_FLOOR, BENCH_SHMRING_ZC, BENCH_SHMRING_BATCH};
    const int peers[] = {BENCH_PIPE, BENCH_SOCKET, BENCH_MQ, BENCH_BOOST};
    for (size_t size : kSizes) {
        for (size_t map : kMaps) {
            for (int t : rings) {
                add("tput/" + std::string(bench_transport_name(t)) + "/" + map_name(map) + "/" +
                        std::to_string(size),
                    throughput, bench_case{t, size, map, 0, 0, 0});
            }
        }
        for (int t : peers) {
            add("tput/" + std::string(bench_transport_name(t)) + "/-/" + std::to_string(size),
                throughput, bench_case{t, size, 0, 0, 0, 0});
        }
    }
    const int rtt[] = {BENCH_SHMRING_COPY, BENCH_FLOOR, BENCH_CACHELINE, BENCH_PIPE,
                       BENCH_SOCKET,       BENCH_MQ,    BENCH_BOOST};
    for (int sleeping = 0; sleeping <= 1; sleeping++) {
        for (size_t size : {size_t{8}, size_t{1024}}) {
            for (int t : rtt) {
                bench_case c{t, size, 4096, sleeping, 0, 0};
                char why[200];
                if (bench_not_applicable(&c, 1, why, sizeof why)) {
                    continue; // the floor has no sleeping mode; the cache line carries 8 bytes
                }
                add("rtt/" + std::string(bench_transport_name(t)) + "/" +
                        (sleeping ? "sleep" : "busy") + "/" + std::to_string(size),
                    latency, c);
            }
        }
    }
    // Both processes on one CPU (a one-CPU container): blocking calls whose spin phase must
    // give the CPU to the peer.
    for (int t : {BENCH_SHMRING_COPY, BENCH_PIPE}) {
        add("rtt/" + std::string(bench_transport_name(t)) + "/sleep1cpu/8", latency,
            bench_case{t, 8, 4096, 1, 0, 1});
    }
}

#ifdef SHMRING_BENCH_MPSC
// Several producers into one consumer (issue 13). Each case is paired with its baseline run
// right after it: 1 producer on the multi-producer ring against the single-producer ring
// (x_spsc_paired: the cost of the claim), 2 producers against Boost's message_queue with 2
// producers (x_boost_paired). procs_per_cpu > 1: the processes outnumber the CPUs.
// ring_bytes_per_msg: records and padding per message on the multi-producer ring; above the
// record size, the producers' claims interleaved (bench_mpsc_ring_bytes()).
struct mpsc_case {
    int kind;
    unsigned producers;
    size_t size;
    int block;
};

void mpsc(benchmark::State &st, mpsc_case c)
{
    const uint64_t n = c.kind >= BENCH_MPSC_MQ ? 50000 : 2000000;
    int partner = c.kind != BENCH_MPSC_MPSC ? -1
                  : c.producers == 1        ? BENCH_MPSC_SPSC
                                            : BENCH_MPSC_BOOST;
    double rate = 0, prate = 0, ring_bytes = 0;
    for (auto _ : st) {
        rate = bench_mpsc_run(c.kind, c.producers, n, c.size, c.block);
        ring_bytes = bench_mpsc_ring_bytes();
        if (partner >= 0 && rate > 0) {
            prate = bench_mpsc_run(partner, c.producers, partner == BENCH_MPSC_BOOST ? n / 8 : n,
                                   c.size, c.block);
        }
        if (rate <= 0 || (partner >= 0 && prate <= 0)) {
            report_error(st, -EBADMSG, "mpsc: a run failed (wrong message or call)");
            return;
        }
        st.SetIterationTime(static_cast<double>(n * c.producers) / rate);
    }
    st.counters["msgs_per_s"] = rate;
    if (c.kind == BENCH_MPSC_MPSC) {
        st.counters["ring_bytes_per_msg"] = ring_bytes; // see bench_mpsc_ring_bytes()
    }
    st.counters["procs_per_cpu"] =
        static_cast<double>(c.producers + 1) / static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
    if (partner >= 0) {
        st.counters[partner == BENCH_MPSC_SPSC ? "x_spsc_paired" : "x_boost_paired"] = rate / prate;
    }
}

void register_mpsc()
{
    const char *names[] = {"shmring-spsc", "shmring-mpsc", "posix-mq", "boost-mq"};
    for (int block = 0; block <= 1; block++) {
        for (size_t size : {size_t{8}, size_t{64}}) {
            for (auto k : {std::pair<int, unsigned>{BENCH_MPSC_MPSC, 1},
                           {BENCH_MPSC_MPSC, 2},
                           {BENCH_MPSC_MQ, 2},
                           {BENCH_MPSC_BOOST, 2}}) {
                std::string name = "mpsc/" + std::string(names[k.first]) + "/" +
                                   std::to_string(k.second) + "p/" + (block ? "block" : "poll") +
                                   "/" + std::to_string(size);
                benchmark::RegisterBenchmark(name.c_str(), mpsc,
                                             mpsc_case{k.first, k.second, size, block})
                    ->UseManualTime()
                    ->Iterations(1)
                    ->Unit(benchmark::kMillisecond);
            }
        }
    }
}
#endif

} // namespace

int main(int argc, char **argv)
{
    if (const char *ms = std::getenv("SHMRING_BENCH_TARGET_MS")) {
        g_target_s = std::atof(ms) / 1000.0;
    }
    register_all();
#ifdef SHMRING_BENCH_MPSC
    register_mpsc();
#endif
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 2;
    }
    const char *pin = bench_pinning();
    std::fprintf(stderr, "shmring_bench: %s\n", pin);
    benchmark::AddCustomContext("pinning", pin);
    benchmark::AddCustomContext("round_target_ms", std::to_string(g_target_s * 1000));
    benchmark::AddCustomContext("timer_overhead_ns", std::to_string(bench_timer_overhead_ns()));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return g_failed ? 1 : 0;
}
