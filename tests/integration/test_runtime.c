/*  The runtime's database pieces against a real PostgreSQL (env TB_TEST_PG, a
    key=value conninfo without dbname): migrations, the schema check, error
    classification, and the session coming back after the server killed it. Each
    test makes its own database tb_rt_<pid> and drops it. Independent of the
    harness on purpose: it exercises tb_db/tb_migrate directly. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "api.pb-c.h"
#include "intake_fixture.h"
#include "tb_config.h"
#include "tb_db.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_migrate.h"
#include "tb_service.h"

static char s_admin[1024]; /* TB_TEST_PG */
static char s_conn[1200];  /* TB_TEST_PG + our dbname */
static char s_dbname[64];

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*  Runs our own SQL text on a conninfo; returns the first value as a number, or
    -1 on an empty result; fails the test on an error. */
static long s_sql(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    long v = -1;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

static void s_setup(void)
{
    const char *pg = getenv("TB_TEST_PG");
    if (!pg || !*pg)
        cr_skip_test("TB_TEST_PG is not set");
    tb_log_setup("test_runtime", "warn", "text");
    snprintf(s_admin, sizeof s_admin, "%s", pg);
    snprintf(s_dbname, sizeof s_dbname, "tb_rt_%ld", (long)getpid());
    snprintf(s_conn, sizeof s_conn, "%s dbname=%s", pg, s_dbname);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", s_dbname);
    s_sql(s_admin, sql);
}

static void s_teardown(void)
{
    if (!*s_dbname)
        return;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", s_dbname);
    s_sql(s_admin, sql);
}

TestSuite(runtime, .init = s_setup, .fini = s_teardown, .timeout = 60);

static int s_highest(void)
{
    int v = 0;
    for (int i = 0; i < tb_migrations_count; i++)
        if (tb_migrations[i].version > v)
            v = tb_migrations[i].version;
    return v;
}

Test(runtime, migrate_applies_every_file_once)
{
    cr_assert_gt(tb_migrations_count, 0);
    tb_db_t *db = tb_db_new(s_conn);
    cr_assert(tb_db_ok(db), "%s", tb_db_message(db));
    cr_assert_eq(tb_migrate_check(db), -1, "an empty database is older than the binary");

    cr_assert_eq(tb_migrate_apply(db), 0);
    cr_assert_eq(s_sql(s_conn, "SELECT count(*) FROM schema_migrations"),
                 tb_migrations_count);
    cr_assert_eq(s_sql(s_conn, "SELECT max(version) FROM schema_migrations"),
                 s_highest());
    cr_assert_eq(s_sql(s_conn, "SELECT count(*) FROM feed_streams"), 2, "001 ran");
    cr_assert_eq(tb_migrate_check(db), 0);

    /* Again: nothing runs (001 would fail on its CREATE TABLE), nothing is added. */
    long before =
        s_sql(s_conn, "SELECT (extract(epoch FROM max(applied_at)) * 1e6)::bigint "
                      "FROM schema_migrations");
    cr_assert_eq(tb_migrate_apply(db), 0);
    cr_assert_eq(s_sql(s_conn, "SELECT count(*) FROM schema_migrations"),
                 tb_migrations_count);
    cr_assert_eq(s_sql(s_conn,
                       "SELECT (extract(epoch FROM max(applied_at)) * 1e6)::bigint "
                       "FROM schema_migrations"),
                 before);
    cr_assert_eq(tb_migrate_check(db), 0);
    /* The advisory lock was released: another session can take it at once. */
    cr_assert_eq(
        s_sql(s_conn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0);
    tb_db_destroy(&db);
    cr_assert_null(db);
}

Test(runtime, check_says_older_when_a_file_is_missing)
{
    tb_db_t *db = tb_db_new(s_conn);
    cr_assert(tb_db_ok(db));
    cr_assert_eq(tb_migrate_apply(db), 0);
    char sql[160];
    snprintf(sql, sizeof sql, "DELETE FROM schema_migrations WHERE version = %d",
             s_highest());
    s_sql(s_conn, sql);
    cr_assert_eq(tb_migrate_check(db), -1, "the newest file is missing: older");
    tb_db_destroy(&db);
}

Test(runtime, check_refuses_a_newer_schema)
{
    tb_db_t *db = tb_db_new(s_conn);
    cr_assert(tb_db_ok(db));
    cr_assert_eq(tb_migrate_apply(db), 0);
    cr_assert_eq(tb_migrate_check(db), 0);
    char sql[160];
    snprintf(sql, sizeof sql,
             "INSERT INTO schema_migrations (version, name) VALUES (%d, 'future.sql')",
             s_highest() + 1);
    s_sql(s_conn, sql);
    cr_assert_eq(tb_migrate_check(db), -1);
    /* Applying does not "fix" it: the unknown version stays, the check still fails. */
    cr_assert_eq(tb_migrate_apply(db), 0);
    cr_assert_eq(tb_migrate_check(db), -1);
    tb_db_destroy(&db);
}

Test(runtime, errors_are_classified)
{
    tb_db_t *db = tb_db_new(s_conn);
    cr_assert(tb_db_ok(db));
    PGresult *r =
        tb_db_query(db, "CREATE TABLE t (k int PRIMARY KEY, v int NOT NULL)", 0, NULL);
    cr_assert_not_null(r);
    PQclear(r);
    cr_assert_eq(tb_db_prepare(db, "ins", "INSERT INTO t (k, v) VALUES ($1, $2)"), 0);
    cr_assert_eq(tb_db_prepare(db, "ins", "INSERT INTO t (k, v) VALUES ($1, $2)"), 0,
                 "registering the same statement twice is fine");
    cr_assert_eq(tb_db_prepare(db, "ins", "SELECT 1"), -1, "same name, other SQL");
    cr_assert_eq(tb_db_prepare(db, "bad", "SELEC 1"), -1, "bad SQL on a live session");

    const char *one[] = {"1", "10"};
    r = tb_db_exec(db, "ins", 2, one);
    cr_assert_not_null(r, "%s", tb_db_message(db));
    PQclear(r);
    cr_assert_eq(tb_db_error(db), TB_DB_OK);

    cr_assert_null(tb_db_exec(db, "ins", 2, one));
    cr_assert_eq(tb_db_error(db), TB_DB_UNIQUE);
    cr_assert_str_eq(tb_db_sqlstate(db), "23505");
    cr_assert_neq(tb_db_message(db)[0], '\0');

    const char *bad[] = {"x", "1"};
    cr_assert_null(tb_db_exec(db, "ins", 2, bad));
    cr_assert_eq(tb_db_error(db), TB_DB_INVALID);
    const char *null[] = {"2", NULL};
    cr_assert_null(tb_db_exec(db, "ins", 2, null));
    cr_assert_eq(tb_db_error(db), TB_DB_INVALID, "not-null violation: class 23");

    cr_assert_null(tb_db_query(db, "SELECT * FROM no_such_table", 0, NULL));
    cr_assert_eq(tb_db_error(db), TB_DB_ERROR);
    cr_assert_str_eq(tb_db_sqlstate(db), "42P01");
    cr_assert_null(tb_db_exec(db, "never_registered", 0, NULL));
    cr_assert_eq(tb_db_error(db), TB_DB_ERROR);

    /* A failed statement inside a transaction: rollback keeps its error, and a
       commit of a failed transaction is a failure, not a silent ROLLBACK. */
    cr_assert_eq(tb_db_begin(db), 0);
    cr_assert_null(tb_db_exec(db, "ins", 2, one));
    cr_assert_eq(tb_db_commit(db), -1);
    cr_assert_eq(tb_db_begin(db), 0);
    cr_assert_null(tb_db_exec(db, "ins", 2, one));
    cr_assert_eq(tb_db_rollback(db), 0);
    cr_assert_eq(tb_db_error(db), TB_DB_UNIQUE, "rollback keeps the reason");

    const char *two[] = {"2", "20"};
    cr_assert_eq(tb_db_begin(db), 0);
    r = tb_db_exec(db, "ins", 2, two);
    cr_assert_not_null(r);
    PQclear(r);
    cr_assert_eq(tb_db_commit(db), 0);
    cr_assert_eq(s_sql(s_conn, "SELECT count(*) FROM t"), 2);
    cr_assert_gt(tb_db_round_trips(db), 10);
    tb_db_destroy(&db);
}

static void s_kill_sessions(void)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE datname = '%s' AND pid <> pg_backend_pid()",
             s_dbname);
    cr_assert_geq(s_sql(s_admin, sql), 1);
    /* Wait (with a deadline) until the backends are really gone. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
             "AND pid <> pg_backend_pid()",
             s_dbname);
    int64_t deadline = s_now_ms() + 10000;
    while (s_sql(s_admin, sql) > 0) {
        cr_assert_lt(s_now_ms(), deadline, "backends did not exit");
        usleep(10000);
    }
}

/*  Ticks until the session is back, within a deadline. */
static void s_wait_up(tb_db_t *db)
{
    int64_t deadline = s_now_ms() + 15000;
    while (tb_db_tick(db) != 0) {
        cr_assert_lt(s_now_ms(), deadline, "no reconnect: %s", tb_db_message(db));
        long ms = tb_db_next_attempt_ms(db);
        cr_assert_geq(ms, 0);
        cr_assert_leq(ms, 5000, "back-off is capped at 5 s");
        usleep((useconds_t)(ms > 0 ? ms : 1) * 1000);
    }
}

/*  Waits for the session socket to be readable and drains; returns the count. */
static int s_wait_notifies(tb_db_t *db, int want)
{
    int got = 0;
    int64_t deadline = s_now_ms() + 5000;
    while (got < want && s_now_ms() < deadline) {
        struct pollfd p = {tb_db_socket(db), POLLIN, 0};
        cr_assert_geq(p.fd, 0);
        poll(&p, 1, 100);
        got += tb_db_drain_notifies(db);
    }
    return got;
}

Test(runtime, session_comes_back_after_the_server_killed_it)
{
    tb_db_t *db = tb_db_new(s_conn);
    cr_assert(tb_db_ok(db));
    cr_assert_geq(tb_db_socket(db), 0);
    cr_assert_eq(tb_db_next_attempt_ms(db), -1);
    cr_assert_eq(tb_db_prepare(db, "plus", "SELECT $1::int + 1"), 0);
    cr_assert_eq(tb_db_listen(db, "tb rt \"chan\""), 0, "quoted as an identifier");
    const char *v[] = {"41"};
    PGresult *r = tb_db_exec(db, "plus", 1, v);
    cr_assert_not_null(r);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "42");
    PQclear(r);
    s_sql(s_conn, "NOTIFY \"tb rt \"\"chan\"\"\"");
    cr_assert_geq(s_wait_notifies(db, 1), 1);
    cr_assert_eq(tb_db_reconnects(db), 0);

    s_kill_sessions();
    cr_assert_null(tb_db_exec(db, "plus", 1, v));
    cr_assert_eq(tb_db_error(db), TB_DB_UNAVAILABLE);
    cr_assert_not(tb_db_ok(db));
    cr_assert_eq(tb_db_socket(db), -1);
    cr_assert_null(tb_db_conn(db));
    cr_assert_geq(tb_db_next_attempt_ms(db), 0);
    /* While down: at once UNAVAILABLE, no round trip. */
    cr_assert_null(tb_db_query(db, "SELECT 1", 0, NULL));
    cr_assert_eq(tb_db_error(db), TB_DB_UNAVAILABLE);
    cr_assert_eq(tb_db_begin(db), -1);
    cr_assert_eq(tb_db_rollback(db), 0, "rollback on a broken session is a no-op");

    s_wait_up(db);
    cr_assert(tb_db_ok(db));
    cr_assert_eq(tb_db_reconnects(db), 1);
    r = tb_db_exec(db, "plus", 1, v);
    cr_assert_not_null(r, "prepared again after the reconnect: %s", tb_db_message(db));
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "42");
    PQclear(r);
    /* LISTEN was issued again on the new session. */
    s_sql(s_conn, "NOTIFY \"tb rt \"\"chan\"\"\"");
    cr_assert_geq(s_wait_notifies(db, 1), 1);
    tb_db_destroy(&db);
}

Test(runtime, killed_session_is_noticed_by_the_notify_drain)
{
    tb_db_t *db = tb_db_new(s_conn);
    cr_assert(tb_db_ok(db));
    cr_assert_eq(tb_db_listen(db, "tb_rt"), 0);
    s_kill_sessions();
    /* The socket shows the close; draining notices it without any query. */
    int64_t deadline = s_now_ms() + 5000;
    while (tb_db_ok(db)) {
        cr_assert_lt(s_now_ms(), deadline, "the drain never noticed the lost session");
        struct pollfd p = {tb_db_socket(db), POLLIN, 0};
        poll(&p, 1, 100);
        tb_db_drain_notifies(db);
    }
    cr_assert_eq(tb_db_socket(db), -1);
    s_wait_up(db);
    tb_db_destroy(&db);
}

Test(runtime, statements_registered_while_down_are_prepared_on_connect)
{
    /* Nothing listens on this port: the handle is made anyway, !ok. */
    char bad[1300];
    snprintf(bad, sizeof bad, "%s dbname=%s port=1", s_admin, s_dbname);
    tb_db_t *db = tb_db_new(bad);
    cr_assert_not_null(db);
    cr_assert_not(tb_db_ok(db));
    cr_assert_eq(tb_db_prepare(db, "plus", "SELECT $1::int + 1"), 0,
                 "registered for later");
    const char *v[] = {"1"};
    cr_assert_null(tb_db_exec(db, "plus", 1, v));
    cr_assert_eq(tb_db_error(db), TB_DB_UNAVAILABLE);
    cr_assert_eq(tb_db_tick(db), -1);
    cr_assert_leq(tb_db_next_attempt_ms(db), 5000);
    tb_db_destroy(&db);

    /* A statement whose table a migration makes later: deferred, then works. */
    db = tb_db_new(s_conn);
    cr_assert(tb_db_ok(db));
    cr_assert_eq(tb_db_prepare(db, "streams", "SELECT count(*) FROM feed_streams"), -1);
    cr_assert_eq(tb_migrate_apply(db), 0);
    cr_assert_eq(tb_db_prepare(db, "streams", "SELECT count(*) FROM feed_streams"), 0);
    PGresult *r = tb_db_exec(db, "streams", 0, NULL);
    cr_assert_not_null(r);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "2");
    PQclear(r);
    tb_db_destroy(&db);
}

/* ---- the service loop, in a child process, over a real socket ---- */

static const tb_option_t s_options[] = {TB_COMMON_OPTIONS, TB_OPTION_END};

/*  A core for the test: `get` answers a request with the id it was given, or
    nothing at all for id "nothing" (the runtime must make that INTERNAL), or
    runs a query for id "db". */
static int s_handler(tb_call_t *call, void *core)
{
    tb_db_t *db = core;
    if (call->req->body_case != TECHBRIDGE__API_REQUEST__BODY_GET)
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT, "unknown kind %s",
                             call->kind);
    const char *id = call->req->get->id;
    if (strcmp(id, "nothing") == 0)
        return 0;
    if (strcmp(id, "db") == 0) {
        PGresult *r = tb_db_query(db, "SELECT 1", 0, NULL);
        if (!r)
            return tb_call_db_error(call, db, "select");
        PQclear(r);
    }
    Techbridge__RequestResult *res = TB_PB_NEW(call->arena, Techbridge__RequestResult,
                                               techbridge__request_result__descriptor);
    Techbridge__Request *req =
        TB_PB_NEW(call->arena, Techbridge__Request, techbridge__request__descriptor);
    req->id = tb_arena_strdup(call->arena, id);
    req->org = TB_PB_NEW(call->arena, Techbridge__Org, techbridge__org__descriptor);
    req->org->id = tb_arena_strdup(call->arena, call->actor);
    res->request = req;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_REQUEST;
    call->reply->request = res;
    return 0;
}

static char s_endpoint[128];

static char s_feed_endpoint[128];

/*  The consumer's effect: one row per event, keyed by seq (a second apply of
    the same event would fail the primary key and roll back). */
static int s_apply(tb_db_t *db, const Techbridge__Event *event, void *arg)
{
    (void)arg;
    char seq[24];
    snprintf(seq, sizeof seq, "%lld", (long long)event->seq);
    const char *v[] = {seq, event->correlation_id};
    PGresult *r =
        tb_db_query(db, "INSERT INTO rt_applied (seq, cid) VALUES ($1, $2)", 2, v);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/*  Starts the service in a child; returns its pid. With `feed`, it also serves
    the "requests" feed and consumes it itself. */
static pid_t s_service_start_with(bool feed)
{
    snprintf(s_endpoint, sizeof s_endpoint, "ipc:///tmp/tb_rt_%ld.ipc", (long)getpid());
    snprintf(s_feed_endpoint, sizeof s_feed_endpoint, "ipc:///tmp/tb_rt_%ld_feed.ipc",
             (long)getpid());
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* TB_RT_LOG_LEVEL=info shows the service's own lines. */
        char *level = getenv("TB_RT_LOG_LEVEL") ? getenv("TB_RT_LOG_LEVEL") : "warn";
        char *argv[] = {"tb-test", "--database-url",   s_conn, "--max-frame",
                        "2048",    "--stats-interval", "1",    "--log-format",
                        "text",    "--log-level",      level,  NULL};
        int ec = 0;
        tb_config_t *config =
            tb_config_new("tb-test", "test", s_options,
                          (int)(sizeof argv / sizeof *argv) - 1, argv, &ec);
        if (!config)
            _exit(10);
        tb_service_t *svc = tb_service_new("tb-test", config);
        if (!svc)
            _exit(11);
        if (tb_service_bind_api(svc, s_endpoint, s_handler, tb_service_db(svc)) != 0)
            _exit(12);
        if (feed &&
            (tb_service_serve_feed(svc, TB_STREAM_REQUESTS, s_feed_endpoint) != 0 ||
             tb_service_consume(svc, "rt", TB_STREAM_REQUESTS, s_feed_endpoint, s_apply,
                                NULL, NULL) != 0))
            _exit(13);
        int rc = tb_service_run(svc);
        tb_service_destroy(&svc);
        tb_config_destroy(&config);
        _exit(rc == 0 ? 0 : 1);
    }
    return pid;
}

static pid_t s_service_start(void)
{
    return s_service_start_with(false);
}

/*  Waits for the child's exit within `ms`; returns its exit code, or -1. */
static int s_wait_exit(pid_t pid, int ms)
{
    int64_t deadline = s_now_ms() + ms;
    int status = 0;
    while (s_now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

typedef struct {
    void *ctx;
    void *req;
} s_client_t;

static void s_client_open(s_client_t *c)
{
    c->ctx = zmq_ctx_new();
    c->req = NULL;
}

static void s_client_close(s_client_t *c)
{
    if (c->req)
        zmq_close(c->req);
    zmq_ctx_term(c->ctx);
}

/*  One round trip of raw bytes on a fresh REQ socket (a lost reply must not
    wedge the next one). NULL on timeout; else the unpacked reply (free it). */
static Techbridge__ApiReply *s_call_raw(s_client_t *c, const void *data, size_t len,
                                        int ms)
{
    if (c->req)
        zmq_close(c->req);
    c->req = zmq_socket(c->ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(c->req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->req, ZMQ_RCVTIMEO, &ms, sizeof ms);
    cr_assert_eq(zmq_connect(c->req, s_endpoint), 0);
    cr_assert_eq(zmq_send(c->req, data, len, 0), (int)len);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, c->req, 0) < 0) {
        zmq_msg_close(&msg);
        return NULL;
    }
    Techbridge__ApiReply *reply =
        techbridge__api_reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    cr_assert_not_null(reply, "the reply is a valid ApiReply");
    return reply;
}

static Techbridge__ApiReply *s_call(s_client_t *c, Techbridge__ApiRequest *req, int ms)
{
    size_t len = techbridge__api_request__get_packed_size(req);
    uint8_t *buf = malloc(len + 1);
    techbridge__api_request__pack(req, buf);
    Techbridge__ApiReply *reply = s_call_raw(c, buf, len, ms);
    free(buf);
    return reply;
}

static Techbridge__ApiReply *s_get(s_client_t *c, const char *id, const char *actor,
                                   const char *cid)
{
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    Techbridge__GetRequest get = TECHBRIDGE__GET_REQUEST__INIT;
    get.id = (char *)id;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
    req.get = &get;
    req.actor = (char *)actor;
    req.correlation_id = (char *)cid;
    return s_call(c, &req, 5000);
}

static int s_code(const Techbridge__ApiReply *r)
{
    return r->error ? (int)r->error->code : 0;
}

static Techbridge__ApiReply *s_health(s_client_t *c)
{
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req.health = &h;
    return s_call(c, &req, 5000);
}

/*  Polls Health until database_ok is `want`, within a deadline. */
static void s_wait_db(s_client_t *c, bool want)
{
    int64_t deadline = s_now_ms() + 15000;
    for (;;) {
        Techbridge__ApiReply *r = s_health(c);
        cr_assert_not_null(r, "health answers");
        cr_assert_eq(r->result_case, TECHBRIDGE__API_REPLY__RESULT_HEALTH);
        bool ok = r->health->database_ok;
        techbridge__api_reply__free_unpacked(r, NULL);
        if (ok == want)
            return;
        cr_assert_lt(s_now_ms(), deadline, "database_ok never became %d", want);
        usleep(20000);
    }
}

Test(runtime, service_answers_every_frame_and_stops_on_sigterm)
{
    pid_t pid = s_service_start();
    s_client_t c;
    s_client_open(&c);

    /* Health: the runtime's own, with the service's name and version. */
    s_wait_db(&c, true);
    Techbridge__ApiReply *r = s_health(&c);
    cr_assert_str_eq(r->health->service, "tb-test");
    cr_assert_str_eq(r->health->version, TB_VERSION);
    cr_assert_eq(strlen(r->correlation_id), 36, "a made correlation id: %s",
                 r->correlation_id);
    techbridge__api_reply__free_unpacked(r, NULL);

    /* The schema is there: the service migrated at start. */
    cr_assert_eq(s_sql(s_conn, "SELECT count(*) FROM schema_migrations"),
                 tb_migrations_count);

    r = s_get(&c, "abc", "", "cid-1");
    cr_assert_eq(s_code(r), 0);
    cr_assert_str_eq(r->correlation_id, "cid-1");
    cr_assert_str_eq(r->request->request->id, "abc");
    cr_assert_str_eq(r->request->request->org->id, "operator", "\"\" means operator");
    techbridge__api_reply__free_unpacked(r, NULL);

    r = s_get(&c, "abc", "minsk-tractor.by", "cid-2");
    cr_assert_eq(s_code(r), 0);
    cr_assert_str_eq(r->request->request->org->id, "minsk-tractor.by");
    techbridge__api_reply__free_unpacked(r, NULL);

    r = s_get(&c, "abc", "Not An Org", "cid-3");
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    cr_assert_str_eq(r->correlation_id, "cid-3");
    techbridge__api_reply__free_unpacked(r, NULL);

    char longcid[80];
    memset(longcid, 'x', 65);
    longcid[65] = '\0';
    r = s_get(&c, "abc", "", longcid);
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    cr_assert_eq(strlen(r->correlation_id), 36, "replied with a made cid");
    techbridge__api_reply__free_unpacked(r, NULL);
    r = s_get(&c, "abc", "", "bad\ncid");
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    techbridge__api_reply__free_unpacked(r, NULL);

    r = s_get(&c, "nothing", "", "cid-4");
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__INTERNAL, "a handler that set nothing");
    techbridge__api_reply__free_unpacked(r, NULL);

    /* Bytes that are not an ApiRequest, an empty frame, no kind, too large. */
    r = s_call_raw(&c, "\xff\xff\xff\xff\x0f", 5, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    cr_assert_str_eq(r->error->message, "not a valid ApiRequest");
    techbridge__api_reply__free_unpacked(r, NULL);
    r = s_call_raw(&c, "", 0, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    techbridge__api_reply__free_unpacked(r, NULL);
    Techbridge__ApiRequest none = TECHBRIDGE__API_REQUEST__INIT;
    none.correlation_id = "cid-5";
    r = s_call(&c, &none, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    cr_assert_str_eq(r->error->message, "unknown or missing kind");
    techbridge__api_reply__free_unpacked(r, NULL);
    char big[3000];
    memset(big, 0, sizeof big);
    r = s_call_raw(&c, big, sizeof big, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__RESOURCE_EXHAUSTED);
    cr_assert_str_eq(r->error->message, "frame of 3000 bytes exceeds the limit of 2048");
    techbridge__api_reply__free_unpacked(r, NULL);

    /* Still alive and well after all that. */
    r = s_get(&c, "db", "", "cid-6");
    cr_assert_eq(s_code(r), 0);
    techbridge__api_reply__free_unpacked(r, NULL);

    kill(pid, SIGTERM);
    cr_assert_eq(s_wait_exit(pid, 5000), 0, "exit 0 within 5 s");
    s_client_close(&c);
}

Test(runtime, service_answers_unavailable_while_the_database_is_gone)
{
    pid_t pid = s_service_start();
    s_client_t c;
    s_client_open(&c);
    s_wait_db(&c, true);

    /* Kill its session and keep it from coming back for a moment. */
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS false", s_dbname);
    s_sql(s_admin, sql);
    s_kill_sessions();
    s_wait_db(&c, false);
    int64_t t0 = s_now_ms();
    Techbridge__ApiReply *r = s_get(&c, "db", "", "cid-down");
    cr_assert_not_null(r);
    cr_assert_eq(s_code(r), TECHBRIDGE__CODE__UNAVAILABLE);
    cr_assert_lt(s_now_ms() - t0, 1000, "at once");
    techbridge__api_reply__free_unpacked(r, NULL);

    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS true", s_dbname);
    s_sql(s_admin, sql);
    s_wait_db(&c, true);
    r = s_get(&c, "db", "", "cid-up");
    cr_assert_eq(s_code(r), 0, "back after the reconnect");
    techbridge__api_reply__free_unpacked(r, NULL);

    kill(pid, SIGINT);
    cr_assert_eq(s_wait_exit(pid, 5000), 0);
    s_client_close(&c);
}

Test(runtime, service_refuses_a_newer_schema)
{
    tb_db_t *db = tb_db_new(s_conn);
    cr_assert_eq(tb_migrate_apply(db), 0);
    tb_db_destroy(&db);
    char sql[160];
    snprintf(sql, sizeof sql,
             "INSERT INTO schema_migrations (version, name) VALUES (%d, 'future.sql')",
             s_highest() + 1);
    s_sql(s_conn, sql);
    pid_t pid = s_service_start();
    cr_assert_eq(s_wait_exit(pid, 10000), 1, "tb_service_run returns -1");
}

/*  Appends `n` events to "requests" in one transaction. */
static void s_append(int n, const char *cid)
{
    tb_db_t *db = tb_db_new(s_conn);
    cr_assert(tb_db_ok(db));
    cr_assert_eq(tb_db_begin(db), 0);
    for (int i = 0; i < n; i++) {
        Techbridge__Event ev = TECHBRIDGE__EVENT__INIT;
        ev.type = TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED;
        ev.correlation_id = (char *)cid;
        cr_assert_eq(tb_feed_append(db, TB_STREAM_REQUESTS, &ev), 0, "%s",
                     tb_db_message(db));
    }
    cr_assert_eq(tb_db_commit(db), 0);
    tb_db_destroy(&db);
}

static void s_wait_applied(long want)
{
    int64_t deadline = s_now_ms() + 10000;
    long got;
    while ((got = s_sql(s_conn, "SELECT count(*) FROM rt_applied")) < want) {
        cr_assert_lt(s_now_ms(), deadline, "applied %ld of %ld events", got, want);
        usleep(10000);
    }
    cr_assert_eq(got, want, "each event applied once");
}

/*  One FeedFetch on a fresh REQ socket to the feed; the batch (free it) or NULL. */
static Techbridge__FeedBatch *s_fetch(s_client_t *c, int64_t after)
{
    Techbridge__FeedFetch f = TECHBRIDGE__FEED_FETCH__INIT;
    f.stream = (char *)TB_STREAM_REQUESTS;
    f.consumer = (char *)"poison";
    f.after = after;
    f.max = 10;
    f.correlation_id = (char *)"rt-fetch";
    uint8_t buf[256];
    size_t len = techbridge__feed_fetch__pack(&f, buf);
    void *req = zmq_socket(c->ctx, ZMQ_REQ);
    int zero = 0, ms = 5000;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &ms, sizeof ms);
    cr_assert_eq(zmq_connect(req, s_feed_endpoint), 0);
    cr_assert_eq(zmq_send(req, buf, len, 0), (int)len);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    Techbridge__FeedBatch *batch = NULL;
    if (zmq_msg_recv(&msg, req, 0) >= 0)
        batch =
            techbridge__feed_batch__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    zmq_close(req);
    return batch;
}

/*  Polls Health until the consumer shows `cursor` with head `head`; fails
    with what it last saw. */
static void s_wait_position(s_client_t *c, int64_t cursor, int64_t head)
{
    int64_t deadline = s_now_ms() + 10000, seen_cursor = -1, seen_head = -1, lag = -1;
    for (;;) {
        Techbridge__ApiReply *r = s_health(c);
        cr_assert_not_null(r);
        cr_assert_eq(r->health->n_feeds, 1);
        Techbridge__FeedLag *f = r->health->feeds[0];
        seen_cursor = f->cursor;
        seen_head = f->head;
        lag = f->lag;
        techbridge__api_reply__free_unpacked(r, NULL);
        if (seen_cursor == cursor && seen_head == head && lag == head - cursor)
            return;
        cr_assert_lt(s_now_ms(), deadline,
                     "health shows cursor %lld head %lld lag %lld, not %lld/%lld",
                     (long long)seen_cursor, (long long)seen_head, (long long)lag,
                     (long long)cursor, (long long)head);
        usleep(20000);
    }
}

Test(runtime, service_serves_and_follows_a_feed)
{
    s_sql(s_conn, "CREATE TABLE rt_applied (seq bigint PRIMARY KEY, cid text)");
    pid_t pid = s_service_start_with(true);
    s_client_t c;
    s_client_open(&c);
    s_wait_db(&c, true);

    s_append(3, "cid-feed-1");
    s_wait_applied(3);
    s_append(2, "cid-feed-2");
    s_wait_applied(5);
    cr_assert_eq(s_sql(s_conn, "SELECT last_seq FROM feed_cursors WHERE consumer = 'rt'"),
                 5);

    /* Health shows the consumer's position (the head arrives with a batch). */
    s_wait_position(&c, 5, 5);

    /* A lost session on the consumer's side: events committed meanwhile still
       arrive, once. */
    s_kill_sessions();
    s_append(2, "cid-feed-3");
    s_wait_applied(7);

    kill(pid, SIGTERM);
    cr_assert_eq(s_wait_exit(pid, 5000), 0);
    s_client_close(&c);
}

/*  Issue 16, item 5: a fetch after a position past the head (INT64_MAX) gets
    an empty batch with the true head, and the head the consumers see stays
    true: no lag of 9.2e18. */
Test(runtime, a_fetch_past_the_head_does_not_move_it)
{
    s_sql(s_conn, "CREATE TABLE rt_applied (seq bigint PRIMARY KEY, cid text)");
    pid_t pid = s_service_start_with(true);
    s_client_t c;
    s_client_open(&c);
    s_wait_db(&c, true);
    s_append(3, "cid-head-1");
    s_wait_applied(3);
    s_wait_position(&c, 3, 3);

    Techbridge__FeedBatch *b = s_fetch(&c, INT64_MAX);
    cr_assert_not_null(b, "the feed did not answer a fetch after INT64_MAX");
    cr_assert_eq(b->n_events, 0);
    cr_assert_eq(b->head, 3, "a fetch past the head was told head %lld",
                 (long long)b->head);
    techbridge__feed_batch__free_unpacked(b, NULL);
    b = s_fetch(&c, 1000);
    cr_assert_not_null(b);
    cr_assert_eq(b->head, 3, "head %lld after the fetch past it", (long long)b->head);
    techbridge__feed_batch__free_unpacked(b, NULL);

    /* The consumer's next batches carry the true head. */
    s_append(1, "cid-head-2");
    s_wait_applied(4);
    s_wait_position(&c, 4, 4);
    b = s_fetch(&c, 0);
    cr_assert_not_null(b);
    cr_assert_eq(b->n_events, 4);
    cr_assert_eq(b->head, 4);
    techbridge__feed_batch__free_unpacked(b, NULL);

    kill(pid, SIGTERM);
    cr_assert_eq(s_wait_exit(pid, 5000), 0);
    s_client_close(&c);
}

/*  database_ok of tb-intake's Health, or -1 when it did not answer. */
static int s_intake_db_ok(void)
{
    Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req.health = &h;
    Techbridge__ApiReply *r = tb_test_call(g_arena, g_api, &req, 2000);
    if (!r || r->result_case != TECHBRIDGE__API_REPLY__RESULT_HEALTH)
        return -1;
    return r->health->database_ok ? 1 : 0;
}

static bool s_intake_db_is(void *want)
{
    return s_intake_db_ok() == *(int *)want;
}

/*  Issue 16, item 2: a PostgreSQL restart with no traffic. Every session that
    serves calls (tb-intake's pool workers, not only the loop's own) notices
    it while idle and comes back by itself; Health says false meanwhile and
    true only when calls will work; the first calls after that all succeed. */
Test(runtime, idle_sessions_come_back_from_a_restart_before_a_call, .init = fx_setup,
     .fini = fx_teardown, .timeout = 120)
{
    if (!tb_test_pg_can_restart())
        cr_skip_test("TB_TEST_PGDATA / TB_TEST_PGBIN are not set");
    fx_start_intake(NULL);
    fx_submit_ok(fx_load("offer_cn.json", "RT-BEFORE"));
    int64_t t_stop = tb_test_now_ms();
    cr_assert_eq(tb_test_pg_stop(), 0);
    int down = 0;
    bool saw_down = tb_test_wait_until(s_intake_db_is, &down, 10000);
    int start_rc = tb_test_pg_start();
    int64_t t_up = tb_test_now_ms();
    cr_assert_eq(start_rc, 0, "PostgreSQL did not start again");
    cr_assert(saw_down, "Health said database_ok while PostgreSQL was stopped");
    int up = 1;
    cr_assert(tb_test_wait_until(s_intake_db_is, &up, 30000),
              "Health never said database_ok again");
    int64_t t_ok = tb_test_now_ms();
    fprintf(stderr,
            "figure: PostgreSQL restart (pg_ctl stop -m fast, start): database_ok true "
            "%.2f s after the server was up (%.2f s after the stop began)\n",
            (double)(t_ok - t_up) / 1000.0, (double)(t_ok - t_stop) / 1000.0);
    /* No traffic met a dead session: the next calls all succeed. */
    for (int i = 0; i < 6; i++) {
        char ref[32];
        snprintf(ref, sizeof ref, "RT-AFTER-%d", i);
        Techbridge__ApiReply *r = fx_submit(fx_load("need_by.json", ref), NULL);
        cr_assert_null(r->error, "submission %d after the restart: %s: %s", i, fx_code(r),
                       r->error ? r->error->message : "");
        Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
        fx_list(&l, NULL);
    }
    cr_assert_eq(fx_count("SELECT count(*) FROM intake_requests"), 7);
}
