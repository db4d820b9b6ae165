/*  tb-gateway's pure parts: the route table (HTTP method, path, query and body
    to an ApiRequest), error codes to HTTP statuses, the failed-login limiter
    and the password and secret helpers. */
#include <criterion/criterion.h>
#include <string.h>

#include "gateway_auth.h"
#include "gateway_route.h"

typedef struct {
    const char *keys[8];
    const char *values[8];
} s_query_t;

static const char *s_query(void *cls, const char *key)
{
    s_query_t *q = cls;
    for (int i = 0; q && i < 8 && q->keys[i]; i++)
        if (strcmp(q->keys[i], key) == 0)
            return q->values[i];
    return NULL;
}

static gw_route_t s_route(tb_arena_t *a, const char *method, const char *path,
                          s_query_t *q, const char *body)
{
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
    if (body)
        cr_assert_not_null(doc, "test body is not JSON: %s", body);
    gw_http_in_t in = {
        .method = method, .path = path, .query = s_query, .query_cls = q, .body = doc};
    gw_route_t out;
    cr_assert_eq(gw_route(a, &in, &out), 0);
    json_decref(doc); /* the route copied what it kept into the arena */
    return out;
}

static bool s_violation(const gw_route_t *r, const char *field)
{
    for (size_t i = 0; r->error && i < r->error->n_violations; i++)
        if (strcmp(r->error->violations[i]->field, field) == 0)
            return true;
    return false;
}

Test(gateway, statuses_of_codes)
{
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__OK), 200);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__INVALID_ARGUMENT), 400);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__UNAUTHENTICATED), 401);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__PERMISSION_DENIED), 403);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__NOT_FOUND), 404);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__ABORTED), 409);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__ALREADY_EXISTS), 409);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__FAILED_PRECONDITION), 422);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__RESOURCE_EXHAUSTED), 429);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__UNAVAILABLE), 503);
    cr_assert_eq(gw_http_status(TECHBRIDGE__CODE__INTERNAL), 500);
    cr_assert_eq(gw_http_status((Techbridge__Code)77), 500);
}

Test(gateway, routes_to_calls)
{
    tb_arena_t *a = tb_arena_new(0);
    s_query_t q = {{"kind", "need", "limit", "text", "org_id"},
                   {"offer", NULL, "50", "сушка 干燥", "cn.x"}};
    q.keys[1] = "status";
    q.values[1] = "PUBLISHED";
    gw_route_t r = s_route(a, "GET", "/api/v1/requests", &q, NULL);
    cr_assert_null(r.error);
    cr_assert_eq(r.svc, GW_INTAKE);
    cr_assert_eq(r.req->body_case, TECHBRIDGE__API_REQUEST__BODY_LIST);
    cr_assert_eq(r.req->list->kind, TECHBRIDGE__KIND__OFFER);
    cr_assert_eq(r.req->list->status, TECHBRIDGE__STATUS__PUBLISHED);
    cr_assert_eq(r.req->list->limit, 50);
    cr_assert_str_eq(r.req->list->text, "сушка 干燥");
    cr_assert_str_eq(r.req->list->org_id, "cn.x");

    r = s_route(a, "POST", "/api/v1/requests/ID-1/publish", NULL,
                "{\"version\": 3, \"reason\": \"ok\"}");
    cr_assert_eq(r.req->body_case, TECHBRIDGE__API_REQUEST__BODY_TRANSITION);
    cr_assert_str_eq(r.req->transition->id, "ID-1");
    cr_assert_eq(r.req->transition->action, TECHBRIDGE__ACTION__PUBLISH);
    cr_assert_eq(r.req->transition->version, 3);
    cr_assert_str_eq(r.req->transition->reason, "ok");

    r = s_route(
        a, "PATCH", "/api/v1/requests/ID-1", NULL,
        "{\"version\": 2, \"changes\": {\"title\": \"A new title\", \"trl\": 5}}");
    cr_assert_null(r.error);
    cr_assert_eq(r.req->body_case, TECHBRIDGE__API_REQUEST__BODY_EDIT);
    cr_assert_eq(r.req->edit->n_fields, 2);
    cr_assert_str_eq(r.req->edit->changes->title, "A new title");

    s_query_t lang = {{"lang"}, {"zh"}};
    r = s_route(a, "GET", "/api/v1/requests/ID-1/matches", &lang, NULL);
    cr_assert_eq(r.svc, GW_MATCHING);
    cr_assert_str_eq(r.req->list_matches->lang, "zh");
    r = s_route(a, "POST", "/api/v1/matches/M-1/decline", NULL, "{\"version\": 1}");
    cr_assert_eq(r.req->decide_match->action, TECHBRIDGE__MATCH_ACTION__DECLINE);
    s_query_t after = {{"after"}, {"17"}};
    r = s_route(a, "GET", "/api/v1/notifications/acme", &after, NULL);
    cr_assert_eq(r.svc, GW_NOTIFICATION);
    cr_assert_eq(r.req->list_notifications->after, 17);
    r = s_route(a, "POST", "/api/v1/notifications/acme/ack", NULL, "{\"upto\": 4}");
    cr_assert_eq(r.req->ack_notifications->upto, 4);
    r = s_route(a, "GET", "/api/v1/notification-stats", NULL, NULL);
    cr_assert_eq(r.req->body_case, TECHBRIDGE__API_REQUEST__BODY_NOTIFICATION_STATS);
    tb_arena_destroy(&a);
}

Test(gateway, refusals_of_the_router)
{
    tb_arena_t *a = tb_arena_new(0);
    const char *missing[] = {"/api/v1/",
                             "/api/v1/requests/",
                             "/api/v1/nothing",
                             "/api/v1/requests/ID/fly",
                             "/api/v1/requests/ID/history/x",
                             "/api/v1/matches",
                             "/api/v1//requests",
                             "/other"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        gw_route_t r = s_route(a, "GET", missing[i], NULL, NULL);
        cr_assert_eq(r.status, 404, "%s: %d", missing[i], r.status);
        cr_assert_null(r.req);
    }
    gw_route_t r = s_route(a, "DELETE", "/api/v1/requests/ID", NULL, NULL);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(r.allow, "GET, PATCH");
    /* bad query values and body fields: violations, nothing sent */
    s_query_t q = {{"limit", "kind", "status"}, {"0", "OFFERS", "1"}};
    r = s_route(a, "GET", "/api/v1/requests", &q, NULL);
    cr_assert_eq(r.status, 400);
    cr_assert_null(r.req);
    cr_assert(s_violation(&r, "limit") && s_violation(&r, "kind") &&
              s_violation(&r, "status"));
    r = s_route(a, "POST", "/api/v1/requests/ID/publish", NULL,
                "{\"version\": \"3\", \"colour\": 1}");
    cr_assert_eq(r.status, 400);
    cr_assert(s_violation(&r, "version") && s_violation(&r, "colour"));
    r = s_route(a, "POST", "/api/v1/requests", NULL, "[1]");
    cr_assert_eq(r.status, 400);
    r = s_route(a, "POST", "/api/v1/requests", NULL, "{\"kind\": \"SOMETHING\"}");
    cr_assert(s_violation(&r, "kind"));
    r = s_route(a, "PATCH", "/api/v1/requests/ID", NULL,
                "{\"version\": 1, \"changes\": {}}");
    cr_assert(s_violation(&r, "changes"));
    r = s_route(a, "PATCH", "/api/v1/requests/ID", NULL,
                "{\"version\": 1, \"changes\": {\"trl\": \"x\"}}");
    cr_assert(s_violation(&r, "changes.trl"));
    r = s_route(a, "POST", "/api/v1/notifications/acme/ack", NULL, "{}");
    cr_assert(s_violation(&r, "upto"));
    /* a segment with a control character names nothing */
    r = s_route(a, "GET", "/api/v1/requests/a\x01b", NULL, NULL);
    cr_assert_eq(r.status, 404);
    tb_arena_destroy(&a);
}

Test(gateway, login_limiter_windows)
{
    gw_limiter_t *l = gw_limiter_new(1000);
    cr_assert_eq(gw_limiter_wait_ms(l, "user:a", 3, 0), 0);
    for (int i = 0; i < 3; i++)
        gw_limiter_fail(l, "user:a", 10);
    cr_assert_eq(gw_limiter_wait_ms(l, "user:a", 3, 20), 990);
    cr_assert_eq(gw_limiter_wait_ms(l, "user:a", 4, 20), 0, "a higher limit: not yet");
    cr_assert_eq(gw_limiter_wait_ms(l, "user:b", 3, 20), 0, "another key is not limited");
    cr_assert_eq(gw_limiter_wait_ms(l, "user:a", 3, 1010), 0, "the window ended");
    gw_limiter_fail(l, "user:a", 1020); /* a new window starts */
    cr_assert_eq(gw_limiter_wait_ms(l, "user:a", 3, 1030), 0);
    for (int i = 0; i < 5; i++)
        gw_limiter_fail(l, "user:c", 2000);
    gw_limiter_reset(l, "user:c");
    cr_assert_eq(gw_limiter_wait_ms(l, "user:c", 3, 2001), 0);
    /* more keys than slots: the table reuses the oldest, never grows */
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "addr:%d", i);
        gw_limiter_fail(l, key, 3000 + i);
    }
    gw_limiter_destroy(&l);
    cr_assert_null(l);
}

Test(gateway, passwords_and_secrets)
{
    cr_assert_eq(gw_auth_init(), 0);
    char hash[128];
    cr_assert_eq(gw_auth_hash_password("correct horse battery", hash), 0);
    cr_assert(strncmp(hash, "$argon2id$", 10) == 0, "%s", hash);
    cr_assert(gw_auth_verify_password(hash, "correct horse battery"));
    cr_assert_not(gw_auth_verify_password(hash, "correct horse batterY"));
    cr_assert_not(gw_auth_verify_password("not a hash", "x"));
    cr_assert_not_null(gw_auth_password_problem("short"));
    cr_assert_null(gw_auth_password_problem("ten chars!"));
    char s1[48], s2[48], h1[65], h2[65];
    gw_auth_new_secret(s1);
    gw_auth_new_secret(s2);
    cr_assert_eq(strlen(s1), 43);
    cr_assert_str_neq(s1, s2);
    gw_auth_secret_hash(s1, h1);
    gw_auth_secret_hash(s1, h2);
    cr_assert_eq(strlen(h1), 64);
    cr_assert_str_eq(h1, h2);
    gw_auth_secret_hash(s2, h2);
    cr_assert_str_neq(h1, h2);
}

Test(gateway, session_cache_trusts_for_its_ttl_only)
{
    gw_cache_t *c = gw_cache_new(2000);
    gw_cached_t e = {.user = "ivanova",
                     .role = "operator",
                     .kind = "session",
                     .csrf = "x",
                     .expires_ms = 100000};
    char h1[65], h2[65];
    gw_auth_secret_hash("one", h1);
    gw_auth_secret_hash("two", h2);
    gw_cached_t out;
    cr_assert_not(gw_cache_get(c, h1, 0, &out));
    gw_cache_put(c, h1, &e, 1000);
    cr_assert(gw_cache_get(c, h1, 2999, &out));
    cr_assert_str_eq(out.user, "ivanova");
    cr_assert_not(gw_cache_get(c, h1, 3000, &out), "past the cache's ttl");
    cr_assert_not(gw_cache_get(c, h2, 1500, &out), "another secret");
    gw_cache_put(c, h1, &e, 99500);
    cr_assert_not(gw_cache_get(c, h1, 100000, &out), "past the session's expiry");
    gw_cache_put(c, h1, &e, 5000);
    gw_cache_evict(c, h1);
    cr_assert_not(gw_cache_get(c, h1, 5001, &out), "evicted (logout)");
    gw_cache_destroy(&c);
    cr_assert_null(c);
    gw_cache_t *off = gw_cache_new(0);
    gw_cache_put(off, h1, &e, 0);
    cr_assert_not(gw_cache_get(off, h1, 1, &out), "0: never cached");
    gw_cache_destroy(&off);
}
