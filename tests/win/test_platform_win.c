/* SPDX-License-Identifier: MIT */
/* The Windows platform layer (src/win/platform_win.c) against its contract, with real processes:
 * the test re-launches its own program (CreateProcessW) as the peer: "child OP NAME [ARG]...".
 * A child reports through the segment (struct report at REPORT_OFF) and its exit code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <aclapi.h>
#include "t_cmocka.h" /* CMocka; assertions end paths for the analyzer */

#include "platform.h"
#include "platform_win.h"
#include "t_create_process_win.h"

#define SEG_SIZE   65536u
#define WORD_OFF   256u  /* a wait word */
#define REPORT_OFF 1024u /* struct report of the last child */
#define DATA_OFF   2048u /* bytes the processes exchange */
#define CHILD_FAIL 200   /* exit code of a child whose own set-up failed */

struct report {
    int32_t created, alone, take, held, wait, pad;
    int64_t elapsed_ns;
};

static char g_exe[MAX_PATH];
static int g_seq;

static void t_name(char *out, size_t cap)
{
    snprintf(out, cap, "tpw-%lu-%d", (unsigned long)GetCurrentProcessId(), ++g_seq);
}

/* "Local\shmtest-<name>-<what>": the events a parent and its child meet on. */
static HANDLE test_event(const char *name, const char *what)
{
    char n[300];
    snprintf(n, sizeof(n), "Local\\shmtest-%s-%s", name, what);
    return CreateEventA(NULL, TRUE, FALSE, n);
}

static PROCESS_INFORMATION spawn(const char *op, const char *name, const char *arg1,
                                 const char *arg2)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "\"%s\" child %s %s %s %s", g_exe, op, name, arg1 ? arg1 : "-",
             arg2 ? arg2 : "-");
    STARTUPINFOA si = {.cb = sizeof(si)};
    PROCESS_INFORMATION pi = {0};
    assert_true(t_create_process_a(NULL, cmd, FALSE, &si, &pi));
    CloseHandle(pi.hThread);
    return pi;
}

static DWORD reap(PROCESS_INFORMATION *pi, DWORD timeout_ms)
{
    assert_int_equal(WaitForSingleObject(pi->hProcess, timeout_ms), WAIT_OBJECT_0);
    DWORD code = 0;
    assert_true(GetExitCodeProcess(pi->hProcess, &code));
    CloseHandle(pi->hProcess);
    return code;
}

static void wait_ready(const char *name, PROCESS_INFORMATION *pi)
{
    HANDLE ready = test_event(name, "ready");
    HANDLE w[2] = {ready, pi->hProcess};
    DWORD r = WaitForMultipleObjects(2, w, FALSE, 20000);
    CloseHandle(ready);
    assert_int_equal(r, WAIT_OBJECT_0); /* not the child ending first, not a timeout */
}

static struct report *report_of(void *base)
{
    return (struct report *)((char *)base + REPORT_OFF);
}

static _Atomic uint32_t *word_of(void *base)
{
    return (_Atomic uint32_t *)((char *)base + WORD_OFF);
}

static struct shmring__plat_seg *open_attached(const char *name, unsigned flags,
                                               struct shmring__plat_attach *at)
{
    struct shmring__plat_seg *seg = NULL;
    assert_int_equal(shmring__plat_seg_open(name, SEG_SIZE, 0, 0600, flags, &seg, at), 0);
    assert_int_equal(shmring__plat_seg_attach(seg), 0);
    return seg;
}

/* ---- the child side ----------------------------------------------------------------------------
 */

static int child_main(int argc, char **argv)
{
    if (argc < 6) {
        return CHILD_FAIL;
    }
    const char *op = argv[2], *name = argv[3];
    int arg = atoi(argv[4]);
    int arg2 = atoi(argv[5]);
    struct shmring__plat_seg *seg = NULL;
    struct shmring__plat_attach at;
    unsigned flags = strcmp(op, "create_hold") == 0 ? SHMRING_CREATE : 0;
    if (shmring__plat_seg_open(name, 0, 0, 0600, flags, &seg, &at) != 0 ||
        shmring__plat_seg_attach(seg) != 0) {
        return CHILD_FAIL;
    }
    struct report *rep = report_of(at.base);
    HANDLE ready = test_event(name, "ready");
    HANDLE quit = test_event(name, "quit");
    int code = 0;
    if (strcmp(op, "attach") == 0) {
        rep->created = at.created;
        rep->alone = at.alone;
        memcpy((char *)at.base + DATA_OFF + 64, (char *)at.base + DATA_OFF, 16); /* echo */
    } else if (strcmp(op, "take") == 0) { /* take role arg and keep it */
        rep->take = shmring__plat_role_take(seg, arg);
    } else if (strcmp(op, "try") == 0) { /* look at role arg, then try to take it */
        rep->held = shmring__plat_role_held(seg, arg);
        rep->take = shmring__plat_role_take(seg, arg);
        code = -rep->take;
    } else if (strcmp(op, "wake") == 0) { /* after arg ms: word = 0, wake side arg2 */
        Sleep((DWORD)arg);
        atomic_store_explicit(word_of(at.base), 0, memory_order_release);
        shmring__plat_wake(seg, arg2, word_of(at.base));
    } else if (strcmp(op, "wait") == 0) { /* wait on side arg2 while word == 1, arg ms */
        SetEvent(ready);
        int64_t t0 = shmring__plat_now_ns();
        rep->wait = shmring__plat_wait(seg, arg2, word_of(at.base), 1, arg * 1000000LL);
        rep->elapsed_ns = shmring__plat_now_ns() - t0;
        code = -rep->wait;
    }
    SetEvent(ready);
    if (strcmp(op, "take") == 0 || strcmp(op, "create_hold") == 0 || strcmp(op, "attach") == 0) {
        WaitForSingleObject(quit, 20000); /* or the parent kills us */
    }
    shmring__plat_seg_detach(seg, 0);
    return code;
}

/* ---- segments ----------------------------------------------------------------------------------
 */

static int section_exists(const char *name)
{
    wchar_t on[300];
    assert_int_equal(shmring__win_object_name(name, ".mem", on, 300), 0);
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, on);
    if (h != NULL) {
        CloseHandle(h);
        return 1;
    }
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    return 0;
}

static void t_open_alone_last(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    struct shmring__plat_attach a1, a2;
    struct shmring__plat_seg *s1 = open_attached(name, SHMRING_CREATE, &a1);
    assert_int_equal(a1.created, 1);
    assert_int_equal(a1.alone, 1);
    assert_int_equal(a1.size, SEG_SIZE);
    memset(a1.base, 0xab, SEG_SIZE); /* committed: every page writable */
    struct shmring__plat_seg *s2 = NULL;
    assert_int_equal(shmring__plat_seg_open(name, 0, 0, 0600, SHMRING_CREATE, &s2, &a2), 0);
    assert_int_equal(a2.created, 0);
    assert_int_equal(a2.alone, 0);
    assert_int_equal(a2.size, SEG_SIZE); /* the existing size, not the default */
    assert_int_equal(shmring__plat_seg_attach(s2), 0);
    assert_int_equal(shmring__plat_seg_others_attached(s1), 1);
    assert_int_equal(shmring__plat_seg_others_attached(s2), 1);
    assert_int_equal(((unsigned char *)a2.base)[SEG_SIZE - 1], 0xab);
    assert_int_equal(shmring__plat_seg_detach(s2, 1), 0); /* s1 still has it */
    assert_true(section_exists(name));
    assert_int_equal(shmring__plat_seg_others_attached(s1), 0);
    assert_int_equal(shmring__plat_remove_stale(name, NULL, NULL), 0); /* in use: kept */
    assert_true(section_exists(name));
    assert_int_equal(shmring__plat_seg_detach(s1, 1), 1); /* last */
    assert_false(section_exists(name));
    /* The exit handlers' form: the marks and the name go, the view stays until _forget. */
    s1 = open_attached(name, SHMRING_CREATE, &a1);
    s2 = open_attached(name, SHMRING_CREATE, &a2);
    assert_int_equal(shmring__plat_role_take(s2, SHMRING__ROLE_ID_PRODUCER), 0);
    assert_int_equal(shmring__plat_seg_release_marks(s2, 1), 0);
    assert_int_equal(shmring__plat_role_held(s1, SHMRING__ROLE_ID_PRODUCER), 0);
    assert_int_equal(shmring__plat_seg_others_attached(s1), 0);
    ((unsigned char *)a2.base)[0] = 0x5a; /* still mapped */
    assert_int_equal(shmring__plat_seg_release_marks(s1, 1), 1);
    assert_int_equal(((unsigned char *)a1.base)[0], 0x5a);
    shmring__plat_seg_forget(s2);
    shmring__plat_seg_forget(s1);
    assert_false(section_exists(name));
    /* Gone means gone: a new open without SHMRING_CREATE finds nothing. */
    assert_int_equal(shmring__plat_seg_open(name, 0, 0, 0600, 0, &s1, &a1), SHMRING_ENOENT);
    assert_null(s1);
}

static void t_open_errors(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    struct shmring__plat_attach at;
    struct shmring__plat_seg *seg = NULL;
    assert_int_equal(shmring__plat_seg_open(name, 0, 0, 0600, 0, &seg, &at), SHMRING_ENOENT);
    assert_int_equal(
        shmring__plat_seg_open(name, 0, 0, 0600, SHMRING_CREATE | SHMRING_PERSIST, &seg, &at),
        SHMRING_ENOTSUP);
    assert_int_equal(shmring__plat_seg_open(name, 0, 0, 0644, SHMRING_CREATE, &seg, &at),
                     SHMRING_ENOTSUP);
    assert_int_equal(shmring__plat_seg_open("a/b", 0, 0, 0600, SHMRING_CREATE, &seg, &at),
                     SHMRING_EINVAL);
    assert_int_equal(shmring__plat_seg_open("..", 0, 0, 0600, SHMRING_CREATE, &seg, &at),
                     SHMRING_EINVAL);
    assert_int_equal(shmring__plat_seg_open(name, 5000, 0, 0600, SHMRING_CREATE, &seg, &at),
                     SHMRING_EINVAL);
    assert_null(seg);
    struct shmring__plat_seg *s1 = open_attached(name, SHMRING_CREATE, &at);
    assert_int_equal(
        shmring__plat_seg_open(name, 0, 0, 0600, SHMRING_CREATE | SHMRING_EXCL, &seg, &at),
        SHMRING_EEXIST);
    assert_int_equal(shmring__plat_seg_open(name, 2 * SEG_SIZE, 0, 0600, 0, &seg, &at),
                     SHMRING_EINVAL);
    assert_null(seg);
    /* Neither failure left a handle behind: the only user detaches as the last. */
    assert_int_equal(shmring__plat_seg_detach(s1, 1), 1);

    /* A planted object of another type under the section's name. */
    t_name(name, sizeof(name));
    wchar_t on[300];
    assert_int_equal(shmring__win_object_name(name, ".mem", on, 300), 0);
    HANDLE planted = CreateMutexW(NULL, FALSE, on);
    assert_non_null(planted);
    assert_int_equal(shmring__plat_seg_open(name, 0, 0, 0600, SHMRING_CREATE, &seg, &at),
                     SHMRING_EACCES);
    CloseHandle(planted);
    /* abort of a created segment removes it. */
    assert_int_equal(shmring__plat_seg_open(name, 0, 0, 0600, SHMRING_CREATE, &seg, &at), 0);
    assert_int_equal(at.size, SHMRING_DEFAULT_SIZE);
    shmring__plat_seg_abort(seg);
    assert_false(section_exists(name));
}

static void t_second_process_attaches(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    struct shmring__plat_attach at;
    struct shmring__plat_seg *seg = open_attached(name, SHMRING_CREATE, &at);
    memcpy((char *)at.base + DATA_OFF, "from the parent", 16);
    HANDLE quit = test_event(name, "quit");
    PROCESS_INFORMATION pi = spawn("attach", name, NULL, NULL);
    wait_ready(name, &pi);
    struct report *rep = report_of(at.base);
    assert_int_equal(rep->created, 0);
    assert_int_equal(rep->alone, 0);
    assert_memory_equal((char *)at.base + DATA_OFF + 64, "from the parent", 16);
    /* The child still has it: we are not the last. */
    assert_int_equal(shmring__plat_seg_detach(seg, 1), 0);
    assert_true(section_exists(name));
    SetEvent(quit);
    assert_int_equal(reap(&pi, 10000), 0);
    assert_false(section_exists(name)); /* the child's detach was the last */
    CloseHandle(quit);
}

static void t_killed_holder_leaves_nothing(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    PROCESS_INFORMATION pi = spawn("create_hold", name, NULL, NULL);
    wait_ready(name, &pi);
    assert_true(section_exists(name));
    TerminateProcess(pi.hProcess, 9);
    assert_int_equal(reap(&pi, 10000), 9);
    /* The kernel closed the dead creator's handles: the memory went with them. */
    assert_false(section_exists(name));
    struct shmring__plat_attach at;
    struct shmring__plat_seg *seg = open_attached(name, SHMRING_CREATE, &at);
    assert_int_equal(at.alone, 1); /* nobody inflated any count */
    assert_int_equal(shmring__plat_seg_detach(seg, 1), 1);
}

/* ---- roles -------------------------------------------------------------------------------------
 */

struct take_arg {
    struct shmring__plat_seg *seg;
    int role, result;
    int64_t timeout_ns, done_ns;
};

static DWORD WINAPI take_thread(LPVOID p)
{
    struct take_arg *a = p;
    a->result = a->timeout_ns == 0 ? shmring__plat_role_take(a->seg, a->role)
                                   : shmring__plat_role_take_wait(a->seg, a->role, a->timeout_ns);
    a->done_ns = shmring__plat_now_ns();
    return 0;
}

static int take_on_thread(struct take_arg *a)
{
    HANDLE th = CreateThread(NULL, 0, take_thread, a, 0, NULL);
    assert_non_null(th);
    assert_int_equal(WaitForSingleObject(th, 20000), WAIT_OBJECT_0);
    CloseHandle(th);
    return a->result;
}

static void t_roles_across_processes(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    struct shmring__plat_attach at;
    struct shmring__plat_seg *seg = open_attached(name, SHMRING_CREATE, &at);
    /* Taken by a thread that then ends: the role belongs to the handle, not to the thread. */
    struct take_arg a = {seg, SHMRING__ROLE_ID_PRODUCER, -1, 0, 0};
    assert_int_equal(take_on_thread(&a), 0);
    char role[16];
    snprintf(role, sizeof(role), "%d", SHMRING__ROLE_ID_PRODUCER);
    PROCESS_INFORMATION pi = spawn("try", name, role, NULL);
    assert_int_equal(reap(&pi, 10000), -SHMRING_EBUSY);
    assert_int_equal(report_of(at.base)->held, 1);
    snprintf(role, sizeof(role), "%d", SHMRING__ROLE_ID_SLOT0 + 1000);
    pi = spawn("try", name, role, NULL);
    assert_int_equal(reap(&pi, 10000), 0); /* another role is free */
    assert_int_equal(report_of(at.base)->held, 0);
    /* Dropped by another thread than the one that took it; then the child gets it. */
    shmring__plat_role_drop(seg, SHMRING__ROLE_ID_PRODUCER);
    snprintf(role, sizeof(role), "%d", SHMRING__ROLE_ID_PRODUCER);
    pi = spawn("try", name, role, NULL);
    assert_int_equal(reap(&pi, 10000), 0);
    assert_int_equal(report_of(at.base)->held, 0);
    assert_int_equal(shmring__plat_role_take(seg, SHMRING__ROLE_ID_PRODUCER), 0);
    shmring__plat_seg_detach(seg, 1);
}

static void t_roles_between_handles(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    struct shmring__plat_attach at;
    struct shmring__plat_seg *s1 = open_attached(name, SHMRING_CREATE, &at);
    struct shmring__plat_seg *s2 = open_attached(name, SHMRING_CREATE, &at);
    int r = SHMRING__ROLE_ID_CONSUMER;
    assert_int_equal(shmring__plat_role_held(s2, r), 0);
    assert_int_equal(shmring__plat_role_take(s1, r), 0);
    assert_int_equal(shmring__plat_role_take(s1, r), 0); /* again: still ours */
    assert_int_equal(shmring__plat_role_held(s1, r), 0); /* our own hold does not count */
    assert_int_equal(shmring__plat_role_take(s2, r), SHMRING_EBUSY);
    assert_int_equal(shmring__plat_role_held(s2, r), 1);
    int64_t t0 = shmring__plat_now_ns();
    assert_int_equal(shmring__plat_role_take_wait(s2, r, 100 * 1000000LL), SHMRING_ETIMEDOUT);
    assert_true(shmring__plat_now_ns() - t0 >= 90 * 1000000LL);
    shmring__plat_role_drop(s1, r);
    assert_int_equal(shmring__plat_role_take(s2, r), 0);
    assert_int_equal(shmring__plat_role_held(s1, r), 1);
    /* Detaching a holder frees its roles. */
    assert_int_equal(shmring__plat_seg_detach(s2, 1), 0);
    assert_int_equal(shmring__plat_role_held(s1, r), 0);
    assert_int_equal(shmring__plat_role_take(s1, SHMRING__ROLE_ID_MAX), SHMRING_EINVAL);
    assert_int_equal(shmring__plat_role_take(s1, -1), SHMRING_EINVAL);
    assert_int_equal(shmring__plat_seg_detach(s1, 1), 1);
}

static PROCESS_INFORMATION holder(const char *name, int role, struct shmring__plat_attach *at)
{
    char r[16];
    snprintf(r, sizeof(r), "%d", role);
    PROCESS_INFORMATION pi = spawn("take", name, r, NULL);
    wait_ready(name, &pi);
    assert_int_equal(report_of(at->base)->take, 0);
    return pi;
}

static void t_killed_holder_frees_role(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    struct shmring__plat_attach at;
    struct shmring__plat_seg *seg = open_attached(name, SHMRING_CREATE, &at);
    int role = SHMRING__ROLE_ID_PRODUCER;

    /* 1. The peer's view: role_held turns 0 within 100 ms of TerminateProcess. */
    PROCESS_INFORMATION pi = holder(name, role, &at);
    assert_int_equal(shmring__plat_role_held(seg, role), 1);
    assert_int_equal(shmring__plat_role_take(seg, role), SHMRING_EBUSY);
    int64_t t0 = shmring__plat_now_ns();
    assert_true(TerminateProcess(pi.hProcess, 9));
    int64_t seen = 0;
    while ((seen = shmring__plat_now_ns() - t0) < 2000000000LL &&
           shmring__plat_role_held(seg, role) != 0) {
        Sleep(1);
    }
    print_message("role free %.1f ms after TerminateProcess\n", (double)seen / 1e6);
    assert_true(seen < 100 * 1000000LL);
    reap(&pi, 10000);
    assert_int_equal(shmring__plat_role_take(seg, role), 0); /* taken over at once */
    shmring__plat_role_drop(seg, role);

    /* 2. A waiting taker gets it within 100 ms of the holder's death. */
    pi = holder(name, role, &at);
    struct take_arg a = {seg, role, -1, 5000000000LL, 0};
    HANDLE th = CreateThread(NULL, 0, take_thread, &a, 0, NULL);
    Sleep(100);
    assert_int_equal(WaitForSingleObject(th, 0), WAIT_TIMEOUT); /* still waiting */
    t0 = shmring__plat_now_ns();
    assert_true(TerminateProcess(pi.hProcess, 9));
    assert_int_equal(WaitForSingleObject(th, 10000), WAIT_OBJECT_0);
    CloseHandle(th);
    reap(&pi, 10000);
    assert_int_equal(a.result, 0);
    print_message("waiting taker got it %.1f ms after TerminateProcess\n",
                  (double)(a.done_ns - t0) / 1e6);
    assert_true(a.done_ns - t0 < 100 * 1000000LL);
    assert_int_equal(shmring__plat_seg_detach(seg, 1), 1);
}

/* ---- waits -------------------------------------------------------------------------------------
 */

static void t_wait_wake_across_processes(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    struct shmring__plat_attach at;
    struct shmring__plat_seg *seg = open_attached(name, SHMRING_CREATE, &at);
    _Atomic uint32_t *word = word_of(at.base);

    /* The word differs: no sleep at all. */
    atomic_store(word, 0);
    assert_int_equal(shmring__plat_wait(seg, SHMRING__SIDE_CONSUMER, word, 1, 5000000000LL), 0);
    /* Nobody wakes: a bounded wait times out, on time. */
    atomic_store(word, 1);
    int64_t t0 = shmring__plat_now_ns();
    assert_int_equal(shmring__plat_wait(seg, SHMRING__SIDE_CONSUMER, word, 1, 100 * 1000000LL),
                     SHMRING_ETIMEDOUT);
    int64_t took = shmring__plat_now_ns() - t0;
    assert_true(took >= 90 * 1000000LL && took < 1000 * 1000000LL);

    /* The child wakes us after 100 ms. */
    char side[8];
    snprintf(side, sizeof(side), "%d", SHMRING__SIDE_CONSUMER);
    PROCESS_INFORMATION pi = spawn("wake", name, "100", side);
    t0 = shmring__plat_now_ns();
    int w;
    while ((w = shmring__plat_wait(seg, SHMRING__SIDE_CONSUMER, word, 1, 5000000000LL)) == 0 &&
           atomic_load(word) == 1) {
        /* a stale wake of an earlier round: the caller re-checks and sleeps again */
    }
    took = shmring__plat_now_ns() - t0;
    assert_int_equal(w, 0);
    assert_int_equal(atomic_load(word), 0);
    assert_true(took < 3000 * 1000000LL);
    assert_int_equal(reap(&pi, 10000), 0);

    /* The child waits on the producer side; we wake it. */
    atomic_store(word, 1);
    snprintf(side, sizeof(side), "%d", SHMRING__SIDE_PRODUCER);
    pi = spawn("wait", name, "5000", side);
    wait_ready(name, &pi);
    Sleep(100);
    atomic_store(word, 0);
    shmring__plat_wake(seg, SHMRING__SIDE_PRODUCER, word);
    assert_int_equal(reap(&pi, 10000), 0);
    struct report *rep = report_of(at.base);
    assert_int_equal(rep->wait, 0);
    assert_true(rep->elapsed_ns < 3000 * 1000000LL); /* woken, not timed out */
    /* A child waiting with nobody to wake it times out. */
    atomic_store(word, 1);
    pi = spawn("wait", name, "150", side);
    assert_int_equal(reap(&pi, 10000), -SHMRING_ETIMEDOUT);
    assert_true(rep->elapsed_ns >= 140 * 1000000LL);
    assert_int_equal(shmring__plat_seg_detach(seg, 1), 1);
}

/* ---- security ----------------------------------------------------------------------------------
 */

/* The object's owner is us and its DACL has exactly one ACE: allow, our SID. */
static void check_sd(const char *name, const char *what, int is_section)
{
    wchar_t on[300];
    assert_int_equal(shmring__win_object_name(name, what, on, 300), 0);
    HANDLE h = is_section ? OpenFileMappingW(READ_CONTROL, FALSE, on)
                          : OpenMutexW(READ_CONTROL, FALSE, on);
    if (h == NULL && !is_section) {
        h = OpenSemaphoreW(READ_CONTROL, FALSE, on);
    }
    assert_non_null(h);
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    assert_int_equal(GetSecurityInfo(h, SE_KERNEL_OBJECT,
                                     OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner,
                                     NULL, &dacl, NULL, &sd),
                     ERROR_SUCCESS);
    PSID me = (PSID)shmring__win_user_sid();
    assert_non_null(me);
    assert_non_null(owner);
    assert_true(EqualSid(owner, me));
    assert_non_null(dacl); /* a NULL DACL would mean "everyone" */
    ACL_SIZE_INFORMATION si;
    assert_true(GetAclInformation(dacl, &si, sizeof(si), AclSizeInformation));
    assert_int_equal(si.AceCount, 1);
    ACCESS_ALLOWED_ACE *ace = NULL;
    assert_true(GetAce(dacl, 0, (void **)&ace));
    assert_int_equal(ace->Header.AceType, ACCESS_ALLOWED_ACE_TYPE);
    assert_true(EqualSid((PSID)&ace->SidStart, me));
    LocalFree(sd);
    CloseHandle(h);
}

/* The probe's callback: a copy of the header while it is mapped. */
struct hdr_copy {
    char hdr[32];
    const struct shmring__plat_probe *facts;
    int calls;
};

static void copy_header(void *ctx, const void *base, uint64_t size)
{
    struct hdr_copy *hc = ctx;
    assert_int_equal(size, hc->facts->size); /* *out is filled in first */
    memcpy(hc->hdr, base, sizeof(hc->hdr));
    hc->calls++;
}

static void t_access_is_the_creating_user(void **state)
{
    (void)state;
    char name[64];
    t_name(name, sizeof(name));
    struct shmring__plat_attach at;
    struct shmring__plat_seg *seg = open_attached(name, SHMRING_CREATE, &at);
    assert_int_equal(shmring__plat_role_take(seg, SHMRING__ROLE_ID_LEGACY_SETTER), 0);
    check_sd(name, ".mem", 1);
    check_sd(name, ".init", 0);
    check_sd(name, ".wake0", 0);
    check_sd(name, ".wake1", 0);
    check_sd(name, ".waiters", 1);
    char role[16];
    snprintf(role, sizeof(role), ".role.%d", SHMRING__ROLE_ID_LEGACY_SETTER);
    check_sd(name, role, 0);
    /* The inspection call agrees, and copies the header without attaching. */
    memcpy(at.base, "header bytes", 12);
    struct shmring__plat_probe pr;
    struct hdr_copy hc = {{0}, &pr, 0};
    assert_int_equal(shmring__plat_role_take(seg, SHMRING__ROLE_ID_PRODUCER), 0);
    assert_int_equal(shmring__plat_role_take(seg, SHMRING__ROLE_ID_SLOT0 + 7), 0);
    assert_int_equal(shmring__plat_probe(name, &pr, copy_header, &hc), 0);
    assert_int_equal(hc.calls, 1);
    assert_int_equal(pr.size, SEG_SIZE);
    assert_int_equal(pr.owned_by_us, 1);
    assert_int_equal(pr.in_use, 1);
    assert_int_equal(pr.roles,
                     (1u << SHMRING__ROLE_ID_PRODUCER) | (1u << SHMRING__ROLE_ID_LEGACY_SETTER));
    assert_int_equal(pr.slots_held, 1);
    assert_memory_equal(hc.hdr, "header bytes", 12);
    assert_int_equal(shmring__plat_probe(name, &pr, NULL, NULL), 0);
    assert_int_equal(shmring__plat_seg_detach(seg, 1), 1);
    assert_int_equal(shmring__plat_probe(name, &pr, copy_header, &hc), SHMRING_ENOENT);
    assert_int_equal(hc.calls, 1);
}

/* ---- process-wide ------------------------------------------------------------------------------
 */

static shmring__plat_mutex g_mu = SHMRING__PLAT_MUTEX_INIT;
static long g_counter;
static shmring__plat_once_t g_once = SHMRING__PLAT_ONCE_INIT;
static _Atomic int g_once_runs;

static void once_fn(void)
{
    Sleep(20);
    atomic_fetch_add(&g_once_runs, 1);
}

static DWORD WINAPI count_thread(LPVOID p)
{
    (void)p;
    shmring__plat_once(&g_once, once_fn);
    if (atomic_load(&g_once_runs) != 1) {
        return 1; /* returned before fn finished */
    }
    for (int i = 0; i < 100000; i++) {
        shmring__plat_mutex_lock(&g_mu);
        g_counter++;
        shmring__plat_mutex_unlock(&g_mu);
    }
    return 0;
}

static int count_fn(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return 0;
}

static void t_process_wide(void **state)
{
    (void)state;
    HANDLE th[4];
    for (int i = 0; i < 4; i++) {
        th[i] = CreateThread(NULL, 0, count_thread, NULL, 0, NULL);
    }
    assert_int_equal(WaitForMultipleObjects(4, th, TRUE, 30000), WAIT_OBJECT_0);
    for (int i = 0; i < 4; i++) {
        DWORD code = 1;
        GetExitCodeThread(th[i], &code);
        assert_int_equal(code, 0);
        CloseHandle(th[i]);
    }
    assert_int_equal(g_counter, 400000);
    assert_int_equal(atomic_load(&g_once_runs), 1);

    int64_t a = shmring__plat_now_ns();
    shmring__plat_sleep_ns(20 * 1000000LL);
    int64_t b = shmring__plat_now_ns();
    assert_true(b - a >= 19 * 1000000LL && b - a < 1000 * 1000000LL);
    assert_true(shmring__plat_coarse_ns() > 0);
    assert_int_equal(shmring__plat_deadline(-1), INT64_MAX);
    assert_int_equal(shmring__plat_deadline(INT64_MAX), INT64_MAX);
    assert_true(shmring__plat_deadline(0) >= b);
    assert_int_equal(shmring__plat_pid(), (int32_t)GetCurrentProcessId());
    assert_int_equal(shmring__plat_page_size() % 4096, 0);
    assert_int_equal(shmring__plat_at_fork(NULL, NULL, NULL), 0);
    assert_int_equal(shmring__plat_list(count_fn, NULL), SHMRING_ENOSYS);
    assert_int_equal(shmring__plat_unlink("x"), SHMRING_ENOSYS);
    assert_int_equal(shmring__plat_remove_stale("x", NULL, NULL), 0); /* no such name: kept */
    assert_int_equal(shmring__win_error(ERROR_ACCESS_DENIED), SHMRING_EACCES);
    assert_int_equal(shmring__win_error(ERROR_FILE_NOT_FOUND), SHMRING_ENOENT);
    assert_int_equal(shmring__win_error(ERROR_ALREADY_EXISTS), SHMRING_EEXIST);
    assert_int_equal(shmring__win_error(ERROR_COMMITMENT_LIMIT), SHMRING_ENOMEM);
    assert_int_equal(shmring__win_error(ERROR_NOT_ENOUGH_MEMORY), SHMRING_ENOMEM);
    assert_int_equal(shmring__win_error(WAIT_TIMEOUT), SHMRING_ETIMEDOUT);
    assert_int_equal(SHMRING_EACCES, -13); /* the fixed Linux numbers */
}

/* The tests' CreateProcess retry (t_create_process_win.h) retries wine's transient code only,
 * a bounded number of times, and leaves the error code for the report. */
static void t_create_process_retry_rule(void **state)
{
    (void)state;
    SetLastError(ERROR_INTERNAL_ERROR);
    assert_int_equal(t_create_process_again(0), 1);
    assert_int_equal(GetLastError(), ERROR_INTERNAL_ERROR);
    SetLastError(ERROR_INTERNAL_ERROR);
    assert_int_equal(t_create_process_again(T_CREATE_PROCESS_TRIES - 1u), 0);
    SetLastError(ERROR_FILE_NOT_FOUND);
    assert_int_equal(t_create_process_again(0), 0);
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
    STARTUPINFOA si = {.cb = sizeof(si)};
    PROCESS_INFORMATION pi = {0};
    char cmd[] = "\"no-such-program-shmring.exe\"";
    assert_false(t_create_process_a(NULL, cmd, FALSE, &si, &pi));
    assert_int_equal(GetLastError(), ERROR_FILE_NOT_FOUND);
}

int main(int argc, char **argv)
{
    GetModuleFileNameA(NULL, g_exe, sizeof(g_exe));
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        return child_main(argc, argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_open_alone_last),
        cmocka_unit_test(t_open_errors),
        cmocka_unit_test(t_second_process_attaches),
        cmocka_unit_test(t_killed_holder_leaves_nothing),
        cmocka_unit_test(t_roles_across_processes),
        cmocka_unit_test(t_roles_between_handles),
        cmocka_unit_test(t_killed_holder_frees_role),
        cmocka_unit_test(t_wait_wake_across_processes),
        cmocka_unit_test(t_access_is_the_creating_user),
        cmocka_unit_test(t_process_wide),
        cmocka_unit_test(t_create_process_retry_rule),
    };
    return cmocka_run_group_tests_name("platform_win", tests, NULL, NULL);
}
