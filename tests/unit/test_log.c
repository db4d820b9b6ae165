/*  tb_log: JSON and text lines, escaping, truncation, levels. stderr is
    captured through a pipe and each line parsed with jansson. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tb_log.h"

static int s_pipe[2];
static int s_saved = -1;

static void s_capture(void)
{
    cr_assert_eq(pipe(s_pipe), 0);
    s_saved = dup(STDERR_FILENO);
    cr_assert_eq(dup2(s_pipe[1], STDERR_FILENO), STDERR_FILENO);
}

/*  Stops capturing and returns what was written (static buffer). */
static const char *s_captured(size_t *len_out)
{
    static char buf[65536];
    dup2(s_saved, STDERR_FILENO);
    close(s_saved);
    close(s_pipe[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(s_pipe[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(s_pipe[0]);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

static json_t *s_parse_one(const char *line)
{
    size_t len = strlen(line);
    cr_assert_gt(len, 0, "nothing logged");
    cr_assert_eq(line[len - 1], '\n', "line does not end with a newline");
    cr_assert_eq(strchr(line, '\n'), line + len - 1, "more than one line: %s", line);
    json_error_t err;
    json_t *j = json_loadb(line, len - 1, 0, &err);
    cr_assert_not_null(j, "not JSON (%s): %s", err.text, line);
    return j;
}

static const char *s_str(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

Test(log, json_line_has_fields)
{
    cr_assert_eq(tb_log_setup("intake", "info", "json"), 0);
    s_capture();
    tb_info("api.call", "cid-42", TB_S("kind", "submit"),
            TB_I("latency_us", 1234567890123LL), TB_D("score", 0.5), TB_D("bad", NAN),
            TB_D("inf", INFINITY), TB_B("ok", 1), TB_B("no", 0), TB_S("nul", NULL));
    json_t *j = s_parse_one(s_captured(NULL));
    const char *ts = s_str(j, "ts");
    /* 2026-11-29T04:50:44.123Z */
    cr_assert_eq(strlen(ts), 24, "ts %s", ts);
    cr_assert_eq(ts[4], '-');
    cr_assert_eq(ts[10], 'T');
    cr_assert_eq(ts[19], '.');
    cr_assert_eq(ts[23], 'Z');
    cr_assert_str_eq(s_str(j, "level"), "info");
    cr_assert_str_eq(s_str(j, "service"), "intake");
    cr_assert_str_eq(s_str(j, "event"), "api.call");
    cr_assert_str_eq(s_str(j, "correlation_id"), "cid-42");
    cr_assert_str_eq(s_str(j, "kind"), "submit");
    cr_assert_eq(json_integer_value(json_object_get(j, "latency_us")), 1234567890123LL);
    cr_assert_float_eq(json_number_value(json_object_get(j, "score")), 0.5, 1e-9);
    cr_assert(json_is_null(json_object_get(j, "bad")));
    cr_assert(json_is_null(json_object_get(j, "inf")));
    cr_assert(json_is_true(json_object_get(j, "ok")));
    cr_assert(json_is_false(json_object_get(j, "no")));
    cr_assert_str_eq(s_str(j, "nul"), "");
    json_decref(j);
}

Test(log, no_cid_when_null_or_empty)
{
    tb_log_setup("matching", NULL, NULL);
    s_capture();
    tb_warn("db.down", NULL);
    json_t *j = s_parse_one(s_captured(NULL));
    cr_assert_null(json_object_get(j, "correlation_id"));
    cr_assert_str_eq(s_str(j, "level"), "warn");
    json_decref(j);

    s_capture();
    tb_error("x", "", TB_I("n", -5));
    j = s_parse_one(s_captured(NULL));
    cr_assert_null(json_object_get(j, "correlation_id"));
    cr_assert_eq(json_integer_value(json_object_get(j, "n")), -5);
    json_decref(j);
}

Test(log, hostile_strings_escaped)
{
    tb_log_setup("intake", "debug", "json");
    const char *nasty = "a\"b\\c\nd\re\tf\x01g\x1f}\",\"level\":\"error";
    const char *utf8 = "Минск 江苏 ✓";
    s_capture();
    tb_debug("evt\"x", "c\nid", TB_S("nasty", nasty), TB_S("utf8", utf8),
             TB_S("bad", "ok\xff\xfe-\xc3(-\xe2\x82-\xed\xa0\x80-\xf8\x88\x80\x80\x80"),
             TB_S("k\"ey", "v"), TB_S("fmt", "%s%n%x"));
    size_t len;
    const char *line = s_captured(&len);
    /* Raw control bytes never reach the output. */
    for (size_t i = 0; i + 1 < len; i++)
        cr_assert_geq((unsigned char)line[i], 0x20, "control byte at %zu", i);
    json_t *j = s_parse_one(line);
    cr_assert_str_eq(s_str(j, "level"), "debug");
    cr_assert_str_eq(s_str(j, "event"), "evt\"x");
    cr_assert_str_eq(s_str(j, "correlation_id"), "c\nid");
    cr_assert_str_eq(s_str(j, "nasty"), nasty);
    cr_assert_str_eq(s_str(j, "utf8"), utf8);
    cr_assert_str_eq(s_str(j, "k\"ey"), "v");
    cr_assert_str_eq(s_str(j, "fmt"), "%s%n%x");
    /* Each invalid byte or sequence became U+FFFD, valid ASCII stayed. */
    const char *bad = s_str(j, "bad");
    cr_assert_eq(strncmp(bad, "ok\xef\xbf\xbd", 5), 0, "bad: %s", bad);
    cr_assert_not_null(strstr(bad, "-\xef\xbf\xbd("), "bad: %s", bad);
    json_decref(j);
}

Test(log, json_escape_function)
{
    char out[64];
    cr_assert_eq(tb_json_escape(out, sizeof out, "a\"b", 3), 4);
    cr_assert_str_eq(out, "a\\\"b");
    tb_json_escape(out, sizeof out, "\\", 1);
    cr_assert_str_eq(out, "\\\\");
    tb_json_escape(out, sizeof out, "\n\x01\x7f", 3);
    cr_assert_str_eq(out, "\\u000a\\u0001\\u007f");
    tb_json_escape(out, sizeof out, "x\xffy", 3);
    cr_assert_str_eq(out, "x\\ufffdy");
    /* overlong encoding of '/' and a lone continuation byte */
    tb_json_escape(out, sizeof out, "\xc0\xaf\x80", 3);
    cr_assert_str_eq(out, "\\ufffd\\ufffd\\ufffd");
    /* truncated multi-byte sequence at the end of len */
    tb_json_escape(out, sizeof out, "\xe6\xb1\x9f", 2);
    cr_assert_str_eq(out, "\\ufffd\\ufffd");
    tb_json_escape(out, sizeof out, "\xe6\xb1\x9f", 3);
    cr_assert_str_eq(out, "\xe6\xb1\x9f");
    /* len bounds the input */
    tb_json_escape(out, sizeof out, "abcdef", 3);
    cr_assert_str_eq(out, "abc");
    /* NULL input gives "" */
    cr_assert_eq(tb_json_escape(out, sizeof out, NULL, 5), 0);
    cr_assert_str_eq(out, "");
    /* Truncation never splits an escape; always NUL-terminated. */
    char small[8];
    size_t n = tb_json_escape(small, sizeof small, "ab\ncd", 5);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(small, "ab");
    n = tb_json_escape(small, sizeof small, "abcdefghij", 10);
    cr_assert_eq(n, 7);
    cr_assert_str_eq(small, "abcdefg");
    cr_assert_eq(tb_json_escape(small, 1, "abc", 3), 0);
    cr_assert_str_eq(small, "");
}

Test(log, long_values_truncated_to_one_bounded_line)
{
    tb_log_setup("intake", "info", "json");
    static char big[20000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    static char quotes[9000];
    memset(quotes, '"', sizeof quotes - 1);
    quotes[sizeof quotes - 1] = '\0';
    s_capture();
    tb_info("big", "cid", TB_S("a", big), TB_S("b", quotes), TB_S("c", big),
            TB_I("n", 1));
    size_t len;
    const char *line = s_captured(&len);
    cr_assert_leq(len, 8192, "line of %zu bytes", len);
    json_t *j = s_parse_one(line);
    cr_assert(json_is_true(json_object_get(j, "truncated")));
    const char *a = s_str(j, "a");
    cr_assert_gt(strlen(a), 1000);
    cr_assert_lt(strlen(a), sizeof big - 1);
    cr_assert_str_eq(a + strlen(a) - 3, "...");
    json_decref(j);

    /* One long value is cut; the fields after it still come. */
    s_capture();
    tb_info("big", "cid", TB_S("a", big), TB_I("n", 7), TB_S("s", "after"));
    line = s_captured(&len);
    cr_assert_leq(len, 8192);
    j = s_parse_one(line);
    cr_assert(json_is_true(json_object_get(j, "truncated")));
    cr_assert_eq(json_integer_value(json_object_get(j, "n")), 7);
    cr_assert_str_eq(s_str(j, "s"), "after");
    cr_assert_str_eq(s_str(j, "event"), "big");
    json_decref(j);

    /* A short line is not marked. */
    s_capture();
    tb_info("small", NULL, TB_S("a", "b"));
    j = s_parse_one(s_captured(NULL));
    cr_assert_null(json_object_get(j, "truncated"));
    json_decref(j);
}

Test(log, text_long_values_bounded)
{
    tb_log_setup("intake", "info", "text");
    static char big[20000];
    memset(big, 'y', sizeof big - 1);
    s_capture();
    tb_info("big", NULL, TB_S("a", big), TB_S("b", big), TB_S("c", big), TB_I("n", 1));
    size_t len;
    const char *line = s_captured(&len);
    cr_assert_leq(len, 8192);
    cr_assert_eq(strchr(line, '\n'), line + len - 1);
    cr_assert_not_null(strstr(line, " truncated=true\n"));
}

Test(log, levels_filter)
{
    cr_assert_eq(tb_log_setup("intake", "warn", "json"), 0);
    cr_assert_not(tb_log_enabled(TB_LOG_INFO));
    cr_assert(tb_log_enabled(TB_LOG_WARN));
    cr_assert(tb_log_enabled(TB_LOG_ERROR));
    s_capture();
    tb_info("hidden", NULL);
    tb_debug("hidden", NULL);
    tb_error("shown", NULL);
    json_t *j = s_parse_one(s_captured(NULL));
    cr_assert_str_eq(s_str(j, "event"), "shown");
    json_decref(j);

    cr_assert_eq(tb_log_setup(NULL, "loud", NULL), -1);
    cr_assert_eq(tb_log_setup(NULL, NULL, "xml"), -1);
    /* the level stayed */
    cr_assert_not(tb_log_enabled(TB_LOG_INFO));
    cr_assert(tb_log_enabled(TB_LOG_WARN));
}

Test(log, text_format)
{
    cr_assert_eq(tb_log_setup("notification", "info", "text"), 0);
    s_capture();
    tb_info("feed.applied", "cid-7", TB_S("stream", "requests"), TB_I("seq", 12),
            TB_S("reason", "two words\nand a line"), TB_B("ok", true), TB_D("lag", 1.25));
    size_t len;
    const char *line = s_captured(&len);
    cr_assert_eq(line[len - 1], '\n');
    cr_assert_eq(strchr(line, '\n'), line + len - 1, "one line: %s", line);
    cr_assert_eq(line[23], 'Z', "%s", line);
    cr_assert_not_null(strstr(line, " INFO notification feed.applied cid=cid-7 "), "%s",
                       line);
    cr_assert_not_null(strstr(line, " stream=requests seq=12 "), "%s", line);
    cr_assert_not_null(strstr(line, " reason=\"two words\\u000aand a line\""), "%s",
                       line);
    cr_assert_not_null(strstr(line, " ok=true lag=1.25\n"), "%s", line);
}

Test(log, errno_preserved)
{
    tb_log_setup("intake", "info", "json");
    s_capture();
    errno = EPROTO;
    tb_info("x", NULL);
    int e = errno;
    s_captured(NULL);
    cr_assert_eq(e, EPROTO);
}
