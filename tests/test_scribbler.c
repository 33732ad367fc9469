/* SPDX-License-Identifier: MIT */
/* A scribbling peer: while a producer and a consumer (separate processes) run, a third process
 * maps the same /dev/shm object itself and writes random values into the header, the shared
 * indices, record headers and payloads.
 *
 * What the test asserts, for the producer and the consumer:
 *  1. they stay alive: each exits normally (a signal death, e.g. SIGSEGV, fails the test);
 *  2. nothing hangs: every call returns within its timeout plus CALL_SLACK_MS (blocking calls
 *     get 20 ms; open and close, which may wait for the INIT lock, 5 s), and every process ends
 *     within the run time plus a bound;
 *  3. every call returns one of its documented codes (the lists are in check_send() and
 *     check_recv()): the producer SHMRING_EAGAIN, SHMRING_ETIMEDOUT, SHMRING_EPIPE, SHMRING_EPROTO;
 * the consumer SHMRING_EAGAIN, SHMRING_ETIMEDOUT, SHMRING_EPIPE, SHMRING_EMSGSIZE (small buffer),
 * SHMRING_EBADMSG, SHMRING_EPROTO; an open 0 or SHMRING_EPROTO;
 *  4. every pointer the library hands out (a reserved slot, a peeked or drained message) lies
 *     inside the data area of the caller's own mapping, with its whole length;
 *  5. a received message whose checksum (over its sequence number, length and bytes) is valid
 *     is genuine: its sequence number was sent and its length is the one the producer used for
 *     that number. A message whose checksum fails
 *     is counted, not a failure: the ring does not protect payload integrity (a peer with write
 *     access can change any byte, and a scribbled record header can frame garbage as a message
 *     of a legal length); what the library guarantees is bounds, codes and liveness. Order and
 *     uniqueness are not asserted either: a scribbled head can make the producer overwrite
 *     unread records, and a consumer that reattaches at a scribbled head re-reads old ones;
 *  6. afterwards, the name removed, a fresh ring of the same name carries 2000 messages in
 *     order between two new processes.
 *
 * On Windows (under wine) the same runs: the processes are started with t_spawn_flat, the
 * scribbler maps the ring's section (Local\shmring-<name>.mem) with OpenFileMappingW, the
 * counters live in a named section of their own, and "the name removed" is "every process
 * closed it" (a section ends with its last handle).
 *
 * Not tested, by design: a peer that ftruncate()s the object smaller. Accesses beyond the new
 * end then raise SIGBUS; POSIX shared memory cannot be sealed against that (see
 * README.md, "Security"). A Windows section cannot shrink.
 *
 * The same runs on a multi-producer ring (test_scribbler_mp): the scribbler then also hits the
 * claim word, the producer slots (announcements, epochs, counters) and CLAIMED record words.
 *
 * SHMRING_SCRIBBLE_MS sets the scribbling time (default 2000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>

#include "platform_win.h" /* the section's name */
#else
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "handle.h"
#include "platform.h"
#include "ring_mp.h"
#include "shmring.h"
#include "testutil.h"

/* A failed check in a child process: print file:line and return 1 from the child function (as
 * TL_CHECK of test_lifeutil.h, which is POSIX-only). */
#define TL_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "[pid %d] %s:%d: check failed: %s\n", (int)shmring__plat_pid(),        \
                    __FILE__, __LINE__, #cond);                                                    \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static void sleep_us(uint64_t us)
{
    shmring__plat_sleep_ns((int64_t)us * 1000);
}

#define RING_SIZE     8192
#define WAIT_NS       (20 * 1000000LL)
#define CALL_SLACK_MS 2000 /* scheduling on a loaded two-core machine, under sanitizers */
#define OPEN_BOUND_MS (5000 + CALL_SLACK_MS)
#define MAX_LEN       600 /* messages of 16..MAX_LEN bytes: many per ring, all checksummed */

/* Counters shared between the processes (POSIX: an anonymous shared mapping the forked children
 * inherit; Windows: a named section, see shared_map()). */
struct shared {
    _Atomic uint64_t announced; /* the producer may have sent every seq below this */
    _Atomic uint64_t sent, send_calls, recv_valid, recv_bad_checksum, recv_calls;
    _Atomic uint64_t scribbles, reopens_p, reopens_c, open_refused;
    _Atomic uint64_t err_p[8], err_c[8]; /* by code, see code_slot() */
    _Atomic int64_t max_call_ms, max_open_ms;
};

static struct shared *S;
static const char *ring_name;
static int mp_ring; /* test_scribbler_mp: a multi-producer ring with MP_SLOTS producer slots */
#define MP_SLOTS 4
static int64_t end_ms;

/* What every child gets (t_spawn_flat copies it: on Windows the child is a new program run, so
 * it re-derives the globals above from this). */
struct child_arg {
    char ring[200];
    int mp;
    int64_t end_ms;
};

#ifdef _WIN32
/* The counters' section: the ring's object name with the part ".counters". The
 * parent creates it (create = 1) and holds it for the whole test; children open it. */
static struct shared *shared_map(const char *ring, int create, HANDLE *section)
{
    wchar_t on[300];
    if (shmring__win_object_name(ring, ".counters", on, 300) != 0) {
        return NULL;
    }
    HANDLE h = create ? CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                                           (DWORD)sizeof(struct shared), on)
                      : OpenFileMappingW(FILE_MAP_WRITE, FALSE, on);
    if (h == NULL) {
        fprintf(stderr, "counters section: error %lu\n", GetLastError());
        return NULL;
    }
    struct shared *s = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, sizeof(struct shared));
    if (section != NULL) {
        *section = h;
    } else {
        CloseHandle(h); /* the view keeps it */
    }
    return s;
}
#endif

/* A child's first step: the globals from its argument. */
static int child_setup(const void *arg)
{
    static struct child_arg a;
    memcpy(&a, arg, sizeof a);
    ring_name = a.ring;
    mp_ring = a.mp;
    end_ms = a.end_ms;
#ifdef _WIN32
    S = shared_map(a.ring, 0, NULL);
#endif
    return S == NULL;
}

static const int codes[8] = {SHMRING_EAGAIN,
                             SHMRING_ETIMEDOUT,
                             SHMRING_EPIPE,
                             SHMRING_EPROTO,
                             SHMRING_EBADMSG,
                             SHMRING_EMSGSIZE,
                             0,
                             0};
static const char *code_names[8] = {"EAGAIN",  "ETIMEDOUT", "EPIPE", "EPROTO",
                                    "EBADMSG", "EMSGSIZE",  "",      ""};

static int code_slot(shmring_ssize rc)
{
    for (int i = 0; i < 6; i++) {
        if (codes[i] == rc) {
            return i;
        }
    }
    return -1;
}

static void note_time(_Atomic int64_t *max, int64_t ms)
{
    int64_t cur = atomic_load(max);
    while (ms > cur && !atomic_compare_exchange_weak(max, &cur, ms)) {
    }
}

static uint64_t len_of(uint64_t seq)
{
    uint64_t h = t_hash(&seq, sizeof seq);
    return 16 + h % (MAX_LEN - 16 + 1);
}

/* Messages: t_msg_fill's content, with bytes 8..16 replaced by a checksum over the whole message
 * (sequence number and length included: t_msg_check's hash leaves the sequence bytes out, so a
 * scribble on them alone would pass it). */
static uint64_t msg_sum(const uint8_t *m, size_t len)
{
    uint64_t h = t_hash(m, 8) * 0x9e3779b97f4a7c15ULL;
    return h ^ t_hash(m + 16, len - 16) ^ ((uint64_t)len * 0xff51afd7ed558ccdULL);
}

static void msg_fill(uint8_t *m, size_t len, uint64_t seq)
{
    t_msg_fill(m, len, seq);
    uint64_t h = msg_sum(m, len);
    memcpy(m + 8, &h, 8);
}

static int msg_check(const uint8_t *m, size_t len)
{
    uint64_t h;
    memcpy(&h, m + 8, 8);
    return len >= 16 && h == msg_sum(m, len);
}

/* ---- opening, with the documented outcomes under scribbling ---------------------------- */

static int open_role(int role, shmring **out)
{
    for (;;) {
        struct shmring_opts opts = {0};
        int64_t t0 = t_now_ms();
        int rc = shmring_open(ring_name, role, &opts, out);
        int64_t ms = t_now_ms() - t0;
        note_time(&S->max_open_ms, ms);
        if (ms > OPEN_BOUND_MS) {
            fprintf(stderr, "open took %lld ms\n", (long long)ms);
            return 1;
        }
        if (rc == 0) {
            return 0;
        }
        /* The observer held by the parent keeps the name alive, so an open validates what is
         * there: a scribbled header is refused, nothing else can go wrong. */
        if (rc != SHMRING_EPROTO) {
            fprintf(stderr, "[pid %d] open role %d: %d (%s)\n", (int)shmring__plat_pid(), role, rc,
                    shmring_strerror(rc));
            return 1;
        }
        atomic_fetch_add(&S->open_refused, 1);
        if (t_now_ms() > end_ms) {
            *out = NULL;
            return 0;
        }
        sleep_us(500);
    }
}

static int timed_close(shmring *r)
{
    int64_t t0 = t_now_ms();
    TL_CHECK(shmring_close(r) == 0);
    int64_t ms = t_now_ms() - t0;
    note_time(&S->max_open_ms, ms);
    TL_CHECK(ms <= OPEN_BOUND_MS);
    return 0;
}

/* ---- producer ------------------------------------------------------------------------------ */

static int check_send(long rc)
{
    int k = code_slot(rc);
    if (rc < 0 && (k < 0 || rc == SHMRING_EBADMSG || rc == SHMRING_EMSGSIZE)) {
        fprintf(stderr, "[producer] undocumented result %ld (%s)\n", rc, shmring_strerror((int)rc));
        return 1;
    }
    if (rc < 0) {
        atomic_fetch_add(&S->err_p[k], 1);
    }
    return 0;
}

static int producer(void *arg)
{
    TL_CHECK(child_setup(arg) == 0);
    uint64_t rng = (uint64_t)shmring__plat_pid() * 7919;
    static uint8_t msgs[4][MAX_LEN];
    shmring *r = NULL;
    TL_CHECK(open_role(SHMRING_PRODUCER, &r) == 0);
    uint64_t seq = 0;
    while (r != NULL && t_now_ms() < end_ms) {
        uint64_t x = t_rand(&rng);
        int n = (x & 3) == 3 ? 1 + (int)((x >> 8) % 4) : 1;
        atomic_store(&S->announced, seq + (uint64_t)n);
        for (int i = 0; i < n; i++) {
            msg_fill(msgs[i], len_of(seq + (uint64_t)i), seq + (uint64_t)i);
        }
        uint64_t len = len_of(seq);
        const uint8_t *hi = (const uint8_t *)(const void *)r->seg.hdr + r->seg.size;
        const uint8_t *lo = hi - shmring_capacity(r); /* the data area */
        int64_t t0 = t_now_ms();
        long rc;
        int64_t bound = CALL_SLACK_MS;
        switch (x & 3) {
        case 0:
            rc = shmring_send_wait(r, msgs[0], len, WAIT_NS);
            bound += WAIT_NS / 1000000;
            break;
        case 1:
            rc = shmring_send(r, msgs[0], len);
            break;
        case 2: {
            void *slot = NULL;
            rc = shmring_reserve_wait(r, len, &slot, WAIT_NS);
            bound += WAIT_NS / 1000000;
            if (rc == 0) {
                TL_CHECK((const uint8_t *)slot >= lo + 8 && (const uint8_t *)slot + len <= hi);
                memcpy(slot, msgs[0], len);
                TL_CHECK(shmring_commit(r, len) == 0);
            }
            break;
        }
        default: {
            struct shmring_buf iov[4];
            for (int i = 0; i < n; i++) {
                iov[i].base = msgs[i];
                iov[i].len = len_of(seq + (uint64_t)i);
            }
            rc = shmring_send_batch(r, iov, (size_t)n);
            TL_CHECK(rc <= n);
            if (rc == 0) {
                rc = SHMRING_EAGAIN; /* nothing fitted */
            }
            break;
        }
        }
        int64_t ms = t_now_ms() - t0;
        note_time(&S->max_call_ms, ms);
        if (ms > bound) {
            fprintf(stderr, "[producer] a call took %lld ms (bound %lld)\n", (long long)ms,
                    (long long)bound);
            return 1;
        }
        atomic_fetch_add(&S->send_calls, 1);
        if (rc >= 0) {
            seq += (x & 3) == 3 ? (uint64_t)rc : 1;
            atomic_store(&S->sent, seq);
            continue;
        }
        TL_CHECK(check_send(rc) == 0);
        if (rc == SHMRING_EPROTO) {
            /* Sticky until reopened: the shared indices were found corrupt. */
            TL_CHECK(shmring_send(r, msgs[0], 16) == SHMRING_EPROTO);
            TL_CHECK(timed_close(r) == 0);
            atomic_fetch_add(&S->reopens_p, 1);
            TL_CHECK(open_role(SHMRING_PRODUCER, &r) == 0);
        } else if (rc == SHMRING_EPIPE) {
            sleep_us(200); /* the consumer is reopening */
        }
    }
    if (r != NULL) {
        TL_CHECK(timed_close(r) == 0);
    }
    return 0;
}

/* ---- consumer ------------------------------------------------------------------------------ */

struct seen {
    const uint8_t *lo, *hi;
    int bad; /* a check failed inside the drain handler */
};

/* A received message: inside the mapping (when it is one), and genuine if its checksum holds. */
static int judge(const void *msg, size_t len, const struct seen *where)
{
    if (where != NULL) {
        const uint8_t *m = msg;
        TL_CHECK(m >= where->lo + 8 && m + len <= where->hi);
    }
    TL_CHECK(len <= shmring__max_msg_for(RING_SIZE - SHMRING_HEADER_SIZE));
    uint64_t seq = 0;
    if (len >= 16) {
        memcpy(&seq, msg, 8);
    }
    if (len < 16 || !msg_check(msg, len)) {
        atomic_fetch_add(&S->recv_bad_checksum, 1);
        return 0;
    }
    /* The checksum holds: this must be a message the producer sent, whole. */
    uint64_t announced = atomic_load(&S->announced);
    if (seq >= announced || len != len_of(seq)) {
        fprintf(stderr,
                "[consumer] checksummed message seq %llu len %zu: announced %llu, "
                "length of that seq %llu\n",
                (unsigned long long)seq, len, (unsigned long long)announced,
                (unsigned long long)len_of(seq));
        return 1;
    }
    atomic_fetch_add(&S->recv_valid, 1);
    return 0;
}

static int on_msg(void *ctx, const void *msg, size_t len)
{
    struct seen *w = ctx;
    if (judge(msg, len, w) != 0) {
        w->bad = 1;
        return 1;
    }
    return 0;
}

static int check_recv(shmring_ssize rc)
{
    int k = code_slot(rc);
    if (rc < 0 && k < 0) {
        fprintf(stderr, "[consumer] undocumented result %td (%s)\n", rc, shmring_strerror((int)rc));
        return 1;
    }
    if (rc < 0) {
        atomic_fetch_add(&S->err_c[k], 1);
    }
    return 0;
}

static int consumer(void *arg)
{
    TL_CHECK(child_setup(arg) == 0);
    uint64_t rng = (uint64_t)shmring__plat_pid() * 104729;
    static uint8_t buf[RING_SIZE];
    shmring *r = NULL;
    TL_CHECK(open_role(SHMRING_CONSUMER, &r) == 0);
    while (r != NULL && t_now_ms() < end_ms) {
        struct seen w = {(const uint8_t *)(const void *)r->seg.hdr + r->seg.size -
                             shmring_capacity(r),
                         (const uint8_t *)(const void *)r->seg.hdr + r->seg.size, 0};
        uint64_t x = t_rand(&rng);
        int64_t t0 = t_now_ms();
        int64_t bound = CALL_SLACK_MS;
        shmring_ssize rc;
        switch (x & 3) {
        case 0:
            rc = shmring_recv_wait(r, buf, sizeof buf, WAIT_NS);
            bound += WAIT_NS / 1000000;
            if (rc >= 0) {
                TL_CHECK(judge(buf, (size_t)rc, NULL) == 0);
            }
            break;
        case 1:
            rc = shmring_recv(r, buf, 64); /* longer messages: SHMRING_EMSGSIZE, left in place */
            if (rc >= 0) {
                TL_CHECK(judge(buf, (size_t)rc, NULL) == 0);
            }
            break;
        case 2: {
            const void *msg = NULL;
            rc = shmring_peek_wait(r, &msg, WAIT_NS);
            bound += WAIT_NS / 1000000;
            if (rc >= 0) {
                TL_CHECK(judge(msg, (size_t)rc, &w) == 0);
                TL_CHECK(shmring_release(r) == 0);
            }
            break;
        }
        default:
            rc = shmring_drain(r, on_msg, &w, 1 + (x >> 8) % 8);
            TL_CHECK(!w.bad);
            if (rc == 0) {
                rc = SHMRING_EAGAIN;
            }
            break;
        }
        int64_t ms = t_now_ms() - t0;
        note_time(&S->max_call_ms, ms);
        if (ms > bound) {
            fprintf(stderr, "[consumer] a call took %lld ms (bound %lld)\n", (long long)ms,
                    (long long)bound);
            return 1;
        }
        atomic_fetch_add(&S->recv_calls, 1);
        if (rc >= 0) {
            continue;
        }
        TL_CHECK(check_recv(rc) == 0);
        if (rc == SHMRING_EPROTO || rc == SHMRING_EBADMSG) {
            TL_CHECK(shmring_recv(r, buf, sizeof buf) == rc); /* sticky until reopened */
            TL_CHECK(timed_close(r) == 0);
            atomic_fetch_add(&S->reopens_c, 1);
            TL_CHECK(open_role(SHMRING_CONSUMER, &r) == 0);
        } else if (rc == SHMRING_EPIPE) {
            sleep_us(200); /* the producer is reopening */
        }
    }
    if (r != NULL) {
        TL_CHECK(timed_close(r) == 0);
    }
    return 0;
}

/* ---- the scribbler --------------------------------------------------------------------------- */

static uint64_t interesting(uint64_t *rng, uint64_t old, uint64_t cap)
{
    uint64_t x = t_rand(rng);
    // NOLINTNEXTLINE(bugprone-signed-char-misuse,cert-str34-c): the sign extension is the point
    int64_t k = (int8_t)(x >> 8);
    switch (x % 9) {
    case 0:
        return old + (uint64_t)(k * 8);
    case 1:
        return old + (uint64_t)k;
    case 2:
        return old + cap;
    case 3:
        return old - cap;
    case 4:
        return 0;
    case 5:
        return UINT64_MAX;
    case 6:
        return x >> 16;
    case 7:
        return old ^ (1ULL << (x >> 58));
    default:
        return t_rand(rng);
    }
}

static uint32_t interesting32(uint64_t *rng, uint64_t cap)
{
    uint64_t x = t_rand(rng);
    static const uint32_t fixed[] = {
        0, 1, 8, 0x7fffffff, 0xffffffff, SHMRING__REC_MSG, SHMRING__REC_PAD, 0xfffffff8};
    switch (x % 6) {
    case 0:
        return (uint32_t)(cap - 8);
    case 1:
        return (uint32_t)((x >> 8) % cap);
    case 2:
        return (uint32_t)shmring__max_msg_for(cap) + (uint32_t)((x >> 8) % 3);
    case 3:
        return (uint32_t)(x >> 32);
    default:
        return fixed[(x >> 8) % 8];
    }
}

/* The ring's memory, mapped by this process on its own: POSIX /dev/shm/<name> (checked to be
 * RING_SIZE bytes), Windows the section Local\shmring-<name>.mem (its view's size checked). */
static uint8_t *map_ring(void)
{
#ifdef _WIN32
    wchar_t on[300];
    if (shmring__win_object_name(ring_name, ".mem", on, 300) != 0) {
        return NULL;
    }
    HANDLE h = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, on);
    if (h == NULL) {
        return NULL;
    }
    uint8_t *mem = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
    CloseHandle(h); /* the view keeps the section */
    MEMORY_BASIC_INFORMATION mi;
    if (mem == NULL || VirtualQuery(mem, &mi, sizeof mi) == 0 || mi.RegionSize != RING_SIZE) {
        return NULL;
    }
    return mem;
#else
    char path[512];
    snprintf(path, sizeof path, "/%s", ring_name);
    int fd = shm_open(path, O_RDWR, 0);
    if (fd < 0) {
        return NULL;
    }
    struct stat st;
    uint8_t *mem = NULL;
    if (fstat(fd, &st) == 0 && st.st_size == RING_SIZE) {
        mem = mmap(NULL, RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    close(fd);
    return mem == MAP_FAILED ? NULL : mem;
#endif
}

static void unmap_ring(uint8_t *mem)
{
#ifdef _WIN32
    UnmapViewOfFile(mem);
#else
    munmap(mem, RING_SIZE);
#endif
}

static int scribbler(void *arg)
{
    TL_CHECK(child_setup(arg) == 0);
    uint8_t *mem = map_ring();
    TL_CHECK(mem != NULL);
    struct shmring__hdr *h = (struct shmring__hdr *)mem;
    /* A multi-producer ring's header takes in the claim line and the slot table. */
    uint64_t hsize = mp_ring ? shmring__mp_header_size(MP_SLOTS) : SHMRING_HEADER_SIZE;
    uint8_t *data = mem + hsize;
    uint64_t cap = RING_SIZE - hsize;
    _Atomic uint64_t *tailp =
        mp_ring ? &((struct shmring__mp_ext *)(mem + SHMRING__MP_EXT_OFF))->claim : &h->tail;
    uint8_t pristine[SHMRING__LINE]; /* line 0: read-only after initialisation */
    memcpy(pristine, mem, sizeof pristine);
    uint64_t rng = (uint64_t)shmring__plat_pid() * 31337;
    static const size_t fields[] = {offsetof(struct shmring__hdr, producer_state),
                                    offsetof(struct shmring__hdr, consumer_state),
                                    offsetof(struct shmring__hdr, consumer_waiting),
                                    offsetof(struct shmring__hdr, producer_waiting),
                                    offsetof(struct shmring__hdr, producer_pid),
                                    offsetof(struct shmring__hdr, consumer_pid)};
    while (t_now_ms() < end_ms) {
        int n = 1 + (int)(t_rand(&rng) % 4);
        for (int i = 0; i < n; i++) {
            uint64_t x = t_rand(&rng);
            switch (x % 10) {
            case 0: { /* any 8 bytes of the header */
                size_t off = (x >> 8) % (hsize / 8) * 8;
                uint64_t v = t_rand(&rng);
                memcpy(mem + off, &v, 8);
                break;
            }
            case 1: /* the tail, or the claim word of a multi-producer ring */
                atomic_store(tailp, interesting(&rng, atomic_load(tailp), cap));
                break;
            case 2:
                atomic_store(&h->head, interesting(&rng, atomic_load(&h->head), cap));
                break;
            case 3: { /* a record header anywhere in the data area */
                size_t off = (x >> 8) % (cap / 8) * 8;
                uint32_t rec[2] = {interesting32(&rng, cap),
                                   (x >> 40) & 1 ? SHMRING__REC_MSG : SHMRING__REC_PAD};
                if (mp_ring && ((x >> 44) & 3) == 0) { /* CLAIMED by some slot and epoch */
                    rec[1] = SHMRING__REC_CLAIMED | (uint32_t)((x >> 46) % (MP_SLOTS + 2)) << 16 |
                             (uint32_t)((x >> 50) & 3);
                }
                if (((x >> 41) & 7) == 0) {
                    rec[1] = (uint32_t)t_rand(&rng);
                }
                memcpy(data + off, rec, 8);
                break;
            }
            case 4: { /* the record the consumer reads next */
                size_t off = atomic_load(&h->head) % cap & ~(uint64_t)7;
                uint32_t len = interesting32(&rng, cap);
                memcpy(data + off + ((x >> 8) & 1) * 4, &len, 4);
                break;
            }
            case 5: { /* payload bytes */
                size_t off = (x >> 8) % (cap - 16);
                uint64_t v = t_rand(&rng);
                memcpy(data + off, &v, 1 + (x >> 40) % 8);
                break;
            }
            case 6: { /* peer states, futex words, pids */
                size_t off = fields[(x >> 8) % 6];
                uint32_t v = (x >> 16) & 1 ? (uint32_t)((x >> 20) % 4) : (uint32_t)(x >> 32);
                memcpy(mem + off, &v, 4);
                break;
            }
            case 7: /* line 0: magic, version, sizes, flags: refused by later opens */
            case 8: {
                size_t off = (x >> 8) % 8 * 8;
                uint64_t v;
                memcpy(&v, mem + off, 8);
                v ^= 1ULL << ((x >> 16) % 64);
                memcpy(mem + off, &v, 8);
                break;
            }
            default: { /* counters */
                size_t off = 136 + (x >> 8) % 4 * 8;
                uint64_t v = t_rand(&rng);
                memcpy(mem + off, &v, 8);
                break;
            }
            }
            atomic_fetch_add(&S->scribbles, 1);
        }
        sleep_us(t_rand(&rng) % 2000);
        /* Heal what would otherwise block every later open or attach, so that the run keeps
         * exercising the data path: line 0, the peer states, and inconsistent indices. */
        memcpy(mem, pristine, sizeof pristine);
        if (t_rand(&rng) & 1) {
            atomic_store(&h->producer_state, SHMRING__PEER_ATTACHED);
            atomic_store(&h->consumer_state, SHMRING__PEER_ATTACHED);
        }
        uint64_t head = atomic_load(&h->head), tail = atomic_load(tailp);
        if (tail - head > cap || head % 8 || tail % 8) {
            atomic_store(&h->head, tail & ~(uint64_t)7);
            atomic_store(tailp, tail & ~(uint64_t)7);
        }
        sleep_us(t_rand(&rng) % 3000);
    }
    memcpy(mem, pristine, sizeof pristine);
    unmap_ring(mem);
    return 0;
}

/* ---- afterwards: a fresh ring works normally ---------------------------------------------- */

#define CLEAN_MSGS 2000

static int clean_producer(void *arg)
{
    TL_CHECK(child_setup(arg) == 0);
    shmring *r = NULL;
    TL_CHECK(shmring_open(ring_name, SHMRING_PRODUCER, NULL, &r) == 0);
    uint8_t msg[MAX_LEN];
    for (uint64_t seq = 0; seq < CLEAN_MSGS; seq++) {
        msg_fill(msg, len_of(seq), seq);
        TL_CHECK(shmring_send_wait(r, msg, len_of(seq), 10 * 1000000000LL) == 0);
    }
    shmring_close(r);
    return 0;
}

static int clean_consumer(void *arg)
{
    TL_CHECK(child_setup(arg) == 0);
    shmring *r = NULL;
    TL_CHECK(shmring_open(ring_name, SHMRING_CONSUMER, NULL, &r) == 0);
    uint8_t buf[RING_SIZE];
    for (uint64_t seq = 0; seq < CLEAN_MSGS; seq++) {
        shmring_ssize n = shmring_recv_wait(r, buf, sizeof buf, 10 * 1000000000LL);
        TL_CHECK(n == (shmring_ssize)len_of(seq));
        TL_CHECK(msg_check(buf, (size_t)n));
        TL_CHECK(memcmp(buf, &seq, 8) == 0);
    }
    TL_CHECK(shmring_recv_wait(r, buf, sizeof buf, 5 * 1000000000LL) == SHMRING_EPIPE);
    shmring_close(r);
    return 0;
}

/* ---- the test ------------------------------------------------------------------------------ */

/* 1 once process p has ended (it is not reaped: t_proc_wait does that). */
static int proc_ended(t_proc p)
{
#ifdef _WIN32
    return WaitForSingleObject((HANDLE)p, 0) == WAIT_OBJECT_0;
#else
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)p, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == (pid_t)p;
#endif
}

/* Waits for every process until deadline_ms; kills the rest and fails if one is late. */
static void wait_all(t_proc *procs, const char **what, int n, int64_t deadline_ms)
{
    int left = n;
    int status[8];
    for (int i = 0; i < n; i++) {
        assert_true(procs[i] != -1);
        status[i] = -2;
    }
    while (left > 0) {
        for (int i = 0; i < n; i++) {
            if (status[i] == -2 && proc_ended(procs[i])) {
                status[i] = t_proc_wait(procs[i]); /* 128 + signal after a signal death */
                left--;
            }
        }
        if (left > 0 && t_now_ms() > deadline_ms) {
            for (int i = 0; i < n; i++) {
                if (status[i] == -2) {
                    fprintf(stderr, "%s hangs: killing it\n", what[i]);
                    t_proc_kill(procs[i]);
                    t_proc_wait(procs[i]);
                }
            }
            fail_msg("a process did not finish in time");
        }
        sleep_us(5000);
    }
    for (int i = 0; i < n; i++) {
        if (status[i] != 0) {
            fail_msg("%s exited with %d%s", what[i], status[i],
                     status[i] > 128 ? " (killed by a signal)"
                     : status[i] < 0 ? " (a crash: an exception code on Windows)"
                                     : "");
        }
    }
}

static void run_scribbler(int mp)
{
    mp_ring = mp;
    const char *env = getenv("SHMRING_SCRIBBLE_MS");
    int64_t run_ms = env ? atoll(env) : 2000;
    ring_name = t_name(mp ? "scribble-mp" : "scribble");
#ifdef _WIN32
    HANDLE counters;
    S = shared_map(ring_name, 1, &counters);
    assert_non_null(S);
#else
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(S != MAP_FAILED);
#endif
    memset(S, 0, sizeof *S);
    /* The observer keeps the name (and so the object the scribbler maps) alive throughout. */
    shmring *obs = NULL;
    struct shmring_opts opts = {.size = RING_SIZE,
                                .flags = SHMRING_CREATE | SHMRING_EXCL |
                                         (mp ? SHMRING_MULTI_PRODUCER : 0),
                                .max_producers = mp ? MP_SLOTS : 0};
    assert_int_equal(shmring_open(ring_name, SHMRING_OBSERVER, &opts, &obs), 0);
    end_ms = t_now_ms() + run_ms;
    struct child_arg a = {.mp = mp, .end_ms = end_ms};
    snprintf(a.ring, sizeof a.ring, "%s", ring_name);
    t_proc procs[3] = {t_spawn_flat(consumer, &a, sizeof a), t_spawn_flat(producer, &a, sizeof a),
                       t_spawn_flat(scribbler, &a, sizeof a)};
    const char *what[3] = {"consumer", "producer", "scribbler"};
    wait_all(procs, what, 3, end_ms + OPEN_BOUND_MS + 15000);

    printf("scribbled %llu times in %lld ms; producer: %llu calls, %llu messages sent, "
           "%llu reopens; consumer: %llu calls, %llu genuine messages, %llu with a bad "
           "checksum, %llu reopens; opens refused (SHMRING_EPROTO): %llu; slowest call %lld ms, "
           "slowest open/close %lld ms\n",
           (unsigned long long)S->scribbles, (long long)run_ms, (unsigned long long)S->send_calls,
           (unsigned long long)S->sent, (unsigned long long)S->reopens_p,
           (unsigned long long)S->recv_calls, (unsigned long long)S->recv_valid,
           (unsigned long long)S->recv_bad_checksum, (unsigned long long)S->reopens_c,
           (unsigned long long)S->open_refused, (long long)S->max_call_ms,
           (long long)S->max_open_ms);
    printf("producer errors:");
    for (int i = 0; i < 6; i++) {
        printf(" %s %llu", code_names[i], (unsigned long long)S->err_p[i]);
    }
    printf("\nconsumer errors:");
    for (int i = 0; i < 6; i++) {
        printf(" %s %llu", code_names[i], (unsigned long long)S->err_c[i]);
    }
    printf("\n");
    /* The run did something: scribbles happened and messages got through. */
    assert_true(S->scribbles > 0);
    assert_true(S->recv_valid > 0);

    /* Afterwards: the name removed, a fresh ring of the same name works normally. (On Windows
     * unlink is SHMRING_ENOSYS: the section ended with the observer, its last handle.) */
    shmring_close(obs);
    shmring_unlink(ring_name);
    assert_false(t_shm_exists(ring_name));
    t_proc clean[2] = {t_spawn_flat(clean_consumer, &a, sizeof a),
                       t_spawn_flat(clean_producer, &a, sizeof a)};
    const char *cwhat[2] = {"clean consumer", "clean producer"};
    wait_all(clean, cwhat, 2, t_now_ms() + 60000);
    assert_false(t_shm_exists(ring_name));
#ifdef _WIN32
    UnmapViewOfFile(S);
    CloseHandle(counters);
#else
    munmap(S, sizeof *S);
#endif
}

static void test_scribbler(void **state)
{
    (void)state;
    run_scribbler(0);
}

static void test_scribbler_mp(void **state)
{
    (void)state;
    run_scribbler(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scribbler),
        cmocka_unit_test(test_scribbler_mp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
