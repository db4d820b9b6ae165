/*  intake_store: the SQL of tb-intake. See intake_store.h. */
#include "intake_store.h"

#include "tb_pgarray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake_core.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_util.h"
#include "tb_wire.h"

/* Times: epoch ms in, timestamptz stored, epoch ms out. */
#define TS(n) "to_timestamp($" #n "::bigint / 1000.0)"
#define MS(c) "(extract(epoch from " c ") * 1000)::bigint"

/* The columns every request read selects, in this order (see s_row). */
/* clang-format off */
#define ROW_COLS                                                                         \
    "id::text, status, version, " MS("created_at") ", " MS("updated_at") ", "            \
    MS("expires_at") ", renewed, expiring_notified, body, fingerprint"
/* clang-format on */

/*  The rows of org ORG other than ID whose title is close to TITLE ("r", its
    similarity "r.sim"), for a WHERE to extend. An organisation has few
    requests, so its own rows, read by the org index, are the cheapest way in
    whatever the statistics say: the OFFSET 0 keeps the planner from pushing
    the status or title conditions into that scan. Without it, a generic plan
    made while the table's statistics were stale (a fresh or just-truncated
    table) ANDed the status index into the scan: every active request read for
    each submission, 2.3 ms at 13k rows instead of 0.07 ms. The similarity is
    computed once per row: pg_trgm's % operator computed it a second time and
    served only to reach the trigram index, which this plan did not use
    (measured: about 110 us less database CPU per lone submission, of the
    check's 240); migration 005 dropped that index. */
/* clang-format off */
#define DUPLICATE_OF(org, id, title)                                                     \
    "(SELECT id, created_at,"                                                            \
    "   CASE WHEN status IN ('SUBMITTED', 'PUBLISHED', 'IN_NEGOTIATION')"                \
    "   THEN similarity(title, " title ") END AS sim"                                    \
    "  FROM intake_requests WHERE org_id = " org " OFFSET 0) r"                          \
    " WHERE r.id <> " id " AND r.sim >= " INTAKE_DUPLICATE_SIMILARITY
/* clang-format on */

typedef struct {
    const char *name;
    const char *sql;
} s_stmt_t;

/* clang-format off */
#define INSERT_BATCH(on_conflict)                                                        \
    "WITH b AS ("                                                                        \
    "  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]," \
    "    $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[],"  \
    "    $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[]," \
    "    $18::text[], $19::text[], $20::bigint[])"                                       \
    "  WITH ORDINALITY AS b(id, kind, org_id, external_ref, status, sector, title,"      \
    "    summary, keywords, version, created_ms, updated_ms, expires_ms, fingerprint,"  \
    "    body, actor, cid, language, terms, analysed, ord)),"                           \
    " ins AS ("                                                                          \
    "  INSERT INTO intake_requests (id, kind, org_id, external_ref, status, sector,"     \
    "    title, summary, keywords, version, created_at, updated_at, expires_at,"        \
    "    fingerprint, body, language, terms, analysed)"                                \
    "  SELECT id, kind, org_id, external_ref, status, sector, title, summary, keywords,"\
    "    version, to_timestamp(created_ms / 1000.0), to_timestamp(updated_ms / 1000.0),"\
    "    to_timestamp(expires_ms / 1000.0), decode(fingerprint, 'hex'),"                \
    "    decode(body, 'hex'), language, terms::text[], analysed"                        \
    "  FROM b ORDER BY ord "                                                             \
    on_conflict " RETURNING id),"                                                        \
    " hist AS ("                                                                         \
    "  INSERT INTO intake_history (request_id, at, actor, action, from_status,"          \
    "    to_status, reason, version, correlation_id)"                                    \
    "  SELECT b.id, to_timestamp(b.created_ms / 1000.0), b.actor, 'SUBMIT', '',"         \
    "    b.status, '', b.version, b.cid"                                                 \
    "  FROM b JOIN ins ON ins.id = b.id ORDER BY b.ord"                                  \
    "  RETURNING request_id)"                                                            \
    " SELECT request_id::text FROM hist"
/* clang-format on */

/* clang-format off */
static const s_stmt_t s_stmts[] = {
    {"intake_get",
     "SELECT " ROW_COLS " FROM intake_requests WHERE id = $1::uuid"},
    {"intake_get_lock",
     "SELECT " ROW_COLS " FROM intake_requests WHERE id = $1::uuid FOR UPDATE"},
    {"intake_get_by_ref",
     "SELECT " ROW_COLS " FROM intake_requests WHERE org_id = $1 AND external_ref = $2"},
    {"intake_insert",
     "INSERT INTO intake_requests (id, kind, org_id, external_ref, status, sector, title,"
     "   summary, keywords, version, created_at, updated_at, expires_at, fingerprint, body,"
     "   language, terms, analysed)"
     " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint,"
     "   " TS(11) ", " TS(12) ", " TS(13) ", $14::bytea, $15::bytea, $16, $17::text[],"
     "   $18::bigint)"
     " ON CONFLICT (org_id, external_ref) DO NOTHING RETURNING id"},
    {"intake_duplicate",
     "SELECT r.id::text FROM " DUPLICATE_OF("$1", "$2::uuid", "$3::text")
     " ORDER BY r.sim DESC, r.created_at, r.id LIMIT 1"},
    {"intake_update_content",
     "UPDATE intake_requests SET sector = $3, title = $4, summary = $5, keywords = $6,"
     "   version = version + 1, updated_at = " TS(7) ", expires_at = " TS(8) ","
     "   body = $9::bytea, language = $10, terms = $11::text[], analysed = $12::bigint,"
     "   expiring_notified = expiring_notified AND expires_at = " TS(8) ","
     "   status = $13"
     " WHERE id = $1::uuid AND version = $2::bigint RETURNING version"},
    {"intake_update_status",
     "UPDATE intake_requests SET status = $3, version = version + 1,"
     "   updated_at = " TS(4) ", expires_at = " TS(5) ", renewed = $6::boolean,"
     "   expiring_notified = expiring_notified AND NOT $7::boolean"
     " WHERE id = $1::uuid AND version = $2::bigint RETURNING version"},
    {"intake_set_notified",
     "UPDATE intake_requests SET expiring_notified = true WHERE id = $1::uuid"},
    {"intake_history_add",
     "INSERT INTO intake_history (request_id, at, actor, action, from_status, to_status,"
     "   reason, version, correlation_id)"
     " VALUES ($1::uuid, " TS(2) ", $3, $4, $5, $6, $7, $8::bigint, $9)"},
    {"intake_history",
     "SELECT " MS("at") ", actor, action, from_status, to_status, reason, version,"
     "   correlation_id"
     " FROM intake_history WHERE request_id = $1::uuid ORDER BY at, id"},
    {"intake_list",
     "SELECT " ROW_COLS ", $5::text[] IS NULL OR terms @> $5::text[]"
     " FROM intake_requests"
     " WHERE ($1::text IS NULL OR kind = $1)"
     "   AND ($2::text IS NULL OR status = $2)"
     "   AND ($3::text IS NULL OR sector = $3)"
     "   AND ($4::text IS NULL OR org_id = $4)"
     "   AND ($5::text[] IS NULL OR terms @> $5::text[]"
     "        OR (cardinality($9::text[]) > 0 AND terms @> $9::text[]))"
     "   AND ($6::bigint IS NULL OR (created_at, id) < (" TS(6) ", $7::uuid))"
     " ORDER BY created_at DESC, id DESC LIMIT $8::int"},
    {"intake_claim_expired",
     "SELECT " ROW_COLS " FROM intake_requests"
     " WHERE status = 'PUBLISHED' AND expires_at <= " TS(1)
     " ORDER BY expires_at, id LIMIT $2::int FOR UPDATE SKIP LOCKED"},
    {"intake_claim_expiring",
     "SELECT " ROW_COLS " FROM intake_requests"
     " WHERE status = 'PUBLISHED' AND expires_at > " TS(1) " AND expires_at <= " TS(2)
     "   AND NOT expiring_notified"
     " ORDER BY expires_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED"},
    {"intake_claim_unanalysed",
     "SELECT " ROW_COLS " FROM intake_requests WHERE analysed < $1::bigint"
     " ORDER BY analysed, id LIMIT $2::int FOR UPDATE SKIP LOCKED"},
    {"intake_set_terms",
     "UPDATE intake_requests SET language = $2, terms = $3::text[], analysed = $4::bigint"
     " WHERE id = $1::uuid"},
    {"intake_sectors",
     "SELECT code FROM sectors ORDER BY code"},
    /* For the group commit's transaction only (LOCAL): its statements take
       arrays, whose lengths make the planner keep re-planning them for each
       call (custom plans) when one generic plan serves every group (measured:
       ~15% of the database's CPU per submission at 1 and 4 clients). The
       list query keeps custom plans: its plan depends on which filters are
       set. */
    {"intake_generic_plans", "SELECT " TB_DB_GENERIC_PLANS},
    /* Group commit: arrays in, one row of each array per submission. */
    {"intake_insert_batch", INSERT_BATCH("ON CONFLICT (org_id, external_ref) DO NOTHING")},
    /* The same when every row must go in: a taken (org, external_ref) fails
       the statement (23505), so that the statements after it in a pipeline
       can count on every row. */
    {"intake_insert_batch_all", INSERT_BATCH("")},
    {"intake_duplicate_batch",
     "SELECT d.id FROM unnest($1::text[], $2::uuid[], $3::text[])"
     "   WITH ORDINALITY AS b(org_id, id, title, ord)"
     " LEFT JOIN LATERAL ("
     "  SELECT r.id::text AS id FROM " DUPLICATE_OF("b.org_id", "b.id", "b.title")
     "    AND r.id <> ALL (($2::uuid[])[b.ord + 1:])"
     "  ORDER BY r.sim DESC, r.created_at, r.id LIMIT 1) d ON true"
     " ORDER BY b.ord"},
};
/* clang-format on */

int intake_store_prepare(tb_db_t *db)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof s_stmts / sizeof s_stmts[0]; i++)
        if (tb_db_prepare(db, s_stmts[i].name, s_stmts[i].sql) != 0) {
            tb_error("intake.prepare_failed", NULL, TB_S("statement", s_stmts[i].name),
                     TB_S("error", tb_db_message(db)));
            rc = -1;
        }
    return rc;
}

/* ---- enum names ---- */

static const char *s_enum_text(const ProtobufCEnumDescriptor *desc, int value)
{
    if (value == 0)
        return "";
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, value);
    return v ? v->name : "";
}

static int s_enum_value(const ProtobufCEnumDescriptor *desc, const char *name)
{
    if (!name || !*name)
        return 0;
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value_by_name(desc, name);
    return v ? v->value : 0;
}

const char *intake_status_text(Techbridge__Status s)
{
    return s_enum_text(&techbridge__status__descriptor, (int)s);
}

const char *intake_kind_text(Techbridge__Kind k)
{
    return s_enum_text(&techbridge__kind__descriptor, (int)k);
}

const char *intake_action_text(Techbridge__Action a)
{
    return s_enum_text(&techbridge__action__descriptor, (int)a);
}

/* ---- rows ---- */

static int64_t s_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool s_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

/* A bytea column (text format) into the arena. */
static uint8_t *s_bytea(tb_arena_t *arena, const PGresult *r, int row, int col,
                        size_t *len)
{
    size_t n = 0;
    unsigned char *raw =
        PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    if (!raw)
        return NULL;
    uint8_t *out = tb_arena_alloc(arena, n ? n : 1);
    if (out)
        memcpy(out, raw, n);
    PQfreemem(raw);
    *len = n;
    return out;
}

/* Row `row` of a ROW_COLS result. Returns 0, or -1 when the stored body does
   not decode (logged: a corrupt row or the arena's cap). */
static int s_row(tb_arena_t *arena, const PGresult *r, int row, intake_row_t *out)
{
    size_t len = 0;
    uint8_t *body = s_bytea(arena, r, row, 8, &len);
    Techbridge__Request *req =
        body ? (Techbridge__Request *)tb_wire_unpack(
                   arena, &techbridge__request__descriptor, body, len, INTAKE_BODY_MAX)
             : NULL;
    if (!req) {
        tb_error("intake.row_undecodable", NULL, TB_S("id", PQgetvalue(r, row, 0)),
                 TB_I("body_bytes", len));
        return -1;
    }
    req->id = tb_arena_strdup(arena, PQgetvalue(r, row, 0));
    req->status = (Techbridge__Status)s_enum_value(&techbridge__status__descriptor,
                                                   PQgetvalue(r, row, 1));
    req->version = s_i64(r, row, 2);
    req->created_at = s_i64(r, row, 3);
    req->updated_at = s_i64(r, row, 4);
    req->expires_at = s_i64(r, row, 5);
    req->renewed = s_bool(r, row, 6);
    out->request = req;
    out->expiring_notified = s_bool(r, row, 7);
    out->fingerprint = s_bytea(arena, r, row, 9, &out->fingerprint_len);
    if (!req->id || !out->fingerprint)
        return -1;
    return 0;
}

/* Runs a lookup of one row: 0 found, 1 none, -1 failure. */
static int s_one(tb_db_t *db, tb_arena_t *arena, const char *stmt, int n,
                 const char *const *params, intake_row_t *row)
{
    PGresult *r = tb_db_exec(db, stmt, n, params);
    if (!r)
        return -1;
    int rc = 1;
    if (PQntuples(r) > 0)
        rc = s_row(arena, r, 0, row);
    PQclear(r);
    return rc;
}

/* Every row of a ROW_COLS result into an arena array. */
/*  The requests of a statement's rows; with `flags`, also the boolean of each
    row's last column (arena). */
static int s_many(tb_db_t *db, tb_arena_t *arena, const char *stmt, int n,
                  const char *const *params, Techbridge__Request ***out, bool **flags,
                  size_t *count)
{
    *out = NULL;
    *count = 0;
    PGresult *r = tb_db_exec(db, stmt, n, params);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    Techbridge__Request **list =
        tb_arena_alloc(arena, sizeof *list * (size_t)(rows > 0 ? rows : 1));
    if (!list) {
        PQclear(r);
        return -1;
    }
    bool *f = flags ? tb_arena_alloc(arena, (size_t)(rows > 0 ? rows : 1)) : NULL;
    if (flags && !f) {
        PQclear(r);
        return -1;
    }
    size_t k = 0;
    for (int i = 0; i < rows; i++) {
        intake_row_t row = {0};
        if (s_row(arena, r, i, &row) != 0)
            continue;
        if (f)
            f[k] = PQgetvalue(r, i, PQnfields(r) - 1)[0] == 't';
        list[k++] = row.request;
    }
    PQclear(r);
    if (flags)
        *flags = f;
    *out = list;
    *count = k;
    return 0;
}

int intake_store_get(tb_db_t *db, tb_arena_t *arena, const char *id, bool for_update,
                     intake_row_t *row)
{
    const char *p[] = {id};
    return s_one(db, arena, for_update ? "intake_get_lock" : "intake_get", 1, p, row);
}

int intake_store_get_by_ref(tb_db_t *db, tb_arena_t *arena, const char *org_id,
                            const char *external_ref, intake_row_t *row)
{
    const char *p[] = {org_id, external_ref};
    return s_one(db, arena, "intake_get_by_ref", 2, p, row);
}

/* The keywords of a request, space-separated, for the search column. */
static char *s_keywords(tb_arena_t *arena, const Techbridge__Request *req)
{
    size_t n = 1;
    for (size_t i = 0; i < req->n_keywords; i++)
        n += strlen(req->keywords[i]) + 1;
    char *s = tb_arena_alloc(arena, n);
    if (!s)
        return NULL;
    char *p = s;
    for (size_t i = 0; i < req->n_keywords; i++) {
        size_t l = strlen(req->keywords[i]);
        if (i > 0)
            *p++ = ' ';
        memcpy(p, req->keywords[i], l);
        p += l;
    }
    *p = '\0';
    return s;
}

/* The body stored for a request: its content, packed. */
static uint8_t *s_body(tb_arena_t *arena, const Techbridge__Request *req, size_t *len)
{
    Techbridge__Request *content = intake_request_content(arena, req);
    if (!content)
        return NULL;
    return tb_wire_pack(arena, &content->base, len);
}

int intake_store_insert(tb_db_t *db, tb_arena_t *arena, const Techbridge__Request *req,
                        const intake_text_t *text, const uint8_t *fingerprint,
                        size_t fingerprint_len)
{
    size_t body_len = 0;
    uint8_t *body = s_body(arena, req, &body_len);
    char *keywords = s_keywords(arena, req);
    if (!body || !keywords)
        return -1;
    char version[24], created[24], updated[24], expires[24];
    snprintf(version, sizeof version, "%" PRId64, req->version);
    snprintf(created, sizeof created, "%" PRId64, req->created_at);
    snprintf(updated, sizeof updated, "%" PRId64, req->updated_at);
    snprintf(expires, sizeof expires, "%" PRId64, req->expires_at);
    char analysed[24];
    snprintf(analysed, sizeof analysed, "%" PRId64, text->analysed);
    const char *p[18] = {req->id,
                         intake_kind_text(req->kind),
                         req->org->id,
                         req->external_ref,
                         intake_status_text(req->status),
                         req->sector,
                         req->title,
                         req->summary,
                         keywords,
                         version,
                         created,
                         updated,
                         expires,
                         (const char *)fingerprint,
                         (const char *)body,
                         req->language,
                         text->terms,
                         analysed};
    int lengths[18] = {0};
    int formats[18] = {0};
    lengths[13] = (int)fingerprint_len;
    formats[13] = 1;
    lengths[14] = (int)body_len;
    formats[14] = 1;
    PGresult *r = tb_db_exec_bin(db, "intake_insert", 18, p, lengths, formats);
    if (!r)
        return -1;
    int rc = PQntuples(r) == 1 ? 0 : 1;
    PQclear(r);
    return rc;
}

int intake_store_find_duplicate(tb_db_t *db, tb_arena_t *arena, const char *org_id,
                                const char *id, const char *title, char **dup_id)
{
    *dup_id = "";
    const char *p[] = {org_id, id, title};
    PGresult *r = tb_db_exec(db, "intake_duplicate", 3, p);
    if (!r)
        return -1;
    if (PQntuples(r) > 0)
        *dup_id = tb_arena_strdup(arena, PQgetvalue(r, 0, 0));
    PQclear(r);
    return *dup_id ? 0 : -1;
}

/* 0 when the UPDATE ... RETURNING hit a row, 1 when none, -1 on failure. */
static int s_updated(PGresult *r)
{
    if (!r)
        return -1;
    int rc = PQntuples(r) > 0 ? 0 : 1;
    PQclear(r);
    return rc;
}

int intake_store_update_content(tb_db_t *db, tb_arena_t *arena,
                                const Techbridge__Request *req, const intake_text_t *text,
                                int64_t expected_version)
{
    size_t body_len = 0;
    uint8_t *body = s_body(arena, req, &body_len);
    char *keywords = s_keywords(arena, req);
    if (!body || !keywords)
        return -1;
    char version[24], updated[24], expires[24];
    snprintf(version, sizeof version, "%" PRId64, expected_version);
    snprintf(updated, sizeof updated, "%" PRId64, req->updated_at);
    snprintf(expires, sizeof expires, "%" PRId64, req->expires_at);
    char analysed[24];
    snprintf(analysed, sizeof analysed, "%" PRId64, text->analysed);
    const char *p[13] = {req->id,
                         version,
                         req->sector,
                         req->title,
                         req->summary,
                         keywords,
                         updated,
                         expires,
                         (const char *)body,
                         req->language,
                         text->terms,
                         analysed,
                         intake_status_text(req->status)};
    int lengths[13] = {0};
    int formats[13] = {0};
    lengths[8] = (int)body_len;
    formats[8] = 1;
    return s_updated(
        tb_db_exec_bin(db, "intake_update_content", 13, p, lengths, formats));
}

int intake_store_update_status(tb_db_t *db, const Techbridge__Request *req,
                               int64_t expected_version, bool clear_notified)
{
    char version[24], updated[24], expires[24];
    snprintf(version, sizeof version, "%" PRId64, expected_version);
    snprintf(updated, sizeof updated, "%" PRId64, req->updated_at);
    snprintf(expires, sizeof expires, "%" PRId64, req->expires_at);
    const char *p[7] = {req->id,
                        version,
                        intake_status_text(req->status),
                        updated,
                        expires,
                        req->renewed ? "true" : "false",
                        clear_notified ? "true" : "false"};
    return s_updated(tb_db_exec(db, "intake_update_status", 7, p));
}

int intake_store_set_notified(tb_db_t *db, const char *id)
{
    const char *p[] = {id};
    PGresult *r = tb_db_exec(db, "intake_set_notified", 1, p);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

int intake_store_history_add(tb_db_t *db, const char *request_id,
                             const Techbridge__HistoryEntry *e)
{
    char at[24], version[24];
    snprintf(at, sizeof at, "%" PRId64, e->at);
    snprintf(version, sizeof version, "%" PRId64, e->version);
    const char *p[9] = {request_id,
                        at,
                        e->actor,
                        intake_action_text(e->action),
                        intake_status_text(e->from_status),
                        intake_status_text(e->to_status),
                        e->reason,
                        version,
                        e->correlation_id};
    PGresult *r = tb_db_exec(db, "intake_history_add", 9, p);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

int intake_store_history(tb_db_t *db, tb_arena_t *arena, const char *request_id,
                         Techbridge__HistoryEntry ***entries, size_t *count)
{
    *entries = NULL;
    *count = 0;
    const char *p[] = {request_id};
    PGresult *r = tb_db_exec(db, "intake_history", 1, p);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    Techbridge__HistoryEntry **list =
        tb_arena_alloc(arena, sizeof *list * (size_t)(rows > 0 ? rows : 1));
    int rc = list ? 0 : -1;
    for (int i = 0; rc == 0 && i < rows; i++) {
        Techbridge__HistoryEntry *e = TB_PB_NEW(arena, Techbridge__HistoryEntry,
                                                techbridge__history_entry__descriptor);
        if (!e) {
            rc = -1;
            break;
        }
        e->at = s_i64(r, i, 0);
        e->actor = tb_arena_strdup(arena, PQgetvalue(r, i, 1));
        e->action = (Techbridge__Action)s_enum_value(&techbridge__action__descriptor,
                                                     PQgetvalue(r, i, 2));
        e->from_status = (Techbridge__Status)s_enum_value(&techbridge__status__descriptor,
                                                          PQgetvalue(r, i, 3));
        e->to_status = (Techbridge__Status)s_enum_value(&techbridge__status__descriptor,
                                                        PQgetvalue(r, i, 4));
        e->reason = tb_arena_strdup(arena, PQgetvalue(r, i, 5));
        e->version = s_i64(r, i, 6);
        e->correlation_id = tb_arena_strdup(arena, PQgetvalue(r, i, 7));
        if (!e->actor || !e->reason || !e->correlation_id)
            rc = -1;
        list[i] = e;
    }
    PQclear(r);
    if (rc == 0) {
        *entries = list;
        *count = (size_t)rows;
    }
    return rc;
}

int intake_store_list(tb_db_t *db, tb_arena_t *arena, const intake_filter_t *f,
                      Techbridge__Request ***out, bool **by_words, size_t *count)
{
    char after[24], limit[16];
    snprintf(after, sizeof after, "%" PRId64, f->after_ms);
    snprintf(limit, sizeof limit, "%d", f->limit);
    const char *p[9] = {f->kind,
                        f->status,
                        f->sector,
                        f->org_id,
                        f->words,
                        f->has_after ? after : NULL,
                        f->has_after ? f->after_id : NULL,
                        limit,
                        f->concepts ? f->concepts : "{}"};
    return s_many(db, arena, "intake_list", 9, p, out, by_words, count);
}

int intake_store_claim_expired(tb_db_t *db, tb_arena_t *arena, int64_t now_ms, int limit,
                               Techbridge__Request ***out, size_t *count)
{
    char now[24], lim[16];
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {now, lim};
    return s_many(db, arena, "intake_claim_expired", 2, p, out, NULL, count);
}

int intake_store_claim_expiring(tb_db_t *db, tb_arena_t *arena, int64_t now_ms,
                                int64_t horizon_ms, int limit, Techbridge__Request ***out,
                                size_t *count)
{
    char now[24], horizon[24], lim[16];
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(horizon, sizeof horizon, "%" PRId64, horizon_ms);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {now, horizon, lim};
    return s_many(db, arena, "intake_claim_expiring", 3, p, out, NULL, count);
}

int intake_store_claim_unanalysed(tb_db_t *db, tb_arena_t *arena, int64_t version,
                                  int limit, Techbridge__Request ***out, size_t *count)
{
    char v[24], lim[16];
    snprintf(v, sizeof v, "%" PRId64, version);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {v, lim};
    return s_many(db, arena, "intake_claim_unanalysed", 2, p, out, NULL, count);
}

int intake_store_set_terms(tb_db_t *db, const Techbridge__Request *req,
                           const intake_text_t *text)
{
    char analysed[24];
    snprintf(analysed, sizeof analysed, "%" PRId64, text->analysed);
    const char *p[] = {req->id, req->language, text->terms, analysed};
    PGresult *r = tb_db_exec(db, "intake_set_terms", 4, p);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

int intake_store_load_sectors(tb_db_t *db, char ***codes, size_t *count)
{
    *codes = NULL;
    *count = 0;
    PGresult *r = tb_db_exec(db, "intake_sectors", 0, NULL);
    if (!r)
        return -1;
    int rows = PQntuples(r);
    char **list = calloc((size_t)(rows > 0 ? rows : 1), sizeof *list);
    if (!list) {
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < rows; i++) {
        list[i] = strdup(PQgetvalue(r, i, 0));
        if (!list[i]) {
            intake_store_free_sectors(list, (size_t)i);
            PQclear(r);
            return -1;
        }
    }
    PQclear(r);
    *codes = list;
    *count = (size_t)rows;
    return 0;
}

void intake_store_free_sectors(char **codes, size_t count)
{
    if (!codes)
        return;
    for (size_t i = 0; i < count; i++)
        free(codes[i]);
    free(codes);
}

/* ---- group commit ---- */

/*  The array parameters of the group insert (INSERT_BATCH's $1..$20). */
#define S_INSERT_BATCH_PARAMS 20

/*  Ends the building of array parameters: when rc is 0, p[c] is the literal of
    cols[c] copied into `arena`; the arrays are destroyed either way. Returns
    rc, or -1 when a copy failed. */
static int s_array_params(int rc, tb_pgarray_t **cols, int n, tb_arena_t *arena,
                          const char **p)
{
    for (int c = 0; rc == 0 && c < n; c++)
        if (!(p[c] = tb_pgarray_copy(cols[c], arena)))
            rc = -1;
    for (int c = 0; c < n; c++)
        tb_pgarray_destroy(&cols[c]);
    return rc;
}

/*  The array parameters of the group insert, in `arena`. */
static const char **s_insert_batch_params(tb_arena_t *arena, intake_submission_t *subs,
                                          size_t n)
{
    tb_pgarray_t *cols[S_INSERT_BATCH_PARAMS] = {0};
    tb_arena_t *tmp = tb_arena_new(0);
    const char **p = tb_arena_alloc(arena, S_INSERT_BATCH_PARAMS * sizeof *p);
    int rc = tmp && p ? 0 : -1;
    for (int c = 0; rc == 0 && c < S_INSERT_BATCH_PARAMS; c++)
        if (!(cols[c] = tb_pgarray_new()))
            rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const Techbridge__Request *req = subs[i].req;
        size_t body_len = 0;
        uint8_t *body = s_body(tmp, req, &body_len);
        char *keywords = s_keywords(tmp, req);
        if (!body || !keywords) {
            rc = -1;
            break;
        }
        tb_pgarray_text(cols[0], req->id);
        tb_pgarray_text(cols[1], intake_kind_text(req->kind));
        tb_pgarray_text(cols[2], req->org->id);
        tb_pgarray_text(cols[3], req->external_ref);
        tb_pgarray_text(cols[4], intake_status_text(req->status));
        tb_pgarray_text(cols[5], req->sector);
        tb_pgarray_text(cols[6], req->title);
        tb_pgarray_text(cols[7], req->summary);
        tb_pgarray_text(cols[8], keywords);
        tb_pgarray_int(cols[9], req->version);
        tb_pgarray_int(cols[10], req->created_at);
        tb_pgarray_int(cols[11], req->updated_at);
        tb_pgarray_int(cols[12], req->expires_at);
        tb_pgarray_hex(cols[13], subs[i].fingerprint, subs[i].fingerprint_len);
        tb_pgarray_hex(cols[14], body, body_len);
        tb_pgarray_text(cols[15], subs[i].actor);
        tb_pgarray_text(cols[16], subs[i].cid);
        tb_pgarray_text(cols[17], req->language);
        tb_pgarray_text(cols[18], subs[i].text.terms);
        tb_pgarray_int(cols[19], subs[i].text.analysed);
        subs[i].inserted = false;
    }
    tb_arena_destroy(&tmp);
    rc = s_array_params(rc, cols, S_INSERT_BATCH_PARAMS, arena, p);
    return rc == 0 ? p : NULL;
}

/*  Marks the submissions whose ids the group insert returned. */
static void s_mark_inserted(const PGresult *r, intake_submission_t *subs, size_t n)
{
    /* RETURNING of a data-modifying WITH has no promised order: look each
       id up (a batch holds at most a few dozen). */
    int rows = PQntuples(r);
    for (int k = 0; k < rows; k++) {
        const char *id = PQgetvalue(r, k, 0);
        for (size_t i = 0; i < n; i++)
            if (!subs[i].inserted && strcmp(subs[i].req->id, id) == 0) {
                subs[i].inserted = true;
                break;
            }
    }
}

int intake_store_insert_batch(tb_db_t *db, intake_submission_t *subs, size_t n)
{
    tb_arena_t *arena = tb_arena_new(0);
    const char **p = arena ? s_insert_batch_params(arena, subs, n) : NULL;
    PGresult *r =
        p ? tb_db_exec(db, "intake_insert_batch", S_INSERT_BATCH_PARAMS, p) : NULL;
    tb_arena_destroy(&arena);
    if (!r)
        return -1;
    s_mark_inserted(r, subs, n);
    PQclear(r);
    return 0;
}

int intake_store_insert_batch_stmt(tb_arena_t *arena, intake_submission_t *subs, size_t n,
                                   tb_db_stmt_t *stmt)
{
    const char **p = s_insert_batch_params(arena, subs, n);
    if (!p)
        return -1;
    *stmt = (tb_db_stmt_t){
        .name = "intake_insert_batch_all", .nparams = S_INSERT_BATCH_PARAMS, .values = p};
    return 0;
}

tb_db_stmt_t intake_store_generic_plans_stmt(void)
{
    return (tb_db_stmt_t){.name = "intake_generic_plans"};
}

int intake_store_inserted(const PGresult *res, intake_submission_t *subs, size_t n)
{
    s_mark_inserted(res, subs, n);
    for (size_t i = 0; i < n; i++)
        if (!subs[i].inserted)
            return -1;
    return 0;
}

int intake_store_duplicates_stmt(tb_arena_t *arena,
                                 const Techbridge__Request *const *reqs, size_t n,
                                 tb_db_stmt_t *stmt)
{
    tb_pgarray_t *cols[3] = {tb_pgarray_new(), tb_pgarray_new(), tb_pgarray_new()};
    const char **p = tb_arena_alloc(arena, 3 * sizeof *p);
    int rc = p && cols[0] && cols[1] && cols[2] ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tb_pgarray_text(cols[0], reqs[i]->org->id);
        tb_pgarray_text(cols[1], reqs[i]->id);
        tb_pgarray_text(cols[2], reqs[i]->title);
    }
    rc = s_array_params(rc, cols, 3, arena, p);
    if (rc == 0)
        *stmt =
            (tb_db_stmt_t){.name = "intake_duplicate_batch", .nparams = 3, .values = p};
    return rc;
}

int intake_store_duplicates(const PGresult *res, tb_arena_t *arena, size_t n,
                            char **dup_ids)
{
    if (!res || PQntuples(res) != (int)n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        dup_ids[i] = PQgetisnull(res, (int)i, 0)
                         ? ""
                         : tb_arena_strdup(arena, PQgetvalue(res, (int)i, 0));
        if (!dup_ids[i])
            return -1;
    }
    return 0;
}

int intake_store_find_duplicates_batch(tb_db_t *db, tb_arena_t *arena,
                                       const Techbridge__Request *const *reqs, size_t n,
                                       char **dup_ids)
{
    if (n == 0)
        return 0;
    tb_db_stmt_t stmt;
    PGresult *r = NULL;
    if (intake_store_duplicates_stmt(arena, reqs, n, &stmt) == 0)
        r = tb_db_exec(db, stmt.name, stmt.nparams, stmt.values);
    int rc = intake_store_duplicates(r, arena, n, dup_ids);
    PQclear(r);
    return rc;
}
