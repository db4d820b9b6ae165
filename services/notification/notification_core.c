/*  notification_core: events -> stored notifications -> API and XPUB. */
#include "notification_core.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "notification_store.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_util.h"
#include "tb_valid.h"
#include "tb_wire.h"

/*  Everything one event builds (its notifications and their packed form). */
#define S_APPLY_ARENA_CAP (8u * 1024 * 1024)
/*  Subscription frames read per readable callback, so one busy socket cannot
    starve the loop. */
#define S_SUBSCRIPTIONS_PER_CALL 256
#define S_TOPIC_LOG_MAX          128

/*  A notification stored by a transaction not known to be committed yet. */
typedef struct {
    int64_t event_seq;
    int64_t seq;
    int kind;
    char *recipient;
    char *cid;
    uint8_t *data;
    size_t len;
} s_pending_t;

struct notification_stream_t {
    notification_core_t *core;
    const char *name;
    s_pending_t *items;
    size_t count, cap;
};

struct notification_core_t {
    tb_db_t *db;
    size_t reply_budget;
    bool keyed;
    void *xpub;
    notification_stream_t requests, matches;
};

/* ---- names ---- */

static const char *s_enum_name(const ProtobufCEnumDescriptor *desc, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, value);
    return v ? v->name : "UNKNOWN";
}

static const char *s_kind_name(int kind)
{
    return s_enum_name(&techbridge__notification_kind__descriptor, kind);
}

static const char *s_event_name(int type)
{
    return s_enum_name(&techbridge__event_type__descriptor, type);
}

/* ---- pure parts ---- */

bool notification_valid_recipient(const char *recipient)
{
    if (!recipient)
        return false;
    return strcmp(recipient, NOTIFICATION_OPERATORS) == 0 || tb_valid_org_id(recipient);
}

bool notification_may_read(const char *actor, bool is_operator, const char *recipient)
{
    if (is_operator)
        return true;
    /* "operators" is also a well-formed org id: never let an org that calls itself
       so read the operators' notifications. */
    if (!actor || !recipient || strcmp(recipient, NOTIFICATION_OPERATORS) == 0)
        return false;
    return strcmp(actor, recipient) == 0;
}

bool notification_may_subscribe(bool keyed, const char *user_id, const void *topic,
                                size_t len)
{
    if (!keyed)
        return true;
    if (!user_id || !*user_id)
        return false;
    if (strcmp(user_id, TB_OPERATOR) == 0)
        return true;
    if (strcmp(user_id, NOTIFICATION_OPERATORS) == 0)
        return false;
    char own[128];
    int n = tb_wire_topic(own, sizeof own, user_id);
    return n > 0 && len == (size_t)n && memcmp(topic, own, len) == 0;
}

static const char *s_str(const char *s)
{
    return s && *s ? s : "?";
}

static const char *s_party_org(const Techbridge__Party *p)
{
    if (!p || !p->org)
        return "?";
    return s_str(p->org->name && *p->org->name ? p->org->name : p->org->id);
}

/*  "Name <email>, tel. phone" of a party's contact, in the arena. */
static char *s_contact(tb_arena_t *a, const Techbridge__Party *p)
{
    const Techbridge__Contact *c = p ? p->contact : NULL;
    if (!c)
        return tb_arena_strdup(a, "no contact given");
    if (c->phone && *c->phone)
        return tb_arena_printf(a, "%s <%s>, tel. %s", s_str(c->name), s_str(c->email),
                               c->phone);
    return tb_arena_printf(a, "%s <%s>", s_str(c->name), s_str(c->email));
}

static void s_format_date(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "?");
}

static Techbridge__Notification *s_new(tb_arena_t *a, const Techbridge__Event *ev,
                                       const char *recipient, int kind,
                                       const char *subject, int64_t version)
{
    Techbridge__Notification *n =
        TB_PB_NEW(a, Techbridge__Notification, techbridge__notification__descriptor);
    if (!n)
        return NULL;
    n->recipient = tb_arena_strdup(a, recipient);
    n->kind = (Techbridge__NotificationKind)kind;
    n->subject_id = tb_arena_strdup(a, subject);
    n->subject_version = version;
    n->correlation_id = tb_arena_strdup(a, ev->correlation_id);
    if (!n->recipient || !n->subject_id || !n->correlation_id)
        return NULL;
    return n;
}

static int s_map_request(tb_arena_t *a, const Techbridge__Event *ev,
                         Techbridge__Notification **items)
{
    const Techbridge__Request *r = ev->request;
    if (!r || !r->org || !tb_valid_org_id(r->org->id) || !r->id || !*r->id)
        return -1;
    int kind = ev->type == TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED
                   ? TECHBRIDGE__NOTIFICATION_KIND__REQUEST_STATUS_CHANGED
                   : TECHBRIDGE__NOTIFICATION_KIND__REQUEST_EXPIRING;
    Techbridge__Notification *n = s_new(a, ev, r->org->id, kind, r->id, r->version);
    if (!n)
        return -2;
    n->request = (Techbridge__Request *)r;
    if (kind == TECHBRIDGE__NOTIFICATION_KIND__REQUEST_STATUS_CHANGED) {
        char *text = tb_arena_printf(
            a, "Your %s \"%s\" (%s) is now %s",
            r->kind == TECHBRIDGE__KIND__OFFER ? "offer" : "need", s_str(r->title), r->id,
            s_enum_name(&techbridge__status__descriptor, r->status));
        if (text && ev->from_status != TECHBRIDGE__STATUS__STATUS_UNSPECIFIED)
            text = tb_arena_printf(
                a, "%s (was %s)", text,
                s_enum_name(&techbridge__status__descriptor, ev->from_status));
        if (text && ev->actor && *ev->actor)
            text = tb_arena_printf(a, "%s, by %s", text, ev->actor);
        if (text && ev->reason && *ev->reason)
            text = tb_arena_printf(a, "%s: %s", text, ev->reason);
        n->text = text;
    } else {
        char date[32];
        s_format_date(r->expires_at, date);
        n->text =
            tb_arena_printf(a,
                            "Your %s \"%s\" (%s) expires at %s; renew it to keep it "
                            "published",
                            r->kind == TECHBRIDGE__KIND__OFFER ? "offer" : "need",
                            s_str(r->title), r->id, date);
    }
    if (!n->text)
        return -2;
    items[0] = n;
    return 1;
}

static int s_map_match(tb_arena_t *a, const Techbridge__Event *ev,
                       Techbridge__Notification **items)
{
    const Techbridge__Match *m = ev->match;
    if (!m || !m->id || !*m->id || !m->offer || !m->need)
        return -1;
    const Techbridge__Party *o = m->offer, *nd = m->need;
    const char *otitle = s_str(o->title), *ntitle = s_str(nd->title);
    int count = 0;
    if (ev->type == TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED) {
        if (!o->org || !nd->org || !tb_valid_org_id(o->org->id) ||
            !tb_valid_org_id(nd->org->id))
            return -1;
        char *oc = s_contact(a, o), *nc = s_contact(a, nd);
        if (!oc || !nc)
            return -2;
        char *text = tb_arena_printf(
            a,
            "Introduction (match %s, score %.2f): offer \"%s\" by %s, contact %s; "
            "need \"%s\" by %s, contact %s",
            m->id, m->score, otitle, s_party_org(o), oc, ntitle, s_party_org(nd), nc);
        if (!text)
            return -2;
        const char *recipients[2] = {o->org->id, nd->org->id};
        for (int i = 0; i < 2; i++) {
            if (i == 1 && strcmp(recipients[0], recipients[1]) == 0)
                break; /* never happens (same-org pairs are not matched), but once only */
            Techbridge__Notification *n =
                s_new(a, ev, recipients[i], TECHBRIDGE__NOTIFICATION_KIND__MATCH_ACCEPTED,
                      m->id, m->version);
            if (!n)
                return -2;
            n->text = text;
            n->match = (Techbridge__Match *)m;
            items[count++] = n;
        }
        return count;
    }
    int kind = ev->type == TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_PROPOSED
                   ? TECHBRIDGE__NOTIFICATION_KIND__MATCH_PROPOSED
                   : TECHBRIDGE__NOTIFICATION_KIND__MATCH_DECLINED;
    Techbridge__Notification *n =
        s_new(a, ev, NOTIFICATION_OPERATORS, kind, m->id, m->version);
    if (!n)
        return -2;
    n->match = (Techbridge__Match *)m;
    if (kind == TECHBRIDGE__NOTIFICATION_KIND__MATCH_PROPOSED)
        n->text = tb_arena_printf(
            a,
            "Match %s proposed (score %.2f): offer \"%s\" by %s and need "
            "\"%s\" by %s",
            m->id, m->score, otitle, s_party_org(o), ntitle, s_party_org(nd));
    else if (m->reason && *m->reason)
        n->text =
            tb_arena_printf(a, "Match %s declined: offer \"%s\" and need \"%s\": %s",
                            m->id, otitle, ntitle, m->reason);
    else
        n->text = tb_arena_printf(a, "Match %s declined: offer \"%s\" and need \"%s\"",
                                  m->id, otitle, ntitle);
    if (!n->text)
        return -2;
    items[0] = n;
    return 1;
}

/*  What an event type notifies about: a request, a match, or nothing. */
typedef enum { S_ABOUT_NOTHING, S_ABOUT_REQUEST, S_ABOUT_MATCH } s_about_t;

static s_about_t s_about(Techbridge__EventType type)
{
    switch (type) {
    case TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED:
    case TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EXPIRING:
        return S_ABOUT_REQUEST;
    case TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_PROPOSED:
    case TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED:
    case TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_DECLINED:
        return S_ABOUT_MATCH;
    default:
        return S_ABOUT_NOTHING;
    }
}

bool notification_core_wants(const Techbridge__Event *event, void *arg)
{
    (void)arg;
    return s_about(event->type) != S_ABOUT_NOTHING;
}

int notification_map_event(tb_arena_t *arena, const Techbridge__Event *event,
                           Techbridge__Notification ***out)
{
    *out = NULL;
    if (!event)
        return -1;
    Techbridge__Notification **items = tb_arena_alloc(arena, 2 * sizeof *items);
    if (!items)
        return -2;
    int n = 0;
    switch (s_about(event->type)) {
    case S_ABOUT_REQUEST:
        n = s_map_request(arena, event, items);
        break;
    case S_ABOUT_MATCH:
        n = s_map_match(arena, event, items);
        break;
    case S_ABOUT_NOTHING:
        break;
    }
    if (n > 0)
        *out = items;
    return n;
}

/* ---- pending publications ---- */

static void s_pending_free(s_pending_t *p)
{
    free(p->recipient);
    free(p->cid);
    free(p->data);
}

/*  Forgets what an attempt at events >= `from_seq` kept: that transaction rolled
    back (the event is being applied again). */
static void s_pending_drop_from(notification_stream_t *st, int64_t from_seq)
{
    size_t keep = 0;
    for (size_t i = 0; i < st->count; i++) {
        if (st->items[i].event_seq >= from_seq)
            s_pending_free(&st->items[i]);
        else
            st->items[keep++] = st->items[i];
    }
    st->count = keep;
}

static int s_pending_push(notification_stream_t *st, int64_t event_seq,
                          const Techbridge__Notification *n, const uint8_t *data,
                          size_t len)
{
    if (st->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        s_pending_t *items = realloc(st->items, cap * sizeof *items);
        if (!items)
            return -1;
        st->items = items;
        st->cap = cap;
    }
    s_pending_t p = {.event_seq = event_seq, .seq = n->seq, .kind = n->kind};
    p.recipient = strdup(n->recipient);
    p.cid = strdup(n->correlation_id ? n->correlation_id : "");
    p.data = malloc(len ? len : 1);
    if (!p.recipient || !p.cid || !p.data) {
        s_pending_free(&p);
        return -1;
    }
    memcpy(p.data, data, len);
    p.len = len;
    st->items[st->count++] = p;
    return 0;
}

static void s_publish(notification_core_t *core, const s_pending_t *p)
{
    if (!core->xpub)
        return;
    /* An XPUB never blocks: a subscriber past its high-water mark loses the live
       copy (it catches up from the store), the service carries on. */
    char topic[128];
    int topic_len = tb_wire_topic(topic, sizeof topic, p->recipient);
    if (topic_len < 0 ||
        zmq_send(core->xpub, topic, (size_t)topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(core->xpub, p->data, p->len, ZMQ_DONTWAIT) < 0) {
        tb_warn("notification.publish_failed", p->cid, TB_S("recipient", p->recipient),
                TB_I("seq", p->seq), TB_S("error", zmq_strerror(zmq_errno())));
        return;
    }
    tb_debug("notification.published", p->cid, TB_S("recipient", p->recipient),
             TB_S("kind", s_kind_name(p->kind)), TB_I("seq", p->seq));
}

/* ---- life ---- */

notification_core_t *notification_core_new(tb_db_t *db, size_t reply_budget, bool keyed)
{
    notification_core_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->reply_budget = reply_budget ? reply_budget : 256 * 1024;
    self->keyed = keyed;
    self->requests.core = self;
    self->requests.name = TB_STREAM_REQUESTS;
    self->matches.core = self;
    self->matches.name = TB_STREAM_MATCHES;
    return self;
}

static void s_stream_clear(notification_stream_t *st)
{
    s_pending_drop_from(st, INT64_MIN);
    free(st->items);
    st->items = NULL;
    st->cap = 0;
}

void notification_core_destroy(notification_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    notification_core_t *self = *self_p;
    s_stream_clear(&self->requests);
    s_stream_clear(&self->matches);
    free(self);
    *self_p = NULL;
}

int notification_core_set_pub(notification_core_t *self, void *xpub)
{
    self->xpub = xpub;
    if (xpub && self->keyed) {
        /* Subscriptions take effect only when on_subscription admits them. */
        int on = 1;
        if (zmq_setsockopt(xpub, ZMQ_XPUB_MANUAL, &on, sizeof on) != 0)
            return -1;
    }
    return 0;
}

notification_stream_t *notification_core_stream(notification_core_t *self,
                                                const char *stream)
{
    if (strcmp(stream, TB_STREAM_REQUESTS) == 0)
        return &self->requests;
    if (strcmp(stream, TB_STREAM_MATCHES) == 0)
        return &self->matches;
    return NULL;
}

/* ---- the feeds ---- */

int notification_core_apply(tb_db_t *db, const Techbridge__Event *event, void *arg)
{
    notification_stream_t *st = arg;
    const char *cid = event->correlation_id;
    /* Whatever an earlier attempt at this event (or a later one) kept belongs to a
       transaction that rolled back. */
    s_pending_drop_from(st, event->seq);

    tb_arena_t *arena = tb_arena_new(S_APPLY_ARENA_CAP);
    if (!arena)
        return -1;
    Techbridge__Notification **items = NULL;
    int n = notification_map_event(arena, event, &items);
    if (n == -1) {
        /* Retrying cannot help a malformed event; skip it loudly. */
        tb_error("notification.event_malformed", cid, TB_S("stream", st->name),
                 TB_I("event_seq", event->seq), TB_S("type", s_event_name(event->type)));
        tb_arena_destroy(&arena);
        return 0;
    }
    if (n < 0) {
        tb_error("notification.out_of_memory", cid, TB_S("stream", st->name),
                 TB_I("event_seq", event->seq));
        tb_arena_destroy(&arena);
        return -1;
    }
    if (n > 0 && notification_store_prepare(db) != 0) {
        tb_arena_destroy(&arena);
        return -1;
    }
    int64_t now = tb_now_ms();
    for (int i = 0; i < n; i++) {
        Techbridge__Notification *note = items[i];
        note->created_at = now;
        bool created = false;
        uint8_t *data = NULL;
        size_t len = 0;
        if (notification_store_insert(db, arena, note, &created, &data, &len) != 0) {
            tb_warn("notification.store_failed", cid, TB_S("stream", st->name),
                    TB_I("event_seq", event->seq), TB_S("recipient", note->recipient),
                    TB_S("kind", s_kind_name(note->kind)),
                    TB_S("sqlstate", tb_db_sqlstate(db)),
                    TB_S("error", tb_db_message(db)));
            s_pending_drop_from(st, event->seq);
            tb_arena_destroy(&arena);
            return -1;
        }
        if (!created) {
            tb_info("notification.duplicate", cid, TB_S("stream", st->name),
                    TB_I("event_seq", event->seq), TB_S("recipient", note->recipient),
                    TB_S("kind", s_kind_name(note->kind)),
                    TB_S("subject_id", note->subject_id),
                    TB_I("subject_version", note->subject_version),
                    TB_I("seq", note->seq));
            continue;
        }
        if (s_pending_push(st, event->seq, note, data, len) != 0) {
            s_pending_drop_from(st, event->seq);
            tb_arena_destroy(&arena);
            return -1;
        }
        tb_info("notification.stored", cid, TB_S("stream", st->name),
                TB_I("event_seq", event->seq), TB_S("event", s_event_name(event->type)),
                TB_S("recipient", note->recipient), TB_S("kind", s_kind_name(note->kind)),
                TB_S("subject_id", note->subject_id),
                TB_I("subject_version", note->subject_version), TB_I("seq", note->seq));
    }
    tb_arena_destroy(&arena);
    return 0;
}

/*  The runtime calls this for every event of a committed transaction, in
    order, so what this event stored is exactly what is pending under its
    position. Anything pending under an earlier position was kept by an
    attempt that rolled back and was never applied again here (another
    instance applied those events): dropped, never published. */
void notification_core_committed(const Techbridge__Event *event, void *arg)
{
    notification_stream_t *st = arg;
    size_t keep = 0;
    for (size_t i = 0; i < st->count; i++) {
        s_pending_t *p = &st->items[i];
        if (p->event_seq == event->seq)
            s_publish(st->core, p);
        if (p->event_seq <= event->seq) {
            if (p->event_seq < event->seq)
                tb_debug("notification.unpublished", p->cid,
                         TB_S("recipient", p->recipient), TB_I("seq", p->seq),
                         TB_S("reason", "its transaction rolled back"));
            s_pending_free(p);
        } else {
            st->items[keep++] = *p;
        }
    }
    st->count = keep;
}

/* ---- the API ---- */

/*  Checks `recipient` and that the caller may read it; sets the error. */
static int s_check_recipient(tb_call_t *call, const char *recipient)
{
    if (!notification_valid_recipient(recipient)) {
        tb_call_violation(call, "recipient",
                          "must be \"operators\" or an organisation id");
        return -1;
    }
    if (!notification_may_read(call->actor, call->is_operator, recipient))
        return tb_call_error(call, TECHBRIDGE__CODE__PERMISSION_DENIED,
                             "an organisation may read only its own notifications");
    return 0;
}

static int s_list(notification_core_t *core, tb_call_t *call)
{
    const Techbridge__ListNotifications *q = call->req->list_notifications;
    if (!q)
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT, "empty request");
    const char *recipient = q->recipient;
    if (s_check_recipient(call, recipient) != 0)
        return -1;
    if (q->after < 0)
        tb_call_violation(call, "after", "must be 0 or more");
    if (q->limit < 0)
        tb_call_violation(call, "limit", "must be 0 (default) or more");
    if (call->reply->error)
        return -1;
    int limit = q->limit == 0                      ? NOTIFICATION_LIST_DEFAULT
                : q->limit > NOTIFICATION_LIST_MAX ? NOTIFICATION_LIST_MAX
                                                   : q->limit;
    if (notification_store_prepare(core->db) != 0)
        return tb_call_db_error(call, core->db, "list notifications");
    Techbridge__NotificationPage *page =
        TB_PB_NEW(call->arena, Techbridge__NotificationPage,
                  techbridge__notification_page__descriptor);
    if (!page)
        return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                             "reply too large");
    Techbridge__Notification **items = NULL;
    int64_t last_seq = 0;
    int n = notification_store_list(core->db, call->arena, recipient, q->after, limit,
                                    core->reply_budget, &items, &last_seq);
    if (n < 0)
        return tb_call_db_error(call, core->db, "list notifications");
    page->notifications = items;
    page->n_notifications = (size_t)n;
    page->last_seq = last_seq;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_NOTIFICATIONS;
    call->reply->notifications = page;
    return 0;
}

static int s_ack(notification_core_t *core, tb_call_t *call)
{
    const Techbridge__AckNotifications *q = call->req->ack_notifications;
    if (!q)
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT, "empty request");
    const char *recipient = q->recipient;
    if (s_check_recipient(call, recipient) != 0)
        return -1;
    if (q->upto < 0) {
        tb_call_violation(call, "upto", "must be 0 or more");
        return -1;
    }
    if (notification_store_prepare(core->db) != 0)
        return tb_call_db_error(call, core->db, "acknowledge notifications");
    Techbridge__RecipientStats *stats = TB_PB_NEW(
        call->arena, Techbridge__RecipientStats, techbridge__recipient_stats__descriptor);
    if (!stats || !(stats->recipient = tb_arena_strdup(call->arena, recipient)))
        return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                             "reply too large");
    if (notification_store_ack(core->db, recipient, q->upto, stats) != 0)
        return tb_call_db_error(call, core->db, "acknowledge notifications");
    tb_info("notification.acked", call->cid, TB_S("recipient", recipient),
            TB_I("upto", q->upto), TB_I("acked", stats->acked),
            TB_I("last_seq", stats->last_seq));
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_ACK;
    call->reply->ack = stats;
    return 0;
}

static int s_stats(notification_core_t *core, tb_call_t *call)
{
    const Techbridge__NotificationStats *q = call->req->notification_stats;
    const char *recipient = q && q->recipient && *q->recipient ? q->recipient : NULL;
    if (recipient) {
        if (s_check_recipient(call, recipient) != 0)
            return -1;
    } else if (!call->is_operator) {
        return tb_call_error(call, TECHBRIDGE__CODE__PERMISSION_DENIED,
                             "only operators may read every recipient's stats");
    }
    if (notification_store_prepare(core->db) != 0)
        return tb_call_db_error(call, core->db, "notification stats");
    Techbridge__NotificationStatsResult *res =
        TB_PB_NEW(call->arena, Techbridge__NotificationStatsResult,
                  techbridge__notification_stats_result__descriptor);
    if (!res)
        return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                             "reply too large");
    Techbridge__RecipientStats **items = NULL;
    int n = notification_store_stats(core->db, call->arena, recipient, &items);
    if (n < 0)
        return tb_call_db_error(call, core->db, "notification stats");
    res->recipients = items;
    res->n_recipients = (size_t)n;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_NOTIFICATION_STATS;
    call->reply->notification_stats = res;
    return 0;
}

int notification_core_api(tb_call_t *call, void *arg)
{
    notification_core_t *core = arg;
    switch (call->req->body_case) {
    case TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS:
        return s_list(core, call);
    case TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS:
        return s_ack(core, call);
    case TECHBRIDGE__API_REQUEST__BODY_NOTIFICATION_STATS:
        return s_stats(core, call);
    default:
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "unknown kind %s for the notification service",
                             tb_call_kind_name(call->req->body_case));
    }
}

/* ---- the XPUB ---- */

void notification_core_on_subscription(tb_service_t *service, void *socket, void *arg)
{
    (void)service;
    notification_core_t *core = arg;
    for (int i = 0; i < S_SUBSCRIPTIONS_PER_CALL; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        const uint8_t *data = zmq_msg_data(&msg);
        size_t size = zmq_msg_size(&msg);
        if (size < 1 || (data[0] != 0 && data[0] != 1) || zmq_msg_more(&msg)) {
            /* Not a subscription: subscribers have nothing else to say. */
            tb_warn("pub.unexpected_frame", NULL, TB_I("bytes", (int64_t)size));
            zmq_msg_close(&msg);
            continue;
        }
        bool subscribe = data[0] == 1;
        const void *topic = data + 1;
        size_t len = size - 1;
        const char *uid = zmq_msg_gets(&msg, "User-Id");
        if (!uid)
            uid = "";
        bool admitted = notification_may_subscribe(core->keyed, uid, topic, len);
        if (core->keyed && admitted &&
            zmq_setsockopt(socket, subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, topic,
                           len) != 0)
            admitted = false;
        char shown[S_TOPIC_LOG_MAX + 1];
        size_t n = len < S_TOPIC_LOG_MAX ? len : S_TOPIC_LOG_MAX;
        memcpy(shown, topic, n);
        shown[n] = '\0';
        if (admitted)
            tb_info(subscribe ? "pub.subscribe" : "pub.unsubscribe", NULL,
                    TB_S("topic", shown), TB_S("user", uid));
        else
            tb_warn("pub.subscribe_denied", NULL, TB_S("topic", shown),
                    TB_S("user", uid));
        zmq_msg_close(&msg);
    }
}
