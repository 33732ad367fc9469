/* SPDX-License-Identifier: MIT */
/* A legacy caller, written the way programs written against the old DLL are: it declares the two
 * calls itself (no shmring header) and links with -lshmring. It sets the shared string and stays
 * alive until Enter (or end of input), so that another process can read it meanwhile.
 *
 *   ./legacy_setter            # terminal 1: sets "This is a test string", waits
 *   ./legacy_getter            # terminal 2: prints it
 */
#include <stdio.h>

void SetSharedMem(const char *lpszBuf);
void GetSharedMem(char *lpszBuf, unsigned int cchSize);

int main(void)
{
    SetSharedMem("This is a test string");
    printf("String set. Press Enter to exit...\n");
    fflush(stdout);
    getchar();
    return 0;
}
