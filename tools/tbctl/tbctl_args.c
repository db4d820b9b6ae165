/*  tbctl_args: the command line. Global flags may come before or after the
    command; command options are collected for the command to check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tbctl.h"

typedef struct {
    const char *flag;
    const char *env;
    const char *def;
} s_global_t;

/* Indexes 0..2 are the service endpoints, by tbctl_svc_t. */
static const s_global_t s_globals[] = {
    {"intake", "TB_INTAKE_CONNECT", "tcp://127.0.0.1:7101"},
    {"matching", "TB_MATCHING_CONNECT", "tcp://127.0.0.1:7103"},
    {"notification", "TB_NOTIFICATION_CONNECT", "tcp://127.0.0.1:7105"},
    {"notification-pub", "TB_NOTIFICATION_PUB_CONNECT", "tcp://127.0.0.1:7106"},
    {"as", "TB_ACTOR", NULL},
    {"timeout", "TB_TIMEOUT", "5000"},
    {"key-file", "TB_KEY_FILE", NULL},
    {"server-key", "TB_SERVER_KEY", NULL},
    {"lang", "TB_LANG", "en"},
};
#define S_NGLOBALS (sizeof s_globals / sizeof s_globals[0])

/* Options that commands take (each with a value). */
static const char *const s_cmd_opts[] = {"kind",    "status", "sector",       "org",
                                         "text",    "limit",  "page-token",   "reason",
                                         "version", "after",  "min-concepts", NULL};

int tbctl_usage_error(const char *msg, const char *detail)
{
    if (detail)
        fprintf(stderr, "tbctl: usage: %s: %s (see tbctl --help)\n", msg, detail);
    else
        fprintf(stderr, "tbctl: usage: %s (see tbctl --help)\n", msg);
    return TBCTL_EXIT_USAGE;
}

void tbctl_print_help(void)
{
    fputs(
        "usage: tbctl [global flags] COMMAND [args] [options]\n"
        "\n"
        "commands:\n"
        "  submit FILE|-                     submit a request (JSON)\n"
        "  get ID                            show one request\n"
        "  history ID                        a request's transitions\n"
        "  list [--kind K] [--status S] [--sector S] [--org O] [--text WORDS]\n"
        "       [--limit N] [--page-token T] filtered, paginated listing\n"
        "  publish|reject|withdraw|negotiate|agree|reopen|renew ID [--reason R]\n"
        "       [--version V]                a transition (version: from get)\n"
        "  edit ID FILE|-                    change the fields present in FILE\n"
        "  matches ID                        a request's matches, best first\n"
        "  accept|decline|close MATCH_ID [--reason R] [--version V]\n"
        "  notifications RECIPIENT [--after SEQ] [--limit N]\n"
        "  ack RECIPIENT SEQ                 acknowledge up to SEQ\n"
        "  watch RECIPIENT [--after SEQ]     catch up, then follow live\n"
        "  health                            each service's health and feed lag\n"
        "  thesaurus check [--min-concepts N] FILE...\n"
        "                                    validate thesaurus files (no server)\n"
        "  thesaurus load FILE...            replace each file's source (operators)\n"
        "  keygen FILE                       write a new CURVE key pair (mode 0600,\n"
        "                                    never overwriting); prints the public line\n"
        "\n"
        "global flags (environment variable, default):\n"
        "  --intake EP            TB_INTAKE_CONNECT, tcp://127.0.0.1:7101\n"
        "  --matching EP          TB_MATCHING_CONNECT, tcp://127.0.0.1:7103\n"
        "  --notification EP      TB_NOTIFICATION_CONNECT, tcp://127.0.0.1:7105\n"
        "  --notification-pub EP  TB_NOTIFICATION_PUB_CONNECT, tcp://127.0.0.1:7106\n"
        "  --as ACTOR             TB_ACTOR, operator (identity when services run open;\n"
        "                         with keys the key decides, --as must then match it)\n"
        "  --key-file FILE        TB_KEY_FILE, none (our CURVE key pair: services with "
        "keys)\n"
        "  --server-key KEY       TB_SERVER_KEY, none (the services' public key: 40 Z85\n"
        "                         characters, or a file with its \"public\" line)\n"
        "  --json                 print one JSON document on stdout\n"
        "  --timeout MS           TB_TIMEOUT, 5000 (reply deadline per call)\n"
        "  --lang L               TB_LANG, en: language of concept names in match\n"
        "                         reasons (en, ru, be, zh)\n"
        "  --help                 this text\n"
        "\n"
        "exit status: 0 ok, 1 error from the service (or invalid input file),\n"
        "2 usage error, 3 service unreachable.\n",
        stdout);
}

static int s_global_index(const char *name)
{
    for (size_t i = 0; i < S_NGLOBALS; i++)
        if (strcmp(s_globals[i].flag, name) == 0)
            return (int)i;
    return -1;
}

static bool s_is_cmd_opt(const char *name)
{
    for (int i = 0; s_cmd_opts[i]; i++)
        if (strcmp(s_cmd_opts[i], name) == 0)
            return true;
    return false;
}

/*  Takes "--name value" or "--name=value" at argv[*i]. Returns 0 or -1. */
static int s_take_value(int argc, char **argv, int *i, const char *name,
                        const char *inline_value, const char **value)
{
    if (inline_value) {
        *value = inline_value;
        return 0;
    }
    if (*i + 1 >= argc) {
        tbctl_usage_error("missing value for option", name);
        return -1;
    }
    *value = argv[++*i];
    return 0;
}

/*  One "--flag" argument. Returns 0 or -1 (usage error printed). */
static int s_take_flag(tbctl_t *t, int argc, char **argv, int *i, const char **globals)
{
    static char name[64];
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, arg, len);
    name[len] = '\0';
    const char *inline_value = eq ? eq + 1 : NULL;

    if (strcmp(name, "json") == 0 || strcmp(name, "help") == 0) {
        if (inline_value)
            return tbctl_usage_error("option takes no value", argv[*i]), -1;
        if (name[0] == 'j')
            t->json = true;
        else
            t->help = true;
        return 0;
    }
    const char *value = NULL;
    int gi = s_global_index(name);
    if (gi >= 0) {
        if (s_take_value(argc, argv, i, argv[*i], inline_value, &value) != 0)
            return -1;
        globals[gi] = value;
        return 0;
    }
    if (!s_is_cmd_opt(name))
        return tbctl_usage_error("unknown option", argv[*i]), -1;
    if (t->nopt >= TBCTL_MAX_OPTS)
        return tbctl_usage_error("too many options", NULL), -1;
    const char *flag = argv[*i];
    if (s_take_value(argc, argv, i, flag, inline_value, &value) != 0)
        return -1;
    for (int k = 0; k < t->nopt; k++)
        if (strcmp(t->opt_name[k], name) == 0)
            return tbctl_usage_error("option given twice", flag), -1;
    snprintf(t->opt_name[t->nopt], sizeof t->opt_name[t->nopt], "%s", name);
    t->opt_value[t->nopt++] = value;
    return 0;
}

static int s_take_positional(tbctl_t *t, const char *arg)
{
    if (!t->cmd) {
        t->cmd = arg;
        return 0;
    }
    if (t->npos >= TBCTL_MAX_POS)
        return tbctl_usage_error("too many arguments", arg), -1;
    t->pos[t->npos++] = arg;
    return 0;
}

static int s_apply_globals(tbctl_t *t, const char **values)
{
    for (size_t i = 0; i < S_NGLOBALS; i++) {
        if (!values[i])
            values[i] = getenv(s_globals[i].env);
        if (!values[i] || !*values[i])
            values[i] = s_globals[i].def;
    }
    for (int s = 0; s < 3; s++)
        t->endpoint[s] = values[s];
    t->pub_endpoint = values[3];
    t->actor_explicit = values[4] != NULL;
    t->key_file = values[6];
    t->server_key_arg = values[7];
    t->lang = values[8];
    /* Open mode: the claim is the identity, operator by default. With keys the
       key decides; an explicit claim must match it, so none is sent by default. */
    t->actor = values[4] ? values[4] : t->key_file ? "" : "operator";
    int64_t ms = 0;
    if (tbctl_parse_int("--timeout", values[5], 1, 3600 * 1000, &ms) != 0)
        return -1;
    t->timeout_ms = (int)ms;
    return 0;
}

int tbctl_args_parse(tbctl_t *t, int argc, char **argv)
{
    const char *values[S_NGLOBALS] = {0};
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int rc;
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && strncmp(arg, "--", 2) == 0)
            rc = s_take_flag(t, argc, argv, &i, values);
        else if (!options_done && arg[0] == '-' && arg[1] != '\0')
            rc = (tbctl_usage_error("unknown option", arg), -1);
        else
            rc = s_take_positional(t, arg);
        if (rc != 0)
            return -1;
    }
    return s_apply_globals(t, values);
}

const char *tbctl_opt(const tbctl_t *t, const char *name)
{
    for (int i = 0; i < t->nopt; i++)
        if (strcmp(t->opt_name[i], name) == 0)
            return t->opt_value[i];
    return NULL;
}

int tbctl_parse_int(const char *what, const char *s, int64_t min, int64_t max,
                    int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s must be an integer in [%lld, %lld]", what,
                 (long long)min, (long long)max);
        tbctl_usage_error(detail, s);
        return -1;
    }
    *out = v;
    return 0;
}

int tbctl_opt_int(const tbctl_t *t, const char *name, int64_t min, int64_t max,
                  int64_t *out)
{
    const char *v = tbctl_opt(t, name);
    if (!v)
        return 0;
    char what[80];
    snprintf(what, sizeof what, "--%s", name);
    return tbctl_parse_int(what, v, min, max, out);
}
