/* SPDX-License-Identifier: MIT */
/* shmring set TEXT [--hold] / shmring get: the classic SetSharedMem/GetSharedMem calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef SHMRING_CLI_COMPAT
#include "shmring_compat.h"
#endif

static const struct cli_cmd set_cmd = {
    "set",
    "Usage: shmring set TEXT [--hold]\n"
    "\n"
    "Sets the shared value of the classic SetSharedMem/GetSharedMem calls (the mapping\n"
    "'dllmemfilemap', or $SHMRING_COMPAT_NAME). Values longer than 3072 bytes are cut.\n"
    "The value lives while some process has the mapping open: when no other program uses it,\n"
    "it is gone once this command exits, unless --hold.\n"
    "\n",
    NULL, 0};

static const struct cli_cmd get_cmd = {
    "get",
    "Usage: shmring get\n"
    "\n"
    "Prints the shared value of the classic SetSharedMem/GetSharedMem calls (the mapping\n"
    "'dllmemfilemap', or $SHMRING_COMPAT_NAME) on one line, escaped like 'shmring recv'.\n"
    "The value is empty when nobody set one (or every process using it has exited).\n",
    NULL, 0};

/* Options and --help of set (hold != NULL) or get: CLI_CONTINUE or the exit code. */
static int parse(int argc, char **argv, int *hold, int *npos)
{
    int dummy = 0;
    const struct cli_opt opts[] = {
        {"hold", 0, NULL, hold != NULL ? hold : &dummy, NULL,
         "stay attached, keeping the value alive, until SIGINT or SIGTERM (then exit 0)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    return cli_start(argc, argv, hold != NULL ? &set_cmd : &get_cmd, hold != NULL ? opts : opts + 1,
                     npos);
}

#ifdef SHMRING_CLI_COMPAT

static const char *mapping_name(void)
{
    const char *env = getenv("SHMRING_COMPAT_NAME");
    return env != NULL && env[0] != '\0' ? env : "dllmemfilemap";
}

int cmd_set(int argc, char **argv)
{
    int hold = 0, npos;
    int r = parse(argc, argv, &hold, &npos);
    if (r != CLI_CONTINUE) {
        return r;
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
        cli_wait_for_stop();
    }
    return CLI_OK;
}

int cmd_get(int argc, char **argv)
{
    int npos;
    int r = parse(argc, argv, NULL, &npos);
    if (r != CLI_CONTINUE) {
        return r;
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
    int r = parse(argc, argv, &hold, &npos);
    return r != CLI_CONTINUE ? r : missing("set");
}

int cmd_get(int argc, char **argv)
{
    int npos;
    int r = parse(argc, argv, NULL, &npos);
    return r != CLI_CONTINUE ? r : missing("get");
}

#endif
