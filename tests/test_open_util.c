/* SPDX-License-Identifier: MIT */
/* Helpers shared by the test_open_* and test_data_calls programs (see test_open_util.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#include <sddl.h>

#include "platform_win.h" /* shmring__win_object_name, shmring__win_user_sid */
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "t_cmocka.h"

#include "ring.h"
#include "shmring.h"
#include "shmring_admin.h" /* shmring_page_size */
#include "shmring_compat.h"
#include "testutil.h"
#include "test_open_util.h"

/* ---- helpers ------------------------------------------------------------------------------ */

const struct shmring_opts create_opts = {.flags = SHMRING_CREATE};
const struct shmring_opts attach_opts = {0};

shmring *open_ok(const char *name, int role, const struct shmring_opts *opts)
{
    shmring *r = NULL;
    int rc = shmring_open(name, role, opts, &r);
    if (rc != 0) {
        fail_msg("shmring_open(%s, %d) = %d (%s)", name, role, rc, shmring_strerror(rc));
    }
    assert_non_null(r);
    return r;
}

#ifdef _WIN32
/* Windows: a ring's memory is the section "Local\shmring-<name>.mem", and it lives while some
 * process has a handle to it. A planted section is held by this process (as a foreign process
 * would hold it) until unplant; there is no section without a holder, so nothing is ever
 * "abandoned" (docs/windows.md, "Lifetime"). */
static struct {
    char name[256];
    HANDLE h;
} planted[8];

static void section_name(const char *name, wchar_t *out)
{
    assert_int_equal(shmring__win_object_name(name, ".mem", out, 300), 0);
}

/* Creates the section with these bytes (at least one page: sections are page-granular). */
void plant(const char *name, const void *bytes, size_t len)
{
    wchar_t on[300];
    section_name(name, on);
    size_t i = 0;
    while (i < 8 && planted[i].h != NULL) {
        i++;
    }
    assert_true(i < 8);
    /* Owned by this user, as the library's own sections (the token's default owner may be a
     * group, e.g. Administrators under wine, which the opener refuses: test_foreign_owner). */
    wchar_t *sid = NULL, sddl[256];
    assert_true(ConvertSidToStringSidW((PSID)shmring__win_user_sid(), &sid));
    _snwprintf(sddl, 256, L"O:%lsD:P(A;;GA;;;%ls)", sid, sid);
    sddl[255] = L'\0';
    LocalFree(sid);
    PSECURITY_DESCRIPTOR sd = NULL;
    assert_true(
        ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL));
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0,
                                  (DWORD)(len > 0 ? len : 1), on);
    LocalFree(sd);
    assert_non_null(h);
    assert_int_not_equal(GetLastError(), ERROR_ALREADY_EXISTS);
    if (len > 0) {
        void *p = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, len);
        assert_non_null(p);
        memcpy(p, bytes, len);
        UnmapViewOfFile(p);
    }
    snprintf(planted[i].name, sizeof planted[i].name, "%s", name);
    planted[i].h = h;
}

void unplant(const char *name)
{
    for (size_t i = 0; i < 8; i++) {
        if (planted[i].h != NULL && strcmp(planted[i].name, name) == 0) {
            CloseHandle(planted[i].h);
            planted[i].h = NULL;
            assert_false(t_shm_exists(name)); /* nobody else held it */
            return;
        }
    }
    fail_msg("unplant(%s): not planted", name);
}

/* 1 if the section holds exactly these bytes, then zeros to the end of its last page. */
int holds(const char *name, const void *bytes, size_t len)
{
    struct view v = view_map(name);
    size_t page = (size_t)shmring_page_size();
    int same = v.size == (len + page - 1) / page * page && memcmp(v.h, bytes, len) == 0;
    for (size_t i = len; same && i < v.size; i++) {
        same = ((const uint8_t *)v.h)[i] == 0;
    }
    view_unmap(&v);
    return same;
}

struct view view_map(const char *name)
{
    wchar_t on[300];
    section_name(name, on);
    HANDLE h = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, on);
    assert_non_null(h);
    void *p = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
    CloseHandle(h); /* the view keeps the section */
    assert_non_null(p);
    MEMORY_BASIC_INFORMATION mi;
    assert_int_not_equal(VirtualQuery(p, &mi, sizeof mi), 0);
    return (struct view){p, (size_t)mi.RegionSize};
}

void view_unmap(struct view *v)
{
    UnmapViewOfFile(v->h);
}
#else
void shm_path(const char *name, char *path, size_t n)
{
    snprintf(path, n, "/dev/shm/%s", name);
}

/* Plants /dev/shm/<name> with exactly these bytes (as a foreign or crashed process would). */
void plant(const char *name, const void *bytes, size_t len)
{
    char path[512];
    shm_path(name, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    if (len > 0) {
        assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    }
    close(fd);
}

/* Removes what plant made (it must still be there). */
void unplant(const char *name)
{
    assert_int_equal(shmring_unlink(name), 0);
}

/* 1 if /dev/shm/<name> holds exactly these bytes. */
int holds(const char *name, const void *bytes, size_t len)
{
    char path[512];
    shm_path(name, path, sizeof path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return 0;
    }
    uint8_t *buf = malloc(len + 1);
    ssize_t n = read(fd, buf, len + 1);
    close(fd);
    int same = n == (ssize_t)len && memcmp(buf, bytes, len) == 0;
    free(buf);
    return same;
}

struct view view_map(const char *name)
{
    char path[512];
    shm_path(name, path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(p != MAP_FAILED);
    return (struct view){p, (size_t)st.st_size};
}

void view_unmap(struct view *v)
{
    munmap(v->h, v->size);
}

#endif

/* A valid header image of `size` bytes (a formatted ring with nothing in it), in an 8 KiB
 * zeroed buffer so that it can also be planted as a larger object. */
uint8_t *image(uint64_t size, uint32_t flags)
{
    assert_true(size <= 8192);
    uint8_t *img = calloc(1, 8192);
    assert_non_null(img);
    assert_int_equal(shmring__ring_format(img, size, flags), 0);
    return img;
}

void send_seq(shmring *p, size_t len, uint64_t seq)
{
    uint8_t buf[4096];
    assert_true(len <= sizeof buf);
    t_msg_fill(buf, len, seq);
    assert_int_equal(shmring_send(p, buf, len), 0);
}

void recv_seq(shmring *c, size_t len, uint64_t seq)
{
    uint8_t buf[4096];
    ssize_t n = shmring_recv(c, buf, sizeof buf);
    assert_int_equal(n, (ssize_t)len);
    assert_true(t_msg_check(buf, len, seq));
}

int nop_handler(void *ctx, const void *msg, size_t len)
{
    (void)ctx;
    (void)msg;
    (void)len;
    return 0;
}
