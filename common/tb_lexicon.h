/*  tb_lexicon: the text analyser together with the thesaurus the database
    holds now, and the database side of the thesaurus (load, replace, version).

    Each thread that analyses text owns one lexicon (the analyser is not
    thread-safe); tb_lexicon_refresh, called before analysing, compares the
    database's thesaurus version with the one held at most every
    TB_LEXICON_CHECK_MS and loads the new thesaurus when it changed: an
    operator's load reaches every service within seconds, with no restart. */
#ifndef TB_LEXICON_H
#define TB_LEXICON_H

#include <stdint.h>

#include "tb_db.h"
#include "tb_text.h"
#include "tb_thesaurus.h"
#include "techbridge.pb-c.h"

#define TB_LEXICON_CHECK_MS 2000

typedef struct tb_lexicon_t tb_lexicon_t;

/*  An analyser with no thesaurus yet. NULL on failure (logged). */
tb_lexicon_t *tb_lexicon_new(void);
void tb_lexicon_destroy(tb_lexicon_t **self_p);

/*  Loads the database's thesaurus when its version differs from the one held
    (checking at most every TB_LEXICON_CHECK_MS, or now with `force`). On
    failure the held thesaurus stays (logged) and the next call tries again. */
void tb_lexicon_refresh(tb_lexicon_t *self, tb_db_t *db, bool force);

/*  The analyser, using the held thesaurus. */
tb_text_t *tb_lexicon_text(tb_lexicon_t *self);
/*  The held thesaurus (NULL: none loaded yet) and its version (-1: none). */
const tb_thesaurus_t *tb_lexicon_thesaurus(const tb_lexicon_t *self);
int64_t tb_lexicon_version(const tb_lexicon_t *self);

/*  Analyses a request's text as both services do: its title, each keyword
    and its summary, each a sentence of its own, in its declared language
    (else detected), after tb_lexicon_refresh. Results in `arena`. Returns 0
    or -1. */
int tb_lexicon_analyse_request(tb_lexicon_t *self, tb_db_t *db, tb_arena_t *arena,
                               const Techbridge__Request *req, unsigned flags,
                               tb_text_result_t *out);

/*  The text[] literal of what a request's terms column stores: its terms, its
    grams (when `grams`), and TB_TEXT_CONCEPT_MARK + each concept id. NULL
    when the arena is full. */
const char *tb_lexicon_terms_literal(tb_arena_t *arena, const tb_text_result_t *r,
                                     bool grams);

/*  The database's thesaurus version. Returns 0 or -1. */
int tb_thesaurus_db_version(tb_db_t *db, int64_t *version);

/*  Every concept of the database, indexed with `analyser`, as *out with its
    version. Returns 0 or -1. */
int tb_thesaurus_db_load(tb_db_t *db, tb_text_t *analyser, tb_thesaurus_t **out);

/*  Replaces every concept of `source` with the concepts of `th` (all of that
    source), records who loaded it from which file and bumps the version, in
    one transaction. Returns 0 with the new *version and *total concepts; 1
    when one of the ids belongs to another source (*conflict: "id (source)",
    arena; nothing changed); -1 on a database failure (rolled back). */
int tb_thesaurus_db_replace(tb_db_t *db, tb_arena_t *arena, const tb_thesaurus_t *th,
                            const char *source, const char *file, const char *actor,
                            int64_t *version, int64_t *total, char **conflict);

#endif
