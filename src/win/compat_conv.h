/* SPDX-License-Identifier: MIT */
/* The legacy value on Windows: one value stored as UTF-8 (src/compat.c), read and written through
 * ANSI forms (the process ANSI code page) and UTF-16 forms (src/win/compat_win.c). This header
 * has the conversions, which never split a character, and the entry pair they call. */
#ifndef SHMRING_WIN_COMPAT_CONV_H
#define SHMRING_WIN_COMPAT_CONV_H

#include <stddef.h>
#include <wchar.h>

#include "shmring_compat.h"

/* The entry pair src/compat.c provides (the OS-neutral value protocol): shmring__compat_set and
 * shmring__compat_get. The callers here already cut values at a character boundary. */
#include "../compat.h"

/* Bytes of a whole value plus its NUL. */
#define SHMRING__COMPAT_BUF (SHMRING_COMPAT_MAX_STRING + 1u)

/* The longest prefix of s[0..n) of at most max bytes that ends on a UTF-8 character boundary. */
size_t shmring__win_utf8_cut(const char *s, size_t n, size_t max);

/* NUL-terminated text in code page cp (CP_ACP for the A forms) or UTF-16 -> UTF-8 in out, cut to
 * at most SHMRING_COMPAT_MAX_STRING bytes at a character boundary, NUL-terminated; out holds
 * SHMRING__COMPAT_BUF bytes. Reads only as much of the input as can reach the output. Returns
 * the length, or a SHMRING_E* code (out is then ""). Characters the input cannot represent
 * (invalid bytes, lone surrogates) become U+FFFD. */
int shmring__win_ansi_to_utf8(unsigned cp, const char *in, char *out);
int shmring__win_wide_to_utf8(const wchar_t *in, char *out);

/* utf8[0..n) -> out[0..cch): the longest prefix of whole characters that fits in cch - 1 units
 * (bytes of code page cp, or UTF-16 code units), then a NUL. cch <= 0: writes nothing. A
 * character the code page lacks becomes its default character ('?'). */
void shmring__win_utf8_to_ansi(unsigned cp, const char *utf8, size_t n, char *out, long cch);
void shmring__win_utf8_to_wide(const char *utf8, size_t n, wchar_t *out, long cch);

#endif
