/* mutants: SLEEPER_CLEARS NO_RECHECK WAKE_BEFORE_COMMIT PROD_NO_RECHECK WAKE_ONE FUTEX_NO_COMPARE NO_EMPTY_WAKE */
/* cc: -DCOLLAPSE */
/* configs: -DPLAT_WIN */
/* pan: -m100000 */
/* SPDX-License-Identifier: MIT */
/* The wake-up protocol of the multi-producer ring (src/wait.c wait_loop, src/handle.h
 * shmring__wake_peer, src/shmring.c shmring__wake_slow, src/shmring_mp.c; docs/mpsc.md
 * "Wake-ups", docs/memory-model.md "Peers: roles, states, wake-ups" and "Multi-producer ring"),
 * as a SPIN model. Run by scripts/check-model.sh. The record protocol (announce, padding, dead
 * claims) is tests/model/mpsc_ring.pml; here a record is one position, claimed with a CAS on
 * `claim` and committed by one store.
 *
 * Setup: NPROD producers each send NMSG messages with shmring_send_wait (no timeout), one
 * consumer receives all of them with shmring_recv_wait (no timeout), the data area holds CAP
 * records. Nobody closes or dies: the close-time wake-ups (MH1, MH2) are left out on purpose, as
 * MH1's wake of the consumer would hide a lost wake-up of the last commit (a real producer may
 * stay attached for ever after its last message).
 *
 * What SPIN checks here, over every interleaving:
 *  - no lost wake-up: a sleep on the futex word is untimed, so a process that sleeps while
 *    nobody will wake it is an invalid end state (in the C code every sleep is a slice of at most
 *    40 ms, 10 ms for a consumer stalled on an uncommitted record: a lost wake-up there is a
 *    40 ms stall, not a hang; the model proves the flags alone suffice);
 *  - every message is delivered, once, in position order (the consumer's assertions), and no
 *    producer claims room the consumer has not given back.
 * futex wait is modelled as the kernel does it (src/unix/wait_linux.c shmring__plat_wait): the
 * comparison of the word with `expected` and the enqueueing are one atomic step, then the caller
 * blocks until a futex wake on that word. The wake (shmring__plat_wake, FUTEX_WAKE 0x7fffffff)
 * wakes every sleeper of the word. SPURIOUS futex returns (a slice that ends, a spurious
 * wake-up) are allowed, SPURIOUS times in a run, so the code paths after a return without a
 * wake-up are checked too; an unlimited number would be the C code's timeouts and would hide
 * every lost wake-up.
 *
 * What it does not check. SPIN's interleavings are sequentially consistent: the store-load
 * pairing that makes "the sleeper's re-check sees the publish, or the publisher sees the flag"
 * true on a real CPU (W1 + H1 heavy barrier against the publish + B1 light barrier + W4) is the
 * weak-memory part, argued in docs/memory-model.md; here H1 and B1 are no-ops and the model
 * checks the protocol logic above them. Not modelled: the spin phase's count (one look stands for
 * SPIN_ROUNDS looks: a look that fails changes nothing but the consumer's idle count), the nap
 * after a fruitless wake-up (a delay), deadlines and EINTR, the peer-gone checks (nobody dies),
 * padding and the wrap (mpsc_ring.pml), the solo mode (no CAS; its argument is the heavy
 * barrier) and statistics (C6, C10, MC5, MC7, MC8). The Windows wait (a semaphore per side and
 * a count of sleepers, V1-V5) is a second platform below, -DPLAT_WIN, a config that
 * check-model.sh verifies too (21.3 million states, 25 s; the mutants are futex-only).
 *
 * The consumer gives room back in two steps (shmring__mcons_publish_part): after a delivered
 * message only the whole 64-byte lines behind head (SHMRING__MP_PUB_LINES), on the first look
 * that finds nothing at head the same (_LINES_ONLY), and everything from the second look at the
 * same head on (_ALL). Which records a whole line covers depends on their sizes, so the model
 * gives back any amount between the last `zeroed` and head at the first two, and all of it at the
 * third: every partial-line case of the C code is one of these.
 *
 * Steps: each access to a shared word is one step, with the process-local work around it folded
 * into it (atomic), and dead locals are reset, to keep the state space small. Two loads are
 * folded into one step: a try's first MX1 (claim) and MA1 (zeroed); both only grow, so the
 * C code's two loads can only see more room than a snapshot when the CAS that follows then
 * fails, which the model covers (a lost CAS).
 *
 * The mutants (each a one-line change that docs/mpsc.md or a comment in src/ warns against):
 *  SLEEPER_CLEARS      a producer sleeper clears producer_waiting (W2, as on a single-producer
 *                      ring): after its re-check succeeds, or after its wait returns. The first
 *                      alone is caught without any spurious return; the second alone only with a
 *                      return without a wake-up (the C code's 40 ms slice), the docs' case.
 *  NO_RECHECK          the consumer sleeps without the try after W1/H1.
 *  PROD_NO_RECHECK     a producer sleeps without the try after W1/H1.
 *  WAKE_BEFORE_COMMIT  a producer reads consumer_waiting (W4) before its commit (MR5).
 *  WAKE_ONE            the wake wakes one sleeper of the shared producer_waiting.
 *  FUTEX_NO_COMPARE    the wait compares the word in user space, then sleeps.
 *  NO_EMPTY_WAKE       mcons_empty gives the held-back room back without shmring__wake_peer. */

#define NPROD    2
#ifndef NMSG
#define NMSG     2  /* 3: 39.8 million states, 60 s, 2.2 GB with COLLAPSE; errors 0 too */
#endif
#define TOTAL    (NPROD * NMSG)
#ifndef CAP
#define CAP      2
#endif
#ifndef SPURIOUS
#define SPURIOUS 1
#endif

#define OK     0
#define EAGAIN 1
/* shmring__plat_wait's answers that matter to wait_loop: 0 (woken, or the word differed) and
 * anything else (SHMRING_ETIMEDOUT: the slice ended). */
#define W_OK       0
#define W_TIMEDOUT 1

/* shared (struct shmring__hdr, struct shmring__mp_ext, the data area) */
byte claim = 0;             /* ext->claim: positions claimed (MR2) */
bit committed[TOTAL + 1];   /* the record word at each position: MSG (MR5) or not yet */
byte zeroed = 0;            /* hdr->zeroed: room given back by the consumer (MR12) */
bit consumer_waiting = 0;   /* hdr->consumer_waiting */
bit producer_waiting = 0;   /* hdr->producer_waiting, shared by every producer */
/* the kernel's futex queues: who sleeps on which word */
bit csleep = 0;             /* the consumer, on consumer_waiting */
bit psleep[NPROD];          /* producer k, on producer_waiting */
byte spurious = SPURIOUS;   /* futex returns without a wake left in this run */

/* ---- the platform: src/platform.h, src/unix/wait_linux.c ---------------------------------- */

#ifndef PLAT_WIN
/* shmring__plat_wait(seg, side, word, 1, slice): FUTEX_WAIT. The kernel compares *word with
 * `expected` under its lock and enqueues the caller in one step ("a wake that happened after the
 * caller's last check is never lost"); EAGAIN (the word differs) answers 0. */
inline futex_wait(word, sleeping, side, w)
{
#ifndef MUTANT_FUTEX_NO_COMPARE
    atomic {
        if
        :: word != 1 -> w = W_OK  /* EAGAIN: the word already changed */
        :: else ->
            sleeping = 1;
            if
            :: sleeping == 0 -> w = W_OK  /* blocks until a futex wake */
            :: spurious > 0 -> spurious--; sleeping = 0;
                if
                :: w = W_OK
                :: w = W_TIMEDOUT
                fi
            fi
        fi
    }
#else
    /* mutant: the comparison and the sleep are two steps (a check in user space, then a sleep
     * that compares nothing): a wake between them is lost */
    if
    :: word != 1 -> w = W_OK
    :: else ->
        sleeping = 1;
        atomic {
            if
            :: sleeping == 0 -> w = W_OK
            :: spurious > 0 -> spurious--; sleeping = 0; w = W_TIMEDOUT
            fi
        }
    fi
#endif
}

/* shmring__plat_wake(seg, side, word): FUTEX_WAKE with 0x7fffffff: every sleeper of the word. */
inline plat_wake_producers()
{
#ifndef MUTANT_WAKE_ONE
    atomic { psleep[0] = 0; psleep[1] = 0 }
#else
    /* mutant: FUTEX_WAKE 1 (or one semaphore count): one sleeper of the shared word */
    if
    :: psleep[0] -> psleep[0] = 0
    :: psleep[1] -> psleep[1] = 0
    :: else -> skip
    fi
#endif
}

inline plat_wake_consumer()
{
    csleep = 0
}
#else
/* -DPLAT_WIN (a config of scripts/check-model.sh; the mutants are futex-only): the Windows wait,
 * src/win/platform_win.c shmring__plat_wait / _wake: a named semaphore per side and a count of
 * its sleepers in the mapping. The model lets any waiter of the side take any count (Windows
 * gives a count to a thread already waiting; one that is between V2 and its wait can lose it to a
 * later sleeper: covered). */
byte sem[2];       /* the semaphores' counts: SHMRING__SIDE_CONSUMER 0, _PRODUCER 1 */
byte sleepers[2];  /* waiters->sleepers[side] */

inline futex_wait(word, sleeping, side, w)
{
    sleepers[side]++;  /* V1 (seq_cst): fetch-add sleepers */
    if
    :: word != 1 -> w = W_OK  /* V2 (seq_cst): load the word; it differs */
    :: else ->
        atomic {  /* WaitForSingleObject */
            if
            :: sem[side] > 0 -> sem[side]--; w = W_OK
            :: spurious > 0 -> spurious--; w = W_TIMEDOUT
            fi
        }
    fi;
    sleepers[side]--  /* V5 (relaxed): fetch-sub sleepers */
}

/* V3: fence; V4 (relaxed): load sleepers; ReleaseSemaphore(that many) */
inline plat_wake_side(side)
{
    atomic { sem[side] = sem[side] + sleepers[side]; assert(sem[side] < 16) }
}
inline plat_wake_producers()
{
    plat_wake_side(1)
}
inline plat_wake_consumer()
{
    plat_wake_side(0)
}
#endif

/* ---- the waker: src/handle.h shmring__wake_peer, src/shmring.c shmring__wake_slow --------- */

/* shmring__wake_peer(r, peer_waiting) + shmring__wake_slow: B1 light barrier (B0; a no-op here,
 * SC), W4 (relaxed) load of the peer's flag, and if set W3 (relaxed) exchange with 0: one waker
 * per sleep makes the system call, shmring__plat_wake. */
inline wake_consumer()
{
    /* W4: load consumer_waiting */
    if
    :: consumer_waiting != 0 ->
        /* W3: exchange consumer_waiting with 0 */
        atomic { old = consumer_waiting; consumer_waiting = 0 }
        if
        :: old != 0 -> old = 0; plat_wake_consumer()
        :: else -> skip
        fi
    :: else -> skip
    fi
}

inline wake_producers()
{
    /* W4: load producer_waiting */
    if
    :: producer_waiting != 0 ->
        /* W3: exchange producer_waiting with 0: the only place the shared flag is cleared */
        atomic { old = producer_waiting; producer_waiting = 0 }
        if
        :: old != 0 -> old = 0; plat_wake_producers()
        :: else -> skip
        fi
    :: else -> skip
    fi
}

/* ---- producer: shmring__mp_send (src/shmring_mp.c) over shmring__mprod_send ---------------- */

/* try_send -> shmring_send -> shmring__mp_send -> shmring__mprod_send: the claim
 * (shmring__mprod_claim_loop, shmring__mprod_room), the copy, the commit
 * (shmring__mprod_commit_at), then shmring__wake_peer(consumer_waiting). EAGAIN when the ring is
 * full (mprod_full; its peer-gone check is not modelled), or when the claim lost its CAS
 * SHMRING__MP_CAS_TRIES times in a row (allowed after any lost CAS). */
inline try_send(res)
{
    /* MX1 (relaxed): load claim; MA1 (acquire, pairs with MR12): load zeroed */
    atomic { c = claim; z = zeroed }
    do
    :: if
        :: c < z -> atomic { c = claim; z = zeroed }  /* room == 1: stale claim, MX1 again */
        :: c - z >= CAP -> c = 0; z = 0; res = EAGAIN; break  /* full */
        :: else ->
            /* MR1 (the announcement) is mpsc_ring.pml's. MR2 (release): CAS claim c -> c + 1 */
            atomic {
                z = 0;
                if
                :: claim == c -> claim = c + 1; res = OK; break
                :: else -> c = claim  /* lost: c is the current claim */
                fi
            }
            if
            :: z = zeroed  /* MA1 again, try again */
            :: c = 0; res = EAGAIN; break  /* SHMRING__MP_CAS_TRIES lost: EAGAIN */
            fi
        fi
    od;
    if
    :: res == OK ->
        assert(c - zeroed < CAP);  /* never into room the consumer has not given back */
#ifndef MUTANT_WAKE_BEFORE_COMMIT
        /* the copy, then MR5 (release): the MSG word at the record */
        atomic { committed[c] = 1; c = 0 }
        wake_consumer()
#else
        /* mutant: the flag is read (W4) before the publish (MR5): B1 and W4 moved up */
        wake_consumer();
        atomic { committed[c] = 1; c = 0 }
#endif
    :: else -> skip
    fi
}

/* shmring_send_wait -> wait_loop(r, try_send, ..., &hdr->producer_waiting, slot sleeps), with
 * shared = 1 (SHMRING__ROLE_MPROD): the sleeper never stores W2. */
proctype Producer(byte me)
{
    byte c, z, n;
    bit old, res, w;

    for (n : 1 .. NMSG) {
        try_send(res);  /* the first try */
        if
        :: res == OK -> goto sent_one
        :: else -> skip
        fi;
        try_send(res);  /* spin(): one look stands for the spin phase */
        if
        :: res == OK -> goto sent_one
        :: else -> skip
        fi;
        do
        :: /* W1 (relaxed): store producer_waiting = 1 */
            producer_waiting = 1;
            /* H1: heavy barrier (H0), pairs with B1: a no-op here (SC) */
#ifndef MUTANT_PROD_NO_RECHECK
            try_send(res);
            if
            :: res == OK ->
#ifdef MUTANT_SLEEPER_CLEARS
                producer_waiting = 0;  /* mutant: W2, as the single-producer ring's producer */
#endif
                goto sent_one
            :: else -> skip
            fi;
#endif
            /* C10: the slot's `sleeps` (statistics), not modelled */
            futex_wait(producer_waiting, psleep[me], 1, w);
#ifdef MUTANT_SLEEPER_CLEARS
            producer_waiting = 0;  /* mutant: W2 after the wait */
#endif
            try_send(res);  /* woken: look before raising the flag again */
            if
            :: res == OK -> w = 0; goto sent_one
            :: else -> skip
            fi;
            if
            :: w == W_OK ->
                try_send(res);  /* after the nap (shmring__plat_sleep_ns, a delay) */
                if
                :: res == OK -> goto sent_one
                :: else -> skip
                fi
            :: else -> w = 0
            fi
        od;
sent_one:
        res = 0
    }
}

/* ---- consumer: shmring__mp_recv (src/shmring_mp.c) over shmring__mcons_next ---------------- */

/* shmring__mcons_publish_part(c, mode) + shmring__mcons_zero_to: gives back [czeroed, to) with
 * MR12 (release, pairs with MA1) and says whether it gave anything; `all` is
 * SHMRING__MP_PUB_ALL (to = head), else _LINES / _LINES_ONLY: the whole lines behind head, any
 * `to` in [czeroed, head] here (see the header). Then, if it gave anything, the caller's
 * shmring__wake_peer(producer_waiting). */
inline publish_part(all, wake)
{
    atomic {
        to = czeroed;
        if
        :: all -> to = head
        :: else ->
            do
            :: to < head -> to++
            :: break
            od
        fi;
        if
        :: to > czeroed ->
            czeroed = to;
            zeroed = to;  /* MR12: store zeroed */
            gave = 1
        :: else -> skip
        fi;
        to = 0
    }
    if
    :: gave && wake -> gave = 0; wake_producers()
    :: else -> gave = 0
    fi
}

/* try_recv -> shmring_recv -> shmring__mp_recv: mcons_next (MA2: the word at head), then
 * shmring__mcons_advance and publish_part(SHMRING__MP_PUB_LINES) + wake; or, when nothing is
 * committed at head, mcons_empty: publish_part(idle ? _ALL : _LINES_ONLY) + wake, EAGAIN. The
 * claim load (MA3) that tells "stalled" from "empty" only picks the sleep slice and whether to
 * resolve dead claims: not modelled. */
inline try_recv(res)
{
    atomic {
        /* MA2 (acquire): load the word at head; pairs with MR5 */
        if
        :: committed[head] ->
            assert(head < claim);
            head++;  /* shmring__mcons_advance */
            res = OK
        :: else ->
            /* shmring__mcons_next: idle_pos / idle, the looks at this head after the first */
            if
            :: idle_pos != head -> idle_pos = head; idle = 0
            :: else -> idle = 1
            fi;
            res = EAGAIN
        fi
    }
    if
    :: res == OK -> publish_part(0, 1)  /* SHMRING__MP_PUB_LINES */
    :: else ->
        /* mcons_empty */
#ifndef MUTANT_NO_EMPTY_WAKE
        publish_part(idle, 1)
#else
        publish_part(idle, 0)  /* mutant: room given back without the wake-up */
#endif
    fi
}

/* shmring_recv_wait -> wait_loop(r, try_recv, ..., &hdr->consumer_waiting, consumer_sleeps),
 * shared = 0: the consumer stores W2 itself. */
proctype Consumer()
{
    byte head = 0, czeroed = 0, to, idle_pos = 255;
    bit idle, gave, old, res, w;

    do
    :: head == TOTAL -> break
    :: else ->
        try_recv(res);  /* the first try */
        if
        :: res == OK -> goto received
        :: else -> skip
        fi;
        try_recv(res);  /* spin(): one look stands for the spin phase */
        if
        :: res == OK -> goto received
        :: else -> skip
        fi;
        do
        :: /* look_claim = 1: only decides the claim load (MA3), not modelled */
            /* W1 (relaxed): store consumer_waiting = 1 */
            consumer_waiting = 1;
            /* H1: heavy barrier (H0), pairs with B1: a no-op here (SC) */
#ifndef MUTANT_NO_RECHECK
            try_recv(res);
            if
            :: res == OK ->
                consumer_waiting = 0;  /* W2 (relaxed): a hint */
                goto received
            :: else -> skip
            fi;
#endif
            /* C10: consumer_sleeps (statistics), not modelled. The slice: 40 ms, or
             * SHMRING__MP_STALL_NS (10 ms) when stalled; untimed here */
            futex_wait(consumer_waiting, csleep, 0, w);
            consumer_waiting = 0;  /* W2 */
            try_recv(res);  /* woken: look before raising the flag again */
            if
            :: res == OK -> w = 0; goto received
            :: else -> skip
            fi;
            if
            :: w == W_OK ->
                try_recv(res);  /* after the nap */
                if
                :: res == OK -> goto received
                :: else -> skip
                fi
            :: else -> w = 0
            fi
        od;
received:
        res = 0
    od;
    /* every message was delivered, once, in position order */
    assert(head == TOTAL && claim == TOTAL)
}

init
{
    atomic {
        run Producer(0);
        run Producer(1);
        run Consumer()
    }
}
