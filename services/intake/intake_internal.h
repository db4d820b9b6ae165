/*  intake_internal: what the modules of tb-intake share and nothing outside
    services/intake may use. The public API is intake_core.h.

      intake_core.c     the core object, readiness, the sector list, dispatch,
                        the helpers every handler replies with
      intake_text.c     pure text helpers: UUIDs, UTF-8 length, page tokens
      intake_content.c  pure content helpers: content copy, fingerprint, the
                        edit field names and merge
      intake_record.c   history rows and events of a change
      intake_submit.c   submit, alone or as a group commit
      intake_life.c     edit and status transitions
      intake_query.c    get, history, list
      intake_sweep.c    the expiry sweep
      intake_terms.c    what search stores and asks for, from the analyser */
#ifndef INTAKE_INTERNAL_H
#define INTAKE_INTERNAL_H

#include "intake_core.h"
#include "intake_store.h"
#include "tb_lexicon.h"

#define INTAKE_CODE(c) TECHBRIDGE__CODE__##c

struct intake_core_t {
    tb_db_t *db;
    bool prepared;
    char **sector_codes; /* heap, from the sectors table */
    size_t n_sectors;
    tb_sectors_t sectors; /* over sector_codes, or tb_default_sectors */
    bool sectors_loaded;
    int64_t sectors_loaded_ms;
    tb_lexicon_t *lexicon; /* this core's analyser and thesaurus */
};

/* ---- intake_terms.c ---- */

/*  Analyses a request's title, keywords and summary: sets req->language when
    it is empty (detected; the org's preferred language, else "en", for a text
    without letters) and *out to its search terms. Returns 0 or -1. */
int intake_terms(intake_core_t *self, tb_arena_t *arena, Techbridge__Request *req,
                 intake_text_t *out);

/*  A search text as the list filter's two literals: the terms a request must
    all hold to be found by words, and the concepts ("#id") it must all name
    to be found by concepts. Returns 0, 1 when the text holds nothing to
    search for (only stop words, numbers, punctuation), -1 on failure. */
int intake_query_terms(intake_core_t *self, tb_arena_t *arena, const char *text,
                       const char **words, const char **concepts);

/* ---- intake_core.c ---- */

/*  Registers the statements once the runtime has migrated the schema. Returns
    0 or -1 (database down, or a statement failed to prepare). */
int intake_ready(intake_core_t *self);

/*  The sector list: read at first use, again when older than the TTL, or when
    `miss` names a code the cached list lacks (at most every second). When the
    table cannot be read, the last list (or the built-in one) stays. */
const tb_sectors_t *intake_sectors(intake_core_t *self, const char *miss,
                                   const char *cid);

/*  `s`, or "" for NULL (protobuf-c strings must not be NULL). */
char *intake_str(const char *s);

/*  For tb_valid_normalise: a strdup into the arena `ctx`. */
char *intake_dup(void *ctx, const char *s);

/*  Reports a database failure on the reply, rolls back, returns -1. */
int intake_db_fail(tb_call_t *call, tb_db_t *db, const char *what);

/*  RESOURCE_EXHAUSTED "reply too large" (the call's arena is full). Returns -1. */
int intake_full(tb_call_t *call);

/*  Each violation on the reply (copied into the call's arena). Returns -1. */
int intake_violations(tb_call_t *call, const tb_violations_t *v);

/*  Normalises and checks a request's fields. Returns 0 or -1 (reply set). */
int intake_check_request(intake_core_t *self, tb_call_t *call, Techbridge__Request *req,
                         int64_t now);

/*  Sets the reply's RequestResult. Returns 0 or -1 (arena full, reply set). */
int intake_reply_request(tb_call_t *call, Techbridge__Request *req, const char *dup,
                         bool created);

/* ---- intake_content.c ---- */

/*  True when `name` is a field an edit may never change ("id", "kind", ...). */
bool intake_field_fixed(const char *name);

/* ---- intake_record.c ---- */

/*  An event of the requests stream (seq, stream and at are set on append).
    NULL when the arena is full. */
Techbridge__Event *intake_event_new(tb_arena_t *a, Techbridge__EventType type,
                                    Techbridge__Request *req, Techbridge__Status from,
                                    const char *actor, const char *reason,
                                    const char *cid);

/*  Appends an event of the requests stream in the open transaction. Returns 0
    or -1. */
int intake_event(tb_db_t *db, tb_arena_t *a, Techbridge__EventType type,
                 Techbridge__Request *req, Techbridge__Status from, const char *actor,
                 const char *reason, const char *cid);

/*  Writes history + event of a change of `req` (its new status and version)
    in the open transaction. Returns 0 or -1 (database, or the arena full:
    reported as a database failure by callers). */
int intake_record(tb_db_t *db, tb_arena_t *a, Techbridge__Request *req,
                  Techbridge__Action action, Techbridge__Status from,
                  Techbridge__EventType type, int64_t at, const char *actor,
                  const char *reason, const char *cid);

/* ---- the handlers: 0, or -1 with the reply's error set ---- */

int intake_submit(intake_core_t *self, tb_call_t *call);
/*  A run of submit calls as one group commit (see intake_core_handle_batch). */
void intake_submit_batch(intake_core_t *self, tb_call_t *const *calls, size_t n);
int intake_edit(intake_core_t *self, tb_call_t *call);
int intake_transition(intake_core_t *self, tb_call_t *call);
int intake_get(intake_core_t *self, tb_call_t *call);
int intake_history(intake_core_t *self, tb_call_t *call);
int intake_list(intake_core_t *self, tb_call_t *call);

/*  Loads request `id` for the caller, optionally locked (inside the caller's
    transaction, which is rolled back on a refusal): 0 with *row, or -1 with
    the reply set (bad id, not found, another org's request, database). */
int intake_load(intake_core_t *self, tb_call_t *call, const char *id, bool for_update,
                intake_row_t *row);

#endif
