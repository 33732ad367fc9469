/* SPDX-License-Identifier: MIT */
/* pingpong [ROUNDS]: two processes bounce an 8-byte message over two rings and print the
 * median and 99th-percentile round trip, busy-polling and then sleeping in the blocking calls. */
#include <errno.h>
#include <shmring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sends v and waits for it to come back. Busy: non-blocking calls in a loop. */
static int bounce(shmring *out, shmring *in, uint64_t v, int busy)
{
    uint64_t got = 0;
    int err;
    ssize_t n;
    if (busy) {
        while ((err = shmring_send(out, &v, sizeof v)) == -EAGAIN) {
        }
        while ((n = shmring_recv(in, &got, sizeof got)) == -EAGAIN) {
        }
    } else {
        err = shmring_send_wait(out, &v, sizeof v, -1);
        n = err < 0 ? err : shmring_recv_wait(in, &got, sizeof got, -1);
    }
    if (err < 0 || n < 0) {
        fprintf(stderr, "pingpong: %s\n", shmring_strerror(err < 0 ? err : (int)n));
        return -1;
    }
    return got == v ? 0 : -1;
}

static int echo(const char *ping, const char *pong, long rounds)
{
    shmring *in, *out;
    if (shmring_open(ping, SHMRING_CONSUMER, NULL, &in) < 0 ||
        shmring_open(pong, SHMRING_PRODUCER, NULL, &out) < 0) {
        return 1;
    }
    for (int busy = 1; busy >= 0; busy--) {
        for (long i = 0; i < rounds; i++) {
            uint64_t v;
            ssize_t n;
            if (busy) {
                while ((n = shmring_recv(in, &v, sizeof v)) == -EAGAIN) {
                }
                while (n >= 0 && shmring_send(out, &v, sizeof v) == -EAGAIN) {
                }
            } else {
                n = shmring_recv_wait(in, &v, sizeof v, -1);
                if (n >= 0) {
                    shmring_send_wait(out, &v, sizeof v, -1);
                }
            }
            if (n < 0) {
                return 1;
            }
        }
    }
    shmring_close(in);
    shmring_close(out);
    return 0;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (rounds < 1) {
        rounds = 1;
    }
    char ping[64], pong[64];
    snprintf(ping, sizeof ping, "pingpong-a-%d", (int)getpid());
    snprintf(pong, sizeof pong, "pingpong-b-%d", (int)getpid());
    shmring *out, *in;
    if (shmring_open(ping, SHMRING_PRODUCER, NULL, &out) < 0 ||
        shmring_open(pong, SHMRING_CONSUMER, NULL, &in) < 0) {
        fprintf(stderr, "pingpong: cannot open rings\n");
        return 1;
    }
    fflush(NULL); /* the child must not inherit unflushed output */
    pid_t pid = fork();
    if (pid == 0) {
        _exit(echo(ping, pong, rounds));
    }
    int64_t *rtt = malloc(sizeof *rtt * (size_t)rounds);
    int rc = 0;
    for (int busy = 1; busy >= 0 && rc == 0; busy--) {
        for (long i = 0; i < rounds; i++) {
            int64_t t0 = now_ns();
            if (bounce(out, in, (uint64_t)i, busy) < 0) {
                rc = 1;
                break;
            }
            rtt[i] = now_ns() - t0;
        }
        if (rc == 0) {
            qsort(rtt, (size_t)rounds, sizeof *rtt, cmp64);
            const int64_t median = rtt[rounds / 2], p99 = rtt[(rounds * 99) / 100];
            printf("%-9s round trip, 8 bytes: median %6.2f us, p99 %6.2f us (%ld rounds)\n",
                   busy ? "busy-poll" : "sleeping", (double)median / 1e3, (double)p99 / 1e3,
                   rounds);
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    free(rtt);
    shmring_close(out);
    shmring_close(in);
    return rc || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}
