/*  matching_store: the SQL of tb-matching (its projection of requests, the
    document frequencies of terms, the matches). Every statement is
    parameterised; results are decoded into the caller's arena. */
#ifndef MATCHING_STORE_H
#define MATCHING_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matching_score.h"
#include "tb_arena.h"
#include "tb_db.h"
#include "techbridge.pb-c.h"

/*  A request as matching keeps it (one row of matching_requests). */
typedef struct {
    char *id;
    int kind;
    char *org_id;
    int status;
    char *sector;
    char **related; /* the sector's related codes */
    size_t n_related;
    char **keywords;
    size_t n_keywords;
    char **terms;
    size_t n_terms;
    int trl;
    int *cooperation;
    size_t n_cooperation;
    char **target_countries;
    size_t n_target_countries;
    char *country;
    char *org_name, *org_region, *contact_name, *contact_email, *contact_phone, *title;
    int64_t version;
    char **concepts; /* concept ids its text names, sorted */
    size_t n_concepts;
    char **phrases; /* per concept: the words that named it */
    size_t n_phrases;
    char *language, *org_language;
} matching_req_t;

/*  What the analyser made of a request's text, as array literals for the
    projection: terms (stems and "#" + concept ids), concepts, phrases. */
typedef struct {
    const char *terms;
    const char *concepts;
    const char *phrases;
    const char *language;
} matching_text_t;

/*  The scorer's view of a stored request (pointers into `r`). */
void matching_req_side(const matching_req_t *r, matching_side_t *side);

/*  Term -> document frequency, for the terms one scoring run needs. */
typedef struct {
    const char **terms; /* sorted by strcmp */
    long *df;
    size_t n;
    long n_docs;
} matching_dfmap_t;

long matching_dfmap_lookup(const char *term, void *map);

/*  Updates the projection from a request event's request, keeping the document
    frequencies of published requests, in one statement. *old_status is 0 when
    the request was new; *stale is true (and nothing changed) when the stored
    version is newer; otherwise *row (arena) is the stored request as
    matching_store_load would read it. */
int matching_store_upsert(tb_db_t *db, tb_arena_t *arena, const Techbridge__Request *r,
                          const matching_text_t *text, int *old_status, bool *stale,
                          matching_req_t **row);

/*  Loads stored requests by id (missing ids are left out). */
int matching_store_load(tb_db_t *db, tb_arena_t *arena, const char *const *ids,
                        size_t n_ids, matching_req_t **out, size_t *n_out);

/*  Candidate retrieval (docs/scoring.md): the text branch looks up the
    request's rarest words, at most MATCHING_QUERY_TERMS of them and no more once
    their document frequencies would add up to more than MATCHING_QUERY_DF_BUDGET
    (this bounds the rows the text branch reads); the sector branch adds up to
    MATCHING_SECTOR_LIMIT same-sector requests, by id (deterministic: not by
    updated_at, which is when matching applied an event, not part of the feed). */
#define MATCHING_QUERY_TERMS 12
/*  ... and, apart, at most this many of its concepts ("#" terms), under a
    budget of their own. */
#define MATCHING_QUERY_CONCEPTS  6
#define MATCHING_QUERY_DF_BUDGET 3000
#define MATCHING_SECTOR_LIMIT    50

/*  Candidates for `r`: published requests of the other kind and another
    organisation, by index: at most `limit` that hold one of r's query terms
    (best first by the idf of the query terms they hold), plus at most
    MATCHING_SECTOR_LIMIT of r's sector; ordered by id. With `naive`, every
    published request of the other kind and another organisation (a full scan,
    for the benchmark). `dfmap` holds the df of r's terms. */
int matching_store_candidates(tb_db_t *db, tb_arena_t *arena, const matching_req_t *r,
                              const matching_dfmap_t *dfmap, int limit, bool naive,
                              matching_req_t **out, size_t *n_out);

/*  Loads df of every term of the given requests, and N. */
int matching_store_dfmap(tb_db_t *db, tb_arena_t *arena,
                         const matching_req_t *const *reqs, size_t n_reqs,
                         matching_dfmap_t *map);

/*  A stored pair of one request (locked FOR UPDATE). */
typedef struct {
    char *id;
    char *offer_id;
    char *need_id;
    double score;
    int status;
    int64_t version;
} matching_pair_t;

int matching_store_pairs(tb_db_t *db, tb_arena_t *arena, const char *request_id,
                         matching_pair_t **out, size_t *n_out);

/*  Inserts a PROPOSED pair of two stored requests; *out (arena, pointing into
    `offer` and `need` too) is the match as matching_store_match would read it
    back, built without that round trip. */
int matching_store_propose(tb_db_t *db, tb_arena_t *arena, const matching_req_t *offer,
                           const matching_req_t *need, const matching_result_t *res,
                           Techbridge__Match **out);
/*  Re-scores a pair and sets its status; version + 1. */
int matching_store_rescore(tb_db_t *db, const char *id, const matching_result_t *res,
                           int status);
/*  Sets status (and the decision reason when not NULL); version + 1. */
int matching_store_set_status(tb_db_t *db, const char *id, int status,
                              const char *reason);

/*  One match with both parties; *found false when there is no such id. */
int matching_store_match(tb_db_t *db, tb_arena_t *arena, const char *id, bool for_update,
                         Techbridge__Match **out, bool *found);
/*  A request's matches, best first. */
int matching_store_matches_of(tb_db_t *db, tb_arena_t *arena, const char *request_id,
                              int limit, Techbridge__Match ***out, size_t *n_out);
/*  The org of a stored request; *found false when unknown. */
int matching_store_request_org(tb_db_t *db, tb_arena_t *arena, const char *id, char **org,
                               bool *found);

/*  ScoreReason messages of a result, in the arena. */
Techbridge__ScoreReason **matching_reasons_pb(tb_arena_t *arena,
                                              const matching_result_t *res, size_t *n);

#endif
