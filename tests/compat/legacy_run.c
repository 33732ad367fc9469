/* SPDX-License-Identifier: MIT */
/* Runs the classic two-program scenario with real executables and checks it:
 *
 *   legacy_run SETTER SETTER_ARG GETTER GETTER_ARG EXPECTED      (an ARG of "-" means none)
 *
 * 1. starts SETTER and waits for its first line of output (it has set the string by then);
 * 2. runs GETTER while SETTER still runs and checks that its first line is EXPECTED;
 * 3. checks that the name exists (SETTER is attached), ends SETTER by closing its standard
 *    input, and checks that SETTER exited with 0 and that the name is gone (last detacher).
 * The name is $SHMRING_COMPAT_NAME (CTest sets a unique one), else "dllmemfilemap". */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t start(const char *exe, const char *arg, int *in_fd, int *out_fd)
{
    int in[2];
    int out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        if (strcmp(arg, "-") == 0) {
            execl(exe, exe, (char *)NULL);
        } else {
            execl(exe, exe, arg, (char *)NULL);
        }
        fprintf(stderr, "exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    *in_fd = in[1];
    *out_fd = out[0];
    return pid;
}

/* Reads the first line (without the newline) within timeout_ms; -1 on timeout or EOF. */
static int read_line(int fd, char *line, size_t cap, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, timeout_ms);
        if (r <= 0) {
            return -1;
        }
        ssize_t got = read(fd, line + n, 1);
        if (got <= 0) {
            return -1;
        }
        if (line[n] == '\n') {
            break;
        }
        n++;
    }
    line[n] = '\0';
    return 0;
}

/* Waits up to timeout_ms for pid; returns its exit status, 128 + signal, or -1 (then kills it). */
static int wait_for(pid_t pid, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
        }
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

static int shm_exists(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return stat(path, &st) == 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: legacy_run SETTER SETTER_ARG GETTER GETTER_ARG EXPECTED\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *name = getenv("SHMRING_COMPAT_NAME");
    if (name == NULL || name[0] == '\0') {
        name = "dllmemfilemap";
    }
    int set_in;
    int set_out;
    pid_t setter = start(argv[1], argv[2], &set_in, &set_out);
    char line[4096];
    if (read_line(set_out, line, sizeof line, 10000) != 0) {
        fprintf(stderr, "FAIL: the setter printed nothing within 10 s\n");
        kill(setter, SIGKILL);
        return 1;
    }
    printf("setter: %s\n", line);

    int get_in;
    int get_out;
    pid_t getter = start(argv[3], argv[4], &get_in, &get_out);
    close(get_in);
    int ok = 1;
    if (read_line(get_out, line, sizeof line, 10000) != 0) {
        fprintf(stderr, "FAIL: the getter printed nothing within 10 s\n");
        ok = 0;
    } else {
        printf("getter: %s\n", line);
        if (strcmp(line, argv[5]) != 0) {
            fprintf(stderr, "FAIL: the getter printed \"%s\", expected \"%s\"\n", line, argv[5]);
            ok = 0;
        }
    }
    int rc = wait_for(getter, 10000);
    if (rc != 0) {
        fprintf(stderr, "FAIL: the getter exited with %d\n", rc);
        ok = 0;
    }
    if (!shm_exists(name)) {
        fprintf(stderr, "FAIL: /dev/shm/%s is missing while the setter runs\n", name);
        ok = 0;
    }
    if (write(set_in, "\n", 1) != 1) {
        fprintf(stderr, "FAIL: cannot talk to the setter\n");
        ok = 0;
    }
    close(set_in);
    rc = wait_for(setter, 10000);
    if (rc != 0) {
        fprintf(stderr, "FAIL: the setter exited with %d\n", rc);
        ok = 0;
    }
    if (shm_exists(name)) {
        fprintf(stderr, "FAIL: /dev/shm/%s is left after every process exited\n", name);
        ok = 0;
    }
    printf("%s\n", ok ? "legacy pair: ok" : "legacy pair: FAILED");
    return ok ? 0 : 1;
}
