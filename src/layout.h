/* SPDX-License-Identifier: MIT */
/* The shared-memory layout: the contract between processes. Only fixed-width integers and bytes
 * live here (no pointers, size_t or bool), so processes built by different compilers agree. */
#ifndef SHMRING_LAYOUT_H
#define SHMRING_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "shmring.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "cross-process atomics must be lock-free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "cross-process atomics must be lock-free");

#define SHMRING__MAGIC 0x474e49524d485353ull /* "SSHMRING" little-endian */
#define SHMRING__LINE  128 /* a cache-line pair: adjacent-line prefetchers make 64 too little */
#define SHMRING__ALIGN 8u  /* every record starts 8-byte aligned */

/* Header flags (hdr->flags). */
#define SHMRING__F_PERSIST 0x1u /* keep the name after the last process detaches */
#define SHMRING__F_LEGACY  0x2u /* the SetSharedMem/GetSharedMem value area, not a queue */

/* Peer states (hdr->producer_state, hdr->consumer_state). */
enum { SHMRING__PEER_NEVER = 0, SHMRING__PEER_ATTACHED = 1, SHMRING__PEER_CLOSED = 2 };

/* Positions (head, tail) are free-running 64-bit byte counts since the ring was initialised:
 * they never wrap in practice (2^64 bytes), tail - head is the bytes in use, and the offset in
 * the data area is position modulo capacity. Each side keeps that offset incrementally in its
 * handle, so the hot path never divides. Only the producer writes tail, only the consumer head. */
struct shmring__hdr {
    /* Line 0: written by the initialiser before version is published, read-only after. */
    _Atomic uint64_t magic;      /* SHMRING__MAGIC */
    _Atomic uint32_t version;    /* SHMRING_LAYOUT_VERSION; 0 = not initialised; written last */
    uint32_t header_size;        /* SHMRING_HEADER_SIZE */
    uint64_t total_size;         /* bytes of the whole mapping */
    uint64_t capacity;           /* bytes of the data area (total_size - header_size) */
    uint32_t max_msg;            /* largest message that fits an empty ring at any position */
    uint32_t flags;              /* SHMRING__F_* */
    _Atomic uint64_t generation; /* bumped each time the name is (re)initialised */
    /* Legacy value (SHMRING__F_LEGACY only): a seqlock over one string in the data area. */
    _Atomic uint64_t legacy_seq; /* odd while a setter overwrites the current value in place */
    _Atomic uint64_t legacy_cur; /* offset << 32 | length of the current value's bytes */
    uint8_t pad0[SHMRING__LINE - 64];

    /* Line 1: written only by the producer. */
    _Atomic uint64_t tail; /* end of the last committed record */
    _Atomic uint64_t sent_msgs, sent_bytes, full_events, producer_sleeps;
    uint8_t pad1[SHMRING__LINE - 40];

    /* Line 2: written only by the consumer. */
    _Atomic uint64_t head; /* start of the oldest unreleased record */
    _Atomic uint64_t recv_msgs, recv_bytes, empty_events, consumer_sleeps;
    uint8_t pad2[SHMRING__LINE - 40];

    /* Line 3: rarely written (sleeping, attaching, closing); kept off both hot lines so that a
     * side can check "does my peer sleep?" on every publish without a cache miss. */
    _Atomic uint32_t consumer_waiting; /* wait word: 1 while the consumer sleeps for data */
    _Atomic uint32_t producer_waiting; /* wait word: 1 while the producer sleeps for room */
    _Atomic uint32_t producer_state;   /* SHMRING__PEER_* */
    _Atomic uint32_t consumer_state;
    _Atomic int32_t producer_pid; /* informational: the liveness truth is the kernel role lock */
    _Atomic int32_t consumer_pid;
    _Atomic uint64_t wakeups; /* wake system calls made by either side */
    uint8_t pad3[SHMRING__LINE - 32];
};

_Static_assert(sizeof(struct shmring__hdr) == SHMRING_HEADER_SIZE, "header is 512 bytes");
_Static_assert(offsetof(struct shmring__hdr, tail) == 1 * SHMRING__LINE, "tail on line pair 1");
_Static_assert(offsetof(struct shmring__hdr, head) == 2 * SHMRING__LINE, "head on line pair 2");
_Static_assert(offsetof(struct shmring__hdr, consumer_waiting) == 3 * SHMRING__LINE,
               "wait words on line pair 3");
_Static_assert(offsetof(struct shmring__hdr, pad0) == 64, "line 0 fields fill 64 bytes");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4,
               "atomics have the size of their plain types");

/* A record: an 8-byte header, then the payload, padded to SHMRING__ALIGN. A record never wraps:
 * when the next one does not fit before the end of the data area, the producer writes a padding
 * record that fills the rest and continues at offset 0. */
#define SHMRING__REC_MSG 0x4d534721u /* "!GSM" */
#define SHMRING__REC_PAD 0x44415021u /* "!PAD" */
#define SHMRING__REC_HDR 8u

struct shmring__rec {
    uint32_t len; /* payload bytes (MSG), or bytes after this header up to the end (PAD) */
    uint32_t tag; /* SHMRING__REC_MSG or SHMRING__REC_PAD */
};
_Static_assert(sizeof(struct shmring__rec) == SHMRING__REC_HDR, "record header is 8 bytes");

static inline uint64_t shmring__align_up(uint64_t n)
{
    return (n + (SHMRING__ALIGN - 1)) & ~(uint64_t)(SHMRING__ALIGN - 1);
}

/* Bytes a message of len bytes takes in the ring. */
static inline uint64_t shmring__rec_size(uint64_t len)
{
    return shmring__align_up(SHMRING__REC_HDR + len);
}

/* The largest payload that fits an empty ring wherever its position is: at offset i a record of
 * size s fits if s <= capacity - i, or (after padding) if s <= i; the worst i is capacity / 2. */
static inline uint64_t shmring__max_msg_for(uint64_t capacity)
{
    uint64_t half = (capacity / 2) & ~(uint64_t)(SHMRING__ALIGN - 1);
    return half >= SHMRING__REC_HDR ? half - SHMRING__REC_HDR : 0;
}

#endif /* SHMRING_LAYOUT_H */
