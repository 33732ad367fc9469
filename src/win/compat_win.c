/* SPDX-License-Identifier: MIT */
/* The legacy calls as shmring.dll exports them (include/shmring_compat.h, docs/windows.md):
 *   SetSharedMem/GetSharedMem    ANSI; Delphi's `register` (regparm(3)) on i386, plain on x86-64
 *   SetSharedMemA/GetSharedMemA  ANSI, cdecl
 *   SetSharedMemW/GetSharedMemW  UTF-16, cdecl, cchSize in characters (Microsoft's DLLSHMEM.C)
 * All six share one value, stored as UTF-8 by the common code (shmring__compat_set/get); ANSI
 * means the process's ANSI code page (CP_ACP). Undecorated names come from src/win/shmring.def.
 * cchSize <= 0 (or, for the DWORD forms, above INT_MAX, which is a negative Delphi Integer) writes
 * nothing. A value that does not fit is cut at a character boundary. */
#include <windows.h>

#include <string.h>

#include "compat_conv.h"

#define CCH_MAX 0x7fffffffUL

static void set_ansi(const char *s)
{
    if (s == NULL) {
        return;
    }
    char utf8[SHMRING__COMPAT_BUF];
    int n = shmring__win_ansi_to_utf8(CP_ACP, s, utf8);
    if (n >= 0) {
        shmring__compat_set(utf8, (size_t)n);
    }
}

static void get_ansi(char *buf, long cch)
{
    if (buf == NULL || cch <= 0) {
        return;
    }
    char utf8[SHMRING__COMPAT_BUF];
    shmring__compat_get(utf8, sizeof(utf8)); /* "" on an error */
    shmring__win_utf8_to_ansi(CP_ACP, utf8, strlen(utf8), buf, cch);
}

void SHMRING_REGISTER SetSharedMem(const char *lpszBuf)
{
    set_ansi(lpszBuf);
}

void SHMRING_REGISTER GetSharedMem(char *lpszBuf, int cchSize)
{
    get_ansi(lpszBuf, cchSize);
}

void SHMRING_CDECL SetSharedMemA(const char *lpszBuf)
{
    set_ansi(lpszBuf);
}

void SHMRING_CDECL GetSharedMemA(char *lpszBuf, unsigned long cchSize)
{
    get_ansi(lpszBuf, cchSize > CCH_MAX ? 0 : (long)cchSize);
}

void SHMRING_CDECL SetSharedMemW(const wchar_t *lpszBuf)
{
    if (lpszBuf == NULL) {
        return;
    }
    char utf8[SHMRING__COMPAT_BUF];
    int n = shmring__win_wide_to_utf8(lpszBuf, utf8);
    if (n >= 0) {
        shmring__compat_set(utf8, (size_t)n);
    }
}

void SHMRING_CDECL GetSharedMemW(wchar_t *lpszBuf, unsigned long cchSize)
{
    if (lpszBuf == NULL || cchSize == 0 || cchSize > CCH_MAX) {
        return;
    }
    char utf8[SHMRING__COMPAT_BUF];
    shmring__compat_get(utf8, sizeof(utf8));
    shmring__win_utf8_to_wide(utf8, strlen(utf8), lpszBuf, (long)cchSize);
}
