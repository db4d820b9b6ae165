/*  tb_db: one PostgreSQL session with reconnect, re-prepare and re-LISTEN. */
#include "tb_db.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_log.h"
#include "tb_util.h"

#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 5000
#define S_MESSAGE_MAX    512
/*  How long a session keeps its cached plans before DISCARD PLANS (see
    s_refresh_plans). */
#define S_PLANS_MAX_AGE_US (10 * 1000000LL)

typedef struct {
    char *name;
    char *sql;
    bool prepared; /* in the current session */
} s_stmt_t;

struct tb_db_t {
    char *conninfo;
    PGconn *conn; /* NULL while down */

    s_stmt_t *stmts;
    size_t nstmts;
    char **channels;
    size_t nchannels;

    tb_db_err_t err;
    char sqlstate[6];
    char message[S_MESSAGE_MAX];

    bool ever_connected;
    bool down_logged;   /* the warn line of this outage is out */
    int64_t down_since; /* mono us */
    int64_t next_try;   /* mono us */
    long backoff_ms;

    long round_trips;
    long reconnects;
    int64_t plans_at; /* mono us: when the cached plans were last dropped */
};

/* ---- errors ---- */

static void s_clear_error(tb_db_t *self)
{
    self->err = TB_DB_OK;
    self->sqlstate[0] = '\0';
    self->message[0] = '\0';
}

/*  Copies a libpq message without its trailing newline. */
static void s_set_message(tb_db_t *self, const char *msg)
{
    if (!msg)
        msg = "";
    snprintf(self->message, sizeof self->message, "%s", msg);
    size_t n = strlen(self->message);
    while (n > 0 && (self->message[n - 1] == '\n' || self->message[n - 1] == ' '))
        self->message[--n] = '\0';
}

static void s_set_error(tb_db_t *self, tb_db_err_t err, const char *sqlstate,
                        const char *msg)
{
    self->err = err;
    snprintf(self->sqlstate, sizeof self->sqlstate, "%s", sqlstate ? sqlstate : "");
    s_set_message(self, msg);
}

/*  The server's primary message of a failed result, else libpq's. */
static const char *s_res_message(const PGresult *res, const PGconn *conn)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg && res && *PQresultErrorMessage(res))
        msg = PQresultErrorMessage(res);
    return msg ? msg : PQerrorMessage(conn);
}

/*  SQLSTATEs that mean the session is gone or going (class 08: connection
    exception; 57P01..57P03: admin shutdown, crash shutdown, cannot connect now). */
static bool s_state_is_gone(const char *st)
{
    return st && (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
                  strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0);
}

static tb_db_err_t s_classify(const char *st)
{
    if (!st || !*st)
        return TB_DB_ERROR;
    if (strcmp(st, "23505") == 0)
        return TB_DB_UNIQUE;
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
        return TB_DB_SERIALIZATION;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return TB_DB_INVALID;
    return TB_DB_ERROR;
}

/* ---- session ---- */

/*  Drops the session: from now on !ok, and the next attempt is due after the
    back-off. Logs once per outage. */
static void s_mark_down(tb_db_t *self, const char *why)
{
    if (self->conn) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    for (size_t i = 0; i < self->nstmts; i++)
        self->stmts[i].prepared = false;
    int64_t now = tb_mono_us();
    if (!self->down_logged) {
        tb_warn("db.down", NULL, TB_S("error", why ? why : ""));
        self->down_logged = true;
        self->down_since = now;
        self->backoff_ms = S_BACKOFF_MIN_MS;
    }
    self->next_try = now + (int64_t)self->backoff_ms * 1000;
}

/*  libpq prints notices (e.g. "relation already exists, skipping") on stderr by
    default, which would break one-JSON-object-per-line: log them instead. */
static void s_notice(void *arg, const char *message)
{
    (void)arg;
    char buf[S_MESSAGE_MAX];
    snprintf(buf, sizeof buf, "%s", message ? message : "");
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    tb_debug("db.notice", NULL, TB_S("message", buf));
}

static int s_prepare_one(tb_db_t *self, s_stmt_t *stmt)
{
    PGresult *res = PQprepare(self->conn, stmt->name, stmt->sql, 0, NULL);
    self->round_trips++;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK) {
        PQclear(res);
        stmt->prepared = true;
        return 0;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(self->conn) == CONNECTION_BAD || s_state_is_gone(state)) {
        s_set_error(self, TB_DB_UNAVAILABLE, state, PQerrorMessage(self->conn));
        PQclear(res);
        s_mark_down(self, self->message);
        return -1;
    }
    s_set_error(self, s_classify(state), state, s_res_message(res, self->conn));
    PQclear(res);
    return -1;
}

static int s_listen_one(tb_db_t *self, const char *channel)
{
    char *ident = PQescapeIdentifier(self->conn, channel, strlen(channel));
    if (!ident) {
        s_set_error(self, TB_DB_ERROR, NULL, PQerrorMessage(self->conn));
        return -1;
    }
    size_t len = strlen(ident) + sizeof "LISTEN ";
    char *sql = malloc(len);
    if (!sql) {
        PQfreemem(ident);
        s_set_error(self, TB_DB_ERROR, NULL, "out of memory");
        return -1;
    }
    snprintf(sql, len, "LISTEN %s", ident);
    PQfreemem(ident);
    /* The channel is quoted as an identifier: no data reaches the SQL text. */
    PGresult *res = PQexec(self->conn, sql);
    free(sql);
    self->round_trips++;
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        return 0;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool gone = PQstatus(self->conn) == CONNECTION_BAD || s_state_is_gone(state);
    s_set_error(self, gone ? TB_DB_UNAVAILABLE : s_classify(state), state,
                s_res_message(res, self->conn));
    PQclear(res);
    if (gone)
        s_mark_down(self, self->message);
    return -1;
}

/*  Sets up a new session: statements and channels. A statement that fails to
    prepare on a live session (e.g. its table is made by a migration not yet
    applied) is prepared again on first use. Returns 0, or -1 when the session
    broke meanwhile. */
static int s_session_setup(tb_db_t *self)
{
    PQsetNoticeProcessor(self->conn, s_notice, NULL);
    for (size_t i = 0; i < self->nstmts; i++) {
        if (s_prepare_one(self, &self->stmts[i]) != 0) {
            if (!self->conn)
                return -1;
            tb_debug("db.prepare_deferred", NULL, TB_S("statement", self->stmts[i].name),
                     TB_S("error", self->message));
        }
    }
    for (size_t i = 0; i < self->nchannels; i++) {
        if (s_listen_one(self, self->channels[i]) != 0) {
            if (!self->conn)
                return -1;
            tb_error("db.listen_failed", NULL, TB_S("channel", self->channels[i]),
                     TB_S("error", self->message));
        }
    }
    s_clear_error(self);
    return 0;
}

/*  One connection attempt. Returns 0 when the session is up. */
static int s_connect(tb_db_t *self)
{
    /* Our defaults first: a later keyword wins, so the conninfo (expanded from
       dbname) may override them. */
    const char *app = program_invocation_short_name;
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"3", app && *app ? app : "techbridge", self->conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        s_set_error(self, TB_DB_UNAVAILABLE, NULL, "out of memory");
        s_mark_down(self, self->message);
        return -1;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        s_set_error(self, TB_DB_UNAVAILABLE, NULL, PQerrorMessage(conn));
        PQfinish(conn);
        if (self->down_logged) {
            /* Still down: back off further, say nothing. */
            self->backoff_ms *= 2;
            if (self->backoff_ms > S_BACKOFF_MAX_MS)
                self->backoff_ms = S_BACKOFF_MAX_MS;
        }
        s_mark_down(self, self->message);
        return -1;
    }
    self->conn = conn;
    self->plans_at = tb_mono_us();
    if (s_session_setup(self) != 0)
        return -1;
    if (self->ever_connected)
        self->reconnects++;
    self->ever_connected = true;
    if (self->down_logged) {
        tb_info("db.up", NULL, TB_I("down_ms", (tb_mono_us() - self->down_since) / 1000),
                TB_I("reconnects", self->reconnects));
        self->down_logged = false;
    }
    self->backoff_ms = S_BACKOFF_MIN_MS;
    return 0;
}

/* ---- public ---- */

tb_db_t *tb_db_new(const char *conninfo)
{
    tb_db_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->conninfo = strdup(conninfo ? conninfo : "");
    if (!self->conninfo) {
        free(self);
        return NULL;
    }
    self->backoff_ms = S_BACKOFF_MIN_MS;
    s_connect(self);
    return self;
}

void tb_db_destroy(tb_db_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_db_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    for (size_t i = 0; i < self->nstmts; i++) {
        free(self->stmts[i].name);
        free(self->stmts[i].sql);
    }
    free(self->stmts);
    for (size_t i = 0; i < self->nchannels; i++)
        free(self->channels[i]);
    free(self->channels);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

bool tb_db_ok(const tb_db_t *self)
{
    return self && self->conn != NULL;
}

static s_stmt_t *s_find(tb_db_t *self, const char *name)
{
    for (size_t i = 0; i < self->nstmts; i++)
        if (strcmp(self->stmts[i].name, name) == 0)
            return &self->stmts[i];
    return NULL;
}

int tb_db_prepare(tb_db_t *self, const char *name, const char *sql)
{
    if (!self || !name || !sql)
        return -1;
    s_stmt_t *old = s_find(self, name);
    if (old) {
        /* Several modules may register the same statement: fine if identical. */
        if (strcmp(old->sql, sql) == 0)
            return 0;
        tb_error("db.prepare_conflict", NULL, TB_S("statement", name));
        return -1;
    }
    if (self->conn) {
        s_stmt_t probe = {(char *)name, (char *)sql, false};
        if (s_prepare_one(self, &probe) != 0 && self->conn) {
            tb_error("db.prepare_failed", NULL, TB_S("statement", name),
                     TB_S("sqlstate", self->sqlstate), TB_S("error", self->message));
            return -1;
        }
    }
    s_stmt_t *stmts = realloc(self->stmts, (self->nstmts + 1) * sizeof *stmts);
    if (!stmts)
        return -1;
    self->stmts = stmts;
    s_stmt_t *stmt = &self->stmts[self->nstmts];
    stmt->name = strdup(name);
    stmt->sql = strdup(sql);
    if (!stmt->name || !stmt->sql) {
        free(stmt->name);
        free(stmt->sql);
        return -1;
    }
    /* prepared now (probe succeeded) or on the next session */
    stmt->prepared = self->conn != NULL;
    self->nstmts++;
    return 0;
}

int tb_db_listen(tb_db_t *self, const char *channel)
{
    if (!self || !channel || !*channel)
        return -1;
    for (size_t i = 0; i < self->nchannels; i++)
        if (strcmp(self->channels[i], channel) == 0)
            return 0;
    char **channels = realloc(self->channels, (self->nchannels + 1) * sizeof *channels);
    if (!channels)
        return -1;
    self->channels = channels;
    self->channels[self->nchannels] = strdup(channel);
    if (!self->channels[self->nchannels])
        return -1;
    self->nchannels++;
    if (self->conn && s_listen_one(self, channel) != 0 && self->conn) {
        tb_error("db.listen_failed", NULL, TB_S("channel", channel),
                 TB_S("error", self->message));
        return -1;
    }
    return 0;
}

/*  Turns a finished call into the result or NULL plus the error state. */
static PGresult *s_result(tb_db_t *self, PGresult *res)
{
    self->round_trips++;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        s_clear_error(self);
        return res;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(self->conn) == CONNECTION_BAD || s_state_is_gone(state)) {
        s_set_error(self, TB_DB_UNAVAILABLE, state, s_res_message(res, self->conn));
        PQclear(res);
        s_mark_down(self, self->message);
        return NULL;
    }
    s_set_error(self, s_classify(state), state, s_res_message(res, self->conn));
    if (st != PGRES_FATAL_ERROR && !*self->message)
        s_set_message(self, PQresStatus(st));
    PQclear(res);
    return NULL;
}

static bool s_ready(tb_db_t *self)
{
    if (self->conn)
        return true;
    s_set_error(self, TB_DB_UNAVAILABLE, NULL, "database unavailable");
    return false;
}

/*  Finds `name` and prepares it in this session if that has not happened yet. */
static bool s_ready_stmt(tb_db_t *self, const char *name)
{
    if (!s_ready(self))
        return false;
    s_stmt_t *stmt = s_find(self, name);
    if (!stmt) {
        s_set_error(self, TB_DB_ERROR, NULL, "statement is not registered");
        tb_error("db.unknown_statement", NULL, TB_S("statement", name));
        return false;
    }
    if (stmt->prepared)
        return true;
    if (s_prepare_one(self, stmt) != 0) {
        if (self->conn)
            tb_error("db.prepare_failed", NULL, TB_S("statement", name),
                     TB_S("sqlstate", self->sqlstate), TB_S("error", self->message));
        return false;
    }
    return true;
}

PGresult *tb_db_exec(tb_db_t *self, const char *name, int nparams,
                     const char *const *values)
{
    return tb_db_exec_bin(self, name, nparams, values, NULL, NULL);
}

PGresult *tb_db_exec_bin(tb_db_t *self, const char *name, int nparams,
                         const char *const *values, const int *lengths,
                         const int *formats)
{
    if (!s_ready_stmt(self, name))
        return NULL;
    return s_result(
        self, PQexecPrepared(self->conn, name, nparams, values, lengths, formats, 0));
}

PGresult *tb_db_query(tb_db_t *self, const char *sql, int nparams,
                      const char *const *values)
{
    if (!s_ready(self))
        return NULL;
    return s_result(self,
                    PQexecParams(self->conn, sql, nparams, NULL, values, NULL, NULL, 0));
}

/*  The session is in a state we cannot trust (a pipeline broke half way):
    drop it; the next call reconnects. */
static int s_pipeline_broken(tb_db_t *self, PGresult *res)
{
    if (self->err == TB_DB_OK)
        s_set_error(self, TB_DB_UNAVAILABLE, NULL,
                    *PQerrorMessage(self->conn) ? PQerrorMessage(self->conn)
                                                : "the pipeline broke");
    self->err = TB_DB_UNAVAILABLE;
    PQclear(res);
    s_mark_down(self, self->message);
    return -1;
}

/*  Reads statement results of a sent pipeline: for each, one result then
    NULL; then the Sync's. Keeps the first error. Returns 0, or -1 when the
    stream of results is not what the protocol promises (session dropped). */
static int s_pipeline_read(tb_db_t *self, tb_db_stmt_t *stmts, size_t n, bool *failed)
{
    for (size_t i = 0; i < n; i++) {
        PGresult *res = PQgetResult(self->conn);
        if (!res)
            return s_pipeline_broken(self, NULL);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            stmts[i].result = res;
        else if (st == PGRES_PIPELINE_ABORTED)
            PQclear(res); /* after an earlier statement's error */
        else {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (!*failed)
                s_set_error(self, s_classify(state), state,
                            s_res_message(res, self->conn));
            *failed = true;
            if (PQstatus(self->conn) == CONNECTION_BAD || s_state_is_gone(state))
                return s_pipeline_broken(self, res);
            PQclear(res);
        }
        PGresult *end = PQgetResult(self->conn); /* NULL: this statement is done */
        if (end)
            return s_pipeline_broken(self, end);
    }
    PGresult *sync = PQgetResult(self->conn);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
        return s_pipeline_broken(self, sync);
    PQclear(sync);
    return 0;
}

/*  Drops the session's cached plans when they are older than
    S_PLANS_MAX_AGE_US; called between transactions. Why: the services keep
    generic plans (TB_DB_GENERIC_PLANS), and PostgreSQL makes one again only
    when the table's statistics change. A plan made while a table was empty (a
    fresh database: tb-matching's lookup of a request's matches) was a
    sequential scan, kept while the table grew until autovacuum's next ANALYZE,
    a minute or more later: 0.30 ms a call at 2k matches instead of 0.02 ms.
    Planning every statement again every few seconds costs next to nothing.
    Prepared statements stay prepared. */
static void s_refresh_plans(tb_db_t *self)
{
    int64_t now = tb_mono_us();
    if (!self->conn || now - self->plans_at < S_PLANS_MAX_AGE_US)
        return;
    self->plans_at = now;
    PGresult *res = PQexec(self->conn, "DISCARD PLANS");
    self->round_trips++;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        tb_debug("db.discard_plans", NULL, TB_S("error", PQerrorMessage(self->conn)));
    PQclear(res);
}

int tb_db_pipeline(tb_db_t *self, tb_db_stmt_t *stmts, size_t n)
{
    s_refresh_plans(self);
    for (size_t i = 0; i < n; i++)
        stmts[i].result = NULL;
    /* Preparing is a round trip of its own: done before the pipeline. */
    for (size_t i = 0; i < n; i++)
        if (!s_ready_stmt(self, stmts[i].name))
            return -1;
    PGconn *conn = self->conn;
    s_clear_error(self);
    self->round_trips++;
    if (PQenterPipelineMode(conn) != 1)
        return s_pipeline_broken(self, NULL);
    for (size_t i = 0; i < n; i++)
        if (PQsendQueryPrepared(conn, stmts[i].name, stmts[i].nparams, stmts[i].values,
                                NULL, NULL, 0) != 1)
            return s_pipeline_broken(self, NULL);
    if (PQpipelineSync(conn) != 1)
        return s_pipeline_broken(self, NULL);
    bool failed = false;
    int rc = s_pipeline_read(self, stmts, n, &failed);
    if (rc == 0 && PQexitPipelineMode(conn) != 1)
        rc = s_pipeline_broken(self, NULL);
    if (rc == 0 && !failed)
        return 0;
    for (size_t i = 0; i < n; i++) {
        PQclear(stmts[i].result);
        stmts[i].result = NULL;
    }
    return -1;
}

static int s_simple(tb_db_t *self, const char *sql)
{
    if (!s_ready(self))
        return -1;
    PGresult *res = s_result(self, PQexec(self->conn, sql));
    if (!res)
        return -1;
    /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK. */
    bool rolled_back =
        strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
    PQclear(res);
    if (rolled_back) {
        s_set_error(self, TB_DB_ERROR, NULL,
                    "the transaction had failed and was rolled back");
        return -1;
    }
    return 0;
}

int tb_db_begin(tb_db_t *self)
{
    s_refresh_plans(self);
    return s_simple(self, "BEGIN");
}

int tb_db_commit(tb_db_t *self)
{
    return s_simple(self, "COMMIT");
}

int tb_db_rollback(tb_db_t *self)
{
    if (!self || !self->conn)
        return 0;
    /* Keep the error that made the caller roll back: it is what they report. */
    tb_db_err_t err = self->err;
    char sqlstate[sizeof self->sqlstate];
    char message[sizeof self->message];
    memcpy(sqlstate, self->sqlstate, sizeof sqlstate);
    memcpy(message, self->message, sizeof message);
    int rc = s_simple(self, "ROLLBACK");
    if (rc != 0 && self->conn)
        tb_warn("db.rollback_failed", NULL, TB_S("error", self->message));
    self->err = err;
    memcpy(self->sqlstate, sqlstate, sizeof sqlstate);
    memcpy(self->message, message, sizeof message);
    return self->conn ? rc : 0;
}

tb_db_err_t tb_db_error(const tb_db_t *self)
{
    return self->err;
}

const char *tb_db_sqlstate(const tb_db_t *self)
{
    return self->sqlstate;
}

const char *tb_db_message(const tb_db_t *self)
{
    return self->message;
}

int tb_db_tick(tb_db_t *self)
{
    if (self->conn)
        return 0;
    if (tb_mono_us() < self->next_try)
        return -1;
    return s_connect(self);
}

long tb_db_next_attempt_ms(const tb_db_t *self)
{
    if (self->conn)
        return -1;
    int64_t left = self->next_try - tb_mono_us();
    return left <= 0 ? 0 : (long)((left + 999) / 1000);
}

int tb_db_socket(const tb_db_t *self)
{
    return self->conn ? PQsocket(self->conn) : -1;
}

/*  Reads what the idle session's socket holds, so that a session the server
    ended is noticed now rather than by the next caller: a server shutting
    down sends FATAL and then closes, and libpq sees the close only on a read
    after the one that took the message, so it reads while the socket shows
    more. Returns 0, or -1 with the session marked down. NOTIFYs stay queued
    in libpq for PQnotifies. */
static int s_consume(tb_db_t *self)
{
    for (int round = 0; self->conn && round < 4; round++) {
        if (!PQconsumeInput(self->conn) || PQstatus(self->conn) == CONNECTION_BAD) {
            s_set_error(self, TB_DB_UNAVAILABLE, NULL, PQerrorMessage(self->conn));
            s_mark_down(self, self->message);
            return -1;
        }
        struct pollfd p = {.fd = PQsocket(self->conn), .events = POLLIN};
        if (p.fd < 0 || poll(&p, 1, 0) <= 0)
            break;
    }
    return self->conn ? 0 : -1;
}

int tb_db_drain_notifies(tb_db_t *self)
{
    if (!self->conn || s_consume(self) != 0)
        return 0;
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(self->conn)) != NULL) {
        PQfreemem(note);
        n++;
    }
    return n;
}

int tb_db_check(tb_db_t *self)
{
    if (self->conn) {
        struct pollfd p = {.fd = PQsocket(self->conn), .events = POLLIN};
        if (p.fd >= 0 && poll(&p, 1, 0) > 0 && s_consume(self) != 0)
            self->next_try = 0; /* found dead before a caller used it: try at once */
        if (self->conn)
            return 0;
    }
    return tb_db_tick(self);
}

long tb_db_round_trips(const tb_db_t *self)
{
    return self->round_trips;
}

long tb_db_reconnects(const tb_db_t *self)
{
    return self->reconnects;
}

PGconn *tb_db_conn(tb_db_t *self)
{
    return self->conn;
}

uint8_t *tb_db_bytea(tb_arena_t *arena, const PGresult *res, int row, int col, size_t max,
                     size_t *len)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    /*  bytea_output is hex since PostgreSQL 9.0: "\x0a1b..." */
    const char *text = PQgetvalue(res, row, col);
    size_t text_len = (size_t)PQgetlength(res, row, col);
    if (text_len < 2 || text[0] != '\\' || text[1] != 'x' || (text_len - 2) % 2 != 0)
        return NULL;
    size_t n = (text_len - 2) / 2;
    if (n > max)
        return NULL;
    uint8_t *out = tb_arena_alloc(arena, n ? n : 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi = tb_hex_value((unsigned char)text[2 + 2 * i]);
        int lo = tb_hex_value((unsigned char)text[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return NULL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n;
    return out;
}
