/* SPDX-License-Identifier: MIT */
/* SetSharedMem/GetSharedMem across real processes.
 *
 * The test process itself never calls the two functions: every call runs in an "agent", a child
 * (this program executed afresh) that executes commands sent over a pipe (set, get with a given
 * buffer, exit, ...) and answers with the result and shmring_compat_status(). So each test decides
 * exactly which processes are attached, can SIGKILL or SIGSTOP any of them, and can check /dev/shm
 * afterwards. Each test uses its own name through SHMRING_COMPAT_NAME.
 *
 *   test_compat          the functional tests
 *   test_compat threads  threads of one process setting and getting (also run under TSan)
 *   test_compat stress   4 setter and 4 getter processes, 200,000 operations each
 * COMPAT_TEST_FILTER='*kill*' runs only the matching tests.
 *
 * The same file runs on Windows (tests/win, under wine): agents are started with CreateProcess
 * (t_spawn_self) and talk over anonymous pipes, SIGKILL is TerminateProcess, the mid-copy stop is
 * a named event plus a sleep, the name is the section Local\shmring-<name>.mem. test_fork_child
 * is POSIX-only (no fork); test_cch_size and test_lifetime_sigkill check the Windows behaviour
 * where it differs (a negative Integer cchSize writes nothing; killed processes leave no name).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <process.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "layout.h" /* the hostile-peer test writes the shared header directly */
#include "legacy_value.h"
#include "platform.h"
#include "shmring.h"
#include "shmring_compat.h"
#include "testutil.h"

#define MAXS        SHMRING_COMPAT_MAX_STRING
#define DATA_CAP    (SHMRING_COMPAT_SIZE - SHMRING_HEADER_SIZE)
#define REPLY_MS    20000 /* an agent that does not answer within this is hung: fail */
#define HOOK_ENV    "TEST_COMPAT_MIDCOPY" /* read by __wrap_shmring__lv_bytes_in below */
#define NAME_ENV    "SHMRING_COMPAT_NAME"
#define GUARD       0xAA /* the byte agents pre-fill get buffers with */
#define MAX_CMD_BUF 8192

static void sleep_ms(int ms)
{
    shmring__plat_sleep_ns((int64_t)ms * 1000000);
}

/* setenv/unsetenv; the Windows C runtime's _putenv_s also updates the process environment that
 * CreateProcess hands to children, and an empty value removes the variable. */
static void env_set(const char *name, const char *value)
{
#ifdef _WIN32
    _putenv_s(name, value != NULL ? value : "");
#else
    if (value == NULL) {
        unsetenv(name);
    } else {
        setenv(name, value, 1);
    }
#endif
}

/* Threads: pthreads on POSIX, _beginthreadex on Windows. */
#ifdef _WIN32
typedef HANDLE thr_t;
struct thr_tramp {
    void *(*fn)(void *);
    void *arg;
};
static unsigned __stdcall thr_tramp_main(void *p)
{
    struct thr_tramp t = *(struct thr_tramp *)p;
    free(p);
    t.fn(t.arg);
    return 0;
}
static int thr_create(thr_t *t, void *(*fn)(void *), void *arg)
{
    struct thr_tramp *tp = malloc(sizeof *tp);
    if (tp == NULL) {
        return -1;
    }
    tp->fn = fn;
    tp->arg = arg;
    uintptr_t h = _beginthreadex(NULL, 0, thr_tramp_main, tp, 0, NULL);
    if (h == 0) {
        free(tp);
        return -1;
    }
    *t = (HANDLE)h;
    return 0;
}
static void thr_join(thr_t t)
{
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
#else
typedef pthread_t thr_t;
static int thr_create(thr_t *t, void *(*fn)(void *), void *arg)
{
    return pthread_create(t, NULL, fn, arg) == 0 ? 0 : -1;
}
static void thr_join(thr_t t)
{
    pthread_join(t, NULL);
}
#endif

/* ---- the mid-copy pause ---------------------------------------------------------------------
 * This program is linked with -Wl,--wrap=shmring__lv_bytes_in, so every setter's copy of the
 * value (src/legacy_value.c) comes here (GNU ld wraps on ELF and PE alike; on i686 Windows it
 * matches the name after the leading underscore). In an agent started with a hook (HOOK_ENV), a
 * copy of 2 bytes or more pauses after its first half: hook 1 stops the whole process, so that a
 * test can kill a setter deterministically inside the copy (POSIX: SIGSTOP; Windows, which has
 * no such signal: the copying thread signals the named event given in HOOK_ENV, "1:<event>", and
 * sleeps until its parent, the test, ends); hook 2 makes just the calling thread sleep 300 ms, so
 * that other threads of the process can read meanwhile. The library itself has no such hook. */
void __real_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n);
void __wrap_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n);

#ifdef _WIN32
static HANDLE g_parent; /* an agent's parent (the test process), for the hook-1 pause */

static void midcopy_stop(void)
{
    const char *e = getenv(HOOK_ENV);
    HANDLE ev = e != NULL && strlen(e) > 2 ? OpenEventA(EVENT_MODIFY_STATE, FALSE, e + 2) : NULL;
    if (ev == NULL || !SetEvent(ev)) {
        fprintf(stderr, "agent: cannot signal the mid-copy event: error %lu\n", GetLastError());
        ExitProcess(126);
    }
    CloseHandle(ev);
    WaitForSingleObject(g_parent, INFINITE); /* killed before that in every test */
    ExitProcess(125);
}
#endif

void __wrap_shmring__lv_bytes_in(uint8_t *dst, const char *src, uint64_t n)
{
    static _Atomic int hook = -1;
    int h = atomic_load(&hook);
    if (h < 0) {
        const char *e = getenv(HOOK_ENV);
        h = e != NULL ? atoi(e) : 0;
        atomic_store(&hook, h);
    }
    if (h == 0 || n < 2) {
        __real_shmring__lv_bytes_in(dst, src, n);
        return;
    }
    __real_shmring__lv_bytes_in(dst, src, n / 2);
    if (h == 1) {
#ifdef _WIN32
        midcopy_stop();
#else
        raise(SIGSTOP);
#endif
    } else {
        sleep_ms(300);
    }
    __real_shmring__lv_bytes_in(dst + n / 2, src + n / 2, n - n / 2);
}

/* ---- self-checking strings ------------------------------------------------------------------
 * "II:SSSSSSSSSS:LLLL:HHHHHHHHHHHHHHHH:" then printable filler up to the total length L: setter
 * id, sequence number, length and a hash over everything after the header. A torn or truncated
 * string fails the check. */
#define SC_HDR 36

static void sc_make(char *out, size_t len, unsigned id, uint64_t seq)
{
    if (len < SC_HDR) {
        len = SC_HDR;
    }
    uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)id << 56) ^ len;
    for (size_t i = SC_HDR; i < len; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        out[i] = (char)('a' + (x >> 33) % 26);
    }
    out[len] = '\0';
    uint64_t h = t_hash(out + SC_HDR, len - SC_HDR) ^ (seq * 31 + id);
    char hdr[SC_HDR + 1];
    snprintf(hdr, sizeof hdr, "%02u:%010llu:%04zu:%016llx:", id % 100, (unsigned long long)seq, len,
             (unsigned long long)h);
    memcpy(out, hdr, SC_HDR);
}

/* 1 if s is a whole self-checking string; *id and *seq receive its origin. */
static int sc_check(const char *s, unsigned *id, uint64_t *seq)
{
    size_t n = strlen(s);
    unsigned i;
    unsigned long long q;
    size_t len;
    unsigned long long h;
    if (n < SC_HDR || sscanf(s, "%2u:%10llu:%4zu:%16llx:", &i, &q, &len, &h) != 4 || len != n ||
        s[SC_HDR - 1] != ':') {
        return 0;
    }
    if ((t_hash(s + SC_HDR, n - SC_HDR) ^ (q * 31 + i)) != h) {
        return 0;
    }
    *id = i;
    *seq = q;
    return 1;
}

/* ---- pipes ------------------------------------------------------------------------------------
 * A chan is a pipe end: a file descriptor on POSIX, a HANDLE on Windows. */
typedef intptr_t chan;

#ifdef _WIN32
static int write_all(chan fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        DWORD w;
        if (!WriteFile((HANDLE)fd, b, n > 65536 ? 65536 : (DWORD)n, &w, NULL) || w == 0) {
            return -1;
        }
        b += w;
        n -= w;
    }
    return 0;
}

/* Reads exactly n bytes; timeout_ms < 0 waits forever. -1 on EOF, error or timeout. Anonymous
 * pipes have no timed read: with a timeout it polls PeekNamedPipe, yielding, then 1 ms sleeps. */
static int read_all(chan fd, void *p, size_t n, int timeout_ms)
{
    char *b = p;
    int64_t end = t_now_ms() + timeout_ms;
    unsigned spins = 0;
    while (n > 0) {
        if (timeout_ms >= 0) {
            DWORD avail = 0;
            if (!PeekNamedPipe((HANDLE)fd, NULL, 0, NULL, &avail, NULL)) {
                return -1; /* broken pipe: the writer is gone */
            }
            if (avail == 0) {
                if (t_now_ms() > end) {
                    return -1;
                }
                if (spins++ < 1000) {
                    SwitchToThread();
                } else {
                    Sleep(1);
                }
                continue;
            }
        }
        DWORD got;
        if (!ReadFile((HANDLE)fd, b, n > 65536 ? 65536 : (DWORD)n, &got, NULL) || got == 0) {
            return -1;
        }
        b += got;
        n -= got;
    }
    return 0;
}

static void chan_close(chan fd)
{
    CloseHandle((HANDLE)fd);
}
#else
static int write_all(chan fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = write((int)fd, b, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes; timeout_ms < 0 waits forever. -1 on EOF, error or timeout. */
static int read_all(chan fd, void *p, size_t n, int timeout_ms)
{
    char *b = p;
    while (n > 0) {
        if (timeout_ms >= 0) {
            struct pollfd pfd = {.fd = (int)fd, .events = POLLIN};
            int r = poll(&pfd, 1, timeout_ms);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                return -1;
            }
        }
        ssize_t got = read((int)fd, b, n);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return -1;
        }
        b += got;
        n -= (size_t)got;
    }
    return 0;
}

static void chan_close(chan fd)
{
    close((int)fd);
}
#endif

/* ---- agents ------------------------------------------------------------------------------------
 */

struct agent {
    t_proc pid;
    chan cmd; /* test -> agent */
    chan res; /* agent -> test */
#ifdef _WIN32
    HANDLE stopped; /* hook 1: signalled by the agent inside its paused copy */
#endif
};

/* Agents still running; a test that fails half-way leaves some, and the teardown kills them
 * (a stopped one would otherwise stay stopped forever). */
#define MAX_AGENTS 16
static t_proc live_agents[MAX_AGENTS];

static void agent_track(t_proc pid, t_proc replace)
{
    for (int i = 0; i < MAX_AGENTS; i++) {
        if (live_agents[i] == replace) {
            live_agents[i] = pid;
            return;
        }
    }
}

static int kill_agents(void **state)
{
    (void)state;
    for (int i = 0; i < MAX_AGENTS; i++) {
        if (live_agents[i] > 0) {
            t_proc_kill(live_agents[i]);
            t_proc_wait(live_agents[i]);
            live_agents[i] = 0;
        }
    }
    return 0;
}

struct cmd {
    char op;
    uint32_t a, b;
};

static int agent_threads(uint32_t nthreads, uint32_t iters);
#ifndef _WIN32
static int agent_fork_check(const char *newval);
#endif
static int agent_local_overwrite(const char *val);
static int agent_two_setters(void);

/* 'A': registers an exit handler, before the agent's first call, so it runs after the library's
 * own exit handler has detached: it gets the value, sets "set at exit", and sends back the status
 * of both calls and the value it read. */
static chan exit_res_fd = -1;

static void exit_handler(void)
{
    char got[MAXS + 1];
    GetSharedMem(got, sizeof got);
    int32_t rc = shmring_compat_status();
    SetSharedMem("set at exit");
    if (rc == 0) {
        rc = shmring_compat_status();
    }
    uint32_t len = (uint32_t)strlen(got);
    if (write_all(exit_res_fd, &rc, sizeof rc) != 0 || write_all(exit_res_fd, &len, 4) != 0 ||
        write_all(exit_res_fd, got, len) != 0) {
        _exit(6);
    }
}

/* The agent's loop; runs in the child until EOF or 'X' (both leave through exit()). */
static void agent_main(chan cmd_fd, chan res_fd)
{
    static char buf[MAX_CMD_BUF + 64];
    for (;;) {
        struct cmd c;
        if (read_all(cmd_fd, &c, sizeof c, -1) != 0) {
            exit(0);
        }
        int32_t rc = 0;
        switch (c.op) {
        case 'S': /* set the a bytes that follow */
        case 'F': /* fork a child that checks the inherited state, sets them, exits (POSIX) */
        case 'E': /* set SHMRING_COMPAT_NAME to them (unset when a == 0) */
        case 'W': /* set them in a second thread, get in this one meanwhile */
            if (c.a > MAX_CMD_BUF || read_all(cmd_fd, buf, c.a, -1) != 0) {
                exit(3);
            }
            buf[c.a] = '\0';
            if (c.op == 'S') {
                SetSharedMem(buf);
                rc = shmring_compat_status();
            } else if (c.op == 'F') {
#ifdef _WIN32
                rc = -1;
#else
                rc = agent_fork_check(buf);
#endif
            } else if (c.op == 'W') {
                rc = agent_local_overwrite(buf);
            } else {
                env_set(NAME_ENV, c.a == 0 ? NULL : buf);
            }
            break;
        case 'Z':
            SetSharedMem(NULL);
            rc = shmring_compat_status();
            break;
        case 'G': { /* GetSharedMem(buf, a) into guard bytes; the first b are sent back */
            if (c.b > MAX_CMD_BUF) {
                exit(3);
            }
            memset(buf, GUARD, MAX_CMD_BUF);
#ifdef _WIN32
            GetSharedMem(buf, (int)c.a); /* the Delphi Integer: UINT_MAX is -1 */
#else
            GetSharedMem(buf, c.a); /* a may exceed the buffer: see test_cch_size */
#endif
            rc = shmring_compat_status();
            if (write_all(res_fd, &rc, sizeof rc) != 0 || write_all(res_fd, buf, c.b) != 0) {
                exit(4);
            }
            continue;
        }
        case 'N':
            GetSharedMem(NULL, (int)c.a); /* the legacy ABI's Integer */
            rc = shmring_compat_status();
            break;
        case 'P':
            rc = shmring_compat_status();
            break;
        case 'B': /* the agent's pointer size: which arch it is */
            rc = (int32_t)sizeof(void *);
            break;
        case 'T':
            rc = agent_threads(c.a, c.b);
            break;
        case 'V':
            rc = agent_two_setters();
            break;
        case 'A':
            exit_res_fd = res_fd;
            atexit(exit_handler);
            break;
        case 'X':
            exit(0);
        default:
            exit(5);
        }
        if (write_all(res_fd, &rc, sizeof rc) != 0) {
            exit(4);
        }
    }
}

/* Starts an agent: this test program executed afresh as "test_compat agent CMD RES [PARENT]", so
 * that it inherits nothing from the test process but the environment and its two pipe ends (no
 * exit or fork handlers of the library, no CMocka state). hook != 0 sets the mid-copy pause (see
 * above) in it (1: the process stops in the middle of each set's copy, 2: the setting thread
 * sleeps 300 ms there). */
#ifdef _WIN32
/* COMPAT_PEER_AGENT: the path of this program built for the other arch (tests/compat.cmake: the
 * i686 build's, in the x86_64 build). The agents that stop inside their copy (hook 1) run it, so
 * a 32-bit setter dies mid-write among 64-bit getters and setters. */
#define PEER_ENV "COMPAT_PEER_AGENT"

static void agent_start(struct agent *ag, int hook)
{
    static unsigned n_events;
    char ev_name[128];
    char hook_val[160];
    SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .bInheritHandle = TRUE};
    HANDLE to_r, to_w, from_r, from_w;
    assert_true(CreatePipe(&to_r, &to_w, &sa, 0));
    assert_true(CreatePipe(&from_r, &from_w, &sa, 0));
    /* Only the agent's ends are inherited (every child inherits every inheritable handle: our
     * ends in another agent would keep this one from ever seeing end of input). */
    assert_true(SetHandleInformation(to_w, HANDLE_FLAG_INHERIT, 0));
    assert_true(SetHandleInformation(from_r, HANDLE_FLAG_INHERIT, 0));
    ag->stopped = NULL;
    if (hook == 1) {
        snprintf(ev_name, sizeof ev_name, "Local\\shmring-test-compat-midcopy-%lu-%u",
                 (unsigned long)GetCurrentProcessId(), n_events++);
        ag->stopped = CreateEventA(NULL, TRUE, FALSE, ev_name);
        assert_non_null(ag->stopped);
        snprintf(hook_val, sizeof hook_val, "1:%s", ev_name);
    }
    if (hook) {
        env_set(HOOK_ENV, hook == 1 ? hook_val : "2");
    }
    char cmd_fd[32], res_fd[32], parent[32];
    snprintf(cmd_fd, sizeof cmd_fd, "%llu", (unsigned long long)(uintptr_t)to_r);
    snprintf(res_fd, sizeof res_fd, "%llu", (unsigned long long)(uintptr_t)from_w);
    snprintf(parent, sizeof parent, "%lu", (unsigned long)GetCurrentProcessId());
    const char *args[] = {"agent", cmd_fd, res_fd, parent, NULL};
    const char *peer = getenv(PEER_ENV);
    t_proc pid = hook == 1 && peer != NULL ? t_spawn_exe(peer, args) : t_spawn_self(args);
    if (hook) {
        env_set(HOOK_ENV, NULL);
    }
    CloseHandle(to_r);
    CloseHandle(from_w);
    assert_true(pid != -1);
    agent_track(pid, 0);
    ag->pid = pid;
    ag->cmd = (chan)to_w;
    ag->res = (chan)from_r;
}
#else
static void agent_start(struct agent *ag, int hook)
{
    int to[2];
    int from[2];
    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a test process that died */
        /* Keep only our two pipe ends: a copy of another agent's command pipe would keep that
         * agent from ever seeing end of input. */
        for (int fd = 3; fd < 1024; fd++) {
            if (fd != to[0] && fd != from[1]) {
                close(fd);
            }
        }
        if (hook) {
            setenv(HOOK_ENV, hook == 1 ? "1" : "2", 1);
        }
        char cmd_fd[16];
        char res_fd[16];
        snprintf(cmd_fd, sizeof cmd_fd, "%d", to[0]);
        snprintf(res_fd, sizeof res_fd, "%d", from[1]);
        execl("/proc/self/exe", "test_compat", "agent", cmd_fd, res_fd, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    agent_track(pid, 0);
    ag->pid = pid;
    ag->cmd = to[1];
    ag->res = from[0];
}
#endif

static void agent_send(struct agent *ag, char op, uint32_t a, uint32_t b, const void *data)
{
    struct cmd c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.a = a;
    c.b = b;
    assert_int_equal(write_all(ag->cmd, &c, sizeof c), 0);
    if (data != NULL) {
        assert_int_equal(write_all(ag->cmd, data, a), 0);
    }
}

static int agent_reply(struct agent *ag)
{
    int32_t rc;
    if (read_all(ag->res, &rc, sizeof rc, REPLY_MS) != 0) {
        fail_msg("agent %lld did not answer", (long long)ag->pid);
    }
    return rc;
}

/* Sends a command that is answered by its status alone; returns that. */
static int agent_call(struct agent *ag, char op, uint32_t a, uint32_t b, const void *data)
{
    agent_send(ag, op, a, b, data);
    return agent_reply(ag);
}

/* SetSharedMem(s) in the agent; returns its status. */
static int agent_set(struct agent *ag, const char *s)
{
    return agent_call(ag, 'S', (uint32_t)strlen(s), 0, s);
}

/* GetSharedMem(buf, cch) in the agent, whose buffer is pre-filled with GUARD; the first size
 * bytes of it are copied back into out. Returns the status. */
static int agent_get_raw(struct agent *ag, unsigned cch, unsigned size, char *out)
{
    agent_send(ag, 'G', cch, size, NULL);
    int rc = agent_reply(ag);
    if (read_all(ag->res, out, size, REPLY_MS) != 0) {
        fail_msg("agent %lld did not send its buffer", (long long)ag->pid);
    }
    return rc;
}

/* GetSharedMem with a buffer big enough for any value; out holds MAXS + 1 bytes. */
static int agent_get(struct agent *ag, char *out)
{
    static char buf[MAXS + 64];
    int rc = agent_get_raw(ag, MAXS + 1, MAXS + 64, buf);
    assert_non_null(memchr(buf, '\0', MAXS + 1));
    memcpy(out, buf, MAXS + 1);
    return rc;
}

/* GetSharedMem in ag must return status rc and the string want. A macro, so that a failure
 * names the test's line. */
static char get_buf[MAXS + 1];
#define assert_get(ag, rc, want)                                                                   \
    do {                                                                                           \
        assert_int_equal(agent_get((ag), get_buf), (rc));                                          \
        assert_string_equal(get_buf, (want));                                                      \
    } while (0)

static void agent_setenv_name(struct agent *ag, const char *name)
{
    assert_int_equal(agent_call(ag, 'E', (uint32_t)strlen(name), 0, name), 0);
}

static int agent_status(struct agent *ag)
{
    return agent_call(ag, 'P', 0, 0, NULL);
}

static void agent_close(struct agent *ag)
{
    chan_close(ag->cmd);
    chan_close(ag->res);
#ifdef _WIN32
    if (ag->stopped != NULL) {
        CloseHandle(ag->stopped);
        ag->stopped = NULL;
    }
#endif
}

/* Closes both pipes (end of input: the agent exit()s) and returns its exit status. */
static int agent_reap(struct agent *ag)
{
    agent_close(ag);
    agent_track(0, ag->pid);
    return t_proc_wait(ag->pid);
}

/* Asks the agent to exit() and returns its exit status. */
static int agent_exit(struct agent *ag)
{
    agent_send(ag, 'X', 0, 0, NULL);
    return agent_reap(ag);
}

/* agent_exit for an agent that ran 'A': reads its exit handler's report (the status, and the
 * value it read into got), checks that it exited with 0, and returns the status. */
static int agent_exit_handler_report(struct agent *ag, char *got)
{
    int32_t rc;
    uint32_t len;
    agent_send(ag, 'X', 0, 0, NULL);
    assert_int_equal(read_all(ag->res, &rc, sizeof rc, REPLY_MS), 0);
    assert_int_equal(read_all(ag->res, &len, sizeof len, REPLY_MS), 0);
    assert_true(len <= MAXS);
    assert_int_equal(read_all(ag->res, got, len, REPLY_MS), 0);
    got[len] = '\0';
    assert_int_equal(agent_reap(ag), 0);
    return rc;
}

/* Both agents exit with 0 (b may be NULL), and the last exit removes the name. */
static void agents_exit(const char *name, struct agent *a, struct agent *b)
{
    assert_int_equal(agent_exit(a), 0);
    if (b != NULL) {
        assert_int_equal(agent_exit(b), 0);
    }
    assert_false(t_shm_exists(name));
}

/* SIGKILL (POSIX) or TerminateProcess (Windows). */
static void agent_kill(struct agent *ag)
{
    t_proc_kill(ag->pid);
    agent_track(0, ag->pid);
    assert_int_equal(t_proc_wait(ag->pid), T_KILLED);
    agent_close(ag);
}

/* Waits until the agent stops inside its copy (hook 1). */
static void agent_wait_stopped(struct agent *ag)
{
#ifdef _WIN32
    assert_non_null(ag->stopped);
    HANDLE both[2] = {ag->stopped, (HANDLE)ag->pid};
    DWORD w = WaitForMultipleObjects(2, both, FALSE, REPLY_MS);
    if (w != WAIT_OBJECT_0) {
        fail_msg("the agent did not reach its mid-copy pause (wait result %lu)", (unsigned long)w);
    }
#else
    int st;
    pid_t r;
    while ((r = waitpid((pid_t)ag->pid, &st, WUNTRACED)) < 0 && errno == EINTR) {
    }
    assert_int_equal(r, (pid_t)ag->pid);
    assert_true(WIFSTOPPED(st));
#endif
}

/* The header of the mapping SHMRING_COMPAT_NAME names (or name), mapped here (the library's own
 * handle is private to it), so that a process can watch the value's sequence number, or a test
 * play a hostile peer. NULL when the object does not exist. POSIX: /dev/shm/<name>; Windows: the
 * section Local\shmring-<name>.mem. */
static struct shmring__hdr *map_value(const char *name, int writable)
{
    if (name == NULL) {
        name = getenv(NAME_ENV);
    }
#ifdef _WIN32
    wchar_t wname[300];
    swprintf(wname, sizeof wname / sizeof wname[0], L"Local\\shmring-%hs.mem",
             name != NULL ? name : "");
    DWORD access = writable ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ;
    HANDLE m = OpenFileMappingW(access, FALSE, wname);
    if (m == NULL) {
        return NULL;
    }
    void *p = MapViewOfFile(m, access, 0, 0, SHMRING_COMPAT_SIZE);
    CloseHandle(m); /* the view keeps the section */
    return p;
#else
    char path[300];
    snprintf(path, sizeof path, "/%s", name != NULL ? name : "");
    int fd = shm_open(path, writable ? O_RDWR : O_RDONLY, 0);
    if (fd < 0) {
        return NULL;
    }
    void *p = mmap(NULL, SHMRING_COMPAT_SIZE, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                   MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
#endif
}

static struct shmring__hdr *map_value_header(void)
{
    return map_value(NULL, 0);
}

static void unmap_value(struct shmring__hdr *h)
{
#ifdef _WIN32
    UnmapViewOfFile(h);
#else
    munmap(h, SHMRING_COMPAT_SIZE);
#endif
}

#ifndef _WIN32
/* 'F': a forked child must see the value its parent sees (after re-attaching: the inherited
 * handle is dropped), set newval, read it back, and leave through exit(). */
static int agent_fork_check(const char *newval)
{
    char before[MAXS + 1];
    GetSharedMem(before, sizeof before);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        char got[MAXS + 1];
        GetSharedMem(got, sizeof got);
        if (strcmp(got, before) != 0 || shmring_compat_status() != 0) {
            _exit(11);
        }
        SetSharedMem(newval);
        if (shmring_compat_status() != 0) {
            _exit(12);
        }
        GetSharedMem(got, sizeof got);
        if (strcmp(got, newval) != 0) {
            _exit(13);
        }
        exit(0);
    }
    return t_wait(pid);
}
#endif

/* Waits until a set has begun: every set moves the sequence number away from `from` (W1 or W3 in
 * legacy_value.c) before it copies a byte, and with hook 2 it then sleeps 300 ms in the middle of
 * its copy. A fixed pause instead would race with a setter that a loaded machine has not run yet.
 * 0 once it moved, -1 after REPLY_MS. */
static int await_set_started(struct shmring__hdr *h, uint64_t from)
{
    int64_t end = t_now_ms() + REPLY_MS;
    while (atomic_load(&h->legacy_seq) == from) {
        if (t_now_ms() > end) {
            return -1;
        }
        shmring__plat_sleep_ns(200000);
    }
    return 0;
}

/* 'W' (with hook 2): while a thread of this process overwrites the value in place and sleeps in
 * the middle of its copy, another thread's get must wait for it (the kernel lock of our own
 * process is invisible to us, so only the process-local flag says the writer lives) and return
 * the new value, not "" with -EOWNERDEAD. */
static void *local_setter(void *p)
{
    SetSharedMem(p);
    return NULL;
}

static int agent_local_overwrite(const char *val)
{
    thr_t th;
    char got[MAXS + 1];
    struct shmring__hdr *h = map_value_header();
    if (h == NULL) {
        return 1001;
    }
    uint64_t from = atomic_load(&h->legacy_seq);
    if (thr_create(&th, local_setter, (void *)(uintptr_t)val) != 0) {
        unmap_value(h);
        return -1;
    }
    int started = await_set_started(h, from); /* the setter is inside its 300 ms pause now */
    GetSharedMem(got, sizeof got);
    int rc = shmring_compat_status();
    thr_join(th);
    unmap_value(h);
    if (started != 0) {
        return 1002;
    }
    if (rc == 0 && strcmp(got, val) != 0) {
        rc = 1000;
    }
    return rc;
}

/* 'V' (with hook 2): a second thread's set that starts while the first one sleeps inside its copy
 * waits for it (the kernel lock does not exclude threads of one process) and wins. Its value is
 * one byte, which the hook does not pause: without the wait, the first setter would finish last
 * and publish its value with the second's byte in it. */
static int agent_two_setters(void)
{
    static char v1[MAXS + 1];
    char got[MAXS + 1];
    thr_t th;
    sc_make(v1, 1500, 7, 1);
    struct shmring__hdr *h = map_value_header();
    if (h == NULL) {
        return 1001;
    }
    uint64_t from = atomic_load(&h->legacy_seq);
    if (thr_create(&th, local_setter, v1) != 0) {
        unmap_value(h);
        return -1;
    }
    int started = await_set_started(h, from); /* the first setter is inside its pause now */
    SetSharedMem("Z");
    int rc = shmring_compat_status();
    thr_join(th);
    unmap_value(h);
    if (started != 0) {
        return 1002;
    }
    GetSharedMem(got, sizeof got);
    if (rc == 0) {
        rc = shmring_compat_status();
    }
    if (rc == 0 && strcmp(got, "Z") != 0) {
        rc = 1000;
    }
    return rc;
}

/* 'T': nthreads threads of one process, half setting, half getting self-checking strings. */
struct thr {
    unsigned id;
    uint32_t iters;
    int setter;
    int bad;
};

static void *thr_main(void *p)
{
    struct thr *t = p;
    char s[MAXS + 1];
    uint64_t rnd = t->id * 7919 + 1;
    for (uint32_t i = 0; i < t->iters; i++) {
        if (t->setter) {
            size_t len = t_rand(&rnd) % 4 == 0 ? 1500 + t_rand(&rnd) % (MAXS - 1500 + 1)
                                               : SC_HDR + t_rand(&rnd) % 300;
            sc_make(s, len, t->id, i);
            SetSharedMem(s);
            t->bad += shmring_compat_status() != 0;
        } else {
            unsigned id;
            uint64_t seq;
            GetSharedMem(s, sizeof s);
            t->bad += shmring_compat_status() != 0 || !sc_check(s, &id, &seq);
        }
    }
    return NULL;
}

static int agent_threads(uint32_t nthreads, uint32_t iters)
{
    thr_t th[16];
    struct thr t[16];
    char s[MAXS + 1];
    if (nthreads > 16) {
        return -1;
    }
    sc_make(s, 100, 99, 0); /* getters never see "" */
    SetSharedMem(s);
    for (uint32_t i = 0; i < nthreads; i++) {
        t[i] = (struct thr){.id = i, .iters = iters, .setter = i % 2 == 0, .bad = 0};
        if (thr_create(&th[i], thr_main, &t[i]) != 0) {
            return -1;
        }
    }
    int bad = 0;
    for (uint32_t i = 0; i < nthreads; i++) {
        thr_join(th[i]);
        bad += t[i].bad;
    }
    return bad;
}

/* ---- helpers for the test process -------------------------------------------------------------
 */

/* Gives this test its own name (inherited by the agents it starts afterwards). */
static const char *use_name(const char *tag, char *keep, size_t cap)
{
    snprintf(keep, cap, "%s", t_name(tag));
    env_set(NAME_ENV, keep);
    (void)shmring_unlink(keep); /* a leftover of an earlier, killed run (Windows: none, ENOSYS) */
    return keep;
}

static void pattern(char *s, size_t len, char base)
{
    for (size_t i = 0; i < len; i++) {
        s[i] = (char)(base + i % 23);
    }
    s[len] = '\0';
}

/* ---- tests -------------------------------------------------------------------------------------
 */

static void test_two_processes(void **state)
{
    (void)state;
    char name[256];
    use_name("two", name, sizeof name);
    struct agent a;
    struct agent b;
    agent_start(&a, 0);
    agent_start(&b, 0);
    assert_get(&a, 0, ""); /* before any set */
    assert_true(t_shm_exists(name));
    assert_int_equal(agent_set(&a, "hello from A"), 0);
    for (int i = 0; i < 3; i++) { /* reads do not consume */
        assert_get(&b, 0, "hello from A");
    }
    assert_int_equal(agent_set(&b, "and now from B"), 0);
    assert_get(&a, 0, "and now from B");
    assert_int_equal(agent_set(&a, ""), 0); /* the empty string is a value like any other */
    assert_get(&b, 0, "");
    agents_exit(name, &a, &b);
}

/* A get that starts after a set returned (in another process) sees that value: the pipe round
 * trip orders them. Lengths vary so that both placements and the in-place overwrite occur. */
static void test_get_after_set(void **state)
{
    (void)state;
    char name[256];
    char want[MAXS + 1];
    use_name("order", name, sizeof name);
    struct agent ag[2];
    agent_start(&ag[0], 0);
    agent_start(&ag[1], 0);
    for (unsigned i = 0; i < 2000; i++) {
        size_t len = i % 5 == 4 ? 2000 + (i * 131) % (MAXS - 2000) : SC_HDR + (i * 37) % 500;
        sc_make(want, len, i % 2, i);
        assert_int_equal(agent_set(&ag[i % 2], want), 0);
        assert_get(&ag[(i + 1) % 2], 0, want);
    }
    struct agent late;
    agent_start(&late, 0); /* a process started afterwards sees the last value too */
    assert_get(&late, 0, want);
    assert_int_equal(agent_exit(&late), 0);
    agents_exit(name, &ag[0], &ag[1]);
}

static void test_truncation(void **state)
{
    (void)state;
    char name[256];
    static char s[6000];
    static char got[MAXS + 1];
    use_name("trunc", name, sizeof name);
    struct agent a;
    agent_start(&a, 0);
    static const size_t lens[] = {MAXS - 1, MAXS, MAXS + 1, 5000, 1, 0};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        pattern(s, lens[i], (char)('A' + i));
        assert_int_equal(agent_set(&a, s), 0);
        assert_int_equal(agent_get(&a, got), 0);
        size_t want = lens[i] < MAXS ? lens[i] : MAXS;
        assert_int_equal(strlen(got), want);
        assert_memory_equal(got, s, want);
    }
    agents_exit(name, &a, NULL);
}

/* cchSize 0, 1, exact, short, and larger than the real buffer: never a byte past the bound. */
static void test_cch_size(void **state)
{
    (void)state;
    char name[256];
    char buf[64];
    use_name("cch", name, sizeof name);
    struct agent a;
    agent_start(&a, 0);
    const char *v = "hello world"; /* 11 bytes */
    assert_int_equal(agent_set(&a, v), 0);
    char guard[64];
    memset(guard, GUARD, sizeof guard);

    assert_int_equal(agent_get_raw(&a, 0, 16, buf), 0); /* 0: nothing written */
    assert_memory_equal(buf, guard, 16);

    assert_int_equal(agent_get_raw(&a, 1, 16, buf), 0); /* 1: just the terminator */
    assert_int_equal(buf[0], '\0');
    assert_memory_equal(buf + 1, guard, 15);

    assert_int_equal(agent_get_raw(&a, 12, 16, buf), 0); /* exact: the string and its NUL */
    assert_string_equal(buf, v);
    assert_memory_equal(buf + 12, guard, 4);

    assert_int_equal(agent_get_raw(&a, 11, 16, buf), 0); /* one short: cut by one */
    assert_string_equal(buf, "hello worl");
    assert_memory_equal(buf + 11, guard, 5);

    assert_int_equal(agent_get_raw(&a, 6, 16, buf), 0); /* short */
    assert_string_equal(buf, "hello");
    assert_memory_equal(buf + 6, guard, 10);

#ifdef _WIN32
    /* Windows: cchSize is the Delphi caller's signed Integer, and a negative one (here -1)
     * writes nothing. */
    assert_int_equal(agent_get_raw(&a, UINT_MAX, 64, buf), 0);
    assert_memory_equal(buf, guard, 64);
#else
    /* A caller that passes a size larger than its buffer (e.g. a negative Pascal Integer): only
     * the string and its NUL are written. */
    assert_int_equal(agent_get_raw(&a, UINT_MAX, 64, buf), 0);
    assert_string_equal(buf, v);
    assert_memory_equal(buf + 12, guard, 52);
#endif
    agents_exit(name, &a, NULL);
}

static void test_null_arguments(void **state)
{
    (void)state;
    char name[256];
    char buf[16];
    char guard[16];
    memset(guard, GUARD, sizeof guard);
    use_name("null", name, sizeof name);
    struct agent a;
    agent_start(&a, 0);
    /* No-ops do not even attach. */
    assert_int_equal(agent_call(&a, 'Z', 0, 0, NULL), 0);
    assert_int_equal(agent_call(&a, 'N', 100, 0, NULL), 0);
    assert_int_equal(agent_get_raw(&a, 0, 16, buf), 0);
    assert_memory_equal(buf, guard, 16);
    assert_false(t_shm_exists(name));
    /* And once attached they change nothing. */
    assert_int_equal(agent_set(&a, "keep me"), 0);
    assert_int_equal(agent_call(&a, 'Z', 0, 0, NULL), 0);
    assert_int_equal(agent_call(&a, 'N', 100, 0, NULL), 0);
    assert_get(&a, 0, "keep me");
    agents_exit(name, &a, NULL);
}

static int child_uses_queue_only(void *arg)
{
    const char *qname = arg; /* a flat copy of the test's char array */
    shmring *r;
    if (shmring_open(qname, SHMRING_PRODUCER, NULL, &r) != 0) {
        return 1;
    }
    shmring_send(r, "x", 1);
    (void)shmring_compat_status();
    shmring_close(r);
    return 0;
}

/* A program that never calls the functions never creates the mapping (not even when it uses the
 * rest of the library, or asks for the status). */
static void test_never_called(void **state)
{
    (void)state;
    char name[256];
    char qname[256];
    use_name("never", name, sizeof name);
    snprintf(qname, sizeof qname, "%s", t_name("never-q"));
    struct agent a;
    agent_start(&a, 0);
    assert_int_equal(agent_status(&a), 0);
    assert_false(t_shm_exists(name));
    assert_int_equal(agent_exit(&a), 0);
    t_proc pid = t_spawn_flat(child_uses_queue_only, qname, sizeof qname);
    assert_true(pid != -1);
    assert_int_equal(t_proc_wait(pid), 0);
    assert_false(t_shm_exists(name));
    assert_false(t_shm_exists(qname));
}

/* Lifetime after normal exits: the name lives while someone is attached, then is removed. */
static void test_lifetime_exit(void **state)
{
    (void)state;
    char name[256];
    char got[MAXS + 1];
    use_name("life", name, sizeof name);
    struct agent a;
    struct agent b;
    agent_start(&a, 0);
    agent_start(&b, 0);
    assert_int_equal(agent_set(&a, "lives on"), 0);
    assert_int_equal(agent_get(&b, got), 0);
    assert_int_equal(agent_exit(&a), 0);
    assert_true(t_shm_exists(name)); /* b is still attached */
    assert_get(&b, 0, "lives on");
    /* b leaves by end of input (returning from its loop through exit()). */
    assert_int_equal(agent_reap(&b), 0);
    assert_false(t_shm_exists(name));
    /* The next user starts with the empty string. */
    agent_start(&a, 0);
    assert_get(&a, 0, "");
    agents_exit(name, &a, NULL);
}

/* Every attached process killed: on POSIX the name stays (nobody could remove it); the next
 * attacher finds no live user, starts afresh, and removes the name when it exits. On Windows the
 * kernel closes the killed processes' handles, so the section is gone at once (OpenFileMappingW
 * fails) and the next attacher creates it afresh. */
static void test_lifetime_sigkill(void **state)
{
    (void)state;
    char name[256];
    use_name("kill", name, sizeof name);
    struct agent a;
    struct agent b;
    struct agent c;
    agent_start(&a, 0);
    agent_start(&b, 0);
    assert_int_equal(agent_set(&a, "doomed"), 0);
    assert_get(&b, 0, "doomed");
    agent_kill(&a);
    agent_kill(&b);
#ifdef _WIN32
    assert_false(t_shm_exists(name));
#else
    assert_true(t_shm_exists(name));
#endif
    agent_start(&c, 0);
    assert_get(&c, 0, "");
    assert_int_equal(agent_set(&c, "fresh"), 0);
    assert_get(&c, 0, "fresh");
    agents_exit(name, &c, NULL);
}

static int64_t ms_since(int64_t t0)
{
    return t_now_ms() - t0;
}

/* Starts agents a and b, sets prev through a, and starts k (hook 1), which stops half-way
 * through its set of next: half of next is in the data area then. */
static void start_midcopy(struct agent *a, struct agent *b, struct agent *k, const char *prev,
                          const char *next)
{
    agent_start(a, 0);
    agent_start(b, 0);
    agent_start(k, 1);
#ifdef _WIN32
    if (getenv(PEER_ENV) != NULL) { /* the stopped setter runs the other arch's build */
        int bytes = agent_call(k, 'B', 0, 0, NULL);
        print_message("the setter that stops is a %d-bit process, the others %d-bit\n", bytes * 8,
                      (int)sizeof(void *) * 8);
        assert_int_not_equal(bytes, (int)sizeof(void *));
    }
#endif
    assert_int_equal(agent_set(a, prev), 0);
    agent_send(k, 'S', (uint32_t)strlen(next), 0, next);
    agent_wait_stopped(k);
}

/* A setter killed (SIGKILL, TerminateProcess) inside SetSharedMem when old + new fit the data
 * area together: the previous value stays readable throughout, and later sets and gets do not
 * hang. */
static void test_kill_midcopy_fits(void **state)
{
    (void)state;
    char name[256];
    char prev[MAXS + 1];
    char next[MAXS + 1];
    use_name("midfit", name, sizeof name);
    struct agent a;
    struct agent b;
    struct agent k;
    sc_make(prev, 1500, 1, 1);
    sc_make(next, 2000, 2, 2); /* 1500 + 2000 <= 3584: written beside the previous value */
    start_midcopy(&a, &b, &k, prev, next);

    int64_t t0 = t_now_ms();
    assert_get(&b, 0, prev); /* the live, stopped setter does not block gets */
    assert_true(ms_since(t0) < 900);
    /* It does hold the setters' lock: another set gives up after about a second. */
    t0 = t_now_ms();
    assert_int_equal(agent_set(&b, "blocked"), SHMRING_ETIMEDOUT);
    int64_t waited = ms_since(t0);
    assert_true(waited >= 900 && waited < 5000);
    assert_get(&b, 0, prev);

    agent_kill(&k); /* killed inside the copy */
    assert_get(&b, 0, prev);
    assert_get(&a, 0, prev);
    t0 = t_now_ms();
    /* the kernel dropped its lock (Windows: the setter role's mutex comes back abandoned) */
    assert_int_equal(agent_set(&b, "after the kill"), 0);
    int64_t took = ms_since(t0);
    print_message("blocked set gave up after %lld ms; the set after the kill took %lld ms\n",
                  (long long)waited, (long long)took);
    assert_true(took < 900);
    assert_get(&a, 0, "after the kill");
    agents_exit(name, &a, &b);
}

/* The same when old + new do not fit together: the setter overwrites in place, so its death
 * loses the value. Getters then report "" with -EOWNERDEAD (never a torn string), and the next
 * set repairs it. While the setter is alive but stuck, gets give up after about a second. */
static void test_kill_midcopy_overwrite(void **state)
{
    (void)state;
    char name[256];
    char prev[MAXS + 1];
    char next[MAXS + 1];
    char got[MAXS + 1];
    use_name("midover", name, sizeof name);
    struct agent a;
    struct agent b;
    struct agent k;
    sc_make(prev, 3000, 1, 1);
    sc_make(next, 3000, 2, 2); /* 3000 + 3000 > 3584: in place */
    start_midcopy(&a, &b, &k, prev, next);

    int64_t t0 = t_now_ms();
    assert_int_equal(agent_get(&b, got), SHMRING_ETIMEDOUT);
    int64_t waited = ms_since(t0);
    assert_string_equal(got, "");
    assert_true(waited >= 900 && waited < 5000);

    agent_kill(&k);
    t0 = t_now_ms();
    assert_get(&b, SHMRING_EOWNERDEAD, "");
    assert_get(&a, SHMRING_EOWNERDEAD, "");
    assert_true(ms_since(t0) < 900);
    assert_int_equal(agent_set(&b, "repaired"), 0);
    assert_true(ms_since(t0) < 1900);
    assert_get(&a, 0, "repaired");
    assert_get(&b, 0, "repaired");
    agents_exit(name, &a, &b);
}

/* A hostile or buggy process scribbles on the value's bounds and sequence: gets report it
 * without reading outside the data area, and the next set repairs the value. */
static void test_hostile_header(void **state)
{
    (void)state;
    char name[256];
    char got[MAXS + 1];
    use_name("hostile", name, sizeof name);
    struct agent a;
    agent_start(&a, 0);
    assert_int_equal(agent_set(&a, "abc"), 0);
    struct shmring__hdr *h = map_value(name, 1);
    assert_non_null(h);
    assert_true(h->flags & SHMRING__F_LEGACY);

    static const uint64_t bad[] = {(uint64_t)4000 << 32 | 100, (uint64_t)3500 << 32 | 100,
                                   0xffffffffULL, (uint64_t)0xffffffff << 32 | 0xffffffff,
                                   (uint64_t)1 << 32 | DATA_CAP};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atomic_store(&h->legacy_cur, bad[i]);
        assert_get(&a, SHMRING_EPROTO, "");
        assert_int_equal(agent_set(&a, "fixed"), 0);
        assert_get(&a, 0, "fixed");
    }
    /* An odd sequence with no setter alive looks like a setter that died overwriting. */
    atomic_store(&h->legacy_seq, atomic_load(&h->legacy_seq) | 1);
    assert_int_equal(agent_get(&a, got), SHMRING_EOWNERDEAD);
    assert_int_equal(agent_set(&a, "again"), 0);
    assert_get(&a, 0, "again");
    unmap_value(h);
    agents_exit(name, &a, NULL);
}

/* A failed attach is reported by shmring_compat_status, leaves "" in the buffer, and is retried
 * on the next call. */
static void test_attach_errors(void **state)
{
    (void)state;
    char name[256];
    char qname[256];
    char got[MAXS + 1];
    use_name("attach", name, sizeof name);
    snprintf(qname, sizeof qname, "%s", t_name("attach-q"));
    struct agent a;
    agent_start(&a, 0);
    agent_setenv_name(&a, "bad/name");
    assert_get(&a, SHMRING_EINVAL, "");
    assert_int_equal(agent_set(&a, "x"), SHMRING_EINVAL);
    assert_int_equal(agent_status(&a), SHMRING_EINVAL);

    /* A queue under that name is not a set/get mapping. */
    shmring *q;
    assert_int_equal(shmring_open(qname, SHMRING_PRODUCER, NULL, &q), 0);
    agent_setenv_name(&a, qname);
    assert_int_equal(agent_set(&a, "x"), SHMRING_EPROTO);
    assert_int_equal(agent_get(&a, got), SHMRING_EPROTO);
    assert_int_equal(shmring_close(q), 0);
    assert_false(t_shm_exists(qname));

    /* Retried on the next call: now it works. */
    assert_int_equal(agent_set(&a, "works now"), 0);
    assert_get(&a, 0, "works now");
    assert_true(t_shm_exists(qname));
    agents_exit(qname, &a, NULL);
    assert_false(t_shm_exists(name));
}

#ifndef _WIN32
/* A forked child drops the inherited attachment and re-attaches on its first call; its exit
 * does not remove the name while the parent is attached. */
static void test_fork_child(void **state)
{
    (void)state;
    char name[256];
    use_name("fork", name, sizeof name);
    struct agent a;
    agent_start(&a, 0);
    assert_int_equal(agent_set(&a, "set by the parent"), 0);
    const char *v = "set by the child";
    assert_int_equal(agent_call(&a, 'F', (uint32_t)strlen(v), 0, v), 0);
    assert_true(t_shm_exists(name));
    assert_get(&a, 0, v);
    agents_exit(name, &a, NULL);
}
#endif

/* Threads of one process share one lock owner in the kernel: they must still never tear. */
static void test_threads_one_process(void **state)
{
    (void)state;
    char name[256];
    use_name("threads", name, sizeof name);
    struct agent a;
    struct agent b;
    agent_start(&a, 0);
    agent_start(&b, 0);
    uint32_t iters = 20000; /* per thread; COMPAT_THREADS_ITERS overrides (wine) */
    const char *iters_env = getenv("COMPAT_THREADS_ITERS");
    if (iters_env != NULL) {
        iters = (uint32_t)strtoul(iters_env, NULL, 10);
    }
    agent_send(&a, 'T', 4, iters, NULL);
    agent_send(&b, 'T', 4, iters, NULL);
    assert_int_equal(agent_reply(&a), 0);
    assert_int_equal(agent_reply(&b), 0);
    agents_exit(name, &a, &b);
}

/* An in-place overwrite by a live setter that takes long: readers of the same process and of
 * other processes wait for it and get the new value. */
static void test_slow_overwrite(void **state)
{
    (void)state;
    char name[256];
    char prev[MAXS + 1];
    char next[MAXS + 1];
    use_name("slow", name, sizeof name);
    struct agent a;
    struct agent w;
    agent_start(&a, 0);
    agent_start(&w, 2);
    sc_make(prev, 3000, 1, 1);
    sc_make(next, 3000, 2, 2);
    assert_int_equal(agent_set(&a, prev), 0);
    struct shmring__hdr *h = map_value_header();
    assert_non_null(h);
    uint64_t from = atomic_load(&h->legacy_seq);
    agent_send(&w, 'W', (uint32_t)strlen(next), 0, next);
    assert_int_equal(await_set_started(h, from), 0); /* w's setter sleeps inside its copy now */
    unmap_value(h);
    assert_get(&a, 0, next);              /* another process */
    assert_int_equal(agent_reply(&w), 0); /* a thread of the writer's own process */
    sc_make(prev, 3000, 1, 3);
    /* Once more, without the reader. */
    assert_int_equal(agent_call(&w, 'W', (uint32_t)strlen(prev), 0, prev), 0);
    assert_int_equal(agent_call(&w, 'V', 0, 0, NULL), 0);
    agents_exit(name, &a, &w);
}

/* Calls from an exit handler that runs after the library's own (which detached the process)
 * still work while another process uses the name, and the last detacher still removes it. */
static void test_call_from_exit_handler(void **state)
{
    (void)state;
    char name[256];
    char got[MAXS + 1];
    use_name("atexit", name, sizeof name);
    struct agent a;
    struct agent b;
    agent_start(&a, 0);
    agent_start(&b, 0);
    assert_int_equal(agent_call(&a, 'A', 0, 0, NULL), 0);
    assert_int_equal(agent_set(&a, "before exit"), 0);
    assert_int_equal(agent_get(&b, got), 0);
    assert_int_equal(agent_exit_handler_report(&a, got), 0);
    assert_string_equal(got, "before exit");
    assert_get(&b, 0, "set at exit");
    agents_exit(name, &b, NULL);

    /* Alone: the library's exit handler was the last detacher and removed the name (the value is
     * gone). A call after exit never creates it again (the process could end inside the call and
     * leave it behind): the get reports SHMRING_ENOENT with "", the set does nothing. */
    agent_start(&a, 0);
    assert_int_equal(agent_call(&a, 'A', 0, 0, NULL), 0);
    assert_int_equal(agent_set(&a, "alone"), 0);
    assert_int_equal(agent_exit_handler_report(&a, got), SHMRING_ENOENT);
    assert_string_equal(got, "");
    assert_false(t_shm_exists(name));
}

/* Without SHMRING_COMPAT_NAME the name is "dllmemfilemap", as in the DLL. */
static void test_default_name(void **state)
{
    (void)state;
    char keep[256];
    use_name("default", keep, sizeof keep);
    if (t_shm_exists(SHMRING_COMPAT_DEFAULT_NAME)) {
        print_message("skipped: /dev/shm/%s is in use by someone else\n",
                      SHMRING_COMPAT_DEFAULT_NAME);
        return;
    }
    struct agent a;
    agent_start(&a, 0);
    agent_setenv_name(&a, "");
    assert_int_equal(agent_set(&a, "default"), 0);
    assert_true(t_shm_exists(SHMRING_COMPAT_DEFAULT_NAME));
    agents_exit(SHMRING_COMPAT_DEFAULT_NAME, &a, NULL);
}

/* ---- stress: 4 setter and 4 getter processes
 * ------------------------------------------------------ */

#define ST_SETTERS 4
#define ST_GETTERS 4
#define ST_OPS     200000 /* each; COMPAT_STRESS_OPS overrides (tests/compat.cmake: wine) */

struct st_result {
    uint64_t ops, torn, errors, stale, overwrites;
};

struct st_shared {
    _Atomic int ready;
    _Atomic int go;
    struct st_result r[ST_SETTERS + ST_GETTERS];
};

/* A flat argument (t_spawn_flat): POSIX children inherit the anonymous mapping at sh; Windows
 * children open the named section map instead. */
struct st_arg {
    struct st_shared *sh;
    char map[96];
    unsigned id;
    uint64_t ops;
};

static struct st_shared *st_map(const char *map, int create)
{
#ifdef _WIN32
    HANDLE m = create ? CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                                           sizeof(struct st_shared), map)
                      : OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, map);
    if (m == NULL) {
        return NULL;
    }
    /* The parent keeps its section handle (closed at exit) so that the name stays. */
    void *p = MapViewOfFile(m, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, sizeof(struct st_shared));
    if (!create) {
        CloseHandle(m);
    }
    return p;
#else
    (void)map;
    (void)create;
    void *p = mmap(NULL, sizeof(struct st_shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
#endif
}

static void st_unmap(struct st_shared *sh)
{
#ifdef _WIN32
    UnmapViewOfFile(sh);
#else
    munmap(sh, sizeof *sh);
#endif
}

/* The child's view of the shared block. */
static struct st_shared *st_shared_of(struct st_arg *a)
{
#ifdef _WIN32
    return st_map(a->map, 0);
#else
    return a->sh;
#endif
}

/* 0 once the test says go; -1 when it has not within a minute (it failed or was killed: a
 * child must not wait for ever). */
static int st_start(struct st_shared *sh)
{
    char s[64];
    GetSharedMem(s, sizeof s); /* attach before the clock starts */
    atomic_fetch_add(&sh->ready, 1);
    int64_t end = t_now_ms() + 60000;
    while (!atomic_load(&sh->go)) {
        if (t_now_ms() > end) {
            return -1;
        }
        sleep_ms(1);
    }
    return 0;
}

static int st_setter(void *p)
{
    struct st_arg *a = p;
    struct st_shared *sh = st_shared_of(a);
    if (sh == NULL) {
        return 90;
    }
    struct st_result *r = &sh->r[a->id];
    static char s[MAXS + 1];
    uint64_t rnd = a->id * 2654435761u + 17;
    size_t prev = 0;
    if (st_start(sh) != 0) {
        return 91;
    }
    for (uint64_t i = 1; i <= a->ops; i++) {
        /* Mostly short strings; one in four long, so that long + long overwrites in place. */
        size_t len = t_rand(&rnd) % 4 == 0 ? 1500 + t_rand(&rnd) % (MAXS - 1500 + 1)
                                           : SC_HDR + t_rand(&rnd) % 400;
        sc_make(s, len, a->id, i);
        SetSharedMem(s);
        r->errors += shmring_compat_status() != 0;
        r->overwrites += prev + len > DATA_CAP; /* a lower bound: other setters interleave */
        prev = len;
        r->ops++;
    }
    return 0;
}

static int st_getter(void *p)
{
    struct st_arg *a = p;
    struct st_shared *sh = st_shared_of(a);
    if (sh == NULL) {
        return 90;
    }
    struct st_result *r = &sh->r[a->id];
    static char s[MAXS + 1];
    uint64_t last[ST_SETTERS + 1] = {0};
    if (st_start(sh) != 0) {
        return 91;
    }
    for (uint64_t i = 0; i < a->ops; i++) {
        GetSharedMem(s, sizeof s);
        unsigned id;
        uint64_t seq;
        if (shmring_compat_status() != 0) {
            r->errors++;
        } else if (!sc_check(s, &id, &seq) || id > ST_SETTERS) {
            if (r->torn++ < 5) {
                fprintf(stderr, "getter %u: torn read: \"%.60s...\" (%zu bytes)\n", a->id, s,
                        strlen(s));
            }
        } else if (seq < last[id]) {
            r->stale++; /* a value older than one this getter already saw from that setter */
        } else {
            last[id] = seq;
        }
        r->ops++;
    }
    return 0;
}

static void test_stress(void **state)
{
    (void)state;
    char name[256];
    char first[128];
    char map[96];
    use_name("stress", name, sizeof name);
    snprintf(map, sizeof map, "Local\\shmring-test-compat-stress-%d", (int)shmring__plat_pid());
    uint64_t ops = ST_OPS;
    const char *ops_env = getenv("COMPAT_STRESS_OPS");
    if (ops_env != NULL) {
        ops = strtoull(ops_env, NULL, 10);
    }
    struct st_shared *sh = st_map(map, 1);
    assert_non_null(sh);
    memset(sh, 0, sizeof *sh);
    struct agent keeper; /* sets the first value (getters never see "") and stays attached */
    agent_start(&keeper, 0);
    sc_make(first, 100, ST_SETTERS, 0);
    assert_int_equal(agent_set(&keeper, first), 0);

    struct st_arg args[ST_SETTERS + ST_GETTERS];
    t_proc pids[ST_SETTERS + ST_GETTERS];
    for (unsigned i = 0; i < ST_SETTERS + ST_GETTERS; i++) {
        args[i] = (struct st_arg){.sh = sh, .id = i, .ops = ops};
        snprintf(args[i].map, sizeof args[i].map, "%s", map);
        pids[i] = t_spawn_flat(i < ST_SETTERS ? st_setter : st_getter, &args[i], sizeof args[i]);
        assert_true(pids[i] != -1);
    }
    while (atomic_load(&sh->ready) < ST_SETTERS + ST_GETTERS) {
        sleep_ms(1);
    }
    int64_t t0 = t_now_ms();
    atomic_store(&sh->go, 1);
    for (unsigned i = 0; i < ST_SETTERS + ST_GETTERS; i++) {
        assert_int_equal(t_proc_wait(pids[i]), 0);
    }
    int64_t ms = ms_since(t0);
    struct st_result sum = {0};
    for (unsigned i = 0; i < ST_SETTERS + ST_GETTERS; i++) {
        struct st_result *r = &sh->r[i];
        print_message("%s %u: %llu ops, %llu torn, %llu errors, %llu stale\n",
                      i < ST_SETTERS ? "setter" : "getter", i, (unsigned long long)r->ops,
                      (unsigned long long)r->torn, (unsigned long long)r->errors,
                      (unsigned long long)r->stale);
        assert_int_equal(r->ops, ops);
        sum.torn += r->torn;
        sum.errors += r->errors;
        sum.stale += r->stale;
        sum.overwrites += r->overwrites;
    }
    print_message("%d ms; at least %llu in-place overwrites\n", (int)ms,
                  (unsigned long long)sum.overwrites);
    assert_int_equal(sum.torn, 0);
    assert_int_equal(sum.errors, 0);
    assert_int_equal(sum.stale, 0);
    assert_true(sum.overwrites > 0);
    agents_exit(name, &keeper, NULL);
    st_unmap(sh);
}

int main(int argc, char **argv)
{
#ifdef _WIN32
    if (argc == 5 && strcmp(argv[1], "agent") == 0) {
        g_parent = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)strtoul(argv[4], NULL, 10));
        agent_main((chan)strtoull(argv[2], NULL, 10), (chan)strtoull(argv[3], NULL, 10));
        return 0;
    }
#else
    signal(SIGPIPE, SIG_IGN);
    if (argc == 4 && strcmp(argv[1], "agent") == 0) {
        agent_main(atoi(argv[2]), atoi(argv[3]));
        return 0;
    }
#endif
    if (getenv("COMPAT_TEST_FILTER") != NULL) { /* e.g. COMPAT_TEST_FILTER='*kill*' */
        cmocka_set_test_filter(getenv("COMPAT_TEST_FILTER"));
    }
    if (argc > 1 && strcmp(argv[1], "stress") == 0) {
        const struct CMUnitTest stress[] = {cmocka_unit_test_teardown(test_stress, kill_agents)};
        return cmocka_run_group_tests_name("compat_stress", stress, NULL, NULL);
    }
    if (argc > 1 && strcmp(argv[1], "threads") == 0) {
        const struct CMUnitTest threads[] = {
            cmocka_unit_test_teardown(test_threads_one_process, kill_agents),
            cmocka_unit_test_teardown(test_slow_overwrite, kill_agents),
        };
        return cmocka_run_group_tests_name("compat_threads", threads, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_two_processes, kill_agents),
        cmocka_unit_test_teardown(test_get_after_set, kill_agents),
        cmocka_unit_test_teardown(test_truncation, kill_agents),
        cmocka_unit_test_teardown(test_cch_size, kill_agents),
        cmocka_unit_test_teardown(test_null_arguments, kill_agents),
        cmocka_unit_test_teardown(test_never_called, kill_agents),
        cmocka_unit_test_teardown(test_lifetime_exit, kill_agents),
        cmocka_unit_test_teardown(test_lifetime_sigkill, kill_agents),
        cmocka_unit_test_teardown(test_kill_midcopy_fits, kill_agents),
        cmocka_unit_test_teardown(test_kill_midcopy_overwrite, kill_agents),
        cmocka_unit_test_teardown(test_hostile_header, kill_agents),
        cmocka_unit_test_teardown(test_attach_errors, kill_agents),
#ifndef _WIN32 /* fork: a child that inherits an attachment (Windows has no fork) */
        cmocka_unit_test_teardown(test_fork_child, kill_agents),
#endif
        cmocka_unit_test_teardown(test_call_from_exit_handler, kill_agents),
        cmocka_unit_test_teardown(test_default_name, kill_agents),
    };
    return cmocka_run_group_tests_name("compat", tests, NULL, NULL);
}
