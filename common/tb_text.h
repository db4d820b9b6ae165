/*  tb_text: the one text analyser of techbridge, shared by intake's search and
    by matching (SPEC section 3, Languages). Pure: no socket, no database.

    A text goes through, in order:
    1. UTF-8 in (invalid sequences become U+FFFD, never an error), at most
       TB_TEXT_MAX_BYTES of it;
    2. ICU NFKC_Casefold normalisation (full-width forms become ASCII, case
       folded, compatibility forms unified), then `ё` -> `е`;
    3. ICU's word break iterator (dictionary-based for Chinese and Japanese);
       punctuation and pure numbers are not words, and a "word" longer than
       TB_TEXT_WORD_MAX characters is dropped (it is a hash or a run of junk);
    4. per word by its script: stop words dropped (English, Russian,
       Belarusian, Chinese lists under deploy/text/), Latin words stemmed by
       Snowball's English stemmer, Cyrillic words by Snowball's Russian one.
       There is no Snowball stemmer for Belarusian: Cyrillic words of a text in
       Belarusian are folded first (і -> и, ў -> у, apostrophes dropped), which
       makes most Belarusian endings look Russian, then stemmed as Russian.
       Chinese words are kept as segmented;
    5. with a thesaurus (tb_thesaurus), the concepts the text names: a
       window of words that holds exactly the words of a label, in any order,
       within one sentence; and a Chinese label wherever its characters stand
       in a run of Chinese characters. At each position the longest label wins.

    The text's language is the declared one, else detected from its letters'
    scripts (Han -> zh, Cyrillic -> ru, or be when it has the letters і or ў,
    Latin -> en). Analysis itself goes word by word by script, so mixed text
    (a Russian need naming "PLC", a Chinese offer naming "MES") is analysed
    correctly whatever its language.

    A tb_text_t holds ICU and Snowball state: use one per thread. */
#ifndef TB_TEXT_H
#define TB_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "tb_arena.h"

typedef enum {
    TB_LANG_UNKNOWN = 0, /* not declared, and no letters to tell */
    TB_LANG_EN,
    TB_LANG_RU,
    TB_LANG_BE,
    TB_LANG_ZH,
    TB_LANG_COUNT
} tb_lang_t;

/*  "en", "ru", "be", "zh"; "" for TB_LANG_UNKNOWN. */
const char *tb_lang_code(tb_lang_t lang);
/*  The language of a code of ours (exactly "en", "ru", "be" or "zh"): 0, or -1. */
int tb_lang_parse(const char *code, tb_lang_t *lang);

/*  Text past this many bytes is not analysed (a request's text is at most
    ~5 kB; this bounds the work a hostile text can cause). */
#define TB_TEXT_MAX_BYTES (64 * 1024)
/*  Longest word kept, in UTF-16 units. */
#define TB_TEXT_WORD_MAX 40
/*  Most distinct terms, concepts and grams one analysis returns. */
#define TB_TEXT_TERMS_MAX 1024

/*  How a concept stands among a request's stored terms: "#" + its id (no
    word the analyser makes starts with it). */
#define TB_TEXT_CONCEPT_MARK '#'

/*  Flags of tb_text_analyse. */
/*  Also every character and pair of adjacent characters of Chinese text, in
    `grams`: what search stores, so that any Chinese word finds text that
    contains it, however the dictionary segmented either. */
#define TB_TEXT_GRAMS 1u

typedef struct tb_text_t tb_text_t;
typedef struct tb_thesaurus_t tb_thesaurus_t;

/*  Opens the normaliser, a word break iterator and the stemmers. NULL on
    failure (ICU data missing, out of memory). */
tb_text_t *tb_text_new(void);
void tb_text_destroy(tb_text_t **self_p);

/*  The thesaurus whose concepts tb_text_analyse finds (borrowed: it must
    outlive its use here; NULL: none). */
void tb_text_use(tb_text_t *self, const tb_thesaurus_t *thesaurus);

typedef struct {
    tb_lang_t language; /* declared, else detected */
    bool detected;      /* language was detected, not declared */
    char **terms;       /* distinct word terms (stems, Chinese words), sorted */
    size_t n_terms;
    char **concepts; /* distinct concept ids, sorted */
    char **phrases;  /* per concept: the words of the text that named it first */
    size_t n_concepts;
    char **grams; /* with TB_TEXT_GRAMS: Chinese characters and pairs, sorted */
    size_t n_grams;
    char **query; /* what a search for this text requires a match to hold: its
                     non-Chinese terms, and per run of Chinese characters its
                     pairs (or the character of a run of one) */
    size_t n_query;
    size_t n_long; /* words dropped as longer than TB_TEXT_WORD_MAX */
} tb_text_result_t;

/*  Analyses the concatenation of `parts` (NULL parts are skipped; parts are
    separate sentences: no label window spans two) in language `declared`
    (TB_LANG_UNKNOWN: detect). Results live in `arena`. Returns 0, or -1 when
    the arena is full or ICU fails. */
int tb_text_analyse(tb_text_t *self, tb_arena_t *arena, const char *const *parts,
                    size_t n_parts, tb_lang_t declared, unsigned flags,
                    tb_text_result_t *out);

/*  The lookup key of a thesaurus label in language `lang`: for a label made
    of Chinese characters only, its normalised characters (*han true); else
    its analysed words, sorted and joined by one space (*han false). *key is
    NULL when the label analyses to nothing (only stop words). Returns 0 or -1. */
int tb_text_label_key(tb_text_t *self, tb_arena_t *arena, const char *label,
                      tb_lang_t lang, char **key, bool *han, size_t *n_words);

#endif
