/*  Integration: a real tb-intake against a real PostgreSQL over real ZeroMQ. */
#include "intake_fixture.h"

#define A(x)  TECHBRIDGE__ACTION__##x
#define ST(x) TECHBRIDGE__STATUS__##x

TestSuite(intake, .init = fx_setup, .fini = fx_teardown, .timeout = 180);

Test(intake, submit_offer_and_need_then_get)
{
    fx_start_intake(NULL);
    Techbridge__ApiReply *reply = fx_submit(fx_load("offer_cn.json", NULL), NULL);
    fx_expect_ok(reply);
    cr_assert(reply->request->created);
    Techbridge__Request *offer = reply->request->request;
    cr_assert_eq(strlen(offer->id), 36);
    cr_assert_eq(offer->status, ST(SUBMITTED));
    cr_assert_gt(offer->version, 0);
    cr_assert_gt(offer->expires_at, tb_now_ms());

    Techbridge__Request *need = fx_submit_ok(fx_load("need_by.json", NULL));
    cr_assert_str_neq(need->id, offer->id);

    Techbridge__Request *got = fx_get_ok(offer->id);
    cr_assert_str_eq(got->title, "Heat-pump vacuum kiln for drying hardwood lumber");
    cr_assert_str_eq(got->org->id, "cn.jiangsu-hengtai");
    cr_assert_str_eq(got->org->country, "CN");
    cr_assert_str_eq(got->sector, "woodworking");
    cr_assert_eq(got->kind, TECHBRIDGE__KIND__OFFER);
    cr_assert_eq(got->trl, 8);
    cr_assert_eq(got->n_keywords, 5);
    cr_assert_str_eq(got->keywords[0], "lumber drying");
    cr_assert_eq(got->n_cooperation, 3);
    cr_assert_not_null(got->budget_usd);
    cr_assert_eq(got->budget_usd->max->value, 600000);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 2);
    got = fx_get_ok(need->id);
    cr_assert_eq(got->kind, TECHBRIDGE__KIND__NEED);
    cr_assert_str_eq(got->org->region, "Gomel");
}

/*  Submits n offers of org `org` with refs "<prefix>-i". */
static void submit_many(const char *org, const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char ref[64], title[128];
        snprintf(ref, sizeof ref, "%s-%d", prefix, i);
        snprintf(title, sizeof title, "Batch %s item %d: industrial process %d", prefix,
                 i, i * 7919);
        Techbridge__Request *r = fx_load("offer_cn.json", ref);
        r->title = tb_arena_strdup(g_arena, title);
        r->org->id = (char *)org;
        fx_submit_ok(r);
    }
}

Test(intake, list_filters_and_pagination)
{
    fx_start_intake(NULL);
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    Techbridge__Request *need = fx_submit_ok(fx_load("need_by.json", NULL));
    submit_many("cn.batch", "b", 23);
    fx_act(offer->id, A(PUBLISH));

    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.kind = TECHBRIDGE__KIND__NEED;
    Techbridge__RequestPage *p = fx_list(&l, NULL);
    cr_assert_eq(p->n_requests, 1);
    cr_assert_str_eq(p->requests[0]->id, need->id);

    l = (Techbridge__ListRequests)TECHBRIDGE__LIST_REQUESTS__INIT;
    l.status = ST(PUBLISHED);
    p = fx_list(&l, NULL);
    cr_assert_eq(p->n_requests, 1);
    cr_assert_str_eq(p->requests[0]->id, offer->id);

    l = (Techbridge__ListRequests)TECHBRIDGE__LIST_REQUESTS__INIT;
    l.org_id = "by.gomeldrev";
    p = fx_list(&l, NULL);
    cr_assert_eq(p->n_requests, 1);

    l = (Techbridge__ListRequests)TECHBRIDGE__LIST_REQUESTS__INIT;
    l.sector = "woodworking";
    l.limit = 100;
    cr_assert_eq(fx_list(&l, NULL)->n_requests, 25);
    l.sector = "medicine";
    cr_assert_eq(fx_list(&l, NULL)->n_requests, 0);

    /* full-text: "furniture" is only in the need's summary; stemming: "kilns" */
    l = (Techbridge__ListRequests)TECHBRIDGE__LIST_REQUESTS__INIT;
    l.text = "furniture";
    p = fx_list(&l, NULL);
    cr_assert_eq(p->n_requests, 1);
    cr_assert_str_eq(p->requests[0]->id, need->id);
    l.text = "birch";
    l.limit = 100;
    cr_assert_eq(fx_list(&l, NULL)->n_requests, 25, "birch is in every summary");
    l.text = "zeppelin";
    cr_assert_eq(fx_list(&l, NULL)->n_requests, 0);

    /* pages of 10 over 25: 10, 10, 5, every id once */
    l = (Techbridge__ListRequests)TECHBRIDGE__LIST_REQUESTS__INIT;
    l.limit = 10;
    char seen[25][37];
    int nseen = 0, pages = 0;
    do {
        p = fx_list(&l, NULL);
        pages++;
        for (size_t i = 0; i < p->n_requests; i++) {
            for (int k = 0; k < nseen; k++)
                cr_assert_str_neq(seen[k], p->requests[i]->id, "id twice across pages");
            cr_assert_lt(nseen, 25);
            snprintf(seen[nseen++], 37, "%s", p->requests[i]->id);
        }
        l.page_token = p->next_page_token;
    } while (p->next_page_token && *p->next_page_token && pages < 10);
    cr_assert_eq(nseen, 25);
    cr_assert_leq(pages, 4);
}

static size_t history_len(const char *id)
{
    return fx_history(id)->n_entries;
}

Test(intake, life_of_a_request_with_history)
{
    fx_start_intake(NULL);
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    cr_assert_eq(fx_act(offer->id, A(PUBLISH))->status, ST(PUBLISHED));
    cr_assert_eq(fx_act(offer->id, A(NEGOTIATE))->status, ST(IN_NEGOTIATION));
    cr_assert_eq(fx_act(offer->id, A(REOPEN))->status, ST(PUBLISHED));
    cr_assert_eq(fx_act(offer->id, A(NEGOTIATE))->status, ST(IN_NEGOTIATION));
    Techbridge__Request *agreed = fx_act(offer->id, A(AGREE));
    cr_assert_eq(agreed->status, ST(AGREED));

    Techbridge__History *h = fx_history(offer->id);
    cr_assert_eq(h->n_entries, 6);
    static const Techbridge__Action want[] = {A(SUBMIT), A(PUBLISH),   A(NEGOTIATE),
                                              A(REOPEN), A(NEGOTIATE), A(AGREE)};
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(h->entries[i]->action, want[i], "entry %zu", i);
        cr_assert_str_eq(h->entries[i]->actor, "operator");
        if (i > 0) {
            cr_assert_str_eq(h->entries[i]->reason, "test");
            cr_assert_eq(h->entries[i]->from_status, h->entries[i - 1]->to_status);
            cr_assert_geq(h->entries[i]->at, h->entries[i - 1]->at);
        }
    }
    cr_assert_eq(h->entries[5]->to_status, ST(AGREED));

    Techbridge__Request *need = fx_submit_ok(fx_load("need_by.json", NULL));
    cr_assert_eq(fx_act(need->id, A(REJECT))->status, ST(REJECTED));
    cr_assert_eq(history_len(need->id), 2);

    /* the owner withdraws its own request */
    Techbridge__Request *n2 = fx_submit_ok(fx_load("need_by.json", "GDOK-2025-05"));
    Techbridge__ApiReply *reply =
        fx_transition(n2->id, A(WITHDRAW), n2->version, "by.gomeldrev", "plans changed");
    fx_expect_ok(reply);
    cr_assert_eq(reply->request->request->status, ST(WITHDRAWN));
    h = fx_history(n2->id);
    cr_assert_str_eq(h->entries[h->n_entries - 1]->actor, "by.gomeldrev");
    cr_assert_str_eq(h->entries[h->n_entries - 1]->reason, "plans changed");
}

Test(intake, stale_version_is_aborted_and_changes_nothing)
{
    fx_start_intake(NULL);
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    int64_t v1 = offer->version;
    Techbridge__Request *pub = fx_act(offer->id, A(PUBLISH));
    cr_assert_gt(pub->version, v1);

    Techbridge__ApiReply *reply = fx_transition(offer->id, A(NEGOTIATE), v1, NULL, NULL);
    fx_expect_code(reply, ABORTED);
    Techbridge__Request *now = fx_get_ok(offer->id);
    cr_assert_eq(now->status, ST(PUBLISHED));
    cr_assert_eq(now->version, pub->version);
    cr_assert_eq(history_len(offer->id), 2);

    fx_expect_code(fx_transition(offer->id, A(NEGOTIATE), 0, NULL, NULL),
                   INVALID_ARGUMENT);
    fx_expect_code(fx_transition(offer->id, A(PUBLISH), now->version, NULL, NULL),
                   FAILED_PRECONDITION);
    fx_expect_code(fx_transition(offer->id, A(EXPIRE), now->version, NULL, NULL),
                   INVALID_ARGUMENT);
    fx_expect_code(
        fx_transition("7d0e6f7e-2f5b-4a55-9d8e-3f8f5a0c1b2d", A(PUBLISH), 1, NULL, NULL),
        NOT_FOUND);
    fx_expect_code(fx_transition("not-a-uuid", A(PUBLISH), 1, NULL, NULL),
                   INVALID_ARGUMENT);
    fx_expect_code(fx_get("not-a-uuid", NULL), INVALID_ARGUMENT);
    fx_expect_code(fx_get("7d0e6f7e-2f5b-4a55-9d8e-3f8f5a0c1b2d", NULL), NOT_FOUND);
    cr_assert_eq(history_len(offer->id), 2);
    cr_assert_eq(fx_get_ok(offer->id)->version, pub->version);
}

Test(intake, idempotent_resubmission)
{
    fx_start_intake(NULL);
    Techbridge__ApiReply *first = fx_submit(fx_load("offer_cn.json", NULL), NULL);
    fx_expect_ok(first);
    cr_assert(first->request->created);
    Techbridge__ApiReply *again = fx_submit(fx_load("offer_cn.json", NULL), NULL);
    fx_expect_ok(again);
    cr_assert_not(again->request->created);
    cr_assert_str_eq(again->request->request->id, first->request->request->id);

    Techbridge__Request *changed = fx_load("offer_cn.json", NULL);
    changed->trl = 9;
    fx_expect_code(fx_submit(changed, NULL), ALREADY_EXISTS);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 1);
    cr_assert_eq(fx_get_ok(first->request->request->id)->trl, 8);
}

static bool has_violation(const Techbridge__Error *e, const char *field)
{
    for (size_t i = 0; i < e->n_violations; i++)
        if (strcmp(e->violations[i]->field, field) == 0)
            return true;
    return false;
}

Test(intake, every_invalid_field_reported_at_once)
{
    fx_start_intake(NULL);
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->title = "abc";
    r->org->country = "XX";
    r->contact->email = "not-an-email";
    r->trl = 12;
    r->sector = "alchemy";
    r->budget_usd->min->value = 900000; /* over max */
    r->expires_at = tb_now_ms() - 1000;
    Techbridge__ApiReply *reply = fx_submit(r, NULL);
    fx_expect_code(reply, INVALID_ARGUMENT);
    const Techbridge__Error *e = reply->error;
    cr_assert_geq(e->n_violations, 7, "got %zu violations", e->n_violations);
    static const char *const fields[] = {"title", "org.country", "contact.email",
                                         "trl",   "sector",      "expires_at"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        cr_assert(has_violation(e, fields[i]), "no violation for %s", fields[i]);
    for (size_t i = 0; i < e->n_violations; i++)
        cr_assert_gt(strlen(e->violations[i]->reason), 0);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 0);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_history"), 0);
}

/*  Sends raw bytes and expects an error reply. */
static void expect_error_reply(const void *data, size_t len, const char *what)
{
    Techbridge__ApiReply *reply =
        tb_test_call_raw(g_arena, g_api, data, len, CALL_TIMEOUT_MS);
    cr_assert_not_null(reply, "%s: no reply", what);
    cr_assert_not_null(reply->error, "%s: no error in the reply", what);
    cr_assert(tb_test_health(g_api, CALL_TIMEOUT_MS), "%s: the service stopped answering",
              what);
}

Test(intake, bad_frames_get_error_replies)
{
    fx_start_intake(NULL);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x00, 0x99};
    expect_error_reply(garbage, sizeof garbage, "garbage");

    Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    sub.request = fx_load("offer_cn.json", NULL);
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.correlation_id = "c0ffee00-0000-4000-8000-000000000001";
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    size_t len = 0;
    uint8_t *packed = tb_wire_pack(g_arena, &req.base, &len);
    cr_assert_not_null(packed);
    expect_error_reply(packed, len - 10, "truncated");

    size_t big = 300 * 1024;
    uint8_t *huge = tb_arena_alloc(g_arena, big);
    memset(huge, 'x', big);
    expect_error_reply(huge, big, "oversized");

    Techbridge__ApiRequest empty = TECHBRIDGE__API_REQUEST__INIT;
    empty.correlation_id = "c0ffee00-0000-4000-8000-000000000002";
    packed = tb_wire_pack(g_arena, &empty.base, &len);
    cr_assert_not_null(packed);
    expect_error_reply(packed, len, "no body");
    expect_error_reply("", 0, "empty frame");
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 0);
    cr_assert(tb_test_proc_alive(g_intake));
}

Test(intake, organisation_cannot_act_on_another_orgs_request)
{
    fx_start_intake(NULL);
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    fx_expect_code(
        fx_transition(offer->id, A(WITHDRAW), offer->version, "by.gomeldrev", NULL),
        PERMISSION_DENIED);
    /* an org may not publish even its own request */
    fx_expect_code(
        fx_transition(offer->id, A(PUBLISH), offer->version, "cn.jiangsu-hengtai", NULL),
        PERMISSION_DENIED);
    /* nor submit for another org */
    fx_expect_code(fx_submit(fx_load("need_by.json", NULL), "cn.jiangsu-hengtai"),
                   PERMISSION_DENIED);
    cr_assert_eq(fx_get_ok(offer->id)->status, ST(SUBMITTED));
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 1);
}

static bool is_expired(void *id)
{
    Techbridge__ApiReply *reply = fx_get(id, NULL);
    return !reply->error && reply->request->request->status == ST(EXPIRED);
}

Test(intake, sweeper_expires_published_requests)
{
    const char *args[] = {"--sweep-interval", "1", NULL};
    fx_start_intake(args);
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->expires_at = tb_now_ms() + 4000;
    Techbridge__Request *offer = fx_submit_ok(r);
    fx_act(offer->id, A(PUBLISH));
    cr_assert(tb_test_wait_until(is_expired, offer->id, 20000), "not EXPIRED in time");
    Techbridge__History *h = fx_history(offer->id);
    cr_assert_eq(h->n_entries, 3);
    cr_assert_eq(h->entries[2]->action, A(EXPIRE));
    cr_assert_eq(h->entries[2]->from_status, ST(PUBLISHED));
}

Test(intake, renew_once_inside_the_window)
{
    fx_start_intake(NULL);
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->expires_at = tb_now_ms() + 10LL * 24 * 3600 * 1000;
    Techbridge__Request *soon = fx_submit_ok(r);
    Techbridge__Request *pub = fx_act(soon->id, A(PUBLISH));
    Techbridge__ApiReply *reply = fx_transition(soon->id, A(RENEW), pub->version,
                                                "cn.jiangsu-hengtai", "still offered");
    fx_expect_ok(reply);
    Techbridge__Request *renewed = reply->request->request;
    cr_assert_eq(renewed->status, ST(PUBLISHED));
    cr_assert(renewed->renewed);
    cr_assert_gt(renewed->expires_at, pub->expires_at + 300LL * 24 * 3600 * 1000);
    fx_expect_code(fx_transition(soon->id, A(RENEW), renewed->version, NULL, NULL),
                   FAILED_PRECONDITION);

    /* twelve months ahead: too early to renew */
    Techbridge__Request *later = fx_submit_ok(fx_load("need_by.json", NULL));
    Techbridge__Request *lp = fx_act(later->id, A(PUBLISH));
    fx_expect_code(fx_transition(later->id, A(RENEW), lp->version, NULL, NULL),
                   FAILED_PRECONDITION);
}

Test(intake, similar_title_is_a_possible_duplicate)
{
    fx_start_intake(NULL);
    Techbridge__Request *first = fx_submit_ok(fx_load("offer_cn.json", NULL));
    Techbridge__Request *r = fx_load("offer_cn.json", "JS-HTD-2025-018");
    r->title = "Heat-pump vacuum kilns for drying hardwood lumber";
    Techbridge__ApiReply *reply = fx_submit(r, NULL);
    fx_expect_ok(reply);
    cr_assert(reply->request->created);
    cr_assert_str_eq(reply->request->possible_duplicate_of, first->id);
    /* another org's similar title is not a duplicate */
    r = fx_load("offer_cn.json", "OTHER-1");
    r->org->id = "cn.other-company";
    reply = fx_submit(r, NULL);
    fx_expect_ok(reply);
    cr_assert_str_eq(reply->request->possible_duplicate_of, "");
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 3);
}

static bool get_is_ok(void *id)
{
    Techbridge__GetRequest g = TECHBRIDGE__GET_REQUEST__INIT;
    g.id = id;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.actor = "operator";
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
    req.get = &g;
    Techbridge__ApiReply *reply = tb_test_call(g_arena, g_api, &req, 1000);
    return reply && !reply->error;
}

Test(intake, postgres_restart_answers_unavailable_then_recovers)
{
    if (!tb_test_pg_can_restart())
        cr_skip_test("TB_TEST_PGDATA / TB_TEST_PGBIN are not set");
    fx_start_intake(NULL);
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    cr_assert_eq(tb_test_pg_stop(), 0);
    int64_t t0 = tb_test_now_ms();
    Techbridge__ApiReply *reply = fx_get(offer->id, NULL);
    int64_t took = tb_test_now_ms() - t0;
    int start_rc = -1;
    if (!reply->error || reply->error->code != TECHBRIDGE__CODE__UNAVAILABLE) {
        start_rc = tb_test_pg_start();
        cr_assert_fail("expected UNAVAILABLE while PostgreSQL is down, got %s",
                       fx_code(reply));
    }
    reply = fx_submit(fx_load("need_by.json", NULL), NULL);
    fx_expect_code(reply, UNAVAILABLE);
    start_rc = tb_test_pg_start();
    cr_assert_eq(start_rc, 0, "PostgreSQL did not start again");
    cr_assert_lt(took, 3000, "UNAVAILABLE took %lld ms", (long long)took);
    cr_assert(tb_test_wait_until(get_is_ok, offer->id, 30000), "intake did not recover");
    fx_submit_ok(fx_load("need_by.json", NULL));
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 2);
}

Test(intake, sigterm_exits_zero)
{
    fx_start_intake(NULL);
    fx_submit_ok(fx_load("offer_cn.json", NULL));
    int64_t t0 = tb_test_now_ms();
    int status = tb_test_proc_stop(&g_intake, 5000);
    cr_assert_eq(status, 0, "exit status %d", status);
    cr_assert_lt(tb_test_now_ms() - t0, 5000);
}
