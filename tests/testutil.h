/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests (t_* names). */
#ifndef SHMRING_TESTUTIL_H
#define SHMRING_TESTUTIL_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h> /* __MINGW_PRINTF_FORMAT */
#include <sys/types.h>

#include "shmring.h"

/* printf-style checks for the tests' own formatters: on mingw the tests use C99 printf
 * (__USE_MINGW_ANSI_STDIO, tests/CMakeLists.txt), which GCC knows as gnu_printf. */
#ifdef __MINGW_PRINTF_FORMAT
#define T_PRINTF(fmt, first) __attribute__((format(__MINGW_PRINTF_FORMAT, fmt, first)))
#else
#define T_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#endif

/* A ring name unique to this test run: "<prefix>-<pid>-<tag>", prefix from SHMRING_TEST_PREFIX
 * (set per test by CTest) so parallel tests never share a name. Returns a static buffer slot
 * (8 rotating slots). */
const char *t_name(const char *tag);

/* Aligned heap memory (C11's aligned_alloc is missing from the Windows C runtime). */
#ifdef _WIN32
#include <malloc.h>
#define t_aligned_alloc(align, size) _aligned_malloc((size), (align))
#define t_aligned_free               _aligned_free
#else
#include <stdlib.h>
#define t_aligned_alloc aligned_alloc
#define t_aligned_free  free
#endif

/* How a failed check leaves a test's child process or thread: `return v` (its exit code or
 * result). Under the clang analyzer (clang-tidy), abort(): the child ends there just the same,
 * and the buffers it leaves to exit() are not leaks worth a report. */
#ifdef __clang_analyzer__
#define T_FAILED_RETURN(v) abort()
#else
#define T_FAILED_RETURN(v) return v
#endif

/* 64-bit FNV-1a. */
uint64_t t_hash(const void *p, size_t n);

/* xorshift64* PRNG. */
uint64_t t_rand(uint64_t *state);

/* Fills msg[0..len) with a self-checking message for sequence number seq (len >= 0): the first
 * 8 bytes hold seq, the next 8 a hash over the rest (when len >= 16); shorter messages hold a
 * prefix of the sequence number. t_msg_check returns 1 when msg matches seq and len. */
void t_msg_fill(void *msg, size_t len, uint64_t seq);
int t_msg_check(const void *msg, size_t len, uint64_t seq);

#ifndef _WIN32
/* Forks; the child runs fn(arg) and _exits with its return value. Returns the pid. */
pid_t t_spawn(int (*fn)(void *), void *arg);
/* Waits for pid; returns its exit status, or 128 + signal if it was killed. */
int t_wait(pid_t pid);
#endif

/* A child process that runs fn(copy of arg[0..size)) and exits with its return value, on every
 * system: POSIX forks (the child sees the whole address space, arg included); Windows starts
 * this program again (t_spawn_win.c), which runs fn on a copy of the size bytes at arg before
 * main, so arg must be flat (arrays, not pointers) and fn must not rely on state the parent built.
 * Wait with t_proc_wait, kill with t_proc_kill (t_spawn.h; SIGKILL and TerminateProcess both
 * give the status 128 + 9). Returns the process or -1. */
#include "t_spawn.h"
t_proc t_spawn_flat(int (*fn)(void *), const void *arg, size_t size);
#define T_KILLED 137 /* t_proc_wait's status of a t_proc_kill'ed child: 128 + SIGKILL */

/* 1 if the ring name exists (POSIX: /dev/shm/<name>; Windows: its section is open somewhere). */
int t_shm_exists(const char *name);

/* Milliseconds on the monotonic clock. */
int64_t t_now_ms(void);

/* ---- streams of t_msg_fill messages whose lengths both sides draw from one PRNG ------------ */

/* One round of waiting in a spinning loop: relaxes the CPU at first, then sleeps 20 us a round.
 * 0 once the wait has lasted stuck_ms. Set n = 0 after progress. */
struct t_spin {
    unsigned n;
    int64_t since_ms;
    int64_t stuck_ms;
};
int t_spin_once(struct t_spin *s);

/* Sends messages seq..seq+n-1 in one shmring_send_batch, lengths from draw_len(rng, max), bytes
 * in buf (room for n messages, each rounded up to 8 bytes). Returns its result; *rng is left past
 * the lengths of the messages that went, so that the receiver stays in step. */
int t_send_batch(shmring *r, uint64_t seq, size_t n, size_t (*draw_len)(uint64_t *, size_t),
                 uint64_t *rng, struct shmring_buf *iov, void *buf);

/* The receiving side: message seq must have the length draw_len(&rng, max) gives next and pass
 * t_msg_check. The calls below return 0, or 1 with bad and why set (a wrong message, a failed
 * call, or nothing for the spin's stuck_ms). */
struct t_check {
    size_t (*draw_len)(uint64_t *rng, size_t max);
    uint64_t rng, seq;
    size_t max; /* shmring_max_msg */
    int bad;
    char why[200];
};
/* Checks (msg, len) as message c->seq. */
int t_check_next(struct t_check *c, const void *msg, size_t len);
/* One shmring_drain of at most lim messages (0: all visible); a round of s when it finds none. */
int t_drain_check(struct t_check *c, shmring *r, size_t lim, struct t_spin *s);
/* The next message into buf (c->max + 1 bytes): by shmring_recv_wait when wait_ns > 0, else by
 * shmring_recv, spinning on s while the ring is empty. */
int t_recv_check(struct t_check *c, shmring *r, void *buf, int64_t wait_ns, struct t_spin *s);
/* The same by shmring_peek_wait (wait_ns > 0) or spinning shmring_peek, then shmring_release. */
int t_peek_check(struct t_check *c, shmring *r, int64_t wait_ns, struct t_spin *s);

#endif
