/* SPDX-License-Identifier: MIT */
/* shmring ls [--json] */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "view.h"

static const struct cli_cmd cmd = {
    "ls",
    "Usage: shmring ls [--json]\n"
    "\n"
    "Lists every shmring mapping on this machine, whatever its name: each object in " SHMDIR_PATH
    "\n"
    "is recognised by validating its header, and nothing is attached or changed.\n"
    "Columns: NAME, SIZE of the mapping, USED bytes, FILL of the data area, MSGS waiting ('?'\n"
    "when not cheap to count), PRODUCER and CONSUMER (pid, 'pid(dead)' if it died without\n"
    "closing, '-' for none; on a multi-producer ring PRODUCER is 'N/M live', N live producers\n"
    "of M slots) and FLAGS: persistent, legacy (a set/get value), multi-producer, idle (no\n"
    "live process has it open: 'shmring rm --stale' would remove it unless persistent).\n"
    "\n" CLI_WIN_NOTE,
    NULL, 0};

struct entry {
    char *name;
    struct shmring_info v;
};

struct listing {
    struct entry *e;
    size_t n, cap;
    size_t denied; /* objects we may not read */
    int err;
};

/* shmring_list's callback: keeps the rings, counts what we may not look at. */
static int add(void *ctx, const char *name, const struct shmring_info *info, int err)
{
    struct listing *l = ctx;
    if (err == SHMRING_EACCES) {
        l->denied++;
        return 0;
    }
    if (err < 0 || info->check != 0) {
        return 0; /* not something we can open, or not a ring */
    }
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 32;
        struct entry *ne = realloc(l->e, ncap * sizeof *ne);
        if (ne == NULL) {
            l->err = SHMRING_ENOMEM;
            return 1;
        }
        l->e = ne;
        l->cap = ncap;
    }
    if ((l->e[l->n].name = strdup(name)) == NULL) {
        l->err = SHMRING_ENOMEM;
        return 1;
    }
    l->e[l->n++].v = *info;
    return 0;
}

static const char *peer_cell(const struct shmring_peer *p, char buf[32])
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

/* Appends ",flag" to the comma-separated list in flags[0..cap) (cut short if it is full). */
static void add_flag(char *flags, size_t cap, const char *flag)
{
    const size_t used = strlen(flags);
    snprintf(flags + used, cap - used, ",%s", flag);
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
        const struct shmring_info *v = &e[i].v;
        const struct shmring_stats *s = &v->stats;
        int legacy = view_is_legacy(v);
        char size[32], used[32], fill[32], msgs[32], prod[32], cons[32], flags[64] = "";
        cli_fmt_size(s->size, size);
        if (legacy) {
            snprintf(used, sizeof used, "%" PRIu64, v->value_bytes);
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
            add_flag(flags, sizeof flags, "persistent");
        }
        if (legacy) {
            add_flag(flags, sizeof flags, "legacy");
        }
        if (!v->in_use) {
            add_flag(flags, sizeof flags, "idle");
        }
        if (s->kind == SHMRING_KIND_MPSC) {
            add_flag(flags, sizeof flags, "multi-producer");
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
    const struct cli_opt opts[] = {
        {"json", 'j', NULL, &as_json, NULL,
         "a JSON array of objects with the fields of 'shmring stat --json' except head,\n"
         "tail, generation, uid, mode and counters"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    int r = cli_start(argc, argv, &cmd, opts, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    if (npos != 0) {
        return cli_usage_error("ls", "takes no arguments");
    }
#ifdef _WIN32
    return cli_no_enum("ls");
#endif
    struct listing l = {NULL, 0, 0, 0, 0};
    r = shmring_list(add, &l);
    if (r >= 0 && l.err < 0) {
        r = l.err;
    }
    if (r < 0) {
        for (size_t i = 0; i < l.n; i++) {
            free(l.e[i].name);
        }
        free(l.e);
        return cli_fail(r == SHMRING_ENOMEM ? "ls" : "ls: " SHMDIR_PATH, r);
    }
    if (as_json) {
        json(l.e, l.n);
    } else {
        text(l.e, l.n);
    }
    if (l.denied > 0) {
        cli_msg("ls: %zu object%s in " SHMDIR_PATH " could not be read (permission denied); run "
                "as their owner or root to see them",
                l.denied, l.denied == 1 ? "" : "s");
    }
    r = cli_flush_stdout("ls");
    for (size_t i = 0; i < l.n; i++) {
        free(l.e[i].name);
    }
    free(l.e);
    return r;
}
