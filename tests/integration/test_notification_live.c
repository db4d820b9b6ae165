/*  notification_core's live copies against a real PostgreSQL and a real XPUB:
    a notification is published only once the transaction that stored it
    committed. What a rolled-back attempt kept in memory must never go out
    with a later commit (e.g. when another instance applied those events
    meanwhile, so this one never applies them again). */
#include <criterion/criterion.h>
#include <string.h>
#include <zmq.h>

#include "harness.h"
#include "notification_core.h"
#include "tb_db.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_migrate.h"
#include "tb_wire.h"

static char *g_db;
static tb_db_t *g_conn;
static notification_core_t *g_core;
static void *g_pub, *g_sub;
static tb_arena_t *g_arena;

static void setup(void)
{
    tb_log_setup("test_notification_live", "warn", "text");
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set (run scripts/test)");
    g_db = tb_test_db_new();
    cr_assert_not_null(g_db);
    g_conn = tb_db_new(g_db);
    cr_assert(tb_db_ok(g_conn));
    cr_assert_eq(tb_migrate_apply(g_conn), 0);
    g_arena = tb_arena_new(0);
    g_core = notification_core_new(g_conn, 0, false);
    cr_assert_not_null(g_core);
    g_pub = zmq_socket(tb_test_zmq_ctx(), ZMQ_XPUB);
    g_sub = zmq_socket(tb_test_zmq_ctx(), ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(g_pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(g_sub, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_bind(g_pub, "inproc://notification-live"), 0);
    cr_assert_eq(zmq_connect(g_sub, "inproc://notification-live"), 0);
    cr_assert_eq(zmq_setsockopt(g_sub, ZMQ_SUBSCRIBE, "", 0), 0);
    char buf[8]; /* the XPUB sees the subscription: it is in place */
    cr_assert_geq(zmq_recv(g_pub, buf, sizeof buf, 0), 1);
    cr_assert_eq(notification_core_set_pub(g_core, g_pub), 0);
}

static void teardown(void)
{
    notification_core_destroy(&g_core);
    if (g_sub)
        zmq_close(g_sub);
    if (g_pub)
        zmq_close(g_pub);
    tb_db_destroy(&g_conn);
    tb_test_db_drop(&g_db);
    tb_arena_destroy(&g_arena);
}

TestSuite(notification_live, .init = setup, .fini = teardown, .timeout = 60);

/*  A status change of request `id` of org acme, at feed position `seq`. */
static Techbridge__Event *s_event(int64_t seq, const char *id)
{
    Techbridge__Event *ev =
        TB_PB_NEW(g_arena, Techbridge__Event, techbridge__event__descriptor);
    ev->seq = seq;
    ev->stream = TB_STREAM_REQUESTS;
    ev->type = TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED;
    ev->correlation_id = "cid-live";
    ev->from_status = TECHBRIDGE__STATUS__SUBMITTED;
    ev->actor = "operator";
    ev->request =
        TB_PB_NEW(g_arena, Techbridge__Request, techbridge__request__descriptor);
    ev->request->id = tb_arena_strdup(g_arena, id);
    ev->request->version = 2;
    ev->request->status = TECHBRIDGE__STATUS__PUBLISHED;
    ev->request->title = "A title";
    ev->request->org = TB_PB_NEW(g_arena, Techbridge__Org, techbridge__org__descriptor);
    ev->request->org->id = "acme";
    return ev;
}

/*  The next live notification, or NULL when none comes within `ms`. */
static Techbridge__Notification *s_live(int ms)
{
    zmq_pollitem_t item = {g_sub, -1, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, ms) != 1)
        return NULL;
    char topic[128];
    cr_assert_gt(zmq_recv(g_sub, topic, sizeof topic, 0), 0);
    int more = 0;
    size_t sz = sizeof more;
    zmq_getsockopt(g_sub, ZMQ_RCVMORE, &more, &sz);
    cr_assert(more, "a live message is [topic][Notification]");
    zmq_msg_t body;
    zmq_msg_init(&body);
    cr_assert_geq(zmq_msg_recv(&body, g_sub, 0), 0);
    Techbridge__Notification *n = (Techbridge__Notification *)tb_wire_unpack(
        g_arena, &techbridge__notification__descriptor, zmq_msg_data(&body),
        zmq_msg_size(&body), 1 << 20);
    zmq_msg_close(&body);
    cr_assert_not_null(n);
    return n;
}

Test(notification_live, a_rolled_back_attempt_is_never_published)
{
    notification_stream_t *st = notification_core_stream(g_core, TB_STREAM_REQUESTS);
    /* Event 1 is applied, but its transaction rolls back (e.g. the commit
       failed); meanwhile another instance applies it, so this one moves on. */
    cr_assert_eq(tb_db_begin(g_conn), 0);
    cr_assert_eq(notification_core_apply(g_conn, s_event(1, "req-rolled-back"), st), 0);
    cr_assert_eq(tb_db_rollback(g_conn), 0);

    Techbridge__Event *ev2 = s_event(2, "req-committed");
    cr_assert_eq(tb_db_begin(g_conn), 0);
    cr_assert_eq(notification_core_apply(g_conn, ev2, st), 0);
    cr_assert_eq(tb_db_commit(g_conn), 0);
    notification_core_committed(ev2, st);

    Techbridge__Notification *n = s_live(2000);
    cr_assert_not_null(n, "the committed notification was not published");
    cr_assert_str_eq(n->subject_id, "req-committed",
                     "published %s, stored by a transaction that rolled back",
                     n->subject_id);
    Techbridge__Notification *stray = s_live(300);
    cr_assert_null(stray, "a second live copy went out: %s",
                   stray ? stray->subject_id : "");
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM notification_items"), 1);
}

Test(notification_live, a_batch_publishes_each_event_once_in_order)
{
    notification_stream_t *st = notification_core_stream(g_core, TB_STREAM_REQUESTS);
    Techbridge__Event *ev[3] = {s_event(1, "req-a"), s_event(2, "req-b"),
                                s_event(3, "req-c")};
    cr_assert_eq(tb_db_begin(g_conn), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(notification_core_apply(g_conn, ev[i], st), 0);
    cr_assert_eq(tb_db_commit(g_conn), 0);
    for (int i = 0; i < 3; i++)
        notification_core_committed(ev[i], st);
    const char *want[] = {"req-a", "req-b", "req-c"};
    for (int i = 0; i < 3; i++) {
        Techbridge__Notification *n = s_live(2000);
        cr_assert_not_null(n, "live copy %d missing", i);
        cr_assert_str_eq(n->subject_id, want[i]);
        cr_assert_eq(n->seq, i + 1, "recipient seq %lld", (long long)n->seq);
    }
    cr_assert_null(s_live(300));
}
