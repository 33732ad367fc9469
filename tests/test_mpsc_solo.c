/* SPDX-License-Identifier: MIT */
/* A producer alone on a multi-producer ring claims without a CAS (`solo`, docs/mpsc.md "One
 * producer alone"); these tests take that away from it, with real processes, and check that no
 * claim is ever made twice:
 *
 * - a lone producer sending without pause is joined by 40 producers one after another (every
 *   sending method); every message of every producer arrives once, in order, and the lone one
 *   is granted `solo` again each time it is alone;
 * - a lone producer killed with SIGKILL at a random moment, 60 times, and once more with its
 *   slot saying it died inside its claim: the next producer attaches at once, becomes the solo
 *   producer itself, and every committed message arrives;
 * - a holder stopped (SIGSTOP) inside its claim: a new producer's open waits until it is
 *   continued, and then both send; stopped for longer than 10 s, the open gives up with
 *   -EBUSY and leaves no trace.
 *
 * Without membarrier (SHMRING_NO_MEMBARRIER=1) nobody is granted `solo`: the first test checks
 * that, the others still run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include "t_cmocka.h"

#include "test_mpsc.h"

/* The ring's `solo` word, read through the consumer's handle. */
static uint32_t solo_of(shmring *c)
{
    return atomic_load_explicit(&c->side.mcons.v.ext->solo, memory_order_relaxed);
}

/* The CLAIMED tag of whoever holds slot k now (what `solo` holds when it is granted to it). */
static uint32_t tag_of_slot(shmring *c, uint32_t k)
{
    uint32_t epoch = atomic_load_explicit(&c->side.mcons.v.slots[k].epoch, memory_order_relaxed);
    return SHMRING__REC_CLAIMED | k << 16 | (epoch & 0xffffu);
}

/* Does this machine grant `solo` at all (membarrier, and SHMRING_MP_SOLO not 0)? The producers
 * are children of this process with its environment, so they answer the same. */
static int solo_expected(void)
{
    const char *want = getenv("SHMRING_MP_SOLO");
    return !shmring__plat_light_is_fence && !(want != NULL && want[0] == '0');
}

/* A 16 KiB multi-producer ring with 4 slots, opened as its consumer, for a test that needs
 * `solo` granted (skipped where it never is). */
static shmring *solo_test_ring(const char *tag, struct tl_name *n)
{
    if (!solo_expected()) {
        skip();
    }
    *n = tl_name(tag);
    struct shmring_opts o = {
        .size = 16384, .flags = SHMRING_CREATE | SHMRING_MULTI_PRODUCER, .max_producers = 4};
    shmring *c = NULL;
    assert_int_equal(shmring_open(n->s, SHMRING_CONSUMER, &o, &c), 0);
    return c;
}

/* Receives until pred(c) or timeout; every message is checked. Returns pred's last answer. */
static int consume_until(shmring *c, struct tm_check *chk, int (*pred)(void *), void *ctx,
                         int64_t timeout_ms, int *eof)
{
    unsigned char buf[TM_MAX_LEN];
    int64_t end = tl_now_ns() + timeout_ms * 1000000;
    while (!pred(ctx) && tl_now_ns() < end) {
        shmring_ssize len = shmring_recv_wait(c, buf, sizeof buf, 2 * 1000000LL);
        if (len == -EPIPE) {
            *eof = 1;
            return pred(ctx);
        }
        if (len == -ETIMEDOUT) {
            continue;
        }
        assert_true(len >= 0);
        assert_int_equal(tm_check(chk, buf, (size_t)len), 0);
    }
    return pred(ctx);
}

struct exited {
    pid_t pid;
    int status;
    int done;
};

static int has_exited(void *p)
{
    struct exited *e = p;
    if (!e->done) {
        e->done = waitpid(e->pid, &e->status, WNOHANG) == e->pid;
    }
    return e->done;
}

struct solo_is {
    shmring *c;
    uint32_t tag;
};

static int solo_is(void *p)
{
    struct solo_is *s = p;
    return solo_of(s->c) == s->tag;
}

struct stream_done {
    const struct tm_check *chk;
    unsigned id;
    uint64_t count;
};

static int stream_done(void *p)
{
    const struct stream_done *d = p;
    return d->chk->next[d->id] >= d->count;
}

static int never(void *p)
{
    (void)p;
    return 0;
}

static void test_joiners_take_solo_away(void **state)
{
    (void)state;
    struct tl_name n = tl_name("mpsolo");
    struct shmring_opts o = {
        .size = 16384, .flags = SHMRING_CREATE | SHMRING_MULTI_PRODUCER, .max_producers = 4};
    shmring *c;
    assert_int_equal(shmring_open(n.s, SHMRING_CONSUMER, &o, &c), 0);
    struct tm_check *chk = calloc(1, sizeof *chk);
    assert_non_null(chk);
    struct tm_shared *sh = tl_shared(sizeof *sh);
    const unsigned joiners = 40;
    const uint64_t per_joiner = 3000;
    /* The lone producer (id 0: send_wait without pause), in slot 0. */
    struct tm_prod_args a = {n, 0, 0, sh, 0};
    pid_t lone = t_spawn(tm_producer_main, &a);
    assert_true(tl_await(&sh->ready[0], 10000));
    int eof = 0;
    struct solo_is lone_solo = {c, tag_of_slot(c, 0)};
    if (!solo_expected()) {
        consume_until(c, chk, never, NULL, 200, &eof);
        assert_int_equal(solo_of(c), 0);
    }
    unsigned regranted = 0;
    for (unsigned j = 1; j <= joiners; j++) {
        if (solo_expected()) {
            /* Alone again: granted within 1024 claims of its own. */
            assert_true(consume_until(c, chk, solo_is, &lone_solo, 10000, &eof));
            regranted++;
        }
        struct tm_prod_args b = {n, j, per_joiner, sh, 0};
        struct exited e = {t_spawn(tm_producer_main, &b), 0, 0};
        assert_true(consume_until(c, chk, has_exited, &e, 60000, &eof));
        assert_true(WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0);
        assert_false(eof);
    }
    atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
    assert_true(consume_until(c, chk, never, NULL, 60000, &eof) == 0 && eof);
    assert_int_equal(t_wait(lone), 0);
    assert_int_equal(chk->next[0], atomic_load(&sh->committed[0]));
    for (unsigned j = 1; j <= joiners; j++) {
        assert_int_equal(chk->next[j], per_joiner);
    }
    printf("# 1 lone producer (%llu messages) joined by %u producers x %llu; granted solo again "
           "%u times\n",
           (unsigned long long)chk->next[0], joiners, (unsigned long long)per_joiner, regranted);
    free(chk);
    tl_unshare(sh, sizeof *sh);
    shmring_close(c);
}

/* The consumer's state right after each kill, printed with every stream's counts when one comes
 * up short: the one loss seen so far (docs/mpsc.md, "One producer alone") left nothing but its
 * summary line to go on. */
struct kill_mark {
    uint64_t head, claim, zeroed, delivered, dead_claims, dead_bytes;
    uint32_t solo;
};

static void report_short_stream(shmring *c, const struct tm_check *chk, const struct tm_shared *sh,
                                const struct kill_mark *marks, unsigned ids)
{
    const struct shmring__mcons *m = &c->side.mcons;
    fprintf(stderr, "# now: head %llu claim %llu zeroed %llu dead claims %llu (%llu bytes)\n",
            (unsigned long long)m->head, (unsigned long long)atomic_load(&m->v.ext->claim),
            (unsigned long long)m->zeroed, (unsigned long long)m->dead_claims,
            (unsigned long long)m->dead_bytes);
    fprintf(stderr, "# id committed delivered | after its kill: head claim zeroed delivered "
                    "dead_claims dead_bytes solo\n");
    for (unsigned i = 0; i < ids; i++) {
        const struct kill_mark *k = &marks[i];
        fprintf(stderr, "# %u %llu %llu | %llu %llu %llu %llu %llu %llu %08x\n", i,
                (unsigned long long)atomic_load(&sh->committed[i]),
                (unsigned long long)chk->next[i], (unsigned long long)k->head,
                (unsigned long long)k->claim, (unsigned long long)k->zeroed,
                (unsigned long long)k->delivered, (unsigned long long)k->dead_claims,
                (unsigned long long)k->dead_bytes, k->solo);
    }
}

/* Lone producers killed one after another (SHMRING_SOLO_KILL_ROUNDS, default 60), each while
 * sending by the method its id picks; with `solo` granted (want_solo) or with the CAS, the
 * same sequence as a control. */
static void killed_lone_producers(const char *tag, int want_solo)
{
    const char *caller = getenv("SHMRING_MP_SOLO");
    char *saved = caller != NULL ? strdup(caller) : NULL;
    setenv("SHMRING_MP_SOLO", want_solo ? "1" : "0", 1); /* the children inherit it */
    const char *e = getenv("SHMRING_SOLO_KILL_ROUNDS");
    const int rounds = e != NULL && atoi(e) > 0 && atoi(e) < TM_MAX_IDS ? atoi(e) : 60;
    tl_subreaper();
    struct tl_name n = tl_name(tag);
    struct shmring_opts o = {
        .size = 16384, .flags = SHMRING_CREATE | SHMRING_MULTI_PRODUCER, .max_producers = 2};
    shmring *c;
    assert_int_equal(shmring_open(n.s, SHMRING_CONSUMER, &o, &c), 0);
    struct tm_check *chk = calloc(1, sizeof *chk);
    struct kill_mark *marks = calloc(TM_MAX_IDS, sizeof *marks);
    if (chk == NULL || marks == NULL) {
        fail_msg("out of memory");
        return; /* cmocka's fail_msg is not marked noreturn: say so to the analyzer */
    }
    struct tm_shared *sh = tl_shared(sizeof *sh);
    uint64_t rng = (uint64_t)getpid() * 2654435761u + 7;
    int eof = 0;
    unsigned id = 0;
    struct tm_prod_args a = {n, id, 0, sh, 0};
    pid_t pid = t_spawn(tm_producer_main, &a);
    for (int round = 0; round <= rounds; round++) {
        assert_true(tl_await(&sh->ready[id], 10000)); /* opened at once after the death */
        if (solo_expected()) {
            /* Alone, though the dead predecessors stay counted: granted at its open. */
            uint32_t k = (solo_of(c) >> 16) & 0x3ff;
            assert_true(solo_of(c) != 0 && k < 2);
            assert_int_equal(solo_of(c), tag_of_slot(c, k));
            assert_int_equal(atomic_load(&c->side.mcons.v.slots[k].pid), pid);
        } else {
            assert_int_equal(solo_of(c), 0);
        }
        if (round == rounds) {
            break;
        }
        consume_until(c, chk, never, NULL, 1 + (int64_t)(t_rand(&rng) % 8), &eof);
        assert_int_equal(tl_kill(pid), 128 + SIGKILL);
        const struct shmring__mcons *m = &c->side.mcons;
        marks[id] = (struct kill_mark){m->head,        atomic_load(&m->v.ext->claim),
                                       m->zeroed,      chk->total,
                                       m->dead_claims, m->dead_bytes,
                                       solo_of(c)};
        if (round == rounds - 1 && solo_of(c) != 0) {
            /* As if it had died between reading and advancing `claim`. */
            uint32_t k = (solo_of(c) >> 16) & 0x3ff;
            atomic_store(&c->side.mcons.v.slots[k].in_claim, 1);
        }
        a = (struct tm_prod_args){n, ++id, 0, sh, 0};
        pid = t_spawn(tm_producer_main, &a);
    }
    atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
    assert_true(consume_until(c, chk, never, NULL, 60000, &eof) == 0 && eof);
    assert_int_equal(t_wait(pid), 0);
    for (unsigned i = 0; i <= id; i++) {
        uint64_t committed = atomic_load(&sh->committed[i]);
        if (chk->next[i] < committed || (i == id && chk->next[i] != committed)) {
            report_short_stream(c, chk, sh, marks, id + 1);
            fail_msg("producer %u: %llu delivered, %llu committed", i,
                     (unsigned long long)chk->next[i], (unsigned long long)committed);
        }
    }
    printf("# %d lone producers killed (%s), %llu messages delivered, %llu dead claims skipped\n",
           rounds, want_solo ? "solo" : "CAS", (unsigned long long)chk->total,
           (unsigned long long)c->side.mcons.dead_claims);
    tl_reap_all();
    free(marks);
    free(chk);
    tl_unshare(sh, sizeof *sh);
    shmring_close(c);
    if (saved != NULL) { /* the caller's choice again, for the tests after this one */
        setenv("SHMRING_MP_SOLO", saved, 1);
        free(saved);
    } else {
        unsetenv("SHMRING_MP_SOLO");
    }
}

static void test_killed_holder(void **state)
{
    (void)state;
    killed_lone_producers("mpsolok", 1);
}

/* Two producers, then one of them killed. The dead one stays counted in `mp_producers` until a
 * new producer takes its slot, so the count alone kept the survivor on the CAS for good (it
 * was not granted `solo` again in 10 s). Now the survivor asks the kernel about the other slots
 * (at most every 100 ms) and is granted `solo` again. */
static void test_survivor_regains_solo(void **state)
{
    (void)state;
    struct tl_name n;
    shmring *c = solo_test_ring("mpsolosv", &n);
    struct tm_check *chk = calloc(1, sizeof *chk);
    assert_non_null(chk);
    struct tm_shared *sh = tl_shared(sizeof *sh);
    int eof = 0;
    struct tm_prod_args a = {n, 0, 0, sh, 0};
    pid_t survivor = t_spawn(tm_producer_main, &a); /* slot 0, the first free one */
    assert_true(tl_await(&sh->ready[0], 10000));
    struct tm_prod_args b = {n, 1, 0, sh, 0};
    pid_t victim = t_spawn(tm_producer_main, &b);
    assert_true(tl_await(&sh->ready[1], 10000));
    struct stream_done both = {chk, 1, 1000};
    assert_true(consume_until(c, chk, stream_done, &both, 10000, &eof)); /* both are sending */
    assert_true(chk->next[0] > 0);
    assert_int_equal(tl_kill(victim), 128 + SIGKILL);
    const int64_t t0 = tl_now_ns();
    struct solo_is regained = {c, tag_of_slot(c, 0)};
    assert_true(consume_until(c, chk, solo_is, &regained, 10000, &eof));
    const int64_t ms = (tl_now_ns() - t0) / 1000000;
    /* MX11's count still has the dead one: the grant came from the kernel's answer. */
    assert_int_equal(atomic_load(&c->hdr->mp_producers), 2);
    atomic_store_explicit(&sh->stop, 1, memory_order_relaxed);
    assert_true(consume_until(c, chk, never, NULL, 60000, &eof) == 0 && eof);
    assert_int_equal(t_wait(survivor), 0);
    assert_int_equal(chk->next[0], atomic_load(&sh->committed[0]));
    assert_true(chk->next[1] >= atomic_load(&sh->committed[1])); /* every committed one */
    printf("# the survivor was granted solo again %lld ms after the other producer's kill "
           "(%llu and %llu messages)\n",
           (long long)ms, (unsigned long long)chk->next[0], (unsigned long long)chk->next[1]);
    free(chk);
    tl_unshare(sh, sizeof *sh);
    shmring_close(c);
}

/* The same kills with every claim a CAS: if a stream ever comes up short here too, `solo` is
 * not the cause. */
static void test_killed_lone_producer_cas(void **state)
{
    (void)state;
    killed_lone_producers("mpsolokc", 0);
}

/* A lone producer (id: which sending method) granted `solo`, then stopped (SIGSTOP) with its
 * slot saying it is inside its claim, on a ring of its own with 4 slots. */
struct stopped {
    struct tl_name n;
    shmring *c;
    struct tm_check *chk;
    struct tm_shared *sh;
    unsigned id;
    pid_t holder;
    int eof;
};

static void stopped_setup(struct stopped *f, const char *tag, unsigned id)
{
    f->n = tl_name(tag);
    struct shmring_opts o = {
        .size = 16384, .flags = SHMRING_CREATE | SHMRING_MULTI_PRODUCER, .max_producers = 4};
    assert_int_equal(shmring_open(f->n.s, SHMRING_CONSUMER, &o, &f->c), 0);
    f->chk = calloc(1, sizeof *f->chk);
    assert_non_null(f->chk);
    f->sh = tl_shared(sizeof *f->sh);
    f->id = id;
    f->eof = 0;
    struct tm_prod_args a = {f->n, id, 0, f->sh, 0};
    f->holder = t_spawn(tm_producer_main, &a);
    assert_true(tl_await(&f->sh->ready[id], 10000));
    struct solo_is lone_solo = {f->c, tag_of_slot(f->c, 0)};
    assert_true(consume_until(f->c, f->chk, solo_is, &lone_solo, 10000, &f->eof));
    assert_int_equal(kill(f->holder, SIGSTOP), 0);
    int status;
    assert_int_equal(waitpid(f->holder, &status, WUNTRACED), f->holder);
    atomic_store(&f->c->side.mcons.v.slots[0].in_claim, 1); /* as if stopped inside its claim */
}

/* Stops the (continued) holder, drains the ring to the end and checks the holder's stream. */
static void stopped_finish(struct stopped *f)
{
    atomic_store_explicit(&f->sh->stop, 1, memory_order_relaxed);
    assert_true(consume_until(f->c, f->chk, never, NULL, 60000, &f->eof) == 0 && f->eof);
    assert_int_equal(t_wait(f->holder), 0);
    assert_int_equal(f->chk->next[f->id], atomic_load(&f->sh->committed[f->id]));
    free(f->chk);
    tl_unshare(f->sh, sizeof *f->sh);
    shmring_close(f->c);
}

static void test_stopped_holder_is_waited_for(void **state)
{
    (void)state;
    if (!solo_expected()) {
        skip();
    }
    struct stopped f;
    stopped_setup(&f, "mpsolos", 0);
    struct tm_prod_args b = {f.n, 1, 1000, f.sh, 0};
    int64_t t0 = tl_now_ns();
    pid_t joiner = t_spawn(tm_producer_main, &b);
    consume_until(f.c, f.chk, never, NULL, 500, &f.eof);
    assert_int_equal(atomic_load(&f.sh->ready[1]), 0); /* still waiting in its open */
    assert_int_equal(kill(f.holder, SIGCONT), 0);
    assert_true(tl_await(&f.sh->ready[1], 10000));
    int64_t waited_ms = (tl_now_ns() - t0) / 1000000;
    struct exited e = {joiner, 0, 0};
    assert_true(consume_until(f.c, f.chk, has_exited, &e, 60000, &f.eof));
    assert_true(WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0);
    /* What the joiner sent last may still be in the ring when it has exited. */
    int64_t t_exit = tl_now_ns();
    struct stream_done d = {f.chk, 1, 1000};
    assert_true(consume_until(f.c, f.chk, stream_done, &d, 10000, &f.eof));
    assert_int_equal(f.chk->next[1], 1000);
    int64_t rest_ms = (tl_now_ns() - t_exit) / 1000000;
    stopped_finish(&f);
    printf("# the joiner's open waited %lld ms for the stopped holder; its last messages "
           "arrived %lld ms after its exit\n",
           (long long)waited_ms, (long long)rest_ms);
}

/* A holder that stays inside its claim for more than 10 s (stopped there): the open gives up
 * with -EBUSY and leaves nothing behind (slot closed, count back); the holder goes on. */
static void test_stopped_holder_too_long(void **state)
{
    (void)state;
    if (!solo_expected()) {
        skip();
    }
    /* Id 3: plain sends retried without a deadline (a send_wait asleep on the full ring when
     * stopped would time out during the 10 s). */
    struct stopped f;
    stopped_setup(&f, "mpsolol", 3);
    shmring *late;
    int64_t t0 = tl_now_ns();
    assert_int_equal(shmring_open(f.n.s, SHMRING_PRODUCER, NULL, &late), -EBUSY);
    int64_t waited_ms = (tl_now_ns() - t0) / 1000000;
    assert_true(waited_ms >= 10000);
    assert_int_equal(atomic_load(&f.c->hdr->mp_producers), 1);
    for (uint32_t k = 1; k < 4; k++) {
        assert_int_not_equal(atomic_load(&f.c->side.mcons.v.slots[k].state),
                             SHMRING__PEER_ATTACHED);
    }
    struct shmring_stats st;
    assert_int_equal(shmring_stats(f.c, &st), 0);
    assert_int_equal(st.producers, 1);
    assert_int_equal(kill(f.holder, SIGCONT), 0);
    consume_until(f.c, f.chk, never, NULL, 100, &f.eof);
    stopped_finish(&f);
    printf("# the open gave up after %lld ms\n", (long long)waited_ms);
}

/* ---- two newcomers while the holder is inside its claim ----------------------------------- */

struct two_revokers {
    struct tl_name n;
    struct tm_shared *sh; /* ready[0]: holder inside its claim; ready[1]: holder done;
                           * ready[2]: newcomer 2 has sent; ready[9]: the holder may go on */
};

/* The solo holder (id 0), held between reading `claim` and storing it: the steps of
 * shmring__mprod_claim_loop(solo = 1) with a pause after MX1, then one message committed. */
static int paused_holder_main(void *v)
{
    struct two_revokers *a = v;
    shmring *r;
    TL_CHECK_RC(shmring_open(a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    struct shmring__mprod *p = &r->side.mprod;
    TL_CHECK(p->solo == 1);
    TL_CHECK(shmring__mprod_solo_enter(p) == 1);
    uint64_t c = atomic_load_explicit(&p->v.ext->claim, memory_order_relaxed);
    atomic_store_explicit(&a->sh->ready[0], 1, memory_order_release);
    TL_CHECK(tl_await(&a->sh->ready[9], 20000)); /* bounded: a failed test leaves no process */
    const size_t len = tm_len(0, 0);
    const uint64_t need = shmring__rec_size(len);
    TL_CHECK(c == p->last_pos); /* its own last claim: no gap */
    const uint64_t idx = p->last_idx;
    atomic_store_explicit(&p->me->pend_size, need, memory_order_release);
    atomic_store_explicit(&p->me->pend_pos, c, memory_order_release);
    atomic_store_explicit(&p->v.ext->claim, c + need, memory_order_release);
    atomic_store_explicit(shmring__mp_word(p->v.data, idx),
                          shmring__mp_rec_word(need, p->claimed_tag), memory_order_relaxed);
    p->last_pos = c + need;
    p->last_idx = idx + need;
    shmring__mprod_solo_exit(p);
    unsigned char buf[TM_MAX_LEN];
    t_msg_fill(buf, len, tm_seq(0, 0));
    shmring__copy(p->v.data + idx + SHMRING__REC_HDR, buf, len);
    shmring__mprod_commit_at(p, idx, len);
    atomic_store_explicit(&a->sh->ready[1], 1, memory_order_release);
    TL_CHECK(tl_await(&a->sh->stop, 20000));
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

/* Newcomers 1 and 2: open (waiting for the holder, if they do), send `count` messages. */
struct newcomer {
    struct two_revokers *a;
    unsigned id;
    uint64_t count;
};

static int newcomer_main(void *v)
{
    struct newcomer *m = v;
    shmring *r;
    TL_CHECK_RC(shmring_open(m->a->n.s, SHMRING_PRODUCER, NULL, &r), 0);
    unsigned char buf[TM_MAX_LEN];
    for (uint64_t i = 0; i < m->count; i++) {
        const size_t len = tm_len(m->id, i);
        t_msg_fill(buf, len, tm_seq(m->id, i));
        TL_CHECK_RC(shmring_send(r, buf, len), 0);
    }
    atomic_store_explicit(&m->a->sh->ready[m->id], 1, memory_order_release);
    TL_CHECK(tl_await(&m->a->sh->stop, 20000));
    TL_CHECK_RC(shmring_close(r), 0);
    return 0;
}

/* The holder is inside its claim (it has read `claim`, not stored it); newcomer 1 revokes
 * `solo` and waits for it; newcomer 2 then finds `solo` already 0. It must wait too: it used
 * to go straight to its CAS, and the holder's plain store of `claim` then overwrote its first
 * record and moved `claim` back (10 of 11 messages, then -EPROTO). A review helper found it. */
static void test_second_revoker_waits(void **state)
{
    (void)state;
    struct tl_name n;
    shmring *c = solo_test_ring("mpsolo2", &n);
    struct tm_shared *sh = tl_shared(sizeof *sh);
    struct two_revokers a = {n, sh};
    pid_t holder = t_spawn(paused_holder_main, &a);
    assert_true(tl_await(&sh->ready[0], 5000));
    struct newcomer m1 = {&a, 1, 0}, m2 = {&a, 2, 10};
    pid_t first = t_spawn(newcomer_main, &m1);
    /* Until newcomer 1 has cleared `solo` (it then waits for the holder). */
    int64_t t0 = tl_now_ns();
    while (solo_of(c) != 0 && tl_now_ns() - t0 < 5000 * 1000000LL) {
        usleep(500);
    }
    assert_int_equal(solo_of(c), 0);
    pid_t second = t_spawn(newcomer_main, &m2);
    /* Newcomer 2 may not get through while the holder is inside its claim (it took 0.1 ms
     * before the fix; 300 ms is ample). */
    assert_false(tl_await(&sh->ready[2], 300));
    assert_int_equal(atomic_load(&sh->ready[1]), 0);
    atomic_store_explicit(&sh->ready[9], 1, memory_order_release); /* the holder goes on */
    assert_true(tl_await(&sh->ready[1], 5000));
    assert_true(tl_await(&sh->ready[2], 5000));
    atomic_store_explicit(&sh->stop, 1, memory_order_release);
    assert_int_equal(t_wait(holder), 0);
    assert_int_equal(t_wait(first), 0);
    assert_int_equal(t_wait(second), 0);
    struct tm_check *chk = calloc(1, sizeof *chk);
    assert_non_null(chk);
    unsigned char buf[TM_MAX_LEN];
    shmring_ssize len;
    while ((len = shmring_recv_wait(c, buf, sizeof buf, 100 * 1000000LL)) >= 0) {
        assert_int_equal(tm_check(chk, buf, (size_t)len), 0);
    }
    assert_int_equal(len, -EPIPE);
    assert_int_equal(chk->next[0], 1);
    assert_int_equal(chk->next[2], 10);
    assert_int_equal(chk->total, 11);
    free(chk);
    tl_unshare(sh, sizeof *sh);
    shmring_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_joiners_take_solo_away),
        cmocka_unit_test(test_killed_holder),
        cmocka_unit_test(test_killed_lone_producer_cas),
        cmocka_unit_test(test_survivor_regains_solo),
        cmocka_unit_test(test_stopped_holder_is_waited_for),
        cmocka_unit_test(test_stopped_holder_too_long),
        cmocka_unit_test(test_second_revoker_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
