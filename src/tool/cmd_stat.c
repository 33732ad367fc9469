/* SPDX-License-Identifier: MIT */
/* shmring stat NAME [--json] */
#include <errno.h>
#include <inttypes.h>

#include "cli.h"
#include "view.h"

static const struct cli_cmd cmd = {
    "stat",
    "Usage: shmring stat NAME [--json]\n"
    "\n"
    "Shows a ring's size, fill, messages waiting, positions, peers and counters. Reads the\n"
    "mapping without attaching to it, so it changes nothing (not even an idle ring).\n"
    "\n",
    NULL, 0};

static void text(const char *name, const struct shmring_info *v)
{
    const struct shmring_stats *s = &v->stats;
    char a[32], b[64], c[64];
    int legacy = view_is_legacy(v);
    printf("name        %s\n", name);
    printf("kind        %s%s\n",
           legacy                         ? "legacy value (shmring set/get)"
           : s->kind == SHMRING_KIND_MPSC ? "multi-producer ring"
                                          : "ring",
           s->flags & SHMRING_PERSIST ? ", persistent" : "");
    printf("size        %s (%" PRIu64 " bytes); data area %" PRIu64 " bytes",
           cli_fmt_size(s->size, a), s->size, s->capacity);
    if (!legacy) {
        printf("; largest message %" PRIu64 " bytes", s->max_msg);
    }
    putchar('\n');
    printf("open        %s\n", v->in_use ? "yes" : "no (no live process has it open)");
    if (legacy) {
        printf("value       %" PRIu64 " bytes\n", v->value_bytes);
    } else {
        printf("used        %" PRIu64 " bytes (%.1f%%)", s->used_bytes,
               100.0 * (double)s->used_bytes / (double)s->capacity);
        if (v->messages >= 0) {
            printf(", %" PRId64 " message%s waiting", v->messages, v->messages == 1 ? "" : "s");
        }
        printf("\nhead/tail   %" PRIu64 " / %" PRIu64 "\n", s->head, s->tail);
        if (s->kind == SHMRING_KIND_MPSC) {
            printf("producers   %u live of %u slots\n", s->producers, s->max_producers);
        } else {
            printf("producer    %s\n", view_peer_text(&v->producer, b));
        }
        printf("consumer    %s\n", view_peer_text(&v->consumer, c));
        printf("sent        %" PRIu64 " messages, %" PRIu64 " bytes; found full %" PRIu64
               " times, slept %" PRIu64 " times\n",
               s->sent_msgs, s->sent_bytes, s->full_events, s->producer_sleeps);
        printf("received    %" PRIu64 " messages, %" PRIu64 " bytes; found empty %" PRIu64
               " times, slept %" PRIu64 " times\n",
               s->recv_msgs, s->recv_bytes, s->empty_events, s->consumer_sleeps);
        printf("wakeups     %" PRIu64 "\n", s->wakeups);
    }
    printf("generation  %" PRIu64 "\n", v->stats.generation);
    printf("owner       uid %u, mode %04o\n", (unsigned)v->uid, (unsigned)v->mode);
}

static void json(const char *name, const struct shmring_info *v)
{
    const struct shmring_stats *s = &v->stats;
    view_json_start(name, v);
    if (!view_is_legacy(v)) {
        printf(",\"head\":%" PRIu64 ",\"tail\":%" PRIu64, s->head, s->tail);
    }
    printf(",\"generation\":%" PRIu64 ",\"uid\":%u,\"mode\":\"%04o\",", v->stats.generation,
           (unsigned)v->uid, (unsigned)v->mode);
    view_json_peer("producer", &v->producer);
    putchar(',');
    view_json_peer("consumer", &v->consumer);
    printf(",\"counters\":{\"sent_msgs\":%" PRIu64 ",\"sent_bytes\":%" PRIu64
           ",\"recv_msgs\":%" PRIu64 ",\"recv_bytes\":%" PRIu64 ",\"full_events\":%" PRIu64
           ",\"empty_events\":%" PRIu64 ",\"producer_sleeps\":%" PRIu64
           ",\"consumer_sleeps\":%" PRIu64 ",\"wakeups\":%" PRIu64 "}}\n",
           s->sent_msgs, s->sent_bytes, s->recv_msgs, s->recv_bytes, s->full_events,
           s->empty_events, s->producer_sleeps, s->consumer_sleeps, s->wakeups);
}

int cmd_stat(int argc, char **argv)
{
    int as_json = 0, npos;
    const struct cli_opt opts[] = {
        {"json", 'j', NULL, &as_json, NULL,
         "one JSON object instead of text; the field names are stable:\n"
         "name kind persistent in_use size capacity max_msg used_bytes messages\n"
         "head tail generation uid mode producer consumer counters\n"
         "(messages is null when it cannot be counted cheaply; producer and\n"
         "consumer are {pid, alive, state})"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    int r = cli_start(argc, argv, &cmd, opts, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    const char *name;
    if ((r = cli_one_name("stat", npos, argv, &name)) != 0) {
        return r;
    }
    char what[SHMRING_NAME_MAX + 16];
    snprintf(what, sizeof what, "stat '%s'", name);
    struct shmring_info v;
    if ((r = shmring_inspect(name, &v)) < 0) {
        return cli_fail(what, r);
    }
    if (v.check != 0) {
        return view_fail_check(what, &v);
    }
    if (as_json) {
        json(name, &v);
    } else {
        text(name, &v);
    }
    return cli_flush_stdout("stat");
}
