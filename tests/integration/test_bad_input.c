#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
/*  The bad input table (docs/bad-input.md): one Test per row, named after the
    row. Real tb-intake (and tb-matching / tb-notification where the row is
    about them) on a fresh database of TB_TEST_PG, over real ZeroMQ. After every
    row the service must still answer a Health call. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "intake_fixture.h"
#include "tb_log.h"
#include "tb_valid.h"

#define BI_DENY_MS 1500 /* how long a refused client waits for nothing */
#define KIB        1024

static tb_test_proc_t *g_matching, *g_notif;
static char g_mapi[64], g_mfeed[64], g_napi[64], g_npub[64];

/* CURVE rows: a service key pair, an operator's key, a stranger's key. */
typedef struct {
    char path[512];
    char pub[41];
} bi_key_t;
static char g_keydir[64];
static bi_key_t g_svc, g_op, g_stranger;

static void bi_setup(void)
{
    fx_setup();
}

static void bi_teardown(void)
{
    if (g_notif)
        cr_expect_eq(tb_test_proc_stop(&g_notif, 5000), 0);
    if (g_matching)
        cr_expect_eq(tb_test_proc_stop(&g_matching, 5000), 0);
    fx_teardown();
    if (g_keydir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_keydir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", g_keydir);
    }
}

TestSuite(bad_input, .init = bi_setup, .fini = bi_teardown, .timeout = 180);

/* ---- services ---- */

/*  tb-intake, then tb-matching and tb-notification on its feeds. */
static void bi_start_all(void)
{
#if !defined(TB_MATCHING_BIN) || !defined(TB_NOTIFICATION_BIN)
    cr_skip_test("tb-matching or tb-notification was not built");
#else
    fx_start_intake(NULL);
    cr_assert(tb_test_endpoint(g_mapi) == 0 && tb_test_endpoint(g_mfeed) == 0 &&
              tb_test_endpoint(g_napi) == 0 && tb_test_endpoint(g_npub) == 0);
    const char *margs[] = {
        "--database-url", g_db,   "--api",       g_mapi,  "--feed", g_mfeed,
        "--intake-feed",  g_feed, "--log-level", "debug", NULL};
    g_matching = tb_test_service_start(TB_MATCHING_BIN, "matching", g_mapi, margs, NULL,
                                       START_DEADLINE_MS);
    cr_assert_not_null(g_matching, "tb-matching did not start");
    const char *nargs[] = {"--database-url",
                           g_db,
                           "--api",
                           g_napi,
                           "--pub",
                           g_npub,
                           "--intake-feed",
                           g_feed,
                           "--matching-feed",
                           g_mfeed,
                           "--log-level",
                           "debug",
                           NULL};
    g_notif = tb_test_service_start(TB_NOTIFICATION_BIN, "notification", g_napi, nargs,
                                    NULL, START_DEADLINE_MS);
    cr_assert_not_null(g_notif, "tb-notification did not start");
#endif
}

/*  tb-intake with CURVE keys: the service key pair, the operator's key listed,
    the stranger's not. The harness's own calls go with the operator's key. */
static void bi_start_intake_keyed(void)
{
#ifndef TB_INTAKE_BIN
    cr_skip_test("tb-intake was not built");
#else
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set (run scripts/test)");
    tb_log_setup("it_bad_input", "warn", "json"); /* keygen's info lines */
    snprintf(g_keydir, sizeof g_keydir, "/tmp/tb-bad-XXXXXX");
    cr_assert_not_null(mkdtemp(g_keydir));
    cr_assert_eq(tb_test_keypair(g_keydir, "service", g_svc.path, g_svc.pub), 0);
    cr_assert_eq(tb_test_keypair(g_keydir, "operator", g_op.path, g_op.pub), 0);
    cr_assert_eq(tb_test_keypair(g_keydir, "stranger", g_stranger.path, g_stranger.pub),
                 0);
    char keys_file[600], keys[512];
    snprintf(keys_file, sizeof keys_file, "%s/keys", g_keydir);
    snprintf(keys, sizeof keys, "%s operator\n%s operator\n", g_svc.pub, g_op.pub);
    FILE *f = fopen(keys_file, "w");
    cr_assert_not_null(f);
    fputs(keys, f);
    fclose(f);
    static char env_keys[700], env_secret[700];
    snprintf(env_keys, sizeof env_keys, "TB_KEYS_FILE=%s", keys_file);
    snprintf(env_secret, sizeof env_secret, "TB_SECRET_KEY_FILE=%s", g_svc.path);
    const char *env[] = {env_keys, env_secret, NULL};
    cr_assert_eq(tb_test_set_client_keys(g_op.path, g_svc.pub), 0);

    g_db = tb_test_db_new();
    cr_assert_not_null(g_db, "cannot create a test database");
    cr_assert_eq(tb_test_endpoint(g_api), 0);
    cr_assert_eq(tb_test_endpoint(g_feed), 0);
    const char *args[] = {"--api",
                          g_api,
                          "--feed",
                          g_feed,
                          "--database-url",
                          g_db,
                          "--log-level",
                          "debug",
                          "--stats-interval",
                          "0",
                          NULL};
    g_intake = tb_test_service_start(TB_INTAKE_BIN, "intake", g_api, args, env,
                                     START_DEADLINE_MS);
    cr_assert_not_null(g_intake, "tb-intake did not start with keys");
#endif
}

/* ---- checks ---- */

/*  The service at `api` still answers Health with its result (and the process
    runs). */
static void bi_alive(const char *api, tb_test_proc_t *proc, const char *what)
{
    Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req.health = &h;
    Techbridge__ApiReply *reply = tb_test_call(g_arena, api, &req, CALL_TIMEOUT_MS);
    if (!reply)
        tb_test_proc_dump_log(proc, 3000);
    cr_assert_not_null(reply, "%s: no Health answer afterwards", what);
    cr_assert_null(reply->error, "%s: Health failed: %s", what, reply->error->message);
    cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_HEALTH);
    cr_assert(reply->health->database_ok, "%s: database_ok false", what);
    cr_assert(tb_test_proc_alive(proc), "%s: the process exited", what);
}

static void bi_intake_alive(const char *what)
{
    bi_alive(g_api, g_intake, what);
}

static void bi_all_alive(const char *what)
{
    bi_alive(g_api, g_intake, what);
    bi_alive(g_mapi, g_matching, what);
    bi_alive(g_napi, g_notif, what);
}

static const Techbridge__Violation *bi_violation(const Techbridge__ApiReply *r,
                                                 const char *field)
{
    for (size_t i = 0; r->error && i < r->error->n_violations; i++)
        if (strcmp(r->error->violations[i]->field, field) == 0)
            return r->error->violations[i];
    return NULL;
}

/*  The reply is `code` and its message holds `part`. */
#define bi_expect(reply, CODE, part)                                                     \
    do {                                                                                 \
        const Techbridge__ApiReply *r_ = (reply);                                        \
        cr_assert_not_null(r_, "no reply");                                              \
        fx_expect_code(r_, CODE);                                                        \
        cr_assert(strstr(r_->error->message, (part)), "message \"%s\" lacks \"%s\"",     \
                  r_->error->message, (part));                                           \
    } while (0)

/*  INVALID_ARGUMENT with a violation at `field` whose reason holds `part`. */
static void bi_expect_violation(const Techbridge__ApiReply *r, const char *field,
                                const char *part)
{
    cr_assert_not_null(r, "no reply");
    fx_expect_code(r, INVALID_ARGUMENT);
    const Techbridge__Violation *v = bi_violation(r, field);
    if (!v)
        for (size_t i = 0; i < r->error->n_violations; i++)
            fprintf(stderr, "  violation %s: %s\n", r->error->violations[i]->field,
                    r->error->violations[i]->reason);
    cr_assert_not_null(v, "no violation for %s (message: %s)", field, r->error->message);
    cr_assert(strstr(v->reason, part), "%s: reason \"%s\" lacks \"%s\"", field, v->reason,
              part);
}

/*  The reply's correlation id is one the service made (a UUID), not ours. */
static void bi_expect_fresh_cid(const Techbridge__ApiReply *r)
{
    cr_assert_not_null(r->correlation_id);
    cr_assert(tb_valid_uuid(r->correlation_id), "correlation id \"%.80s\" is not a UUID",
              r->correlation_id);
}

static int64_t bi_rows(void)
{
    return fx_count("SELECT (SELECT count(*) FROM intake_requests) * 1000000 + "
                    "(SELECT count(*) FROM intake_history) * 1000 + "
                    "(SELECT count(*) FROM feed_events)");
}

/* ---- sending ---- */

static Techbridge__ApiReply *bi_raw(const void *data, size_t len, int timeout_ms)
{
    return tb_test_call_raw(g_arena, g_api, data, len, timeout_ms);
}

/*  A packed ApiRequest with a submit of `r`. */
static uint8_t *bi_pack_submit(Techbridge__Request *r, const char *cid, size_t *len)
{
    Techbridge__SubmitRequest *sub = TB_PB_NEW(g_arena, Techbridge__SubmitRequest,
                                               techbridge__submit_request__descriptor);
    sub->request = r;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.correlation_id = (char *)cid;
    req.actor = "operator";
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = sub;
    uint8_t *packed = tb_wire_pack(g_arena, &req.base, len);
    cr_assert_not_null(packed);
    return packed;
}

/*  A call of `req` to another service's API. */
static Techbridge__ApiReply *bi_call_at(const char *api, Techbridge__ApiRequest *req,
                                        const char *actor)
{
    req->actor = (char *)(actor ? actor : "operator");
    Techbridge__ApiReply *reply = tb_test_call(g_arena, api, req, CALL_TIMEOUT_MS);
    cr_assert_not_null(reply, "no reply from %s", api);
    return reply;
}

static Techbridge__ApiReply *bi_list(Techbridge__ListRequests *l, const char *actor)
{
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST;
    req.list = l;
    return fx_call(&req, actor);
}

static char *bi_repeat(char c, size_t n)
{
    char *s = tb_arena_alloc(g_arena, n + 1);
    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static char *bi_hex(const char *plain)
{
    size_t n = strlen(plain);
    char *out = tb_arena_alloc(g_arena, 2 * n + 1);
    cr_assert_not_null(out);
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", (unsigned char)plain[i]);
    return out;
}

#define UNKNOWN_UUID "7d0e6f7e-2f5b-4a55-9d8e-3f8f5a0c1b2d"

/* ====================================================== frames (tb_service) */

Test(bad_input, b01_garbage_frame)
{
    fx_start_intake(NULL);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x00, 0x99};
    Techbridge__ApiReply *r = bi_raw(garbage, sizeof garbage, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "not a valid ApiRequest");
    bi_expect_fresh_cid(r);
    /* text is not a protobuf either */
    static const char json[] = "{\"submit\": {\"request\": {}}}";
    bi_expect(bi_raw(json, sizeof json - 1, CALL_TIMEOUT_MS), INVALID_ARGUMENT,
              "not a valid ApiRequest");
    bi_intake_alive("garbage");
    cr_assert_eq(bi_rows(), 0);
}

Test(bad_input, b02_truncated_request)
{
    fx_start_intake(NULL);
    size_t len = 0;
    uint8_t *packed = bi_pack_submit(fx_load("offer_cn.json", NULL),
                                     "c0ffee00-0000-4000-8000-0000000000b2", &len);
    /* cut inside the submit body, and one byte short */
    Techbridge__ApiReply *r = bi_raw(packed, len / 2, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "not a valid ApiRequest");
    bi_expect(bi_raw(packed, len - 1, CALL_TIMEOUT_MS), INVALID_ARGUMENT,
              "not a valid ApiRequest");
    bi_intake_alive("truncated");
    cr_assert_eq(bi_rows(), 0, "a truncated submission stored something");
    /* the whole frame is accepted: the cut was what failed */
    Techbridge__ApiReply *ok = bi_raw(packed, len, CALL_TIMEOUT_MS);
    cr_assert_not_null(ok);
    fx_expect_ok(ok);
    cr_assert_str_eq(ok->correlation_id, "c0ffee00-0000-4000-8000-0000000000b2");
}

Test(bad_input, b03_oversized_frame)
{
    fx_start_intake(NULL);
    size_t big = 300 * KIB; /* over the 256 KiB limit, under the 1 MiB cut-off */
    uint8_t *huge = tb_arena_alloc(g_arena, big);
    cr_assert_not_null(huge);
    memset(huge, 'x', big);
    Techbridge__ApiReply *r = bi_raw(huge, big, CALL_TIMEOUT_MS);
    bi_expect(r, RESOURCE_EXHAUSTED, "exceeds the limit of 262144");
    cr_assert(strstr(r->error->message, "307200"), "%s", r->error->message);
    /* a well-formed ApiRequest that is too large: a 300 KiB summary */
    Techbridge__Request *req = fx_load("offer_cn.json", NULL);
    req->summary = bi_repeat('s', big);
    size_t len = 0;
    uint8_t *packed = bi_pack_submit(req, NULL, &len);
    bi_expect(bi_raw(packed, len, CALL_TIMEOUT_MS), RESOURCE_EXHAUSTED,
              "exceeds the limit");
    bi_intake_alive("oversized");
    cr_assert_eq(bi_rows(), 0);
}

/*  The documented boundary: a frame of exactly 4 x max-frame is answered
    RESOURCE_EXHAUSTED, one byte more cuts the connection. */
static void bi_expect_four_times_boundary(const char *what)
{
    size_t edge = 4 * 256 * KIB;
    uint8_t *huge = tb_arena_alloc(g_arena, edge + 1);
    cr_assert_not_null(huge);
    memset(huge, 'x', edge + 1);
    Techbridge__ApiReply *r = bi_raw(huge, edge, CALL_TIMEOUT_MS);
    cr_assert_not_null(r, "%s: a frame of exactly 4 x max-frame was dropped", what);
    bi_expect(r, RESOURCE_EXHAUSTED, "exceeds the limit of 262144");
    cr_assert_null(bi_raw(huge, edge + 1, BI_DENY_MS),
                   "%s: a frame of 4 x max-frame + 1 was answered", what);
}

Test(bad_input, b04_absurd_frame_cuts_the_connection)
{
    fx_start_intake(NULL);
    size_t big = 2 * KIB * KIB; /* over 4x the limit: ZMQ_MAXMSGSIZE */
    uint8_t *huge = tb_arena_alloc(g_arena, big);
    cr_assert_not_null(huge);
    memset(huge, 'x', big);
    cr_assert_null(bi_raw(huge, big, BI_DENY_MS),
                   "a 2 MiB frame was answered: the transport ceiling is gone");
    bi_expect_four_times_boundary("open");
    bi_intake_alive("absurd frame");
    cr_assert_eq(bi_rows(), 0);
}

Test(bad_input, b05_empty_frame)
{
    fx_start_intake(NULL);
    Techbridge__ApiReply *r = bi_raw("", 0, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "expected one non-empty ApiRequest frame, got 1");
    bi_expect_fresh_cid(r);
    bi_intake_alive("empty frame");
}

/*  Sends `n` frames after the delimiter on a DEALER; the decoded reply or NULL. */
static Techbridge__ApiReply *bi_frames(const char *api, const void *const *data,
                                       const size_t *len, int n, bool delimiter,
                                       int timeout_ms)
{
    void *sock = zmq_socket(tb_test_zmq_ctx(), ZMQ_DEALER);
    cr_assert_not_null(sock);
    cr_assert_eq(tb_wire_socket_setup(sock, 4 * KIB * KIB), 0);
    cr_assert_eq(zmq_connect(sock, api), 0);
    if (delimiter)
        cr_assert_eq(zmq_send(sock, "", 0, ZMQ_SNDMORE), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(zmq_send(sock, data[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0),
                     (int)len[i]);
    Techbridge__ApiReply *reply = NULL;
    if (delimiter)
        reply = (Techbridge__ApiReply *)tb_wire_recv(sock, g_arena,
                                                     &techbridge__api_reply__descriptor,
                                                     4 * KIB * KIB, true, timeout_ms);
    else {
        /* whatever comes back, as one frame or several */
        zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, timeout_ms) > 0)
            reply = (Techbridge__ApiReply *)tb_wire_recv(
                sock, g_arena, &techbridge__api_reply__descriptor, 4 * KIB * KIB, false,
                0);
        if (item.revents & ZMQ_POLLIN)
            cr_assert_not_null(reply, "an answer came back but did not decode");
    }
    zmq_close(sock);
    return reply;
}

Test(bad_input, b06_two_body_frames)
{
    fx_start_intake(NULL);
    size_t len = 0;
    uint8_t *packed = bi_pack_submit(fx_load("offer_cn.json", NULL), NULL, &len);
    const void *data[] = {packed, packed};
    size_t lens[] = {len, len};
    Techbridge__ApiReply *r = bi_frames(g_api, data, lens, 2, true, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "expected one non-empty ApiRequest frame, got 2");
    bi_intake_alive("two frames");
    cr_assert_eq(bi_rows(), 0, "a two-frame message was served");
}

Test(bad_input, b07_dealer_without_delimiter)
{
    fx_start_intake(NULL);
    Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req.health = &h;
    size_t len = 0;
    uint8_t *packed = tb_wire_pack(g_arena, &req.base, &len);
    const void *data[] = {packed};
    Techbridge__ApiReply *r = bi_frames(g_api, data, &len, 1, false, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "missing the empty delimiter frame");
    cr_assert_eq(r->result_case, TECHBRIDGE__API_REPLY__RESULT__NOT_SET,
                 "a request without the delimiter was served");
    bi_intake_alive("no delimiter");
}

Test(bad_input, b08_no_body_unknown_kind)
{
    fx_start_intake(NULL);
    Techbridge__ApiRequest empty = TECHBRIDGE__API_REQUEST__INIT;
    empty.correlation_id = "c0ffee00-0000-4000-8000-0000000000b8";
    size_t len = 0;
    uint8_t *packed = tb_wire_pack(g_arena, &empty.base, &len);
    Techbridge__ApiReply *r = bi_raw(packed, len, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "unknown or missing kind");
    cr_assert_str_eq(r->correlation_id, "c0ffee00-0000-4000-8000-0000000000b8");
    /* a kind from a newer client: field 99 (length-delimited, empty), then the
       correlation id; unknown to this service's ApiRequest */
    static const uint8_t newer[] = {0x9a, 0x06, 0x00, 0x0a, 0x03, 'b', '0', '8'};
    r = bi_raw(newer, sizeof newer, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "unknown or missing kind");
    cr_assert_str_eq(r->correlation_id, "b08");
    bi_intake_alive("no body");
}

Test(bad_input, b09_kind_sent_to_the_wrong_service)
{
    bi_start_all();
    Techbridge__ListMatches lm = TECHBRIDGE__LIST_MATCHES__INIT;
    lm.request_id = UNKNOWN_UUID;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES;
    req.list_matches = &lm;
    bi_expect(bi_call_at(g_api, &req, NULL), INVALID_ARGUMENT,
              "unknown kind list_matches for this service");
    bi_expect(bi_call_at(g_napi, &req, NULL), INVALID_ARGUMENT,
              "unknown kind list_matches for the notification service");

    Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    sub.request = fx_load("offer_cn.json", NULL);
    Techbridge__ApiRequest sreq = TECHBRIDGE__API_REQUEST__INIT;
    sreq.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    sreq.submit = &sub;
    bi_expect(bi_call_at(g_mapi, &sreq, NULL), INVALID_ARGUMENT,
              "unknown kind for tb-matching: submit");

    Techbridge__ListNotifications ln = TECHBRIDGE__LIST_NOTIFICATIONS__INIT;
    ln.recipient = "operators";
    Techbridge__ApiRequest nreq = TECHBRIDGE__API_REQUEST__INIT;
    nreq.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
    nreq.list_notifications = &ln;
    bi_expect(bi_call_at(g_api, &nreq, NULL), INVALID_ARGUMENT,
              "unknown kind list_notifications for this service");
    bi_all_alive("wrong service");
    cr_assert_eq(bi_rows(), 0, "a submit to tb-matching stored a request");
}

/* ============================================================ field values */

Test(bad_input, b10_many_invalid_fields_at_once)
{
    fx_start_intake(NULL);
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->kind = TECHBRIDGE__KIND__NEED; /* a need with ipr */
    r->external_ref = "";
    r->org->id = "Bad Org!";
    r->org->country = "XX";
    r->contact->email = "not-an-email";
    r->contact->phone = "call me maybe";
    r->title = "abc";
    r->summary = bi_repeat('s', 4001);
    r->sector = "alchemy";
    r->trl = 12;
    static Techbridge__Cooperation twice[] = {TECHBRIDGE__COOPERATION__LICENSE,
                                              TECHBRIDGE__COOPERATION__LICENSE};
    r->cooperation = twice;
    r->n_cooperation = 2;
    r->budget_usd->min->value = 900000; /* over max */
    static char *countries[] = {"BY", "ZZ"};
    r->target_countries = countries;
    r->n_target_countries = 2;
    static char *keywords[] = {"lumber drying", "x"};
    r->keywords = keywords;
    r->n_keywords = 2;
    r->expires_at = tb_now_ms() - 1000;
    Techbridge__ApiReply *reply = fx_submit(r, NULL);
    static const struct {
        const char *field, *reason;
    } want[] = {
        {"external_ref", "is required"},
        {"org.id", "[a-z0-9._-]"},
        {"org.country", "ISO 3166-1"},
        {"contact.email", "e-mail"},
        {"contact.phone", "digits"},
        {"title", "at least 5"},
        {"summary", "at most 4000"},
        {"sector", "known sector"},
        {"keywords[1]", "2..60"},
        {"trl", "1..9"},
        {"cooperation[1]", "duplicate"},
        {"ipr", "only offers"},
        {"budget_usd", "min must be <= max"},
        {"target_countries[1]", "ISO 3166-1"},
        {"expires_at", "future"},
    };
    size_t n = sizeof want / sizeof want[0];
    for (size_t i = 0; i < n; i++)
        bi_expect_violation(reply, want[i].field, want[i].reason);
    cr_assert_eq(reply->error->n_violations, n,
                 "expected exactly %zu violations, got %zu", n,
                 reply->error->n_violations);
    cr_assert_eq(bi_rows(), 0, "an invalid submission stored something");
    bi_intake_alive("many invalid fields");
}

Test(bad_input, b11_sql_metacharacters_stored_verbatim)
{
    fx_start_intake(NULL);
    static const char drop[] = "'; DROP TABLE intake_requests; --";
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->external_ref = (char *)drop;
    r->org->name = "%s%n%x%p";
    r->org->region = "$1";
    r->contact->name = "Robert'); DROP TABLE intake_history;--";
    r->title = (char *)drop;
    r->summary =
        "\\ back\\slash \\\\ and \\x00 and E'\\'' and $$ dollar $$ and \"quotes\"";
    static char *keywords[] = {"'; drop table intake_requests; --", "\\\\", "%s%n", "$1",
                               "' or '1'='1"};
    r->keywords = keywords;
    r->n_keywords = 5;
    Techbridge__Request *stored = fx_submit_ok(r);
    Techbridge__Request *got = fx_get_ok(stored->id);
    cr_assert_str_eq(got->external_ref, drop);
    cr_assert_str_eq(got->org->name, "%s%n%x%p");
    cr_assert_str_eq(got->org->region, "$1");
    cr_assert_str_eq(got->contact->name, "Robert'); DROP TABLE intake_history;--");
    cr_assert_str_eq(got->title, drop);
    cr_assert_str_eq(got->summary, r->summary);
    cr_assert_eq(got->n_keywords, 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(got->keywords[i], keywords[i], "keywords[%zu]", i);

    /* the same metacharacters as filters: no row matches, nothing breaks */
    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.org_id = "' or 1=1 --";
    Techbridge__ApiReply *lr = bi_list(&l, NULL);
    fx_expect_ok(lr);
    cr_assert_eq(lr->requests->n_requests, 0, "an org_id filter of SQL matched rows");
    l = (Techbridge__ListRequests)TECHBRIDGE__LIST_REQUESTS__INIT;
    l.sector = "woodworking' OR '1'='1";
    lr = bi_list(&l, NULL);
    fx_expect_ok(lr);
    cr_assert_eq(lr->requests->n_requests, 0, "a sector filter of SQL matched rows");
    l = (Techbridge__ListRequests)TECHBRIDGE__LIST_REQUESTS__INIT;
    l.text = "'; DROP TABLE intake_requests; -- !!( & | <-> \\";
    lr = bi_list(&l, NULL);
    fx_expect_ok(lr);
    cr_assert_leq(lr->requests->n_requests, 1);

    /* the tables are intact and hold exactly what was sent */
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 1);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_history"), 1);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests WHERE title = "
                          "'''; DROP TABLE intake_requests; --'"),
                 1);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests WHERE external_ref = "
                          "'''; DROP TABLE intake_requests; --'"),
                 1);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests WHERE "
                          "position('%s%n' in keywords) > 0 AND "
                          "position('$1' in keywords) > 0"),
                 1);
    cr_assert_eq(fx_count("SELECT count(*) FROM pg_tables WHERE tablename IN "
                          "('intake_requests', 'intake_history', 'feed_events')"),
                 3);
    bi_intake_alive("SQL metacharacters");
}

Test(bad_input, b12_invalid_utf8)
{
    fx_start_intake(NULL);
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->title = "Vacuum kiln \xff\xfe for lumber"; /* bytes never valid */
    r->org->name = "Jiangsu Heng\xc3";            /* a lead byte cut short */
    static char overlong[] = {'a', 'b', '\xc0', '\xaf',
                              'c', 'd', '\0'}; /* overlong '/' */
    static char *keywords[] = {overlong, "heat pump",
                               "x\xed\xa0\x80y"}; /* a UTF-16 surrogate */
    r->keywords = keywords;
    r->n_keywords = 3;
    r->summary = "A summary \xf4\x90\x80\x80 past U+10FFFF";
    Techbridge__ApiReply *reply = fx_submit(r, NULL);
    bi_expect_violation(reply, "title", "valid UTF-8");
    bi_expect_violation(reply, "org.name", "valid UTF-8");
    bi_expect_violation(reply, "keywords[0]", "valid UTF-8");
    bi_expect_violation(reply, "keywords[2]", "valid UTF-8");
    bi_expect_violation(reply, "summary", "valid UTF-8");
    cr_assert_eq(reply->error->n_violations, 5);
    cr_assert_eq(bi_rows(), 0, "invalid UTF-8 was stored");
    /* valid multi-byte text is fine */
    r = fx_load("offer_cn.json", NULL);
    r->title = "Сушильная камера 真空干燥窑 for lumber";
    Techbridge__Request *ok = fx_submit_ok(r);
    cr_assert_str_eq(fx_get_ok(ok->id)->title, "Сушильная камера 真空干燥窑 for lumber");
    bi_intake_alive("invalid UTF-8");
}

Test(bad_input, b13_control_characters)
{
    fx_start_intake(NULL);
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->title = "Vacuum kiln\tfor lumber";       /* tab: single-line field */
    r->org->region = "\x1b[31mJiangsu\x1b[0m";  /* terminal escape */
    r->contact->name = "Wang\x7fLei";           /* DEL */
    r->external_ref = "JS-\xc2\x85-017";        /* C1 NEL (U+0085) */
    r->summary = "Drying line\x07 with a bell"; /* BEL, even in multi-line text */
    static char *keywords[] = {"heat\npump"};
    r->keywords = keywords;
    r->n_keywords = 1;
    Techbridge__ApiReply *reply = fx_submit(r, NULL);
    bi_expect_violation(reply, "title", "control characters");
    bi_expect_violation(reply, "org.region", "control characters");
    bi_expect_violation(reply, "contact.name", "control characters");
    bi_expect_violation(reply, "external_ref", "control characters");
    bi_expect_violation(reply, "summary", "tab and newline allowed");
    cr_assert_eq(reply->error->n_violations, 5,
                 "a newline in a keyword is white space, not a violation");
    cr_assert_eq(bi_rows(), 0);
    /* the summary may hold newlines and tabs, kept as sent */
    r = fx_load("offer_cn.json", NULL);
    r->summary = "Line one\n\tLine two\r\nLine three";
    Techbridge__Request *ok = fx_submit_ok(r);
    cr_assert_str_eq(fx_get_ok(ok->id)->summary, "Line one\n\tLine two\r\nLine three");
    bi_intake_alive("control characters");
}

Test(bad_input, b14_embedded_nul_byte)
{
    fx_start_intake(NULL);
    /* protobuf strings may carry U+0000; C strings end there. The request is
       packed with a title of "Harmless title" and patched to "Harmless\0title". */
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->title = "Harmless+title, then a hidden tail";
    size_t len = 0;
    uint8_t *packed = bi_pack_submit(r, NULL, &len);
    uint8_t *hit = memmem(packed, len, "Harmless+title", 14);
    cr_assert_not_null(hit);
    hit[8] = '\0';
    Techbridge__ApiReply *reply = bi_raw(packed, len, CALL_TIMEOUT_MS);
    cr_assert_not_null(reply);
    if (!reply->error) {
        Techbridge__Request *got = fx_get_ok(reply->request->request->id);
        cr_assert_fail("a title with a NUL byte was accepted and stored as \"%s\" "
                       "(the rest of the string was dropped)",
                       got->title);
    }
    fx_expect_code(reply, INVALID_ARGUMENT);
    /* either a violation at the field, or the frame refused as a whole */
    if (reply->error->n_violations > 0)
        bi_expect_violation(reply, "title", "control characters");
    cr_assert_eq(bi_rows(), 0, "a title with a NUL byte was stored");
    bi_intake_alive("NUL byte");
}

/*  A request with kind = 99, cooperation = [42], ipr = 77 as protobuf varints
    (protobuf-c keeps unknown enum numbers as they are). */
Test(bad_input, b15_unknown_enum_numbers)
{
    bi_start_all();
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->kind = (Techbridge__Kind)99;
    static Techbridge__Cooperation coop[] = {(Techbridge__Cooperation)42};
    r->cooperation = coop;
    r->n_cooperation = 1;
    r->ipr = (Techbridge__Ipr)77;
    size_t len = 0;
    uint8_t *packed = bi_pack_submit(r, NULL, &len);
    /* the wire holds the numbers themselves: field 2 (kind) = 99 */
    static const uint8_t kind99[] = {0x10, 0x63};
    cr_assert_not_null(memmem(packed, len, kind99, sizeof kind99));
    Techbridge__ApiReply *reply = bi_raw(packed, len, CALL_TIMEOUT_MS);
    bi_expect_violation(reply, "kind", "must be OFFER or NEED");
    bi_expect_violation(reply, "cooperation[0]", "unknown form of cooperation");
    bi_expect_violation(reply, "ipr", "unknown ipr value");
    cr_assert_eq(reply->error->n_violations, 3);
    cr_assert_eq(bi_rows(), 0);

    /* filters and actions */
    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.kind = (Techbridge__Kind)99;
    l.status = (Techbridge__Status)1234;
    reply = bi_list(&l, NULL);
    bi_expect_violation(reply, "kind", "unknown kind");
    bi_expect_violation(reply, "status", "unknown status");
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    bi_expect(
        fx_transition(offer->id, (Techbridge__Action)99, offer->version, NULL, NULL),
        INVALID_ARGUMENT, "unknown action 99");
    cr_assert_eq(fx_get_ok(offer->id)->status, TECHBRIDGE__STATUS__SUBMITTED);

    Techbridge__DecideMatch dm = TECHBRIDGE__DECIDE_MATCH__INIT;
    dm.id = UNKNOWN_UUID;
    dm.action = (Techbridge__MatchAction)99;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH;
    req.decide_match = &dm;
    bi_expect_violation(bi_call_at(g_mapi, &req, NULL), "action",
                        "must be ACCEPT, DECLINE or CLOSE");
    bi_all_alive("unknown enum numbers");
}

Test(bad_input, b16_out_of_range_numbers)
{
    fx_start_intake(NULL);
    static const int trls[] = {0, 10, -1, 2147483647};
    for (size_t i = 0; i < sizeof trls / sizeof trls[0]; i++) {
        Techbridge__Request *r = fx_load("offer_cn.json", NULL);
        r->trl = trls[i];
        Techbridge__ApiReply *reply = fx_submit(r, NULL);
        bi_expect_violation(reply, "trl", "1..9");
        cr_assert_eq(reply->error->n_violations, 1, "trl %d", trls[i]);
    }
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    r->budget_usd->min->value = -1;
    r->budget_usd->max->value = INT64_MIN;
    Techbridge__ApiReply *reply = fx_submit(r, NULL);
    bi_expect_violation(reply, "budget_usd.min", ">= 0");
    bi_expect_violation(reply, "budget_usd.max", ">= 0");
    r = fx_load("offer_cn.json", NULL);
    r->budget_usd->min->value = 600001; /* max is 600000 */
    reply = fx_submit(r, NULL);
    bi_expect_violation(reply, "budget_usd", "min must be <= max");
    cr_assert_eq(reply->error->n_violations, 1);
    r = fx_load("offer_cn.json", NULL);
    r->expires_at = INT64_MAX;
    bi_expect_violation(fx_submit(r, NULL), "expires_at", "at most 24 months");
    r = fx_load("offer_cn.json", NULL);
    r->expires_at = INT64_MIN;
    bi_expect_violation(fx_submit(r, NULL), "expires_at", "in the future");

    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.limit = -5;
    bi_expect_violation(bi_list(&l, NULL), "limit", "must not be negative");
    cr_assert_eq(bi_rows(), 0);
    /* the edges themselves are accepted */
    r = fx_load("offer_cn.json", NULL);
    r->trl = 9;
    r->budget_usd->min->value = 600000;
    fx_submit_ok(r);
    bi_intake_alive("out-of-range numbers");
}

Test(bad_input, b17_bad_and_unknown_uuid)
{
    bi_start_all();
    static const char *const bad[] = {"not-a-uuid", "",
                                      "7d0e6f7e-2f5b-4a55-9d8e-3f8f5a0c1b2",
                                      "7d0e6f7e-2f5b-4a55-9d8e-3f8f5a0c1b2d'--",
                                      "7d0e6f7e2f5b4a559d8e3f8f5a0c1b2d0000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bi_expect(fx_get(bad[i], NULL), INVALID_ARGUMENT, "id must be a UUID");
        bi_expect(fx_transition(bad[i], TECHBRIDGE__ACTION__PUBLISH, 1, NULL, NULL),
                  INVALID_ARGUMENT, "UUID");
    }
    bi_expect(fx_get(UNKNOWN_UUID, NULL), NOT_FOUND, UNKNOWN_UUID);
    bi_expect(fx_transition(UNKNOWN_UUID, TECHBRIDGE__ACTION__PUBLISH, 1, NULL, NULL),
              NOT_FOUND, "not found");
    Techbridge__HistoryRequest h = TECHBRIDGE__HISTORY_REQUEST__INIT;
    h.id = UNKNOWN_UUID;
    Techbridge__ApiRequest hreq = TECHBRIDGE__API_REQUEST__INIT;
    hreq.body_case = TECHBRIDGE__API_REQUEST__BODY_HISTORY;
    hreq.history = &h;
    bi_expect(fx_call(&hreq, NULL), NOT_FOUND, "not found");

    Techbridge__GetMatch gm = TECHBRIDGE__GET_MATCH__INIT;
    gm.id = "not-a-uuid";
    Techbridge__ApiRequest greq = TECHBRIDGE__API_REQUEST__INIT;
    greq.body_case = TECHBRIDGE__API_REQUEST__BODY_GET_MATCH;
    greq.get_match = &gm;
    bi_expect_violation(bi_call_at(g_mapi, &greq, NULL), "id", "UUID");
    gm.id = UNKNOWN_UUID;
    bi_expect(bi_call_at(g_mapi, &greq, NULL), NOT_FOUND, "no match");
    Techbridge__ListMatches lm = TECHBRIDGE__LIST_MATCHES__INIT;
    lm.request_id = "'; DROP TABLE matching_matches; --";
    Techbridge__ApiRequest lreq = TECHBRIDGE__API_REQUEST__INIT;
    lreq.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES;
    lreq.list_matches = &lm;
    bi_expect_violation(bi_call_at(g_mapi, &lreq, NULL), "request_id", "UUID");
    lm.request_id = UNKNOWN_UUID;
    bi_expect(bi_call_at(g_mapi, &lreq, NULL), NOT_FOUND, "no request");
    lm.limit = 101;
    bi_expect_violation(bi_call_at(g_mapi, &lreq, NULL), "limit", "between 0 and 100");
    cr_assert_eq(fx_count("SELECT count(*) FROM matching_matches"), 0);
    bi_all_alive("bad and unknown UUID");
}

Test(bad_input, b18_bad_correlation_id)
{
    fx_start_intake(NULL);
    Techbridge__Health hh = TECHBRIDGE__HEALTH__INIT;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req.health = &hh;
    req.correlation_id = bi_repeat('c', 10 * KIB);
    Techbridge__ApiReply *r = tb_test_call(g_arena, g_api, &req, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "correlation_id must be at most 64 printable ASCII");
    bi_expect_fresh_cid(r);
    static const char ctl[] = {'a', 'b', 'c', '\x01', 'd', 'e', 'f', '\0'};
    static const char *const bad[] = {ctl, "line\nbreak", "tab\there", "caf\xc3\xa9",
                                      "del\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req.correlation_id = (char *)bad[i];
        r = tb_test_call(g_arena, g_api, &req, CALL_TIMEOUT_MS);
        bi_expect(r, INVALID_ARGUMENT, "correlation_id");
        bi_expect_fresh_cid(r);
    }
    /* 64 printable characters are accepted and echoed */
    req.correlation_id = bi_repeat('k', 64);
    r = tb_test_call(g_arena, g_api, &req, CALL_TIMEOUT_MS);
    cr_assert_not_null(r);
    fx_expect_ok(r);
    cr_assert_str_eq(r->correlation_id, req.correlation_id);
    req.correlation_id = bi_repeat('k', 65);
    bi_expect(tb_test_call(g_arena, g_api, &req, CALL_TIMEOUT_MS), INVALID_ARGUMENT,
              "correlation_id");
    /* the log never carries the bad id */
    cr_assert(
        !tb_test_log_has(g_intake, "cccccccccccccccccccccccccccccccccccccccc", NULL),
        "the 10 KB correlation id reached the log");
    bi_intake_alive("bad correlation id");
}

Test(bad_input, b19_bad_page_token)
{
    fx_start_intake(NULL);
    fx_submit_ok(fx_load("offer_cn.json", NULL));
    char *tail = tb_arena_strdup(g_arena, "1700000000000:" UNKNOWN_UUID);
    const char *bad[] = {
        "zz",                                        /* not hex */
        "abc",                                       /* odd length */
        bi_hex("hello"),                             /* no colon */
        bi_hex("1700000000000:not-a-uuid"),          /* no UUID */
        bi_hex("-5:" UNKNOWN_UUID),                  /* sign */
        bi_hex("1234567890123456789:" UNKNOWN_UUID), /* 19 digits */
        bi_repeat('a', 4096),                        /* long */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
        l.page_token = (char *)bad[i];
        Techbridge__ApiReply *r = bi_list(&l, NULL);
        bi_expect_violation(r, "page_token", "malformed page token");
    }
    /* well formed but out of PostgreSQL's timestamp range: still the caller's fault */
    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.page_token = bi_hex("999999999999999999:" UNKNOWN_UUID);
    Techbridge__ApiReply *r = bi_list(&l, NULL);
    bi_expect_violation(r, "page_token", "malformed page token");
    /* a well-formed token of a row that does not exist is just a position */
    l.page_token = bi_hex(tail);
    r = bi_list(&l, NULL);
    fx_expect_ok(r);
    cr_assert_eq(r->requests->n_requests, 0, "the request is newer than the position");
    bi_intake_alive("bad page token");
}

Test(bad_input, b20_too_long_text_search)
{
    fx_start_intake(NULL);
    fx_submit_ok(fx_load("offer_cn.json", NULL));
    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.text = bi_repeat('a', 201);
    bi_expect_violation(bi_list(&l, NULL), "text", "at most 200 characters");
    l.text = bi_repeat('a', 100 * KIB);
    bi_expect_violation(bi_list(&l, NULL), "text", "at most 200 characters");
    l.text = "kiln \xff";
    bi_expect_violation(bi_list(&l, NULL), "text", "valid UTF-8");
    l.text = NULL;
    l.sector = bi_repeat('s', 65);
    l.org_id = bi_repeat('o', 65);
    Techbridge__ApiReply *r = bi_list(&l, NULL);
    bi_expect_violation(r, "sector", "at most 64");
    bi_expect_violation(r, "org_id", "at most 64");
    /* 200 characters are a search (here for nothing) */
    l = (Techbridge__ListRequests)TECHBRIDGE__LIST_REQUESTS__INIT;
    l.text = bi_repeat('a', 200);
    r = bi_list(&l, NULL);
    fx_expect_ok(r);
    cr_assert_eq(r->requests->n_requests, 0);
    l.text = "kiln";
    r = bi_list(&l, NULL);
    fx_expect_ok(r);
    cr_assert_eq(r->requests->n_requests, 1);
    bi_intake_alive("too-long text");
}

Test(bad_input, b21_claimed_actor_in_open_mode)
{
    fx_start_intake(NULL);
    Techbridge__Request *offer = fx_submit_ok(fx_load("offer_cn.json", NULL));
    /* by.gomeldrev claims to act: on cn.jiangsu-hengtai's request, no */
    bi_expect(fx_transition(offer->id, TECHBRIDGE__ACTION__WITHDRAW, offer->version,
                            "by.gomeldrev", "not mine"),
              PERMISSION_DENIED, "another organisation");
    bi_expect(fx_get(offer->id, "by.gomeldrev"), PERMISSION_DENIED,
              "another organisation");
    Techbridge__Request *need = fx_load("need_by.json", NULL);
    bi_expect(fx_submit(need, "cn.jiangsu-hengtai"), PERMISSION_DENIED,
              "only its own requests");
    /* an actor that is neither "operator" nor an organisation id */
    static const char *const actors[] = {"'; DROP TABLE intake_requests; --", "Operator",
                                         "root\n", "acme bel"};
    for (size_t i = 0; i < sizeof actors / sizeof actors[0]; i++)
        bi_expect(fx_get(offer->id, actors[i]), INVALID_ARGUMENT,
                  "actor must be \"operator\" or an organisation id");
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    Techbridge__GetRequest g = TECHBRIDGE__GET_REQUEST__INIT;
    g.id = offer->id;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
    req.get = &g;
    req.actor = bi_repeat('a', 65);
    Techbridge__ApiReply *r = tb_test_call(g_arena, g_api, &req, CALL_TIMEOUT_MS);
    bi_expect(r, INVALID_ARGUMENT, "actor must be");
    Techbridge__Request *now = fx_get_ok(offer->id);
    cr_assert_eq(now->status, TECHBRIDGE__STATUS__SUBMITTED);
    cr_assert_eq(now->version, offer->version);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 1);
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_history"), 1);
    bi_intake_alive("claimed actor");
}

Test(bad_input, b22_bad_notification_recipient)
{
    bi_start_all();
    static const char *const bad[] = {"ACME BEL", "", "operators/", "a/b",
                                      "acme-bel\x01"};
    Techbridge__ListNotifications ln = TECHBRIDGE__LIST_NOTIFICATIONS__INIT;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
    req.list_notifications = &ln;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ln.recipient = (char *)bad[i];
        bi_expect_violation(bi_call_at(g_napi, &req, NULL), "recipient",
                            "\"operators\" or an organisation id");
    }
    ln.recipient = bi_repeat('r', 10 * KIB);
    bi_expect_violation(bi_call_at(g_napi, &req, NULL), "recipient", "organisation id");
    ln.recipient = "acme-bel";
    ln.after = -1;
    ln.limit = -1;
    Techbridge__ApiReply *r = bi_call_at(g_napi, &req, NULL);
    bi_expect_violation(r, "after", "0 or more");
    bi_expect_violation(r, "limit", "0 (default) or more");
    /* another organisation's notifications, claimed in open mode */
    ln.after = 0;
    ln.limit = 0;
    bi_expect(bi_call_at(g_napi, &req, "other-cn"), PERMISSION_DENIED,
              "only its own notifications");
    Techbridge__AckNotifications ack = TECHBRIDGE__ACK_NOTIFICATIONS__INIT;
    ack.recipient = "acme-bel";
    ack.upto = -7;
    Techbridge__ApiRequest areq = TECHBRIDGE__API_REQUEST__INIT;
    areq.body_case = TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS;
    areq.ack_notifications = &ack;
    bi_expect_violation(bi_call_at(g_napi, &areq, NULL), "upto", "0 or more");
    /* acknowledging past the end is clamped, never ahead of last_seq */
    ack.upto = INT64_MAX;
    r = bi_call_at(g_napi, &areq, NULL);
    fx_expect_ok(r);
    cr_assert_leq(r->ack->acked, r->ack->last_seq);
    cr_assert_eq(r->ack->unacked, 0);
    bi_all_alive("bad recipient");
}

/* ==================================================================== keys */

static Techbridge__ApiReply *bi_health_keyed(const char *key_file, const char *server_key)
{
    Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req.health = &h;
    return tb_test_call_keyed(g_arena, g_api, &req, BI_DENY_MS, key_file, server_key);
}

Test(bad_input, b23_unlisted_key)
{
    bi_start_intake_keyed();
    cr_assert_null(bi_health_keyed(g_stranger.path, g_svc.pub),
                   "a key that is not in the keys file was answered");
    cr_assert(tb_test_log_wait(g_intake, "\"auth.denied\"", g_stranger.pub, 5000),
              "no auth.denied line naming the stranger's key");
    cr_assert(tb_test_log_has(g_intake, "\"auth.denied\"", "not in the keys file"));
    /* and a submit with it changes nothing */
    Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    sub.request = fx_load("offer_cn.json", NULL);
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    cr_assert_null(
        tb_test_call_keyed(g_arena, g_api, &req, BI_DENY_MS, g_stranger.path, g_svc.pub));
    cr_assert_eq(bi_rows(), 0);
    bi_intake_alive("unlisted key");
}

Test(bad_input, b24_no_key)
{
    bi_start_intake_keyed();
    cr_assert_null(bi_health_keyed(NULL, NULL), "a client without keys got an answer");
    /* raw garbage without keys gets no error reply either: nothing is read */
    void *sock = zmq_socket(tb_test_zmq_ctx(), ZMQ_DEALER);
    cr_assert_not_null(sock);
    cr_assert_eq(tb_wire_socket_setup(sock, KIB * KIB), 0);
    cr_assert_eq(zmq_connect(sock, g_api), 0);
    zmq_send(sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(sock, "\xff\xff", 2, ZMQ_DONTWAIT);
    zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
    cr_assert_eq(zmq_poll(&item, 1, BI_DENY_MS), 0, "a plain client got a frame back");
    zmq_close(sock);
    cr_assert(!tb_test_log_has(g_intake, "\"api.call\"", "\"kind\":\"invalid\""),
              "a plain client's frame reached the API");
    bi_intake_alive("no key");
}

Test(bad_input, b25_wrong_server_key)
{
    bi_start_intake_keyed();
    /* a listed key that trusts another server key (its own public key) */
    cr_assert_null(bi_health_keyed(g_op.path, g_op.pub),
                   "a client with the wrong server key got an answer");
    /* and a key pair file's public key used as the server's */
    cr_assert_null(bi_health_keyed(g_op.path, g_stranger.pub));
    /* the same client with the right server key is served */
    cr_assert_not_null(bi_health_keyed(g_op.path, g_svc.pub));
    bi_intake_alive("wrong server key");
}

/*  Issue 16, item 8: the api.call line of a frame that never decodes names
    the key's role (CURVE tells it before a byte is decoded). */
Test(bad_input, b29_keyed_undecodable_frame_names_the_role)
{
    bi_start_intake_keyed();
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x00, 0x99};
    bi_expect(bi_raw(garbage, sizeof garbage, CALL_TIMEOUT_MS), INVALID_ARGUMENT,
              "not a valid ApiRequest");
    cr_assert(tb_test_log_wait(g_intake, "\"kind\":\"invalid\"", "\"actor\":\"operator\"",
                               5000),
              "the api.call line of an undecodable frame does not name the key's role");
    bi_expect(bi_raw("", 0, CALL_TIMEOUT_MS), INVALID_ARGUMENT,
              "expected one non-empty ApiRequest frame");
    cr_assert_eq(tb_test_log_count(g_intake, "\"kind\":\"invalid\"", "\"actor\":\"\""), 0,
                 "an api.call line under CURVE with no actor");
    bi_intake_alive("keyed undecodable frame");
}

/*  Issue 16, item 8: under CURVE the frame boundary is where the docs say: CURVE
    adds 33 bytes to each frame on the wire, and libzmq's ceiling counts them. */
Test(bad_input, b30_keyed_frame_boundary_is_four_times_max_frame)
{
    bi_start_intake_keyed();
    bi_expect_four_times_boundary("CURVE");
    bi_intake_alive("keyed boundaries");
    cr_assert_eq(bi_rows(), 0);
}

/*  Issue 16, item 6: a frame under --max-frame whose decoding outgrows the
    per-call memory (many empty repeated items: 2 bytes each on the wire, far
    more decoded) is answered with the limit it hit, not as undecodable; a
    smaller one decodes and gets the field's violation. */
Test(bad_input, b31_many_small_repeated_items)
{
    fx_start_intake(NULL);
    static const size_t counts[] = {60000, 90000, 120000};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        Techbridge__Request *req = fx_load("offer_cn.json", NULL);
        req->n_keywords = counts[i];
        req->keywords = tb_arena_alloc(g_arena, counts[i] * sizeof *req->keywords);
        cr_assert_not_null(req->keywords);
        for (size_t k = 0; k < counts[i]; k++)
            req->keywords[k] = (char *)"";
        size_t len = 0;
        uint8_t *packed = bi_pack_submit(req, NULL, &len);
        cr_assert_lt(len, 256 * KIB, "the frame must be under the limit");
        Techbridge__ApiReply *r = bi_raw(packed, len, CALL_TIMEOUT_MS);
        cr_assert_not_null(r, "%zu keywords: no reply", counts[i]);
        cr_assert(!r->error || !strstr(r->error->message, "not a valid ApiRequest"),
                  "%zu empty keywords (%zu bytes) called undecodable", counts[i], len);
        if (r->error && r->error->code == TECHBRIDGE__CODE__RESOURCE_EXHAUSTED)
            bi_expect(r, RESOURCE_EXHAUSTED, "per-call memory limit of");
        else
            bi_expect_violation(r, "keywords", "keyword");
        fprintf(stderr, "b31: %zu empty keywords (%zu bytes): %s\n", counts[i], len,
                r->error->message);
    }
    bi_intake_alive("many small repeated items");
    cr_assert_eq(bi_rows(), 0);
}

static bool bi_cut_logged(void *proc)
{
    return tb_test_log_has(proc, "\"guard.peer_cut\"", NULL) ||
           tb_test_log_has(proc, "\"pub.subscriber_cut\"", NULL);
}

/*  Issue 16, item 3, open mode: without keys libzmq applies subscriptions
    itself but still hands each new topic to the service, which cuts a
    connection past 1,000 of them just the same (row B33). */
Test(bad_input, b33_open_mode_subscription_flood_is_cut_too)
{
    bi_start_all();
    void *x = zmq_socket(tb_test_zmq_ctx(), ZMQ_XSUB);
    cr_assert_not_null(x);
    int zero = 0;
    cr_assert_eq(zmq_setsockopt(x, ZMQ_LINGER, &zero, sizeof zero), 0);
    cr_assert_eq(zmq_setsockopt(x, ZMQ_SNDHWM, &zero, sizeof zero), 0);
    cr_assert_eq(zmq_connect(x, g_npub), 0);
    uint8_t frame[1 + 13 + 100];
    memset(frame, 'p', sizeof frame);
    frame[0] = 1;
    for (int i = 0; i < 3000; i++) {
        char head[16];
        snprintf(head, sizeof head, "orga/%08d", i);
        memcpy(frame + 1, head, 13);
        cr_assert_eq(zmq_send(x, frame, sizeof frame, 0), (int)sizeof frame);
    }
    bool cut = tb_test_wait_until(bi_cut_logged, g_notif, 30000);
    zmq_close(x);
    cr_assert(cut, "3,000 subscriptions on one connection were not cut");
    bi_all_alive("subscription flood");
}
