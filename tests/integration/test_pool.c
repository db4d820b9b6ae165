/*  Integration: tb-intake's API workers (tb_pool), each with its own database
    session. A call that waits on the database must not hold up the calls of
    other peers, and the calls of one peer keep their order even when they
    are spread over several workers. */
#include <libpq-fe.h>
#include <zmq.h>

#include "intake_fixture.h"

TestSuite(pool, .init = fx_setup, .fini = fx_teardown, .timeout = 180);

#define PIPELINED 300

static void *s_dealer(void)
{
    void *sock = zmq_socket(tb_test_zmq_ctx(), ZMQ_DEALER);
    cr_assert_not_null(sock);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(sock, g_api), 0);
    return sock;
}

static Techbridge__ApiRequest *s_submit_req(Techbridge__Request *r)
{
    Techbridge__SubmitRequest *s = TB_PB_NEW(g_arena, Techbridge__SubmitRequest,
                                             techbridge__submit_request__descriptor);
    Techbridge__ApiRequest *req =
        TB_PB_NEW(g_arena, Techbridge__ApiRequest, techbridge__api_request__descriptor);
    s->request = r;
    req->body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req->submit = s;
    req->actor = "operator";
    return req;
}

static Techbridge__ApiReply *s_recv(void *sock, int timeout_ms)
{
    return (Techbridge__ApiReply *)tb_wire_recv(
        sock, g_arena, &techbridge__api_reply__descriptor, 1 << 20, true, timeout_ms);
}

/*  One DEALER sends PIPELINED submissions without waiting: with four
    workers, a later batch of the same peer could finish before an earlier
    one. The replies must come back in the order sent, and every request be
    stored once. */
Test(pool, one_peers_pipelined_calls_keep_their_order)
{
    fx_start_intake((const char *const[]){"--api-sessions", "4", NULL});
    void *sock = s_dealer();
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    char ref[32];
    for (int i = 0; i < PIPELINED; i++) {
        snprintf(ref, sizeof ref, "order-%04d", i);
        r->external_ref = tb_arena_strdup(g_arena, ref);
        cr_assert_eq(tb_wire_send(sock, &s_submit_req(r)->base, true), 0);
    }
    for (int i = 0; i < PIPELINED; i++) {
        Techbridge__ApiReply *reply = s_recv(sock, CALL_TIMEOUT_MS);
        cr_assert_not_null(reply, "reply %d did not come", i);
        fx_expect_ok(reply);
        snprintf(ref, sizeof ref, "order-%04d", i);
        cr_assert_str_eq(reply->request->request->external_ref, ref, "reply %d is for %s",
                         i, reply->request->request->external_ref);
    }
    zmq_close(sock);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM intake_requests "
                                          "WHERE external_ref LIKE 'order-%'"),
                 PIPELINED);
}

/*  A transition blocked on a row lock (held by another session, as a slow
    transaction would) occupies one worker; a get from another peer is
    answered meanwhile by the other worker, and the transition completes
    once the lock goes. With one session the get would wait behind it. */
Test(pool, a_call_waiting_on_the_database_does_not_hold_up_other_peers)
{
    fx_start_intake((const char *const[]){"--api-sessions", "2", NULL});
    Techbridge__Request *stored = fx_submit_ok(fx_load("offer_cn.json", "blocked-1"));

    PGconn *locker = PQconnectdb(g_db);
    cr_assert_eq(PQstatus(locker), CONNECTION_OK, "%s", PQerrorMessage(locker));
    const char *id[] = {stored->id};
    PQclear(PQexec(locker, "BEGIN"));
    PGresult *res = PQexecParams(
        locker, "SELECT 1 FROM intake_requests WHERE id = $1::uuid FOR UPDATE", 1, NULL,
        id, NULL, NULL, 0);
    cr_assert_eq(PQntuples(res), 1, "%s", PQerrorMessage(locker));
    PQclear(res);

    /* The publish waits for the lock on a worker. */
    void *blocked = s_dealer();
    Techbridge__TransitionRequest *t =
        TB_PB_NEW(g_arena, Techbridge__TransitionRequest,
                  techbridge__transition_request__descriptor);
    t->id = stored->id;
    t->action = TECHBRIDGE__ACTION__PUBLISH;
    t->version = stored->version;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_TRANSITION;
    req.transition = t;
    req.actor = "operator";
    cr_assert_eq(tb_wire_send(blocked, &req.base, true), 0);
    cr_assert_null(s_recv(blocked, 500), "the publish went through a held row lock");

    /* Another peer is served meanwhile. */
    int64_t t0 = tb_test_now_ms();
    Techbridge__Request *got = fx_get_ok(stored->id);
    cr_assert_eq(got->status, TECHBRIDGE__STATUS__SUBMITTED);
    cr_assert_lt(tb_test_now_ms() - t0, 2000, "the get waited behind the blocked call");

    PQclear(PQexec(locker, "COMMIT"));
    Techbridge__ApiReply *reply = s_recv(blocked, CALL_TIMEOUT_MS);
    cr_assert_not_null(reply, "the publish never completed after the lock went");
    fx_expect_ok(reply);
    cr_assert_eq(reply->request->request->status, TECHBRIDGE__STATUS__PUBLISHED);
    zmq_close(blocked);
    PQfinish(locker);
}

/*  Repeats inside one peer's pipelined stream, so that groups hold a taken
    (org, external_ref), also twice in the same group: every 4th call repeats
    the one before it (same content: the stored request, created false), and
    every 10th repeats it with another title (ALREADY_EXISTS). The new ones
    are stored once each, with one SUBMITTED event each. */
Test(pool, repeats_inside_a_group_are_answered_idempotently)
{
    fx_start_intake((const char *const[]){"--api-sessions", "2", NULL});
    void *sock = s_dealer();
    Techbridge__Request *r = fx_load("offer_cn.json", NULL);
    char *title = r->title;
    char other[] = "Another title for the same external reference";
    char ref[32];
    int fresh = 0, kind[PIPELINED]; /* 0 new, 1 same again, 2 other content */
    for (int i = 0; i < PIPELINED; i++) {
        kind[i] = i > 0 && i % 10 == 0 ? 2 : i > 0 && i % 4 == 0 ? 1 : 0;
        if (kind[i] == 0)
            snprintf(ref, sizeof ref, "rep-%04d", fresh++);
        r->external_ref = tb_arena_strdup(g_arena, ref);
        r->title = kind[i] == 2 ? other : title;
        cr_assert_eq(tb_wire_send(sock, &s_submit_req(r)->base, true), 0);
    }
    char *first_id[PIPELINED] = {0};
    for (int i = 0; i < PIPELINED; i++) {
        Techbridge__ApiReply *reply = s_recv(sock, CALL_TIMEOUT_MS);
        cr_assert_not_null(reply, "reply %d did not come", i);
        if (kind[i] == 2) {
            fx_expect_code(reply, ALREADY_EXISTS);
            continue;
        }
        fx_expect_ok(reply);
        const char *id = reply->request->request->id;
        if (kind[i] == 0) {
            cr_assert(reply->request->created, "call %d: a new request not created", i);
            first_id[i] = tb_arena_strdup(g_arena, id);
        } else {
            int j = i - 1;
            while (kind[j] != 0)
                j--;
            cr_assert_not(reply->request->created, "call %d: a repeat was created", i);
            cr_assert_str_eq(id, first_id[j], "call %d: a repeat answered another id", i);
        }
    }
    zmq_close(sock);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM intake_requests"), fresh);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM feed_events"), fresh);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT count(*) FROM intake_history"), fresh);
    cr_assert_eq(tb_test_sql_scalar(g_db, "SELECT max(seq) FROM feed_events"), fresh,
                 "positions are not dense");
}
