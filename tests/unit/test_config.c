/*  tb_config: flags over environment over defaults, --help, bad flags, ranges. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_config.h"

static const tb_option_t s_options[] = {
    TB_COMMON_OPTIONS,
    {"api", "TB_TEST_API", "tcp://127.0.0.1:7101", "API endpoint (ROUTER)", false},
    {"verbose", "TB_TEST_VERBOSE", NULL, "say more", false},
    {"dry-run", "TB_TEST_DRY_RUN", NULL, "do nothing", true},
    TB_OPTION_END,
};

static void s_clean_env(void)
{
    for (const tb_option_t *o = s_options; o->flag; o++)
        if (o->env)
            unsetenv(o->env);
}

#define ARGV(...) ((char *[]){"tb-test", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"tb-test", __VA_ARGS__}) / sizeof(char *)))

static tb_config_t *s_new(int argc, char **argv, int *code)
{
    return tb_config_new("tb-test", "a test service", s_options, argc, argv, code);
}

Test(config, defaults)
{
    s_clean_env();
    int code = -1;
    char *argv[] = {"tb-test", NULL};
    tb_config_t *c = s_new(1, argv, &code);
    cr_assert_not_null(c);
    cr_assert_eq(code, 0);
    cr_assert_str_eq(tb_config_get(c, "database-url"), "postgresql:///techbridge");
    cr_assert_str_eq(tb_config_get(c, "log-level"), "info");
    cr_assert_str_eq(tb_config_get(c, "api"), "tcp://127.0.0.1:7101");
    cr_assert_null(tb_config_get(c, "keys-file"));
    cr_assert_null(tb_config_get(c, "verbose"));
    cr_assert_not(tb_config_switch(c, "migrate"));
    cr_assert_not(tb_config_switch(c, "dry-run"));
    long n = 0;
    cr_assert_eq(tb_config_long(c, "max-frame", 1024, 64L << 20, &n), 0);
    cr_assert_eq(n, 262144);
    tb_config_destroy(&c);
    cr_assert_null(c);
    tb_config_destroy(&c);
}

Test(config, env_over_default_flag_over_env)
{
    s_clean_env();
    setenv("TB_DATABASE_URL", "postgresql://env/db", 1);
    setenv("TB_TEST_API", "tcp://env:1", 1);
    setenv("TB_LOG_LEVEL", "debug", 1);
    setenv("TB_KEYS_FILE", "", 1); /* empty: unset */
    setenv("TB_TEST_DRY_RUN", "1", 1);
    int code = -1;
    tb_config_t *c =
        s_new(ARGC("--api", "tcp://flag:2", "--log-level=warn", "--migrate"),
              ARGV("--api", "tcp://flag:2", "--log-level=warn", "--migrate"), &code);
    cr_assert_not_null(c);
    cr_assert_str_eq(tb_config_get(c, "database-url"), "postgresql://env/db");
    cr_assert_str_eq(tb_config_get(c, "api"), "tcp://flag:2");
    cr_assert_str_eq(tb_config_get(c, "log-level"), "warn");
    cr_assert_null(tb_config_get(c, "keys-file"));
    cr_assert(tb_config_switch(c, "migrate"));
    cr_assert(tb_config_switch(c, "dry-run"));
    tb_config_destroy(&c);

    setenv("TB_TEST_DRY_RUN", "false", 1);
    char *argv[] = {"tb-test", NULL};
    c = s_new(1, argv, &code);
    cr_assert_not(tb_config_switch(c, "dry-run"));
    tb_config_destroy(&c);
}

Test(config, parses_twice)
{
    s_clean_env();
    int code;
    tb_config_t *a = s_new(ARGC("--api", "x"), ARGV("--api", "x"), &code);
    tb_config_t *b = s_new(ARGC("--api=y"), ARGV("--api=y"), &code);
    cr_assert_str_eq(tb_config_get(a, "api"), "x");
    cr_assert_str_eq(tb_config_get(b, "api"), "y");
    tb_config_destroy(&a);
    tb_config_destroy(&b);
}

Test(config, help_lists_everything_and_exits_0)
{
    s_clean_env();
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    int code = -1;
    tb_config_t *c = s_new(ARGC("--help"), ARGV("--help"), &code);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fds[1]);
    static char out[65536];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);

    cr_assert_null(c);
    cr_assert_eq(code, 0);
    cr_assert_not_null(strstr(out, "a test service"), "%s", out);
    for (const tb_option_t *o = s_options; o->flag; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->flag);
        cr_assert_not_null(strstr(out, flag), "%s missing:\n%s", flag, out);
        if (o->env)
            cr_assert_not_null(strstr(out, o->env), "%s missing", o->env);
        if (o->def)
            cr_assert_not_null(strstr(out, o->def), "%s missing", o->def);
    }
    cr_assert_not_null(strstr(out, "--help"));
}

Test(config, short_help, .init = cr_redirect_stdout)
{
    s_clean_env();
    int code = -1;
    tb_config_t *c = s_new(ARGC("-h"), ARGV("-h"), &code);
    cr_assert_null(c);
    cr_assert_eq(code, 0);
}

Test(config, bad_flags_exit_2, .init = cr_redirect_stderr)
{
    s_clean_env();
    int code = -1;
    cr_assert_null(s_new(ARGC("--no-such-flag"), ARGV("--no-such-flag"), &code));
    cr_assert_eq(code, 2);
    code = -1;
    cr_assert_null(s_new(ARGC("--api"), ARGV("--api"), &code)); /* missing value */
    cr_assert_eq(code, 2);
    code = -1;
    cr_assert_null(s_new(ARGC("stray"), ARGV("stray"), &code));
    cr_assert_eq(code, 2);
    code = -1;
    cr_assert_null(s_new(ARGC("--migrate=yes"), ARGV("--migrate=yes"), &code));
    cr_assert_eq(code, 2);
    code = -1;
    cr_assert_null(s_new(ARGC("-x"), ARGV("-x"), &code));
    cr_assert_eq(code, 2);
}

Test(config, long_range, .init = cr_redirect_stderr)
{
    s_clean_env();
    int code;
    tb_config_t *c = s_new(ARGC("--stats-interval", "abc", "--max-frame",
                                "99999999999999999999", "--verbose", "12x"),
                           ARGV("--stats-interval", "abc", "--max-frame",
                                "99999999999999999999", "--verbose", "12x"),
                           &code);
    cr_assert_not_null(c);
    long n = 77;
    cr_assert_eq(tb_config_long(c, "stats-interval", 0, 3600, &n), -1);
    cr_assert_eq(n, 77, "out untouched on error");
    cr_assert_eq(tb_config_long(c, "max-frame", 0, 1L << 30, &n), -1);
    cr_assert_eq(tb_config_long(c, "verbose", 0, 100, &n), -1);
    cr_assert_eq(tb_config_long(c, "keys-file", 0, 100, &n), -1); /* unset */
    tb_config_destroy(&c);

    c = s_new(ARGC("--stats-interval", "3601"), ARGV("--stats-interval", "3601"), &code);
    cr_assert_eq(tb_config_long(c, "stats-interval", 0, 3600, &n), -1);
    cr_assert_eq(tb_config_long(c, "stats-interval", 0, 3601, &n), 0);
    cr_assert_eq(n, 3601);
    tb_config_destroy(&c);

    c = s_new(ARGC("--stats-interval", "-5"), ARGV("--stats-interval", "-5"), &code);
    cr_assert_eq(tb_config_long(c, "stats-interval", 0, 3600, &n), -1);
    cr_assert_eq(tb_config_long(c, "stats-interval", -10, 3600, &n), 0);
    cr_assert_eq(n, -5);
    tb_config_destroy(&c);
}

Test(config, range_error_is_logged)
{
    s_clean_env();
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    int code;
    tb_config_t *c =
        s_new(ARGC("--stats-interval", "9999"), ARGV("--stats-interval", "9999"), &code);
    long n;
    int rc = tb_config_long(c, "stats-interval", 0, 3600, &n);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    char out[4096];
    ssize_t len = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    out[len > 0 ? len : 0] = '\0';
    cr_assert_eq(rc, -1);
    cr_assert_not_null(strstr(out, "stats-interval"), "%s", out);
    cr_assert_not_null(strstr(out, "9999"), "%s", out);
    tb_config_destroy(&c);
}

Test(config, undeclared_flag_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
    s_clean_env();
    int code;
    char *argv[] = {"tb-test", NULL};
    tb_config_t *c = s_new(1, argv, &code);
    tb_config_get(c, "no-such-flag");
}
