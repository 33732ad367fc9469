/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests of the public API on real shared memory: test_open_args,
 * test_open_validation, test_open_lifecycle and test_data_calls. Where a test must see what
 * another process would see (the shared tail and head), it maps /dev/shm/<name> (Windows: the
 * section Local\shmring-<name>.mem) a second time instead of looking through the handle. */
#ifndef SHMRING_TEST_OPEN_UTIL_H
#define SHMRING_TEST_OPEN_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "shmring.h"

extern const struct shmring_opts create_opts; /* {.flags = SHMRING_CREATE} */
extern const struct shmring_opts attach_opts; /* {0} */

/* A second, independent mapping of the whole object: what another process sees. */
struct view {
    struct shmring__hdr *h;
    size_t size;
};

/* shmring_open that must succeed (fails the test otherwise). */
shmring *open_ok(const char *name, int role, const struct shmring_opts *opts);
#ifndef _WIN32
void shm_path(const char *name, char *path, size_t n);
#endif
/* Puts an object holding exactly these bytes under the name, as a foreign or crashed process
 * would (Windows: a section this process holds until unplant); unplant removes it. */
void plant(const char *name, const void *bytes, size_t len);
void unplant(const char *name);
int holds(const char *name, const void *bytes, size_t len);
struct view view_map(const char *name);
void view_unmap(struct view *v);
uint8_t *image(uint64_t size, uint32_t flags);
void send_seq(shmring *p, size_t len, uint64_t seq);
void recv_seq(shmring *c, size_t len, uint64_t seq);
/* A shmring_handler that accepts every message. */
int nop_handler(void *ctx, const void *msg, size_t len);

#endif /* SHMRING_TEST_OPEN_UTIL_H */
