/*  tb_db: one PostgreSQL session, owned by one thread. Knows when the server is
    gone, reconnects with back-off when asked, and prepares its registered
    statements again on every new session (they die with the old one). */
#ifndef TB_DB_H
#define TB_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"

typedef struct tb_db_t tb_db_t;

/*  What a failed call means to the caller. */
typedef enum {
    TB_DB_OK = 0,
    TB_DB_UNAVAILABLE,   /* no session, or it broke: answer UNAVAILABLE, retry later */
    TB_DB_UNIQUE,        /* 23505 unique_violation */
    TB_DB_SERIALIZATION, /* 40001/40P01: retry the transaction */
    TB_DB_INVALID,       /* 22xxx/23xxx other than unique: bad data reached SQL */
    TB_DB_ERROR          /* anything else: INTERNAL */
} tb_db_err_t;

/*  Makes the handle and tries to connect once. Never fails for a server that is
    down (the handle then reports !tb_db_ok and reconnects later); NULL only when
    out of memory. */
tb_db_t *tb_db_new(const char *conninfo);
void tb_db_destroy(tb_db_t **self_p);

bool tb_db_ok(const tb_db_t *self);

/*  Registers a statement, prepared now if connected and again after every
    reconnect. Returns 0, or -1 when preparing on a live session failed (bad SQL:
    a bug, logged). */
int tb_db_prepare(tb_db_t *self, const char *name, const char *sql);

/*  Registers a channel to LISTEN on, now and after every reconnect. */
int tb_db_listen(tb_db_t *self, const char *channel);

/*  Runs a registered statement with text parameters (NULL = SQL NULL).
    Returns the result (caller PQclears) when it is COMMAND_OK or TUPLES_OK,
    else NULL with tb_db_error() telling why. A broken session is noticed here:
    the handle turns !ok and the caller gets TB_DB_UNAVAILABLE. */
PGresult *tb_db_exec(tb_db_t *self, const char *name, int nparams,
                     const char *const *values);
/*  The same with parameters of given lengths and formats (1 = binary), e.g. a
    bytea event payload. */
PGresult *tb_db_exec_bin(tb_db_t *self, const char *name, int nparams,
                         const char *const *values, const int *lengths,
                         const int *formats);
/*  Runs SQL text with parameters (PQexecParams: one statement only). */
PGresult *tb_db_query(tb_db_t *self, const char *sql, int nparams,
                      const char *const *values);

/*  SQL (an expression) that turns the rest of its transaction to generic plans
    (set_config(..., true) is SET LOCAL). For transactions that run the same
    statements over and over with parameters whose values sway the planner
    (arrays, a cursor near the end): the plan cache otherwise keeps making
    custom plans, planning again on every call. A generic plan is kept until
    the table's statistics change; tb_db drops a session's cached plans every
    few seconds (between transactions) so that one made on a young table does
    not outlive its growth. */
#define TB_DB_GENERIC_PLANS "set_config('plan_cache_mode', 'force_generic_plan', true)"

/*  One statement of tb_db_pipeline: a registered statement and its text
    parameters; `result` is filled by the call. */
typedef struct {
    const char *name;
    int nparams;
    const char *const *values;
    PGresult *result;
} tb_db_stmt_t;

/*  Runs `n` registered statements, in order, as ONE transaction in one round
    trip (libpq pipeline mode: the server commits at the closing Sync). Why:
    a group commit that waits for each of its statements in turn spends most
    of its time in round trips and context switches. Call it outside a
    transaction. Returns 0 with every stmts[i].result set (the caller
    PQclears them) once the transaction committed, or -1 with the error of the
    first statement that failed (tb_db_error), nothing committed and every
    result NULL. When the session breaks during the call the outcome is
    unknown, as for tb_db_commit. */
int tb_db_pipeline(tb_db_t *self, tb_db_stmt_t *stmts, size_t n);

/*  Transactions. begin/commit/rollback return 0 or -1. Commit failing with a
    broken session means the outcome is unknown: the caller's retry must be
    idempotent. rollback on a broken session is a no-op returning 0. */
int tb_db_begin(tb_db_t *self);
int tb_db_commit(tb_db_t *self);
int tb_db_rollback(tb_db_t *self);

/*  Why the last call failed, its SQLSTATE ("" when none) and message. */
tb_db_err_t tb_db_error(const tb_db_t *self);
const char *tb_db_sqlstate(const tb_db_t *self);
const char *tb_db_message(const tb_db_t *self);

/*  When !ok: tries to reconnect if its back-off (100 ms doubling to 5 s) has
    passed. Returns 0 when the session is (now) up, -1 otherwise. Cheap to call
    often; the service loop calls it on every tick. */
int tb_db_tick(tb_db_t *self);
/*  Milliseconds until the next reconnect attempt is due (0: now, -1: connected). */
long tb_db_next_attempt_ms(const tb_db_t *self);

/*  The session's socket for zmq_poll, or -1 when down. */
int tb_db_socket(const tb_db_t *self);
/*  Before a caller uses the session: notices, without waiting, a session the
    server ended while it was idle (a restart), and then reconnects at once
    instead of letting the caller meet the dead session; while down it is
    tb_db_tick. Returns 0 when the session is (now) up, -1 otherwise. */
int tb_db_check(tb_db_t *self);
/*  Reads what the socket has and returns the number of NOTIFYs received since
    the last call (their payloads are not needed: a notify is only a hint). */
int tb_db_drain_notifies(tb_db_t *self);

/*  A bytea column of a text-format result, decoded into the arena. NULL when
    the value is NULL, malformed, over `max` bytes or past the arena's cap. */
uint8_t *tb_db_bytea(tb_arena_t *arena, const PGresult *res, int row, int col, size_t max,
                     size_t *len);

/*  Counters for the stats line. */
long tb_db_round_trips(const tb_db_t *self);
long tb_db_reconnects(const tb_db_t *self);

/*  Raw session for the rare caller that needs libpq directly (migrations);
    NULL when down. */
PGconn *tb_db_conn(tb_db_t *self);

#endif
