/*  matching_store against a real PostgreSQL: the document frequencies the
    upsert hands back on a publish are the ones a lookup in the same
    transaction reads, and it says so only when they cover the whole row. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"
#include "matching_store.h"
#include "tb_arena.h"
#include "tb_db.h"
#include "tb_log.h"
#include "tb_migrate.h"

static char *g_db;
static tb_db_t *g_conn;
static tb_arena_t *g_a;

static void setup(void)
{
    tb_log_setup("test_matching_store", "warn", "text");
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set (run scripts/test)");
    g_db = tb_test_db_new();
    cr_assert_not_null(g_db);
    g_conn = tb_db_new(g_db);
    cr_assert(tb_db_ok(g_conn), "cannot connect to %s", g_db);
    cr_assert_eq(tb_migrate_apply(g_conn), 0);
    g_a = tb_arena_new(0);
    cr_assert_not_null(g_a);
}

static void teardown(void)
{
    tb_arena_destroy(&g_a);
    tb_db_destroy(&g_conn);
    tb_test_db_drop(&g_db);
}

TestSuite(matching_store, .init = setup, .fini = teardown, .timeout = 60);

static Techbridge__Request *s_request(const char *id, Techbridge__Kind kind,
                                      const char *org, const char *title,
                                      const char *summary)
{
    Techbridge__Request *r =
        TB_PB_NEW(g_a, Techbridge__Request, techbridge__request__descriptor);
    r->id = (char *)id;
    r->kind = kind;
    r->org = TB_PB_NEW(g_a, Techbridge__Org, techbridge__org__descriptor);
    r->org->id = (char *)org;
    r->title = (char *)title;
    r->summary = (char *)summary;
    r->sector = "woodworking";
    static char *kw[] = {"kiln", "lumber drying"};
    r->keywords = kw;
    r->n_keywords = 2;
    r->trl = 6;
    r->status = TECHBRIDGE__STATUS__SUBMITTED;
    r->version = 1;
    return r;
}

/*  Upserts r (status and version as given) in a transaction of its own and
    compares what the upsert handed back with a lookup made right after it. */
static bool s_upsert_and_compare(Techbridge__Request *r, Techbridge__Status status,
                                 int64_t version)
{
    r->status = status;
    r->version = version;
    int old_status = 0;
    bool stale = true, known = true;
    matching_req_t *row = NULL;
    matching_dfmap_t own, looked;
    cr_assert_eq(tb_db_begin(g_conn), 0);
    cr_assert_eq(
        matching_store_upsert(g_conn, g_a, r, &old_status, &stale, &row, &own, &known), 0,
        "%s", tb_db_message(g_conn));
    cr_assert_not(stale);
    cr_assert_not_null(row);
    const matching_req_t *rows[] = {row};
    cr_assert_eq(matching_store_dfmap(g_conn, g_a, rows, 1, &looked), 0);
    cr_assert_eq(tb_db_commit(g_conn), 0);
    if (!known)
        return false;
    cr_assert_gt(row->n_terms, 0);
    cr_assert_eq(own.n, looked.n);
    cr_assert_eq(own.n_docs, looked.n_docs);
    for (size_t i = 0; i < own.n; i++) {
        cr_assert_str_eq(own.terms[i], looked.terms[i]);
        cr_assert_eq(own.df[i], looked.df[i], "df of %s: %ld handed back, %ld read",
                     own.terms[i], own.df[i], looked.df[i]);
    }
    return true;
}

Test(matching_store, a_publish_hands_back_the_df_a_lookup_reads)
{
    Techbridge__Request *a = s_request(
        "0b9d2f5e-3c55-4c1a-9a43-0c2a51c1f001", TECHBRIDGE__KIND__OFFER, "org.a",
        "Heat-pump vacuum kiln for lumber", "Dries oak and birch lumber fast.");
    Techbridge__Request *b =
        s_request("0b9d2f5e-3c55-4c1a-9a43-0c2a51c1f002", TECHBRIDGE__KIND__NEED, "org.b",
                  "Lumber drying kiln wanted", "We need a kiln that dries birch.");
    /* Submitted: nothing published moves, so nothing is handed back. */
    cr_assert_not(s_upsert_and_compare(a, TECHBRIDGE__STATUS__SUBMITTED, 1));
    cr_assert_not(s_upsert_and_compare(b, TECHBRIDGE__STATUS__SUBMITTED, 1));
    /* First publishes: every term of the row moves up. */
    cr_assert(s_upsert_and_compare(a, TECHBRIDGE__STATUS__PUBLISHED, 2));
    cr_assert(s_upsert_and_compare(b, TECHBRIDGE__STATUS__PUBLISHED, 2));
    cr_assert_eq(
        tb_test_sql_scalar(g_db, "SELECT df FROM matching_terms WHERE term = 'kiln'"), 2);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT published FROM matching_corpus"), 2);
    /* An edit while published keeps the terms it shares untouched: not all of
       the row's df moved, so the caller must look them up. */
    b->title = "Lumber drying kiln with heat recovery wanted";
    cr_assert_not(s_upsert_and_compare(b, TECHBRIDGE__STATUS__PUBLISHED, 3));
    /* Withdrawn, then published again: all of them move up once more. */
    cr_assert_not(s_upsert_and_compare(b, TECHBRIDGE__STATUS__WITHDRAWN, 4));
    cr_assert(s_upsert_and_compare(b, TECHBRIDGE__STATUS__PUBLISHED, 5));
}
