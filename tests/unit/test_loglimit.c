/*  tb_loglimit: lines per key and in all per window, counts of what was held
    back, a bounded table. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "tb_loglimit.h"

#define SEC (1000LL * 1000)

Test(loglimit, a_key_gets_its_burst_then_a_count)
{
    tb_loglimit_t *l = tb_loglimit_new(4, 2, 0, 60 * SEC);
    cr_assert_not_null(l);
    uint64_t held = 99;
    cr_assert(tb_loglimit_allow(l, "10.0.0.1", SEC, &held));
    cr_assert_eq(held, 0);
    cr_assert(tb_loglimit_allow(l, "10.0.0.1", SEC, &held));
    for (int i = 0; i < 5; i++)
        cr_assert(!tb_loglimit_allow(l, "10.0.0.1", 2 * SEC, &held));
    /* another key is not held back by the first */
    cr_assert(tb_loglimit_allow(l, "10.0.0.2", 2 * SEC, &held));
    /* a new window: the next line carries the count */
    cr_assert(tb_loglimit_allow(l, "10.0.0.1", 62 * SEC, &held));
    cr_assert_eq(held, 5);
    cr_assert(tb_loglimit_allow(l, "10.0.0.1", 62 * SEC, &held));
    cr_assert_eq(held, 0);
    cr_assert_eq(tb_loglimit_suppressed(l), 5);
    tb_loglimit_destroy(&l);
    cr_assert_null(l);
}

Test(loglimit, the_total_bounds_many_keys)
{
    tb_loglimit_t *l = tb_loglimit_new(8, 1, 3, 60 * SEC);
    int written = 0;
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        written += tb_loglimit_allow(l, key, SEC + i, NULL);
    }
    cr_assert_eq(written, 3);
    cr_assert_eq(tb_loglimit_suppressed(l), 997);
    tb_loglimit_destroy(&l);
}

Test(loglimit, arguments_are_checked)
{
    cr_assert_null(tb_loglimit_new(0, 1, 0, SEC));
    cr_assert_null(tb_loglimit_new(1, 0, 0, SEC));
    cr_assert_null(tb_loglimit_new(1, 1, 0, 0));
    tb_loglimit_destroy(NULL);
}
