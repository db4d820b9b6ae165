/*  Integration: tbctl against a real tb-intake (and against nothing). */
#include <unistd.h>

#include "intake_fixture.h"

TestSuite(tbctl, .init = fx_setup, .fini = fx_teardown, .timeout = 180);

#define MAX_ARGS 24

/*  Runs tbctl --intake <g_api> --json? <args...>; returns the run. */
static tb_test_run_t run_tbctl(bool json, const char *input, const char *const *args)
{
    const char *argv[MAX_ARGS] = {"--intake", g_api, "--timeout", "5000"};
    int n = 4;
    if (json)
        argv[n++] = "--json";
    for (int i = 0; args[i] && n < MAX_ARGS - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    const char *env[] = {"TB_ACTOR=operator", NULL};
    tb_test_run_t r;
    cr_assert_eq(tb_test_tbctl(&r, argv, env, input), 0, "tbctl did not run");
    return r;
}

/*  Runs tbctl --json and parses stdout as one JSON document (exit 0 expected). */
static json_t *tbctl_json(const char *input, const char *const *args)
{
    tb_test_run_t r = run_tbctl(true, input, args);
    cr_assert_eq(r.status, 0, "tbctl %s exited %d: %s", args[0], r.status, r.err);
    json_error_t jerr;
    json_t *doc = json_loads(r.out, 0, &jerr);
    cr_assert_not_null(doc, "stdout is not one JSON document (%s): %s", jerr.text, r.out);
    tb_test_run_free(&r);
    return doc;
}

static const char *jstr(const json_t *doc, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(doc, path1);
    if (path2)
        v = json_object_get(v, path2);
    cr_assert(json_is_string(v), "no string at %s.%s", path1, path2 ? path2 : "");
    return json_string_value(v);
}

Test(tbctl, submit_get_list_publish_history_as_json)
{
    fx_start_intake(NULL);
    char path[512];
    const char *submit[] = {"submit", tb_test_data_path("offer_cn.json", path), NULL};
    json_t *doc = tbctl_json(NULL, submit);
    char id[37];
    snprintf(id, sizeof id, "%s", jstr(doc, "request", "id"));
    cr_assert_str_eq(jstr(doc, "request", "status"), "SUBMITTED");
    cr_assert_str_eq(jstr(doc, "request", "kind"), "OFFER");
    cr_assert(json_is_true(json_object_get(doc, "created")));
    json_decref(doc);

    /* from stdin */
    char *need = tb_test_read_file(tb_test_data_path("need_by.json", path));
    cr_assert_not_null(need);
    const char *submit_stdin[] = {"submit", "-", NULL};
    doc = tbctl_json(need, submit_stdin);
    cr_assert_str_eq(jstr(doc, "request", "kind"), "NEED");
    json_decref(doc);
    free(need);

    const char *get[] = {"get", id, NULL};
    doc = tbctl_json(NULL, get);
    cr_assert_str_eq(jstr(doc, "request", "title"),
                     "Heat-pump vacuum kiln for drying hardwood lumber");
    json_decref(doc);

    const char *list[] = {"list", "--kind", "OFFER", "--limit", "10", NULL};
    doc = tbctl_json(NULL, list);
    json_t *reqs = json_object_get(doc, "requests");
    cr_assert_eq(json_array_size(reqs), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(reqs, 0), "id")),
                     id);
    json_decref(doc);

    /* global flags after the command; version taken from a get */
    const char *publish[] = {"publish", id, "--reason", "reviewed", NULL};
    doc = tbctl_json(NULL, publish);
    cr_assert_str_eq(jstr(doc, "request", "status"), "PUBLISHED");
    json_decref(doc);

    const char *history[] = {"history", id, NULL};
    doc = tbctl_json(NULL, history);
    json_t *entries = json_object_get(doc, "entries");
    cr_assert_eq(json_array_size(entries), 2, "%s", json_dumps(doc, 0));
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(entries, 1), "action")),
        "PUBLISH");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(entries, 1), "reason")),
        "reviewed");
    json_decref(doc);
    cr_assert_eq(fx_get_ok(id)->status, TECHBRIDGE__STATUS__PUBLISHED);
}

Test(tbctl, human_output_and_api_errors)
{
    fx_start_intake(NULL);
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    const char *get[] = {"get", offer->id, NULL};
    tb_test_run_t r = run_tbctl(false, NULL, get);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, offer->id));
    cr_assert_not_null(strstr(r.out, "SUBMITTED"));
    cr_assert_not_null(strstr(r.out, "cn.jiangsu-hengtai"));
    tb_test_run_free(&r);

    const char *missing[] = {"get", "7d0e6f7e-2f5b-4a55-9d8e-3f8f5a0c1b2d", NULL};
    r = run_tbctl(false, NULL, missing);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.err, "tbctl: NOT_FOUND:"), "%s", r.err);
    cr_assert_str_eq(r.out, "");
    tb_test_run_free(&r);

    /* a stale --version is ABORTED, exit 1 */
    const char *stale[] = {"publish", offer->id, "--version", "999", NULL};
    r = run_tbctl(false, NULL, stale);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.err, "ABORTED"), "%s", r.err);
    tb_test_run_free(&r);

    /* invalid fields: each violation on its own line */
    char *bad =
        tb_test_write_temp("{\"kind\":\"OFFER\",\"external_ref\":\"x1\","
                           "\"org\":{\"id\":\"cn.a\",\"name\":\"A\",\"country\":\"ZZ\"},"
                           "\"title\":\"abc\",\"sector\":\"woodworking\","
                           "\"keywords\":[\"kiln\"],\"trl\":4,"
                           "\"cooperation\":[\"LICENSE\"]}");
    const char *submit_bad[] = {"submit", bad, NULL};
    r = run_tbctl(false, NULL, submit_bad);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.err, "tbctl: INVALID_ARGUMENT"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "\n  title: "), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "\n  org.country: "), "%s", r.err);
    tb_test_run_free(&r);
    unlink(bad);
    free(bad);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 1);
}

Test(tbctl, bad_json_input_is_reported_before_sending)
{
    /* no service at all: nothing may be sent */
    cr_assert_eq(tb_test_endpoint(g_api), 0);
    char *notjson = tb_test_write_temp("{\"kind\": OFFER");
    const char *a1[] = {"submit", notjson, NULL};
    tb_test_run_t r = run_tbctl(false, NULL, a1);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "not valid JSON"), "%s", r.err);
    tb_test_run_free(&r);

    char *unknown = tb_test_write_temp("{\"kind\":\"GIFT\",\"colour\":\"red\"}");
    const char *a2[] = {"submit", unknown, NULL};
    r = run_tbctl(false, NULL, a2);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_not_null(strstr(r.err, "\n  kind: "), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "\n  colour: "), "%s", r.err);
    cr_assert_null(strstr(r.err, "UNAVAILABLE"), "%s", r.err);
    tb_test_run_free(&r);
    unlink(notjson);
    unlink(unknown);
    free(notjson);
    free(unknown);
}

Test(tbctl, usage_errors_exit_2)
{
    const char *const cases[][4] = {
        {"frobnicate", NULL},
        {"get", NULL},
        {"get", "a", "b", NULL},
        {"list", "--limit", "many", NULL},
        {"list", "--kind", "GIFT", NULL},
        {"publish", "x", "--colour", "red"},
        {"get", "x", "--timeout", "-5"},
    };
    cr_assert_eq(tb_test_endpoint(g_api), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[5] = {cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL};
        tb_test_run_t r = run_tbctl(false, NULL, args);
        cr_assert_eq(r.status, 2, "case %zu (%s): exit %d: %s", i, cases[i][0], r.status,
                     r.err);
        cr_assert_not_null(strstr(r.err, "tbctl: usage"), "case %zu: %s", i, r.err);
        tb_test_run_free(&r);
    }
    const char *help[] = {"--help", NULL};
    tb_test_run_t r = run_tbctl(false, NULL, help);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "--notification-pub"));
    tb_test_run_free(&r);
}

Test(tbctl, unreachable_service_exits_3)
{
    cr_assert_eq(tb_test_endpoint(g_api), 0); /* nobody listens there */
    const char *args[] = {"get", "7d0e6f7e-2f5b-4a55-9d8e-3f8f5a0c1b2d", "--timeout",
                          "300", NULL};
    int64_t t0 = tb_test_now_ms();
    tb_test_run_t r = run_tbctl(false, NULL, args);
    cr_assert_eq(r.status, 3, "exit %d: %s", r.status, r.err);
    cr_assert_not_null(strstr(r.err, "tbctl: UNAVAILABLE: no reply from intake at "),
                       "%s", r.err);
    cr_assert_not_null(strstr(r.err, "within 300 ms"), "%s", r.err);
    cr_assert_lt(tb_test_now_ms() - t0, 5000);
    tb_test_run_free(&r);

    char m[64], n[64];
    cr_assert_eq(tb_test_endpoint(m), 0);
    cr_assert_eq(tb_test_endpoint(n), 0);
    const char *health[] = {"health", "--timeout",      "200", "--matching",
                            m,        "--notification", n,     NULL};
    r = run_tbctl(false, NULL, health);
    cr_assert_neq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "down"), "%s", r.out);
    tb_test_run_free(&r);
}

#ifdef TB_NOTIFICATION_BIN
static char g_notif_api[64], g_notif_pub[64];

static int64_t last_seq(const char *recipient)
{
    Techbridge__ListNotifications ln = TECHBRIDGE__LIST_NOTIFICATIONS__INIT;
    ln.recipient = (char *)recipient;
    ln.limit = 1;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.actor = "operator";
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
    req.list_notifications = &ln;
    Techbridge__ApiReply *reply = tb_test_call(g_arena, g_notif_api, &req, 1000);
    if (!reply || reply->error || !reply->notifications)
        return -1;
    return reply->notifications->last_seq;
}

typedef struct {
    const char *recipient;
    int64_t at_least;
} seq_cond_t;

static bool seq_reached(void *arg)
{
    seq_cond_t *c = arg;
    return last_seq(c->recipient) >= c->at_least;
}

/*  The seqs of the JSON lines tbctl watch printed into its log, in order. */
static int printed_seqs(const char *path, int64_t *seqs, int max)
{
    char *log = tb_test_read_file(path);
    int n = 0;
    for (char *line = log ? strtok(log, "\n") : NULL; line && n < max;
         line = strtok(NULL, "\n")) {
        json_t *doc = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;
        if (doc && json_is_integer(json_object_get(doc, "seq")))
            seqs[n++] = json_integer_value(json_object_get(doc, "seq"));
        json_decref(doc);
    }
    free(log);
    return n;
}

typedef struct {
    tb_test_proc_t *p;
    int want;
} lines_cond_t;

static bool printed_enough(void *arg)
{
    lines_cond_t *c = arg;
    int64_t seqs[64];
    return printed_seqs(tb_test_proc_log(c->p), seqs, 64) >= c->want;
}

Test(tbctl, watch_catches_up_then_follows_live_without_gaps_or_duplicates)
{
    fx_start_intake(NULL);
    char unused[64];
    cr_assert_eq(tb_test_endpoint(g_notif_api), 0);
    cr_assert_eq(tb_test_endpoint(g_notif_pub), 0);
    cr_assert_eq(tb_test_endpoint(unused), 0);
    const char *nargs[] = {"--api",
                           g_notif_api,
                           "--pub",
                           g_notif_pub,
                           "--intake-feed",
                           g_feed,
                           "--matching-feed",
                           unused,
                           "--database-url",
                           g_db,
                           "--stats-interval",
                           "0",
                           NULL};
    tb_test_proc_t *notif = tb_test_service_start(
        TB_NOTIFICATION_BIN, "notification", g_notif_api, nargs, NULL, START_DEADLINE_MS);
    cr_assert_not_null(notif);
    const char *org = "cn.jiangsu-hengtai";

    /* stored before the watcher starts: caught up through the API */
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    fx_act(offer->id, TECHBRIDGE__ACTION__PUBLISH);
    seq_cond_t c = {org, 1};
    cr_assert(tb_test_wait_until(seq_reached, &c, 20000), "no notification for %s", org);
    int64_t before = last_seq(org);

    const char *wargs[] = {"--notification",
                           g_notif_api,
                           "--notification-pub",
                           g_notif_pub,
                           "--json",
                           "watch",
                           org,
                           NULL};
    tb_test_proc_t *watch = tb_test_proc_start(TBCTL_BIN, "watch", wargs, NULL);
    cr_assert_not_null(watch);
    lines_cond_t lc = {watch, (int)before};
    cr_assert(tb_test_wait_until(printed_enough, &lc, 20000), "catch-up not printed");

    /* live ones */
    fx_act(offer->id, TECHBRIDGE__ACTION__NEGOTIATE);
    fx_act(offer->id, TECHBRIDGE__ACTION__REOPEN);
    fx_act(offer->id, TECHBRIDGE__ACTION__WITHDRAW);
    c.at_least = before + 3;
    cr_assert(tb_test_wait_until(seq_reached, &c, 20000),
              "live notifications not stored");
    int64_t total = last_seq(org);
    lc.want = (int)total;
    cr_assert(tb_test_wait_until(printed_enough, &lc, 20000),
              "live notifications not printed");

    char log[512];
    snprintf(log, sizeof log, "%s", tb_test_proc_log(watch));
    cr_assert_eq(tb_test_proc_stop(&watch, 5000), 0, "watch did not exit 0 on SIGTERM");
    cr_assert_eq(tb_test_proc_stop(&notif, 5000), 0);
    int64_t seqs[64];
    int n = printed_seqs(log, seqs, 64);
    cr_assert_eq(n, total, "printed %d notifications, %lld stored", n, (long long)total);
    for (int i = 0; i < n; i++)
        cr_assert_eq(seqs[i], i + 1, "line %d has seq %lld", i, (long long)seqs[i]);
}
#endif
