/*  tb-gateway: the API as HTTP/JSON (SPEC section 10). Thin: options, signals,
    the HTTP server, the stats line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "gateway.h"
#include "gateway_admin.h"
#include "gateway_auth.h"
#include "gateway_store.h"
#include "tb_config.h"
#include "tb_log.h"
#include "tb_util.h"

static const tb_option_t s_options[] = {
    {"database-url", "TB_DATABASE_URL", "postgresql:///techbridge",
     "PostgreSQL with the gateway's own tables (people, sessions)", false},
    {"db-sessions", "TB_GATEWAY_DB_SESSIONS", "4",
     "database sessions shared by the HTTP threads", false},
    {"http", "TB_GATEWAY_HTTP", "127.0.0.1:7110",
     "HOST:PORT to serve HTTP on (numeric IPv4; loopback by default)", false},
    {"intake", "TB_INTAKE_CONNECT", "tcp://127.0.0.1:7101", "tb-intake's API", false},
    {"matching", "TB_MATCHING_CONNECT", "tcp://127.0.0.1:7103", "tb-matching's API",
     false},
    {"notification", "TB_NOTIFICATION_CONNECT", "tcp://127.0.0.1:7105",
     "tb-notification's API", false},
    {"notification-pub", "TB_NOTIFICATION_PUB_CONNECT", "tcp://127.0.0.1:7106",
     "tb-notification's live push (XPUB)", false},
    {"key-file", "TB_GATEWAY_KEY_FILE", NULL,
     "the gateway's CURVE key pair file (services with keys)", false},
    {"server-key", "TB_SERVER_KEY", NULL,
     "the services' public key: 40 Z85 characters or a file with its public line", false},
    {"timeout", "TB_TIMEOUT", "5000", "reply deadline per service call, in ms", false},
    {"max-body", "TB_GATEWAY_MAX_BODY", "262144",
     "largest request body accepted, in bytes (413 above)", false},
    {"sse-keepalive", "TB_GATEWAY_SSE_KEEPALIVE", "15000",
     "ms between keepalive comments on an idle event stream", false},
    {"session-ttl", "TB_GATEWAY_SESSION_TTL", "28800", "seconds a login session lasts",
     false},
    {"cookie-secure", "TB_GATEWAY_COOKIE_SECURE", NULL,
     "mark the session cookie Secure (the gateway is served over HTTPS)", true},
    {"session-cache", "TB_GATEWAY_SESSION_CACHE", "2000",
     "ms a session or token found valid is trusted without asking the database "
     "(0: ask every time); a revocation elsewhere takes effect within it",
     false},
    {"login-limit", "TB_GATEWAY_LOGIN_LIMIT", "5",
     "failed logins per user name (x4 per client address) per 15 minutes", false},
    {"user-add", NULL, NULL, "add user NAME (--role; password on stdin), then exit",
     false},
    {"role", NULL, NULL, "with --user-add: operator or an organisation id", false},
    {"user-passwd", NULL, NULL, "set user NAME's password (stdin), then exit", false},
    {"user-disable", NULL, NULL, "disable user NAME and end its sessions, then exit",
     false},
    {"token-add", NULL, NULL, "print a new bearer token for user NAME, then exit", false},
    {"token-label", NULL, "", "with --token-add: what the token is for", false},
    {"token-days", NULL, "90", "with --token-add: days the token is valid", false},
    {"migrate", NULL, NULL, "apply database migrations, then exit", true},
    {"log-level", "TB_LOG_LEVEL", "info", "debug, info, warn or error", false},
    {"log-format", "TB_LOG_FORMAT", "json", "json (one object per line) or text", false},
    {"stats-interval", "TB_STATS_INTERVAL", "60",
     "seconds between stats lines (0: never)", false},
    TB_OPTION_END};

/*  HOST:PORT into its parts. Returns 0 or -1. */
static int s_parse_listen(const char *s, char host[64], int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= 64)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

int main(int argc, char **argv)
{
    int exit_code = 0;
    tb_config_t *config = tb_config_new(
        "tb-gateway", "techbridge HTTP/JSON gateway: the API over HTTP, live events",
        s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;
    if (tb_log_setup("gateway", tb_config_get(config, "log-level"),
                     tb_config_get(config, "log-format")) != 0) {
        fprintf(stderr, "tb-gateway: bad --log-level or --log-format\n");
        tb_config_destroy(&config);
        return 2;
    }
    int rc = 1;
    void *zctx = NULL;
    gw_t gw;
    memset(&gw, 0, sizeof gw);
    pthread_mutex_init(&gw.stats_lock, NULL);
    struct MHD_Daemon *daemon = NULL;

    if (gw_auth_init() != 0) {
        tb_error("service.failed", NULL, TB_S("reason", "libsodium did not initialise"));
        goto done;
    }
    long db_sessions = 0, session_ttl = 0, login_limit = 0, session_cache = 0;
    if (tb_config_long(config, "db-sessions", 1, 16, &db_sessions) != 0 ||
        tb_config_long(config, "session-ttl", 60, 30L * 86400, &session_ttl) != 0 ||
        tb_config_long(config, "login-limit", 1, 1000, &login_limit) != 0 ||
        tb_config_long(config, "session-cache", 0, 60000, &session_cache) != 0)
        goto done;
    bool admin = gw_admin_requested(config);
    bool migrate_only = tb_config_switch(config, "migrate");
    gw.store = gw_store_new(tb_config_get(config, "database-url"),
                            admin || migrate_only ? 1 : (int)db_sessions, true);
    if (!gw.store)
        goto done;
    if (migrate_only) {
        rc = 0;
        goto done;
    }
    if (admin) {
        rc = gw_admin_run(config, gw.store);
        goto done;
    }
    gw.set.session_ttl_ms = session_ttl * 1000;
    gw.set.cookie_secure = tb_config_switch(config, "cookie-secure");
    gw.set.login_limit = (int)login_limit;
    if (!(gw.logins = gw_limiter_new(15 * 60 * 1000)) ||
        !(gw.sessions = gw_cache_new(session_cache)))
        goto done;

    long timeout = 0, max_body = 0, keepalive = 0, stats_interval = 0;
    char host[64];
    int port = 0;
    if (tb_config_long(config, "timeout", 1, 600000, &timeout) != 0 ||
        tb_config_long(config, "max-body", 1024, 64L * 1024 * 1024, &max_body) != 0 ||
        tb_config_long(config, "sse-keepalive", 100, 600000, &keepalive) != 0 ||
        tb_config_long(config, "stats-interval", 0, 86400, &stats_interval) != 0)
        goto done;
    if (s_parse_listen(tb_config_get(config, "http"), host, &port) != 0) {
        tb_error("config.invalid", NULL, TB_S("flag", "http"),
                 TB_S("value", tb_config_get(config, "http")),
                 TB_S("reason", "expected HOST:PORT"));
        goto done;
    }
    tb_client_keys_t keys;
    char why[160];
    if (tb_client_keys_load(&keys, tb_config_get(config, "key-file"),
                            tb_config_get(config, "server-key"), why, sizeof why) != 0) {
        tb_error("security.config", NULL, TB_S("reason", why));
        goto done;
    }
    if (!keys.key_file[0])
        tb_warn("security.open", NULL,
                TB_S("detail", "no --key-file: calling the services without CURVE; they "
                               "must run open, on loopback"));
    gw.set.max_body = (size_t)max_body;
    gw.set.sse_keepalive_ms = (int)keepalive;
    gw.set.pub_endpoint = tb_config_get(config, "notification-pub");
    gw.stats = tb_stats_new();
    zctx = zmq_ctx_new();
    const char *endpoints[GW_NSVC] = {tb_config_get(config, "intake"),
                                      tb_config_get(config, "matching"),
                                      tb_config_get(config, "notification")};
    if (!gw.stats || !zctx ||
        !(gw.up = gw_upstream_new(zctx, endpoints, &keys, (int)timeout, 16u << 20)))
        goto done;

    /* Signals are taken by this thread alone (sigtimedwait): every thread the
       HTTP server starts inherits the mask, so none is interrupted. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!(daemon = gw_http_start(&gw, host, port)))
        goto done;
    tb_info("service.start", NULL, TB_S("version", TB_VERSION), TB_S("http", host),
            TB_I("port", port), TB_S("intake", endpoints[0]),
            TB_S("matching", endpoints[1]), TB_S("notification", endpoints[2]),
            TB_I("max_body", max_body));
    int64_t next_stats = tb_mono_us() + stats_interval * 1000000;
    for (;;) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            tb_info("service.stopping", NULL, TB_I("signal", sig));
            break;
        }
        if (stats_interval > 0 && tb_mono_us() >= next_stats) {
            next_stats += stats_interval * 1000000;
            pthread_mutex_lock(&gw.stats_lock);
            tb_stats_log(gw.stats,
                         (const tb_field_t[]){
                             TB_I("events.open", atomic_load(&gw.sse_open)), TB_F_END_});
            pthread_mutex_unlock(&gw.stats_lock);
            long swept = 0;
            if (gw_store_session_sweep(gw.store, &swept) == 0 && swept > 0)
                tb_info("auth.sessions_expired", NULL, TB_I("deleted", swept));
        }
    }
    rc = 0;
done:
    /* Event streams see `stopping` within a poll slice and end, so that
       MHD_stop_daemon's join of the connection threads returns. */
    atomic_store(&gw.stopping, 1);
    if (daemon)
        MHD_stop_daemon(daemon);
    gw_upstream_destroy(&gw.up);
    gw_store_destroy(&gw.store);
    gw_limiter_destroy(&gw.logins);
    gw_cache_destroy(&gw.sessions);
    if (zctx)
        zmq_ctx_term(zctx);
    tb_stats_destroy(&gw.stats);
    pthread_mutex_destroy(&gw.stats_lock);
    tb_info("service.stop", NULL, TB_I("exit", rc));
    tb_config_destroy(&config);
    return rc;
}
