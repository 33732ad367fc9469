/* SPDX-License-Identifier: MIT */
/* Runs the classic two-program scenario with real executables and checks it:
 *
 *   legacy_run SETTER SETTER_ARG GETTER GETTER_ARG EXPECTED      (an ARG of "-" means none)
 *
 * 1. starts SETTER and waits for its first line of output (it has set the string by then);
 * 2. runs GETTER while SETTER still runs and checks that its first line is EXPECTED;
 * 3. checks that the name exists (SETTER is attached), ends SETTER by closing its standard
 *    input, and checks that SETTER exited with 0 and that the name is gone (last detacher).
 * The name is $SHMRING_COMPAT_NAME (CTest sets a unique one), else "dllmemfilemap".
 * POSIX: fork/exec, pipes, /dev/shm/<name>. Windows (under wine too): CreateProcess, anonymous
 * pipes, the section Local\shmring-<name>.mem (OpenFileMappingW); the setter ends when its
 * standard input closes, and the section must be gone once both programs exited. */
#ifdef _WIN32
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "t_create_process_win.h"

/* Windows: the programs run with CreateProcess, their standard input and output are anonymous
 * pipes, and the name is the section Local\shmring-<name>.mem. */
typedef HANDLE proc_t;
typedef HANDLE fd_t;

/* Appends arg to cmd, quoted by the rules the C runtime undoes (backslashes double only before
 * a quote or the closing quote). */
static void append_arg(char *cmd, size_t cap, const char *arg)
{
    size_t n = strlen(cmd);
    if (n > 0 && n + 1 < cap) {
        cmd[n++] = ' ';
    }
    if (n + 1 < cap) {
        cmd[n++] = '"';
    }
    for (const char *p = arg;; p++) {
        size_t slashes = 0;
        while (*p == '\\') {
            slashes++, p++;
        }
        size_t reps = *p == '"' || *p == '\0' ? 2 * slashes : slashes;
        for (size_t i = 0; i < reps && n + 3 < cap; i++) {
            cmd[n++] = '\\';
        }
        if (*p == '\0') {
            break;
        }
        if (*p == '"' && n + 3 < cap) {
            cmd[n++] = '\\';
        }
        if (n + 3 < cap) {
            cmd[n++] = *p;
        }
    }
    cmd[n++] = '"';
    cmd[n] = '\0';
}

static proc_t start(const char *exe, const char *arg, fd_t *in_fd, fd_t *out_fd)
{
    SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .bInheritHandle = TRUE};
    HANDLE in_r, in_w, out_r, out_w;
    if (!CreatePipe(&in_r, &in_w, &sa, 0) || !CreatePipe(&out_r, &out_w, &sa, 0)) {
        fprintf(stderr, "CreatePipe: error %lu\n", GetLastError());
        exit(1);
    }
    /* Our ends stay here: a copy in the child would hide the end of input from it. */
    SetHandleInformation(in_w, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0);
    static char cmd[8192];
    cmd[0] = '\0';
    append_arg(cmd, sizeof cmd, exe);
    if (strcmp(arg, "-") != 0) {
        append_arg(cmd, sizeof cmd, arg);
    }
    STARTUPINFOA si = {.cb = sizeof si, .dwFlags = STARTF_USESTDHANDLES};
    si.hStdInput = in_r;
    si.hStdOutput = out_w;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION pi;
    fflush(NULL);
    if (!t_create_process_a(NULL, cmd, TRUE, &si, &pi)) {
        fprintf(stderr, "CreateProcess %s: error %lu\n", exe, GetLastError());
        exit(1);
    }
    CloseHandle(pi.hThread);
    CloseHandle(in_r);
    CloseHandle(out_w);
    *in_fd = in_w;
    *out_fd = out_r;
    return pi.hProcess;
}

/* Reads the first line (without the newline, or "\r\n") within timeout_ms; -1 on timeout or
 * EOF. Anonymous pipes have no timed read: poll with PeekNamedPipe. */
static int read_line(fd_t fd, char *line, size_t cap, int timeout_ms)
{
    size_t n = 0;
    ULONGLONG end = GetTickCount64() + (ULONGLONG)timeout_ms;
    while (n + 1 < cap) {
        DWORD avail = 0;
        if (!PeekNamedPipe(fd, NULL, 0, NULL, &avail, NULL)) {
            return -1;
        }
        if (avail == 0) {
            if (GetTickCount64() > end) {
                return -1;
            }
            Sleep(5);
            continue;
        }
        DWORD got;
        if (!ReadFile(fd, line + n, 1, &got, NULL) || got != 1) {
            return -1;
        }
        if (line[n] == '\n') {
            break;
        }
        n++;
    }
    if (n > 0 && line[n - 1] == '\r') {
        n--;
    }
    line[n] = '\0';
    return 0;
}

/* Waits up to timeout_ms for p; returns its exit code, or -1 (then kills it). */
static int wait_for(proc_t p, int timeout_ms)
{
    DWORD code = 0;
    if (WaitForSingleObject(p, (DWORD)timeout_ms) != WAIT_OBJECT_0) {
        TerminateProcess(p, 137);
        WaitForSingleObject(p, INFINITE);
        CloseHandle(p);
        return -1;
    }
    GetExitCodeProcess(p, &code);
    CloseHandle(p);
    return (int)code;
}

static void kill_proc(proc_t p)
{
    TerminateProcess(p, 137);
}

static int write_newline(fd_t fd)
{
    DWORD w;
    return WriteFile(fd, "\n", 1, &w, NULL) && w == 1 ? 0 : -1;
}

static void close_fd(fd_t fd)
{
    CloseHandle(fd);
}

/* 1 while some process has the section open (OpenFileMappingW succeeds). */
static int shm_exists(const char *name)
{
    wchar_t w[512];
    swprintf(w, sizeof w / sizeof w[0], L"Local\\shmring-%hs.mem", name);
    HANDLE m = OpenFileMappingW(FILE_MAP_READ, FALSE, w);
    if (m == NULL) {
        return 0;
    }
    CloseHandle(m);
    return 1;
}
#define SHM_WHERE "the section Local\\shmring-%s.mem"
#else
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

typedef pid_t proc_t;
typedef int fd_t;

static proc_t start(const char *exe, const char *arg, fd_t *in_fd, fd_t *out_fd)
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

static void kill_proc(proc_t p)
{
    kill(p, SIGKILL);
}

static int write_newline(fd_t fd)
{
    return write(fd, "\n", 1) == 1 ? 0 : -1;
}

static void close_fd(fd_t fd)
{
    close(fd);
}
#define SHM_WHERE "/dev/shm/%s"
#endif

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: legacy_run SETTER SETTER_ARG GETTER GETTER_ARG EXPECTED\n");
        return 2;
    }
#ifndef _WIN32
    signal(SIGPIPE, SIG_IGN);
#endif
    const char *name = getenv("SHMRING_COMPAT_NAME");
    if (name == NULL || name[0] == '\0') {
        name = "dllmemfilemap";
    }
    fd_t set_in;
    fd_t set_out;
    proc_t setter = start(argv[1], argv[2], &set_in, &set_out);
    char line[4096];
    if (read_line(set_out, line, sizeof line, 10000) != 0) {
        fprintf(stderr, "FAIL: the setter printed nothing within 10 s\n");
        kill_proc(setter);
        return 1;
    }
    printf("setter: %s\n", line);

    fd_t get_in;
    fd_t get_out;
    proc_t getter = start(argv[3], argv[4], &get_in, &get_out);
    close_fd(get_in);
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
        fprintf(stderr, "FAIL: " SHM_WHERE " is missing while the setter runs\n", name);
        ok = 0;
    }
    if (write_newline(set_in) != 0) {
        fprintf(stderr, "FAIL: cannot talk to the setter\n");
        ok = 0;
    }
    close_fd(set_in);
    rc = wait_for(setter, 10000);
    if (rc != 0) {
        fprintf(stderr, "FAIL: the setter exited with %d\n", rc);
        ok = 0;
    }
    if (shm_exists(name)) {
        fprintf(stderr, "FAIL: " SHM_WHERE " is left after every process exited\n", name);
        ok = 0;
    }
    printf("%s\n", ok ? "legacy pair: ok" : "legacy pair: FAILED");
    return ok ? 0 : 1;
}
