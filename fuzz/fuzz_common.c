/*  fuzz_common: see fuzz_common.h. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_json.h"
#include "tb_log.h"
#include "tb_valid.h"
#include "tb_wire.h"

#ifdef TB_FUZZ_INTAKE
#include "intake_core.h"
#endif

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "FUZZ PROPERTY BROKEN at %s:%d: %s\n", file, line, what);
    abort();
}

char *fuzz_dup(void *ctx, const char *s)
{
    return tb_arena_strdup((tb_arena_t *)ctx, s);
}

void fuzz_repack(tb_arena_t *arena, const ProtobufCMessage *msg)
{
    if (!msg)
        return;
    size_t len1 = 0;
    uint8_t *p1 = tb_wire_pack(arena, msg, &len1);
    if (!p1)
        return; /* arena full: the services answer RESOURCE_EXHAUSTED */
    FUZZ_CHECK(len1 == protobuf_c_message_get_packed_size(msg), "packed size");
    tb_arena_t *a2 = tb_arena_new(0);
    FUZZ_CHECK(a2 != NULL, "arena");
    ProtobufCMessage *m2 = tb_wire_unpack(a2, msg->descriptor, p1, len1, SIZE_MAX);
    if (!m2 && fuzz_unknown_fields(msg) > 0) {
        /*  protobuf-c 1.4.1 accepts a tag of field number 0 when its varint is
            over-long (0x82 0x00) and keeps it as an unknown field, but packs it
            back in the short form (0x02), which it rejects. Harmless as long
            as no decoded unknown field is stored or forwarded: the services
            copy what they keep into fresh messages (fuzz_unknown_fields is
            checked on those). */
        tb_arena_destroy(&a2);
        return;
    }
    FUZZ_CHECK(m2 != NULL, "a packed message does not unpack");
    size_t len2 = 0;
    uint8_t *p2 = tb_wire_pack(a2, m2, &len2);
    FUZZ_CHECK(p2 != NULL, "repack");
    FUZZ_CHECK(len2 == len1 && memcmp(p1, p2, len1) == 0,
               "pack(unpack(pack(m))) differs from pack(m)");
    tb_arena_destroy(&a2);
}

void fuzz_json_drop(json_t *doc)
{
    if (!doc)
        return;
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    free(s);
    json_decref(doc);
}

size_t fuzz_unknown_fields(const ProtobufCMessage *msg)
{
    if (!msg)
        return 0;
    size_t n = msg->n_unknown_fields;
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *)msg;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items =
                *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < count; k++)
                n += fuzz_unknown_fields(items[k]);
        } else {
            n += fuzz_unknown_fields(*(ProtobufCMessage *const *)(base + f->offset));
        }
    }
    return n;
}

static void s_escape(const char *s)
{
    char buf[512];
    size_t n = tb_json_escape(buf, sizeof buf, s, strlen(s));
    FUZZ_CHECK(n < sizeof buf && buf[n] == '\0', "tb_json_escape length");
}

/*  A walk over the message tree by its descriptors (the protos are not
    recursive, so the depth is bounded). */
void fuzz_escape_strings(const ProtobufCMessage *msg)
{
    if (!msg)
        return;
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *)msg;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        size_t n = 1;
        const void *elems = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(base + f->quantifier_offset);
            elems = *(void *const *)(base + f->offset);
            if (n)
                FUZZ_CHECK(elems != NULL, "repeated field without storage");
        }
        for (size_t k = 0; k < n; k++) {
            const void *elem = ((void *const *)elems)[k];
            if (!elem)
                continue;
            if (f->type == PROTOBUF_C_TYPE_STRING)
                s_escape(elem);
            else
                fuzz_escape_strings(elem);
        }
    }
}

static void s_check_violations(const tb_violations_t *v, size_t n)
{
    FUZZ_CHECK(v->count <= TB_MAX_VIOLATIONS, "violation count");
    FUZZ_CHECK((n > 0) == (v->count > 0), "returned count vs. items");
    for (size_t i = 0; i < v->count; i++) {
        FUZZ_CHECK(memchr(v->items[i].field, 0, sizeof v->items[i].field),
                   "violation field not terminated");
        FUZZ_CHECK(memchr(v->items[i].reason, 0, sizeof v->items[i].reason),
                   "violation reason not terminated");
        FUZZ_CHECK(v->items[i].reason[0] != '\0', "violation without a reason");
    }
}

/*  The JSON form of a valid request (server-kept fields dropped) reads back
    without violations and gives the same JSON: what `tbctl get --json` prints
    can be fed to `tbctl edit`/`submit`. */
static void s_json_roundtrip(tb_arena_t *arena, const Techbridge__Request *req)
{
    Techbridge__Request tmp = *req;
    tmp.id = "";
    tmp.status = 0;
    tmp.version = 0;
    tmp.created_at = 0;
    tmp.updated_at = 0;
    tmp.renewed = false;
    json_t *j1 = tb_json_from_request(&tmp);
    FUZZ_CHECK(j1 != NULL, "a valid request has no JSON form");
    tb_violations_t *v = tb_arena_alloc(arena, sizeof *v);
    if (!v) {
        json_decref(j1);
        return;
    }
    Techbridge__Request *back = tb_json_to_request(arena, j1, v, NULL, NULL);
    if (!back) { /* arena full */
        json_decref(j1);
        return;
    }
    s_check_violations(v, v->count);
    if (v->count) {
        char *s = json_dumps(j1, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "json: %s\nviolation: %s: %s\n", s ? s : "?", v->items[0].field,
                v->items[0].reason);
        free(s);
    }
    FUZZ_CHECK(v->count == 0, "the JSON form of a valid request has violations");
    json_t *j2 = tb_json_from_request(back);
    FUZZ_CHECK(j2 != NULL, "JSON form of the read-back request");
    if (!json_equal(j1, j2)) {
        char *s1 = json_dumps(j1, JSON_COMPACT | JSON_SORT_KEYS);
        char *s2 = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "first:  %s\nsecond: %s\n", s1 ? s1 : "?", s2 ? s2 : "?");
        free(s1);
        free(s2);
        FUZZ_CHECK(false, "JSON -> request -> JSON changes the request");
    }
    memset(v, 0, sizeof *v);
    size_t n = tb_valid_request(back, &tb_default_sectors, FUZZ_NOW_MS, v);
    s_check_violations(v, n);
    if (n)
        fprintf(stderr, "violation: %s: %s\n", v->items[0].field, v->items[0].reason);
    FUZZ_CHECK(n == 0, "a valid request read back from JSON is not valid");
    json_decref(j1);
    json_decref(j2);
}

size_t fuzz_check_request(tb_arena_t *arena, Techbridge__Request *req)
{
    if (!req)
        return 0;
    fuzz_escape_strings(&req->base);
    if (tb_valid_normalise(req, fuzz_dup, arena) != 0)
        return 0; /* arena full */
    /* Normalising is idempotent: the stored form is a fixed point. */
    size_t len1 = 0, len2 = 0;
    uint8_t *p1 = tb_wire_pack(arena, &req->base, &len1);
    if (!p1 || tb_valid_normalise(req, fuzz_dup, arena) != 0)
        return 0;
    uint8_t *p2 = tb_wire_pack(arena, &req->base, &len2);
    if (!p2)
        return 0;
    FUZZ_CHECK(len1 == len2 && memcmp(p1, p2, len1) == 0,
               "tb_valid_normalise is not idempotent");

    tb_violations_t *v = tb_arena_alloc(arena, sizeof *v);
    if (!v)
        return 0;
    size_t n = tb_valid_request(req, &tb_default_sectors, FUZZ_NOW_MS, v);
    s_check_violations(v, n);
    fuzz_json_drop(tb_json_from_request(req));
    fuzz_repack(arena, &req->base);
    if (n == 0) {
        s_json_roundtrip(arena, req);
#ifdef TB_FUZZ_INTAKE
        uint8_t *fp = NULL;
        size_t fp_len = 0;
        if (intake_fingerprint(arena, req, &fp, &fp_len) == 0) {
            /* The fingerprint depends on the content only. */
            uint8_t *fp2 = NULL;
            size_t fp2_len = 0;
            Techbridge__Request tmp = *req;
            tmp.id = "other";
            tmp.version = 42;
            tmp.status = TECHBRIDGE__STATUS__PUBLISHED;
            if (intake_fingerprint(arena, &tmp, &fp2, &fp2_len) == 0)
                FUZZ_CHECK(intake_fingerprint_equal(fp, fp_len, fp2, fp2_len),
                           "fingerprint depends on server-kept fields");
        }
#endif
    }
    return n;
}

Techbridge__Request *fuzz_stored_request(tb_arena_t *a)
{
    Techbridge__Request *r =
        TB_PB_NEW(a, Techbridge__Request, techbridge__request__descriptor);
    Techbridge__Org *org = TB_PB_NEW(a, Techbridge__Org, techbridge__org__descriptor);
    Techbridge__Contact *c =
        TB_PB_NEW(a, Techbridge__Contact, techbridge__contact__descriptor);
    Techbridge__Budget *b =
        TB_PB_NEW(a, Techbridge__Budget, techbridge__budget__descriptor);
    Techbridge__UsdAmount *min =
        TB_PB_NEW(a, Techbridge__UsdAmount, techbridge__usd_amount__descriptor);
    Techbridge__UsdAmount *max =
        TB_PB_NEW(a, Techbridge__UsdAmount, techbridge__usd_amount__descriptor);
    char **kw = tb_arena_alloc(a, 2 * sizeof *kw);
    char **tc = tb_arena_alloc(a, 1 * sizeof *tc);
    Techbridge__Cooperation *co = tb_arena_alloc(a, 2 * sizeof *co);
    if (!r || !org || !c || !b || !min || !max || !kw || !tc || !co)
        return NULL;
    org->id = tb_arena_strdup(a, "acme");
    org->name = tb_arena_strdup(a, "Acme Machinery Ltd");
    org->country = tb_arena_strdup(a, "DE");
    org->region = tb_arena_strdup(a, "Bavaria");
    c->name = tb_arena_strdup(a, "Technology desk");
    c->email = tb_arena_strdup(a, "tt@acme.example.de");
    c->phone = tb_arena_strdup(a, "+49 89 5555 0100");
    min->value = 50000;
    max->value = 2000000;
    b->min = min;
    b->max = max;
    kw[0] = tb_arena_strdup(a, "vacuum drying");
    kw[1] = tb_arena_strdup(a, "kiln");
    tc[0] = tb_arena_strdup(a, "KZ");
    co[0] = TECHBRIDGE__COOPERATION__LICENSE;
    co[1] = TECHBRIDGE__COOPERATION__TRAINING;
    r->id = tb_arena_strdup(a, "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
    r->kind = TECHBRIDGE__KIND__OFFER;
    r->external_ref = tb_arena_strdup(a, "acme-001");
    r->org = org;
    r->contact = c;
    r->title = tb_arena_strdup(a, "Continuous vacuum drying line for lumber");
    r->summary = tb_arena_strdup(a, "A vacuum kiln line with heat recovery.");
    r->sector = tb_arena_strdup(a, tb_default_sectors.count ? tb_default_sectors.codes[0]
                                                            : "woodworking");
    r->n_keywords = 2;
    r->keywords = kw;
    r->trl = 7;
    r->n_cooperation = 2;
    r->cooperation = co;
    r->ipr = TECHBRIDGE__IPR__KNOW_HOW;
    r->budget_usd = b;
    r->n_target_countries = 1;
    r->target_countries = tc;
    r->expires_at = FUZZ_NOW_MS + INT64_C(180) * 24 * 3600 * 1000;
    r->status = TECHBRIDGE__STATUS__PUBLISHED;
    r->version = 3;
    r->created_at = FUZZ_NOW_MS - INT64_C(10) * 24 * 3600 * 1000;
    r->updated_at = r->created_at;
    if (!org->id || !org->name || !org->country || !org->region || !c->name ||
        !c->email || !c->phone || !kw[0] || !kw[1] || !tc[0] || !r->id ||
        !r->external_ref || !r->title || !r->summary || !r->sector)
        return NULL;
    return r;
}
