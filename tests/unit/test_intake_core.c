/*  Unit tests of the pure helpers of tb-intake: page tokens, content
    fingerprints, the edit merge with its field list. */
#include <criterion/criterion.h>
#include <string.h>

#include "intake_core.h"

static tb_arena_t *g_a;

static void setup(void)
{
    g_a = tb_arena_new(0);
}

static void teardown(void)
{
    tb_arena_destroy(&g_a);
}

TestSuite(intake_core, .init = setup, .fini = teardown);

static const char *const ID = "2435610f-32ba-49ba-8e92-c6d611345afb";

/* ---- ids, lengths ---- */

Test(intake_core, uuid_form)
{
    cr_assert(intake_is_uuid(ID));
    cr_assert(intake_is_uuid("2435610F-32BA-49BA-8E92-C6D611345AFB"));
    cr_assert_not(intake_is_uuid(""));
    cr_assert_not(intake_is_uuid(NULL));
    cr_assert_not(intake_is_uuid("not-a-uuid"));
    cr_assert_not(intake_is_uuid("2435610f32ba49ba8e92c6d611345afb"));
    cr_assert_not(intake_is_uuid("2435610f-32ba-49ba-8e92-c6d611345afbx"));
    cr_assert_not(intake_is_uuid("2435610g-32ba-49ba-8e92-c6d611345afb"));
    cr_assert_not(intake_is_uuid("{435610f-32ba-49ba-8e92-c6d611345af}"));
}

Test(intake_core, utf8_chars)
{
    cr_assert_eq(intake_utf8_chars(""), 0);
    cr_assert_eq(intake_utf8_chars("abc"), 3);
    cr_assert_eq(intake_utf8_chars("Мінск"), 5);
    cr_assert_eq(intake_utf8_chars("江苏"), 2);
}

/* ---- page tokens ---- */

Test(intake_core, page_token_past_year_9999_is_malformed)
{
    int64_t ms = 0;
    char id[37];
    char *ok = intake_page_token_encode(g_a, 253402300799999LL, ID);
    cr_assert_eq(intake_page_token_decode(ok, &ms, id), 0);
    char *late = intake_page_token_encode(g_a, 253402300800000LL, ID);
    cr_assert_eq(intake_page_token_decode(late, &ms, id), -1);
}

Test(intake_core, page_token_round_trip)
{
    char *t = intake_page_token_encode(g_a, 1795929259131LL, ID);
    cr_assert_not_null(t);
    cr_assert_leq(strlen(t), INTAKE_PAGE_TOKEN_MAX);
    for (const char *p = t; *p; p++)
        cr_assert(strchr("0123456789abcdef", *p), "not hex: %c", *p);
    int64_t ms = 0;
    char id[37];
    cr_assert_eq(intake_page_token_decode(t, &ms, id), 0);
    cr_assert_eq(ms, 1795929259131LL);
    cr_assert_str_eq(id, ID);

    t = intake_page_token_encode(g_a, 0, ID);
    cr_assert_eq(intake_page_token_decode(t, &ms, id), 0);
    cr_assert_eq(ms, 0);
}

/* The hex of `plain`, for hand-made tokens. */
static char *hex(const char *plain)
{
    size_t n = strlen(plain);
    char *out = tb_arena_alloc(g_a, 2 * n + 1);
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)plain[i]);
    return out;
}

Test(intake_core, page_token_rejects_malformed)
{
    int64_t ms;
    char id[37];
    const char *bad[] = {
        "",
        "zz",
        "abc",                                          /* odd length */
        "3132",                                         /* "12": no colon */
        hex(":2435610f-32ba-49ba-8e92-c6d611345afb"),   /* no time */
        hex("-5:2435610f-32ba-49ba-8e92-c6d611345afb"), /* negative */
        hex("12x:2435610f-32ba-49ba-8e92-c6d611345afb"),
        hex("1234567890123456789:2435610f-32ba-49ba-8e92-c6d611345afb"), /* 19 digits */
        hex("12:not-a-uuid"),
        hex("12:2435610f-32ba-49ba-8e92-c6d611345afb:"),
        "3100"
        "3a", /* embedded NUL */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(intake_page_token_decode(bad[i], &ms, id), -1, "accepted %s",
                     bad[i]);
    char big[INTAKE_PAGE_TOKEN_MAX + 3];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(intake_page_token_decode(big, &ms, id), -1);
    cr_assert_eq(intake_page_token_decode(NULL, &ms, id), -1);
}

/* ---- fingerprints ---- */

static Techbridge__Request *sample(void)
{
    Techbridge__Request *r =
        TB_PB_NEW(g_a, Techbridge__Request, techbridge__request__descriptor);
    r->kind = TECHBRIDGE__KIND__OFFER;
    r->external_ref = "REF-1";
    r->org = TB_PB_NEW(g_a, Techbridge__Org, techbridge__org__descriptor);
    r->org->id = "cn.hengtai";
    r->org->name = "Hengtai";
    r->org->country = "CN";
    r->org->region = "Jiangsu";
    r->contact = TB_PB_NEW(g_a, Techbridge__Contact, techbridge__contact__descriptor);
    r->contact->name = "Wang Lei";
    r->contact->email = "wang@hengtai.cn";
    r->contact->phone = "+86 1";
    r->title = "Heat-pump vacuum kiln";
    r->summary = "A kiln.";
    r->sector = "woodworking";
    static char *kw[] = {"kiln", "heat pump"};
    r->keywords = kw;
    r->n_keywords = 2;
    r->trl = 8;
    static Techbridge__Cooperation co[] = {TECHBRIDGE__COOPERATION__LICENSE};
    r->cooperation = co;
    r->n_cooperation = 1;
    r->ipr = TECHBRIDGE__IPR__PATENT_GRANTED;
    r->budget_usd = TB_PB_NEW(g_a, Techbridge__Budget, techbridge__budget__descriptor);
    r->budget_usd->max =
        TB_PB_NEW(g_a, Techbridge__UsdAmount, techbridge__usd_amount__descriptor);
    r->budget_usd->max->value = 600000;
    return r;
}

static void fp(const Techbridge__Request *r, uint8_t **out, size_t *len)
{
    cr_assert_eq(intake_fingerprint(g_a, r, out, len), 0);
}

Test(intake_core, fingerprint_ignores_server_fields)
{
    Techbridge__Request *a = sample(), *b = sample();
    b->id = (char *)ID;
    b->status = TECHBRIDGE__STATUS__PUBLISHED;
    b->version = 7;
    b->created_at = 1;
    b->updated_at = 2;
    b->renewed = true;
    uint8_t *fa, *fb;
    size_t la, lb;
    fp(a, &fa, &la);
    fp(b, &fb, &lb);
    cr_assert_gt(la, 0);
    cr_assert(intake_fingerprint_equal(fa, la, fb, lb));
}

Test(intake_core, fingerprint_sees_content)
{
    uint8_t *f0, *f;
    size_t l0, l;
    fp(sample(), &f0, &l0);

    Techbridge__Request *r = sample();
    r->trl = 7;
    fp(r, &f, &l);
    cr_assert_not(intake_fingerprint_equal(f0, l0, f, l), "trl");

    r = sample();
    r->contact->phone = "";
    fp(r, &f, &l);
    cr_assert_not(intake_fingerprint_equal(f0, l0, f, l), "contact.phone");

    r = sample();
    r->budget_usd->min =
        TB_PB_NEW(g_a, Techbridge__UsdAmount, techbridge__usd_amount__descriptor);
    fp(r, &f, &l);
    cr_assert_not(intake_fingerprint_equal(f0, l0, f, l), "budget min 0 vs absent");

    r = sample();
    r->expires_at = 1795929259131LL;
    fp(r, &f, &l);
    cr_assert_not(intake_fingerprint_equal(f0, l0, f, l), "expires_at");

    r = sample();
    static char *kw[] = {"heat pump", "kiln"};
    r->keywords = kw;
    fp(r, &f, &l);
    cr_assert_not(intake_fingerprint_equal(f0, l0, f, l), "keyword order");
}

Test(intake_core, fingerprint_drops_unknown_fields)
{
    /* A request that came over the wire with a field this build does not know
       must fingerprint like one without it. */
    Techbridge__Request *r = sample();
    size_t n = protobuf_c_message_get_packed_size(&r->base);
    uint8_t *buf = tb_arena_alloc(g_a, n + 8);
    protobuf_c_message_pack(&r->base, buf);
    /* field 99, varint 5 */
    buf[n] = (uint8_t)(99 << 3 | 0) | 0x80;
    buf[n + 1] = (uint8_t)(99 >> 4);
    buf[n + 2] = 5;
    Techbridge__Request *u = techbridge__request__unpack(NULL, n + 3, buf);
    cr_assert_not_null(u);
    cr_assert_eq(u->base.n_unknown_fields, 1);
    uint8_t *f0, *f1;
    size_t l0, l1;
    fp(r, &f0, &l0);
    fp(u, &f1, &l1);
    cr_assert(intake_fingerprint_equal(f0, l0, f1, l1));
    techbridge__request__free_unpacked(u, NULL);
}

Test(intake_core, fingerprint_equal_edges)
{
    const uint8_t a[] = {1, 2, 3}, b[] = {1, 2, 4};
    cr_assert(intake_fingerprint_equal(a, 3, a, 3));
    cr_assert_not(intake_fingerprint_equal(a, 3, b, 3));
    cr_assert_not(intake_fingerprint_equal(a, 2, a, 3));
    cr_assert(intake_fingerprint_equal(a, 0, b, 0));
}

Test(intake_core, content_copy_clears_server_fields)
{
    Techbridge__Request *r = sample();
    r->id = (char *)ID;
    r->version = 3;
    r->status = TECHBRIDGE__STATUS__AGREED;
    r->expires_at = 42;
    Techbridge__Request *c = intake_request_content(g_a, r);
    cr_assert_not_null(c);
    cr_assert_str_eq(c->id, "");
    cr_assert_eq(c->version, 0);
    cr_assert_eq(c->status, 0);
    cr_assert_eq(c->expires_at, 42);
    cr_assert_str_eq(c->org->id, "cn.hengtai");
    cr_assert_neq(c->org, r->org, "sub-messages are fresh copies");
    cr_assert_eq(c->budget_usd->max->value, 600000);
    cr_assert_null(c->budget_usd->min);
}

/* ---- edit merge ---- */

static int merge(Techbridge__Request *stored, const Techbridge__Request *changes,
                 char **fields, size_t n, tb_violations_t *v)
{
    memset(v, 0, sizeof *v);
    return intake_edit_merge(g_a, stored, changes, fields, n, v);
}

static bool has(const tb_violations_t *v, const char *field)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->items[i].field, field) == 0)
            return true;
    return false;
}

Test(intake_core, merge_named_fields_only)
{
    Techbridge__Request *stored = sample();
    Techbridge__Request *c =
        TB_PB_NEW(g_a, Techbridge__Request, techbridge__request__descriptor);
    c->title = "A new title";
    c->trl = 3; /* not named: stays */
    char *fields[] = {"title"};
    tb_violations_t v;
    cr_assert_eq(merge(stored, c, fields, 1, &v), 0);
    cr_assert_str_eq(stored->title, "A new title");
    cr_assert_eq(stored->trl, 8);
    cr_assert_str_eq(stored->summary, "A kiln.");
    cr_assert_str_eq(stored->org->name, "Hengtai");
}

Test(intake_core, merge_empty_list_is_every_editable_field)
{
    Techbridge__Request *stored = sample();
    stored->expires_at = 1000;
    Techbridge__Request *c = sample();
    c->title = "Other title";
    c->trl = 5;
    c->budget_usd = NULL;
    c->contact->phone = "";
    c->org->name = "Hengtai Group";
    c->org->region = "";
    c->expires_at = 0;
    tb_violations_t v;
    cr_assert_eq(merge(stored, c, NULL, 0, &v), 0);
    cr_assert_str_eq(stored->title, "Other title");
    cr_assert_eq(stored->trl, 5);
    cr_assert_null(stored->budget_usd, "budget replaced (cleared)");
    cr_assert_str_eq(stored->contact->phone, "", "contact replaced whole");
    cr_assert_str_eq(stored->org->name, "Hengtai Group");
    cr_assert_str_eq(stored->org->region, "Jiangsu", "org merged: empty means not given");
    cr_assert_str_eq(stored->org->id, "cn.hengtai");
    cr_assert_eq(stored->expires_at, 1000, "expires_at 0 keeps the stored one");
}

Test(intake_core, merge_sub_fields)
{
    Techbridge__Request *stored = sample();
    Techbridge__Request *c =
        TB_PB_NEW(g_a, Techbridge__Request, techbridge__request__descriptor);
    c->contact = TB_PB_NEW(g_a, Techbridge__Contact, techbridge__contact__descriptor);
    c->contact->email = "new@hengtai.cn";
    c->budget_usd = TB_PB_NEW(g_a, Techbridge__Budget, techbridge__budget__descriptor);
    c->budget_usd->min =
        TB_PB_NEW(g_a, Techbridge__UsdAmount, techbridge__usd_amount__descriptor);
    c->budget_usd->min->value = 1000;
    c->expires_at = 5000;
    char *fields[] = {"contact.email", "budget_usd.min", "expires_at", "org.region"};
    tb_violations_t v;
    cr_assert_eq(merge(stored, c, fields, 4, &v), 0);
    cr_assert_str_eq(stored->contact->email, "new@hengtai.cn");
    cr_assert_str_eq(stored->contact->name, "Wang Lei");
    cr_assert_eq(stored->budget_usd->min->value, 1000);
    cr_assert_eq(stored->budget_usd->max->value, 600000);
    cr_assert_eq(stored->expires_at, 5000);
    cr_assert_str_eq(stored->org->region, "", "a named sub-field is set, even empty");
}

Test(intake_core, merge_rejects_fixed_and_unknown_fields)
{
    Techbridge__Request *stored = sample();
    Techbridge__Request *c = sample();
    c->title = "Changed title";
    char *fields[] = {"title", "kind", "org.id", "status", "colour"};
    tb_violations_t v;
    cr_assert_eq(merge(stored, c, fields, 5, &v), 4);
    cr_assert(has(&v, "fields[1]"));
    cr_assert(has(&v, "fields[2]"));
    cr_assert(has(&v, "fields[3]"));
    cr_assert(has(&v, "fields[4]"));
    cr_assert_str_eq(stored->title, "Heat-pump vacuum kiln", "nothing applied");
}

Test(intake_core, merge_empty_list_refuses_other_identity)
{
    tb_violations_t v;
    Techbridge__Request *stored = sample(), *c = sample();
    c->kind = TECHBRIDGE__KIND__NEED;
    c->external_ref = "REF-2";
    c->org->id = "by.other";
    cr_assert_eq(merge(stored, c, NULL, 0, &v), 3);
    cr_assert(has(&v, "kind"));
    cr_assert(has(&v, "external_ref"));
    cr_assert(has(&v, "org.id"));
    cr_assert_eq(stored->kind, TECHBRIDGE__KIND__OFFER);

    /* the same values, or none, are fine */
    stored = sample();
    c = sample();
    c->kind = 0;
    c->external_ref = "";
    c->org->id = "";
    cr_assert_eq(merge(stored, c, NULL, 0, &v), 0);
    cr_assert_str_eq(stored->org->id, "cn.hengtai");

    /* "org" named with another id */
    stored = sample();
    c = sample();
    c->org->id = "by.other";
    char *fields[] = {"org"};
    cr_assert_eq(merge(stored, c, fields, 1, &v), 1);
    cr_assert(has(&v, "org.id"));
}

Test(intake_core, field_editable_table)
{
    const char *yes[] = {
        "title",       "summary", "sector",     "keywords",         "trl",
        "cooperation", "ipr",     "budget_usd", "target_countries", "contact",
        "expires_at",  "org",     "org.name",   "contact.phone",    "budget_usd.max"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        cr_assert(intake_field_editable(yes[i]), "%s", yes[i]);
    const char *no[] = {"id",      "kind",    "external_ref", "org.id",
                        "status",  "version", "created_at",   "updated_at",
                        "renewed", "",        "Title",        "org."};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        cr_assert_not(intake_field_editable(no[i]), "%s", no[i]);
}
