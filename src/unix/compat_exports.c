/* SPDX-License-Identifier: MIT */
/* The classic calls on POSIX systems: C linkage, the platform's one calling convention, the
 * string's bytes as given (include/shmring_compat.h). */
#include <string.h>

#include "../compat.h"
#include "shmring_compat.h"

void SetSharedMem(const char *lpszBuf)
{
    if (lpszBuf != NULL) {
        (void)shmring__compat_set(lpszBuf, strnlen(lpszBuf, SHMRING_COMPAT_MAX_STRING));
    }
}

void GetSharedMem(char *lpszBuf, unsigned int cchSize)
{
    if (lpszBuf != NULL && cchSize != 0) {
        (void)shmring__compat_get(lpszBuf, cchSize);
    }
}
