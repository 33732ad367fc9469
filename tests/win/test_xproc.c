/* SPDX-License-Identifier: MIT */
/* Callers of the real shmring.dll in separate processes, started with CreateProcessW (issue #12):
 *   legacy-w            a C caller of the W forms: one process sets, another gets (the parent
 *                       keeps the value alive: a section ends with its last handle)
 *   ring PEER N         this process consumes N numbered, checksummed messages from PEER (an
 *                       exe of this program, e.g. the i686 build while this one is x86_64)
 *   legacy-peer PEER    PEER sets the value, this process reads it
 *   kill PEER           TerminateProcess of a producer mid-stream: the consumer gets the exact
 *                       prefix, then SHMRING_EPIPE within 100 ms; a new producer takes over; when
 *                       every process is gone, OpenFileMappingW of the section fails
 * The children: produce NAME N (N = 0: until killed), setw, getw (LEGACY_TEXT). Exit 0 = pass. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "shmring.h"
#include "shmring_compat.h"
#include "t_create_process_win.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL - " __VA_ARGS__);                                                    \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

static int64_t now_ms(void)
{
    return (int64_t)GetTickCount64();
}

static double now_s(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart / (double)f.QuadPart;
}

/* ---- messages: [seq u32][len u32][payload len bytes][fnv1a of seq, payload u32] ------------- */

static uint32_t fnv(uint32_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

static size_t make_msg(uint32_t seq, unsigned char *m)
{
    uint32_t len = seq * 2654435761u % 97; /* 0..96 payload bytes */
    memcpy(m, &seq, 4);
    memcpy(m + 4, &len, 4);
    for (uint32_t i = 0; i < len; i++) {
        m[8 + i] = (unsigned char)(seq * 31 + i);
    }
    uint32_t sum = fnv(2166136261u, m, 8 + len);
    memcpy(m + 8 + len, &sum, 4);
    return 12 + len;
}

/* The message's sequence number if it is whole and correct, else FAIL. */
static uint32_t check_msg(const unsigned char *m, size_t n)
{
    uint32_t seq, len, sum;
    if (n < 12) {
        FAIL("a message of %u bytes", (unsigned)n);
    }
    memcpy(&seq, m, 4);
    memcpy(&len, m + 4, 4);
    memcpy(&sum, m + 8 + (n - 12), 4);
    if (len != n - 12 || len != seq * 2654435761u % 97 || sum != fnv(2166136261u, m, n - 4)) {
        FAIL("message %u is corrupt", seq);
    }
    return seq;
}

/* ---- processes ------------------------------------------------------------------------------ */

static HANDLE spawn(const char *exe, const char *args)
{
    wchar_t cmd[2048];
    _snwprintf(cmd, 2048, L"\"%hs\" %hs", exe, args);
    cmd[2047] = L'\0';
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!t_create_process_w(cmd, FALSE, &si, &pi)) {
        FAIL("CreateProcessW %s: error %lu", exe, GetLastError());
    }
    CloseHandle(pi.hThread);
    return pi.hProcess;
}

static DWORD wait_exit(HANDLE p)
{
    DWORD code = 999;
    WaitForSingleObject(p, 60000);
    GetExitCodeProcess(p, &code);
    CloseHandle(p);
    return code;
}

static char g_self[MAX_PATH];

/* The value the legacy tests pass (not on the command line, whose ANSI conversion would mangle
 * it): outside code page 1252 (U+20AC is in it, U+0101 and U+1F600 are not). */
#define LEGACY_TEXT "set by another process \xc3\xa9\xe2\x82\xac\xc4\x81\xf0\x9f\x98\x80"

static int child_produce(const char *name, long n)
{
    shmring *r = NULL;
    struct shmring_opts o = {.mode = 0600};
    int err = shmring_open(name, SHMRING_PRODUCER, &o, &r);
    if (err < 0) {
        FAIL("producer open %s: %s", name, shmring_strerror(err));
    }
    unsigned char m[128];
    for (uint32_t seq = 0; n == 0 || seq < (uint32_t)n; seq++) {
        size_t len = make_msg(seq, m);
        if ((err = shmring_send_wait(r, m, len, 10 * 1000000000LL)) < 0) {
            FAIL("send %u: %s", seq, shmring_strerror(err));
        }
    }
    shmring_close(r);
    return 0;
}

static void to_wide(const char *s, wchar_t *w, int cap)
{
    if (MultiByteToWideChar(CP_UTF8, 0, s, -1, w, cap) == 0) {
        FAIL("bad UTF-8 argument");
    }
}

/* ---- the tests ------------------------------------------------------------------------------ */

static shmring *open_consumer(char *name, size_t cap)
{
    snprintf(name, cap, "t-xproc-%lu", (unsigned long)GetCurrentProcessId());
    shmring *r = NULL;
    struct shmring_opts o = {.size = 1 << 20, .mode = 0600, .flags = SHMRING_CREATE};
    int err = shmring_open(name, SHMRING_CONSUMER, &o, &r);
    if (err < 0) {
        FAIL("consumer open: %s", shmring_strerror(err));
    }
    return r;
}

/* Receives until the producer is gone; every message must be the next one. Returns the count. */
static uint32_t consume(shmring *r, uint32_t expect_n, int64_t *epipe_at_ms)
{
    static unsigned char m[256];
    uint32_t next = 0;
    int64_t start = now_ms();
    for (;;) {
        shmring_ssize n = shmring_recv_wait(r, m, sizeof(m), 20 * 1000000000LL);
        if (n == SHMRING_EPIPE && next == 0 && now_ms() - start < 20000) {
            Sleep(5); /* the (next) producer has not attached yet */
            continue;
        }
        if (n == SHMRING_EPIPE) {
            *epipe_at_ms = now_ms();
            return next;
        }
        if (n < 0) {
            FAIL("recv after %u: %s", next, shmring_strerror((int)n));
        }
        uint32_t seq = check_msg(m, (size_t)n);
        if (seq != next) {
            FAIL("got message %u, expected %u (a gap or a reorder)", seq, next);
        }
        next++;
        if (expect_n != 0 && next > expect_n) {
            FAIL("more than %u messages", expect_n);
        }
    }
}

static int test_ring(const char *peer, long n)
{
    char name[64];
    shmring *r = open_consumer(name, sizeof(name));
    char args[128];
    snprintf(args, sizeof(args), "produce %s %ld", name, n);
    double t0 = now_s();
    HANDLE p = spawn(peer, args);
    int64_t epipe;
    uint32_t got = consume(r, (uint32_t)n, &epipe);
    double t = now_s() - t0;
    if (wait_exit(p) != 0) {
        FAIL("the producer failed");
    }
    if (got != (uint32_t)n) {
        FAIL("%u of %ld messages", got, n);
    }
    printf("ring: %ld checked messages from %s in %.2f s (%.0f msg/s), then SHMRING_EPIPE\n", n,
           peer, t, n / t);
    shmring_close(r);
    return 0;
}

static int test_kill(const char *peer)
{
    char name[64];
    shmring *r = open_consumer(name, sizeof(name));
    wchar_t on[128];
    _snwprintf(on, 128, L"Local\\shmring-%hs.mem", name);
    on[127] = L'\0';
    char args[128];
    snprintf(args, sizeof(args), "produce %s 0", name);
    HANDLE p = spawn(peer, args);
    /* Let it stream, then kill it mid-stream. */
    static unsigned char m[256];
    uint32_t next = 0;
    while (next < 20000) {
        shmring_ssize n = shmring_recv_wait(r, m, sizeof(m), 20 * 1000000000LL);
        if (n < 0 || check_msg(m, (size_t)n) != next) {
            FAIL("before the kill, at %u: %d", next, (int)n);
        }
        next++;
    }
    if (!TerminateProcess(p, 9)) {
        FAIL("TerminateProcess: %lu", GetLastError());
    }
    WaitForSingleObject(p, INFINITE);
    int64_t killed = now_ms();
    CloseHandle(p);
    /* The exact prefix: every committed message in order, then SHMRING_EPIPE. */
    for (;;) {
        shmring_ssize n = shmring_recv_wait(r, m, sizeof(m), 5 * 1000000000LL);
        if (n == SHMRING_EPIPE) {
            break;
        }
        if (n < 0) {
            FAIL("after the kill, at %u: %s", next, shmring_strerror((int)n));
        }
        if (check_msg(m, (size_t)n) != next) {
            FAIL("after the kill: a gap at %u", next);
        }
        next++;
    }
    int64_t took = now_ms() - killed;
    printf("kill: %u messages in order, then SHMRING_EPIPE %lld ms after the producer died\n", next,
           (long long)took);
    if (took > 100) {
        FAIL("SHMRING_EPIPE took %lld ms (> 100)", (long long)took);
    }
    /* A new producer takes over. */
    snprintf(args, sizeof(args), "produce %s 1000", name);
    p = spawn(peer, args);
    int64_t epipe;
    uint32_t got = consume(r, 1000, &epipe);
    if (wait_exit(p) != 0 || got != 1000) {
        FAIL("the second producer: %u of 1000", got);
    }
    printf("kill: a new producer took over: 1000 messages, then SHMRING_EPIPE\n");
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, on);
    if (h == NULL) {
        FAIL("the section is gone while the consumer still has it");
    }
    CloseHandle(h);
    shmring_close(r);
    h = OpenFileMappingW(FILE_MAP_READ, FALSE, on);
    if (h != NULL) {
        FAIL("the section outlived every process");
    }
    printf("kill: after every process, OpenFileMappingW fails (error %lu)\n", GetLastError());
    return 0;
}

/* peer sets the value (W form), then a getter of peer (or this program's build) reads it; this
 * process attaches first and keeps the value alive between the two. */
static int test_legacy(const char *setter, const char *getter)
{
    wchar_t w[64];
    GetSharedMemW(w, 64); /* attach: the section now lives until we exit */
    if (shmring_compat_status() != 0) {
        FAIL("attach: %s", shmring_strerror(shmring_compat_status()));
    }
    const char *text = LEGACY_TEXT;
    if (wait_exit(spawn(setter, "setw")) != 0) {
        FAIL("the setter %s failed", setter);
    }
    if (wait_exit(spawn(getter, "getw")) != 0) {
        FAIL("the getter %s did not read the value", getter);
    }
    wchar_t want[64];
    to_wide(text, want, 64);
    GetSharedMemW(w, 64);
    if (wcscmp(w, want) != 0) {
        FAIL("this process reads another value: \"%ls\" (%u chars)", w, (unsigned)wcslen(w));
    }
    printf("legacy: %s set, %s got the value (W forms, UTF-16, %u units)\n", setter, getter,
           (unsigned)wcslen(w));
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    GetModuleFileNameA(NULL, g_self, sizeof(g_self));
    const char *op = argc > 1 ? argv[1] : "";
    if (strcmp(op, "produce") == 0 && argc == 4) {
        return child_produce(argv[2], atol(argv[3]));
    }
    if (strcmp(op, "setw") == 0) {
        wchar_t w[256];
        to_wide(LEGACY_TEXT, w, 256);
        SetSharedMemW(w);
        return shmring_compat_status() == 0 ? 0 : 1;
    }
    if (strcmp(op, "getw") == 0) {
        wchar_t w[256], want[256];
        to_wide(LEGACY_TEXT, want, 256);
        GetSharedMemW(w, 256);
        return wcscmp(w, want) == 0 ? 0 : 1;
    }
    if (strcmp(op, "legacy-w") == 0) {
        return test_legacy(g_self, g_self);
    }
    if (strcmp(op, "legacy-peer") == 0 && argc == 3) {
        return test_legacy(argv[2], g_self);
    }
    if (strcmp(op, "ring") == 0 && argc == 4) {
        return test_ring(argv[2], atol(argv[3]));
    }
    if (strcmp(op, "kill") == 0 && argc == 3) {
        return test_kill(argv[2]);
    }
    fprintf(stderr, "usage: test_xproc legacy-w | legacy-peer EXE | ring EXE N | kill EXE\n");
    return 2;
}
