/* SPDX-License-Identifier: MIT */
/* t_spawn.h with posix_spawn of /proc/self/exe (Linux) or argv[0]'s path elsewhere. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t_spawn.h"

extern char **environ;

t_proc t_spawn_exe(const char *exe, const char *const args[])
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)exe;
    for (int i = 0; args[i] != NULL && argc < 31; i++) {
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid;
    int e = posix_spawn(&pid, exe, NULL, NULL, argv, environ);
    if (e != 0) {
        fprintf(stderr, "t_spawn_exe: posix_spawn %s: %s\n", exe, strerror(e));
        return -1;
    }
    return (t_proc)pid;
}

t_proc t_spawn_self(const char *const args[])
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "t_spawn_self: cannot find this program: %s\n", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    return t_spawn_exe(self, args);
}

int t_proc_wait(t_proc p)
{
    int st;
    while (waitpid((pid_t)p, &st, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

void t_proc_kill(t_proc p)
{
    kill((pid_t)p, SIGKILL);
}
