/*  gateway_admin: the gateway's own commands for its people, run like
    --migrate (do the one thing and exit): the users table is the gateway's, so
    the gateway binary is what writes it; tbctl stays a pure API client of the
    services. A password is read from the first line of standard input, never
    from the command line (where `ps` shows it). */
#include <stdio.h>
#include <string.h>

#include "gateway_admin.h"
#include "gateway_auth.h"
#include "gateway_store.h"
#include "tb_log.h"
#include "tb_util.h"
#include "tb_valid.h"

/*  The first line of stdin into `out` (without its newline). Returns 0 or -1. */
static int s_read_password(char *out, size_t cap)
{
    if (!fgets(out, (int)cap, stdin))
        return -1;
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] != '\n' && !feof(stdin))
        return -1; /* longer than cap */
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return 0;
}

static int s_new_password(char hash[128])
{
    char password[GW_PASSWORD_MAX + 2];
    if (s_read_password(password, sizeof password) != 0) {
        fprintf(stderr, "tb-gateway: give the password on the first line of stdin\n");
        return -1;
    }
    const char *problem = gw_auth_password_problem(password);
    if (problem) {
        fprintf(stderr, "tb-gateway: %s\n", problem);
        return -1;
    }
    int rc = gw_auth_hash_password(password, hash);
    memset(password, 0, sizeof password);
    if (rc != 0)
        fprintf(stderr, "tb-gateway: cannot hash the password (out of memory)\n");
    return rc;
}

static int s_done(int rc, const char *what, const char *name)
{
    if (rc == 0) {
        fprintf(stderr, "tb-gateway: %s: %s\n", what, name);
        return 0;
    }
    if (rc == GW_STORE_NONE)
        fprintf(stderr, "tb-gateway: no user %s\n", name);
    else if (rc == GW_STORE_EXISTS)
        fprintf(stderr, "tb-gateway: user %s exists (use --user-passwd)\n", name);
    else
        fprintf(stderr, "tb-gateway: database error (see the log)\n");
    return 1;
}

static int s_user_add(gw_store_t *store, const char *name, const char *role)
{
    if (!role || !*role || strcmp(role, "operators") == 0 ||
        strcmp(role, "gateway") == 0 ||
        (strcmp(role, "operator") != 0 && !tb_valid_org_id(role))) {
        fprintf(stderr, "tb-gateway: --role must be operator or an organisation id\n");
        return 2;
    }
    char hash[128];
    if (s_new_password(hash) != 0)
        return 2;
    return s_done(gw_store_user_add(store, name, role, hash), "user added", name);
}

static int s_user_passwd(gw_store_t *store, const char *name)
{
    char hash[128];
    if (s_new_password(hash) != 0)
        return 2;
    return s_done(gw_store_user_passwd(store, name, hash),
                  "password set, sessions and tokens ended", name);
}

/*  Prints a new bearer token for `name` on stdout (its one and only showing). */
static int s_token_add(gw_store_t *store, const char *name, const char *label, long days)
{
    gw_user_t u;
    int rc = gw_store_user_get(store, name, &u);
    if (rc != 0 || u.disabled)
        return s_done(rc != 0 ? rc : GW_STORE_NONE, "", name);
    char secret[48], hash[65];
    gw_auth_new_secret(secret);
    gw_auth_secret_hash(secret, hash);
    int64_t expires = tb_now_ms() + (int64_t)days * 86400 * 1000;
    rc = gw_store_session_add(store, hash, name, "token", "", label, expires);
    if (rc != 0)
        return s_done(rc, "", name);
    printf("%s\n", secret);
    fprintf(stderr, "tb-gateway: bearer token for %s (%s), valid %ld days\n", name,
            u.role, days);
    return 0;
}

int gw_admin_run(const tb_config_t *config, gw_store_t *store)
{
    const char *name;
    if ((name = tb_config_get(config, "user-add")) && *name)
        return tb_valid_org_id(name)
                   ? s_user_add(store, name, tb_config_get(config, "role"))
                   : (fprintf(stderr, "tb-gateway: a user name is 1..64 "
                                      "of a-z 0-9 . _ -\n"),
                      2);
    if ((name = tb_config_get(config, "user-passwd")) && *name)
        return s_user_passwd(store, name);
    if ((name = tb_config_get(config, "user-disable")) && *name)
        return s_done(gw_store_user_disable(store, name),
                      "disabled, sessions and tokens ended", name);
    if ((name = tb_config_get(config, "token-add")) && *name) {
        long days = 0;
        if (tb_config_long(config, "token-days", 1, 3650, &days) != 0)
            return 2;
        return s_token_add(store, name, tb_config_get(config, "token-label"), days);
    }
    return -1;
}

bool gw_admin_requested(const tb_config_t *config)
{
    const char *const flags[] = {"user-add", "user-passwd", "user-disable", "token-add"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        const char *v = tb_config_get(config, flags[i]);
        if (v && *v)
            return true;
    }
    return false;
}
