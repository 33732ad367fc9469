/* SPDX-License-Identifier: MIT */
/* A hostile peer's view of a named mapping, for the fuzz targets, on POSIX and on Windows.
 *
 * POSIX: the object /dev/shm/<name>, written with shm_open + pwrite and removed with shm_unlink.
 * Windows: the section Local\shmring-<name>.mem (src/win/platform_win.c's naming). A section
 * lives while a handle is open, so "writing the object" is creating the section with the
 * library's security descriptor (owner and only ACE: this user), copying the bytes into it and
 * keeping the handle, as a peer process that planted it would; "removing" closes that handle.
 * Self-contained apart from the library's internal headers (no CMocka, no testutil). */
#ifndef SHMRING_FUZZ_OBJ_H
#define SHMRING_FUZZ_OBJ_H

#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"

#ifdef _WIN32
#include <windows.h>

#include <sddl.h>

#include "platform_win.h"

static HANDLE fz_obj_section; /* the one planted section (fz_obj_write .. fz_obj_remove) */

static inline void fz_obj_wname(const char *name, wchar_t *out)
{
    FZ_CHECK(shmring__win_object_name(name, ".mem", out, 300) == 0, "object name of %s", name);
}

/* The library's descriptor: O:<user>D:P(A;;GA;;;<user>), so its owner check accepts the
 * section whether or not the token's default owner is the user (an elevated administrator's
 * is the Administrators group). */
static inline SECURITY_ATTRIBUTES *fz_obj_sa(void)
{
    static SECURITY_ATTRIBUTES sa;
    static PSECURITY_DESCRIPTOR sd;
    if (sd == NULL) {
        wchar_t *sid = NULL, sddl[256];
        FZ_CHECK(ConvertSidToStringSidW((PSID)shmring__win_user_sid(), &sid), "user SID");
        _snwprintf(sddl, 255, L"O:%lsD:P(A;;GA;;;%ls)", sid, sid);
        sddl[255] = L'\0';
        LocalFree(sid);
        FZ_CHECK(
            ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL),
            "security descriptor: %lu", GetLastError());
        sa.nLength = sizeof sa;
        sa.lpSecurityDescriptor = sd;
        sa.bInheritHandle = FALSE;
    }
    return &sa;
}

static inline void fz_obj_write(const char *name, const uint8_t *mem, uint64_t size)
{
    wchar_t on[300];
    fz_obj_wname(name, on);
    FZ_CHECK(fz_obj_section == NULL, "a section is still planted");
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, fz_obj_sa(), PAGE_READWRITE | SEC_COMMIT,
                                  (DWORD)(size >> 32), (DWORD)size, on);
    FZ_CHECK(h != NULL, "CreateFileMappingW %s: %lu", name, GetLastError());
    FZ_CHECK(GetLastError() != ERROR_ALREADY_EXISTS, "section %s outlived its handles", name);
    void *view = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    FZ_CHECK(view != NULL, "MapViewOfFile: %lu", GetLastError());
    memcpy(view, mem, (size_t)size);
    UnmapViewOfFile(view);
    fz_obj_section = h;
}

static inline void fz_obj_remove(const char *name)
{
    (void)name;
    if (fz_obj_section != NULL) {
        CloseHandle(fz_obj_section);
        fz_obj_section = NULL;
    }
}

/* 1 when no process has the name open any more. */
static inline int fz_obj_gone(const char *name)
{
    wchar_t on[300];
    fz_obj_wname(name, on);
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, on);
    if (h != NULL) {
        CloseHandle(h);
        return 0;
    }
    return GetLastError() == ERROR_FILE_NOT_FOUND;
}

/* A writable view of the existing mapping `name` (the set/get value the library attached). */
struct fz_peer {
    void *view;
};

static inline struct fz_peer fz_peer_open(const char *name)
{
    wchar_t on[300];
    fz_obj_wname(name, on);
    HANDLE h = OpenFileMappingW(FILE_MAP_WRITE, FALSE, on);
    FZ_CHECK(h != NULL, "OpenFileMappingW %s: %lu", name, GetLastError());
    struct fz_peer p = {MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0)};
    FZ_CHECK(p.view != NULL, "MapViewOfFile: %lu", GetLastError());
    CloseHandle(h); /* the view keeps the section */
    return p;
}

static inline void fz_peer_write(struct fz_peer *p, const uint8_t *mem, uint64_t size)
{
    memcpy(p->view, mem, (size_t)size);
}

static inline void fz_setenv(const char *var, const char *value)
{
    FZ_CHECK(_putenv_s(var, value) == 0, "putenv %s", var);
}

#else /* POSIX */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static inline void fz_obj_write(const char *name, const uint8_t *mem, uint64_t size)
{
    char path[256];
    snprintf(path, sizeof path, "/%s", name);
    int fd = shm_open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FZ_CHECK(fd >= 0, "shm_open %s: %s", path, strerror(errno));
    FZ_CHECK(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s", strerror(errno));
    FZ_CHECK(pwrite(fd, mem, (size_t)size, 0) == (ssize_t)size, "pwrite: %s", strerror(errno));
    close(fd);
}

static inline void fz_obj_remove(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/%s", name);
    shm_unlink(path);
}

static inline int fz_obj_gone(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/%s", name);
    int fd = shm_open(path, O_RDONLY, 0);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == ENOENT;
}

struct fz_peer {
    int fd;
};

/* A descriptor of the existing object `name`; the name is then removed, so nobody else may find
 * it, while the library's mapping and this descriptor stay valid. */
static inline struct fz_peer fz_peer_open(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/%s", name);
    struct fz_peer p = {shm_open(path, O_RDWR | O_CLOEXEC, 0)};
    FZ_CHECK(p.fd >= 0, "open %s: %s", path, strerror(errno));
    shm_unlink(path);
    return p;
}

static inline void fz_peer_write(struct fz_peer *p, const uint8_t *mem, uint64_t size)
{
    FZ_CHECK(pwrite(p->fd, mem, (size_t)size, 0) == (ssize_t)size, "pwrite: %s", strerror(errno));
}

static inline void fz_setenv(const char *var, const char *value)
{
    FZ_CHECK(setenv(var, value, 1) == 0, "setenv %s: %s", var, strerror(errno));
}
#endif

#endif
