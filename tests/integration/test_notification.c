/*  tb-notification against real PostgreSQL, real tb-intake / tb-matching /
    tb-notification processes and real ZeroMQ (SPEC sections 4 and 6). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "harness.h"
#include "tb_util.h"
#include "tb_wire.h"

#define S_CALL_MS  10000
#define S_START_MS 20000

typedef struct {
    char *db;
    char intake_api[64], intake_feed[64];
    char matching_api[64], matching_feed[64];
    char notif_api[64], notif_pub[64];
    tb_test_proc_t *intake, *matching, *notif;
    tb_arena_t *arena;
} s_env_t;

static s_env_t E;

static void s_teardown(void)
{
    if (E.notif)
        tb_test_proc_stop(&E.notif, 5000);
    if (E.matching)
        tb_test_proc_stop(&E.matching, 5000);
    if (E.intake)
        tb_test_proc_stop(&E.intake, 5000);
    tb_test_db_drop(&E.db);
    tb_arena_destroy(&E.arena);
}

static void s_dump_logs(void)
{
    tb_test_proc_t *procs[] = {E.intake, E.matching, E.notif};
    for (int i = 0; i < 3; i++)
        if (procs[i])
            tb_test_proc_dump_log(procs[i], 3000);
}

/*  A fresh database and endpoints; skips the test without TB_TEST_PG. */
static void s_setup(void)
{
    memset(&E, 0, sizeof E);
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set");
    E.db = tb_test_db_new();
    cr_assert_not_null(E.db, "cannot create a test database");
    E.arena = tb_arena_new(0);
    cr_assert(
        tb_test_endpoint(E.intake_api) == 0 && tb_test_endpoint(E.intake_feed) == 0 &&
        tb_test_endpoint(E.matching_api) == 0 && tb_test_endpoint(E.matching_feed) == 0 &&
        tb_test_endpoint(E.notif_api) == 0 && tb_test_endpoint(E.notif_pub) == 0);
}

static void s_start_intake(void)
{
    const char *args[] = {"--database-url", E.db,     "--api",
                          E.intake_api,     "--feed", E.intake_feed,
                          "--log-level",    "debug",  NULL};
    E.intake = tb_test_service_start(TB_INTAKE_BIN, "intake", E.intake_api, args, NULL,
                                     S_START_MS);
    cr_assert_not_null(E.intake, "tb-intake did not start");
}

static void s_start_matching(void)
{
    const char *args[] = {"--database-url", E.db,          "--api",
                          E.matching_api,   "--feed",      E.matching_feed,
                          "--intake-feed",  E.intake_feed, "--log-level",
                          "debug",          NULL};
    E.matching = tb_test_service_start(TB_MATCHING_BIN, "matching", E.matching_api, args,
                                       NULL, S_START_MS);
    cr_assert_not_null(E.matching, "tb-matching did not start");
}

static void s_start_notif(const char *hwm)
{
    const char *args[] = {"--database-url", E.db,          "--api",
                          E.notif_api,      "--pub",       E.notif_pub,
                          "--intake-feed",  E.intake_feed, "--matching-feed",
                          E.matching_feed,  "--pub-hwm",   hwm ? hwm : "10000",
                          "--log-level",    "debug",       NULL};
    E.notif = tb_test_service_start(TB_NOTIFICATION_BIN, "notification", E.notif_api,
                                    args, NULL, S_START_MS);
    cr_assert_not_null(E.notif, "tb-notification did not start");
}

/* ---- API helpers ---- */

/*  One call; asserts a reply came. `actor` NULL: operator. */
static Techbridge__ApiReply *s_call(const char *endpoint, Techbridge__ApiRequest *req,
                                    const char *actor, const char *cid)
{
    req->actor = (char *)(actor ? actor : "");
    req->correlation_id = (char *)(cid ? cid : "");
    Techbridge__ApiReply *reply = tb_test_call(E.arena, endpoint, req, S_CALL_MS);
    if (!reply)
        s_dump_logs();
    cr_assert_not_null(reply, "no reply from %s", endpoint);
    return reply;
}

static void s_assert_ok(const Techbridge__ApiReply *reply, const char *what)
{
    if (reply->error)
        cr_assert_fail("%s failed: code %d: %s", what, reply->error->code,
                       reply->error->message);
}

static Techbridge__Request *s_make_request(Techbridge__Kind kind, const char *org,
                                           const char *ref, const char *title)
{
    tb_arena_t *a = E.arena;
    Techbridge__Request *r =
        TB_PB_NEW(a, Techbridge__Request, techbridge__request__descriptor);
    Techbridge__Org *o = TB_PB_NEW(a, Techbridge__Org, techbridge__org__descriptor);
    Techbridge__Contact *c =
        TB_PB_NEW(a, Techbridge__Contact, techbridge__contact__descriptor);
    o->id = tb_arena_strdup(a, org);
    o->name = tb_arena_printf(a, "Organisation %s", org);
    o->country = tb_arena_strdup(a, kind == TECHBRIDGE__KIND__OFFER ? "CN" : "BY");
    o->region = tb_arena_strdup(a, kind == TECHBRIDGE__KIND__OFFER ? "Jiangsu" : "Gomel");
    c->name = tb_arena_printf(a, "Contact of %s", org);
    c->email = tb_arena_printf(a, "contact@%s.example.com", org);
    c->phone = tb_arena_strdup(a, "+375 17 000 00 00");
    r->kind = kind;
    r->external_ref = tb_arena_strdup(a, ref);
    r->org = o;
    r->contact = c;
    r->title = tb_arena_strdup(a, title);
    r->summary = tb_arena_strdup(a, "Continuous vacuum drying line for hardwood lumber "
                                    "with heat recovery and moisture "
                                    "control; kiln automation for sawmills.");
    r->sector = tb_arena_strdup(a, "woodworking");
    static char *keywords[] = {"wood drying", "vacuum kiln", "lumber", "heat recovery"};
    r->keywords = keywords;
    r->n_keywords = 4;
    r->trl = 7;
    static Techbridge__Cooperation coop[] = {TECHBRIDGE__COOPERATION__LICENSE,
                                             TECHBRIDGE__COOPERATION__EQUIPMENT_SUPPLY};
    r->cooperation = coop;
    r->n_cooperation = 2;
    if (kind == TECHBRIDGE__KIND__OFFER)
        r->ipr = TECHBRIDGE__IPR__PATENT_GRANTED;
    return r;
}

static Techbridge__Request *s_submit(Techbridge__Request *r)
{
    Techbridge__SubmitRequest sr = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    sr.request = r;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = &sr;
    Techbridge__ApiReply *reply = s_call(E.intake_api, &req, NULL, NULL);
    s_assert_ok(reply, "submit");
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_REQUEST);
    return reply->request->request;
}

static Techbridge__Request *s_transition(const Techbridge__Request *r,
                                         Techbridge__Action action)
{
    Techbridge__TransitionRequest tr = TECHBRIDGE__TRANSITION_REQUEST__INIT;
    tr.id = r->id;
    tr.action = action;
    tr.version = r->version;
    tr.reason = (char *)"integration test";
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_TRANSITION;
    req.transition = &tr;
    Techbridge__ApiReply *reply = s_call(E.intake_api, &req, NULL, NULL);
    s_assert_ok(reply, "transition");
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_REQUEST);
    return reply->request->request;
}

static Techbridge__ApiReply *s_list_as(const char *actor, const char *recipient,
                                       int64_t after, int limit)
{
    Techbridge__ListNotifications ln = TECHBRIDGE__LIST_NOTIFICATIONS__INIT;
    ln.recipient = (char *)recipient;
    ln.after = after;
    ln.limit = limit;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
    req.list_notifications = &ln;
    return s_call(E.notif_api, &req, actor, NULL);
}

static Techbridge__NotificationPage *s_list(const char *recipient, int64_t after,
                                            int limit)
{
    Techbridge__ApiReply *reply = s_list_as(NULL, recipient, after, limit);
    s_assert_ok(reply, "list notifications");
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_NOTIFICATIONS);
    return reply->notifications;
}

/*  The first stored notification of `kind` for `recipient` (by seq), or NULL. */
static Techbridge__Notification *s_find(const char *recipient, int kind)
{
    Techbridge__NotificationPage *page = s_list(recipient, 0, 1000);
    for (size_t i = 0; i < page->n_notifications; i++)
        if ((int)page->notifications[i]->kind == kind)
            return page->notifications[i];
    return NULL;
}

typedef struct {
    const char *recipient;
    int kind;
} s_find_arg_t;

static bool s_has(void *arg)
{
    s_find_arg_t *f = arg;
    return s_find(f->recipient, f->kind) != NULL;
}

static int64_t s_sql(const char *sql)
{
    return tb_test_sql_scalar(E.db, sql);
}

typedef struct {
    const char *sql;
    int64_t want;
} s_sql_arg_t;

static bool s_sql_reaches(void *arg)
{
    s_sql_arg_t *q = arg;
    return s_sql(q->sql) >= q->want;
}

/*  Exactly once and dense: no (recipient, kind, subject, version) twice, and each
    recipient's seqs are 1..n with last_seq = n. */
static void s_assert_exactly_once_dense(void)
{
    cr_assert_eq(
        s_sql("SELECT count(*) FROM (SELECT 1 FROM notification_items GROUP BY "
              "recipient, kind, subject_id, subject_version HAVING count(*) > 1) d"),
        0, "a notification was stored twice");
    cr_assert_eq(
        s_sql("SELECT count(*) FROM notification_recipients r LEFT JOIN (SELECT "
              "recipient, count(*) AS c, min(seq) AS lo, max(seq) AS hi FROM "
              "notification_items GROUP BY recipient) i USING (recipient) WHERE NOT "
              "(coalesce(i.c, 0) = r.last_seq AND coalesce(i.hi, 0) = r.last_seq AND "
              "coalesce(i.lo, 1) = 1)"),
        0, "a recipient's sequence has a gap");
}

/*  Submits and publishes `n` needs of `org`: n REQUEST_STATUS_CHANGED each. */
static Techbridge__Request **s_submit_publish(const char *org, const char *prefix, int n)
{
    Techbridge__Request **out = tb_arena_alloc(E.arena, (size_t)n * sizeof *out);
    for (int i = 0; i < n; i++) {
        char ref[64], title[96];
        snprintf(ref, sizeof ref, "%s-%d", prefix, i);
        snprintf(title, sizeof title, "Need number %d for %s", i, prefix);
        Techbridge__Request *r =
            s_submit(s_make_request(TECHBRIDGE__KIND__NEED, org, ref, title));
        out[i] = s_transition(r, TECHBRIDGE__ACTION__PUBLISH);
    }
    return out;
}

static char *s_log_of(tb_test_proc_t *p)
{
    return tb_test_read_file(tb_test_proc_log(p));
}

typedef struct {
    tb_test_proc_t *proc;
    const char *needle;
} s_log_arg_t;

static bool s_log_has(void *arg)
{
    s_log_arg_t *l = arg;
    char *text = s_log_of(l->proc);
    bool found = text && strstr(text, l->needle);
    free(text);
    return found;
}

/* ---- the tests ---- */

/*  submit -> publish -> match -> accept -> both organisations introduced, the
    operators told of the proposal, one correlation id from the accept call to
    the notifications and the logs of matching and notification. */
Test(notification, full_path_with_one_correlation_id, .fini = s_teardown, .timeout = 180)
{
    s_setup();
    s_start_intake();
    s_start_matching();
    s_start_notif(NULL);

    Techbridge__Request *offer =
        s_submit(s_make_request(TECHBRIDGE__KIND__OFFER, "cn-dryingtech", "offer-1",
                                "Vacuum wood drying line licence"));
    Techbridge__Request *need =
        s_submit(s_make_request(TECHBRIDGE__KIND__NEED, "by-woodplant", "need-1",
                                "Wood drying line for a sawmill"));
    offer = s_transition(offer, TECHBRIDGE__ACTION__PUBLISH);
    need = s_transition(need, TECHBRIDGE__ACTION__PUBLISH);

    /* Each owner hears of its request's publication. */
    s_find_arg_t pub_o = {"cn-dryingtech",
                          TECHBRIDGE__NOTIFICATION_KIND__REQUEST_STATUS_CHANGED};
    s_find_arg_t pub_n = {"by-woodplant",
                          TECHBRIDGE__NOTIFICATION_KIND__REQUEST_STATUS_CHANGED};
    cr_assert(tb_test_wait_until(s_has, &pub_o, 20000),
              "offer owner not told of publish");
    cr_assert(tb_test_wait_until(s_has, &pub_n, 20000), "need owner not told of publish");
    Techbridge__Notification *sc = s_find("by-woodplant", pub_n.kind);
    cr_assert_str_eq(sc->subject_id, need->id);
    cr_assert_eq(sc->subject_version, need->version);
    cr_assert_not_null(sc->request);
    cr_assert_eq(sc->request->status, TECHBRIDGE__STATUS__PUBLISHED);
    cr_assert_eq(sc->seq, 1);

    /* Operators hear of the proposal. */
    s_find_arg_t proposed = {"operators", TECHBRIDGE__NOTIFICATION_KIND__MATCH_PROPOSED};
    if (!tb_test_wait_until(s_has, &proposed, 30000))
        s_dump_logs();
    cr_assert(s_find("operators", proposed.kind) != NULL,
              "operators not told of the match");
    Techbridge__Notification *pn = s_find("operators", proposed.kind);
    cr_assert_not_null(pn->match);
    cr_assert_str_eq(pn->match->offer_id, offer->id);
    cr_assert_str_eq(pn->match->need_id, need->id);
    char *match_id = tb_arena_strdup(E.arena, pn->subject_id);

    /* Accept with our own correlation id. */
    char uuid[37], cid[64];
    tb_uuid(uuid);
    snprintf(cid, sizeof cid, "accept-%s", uuid);
    Techbridge__DecideMatch dm = TECHBRIDGE__DECIDE_MATCH__INIT;
    dm.id = match_id;
    dm.action = TECHBRIDGE__MATCH_ACTION__ACCEPT;
    dm.reason = (char *)"both sides interested";
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH;
    req.decide_match = &dm;
    Techbridge__ApiReply *reply = s_call(E.matching_api, &req, NULL, cid);
    s_assert_ok(reply, "accept");
    cr_assert_str_eq(reply->correlation_id, cid);

    /* Both organisations get the introduction, with both contacts. */
    const char *orgs[] = {"cn-dryingtech", "by-woodplant"};
    for (int i = 0; i < 2; i++) {
        s_find_arg_t acc = {orgs[i], TECHBRIDGE__NOTIFICATION_KIND__MATCH_ACCEPTED};
        if (!tb_test_wait_until(s_has, &acc, 20000))
            s_dump_logs();
        Techbridge__Notification *n = s_find(orgs[i], acc.kind);
        cr_assert_not_null(n, "%s not introduced", orgs[i]);
        cr_assert_str_eq(n->correlation_id, cid);
        cr_assert_str_eq(n->subject_id, match_id);
        cr_assert_not_null(n->match);
        cr_assert_eq(n->match->status, TECHBRIDGE__MATCH_STATUS__ACCEPTED);
        cr_assert_not_null(strstr(n->text, "contact@cn-dryingtech.example.com"), "%s",
                           n->text);
        cr_assert_not_null(strstr(n->text, "contact@by-woodplant.example.com"), "%s",
                           n->text);
    }
    /* The operators were not told of the acceptance (only orgs are). */
    cr_assert_null(s_find("operators", TECHBRIDGE__NOTIFICATION_KIND__MATCH_ACCEPTED));

    /* The accept call's id is in matching's and notification's log lines. */
    s_log_arg_t in_matching = {E.matching, cid}, in_notif = {E.notif, cid};
    cr_assert(tb_test_wait_until(s_log_has, &in_matching, 5000),
              "cid missing in matching log");
    cr_assert(tb_test_wait_until(s_log_has, &in_notif, 5000),
              "cid missing in notification log");
    char *log = s_log_of(E.notif);
    cr_assert_not_null(log);
    bool stored_line = false;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, cid) && strstr(line, "notification.stored"))
            stored_line = true;
    free(log);
    cr_assert(stored_line, "no notification.stored line with the accept call's cid");

    s_assert_exactly_once_dense();
}

/*  The API's rules: recipients, permissions, ack and stats, unknown kinds. */
Test(notification, api_rules, .fini = s_teardown, .timeout = 120)
{
    s_setup();
    s_start_intake();
    s_start_notif(NULL);
    s_submit_publish("acme", "rules", 3);
    s_sql_arg_t three = {
        "SELECT count(*) FROM notification_items WHERE recipient = 'acme'", 3};
    cr_assert(tb_test_wait_until(s_sql_reaches, &three, 20000),
              "3 notifications not stored");

    /* An organisation reads its own, not another's nor the operators'. */
    Techbridge__ApiReply *r = s_list_as("acme", "acme", 0, 0);
    s_assert_ok(r, "own list");
    cr_assert_eq(r->notifications->n_notifications, 3);
    cr_assert_eq(r->notifications->last_seq, 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(r->notifications->notifications[i]->seq, (int64_t)i + 1);
    r = s_list_as("acme", "acme", 1, 1);
    s_assert_ok(r, "paged list");
    cr_assert_eq(r->notifications->n_notifications, 1);
    cr_assert_eq(r->notifications->notifications[0]->seq, 2);
    r = s_list_as("other-org", "acme", 0, 0);
    cr_assert(r->error && r->error->code == TECHBRIDGE__CODE__PERMISSION_DENIED);
    r = s_list_as("acme", "operators", 0, 0);
    cr_assert(r->error && r->error->code == TECHBRIDGE__CODE__PERMISSION_DENIED);
    r = s_list_as(NULL, "Not An Org!", 0, 0);
    cr_assert(r->error && r->error->code == TECHBRIDGE__CODE__INVALID_ARGUMENT);
    r = s_list_as(NULL, "", 0, 0);
    cr_assert(r->error && r->error->code == TECHBRIDGE__CODE__INVALID_ARGUMENT);
    r = s_list_as(NULL, "acme", -1, 0);
    cr_assert(r->error && r->error->code == TECHBRIDGE__CODE__INVALID_ARGUMENT);
    /* A recipient with nothing yet: an empty page, not an error. */
    r = s_list_as(NULL, "nobody-yet", 0, 0);
    s_assert_ok(r, "empty list");
    cr_assert_eq(r->notifications->n_notifications, 0);
    cr_assert_eq(r->notifications->last_seq, 0);

    /* Ack: moves forward only, never past last_seq. */
    Techbridge__AckNotifications ack = TECHBRIDGE__ACK_NOTIFICATIONS__INIT;
    ack.recipient = (char *)"acme";
    ack.upto = 2;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS;
    req.ack_notifications = &ack;
    r = s_call(E.notif_api, &req, "acme", NULL);
    s_assert_ok(r, "ack");
    cr_assert_eq(r->result_case, TECHBRIDGE__API_REPLY__RESULT_ACK);
    cr_assert_eq(r->ack->acked, 2);
    cr_assert_eq(r->ack->unacked, 1);
    ack.upto = 1;
    r = s_call(E.notif_api, &req, "acme", NULL);
    s_assert_ok(r, "ack backwards");
    cr_assert_eq(r->ack->acked, 2);
    ack.upto = 99;
    r = s_call(E.notif_api, &req, "acme", NULL);
    s_assert_ok(r, "ack past the end");
    cr_assert_eq(r->ack->acked, 3);
    cr_assert_eq(r->ack->unacked, 0);
    r = s_call(E.notif_api, &req, "intruder", NULL);
    cr_assert(r->error && r->error->code == TECHBRIDGE__CODE__PERMISSION_DENIED);

    /* Stats: one recipient (the org itself) or all (operators only). */
    Techbridge__NotificationStats st = TECHBRIDGE__NOTIFICATION_STATS__INIT;
    st.recipient = (char *)"acme";
    Techbridge__ApiRequest sreq = TECHBRIDGE__API_REQUEST__INIT;
    sreq.body_case = TECHBRIDGE__API_REQUEST__BODY_NOTIFICATION_STATS;
    sreq.notification_stats = &st;
    r = s_call(E.notif_api, &sreq, "acme", NULL);
    s_assert_ok(r, "stats");
    cr_assert_eq(r->notification_stats->n_recipients, 1);
    cr_assert_eq(r->notification_stats->recipients[0]->last_seq, 3);
    cr_assert_eq(r->notification_stats->recipients[0]->acked, 3);
    st.recipient = (char *)"";
    r = s_call(E.notif_api, &sreq, "acme", NULL);
    cr_assert(r->error && r->error->code == TECHBRIDGE__CODE__PERMISSION_DENIED);
    r = s_call(E.notif_api, &sreq, NULL, NULL);
    s_assert_ok(r, "all stats");
    cr_assert_geq(r->notification_stats->n_recipients, 1);

    /* A kind of another service. */
    Techbridge__GetRequest get = TECHBRIDGE__GET_REQUEST__INIT;
    get.id = (char *)"00000000-0000-0000-0000-000000000000";
    Techbridge__ApiRequest greq = TECHBRIDGE__API_REQUEST__INIT;
    greq.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
    greq.get = &get;
    r = s_call(E.notif_api, &greq, NULL, NULL);
    cr_assert(r->error && r->error->code == TECHBRIDGE__CODE__INVALID_ARGUMENT);
}

/*  SIGKILLed while events flow, restarted (also with a backlog): every
    notification exactly once, sequences dense. */
Test(notification, sigkill_mid_stream_exactly_once, .fini = s_teardown, .timeout = 300)
{
    s_setup();
    s_start_intake();
    s_start_notif(NULL);
    const int n = 120;
    Techbridge__Request **reqs = tb_arena_alloc(E.arena, (size_t)n * sizeof *reqs);
    int kills = 0;
    for (int i = 0; i < n; i++) {
        char ref[32], title[64];
        snprintf(ref, sizeof ref, "kill-%d", i);
        snprintf(title, sizeof title, "Kiln automation need %d", i);
        Techbridge__Request *r =
            s_submit(s_make_request(TECHBRIDGE__KIND__NEED, "acme", ref, title));
        reqs[i] = s_transition(r, TECHBRIDGE__ACTION__PUBLISH);
        if (i == n / 3 || i == 2 * n / 3) {
            tb_test_proc_kill(&E.notif);
            kills++;
            s_start_notif(NULL);
        }
    }
    /* A backlog while it is down, then a kill during the catch-up. */
    tb_test_proc_kill(&E.notif);
    kills++;
    for (int i = 0; i < n; i++)
        reqs[i] = s_transition(reqs[i], TECHBRIDGE__ACTION__WITHDRAW);
    int64_t before = s_sql("SELECT count(*) FROM notification_items");
    s_start_notif(NULL);
    s_sql_arg_t some = {"SELECT count(*) FROM notification_items", before + 5};
    cr_assert(tb_test_wait_until(s_sql_reaches, &some, 20000));
    tb_test_proc_kill(&E.notif);
    kills++;
    s_start_notif(NULL);

    s_sql_arg_t all = {"SELECT count(*) FROM notification_items", 2 * n};
    if (!tb_test_wait_until(s_sql_reaches, &all, 60000))
        s_dump_logs();
    cr_assert_eq(s_sql("SELECT count(*) FROM notification_items"), 2 * n);
    cr_assert_eq(
        s_sql("SELECT last_seq FROM notification_recipients WHERE recipient = 'acme'"),
        2 * n);
    cr_assert_eq(kills, 4);
    s_assert_exactly_once_dense();
    /* Every request's two changes are there: PUBLISHED and WITHDRAWN. */
    cr_assert_eq(s_sql("SELECT count(DISTINCT subject_id) FROM notification_items"), n);
}

/*  A subscriber offline during 500 notifications catches up with none missing. */
Test(notification, offline_subscriber_catches_up_500, .fini = s_teardown, .timeout = 300)
{
    s_setup();
    s_start_intake();
    s_start_notif(NULL);
    const int n = 250; /* publish + withdraw: 500 notifications */
    Techbridge__Request **reqs = s_submit_publish("offline-org", "offline", n);
    for (int i = 0; i < n; i++)
        s_transition(reqs[i], TECHBRIDGE__ACTION__WITHDRAW);
    s_sql_arg_t all = {"SELECT count(*) FROM notification_items", 2 * n};
    cr_assert(tb_test_wait_until(s_sql_reaches, &all, 60000), "500 not stored");

    /* Catch up in pages, as the client that comes back does. */
    bool seen[501] = {false};
    int64_t after = 0, last_seq = -1;
    int pages = 0, got = 0;
    for (;;) {
        Techbridge__NotificationPage *page = s_list("offline-org", after, 64);
        pages++;
        last_seq = page->last_seq;
        for (size_t i = 0; i < page->n_notifications; i++) {
            Techbridge__Notification *note = page->notifications[i];
            cr_assert_eq(note->seq, after + 1, "seq %" PRId64 " after %" PRId64,
                         note->seq, after);
            cr_assert(note->seq >= 1 && note->seq <= 500);
            cr_assert(!seen[note->seq], "seq %" PRId64 " twice", note->seq);
            seen[note->seq] = true;
            cr_assert_str_eq(note->recipient, "offline-org");
            cr_assert_eq(note->kind,
                         TECHBRIDGE__NOTIFICATION_KIND__REQUEST_STATUS_CHANGED);
            after = note->seq;
            got++;
        }
        if (page->n_notifications == 0 || after >= last_seq)
            break;
        cr_assert(pages < 100, "paging does not end");
    }
    cr_assert_eq(got, 500);
    cr_assert_eq(last_seq, 500);
    cr_assert_geq(pages, 8);
    /* The default page holds 100. */
    cr_assert_eq(s_list("offline-org", 0, 0)->n_notifications, 100);
    /* A large limit is clamped (to 1000) and a page is also bounded in bytes (the
       client continues after the last seq it got): more than the default, never
       more than there are, always from seq 1. */
    Techbridge__NotificationPage *big = s_list("offline-org", 0, 5000);
    cr_assert(big->n_notifications > 100 && big->n_notifications <= 500, "%zu",
              big->n_notifications);
    cr_assert_eq(big->notifications[0]->seq, 1);
    cr_assert_eq(big->notifications[big->n_notifications - 1]->seq,
                 (int64_t)big->n_notifications);
    s_assert_exactly_once_dense();
}

/*  A subscriber that never reads, on an XPUB with a small HWM, neither blocks the
    service nor makes it lose or duplicate stored notifications; a live reader
    gets [recipient][Notification] frames in seq order without duplicates. */
Test(notification, slow_subscriber_loses_nothing_stored, .fini = s_teardown,
     .timeout = 300)
{
    s_setup();
    s_start_intake();
    s_start_notif("4");

    void *ctx = tb_test_zmq_ctx();
    void *slow = zmq_socket(ctx, ZMQ_SUB);
    void *live = zmq_socket(ctx, ZMQ_SUB);
    int one = 1, zero = 0;
    cr_assert(zmq_setsockopt(slow, ZMQ_RCVHWM, &one, sizeof one) == 0);
    zmq_setsockopt(slow, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(live, ZMQ_LINGER, &zero, sizeof zero);
    int big = 100000;
    zmq_setsockopt(live, ZMQ_RCVHWM, &big, sizeof big);
    cr_assert(zmq_setsockopt(slow, ZMQ_SUBSCRIBE, "", 0) == 0);
    cr_assert(zmq_setsockopt(live, ZMQ_SUBSCRIBE, "slow-org/", 9) == 0);
    cr_assert(zmq_connect(slow, E.notif_pub) == 0);
    cr_assert(zmq_connect(live, E.notif_pub) == 0);
    /* The XPUB logs each new subscription: wait until both are registered. */
    s_log_arg_t sub_all = {E.notif, "\"topic\":\"slow-org/\""};
    cr_assert(tb_test_wait_until(s_log_has, &sub_all, 10000), "subscription not seen");

    const int n = 150;
    Techbridge__Request **reqs = s_submit_publish("slow-org", "slow", n);
    for (int i = 0; i < n; i++)
        s_transition(reqs[i], TECHBRIDGE__ACTION__WITHDRAW);
    s_sql_arg_t all = {"SELECT count(*) FROM notification_items", 2 * n};
    cr_assert(tb_test_wait_until(s_sql_reaches, &all, 60000), "not all stored");
    cr_assert(tb_test_health(E.notif_api, 2000), "service blocked by a slow subscriber");

    /* The live reader: frames well-formed, seqs strictly increasing. */
    int64_t last = 0;
    int received = 0;
    for (;;) {
        zmq_pollitem_t item = {.socket = live, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, received < 2 * n ? 3000 : 200) <= 0)
            break;
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        cr_assert(zmq_msg_recv(&topic, live, 0) >= 0);
        cr_assert(zmq_msg_more(&topic), "a single-frame message");
        cr_assert(zmq_msg_recv(&body, live, 0) >= 0);
        cr_assert(!zmq_msg_more(&body), "more than two frames");
        cr_assert_eq(zmq_msg_size(&topic), 9);
        cr_assert(memcmp(zmq_msg_data(&topic), "slow-org/", 9) == 0);
        Techbridge__Notification *note = (Techbridge__Notification *)tb_wire_unpack(
            E.arena, &techbridge__notification__descriptor, zmq_msg_data(&body),
            zmq_msg_size(&body), 1 << 20);
        cr_assert_not_null(note);
        cr_assert_gt(note->seq, last, "duplicate or out of order live seq %" PRId64,
                     note->seq);
        last = note->seq;
        received++;
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
    cr_assert_gt(received, 0, "the live subscriber got nothing");
    zmq_close(slow);
    zmq_close(live);

    cr_assert_eq(s_sql("SELECT count(*) FROM notification_items"), 2 * n);
    cr_assert_eq(s_sql("SELECT last_seq FROM notification_recipients WHERE recipient = "
                       "'slow-org'"),
                 2 * n);
    s_assert_exactly_once_dense();
}
