/*  tb_text: see tb_text.h. */
#include "tb_text.h"

#include <libstemmer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include "tb_embedded.h"
#include "tb_thesaurus.h"

/* ------------------------------------------------------------------------ */
/*  Languages                                                               */

static const char *const s_lang_codes[TB_LANG_COUNT] = {"", "en", "ru", "be", "zh"};

const char *tb_lang_code(tb_lang_t lang)
{
    return (lang > TB_LANG_UNKNOWN && lang < TB_LANG_COUNT) ? s_lang_codes[lang] : "";
}

int tb_lang_parse(const char *code, tb_lang_t *lang)
{
    for (int i = TB_LANG_EN; code && i < TB_LANG_COUNT; i++)
        if (strcmp(code, s_lang_codes[i]) == 0) {
            *lang = (tb_lang_t)i;
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------------------------ */
/*  Stop words                                                              */

/*  The scripts analysis tells apart; each has its stop words and stemmer. */
typedef enum { S_LATIN, S_CYRILLIC, S_HAN, S_OTHER, S_SCRIPTS } s_script_t;

typedef struct {
    char **words; /* sorted */
    size_t n;
    char *data;
} s_stoplist_t;

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*  Adds the words of embedded list `name` (one per line, '#' comments). */
static int s_stoplist_load(s_stoplist_t *list, const char *name)
{
    size_t len;
    const char *src = tb_embedded_get(name, &len);
    if (!src)
        return -1;
    size_t old = 0;
    for (size_t i = 0; i < list->n; i++)
        old += strlen(list->words[i]) + 1;
    char *data = malloc(old + len + 1);
    char **words = realloc(list->words, (list->n + len + 1) * sizeof *words);
    if (!data || !words) {
        free(data);
        if (words)
            list->words = words;
        return -1;
    }
    list->words = words;
    char *p = data;
    for (size_t i = 0; i < list->n; i++) { /* move the old words into the new block */
        size_t l = strlen(words[i]) + 1;
        memcpy(p, words[i], l);
        words[i] = p;
        p += l;
    }
    memcpy(p, src, len);
    p[len] = '\0';
    for (char *line = p; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line && *line != '#')
            words[list->n++] = line;
        line = next;
    }
    free(list->data);
    list->data = data;
    qsort(list->words, list->n, sizeof *list->words, s_cmp_str);
    return 0;
}

static bool s_stoplist_has(const s_stoplist_t *list, const char *word)
{
    return list->n &&
           bsearch(&word, list->words, list->n, sizeof *list->words, s_cmp_str) != NULL;
}

/* ------------------------------------------------------------------------ */
/*  The analyser                                                            */

struct tb_text_t {
    const UNormalizer2 *nfkc_cf; /* ICU's own instance: never closed */
    UBreakIterator *brk;
    struct sb_stemmer *stem_en, *stem_ru;
    s_stoplist_t stop[S_SCRIPTS];
    const tb_thesaurus_t *thesaurus;
    UChar *in, *norm; /* reused buffers (UTF-16) */
    int32_t in_cap, norm_cap;
};

tb_text_t *tb_text_new(void)
{
    tb_text_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    UErrorCode err = U_ZERO_ERROR;
    self->nfkc_cf = unorm2_getNFKCCasefoldInstance(&err);
    if (U_SUCCESS(err))
        self->brk = ubrk_open(UBRK_WORD, "", NULL, 0, &err);
    self->stem_en = sb_stemmer_new("english", "UTF_8");
    self->stem_ru = sb_stemmer_new("russian", "UTF_8");
    if (U_FAILURE(err) || !self->brk || !self->stem_en || !self->stem_ru ||
        s_stoplist_load(&self->stop[S_LATIN], "text/stopwords-en.txt") ||
        s_stoplist_load(&self->stop[S_CYRILLIC], "text/stopwords-ru.txt") ||
        s_stoplist_load(&self->stop[S_CYRILLIC], "text/stopwords-be.txt") ||
        s_stoplist_load(&self->stop[S_HAN], "text/stopwords-zh.txt"))
        tb_text_destroy(&self);
    return self;
}

void tb_text_destroy(tb_text_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_text_t *self = *self_p;
    if (self->brk)
        ubrk_close(self->brk);
    if (self->stem_en)
        sb_stemmer_delete(self->stem_en);
    if (self->stem_ru)
        sb_stemmer_delete(self->stem_ru);
    for (int i = 0; i < S_SCRIPTS; i++) {
        free(self->stop[i].words);
        free(self->stop[i].data);
    }
    free(self->in);
    free(self->norm);
    free(self);
    *self_p = NULL;
}

void tb_text_use(tb_text_t *self, const tb_thesaurus_t *thesaurus)
{
    self->thesaurus = thesaurus;
}

static int s_grow(UChar **buf, int32_t *cap, int32_t need)
{
    if (need <= *cap)
        return 0;
    UChar *p = realloc(*buf, (size_t)need * sizeof *p);
    if (!p)
        return -1;
    *buf = p;
    *cap = need;
    return 0;
}

/*  Whether a normalised code point ends a sentence: no label window spans it. */
static bool s_sentence_end(UChar32 c)
{
    return c == '\n' || c == '.' || c == ';' || c == '!' || c == '?' || c == 0x3002 ||
           c == 0xFF1B || c == 0xFF01 || c == 0xFF1F;
}

static bool s_is_han(UChar32 c)
{
    UErrorCode err = U_ZERO_ERROR;
    return uscript_getScript(c, &err) == USCRIPT_HAN && U_SUCCESS(err);
}

/*  UTF-8 (lossy: invalid input becomes U+FFFD) to NFKC_Casefold UTF-16 with
    ё folded, in self->norm; *len its length. */
static int s_normalise(tb_text_t *self, const char *utf8, size_t bytes, int32_t *len)
{
    if (bytes > TB_TEXT_MAX_BYTES) {
        bytes = TB_TEXT_MAX_BYTES;
        while (bytes > 0 && ((unsigned char)utf8[bytes] & 0xC0) == 0x80)
            bytes--; /* cut at a character boundary */
    }
    UErrorCode err = U_ZERO_ERROR;
    int32_t n = 0, subs = 0;
    if (s_grow(&self->in, &self->in_cap, (int32_t)bytes + 1))
        return -1;
    u_strFromUTF8WithSub(self->in, self->in_cap, &n, utf8, (int32_t)bytes, 0xFFFD, &subs,
                         &err);
    if (U_FAILURE(err))
        return -1;
    /*  NFKC_Casefold can lengthen text (ligatures, ß): retry at the size ICU
        asks for. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (s_grow(&self->norm, &self->norm_cap, attempt ? *len + 1 : n * 2 + 16))
            return -1;
        err = U_ZERO_ERROR;
        *len = unorm2_normalize(self->nfkc_cf, self->in, n, self->norm, self->norm_cap,
                                &err);
        if (err != U_BUFFER_OVERFLOW_ERROR)
            break;
    }
    if (U_FAILURE(err))
        return -1;
    for (int32_t i = 0; i < *len; i++)
        if (self->norm[i] == 0x0451) /* ё -> е */
            self->norm[i] = 0x0435;
    return 0;
}

/* ------------------------------------------------------------------------ */
/*  Words                                                                   */

typedef struct {
    char *term;         /* stem (arena) */
    int32_t start, end; /* in self->norm */
    int sentence;       /* index of the sentence it stands in */
    s_script_t script;
} s_word_t;

typedef struct {
    tb_text_t *self;
    tb_arena_t *arena;
    tb_lang_t lang;
    s_word_t *words; /* the words kept, stop words left out, in text order */
    size_t n_words, cap_words;
    size_t letters[S_SCRIPTS];
    size_t be_letters; /* і and ў */
    size_t n_long;     /* words too long to be words */
} s_run_t;

static s_script_t s_script_of(const UChar *s, int32_t len, s_run_t *run)
{
    s_script_t script = S_OTHER;
    for (int32_t i = 0; i < len;) {
        UChar32 c;
        U16_NEXT(s, i, len, c);
        UErrorCode err = U_ZERO_ERROR;
        UScriptCode sc = uscript_getScript(c, &err);
        s_script_t this = sc == USCRIPT_HAN        ? S_HAN
                          : sc == USCRIPT_CYRILLIC ? S_CYRILLIC
                          : sc == USCRIPT_LATIN    ? S_LATIN
                                                   : S_OTHER;
        if (run)
            run->letters[this]++;
        if (run && (c == 0x0456 || c == 0x045E))
            run->be_letters++;
        if (this == S_HAN || (this != S_OTHER && script == S_OTHER))
            script = this; /* one Han character makes a Chinese word */
    }
    return script;
}

/*  The UTF-8 of a UTF-16 range, in the arena. */
static char *s_utf8(tb_arena_t *arena, const UChar *s, int32_t len)
{
    UErrorCode err = U_ZERO_ERROR;
    int32_t n = 0;
    u_strToUTF8(NULL, 0, &n, s, len, &err);
    if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err))
        return NULL;
    char *out = tb_arena_alloc(arena, (size_t)n + 1);
    if (!out)
        return NULL;
    err = U_ZERO_ERROR;
    u_strToUTF8(out, n + 1, NULL, s, len, &err);
    return U_SUCCESS(err) ? out : NULL;
}

/*  Belarusian spelling folded towards Russian before the Russian stemmer:
    і -> и, ў -> у, apostrophes dropped. In place; returns the new length. */
static size_t s_fold_be(char *w)
{
    unsigned char *in = (unsigned char *)w, *out = in;
    while (*in) {
        if (in[0] == 0xD1 && in[1] == 0x96) { /* і */
            *out++ = 0xD0, *out++ = 0xB8;     /* и */
            in += 2;
        } else if (in[0] == 0xD1 && in[1] == 0x9E) { /* ў */
            *out++ = 0xD1, *out++ = 0x83;            /* у */
            in += 2;
        } else if (in[0] == '\'' || (in[0] == 0xE2 && in[1] == 0x80 && in[2] == 0x99)) {
            in += in[0] == '\'' ? 1 : 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
    return (size_t)(out - (unsigned char *)w);
}

/*  An abbreviation in the plural (plcs, crms, ecgs): ASCII, no vowel, more
    than two letters, a final s. */
static bool s_acronym_plural(const char *w, size_t len)
{
    if (len < 4 || w[len - 1] != 's')
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)w[i] >= 0x80 || strchr("aeiouy", w[i]))
            return false;
    return true;
}

/*  The term of a word (UTF-8, normalised) of `script`, or NULL for a stop
    word; *err on failure. */
static char *s_term(s_run_t *run, char *w, s_script_t script, bool *err)
{
    tb_text_t *self = run->self;
    if (s_stoplist_has(&self->stop[script < S_OTHER ? script : S_LATIN], w))
        return NULL;
    struct sb_stemmer *st = script == S_LATIN      ? self->stem_en
                            : script == S_CYRILLIC ? self->stem_ru
                                                   : NULL;
    if (!st)
        return w;
    size_t len = strlen(w);
    if (script == S_LATIN && s_acronym_plural(w, len)) {
        w[len - 1] = '\0'; /* PLCs -> plc: Snowball leaves words without vowels */
        return w;
    }
    if (script == S_CYRILLIC && run->lang == TB_LANG_BE)
        len = s_fold_be(w);
    const sb_symbol *stem = sb_stemmer_stem(st, (const sb_symbol *)w, (int)len);
    if (!stem) {
        *err = true;
        return NULL;
    }
    char *out =
        tb_arena_strndup(run->arena, (const char *)stem, (size_t)sb_stemmer_length(st));
    *err = out == NULL;
    return out;
}

static int s_push_word(s_run_t *run, const s_word_t *w)
{
    if (run->n_words == run->cap_words) {
        size_t cap = run->cap_words ? run->cap_words * 2 : 64;
        s_word_t *p = tb_arena_alloc(run->arena, cap * sizeof *p);
        if (!p)
            return -1;
        if (run->n_words)
            memcpy(p, run->words, run->n_words * sizeof *p);
        run->words = p;
        run->cap_words = cap;
    }
    run->words[run->n_words++] = *w;
    return 0;
}

static bool s_has_letter(const UChar *s, int32_t len)
{
    for (int32_t i = 0; i < len;) {
        UChar32 c;
        U16_NEXT(s, i, len, c);
        if (u_isalpha(c))
            return true;
    }
    return false;
}

/*  Segments self->norm[0..len) into run->words. */
static int s_segment(s_run_t *run, int32_t len)
{
    tb_text_t *self = run->self;
    UErrorCode err = U_ZERO_ERROR;
    ubrk_setText(self->brk, self->norm, len, &err);
    if (U_FAILURE(err))
        return -1;
    int sentence = 0;
    int32_t start = ubrk_first(self->brk);
    for (int32_t end = ubrk_next(self->brk); end != UBRK_DONE;
         start = end, end = ubrk_next(self->brk)) {
        int status = ubrk_getRuleStatus(self->brk);
        /*  ICU calls a word that ends in digits a number ("co2", "pa6",
            "iso9001"): with a letter in it, it is a word of technical text. */
        if (status >= UBRK_WORD_NUMBER && status < UBRK_WORD_LETTER &&
            s_has_letter(self->norm + start, end - start))
            status = UBRK_WORD_LETTER;
        if (status < UBRK_WORD_LETTER) { /* spaces, punctuation, pure numbers */
            for (int32_t i = start; i < end; i++)
                if (s_sentence_end(self->norm[i]))
                    sentence++;
            if (status >= UBRK_WORD_NUMBER)
                s_script_of(self->norm + start, end - start, run);
            continue;
        }
        s_script_t script = s_script_of(self->norm + start, end - start, run);
        if (end - start > TB_TEXT_WORD_MAX) {
            run->n_long++;
            continue;
        }
        char *w = s_utf8(run->arena, self->norm + start, end - start);
        if (!w)
            return -1;
        bool failed = false;
        char *term = s_term(run, w, script, &failed);
        if (failed)
            return -1;
        if (term && *term &&
            s_push_word(run, &(s_word_t){term, start, end, sentence, script}))
            return -1;
    }
    return 0;
}

static tb_lang_t s_detect(const s_run_t *run)
{
    size_t han = run->letters[S_HAN] * 2, cyr = run->letters[S_CYRILLIC],
           lat = run->letters[S_LATIN];
    if (han == 0 && cyr == 0 && lat == 0)
        return TB_LANG_UNKNOWN;
    if (han >= cyr && han >= lat)
        return TB_LANG_ZH;
    if (cyr >= lat)
        return run->be_letters ? TB_LANG_BE : TB_LANG_RU;
    return TB_LANG_EN;
}

/* ------------------------------------------------------------------------ */
/*  Sets of strings                                                         */

typedef struct {
    char **items;
    char **extra; /* per item (phrases), or NULL */
    size_t n, cap;
} s_set_t;

static int s_set_add(tb_arena_t *arena, s_set_t *set, char *item, char *extra)
{
    if (set->n == TB_TEXT_TERMS_MAX)
        return 0; /* bounded: the first ones are kept */
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 32;
        char **p = tb_arena_alloc(arena, cap * sizeof *p);
        char **e = tb_arena_alloc(arena, cap * sizeof *e);
        if (!p || !e)
            return -1;
        if (set->n) {
            memcpy(p, set->items, set->n * sizeof *p);
            memcpy(e, set->extra, set->n * sizeof *e);
        }
        set->items = p;
        set->extra = e;
        set->cap = cap;
    }
    set->items[set->n] = item;
    set->extra[set->n++] = extra;
    return 0;
}

/*  Sorts by item and keeps the first of equal items (by insertion order). */
typedef struct {
    char *item, *extra;
    size_t order;
} s_pair_t;

static int s_cmp_pair(const void *a, const void *b)
{
    const s_pair_t *x = a, *y = b;
    int c = strcmp(x->item, y->item);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int s_set_finish(tb_arena_t *arena, s_set_t *set)
{
    if (set->n == 0)
        return 0;
    s_pair_t *pairs = tb_arena_alloc(arena, set->n * sizeof *pairs);
    if (!pairs)
        return -1;
    for (size_t i = 0; i < set->n; i++)
        pairs[i] = (s_pair_t){set->items[i], set->extra[i], i};
    qsort(pairs, set->n, sizeof *pairs, s_cmp_pair);
    size_t k = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (k && strcmp(pairs[i].item, set->items[k - 1]) == 0)
            continue;
        set->items[k] = pairs[i].item;
        set->extra[k++] = pairs[i].extra;
    }
    set->n = k;
    return 0;
}

/* ------------------------------------------------------------------------ */
/*  Concepts                                                                */

/*  Longest key of a window: TB_THESAURUS_WORDS_MAX terms of at most
    TB_TEXT_WORD_MAX UTF-16 units (3 bytes of UTF-8 each at most) and a space. */
#define S_KEY_MAX (TB_THESAURUS_WORDS_MAX * (TB_TEXT_WORD_MAX * 3 + 1) + 1)

/*  The key of words[0..n): their terms sorted, joined by one space, into
    key[S_KEY_MAX]; returns its length. */
static size_t s_window_key(const s_word_t *words, size_t n, char *key)
{
    const char *sorted[TB_THESAURUS_WORDS_MAX];
    for (size_t k = 0; k < n; k++)
        sorted[k] = words[k].term;
    qsort(sorted, n, sizeof *sorted, s_cmp_str);
    char *p = key;
    for (size_t k = 0; k < n; k++) {
        size_t l = strlen(sorted[k]);
        memcpy(p, sorted[k], l);
        p += l;
        if (k + 1 < n)
            *p++ = ' ';
    }
    *p = '\0';
    return (size_t)(p - key);
}

static int s_add_concepts(s_run_t *run, s_set_t *concepts, const uint32_t *ids, size_t n,
                          int32_t start, int32_t end)
{
    const tb_thesaurus_t *th = run->self->thesaurus;
    char *phrase = s_utf8(run->arena, run->self->norm + start, end - start);
    if (!phrase)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (s_set_add(run->arena, concepts, (char *)tb_thesaurus_concept(th, ids[k])->id,
                      phrase))
            return -1;
    return 0;
}

/*  Word labels: at each word, the longest window of words of one sentence
    whose sorted terms are a label's key. A window holds only words that some
    label has, so most words cost one look-up. */
static int s_word_concepts(s_run_t *run, s_set_t *concepts)
{
    const tb_thesaurus_t *th = run->self->thesaurus;
    size_t max = tb_thesaurus_max_words(th);
    bool *known = tb_arena_alloc(run->arena, run->n_words + 1);
    if (!known)
        return -1;
    for (size_t i = 0; i < run->n_words; i++)
        known[i] = tb_thesaurus_has_word(th, run->words[i].term);
    for (size_t i = 0; i < run->n_words; i++) {
        size_t span = 0;
        while (span < max && i + span < run->n_words && known[i + span] &&
               run->words[i + span].sentence == run->words[i].sentence)
            span++;
        for (size_t n = span; n >= 1; n--) {
            char key[S_KEY_MAX];
            size_t key_len = s_window_key(run->words + i, n, key);
            const uint32_t *ids;
            size_t n_ids;
            tb_thesaurus_lookup(th, key, key_len, false, &ids, &n_ids);
            if (n_ids) {
                if (s_add_concepts(run, concepts, ids, n_ids, run->words[i].start,
                                   run->words[i + n - 1].end))
                    return -1;
                break;
            }
        }
    }
    return 0;
}

/*  A run of Han characters at norm[start..end): its characters' UTF-8 and
    where each starts. */
typedef struct {
    char *utf8;
    int32_t *at;  /* byte offset of character k; at[n] = length */
    int32_t *u16; /* UTF-16 offset of character k in norm; u16[n] = end */
    int32_t n;
} s_han_run_t;

static int s_han_run(s_run_t *run, int32_t start, int32_t end, s_han_run_t *out)
{
    out->utf8 = s_utf8(run->arena, run->self->norm + start, end - start);
    out->at = tb_arena_alloc(run->arena, (size_t)(end - start + 1) * sizeof(int32_t));
    out->u16 = tb_arena_alloc(run->arena, (size_t)(end - start + 1) * sizeof(int32_t));
    if (!out->utf8 || !out->at || !out->u16)
        return -1;
    int32_t n = 0, byte = 0;
    for (int32_t i = start; i < end;) {
        out->at[n] = byte;
        out->u16[n++] = i;
        UChar32 c;
        U16_NEXT(run->self->norm, i, end, c);
        byte += U8_LENGTH(c);
    }
    out->at[n] = byte;
    out->u16[n] = end;
    out->n = n;
    return 0;
}

/*  Chinese labels anywhere in the run: at each character the longest,
    extending a candidate only while it is a prefix of some label. */
static int s_han_concepts(s_run_t *run, const s_han_run_t *h, s_set_t *concepts)
{
    const tb_thesaurus_t *th = run->self->thesaurus;
    for (int32_t s = 0; s + 1 < h->n; s++) {
        const uint32_t *best = NULL;
        size_t n_best = 0;
        int32_t best_n = 0;
        for (int32_t n = 2; s + n <= h->n; n++) {
            const char *at = h->utf8 + h->at[s];
            size_t len = (size_t)(h->at[s + n] - h->at[s]);
            const uint32_t *ids;
            size_t n_ids;
            tb_thesaurus_lookup(th, at, len, true, &ids, &n_ids);
            if (n_ids) {
                best = ids, n_best = n_ids, best_n = n;
            }
            if (!tb_thesaurus_han_prefix(th, at, len))
                break;
        }
        if (best &&
            s_add_concepts(run, concepts, best, n_best, h->u16[s], h->u16[s + best_n]))
            return -1;
    }
    return 0;
}

/*  Grams of a run: every character and adjacent pair (index); its pairs, or
    its one character (query). */
static int s_han_grams(s_run_t *run, const s_han_run_t *h, s_set_t *grams, s_set_t *query)
{
    for (int32_t k = 0; k < h->n; k++) {
        int32_t span = k + 2 <= h->n ? 2 : 1;
        char *one = tb_arena_strndup(run->arena, h->utf8 + h->at[k],
                                     (size_t)(h->at[k + 1] - h->at[k]));
        char *two = tb_arena_strndup(run->arena, h->utf8 + h->at[k],
                                     (size_t)(h->at[k + span] - h->at[k]));
        if (!one || !two)
            return -1;
        if (grams && (s_set_add(run->arena, grams, one, NULL) ||
                      (span == 2 && s_set_add(run->arena, grams, two, NULL))))
            return -1;
        if ((span == 2 || h->n == 1) && s_set_add(run->arena, query, two, NULL))
            return -1;
    }
    return 0;
}

/*  Every maximal run of Han characters of norm[0..len). */
static int s_han_runs(s_run_t *run, int32_t len, s_set_t *concepts, s_set_t *grams,
                      s_set_t *query)
{
    for (int32_t i = 0; i < len;) {
        int32_t start = i;
        UChar32 c;
        U16_NEXT(run->self->norm, i, len, c);
        if (!s_is_han(c))
            continue;
        int32_t end = i;
        while (end < len) {
            int32_t j = end;
            U16_NEXT(run->self->norm, j, len, c);
            if (!s_is_han(c))
                break;
            end = j;
        }
        s_han_run_t h;
        if (s_han_run(run, start, end, &h))
            return -1;
        if (run->self->thesaurus && s_han_concepts(run, &h, concepts))
            return -1;
        if (s_han_grams(run, &h, grams, query))
            return -1;
        i = end;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

/*  The parts joined by newlines (sentence ends), bounded. */
static char *s_join(tb_arena_t *arena, const char *const *parts, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (parts[i])
            total += strlen(parts[i]) + 1;
    char *out = tb_arena_alloc(arena, total + 1);
    if (!out)
        return NULL;
    char *p = out;
    for (size_t i = 0; i < n; i++)
        if (parts[i]) {
            size_t l = strlen(parts[i]);
            memcpy(p, parts[i], l);
            p += l;
            *p++ = '\n';
        }
    *p = '\0';
    *len = (size_t)(p - out);
    return out;
}

int tb_text_analyse(tb_text_t *self, tb_arena_t *arena, const char *const *parts,
                    size_t n_parts, tb_lang_t declared, unsigned flags,
                    tb_text_result_t *out)
{
    memset(out, 0, sizeof *out);
    size_t bytes;
    char *text = s_join(arena, parts, n_parts, &bytes);
    int32_t len;
    if (!text || s_normalise(self, text, bytes, &len))
        return -1;
    s_run_t run = {.self = self, .arena = arena, .lang = declared};
    /*  The language decides how Cyrillic is stemmed, so detect before the
        words are made: a first pass counts letters only. */
    if (declared == TB_LANG_UNKNOWN) {
        s_script_of(self->norm, len, &run);
        run.lang = s_detect(&run);
        memset(run.letters, 0, sizeof run.letters);
    }
    out->language = run.lang;
    out->detected = declared == TB_LANG_UNKNOWN;
    if (s_segment(&run, len))
        return -1;
    s_set_t terms = {0}, concepts = {0}, grams = {0}, query = {0};
    for (size_t i = 0; i < run.n_words; i++) {
        if (s_set_add(arena, &terms, run.words[i].term, NULL) ||
            (run.words[i].script != S_HAN &&
             s_set_add(arena, &query, run.words[i].term, NULL)))
            return -1;
    }
    if (self->thesaurus && s_word_concepts(&run, &concepts))
        return -1;
    if (s_han_runs(&run, len, &concepts, (flags & TB_TEXT_GRAMS) ? &grams : NULL, &query))
        return -1;
    if (s_set_finish(arena, &terms) || s_set_finish(arena, &concepts) ||
        s_set_finish(arena, &grams) || s_set_finish(arena, &query))
        return -1;
    *out = (tb_text_result_t){
        .language = out->language,
        .detected = out->detected,
        .terms = terms.items,
        .n_terms = terms.n,
        .concepts = concepts.items,
        .phrases = concepts.extra,
        .n_concepts = concepts.n,
        .grams = grams.items,
        .n_grams = grams.n,
        .query = query.items,
        .n_query = query.n,
        .n_long = run.n_long,
    };
    return 0;
}

int tb_text_label_key(tb_text_t *self, tb_arena_t *arena, const char *label,
                      tb_lang_t lang, char **key, bool *han, size_t *n_words)
{
    *key = NULL;
    *han = false;
    *n_words = 0;
    int32_t len;
    if (s_normalise(self, label, strlen(label), &len))
        return -1;
    /*  Only Han characters (spaces aside): matched as characters. */
    bool all_han = len > 0;
    UChar *compact = tb_arena_alloc(arena, ((size_t)len + 1) * sizeof *compact);
    if (!compact)
        return -1;
    int32_t n = 0;
    for (int32_t i = 0; i < len && all_han;) {
        int32_t at = i;
        UChar32 c;
        U16_NEXT(self->norm, i, len, c);
        if (c == ' ')
            continue;
        all_han = s_is_han(c);
        for (int32_t k = at; k < i; k++)
            compact[n++] = self->norm[k];
    }
    if (all_han && n > 0) {
        *key = s_utf8(arena, compact, n);
        *han = true;
        *n_words = 1;
        return *key ? 0 : -1;
    }
    s_run_t run = {.self = self, .arena = arena, .lang = lang};
    if (s_segment(&run, len))
        return -1;
    if (run.n_words == 0 || run.n_words > TB_THESAURUS_WORDS_MAX)
        return 0;
    *n_words = run.n_words;
    char buf[S_KEY_MAX];
    size_t key_len = s_window_key(run.words, run.n_words, buf);
    *key = tb_arena_strndup(arena, buf, key_len);
    return *key ? 0 : -1;
}
