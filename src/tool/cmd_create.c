/* SPDX-License-Identifier: MIT */
/* shmring create NAME [--size SIZE] [--mode MODE] [--persist] [--producers N] */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "ring.h"
#include "segment.h"

static const char help[] =
    "Usage: shmring create NAME [--size SIZE] [--mode MODE] [--persist] [--producers N]\n"
    "\n"
    "Creates the ring NAME (/dev/shm/NAME); fails if the name exists.\n"
    "\n"
    "  -s, --size SIZE  total bytes of the mapping, header included: a multiple of the page\n"
    "                   size from 4K to 4G; suffixes K, M, G are powers of 1024 (default 4K)\n"
    "  -m, --mode MODE  octal permission bits (default 0600); group and others get read\n"
    "                   access only together with write access (0640 gives 0600)\n"
    "  -p, --persist    keep the ring and its messages when nobody has it open, until\n"
    "                   'shmring rm NAME'\n"
    "  -P, --producers N  a multi-producer ring for up to N producers (1-1024; 64 if N is\n"
    "                   0); its header grows by 128 bytes a producer, and the default size\n"
    "                   is the header plus 4K, rounded up to a page\n"
    "\n"
    "Without --persist the name stays until a process opens the ring; from then on it lives\n"
    "while some process has it open, and messages left when the last one closes are dropped\n"
    "with it.\n";

int cmd_create(int argc, char **argv)
{
    const char *size_s = NULL, *mode_s = NULL, *prod_s = NULL;
    int persist = 0, npos;
    const struct cli_opt opts[] = {
        {"size", 's', &size_s, NULL},
        {"mode", 'm', &mode_s, NULL},
        {"persist", 'p', NULL, &persist},
        {"producers", 'P', &prod_s, NULL},
        {NULL, 0, NULL, NULL},
    };
    int r = cli_start(argc, argv, opts, help, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    const char *name;
    if ((r = cli_one_name("create", npos, argv, &name)) != 0) {
        return r;
    }
    uint64_t size = SHMRING_DEFAULT_SIZE;
    uint64_t page = (uint64_t)shmring__plat_page_size();
    if (size_s != NULL && (cli_parse_size(size_s, &size) < 0 || size < SHMRING_DEFAULT_SIZE ||
                           size > SHMRING_MAX_SIZE || size % page != 0)) {
        return cli_usage_error("create",
                               "bad size '%s': need a multiple of %llu bytes from 4K to 4G "
                               "(e.g. 4096, 64K, 1M)",
                               size_s, (unsigned long long)page);
    }
    unsigned mode = 0600;
    if (mode_s != NULL && cli_parse_mode(mode_s, &mode) < 0) {
        return cli_usage_error("create", "bad mode '%s': need octal permission bits like 0660",
                               mode_s);
    }
    if ((mode & 0600) != 0600) {
        return cli_usage_error("create", "bad mode '%s': the owner needs read and write (0600)",
                               mode_s);
    }
    uint32_t hdr_flags = 0;
    if (prod_s != NULL) {
        uint64_t n;
        if (cli_parse_u64(prod_s, &n) < 0 || n > SHMRING__MP_MAX_PRODUCERS) {
            return cli_usage_error("create", "bad producer count '%s': need 0-1024", prod_s);
        }
        hdr_flags = SHMRING__F_MPSC | (uint32_t)(n ? n : SHMRING__MP_DEF_PRODUCERS)
                                          << SHMRING__FMT_PRODUCERS_SHIFT;
        if (size_s == NULL) {
            size = 0; /* the multi-producer default */
        }
    }
    struct shmring__seg seg;
    unsigned flags = SHMRING_CREATE | SHMRING_EXCL | (persist ? SHMRING_PERSIST : 0);
    r = shmring__seg_open(&seg, name, size, mode, flags, hdr_flags);
    if (r < 0) {
        char what[SHMRING_NAME_MAX + 16];
        snprintf(what, sizeof what, "create '%s'", name);
        return cli_fail(what, r);
    }
    /* A persistent ring survives its last close anyway. A non-persistent one would be removed
     * by the close of its last (only) user, us: leave without detaching instead, so the name
     * stays, unused, for the first process that opens it (which starts it afresh). */
    if (persist) {
        shmring__seg_close(&seg);
    } else {
        shmring__seg_forget(&seg);
    }
    return CLI_OK;
}
