/* SPDX-License-Identifier: MIT */
/* The batch framing and the message ids (docs/nats-bridge.md, "Framing"). */
#ifndef SHMRING_NATS_FRAME_H
#define SHMRING_NATS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_BATCH_HEADER "Shmring-Batch" /* value: the decimal count of packed messages */
#define FRAME_LEN_BYTES    4u              /* each packed message: u32 LE length, then bytes */

/* Writes a u32 little-endian length at p. */
void frame_put_len(unsigned char *p, uint32_t len);

/* Iterates over a packed payload: sets *msg and *len to the next message and returns 1, 0 at the
 * clean end, -1 if the payload is malformed (a length past the end). *off starts at 0. */
int frame_next(const unsigned char *data, size_t size, size_t *off, const unsigned char **msg,
               size_t *len);

/* Message id "<source>-<generation>-<first>-<end>": first/end are the ring positions of the
 * first message and just past the last one it carries. Returns the length written, or -1. */
int frame_id(char *buf, size_t cap, const char *source, uint64_t gen, uint64_t first, uint64_t end);

/* Parses an id: 1 when it belongs to source/gen (then *first, *end are set), 0 otherwise. */
int frame_id_parse(const char *id, const char *source, uint64_t gen, uint64_t *first,
                   uint64_t *end);

#endif
