/*  tb_pool: threads that run batches of API calls, each thread with its own
    database session and its own core. Why: a service with one session runs
    one transaction at a time, so while a batch waits for its COMMIT's WAL
    flush nothing else moves; with a pool, one batch executes its statements
    while another commits, and PostgreSQL can use more than one core.

    The service thread keeps every ZeroMQ socket of the network: it decodes
    and checks calls, hands a batch to an idle worker over inproc
    (tb_pool_submit), and when the worker's socket turns readable takes the
    batch back (tb_pool_collect) with every reply filled, and sends them. A
    call's arena moves with it; nothing else is shared between the threads.
    (ENGINEERING: one owning thread per socket and per PGconn.) */
#ifndef TB_POOL_H
#define TB_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "tb_call.h"
#include "tb_db.h"

typedef struct tb_pool_t tb_pool_t;

/*  Serves a batch of calls on a worker (see tb_api_batch_fn in tb_service.h). */
typedef void (*tb_pool_fn)(tb_call_t *const *calls, size_t n, void *core);
/*  Makes a worker's core over the worker's own session (NULL: out of memory),
    and destroys it; both run on the worker's thread. */
typedef void *(*tb_pool_core_new_fn)(tb_db_t *db, void *arg);
typedef void (*tb_pool_core_destroy_fn)(void **core_p);

/*  The most threads a pool runs. */
#define TB_POOL_MAX 16

/*  Starts `size` workers (1..TB_POOL_MAX), each connecting to `conninfo` on
    its own. A worker whose session is down answers its batches UNAVAILABLE
    and reconnects with tb_db's back-off. NULL on failure (logged). */
tb_pool_t *tb_pool_new(void *ctx, size_t size, const char *conninfo, tb_pool_fn fn,
                       tb_pool_core_new_fn core_new, tb_pool_core_destroy_fn core_destroy,
                       void *arg);
/*  Stops the workers and joins them. A batch still out is lost: collect first. */
void tb_pool_destroy(tb_pool_t **self_p);

size_t tb_pool_size(const tb_pool_t *self);
/*  An idle worker's index, or -1 when all are busy. */
int tb_pool_idle(const tb_pool_t *self);
/*  Whether every worker's database session is up, as each worker last saw
    it (workers watch their idle sessions, so a restart shows within moments). */
bool tb_pool_db_ok(const tb_pool_t *self);
/*  Whether worker `i` has a batch out. */
int tb_pool_busy(const tb_pool_t *self, size_t i);

/*  Hands `calls` (1..n, kept alive by the caller until collected) to idle
    worker `i`, with `tag` to recognise them by. Returns 0 or -1. */
int tb_pool_submit(tb_pool_t *self, size_t i, tb_call_t *const *calls, size_t n,
                   void *tag);
/*  Worker `i`'s socket, readable when its batch is done (for zmq_poll). */
void *tb_pool_socket(tb_pool_t *self, size_t i);
/*  Takes worker `i`'s finished batch back: returns its tag (NULL when none
    is done yet). The worker is idle again. */
void *tb_pool_collect(tb_pool_t *self, size_t i);

/*  Database round trips and reconnects of the workers' sessions, as of the
    batches collected so far. */
long tb_pool_round_trips(const tb_pool_t *self);
long tb_pool_reconnects(const tb_pool_t *self);

#endif
