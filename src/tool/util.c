/* SPDX-License-Identifier: MIT */
/* Shared helpers of the tool: exit codes, error messages, option and number parsing, signals. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "cli.h"

/* ---- errors ------------------------------------------------------------------------------- */

int cli_exit_code(int err)
{
    /* The library's codes by name: on Windows they are fixed numbers, not -errno. */
    switch (err > 0 ? -err : err) {
    case 0:
        return CLI_OK;
    case SHMRING_EINVAL:
        return CLI_USAGE;
    case SHMRING_ENOENT:
        return CLI_NOTFOUND;
    case SHMRING_EACCES:
    case SHMRING_EPERM:
        return CLI_PERM;
    case SHMRING_EPROTO:
    case SHMRING_EBADMSG:
        return CLI_PROTO;
    case SHMRING_ETIMEDOUT:
    case SHMRING_EAGAIN:
        return CLI_EMPTY;
    case SHMRING_EPIPE:
        return CLI_PEER_GONE;
    case SHMRING_EBUSY:
    case SHMRING_EEXIST:
        return CLI_BUSY;
    default:
        return CLI_OTHER;
    }
}

const char *cli_strerror(int err)
{
    const char *text = shmring_strerror(err);
    /* The library's table covers its own codes; an errno it does not know (an I/O error on
     * stdout, say) still deserves the system's text rather than "unknown error". */
    if (strcmp(text, "unknown error") == 0) {
        return strerror(err < 0 ? -err : err);
    }
    return text;
}

int cli_fail(const char *what, int err)
{
    fprintf(stderr, "shmring: %s: %s\n", what, cli_strerror(err));
    return cli_exit_code(err);
}

int cli_no_enum(const char *cmd)
{
    cli_msg("%s: " CLI_NO_ENUM, cmd);
    return CLI_OTHER;
}

void cli_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("shmring: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shmring: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'shmring %s --help'.\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

/* ---- options ------------------------------------------------------------------------------ */

static const struct cli_opt *find_long(const struct cli_opt *opts, const char *name, size_t n)
{
    for (; opts->name != NULL; opts++) {
        if (strlen(opts->name) == n && strncmp(opts->name, name, n) == 0) {
            return opts;
        }
    }
    return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *opts, char c)
{
    for (; opts->name != NULL; opts++) {
        if (opts->short_name == c) {
            return opts;
        }
    }
    return NULL;
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts, int *npos, int *help)
{
    const char *cmd = argv[0];
    int pos = 1; /* next slot for a positional; never passes i, so moving them is safe */
    int only_pos = 0;
    *help = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') { /* "-" alone is a positional */
            argv[pos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            continue;
        }
        const struct cli_opt *o;
        const char *inline_val = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq != NULL ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = find_long(opts, a + 2, n);
            if (o == NULL) {
                return cli_usage_error(cmd, "unknown option '%.*s'", (int)(n + 2), a);
            }
            inline_val = eq != NULL ? eq + 1 : NULL;
        } else {
            if (a[2] != '\0' || (o = find_short(opts, a[1])) == NULL) {
                return cli_usage_error(cmd,
                                       "unknown option '%s' (use -- before an argument "
                                       "that starts with '-')",
                                       a);
            }
        }
        if (o->flag != NULL) {
            if (inline_val != NULL) {
                return cli_usage_error(cmd, "option '--%s' takes no value", o->name);
            }
            *o->flag = 1;
        } else if (inline_val != NULL) {
            *o->value = inline_val;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            return cli_usage_error(cmd, "option '--%s' needs a value", o->name);
        }
    }
    *npos = pos - 1;
    return 0;
}

int cli_check_name(const char *cmd, const char *name)
{
    if (shmring_check_name(name) < 0) {
        return cli_usage_error(cmd,
                               "invalid ring name '%s': 1-%u characters of A-Z a-z 0-9 . _ -, "
                               "not '.' or '..'",
                               name, SHMRING_NAME_MAX);
    }
    return 0;
}

/* ---- numbers ------------------------------------------------------------------------------ */

int cli_parse_u64(const char *s, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9') {
        return -EINVAL;
    }
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    if (*s != '\0') {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    char digits[32];
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        n++;
    }
    if (n == 0 || n >= sizeof digits) {
        return n == 0 ? -EINVAL : -ERANGE;
    }
    memcpy(digits, s, n);
    digits[n] = '\0';
    uint64_t v;
    int r = cli_parse_u64(digits, &v);
    if (r < 0) {
        return r;
    }
    const char *suf = s + n;
    unsigned shift = 0;
    switch (*suf) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    }
    if (shift != 0) {
        suf++;
        if (strcmp(suf, "iB") == 0 || strcmp(suf, "B") == 0) {
            suf += strlen(suf);
        }
    } else if (strcmp(suf, "B") == 0) {
        suf++;
    }
    if (*suf != '\0') {
        return -EINVAL;
    }
    if (shift != 0 && v > (UINT64_MAX >> shift)) {
        return -ERANGE;
    }
    *out = v << shift;
    return 0;
}

int cli_parse_seconds(const char *s, int64_t *out_ns)
{
    if (s[0] < '0' || s[0] > '9') {
        return -EINVAL; /* no sign, no "inf", no "nan" */
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno != 0) {
        return -EINVAL;
    }
    if (v > 9.0e9) { /* ~285 years: keeps the nanoseconds inside int64_t */
        return -ERANGE;
    }
    *out_ns = (int64_t)(v * 1e9);
    return 0;
}

int cli_parse_mode(const char *s, unsigned *out)
{
    if (*s == '\0') {
        return -EINVAL;
    }
    unsigned v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '7' || v > 0777) {
            return -EINVAL;
        }
        v = v * 8 + (unsigned)(*s - '0');
    }
    if (v > 0777) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

const char *cli_fmt_size(uint64_t n, char buf[32])
{
    static const char units[] = "KMGT";
    int u = -1;
    uint64_t v = n;
    while (v != 0 && v % 1024 == 0 && u < 3) {
        v /= 1024;
        u++;
    }
    if (u < 0) {
        snprintf(buf, 32, "%llu", (unsigned long long)n);
    } else {
        snprintf(buf, 32, "%llu%c", (unsigned long long)v, units[u]);
    }
    return buf;
}

/* ---- signals and time --------------------------------------------------------------------- */

volatile sig_atomic_t cli_stop_signal;

#ifdef _WIN32
/* Ctrl-C and Ctrl-Break are SIGINT, closing the console, logoff and shutdown SIGTERM: the same
 * exit codes (130, 143) as on POSIX. The handler runs on a thread of its own; the waits are cut
 * into slices (CLI_SLICE_NS) and look at the flag. */
static BOOL WINAPI on_ctrl(DWORD type)
{
    cli_stop_signal = type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT ? SIGINT : SIGTERM;
    return TRUE;
}

void cli_catch_signals(void)
{
    SetConsoleCtrlHandler(on_ctrl, TRUE);
}

void cli_wait_for_stop(void)
{
    while (!cli_stop_signal) {
        Sleep(50);
    }
}

void cli_binary_stdio(void)
{
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
}

int64_t cli_now_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (freq.QuadPart == 0) {
        QueryPerformanceFrequency(&freq);
    }
    QueryPerformanceCounter(&now);
    return (int64_t)(now.QuadPart / freq.QuadPart * 1000000000 +
                     now.QuadPart % freq.QuadPart * 1000000000 / freq.QuadPart);
}
#else
static void on_stop(int sig)
{
    cli_stop_signal = sig;
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read or futex wait returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Sleeps until a stop signal, without the race of checking a flag and then pausing. */
void cli_wait_for_stop(void)
{
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, &old);
    while (!cli_stop_signal) {
        sigsuspend(&old);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

void cli_binary_stdio(void)
{
}

int64_t cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
#endif

int cli_signal_exit(void)
{
    return 128 + (int)cli_stop_signal;
}

int64_t cli_slice(int64_t deadline)
{
    int64_t now = cli_now_ns();
    if (now >= deadline) {
        return 0;
    }
    return deadline - now < CLI_SLICE_NS ? deadline - now : CLI_SLICE_NS;
}

static int opt_width(const struct cli_opt *o)
{
    /* "  -s, --name ARG" or "      --name ARG" */
    return 8 + (int)strlen(o->name) + (o->arg != NULL ? 1 + (int)strlen(o->arg) : 0);
}

void cli_print_help(FILE *f, const struct cli_cmd *cmd, const struct cli_opt *opts)
{
    fputs(cmd->intro, f);
    int col = cmd->col;
    if (col == 0) {
        for (const struct cli_opt *o = opts; o->name != NULL; o++) {
            int w = opt_width(o) + 2;
            col = w > col ? w : col;
        }
    }
    for (const struct cli_opt *o = opts; o->name != NULL; o++) {
        int n;
        if (o->short_name != 0) {
            n = fprintf(f, "  -%c, --%s", o->short_name, o->name);
        } else {
            n = fprintf(f, "      --%s", o->name);
        }
        if (o->arg != NULL) {
            n += fprintf(f, " %s", o->arg);
        }
        const char *h = o->help != NULL ? o->help : "";
        for (int first = 1; *h != '\0' || first; first = 0) {
            const char *nl = strchr(h, '\n');
            int len = nl != NULL ? (int)(nl - h) : (int)strlen(h);
            fprintf(f, "%*s%.*s\n", first ? (col > n ? col - n : 1) : col, "", len, h);
            h += len + (nl != NULL);
        }
    }
    if (cmd->outro != NULL) {
        fputs(cmd->outro, f);
    }
}

int cli_start(int argc, char **argv, const struct cli_cmd *cmd, const struct cli_opt *opts,
              int *npos)
{
    int want_help = 0;
    int r = cli_parse(argc, argv, opts, npos, &want_help);
    if (r != 0) {
        return r;
    }
    if (want_help) {
        cli_print_help(stdout, cmd, opts);
        return CLI_OK;
    }
    return CLI_CONTINUE;
}

int cli_one_name(const char *cmd, int npos, char **argv, const char **name)
{
    if (npos != 1) {
        return cli_usage_error(cmd, npos == 0 ? "missing ring name" : "too many arguments");
    }
    *name = argv[1];
    return cli_check_name(cmd, *name);
}
