/* SPDX-License-Identifier: MIT */
/* Built by scripts/check-install.sh against an installed shmring, once with find_package and once
 * with pkg-config: a producer and a consumer handle in one process pass one message. */
#include <shmring.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "shmring-install-check-%ld", (long)getpid());
    shmring *p, *c;
    int err = shmring_open(name, SHMRING_PRODUCER, NULL, &p);
    if (err == 0 && (err = shmring_open(name, SHMRING_CONSUMER, NULL, &c)) < 0) {
        shmring_close(p);
    }
    if (err < 0) {
        fprintf(stderr, "open: %s\n", shmring_strerror(err));
        return 1;
    }
    char buf[64];
    shmring_ssize n = -1;
    if ((err = shmring_send(p, "hello", 5)) == 0) {
        n = shmring_recv(c, buf, sizeof buf);
    }
    shmring_close(c);
    shmring_close(p);
    if (n != 5 || memcmp(buf, "hello", 5) != 0) {
        fprintf(stderr, "send/recv failed: %s\n", shmring_strerror(err < 0 ? err : (int)n));
        return 1;
    }
    if (strcmp(shmring_version(), SHMRING_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", SHMRING_VERSION_STRING, shmring_version());
        return 1;
    }
    printf("hello from shmring %s\n", shmring_version());
    return 0;
}
