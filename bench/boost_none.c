/* SPDX-License-Identifier: MIT */
/* Built when the Boost headers are missing: the Boost.Interprocess peer says so and is skipped. */
#include <errno.h>
#include <stdio.h>

#include "shim.h"

static int none_setup(struct bench_ep *e)
{
    snprintf(e->err, sizeof e->err, "N/A: Boost headers not found at build time");
    return -ENOTSUP;
}

static void none_close(struct bench_ep *e, int child)
{
    (void)e;
    (void)child;
}

const struct bench_ops bench_boost_ops = {
    none_setup, NULL, NULL, NULL, NULL, NULL, NULL, none_close,
};
