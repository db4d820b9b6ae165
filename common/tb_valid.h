/*  tb_valid: the field rules of a request (SPEC section 2), as a pure function
    over the decoded message: no socket, no database. Every violation is reported
    at once, each with its field path. */
#ifndef TB_VALID_H
#define TB_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "techbridge.pb-c.h"

#define TB_MAX_VIOLATIONS 64

typedef struct {
    char field[64];   /* "org.country", "keywords[3]", "budget_usd.min" */
    char reason[160]; /* "must be an ISO 3166-1 alpha-2 code" */
} tb_violation_t;

typedef struct {
    tb_violation_t items[TB_MAX_VIOLATIONS];
    size_t count;
    size_t dropped; /* violations past TB_MAX_VIOLATIONS */
} tb_violations_t;

/*  Adds one violation (truncating long paths or reasons). */
void tb_violations_add(tb_violations_t *v, const char *field, const char *reason);

/*  The limits of SPEC section 2, one place. */
#define TB_ORG_ID_MAX            64
#define TB_EXTERNAL_REF_MAX      100
#define TB_TITLE_MIN             5
#define TB_TITLE_MAX             200
#define TB_SUMMARY_MAX           4000
#define TB_KEYWORDS_MAX          20
#define TB_KEYWORD_MIN           2
#define TB_KEYWORD_MAX           60
#define TB_NAME_MAX              200 /* org.name, org.region, contact.name */
#define TB_EMAIL_MAX             254
#define TB_PHONE_MAX             32
#define TB_COUNTRIES_MAX         50
#define TB_REASON_MAX            1000
#define TB_EXPIRY_DEFAULT_MONTHS 12
#define TB_EXPIRY_MAX_MONTHS     24

/*  The sector codes a submission may use (the reference table's content). */
typedef struct {
    const char *const *codes;
    size_t count;
} tb_sectors_t;

/*  The built-in sector codes of SPEC section 2 (the seed of the reference table). */
extern const tb_sectors_t tb_default_sectors;

/*  Checks a submitted request (kind, external_ref, org, contact, title, summary,
    sector, keywords, trl, cooperation, ipr, budget, target countries, expires_at;
    server-kept fields are ignored). `now_ms` is the time of submission;
    expires_at 0 means "use the default" and is valid. Every string must be valid
    UTF-8 without control characters. Returns the number of violations added. */
size_t tb_valid_request(const Techbridge__Request *req, const tb_sectors_t *sectors,
                        int64_t now_ms, tb_violations_t *out);

/*  Normalises in place what is stored normalised: keywords (trimmed, lower-case,
    deduplicated, order kept), org.country and target_countries upper-case, email
    trimmed. Strings are replaced with `realloc_str` results: pass a function that
    returns storage that lives as long as the message (e.g. an arena strdup).
    Call before tb_valid_request so that the rules see the stored form. Returns 0,
    -1 when out of memory. */
int tb_valid_normalise(Techbridge__Request *req, char *(*dup)(void *ctx, const char *s),
                       void *ctx);

/*  Small checks that other modules reuse. */
bool tb_valid_utf8(const char *s,
                   size_t len);          /* valid UTF-8, no C0 controls but \t\n\r */
bool tb_valid_country(const char *code); /* ISO 3166-1 alpha-2, assigned codes */
bool tb_valid_email(const char *email);
bool tb_valid_org_id(const char *id); /* 1..64 of [a-z0-9._-] */
bool tb_valid_uuid(const char *s);

/*  Months added to a time in ms, calendar-aware (UTC), for expiry defaults and
    limits. */
int64_t tb_add_months_ms(int64_t t_ms, int months);
/*  Days in `month` (1..12) of `year` (Gregorian). */
int tb_days_in_month(int64_t year, int month);

#endif
