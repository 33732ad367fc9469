/* SPDX-License-Identifier: MIT */
/* Command line of shmring-nats. Secrets never come from the command line (ps shows it): user and
 * password or token come from the environment, keys and credentials from files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

void bridge_usage(FILE *f)
{
    fputs(
        "usage: shmring-nats out RING --server URL --subject SUBJECT [--stream NAME] [options]\n"
        "       shmring-nats in --server URL --subject SUBJECT --durable NAME RING [options]\n"
        "\n"
        "  --server URL       a NATS server (repeat, or separate with commas, for a cluster)\n"
        "  --subject SUBJECT  the NATS subject\n"
        "  --stream NAME      the JetStream stream (default SHMRING_<subject>); created when\n"
        "                     missing, file storage\n"
        "  --durable NAME     in: the durable pull consumer\n"
        "  --core             plain NATS publish/subscribe: at most once, lowest latency\n"
        "  --batch N          out: pack up to N ring messages into one NATS message (1..65535)\n"
        "  --window N         out: NATS messages awaiting a JetStream ack (default 1024)\n"
        "  --fetch N          in: messages per pull request (default 256)\n"
        "  --size BYTES       size of the ring when the bridge creates it (default 1 MiB)\n"
        "  --id ID            out: prefix of the message ids (default the ring's name)\n"
        "  --replicas N       replicas of a stream the bridge creates (default 1)\n"
        "  --dup-window S     duplicate window of a stream the bridge creates (default 120)\n"
        "  --oversize POLICY  stop (default) or skip (and count) a message that does not fit\n"
        "  --stats SECONDS    progress and counters on stderr every SECONDS\n"
        "  --json             the counters as one JSON line per interval instead\n"
        "  --connect-timeout S  give up connecting after S seconds (default: keep trying)\n"
        "  --creds FILE, --nkey PUBKEY --nkey-seed FILE, --tls, --ca FILE, --cert FILE --key FILE\n"
        "                     credentials and TLS; NATS_USER/NATS_PASSWORD or NATS_TOKEN from\n"
        "                     the environment\n"
        "  -q, --quiet        no log lines, only errors\n",
        f);
}

static int add_servers(struct bridge_opts *o, char *list)
{
    for (char *save = NULL, *s = strtok_r(list, ",", &save); s != NULL;
         s = strtok_r(NULL, ",", &save)) {
        if (o->nservers == BRIDGE_MAX_SERVERS) {
            fprintf(stderr, "shmring-nats: at most %d servers\n", BRIDGE_MAX_SERVERS);
            return -1;
        }
        o->servers[o->nservers++] = s;
    }
    return 0;
}

static int num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *e;
    double d = v ? strtod(v, &e) : 0;
    if (v == NULL || e == v || *e != '\0' || d < lo || d > hi) {
        fprintf(stderr, "shmring-nats: %s needs a number from %g to %g\n", opt, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

int bridge_parse(int argc, char **argv, struct bridge_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->window = 1024;
    o->fetch = 256;
    o->ring_size = 1u << 20;
    o->replicas = 1;
    o->dup_window_s = 120;
    o->ack_wait_ms = 30000;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        return -1;
    }
    if (strcmp(argv[1], "out") == 0) {
        o->dir = DIR_OUT;
    } else if (strcmp(argv[1], "in") == 0) {
        o->dir = DIR_IN;
    } else {
        fprintf(stderr, "shmring-nats: unknown direction '%s' (out or in)\n", argv[1]);
        return -1;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
#define TAKE()                                                                                     \
    do {                                                                                           \
        if (v == NULL) {                                                                           \
            fprintf(stderr, "shmring-nats: %s needs a value\n", a);                                \
            return -1;                                                                             \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (strcmp(a, "--server") == 0 || strcmp(a, "-s") == 0) {
            TAKE();
            if (add_servers(o, argv[i]) < 0) {
                return -1;
            }
        } else if (strcmp(a, "--subject") == 0) {
            TAKE();
            o->subject = v;
        } else if (strcmp(a, "--stream") == 0) {
            TAKE();
            o->stream = v;
        } else if (strcmp(a, "--durable") == 0) {
            TAKE();
            o->durable = v;
        } else if (strcmp(a, "--id") == 0) {
            TAKE();
            o->source_id = v;
        } else if (strcmp(a, "--core") == 0) {
            o->core = 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--tls") == 0) {
            o->tls = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--batch") == 0) {
            TAKE();
            if (num(a, v, 1, BRIDGE_MAX_BATCH, &d) < 0) {
                return -1;
            }
            o->batch = (unsigned)d;
        } else if (strcmp(a, "--window") == 0) {
            TAKE();
            if (num(a, v, 1, 1 << 20, &d) < 0) {
                return -1;
            }
            o->window = (unsigned)d;
        } else if (strcmp(a, "--fetch") == 0) {
            TAKE();
            if (num(a, v, 1, 1 << 16, &d) < 0) {
                return -1;
            }
            o->fetch = (unsigned)d;
        } else if (strcmp(a, "--size") == 0) {
            TAKE();
            if (num(a, v, 4096, (double)SHMRING_MAX_SIZE, &d) < 0) {
                return -1;
            }
            o->ring_size = (uint64_t)d;
        } else if (strcmp(a, "--replicas") == 0) {
            TAKE();
            if (num(a, v, 1, 5, &d) < 0) {
                return -1;
            }
            o->replicas = (int)d;
        } else if (strcmp(a, "--dup-window") == 0) {
            TAKE();
            if (num(a, v, 1, 86400 * 30, &d) < 0) {
                return -1;
            }
            o->dup_window_s = (int64_t)d;
        } else if (strcmp(a, "--ack-wait") == 0) {
            TAKE();
            if (num(a, v, 0.1, 3600, &d) < 0) {
                return -1;
            }
            o->ack_wait_ms = (int64_t)(d * 1000);
        } else if (strcmp(a, "--stats") == 0) {
            TAKE();
            if (num(a, v, 0.01, 86400, &d) < 0) {
                return -1;
            }
            o->stats_s = d;
        } else if (strcmp(a, "--connect-timeout") == 0) {
            TAKE();
            if (num(a, v, 0, 86400, &d) < 0) {
                return -1;
            }
            o->connect_timeout_ms = (int64_t)(d * 1000);
        } else if (strcmp(a, "--oversize") == 0) {
            TAKE();
            if (strcmp(v, "stop") == 0) {
                o->oversize = OVERSIZE_STOP;
            } else if (strcmp(v, "skip") == 0) {
                o->oversize = OVERSIZE_SKIP;
            } else {
                fprintf(stderr, "shmring-nats: --oversize is stop or skip\n");
                return -1;
            }
        } else if (strcmp(a, "--creds") == 0) {
            TAKE();
            o->creds = v;
        } else if (strcmp(a, "--nkey") == 0) {
            TAKE();
            o->nkey = v;
        } else if (strcmp(a, "--nkey-seed") == 0) {
            TAKE();
            o->nkey_seed = v;
        } else if (strcmp(a, "--ca") == 0) {
            TAKE();
            o->ca = v;
        } else if (strcmp(a, "--cert") == 0) {
            TAKE();
            o->cert = v;
        } else if (strcmp(a, "--key") == 0) {
            TAKE();
            o->key = v;
        } else if (strcmp(a, "--password") == 0 || strcmp(a, "--token") == 0 ||
                   strcmp(a, "--user") == 0) {
            fprintf(stderr,
                    "shmring-nats: %s is not accepted on the command line (ps shows it): set "
                    "NATS_USER and NATS_PASSWORD, or NATS_TOKEN, in the environment\n",
                    a);
            return -1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "shmring-nats: unknown option %s\n", a);
            return -1;
        } else if (o->ring == NULL) {
            o->ring = a;
        } else {
            fprintf(stderr, "shmring-nats: one ring only ('%s' and '%s')\n", o->ring, a);
            return -1;
        }
#undef TAKE
    }
    if (o->ring == NULL || o->subject == NULL || o->nservers == 0) {
        fprintf(stderr, "shmring-nats: RING, --server and --subject are required\n");
        return -1;
    }
    if (o->dir == DIR_IN && !o->core && o->durable == NULL) {
        fprintf(stderr, "shmring-nats: in: --durable NAME is required with JetStream\n");
        return -1;
    }
    if ((o->nkey == NULL) != (o->nkey_seed == NULL) || (o->cert == NULL) != (o->key == NULL)) {
        fprintf(stderr, "shmring-nats: --nkey needs --nkey-seed, and --cert needs --key\n");
        return -1;
    }
    if (o->source_id == NULL) {
        o->source_id = o->ring;
    }
    if (o->stream == NULL) {
        /* A stream name may not hold '.', '*', '>' or spaces. */
        snprintf(o->stream_buf, sizeof o->stream_buf, "SHMRING_%s", o->subject);
        for (char *p = o->stream_buf; *p; p++) {
            if (*p == '.' || *p == '*' || *p == '>' || *p == ' ' || *p == '\t') {
                *p = '_';
            }
        }
        o->stream = o->stream_buf;
    }
    return 0;
}
