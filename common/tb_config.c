/*  tb_config: flags over environment over defaults, parsed with getopt_long. */
#include "tb_config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tb_log.h"

struct tb_config_t {
    const tb_option_t *options; /* borrowed table (static in practice) */
    size_t count;
    char **values; /* one per option: NULL or a heap copy */
};

static void s_print_usage(const char *prog, const char *summary,
                          const tb_option_t *options)
{
    printf("Usage: %s [OPTIONS]\n", prog);
    if (summary && *summary)
        printf("%s\n", summary);
    printf(
        "\nOptions (flags win over environment variables, which win over defaults):\n");
    for (const tb_option_t *o = options; o->flag; o++) {
        char head[96];
        snprintf(head, sizeof head, "--%s%s", o->flag, o->is_switch ? "" : " VALUE");
        printf("  %-28s %s\n", head, o->help ? o->help : "");
        if (o->env || o->def) {
            printf("  %-28s", "");
            if (o->env)
                printf(" env %s", o->env);
            if (o->env && o->def)
                printf(",");
            if (o->def)
                printf(" default %s", *o->def ? o->def : "\"\"");
            printf("\n");
        }
    }
    printf("  %-28s %s\n", "--help, -h", "print this help and exit");
}

static int s_set(tb_config_t *self, size_t i, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(self->values[i]);
    self->values[i] = copy;
    return 0;
}

static tb_config_t *s_fail(tb_config_t **self_p, struct option **longopts, int *exit_code,
                           int code)
{
    free(*longopts);
    *longopts = NULL;
    tb_config_destroy(self_p);
    if (exit_code)
        *exit_code = code;
    return NULL;
}

tb_config_t *tb_config_new(const char *prog, const char *summary,
                           const tb_option_t *options, int argc, char **argv,
                           int *exit_code)
{
    if (exit_code)
        *exit_code = 0;
    if (!prog)
        prog = argc > 0 && argv[0] ? argv[0] : "techbridge";
    struct option *longopts = NULL;
    tb_config_t *self = calloc(1, sizeof *self);
    if (!self)
        return s_fail(&self, &longopts, exit_code, 1);
    self->options = options;
    while (options && options[self->count].flag)
        self->count++;
    self->values = calloc(self->count + 1, sizeof *self->values);
    longopts = calloc(self->count + 2, sizeof *longopts);
    if (!self->values || !longopts)
        return s_fail(&self, &longopts, exit_code, 1);

    /* Defaults, then the environment over them (an empty variable counts as
       unset, as an env file often has `TB_KEYS_FILE=`). */
    for (size_t i = 0; i < self->count; i++) {
        const tb_option_t *o = &options[i];
        const char *env = o->env ? getenv(o->env) : NULL;
        const char *value = env && *env ? env : o->def;
        if (value && s_set(self, i, value) != 0)
            return s_fail(&self, &longopts, exit_code, 1);
    }

    /* Then the flags. val = index + 1 identifies the option; 'h' is help. */
    for (size_t i = 0; i < self->count; i++) {
        longopts[i].name = options[i].flag;
        longopts[i].has_arg = options[i].is_switch ? no_argument : required_argument;
        longopts[i].flag = NULL;
        longopts[i].val = (int)i + 1;
    }
    longopts[self->count].name = "help";
    longopts[self->count].has_arg = no_argument;
    longopts[self->count].val = 'h' + 1000;

    optind = 0; /* GNU: full re-initialisation, so that a second parse works */
    opterr = 0; /* our own one-line messages */
    for (;;) {
        int index = -1;
        int c = getopt_long(argc, argv, ":h", longopts, &index);
        if (c == -1)
            break;
        if (c == 'h' || c == 'h' + 1000) {
            s_print_usage(prog, summary, options);
            fflush(stdout);
            return s_fail(&self, &longopts, exit_code, 0);
        }
        if (c == '?' || c == ':') {
            const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
            fprintf(stderr, "%s: %s '%s' (try --help)\n", prog,
                    c == ':' ? "missing value for" : "unknown or malformed option", arg);
            return s_fail(&self, &longopts, exit_code, 2);
        }
        if (c >= 1 && (size_t)c <= self->count) {
            size_t i = (size_t)c - 1;
            if (s_set(self, i, options[i].is_switch ? "1" : optarg) != 0)
                return s_fail(&self, &longopts, exit_code, 1);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n", prog,
                argv[optind]);
        return s_fail(&self, &longopts, exit_code, 2);
    }
    free(longopts);
    return self;
}

void tb_config_destroy(tb_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_config_t *self = *self_p;
    if (self->values)
        for (size_t i = 0; i < self->count; i++)
            free(self->values[i]);
    free(self->values);
    free(self);
    *self_p = NULL;
}

/*  The option's index; an undeclared flag is a programming error, so it aborts
    even in a build with NDEBUG. */
static size_t s_index(const tb_config_t *self, const char *flag)
{
    for (size_t i = 0; self && flag && i < self->count; i++)
        if (strcmp(self->options[i].flag, flag) == 0)
            return i;
    fprintf(stderr, "tb_config: flag '%s' is not declared\n", flag ? flag : "(null)");
    abort();
}

const char *tb_config_get(const tb_config_t *self, const char *flag)
{
    return self->values[s_index(self, flag)];
}

int tb_config_long(const tb_config_t *self, const char *flag, long min, long max,
                   long *out)
{
    const char *value = tb_config_get(self, flag);
    const char *reason = NULL;
    long n = 0;
    if (!value || !*value) {
        reason = "unset";
    } else {
        char *end = NULL;
        errno = 0;
        n = strtol(value, &end, 10);
        if (errno == ERANGE)
            reason = "out of range";
        else if (end == value || *end != '\0')
            reason = "not a number";
        else if (n < min || n > max)
            reason = "out of range";
    }
    if (reason) {
        tb_error("config.invalid", NULL, TB_S("flag", flag),
                 TB_S("value", value ? value : ""), TB_S("reason", reason),
                 TB_I("min", min), TB_I("max", max));
        return -1;
    }
    if (out)
        *out = n;
    return 0;
}

bool tb_config_switch(const tb_config_t *self, const char *flag)
{
    const char *v = tb_config_get(self, flag);
    if (!v || !*v)
        return false;
    return strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 &&
           strcasecmp(v, "no") != 0 && strcasecmp(v, "off") != 0;
}
