/* SPDX-License-Identifier: MIT */
/* in: receive from NATS and commit each message into a ring, as its producer.
 *
 * JetStream mode, exactly once and in order: a durable pull consumer (AckAll); each NATS message
 * is committed into the ring (a packed batch one ring message at a time) and acknowledged only
 * afterwards, once per fetch (the last one's ack covers the fetch). Every commit publishes the
 * ring's bookmark (shmring_set_bookmark) = stream sequence << 16 | messages of that NATS message
 * committed so far, so after a crash the next bridge knows exactly what the ring already holds: it
 * restarts the durable consumer at that stream sequence, and skips (and acknowledges) what was
 * committed. A gap in the consumer's delivery sequence (a delivery lost in a disconnection)
 * restarts it the same way, so a later message never overtakes a lost one.
 *
 * Core mode: a plain subscription; what the client library drops when we are slow is lost and
 * counted (docs/nats-bridge.md). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "frame.h"

#define BM_SEQ(v)    ((v) >> 16)
#define BM_COUNT(v)  ((v)&0xffffu)
#define BM(seq, cnt) ((seq) << 16 | (cnt))

struct in {
    const struct bridge_opts *o;
    shmring *r;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub;
    size_t max_msg;
    int have_bm;
    uint64_t bm_seq, bm_count;
    uint64_t last_dseq; /* 0: unknown (accept any) */
    int ack_all;        /* the consumer's ack policy is AckAll: acknowledge once per fetch */
    int reconnects_seen;
    /* Unsubscribed subscriptions not freed yet: the read loop may still hold them (retire()). */
    natsSubscription *retired[32];
    int nretired;
    long leaked;
    struct bridge_stats st;
};

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Frees the retired subscriptions once the read loop is known to be past them: a PING/PONG
 * round trip after their unsubscribe. */
static void reap(struct in *b)
{
    if (b->nretired == 0 || natsConnection_FlushTimeout(b->nc, 2000) != NATS_OK) {
        return; /* not now (disconnected): the next reap, or never (a small leak) */
    }
    for (int i = 0; i < b->nretired; i++) {
        natsSubscription_Destroy(b->retired[i]);
    }
    b->nretired = 0;
}

/* Ends a subscription the server may still be delivering to. nats.c before 3.6.1 looks up the
 * subscription of an incoming message in its read loop without taking a reference and locks it
 * afterwards (natsConn_processMsg; nats-io/nats.c#637, fixed in 3.6.1 by PR #638): a
 * natsSubscription_Destroy meanwhile frees it under the read loop, which then locks a freed
 * mutex and links the message into freed memory (heap corruption, seen later in any malloc).
 * So: unsubscribe first (the read loop no longer finds it), and destroy it only after a flush
 * (the read loop handles the PONG after any message it was processing). */
static void retire(struct in *b, natsSubscription *sub)
{
    if (sub == NULL) {
        return;
    }
    natsSubscription_Unsubscribe(sub); /* fails harmlessly when the connection is closed */
    if (b->nretired < (int)(sizeof b->retired / sizeof b->retired[0])) {
        b->retired[b->nretired++] = sub;
    } else if (b->leaked++ == 0) {
        bridge_log("note: keeping unsubscribed NATS subscriptions while disconnected");
    }
    reap(b);
}

/* The stream and consumer sequences of a JetStream delivery, from its reply subject
 * "$JS.ACK.[<domain>.<account hash>.]<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.
 * <timestamp>.<pending>[.<token>]" (what natsMsg_GetMetaData parses, without its allocations:
 * this runs for every message). 1 if both were found. */
static int ack_seqs(const char *reply, uint64_t *seq, uint64_t *dseq)
{
    static const char pfx[] = "$JS.ACK.";
    if (reply == NULL || strncmp(reply, pfx, sizeof pfx - 1) != 0) {
        return 0;
    }
    const char *tok[12];
    int nt = 0;
    const char *p = reply + sizeof pfx - 1;
    tok[nt++] = p;
    while (nt < 12 && (p = strchr(p, '.')) != NULL) {
        tok[nt++] = ++p;
    }
    if (nt != 7 && nt < 9) {
        return 0;
    }
    int d = nt == 7 ? 2 : 4; /* <delivered>: the v1 form has no domain and account hash */
    char *e;
    *seq = strtoull(tok[d + 1], &e, 10);
    if (e == tok[d + 1] || *e != '.') {
        return 0;
    }
    *dseq = strtoull(tok[d + 2], &e, 10);
    return e != tok[d + 2] && *e == '.';
}

/* 0 committed (or skipped by policy), 1 interrupted by a stop, < 0 exit code. */
static int commit(struct in *b, uint64_t seq, uint64_t count, const void *msg, size_t len)
{
    if (len > b->max_msg) {
        if (b->o->oversize == OVERSIZE_STOP) {
            bridge_log("message %" PRIu64 "/%" PRIu64 " of stream sequence %" PRIu64 " is %zu "
                       "bytes: larger than ring %s's max_msg of %zu; --oversize stop: stopping "
                       "(JetStream keeps it)",
                       count, count, seq, len, b->o->ring, b->max_msg);
            return -EXIT_OVERSIZE;
        }
        bridge_log("message of stream sequence %" PRIu64 " is %zu bytes: larger than ring %s's "
                   "max_msg of %zu; --oversize skip: skipped",
                   seq, len, b->o->ring, b->max_msg);
        b->st.skipped++;
        return 0;
    }
    if (!b->o->core) {
        int err = shmring_set_bookmark(b->r, BM(seq, count));
        if (err < 0) {
            bridge_log("ring %s: bookmark: %s", b->o->ring, shmring_strerror(err));
            return -EXIT_RING;
        }
    }
    for (;;) {
        int err = shmring_send_wait(b->r, msg, len, 100 * 1000000LL);
        if (err == 0) {
            b->st.msgs++;
            b->st.bytes += len;
            return 0;
        }
        if (err == SHMRING_ETIMEDOUT || err == SHMRING_EINTR || err == SHMRING_EAGAIN ||
            err == SHMRING_EPIPE) {
            /* Full (or nobody reads it now): stop fetching, JetStream keeps the rest. */
            if (err == SHMRING_EPIPE) {
                sleep_ms(100);
            }
            if (bridge_stop) {
                return 1;
            }
            int64_t dropped;
            if (b->o->core && b->sub != NULL &&
                natsSubscription_GetDropped(b->sub, &dropped) == NATS_OK) {
                b->st.dropped = (uint64_t)dropped; /* the client drops while we wait */
            }
            bridge_stats_tick(b->o, &b->st, 0);
            continue;
        }
        bridge_log("ring %s: %s", b->o->ring, shmring_strerror(err));
        return -EXIT_RING;
    }
}

/* Commits the ring messages of one NATS message, from index `from` (0-based). Returns as
 * commit(); -EXIT_FRAMING for a malformed batch with --oversize stop. */
static int deliver(struct in *b, natsMsg *m, uint64_t seq, uint64_t from, uint64_t *total)
{
    const char *hv = NULL;
    const unsigned char *data = (const unsigned char *)natsMsg_GetData(m);
    size_t size = (size_t)natsMsg_GetDataLength(m);
    if (natsMsgHeader_Get(m, FRAME_BATCH_HEADER, &hv) != NATS_OK || hv == NULL) {
        *total = 1;
        return from >= 1 ? 0 : commit(b, seq, 1, data, size);
    }
    char *e;
    unsigned long n = strtoul(hv, &e, 10);
    /* Check the whole frame before committing any of it. */
    size_t off = 0, cnt = 0, len;
    const unsigned char *p;
    int f;
    while ((f = frame_next(data, size, &off, &p, &len)) == 1) {
        cnt++;
    }
    if (e == hv || *e != '\0' || n == 0 || n > BRIDGE_MAX_BATCH || f < 0 || cnt != n) {
        if (b->o->oversize == OVERSIZE_STOP) {
            bridge_log("malformed batch at stream sequence %" PRIu64 " (%s: %s, %zu bytes): "
                       "stopping (--oversize stop)",
                       seq, FRAME_BATCH_HEADER, hv, size);
            return -EXIT_FRAMING;
        }
        bridge_log("malformed batch at stream sequence %" PRIu64 ": skipped", seq);
        b->st.skipped++;
        *total = 0;
        return 0;
    }
    *total = n;
    off = 0;
    for (uint64_t i = 0; frame_next(data, size, &off, &p, &len) == 1; i++) {
        if (i < from) {
            continue;
        }
        int rc = commit(b, seq, i + 1, p, len);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* (Re)creates the durable consumer at the bookmark and subscribes. 0 or -1 (retry later). */
static int setup_consumer(struct in *b)
{
    const struct bridge_opts *o = b->o;
    retire(b, b->sub);
    b->sub = NULL;
    if (bridge_ensure_stream(o, b->js) != EXIT_OK) {
        return -1;
    }
    jsErrCode jerr = 0;
    jsConsumerInfo *ci = NULL;
    natsStatus s;
    if (b->have_bm) {
        /* The ring knows better than the consumer's ack floor: start at the bookmark. */
        s = js_DeleteConsumer(b->js, o->stream, o->durable, NULL, &jerr);
        if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
            bridge_log("delete consumer %s: %s (JetStream error %d)", o->durable,
                       bridge_nats_error(s), (int)jerr);
            return -1;
        }
    } else if (js_GetConsumerInfo(&ci, b->js, o->stream, o->durable, NULL, &jerr) == NATS_OK) {
        b->last_dseq = 0; /* an existing consumer: continue from its ack floor */
        /* Made by an older bridge with AckExplicit: then every message is acknowledged. */
        b->ack_all = ci->Config != NULL && ci->Config->AckPolicy == js_AckAll;
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        goto subscribe;
    }
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = o->durable;
    cc.AckPolicy = js_AckAll; /* one acknowledgement per fetch: see in_jetstream() */
    cc.AckWait = o->ack_wait_ms * 1000000LL;
    cc.FilterSubject = o->subject;
    cc.MaxAckPending = (int64_t)o->fetch * 4 > 1024 ? (int64_t)o->fetch * 4 : 1024;
    cc.MaxDeliver = -1;
    if (b->have_bm) {
        cc.DeliverPolicy = js_DeliverByStartSequence;
        cc.OptStartSeq = b->bm_seq; /* it may be committed only in part */
    } else {
        cc.DeliverPolicy = js_DeliverAll;
    }
    s = js_AddConsumer(&ci, b->js, o->stream, &cc, NULL, &jerr);
    if (s != NATS_OK) {
        bridge_log("create consumer %s: %s (JetStream error %d)", o->durable, bridge_nats_error(s),
                   (int)jerr);
        return -1;
    }
    jsConsumerInfo_Destroy(ci);
    b->last_dseq = 0;
    b->ack_all = 1;
subscribe:;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = o->stream;
    so.Consumer = o->durable;
    so.ManualAck = true;
    s = js_PullSubscribe(&b->sub, b->js, o->subject, o->durable, &jo, &so, &jerr);
    if (s != NATS_OK) {
        bridge_log("pull subscribe %s: %s (JetStream error %d)", o->durable, bridge_nats_error(s),
                   (int)jerr);
        return -1;
    }
    b->reconnects_seen = bridge_reconnect_count();
    if (!o->quiet) {
        if (b->have_bm) {
            bridge_log("consumer %s starts at stream sequence %" PRIu64 " (the ring's bookmark, "
                       "%" PRIu64 " of its messages committed)",
                       o->durable, b->bm_seq, b->bm_count);
        } else {
            bridge_log("consumer %s: no bookmark in the ring, starting at the consumer's ack "
                       "floor",
                       o->durable);
        }
    }
    return 0;
}

static int setup_retry(struct in *b)
{
    int64_t delay = 100;
    while (!bridge_stop) {
        if (setup_consumer(b) == 0) {
            return 0;
        }
        b->st.errors++;
        bridge_log("retrying in %lld ms", (long long)delay);
        sleep_ms(delay);
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
    return -1;
}

static int in_jetstream(struct in *b)
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
    int rc = EXIT_OK;
    if (setup_retry(b) < 0) {
        goto done;
    }
    int64_t err_delay = 50;
    int idle = 0;
    while (rc == EXIT_OK && !bridge_stop) {
        if (bridge_reconnect_count() != b->reconnects_seen) {
            /* A delivery may have been lost with the connection: restart at the bookmark. */
            if (setup_retry(b) < 0) {
                break;
            }
        }
        natsMsgList list = {0};
        /* 1 s: few pull requests expire unused (nats.c 3.4 uses one reply subject for all of
         * them, so the 408 of an expired one can end the next fetch early, nats.c#631), and a
         * stop waits at most 1 s. */
        s = natsSubscription_Fetch(&list, b->sub, (int)o->fetch, 1000, NULL);
        if (list.Count > 0) {
            s = NATS_OK; /* a timeout after part of the batch: those messages are ours */
        }
        if (s == NATS_TIMEOUT) {
            /* Idle for ~2 s: is the consumer still served? In a cluster, the server that led it
             * may be gone; then the pull requests go nowhere until it is set up again. */
            if (++idle % 2 == 0) {
                jsConsumerInfo *ci = NULL;
                jsErrCode jerr = 0;
                natsStatus cs = js_GetConsumerInfo(&ci, b->js, o->stream, o->durable, NULL, &jerr);
                int stuck = cs != NATS_OK || ci->NumPending > 0 || ci->NumAckPending > 0;
                jsConsumerInfo_Destroy(ci);
                if (stuck) {
                    bridge_log("consumer %s: no delivery for %d s while %s: setting it up again",
                               o->durable, idle,
                               cs != NATS_OK ? bridge_nats_error(cs) : "messages are pending");
                    if (setup_retry(b) < 0) {
                        break;
                    }
                }
            }
            bridge_stats_tick(o, &b->st, 0);
            continue;
        }
        idle = 0;
        if (s != NATS_OK) {
            natsMsgList_Destroy(&list);
            b->st.errors++;
            if (b->st.errors < 20 || b->st.errors % 100 == 0) {
                bridge_log("fetch: %s", bridge_nats_error(s));
            }
            sleep_ms(err_delay);
            err_delay = err_delay * 2 > 2000 ? 2000 : err_delay * 2;
            if (s == NATS_NOT_FOUND || s == NATS_MISSED_HEARTBEAT || err_delay >= 800) {
                if (setup_retry(b) < 0) {
                    break;
                }
            }
            continue;
        }
        err_delay = 50;
        int restart = 0;
        /* The last message committed (or skipped as already committed) of this fetch. With
         * AckAll its acknowledgement covers every earlier one: acknowledgements only tell the
         * server what not to redeliver (the bookmark, not the ack floor, says where a restart
         * resumes), so acknowledging once per fetch instead of per message only means that a
         * crash may see a few more redeliveries, which the bookmark skips. */
        natsMsg *done = NULL;
        for (int i = 0; i < list.Count && rc == EXIT_OK; i++) {
            natsMsg *m = list.Msgs[i];
            if (restart || bridge_stop) {
                break; /* not acknowledged: redelivered or re-read from the bookmark */
            }
            uint64_t seq, dseq;
            if (!ack_seqs(natsMsg_GetReply(m), &seq, &dseq)) {
                continue;
            }
            if (b->last_dseq != 0 && dseq > b->last_dseq + 1) {
                bridge_log("deliveries %" PRIu64 "..%" PRIu64 " of consumer %s never arrived: "
                           "restarting it at the bookmark",
                           b->last_dseq + 1, dseq - 1, o->durable);
                restart = 1;
                break;
            }
            if (dseq > b->last_dseq) {
                b->last_dseq = dseq;
            }
            b->st.nats_msgs++;
            uint64_t from = 0;
            if (b->have_bm && seq < b->bm_seq) {
                from = UINT64_MAX;
            } else if (b->have_bm && seq == b->bm_seq) {
                from = b->bm_count;
            }
            uint64_t total = 0;
            int r = from == UINT64_MAX ? 0 : deliver(b, m, seq, from, &total);
            if (r < 0) {
                rc = -r;
                break;
            }
            if (r == 1) {
                break; /* stopped while the ring was full */
            }
            if (from == UINT64_MAX || (from > 0 && from >= total)) {
                b->st.dups++; /* already in the ring */
            } else {
                b->have_bm = 1;
                b->bm_seq = seq;
                b->bm_count = total;
            }
            if (b->ack_all) {
                done = m;
            } else {
                natsMsg_Ack(m, NULL);
            }
        }
        if (done != NULL) {
            natsMsg_Ack(done, NULL);
        }
        natsMsgList_Destroy(&list);
        if (restart && setup_retry(b) < 0) {
            break;
        }
        bridge_stats_tick(o, &b->st, 0);
    }
done:
    retire(b, b->sub); /* its flush also sends the last acks */
    b->sub = NULL;
    bridge_stats_tick(o, &b->st, 1);
    jsCtx_Destroy(b->js);
    return rc;
}

static int in_core(struct in *b)
{
    const struct bridge_opts *o = b->o;
    natsStatus s = natsConnection_SubscribeSync(&b->sub, b->nc, o->subject);
    if (s != NATS_OK) {
        bridge_log("subscribe %s: %s", o->subject, bridge_nats_error(s));
        return EXIT_NATS;
    }
    natsSubscription_SetPendingLimits(b->sub, 65536, 64 * 1024 * 1024);
    natsConnection_Flush(b->nc);
    int rc = EXIT_OK;
    struct bridge_dead dead = {.n = 0};
    uint64_t n = 0;
    while (rc == EXIT_OK && !bridge_stop) {
        natsMsg *m = NULL;
        s = natsSubscription_NextMsg(&m, b->sub, 100);
        if (s != NATS_OK || ++n % 256 == 0) {
            int64_t dropped = 0;
            if (natsSubscription_GetDropped(b->sub, &dropped) == NATS_OK) {
                b->st.dropped = (uint64_t)dropped;
            }
        }
        if (s == NATS_OK) {
            uint64_t total;
            b->st.nats_msgs++;
            int r = deliver(b, m, 0, 0, &total);
            bridge_dead_add(&dead, m);
            if (r < 0) {
                rc = -r;
            }
        } else {
            bridge_dead_flush(&dead); /* idle: free what is kept */
            if (s != NATS_TIMEOUT && s != NATS_SLOW_CONSUMER) {
                b->st.errors++;
                sleep_ms(50);
            }
        }
        bridge_stats_tick(o, &b->st, 0);
    }
    bridge_dead_flush(&dead);
    int64_t dropped = 0;
    if (natsSubscription_GetDropped(b->sub, &dropped) == NATS_OK) {
        b->st.dropped = (uint64_t)dropped;
    }
    retire(b, b->sub);
    b->sub = NULL;
    bridge_stats_tick(o, &b->st, 1);
    return rc;
}

int bridge_in(const struct bridge_opts *o, natsConnection *nc)
{
    struct in b;
    memset(&b, 0, sizeof b);
    b.o = o;
    b.nc = nc;
    struct shmring_opts ro = {.size = o->ring_size, .flags = SHMRING_CREATE};
    int err = shmring_open(o->ring, SHMRING_PRODUCER, &ro, &b.r);
    if (err == SHMRING_EINVAL) {
        ro.size = 0; /* it exists with another size: take it as it is */
        err = shmring_open(o->ring, SHMRING_PRODUCER, &ro, &b.r);
    }
    if (err < 0) {
        bridge_log("cannot open ring %s as its producer: %s", o->ring, shmring_strerror(err));
        return EXIT_RING;
    }
    b.max_msg = shmring_max_msg(b.r);
    uint64_t v;
    if (!o->core && shmring_get_bookmark(b.r, &v) == 0) {
        b.have_bm = 1;
        b.bm_seq = BM_SEQ(v);
        b.bm_count = BM_COUNT(v);
    }
    if (!o->quiet) {
        bridge_log("in: %s %s -> ring %s (max_msg %zu)", o->core ? "core subject" : "subject",
                   o->subject, o->ring, b.max_msg);
    }
    int rc = o->core ? in_core(&b) : in_jetstream(&b);
    shmring_close(b.r);
    return rc;
}
