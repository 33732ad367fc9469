/* SPDX-License-Identifier: MIT */
/* abi_dll.h: the legacy value's calling conventions, proved on a stand-in DLL (shmabi.dll) before
 * the real shmring.dll exists. The names and conventions are the ones shmring.dll will export:
 *   SetSharedMem/GetSharedMem    ANSI, Delphi's `register` on i386 (EAX, EDX, ECX), undecorated
 *   SetSharedMemA/GetSharedMemA  ANSI, cdecl
 *   SetSharedMemW/GetSharedMemW  UTF-16, cdecl (Microsoft's DLLSHMEM.C sample, cchSize in WCHARs)
 * AbiProbe(a, b, c) returns a * 100 + b * 10 + c: it shows all three register arguments arrive in
 * order. On x86-64 there is one convention, so the register and cdecl forms are the same. */
#ifndef SHMRING_TESTS_WIN_ABI_DLL_H
#define SHMRING_TESTS_WIN_ABI_DLL_H

#include <wchar.h>

/* SHMABI_MISMATCH builds the negative control: cdecl where the callers expect register. */
#if defined(__i386__) && !defined(SHMABI_MISMATCH)
#define SHMABI_REGISTER __attribute__((regparm(3)))
#else
#define SHMABI_REGISTER
#endif

#ifdef SHMABI_BUILDING
#define SHMABI_API __declspec(dllexport)
#else
#define SHMABI_API __declspec(dllimport)
#endif

SHMABI_API void SHMABI_REGISTER SetSharedMem(const char *lpszBuf);
SHMABI_API void SHMABI_REGISTER GetSharedMem(char *lpszBuf, int cchSize);
SHMABI_API int SHMABI_REGISTER AbiProbe(int a, int b, int c);
SHMABI_API void __cdecl SetSharedMemA(const char *lpszBuf);
SHMABI_API void __cdecl GetSharedMemA(char *lpszBuf, unsigned long cchSize);
SHMABI_API void __cdecl SetSharedMemW(const wchar_t *lpszBuf);
SHMABI_API void __cdecl GetSharedMemW(wchar_t *lpszBuf, unsigned long cchSize);

#endif
