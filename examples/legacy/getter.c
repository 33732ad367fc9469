/* SPDX-License-Identifier: MIT */
/* A legacy caller, the reading half of the classic pair (see setter.c): it declares the call
 * itself, links with -lshmring, and prints the shared string. */
#include <stdio.h>

/* The old DLL's convention: cdecl, but on 32-bit Windows Delphi's `register`, which GCC and
 * clang call regparm(3) (MSVC has none: use SetSharedMemA/GetSharedMemA there). */
#if defined(_WIN32) && !defined(_WIN64)
#define LEGACY_CALL __attribute__((regparm(3)))
#else
#define LEGACY_CALL
#endif

void LEGACY_CALL SetSharedMem(const char *lpszBuf);
void LEGACY_CALL GetSharedMem(char *lpszBuf, unsigned int cchSize);

int main(void)
{
    char szBuf[256];
    GetSharedMem(szBuf, sizeof(szBuf));
    printf("%s\n", szBuf);
    return 0;
}
