/*  gateway_store: SQL of the gateway's tables, on a pool of tb_db sessions. */
#include "gateway_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_db.h"
#include "tb_log.h"
#include "tb_migrate.h"

#define S_MAX_POOL 16

struct gw_store_t {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int size;
    tb_db_t *db[S_MAX_POOL];
    bool busy[S_MAX_POOL];
};

/* Statements by name; each is prepared on every session of the pool. */
static const struct {
    const char *name;
    const char *sql;
} s_statements[] = {
    {"gw_user_add", "INSERT INTO gateway_users (name, role, password_hash) "
                    "VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING"},
    {"gw_user_passwd", "UPDATE gateway_users SET password_hash = $2, updated_at = now() "
                       "WHERE name = $1"},
    {"gw_user_disable", "UPDATE gateway_users SET disabled = true, updated_at = now() "
                        "WHERE name = $1"},
    {"gw_user_sessions_end", "DELETE FROM gateway_sessions WHERE user_name = $1"},
    {"gw_user_get", "SELECT role, password_hash, disabled FROM gateway_users "
                    "WHERE name = $1"},
    {"gw_session_add", "INSERT INTO gateway_sessions (secret_hash, user_name, kind, "
                       "csrf, label, expires_at) "
                       "VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint / 1000.0))"},
    {"gw_session_get",
     "SELECT s.user_name, u.role, s.kind, s.csrf, "
     "       (extract(epoch FROM s.expires_at) * 1000)::bigint "
     "FROM gateway_sessions s JOIN gateway_users u ON u.name = s.user_name "
     "WHERE s.secret_hash = $1 AND s.expires_at > now() AND NOT u.disabled"},
    {"gw_session_delete", "DELETE FROM gateway_sessions WHERE secret_hash = $1"},
    {"gw_session_sweep", "DELETE FROM gateway_sessions WHERE expires_at <= now()"},
};

static int s_prepare_all(tb_db_t *db)
{
    for (size_t i = 0; i < sizeof s_statements / sizeof s_statements[0]; i++)
        if (tb_db_prepare(db, s_statements[i].name, s_statements[i].sql) != 0)
            return -1;
    return 0;
}

gw_store_t *gw_store_new(const char *conninfo, int size, bool migrate)
{
    if (size < 1 || size > S_MAX_POOL)
        return NULL;
    gw_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->freed, NULL);
    self->size = size;
    for (int i = 0; i < size; i++)
        if (!(self->db[i] = tb_db_new(conninfo))) {
            gw_store_destroy(&self);
            return NULL;
        }
    tb_db_t *first = self->db[0];
    if (!tb_db_ok(first)) {
        tb_error("db.down", NULL, TB_S("detail", "cannot reach PostgreSQL at start"));
        gw_store_destroy(&self);
        return NULL;
    }
    if ((migrate && tb_migrate_apply(first) != 0) || tb_migrate_check(first) != 0) {
        gw_store_destroy(&self);
        return NULL;
    }
    /* Prepared once the tables exist (tb_db prepares again after a reconnect). */
    for (int i = 0; i < size; i++)
        if (s_prepare_all(self->db[i]) != 0) {
            gw_store_destroy(&self);
            return NULL;
        }
    return self;
}

void gw_store_destroy(gw_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_store_t *self = *self_p;
    for (int i = 0; i < self->size; i++)
        tb_db_destroy(&self->db[i]);
    pthread_cond_destroy(&self->freed);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/*  Takes a free session (waiting for one), reconnecting it when it is down. */
static int s_acquire(gw_store_t *self)
{
    pthread_mutex_lock(&self->lock);
    int slot = -1;
    while (slot < 0) {
        for (int i = 0; i < self->size && slot < 0; i++)
            if (!self->busy[i])
                slot = i;
        if (slot < 0)
            pthread_cond_wait(&self->freed, &self->lock);
    }
    self->busy[slot] = true;
    pthread_mutex_unlock(&self->lock);
    if (!tb_db_ok(self->db[slot]))
        tb_db_tick(self->db[slot]);
    return slot;
}

static void s_release(gw_store_t *self, int slot)
{
    pthread_mutex_lock(&self->lock);
    self->busy[slot] = false;
    pthread_cond_signal(&self->freed);
    pthread_mutex_unlock(&self->lock);
}

/*  Runs one statement; returns the result or NULL (logged). */
static PGresult *s_exec(gw_store_t *self, int slot, const char *name, int n,
                        const char *const *values)
{
    PGresult *res = tb_db_exec(self->db[slot], name, n, values);
    if (!res)
        tb_warn("db.error", NULL, TB_S("statement", name),
                TB_S("sqlstate", tb_db_sqlstate(self->db[slot])),
                TB_S("message", tb_db_message(self->db[slot])));
    return res;
}

/*  One statement; GW_STORE_NONE when it touched no row. */
static int s_change(gw_store_t *self, const char *name, int n, const char *const *values)
{
    int slot = s_acquire(self);
    PGresult *res = s_exec(self, slot, name, n, values);
    s_release(self, slot);
    if (!res)
        return -1;
    int rc = atoi(PQcmdTuples(res)) > 0 ? 0 : GW_STORE_NONE;
    PQclear(res);
    return rc;
}

int gw_store_user_add(gw_store_t *self, const char *name, const char *role,
                      const char *password_hash)
{
    const char *v[] = {name, role, password_hash};
    int rc = s_change(self, "gw_user_add", 3, v);
    return rc == GW_STORE_NONE ? GW_STORE_EXISTS : rc;
}

/*  An update of the user, then the end of its sessions, in one transaction. */
static int s_user_change(gw_store_t *self, const char *stmt, int n,
                         const char *const *values)
{
    int slot = s_acquire(self);
    tb_db_t *db = self->db[slot];
    int rc = -1;
    if (tb_db_begin(db) == 0) {
        PGresult *res = s_exec(self, slot, stmt, n, values);
        PGresult *ended = res && atoi(PQcmdTuples(res)) > 0
                              ? s_exec(self, slot, "gw_user_sessions_end", 1, values)
                              : NULL;
        if (res && atoi(PQcmdTuples(res)) == 0)
            rc = GW_STORE_NONE;
        else if (ended)
            rc = 0;
        PQclear(res);
        PQclear(ended);
        if (rc == 0 ? tb_db_commit(db) != 0 : tb_db_rollback(db) != 0)
            rc = -1;
    }
    s_release(self, slot);
    return rc;
}

int gw_store_user_passwd(gw_store_t *self, const char *name, const char *password_hash)
{
    const char *v[] = {name, password_hash};
    return s_user_change(self, "gw_user_passwd", 2, v);
}

int gw_store_user_disable(gw_store_t *self, const char *name)
{
    const char *v[] = {name};
    return s_user_change(self, "gw_user_disable", 1, v);
}

int gw_store_user_get(gw_store_t *self, const char *name, gw_user_t *out)
{
    memset(out, 0, sizeof *out);
    const char *v[] = {name};
    int slot = s_acquire(self);
    PGresult *res = s_exec(self, slot, "gw_user_get", 1, v);
    s_release(self, slot);
    if (!res)
        return -1;
    int rc = GW_STORE_NONE;
    if (PQntuples(res) == 1) {
        snprintf(out->name, sizeof out->name, "%s", name);
        snprintf(out->role, sizeof out->role, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->password_hash, sizeof out->password_hash, "%s",
                 PQgetvalue(res, 0, 1));
        out->disabled = PQgetvalue(res, 0, 2)[0] == 't';
        rc = 0;
    }
    PQclear(res);
    return rc;
}

int gw_store_session_add(gw_store_t *self, const char *secret_hash, const char *user,
                         const char *kind, const char *csrf, const char *label,
                         int64_t expires_ms)
{
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", (long long)expires_ms);
    const char *v[] = {secret_hash, user, kind, csrf, label ? label : "", exp};
    return s_change(self, "gw_session_add", 6, v);
}

int gw_store_session_get(gw_store_t *self, const char *secret_hash, gw_session_t *out)
{
    memset(out, 0, sizeof *out);
    const char *v[] = {secret_hash};
    int slot = s_acquire(self);
    PGresult *res = s_exec(self, slot, "gw_session_get", 1, v);
    s_release(self, slot);
    if (!res)
        return -1;
    int rc = GW_STORE_NONE;
    if (PQntuples(res) == 1) {
        snprintf(out->user, sizeof out->user, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->role, sizeof out->role, "%s", PQgetvalue(res, 0, 1));
        snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(res, 0, 2));
        snprintf(out->csrf, sizeof out->csrf, "%s", PQgetvalue(res, 0, 3));
        out->expires_ms = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        rc = 0;
    }
    PQclear(res);
    return rc;
}

int gw_store_session_delete(gw_store_t *self, const char *secret_hash)
{
    const char *v[] = {secret_hash};
    return s_change(self, "gw_session_delete", 1, v);
}

int gw_store_session_sweep(gw_store_t *self, long *deleted)
{
    int slot = s_acquire(self);
    PGresult *res = s_exec(self, slot, "gw_session_sweep", 0, NULL);
    s_release(self, slot);
    if (!res)
        return -1;
    *deleted = atol(PQcmdTuples(res));
    PQclear(res);
    return 0;
}
