/* SPDX-License-Identifier: MIT */
/* A stand-in for the entry pair src/compat.c will provide (src/win/compat_conv.h), so that the
 * conversion layer and the DLL exports can be tested before the library builds for Windows: one
 * process-local value, byte semantics like compat.c (longer values are cut to
 * SHMRING_COMPAT_MAX_STRING bytes; get copies at most cap - 1 bytes and a NUL). */
#include <string.h>
#include <windows.h>

#include "compat_conv.h"

static SRWLOCK g_mu = SRWLOCK_INIT;
static char g_value[SHMRING_COMPAT_MAX_STRING];
static size_t g_len;

int shmring__compat_set(const char *utf8, size_t n)
{
    if (n > SHMRING_COMPAT_MAX_STRING) {
        n = SHMRING_COMPAT_MAX_STRING;
    }
    AcquireSRWLockExclusive(&g_mu);
    memcpy(g_value, utf8, n);
    g_len = n;
    ReleaseSRWLockExclusive(&g_mu);
    return 0;
}

int shmring__compat_get(char *buf, size_t cap)
{
    if (buf == NULL || cap == 0) {
        return 0;
    }
    AcquireSRWLockShared(&g_mu);
    size_t k = g_len < cap - 1 ? g_len : cap - 1;
    memcpy(buf, g_value, k);
    buf[k] = '\0';
    ReleaseSRWLockShared(&g_mu);
    return 0;
}

int SHMRING_CDECL shmring_compat_status(void)
{
    return 0;
}
