/* SPDX-License-Identifier: MIT */
/* shmring: the command-line tool. Dispatches to one cmd_* function per subcommand. */
#include <string.h>

#include "cli.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"create", cmd_create, "create a ring: NAME [--size SIZE] [--mode MODE] [--persist]"},
    {"send", cmd_send, "send arguments, stdin lines or records: NAME [MESSAGE...]"},
    {"recv", cmd_recv, "print messages: NAME [--count N] [--timeout S] [--follow] [--binary]"},
    {"stat", cmd_stat, "show a ring's size, fill, peers and counters: NAME [--json]"},
#ifdef _WIN32
    {"ls", cmd_ls, "list every ring (not supported on Windows: no enumeration)"},
    {"rm", cmd_rm, "remove rings, also --stale (not supported on Windows)"},
#else
    {"ls", cmd_ls, "list every ring on this machine [--json]"},
    {"rm", cmd_rm, "remove rings: NAME... | --stale [--force] [--dry-run]"},
#endif
    {"set", cmd_set, "set the legacy SetSharedMem value: TEXT [--hold]"},
    {"get", cmd_get, "print the legacy GetSharedMem value"},
#ifdef _WIN32
    {"bench", cmd_bench, "compare shmring with a pipe (not supported on Windows)"},
#else
    {"bench", cmd_bench, "compare shmring with a pipe: [--size BYTES] [--seconds N]"},
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: shmring COMMAND [ARGS...]   (shmring COMMAND --help for details)\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f,
            "\n"
#ifdef _WIN32
            "NAME is 1-%u characters of A-Z a-z 0-9 . _ - (the section Local\\shmring-NAME.mem).\n"
            "On Windows a ring lives only while some process has it open (create --hold keeps\n"
            "it) and there is no --persist. Not supported on Windows: ls, rm and rm --stale\n"
            "(sections cannot be enumerated or removed by name; a section ends when the last\n"
            "process that has it open closes it, so there are no stale rings), and bench (it\n"
            "forks its peer process).\n"
#else
            "NAME is 1-%u characters of A-Z a-z 0-9 . _ - (the object /dev/shm/NAME).\n"
#endif
            "Errors go to stderr as 'shmring: <what>: <reason>'.\n"
            "\n"
            "Exit codes:\n"
            "  0  success\n"
            "  1  usage: bad command line, name, size, mode or number\n"
            "  2  no ring of that name\n"
            "  3  permission denied, or the ring belongs to another user\n"
            "  4  not a shmring mapping, another layout version, or corrupt\n"
            "  5  timed out, or nothing to receive\n"
            "  6  the peer closed or died (recv: the producer, after its last message)\n"
            "  7  busy: the role is held by a live process, or the name already exists\n"
            "  8  anything else (message too large, out of memory, I/O error, bench failure)\n"
            "  128+N  stopped by signal N (SIGINT: 130), after closing the ring cleanly\n",
            SHMRING_NAME_MAX);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2) { /* "shmring help recv" */
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *args[] = {argv[2], "--help", NULL};
                    return commands[i].fn(2, args);
                }
            }
        }
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("shmring %s (layout version %d)\n", shmring_version(), SHMRING_LAYOUT_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "shmring: unknown command '%s'\nTry 'shmring --help'.\n", cmd);
    return CLI_USAGE;
}
