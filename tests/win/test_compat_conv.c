/* SPDX-License-Identifier: MIT */
/* The legacy value's conversions on Windows (src/win/compat_conv.c) and the six exports of
 * src/win/compat_win.c, over the real store (src/compat.c, a named section),
 * and dllshmem.dll's forwarders to the real shmring.dll. Under wine the process ANSI
 * code page is 1252; the double-byte cases use code page 932 (Shift-JIS) directly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <windows.h>
#include "t_cmocka.h" /* CMocka; assertions end paths for the analyzer */

#include "compat_conv.h"

#define MAXS SHMRING_COMPAT_MAX_STRING

static char g_utf8[SHMRING__COMPAT_BUF];

/* The bytes the store holds now. */
static const char *stored(void)
{
    shmring__compat_get(g_utf8, sizeof(g_utf8));
    return g_utf8;
}

/* ---- the converters -------------------------------------------------------------------------- */

static void t_utf8_cut(void **state)
{
    (void)state;
    const char *s = "a\xe2\x82\xac\xf0\x9f\x98\x80"; /* a, EURO SIGN, GRINNING FACE */
    assert_int_equal(shmring__win_utf8_cut(s, 8, 8), 8);
    assert_int_equal(shmring__win_utf8_cut(s, 8, 7), 4); /* not inside the 4-byte face */
    assert_int_equal(shmring__win_utf8_cut(s, 8, 4), 4);
    assert_int_equal(shmring__win_utf8_cut(s, 8, 3), 1); /* not inside the euro sign */
    assert_int_equal(shmring__win_utf8_cut(s, 8, 0), 0);
}

static void t_ansi_1252(void **state)
{
    (void)state;
    char out[SHMRING__COMPAT_BUF];
    assert_int_equal(shmring__win_ansi_to_utf8(1252, "caf\xe9 \x80", out), 9);
    assert_string_equal(out, "caf\xc3\xa9 \xe2\x82\xac");
    char a[16];
    memset(a, '#', sizeof(a));
    /* A character 1252 lacks reads as '?'; a cut keeps whole characters. */
    shmring__win_utf8_to_ansi(1252, "\xc3\xa9\xf0\x9f\x98\x80z", 7, a, sizeof(a));
    assert_string_equal(a, "\xe9?z");
    memset(a, '#', sizeof(a));
    shmring__win_utf8_to_ansi(1252, "\xc3\xa9\xc3\xa9", 4, a, 2);
    assert_string_equal(a, "\xe9");
    assert_int_equal(a[2], '#');
}

static void t_ansi_double_byte(void **state)
{
    (void)state;
    if (!IsValidCodePage(932)) {
        skip(); /* no Shift-JIS table installed */
    }
    char out[SHMRING__COMPAT_BUF];
    /* HIRAGANA A (82 A0 in Shift-JIS, E3 81 82 in UTF-8) three times, then 'x'. */
    assert_int_equal(shmring__win_ansi_to_utf8(932, "\x82\xa0\x82\xa0\x82\xa0x", out), 10);
    assert_string_equal(out, "\xe3\x81\x82\xe3\x81\x82\xe3\x81\x82x");
    char a[16];
    for (long cch = 1; cch <= 8; cch++) {
        memset(a, '#', sizeof(a));
        shmring__win_utf8_to_ansi(932, out, 10, a, cch);
        /* room cch - 1 bytes: whole two-byte characters only, and 'x' once all three fit */
        size_t want = cch - 1 >= 7 ? 7 : (size_t)(cch - 1) / 2 * 2;
        assert_int_equal(strlen(a), want);
        assert_memory_equal(a, "\x82\xa0\x82\xa0\x82\xa0x", want);
        assert_int_equal(a[cch], '#'); /* nothing written past cchSize */
    }
}

static void t_wide(void **state)
{
    (void)state;
    char out[SHMRING__COMPAT_BUF];
    assert_int_equal(shmring__win_wide_to_utf8(L"a\U0001F600b", out), 6);
    assert_string_equal(out, "a\xf0\x9f\x98\x80"
                             "b");
    wchar_t w[8];
    wmemset(w, L'#', 8);
    shmring__win_utf8_to_wide(out, 6, w, 3); /* room 2: "a" and half a pair do not make 2 */
    assert_true(w[0] == L'a' && w[1] == 0 && w[2] == L'#');
    wmemset(w, L'#', 8);
    shmring__win_utf8_to_wide(out, 6, w, 4);
    assert_true(w[0] == L'a' && w[1] == 0xd83d && w[2] == 0xde00 && w[3] == 0);
    /* A lone surrogate from the caller, and invalid UTF-8 from a peer, become U+FFFD. */
    assert_int_equal(shmring__win_wide_to_utf8(L"\xd800z", out), 4);
    assert_string_equal(out, "\xef\xbf\xbdz");
    wmemset(w, L'#', 8);
    shmring__win_utf8_to_wide("\xff!", 2, w, 8);
    assert_true(w[0] == 0xfffd && w[1] == L'!' && w[2] == 0);
}

static void t_long_values_cut_whole(void **state)
{
    (void)state;
    static wchar_t w[4000];
    char out[SHMRING__COMPAT_BUF];
    /* 1025 euro signs (3 bytes each): 1024 fit exactly. */
    wmemset(w, 0x20ac, 1025);
    w[1025] = 0;
    assert_int_equal(shmring__win_wide_to_utf8(w, out), 3072);
    /* "a" + 768 faces (4 bytes, 2 units each) = 3073 bytes: the last face goes whole. */
    w[0] = L'a';
    for (int i = 0; i < 768; i++) {
        w[1 + 2 * i] = 0xd83d;
        w[2 + 2 * i] = 0xde00;
    }
    w[1 + 2 * 768] = 0;
    assert_int_equal(shmring__win_wide_to_utf8(w, out), 1 + 767 * 4);
    assert_int_equal(shmring__win_utf8_cut(out, strlen(out), MAXS), strlen(out));
    /* A long ANSI string is read only as far as it can matter. */
    static char a[20000];
    memset(a, '\xe9', sizeof(a) - 1);
    assert_int_equal(shmring__win_ansi_to_utf8(1252, a, out), 3072); /* 1536 x 2 bytes */
    assert_memory_equal(out + 3070, "\xc3\xa9", 2);
}

static void t_cch_not_positive_writes_nothing(void **state)
{
    (void)state;
    char a[4] = "###";
    wchar_t w[4] = L"###";
    shmring__win_utf8_to_ansi(1252, "xy", 2, a, 0);
    shmring__win_utf8_to_ansi(1252, "xy", 2, a, -1);
    shmring__win_utf8_to_wide("xy", 2, w, 0);
    shmring__win_utf8_to_wide("xy", 2, w, -5);
    assert_string_equal(a, "###");
    assert_true(wcscmp(w, L"###") == 0);
    shmring__win_utf8_to_ansi(1252, "xy", 2, a, 1);
    shmring__win_utf8_to_wide("xy", 2, w, 1);
    assert_true(a[0] == 0 && a[1] == '#' && w[0] == 0 && w[1] == L'#');
}

/* ---- the exports ------------------------------------------------------------------------------
 */

static void t_one_value_for_every_form(void **state)
{
    (void)state;
    char a[64];
    wchar_t w[64];
    SetSharedMemW(L"h\u00e9llo \U0001F600");
    assert_string_equal(stored(), "h\xc3\xa9llo \xf0\x9f\x98\x80"); /* UTF-8 inside */
    GetSharedMemA(a, sizeof(a));
    assert_string_equal(a, "h\xe9llo ?"); /* code page 1252 */
    memset(a, 0, sizeof(a));
    GetSharedMem(a, (int)sizeof(a)); /* register form (regparm(3) on i686) */
    assert_string_equal(a, "h\xe9llo ?");
    GetSharedMemW(w, 64);
    assert_true(wcscmp(w, L"h\u00e9llo \U0001F600") == 0);

    SetSharedMem("caf\xe9");
    assert_string_equal(stored(), "caf\xc3\xa9");
    GetSharedMemW(w, 64);
    assert_true(wcscmp(w, L"caf\u00e9") == 0);
    SetSharedMemA("\x80 5");
    assert_string_equal(stored(), "\xe2\x82\xac 5");
    SetSharedMem(NULL); /* no-op */
    SetSharedMemW(NULL);
    assert_string_equal(stored(), "\xe2\x82\xac 5");
}

static void t_exports_bound_the_copy(void **state)
{
    (void)state;
    char a[8];
    wchar_t w[8];
    SetSharedMemA("abcdef");
    memset(a, '#', sizeof(a));
    GetSharedMem(a, -1); /* a Delphi Integer below 1 */
    GetSharedMem(a, 0);
    GetSharedMemA(a, 0);
    GetSharedMemA(a, 0xffffffffUL); /* -1 passed as a DWORD */
    GetSharedMem(NULL, 8);
    assert_int_equal(a[0], '#');
    GetSharedMem(a, 4);
    assert_string_equal(a, "abc");
    assert_int_equal(a[4], '#');
    wmemset(w, L'#', 8);
    GetSharedMemW(w, 0);
    GetSharedMemW(w, 0x80000000UL);
    assert_true(w[0] == L'#');
    GetSharedMemW(w, 3);
    assert_true(w[0] == L'a' && w[1] == L'b' && w[2] == 0 && w[3] == L'#');
    /* The longest value, from ANSI: 1536 two-byte characters, read back whole. */
    static char big[5000], back[5000];
    memset(big, '\xe9', sizeof(big) - 1);
    SetSharedMemA(big);
    assert_int_equal(strlen(stored()), 3072);
    GetSharedMemA(back, sizeof(back));
    assert_int_equal(strlen(back), 1536);
}

typedef void(__cdecl *set_w_fn)(const wchar_t *);
typedef void(__cdecl *get_w_fn)(wchar_t *, unsigned long);

static void t_dllshmem_forwards_to_the_wide_forms(void **state)
{
    (void)state;
    /* This program has the library linked in; dllshmem.dll brings the real shmring.dll, whose
     * value (a named section) is the same one. */
    HMODULE old = LoadLibraryA("dllshmem.dll");
    assert_non_null(old);
    /* The loader resolves the forwarders to shmring.dll's own entry points (wine loads
     * shmring.dll when it first resolves one). */
    FARPROC set = GetProcAddress(old, "SetSharedMem");
    FARPROC get = GetProcAddress(old, "GetSharedMem");
    HMODULE shm = GetModuleHandleA("shmring.dll");
    assert_non_null(shm);
    assert_true(set != NULL && set == GetProcAddress(shm, "SetSharedMemW"));
    assert_true(get != NULL && get == GetProcAddress(shm, "GetSharedMemW"));
    ((set_w_fn)(void *)set)(L"from the DLLSHMEM sample \u00e9");
    char a[64];
    GetSharedMemA(a, sizeof(a));
    assert_string_equal(a, "from the DLLSHMEM sample \xe9");
    wchar_t w[64];
    ((get_w_fn)(void *)get)(w, 64);
    assert_true(wcscmp(w, L"from the DLLSHMEM sample \u00e9") == 0);
    FreeLibrary(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_utf8_cut),
        cmocka_unit_test(t_ansi_1252),
        cmocka_unit_test(t_ansi_double_byte),
        cmocka_unit_test(t_wide),
        cmocka_unit_test(t_long_values_cut_whole),
        cmocka_unit_test(t_cch_not_positive_writes_nothing),
        cmocka_unit_test(t_one_value_for_every_form),
        cmocka_unit_test(t_exports_bound_the_copy),
        cmocka_unit_test(t_dllshmem_forwards_to_the_wide_forms),
    };
    return cmocka_run_group_tests_name("compat_conv", tests, NULL, NULL);
}
