/*  tb_lexicon: see tb_lexicon.h. */
#include "tb_lexicon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_log.h"
#include "tb_pgarray.h"
#include "tb_valid.h"
#include "tb_util.h"

struct tb_lexicon_t {
    tb_text_t *text;
    tb_thesaurus_t *thesaurus;
    int64_t version;    /* of the held thesaurus; -1: none */
    int64_t checked_ms; /* monotonic time of the last version check */
};

tb_lexicon_t *tb_lexicon_new(void)
{
    tb_lexicon_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->version = -1;
    self->checked_ms = INT64_MIN / 2;
    if (!(self->text = tb_text_new())) {
        tb_error("text.init_failed", NULL,
                 TB_S("error", "ICU or Snowball could not be initialised"));
        tb_lexicon_destroy(&self);
    }
    return self;
}

void tb_lexicon_destroy(tb_lexicon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_lexicon_t *self = *self_p;
    tb_text_destroy(&self->text);
    tb_thesaurus_destroy(&self->thesaurus);
    free(self);
    *self_p = NULL;
}

tb_text_t *tb_lexicon_text(tb_lexicon_t *self)
{
    return self->text;
}

const tb_thesaurus_t *tb_lexicon_thesaurus(const tb_lexicon_t *self)
{
    return self->thesaurus;
}

int64_t tb_lexicon_version(const tb_lexicon_t *self)
{
    return self->version;
}

void tb_lexicon_refresh(tb_lexicon_t *self, tb_db_t *db, bool force)
{
    int64_t now = tb_mono_us() / 1000;
    if (!force && now - self->checked_ms < TB_LEXICON_CHECK_MS)
        return;
    self->checked_ms = now;
    int64_t version;
    if (!tb_db_ok(db) || tb_thesaurus_db_version(db, &version) != 0 ||
        version == self->version)
        return;
    tb_thesaurus_t *th = NULL;
    if (tb_thesaurus_db_load(db, self->text, &th) != 0) {
        tb_warn("thesaurus.load_failed", NULL, TB_I("version", version),
                TB_S("error", tb_db_message(db)));
        return;
    }
    /*  The analyser points at the old one until here: swap, then free. */
    tb_text_use(self->text, th);
    tb_thesaurus_destroy(&self->thesaurus);
    self->thesaurus = th;
    self->version = tb_thesaurus_version(th);
    tb_info("thesaurus.loaded", NULL, TB_I("version", self->version),
            TB_I("concepts", (int64_t)tb_thesaurus_size(th)));
}

int tb_lexicon_analyse_request(tb_lexicon_t *self, tb_db_t *db, tb_arena_t *arena,
                               const Techbridge__Request *req, unsigned flags,
                               tb_text_result_t *out)
{
    tb_lexicon_refresh(self, db, false);
    const char *parts[TB_KEYWORDS_MAX + 2];
    size_t n = 0;
    parts[n++] = req->title;
    for (size_t i = 0; i < req->n_keywords && i < TB_KEYWORDS_MAX; i++)
        parts[n++] = req->keywords[i];
    parts[n++] = req->summary;
    tb_lang_t declared = TB_LANG_UNKNOWN;
    if (req->language && *req->language && tb_lang_parse(req->language, &declared) != 0)
        declared = TB_LANG_UNKNOWN;
    return tb_text_analyse(self->text, arena, parts, n, declared, flags, out);
}

/*  Appends `items` to `a`, each after `mark` when it is not NUL. */
static bool s_append(tb_pgarray_t *a, tb_arena_t *arena, char *const *items, size_t n,
                     char mark)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = mark ? tb_arena_printf(arena, "%c%s", mark, items[i]) : items[i];
        if (!s)
            return false;
        tb_pgarray_text(a, s);
    }
    return true;
}

const char *tb_lexicon_terms_literal(tb_arena_t *arena, const tb_text_result_t *r,
                                     bool grams)
{
    tb_pgarray_t *a = tb_pgarray_new();
    bool ok = a && s_append(a, arena, r->terms, r->n_terms, 0) &&
              (!grams || s_append(a, arena, r->grams, r->n_grams, 0)) &&
              s_append(a, arena, r->concepts, r->n_concepts, TB_TEXT_CONCEPT_MARK);
    const char *lit = ok ? tb_pgarray_copy(a, arena) : NULL;
    tb_pgarray_destroy(&a);
    return lit;
}

int tb_thesaurus_db_version(tb_db_t *db, int64_t *version)
{
    PGresult *r = tb_db_query(db, "SELECT version FROM thesaurus_version", 0, NULL);
    if (!r)
        return -1;
    int rc = PQntuples(r) == 1 ? 0 : -1;
    if (rc == 0)
        *version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

int tb_thesaurus_db_load(tb_db_t *db, tb_text_t *analyser, tb_thesaurus_t **out)
{
    /*  One statement, so that the version and the labels are one snapshot. */
    PGresult *r = tb_db_query(
        db,
        "SELECT c.id, c.source, l.lang, l.label, v.version FROM thesaurus_version v "
        "LEFT JOIN thesaurus_concepts c ON true "
        "LEFT JOIN thesaurus_labels l ON l.concept_id = c.id "
        "ORDER BY c.id, l.lang, l.ord",
        0, NULL);
    if (!r)
        return -1;
    tb_thesaurus_t *th = tb_thesaurus_new();
    int rc = th ? 0 : -1;
    int rows = PQntuples(r);
    for (int i = 0; rc == 0 && i < rows; i++) {
        tb_lang_t lang;
        if (PQgetisnull(r, i, 0) || PQgetisnull(r, i, 2))
            continue; /* no concepts at all, or a concept without labels */
        if (tb_lang_parse(PQgetvalue(r, i, 2), &lang) == 0)
            rc = tb_thesaurus_add(th, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), lang,
                                  PQgetvalue(r, i, 3));
    }
    if (rc == 0 && rows > 0)
        tb_thesaurus_set_version(th, strtoll(PQgetvalue(r, 0, 4), NULL, 10));
    PQclear(r);
    /*  Labels were validated when they were loaded: index errors (a label of
        stop words only) leave that label out, as validation would have. */
    if (rc == 0 && tb_thesaurus_index(th, analyser, NULL) < 0)
        rc = -1;
    if (rc != 0)
        tb_thesaurus_destroy(&th);
    *out = th;
    return rc;
}

/*  The arrays of the concepts and labels of `th`. */
static int s_arrays(const tb_thesaurus_t *th, tb_pgarray_t **a)
{
    for (size_t i = 0; i < tb_thesaurus_size(th); i++) {
        const tb_concept_t *c = tb_thesaurus_concept(th, i);
        tb_pgarray_t *sectors = tb_pgarray_new();
        if (!sectors)
            return -1;
        for (size_t k = 0; k < c->n_sectors; k++)
            tb_pgarray_text(sectors, c->sectors[k]);
        tb_pgarray_text(a[0], c->id);
        tb_pgarray_text(a[1], tb_pgarray_literal(sectors));
        tb_pgarray_destroy(&sectors);
        for (int l = TB_LANG_EN; l < TB_LANG_COUNT; l++)
            for (size_t k = 0; k < c->n_labels[l]; k++) {
                tb_pgarray_text(a[2], c->id);
                tb_pgarray_text(a[3], tb_lang_code((tb_lang_t)l));
                tb_pgarray_int(a[4], (int64_t)k);
                tb_pgarray_text(a[5], c->labels[l][k]);
            }
    }
    return 0;
}

static const char *const s_replace_sql[] = {
    "DELETE FROM thesaurus_concepts WHERE source = $1",
    "INSERT INTO thesaurus_concepts (id, source, sectors) "
    "SELECT id, $1::text, s::text[] FROM unnest($2::text[], $3::text[]) AS c(id, s)",
    "INSERT INTO thesaurus_labels (concept_id, lang, ord, label) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[])",
    "INSERT INTO thesaurus_sources (source, file, concepts, loaded_by) "
    "VALUES ($1::text, $2::text, $3::int, $4::text) ON CONFLICT (source) DO UPDATE SET "
    "file = EXCLUDED.file, concepts = EXCLUDED.concepts, loaded_at = now(), "
    "loaded_by = EXCLUDED.loaded_by",
    "UPDATE thesaurus_version SET version = version + 1 RETURNING version, "
    "(SELECT count(*) FROM thesaurus_concepts)",
};

static int s_replace(tb_db_t *db, const char *const *lit, const char *source,
                     const char *file, const char *actor, size_t n, int64_t *version,
                     int64_t *total)
{
    char count[24];
    snprintf(count, sizeof count, "%zu", n);
    const char *del[] = {source};
    const char *concepts[] = {source, lit[0], lit[1]};
    const char *labels[] = {lit[2], lit[3], lit[4], lit[5]};
    const char *src[] = {source, file, count, actor};
    const struct {
        int n;
        const char *const *p;
    } steps[] = {{1, del}, {3, concepts}, {4, labels}, {4, src}, {0, NULL}};
    PGresult *r = NULL;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        PQclear(r);
        if (!(r = tb_db_query(db, s_replace_sql[i], steps[i].n, steps[i].p)))
            return -1;
    }
    *version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *total = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return 0;
}

int tb_thesaurus_db_replace(tb_db_t *db, tb_arena_t *arena, const tb_thesaurus_t *th,
                            const char *source, const char *file, const char *actor,
                            int64_t *version, int64_t *total, char **conflict)
{
    *conflict = NULL;
    tb_pgarray_t *a[6] = {0};
    const char *lit[6];
    int rc = 0;
    for (int i = 0; rc == 0 && i < 6; i++)
        rc = (a[i] = tb_pgarray_new()) ? 0 : -1;
    if (rc == 0)
        rc = s_arrays(th, a);
    for (int i = 0; rc == 0 && i < 6; i++)
        rc = (lit[i] = tb_pgarray_copy(a[i], arena)) ? 0 : -1;
    for (int i = 0; i < 6; i++)
        tb_pgarray_destroy(&a[i]);
    if (rc != 0 || tb_db_begin(db) != 0)
        return -1;
    /*  The source's rows are locked by the DELETE; a concurrent load of
        another source that claims one of these ids waits on the primary key. */
    const char *check[] = {lit[0], source};
    PGresult *r =
        tb_db_query(db,
                    "SELECT id || ' (' || source || ')' FROM thesaurus_concepts "
                    "WHERE id = ANY ($1::text[]) AND source <> $2 ORDER BY id "
                    "LIMIT 1",
                    2, check);
    if (!r) {
        tb_db_rollback(db);
        return -1;
    }
    if (PQntuples(r) > 0) {
        *conflict = tb_arena_strdup(arena, PQgetvalue(r, 0, 0));
        PQclear(r);
        tb_db_rollback(db);
        return *conflict ? 1 : -1;
    }
    PQclear(r);
    if (s_replace(db, lit, source, file, actor, tb_thesaurus_size(th), version, total) ||
        tb_db_commit(db) != 0) {
        tb_db_rollback(db);
        return -1;
    }
    return 0;
}
