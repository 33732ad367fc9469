/* SPDX-License-Identifier: MIT */
/* shmring rm NAME... [--force] | shmring rm --stale [--force] [--dry-run] */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "segment.h"
#include "shmdir.h"

static const char help[] =
    "Usage: shmring rm NAME... [--force]\n"
    "       shmring rm --stale [NAME...] [--force] [--dry-run]\n"
    "\n"
    "Removes the named rings. Processes that have one open keep using their mapping; the next\n"
    "open of the name starts a new ring. A mapping that is not a shmring ring is refused\n"
    "unless --force.\n"
    "\n"
    "  -s, --stale    remove every ring that no live process has open (all its users exited or\n"
    "                 were killed, or nobody has opened it since 'shmring create'), found by\n"
    "                 header in " SHMDIR_PATH "; persistent rings are kept unless --force.\n"
    "                 With NAMEs, only those are considered. Prints 'removed NAME' for each.\n"
    "  -f, --force    also remove non-shmring mappings (rm NAME), or idle persistent rings\n"
    "                 (rm --stale)\n"
    "  -n, --dry-run  with --stale: print 'would remove NAME' and remove nothing\n";

static int remove_named(const char *name, int force)
{
    char what[SHMRING_NAME_MAX + 16];
    snprintf(what, sizeof what, "rm '%s'", name);
    struct shmring__seg_probe p;
    int r = shmring__seg_probe(name, &p);
    if (r == -EACCES && force) {
        r = 0; /* cannot look inside; unlinking may still be allowed */
    } else if (r < 0) {
        return cli_fail(what, r);
    } else if (p.check != 0 && !force) {
        cli_msg("%s: not a shmring mapping (use --force to remove it anyway)", what);
        return CLI_PROTO;
    } else if (p.in_use) {
        cli_msg("%s: note: still open by some process, which keeps using its mapping", what);
    }
    if ((r = shmring_unlink(name)) < 0) {
        return cli_fail(what, r);
    }
    return CLI_OK;
}

/* Removes `name` if it is a ring that no live process has attached. The decision and the
 * unlink happen under the ring's INIT lock, which every open and close takes first: nobody can
 * attach in between, and an opener already waiting for the lock sees the name gone and starts
 * a new ring (the library's is_linked check). 1 removed, 0 kept, or a negative errno value. */
static int remove_if_stale(const char *name, int force, int dry_run)
{
    char path[SHMRING_NAME_MAX + 2];
    int r = shmring__seg_path(name, path);
    if (r < 0) {
        return 0;
    }
    int fd;
    if ((r = shmring__plat_open(path, 0, 0, &fd)) < 0) {
        return r == -ENOENT ? 0 : r; /* gone meanwhile: nothing to do */
    }
    /* INIT is held only for the few system calls of an open or close: a second is plenty. */
    r = shmring__plat_lock_wait(fd, SHMRING__LOCK_INIT, SHMRING__EXCLUSIVE, 1000000000);
    struct shmring__seg_probe p;
    if (r < 0 || shmring__plat_is_linked(fd, path) != 1 || shmring__seg_probe(name, &p) < 0 ||
        p.check != 0 || p.in_use) {
        r = 0; /* busy, replaced, not a ring, or in use */
    } else if ((p.flags & SHMRING__F_PERSIST) && !force) {
        cli_msg("rm: kept '%s': persistent (add --force to remove idle persistent rings too)",
                name);
        r = 0;
    } else if (dry_run) {
        printf("would remove %s\n", name);
        r = 0;
    } else if ((r = shmring__plat_unlink(path)) == 0) {
        printf("removed %s\n", name);
        r = 1;
    }
    shmring__plat_close(fd); /* drops the INIT lock */
    return r;
}

/* names == NULL: every candidate in the shared-memory directory. */
static int remove_stale(char **only, int nonly, int force, int dry_run)
{
    char **names;
    size_t n;
    int r = shmdir_list(&names, &n);
    if (r < 0) {
        return cli_fail("rm: " SHMDIR_PATH, r);
    }
    int code = CLI_OK;
    if (only != NULL) { /* keep the listed names that exist, in the order given */
        size_t kept = 0;
        for (int j = 0; j < nonly; j++) {
            for (size_t i = kept; i < n; i++) {
                if (strcmp(names[i], only[j]) == 0) {
                    char *t = names[kept];
                    names[kept++] = names[i];
                    names[i] = t;
                    break;
                }
            }
        }
        for (size_t i = kept; i < n; i++) {
            free(names[i]);
        }
        n = kept;
    }
    for (size_t i = 0; i < n; i++) {
        /* Cheap filter first: only open for writing what the probe calls an idle ring. */
        struct shmring__seg_probe p;
        memset(&p, 0, sizeof p);
        if (shmring__seg_probe(names[i], &p) < 0 || p.check != 0 || p.in_use) {
            if (only != NULL && p.in_use) {
                cli_msg("rm: kept '%s': a live process has it open", names[i]);
            }
            continue; /* not ours to look at, not a ring, or in use */
        }
        r = remove_if_stale(names[i], force, dry_run);
        if (r < 0) {
            char what[SHMRING_NAME_MAX + 16];
            snprintf(what, sizeof what, "rm '%s'", names[i]);
            int c = cli_fail(what, r);
            code = code == CLI_OK ? c : code;
        }
    }
    shmdir_free(names, n);
    int f = cli_flush_stdout("rm");
    return code != CLI_OK ? code : f;
}

int cmd_rm(int argc, char **argv)
{
    int stale = 0, force = 0, dry_run = 0, npos;
    const struct cli_opt opts[] = {
        {"stale", 's', NULL, &stale},
        {"force", 'f', NULL, &force},
        {"dry-run", 'n', NULL, &dry_run},
        {NULL, 0, NULL, NULL},
    };
    int r = cli_start(argc, argv, opts, help, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    for (int i = 1; i <= npos; i++) {
        if ((r = cli_check_name("rm", argv[i])) != 0) {
            return r;
        }
    }
    if (stale) {
        return remove_stale(npos > 0 ? argv + 1 : NULL, npos, force, dry_run);
    }
    if (npos == 0) {
        return cli_usage_error("rm", "missing ring name (or --stale)");
    }
    if (dry_run) {
        return cli_usage_error("rm", "--dry-run goes with --stale");
    }
    int code = CLI_OK;
    for (int i = 1; i <= npos; i++) {
        int c = remove_named(argv[i], force);
        code = code == CLI_OK ? c : code;
    }
    return code;
}
