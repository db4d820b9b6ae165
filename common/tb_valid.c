/*  tb_valid: the field rules of a request (SPEC section 2). Pure functions over
    the decoded message; see tb_valid.h for the contract.

    Lengths are counted in Unicode code points, never bytes. Minimum lengths are
    counted with leading and trailing white space ignored (a title of five
    spaces is not a title); maximum lengths are counted on the value as given
    (what would be stored). */
#include "tb_valid.h"
#include "tb_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/*  Violations                                                              */

void tb_violations_add(tb_violations_t *v, const char *field, const char *reason)
{
    if (!v)
        return;
    if (v->count >= TB_MAX_VIOLATIONS) {
        v->dropped++;
        return;
    }
    tb_violation_t *item = &v->items[v->count++];
    snprintf(item->field, sizeof item->field, "%s", field ? field : "");
    snprintf(item->reason, sizeof item->reason, "%s", reason ? reason : "");
}

/*  Adds a violation whose path is `name[index]`. */
static void s_add_indexed(tb_violations_t *v, const char *name, size_t index,
                          const char *reason)
{
    char path[64];
    snprintf(path, sizeof path, "%s[%zu]", name, index);
    tb_violations_add(v, path, reason);
}

/* ------------------------------------------------------------------------ */
/*  UTF-8                                                                   */

/*  Decodes one code point at s[0..len). Returns its byte length (1..4) and sets
    *cp, or returns 0 on an invalid sequence (overlong, surrogate, > U+10FFFF,
    truncated). */
static size_t s_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (len == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t min, value;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        min = 0x80;
        value = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        min = 0x800;
        value = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        min = 0x10000;
        value = c & 0x07;
    } else
        return 0;
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (s[i] & 0x3F);
    }
    if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
        return 0;
    *cp = value;
    return n;
}

/*  Which control characters a text may carry besides none at all. */
typedef enum { S_SINGLE_LINE, S_MULTI_LINE } s_text_mode_t;

/*  Valid UTF-8 and no control characters: C0, DEL and C1 are refused, except
    tab, newline and carriage return in multi-line text. */
static bool s_text_ok(const char *s, size_t len, s_text_mode_t mode)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = s_utf8_decode(p + i, len - i, &cp);
        if (n == 0)
            return false;
        if (cp < 0x20) {
            if (mode == S_SINGLE_LINE)
                return false;
            if (cp != '\t' && cp != '\n' && cp != '\r')
                return false;
        }
        if (cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
            return false;
        i += n;
    }
    return true;
}

bool tb_valid_utf8(const char *s, size_t len)
{
    if (!s)
        return false;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = s_utf8_decode(p + i, len - i, &cp);
        if (n == 0)
            return false;
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F)
            return false;
        i += n;
    }
    return true;
}

/*  Code points in a valid UTF-8 string (continuation bytes not counted). */
static size_t s_u8_count(const char *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        if ((((const unsigned char *)s)[i] & 0xC0) != 0x80)
            count++;
    return count;
}

/*  White space for trimming and collapsing: ASCII white space, NO-BREAK SPACE,
    the U+2000..U+200A spaces, NARROW NBSP, MEDIUM MATHEMATICAL SPACE and
    IDEOGRAPHIC SPACE. */
static bool s_is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/*  Decodes for trimming: an invalid byte counts as one non-space unit. */
static size_t s_next(const char *s, size_t len, uint32_t *cp)
{
    size_t n = s_utf8_decode((const unsigned char *)s, len, cp);
    if (n == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    return n;
}

/*  The [start, end) byte range of `s` without leading and trailing white space. */
static void s_trim_range(const char *s, size_t len, size_t *start, size_t *end)
{
    size_t i = 0, last_end = 0, first = len;
    while (i < len) {
        uint32_t cp;
        size_t n = s_next(s + i, len - i, &cp);
        if (!s_is_space(cp)) {
            if (first == len)
                first = i;
            last_end = i + n;
        }
        i += n;
    }
    if (first == len) {
        *start = *end = 0;
        return;
    }
    *start = first;
    *end = last_end;
}

/*  Code points of `s` with leading and trailing white space ignored (valid UTF-8). */
static size_t s_trimmed_count(const char *s)
{
    size_t start, end;
    s_trim_range(s, strlen(s), &start, &end);
    return s_u8_count(s + start, end - start);
}

/*  Simple lower-case mapping, locale-independent: ASCII, Latin-1, Latin
    Extended-A, Greek and Cyrillic (what the transfer centres' languages use).
    Scripts without case (CJK) are unchanged. */
static uint32_t s_lower(uint32_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c < 0xC0)
        return c;
    if (c <= 0xDE)
        return c == 0xD7 ? c : c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130)
            return 'i';
        if (c == 0x178)
            return 0xFF;
        if ((c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return (c % 2 == 0) ? c + 1 : c;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c % 2 == 1) ? c + 1 : c;
        return c;
    }
    /* Greek */
    if (c == 0x386)
        return 0x3AC;
    if (c >= 0x388 && c <= 0x38A)
        return c + 37;
    if (c == 0x38C)
        return 0x3CC;
    if (c == 0x38E || c == 0x38F)
        return c + 63;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
        return c + 32;
    /* Cyrillic */
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) ||
        (c >= 0x4D0 && c <= 0x52F))
        return (c % 2 == 0) ? c + 1 : c;
    if (c == 0x4C0)
        return 0x4CF;
    if (c >= 0x4C1 && c <= 0x4CE)
        return (c % 2 == 1) ? c + 1 : c;
    return c;
}

static size_t s_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------------ */
/*  Small checks                                                            */

/*  The officially assigned ISO 3166-1 alpha-2 codes (249), sorted. User-assigned
    codes (XK and the like) and reserved ones are not countries here. */
static const char s_countries[] = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZ"
                                  "BABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ"
                                  "CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZ"
                                  "DEDJDKDMDODZ"
                                  "ECEEEGEHERESET"
                                  "FIFJFKFMFOFR"
                                  "GAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGY"
                                  "HKHMHNHRHTHU"
                                  "IDIEILIMINIOIQIRISIT"
                                  "JEJMJOJP"
                                  "KEKGKHKIKMKNKPKRKWKYKZ"
                                  "LALBLCLILKLRLSLTLULVLY"
                                  "MAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZ"
                                  "NANCNENFNGNINLNONPNRNUNZ"
                                  "OM"
                                  "PAPEPFPGPHPKPLPMPNPRPSPTPWPY"
                                  "QA"
                                  "RERORSRURW"
                                  "SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZ"
                                  "TCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZ"
                                  "UAUGUMUSUYUZ"
                                  "VAVCVEVGVIVNVU"
                                  "WFWS"
                                  "YEYT"
                                  "ZAZMZW";

bool tb_valid_country(const char *code)
{
    if (!code || !(code[0] >= 'A' && code[0] <= 'Z') ||
        !(code[1] >= 'A' && code[1] <= 'Z') || code[2] != '\0')
        return false;
    for (size_t i = 0; i + 1 < sizeof s_countries; i += 2)
        if (s_countries[i] == code[0] && s_countries[i + 1] == code[1])
            return true;
    return false;
}

bool tb_valid_org_id(const char *id)
{
    if (!id)
        return false;
    size_t len = strlen(id);
    if (len < 1 || len > TB_ORG_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

static bool s_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*  A practical address check (not all of RFC 5321): one '@'; a local part of
    1..64 characters of atext and dots, no leading, trailing or double dot; a
    domain of at least two dot-separated labels, each 1..63 characters of
    letters, digits and hyphens (not at either end), the last not all digits.
    Non-ASCII (UTF-8) letters are accepted in both parts for internationalised
    addresses. At most 254 characters, no spaces or control characters. */
bool tb_valid_email(const char *email)
{
    if (!email)
        return false;
    size_t len = strlen(email);
    if (len < 3 || len > TB_EMAIL_MAX || !tb_valid_utf8(email, len))
        return false;
    const char *at = strchr(email, '@');
    if (!at || strchr(at + 1, '@'))
        return false;
    size_t local_len = (size_t)(at - email);
    if (local_len < 1 || local_len > 64)
        return false;
    if (email[0] == '.' || email[local_len - 1] == '.')
        return false;
    for (size_t i = 0; i < local_len; i++) {
        unsigned char c = (unsigned char)email[i];
        if (c >= 0x80 || s_is_alnum(c))
            continue;
        if (c == '.') {
            if (email[i + 1] == '.')
                return false;
            continue;
        }
        if (!strchr("!#$%&'*+/=?^_`{|}~-", c))
            return false;
    }
    const char *domain = at + 1;
    size_t labels = 0;
    const char *label = domain;
    for (;;) {
        const char *dot = strchr(label, '.');
        size_t label_len = dot ? (size_t)(dot - label) : strlen(label);
        if (label_len < 1 || label_len > 63)
            return false;
        if (label[0] == '-' || label[label_len - 1] == '-')
            return false;
        bool all_digits = true;
        for (size_t i = 0; i < label_len; i++) {
            unsigned char c = (unsigned char)label[i];
            if (!(c >= 0x80 || s_is_alnum(c) || c == '-'))
                return false;
            if (!(c >= '0' && c <= '9'))
                all_digits = false;
        }
        labels++;
        if (!dot) {
            if (all_digits)
                return false;
            break;
        }
        label = dot + 1;
    }
    return labels >= 2;
}

static bool s_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool tb_valid_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!s_is_hex(s[i]))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/*  Time                                                                    */

static bool s_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int tb_days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && s_leap(year) ? 29 : days[month - 1];
}

int64_t tb_add_months_ms(int64_t t_ms, int months)
{
    int64_t secs = t_ms / 1000, rem = t_ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs -= 1;
    }
    time_t tt = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return t_ms;
    int64_t month_index = (int64_t)tm.tm_year * 12 + tm.tm_mon + months;
    int64_t year = month_index / 12, mon = month_index % 12;
    if (mon < 0) {
        mon += 12;
        year -= 1;
    }
    tm.tm_year = (int)year;
    tm.tm_mon = (int)mon;
    int mdays = tb_days_in_month(year + 1900, (int)mon + 1);
    if (tm.tm_mday > mdays)
        tm.tm_mday = mdays;
    tm.tm_isdst = 0;
    time_t out = timegm(&tm);
    return (int64_t)out * 1000 + rem;
}

/* ------------------------------------------------------------------------ */
/*  Sectors                                                                 */

static const char *const s_default_sector_codes[] = {
    "mechanical_engineering",
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
    "materials",
};

const tb_sectors_t tb_default_sectors = {s_default_sector_codes,
                                         sizeof s_default_sector_codes /
                                             sizeof s_default_sector_codes[0]};

/* ------------------------------------------------------------------------ */
/*  Field rules                                                             */

/*  A text field: valid UTF-8 without control characters, then its length in
    code points within [min, max] (min counted without surrounding white
    space; min 0 makes it optional). Returns true when the text is usable. */
static bool s_check_text(tb_violations_t *out, const char *path, const char *s,
                         size_t min, size_t max, s_text_mode_t mode)
{
    char reason[160];
    if (!s)
        s = "";
    size_t len = strlen(s);
    if (!s_text_ok(s, len, mode)) {
        tb_violations_add(out, path,
                          mode == S_SINGLE_LINE
                              ? "must be valid UTF-8 without control characters"
                              : "must be valid UTF-8 without control characters "
                                "(tab and newline allowed)");
        return false;
    }
    size_t trimmed = s_trimmed_count(s);
    if (min > 0 && trimmed == 0) {
        tb_violations_add(out, path, "is required");
        return false;
    }
    if (trimmed < min) {
        snprintf(reason, sizeof reason, "must be at least %zu characters", min);
        tb_violations_add(out, path, reason);
        return false;
    }
    if (s_u8_count(s, len) > max) {
        snprintf(reason, sizeof reason, "must be at most %zu characters", max);
        tb_violations_add(out, path, reason);
        return false;
    }
    return true;
}

/*  Optional: empty, or one of our language codes. */
static void s_check_language(tb_violations_t *out, const char *field, const char *code)
{
    tb_lang_t lang;
    if (code && *code && tb_lang_parse(code, &lang) != 0)
        tb_violations_add(out, field, "must be one of en, ru, be, zh");
}

static void s_check_org(const Techbridge__Org *org, tb_violations_t *out)
{
    if (!org) {
        tb_violations_add(out, "org", "is required");
        return;
    }
    const char *id = org->id ? org->id : "";
    if (!*id)
        tb_violations_add(out, "org.id", "is required");
    else if (!tb_valid_org_id(id))
        tb_violations_add(out, "org.id", "must be 1..64 characters of [a-z0-9._-]");
    s_check_text(out, "org.name", org->name, 1, TB_NAME_MAX, S_SINGLE_LINE);
    const char *country = org->country ? org->country : "";
    if (!*country)
        tb_violations_add(out, "org.country", "is required");
    else if (!tb_valid_country(country))
        tb_violations_add(out, "org.country", "must be an ISO 3166-1 alpha-2 code");
    s_check_text(out, "org.region", org->region, 0, TB_NAME_MAX, S_SINGLE_LINE);
    s_check_language(out, "org.language", org->language);
}

static void s_check_contact(const Techbridge__Contact *contact, tb_violations_t *out)
{
    if (!contact) {
        tb_violations_add(out, "contact", "is required");
        return;
    }
    s_check_text(out, "contact.name", contact->name, 1, TB_NAME_MAX, S_SINGLE_LINE);
    const char *email = contact->email ? contact->email : "";
    if (!*email)
        tb_violations_add(out, "contact.email", "is required");
    else if (!tb_valid_email(email))
        tb_violations_add(out, "contact.email", "must be a valid e-mail address");
    const char *phone = contact->phone ? contact->phone : "";
    if (*phone) {
        size_t len = strlen(phone);
        bool chars_ok = true, digit = false;
        for (size_t i = 0; i < len; i++) {
            char c = phone[i];
            if (c >= '0' && c <= '9')
                digit = true;
            else if (!strchr(" +-()", c))
                chars_ok = false;
        }
        if (len > TB_PHONE_MAX)
            tb_violations_add(out, "contact.phone", "must be at most 32 characters");
        else if (!chars_ok || !digit)
            tb_violations_add(out, "contact.phone",
                              "must be digits, spaces and + - ( ) only");
    }
}

static bool s_in_sectors(const tb_sectors_t *sectors, const char *code)
{
    for (size_t i = 0; i < sectors->count; i++)
        if (sectors->codes[i] && strcmp(sectors->codes[i], code) == 0)
            return true;
    return false;
}

static void s_check_keywords(const Techbridge__Request *req, tb_violations_t *out)
{
    char reason[160];
    if (req->n_keywords < 1) {
        tb_violations_add(out, "keywords", "at least 1 keyword is required");
        return;
    }
    if (req->n_keywords > TB_KEYWORDS_MAX) {
        snprintf(reason, sizeof reason, "at most %d keywords", TB_KEYWORDS_MAX);
        tb_violations_add(out, "keywords", reason);
        return;
    }
    for (size_t i = 0; i < req->n_keywords; i++) {
        const char *k = req->keywords[i] ? req->keywords[i] : "";
        size_t len = strlen(k);
        if (!s_text_ok(k, len, S_SINGLE_LINE)) {
            s_add_indexed(out, "keywords", i,
                          "must be valid UTF-8 without control characters");
            continue;
        }
        size_t count = s_trimmed_count(k);
        if (count < TB_KEYWORD_MIN || s_u8_count(k, len) > TB_KEYWORD_MAX) {
            snprintf(reason, sizeof reason, "must be %d..%d characters", TB_KEYWORD_MIN,
                     TB_KEYWORD_MAX);
            s_add_indexed(out, "keywords", i, reason);
        }
    }
}

static void s_check_cooperation(const Techbridge__Request *req, tb_violations_t *out)
{
    if (req->n_cooperation < 1) {
        tb_violations_add(out, "cooperation",
                          "at least one form of cooperation is required");
        return;
    }
    if (req->n_cooperation > 7) {
        tb_violations_add(out, "cooperation", "at most 7 forms of cooperation");
        return;
    }
    for (size_t i = 0; i < req->n_cooperation; i++) {
        int c = (int)req->cooperation[i];
        if (c < TECHBRIDGE__COOPERATION__LICENSE ||
            c > TECHBRIDGE__COOPERATION__TRAINING) {
            s_add_indexed(out, "cooperation", i, "unknown form of cooperation");
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if ((int)req->cooperation[j] == c) {
                s_add_indexed(out, "cooperation", i, "duplicate");
                break;
            }
    }
}

static void s_check_ipr(const Techbridge__Request *req, tb_violations_t *out)
{
    int ipr = (int)req->ipr;
    bool known =
        ipr >= TECHBRIDGE__IPR__IPR_UNSPECIFIED && ipr <= TECHBRIDGE__IPR__COPYRIGHT;
    if (!known) {
        tb_violations_add(out, "ipr", "unknown ipr value");
        return;
    }
    if (req->kind == TECHBRIDGE__KIND__OFFER && ipr == TECHBRIDGE__IPR__IPR_UNSPECIFIED)
        tb_violations_add(out, "ipr", "is required for an offer");
    else if (req->kind == TECHBRIDGE__KIND__NEED &&
             ipr != TECHBRIDGE__IPR__IPR_UNSPECIFIED)
        tb_violations_add(out, "ipr", "only offers carry ipr");
}

static void s_check_budget(const Techbridge__Budget *b, tb_violations_t *out)
{
    if (!b)
        return;
    bool ok = true;
    if (b->min && b->min->value < 0) {
        tb_violations_add(out, "budget_usd.min", "must be >= 0");
        ok = false;
    }
    if (b->max && b->max->value < 0) {
        tb_violations_add(out, "budget_usd.max", "must be >= 0");
        ok = false;
    }
    if (ok && b->min && b->max && b->min->value > b->max->value)
        tb_violations_add(out, "budget_usd", "min must be <= max");
}

static void s_check_countries(const Techbridge__Request *req, tb_violations_t *out)
{
    char reason[160];
    if (req->n_target_countries > TB_COUNTRIES_MAX) {
        snprintf(reason, sizeof reason, "at most %d countries", TB_COUNTRIES_MAX);
        tb_violations_add(out, "target_countries", reason);
        return;
    }
    for (size_t i = 0; i < req->n_target_countries; i++) {
        const char *c = req->target_countries[i] ? req->target_countries[i] : "";
        if (!tb_valid_country(c)) {
            s_add_indexed(out, "target_countries", i,
                          "must be an ISO 3166-1 alpha-2 code");
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (req->target_countries[j] && strcmp(req->target_countries[j], c) == 0) {
                s_add_indexed(out, "target_countries", i, "duplicate");
                break;
            }
    }
}

size_t tb_valid_request(const Techbridge__Request *req, const tb_sectors_t *sectors,
                        int64_t now_ms, tb_violations_t *out)
{
    size_t before = out->count + out->dropped;
    if (!req) {
        tb_violations_add(out, "request", "is required");
        return 1;
    }
    if (!sectors)
        sectors = &tb_default_sectors;

    if (req->kind == TECHBRIDGE__KIND__KIND_UNSPECIFIED)
        tb_violations_add(out, "kind", "is required (OFFER or NEED)");
    else if (req->kind != TECHBRIDGE__KIND__OFFER && req->kind != TECHBRIDGE__KIND__NEED)
        tb_violations_add(out, "kind", "must be OFFER or NEED");

    s_check_text(out, "external_ref", req->external_ref, 1, TB_EXTERNAL_REF_MAX,
                 S_SINGLE_LINE);
    s_check_org(req->org, out);
    s_check_contact(req->contact, out);
    s_check_text(out, "title", req->title, TB_TITLE_MIN, TB_TITLE_MAX, S_SINGLE_LINE);
    s_check_text(out, "summary", req->summary, 0, TB_SUMMARY_MAX, S_MULTI_LINE);
    s_check_language(out, "language", req->language);

    const char *sector = req->sector ? req->sector : "";
    if (!*sector)
        tb_violations_add(out, "sector", "is required");
    else if (!s_in_sectors(sectors, sector))
        tb_violations_add(out, "sector", "must be a known sector code");

    s_check_keywords(req, out);

    if (req->trl < 1 || req->trl > 9)
        tb_violations_add(out, "trl", "must be 1..9");

    s_check_cooperation(req, out);
    s_check_ipr(req, out);
    s_check_budget(req->budget_usd, out);
    s_check_countries(req, out);

    if (req->expires_at != 0) {
        if (req->expires_at <= now_ms)
            tb_violations_add(out, "expires_at", "must be in the future");
        else if (req->expires_at > tb_add_months_ms(now_ms, TB_EXPIRY_MAX_MONTHS))
            tb_violations_add(out, "expires_at", "must be at most 24 months ahead");
    }
    return out->count + out->dropped - before;
}

/* ------------------------------------------------------------------------ */
/*  Normalisation                                                           */

/*  Trims `s`, optionally lower-cases it (keywords) or upper-cases ASCII
    (country codes), and collapses internal white space runs into one space
    (keywords). Invalid bytes are copied as they are, for validation to see.
    Returns a malloc'd string or NULL. */
typedef enum { S_TRIM, S_KEYWORD, S_UPPER } s_norm_t;

static char *s_normalise(const char *s, s_norm_t how)
{
    size_t len = strlen(s), start, end;
    s_trim_range(s, len, &start, &end);
    /* Lower-casing within the ranges above never grows a code point's encoding
       beyond 2x; 4x + 1 is a safe bound for any mapping. */
    char *out = malloc((end - start) * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = start;
    bool in_space = false;
    while (i < end) {
        uint32_t cp;
        size_t n = s_utf8_decode((const unsigned char *)s + i, end - i, &cp);
        if (n == 0) {
            out[o++] = s[i++];
            in_space = false;
            continue;
        }
        if (how == S_KEYWORD && s_is_space(cp)) {
            if (!in_space)
                out[o++] = ' ';
            in_space = true;
            i += n;
            continue;
        }
        in_space = false;
        if (how == S_KEYWORD) {
            o += s_utf8_encode(s_lower(cp), out + o);
        } else if (how == S_UPPER && cp >= 'a' && cp <= 'z') {
            out[o++] = (char)(cp - 32);
        } else {
            memcpy(out + o, s + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
    return out;
}

/*  Replaces *field with its normalised form through `dup`. */
static int s_replace(char **field, s_norm_t how, char *(*dup)(void *, const char *),
                     void *ctx)
{
    if (!*field)
        return 0;
    char *norm = s_normalise(*field, how);
    if (!norm)
        return -1;
    if (strcmp(norm, *field) != 0) {
        char *copy = dup(ctx, norm);
        if (!copy) {
            free(norm);
            return -1;
        }
        *field = copy;
    }
    free(norm);
    return 0;
}

int tb_valid_normalise(Techbridge__Request *req, char *(*dup)(void *ctx, const char *s),
                       void *ctx)
{
    if (!req || !dup)
        return 0;
    if (req->org) {
        if (s_replace(&req->org->id, S_TRIM, dup, ctx) ||
            s_replace(&req->org->country, S_UPPER, dup, ctx))
            return -1;
    }
    if (req->contact && s_replace(&req->contact->email, S_TRIM, dup, ctx))
        return -1;
    for (size_t i = 0; i < req->n_target_countries; i++)
        if (s_replace(&req->target_countries[i], S_UPPER, dup, ctx))
            return -1;

    /* Keywords: normalise, drop empty ones and duplicates, keep first order.
       Once more than TB_KEYWORDS_MAX distinct ones are kept the list is too
       long whatever follows, so stop there: a hostile list of thousands of
       keywords costs O(n), not O(n^2), and still fails the count rule. */
    size_t kept = 0;
    for (size_t i = 0; i < req->n_keywords && kept <= TB_KEYWORDS_MAX; i++) {
        if (!req->keywords[i])
            continue;
        if (s_replace(&req->keywords[i], S_KEYWORD, dup, ctx))
            return -1;
        char *k = req->keywords[i];
        if (!*k)
            continue;
        bool seen = false;
        for (size_t j = 0; j < kept && !seen; j++)
            seen = strcmp(req->keywords[j], k) == 0;
        if (!seen)
            req->keywords[kept++] = k;
    }
    req->n_keywords = kept;
    return 0;
}
