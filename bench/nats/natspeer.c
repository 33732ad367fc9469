/* SPDX-License-Identifier: MIT */
/* The bare nats.c peer of the bridge benchmark: what the client library does alone, in the same
 * mode, with no ring in between.
 *   natspeer sub URL SUBJECT COUNT [--js STREAM] [--fetch N]   receive COUNT messages
 *   natspeer pub URL SUBJECT COUNT SIZE [--js STREAM] [--window N] [--rate R] [--msgid M]
 * Each payload starts with the send time (CLOCK_MONOTONIC ns); sub prints
 *   msgs COUNT secs S msgs_per_s X p50_us A p99_us B
 * JetStream: pub uses js_PublishAsync with up to --window acks outstanding (as the out-bridge),
 * sub a durable pull consumer with --fetch and an ack per message (as the in-bridge).
 * --msgid 1: each JetStream publish carries a Nats-Msg-Id (the server's duplicate check, as the
 * out-bridge); --msgid 2: also Nats-Expected-Last-Msg-Id = the previous id (as the out-bridge
 * after its first publish). The default, 0, is the plain client the targets are judged against. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

#define CHECK(s, what)                                                                             \
    do {                                                                                           \
        natsStatus s_ = (s);                                                                       \
        if (s_ != NATS_OK) {                                                                       \
            fprintf(stderr, "natspeer: %s: %s\n", what, natsStatus_GetText(s_));                   \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: natspeer pub|sub URL SUBJECT COUNT [SIZE] [options]\n");
        return 2;
    }
    int pub = strcmp(argv[1], "pub") == 0;
    const char *url = argv[2], *subj = argv[3];
    long count = atol(argv[4]);
    size_t size = pub && argc > 5 ? (size_t)atol(argv[5]) : 0;
    const char *stream = NULL;
    int window = 1024, fetch = 256;
    double rate = 0;
    int msgid = 0;
    for (int i = pub ? 6 : 5; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--js") == 0) {
            stream = argv[i + 1];
        } else if (strcmp(argv[i], "--window") == 0) {
            window = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--fetch") == 0) {
            fetch = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--rate") == 0) {
            rate = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--msgid") == 0) {
            msgid = atoi(argv[i + 1]);
        }
    }
    natsConnection *nc;
    CHECK(natsConnection_ConnectTo(&nc, url), "connect");
    jsCtx *js = NULL;
    if (stream != NULL) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.PublishAsync.MaxPending = window;
        jo.PublishAsync.StallWait = 60000; /* a busy machine: wait for acks, do not fail */
        CHECK(natsConnection_JetStream(&js, nc, &jo), "jetstream");
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        const char *subjects[1] = {subj};
        sc.Name = stream;
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        jsErrCode je = 0;
        natsStatus s = js_AddStream(NULL, js, &sc, NULL, &je);
        if (s != NATS_OK && je != JSStreamNameExistErr) {
            CHECK(s, "add stream");
        }
    }
    if (pub) {
        char *buf = calloc(1, size < 8 ? 8 : size);
        char id[2][128];
        int64_t t0 = now_ns();
        for (long i = 0; i < count; i++) {
            if (rate > 0) {
                int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
                while (now_ns() < due) {
                }
            }
            int64_t t = now_ns();
            memcpy(buf, &t, size < 8 ? size : 8);
            if (js != NULL && msgid > 0) {
                jsPubOptions po;
                jsPubOptions_Init(&po);
                snprintf(id[i & 1], sizeof id[0], "%s-1-%ld-%ld", subj, i, i + 1);
                po.MsgId = id[i & 1];
                po.ExpectLastMsgId = msgid > 1 && i > 0 ? id[(i - 1) & 1] : NULL;
                CHECK(js_PublishAsync(js, subj, buf, (int)size, &po), "publish");
            } else if (js != NULL) {
                CHECK(js_PublishAsync(js, subj, buf, (int)size, NULL), "publish");
            } else {
                CHECK(natsConnection_Publish(nc, subj, buf, (int)size), "publish");
            }
        }
        if (js != NULL) {
            jsPubOptions po;
            jsPubOptions_Init(&po);
            po.MaxWait = 60000;
            CHECK(js_PublishAsyncComplete(js, &po), "complete");
        }
        natsConnection_Flush(nc);
        free(buf);
    } else {
        natsSubscription *sub;
        int64_t *lat = malloc(sizeof(int64_t) * (size_t)count);
        long got = 0;
        int64_t t0 = 0;
        if (js != NULL) {
            jsSubOptions so;
            jsSubOptions_Init(&so);
            so.Stream = stream;
            jsErrCode je;
            CHECK(js_PullSubscribe(&sub, js, subj, "peer", NULL, &so, &je), "pull subscribe");
        } else {
            CHECK(natsConnection_SubscribeSync(&sub, nc, subj), "subscribe");
            natsSubscription_SetPendingLimits(sub, 10000000, 1 << 30);
            natsConnection_Flush(nc);
        }
        printf("ready\n");
        fflush(stdout);
        /* core mode loses messages when we fall behind: stop after 3 s idle; JetStream does not,
         * but stop after 30 s idle (a failed publisher) instead of hanging the benchmark. */
        int idle = 0, max_idle = js != NULL ? 30 : 3;
        while (got < count && idle < max_idle) {
            if (js != NULL) {
                natsMsgList list = {0};
                natsStatus s = natsSubscription_Fetch(&list, sub, fetch, 1000, NULL);
                if (list.Count > 0) {
                    s = NATS_OK;
                }
                if (s == NATS_TIMEOUT) {
                    idle += got > 0;
                    continue;
                }
                idle = 0;
                CHECK(s, "fetch");
                for (int i = 0; i < list.Count && got < count; i++) {
                    int64_t t = 0;
                    int len = natsMsg_GetDataLength(list.Msgs[i]);
                    memcpy(&t, natsMsg_GetData(list.Msgs[i]), len < 8 ? (size_t)len : 8);
                    if (t0 == 0) {
                        t0 = now_ns();
                    }
                    lat[got++] = now_ns() - t;
                    natsMsg_Ack(list.Msgs[i], NULL);
                }
                natsMsgList_Destroy(&list);
            } else {
                natsMsg *m;
                natsStatus s = natsSubscription_NextMsg(&m, sub, 1000);
                if (s == NATS_TIMEOUT || s == NATS_SLOW_CONSUMER) {
                    idle += s == NATS_TIMEOUT && got > 0;
                    continue;
                }
                idle = 0;
                CHECK(s, "next");
                int64_t t = 0;
                int len = natsMsg_GetDataLength(m);
                memcpy(&t, natsMsg_GetData(m), len < 8 ? (size_t)len : 8);
                if (t0 == 0) {
                    t0 = now_ns();
                }
                lat[got++] = now_ns() - t;
                natsMsg_Destroy(m);
            }
        }
        double secs = (double)(now_ns() - t0) / 1e9 - (idle >= max_idle ? max_idle : 0);
        qsort(lat, (size_t)got, sizeof *lat, cmp);
        const int64_t p50 = lat[got / 2], p99 = lat[got * 99 / 100];
        printf("lost %ld msgs %ld secs %.3f msgs_per_s %.0f p50_us %.1f p99_us %.1f\n", count - got,
               got, secs, (double)got / secs, (double)p50 / 1e3, (double)p99 / 1e3);
        natsSubscription_Destroy(sub);
        free(lat);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}
