/* SPDX-License-Identifier: MIT */
/* CMocka for shmring's tests: include this instead of <cmocka.h>.
 *
 * CMocka's assertions return to the caller as far as the clang static analyzer can tell (they
 * are functions that fail by longjmp, not marked noreturn), so the analyzer followed every
 * failed assertion on and reported leaks, null dereferences and undefined values on paths where
 * the test had already failed. Under the analyzer only (clang-tidy defines __clang_analyzer__),
 * each assertion used here becomes "abort when it fails": the same condition, and the path ends
 * where CMocka's would. Compiled tests use CMocka's own. */
#ifndef T_CMOCKA_H
#define T_CMOCKA_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#ifdef __clang_analyzer__
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef assert_true
#undef assert_false
#undef assert_non_null
#undef assert_null
#undef assert_int_equal
#undef assert_int_not_equal
#undef assert_ptr_equal
#undef assert_string_equal
#undef assert_string_not_equal
#undef assert_memory_equal
#undef fail
#undef fail_msg
#undef skip
#define assert_true(c)                ((c) ? (void)0 : abort())
#define assert_false(c)               ((c) ? abort() : (void)0)
#define assert_non_null(p)            ((p) != NULL ? (void)0 : abort())
#define assert_null(p)                ((p) == NULL ? (void)0 : abort())
#define assert_int_equal(a, b)        ((uintmax_t)(a) == (uintmax_t)(b) ? (void)0 : abort())
#define assert_int_not_equal(a, b)    ((uintmax_t)(a) != (uintmax_t)(b) ? (void)0 : abort())
#define assert_ptr_equal(a, b)        ((const void *)(a) == (const void *)(b) ? (void)0 : abort())
#define assert_string_equal(a, b)     (strcmp((a), (b)) == 0 ? (void)0 : abort())
#define assert_string_not_equal(a, b) (strcmp((a), (b)) != 0 ? (void)0 : abort())
#define assert_memory_equal(a, b, n)  (memcmp((a), (b), (n)) == 0 ? (void)0 : abort())
#define fail()                        abort()
#define fail_msg(...)                 ((void)fprintf(stderr, __VA_ARGS__), abort())
#define skip()                        abort()
#endif

#endif /* T_CMOCKA_H */
