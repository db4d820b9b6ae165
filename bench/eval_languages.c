/*  eval_languages: how well does matching pair a Russian need with the offer
    it was written for, when that offer is in Chinese, English or Russian?
    (issue 13: cross-language top-1 >= 0.9.)

    It reads the thesaurus files (*.tbt of --thesaurus DIR), the sector table
    of deploy/migrations/001_core.sql (its `related` lists) and an evaluation
    set (--set DIR: requests.jsonl, one request a line in the JSON of
    `tbctl submit`; pairs.tsv, need_ref TAB offer_ref TAB cross|same), analyses
    every request as tb-intake does (title, each keyword, summary; flags 0;
    declared language or detection) and scores every need against every offer
    with matching_score, document frequencies taken over the whole set as if
    every request were published. A request's ref is its external_ref.

    Rank of an intended offer: 1 + the matchable offers that are not intended
    for that need and score higher (ties by offer ref). A need's other
    intended offers are left out, so a need with a Chinese and an English
    offer on its subject can have both at rank 1. Not matchable: not found.

    Prints top-1 and MRR for same-language, cross-language and all pairs, one
    line per pair, and the analyser's cost per kB of text per language.
    --explain adds, for each pair not at rank 1, the concepts of both sides
    and of the offer that won; --concepts, every request's concepts.

    Exit 0; 1 when cross-language top-1 is below --min-cross-top1; 2 when the
    set or the files are not what they must be. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matching_score.h"
#include "tb_arena.h"
#include "tb_json.h"
#include "tb_text.h"
#include "tb_thesaurus.h"
#include "tb_util.h"
#include "tb_valid.h"

#ifndef TB_SOURCE_DIR
#define TB_SOURCE_DIR "."
#endif

/*  What the set must hold (bench/eval/README.md). */
#define S_NEEDS       20
#define S_OFFERS      30
#define S_ITEMS_MAX   256
#define S_PAIRS_MAX   256
#define S_SECTORS_MAX 64
#define S_RELATED_MAX 16
/*  Analyser timing: at least this long per language for a stable figure. */
#define S_TIMING_US  200000
#define S_PASSES_MAX 100000

typedef struct {
    const char *ref;
    Techbridge__Request *req;
    tb_text_result_t text;
    size_t bytes; /* of its text parts */
    const char **terms;
    int *coop;
    matching_side_t side;
} s_item_t;

typedef struct {
    s_item_t *need, *offer;
    bool cross;
    size_t rank; /* 0: not found */
    const s_item_t *top;
    double top_score;
    double rival_score;    /* the best offer not intended for this need */
    matching_result_t res; /* of the intended pair */
} s_pair_t;

typedef struct {
    char *code;
    char *related[S_RELATED_MAX];
    size_t n_related;
} s_sector_t;

typedef struct {
    const char *term;
    long df;
} s_df_t;

typedef struct {
    tb_arena_t *arena;
    tb_text_t *text;
    tb_thesaurus_t *th;
    size_t files_loaded, files_skipped;
    s_sector_t sectors[S_SECTORS_MAX];
    size_t n_sectors;
    s_item_t items[S_ITEMS_MAX];
    size_t n_items;
    s_pair_t pairs[S_PAIRS_MAX];
    size_t n_pairs;
    s_df_t *df;
    size_t n_df;
} s_eval_t;

/* ---- files ---- */

/*  The whole file, NUL-terminated (malloc'd; the caller frees), or NULL. */
static char *s_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- thesaurus ---- */

/*  Parses one .tbt file into the thesaurus. A file that fails is skipped,
    and said so on stderr with its errors: the figures are then those of a
    smaller thesaurus, which the reader must know. */
static void s_load_tbt(s_eval_t *e, const char *path)
{
    size_t len = 0;
    char *text = s_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "eval: SKIPPED %s: cannot read: %s\n", path, strerror(errno));
        e->files_skipped++;
        return;
    }
    const char *source = NULL;
    char *errors = NULL;
    int bad = tb_thesaurus_parse(e->th, text, len, path, &source, &errors);
    if (bad < 0) {
        fprintf(stderr, "eval: SKIPPED %s: out of memory\n", path);
        e->files_skipped++;
    } else if (bad > 0) {
        fprintf(stderr, "eval: SKIPPED %s: %d error(s), the file is not used:\n%s", path,
                bad, errors ? errors : "");
        e->files_skipped++;
    } else {
        e->files_loaded++;
    }
    free(errors);
    free(text);
}

/*  Loads every *.tbt of `dir` (in name order, so that which of two files
    with one id wins does not depend on the directory), then indexes. */
static int s_load_thesaurus(s_eval_t *e, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "eval: cannot open thesaurus dir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < sizeof names / sizeof names[0]) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".tbt") == 0)
            names[n++] = tb_arena_printf(e->arena, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], s_cmp_str);
    for (size_t i = 0; i < n; i++)
        if (names[i])
            s_load_tbt(e, names[i]);
    char *errors = NULL;
    int bad = tb_thesaurus_index(e->th, e->text, &errors);
    if (bad < 0) {
        free(errors);
        fprintf(stderr, "eval: indexing the thesaurus failed (out of memory)\n");
        return -1;
    }
    if (bad > 0)
        fprintf(stderr, "eval: WARNING: %d label(s) left out of the index:\n%s", bad,
                errors ? errors : "");
    free(errors);
    tb_text_use(e->text, e->th);
    if (e->files_loaded == 0)
        fprintf(stderr,
                "eval: WARNING: no thesaurus file loaded from %s: "
                "cross-language pairs cannot match\n",
                dir);
    return 0;
}

/* ---- sectors ---- */

/*  The next single-quoted SQL string at or after *p ('' is a quote), into the
    arena; *p moves past it. NULL when there is none before `end`. */
static char *s_sql_string(tb_arena_t *a, const char **p, const char *end)
{
    const char *s = memchr(*p, '\'', (size_t)(end - *p));
    if (!s)
        return NULL;
    char *out = tb_arena_alloc(a, (size_t)(end - s));
    if (!out)
        return NULL;
    size_t n = 0;
    for (s++; s < end; s++) {
        if (*s == '\'' && s + 1 < end && s[1] == '\'')
            out[n++] = *s++;
        else if (*s == '\'')
            break;
        else
            out[n++] = *s;
    }
    *p = s < end ? s + 1 : end;
    return out;
}

/*  The rows of `INSERT INTO sectors (code, label, related) VALUES (...), ...;`
    of the migration: the same table the services read, so that this program
    never carries a copy that drifts. Returns 0, or -1 when the statement is
    not there. */
static int s_load_sectors(s_eval_t *e, const char *path)
{
    char *sql = s_read_file(path, NULL);
    if (!sql)
        return -1;
    const char *p = strstr(sql, "INSERT INTO sectors");
    const char *end = p ? strchr(p, ';') : NULL;
    while (p && end && (p = memchr(p, '(', (size_t)(end - p))) &&
           e->n_sectors < S_SECTORS_MAX) {
        p++;
        if (strncmp(p, "code", 4) == 0) /* the column list */
            continue;
        s_sector_t *s = &e->sectors[e->n_sectors];
        char *code = s_sql_string(e->arena, &p, end);
        char *label = s_sql_string(e->arena, &p, end);
        char *related = s_sql_string(e->arena, &p, end);
        if (!code || !label || !related || related[0] != '{')
            break;
        s->code = code;
        for (char *r = strtok(related + 1, ",}"); r && s->n_related < S_RELATED_MAX;
             r = strtok(NULL, ",}"))
            s->related[s->n_related++] = r;
        e->n_sectors++;
    }
    free(sql);
    return e->n_sectors ? 0 : -1;
}

static const s_sector_t *s_sector(const s_eval_t *e, const char *code)
{
    for (size_t i = 0; i < e->n_sectors; i++)
        if (strcmp(e->sectors[i].code, code) == 0)
            return &e->sectors[i];
    return NULL;
}

/* ---- the set ---- */

static char *s_dup(void *ctx, const char *s)
{
    return tb_arena_strdup(ctx, s);
}

/*  One line of requests.jsonl into an item, converted, normalised and
    checked as tb-intake would (a request intake refuses measures nothing).
    expires_at is not checked: a date in the set must not rot the test. */
static int s_parse_request(s_eval_t *e, const char *file, int line, char *json)
{
    json_error_t jerr;
    json_t *doc = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        fprintf(stderr, "eval: %s:%d: not JSON: %s\n", file, line, jerr.text);
        return -1;
    }
    static tb_violations_t v;
    memset(&v, 0, sizeof v);
    Techbridge__Request *r = tb_json_to_request(e->arena, doc, &v, NULL, NULL);
    json_decref(doc);
    if (r && v.count == 0 && tb_valid_normalise(r, s_dup, e->arena) != 0)
        r = NULL; /* out of memory */
    if (r && v.count == 0)
        tb_valid_request(r, &tb_default_sectors, tb_now_ms(), &v);
    size_t real = 0;
    for (size_t i = 0; i < v.count; i++) {
        if (strcmp(v.items[i].field, "expires_at") == 0)
            continue;
        fprintf(stderr, "eval: %s:%d: %s: %s\n", file, line, v.items[i].field,
                v.items[i].reason);
        real++;
    }
    if (!r || real)
        return -1;
    if (e->n_items == S_ITEMS_MAX) {
        fprintf(stderr, "eval: %s:%d: more than %d requests\n", file, line, S_ITEMS_MAX);
        return -1;
    }
    const char *ref = r->external_ref && *r->external_ref ? r->external_ref : r->id;
    if (!ref || !*ref) {
        fprintf(stderr, "eval: %s:%d: no external_ref\n", file, line);
        return -1;
    }
    for (size_t i = 0; i < e->n_items; i++)
        if (strcmp(e->items[i].ref, ref) == 0) {
            fprintf(stderr, "eval: %s:%d: ref %s twice\n", file, line, ref);
            return -1;
        }
    e->items[e->n_items++] = (s_item_t){.ref = ref, .req = r};
    return 0;
}

/*  Calls fn for each line of the file at `path` that is not blank, a '#'
    comment or (with `header`) a line starting with it. */
static int s_each_line(s_eval_t *e, const char *path, const char *header,
                       int (*fn)(s_eval_t *, const char *, int, char *))
{
    char *text = s_read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "eval: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0, line = 0;
    for (char *l = text, *next; rc == 0 && l && *l; l = next) {
        next = strchr(l, '\n');
        if (next)
            *next++ = '\0';
        line++;
        if (l[strspn(l, " \t\r")] == '\0' || l[0] == '#' ||
            (header && strncmp(l, header, strlen(header)) == 0))
            continue;
        rc = fn(e, path, line, l);
    }
    free(text);
    return rc;
}

static int s_load_requests(s_eval_t *e, const char *path)
{
    return s_each_line(e, path, NULL, s_parse_request);
}

static s_item_t *s_find(s_eval_t *e, const char *ref)
{
    for (size_t i = 0; i < e->n_items; i++)
        if (strcmp(e->items[i].ref, ref) == 0)
            return &e->items[i];
    return NULL;
}

/*  One `need_ref TAB offer_ref TAB kind` line; a header or '#' line is
    skipped by the caller. */
static int s_parse_pair(s_eval_t *e, const char *file, int line, char *l)
{
    char *f[3];
    size_t n = 0;
    for (char *t = strtok(l, "\t\r"); t && n < 3; t = strtok(NULL, "\t\r"))
        f[n++] = t;
    if (n != 3) {
        fprintf(stderr, "eval: %s:%d: want need_ref, offer_ref, kind\n", file, line);
        return -1;
    }
    s_item_t *need = s_find(e, f[0]), *offer = s_find(e, f[1]);
    bool cross = strcmp(f[2], "cross") == 0;
    const char *why = NULL;
    if (!need || need->req->kind != TECHBRIDGE__KIND__NEED)
        why = "no such NEED";
    else if (!offer || offer->req->kind != TECHBRIDGE__KIND__OFFER)
        why = "no such OFFER";
    else if (!cross && strcmp(f[2], "same") != 0)
        why = "kind is not cross|same";
    else if (e->n_pairs == S_PAIRS_MAX)
        why = "too many pairs";
    if (why) {
        fprintf(stderr, "eval: %s:%d: %s (%s, %s, %s)\n", file, line, why, f[0], f[1],
                f[2]);
        return -1;
    }
    for (size_t i = 0; i < e->n_pairs; i++)
        if (e->pairs[i].need == need && e->pairs[i].offer == offer) {
            fprintf(stderr, "eval: %s:%d: pair %s %s twice\n", file, line, f[0], f[1]);
            return -1;
        }
    e->pairs[e->n_pairs++] = (s_pair_t){.need = need, .offer = offer, .cross = cross};
    return 0;
}

static int s_load_pairs(s_eval_t *e, const char *path)
{
    return s_each_line(e, path, "need_ref", s_parse_pair);
}

/*  The set's invariants: its documented size, every need paired, every
    pair's kind true to the languages of its two requests (declared or
    detected). Returns NULL or the reason it fails. */
static const char *s_check_set(s_eval_t *e, char *why, size_t size)
{
    size_t needs = 0, offers = 0;
    for (size_t i = 0; i < e->n_items; i++) {
        needs += e->items[i].req->kind == TECHBRIDGE__KIND__NEED;
        offers += e->items[i].req->kind == TECHBRIDGE__KIND__OFFER;
    }
    if (needs != S_NEEDS || offers != S_OFFERS || needs + offers != e->n_items) {
        snprintf(why, size, "%zu requests: %zu needs and %zu offers, want %d and %d",
                 e->n_items, needs, offers, S_NEEDS, S_OFFERS);
        return why;
    }
    for (size_t i = 0; i < e->n_items; i++) {
        const s_item_t *it = &e->items[i];
        bool paired = it->req->kind != TECHBRIDGE__KIND__NEED;
        for (size_t k = 0; k < e->n_pairs && !paired; k++)
            paired = e->pairs[k].need == it;
        if (!paired) {
            snprintf(why, size, "need %s has no pair in pairs.tsv", it->ref);
            return why;
        }
    }
    for (size_t k = 0; k < e->n_pairs; k++) {
        const s_pair_t *p = &e->pairs[k];
        bool differ = p->need->text.language != p->offer->text.language;
        if (differ != p->cross) {
            snprintf(why, size, "pair %s %s is '%s' but the languages are %s and %s",
                     p->need->ref, p->offer->ref, p->cross ? "cross" : "same",
                     tb_lang_code(p->need->text.language),
                     tb_lang_code(p->offer->text.language));
            return why;
        }
    }
    return NULL;
}

/* ---- analysis ---- */

/*  The parts of a request's text, as tb-intake gives them to the analyser
    (services/intake/intake_terms.c): title, each keyword, summary. */
static size_t s_parts(const Techbridge__Request *r, const char **parts, size_t *bytes)
{
    size_t n = 0;
    parts[n++] = r->title;
    for (size_t i = 0; i < r->n_keywords && i < TB_KEYWORDS_MAX; i++)
        parts[n++] = r->keywords[i];
    parts[n++] = r->summary;
    *bytes = 0;
    for (size_t i = 0; i < n; i++)
        *bytes += parts[i] ? strlen(parts[i]) : 0;
    return n;
}

static tb_lang_t s_declared(const Techbridge__Request *r)
{
    tb_lang_t lang = TB_LANG_UNKNOWN;
    if (r->language && *r->language)
        tb_lang_parse(r->language, &lang); /* validated when read */
    return lang;
}

/*  Analyses one request and builds its scorer side: terms are the words plus
    "#" + id per concept, as tb-intake stores them for matching. */
static int s_analyse(s_eval_t *e, s_item_t *it)
{
    const Techbridge__Request *r = it->req;
    const char *parts[TB_KEYWORDS_MAX + 2];
    size_t n = s_parts(r, parts, &it->bytes);
    tb_text_result_t *t = &it->text;
    if (tb_text_analyse(e->text, e->arena, parts, n, s_declared(r), 0, t) != 0)
        return -1;
    size_t nt = t->n_terms + t->n_concepts;
    it->terms = tb_arena_alloc(e->arena, sizeof(char *) * (nt ? nt : 1));
    it->coop = tb_arena_alloc(e->arena, sizeof(int) * (r->n_cooperation + 1));
    if (!it->terms || !it->coop)
        return -1;
    for (size_t i = 0; i < t->n_terms; i++)
        it->terms[i] = t->terms[i];
    for (size_t i = 0; i < t->n_concepts; i++) {
        it->terms[t->n_terms + i] =
            tb_arena_printf(e->arena, "%c%s", MATCHING_CONCEPT_MARK, t->concepts[i]);
        if (!it->terms[t->n_terms + i])
            return -1;
    }
    for (size_t i = 0; i < r->n_cooperation; i++)
        it->coop[i] = (int)r->cooperation[i];
    const s_sector_t *sec = s_sector(e, r->sector);
    matching_side_t *s = &it->side;
    *s = (matching_side_t){
        .id = it->ref,
        .org_id = r->org ? r->org->id : "",
        .country = r->org ? r->org->country : "",
        .sector = r->sector,
        .sector_related = sec ? (const char *const *)sec->related : NULL,
        .n_sector_related = sec ? sec->n_related : 0,
        .terms = it->terms,
        .n_terms = nt,
        .concepts = (const char *const *)t->concepts,
        .phrases = (const char *const *)t->phrases,
        .n_concepts = t->n_concepts,
        .trl = r->trl,
        .cooperation = it->coop,
        .n_cooperation = r->n_cooperation,
        .target_countries = (const char *const *)r->target_countries,
        .n_target_countries = r->n_target_countries,
    };
    return 0;
}

/*  Document frequencies over every request of the set (each counted once
    per request), as if all were published: the sorted, counted union. */
static int s_build_df(s_eval_t *e)
{
    size_t total = 0;
    for (size_t i = 0; i < e->n_items; i++)
        total += e->items[i].side.n_terms;
    const char **all = malloc(sizeof(char *) * (total ? total : 1));
    e->df = tb_arena_alloc(e->arena, sizeof(s_df_t) * (total ? total : 1));
    if (!all || !e->df) {
        free(all);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < e->n_items; i++)
        for (size_t k = 0; k < e->items[i].side.n_terms; k++)
            all[n++] = e->items[i].side.terms[k];
    /*  A request's terms are distinct already (tb_text dedups words and
        concepts, and "#" never starts a word), so each run's length is the
        number of requests holding the term. */
    qsort(all, n, sizeof *all, s_cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (e->n_df && strcmp(e->df[e->n_df - 1].term, all[i]) == 0)
            e->df[e->n_df - 1].df++;
        else
            e->df[e->n_df++] = (s_df_t){all[i], 1};
    }
    free(all);
    return 0;
}

static int s_cmp_df(const void *key, const void *elem)
{
    return strcmp(key, ((const s_df_t *)elem)->term);
}

static long s_df(const char *term, void *arg)
{
    const s_eval_t *e = arg;
    const s_df_t *d = bsearch(term, e->df, e->n_df, sizeof *e->df, s_cmp_df);
    return d ? d->df : 0;
}

/* ---- ranking ---- */

typedef struct {
    const s_item_t *offer;
    double score;
    bool matchable;
    bool intended; /* for the need being ranked */
} s_scored_t;

static int s_cmp_scored(const void *a, const void *b)
{
    const s_scored_t *x = a, *y = b;
    if (x->matchable != y->matchable)
        return x->matchable ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->offer->ref, y->offer->ref);
}

static bool s_intended(const s_eval_t *e, const s_item_t *need, const s_item_t *offer)
{
    for (size_t k = 0; k < e->n_pairs; k++)
        if (e->pairs[k].need == need && e->pairs[k].offer == offer)
            return true;
    return false;
}

/*  Scores every offer against one need, and fills the need's pairs: rank,
    the offer ranked first and the intended pair's result. */
static int s_rank_need(s_eval_t *e, const s_item_t *need, const matching_corpus_t *corpus)
{
    s_scored_t sc[S_ITEMS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < e->n_items; i++) {
        const s_item_t *o = &e->items[i];
        if (o->req->kind != TECHBRIDGE__KIND__OFFER)
            continue;
        matching_result_t res;
        if (matching_score(&o->side, &need->side, corpus, &res) != 0)
            return -1;
        sc[n++] = (s_scored_t){o, res.score, res.matchable, s_intended(e, need, o)};
        for (size_t k = 0; k < e->n_pairs; k++)
            if (e->pairs[k].need == need && e->pairs[k].offer == o)
                e->pairs[k].res = res;
    }
    qsort(sc, n, sizeof *sc, s_cmp_scored);
    for (size_t k = 0; k < e->n_pairs; k++) {
        s_pair_t *p = &e->pairs[k];
        if (p->need != need)
            continue;
        p->top = n && sc[0].matchable ? sc[0].offer : NULL;
        p->top_score = p->top ? sc[0].score : 0;
        p->rival_score = -1; /* none matchable */
        for (size_t i = 0; i < n && sc[i].matchable; i++)
            if (!sc[i].intended) {
                p->rival_score = sc[i].score;
                break;
            }
        size_t above = 0;
        for (size_t i = 0; i < n && sc[i].matchable; i++) {
            if (sc[i].offer == p->offer) {
                p->rank = above + 1;
                break;
            }
            above += !sc[i].intended;
        }
    }
    return 0;
}

/* ---- output ---- */

typedef struct {
    size_t pairs, top1;
    double rr;
} s_tally_t;

/*  Prints the summary table; returns cross-language top-1 (-1 without pairs). */
static double s_print_summary(const s_eval_t *e)
{
    s_tally_t t[3] = {{0}}; /* same, cross, all */
    for (size_t k = 0; k < e->n_pairs; k++) {
        const s_pair_t *p = &e->pairs[k];
        s_tally_t *g[2] = {&t[p->cross ? 1 : 0], &t[2]};
        for (int i = 0; i < 2; i++) {
            g[i]->pairs++;
            g[i]->top1 += p->rank == 1;
            g[i]->rr += p->rank ? 1.0 / (double)p->rank : 0.0;
        }
    }
    const char *names[3] = {"same", "cross", "all"};
    printf("%-6s %6s %7s %7s\n", "pairs", "n", "top-1", "MRR");
    for (int i = 0; i < 3; i++) {
        if (t[i].pairs == 0) {
            printf("%-6s %6zu %7s %7s  (no pairs of this kind)\n", names[i], t[i].pairs,
                   "n/a", "n/a");
            continue;
        }
        printf("%-6s %6zu %7.3f %7.3f\n", names[i], t[i].pairs,
               (double)t[i].top1 / (double)t[i].pairs, t[i].rr / (double)t[i].pairs);
    }
    return t[1].pairs ? (double)t[1].top1 / (double)t[1].pairs : -1.0;
}

/*  Prints the concept ids both requests name (both lists are sorted);
    returns how many. Computed here rather than read from the result's
    reasons, which list at most MATCHING_SHARED_MAX of them. */
static size_t s_print_shared(const s_item_t *a, const s_item_t *b)
{
    size_t n = 0;
    for (size_t i = 0, j = 0; i < a->text.n_concepts && j < b->text.n_concepts;) {
        int c = strcmp(a->text.concepts[i], b->text.concepts[j]);
        if (c == 0) {
            printf(" %s", a->text.concepts[i]);
            n++;
        }
        i += c <= 0;
        j += c >= 0;
    }
    return n;
}

static void s_print_pairs(const s_eval_t *e)
{
    printf("\n%-14s %-18s %-5s %4s %7s %5s %7s  %-18s %7s  %s\n", "need", "intended",
           "kind", "rank", "score", "text", "rival", "top-1 offer", "score",
           "shared concepts (intended pair)");
    for (size_t k = 0; k < e->n_pairs; k++) {
        const s_pair_t *p = &e->pairs[k];
        char rank[24], rival[24];
        if (p->rival_score >= 0)
            snprintf(rival, sizeof rival, "%.4f", p->rival_score);
        else
            snprintf(rival, sizeof rival, "-");
        if (p->rank)
            snprintf(rank, sizeof rank, "%zu", p->rank);
        else
            snprintf(rank, sizeof rank, "-");
        /*  The text value, beside the score: below MATCHING_MIN_TEXT a pair
            is no match, so a value near it is a pass that hangs by a thread. */
        double text = 0;
        for (size_t i = 0; i < p->res.n_reasons; i++)
            if (strcmp(p->res.reasons[i].component, "text") == 0)
                text = p->res.reasons[i].value;
        printf("%-14s %-18s %-5s %4s %7.4f %5.2f %7s  %-18s %7.4f ", p->need->ref,
               p->offer->ref, p->cross ? "cross" : "same", rank, p->res.score, text,
               rival, p->top ? p->top->ref : "-", p->top_score);
        if (s_print_shared(p->need, p->offer) == 0)
            printf(" (none)");
        if (p->rank > 1 && p->res.score == p->top_score)
            printf("  [tie, lost on ref]");
        printf("%s\n", p->res.matchable ? "" : "  [not matchable]");
    }
}

static void s_print_concepts(const char *label, const s_item_t *it)
{
    printf("    %-7s %s [%s] %zu concepts:", label, it->ref,
           tb_lang_code(it->text.language), it->text.n_concepts);
    for (size_t i = 0; i < it->text.n_concepts; i++)
        printf(" %s(\"%s\")", it->text.concepts[i], it->text.phrases[i]);
    printf("\n");
}

/*  For each pair not at rank 1: what each side named, and why the winner won. */
static void s_print_explain(const s_eval_t *e)
{
    printf("\nexplain (pairs not at rank 1)\n");
    for (size_t k = 0; k < e->n_pairs; k++) {
        const s_pair_t *p = &e->pairs[k];
        if (p->rank == 1)
            continue;
        printf("  %s -> %s (rank %zu)\n", p->need->ref, p->offer->ref, p->rank);
        s_print_concepts("need", p->need);
        s_print_concepts("offer", p->offer);
        for (size_t i = 0; i < p->res.n_reasons; i++)
            printf("    intended %-11s %.3f  %s\n", p->res.reasons[i].component,
                   p->res.reasons[i].value, p->res.reasons[i].detail);
        if (p->top && p->top != p->offer) {
            s_print_concepts("top-1", p->top);
            matching_result_t res;
            matching_corpus_t corpus = {s_df, (void *)e, (long)e->n_items};
            if (matching_score(&p->top->side, &p->need->side, &corpus, &res) == 0)
                for (size_t i = 0; i < res.n_reasons; i++)
                    printf("    top-1    %-11s %.3f  %s\n", res.reasons[i].component,
                           res.reasons[i].value, res.reasons[i].detail);
        }
        printf("    need terms:");
        for (size_t i = 0; i < p->need->text.n_terms; i++)
            printf(" %s", p->need->text.terms[i]);
        printf("\n    offer terms:");
        for (size_t i = 0; i < p->offer->text.n_terms; i++)
            printf(" %s", p->offer->text.terms[i]);
        printf("\n");
    }
}

/* ---- analyser cost ---- */

/*  CPU time of this thread, in microseconds: on a shared machine (CI, a
    laptop building in the background) wall time measures the neighbours. */
static int64_t s_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/*  One pass: analyses every request in `lang` as s_analyse does. Returns
    its CPU time in microseconds, or -1. */
static int64_t s_pass(s_eval_t *e, tb_lang_t lang)
{
    /*  A fresh arena per pass: the service analyses each request into a
        fresh arena too, and a grown arena would be a different cost. */
    tb_arena_t *a = tb_arena_new(0);
    if (!a)
        return -1;
    int64_t t0 = s_cpu_us();
    for (size_t i = 0; i < e->n_items; i++) {
        const s_item_t *it = &e->items[i];
        if (it->text.language != lang)
            continue;
        const char *parts[TB_KEYWORDS_MAX + 2];
        size_t b, n = s_parts(it->req, parts, &b);
        tb_text_result_t r;
        if (tb_text_analyse(e->text, a, parts, n, s_declared(it->req), 0, &r) != 0) {
            tb_arena_destroy(&a);
            return -1;
        }
    }
    int64_t t = s_cpu_us() - t0;
    tb_arena_destroy(&a);
    return t;
}

/*  Microseconds per kB of text for the requests in `lang`: the median pass
    of as many as fill S_TIMING_US after one warm-up pass. The median, as a
    busy machine (other builds, CI neighbours) makes a few passes slow, not
    all. Returns -1 when the set has no text in that language or the
    analysis fails (*bytes_out tells which). */
static double s_cost(s_eval_t *e, tb_lang_t lang, size_t *bytes_out, long *passes_out)
{
    size_t bytes = 0;
    for (size_t i = 0; i < e->n_items; i++)
        if (e->items[i].text.language == lang)
            bytes += e->items[i].bytes;
    *bytes_out = bytes;
    *passes_out = 0;
    if (bytes == 0 || s_pass(e, lang) < 0)
        return -1;
    static int64_t t[S_PASSES_MAX];
    int64_t spent = 0;
    long n = 0;
    while (spent < S_TIMING_US && n < S_PASSES_MAX) {
        if ((t[n] = s_pass(e, lang)) < 0)
            return -1;
        spent += t[n++];
    }
    qsort(t, (size_t)n, sizeof t[0], s_cmp_i64);
    *passes_out = n;
    return (double)t[n / 2] / ((double)bytes / 1024.0);
}

static void s_print_cost(s_eval_t *e)
{
    const tb_lang_t langs[] = {TB_LANG_RU, TB_LANG_ZH, TB_LANG_EN, TB_LANG_BE};
    printf("\nanalyser us/kB:");
    char notes[512] = "";
    size_t nl = 0;
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        size_t bytes;
        long passes;
        double us = s_cost(e, langs[i], &bytes, &passes);
        if (langs[i] == TB_LANG_BE && bytes == 0)
            continue; /* Belarusian is optional in the set */
        printf("%s %s ", i ? "," : "", tb_lang_code(langs[i]));
        if (us < 0) {
            printf("n/a (%s)", bytes ? "analysis failed" : "no text in this language");
            continue;
        }
        printf("%.1f", us);
        nl += (size_t)snprintf(notes + nl, sizeof notes - nl, "%s%s %zu B, median of %ld",
                               nl ? ", " : "", tb_lang_code(langs[i]), bytes, passes);
        if (nl >= sizeof notes)
            nl = sizeof notes - 1;
    }
    printf("\n  (title, keywords, summary; flags 0, with the thesaurus; CPU time; %s)\n",
           notes);
}

/* ---- main ---- */

static int s_usage(void)
{
    fprintf(stderr,
            "usage: eval_languages [--thesaurus DIR] [--set DIR] [--sectors FILE]\n"
            "                      [--min-cross-top1 X] [--explain] [--concepts]\n"
            "                      [--no-timing]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *th_dir = TB_SOURCE_DIR "/deploy/thesaurus";
    const char *set_dir = TB_SOURCE_DIR "/bench/eval";
    const char *sectors = TB_SOURCE_DIR "/deploy/migrations/001_core.sql";
    double min_cross = -1;
    bool explain = false, timing = true, concepts = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--thesaurus") == 0 && has)
            th_dir = argv[++i];
        else if (strcmp(a, "--set") == 0 && has)
            set_dir = argv[++i];
        else if (strcmp(a, "--sectors") == 0 && has)
            sectors = argv[++i];
        else if (strcmp(a, "--min-cross-top1") == 0 && has)
            min_cross = atof(argv[++i]);
        else if (strcmp(a, "--explain") == 0)
            explain = true;
        else if (strcmp(a, "--concepts") == 0)
            concepts = true;
        else if (strcmp(a, "--no-timing") == 0)
            timing = false;
        else
            return s_usage();
    }
    static s_eval_t e;
    e.arena = tb_arena_new(0);
    e.text = tb_text_new();
    e.th = tb_thesaurus_new();
    if (!e.arena || !e.text || !e.th) {
        fprintf(stderr, "eval: cannot set up the analyser (ICU data?)\n");
        return 2;
    }
    int rc = 2;
    char why[256];
    const char *bad = NULL;
    char *req_path = tb_arena_printf(e.arena, "%s/requests.jsonl", set_dir);
    char *pairs_path = tb_arena_printf(e.arena, "%s/pairs.tsv", set_dir);
    if (s_load_thesaurus(&e, th_dir) != 0 || s_load_requests(&e, req_path) != 0 ||
        s_load_pairs(&e, pairs_path) != 0)
        goto done;
    bool have_sectors = s_load_sectors(&e, sectors) == 0;
    for (size_t i = 0; i < e.n_items; i++)
        if (s_analyse(&e, &e.items[i]) != 0) {
            fprintf(stderr, "eval: analysing %s failed\n", e.items[i].ref);
            goto done;
        }
    if ((bad = s_check_set(&e, why, sizeof why)) != NULL) {
        fprintf(stderr, "eval: the set is not what it must be: %s\n", bad);
        goto done;
    }
    if (s_build_df(&e) != 0)
        goto done;
    matching_corpus_t corpus = {s_df, &e, (long)e.n_items};
    for (size_t i = 0; i < e.n_items; i++)
        if (e.items[i].req->kind == TECHBRIDGE__KIND__NEED &&
            s_rank_need(&e, &e.items[i], &corpus) != 0)
            goto done;

    printf("eval_languages: %zu requests (%d needs, %d offers), %zu pairs; thesaurus "
           "%zu concepts from %zu file(s)%s%s; N = %zu\n",
           e.n_items, S_NEEDS, S_OFFERS, e.n_pairs, tb_thesaurus_size(e.th),
           e.files_loaded, e.files_skipped ? ", SKIPPED " : "",
           e.files_skipped ? "some (see stderr)" : "", e.n_items);
    if (have_sectors)
        printf("sector related lists: %zu sectors from %s\n\n", e.n_sectors, sectors);
    else
        printf("sector related lists: EMPTY (could not read INSERT INTO sectors of %s); "
               "related sectors score 0\n\n",
               sectors);
    double cross = s_print_summary(&e);
    s_print_pairs(&e);
    if (explain)
        s_print_explain(&e);
    if (concepts) {
        printf("\nconcepts per request\n");
        for (size_t i = 0; i < e.n_items; i++)
            s_print_concepts("", &e.items[i]);
    }
    if (timing)
        s_print_cost(&e);
    rc = 0;
    if (min_cross >= 0 && cross < min_cross) {
        printf("\nFAIL: cross-language top-1 %.3f < %.3f\n", cross, min_cross);
        rc = 1;
    }
done:
    tb_text_destroy(&e.text);
    tb_thesaurus_destroy(&e.th);
    tb_arena_destroy(&e.arena);
    return rc;
}
