/* SPDX-License-Identifier: MIT */
/* Helpers of the Windows platform layer that its tests use too (tests/win/test_platform_win.c).
 * Internal: not exported from shmring.dll. */
#ifndef SHMRING_WIN_PLATFORM_WIN_H
#define SHMRING_WIN_PLATFORM_WIN_H

#include <stddef.h>
#include <wchar.h>

/* A Win32 error code (GetLastError, a WAIT_* result) as a SHMRING_E* code. */
int shmring__win_error(unsigned long err);

/* The kernel object name of ring `name`'s part `what` (".mem", ".init", ".wake0", ".role.1"):
 * "Local\shmring-<name><what>" into out[cap] (cap >= 256). 0 or SHMRING_EINVAL. */
int shmring__win_object_name(const char *name, const char *what, wchar_t *out, size_t cap);

/* This process's user SID (a PSID, process lifetime), or NULL. */
const void *shmring__win_user_sid(void);

#endif
