/*  tb_feed against a real PostgreSQL: positions are dense and commit in order
    (a late commit is never skipped), and a consumer applies every event exactly
    once, in order, also with a second instance of itself and with concurrent
    producers. The feed server and consumers run in this process over real
    ZeroMQ sockets. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "harness.h"
#include "tb_db.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_migrate.h"
#include "tb_util.h"
#include "tb_wire.h"

#define STREAM "requests"

static char *g_db;

static void setup(void)
{
    tb_log_setup("test_feed", "warn", "text");
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set (run scripts/test)");
    g_db = tb_test_db_new();
    cr_assert_not_null(g_db);
    tb_db_t *db = tb_db_new(g_db);
    cr_assert(tb_db_ok(db), "cannot connect to %s", g_db);
    cr_assert_eq(tb_migrate_apply(db), 0);
    tb_db_destroy(&db);
    cr_assert_eq(tb_test_sql_exec(g_db,
                                  "CREATE TABLE applied (consumer text, seq bigint, "
                                  "PRIMARY KEY (consumer, seq))"),
                 0);
}

static void teardown(void)
{
    tb_test_db_drop(&g_db);
}

static int s_append(tb_db_t *db, const char *cid)
{
    Techbridge__Event ev = TECHBRIDGE__EVENT__INIT;
    ev.type = TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED;
    ev.correlation_id = (char *)cid;
    return tb_feed_append(db, STREAM, &ev);
}

/* ---- positions commit in order ---- */

typedef struct {
    int64_t seq;
    int64_t done_ms;
    int rc;
} s_late_t;

static void *s_second_producer(void *arg)
{
    s_late_t *late = arg;
    tb_db_t *db = tb_db_new(g_db);
    late->rc = -1;
    if (tb_db_ok(db) && tb_db_begin(db) == 0) {
        Techbridge__Event ev = TECHBRIDGE__EVENT__INIT;
        ev.type = TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EDITED;
        ev.correlation_id = "second";
        if (tb_feed_append(db, STREAM, &ev) == 0 && tb_db_commit(db) == 0) {
            late->seq = ev.seq;
            late->rc = 0;
        }
    }
    late->done_ms = tb_test_now_ms();
    tb_db_destroy(&db);
    return NULL;
}

static bool s_someone_waits_on_a_lock(void *arg)
{
    (void)arg;
    int64_t n = tb_test_sql_scalar(g_db, "SELECT count(*) FROM pg_stat_activity "
                                         "WHERE datname = current_database() "
                                         "AND wait_event_type = 'Lock'");
    return n >= 1;
}

Test(feed, a_late_commit_is_never_skipped, .init = setup, .fini = teardown, .timeout = 60)
{
    /*  Transaction A takes a position and stays open; B tries to append. With
        the stream row lock B cannot take (let alone commit) a later position
        before A commits: it waits. A reader never sees seq 2 without seq 1. */
    tb_db_t *a = tb_db_new(g_db);
    cr_assert(tb_db_ok(a));
    cr_assert_eq(tb_db_begin(a), 0);
    Techbridge__Event ev = TECHBRIDGE__EVENT__INIT;
    ev.type = TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED;
    ev.correlation_id = "first";
    cr_assert_eq(tb_feed_append(a, STREAM, &ev), 0);
    cr_assert_eq(ev.seq, 1);

    s_late_t late = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, s_second_producer, &late), 0);
    cr_assert(tb_test_wait_until(s_someone_waits_on_a_lock, NULL, 10000),
              "the second producer never waited for the stream lock");
    /*  While A is open nothing is visible to a reader, and B has not finished. */
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM feed_events"), 0);
    cr_assert_eq(late.done_ms, 0);
    int64_t committed_ms = tb_test_now_ms();
    cr_assert_eq(tb_db_commit(a), 0);
    pthread_join(t, NULL);
    cr_assert_eq(late.rc, 0);
    cr_assert_eq(late.seq, 2, "the later transaction must get the later position");
    cr_assert_geq(late.done_ms, committed_ms);

    tb_arena_t *arena = tb_arena_new(0);
    Techbridge__Event **events = NULL;
    cr_assert_eq(tb_feed_read(a, arena, STREAM, 0, 10, &events), 2);
    cr_assert_eq(events[0]->seq, 1);
    cr_assert_str_eq(events[0]->correlation_id, "first");
    cr_assert_eq(events[1]->seq, 2);
    cr_assert_str_eq(events[1]->correlation_id, "second");
    cr_assert_eq(tb_feed_head(a, STREAM), 2);
    tb_arena_destroy(&arena);
    tb_db_destroy(&a);
}

Test(feed, a_rolled_back_append_leaves_no_hole, .init = setup, .fini = teardown)
{
    tb_db_t *db = tb_db_new(g_db);
    cr_assert_eq(tb_db_begin(db), 0);
    cr_assert_eq(s_append(db, "gone"), 0);
    cr_assert_eq(tb_db_rollback(db), 0);
    cr_assert_eq(tb_db_begin(db), 0);
    cr_assert_eq(s_append(db, "kept"), 0);
    cr_assert_eq(tb_db_commit(db), 0);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT min(seq) FROM feed_events"), 1);
    cr_assert_eq(tb_feed_head(db, STREAM), 1);
    tb_db_destroy(&db);
}

/* ---- server + consumers over ZeroMQ ---- */

typedef struct {
    const char *name;
    int64_t last_seen;
    int out_of_order;
    int committed;
} s_sink_t;

static int s_apply(tb_db_t *db, const Techbridge__Event *ev, void *arg)
{
    s_sink_t *sink = arg;
    char seq[24];
    snprintf(seq, sizeof seq, "%lld", (long long)ev->seq);
    const char *p[] = {sink->name, seq};
    PGresult *r = tb_db_query(
        db, "INSERT INTO applied (consumer, seq) VALUES ($1, $2::bigint)", 2, p);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

static void s_committed(const Techbridge__Event *ev, void *arg)
{
    s_sink_t *sink = arg;
    if (ev->seq <= sink->last_seen)
        sink->out_of_order++;
    sink->last_seen = ev->seq;
    sink->committed++;
}

typedef struct {
    tb_db_t *server_db;
    void *router;
    tb_feed_server_t *server;
    tb_db_t *cdb[2];
    tb_feed_consumer_t *consumer[2];
    s_sink_t sink[2];
} s_rig_t;

/*  `setup`: what a service does to its consumers' sockets (NULL: nothing). */
static void s_rig_new_setup(s_rig_t *rig, int consumers, const char *name,
                            int (*setup)(void *socket, void *arg))
{
    memset(rig, 0, sizeof *rig);
    char endpoint[64];
    cr_assert_eq(tb_test_endpoint(endpoint), 0);
    void *ctx = tb_test_zmq_ctx();
    rig->server_db = tb_db_new(g_db);
    rig->router = zmq_socket(ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(rig->router, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_bind(rig->router, endpoint), 0);
    rig->server = tb_feed_server_new(rig->server_db, STREAM, rig->router);
    cr_assert_not_null(rig->server);
    for (int i = 0; i < consumers; i++) {
        rig->sink[i].name = name;
        rig->cdb[i] = tb_db_new(g_db);
        rig->consumer[i] =
            tb_feed_consumer_new(ctx, rig->cdb[i], name, STREAM, endpoint, s_apply,
                                 s_committed, &rig->sink[i], setup, NULL);
        cr_assert_not_null(rig->consumer[i]);
    }
}

static void s_rig_new(s_rig_t *rig, int consumers, const char *name)
{
    s_rig_new_setup(rig, consumers, name, NULL);
}

/*  One turn of the loop tb_service would run. */
static void s_rig_turn(s_rig_t *rig, long max_ms)
{
    zmq_pollitem_t items[4];
    int n = 0;
    items[n++] = (zmq_pollitem_t){rig->router, 0, ZMQ_POLLIN, 0};
    /*  The server's session socket: a NOTIFY wakes the loop (last item). */
    int fd = tb_db_socket(rig->server_db);
    for (int i = 0; i < 2; i++)
        if (rig->consumer[i])
            items[n++] = (zmq_pollitem_t){tb_feed_consumer_socket(rig->consumer[i]), 0,
                                          ZMQ_POLLIN, 0};
    long timeout = max_ms;
    long t = tb_feed_server_next_timeout_ms(rig->server);
    if (t >= 0 && t < timeout)
        timeout = t;
    for (int i = 0; i < 2; i++)
        if (rig->consumer[i]) {
            t = tb_feed_consumer_next_timeout_ms(rig->consumer[i]);
            if (t >= 0 && t < timeout)
                timeout = t;
        }
    if (fd >= 0)
        items[n] = (zmq_pollitem_t){NULL, fd, ZMQ_POLLIN, 0};
    zmq_poll(items, n + (fd >= 0), timeout);
    if (items[0].revents & ZMQ_POLLIN)
        tb_feed_server_on_readable(rig->server);
    tb_db_drain_notifies(rig->server_db);
    tb_feed_server_wake(rig->server);
    for (int i = 0, k = 1; i < 2; i++)
        if (rig->consumer[i]) {
            if (items[k++].revents & ZMQ_POLLIN)
                tb_feed_consumer_on_readable(rig->consumer[i]);
            tb_feed_consumer_tick(rig->consumer[i]);
        }
}

static void s_rig_destroy(s_rig_t *rig)
{
    for (int i = 0; i < 2; i++) {
        tb_feed_consumer_destroy(&rig->consumer[i]);
        tb_db_destroy(&rig->cdb[i]);
    }
    tb_feed_server_destroy(&rig->server);
    zmq_close(rig->router);
    tb_db_destroy(&rig->server_db);
}

typedef struct {
    int count;
    int threads_done;
} s_storm_t;

static void *s_producer(void *arg)
{
    s_storm_t *storm = arg;
    tb_db_t *db = tb_db_new(g_db);
    for (int i = 0; i < storm->count; i++) {
        tb_db_begin(db);
        s_append(db, "storm");
        /*  Keep some transactions open a little after taking their position,
            so that commits interleave with the other producers. */
        if (i % 7 == 0)
            PQclear(tb_db_query(db, "SELECT pg_sleep(0.002)", 0, NULL));
        tb_db_commit(db);
    }
    tb_db_destroy(&db);
    __atomic_add_fetch(&storm->threads_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

Test(feed, consumers_apply_every_event_once_in_order, .init = setup, .fini = teardown,
     .timeout = 120)
{
    s_rig_t rig;
    /*  Two instances of the same consumer: each event must be applied once. */
    s_rig_new(&rig, 2, "c");
    enum { THREADS = 4, EACH = 100, TOTAL = THREADS * EACH };
    s_storm_t storm = {EACH, 0};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, s_producer, &storm);
    int64_t deadline = tb_test_now_ms() + 60000;
    while (tb_test_now_ms() < deadline) {
        s_rig_turn(&rig, 50);
        if (__atomic_load_n(&storm.threads_done, __ATOMIC_SEQ_CST) == THREADS &&
            tb_feed_consumer_cursor(rig.consumer[0]) >= TOTAL &&
            tb_feed_consumer_cursor(rig.consumer[1]) >= TOTAL)
            break;
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM feed_events"), TOTAL);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT max(seq) FROM feed_events"), TOTAL,
                 "positions must be dense");
    cr_assert_eq(
        tb_test_sql_scalar(g_db, "SELECT count(*) FROM applied WHERE consumer = 'c'"),
        TOTAL, "every event applied exactly once across both instances");
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(DISTINCT seq) FROM applied"),
                 TOTAL);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT last_seq FROM feed_cursors "
                                          "WHERE consumer = 'c' AND stream = 'requests'"),
                 TOTAL);
    cr_assert_eq(rig.sink[0].committed + rig.sink[1].committed, TOTAL);
    cr_assert_eq(rig.sink[0].out_of_order + rig.sink[1].out_of_order, 0);
    cr_assert_eq(tb_feed_consumer_head(rig.consumer[0]), TOTAL);
    s_rig_destroy(&rig);
}

Test(feed, a_parked_fetch_is_answered_when_an_event_commits, .init = setup,
     .fini = teardown, .timeout = 60)
{
    s_rig_t rig;
    s_rig_new(&rig, 1, "w");
    /*  Let the consumer load its cursor and park a fetch. */
    int64_t until = tb_test_now_ms() + 300;
    while (tb_test_now_ms() < until)
        s_rig_turn(&rig, 20);
    cr_assert_eq(tb_feed_server_next_timeout_ms(rig.server) > 0, true,
                 "the fetch should be parked");
    tb_db_t *db = tb_db_new(g_db);
    tb_db_begin(db);
    s_append(db, "wake");
    int64_t t0 = tb_test_now_ms();
    tb_db_commit(db);
    while (rig.sink[0].committed < 1 && tb_test_now_ms() < t0 + 4000)
        s_rig_turn(&rig, 1000);
    cr_assert_eq(rig.sink[0].committed, 1);
    /*  Woken by NOTIFY, well before the 1 s safety timer of the loop. */
    cr_assert_lt(tb_test_now_ms() - t0, 900);
    tb_db_destroy(&db);
    s_rig_destroy(&rig);
}

Test(feed, a_failing_apply_is_retried_without_advancing, .init = setup, .fini = teardown,
     .timeout = 60)
{
    /*  The first apply of seq 2 fails (a constraint), later it succeeds. */
    cr_assert_eq(tb_test_sql_exec(g_db, "CREATE TABLE gate (open boolean)"), 0);
    cr_assert_eq(tb_test_sql_exec(g_db, "INSERT INTO gate VALUES (false)"), 0);
    cr_assert_eq(tb_test_sql_exec(
                     g_db,
                     "CREATE FUNCTION gate_check() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$BEGIN IF NEW.seq = 2 AND NOT (SELECT open FROM gate) THEN "
                     "RAISE EXCEPTION 'closed'; END IF; RETURN NEW; END$$"),
                 0);
    cr_assert_eq(tb_test_sql_exec(g_db, "CREATE TRIGGER g BEFORE INSERT ON applied "
                                        "FOR EACH ROW EXECUTE FUNCTION gate_check()"),
                 0);
    tb_db_t *db = tb_db_new(g_db);
    for (int i = 0; i < 3; i++) {
        tb_db_begin(db);
        s_append(db, "gate");
        tb_db_commit(db);
    }
    s_rig_t rig;
    s_rig_new(&rig, 1, "g");
    int64_t until = tb_test_now_ms() + 1500;
    while (tb_test_now_ms() < until)
        s_rig_turn(&rig, 50);
    cr_assert_eq(tb_feed_consumer_cursor(rig.consumer[0]), 1,
                 "stuck before the failing event");
    cr_assert_eq(tb_test_sql_exec(g_db, "UPDATE gate SET open = true"), 0);
    until = tb_test_now_ms() + 15000;
    while (tb_feed_consumer_cursor(rig.consumer[0]) < 3 && tb_test_now_ms() < until)
        s_rig_turn(&rig, 50);
    cr_assert_eq(tb_feed_consumer_cursor(rig.consumer[0]), 3);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM applied"), 3);
    tb_db_destroy(&db);
    s_rig_destroy(&rig);
}

/*  Appends 60 events of 4 KB (~240 KB: one batch far over any single-frame
    bound), runs one consumer set up by `setup` until it has them all, and
    checks each was applied once. */
static void s_big_batch_arrives(const char *name, int (*setup)(void *socket, void *arg))
{
    tb_db_t *db = tb_db_new(g_db);
    static char big[4001];
    memset(big, 'x', 4000);
    for (int i = 0; i < 60; i++) {
        Techbridge__Event ev = TECHBRIDGE__EVENT__INIT;
        ev.type = TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EDITED;
        ev.correlation_id = "big";
        ev.reason = big;
        tb_db_begin(db);
        cr_assert_eq(tb_feed_append(db, STREAM, &ev), 0);
        tb_db_commit(db);
    }
    s_rig_t rig;
    s_rig_new_setup(&rig, 1, name, setup);
    int64_t until = tb_test_now_ms() + 15000;
    while (tb_feed_consumer_cursor(rig.consumer[0]) < 60 && tb_test_now_ms() < until)
        s_rig_turn(&rig, 50);
    cr_assert_eq(tb_feed_consumer_cursor(rig.consumer[0]), 60);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM applied"), 60);
    tb_db_destroy(&db);
    s_rig_destroy(&rig);
}

Test(feed, batches_larger_than_a_fetch_frame_are_served, .init = setup, .fini = teardown,
     .timeout = 60)
{
    s_big_batch_arrives("b", NULL);
}

/*  A service sets its sockets' frame ceiling from --max-frame (4 x, for API
    calls); a feed reply carries a batch of up to 8 MiB, so the consumer's own
    ceiling must stand after that setup, or a large batch is dropped with the
    connection and fetched again forever. */
static int s_service_like_setup(void *socket, void *arg)
{
    (void)arg;
    return tb_wire_socket_setup(socket, 16 * 1024); /* ceiling 64 KiB */
}

Test(feed, a_batch_over_the_services_frame_ceiling_still_arrives, .init = setup,
     .fini = teardown, .timeout = 60)
{
    s_big_batch_arrives("s", s_service_like_setup);
}

/* ---- a consumer that wants only some events ---- */

static bool s_wants_edits(const Techbridge__Event *ev, void *arg)
{
    (void)arg;
    return ev->type == TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EDITED;
}

/*  Appends one event per letter of `types`: S submitted (unwanted), E edited. */
static void s_append_types(const char *types)
{
    tb_db_t *db = tb_db_new(g_db);
    for (const char *t = types; *t; t++) {
        Techbridge__Event ev = TECHBRIDGE__EVENT__INIT;
        ev.type = *t == 'E' ? TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EDITED
                            : TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED;
        ev.correlation_id = "wants";
        cr_assert_eq(tb_db_begin(db), 0);
        cr_assert_eq(tb_feed_append(db, STREAM, &ev), 0);
        cr_assert_eq(tb_db_commit(db), 0);
    }
    tb_db_destroy(&db);
}

static void s_rig_until(s_rig_t *rig, int consumers, int64_t cursor)
{
    int64_t deadline = tb_test_now_ms() + 15000;
    for (;;) {
        bool done = true;
        for (int i = 0; i < consumers; i++)
            done = done && tb_feed_consumer_cursor(rig->consumer[i]) >= cursor;
        if (done || tb_test_now_ms() > deadline)
            break;
        s_rig_turn(rig, 50);
    }
    for (int i = 0; i < consumers; i++)
        cr_assert_eq(tb_feed_consumer_cursor(rig->consumer[i]), cursor);
}

#define S_STORED_CURSOR                                                                  \
    "SELECT last_seq FROM feed_cursors WHERE consumer = 'u' AND stream = 'requests'"

Test(feed, unwanted_events_are_passed_over_without_a_transaction, .init = setup,
     .fini = teardown, .timeout = 90)
{
    s_rig_t rig;
    s_rig_new(&rig, 2, "u"); /* two instances, as in production */
    for (int i = 0; i < 2; i++)
        tb_feed_consumer_set_wants(rig.consumer[i], s_wants_edits);
    s_append_types("SSESE"); /* edits at 3 and 5 */
    s_rig_until(&rig, 2, 5);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM applied"), 2);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT sum(seq) FROM applied"), 3 + 5);
    cr_assert_eq(rig.sink[0].committed + rig.sink[1].committed, 2);
    cr_assert_eq(tb_test_sql_scalar(g_db, S_STORED_CURSOR), 5);
    /*  A run of unwanted events costs no transaction: the stored cursor stays
        at the last applied event. */
    s_append_types("SS");
    s_rig_until(&rig, 2, 7);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM applied"), 2);
    cr_assert_eq(tb_test_sql_scalar(g_db, S_STORED_CURSOR), 5);

    /*  The next wanted event follows the run passed over in memory. */
    s_append_types("E");
    s_rig_until(&rig, 2, 8);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM applied"), 3);
    cr_assert_eq(tb_test_sql_scalar(g_db, S_STORED_CURSOR), 8);
    s_append_types("SS");
    s_rig_until(&rig, 2, 10);
    cr_assert_eq(rig.sink[0].out_of_order + rig.sink[1].out_of_order, 0);
    s_rig_destroy(&rig);

    /*  A restart fetches the run after the stored cursor again and passes over
        it again: nothing is applied twice. */
    s_rig_new(&rig, 1, "u");
    tb_feed_consumer_set_wants(rig.consumer[0], s_wants_edits);
    s_rig_until(&rig, 1, 10);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM applied"), 3);
    cr_assert_eq(tb_test_sql_scalar(g_db, S_STORED_CURSOR), 8);
    s_rig_destroy(&rig);
}
