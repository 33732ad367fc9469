/* SPDX-License-Identifier: MIT */
/* shmring recv NAME [--count N] [--timeout SECONDS] [--follow] [--binary] */
#include <errno.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd cmd = {
    "recv",
    "Usage: shmring recv NAME [--count N] [--timeout SECONDS] [--follow] [--binary]\n"
    "\n"
    "Receives messages and prints each on its own line. Bytes other than printable ASCII and\n"
    "well-formed UTF-8 are escaped: \\\\ \\n \\r \\t and \\xHH. The ring must exist.\n"
    "\n"
    "By default prints the messages waiting now and exits (waiting up to --timeout for the\n"
    "first one).\n",
    "\n"
    "Exit codes: 0 received (all N with --count), 2 no such ring, 5 nothing arrived in time,\n"
    "6 the producer closed or died and every message it sent was printed, 7 another process\n"
    "is the consumer (see 'shmring --help').\n",
    0};

struct receiver {
    shmring *ring;
    const char *name;
    int binary;
};

/* The next message, waiting until deadline in slices so that a stop signal is seen promptly.
 * Flushes our output before sleeping, so a follower's reader sees each message when it
 * arrives, while a burst still goes out in large writes. */
static shmring_ssize next(struct receiver *rc, const void **msg, int64_t deadline)
{
    shmring_ssize n = shmring_peek(rc->ring, msg);
    if (n != SHMRING_EAGAIN) {
        return n;
    }
    if (fflush(stdout) != 0) {
        return -errno;
    }
    for (;;) {
        if (cli_stop_signal) {
            return SHMRING_EINTR;
        }
        n = shmring_peek_wait(rc->ring, msg, cli_slice(deadline));
        if (n != SHMRING_ETIMEDOUT && n != SHMRING_EAGAIN && n != SHMRING_EINTR) {
            return n;
        }
        if (n != SHMRING_EINTR && cli_now_ns() >= deadline) {
            return SHMRING_ETIMEDOUT;
        }
    }
}

/* The ring position up to which we have consumed (every release publishes it). */
static uint64_t consumed_to(struct receiver *rc)
{
    struct shmring_stats st;
    return shmring_stats(rc->ring, &st) == 0 ? st.head : UINT64_MAX >> 2;
}

static void print(struct receiver *rc, const void *msg, size_t len)
{
    if (rc->binary) {
        unsigned char hdr[4];
        cli_put_le32(hdr, (uint32_t)len);
        fwrite(hdr, 1, sizeof hdr, stdout);
        fwrite(msg, 1, len, stdout);
    } else {
        cli_write_escaped(stdout, msg, len);
        putchar('\n');
    }
}

int cmd_recv(int argc, char **argv)
{
    const char *count_s = NULL, *timeout_s = NULL;
    int follow = 0, npos;
    struct receiver rc = {NULL, NULL, 0};
    const struct cli_opt opts[] = {
        {"count", 'n', &count_s, NULL, "N",
         "stop after N messages, waiting for each as long as needed"},
        {"follow", 'f', NULL, &follow, NULL,
         "keep waiting for new messages until the producer is gone"},
        {"timeout", 't', &timeout_s, NULL, "SECONDS",
         "longest wait for any one message (default: 0 without --count\n"
         "and --follow, else forever)"},
        {"binary", 'b', NULL, &rc.binary, NULL,
         "write each message as a record instead: a 4-byte little-endian\n"
         "length then the bytes (what 'shmring send --binary' reads)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    int r = cli_start(argc, argv, &cmd, opts, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    if (npos != 1) {
        return cli_usage_error("recv", npos == 0 ? "missing ring name" : "too many arguments");
    }
    rc.name = argv[1];
    if ((r = cli_check_name("recv", rc.name)) != 0) {
        return r;
    }
    uint64_t count = 0; /* 0: no limit */
    if (count_s != NULL && (cli_parse_u64(count_s, &count) < 0 || count == 0)) {
        return cli_usage_error("recv", "bad count '%s': need a positive integer", count_s);
    }
    int drain = count_s == NULL && !follow; /* print what is there, then exit */
    int64_t timeout_ns = drain ? 0 : -1;
    if (timeout_s != NULL && cli_parse_seconds(timeout_s, &timeout_ns) < 0) {
        return cli_usage_error("recv", "bad timeout '%s': need seconds, e.g. 5 or 0.5", timeout_s);
    }
    cli_catch_signals();
    if (rc.binary) {
        cli_binary_stdio();
    }
    struct shmring_opts o = {0}; /* no SHMRING_CREATE */
    char what[SHMRING_NAME_MAX + 16];
    snprintf(what, sizeof what, "recv '%s'", rc.name);
    if ((r = shmring_open(rc.name, SHMRING_CONSUMER, &o, &rc.ring)) < 0) {
        return cli_fail(what, r);
    }
    uint64_t got = 0;
    uint64_t end = 0; /* draining: the producer's position when the first message was there */
    shmring_ssize n = 0;
    while (count == 0 || got < count) {
        /* "What is waiting now" must end even while a producer keeps sending: stop at the
         * position the producer had reached when we started. */
        if (drain && got > 0 && consumed_to(&rc) - end < (UINT64_MAX >> 1)) {
            n = SHMRING_ETIMEDOUT; /* reads as "drained" below */
            break;
        }
        /* Draining: only the first message is waited for. */
        int64_t wait = drain && got > 0 ? 0 : timeout_ns;
        const void *msg;
        n = next(&rc, &msg, wait < 0 ? INT64_MAX : cli_now_ns() + wait);
        if (n < 0) {
            break;
        }
        if (drain && got == 0) {
            /* Only a bound for this loop: the producer's position now, which is at least the
             * end of this message; later messages are left for the next recv. */
            struct shmring_stats st;
            end = shmring_stats(rc.ring, &st) == 0 ? st.tail : 0;
        }
        /* Peek, print, release: the message leaves the ring only once it is in our buffer. */
        print(&rc, msg, (size_t)n);
        shmring_release(rc.ring);
        got++;
        if (ferror(stdout)) {
            break;
        }
    }
    int code = cli_flush_stdout("recv");
    if (code == 0 && n < 0) { /* the loop ended before the count (if any) was reached */
        if (n == SHMRING_EINTR && cli_stop_signal) {
            code = cli_signal_exit();
        } else if (drain && got > 0 && (n == SHMRING_ETIMEDOUT || n == SHMRING_EPIPE)) {
            code = CLI_OK; /* drained what was there */
        } else {
            /* Not waiting at all, "timed out" would mislead: say the ring was empty. */
            int err = n == SHMRING_ETIMEDOUT && timeout_ns == 0 ? SHMRING_EAGAIN : (int)n;
            code = cli_fail(what, err);
        }
    }
    shmring_close(rc.ring);
    return code;
}
