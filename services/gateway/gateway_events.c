/*  gateway_events: GET /api/v1/events?recipient=R, Server-Sent Events of a
    recipient's notifications with no gap and no duplicate. As tbctl watch does:
    subscribe to the live push first, catch up from the stored notifications
    (after Last-Event-ID, or ?after=), then send live ones, dropping seqs already
    sent and catching up again through the API whenever a gap shows (the push is
    a fast path that may drop). Each event is

        id: SEQ
        event: notification
        data: {the notification as tb_json maps it}

    The stream runs in its connection's own thread (libmicrohttpd thread per
    connection), polling its SUB socket in short slices so that it sees the
    gateway stopping; an idle stream gets a comment line every
    --sse-keepalive ms, which is also how a closed browser is noticed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "gateway.h"
#include "tb_json.h"
#include "tb_log.h"
#include "tb_util.h"
#include "tb_wire.h"

#define S_PAGE       100
#define S_SLICE_MS   250
#define S_MAX_NOTIFY (1024u * 1024)
#define S_ARENA_CAP  (64u * 1024 * 1024)

typedef struct {
    gw_t *gw;
    gw_identity_t who;
    char cid[GW_CID_MAX + 1];
    char recipient[65];
    char topic[80];
    void *sub;
    int64_t last;        /* highest seq sent */
    bool behind;         /* a catch-up page came back full, or a gap showed */
    int64_t quiet_since; /* mono us of the last bytes queued */
    /* bytes queued for the client */
    char *out;
    size_t out_len, out_off, out_cap;
    bool failed; /* the services stopped answering: end the stream */
} s_stream_t;

static int s_append(s_stream_t *s, const char *data, size_t len)
{
    if (s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
    if (s->out_len + len > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap : 4096;
        while (cap < s->out_len + len)
            cap *= 2;
        char *grown = realloc(s->out, cap);
        if (!grown)
            return -1;
        s->out = grown;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, data, len);
    s->out_len += len;
    s->quiet_since = tb_mono_us();
    return 0;
}

/*  Queues one notification unless it was sent already. */
static void s_emit(s_stream_t *s, const Techbridge__Notification *n)
{
    if (n->seq <= s->last)
        return;
    json_t *doc = tb_json_from_notification(n);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text)
        return;
    char head[64];
    int hn = snprintf(head, sizeof head,
                      "id: %lld\nevent: notification\ndata: ", (long long)n->seq);
    if (s_append(s, head, (size_t)hn) == 0 && s_append(s, text, strlen(text)) == 0 &&
        s_append(s, "\n\n", 2) == 0)
        s->last = n->seq;
    free(text);
}

/*  One page of stored notifications after s->last. Returns 0, or -1 with
 *reply holding the service's error (NULL: no reply). */
static int s_catch_up_page(s_stream_t *s, tb_arena_t *arena, Techbridge__ApiReply **reply)
{
    Techbridge__ListNotifications ln = TECHBRIDGE__LIST_NOTIFICATIONS__INIT;
    ln.recipient = s->recipient;
    ln.after = s->last;
    ln.limit = S_PAGE;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
    req.list_notifications = &ln;
    req.correlation_id = s->cid;
    req.actor = s->who.actor;
    req.person = s->who.person;
    *reply = NULL;
    if (gw_upstream_call(s->gw->up, GW_NOTIFICATION, &req, arena, reply) != 0)
        return -1;
    if ((*reply)->error ||
        (*reply)->result_case != TECHBRIDGE__API_REPLY__RESULT_NOTIFICATIONS)
        return -1;
    const Techbridge__NotificationPage *p = (*reply)->notifications;
    for (size_t i = 0; i < p->n_notifications; i++)
        s_emit(s, p->notifications[i]);
    s->behind = p->n_notifications == S_PAGE;
    return 0;
}

/*  Handles one live message [topic][Notification]. */
static void s_on_live(s_stream_t *s)
{
    zmq_msg_t parts[2];
    zmq_msg_init(&parts[0]);
    zmq_msg_init(&parts[1]);
    int nparts = 0, more = 1;
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        zmq_msg_t *m = nparts < 2 ? &parts[nparts] : &extra;
        int rc = zmq_msg_recv(m, s->sub, ZMQ_DONTWAIT);
        more = rc >= 0 && zmq_msg_more(m);
        zmq_msg_close(&extra);
        if (rc < 0)
            break;
        nparts++;
    }
    size_t tlen = strlen(s->topic);
    if (nparts == 2 && zmq_msg_size(&parts[0]) == tlen &&
        memcmp(zmq_msg_data(&parts[0]), s->topic, tlen) == 0) {
        tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
        const Techbridge__Notification *n =
            arena ? (const Techbridge__Notification *)tb_wire_unpack(
                        arena, &techbridge__notification__descriptor,
                        zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), S_MAX_NOTIFY)
                  : NULL;
        if (n && n->seq == s->last + 1)
            s_emit(s, n);
        else if (n && n->seq > s->last + 1)
            s->behind = true; /* a gap: the stored notifications fill it */
        tb_arena_destroy(&arena);
    }
    zmq_msg_close(&parts[0]);
    zmq_msg_close(&parts[1]);
}

/*  Makes progress: a catch-up page when behind, else waits a slice for a live
    message; a keepalive comment when quiet too long. */
static void s_step(s_stream_t *s)
{
    if (s->behind) {
        tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
        Techbridge__ApiReply *reply = NULL;
        if (!arena || s_catch_up_page(s, arena, &reply) != 0) {
            tb_warn("events.catch_up_failed", s->cid, TB_S("recipient", s->recipient),
                    TB_S("code", reply && reply->error
                                     ? tb_stats_code_name((int)reply->error->code)
                                     : "UNAVAILABLE"));
            s->failed = true;
        }
        tb_arena_destroy(&arena);
        return;
    }
    zmq_pollitem_t item = {.socket = s->sub, .events = ZMQ_POLLIN};
    int rc = zmq_poll(&item, 1, S_SLICE_MS);
    if (rc > 0)
        s_on_live(s);
    int64_t quiet_ms = (tb_mono_us() - s->quiet_since) / 1000;
    if (s->out_len == s->out_off && quiet_ms >= s->gw->set.sse_keepalive_ms) {
        /* Also a catch-up: the subscription may have joined late (slow joiner)
           and a notification stored meanwhile would otherwise wait for the
           next one to show the gap. */
        s->behind = true;
        s_append(s, ": keepalive\n\n", 13);
    }
}

static ssize_t s_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    s_stream_t *s = cls;
    for (;;) {
        if (s->out_len > s->out_off) {
            size_t n = s->out_len - s->out_off;
            if (n > max)
                n = max;
            memcpy(buf, s->out + s->out_off, n);
            s->out_off += n;
            return (ssize_t)n;
        }
        if (atomic_load(&s->gw->stopping) || s->failed)
            return MHD_CONTENT_READER_END_OF_STREAM;
        s_step(s);
    }
}

static void s_free(void *cls)
{
    s_stream_t *s = cls;
    if (s->sub)
        zmq_close(s->sub);
    atomic_fetch_sub(&s->gw->sse_open, 1);
    tb_info("events.closed", s->cid, TB_S("recipient", s->recipient),
            TB_I("last_seq", s->last));
    free(s->out);
    free(s);
}

/*  The position to resume from: Last-Event-ID (what a browser sends when it
    reconnects), else ?after=, else 0. Returns 0, or -1 when malformed. */
static int s_resume_from(gw_req_t *r, int64_t *after)
{
    const char *v =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    if (!v || !*v)
        v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "after");
    *after = 0;
    if (!v || !*v)
        return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < 0 || v[0] == '-' || v[0] == '+' || v[0] == ' ')
        return -1;
    *after = n;
    return 0;
}

static void *s_subscribe(s_stream_t *s)
{
    void *sub = zmq_socket(gw_upstream_zmq_ctx(s->gw->up), ZMQ_SUB);
    if (!sub)
        return NULL;
    if (tb_client_secure(gw_upstream_keys(s->gw->up), sub) != 0 ||
        tb_wire_socket_setup(sub, S_MAX_NOTIFY) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, s->topic, strlen(s->topic)) != 0 ||
        zmq_connect(sub, s->gw->set.pub_endpoint) != 0) {
        zmq_close(sub);
        return NULL;
    }
    return sub;
}

enum MHD_Result gw_events_serve(gw_req_t *r)
{
    r->kind = "events";
    if (strcmp(r->method, "GET") != 0)
        return gw_respond_error(r, 405, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                "method not allowed on this route");
    const char *recipient =
        MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "recipient");
    if (!recipient || !*recipient || strlen(recipient) > 64)
        return gw_respond_error(r, 400, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                "recipient: required (an organisation id or operators)");
    int64_t after = 0;
    if (s_resume_from(r, &after) != 0)
        return gw_respond_error(r, 400, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                "Last-Event-ID / after: must be a sequence number");
    s_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return gw_respond_error(r, 500, TECHBRIDGE__CODE__INTERNAL, "out of memory");
    s->gw = r->gw;
    s->who = r->who;
    s->last = after;
    s->quiet_since = tb_mono_us();
    snprintf(s->cid, sizeof s->cid, "%s", r->cid);
    snprintf(s->recipient, sizeof s->recipient, "%s", recipient);
    atomic_fetch_add(&r->gw->sse_open, 1);
    if (tb_wire_topic(s->topic, sizeof s->topic, recipient) < 0 ||
        !(s->sub = s_subscribe(s))) {
        s_free(s);
        return gw_respond_error(r, 503, TECHBRIDGE__CODE__UNAVAILABLE,
                                "cannot subscribe to the live push");
    }
    /* The first page is fetched before answering, so that a recipient the
       caller may not read is a 403 and not an empty stream. */
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__ApiReply *reply = NULL;
    int rc = arena ? s_catch_up_page(s, arena, &reply) : -1;
    if (rc != 0) {
        enum MHD_Result out;
        if (reply && reply->error) {
            r->outcome = tb_stats_code_name((int)reply->error->code);
            out = gw_respond_json(r, gw_http_status(reply->error->code),
                                  tb_json_from_reply(reply));
        } else {
            out = gw_respond_error(r, 503, TECHBRIDGE__CODE__UNAVAILABLE,
                                   "no reply from notification");
        }
        tb_arena_destroy(&arena);
        s_free(s);
        return out;
    }
    tb_arena_destroy(&arena);
    /* A browser's EventSource retries after this many ms when the stream ends. */
    s_append(s, "retry: 3000\n\n", 13);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, s_read, s, s_free);
    if (!resp) {
        s_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    gw_add_common_headers(r, resp);
    tb_info("events.open", r->cid, TB_S("recipient", recipient), TB_I("after", after),
            TB_S("actor", r->who.actor));
    enum MHD_Result out = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->status = 200;
    r->outcome = "OK";
    r->answered = true;
    return out;
}
