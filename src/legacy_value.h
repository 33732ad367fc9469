/* SPDX-License-Identifier: MIT */
/* The legacy SetSharedMem/GetSharedMem value: a seqlocked string in the data area of a mapping
 * flagged SHMRING__F_LEGACY. This layer works on memory it is given (the header's legacy_seq and
 * legacy_cur, and the data bytes), like the ring protocol: no handle, no names, no system calls.
 * What needs the operating system (the setters' lock, the "is a setter alive" question, waiting)
 * is the caller's: src/compat.c over a real mapping, tests/test_legacy_value.c and
 * tests/fuzz/fuzz_legacy.c over heap memory.
 *
 * The value is one string: hdr->legacy_cur holds offset << 32 | length, and hdr->legacy_seq is a
 * seqlock counter over it.
 *  - Usually the new string fits beside the current one: the value always sits flush-left or
 *    flush-right, so the free bytes form one block, and the new string goes to the other end.
 *    The setter bumps seq by 2 (LW1), writes the bytes, then publishes cur (LR1). A setter that
 *    dies anywhere in this leaves the previous value intact and current.
 *  - When old + new do not fit together, it overwrites in place: seq becomes odd (LW3), bytes,
 *    cur, seq even again (LR2). A setter that dies here leaves seq odd; getters then report the
 *    empty string (SHMRING_EOWNERDEAD), never a torn one, until the next set repairs the value.
 * Getters take no lock: they copy, then retry if seq moved. Every value read from the header is
 * checked before use; another process may be hostile. */
#ifndef SHMRING_LEGACY_VALUE_H
#define SHMRING_LEGACY_VALUE_H

#include <stdint.h>

#include "layout.h"

/* Longest value in bytes, without its NUL (SHMRING_COMPAT_MAX_STRING of shmring_compat.h). */
#define SHMRING__LV_MAX 3072u

struct shmring__lv {
    struct shmring__hdr *hdr; /* legacy_seq and legacy_cur */
    uint8_t *data;            /* the data area */
    uint64_t cap;             /* its bytes: from the caller's mapping size, never the header */
    /* Process-local, shared by every thread of the caller's process: 1 while one of them
     * overwrites in place. Its setter lock is invisible to the other threads (one lock owner per
     * process), so this is how they tell it from a dead setter. */
    _Atomic int *local_writer;
    /* 1 if a setter of another process holds the setters' lock, 0 if nobody does, or a negative
     * code (counted as "held": waiting is bounded, a false "dead" would hide a value). */
    int (*setter_lock_held)(void *ctx);
    /* Called between read attempts of shmring__lv_get (round 0, 1, ...): 0 to try again, or a
     * negative code to give up with (SHMRING_ETIMEDOUT). The caller spins, yields or sleeps. */
    int (*pause)(void *ctx, uint32_t round);
    void *ctx;
};

/* Writes s[0..n) as the new value; n is cut to SHMRING__LV_MAX and to cap. The caller holds the
 * setters' lock, which excludes every other setter of every process. Returns the bytes stored. */
uint64_t shmring__lv_set(const struct shmring__lv *v, const char *s, uint64_t n);

/* Copies the value into buf[0..cch) (cch >= 1), cut to cch - 1 bytes and NUL-terminated.
 * 0; or "" and SHMRING_EOWNERDEAD (a setter died overwriting), SHMRING_EPROTO (corrupt bounds),
 * SHMRING_EINVAL (cch 0), or what pause() gave up with. */
int shmring__lv_get(const struct shmring__lv *v, char *buf, uint64_t cch);

/* The byte copies the seqlock races through (src/legacy_copy.c). A file of their own, so that a
 * test can wrap the setter's copy at link time (-Wl,--wrap=shmring__lv_bytes_in) to pause or
 * stop a setter in the middle of it. */
void shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n);
void shmring__lv_bytes_out(char *dst, const uint8_t *src, uint64_t n);

#endif /* SHMRING_LEGACY_VALUE_H */
