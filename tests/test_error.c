/* SPDX-License-Identifier: MIT */
/* shmring_strerror: every SHMRING_E* code of include/shmring.h has its own text. The list below
 * is checked against the header itself, so a code added there without a line in src/error.c's
 * table (and here) fails this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t_cmocka.h"

#include "shmring.h"

#define CODE(n)                                                                                    \
    {                                                                                              \
        n, #n                                                                                      \
    }
static const struct {
    int code;
    const char *name;
} codes[] = {
    CODE(SHMRING_EPERM),   CODE(SHMRING_ENOENT),       CODE(SHMRING_EINTR),
    CODE(SHMRING_EAGAIN),  CODE(SHMRING_ENOMEM),       CODE(SHMRING_EACCES),
    CODE(SHMRING_EBUSY),   CODE(SHMRING_EEXIST),       CODE(SHMRING_EINVAL),
    CODE(SHMRING_ENFILE),  CODE(SHMRING_EMFILE),       CODE(SHMRING_ENOSPC),
    CODE(SHMRING_EPIPE),   CODE(SHMRING_ENAMETOOLONG), CODE(SHMRING_ENOSYS),
    CODE(SHMRING_EPROTO),  CODE(SHMRING_EBADMSG),      CODE(SHMRING_EMSGSIZE),
    CODE(SHMRING_ENOTSUP), CODE(SHMRING_ETIMEDOUT),    CODE(SHMRING_EOWNERDEAD),
};
#define NCODES (sizeof codes / sizeof codes[0])

static void every_code_has_a_distinct_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *t = shmring_strerror(codes[i].code);
        assert_non_null(t);
        if (strcmp(t, "unknown error") == 0 || strcmp(t, "success") == 0) {
            fail_msg("%s (%d) has no text of its own: '%s'", codes[i].name, codes[i].code, t);
        }
        assert_true(codes[i].code < 0);
        /* The positive form names the same code. */
        assert_string_equal(shmring_strerror(-codes[i].code), t);
        for (size_t j = 0; j < i; j++) {
            if (codes[j].code == codes[i].code) {
                fail_msg("%s and %s have the same value %d", codes[i].name, codes[j].name,
                         codes[i].code);
            }
            if (strcmp(shmring_strerror(codes[j].code), t) == 0) {
                fail_msg("%s and %s share the text '%s'", codes[i].name, codes[j].name, t);
            }
        }
    }
    assert_string_equal(shmring_strerror(0), "success");
    assert_string_equal(shmring_strerror(-100000), "unknown error");
}

/* The list above is complete: it names every "#define SHMRING_E..." of the public header. */
static void list_matches_the_header(void **state)
{
    (void)state;
    FILE *f = fopen(SHMRING_PUBLIC_HEADER, "r");
    assert_non_null(f);
    char line[512];
    size_t seen = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char name[64];
        if (sscanf(line, "#define %63s", name) != 1 || strncmp(name, "SHMRING_E", 9) != 0) {
            continue;
        }
        size_t i = 0;
        while (i < NCODES && strcmp(codes[i].name, name) != 0) {
            i++;
        }
        if (i == NCODES) {
            fail_msg("%s is in shmring.h but not in this test (nor maybe in src/error.c)", name);
        }
        seen++;
    }
    fclose(f);
    assert_int_equal(seen, NCODES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_distinct_text),
        cmocka_unit_test(list_matches_the_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
