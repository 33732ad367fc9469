/* SPDX-License-Identifier: MIT */
/* The seqlocked legacy value over memory it is given; see legacy_value.h for the protocol. */
#include "legacy_value.h"

#define LV_NO_ROOM UINT64_MAX

_Static_assert(SHMRING__LV_MAX <= UINT32_MAX, "a length fits legacy_cur's low half");

uint64_t shmring__lv_set(const struct shmring__lv *v, const char *s, uint64_t n)
{
    struct shmring__hdr *hdr = v->hdr;
    if (n > SHMRING__LV_MAX) {
        n = SHMRING__LV_MAX;
    }
    if (n > v->cap) {
        n = v->cap;
    }
    /* LX3 (relaxed): only setters store seq and cur, and the caller's lock excludes every other
     * setter; the last one's stores reached us through the lock hand-over (the caller's locks
     * are full barriers). */
    uint64_t seq = atomic_load_explicit(&hdr->legacy_seq, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&hdr->legacy_cur, memory_order_relaxed);
    uint64_t off = cur >> 32;
    uint64_t len = cur & 0xffffffffu;
    /* Odd seq means a setter died overwriting: nothing is left to preserve. Bounds that do not
     * fit are corrupt: overwrite in place, which repairs them. */
    int intact = (seq & 1) == 0 && len <= v->cap && off <= v->cap - len;
    uint64_t pos = LV_NO_ROOM;
    if (intact && n <= off) {
        pos = 0; /* the current value sits on the right */
    } else if (intact && n <= v->cap - (off + len)) {
        pos = v->cap - n; /* it sits on the left (or is empty) */
    }
    if (pos != LV_NO_ROOM) {
        /* LW1: a new generation before any byte changes. Bytes of the current value are not
         * touched now, but the next set reuses them: a getter still copying them then must see
         * seq move. Release: pairs with LA1 in shmring__lv_get(), so that a getter that reads LW1
         * also reads the current cur (LR1 of the previous set, which the lock hand-over ordered
         * before us) or a later one, never an older cur whose bytes lie in the block we now
         * write. */
        atomic_store_explicit(&hdr->legacy_seq, seq + 2, memory_order_release);
        /* LF1: orders LW1 before the byte stores below; pairs with LF2 in shmring__lv_get(): a
         * getter whose copy read any byte stored after this fence also reads LW1 (or later) and
         * retries. */
        atomic_thread_fence(memory_order_release);
        shmring__lv_bytes_in(v->data + pos, s, n);
        /* LR1: publishes the bytes above; pairs with LA2 in shmring__lv_get(). */
        atomic_store_explicit(&hdr->legacy_cur, pos << 32 | n, memory_order_release);
    } else {
        /* LW2: made visible by LW3's release to a getter of this process that reads LW3 (LA1);
         * the setters' lock we hold is invisible to it (one lock owner per process). */
        atomic_store_explicit(v->local_writer, 1, memory_order_relaxed);
        /* LW3: odd = "being overwritten" (already odd if a setter died here: keep it). */
        atomic_store_explicit(&hdr->legacy_seq, seq | 1, memory_order_release);
        /* LF3: LW3 before the byte stores; pairs with LF2 in shmring__lv_get(). */
        atomic_thread_fence(memory_order_release);
        shmring__lv_bytes_in(v->data, s, n);
        /* LX4 (relaxed): nobody uses cur while seq is odd; LR2 publishes it. */
        atomic_store_explicit(&hdr->legacy_cur, n, memory_order_relaxed);
        /* LR2: publishes the bytes and cur; pairs with LA1 in shmring__lv_get(). */
        atomic_store_explicit(&hdr->legacy_seq, (seq | 1) + 1, memory_order_release);
        /* LR3: pairs with LA3 in writer_died(): a getter that reads 0 here also sees LR2. */
        atomic_store_explicit(v->local_writer, 0, memory_order_release);
    }
    return n;
}

/* seq was odd (s1): 1 if the setter that made it odd is dead, 0 if it may still be writing. */
static int writer_died(const struct shmring__lv *v, uint64_t s1)
{
    /* Another process's setter holds the lock from before LW3 until after LR2, and the caller's
     * lock is one that is dropped when its holder dies. An error counts as "alive". */
    if (v->setter_lock_held(v->ctx) != 0) {
        return 0;
    }
    /* LA3: pairs with LR3 in shmring__lv_set() (our own threads, whose lock we cannot see). */
    if (atomic_load_explicit(v->local_writer, memory_order_acquire) != 0) {
        return 0;
    }
    /* The lock was free. A setter that released it had stored LR2 first, and the lock orders the
     * release before our query, so an unchanged seq means that the setter of s1 died. LA4: pairs
     * with LR2, like LA1. */
    return atomic_load_explicit(&v->hdr->legacy_seq, memory_order_acquire) == s1;
}

int shmring__lv_get(const struct shmring__lv *v, char *buf, uint64_t cch)
{
    if (cch == 0) {
        return SHMRING_EINVAL;
    }
    struct shmring__hdr *hdr = v->hdr;
    for (uint32_t round = 0;; round++) {
        /* LA1: pairs with LR2 (an in-place set's bytes and cur are visible once seq is even), with
         * LW1 (the cur loaded below is not older than the one LW1's setter saw) and with LW3 (LW2
         * is visible to writer_died once we read an odd seq). */
        uint64_t s1 = atomic_load_explicit(&hdr->legacy_seq, memory_order_acquire);
        if ((s1 & 1) == 0) {
            /* LA2: pairs with LR1: the bytes of the value that cur names are complete. */
            uint64_t cur = atomic_load_explicit(&hdr->legacy_cur, memory_order_acquire);
            uint64_t off = cur >> 32;
            uint64_t len = cur & 0xffffffffu;
            /* A setter never stores more than the maximum: a longer value is a scribble. */
            int bad = len > SHMRING__LV_MAX || len > v->cap || off > v->cap - len;
            uint64_t k = 0;
            if (!bad) {
                k = len < cch - 1 ? len : cch - 1;
                shmring__lv_bytes_out(buf, v->data + off, k);
            }
            /* LF2: pairs with LF1/LF3 in shmring__lv_set(): if the copy read a byte that a setter
             * stored after its LW1 or LW3, the load below reads that store (or a later one). */
            atomic_thread_fence(memory_order_acquire);
            /* LX5 (relaxed): ordered after the copy by LF2. */
            if (atomic_load_explicit(&hdr->legacy_seq, memory_order_relaxed) == s1) {
                if (bad) {
                    buf[0] = '\0';
                    return SHMRING_EPROTO; /* stable, so not a race: a peer scribbled on cur */
                }
                buf[k] = '\0';
                return 0;
            }
        } else if (round % 32 == 0 && writer_died(v, s1)) {
            buf[0] = '\0';
            return SHMRING_EOWNERDEAD;
        }
        int err = v->pause(v->ctx, round);
        if (err < 0) {
            buf[0] = '\0';
            return err;
        }
    }
}
