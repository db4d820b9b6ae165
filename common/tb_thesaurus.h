/*  tb_thesaurus: the multilingual technology thesaurus (deploy/thesaurus/,
    format in its README): concepts with stable ids and labels in English,
    Russian, Chinese and optionally Belarusian; the parser and validator of its
    files; and the index tb_text uses to find the concepts a text names.

    A thesaurus is built (parsed or added to), then indexed once with an
    analyser, then only read: an indexed thesaurus may be read by several
    threads at once. */
#ifndef TB_THESAURUS_H
#define TB_THESAURUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_text.h"

/*  The format line every file starts with. */
#define TB_THESAURUS_FORMAT      "techbridge-thesaurus 1"
#define TB_THESAURUS_ID_MAX      64
#define TB_THESAURUS_LABEL_MIN   2
#define TB_THESAURUS_LABEL_MAX   80
#define TB_THESAURUS_SOURCE_MAX  64
#define TB_THESAURUS_SECTORS_MAX 8
#define TB_THESAURUS_LABELS_MAX  16 /* per language of a concept */
/*  Errors one parse reports before it stops listing them. */
#define TB_THESAURUS_ERRORS_MAX 50
/*  Longest label window, in words, and Chinese label, in characters, that the
    index takes (longer labels are validation errors). */
#define TB_THESAURUS_WORDS_MAX 8
#define TB_THESAURUS_HAN_MAX   16

typedef struct {
    const char *id;
    const char *source;
    const char *const *sectors;
    size_t n_sectors;
    const char *const *labels[TB_LANG_COUNT]; /* [TB_LANG_UNKNOWN] is unused */
    size_t n_labels[TB_LANG_COUNT];
    const char *file; /* where it was read, for messages ("" when from the db) */
    int line;
} tb_concept_t;

tb_thesaurus_t *tb_thesaurus_new(void);
void tb_thesaurus_destroy(tb_thesaurus_t **self_p);

/*  Adds one label of concept `id` of `source` (the concept is made at its
    first label). For loading from the database, whose rows were validated
    when they were written. Returns 0, or -1 when out of memory or indexed. */
int tb_thesaurus_add(tb_thesaurus_t *self, const char *id, const char *source,
                     tb_lang_t lang, const char *label);

/*  Parses and validates one file's text (`file` names it in messages) into
    the thesaurus, whole or not at all. Returns the number of errors (0: the
    file's concepts were added, *source is its @source, owned by the
    thesaurus), or -1 when out of memory. Every error is appended to *errors
    (malloc'd, one "FILE:LINE: message" per line; the caller frees it), also
    an id that another source already added. */
int tb_thesaurus_parse(tb_thesaurus_t *self, const char *text, size_t len,
                       const char *file, const char **source, char **errors);

size_t tb_thesaurus_size(const tb_thesaurus_t *self);
const tb_concept_t *tb_thesaurus_concept(const tb_thesaurus_t *self, size_t i);
/*  The concept of an id, or NULL. */
const tb_concept_t *tb_thesaurus_find(const tb_thesaurus_t *self, const char *id);

/*  Builds the index with `analyser` (labels are analysed as text is). A label
    that analyses to nothing (only stop words) is an error, reported like the
    parser's. Returns the number of such errors, or -1 when out of memory. */
int tb_thesaurus_index(tb_thesaurus_t *self, tb_text_t *analyser, char **errors);

/*  The concepts whose label has lookup key `key` (see tb_text_label_key), as
    indices for tb_thesaurus_concept: *n of them at *ids (none: 0). */
void tb_thesaurus_lookup(const tb_thesaurus_t *self, const char *key, size_t len,
                         bool han, const uint32_t **ids, size_t *n);
/*  Filters that let a search stop early: whether `s` (len bytes) is a proper
    prefix of some Chinese label; whether `term` is a word of some word label. */
bool tb_thesaurus_han_prefix(const tb_thesaurus_t *self, const char *s, size_t len);
bool tb_thesaurus_has_word(const tb_thesaurus_t *self, const char *term);

/*  The most words of a word label, the most characters of a Chinese label. */
size_t tb_thesaurus_max_words(const tb_thesaurus_t *self);
size_t tb_thesaurus_max_han(const tb_thesaurus_t *self);

/*  A concept's name for a reader of `lang`: its first label in that language,
    else in English, else its id. */
const char *tb_concept_name(const tb_concept_t *c, tb_lang_t lang);

/*  The version the database had when this was loaded (0: not from one). */
int64_t tb_thesaurus_version(const tb_thesaurus_t *self);
void tb_thesaurus_set_version(tb_thesaurus_t *self, int64_t version);

#endif
