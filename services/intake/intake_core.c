/*  intake_core: the requests API and the expiry sweep. See intake_core.h. */
#include "intake_core.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.pb-c.h"
#include "intake_store.h"
#include "tb_feed.h"
#include "tb_fsm.h"
#include "tb_log.h"
#include "tb_util.h"

#define CODE(c) TECHBRIDGE__CODE__##c

/*  Who the sweep acts as, in history rows and events. */
#define INTAKE_SYSTEM_ACTOR "system"
/*  A sector the cached list does not know makes us re-read the table, at most
    this often, so that a sector an operator just added is usable at once. */
#define INTAKE_SECTORS_MISS_MS 1000

struct intake_core_t {
    tb_db_t *db;
    bool prepared;
    char **sector_codes; /* heap, from the sectors table */
    size_t n_sectors;
    tb_sectors_t sectors; /* over sector_codes, or tb_default_sectors */
    bool sectors_loaded;
    int64_t sectors_loaded_ms;
};

intake_core_t *intake_core_new(tb_db_t *db)
{
    intake_core_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->sectors = tb_default_sectors;
    return self;
}

void intake_core_destroy(intake_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    intake_core_t *self = *self_p;
    intake_store_free_sectors(self->sector_codes, self->n_sectors);
    free(self);
    *self_p = NULL;
}

/* ==== pure helpers ==== */

static int s_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool intake_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (s_hex((unsigned char)s[i]) < 0)
            return false;
    }
    return true;
}

size_t intake_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

char *intake_page_token_encode(tb_arena_t *arena, int64_t created_ms, const char *id)
{
    char plain[64];
    int n = snprintf(plain, sizeof plain, "%" PRId64 ":%s", created_ms, id);
    if (n < 0 || (size_t)n >= sizeof plain)
        return NULL;
    char *out = tb_arena_alloc(arena, (size_t)n * 2 + 1);
    if (!out)
        return NULL;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        out[2 * i] = digits[(unsigned char)plain[i] >> 4];
        out[2 * i + 1] = digits[(unsigned char)plain[i] & 0x0F];
    }
    out[2 * n] = '\0';
    return out;
}

int intake_page_token_decode(const char *token, int64_t *created_ms, char id[37])
{
    if (!token)
        return -1;
    size_t len = strlen(token);
    if (len == 0 || len % 2 != 0 || len > INTAKE_PAGE_TOKEN_MAX)
        return -1;
    char plain[INTAKE_PAGE_TOKEN_MAX / 2 + 1];
    size_t n = len / 2;
    for (size_t i = 0; i < n; i++) {
        int hi = s_hex((unsigned char)token[2 * i]);
        int lo = s_hex((unsigned char)token[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        plain[i] = (char)(hi << 4 | lo);
        if (plain[i] == '\0')
            return -1;
    }
    plain[n] = '\0';
    const char *colon = strchr(plain, ':');
    if (!colon)
        return -1;
    size_t digits = (size_t)(colon - plain);
    if (digits == 0 || digits > 18)
        return -1;
    int64_t ms = 0;
    for (size_t i = 0; i < digits; i++) {
        if (plain[i] < '0' || plain[i] > '9')
            return -1;
        ms = ms * 10 + (plain[i] - '0');
    }
    if (!intake_is_uuid(colon + 1))
        return -1;
    *created_ms = ms;
    memcpy(id, colon + 1, 37);
    return 0;
}

/* Copies of sub-messages in fresh messages (no unknown fields); NULL stays
   NULL; *ok turns false when the arena is full. */
static Techbridge__Org *s_org_copy(tb_arena_t *a, const Techbridge__Org *o, bool *ok)
{
    if (!o)
        return NULL;
    Techbridge__Org *c = TB_PB_NEW(a, Techbridge__Org, techbridge__org__descriptor);
    if (!c) {
        *ok = false;
        return NULL;
    }
    c->id = o->id;
    c->name = o->name;
    c->country = o->country;
    c->region = o->region;
    return c;
}

static Techbridge__Contact *s_contact_copy(tb_arena_t *a, const Techbridge__Contact *o,
                                           bool *ok)
{
    if (!o)
        return NULL;
    Techbridge__Contact *c =
        TB_PB_NEW(a, Techbridge__Contact, techbridge__contact__descriptor);
    if (!c) {
        *ok = false;
        return NULL;
    }
    c->name = o->name;
    c->email = o->email;
    c->phone = o->phone;
    return c;
}

static Techbridge__UsdAmount *s_amount_copy(tb_arena_t *a, const Techbridge__UsdAmount *o,
                                            bool *ok)
{
    if (!o)
        return NULL;
    Techbridge__UsdAmount *c =
        TB_PB_NEW(a, Techbridge__UsdAmount, techbridge__usd_amount__descriptor);
    if (!c) {
        *ok = false;
        return NULL;
    }
    c->value = o->value;
    return c;
}

static Techbridge__Budget *s_budget_copy(tb_arena_t *a, const Techbridge__Budget *o,
                                         bool *ok)
{
    if (!o)
        return NULL;
    Techbridge__Budget *c =
        TB_PB_NEW(a, Techbridge__Budget, techbridge__budget__descriptor);
    if (!c) {
        *ok = false;
        return NULL;
    }
    c->min = s_amount_copy(a, o->min, ok);
    c->max = s_amount_copy(a, o->max, ok);
    return c;
}

Techbridge__Request *intake_request_content(tb_arena_t *arena,
                                            const Techbridge__Request *src)
{
    Techbridge__Request *c =
        TB_PB_NEW(arena, Techbridge__Request, techbridge__request__descriptor);
    if (!c)
        return NULL;
    bool ok = true;
    c->kind = src->kind;
    c->external_ref = src->external_ref;
    c->org = s_org_copy(arena, src->org, &ok);
    c->contact = s_contact_copy(arena, src->contact, &ok);
    c->title = src->title;
    c->summary = src->summary;
    c->sector = src->sector;
    c->n_keywords = src->n_keywords;
    c->keywords = src->keywords;
    c->trl = src->trl;
    c->n_cooperation = src->n_cooperation;
    c->cooperation = src->cooperation;
    c->ipr = src->ipr;
    c->budget_usd = s_budget_copy(arena, src->budget_usd, &ok);
    c->n_target_countries = src->n_target_countries;
    c->target_countries = src->target_countries;
    c->expires_at = src->expires_at;
    return ok ? c : NULL;
}

int intake_fingerprint(tb_arena_t *arena, const Techbridge__Request *req, uint8_t **out,
                       size_t *len)
{
    Techbridge__Request *c = intake_request_content(arena, req);
    if (!c)
        return -1;
    size_t n = protobuf_c_message_get_packed_size(&c->base);
    uint8_t *buf = tb_arena_alloc(arena, n ? n : 1);
    if (!buf)
        return -1;
    protobuf_c_message_pack(&c->base, buf);
    *out = buf;
    *len = n;
    return 0;
}

bool intake_fingerprint_equal(const uint8_t *a, size_t alen, const uint8_t *b,
                              size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The fields an edit may name; the first twelve are the top-level ones that an
   empty list means. */
static const char *const s_editable[] = {
    "title",
    "summary",
    "sector",
    "keywords",
    "trl",
    "cooperation",
    "ipr",
    "budget_usd",
    "target_countries",
    "contact",
    "expires_at",
    "org",
    "org.name",
    "org.country",
    "org.region",
    "contact.name",
    "contact.email",
    "contact.phone",
    "budget_usd.min",
    "budget_usd.max",
};
#define S_TOP_LEVEL 12

static const char *const s_fixed[] = {"id",         "kind",       "external_ref",
                                      "org.id",     "status",     "version",
                                      "created_at", "updated_at", "renewed"};

bool intake_field_editable(const char *name)
{
    for (size_t i = 0; i < sizeof s_editable / sizeof s_editable[0]; i++)
        if (strcmp(name, s_editable[i]) == 0)
            return true;
    return false;
}

static bool s_field_fixed(const char *name)
{
    for (size_t i = 0; i < sizeof s_fixed / sizeof s_fixed[0]; i++)
        if (strcmp(name, s_fixed[i]) == 0)
            return true;
    return false;
}

static Techbridge__Org *s_own_org(tb_arena_t *a, Techbridge__Request *r, bool *ok)
{
    if (!r->org) {
        r->org = TB_PB_NEW(a, Techbridge__Org, techbridge__org__descriptor);
        if (!r->org)
            *ok = false;
    }
    return r->org;
}

static Techbridge__Contact *s_own_contact(tb_arena_t *a, Techbridge__Request *r, bool *ok)
{
    if (!r->contact) {
        r->contact = TB_PB_NEW(a, Techbridge__Contact, techbridge__contact__descriptor);
        if (!r->contact)
            *ok = false;
    }
    return r->contact;
}

static Techbridge__Budget *s_own_budget(tb_arena_t *a, Techbridge__Request *r, bool *ok)
{
    if (!r->budget_usd) {
        r->budget_usd = TB_PB_NEW(a, Techbridge__Budget, techbridge__budget__descriptor);
        if (!r->budget_usd)
            *ok = false;
    }
    return r->budget_usd;
}

static char *s_str(const char *s)
{
    return (char *)(s ? s : "");
}

/* Applies one editable field (a name of s_editable) of `c` to `r`. */
static void s_apply(tb_arena_t *a, Techbridge__Request *r, const Techbridge__Request *c,
                    const char *name, bool *ok)
{
    const Techbridge__Org *co = c->org;
    const Techbridge__Contact *cc = c->contact;
    if (strcmp(name, "title") == 0)
        r->title = s_str(c->title);
    else if (strcmp(name, "summary") == 0)
        r->summary = s_str(c->summary);
    else if (strcmp(name, "sector") == 0)
        r->sector = s_str(c->sector);
    else if (strcmp(name, "keywords") == 0) {
        r->n_keywords = c->n_keywords;
        r->keywords = c->keywords;
    } else if (strcmp(name, "trl") == 0)
        r->trl = c->trl;
    else if (strcmp(name, "cooperation") == 0) {
        r->n_cooperation = c->n_cooperation;
        r->cooperation = c->cooperation;
    } else if (strcmp(name, "ipr") == 0)
        r->ipr = c->ipr;
    else if (strcmp(name, "budget_usd") == 0)
        r->budget_usd = s_budget_copy(a, c->budget_usd, ok);
    else if (strcmp(name, "target_countries") == 0) {
        r->n_target_countries = c->n_target_countries;
        r->target_countries = c->target_countries;
    } else if (strcmp(name, "contact") == 0)
        r->contact = s_contact_copy(a, cc, ok);
    else if (strcmp(name, "expires_at") == 0) {
        if (c->expires_at != 0)
            r->expires_at = c->expires_at;
    } else if (strcmp(name, "org") == 0) {
        /* Every org field is part of its identity and required: an empty one
           in `changes` means "not given", so the org is merged, not replaced. */
        Techbridge__Org *o = s_own_org(a, r, ok);
        if (o && co) {
            if (co->name && *co->name)
                o->name = co->name;
            if (co->country && *co->country)
                o->country = co->country;
            if (co->region && *co->region)
                o->region = co->region;
        }
    } else if (strncmp(name, "org.", 4) == 0) {
        Techbridge__Org *o = s_own_org(a, r, ok);
        if (!o)
            return;
        if (strcmp(name + 4, "name") == 0)
            o->name = s_str(co ? co->name : NULL);
        else if (strcmp(name + 4, "country") == 0)
            o->country = s_str(co ? co->country : NULL);
        else if (strcmp(name + 4, "region") == 0)
            o->region = s_str(co ? co->region : NULL);
    } else if (strncmp(name, "contact.", 8) == 0) {
        Techbridge__Contact *o = s_own_contact(a, r, ok);
        if (!o)
            return;
        if (strcmp(name + 8, "name") == 0)
            o->name = s_str(cc ? cc->name : NULL);
        else if (strcmp(name + 8, "email") == 0)
            o->email = s_str(cc ? cc->email : NULL);
        else if (strcmp(name + 8, "phone") == 0)
            o->phone = s_str(cc ? cc->phone : NULL);
    } else if (strncmp(name, "budget_usd.", 11) == 0) {
        Techbridge__Budget *b = s_own_budget(a, r, ok);
        if (!b)
            return;
        const Techbridge__Budget *cb = c->budget_usd;
        if (strcmp(name + 11, "min") == 0)
            b->min = s_amount_copy(a, cb ? cb->min : NULL, ok);
        else
            b->max = s_amount_copy(a, cb ? cb->max : NULL, ok);
    }
}

int intake_edit_merge(tb_arena_t *arena, Techbridge__Request *stored,
                      const Techbridge__Request *changes, char *const *fields,
                      size_t nfields, tb_violations_t *v)
{
    size_t before = v->count + v->dropped;
    const char *stored_org = stored->org ? stored->org->id : "";
    const char *changed_org = changes->org ? changes->org->id : "";
    bool org_named = nfields == 0;
    for (size_t i = 0; i < nfields; i++) {
        char path[32], reason[160];
        snprintf(path, sizeof path, "fields[%zu]", i);
        const char *name = fields[i] ? fields[i] : "";
        if (strlen(name) > INTAKE_FIELD_NAME_MAX)
            tb_violations_add(v, path, "field name too long");
        else if (s_field_fixed(name)) {
            snprintf(reason, sizeof reason, "%s is not editable", name);
            tb_violations_add(v, path, reason);
        } else if (!intake_field_editable(name)) {
            snprintf(reason, sizeof reason, "unknown field %s", name);
            tb_violations_add(v, path, reason);
        } else if (strcmp(name, "org") == 0)
            org_named = true;
    }
    if (nfields == 0) {
        if (changes->kind != 0 && changes->kind != stored->kind)
            tb_violations_add(v, "kind", "is not editable");
        if (changes->external_ref && *changes->external_ref &&
            strcmp(changes->external_ref, stored->external_ref) != 0)
            tb_violations_add(v, "external_ref", "is not editable");
    }
    if (org_named && *changed_org && strcmp(changed_org, stored_org) != 0)
        tb_violations_add(v, "org.id", "is not editable");
    int added = (int)(v->count + v->dropped - before);
    if (added > 0)
        return added;

    bool ok = true;
    if (nfields == 0)
        for (size_t i = 0; i < S_TOP_LEVEL; i++)
            s_apply(arena, stored, changes, s_editable[i], &ok);
    else
        for (size_t i = 0; i < nfields; i++)
            s_apply(arena, stored, changes, fields[i], &ok);
    return ok ? 0 : -1;
}

/* ==== the service ==== */

static char *s_dup(void *ctx, const char *s)
{
    return tb_arena_strdup((tb_arena_t *)ctx, s);
}

/* Registers the statements once the runtime has migrated the schema. */
static int s_ready(intake_core_t *self)
{
    if (self->prepared)
        return 0;
    if (!tb_db_ok(self->db))
        return -1;
    if (intake_store_prepare(self->db) != 0)
        return -1;
    self->prepared = true;
    return 0;
}

static bool s_sector_known(const tb_sectors_t *s, const char *code)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->codes[i], code) == 0)
            return true;
    return false;
}

/* The sector list: read at first use, again when older than the TTL, or when
   `miss` names a code the cached list lacks (at most every second). When the
   table cannot be read, the last list (or the built-in one) stays. */
static const tb_sectors_t *s_sectors(intake_core_t *self, const char *miss,
                                     const char *cid)
{
    int64_t now = tb_now_ms();
    int64_t age = now - self->sectors_loaded_ms;
    bool due = !self->sectors_loaded || age >= INTAKE_SECTORS_TTL_MS ||
               (miss && *miss && age >= INTAKE_SECTORS_MISS_MS &&
                !s_sector_known(&self->sectors, miss));
    if (!due)
        return &self->sectors;
    char **codes = NULL;
    size_t n = 0;
    if (intake_store_load_sectors(self->db, &codes, &n) != 0) {
        tb_warn("intake.sectors_unreadable", cid, TB_S("error", tb_db_message(self->db)));
        return &self->sectors;
    }
    intake_store_free_sectors(self->sector_codes, self->n_sectors);
    self->sector_codes = codes;
    self->n_sectors = n;
    if (n > 0) {
        self->sectors.codes = (const char *const *)codes;
        self->sectors.count = n;
    } else
        self->sectors = tb_default_sectors;
    self->sectors_loaded = true;
    self->sectors_loaded_ms = now;
    return &self->sectors;
}

/* Reports a database failure, rolls back, returns -1. */
static int s_db_fail(tb_call_t *call, tb_db_t *db, const char *what)
{
    tb_error("intake.db_failed", call->cid, TB_S("what", what),
             TB_S("sqlstate", tb_db_sqlstate(db)), TB_S("error", tb_db_message(db)));
    int rc = tb_call_db_error(call, db, what);
    tb_db_rollback(db);
    return rc;
}

static int s_full(tb_call_t *call)
{
    return tb_call_error(call, CODE(RESOURCE_EXHAUSTED), "reply too large");
}

/* Each violation on the reply (copied into the call's arena). Returns -1. */
static int s_violations(tb_call_t *call, const tb_violations_t *v)
{
    for (size_t i = 0; i < v->count; i++)
        tb_call_violation(call, tb_arena_strdup(call->arena, v->items[i].field),
                          tb_arena_strdup(call->arena, v->items[i].reason));
    if (v->dropped > 0)
        tb_call_violation(call, "", "more violations not shown");
    return -1;
}

/* Normalises and checks a request's fields. Returns 0 or -1 (reply set). */
static int s_check_request(intake_core_t *self, tb_call_t *call, Techbridge__Request *req,
                           int64_t now)
{
    if (tb_valid_normalise(req, s_dup, call->arena) != 0)
        return s_full(call);
    tb_violations_t *v = tb_arena_alloc(call->arena, sizeof *v);
    if (!v)
        return s_full(call);
    const tb_sectors_t *sectors = s_sectors(self, req->sector, call->cid);
    if (tb_valid_request(req, sectors, now, v) > 0)
        return s_violations(call, v);
    return 0;
}

static int s_reply_request(tb_call_t *call, Techbridge__Request *req, const char *dup,
                           bool created)
{
    Techbridge__RequestResult *res = TB_PB_NEW(call->arena, Techbridge__RequestResult,
                                               techbridge__request_result__descriptor);
    if (!res)
        return s_full(call);
    res->request = req;
    res->possible_duplicate_of = s_str(dup);
    res->created = created;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_REQUEST;
    call->reply->request = res;
    return 0;
}

/* A history entry of the call. */
static Techbridge__HistoryEntry *s_entry(tb_arena_t *a, int64_t at, const char *actor,
                                         Techbridge__Action action,
                                         Techbridge__Status from, Techbridge__Status to,
                                         const char *reason, int64_t version,
                                         const char *cid)
{
    Techbridge__HistoryEntry *e =
        TB_PB_NEW(a, Techbridge__HistoryEntry, techbridge__history_entry__descriptor);
    if (!e)
        return NULL;
    e->at = at;
    e->actor = s_str(actor);
    e->action = action;
    e->from_status = from;
    e->to_status = to;
    e->reason = s_str(reason);
    e->version = version;
    e->correlation_id = s_str(cid);
    return e;
}

/* An event of the requests stream (seq, stream and at are set on append). */
static Techbridge__Event *s_event_new(tb_arena_t *a, Techbridge__EventType type,
                                      Techbridge__Request *req, Techbridge__Status from,
                                      const char *actor, const char *reason,
                                      const char *cid)
{
    Techbridge__Event *ev =
        TB_PB_NEW(a, Techbridge__Event, techbridge__event__descriptor);
    if (!ev)
        return NULL;
    ev->type = type;
    ev->request = req;
    ev->from_status = from;
    ev->actor = s_str(actor);
    ev->reason = s_str(reason);
    ev->correlation_id = s_str(cid);
    return ev;
}

/* Appends an event of the requests stream in the open transaction. */
static int s_event(tb_db_t *db, tb_arena_t *a, Techbridge__EventType type,
                   Techbridge__Request *req, Techbridge__Status from, const char *actor,
                   const char *reason, const char *cid)
{
    Techbridge__Event *ev = s_event_new(a, type, req, from, actor, reason, cid);
    if (!ev)
        return -1;
    return tb_feed_append(db, TB_STREAM_REQUESTS, ev);
}

/* Writes history + event of a change in the open transaction. Returns 0 or -1
   (database, or the arena full: reported as a database failure by callers). */
static int s_record(tb_db_t *db, tb_arena_t *a, Techbridge__Request *req,
                    Techbridge__Action action, Techbridge__Status from,
                    Techbridge__EventType type, int64_t at, const char *actor,
                    const char *reason, const char *cid)
{
    Techbridge__HistoryEntry *e =
        s_entry(a, at, actor, action, from, req->status, reason, req->version, cid);
    if (!e)
        return -1;
    if (intake_store_history_add(db, req->id, e) != 0)
        return -1;
    return s_event(db, a, type, req, from, actor, reason, cid);
}

/* ---- submit ---- */

/* The answer to a submission whose (org, external_ref) is taken. */
static int s_submit_existing(intake_core_t *self, tb_call_t *call,
                             const Techbridge__Request *req, const uint8_t *fp,
                             size_t fp_len)
{
    intake_row_t row = {0};
    int rc = intake_store_get_by_ref(self->db, call->arena, req->org->id,
                                     req->external_ref, &row);
    if (rc < 0)
        return s_db_fail(call, self->db, "read existing request");
    if (rc > 0)
        return tb_call_error(call, CODE(ABORTED),
                             "a concurrent submission of external_ref %s changed; retry",
                             req->external_ref);
    if (!intake_fingerprint_equal(fp, fp_len, row.fingerprint, row.fingerprint_len)) {
        tb_info("request.conflict", call->cid, TB_S("id", row.request->id),
                TB_S("org", req->org->id), TB_S("external_ref", req->external_ref));
        return tb_call_error(
            call, CODE(ALREADY_EXISTS),
            "external_ref %s of org %s is request %s, with other content",
            req->external_ref, req->org->id, row.request->id);
    }
    char *dup = "";
    if (intake_store_find_duplicate(self->db, call->arena, req->org->id, row.request->id,
                                    row.request->title, &dup) != 0)
        return s_db_fail(call, self->db, "find duplicates");
    tb_info("request.resubmitted", call->cid, TB_S("id", row.request->id),
            TB_S("org", req->org->id), TB_S("external_ref", req->external_ref));
    return s_reply_request(call, row.request, dup, false);
}

/* Checks and completes a submission before any SQL: the content normalised and
   validated, its fingerprint, then id, status, version and times. Returns 0
   with *req_out and the fingerprint, or -1 with the reply set. */
static int s_submit_prepare(intake_core_t *self, tb_call_t *call, int64_t now,
                            Techbridge__Request **req_out, uint8_t **fp, size_t *fp_len)
{
    const Techbridge__SubmitRequest *sub = call->req->submit;
    if (!sub || !sub->request)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "submit needs a request");
    Techbridge__Request *req = intake_request_content(call->arena, sub->request);
    if (!req)
        return s_full(call);
    if (tb_valid_normalise(req, s_dup, call->arena) != 0)
        return s_full(call);
    const char *org_id = req->org ? req->org->id : "";
    if (*org_id && !tb_call_may_act_for(call, org_id))
        return tb_call_error(call, CODE(PERMISSION_DENIED),
                             "an organisation may submit only its own requests");
    if (s_check_request(self, call, req, now) != 0)
        return -1;

    /* The fingerprint is of the content as submitted (expires_at 0 stays 0). */
    if (intake_fingerprint(call->arena, req, fp, fp_len) != 0)
        return s_full(call);

    char id[37];
    tb_uuid(id);
    req->id = tb_arena_strdup(call->arena, id);
    req->status = TECHBRIDGE__STATUS__SUBMITTED;
    req->version = 1;
    req->created_at = now;
    req->updated_at = now;
    if (req->expires_at == 0)
        req->expires_at = tb_add_months_ms(now, TB_EXPIRY_DEFAULT_MONTHS);
    req->renewed = false;
    if (!req->id)
        return s_full(call);
    *req_out = req;
    return 0;
}

/* The reply to a stored submission. */
static int s_submitted(tb_call_t *call, Techbridge__Request *req, const char *dup)
{
    tb_info("request.submitted", call->cid, TB_S("id", req->id),
            TB_S("org", req->org->id), TB_S("kind", intake_kind_text(req->kind)),
            TB_S("external_ref", req->external_ref), TB_S("possible_duplicate_of", dup));
    return s_reply_request(call, req, dup, true);
}

/* Stores one prepared submission in a transaction of its own. */
static int s_submit_store(intake_core_t *self, tb_call_t *call, Techbridge__Request *req,
                          const uint8_t *fp, size_t fp_len, int64_t now)
{
    tb_db_t *db = self->db;
    if (tb_db_begin(db) != 0)
        return s_db_fail(call, db, "begin");
    int rc = intake_store_insert(db, call->arena, req, fp, fp_len);
    if (rc < 0)
        return s_db_fail(call, db, "insert request");
    if (rc > 0) {
        /* (org, external_ref) taken: idempotent replay or a conflict. */
        tb_db_rollback(db);
        return s_submit_existing(self, call, req, fp, fp_len);
    }
    char *dup = "";
    if (s_record(db, call->arena, req, TECHBRIDGE__ACTION__SUBMIT,
                 TECHBRIDGE__STATUS__STATUS_UNSPECIFIED,
                 TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED, now, call->actor, "",
                 call->cid) != 0)
        return s_db_fail(call, db, "record submission");
    if (intake_store_find_duplicate(db, call->arena, req->org->id, req->id, req->title,
                                    &dup) != 0)
        return s_db_fail(call, db, "find duplicates");
    if (tb_db_commit(db) != 0)
        return s_db_fail(call, db, "commit submission");
    return s_submitted(call, req, dup);
}

static int s_submit(intake_core_t *self, tb_call_t *call)
{
    int64_t now = tb_now_ms();
    Techbridge__Request *req = NULL;
    uint8_t *fp = NULL;
    size_t fp_len = 0;
    if (s_submit_prepare(self, call, now, &req, &fp, &fp_len) != 0)
        return -1;
    return s_submit_store(self, call, req, fp, fp_len, now);
}

/* A submission of a group commit. */
typedef struct {
    tb_call_t *call;
    Techbridge__Request *req;
    uint8_t *fp;
    size_t fp_len;
} s_pending_t;

/* Stores the prepared submissions `p` in one transaction, set-wise: one
   statement for the requests and their history rows, two for the events,
   one for the duplicate check, one COMMIT (one WAL flush) for all. Returns
   0, or -1 with the transaction rolled back and nothing stored. */
static int s_submit_group(intake_core_t *self, s_pending_t *p, intake_submission_t *subs,
                          size_t n, char **dups)
{
    tb_db_t *db = self->db;
    Techbridge__Event *events[TB_SERVICE_BATCH_MAX];
    const Techbridge__Request *reqs[TB_SERVICE_BATCH_MAX];
    char *found[TB_SERVICE_BATCH_MAX];
    tb_arena_t *tmp = tb_arena_new(0);
    if (!tmp)
        return -1;
    if (tb_db_begin(db) != 0)
        goto fail;
    if (intake_store_insert_batch(db, subs, n) != 0)
        goto fail;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        dups[i] = "";
        if (!subs[i].inserted)
            continue;
        tb_call_t *call = p[i].call;
        events[m] = s_event_new(
            call->arena, TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED, p[i].req,
            TECHBRIDGE__STATUS__STATUS_UNSPECIFIED, call->actor, "", call->cid);
        if (!events[m])
            goto fail;
        reqs[m++] = p[i].req;
    }
    if (tb_feed_append_many(db, TB_STREAM_REQUESTS, events, m) != 0)
        goto fail;
    if (intake_store_find_duplicates_batch(db, tmp, reqs, m, found) != 0)
        goto fail;
    if (tb_db_commit(db) != 0)
        goto fail;
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!subs[i].inserted)
            continue;
        dups[i] = tb_arena_strdup(p[i].call->arena, found[k++]);
        if (!dups[i])
            dups[i] = ""; /* the reply will not fit anyway; the request is stored */
    }
    tb_arena_destroy(&tmp);
    return 0;
fail:
    tb_error("intake.group_failed", p[0].call->cid, TB_I("calls", (int64_t)n),
             TB_S("sqlstate", tb_db_sqlstate(db)), TB_S("error", tb_db_message(db)));
    tb_db_rollback(db);
    tb_arena_destroy(&tmp);
    return -1;
}

/* Group commit of consecutive submit calls: each is checked on its own (an
   invalid one gets its errors and leaves the group), the valid ones are
   stored together (s_submit_group) and answered. When the group fails for
   anything but the database being unreachable (e.g. one bad row reached SQL),
   each call is retried in a transaction of its own, so that one failure
   fails only itself. A submission whose (org, external_ref) was taken gets the
   idempotent answer after the commit, as a lone call would. */
static void s_submit_batch(intake_core_t *self, tb_call_t *const *calls, size_t n)
{
    s_pending_t p[TB_SERVICE_BATCH_MAX];
    intake_submission_t subs[TB_SERVICE_BATCH_MAX];
    char *dups[TB_SERVICE_BATCH_MAX];
    int64_t now = tb_now_ms();
    size_t k = 0;
    for (size_t i = 0; i < n && i < TB_SERVICE_BATCH_MAX; i++) {
        tb_call_t *call = calls[i];
        p[k] = (s_pending_t){.call = call};
        if (s_submit_prepare(self, call, now, &p[k].req, &p[k].fp, &p[k].fp_len) != 0)
            continue;
        subs[k] = (intake_submission_t){.req = p[k].req,
                                        .fingerprint = p[k].fp,
                                        .fingerprint_len = p[k].fp_len,
                                        .actor = call->actor,
                                        .cid = call->cid};
        k++;
    }
    if (k == 0)
        return;
    if (k == 1) {
        /* Alone: the array statements cost more than the plain ones
           (measured: 1 client, ~0.9 ms vs ~1.2 ms a call). */
        s_submit_store(self, p[0].call, p[0].req, p[0].fp, p[0].fp_len, now);
        return;
    }
    if (s_submit_group(self, p, subs, k, dups) != 0) {
        tb_db_t *db = self->db;
        bool down = !tb_db_ok(db) || tb_db_error(db) == TB_DB_UNAVAILABLE;
        for (size_t i = 0; i < k; i++) {
            if (down)
                tb_call_db_error(p[i].call, db, "submit");
            else
                s_submit_store(self, p[i].call, p[i].req, p[i].fp, p[i].fp_len, now);
        }
        return;
    }
    for (size_t i = 0; i < k; i++) {
        if (subs[i].inserted)
            s_submitted(p[i].call, p[i].req, dups[i]);
        else
            s_submit_existing(self, p[i].call, p[i].req, p[i].fp, p[i].fp_len);
    }
}

/* ---- get, history ---- */

/* Loads request `id` for a read by the caller: 0 with *row, or -1 with the
   reply set (bad id, not found, another org's request, database). */
static int s_load(intake_core_t *self, tb_call_t *call, const char *id, bool for_update,
                  intake_row_t *row)
{
    if (!intake_is_uuid(id))
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "id must be a UUID");
    int rc = intake_store_get(self->db, call->arena, id, for_update, row);
    if (rc < 0)
        return s_db_fail(call, self->db, "read request");
    if (rc > 0) {
        if (for_update)
            tb_db_rollback(self->db);
        return tb_call_error(call, CODE(NOT_FOUND), "request %s not found", id);
    }
    const char *org = row->request->org ? row->request->org->id : "";
    if (!tb_call_may_act_for(call, org)) {
        if (for_update)
            tb_db_rollback(self->db);
        return tb_call_error(call, CODE(PERMISSION_DENIED),
                             "request %s belongs to another organisation", id);
    }
    return 0;
}

static int s_get(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__GetRequest *g = call->req->get;
    intake_row_t row = {0};
    if (s_load(self, call, g ? g->id : "", false, &row) != 0)
        return -1;
    return s_reply_request(call, row.request, "", false);
}

static int s_history(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__HistoryRequest *h = call->req->history;
    intake_row_t row = {0};
    if (s_load(self, call, h ? h->id : "", false, &row) != 0)
        return -1;
    Techbridge__History *out =
        TB_PB_NEW(call->arena, Techbridge__History, techbridge__history__descriptor);
    if (!out)
        return s_full(call);
    if (intake_store_history(self->db, call->arena, row.request->id, &out->entries,
                             &out->n_entries) != 0)
        return s_db_fail(call, self->db, "read history");
    out->request_id = row.request->id;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_HISTORY;
    call->reply->history = out;
    return 0;
}

/* ---- list ---- */

/* A filter string: bounded, valid UTF-8. */
static bool s_filter_ok(const char *s, size_t max_chars)
{
    size_t len = strlen(s);
    return len <= max_chars * 4 && intake_utf8_chars(s) <= max_chars &&
           tb_valid_utf8(s, len);
}

static int s_list(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__ListRequests *l = call->req->list;
    if (!l)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "list needs filters");
    intake_filter_t f = {0};
    bool bad = false;
    if (l->kind != 0) {
        if (l->kind != TECHBRIDGE__KIND__OFFER && l->kind != TECHBRIDGE__KIND__NEED) {
            tb_call_violation(call, "kind", "unknown kind");
            bad = true;
        } else
            f.kind = intake_kind_text(l->kind);
    }
    if (l->status != 0) {
        f.status = intake_status_text(l->status);
        if (!*f.status) {
            tb_call_violation(call, "status", "unknown status");
            bad = true;
        }
    }
    if (l->sector && *l->sector) {
        if (!s_filter_ok(l->sector, 64)) {
            tb_call_violation(call, "sector", "at most 64 characters of valid UTF-8");
            bad = true;
        }
        f.sector = l->sector;
    }
    if (!call->is_operator)
        f.org_id = call->actor; /* an organisation sees only its own requests */
    else if (l->org_id && *l->org_id) {
        if (!s_filter_ok(l->org_id, TB_ORG_ID_MAX)) {
            tb_call_violation(call, "org_id", "at most 64 characters of valid UTF-8");
            bad = true;
        }
        f.org_id = l->org_id;
    }
    if (l->text && *l->text) {
        if (!s_filter_ok(l->text, INTAKE_TEXT_MAX)) {
            tb_call_violation(call, "text", "at most 200 characters of valid UTF-8");
            bad = true;
        }
        f.text = l->text;
    }
    int limit = l->limit;
    if (limit < 0) {
        tb_call_violation(call, "limit", "must not be negative");
        bad = true;
    }
    if (limit <= 0)
        limit = INTAKE_LIST_DEFAULT;
    if (limit > INTAKE_LIST_MAX)
        limit = INTAKE_LIST_MAX;
    char after_id[37];
    if (l->page_token && *l->page_token) {
        if (intake_page_token_decode(l->page_token, &f.after_ms, after_id) != 0) {
            tb_call_violation(call, "page_token", "malformed page token");
            bad = true;
        } else {
            f.has_after = true;
            f.after_id = after_id;
        }
    }
    if (bad)
        return -1;
    f.limit = limit + 1; /* one more tells whether a next page exists */

    Techbridge__RequestPage *page = TB_PB_NEW(call->arena, Techbridge__RequestPage,
                                              techbridge__request_page__descriptor);
    if (!page)
        return s_full(call);
    Techbridge__Request **list = NULL;
    size_t n = 0;
    if (intake_store_list(self->db, call->arena, &f, &list, &n) != 0)
        return s_db_fail(call, self->db, "list requests");
    if (n > (size_t)limit) {
        n = (size_t)limit;
        page->next_page_token = intake_page_token_encode(
            call->arena, list[n - 1]->created_at, list[n - 1]->id);
        if (!page->next_page_token)
            return s_full(call);
    }
    page->requests = list;
    page->n_requests = n;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_REQUESTS;
    call->reply->requests = page;
    return 0;
}

/* ---- edit ---- */

static int s_edit(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__EditRequest *e = call->req->edit;
    if (!e)
        return tb_call_error(call, CODE(INVALID_ARGUMENT),
                             "edit needs an id and changes");
    if (!intake_is_uuid(e->id))
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "id must be a UUID");
    if (e->version <= 0)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "version required");
    if (!e->changes)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "changes required");
    if (e->n_fields > INTAKE_EDIT_FIELDS_MAX)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "at most %d fields",
                             INTAKE_EDIT_FIELDS_MAX);
    /* Field names first: nothing to load for a request we cannot apply. */
    bool bad = false;
    for (size_t i = 0; i < e->n_fields; i++) {
        const char *name = e->fields[i];
        if (intake_field_editable(name))
            continue;
        char *path = tb_arena_printf(call->arena, "fields[%zu]", i);
        if (strlen(name) > INTAKE_FIELD_NAME_MAX || !tb_valid_utf8(name, strlen(name)))
            tb_call_violation(call, path, "not a field name");
        else if (s_field_fixed(name))
            tb_call_violation(call, path,
                              tb_arena_printf(call->arena, "%s is not editable", name));
        else
            tb_call_violation(call, path,
                              tb_arena_printf(call->arena, "unknown field %s", name));
        bad = true;
    }
    if (bad)
        return -1;

    tb_db_t *db = self->db;
    int64_t now = tb_now_ms();
    if (tb_db_begin(db) != 0)
        return s_db_fail(call, db, "begin");
    intake_row_t row = {0};
    if (s_load(self, call, e->id, true, &row) != 0)
        return -1;
    Techbridge__Request *req = row.request;
    if (!tb_fsm_editable(req->status)) {
        tb_db_rollback(db);
        return tb_call_error(call, CODE(FAILED_PRECONDITION), "cannot edit a %s request",
                             tb_status_name(req->status));
    }
    int64_t current = req->version;
    if (e->version != current) {
        tb_db_rollback(db);
        return tb_call_error(call, CODE(ABORTED),
                             "stale version: saw %" PRId64 ", current %" PRId64,
                             e->version, current);
    }
    tb_violations_t *v = tb_arena_alloc(call->arena, sizeof *v);
    if (!v) {
        tb_db_rollback(db);
        return s_full(call);
    }
    int merged =
        intake_edit_merge(call->arena, req, e->changes, e->fields, e->n_fields, v);
    if (merged != 0) {
        tb_db_rollback(db);
        return merged < 0 ? s_full(call) : s_violations(call, v);
    }
    if (s_check_request(self, call, req, now) != 0) {
        tb_db_rollback(db);
        return -1;
    }
    req->version = current + 1;
    req->updated_at = now;
    int rc = intake_store_update_content(db, call->arena, req, current);
    if (rc < 0)
        return s_db_fail(call, db, "update request");
    if (rc > 0) {
        tb_db_rollback(db);
        return tb_call_error(call, CODE(ABORTED), "stale version: saw %" PRId64,
                             e->version);
    }
    if (s_record(db, call->arena, req, TECHBRIDGE__ACTION__EDIT, req->status,
                 TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EDITED, now, call->actor, "",
                 call->cid) != 0)
        return s_db_fail(call, db, "record edit");
    if (tb_db_commit(db) != 0)
        return s_db_fail(call, db, "commit edit");
    tb_info("request.edited", call->cid, TB_S("id", req->id),
            TB_I("version", req->version), TB_I("fields", e->n_fields));
    return s_reply_request(call, req, "", false);
}

/* ---- transition ---- */

static int s_transition(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__TransitionRequest *t = call->req->transition;
    if (!t)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "transition needs an id");
    if (!intake_is_uuid(t->id))
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "id must be a UUID");
    Techbridge__Action action = t->action;
    if (action == TECHBRIDGE__ACTION__ACTION_UNSPECIFIED)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "action required");
    if (action < TECHBRIDGE__ACTION__PUBLISH || action > TECHBRIDGE__ACTION__EDIT)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "unknown action %d",
                             (int)action);
    if (action == TECHBRIDGE__ACTION__EXPIRE || action == TECHBRIDGE__ACTION__SUBMIT ||
        action == TECHBRIDGE__ACTION__EDIT)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "%s is not a caller action",
                             tb_action_name(action));
    if (t->version <= 0)
        return tb_call_error(call, CODE(INVALID_ARGUMENT), "version required");
    const char *reason = t->reason ? t->reason : "";
    if (intake_utf8_chars(reason) > TB_REASON_MAX || strlen(reason) > TB_REASON_MAX * 4 ||
        !tb_valid_utf8(reason, strlen(reason))) {
        tb_call_violation(call, "reason", "at most 1000 characters of valid UTF-8");
        return -1;
    }

    tb_db_t *db = self->db;
    int64_t now = tb_now_ms();
    if (tb_db_begin(db) != 0)
        return s_db_fail(call, db, "begin");
    intake_row_t row = {0};
    if (s_load(self, call, t->id, true, &row) != 0)
        return -1;
    Techbridge__Request *req = row.request;
    Techbridge__Status from = req->status, to = TECHBRIDGE__STATUS__STATUS_UNSPECIFIED;
    bool is_owner = req->org && strcmp(req->org->id, call->actor) == 0;
    tb_fsm_result_t fr = tb_fsm_check(from, action, call->is_operator, is_owner, now,
                                      req->expires_at, req->renewed, &to);
    if (fr != TB_FSM_OK) {
        tb_db_rollback(db);
        switch (fr) {
        case TB_FSM_FORBIDDEN_ACTION:
            return tb_call_error(call, CODE(FAILED_PRECONDITION),
                                 "cannot %s a %s request", tb_action_name(action),
                                 tb_status_name(from));
        case TB_FSM_NOT_ALLOWED:
            return tb_call_error(call, CODE(PERMISSION_DENIED), "only operators may %s",
                                 tb_action_name(action));
        case TB_FSM_TOO_EARLY:
            return tb_call_error(call, CODE(FAILED_PRECONDITION),
                                 "renew is possible from %d days before expiry",
                                 TB_RENEW_WINDOW_DAYS);
        case TB_FSM_ALREADY_RENEWED:
            return tb_call_error(call, CODE(FAILED_PRECONDITION),
                                 "a request may be renewed only once");
        case TB_FSM_INTERNAL_ONLY:
            return tb_call_error(call, CODE(INVALID_ARGUMENT),
                                 "%s is not a caller action", tb_action_name(action));
        default:
            return tb_call_error(call, CODE(INTERNAL), "state machine said %d", (int)fr);
        }
    }
    int64_t current = req->version;
    if (t->version != current) {
        tb_db_rollback(db);
        return tb_call_error(call, CODE(ABORTED),
                             "stale version: saw %" PRId64 ", current %" PRId64,
                             t->version, current);
    }
    bool renew = action == TECHBRIDGE__ACTION__RENEW;
    req->status = to;
    req->version = current + 1;
    req->updated_at = now;
    if (renew) {
        req->expires_at = tb_fsm_renewed_expiry(now, req->expires_at);
        req->renewed = true;
    }
    int rc = intake_store_update_status(db, req, current, renew);
    if (rc < 0)
        return s_db_fail(call, db, "update status");
    if (rc > 0) {
        tb_db_rollback(db);
        return tb_call_error(call, CODE(ABORTED), "stale version: saw %" PRId64,
                             t->version);
    }
    if (s_record(db, call->arena, req, action, from,
                 TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED, now, call->actor,
                 reason, call->cid) != 0)
        return s_db_fail(call, db, "record transition");
    if (tb_db_commit(db) != 0)
        return s_db_fail(call, db, "commit transition");
    tb_info("request.transition", call->cid, TB_S("id", req->id),
            TB_S("action", tb_action_name(action)), TB_S("from", tb_status_name(from)),
            TB_S("to", tb_status_name(to)), TB_I("version", req->version),
            TB_S("actor", call->actor));
    return s_reply_request(call, req, "", false);
}

/* ---- dispatch ---- */

int intake_core_handle(tb_call_t *call, void *core)
{
    intake_core_t *self = core;
    switch (call->req->body_case) {
    case TECHBRIDGE__API_REQUEST__BODY_SUBMIT:
    case TECHBRIDGE__API_REQUEST__BODY_GET:
    case TECHBRIDGE__API_REQUEST__BODY_LIST:
    case TECHBRIDGE__API_REQUEST__BODY_EDIT:
    case TECHBRIDGE__API_REQUEST__BODY_TRANSITION:
    case TECHBRIDGE__API_REQUEST__BODY_HISTORY:
        break;
    default:
        return tb_call_error(call, CODE(INVALID_ARGUMENT),
                             "unknown kind %s for this service",
                             tb_call_kind_name(call->req->body_case));
    }
    if (s_ready(self) != 0) {
        if (!tb_db_ok(self->db))
            return tb_call_error(call, CODE(UNAVAILABLE), "database unavailable");
        return tb_call_error(call, CODE(INTERNAL), "statements could not be prepared");
    }
    switch (call->req->body_case) {
    case TECHBRIDGE__API_REQUEST__BODY_SUBMIT:
        return s_submit(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_GET:
        return s_get(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_LIST:
        return s_list(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_EDIT:
        return s_edit(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_TRANSITION:
        return s_transition(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_HISTORY:
        return s_history(self, call);
    default:
        return -1; /* not reached */
    }
}

void intake_core_handle_batch(tb_call_t *const *calls, size_t n, void *core)
{
    intake_core_t *self = core;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && calls[j]->req->body_case == TECHBRIDGE__API_REQUEST__BODY_SUBMIT)
            j++;
        if (j == i) {
            intake_core_handle(calls[i++], core);
            continue;
        }
        /* A run of submissions, in arrival order: a call that came after one
           of them (e.g. a get of it on the same DEALER) still sees it stored. */
        if (s_ready(self) != 0) {
            for (; i < j; i++)
                intake_core_handle(calls[i], core); /* answers why not */
            continue;
        }
        s_submit_batch(self, calls + i, j - i);
        i = j;
    }
}

/* ---- sweep ---- */

/* Expires one batch of published requests past expires_at, in one
   transaction. Returns the count, or -1 (rolled back). */
static int s_sweep_expired(intake_core_t *self, tb_arena_t *a, int64_t now)
{
    tb_db_t *db = self->db;
    if (tb_db_begin(db) != 0)
        return -1;
    Techbridge__Request **list = NULL;
    size_t n = 0;
    if (intake_store_claim_expired(db, a, now, INTAKE_SWEEP_BATCH, &list, &n) != 0)
        goto fail;
    char **cids = tb_arena_alloc(a, sizeof *cids * (n ? n : 1));
    if (!cids)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        Techbridge__Request *req = list[i];
        char cid[37];
        tb_uuid(cid);
        cids[i] = tb_arena_strdup(a, cid);
        int64_t current = req->version;
        req->status = TECHBRIDGE__STATUS__EXPIRED;
        req->version = current + 1;
        req->updated_at = now;
        if (intake_store_update_status(db, req, current, false) != 0)
            goto fail;
        if (s_record(db, a, req, TECHBRIDGE__ACTION__EXPIRE,
                     TECHBRIDGE__STATUS__PUBLISHED,
                     TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED, now,
                     INTAKE_SYSTEM_ACTOR, "expires_at passed", cids[i]) != 0)
            goto fail;
    }
    if (tb_db_commit(db) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        tb_info("request.expired", cids[i], TB_S("id", list[i]->id),
                TB_S("org", list[i]->org ? list[i]->org->id : ""),
                TB_I("expires_at", list[i]->expires_at),
                TB_I("version", list[i]->version));
    return (int)n;
fail:
    tb_error("intake.sweep_failed", NULL, TB_S("what", "expire"),
             TB_S("sqlstate", tb_db_sqlstate(db)), TB_S("error", tb_db_message(db)));
    tb_db_rollback(db);
    return -1;
}

/* Sends the expiring notice of one batch of published requests. */
static int s_sweep_expiring(intake_core_t *self, tb_arena_t *a, int64_t now)
{
    tb_db_t *db = self->db;
    if (tb_db_begin(db) != 0)
        return -1;
    Techbridge__Request **list = NULL;
    size_t n = 0;
    if (intake_store_claim_expiring(db, a, now, now + TB_EXPIRING_NOTICE_DAYS * TB_DAY_MS,
                                    INTAKE_SWEEP_BATCH, &list, &n) != 0)
        goto fail;
    char **cids = tb_arena_alloc(a, sizeof *cids * (n ? n : 1));
    if (!cids)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        char cid[37];
        tb_uuid(cid);
        cids[i] = tb_arena_strdup(a, cid);
        if (intake_store_set_notified(db, list[i]->id) != 0)
            goto fail;
        if (s_event(db, a, TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EXPIRING, list[i],
                    list[i]->status, INTAKE_SYSTEM_ACTOR, "", cids[i]) != 0)
            goto fail;
    }
    if (tb_db_commit(db) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        tb_info("request.expiring", cids[i], TB_S("id", list[i]->id),
                TB_S("org", list[i]->org ? list[i]->org->id : ""),
                TB_I("expires_at", list[i]->expires_at));
    return (int)n;
fail:
    tb_error("intake.sweep_failed", NULL, TB_S("what", "expiring"),
             TB_S("sqlstate", tb_db_sqlstate(db)), TB_S("error", tb_db_message(db)));
    tb_db_rollback(db);
    return -1;
}

int intake_core_sweep_at(intake_core_t *self, int64_t now_ms)
{
    if (s_ready(self) != 0)
        return -1;
    s_sectors(self, NULL, NULL); /* the timer also keeps the sector list fresh */
    tb_arena_t *a = tb_arena_new(64u << 20);
    if (!a)
        return -1;
    int expired = s_sweep_expired(self, a, now_ms);
    int expiring = expired < 0 ? -1 : s_sweep_expiring(self, a, now_ms);
    tb_arena_destroy(&a);
    if (expired < 0 || expiring < 0)
        return -1;
    return expired + expiring;
}

void intake_core_sweep(tb_service_t *service, void *core)
{
    (void)service;
    intake_core_sweep_at(core, tb_now_ms());
}
