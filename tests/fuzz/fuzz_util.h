/* SPDX-License-Identifier: MIT */
/* Helpers shared by the fuzz targets. They are self-contained (no CMocka, no testutil) so that a
 * target builds both as a libFuzzer binary and, with replay_main.c, as a plain regression test. */
#ifndef SHMRING_FUZZ_UTIL_H
#define SHMRING_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A finding: print where and why, then abort so libFuzzer (or CTest) reports the input. */
#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Heap memory aligned to 8 bytes, freed with fz_aligned_free (msvcrt has no aligned_alloc). */
static inline void *fz_aligned_alloc(size_t size)
{
#ifdef _WIN32
    return _aligned_malloc(size ? size : 1, 8);
#else
    return aligned_alloc(8, size);
#endif
}

static inline void fz_aligned_free(void *p)
{
#ifdef _WIN32
    _aligned_free(p);
#else
    free(p);
#endif
}

/* Reads the input as a stream; past its end every read is 0, so any input is a valid program. */
struct fz_in {
    const uint8_t *p;
    size_t n, i;
};

static inline int fz_more(const struct fz_in *in)
{
    return in->i < in->n;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
    return in->i < in->n ? in->p[in->i++] : 0;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
    uint16_t lo = fz_u8(in);
    return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

static inline uint64_t fz_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ULL;
    }
    return h;
}

static inline uint64_t fz_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

/* A self-checking payload: byte i of message seq is a function of (seq, len, i). */
static inline uint8_t fz_byte(uint64_t seq, uint64_t len, uint64_t i)
{
    uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ULL ^ (len << 20) ^ (i * 0xff51afd7ed558ccdULL);
    return (uint8_t)(x >> 56 ^ x >> 23 ^ x);
}

static inline void fz_fill(void *msg, uint64_t len, uint64_t seq)
{
    uint8_t *m = msg;
    for (uint64_t i = 0; i < len; i++) {
        m[i] = fz_byte(seq, len, i);
    }
}

/* Index of the first wrong byte, or len when the message is intact. */
static inline uint64_t fz_verify(const void *msg, uint64_t len, uint64_t seq)
{
    const uint8_t *m = msg;
    for (uint64_t i = 0; i < len; i++) {
        if (m[i] != fz_byte(seq, len, i)) {
            return i;
        }
    }
    return len;
}

/* Touches every byte of a region the library handed us, so AddressSanitizer sees an
 * out-of-bounds pointer even where the caller would not read the bytes. */
static inline uint64_t fz_touch(const void *p, uint64_t len)
{
    return fz_hash(p, (size_t)len);
}

/* A ring name unique to this process: "<prefix>-<pid>-<tag>" (prefix from SHMRING_TEST_PREFIX
 * when CTest sets it, so parallel tests never share a name). */
static inline const char *fz_name(const char *tag)
{
    static char buf[4][128];
    static unsigned next;
    const char *prefix = getenv("SHMRING_TEST_PREFIX");
    char *s = buf[next++ % 4];
    snprintf(s, sizeof buf[0], "%s-%d-%s", prefix ? prefix : "fz", (int)getpid(), tag);
    return s;
}

#endif
