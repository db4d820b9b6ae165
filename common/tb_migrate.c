/*  tb_migrate: applies the embedded migrations under an advisory lock and checks
    that the database's schema is the one this binary knows. */
#include "tb_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_log.h"
#include "tb_util.h"

/*  The advisory lock key: the ASCII bytes of "tbmigrat" as one 64-bit number, so
    that it is fixed across versions and unlikely to meet anyone else's key. */
#define S_LOCK_KEY "8386119469838827892" /* 0x74626d6967726174 */

static int s_highest(void)
{
    int v = 0;
    for (int i = 0; i < tb_migrations_count; i++)
        if (tb_migrations[i].version > v)
            v = tb_migrations[i].version;
    return v;
}

/*  Runs one statement without parameters; 0 or -1 (logged with `what`). */
static int s_run(tb_db_t *db, const char *what, const char *sql)
{
    PGresult *res = tb_db_query(db, sql, 0, NULL);
    if (!res) {
        tb_error("migrate.failed", NULL, TB_S("step", what),
                 TB_S("error", tb_db_message(db)));
        return -1;
    }
    PQclear(res);
    return 0;
}

static void s_unlock(tb_db_t *db)
{
    if (!tb_db_ok(db))
        return; /* the lock went with the session */
    const char *key[] = {S_LOCK_KEY};
    PGresult *res = tb_db_query(db, "SELECT pg_advisory_unlock($1::bigint)", 1, key);
    if (res)
        PQclear(res);
}

/*  Whether `version` is in the applied set (a result of one int column). */
static bool s_applied(const PGresult *res, int version)
{
    for (int r = 0; r < PQntuples(res); r++)
        if (atoi(PQgetvalue(res, r, 0)) == version)
            return true;
    return false;
}

/*  Applies one file and its schema_migrations row in one transaction. */
static int s_apply_one(tb_db_t *db, const tb_migration_t *m)
{
    int64_t t0 = tb_mono_us();
    if (tb_db_begin(db) != 0) {
        tb_error("migrate.failed", NULL, TB_S("file", m->name),
                 TB_S("error", tb_db_message(db)));
        return -1;
    }
    /* A file holds several statements: PQexec takes them all. It is our own
       text, compiled in, never data. */
    PGconn *conn = tb_db_conn(db);
    PGresult *res = conn ? PQexec(conn, m->sql) : NULL;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *msg = res ? PQresultErrorMessage(res)
                              : (conn ? PQerrorMessage(conn) : "no session");
        char buf[512];
        snprintf(buf, sizeof buf, "%s", msg);
        size_t n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
            buf[--n] = '\0';
        tb_error("migrate.failed", NULL, TB_S("file", m->name), TB_S("error", buf));
        PQclear(res);
        tb_db_rollback(db);
        return -1;
    }
    PQclear(res);
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name};
    res = tb_db_query(db, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                      2, params);
    if (!res) {
        tb_error("migrate.failed", NULL, TB_S("file", m->name),
                 TB_S("error", tb_db_message(db)));
        tb_db_rollback(db);
        return -1;
    }
    PQclear(res);
    if (tb_db_commit(db) != 0) {
        tb_error("migrate.failed", NULL, TB_S("file", m->name),
                 TB_S("error", tb_db_message(db)));
        return -1;
    }
    tb_info("migrate.applied", NULL, TB_I("version", m->version), TB_S("file", m->name),
            TB_I("ms", (tb_mono_us() - t0) / 1000));
    return 0;
}

int tb_migrate_apply(tb_db_t *db)
{
    if (!tb_db_ok(db)) {
        tb_error("migrate.failed", NULL, TB_S("error", "database unavailable"));
        return -1;
    }
    const char *key[] = {S_LOCK_KEY};
    PGresult *res = tb_db_query(db, "SELECT pg_advisory_lock($1::bigint)", 1, key);
    if (!res) {
        tb_error("migrate.failed", NULL, TB_S("step", "lock"),
                 TB_S("error", tb_db_message(db)));
        return -1;
    }
    PQclear(res);

    int rc = s_run(db, "create schema_migrations",
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version int PRIMARY KEY,"
                   " name text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())");
    PGresult *applied = NULL;
    if (rc == 0) {
        applied = tb_db_query(db, "SELECT version FROM schema_migrations", 0, NULL);
        if (!applied) {
            tb_error("migrate.failed", NULL, TB_S("step", "read schema_migrations"),
                     TB_S("error", tb_db_message(db)));
            rc = -1;
        }
    }
    int count = 0;
    for (int i = 0; rc == 0 && i < tb_migrations_count; i++) {
        if (s_applied(applied, tb_migrations[i].version))
            continue;
        rc = s_apply_one(db, &tb_migrations[i]);
        if (rc == 0)
            count++;
    }
    PQclear(applied);
    s_unlock(db);
    if (rc == 0 && count > 0)
        tb_info("migrate.done", NULL, TB_I("applied", count),
                TB_I("version", s_highest()));
    return rc;
}

int tb_migrate_check(tb_db_t *db)
{
    int want = s_highest();
    PGresult *res = tb_db_query(
        db, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
    int have = 0;
    if (res) {
        have = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    } else if (strcmp(tb_db_sqlstate(db), "42P01") != 0) {
        /* 42P01 (no table yet) is an empty schema, older than ours; else unreadable */
        tb_error("schema.unreadable", NULL, TB_S("error", tb_db_message(db)));
        return -1;
    }
    if (have == want)
        return 0;
    if (have < want)
        tb_error("schema.old", NULL, TB_I("database_version", have),
                 TB_I("binary_version", want),
                 TB_S("hint",
                      "the database schema is older than this binary: run it with "
                      "--migrate"));
    else
        tb_error("schema.unknown", NULL, TB_I("database_version", have),
                 TB_I("binary_version", want),
                 TB_S("hint", "the database schema is newer than this binary knows: this "
                              "binary is too old to run on it"));
    return -1;
}
