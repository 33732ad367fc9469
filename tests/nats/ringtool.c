/* SPDX-License-Identifier: MIT */
/* The ends of the NATS bridge tests: a producer of numbered, checksummed messages of random
 * sizes, and a consumer that checks every one (exactly once, in order).
 *   nats_ringtool gen RING COUNT [--seed S] [--max LEN] [--size BYTES] [--rate MSGS_PER_S]
 *   nats_ringtool check RING COUNT [--seed S] [--max LEN] [--size BYTES] [--stall SECONDS]
 *                 [--gaps] [--latency]
 *   nats_ringtool bgen RING COUNT SIZE [--rate R]    benchmark: SIZE-byte messages (>= 8)
 *   nats_ringtool bcheck RING COUNT                   holding the send time; bcheck prints
 *                                                     msgs_per_s (first to last) and latency
 * Message seq (1-based) has the length len_of(seq), 16..max bytes drawn from (seed, seq), holds
 * seq and a checksum (t_msg_fill), and from byte 16 on, with --latency, the send time.
 * Both sides open their ring persistent so that it outlives a bridge killed with SIGKILL; gen
 * continues after the last message already in the ring (a restarted generator), check reports
 * the first wrong message and exits 1, or 2 after --stall seconds without progress. With --gaps
 * (core mode) missing messages are counted, not an error; duplicates and disorder still are. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static uint64_t seed = 1;
static size_t max_len = 512;

static size_t len_of(uint64_t seq)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + seq;
    uint64_t h = t_hash(&x, sizeof x);
    return 16 + (size_t)(h % (max_len - 15));
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Benchmark ends: no checks beyond the count (the tests check content and order). */
static int bench(int is_gen, const char *ring, uint64_t count, int argc, char **argv)
{
    size_t size = argc > 4 && is_gen ? strtoull(argv[4], NULL, 10) : 8;
    double rate = 0;
    for (int i = 5; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--rate") == 0) {
            rate = atof(argv[i + 1]);
        }
    }
    size = size < 8 ? 8 : size;
    struct shmring_opts o = {.size = 16u << 20, .flags = SHMRING_CREATE | SHMRING_PERSIST};
    shmring *r;
    int err = shmring_open(ring, is_gen ? SHMRING_PRODUCER : SHMRING_CONSUMER, &o, &r);
    if (err == SHMRING_EINVAL) {
        o.size = 0;
        err = shmring_open(ring, is_gen ? SHMRING_PRODUCER : SHMRING_CONSUMER, &o, &r);
    }
    if (err < 0) {
        fprintf(stderr, "nats_ringtool: open %s: %s\n", ring, shmring_strerror(err));
        return 2;
    }
    unsigned char *buf = calloc(1, shmring_max_msg(r) + 1);
    if (buf == NULL) {
        fprintf(stderr, "nats_ringtool: out of memory\n");
        return 2;
    }
    if (is_gen) {
        int64_t t0 = now_ns();
        for (uint64_t i = 0; i < count; i++) {
            if (rate > 0) {
                int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
                while (now_ns() < due) {
                }
            }
            int64_t t = now_ns();
            memcpy(buf, &t, 8);
            while ((err = shmring_send_wait(r, buf, size, -1)) == SHMRING_EINTR) {
            }
            if (err != 0) {
                free(buf);
                return 2;
            }
        }
        free(buf);
        shmring_close(r);
        return 0;
    }
    int64_t *lat = malloc(sizeof(int64_t) * (count + 1));
    if (lat == NULL) {
        fprintf(stderr, "nats_ringtool bcheck: out of memory\n");
        free(buf);
        return 2;
    }
    int64_t t0 = 0, last = 0;
    uint64_t i = 0;
    for (; i < count; i++) {
        /* 30 s for the first message, then 3 s: core mode may have lost the rest. */
        shmring_ssize n = shmring_recv_wait(r, buf, shmring_max_msg(r) + 1,
                                            i == 0 ? 30000000000LL : 3000000000LL);
        if (n == SHMRING_ETIMEDOUT && i > 0) {
            break;
        }
        if (n < 8) {
            fprintf(stderr, "nats_ringtool bcheck: %" PRIu64 " of %" PRIu64 " (%s)\n", i, count,
                    n < 0 ? shmring_strerror((int)n) : "short");
            free(lat);
            free(buf);
            return 2;
        }
        int64_t t;
        memcpy(&t, buf, 8);
        int64_t now = now_ns();
        t0 = t0 ? t0 : now;
        lat[i] = now - t;
        last = now;
    }
    double secs = (double)(last - t0) / 1e9;
    qsort(lat, i, sizeof *lat, cmp_i64);
    const int64_t p50 = lat[i / 2], p99 = lat[i * 99 / 100];
    printf("lost %" PRIu64 " msgs %" PRIu64 " secs %.3f msgs_per_s %.0f p50_us %.1f p99_us %.1f\n",
           count - i, i, secs, (double)i / secs, (double)p50 / 1e3, (double)p99 / 1e3);
    free(lat);
    free(buf);
    shmring_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: nats_ringtool gen|check RING COUNT [options]\n");
        return 2;
    }
    const char *mode = argv[1], *ring = argv[2];
    uint64_t count = strtoull(argv[3], NULL, 10);
    if (strcmp(mode, "bgen") == 0 || strcmp(mode, "bcheck") == 0) {
        return bench(mode[1] == 'g', ring, count, argc, argv);
    }
    uint64_t size = 4u << 20;
    double stall = 60, rate = 0;
    int gaps = 0, latency = 0;
    for (int i = 4; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "0";
        if (strcmp(argv[i], "--seed") == 0) {
            seed = strtoull(v, NULL, 10), i++;
        } else if (strcmp(argv[i], "--max") == 0) {
            max_len = strtoull(v, NULL, 10), i++;
        } else if (strcmp(argv[i], "--size") == 0) {
            size = strtoull(v, NULL, 10), i++;
        } else if (strcmp(argv[i], "--stall") == 0) {
            stall = atof(v), i++;
        } else if (strcmp(argv[i], "--rate") == 0) {
            rate = atof(v), i++;
        } else if (strcmp(argv[i], "--gaps") == 0) {
            gaps = 1;
        } else if (strcmp(argv[i], "--latency") == 0) {
            latency = 1;
        } else {
            fprintf(stderr, "nats_ringtool: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (max_len < 24) {
        max_len = 24;
    }
    int is_gen = strcmp(mode, "gen") == 0;
    struct shmring_opts o = {.size = size, .flags = SHMRING_CREATE | SHMRING_PERSIST};
    shmring *r;
    int err = shmring_open(ring, is_gen ? SHMRING_PRODUCER : SHMRING_CONSUMER, &o, &r);
    if (err == SHMRING_EINVAL) {
        o.size = 0;
        err = shmring_open(ring, is_gen ? SHMRING_PRODUCER : SHMRING_CONSUMER, &o, &r);
    }
    if (err < 0) {
        fprintf(stderr, "nats_ringtool: open %s: %s\n", ring, shmring_strerror(err));
        return 2;
    }
    if (max_len > shmring_max_msg(r)) {
        max_len = shmring_max_msg(r);
    }
    int rc = 0;
    int64_t *lat = NULL;
    unsigned char *buf = malloc(shmring_max_msg(r) + 1);
    if (buf == NULL) {
        rc = 2;
        goto out;
    }
    if (is_gen) {
        /* A restarted generator continues after what it already sent (the bookmark). */
        uint64_t seq = 1, v;
        if (shmring_get_bookmark(r, &v) == 0) {
            seq = v + 1;
        }
        int64_t t0 = now_ns();
        for (uint64_t k = 0; seq <= count; seq++, k++) {
            size_t len = len_of(seq);
            t_msg_fill(buf, len, seq);
            if (latency && len >= 24) {
                int64_t t = now_ns();
                memcpy(buf + 16, &t, 8); /* after the checksum: checked by seq and length */
            }
            if (rate > 0) {
                int64_t due = t0 + (int64_t)((double)k * 1e9 / rate);
                while (now_ns() < due) {
                }
            }
            shmring_set_bookmark(r, seq);
            while ((err = shmring_send_wait(r, buf, len, 1000000000LL)) == SHMRING_ETIMEDOUT ||
                   err == SHMRING_EPIPE) {
                if (err == SHMRING_EPIPE) {
                    struct timespec ts = {0, 50000000};
                    nanosleep(&ts, NULL);
                }
            }
            if (err != 0) {
                fprintf(stderr, "nats_ringtool gen: send %" PRIu64 ": %s\n", seq,
                        shmring_strerror(err));
                rc = 2;
                goto out;
            }
        }
        goto out;
    }
    /* check */
    uint64_t next = 1, missing = 0, got = 0;
    int64_t last_progress = now_ns();
    lat = latency ? malloc(sizeof(int64_t) * (count + 1)) : NULL;
    uint64_t nlat = 0;
    while (next <= count) {
        shmring_ssize n = shmring_recv_wait(r, buf, shmring_max_msg(r) + 1, 200000000LL);
        if (n < 0) {
            if (now_ns() - last_progress > (int64_t)(stall * 1e9)) {
                fprintf(stderr,
                        "nats_ringtool check: no message for %.0f s: received %" PRIu64
                        ", expected message %" PRIu64 " of %" PRIu64 "\n",
                        stall, got, next, count);
                rc = 2;
                goto out;
            }
            continue;
        }
        last_progress = now_ns();
        uint64_t seq = 0;
        memcpy(&seq, buf, n >= 8 ? 8 : (size_t)n);
        if (gaps && seq > next && seq <= count) {
            missing += seq - next;
            next = seq;
        }
        if (seq != next || (size_t)n != len_of(next) || !t_msg_check(buf, (size_t)n, next)) {
            fprintf(stderr,
                    "nats_ringtool check: message %" PRIu64 " wrong: got seq %" PRIu64
                    " length %zd (want %zu)%s\n",
                    next, seq, n, len_of(next),
                    seq < next   ? " - a duplicate or disorder"
                    : seq > next ? " - a loss"
                                 : "");
            rc = 1;
            goto out;
        }
        if (lat != NULL && n >= 24) {
            int64_t t;
            memcpy(&t, buf + 16, 8);
            lat[nlat++] = now_ns() - t;
        }
        got++;
        next++;
    }
    printf("ok %" PRIu64 " messages, %" PRIu64 " missing\n", got, missing);
    if (lat != NULL && nlat > 0) {
        qsort(lat, nlat, sizeof *lat, cmp_i64);
        const int64_t p50 = lat[nlat / 2], p99 = lat[nlat * 99 / 100];
        printf("latency_us p50 %.1f p99 %.1f\n", (double)p50 / 1e3, (double)p99 / 1e3);
    }
out:
    free(lat);
    free(buf);
    shmring_close(r);
    return rc;
}
