/* SPDX-License-Identifier: MIT */
/* Batch framing and message ids. */
#include "frame.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void frame_put_len(unsigned char *p, uint32_t len)
{
    p[0] = (unsigned char)len;
    p[1] = (unsigned char)(len >> 8);
    p[2] = (unsigned char)(len >> 16);
    p[3] = (unsigned char)(len >> 24);
}

int frame_next(const unsigned char *data, size_t size, size_t *off, const unsigned char **msg,
               size_t *len)
{
    if (*off == size) {
        return 0;
    }
    if (size - *off < FRAME_LEN_BYTES) {
        return -1;
    }
    const unsigned char *p = data + *off;
    uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (n > size - *off - FRAME_LEN_BYTES) {
        return -1;
    }
    *msg = p + FRAME_LEN_BYTES;
    *len = n;
    *off += FRAME_LEN_BYTES + n;
    return 1;
}

int frame_id(char *buf, size_t cap, const char *source, uint64_t gen, uint64_t first, uint64_t end)
{
    int n = snprintf(buf, cap, "%s-%" PRIu64 "-%" PRIu64 "-%" PRIu64, source, gen, first, end);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int frame_id_parse(const char *id, const char *source, uint64_t gen, uint64_t *first, uint64_t *end)
{
    size_t sl = strlen(source);
    if (strncmp(id, source, sl) != 0 || id[sl] != '-') {
        return 0;
    }
    const char *p = id + sl + 1;
    char *e;
    uint64_t g = strtoull(p, &e, 10);
    if (e == p || *e != '-' || g != gen) {
        return 0;
    }
    p = e + 1;
    uint64_t f = strtoull(p, &e, 10);
    if (e == p || *e != '-') {
        return 0;
    }
    p = e + 1;
    uint64_t en = strtoull(p, &e, 10);
    if (e == p || *e != '\0' || en < f) {
        return 0;
    }
    *first = f;
    *end = en;
    return 1;
}
