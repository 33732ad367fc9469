/* SPDX-License-Identifier: MIT */
/* shmring-nats: a bridge between shmring rings and NATS (JetStream or core). Uses only the
 * public shmring API and nats.c. See docs/nats-bridge.md for the guarantees and the framing. */
#ifndef SHMRING_NATS_BRIDGE_H
#define SHMRING_NATS_BRIDGE_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include <nats/nats.h>

#include "shmring.h"

#define BRIDGE_MAX_SERVERS 16
#define BRIDGE_MAX_BATCH   65535 /* the bookmark keeps the count of a batch in 16 bits */

/* Exit codes (documented in man/shmring-nats.1). */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 2,    /* bad command line, unusable credentials or URL */
    EXIT_RING = 3,     /* the ring could not be opened or is corrupt */
    EXIT_NATS = 4,     /* NATS refused us: authorization, JetStream API errors */
    EXIT_OVERSIZE = 5, /* a message too large, with --oversize stop */
    EXIT_FRAMING = 6   /* a malformed batch from NATS, with --oversize stop */
};

enum bridge_dir { DIR_OUT = 1, DIR_IN = 2 };
enum oversize_policy { OVERSIZE_STOP = 0, OVERSIZE_SKIP = 1 };

struct bridge_opts {
    enum bridge_dir dir;
    const char *ring;
    const char *servers[BRIDGE_MAX_SERVERS];
    int nservers;
    const char *subject;
    const char *stream; /* default: derived from the subject */
    const char *durable;
    const char *source_id; /* out: prefix of the message ids; default the ring's name */
    int core;
    unsigned batch;  /* out: ring messages per NATS message (1 = no packing) */
    unsigned window; /* out: NATS messages awaiting a JetStream ack */
    unsigned fetch;  /* in: messages per pull request */
    uint64_t ring_size;
    int replicas;
    int64_t dup_window_s;
    int64_t ack_wait_ms;
    double stats_s;
    int json;
    int quiet;
    enum oversize_policy oversize;
    const char *creds, *nkey, *nkey_seed, *ca, *cert, *key;
    int tls;
    int64_t connect_timeout_ms; /* give up the first connection after this; 0 = never */
    char stream_buf[256];
};

/* Set by SIGINT/SIGTERM. */
extern volatile sig_atomic_t bridge_stop;

/* options.c */
int bridge_parse(int argc, char **argv, struct bridge_opts *o);
void bridge_usage(FILE *f);

/* conn.c: connect with the servers, credentials and TLS of o; retries "no server" with backoff
 * (logging each attempt) until connected, stopped or connect_timeout_ms. Returns an exit code. */
int bridge_connect(const struct bridge_opts *o, natsConnection **nc);
/* Creates the stream if it is missing (file storage, the subject, o->dup_window_s). */
int bridge_ensure_stream(const struct bridge_opts *o, jsCtx *js);
/* Written by nats.c's callback thread, read by the main loop; relaxed (N1, N2): they only
 * trigger work that asks the server again, no data is published through them. */
extern atomic_int bridge_reconnects;   /* bumped by the reconnected callback */
extern atomic_int bridge_disconnected; /* 1 between the disconnected and reconnected callbacks */
int bridge_reconnect_count(void);

/* log and stats (stats.c) */
void bridge_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *bridge_nats_error(natsStatus s); /* text of s plus nats.c's last error detail */
int64_t bridge_now_ms(void);

struct bridge_stats {
    uint64_t msgs, bytes; /* ring messages moved (out: acknowledged/sent; in: committed) */
    uint64_t nats_msgs;   /* NATS messages published or received */
    uint64_t inflight;    /* out: NATS messages awaiting an ack */
    uint64_t dups;        /* out: acks saying duplicate; in: redeliveries skipped */
    uint64_t errors;      /* out: failed publishes (re-sent); in: failed fetches */
    uint64_t skipped;     /* messages skipped by --oversize skip */
    uint64_t dropped;     /* in --core: messages dropped by the client (slow consumer) */
    uint64_t resumed;     /* out: ring messages found already stored at a session start */
};
void bridge_stats_tick(const struct bridge_opts *o, const struct bridge_stats *s, int final);

/* Destroys NATS messages in groups: nats.c hands each destroyed message to its garbage
 * collector thread and wakes that thread if it sleeps, a thread switch per message when they are
 * destroyed one at a time; a group costs one wake-up. One per thread. */
#define BRIDGE_DEAD_MAX 64
struct bridge_dead {
    natsMsg *m[BRIDGE_DEAD_MAX];
    int n;
};

static inline void bridge_dead_flush(struct bridge_dead *d)
{
    for (int i = 0; i < d->n; i++) {
        natsMsg_Destroy(d->m[i]);
    }
    d->n = 0;
}

static inline void bridge_dead_add(struct bridge_dead *d, natsMsg *m)
{
    d->m[d->n++] = m;
    if (d->n == BRIDGE_DEAD_MAX) {
        bridge_dead_flush(d);
    }
}

/* The two directions. Each returns an exit code. */
int bridge_out(const struct bridge_opts *o, natsConnection *nc);
int bridge_in(const struct bridge_opts *o, natsConnection *nc);

#endif
