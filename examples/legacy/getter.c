/* SPDX-License-Identifier: MIT */
/* A legacy caller, the reading half of the classic pair (see setter.c): it declares the call
 * itself, links with -lshmring, and prints the shared string. */
#include <stdio.h>

void SetSharedMem(const char *lpszBuf);
void GetSharedMem(char *lpszBuf, unsigned int cchSize);

int main(void)
{
    char szBuf[256];
    GetSharedMem(szBuf, sizeof(szBuf));
    printf("%s\n", szBuf);
    return 0;
}
