/* SPDX-License-Identifier: MIT */
/* The set/get value's entry pair, OS-neutral (src/compat.c). The exported legacy calls are thin
 * per-platform shells around it: src/unix/compat_exports.c (SetSharedMem/GetSharedMem, bytes as
 * given) and src/win/compat_win.c (ANSI with Delphi's register convention, ...A, ...W: converted
 * to and from UTF-8). Both attach on first use, record shmring_compat_status() and return 0 or a
 * SHMRING_E* code. */
#ifndef SHMRING_COMPAT_INTERNAL_H
#define SHMRING_COMPAT_INTERNAL_H

#include <stddef.h>

/* Stores utf8[0..n) as the value (n is cut to SHMRING_COMPAT_MAX_STRING; utf8 may be NULL only
 * with n == 0). */
int shmring__compat_set(const char *utf8, size_t n);

/* Copies the value into buf: at most cap - 1 bytes, then a NUL (cap >= 1); "" on an error. */
int shmring__compat_get(char *buf, size_t cap);

#endif /* SHMRING_COMPAT_INTERNAL_H */
