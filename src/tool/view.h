/* SPDX-License-Identifier: MIT */
/* A read-only look at a named mapping, for stat and ls. It never attaches: attaching (even as
 * an observer) to a ring whose users all died restarts it, and the last detach of a
 * non-persistent ring removes its name, so looking would destroy what we look at. */
#ifndef SHMRING_CLI_VIEW_H
#define SHMRING_CLI_VIEW_H

#include <stdint.h>

#include "segment.h"

struct view_peer {
    int32_t pid;    /* as the header records it; 0 = none recorded */
    int alive;      /* 1 if a live process holds the role (the kernel's lock says so) */
    uint32_t state; /* SHMRING__PEER_NEVER / ATTACHED / CLOSED */
};

struct view_info {
    struct shmring__plat_stat st; /* size, owner, mode of the object */
    int check;                    /* 0 valid ring, -EPROTO not one, -EAGAIN being initialised */
    int in_use;                   /* some live process has it attached */
    /* The rest is meaningful only when check == 0. */
    uint32_t flags; /* SHMRING__F_* */
    uint64_t generation;
    struct shmring_stats stats; /* as shmring_stats() would report them (pids of live roles) */
    struct view_peer producer, consumer;
    int64_t messages;      /* messages waiting, or -1 when they cannot be counted cheaply */
    uint64_t legacy_bytes; /* SHMRING__F_LEGACY: length of the current value */
};

/* Reads everything about `name` without changing it: 0, or -EINVAL (bad name), -ENOENT,
 * -EACCES, or another errno value from the system. A mapping that is not a shmring ring is not
 * an error here: info->check says so. */
int view_load(const char *name, struct view_info *info);

/* Describes a peer for people: "pid 1234, alive", "pid 1234, dead", "none". */
const char *view_peer_text(const struct view_peer *p, char buf[64]);
/* "never", "attached" or "closed", for JSON. */
const char *view_peer_state(const struct view_peer *p);
/* JSON shared by stat and ls: view_json_start prints '{"name":...' and the fields both show, up to
 * "messages" (rings) or "value_bytes" (legacy values), leaving the object open; view_json_peer
 * prints '"key":{pid, alive, state}'. Both write to stdout. */
void view_json_start(const char *name, const struct view_info *info);
void view_json_peer(const char *key, const struct view_peer *p);
/* Prints info->check != 0 as an error ("shmring: <what>: ...") and returns the exit code. */
int view_fail_check(const char *what, const struct view_info *info);

#endif /* SHMRING_CLI_VIEW_H */
