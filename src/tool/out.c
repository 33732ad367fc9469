/* SPDX-License-Identifier: MIT */
/* Output encodings: escaped text for recv, JSON strings, the --binary record length. */
#include <errno.h>
#include <string.h>

#include "cli.h"

/* Length of the well-formed UTF-8 sequence at p (1-4 bytes available: n), or 0. Overlong forms,
 * surrogates, code points above U+10FFFF and the C1 controls (U+0080-U+009F, which terminals
 * interpret) do not count. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char b = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        if (b == 0xc2) {
            lo = 0xa0; /* U+0080-U+009F are C1 controls */
        }
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        if (b == 0xe0) {
            lo = 0xa0; /* overlong */
        } else if (b == 0xed) {
            hi = 0x9f; /* surrogates */
        }
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        if (b == 0xf0) {
            lo = 0x90; /* overlong */
        } else if (b == 0xf4) {
            hi = 0x8f; /* above U+10FFFF */
        }
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

void cli_write_escaped(FILE *f, const void *msg, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = msg;
    size_t i = 0;
    while (i < len) {
        /* The longest run that needs no escaping goes out in one call. */
        size_t run = i;
        for (;;) {
            if (run < len && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '\\') {
                run++;
                continue;
            }
            size_t u = run < len && p[run] >= 0x80 ? utf8_len(p + run, len - run) : 0;
            if (u == 0) {
                break;
            }
            run += u;
        }
        if (run > i) {
            fwrite(p + i, 1, run - i, f);
            i = run;
            continue;
        }
        unsigned char c = p[i++];
        switch (c) {
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default: {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            fwrite(e, 1, 4, f);
        }
        }
    }
}

void cli_json_str(FILE *f, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
        } else {
            fputc(c, f); /* callers pass ASCII (ring names) or UTF-8 */
        }
    }
    fputc('"', f);
}

void cli_put_le32(unsigned char out[4], uint32_t v)
{
    out[0] = (unsigned char)v;
    out[1] = (unsigned char)(v >> 8);
    out[2] = (unsigned char)(v >> 16);
    out[3] = (unsigned char)(v >> 24);
}

uint32_t cli_get_le32(const unsigned char in[4])
{
    return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

int cli_flush_stdout(const char *cmd)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno != 0 ? errno : EIO;
        char what[64];
        snprintf(what, sizeof what, "%s: writing output", cmd);
        return cli_fail(what, -e);
    }
    return 0;
}
