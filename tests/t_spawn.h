/* SPDX-License-Identifier: MIT */
/* Peer processes for tests that must run on systems without fork: the test binary starts
 * itself again with arguments (main() sees them and plays the peer). t_spawn_posix.c implements
 * this with posix_spawn; a Windows file adds CreateProcess. */
#ifndef SHMRING_T_SPAWN_H
#define SHMRING_T_SPAWN_H

#include <stdint.h>

typedef intptr_t t_proc; /* POSIX: the pid; Windows: the process HANDLE */

/* Starts this program again with args (NULL-terminated, without the program name). Returns the
 * process, or -1 (with a message on stderr). */
t_proc t_spawn_self(const char *const args[]);
/* Starts program exe (a path) with args the same way. */
t_proc t_spawn_exe(const char *exe, const char *const args[]);
/* Waits for it: its exit code, 128 + signal number if a signal ended it, or -1. */
int t_proc_wait(t_proc p);
/* Kills it at once (SIGKILL / TerminateProcess), without waiting. */
void t_proc_kill(t_proc p);

#endif /* SHMRING_T_SPAWN_H */
