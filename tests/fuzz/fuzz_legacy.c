/* SPDX-License-Identifier: MIT */
/* Fuzz target (c): the legacy value protocol (src/legacy_value.h) over heap memory of exactly the
 * mapping's size, driven by a small program in the input.
 *
 * Input: a u16 picks the mapping size (1024 + 8 * (v % 385): 1024 to 4096 bytes); then opcodes:
 *   0 set:   u16 length (cut to 4100), bytes are a self-checking pattern of a per-set seed
 *   1 get:   u16 buffer size (cut to 4100; 0 allowed)
 *   2 poke:  u8 selector, u64-ish value from 8 bytes: overwrites legacy_seq or legacy_cur
 *   3 bytes: u16 offset, u8 count, bytes: scribbles on the data area
 *   4 lock:  u8: what "is the setters' lock held" answers from now on (0, 1 or an error)
 * Whatever the bytes, get must only ever return 0, SHMRING_EPROTO, SHMRING_EOWNERDEAD,
 * SHMRING_ETIMEDOUT or SHMRING_EINVAL (cch 0), always NUL-terminated within cch, and never read
 * or write outside the region (AddressSanitizer). A model checks values: after a set and until
 * the next poke or scribble, every get returns exactly that value, cut to the buffer. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "legacy_value.h"
#include "ring.h"

#define MAX_SIZE 4096u
#define MAX_ARG  4100u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fl {
    int lock_held;
    uint32_t rounds;
};

static int lock_held(void *ctx)
{
    return ((struct fl *)ctx)->lock_held;
}

static int give_up(void *ctx, uint32_t round)
{
    (void)ctx;
    return round >= 40 ? SHMRING_ETIMEDOUT : 0; /* bounded: 40 rounds, then "timed out" */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = {data, size, 0};
    uint64_t msize = 1024 + 8 * (uint64_t)(fz_u16(&in) % 385);
    uint8_t *mem = fz_aligned_alloc((size_t)msize);
    FZ_CHECK(mem != NULL, "out of memory");
    FZ_CHECK(shmring__ring_format(mem, msize, SHMRING__F_LEGACY) == 0, "format %llu",
             (unsigned long long)msize);
    struct fl ctx = {0, 0};
    _Atomic int local = 0;
    struct shmring__lv v = {(struct shmring__hdr *)mem,
                            mem + SHMRING_HEADER_SIZE,
                            msize - SHMRING_HEADER_SIZE,
                            &local,
                            lock_held,
                            give_up,
                            &ctx};
    static char val[MAX_ARG + 1], buf[MAX_ARG + 1];
    int known = 1; /* the model knows the value, val[0..vlen): a fresh one is "" */
    uint64_t vlen = 0;
    uint64_t seed = 0;
    for (int op = 0; op < 256 && fz_more(&in); op++) {
        switch (fz_u8(&in) % 5) {
        case 0: {
            uint64_t n = fz_u16(&in) % (MAX_ARG + 1);
            fz_fill(val, n, ++seed);
            uint64_t stored = shmring__lv_set(&v, val, n);
            uint64_t want = n < SHMRING__LV_MAX ? n : SHMRING__LV_MAX;
            want = want < v.cap ? want : v.cap;
            FZ_CHECK(stored == want, "set %llu stored %llu", (unsigned long long)n,
                     (unsigned long long)stored);
            FZ_CHECK(atomic_load(&local) == 0, "local writer flag left set");
            vlen = stored;
            known = 1;
            break;
        }
        case 1: {
            uint64_t cch = fz_u16(&in) % (MAX_ARG + 1);
            memset(buf, 0x5a, sizeof buf);
            int r = shmring__lv_get(&v, buf, cch);
            if (cch == 0) {
                FZ_CHECK(r == SHMRING_EINVAL, "cch 0 gave %d", r);
                break;
            }
            FZ_CHECK(r == 0 || r == SHMRING_EPROTO || r == SHMRING_EOWNERDEAD ||
                         r == SHMRING_ETIMEDOUT,
                     "get returned %d", r);
            FZ_CHECK(memchr(buf, 0, (size_t)cch) != NULL, "not NUL-terminated within %llu",
                     (unsigned long long)cch);
            if (r != 0) {
                FZ_CHECK(buf[0] == '\0', "error %d with a value", r);
            }
            if (known) {
                uint64_t k = vlen < cch - 1 ? vlen : cch - 1;
                FZ_CHECK(r == 0, "get after a set returned %d", r);
                FZ_CHECK(buf[k] == '\0' && memcmp(buf, val, (size_t)k) == 0,
                         "not the value set (%llu bytes, cut to %llu)", (unsigned long long)vlen,
                         (unsigned long long)k);
            }
            break;
        }
        case 2: {
            uint8_t which = fz_u8(&in);
            uint64_t x = 0;
            for (int i = 0; i < 8; i++) {
                x |= (uint64_t)fz_u8(&in) << (8 * i);
            }
            atomic_store(which & 1 ? &v.hdr->legacy_cur : &v.hdr->legacy_seq, x);
            known = 0;
            break;
        }
        case 3: {
            uint64_t off = fz_u16(&in) % (v.cap != 0 ? v.cap : 1);
            uint8_t n = fz_u8(&in);
            for (uint8_t i = 0; i < n && off + i < v.cap; i++) {
                v.data[off + i] = fz_u8(&in);
            }
            known = 0;
            break;
        }
        default: {
            uint8_t b = fz_u8(&in);
            ctx.lock_held = b % 3 == 2 ? SHMRING_EACCES : b % 3;
            break;
        }
        }
    }
    fz_aligned_free(mem);
    return 0;
}
