/* SPDX-License-Identifier: MIT */
/* shmring_bench_prof API SIZE MAP ROUNDS: the benchmark's message loop in ONE process, for
 * valgrind (cachegrind, callgrind) and perf: the producer fills the ring, the consumer empties
 * it, ROUNDS times, with the same calls and checks as the benchmark. No spinning, so instruction
 * counts per message are exact and repeatable. API: copy, zerocopy, batch or floor.
 *   valgrind --tool=callgrind build-bench/bench/shmring_bench_prof copy 8 1048576 200 */
#include <errno.h>
#include <fcntl.h>
#include <shmring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "floor.h"

static void stamp(unsigned char *m, size_t size, uint64_t seq)
{
    memcpy(m, &seq, 8);
    if (size >= 16) {
        uint64_t inv = ~seq;
        memcpy(m + size - 8, &inv, 8);
    }
}

static int check(const unsigned char *m, size_t size, uint64_t seq)
{
    uint64_t head, tail = ~seq;
    memcpy(&head, m, 8);
    if (size >= 16) {
        memcpy(&tail, m + size - 8, 8);
    }
    return head == seq && tail == ~seq;
}

static int fail(const char *what, uint64_t seq)
{
    fprintf(stderr, "prof: %s at message %llu\n", what, (unsigned long long)seq);
    return 1;
}

struct drain_ctx {
    unsigned char *buf;
    size_t size;
    uint64_t next;
    int bad;
};

static int handler(void *ctx, const void *msg, size_t len)
{
    struct drain_ctx *d = ctx;
    memcpy(d->buf, msg, len);
    if (len != d->size || !check(d->buf, len, d->next)) {
        d->bad = 1;
        return 1;
    }
    d->next++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s copy|zerocopy|batch|floor SIZE MAP ROUNDS\n", argv[0]);
        return 2;
    }
    const char *api = argv[1];
    size_t size = strtoul(argv[2], NULL, 0), map = strtoul(argv[3], NULL, 0);
    long rounds = strtol(argv[4], NULL, 0);
    unsigned char *buf = calloc(1, size + 64), *tmpl = calloc(1, size + 64);
    for (size_t i = 0; i < size; i++) {
        tmpl[i] = (unsigned char)(i * 131 + 7);
    }
    memcpy(buf, tmpl, size);
    uint64_t seq_out = 0, seq_in = 0;

    if (strcmp(api, "floor") == 0) {
        void *mem = aligned_alloc(4096, map);
        memset(mem, 0, map);
        struct floor_side p, c;
        floor_view(&p, mem, map, size);
        floor_view(&c, mem, map, size);
        for (long r = 0; r < rounds; r++) {
            for (;;) {
                stamp(buf, size, seq_out);
                if (floor_send(&p, buf) != 0) {
                    break;
                }
                seq_out++;
            }
            while (floor_recv(&c, buf) == 0) {
                if (!check(buf, size, seq_in++)) {
                    return fail("floor: wrong message", seq_in - 1);
                }
            }
        }
        printf("floor: %llu messages\n", (unsigned long long)seq_in);
        return 0;
    }

    char name[64];
    snprintf(name, sizeof name, "shmring-prof-%d", (int)getpid());
    /* SHMRING_PROF_MP=1: the same loops on a multi-producer ring with one producer. */
    const char *mp = getenv("SHMRING_PROF_MP");
    struct shmring_opts o = {.size = map,
                             .flags = SHMRING_CREATE | SHMRING_EXCL |
                                      (mp != NULL && *mp == '1' ? SHMRING_MULTI_PRODUCER : 0)};
    struct shmring_opts oc = {.size = map};
    shmring *p, *c;
    int err = shmring_open(name, SHMRING_PRODUCER, &o, &p);
    if (err == 0) {
        err = shmring_open(name, SHMRING_CONSUMER, &oc, &c);
    }
    if (err < 0) {
        fprintf(stderr, "prof: shmring_open(%s): %s\n", name, shmring_strerror(err));
        return 1;
    }
    struct shmring_buf iov[32];
    unsigned char *bufs = calloc(32, size + 64);
    for (int i = 0; i < 32; i++) {
        iov[i].base = bufs + i * (size + 64);
        iov[i].len = size;
        memcpy(bufs + i * (size + 64), tmpl, size);
    }
    for (long r = 0; r < rounds; r++) {
        if (strcmp(api, "copy") == 0) {
            for (;;) {
                stamp(buf, size, seq_out);
                if (shmring_send(p, buf, size) != 0) {
                    break;
                }
                seq_out++;
            }
            ssize_t n;
            while ((n = shmring_recv(c, buf, size)) >= 0) {
                if ((size_t)n != size || !check(buf, size, seq_in++)) {
                    return fail("copy: wrong message", seq_in - 1);
                }
            }
        } else if (strcmp(api, "zerocopy") == 0) {
            void *slot;
            while (shmring_reserve(p, size, &slot) == 0) {
                memcpy(slot, tmpl, size);
                stamp(slot, size, seq_out++);
                shmring_commit(p, size);
            }
            const void *msg;
            ssize_t n;
            while ((n = shmring_peek(c, &msg)) >= 0) {
                if ((size_t)n != size || !check(msg, size, seq_in++)) {
                    return fail("zerocopy: wrong message", seq_in - 1);
                }
                shmring_release(c);
            }
        } else {
            for (;;) {
                for (int i = 0; i < 32; i++) {
                    stamp(bufs + i * (size + 64), size, seq_out + (uint64_t)i);
                }
                int sent = shmring_send_batch(p, iov, 32);
                seq_out += sent > 0 ? (uint64_t)sent : 0;
                if (sent < 32) {
                    break;
                }
            }
            struct drain_ctx d = {buf, size, seq_in, 0};
            while (shmring_drain(c, handler, &d, 0) > 0) {
            }
            if (d.bad) {
                return fail("batch: wrong message", d.next);
            }
            seq_in = d.next;
        }
    }
    printf("%s: %llu messages\n", api, (unsigned long long)seq_in);
    shmring_close(p);
    shmring_close(c);
    return 0;
}
