/* mutants: ANNOUNCE_AFTER_CAS NO_RECHECK SKIP_LIVE NO_BOUND NO_COVER_CHECK NO_ZERO COMMIT_BEFORE_PAYLOAD NO_LAP_CHECK */
/* cc: -DCOLLAPSE -DVECTORSZ=1024 */
/* pan: -m100000 */
/* SPDX-License-Identifier: MIT */
/* The multi-producer ring's record protocol (src/ring_mp.h, src/ring_mp.c; docs/mpsc.md), as a
 * SPIN model: producers that claim, announce, write and commit records, and die at any step; a
 * producer that takes a dead one's slot; a consumer that reads in position order, zeroes what
 * it consumed, and turns a dead producer's uncommitted claim into padding
 * (shmring__mcons_resolve). Run by scripts/check-model.sh.
 *
 * What SPIN checks here, over every interleaving and every moment of death:
 *  - every message is delivered at most once, in its producer's order, not torn (each payload
 *    word is the message's own), and no record the consumer reads fails its checks (the
 *    assertions where the C code answers SHMRING_EBADMSG or SHMRING_EPROTO);
 *  - every committed message is delivered, the dead producer's included (the end check);
 *  - the consumer never waits for ever: it waits only for a change of shared state, so a
 *    consumer left waiting when no live producer will write anything is an invalid end state
 *    (so is a producer left waiting for room that never comes);
 *  - a live producer is never skipped (if it were, its later commit would be lost or would
 *    overwrite bytes given back: the checks above fail).
 * Every mutant on the first line is a one-line change of a step the argument in docs/mpsc.md
 * relies on; scripts/check-model.sh requires SPIN to find an error in each.
 *
 * What it does not check. SPIN's interleavings are sequentially consistent: the memory orders
 * (the labels below, MR1, MA8, ...) are argued in docs/memory-model.md, not checked here. Each
 * 64-bit store or load of the C code that another process reads is one atomic step here. A
 * payload's copy in or out, and the zeroing of consumed words with the store of `zeroed` after
 * it, are one step each: no peer reads those words meanwhile (the dead-claim scan stops at a
 * written header or an announced claim before it reaches a payload). The `solo` mode (one
 * producer without a CAS, docs/mpsc.md "One producer alone") is not modelled: its argument
 * rests on the heavy barrier, which is the weak-memory part. Neither are the CAS retry limit,
 * the idle looks at `claim` (they only skip loads) nor the 10 ms before a stalled consumer
 * resolves: here it resolves whenever it is stalled, which includes every moment it could.
 * Hostile peers are the fuzzers' and the scribbler's part. Payloads are never zero here.
 *
 * Scale: a word is 8 bytes, positions count words. The data area is CAP words, a cache line L
 * (the C code: 64 bytes = 8 words, data areas of 32 words and more); records are 3 words (a
 * header and 2 payload words), so the ring wraps and claims pad to a line.
 *
 * History: with 2-word records in the batch this model passed; with 3-word ones its first run
 * found a fault of the C code (docs/mpsc.md, "What the ring model found"): the consumer read the
 * word at head when head was one data area past `zeroed`, a word it had read a lap before and
 * not zeroed yet. MUTANT_NO_LAP_CHECK is that code. */

#define CAP   8
#define L     2
#define NSLOT 2
#define NONE  255   /* pend_pos: no claim announced (2^64-1 in C) */
#define NIDS  3     /* producers 0 and 1 in slots 0 and 1; producer 2 takes a dead one's slot */
#define MSGS  2     /* messages producers 0 and 1 send */

/* A word of the data area: tag, and by tag: MSG payload words, PAD words after the header,
 * CLAIMED record words (its len field), DATA the producer id and sequence it belongs to. */
#define T_ZERO    0
#define T_MSG     1
#define T_PAD     2
#define T_CLAIMED 3
#define T_DATA    4
byte wtag[CAP];
byte wlen[CAP];
byte wslot[CAP]; /* CLAIMED: slot; DATA: producer id */
byte wep[CAP];   /* CLAIMED: epoch % EPOCHS; DATA: sequence number */
/* The epoch bits a CLAIMED tag keeps: 16 in C, so the 65536th later holder of a slot carries a
 * dead writer's tag. The model keeps none, so every later holder does, and the consumer must
 * tell the dead writer from the live holder by the holder's announcement alone (MA13). */
#define EPOCHS 1

byte claim;      /* ext->claim: end of the last claimed range */
byte zeroed;     /* hdr->zeroed: bytes before it are read, zeroed and given back */
byte head;       /* the consumer's read position (its own in C; global here for producer 2) */
byte pend_pos[NSLOT];
byte pend_size[NSLOT];
byte epoch[NSLOT];
bool alive[NSLOT];   /* the slot's kernel lock is held (the callback alive() of resolve) */
byte killed;         /* deaths so far (at most one, of producer 0 or 1) */
byte running = 2;    /* producers that have not ended; the consumer ends when 0 and empty */
bool changed;        /* some shared state changed since the consumer's last look began */
byte committed[NIDS];/* ghost: messages each producer has committed */
byte delivered[NIDS];/* ghost: messages of each producer the consumer has delivered */

/* ---- producer (shmring__mprod_*) ------------------------------------------------------------ */

/* A producer may be killed before any store of its that others read (its local steps are
 * invisible, so this is every moment that matters): one death in a run, of producer 0 or 1. */
inline die_point()
{
    if
    :: atomic { killed == 0 && id < 2 -> killed = 1 }; goto dead
    :: true
    fi
}

/* One 64-bit store of a record header or payload word. */
inline put(i, t, n, s, e)
{
    die_point();
    atomic { wtag[i] = t; wlen[i] = n; wslot[i] = s; wep[i] = e; changed = 1 }
}

/* The payload, then the commit (MR5 / MR11): a release store of the MSG word. */
inline write_payload(at, n)
{
    die_point();
    d_step {
        j = 1;
        do
        :: j < n -> wtag[at + j] = T_DATA; wlen[at + j] = 0; wslot[at + j] = id; wep[at + j] = seq; j++
        :: else -> break
        od;
        j = 0;
        changed = 1
    }
}

inline commit(at, n)
{
#ifdef MUTANT_COMMIT_BEFORE_PAYLOAD
    atomic { wtag[at] = T_MSG; wlen[at] = n - 1; changed = 1; committed[id]++ }
    write_payload(at, n);
#else
    write_payload(at, n);
    die_point();
    atomic { wtag[at] = T_MSG; wlen[at] = n - 1; changed = 1; committed[id]++ }
#endif
    seq++
}

/* MR1 / MR8: size first, then position, each a release store. */
inline announce(pos, size)
{
    die_point();
    atomic { pend_size[k] = size; changed = 1 };
    die_point();
    atomic { pend_pos[k] = pos; changed = 1 }
}

/* MR2 / MR9: the CAS on `claim`; on failure c takes the current value. */
inline cas_claim()
{
    die_point();
    atomic {
        if
        :: claim == c -> claim = c + total; won = 1; changed = 1
        :: else -> c = claim; won = 0
        fi
    }
}

/* Room for total words at c (shmring__mprod_room with a fresh `zeroed`, MA1; the cached head
 * of the C code only answers "room" where this would too). Sets room: 0 yes, 1 c is older than
 * zeroed (read claim again), 2 full. */
inline check_room()
{
    z = zeroed;
    if
    :: c < z -> room = 1
    :: else ->
        assert(c - z <= CAP); /* SHMRING_EPROTO in C */
        if
        :: c - z <= CAP - total -> room = 0
        :: else -> room = 2
        fi
    fi
}

/* A producer on a full ring waits until the consumer gives bytes back (send_wait sleeps on
 * producer_waiting; the wake-up is mpsc_wake.pml's part). Waiting for a change of `zeroed` makes
 * a producer that would wait for ever an invalid end state. */
inline wait_room()
{
    do
    :: zeroed != z -> break
    :: atomic { killed == 0 && id < 2 -> killed = 1 }; goto dead
    od
}

proctype Producer(byte k; byte id; byte nmsg)
{
    byte seq = 0, c, idx, gap, total, ridx, q, to_end, z, room, j, m, kk, wrap_at, i;
    byte last_pos, last_idx;
    byte need[2];
    bool won, announced;

    /* shmring__mprod_attach: the slot lock is ours (alive), then a new epoch (MX5) and no
     * announcement (MR7): the dead predecessor's CLAIMED words and announcement no longer make
     * the consumer wait for us. */
    atomic { alive[k] = 1; changed = 1 };
    atomic { epoch[k]++; changed = 1 };
    atomic { pend_size[k] = 0; changed = 1 };
    atomic { pend_pos[k] = NONE; changed = 1 };
    atomic { last_pos = zeroed; last_idx = last_pos % CAP };
    do
    :: seq == nmsg -> break
    :: else ->
        /* Producer 0 sends one message at a time (shmring__mprod_send), producer 1 two
         * messages with one claim (send_batch), each of 2 payload words. Sizes are fixed, not
         * chosen: a choice multiplies the states, and 3-word records in an 8-word area with
         * 2-word lines already make claims pad to a line, wrap (a batch in its middle), find
         * the ring full and end a batch early for want of room. */
        if
        :: id == 0 -> m = 1; need[0] = 3
        :: id == 1 && seq + 2 <= nmsg -> m = 2; need[0] = 3; need[1] = 3
        :: id == 1 && seq + 2 > nmsg -> m = 1; need[0] = 3
        fi;
        if
        :: m == 1 ->
            /* shmring__mprod_claim_loop */
            announced = 0;
            c = claim; /* MX1 */
        retry1:
            if
            :: c == last_pos -> idx = last_idx; gap = 0
            :: else -> idx = c % CAP; gap = (L - idx % L) % L
            fi;
            to_end = CAP - idx;
            if
            :: gap + need[0] <= to_end -> total = gap + need[0]
            :: else -> total = to_end + need[0]
            fi;
            check_room();
            if
            :: room == 1 -> c = claim; goto retry1
            :: room == 2 ->
                if
                :: announced -> die_point(); atomic { pend_pos[k] = NONE; changed = 1 } /* MR7 */
                :: else
                fi;
                announced = 0;
                wait_room();
                c = claim; /* the caller sends again */
                goto retry1
            :: else
            fi;
#ifdef MUTANT_ANNOUNCE_AFTER_CAS
            cas_claim();
            if
            :: !won -> goto retry1
            :: else
            fi;
            announce(c, total);
#else
            announce(c, total);
            announced = 1;
            cas_claim();
            if
            :: !won -> goto retry1
            :: else
            fi;
#endif
            /* MR3: padding to the end, or to the line; then CLAIMED (MX2). */
            if
            :: gap + need[0] > to_end -> put(idx, T_PAD, to_end - 1, 0, 0); ridx = 0
            :: gap + need[0] <= to_end && gap != 0 -> put(idx, T_PAD, gap - 1, 0, 0); ridx = idx + gap
            :: else -> ridx = idx
            fi;
            put(ridx, T_CLAIMED, need[0], k, epoch[k] % EPOCHS);
            last_pos = c + total;
            last_idx = (ridx + need[0]) % CAP;
            commit(ridx, need[0])
        :: else ->
            /* shmring__mprod_send_batch: one claim (MX3, MR8, MR9) for the messages that
             * fit, with one wrap at most; then CLAIMED (MX4) and commit (MR11) each. */
            announced = 0;
            c = claim; /* MX3 */
        retry2:
            z = zeroed; /* MA1 (shmring__mprod_room) */
            if
            :: c < z -> c = claim; goto retry2
            :: else
            fi;
            assert(c - z <= CAP);
            if
            :: c == last_pos -> idx = last_idx; gap = 0
            :: else -> idx = c % CAP; gap = (L - idx % L) % L
            fi;
            q = (idx + gap) % CAP;
            total = gap;
            wrap_at = NONE;
            kk = 0;
            do
            :: kk == m -> break
            :: else ->
                j = need[kk];
                if
                :: need[kk] > CAP - q ->
                    if
                    :: wrap_at != NONE -> break
                    :: else
                    fi;
                    j = j + CAP - q
                :: else
                fi;
                if
                :: total + j > CAP - (c - z) -> break
                :: else
                fi;
                if
                :: need[kk] > CAP - q -> wrap_at = kk; q = 0
                :: else
                fi;
                total = total + j;
                q = (q + need[kk]) % CAP;
                kk++
            od;
            if
            :: kk == 0 ->
                if
                :: announced -> die_point(); atomic { pend_pos[k] = NONE; changed = 1 } /* MR7 */
                :: else
                fi;
                announced = 0;
                wait_room();
                c = claim;
                goto retry2
            :: else
            fi;
#ifdef MUTANT_ANNOUNCE_AFTER_CAS
            cas_claim();
            if
            :: !won -> goto retry2
            :: else
            fi;
            announce(c, total);
#else
            announce(c, total);
            announced = 1;
            cas_claim();
            if
            :: !won -> goto retry2
            :: else
            fi;
#endif
            q = idx;
            if
            :: gap != 0 -> put(q, T_PAD, gap - 1, 0, 0); q = (q + gap) % CAP /* MR10 */
            :: else
            fi;
            i = 0;
            do
            :: i == kk -> break
            :: else ->
                if
                :: i == wrap_at -> put(q, T_PAD, CAP - q - 1, 0, 0); q = 0 /* MR10 */
                :: else
                fi;
                put(q, T_CLAIMED, need[i], k, epoch[k] % EPOCHS);
                commit(q, need[i]);
                q = (q + need[i]) % CAP;
                i++
            od;
            last_pos = c + total;
            last_idx = q
        fi;
        /* Temporaries back to 0: states that differ only in dead values are one state. */
        atomic {
            c = 0; idx = 0; gap = 0; total = 0; ridx = 0; q = 0; to_end = 0; z = 0; room = 0;
            j = 0; m = 0; kk = 0; wrap_at = 0; i = 0; need[0] = 0; need[1] = 0; won = 0;
            announced = 0
        }
    od;
    /* Producer 2, in a dead one's slot, sends nothing: it holds the slot, alive, until the
     * others are gone and the consumer has read up to `claim`. So a consumer that waited for
     * it because of its predecessor's claim (a CLAIMED word of the old epoch, the old
     * announcement) would wait for ever. */
    if
    :: id == 2 -> (running == 1 && head == claim)
    :: else
    fi;
    /* shmring__mprod_detach: no announcement (MR7), then the lock goes. */
    die_point();
    atomic { pend_pos[k] = NONE; changed = 1 };
    atomic { alive[k] = 0; running--; changed = 1 };
    goto gone;
dead:
    /* Killed: no further step. The kernel releases the slot lock; a new producer takes the slot
     * at once, or not (its first step: it is not yet alive and has the old epoch). */
    atomic {
        alive[k] = 0;
        changed = 1;
        if
        :: running++; run Producer(k, 2, 0)
        :: true
        fi;
        running--
    };
gone:
    skip
}

/* ---- consumer (shmring__mcons_next, _advance, _publish_part, _resolve) ------------------------ */


/* shmring__mcons_zero_to: zeroes [zeroed, to) one word per step, then publishes `zeroed`
 * (MR12). */
inline zero_to(to)
{
    d_step {
        zp = zeroed;
        do
        :: zp == to -> break
        :: else ->
#ifndef MUTANT_NO_ZERO
            wtag[zp % CAP] = T_ZERO; wlen[zp % CAP] = 0; wslot[zp % CAP] = 0; wep[zp % CAP] = 0;
#endif
            zp++
        od;
        zp = 0;
        zeroed = to
    }
}

/* shmring__mcons_publish_part: whole lines behind head (SHMRING__MP_PUB_LINES), or every consumed
 * word (SHMRING__MP_PUB_ALL, before the consumer waits: the ring looked empty or stalled). */
inline publish(all)
{
    if
    :: all -> to = head
    :: else -> to = head / L * L
    fi;
    if
    :: to > zeroed -> zero_to(to)
    :: else
    fi
}

/* skip_dead: head moves past n words of dead claims. */
inline skip_dead(n)
{
    d_step { head = head + n; ridx = (ridx + n) % CAP }
}

active proctype Consumer()
{
    byte ridx, cl, t, n, s, e, x, bound, scan, pos, psize, zp, to, sid, sseq, j;
    bit covered;
    bool stalled, busy;

    do
    :: /* A look at head (shmring__mcons_next). The model's `changed` is cleared first: a
        * consumer that then finds nothing to do waits for the next change. */
        atomic {
            cl = 0; x = 0; bound = 0; scan = 0; pos = 0; psize = 0; zp = 0; to = 0; sid = 0;
            sseq = 0; j = 0; stalled = 0; busy = 0; covered = 0;
            changed = 0;
#ifndef MUTANT_NO_LAP_CHECK
            if
            :: head - zeroed >= CAP ->
                /* One area past `zeroed`: the word at head is one we read and have not zeroed
                 * yet; the ring is empty (no claim reaches past zeroed + CAP). */
                t = T_ZERO; n = 0; s = 0; e = 0
            :: else ->
#endif
                /* MA2 */
                t = wtag[ridx]; n = wlen[ridx]; s = wslot[ridx]; e = wep[ridx]
#ifndef MUTANT_NO_LAP_CHECK
            fi
#endif
        };
        if
        :: t == T_MSG ->
            assert(n + 1 <= CAP - ridx && n >= 1 && n <= 2); /* else SHMRING_EBADMSG */
            assert(head + n + 1 - zeroed <= CAP); /* no record reaches past zeroed + CAP */
            /* The payload: every word the message's own (a torn record fails here). */
            d_step {
                sid = wslot[ridx + 1];
                sseq = wep[ridx + 1];
                j = 1;
                do
                :: j <= n ->
                    assert(wtag[ridx + j] == T_DATA && wslot[ridx + j] == sid &&
                           wep[ridx + j] == sseq);
                    j++
                :: else -> break
                od;
                /* Exactly once, in the producer's order. */
                assert(sseq == delivered[sid]);
                delivered[sid]++;
                head = head + n + 1; /* shmring__mcons_advance */
                ridx = (ridx + n + 1) % CAP;
                j = 0; sid = 0; sseq = 0
            };
            publish(0)
        :: t == T_PAD ->
            assert(n + 1 <= CAP - ridx && head + n + 1 - zeroed <= CAP); /* else SHMRING_EBADMSG */
            d_step { head = head + n + 1; ridx = (ridx + n + 1) % CAP }
        :: t == T_CLAIMED || t == T_ZERO ->
            /* MA3: nothing committed at head: claimed (stalled) or empty. */
            cl = claim;
            assert(cl >= head && cl - zeroed <= CAP); /* else SHMRING_EPROTO */
            stalled = (cl != head);
            if
            :: !stalled && running == 0 ->
                /* Every producer gone: then the ring is empty if `claim` is still at head
                 * (MA11 after the slots, as for SHMRING_EPIPE). */
                if
                :: claim == head -> break
                :: else
                fi
            :: !stalled && running > 0 ->
                publish(1);
                (changed) /* empty: wait for a producer */
            :: else ->
                /* shmring__mcons_resolve */
                busy = 0;
                x = head;
                cl = claim; /* MA5 */
                assert(cl >= x && cl - zeroed <= CAP);
                atomic { t = wtag[ridx]; n = wlen[ridx]; s = wslot[ridx]; e = wep[ridx] }; /* MA6 */
                if
                :: cl == x || t == T_MSG || t == T_PAD -> skip /* read it again */
                :: t == T_CLAIMED ->
                    assert(s < NSLOT && n >= 1 && n <= CAP - ridx && n <= cl - x);
                    /* MX7: its writer lives, in the same epoch, and (MA13, pos then size)
                     * announces a claim that covers x: wait. The C tag holds 16 bits of the
                     * epoch, so a later holder can match it; its claims all lie past x. */
                    covered = 0;
                    if
                    :: alive[s] && epoch[s] % EPOCHS == e ->
                        pos = pend_pos[s];
                        psize = pend_size[s];
                        if
                        :: pos != NONE && pos <= x && x - pos < psize -> covered = 1
#ifdef MUTANT_NO_COVER_CHECK
                        :: else -> covered = 1 /* the rule before MA13: the tag alone */
#else
                        :: else
#endif
                        fi
                    :: else
                    fi;
#ifdef MUTANT_SKIP_LIVE
                    covered = 0;
#endif
                    if
                    :: covered -> busy = 1
                    :: else
                        /* Dead, or a new holder: MA7, look once more, then skip. */
                        if
                        :: wtag[ridx] == T_CLAIMED && wlen[ridx] == n && wslot[ridx] == s && wep[ridx] == e ->
                            skip_dead(n)
                        :: else
                        fi
                    fi
                :: t == T_ZERO ->
                    /* Nobody alive covers x? The slots' announcements (MA8), pos then size. */
                    if
                    :: cl - x < CAP - ridx -> bound = cl - x
                    :: else -> bound = CAP - ridx
                    fi;
                    j = 0;
                    do
                    :: j == NSLOT -> break
                    :: else ->
                        pos = pend_pos[j];
                        psize = pend_size[j];
                        if
                        :: pos == NONE -> skip
                        :: pos <= x && x - pos < psize ->
                            if
                            :: alive[j] -> busy = 1
                            :: else
                            fi
#ifndef MUTANT_NO_BOUND
                        :: pos > x && pos - x < bound -> bound = pos - x
#endif
                        :: else
                        fi;
                        j++
                    od;
                    if
                    :: busy -> skip
#ifdef MUTANT_NO_RECHECK
                    :: else ->
#else
                    :: wtag[ridx] != T_ZERO -> skip /* MA9: committed meanwhile */
                    :: else ->
#endif
                        /* The dead claims' zero words up to the next written word (MX6), the
                         * next announced claim, the end of the area or `claim`. */
                        scan = 1;
                        do
                        :: scan < bound && wtag[(ridx + scan) % CAP] == T_ZERO -> scan++
                        :: else -> break
                        od;
                        skip_dead(scan)
                    fi
                fi;
                if
                :: x != head -> skip /* skipped: look again at once */
                :: else ->
                    publish(1);
                    (changed) /* stalled on a live producer: wait for it */
                fi
            fi
        :: else -> assert(t != T_DATA); assert(false) /* a payload word, or an unknown tag: SHMRING_EBADMSG */
        fi
    od;
    /* Every producer is gone and the ring is empty: everything committed was delivered. */
    assert(delivered[0] == committed[0] && delivered[1] == committed[1] &&
           delivered[2] == committed[2])
}

init
{
    int z;
    atomic {
        z = 0;
        do
        :: z < NSLOT -> pend_pos[z] = NONE; z++
        :: else -> break
        od;
        running = 2;
        run Producer(0, 0, MSGS);
        run Producer(1, 1, MSGS)
    }
}
