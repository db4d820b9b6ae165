/*  matching_score: the match score of an offer and a need (SPEC section 3) as a
    pure, deterministic function over plain structs: no socket, no database.
    docs/scoring.md documents the formula with a worked example.

    score = 0.20 sector + 0.50 text + 0.15 trl + 0.10 cooperation + 0.05 geography

    and a pair whose text value is below 0.10 is no match (matchable false,
    score 0): the other components rank pairs that talk about the same thing,
    they do not make a match on their own.

    sector       1.0 same code, 0.5 related (either side's `related` list names
                 the other), 0 otherwise.
    text         the better of two views, each the sum of idf of what both
                 share / the sum of idf of the need's own, capped at 1, with
                 idf(t) = ln(1 + N / df(t)): the words (stems, Chinese words)
                 both wrote, and the thesaurus concepts both name, whatever
                 their languages. Terms are what tb_text makes of keywords +
                 title + summary; a concept is the term "#" + its id, so
                 concepts are weighted by idf like words.
    trl          1.0 when offer.trl >= need.trl (the need's minimum), minus 0.34
                 per level below, floor 0.
    cooperation  Jaccard overlap |A & B| / |A | B| of the cooperation forms.
    geography    each side's target_countries is a wish: the offer's wish is met
                 when it is empty or holds the need's country, and likewise for
                 the need. Both met 1.0, one met 0.5, none 0.

    Contributions are weight x value; the score is their sum rounded to 4
    decimals. Two requests of the same organisation never match. */
#ifndef MATCHING_SCORE_H
#define MATCHING_SCORE_H

#include <stdbool.h>
#include <stddef.h>

#include "tb_text.h"

#define MATCHING_W_SECTOR      0.20
#define MATCHING_W_TEXT        0.50
#define MATCHING_W_TRL         0.15
#define MATCHING_W_COOPERATION 0.10
#define MATCHING_W_GEOGRAPHY   0.05
#define MATCHING_TRL_STEP      0.34
/*  A pair whose text value is below this is no match, whatever the rest. */
#define MATCHING_MIN_TEXT 0.10
/*  The same numbers as SQL text, for candidate retrieval's score estimate
    (matching_store.c); keep them equal to the ones above. */
#define MATCHING_Q_W_SECTOR "0.20"
#define MATCHING_Q_W_TEXT   "0.50"
#define MATCHING_Q_W_TRL    "0.15"
#define MATCHING_Q_TRL_STEP "0.34"
#define MATCHING_SHARED_MAX 10
/*  A term that starts with this is a thesaurus concept ("#wood.drying"). */
#define MATCHING_CONCEPT_MARK TB_TEXT_CONCEPT_MARK
#define MATCHING_COMPONENTS   5

/*  One request as the scorer sees it. Strings and arrays are borrowed. */
typedef struct {
    const char *id;
    const char *org_id;
    const char *country;
    const char *sector;
    const char *const *sector_related; /* the `related` codes of its sector */
    size_t n_sector_related;
    const char *const *terms; /* stems and "#" + concept ids, any order, duplicates
                                 allowed */
    size_t n_terms;
    const char *const *concepts; /* concept ids (no "#") ... */
    const char *const *phrases;  /* ... and the words that named each */
    size_t n_concepts;
    int trl;
    const int *cooperation;
    size_t n_cooperation;
    const char *const *target_countries;
    size_t n_target_countries;
} matching_side_t;

/*  Document frequencies: how many published requests contain `term`. */
typedef struct {
    long (*df)(const char *term, void *arg); /* < 1 is taken as 1 */
    void *arg;
    long n_docs; /* N, published requests; < 1 is taken as 1 */
} matching_corpus_t;

typedef struct {
    const char *component; /* "sector", "text", "trl", "cooperation", "geography" */
    double weight;
    double value;
    double contribution;
    char detail[160];
    const char *shared[MATCHING_SHARED_MAX]; /* borrowed from the need's terms */
    size_t n_shared;
    const char *concepts[MATCHING_SHARED_MAX];  /* shared concept ids, rarest first */
    const char *need_text[MATCHING_SHARED_MAX]; /* the words each side wrote */
    const char *offer_text[MATCHING_SHARED_MAX];
    size_t n_concepts;
} matching_reason_t;

typedef struct {
    bool matchable; /* false for two requests of the same organisation, or when
                       text < MATCHING_MIN_TEXT (reasons are filled then) */
    double score;   /* rounded to 4 decimals; 0 when !matchable */
    matching_reason_t reasons[MATCHING_COMPONENTS];
    size_t n_reasons;
} matching_result_t;

/*  Scores `offer` against `need`. Returns 0, or -1 when out of memory. */
int matching_score(const matching_side_t *offer, const matching_side_t *need,
                   const matching_corpus_t *corpus, matching_result_t *out);

/*  idf(t) = ln(1 + N / df), with df and N at least 1. */
double matching_idf(long df, long n_docs);

/*  Rounds to 4 decimals (half away from zero). */
double matching_round4(double x);

#endif
