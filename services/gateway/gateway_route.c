/*  gateway_route: /api/v1 routes to ApiRequests (see gateway_route.h and the
    route table in README "The web console and HTTP/JSON API"). */
#include "gateway_route.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tb_fsm.h"
#include "tb_json.h"
#include "tb_valid.h"

#define S_MAX_SEGMENTS 6
#define S_MAX_SEGMENT  256

typedef struct {
    tb_arena_t *a;
    const gw_http_in_t *in;
    gw_route_t *out;
    const char *seg[S_MAX_SEGMENTS];
    int nseg;
    bool oom;
} s_ctx_t;

int gw_http_status(Techbridge__Code code)
{
    switch (code) {
    case TECHBRIDGE__CODE__OK:
        return 200;
    case TECHBRIDGE__CODE__INVALID_ARGUMENT:
        return 400;
    case TECHBRIDGE__CODE__UNAUTHENTICATED:
        return 401;
    case TECHBRIDGE__CODE__PERMISSION_DENIED:
        return 403;
    case TECHBRIDGE__CODE__NOT_FOUND:
        return 404;
    case TECHBRIDGE__CODE__ABORTED:
    case TECHBRIDGE__CODE__ALREADY_EXISTS:
        return 409;
    case TECHBRIDGE__CODE__FAILED_PRECONDITION:
        return 422;
    case TECHBRIDGE__CODE__RESOURCE_EXHAUSTED:
        return 429;
    case TECHBRIDGE__CODE__UNAVAILABLE:
        return 503;
    default:
        return 500;
    }
}

Techbridge__Error *gw_error_new(tb_arena_t *arena, Techbridge__Code code,
                                const char *message)
{
    Techbridge__Error *e =
        TB_PB_NEW(arena, Techbridge__Error, techbridge__error__descriptor);
    if (!e)
        return NULL;
    e->code = code;
    e->message = tb_arena_strdup(arena, message);
    return e->message ? e : NULL;
}

int gw_error_violation(tb_arena_t *arena, Techbridge__Error *e, const char *field,
                       const char *reason)
{
    Techbridge__Violation *v =
        TB_PB_NEW(arena, Techbridge__Violation, techbridge__violation__descriptor);
    Techbridge__Violation **items =
        tb_arena_alloc(arena, (e->n_violations + 1) * sizeof *items);
    if (!v || !items)
        return -1;
    v->field = tb_arena_strdup(arena, field);
    v->reason = tb_arena_strdup(arena, reason);
    if (!v->field || !v->reason)
        return -1;
    if (e->n_violations)
        memcpy(items, e->violations, e->n_violations * sizeof *items);
    items[e->n_violations++] = v;
    e->violations = items;
    return 0;
}

/*  Answers with an error of our own (no call is sent). Returns 0. */
static int s_fail(s_ctx_t *c, Techbridge__Code code, const char *message)
{
    c->out->req = NULL;
    c->out->error = gw_error_new(c->a, code, message);
    c->out->status = gw_http_status(code);
    if (!c->out->error)
        c->oom = true;
    return 0;
}

static int s_not_found(s_ctx_t *c)
{
    return s_fail(c, TECHBRIDGE__CODE__NOT_FOUND, "no such route");
}

static int s_method_not_allowed(s_ctx_t *c, const char *allow)
{
    s_fail(c, TECHBRIDGE__CODE__INVALID_ARGUMENT, "method not allowed on this route");
    c->out->status = 405;
    c->out->allow = allow;
    return 0;
}

/*  A field violation, gathered on an INVALID_ARGUMENT error (made on first use). */
static void s_violation(s_ctx_t *c, const char *field, const char *reason)
{
    if (!c->out->error) {
        c->out->error =
            gw_error_new(c->a, TECHBRIDGE__CODE__INVALID_ARGUMENT, "invalid request");
        c->out->status = 400;
    }
    if (!c->out->error || gw_error_violation(c->a, c->out->error, field, reason) != 0)
        c->oom = true;
}

static bool s_is(const s_ctx_t *c, const char *method)
{
    return strcmp(c->in->method, method) == 0;
}

/* ---- query and body values ---- */

static const char *s_query(const s_ctx_t *c, const char *key)
{
    return c->in->query ? c->in->query(c->in->query_cls, key) : NULL;
}

/*  A decimal integer in [min, max], whole string. */
static bool s_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s || strlen(s) > 19)
        return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(p == s && *p == '-'))
            return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static void s_query_int(s_ctx_t *c, const char *key, int64_t min, int64_t max,
                        int64_t *out)
{
    const char *v = s_query(c, key);
    if (v && !s_parse_int(v, min, max, out)) {
        char why[96];
        snprintf(why, sizeof why, "must be an integer in %lld..%lld", (long long)min,
                 (long long)max);
        s_violation(c, key, why);
    }
}

/*  An enum query value by name ("OFFER", also "offer"); 0 when absent. */
static int s_query_enum(s_ctx_t *c, const char *key, const ProtobufCEnumDescriptor *desc)
{
    const char *v = s_query(c, key);
    if (!v || !*v)
        return 0;
    char upper[64];
    size_t i = 0;
    for (; v[i] && i + 1 < sizeof upper; i++)
        upper[i] = (char)toupper((unsigned char)v[i]);
    upper[i] = '\0';
    const ProtobufCEnumValue *ev =
        v[i] ? NULL : protobuf_c_enum_descriptor_get_value_by_name(desc, upper);
    if (!ev || ev->value == 0) {
        s_violation(c, key, "unknown value");
        return 0;
    }
    return ev->value;
}

static char *s_query_str(s_ctx_t *c, const char *key)
{
    const char *v = s_query(c, key);
    char *s = v ? tb_arena_strdup(c->a, v) : NULL;
    if (v && !s)
        c->oom = true;
    return s;
}

/*  Checks that the body is absent or an object whose keys are all in `allowed`
    (NULL-terminated). Each other key is a violation. */
static void s_body_keys(s_ctx_t *c, const char *const *allowed)
{
    const json_t *b = c->in->body;
    if (!b)
        return;
    if (!json_is_object(b)) {
        s_violation(c, "(body)", "must be a JSON object");
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)b, key, value)
    {
        bool ok = false;
        for (int i = 0; allowed[i]; i++)
            ok = ok || strcmp(allowed[i], key) == 0;
        if (!ok)
            s_violation(c, key, "unknown field");
    }
}

static void s_body_int(s_ctx_t *c, const char *key, int64_t min, int64_t max,
                       int64_t *out)
{
    const json_t *v = c->in->body ? json_object_get(c->in->body, key) : NULL;
    if (!v)
        return;
    if (!json_is_integer(v) || json_integer_value(v) < min ||
        json_integer_value(v) > max) {
        s_violation(c, key, "must be a whole number in range");
        return;
    }
    *out = json_integer_value(v);
}

static char *s_body_str(s_ctx_t *c, const char *key)
{
    const json_t *v = c->in->body ? json_object_get(c->in->body, key) : NULL;
    if (!v)
        return NULL;
    if (!json_is_string(v)) {
        s_violation(c, key, "must be a string");
        return NULL;
    }
    char *s = tb_arena_strndup(c->a, json_string_value(v), json_string_length(v));
    if (!s)
        c->oom = true;
    return s;
}

/*  Copies the checker's violations (tb_json_to_request) onto the answer. */
static void s_violations_from(s_ctx_t *c, const char *prefix, const tb_violations_t *v)
{
    for (size_t i = 0; i < v->count; i++) {
        char field[160];
        snprintf(field, sizeof field, "%s%s", prefix, v->items[i].field);
        s_violation(c, field, v->items[i].reason);
    }
}

/* ---- the calls ---- */

static Techbridge__ApiRequest *s_call(s_ctx_t *c, gw_svc_t svc)
{
    Techbridge__ApiRequest *r =
        TB_PB_NEW(c->a, Techbridge__ApiRequest, techbridge__api_request__descriptor);
    if (!r)
        c->oom = true;
    c->out->req = r;
    c->out->svc = svc;
    return r;
}

#define S_NEW(Type, desc)                                                                \
    ({                                                                                   \
        Type *p_ = TB_PB_NEW(c->a, Type, desc);                                          \
        if (!p_)                                                                         \
            c->oom = true;                                                               \
        p_;                                                                              \
    })

static int s_list(s_ctx_t *c)
{
    Techbridge__ListRequests *l =
        S_NEW(Techbridge__ListRequests, techbridge__list_requests__descriptor);
    if (!l)
        return 0;
    int64_t limit = 0;
    l->kind = (Techbridge__Kind)s_query_enum(c, "kind", &techbridge__kind__descriptor);
    l->status =
        (Techbridge__Status)s_query_enum(c, "status", &techbridge__status__descriptor);
    s_query_int(c, "limit", 1, 100, &limit);
    l->limit = (int32_t)limit;
    l->sector = s_query_str(c, "sector");
    l->org_id = s_query_str(c, "org_id");
    l->text = s_query_str(c, "text");
    l->page_token = s_query_str(c, "page_token");
    if (c->out->error)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_INTAKE);
    if (r) {
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_LIST;
        r->list = l;
    }
    return 0;
}

static int s_submit(s_ctx_t *c)
{
    if (!c->in->body || !json_is_object(c->in->body)) {
        s_violation(c, "(body)", "a request must be a JSON object");
        return 0;
    }
    tb_violations_t *v = tb_arena_alloc(c->a, sizeof *v);
    Techbridge__SubmitRequest *sub =
        S_NEW(Techbridge__SubmitRequest, techbridge__submit_request__descriptor);
    if (!v || !sub) {
        c->oom = true;
        return 0;
    }
    sub->request = tb_json_to_request(c->a, c->in->body, v, NULL, NULL);
    s_violations_from(c, "", v);
    if (!sub->request && !c->out->error)
        c->oom = true;
    if (c->out->error || c->oom)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_INTAKE);
    if (r) {
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
        r->submit = sub;
    }
    return 0;
}

static int s_get(s_ctx_t *c, const char *id)
{
    Techbridge__GetRequest *g =
        S_NEW(Techbridge__GetRequest, techbridge__get_request__descriptor);
    Techbridge__ApiRequest *r = g ? s_call(c, GW_INTAKE) : NULL;
    if (r) {
        g->id = (char *)id;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
        r->get = g;
    }
    return 0;
}

static int s_edit(s_ctx_t *c, const char *id)
{
    static const char *const allowed[] = {"version", "changes", NULL};
    s_body_keys(c, allowed);
    Techbridge__EditRequest *e =
        S_NEW(Techbridge__EditRequest, techbridge__edit_request__descriptor);
    tb_violations_t *v = tb_arena_alloc(c->a, sizeof *v);
    if (!e || !v) {
        c->oom = true;
        return 0;
    }
    s_body_int(c, "version", 1, INT64_MAX, &e->version);
    const json_t *changes = c->in->body ? json_object_get(c->in->body, "changes") : NULL;
    if (!changes || !json_is_object(changes) || json_object_size(changes) == 0) {
        s_violation(c, "changes", "must be an object naming at least one field");
    } else {
        char **fields = NULL;
        size_t nfields = 0;
        e->changes = tb_json_to_request(c->a, changes, v, &fields, &nfields);
        e->fields = fields;
        e->n_fields = nfields;
        s_violations_from(c, "changes.", v);
        if (!e->changes && !c->out->error)
            c->oom = true;
    }
    if (c->out->error || c->oom)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_INTAKE);
    if (r) {
        e->id = (char *)id;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_EDIT;
        r->edit = e;
    }
    return 0;
}

static int s_history(s_ctx_t *c, const char *id)
{
    Techbridge__HistoryRequest *h =
        S_NEW(Techbridge__HistoryRequest, techbridge__history_request__descriptor);
    Techbridge__ApiRequest *r = h ? s_call(c, GW_INTAKE) : NULL;
    if (r) {
        h->id = (char *)id;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_HISTORY;
        r->history = h;
    }
    return 0;
}

static int s_transition(s_ctx_t *c, const char *id, Techbridge__Action action)
{
    static const char *const allowed[] = {"version", "reason", NULL};
    s_body_keys(c, allowed);
    Techbridge__TransitionRequest *t =
        S_NEW(Techbridge__TransitionRequest, techbridge__transition_request__descriptor);
    if (!t)
        return 0;
    s_body_int(c, "version", 1, INT64_MAX, &t->version);
    t->reason = s_body_str(c, "reason");
    if (c->out->error || c->oom)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_INTAKE);
    if (r) {
        t->id = (char *)id;
        t->action = action;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_TRANSITION;
        r->transition = t;
    }
    return 0;
}

static int s_list_matches(s_ctx_t *c, const char *request_id)
{
    Techbridge__ListMatches *l =
        S_NEW(Techbridge__ListMatches, techbridge__list_matches__descriptor);
    if (!l)
        return 0;
    int64_t limit = 0;
    s_query_int(c, "limit", 1, 100, &limit);
    l->limit = (int32_t)limit;
    l->lang = s_query_str(c, "lang");
    if (c->out->error || c->oom)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_MATCHING);
    if (r) {
        l->request_id = (char *)request_id;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES;
        r->list_matches = l;
    }
    return 0;
}

static int s_get_match(s_ctx_t *c, const char *id)
{
    Techbridge__GetMatch *g =
        S_NEW(Techbridge__GetMatch, techbridge__get_match__descriptor);
    if (!g)
        return 0;
    g->lang = s_query_str(c, "lang");
    Techbridge__ApiRequest *r = c->oom ? NULL : s_call(c, GW_MATCHING);
    if (r) {
        g->id = (char *)id;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_GET_MATCH;
        r->get_match = g;
    }
    return 0;
}

static Techbridge__MatchAction s_match_action(const char *name)
{
    if (strcmp(name, "accept") == 0)
        return TECHBRIDGE__MATCH_ACTION__ACCEPT;
    if (strcmp(name, "decline") == 0)
        return TECHBRIDGE__MATCH_ACTION__DECLINE;
    if (strcmp(name, "close") == 0)
        return TECHBRIDGE__MATCH_ACTION__CLOSE;
    return TECHBRIDGE__MATCH_ACTION__MATCH_ACTION_UNSPECIFIED;
}

static int s_decide(s_ctx_t *c, const char *id, Techbridge__MatchAction action)
{
    static const char *const allowed[] = {"version", "reason", NULL};
    s_body_keys(c, allowed);
    Techbridge__DecideMatch *d =
        S_NEW(Techbridge__DecideMatch, techbridge__decide_match__descriptor);
    if (!d)
        return 0;
    s_body_int(c, "version", 0, INT64_MAX, &d->version);
    d->reason = s_body_str(c, "reason");
    if (c->out->error || c->oom)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_MATCHING);
    if (r) {
        d->id = (char *)id;
        d->action = action;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH;
        r->decide_match = d;
    }
    return 0;
}

static int s_thesaurus(s_ctx_t *c)
{
    static const char *const allowed[] = {"file", "text", NULL};
    if (!c->in->body) {
        s_violation(c, "(body)", "expected {\"file\": NAME, \"text\": CONTENT}");
        return 0;
    }
    s_body_keys(c, allowed);
    Techbridge__LoadThesaurus *t =
        S_NEW(Techbridge__LoadThesaurus, techbridge__load_thesaurus__descriptor);
    if (!t)
        return 0;
    t->file = s_body_str(c, "file");
    t->text = s_body_str(c, "text");
    if (!t->text && !c->out->error)
        s_violation(c, "text", "required");
    if (c->out->error || c->oom)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_MATCHING);
    if (r) {
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_LOAD_THESAURUS;
        r->load_thesaurus = t;
    }
    return 0;
}

static int s_notifications(s_ctx_t *c, const char *recipient)
{
    Techbridge__ListNotifications *l =
        S_NEW(Techbridge__ListNotifications, techbridge__list_notifications__descriptor);
    if (!l)
        return 0;
    int64_t limit = 0;
    s_query_int(c, "after", 0, INT64_MAX, &l->after);
    s_query_int(c, "limit", 1, 1000, &limit);
    l->limit = (int32_t)limit;
    if (c->out->error)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_NOTIFICATION);
    if (r) {
        l->recipient = (char *)recipient;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
        r->list_notifications = l;
    }
    return 0;
}

static int s_ack(s_ctx_t *c, const char *recipient)
{
    static const char *const allowed[] = {"upto", NULL};
    s_body_keys(c, allowed);
    Techbridge__AckNotifications *a =
        S_NEW(Techbridge__AckNotifications, techbridge__ack_notifications__descriptor);
    if (!a)
        return 0;
    a->upto = -1;
    s_body_int(c, "upto", 0, INT64_MAX, &a->upto);
    if (a->upto < 0 && !c->out->error)
        s_violation(c, "upto", "required: the highest seq processed");
    if (c->out->error || c->oom)
        return 0;
    Techbridge__ApiRequest *r = s_call(c, GW_NOTIFICATION);
    if (r) {
        a->recipient = (char *)recipient;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS;
        r->ack_notifications = a;
    }
    return 0;
}

static int s_notification_stats(s_ctx_t *c, const char *recipient)
{
    Techbridge__NotificationStats *s =
        S_NEW(Techbridge__NotificationStats, techbridge__notification_stats__descriptor);
    Techbridge__ApiRequest *r = s ? s_call(c, GW_NOTIFICATION) : NULL;
    if (r) {
        s->recipient = (char *)recipient;
        r->body_case = TECHBRIDGE__API_REQUEST__BODY_NOTIFICATION_STATS;
        r->notification_stats = s;
    }
    return 0;
}

/* ---- the route table ---- */

/*  Splits the path after "/api/v1/" into segments. A segment must be 1..256
    bytes without control characters. Returns 0, or -1 (no such route). */
static int s_split(s_ctx_t *c)
{
    static const char prefix[] = "/api/v1/";
    const char *p = c->in->path;
    if (strncmp(p, prefix, sizeof prefix - 1) != 0)
        return -1;
    p += sizeof prefix - 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n > S_MAX_SEGMENT || c->nseg == S_MAX_SEGMENTS)
            return -1;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                return -1;
        char *seg = tb_arena_strndup(c->a, p, n);
        if (!seg) {
            c->oom = true;
            return -1;
        }
        c->seg[c->nseg++] = seg;
        p += n;
        if (*p == '/')
            p++;
        if (slash && !*p)
            return -1; /* a trailing slash names nothing */
    }
    return c->nseg > 0 ? 0 : -1;
}

static int s_requests(s_ctx_t *c)
{
    if (c->nseg == 1) {
        if (s_is(c, "GET"))
            return s_list(c);
        if (s_is(c, "POST"))
            return s_submit(c);
        return s_method_not_allowed(c, "GET, POST");
    }
    const char *id = c->seg[1];
    if (c->nseg == 2) {
        if (s_is(c, "GET"))
            return s_get(c, id);
        if (s_is(c, "PATCH"))
            return s_edit(c, id);
        return s_method_not_allowed(c, "GET, PATCH");
    }
    if (c->nseg != 3)
        return s_not_found(c);
    const char *what = c->seg[2];
    if (strcmp(what, "history") == 0)
        return s_is(c, "GET") ? s_history(c, id) : s_method_not_allowed(c, "GET");
    if (strcmp(what, "matches") == 0)
        return s_is(c, "GET") ? s_list_matches(c, id) : s_method_not_allowed(c, "GET");
    Techbridge__Action action = tb_action_parse(what);
    if (action == TECHBRIDGE__ACTION__ACTION_UNSPECIFIED)
        return s_not_found(c);
    return s_is(c, "POST") ? s_transition(c, id, action)
                           : s_method_not_allowed(c, "POST");
}

static int s_matches(s_ctx_t *c)
{
    if (c->nseg == 2)
        return s_is(c, "GET") ? s_get_match(c, c->seg[1])
                              : s_method_not_allowed(c, "GET");
    Techbridge__MatchAction action =
        c->nseg == 3 ? s_match_action(c->seg[2])
                     : TECHBRIDGE__MATCH_ACTION__MATCH_ACTION_UNSPECIFIED;
    if (action == TECHBRIDGE__MATCH_ACTION__MATCH_ACTION_UNSPECIFIED)
        return s_not_found(c);
    return s_is(c, "POST") ? s_decide(c, c->seg[1], action)
                           : s_method_not_allowed(c, "POST");
}

static int s_notifications_route(s_ctx_t *c)
{
    if (c->nseg == 2)
        return s_is(c, "GET") ? s_notifications(c, c->seg[1])
                              : s_method_not_allowed(c, "GET");
    if (c->nseg == 3 && strcmp(c->seg[2], "ack") == 0)
        return s_is(c, "POST") ? s_ack(c, c->seg[1]) : s_method_not_allowed(c, "POST");
    if (c->nseg == 3 && strcmp(c->seg[2], "stats") == 0)
        return s_is(c, "GET") ? s_notification_stats(c, c->seg[1])
                              : s_method_not_allowed(c, "GET");
    return s_not_found(c);
}

int gw_route(tb_arena_t *arena, const gw_http_in_t *in, gw_route_t *out)
{
    memset(out, 0, sizeof *out);
    s_ctx_t c = {.a = arena, .in = in, .out = out};
    if (s_split(&c) != 0) {
        if (!c.oom)
            s_not_found(&c);
    } else if (strcmp(c.seg[0], "requests") == 0) {
        s_requests(&c);
    } else if (strcmp(c.seg[0], "matches") == 0 && c.nseg >= 2) {
        s_matches(&c);
    } else if (strcmp(c.seg[0], "notifications") == 0 && c.nseg >= 2) {
        s_notifications_route(&c);
    } else if (strcmp(c.seg[0], "notification-stats") == 0 && c.nseg == 1) {
        if (s_is(&c, "GET"))
            s_notification_stats(&c, s_query_str(&c, "recipient"));
        else
            s_method_not_allowed(&c, "GET");
    } else if (strcmp(c.seg[0], "thesaurus") == 0 && c.nseg == 1) {
        if (s_is(&c, "POST"))
            s_thesaurus(&c);
        else
            s_method_not_allowed(&c, "POST");
    } else {
        s_not_found(&c);
    }
    if (c.oom)
        return -1;
    /* A call that also gathered violations is not sent. */
    if (out->error)
        out->req = NULL;
    return 0;
}
