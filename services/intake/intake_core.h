/*  intake_core: the tb-intake API (submit, get, list, edit, transition,
    history) and the expiry sweep, over intake_store. The handler is a tb_api_fn
    for tb_service; the sweep is a tb_timer_fn. The pure helpers at the end
    (page tokens, content fingerprints, edit merge) touch no socket and no
    database, so unit tests call them directly. */
#ifndef INTAKE_CORE_H
#define INTAKE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"
#include "tb_call.h"
#include "tb_db.h"
#include "tb_service.h"
#include "tb_valid.h"
#include "techbridge.pb-c.h"

typedef struct intake_core_t intake_core_t;

/*  Expiry sweep: at most this many requests per tick for each of "expire" and
    "expiring notice". */
#define INTAKE_SWEEP_BATCH 100
/*  List limits. */
#define INTAKE_LIST_DEFAULT 20
#define INTAKE_LIST_MAX     100
/*  Longest full-text query accepted by list, in characters. */
#define INTAKE_TEXT_MAX 200
/*  Longest page token accepted (hex characters). */
#define INTAKE_PAGE_TOKEN_MAX 128
/*  Most names in an edit's field list, and the longest name. */
#define INTAKE_EDIT_FIELDS_MAX 32
#define INTAKE_FIELD_NAME_MAX  64
/*  Similarity of titles (pg_trgm) from which a submission is a possible
    duplicate of an open request of the same organisation. */
#define INTAKE_DUPLICATE_SIMILARITY "0.6"
/*  Seconds the sector list is cached before it is read again. */
#define INTAKE_SECTORS_TTL_MS 60000

/*  Makes the core over the service's database session (borrowed; must outlive
    the core). Statements are registered at the first call or tick (after the
    runtime applied the migrations). NULL when out of memory. */
intake_core_t *intake_core_new(tb_db_t *db);
void intake_core_destroy(intake_core_t **self_p);

/*  The API handler (tb_api_fn): `core` is an intake_core_t. */
int intake_core_handle(tb_call_t *call, void *core);

/*  The same for a batch of calls (tb_api_batch_fn): consecutive submissions
    are stored in one transaction (group commit: one statement each for the
    requests with their history rows, the events and the duplicate check, one
    COMMIT); other calls go through intake_core_handle, in arrival order. */
void intake_core_handle_batch(tb_call_t *const *calls, size_t n, void *core);

/*  The expiry sweep (tb_timer_fn): `core` is an intake_core_t. PUBLISHED
    requests whose expires_at passed become EXPIRED (actor "system"); those
    within TB_EXPIRING_NOTICE_DAYS of expiry get one EVENT_REQUEST_EXPIRING.
    Claims rows with FOR UPDATE SKIP LOCKED, so several intake hosts never do
    the same work twice. */
void intake_core_sweep(tb_service_t *service, void *core);

/*  Re-analysis (tb_timer_fn): requests whose search terms were made with an
    older thesaurus than the database's now (after a load, or rows from before
    the languages migration) are analysed again, INTAKE_REANALYSE_BATCH per
    tick, claimed with SKIP LOCKED like the sweep. */
#define INTAKE_REANALYSE_BATCH 200
#define INTAKE_REANALYSE_MS    1000
void intake_core_reanalyse(tb_service_t *service, void *core);
/*  One re-analysis batch: the number of requests analysed again, or -1. */
int intake_core_reanalyse_batch(intake_core_t *self);

/*  One sweep at time `now_ms` (for the timer and for tests). Returns the number
    of requests expired plus those notified, or -1 on database failure (logged,
    rolled back). */
int intake_core_sweep_at(intake_core_t *self, int64_t now_ms);

/* ---- pure helpers ---- */

/*  True when `s` is a UUID in the 8-4-4-4-12 hex form. */
bool intake_is_uuid(const char *s);

/*  The number of UTF-8 characters of `s` (bytes that are not continuation
    bytes). */
size_t intake_utf8_chars(const char *s);

/*  Page tokens: opaque to clients, the hex of "<created_ms>:<uuid>" of the last
    request of a page. encode returns an arena string (NULL: arena full).
    decode returns 0 with the position, or -1 for anything malformed. */
char *intake_page_token_encode(tb_arena_t *arena, int64_t created_ms, const char *id);
int intake_page_token_decode(const char *token, int64_t *created_ms, char id[37]);

/*  A copy of the submitted content of `src` (kind, external_ref, org, contact,
    title, summary, sector, keywords, trl, cooperation, ipr, budget_usd,
    target_countries, expires_at) in fresh messages without unknown fields;
    server-kept fields are zero. Strings are shared with `src`. NULL when the
    arena is full. */
Techbridge__Request *intake_request_content(tb_arena_t *arena,
                                            const Techbridge__Request *src);

/*  The canonical fingerprint of a request's submitted content: the packed
    bytes of intake_request_content (protobuf-c packs fields in order, so equal
    content gives equal bytes). Call after normalising. Returns 0 or -1
    (arena full). */
int intake_fingerprint(tb_arena_t *arena, const Techbridge__Request *req, uint8_t **out,
                       size_t *len);
bool intake_fingerprint_equal(const uint8_t *a, size_t alen, const uint8_t *b,
                              size_t blen);

/*  The checks of an edit call that need no database: an id (UUID), a
    version, changes, at most INTAKE_EDIT_FIELDS_MAX field names, each
    editable. Returns 0, or -1 with the call's reply error set (a violation
    for each bad field name). */
int intake_edit_check(tb_call_t *call, const Techbridge__EditRequest *e);

/*  The checks of a transition call that need no database: an id (UUID), an
    action a caller may ask for, a version, a reason of at most TB_REASON_MAX
    characters of valid UTF-8 (*reason: the reason, "" when none). Returns 0,
    or -1 with the call's reply error set. */
int intake_transition_check(tb_call_t *call, const Techbridge__TransitionRequest *t,
                            const char **reason);

/*  Whether `name` is a field an edit may change: top-level JSON keys (title,
    summary, sector, keywords, trl, cooperation, ipr, budget_usd,
    target_countries, contact, expires_at, org) and the sub-fields org.name,
    org.country, org.region, contact.name, contact.email, contact.phone,
    budget_usd.min, budget_usd.max. */
bool intake_field_editable(const char *name);

/*  Merges `changes` into `stored` (in place, new messages from the arena):
    the named fields, or every editable field when nfields is 0. Fields that
    are not editable (kind, external_ref, org.id, id, status, version, times,
    renewed), unknown names, and, with an empty list, a kind, external_ref or
    org.id that differs from the stored one, are violations ("fields[2]",
    "kind", ...). expires_at 0 keeps the stored expiry; "org" merges the
    non-empty name, country and region (all required, so empty = not given),
    while "contact" and "budget_usd" replace the whole sub-message (a phone or
    a bound can be cleared). Returns the number of
    violations added (the merge is then partial and must not be stored), or -1
    when the arena is full. */
int intake_edit_merge(tb_arena_t *arena, Techbridge__Request *stored,
                      const Techbridge__Request *changes, char *const *fields,
                      size_t nfields, tb_violations_t *violations);

#endif
