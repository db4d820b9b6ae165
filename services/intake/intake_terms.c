/*  intake_terms: what tb-intake stores of a request's text for search, and
    what a search asks for, both made by the one analyser (tb_text). */
#include "intake_internal.h"
#include "tb_log.h"
#include "tb_pgarray.h"

int intake_terms(intake_core_t *self, tb_arena_t *arena, Techbridge__Request *req,
                 intake_text_t *out)
{
    tb_text_result_t r;
    if (tb_lexicon_analyse_request(self->lexicon, self->db, arena, req, TB_TEXT_GRAMS,
                                   &r) != 0)
        return -1;
    if (!req->language || !*req->language)
        /*  No letters at all (a title of digits): nothing to tell by; the
            organisation's preferred language is the best guess, else English. */
        req->language = (char *)(r.language != TB_LANG_UNKNOWN ? tb_lang_code(r.language)
                                 : req->org && req->org->language && *req->org->language
                                     ? req->org->language
                                     : "en");
    out->terms = tb_lexicon_terms_literal(arena, &r, true);
    out->analysed = tb_lexicon_version(self->lexicon);
    return out->terms ? 0 : -1;
}

static int s_reanalyse_fail(tb_db_t *db)
{
    tb_error("intake.reanalyse_failed", NULL, TB_S("sqlstate", tb_db_sqlstate(db)),
             TB_S("error", tb_db_message(db)));
    tb_db_rollback(db);
    return -1;
}

int intake_core_reanalyse_batch(intake_core_t *self)
{
    if (intake_ready(self) != 0)
        return -1;
    tb_lexicon_refresh(self->lexicon, self->db, false);
    int64_t version = tb_lexicon_version(self->lexicon);
    tb_arena_t *a = tb_arena_new(64u << 20);
    if (!a || version < 0 || tb_db_begin(self->db) != 0) {
        tb_arena_destroy(&a);
        return -1;
    }
    Techbridge__Request **list = NULL;
    size_t n = 0;
    int rc = intake_store_claim_unanalysed(self->db, a, version, INTAKE_REANALYSE_BATCH,
                                           &list, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        intake_text_t text;
        rc = intake_terms(self, a, list[i], &text) == 0 &&
                     intake_store_set_terms(self->db, list[i], &text) == 0
                 ? 0
                 : -1;
    }
    if (rc != 0 || tb_db_commit(self->db) != 0) {
        tb_arena_destroy(&a);
        return s_reanalyse_fail(self->db);
    }
    if (n)
        tb_info("intake.reanalysed", NULL, TB_I("requests", (int64_t)n),
                TB_I("thesaurus_version", version));
    tb_arena_destroy(&a);
    return (int)n;
}

void intake_core_reanalyse(tb_service_t *service, void *core)
{
    (void)service;
    intake_core_reanalyse_batch(core);
}

int intake_query_terms(intake_core_t *self, tb_arena_t *arena, const char *text,
                       const char **words, const char **concepts)
{
    tb_lexicon_refresh(self->lexicon, self->db, false);
    tb_text_result_t r;
    if (tb_text_analyse(tb_lexicon_text(self->lexicon), arena, &text, 1, TB_LANG_UNKNOWN,
                        0, &r) != 0)
        return -1;
    *words = *concepts = NULL;
    if (r.n_query == 0 && r.n_concepts == 0 && r.n_long == 0)
        return 1;
    /*  A query of concepts only (its every word a label) still searches by
        words: the words are what the user typed. */
    bool ok = true;
    if (r.n_query) {
        tb_text_result_t w = {.terms = r.query, .n_terms = r.n_query};
        ok = (*words = tb_lexicon_terms_literal(arena, &w, false)) != NULL;
    }
    tb_text_result_t c = {.concepts = r.concepts, .n_concepts = r.n_concepts};
    *concepts = tb_lexicon_terms_literal(arena, &c, false);
    if (!ok || !*concepts || (r.n_query && !*words))
        return -1;
    if (!*words) /* a term no request holds: found by concepts only, or (only
                    over-long words) not at all */
        *words = "{\"\"}";
    return 0;
}
