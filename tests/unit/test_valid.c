/*  Unit tests of tb_valid: every field rule of SPEC section 2, with the path
    each violation carries, plus normalisation and the small helpers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tb_valid.h"

/* ------------------------------------------------------------------------ */
/*  A request under test, rebuilt before every test (Criterion runs each test
    in its own process, so plain globals are fine). */

static Techbridge__Request R;
static Techbridge__Org ORG;
static Techbridge__Contact CONTACT;
static Techbridge__Budget BUDGET;
static Techbridge__UsdAmount BMIN, BMAX;
static char *KEYWORDS[64];
static Techbridge__Cooperation COOP[16];
static char *COUNTRIES[64];
static tb_violations_t V;
static int64_t NOW;

/*  Heap strings a test made, freed after it (keeps the sanitizer build quiet). */
static char *OWNED[256];
static size_t NOWNED;

static char *own(char *s)
{
    cr_assert_not_null(s);
    cr_assert(NOWNED < sizeof OWNED / sizeof OWNED[0]);
    OWNED[NOWNED++] = s;
    return s;
}

static void free_owned(void)
{
    while (NOWNED)
        free(OWNED[--NOWNED]);
}

static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000;
}

static void make_offer(void)
{
    techbridge__request__init(&R);
    techbridge__org__init(&ORG);
    techbridge__contact__init(&CONTACT);
    techbridge__budget__init(&BUDGET);
    techbridge__usd_amount__init(&BMIN);
    techbridge__usd_amount__init(&BMAX);
    memset(&V, 0, sizeof V);
    NOW = utc_ms(2026, 3, 15, 12, 0, 0);

    R.kind = TECHBRIDGE__KIND__OFFER;
    R.external_ref = "demo-offer-001";
    ORG.id = "jiangsu-drytech";
    ORG.name = "Jiangsu DryTech Machinery Co.";
    ORG.country = "CN";
    ORG.region = "Jiangsu";
    R.org = &ORG;
    CONTACT.name = "Technology transfer desk";
    CONTACT.email = "tt@jiangsu-drytech.example.cn";
    CONTACT.phone = "+86 10 5555 0100";
    R.contact = &CONTACT;
    R.title = "Continuous vacuum drying line for hardwood lumber";
    R.summary =
        "Vacuum kiln line with heat recovery.\nDries oak and birch three times faster.";
    R.sector = "woodworking";
    KEYWORDS[0] = "vacuum drying";
    KEYWORDS[1] = "lumber";
    KEYWORDS[2] = "kiln";
    KEYWORDS[3] = "heat recovery";
    R.keywords = KEYWORDS;
    R.n_keywords = 4;
    R.trl = 8;
    COOP[0] = TECHBRIDGE__COOPERATION__LICENSE;
    COOP[1] = TECHBRIDGE__COOPERATION__EQUIPMENT_SUPPLY;
    R.cooperation = COOP;
    R.n_cooperation = 2;
    R.ipr = TECHBRIDGE__IPR__PATENT_GRANTED;
    BMIN.value = 50000;
    BMAX.value = 2000000;
    BUDGET.min = &BMIN;
    BUDGET.max = &BMAX;
    R.budget_usd = &BUDGET;
    COUNTRIES[0] = "BY";
    COUNTRIES[1] = "KZ";
    COUNTRIES[2] = "UZ";
    R.target_countries = COUNTRIES;
    R.n_target_countries = 3;
    R.expires_at = 0;
}

static void make_need(void)
{
    make_offer();
    R.kind = TECHBRIDGE__KIND__NEED;
    R.external_ref = "need-7";
    ORG.id = "minsk-furniture";
    ORG.name = "Минскдрев";
    ORG.country = "BY";
    ORG.region = "Minsk";
    R.title = "Линия сушки пиломатериалов";
    R.ipr = TECHBRIDGE__IPR__IPR_UNSPECIFIED;
    R.trl = 7;
    R.budget_usd = NULL;
    R.n_target_countries = 0;
}

static size_t run(void)
{
    memset(&V, 0, sizeof V);
    return tb_valid_request(&R, NULL, NOW, &V);
}

static bool has(const char *field)
{
    for (size_t i = 0; i < V.count; i++)
        if (strcmp(V.items[i].field, field) == 0)
            return true;
    return false;
}

static void dump(void)
{
    for (size_t i = 0; i < V.count; i++)
        fprintf(stderr, "  %s: %s\n", V.items[i].field, V.items[i].reason);
}

/*  Exactly one violation, at `field`. */
static void expect_only(const char *field)
{
    size_t n = run();
    if (n != 1 || !has(field))
        dump();
    cr_assert_eq(n, 1, "expected one violation at %s, got %zu", field, n);
    cr_assert_str_eq(V.items[0].field, field);
    cr_assert(strlen(V.items[0].reason) > 0);
}

static void expect_valid(void)
{
    size_t n = run();
    if (n)
        dump();
    cr_assert_eq(n, 0, "expected no violation, got %zu", n);
}

/*  A string of `n` copies of the UTF-8 character `ch`, freed after the test. */
static char *rep(const char *ch, size_t n)
{
    size_t len = strlen(ch);
    char *s = own(malloc(len * n + 1));
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * len, ch, len);
    s[len * n] = '\0';
    return s;
}

TestSuite(valid, .init = make_offer, .fini = free_owned);

/* ------------------------------------------------------------------------ */
/*  Valid requests                                                          */

Test(valid, offer_passes)
{
    expect_valid();
}

Test(valid, need_passes)
{
    make_need();
    expect_valid();
}

Test(valid, minimal_offer_passes)
{
    ORG.region = "";
    CONTACT.phone = "";
    R.summary = "";
    R.budget_usd = NULL;
    R.n_target_countries = 0;
    R.n_keywords = 1;
    R.n_cooperation = 1;
    expect_valid();
}

Test(valid, custom_sector_list)
{
    static const char *const codes[] = {"space"};
    tb_sectors_t sectors = {codes, 1};
    R.sector = "space";
    cr_assert_eq(tb_valid_request(&R, &sectors, NOW, &V), 0);
    R.sector = "woodworking";
    cr_assert_eq(tb_valid_request(&R, &sectors, NOW, &V), 1);
    cr_assert_str_eq(V.items[0].field, "sector");
}

Test(valid, default_sectors)
{
    cr_assert_eq(tb_default_sectors.count, 14);
    const char *expected[] = {"mechanical_engineering",
                              "woodworking",
                              "chemical_production",
                              "information_technology",
                              "digitalization",
                              "green_economy",
                              "transport",
                              "geology_mining",
                              "science",
                              "education",
                              "agriculture",
                              "energy",
                              "medicine",
                              "materials"};
    for (size_t i = 0; i < 14; i++)
        cr_assert_str_eq(tb_default_sectors.codes[i], expected[i]);
}

/* ------------------------------------------------------------------------ */
/*  kind, external_ref                                                      */

Test(valid, kind_unspecified)
{
    R.kind = TECHBRIDGE__KIND__KIND_UNSPECIFIED;
    R.ipr = TECHBRIDGE__IPR__IPR_UNSPECIFIED;
    expect_only("kind");
}

Test(valid, kind_unknown_number)
{
    R.kind = (Techbridge__Kind)7;
    R.ipr = TECHBRIDGE__IPR__IPR_UNSPECIFIED;
    expect_only("kind");
}

Test(valid, external_ref_required)
{
    R.external_ref = "";
    expect_only("external_ref");
}

Test(valid, external_ref_blank)
{
    R.external_ref = "   ";
    expect_only("external_ref");
}

Test(valid, external_ref_lengths)
{
    R.external_ref = rep("x", 100);
    expect_valid();
    R.external_ref = rep("x", 101);
    expect_only("external_ref");
}

Test(valid, external_ref_counts_code_points)
{
    R.external_ref = rep("я", 100); /* 200 bytes, 100 characters */
    expect_valid();
    R.external_ref = rep("я", 101);
    expect_only("external_ref");
}

/* ------------------------------------------------------------------------ */
/*  org                                                                     */

Test(valid, org_required)
{
    R.org = NULL;
    expect_only("org");
}

Test(valid, org_id_required)
{
    ORG.id = "";
    expect_only("org.id");
}

Test(valid, org_id_charset)
{
    ORG.id = "a.b_c-9";
    expect_valid();
    ORG.id = "Acme";
    expect_only("org.id");
    ORG.id = "acme corp";
    expect_only("org.id");
    ORG.id = "acme/1";
    expect_only("org.id");
    ORG.id = "завод";
    expect_only("org.id");
}

Test(valid, org_id_lengths)
{
    ORG.id = rep("a", 64);
    expect_valid();
    ORG.id = rep("a", 65);
    expect_only("org.id");
}

Test(valid, org_name_required)
{
    ORG.name = "";
    expect_only("org.name");
}

Test(valid, org_name_lengths)
{
    ORG.name = rep("名", TB_NAME_MAX);
    expect_valid();
    ORG.name = rep("n", TB_NAME_MAX + 1);
    expect_only("org.name");
}

Test(valid, org_country_required)
{
    ORG.country = "";
    expect_only("org.country");
}

Test(valid, org_country_must_be_assigned_code)
{
    const char *bad[] = {"XX", "ZZ", "XK", "UK", "by", "BLR", "B", "1A", "EU"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ORG.country = (char *)bad[i];
        expect_only("org.country");
    }
    const char *good[] = {"BY", "CN", "RU", "KZ", "UZ", "KG",
                          "TJ", "IN", "PK", "IR", "GB"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ORG.country = (char *)good[i];
        expect_valid();
    }
}

Test(valid, org_region_optional_and_bounded)
{
    ORG.region = "";
    expect_valid();
    ORG.region = rep("r", TB_NAME_MAX);
    expect_valid();
    ORG.region = rep("r", TB_NAME_MAX + 1);
    expect_only("org.region");
}

/* ------------------------------------------------------------------------ */
/*  contact                                                                 */

Test(valid, contact_required)
{
    R.contact = NULL;
    expect_only("contact");
}

Test(valid, contact_name_required)
{
    CONTACT.name = "";
    expect_only("contact.name");
}

Test(valid, contact_name_too_long)
{
    CONTACT.name = rep("c", TB_NAME_MAX + 1);
    expect_only("contact.name");
}

Test(valid, contact_email_required)
{
    CONTACT.email = "";
    expect_only("contact.email");
}

Test(valid, contact_email_rules)
{
    const char *bad[] = {
        "plain",    "a@b",      "a@@b.com",   "a@b@c.com",   "a b@c.com", "@c.com",
        "a@.com",   "a@c.",     "a..b@c.com", ".a@c.com",    "a.@c.com",  "a@-c.com",
        "a@c-.com", "a@c..com", "a@c.123",    "a@c com.org", "a\t@c.com", "a@c.com "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CONTACT.email = (char *)bad[i];
        size_t n = run();
        cr_assert(n == 1 && has("contact.email"), "accepted bad email '%s'", bad[i]);
    }
    const char *good[] = {"tt@jiangsu-drytech.example.cn", "first.last+tag@example.co.uk",
                          "o'brien@mail.example.org",      "x@y.by",
                          "info@xn--80a1acny.xn--p1ai",    "завод@пример.рф"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CONTACT.email = (char *)good[i];
        size_t n = run();
        cr_assert_eq(n, 0, "refused good email '%s'", good[i]);
    }
}

Test(valid, contact_email_length)
{
    /* 64 + 1 + 189 = 254: the limit; one more is too long. */
    char email[300];
    snprintf(email, sizeof email, "%s@%s.%s.%s.com", rep("l", 64), rep("d", 61),
             rep("e", 61), rep("f", 61));
    cr_assert_eq(strlen(email), 254);
    CONTACT.email = email;
    expect_valid();
    char longer[300];
    snprintf(longer, sizeof longer, "%s@%s.%s.%s.com", rep("l", 64), rep("d", 62),
             rep("e", 61), rep("f", 61));
    cr_assert_eq(strlen(longer), 255);
    CONTACT.email = longer;
    expect_only("contact.email");
    char local65[100];
    snprintf(local65, sizeof local65, "%s@c.com", rep("l", 65));
    CONTACT.email = local65;
    expect_only("contact.email");
}

Test(valid, contact_phone_optional)
{
    CONTACT.phone = "";
    expect_valid();
    CONTACT.phone = "+375 (17) 123-45-67";
    expect_valid();
}

Test(valid, contact_phone_charset)
{
    CONTACT.phone = "call me";
    expect_only("contact.phone");
    CONTACT.phone = "+375 17 123 45 67 ext. 5";
    expect_only("contact.phone");
    CONTACT.phone = "+-()";
    expect_only("contact.phone");
}

Test(valid, contact_phone_length)
{
    CONTACT.phone = rep("1", 32);
    expect_valid();
    CONTACT.phone = rep("1", 33);
    expect_only("contact.phone");
}

/* ------------------------------------------------------------------------ */
/*  title, summary                                                          */

Test(valid, title_boundaries)
{
    R.title = rep("t", 4);
    expect_only("title");
    R.title = rep("t", 5);
    expect_valid();
    R.title = rep("t", 200);
    expect_valid();
    R.title = rep("t", 201);
    expect_only("title");
}

Test(valid, title_counts_code_points)
{
    R.title = rep("技", 5); /* 15 bytes */
    expect_valid();
    R.title = rep("技", 4); /* 12 bytes, still 4 characters */
    expect_only("title");
    R.title = rep("д", 200); /* 400 bytes */
    expect_valid();
    R.title = rep("д", 201);
    expect_only("title");
}

Test(valid, title_required_and_blank)
{
    R.title = "";
    expect_only("title");
    R.title = "        ";
    expect_only("title");
    R.title = "  abcd  "; /* four characters of content */
    expect_only("title");
}

Test(valid, title_single_line)
{
    R.title = "Drying line\nfor lumber";
    expect_only("title");
    R.title = "Drying line\tfor lumber";
    expect_only("title");
}

Test(valid, summary_lengths)
{
    R.summary = "";
    expect_valid();
    R.summary = rep("s", 4000);
    expect_valid();
    R.summary = rep("ы", 4000);
    expect_valid();
    R.summary = rep("s", 4001);
    expect_only("summary");
}

Test(valid, summary_allows_tab_and_newline_only)
{
    R.summary = "Line one.\n\tLine two.\r\nLine three.";
    expect_valid();
    R.summary = "bell \a here";
    expect_only("summary");
    R.summary = "escape \x1b[31m here";
    expect_only("summary");
    R.summary = "del \x7f here";
    expect_only("summary");
}

/* ------------------------------------------------------------------------ */
/*  sector                                                                  */

Test(valid, sector_required)
{
    R.sector = "";
    expect_only("sector");
}

Test(valid, sector_unknown)
{
    R.sector = "astrology";
    expect_only("sector");
    R.sector = "Woodworking";
    expect_only("sector");
}

Test(valid, every_default_sector_accepted)
{
    for (size_t i = 0; i < tb_default_sectors.count; i++) {
        R.sector = (char *)tb_default_sectors.codes[i];
        expect_valid();
    }
}

/* ------------------------------------------------------------------------ */
/*  keywords                                                                */

static void set_keywords(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "kw%zu", i);
        KEYWORDS[i] = own(strdup(buf));
    }
    R.keywords = KEYWORDS;
    R.n_keywords = n;
}

Test(valid, keywords_count_boundaries)
{
    set_keywords(0);
    expect_only("keywords");
    set_keywords(1);
    expect_valid();
    set_keywords(20);
    expect_valid();
    set_keywords(21);
    expect_only("keywords");
}

Test(valid, keyword_length_boundaries)
{
    set_keywords(5);
    KEYWORDS[3] = "x";
    expect_only("keywords[3]");
    KEYWORDS[3] = "xy";
    expect_valid();
    KEYWORDS[3] = rep("k", 60);
    expect_valid();
    KEYWORDS[3] = rep("k", 61);
    expect_only("keywords[3]");
    KEYWORDS[3] = rep("ключ", 15); /* 60 characters, 120 bytes */
    expect_valid();
    KEYWORDS[3] = "ж"; /* 2 bytes, 1 character */
    expect_only("keywords[3]");
}

Test(valid, keyword_invalid_text)
{
    set_keywords(3);
    KEYWORDS[1] = "bad\nkeyword";
    expect_only("keywords[1]");
    KEYWORDS[1] = "bad\xffkeyword";
    expect_only("keywords[1]");
}

Test(valid, every_bad_keyword_reported)
{
    set_keywords(6);
    KEYWORDS[0] = "a";
    KEYWORDS[5] = "b";
    cr_assert_eq(run(), 2);
    cr_assert(has("keywords[0]"));
    cr_assert(has("keywords[5]"));
}

/* ------------------------------------------------------------------------ */
/*  trl                                                                     */

Test(valid, trl_boundaries)
{
    R.trl = 0;
    expect_only("trl");
    R.trl = 1;
    expect_valid();
    R.trl = 9;
    expect_valid();
    R.trl = 10;
    expect_only("trl");
    R.trl = -1;
    expect_only("trl");
}

/* ------------------------------------------------------------------------ */
/*  cooperation                                                             */

Test(valid, cooperation_required)
{
    R.n_cooperation = 0;
    expect_only("cooperation");
}

Test(valid, cooperation_unknown_value)
{
    COOP[1] = (Techbridge__Cooperation)42;
    expect_only("cooperation[1]");
    COOP[1] = TECHBRIDGE__COOPERATION__COOPERATION_UNSPECIFIED;
    expect_only("cooperation[1]");
}

Test(valid, cooperation_duplicate)
{
    COOP[1] = TECHBRIDGE__COOPERATION__LICENSE;
    expect_only("cooperation[1]");
}

Test(valid, cooperation_all_seven)
{
    for (int i = 0; i < 7; i++)
        COOP[i] = (Techbridge__Cooperation)(i + 1);
    R.n_cooperation = 7;
    expect_valid();
    COOP[7] = TECHBRIDGE__COOPERATION__LICENSE;
    R.n_cooperation = 8;
    expect_only("cooperation");
}

/* ------------------------------------------------------------------------ */
/*  ipr                                                                     */

Test(valid, ipr_required_for_offer)
{
    R.ipr = TECHBRIDGE__IPR__IPR_UNSPECIFIED;
    expect_only("ipr");
}

Test(valid, ipr_every_value_for_offer)
{
    for (int i = TECHBRIDGE__IPR__NONE; i <= TECHBRIDGE__IPR__COPYRIGHT; i++) {
        R.ipr = (Techbridge__Ipr)i;
        expect_valid();
    }
}

Test(valid, ipr_only_for_offers)
{
    make_need();
    R.ipr = TECHBRIDGE__IPR__NONE;
    expect_only("ipr");
    cr_assert_str_eq(V.items[0].reason, "only offers carry ipr");
}

Test(valid, ipr_unknown_value)
{
    R.ipr = (Techbridge__Ipr)99;
    expect_only("ipr");
    make_need();
    R.ipr = (Techbridge__Ipr)99;
    expect_only("ipr");
}

/* ------------------------------------------------------------------------ */
/*  budget                                                                  */

Test(valid, budget_min_above_max)
{
    BMIN.value = 5001;
    BMAX.value = 5000;
    expect_only("budget_usd");
}

Test(valid, budget_equal_and_partial)
{
    BMIN.value = BMAX.value = 5000;
    expect_valid();
    BUDGET.max = NULL;
    expect_valid();
    BUDGET.max = &BMAX;
    BUDGET.min = NULL;
    expect_valid();
    BUDGET.max = NULL;
    expect_valid();
    BMIN.value = 0;
    BUDGET.min = &BMIN;
    expect_valid();
}

Test(valid, budget_negative)
{
    BMIN.value = -1;
    expect_only("budget_usd.min");
    BMIN.value = 1;
    BMAX.value = -5;
    expect_only("budget_usd.max");
}

/* ------------------------------------------------------------------------ */
/*  target_countries                                                        */

Test(valid, target_country_invalid)
{
    COUNTRIES[0] = "ZZ";
    expect_only("target_countries[0]");
    COUNTRIES[0] = "BY";
    COUNTRIES[2] = "";
    expect_only("target_countries[2]");
}

Test(valid, target_country_duplicate)
{
    COUNTRIES[1] = "BY";
    expect_only("target_countries[1]");
}

Test(valid, target_countries_limit)
{
    /* 50 distinct assigned codes are fine; 51 are too many. */
    static char codes[64][3];
    size_t n = 0;
    for (char a = 'A'; a <= 'Z' && n < 51; a++)
        for (char b = 'A'; b <= 'Z' && n < 51; b++) {
            char c[3] = {a, b, 0};
            if (tb_valid_country(c)) {
                memcpy(codes[n], c, 3);
                COUNTRIES[n] = codes[n];
                n++;
            }
        }
    cr_assert_eq(n, 51);
    R.n_target_countries = 50;
    expect_valid();
    R.n_target_countries = 51;
    expect_only("target_countries");
}

/* ------------------------------------------------------------------------ */
/*  expires_at                                                              */

Test(valid, expiry_default)
{
    R.expires_at = 0;
    expect_valid();
}

Test(valid, expiry_in_the_past)
{
    R.expires_at = NOW - 1000;
    expect_only("expires_at");
    R.expires_at = NOW;
    expect_only("expires_at");
    R.expires_at = -5;
    expect_only("expires_at");
}

Test(valid, expiry_in_range)
{
    R.expires_at = NOW + 1;
    expect_valid();
    R.expires_at = utc_ms(2028, 3, 15, 12, 0, 0); /* exactly 24 months */
    expect_valid();
}

Test(valid, expiry_beyond_24_months)
{
    R.expires_at = utc_ms(2028, 3, 15, 12, 0, 0) + 1;
    expect_only("expires_at");
    R.expires_at = utc_ms(2030, 1, 1, 0, 0, 0);
    expect_only("expires_at");
}

/* ------------------------------------------------------------------------ */
/*  Text encoding                                                           */

Test(valid, invalid_utf8_reported_per_field)
{
    R.title = "Drying \xff\xfe line";
    expect_only("title");
    R.title = "Continuous drying line";
    ORG.name = "Overlong \xc0\xaf slash";
    expect_only("org.name");
    ORG.name = "Acme";
    CONTACT.name = "Surrogate \xed\xa0\x80 half";
    expect_only("contact.name");
    CONTACT.name = "Ivan";
    R.external_ref = "truncated \xe4\xb8";
    expect_only("external_ref");
    R.external_ref = "ref-1";
    ORG.region = "beyond \xf4\x90\x80\x80 range";
    expect_only("org.region");
}

Test(valid, control_characters_refused)
{
    R.external_ref = "ref\x01";
    expect_only("external_ref");
    R.external_ref = "ref-1";
    ORG.name = "Acme\r";
    expect_only("org.name");
    ORG.name = "Acme";
    ORG.region = "C1 \xc2\x85 NEL";
    expect_only("org.region");
}

Test(valid, utf8_helper)
{
    cr_assert(tb_valid_utf8("", 0));
    cr_assert(tb_valid_utf8("plain", 5));
    cr_assert(tb_valid_utf8("tab\tnl\ncr\r", 10));
    cr_assert(tb_valid_utf8("Минск 北京 😀", strlen("Минск 北京 😀")));
    cr_assert_not(tb_valid_utf8("\x01", 1));
    cr_assert_not(tb_valid_utf8("\x7f", 1));
    cr_assert_not(tb_valid_utf8("\xff", 1));
    cr_assert_not(tb_valid_utf8("\xc0\x80", 2));     /* overlong NUL */
    cr_assert_not(tb_valid_utf8("\xe0\x80\xaf", 3)); /* overlong */
    cr_assert_not(tb_valid_utf8("\xed\xb0\x80", 3)); /* surrogate */
    cr_assert_not(tb_valid_utf8("\xf4\x90\x80\x80", 4));
    cr_assert_not(tb_valid_utf8("\xe4\xb8", 2)); /* truncated */
    cr_assert_not(tb_valid_utf8("a\0b", 3));     /* embedded NUL */
    cr_assert_not(tb_valid_utf8(NULL, 0));
}

/* ------------------------------------------------------------------------ */
/*  Everything at once                                                      */

Test(valid, all_violations_reported_at_once)
{
    R.kind = TECHBRIDGE__KIND__NEED; /* and ipr set: "only offers carry ipr" */
    R.external_ref = "";
    ORG.id = "Bad Org";
    ORG.country = "XX";
    CONTACT.email = "not-an-email";
    R.title = "abc";
    R.sector = "astrology";
    KEYWORDS[3] = "x";
    R.trl = 10;
    COOP[1] = TECHBRIDGE__COOPERATION__LICENSE;
    BMIN.value = 10;
    BMAX.value = 1;
    COUNTRIES[0] = "QQ";
    R.expires_at = NOW - 1;
    size_t n = run();
    const char *expected[] = {"external_ref",  "org.id",     "org.country",
                              "contact.email", "title",      "sector",
                              "keywords[3]",   "trl",        "cooperation[1]",
                              "ipr",           "budget_usd", "target_countries[0]",
                              "expires_at"};
    size_t count = sizeof expected / sizeof expected[0];
    if (n != count)
        dump();
    cr_assert_eq(n, count);
    for (size_t i = 0; i < count; i++)
        cr_assert(has(expected[i]), "missing %s", expected[i]);
}

Test(valid, empty_request_lists_every_required_field)
{
    Techbridge__Request empty = TECHBRIDGE__REQUEST__INIT;
    memset(&V, 0, sizeof V);
    size_t n = tb_valid_request(&empty, NULL, NOW, &V);
    const char *expected[] = {"kind",   "external_ref", "org", "contact",    "title",
                              "sector", "keywords",     "trl", "cooperation"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_assert(has(expected[i]), "missing %s", expected[i]);
    cr_assert_eq(n, sizeof expected / sizeof expected[0]);
}

Test(valid, violations_past_the_cap_are_counted)
{
    tb_violations_t v = {0};
    for (int i = 0; i < TB_MAX_VIOLATIONS + 5; i++)
        tb_violations_add(&v, "f", "r");
    cr_assert_eq(v.count, TB_MAX_VIOLATIONS);
    cr_assert_eq(v.dropped, 5);
}

Test(valid, violation_add_truncates)
{
    tb_violations_t v = {0};
    tb_violations_add(&v, rep("p", 200), rep("r", 500));
    cr_assert_eq(v.count, 1);
    cr_assert_eq(strlen(v.items[0].field), sizeof v.items[0].field - 1);
    cr_assert_eq(strlen(v.items[0].reason), sizeof v.items[0].reason - 1);
}

Test(valid, return_value_counts_new_violations)
{
    tb_violations_t v = {0};
    tb_violations_add(&v, "earlier", "x");
    R.trl = 0;
    cr_assert_eq(tb_valid_request(&R, NULL, NOW, &v), 1);
    cr_assert_eq(v.count, 2);
}

/* ------------------------------------------------------------------------ */
/*  Normalisation                                                           */

static char *heap_dup(void *ctx, const char *s)
{
    (void)ctx;
    return own(strdup(s));
}

Test(valid, normalise_keywords)
{
    char *in[] = {
        " Vacuum   Drying ", "vacuum drying",   "",     "   ",       "PLC",   "plc",
        "Сушка\tДревесины",  "сушка древесины", "ÉLAN", "北京 技术", "  kiln"};
    size_t n = sizeof in / sizeof in[0];
    for (size_t i = 0; i < n; i++)
        KEYWORDS[i] = in[i];
    R.n_keywords = n;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    const char *expected[] = {"vacuum drying", "plc",       "сушка древесины",
                              "élan",          "北京 技术", "kiln"};
    size_t m = sizeof expected / sizeof expected[0];
    cr_assert_eq(R.n_keywords, m);
    for (size_t i = 0; i < m; i++)
        cr_assert_str_eq(R.keywords[i], expected[i]);
    expect_valid();
}

Test(valid, normalise_keywords_unicode_spaces)
{
    KEYWORDS[0] =
        "\xc2\xa0heat\xe3\x80\x80recovery\xc2\xa0"; /* NBSP, ideographic space */
    R.n_keywords = 1;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_str_eq(R.keywords[0], "heat recovery");
}

Test(valid, normalise_keywords_greek_and_latin_extended)
{
    KEYWORDS[0] = "ΑΒΓ ŁÓDŹ ĞÜŞ";
    R.n_keywords = 1;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_str_eq(R.keywords[0], "αβγ łódź ğüş");
}

Test(valid, normalise_then_empty_keywords_violate)
{
    KEYWORDS[0] = "  ";
    KEYWORDS[1] = "";
    R.n_keywords = 2;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_eq(R.n_keywords, 0);
    expect_only("keywords");
}

Test(valid, normalise_dedup_brings_21_down_to_20)
{
    set_keywords(20);
    KEYWORDS[20] = "KW3";
    R.n_keywords = 21;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_eq(R.n_keywords, 20);
    expect_valid();
}

Test(valid, normalise_huge_duplicate_list)
{
    static char *many[100000];
    for (size_t i = 0; i < 100000; i++)
        many[i] = (i % 2) ? "same" : "other";
    many[99999] = "Distinct";
    R.keywords = many;
    R.n_keywords = 100000;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_eq(R.n_keywords, 3); /* duplicates removed, order kept */
    cr_assert_str_eq(R.keywords[0], "other");
    cr_assert_str_eq(R.keywords[1], "same");
    cr_assert_str_eq(R.keywords[2], "distinct");
    expect_valid();
}

Test(valid, normalise_stops_past_the_limit)
{
    static char *many[5000];
    static char names[5000][16];
    for (size_t i = 0; i < 5000; i++) {
        snprintf(names[i], sizeof names[i], "k%zu", i);
        many[i] = names[i];
    }
    R.keywords = many;
    R.n_keywords = 5000;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_eq(R.n_keywords, TB_KEYWORDS_MAX + 1);
    expect_only("keywords");
}

Test(valid, normalise_keeps_invalid_bytes_for_validation)
{
    KEYWORDS[0] = "Bad\xff";
    R.n_keywords = 1;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_str_eq(R.keywords[0], "bad\xff");
    expect_only("keywords[0]");
}

Test(valid, normalise_countries_org_id_email)
{
    ORG.country = " by ";
    ORG.id = "  minsk-furniture\t";
    CONTACT.email = "  tt@example.by \n";
    COUNTRIES[0] = "kz";
    COUNTRIES[1] = " Uz";
    COUNTRIES[2] = "cn ";
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_str_eq(ORG.country, "BY");
    cr_assert_str_eq(ORG.id, "minsk-furniture");
    cr_assert_str_eq(CONTACT.email, "tt@example.by");
    cr_assert_str_eq(COUNTRIES[0], "KZ");
    cr_assert_str_eq(COUNTRIES[1], "UZ");
    cr_assert_str_eq(COUNTRIES[2], "CN");
    expect_valid();
}

Test(valid, normalise_leaves_other_text_alone)
{
    R.title = "  Title With Case  ";
    ORG.name = " Acme ";
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
    cr_assert_str_eq(R.title, "  Title With Case  ");
    cr_assert_str_eq(ORG.name, " Acme ");
}

static char *failing_dup(void *ctx, const char *s)
{
    (void)ctx;
    (void)s;
    return NULL;
}

Test(valid, normalise_reports_out_of_memory)
{
    KEYWORDS[0] = "UPPER";
    R.n_keywords = 1;
    cr_assert_eq(tb_valid_normalise(&R, failing_dup, NULL), -1);
}

Test(valid, normalise_tolerates_missing_parts)
{
    R.org = NULL;
    R.contact = NULL;
    cr_assert_eq(tb_valid_normalise(&R, heap_dup, NULL), 0);
}

/* ------------------------------------------------------------------------ */
/*  Helpers                                                                 */

Test(valid, country_list_has_249_codes)
{
    int n = 0;
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++) {
            char c[3] = {a, b, 0};
            n += tb_valid_country(c);
        }
    cr_assert_eq(n, 249);
    cr_assert_not(tb_valid_country(NULL));
    cr_assert_not(tb_valid_country(""));
    cr_assert_not(tb_valid_country("BYX"));
    cr_assert(tb_valid_country("AX"));
    cr_assert(tb_valid_country("ZW"));
    cr_assert(tb_valid_country("SS"));
}

Test(valid, org_id_helper)
{
    cr_assert(tb_valid_org_id("a"));
    cr_assert(tb_valid_org_id("operator-2.b_c"));
    cr_assert_not(tb_valid_org_id(""));
    cr_assert_not(tb_valid_org_id(NULL));
    cr_assert_not(tb_valid_org_id("A"));
}

Test(valid, uuid)
{
    cr_assert(tb_valid_uuid("123e4567-e89b-12d3-a456-426614174000"));
    cr_assert(tb_valid_uuid("123E4567-E89B-12D3-A456-426614174000"));
    cr_assert_not(tb_valid_uuid(""));
    cr_assert_not(tb_valid_uuid(NULL));
    cr_assert_not(tb_valid_uuid("123e4567e89b12d3a456426614174000"));
    cr_assert_not(tb_valid_uuid("123e4567-e89b-12d3-a456-42661417400"));
    cr_assert_not(tb_valid_uuid("123e4567-e89b-12d3-a456-4266141740000"));
    cr_assert_not(tb_valid_uuid("123e4567-e89b-12d3-a456_426614174000"));
    cr_assert_not(tb_valid_uuid("g23e4567-e89b-12d3-a456-426614174000"));
    cr_assert_not(tb_valid_uuid("{23e4567-e89b-12d3-a456-42661417400}"));
}

Test(valid, add_months)
{
    cr_assert_eq(tb_add_months_ms(utc_ms(2026, 1, 31, 10, 0, 0), 1),
                 utc_ms(2026, 2, 28, 10, 0, 0));
    cr_assert_eq(tb_add_months_ms(utc_ms(2028, 1, 31, 10, 0, 0), 1),
                 utc_ms(2028, 2, 29, 10, 0, 0));
    cr_assert_eq(tb_add_months_ms(utc_ms(2026, 3, 15, 12, 0, 0), 12),
                 utc_ms(2027, 3, 15, 12, 0, 0));
    cr_assert_eq(tb_add_months_ms(utc_ms(2026, 3, 15, 12, 0, 0), 24),
                 utc_ms(2028, 3, 15, 12, 0, 0));
    cr_assert_eq(tb_add_months_ms(utc_ms(2026, 12, 5, 0, 0, 0), 1),
                 utc_ms(2027, 1, 5, 0, 0, 0));
    cr_assert_eq(tb_add_months_ms(utc_ms(2028, 2, 29, 0, 0, 0), 12),
                 utc_ms(2029, 2, 28, 0, 0, 0));
    cr_assert_eq(tb_add_months_ms(utc_ms(2026, 3, 31, 0, 0, 0), -1),
                 utc_ms(2026, 2, 28, 0, 0, 0));
    cr_assert_eq(tb_add_months_ms(utc_ms(2026, 1, 15, 0, 0, 0), -13),
                 utc_ms(2024, 12, 15, 0, 0, 0));
    cr_assert_eq(tb_add_months_ms(utc_ms(2026, 5, 31, 23, 59, 59) + 999, 1),
                 utc_ms(2026, 6, 30, 23, 59, 59) + 999);
    cr_assert_eq(tb_add_months_ms(utc_ms(2026, 5, 1, 0, 0, 0), 0),
                 utc_ms(2026, 5, 1, 0, 0, 0));
    cr_assert_eq(tb_add_months_ms(-1, 1), utc_ms(1970, 1, 31, 23, 59, 59) + 999);
}
