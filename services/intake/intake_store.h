/*  intake_store: every SQL statement of tb-intake (tables of
    deploy/migrations/002_intake.sql), prepared once with tb_db_prepare. A
    request is read back from its packed body with the server-kept fields
    (id, status, version, created_at, updated_at, expires_at, renewed)
    overwritten from their columns. Nothing here opens or closes a
    transaction: the caller does. Functions return 0 on success, -1 on a
    database failure (tb_db_error tells why); lookups return 1 for "no such
    row", updates 1 for "no row at that version". */
#ifndef INTAKE_STORE_H
#define INTAKE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"
#include "tb_db.h"
#include "feed.pb-c.h"
#include "techbridge.pb-c.h"

/*  The largest packed request body read back from the table. */
#define INTAKE_BODY_MAX (256 * 1024)

/*  Registers every statement. Returns 0, or -1 when one failed to prepare. */
int intake_store_prepare(tb_db_t *db);

/*  A stored request and what only the store keeps. */
typedef struct {
    Techbridge__Request *request; /* in the arena */
    uint8_t *fingerprint;         /* in the arena */
    size_t fingerprint_len;
    bool expiring_notified;
} intake_row_t;

/*  By id (a valid UUID), optionally locking the row (FOR UPDATE). */
int intake_store_get(tb_db_t *db, tb_arena_t *arena, const char *id, bool for_update,
                     intake_row_t *row);
/*  By idempotency key. */
int intake_store_get_by_ref(tb_db_t *db, tb_arena_t *arena, const char *org_id,
                            const char *external_ref, intake_row_t *row);

/*  What the analyser made of a request's text, as stored beside it. */
typedef struct {
    const char *terms; /* text[] literal: terms, Chinese grams, "#" + concept ids */
    int64_t analysed;  /* the thesaurus version it was made with (-1: none) */
} intake_text_t;

/*  Inserts a new request: content packed as its body, the columns from `req`
    (id, status, version, created_at, updated_at, expires_at, language) and
    `text`. Returns 0, 1 when (org.id, external_ref) is taken (nothing
    inserted), -1. */
int intake_store_insert(tb_db_t *db, tb_arena_t *arena, const Techbridge__Request *req,
                        const intake_text_t *text, const uint8_t *fingerprint,
                        size_t fingerprint_len);

/*  One submission of a group commit (see intake_store_insert_batch). */
typedef struct {
    const Techbridge__Request *req; /* id, status, version and times set */
    const uint8_t *fingerprint;
    size_t fingerprint_len;
    const char *actor; /* of the history row */
    const char *cid;
    intake_text_t text;
    bool inserted; /* out: false when (org.id, external_ref) was taken */
} intake_submission_t;

/*  Inserts the requests of `subs` (in order) with one statement, each with its
    history row (SUBMIT), in the caller's transaction. A request whose
    (org.id, external_ref) is taken, also by an earlier one of the same batch,
    is skipped with inserted false. Returns 0 or -1 (nothing inserted). */
int intake_store_insert_batch(tb_db_t *db, intake_submission_t *subs, size_t n);

/*  intake_store_find_duplicate for `n` requests inserted together, in one
    statement: dup_ids[i] (an arena string, "" when none) for reqs[i], which
    does not see reqs[j] for j > i (as if they came one after the other). */
int intake_store_find_duplicates_batch(tb_db_t *db, tb_arena_t *arena,
                                       const Techbridge__Request *const *reqs, size_t n,
                                       char **dup_ids);

/*  The same two as statements for tb_db_pipeline (parameters in `arena`),
    and their results read back. The insert is the strict variant: a taken
    (org.id, external_ref) fails it with TB_DB_UNIQUE instead of skipping the
    row, so that the statements after it can count on every row; inserted
    returns -1 unless every submission was inserted. */
int intake_store_insert_batch_stmt(tb_arena_t *arena, intake_submission_t *subs, size_t n,
                                   tb_db_stmt_t *stmt);
/*  A statement that makes the rest of its transaction use generic plans (put
    first in a group commit's pipeline). */
tb_db_stmt_t intake_store_generic_plans_stmt(void);
int intake_store_inserted(const PGresult *res, intake_submission_t *subs, size_t n);
int intake_store_duplicates_stmt(tb_arena_t *arena,
                                 const Techbridge__Request *const *reqs, size_t n,
                                 tb_db_stmt_t *stmt);
int intake_store_duplicates(const PGresult *res, tb_arena_t *arena, size_t n,
                            char **dup_ids);

/*  The id of the open request (SUBMITTED, PUBLISHED, IN_NEGOTIATION) of
    `org_id`, other than `id`, whose title is most similar to `title` at or
    above INTAKE_DUPLICATE_SIMILARITY: *dup_id is an arena string, "" when
    none. */
int intake_store_find_duplicate(tb_db_t *db, tb_arena_t *arena, const char *org_id,
                                const char *id, const char *title, char **dup_id);

/*  An edit: stores the content of `req` (body, searchable columns,
    expires_at, updated_at) on the row `req->id` if it is at
    `expected_version`, moving it to expected_version + 1. An expiry that
    changes clears the expiring-notice flag. Returns 0, 1 (stale), -1. */
int intake_store_update_content(tb_db_t *db, tb_arena_t *arena,
                                const Techbridge__Request *req, const intake_text_t *text,
                                int64_t expected_version);

/*  A transition: stores status, expires_at, renewed and updated_at of `req`
    on the row `req->id` if it is at `expected_version`, moving it to
    expected_version + 1; `clear_notified` clears the expiring-notice flag
    (renew). Returns 0, 1 (stale), -1. */
int intake_store_update_status(tb_db_t *db, const Techbridge__Request *req,
                               int64_t expected_version, bool clear_notified);

/*  Marks the expiring notice of `id` as sent. */
int intake_store_set_notified(tb_db_t *db, const char *id);

/*  Appends a history entry of request `request_id`. */
int intake_store_history_add(tb_db_t *db, const char *request_id,
                             const Techbridge__HistoryEntry *entry);
/*  The history of `request_id`, oldest first (by time, then insertion). */
int intake_store_history(tb_db_t *db, tb_arena_t *arena, const char *request_id,
                         Techbridge__HistoryEntry ***entries, size_t *count);

/*  List filters; NULL strings mean "any". */
typedef struct {
    const char *kind;   /* "OFFER" / "NEED" */
    const char *status; /* "PUBLISHED", ... */
    const char *sector;
    const char *org_id;
    const char *words;    /* a text[] literal: every term a match must hold */
    const char *concepts; /* a text[] literal: or every concept ("#id") of it */
    bool has_after;       /* keyset: rows strictly after (after_ms, after_id) */
    int64_t after_ms;
    const char *after_id;
    int limit;
} intake_filter_t;

/*  Up to f->limit requests, newest first (created_at desc, id desc). */
int intake_store_list(tb_db_t *db, tb_arena_t *arena, const intake_filter_t *f,
                      Techbridge__Request ***out, bool **by_words, size_t *count);

/*  Claims (FOR UPDATE SKIP LOCKED, in the caller's transaction) up to `limit`
    PUBLISHED requests whose expires_at <= now_ms. */
int intake_store_claim_expired(tb_db_t *db, tb_arena_t *arena, int64_t now_ms, int limit,
                               Techbridge__Request ***out, size_t *count);
/*  Claims up to `limit` PUBLISHED requests with now_ms < expires_at <=
    horizon_ms whose expiring notice was not sent. */
int intake_store_claim_expiring(tb_db_t *db, tb_arena_t *arena, int64_t now_ms,
                                int64_t horizon_ms, int limit, Techbridge__Request ***out,
                                size_t *count);

/*  Claims up to `limit` requests analysed with a thesaurus older than
    `version` (FOR UPDATE SKIP LOCKED, in the caller's transaction). */
int intake_store_claim_unanalysed(tb_db_t *db, tb_arena_t *arena, int64_t version,
                                  int limit, Techbridge__Request ***out, size_t *count);
/*  Stores a request's language and search terms as analysed again (content
    and version untouched). */
int intake_store_set_terms(tb_db_t *db, const Techbridge__Request *req,
                           const intake_text_t *text);

/*  The codes of the `sectors` table (heap: free with intake_store_free_sectors). */
int intake_store_load_sectors(tb_db_t *db, char ***codes, size_t *count);
void intake_store_free_sectors(char **codes, size_t count);

/*  Enum names as stored ("PUBLISHED", "OFFER", "PUBLISH"); "" for 0 / unknown. */
const char *intake_status_text(Techbridge__Status s);
const char *intake_kind_text(Techbridge__Kind k);
const char *intake_action_text(Techbridge__Action a);

#endif
