/* SPDX-License-Identifier: MIT */
/* Fuzz target (a): arbitrary bytes as the content of a mapping.
 *
 * Whatever the bytes, the library must not crash, hang, or touch memory outside the mapping,
 * and every call must return a documented code. The same bytes go through:
 *  1. the ring protocol over heap memory of exactly the mapping's size (AddressSanitizer catches
 *     any access past it): shmring__ring_check, then a consumer that drains with peek/consume/
 *     publish (the pattern of shmring_drain), then a producer and a consumer interleaved;
 *  2. when the size is a multiple of the page size, a real named object written with those bytes
 *     (/dev/shm; on Windows a planted section, fuzz_obj.h), re-wrapped below:
 *     bytes: shmring_open as consumer (recv, peek/release, drain, recv_wait), as producer (send,
 *     reserve/commit), as observer (stats), and the set/get mapping's validation;
 *  3. when the library has the SetSharedMem/GetSharedMem calls (src/compat.c), the same bytes
 *     written over the attached set/get mapping, then GetSharedMem and SetSharedMem.
 *
 * Input: at least 768 bytes are the mapping itself (cut to a multiple of 8, at most 64 KiB).
 * Shorter inputs are a small program instead, so the fuzzer reaches deep states quickly: a size,
 * a start position, some messages written through the real producer, then patches (byte, word
 * and index overwrites) at chosen places. Both forms are described at build_patched(). */
#include <stdint.h>

#include "fuzz_obj.h"
#include "fuzz_util.h"
#include "handle.h"
#include "platform.h"
#include "ring.h"
#include "ring_mp.h"
#include "shmring.h"
#ifdef FZ_HAVE_COMPAT
#include "shmring_compat.h"
#endif

#define MIN_RING  (SHMRING_HEADER_SIZE + 2 * SHMRING__LINE) /* smallest size ring_check accepts */
#define MAX_HEAP  (64u * 1024)
#define MAX_NAMED (16u * 1024)
#define PAGE      4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t sink; /* keeps fz_touch() from being optimised away */

static int in_set(long v, const long *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i] == v) {
            return 1;
        }
    }
    return 0;
}
#undef IN /* windows.h: an empty SAL annotation */
#define IN(v, ...)                                                                                 \
    in_set((long)(v), (const long[]){__VA_ARGS__}, sizeof((long[]){__VA_ARGS__}) / sizeof(long))

/* ---- building the mapping ------------------------------------------------------------------ */

static uint64_t pick_len(uint64_t *rng, uint64_t max_msg)
{
    uint64_t x = fz_rand(rng);
    switch (x & 7) {
    case 0:
        return 0;
    case 1:
        return max_msg;
    case 2:
        return max_msg + 1 + (x >> 8) % 64; /* too large */
    case 3:
        return (x >> 8) % (max_msg + 1);
    default:
        return (x >> 8) % 40;
    }
}

static uint32_t interesting32(uint8_t v, uint64_t cap, uint64_t max_msg)
{
    static const uint32_t fixed[] = {0,
                                     1,
                                     7,
                                     8,
                                     9,
                                     0x7fffffff,
                                     0x80000000,
                                     0xffffffff,
                                     0xfffffff8,
                                     0xfffffff0,
                                     0x10000,
                                     SHMRING__REC_MSG,
                                     SHMRING__REC_PAD,
                                     SHMRING_LAYOUT_VERSION,
                                     2,
                                     3};
    switch (v % 8) {
    case 0:
        return (uint32_t)(cap - 8);
    case 1:
        return (uint32_t)(cap - 16 - (v / 8) * 8);
    case 2:
        return (uint32_t)max_msg;
    case 3:
        return (uint32_t)max_msg + 1;
    case 4:
        return (uint32_t)cap;
    case 5:
        return v / 8;
    default:
        return fixed[(v / 8) % (sizeof fixed / sizeof fixed[0])];
    }
}

static uint64_t interesting64(uint8_t v, uint64_t old, uint64_t cap)
{
    // NOLINTNEXTLINE(bugprone-signed-char-misuse,cert-str34-c): the sign extension is the point
    int64_t k = (int8_t)v;
    switch (v % 8) {
    case 0:
        return old + (uint64_t)(k * 8);
    case 1:
        return old + (uint64_t)k; /* misaligned */
    case 2:
        return old + cap + (uint64_t)(k * 8);
    case 3:
        return old - cap + (uint64_t)(k * 8);
    case 4:
        return (uint64_t)k * 8;
    case 5:
        return UINT64_MAX - (uint64_t)(v / 8) * 8 + 1;
    case 6:
        return (1ULL << 63) + (uint64_t)k * 8;
    default:
        return old ^ (1ULL << (v % 64));
    }
}

static int field_offset(uint8_t which)
{
    static const int offs[] = {
        (int)offsetof(struct shmring__hdr, tail),
        (int)offsetof(struct shmring__hdr, head),
        (int)offsetof(struct shmring__hdr, magic),
        (int)offsetof(struct shmring__hdr, version),
        (int)offsetof(struct shmring__hdr, total_size),
        (int)offsetof(struct shmring__hdr, capacity),
        (int)offsetof(struct shmring__hdr, max_msg),
        (int)offsetof(struct shmring__hdr, flags),
        (int)offsetof(struct shmring__hdr, legacy_seq),
        (int)offsetof(struct shmring__hdr, legacy_cur),
        (int)offsetof(struct shmring__hdr, producer_state),
        (int)offsetof(struct shmring__hdr, consumer_state),
        (int)offsetof(struct shmring__hdr, consumer_waiting),
        (int)offsetof(struct shmring__hdr, producer_waiting),
        (int)offsetof(struct shmring__hdr, header_size),
        (int)offsetof(struct shmring__hdr, generation),
    };
    return offs[which % (sizeof offs / sizeof offs[0])];
}

/* Short-input form, read as a stream (missing bytes are 0):
 *   sel      size = {768, 776, 1024, 1544, 4096, 4096, 8192, 12288}[sel & 7];
 *            sel & 8: persistent (so that opening the object keeps its messages);
 *            sel & 16: a set/get mapping (SHMRING__F_LEGACY) instead of a queue
 *   pos      head = tail = pos * 104, or (pos & 0x80) just below 2^64 (positions wrap)
 *   nmsg     messages written through the producer (nmsg & 63), lengths from a generator
 *   seed     seeds that generator
 *   ncons    of which the consumer takes ncons % (n + 1)
 *   then 4-byte patches {kind, off16, value} until the input ends:
 *     kind & 3: 0 byte := value; 1 u32 := interesting32(value); 2 u64 := interesting64(value);
 *               3 u64 += (int8)value
 *     kind >> 2 & 3: where: 0 anywhere in the header; 1 a record header in the data area;
 *               2 anywhere; 3 a named header field (off16 picks which) */
static uint8_t *build_patched(const uint8_t *d, size_t n, uint64_t *size_out)
{
    static const uint64_t sizes[8] = {768, 776, 1024, 1544, 4096, 4096, 8192, 12288};
    struct fz_in in = {d, n, 0};
    uint8_t sel = fz_u8(&in);
    uint64_t size = sizes[sel & 7];
    uint8_t *mem = fz_aligned_alloc((size_t)size);
    FZ_CHECK(mem != NULL, "out of memory");
    memset(mem, 0xA5, (size_t)size);
    uint32_t flags = ((sel & 8) ? SHMRING__F_PERSIST : 0) | ((sel & 16) ? SHMRING__F_LEGACY : 0);
    FZ_CHECK(shmring__ring_format(mem, size, flags) == 0, "format %llu", (unsigned long long)size);
    struct shmring__hdr *h = (struct shmring__hdr *)mem;
    uint8_t posb = fz_u8(&in);
    uint64_t pos = (posb & 0x80) ? 0 - (uint64_t)(posb & 0x7f) * 64 : (uint64_t)posb * 104;
    atomic_store_explicit(&h->head, pos, memory_order_relaxed);
    atomic_store_explicit(&h->tail, pos, memory_order_relaxed);

    struct shmring__prod p;
    struct shmring__cons c;
    FZ_CHECK(shmring__prod_attach(&p, mem, size) == 0, "prod_attach on a fresh ring");
    FZ_CHECK(shmring__cons_attach(&c, mem, size) == 0, "cons_attach on a fresh ring");
    unsigned nmsg = fz_u8(&in) & 63u;
    uint64_t rng = fz_u8(&in) + 1;
    unsigned sent = 0;
    for (; sent < nmsg; sent++) {
        uint64_t len = pick_len(&rng, p.max_msg);
        if (len > p.max_msg) {
            len = p.max_msg;
        }
        void *slot;
        if (shmring__prod_reserve(&p, len, &slot) != 0) {
            break;
        }
        fz_fill(slot, len, sent);
        shmring__prod_commit(&p, len);
        shmring__prod_publish(&p);
    }
    unsigned ncons = fz_u8(&in) % (sent + 1);
    for (unsigned i = 0; i < ncons; i++) {
        const void *msg;
        int64_t len = shmring__cons_peek(&c, &msg);
        FZ_CHECK(len >= 0, "peek of a message just written: %lld", (long long)len);
        FZ_CHECK(fz_verify(msg, (uint64_t)len, i) == (uint64_t)len, "message %u corrupt", i);
        shmring__cons_consume(&c);
        shmring__cons_publish(&c);
    }

    uint64_t cap = size - SHMRING_HEADER_SIZE;
    while (fz_more(&in)) {
        uint8_t kind = fz_u8(&in);
        uint16_t off16 = fz_u16(&in);
        uint8_t v = fz_u8(&in);
        uint64_t off;
        switch ((kind >> 2) & 3) {
        case 0:
            off = off16 % SHMRING_HEADER_SIZE;
            break;
        case 1:
            off = SHMRING_HEADER_SIZE + (off16 % cap & ~(uint64_t)7) + ((kind >> 4) & 1) * 4;
            break;
        case 2:
            off = off16 % size;
            break;
        default:
            off = (uint64_t)field_offset((uint8_t)off16);
            break;
        }
        switch (kind & 3) {
        case 0:
            mem[off] = v;
            break;
        case 1: {
            off &= ~(uint64_t)3;
            uint32_t x = interesting32(v, cap, p.max_msg);
            memcpy(mem + off, &x, 4);
            break;
        }
        case 2:
        case 3: {
            off &= ~(uint64_t)7;
            uint64_t x;
            memcpy(&x, mem + off, 8);
            x = (kind & 3) == 2 ? interesting64(v, x, cap) : x + (uint64_t)(int64_t)(int8_t)v;
            memcpy(mem + off, &x, 8);
            break;
        }
        }
    }
    *size_out = size;
    return mem;
}

static uint8_t *build(const uint8_t *d, size_t n, uint64_t *size_out)
{
    if (n < MIN_RING) {
        return build_patched(d, n, size_out);
    }
    uint64_t size = (n < MAX_HEAP ? n : MAX_HEAP) & ~(uint64_t)7;
    uint8_t *mem = fz_aligned_alloc((size_t)size);
    FZ_CHECK(mem != NULL, "out of memory");
    memcpy(mem, d, (size_t)size);
    *size_out = size;
    return mem;
}

/* ---- 1. the ring protocol over heap memory ------------------------------------------------- */

/* Heap memory of exactly `size` bytes: any access past it is an AddressSanitizer report. */
static uint8_t *heap_copy(const uint8_t *content, uint64_t size)
{
    uint8_t *mem = fz_aligned_alloc((size_t)size);
    FZ_CHECK(mem != NULL, "out of memory");
    memcpy(mem, content, (size_t)size);
    return mem;
}

static void check_msg(const uint8_t *data, uint64_t cap, uint64_t max_msg, const void *msg,
                      int64_t len)
{
    const uint8_t *m = msg;
    FZ_CHECK(len >= 0 && (uint64_t)len <= max_msg, "length %lld > max_msg %llu", (long long)len,
             (unsigned long long)max_msg);
    FZ_CHECK(m >= data + SHMRING__REC_HDR && m + len <= data + cap,
             "message [%td, +%lld) outside the data area of %llu bytes", m - data, (long long)len,
             (unsigned long long)cap);
    FZ_CHECK((uintptr_t)(m - data) % SHMRING__ALIGN == 0, "message not aligned");
    sink += fz_touch(m, (uint64_t)len);
}

/* Liveness of producer slots as the input says: one bit of the seed per slot. */
static int fz_alive(void *ctx, uint32_t slot)
{
    return (int)((*(uint64_t *)ctx >> (slot % 64)) & 1);
}

/* A multi-producer header: its consumer drains, asking about uncommitted records with
 * liveness from the seed, and a producer sends once. Each step moves head or ends the loop. */
static void heap_mp(uint8_t *mem, uint64_t size, uint64_t seed)
{
    struct shmring__mcons c;
    int r = shmring__mcons_attach(&c, mem, size);
    FZ_CHECK(IN(r, 0, SHMRING_EPROTO), "mcons_attach returned %d", r);
    if (r != 0) {
        return;
    }
    uint64_t bound = c.v.cap / SHMRING__ALIGN + 2, i = 0;
    for (; i < bound; i++) {
        const void *msg;
        uint64_t rsize, head0 = c.head;
        int64_t len = shmring__mcons_next(&c, &msg, &rsize);
        FZ_CHECK(c.head - head0 <= c.v.cap, "one call skipped more than the data area");
        if (len >= 0) {
            check_msg(c.v.data, c.v.cap, c.v.max_msg, msg, len);
            shmring__mcons_advance(&c, rsize, (uint64_t)len);
            /* Sometimes only whole lines, as shmring_recv does; zeroed never passes head. */
            const int mode = (int)(i % 3); /* each SHMRING__MP_PUB_* */
            shmring__mcons_publish_part(&c, mode);
            uint64_t z = atomic_load_explicit(&c.v.hdr->zeroed, memory_order_relaxed);
            FZ_CHECK(c.head - z < (mode == SHMRING__MP_PUB_ALL ? 1 : SHMRING__MP_LINE) &&
                         z % SHMRING__ALIGN == 0,
                     "published zeroed %llu for head %llu", (unsigned long long)z,
                     (unsigned long long)c.head);
            continue;
        }
        FZ_CHECK(IN(len, SHMRING_EAGAIN, SHMRING_EBADMSG, SHMRING_EPROTO),
                 "mcons_next returned %lld", (long long)len);
        if (len != SHMRING_EAGAIN || !c.stalled) {
            if (len == SHMRING_EAGAIN && c.head != head0) {
                continue; /* this call skipped padding: look again (at a lap past zeroed,
                           * that look moves nothing and ends the loop) */
            }
            break; /* empty (dirty only says that an earlier skip is not published yet) */
        }
        uint64_t before = c.head;
        r = shmring__mcons_resolve(&c, fz_alive, &seed);
        FZ_CHECK(IN(r, 1, 0, SHMRING_EAGAIN, SHMRING_EBADMSG, SHMRING_EPROTO),
                 "resolve returned %d", r);
        FZ_CHECK(r != 1 || c.head > before, "resolve skipped nothing");
        FZ_CHECK(c.head - before <= c.v.cap, "resolve skipped more than the data area");
        if (r != 1) {
            break;
        }
    }
    FZ_CHECK(i < bound, "multi-producer consumer read more than the ring holds");
    struct shmring__mprod p;
    if (shmring__mprod_attach(&p, mem, size, (uint32_t)(seed % c.v.nslots)) == 0) {
        r = shmring__mprod_send(&p, "fuzz", 4);
        FZ_CHECK(IN(r, 0, SHMRING_EAGAIN, SHMRING_EPROTO), "mprod_send returned %d", r);
    }
}

static void heap_consumer(const uint8_t *content, uint64_t size, uint64_t seed)
{
    uint8_t *mem = heap_copy(content, size);
    int r = shmring__ring_check(mem, size);
    if (r == 0 && (((struct shmring__hdr *)mem)->flags & SHMRING__F_MPSC)) {
        heap_mp(mem, size, seed);
        fz_aligned_free(mem);
        return;
    }
    FZ_CHECK(IN(r, 0, SHMRING_EPROTO, SHMRING_EAGAIN), "ring_check returned %d", r);
    struct shmring__cons c;
    if (r == 0 && (r = shmring__cons_attach(&c, mem, size)) == 0) {
        /* Nobody moves tail here, so at most cap / 8 records can be read: more is a loop. */
        uint64_t bound = c.cap / SHMRING__ALIGN + 2;
        uint64_t rng = seed;
        uint64_t i = 0;
        for (; i < bound; i++) {
            const void *msg;
            uint64_t head0 = c.head, to_end0 = c.cap - c.ridx;
            int64_t len = shmring__cons_peek(&c, &msg);
            /* A peek moves head only to skip padding: at most one record, up to the end of the
             * data area, and never from offset 0 (no producer pads there; see ring.h). */
            FZ_CHECK(c.head - head0 <= (to_end0 == c.cap ? 0 : to_end0),
                     "one peek skipped %llu bytes from offset %llu",
                     (unsigned long long)(c.head - head0), (unsigned long long)(c.cap - to_end0));
            if (len < 0) {
                FZ_CHECK(IN(len, SHMRING_EAGAIN, SHMRING_EBADMSG, SHMRING_EPROTO),
                         "peek returned %lld", (long long)len);
                FZ_CHECK(len == SHMRING_EAGAIN || c.broken == len, "broken not set for %lld",
                         (long long)len);
                if (c.dirty) {
                    shmring__cons_publish(&c);
                }
                break;
            }
            check_msg(c.data, c.cap, c.max_msg, msg, len);
            /* A second peek before consuming returns the same message. */
            const void *again;
            FZ_CHECK(shmring__cons_peek(&c, &again) == len && again == msg, "peek not stable");
            shmring__cons_consume(&c);
            /* As shmring_drain: publish when caught up with the cached tail; sometimes more. */
            if (c.head == c.tail_cache || (fz_rand(&rng) & 3) == 0) {
                shmring__cons_publish(&c);
            }
        }
        FZ_CHECK(i < bound, "consumer read more than the ring holds");
        uint64_t head = atomic_load_explicit(&c.hdr->head, memory_order_relaxed);
        FZ_CHECK(head % SHMRING__ALIGN == 0, "published a misaligned head");
    } else {
        FZ_CHECK(IN(r, 0, SHMRING_EPROTO, SHMRING_EAGAIN), "cons_attach returned %d", r);
    }
    fz_aligned_free(mem);
}

static void heap_both(const uint8_t *content, uint64_t size, uint64_t seed)
{
    uint8_t *mem = heap_copy(content, size);
    struct shmring__prod p;
    struct shmring__cons c;
    if (shmring__ring_check(mem, size) != 0) {
        fz_aligned_free(mem);
        return;
    }
    int pr = shmring__prod_attach(&p, mem, size);
    int cr = shmring__cons_attach(&c, mem, size);
    FZ_CHECK(IN(pr, 0, SHMRING_EPROTO) && pr == cr, "attach: producer %d, consumer %d", pr, cr);
    if (pr != 0) {
        fz_aligned_free(mem);
        return;
    }
    uint64_t rng = seed ^ 0x5bd1e995;
    uint64_t seq = 0;
    for (int step = 0; step < 96; step++) {
        uint64_t x = fz_rand(&rng);
        if ((x & 1) && !p.broken) {
            uint64_t len = pick_len(&rng, p.max_msg);
            void *slot;
            int r = shmring__prod_reserve(&p, len, &slot);
            if (r != 0) {
                FZ_CHECK(IN(r, SHMRING_EAGAIN, SHMRING_EMSGSIZE, SHMRING_EPROTO),
                         "reserve returned %d", r);
                FZ_CHECK(r != SHMRING_EMSGSIZE || len > p.max_msg, "EMSGSIZE for %llu",
                         (unsigned long long)len);
                p.resv_open = 0;
                continue;
            }
            uint8_t *s = slot;
            FZ_CHECK(s >= p.data + SHMRING__REC_HDR && s + len <= p.data + p.cap,
                     "slot [%td, +%llu) outside the data area", s - p.data,
                     (unsigned long long)len);
            memset(s, 0x5A, (size_t)len); /* the whole reservation is ours to write */
            uint64_t final = (x >> 8) % (len + 1);
            fz_fill(s, final, seq++);
            shmring__prod_commit(&p, final);
            shmring__prod_publish(&p);
        } else if (!c.broken) {
            const void *msg;
            int64_t len = shmring__cons_peek(&c, &msg);
            if (len < 0) {
                FZ_CHECK(IN(len, SHMRING_EAGAIN, SHMRING_EBADMSG, SHMRING_EPROTO),
                         "peek returned %lld", (long long)len);
                continue;
            }
            check_msg(c.data, c.cap, c.max_msg, msg, len);
            shmring__cons_consume(&c);
            shmring__cons_publish(&c);
        }
    }
    fz_aligned_free(mem);
}

/* ---- 2. a real named object (/dev/shm, or a section on Windows) ------------------------------ */

struct bounds {
    const uint8_t *lo, *hi; /* the mapping's data area */
    uint64_t rng;
    uint64_t calls;
};

static void check_in_mapping(const struct bounds *b, const void *msg, size_t len)
{
    const uint8_t *m = msg;
    FZ_CHECK(m >= b->lo + SHMRING__REC_HDR && m + len <= b->hi,
             "message [%td, +%zu) outside the mapping's data area of %td bytes", m - b->lo, len,
             b->hi - b->lo);
    sink += fz_touch(m, len);
}

static int on_msg(void *ctx, const void *msg, size_t len)
{
    struct bounds *b = ctx;
    check_in_mapping(b, msg, len);
    b->calls++;
    return (fz_rand(&b->rng) & 7) == 0; /* sometimes stop early */
}

static struct bounds bounds_of(shmring *r, uint64_t seed)
{
    struct bounds b;
    b.lo = (const uint8_t *)r->seg.hdr + SHMRING_HEADER_SIZE;
    b.hi = (const uint8_t *)r->seg.hdr + r->seg.size;
    b.rng = seed;
    b.calls = 0;
    return b;
}

static void named_consumer(const char *name, uint64_t size, uint64_t seed)
{
    static uint8_t buf[MAX_NAMED];
    struct shmring_opts opts = {0};
    shmring *r = NULL;
    int rc = shmring_open(name, SHMRING_CONSUMER, &opts, &r);
    FZ_CHECK(IN(rc, 0, SHMRING_EPROTO), "open as consumer: %d", rc);
    if (rc != 0) {
        return;
    }
    FZ_CHECK(r->seg.size == size, "mapped %llu of %llu bytes", (unsigned long long)r->seg.size,
             (unsigned long long)size);
    struct bounds b = bounds_of(r, seed);
    uint64_t rng = seed;
    size_t max_msg = shmring_max_msg(r);
    uint64_t bound = shmring_capacity(r) / SHMRING__ALIGN + 4;
    int sticky =
        0; /* SHMRING_EBADMSG/SHMRING_EPROTO once seen must be returned by every later call */
    int peeked = 0;
    uint64_t it = 0;
    for (; it < bound; it++) {
        uint64_t x = fz_rand(&rng);
        shmring_ssize res;
        switch (x % 5) {
        case 0:
        case 1: {
            static const size_t caps[] = {0, 1, 8, 16, 100};
            size_t cap = (x >> 8) & 1 ? max_msg : caps[(x >> 9) % 5];
            res = shmring_recv(r, buf, cap);
            if (peeked && res != SHMRING_EINVAL && !sticky) {
                FZ_CHECK(0, "recv with a message peeked returned %td", res);
            }
            if (res >= 0) {
                FZ_CHECK((size_t)res <= cap, "recv returned %td for a %zu-byte buffer", res, cap);
                sink += fz_touch(buf, (uint64_t)res);
            }
            break;
        }
        case 2: {
            const void *msg = NULL;
            res = shmring_peek(r, &msg);
            if (res >= 0) {
                check_in_mapping(&b, msg, (size_t)res);
                peeked = 1;
                if ((x >> 8) & 1) {
                    FZ_CHECK(shmring_release(r) == 0, "release after a peek");
                    peeked = 0;
                }
            }
            break;
        }
        case 3:
            if (peeked) {
                FZ_CHECK(shmring_release(r) == 0, "release after a peek");
                peeked = 0;
            }
            res = shmring_drain(r, on_msg, &b, (x >> 8) % 4);
            FZ_CHECK(res != SHMRING_EAGAIN, "drain returned SHMRING_EAGAIN");
            break;
        default:
            if (peeked) {
                FZ_CHECK(shmring_release(r) == 0, "release after a peek");
                peeked = 0;
            }
            /* A short wait must end on time: the content cannot stretch it. */
            if (((x >> 8) & 15) == 0) {
                int64_t t0 = shmring__plat_now_ns();
                res = shmring_recv_wait(r, buf, max_msg, 200000);
                int64_t ms = (shmring__plat_now_ns() - t0) / 1000000;
                FZ_CHECK(ms < 2000, "recv_wait(200 us) took %lld ms", (long long)ms);
                FZ_CHECK(res != SHMRING_EAGAIN, "recv_wait returned SHMRING_EAGAIN");
                if (res == SHMRING_ETIMEDOUT) {
                    res = SHMRING_EAGAIN;
                }
            } else {
                res = shmring_recv(r, buf, max_msg);
            }
            break;
        }
        if (res >= 0) {
            FZ_CHECK(!sticky, "a call succeeded after %d", sticky);
            continue;
        }
        FZ_CHECK(IN(res, SHMRING_EAGAIN, SHMRING_EMSGSIZE, SHMRING_EBADMSG, SHMRING_EPROTO,
                    SHMRING_EPIPE, SHMRING_EINVAL),
                 "consumer call returned %td (%s)", res, shmring_strerror((int)res));
        FZ_CHECK(res != SHMRING_EINVAL || peeked, "SHMRING_EINVAL without a peeked message");
        if (sticky) {
            FZ_CHECK(res == sticky, "returned %td after %d", res, sticky);
        }
        if (res == SHMRING_EBADMSG || res == SHMRING_EPROTO) {
            sticky = (int)res;
        }
        if (res == SHMRING_EAGAIN || res == SHMRING_EPIPE || (sticky && (x & 3) == 0)) {
            break;
        }
    }
    FZ_CHECK(it < bound, "consumer read more messages than the mapping can hold");
    struct shmring_stats st;
    FZ_CHECK(shmring_stats(r, &st) == 0, "stats");
    /* A multi-producer ring's data area starts after its producer slots. (On POSIX a consumer
     * alone on a non-persistent mapping re-formats it as a single-producer ring; on Windows the
     * planted section counts as a live peer, so every kind is attached as it is.) */
    uint64_t hdr_size = r->mp_slots ? shmring__mp_header_size(r->mp_slots) : SHMRING_HEADER_SIZE;
    FZ_CHECK(st.size == size && st.capacity == size - hdr_size,
             "stats sizes: %llu, capacity %llu of a %llu-byte mapping", (unsigned long long)st.size,
             (unsigned long long)st.capacity, (unsigned long long)size);
    FZ_CHECK(shmring_close(r) == 0, "close");
}

static void named_producer(const char *name, uint64_t size, uint64_t seed)
{
    struct shmring_opts opts = {0};
    shmring *r = NULL;
    int rc = shmring_open(name, SHMRING_PRODUCER, &opts, &r);
    FZ_CHECK(IN(rc, 0, SHMRING_EPROTO), "open as producer: %d", rc);
    if (rc != 0) {
        return;
    }
    const uint8_t *lo = (const uint8_t *)r->seg.hdr + SHMRING_HEADER_SIZE;
    const uint8_t *hi = (const uint8_t *)r->seg.hdr + size;
    static uint8_t msg[MAX_NAMED];
    uint64_t rng = seed * 3 + 1;
    int sticky = 0;
    for (int i = 0; i < 24; i++) {
        uint64_t len = pick_len(&rng, shmring_max_msg(r));
        long res;
        if (fz_rand(&rng) & 1) {
            res = shmring_send(r, msg, (size_t)len);
        } else {
            void *slot = NULL;
            res = shmring_reserve(r, (size_t)len, &slot);
            if (res == 0) {
                uint8_t *s = slot;
                FZ_CHECK(s >= lo + SHMRING__REC_HDR && s + len <= hi,
                         "slot [%td, +%llu) outside the data area", s - lo,
                         (unsigned long long)len);
                memset(s, 0x3C, (size_t)len);
                FZ_CHECK(shmring_commit(r, (size_t)len) == 0, "commit");
            }
        }
        if (res == 0) {
            FZ_CHECK(!sticky, "a send succeeded after SHMRING_EPROTO");
            continue;
        }
        FZ_CHECK(IN(res, SHMRING_EAGAIN, SHMRING_EMSGSIZE, SHMRING_EPROTO, SHMRING_EPIPE),
                 "producer call returned %ld", res);
        FZ_CHECK(res != SHMRING_EMSGSIZE || len > shmring_max_msg(r), "EMSGSIZE for %llu",
                 (unsigned long long)len);
        if (res == SHMRING_EPROTO) {
            sticky = 1;
        }
    }
    FZ_CHECK(shmring_close(r) == 0, "close");
}

static void named_observer_and_legacy(const char *name, const uint8_t *mem, uint64_t size)
{
    struct shmring_opts opts = {0};
    shmring *r = NULL;
    int rc = shmring_open(name, SHMRING_OBSERVER, &opts, &r);
    FZ_CHECK(IN(rc, 0, SHMRING_EPROTO), "open as observer: %d", rc);
    if (rc == 0) {
        struct shmring_stats st;
        FZ_CHECK(shmring_stats(r, &st) == 0, "stats");
        shmring_close(r);
    }
    /* The set/get mapping goes through the same validation with the legacy flag required. */
    fz_obj_remove(name);
    fz_obj_write(name, mem, size);
    rc = shmring__open(name, SHMRING__ROLE_LEGACY, &opts, SHMRING__F_LEGACY, &r);
    FZ_CHECK(IN(rc, 0, SHMRING_EPROTO), "open as legacy: %d", rc);
    if (rc == 0) {
        FZ_CHECK(r->hdr->flags & SHMRING__F_LEGACY, "legacy open of a queue");
        shmring_close(r);
    }
}

static void named(const uint8_t *mem, uint64_t size, uint64_t seed)
{
    const char *name = fz_name("map");
    fz_obj_write(name, mem, size);
    named_consumer(name, size, seed);
    fz_obj_remove(name);
    fz_obj_write(name, mem, size);
    named_producer(name, size, seed);
    fz_obj_remove(name);
    fz_obj_write(name, mem, size);
    named_observer_and_legacy(name, mem, size);
    fz_obj_remove(name);
}

/* ---- 3. the set/get calls over the same bytes --------------------------------------------------
 */

#ifdef FZ_HAVE_COMPAT
static void legacy_calls(const uint8_t *mem, uint64_t size, uint64_t seed)
{
    static int opened;
    static struct fz_peer peer;
    if (!opened) {
        /* One set/get mapping for the process, created by the library itself. Its content is
         * then overwritten with each input through a second descriptor (a second view on
         * Windows) of the same object: exactly what a hostile process with write access could
         * do at any moment. */
        const char *name = fz_name("compat");
        fz_setenv("SHMRING_COMPAT_NAME", name);
        fz_obj_remove(name); /* left over from an earlier crash (POSIX) */
        char tmp[4];
        GetSharedMem(tmp, sizeof tmp);
        FZ_CHECK(shmring_compat_status() == 0, "attach the set/get mapping: %d",
                 shmring_compat_status());
        peer = fz_peer_open(name);
        opened = 1;
    }
    if (size != SHMRING_COMPAT_SIZE) {
        return;
    }
    fz_peer_write(&peer, mem, size);
    static char out[SHMRING_COMPAT_SIZE + 64];
    static const unsigned cchs[] = {1, 2, 17, 3073, SHMRING_COMPAT_SIZE + 64};
    for (int round = 0; round < 2; round++) {
        unsigned cch = cchs[(seed >> (round * 3)) % 5];
        memset(out, 0x7f, sizeof out);
        GetSharedMem(out, (int)cch); /* cchs[] are all within int */
        int st = shmring_compat_status();
        FZ_CHECK(IN(st, 0, SHMRING_EPROTO, SHMRING_EOWNERDEAD, SHMRING_ETIMEDOUT),
                 "GetSharedMem status %d", st);
        size_t n = strnlen(out, cch);
        FZ_CHECK(n < cch, "GetSharedMem wrote no NUL within %u bytes", cch);
        /* A value no setter wrote (a peer scribbled legacy_cur) may be longer than the
         * documented maximum, but never longer than the data area. */
        FZ_CHECK(n <= SHMRING_COMPAT_SIZE - SHMRING_HEADER_SIZE, "value of %zu bytes", n);
        for (size_t i = cch; i < sizeof out; i++) {
            FZ_CHECK(out[i] == 0x7f, "GetSharedMem wrote byte %zu of a %u-byte buffer", i, cch);
        }
        if (st != 0) {
            FZ_CHECK(n == 0, "an error with a non-empty value");
        }
        if (round == 0) {
            /* A set over the hostile content must stay inside the mapping and repair it. */
            char val[64];
            snprintf(val, sizeof val, "fuzz-%llu", (unsigned long long)seed);
            SetSharedMem(val);
            st = shmring_compat_status();
            FZ_CHECK(IN(st, 0, SHMRING_EPROTO, SHMRING_ETIMEDOUT, SHMRING_EOWNERDEAD),
                     "SetSharedMem status %d", st);
        }
    }
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t msize;
    uint8_t *mem = build(data, size, &msize);
    uint64_t seed = fz_hash(data, size);
    heap_consumer(mem, msize, seed);
    heap_both(mem, msize, seed);
    if (msize % PAGE == 0 && msize <= MAX_NAMED) {
        named(mem, msize, seed);
    }
#ifdef FZ_HAVE_COMPAT
    legacy_calls(mem, msize, seed);
#endif
    fz_aligned_free(mem);
    return 0;
}
