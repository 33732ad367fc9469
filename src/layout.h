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

#define SHMRING__MAGIC 0x474e49524d485353ULL /* "SSHMRING" little-endian */
#define SHMRING__LINE  128 /* a cache-line pair: adjacent-line prefetchers make 64 too little */
#define SHMRING__ALIGN 8u  /* every record starts 8-byte aligned */

/* Header flags (hdr->flags). */
#define SHMRING__F_PERSIST 0x1u /* keep the name after the last process detaches */
#define SHMRING__F_LEGACY  0x2u /* the SetSharedMem/GetSharedMem value area, not a queue */
#define SHMRING__F_MPSC    0x4u /* a multi-producer ring: slot table after the header (below) */

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
    uint32_t max_producers;      /* SHMRING__F_MPSC: producer slots; else 0 */
    uint8_t pad0[SHMRING__LINE - 68];

    /* Line 1: written only by the producer. */
    _Atomic uint64_t tail; /* end of the last committed record */
    _Atomic uint64_t sent_msgs, sent_bytes, full_events, producer_sleeps;
    /* The producer's bookmark (shmring_set_bookmark): two slots, so one can be rewritten while
     * the other stays in force. mark 0: empty or being written; else 1 + the producer's tail
     * when it was set, so it takes effect with the publish (R1) that moves tail past it. */
    _Atomic uint64_t bookmark_mark[2];
    _Atomic uint64_t bookmark_value[2];
    uint8_t pad1[SHMRING__LINE - 72];

    /* Line 2: written only by the consumer. */
    _Atomic uint64_t head; /* start of the oldest unreleased record */
    _Atomic uint64_t recv_msgs, recv_bytes, empty_events, consumer_sleeps;
    /* SHMRING__F_MPSC only (0 elsewhere): every data byte before this position has been consumed
     * and zeroed, so producers may claim up to it + capacity. It trails head by less than a
     * 64-byte line while the consumer reads (docs/mpsc.md, "Consumer"). */
    _Atomic uint64_t zeroed;
    uint8_t pad2[SHMRING__LINE - 48];

    /* Line 3: rarely written (sleeping, attaching, closing); kept off both hot lines so that a
     * side can check "does my peer sleep?" on every publish without a cache miss. */
    _Atomic uint32_t consumer_waiting; /* wait word: 1 while the consumer sleeps for data */
    _Atomic uint32_t producer_waiting; /* wait word: 1 while the producer sleeps for room */
    _Atomic uint32_t producer_state;   /* SHMRING__PEER_* */
    _Atomic uint32_t consumer_state;
    _Atomic int32_t producer_pid; /* informational: the liveness truth is the kernel role lock */
    _Atomic int32_t consumer_pid;
    _Atomic uint64_t wakeups; /* wake system calls made by either side */
    /* SHMRING__F_MPSC only: producers attached and not closed (one that died stays counted), so
     * that a consumer finding the ring empty knows "all closed" from one word. */
    _Atomic uint32_t mp_producers;
    uint8_t pad3[SHMRING__LINE - 36];
};

_Static_assert(sizeof(struct shmring__hdr) == SHMRING_HEADER_SIZE, "header is 512 bytes");
_Static_assert(offsetof(struct shmring__hdr, tail) == 1 * SHMRING__LINE, "tail on line pair 1");
_Static_assert(offsetof(struct shmring__hdr, head) == 2 * SHMRING__LINE, "head on line pair 2");
_Static_assert(offsetof(struct shmring__hdr, pad1) == SHMRING__LINE + 72,
               "the bookmark slots follow the producer's counters on line pair 1");
_Static_assert(offsetof(struct shmring__hdr, consumer_waiting) == 3 * SHMRING__LINE,
               "wait words on line pair 3");
_Static_assert(offsetof(struct shmring__hdr, max_producers) == 64, "line 0 fields fill 64 bytes");
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

/* ---- Multi-producer rings (SHMRING__F_MPSC), specified in docs/mpsc.md ------------------------
 *
 * The 512-byte header above is followed by the claim line and a table of max_producers producer
 * slots; the data area starts at header_size = SHMRING__MP_SLOTS_OFF + max_producers * 128.
 * `tail` and the producer counters of line 1 are unused (the claim word and the slots replace
 * them). A record header is read and written as one little-endian 64-bit word (tag << 32 | len)
 * so that a record is committed by a single release store. The data area is all zero wherever
 * no record has been written since the consumer last passed: the consumer zeroes what it
 * consumes before it publishes head, so a zero header means "not written yet" and a stale
 * header of an earlier lap can never look committed. */
#define SHMRING__MP_EXT_OFF       SHMRING_HEADER_SIZE
#define SHMRING__MP_SLOTS_OFF     (SHMRING_HEADER_SIZE + SHMRING__LINE)
#define SHMRING__MP_MAX_PRODUCERS 1024u /* slot numbers fit 10 bits of a CLAIMED tag */
#define SHMRING__MP_DEF_PRODUCERS 64u
#define SHMRING__MP_DEF_DATA      4096u      /* data bytes of a ring created with size 0 */
#define SHMRING__MP_NONE          UINT64_MAX /* pend_pos of a slot with no claim in flight */

/* CLAIMED: written by a producer right after its claim, before any payload byte:
 * tag = SHMRING__REC_CLAIMED | slot << 16 | (epoch & 0xffff), len = record bytes claimed. */
#define SHMRING__REC_CLAIMED      0x80000000u
#define SHMRING__REC_CLAIMED_MASK 0xfc000000u

/* The contended line: producers claim space with a CAS on `claim`; a producer that is alone on
 * the ring may be granted `solo` and then advances `claim` with a plain store (docs/mpsc.md,
 * "One producer alone"). */
struct shmring__mp_ext {
    _Atomic uint64_t claim; /* end of the last claimed byte range (free-running like head) */
    _Atomic uint32_t solo;  /* CLAIMED tag of the producer claiming without a CAS; 0: none */
    uint32_t reserved;
    uint8_t pad[SHMRING__LINE - 16];
};

/* One producer slot, a line pair of its own. Written only by the process that holds the slot's
 * kernel lock (byte SHMRING__ROLE_ID_SLOT0 + k); the consumer reads it only when a record stays
 * uncommitted, and stats readers sum the counters. */
struct shmring__mp_slot {
    _Atomic uint64_t pend_pos;  /* start of the claim being made or last made; MP_NONE */
    _Atomic uint64_t pend_size; /* its bytes (padding at the wrap included) */
    _Atomic uint64_t sent_msgs, sent_bytes, full_events, sleeps;
    _Atomic int32_t pid;       /* informational: the liveness truth is the kernel lock */
    _Atomic uint32_t epoch;    /* bumped by every new holder; names it in CLAIMED tags */
    _Atomic uint32_t state;    /* SHMRING__PEER_* */
    _Atomic uint32_t in_claim; /* 1 while the `solo` producer reads and advances `claim` */
    uint8_t pad[SHMRING__LINE - 64];
};

_Static_assert(sizeof(struct shmring__mp_ext) == SHMRING__LINE, "claim line is a line pair");
_Static_assert(sizeof(struct shmring__mp_slot) == SHMRING__LINE, "a slot is a line pair");
_Static_assert(SHMRING__MP_SLOTS_OFF % SHMRING__LINE == 0, "slots start on a line pair");

static inline uint64_t shmring__mp_header_size(uint32_t nslots)
{
    return SHMRING__MP_SLOTS_OFF + (uint64_t)nslots * SHMRING__LINE;
}

#endif /* SHMRING_LAYOUT_H */
