/* SPDX-License-Identifier: MIT */
/* t_shared.h: memory shared with t_spawn_flat children. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t_cmocka.h"

#include "t_shared.h"
#include "testutil.h"

#ifdef _WIN32
#include <windows.h>

static void key_name(const struct t_shared *s, wchar_t *out, size_t cap)
{
    _snwprintf(out, cap, L"Local\\shmring-test-%hs", s->key);
    out[cap - 1] = L'\0';
}

void *t_shared_new(struct t_shared *s, const char *tag, size_t size)
{
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", t_name(tag));
    s->size = size;
    wchar_t wn[160];
    key_name(s, wn, 160);
    /* The parent keeps this handle until t_shared_free: a child may start after other views
     * went. */
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, (DWORD)size, wn);
    if (h == NULL || GetLastError() == ERROR_ALREADY_EXISTS) {
        fail_msg("t_shared_new(%s): CreateFileMappingW: error %lu", s->key, GetLastError());
    }
    s->handle = h;
    s->addr = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
    assert_non_null(s->addr);
    return s->addr; /* paging-file sections start zeroed */
}

void *t_shared_attach(const struct t_shared *s)
{
    wchar_t wn[160];
    key_name(s, wn, 160);
    HANDLE h = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, wn);
    if (h == NULL) {
        fprintf(stderr, "t_shared_attach(%s): error %lu\n", s->key, GetLastError());
        return NULL;
    }
    void *p = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, s->size);
    CloseHandle(h); /* the view keeps the section */
    return p;
}

void t_shared_free(struct t_shared *s, void *addr)
{
    UnmapViewOfFile(addr);
    if (s->handle != NULL) {
        CloseHandle(s->handle);
        s->handle = NULL;
    }
}
#else
#include <sys/mman.h>

void *t_shared_new(struct t_shared *s, const char *tag, size_t size)
{
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", t_name(tag));
    s->size = size;
    s->addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(s->addr != MAP_FAILED);
    return s->addr;
}

void *t_shared_attach(const struct t_shared *s)
{
    return s->addr; /* forked: the same mapping at the same address */
}

void t_shared_free(struct t_shared *s, void *addr)
{
    munmap(addr, s->size);
}
#endif
