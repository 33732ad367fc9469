/* SPDX-License-Identifier: MIT */
/* shmring send NAME [MESSAGE...] [--binary] [--timeout SECONDS] */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd cmd = {
    "send",
    "Usage: shmring send NAME [MESSAGE...] [--timeout SECONDS] [--binary]\n"
    "\n"
    "Sends each MESSAGE argument as one message, in order. With no MESSAGE, sends each line of\n"
    "standard input as one message (without its newline; an empty line is an empty message).\n"
    "Waits while the ring is full. The ring must exist (see 'shmring create').\n"
    "\n",
    "\n"
    "Exit codes: 0 sent, 2 no such ring, 5 timed out, 6 the consumer is gone and the ring is\n"
    "full, 7 another process is the producer, 8 a message is too large (see 'shmring --help').\n",
    0};

struct sender {
    shmring *ring;
    const char *name;
    int64_t timeout_ns; /* < 0: forever */
    uint64_t count;     /* messages sent so far */
};

static int fail(struct sender *s, int err)
{
    char what[SHMRING_NAME_MAX + 64];
    if (err == SHMRING_EMSGSIZE) {
        cli_msg("send '%s': message %llu: %s (at most %zu bytes)", s->name,
                (unsigned long long)s->count + 1, cli_strerror(err), shmring_max_msg(s->ring));
        return CLI_OTHER;
    }
    snprintf(what, sizeof what, "send '%s': message %llu", s->name,
             (unsigned long long)s->count + 1);
    return cli_fail(what, err);
}

/* Reserves room for len bytes, waiting in slices so that a stop signal is seen promptly.
 * 0, SHMRING_ETIMEDOUT, SHMRING_EINTR (stop signal), or the library's errors. */
static int reserve(struct sender *s, size_t len, void **slot)
{
    int64_t deadline = s->timeout_ns < 0 ? INT64_MAX : cli_now_ns() + s->timeout_ns;
    for (;;) {
        if (cli_stop_signal) {
            return SHMRING_EINTR;
        }
        int r = shmring_reserve_wait(s->ring, len, slot, cli_slice(deadline));
        if (r != SHMRING_ETIMEDOUT && r != SHMRING_EAGAIN && r != SHMRING_EINTR) {
            return r;
        }
        if (r != SHMRING_EINTR && cli_now_ns() >= deadline) {
            return SHMRING_ETIMEDOUT;
        }
    }
}

static int send_bytes(struct sender *s, const void *msg, size_t len)
{
    void *slot;
    int r = reserve(s, len, &slot);
    if (r < 0) {
        return r;
    }
    memcpy(slot, msg, len);
    shmring_commit(s->ring, len);
    s->count++;
    return 0;
}

#ifdef _WIN32
/* getline(3) for msvcrt, which has none: the next line of f, its newline included, into *line
 * (grown as needed); its length, or -1 at the end of input or on an error. */
static shmring_ssize getline(char **line, size_t *cap, FILE *f)
{
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF) {
        if (n + 2 > *cap) {
            size_t ncap = *cap ? *cap * 2 : 128;
            char *nl = realloc(*line, ncap);
            if (nl == NULL) {
                errno = ENOMEM;
                return -1;
            }
            *line = nl;
            *cap = ncap;
        }
        (*line)[n++] = (char)c;
        if (c == '\n') {
            break;
        }
    }
    if (n == 0) {
        return -1;
    }
    (*line)[n] = '\0';
    return (shmring_ssize)n;
}
#endif

static int send_lines(struct sender *s)
{
    char *line = NULL;
    size_t cap = 0;
    shmring_ssize n;
    int r = 0;
    while (r == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') {
            n--;
        }
        r = send_bytes(s, line, (size_t)n);
    }
    if (r == 0 && ferror(stdin)) {
        r = errno != 0 ? -errno : -EIO;
    }
    free(line);
    return r;
}

/* Reads exactly n bytes: 1, 0 at a clean end of input (nothing read), -EIO/-errno otherwise
 * (-ENODATA: the input ended inside a record). */
static int read_exact(void *buf, size_t n)
{
    size_t got = fread(buf, 1, n, stdin);
    if (got == n) {
        return 1;
    }
    if (ferror(stdin)) {
        return errno != 0 ? -errno : -EIO;
    }
    return got == 0 ? 0 : -ENODATA;
}

static int send_records(struct sender *s)
{
    for (;;) {
        unsigned char hdr[4];
        int r = read_exact(hdr, sizeof hdr);
        if (r <= 0) {
            return r;
        }
        uint32_t len = cli_get_le32(hdr);
        void *slot;
        /* Zero copy: the record's bytes go from stdin straight into the ring. */
        if ((r = reserve(s, len, &slot)) < 0) {
            return r;
        }
        if (len > 0 && (r = read_exact(slot, len)) <= 0) {
            shmring_abort(s->ring);
            return r == 0 ? -ENODATA : r;
        }
        shmring_commit(s->ring, len);
        s->count++;
    }
}

/* A non-persistent ring disappears with its last user: say so when that drops messages. */
static void warn_if_dropped(struct sender *s)
{
    struct shmring_stats st;
    if (shmring_stats(s->ring, &st) != 0 || (st.flags & SHMRING_PERSIST) || st.used_bytes == 0) {
        return;
    }
    if (shmring_others_attached(s->ring) == 0) {
        cli_msg("send '%s': warning: no other process has the ring open, so the unread "
                "messages are dropped with it (create it with --persist to keep them)",
                s->name);
    }
}

int cmd_send(int argc, char **argv)
{
    const char *timeout_s = NULL;
    int binary = 0, npos;
    const struct cli_opt opts[] = {
        {"binary", 'b', NULL, &binary, NULL,
         "read records from standard input instead of lines: each is a\n"
         "4-byte little-endian length followed by that many bytes (the\n"
         "format 'shmring recv --binary' writes)"},
        {"timeout", 't', &timeout_s, NULL, "SECONDS",
         "give up when the ring stays full this long (default: wait\n"
         "forever; 0: do not wait)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    int r = cli_start(argc, argv, &cmd, opts, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    if (npos < 1) {
        return cli_usage_error("send", "missing ring name");
    }
    struct sender s = {NULL, argv[1], -1, 0};
    if ((r = cli_check_name("send", s.name)) != 0) {
        return r;
    }
    if (binary && npos > 1) {
        return cli_usage_error("send", "--binary reads standard input; give no MESSAGE");
    }
    if (timeout_s != NULL && cli_parse_seconds(timeout_s, &s.timeout_ns) < 0) {
        return cli_usage_error("send", "bad timeout '%s': need seconds, e.g. 5 or 0.5", timeout_s);
    }
    cli_catch_signals();
    struct shmring_opts o = {0}; /* no SHMRING_CREATE: sending to a typo is an error */
    if ((r = shmring_open(s.name, SHMRING_PRODUCER, &o, &s.ring)) < 0) {
        char what[SHMRING_NAME_MAX + 16];
        snprintf(what, sizeof what, "send '%s'", s.name);
        return cli_fail(what, r);
    }
    if (npos > 1) {
        for (int i = 2; i <= npos && r == 0; i++) {
            r = send_bytes(&s, argv[i], strlen(argv[i]));
        }
    } else if (binary) {
        cli_binary_stdio();
        r = send_records(&s);
    } else {
        r = send_lines(&s);
    }
    int code = CLI_OK;
    if (r == SHMRING_EINTR && cli_stop_signal) {
        code = cli_signal_exit();
    } else if (r == -ENODATA) {
        cli_msg("send '%s': input ended inside record %llu", s.name,
                (unsigned long long)s.count + 1);
        code = CLI_OTHER;
    } else if (r < 0) {
        code = fail(&s, r);
    }
    warn_if_dropped(&s);
    shmring_close(s.ring);
    return code;
}
