/* SPDX-License-Identifier: MIT */
/* The tests' child processes (t_spawn_flat, t_proc_wait, t_proc_kill in testutil.h) on every
 * system: POSIX forks, Windows starts the program again and runs the function before main. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t_cmocka.h"

#include "platform.h"
#include "testutil.h"

struct spawn_arg {
    char text[64];
    uint64_t value;
    int code;
};

static int child_echo(void *p)
{
    const struct spawn_arg *a = p;
    /* The child got the bytes, not a pointer into the parent. */
    if (strcmp(a->text, "argument \"with\" quotes \\ and spaces") != 0 ||
        a->value != 0x0123456789abcdefULL) {
        fprintf(stderr, "child: wrong argument: '%s' %llx\n", a->text,
                (unsigned long long)a->value);
        return 3;
    }
    return a->code;
}

static int child_sleep(void *p)
{
    (void)p;
    for (;;) {
        shmring__plat_sleep_ns(1000000000);
    }
    return 0;
}

static void test_child_gets_argument_and_exit_code(void **state)
{
    (void)state;
    struct spawn_arg a = {.value = 0x0123456789abcdefULL};
    snprintf(a.text, sizeof a.text, "%s", "argument \"with\" quotes \\ and spaces");
    for (int code = 0; code < 3; code++) {
        a.code = 40 + code;
        t_proc p = t_spawn_flat(child_echo, &a, sizeof a);
        assert_true(p != -1);
        assert_int_equal(t_proc_wait(p), 40 + code);
    }
}

static void test_killed_child(void **state)
{
    (void)state;
    t_proc p = t_spawn_flat(child_sleep, NULL, 0);
    assert_true(p != -1);
    shmring__plat_sleep_ns(50000000);
    t_proc_kill(p);
    assert_int_equal(t_proc_wait(p), T_KILLED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_child_gets_argument_and_exit_code),
        cmocka_unit_test(test_killed_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
