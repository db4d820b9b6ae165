/*  tb_wire: real ZeroMQ round trips (ROUTER with REQ and DEALER), envelopes,
    limits, hostile frames. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "api.pb-c.h"
#include "tb_wire.h"

#define MAX_FRAME (256 * 1024)

static void *s_ctx;

static void s_setup(void)
{
    cr_redirect_stderr(); /* malformed-envelope warnings */
    s_ctx = zmq_ctx_new();
    cr_assert_not_null(s_ctx);
}

static void s_teardown(void)
{
    zmq_ctx_term(s_ctx);
}

TestSuite(wire, .init = s_setup, .fini = s_teardown, .timeout = 30);

static void *s_socket(int type)
{
    void *s = zmq_socket(s_ctx, type);
    cr_assert_not_null(s);
    cr_assert_eq(tb_wire_socket_setup(s, MAX_FRAME), 0);
    return s;
}

/*  Waits (with a deadline) for a request on the ROUTER. */
static tb_msg_t *s_wait_msg(void *router)
{
    zmq_pollitem_t item = {.socket = router, .events = ZMQ_POLLIN};
    for (int i = 0; i < 50; i++) {
        tb_msg_t *m = tb_msg_recv(router);
        if (m)
            return m;
        zmq_poll(&item, 1, 100);
    }
    return NULL;
}

/*  Waits until the ROUTER has something, then says whether tb_msg_recv gave a
    message (false: dropped as malformed). */
static bool s_recv_ready(void *router, tb_msg_t **out)
{
    zmq_pollitem_t item = {.socket = router, .events = ZMQ_POLLIN};
    cr_assert_eq(zmq_poll(&item, 1, 5000), 1, "nothing arrived");
    *out = tb_msg_recv(router);
    return *out != NULL;
}

static void s_request(Techbridge__ApiRequest *req, Techbridge__Health *health,
                      const char *cid)
{
    techbridge__api_request__init(req);
    techbridge__health__init(health);
    req->correlation_id = (char *)cid;
    req->actor = "org.minsk-1";
    req->body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req->health = health;
}

/*  Serves one request on the ROUTER: checks it, answers with its cid. */
static void s_serve_one(void *router, const char *want_cid)
{
    tb_msg_t *m = s_wait_msg(router);
    cr_assert_not_null(m, "no request");
    size_t len;
    int frames;
    const uint8_t *body = tb_msg_body(m, &len, &frames);
    cr_assert_eq(frames, 1);
    cr_assert_str_eq(tb_msg_user_id(m), "");
    tb_arena_t *a = tb_arena_new(1 << 20);
    Techbridge__ApiRequest *req = (Techbridge__ApiRequest *)tb_wire_unpack(
        a, &techbridge__api_request__descriptor, body, len, MAX_FRAME);
    cr_assert_not_null(req);
    cr_assert_str_eq(req->correlation_id, want_cid);
    cr_assert_str_eq(req->actor, "org.minsk-1");
    cr_assert_eq(req->body_case, TECHBRIDGE__API_REQUEST__BODY_HEALTH);

    Techbridge__ApiReply *reply =
        TB_PB_NEW(a, Techbridge__ApiReply, techbridge__api_reply__descriptor);
    Techbridge__HealthResult *h =
        TB_PB_NEW(a, Techbridge__HealthResult, techbridge__health_result__descriptor);
    reply->correlation_id = tb_arena_strdup(a, req->correlation_id);
    h->service = "intake";
    h->database_ok = true;
    reply->result_case = TECHBRIDGE__API_REPLY__RESULT_HEALTH;
    reply->health = h;
    cr_assert_eq(tb_msg_reply(m, &reply->base), 0);
    tb_msg_destroy(&m);
    cr_assert_null(m);
    tb_arena_destroy(&a);
}

static void s_round_trip(int client_type)
{
    bool dealer = client_type == ZMQ_DEALER;
    void *router = s_socket(ZMQ_ROUTER);
    void *client = s_socket(client_type);
    cr_assert_eq(zmq_bind(router, "inproc://api"), 0);
    cr_assert_eq(zmq_connect(client, "inproc://api"), 0);

    for (int i = 0; i < 3; i++) {
        char cid[32];
        snprintf(cid, sizeof cid, "cid-%d", i);
        Techbridge__ApiRequest req;
        Techbridge__Health health;
        s_request(&req, &health, cid);
        cr_assert_eq(tb_wire_send(client, &req.base, dealer), 0);
        s_serve_one(router, cid);

        tb_arena_t *a = tb_arena_new(1 << 20);
        Techbridge__ApiReply *reply = (Techbridge__ApiReply *)tb_wire_recv(
            client, a, &techbridge__api_reply__descriptor, MAX_FRAME, dealer, 5000);
        cr_assert_not_null(reply, "errno %d", errno);
        cr_assert_str_eq(reply->correlation_id, cid);
        cr_assert_eq(reply->result_case, TECHBRIDGE__API_REPLY__RESULT_HEALTH);
        cr_assert_str_eq(reply->health->service, "intake");
        cr_assert(reply->health->database_ok);
        tb_arena_destroy(&a);
    }
    zmq_close(client);
    zmq_close(router);
}

Test(wire, router_req_round_trip)
{
    s_round_trip(ZMQ_REQ);
}

Test(wire, router_dealer_round_trip)
{
    s_round_trip(ZMQ_DEALER);
}

Test(wire, socket_options)
{
    void *s = s_socket(ZMQ_ROUTER);
    int linger = -1;
    size_t sz = sizeof linger;
    cr_assert_eq(zmq_getsockopt(s, ZMQ_LINGER, &linger, &sz), 0);
    cr_assert_eq(linger, 0);
    int64_t max = 0;
    sz = sizeof max;
    cr_assert_eq(zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &max, &sz), 0);
    cr_assert_eq(max, 4 * MAX_FRAME);
    zmq_close(s);
}

Test(wire, nothing_waiting)
{
    void *router = s_socket(ZMQ_ROUTER);
    cr_assert_eq(zmq_bind(router, "inproc://idle"), 0);
    errno = 0;
    cr_assert_null(tb_msg_recv(router));
    cr_assert_eq(errno, EAGAIN);
    zmq_close(router);
}

Test(wire, recv_timeout)
{
    void *router = s_socket(ZMQ_ROUTER);
    void *dealer = s_socket(ZMQ_DEALER);
    cr_assert_eq(zmq_bind(router, "inproc://slow"), 0);
    cr_assert_eq(zmq_connect(dealer, "inproc://slow"), 0);
    tb_arena_t *a = tb_arena_new(0);
    errno = 0;
    cr_assert_null(
        tb_wire_recv(dealer, a, &techbridge__api_reply__descriptor, MAX_FRAME, true, 50));
    cr_assert_eq(errno, EAGAIN);
    tb_arena_destroy(&a);
    zmq_close(dealer);
    zmq_close(router);
}

Test(wire, extra_body_frames_counted_and_drained)
{
    void *router = s_socket(ZMQ_ROUTER);
    void *dealer = s_socket(ZMQ_DEALER);
    cr_assert_eq(zmq_bind(router, "inproc://multi"), 0);
    cr_assert_eq(zmq_connect(dealer, "inproc://multi"), 0);
    zmq_send(dealer, "", 0, ZMQ_SNDMORE);
    zmq_send(dealer, "body", 4, ZMQ_SNDMORE);
    zmq_send(dealer, "x", 1, ZMQ_SNDMORE);
    zmq_send(dealer, "y", 1, 0);
    tb_msg_t *m = s_wait_msg(router);
    cr_assert_not_null(m);
    size_t len;
    int frames;
    const uint8_t *body = tb_msg_body(m, &len, &frames);
    cr_assert_eq(frames, 3);
    cr_assert_eq(len, 4);
    cr_assert_eq(memcmp(body, "body", 4), 0);
    tb_msg_destroy(&m);

    /* An envelope without a body: a message with 0 frames of body. */
    zmq_send(dealer, "", 0, 0);
    m = s_wait_msg(router);
    cr_assert_not_null(m);
    tb_msg_body(m, &len, &frames);
    cr_assert_eq(frames, 0);
    cr_assert_eq(len, 0);
    tb_msg_destroy(&m);
    zmq_close(dealer);
    zmq_close(router);
}

Test(wire, malformed_envelopes_dropped_socket_survives)
{
    void *router = s_socket(ZMQ_ROUTER);
    void *dealer = s_socket(ZMQ_DEALER);
    cr_assert_eq(zmq_bind(router, "inproc://bad"), 0);
    cr_assert_eq(zmq_connect(dealer, "inproc://bad"), 0);
    tb_msg_t *m = NULL;

    /* No delimiter, one frame: kept as [id][body] so that the service can answer
       the mistake, and marked undelimited. */
    zmq_send(dealer, "garbage", 7, 0);
    cr_assert(s_recv_ready(router, &m));
    cr_assert_not(tb_msg_delimited(m));
    size_t glen;
    int gframes;
    tb_msg_body(m, &glen, &gframes);
    cr_assert_eq(glen, 7);
    cr_assert_eq(gframes, 1);
    tb_msg_destroy(&m);

    /* No delimiter, several frames. */
    zmq_send(dealer, "a", 1, ZMQ_SNDMORE);
    zmq_send(dealer, "b", 1, 0);
    cr_assert_not(s_recv_ready(router, &m));

    /* Too many envelope frames before the delimiter. */
    for (int i = 0; i < 9; i++)
        zmq_send(dealer, "hop", 3, ZMQ_SNDMORE);
    zmq_send(dealer, "", 0, ZMQ_SNDMORE);
    zmq_send(dealer, "body", 4, 0);
    cr_assert_not(s_recv_ready(router, &m));

    /* A relayed request within the limit is fine: 6 hops + routing id + delimiter. */
    for (int i = 0; i < 6; i++)
        zmq_send(dealer, "hop", 3, ZMQ_SNDMORE);
    zmq_send(dealer, "", 0, ZMQ_SNDMORE);
    zmq_send(dealer, "body", 4, 0);
    cr_assert(s_recv_ready(router, &m));
    cr_assert(tb_msg_delimited(m));
    size_t len;
    int frames;
    tb_msg_body(m, &len, &frames);
    cr_assert_eq(len, 4);
    cr_assert_eq(frames, 1);
    tb_msg_destroy(&m);

    /* And a good request still round-trips afterwards. */
    Techbridge__ApiRequest req;
    Techbridge__Health health;
    s_request(&req, &health, "after");
    cr_assert_eq(tb_wire_send(dealer, &req.base, true), 0);
    s_serve_one(router, "after");
    tb_arena_t *a = tb_arena_new(0);
    Techbridge__ApiReply *reply = (Techbridge__ApiReply *)tb_wire_recv(
        dealer, a, &techbridge__api_reply__descriptor, MAX_FRAME, true, 5000);
    cr_assert_not_null(reply);
    cr_assert_str_eq(reply->correlation_id, "after");
    tb_arena_destroy(&a);
    zmq_close(dealer);
    zmq_close(router);
}

/*  The client side refuses bad replies: garbage, too large, no delimiter. */
Test(wire, client_recv_errors)
{
    void *router = s_socket(ZMQ_ROUTER);
    void *dealer = s_socket(ZMQ_DEALER);
    cr_assert_eq(zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "cli", 3), 0);
    cr_assert_eq(zmq_bind(router, "inproc://cli"), 0);
    cr_assert_eq(zmq_connect(dealer, "inproc://cli"), 0);
    /* Make the ROUTER know the peer. */
    zmq_send(dealer, "", 0, ZMQ_SNDMORE);
    zmq_send(dealer, "hello", 5, 0);
    tb_msg_t *m = s_wait_msg(router);
    cr_assert_not_null(m);
    tb_msg_destroy(&m);
    tb_arena_t *a = tb_arena_new(1 << 20);

    /* garbage bytes */
    zmq_send(router, "cli", 3, ZMQ_SNDMORE);
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    zmq_send(router, "\xff\xff\xff\xff\xff", 5, 0);
    errno = 0;
    cr_assert_null(tb_wire_recv(dealer, a, &techbridge__api_reply__descriptor, MAX_FRAME,
                                true, 5000));
    cr_assert_eq(errno, EPROTO);

    /* over max_len */
    Techbridge__ApiReply reply = TECHBRIDGE__API_REPLY__INIT;
    static char big[2048];
    memset(big, 'c', sizeof big - 1);
    reply.correlation_id = big;
    size_t len;
    uint8_t *packed = tb_wire_pack(a, &reply.base, &len);
    cr_assert_not_null(packed);
    zmq_send(router, "cli", 3, ZMQ_SNDMORE);
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    zmq_send(router, packed, len, 0);
    errno = 0;
    cr_assert_null(
        tb_wire_recv(dealer, a, &techbridge__api_reply__descriptor, 1024, true, 5000));
    cr_assert_eq(errno, EMSGSIZE);

    /* no delimiter */
    zmq_send(router, "cli", 3, ZMQ_SNDMORE);
    zmq_send(router, packed, len, 0);
    errno = 0;
    cr_assert_null(tb_wire_recv(dealer, a, &techbridge__api_reply__descriptor, MAX_FRAME,
                                true, 5000));
    cr_assert_eq(errno, EPROTO);

    /* two body frames */
    zmq_send(router, "cli", 3, ZMQ_SNDMORE);
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    zmq_send(router, packed, len, ZMQ_SNDMORE);
    zmq_send(router, "x", 1, 0);
    errno = 0;
    cr_assert_null(tb_wire_recv(dealer, a, &techbridge__api_reply__descriptor, MAX_FRAME,
                                true, 5000));
    cr_assert_eq(errno, EPROTO);

    /* and a good one after all that */
    zmq_send(router, "cli", 3, ZMQ_SNDMORE);
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    zmq_send(router, packed, len, 0);
    Techbridge__ApiReply *ok = (Techbridge__ApiReply *)tb_wire_recv(
        dealer, a, &techbridge__api_reply__descriptor, MAX_FRAME, true, 5000);
    cr_assert_not_null(ok);
    cr_assert_eq(strlen(ok->correlation_id), sizeof big - 1);

    tb_arena_destroy(&a);
    zmq_close(dealer);
    zmq_close(router);
}

Test(wire, pack_unpack)
{
    tb_arena_t *a = tb_arena_new(0);
    Techbridge__ApiRequest req;
    Techbridge__Health health;
    s_request(&req, &health, "c-1");
    size_t len = 0;
    uint8_t *data = tb_wire_pack(a, &req.base, &len);
    cr_assert_not_null(data);
    cr_assert_gt(len, 0);
    Techbridge__ApiRequest *back = (Techbridge__ApiRequest *)tb_wire_unpack(
        a, &techbridge__api_request__descriptor, data, len, MAX_FRAME);
    cr_assert_not_null(back);
    cr_assert_str_eq(back->correlation_id, "c-1");

    /* over max_len: refused before decoding */
    errno = 0;
    cr_assert_null(
        tb_wire_unpack(a, &techbridge__api_request__descriptor, data, len, len - 1));
    cr_assert_eq(errno, EMSGSIZE);
    /* garbage */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
    cr_assert_null(tb_wire_unpack(a, &techbridge__api_request__descriptor, garbage,
                                  sizeof garbage, MAX_FRAME));
    /* a string that claims far more bytes than there are */
    static const uint8_t liar[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 'a', 'b'};
    cr_assert_null(tb_wire_unpack(a, &techbridge__api_request__descriptor, liar,
                                  sizeof liar, MAX_FRAME));
    /* empty input is a valid empty message */
    Techbridge__ApiRequest *empty = (Techbridge__ApiRequest *)tb_wire_unpack(
        a, &techbridge__api_request__descriptor, NULL, 0, MAX_FRAME);
    cr_assert_not_null(empty);
    cr_assert_eq(empty->body_case, TECHBRIDGE__API_REQUEST__BODY__NOT_SET);

    /* pack hits the cap */
    tb_arena_t *tiny = tb_arena_new(16);
    static char big[100];
    memset(big, 'b', sizeof big - 1);
    req.correlation_id = big;
    cr_assert_null(tb_wire_pack(tiny, &req.base, &len));
    tb_arena_destroy(&tiny);
    tb_arena_destroy(&a);
}

/*  A frame of ~200 KiB that declares 100 000 (empty) repeated messages: a few
    bytes each on the wire, a pointer and a whole struct each once decoded.
    The arena's cap stops it; without a cap it would decode (so the frame is
    valid and the cap is what refused it). */
Test(wire, arena_cap_stops_hostile_frame)
{
    enum { N = 100000 };
    static uint8_t frame[2 * N];
    for (size_t i = 0; i < N; i++) {
        frame[2 * i] = 0x0a; /* field 1 (requests), length-delimited */
        frame[2 * i + 1] = 0x00;
    }
    tb_arena_t *capped = tb_arena_new(1 << 20);
    cr_assert_null(tb_wire_unpack(capped, &techbridge__request_page__descriptor, frame,
                                  sizeof frame, MAX_FRAME));
    cr_assert_leq(tb_arena_used(capped), (size_t)1 << 20);
    tb_arena_destroy(&capped);

    tb_arena_t *open = tb_arena_new(0);
    Techbridge__RequestPage *page = (Techbridge__RequestPage *)tb_wire_unpack(
        open, &techbridge__request_page__descriptor, frame, sizeof frame, MAX_FRAME);
    cr_assert_not_null(page);
    cr_assert_eq(page->n_requests, N);
    cr_assert_gt(tb_arena_used(open), (size_t)10 << 20, "used %zu", tb_arena_used(open));
    tb_arena_destroy(&open);
}

/*  Packed repeated enums: one byte each on the wire, four once decoded; a
    nested submit request with many keywords. Both stopped by the cap. */
Test(wire, arena_cap_stops_hostile_repeated_fields)
{
    tb_arena_t *a = tb_arena_new(0);
    Techbridge__Request r = TECHBRIDGE__REQUEST__INIT;
    enum { K = 50000 };
    char **kw = tb_arena_alloc(a, K * sizeof *kw);
    for (size_t i = 0; i < K; i++)
        kw[i] = "";
    r.n_keywords = K;
    r.keywords = kw;
    Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    sub.request = &r;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    size_t len;
    uint8_t *data = tb_wire_pack(a, &req.base, &len);
    cr_assert_not_null(data);
    cr_assert_leq(len, (size_t)MAX_FRAME);

    tb_arena_t *capped = tb_arena_new(256 * 1024);
    cr_assert_null(tb_wire_unpack(capped, &techbridge__api_request__descriptor, data, len,
                                  MAX_FRAME));
    cr_assert_leq(tb_arena_used(capped), (size_t)256 * 1024);
    tb_arena_destroy(&capped);

    tb_arena_t *big = tb_arena_new(0);
    Techbridge__ApiRequest *ok = (Techbridge__ApiRequest *)tb_wire_unpack(
        big, &techbridge__api_request__descriptor, data, len, MAX_FRAME);
    cr_assert_not_null(ok);
    cr_assert_eq(ok->submit->request->n_keywords, K);
    tb_arena_destroy(&big);
    tb_arena_destroy(&a);
}

/*  With a ZAP handler, the User-Id it returns reaches tb_msg_user_id. */
Test(wire, zap_user_id)
{
    void *zap = zmq_socket(s_ctx, ZMQ_REP);
    cr_assert_eq(zmq_bind(zap, "inproc://zeromq.zap.01"), 0);
    void *router = s_socket(ZMQ_ROUTER);
    cr_assert_eq(zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, "global", 6), 0);
    cr_assert_eq(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    char endpoint[256];
    size_t sz = sizeof endpoint;
    cr_assert_eq(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &sz), 0);
    void *req_s = s_socket(ZMQ_REQ);
    cr_assert_eq(zmq_connect(req_s, endpoint), 0);

    Techbridge__ApiRequest req;
    Techbridge__Health health;
    s_request(&req, &health, "zap-1");
    cr_assert_eq(tb_wire_send(req_s, &req.base, false), 0);

    tb_msg_t *m = NULL;
    bool answered = false;
    for (int i = 0; i < 100 && !m; i++) {
        zmq_pollitem_t items[] = {{.socket = zap, .events = ZMQ_POLLIN},
                                  {.socket = router, .events = ZMQ_POLLIN}};
        zmq_poll(items, 2, 100);
        if (items[0].revents & ZMQ_POLLIN) {
            /* version, request id, domain, address, identity, mechanism, creds... */
            char frames[8][256];
            size_t lens[8];
            int n = 0;
            int more = 1;
            while (more && n < 8) {
                int r = zmq_recv(zap, frames[n], sizeof frames[n], 0);
                lens[n++] = r < 0 ? 0 : (size_t)r;
                size_t msz = sizeof more;
                zmq_getsockopt(zap, ZMQ_RCVMORE, &more, &msz);
            }
            cr_assert_geq(n, 6);
            zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
            zmq_send(zap, frames[1], lens[1], ZMQ_SNDMORE);
            zmq_send(zap, "200", 3, ZMQ_SNDMORE);
            zmq_send(zap, "OK", 2, ZMQ_SNDMORE);
            zmq_send(zap, "org.gomel-7", 11, ZMQ_SNDMORE);
            zmq_send(zap, "", 0, 0);
            answered = true;
        }
        if (items[1].revents & ZMQ_POLLIN)
            m = tb_msg_recv(router);
    }
    cr_assert(answered, "no ZAP request");
    cr_assert_not_null(m);
    cr_assert_str_eq(tb_msg_user_id(m), "org.gomel-7");
    tb_msg_destroy(&m);
    zmq_close(req_s);
    zmq_close(router);
    zmq_close(zap);
}
