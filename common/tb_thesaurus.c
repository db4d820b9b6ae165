/*  tb_thesaurus: see tb_thesaurus.h. */
#include "tb_thesaurus.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include "tb_arena.h"
#include "tb_valid.h"

typedef struct {
    char *id, *source, *file;
    char **sectors;
    size_t n_sectors;
    char **labels[TB_LANG_COUNT];
    size_t n_labels[TB_LANG_COUNT], cap_labels[TB_LANG_COUNT];
    int line;
} s_concept_t;

/*  What an index key is: a word label's key, a Chinese label, a concept id. */
/*  Also two filters that let the analyser stop early: every proper prefix of
    a Chinese label, and every word of a word label. */
enum { S_KEY_WORDS, S_KEY_HAN, S_KEY_ID, S_KEY_HAN_PREFIX, S_KEY_WORD };

/*  Index slot: one key and the concepts that have it (a run of postings). */
typedef struct {
    const char *key;
    uint32_t len;
    uint32_t first; /* index into postings */
    uint32_t n;
    uint8_t kind; /* S_KEY_* */
} s_slot_t;

struct tb_thesaurus_t {
    tb_arena_t *arena; /* every string and the concepts' arrays */
    s_concept_t *concepts;
    size_t n, cap;
    tb_concept_t *views; /* the public view of each concept, made by index */
    s_slot_t *slots;     /* open addressing, power-of-two size; key NULL = empty */
    size_t n_slots, used;
    uint32_t *postings; /* concept indices, grouped per slot */
    size_t max_words, max_han;
    bool indexed;
    int64_t version;
};

static s_slot_t *s_slot(const tb_thesaurus_t *self, const char *key, size_t len,
                        int kind);

tb_thesaurus_t *tb_thesaurus_new(void)
{
    tb_thesaurus_t *self = calloc(1, sizeof *self);
    if (self && !(self->arena = tb_arena_new(0)))
        tb_thesaurus_destroy(&self);
    return self;
}

void tb_thesaurus_destroy(tb_thesaurus_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_thesaurus_t *self = *self_p;
    tb_arena_destroy(&self->arena);
    free(self->concepts);
    free(self->views);
    free(self->slots);
    free(self->postings);
    free(self);
    *self_p = NULL;
}

size_t tb_thesaurus_size(const tb_thesaurus_t *self)
{
    return self->n;
}

int64_t tb_thesaurus_version(const tb_thesaurus_t *self)
{
    return self->version;
}

void tb_thesaurus_set_version(tb_thesaurus_t *self, int64_t version)
{
    self->version = version;
}

size_t tb_thesaurus_max_words(const tb_thesaurus_t *self)
{
    return self->max_words;
}

size_t tb_thesaurus_max_han(const tb_thesaurus_t *self)
{
    return self->max_han;
}

const tb_concept_t *tb_thesaurus_concept(const tb_thesaurus_t *self, size_t i)
{
    return self->indexed && i < self->n ? &self->views[i] : NULL;
}

const char *tb_concept_name(const tb_concept_t *c, tb_lang_t lang)
{
    if (lang > TB_LANG_UNKNOWN && lang < TB_LANG_COUNT && c->n_labels[lang])
        return c->labels[lang][0];
    return c->n_labels[TB_LANG_EN] ? c->labels[TB_LANG_EN][0] : c->id;
}

/* ------------------------------------------------------------------------ */
/*  Building                                                                */

static s_concept_t *s_find(const tb_thesaurus_t *self, const char *id)
{
    for (size_t i = 0; i < self->n; i++) /* used while building only */
        if (strcmp(self->concepts[i].id, id) == 0)
            return &self->concepts[i];
    return NULL;
}

static s_concept_t *s_new_concept(tb_thesaurus_t *self, const char *id,
                                  const char *source, const char *file, int line)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        s_concept_t *p = realloc(self->concepts, cap * sizeof *p);
        if (!p)
            return NULL;
        self->concepts = p;
        self->cap = cap;
    }
    s_concept_t *c = &self->concepts[self->n];
    memset(c, 0, sizeof *c);
    c->id = tb_arena_strdup(self->arena, id);
    c->source = tb_arena_strdup(self->arena, source);
    c->file = tb_arena_strdup(self->arena, file ? file : "");
    c->line = line;
    if (!c->id || !c->source || !c->file)
        return NULL;
    self->n++;
    return c;
}

static int s_add_label(tb_thesaurus_t *self, s_concept_t *c, tb_lang_t lang,
                       const char *label, size_t len)
{
    if (c->n_labels[lang] == c->cap_labels[lang]) {
        size_t cap = c->cap_labels[lang] ? c->cap_labels[lang] * 2 : 4;
        char **p = tb_arena_alloc(self->arena, cap * sizeof *p);
        if (!p)
            return -1;
        if (c->n_labels[lang])
            memcpy(p, c->labels[lang], c->n_labels[lang] * sizeof *p);
        c->labels[lang] = p;
        c->cap_labels[lang] = cap;
    }
    char *copy = tb_arena_strndup(self->arena, label, len);
    if (!copy)
        return -1;
    c->labels[lang][c->n_labels[lang]++] = copy;
    return 0;
}

int tb_thesaurus_add(tb_thesaurus_t *self, const char *id, const char *source,
                     tb_lang_t lang, const char *label)
{
    if (self->indexed || lang <= TB_LANG_UNKNOWN || lang >= TB_LANG_COUNT)
        return -1;
    s_concept_t *c = self->n && strcmp(self->concepts[self->n - 1].id, id) == 0
                         ? &self->concepts[self->n - 1]
                         : s_find(self, id);
    if (!c && !(c = s_new_concept(self, id, source, "", 0)))
        return -1;
    return s_add_label(self, c, lang, label, strlen(label));
}

const tb_concept_t *tb_thesaurus_find(const tb_thesaurus_t *self, const char *id)
{
    if (!self->indexed || !self->n_slots)
        return NULL;
    const s_slot_t *s = s_slot(self, id, strlen(id), S_KEY_ID);
    return s->key ? &self->views[self->postings[s->first]] : NULL;
}

/* ------------------------------------------------------------------------ */
/*  Parsing                                                                 */

typedef struct {
    char *buf;
    size_t len, cap;
    int count;
} s_errors_t;

static int s_error(s_errors_t *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_error(s_errors_t *e, const char *file, int line, const char *fmt, ...)
{
    e->count++;
    if (e->count > TB_THESAURUS_ERRORS_MAX)
        return 0;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line_buf[768];
    int n =
        e->count == TB_THESAURUS_ERRORS_MAX
            ? snprintf(line_buf, sizeof line_buf, "%s: more errors not listed\n", file)
            : snprintf(line_buf, sizeof line_buf, "%s:%d: %s\n", file, line, msg);
    if (n < 0)
        return -1;
    size_t add = (size_t)n < sizeof line_buf ? (size_t)n : sizeof line_buf - 1;
    if (e->len + add + 1 > e->cap) {
        size_t cap = (e->cap + add + 1) * 2;
        char *p = realloc(e->buf, cap);
        if (!p)
            return -1;
        e->buf = p;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, line_buf, add);
    e->len += add;
    e->buf[e->len] = '\0';
    return 0;
}

static char *s_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

static bool s_name_ok(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
              strchr(extra, *s)))
            return false;
    return true;
}

/*  DOMAIN.NAME: [a-z0-9_], one dot, not at either end, 3..64 characters. */
static bool s_id_ok(const char *id)
{
    const char *dot = strchr(id, '.');
    return s_name_ok(id, TB_THESAURUS_ID_MAX, "._") && strlen(id) >= 3 && dot &&
           dot != id && dot[1] && !strchr(dot + 1, '.');
}

static size_t s_chars(const char *s, size_t len, size_t *han)
{
    size_t n = 0;
    *han = 0;
    for (int32_t i = 0; i < (int32_t)len;) {
        UChar32 c;
        U8_NEXT(s, i, (int32_t)len, c);
        UErrorCode err = U_ZERO_ERROR;
        if (c >= 0 && uscript_getScript(c, &err) == USCRIPT_HAN)
            (*han)++;
        n++;
    }
    return n;
}

typedef struct {
    tb_thesaurus_t *self;
    const char *file;
    const char *source;
    s_errors_t *errors;
    size_t first;     /* concepts of this file start here */
    s_concept_t *cur; /* the concept being read */
    bool seen[TB_LANG_COUNT];
} s_parse_t;

static int s_check_done(s_parse_t *p)
{
    if (!p->cur)
        return 0;
    static const tb_lang_t required[] = {TB_LANG_EN, TB_LANG_RU, TB_LANG_ZH};
    for (size_t k = 0; k < 3; k++)
        if (!p->cur->n_labels[required[k]] &&
            s_error(p->errors, p->file, p->cur->line, "concept %s has no %s labels",
                    p->cur->id, tb_lang_code(required[k])))
            return -1;
    return 0;
}

static int s_parse_header(s_parse_t *p, char *line, int no)
{
    if (s_check_done(p))
        return -1;
    p->cur = NULL;
    memset(p->seen, 0, sizeof p->seen);
    char *close = strchr(line, ']');
    if (!close)
        return s_error(p->errors, p->file, no, "a concept header is [ID] SECTOR...");
    *close = '\0';
    char *id = line + 1;
    if (!s_id_ok(id))
        return s_error(p->errors, p->file, no,
                       "concept id \"%.80s\" is not DOMAIN.NAME of [a-z0-9_], 3..64 "
                       "characters",
                       id);
    s_concept_t *dup = s_find(p->self, id);
    if (dup)
        return s_error(p->errors, p->file, no, "concept %s is already defined at %s:%d",
                       id, *dup->file ? dup->file : dup->source, dup->line);
    s_concept_t *c = s_new_concept(p->self, id, p->source, p->file, no);
    if (!c)
        return -1;
    char *save = NULL;
    char *sectors[TB_THESAURUS_SECTORS_MAX + 1];
    size_t n = 0;
    for (char *tok = strtok_r(close + 1, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        if (!s_name_ok(tok, 64, "_"))
            return s_error(p->errors, p->file, no, "\"%.80s\" is not a sector code", tok);
        if (n == TB_THESAURUS_SECTORS_MAX)
            return s_error(p->errors, p->file, no, "more than %d sectors",
                           TB_THESAURUS_SECTORS_MAX);
        sectors[n++] = tok;
    }
    if (n) {
        c->sectors = tb_arena_alloc(p->self->arena, n * sizeof *c->sectors);
        if (!c->sectors)
            return -1;
        for (size_t k = 0; k < n; k++)
            if (!(c->sectors[k] = tb_arena_strdup(p->self->arena, sectors[k])))
                return -1;
        c->n_sectors = n;
    }
    p->cur = c;
    return 0;
}

static int s_parse_label(s_parse_t *p, tb_lang_t lang, char *label, int no)
{
    size_t len = strlen(label), han;
    size_t chars = s_chars(label, len, &han);
    if (chars < TB_THESAURUS_LABEL_MIN || chars > TB_THESAURUS_LABEL_MAX)
        return s_error(p->errors, p->file, no, "label \"%.80s\" is not %d..%d characters",
                       label, TB_THESAURUS_LABEL_MIN, TB_THESAURUS_LABEL_MAX);
    if (strpbrk(label, "[]#"))
        return s_error(p->errors, p->file, no, "label \"%.80s\" holds [, ] or #", label);
    if (lang == TB_LANG_ZH && han == 1)
        return s_error(p->errors, p->file, no,
                       "Chinese label \"%s\" has one Han character: it would be found "
                       "in too many texts",
                       label);
    if (p->cur->n_labels[lang] == TB_THESAURUS_LABELS_MAX)
        return s_error(p->errors, p->file, no, "more than %d %s labels",
                       TB_THESAURUS_LABELS_MAX, tb_lang_code(lang));
    return s_add_label(p->self, p->cur, lang, label, len);
}

static int s_parse_labels(s_parse_t *p, char *line, int no)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return s_error(p->errors, p->file, no, "expected LANG = label | label ...");
    *eq = '\0';
    tb_lang_t lang;
    char *code = s_trim(line);
    if (tb_lang_parse(code, &lang))
        return s_error(p->errors, p->file, no,
                       "\"%.16s\" is not a language of ours (en, ru, be, zh)", code);
    if (!p->cur)
        return s_error(p->errors, p->file, no, "labels before any [concept]");
    if (p->seen[lang])
        return s_error(p->errors, p->file, no, "a second %s line for %s", code,
                       p->cur->id);
    p->seen[lang] = true;
    int empty = 0;
    char *rest = eq + 1;
    for (char *bar; rest; rest = bar) {
        if ((bar = strchr(rest, '|')))
            *bar++ = '\0';
        char *label = s_trim(rest);
        if (!*label) {
            empty++;
            continue;
        }
        if (s_parse_label(p, lang, label, no))
            return -1;
    }
    if (empty)
        return s_error(p->errors, p->file, no, "an empty label");
    return 0;
}

static int s_parse_line(s_parse_t *p, char *line, int no, int *directives)
{
    if (*directives < 2) {
        const char *want = *directives == 0 ? "@format " : "@source ";
        if (strncmp(line, want, 8) != 0) {
            s_error(p->errors, p->file, no, "expected \"%s...\" here",
                    *directives == 0 ? "@format " TB_THESAURUS_FORMAT : "@source NAME");
            return 1; /* nothing else in the file can be read right */
        }
        char *value = s_trim(line + 8);
        if (*directives == 0 && strcmp(value, TB_THESAURUS_FORMAT) != 0) {
            s_error(p->errors, p->file, no, "unknown format \"%.40s\" (this is \"%s\")",
                    value, TB_THESAURUS_FORMAT);
            return 1;
        }
        if (*directives == 1) {
            if (!s_name_ok(value, TB_THESAURUS_SOURCE_MAX, "._-")) {
                s_error(p->errors, p->file, no,
                        "source \"%.80s\" is not 1..64 characters of [a-z0-9._-]", value);
                return 1;
            }
            if (!(p->source = tb_arena_strdup(p->self->arena, value)))
                return -1;
        }
        (*directives)++;
        return 0;
    }
    if (line[0] == '[')
        return s_parse_header(p, line, no);
    if (line[0] == '@')
        return s_error(p->errors, p->file, no, "unknown directive");
    if (!p->cur && strchr(line, '=') == NULL)
        return s_error(p->errors, p->file, no, "expected a [concept] header");
    return s_parse_labels(p, line, no);
}

#define S_LINE_MAX 4096

int tb_thesaurus_parse(tb_thesaurus_t *self, const char *text, size_t len,
                       const char *file, const char **source, char **errors)
{
    s_errors_t e = {.buf = *errors, .len = *errors ? strlen(*errors) : 0};
    e.cap = e.len ? e.len + 1 : 0;
    s_parse_t p = {.self = self, .file = file, .errors = &e, .first = self->n};
    int directives = 0, no = 0, rc = 0;
    char line[S_LINE_MAX + 1];
    if (self->indexed)
        return -1;
    for (size_t at = 0; at < len && rc == 0;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - text - at) : len - at;
        no++;
        if (n > S_LINE_MAX) {
            rc = s_error(&e, file, no, "line longer than %d bytes", S_LINE_MAX);
        } else if (!tb_valid_utf8(text + at, n)) {
            rc = s_error(&e, file, no, "not valid UTF-8 text");
        } else {
            memcpy(line, text + at, n);
            line[n] = '\0';
            char *l = s_trim(line);
            if (*l && *l != '#')
                rc = s_parse_line(&p, l, no, &directives);
        }
        at += n + 1;
    }
    if (rc == 0 && directives < 2)
        rc = s_error(&e, file, no, "no @format and @source lines");
    if (rc == 0)
        rc = s_check_done(&p);
    *errors = e.buf;
    if (rc < 0)
        return -1;
    if (e.count) {
        self->n = p.first; /* whole or not at all (their arena bytes stay) */
        return e.count;
    }
    *source = p.source;
    return 0;
}

/* ------------------------------------------------------------------------ */
/*  The index                                                               */

static uint64_t s_hash(const char *s, size_t len, int kind)
{
    uint64_t h = 1469598103934665603ULL + (uint64_t)kind * 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static s_slot_t *s_slot(const tb_thesaurus_t *self, const char *key, size_t len, int kind)
{
    size_t mask = self->n_slots - 1;
    for (size_t i = s_hash(key, len, kind) & mask;; i = (i + 1) & mask) {
        s_slot_t *s = &self->slots[i];
        if (!s->key ||
            (s->kind == kind && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

static bool s_has(const tb_thesaurus_t *self, const char *key, size_t len, int kind)
{
    return self->indexed && self->n_slots && s_slot(self, key, len, kind)->key;
}

bool tb_thesaurus_han_prefix(const tb_thesaurus_t *self, const char *s, size_t len)
{
    return s_has(self, s, len, S_KEY_HAN_PREFIX);
}

bool tb_thesaurus_has_word(const tb_thesaurus_t *self, const char *term)
{
    return s_has(self, term, strlen(term), S_KEY_WORD);
}

void tb_thesaurus_lookup(const tb_thesaurus_t *self, const char *key, size_t len,
                         bool han, const uint32_t **ids, size_t *n)
{
    *n = 0;
    *ids = NULL;
    if (!self->indexed || !self->n_slots)
        return;
    const s_slot_t *s = s_slot(self, key, len, han ? S_KEY_HAN : S_KEY_WORDS);
    if (s->key) {
        *ids = self->postings + s->first;
        *n = s->n;
    }
}

typedef struct {
    char *key;
    int kind;
    uint32_t concept;
} s_entry_t;

static int s_cmp_entry(const void *a, const void *b)
{
    const s_entry_t *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind - y->kind;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->concept > y->concept) - (x->concept < y->concept);
}

typedef struct {
    s_entry_t *v;
    size_t n, cap;
} s_entries_t;

static int s_push(s_entries_t *e, char *key, int kind, uint32_t concept)
{
    if (!key)
        return -1;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 1024;
        s_entry_t *p = realloc(e->v, cap * sizeof *p);
        if (!p)
            return -1;
        e->v = p;
        e->cap = cap;
    }
    e->v[e->n++] = (s_entry_t){key, kind, concept};
    return 0;
}

/*  The filter entries of a label's key: its Chinese prefixes, or its words. */
static int s_filters(tb_thesaurus_t *self, s_entries_t *e, const char *key, bool han,
                     uint32_t concept)
{
    size_t len = strlen(key);
    if (han) {
        int32_t at = 0, chars = 0;
        while (at < (int32_t)len) {
            U8_FWD_1(key, at, (int32_t)len);
            if (++chars >= 2 && at < (int32_t)len &&
                s_push(e, tb_arena_strndup(self->arena, key, (size_t)at),
                       S_KEY_HAN_PREFIX, concept))
                return -1;
        }
        return 0;
    }
    for (const char *w = key; *w;) {
        size_t n = strcspn(w, " ");
        if (s_push(e, tb_arena_strndup(self->arena, w, n), S_KEY_WORD, concept))
            return -1;
        w += n + (w[n] == ' ');
    }
    return 0;
}

/*  A label's key (tb_text_label_key) kept in the thesaurus's arena. The
    analysis runs in an arena of its own, freed at once: its working arrays
    (a word array of 64 entries per label, the normalised text) left in the
    thesaurus's arena were 16 of its 17 MiB with the shipped files. */
static int s_label_key(tb_thesaurus_t *self, tb_text_t *an, const char *label,
                       tb_lang_t lang, char **key, bool *han, size_t *words)
{
    tb_arena_t *scratch = tb_arena_new(0);
    if (!scratch)
        return -1;
    char *k = NULL;
    int rc = tb_text_label_key(an, scratch, label, lang, &k, han, words);
    *key = NULL;
    if (rc == 0 && k && !(*key = tb_arena_strdup(self->arena, k)))
        rc = -1;
    tb_arena_destroy(&scratch);
    return rc;
}

/*  Every (key, concept) of every label, its filters, and each concept's id. */
static int s_entries(tb_thesaurus_t *self, tb_text_t *an, s_errors_t *e, s_entry_t **out,
                     size_t *n_out)
{
    s_entries_t all = {0};
    for (size_t i = 0; i < self->n; i++) {
        s_concept_t *c = &self->concepts[i];
        if (s_push(&all, c->id, S_KEY_ID, (uint32_t)i))
            goto fail;
        for (int l = 1; l < TB_LANG_COUNT; l++)
            for (size_t k = 0; k < c->n_labels[l]; k++) {
                char *key;
                bool han;
                size_t words;
                if (s_label_key(self, an, c->labels[l][k], (tb_lang_t)l, &key, &han,
                                &words))
                    goto fail;
                if (!key) {
                    if (s_error(e, *c->file ? c->file : c->source, c->line,
                                "label \"%s\" of %s analyses to nothing (stop words "
                                "only) or to more than %d words",
                                c->labels[l][k], c->id, TB_THESAURUS_WORDS_MAX))
                        goto fail;
                    continue;
                }
                size_t size = han ? strlen(key) : words; /* bytes; chars below */
                if (han) {
                    size_t h;
                    size = s_chars(key, strlen(key), &h);
                    if (size > TB_THESAURUS_HAN_MAX)
                        continue;
                    if (size > self->max_han)
                        self->max_han = size;
                } else if (words > self->max_words) {
                    self->max_words = words;
                }
                if (s_push(&all, key, han ? S_KEY_HAN : S_KEY_WORDS, (uint32_t)i) ||
                    s_filters(self, &all, key, han, (uint32_t)i))
                    goto fail;
            }
    }
    *out = all.v;
    *n_out = all.n;
    return 0;
fail:
    free(all.v);
    return -1;
}

/*  The public view of each concept. */
static int s_views(tb_thesaurus_t *self)
{
    self->views = calloc(self->n ? self->n : 1, sizeof *self->views);
    if (!self->views)
        return -1;
    for (size_t i = 0; i < self->n; i++) {
        const s_concept_t *c = &self->concepts[i];
        tb_concept_t *v = &self->views[i];
        *v = (tb_concept_t){.id = c->id,
                            .source = c->source,
                            .sectors = (const char *const *)c->sectors,
                            .n_sectors = c->n_sectors,
                            .file = c->file,
                            .line = c->line};
        for (int l = 0; l < TB_LANG_COUNT; l++) {
            v->labels[l] = (const char *const *)c->labels[l];
            v->n_labels[l] = c->n_labels[l];
        }
    }
    return 0;
}

int tb_thesaurus_index(tb_thesaurus_t *self, tb_text_t *analyser, char **errors)
{
    if (self->indexed)
        return 0;
    s_errors_t e = {.buf = errors ? *errors : NULL};
    e.len = e.buf ? strlen(e.buf) : 0;
    e.cap = e.len ? e.len + 1 : 0;
    s_entry_t *entries;
    size_t n;
    int rc = s_entries(self, analyser, &e, &entries, &n);
    if (errors)
        *errors = e.buf;
    else
        free(e.buf);
    if (rc)
        return -1;
    if (n) /* an empty thesaurus (none loaded yet) has no entries at all */
        qsort(entries, n, sizeof *entries, s_cmp_entry);
    /*  Sized for the distinct keys (the entries repeat a key once per
        concept that has it), at most half full. */
    size_t keys = 0;
    for (size_t i = 0; i < n; i++)
        keys += i == 0 || entries[i].kind != entries[i - 1].kind ||
                strcmp(entries[i].key, entries[i - 1].key) != 0;
    size_t slots = 16;
    while (slots < keys * 2)
        slots *= 2;
    self->slots = calloc(slots, sizeof *self->slots);
    self->postings = malloc((n ? n : 1) * sizeof *self->postings);
    if (!self->slots || !self->postings) {
        free(entries);
        return -1;
    }
    self->n_slots = slots;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(entries[i].key);
        s_slot_t *s = s_slot(self, entries[i].key, len, entries[i].kind);
        if (!s->key)
            *s = (s_slot_t){entries[i].key, (uint32_t)len, (uint32_t)np, 0,
                            (uint8_t)entries[i].kind};
        else if (self->postings[s->first + s->n - 1] == entries[i].concept)
            continue; /* two labels of one concept with one key */
        self->postings[np++] = entries[i].concept;
        s->n++;
    }
    free(entries);
    if (s_views(self))
        return -1;
    self->indexed = true;
    return e.count;
}
