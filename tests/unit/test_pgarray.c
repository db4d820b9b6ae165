/*  tb_pgarray: array literals that PostgreSQL's array input reads back as the
    elements we put in. */
#include <criterion/criterion.h>

#include "tb_pgarray.h"

static tb_pgarray_t *s_array;

static void s_setup(void)
{
    s_array = tb_pgarray_new();
    cr_assert_not_null(s_array);
}

static void s_teardown(void)
{
    tb_pgarray_destroy(&s_array);
    cr_assert_null(s_array);
}

TestSuite(pgarray, .init = s_setup, .fini = s_teardown);

Test(pgarray, empty_is_braces)
{
    cr_assert_str_eq(tb_pgarray_literal(s_array), "{}");
}

Test(pgarray, text_is_quoted_and_escaped)
{
    tb_pgarray_text(s_array, "plain");
    tb_pgarray_text(s_array, "Xi'an \"quoted\" back\\slash, {braces}");
    tb_pgarray_text(s_array, "");
    cr_assert_str_eq(tb_pgarray_literal(s_array),
                     "{\"plain\",\"Xi'an \\\"quoted\\\" back\\\\slash, {braces}\",\"\"}");
}

Test(pgarray, integers_and_hex)
{
    tb_pgarray_int(s_array, -42);
    tb_pgarray_int(s_array, INT64_MAX);
    const uint8_t bytes[] = {0x00, 0xab, 0x10};
    tb_pgarray_hex(s_array, bytes, sizeof bytes);
    tb_pgarray_hex(s_array, bytes, 0);
    cr_assert_str_eq(tb_pgarray_literal(s_array),
                     "{-42,9223372036854775807,00ab10,\"\"}");
}

Test(pgarray, long_hex_crosses_chunks)
{
    uint8_t bytes[1000];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)i;
    tb_pgarray_hex(s_array, bytes, sizeof bytes);
    const char *lit = tb_pgarray_literal(s_array);
    cr_assert_eq(strlen(lit), 2 + 2 * sizeof bytes);
    cr_assert_eq(strncmp(lit, "{00010203", 9), 0);
    cr_assert_eq(strcmp(lit + strlen(lit) - 5, "e6e7}"), 0);
}

Test(pgarray, literal_is_stable)
{
    tb_pgarray_int(s_array, 1);
    const char *a = tb_pgarray_literal(s_array);
    cr_assert_str_eq(a, "{1}");
    cr_assert_str_eq(tb_pgarray_literal(s_array), "{1}");
}
