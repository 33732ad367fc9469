/* SPDX-License-Identifier: MIT */
/* Listing the shared-memory directory: the candidates that ls and rm --stale then validate. */
#ifndef SHMRING_CLI_SHMDIR_H
#define SHMRING_CLI_SHMDIR_H

#include <stddef.h>

/* Where POSIX shared-memory objects appear as files (Linux). */
#define SHMDIR_PATH "/dev/shm"

/* The names in SHMDIR_PATH that are valid ring names and not directories, sorted. Nothing is
 * opened: whether each is a ring is for the caller to check. 0, or a negative errno value. */
int shmdir_list(char ***names, size_t *n);
void shmdir_free(char **names, size_t n);

#endif /* SHMRING_CLI_SHMDIR_H */
