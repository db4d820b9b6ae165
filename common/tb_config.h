/*  tb_config: a process's settings from command-line flags over environment
    variables over defaults (flags win). Each service declares its options as a
    table that starts with TB_COMMON_OPTIONS; --help prints the table. */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stdbool.h>

typedef struct {
    const char *flag; /* long flag without dashes: "database-url" */
    const char *env;  /* environment variable: "TB_DATABASE_URL", or NULL */
    const char *def;  /* default value, or NULL for none */
    const char *help; /* one line for --help */
    bool is_switch;   /* true: a flag without a value ("1" when given) */
} tb_option_t;

#define TB_OPTION_END                                                                    \
    {                                                                                    \
        NULL, NULL, NULL, NULL, false                                                    \
    }

/*  Options every service has: database-url, log-level, log-format,
    stats-interval (seconds), max-frame (bytes), keys-file, secret-key-file,
    migrate (switch: apply migrations and exit). */
#define TB_COMMON_OPTIONS                                                                \
    {"database-url", "TB_DATABASE_URL", "postgresql:///techbridge",                      \
     "PostgreSQL connection string (libpq URL or key=value)", false},                    \
        {"log-level", "TB_LOG_LEVEL", "info", "debug, info, warn or error", false},      \
        {"log-format", "TB_LOG_FORMAT", "json", "json (one object per line) or text",    \
         false},                                                                         \
        {"stats-interval", "TB_STATS_INTERVAL", "60",                                    \
         "seconds between stats lines (0: never)", false},                               \
        {"max-frame", "TB_MAX_FRAME", "262144", "largest API frame accepted, in bytes",  \
         false},                                                                         \
        {"keys-file", "TB_KEYS_FILE", NULL,                                              \
         "CURVE client keys file (public key, role per line); unset: run open", false},  \
        {"secret-key-file", "TB_SECRET_KEY_FILE", NULL,                                  \
         "this service's CURVE key pair file (from tbctl keygen)", false},               \
    {                                                                                    \
        "migrate", NULL, NULL, "apply database migrations, then exit", true              \
    }

typedef struct tb_config_t tb_config_t;

/*  Parses argv (getopt_long) over the environment. On --help prints usage to
    stdout and returns NULL with *exit_code = 0; on a bad flag prints one line to
    stderr and returns NULL with *exit_code = 2. `summary` is the --help heading. */
tb_config_t *tb_config_new(const char *prog, const char *summary,
                           const tb_option_t *options, int argc, char **argv,
                           int *exit_code);
void tb_config_destroy(tb_config_t **self_p);

/*  The value of a flag (borrowed), or NULL when unset and without default.
    Asserts that `flag` is in the table: asking for an undeclared one is a bug. */
const char *tb_config_get(const tb_config_t *self, const char *flag);
/*  Parses the value as a long in [min, max]. Returns 0, or -1 (unset, not a
    number or out of range) with a log line naming the flag. */
int tb_config_long(const tb_config_t *self, const char *flag, long min, long max,
                   long *out);
bool tb_config_switch(const tb_config_t *self, const char *flag);

#endif
