/*  tb-gateway against the real services: tb-intake, tb-matching and
    tb-notification on a fresh database, the gateway in front, and a plain HTTP
    client over a real socket (SPEC section 10). Every route, every error
    status the gateway maps, bad JSON, bodies over the limit, the event stream's
    catch-up after a disconnect, and text that looks like markup coming back as
    data. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "tb_util.h"

#define S_START_MS 20000

typedef struct {
    char *db;
    char intake_api[64], intake_feed[64];
    char matching_api[64], matching_feed[64];
    char notif_api[64], notif_pub[64];
    int http_port;
    tb_test_proc_t *intake, *matching, *notif, *gw;
    char auth[512]; /* extra request headers every call sends (a session) */
    /* with CURVE keys: the services' and the gateway's environment */
    const char *svc_env[3];
    const char *gw_env[3];
    char keydir[256];
} s_env_t;

static s_env_t E;

/* ---- a small HTTP/1.1 client: one request per connection ---- */

typedef struct {
    int status;
    char *head; /* status line and headers */
    char *body;
    size_t body_len;
    json_t *json; /* the body parsed, when it is JSON */
} s_resp_t;

static void s_resp_free(s_resp_t *r)
{
    free(r->head);
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static int s_connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000,
                         .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int s_send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/*  The value of header `name` in `head` (malloc'd) or NULL. */
static char *s_header(const char *head, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            const char *end = strstr(v, "\r\n");
            return strndup(v, end ? (size_t)(end - v) : strlen(v));
        }
    }
    return NULL;
}

/*  Sends one request (Connection: close) and reads the whole response. `body`
    may be NULL; `ctype` NULL means application/json; `extra` holds more header
    lines (each ending in \r\n) or NULL. Returns 0, or -1 (no response). */
static int s_http_raw(const char *method, const char *path, const char *ctype,
                      const char *body, size_t body_len, const char *extra, s_resp_t *out)
{
    memset(out, 0, sizeof out[0]);
    int fd = s_connect(E.http_port, 15000);
    if (fd < 0)
        return -1;
    char head[4096];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s",
                      method, path, E.auth, extra ? extra : "");
    if (body)
        hn += snprintf(head + hn, sizeof head - (size_t)hn,
                       "Content-Type: %s\r\nContent-Length: %zu\r\n",
                       ctype ? ctype : "application/json", body_len);
    hn += snprintf(head + hn, sizeof head - (size_t)hn, "\r\n");
    if (s_send_all(fd, head, (size_t)hn) != 0 ||
        (body && s_send_all(fd, body, body_len) != 0)) {
        /* A server may answer (413) and close before the body is all sent: read
           what it said anyway. */
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        free(buf);
        return -1;
    }
    out->head = strndup(buf, (size_t)(sep - buf) + 2);
    out->body_len = len - (size_t)(sep + 4 - buf);
    out->body = malloc(out->body_len + 1);
    memcpy(out->body, sep + 4, out->body_len + 1);
    free(buf);
    out->json = json_loadb(out->body, out->body_len, 0, NULL);
    return 0;
}

static s_resp_t s_http(const char *method, const char *path, const char *body)
{
    s_resp_t r;
    int rc = s_http_raw(method, path, NULL, body, body ? strlen(body) : 0, NULL, &r);
    cr_assert_eq(rc, 0, "no HTTP response to %s %s", method, path);
    return r;
}

static const char *s_str(const json_t *doc, const char *path)
{
    /* "a.b.c" into nested objects */
    char key[128];
    const json_t *cur = doc;
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        cur = json_object_get(cur, key);
        path += n + (dot ? 1 : 0);
    }
    return json_string_value(cur);
}

static json_int_t s_int(const json_t *doc, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *dot = strrchr(buf, '.');
    const json_t *obj = doc;
    if (dot) {
        *dot = '\0';
        obj = NULL;
        /* walk the prefix */
        const json_t *cur = doc;
        char *p = buf;
        while (cur && p) {
            char *d = strchr(p, '.');
            if (d)
                *d = '\0';
            cur = json_object_get(cur, p);
            p = d ? d + 1 : NULL;
        }
        obj = cur;
    }
    return json_integer_value(json_object_get(obj, dot ? dot + 1 : path));
}

/*  True when the error's violations name `field`. */
static bool s_has_violation(const json_t *doc, const char *field)
{
    const json_t *vs = json_object_get(json_object_get(doc, "error"), "violations");
    size_t i;
    const json_t *v;
    json_array_foreach(vs, i, v)
    {
        const char *f = json_string_value(json_object_get(v, "field"));
        if (f && strcmp(f, field) == 0)
            return true;
    }
    return false;
}

static void s_expect(const s_resp_t *r, int status, const char *code)
{
    if (r->status != status)
        fprintf(stderr, "unexpected response:\n%s\n%s\n", r->head, r->body);
    cr_assert_eq(r->status, status, "HTTP %d, expected %d", r->status, status);
    if (code)
        cr_assert_str_eq(s_str(r->json, "error.code") ? s_str(r->json, "error.code") : "",
                         code);
}

/*  A call whose answer is checked by its status and error code only. */
static void s_http_expect(const char *method, const char *path, const char *body,
                          int status, const char *code)
{
    s_resp_t r = s_http(method, path, body);
    s_expect(&r, status, code);
    s_resp_free(&r);
}

/* ---- the processes ---- */

static void s_teardown(void)
{
    tb_test_set_client_keys(NULL, NULL);
    if (E.gw) {
        int status = tb_test_proc_stop(&E.gw, 5000);
        if (status != 0)
            fprintf(stderr, "tb-gateway exited with %d on SIGTERM\n", status);
    }
    if (E.notif)
        tb_test_proc_stop(&E.notif, 5000);
    if (E.matching)
        tb_test_proc_stop(&E.matching, 5000);
    if (E.intake)
        tb_test_proc_stop(&E.intake, 5000);
    tb_test_db_drop(&E.db);
    if (E.keydir[0]) {
        const char *names[] = {"service.key", "tester.key", "gateway.key",
                               "clients.keys"};
        char path[400];
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", E.keydir, names[i]);
            unlink(path);
        }
        rmdir(E.keydir);
    }
}

static bool s_gateway_ready(void *arg)
{
    (void)arg;
    s_resp_t r;
    if (s_http_raw("GET", "/api/v1/health", NULL, NULL, 0, NULL, &r) != 0)
        return false;
    bool ok = r.status == 200;
    s_resp_free(&r);
    return ok;
}

static void s_start_gateway(void)
{
    char http[64], port[16];
    snprintf(http, sizeof http, "127.0.0.1:%d", E.http_port);
    (void)port;
    const char *args[] = {"--database-url",
                          E.db,
                          "--http",
                          http,
                          "--intake",
                          E.intake_api,
                          "--matching",
                          E.matching_api,
                          "--notification",
                          E.notif_api,
                          "--notification-pub",
                          E.notif_pub,
                          "--timeout",
                          "1500",
                          "--max-body",
                          "65536",
                          "--session-cache",
                          "0",
                          "--session-ttl",
                          "3600",
                          "--sse-keepalive",
                          "500",
                          "--log-level",
                          "debug",
                          NULL};
    E.gw = tb_test_proc_start(TB_GATEWAY_BIN, "gateway", args,
                              E.gw_env[0] ? E.gw_env : NULL);
    cr_assert_not_null(E.gw);
    if (!tb_test_wait_until(s_gateway_ready, NULL, S_START_MS)) {
        tb_test_proc_dump_log(E.gw, 4000);
        cr_assert_fail("tb-gateway did not answer its health route");
    }
}

/*  Runs a tb-gateway admin command with `input` on stdin; returns its status
    and stdout (malloc'd, in *out when not NULL). */
static int s_admin(const char *const *args, const char *input, char **out)
{
    const char *full[16] = {"--database-url", E.db, "--log-level", "warn"};
    int n = 4;
    for (int i = 0; args[i] && n < 15; i++)
        full[n++] = args[i];
    full[n] = NULL;
    tb_test_run_t run;
    cr_assert_eq(tb_test_run(&run, TB_GATEWAY_BIN, full, NULL, input, 60000), 0);
    if (run.status != 0)
        fprintf(stderr, "tb-gateway %s: %s\n", args[0], run.err);
    int status = run.status;
    if (out)
        *out = strdup(run.out);
    tb_test_run_free(&run);
    return status;
}

/*  A user and a bearer token for it; returns the token (malloc'd). */
static char *s_user_with_token(const char *name, const char *role)
{
    const char *add[] = {"--user-add", name, "--role", role, NULL};
    cr_assert_eq(s_admin(add, "correct horse battery\n", NULL), 0);
    const char *tok[] = {"--token-add", name, "--token-label", "tests", NULL};
    char *token = NULL;
    cr_assert_eq(s_admin(tok, NULL, &token), 0);
    token[strcspn(token, "\n")] = '\0';
    cr_assert_eq(strlen(token), 43, "token: %s", token);
    return token;
}

static void s_use_token(const char *token)
{
    snprintf(E.auth, sizeof E.auth, "Authorization: Bearer %s\r\n", token);
}

/*  Everything up on a fresh database. Intake's frames are limited to 4 KiB, so
    that a large (but valid-sized) body reaches it and is refused there:
    RESOURCE_EXHAUSTED, 429. */
static void s_start_all(void)
{
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set");
    E.db = tb_test_db_new();
    cr_assert_not_null(E.db);
    cr_assert(
        tb_test_endpoint(E.intake_api) == 0 && tb_test_endpoint(E.intake_feed) == 0 &&
        tb_test_endpoint(E.matching_api) == 0 && tb_test_endpoint(E.matching_feed) == 0 &&
        tb_test_endpoint(E.notif_api) == 0 && tb_test_endpoint(E.notif_pub) == 0);
    E.http_port = tb_test_free_port();
    cr_assert(E.http_port > 0);
    const char *ia[] = {"--database-url",   E.db,          "--api",       E.intake_api,
                        "--feed",           E.intake_feed, "--max-frame", "4096",
                        "--stats-interval", "0",           NULL};
    const char *const *env = E.svc_env[0] ? E.svc_env : NULL;
    E.intake =
        tb_test_service_start(TB_INTAKE_BIN, "intake", E.intake_api, ia, env, S_START_MS);
    cr_assert_not_null(E.intake);
    const char *ma[] = {"--database-url",
                        E.db,
                        "--api",
                        E.matching_api,
                        "--feed",
                        E.matching_feed,
                        "--intake-feed",
                        E.intake_feed,
                        "--stats-interval",
                        "0",
                        NULL};
    E.matching = tb_test_service_start(TB_MATCHING_BIN, "matching", E.matching_api, ma,
                                       env, S_START_MS);
    cr_assert_not_null(E.matching);
    const char *na[] = {"--database-url",
                        E.db,
                        "--api",
                        E.notif_api,
                        "--pub",
                        E.notif_pub,
                        "--intake-feed",
                        E.intake_feed,
                        "--matching-feed",
                        E.matching_feed,
                        "--stats-interval",
                        "0",
                        NULL};
    E.notif = tb_test_service_start(TB_NOTIFICATION_BIN, "notification", E.notif_api, na,
                                    env, S_START_MS);
    cr_assert_not_null(E.notif);
    s_start_gateway();
    char *token = s_user_with_token("ivanova", "operator");
    s_use_token(token);
    free(token);
}

static void s_setup(void)
{
    memset(&E, 0, sizeof E);
    s_start_all();
}

/*  The services with CURVE keys: a service key (also an operator, for the
    feeds), the harness's own operator key (its health checks), and the
    gateway's key with role "gateway". */
static void s_setup_keyed(void)
{
    memset(&E, 0, sizeof E);
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set");
    snprintf(E.keydir, sizeof E.keydir, "/tmp/tb-gw-keys.XXXXXX");
    cr_assert_not_null(mkdtemp(E.keydir));
    static char svc_path[512], tester_path[512], gw_path[512];
    char svc_pub[41], tester_pub[41], gw_pub[41];
    cr_assert_eq(tb_test_keypair(E.keydir, "service", svc_path, svc_pub), 0);
    cr_assert_eq(tb_test_keypair(E.keydir, "tester", tester_path, tester_pub), 0);
    cr_assert_eq(tb_test_keypair(E.keydir, "gateway", gw_path, gw_pub), 0);
    static char keys_path[600], keys_env[640], secret_env[640], gw_key_env[640],
        server_env[128];
    snprintf(keys_path, sizeof keys_path, "%s/clients.keys", E.keydir);
    FILE *f = fopen(keys_path, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s operator\n%s operator\n%s gateway\n", svc_pub, tester_pub, gw_pub);
    fclose(f);
    snprintf(keys_env, sizeof keys_env, "TB_KEYS_FILE=%s", keys_path);
    snprintf(secret_env, sizeof secret_env, "TB_SECRET_KEY_FILE=%s", svc_path);
    snprintf(gw_key_env, sizeof gw_key_env, "TB_GATEWAY_KEY_FILE=%s", gw_path);
    snprintf(server_env, sizeof server_env, "TB_SERVER_KEY=%s", svc_pub);
    E.svc_env[0] = keys_env;
    E.svc_env[1] = secret_env;
    E.gw_env[0] = gw_key_env;
    E.gw_env[1] = server_env;
    cr_assert_eq(tb_test_set_client_keys(tester_path, svc_pub), 0);
    s_start_all();
}

/*  tests/data/<name> as text, with "external_ref" replaced when `ref` is set. */
static char *s_data(const char *name, const char *ref)
{
    char path[512];
    json_t *doc = json_load_file(tb_test_data_path(name, path), 0, NULL);
    cr_assert_not_null(doc, "%s", path);
    if (ref)
        json_object_set_new(doc, "external_ref", json_string(ref));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/*  Submits and publishes tests/data/<name>; returns its id (malloc'd). */
static char *s_submit_published(const char *name, const char *ref)
{
    char *body = s_data(name, ref);
    s_resp_t r = s_http("POST", "/api/v1/requests", body);
    free(body);
    s_expect(&r, 201, NULL);
    char *id = strdup(s_str(r.json, "request.id"));
    s_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/requests/%s/publish", id);
    r = s_http("POST", path, "{\"version\": 1, \"reason\": \"reviewed\"}");
    s_expect(&r, 200, NULL);
    cr_assert_str_eq(s_str(r.json, "request.status"), "PUBLISHED");
    s_resp_free(&r);
    return id;
}

/*  Waits until the request has at least one match; returns the first's id. */
static char *s_wait_match(const char *request_id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/requests/%s/matches?lang=ru", request_id);
    int64_t deadline = tb_test_now_ms() + 15000;
    while (tb_test_now_ms() < deadline) {
        s_resp_t r = s_http("GET", path, NULL);
        /* 404 until matching has taken the request from intake's feed */
        if (r.status != 404)
            s_expect(&r, 200, NULL);
        json_t *ms = json_object_get(r.json, "matches");
        if (json_array_size(ms) > 0) {
            char *id =
                strdup(json_string_value(json_object_get(json_array_get(ms, 0), "id")));
            s_resp_free(&r);
            return id;
        }
        s_resp_free(&r);
        usleep(50 * 1000);
    }
    cr_assert_fail("no match for %s", request_id);
    return NULL;
}

/* ---- the tests ---- */

Test(gateway, requests_routes_and_statuses, .init = s_setup, .fini = s_teardown,
     .timeout = 120)
{
    /* submit: 201, an idempotent repeat 200, other content under the same
       external_ref 409 */
    char *offer = s_data("offer_cn.json", NULL);
    s_resp_t r = s_http("POST", "/api/v1/requests", offer);
    s_expect(&r, 201, NULL);
    cr_assert(json_is_true(json_object_get(r.json, "created")));
    char *id = strdup(s_str(r.json, "request.id"));
    cr_assert_str_eq(s_str(r.json, "request.status"), "SUBMITTED");
    s_resp_free(&r);
    r = s_http("POST", "/api/v1/requests", offer);
    s_expect(&r, 200, NULL);
    cr_assert(json_is_false(json_object_get(r.json, "created")));
    cr_assert_str_eq(s_str(r.json, "request.id"), id);
    s_resp_free(&r);
    json_t *changed = json_loads(offer, 0, NULL);
    json_object_set_new(changed, "title", json_string("Another kiln with another title"));
    char *changed_text = json_dumps(changed, JSON_COMPACT);
    s_http_expect("POST", "/api/v1/requests", changed_text, 409, "ALREADY_EXISTS");
    free(changed_text);
    json_decref(changed);

    /* every invalid field at once, with its path: 400 */
    r = s_http("POST", "/api/v1/requests",
               "{\"kind\": \"OFFER\", \"title\": \"x\", \"trl\": 12}");
    s_expect(&r, 400, "INVALID_ARGUMENT");
    cr_assert(s_has_violation(r.json, "title"));
    cr_assert(s_has_violation(r.json, "trl"));
    cr_assert(s_has_violation(r.json, "org"));
    s_resp_free(&r);
    /* wrong JSON types are violations too (tb_json's checks) */
    r = s_http("POST", "/api/v1/requests",
               "{\"kind\": \"NOT_A_KIND\", \"trl\": \"nine\"}");
    s_expect(&r, 400, "INVALID_ARGUMENT");
    cr_assert(s_has_violation(r.json, "kind"));
    cr_assert(s_has_violation(r.json, "trl"));
    s_resp_free(&r);

    /* get, list with filters, history */
    char path[512];
    snprintf(path, sizeof path, "/api/v1/requests/%s", id);
    r = s_http("GET", path, NULL);
    s_expect(&r, 200, NULL);
    cr_assert_str_eq(s_str(r.json, "request.title"),
                     "Heat-pump vacuum kiln for drying hardwood lumber");
    s_resp_free(&r);
    s_http_expect("GET", "/api/v1/requests/00000000-0000-4000-8000-000000000000", NULL,
                  404, "NOT_FOUND");
    r = s_http("GET", "/api/v1/requests?kind=offer&status=SUBMITTED&limit=5", NULL);
    s_expect(&r, 200, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "requests")), 1);
    s_resp_free(&r);
    r = s_http("GET", "/api/v1/requests?kind=NEED", NULL);
    s_expect(&r, 200, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "requests")), 0);
    s_resp_free(&r);
    r = s_http("GET", "/api/v1/requests?kind=bogus&limit=1000", NULL);
    s_expect(&r, 400, "INVALID_ARGUMENT");
    cr_assert(s_has_violation(r.json, "kind"));
    cr_assert(s_has_violation(r.json, "limit"));
    s_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/requests/%s/history", id);
    r = s_http("GET", path, NULL);
    s_expect(&r, 200, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "entries")), 1);
    s_resp_free(&r);

    /* edit with the version seen: 200; again with that (now stale) version: 409 */
    snprintf(path, sizeof path, "/api/v1/requests/%s", id);
    const char *edit = "{\"version\": 1, \"changes\": {\"trl\": 8}}";
    r = s_http("PATCH", path, edit);
    s_expect(&r, 200, NULL);
    cr_assert_eq(s_int(r.json, "request.version"), 2);
    cr_assert_eq(s_int(r.json, "request.trl"), 8);
    s_resp_free(&r);
    s_http_expect("PATCH", path, edit, 409, "ABORTED");
    r = s_http("PATCH", path, "{\"version\": 2, \"changes\": {\"trl\": 10}}");
    s_expect(&r, 400, "INVALID_ARGUMENT");
    cr_assert(s_has_violation(r.json, "trl"));
    s_resp_free(&r);
    r = s_http("PATCH", path, "{\"version\": 2, \"changes\": {}, \"colour\": 1}");
    s_expect(&r, 400, "INVALID_ARGUMENT");
    cr_assert(s_has_violation(r.json, "changes"));
    cr_assert(s_has_violation(r.json, "colour"));
    s_resp_free(&r);

    /* transitions: publish 200; reject a published request 422 */
    snprintf(path, sizeof path, "/api/v1/requests/%s/publish", id);
    s_http_expect("POST", path, "{\"version\": 2, \"reason\": \"reviewed\"}", 200, NULL);
    snprintf(path, sizeof path, "/api/v1/requests/%s/reject", id);
    s_http_expect("POST", path, "{\"version\": 3, \"reason\": \"too late\"}", 422,
                  "FAILED_PRECONDITION");
    snprintf(path, sizeof path, "/api/v1/requests/%s/fly", id);
    s_http_expect("POST", path, "{}", 404, "NOT_FOUND");

    /* a frame over intake's --max-frame: RESOURCE_EXHAUSTED, 429 */
    json_t *big = json_loads(offer, 0, NULL);
    char summary[4001];
    memset(summary, 's', 4000);
    summary[4000] = '\0';
    json_object_set_new(big, "summary", json_string(summary));
    json_object_set_new(big, "external_ref", json_string("BIG-1"));
    char *big_text = json_dumps(big, JSON_COMPACT);
    s_http_expect("POST", "/api/v1/requests", big_text, 429, "RESOURCE_EXHAUSTED");
    free(big_text);
    json_decref(big);
    free(offer);
    free(id);
}

Test(gateway, matches_notifications_and_the_rest, .init = s_setup, .fini = s_teardown,
     .timeout = 120)
{
    char *offer = s_submit_published("offer_cn.json", NULL);
    char *need = s_submit_published("need_by.json", NULL);
    char *match = s_wait_match(need);
    char path[512];

    /* list_matches with lang, get_match, decisions with versions */
    snprintf(path, sizeof path, "/api/v1/matches/%s?lang=zh", match);
    s_resp_t r = s_http("GET", path, NULL);
    s_expect(&r, 200, NULL);
    cr_assert_str_eq(s_str(r.json, "status"), "PROPOSED");
    cr_assert_eq(s_int(r.json, "version"), 1);
    cr_assert_str_eq(s_str(r.json, "offer_id"), offer);
    s_resp_free(&r);
    s_http_expect("GET", "/api/v1/matches/00000000-0000-4000-8000-000000000000", NULL,
                  404, "NOT_FOUND");
    snprintf(path, sizeof path, "/api/v1/matches/%s/accept", match);
    r = s_http("POST", path, "{\"version\": 1, \"reason\": \"both interested\"}");
    s_expect(&r, 200, NULL);
    cr_assert_str_eq(s_str(r.json, "status"), "ACCEPTED");
    s_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/matches/%s/decline", match);
    r = s_http("POST", path, "{\"version\": 1, \"reason\": \"stale page\"}");
    cr_assert(r.status == 409 || r.status == 422, "a stale decision: %d", r.status);
    s_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/matches/%s/decline", match);
    s_http_expect("POST", path, "{\"version\": 2, \"reason\": \"changed my mind\"}", 422,
                  "FAILED_PRECONDITION");

    /* notifications: the operators' MATCH_PROPOSED, ack, stats */
    int64_t deadline = tb_test_now_ms() + 10000;
    json_int_t last = 0;
    while (tb_test_now_ms() < deadline && last < 1) {
        r = s_http("GET", "/api/v1/notifications/operators?after=0&limit=10", NULL);
        s_expect(&r, 200, NULL);
        last = s_int(r.json, "last_seq");
        s_resp_free(&r);
        usleep(50 * 1000);
    }
    cr_assert_geq(last, 1);
    s_http_expect("GET", "/api/v1/notifications/operators?after=x", NULL, 400,
                  "INVALID_ARGUMENT");
    r = s_http("POST", "/api/v1/notifications/operators/ack", "{\"upto\": 1}");
    s_expect(&r, 200, NULL);
    cr_assert_eq(s_int(r.json, "acked"), 1);
    s_resp_free(&r);
    r = s_http("POST", "/api/v1/notifications/operators/ack", "{}");
    s_expect(&r, 400, "INVALID_ARGUMENT");
    cr_assert(s_has_violation(r.json, "upto"));
    s_resp_free(&r);
    s_http_expect("GET", "/api/v1/notifications/operators/stats", NULL, 200, NULL);
    s_http_expect("GET", "/api/v1/notification-stats", NULL, 200, NULL);

    /* the thesaurus: a broken file is refused whole, each error a violation */
    s_http_expect("POST", "/api/v1/thesaurus",
                  "{\"file\": \"broken.tbt\", \"text\": \"this is not a thesaurus\\n\"}",
                  400, "INVALID_ARGUMENT");

    /* health of all three */
    r = s_http("GET", "/api/v1/health", NULL);
    s_expect(&r, 200, NULL);
    cr_assert_str_eq(s_str(r.json, "intake.service"), "intake");
    cr_assert_str_eq(s_str(r.json, "matching.service"), "matching");
    cr_assert_str_eq(s_str(r.json, "notification.service"), "notification");
    s_resp_free(&r);
    free(offer);
    free(need);
    free(match);
}

Test(gateway, bad_http_input, .init = s_setup, .fini = s_teardown, .timeout = 120)
{
    s_resp_t r = s_http("GET", "/api/v1/nothing-here", NULL);
    s_expect(&r, 404, "NOT_FOUND");
    s_resp_free(&r);
    s_http_expect("GET", "/elsewhere", NULL, 404, "NOT_FOUND");
    s_http_expect("GET", "/api/v1/requests/", NULL, 404, "NOT_FOUND");
    r = s_http("DELETE", "/api/v1/requests", NULL);
    s_expect(&r, 405, NULL);
    char *allow = s_header(r.head, "Allow");
    cr_assert_not_null(allow);
    cr_assert_str_eq(allow, "GET, POST");
    free(allow);
    s_resp_free(&r);

    /* bad JSON: 400 naming where */
    r = s_http("POST", "/api/v1/requests", "{\"kind\": ");
    s_expect(&r, 400, "INVALID_ARGUMENT");
    cr_assert(s_has_violation(r.json, "(body)"));
    s_resp_free(&r);
    s_http_expect("POST", "/api/v1/requests", "[1, 2]", 400, "INVALID_ARGUMENT");
    s_http_expect("POST", "/api/v1/requests", "{\"a\": 1, \"a\": 2}", 400,
                  "INVALID_ARGUMENT");

    /* not JSON at all: 415 */
    s_resp_t t;
    cr_assert_eq(
        s_http_raw("POST", "/api/v1/requests", "text/plain", "kind=OFFER", 10, NULL, &t),
        0);
    s_expect(&t, 415, "INVALID_ARGUMENT");
    s_resp_free(&t);

    /* over --max-body (64 KiB): 413, from the Content-Length at once */
    size_t n = 70000;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    cr_assert_eq(s_http_raw("POST", "/api/v1/requests", NULL, big, n, NULL, &t), 0);
    s_expect(&t, 413, "RESOURCE_EXHAUSTED");
    s_resp_free(&t);
    /* ...and while a chunked body streams in (no Content-Length) */
    int fd = s_connect(E.http_port, 15000);
    cr_assert(fd >= 0);
    const char *head =
        "POST /api/v1/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    s_send_all(fd, head, strlen(head));
    char chunk_head[32];
    for (int i = 0; i < 10; i++) {
        int hn = snprintf(chunk_head, sizeof chunk_head, "%x\r\n", 10000);
        if (s_send_all(fd, chunk_head, (size_t)hn) != 0 ||
            s_send_all(fd, big, 10000) != 0 || s_send_all(fd, "\r\n", 2) != 0)
            break;
    }
    s_send_all(fd, "0\r\n\r\n", 5);
    char reply[256] = {0};
    ssize_t got = recv(fd, reply, sizeof reply - 1, 0);
    close(fd);
    cr_assert_gt(got, 12);
    cr_assert(strncmp(reply, "HTTP/1.1 413", 12) == 0, "chunked: %s", reply);
    free(big);

    /* the correlation id: the client's is echoed and logged by the gateway and
       by the service it called; a malformed one is replaced */
    cr_assert_eq(s_http_raw("GET", "/api/v1/requests?limit=1", NULL, NULL, 0,
                            "X-Correlation-Id: it-gw-cid-0001\r\n", &t),
                 0);
    s_expect(&t, 200, NULL);
    char *cid = s_header(t.head, "X-Correlation-Id");
    cr_assert_str_eq(cid, "it-gw-cid-0001");
    free(cid);
    s_resp_free(&t);
    cr_assert(tb_test_log_wait(E.gw, "it-gw-cid-0001", "http.request", 3000));
    cr_assert(tb_test_log_wait(E.intake, "it-gw-cid-0001", "api.call", 3000));
    cr_assert_eq(s_http_raw("GET", "/api/v1/requests?limit=1", NULL, NULL, 0,
                            "X-Correlation-Id: <bad id>\r\n", &t),
                 0);
    cid = s_header(t.head, "X-Correlation-Id");
    cr_assert_eq(strlen(cid), 36, "a fresh uuid, got %s", cid);
    free(cid);
    s_resp_free(&t);
}

/*  Markup in a request comes back as JSON data: a JSON content type, nosniff,
    a CSP that runs nothing, and the text byte for byte (so is UTF-8). */
Test(gateway, markup_is_data_and_utf8_round_trips, .init = s_setup, .fini = s_teardown,
     .timeout = 120)
{
    char *text = s_data("offer_cn.json", "XSS-1");
    json_t *doc = json_loads(text, 0, NULL);
    const char *title = "<script>alert(\"x\")</script> heat-pump kiln";
    json_object_set_new(doc, "title", json_string(title));
    free(text);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    s_resp_t r = s_http("POST", "/api/v1/requests", text);
    s_expect(&r, 201, NULL);
    free(text);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/requests/%s", s_str(r.json, "request.id"));
    s_resp_free(&r);
    r = s_http("GET", path, NULL);
    s_expect(&r, 200, NULL);
    cr_assert_str_eq(s_str(r.json, "request.title"), title);
    char *ct = s_header(r.head, "Content-Type");
    cr_assert_str_eq(ct, "application/json; charset=utf-8");
    free(ct);
    char *nosniff = s_header(r.head, "X-Content-Type-Options");
    cr_assert_str_eq(nosniff, "nosniff");
    free(nosniff);
    char *csp = s_header(r.head, "Content-Security-Policy");
    cr_assert_not_null(strstr(csp, "default-src 'none'"));
    free(csp);
    s_resp_free(&r);

    /* Chinese and Russian requests round-trip */
    char *zh = s_data("lang/offer_zh.json", NULL);
    r = s_http("POST", "/api/v1/requests", zh);
    s_expect(&r, 201, NULL);
    cr_assert_str_eq(s_str(r.json, "request.title"), "硬木锯材连续真空干燥生产线");
    cr_assert_str_eq(s_str(r.json, "request.language"), "zh");
    s_resp_free(&r);
    free(zh);
    char *ru = s_data("lang/need_ru.json", NULL);
    r = s_http("POST", "/api/v1/requests", ru);
    s_expect(&r, 201, NULL);
    cr_assert_str_eq(s_str(r.json, "request.language"), "ru");
    s_resp_free(&r);
    free(ru);
}

/* ---- the event stream ---- */

typedef struct {
    int fd;
    char buf[1 << 16];
    size_t len;
} s_sse_t;

static void s_sse_open(s_sse_t *s, int64_t last_event_id)
{
    memset(s, 0, sizeof *s);
    s->fd = s_connect(E.http_port, 500);
    cr_assert(s->fd >= 0);
    char req[1024];
    /* HTTP/1.0: no chunked framing, the stream is the body as is */
    int n = snprintf(req, sizeof req,
                     "GET /api/v1/events?recipient=operators HTTP/1.0\r\nHost: x\r\n%s"
                     "Last-Event-ID: %lld\r\n\r\n",
                     E.auth, (long long)last_event_id);
    cr_assert_eq(s_send_all(s->fd, req, (size_t)n), 0);
}

/*  Reads until `want` events arrived after the headers or the deadline; puts
    their ids in `ids`. Returns how many. */
static int s_sse_read(s_sse_t *s, int want, int64_t *ids, int deadline_ms)
{
    int64_t deadline = tb_test_now_ms() + deadline_ms;
    int found = 0;
    while (tb_test_now_ms() < deadline) {
        ssize_t n = recv(s->fd, s->buf + s->len, sizeof s->buf - s->len - 1, 0);
        if (n > 0) {
            s->len += (size_t)n;
            s->buf[s->len] = '\0';
        } else if (n == 0) {
            break;
        }
        found = 0;
        for (const char *p = strstr(s->buf, "\nid: "); p; p = strstr(p + 1, "\nid: ")) {
            if (found < want)
                ids[found] = strtoll(p + 5, NULL, 10);
            found++;
        }
        if (found >= want)
            break;
    }
    return found;
}

Test(gateway, events_catch_up_after_disconnect, .init = s_setup, .fini = s_teardown,
     .timeout = 180)
{
    /* Two matches proposed before anyone listens: the stream starts with them. */
    free(s_submit_published("offer_cn.json", NULL));
    free(s_submit_published("need_by.json", NULL));
    s_sse_t s;
    s_sse_open(&s, 0);
    int64_t ids[64];
    int got = s_sse_read(&s, 1, ids, 10000);
    cr_assert_geq(got, 1, "no event from the catch-up:\n%s", s.buf);
    cr_assert(strncmp(s.buf, "HTTP/1.0 200", 12) == 0 ||
              strncmp(s.buf, "HTTP/1.1 200", 12) == 0);
    cr_assert_not_null(strstr(s.buf, "text/event-stream"));
    cr_assert_eq(ids[0], 1);
    /* live: a third request makes another notification while connected */
    free(s_submit_published("offer_cn.json", "JS-HTD-LIVE-2"));
    int64_t deadline = tb_test_now_ms() + 15000;
    json_int_t stored = 0;
    while (tb_test_now_ms() < deadline && stored < 2) {
        s_resp_t r = s_http("GET", "/api/v1/notifications/operators?limit=1", NULL);
        stored = s_int(r.json, "last_seq");
        s_resp_free(&r);
        usleep(50 * 1000);
    }
    cr_assert_geq(stored, 2);
    got = s_sse_read(&s, (int)stored, ids, 10000);
    cr_assert_eq(got, stored, "live: %d events of %lld:\n%s", got, (long long)stored,
                 s.buf);
    for (int i = 0; i < got; i++)
        cr_assert_eq(ids[i], i + 1, "events in order, no gap, no duplicate");
    close(s.fd);

    /* away: more notifications while disconnected (a need that matches both
       offers) */
    char *extra = s_data("need_by.json", "GDOK-AWAY-2");
    s_resp_t r = s_http("POST", "/api/v1/requests", extra);
    free(extra);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/requests/%s/publish",
             s_str(r.json, "request.id"));
    s_resp_free(&r);
    s_http_expect("POST", path, "{\"version\": 1}", 200, NULL);
    deadline = tb_test_now_ms() + 15000;
    json_int_t now_stored = stored;
    while (tb_test_now_ms() < deadline && now_stored < stored + 2) {
        r = s_http("GET", "/api/v1/notifications/operators?limit=1", NULL);
        now_stored = s_int(r.json, "last_seq");
        s_resp_free(&r);
        usleep(50 * 1000);
    }
    cr_assert_gt(now_stored, stored);

    /* back with Last-Event-ID: exactly what was missed, in order */
    s_sse_open(&s, stored);
    int missed = (int)(now_stored - stored);
    got = s_sse_read(&s, missed, ids, 10000);
    cr_assert_eq(got, missed, "catch-up: %d of %d:\n%s", got, missed, s.buf);
    for (int i = 0; i < got; i++)
        cr_assert_eq(ids[i], stored + 1 + i);
    close(s.fd);

    /* a malformed Last-Event-ID is refused */
    int fd = s_connect(E.http_port, 5000);
    char bad[1024];
    snprintf(bad, sizeof bad,
             "GET /api/v1/events?recipient=operators HTTP/1.0\r\n%s"
             "Last-Event-ID: -3\r\n\r\n",
             E.auth);
    s_send_all(fd, bad, strlen(bad));
    char reply[64] = {0};
    recv(fd, reply, sizeof reply - 1, 0);
    close(fd);
    cr_assert(strncmp(reply + 9, "400", 3) == 0, "%s", reply);
}

Test(gateway, service_down_is_503, .init = s_setup, .fini = s_teardown, .timeout = 120)
{
    tb_test_proc_stop(&E.intake, 5000);
    s_resp_t r = s_http("GET", "/api/v1/requests", NULL);
    s_expect(&r, 503, "UNAVAILABLE");
    cr_assert_not_null(strstr(s_str(r.json, "error.message"), "intake"));
    s_resp_free(&r);
    r = s_http("GET", "/api/v1/health", NULL);
    s_expect(&r, 503, NULL);
    cr_assert_str_eq(s_str(r.json, "intake.error.code"), "UNAVAILABLE");
    cr_assert_str_eq(s_str(r.json, "matching.service"), "matching");
    s_resp_free(&r);
}

/* ---- people ---- */

/*  Logs in; returns 0 and the cookie's value and the CSRF token, or the HTTP
    status. */
static int s_login(const char *user, const char *password, char cookie[128],
                   char csrf[64], s_resp_t *out)
{
    char body[256];
    snprintf(body, sizeof body, "{\"user\": \"%s\", \"password\": \"%s\"}", user,
             password);
    s_resp_t r = s_http("POST", "/api/v1/login", body);
    int status = r.status;
    if (status == 200) {
        char *set = s_header(r.head, "Set-Cookie");
        cr_assert_not_null(set);
        cr_assert_not_null(strstr(set, "HttpOnly"), "%s", set);
        cr_assert_not_null(strstr(set, "SameSite=Strict"), "%s", set);
        cr_assert_not_null(strstr(set, "Max-Age=3600"), "%s", set);
        cr_assert(strncmp(set, "tb_session=", 11) == 0);
        snprintf(cookie, 128, "%.*s", (int)strcspn(set + 11, ";"), set + 11);
        free(set);
        snprintf(csrf, 64, "%s", s_str(r.json, "csrf_token"));
    }
    if (out)
        *out = r;
    else
        s_resp_free(&r);
    return status == 200 ? 0 : status;
}

static void s_use_cookie(const char *cookie, const char *csrf)
{
    snprintf(E.auth, sizeof E.auth, "Cookie: tb_session=%s\r\n%s%s%s", cookie,
             csrf ? "X-CSRF-Token: " : "", csrf ? csrf : "", csrf ? "\r\n" : "");
}

Test(gateway, people_sessions_csrf_and_roles, .init = s_setup, .fini = s_teardown,
     .timeout = 180)
{
    char *operator_token = strdup(E.auth);
    /* an organisation's user, and a request of another organisation */
    const char *add[] = {"--user-add", "petrov", "--role", "by.gomeldrev", NULL};
    cr_assert_eq(s_admin(add, "petrov's long password\n", NULL), 0);
    cr_assert_eq(s_admin(add, "petrov's long password\n", NULL), 1,
                 "a second add refused");
    const char *weak[] = {"--user-add", "weak", "--role", "operator", NULL};
    cr_assert_eq(s_admin(weak, "short\n", NULL), 2, "a short password refused");
    char *offer = s_submit_published("offer_cn.json", NULL);

    /* no credentials: 401 on every route but login and health */
    E.auth[0] = '\0';
    s_resp_t r = s_http("GET", "/api/v1/requests", NULL);
    s_expect(&r, 401, "UNAUTHENTICATED");
    s_resp_free(&r);
    s_http_expect("GET", "/api/v1/events?recipient=operators", NULL, 401,
                  "UNAUTHENTICATED");
    s_http_expect("GET", "/api/v1/health", NULL, 200, NULL);
    snprintf(E.auth, sizeof E.auth, "Authorization: Bearer not-a-token\r\n");
    s_http_expect("GET", "/api/v1/requests", NULL, 401, "UNAUTHENTICATED");
    E.auth[0] = '\0';

    /* a wrong password: 401, the same answer as an unknown user */
    char cookie[128], csrf[64];
    cr_assert_eq(s_login("petrov", "not the password", cookie, csrf, NULL), 401);
    cr_assert_eq(s_login("nobody", "not the password", cookie, csrf, NULL), 401);

    /* the organisation's user logs in: its own org's requests only */
    s_resp_t lr;
    cr_assert_eq(s_login("petrov", "petrov's long password", cookie, csrf, &lr), 0);
    cr_assert_str_eq(s_str(lr.json, "role"), "by.gomeldrev");
    s_resp_free(&lr);
    s_use_cookie(cookie, NULL);
    r = s_http("GET", "/api/v1/me", NULL);
    s_expect(&r, 200, NULL);
    cr_assert_str_eq(s_str(r.json, "user"), "petrov");
    cr_assert_str_eq(s_str(r.json, "csrf_token"), csrf);
    s_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/requests/%s", offer);
    s_http_expect("GET", path, NULL, 403, "PERMISSION_DENIED");
    s_http_expect("GET", "/api/v1/notifications/operators", NULL, 403,
                  "PERMISSION_DENIED");
    s_http_expect("GET", "/api/v1/events?recipient=operators", NULL, 403,
                  "PERMISSION_DENIED");

    /* a change from a cookie session without the CSRF token: 403; with it, the
       service decides (its own need: created) */
    char *need = s_data("need_by.json", NULL);
    r = s_http("POST", "/api/v1/requests", need);
    s_expect(&r, 403, "PERMISSION_DENIED");
    cr_assert_not_null(strstr(s_str(r.json, "error.message"), "CSRF"));
    s_resp_free(&r);
    s_use_cookie(cookie, "wrong-token");
    s_http_expect("POST", "/api/v1/requests", need, 403, "PERMISSION_DENIED");
    s_use_cookie(cookie, csrf);
    r = s_http("POST", "/api/v1/requests", need);
    s_expect(&r, 201, NULL);
    char *need_id = strdup(s_str(r.json, "request.id"));
    s_resp_free(&r);
    /* ...but publishing is the operators' */
    snprintf(path, sizeof path, "/api/v1/requests/%s/publish", need_id);
    s_http_expect("POST", path, "{\"version\": 1}", 403, "PERMISSION_DENIED");
    /* an org submitting for another org: 403 from intake */
    char *other = s_data("offer_cn.json", "OTHER-ORG-1");
    s_http_expect("POST", "/api/v1/requests", other, 403, "PERMISSION_DENIED");
    free(other);

    /* the operator publishes; the history names the person */
    snprintf(E.auth, sizeof E.auth, "%s", operator_token);
    s_http_expect("POST", path, "{\"version\": 1, \"reason\": \"reviewed\"}", 200, NULL);
    snprintf(path, sizeof path, "/api/v1/requests/%s/history", need_id);
    r = s_http("GET", path, NULL);
    s_expect(&r, 200, NULL);
    cr_assert_not_null(strstr(r.body, "\"by.gomeldrev:petrov via gateway\""), "%s",
                       r.body);
    cr_assert_not_null(strstr(r.body, "\"operator:ivanova via gateway\""), "%s", r.body);
    s_resp_free(&r);

    /* expiry: a session past its time is refused */
    s_use_cookie(cookie, csrf);
    cr_assert_eq(tb_test_sql_exec(E.db, "UPDATE gateway_sessions SET expires_at = now() "
                                        "- interval '1 second' WHERE kind = 'session'"),
                 0);
    s_http_expect("GET", "/api/v1/me", NULL, 401, "UNAUTHENTICATED");

    /* logout ends the session at once */
    cr_assert_eq(s_login("petrov", "petrov's long password", cookie, csrf, NULL), 0);
    s_use_cookie(cookie, csrf);
    r = s_http("POST", "/api/v1/logout", NULL);
    s_expect(&r, 200, NULL);
    char *cleared = s_header(r.head, "Set-Cookie");
    cr_assert_not_null(strstr(cleared, "Max-Age=0"));
    free(cleared);
    s_resp_free(&r);
    s_http_expect("GET", "/api/v1/me", NULL, 401, "UNAUTHENTICATED");

    /* a bearer token is not a cookie (which would skip the CSRF check) */
    const char *tok = strchr(operator_token, ' ') + 1;
    tok = strchr(tok, ' ') + 1;
    char token[64];
    snprintf(token, sizeof token, "%.*s", (int)strcspn(tok, "\r"), tok);
    s_use_cookie(token, NULL);
    s_http_expect("GET", "/api/v1/me", NULL, 401, "UNAUTHENTICATED");

    /* failed logins are limited: after 5 for one user, 429 with Retry-After,
       even with the right password */
    E.auth[0] = '\0';
    for (int i = 0; i < 5; i++)
        cr_assert_eq(s_login("petrov", "guess guess guess", cookie, csrf, NULL), 401);
    s_resp_t limited;
    cr_assert_eq(s_login("petrov", "petrov's long password", cookie, csrf, &limited),
                 429);
    char *retry = s_header(limited.head, "Retry-After");
    cr_assert_not_null(retry);
    cr_assert_gt(atoi(retry), 0);
    free(retry);
    s_resp_free(&limited);

    /* a new password or disabling ends what was open */
    const char *passwd[] = {"--user-passwd", "ivanova", NULL};
    cr_assert_eq(s_admin(passwd, "a brand new password\n", NULL), 0);
    snprintf(E.auth, sizeof E.auth, "%s", operator_token);
    s_http_expect("GET", "/api/v1/requests", NULL, 401, "UNAUTHENTICATED");
    E.auth[0] = '\0';
    cr_assert_eq(s_login("ivanova", "a brand new password", cookie, csrf, NULL), 0);
    const char *disable[] = {"--user-disable", "ivanova", NULL};
    cr_assert_eq(s_admin(disable, NULL, NULL), 0);
    s_use_cookie(cookie, csrf);
    s_http_expect("GET", "/api/v1/me", NULL, 401, "UNAUTHENTICATED");
    E.auth[0] = '\0';
    cr_assert_eq(s_login("ivanova", "a brand new password", cookie, csrf, NULL), 401);

    /* only hashes are stored: Argon2id for passwords, no secret in the table */
    cr_assert_eq(tb_test_sql_scalar(E.db, "SELECT count(*) FROM gateway_users WHERE "
                                          "password_hash NOT LIKE '$argon2id$%'"),
                 0);
    free(need);
    free(need_id);
    free(offer);
    free(operator_token);
}

/* ---- the console's files ---- */

Test(gateway, console_files_and_their_policy, .init = s_setup, .fini = s_teardown,
     .timeout = 60)
{
    E.auth[0] = '\0'; /* the page itself needs no login: its API calls do */
    s_resp_t r = s_http("GET", "/", NULL);
    s_expect(&r, 200, NULL);
    char *ct = s_header(r.head, "Content-Type");
    cr_assert_str_eq(ct, "text/html; charset=utf-8");
    free(ct);
    char *csp = s_header(r.head, "Content-Security-Policy");
    cr_assert_not_null(strstr(csp, "script-src 'self'"), "%s", csp);
    cr_assert_null(strstr(csp, "unsafe-inline"), "%s", csp);
    cr_assert_null(strstr(csp, "unsafe-eval"), "%s", csp);
    free(csp);
    cr_assert_not_null(strstr(r.body, "<html lang=\"en\">"));
    /* no inline script or style in the page */
    cr_assert_null(strstr(r.body, "<script>"));
    cr_assert_null(strstr(r.body, "<style"));
    cr_assert_null(strstr(r.body, " style="));
    s_resp_free(&r);
    const char *files[] = {"/console/app.js", "/console/api.js", "/console/dom.js",
                           "/console/app.css"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        r = s_http("GET", files[i], NULL);
        s_expect(&r, 200, NULL);
        cr_assert_null(strstr(r.body, "innerHTML"), "%s writes HTML from data", files[i]);
        s_resp_free(&r);
    }
    /* nothing else, and no way out of the embedded files */
    const char *refused[] = {"/console/",
                             "/console/../../../etc/passwd",
                             "/console/..%2f..%2fetc%2fpasswd",
                             "/console/%2e%2e/app.js",
                             "/etc/passwd",
                             "/console/app.js/",
                             "/index.html"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = s_http("GET", refused[i], NULL);
        cr_assert(r.status == 404 || r.status == 400, "%s: %d", refused[i], r.status);
        cr_assert_null(strstr(r.body, "root:"));
        s_resp_free(&r);
    }
    s_http_expect("POST", "/", "{}", 405, NULL);
}

/*  With CURVE keys the gateway calls with its own key (role "gateway"): the
    services take the person's role from it and still enforce that role's
    rules, and history names the person. */
Test(gateway, curve_gateway_key_acts_for_the_person, .init = s_setup_keyed,
     .fini = s_teardown, .timeout = 180)
{
    cr_assert(tb_test_log_has(E.gw, "service.start", NULL));
    cr_assert_not(tb_test_log_has(E.gw, "security.open", NULL));
    char *offer = s_submit_published("offer_cn.json", NULL);
    char *need = s_submit_published("need_by.json", NULL);
    char *match = s_wait_match(need);
    const char *add[] = {"--user-add", "petrov", "--role", "by.gomeldrev", NULL};
    cr_assert_eq(s_admin(add, "petrov's long password\n", NULL), 0);
    const char *tok[] = {"--token-add", "petrov", NULL};
    char *token = NULL;
    cr_assert_eq(s_admin(tok, NULL, &token), 0);
    token[strcspn(token, "\n")] = '\0';
    char *operator_auth = strdup(E.auth);
    s_use_token(token);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/requests/%s", need);
    s_resp_t r = s_http("GET", path, NULL);
    s_expect(&r, 200, NULL);
    s_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/requests/%s", offer);
    s_http_expect("GET", path, NULL, 403, "PERMISSION_DENIED");
    snprintf(path, sizeof path, "/api/v1/matches/%s/accept", match);
    s_http_expect("POST", path, "{\"version\": 1}", 403, "PERMISSION_DENIED");
    /* its own need's matches, and its own events, yes; the operators', no */
    snprintf(path, sizeof path, "/api/v1/requests/%s/matches", need);
    s_http_expect("GET", path, NULL, 200, NULL);
    s_http_expect("GET", "/api/v1/events?recipient=operators", NULL, 403,
                  "PERMISSION_DENIED");
    /* the org withdraws its own need: history names the person */
    snprintf(path, sizeof path, "/api/v1/requests/%s/withdraw", need);
    s_http_expect("POST", path, "{\"version\": 2, \"reason\": \"found a supplier\"}", 200,
                  NULL);
    snprintf(E.auth, sizeof E.auth, "%s", operator_auth);
    snprintf(path, sizeof path, "/api/v1/requests/%s/history", need);
    r = s_http("GET", path, NULL);
    s_expect(&r, 200, NULL);
    cr_assert_not_null(strstr(r.body, "\"by.gomeldrev:petrov via gateway\""), "%s",
                       r.body);
    cr_assert_not_null(strstr(r.body, "\"operator:ivanova via gateway\""), "%s", r.body);
    s_resp_free(&r);
    /* the operator's event stream works through the gateway's key */
    s_sse_t s;
    s_sse_open(&s, 0);
    int64_t ids[4];
    cr_assert_geq(s_sse_read(&s, 1, ids, 10000), 1, "%s", s.buf);
    close(s.fd);
    free(operator_auth);
    free(token);
    free(offer);
    free(need);
    free(match);
}
