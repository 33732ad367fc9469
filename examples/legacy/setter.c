/* SPDX-License-Identifier: MIT */
/* A legacy caller, written the way programs written against the old DLL are: it declares the two
 * calls itself (no shmring header) and links with -lshmring. It sets the shared string and stays
 * alive until Enter (or end of input), so that another process can read it meanwhile.
 *
 *   ./legacy_setter            # terminal 1: sets "This is a test string", waits
 *   ./legacy_getter            # terminal 2: prints it
 */
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
    SetSharedMem("This is a test string");
    printf("String set. Press Enter to exit...\n");
    fflush(stdout);
    getchar();
    return 0;
}
