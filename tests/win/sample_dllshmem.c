/* SPDX-License-Identifier: MIT */
/* A caller in the style of Microsoft's DLLSHMEM.C sample, linked against dllshmem.dll (whose two
 * exports forward to the real shmring.dll's W forms): the first process sets "This is a test
 * string" and starts a second one (CreateProcessW), which gets the value and prints it. */
#include <stdio.h>
#include <string.h>
#include <wchar.h>
#include <windows.h>

#include "t_create_process_win.h"

/* DLLSHMEM.C's prototypes (cdecl, undecorated). */
__declspec(dllimport) void __cdecl SetSharedMem(LPWSTR lpszBuf);
__declspec(dllimport) void __cdecl GetSharedMem(LPWSTR lpszBuf, DWORD cchSize);

int main(int argc, char **argv)
{
    (void)argv;
    WCHAR buf[256];
    if (argc > 1) { /* the second process */
        GetSharedMem(buf, 256);
        printf("second process got: %ls\n", buf);
        return wcscmp(buf, L"This is a test string") == 0 ? 0 : 1;
    }
    SetSharedMem(L"This is a test string");
    WCHAR self[MAX_PATH], cmd[MAX_PATH + 16];
    GetModuleFileNameW(NULL, self, MAX_PATH);
    _snwprintf(cmd, MAX_PATH + 16, L"\"%ls\" second", self);
    cmd[MAX_PATH + 15] = L'\0';
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!t_create_process_w(cmd, FALSE, &si, &pi)) {
        printf("FAIL - CreateProcessW: %lu\n", GetLastError());
        return 1;
    }
    WaitForSingleObject(pi.hProcess, 30000);
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    printf("first process set it; the second exited with %lu\n", code);
    return (int)code;
}
