/* SPDX-License-Identifier: MIT */
/* Conversions of the legacy value between UTF-8 (stored), the ANSI code page and UTF-16, going
 * through UTF-16 with MultiByteToWideChar / WideCharToMultiByte. A cut never splits a character:
 * not a UTF-8 sequence, not a surrogate pair, not a double-byte (or GB18030 four-byte) ANSI
 * character. Everything works in fixed stack buffers sized by SHMRING_COMPAT_MAX_STRING. */
#include <windows.h>

#include <string.h>

#include "compat_conv.h"

#define MAXS SHMRING_COMPAT_MAX_STRING
/* One UTF-16 unit gives at least one UTF-8 byte, and one ANSI character (at most 4 bytes in
 * any code page, GB18030 and UTF-8 included) at least one UTF-16 unit: so MAXS + 1 units or
 * 4 * (MAXS + 1) ANSI bytes always hold more than the longest value, and reading further could
 * not change what is kept. */
#define WIDE_SCAN (MAXS + 1u)
#define ANSI_SCAN (4u * (MAXS + 1u))

size_t shmring__win_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) {
        return n;
    }
    size_t k = max;
    /* Back over continuation bytes (10xxxxxx) to the start of the character that crosses. */
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80) {
        k--;
    }
    return k;
}

/* in[0..wn) -> UTF-8, at most MAXS bytes on a character boundary. */
static int wide_n_to_utf8(const wchar_t *in, size_t wn, char *out)
{
    out[0] = '\0';
    if (wn > WIDE_SCAN) {
        wn = WIDE_SCAN;
    }
    if (wn == 0) {
        return 0;
    }
    /* Cut inside a surrogate pair at the scan end: drop the high half (it would become U+FFFD
     * past the limit anyway, but say so rather than rely on it). */
    if (wn == WIDE_SCAN && IS_HIGH_SURROGATE(in[wn - 1])) {
        wn--;
    }
    char tmp[3u * WIDE_SCAN]; /* a UTF-16 unit is at most 3 UTF-8 bytes */
    int n = WideCharToMultiByte(CP_UTF8, 0, in, (int)wn, tmp, (int)sizeof(tmp), NULL, NULL);
    if (n <= 0) {
        return GetLastError() == ERROR_NOT_ENOUGH_MEMORY ? SHMRING_ENOMEM : SHMRING_EINVAL;
    }
    size_t k = shmring__win_utf8_cut(tmp, (size_t)n, MAXS);
    memcpy(out, tmp, k);
    out[k] = '\0';
    return (int)k;
}

int shmring__win_wide_to_utf8(const wchar_t *in, char *out)
{
    size_t wn = 0;
    while (wn < WIDE_SCAN && in[wn] != L'\0') {
        wn++;
    }
    return wide_n_to_utf8(in, wn, out);
}

int shmring__win_ansi_to_utf8(unsigned cp, const char *in, char *out)
{
    out[0] = '\0';
    size_t n = strnlen(in, ANSI_SCAN);
    if (n == 0) {
        return 0;
    }
    /* A multi-byte character cut by the scan limit converts to U+FFFD, which lands beyond the
     * longest value (see ANSI_SCAN) and is cut off with everything after it. */
    wchar_t w[ANSI_SCAN];
    int wn = MultiByteToWideChar(cp, 0, in, (int)n, w, (int)ANSI_SCAN);
    if (wn <= 0) {
        return GetLastError() == ERROR_INVALID_PARAMETER ? SHMRING_EINVAL : SHMRING_EPROTO;
    }
    return wide_n_to_utf8(w, (size_t)wn, out);
}

/* utf8[0..n) -> UTF-16 in w[WIDE_SCAN]; the number of units. Invalid UTF-8 (a hostile peer's
 * bytes) becomes U+FFFD. */
static size_t utf8_to_units(const char *utf8, size_t n, wchar_t *w)
{
    if (n > MAXS) {
        n = shmring__win_utf8_cut(utf8, n, MAXS);
    }
    if (n == 0) {
        return 0;
    }
    int wn = MultiByteToWideChar(CP_UTF8, 0, utf8, (int)n, w, (int)WIDE_SCAN);
    return wn > 0 ? (size_t)wn : 0;
}

/* The length in UTF-16 units of the character that starts at w[i] (of wn). */
static size_t char_units(const wchar_t *w, size_t i, size_t wn)
{
    return i + 1 < wn && IS_HIGH_SURROGATE(w[i]) && IS_LOW_SURROGATE(w[i + 1]) ? 2 : 1;
}

void shmring__win_utf8_to_wide(const char *utf8, size_t n, wchar_t *out, long cch)
{
    if (out == NULL || cch <= 0) {
        return;
    }
    wchar_t w[WIDE_SCAN];
    size_t wn = utf8_to_units(utf8, n, w);
    size_t room = (size_t)cch - 1, k = 0;
    while (k < wn) {
        size_t c = char_units(w, k, wn);
        if (k + c > room) {
            break;
        }
        k += c;
    }
    memcpy(out, w, k * sizeof(wchar_t));
    out[k] = L'\0';
}

/* One character (c = 1 or 2 UTF-16 units) in code page cp. One the code page lacks is its
 * default character once, also for a surrogate pair (WideCharToMultiByte gives one per unit). */
static int to_ansi(unsigned cp, const wchar_t *ch, size_t c, char tmp[8])
{
    BOOL used = FALSE;
    /* Some code pages (UTF-7/8, the ISO-2022 family...) refuse lpUsedDefaultChar: ask without. */
    int len = WideCharToMultiByte(cp, 0, ch, (int)c, tmp, 8, NULL, &used);
    if (len <= 0 && GetLastError() == ERROR_INVALID_PARAMETER) {
        used = FALSE;
        len = WideCharToMultiByte(cp, 0, ch, (int)c, tmp, 8, NULL, NULL);
    }
    if (len > 0 && used && c == 2) {
        static const wchar_t replacement = 0xfffd;
        len = WideCharToMultiByte(cp, 0, &replacement, 1, tmp, 8, NULL, NULL);
    }
    return len;
}

void shmring__win_utf8_to_ansi(unsigned cp, const char *utf8, size_t n, char *out, long cch)
{
    if (out == NULL || cch <= 0) {
        return;
    }
    wchar_t w[WIDE_SCAN];
    size_t wn = utf8_to_units(utf8, n, w);
    size_t room = (size_t)cch - 1, used = 0;
    /* One character at a time: its bytes in this code page are whole or absent. */
    for (size_t i = 0; i < wn;) {
        size_t c = char_units(w, i, wn);
        char tmp[8];
        int len = to_ansi(cp, w + i, c, tmp);
        if (len <= 0 || used + (size_t)len > room) {
            break;
        }
        memcpy(out + used, tmp, (size_t)len);
        used += (size_t)len;
        i += c;
    }
    out[used] = '\0';
}
