/*  notification_core: events -> stored notifications -> API and XPUB. */
#include "notification_core.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <zmq.h>

#include "notification_store.h"
#include "notification_text.h"
#include "tb_auth.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_loglimit.h"
#include "tb_util.h"
#include "tb_valid.h"
#include "tb_wire.h"

/*  Everything one event builds (its notifications and their packed form). */
#define S_APPLY_ARENA_CAP (8u * 1024 * 1024)
/*  Subscription frames read per readable callback, so one busy socket cannot
    starve the loop. */
#define S_SUBSCRIPTIONS_PER_CALL 256
#define S_TOPIC_LOG_MAX          128
/*  pub.subscribe_denied lines: S_DENY_LINES a minute per subscriber role, and
    S_DENY_TOTAL in all, with a count of the ones held back; a peer can send
    thousands of refused subscriptions a second. */
#define S_DENY_ROLES  64
#define S_DENY_LINES  3
#define S_DENY_TOTAL  60
#define S_DENY_LOG_US (60LL * 1000 * 1000)
/*  Subscriptions one connection may hold. libzmq keeps every subscription a
    peer sends (admitted or refused) in a table of its own until the peer
    unsubscribes or leaves, about 32 bytes a topic byte: past this many the
    connection is cut. A subscriber needs one topic; the gateway one per
    organisation it follows. */
#define S_PEER_SUBSCRIPTIONS_MAX 1000
#define S_PEER_SLOTS             4096

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

/*  A subscriber's connection, known by the socket libzmq reads it from (the
    "__fd" property of its messages) and the peer's address and port (so that
    a descriptor reused by a new connection starts afresh). */
typedef struct {
    int fd;
    char peer[64];
    int held; /* subscriptions minus unsubscriptions */
    bool cut;
} s_peer_t;

struct notification_core_t {
    tb_db_t *db;
    size_t reply_budget;
    bool keyed;
    void *xpub;
    notification_text_t *text;
    tb_lang_t operators_lang;
    notification_stream_t requests, matches;
    tb_loglimit_t *deny_log; /* pub.subscribe_denied lines per role */
    s_peer_t *peers;         /* by descriptor, S_PEER_SLOTS */
    int pub_port;            /* the XPUB's TCP port; 0: unknown (no cutting) */
    bool gone;               /* a subscriber left: libzmq freed its table */
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
    /* The gateway subscribes for the people logged in to it and checks itself
       what each may follow (docs/security.md). */
    if (strcmp(user_id, TB_OPERATOR) == 0 || tb_auth_is_gateway(user_id))
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

/*  The language of a recipient who prefers `code`; `otherwise` when `code`
    names none of ours (empty: not set; anything else: written by a newer
    client, or junk). */
static tb_lang_t s_lang(const char *code, tb_lang_t otherwise)
{
    tb_lang_t lang;
    return code && *code && tb_lang_parse(code, &lang) == 0 ? lang : otherwise;
}

/*  The word of template `key` (one without placeholders), or NULL (arena full). */
static const char *s_word(const notification_text_t *tx, tb_arena_t *a, tb_lang_t lang,
                          const char *key)
{
    char *word = NULL;
    return notification_text_add(tx, a, lang, key, NULL, &word) == 0 ? word : NULL;
}

/*  The word for a status, or NULL (arena full). A status the templates have no
    word for (one added to the proto before its words) keeps its API name. */
static const char *s_status(const notification_text_t *tx, tb_arena_t *a, tb_lang_t lang,
                            int status)
{
    const char *name = s_enum_name(&techbridge__status__descriptor, status);
    char *key = tb_arena_printf(a, "status.%s", name);
    if (!key)
        return NULL;
    return notification_text_has(key) ? s_word(tx, a, lang, key) : name;
}

/*  A party's contact in `lang` into *out. Returns 0 or -1 (arena full). */
static int s_contact(const notification_text_t *tx, tb_arena_t *a, tb_lang_t lang,
                     const Techbridge__Party *p, char **out)
{
    *out = NULL;
    const Techbridge__Contact *c = p ? p->contact : NULL;
    if (!c)
        return notification_text_add(tx, a, lang, "contact.none", NULL, out);
    const char *v[NOTIFICATION_P_COUNT] = {
        [NOTIFICATION_P_NAME] = s_str(c->name),
        [NOTIFICATION_P_EMAIL] = s_str(c->email),
        [NOTIFICATION_P_PHONE] = c->phone,
    };
    if (notification_text_add(tx, a, lang, "contact", v, out) != 0)
        return -1;
    if (c->phone && *c->phone)
        return notification_text_add(tx, a, lang, "contact.phone", v, out);
    return 0;
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

/*  The text of a request notification in `lang` into *out: the main template,
    then the optional parts the event carries. Returns 0 or -1 (arena full). */
static int s_request_text(const notification_text_t *tx, tb_arena_t *a, tb_lang_t lang,
                          const Techbridge__Event *ev, int kind, char **out)
{
    const Techbridge__Request *r = ev->request;
    const char *v[NOTIFICATION_P_COUNT] = {
        [NOTIFICATION_P_KIND] = s_word(
            tx, a, lang, r->kind == TECHBRIDGE__KIND__OFFER ? "kind.offer" : "kind.need"),
        [NOTIFICATION_P_TITLE] = s_str(r->title),
        [NOTIFICATION_P_ID] = r->id,
    };
    if (!v[NOTIFICATION_P_KIND])
        return -1;
    *out = NULL;
    if (kind == TECHBRIDGE__NOTIFICATION_KIND__REQUEST_EXPIRING) {
        char date[32];
        s_format_date(r->expires_at, date);
        v[NOTIFICATION_P_DATE] = date;
        return notification_text_add(tx, a, lang, "expiring", v, out);
    }
    if (!(v[NOTIFICATION_P_STATUS] = s_status(tx, a, lang, r->status)) ||
        notification_text_add(tx, a, lang, "status_changed", v, out) != 0)
        return -1;
    if (ev->from_status != TECHBRIDGE__STATUS__STATUS_UNSPECIFIED &&
        (!(v[NOTIFICATION_P_FROM_STATUS] = s_status(tx, a, lang, ev->from_status)) ||
         notification_text_add(tx, a, lang, "status_changed.was", v, out) != 0))
        return -1;
    if (ev->actor && *ev->actor) {
        v[NOTIFICATION_P_ACTOR] = ev->actor;
        if (notification_text_add(tx, a, lang, "status_changed.by", v, out) != 0)
            return -1;
    }
    if (ev->reason && *ev->reason) {
        v[NOTIFICATION_P_REASON] = ev->reason;
        if (notification_text_add(tx, a, lang, "status_changed.reason", v, out) != 0)
            return -1;
    }
    return 0;
}

static int s_map_request(const notification_text_t *tx, tb_arena_t *a,
                         const Techbridge__Event *ev, Techbridge__Notification **items)
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
    /* The owner's preferred language; an org that never chose one reads the
       language it writes its requests in. */
    tb_lang_t lang = s_lang(r->org->language, s_lang(r->language, TB_LANG_EN));
    if (s_request_text(tx, a, lang, ev, kind, &n->text) != 0)
        return -2;
    items[0] = n;
    return 1;
}

static int s_map_match(const notification_text_t *tx, tb_lang_t operators, tb_arena_t *a,
                       const Techbridge__Event *ev, Techbridge__Notification **items)
{
    const Techbridge__Match *m = ev->match;
    if (!m || !m->id || !*m->id || !m->offer || !m->need)
        return -1;
    const Techbridge__Party *o = m->offer, *nd = m->need;
    const char *v[NOTIFICATION_P_COUNT] = {
        [NOTIFICATION_P_MATCH_ID] = m->id,
        [NOTIFICATION_P_SCORE] = tb_arena_printf(a, "%.2f", m->score),
        [NOTIFICATION_P_OFFER_TITLE] = s_str(o->title),
        [NOTIFICATION_P_OFFER_ORG] = s_party_org(o),
        [NOTIFICATION_P_NEED_TITLE] = s_str(nd->title),
        [NOTIFICATION_P_NEED_ORG] = s_party_org(nd),
    };
    if (!v[NOTIFICATION_P_SCORE])
        return -2;
    int count = 0;
    if (ev->type == TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED) {
        if (!o->org || !nd->org || !tb_valid_org_id(o->org->id) ||
            !tb_valid_org_id(nd->org->id))
            return -1;
        const Techbridge__Party *recipients[2] = {o, nd};
        for (int i = 0; i < 2; i++) {
            const char *to = recipients[i]->org->id;
            if (i == 1 && strcmp(o->org->id, to) == 0)
                break; /* never happens (same-org pairs are not matched), but once only */
            Techbridge__Notification *n =
                s_new(a, ev, to, TECHBRIDGE__NOTIFICATION_KIND__MATCH_ACCEPTED, m->id,
                      m->version);
            if (!n)
                return -2;
            /* Each organisation reads the introduction in its own language,
               contacts included ("tel.", "no contact given"). */
            tb_lang_t lang = s_lang(recipients[i]->org->language, TB_LANG_EN);
            char *oc = NULL, *nc = NULL;
            if (s_contact(tx, a, lang, o, &oc) != 0 ||
                s_contact(tx, a, lang, nd, &nc) != 0)
                return -2;
            v[NOTIFICATION_P_OFFER_CONTACT] = oc;
            v[NOTIFICATION_P_NEED_CONTACT] = nc;
            if (notification_text_add(tx, a, lang, "match_accepted", v, &n->text) != 0)
                return -2;
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
    if (kind == TECHBRIDGE__NOTIFICATION_KIND__MATCH_PROPOSED) {
        if (notification_text_add(tx, a, operators, "match_proposed", v, &n->text) != 0)
            return -2;
    } else {
        if (notification_text_add(tx, a, operators, "match_declined", v, &n->text) != 0)
            return -2;
        v[NOTIFICATION_P_REASON] = m->reason;
        if (m->reason && *m->reason &&
            notification_text_add(tx, a, operators, "match_declined.reason", v,
                                  &n->text) != 0)
            return -2;
    }
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

int notification_map_event(const notification_text_t *text, tb_lang_t operators,
                           tb_arena_t *arena, const Techbridge__Event *event,
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
        n = s_map_request(text, arena, event, items);
        break;
    case S_ABOUT_MATCH:
        n = s_map_match(text, operators, arena, event, items);
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
    self->operators_lang = TB_LANG_EN;
    self->deny_log =
        tb_loglimit_new(S_DENY_ROLES, S_DENY_LINES, S_DENY_TOTAL, S_DENY_LOG_US);
    self->peers = calloc(S_PEER_SLOTS, sizeof *self->peers);
    if (!self->deny_log || !self->peers) {
        notification_core_destroy(&self);
        return NULL;
    }
    /* The templates are data: whatever is wrong with them stops the service
       here, not at the first notification that needs the broken one. */
    char err[512];
    if (!(self->text = notification_text_new()) ||
        notification_text_load_embedded(self->text, err, sizeof err) != 0) {
        tb_error("notification.templates_invalid", NULL,
                 TB_S("error", self->text ? err : "out of memory"));
        notification_core_destroy(&self);
        return NULL;
    }
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
    notification_text_destroy(&self->text);
    tb_loglimit_destroy(&self->deny_log);
    free(self->peers);
    free(self);
    *self_p = NULL;
}

void notification_core_set_operators_lang(notification_core_t *self, tb_lang_t lang)
{
    self->operators_lang = lang;
}

int notification_core_set_pub(notification_core_t *self, void *xpub)
{
    self->xpub = xpub;
    char endpoint[256];
    size_t size = sizeof endpoint;
    if (xpub && zmq_getsockopt(xpub, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0 &&
        strncmp(endpoint, "tcp://", 6) == 0 && strrchr(endpoint, ':'))
        self->pub_port = atoi(strrchr(endpoint, ':') + 1);
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
    int n = notification_map_event(st->core->text, st->core->operators_lang, arena, event,
                                   &items);
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

/*  The connection a subscription message came from, or NULL. The descriptor
    is libzmq's "__fd" property; a peer can name properties of its own in the
    handshake, so it is believed only when it is a TCP connection accepted on
    our XPUB's port. */
static s_peer_t *s_peer_of(notification_core_t *core, zmq_msg_t *msg)
{
    const char *text = zmq_msg_gets(msg, "__fd");
    int fd = text ? atoi(text) : -1;
    if (fd < 0 || core->pub_port <= 0)
        return NULL;
    struct sockaddr_storage local, remote;
    socklen_t llen = sizeof local, rlen = sizeof remote;
    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
        getpeername(fd, (struct sockaddr *)&remote, &rlen) != 0)
        return NULL;
    int port = -1, peer_port = -1;
    char host[INET6_ADDRSTRLEN] = "";
    if (local.ss_family == AF_INET && remote.ss_family == AF_INET) {
        port = ntohs(((struct sockaddr_in *)&local)->sin_port);
        peer_port = ntohs(((struct sockaddr_in *)&remote)->sin_port);
        inet_ntop(AF_INET, &((struct sockaddr_in *)&remote)->sin_addr, host, sizeof host);
    } else if (local.ss_family == AF_INET6 && remote.ss_family == AF_INET6) {
        port = ntohs(((struct sockaddr_in6 *)&local)->sin6_port);
        peer_port = ntohs(((struct sockaddr_in6 *)&remote)->sin6_port);
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&remote)->sin6_addr, host,
                  sizeof host);
    }
    if (port != core->pub_port)
        return NULL;
    char peer[64];
    snprintf(peer, sizeof peer, "%s:%d", host, peer_port);
    s_peer_t *p = &core->peers[fd % S_PEER_SLOTS];
    if (p->fd != fd || strcmp(p->peer, peer) != 0) {
        memset(p, 0, sizeof *p);
        p->fd = fd;
        snprintf(p->peer, sizeof p->peer, "%s", peer);
    }
    return p;
}

/*  Counts a subscription of the peer's connection and cuts the connection
    once it holds more than S_PEER_SUBSCRIPTIONS_MAX: libzmq then drops the
    connection and every subscription it kept for it. Returns true when the
    connection is (now) cut: its remaining messages are not acted on. */
static bool s_peer_subscribes(notification_core_t *core, s_peer_t *p, const char *uid)
{
    if (!p)
        return false;
    if (p->cut)
        return true;
    if (++p->held <= S_PEER_SUBSCRIPTIONS_MAX)
        return false;
    p->cut = true;
    shutdown(p->fd, SHUT_RDWR);
    /* Its own key in the limiter: the refusals may have used the role's lines. */
    char key[128];
    snprintf(key, sizeof key, "cut %s", uid);
    uint64_t held = 0;
    if (tb_loglimit_allow(core->deny_log, key, tb_mono_us(), &held))
        tb_warn("pub.subscriber_cut", NULL, TB_S("user", uid), TB_S("peer", p->peer),
                TB_I("subscriptions", p->held), TB_I("limit", S_PEER_SUBSCRIPTIONS_MAX),
                TB_I("suppressed", (int64_t)held));
    return true;
}

/*  An unsubscription is never a denial: it can only take away. With
    ZMQ_XPUB_MANUAL libzmq reports, when a subscriber disconnects, every topic
    it ever asked for (admitted or not) as an unsubscription without a
    User-Id, and has already dropped the peer's subscriptions itself: those are
    noted at debug level only, so a disconnect neither looks like an attack
    nor writes a line per topic. */
static void s_unsubscribe(notification_core_t *core, void *socket, const char *uid,
                          const void *topic, size_t len, const char *shown)
{
    if (core->keyed && !*uid) {
        tb_debug("pub.unsubscribe", NULL, TB_S("topic", shown),
                 TB_S("reason", "subscriber gone"));
        core->gone = true;
        return;
    }
    if (core->keyed)
        zmq_setsockopt(socket, ZMQ_UNSUBSCRIBE, topic, len);
    /* A topic the role may have is worth an info line; one it was refused
       (the peer unsubscribing what it never got) only a debug one. */
    bool own = notification_may_subscribe(core->keyed, uid, topic, len);
    tb_log(own ? TB_LOG_INFO : TB_LOG_DEBUG, "pub.unsubscribe", NULL,
           TB_S("topic", shown), TB_S("user", uid));
}

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
            const char *who = zmq_msg_gets(&msg, "User-Id");
            uint64_t held = 0;
            if (tb_loglimit_allow(core->deny_log, who ? who : "", tb_mono_us(), &held))
                tb_warn("pub.unexpected_frame", NULL, TB_I("bytes", (int64_t)size),
                        TB_S("user", who ? who : ""), TB_I("suppressed", (int64_t)held));
            zmq_msg_close(&msg);
            continue;
        }
        bool subscribe = data[0] == 1;
        const void *topic = data + 1;
        size_t len = size - 1;
        const char *uid = zmq_msg_gets(&msg, "User-Id");
        if (!uid)
            uid = "";
        char shown[S_TOPIC_LOG_MAX + 1];
        size_t n = len < S_TOPIC_LOG_MAX ? len : S_TOPIC_LOG_MAX;
        memcpy(shown, topic, n);
        shown[n] = '\0';
        s_peer_t *peer = s_peer_of(core, &msg);
        if (!subscribe) {
            if (peer && peer->held > 0)
                peer->held--;
            s_unsubscribe(core, socket, uid, topic, len, shown);
            zmq_msg_close(&msg);
            continue;
        }
        if (s_peer_subscribes(core, peer, uid)) {
            zmq_msg_close(&msg);
            continue;
        }
        bool admitted = notification_may_subscribe(core->keyed, uid, topic, len);
        if (core->keyed && admitted &&
            zmq_setsockopt(socket, ZMQ_SUBSCRIBE, topic, len) != 0)
            admitted = false;
        uint64_t held = 0;
        if (admitted)
            tb_info("pub.subscribe", NULL, TB_S("topic", shown), TB_S("user", uid));
        else if (tb_loglimit_allow(core->deny_log, uid, tb_mono_us(), &held))
            tb_warn("pub.subscribe_denied", NULL, TB_S("topic", shown), TB_S("user", uid),
                    TB_I("suppressed", (int64_t)held));
        zmq_msg_close(&msg);
    }
    /* libzmq frees a departed subscriber's subscriptions in small pieces;
       give the pages back, or a flood's peak would stay the service's size. */
    if (core->gone) {
        core->gone = false;
        malloc_trim(0);
    }
}
