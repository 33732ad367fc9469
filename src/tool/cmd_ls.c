/* SPDX-License-Identifier: MIT */
/* shmring ls [--json] */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "shmdir.h"
#include "view.h"

static const char help[] =
    "Usage: shmring ls [--json]\n"
    "\n"
    "Lists every shmring mapping on this machine, whatever its name: each object in " SHMDIR_PATH
    "\n"
    "is recognised by validating its header, and nothing is attached or changed.\n"
    "Columns: NAME, SIZE of the mapping, USED bytes, FILL of the data area, MSGS waiting ('?'\n"
    "when not cheap to count), PRODUCER and CONSUMER (pid, 'pid(dead)' if it died without\n"
    "closing, '-' for none) and FLAGS: persistent, legacy (a set/get value), idle (no live\n"
    "process has it open: 'shmring rm --stale' would remove it unless persistent).\n"
    "\n"
    "  -j, --json  a JSON array of objects with the fields of 'shmring stat --json' except head,\n"
    "              tail, generation, uid, mode and counters\n";

struct entry {
    const char *name;
    struct view_info v;
};

/* 1 and *v if `name` is a ring, 0 if not, -EACCES if we may not look. */
static int load(const char *name, struct view_info *v)
{
    /* The library's own probe decides what is a ring; it needs read-write access, so a ring
     * we may only read (another user's 0644) is validated by the read-only view alone. */
    struct shmring__seg_probe p;
    int r = shmring__seg_probe(name, &p);
    if (r == 0 && p.check != 0) {
        return 0;
    }
    if (r < 0 && r != -EACCES) {
        return 0; /* gone meanwhile, or not something we can open */
    }
    int rv = view_load(name, v);
    if (rv < 0) {
        return rv == -EACCES ? -EACCES : 0;
    }
    if (v->check != 0) {
        return 0;
    }
    if (r == 0) {
        v->in_use = p.in_use;
    }
    return 1;
}

static const char *peer_cell(const struct view_peer *p, char buf[32])
{
    if (p->alive && p->pid != 0) {
        snprintf(buf, 32, "%d", (int)p->pid);
    } else if (p->alive) {
        snprintf(buf, 32, "?");
    } else if (p->pid != 0) {
        snprintf(buf, 32, "%d(dead)", (int)p->pid);
    } else {
        snprintf(buf, 32, "-");
    }
    return buf;
}

static void text(const struct entry *e, size_t n)
{
    int w = 4;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(e[i].name);
        w = l > w ? l : w;
    }
    printf("%-*s  %6s  %10s  %6s  %7s  %-12s  %-12s  %s\n", w, "NAME", "SIZE", "USED", "FILL",
           "MSGS", "PRODUCER", "CONSUMER", "FLAGS");
    for (size_t i = 0; i < n; i++) {
        const struct view_info *v = &e[i].v;
        const struct shmring_stats *s = &v->stats;
        int legacy = (v->flags & SHMRING__F_LEGACY) != 0;
        char size[32], used[32], fill[32], msgs[32], prod[32], cons[32], flags[64] = "";
        cli_fmt_size(s->size, size);
        if (legacy) {
            snprintf(used, sizeof used, "%" PRIu64, v->legacy_bytes);
            snprintf(fill, sizeof fill, "-");
            snprintf(msgs, sizeof msgs, "-");
        } else {
            snprintf(used, sizeof used, "%" PRIu64, s->used_bytes);
            snprintf(fill, sizeof fill, "%.1f%%",
                     100.0 * (double)s->used_bytes / (double)s->capacity);
            if (v->messages >= 0) {
                snprintf(msgs, sizeof msgs, "%" PRId64, v->messages);
            } else {
                snprintf(msgs, sizeof msgs, "?");
            }
        }
        if (s->flags & SHMRING_PERSIST) {
            strcat(flags, ",persistent");
        }
        if (legacy) {
            strcat(flags, ",legacy");
        }
        if (!v->in_use) {
            strcat(flags, ",idle");
        }
        if (s->kind == SHMRING_KIND_MPSC) {
            strcat(flags, ",multi-producer");
            snprintf(prod, sizeof prod, "%u/%u live", s->producers, s->max_producers);
        } else {
            peer_cell(&v->producer, prod);
        }
        printf("%-*s  %6s  %10s  %6s  %7s  %-12s  %-12s  %s\n", w, e[i].name, size, used, fill,
               msgs, prod, peer_cell(&v->consumer, cons), flags[0] ? flags + 1 : "-");
    }
}

static void json(const struct entry *e, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", i ? "," : "");
        view_json_start(e[i].name, &e[i].v);
        putchar(',');
        view_json_peer("producer", &e[i].v.producer);
        putchar(',');
        view_json_peer("consumer", &e[i].v.consumer);
        putchar('}');
    }
    printf("%s]\n", n ? "\n" : "");
}

int cmd_ls(int argc, char **argv)
{
    int as_json = 0, npos;
    int r = cli_start_json(argc, argv, help, &as_json, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    if (npos != 0) {
        return cli_usage_error("ls", "takes no arguments");
    }
    char **names;
    size_t n;
    if ((r = shmdir_list(&names, &n)) < 0) {
        return cli_fail("ls: " SHMDIR_PATH, r);
    }
    struct entry *e = calloc(n ? n : 1, sizeof *e);
    if (e == NULL) {
        shmdir_free(names, n);
        return cli_fail("ls", -ENOMEM);
    }
    size_t rings = 0, denied = 0;
    for (size_t i = 0; i < n; i++) {
        int k = load(names[i], &e[rings].v);
        if (k == 1) {
            e[rings++].name = names[i];
        } else if (k == -EACCES) {
            denied++;
        }
    }
    if (as_json) {
        json(e, rings);
    } else {
        text(e, rings);
    }
    if (denied > 0) {
        cli_msg("ls: %zu object%s in " SHMDIR_PATH " could not be read (permission denied); run "
                "as their owner or root to see them",
                denied, denied == 1 ? "" : "s");
    }
    r = cli_flush_stdout("ls");
    free(e);
    shmdir_free(names, n);
    return r;
}
