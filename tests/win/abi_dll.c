/* SPDX-License-Identifier: MIT */
/* shmabi.dll: a stand-in for shmring.dll's legacy exports (see abi_dll.h). One value in a static
 * UTF-16 buffer; the ANSI forms convert with the process ANSI code page. Single-threaded test
 * code: the real library keeps the value in the shared mapping. */
#define SHMABI_BUILDING
#include "abi_dll.h"

#include <string.h>
#include <windows.h>

#define VALUE_CAP 256
static wchar_t value[VALUE_CAP];

static void set_ansi(const char *s)
{
    if (!s || MultiByteToWideChar(CP_ACP, 0, s, -1, value, VALUE_CAP) == 0)
        value[0] = 0;
}

/* Truncation drops a whole character: never half of a surrogate pair or of a DBCS character. */
static void get_ansi(char *buf, int cap)
{
    if (!buf || cap <= 0)
        return;
    int used = 0;
    for (int i = 0; value[i];) {
        int n = IS_HIGH_SURROGATE(value[i]) && IS_LOW_SURROGATE(value[i + 1]) ? 2 : 1;
        char tmp[8];
        int len = WideCharToMultiByte(CP_ACP, 0, value + i, n, tmp, sizeof(tmp), NULL, NULL);
        if (len <= 0 || used + len > cap - 1)
            break;
        memcpy(buf + used, tmp, (size_t)len);
        used += len;
        i += n;
    }
    buf[used] = 0;
}

void SHMABI_REGISTER SetSharedMem(const char *lpszBuf)
{
    set_ansi(lpszBuf);
}

void SHMABI_REGISTER GetSharedMem(char *lpszBuf, int cchSize)
{
    get_ansi(lpszBuf, cchSize);
}

int SHMABI_REGISTER AbiProbe(int a, int b, int c)
{
    return a * 100 + b * 10 + c;
}

void __cdecl SetSharedMemA(const char *lpszBuf)
{
    set_ansi(lpszBuf);
}

void __cdecl GetSharedMemA(char *lpszBuf, unsigned long cchSize)
{
    get_ansi(lpszBuf, cchSize > 0x7fffffffUL ? 0x7fffffff : (int)cchSize);
}

void __cdecl SetSharedMemW(const wchar_t *lpszBuf)
{
    size_t n = 0;
    if (lpszBuf)
        while (n < VALUE_CAP - 1 && lpszBuf[n])
            n++;
    if (n > 0 && IS_HIGH_SURROGATE(lpszBuf[n - 1]))
        n--;
    if (lpszBuf)
        memcpy(value, lpszBuf, n * sizeof(wchar_t));
    value[n] = 0;
}

void __cdecl GetSharedMemW(wchar_t *lpszBuf, unsigned long cchSize)
{
    if (!lpszBuf || cchSize == 0)
        return;
    size_t n = 0;
    while (n + 1 < cchSize && value[n])
        n++;
    if (n > 0 && IS_HIGH_SURROGATE(value[n - 1]) && value[n])
        n--;
    memcpy(lpszBuf, value, n * sizeof(wchar_t));
    lpszBuf[n] = 0;
}
