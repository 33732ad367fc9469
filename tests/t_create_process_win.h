/* SPDX-License-Identifier: MIT */
/* t_create_process_win.h: CreateProcessA/W for the Windows tests, with one retry rule.
 *
 * Wine 8.0 (Debian 12) now and then fails CreateProcess with ERROR_INTERNAL_ERROR (1359) on a
 * loaded machine: one fresh-machine CI run lost compat_legacy_c to it ("CreateProcess
 * ...compat_legacy_setter_dll.exe: error 1359"), and the same program started a moment later in
 * the same run. Windows does not return that code for a valid program, so the tests retry that
 * code only, up to T_CREATE_PROCESS_TRIES times with a growing pause, and say so on stderr; every
 * other failure (missing file 2, bad format 193, ...) still fails at once. */
#ifndef SHMRING_T_CREATE_PROCESS_WIN_H
#define SHMRING_T_CREATE_PROCESS_WIN_H

#include <stdio.h>
#include <windows.h>

#define T_CREATE_PROCESS_TRIES 5u

/* 1 when the failure that just happened is the transient one and another try is left (after the
 * pause: 100, 200, 400, 800 ms); 0 when the caller must report it. Keeps GetLastError(). */
static inline int t_create_process_again(unsigned attempt)
{
    DWORD err = GetLastError();
    if (err != ERROR_INTERNAL_ERROR || attempt + 1u >= T_CREATE_PROCESS_TRIES) {
        return 0;
    }
    fprintf(stderr, "CreateProcess: error %lu (transient under wine), try %u of %u\n", err,
            attempt + 2u, T_CREATE_PROCESS_TRIES);
    Sleep(100u << attempt);
    SetLastError(err);
    return 1;
}

static inline BOOL t_create_process_a(const char *app, char *cmd, BOOL inherit, STARTUPINFOA *si,
                                      PROCESS_INFORMATION *pi)
{
    for (unsigned attempt = 0;; attempt++) {
        if (CreateProcessA(app, cmd, NULL, NULL, inherit, 0, NULL, NULL, si, pi)) {
            return TRUE;
        }
        if (!t_create_process_again(attempt)) {
            return FALSE;
        }
    }
}

static inline BOOL t_create_process_w(wchar_t *cmd, BOOL inherit, STARTUPINFOW *si,
                                      PROCESS_INFORMATION *pi)
{
    for (unsigned attempt = 0;; attempt++) {
        if (CreateProcessW(NULL, cmd, NULL, NULL, inherit, 0, NULL, NULL, si, pi)) {
            return TRUE;
        }
        if (!t_create_process_again(attempt)) {
            return FALSE;
        }
    }
}

#endif
