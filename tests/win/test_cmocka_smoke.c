/* SPDX-License-Identifier: MIT */
/* The CMocka that scripts/build-cmocka-mingw.sh builds works under wine: passing checks pass,
 * a failing check makes the program exit non-zero (run with --fail), mocks work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int t_backend(void)
{
    return (int)mock();
}

static void t_pass(void **state)
{
    (void)state;
    will_return(t_backend, 42);
    assert_int_equal(t_backend(), 42);
    assert_string_equal("shmring", "shmring");
    assert_int_equal(sizeof(void *), (size_t)SHMRING_WIN_PTR_BYTES);
}

static void t_fail(void **state)
{
    (void)state;
    assert_int_equal(1, 2);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest pass[] = {cmocka_unit_test(t_pass)};
    const struct CMUnitTest fail[] = {cmocka_unit_test(t_fail)};
    if (argc > 1 && strcmp(argv[1], "--fail") == 0)
        return cmocka_run_group_tests_name("cmocka_must_fail", fail, NULL, NULL);
    return cmocka_run_group_tests_name("cmocka_smoke", pass, NULL, NULL);
}
