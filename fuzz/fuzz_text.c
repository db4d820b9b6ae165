/*  fuzz_text: the text analyser and the thesaurus parser, on any bytes.
    Request text reaches the analyser from the network (submit, edit, a search
    query), and a thesaurus file from an operator's load_thesaurus call.

    The first byte chooses: high bit set, the rest is a thesaurus file
    (parsed, and indexed when valid); else the rest is a text, analysed in
    language (byte % 5) with search grams when bit 3 is set, against a small
    thesaurus. Properties: analysis never fails on any text; its lists are
    sorted and distinct; every concept has its phrase; a parse that reports
    no error adds concepts, one that reports errors adds none. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tb_text.h"
#include "tb_thesaurus.h"

static const char s_thesaurus[] = "@format techbridge-thesaurus 1\n@source fuzz\n"
                                  "[wood.drying]\nen = lumber drying\n"
                                  "ru = сушка пиломатериалов\nzh = 木材干燥 | 干燥\n"
                                  "[it.mes]\nen = MES\nru = MES\nzh = MES系统\n";

static tb_text_t *s_an;
static tb_thesaurus_t *s_th;

static void s_init(void)
{
    s_an = tb_text_new();
    s_th = tb_thesaurus_new();
    char *err = NULL;
    const char *src;
    FUZZ_CHECK(s_an && s_th, "analyser");
    FUZZ_CHECK(tb_thesaurus_parse(s_th, s_thesaurus, strlen(s_thesaurus), "fuzz", &src,
                                  &err) == 0 &&
                   tb_thesaurus_index(s_th, s_an, &err) == 0,
               "the fixed thesaurus");
    free(err);
    tb_text_use(s_an, s_th);
}

static void s_sorted(char *const *v, size_t n, const char *what)
{
    for (size_t i = 1; i < n; i++)
        FUZZ_CHECK(strcmp(v[i - 1], v[i]) < 0, what);
}

static void s_text(const char *text, unsigned mode)
{
    tb_arena_t *arena = tb_arena_new(0);
    FUZZ_CHECK(arena, "arena");
    tb_text_result_t r;
    const char *parts[] = {text, "", text};
    FUZZ_CHECK(tb_text_analyse(s_an, arena, parts, 1 + (mode >> 4 & 2),
                               (tb_lang_t)(mode % 5), (mode & 8) ? TB_TEXT_GRAMS : 0,
                               &r) == 0,
               "analysis of any text succeeds");
    s_sorted(r.terms, r.n_terms, "terms sorted and distinct");
    s_sorted(r.concepts, r.n_concepts, "concepts sorted and distinct");
    s_sorted(r.grams, r.n_grams, "grams sorted and distinct");
    for (size_t i = 0; i < r.n_concepts; i++)
        FUZZ_CHECK(r.phrases[i] && tb_thesaurus_find(s_th, r.concepts[i]),
                   "a known concept");
    for (size_t i = 0; i < r.n_terms; i++)
        FUZZ_CHECK(*r.terms[i], "no empty term");
    tb_arena_destroy(&arena);
}

static void s_file(const char *text, size_t len)
{
    tb_thesaurus_t *th = tb_thesaurus_new();
    FUZZ_CHECK(th, "thesaurus");
    char *err = NULL;
    const char *src = NULL;
    int rc = tb_thesaurus_parse(th, text, len, "fuzz.tbt", &src, &err);
    FUZZ_CHECK(rc >= 0, "parse");
    FUZZ_CHECK(rc == 0 || tb_thesaurus_size(th) == 0, "a broken file adds nothing");
    FUZZ_CHECK(rc == 0 || (err && *err), "errors are reported");
    if (rc == 0)
        FUZZ_CHECK(tb_thesaurus_index(th, s_an, &err) >= 0, "index");
    free(err);
    tb_thesaurus_destroy(&th);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_an)
        s_init();
    if (size < 1 || size > FUZZ_MAX_FRAME)
        return 0;
    char *text = malloc(size);
    FUZZ_CHECK(text, "copy");
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 0x80)
        s_file(text, size - 1);
    else
        s_text(text, data[0]);
    free(text);
    return 0;
}
