/* SPDX-License-Identifier: MIT */
/* Issue #10, fault 1: a failed or killed create must leave no trap. Runs in a private mount
 * namespace with a 256 KiB tmpfs on /dev/shm, so that "tmpfs is full" is cheap and touches
 * nobody else. Needs CAP_SYS_ADMIN (root): otherwise it prints why and exits 77 (skipped). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmring_compat.h"
#include "test_lifeutil.h"

#define TMPFS_BYTES (256 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static int sized_without_memory(const char *name, off_t size)
{
    char path[300];
    snprintf(path, sizeof path, "/%s", name);
    int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    TL_CHECK(fd >= 0);
    TL_CHECK(ftruncate(fd, size) == 0); /* what a creator killed right after sizing leaves */
    close(fd);
    return 0;
}

/* Fills the tmpfs; returns the filler's descriptor (unlink /dev/shm/filler to free it). */
static int fill_tmpfs(void)
{
    int fd = open("/dev/shm/filler", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        return -1;
    }
    off_t off = 0;
    for (off_t step = TMPFS_BYTES; step >= 4096; step /= 2) {
        while (posix_fallocate(fd, off, step) == 0) {
            off += step;
        }
    }
    return fd;
}

static void unfill_tmpfs(int fd)
{
    close(fd);
    unlink("/dev/shm/filler");
}

/* Runs fn in a child; its status as t_wait gives it (128 + SIGBUS when it dies of SIGBUS). */
static int in_child(int (*fn)(void *), void *arg)
{
    return t_wait(t_spawn(fn, arg));
}

static int open_default(void *p)
{
    shmring *r = NULL;
    int rc = shmring_open(p, SHMRING_PRODUCER, NULL, &r);
    fprintf(stderr, "open on a full tmpfs: %d (%s)\n", rc, shmring_strerror(rc));
    TL_CHECK_RC(rc, -ENOSPC);
    return 0;
}

static int legacy_set(void *p)
{
    (void)p;
    SetSharedMem("value");
    fprintf(stderr, "SetSharedMem on a full tmpfs: status %d\n", shmring_compat_status());
    TL_CHECK_RC(shmring_compat_status(), -ENOSPC);
    return 0;
}

#ifndef UNDER_ASAN
static int vm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmSize:", 7) == 0) {
            kib = atoi(line + 7);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kib;
}

static int open_under_rlimit_as(void *p)
{
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)(vm_kib() + 64) * 1024;
    TL_CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    struct shmring_opts opts = {.size = 128 * 1024, .flags = SHMRING_CREATE};
    shmring *r = NULL;
    int rc = shmring_open(p, SHMRING_PRODUCER, &opts, &r);
    fprintf(stderr, "open under RLIMIT_AS: %d (%s)\n", rc, shmring_strerror(rc));
    TL_CHECK_RC(rc, -ENOMEM);
    TL_CHECK(!t_shm_exists(p));
    return 0;
}
#endif

static int scenario(void)
{
    shmring *r = NULL;
    /* A create that fails reserving memory leaves nothing, and says -ENOSPC. */
    struct shmring_opts big = {.size = 1024 * 1024, .flags = SHMRING_CREATE};
    int rc = shmring_open("ring", SHMRING_PRODUCER, &big, &r);
    printf("1 MiB ring on a 256 KiB tmpfs: %d (%s); name left: %s\n", rc, shmring_strerror(rc),
           t_shm_exists("ring") ? "yes" : "no");
    TL_CHECK_RC(rc, -ENOSPC);
    TL_CHECK(!t_shm_exists("ring"));
    /* A retry with a size that fits works (it got -EINVAL before). */
    struct shmring_opts small = {.size = 64 * 1024, .flags = SHMRING_CREATE};
    TL_CHECK_RC(shmring_open("ring", SHMRING_PRODUCER, &small, &r), 0);
    TL_CHECK_RC(shmring_send(r, "x", 1), 0);
    TL_CHECK_RC(shmring_close(r), 0);
    TL_CHECK(!t_shm_exists("ring"));

    /* A creator killed after sizing, before reserving: the next opener (re)formats it only
     * after reserving its memory, so a full tmpfs gives -ENOSPC, not SIGBUS. */
    TL_CHECK(sized_without_memory("trap", 128 * 1024) == 0);
    int filler = fill_tmpfs();
    TL_CHECK(filler >= 0);
    int st = in_child(open_default, "trap");
    printf("open of a sized, unreserved object on a full tmpfs: child status %d%s\n", st,
           st == 128 + SIGBUS ? " (SIGBUS)" : "");
    TL_CHECK_RC(st, 0);
    /* The legacy call, promised never to crash. */
    TL_CHECK(sized_without_memory("legacy", SHMRING_COMPAT_SIZE) == 0);
    setenv("SHMRING_COMPAT_NAME", "legacy", 1);
    st = in_child(legacy_set, NULL);
    printf("SetSharedMem on it: child status %d%s\n", st, st == 128 + SIGBUS ? " (SIGBUS)" : "");
    TL_CHECK_RC(st, 0);
    unfill_tmpfs(filler);
    /* With room again, the same names work. */
    TL_CHECK_RC(shmring_open("trap", SHMRING_PRODUCER, NULL, &r), 0);
    TL_CHECK_RC(shmring_send(r, "y", 1), 0);
    TL_CHECK_RC(shmring_close(r), 0);
    TL_CHECK(!t_shm_exists("trap"));
    shm_unlink("/legacy");

    /* A create that fails mapping (RLIMIT_AS) leaves nothing charged to the tmpfs. */
#ifdef UNDER_ASAN
    printf("skipped: the RLIMIT_AS check (AddressSanitizer needs the address space)\n");
#else
    st = in_child(open_under_rlimit_as, "aslimit");
    TL_CHECK_RC(st, 0);
    TL_CHECK(!t_shm_exists("aslimit"));
#endif
    return 0;
}

int main(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        printf("skipped: cannot make a private mount namespace (unshare: %s); needs root\n",
               strerror(errno));
        return 77;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,mode=1777") != 0) {
        printf("skipped: cannot mount a small tmpfs on /dev/shm (%s)\n", strerror(errno));
        return 77;
    }
    tl_subreaper();
    int rc = scenario();
    printf("%s\n", rc == 0 ? "ok" : "FAILED");
    return rc;
}
