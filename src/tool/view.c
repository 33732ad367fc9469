/* SPDX-License-Identifier: MIT */
/* How stat and ls show a ring: peers in words, the JSON fields both print. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "view.h"

int view_is_legacy(const struct shmring_info *info)
{
    return info->stats.kind == SHMRING_KIND_LEGACY;
}

const char *view_peer_text(const struct shmring_peer *p, char buf[64])
{
    if (p->alive && p->pid != 0) {
        snprintf(buf, 64, "pid %d, alive", (int)p->pid);
    } else if (p->alive) {
        snprintf(buf, 64, "alive, pid not recorded yet");
    } else if (p->pid != 0) {
        /* The role lock is gone but the pid was never cleared: it ended without closing. */
        snprintf(buf, 64, "pid %d, dead", (int)p->pid);
    } else {
        snprintf(buf, 64, "none");
    }
    return buf;
}

const char *view_peer_state(const struct shmring_peer *p)
{
    switch (p->state) {
    case SHMRING_PEER_NEVER:
        return "never";
    case SHMRING_PEER_ATTACHED:
        return "attached";
    case SHMRING_PEER_CLOSED:
        return "closed";
    default:
        return "unknown";
    }
}

void view_json_start(const char *name, const struct shmring_info *info)
{
    const struct shmring_stats *s = &info->stats;
    int legacy = view_is_legacy(info);
    printf("{\"name\":");
    cli_json_str(stdout, name);
    printf(",\"kind\":\"%s\",\"persistent\":%s,\"in_use\":%s",
           legacy                         ? "legacy"
           : s->kind == SHMRING_KIND_MPSC ? "mpsc"
                                          : "ring",
           s->flags & SHMRING_PERSIST ? "true" : "false", info->in_use ? "true" : "false");
    if (s->kind == SHMRING_KIND_MPSC) {
        printf(",\"producers\":%u,\"max_producers\":%u", s->producers, s->max_producers);
    }
    printf(",\"size\":%" PRIu64 ",\"capacity\":%" PRIu64 ",\"max_msg\":%" PRIu64, s->size,
           s->capacity, s->max_msg);
    if (legacy) {
        printf(",\"value_bytes\":%" PRIu64, info->value_bytes);
    } else {
        printf(",\"used_bytes\":%" PRIu64 ",\"messages\":", s->used_bytes);
        if (info->messages >= 0) {
            printf("%" PRId64, info->messages);
        } else {
            printf("null");
        }
    }
}

void view_json_peer(const char *key, const struct shmring_peer *p)
{
    printf("\"%s\":{\"pid\":%d,\"alive\":%s,\"state\":\"%s\"}", key, (int)p->pid,
           p->alive ? "true" : "false", view_peer_state(p));
}

int view_fail_check(const char *what, const struct shmring_info *info)
{
    if (info->check == SHMRING_EAGAIN) {
        cli_msg("%s: not a shmring mapping, or one whose creator has not finished (or died while "
                "creating it)",
                what);
        return CLI_PROTO;
    }
    return cli_fail(what, info->check);
}
