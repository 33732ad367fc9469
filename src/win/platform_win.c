/* SPDX-License-Identifier: MIT */
/* The platform layer on Windows (issue #12), Win32 calls only. The contract is src/platform.h.
 *
 * Every name "x" maps to kernel objects in the session namespace, "Local\shmring-x.<what>":
 *   .mem        the segment: a paging-file section (CreateFileMappingW). Its lifetime is the
 *               kernel's handle count, the original DLL's semantics: it lives while some process
 *               has it open and vanishes with the last handle, whether that process closed it or
 *               was killed. So there are no stale names, nothing to unlink or enumerate, and
 *               SHMRING_PERSIST is SHMRING_ENOTSUP.
 *   .init       a named mutex, the init exclusion: opens and closes of the name are serialised;
 *               WAIT_ABANDONED means the holder died, and the next opener simply goes on.
 *   .role.<n>   one named mutex per role. A mutex belongs to a THREAD, but a role belongs to a
 *               handle and may be taken and dropped by different threads, so the mutexes are
 *               owned by one "keeper" thread per process that serves take/drop requests. When the
 *               process dies (TerminateProcess included) the keeper dies with it, every role
 *               mutex it owned becomes abandoned, and the next taker gets it at once.
 *   .wake0/1    one auto-reset event per side for the blocking waits.
 * Every object is created with a security descriptor that names the creating user as owner and
 * allows that user only (the counterpart of mode 0600); opening an existing section checks that
 * its owner is us unless SHMRING_ANY_OWNER.
 *
 * "alone" / "last": nobody can leave the section's handle count inflated (the kernel closes a
 * dead process's handles), so under the init exclusion "the section already existed" means
 * "another live process has it open" and, at detach, "it can still be opened after we closed
 * ours" means "we were not the last". A process inside shmring__plat_probe() also holds a handle
 * for a moment: it can make an opener see "not alone" or a detacher "not last", never the
 * reverse, which is the safe direction. */
#include <windows.h>

#include <aclapi.h>
#include <sddl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "../platform.h"
#include "platform_win.h"

#define INIT_TIMEOUT_MS 5000u /* the init exclusion, as SHMRING__INIT_TIMEOUT_NS on POSIX */
/* A take that finds the role mutex held waits this long before answering SHMRING_EBUSY: a
 * process inside shmring__plat_role_held() owns a free role's mutex for a few microseconds. */
#define ROLE_GRACE_MS     2u
#define ROLE_WAIT_SLICE   50u /* ms: role_take_wait re-tries at least this often */
#define NAME_PREFIX       L"Local\\shmring-"
#define NAME_PREFIX_CHARS (sizeof(NAME_PREFIX) / sizeof(wchar_t) - 1)
#define SUFFIX_CHARS      16 /* ".role.1039" and the like, with the NUL */
#define NAME_CHARS        (NAME_PREFIX_CHARS + SHMRING_NAME_MAX + SUFFIX_CHARS)

_Static_assert(sizeof(SRWLOCK) <= sizeof(((shmring__plat_mutex *)0)->opaque),
               "an SRWLOCK fits shmring__plat_mutex");
/* SRWLOCK_INIT is {0}: an all-zero SRWLOCK is unlocked, as SHMRING__PLAT_MUTEX_INIT needs. */

/* How many threads (of any process) sleep on each side's semaphore: a wake releases one count
 * per sleeper, so that one wake ends every sleep of the side, as a futex wake does on Linux
 * (a multi-producer ring's producers all sleep on the producer side). An auto-reset event woke
 * one of them and left the others asleep until their timeout. Kept in a small section of the
 * ring's own, since the platform layer owns nothing in the ring's mapping. A peer that writes
 * nonsense here can only cause spurious or late wake-ups (bounded by the caller's slices). */
struct waiters {
    _Atomic int32_t sleepers[2];
};
/* At most this many counts per wake: a scribbled counter cannot flood the semaphore. */
#define WAKE_MAX_COUNT 1024
#define SEM_MAX_COUNT  (1 << 20)

struct shmring__plat_seg {
    struct shmring__plat_seg *next; /* g_segs, under g_reg */
    wchar_t base[NAME_PREFIX_CHARS + SHMRING_NAME_MAX + 1];
    HANDLE section;
    HANDLE init;
    HANDLE sem[2]; /* wake-ups per side: SHMRING__SIDE_CONSUMER, SHMRING__SIDE_PRODUCER */
    HANDLE waiters_section;
    struct waiters *waiters; /* the ".waiters" section's view: sleepers per side */
    HANDLE *roles;           /* [SHMRING__ROLE_ID_MAX], opened on first use; under g_reg */
    unsigned char *held;     /* [SHMRING__ROLE_ID_MAX]: this handle owns the role; under g_reg */
    void *view;
    uint64_t size;
    int init_held;
};

/* Every segment of this process, so that two handles of one name in one process exclude each
 * other from a role: the keeper owns the mutex for both, and a mutex is recursive. */
static SRWLOCK g_reg = SRWLOCK_INIT;
static struct shmring__plat_seg *g_segs;

/* ---- errors and names ------------------------------------------------------------------------ */

int shmring__win_error(unsigned long err)
{
    switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return SHMRING_ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_INVALID_HANDLE: /* the name belongs to an object of another type (planted) */
    case ERROR_PRIVILEGE_NOT_HELD:
        return SHMRING_EACCES;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
        return SHMRING_EEXIST;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_NO_SYSTEM_RESOURCES:
        return SHMRING_ENOMEM;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return SHMRING_ENOSPC;
    case ERROR_TOO_MANY_OPEN_FILES:
        return SHMRING_EMFILE;
    case ERROR_FILENAME_EXCED_RANGE:
        return SHMRING_ENAMETOOLONG;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
        return SHMRING_EINVAL;
    case ERROR_TIMEOUT:
    case WAIT_TIMEOUT:
        return SHMRING_ETIMEDOUT;
    case ERROR_NOT_SUPPORTED:
    case ERROR_CALL_NOT_IMPLEMENTED:
        return SHMRING_ENOSYS;
    default:
        return SHMRING_EPROTO; /* unexpected: the object is not what we expect */
    }
}

static int last_error(void)
{
    return shmring__win_error(GetLastError());
}

/* The callers validated the name; this is a second line against a wrong wide name. */
static int valid_name(const char *name)
{
    size_t n = name == NULL ? 0 : strnlen(name, SHMRING_NAME_MAX + 1);
    if (n == 0 || n > SHMRING_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* "Local\shmring-<name>" (ASCII names: a byte is a character). */
static void base_name(wchar_t *out, const char *name)
{
    wcscpy(out, NAME_PREFIX);
    size_t i = 0;
    for (; name[i] != '\0'; i++) {
        out[NAME_PREFIX_CHARS + i] = (wchar_t)(unsigned char)name[i];
    }
    out[NAME_PREFIX_CHARS + i] = L'\0';
}

int shmring__win_object_name(const char *name, const char *what, wchar_t *out, size_t cap)
{
    if (!valid_name(name) || what == NULL || cap < NAME_CHARS || strlen(what) >= SUFFIX_CHARS) {
        return SHMRING_EINVAL;
    }
    base_name(out, name);
    size_t n = wcslen(out);
    for (size_t i = 0; what[i] != '\0'; i++) {
        out[n++] = (wchar_t)(unsigned char)what[i];
    }
    out[n] = L'\0';
    return 0;
}

static void obj_name(wchar_t *out, const struct shmring__plat_seg *seg, const wchar_t *what,
                     int num)
{
    if (num < 0) {
        _snwprintf(out, NAME_CHARS, L"%ls%ls", seg->base, what);
    } else {
        _snwprintf(out, NAME_CHARS, L"%ls%ls%d", seg->base, what, num);
    }
    out[NAME_CHARS - 1] = L'\0';
}

/* ---- the creating user and the security descriptor --------------------------------------------
 */

static shmring__plat_once_t g_sec_once = SHMRING__PLAT_ONCE_INIT;
static PSID g_user;               /* the token's user SID, process lifetime */
static PSECURITY_DESCRIPTOR g_sd; /* owner = user, DACL = user: full access, protected */
static int g_sec_err;

static void sec_init(void)
{
    HANDLE tok = NULL;
    DWORD len = 0;
    TOKEN_USER *tu = NULL;
    wchar_t *sid = NULL;
    wchar_t sddl[256];
    g_sec_err = SHMRING_ENOMEM;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
        g_sec_err = last_error();
        return;
    }
    GetTokenInformation(tok, TokenUser, NULL, 0, &len);
    if (len == 0 || (tu = malloc(len)) == NULL ||
        !GetTokenInformation(tok, TokenUser, tu, len, &len)) {
        goto out;
    }
    DWORD sid_len = GetLengthSid(tu->User.Sid);
    g_user = malloc(sid_len);
    if (g_user == NULL || !CopySid(sid_len, g_user, tu->User.Sid)) {
        goto out;
    }
    if (!ConvertSidToStringSidW(g_user, &sid)) {
        goto out;
    }
    /* O: the user owns it; D:P a protected DACL (nothing inherited) with one ACE: generic all
     * for the user. No ACE for anyone else, so other users (and other users' services) get
     * ERROR_ACCESS_DENIED, as mode 0600 does on POSIX. */
    _snwprintf(sddl, sizeof(sddl) / sizeof(sddl[0]), L"O:%lsD:P(A;;GA;;;%ls)", sid, sid);
    sddl[sizeof(sddl) / sizeof(sddl[0]) - 1] = L'\0';
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &g_sd, NULL)) {
        g_sec_err = last_error();
        goto out;
    }
    g_sec_err = 0;
out:
    if (sid != NULL) {
        LocalFree(sid);
    }
    free(tu);
    CloseHandle(tok);
}

static int security(SECURITY_ATTRIBUTES *sa)
{
    shmring__plat_once(&g_sec_once, sec_init);
    if (g_sec_err != 0) {
        return g_sec_err;
    }
    sa->nLength = sizeof(*sa);
    sa->lpSecurityDescriptor = g_sd;
    sa->bInheritHandle = FALSE;
    return 0;
}

/* 1 if the object's owner is this process's user, 0 if not, or an error. */
static int owned_by_us(HANDLE h)
{
    PSID owner = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    SECURITY_ATTRIBUTES sa;
    int err = security(&sa);
    if (err < 0) {
        return err;
    }
    DWORD r = GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner, NULL, NULL,
                              NULL, &sd);
    if (r != ERROR_SUCCESS) {
        return shmring__win_error(r);
    }
    int mine = owner != NULL && EqualSid(owner, g_user);
    LocalFree(sd);
    return mine;
}

const void *shmring__win_user_sid(void)
{
    SECURITY_ATTRIBUTES sa;
    return security(&sa) == 0 ? g_user : NULL;
}

/* ---- the role keeper thread --------------------------------------------------------------------
 */

enum { KEEP_TAKE = 1, KEEP_DROP = 2 };

/* One request at a time (g_keep_mu); the fields are handed over by SetEvent/Wait, which are full
 * barriers, so they need no atomics. */
static struct {
    SRWLOCK mu;
    HANDLE thread, req, done;
    int op;
    HANDLE mutex;
    int result;
} g_keep = {SRWLOCK_INIT, NULL, NULL, NULL, 0, NULL, 0};
static shmring__plat_once_t g_keep_once = SHMRING__PLAT_ONCE_INIT;

static DWORD WINAPI keeper_main(LPVOID arg)
{
    (void)arg;
    for (;;) {
        if (WaitForSingleObject(g_keep.req, INFINITE) != WAIT_OBJECT_0) {
            return 1;
        }
        int res;
        if (g_keep.op == KEEP_TAKE) {
            DWORD w = WaitForSingleObject(g_keep.mutex, ROLE_GRACE_MS);
            /* WAIT_ABANDONED: the last owner died holding the role, which is now ours. */
            res = w == WAIT_OBJECT_0 || w == WAIT_ABANDONED ? 0
                  : w == WAIT_TIMEOUT                       ? SHMRING_EBUSY
                                                            : last_error();
        } else {
            res = ReleaseMutex(g_keep.mutex) ? 0 : last_error();
        }
        g_keep.result = res;
        SetEvent(g_keep.done);
    }
}

static void keeper_start(void)
{
    /* The keeper runs code of this module until the process ends: pin the DLL so that a
     * FreeLibrary cannot unmap it under the thread (a no-op in a static build). */
    HMODULE self;
    GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                       (LPCWSTR)(void *)keeper_main, &self);
    g_keep.req = CreateEventW(NULL, FALSE, FALSE, NULL);
    g_keep.done = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (g_keep.req != NULL && g_keep.done != NULL) {
        g_keep.thread = CreateThread(NULL, 64 * 1024, keeper_main, NULL,
                                     STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    }
}

/* Runs op on the keeper thread. A keeper that is gone (the process is exiting: ExitProcess ends
 * the other threads before the exit handlers run) owned nothing any more: its mutexes were
 * abandoned with it. */
static int keeper_call(int op, HANDLE mutex)
{
    shmring__plat_once(&g_keep_once, keeper_start);
    if (g_keep.thread == NULL) {
        return SHMRING_ENOMEM;
    }
    AcquireSRWLockExclusive(&g_keep.mu);
    g_keep.op = op;
    g_keep.mutex = mutex;
    SetEvent(g_keep.req);
    HANDLE w[2] = {g_keep.done, g_keep.thread};
    DWORD r = WaitForMultipleObjects(2, w, FALSE, INFINITE);
    int res = r == WAIT_OBJECT_0 ? g_keep.result : op == KEEP_DROP ? 0 : SHMRING_EPIPE;
    ReleaseSRWLockExclusive(&g_keep.mu);
    return res;
}

/* ---- segments ----------------------------------------------------------------------------------
 */

static void close_handle(HANDLE *h)
{
    if (*h != NULL) {
        CloseHandle(*h);
        *h = NULL;
    }
}

/* Under g_reg: drops every role seg holds. */
static void drop_all_locked(struct shmring__plat_seg *seg)
{
    if (seg->held == NULL) {
        return;
    }
    for (int r = 0; r < SHMRING__ROLE_ID_MAX; r++) {
        if (seg->held[r]) {
            keeper_call(KEEP_DROP, seg->roles[r]);
            seg->held[r] = 0;
        }
    }
}

/* Drops the roles, unmaps (unless keep_view), closes every handle but init, unregisters. */
static void teardown(struct shmring__plat_seg *seg, int keep_view)
{
    AcquireSRWLockExclusive(&g_reg);
    drop_all_locked(seg);
    for (struct shmring__plat_seg **p = &g_segs; *p != NULL; p = &(*p)->next) {
        if (*p == seg) {
            *p = seg->next;
            break;
        }
    }
    ReleaseSRWLockExclusive(&g_reg);
    if (seg->roles != NULL) {
        for (int r = 0; r < SHMRING__ROLE_ID_MAX; r++) {
            close_handle(&seg->roles[r]);
        }
    }
    if (seg->view != NULL && !keep_view) {
        UnmapViewOfFile(seg->view);
        seg->view = NULL;
    }
    close_handle(&seg->section);
    close_handle(&seg->sem[0]);
    close_handle(&seg->sem[1]);
    /* Kept with the view: a thread of ours may still be inside a wait (exit handling). */
    if (seg->waiters != NULL && !keep_view) {
        UnmapViewOfFile(seg->waiters);
        seg->waiters = NULL;
    }
    close_handle(&seg->waiters_section);
}

static void seg_free(struct shmring__plat_seg *seg)
{
    if (seg->init_held) {
        ReleaseMutex(seg->init);
        seg->init_held = 0;
    }
    close_handle(&seg->init);
    free(seg->roles);
    free(seg->held);
    free(seg);
}

/* Takes the init exclusion: 0, or SHMRING_ETIMEDOUT / an error. */
static int init_lock(struct shmring__plat_seg *seg)
{
    DWORD w = WaitForSingleObject(seg->init, INIT_TIMEOUT_MS);
    if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED) {
        /* ABANDONED: an opener or closer died inside; what it left is checked by the caller's
         * header validation, as after a killed opener on POSIX. */
        seg->init_held = 1;
        return 0;
    }
    return w == WAIT_TIMEOUT ? SHMRING_ETIMEDOUT : last_error();
}

static int map_view(struct shmring__plat_seg *seg, DWORD access, uint64_t *size)
{
    seg->view = MapViewOfFile(seg->section, access, 0, 0, 0);
    if (seg->view == NULL) {
        return last_error();
    }
    MEMORY_BASIC_INFORMATION mi;
    if (VirtualQuery(seg->view, &mi, sizeof(mi)) == 0) {
        return last_error();
    }
    *size = mi.RegionSize; /* the section's size, whole pages (sizes are page multiples) */
    return 0;
}

/* A size the ring code accepts (src/segment.c): at least the default, at most the maximum, whole
 * pages. */
static int size_is_valid(uint64_t size)
{
    return size >= SHMRING_DEFAULT_SIZE && size <= SHMRING_MAX_SIZE &&
           size % shmring__plat_page_size() == 0;
}

int shmring__plat_seg_open(const char *name, uint64_t want_size, uint64_t create_size,
                           unsigned mode, unsigned flags, struct shmring__plat_seg **segp,
                           struct shmring__plat_attach *at)
{
    if (segp == NULL || at == NULL) {
        return SHMRING_EINVAL;
    }
    *segp = NULL;
    memset(at, 0, sizeof(*at));
    if (!valid_name(name)) {
        return SHMRING_EINVAL;
    }
    /* A section ends with its last handle: there is no way to keep a name with nobody attached
     * (docs/windows.md, "Lifetime"). */
    if (flags & SHMRING_PERSIST) {
        return SHMRING_ENOTSUP;
    }
    /* The owner always has full access; group and other have no counterpart in a per-user
     * descriptor, so asking for them is refused rather than silently ignored. */
    if ((mode & 077u) != 0) {
        return SHMRING_ENOTSUP;
    }
    int create = (flags & SHMRING_CREATE) != 0;
    if ((want_size != 0 && !size_is_valid(want_size)) ||
        (create_size != 0 && !size_is_valid(create_size))) {
        return SHMRING_EINVAL;
    }
    SECURITY_ATTRIBUTES sa;
    int err = security(&sa);
    if (err < 0) {
        return err;
    }
    struct shmring__plat_seg *seg = calloc(1, sizeof(*seg));
    if (seg == NULL) {
        return SHMRING_ENOMEM;
    }
    base_name(seg->base, name);
    wchar_t on[NAME_CHARS];
    obj_name(on, seg, L".init", -1);
    seg->init = CreateMutexW(&sa, FALSE, on);
    if (seg->init == NULL) {
        err = last_error();
        goto fail;
    }
    if ((err = init_lock(seg)) < 0) {
        goto fail;
    }
    obj_name(on, seg, L".mem", -1);
    int existed = 1;
    if (create) {
        uint64_t sz = want_size != 0     ? want_size
                      : create_size != 0 ? create_size
                                         : SHMRING_DEFAULT_SIZE;
        /* SEC_COMMIT (the default for a paging-file section): the memory is committed now, so
         * a full paging file fails here with ERROR_COMMITMENT_LIMIT, never later on a touch. */
        seg->section = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE | SEC_COMMIT,
                                          (DWORD)(sz >> 32), (DWORD)sz, on);
        if (seg->section == NULL) {
            err = last_error();
            goto fail;
        }
        existed = GetLastError() == ERROR_ALREADY_EXISTS;
        if (existed && (flags & SHMRING_EXCL)) {
            err = SHMRING_EEXIST;
            goto fail;
        }
    } else {
        seg->section = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE | READ_CONTROL, FALSE, on);
        if (seg->section == NULL) {
            err = last_error();
            goto fail;
        }
    }
    if (existed && !(flags & SHMRING_ANY_OWNER)) {
        int mine = owned_by_us(seg->section);
        if (mine <= 0) {
            err = mine < 0 ? mine : SHMRING_EACCES;
            goto fail;
        }
    }
    if ((err = map_view(seg, FILE_MAP_READ | FILE_MAP_WRITE, &seg->size)) < 0) {
        goto fail;
    }
    if (existed && want_size != 0 && seg->size != want_size) {
        err = SHMRING_EINVAL;
        goto fail;
    }
    for (int side = 0; side < 2; side++) {
        obj_name(on, seg, L".wake", side);
        seg->sem[side] = CreateSemaphoreW(&sa, 0, SEM_MAX_COUNT, on);
        if (seg->sem[side] == NULL) {
            err = last_error();
            goto fail;
        }
    }
    obj_name(on, seg, L".waiters", -1);
    seg->waiters_section =
        CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE | SEC_COMMIT, 0,
                           (DWORD)sizeof(struct waiters), on);
    if (seg->waiters_section == NULL) {
        err = last_error();
        goto fail;
    }
    seg->waiters = MapViewOfFile(seg->waiters_section, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0,
                                 sizeof(struct waiters));
    if (seg->waiters == NULL) {
        err = last_error();
        goto fail;
    }
    AcquireSRWLockExclusive(&g_reg);
    seg->next = g_segs;
    g_segs = seg;
    ReleaseSRWLockExclusive(&g_reg);
    at->base = seg->view;
    at->size = seg->size;
    at->created = !existed;
    /* Under the init exclusion nobody else is opening or closing, and the kernel closed every
     * dead process's handle: an existing section has a live user. */
    at->alone = !existed;
    *segp = seg;
    return 0;
fail:
    teardown(seg, 0);
    seg_free(seg);
    return err;
}

/* A section ends with its last handle: there is no ring without a user (shmring_create). */
const int shmring__plat_idle_names = 0;

int shmring__plat_seg_reserve(struct shmring__plat_seg *seg)
{
    /* The section was committed in full when it was created (SEC_COMMIT). */
    return seg == NULL ? SHMRING_EINVAL : 0;
}

int shmring__plat_seg_attach(struct shmring__plat_seg *seg)
{
    if (seg == NULL) {
        return SHMRING_EINVAL;
    }
    /* Our section handle is the attach mark; the mutex must be released by the thread that
     * opened, which is the caller (shmring_open runs open and attach on one thread). */
    if (seg->init_held) {
        ReleaseMutex(seg->init);
        seg->init_held = 0;
    }
    return 0;
}

void shmring__plat_seg_abort(struct shmring__plat_seg *seg)
{
    if (seg == NULL) {
        return;
    }
    /* Closing the last handle of a section we created removes it. */
    teardown(seg, 0);
    seg_free(seg);
}

/* Under the init exclusion (locked) and after our section handle is closed: 1 if the name no
 * longer opens, that is, nobody else has it (a process inside _probe() makes this 0: the safe
 * direction). */
static int was_last(const struct shmring__plat_seg *seg, int locked)
{
    if (!locked) {
        return 0;
    }
    wchar_t on[NAME_CHARS];
    obj_name(on, seg, L".mem", -1);
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, on);
    if (h != NULL) {
        CloseHandle(h);
        return 0;
    }
    return GetLastError() == ERROR_FILE_NOT_FOUND;
}

int shmring__plat_seg_detach(struct shmring__plat_seg *seg, int remove_if_last)
{
    (void)remove_if_last; /* the kernel removes the section with its last handle anyway */
    if (seg == NULL) {
        return 0;
    }
    int locked = seg->init_held || init_lock(seg) == 0;
    teardown(seg, 0);
    int last = was_last(seg, locked);
    seg_free(seg);
    return last;
}

int shmring__plat_seg_release_marks(struct shmring__plat_seg *seg, int remove_if_last)
{
    (void)remove_if_last;
    if (seg == NULL) {
        return 0;
    }
    /* The roles go now and so does the section handle, our attach mark; the view stays for the
     * threads that may still read it (the section lives on while it is mapped, but on Windows
     * its name goes with the last handle). */
    int locked = seg->init_held || init_lock(seg) == 0;
    teardown(seg, 1);
    int last = was_last(seg, locked);
    if (seg->init_held) {
        ReleaseMutex(seg->init);
        seg->init_held = 0;
    }
    return last;
}

void shmring__plat_seg_forget(struct shmring__plat_seg *seg)
{
    if (seg == NULL) {
        return;
    }
    /* No fork on Windows: this is the end of the handle without the init exclusion (after
     * _release_marks only the view and the init handle are left). */
    teardown(seg, 0);
    seg_free(seg);
}

/* NtQueryObject's ObjectBasicInformation (ntdll, present since Windows NT and in wine). */
typedef struct {
    ULONG Attributes, GrantedAccess, HandleCount, PointerCount, Reserved[10];
} obj_basic_info;
typedef LONG(NTAPI *nt_query_object_fn)(HANDLE, int, void *, ULONG, ULONG *);

int shmring__plat_seg_others_attached(struct shmring__plat_seg *seg)
{
    if (seg == NULL || seg->section == NULL) {
        return 1;
    }
    int others = 0;
    AcquireSRWLockShared(&g_reg);
    for (const struct shmring__plat_seg *s = g_segs; s != NULL; s = s->next) {
        if (s != seg && s->section != NULL && wcscmp(s->base, seg->base) == 0) {
            others = 1;
        }
    }
    ReleaseSRWLockShared(&g_reg);
    if (others) {
        return 1;
    }
    /* Every attached handle (of any process) holds one handle of the section: more than ours
     * means someone else is attached (or inside _probe() for a moment: counted, the safe
     * direction). */
    HMODULE nt = GetModuleHandleW(L"ntdll.dll");
    nt_query_object_fn q =
        nt == NULL ? NULL : (nt_query_object_fn)(void (*)(void))GetProcAddress(nt, "NtQueryObject");
    obj_basic_info bi;
    ULONG len = 0;
    if (q == NULL || q(seg->section, 0 /* ObjectBasicInformation */, &bi, sizeof(bi), &len) < 0) {
        return 1; /* an error counts as "someone is there" */
    }
    return bi.HandleCount > 1;
}

/* ---- roles -------------------------------------------------------------------------------------
 */

/* NtQueryMutant's MutantBasicInformation (ntdll, present since Windows NT and in wine). */
typedef struct {
    LONG CurrentCount; /* 1: free (also after its owner died); <= 0: owned */
    BOOLEAN OwnedByCaller, AbandonedState;
} mutant_basic_info;
typedef LONG(NTAPI *nt_query_mutant_fn)(HANDLE, int, void *, ULONG, ULONG *);

/* 1 if a live thread owns mutex h (opened with MUTANT_QUERY_STATE = MUTEX_MODIFY_STATE), 0 if it
 * is free or its owner died. Asked without owning it: a probe that owned the mutex for a moment
 * made a taker arriving in that moment wait ROLE_GRACE_MS and answer SHMRING_EBUSY for a free role
 * whenever the prober was preempted in between (a loaded machine; a consumer re-probes a dead
 * producer on every call). Without NtQueryMutant: own it for a moment after all. */
static int mutex_owned(HANDLE h)
{
    static _Atomic(nt_query_mutant_fn) query;
    /* Q1 (relaxed): any thread may store the same pointer; it points into ntdll, always mapped. */
    nt_query_mutant_fn q = atomic_load_explicit(&query, memory_order_relaxed);
    if (q == NULL) {
        HMODULE nt = GetModuleHandleW(L"ntdll.dll");
        q = nt == NULL ? NULL
                       : (nt_query_mutant_fn)(void (*)(void))GetProcAddress(nt, "NtQueryMutant");
        atomic_store_explicit(&query, q, memory_order_relaxed); /* Q1 */
    }
    mutant_basic_info mi;
    ULONG len = 0;
    if (q != NULL && q(h, 0 /* MutantBasicInformation */, &mi, sizeof(mi), &len) >= 0) {
        return mi.CurrentCount <= 0;
    }
    DWORD w = WaitForSingleObject(h, 0);
    if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED) {
        ReleaseMutex(h);
        return 0;
    }
    return 1; /* owned, or an error: counts as held */
}

/* Under g_reg (exclusive): the role's mutex handle, opened on first use. */
static int role_mutex(struct shmring__plat_seg *seg, int role, HANDLE *out)
{
    if (seg->roles == NULL) {
        seg->roles = calloc(SHMRING__ROLE_ID_MAX, sizeof(HANDLE));
        seg->held = calloc(SHMRING__ROLE_ID_MAX, 1);
        if (seg->roles == NULL || seg->held == NULL) {
            free(seg->roles);
            free(seg->held);
            seg->roles = NULL;
            seg->held = NULL;
            return SHMRING_ENOMEM;
        }
    }
    if (seg->roles[role] == NULL) {
        SECURITY_ATTRIBUTES sa;
        int err = security(&sa);
        if (err < 0) {
            return err;
        }
        wchar_t on[NAME_CHARS];
        obj_name(on, seg, L".role.", role);
        seg->roles[role] = CreateMutexW(&sa, FALSE, on);
        if (seg->roles[role] == NULL) {
            return last_error();
        }
    }
    *out = seg->roles[role];
    return 0;
}

/* Under g_reg: another handle of this process on the same name holds the role. */
static int held_by_sibling(const struct shmring__plat_seg *seg, int role)
{
    for (const struct shmring__plat_seg *s = g_segs; s != NULL; s = s->next) {
        if (s != seg && s->held != NULL && s->held[role] && wcscmp(s->base, seg->base) == 0) {
            return 1;
        }
    }
    return 0;
}

static int valid_role(const struct shmring__plat_seg *seg, int role)
{
    return seg != NULL && role >= 0 && role < SHMRING__ROLE_ID_MAX;
}

int shmring__plat_role_take(struct shmring__plat_seg *seg, int role)
{
    if (!valid_role(seg, role)) {
        return SHMRING_EINVAL;
    }
    AcquireSRWLockExclusive(&g_reg);
    HANDLE h = NULL;
    int err = role_mutex(seg, role, &h);
    if (err == 0 && !seg->held[role]) {
        if (held_by_sibling(seg, role)) {
            err = SHMRING_EBUSY;
        } else if ((err = keeper_call(KEEP_TAKE, h)) == 0) {
            seg->held[role] = 1;
        }
    }
    ReleaseSRWLockExclusive(&g_reg);
    return err;
}

int shmring__plat_role_take_wait(struct shmring__plat_seg *seg, int role, int64_t timeout_ns)
{
    int64_t deadline = shmring__plat_deadline(timeout_ns);
    for (;;) {
        int err = shmring__plat_role_take(seg, role);
        if (err != SHMRING_EBUSY) {
            return err;
        }
        int64_t left = deadline - shmring__plat_now_ns();
        if (left <= 0) {
            return SHMRING_ETIMEDOUT;
        }
        AcquireSRWLockExclusive(&g_reg);
        HANDLE h = seg->roles[role]; /* opened by the take above */
        ReleaseSRWLockExclusive(&g_reg);
        /* Sleep until the holder lets go (or dies) by waiting for the mutex on this thread, then
         * hand it straight back and let the keeper take it. Someone else may win it in between:
         * then we go round again. */
        int64_t ms = left / 1000000 + 1;
        DWORD w = WaitForSingleObject(h, ms < ROLE_WAIT_SLICE ? (DWORD)ms : ROLE_WAIT_SLICE);
        if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED) {
            ReleaseMutex(h);
        } else if (w == WAIT_FAILED) {
            return last_error();
        }
    }
}

void shmring__plat_role_drop(struct shmring__plat_seg *seg, int role)
{
    if (!valid_role(seg, role)) {
        return;
    }
    AcquireSRWLockExclusive(&g_reg);
    if (seg->held != NULL && seg->held[role]) {
        keeper_call(KEEP_DROP, seg->roles[role]);
        seg->held[role] = 0;
    }
    ReleaseSRWLockExclusive(&g_reg);
}

int shmring__plat_role_held(struct shmring__plat_seg *seg, int role)
{
    if (!valid_role(seg, role)) {
        return 1; /* an error counts as held */
    }
    AcquireSRWLockExclusive(&g_reg);
    HANDLE h = NULL;
    int held = 1;
    if (role_mutex(seg, role, &h) == 0) {
        if (seg->held[role]) {
            held = 0; /* ours: then no other handle can hold it */
        } else if (held_by_sibling(seg, role)) {
            held = 1;
        } else {
            held = mutex_owned(h); /* free, or abandoned (the holder died) = not held */
        }
    }
    ReleaseSRWLockExclusive(&g_reg);
    return held;
}

/* ---- waits -------------------------------------------------------------------------------------
 */

static DWORD ms_of(int64_t ns)
{
    if (ns < 0) {
        return INFINITE;
    }
    int64_t ms = ns / 1000000 + (ns % 1000000 != 0);
    return ms >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)ms;
}

int shmring__plat_wait(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word,
                       uint32_t expected, int64_t timeout_ns)
{
    if (seg == NULL || word == NULL || (side != 0 && side != 1)) {
        return SHMRING_EINVAL;
    }
    _Atomic int32_t *sleepers = &seg->waiters->sleepers[side];
    /* V1: pairs with V3: either the waker's load (V4) counts us, or our load of the word (V2)
     * sees the waker's store made before shmring__plat_wake(). */
    atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
    /* V2: pairs with V3 (and, for the data, with the waker's release of it before its store). */
    if (atomic_load_explicit(word, memory_order_seq_cst) != expected) {
        atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed); /* V5 (relaxed): a count */
        return 0;
    }
    /* A count released after V1 is kept by the semaphore until a waiter of this side takes it,
     * so none is lost. It may be another than the one it was meant for: on the producers' side,
     * where several sleep, a later sleeper can take it first. That sleeper set the flag again
     * after the waker cleared it, so the next wake-up of the side wakes us: one round late, not
     * lost (tests/model/mpsc_wake.pml, -DPLAT_WIN). A count meant for a sleeper that timed out
     * meanwhile costs a later wait one spurious return, which the caller tolerates. */
    DWORD w = WaitForSingleObject(seg->sem[side], ms_of(timeout_ns));
    atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed); /* V5 */
    if (w == WAIT_OBJECT_0) {
        return 0;
    }
    return w == WAIT_TIMEOUT ? SHMRING_ETIMEDOUT : last_error();
}

void shmring__plat_wake(struct shmring__plat_seg *seg, int side, _Atomic uint32_t *word)
{
    (void)word;
    if (seg == NULL || (side != 0 && side != 1)) {
        return;
    }
    /* V3: pairs with V1/V2: the caller's store of the word comes before our count of sleepers. */
    atomic_thread_fence(memory_order_seq_cst);
    int32_t n = atomic_load_explicit(&seg->waiters->sleepers[side], memory_order_relaxed); /* V4 */
    if (n > 0) {
        /* A full barrier too: the caller's stores are visible before anyone wakes. */
        ReleaseSemaphore(seg->sem[side], n < WAKE_MAX_COUNT ? n : WAKE_MAX_COUNT, NULL);
    }
}

/* ---- inspection --------------------------------------------------------------------------------
 */

/* 1 if a live handle (of any process, this one included) holds ring `base`'s role, 0 if not:
 * asked as in _role_held(). A name that does not open is free. */
static int probe_role(const wchar_t *base, int role)
{
    wchar_t on[NAME_CHARS];
    _snwprintf(on, NAME_CHARS, L"%ls.role.%d", base, role);
    on[NAME_CHARS - 1] = L'\0';
    HANDLE h = OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, on);
    if (h == NULL) {
        return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : 1; /* an error counts as held */
    }
    int held = mutex_owned(h);
    CloseHandle(h);
    return held;
}

int shmring__plat_probe(const char *name, struct shmring__plat_probe *out,
                        void (*fn)(void *ctx, const void *base, uint64_t size), void *ctx)
{
    if (!valid_name(name) || out == NULL) {
        return SHMRING_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    struct shmring__plat_seg seg = {0};
    base_name(seg.base, name);
    wchar_t on[NAME_CHARS];
    obj_name(on, &seg, L".mem", -1);
    seg.section = OpenFileMappingW(FILE_MAP_READ | READ_CONTROL, FALSE, on);
    if (seg.section == NULL) {
        return last_error();
    }
    int mine = owned_by_us(seg.section);
    int err = mine < 0 ? mine : map_view(&seg, FILE_MAP_READ, &out->size);
    if (err == 0) {
        out->owner = 0;
        out->owned_by_us = mine;
        out->mode = mine ? 0600 : 0;
        out->in_use = 1; /* it exists, so a live process has it open */
        for (int r = SHMRING__ROLE_ID_PRODUCER; r <= SHMRING__ROLE_ID_LEGACY_SETTER; r++) {
            out->roles |= (unsigned)probe_role(seg.base, r) << r;
        }
        for (int r = SHMRING__ROLE_ID_SLOT0; r < SHMRING__ROLE_ID_MAX; r++) {
            out->slots_held += (uint32_t)probe_role(seg.base, r);
        }
        if (fn != NULL && size_is_valid(out->size)) {
            fn(ctx, seg.view, out->size);
        }
    }
    if (seg.view != NULL) {
        UnmapViewOfFile(seg.view);
    }
    CloseHandle(seg.section);
    return err;
}

int shmring__plat_list(int (*fn)(void *ctx, const char *name), void *ctx)
{
    (void)fn;
    (void)ctx;
    return SHMRING_ENOSYS; /* sections cannot be enumerated */
}

int shmring__plat_unlink(const char *name)
{
    (void)name;
    return SHMRING_ENOSYS; /* a section ends with its last handle, not by name */
}

int shmring__plat_remove_stale(const char *name,
                               int (*decide)(void *ctx, const void *base, uint64_t size), void *ctx)
{
    (void)decide;
    (void)ctx;
    if (!valid_name(name)) {
        return SHMRING_EINVAL;
    }
    /* There are no stale sections: one that still opens has a live user (kept: 0), one that
     * does not is gone (SHMRING_ENOENT counts as kept: 0). */
    wchar_t on[NAME_CHARS];
    struct shmring__plat_seg seg = {0};
    base_name(seg.base, name);
    obj_name(on, &seg, L".mem", -1);
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, on);
    if (h != NULL) {
        CloseHandle(h);
        return 0;
    }
    int err = last_error();
    return err == SHMRING_ENOENT ? 0 : err;
}

/* ---- process-wide ------------------------------------------------------------------------------
 */

void shmring__plat_mutex_lock(shmring__plat_mutex *m)
{
    AcquireSRWLockExclusive((PSRWLOCK)(void *)m->opaque);
}

void shmring__plat_mutex_unlock(shmring__plat_mutex *m)
{
    ReleaseSRWLockExclusive((PSRWLOCK)(void *)m->opaque);
}

void shmring__plat_once(shmring__plat_once_t *once, void (*fn)(void))
{
    /* O4: pairs with O5: fn's effects are visible to every caller that returns. */
    if (atomic_load_explicit(&once->state, memory_order_acquire) == 2) {
        return;
    }
    int expected = 0;
    /* O6 (acquire on failure: then O4's reasoning applies to the load in the loop below). */
    if (atomic_compare_exchange_strong_explicit(&once->state, &expected, 1, memory_order_acquire,
                                                memory_order_acquire)) {
        fn();
        /* O5: pairs with O4 and the loop's load. */
        atomic_store_explicit(&once->state, 2, memory_order_release);
        return;
    }
    /* Another thread runs fn (briefly: every fn here opens a few kernel objects). */
    while (atomic_load_explicit(&once->state, memory_order_acquire) != 2) { /* O4 */
        Sleep(0);
    }
}

int shmring__plat_at_exit(void (*fn)(void))
{
    /* In a DLL, mingw's atexit runs fn when the DLL is unloaded or at DLL_PROCESS_DETACH. */
    return atexit(fn) == 0 ? 0 : SHMRING_ENOMEM;
}

int shmring__plat_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    (void)prepare;
    (void)parent;
    (void)child;
    return 0; /* no fork on Windows */
}

int shmring__plat_cancel_off(void)
{
    return 0; /* no asynchronous thread cancellation on Windows */
}

void shmring__plat_cancel_restore(int old)
{
    (void)old;
}

/* ---- time, scheduling, identity, barriers ------------------------------------------------------
 */

int64_t shmring__plat_now_ns(void)
{
    static _Atomic int64_t freq; /* FQ1 (relaxed): any thread may store the same constant */
    int64_t f = atomic_load_explicit(&freq, memory_order_relaxed);
    if (f == 0) {
        LARGE_INTEGER q;
        QueryPerformanceFrequency(&q);
        f = q.QuadPart;
        atomic_store_explicit(&freq, f, memory_order_relaxed); /* FQ1 */
    }
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    return c.QuadPart / f * 1000000000 + c.QuadPart % f * 1000000000 / f;
}

int64_t shmring__plat_coarse_ns(void)
{
    return (int64_t)GetTickCount64() * 1000000;
}

int64_t shmring__plat_deadline(int64_t timeout_ns)
{
    if (timeout_ns < 0) {
        return INT64_MAX;
    }
    int64_t now = shmring__plat_now_ns();
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

void shmring__plat_sleep_ns(int64_t ns)
{
    /* Sleep's unit is a millisecond (and the timer tick often 15.6 ms): anything shorter than
     * one becomes one, except 0, which only gives up the rest of the time slice. */
    Sleep(ns <= 0 ? 0 : ms_of(ns));
}

void shmring__plat_cpu_relax(void)
{
    YieldProcessor();
}

void shmring__plat_yield(void)
{
    SwitchToThread();
}

int32_t shmring__plat_pid(void)
{
    return (int32_t)GetCurrentProcessId();
}

uint64_t shmring__plat_page_size(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize;
}

/* FlushProcessWriteBuffers is the membarrier of one process only; the peer is another process,
 * so both sides use full fences (wait.c's fallback). */
int shmring__plat_light_is_fence = 1;

void shmring__plat_barrier_init(void)
{
}

void shmring__plat_heavy_barrier(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}
