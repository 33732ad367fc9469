/* SPDX-License-Identifier: MIT */
/* dllshmem.dll has no code of its own: its two exports are forwarders to shmring.dll
 * (src/win/dllshmem.def). A DLL needs one object file; this is it. */
#include <windows.h>

BOOL WINAPI DllMain(HINSTANCE dll, DWORD reason, LPVOID reserved);

BOOL WINAPI DllMain(HINSTANCE dll, DWORD reason, LPVOID reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        DisableThreadLibraryCalls(dll);
    }
    return TRUE;
}
