/* SPDX-License-Identifier: MIT */
/* Connecting: servers, credentials, TLS, reconnection with a logged backoff; the stream. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

atomic_int bridge_reconnects;
atomic_int bridge_disconnected;

int bridge_reconnect_count(void)
{
    /* N2 (relaxed): pairs with N1; a count, nothing published through it. */
    return atomic_load_explicit(&bridge_reconnects, memory_order_relaxed);
}
static int quiet;

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    (void)closure;
    /* N1 (relaxed): see N2. */
    atomic_store_explicit(&bridge_disconnected, 1, memory_order_relaxed);
    bridge_log("disconnected from NATS; reconnecting (messages stay in the ring)");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    /* N1 (relaxed): pairs with N2 in bridge_reconnect_count(). */
    atomic_fetch_add_explicit(&bridge_reconnects, 1, memory_order_relaxed);
    atomic_store_explicit(&bridge_disconnected, 0, memory_order_relaxed);
    bridge_log("reconnected to %s", url);
}

/* Backoff: 100 ms doubling to 5 s. One line per attempt. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    (void)nc;
    (void)closure;
    int64_t d = 100;
    for (int i = 1; i < attempts && d < 5000; i++) {
        d *= 2;
    }
    d = d > 5000 ? 5000 : d;
    if (!quiet || attempts <= 3 || attempts % 10 == 0) {
        bridge_log("reconnect attempt %d in %lld ms", attempts, (long long)d);
    }
    return d;
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *c)
{
    (void)nc;
    (void)sub;
    (void)c;
    if (err != NATS_SLOW_CONSUMER) { /* counted as dropped, not logged per message */
        bridge_log("NATS error: %s", natsStatus_GetText(err));
    }
}

static int fail(const char *what, natsStatus s)
{
    bridge_log("%s: %s", what, bridge_nats_error(s));
    return EXIT_USAGE;
}

int bridge_connect(const struct bridge_opts *o, natsConnection **nc)
{
    natsOptions *no = NULL;
    natsStatus s = natsOptions_Create(&no);
    quiet = o->quiet;
    if (s != NATS_OK) {
        return fail("nats options", s);
    }
    int rc = EXIT_OK;
#define OPT(call, what)                                                                            \
    do {                                                                                           \
        if (rc == EXIT_OK && (s = (call)) != NATS_OK) {                                            \
            rc = fail(what, s);                                                                    \
        }                                                                                          \
    } while (0)
    const char *servers[BRIDGE_MAX_SERVERS];
    for (int i = 0; i < o->nservers; i++) {
        servers[i] = o->servers[i];
    }
    OPT(natsOptions_SetServers(no, servers, o->nservers), "server URL");
    OPT(natsOptions_SetName(no, o->dir == DIR_OUT ? "shmring-nats out" : "shmring-nats in"),
        "name");
    OPT(natsOptions_SetMaxReconnect(no, -1), "reconnect");
    OPT(natsOptions_SetCustomReconnectDelay(no, reconnect_delay, NULL), "reconnect delay");
    OPT(natsOptions_SetReconnectBufSize(no, 64 * 1024 * 1024), "reconnect buffer");
    OPT(natsOptions_SetDisconnectedCB(no, on_disconnected, NULL), "callback");
    OPT(natsOptions_SetReconnectedCB(no, on_reconnected, NULL), "callback");
    OPT(natsOptions_SetErrorHandler(no, on_async_error, NULL), "callback");
    OPT(natsOptions_SetTimeout(no, 2000), "timeout");
    OPT(natsOptions_SetPingInterval(no, 2000), "ping interval");
    OPT(natsOptions_SetMaxPingsOut(no, 3), "pings");
    if (o->dir == DIR_IN && o->core) {
        OPT(natsOptions_SetMaxPendingMsgs(no, 65536), "pending");
    }
    if (o->creds) {
        OPT(natsOptions_SetUserCredentialsFromFiles(no, o->creds, NULL), "--creds");
    }
    if (o->nkey) {
        OPT(natsOptions_SetNKeyFromSeed(no, o->nkey, o->nkey_seed), "--nkey-seed");
    }
    const char *user = getenv("NATS_USER"), *pass = getenv("NATS_PASSWORD");
    const char *token = getenv("NATS_TOKEN");
    if (user != NULL) {
        OPT(natsOptions_SetUserInfo(no, user, pass ? pass : ""), "NATS_USER");
    }
    if (token != NULL) {
        OPT(natsOptions_SetToken(no, token), "NATS_TOKEN");
    }
    if (o->tls || o->ca || o->cert) {
        OPT(natsOptions_SetSecure(no, true), "TLS");
    }
    if (o->ca) {
        OPT(natsOptions_LoadCATrustedCertificates(no, o->ca), "--ca");
    }
    if (o->cert) {
        OPT(natsOptions_LoadCertificatesChain(no, o->cert, o->key), "--cert/--key");
    }
#undef OPT
    int64_t start = bridge_now_ms();
    for (int attempt = 1; rc == EXIT_OK; attempt++) {
        s = natsConnection_Connect(nc, no);
        if (s == NATS_OK) {
            char url[256] = "";
            natsConnection_GetConnectedUrl(*nc, url, sizeof url);
            if (!o->quiet) {
                bridge_log("connected to %s", url);
            }
            break;
        }
        if (s != NATS_NO_SERVER) {
            /* Authorization, TLS, a bad URL: trying again will not help. */
            bridge_log("cannot connect to NATS: %s", bridge_nats_error(s));
            rc = s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED ? EXIT_NATS
                                                                             : EXIT_USAGE;
            break;
        }
        int64_t d = attempt < 6 ? (int64_t)100 << (attempt - 1) : 5000;
        d = d > 5000 ? 5000 : d;
        if (o->connect_timeout_ms > 0 && bridge_now_ms() - start + d > o->connect_timeout_ms) {
            bridge_log("no NATS server reachable after %.1f s: giving up (--connect-timeout)",
                       (double)(bridge_now_ms() - start) / 1000.0);
            rc = EXIT_NATS;
            break;
        }
        bridge_log("no NATS server reachable (%s); connect attempt %d in %lld ms",
                   bridge_nats_error(s), attempt + 1, (long long)d);
        struct timespec ts = {d / 1000, (d % 1000) * 1000000};
        nanosleep(&ts, NULL);
        if (bridge_stop) {
            rc = EXIT_NATS;
        }
    }
    natsOptions_Destroy(no);
    return rc;
}

int bridge_ensure_stream(const struct bridge_opts *o, jsCtx *js)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, js, o->stream, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return EXIT_OK;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
        bridge_log("stream %s: %s (JetStream error %d)", o->stream, bridge_nats_error(s),
                   (int)jerr);
        return -1; /* maybe transient: the caller retries */
    }
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[1] = {o->subject};
    cfg.Name = o->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = o->replicas;
    cfg.Duplicates = o->dup_window_s * 1000000000LL;
    s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    if (jerr == JSStreamNameExistErr) {
        return EXIT_OK; /* created meanwhile (by the other bridge), maybe with other settings */
    }
    if (s != NATS_OK) {
        bridge_log("cannot create stream %s: %s (JetStream error %d)", o->stream,
                   bridge_nats_error(s), (int)jerr);
        return -1;
    }
    if (!o->quiet) {
        bridge_log("created stream %s (subject %s, file storage, %d replica(s), duplicate window "
                   "%lld s)",
                   o->stream, o->subject, o->replicas, (long long)o->dup_window_s);
    }
    jsStreamInfo_Destroy(si);
    return EXIT_OK;
}
