/*  Unit tests of tb_json: Request <-> JSON round trip, violations with paths
    for unknown keys, wrong types, bad enum names and bad times, the reply
    documents, and time formatting and parsing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_json.h"

static tb_arena_t *A;
static tb_violations_t V;

static void setup(void)
{
    A = tb_arena_new(1 << 20);
    cr_assert_not_null(A);
    memset(&V, 0, sizeof V);
}

static void teardown(void)
{
    tb_arena_destroy(&A);
}

TestSuite(json, .init = setup, .fini = teardown);

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert_not_null(j, "bad test JSON: %s", err.text);
    return j;
}

static Techbridge__Request *to_request(const char *text)
{
    json_t *j = parse(text);
    memset(&V, 0, sizeof V);
    Techbridge__Request *r = tb_json_to_request(A, j, &V, NULL, NULL);
    json_decref(j);
    cr_assert_not_null(r);
    return r;
}

static bool has(const char *field)
{
    for (size_t i = 0; i < V.count; i++)
        if (strcmp(V.items[i].field, field) == 0)
            return true;
    return false;
}

static void expect_only(const char *field)
{
    if (V.count != 1 || !has(field))
        for (size_t i = 0; i < V.count; i++)
            fprintf(stderr, "  %s: %s\n", V.items[i].field, V.items[i].reason);
    cr_assert_eq(V.count, 1, "expected one violation at %s, got %zu", field, V.count);
    cr_assert_str_eq(V.items[0].field, field);
}

static const char *FULL =
    "{\"id\": \"123e4567-e89b-12d3-a456-426614174000\", \"kind\": \"OFFER\", "
    "\"status\": \"PUBLISHED\", \"version\": 3, \"external_ref\": \"demo-offer-001\", "
    "\"org\": {\"id\": \"jiangsu-drytech\", \"name\": \"Jiangsu DryTech Machinery Co.\", "
    "\"country\": \"CN\", \"region\": \"Jiangsu\"}, "
    "\"contact\": {\"name\": \"Desk\", \"email\": \"tt@jiangsu-drytech.example.cn\", "
    "\"phone\": \"+86 10 5555 0100\"}, "
    "\"title\": \"Continuous vacuum drying line\", \"summary\": \"Vacuum kiln "
    "line.\\nFast.\", "
    "\"sector\": \"woodworking\", \"keywords\": [\"vacuum drying\", \"lumber\", "
    "\"сушка\"], "
    "\"trl\": 8, \"cooperation\": [\"LICENSE\", \"EQUIPMENT_SUPPLY\"], "
    "\"ipr\": \"PATENT_GRANTED\", \"budget_usd\": {\"min\": 1000, \"max\": 5000}, "
    "\"target_countries\": [\"BY\", \"KZ\"], \"expires_at\": \"2027-05-01T00:00:00Z\", "
    "\"renewed\": true, \"created_at\": \"2026-05-01T08:30:00.250Z\", "
    "\"updated_at\": \"2026-05-02T09:00:00Z\"}";

/* ------------------------------------------------------------------------ */
/*  JSON -> Request                                                         */

Test(json, full_request_decodes)
{
    Techbridge__Request *r = to_request(FULL);
    cr_assert_eq(V.count, 0);
    cr_assert_str_eq(r->id, "123e4567-e89b-12d3-a456-426614174000");
    cr_assert_eq(r->kind, TECHBRIDGE__KIND__OFFER);
    cr_assert_eq(r->status, TECHBRIDGE__STATUS__PUBLISHED);
    cr_assert_eq(r->version, 3);
    cr_assert_str_eq(r->external_ref, "demo-offer-001");
    cr_assert_str_eq(r->org->id, "jiangsu-drytech");
    cr_assert_str_eq(r->org->country, "CN");
    cr_assert_str_eq(r->org->region, "Jiangsu");
    cr_assert_str_eq(r->contact->email, "tt@jiangsu-drytech.example.cn");
    cr_assert_str_eq(r->contact->phone, "+86 10 5555 0100");
    cr_assert_str_eq(r->summary, "Vacuum kiln line.\nFast.");
    cr_assert_eq(r->n_keywords, 3);
    cr_assert_str_eq(r->keywords[2], "сушка");
    cr_assert_eq(r->trl, 8);
    cr_assert_eq(r->n_cooperation, 2);
    cr_assert_eq(r->cooperation[0], TECHBRIDGE__COOPERATION__LICENSE);
    cr_assert_eq(r->cooperation[1], TECHBRIDGE__COOPERATION__EQUIPMENT_SUPPLY);
    cr_assert_eq(r->ipr, TECHBRIDGE__IPR__PATENT_GRANTED);
    cr_assert_eq(r->budget_usd->min->value, 1000);
    cr_assert_eq(r->budget_usd->max->value, 5000);
    cr_assert_eq(r->n_target_countries, 2);
    cr_assert_eq(r->expires_at, 1809129600000LL);
    cr_assert(r->renewed);
    cr_assert_eq(r->created_at, 1777624200250LL);
}

Test(json, round_trip_json_proto_json)
{
    json_t *in = parse(FULL);
    Techbridge__Request *r = tb_json_to_request(A, in, &V, NULL, NULL);
    cr_assert_not_null(r);
    cr_assert_eq(V.count, 0);
    json_t *out = tb_json_from_request(r);
    cr_assert_not_null(out);
    if (!json_equal(in, out)) {
        char *a = json_dumps(in, JSON_SORT_KEYS), *b = json_dumps(out, JSON_SORT_KEYS);
        cr_assert_fail("round trip differs:\n%s\n%s", a, b);
    }
    json_decref(in);
    json_decref(out);
}

Test(json, round_trip_through_wire)
{
    /* JSON -> proto -> bytes -> proto -> JSON gives the same document. */
    json_t *in = parse(FULL);
    Techbridge__Request *r = tb_json_to_request(A, in, &V, NULL, NULL);
    size_t size = techbridge__request__get_packed_size(r);
    uint8_t *buf = malloc(size);
    techbridge__request__pack(r, buf);
    Techbridge__Request *back = techbridge__request__unpack(NULL, size, buf);
    cr_assert_not_null(back);
    json_t *out = tb_json_from_request(back);
    cr_assert(json_equal(in, out));
    techbridge__request__free_unpacked(back, NULL);
    free(buf);
    json_decref(in);
    json_decref(out);
}

Test(json, round_trip_minimal_need)
{
    const char *text =
        "{\"kind\": \"NEED\", \"external_ref\": \"n1\", \"title\": \"Drying line\", "
        "\"keywords\": [\"kiln\"], \"trl\": 5, \"cooperation\": [\"LICENSE\"], "
        "\"budget_usd\": {\"max\": 0}}";
    json_t *in = parse(text);
    Techbridge__Request *r = tb_json_to_request(A, in, &V, NULL, NULL);
    cr_assert_eq(V.count, 0);
    cr_assert_null(r->org);
    cr_assert_null(r->budget_usd->min);
    cr_assert_not_null(r->budget_usd->max);
    json_t *out = tb_json_from_request(r);
    cr_assert(json_equal(in, out));
    json_decref(in);
    json_decref(out);
}

Test(json, demo_data_set_decodes_and_validates)
{
    /* The source tree, from this file's own path (CMake compiles it by its
       absolute path). */
    char path[4096];
    const char *self = __FILE__, *tail = strstr(self, "tests/unit/test_json.c");
    if (!tail)
        cr_skip_test("source tree unknown");
    snprintf(path, sizeof path, "%.*sdeploy/demo/requests.jsonl", (int)(tail - self),
             self);
    FILE *f = fopen(path, "r");
    if (!f)
        cr_skip_test("no demo data set");
    char line[16384];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *j = parse(line);
        memset(&V, 0, sizeof V);
        Techbridge__Request *r = tb_json_to_request(A, j, &V, NULL, NULL);
        cr_assert_not_null(r);
        tb_valid_request(r, NULL, 1767225600000LL /* 2026-01-01 */, &V);
        if (V.count)
            cr_assert_fail("demo line %d: %s: %s", n + 1, V.items[0].field,
                           V.items[0].reason);
        json_decref(j);
        n++;
    }
    fclose(f);
    cr_assert(n > 0);
}

Test(json, fields_present)
{
    json_t *j = parse("{\"title\": \"New title\", \"contact\": {\"name\": \"X\"}, "
                      "\"budget_usd\": null, \"bogus\": 1}");
    char **fields = NULL;
    size_t n = 99;
    Techbridge__Request *r = tb_json_to_request(A, j, &V, &fields, &n);
    cr_assert_not_null(r);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(fields[0], "title");
    cr_assert_str_eq(fields[1], "contact");
    cr_assert_str_eq(fields[2], "budget_usd");
    cr_assert_null(r->budget_usd);
    expect_only("bogus");
    json_decref(j);
}

Test(json, not_an_object)
{
    json_t *j = parse("[1, 2]");
    cr_assert_null(tb_json_to_request(A, j, &V, NULL, NULL));
    json_decref(j);
    cr_assert_null(tb_json_to_request(A, NULL, &V, NULL, NULL));
}

Test(json, unknown_keys)
{
    to_request("{\"colour\": \"red\"}");
    expect_only("colour");
    to_request("{\"org\": {\"id\": \"a\", \"web\": \"x\"}}");
    expect_only("org.web");
    to_request("{\"contact\": {\"fax\": \"1\"}}");
    expect_only("contact.fax");
    to_request("{\"budget_usd\": {\"min\": 1, \"currency\": \"USD\"}}");
    expect_only("budget_usd.currency");
}

Test(json, wrong_types)
{
    to_request("{\"title\": 5}");
    expect_only("title");
    to_request("{\"org\": \"acme\"}");
    expect_only("org");
    to_request("{\"org\": {\"name\": [\"x\"]}}");
    expect_only("org.name");
    to_request("{\"contact\": {\"email\": true}}");
    expect_only("contact.email");
    to_request("{\"keywords\": \"kiln\"}");
    expect_only("keywords");
    to_request("{\"keywords\": [\"kiln\", 7, \"lumber\", {}]}");
    cr_assert_eq(V.count, 2);
    cr_assert(has("keywords[1]") && has("keywords[3]"));
    to_request("{\"trl\": \"8\"}");
    expect_only("trl");
    to_request("{\"trl\": 8.5}");
    expect_only("trl");
    to_request("{\"cooperation\": \"LICENSE\"}");
    expect_only("cooperation");
    to_request("{\"budget_usd\": [1, 2]}");
    expect_only("budget_usd");
    to_request("{\"budget_usd\": {\"min\": \"1000\"}}");
    expect_only("budget_usd.min");
    to_request("{\"target_countries\": [\"BY\", 1]}");
    expect_only("target_countries[1]");
    to_request("{\"renewed\": \"yes\"}");
    expect_only("renewed");
    to_request("{\"version\": \"3\"}");
    expect_only("version");
}

Test(json, trl_out_of_int32_range)
{
    to_request("{\"trl\": 4294967297}");
    expect_only("trl");
    to_request("{\"trl\": -2147483649}");
    expect_only("trl");
    Techbridge__Request *r = to_request("{\"trl\": 2147483647}");
    cr_assert_eq(V.count, 0);
    cr_assert_eq(r->trl, 2147483647);
}

Test(json, bad_enum_names)
{
    to_request("{\"kind\": \"offer\"}");
    expect_only("kind");
    to_request("{\"kind\": 1}");
    expect_only("kind");
    to_request("{\"cooperation\": [\"LICENSE\", \"FRANCHISE\"]}");
    expect_only("cooperation[1]");
    to_request("{\"ipr\": \"TRADEMARK\"}");
    expect_only("ipr");
    to_request("{\"status\": \"DONE\"}");
    expect_only("status");
}

Test(json, bad_times)
{
    const char *bad[] = {"\"tomorrow\"",
                         "\"2027-13-01\"",
                         "\"2027-02-30\"",
                         "\"2027-05-01T00:00:00\"",
                         "\"2027-05-01 00:00:00Z\"",
                         "\"2027-05-01T24:00:00Z\"",
                         "\"2027-05-01T00:00:00+0300\"",
                         "\"2027-05-01T00:00:00Zjunk\"",
                         "\"2027-5-1\"",
                         "true",
                         "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"expires_at\": %s}", bad[i]);
        to_request(text);
        cr_assert(V.count == 1 && has("expires_at"), "accepted %s", bad[i]);
    }
    to_request("{\"created_at\": \"yesterday\"}");
    expect_only("created_at");
}

Test(json, good_times)
{
    Techbridge__Request *r = to_request("{\"expires_at\": \"2027-05-01\"}");
    cr_assert_eq(V.count, 0);
    cr_assert_eq(r->expires_at, 1809129600000LL);
    r = to_request("{\"expires_at\": \"2027-05-01T03:00:00+03:00\"}");
    cr_assert_eq(r->expires_at, 1809129600000LL);
    r = to_request("{\"expires_at\": 1809129600000}");
    cr_assert_eq(r->expires_at, 1809129600000LL);
    r = to_request("{\"expires_at\": null}");
    cr_assert_eq(V.count, 0);
    cr_assert_eq(r->expires_at, 0);
}

Test(json, nul_in_string)
{
    json_t *j = json_object();
    json_object_set_new(j, "title", json_stringn("ab\0cd", 5));
    Techbridge__Request *r = tb_json_to_request(A, j, &V, NULL, NULL);
    cr_assert_not_null(r);
    expect_only("title");
    json_decref(j);
}

Test(json, every_violation_at_once_then_field_rules_add_theirs)
{
    Techbridge__Request *r =
        to_request("{\"kind\": \"BOTH\", \"extra\": 1, \"trl\": \"x\", \"ipr\": 3, "
                   "\"expires_at\": \"soon\"}");
    cr_assert_eq(V.count, 5);
    cr_assert(has("kind") && has("extra") && has("trl") && has("ipr") &&
              has("expires_at"));
    size_t before = V.count;
    tb_valid_request(r, NULL, 0, &V);
    cr_assert(V.count > before);
    cr_assert(has("title") && has("org"));
}

Test(json, null_values_mean_absent)
{
    Techbridge__Request *r = to_request("{\"title\": null, \"org\": null, \"keywords\": "
                                        "null, \"kind\": null, \"trl\": null}");
    cr_assert_eq(V.count, 0);
    cr_assert_str_eq(r->title, "");
    cr_assert_null(r->org);
    cr_assert_eq(r->n_keywords, 0);
    cr_assert_eq(r->kind, 0);
}

Test(json, arena_cap_gives_null)
{
    tb_arena_t *tiny = tb_arena_new(64);
    json_t *j = parse(FULL);
    cr_assert_null(tb_json_to_request(tiny, j, &V, NULL, NULL));
    json_decref(j);
    tb_arena_destroy(&tiny);
}

/* ------------------------------------------------------------------------ */
/*  Proto -> JSON                                                           */

Test(json, empty_fields_left_out)
{
    Techbridge__Request r = TECHBRIDGE__REQUEST__INIT;
    json_t *j = tb_json_from_request(&r);
    cr_assert_eq(json_object_size(j), 0);
    json_decref(j);
}

Test(json, unknown_enum_number_written_as_number)
{
    Techbridge__Request r = TECHBRIDGE__REQUEST__INIT;
    r.kind = (Techbridge__Kind)9;
    json_t *j = tb_json_from_request(&r);
    cr_assert(json_is_integer(json_object_get(j, "kind")));
    cr_assert_eq(json_integer_value(json_object_get(j, "kind")), 9);
    json_decref(j);
}

Test(json, error_json)
{
    Techbridge__Violation v1 = TECHBRIDGE__VIOLATION__INIT,
                          v2 = TECHBRIDGE__VIOLATION__INIT;
    v1.field = "title";
    v1.reason = "must be at least 5 characters";
    v2.field = "keywords[3]";
    v2.reason = "must be 2..60 characters";
    Techbridge__Violation *vs[] = {&v1, &v2};
    Techbridge__Error e = TECHBRIDGE__ERROR__INIT;
    e.code = TECHBRIDGE__CODE__INVALID_ARGUMENT;
    e.message = "invalid request";
    e.violations = vs;
    e.n_violations = 2;
    json_t *j = tb_json_from_error(&e);
    json_t *want =
        parse("{\"code\": \"INVALID_ARGUMENT\", \"message\": \"invalid request\", "
              "\"violations\": [{\"field\": \"title\", \"reason\": \"must be at "
              "least 5 characters\"}, {\"field\": \"keywords[3]\", \"reason\": "
              "\"must be 2..60 characters\"}]}");
    cr_assert(json_equal(j, want));
    json_decref(j);
    json_decref(want);
}

Test(json, history_json)
{
    Techbridge__HistoryEntry e = TECHBRIDGE__HISTORY_ENTRY__INIT;
    e.at = 1809129600000LL;
    e.actor = "operator";
    e.action = TECHBRIDGE__ACTION__PUBLISH;
    e.from_status = TECHBRIDGE__STATUS__SUBMITTED;
    e.to_status = TECHBRIDGE__STATUS__PUBLISHED;
    e.reason = "ok";
    e.version = 2;
    e.correlation_id = "c-1";
    Techbridge__HistoryEntry *es[] = {&e};
    Techbridge__History h = TECHBRIDGE__HISTORY__INIT;
    h.request_id = "r-1";
    h.entries = es;
    h.n_entries = 1;
    json_t *j = tb_json_from_history(&h);
    json_t *want = parse("{\"request_id\": \"r-1\", \"entries\": [{\"at\": "
                         "\"2027-05-01T00:00:00Z\", \"actor\": \"operator\", \"action\": "
                         "\"PUBLISH\", \"from_status\": \"SUBMITTED\", \"to_status\": "
                         "\"PUBLISHED\", \"reason\": \"ok\", \"version\": 2, "
                         "\"correlation_id\": \"c-1\"}]}");
    cr_assert(json_equal(j, want), "%s", json_dumps(j, 0));
    json_decref(j);
    json_decref(want);
}

static Techbridge__Match *sample_match(void)
{
    static Techbridge__ScoreReason reason = TECHBRIDGE__SCORE_REASON__INIT;
    static char *terms[] = {"kiln", "lumber"};
    static Techbridge__ScoreReason *reasons[] = {&reason};
    static Techbridge__Org org = TECHBRIDGE__ORG__INIT;
    static Techbridge__Party offer = TECHBRIDGE__PARTY__INIT;
    static Techbridge__Match m = TECHBRIDGE__MATCH__INIT;
    reason.component = "text";
    reason.weight = 0.5;
    reason.value = 0.5;
    reason.contribution = 0.25;
    reason.shared_terms = terms;
    reason.n_shared_terms = 2;
    org.id = "acme";
    org.country = "CN";
    offer.request_id = "o-1";
    offer.org = &org;
    offer.title = "Kiln";
    m.id = "m-1";
    m.offer_id = "o-1";
    m.need_id = "n-1";
    m.score = 0.75;
    m.reasons = reasons;
    m.n_reasons = 1;
    m.status = TECHBRIDGE__MATCH_STATUS__PROPOSED;
    m.version = 1;
    m.offer = &offer;
    return &m;
}

Test(json, match_json)
{
    json_t *j = tb_json_from_match(sample_match());
    json_t *want = parse(
        "{\"id\": \"m-1\", \"offer_id\": \"o-1\", \"need_id\": \"n-1\", \"score\": 0.75, "
        "\"status\": \"PROPOSED\", \"version\": 1, \"reasons\": [{\"component\": "
        "\"text\", "
        "\"weight\": 0.5, \"value\": 0.5, \"contribution\": 0.25, \"shared_terms\": "
        "[\"kiln\", \"lumber\"]}], \"offer\": {\"request_id\": \"o-1\", \"org\": "
        "{\"id\": "
        "\"acme\", \"country\": \"CN\"}, \"title\": \"Kiln\"}}");
    cr_assert(json_equal(j, want), "%s", json_dumps(j, 0));
    json_decref(j);
    json_decref(want);
}

Test(json, notification_json)
{
    Techbridge__Notification n = TECHBRIDGE__NOTIFICATION__INIT;
    n.recipient = "operators";
    n.seq = 4;
    n.kind = TECHBRIDGE__NOTIFICATION_KIND__MATCH_PROPOSED;
    n.subject_id = "m-1";
    n.subject_version = 1;
    n.text = "match proposed";
    n.match = sample_match();
    json_t *j = tb_json_from_notification(&n);
    cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), "MATCH_PROPOSED");
    cr_assert_eq(json_integer_value(json_object_get(j, "seq")), 4);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "match"), "id")), "m-1");
    cr_assert_null(json_object_get(j, "request"));
    json_decref(j);
}

/* ------------------------------------------------------------------------ */
/*  Replies                                                                 */

static json_t *reply_json(Techbridge__ApiReply *reply)
{
    json_t *j = tb_json_from_reply(reply);
    cr_assert_not_null(j);
    return j;
}

Test(json, reply_request_result)
{
    Techbridge__Request req = TECHBRIDGE__REQUEST__INIT;
    req.id = "r-1";
    req.status = TECHBRIDGE__STATUS__SUBMITTED;
    Techbridge__RequestResult rr = TECHBRIDGE__REQUEST_RESULT__INIT;
    rr.request = &req;
    rr.possible_duplicate_of = "r-0";
    rr.created = 1;
    Techbridge__ApiReply reply = TECHBRIDGE__API_REPLY__INIT;
    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_REQUEST;
    reply.request = &rr;
    json_t *j = reply_json(&reply);
    json_t *want = parse("{\"request\": {\"id\": \"r-1\", \"status\": \"SUBMITTED\"}, "
                         "\"possible_duplicate_of\": \"r-0\", \"created\": true}");
    cr_assert(json_equal(j, want), "%s", json_dumps(j, 0));
    json_decref(j);
    json_decref(want);
}

Test(json, reply_requests_page)
{
    Techbridge__Request a = TECHBRIDGE__REQUEST__INIT, b = TECHBRIDGE__REQUEST__INIT;
    a.id = "a";
    b.id = "b";
    Techbridge__Request *items[] = {&a, &b};
    Techbridge__RequestPage page = TECHBRIDGE__REQUEST_PAGE__INIT;
    page.requests = items;
    page.n_requests = 2;
    page.next_page_token = "tok";
    Techbridge__ApiReply reply = TECHBRIDGE__API_REPLY__INIT;
    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_REQUESTS;
    reply.requests = &page;
    json_t *j = reply_json(&reply);
    json_t *want = parse("{\"requests\": [{\"id\": \"a\"}, {\"id\": \"b\"}], "
                         "\"next_page_token\": \"tok\"}");
    cr_assert(json_equal(j, want));
    json_decref(j);
    json_decref(want);

    page.n_requests = 0;
    page.next_page_token = "";
    j = reply_json(&reply);
    want = parse("{\"requests\": []}");
    cr_assert(json_equal(j, want));
    json_decref(j);
    json_decref(want);
}

Test(json, reply_matches_and_match)
{
    Techbridge__Match *items[] = {sample_match()};
    Techbridge__MatchList list = TECHBRIDGE__MATCH_LIST__INIT;
    list.matches = items;
    list.n_matches = 1;
    Techbridge__ApiReply reply = TECHBRIDGE__API_REPLY__INIT;
    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_MATCHES;
    reply.matches = &list;
    json_t *j = reply_json(&reply);
    cr_assert_eq(json_array_size(json_object_get(j, "matches")), 1);
    json_decref(j);

    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_MATCH;
    reply.match = sample_match();
    j = reply_json(&reply);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "m-1");
    json_decref(j);
}

Test(json, reply_history)
{
    Techbridge__History h = TECHBRIDGE__HISTORY__INIT;
    h.request_id = "r-9";
    Techbridge__ApiReply reply = TECHBRIDGE__API_REPLY__INIT;
    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_HISTORY;
    reply.history = &h;
    json_t *j = reply_json(&reply);
    json_t *want = parse("{\"request_id\": \"r-9\", \"entries\": []}");
    cr_assert(json_equal(j, want));
    json_decref(j);
    json_decref(want);
}

Test(json, reply_notifications_ack_stats_health)
{
    Techbridge__Notification n = TECHBRIDGE__NOTIFICATION__INIT;
    n.recipient = "acme";
    n.seq = 1;
    Techbridge__Notification *ns[] = {&n};
    Techbridge__NotificationPage page = TECHBRIDGE__NOTIFICATION_PAGE__INIT;
    page.notifications = ns;
    page.n_notifications = 1;
    page.last_seq = 1;
    Techbridge__ApiReply reply = TECHBRIDGE__API_REPLY__INIT;
    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_NOTIFICATIONS;
    reply.notifications = &page;
    json_t *j = reply_json(&reply);
    json_t *want = parse(
        "{\"notifications\": [{\"recipient\": \"acme\", \"seq\": 1}], \"last_seq\": 1}");
    cr_assert(json_equal(j, want), "%s", json_dumps(j, 0));
    json_decref(j);
    json_decref(want);

    Techbridge__RecipientStats st = TECHBRIDGE__RECIPIENT_STATS__INIT;
    st.recipient = "acme";
    st.last_seq = 5;
    st.acked = 5;
    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_ACK;
    reply.ack = &st;
    j = reply_json(&reply);
    want =
        parse("{\"recipient\": \"acme\", \"last_seq\": 5, \"acked\": 5, \"unacked\": 0}");
    cr_assert(json_equal(j, want), "%s", json_dumps(j, 0));
    json_decref(j);
    json_decref(want);

    Techbridge__RecipientStats *sts[] = {&st};
    Techbridge__NotificationStatsResult sr = TECHBRIDGE__NOTIFICATION_STATS_RESULT__INIT;
    sr.recipients = sts;
    sr.n_recipients = 1;
    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_NOTIFICATION_STATS;
    reply.notification_stats = &sr;
    j = reply_json(&reply);
    cr_assert_eq(json_array_size(json_object_get(j, "recipients")), 1);
    json_decref(j);

    Techbridge__FeedLag lag = TECHBRIDGE__FEED_LAG__INIT;
    lag.consumer = "matching";
    lag.stream = "requests";
    lag.cursor = 10;
    lag.head = 12;
    lag.lag = 2;
    Techbridge__FeedLag *lags[] = {&lag};
    Techbridge__HealthResult h = TECHBRIDGE__HEALTH_RESULT__INIT;
    h.service = "tb-matching";
    h.database_ok = 1;
    h.uptime_s = 7;
    h.version = "0.1.0";
    h.feeds = lags;
    h.n_feeds = 1;
    reply.result_case = TECHBRIDGE__API_REPLY__RESULT_HEALTH;
    reply.health = &h;
    j = reply_json(&reply);
    want = parse(
        "{\"service\": \"tb-matching\", \"database_ok\": true, \"uptime_s\": 7, "
        "\"version\": \"0.1.0\", \"feeds\": [{\"consumer\": \"matching\", \"stream\": "
        "\"requests\", \"cursor\": 10, \"head\": 12, \"lag\": 2}]}");
    cr_assert(json_equal(j, want), "%s", json_dumps(j, 0));
    json_decref(j);
    json_decref(want);
}

Test(json, reply_error)
{
    Techbridge__Error e = TECHBRIDGE__ERROR__INIT;
    e.code = TECHBRIDGE__CODE__NOT_FOUND;
    e.message = "no such request";
    Techbridge__ApiReply reply = TECHBRIDGE__API_REPLY__INIT;
    reply.correlation_id = "c-7";
    reply.error = &e;
    json_t *j = reply_json(&reply);
    json_t *want = parse("{\"error\": {\"code\": \"NOT_FOUND\", \"message\": \"no such "
                         "request\"}, \"correlation_id\": \"c-7\"}");
    cr_assert(json_equal(j, want), "%s", json_dumps(j, 0));
    json_decref(j);
    json_decref(want);
}

Test(json, reply_empty)
{
    Techbridge__ApiReply reply = TECHBRIDGE__API_REPLY__INIT;
    json_t *j = reply_json(&reply);
    cr_assert_eq(json_object_size(j), 0);
    json_decref(j);
    cr_assert_null(tb_json_from_reply(NULL));
}

/* ------------------------------------------------------------------------ */
/*  Times and enums                                                         */

Test(json, format_time)
{
    char buf[32];
    tb_json_format_time(0, buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    tb_json_format_time(1809129600000LL, buf);
    cr_assert_str_eq(buf, "2027-05-01T00:00:00Z");
    tb_json_format_time(1777624200250LL, buf);
    cr_assert_str_eq(buf, "2026-05-01T08:30:00.250Z");
    tb_json_format_time(1777624200001LL, buf);
    cr_assert_str_eq(buf, "2026-05-01T08:30:00.001Z");
    tb_json_format_time(-1, buf);
    cr_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    tb_json_format_time(951782400000LL, buf); /* leap day 2000 */
    cr_assert_str_eq(buf, "2000-02-29T00:00:00Z");
    tb_json_format_time(INT64_MAX, buf); /* not representable: still bounded */
    cr_assert(strlen(buf) < 32);
}

Test(json, parse_time)
{
    int64_t ms = -1;
    cr_assert_eq(tb_json_parse_time("2027-05-01T00:00:00Z", &ms), 0);
    cr_assert_eq(ms, 1809129600000LL);
    cr_assert_eq(tb_json_parse_time("2027-05-01", &ms), 0);
    cr_assert_eq(ms, 1809129600000LL);
    cr_assert_eq(tb_json_parse_time("2027-05-01t00:00:00z", &ms), 0);
    cr_assert_eq(ms, 1809129600000LL);
    cr_assert_eq(tb_json_parse_time("2027-05-01T03:00:00+03:00", &ms), 0);
    cr_assert_eq(ms, 1809129600000LL);
    cr_assert_eq(tb_json_parse_time("2027-04-30T19:30:00-04:30", &ms), 0);
    cr_assert_eq(ms, 1809129600000LL);
    cr_assert_eq(tb_json_parse_time("2027-05-01T08:00:00+08:00", &ms), 0);
    cr_assert_eq(ms, 1809129600000LL);
    cr_assert_eq(tb_json_parse_time("2027-05-01T00:00:00.5Z", &ms), 0);
    cr_assert_eq(ms, 1809129600500LL);
    cr_assert_eq(tb_json_parse_time("2027-05-01T00:00:00.25Z", &ms), 0);
    cr_assert_eq(ms, 1809129600250LL);
    cr_assert_eq(tb_json_parse_time("2027-05-01T00:00:00.123456789Z", &ms), 0);
    cr_assert_eq(ms, 1809129600123LL);
    cr_assert_eq(tb_json_parse_time("2028-02-29", &ms), 0);
    cr_assert_eq(tb_json_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    cr_assert_eq(ms, 0);
}

Test(json, parse_time_rejects)
{
    const char *bad[] = {"",
                         "2027",
                         "2027-05",
                         "2027-05-1",
                         "27-05-01",
                         "2027/05/01",
                         "2027-00-10",
                         "2027-13-10",
                         "2027-02-29",
                         "2027-04-31",
                         "2027-05-01T",
                         "2027-05-01T00:00Z",
                         "2027-05-01T00:00:00",
                         "2027-05-01T00:00:00.Z",
                         "2027-05-01T25:00:00Z",
                         "2027-05-01T00:60:00Z",
                         "2027-05-01T00:00:61Z",
                         "2027-05-01T00:00:00+3:00",
                         "2027-05-01T00:00:00+03",
                         "2027-05-01T00:00:00+24:00",
                         "2027-05-01T00:00:00+03:60",
                         "2027-05-01T00:00:00ZZ",
                         "2027-05-01 00:00:00Z",
                         " 2027-05-01",
                         "2027-05-01 ",
                         "2027-05-01T00:00:00UTC"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 0;
        cr_assert_eq(tb_json_parse_time(bad[i], &ms), -1, "accepted '%s'", bad[i]);
    }
    int64_t ms;
    cr_assert_eq(tb_json_parse_time(NULL, &ms), -1);
}

Test(json, format_parse_round_trip)
{
    int64_t samples[] = {0,
                         1,
                         999,
                         1000,
                         1777624200250LL,
                         1809129600000LL,
                         4102444799999LL,
                         253402300799999LL};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[32];
        int64_t back = -1;
        tb_json_format_time(samples[i], buf);
        cr_assert_eq(tb_json_parse_time(buf, &back), 0, "%s", buf);
        cr_assert_eq(back, samples[i], "%s", buf);
    }
}

Test(json, enum_names)
{
    cr_assert_str_eq(tb_json_enum_name(&techbridge__kind__descriptor, 1), "OFFER");
    cr_assert_str_eq(tb_json_enum_name(&techbridge__cooperation__descriptor, 1),
                     "LICENSE");
    cr_assert_str_eq(tb_json_enum_name(&techbridge__ipr__descriptor, 1), "NONE");
    cr_assert_null(tb_json_enum_name(&techbridge__kind__descriptor, 42));
    cr_assert_null(tb_json_enum_name(NULL, 1));
    int v = -1;
    cr_assert_eq(tb_json_enum_value(&techbridge__ipr__descriptor, "KNOW_HOW", &v), 0);
    cr_assert_eq(v, TECHBRIDGE__IPR__KNOW_HOW);
    cr_assert_eq(tb_json_enum_value(&techbridge__code__descriptor, "ABORTED", &v), 0);
    cr_assert_eq(v, TECHBRIDGE__CODE__ABORTED);
    cr_assert_eq(tb_json_enum_value(&techbridge__ipr__descriptor, "know_how", &v), -1);
    cr_assert_eq(tb_json_enum_value(&techbridge__ipr__descriptor, NULL, &v), -1);
}
