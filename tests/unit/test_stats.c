/*  tb_stats: counts by kind and outcome, percentiles of known samples, the
    stats line. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "tb_stats.h"

Test(stats, empty)
{
    tb_stats_t *s = tb_stats_new();
    cr_assert_not_null(s);
    cr_assert_eq(tb_stats_calls(s), 0);
    cr_assert_eq(tb_stats_percentile(s, 50), 0);
    cr_assert_eq(tb_stats_max_us(s), 0);
    cr_assert_eq(tb_stats_count(s, "submit", "OK"), 0);
    tb_stats_destroy(&s);
    cr_assert_null(s);
    tb_stats_destroy(&s);
}

Test(stats, counts_by_kind_and_outcome)
{
    tb_stats_t *s = tb_stats_new();
    for (int i = 0; i < 12; i++)
        tb_stats_call(s, "submit", "OK", 100);
    tb_stats_call(s, "get", "NOT_FOUND", 50);
    tb_stats_call(s, "get", "NOT_FOUND", 50);
    tb_stats_call(s, NULL, NULL, 1);
    cr_assert_eq(tb_stats_calls(s), 15);
    cr_assert_eq(tb_stats_count(s, "submit", "OK"), 12);
    cr_assert_eq(tb_stats_count(s, "get", "NOT_FOUND"), 2);
    cr_assert_eq(tb_stats_count(s, "unknown", "unknown"), 1);
    cr_assert_eq(tb_stats_count(s, "get", "OK"), 0);
    tb_stats_destroy(&s);
}

Test(stats, percentiles_of_known_samples)
{
    tb_stats_t *s = tb_stats_new();
    /* 1..1000 us, in a scrambled order */
    for (int i = 0; i < 1000; i++)
        tb_stats_call(s, "list", "OK", (i * 7919) % 1000 + 1);
    int64_t p50 = tb_stats_percentile(s, 50);
    int64_t p90 = tb_stats_percentile(s, 90);
    int64_t p99 = tb_stats_percentile(s, 99);
    cr_assert(p50 >= 500 && p50 <= 625, "p50 %lld", (long long)p50);
    cr_assert(p90 >= 900 && p90 <= 1000, "p90 %lld", (long long)p90);
    cr_assert(p99 >= 990 && p99 <= 1000, "p99 %lld", (long long)p99);
    cr_assert_eq(tb_stats_max_us(s), 1000);
    cr_assert_eq(tb_stats_percentile(s, 100), 1000);
    cr_assert_leq(tb_stats_percentile(s, 0), 1);
    cr_assert(p50 <= p90 && p90 <= p99);
    tb_stats_destroy(&s);
}

Test(stats, percentiles_are_exact_for_equal_samples_and_skewed_tail)
{
    tb_stats_t *s = tb_stats_new();
    for (int i = 0; i < 100; i++)
        tb_stats_call(s, "get", "OK", 1000);
    cr_assert_eq(tb_stats_percentile(s, 50), 1000);
    cr_assert_eq(tb_stats_percentile(s, 99), 1000);
    tb_stats_reset(s);
    /* 98 fast calls and 2 slow ones: p50 fast, p99 slow */
    for (int i = 0; i < 98; i++)
        tb_stats_call(s, "get", "OK", 200);
    tb_stats_call(s, "get", "OK", 2000000);
    tb_stats_call(s, "get", "OK", 3000000);
    int64_t p50 = tb_stats_percentile(s, 50), p99 = tb_stats_percentile(s, 99);
    cr_assert(p50 >= 200 && p50 <= 250, "p50 %lld", (long long)p50);
    cr_assert(p99 >= 2000000 && p99 <= 2500000, "p99 %lld", (long long)p99);
    cr_assert_eq(tb_stats_max_us(s), 3000000);
    /* huge and negative latencies do not break anything */
    tb_stats_call(s, "get", "OK", INT64_MAX);
    tb_stats_call(s, "get", "OK", -5);
    cr_assert_eq(tb_stats_max_us(s), INT64_MAX);
    tb_stats_destroy(&s);
}

Test(stats, overflowing_pairs_go_to_other)
{
    tb_stats_t *s = tb_stats_new();
    char kind[32];
    for (int i = 0; i < TB_STATS_MAX_PAIRS + 20; i++) {
        snprintf(kind, sizeof kind, "k%d", i);
        tb_stats_call(s, kind, "OK", 1);
    }
    cr_assert_eq(tb_stats_calls(s), TB_STATS_MAX_PAIRS + 20);
    cr_assert_eq(tb_stats_count(s, "k0", "OK"), 1);
    cr_assert_eq(tb_stats_count(s, "other", "other"), 21);
    tb_stats_destroy(&s);
}

Test(stats, code_names)
{
    cr_assert_str_eq(tb_stats_code_name(TECHBRIDGE__CODE__OK), "OK");
    cr_assert_str_eq(tb_stats_code_name(TECHBRIDGE__CODE__INVALID_ARGUMENT),
                     "INVALID_ARGUMENT");
    cr_assert_str_eq(tb_stats_code_name(TECHBRIDGE__CODE__UNAVAILABLE), "UNAVAILABLE");
    cr_assert_str_eq(tb_stats_code_name(4242), "UNKNOWN");
}

Test(stats, log_line_then_reset)
{
    tb_log_setup("intake", "info", "json");
    tb_stats_t *s = tb_stats_new();
    tb_stats_call(s, "submit", "OK", 800);
    tb_stats_call(s, "submit", "OK", 900);
    tb_stats_call(s, "get", "NOT_FOUND", 100);

    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    tb_stats_log(s, (const tb_field_t[]){TB_I("feed.matching.requests.lag", 3),
                                         TB_I("db.round_trips", 42), TB_F_END_});
    tb_stats_log(s, NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    static char out[65536];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);

    char *nl = strchr(out, '\n');
    cr_assert_not_null(nl, "%s", out);
    json_error_t err;
    json_t *j = json_loadb(out, (size_t)(nl - out), 0, &err);
    cr_assert_not_null(j, "%s: %s", err.text, out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "event")), "stats");
    cr_assert_eq(json_integer_value(json_object_get(j, "calls")), 3);
    cr_assert_eq(json_integer_value(json_object_get(j, "calls.submit.OK")), 2);
    cr_assert_eq(json_integer_value(json_object_get(j, "calls.get.NOT_FOUND")), 1);
    cr_assert_eq(json_integer_value(json_object_get(j, "latency_max_us")), 900);
    json_int_t p50 = json_integer_value(json_object_get(j, "latency_p50_us"));
    cr_assert(p50 >= 800 && p50 <= 900, "p50 %lld", (long long)p50);
    cr_assert_not_null(json_object_get(j, "latency_p90_us"));
    cr_assert_not_null(json_object_get(j, "latency_p99_us"));
    cr_assert_not_null(json_object_get(j, "interval_s"));
    cr_assert_eq(json_integer_value(json_object_get(j, "feed.matching.requests.lag")), 3);
    cr_assert_eq(json_integer_value(json_object_get(j, "db.round_trips")), 42);
    json_decref(j);

    /* The second line: a fresh interval, the total kept. */
    json_t *k = json_loadb(nl + 1, strlen(nl + 1) - 1, 0, &err);
    cr_assert_not_null(k, "%s", nl + 1);
    cr_assert_eq(json_integer_value(json_object_get(k, "calls")), 0);
    cr_assert_eq(json_integer_value(json_object_get(k, "calls_total")), 3);
    cr_assert_null(json_object_get(k, "calls.submit.OK"));
    cr_assert_eq(json_integer_value(json_object_get(k, "latency_p99_us")), 0);
    json_decref(k);
    cr_assert_eq(tb_stats_calls(s), 0);
    tb_stats_destroy(&s);
}
