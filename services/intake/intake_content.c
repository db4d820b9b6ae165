/*  intake_content: pure helpers over a request's content: the content copy,
    its fingerprint, the names an edit may use and the edit merge. No socket,
    no database. See intake_core.h. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "intake_internal.h"

/* A copy of message `msg` (NULL stays NULL) in a fresh message of the arena:
   the same fields, strings and repeated arrays shared with `msg`, message
   fields copied likewise, unknown fields dropped. For the plain sub-messages
   of a request (Org, Contact, Budget, UsdAmount: no oneof, no repeated
   message). *ok turns false when the arena is full. */
static void *s_copy(tb_arena_t *a, const void *msg, bool *ok)
{
    const ProtobufCMessage *src = msg;
    if (!src)
        return NULL;
    const ProtobufCMessageDescriptor *d = src->descriptor;
    ProtobufCMessage *c = tb_arena_alloc(a, d->sizeof_message);
    if (!c) {
        *ok = false;
        return NULL;
    }
    memcpy(c, src, d->sizeof_message);
    c->n_unknown_fields = 0;
    c->unknown_fields = NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        assert(f->label != PROTOBUF_C_LABEL_REPEATED &&
               !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF));
        void **field = (void **)((char *)c + f->offset);
        *field = s_copy(a, *field, ok);
    }
    return c;
}

/* `msg`, or a new message of `desc` when it is NULL; *ok turns false when the
   arena is full. */
static void *s_own(tb_arena_t *a, void *msg, const ProtobufCMessageDescriptor *desc,
                   bool *ok)
{
    if (!msg && !(msg = tb_arena_pb_new(a, desc)))
        *ok = false;
    return msg;
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
    c->org = s_copy(arena, src->org, &ok);
    c->contact = s_copy(arena, src->contact, &ok);
    c->title = src->title;
    c->language = src->language;
    c->summary = src->summary;
    c->sector = src->sector;
    c->n_keywords = src->n_keywords;
    c->keywords = src->keywords;
    c->trl = src->trl;
    c->n_cooperation = src->n_cooperation;
    c->cooperation = src->cooperation;
    c->ipr = src->ipr;
    c->budget_usd = s_copy(arena, src->budget_usd, &ok);
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

/* The fields an edit may name; the first thirteen are the top-level ones that an
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
    "language",
    "org.name",
    "org.country",
    "org.region",
    "org.language",
    "contact.name",
    "contact.email",
    "contact.phone",
    "budget_usd.min",
    "budget_usd.max",
};
#define S_TOP_LEVEL 13

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

bool intake_field_fixed(const char *name)
{
    for (size_t i = 0; i < sizeof s_fixed / sizeof s_fixed[0]; i++)
        if (strcmp(name, s_fixed[i]) == 0)
            return true;
    return false;
}

/* "org": every org field is part of its identity and required, so an empty
   one in `co` means "not given": the org is merged, not replaced. */
static void s_merge_org(tb_arena_t *a, Techbridge__Request *r, const Techbridge__Org *co,
                        bool *ok)
{
    Techbridge__Org *o = r->org = s_own(a, r->org, &techbridge__org__descriptor, ok);
    if (!o || !co)
        return;
    if (co->name && *co->name)
        o->name = co->name;
    if (co->country && *co->country)
        o->country = co->country;
    if (co->region && *co->region)
        o->region = co->region;
    if (co->language && *co->language)
        o->language = co->language;
}

/* "org.<field>": that field of `co` ("" when absent). */
static void s_apply_org_field(tb_arena_t *a, Techbridge__Request *r,
                              const Techbridge__Org *co, const char *field, bool *ok)
{
    Techbridge__Org *o = r->org = s_own(a, r->org, &techbridge__org__descriptor, ok);
    if (!o)
        return;
    if (strcmp(field, "name") == 0)
        o->name = intake_str(co ? co->name : NULL);
    else if (strcmp(field, "country") == 0)
        o->country = intake_str(co ? co->country : NULL);
    else if (strcmp(field, "region") == 0)
        o->region = intake_str(co ? co->region : NULL);
    else if (strcmp(field, "language") == 0)
        o->language = intake_str(co ? co->language : NULL);
}

/* "contact.<field>": that field of `cc` ("" when absent). */
static void s_apply_contact_field(tb_arena_t *a, Techbridge__Request *r,
                                  const Techbridge__Contact *cc, const char *field,
                                  bool *ok)
{
    Techbridge__Contact *o = r->contact =
        s_own(a, r->contact, &techbridge__contact__descriptor, ok);
    if (!o)
        return;
    if (strcmp(field, "name") == 0)
        o->name = intake_str(cc ? cc->name : NULL);
    else if (strcmp(field, "email") == 0)
        o->email = intake_str(cc ? cc->email : NULL);
    else if (strcmp(field, "phone") == 0)
        o->phone = intake_str(cc ? cc->phone : NULL);
}

/* "budget_usd.min" or ".max": that bound of `cb` (absent clears it). */
static void s_apply_budget_field(tb_arena_t *a, Techbridge__Request *r,
                                 const Techbridge__Budget *cb, const char *field,
                                 bool *ok)
{
    Techbridge__Budget *b = r->budget_usd =
        s_own(a, r->budget_usd, &techbridge__budget__descriptor, ok);
    if (!b)
        return;
    if (strcmp(field, "min") == 0)
        b->min = s_copy(a, cb ? cb->min : NULL, ok);
    else
        b->max = s_copy(a, cb ? cb->max : NULL, ok);
}

/* Applies one editable field (a name of s_editable) of `c` to `r`. */
static void s_apply(tb_arena_t *a, Techbridge__Request *r, const Techbridge__Request *c,
                    const char *name, bool *ok)
{
    if (strcmp(name, "title") == 0)
        r->title = intake_str(c->title);
    else if (strcmp(name, "summary") == 0)
        r->summary = intake_str(c->summary);
    else if (strcmp(name, "language") == 0)
        r->language = intake_str(c->language);
    else if (strcmp(name, "sector") == 0)
        r->sector = intake_str(c->sector);
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
        r->budget_usd = s_copy(a, c->budget_usd, ok);
    else if (strcmp(name, "target_countries") == 0) {
        r->n_target_countries = c->n_target_countries;
        r->target_countries = c->target_countries;
    } else if (strcmp(name, "contact") == 0)
        r->contact = s_copy(a, c->contact, ok);
    else if (strcmp(name, "expires_at") == 0) {
        if (c->expires_at != 0)
            r->expires_at = c->expires_at;
    } else if (strcmp(name, "org") == 0)
        s_merge_org(a, r, c->org, ok);
    else if (strncmp(name, "org.", 4) == 0)
        s_apply_org_field(a, r, c->org, name + 4, ok);
    else if (strncmp(name, "contact.", 8) == 0)
        s_apply_contact_field(a, r, c->contact, name + 8, ok);
    else if (strncmp(name, "budget_usd.", 11) == 0)
        s_apply_budget_field(a, r, c->budget_usd, name + 11, ok);
}

/* The violations of an edit before anything is merged: field names that are
   too long, fixed or unknown, and changes to kind, external_ref or org.id. */
static void s_merge_check(const Techbridge__Request *stored,
                          const Techbridge__Request *changes, char *const *fields,
                          size_t nfields, tb_violations_t *v)
{
    const char *stored_org = stored->org ? stored->org->id : "";
    const char *changed_org = changes->org ? changes->org->id : "";
    bool org_named = nfields == 0;
    for (size_t i = 0; i < nfields; i++) {
        char path[32], reason[160];
        snprintf(path, sizeof path, "fields[%zu]", i);
        const char *name = fields[i] ? fields[i] : "";
        if (strlen(name) > INTAKE_FIELD_NAME_MAX)
            tb_violations_add(v, path, "field name too long");
        else if (intake_field_fixed(name)) {
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
}

int intake_edit_merge(tb_arena_t *arena, Techbridge__Request *stored,
                      const Techbridge__Request *changes, char *const *fields,
                      size_t nfields, tb_violations_t *v)
{
    size_t before = v->count + v->dropped;
    s_merge_check(stored, changes, fields, nfields, v);
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
