/* SPDX-License-Identifier: MIT */
/* t_spawn.h and t_spawn_flat (testutil.h) on Windows, which has no fork: the test program starts
 * itself again with CreateProcess. t_spawn_flat's child is "PROGRAM --t-child OFFSET BYTES":
 * OFFSET is fn's distance from the program's image base (the same file, so the same distance in
 * every process, whatever address the loader chose), BYTES the argument in hex. A constructor
 * runs the function before main (so no test's main needs to know) and leaves with its result. */
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t_create_process_win.h"
#include "testutil.h"

extern IMAGE_DOS_HEADER __ImageBase; /* the linker's symbol for this program's load address */

/* Appends arg to cmd[cap] as one argument quoted by the rules CommandLineToArgvW and the C
 * runtime undo: backslashes double only before a quote. 0, or -1 when it does not fit. */
static int append_arg(char *cmd, size_t cap, const char *arg)
{
    size_t n = strlen(cmd);
    if (n + 3 >= cap) {
        return -1;
    }
    if (n > 0) {
        cmd[n++] = ' ';
    }
    cmd[n++] = '"';
    for (const char *p = arg;; p++) {
        size_t slashes = 0;
        while (*p == '\\') {
            slashes++, p++;
        }
        size_t reps = *p == '"' || *p == '\0' ? 2 * slashes : slashes;
        if (n + reps + 3 >= cap) {
            return -1;
        }
        memset(cmd + n, '\\', reps);
        n += reps;
        if (*p == '\0') {
            break;
        }
        if (*p == '"') {
            cmd[n++] = '\\';
        }
        cmd[n++] = *p;
    }
    cmd[n++] = '"';
    cmd[n] = '\0';
    return 0;
}

t_proc t_spawn_exe(const char *exe, const char *const args[])
{
    static char cmd[32768];
    cmd[0] = '\0';
    if (append_arg(cmd, sizeof cmd, exe) != 0) {
        return -1;
    }
    for (int i = 0; args[i] != NULL; i++) {
        if (append_arg(cmd, sizeof cmd, args[i]) != 0) {
            fprintf(stderr, "t_spawn_exe: command line too long\n");
            return -1;
        }
    }
    fflush(NULL);
    /* The child writes to our standard handles (CTest reads them), and gets the handles the
     * caller made inheritable (test_compat's agent pipes). */
    STARTUPINFOA si = {.cb = sizeof si, .dwFlags = STARTF_USESTDHANDLES};
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION pi;
    if (!t_create_process_a(exe, cmd, TRUE, &si, &pi)) {
        fprintf(stderr, "t_spawn_exe: CreateProcess %s: error %lu\n", exe, GetLastError());
        return -1;
    }
    CloseHandle(pi.hThread);
    return (t_proc)pi.hProcess;
}

t_proc t_spawn_self(const char *const args[])
{
    char self[MAX_PATH];
    DWORD len = GetModuleFileNameA(NULL, self, sizeof self);
    if (len == 0 || len >= sizeof self) {
        fprintf(stderr, "t_spawn_self: cannot find this program: error %lu\n", GetLastError());
        return -1;
    }
    return t_spawn_exe(self, args);
}

int t_proc_wait(t_proc p)
{
    HANDLE h = (HANDLE)p;
    DWORD code;
    if (WaitForSingleObject(h, INFINITE) != WAIT_OBJECT_0 || !GetExitCodeProcess(h, &code)) {
        CloseHandle(h);
        return -1;
    }
    CloseHandle(h);
    return (int)code;
}

void t_proc_kill(t_proc p)
{
    TerminateProcess((HANDLE)p, T_KILLED);
}

t_proc t_spawn_flat(int (*fn)(void *), const void *arg, size_t size)
{
    static char hex[2 * 8192 + 1];
    char off[32];
    if (size > 8192) {
        fprintf(stderr, "t_spawn_flat: argument of %zu bytes: at most 8192\n", size);
        return -1;
    }
    snprintf(off, sizeof off, "%llx",
             (unsigned long long)((uintptr_t)fn - (uintptr_t)&__ImageBase));
    for (size_t i = 0; i < size; i++) {
        snprintf(hex + 2 * i, 3, "%02x", ((const unsigned char *)arg)[i]);
    }
    hex[2 * size] = '\0';
    const char *args[] = {"--t-child", off, size > 0 ? hex : "-", NULL};
    return t_spawn_self(args);
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The child's side of t_spawn_flat, before main. Like the POSIX child it leaves with _exit:
 * atexit handlers are the parent program's business. */
__attribute__((constructor)) static void t_child_entry(void)
{
    if (__argc != 4 || strcmp(__argv[1], "--t-child") != 0) {
        return;
    }
    uintptr_t off = (uintptr_t)strtoull(__argv[2], NULL, 16);
    const char *hex = __argv[3];
    size_t size = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
    unsigned char *arg = calloc(size + 1, 1);
    for (size_t i = 0; i < size; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (arg == NULL || hi < 0 || lo < 0) {
            fprintf(stderr, "t_child_entry: bad argument\n");
            _exit(125);
        }
        arg[i] = (unsigned char)(hi << 4 | lo);
    }
    int (*fn)(void *) = (int (*)(void *))((uintptr_t)&__ImageBase + off);
    int rc = fn(arg);
    fflush(NULL);
    _exit(rc);
}
