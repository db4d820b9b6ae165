/*  matching_store: see matching_store.h. */
#include "matching_store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_log.h"
#include "tb_wire.h"

#define MATCHING_REASONS_MAX (64 * 1024)

#define REQ_COLS                                                                         \
    "r.id, r.kind, r.org_id, r.status, r.sector, coalesce(s.related, '{}'), "            \
    "r.keywords, "                                                                       \
    "r.terms, r.trl, r.cooperation, r.target_countries, r.country, r.org_name, "         \
    "r.org_region, r.contact_name, r.contact_email, r.contact_phone, r.title, "          \
    "r.version, r.concepts, r.phrases, r.language, r.org_language "
#define REQ_FROM "FROM matching_requests r LEFT JOIN sectors s ON s.code = r.sector "

#define MATCH_COLS                                                                       \
    "m.id, m.offer_id, m.need_id, m.score, m.reasons, m.status, m.version, m.reason, "   \
    "(extract(epoch from m.created_at) * 1000)::bigint, "                                \
    "(extract(epoch from m.updated_at) * 1000)::bigint, "                                \
    "o.org_id, o.org_name, o.country, o.org_region, o.contact_name, o.contact_email, "   \
    "o.contact_phone, o.title, "                                                         \
    "n.org_id, n.org_name, n.country, n.org_region, n.contact_name, n.contact_email, "   \
    "n.contact_phone, n.title, o.org_language, n.org_language "
#define MATCH_FROM                                                                       \
    "FROM matching_matches m JOIN matching_requests o ON o.id = m.offer_id "             \
    "JOIN matching_requests n ON n.id = m.need_id "

/*  Candidates of kind KIND (a literal, so that the partial GIN index of that
    kind applies), two bounded, index-driven branches in one round trip:
    text:   for each query term ($3, idf $4) the published requests holding it
            (GIN), grouped: at most $5, best first by an estimate of the score
            ranked as the scorer ranks text: the better of the words' share
            (the idf sum of the query words it holds / the need's word idf
            total) and the concepts' share (likewise), plus sector and TRL fit
            (TRL_BELOW: levels below the need's minimum). The need's totals
            (W, C): the request's own ($9, $10) when it is the need, else the
            candidate's as stored at its last write (migration 008);
    sector: at most $8 of sector $6, by id (btree): only what the feed
            decides, so that a replay matches exactly as the first run did.
    $1 kind (again, for the plan), $2 org of the request, $7 its TRL. */
#define CANDIDATES_SQL(KIND, TRL_BELOW, W, C)                                            \
    "WITH c AS ((SELECT m.id FROM unnest($3::text[], $4::int8[]) AS q(t, w) "            \
    "CROSS JOIN LATERAL (SELECT r.id, r.idf_words, r.idf_concepts, " STRINGIFY_FIT(      \
        TRL_BELOW) " AS fit "                                                            \
                   "FROM matching_requests r WHERE r.status = 2 AND r.kind = " KIND " "  \
                   "AND r.terms @> ARRAY[q.t] AND r.org_id <> $2::text) m "              \
                   "GROUP BY m.id ORDER BY " MATCHING_Q_W_TEXT " * least(1, greatest("   \
                   "coalesce(sum(q.w) FILTER (WHERE left(q.t, 1) <> " CONCEPT_MARK_SQL   \
                   "), 0)::float8 / greatest(1, " W "), "                                \
                   "coalesce(sum(q.w) FILTER (WHERE left(q.t, 1) = " CONCEPT_MARK_SQL    \
                   "), 0)::float8 / greatest(1, " C "))) "                               \
                   "+ max(m.fit) DESC, m.id LIMIT $5::int) "                             \
                   "UNION (SELECT r.id FROM matching_requests r WHERE r.kind = " KIND    \
                   " "                                                                   \
                   "AND r.status = 2 AND r.sector = $6::text AND r.org_id <> $2::text "  \
                   "AND $1::int = " KIND " ORDER BY r.id LIMIT $8::int)) "               \
                   "SELECT " REQ_COLS "FROM c JOIN matching_requests r ON r.id = c.id "  \
                   "LEFT JOIN sectors s ON s.code = r.sector ORDER BY r.id"
#define CONCEPT_MARK_SQL "'#'"
_Static_assert(MATCHING_CONCEPT_MARK == '#', "CONCEPT_MARK_SQL is the concept mark");
#define STRINGIFY_FIT(TRL_BELOW)                                                         \
    MATCHING_Q_W_SECTOR " * (r.sector = $6::text)::int + " MATCHING_Q_W_TRL              \
                        " * greatest(0, 1 - " MATCHING_Q_TRL_STEP " * " TRL_BELOW ")"

typedef enum {
    Q_UPSERT,
    Q_LOAD,
    Q_CANDIDATES_OFFERS,
    Q_CANDIDATES_NEEDS,
    Q_NAIVE,
    Q_DF,
    Q_PAIRS,
    Q_INSERT,
    Q_RESCORE,
    Q_STATUS,
    Q_MATCH,
    Q_MATCH_LOCK,
    Q_MATCHES_OF,
    Q_ORG,
    Q_COUNT
} s_query_t;

static const struct {
    const char *name;
    const char *sql;
} s_q[Q_COUNT] = {
    /*  One statement per request event (it used to be up to six round trips):
        lock and read the stored row (old), skip a stale event (fresh), upsert,
        move the document frequencies by the net change of the published terms
        (a term in both the old and the new published text is untouched; the
        terms of the two sides are disjoint, so no term row is modified twice),
        move the published count, and return the stored row. A published row
        also gets the idf totals retrieval ranks it by as a candidate need
        (migration 008; as of the df before this statement): only published
        rows are candidates, so others skip the 2 x its terms look-ups.
        Data-modifying WITH parts run once and to completion whatever the outer
        SELECT reads. Parameters: see matching_store_upsert. */
    [Q_UPSERT] =
        {"matching_upsert",
         "WITH old AS (SELECT status, version, terms "
         "FROM matching_requests WHERE id = $1::uuid FOR UPDATE), "
         "fresh AS (SELECT NOT EXISTS (SELECT 1 FROM old WHERE old.version > "
         "$18::bigint) "
         "AS ok), "

         "up AS (INSERT INTO matching_requests (id, kind, org_id, status, sector, "
         "keywords, "
         "trl, cooperation, target_countries, country, org_name, org_region, "
         "contact_name, "
         "contact_email, contact_phone, title, summary, terms, version, updated_at, "
         "language, org_language, concepts, phrases, idf_words, idf_concepts) "
         "SELECT $1::uuid, $2::int, $3::text, $4::int, $5::text, $6::text[], $7::int, "
         "$8::int[], $9::text[], $10::text, $11::text, $12::text, $13::text, $14::text, "
         "$15::text, $16::text, $17::text, $19::text[], $18::bigint, "
         "now(), $20::text, $21::text, $22::text[], $23::text[], "
         "CASE WHEN $4::int = 2 THEN matching_idf_total($19::text[], false) ELSE 0 END, "
         "CASE WHEN $4::int = 2 THEN matching_idf_total($19::text[], true) ELSE 0 END "
         "FROM fresh WHERE "
         "fresh.ok "
         "ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, org_id = EXCLUDED.org_id, "
         "status = EXCLUDED.status, sector = EXCLUDED.sector, keywords = "
         "EXCLUDED.keywords, "
         "trl = EXCLUDED.trl, cooperation = EXCLUDED.cooperation, "
         "target_countries = EXCLUDED.target_countries, country = EXCLUDED.country, "
         "org_name = EXCLUDED.org_name, org_region = EXCLUDED.org_region, "
         "contact_name = EXCLUDED.contact_name, contact_email = EXCLUDED.contact_email, "
         "contact_phone = EXCLUDED.contact_phone, title = EXCLUDED.title, "
         "summary = EXCLUDED.summary, terms = EXCLUDED.terms, "
         "language = EXCLUDED.language, org_language = EXCLUDED.org_language, "
         "concepts = EXCLUDED.concepts, phrases = EXCLUDED.phrases, "
         "idf_words = EXCLUDED.idf_words, idf_concepts = EXCLUDED.idf_concepts, "
         "version = EXCLUDED.version, updated_at = now() RETURNING *), "
         "d AS (SELECT term, sum(delta) AS delta FROM ("
         "SELECT DISTINCT unnest(o.terms) AS term, -1 AS delta FROM old o, fresh f "
         "WHERE f.ok AND o.status = 2 "
         "UNION ALL SELECT DISTINCT unnest(u.terms), 1 FROM up u WHERE u.status = 2) x "
         "GROUP BY term HAVING sum(delta) <> 0), "
         "df_down AS (UPDATE matching_terms t SET df = t.df - 1 FROM d "
         "WHERE d.delta < 0 AND t.term = d.term AND t.df > 0), "
         "df_up AS (INSERT INTO matching_terms (term, df) SELECT term, 1 FROM d "
         "WHERE d.delta > 0 ON CONFLICT (term) DO UPDATE SET df = matching_terms.df + "
         "1), "
         "corpus AS (UPDATE matching_corpus SET published = greatest(0, published + c.n) "
         "FROM (SELECT (SELECT count(*) FROM up WHERE status = 2) - "
         "(SELECT count(*) FROM old, fresh WHERE fresh.ok AND old.status = 2) AS n) c "
         "WHERE c.n <> 0) "
         "SELECT o.status, f.ok, " REQ_COLS "FROM fresh f LEFT JOIN old o ON true "
         "LEFT JOIN up r ON true LEFT JOIN sectors s ON s.code = r.sector"},
    [Q_LOAD] = {"matching_load", "SELECT " REQ_COLS REQ_FROM
                                 "WHERE r.id = ANY ($1::uuid[]) ORDER BY r.id"},
    [Q_CANDIDATES_OFFERS] = {"matching_candidates_offers",
                             CANDIDATES_SQL("1", "greatest(0, $7::int - r.trl)",
                                            "$9::int8", "$10::int8")},
    [Q_CANDIDATES_NEEDS] = {"matching_candidates_needs",
                            CANDIDATES_SQL("2", "greatest(0, r.trl - $7::int)",
                                           "max(m.idf_words)", "max(m.idf_concepts)")},
    [Q_NAIVE] = {"matching_naive",
                 "SELECT " REQ_COLS REQ_FROM
                 "WHERE r.status = 2 AND r.kind = $1::int AND r.org_id <> $2::text"},
    /*  The df of the terms and, in the row with a NULL term, N: one round trip. */
    [Q_DF] = {"matching_df",
              "SELECT term, df FROM matching_terms WHERE term = ANY ($1::text[]) "
              "UNION ALL SELECT NULL, published FROM matching_corpus"},
    /*  Two single-column lookups rather than one OR: the apply transaction
        keeps a generic plan, and the one made for the OR while the table was
        young (a fresh database) was a sequential scan, kept until autovacuum's
        first ANALYZE (0.37 ms at 5k matches instead of 0.02 ms); an equality
        on an indexed column gets its index at any size. A request is the
        offer or the need of a match, never both, so no row comes twice. */
    [Q_PAIRS] = {"matching_pairs",
                 "WITH o AS (SELECT id, offer_id, need_id, score, status, version "
                 "FROM matching_matches WHERE offer_id = $1::uuid FOR UPDATE), "
                 "n AS (SELECT id, offer_id, need_id, score, status, version "
                 "FROM matching_matches WHERE need_id = $1::uuid FOR UPDATE) "
                 "SELECT * FROM o UNION ALL SELECT * FROM n ORDER BY id"},
    /*  Returns what a read-back (MATCH_COLS) would give of the new row itself. */
    [Q_INSERT] =
        {"matching_insert",
         "INSERT INTO matching_matches (offer_id, need_id, score, reasons, status) "
         "VALUES ($1::uuid, $2::uuid, $3::float8, $4::bytea, 1) RETURNING id, score, "
         "status, version, reason, (extract(epoch from created_at) * 1000)::bigint, "
         "(extract(epoch from updated_at) * 1000)::bigint"},
    [Q_RESCORE] = {"matching_rescore",
                   "UPDATE matching_matches SET score = $2::float8, reasons = $3::bytea, "
                   "status = $4::int, version = version + 1, updated_at = now() "
                   "WHERE id = $1::uuid"},
    [Q_STATUS] = {"matching_status",
                  "UPDATE matching_matches SET status = $2::int, "
                  "reason = coalesce($3::text, reason), version = version + 1, "
                  "updated_at = now() WHERE id = $1::uuid"},
    [Q_MATCH] = {"matching_match",
                 "SELECT " MATCH_COLS MATCH_FROM "WHERE m.id = $1::uuid"},
    [Q_MATCH_LOCK] = {"matching_match_lock", "SELECT " MATCH_COLS MATCH_FROM
                                             "WHERE m.id = $1::uuid FOR UPDATE OF m"},
    [Q_MATCHES_OF] = {"matching_matches_of",
                      "SELECT " MATCH_COLS MATCH_FROM
                      "WHERE m.offer_id = $1::uuid OR m.need_id = $1::uuid "
                      "ORDER BY m.score DESC, m.id LIMIT $2::int"},
    [Q_ORG] = {"matching_org",
               "SELECT org_id FROM matching_requests WHERE id = $1::uuid"},
};

static PGresult *s_exec(tb_db_t *db, s_query_t q, int n, const char *const *values)
{
    if (tb_db_prepare(db, s_q[q].name, s_q[q].sql) == 0)
        return tb_db_exec(db, s_q[q].name, n, values);
    return tb_db_query(db, s_q[q].sql, n, values);
}

/* ---- text helpers ---- */

/*  A PostgreSQL array literal of strings: {"a","b\"c"}. */
static char *s_array_literal(tb_arena_t *arena, const char *const *v, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(v[i] ? v[i] : "") + 3;
    char *out = tb_arena_alloc(arena, cap);
    if (!out)
        return NULL;
    char *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *s = v[i] ? v[i] : ""; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

static char *s_int_array_literal(tb_arena_t *arena, const int *v, size_t n)
{
    char *out = tb_arena_alloc(arena, 3 + n * 12);
    if (!out)
        return NULL;
    char *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%d", i ? "," : "", v[i]);
    *p++ = '}';
    *p = '\0';
    return out;
}

/*  Parses a one-dimensional array's text output ({a,"b c",NULL}) into arena
    strings; NULL elements are left out. Returns 0 or -1. */
static int s_parse_array(tb_arena_t *arena, const char *text, char ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    size_t len = strlen(text);
    if (len < 2 || text[0] != '{' || text[len - 1] != '}')
        return -1;
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] == ',')
            cap++;
    char **v = tb_arena_alloc(arena, sizeof *v * cap);
    char *buf = tb_arena_alloc(arena, len + 1);
    if (!v || !buf)
        return -1;
    size_t n = 0;
    const char *p = text + 1, *end = text + len - 1;
    while (p < end) {
        char *start = buf;
        bool quoted = false;
        if (*p == '"') {
            quoted = true;
            p++;
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end)
                    p++;
                *buf++ = *p++;
            }
            if (p >= end)
                return -1;
            p++; /* closing quote */
        } else {
            while (p < end && *p != ',')
                *buf++ = *p++;
        }
        *buf++ = '\0';
        if (quoted || strcmp(start, "NULL") != 0)
            v[n++] = start;
        if (p < end && *p == ',')
            p++;
    }
    *out = v;
    *n_out = n;
    return 0;
}

static int s_parse_int_array(tb_arena_t *arena, const char *text, int **out,
                             size_t *n_out)
{
    char **s = NULL;
    size_t n = 0;
    if (s_parse_array(arena, text, &s, &n) < 0)
        return -1;
    int *v = tb_arena_alloc(arena, sizeof *v * (n ? n : 1));
    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++)
        v[i] = atoi(s[i]);
    *out = v;
    *n_out = n;
    return 0;
}

static char *s_hex(tb_arena_t *arena, const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = tb_arena_alloc(arena, 2 * len + 3);
    if (!out)
        return NULL;
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        out[2 + 2 * i] = digits[data[i] >> 4];
        out[3 + 2 * i] = digits[data[i] & 15];
    }
    out[2 + 2 * len] = '\0';
    return out;
}

static char *s_str(tb_arena_t *arena, const char *s)
{
    return tb_arena_strdup(arena, s ? s : "");
}

/* ---- requests ---- */

void matching_req_side(const matching_req_t *r, matching_side_t *side)
{
    memset(side, 0, sizeof *side);
    side->id = r->id;
    side->org_id = r->org_id;
    side->country = r->country;
    side->sector = r->sector;
    side->sector_related = (const char *const *)r->related;
    side->n_sector_related = r->n_related;
    side->terms = (const char *const *)r->terms;
    side->n_terms = r->n_terms;
    side->concepts = (const char *const *)r->concepts;
    side->phrases = (const char *const *)r->phrases;
    side->n_concepts = r->n_concepts < r->n_phrases ? r->n_concepts : r->n_phrases;
    side->trl = r->trl;
    side->cooperation = r->cooperation;
    side->n_cooperation = r->n_cooperation;
    side->target_countries = (const char *const *)r->target_countries;
    side->n_target_countries = r->n_target_countries;
}

/*  Decodes REQ_COLS of row i, starting at column c. */
static int s_req_row(tb_arena_t *arena, PGresult *res, int i, int c, matching_req_t *r)
{
    memset(r, 0, sizeof *r);
    r->id = s_str(arena, PQgetvalue(res, i, c++));
    r->kind = atoi(PQgetvalue(res, i, c++));
    r->org_id = s_str(arena, PQgetvalue(res, i, c++));
    r->status = atoi(PQgetvalue(res, i, c++));
    r->sector = s_str(arena, PQgetvalue(res, i, c++));
    if (s_parse_array(arena, PQgetvalue(res, i, c++), &r->related, &r->n_related) < 0 ||
        s_parse_array(arena, PQgetvalue(res, i, c++), &r->keywords, &r->n_keywords) < 0 ||
        s_parse_array(arena, PQgetvalue(res, i, c++), &r->terms, &r->n_terms) < 0)
        return -1;
    r->trl = atoi(PQgetvalue(res, i, c++));
    if (s_parse_int_array(arena, PQgetvalue(res, i, c++), &r->cooperation,
                          &r->n_cooperation) < 0 ||
        s_parse_array(arena, PQgetvalue(res, i, c++), &r->target_countries,
                      &r->n_target_countries) < 0)
        return -1;
    r->country = s_str(arena, PQgetvalue(res, i, c++));
    r->org_name = s_str(arena, PQgetvalue(res, i, c++));
    r->org_region = s_str(arena, PQgetvalue(res, i, c++));
    r->contact_name = s_str(arena, PQgetvalue(res, i, c++));
    r->contact_email = s_str(arena, PQgetvalue(res, i, c++));
    r->contact_phone = s_str(arena, PQgetvalue(res, i, c++));
    r->title = s_str(arena, PQgetvalue(res, i, c++));
    r->version = strtoll(PQgetvalue(res, i, c++), NULL, 10);
    if (s_parse_array(arena, PQgetvalue(res, i, c++), &r->concepts, &r->n_concepts) < 0 ||
        s_parse_array(arena, PQgetvalue(res, i, c++), &r->phrases, &r->n_phrases) < 0)
        return -1;
    r->language = s_str(arena, PQgetvalue(res, i, c++));
    r->org_language = s_str(arena, PQgetvalue(res, i, c++));
    return r->id && r->org_id && r->title ? 0 : -1;
}

static int s_req_rows(tb_arena_t *arena, PGresult *res, matching_req_t **out,
                      size_t *n_out)
{
    int rows = PQntuples(res);
    matching_req_t *v = tb_arena_alloc(arena, sizeof *v * (size_t)(rows ? rows : 1));
    if (!v)
        return -1;
    for (int i = 0; i < rows; i++)
        if (s_req_row(arena, res, i, 0, &v[i]) < 0)
            return -1;
    *out = v;
    *n_out = (size_t)rows;
    return 0;
}

int matching_store_upsert(tb_db_t *db, tb_arena_t *arena, const Techbridge__Request *r,
                          const matching_text_t *text, int *old_status, bool *stale,
                          matching_req_t **row)
{
    *old_status = 0;
    *stale = false;
    *row = NULL;
    char version_s[24], kind_s[16], status_s[16], trl_s[16];
    snprintf(version_s, sizeof version_s, "%lld", (long long)r->version);
    snprintf(kind_s, sizeof kind_s, "%d", (int)r->kind);
    snprintf(status_s, sizeof status_s, "%d", (int)r->status);
    snprintf(trl_s, sizeof trl_s, "%d", (int)r->trl);
    int coop[16];
    size_t n_coop = r->n_cooperation < 16 ? r->n_cooperation : 16;
    for (size_t i = 0; i < n_coop; i++)
        coop[i] = (int)r->cooperation[i];
    const Techbridge__Org *org = r->org;
    const Techbridge__Contact *ct = r->contact;
    const char *p[] = {
        r->id,
        kind_s,
        org ? org->id : "",
        status_s,
        r->sector,
        s_array_literal(arena, (const char *const *)r->keywords, r->n_keywords),
        trl_s,
        s_int_array_literal(arena, coop, n_coop),
        s_array_literal(arena, (const char *const *)r->target_countries,
                        r->n_target_countries),
        org ? org->country : "",
        org ? org->name : "",
        org ? org->region : "",
        ct ? ct->name : "",
        ct ? ct->email : "",
        ct ? ct->phone : "",
        r->title,
        r->summary,
        version_s,
        text->terms,
        text->language,
        org && org->language ? org->language : "",
        text->concepts,
        text->phrases,
    };
    if (!p[5] || !p[7] || !p[8])
        return -1;
    PGresult *res = s_exec(db, Q_UPSERT, 23, p);
    if (!res)
        return -1;
    int rc = -1;
    if (PQntuples(res) != 1)
        goto done;
    if (!PQgetisnull(res, 0, 0))
        *old_status = atoi(PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        *stale = true;
        rc = 0;
        goto done;
    }
    matching_req_t *v = tb_arena_alloc(arena, sizeof *v);
    if (!v || PQgetisnull(res, 0, 2) || s_req_row(arena, res, 0, 2, v) < 0)
        goto done;
    *row = v;
    rc = 0;
done:
    PQclear(res);
    return rc;
}

int matching_store_load(tb_db_t *db, tb_arena_t *arena, const char *const *ids,
                        size_t n_ids, matching_req_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n_ids == 0)
        return 0;
    const char *p[] = {s_array_literal(arena, ids, n_ids)};
    if (!p[0])
        return -1;
    PGresult *res = s_exec(db, Q_LOAD, 1, p);
    if (!res)
        return -1;
    int rc = s_req_rows(arena, res, out, n_out);
    PQclear(res);
    return rc;
}

typedef struct {
    const char *term;
    long df;
} s_term_df_t;

static int s_cmp_rare(const void *a, const void *b)
{
    const s_term_df_t *x = a, *y = b;
    if (x->df != y->df)
        return x->df < y->df ? -1 : 1;
    return strcmp(x->term, y->term);
}

/*  idf in millionths, as an integer: retrieval sums these in SQL, and an integer
    sum does not depend on the order the plan adds in (a float sum does, and a
    different order could flip near ties at the LIMIT: replaying the feed must
    give the same matches). */
static long long s_micro(double idf)
{
    return llround(idf * 1e6);
}

/*  The query terms of r: its rarest terms (lowest df first), at most
    MATCHING_QUERY_TERMS, and no more once their df add up to
    MATCHING_QUERY_DF_BUDGET, as two array literals: the terms and their idf in millionths
   (s_micro); total_idf[0] and [1] are the idf sums of all of r's words and of all
    its concepts. Terms only r holds (df <= 1 for a published r) find nothing and
    are left out. */
static int s_query_terms(tb_arena_t *arena, const matching_req_t *r,
                         const matching_dfmap_t *dfmap, char **terms_out,
                         char **weights_out, long long total_idf[2])
{
    s_term_df_t *v = tb_arena_alloc(arena, sizeof *v * (r->n_terms ? r->n_terms : 1));
    size_t max = MATCHING_QUERY_TERMS + MATCHING_QUERY_CONCEPTS;
    const char **t = tb_arena_alloc(arena, sizeof *t * max);
    char *w = tb_arena_alloc(arena, 3 + max * 24);
    if (!v || !t || !w)
        return -1;
    total_idf[0] = total_idf[1] = 0;
    long self = r->status == TECHBRIDGE__STATUS__PUBLISHED ? 1 : 0;
    size_t nv = 0;
    for (size_t i = 0; i < r->n_terms; i++) {
        long df = dfmap ? matching_dfmap_lookup(r->terms[i], (void *)dfmap) : 0;
        total_idf[r->terms[i][0] == MATCHING_CONCEPT_MARK] +=
            s_micro(matching_idf(df, dfmap ? dfmap->n_docs : 1));
        if (dfmap && df <= self)
            continue;
        v[nv].term = r->terms[i];
        v[nv++].df = df;
    }
    qsort(v, nv, sizeof *v, s_cmp_rare);
    long n_docs = dfmap ? dfmap->n_docs : 1, budget = 0;
    size_t n = 0;
    char *p = w;
    *p++ = '{';
    /*  Concepts and words each get their own slots and df budget: the rarest
        terms of a request are mostly words of its own language, and a pair in
        two languages shares only concepts (bench_matching: recall of
        cross-language pairs 0.17 when they competed for the same 12 slots). */
    for (int concepts = 1; concepts >= 0; concepts--) {
        size_t lim = concepts ? MATCHING_QUERY_CONCEPTS : MATCHING_QUERY_TERMS, got = 0;
        budget = 0;
        for (size_t i = 0; i < nv && got < lim; i++) {
            if ((v[i].term[0] == MATCHING_CONCEPT_MARK) != concepts ||
                (i > 0 && strcmp(v[i].term, v[i - 1].term) == 0))
                continue;
            if (budget + v[i].df > MATCHING_QUERY_DF_BUDGET)
                break;
            budget += v[i].df;
            t[n] = v[i].term;
            p += sprintf(p, "%s%lld", n ? "," : "",
                         s_micro(matching_idf(v[i].df, n_docs)));
            n++;
            got++;
        }
    }
    *p++ = '}';
    *p = '\0';
    *terms_out = s_array_literal(arena, t, n);
    *weights_out = w;
    return *terms_out ? 0 : -1;
}

int matching_store_candidates(tb_db_t *db, tb_arena_t *arena, const matching_req_t *r,
                              const matching_dfmap_t *dfmap, int limit, bool naive,
                              matching_req_t **out, size_t *n_out)
{
    char kind_s[16], limit_s[16];
    snprintf(kind_s, sizeof kind_s, "%d",
             r->kind == TECHBRIDGE__KIND__OFFER ? TECHBRIDGE__KIND__NEED
                                                : TECHBRIDGE__KIND__OFFER);
    snprintf(limit_s, sizeof limit_s, "%d", limit);
    PGresult *res;
    if (naive) {
        const char *p[] = {kind_s, r->org_id};
        res = s_exec(db, Q_NAIVE, 2, p);
    } else {
        char *terms = NULL, *weights = NULL, sector_limit_s[16], trl_s[16];
        char words_s[32], concepts_s[32];
        long long total[2] = {0, 0};
        if (s_query_terms(arena, r, dfmap, &terms, &weights, total) < 0)
            return -1;
        snprintf(sector_limit_s, sizeof sector_limit_s, "%d", MATCHING_SECTOR_LIMIT);
        snprintf(trl_s, sizeof trl_s, "%d", r->trl);
        snprintf(words_s, sizeof words_s, "%lld", total[0] > 0 ? total[0] : 1LL);
        snprintf(concepts_s, sizeof concepts_s, "%lld", total[1] > 0 ? total[1] : 1LL);
        /*  An offer's candidates are needs, whose own totals are stored: the
            offer's ($9, $10) are not sent. */
        bool offer = r->kind == TECHBRIDGE__KIND__OFFER;
        const char *p[] = {kind_s,    r->org_id, terms,          weights, limit_s,
                           r->sector, trl_s,     sector_limit_s, words_s, concepts_s};
        res = s_exec(db, offer ? Q_CANDIDATES_NEEDS : Q_CANDIDATES_OFFERS, offer ? 8 : 10,
                     p);
    }
    if (!res)
        return -1;
    int rc = s_req_rows(arena, res, out, n_out);
    PQclear(res);
    return rc;
}

static int s_cmp_term(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

long matching_dfmap_lookup(const char *term, void *arg)
{
    const matching_dfmap_t *map = arg;
    size_t lo = 0, hi = map->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(map->terms[mid], term);
        if (c == 0)
            return map->df[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int matching_store_dfmap(tb_db_t *db, tb_arena_t *arena,
                         const matching_req_t *const *reqs, size_t n_reqs,
                         matching_dfmap_t *map)
{
    memset(map, 0, sizeof *map);
    size_t total = 0;
    for (size_t i = 0; i < n_reqs; i++)
        total += reqs[i]->n_terms;
    const char **all = tb_arena_alloc(arena, sizeof *all * (total ? total : 1));
    if (!all)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < n_reqs; i++)
        for (size_t k = 0; k < reqs[i]->n_terms; k++)
            all[n++] = reqs[i]->terms[k];
    qsort(all, n, sizeof *all, s_cmp_term);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(all[u - 1], all[i]) != 0)
            all[u++] = all[i];
    map->terms = all;
    map->n = u;
    map->df = tb_arena_alloc(arena, sizeof *map->df * (u ? u : 1));
    if (!map->df)
        return -1;
    const char *p[] = {s_array_literal(arena, all, u)};
    PGresult *res;
    if (!p[0] || !(res = s_exec(db, Q_DF, 1, p)))
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 0)) {
            map->n_docs = atol(PQgetvalue(res, i, 1));
            continue;
        }
        const char *t = PQgetvalue(res, i, 0);
        const char **hit = bsearch(&t, all, u, sizeof *all, s_cmp_term);
        if (hit)
            map->df[hit - all] = atol(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return 0;
}

/* ---- matches ---- */

int matching_store_pairs(tb_db_t *db, tb_arena_t *arena, const char *request_id,
                         matching_pair_t **out, size_t *n_out)
{
    const char *p[] = {request_id};
    PGresult *res = s_exec(db, Q_PAIRS, 1, p);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    matching_pair_t *v = tb_arena_alloc(arena, sizeof *v * (size_t)(rows ? rows : 1));
    if (!v) {
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < rows; i++) {
        v[i].id = s_str(arena, PQgetvalue(res, i, 0));
        v[i].offer_id = s_str(arena, PQgetvalue(res, i, 1));
        v[i].need_id = s_str(arena, PQgetvalue(res, i, 2));
        v[i].score = strtod(PQgetvalue(res, i, 3), NULL);
        v[i].status = atoi(PQgetvalue(res, i, 4));
        v[i].version = strtoll(PQgetvalue(res, i, 5), NULL, 10);
    }
    PQclear(res);
    *out = v;
    *n_out = (size_t)rows;
    return 0;
}

/*  The shared concepts of a reason, without labels: those are the reader's
    language, set when a match is read (matching_core). */
static int s_shared_concepts(tb_arena_t *arena, const matching_reason_t *r,
                             Techbridge__ScoreReason *sr)
{
    sr->shared_concepts = tb_arena_alloc(arena, sizeof(void *) * r->n_concepts);
    if (!sr->shared_concepts)
        return -1;
    for (size_t k = 0; k < r->n_concepts; k++) {
        Techbridge__SharedConcept *c = TB_PB_NEW(arena, Techbridge__SharedConcept,
                                                 techbridge__shared_concept__descriptor);
        if (!c)
            return -1;
        c->id = s_str(arena, r->concepts[k]);
        c->need_text = s_str(arena, r->need_text[k]);
        c->offer_text = s_str(arena, r->offer_text[k]);
        if (!c->id || !c->need_text || !c->offer_text)
            return -1;
        sr->shared_concepts[k] = c;
    }
    sr->n_shared_concepts = r->n_concepts;
    return 0;
}

Techbridge__ScoreReason **matching_reasons_pb(tb_arena_t *arena,
                                              const matching_result_t *res, size_t *n)
{
    Techbridge__ScoreReason **v = tb_arena_alloc(arena, sizeof *v * MATCHING_COMPONENTS);
    if (!v)
        return NULL;
    for (size_t i = 0; i < res->n_reasons; i++) {
        const matching_reason_t *r = &res->reasons[i];
        Techbridge__ScoreReason *sr = TB_PB_NEW(arena, Techbridge__ScoreReason,
                                                techbridge__score_reason__descriptor);
        if (!sr)
            return NULL;
        sr->component = s_str(arena, r->component);
        sr->weight = r->weight;
        sr->value = r->value;
        sr->contribution = r->contribution;
        sr->detail = s_str(arena, r->detail);
        if (r->n_shared) {
            sr->shared_terms = tb_arena_alloc(arena, sizeof(char *) * r->n_shared);
            if (!sr->shared_terms)
                return NULL;
            for (size_t k = 0; k < r->n_shared; k++)
                sr->shared_terms[k] = s_str(arena, r->shared[k]);
            sr->n_shared_terms = r->n_shared;
        }
        if (r->n_concepts && s_shared_concepts(arena, r, sr) != 0)
            return NULL;
        v[i] = sr;
    }
    *n = res->n_reasons;
    return v;
}

/*  `m`, a Match whose only field set is `reasons`, packed as hex text: how
    the reasons column stores them. */
static char *s_reasons_pack(tb_arena_t *arena, const Techbridge__Match *m)
{
    size_t len = 0;
    uint8_t *packed = tb_wire_pack(arena, &m->base, &len);
    return packed ? s_hex(arena, packed, len) : NULL;
}

/*  The reasons of a result as the reasons column stores them. */
static char *s_reasons_hex(tb_arena_t *arena, const matching_result_t *res)
{
    Techbridge__Match m = TECHBRIDGE__MATCH__INIT;
    m.reasons = matching_reasons_pb(arena, res, &m.n_reasons);
    return m.reasons ? s_reasons_pack(arena, &m) : NULL;
}

/*  A Party with its Org and Contact, all empty; NULL when the arena is full. */
static Techbridge__Party *s_party_new(tb_arena_t *arena)
{
    Techbridge__Party *p =
        TB_PB_NEW(arena, Techbridge__Party, techbridge__party__descriptor);
    Techbridge__Org *org = TB_PB_NEW(arena, Techbridge__Org, techbridge__org__descriptor);
    Techbridge__Contact *ct =
        TB_PB_NEW(arena, Techbridge__Contact, techbridge__contact__descriptor);
    if (!p || !org || !ct)
        return NULL;
    p->org = org;
    p->contact = ct;
    return p;
}

/*  The party of a stored request, as s_party reads it from a match row. */
static Techbridge__Party *s_party_of(tb_arena_t *arena, const matching_req_t *r)
{
    Techbridge__Party *p = s_party_new(arena);
    if (!p)
        return NULL;
    p->request_id = r->id;
    p->org->id = r->org_id;
    p->org->name = r->org_name;
    p->org->country = r->country;
    p->org->region = r->org_region;
    p->contact->name = r->contact_name;
    p->contact->email = r->contact_email;
    p->contact->phone = r->contact_phone;
    p->title = r->title;
    p->org->language = r->org_language;
    return p;
}

int matching_store_propose(tb_db_t *db, tb_arena_t *arena, const matching_req_t *offer,
                           const matching_req_t *need, const matching_result_t *res,
                           Techbridge__Match **out)
{
    *out = NULL;
    char score_s[32];
    snprintf(score_s, sizeof score_s, "%.4f", res->score);
    Techbridge__Match *m =
        TB_PB_NEW(arena, Techbridge__Match, techbridge__match__descriptor);
    if (!m)
        return -1;
    m->reasons = matching_reasons_pb(arena, res, &m->n_reasons);
    const char *p[] = {offer->id, need->id, score_s,
                       m->reasons ? s_reasons_pack(arena, m) : NULL};
    if (!p[3])
        return -1;
    PGresult *r = s_exec(db, Q_INSERT, 4, p);
    if (!r)
        return -1;
    int rc = -1;
    if (PQntuples(r) == 1) {
        m->id = s_str(arena, PQgetvalue(r, 0, 0));
        m->offer_id = offer->id;
        m->need_id = need->id;
        m->score = strtod(PQgetvalue(r, 0, 1), NULL);
        m->status = (Techbridge__MatchStatus)atoi(PQgetvalue(r, 0, 2));
        m->version = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        m->reason = s_str(arena, PQgetvalue(r, 0, 4));
        m->created_at = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
        m->updated_at = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
        m->offer = s_party_of(arena, offer);
        m->need = s_party_of(arena, need);
        if (m->id && m->offer && m->need) {
            *out = m;
            rc = 0;
        }
    }
    PQclear(r);
    return rc;
}

int matching_store_rescore(tb_db_t *db, const char *id, const matching_result_t *res,
                           int status)
{
    tb_arena_t *arena = tb_arena_new(0);
    if (!arena)
        return -1;
    char score_s[32], status_s[16];
    snprintf(score_s, sizeof score_s, "%.4f", res->score);
    snprintf(status_s, sizeof status_s, "%d", status);
    const char *p[] = {id, score_s, s_reasons_hex(arena, res), status_s};
    int rc = -1;
    PGresult *r = p[2] ? s_exec(db, Q_RESCORE, 4, p) : NULL;
    if (r) {
        rc = 0;
        PQclear(r);
    }
    tb_arena_destroy(&arena);
    return rc;
}

int matching_store_set_status(tb_db_t *db, const char *id, int status, const char *reason)
{
    char status_s[16];
    snprintf(status_s, sizeof status_s, "%d", status);
    const char *p[] = {id, status_s, reason};
    PGresult *r = s_exec(db, Q_STATUS, 3, p);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

static Techbridge__Party *s_party(tb_arena_t *arena, PGresult *res, int i, int c,
                                  const char *request_id)
{
    Techbridge__Party *p = s_party_new(arena);
    if (!p)
        return NULL;
    p->request_id = s_str(arena, request_id);
    p->org->id = s_str(arena, PQgetvalue(res, i, c));
    p->org->name = s_str(arena, PQgetvalue(res, i, c + 1));
    p->org->country = s_str(arena, PQgetvalue(res, i, c + 2));
    p->org->region = s_str(arena, PQgetvalue(res, i, c + 3));
    p->contact->name = s_str(arena, PQgetvalue(res, i, c + 4));
    p->contact->email = s_str(arena, PQgetvalue(res, i, c + 5));
    p->contact->phone = s_str(arena, PQgetvalue(res, i, c + 6));
    p->title = s_str(arena, PQgetvalue(res, i, c + 7));
    return p;
}

static Techbridge__Match *s_match_row(tb_arena_t *arena, PGresult *res, int i)
{
    Techbridge__Match *m =
        TB_PB_NEW(arena, Techbridge__Match, techbridge__match__descriptor);
    if (!m)
        return NULL;
    m->id = s_str(arena, PQgetvalue(res, i, 0));
    m->offer_id = s_str(arena, PQgetvalue(res, i, 1));
    m->need_id = s_str(arena, PQgetvalue(res, i, 2));
    m->score = strtod(PQgetvalue(res, i, 3), NULL);
    size_t len = 0;
    uint8_t *data = tb_db_bytea(arena, res, i, 4, MATCHING_REASONS_MAX, &len);
    Techbridge__Match *rm =
        data ? (Techbridge__Match *)tb_wire_unpack(arena, &techbridge__match__descriptor,
                                                   data, len, MATCHING_REASONS_MAX)
             : NULL;
    if (rm) {
        m->reasons = rm->reasons;
        m->n_reasons = rm->n_reasons;
    }
    m->status = (Techbridge__MatchStatus)atoi(PQgetvalue(res, i, 5));
    m->version = strtoll(PQgetvalue(res, i, 6), NULL, 10);
    m->reason = s_str(arena, PQgetvalue(res, i, 7));
    m->created_at = strtoll(PQgetvalue(res, i, 8), NULL, 10);
    m->updated_at = strtoll(PQgetvalue(res, i, 9), NULL, 10);
    m->offer = s_party(arena, res, i, 10, m->offer_id);
    m->need = s_party(arena, res, i, 18, m->need_id);
    if (!m->id || !m->offer || !m->need)
        return NULL;
    m->offer->org->language = s_str(arena, PQgetvalue(res, i, 26));
    m->need->org->language = s_str(arena, PQgetvalue(res, i, 27));
    return m;
}

int matching_store_match(tb_db_t *db, tb_arena_t *arena, const char *id, bool for_update,
                         Techbridge__Match **out, bool *found)
{
    *found = false;
    *out = NULL;
    const char *p[] = {id};
    PGresult *res = s_exec(db, for_update ? Q_MATCH_LOCK : Q_MATCH, 1, p);
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 1) {
        *out = s_match_row(arena, res, 0);
        *found = *out != NULL;
        rc = *out ? 0 : -1;
    }
    PQclear(res);
    return rc;
}

int matching_store_matches_of(tb_db_t *db, tb_arena_t *arena, const char *request_id,
                              int limit, Techbridge__Match ***out, size_t *n_out)
{
    char limit_s[16];
    snprintf(limit_s, sizeof limit_s, "%d", limit);
    const char *p[] = {request_id, limit_s};
    PGresult *res = s_exec(db, Q_MATCHES_OF, 2, p);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    Techbridge__Match **v = tb_arena_alloc(arena, sizeof *v * (size_t)(rows ? rows : 1));
    int rc = v ? 0 : -1;
    for (int i = 0; v && i < rows; i++)
        if (!(v[i] = s_match_row(arena, res, i)))
            rc = -1;
    PQclear(res);
    *out = v;
    *n_out = (size_t)rows;
    return rc;
}

int matching_store_request_org(tb_db_t *db, tb_arena_t *arena, const char *id, char **org,
                               bool *found)
{
    *found = false;
    const char *p[] = {id};
    PGresult *res = s_exec(db, Q_ORG, 1, p);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        *org = s_str(arena, PQgetvalue(res, 0, 0));
        *found = true;
    }
    PQclear(res);
    return 0;
}
