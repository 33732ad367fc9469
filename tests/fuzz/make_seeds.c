/* SPDX-License-Identifier: MIT */
/* Writes the seed corpora of the fuzz targets (tests/fuzz/corpus_<target>/). The committed
 * seeds came from this program; run it again after a layout change:
 *   cmake --build build-fuzz --target fuzz_make_seeds && build-fuzz/tests/fuzz/fuzz_make_seeds
 * tests/fuzz Seeds are valid starting points (rings with messages, padding, wrapped positions,
 * persistent and set/get mappings); the fuzzer mutates them into the invalid ones. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "ring.h"

static const char *dir;

static void save(const char *target, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/corpus_%s", dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/corpus_%s/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    fclose(f);
}

/* A ring of `size` bytes starting at `pos`, with messages of the given lengths sent and the
 * first `consumed` of them received. */
static uint8_t *ring(uint64_t size, uint32_t flags, uint64_t pos, const uint64_t *lens, int n,
                     int consumed)
{
    uint8_t *mem = aligned_alloc(8, size);
    memset(mem, 0, size);
    shmring__ring_format(mem, size, flags);
    struct shmring__hdr *h = (struct shmring__hdr *)mem;
    atomic_store(&h->head, pos);
    atomic_store(&h->tail, pos);
    struct shmring__prod p;
    struct shmring__cons c;
    shmring__prod_attach(&p, mem, size);
    shmring__cons_attach(&c, mem, size);
    for (int i = 0; i < n; i++) {
        void *slot;
        if (shmring__prod_reserve(&p, lens[i], &slot) != 0) {
            break;
        }
        fz_fill(slot, lens[i], (uint64_t)i);
        shmring__prod_commit(&p, lens[i]);
        shmring__prod_publish(&p);
    }
    for (int i = 0; i < consumed; i++) {
        const void *msg;
        if (shmring__cons_peek(&c, &msg) < 0) {
            break;
        }
        shmring__cons_consume(&c);
        shmring__cons_publish(&c);
    }
    atomic_store(&h->producer_state, SHMRING__PEER_CLOSED);
    return mem;
}

static void mapping_seeds(void)
{
    const uint32_t P = SHMRING__F_PERSIST;
    uint64_t mixed[] = {0, 1, 7, 8, 9, 100, 1000, 16, 300, 1784};
    uint64_t small[64];
    for (int i = 0; i < 64; i++) {
        small[i] = (uint64_t)(i * 37 % 120);
    }
    uint64_t big[] = {1500, 1700, 1200, 1784, 900};
    uint8_t *m;
    m = ring(4096, 0, 0, NULL, 0, 0);
    save("mapping", "empty-4096", m, 4096);
    free(m);
    m = ring(4096, P, 0, mixed, 10, 3);
    save("mapping", "persist-mixed-4096", m, 4096);
    free(m);
    /* The last records padded to the end, the next ones at offset 0. */
    m = ring(4096, P, 2000, big, 5, 2);
    save("mapping", "persist-padding-4096", m, 4096);
    free(m);
    m = ring(4096, P, 0 - 4096, mixed, 10, 1); /* positions cross 2^64 */
    save("mapping", "persist-wrap64-4096", m, 4096);
    free(m);
    m = ring(8192, P, 12345 * 8, small, 64, 10);
    save("mapping", "persist-small-8192", m, 8192);
    free(m);
    m = ring(1024, P, 200, mixed, 10, 2);
    save("mapping", "heap-1024", m, 1024);
    free(m);
    m = ring(768, 0, 0, small, 8, 0);
    save("mapping", "heap-768", m, 768);
    free(m);
    m = ring(4096, P | SHMRING__F_LEGACY, 0, NULL, 0, 0);
    {
        /* A set/get value as the legacy calls keep it: a seqlock and (offset << 32 | length). */
        struct shmring__hdr *h = (struct shmring__hdr *)m;
        const char *v = "This is a test string";
        memcpy(m + SHMRING_HEADER_SIZE, v, strlen(v) + 1);
        atomic_store(&h->legacy_seq, 2);
        atomic_store(&h->legacy_cur, (uint64_t)strlen(v));
    }
    save("mapping", "legacy-4096", m, 4096);
    free(m);
    m = calloc(1, 4096);
    save("mapping", "zero-4096", m, 4096);
    free(m);

    /* The short form (see build_patched in fuzz_mapping.c). */
    const uint8_t p1[] = {0x0c, 0x00, 20, 7};
    save("mapping", "prog-persist-20", p1, sizeof p1);
    const uint8_t p2[] = {0x0c, 0x85, 12, 3, 2, 0x0e, 0x00, 0x00, 0x01};
    save("mapping", "prog-wrap-tail", p2, sizeof p2);
    const uint8_t p3[] = {0x08, 0x10, 30, 9, 4, 0x05, 0x10, 0x00, 0x03, 0x04, 0x20, 0x01, 0x07};
    save("mapping", "prog-records", p3, sizeof p3);
    const uint8_t p4[] = {0x02, 0x00, 40, 1, 0, 0x0f, 0x01, 0x00, 0x10};
    save("mapping", "prog-heap-head", p4, sizeof p4);
    const uint8_t p5[] = {0x1c, 0x00, 0, 0, 0, 0x0e, 0x09, 0x00, 0x21, 0x0e, 0x08, 0x00, 0x01};
    save("mapping", "prog-legacy", p5, sizeof p5);
}

/* fuzz_api: byte 0 size, byte 1 start position, then operations (see fuzz_api.c). */
static void api_seeds(void)
{
    const uint8_t basic[] = {0, 0, 0, 5, 6, 0xff, 0, 40, 1, 0x80, 6, 0xc0, 6, 0xc0, 6, 0, 14};
    save("api", "basic", basic, sizeof basic);
    /* Large messages: padding at the end of the data area, then a full ring. */
    const uint8_t wrap[] = {0, 0x40, 0, 0x80, 0, 0x80, 6, 0xc0, 0, 0x81, 0, 0x82, 6, 0xc0,
                            0, 0x80, 6, 0xc0, 6, 0xc0, 0, 0x83, 0, 0x80, 0, 0x80, 14};
    save("api", "wrap", wrap, sizeof wrap);
    const uint8_t resv[] = {1, 0xc0, 2, 0x45, 3, 1, 2, 0x80, 4, 2, 0x82, 3, 0xff,
                            3, 2,    8, 8,    9, 9, 2, 10,   3, 0, 10,   0, 0};
    save("api", "reserve", resv, sizeof resv);
    const uint8_t batch[] = {0,    0x80, 5,    4,    3, 0x40, 0, 0x80, 0x81, 10, 2, 0, 5, 8,
                             0x80, 0x80, 0x80, 0x80, 1, 2,    3, 4,    10,   0,  0, 5, 0, 14};
    save("api", "batch", batch, sizeof batch);
    const uint8_t restart[] = {0, 0xc5, 0, 30,   11, 6,    10, 6,    0,  11,   0,
                               9, 12,   0, 0x80, 0,  0x80, 0,  0x80, 0,  0x80, 0x1d,
                               0, 0x80, 1, 12,   8,  10,   0,  0,    14, 0x0f, 0x0f};
    save("api", "restart", restart, sizeof restart);
    const uint8_t waits[] = {0,    0, 0x2d, 0,    1, 0x3d, 1,    0x0d, 0x10, 1, 0x1d,
                             0x10, 0, 0x0d, 0x82, 1, 0x0d, 0x82, 0,    0x2d, 0, 1};
    save("api", "waits", waits, sizeof waits);
    const uint8_t misuse[] = {1,    3, 0x0f, 0, 0x0f, 1, 0x0f, 2, 0x0f, 3,    0x0f, 4,
                              0x0f, 5, 0x0f, 6, 3,    0, 4,    9, 0,    0xff, 6,    0x7e};
    save("api", "misuse", misuse, sizeof misuse);
    /* A long random program biased to sends and receives. */
    uint8_t rnd[600];
    uint64_t s = 42;
    rnd[0] = 1;
    rnd[1] = 0x41;
    for (size_t i = 2; i < sizeof rnd; i++) {
        uint64_t x = fz_rand(&s);
        rnd[i] = (uint8_t)((i % 3 == 2) ? ((x & 1) ? 0 : 6) : x >> 24);
    }
    save("api", "random", rnd, sizeof rnd);
}

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : "tests/fuzz";
    mapping_seeds();
    api_seeds();
    printf("seeds written to %s/corpus_*\n", dir);
    return 0;
}
