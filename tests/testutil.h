/* Helpers shared by the tests (t_* names). */
#ifndef SHMRING_TESTUTIL_H
#define SHMRING_TESTUTIL_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/* A ring name unique to this test run: "<prefix>-<pid>-<tag>", prefix from SHMRING_TEST_PREFIX
 * (set per test by CTest) so parallel tests never share a name. Returns a static buffer slot
 * (8 rotating slots). */
const char *t_name(const char *tag);

/* 64-bit FNV-1a. */
uint64_t t_hash(const void *p, size_t n);

/* xorshift64* PRNG. */
uint64_t t_rand(uint64_t *state);

/* Fills msg[0..len) with a self-checking message for sequence number seq (len >= 0): the first
 * 8 bytes hold seq, the next 8 a hash over the rest (when len >= 16); shorter messages hold a
 * prefix of the sequence number. t_msg_check returns 1 when msg matches seq and len. */
void t_msg_fill(void *msg, size_t len, uint64_t seq);
int t_msg_check(const void *msg, size_t len, uint64_t seq);

/* Forks; the child runs fn(arg) and _exits with its return value. Returns the pid. */
pid_t t_spawn(int (*fn)(void *), void *arg);
/* Waits for pid; returns its exit status, or 128 + signal if it was killed. */
int t_wait(pid_t pid);

/* 1 if /dev/shm/<name> exists. */
int t_shm_exists(const char *name);

/* Milliseconds on the monotonic clock. */
int64_t t_now_ms(void);

#endif
