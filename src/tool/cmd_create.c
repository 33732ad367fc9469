/* SPDX-License-Identifier: MIT */
/* shmring create NAME [--size SIZE] [--mode MODE] [--persist] [--producers N] */
#include <errno.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd cmd = {
    "create",
    "Usage: shmring create NAME [--size SIZE] [--mode MODE] [--persist]\n"
    "                      [--producers N] [--hold]\n"
    "\n"
#ifdef _WIN32
    "Creates the ring NAME (the section Local\\shmring-NAME.mem); fails if the name exists.\n"
#else
    "Creates the ring NAME (/dev/shm/NAME); fails if the name exists.\n"
#endif
    "\n",
    "\n"
#ifdef _WIN32
    "On Windows a ring lives only while some process has it open: create needs --hold\n"
    "there. --persist is not supported (a section cannot outlive its last handle), nor group\n"
    "or other bits in MODE.\n",
#else
    "Without --persist the name stays until a process opens the ring; from then on it lives\n"
    "while some process has it open, and messages left when the last one closes are dropped\n"
    "with it.\n",
#endif
    0};

int cmd_create(int argc, char **argv)
{
    const char *size_s = NULL, *mode_s = NULL, *prod_s = NULL;
    int persist = 0, hold = 0, npos;
    const struct cli_opt opts[] = {
        {"size", 's', &size_s, NULL, "SIZE",
         "total bytes of the mapping, header included: a multiple of the page\n"
         "size from 4K to 4G; suffixes K, M, G are powers of 1024 (default 4K)"},
        {"mode", 'm', &mode_s, NULL, "MODE",
         "octal permission bits (default 0600); group and others get read\n"
         "access only together with write access (0640 gives 0600)"},
        {"persist", 'p', NULL, &persist, NULL,
         "keep the ring and its messages when nobody has it open, until\n"
         "'shmring rm NAME'"},
        {"producers", 'P', &prod_s, NULL, "N",
         "a multi-producer ring for up to N producers (1-1024; 64 if N is\n"
         "0); its header grows by 128 bytes a producer, and the default size\n"
         "is the header plus 4K, rounded up to a page"},
        {"hold", 0, NULL, &hold, NULL,
         "stay attached (as an observer), keeping the ring alive, until SIGINT\n"
         "or SIGTERM (Ctrl-C on Windows), then close it and exit 0"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    int r = cli_start(argc, argv, &cmd, opts, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    const char *name;
    if ((r = cli_one_name("create", npos, argv, &name)) != 0) {
        return r;
    }
    uint64_t size = SHMRING_DEFAULT_SIZE;
    uint64_t page = shmring_page_size();
    if (size_s != NULL && (cli_parse_size(size_s, &size) < 0 || size < SHMRING_DEFAULT_SIZE ||
                           size > SHMRING_MAX_SIZE || size % page != 0)) {
        return cli_usage_error("create",
                               "bad size '%s': need a multiple of %llu bytes from 4K to 4G "
                               "(e.g. 4096, 64K, 1M)",
                               size_s, (unsigned long long)page);
    }
#ifdef _WIN32
    if (persist) {
        return cli_usage_error("create", "--persist is not supported on Windows: a section ends "
                                         "when the last process that has it open closes it");
    }
#endif
    unsigned mode = 0600;
    if (mode_s != NULL && cli_parse_mode(mode_s, &mode) < 0) {
        return cli_usage_error("create", "bad mode '%s': need octal permission bits like 0660",
                               mode_s);
    }
    if ((mode & 0600) != 0600) {
        return cli_usage_error("create", "bad mode '%s': the owner needs read and write (0600)",
                               mode_s);
    }
    struct shmring_opts o = {
        .size = (size_t)size, .mode = mode, .flags = persist ? SHMRING_PERSIST : 0};
    if (prod_s != NULL) {
        uint64_t n;
        if (cli_parse_u64(prod_s, &n) < 0 || n > 1024) {
            return cli_usage_error("create", "bad producer count '%s': need 0-1024", prod_s);
        }
        o.flags |= SHMRING_MULTI_PRODUCER;
        o.max_producers = (unsigned)n;
        if (size_s == NULL) {
            o.size = 0; /* the multi-producer default */
        }
    }
    char what[SHMRING_NAME_MAX + 16];
    snprintf(what, sizeof what, "create '%s'", name);
    if (hold) {
        /* Created and attached in one step: no moment without a handle, when a Windows
         * section (or a non-persistent ring someone else just closed) would end. */
        cli_catch_signals();
        shmring *ring;
        o.flags |= SHMRING_CREATE | SHMRING_EXCL;
        if ((r = shmring_open(name, SHMRING_OBSERVER, &o, &ring)) < 0) {
            return cli_fail(what, r);
        }
        cli_wait_for_stop();
        shmring_close(ring);
        return CLI_OK;
    }
    if ((r = shmring_create(name, &o)) < 0) {
#ifdef _WIN32
        /* SHMRING_ENOSYS here (after the checks of the arguments and of the name): the section
         * would end with this command. */
        if (r == SHMRING_ENOSYS) {
            cli_msg("%s: not supported on Windows without --hold: a ring lives only while some "
                    "process has it open; use --hold to keep it",
                    what);
            return CLI_OTHER;
        }
#endif
        return cli_fail(what, r);
    }
    return CLI_OK;
}
