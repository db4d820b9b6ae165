/*  matching_core: tb-matching's behaviour. It follows the "requests" feed
    (matching_core_apply, in the consumer's transaction), keeps matches of
    published requests, publishes match events on the "matches" feed, and serves
    ListMatches, GetMatch and DecideMatch (matching_core_api). */
#ifndef MATCHING_CORE_H
#define MATCHING_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "feed.pb-c.h"
#include "matching_score.h"
#include "matching_store.h"
#include "tb_call.h"
#include "tb_db.h"

#define MATCHING_THRESHOLD_DEFAULT 0.35
#define MATCHING_TOP_K_DEFAULT     20
/*  Candidates retrieved (by index) per request before scoring. Each costs a
    row to read and score, and an offer's (needs) the df of all its terms:
    bench_matching at 100k with the language mix, recall of the scan's top 20
    0.978 at 120 and 0.989 at 200, CPU per probe 9.2 ms against 11.4. */
#define MATCHING_RETRIEVE_LIMIT 120

typedef struct matching_core_t matching_core_t;

matching_core_t *matching_core_new(tb_db_t *db, double threshold, int top_k);
void matching_core_destroy(matching_core_t **self_p);

/*  What the analyser makes of a request's title, keywords and summary, as
    the projection stores it (arena). Returns 0 or -1. */
int matching_analyse(matching_core_t *self, tb_db_t *db, tb_arena_t *arena,
                     const Techbridge__Request *r, matching_text_t *out);

/*  tb_api_fn: list_matches, get_match, decide_match, load_thesaurus. */
int matching_core_api(tb_call_t *call, void *core);

/*  tb_apply_fn for the "requests" stream: projection + (re)matching + match
    events, all in the caller's transaction. Returns 0 or -1 (roll back, retry). */
int matching_core_apply(tb_db_t *db, const Techbridge__Event *event, void *core);

/*  One scored candidate. */
typedef struct {
    const matching_req_t *req;
    matching_result_t res;
} matching_hit_t;

/*  Finds and scores the candidates of `r` (indexed retrieval, or with `naive` a
    scan of every published request of the other kind) and keeps those at or
    above `threshold`, best first (ties by id), at most `top_k`. The code path of
    the service, exposed for the benchmark; *n_candidates (when not NULL) is how
    many candidates were scored. Returns 0 or -1. */
int matching_find(tb_db_t *db, tb_arena_t *arena, const matching_req_t *r, bool naive,
                  double threshold, int top_k, matching_hit_t **hits, size_t *n_hits,
                  size_t *n_candidates);

/*  Scores `a` against `b` whichever is the offer. */
int matching_score_pair(const matching_req_t *a, const matching_req_t *b,
                        const matching_dfmap_t *map, matching_result_t *out);

#endif
