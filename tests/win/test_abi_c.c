/* SPDX-License-Identifier: MIT */
/* C callers of shmabi.dll (abi_dll.h): the UTF-16 cdecl forms of Microsoft's DLLSHMEM.C sample,
 * the ANSI cdecl forms, one value shared by all forms, truncation that never splits a character,
 * and the export names a legacy caller looks up (undecorated, nothing else). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "t_cmocka.h" /* CMocka; assertions end paths for the analyzer */
#include <windows.h>

#include "abi_dll.h"

static void t_wide_round_trip(void **state)
{
    (void)state;
    const wchar_t *v = L"h\u00e9llo w\u00f6rld \u20ac \u4e2d\u6587";
    wchar_t buf[64];
    SetSharedMemW(v);
    wmemset(buf, L'#', 64);
    GetSharedMemW(buf, 64);
    assert_int_equal(wcscmp(buf, v), 0);
}

static void t_wide_truncation(void **state)
{
    (void)state;
    wchar_t buf[8];
    SetSharedMemW(L"abcdefgh");
    wmemset(buf, L'#', 8);
    GetSharedMemW(buf, 6); /* cchSize counts the terminator: 5 characters */
    assert_int_equal(wcscmp(buf, L"abcde"), 0);
    assert_int_equal(buf[6], L'#');
    GetSharedMemW(buf, 1);
    assert_int_equal(buf[0], 0);
    /* U+1F600 is a surrogate pair: with room for 3 units, the pair must not be cut in half. */
    SetSharedMemW(L"ab\U0001F600c");
    GetSharedMemW(buf, 4);
    assert_int_equal(wcscmp(buf, L"ab"), 0);
    GetSharedMemW(buf, 5);
    assert_int_equal(wcscmp(buf, L"ab\U0001F600"), 0);
}

static void t_one_value_for_all_forms(void **state)
{
    (void)state;
    wchar_t w[32];
    char a[32];
    SetSharedMemA("set by A");
    GetSharedMemW(w, 32);
    assert_int_equal(wcscmp(w, L"set by A"), 0);
    GetSharedMem(a, 32);
    assert_string_equal(a, "set by A");
    SetSharedMemW(L"set by W");
    GetSharedMemA(a, 32);
    assert_string_equal(a, "set by W");
    SetSharedMem("set by register");
    GetSharedMemA(a, 9);
    assert_string_equal(a, "set by r");
}

static void t_ansi_code_page(void **state)
{
    (void)state;
    char a[32];
    wchar_t w[32];
    UINT acp = GetACP();
    printf("process ANSI code page: %u\n", acp);
    if (acp != 1252)
        skip();
    SetSharedMemA("caf\xe9"); /* e-acute in code page 1252 */
    GetSharedMemW(w, 32);
    assert_int_equal(wcscmp(w, L"caf\u00e9"), 0);
    SetSharedMemW(L"\u4e2d"); /* not in 1252: the code page's default character */
    GetSharedMemA(a, 32);
    assert_string_equal(a, "?");
}

static void t_register_form_from_c(void **state)
{
    (void)state;
    assert_int_equal(AbiProbe(1, 2, 3), 123);
    assert_int_equal(AbiProbe(-4, 0, 7), -393);
}

static void t_export_names(void **state)
{
    (void)state;
    HMODULE dll = GetModuleHandleA("shmabi.dll");
    assert_non_null(dll);
    static const char *const exported[] = {"SetSharedMem",  "GetSharedMem",  "SetSharedMemA",
                                           "GetSharedMemA", "SetSharedMemW", "GetSharedMemW"};
    for (size_t i = 0; i < sizeof(exported) / sizeof(exported[0]); i++)
        assert_non_null((void *)GetProcAddress(dll, exported[i]));
    static const char *const decorated[] = {"_SetSharedMem", "SetSharedMem@4", "@SetSharedMem@4",
                                            "_GetSharedMemW", "GetSharedMemW@8"};
    for (size_t i = 0; i < sizeof(decorated) / sizeof(decorated[0]); i++)
        assert_null((void *)GetProcAddress(dll, decorated[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_wide_round_trip),         cmocka_unit_test(t_wide_truncation),
        cmocka_unit_test(t_one_value_for_all_forms), cmocka_unit_test(t_ansi_code_page),
        cmocka_unit_test(t_register_form_from_c),    cmocka_unit_test(t_export_names),
    };
    return cmocka_run_group_tests_name("windows_abi_c", tests, NULL, NULL);
}
