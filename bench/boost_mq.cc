/* SPDX-License-Identifier: MIT */
// Boost.Interprocess message_queue as a peer: a named shared-memory queue guarded by a
// process-shared mutex and condition variables. It gets the same 1 MiB the big shmring mapping
// has (as many messages as fit, at least 16), and blocking calls with a deadline far in the
// future so that a dead peer cannot hang the run.
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <memory>

#include "shim.h"

namespace bip = boost::interprocess;

namespace
{

constexpr size_t kQueueBytes = 1 << 20;

bip::message_queue *queue(struct bench_ep *e, int i)
{
    return static_cast<bip::message_queue *>(e->h[i]);
}

int fail(struct bench_ep *e, const char *what, const std::exception &x)
{
    std::snprintf(e->err, sizeof e->err, "%s: %s", what, x.what());
    return -EIO;
}

boost::posix_time::ptime deadline()
{
    return boost::posix_time::microsec_clock::universal_time() + boost::posix_time::seconds(60);
}

// The parent creates the queues before fork; each process then opens them by name.
int setup(struct bench_ep *e)
{
    size_t depth = kQueueBytes / e->c.size;
    depth = depth < 16 ? 16 : depth;
    try {
        for (int i = 0; i < 1 + e->latency; i++) {
            std::snprintf(e->name[i], sizeof e->name[i], "shmring-bench-boost-%llx-%d",
                          static_cast<unsigned long long>(e->id), i);
            bip::message_queue::remove(e->name[i]);
            bip::message_queue q(bip::create_only, e->name[i], depth, e->c.size);
        }
    } catch (const std::exception &x) {
        return fail(e, "message_queue(create)", x);
    }
    return 0;
}

int open(struct bench_ep *e, int child)
{
    (void)child;
    try {
        for (int i = 0; i < 1 + e->latency; i++) {
            e->h[i] = new bip::message_queue(bip::open_only, e->name[i]);
        }
    } catch (const std::exception &x) {
        return fail(e, "message_queue(open)", x);
    }
    return 0;
}

void close(struct bench_ep *e, int child)
{
    for (int i = 0; i < 2; i++) {
        delete queue(e, i);
        e->h[i] = nullptr;
        if (!child && e->name[i][0] != '\0') {
            bip::message_queue::remove(e->name[i]);
        }
    }
}

int send(struct bench_ep *e, bip::message_queue *q, const boost::posix_time::ptime &until)
{
    try {
        if (e->latency && !e->c.sleeping) {
            while (!q->try_send(e->buf, e->c.size, 0)) {
                if (bench_stop) {
                    return bench_fail(e, -ETIMEDOUT, "try_send");
                }
            }
        } else if (!q->timed_send(e->buf, e->c.size, 0, until) || bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "timed_send");
        }
    } catch (const std::exception &x) {
        return fail(e, "send", x);
    }
    return 0;
}

int recv(struct bench_ep *e, bip::message_queue *q, uint64_t seq,
         const boost::posix_time::ptime &until)
{
    bip::message_queue::size_type got = 0;
    unsigned prio = 0;
    try {
        if (e->latency && !e->c.sleeping) {
            while (!q->try_receive(e->buf, e->c.size, got, prio)) {
                if (bench_stop) {
                    return bench_fail(e, -ETIMEDOUT, "try_receive");
                }
            }
        } else if (!q->timed_receive(e->buf, e->c.size, got, prio, until) || bench_stop) {
            return bench_fail(e, -ETIMEDOUT, "timed_receive");
        }
    } catch (const std::exception &x) {
        return fail(e, "receive", x);
    }
    if (got != e->c.size || !bench_check(e->buf, e->c.size, seq)) {
        return bench_bad(e, e->buf, got, seq);
    }
    return 0;
}

int produce(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    auto until = deadline();
    for (uint64_t i = 0; i < n; i++) {
        bench_stamp(e->buf, e->c.size, seq + i);
        int err = send(e, queue(e, 0), until);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

int consume(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    auto until = deadline();
    for (uint64_t i = 0; i < n; i++) {
        int err = recv(e, queue(e, 0), seq + i, until);
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

int ping(struct bench_ep *e, uint64_t seq)
{
    static thread_local boost::posix_time::ptime until;
    static thread_local uint64_t calls;
    if (calls++ % 1024 == 0) {
        until = deadline(); // refreshed now and then: the clock stays off the timed path
    }
    bench_stamp(e->buf, e->c.size, seq);
    int err = send(e, queue(e, 0), until);
    return err < 0 ? err : recv(e, queue(e, 1), seq, until);
}

int echo(struct bench_ep *e, uint64_t seq, uint64_t n)
{
    auto until = deadline();
    for (uint64_t i = 0; i < n; i++) {
        int err = recv(e, queue(e, 0), seq + i, until);
        if (err == 0) {
            err = send(e, queue(e, 1), until);
        }
        if (err < 0) {
            return err;
        }
    }
    return 0;
}

} // namespace

extern "C" const struct bench_ops bench_boost_ops = {
    setup, open, produce, consume, ping, echo, nullptr, close,
};
