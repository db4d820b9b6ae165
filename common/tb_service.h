/*  tb_service: the runtime every service shares, so that none grows its own copy
    of the loop, the reply code, the feed or the reconnect logic. A service's main
    parses its config, makes a tb_service, hands it its core's handler, feeds and
    timers, and calls tb_service_run.

    The runtime owns: the ZeroMQ context and every socket, the database session
    (reconnect with back-off, migrations at start), signals (SIGTERM/SIGINT stop
    intake of work, finish what is in flight, return 0), one log line per API call
    (kind, outcome, latency, correlation id), Health calls, and the periodic stats
    line. Everything runs on the thread that calls tb_service_run, except the
    handler of a batch API, which runs on the workers of a tb_pool. */
#ifndef TB_SERVICE_H
#define TB_SERVICE_H

#include <stdbool.h>

#include "feed.pb-c.h"
#include "tb_call.h"
#include "tb_config.h"
#include "tb_db.h"
#include "tb_pool.h"

typedef struct tb_service_t tb_service_t;

/*  Serves one API call: reads call->req, fills call->reply. Returns 0, or -1
    when it set an error. Kinds it does not serve get
    tb_call_error (call, TECHBRIDGE__CODE__INVALID_ARGUMENT, "unknown kind ..."). */
typedef int (*tb_api_fn)(tb_call_t *call, void *core);

/*  Applies one event inside the consumer's transaction (the runtime stores the
    cursor in the same transaction and commits). Returns 0, or -1 to roll back
    and retry the event later (e.g. database trouble). */
typedef int (*tb_apply_fn)(tb_db_t *db, const Techbridge__Event *event, void *arg);
/*  Runs after the transaction of an applied event committed (e.g. to publish
    on a PUB socket what the transaction stored); may be NULL. */
typedef void (*tb_committed_fn)(const Techbridge__Event *event, void *arg);
/*  Whether a consumer has anything to do for `event` (tb_service_consume_wanted). */
typedef bool (*tb_wants_fn)(const Techbridge__Event *event, void *arg);

typedef void (*tb_timer_fn)(tb_service_t *service, void *arg);
typedef void (*tb_readable_fn)(tb_service_t *service, void *socket, void *arg);

/*  Sets up logging from the config, the ZeroMQ context, CURVE if keys are
    configured (else a warning that it runs open), and the database session. With
    --migrate set, tb_service_run applies migrations and returns. NULL on failure
    (logged). Takes nothing from `config`; it must outlive the service. */
tb_service_t *tb_service_new(const char *name, const tb_config_t *config);
void tb_service_destroy(tb_service_t **self_p);

tb_db_t *tb_service_db(tb_service_t *self);
void *tb_service_ctx(tb_service_t *self);
const tb_config_t *tb_service_config(tb_service_t *self);

/*  Binds the API ROUTER socket. Returns 0 or -1. */
int tb_service_bind_api(tb_service_t *self, const char *endpoint, tb_api_fn fn,
                        void *core);

/*  The most calls handed to a tb_api_batch_fn at once. */
#define TB_SERVICE_BATCH_MAX 64

/*  Serves several API calls that were waiting together (group commit): `calls`
    (1..TB_SERVICE_BATCH_MAX, in arrival order) are decoded and checked as for
    tb_api_fn; the handler fills every call's reply (a result, or an error) and
    leaves no transaction open. Health calls and calls that failed to decode
    never reach it. It runs on a worker thread (tb_pool) over the core that
    core_new made for that worker's own database session. */
typedef tb_pool_fn tb_api_batch_fn;

/*  A batch API: its handler, the cores of its workers and how many workers
    (each a thread with a database session of its own: while one batch waits
    for its COMMIT, another executes). */
typedef struct {
    tb_api_batch_fn fn;
    tb_pool_core_new_fn core_new;
    tb_pool_core_destroy_fn core_destroy;
    void *arg; /* for core_new */
    size_t sessions;
} tb_api_pool_t;

/*  Binds the API ROUTER socket like tb_service_bind_api, but hands the calls
    waiting on it to a pool of workers in batches (e.g. to run many in one
    transaction). The calls of one peer (one DEALER) run in the order sent: a
    call waits while an earlier call of its peer is out on another worker.
    Returns 0 or -1. */
int tb_service_bind_api_batch(tb_service_t *self, const char *endpoint,
                              const tb_api_pool_t *pool);

/*  Serves the event feed of `stream` (an outbox written with tb_feed_append) on a
    ROUTER bound at `endpoint`. */
int tb_service_serve_feed(tb_service_t *self, const char *stream, const char *endpoint);

/*  Follows the feed `stream` at `endpoint` as consumer `name`, applying each
    event once with `fn`, then calling `committed` (may be NULL) after commit. */
int tb_service_consume(tb_service_t *self, const char *name, const char *stream,
                       const char *endpoint, tb_apply_fn fn, tb_committed_fn committed,
                       void *arg);
/*  The same for a consumer with nothing to do for some events: only those
    `wants` (given `arg`) says yes to are applied (tb_feed_consumer_set_wants). */
int tb_service_consume_wanted(tb_service_t *self, const char *name, const char *stream,
                              const char *endpoint, tb_wants_fn wants, tb_apply_fn fn,
                              tb_committed_fn committed, void *arg);

/*  Watches `socket` (one of tb_service_bind_socket's, bound) with a
    tb_guard_budget: a TCP connection that sends more than `budget` bytes within
    `window_ms` is shut down. The service stops the watcher before it closes
    the socket. Returns 0 or -1. */
int tb_service_budget(tb_service_t *self, void *socket, uint64_t budget, int window_ms);

/*  Binds a socket of `type` for the service's own use (e.g. the notification
    XPUB), with the same security as the API. `fn` (may be NULL) runs when it is
    readable. Returns the socket (owned by the service) or NULL. */
void *tb_service_bind_socket(tb_service_t *self, int type, const char *endpoint,
                             tb_readable_fn fn, void *arg);

/*  Calls `fn` every `interval_ms` while the database is up. */
int tb_service_every(tb_service_t *self, int interval_ms, tb_timer_fn fn, void *arg);

/*  Runs until SIGTERM/SIGINT. Returns 0 on a clean stop, -1 on failure at start. */
int tb_service_run(tb_service_t *self);

#endif
