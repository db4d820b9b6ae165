/*  tb_feed: the event feeds between services (SPEC section 6), one mechanism for
    every producer and consumer.

    Producer: tb_feed_append writes the event into the outbox table in the
    caller's transaction. Positions are dense per stream and are taken under the
    stream's row lock (feed_streams), so they commit in order: a consumer reading
    `seq > cursor` can never skip an event that commits late. The append also
    NOTIFYs the stream's channel, which wakes feed servers (of every host) at
    commit; they re-read the table, and again on a slow timer, since a NOTIFY is
    only a hint.

    Server (tb_feed_server_t, driven by tb_service): answers FeedFetch with the
    events after the consumer's cursor; when there are none it parks the fetch
    until an event commits or wait_ms passes.

    Consumer (tb_feed_consumer_t, driven by tb_service): a DEALER that fetches
    after its cursor and applies a fetched batch (at most 100 events) in one
    transaction together with the cursor update (SELECT ... FOR UPDATE on its
    cursor row, so a second instance of the same consumer waits instead of
    doubling an effect), then fetches again. When one event's apply fails, the
    batch is rolled back and redone one event per transaction, so that event
    alone waits (with back-off) and nothing is half-applied. */
#ifndef TB_FEED_H
#define TB_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "feed.pb-c.h"
#include "tb_arena.h"
#include "tb_db.h"

#define TB_STREAM_REQUESTS "requests"
#define TB_STREAM_MATCHES  "matches"
/*  The LISTEN/NOTIFY channel of a stream is this prefix + the stream name. */
#define TB_FEED_CHANNEL_PREFIX "tb_feed_"
/*  How long a consumer's fetch may be parked at the producer. */
#define TB_FEED_WAIT_MS 5000

/*  Appends `event` to `stream` in the open transaction of `db`; sets
    event->seq, event->stream and event->at. Returns 0 or -1 (tb_db_error tells).
    It takes the stream's row lock, held until the transaction ends and so
    across the COMMIT's WAL flush: every producer of the stream waits for it.
    Append last, right before COMMIT. */
int tb_feed_append(tb_db_t *db, const char *stream, Techbridge__Event *event);

/*  The same for n events in one round of statements (a group commit): they get
    consecutive positions in array order. Returns 0 or -1. */
int tb_feed_append_many(tb_db_t *db, const char *stream, Techbridge__Event *const *events,
                        size_t n);

/*  The append of n events as a statement for tb_db_pipeline, e.g. as the last
    statement of a group commit sent in one round trip: fills *stmt (its
    parameters live in `arena`). Returns 0 or -1. After the pipeline ran,
    tb_feed_appended sets the events' positions from the statement's result
    (0), or returns -1 when the result is not an append's. */
int tb_feed_append_stmt(tb_db_t *db, tb_arena_t *arena, const char *stream,
                        Techbridge__Event *const *events, size_t n, tb_db_stmt_t *stmt);
int tb_feed_appended(const PGresult *res, Techbridge__Event *const *events, size_t n);

/*  The stream's last committed position (0 when empty), or -1 on failure. */
int64_t tb_feed_head(tb_db_t *db, const char *stream);

/*  A consumer's stored cursor, or -1 on failure (0 when it has none yet). */
int64_t tb_feed_cursor(tb_db_t *db, const char *consumer, const char *stream);

/*  Reads up to `max` events of `stream` after `after` into the arena. Returns
    the count (>= 0) or -1. */
int tb_feed_read(tb_db_t *db, tb_arena_t *arena, const char *stream, int64_t after,
                 int max, Techbridge__Event ***events);

/* ---- server and consumer state, driven by tb_service ---- */

typedef struct tb_feed_server_t tb_feed_server_t;

tb_feed_server_t *tb_feed_server_new(tb_db_t *db, const char *stream, void *router);
void tb_feed_server_destroy(tb_feed_server_t **self_p);
/*  The router has input: read the fetches, answer or park them. */
void tb_feed_server_on_readable(tb_feed_server_t *self);
/*  An event may have committed (NOTIFY, slow timer): answer parked fetches that
    now have events; also answers those whose wait_ms passed with an empty batch. */
void tb_feed_server_wake(tb_feed_server_t *self);
/*  Milliseconds until the earliest parked fetch times out (-1: none parked). */
long tb_feed_server_next_timeout_ms(const tb_feed_server_t *self);

typedef struct tb_feed_consumer_t tb_feed_consumer_t;

typedef int (*tb_feed_apply_fn)(tb_db_t *db, const Techbridge__Event *event, void *arg);
typedef void (*tb_feed_committed_fn)(const Techbridge__Event *event, void *arg);
/*  Whether the consumer has anything to do for `event`: events it does not
    want are neither applied nor given a transaction of their own. */
typedef bool (*tb_feed_wants_fn)(const Techbridge__Event *event, void *arg);

/*  `committed` (may be NULL) runs after the event's transaction committed. The
    socket is set up (CURVE client keys included) by the caller through
    `setup`, which may be NULL. */
tb_feed_consumer_t *tb_feed_consumer_new(void *zmq_ctx, tb_db_t *db, const char *name,
                                         const char *stream, const char *endpoint,
                                         tb_feed_apply_fn fn,
                                         tb_feed_committed_fn committed, void *arg,
                                         int (*setup)(void *socket, void *arg),
                                         void *setup_arg);
void tb_feed_consumer_destroy(tb_feed_consumer_t **self_p);
/*  Applies only the events `wants` (given the consumer's arg) says yes to; the
    default is every event. A fetched run of unwanted events moves the cursor in
    memory only: it is stored with the next transaction (or once it is
    TB_FEED_SKIP_SAVE events ahead), so after a restart such a run may be
    fetched and passed over again. Why: a durable commit for an event that
    changes nothing cost as much as one that does. */
void tb_feed_consumer_set_wants(tb_feed_consumer_t *self, tb_feed_wants_fn wants);
/*  The DEALER socket, for the poll set. */
void *tb_feed_consumer_socket(tb_feed_consumer_t *self);
void tb_feed_consumer_on_readable(tb_feed_consumer_t *self);
/*  Sends a fetch when none is outstanding, re-sends one that timed out (the
    producer may have restarted), loads the cursor after a reconnect. */
void tb_feed_consumer_tick(tb_feed_consumer_t *self);
long tb_feed_consumer_next_timeout_ms(const tb_feed_consumer_t *self);
/*  For Health and the stats line. */
const char *tb_feed_consumer_name(const tb_feed_consumer_t *self);
const char *tb_feed_consumer_stream(const tb_feed_consumer_t *self);
int64_t tb_feed_consumer_cursor(const tb_feed_consumer_t *self);
int64_t tb_feed_consumer_head(const tb_feed_consumer_t *self);

#endif
