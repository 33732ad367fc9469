/* SPDX-License-Identifier: MIT */
/* shmring set TEXT [--hold] / shmring get: the classic SetSharedMem/GetSharedMem calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef SHMRING_CLI_COMPAT
#include "shmring_compat.h"
#endif

static const char set_help[] =
    "Usage: shmring set TEXT [--hold]\n"
    "\n"
    "Sets the shared value of the classic SetSharedMem/GetSharedMem calls (the mapping\n"
    "'dllmemfilemap', or $SHMRING_COMPAT_NAME). Values longer than 3072 bytes are cut.\n"
    "The value lives while some process has the mapping open: when no other program uses it,\n"
    "it is gone once this command exits, unless --hold.\n"
    "\n"
    "  --hold   stay attached, keeping the value alive, until SIGINT or SIGTERM (then exit 0)\n";

static const char get_help[] =
    "Usage: shmring get\n"
    "\n"
    "Prints the shared value of the classic SetSharedMem/GetSharedMem calls (the mapping\n"
    "'dllmemfilemap', or $SHMRING_COMPAT_NAME) on one line, escaped like 'shmring recv'.\n"
    "The value is empty when nobody set one (or every process using it has exited).\n";

static int parse(int argc, char **argv, const char *help, int *hold, int *npos)
{
    int want_help;
    int dummy = 0;
    const struct cli_opt opts[] = {
        {"hold", 0, NULL, hold != NULL ? hold : &dummy},
        {NULL, 0, NULL, NULL},
    };
    const struct cli_opt none[] = {{NULL, 0, NULL, NULL}};
    int r = cli_parse(argc, argv, hold != NULL ? opts : none, npos, &want_help);
    if (r == 0 && want_help) {
        fputs(help, stdout);
        return -1;
    }
    return r;
}

#ifdef SHMRING_CLI_COMPAT

static const char *mapping_name(void)
{
    const char *env = getenv("SHMRING_COMPAT_NAME");
    return env != NULL && env[0] != '\0' ? env : "dllmemfilemap";
}

/* Sleeps until a stop signal, without the race of checking a flag and then pausing. */
static void wait_for_stop(void)
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

int cmd_set(int argc, char **argv)
{
    int hold = 0, npos;
    int r = parse(argc, argv, set_help, &hold, &npos);
    if (r != 0) {
        return r < 0 ? CLI_OK : r;
    }
    if (npos != 1) {
        return cli_usage_error("set", npos == 0 ? "missing TEXT"
                                                : "too many arguments (quote "
                                                  "TEXT with spaces)");
    }
    char what[SHMRING_NAME_MAX + 16];
    snprintf(what, sizeof what, "set '%s'", mapping_name());
    cli_catch_signals();
    SetSharedMem(argv[1]);
    if ((r = shmring_compat_status()) < 0) {
        return cli_fail(what, r);
    }
    if (strlen(argv[1]) > SHMRING_COMPAT_MAX_STRING) {
        cli_msg("%s: warning: value cut to %u bytes", what, SHMRING_COMPAT_MAX_STRING);
    }
    if (hold) {
        wait_for_stop();
    }
    return CLI_OK;
}

int cmd_get(int argc, char **argv)
{
    int npos;
    int r = parse(argc, argv, get_help, NULL, &npos);
    if (r != 0) {
        return r < 0 ? CLI_OK : r;
    }
    if (npos != 0) {
        return cli_usage_error("get", "takes no arguments");
    }
    char what[SHMRING_NAME_MAX + 16];
    snprintf(what, sizeof what, "get '%s'", mapping_name());
    char buf[SHMRING_COMPAT_MAX_STRING + 1];
    GetSharedMem(buf, sizeof buf);
    if ((r = shmring_compat_status()) < 0) {
        return cli_fail(what, r);
    }
    cli_write_escaped(stdout, buf, strlen(buf));
    putchar('\n');
    return cli_flush_stdout("get");
}

#else /* built before src/compat.c existed */

static int missing(const char *cmd)
{
    cli_msg("%s: this build has no SetSharedMem/GetSharedMem (src/compat.c was missing)", cmd);
    return CLI_OTHER;
}

int cmd_set(int argc, char **argv)
{
    int hold = 0, npos;
    int r = parse(argc, argv, set_help, &hold, &npos);
    return r != 0 ? (r < 0 ? CLI_OK : r) : missing("set");
}

int cmd_get(int argc, char **argv)
{
    int npos;
    int r = parse(argc, argv, get_help, NULL, &npos);
    return r != 0 ? (r < 0 ? CLI_OK : r) : missing("get");
}

#endif
