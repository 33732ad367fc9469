/* SPDX-License-Identifier: MIT */
/* shmring bench on Windows: not supported (cmd_bench.c forks its peer, pins CPUs with
 * sched_setaffinity and compares with a pipe(2)). */
#include "cli.h"

int cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_msg("bench: not supported on Windows (it forks its peer process; run it on Linux)");
    return CLI_OTHER;
}
