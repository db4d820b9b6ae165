/*  tb_json: the JSON form of the API's messages. See tb_json.h for the
    contract. Keys are proto field names, enums their value names, times
    RFC 3339 UTC strings. */
#include "tb_json.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/*  Enums and times                                                         */

const char *tb_json_enum_name(const ProtobufCEnumDescriptor *desc, int value)
{
    if (!desc)
        return NULL;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, value);
    return v ? v->name : NULL;
}

int tb_json_enum_value(const ProtobufCEnumDescriptor *desc, const char *name, int *value)
{
    if (!desc || !name)
        return -1;
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value_by_name(desc, name);
    if (!v)
        return -1;
    if (value)
        *value = v->value;
    return 0;
}

void tb_json_format_time(int64_t ms, char out[32])
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs -= 1;
    }
    time_t tt = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        /* Not representable as RFC 3339: the number itself, still truthful. */
        snprintf(out, 32, "%lld", (long long)ms);
        return;
    }
    /* The fields are in range (year 0..9999), so this fits 32 bytes; a larger
       scratch buffer keeps the compiler's truncation analysis quiet. */
    char buf[96];
    if (rem)
        snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, (int)rem);
    else
        snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    size_t len = strnlen(buf, 31);
    memcpy(out, buf, len);
    out[len] = '\0';
}

/*  Reads exactly `n` decimal digits. */
static bool s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/*  Strict: "YYYY-MM-DD" (midnight UTC) or
    "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)"; 't' and 'z' accepted as
    RFC 3339 allows; fractions beyond milliseconds are truncated. */
int tb_json_parse_time(const char *s, int64_t *ms)
{
    if (!s || !ms)
        return -1;
    int year, mon, day, hour = 0, min = 0, sec = 0, frac_ms = 0, off_min = 0;
    size_t len = strlen(s);
    if (len < 10 || !s_digits(s, 4, &year) || s[4] != '-' || !s_digits(s + 5, 2, &mon) ||
        s[7] != '-' || !s_digits(s + 8, 2, &day))
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > tb_days_in_month(year, mon))
        return -1;
    if (len > 10) {
        const char *p = s + 10;
        if (*p != 'T' && *p != 't')
            return -1;
        p++;
        if (strlen(p) < 9 || !s_digits(p, 2, &hour) || p[2] != ':' ||
            !s_digits(p + 3, 2, &min) || p[5] != ':' || !s_digits(p + 6, 2, &sec))
            return -1;
        if (hour > 23 || min > 59 || sec > 60)
            return -1;
        p += 8;
        if (*p == '.') {
            p++;
            int ndigits = 0;
            while (*p >= '0' && *p <= '9') {
                if (ndigits < 3)
                    frac_ms = frac_ms * 10 + (*p - '0');
                ndigits++;
                p++;
            }
            if (ndigits == 0)
                return -1;
            for (int i = ndigits; i < 3; i++)
                frac_ms *= 10;
        }
        if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
            off_min = 0;
        } else if ((*p == '+' || *p == '-') && strlen(p) == 6) {
            int oh, om;
            if (!s_digits(p + 1, 2, &oh) || p[3] != ':' || !s_digits(p + 4, 2, &om) ||
                oh > 23 || om > 59)
                return -1;
            off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        } else
            return -1;
    }
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
    return 0;
}

/* ------------------------------------------------------------------------ */
/*  Proto -> JSON                                                           */

/*  Sets key to a new value; returns false when out of memory (the value is
    released by jansson in every case). */
static bool s_set(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0;
}

static bool s_set_str(json_t *obj, const char *key, const char *s)
{
    if (!s || !*s)
        return true;
    return s_set(obj, key, json_string(s));
}

static bool s_set_int(json_t *obj, const char *key, int64_t v)
{
    if (v == 0)
        return true;
    return s_set(obj, key, json_integer((json_int_t)v));
}

static bool s_set_time(json_t *obj, const char *key, int64_t ms)
{
    if (ms == 0)
        return true;
    char buf[32];
    tb_json_format_time(ms, buf);
    return s_set(obj, key, json_string(buf));
}

/*  An enum as its name, or its number when the descriptor does not know it. */
static json_t *s_enum(const ProtobufCEnumDescriptor *desc, int value)
{
    const char *name = tb_json_enum_name(desc, value);
    return name ? json_string(name) : json_integer(value);
}

static bool s_set_enum(json_t *obj, const char *key, const ProtobufCEnumDescriptor *desc,
                       int value)
{
    if (value == 0)
        return true;
    return s_set(obj, key, s_enum(desc, value));
}

static json_t *s_str_array(char *const *items, size_t n)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, json_string(items[i] ? items[i] : "")) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static json_t *s_from_org(const Techbridge__Org *org)
{
    json_t *o = json_object();
    if (o && s_set_str(o, "id", org->id) && s_set_str(o, "name", org->name) &&
        s_set_str(o, "country", org->country) && s_set_str(o, "region", org->region) &&
        (!org->language || !*org->language || s_set_str(o, "language", org->language)))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *s_from_contact(const Techbridge__Contact *c)
{
    json_t *o = json_object();
    if (o && s_set_str(o, "name", c->name) && s_set_str(o, "email", c->email) &&
        s_set_str(o, "phone", c->phone))
        return o;
    json_decref(o);
    return NULL;
}

json_t *tb_json_from_request(const Techbridge__Request *r)
{
    if (!r)
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    bool ok = s_set_str(o, "id", r->id) &&
              s_set_enum(o, "kind", &techbridge__kind__descriptor, (int)r->kind) &&
              s_set_enum(o, "status", &techbridge__status__descriptor, (int)r->status) &&
              s_set_int(o, "version", r->version) &&
              s_set_str(o, "external_ref", r->external_ref);
    if (ok && r->org)
        ok = s_set(o, "org", s_from_org(r->org));
    if (ok && r->contact)
        ok = s_set(o, "contact", s_from_contact(r->contact));
    if (ok && r->language && *r->language)
        ok = s_set_str(o, "language", r->language);
    ok = ok && s_set_str(o, "title", r->title) && s_set_str(o, "summary", r->summary) &&
         s_set_str(o, "sector", r->sector);
    if (ok && r->n_keywords)
        ok = s_set(o, "keywords", s_str_array(r->keywords, r->n_keywords));
    ok = ok && s_set_int(o, "trl", r->trl);
    if (ok && r->n_cooperation) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < r->n_cooperation; i++)
            if (json_array_append_new(arr, s_enum(&techbridge__cooperation__descriptor,
                                                  (int)r->cooperation[i])) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        ok = s_set(o, "cooperation", arr);
    }
    ok = ok && s_set_enum(o, "ipr", &techbridge__ipr__descriptor, (int)r->ipr);
    if (ok && r->budget_usd && (r->budget_usd->min || r->budget_usd->max)) {
        json_t *b = json_object();
        ok = b != NULL;
        if (ok && r->budget_usd->min)
            ok = s_set(b, "min", json_integer((json_int_t)r->budget_usd->min->value));
        if (ok && r->budget_usd->max)
            ok = s_set(b, "max", json_integer((json_int_t)r->budget_usd->max->value));
        if (ok)
            ok = s_set(o, "budget_usd", b);
        else
            json_decref(b);
    }
    if (ok && r->n_target_countries)
        ok = s_set(o, "target_countries",
                   s_str_array(r->target_countries, r->n_target_countries));
    ok = ok && s_set_time(o, "expires_at", r->expires_at);
    if (ok && r->renewed)
        ok = s_set(o, "renewed", json_true());
    ok = ok && s_set_time(o, "created_at", r->created_at) &&
         s_set_time(o, "updated_at", r->updated_at);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *s_from_history_entry(const Techbridge__HistoryEntry *e)
{
    json_t *o = json_object();
    if (o && s_set_time(o, "at", e->at) && s_set_str(o, "actor", e->actor) &&
        s_set_enum(o, "action", &techbridge__action__descriptor, (int)e->action) &&
        s_set_enum(o, "from_status", &techbridge__status__descriptor,
                   (int)e->from_status) &&
        s_set_enum(o, "to_status", &techbridge__status__descriptor, (int)e->to_status) &&
        s_set_str(o, "reason", e->reason) && s_set_int(o, "version", e->version) &&
        s_set_str(o, "correlation_id", e->correlation_id))
        return o;
    json_decref(o);
    return NULL;
}

/*  Defines `name`: a JSON array of messages converted one by one by
    `convert`; NULL when out of memory. A NULL element becomes {}. */
#define S_DEFINE_ARRAY(name, Type, convert)                                              \
    static json_t *name(Type *const *items, size_t n)                                    \
    {                                                                                    \
        json_t *arr = json_array();                                                      \
        for (size_t i = 0; arr && i < n; i++)                                            \
            if (json_array_append_new(arr, items[i] ? convert(items[i])                  \
                                                    : json_object()) != 0) {             \
                json_decref(arr);                                                        \
                arr = NULL;                                                              \
            }                                                                            \
        return arr;                                                                      \
    }

S_DEFINE_ARRAY(s_history_entries, Techbridge__HistoryEntry, s_from_history_entry)

json_t *tb_json_from_history(const Techbridge__History *h)
{
    if (!h)
        return NULL;
    json_t *o = json_object();
    if (o && s_set_str(o, "request_id", h->request_id) &&
        s_set(o, "entries", s_history_entries(h->entries, h->n_entries)))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *s_from_reason(const Techbridge__ScoreReason *r)
{
    json_t *o = json_object();
    if (o && s_set_str(o, "component", r->component) &&
        s_set(o, "weight", json_real(r->weight)) &&
        s_set(o, "value", json_real(r->value)) &&
        s_set(o, "contribution", json_real(r->contribution)) &&
        s_set_str(o, "detail", r->detail) &&
        (r->n_shared_terms == 0 ||
         s_set(o, "shared_terms", s_str_array(r->shared_terms, r->n_shared_terms))))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *s_from_party(const Techbridge__Party *p)
{
    json_t *o = json_object();
    if (o && s_set_str(o, "request_id", p->request_id) &&
        (!p->org || s_set(o, "org", s_from_org(p->org))) &&
        (!p->contact || s_set(o, "contact", s_from_contact(p->contact))) &&
        s_set_str(o, "title", p->title))
        return o;
    json_decref(o);
    return NULL;
}

S_DEFINE_ARRAY(s_reasons, Techbridge__ScoreReason, s_from_reason)

json_t *tb_json_from_match(const Techbridge__Match *m)
{
    if (!m)
        return NULL;
    json_t *o = json_object();
    if (o && s_set_str(o, "id", m->id) && s_set_str(o, "offer_id", m->offer_id) &&
        s_set_str(o, "need_id", m->need_id) && s_set(o, "score", json_real(m->score)) &&
        s_set_enum(o, "status", &techbridge__match_status__descriptor, (int)m->status) &&
        s_set_int(o, "version", m->version) && s_set_str(o, "reason", m->reason) &&
        s_set(o, "reasons", s_reasons(m->reasons, m->n_reasons)) &&
        (!m->offer || s_set(o, "offer", s_from_party(m->offer))) &&
        (!m->need || s_set(o, "need", s_from_party(m->need))) &&
        s_set_time(o, "created_at", m->created_at) &&
        s_set_time(o, "updated_at", m->updated_at))
        return o;
    json_decref(o);
    return NULL;
}

json_t *tb_json_from_notification(const Techbridge__Notification *n)
{
    if (!n)
        return NULL;
    json_t *o = json_object();
    if (o && s_set_str(o, "recipient", n->recipient) && s_set_int(o, "seq", n->seq) &&
        s_set_enum(o, "kind", &techbridge__notification_kind__descriptor, (int)n->kind) &&
        s_set_str(o, "subject_id", n->subject_id) &&
        s_set_int(o, "subject_version", n->subject_version) &&
        s_set_str(o, "correlation_id", n->correlation_id) &&
        s_set_time(o, "created_at", n->created_at) && s_set_str(o, "text", n->text) &&
        (!n->request || s_set(o, "request", tb_json_from_request(n->request))) &&
        (!n->match || s_set(o, "match", tb_json_from_match(n->match))))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *s_from_violation(const Techbridge__Violation *v)
{
    json_t *o = json_object();
    if (o && s_set(o, "field", json_string(v->field ? v->field : "")) &&
        s_set(o, "reason", json_string(v->reason ? v->reason : "")))
        return o;
    json_decref(o);
    return NULL;
}

S_DEFINE_ARRAY(s_violations, Techbridge__Violation, s_from_violation)

json_t *tb_json_from_error(const Techbridge__Error *e)
{
    if (!e)
        return NULL;
    json_t *o = json_object();
    if (o && s_set(o, "code", s_enum(&techbridge__code__descriptor, (int)e->code)) &&
        s_set_str(o, "message", e->message) &&
        (e->n_violations == 0 ||
         s_set(o, "violations", s_violations(e->violations, e->n_violations))))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *s_from_recipient_stats(const Techbridge__RecipientStats *r)
{
    json_t *o = json_object();
    if (o && s_set(o, "recipient", json_string(r->recipient ? r->recipient : "")) &&
        s_set(o, "last_seq", json_integer((json_int_t)r->last_seq)) &&
        s_set(o, "acked", json_integer((json_int_t)r->acked)) &&
        s_set(o, "unacked", json_integer((json_int_t)r->unacked)))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *s_from_feed_lag(const Techbridge__FeedLag *f)
{
    json_t *o = json_object();
    if (o && s_set(o, "consumer", json_string(f->consumer ? f->consumer : "")) &&
        s_set(o, "stream", json_string(f->stream ? f->stream : "")) &&
        s_set(o, "cursor", json_integer((json_int_t)f->cursor)) &&
        s_set(o, "head", json_integer((json_int_t)f->head)) &&
        s_set(o, "lag", json_integer((json_int_t)f->lag)))
        return o;
    json_decref(o);
    return NULL;
}

S_DEFINE_ARRAY(s_feed_lags, Techbridge__FeedLag, s_from_feed_lag)
S_DEFINE_ARRAY(s_recipients, Techbridge__RecipientStats, s_from_recipient_stats)
S_DEFINE_ARRAY(s_requests, Techbridge__Request, tb_json_from_request)
S_DEFINE_ARRAY(s_matches, Techbridge__Match, tb_json_from_match)
S_DEFINE_ARRAY(s_notifications, Techbridge__Notification, tb_json_from_notification)

static json_t *s_from_health(const Techbridge__HealthResult *h)
{
    json_t *o = json_object();
    if (o && s_set(o, "service", json_string(h->service ? h->service : "")) &&
        s_set(o, "database_ok", json_boolean(h->database_ok)) &&
        s_set(o, "uptime_s", json_integer((json_int_t)h->uptime_s)) &&
        s_set_str(o, "version", h->version) &&
        s_set(o, "feeds", s_feed_lags(h->feeds, h->n_feeds)))
        return o;
    json_decref(o);
    return NULL;
}

json_t *tb_json_from_reply(const Techbridge__ApiReply *reply)
{
    if (!reply)
        return NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    bool ok = true;
    if (reply->error) {
        ok = s_set(o, "error", tb_json_from_error(reply->error)) &&
             s_set_str(o, "correlation_id", reply->correlation_id);
        if (!ok) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    switch (reply->result_case) {
    case TECHBRIDGE__API_REPLY__RESULT_REQUEST: {
        const Techbridge__RequestResult *r = reply->request;
        if (!r)
            break;
        ok = (!r->request || s_set(o, "request", tb_json_from_request(r->request))) &&
             s_set_str(o, "possible_duplicate_of", r->possible_duplicate_of) &&
             s_set(o, "created", json_boolean(r->created));
        break;
    }
    case TECHBRIDGE__API_REPLY__RESULT_REQUESTS: {
        const Techbridge__RequestPage *p = reply->requests;
        if (!p)
            break;
        ok = s_set(o, "requests", s_requests(p->requests, p->n_requests)) &&
             s_set_str(o, "next_page_token", p->next_page_token);
        break;
    }
    case TECHBRIDGE__API_REPLY__RESULT_HISTORY:
        if (reply->history) {
            json_decref(o);
            return tb_json_from_history(reply->history);
        }
        break;
    case TECHBRIDGE__API_REPLY__RESULT_MATCHES:
        if (reply->matches)
            ok = s_set(o, "matches",
                       s_matches(reply->matches->matches, reply->matches->n_matches));
        break;
    case TECHBRIDGE__API_REPLY__RESULT_MATCH:
        if (reply->match) {
            json_decref(o);
            return tb_json_from_match(reply->match);
        }
        break;
    case TECHBRIDGE__API_REPLY__RESULT_NOTIFICATIONS: {
        const Techbridge__NotificationPage *p = reply->notifications;
        if (!p)
            break;
        ok = s_set(o, "notifications",
                   s_notifications(p->notifications, p->n_notifications)) &&
             s_set(o, "last_seq", json_integer((json_int_t)p->last_seq));
        break;
    }
    case TECHBRIDGE__API_REPLY__RESULT_ACK:
        if (reply->ack) {
            json_decref(o);
            return s_from_recipient_stats(reply->ack);
        }
        break;
    case TECHBRIDGE__API_REPLY__RESULT_NOTIFICATION_STATS:
        if (reply->notification_stats)
            ok = s_set(o, "recipients",
                       s_recipients(reply->notification_stats->recipients,
                                    reply->notification_stats->n_recipients));
        break;
    case TECHBRIDGE__API_REPLY__RESULT_HEALTH:
        if (reply->health) {
            json_decref(o);
            return s_from_health(reply->health);
        }
        break;
    default:
        break;
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/*  JSON -> Request                                                         */

typedef struct {
    tb_arena_t *arena;
    tb_violations_t *violations;
    bool oom;
} s_ctx_t;

static void s_violation(s_ctx_t *c, const char *path, const char *reason)
{
    tb_violations_add(c->violations, path, reason);
}

/*  A JSON string as an arena string; null gives "" (not set). A wrong type or
    an embedded NUL is a violation and gives "". */
static char *s_get_str(s_ctx_t *c, const char *path, const json_t *v)
{
    if (json_is_null(v))
        return (char *)protobuf_c_empty_string;
    if (!json_is_string(v)) {
        s_violation(c, path, "must be a string");
        return (char *)protobuf_c_empty_string;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        s_violation(c, path, "must not contain NUL characters");
        return (char *)protobuf_c_empty_string;
    }
    char *copy = tb_arena_strdup(c->arena, s);
    if (!copy) {
        c->oom = true;
        return (char *)protobuf_c_empty_string;
    }
    return copy;
}

/*  An enum by name; null gives 0. */
static int s_get_enum(s_ctx_t *c, const char *path, const json_t *v,
                      const ProtobufCEnumDescriptor *desc, const char *expected)
{
    if (json_is_null(v))
        return 0;
    int value = 0;
    if (!json_is_string(v) ||
        tb_json_enum_value(desc, json_string_value(v), &value) != 0) {
        char reason[160];
        snprintf(reason, sizeof reason, "must be one of %s", expected);
        s_violation(c, path, reason);
        return 0;
    }
    return value;
}

/*  An integer; null gives 0. Reals with no fraction are refused too: JSON
    numbers here are counts and amounts. */
static bool s_get_int(s_ctx_t *c, const char *path, const json_t *v, int64_t lo,
                      int64_t hi, int64_t *out)
{
    *out = 0;
    if (json_is_null(v))
        return true;
    if (!json_is_integer(v)) {
        s_violation(c, path, "must be an integer");
        return false;
    }
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi) {
        s_violation(c, path, "is out of range");
        return false;
    }
    *out = (int64_t)i;
    return true;
}

/*  A time: an RFC 3339 string, a date, or epoch milliseconds; null gives 0. */
static int64_t s_get_time(s_ctx_t *c, const char *path, const json_t *v)
{
    int64_t ms = 0;
    if (json_is_null(v))
        return 0;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (!json_is_string(v) || tb_json_parse_time(json_string_value(v), &ms) != 0) {
        s_violation(c, path, "must be an RFC 3339 time (2027-05-01T00:00:00Z) or a date");
        return 0;
    }
    return ms;
}

static char **s_get_str_array(s_ctx_t *c, const char *path, const json_t *v, size_t *n)
{
    *n = 0;
    if (json_is_null(v))
        return NULL;
    if (!json_is_array(v)) {
        s_violation(c, path, "must be an array of strings");
        return NULL;
    }
    size_t size = json_array_size(v);
    if (size == 0)
        return NULL;
    char **items = tb_arena_alloc(c->arena, size * sizeof *items);
    if (!items) {
        c->oom = true;
        return NULL;
    }
    for (size_t i = 0; i < size; i++) {
        char item_path[64];
        snprintf(item_path, sizeof item_path, "%s[%zu]", path, i);
        items[i] = s_get_str(c, item_path, json_array_get(v, i));
    }
    *n = size;
    return items;
}

/*  Checks that `v` is an object (or null); reports its unknown keys. */
static bool s_object(s_ctx_t *c, const char *path, const json_t *v,
                     const char *const *known)
{
    if (!json_is_object(v)) {
        s_violation(c, path, "must be an object");
        return false;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        (void)value;
        bool found = false;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp(known[i], key) == 0;
        if (!found) {
            char p[64];
            snprintf(p, sizeof p, "%s.%s", path, key);
            s_violation(c, p, "unknown field");
        }
    }
    return true;
}

static Techbridge__Org *s_to_org(s_ctx_t *c, const json_t *v)
{
    static const char *const known[] = {"id",     "name",     "country",
                                        "region", "language", NULL};
    if (json_is_null(v) || !s_object(c, "org", v, known))
        return NULL;
    Techbridge__Org *org =
        TB_PB_NEW(c->arena, Techbridge__Org, techbridge__org__descriptor);
    if (!org) {
        c->oom = true;
        return NULL;
    }
    json_t *f;
    if ((f = json_object_get(v, "id")))
        org->id = s_get_str(c, "org.id", f);
    if ((f = json_object_get(v, "name")))
        org->name = s_get_str(c, "org.name", f);
    if ((f = json_object_get(v, "country")))
        org->country = s_get_str(c, "org.country", f);
    if ((f = json_object_get(v, "region")))
        org->region = s_get_str(c, "org.region", f);
    if ((f = json_object_get(v, "language")))
        org->language = s_get_str(c, "org.language", f);
    return org;
}

static Techbridge__Contact *s_to_contact(s_ctx_t *c, const json_t *v)
{
    static const char *const known[] = {"name", "email", "phone", NULL};
    if (json_is_null(v) || !s_object(c, "contact", v, known))
        return NULL;
    Techbridge__Contact *contact =
        TB_PB_NEW(c->arena, Techbridge__Contact, techbridge__contact__descriptor);
    if (!contact) {
        c->oom = true;
        return NULL;
    }
    json_t *f;
    if ((f = json_object_get(v, "name")))
        contact->name = s_get_str(c, "contact.name", f);
    if ((f = json_object_get(v, "email")))
        contact->email = s_get_str(c, "contact.email", f);
    if ((f = json_object_get(v, "phone")))
        contact->phone = s_get_str(c, "contact.phone", f);
    return contact;
}

static Techbridge__UsdAmount *s_to_amount(s_ctx_t *c, const char *path, const json_t *v)
{
    int64_t value;
    if (json_is_null(v) || !s_get_int(c, path, v, INT64_MIN, INT64_MAX, &value))
        return NULL;
    Techbridge__UsdAmount *a =
        TB_PB_NEW(c->arena, Techbridge__UsdAmount, techbridge__usd_amount__descriptor);
    if (!a) {
        c->oom = true;
        return NULL;
    }
    a->value = value;
    return a;
}

static Techbridge__Budget *s_to_budget(s_ctx_t *c, const json_t *v)
{
    static const char *const known[] = {"min", "max", NULL};
    if (json_is_null(v) || !s_object(c, "budget_usd", v, known))
        return NULL;
    Techbridge__Budget *b =
        TB_PB_NEW(c->arena, Techbridge__Budget, techbridge__budget__descriptor);
    if (!b) {
        c->oom = true;
        return NULL;
    }
    json_t *f;
    if ((f = json_object_get(v, "min")))
        b->min = s_to_amount(c, "budget_usd.min", f);
    if ((f = json_object_get(v, "max")))
        b->max = s_to_amount(c, "budget_usd.max", f);
    return b;
}

static void s_to_cooperation(s_ctx_t *c, Techbridge__Request *r, const json_t *v)
{
    if (json_is_null(v))
        return;
    if (!json_is_array(v)) {
        s_violation(c, "cooperation", "must be an array of cooperation names");
        return;
    }
    size_t size = json_array_size(v);
    if (size == 0)
        return;
    r->cooperation = tb_arena_alloc(c->arena, size * sizeof *r->cooperation);
    if (!r->cooperation) {
        c->oom = true;
        return;
    }
    for (size_t i = 0; i < size; i++) {
        char path[64];
        snprintf(path, sizeof path, "cooperation[%zu]", i);
        r->cooperation[i] = (Techbridge__Cooperation)s_get_enum(
            c, path, json_array_get(v, i), &techbridge__cooperation__descriptor,
            "LICENSE, JOINT_VENTURE, TECHNICAL_COOPERATION, RESEARCH_COOPERATION, "
            "EQUIPMENT_SUPPLY, INVESTMENT, TRAINING");
    }
    r->n_cooperation = size;
}

Techbridge__Request *tb_json_to_request(tb_arena_t *arena, const json_t *json,
                                        tb_violations_t *violations, char ***fields,
                                        size_t *nfields)
{
    if (fields)
        *fields = NULL;
    if (nfields)
        *nfields = 0;
    if (!arena || !json_is_object(json))
        return NULL;
    tb_violations_t scratch = {0};
    s_ctx_t ctx = {arena, violations ? violations : &scratch, false};
    s_ctx_t *c = &ctx;
    Techbridge__Request *r =
        TB_PB_NEW(arena, Techbridge__Request, techbridge__request__descriptor);
    if (!r)
        return NULL;

    size_t nkeys = json_object_size(json), nfound = 0;
    char **found = NULL;
    if (fields && nkeys) {
        found = tb_arena_alloc(arena, nkeys * sizeof *found);
        if (!found)
            return NULL;
    }

    const char *key;
    json_t *v;
    json_object_foreach((json_t *)json, key, v)
    {
        bool known = true;
        int64_t i64;
        if (strcmp(key, "id") == 0)
            r->id = s_get_str(c, key, v);
        else if (strcmp(key, "kind") == 0)
            r->kind = (Techbridge__Kind)s_get_enum(
                c, key, v, &techbridge__kind__descriptor, "OFFER, NEED");
        else if (strcmp(key, "external_ref") == 0)
            r->external_ref = s_get_str(c, key, v);
        else if (strcmp(key, "org") == 0)
            r->org = s_to_org(c, v);
        else if (strcmp(key, "contact") == 0)
            r->contact = s_to_contact(c, v);
        else if (strcmp(key, "title") == 0)
            r->title = s_get_str(c, key, v);
        else if (strcmp(key, "language") == 0)
            r->language = s_get_str(c, key, v);
        else if (strcmp(key, "summary") == 0)
            r->summary = s_get_str(c, key, v);
        else if (strcmp(key, "sector") == 0)
            r->sector = s_get_str(c, key, v);
        else if (strcmp(key, "keywords") == 0)
            r->keywords = s_get_str_array(c, key, v, &r->n_keywords);
        else if (strcmp(key, "trl") == 0) {
            if (s_get_int(c, key, v, INT32_MIN, INT32_MAX, &i64))
                r->trl = (int32_t)i64;
        } else if (strcmp(key, "cooperation") == 0)
            s_to_cooperation(c, r, v);
        else if (strcmp(key, "ipr") == 0)
            r->ipr = (Techbridge__Ipr)s_get_enum(
                c, key, v, &techbridge__ipr__descriptor,
                "NONE, PATENT_PENDING, PATENT_GRANTED, KNOW_HOW, COPYRIGHT");
        else if (strcmp(key, "budget_usd") == 0)
            r->budget_usd = s_to_budget(c, v);
        else if (strcmp(key, "target_countries") == 0)
            r->target_countries = s_get_str_array(c, key, v, &r->n_target_countries);
        else if (strcmp(key, "expires_at") == 0)
            r->expires_at = s_get_time(c, key, v);
        else if (strcmp(key, "status") == 0)
            r->status =
                (Techbridge__Status)s_get_enum(c, key, v, &techbridge__status__descriptor,
                                               "SUBMITTED, PUBLISHED, IN_NEGOTIATION, "
                                               "AGREED, REJECTED, WITHDRAWN, EXPIRED");
        else if (strcmp(key, "version") == 0) {
            if (s_get_int(c, key, v, INT64_MIN, INT64_MAX, &i64))
                r->version = i64;
        } else if (strcmp(key, "created_at") == 0)
            r->created_at = s_get_time(c, key, v);
        else if (strcmp(key, "updated_at") == 0)
            r->updated_at = s_get_time(c, key, v);
        else if (strcmp(key, "renewed") == 0) {
            if (json_is_boolean(v))
                r->renewed = json_is_true(v);
            else if (!json_is_null(v))
                s_violation(c, key, "must be true or false");
        } else {
            known = false;
            s_violation(c, key, "unknown field");
        }
        if (known && found) {
            found[nfound] = tb_arena_strdup(arena, key);
            if (!found[nfound])
                return NULL;
            nfound++;
        }
        if (c->oom)
            return NULL;
    }
    if (fields)
        *fields = found;
    if (nfields)
        *nfields = nfound;
    return r;
}
