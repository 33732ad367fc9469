#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *t_name(const char *tag)
{
    static char slots[8][256];
    static unsigned next;
    const char *prefix = getenv("SHMRING_TEST_PREFIX");
    char *s = slots[next++ % 8];
    snprintf(s, sizeof slots[0], "%s-%d-%s", prefix ? prefix : "shmring-test", (int)getpid(), tag);
    return s;
}

uint64_t t_hash(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

uint64_t t_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

void t_msg_fill(void *msg, size_t len, uint64_t seq)
{
    unsigned char *m = msg;
    unsigned char seqb[8];
    memcpy(seqb, &seq, 8);
    if (len < 16) {
        memcpy(m, seqb, len < 8 ? len : 8);
        for (size_t i = 8; i < len; i++) {
            m[i] = (unsigned char)(seq * 31 + i);
        }
        return;
    }
    memcpy(m, seqb, 8);
    uint64_t x = seq * 0x9e3779b97f4a7c15ull + len;
    for (size_t i = 16; i < len; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        m[i] = (unsigned char)(x >> 56);
    }
    uint64_t h = t_hash(m + 16, len - 16) ^ len;
    memcpy(m + 8, &h, 8);
}

int t_msg_check(const void *msg, size_t len, uint64_t seq)
{
    unsigned char want[16];
    const unsigned char *m = msg;
    if (len < 16) {
        unsigned char *buf = malloc(len ? len : 1);
        t_msg_fill(buf, len, seq);
        int ok = memcmp(buf, m, len) == 0;
        free(buf);
        return ok;
    }
    memcpy(want, &seq, 8);
    if (memcmp(want, m, 8) != 0) {
        return 0;
    }
    uint64_t h = t_hash(m + 16, len - 16) ^ len;
    return memcmp(&h, m + 8, 8) == 0;
}

pid_t t_spawn(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc);
    }
    return pid;
}

int t_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (WIFSIGNALED(st)) {
        return 128 + WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}

int t_shm_exists(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return stat(path, &st) == 0;
}

int64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
