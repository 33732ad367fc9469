/* SPDX-License-Identifier: MIT */
/* out: consume a ring, publish each message (or each packed batch) to a subject.
 *
 * JetStream mode, exactly once and in order:
 *  - messages are read ahead (shmring_peek_next), copied into NATS messages and published
 *    asynchronously, up to --window NATS messages awaiting an ack; a ring message is released
 *    only once its NATS message and every one before it were acknowledged;
 *  - each NATS message carries the id "<source>-<generation>-<first>-<end>" (ring positions), so
 *    that a re-publish falls into the stream's duplicate window, and all but the first of a
 *    session carry Nats-Expected-Last-Msg-Id = the previous id: if one publish fails, every later
 *    one fails too instead of overtaking it, and the stream always holds a prefix of the ring;
 *  - a session starts by asking the stream for the last message on the subject: positions below
 *    its end are already stored and are released without publishing again;
 *  - a failed or timed-out publish ends the session: wait for every outstanding ack, release the
 *    acknowledged prefix, rewind the ring and start a new session, re-sending the unacknowledged
 *    NATS messages with the same composition (so with the same ids);
 *  - the publishes are plain core publishes with the headers set here and a reply subject
 *    "<inbox>.<session>.<k>" (k: the publish count in the session), answered by JetStream with its
 *    ack on our own subscription: on_ack finds the window entry from k, without the per-message
 *    hash, timer and header look-ups of js_PublishMsgAsync, and acks of an ended session are
 *    ignored. The ack timeout is ours too (ACK_WAIT_MS after the publish, checked on the oldest
 *    outstanding entry; acks arrive in publish order from one stream leader).
 * Core mode: publish and release at once (at most once). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "frame.h"

#define HDR_ROOM    512 /* bytes of max_payload kept for the headers we add */
#define ACK_WAIT_MS 5000

enum { E_SENT, E_ACKED, E_FAILED };

struct entry {
    uint64_t first, end, bytes;
    int64_t sent_ms; /* publish time, for the ack timeout */
    uint32_t nmsgs;
    int state;
};

struct out {
    const struct bridge_opts *o;
    shmring *r;
    natsConnection *nc;
    jsCtx *js;
    uint64_t gen;
    size_t max_payload;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct entry *e;
    uint64_t cap, lo, hi; /* entries [lo, hi) by publish count, e[k % cap] */
    uint64_t session;     /* bumped by session_start: acks of earlier sessions are ignored */
    int waiting;          /* the main loop waits on cv for acks up to wake_at (excluded) */
    uint64_t wake_at;
    natsSubscription *acksub;
    char inbox[128]; /* "<inbox>." */
    size_t inbox_len;
    int acksub_done;             /* set by the subscription's completion callback */
    struct bridge_dead dead;     /* published messages (main loop) */
    struct bridge_dead dead_ack; /* acks (on_ack's thread, then on_ack_done's) */
    int failed;
    uint64_t dups, fail_logs;
    /* replay: compositions of unacknowledged NATS messages to re-send after a failure */
    struct entry *replay;
    uint64_t nreplay, ireplay;
    /* a message read ahead but not packed yet */
    int held;
    const void *hmsg;
    size_t hlen;
    uint64_t hpos;
    char last_id[300];
    int have_last;
    unsigned char *buf;
    size_t bufcap;
    int fatal;
    int acks_out; /* at exit: on_ack may still run with this struct */
    struct bridge_stats st;
};

static struct entry *at(struct out *b, uint64_t k)
{
    return &b->e[k % b->cap];
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int has(const char *data, size_t len, const char *what)
{
    return memmem(data, len, what, strlen(what)) != NULL;
}

/* Parses "<session>.<k>" after the inbox prefix. */
static int parse_reply(const struct out *b, const char *subj, uint64_t *session, uint64_t *k)
{
    if (subj == NULL || strncmp(subj, b->inbox, b->inbox_len) != 0) {
        return 0;
    }
    const char *p = subj + b->inbox_len;
    char *e;
    *session = strtoull(p, &e, 10);
    if (e == p || *e != '.') {
        return 0;
    }
    p = e + 1;
    *k = strtoull(p, &e, 10);
    return e != p && *e == '\0';
}

/* Runs on the ack subscription's nats.c thread for each JetStream ack (or error reply). A
 * positive ack is JSON with "seq": and no "error": ({"stream":..,"seq":..[,"duplicate":true]});
 * anything else (an API error, a no-responders status) is a failure. */
static void on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    struct out *b = closure;
    uint64_t session, k;
    if (!parse_reply(b, natsMsg_GetSubject(msg), &session, &k)) {
        natsMsg_Destroy(msg);
        return;
    }
    const char *data = natsMsg_GetData(msg);
    size_t len = data != NULL ? (size_t)natsMsg_GetDataLength(msg) : 0;
    int ok = !natsMsg_IsNoResponders(msg) && len > 0 && !has(data, len, "\"error\":") &&
             has(data, len, "\"seq\":");
    pthread_mutex_lock(&b->mu);
    if (session == b->session && k >= b->lo && k < b->hi && at(b, k)->state == E_SENT) {
        struct entry *e = at(b, k);
        if (ok) {
            e->state = E_ACKED;
            b->dups += has(data, len, "\"duplicate\":true");
        } else {
            e->state = E_FAILED;
            b->failed = 1;
            if (b->fail_logs++ < 20 || b->fail_logs % 1000 == 0) {
                char id[300] = "?";
                frame_id(id, sizeof id, b->o->source_id, b->gen, e->first, e->end);
                bridge_log("publish of %s failed: %.*s (will re-send in order)", id,
                           len > 0 ? (int)(len > 300 ? 300 : len) : 12,
                           len > 0 ? data : "no responders");
            }
        }
        /* Wake the main loop only for a batch of acks (or a failure), not for each. */
        if (b->waiting && (!ok || k + 1 >= b->wake_at)) {
            pthread_cond_broadcast(&b->cv);
        }
    }
    pthread_mutex_unlock(&b->mu);
    bridge_dead_add(&b->dead_ack, msg);
}

static void on_ack_done(void *closure)
{
    struct out *b = closure;
    bridge_dead_flush(&b->dead_ack); /* the last on_ack has returned */
    pthread_mutex_lock(&b->mu);
    b->acksub_done = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Marks the outstanding publishes older than ACK_WAIT_MS failed (with the lock held): the
 * oldest only, or all (recover()). 1 if one was. */
static int expire(struct out *b, int all)
{
    int64_t now = bridge_now_ms();
    int any = 0;
    for (uint64_t k = b->lo; k < b->hi; k++) {
        struct entry *e = at(b, k);
        if (e->state == E_SENT && now - e->sent_ms > ACK_WAIT_MS) {
            e->state = E_FAILED;
            b->failed = 1;
            any = 1;
            if (b->fail_logs++ < 20 || b->fail_logs % 1000 == 0) {
                char id[300] = "?";
                frame_id(id, sizeof id, b->o->source_id, b->gen, e->first, e->end);
                bridge_log("publish of %s: no ack within %d ms (will re-send in order)", id,
                           ACK_WAIT_MS);
            }
        }
        if (!all && e->state == E_SENT) {
            break; /* younger than the oldest */
        }
    }
    return any;
}

static void wait_cv_ms(struct out *b, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&b->cv, &b->mu, &ts);
}

/* The next ring message into the held slot. 1 if one is held, 0 if none now, < 0 exit code. */
static int hold_next(struct out *b, int64_t wait_ns)
{
    if (b->held) {
        return 1;
    }
    shmring_ssize n = wait_ns > 0 ? shmring_peek_next_wait(b->r, &b->hmsg, &b->hpos, wait_ns)
                                  : shmring_peek_next(b->r, &b->hmsg, &b->hpos);
    if (n >= 0) {
        b->held = 1;
        b->hlen = (size_t)n;
        return 1;
    }
    if (n == SHMRING_EAGAIN || n == SHMRING_ETIMEDOUT || n == SHMRING_EINTR) {
        return 0;
    }
    if (n == SHMRING_EPIPE) { /* no producer now: wait for the next one */
        if (wait_ns > 0) {
            sleep_ms(wait_ns / 1000000 > 100 ? 100 : wait_ns / 1000000 + 1);
        }
        return 0;
    }
    bridge_log("ring %s: %s", b->o->ring, shmring_strerror((int)n));
    return -EXIT_RING;
}

static int oversize(struct out *b, size_t len)
{
    return len + FRAME_LEN_BYTES + HDR_ROOM > b->max_payload;
}

/* Packs up to limit ring messages (exactly limit when exact) into one NATS message. Returns the
 * count packed (0: nothing available), or < 0 an exit code. */
static int pack(struct out *b, uint32_t limit, int exact, const char *reply, natsMsg **out,
                uint64_t *first, uint64_t *end, uint64_t *bytes, int *skip)
{
    const struct bridge_opts *o = b->o;
    *skip = 0;
    int rc = hold_next(b, 0);
    if (rc <= 0) {
        return rc;
    }
    *first = b->hpos;
    if (oversize(b, b->hlen)) {
        if (o->oversize == OVERSIZE_STOP) {
            bridge_log("ring message at position %" PRIu64 " is %zu bytes: too large for the "
                       "server's max_payload of %zu bytes (less %u for headers); --oversize stop: "
                       "stopping, the message stays in the ring",
                       b->hpos, b->hlen, b->max_payload, HDR_ROOM);
            return -EXIT_OVERSIZE;
        }
        bridge_log("ring message at position %" PRIu64 " is %zu bytes: too large for the "
                   "server's max_payload of %zu bytes; --oversize skip: skipped",
                   b->hpos, b->hlen, b->max_payload);
        *end = b->hpos + 1;
        *bytes = b->hlen;
        *skip = 1;
        b->held = 0;
        *out = NULL;
        return 1;
    }
    natsStatus s;
    if (o->batch <= 1) {
        s = natsMsg_Create(out, o->subject, reply, b->hmsg, (int)b->hlen);
        *end = b->hpos + 1;
        *bytes = b->hlen;
        b->held = 0;
        if (s != NATS_OK) {
            bridge_log("out of memory for a NATS message");
            return -EXIT_NATS;
        }
        return 1;
    }
    size_t used = 0;
    uint32_t n = 0;
    *bytes = 0;
    while (n < limit) {
        if (n > 0 && (rc = hold_next(b, 0)) <= 0) {
            if (rc < 0) {
                return rc;
            }
            if (!exact) {
                break;
            }
            /* A replayed composition: the messages were there before, so they still are. */
            bridge_log("ring lost messages of a batch being re-sent");
            return -EXIT_RING;
        }
        size_t need = used + FRAME_LEN_BYTES + b->hlen;
        if (n > 0 && (need + HDR_ROOM > b->max_payload || oversize(b, b->hlen))) {
            if (exact) {
                bridge_log("a re-sent batch no longer fits max_payload");
                return -EXIT_NATS;
            }
            break; /* the held message starts the next batch */
        }
        if (need > b->bufcap) {
            size_t c = b->bufcap ? b->bufcap : 65536;
            while (c < need) {
                c *= 2;
            }
            unsigned char *nb = realloc(b->buf, c);
            if (nb == NULL) {
                bridge_log("out of memory");
                return -EXIT_NATS;
            }
            b->buf = nb;
            b->bufcap = c;
        }
        frame_put_len(b->buf + used, (uint32_t)b->hlen);
        memcpy(b->buf + used + FRAME_LEN_BYTES, b->hmsg, b->hlen);
        used = need;
        *bytes += b->hlen;
        *end = b->hpos + 1;
        b->held = 0;
        n++;
    }
    char cnt[16];
    snprintf(cnt, sizeof cnt, "%u", n);
    s = natsMsg_Create(out, o->subject, reply, (const char *)b->buf, (int)used);
    if (s == NATS_OK) {
        s = natsMsgHeader_Set(*out, FRAME_BATCH_HEADER, cnt);
    }
    if (s != NATS_OK) {
        bridge_log("cannot build a NATS message: %s", bridge_nats_error(s));
        return -EXIT_NATS;
    }
    return (int)n;
}

/* Releases the acknowledged prefix of the window. */
static void release_acked(struct out *b)
{
    uint64_t n = 0, bytes = 0;
    pthread_mutex_lock(&b->mu);
    while (b->lo < b->hi && at(b, b->lo)->state == E_ACKED) {
        n += at(b, b->lo)->nmsgs;
        bytes += at(b, b->lo)->bytes;
        b->lo++;
    }
    b->st.inflight = b->hi - b->lo;
    b->st.dups = b->dups;
    pthread_mutex_unlock(&b->mu);
    if (n > 0) {
        int err = shmring_release_n(b->r, (size_t)n);
        if (err < 0) {
            bridge_log("ring %s: release: %s", b->o->ring, shmring_strerror(err));
            b->fatal = EXIT_RING;
        }
        b->st.msgs += n;
        b->st.bytes += bytes;
    }
}

/* Asks the stream what it already holds of this ring; releases those messages. 0, or an exit
 * code (after retrying transient errors with a backoff until stopped). */
static int session_start(struct out *b)
{
    const struct bridge_opts *o = b->o;
    int64_t delay = 100;
    uint64_t stored_end = 0;
    for (;;) {
        if (bridge_stop) {
            return EXIT_OK;
        }
        if (bridge_ensure_stream(o, b->js) == EXIT_OK) {
            natsMsg *m = NULL;
            jsErrCode jerr = 0;
            natsStatus s = js_GetLastMsg(&m, b->js, o->stream, o->subject, NULL, &jerr);
            if (s == NATS_OK) {
                const char *id = NULL;
                uint64_t f, e;
                if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != NULL &&
                    frame_id_parse(id, o->source_id, b->gen, &f, &e)) {
                    stored_end = e;
                }
                natsMsg_Destroy(m);
                break;
            }
            if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
                break;
            }
            bridge_log("cannot read the last message of stream %s: %s; retrying in %lld ms",
                       o->stream, bridge_nats_error(s), (long long)delay);
        } else {
            bridge_log("stream %s not usable yet; retrying in %lld ms", o->stream,
                       (long long)delay);
        }
        sleep_ms(delay);
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
    shmring_rewind(b->r);
    b->held = 0;
    b->have_last = 0;
    pthread_mutex_lock(&b->mu);
    b->session++;
    pthread_mutex_unlock(&b->mu);
    if (stored_end > 0) {
        struct shmring_stats rs;
        shmring_stats(b->r, &rs);
        if (stored_end > rs.tail + 1) {
            bridge_log("stream %s already holds ring %s (generation %" PRIu64 ") up to position "
                       "%" PRIu64 ", beyond anything this ring has held (tail %" PRIu64 "): a new "
                       "ring with an old name? Give it another --id, or purge the stream",
                       o->stream, o->ring, b->gen, stored_end, rs.tail);
            return EXIT_NATS;
        }
        /* Release what is stored. Messages before stored_end are all in the ring or released. */
        uint64_t n = 0, bytes = 0;
        for (;;) {
            int rc = hold_next(b, 0);
            if (rc < 0) {
                return -rc;
            }
            if (rc == 0 || b->hpos >= stored_end) {
                break;
            }
            n++;
            bytes += b->hlen;
            b->held = 0;
        }
        /* The read-ahead now holds those n messages, then maybe the held one: release the n. */
        if (n > 0) {
            if (shmring_release_n(b->r, (size_t)n) < 0) {
                return EXIT_RING;
            }
            b->st.resumed += n;
            b->st.msgs += n;
            b->st.bytes += bytes;
            if (!o->quiet) {
                bridge_log("stream %s already holds %" PRIu64 " message(s) of the ring: released "
                           "without publishing again",
                           o->stream, n);
            }
            /* Replayed compositions that are stored are dropped. */
            while (b->ireplay < b->nreplay && b->replay[b->ireplay].end <= stored_end) {
                b->ireplay++;
            }
        }
    }
    return EXIT_OK;
}

/* After a failure: wait for every outstanding ack, release the acknowledged prefix, keep the
 * composition of the rest for a replay, start a new session. */
static int recover(struct out *b)
{
    pthread_mutex_lock(&b->mu);
    for (;;) {
        expire(b, 1);
        int pending = 0;
        for (uint64_t k = b->lo; k < b->hi; k++) {
            pending |= at(b, k)->state == E_SENT;
        }
        if (!pending) {
            break;
        }
        b->waiting = 1;
        b->wake_at = 0; /* any ack */
        wait_cv_ms(b, 100);
        b->waiting = 0;
    }
    pthread_mutex_unlock(&b->mu);
    release_acked(b);
    pthread_mutex_lock(&b->mu);
    uint64_t keep = b->hi - b->lo;
    struct entry *rp = malloc((keep + (b->nreplay - b->ireplay) + 1) * sizeof *rp);
    if (rp == NULL) {
        pthread_mutex_unlock(&b->mu);
        return EXIT_NATS;
    }
    uint64_t n = 0;
    for (uint64_t k = b->lo; k < b->hi; k++) {
        rp[n++] = *at(b, k);
    }
    for (uint64_t i = b->ireplay; i < b->nreplay; i++) {
        rp[n++] = b->replay[i]; /* not sent yet in the failed session */
    }
    b->lo = b->hi = 0;
    b->failed = 0;
    b->st.errors++;
    pthread_mutex_unlock(&b->mu);
    free(b->replay);
    b->replay = rp;
    b->nreplay = n;
    b->ireplay = 0;
    return session_start(b);
}

/* Publishes the next NATS message. 1 published, 0 nothing to send, < 0 exit code. */
static int publish_next(struct out *b)
{
    const struct bridge_opts *o = b->o;
    natsMsg *m = NULL;
    uint64_t first, end, bytes;
    int skip;
    int exact = b->ireplay < b->nreplay;
    uint32_t limit = exact ? b->replay[b->ireplay].nmsgs : o->batch;
    char reply[sizeof b->inbox + 48];
    pthread_mutex_lock(&b->mu);
    snprintf(reply, sizeof reply, "%s%" PRIu64 ".%" PRIu64, b->inbox, b->session, b->hi);
    pthread_mutex_unlock(&b->mu);
    int n = pack(b, limit, exact, reply, &m, &first, &end, &bytes, &skip);
    if (n <= 0) {
        return n;
    }
    if (exact) {
        if (first != b->replay[b->ireplay].first || end != b->replay[b->ireplay].end) {
            bridge_log("a re-sent batch changed composition");
            natsMsg_Destroy(m);
            return -EXIT_RING;
        }
        b->ireplay++;
    }
    char id[300];
    if (frame_id(id, sizeof id, o->source_id, b->gen, first, end) < 0) {
        natsMsg_Destroy(m);
        return -EXIT_USAGE;
    }
    natsStatus s = NATS_OK;
    if (!skip) {
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
        if (s == NATS_OK && b->have_last) {
            s = natsMsgHeader_Set(m, "Nats-Expected-Last-Msg-Id", b->last_id);
        }
        if (s != NATS_OK) {
            bridge_log("cannot build a NATS message: %s", bridge_nats_error(s));
            natsMsg_Destroy(m);
            return -EXIT_NATS;
        }
    }
    /* The entry exists before the publish: its ack may come at once. */
    pthread_mutex_lock(&b->mu);
    struct entry *e = at(b, b->hi);
    e->first = first;
    e->end = end;
    e->bytes = bytes;
    e->nmsgs = (uint32_t)n;
    e->state = skip ? E_ACKED : E_SENT;
    e->sent_ms = bridge_now_ms();
    b->hi++;
    pthread_mutex_unlock(&b->mu);
    if (skip) {
        b->st.skipped++;
        return 1;
    }
    s = natsConnection_PublishMsg(b->nc, m);
    bridge_dead_add(&b->dead, m);
    if (s != NATS_OK) {
        /* Not sent: undo the entry and start over after the outstanding acks. */
        pthread_mutex_lock(&b->mu);
        b->hi--;
        b->failed = 1;
        pthread_mutex_unlock(&b->mu);
        if (b->fail_logs++ < 20 || b->fail_logs % 1000 == 0) {
            bridge_log("publish of %s: %s (will re-send in order)", id, bridge_nats_error(s));
        }
        if (exact) {
            b->ireplay--;
        }
        sleep_ms(50);
        return 0;
    }
    memcpy(b->last_id, id, strlen(id) + 1);
    b->have_last = 1;
    b->st.nats_msgs++;
    return 1;
}

static int out_jetstream(struct out *b)
{
    const struct bridge_opts *o = b->o;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    natsStatus s = natsConnection_JetStream(&b->js, b->nc, &jo);
    if (s != NATS_OK) {
        bridge_log("JetStream: %s", bridge_nats_error(s));
        return EXIT_NATS;
    }
    b->cap = o->window;
    b->e = calloc(b->cap, sizeof *b->e);
    if (b->e == NULL) {
        jsCtx_Destroy(b->js);
        return EXIT_NATS;
    }
    natsInbox *inbox = NULL;
    s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
        snprintf(b->inbox, sizeof b->inbox, "%s.", (const char *)inbox);
        b->inbox_len = strlen(b->inbox);
        char wild[sizeof b->inbox + 2];
        snprintf(wild, sizeof wild, "%s*.*", b->inbox);
        s = natsConnection_Subscribe(&b->acksub, b->nc, wild, on_ack, b);
    }
    natsInbox_Destroy(inbox);
    if (s == NATS_OK) {
        natsSubscription_SetPendingLimits(b->acksub, -1, -1); /* bounded by the window */
        s = natsSubscription_SetOnCompleteCB(b->acksub, on_ack_done, b);
    }
    if (s != NATS_OK) {
        bridge_log("ack subscription: %s", bridge_nats_error(s));
        jsCtx_Destroy(b->js);
        return EXIT_NATS;
    }
    int rc = session_start(b);
    int64_t stop_deadline = 0;
    while (rc == EXIT_OK) {
        release_acked(b);
        if (b->fatal) {
            rc = b->fatal;
            break;
        }
        pthread_mutex_lock(&b->mu);
        expire(b, 0);
        int failed = b->failed;
        uint64_t inflight = b->hi - b->lo;
        pthread_mutex_unlock(&b->mu);
        if (failed) {
            rc = recover(b);
            continue;
        }
        if (bridge_stop) {
            /* Finish the outstanding acks (bounded by their timeout), then exit. */
            if (stop_deadline == 0) {
                stop_deadline = bridge_now_ms() + ACK_WAIT_MS + 1000;
            }
            if (inflight == 0 || bridge_now_ms() > stop_deadline) {
                break;
            }
        }
        int sent = 0;
        while (!bridge_stop && inflight < o->window) {
            int p = publish_next(b);
            if (p < 0) {
                rc = -p;
                break;
            }
            if (p == 0) {
                break;
            }
            sent = 1;
            inflight++;
        }
        if (rc != EXIT_OK) {
            break;
        }
        if (!sent) {
            bridge_dead_flush(&b->dead);
            if (!bridge_stop && inflight < o->window) {
                /* The ring is empty: block on it (the producer wakes us), 100 ms when nothing
                 * is outstanding, else 1 ms so that acknowledged messages are released soon. */
                int h = hold_next(b, (inflight == 0 ? 100 : 1) * 1000000LL);
                if (h < 0) {
                    rc = -h;
                }
            } else {
                /* The window is full (or stopping): sleep until a quarter of it is
                 * acknowledged, not once per ack; 5 ms at most (the ack timeout check). */
                pthread_mutex_lock(&b->mu);
                if (b->lo < b->hi && at(b, b->lo)->state == E_SENT && !b->failed) {
                    uint64_t batch = bridge_stop ? 1 : o->window / 4;
                    b->waiting = 1;
                    b->wake_at = b->lo + (batch > 0 ? batch : 1);
                    wait_cv_ms(b, 5);
                    b->waiting = 0;
                }
                pthread_mutex_unlock(&b->mu);
            }
        }
        bridge_stats_tick(o, &b->st, 0);
    }
    if (rc != EXIT_OK) {
        /* Whatever the reason, release what was acknowledged before leaving. */
        int64_t until = bridge_now_ms() + ACK_WAIT_MS;
        for (;;) {
            release_acked(b);
            pthread_mutex_lock(&b->mu);
            int pending = b->lo < b->hi && at(b, b->lo)->state == E_SENT;
            pthread_mutex_unlock(&b->mu);
            if (!pending || bridge_now_ms() > until) {
                break;
            }
            sleep_ms(5);
        }
    }
    release_acked(b);
    bridge_dead_flush(&b->dead);
    bridge_stats_tick(o, &b->st, 1);
    /* on_ack runs on the subscription's thread with b: after the unsubscribe, the completion
     * callback says that no on_ack runs or will run. The flush first lets nats.c's read loop
     * get past any ack it was handing over (nats.c#637, see in.c's retire()). If that does not
     * happen in time (the server gone), bridge_out keeps b allocated (see there). */
    natsSubscription_Unsubscribe(b->acksub);
    natsConnection_FlushTimeout(b->nc, 2000);
    pthread_mutex_lock(&b->mu);
    int64_t until = bridge_now_ms() + 2000;
    while (!b->acksub_done && bridge_now_ms() < until) {
        wait_cv_ms(b, 50);
    }
    b->acks_out = !b->acksub_done;
    pthread_mutex_unlock(&b->mu);
    if (!b->acks_out) {
        natsSubscription_Destroy(b->acksub);
    }
    jsCtx_Destroy(b->js);
    return rc;
}

static int out_core(struct out *b)
{
    const struct bridge_opts *o = b->o;
    int rc = EXIT_OK;
    int64_t delay = 50;
    while (rc == EXIT_OK && !bridge_stop) {
        natsMsg *m = NULL;
        uint64_t first, end, bytes;
        int skip = 0;
        int h = hold_next(b, 100 * 1000000LL);
        if (h <= 0) {
            rc = -h;
            bridge_stats_tick(o, &b->st, 0);
            continue;
        }
        int n;
        natsStatus s = NATS_OK;
        if (o->batch <= 1 && !oversize(b, b->hlen)) {
            /* No header to add: publish the ring's bytes as they are, as the bare client does
             * (no natsMsg: no allocation, no hand-off to nats.c's garbage collector thread). */
            n = 1;
            skip = 0;
            bytes = b->hlen;
            b->held = 0;
            s = natsConnection_Publish(b->nc, o->subject, b->hmsg, (int)b->hlen);
        } else {
            n = pack(b, o->batch, 0, NULL, &m, &first, &end, &bytes, &skip);
            if (n < 0) {
                rc = -n;
                break;
            }
            if (n == 0) {
                continue; /* nothing packed (a message is held here, so not expected) */
            }
            if (!skip) {
                s = natsConnection_PublishMsg(b->nc, m);
                bridge_dead_add(&b->dead, m);
            }
        }
        if (!skip) {
            if (s != NATS_OK) {
                /* Nothing released: rewind and try again after a backoff. */
                bridge_log("publish: %s; retrying in %lld ms", bridge_nats_error(s),
                           (long long)delay);
                shmring_rewind(b->r);
                b->held = 0;
                b->st.errors++;
                sleep_ms(delay);
                delay = delay * 2 > 5000 ? 5000 : delay * 2;
                continue;
            }
            delay = 50;
            b->st.nats_msgs++;
        } else {
            b->st.skipped++;
        }
        /* At most once: released as soon as the client library has it (the read-ahead holds
         * these n messages, then maybe a held one for the next batch). */
        if (shmring_release_n(b->r, (size_t)n) < 0) {
            rc = EXIT_RING;
        }
        b->st.msgs += (uint64_t)n;
        b->st.bytes += bytes;
        bridge_stats_tick(o, &b->st, 0);
    }
    bridge_dead_flush(&b->dead);
    natsConnection_FlushTimeout(b->nc, 2000);
    bridge_stats_tick(o, &b->st, 1);
    return rc;
}

int bridge_out(const struct bridge_opts *o, natsConnection *nc)
{
    /* On the heap: on_ack runs on a nats.c thread with this struct (out_jetstream's end). */
    struct out *b = calloc(1, sizeof *b);
    if (b == NULL) {
        bridge_log("out of memory");
        return EXIT_NATS;
    }
    b->o = o;
    b->nc = nc;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    struct shmring_opts ro = {.size = o->ring_size, .flags = SHMRING_CREATE};
    int err = shmring_open(o->ring, SHMRING_CONSUMER, &ro, &b->r);
    if (err == SHMRING_EINVAL) {
        ro.size = 0; /* it exists with another size: take it as it is */
        err = shmring_open(o->ring, SHMRING_CONSUMER, &ro, &b->r);
    }
    if (err < 0) {
        bridge_log("cannot open ring %s as its consumer: %s", o->ring, shmring_strerror(err));
        free(b);
        return EXIT_RING;
    }
    struct shmring_stats rs;
    shmring_stats(b->r, &rs);
    b->gen = rs.generation;
    int64_t mp = natsConnection_GetMaxPayload(nc);
    b->max_payload = mp > 0 ? (size_t)mp : 1024 * 1024;
    if (!o->quiet) {
        bridge_log("out: ring %s (generation %" PRIu64 ") -> %s %s%s%s, max_payload %zu", o->ring,
                   b->gen, o->core ? "core subject" : "subject", o->subject,
                   o->core ? "" : ", stream ", o->core ? "" : o->stream, b->max_payload);
    }
    int rc = o->core ? out_core(b) : out_jetstream(b);
    shmring_close(b->r);
    free(b->replay);
    free(b->buf);
    if (b->acks_out) {
        /* An ack may still come (nats.c times it out later) and run on_ack: keep what it
         * touches (the window and the lock) until the process exits. */
        return rc;
    }
    free(b->e);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
    return rc;
}
