/*  The matching half of the integration fixture: tb-matching beside the
    intake fixture's tb-intake, its API, and waits on its progress. Include
    after intake_fixture.h, once per test program. */
#ifndef MATCHING_FIXTURE_H
#define MATCHING_FIXTURE_H

#include "intake_fixture.h"

#ifndef TB_MATCHING_BIN
#define SKIP_NO_MATCHING() cr_skip_test("tb-matching was not built")
#else
#define SKIP_NO_MATCHING()
#endif

static tb_test_proc_t *g_matching;
static char g_mapi[64];
static char g_mfeed[64];

static inline void start_matching(void)
{
#ifdef TB_MATCHING_BIN
    if (!g_mapi[0]) {
        cr_assert_eq(tb_test_endpoint(g_mapi), 0);
        cr_assert_eq(tb_test_endpoint(g_mfeed), 0);
    }
    const char *args[] = {"--api",
                          g_mapi,
                          "--feed",
                          g_mfeed,
                          "--intake-feed",
                          g_feed,
                          "--database-url",
                          g_db,
                          "--log-level",
                          "info",
                          "--stats-interval",
                          "0",
                          NULL};
    g_matching = tb_test_service_start(TB_MATCHING_BIN, "matching", g_mapi, args, NULL,
                                       START_DEADLINE_MS);
    cr_assert_not_null(g_matching, "tb-matching did not start");
#endif
}

static inline Techbridge__ApiReply *m_call(Techbridge__ApiRequest *req, const char *actor)
{
    req->actor = (char *)(actor ? actor : "operator");
    Techbridge__ApiReply *reply = tb_test_call(g_arena, g_mapi, req, CALL_TIMEOUT_MS);
    cr_assert_not_null(reply, "no reply from tb-matching");
    return reply;
}

/*  A test program's .init and .fini: the intake fixture, and tb-matching
    stopped if a test started it. */
static inline void mx_setup(void)
{
    fx_setup();
}

static inline void mx_teardown(void)
{
    if (g_matching)
        tb_test_proc_stop(&g_matching, 5000);
    fx_teardown();
}

/*  list_matches, with concept labels in `lang` (NULL: the default). */
static inline Techbridge__ApiReply *m_list_in(const char *request_id, const char *actor,
                                              const char *lang)
{
    Techbridge__ListMatches *l =
        TB_PB_NEW(g_arena, Techbridge__ListMatches, techbridge__list_matches__descriptor);
    l->request_id = (char *)request_id;
    l->lang = (char *)(lang ? lang : "");
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES;
    req.list_matches = l;
    return m_call(&req, actor);
}

static inline Techbridge__ApiReply *m_list(const char *request_id, const char *actor)
{
    return m_list_in(request_id, actor, NULL);
}

static inline Techbridge__ApiReply *m_get(const char *id, const char *actor)
{
    Techbridge__GetMatch *g =
        TB_PB_NEW(g_arena, Techbridge__GetMatch, techbridge__get_match__descriptor);
    g->id = (char *)id;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET_MATCH;
    req.get_match = g;
    return m_call(&req, actor);
}

static inline Techbridge__ApiReply *m_decide(const char *id,
                                             Techbridge__MatchAction action,
                                             int64_t version, const char *actor)
{
    Techbridge__DecideMatch *d =
        TB_PB_NEW(g_arena, Techbridge__DecideMatch, techbridge__decide_match__descriptor);
    d->id = (char *)id;
    d->action = action;
    d->version = version;
    d->reason = "test decision";
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH;
    req.decide_match = d;
    return m_call(&req, actor);
}

typedef struct {
    const char *sql;
    int64_t want;
} s_sql_cond_t;

static inline bool s_sql_holds(void *arg)
{
    s_sql_cond_t *c = arg;
    return tb_test_sql_scalar(g_db, c->sql) == c->want;
}

static inline void wait_sql(const char *sql, int64_t want, int deadline_ms)
{
    s_sql_cond_t c = {sql, want};
    bool ok = tb_test_wait_until(s_sql_holds, &c, deadline_ms);
    if (!ok && g_matching)
        tb_test_proc_dump_log(g_matching, 4000);
    cr_assert(ok, "timed out waiting for %s = %lld (got %lld)", sql, (long long)want,
              (long long)tb_test_sql_scalar(g_db, sql));
}

/*  Waits until matching has applied everything intake produced. */
static inline void wait_caught_up(int deadline_ms)
{
    wait_sql("SELECT (SELECT last_seq FROM feed_streams WHERE stream = 'requests') - "
             "coalesce((SELECT last_seq FROM feed_cursors WHERE consumer = 'matching' "
             "AND stream = 'requests'), 0)",
             0, deadline_ms);
}

static inline Techbridge__Request *publish(Techbridge__Request *r)
{
    Techbridge__Request *stored = fx_submit_ok(r);
    Techbridge__ApiReply *reply = fx_transition(stored->id, TECHBRIDGE__ACTION__PUBLISH,
                                                stored->version, NULL, "test");
    fx_expect_ok(reply);
    return reply->request->request;
}

#endif
