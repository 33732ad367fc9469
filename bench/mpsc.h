/* SPDX-License-Identifier: MIT */
/* Several producer processes into one consumer (mpsc.cc): shmring's multi-producer ring, its
 * single-producer ring, POSIX mq and Boost.Interprocess message_queue. Used by shmring_bench
 * (cases mpsc/...) and by the standalone shmring_bench_mpsc. */
#ifndef SHMRING_BENCH_MPSC_H
#define SHMRING_BENCH_MPSC_H

#include <stddef.h>
#include <stdint.h>

enum { BENCH_MPSC_SPSC, BENCH_MPSC_MPSC, BENCH_MPSC_MQ, BENCH_MPSC_BOOST };

/* Forks `producers` (1-8) processes that send n messages of size bytes (8-64) each, numbered
 * per producer, and receives and checks them all here; block: blocking calls instead of
 * retried non-blocking ones. Returns messages per second at the consumer, or -1 on a failure
 * (a wrong or lost message, a failed call). */
double bench_mpsc_run(int kind, unsigned producers, uint64_t n, size_t size, int block);

/* Ring bytes per message of the last bench_mpsc_run on a shmring ring (its records and their
 * padding), 0 after any other. Above the record size (16 B at 8 B, 72 B at 64 B) it is padding:
 * a claim after another producer's starts on a fresh cache line, so with two producers it tells
 * how often their claims interleaved. */
double bench_mpsc_ring_bytes(void);

#endif
