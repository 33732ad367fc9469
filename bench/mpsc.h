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

#endif
