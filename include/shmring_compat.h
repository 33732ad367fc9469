/* SPDX-License-Identifier: MIT */
/* shmring_compat: the classic SetSharedMem/GetSharedMem calls, for programs written against the
 * old DLL that kept one string in a 4 KiB named mapping called "dllmemfilemap".
 *
 * Existing callers keep working unchanged: same names, C linkage, the old convention (cdecl; on
 * 32-bit Windows Delphi's `register`, see below), link with -lshmring (shared or static). They may
 * keep declaring the two functions themselves; this header is only a convenience and adds
 * shmring_compat_status().
 *
 * Semantics (every process that uses the same name shares one value):
 *  - the last complete value set by any process wins; reading does not consume it; before any
 *    set the value is the empty string;
 *  - a get never returns a torn string: always one that some set wrote, whole;
 *  - strings longer than SHMRING_COMPAT_MAX_STRING bytes are truncated to that length;
 *  - the mapping is attached on the first call in a process (a program that never calls these
 *    pays nothing) and detached at exit; the last process to detach removes the name. If every
 *    process using it was killed, the next one to attach starts afresh with the empty string.
 *  - after the library's exit handler has detached the process (POSIX: calls from other threads
 *    while exit() runs, or from exit handlers that run after the library's), a call attaches
 *    for that call only, so that the last process to detach still removes the name, and never
 *    creates the name (the process may end inside the call and leave it behind). If the name is
 *    gone, a get returns "" and a set does nothing, both with status -ENOENT.
 *  - the calls never crash, abort or print. A set waits at most about one second for another
 *    setter, a get at most about one second for a setter that overwrites the value (see
 *    shmring_compat_status for what happens then); the first call's attach may wait up to 5 s
 *    for a process that is opening or closing the name. Thread-safe; not async-signal-safe.
 *
 * Environment: SHMRING_COMPAT_NAME overrides the name "dllmemfilemap" (read at attach). The
 * mapping is created with mode 0600: only processes of the same user share it.
 */
#ifndef SHMRING_COMPAT_H
#define SHMRING_COMPAT_H

#include "shmring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Calling conventions. Everywhere but 32-bit Windows there is one and both macros are empty.
 * On 32-bit Windows (docs/windows.md, "What replaces what"):
 *  - SHMRING_CDECL: the A and W forms and shmring_compat_status are cdecl;
 *  - SHMRING_REGISTER: the plain SetSharedMem/GetSharedMem keep the old DLL's convention, Delphi's
 *    `register` (EAX, EDX, ECX), which is regparm(3) in GCC and clang. MSVC has no such
 *    convention: there the plain names are macros for the A forms (same value, same ANSI text),
 *    so C code written for the old DLL compiles unchanged against the cdecl exports. */
#if defined(_WIN32) && !defined(_WIN64)
#define SHMRING_CDECL __cdecl
#if defined(__GNUC__) || defined(__clang__)
#define SHMRING_REGISTER __attribute__((regparm(3)))
#else
#define SHMRING__COMPAT_PLAIN_IS_A 1
#endif
#else
#define SHMRING_CDECL
#endif
#ifndef SHMRING_REGISTER
#define SHMRING_REGISTER
#endif

#define SHMRING_COMPAT_DEFAULT_NAME "dllmemfilemap"
#define SHMRING_COMPAT_SIZE         4096u /* bytes of the whole mapping, as in the DLL */
#define SHMRING_COMPAT_MAX_STRING   3072u /* longest value, without its NUL; longer is cut */

/* Copies the NUL-terminated string lpszBuf (at most SHMRING_COMPAT_MAX_STRING bytes of it) into
 * the shared value. NULL is a no-op. Any process may call it; concurrent setters are serialised.
 * Blocks only while another setter writes (at most about 1 s, then gives up: status -ETIMEDOUT,
 * value unchanged). If the caller dies inside the call, the previous value stays readable when
 * the old and the new string together fit in 3584 bytes (see docs/legacy.md, "A setter killed in
 * the middle"). */
#if defined(SHMRING__COMPAT_PLAIN_IS_A)
#define SetSharedMem(lpszBuf) SetSharedMemA(lpszBuf)
#else
SHMRING_API void SHMRING_REGISTER SetSharedMem(const char *lpszBuf);
#endif

/* Copies the current value into lpszBuf: at most cchSize - 1 bytes, then a NUL (a longer value
 * is cut to fit). Writes nothing when lpszBuf is NULL or cchSize is 0. On an error it stores the
 * empty string and shmring_compat_status() says why. Any process, any number of times. */
#if defined(SHMRING__COMPAT_PLAIN_IS_A)
#define GetSharedMem(lpszBuf, cchSize) GetSharedMemA((lpszBuf), (unsigned long)(cchSize))
#elif defined(_WIN32)
/* Windows: cchSize is the Delphi caller's signed Integer; <= 0 writes nothing. */
SHMRING_API void SHMRING_REGISTER GetSharedMem(char *lpszBuf, int cchSize);
#else
SHMRING_API void SHMRING_REGISTER GetSharedMem(char *lpszBuf, unsigned int cchSize);
#endif

#if defined(_WIN32)
/* The same value through explicit string types (Windows only; cdecl; undecorated exports).
 * A: ANSI in the process's ANSI code page (CP_ACP); W: UTF-16, cchSize in WCHARs with the NUL,
 * the calls of Microsoft's DLLSHMEM.C sample (which dllshmem.dll exports under the plain names).
 * The value is stored as UTF-8 and converted on the way in and out; a value that does not fit
 * (SHMRING_COMPAT_MAX_STRING UTF-8 bytes, or cchSize) is cut before a whole character, never
 * inside a UTF-8 sequence, a surrogate pair or a double-byte character; characters the code page
 * lacks read as its default character ('?'). cchSize 0 or above 0x7fffffff writes nothing. */
SHMRING_API void SHMRING_CDECL SetSharedMemA(const char *lpszBuf);
SHMRING_API void SHMRING_CDECL GetSharedMemA(char *lpszBuf, unsigned long cchSize);
SHMRING_API void SHMRING_CDECL SetSharedMemW(const wchar_t *lpszBuf);
SHMRING_API void SHMRING_CDECL GetSharedMemW(wchar_t *lpszBuf, unsigned long cchSize);
#endif

/* The outcome of the most recent SetSharedMem/GetSharedMem call in this process that did
 * anything (calls with NULL or cchSize 0 leave it unchanged): 0 on success, otherwise a negative
 * errno value (shmring_strerror gives its text):
 *   attaching failed (retried on the next call): -EINVAL bad SHMRING_COMPAT_NAME, -EACCES the
 *     name belongs to another user or is a symlink, directory, FIFO, socket or device planted
 *     there, -EPROTO the name is not a set/get mapping (e.g. a queue), -EAGAIN the name was
 *     replaced 64 times in a row while attaching, -ENOMEM, -ENOSPC, -EMFILE ... from the system;
 *   -ETIMEDOUT set: another setter held the value for more than ~1 s (value unchanged);
 *              get: a live setter was overwriting the value for more than ~1 s ("" returned);
 *   -EOWNERDEAD get: a setter died while overwriting the value; "" is returned until the next
 *              set repairs it;
 *   -EPROTO get: the shared value's bounds are corrupt ("" returned; the next set repairs it);
 *   -ENOENT a call after the library's exit handler, and the name is gone (see above; "" for a
 *           get, nothing set).
 * The status is per process, not per thread. */
SHMRING_API int SHMRING_CDECL shmring_compat_status(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMRING_COMPAT_H */
