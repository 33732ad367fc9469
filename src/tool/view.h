/* SPDX-License-Identifier: MIT */
/* How stat and ls show what shmring_inspect() (include/shmring_admin.h) read about a ring. */
#ifndef SHMRING_CLI_VIEW_H
#define SHMRING_CLI_VIEW_H

#include "shmring_admin.h"

/* Where POSIX shared-memory objects appear as files (Linux): for messages and help. */
#ifdef _WIN32
#define SHMDIR_PATH "Local\\shmring-*.mem"
#else
#define SHMDIR_PATH "/dev/shm"
#endif

/* Describes a peer for people: "pid 1234, alive", "pid 1234, dead", "none". */
const char *view_peer_text(const struct shmring_peer *p, char buf[64]);
/* "never", "attached" or "closed", for JSON. */
const char *view_peer_state(const struct shmring_peer *p);
/* JSON shared by stat and ls: view_json_start prints '{"name":...' and the fields both show, up to
 * "messages" (rings) or "value_bytes" (legacy values), leaving the object open; view_json_peer
 * prints '"key":{pid, alive, state}'. Both write to stdout. */
void view_json_start(const char *name, const struct shmring_info *info);
void view_json_peer(const char *key, const struct shmring_peer *p);
/* Prints info->check != 0 as an error ("shmring: <what>: ...") and returns the exit code. */
int view_fail_check(const char *what, const struct shmring_info *info);
/* 1 for the set/get value mapping. */
int view_is_legacy(const struct shmring_info *info);

#endif /* SHMRING_CLI_VIEW_H */
