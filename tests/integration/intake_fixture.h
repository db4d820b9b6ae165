/*  intake_fixture: one tb-intake on a fresh database per test, and short
    helpers to call it (header-only, shared by test_intake.c and test_tbctl.c;
    each test runs in its own process, so the globals are per test). */
#ifndef TB_INTAKE_FIXTURE_H
#define TB_INTAKE_FIXTURE_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tb_json.h"
#include "tb_util.h"
#include "tb_wire.h"

#define CALL_TIMEOUT_MS   5000
#define START_DEADLINE_MS 30000

static char *g_db;
static tb_test_proc_t *g_intake;
static char g_api[64];
static char g_feed[64];
static tb_arena_t *g_arena;

static inline void fx_setup(void)
{
    g_arena = tb_arena_new(0);
}

static inline void fx_teardown(void)
{
    if (g_intake) {
        int status = tb_test_proc_stop(&g_intake, 5000);
        if (status != 0)
            fprintf(stderr, "fixture: tb-intake exited with %d on SIGTERM\n", status);
    }
    tb_test_db_drop(&g_db);
    tb_arena_destroy(&g_arena);
}

/*  Makes the database and starts tb-intake with `extra` args (NULL-terminated,
    may be NULL). Skips the test when TB_TEST_PG is unset. */
static inline void fx_start_intake(const char *const *extra)
{
    (void)extra;
    (void)g_feed;
#ifndef TB_INTAKE_BIN
    cr_skip_test("tb-intake was not built");
#else
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set (run scripts/test)");
    g_db = tb_test_db_new();
    cr_assert_not_null(g_db, "cannot create a test database");
    cr_assert_eq(tb_test_endpoint(g_api), 0);
    cr_assert_eq(tb_test_endpoint(g_feed), 0);
    const char *args[32] = {
        "--api",       g_api,   "--feed",           g_feed, "--database-url", g_db,
        "--log-level", "debug", "--stats-interval", "0"};
    int n = 10;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    g_intake = tb_test_service_start(TB_INTAKE_BIN, "intake", g_api, args, NULL,
                                     START_DEADLINE_MS);
    cr_assert_not_null(g_intake, "tb-intake did not start");
#endif
}

/*  A request from tests/data/<name>, with external_ref replaced when given. */
static inline Techbridge__Request *fx_load(const char *name, const char *external_ref)
{
    char path[512];
    json_error_t jerr;
    json_t *doc = json_load_file(tb_test_data_path(name, path), 0, &jerr);
    cr_assert_not_null(doc, "%s: %s", path, jerr.text);
    tb_violations_t v = {0};
    Techbridge__Request *r = tb_json_to_request(g_arena, doc, &v, NULL, NULL);
    json_decref(doc);
    cr_assert_not_null(r);
    cr_assert_eq(v.count, 0, "%s: %s: %s", name, v.items[0].field, v.items[0].reason);
    if (external_ref)
        r->external_ref = tb_arena_strdup(g_arena, external_ref);
    return r;
}

static inline Techbridge__ApiReply *fx_call(Techbridge__ApiRequest *req,
                                            const char *actor)
{
    req->actor = (char *)(actor ? actor : "operator");
    Techbridge__ApiReply *reply = tb_test_call(g_arena, g_api, req, CALL_TIMEOUT_MS);
    cr_assert_not_null(reply, "no reply from tb-intake within %d ms", CALL_TIMEOUT_MS);
    return reply;
}

static inline const char *fx_code(const Techbridge__ApiReply *r)
{
    return r->error ? protobuf_c_enum_descriptor_get_value(&techbridge__code__descriptor,
                                                           r->error->code)
                          ->name
                    : "OK";
}

#define fx_expect_ok(reply)                                                              \
    cr_assert_null((reply)->error, "unexpected error %s: %s", fx_code(reply),            \
                   (reply)->error ? (reply)->error->message : "")
#define fx_expect_code(reply, CODE)                                                      \
    do {                                                                                 \
        cr_assert_not_null((reply)->error, "expected %s, got OK", #CODE);                \
        cr_assert_eq((reply)->error->code, TECHBRIDGE__CODE__##CODE,                     \
                     "expected %s, got %s: %s", #CODE, fx_code(reply),                   \
                     (reply)->error->message);                                           \
    } while (0)

static inline Techbridge__ApiReply *fx_submit(Techbridge__Request *r, const char *actor)
{
    Techbridge__SubmitRequest *s = TB_PB_NEW(g_arena, Techbridge__SubmitRequest,
                                             techbridge__submit_request__descriptor);
    s->request = r;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = s;
    return fx_call(&req, actor);
}

/*  Submits and expects success; returns the stored request. */
static inline Techbridge__Request *fx_submit_ok(Techbridge__Request *r)
{
    Techbridge__ApiReply *reply = fx_submit(r, NULL);
    fx_expect_ok(reply);
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_REQUEST);
    cr_assert_not_null(reply->request->request);
    return reply->request->request;
}

static inline Techbridge__ApiReply *fx_get(const char *id, const char *actor)
{
    Techbridge__GetRequest *g =
        TB_PB_NEW(g_arena, Techbridge__GetRequest, techbridge__get_request__descriptor);
    g->id = (char *)id;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
    req.get = g;
    return fx_call(&req, actor);
}

static inline Techbridge__Request *fx_get_ok(const char *id)
{
    Techbridge__ApiReply *reply = fx_get(id, NULL);
    fx_expect_ok(reply);
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_REQUEST);
    return reply->request->request;
}

static inline Techbridge__ApiReply *fx_transition(const char *id,
                                                  Techbridge__Action action,
                                                  int64_t version, const char *actor,
                                                  const char *reason)
{
    Techbridge__TransitionRequest *t =
        TB_PB_NEW(g_arena, Techbridge__TransitionRequest,
                  techbridge__transition_request__descriptor);
    t->id = (char *)id;
    t->action = action;
    t->version = version;
    if (reason)
        t->reason = (char *)reason;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_TRANSITION;
    req.transition = t;
    return fx_call(&req, actor);
}

/*  A transition by the operator at the request's current version; expects OK. */
static inline Techbridge__Request *fx_act(const char *id, Techbridge__Action action)
{
    Techbridge__Request *cur = fx_get_ok(id);
    Techbridge__ApiReply *reply = fx_transition(id, action, cur->version, NULL, "test");
    fx_expect_ok(reply);
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_REQUEST);
    return reply->request->request;
}

static inline Techbridge__History *fx_history(const char *id)
{
    Techbridge__HistoryRequest *h = TB_PB_NEW(g_arena, Techbridge__HistoryRequest,
                                              techbridge__history_request__descriptor);
    h->id = (char *)id;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HISTORY;
    req.history = h;
    Techbridge__ApiReply *reply = fx_call(&req, NULL);
    fx_expect_ok(reply);
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_HISTORY);
    return reply->history;
}

static inline Techbridge__RequestPage *fx_list(Techbridge__ListRequests *l,
                                               const char *actor)
{
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST;
    req.list = l;
    Techbridge__ApiReply *reply = fx_call(&req, actor);
    fx_expect_ok(reply);
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_REQUESTS);
    return reply->requests;
}

static inline int64_t fx_count(const char *sql)
{
    int64_t n = tb_test_sql_scalar(g_db, sql);
    cr_assert_neq(n, INT64_MIN, "SQL failed: %s", sql);
    return n;
}

#endif
