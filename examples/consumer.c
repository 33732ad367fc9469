/* SPDX-License-Identifier: MIT */
/* consumer NAME: prints every message of the ring NAME until its producer closes or dies. */
#include <shmring.h>
#include <errno.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "demo";
    shmring *r;
    int err = shmring_open(name, SHMRING_CONSUMER, NULL, &r);
    if (err < 0) {
        fprintf(stderr, "consumer: open %s: %s\n", name, shmring_strerror(err));
        return 1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = shmring_recv_wait(r, buf, sizeof buf, -1)) >= 0) {
        printf("%.*s\n", (int)n, buf);
    }
    if (n != -EPIPE) { /* -EPIPE: the producer closed and everything was read */
        fprintf(stderr, "consumer: recv: %s\n", shmring_strerror((int)n));
    }
    shmring_close(r);
    return n == -EPIPE ? 0 : 1;
}
