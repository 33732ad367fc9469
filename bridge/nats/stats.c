/* SPDX-License-Identifier: MIT */
/* Log lines and periodic counters on stderr (text, or one JSON line per interval). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

int64_t bridge_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bridge_log(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "shmring-nats: %s\n", buf);
}

const char *bridge_nats_error(natsStatus s)
{
    static __thread char buf[512];
    natsStatus last;
    const char *detail = nats_GetLastError(&last);
    if (detail != NULL && *detail != '\0' && last == s) {
        snprintf(buf, sizeof buf, "%s (%s)", natsStatus_GetText(s), detail);
    } else {
        snprintf(buf, sizeof buf, "%s", natsStatus_GetText(s));
    }
    return buf;
}

static struct {
    int64_t start_ms, last_ms;
    uint64_t last_msgs, last_bytes;
} st;

void bridge_stats_tick(const struct bridge_opts *o, const struct bridge_stats *s, int final)
{
    int64_t now = bridge_now_ms();
    if (st.start_ms == 0) {
        st.start_ms = st.last_ms = now;
    }
    if (!final && (o->stats_s <= 0 || now - st.last_ms < (int64_t)(o->stats_s * 1000))) {
        return;
    }
    if (o->stats_s <= 0 && !final) {
        return;
    }
    double dt = (double)(now - st.last_ms) / 1000.0;
    double rate = dt > 0 ? (double)(s->msgs - st.last_msgs) / dt : 0;
    double brate = dt > 0 ? (double)(s->bytes - st.last_bytes) / dt : 0;
    const char *dir = o->dir == DIR_OUT ? "out" : "in";
    if (o->json) {
        fprintf(stderr,
                "{\"dir\":\"%s\",\"mode\":\"%s\",\"t\":%.3f,\"final\":%s,\"msgs\":%" PRIu64
                ",\"bytes\":%" PRIu64 ",\"nats_msgs\":%" PRIu64 ",\"msgs_per_s\":%.1f,"
                "\"bytes_per_s\":%.1f,\"inflight\":%" PRIu64 ",\"dups\":%" PRIu64
                ",\"errors\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"dropped\":%" PRIu64
                ",\"resumed\":%" PRIu64 ",\"reconnects\":%d}\n",
                dir, o->core ? "core" : "jetstream", (double)(now - st.start_ms) / 1000.0,
                final ? "true" : "false", s->msgs, s->bytes, s->nats_msgs, rate, brate, s->inflight,
                s->dups, s->errors, s->skipped, s->dropped, s->resumed, bridge_reconnect_count());
    } else if (!o->quiet || o->stats_s > 0) {
        fprintf(stderr,
                "shmring-nats %s: %.1f s%s msgs %" PRIu64 " (%.0f/s) bytes %" PRIu64
                " (%.1f MB/s) nats %" PRIu64 " inflight %" PRIu64 " dups %" PRIu64
                " errors %" PRIu64 " skipped %" PRIu64 " dropped %" PRIu64 " resumed %" PRIu64
                " reconnects %d\n",
                dir, (double)(now - st.start_ms) / 1000.0, final ? " (final)" : "", s->msgs, rate,
                s->bytes, brate / 1e6, s->nats_msgs, s->inflight, s->dups, s->errors, s->skipped,
                s->dropped, s->resumed, bridge_reconnect_count());
    }
    fflush(stderr);
    st.last_ms = now;
    st.last_msgs = s->msgs;
    st.last_bytes = s->bytes;
}
