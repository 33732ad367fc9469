/* SPDX-License-Identifier: MIT */
/* The shmring command-line tool: what the subcommand files share (exit codes, errors, option
 * parsing, number parsing, output escaping, signals). Tool-only: nothing here is library API. */
#ifndef SHMRING_CLI_H
#define SHMRING_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shmring.h"
#include "shmring_admin.h"

/* Exit codes: documented in README.md ("Exit codes") and `shmring --help`; scripts rely on them. */
enum {
    CLI_OK = 0,
    CLI_USAGE = 1,     /* bad command line, name, size, mode or number */
    CLI_NOTFOUND = 2,  /* -ENOENT: no such ring */
    CLI_PERM = 3,      /* -EACCES, -EPERM: permissions, or owned by another user */
    CLI_PROTO = 4,     /* -EPROTO, -EBADMSG: not a shmring mapping, other layout, corrupt */
    CLI_EMPTY = 5,     /* -ETIMEDOUT, -EAGAIN: timed out, or nothing to receive */
    CLI_PEER_GONE = 6, /* -EPIPE: the peer closed or died */
    CLI_BUSY = 7,      /* -EBUSY, -EEXIST: role held by a live process, or the name exists */
    CLI_OTHER = 8      /* anything else: too large, out of memory, I/O error, failed bench */
};

/* What Windows cannot do (docs/windows.md, "Lifetime"): for errors and help. */
#define CLI_NO_ENUM                                                                                \
    "not supported on Windows: sections cannot be enumerated or removed by name (a section "       \
    "ends when the last process that has it open closes it: there are no stale rings)"

/* On Windows: the help's note for ls and rm (empty elsewhere). */
#ifdef _WIN32
#define CLI_WIN_NOTE                                                                               \
    "On Windows this command is not supported: sections cannot be enumerated or removed by\n"      \
    "name (a section ends when the last process that has it open closes it: there are no\n"        \
    "stale rings).\n\n"
#else
#define CLI_WIN_NOTE ""
#endif
/* Prints "shmring: <cmd>: not supported on Windows: ..." and returns CLI_OTHER. */
int cli_no_enum(const char *cmd);

/* Subcommands: argv[0] is the subcommand's name. Each returns an exit code. */
int cmd_create(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* printf-style checking of the tool's own formatters: ISO C formats (%zu) on mingw too, whose
 * stdio is the ISO C one (__USE_MINGW_ANSI_STDIO, set by the build). */
#ifdef __MINGW32__
#define CLI_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

/* ---- errors (util.c) ---------------------------------------------------------------------- */

/* The exit code for a negative errno value from the library or the system. */
int cli_exit_code(int err);
/* Text for err: shmring_strerror() for the library's codes, strerror() for the rest. */
const char *cli_strerror(int err);
/* Prints "shmring: <what>: <text of err>" to stderr and returns cli_exit_code(err). */
int cli_fail(const char *what, int err);
/* Prints "shmring: <formatted>" to stderr. */
void cli_msg(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Prints "shmring: <cmd>: <formatted>" and "Try 'shmring <cmd> --help'." and returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* ---- options (util.c) --------------------------------------------------------------------- */

/* One option: --name (and -s when short_name != 0). Exactly one of value/flag is set: value
 * receives the option's argument (--name=V or --name V), flag is set to 1. arg names the value
 * in the help ("SECONDS"; NULL for a flag) and help describes the option: the command's --help
 * is printed from this table, so the options and their help cannot drift apart. Lines of help
 * after the first are indented to the help column. */
struct cli_opt {
    const char *name;
    char short_name;
    const char **value;
    int *flag;
    const char *arg;
    const char *help;
};

/* A subcommand's help around its option table: intro (usage and description, printed before the
 * options), outro (after them, or NULL). col: the column where option help starts; 0 = two
 * past the longest "  -s, --name ARG". */
struct cli_cmd {
    const char *name;
    const char *intro;
    const char *outro;
    int col;
};

/* Prints cmd's help: intro, one entry per option of opts, outro. */
void cli_print_help(FILE *f, const struct cli_cmd *cmd, const struct cli_opt *opts);

/* Parses argv[1..argc) (argv[0] is the subcommand) against opts (ended by a zeroed entry).
 * Options and positional arguments may be mixed; "--" ends the options. The positionals are
 * moved to the front of argv+1 in order: on return *npos of them start at argv[1].
 * --help/-h sets *help. Returns 0, or CLI_USAGE after printing what was wrong. */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, int *npos, int *help);

/* cli_parse, then --help: CLI_CONTINUE to go on, or the exit code to return (CLI_OK after
 * printing the help, CLI_USAGE after printing what was wrong). */
#define CLI_CONTINUE (-1)
int cli_start(int argc, char **argv, const struct cli_cmd *cmd, const struct cli_opt *opts,
              int *npos);

/* Exactly one positional, a valid ring name, into *name: 0, or CLI_USAGE after printing why. */
int cli_one_name(const char *cmd, int npos, char **argv, const char **name);

/* Checks a ring name like the library does. Returns 0, or CLI_USAGE after printing why not. */
int cli_check_name(const char *cmd, const char *name);

/* ---- numbers (util.c): each returns 0, or -EINVAL / -ERANGE ------------------------------ */

/* "4096", "64K", "1M", "2G" (also "64KiB", "64KB"): powers of 1024. */
int cli_parse_size(const char *s, uint64_t *out);
/* A non-negative decimal integer. */
int cli_parse_u64(const char *s, uint64_t *out);
/* Seconds, fractions allowed ("0.5"); into nanoseconds. */
int cli_parse_seconds(const char *s, int64_t *out_ns);
/* Octal permission bits ("0660", "660"), at most 0777. */
int cli_parse_mode(const char *s, unsigned *out);
/* "64K", "1M" when exact, else the byte count; into buf. */
const char *cli_fmt_size(uint64_t n, char buf[32]);

/* ---- output (out.c) ------------------------------------------------------------------------ */

/* Writes msg[0..len) on one line's worth of text: printable ASCII and well-formed UTF-8 as is,
 * backslash as \\, \n \r \t as such, every other byte as \xHH. The result never contains a
 * newline and can be decoded back to the exact bytes. */
void cli_write_escaped(FILE *f, const void *msg, size_t len);
/* Writes s as a JSON string literal (quotes included). */
void cli_json_str(FILE *f, const char *s);
/* Writes a 32-bit little-endian length, the record format of send/recv --binary. */
void cli_put_le32(unsigned char out[4], uint32_t v);
uint32_t cli_get_le32(const unsigned char in[4]);
/* Flushes stdout; on failure prints the error and returns CLI_OTHER, else 0. */
int cli_flush_stdout(const char *cmd);

/* ---- signals and time (util.c) ------------------------------------------------------------ */

/* The signal that asked us to stop (SIGINT, SIGTERM, SIGHUP), or 0. */
extern volatile sig_atomic_t cli_stop_signal;
/* Catches SIGINT/SIGTERM/SIGHUP into cli_stop_signal (so waits end and rings are closed
 * cleanly) and ignores SIGPIPE (a closed stdout becomes a write error). Windows: a console
 * control handler (Ctrl-C, Ctrl-Break: SIGINT; close, logoff, shutdown: SIGTERM). */
void cli_catch_signals(void);
/* The exit code for a stop by signal: 128 + its number. */
int cli_signal_exit(void);
/* Sleeps until a stop signal (after cli_catch_signals). */
void cli_wait_for_stop(void);
/* Windows: stdin and stdout in binary mode (no CR/LF translation) for the --binary records. */
void cli_binary_stdio(void);
/* Monotonic nanoseconds. */
int64_t cli_now_ns(void);
/* Blocking waits are cut into slices this long so a stop signal is seen promptly. */
#define CLI_SLICE_NS (200 * 1000000LL)
/* The wait for the next slice: min(deadline - now, CLI_SLICE_NS), at least 0. A deadline of
 * INT64_MAX means forever. */
int64_t cli_slice(int64_t deadline);

#endif /* SHMRING_CLI_H */
