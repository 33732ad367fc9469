/* SPDX-License-Identifier: MIT */
/* The data calls on real shared memory: buffer and call-order errors, peek/release,
 * reserve/commit, batches and drain (each publishing once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "ring.h"
#include "shmring.h"
#include "shmring_compat.h"
#include "testutil.h"
#include "test_open_util.h"

/* ---- call-order and buffer errors ---------------------------------------------------------- */

static void test_recv_small_buffer(void **state)
{
    (void)state;
    const char *name = t_name("small");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    send_seq(p, 100, 1);
    send_seq(p, 0, 2);
    uint8_t buf[128];
    assert_int_equal(shmring_recv(c, buf, 99), SHMRING_EMSGSIZE);
    assert_int_equal(shmring_recv(c, buf, 0), SHMRING_EMSGSIZE);
    assert_int_equal(shmring_recv(c, NULL, 10), SHMRING_EINVAL);
    const void *msg = NULL;
    assert_int_equal(shmring_peek(c, &msg), 100); /* still the first message */
    assert_true(t_msg_check(msg, 100, 1));
    assert_int_equal(shmring_release(c), 0);
    /* A zero-length message fits a zero-capacity (even NULL) buffer. */
    assert_int_equal(shmring_recv(c, NULL, 0), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN);
    /* A failed recv did not count as received. */
    struct shmring_stats s;
    assert_int_equal(shmring_stats(c, &s), 0);
    assert_int_equal(s.recv_msgs, 2);
    assert_int_equal(s.recv_bytes, 100);
    shmring_close(c);
    shmring_close(p);
}

static void test_peek_release(void **state)
{
    (void)state;
    const char *name = t_name("peek");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    const void *a = NULL, *b = NULL;
    assert_int_equal(shmring_peek(c, &a), SHMRING_EAGAIN);
    assert_int_equal(shmring_release(c), SHMRING_EINVAL); /* nothing peeked */
    assert_int_equal(shmring_peek(c, NULL), SHMRING_EINVAL);
    send_seq(p, 30, 1);
    send_seq(p, 40, 2);
    assert_int_equal(shmring_peek(c, &a), 30);
    assert_int_equal(shmring_peek(c, &b), 30);
    assert_ptr_equal(a, b);
    assert_true(t_msg_check(b, 30, 1));
    uint8_t buf[64];
    /* a peeked one is pending */
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EINVAL);
    assert_int_equal(shmring_drain(c, nop_handler, NULL, 0), SHMRING_EINVAL);
    assert_int_equal(shmring_peek(c, &b), 30); /* ... and still the same one */
    assert_int_equal(shmring_release(c), 0);
    assert_int_equal(shmring_release(c), SHMRING_EINVAL);
    assert_int_equal(shmring_peek(c, &a), 40);
    assert_true(t_msg_check(a, 40, 2));
    assert_int_equal(shmring_release(c), 0);
    assert_int_equal(shmring_peek(c, &a), SHMRING_EAGAIN);
    shmring_close(c);
    shmring_close(p);
}

static void test_reserve_commit_errors(void **state)
{
    (void)state;
    const char *name = t_name("resv");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    void *slot = NULL, *slot2 = NULL;
    uint8_t buf[64] = {0};
    struct shmring_buf iov = {buf, 8};
    assert_int_equal(shmring_commit(p, 0), SHMRING_EINVAL); /* nothing reserved */
    assert_int_equal(shmring_abort(p), SHMRING_EINVAL);
    assert_int_equal(shmring_reserve(p, 8, NULL), SHMRING_EINVAL);
    assert_int_equal(shmring_reserve(p, shmring_max_msg(p) + 1, &slot), SHMRING_EMSGSIZE);
    /* the failed reserve left nothing open */
    assert_int_equal(shmring_commit(p, 0), SHMRING_EINVAL);

    assert_int_equal(shmring_reserve(p, 32, &slot), 0);
    assert_true(((uintptr_t)slot % 8) == 0);
    assert_int_equal(shmring_reserve(p, 8, &slot2), SHMRING_EINVAL); /* one at a time */
    assert_int_equal(shmring_send(p, buf, 8), SHMRING_EINVAL);
    assert_int_equal(shmring_send_batch(p, &iov, 1), SHMRING_EINVAL);
    assert_int_equal(shmring_commit(p, 33), SHMRING_EINVAL); /* longer than reserved */
    t_msg_fill(slot, 20, 5);
    assert_int_equal(shmring_commit(p, 20), 0); /* still open after the refused commit */
    assert_int_equal(shmring_commit(p, 20), SHMRING_EINVAL);

    assert_int_equal(shmring_reserve(p, 16, &slot), 0);
    memset(slot, 0xCC, 16);
    assert_int_equal(shmring_abort(p), 0);
    assert_int_equal(shmring_abort(p), SHMRING_EINVAL);
    send_seq(p, 12, 6);
    assert_int_equal(shmring_send(p, NULL, 1), SHMRING_EINVAL);
    assert_int_equal(shmring_send(p, NULL, 0), 0);

    recv_seq(c, 20, 5);
    recv_seq(c, 12, 6); /* the aborted reservation left no trace */
    assert_int_equal(shmring_recv(c, buf, sizeof buf), 0);
    assert_int_equal(shmring_recv(c, buf, sizeof buf), SHMRING_EAGAIN);
    shmring_close(c);
    shmring_close(p);
}

/* ---- batches --------------------------------------------------------------------------------- */

static void test_send_batch(void **state)
{
    (void)state;
    const char *name = t_name("batch");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    const size_t max = shmring_max_msg(p);
    static uint8_t m[8][2048];
    struct shmring_buf iov[8];
    for (int i = 0; i < 8; i++) {
        iov[i].base = m[i];
        iov[i].len = 10 * (size_t)i;
        t_msg_fill(m[i], iov[i].len, (uint64_t)i);
    }
    assert_int_equal(shmring_send_batch(p, iov, 0), 0);
    assert_int_equal(shmring_send_batch(p, NULL, 0), 0);
    assert_int_equal(shmring_send_batch(p, NULL, 1), SHMRING_EINVAL);
    assert_int_equal(shmring_send_batch(p, iov, 5), 5);
    for (int i = 0; i < 5; i++) {
        recv_seq(c, 10 * (size_t)i, (uint64_t)i);
    }
    assert_int_equal(shmring_recv(c, NULL, 0), SHMRING_EAGAIN);

    /* An oversized first message is an error; a later one ends the batch before it. */
    iov[0].len = max + 1;
    assert_int_equal(shmring_send_batch(p, iov, 3), SHMRING_EMSGSIZE);
    iov[0].len = 0;
    iov[2].len = max + 1;
    assert_int_equal(shmring_send_batch(p, iov, 4), 2);
    recv_seq(c, 0, 0);
    recv_seq(c, 10, 1);
    /* nothing after the oversized one */
    assert_int_equal(shmring_recv(c, NULL, 0), SHMRING_EAGAIN);
    iov[2].len = 20;

    /* A NULL buffer: an error first, the end of the batch later. */
    iov[1].base = NULL;
    assert_int_equal(shmring_send_batch(p, iov + 1, 2), SHMRING_EINVAL);
    assert_int_equal(shmring_send_batch(p, iov, 3), 1);
    recv_seq(c, 0, 0);
    iov[1].base = m[1];
    /* A NULL buffer of length 0 is a valid empty message. */
    iov[1].base = NULL;
    iov[1].len = 0;
    assert_int_equal(shmring_send_batch(p, iov + 1, 2), 2);
    recv_seq(c, 0, 1);
    recv_seq(c, 20, 2);
    iov[1].base = m[1];

    /* Only part fits: as many as fit, in order; then 0 (not -EAGAIN) while full. */
    for (int i = 0; i < 8; i++) {
        iov[i].len = 1000; /* 1008-byte records: 3 fit in 3584 */
        t_msg_fill(m[i], 1000, 100 + (uint64_t)i);
    }
    assert_int_equal(shmring_send_batch(p, iov, 5), 3);
    assert_int_equal(shmring_send_batch(p, iov + 3, 5), 0);
    recv_seq(c, 1000, 100);
    assert_int_equal(shmring_send_batch(p, iov + 3, 5), 1);
    recv_seq(c, 1000, 101);
    recv_seq(c, 1000, 102);
    recv_seq(c, 1000, 103);
    assert_int_equal(shmring_recv(c, NULL, 0), SHMRING_EAGAIN);

    /* With the consumer gone and the ring full: -EPIPE. */
    assert_int_equal(shmring_send_batch(p, iov, 5), 3);
    shmring_close(c);
    assert_int_equal(shmring_send_batch(p, iov, 5), SHMRING_EPIPE);
    shmring_close(p);
}

struct drain_ctx {
    uint64_t next_seq;
    size_t len;
    int stop_at; /* return non-zero from the call with this index (-1: never) */
    int calls;
    int bad;
    struct shmring__hdr *h; /* second mapping: the shared head must not move during a drain */
    uint64_t head0;
};

static int check_handler(void *ctx, const void *msg, size_t len)
{
    struct drain_ctx *d = ctx;
    if (len != d->len || !t_msg_check(msg, len, d->next_seq)) {
        d->bad++;
    }
    if (d->h != NULL && atomic_load(&d->h->head) != d->head0) {
        d->bad++;
    }
    d->next_seq++;
    return d->calls++ == d->stop_at;
}

static void test_drain(void **state)
{
    (void)state;
    const char *name = t_name("drain");
    shmring *p = open_ok(name, SHMRING_PRODUCER, NULL);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    struct drain_ctx d = {0, 100, -1, 0, 0, NULL, 0};
    assert_int_equal(shmring_drain(c, NULL, NULL, 0), SHMRING_EINVAL);
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 0); /* empty: 0, not -EAGAIN */
    assert_int_equal(d.calls, 0);
    for (uint64_t i = 0; i < 25; i++) {
        send_seq(p, 100, i); /* 112-byte records: all 25 fit */
    }
    assert_int_equal(shmring_drain(c, check_handler, &d, 3), 3); /* max respected */
    assert_int_equal(d.calls, 3);
    d.stop_at = 4; /* the 2nd call of this drain (calls 3, 4) asks to stop */
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 2);
    assert_int_equal(d.next_seq, 5);
    recv_seq(c, 100, 5); /* the stopping message was consumed; order continues */
    d.next_seq = 6;
    d.stop_at = -1;
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 19);
    assert_int_equal(d.next_seq, 25);
    assert_int_equal(d.bad, 0);
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 0);

    /* Across the wrap (with padding), many laps: order kept, nothing lost. */
    uint64_t seq = 25;
    d.next_seq = 25;
    d.len = 700; /* 712-byte records: padding every lap */
    for (int lap = 0; lap < 50; lap++) {
        for (int i = 0; i < 4; i++) {
            send_seq(p, 700, seq++);
        }
        assert_int_equal(shmring_drain(c, check_handler, &d, 0), 4);
    }
    assert_int_equal(d.next_seq, seq);
    assert_int_equal(d.bad, 0);

    /* The producer gone and nothing left: -EPIPE (after what was left). */
    send_seq(p, 700, seq);
    shmring_close(p);
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 1);
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), SHMRING_EPIPE);
    assert_int_equal(d.bad, 0);
    shmring_close(c);
}

/* send_batch and drain publish once per batch: while a batch is in progress the shared index
 * that the peer reads does not move.
 *
 * send_batch: message k's bytes live on page k, and pages 1.. are PROT_NONE. When send_batch
 * copies message k it faults; the SIGSEGV handler records the shared tail (read through an
 * independent mapping), makes the page readable and returns, and the copy resumes. (Windows: the
 * pages are PAGE_NOACCESS and a vectored exception handler does the same.) So the
 * handler observes the tail in the middle of the batch, after messages 0..k-1 were committed.
 * drain: the handler reads the shared head on every call. */
static struct {
    uint8_t *pages;
    size_t page;
    int npages;
    struct shmring__hdr *h;
    uint64_t seen_tail[16];
    int faults;
} hook;

/* 1 when the fault at a was one of ours (the page is readable now). */
static int hook_fault(uint8_t *a)
{
    if (a < hook.pages || a >= hook.pages + hook.npages * hook.page || hook.faults >= 16) {
        return 0;
    }
    hook.seen_tail[hook.faults++] = atomic_load_explicit(&hook.h->tail, memory_order_acquire);
    uint8_t *pg = hook.pages + ((size_t)(a - hook.pages) / hook.page) * hook.page;
#ifdef _WIN32
    DWORD old;
    VirtualProtect(pg, hook.page, PAGE_READONLY, &old);
#else
    mprotect(pg, hook.page, PROT_READ);
#endif
    return 1;
}

#ifdef _WIN32
static LONG CALLBACK on_access_violation(EXCEPTION_POINTERS *ep)
{
    const EXCEPTION_RECORD *er = ep->ExceptionRecord;
    if (er->ExceptionCode == EXCEPTION_ACCESS_VIOLATION && er->NumberParameters >= 2 &&
        hook_fault((uint8_t *)er->ExceptionInformation[1])) {
        return EXCEPTION_CONTINUE_EXECUTION;
    }
    return EXCEPTION_CONTINUE_SEARCH; /* a real crash: let it happen */
}

static void hook_install(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    hook.page = si.dwPageSize;
    hook.pages =
        VirtualAlloc(NULL, hook.npages * hook.page, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_non_null(hook.pages);
}

static void *hook_arm(void)
{
    DWORD old;
    assert_true(
        VirtualProtect(hook.pages + hook.page, (hook.npages - 1) * hook.page, PAGE_NOACCESS, &old));
    void *h = AddVectoredExceptionHandler(1, on_access_violation);
    assert_non_null(h);
    return h;
}

static void hook_disarm(void *h)
{
    RemoveVectoredExceptionHandler(h);
}

static void hook_free(void)
{
    VirtualFree(hook.pages, 0, MEM_RELEASE);
}
#else
static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (!hook_fault(si->si_addr)) {
        signal(sig, SIG_DFL); /* a real crash: let it happen */
    }
}

static void hook_install(void)
{
    hook.page = (size_t)sysconf(_SC_PAGESIZE);
    hook.pages = mmap(NULL, hook.npages * hook.page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(hook.pages != MAP_FAILED);
}

static struct sigaction old_segv;

static void *hook_arm(void)
{
    mprotect(hook.pages + hook.page, (hook.npages - 1) * hook.page, PROT_NONE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGSEGV, &sa, &old_segv), 0);
    return NULL;
}

static void hook_disarm(void *h)
{
    (void)h;
    sigaction(SIGSEGV, &old_segv, NULL);
}

static void hook_free(void)
{
    munmap(hook.pages, hook.npages * hook.page);
}
#endif

static void test_batch_publishes_once(void **state)
{
    (void)state;
    const char *name = t_name("once");
    const struct shmring_opts big = {.size = 65536, .flags = SHMRING_CREATE};
    shmring *p = open_ok(name, SHMRING_PRODUCER, &big);
    shmring *c = open_ok(name, SHMRING_CONSUMER, NULL);
    struct view v = view_map(name);
    send_seq(p, 24, 0); /* a non-zero starting tail */
    recv_seq(c, 24, 0);

    hook.npages = 6;
    hook_install();
    hook.h = v.h;
    hook.faults = 0;
    struct shmring_buf iov[6] = {{NULL, 0}};
    uint64_t records = 0;
    for (int k = 0; k < hook.npages; k++) {
        iov[k].base = hook.pages + (size_t)k * hook.page;
        iov[k].len = 100 + (size_t)k * 300;
        t_msg_fill(hook.pages + (size_t)k * hook.page, iov[k].len, 1 + (uint64_t)k);
        records += shmring__rec_size(iov[k].len);
    }
    uint64_t tail0 = atomic_load(&v.h->tail);
    void *armed = hook_arm();
    int sent = shmring_send_batch(p, iov, (size_t)hook.npages);
    hook_disarm(armed);
    assert_int_equal(sent, hook.npages);
    assert_int_equal(hook.faults, hook.npages - 1); /* one stop inside each later message */
    for (int k = 0; k < hook.faults; k++) {
        assert_int_equal(hook.seen_tail[k], tail0); /* nothing published mid-batch */
    }
    assert_int_equal(atomic_load(&v.h->tail), tail0 + records);

    /* drain: the head stays put during the handler calls, then moves once by all records. */
    uint64_t head0 = atomic_load(&v.h->head);
    struct drain_ctx d = {1, 0, -1, 0, 0, v.h, head0};
    for (int k = 0; k < hook.npages; k++) {
        d.len = iov[k].len;
        assert_int_equal(shmring_drain(c, check_handler, &d, 1), 1); /* one by one first ... */
        assert_int_equal(atomic_load(&v.h->head), head0 + shmring__rec_size(iov[k].len));
        head0 = atomic_load(&v.h->head);
        d.head0 = head0;
    }
    assert_int_equal(d.bad, 0);
    /* ... then a whole batch of equal messages in one drain. */
    for (uint64_t i = 0; i < 40; i++) {
        send_seq(p, 64, 100 + i);
    }
    d = (struct drain_ctx){100, 64, -1, 0, 0, v.h, atomic_load(&v.h->head)};
    assert_int_equal(shmring_drain(c, check_handler, &d, 0), 40);
    assert_int_equal(d.bad, 0);
    assert_int_equal(atomic_load(&v.h->head), atomic_load(&v.h->tail));

    hook_free();
    view_unmap(&v);
    shmring_close(c);
    shmring_close(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recv_small_buffer),
        cmocka_unit_test(test_peek_release),
        cmocka_unit_test(test_reserve_commit_errors),
        cmocka_unit_test(test_send_batch),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_batch_publishes_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
