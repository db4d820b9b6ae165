/*  gateway_session: login, logout, "who am I", and the gate every API request
    passes (see gateway.h). A browser logs in with its user name and password
    and gets an HttpOnly, SameSite=Strict cookie (script cannot read it, other
    sites cannot send it) and a CSRF token in the body, which the console sends
    back in X-CSRF-Token on every change; a script sends
    "Authorization: Bearer TOKEN" (tb-gateway --token-add), which no browser
    adds by itself, so it needs no CSRF token. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "gateway_auth.h"
#include "gateway_store.h"
#include "tb_json.h"
#include "tb_log.h"
#include "tb_util.h"
#include "tb_valid.h"

#define S_COOKIE "tb_session"

static bool s_is_change(const gw_req_t *r)
{
    return strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0;
}

/*  The client's address, for the per-address login limit. */
static void s_client_addr(gw_req_t *r, char out[64])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, 64, "addr:?");
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ci->client_addr;
        char ip[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip))
            snprintf(out, 64, "addr:%s", ip);
    }
}

static enum MHD_Result s_unauthenticated(gw_req_t *r, const char *why)
{
    r->kind = r->kind && strcmp(r->kind, "invalid") != 0 ? r->kind : "auth";
    return gw_respond_error(r, 401, TECHBRIDGE__CODE__UNAUTHENTICATED, why);
}

static json_t *s_who_json(const char *user, const char *role, const char *csrf,
                          int64_t expires_ms)
{
    char exp[32];
    tb_json_format_time(expires_ms, exp);
    json_t *o = json_pack("{s:s,s:s,s:s}", "user", user, "role", role, "expires_at", exp);
    if (o && csrf && *csrf)
        json_object_set_new(o, "csrf_token", json_string(csrf));
    return o;
}

/*  Refusals say the same whatever was wrong (no such user, disabled, wrong
    password), so that the answer does not tell which user names exist. */
static enum MHD_Result s_login(gw_req_t *r)
{
    r->kind = "login";
    if (strcmp(r->method, "POST") != 0)
        return gw_respond_error(r, 405, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                "method not allowed on this route");
    json_t *body = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    const char *given = json_string_value(json_object_get(body, "user"));
    const char *password = json_string_value(json_object_get(body, "password"));
    if (!given || !password || !tb_valid_org_id(given) ||
        strlen(password) > GW_PASSWORD_MAX) {
        json_decref(body);
        return gw_respond_error(r, 400, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                "expected {\"user\": NAME, \"password\": PASSWORD}");
    }
    /* A copy: the name is logged and counted after the body is freed. */
    char user[65];
    snprintf(user, sizeof user, "%s", given);
    char user_key[96], addr_key[64];
    snprintf(user_key, sizeof user_key, "user:%s", user);
    s_client_addr(r, addr_key);
    int64_t now = tb_now_ms();
    int limit = r->gw->set.login_limit;
    int64_t wait = gw_limiter_wait_ms(r->gw->logins, user_key, limit, now);
    int64_t wait_addr = gw_limiter_wait_ms(r->gw->logins, addr_key, limit * 4, now);
    if (wait_addr > wait)
        wait = wait_addr;
    if (wait > 0) {
        json_decref(body);
        tb_warn("auth.login_limited", r->cid, TB_S("user", user),
                TB_S("client", addr_key), TB_I("retry_after_s", (wait + 999) / 1000));
        char retry[24];
        snprintf(retry, sizeof retry, "%lld", (long long)((wait + 999) / 1000));
        Techbridge__Error e = TECHBRIDGE__ERROR__INIT;
        e.code = TECHBRIDGE__CODE__RESOURCE_EXHAUSTED;
        e.message = (char *)"too many failed logins; try again later";
        json_t *doc = json_object();
        json_object_set_new(doc, "error", tb_json_from_error(&e));
        json_object_set_new(doc, "correlation_id", json_string(r->cid));
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        struct MHD_Response *resp = text ? MHD_create_response_from_buffer(
                                               strlen(text), text, MHD_RESPMEM_MUST_FREE)
                                         : NULL;
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
        MHD_add_response_header(resp, "Retry-After", retry);
        gw_add_common_headers(r, resp);
        enum MHD_Result rc = MHD_queue_response(r->conn, 429, resp);
        MHD_destroy_response(resp);
        r->status = 429;
        r->outcome = "RESOURCE_EXHAUSTED";
        r->answered = true;
        return rc;
    }
    gw_user_t u;
    int found = gw_store_user_get(r->gw->store, user, &u);
    if (found < 0) {
        json_decref(body);
        return gw_respond_error(r, 503, TECHBRIDGE__CODE__UNAVAILABLE,
                                "database unavailable");
    }
    bool ok =
        found == 0 && !u.disabled && gw_auth_verify_password(u.password_hash, password);
    json_decref(body);
    if (!ok) {
        gw_limiter_fail(r->gw->logins, user_key, now);
        gw_limiter_fail(r->gw->logins, addr_key, now);
        tb_warn("auth.login_failed", r->cid, TB_S("user", user),
                TB_S("client", addr_key));
        return s_unauthenticated(r, "wrong user name or password");
    }
    gw_limiter_reset(r->gw->logins, user_key);
    char secret[48], hash[65], csrf[48];
    gw_auth_new_secret(secret);
    gw_auth_new_secret(csrf);
    gw_auth_secret_hash(secret, hash);
    int64_t expires = now + r->gw->set.session_ttl_ms;
    if (gw_store_session_add(r->gw->store, hash, u.name, "session", csrf, "", expires) !=
        0)
        return gw_respond_error(r, 503, TECHBRIDGE__CODE__UNAVAILABLE,
                                "database unavailable");
    snprintf(r->who.actor, sizeof r->who.actor, "%s", u.role);
    snprintf(r->who.person, sizeof r->who.person, "%s", u.name);
    char cookie[256];
    snprintf(cookie, sizeof cookie,
             S_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s", secret,
             (long long)(r->gw->set.session_ttl_ms / 1000),
             r->gw->set.cookie_secure ? "; Secure" : "");
    tb_info("auth.login", r->cid, TB_S("user", u.name), TB_S("role", u.role));
    r->outcome = "OK";
    return gw_respond_json_header(r, 200, s_who_json(u.name, u.role, csrf, expires),
                                  "Set-Cookie", cookie);
}

static enum MHD_Result s_logout(gw_req_t *r)
{
    r->kind = "logout";
    enum MHD_Result rc;
    if (gw_session_gate(r, &rc) != 0)
        return rc;
    gw_cache_evict(r->gw->sessions, r->who.secret_hash);
    if (gw_store_session_delete(r->gw->store, r->who.secret_hash) < 0)
        return gw_respond_error(r, 503, TECHBRIDGE__CODE__UNAVAILABLE,
                                "database unavailable");
    r->outcome = "OK";
    return gw_respond_json_header(r, 200, json_object(), "Set-Cookie",
                                  S_COOKIE
                                  "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

static enum MHD_Result s_me(gw_req_t *r)
{
    r->kind = "me";
    enum MHD_Result rc;
    if (gw_session_gate(r, &rc) != 0)
        return rc;
    r->outcome = "OK";
    return gw_respond_json(r, 200,
                           s_who_json(r->who.person, r->who.actor,
                                      r->who.by_cookie ? r->who.csrf : NULL,
                                      r->who.expires_ms));
}

int gw_session_serve(gw_req_t *r)
{
    if (strcmp(r->path, "/api/v1/login") == 0)
        return (int)s_login(r);
    if (strcmp(r->path, "/api/v1/logout") == 0) {
        if (strcmp(r->method, "POST") != 0) {
            r->kind = "logout";
            return (int)gw_respond_error(r, 405, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                         "method not allowed on this route");
        }
        return (int)s_logout(r);
    }
    if (strcmp(r->path, "/api/v1/me") == 0)
        return (int)s_me(r);
    return -1;
}

int gw_session_gate(gw_req_t *r, enum MHD_Result *rc)
{
    const char *authz =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    const char *secret = NULL;
    bool by_cookie = false;
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
        secret = authz + 7;
    } else if (authz) {
        *rc = s_unauthenticated(r, "Authorization must be \"Bearer TOKEN\"");
        return 1;
    } else {
        secret = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, S_COOKIE);
        by_cookie = true;
    }
    if (!secret || !*secret || strlen(secret) > 128) {
        *rc = s_unauthenticated(r, "log in first (POST /api/v1/login) or send a bearer "
                                   "token");
        return 1;
    }
    char hash[65];
    gw_auth_secret_hash(secret, hash);
    gw_cached_t s;
    int64_t now = tb_now_ms();
    int found = 0;
    if (!gw_cache_get(r->gw->sessions, hash, now, &s)) {
        gw_session_t db;
        found = gw_store_session_get(r->gw->store, hash, &db);
        if (found < 0) {
            *rc = gw_respond_error(r, 503, TECHBRIDGE__CODE__UNAVAILABLE,
                                   "database unavailable");
            return 1;
        }
        memset(&s, 0, sizeof s);
        snprintf(s.user, sizeof s.user, "%s", db.user);
        snprintf(s.role, sizeof s.role, "%s", db.role);
        snprintf(s.kind, sizeof s.kind, "%s", db.kind);
        snprintf(s.csrf, sizeof s.csrf, "%s", db.csrf);
        s.expires_ms = db.expires_ms;
        if (found == 0)
            gw_cache_put(r->gw->sessions, hash, &s, now);
    }
    /* A cookie must hold a session and a bearer a token: a token pasted into a
       cookie would otherwise skip the CSRF check. */
    if (found != 0 || strcmp(s.kind, by_cookie ? "session" : "token") != 0) {
        *rc = s_unauthenticated(r, "session expired or unknown: log in again");
        return 1;
    }
    snprintf(r->who.actor, sizeof r->who.actor, "%s", s.role);
    snprintf(r->who.person, sizeof r->who.person, "%s", s.user);
    snprintf(r->who.csrf, sizeof r->who.csrf, "%s", s.csrf);
    snprintf(r->who.secret_hash, sizeof r->who.secret_hash, "%s", hash);
    r->who.by_cookie = by_cookie;
    r->who.expires_ms = s.expires_ms;
    if (by_cookie && s_is_change(r)) {
        const char *sent =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
        size_t n = strlen(s.csrf);
        if (!sent || strlen(sent) != n || sodium_memcmp(sent, s.csrf, n) != 0) {
            tb_warn("auth.csrf_refused", r->cid, TB_S("user", s.user),
                    TB_S("path", r->path));
            *rc = gw_respond_error(r, 403, TECHBRIDGE__CODE__PERMISSION_DENIED,
                                   "missing or wrong X-CSRF-Token");
            return 1;
        }
    }
    return 0;
}
