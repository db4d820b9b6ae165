/*  tb_text: the analyser, language by language, without a database. */
#include <criterion/criterion.h>
#include <string.h>

#include "tb_text.h"
#include "tb_thesaurus.h"

static tb_text_t *an;
static tb_arena_t *arena;

static void setup(void)
{
    an = tb_text_new();
    arena = tb_arena_new(0);
    cr_assert(an && arena, "analyser (ICU data, Snowball) must start");
}

static void teardown(void)
{
    tb_text_destroy(&an);
    tb_arena_destroy(&arena);
}

TestSuite(text, .init = setup, .fini = teardown);

static tb_text_result_t analyse(const char *text, tb_lang_t lang, unsigned flags)
{
    tb_text_result_t r;
    const char *parts[] = {text};
    cr_assert_eq(tb_text_analyse(an, arena, parts, 1, lang, flags, &r), 0);
    return r;
}

static bool has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

#define HAS_TERM(r, s)    has((r).terms, (r).n_terms, (s))
#define HAS_CONCEPT(r, s) has((r).concepts, (r).n_concepts, (s))

Test(text, lang_codes)
{
    tb_lang_t l;
    cr_assert_eq(tb_lang_parse("zh", &l), 0);
    cr_assert_eq(l, TB_LANG_ZH);
    cr_assert_str_eq(tb_lang_code(TB_LANG_BE), "be");
    cr_assert_eq(tb_lang_parse("ZH", &l), -1);
    cr_assert_eq(tb_lang_parse("uk", &l), -1);
    cr_assert_eq(tb_lang_parse("", &l), -1);
    cr_assert_eq(tb_lang_parse(NULL, &l), -1);
    cr_assert_str_eq(tb_lang_code(TB_LANG_UNKNOWN), "");
}

Test(text, russian_stems_one_stem_for_each_form)
{
    tb_text_result_t a = analyse("сушка", TB_LANG_UNKNOWN, 0);
    tb_text_result_t b = analyse("сушки", TB_LANG_UNKNOWN, 0);
    tb_text_result_t c = analyse("сушку", TB_LANG_UNKNOWN, 0);
    cr_assert_eq(a.n_terms, 1);
    cr_assert_eq(b.n_terms, 1);
    cr_assert_eq(c.n_terms, 1);
    cr_assert_str_eq(a.terms[0], b.terms[0]);
    cr_assert_str_eq(a.terms[0], c.terms[0]);
    cr_assert_eq(a.language, TB_LANG_RU);
    cr_assert(a.detected);
}

Test(text, russian_stop_words_dropped_and_yo_folded)
{
    tb_text_result_t r =
        analyse("Сушка пиломатериалов твёрдых пород для мебели из берёзы и дуба",
                TB_LANG_UNKNOWN, 0);
    cr_assert_not(HAS_TERM(r, "для"));
    cr_assert_not(HAS_TERM(r, "и"));
    cr_assert_not(HAS_TERM(r, "из"));
    tb_text_result_t e = analyse("березы", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_TERM(r, e.terms[0]), "берёзы and березы are one term");
    cr_assert(HAS_TERM(r, "дуб"));
    cr_assert_eq(r.n_terms, 7);
}

Test(text, english_stems_and_stop_words)
{
    tb_text_result_t r =
        analyse("Drying of the hardwood lumber in kilns", TB_LANG_UNKNOWN, 0);
    cr_assert_eq(r.language, TB_LANG_EN);
    cr_assert(HAS_TERM(r, "dri"));
    cr_assert(HAS_TERM(r, "kiln"));
    cr_assert(HAS_TERM(r, "hardwood"));
    cr_assert_not(HAS_TERM(r, "the"));
    cr_assert_not(HAS_TERM(r, "of"));
}

Test(text, chinese_segmentation_of_technical_phrases)
{
    tb_text_result_t r =
        analyse("连续真空干燥生产线，用于橡木和桦木的干燥", TB_LANG_UNKNOWN, 0);
    cr_assert_eq(r.language, TB_LANG_ZH);
    cr_assert(HAS_TERM(r, "真空"));
    cr_assert(HAS_TERM(r, "干燥"));
    cr_assert(HAS_TERM(r, "橡木"));
    cr_assert(HAS_TERM(r, "桦木"));
    cr_assert_not(HAS_TERM(r, "的"), "a stop word");
    cr_assert_not(HAS_TERM(r, "和"), "a stop word");
    cr_assert_not(HAS_TERM(r, "连续真空干燥生产线"), "a run of Han is not one token");
}

Test(text, chinese_grams_make_any_word_findable)
{
    tb_text_result_t text =
        analyse("硬木锯材连续真空干燥生产线", TB_LANG_UNKNOWN, TB_TEXT_GRAMS);
    tb_text_result_t q = analyse("干燥", TB_LANG_UNKNOWN, 0);
    cr_assert_eq(q.n_query, 1);
    cr_assert(has(text.grams, text.n_grams, q.query[0]));
    tb_text_result_t q3 = analyse("锯材连续", TB_LANG_UNKNOWN, 0);
    for (size_t i = 0; i < q3.n_query; i++)
        cr_assert(has(text.grams, text.n_grams, q3.query[i]), "%s", q3.query[i]);
    tb_text_result_t one = analyse("钢", TB_LANG_UNKNOWN, 0);
    cr_assert_eq(one.n_query, 1);
    cr_assert_str_eq(one.query[0], "钢");
}

Test(text, words_with_digits_are_words_numbers_are_not)
{
    tb_text_result_t r = analyse("CO2 capture, PA6, ISO9001, 5G, 3D printing 2026 4.0",
                                 TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_TERM(r, "co2"));
    cr_assert(HAS_TERM(r, "pa6"));
    cr_assert(HAS_TERM(r, "iso9001"));
    cr_assert(HAS_TERM(r, "5g"));
    cr_assert(HAS_TERM(r, "3d"));
    cr_assert_not(HAS_TERM(r, "2026"));
    tb_text_result_t pl = analyse("PLCs and CRMs", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_TERM(pl, "plc"), "an abbreviation's plural is the abbreviation");
    cr_assert(HAS_TERM(pl, "crm"));
    cr_assert_not(HAS_TERM(r, "4.0"));
}

Test(text, normalisation_full_width_case_and_compatibility)
{
    tb_text_result_t r = analyse("ＰＬＣ Ｃｏｎｔｒｏｌ ＫＩＬＮ", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_TERM(r, "plc"));
    cr_assert(HAS_TERM(r, "control"));
    cr_assert(HAS_TERM(r, "kiln"));
    tb_text_result_t lig = analyse("ﬁlter", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_TERM(lig, "filter"), "the ligature fi is two letters");
}

Test(text, detection_by_script)
{
    cr_assert_eq(analyse("сушка драўніны і лесу", TB_LANG_UNKNOWN, 0).language,
                 TB_LANG_BE);
    cr_assert_eq(analyse("линия MDF для плит", TB_LANG_UNKNOWN, 0).language, TB_LANG_RU);
    cr_assert_eq(analyse("PLC控制的真空干燥设备", TB_LANG_UNKNOWN, 0).language,
                 TB_LANG_ZH);
    cr_assert_eq(analyse("12345 -- !!!", TB_LANG_UNKNOWN, 0).language, TB_LANG_UNKNOWN);
    tb_text_result_t d = analyse("vacuum kiln", TB_LANG_RU, 0);
    cr_assert_eq(d.language, TB_LANG_RU, "declared wins");
    cr_assert_not(d.detected);
}

Test(text, belarusian_folds_towards_russian_stems)
{
    tb_text_result_t be = analyse("сушка драўніны", TB_LANG_BE, 0);
    tb_text_result_t ru = analyse("сушка", TB_LANG_RU, 0);
    cr_assert(HAS_TERM(be, ru.terms[0]), "the Russian stemmer serves Belarusian");
    for (size_t i = 0; i < be.n_terms; i++)
        cr_assert_null(strstr(be.terms[i], "ў"), "ў is folded: %s", be.terms[i]);
    tb_text_result_t stop = analyse("і для", TB_LANG_BE, 0);
    cr_assert_eq(stop.n_terms, 0, "Belarusian and Russian stop words");
}

Test(text, mixed_scripts_each_word_by_its_script)
{
    tb_text_result_t r =
        analyse("Линии сушки vacuum drying 干燥设备", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_TERM(r, "dri"), "English stemmed in a Russian text");
    cr_assert(HAS_TERM(r, "vacuum"));
    cr_assert(HAS_TERM(r, "干燥"));
    cr_assert(HAS_TERM(r, analyse("сушка", TB_LANG_RU, 0).terms[0]));
}

Test(text, bad_input_is_answered_never_a_crash)
{
    tb_text_result_t r = analyse("kiln \xff\xfe drying \xc3", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_TERM(r, "kiln"), "invalid bytes are replaced, the rest analysed");
    cr_assert(HAS_TERM(r, "dri"));
    char longw[300];
    memset(longw, 'a', sizeof longw - 1);
    longw[sizeof longw - 1] = '\0';
    tb_text_result_t l = analyse(longw, TB_LANG_UNKNOWN, 0);
    cr_assert_eq(l.n_terms, 0);
    cr_assert_eq(l.n_long, 1);
    tb_text_result_t empty = analyse("", TB_LANG_UNKNOWN, 0);
    cr_assert_eq(empty.n_terms, 0);
    cr_assert_eq(empty.language, TB_LANG_UNKNOWN);
    /*  Past TB_TEXT_MAX_BYTES the rest is not analysed, and a cut inside a
        character is moved back to its start. */
    size_t big = TB_TEXT_MAX_BYTES + 100;
    char *huge = malloc(big + 1);
    for (size_t i = 0; i + 2 <= big; i += 2)
        memcpy(huge + i, "ж", 2);
    huge[big] = '\0';
    tb_text_result_t h = analyse(huge, TB_LANG_UNKNOWN, 0);
    cr_assert_eq(h.language, TB_LANG_RU);
    free(huge);
}

/*  A small thesaurus for concept spotting. */
static const char *s_th = "@format techbridge-thesaurus 1\n"
                          "@source test\n"
                          "[wood.drying] woodworking\n"
                          "en = wood drying | lumber drying\n"
                          "ru = сушка древесины | сушка пиломатериалов\n"
                          "zh = 木材干燥 | 锯材干燥\n"
                          "[wood.vacuum_drying]\n"
                          "en = vacuum drying\n"
                          "ru = вакуумная сушка\n"
                          "zh = 真空干燥\n"
                          "[it.mes]\n"
                          "en = manufacturing execution system | MES\n"
                          "ru = система управления производством | MES\n"
                          "zh = 制造执行系统 | MES系统\n";

static tb_thesaurus_t *s_thesaurus(void)
{
    tb_thesaurus_t *th = tb_thesaurus_new();
    char *err = NULL;
    const char *src;
    cr_assert_eq(tb_thesaurus_parse(th, s_th, strlen(s_th), "t.tbt", &src, &err), 0, "%s",
                 err ? err : "");
    cr_assert_eq(tb_thesaurus_index(th, an, &err), 0, "%s", err ? err : "");
    free(err);
    tb_text_use(an, th);
    return th;
}

Test(text, concepts_in_three_languages_with_the_words_written)
{
    tb_thesaurus_t *th = s_thesaurus();
    tb_text_result_t ru =
        analyse("Сушки пиломатериалов твёрдых пород", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_CONCEPT(ru, "wood.drying"));
    cr_assert_str_eq(ru.phrases[0], "сушки пиломатериалов");
    tb_text_result_t en = analyse("Drying of lumber; vacuum drying", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_CONCEPT(en, "wood.drying"), "any word order, stop words between");
    cr_assert(HAS_CONCEPT(en, "wood.vacuum_drying"));
    tb_text_result_t zh = analyse("硬木锯材干燥设备", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_CONCEPT(zh, "wood.drying"), "a Chinese label inside a run");
    tb_text_result_t mes = analyse("внедрение MES на заводе", TB_LANG_UNKNOWN, 0);
    cr_assert(HAS_CONCEPT(mes, "it.mes"));
    tb_text_result_t split = analyse("lumber. Drying", TB_LANG_UNKNOWN, 0);
    cr_assert_not(HAS_CONCEPT(split, "wood.drying"), "no window across sentences");
    tb_text_result_t none = analyse("сушка. древесины", TB_LANG_UNKNOWN, 0);
    cr_assert_eq(none.n_concepts, 0);
    tb_text_use(an, NULL);
    tb_thesaurus_destroy(&th);
}
