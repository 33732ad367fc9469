/* SPDX-License-Identifier: MIT */
/* demo: a producer process and a consumer process exchange 64-byte messages over the default
 * 4 KiB ring for about a second, then over a pipe, and print both rates. Every message carries
 * a sequence number that the consumer checks. */
#include <errno.h>
#include <shmring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG   64
#define BATCH 4096 /* the producer looks at the clock once per batch */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ring_consumer(const char *name)
{
    shmring *r;
    if (shmring_open(name, SHMRING_CONSUMER, NULL, &r) < 0) {
        return 2;
    }
    char buf[MSG];
    uint64_t want = 0;
    ssize_t n;
    while ((n = shmring_recv_wait(r, buf, sizeof buf, -1)) == MSG) {
        uint64_t seq;
        memcpy(&seq, buf, sizeof seq);
        if (seq != want++) {
            fprintf(stderr, "demo: consumer expected message %llu, got %llu\n",
                    (unsigned long long)(want - 1), (unsigned long long)seq);
            return 3;
        }
    }
    shmring_close(r);
    return n == -EPIPE ? 0 : 4; /* -EPIPE: the producer closed after its last message */
}

static double ring_run(const char *name, double seconds, uint64_t *sent)
{
    shmring *r;
    int err = shmring_open(name, SHMRING_PRODUCER, NULL, &r);
    if (err < 0) {
        fprintf(stderr, "demo: open %s: %s\n", name, shmring_strerror(err));
        return -1;
    }
    printf("ring '%s': %zu-byte data area, largest message %zu bytes\n", name, shmring_capacity(r),
           shmring_max_msg(r));
    fflush(NULL); /* the child must not inherit unflushed output */
    pid_t pid = fork();
    if (pid == 0) {
        _exit(ring_consumer(name));
    }
    char msg[MSG] = {0};
    uint64_t seq = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < seconds) {
        for (int i = 0; i < BATCH; i++, seq++) {
            memcpy(msg, &seq, sizeof seq);
            if ((err = shmring_send_wait(r, msg, sizeof msg, -1)) < 0) {
                fprintf(stderr, "demo: send: %s\n", shmring_strerror(err));
                break;
            }
        }
        t = now_s();
    }
    shmring_close(r); /* the consumer drains the rest, then sees -EPIPE */
    int st;
    waitpid(pid, &st, 0);
    double elapsed = now_s() - t0;
    *sent = seq;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "demo: consumer failed (status %d)\n", st);
        return -1;
    }
    return (double)seq / elapsed;
}

static double pipe_run(double seconds)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    fflush(NULL); /* the child must not inherit unflushed output */
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        char buf[MSG];
        uint64_t want = 0;
        for (;;) {
            size_t got = 0;
            while (got < MSG) {
                ssize_t n = read(fds[0], buf + got, MSG - got);
                if (n <= 0) {
                    _exit(got == 0 && n == 0 ? 0 : 4);
                }
                got += (size_t)n;
            }
            uint64_t seq;
            memcpy(&seq, buf, sizeof seq);
            if (seq != want++) {
                _exit(3);
            }
        }
    }
    close(fds[0]);
    char msg[MSG] = {0};
    uint64_t seq = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < seconds) {
        for (int i = 0; i < BATCH; i++, seq++) {
            memcpy(msg, &seq, sizeof seq);
            if (write(fds[1], msg, MSG) != MSG) {
                break;
            }
        }
        t = now_s();
    }
    close(fds[1]);
    int st;
    waitpid(pid, &st, 0);
    double elapsed = now_s() - t0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? (double)seq / elapsed : -1;
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    if (argc > 1) {
        char *end = NULL;
        seconds = strtod(argv[1], &end);
        if (end == argv[1] || *end != '\0' || !(seconds > 0 && seconds <= 3600)) {
            fprintf(stderr, "usage: demo [SECONDS]   (0 < SECONDS <= 3600, default 1)\n");
            return 2;
        }
    }
    char name[64];
    snprintf(name, sizeof name, "shmring-demo-%d", (int)getpid());
    uint64_t sent = 0;
    double ring = ring_run(name, seconds, &sent);
    if (ring < 0) {
        return 1;
    }
    printf("shmring: %12.0f messages/s (%llu x %d bytes, every one checked)\n", ring,
           (unsigned long long)sent, MSG);
    double pipe_rate = pipe_run(seconds);
    if (pipe_rate < 0) {
        fprintf(stderr, "demo: pipe run failed\n");
        return 1;
    }
    printf("pipe:    %12.0f messages/s\n", pipe_rate);
    printf("shmring is %.1fx a pipe on this machine for %d-byte messages\n", ring / pipe_rate, MSG);
    return 0;
}
