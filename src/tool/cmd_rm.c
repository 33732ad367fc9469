/* SPDX-License-Identifier: MIT */
/* shmring rm NAME... [--force] | shmring rm --stale [--force] [--dry-run] */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "view.h"

static const struct cli_cmd cmd = {
    "rm",
    "Usage: shmring rm NAME... [--force]\n"
    "       shmring rm --stale [NAME...] [--force] [--dry-run]\n"
    "\n"
    "Removes the named rings. Processes that have one open keep using their mapping; the next\n"
    "open of the name starts a new ring. A mapping that is not a shmring ring is refused\n"
    "unless --force.\n"
    "\n" CLI_WIN_NOTE,
    NULL, 0};

static int remove_named(const char *name, int force)
{
    char what[SHMRING_NAME_MAX + 16];
    snprintf(what, sizeof what, "rm '%s'", name);
    struct shmring_info info;
    int r = shmring_inspect(name, &info);
    if (r == SHMRING_EACCES && force) {
        /* Cannot look inside; unlinking may still be allowed. */
    } else if (r < 0) {
        return cli_fail(what, r);
    } else if (info.check != 0 && !force) {
        cli_msg("%s: not a shmring mapping (use --force to remove it anyway)", what);
        return CLI_PROTO;
    } else if (info.in_use) {
        cli_msg("%s: note: still open by some process, which keeps using its mapping", what);
    }
    if ((r = shmring_unlink(name)) < 0) {
        return cli_fail(what, r);
    }
    return CLI_OK;
}

struct stale {
    char **only; /* NULL: every ring; else only these names */
    int nonly;
    unsigned flags; /* SHMRING_STALE_* */
    int code;       /* exit code so far */
};

static int wanted(const struct stale *st, const char *name)
{
    if (st->only == NULL) {
        return 1;
    }
    for (int j = 0; j < st->nonly; j++) {
        if (strcmp(st->only[j], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Removes `name` if it is a ring that no live process has attached (the library decides and
 * removes under the lock every open takes, so nobody attaches in between). */
static void consider(struct stale *st, const char *name, const struct shmring_info *info)
{
    if (info->check != 0) {
        return; /* not a ring */
    }
    if (info->in_use) {
        if (st->only != NULL) {
            cli_msg("rm: kept '%s': a live process has it open", name);
        }
        return;
    }
    int r = shmring_remove_stale(name, st->flags);
    if (r == SHMRING_STALE_REMOVED) {
        printf("%s %s\n", st->flags & SHMRING_STALE_DRY_RUN ? "would remove" : "removed", name);
    } else if (r == SHMRING_STALE_PERSISTENT) {
        cli_msg("rm: kept '%s': persistent (add --force to remove idle persistent rings too)",
                name);
    } else if (r < 0 && r != SHMRING_EACCES) { /* SHMRING_EACCES: not ours to remove */
        char what[SHMRING_NAME_MAX + 16];
        snprintf(what, sizeof what, "rm '%s'", name);
        int c = cli_fail(what, r);
        st->code = st->code == CLI_OK ? c : st->code;
    }
}

static int each(void *ctx, const char *name, const struct shmring_info *info, int err)
{
    struct stale *st = ctx;
    if (err == 0 && wanted(st, name)) {
        consider(st, name, info);
    }
    return 0;
}

static int remove_stale(char **only, int nonly, int force, int dry_run)
{
    struct stale st = {
        only, nonly, (force ? SHMRING_STALE_PERSIST : 0u) | (dry_run ? SHMRING_STALE_DRY_RUN : 0u),
        CLI_OK};
    int r;
    if (only == NULL) {
        r = shmring_list(each, &st);
    } else { /* the listed names that exist, in the order given */
        r = 0;
        for (int j = 0; j < nonly; j++) {
            struct shmring_info info;
            int e = shmring_inspect(only[j], &info);
            if (e == 0) {
                consider(&st, only[j], &info);
            } else if (e == SHMRING_ENOSYS) {
                r = e;
            }
        }
    }
    if (r < 0) {
        return cli_fail("rm: " SHMDIR_PATH, r);
    }
    int f = cli_flush_stdout("rm");
    return st.code != CLI_OK ? st.code : f;
}

int cmd_rm(int argc, char **argv)
{
    int stale = 0, force = 0, dry_run = 0, npos;
    const struct cli_opt opts[] = {
        {"stale", 's', NULL, &stale, NULL,
         "remove every ring that no live process has open (all its users exited or\n"
         "were killed, or nobody has opened it since 'shmring create'), found by\n"
         "header in " SHMDIR_PATH "; persistent rings are kept unless --force.\n"
         "With NAMEs, only those are considered. Prints 'removed NAME' for each."},
        {"force", 'f', NULL, &force, NULL,
         "also remove non-shmring mappings (rm NAME), or idle persistent rings\n"
         "(rm --stale)"},
        {"dry-run", 'n', NULL, &dry_run, NULL,
         "with --stale: print 'would remove NAME' and remove nothing"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    int r = cli_start(argc, argv, &cmd, opts, &npos);
    if (r != CLI_CONTINUE) {
        return r;
    }
    for (int i = 1; i <= npos; i++) {
        if ((r = cli_check_name("rm", argv[i])) != 0) {
            return r;
        }
    }
#ifdef _WIN32
    return cli_no_enum(stale ? "rm --stale" : "rm");
#endif
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
