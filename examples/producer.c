/* SPDX-License-Identifier: MIT */
/* producer NAME [COUNT]: sends COUNT text messages (default 10) to the ring NAME, waiting when
 * the ring is full, then closes so the consumer sees the end of the stream. */
#include <shmring.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "demo";
    long count = argc > 2 ? strtol(argv[2], NULL, 10) : 10;
    shmring *r;
    int err = shmring_open(name, SHMRING_PRODUCER, NULL, &r);
    if (err < 0) {
        fprintf(stderr, "producer: open %s: %s\n", name, shmring_strerror(err));
        return 1;
    }
    for (long i = 0; i < count; i++) {
        char msg[64];
        int len = snprintf(msg, sizeof msg, "message %ld", i);
        err = shmring_send_wait(r, msg, (size_t)len, -1); /* -1: wait as long as it takes */
        if (err < 0) {
            fprintf(stderr, "producer: send: %s\n", shmring_strerror(err));
            break;
        }
    }
    shmring_close(r);
    return err < 0 ? 1 : 0;
}
