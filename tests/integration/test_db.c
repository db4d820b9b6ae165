/*  tb_db_pipeline against a real PostgreSQL: the statements of a pipeline are
    one transaction (all or nothing), their results come back in order, an
    error names the statement's SQLSTATE class, and the session is clean for
    the next call either way. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tb_db.h"
#include "tb_log.h"

static char *g_db;
static tb_db_t *g_conn;

static void setup(void)
{
    tb_log_setup("test_db", "warn", "text");
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set (run scripts/test)");
    g_db = tb_test_db_new();
    cr_assert_not_null(g_db);
    cr_assert_eq(tb_test_sql_exec(g_db, "CREATE TABLE t (k int PRIMARY KEY, v text)"), 0);
    g_conn = tb_db_new(g_db);
    cr_assert(tb_db_ok(g_conn));
    cr_assert_eq(
        tb_db_prepare(g_conn, "put", "INSERT INTO t VALUES ($1::int, $2) RETURNING k"),
        0);
    cr_assert_eq(tb_db_prepare(g_conn, "count", "SELECT count(*) FROM t"), 0);
}

static void teardown(void)
{
    tb_db_destroy(&g_conn);
    tb_test_db_drop(&g_db);
}

TestSuite(db, .init = setup, .fini = teardown, .timeout = 60);

static tb_db_stmt_t s_put(const char *const *kv)
{
    return (tb_db_stmt_t){.name = "put", .nparams = 2, .values = kv};
}

static void s_clear(tb_db_stmt_t *st, size_t n)
{
    for (size_t i = 0; i < n; i++)
        PQclear(st[i].result);
}

Test(db, pipeline_commits_all_and_returns_results_in_order)
{
    const char *a[] = {"1", "one"}, *b[] = {"2", "two"};
    tb_db_stmt_t st[3] = {s_put(a), s_put(b), {.name = "count"}};
    cr_assert_eq(tb_db_pipeline(g_conn, st, 3), 0, "%s", tb_db_message(g_conn));
    cr_assert_str_eq(PQgetvalue(st[0].result, 0, 0), "1");
    cr_assert_str_eq(PQgetvalue(st[1].result, 0, 0), "2");
    /* A later statement sees the earlier ones: one transaction. */
    cr_assert_str_eq(PQgetvalue(st[2].result, 0, 0), "2");
    s_clear(st, 3);
    cr_assert_eq(PQtransactionStatus(tb_db_conn(g_conn)), PQTRANS_IDLE);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM t"), 2,
                 "not committed when the call returned");
}

Test(db, a_failing_statement_rolls_back_the_whole_pipeline)
{
    cr_assert_eq(tb_test_sql_exec(g_db, "INSERT INTO t VALUES (7, 'taken')"), 0);
    const char *a[] = {"1", "one"}, *taken[] = {"7", "again"}, *c[] = {"3", "three"};
    tb_db_stmt_t st[3] = {s_put(a), s_put(taken), s_put(c)};
    cr_assert_eq(tb_db_pipeline(g_conn, st, 3), -1);
    cr_assert_eq(tb_db_error(g_conn), TB_DB_UNIQUE, "error %d: %s", tb_db_error(g_conn),
                 tb_db_message(g_conn));
    cr_assert_str_eq(tb_db_sqlstate(g_conn), "23505");
    for (int i = 0; i < 3; i++)
        cr_assert_null(st[i].result, "statement %d kept a result", i);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM t"), 1,
                 "the first insert of the failed pipeline was committed");
    /* The session is usable at once, outside any transaction. */
    cr_assert(tb_db_ok(g_conn));
    cr_assert_eq(PQtransactionStatus(tb_db_conn(g_conn)), PQTRANS_IDLE);
    PGresult *r = tb_db_exec(g_conn, "count", 0, NULL);
    cr_assert_not_null(r, "%s", tb_db_message(g_conn));
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
}

Test(db, pipeline_of_an_unregistered_statement_fails_before_sending)
{
    const char *a[] = {"1", "one"};
    tb_db_stmt_t st[2] = {s_put(a), {.name = "nobody registered this"}};
    int64_t before = tb_db_round_trips(g_conn);
    cr_assert_eq(tb_db_pipeline(g_conn, st, 2), -1);
    /* Refused by the statement check, not by the server: nothing was sent. */
    cr_assert_str_eq(tb_db_message(g_conn), "statement is not registered");
    cr_assert_eq(tb_db_round_trips(g_conn), before, "the pipeline went to the server");
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM t"), 0);
    cr_assert(tb_db_ok(g_conn));
}

Test(db, pipeline_on_a_terminated_session_is_unavailable_then_recovers)
{
    char sql[160];
    PGresult *pid = tb_db_query(g_conn, "SELECT pg_backend_pid()", 0, NULL);
    cr_assert_not_null(pid);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s)", PQgetvalue(pid, 0, 0));
    PQclear(pid);
    cr_assert_eq(tb_test_sql_exec(g_db, sql), 0);
    const char *a[] = {"1", "one"};
    tb_db_stmt_t st[1] = {s_put(a)};
    cr_assert_eq(tb_db_pipeline(g_conn, st, 1), -1);
    cr_assert_eq(tb_db_error(g_conn), TB_DB_UNAVAILABLE, "error %d: %s",
                 tb_db_error(g_conn), tb_db_message(g_conn));
    cr_assert_not(tb_db_ok(g_conn));
    /* Reconnects (after its back-off) and prepares again. */
    int64_t deadline = tb_test_now_ms() + 10000;
    while (tb_db_tick(g_conn) != 0 && tb_test_now_ms() < deadline)
        usleep(20000);
    cr_assert(tb_db_ok(g_conn));
    cr_assert_eq(tb_db_pipeline(g_conn, st, 1), 0, "%s", tb_db_message(g_conn));
    s_clear(st, 1);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM t"), 1);
}

/* ---- cached plans are made again ---- */

/*  The generic plan of "find" as EXPLAIN EXECUTE shows it in a transaction
    that forces generic plans, as the services' transactions do. */
static bool s_find_plan_has(const char *what)
{
    cr_assert_eq(tb_db_begin(g_conn), 0);
    PQclear(tb_db_query(g_conn, "SELECT " TB_DB_GENERIC_PLANS, 0, NULL));
    PGresult *res = tb_db_query(g_conn, "EXPLAIN EXECUTE find(7)", 0, NULL);
    cr_assert_not_null(res, "%s", tb_db_message(g_conn));
    bool found = false;
    for (int i = 0; i < PQntuples(res); i++)
        found = found || strstr(PQgetvalue(res, i, 0), what) != NULL;
    PQclear(res);
    cr_assert_eq(tb_db_commit(g_conn), 0);
    return found;
}

Test(db, a_plan_made_on_an_empty_table_is_made_again_as_it_grows, .timeout = 90)
{
    /*  Analyzed while empty, as autovacuum does to a fresh database's tables;
        autovacuum kept away from it afterwards, so that only the session's own
        refresh can replace the plan. */
    cr_assert_eq(tb_test_sql_exec(g_db, "CREATE TABLE g (k int, v text) "
                                        "WITH (autovacuum_enabled = false)"),
                 0);
    cr_assert_eq(tb_test_sql_exec(g_db, "CREATE INDEX g_k ON g (k)"), 0);
    cr_assert_eq(tb_test_sql_exec(g_db, "ANALYZE g"), 0);
    cr_assert_eq(tb_db_prepare(g_conn, "find", "SELECT v FROM g WHERE k = $1::int"), 0);
    cr_assert(s_find_plan_has("Seq Scan"), "an empty table is read whole");
    cr_assert_eq(tb_test_sql_exec(g_db, "INSERT INTO g SELECT i, 'x' "
                                        "FROM generate_series(1, 50000) i"),
                 0);
    cr_assert(s_find_plan_has("Seq Scan"), "the cached plan is kept for a while");
    sleep(11); /* past the plans' maximum age */
    cr_assert(s_find_plan_has("Index"), "made again for the table as it is now");
}
