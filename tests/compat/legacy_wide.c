/* SPDX-License-Identifier: MIT */
/* A C program of the legacy pair that uses the wide calls (Windows only; 32- and 64-bit), for
 * tests/compat/legacy_run.c, opposite tests/compat/legacy_delphi.pas:
 *
 *   legacy_wide set           SetSharedMemW(VALUE), prints a line, stays until a line or the end
 *                             of standard input
 *   legacy_wide get           GetSharedMemW of shmring.dll, prints the value, every UTF-16 unit
 *                             above 127 as \uNNNN
 *   legacy_wide get-dllshmem  the same through dllshmem.dll's GetSharedMem (Microsoft's DLLSHMEM
 *                             sample's name and signature, a forwarder to GetSharedMemW), loaded
 *                             the way such a program may: LoadLibrary and GetProcAddress
 *
 * VALUE is legacy_delphi.pas's Text in UTF-16: U+00E9 and U+20AC are 0xE9 and 0x80 in code page
 * 1252. Exit 0 on success. */
#include <stdio.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "shmring_compat.h"

#define VALUE L"This is a test string: caf\u00e9 \u20ac5"

static void print_wide(const wchar_t *w)
{
    for (; *w != 0; w++) {
        if (*w < 128) {
            putchar((char)*w);
        } else {
            printf("\\u%04x", (unsigned)*w);
        }
    }
    putchar('\n');
}

typedef void(__cdecl *get_w_fn)(wchar_t *, DWORD);

int main(int argc, char **argv)
{
    static wchar_t buf[4096];
    if (argc == 2 && strcmp(argv[1], "set") == 0) {
        SetSharedMemW(VALUE);
        if (shmring_compat_status() != 0) {
            fprintf(stderr, "SetSharedMemW: %s\n", shmring_strerror(shmring_compat_status()));
            return 1;
        }
        printf("String set. Press Enter to exit...\n");
        fflush(stdout);
        (void)getchar();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "get") == 0) {
        GetSharedMemW(buf, sizeof buf / sizeof buf[0]);
        if (shmring_compat_status() != 0) {
            fprintf(stderr, "GetSharedMemW: %s\n", shmring_strerror(shmring_compat_status()));
            return 1;
        }
        print_wide(buf);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "get-dllshmem") == 0) {
        HMODULE m = LoadLibraryW(L"dllshmem.dll");
        get_w_fn get =
            m != NULL ? (get_w_fn)(void (*)(void))GetProcAddress(m, "GetSharedMem") : NULL;
        if (get == NULL) {
            fprintf(stderr, "dllshmem.dll's GetSharedMem: error %lu\n", GetLastError());
            return 1;
        }
        get(buf, sizeof buf / sizeof buf[0]);
        print_wide(buf);
        return 0;
    }
    fprintf(stderr, "usage: legacy_wide set|get|get-dllshmem\n");
    return 2;
}
