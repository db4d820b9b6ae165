/*  tb_thesaurus: the file format's parser and validator, and the index. */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "tb_thesaurus.h"

static tb_thesaurus_t *th;
static tb_text_t *an;
static char *errors;

static void setup(void)
{
    th = tb_thesaurus_new();
    an = tb_text_new();
    errors = NULL;
    cr_assert(th && an);
}

static void teardown(void)
{
    tb_thesaurus_destroy(&th);
    tb_text_destroy(&an);
    free(errors);
}

TestSuite(thesaurus, .init = setup, .fini = teardown);

#define HEAD "@format techbridge-thesaurus 1\n@source s1\n"
#define GOOD                                                                             \
    "[wood.drying] woodworking green_economy\n"                                          \
    "en = wood drying | lumber drying\n"                                                 \
    "ru = сушка древесины\n"                                               \
    "zh = 木材干燥\n"                                                                \
    "be = сушка драўніны\n"

static int parse(const char *text, const char *file)
{
    const char *src = NULL;
    return tb_thesaurus_parse(th, text, strlen(text), file, &src, &errors);
}

Test(thesaurus, a_good_file)
{
    const char *src = NULL;
    const char *text = "# comment\n\n" HEAD GOOD;
    cr_assert_eq(tb_thesaurus_parse(th, text, strlen(text), "a.tbt", &src, &errors), 0,
                 "%s", errors ? errors : "");
    cr_assert_str_eq(src, "s1");
    cr_assert_eq(tb_thesaurus_index(th, an, &errors), 0);
    cr_assert_eq(tb_thesaurus_size(th), 1);
    const tb_concept_t *c = tb_thesaurus_find(th, "wood.drying");
    cr_assert_not_null(c);
    cr_assert_eq(c->n_sectors, 2);
    cr_assert_eq(c->n_labels[TB_LANG_EN], 2);
    cr_assert_str_eq(tb_concept_name(c, TB_LANG_ZH), "木材干燥");
    cr_assert_str_eq(tb_concept_name(c, TB_LANG_BE), "сушка драўніны");
    cr_assert_null(tb_thesaurus_find(th, "wood.nothing"));
}

/*  Each broken file: the error names the file and the line, and nothing of
    the file is added. */
static void expect_error(const char *text, const char *where, const char *what)
{
    size_t before = tb_thesaurus_size(th);
    int rc = parse(text, "broken.tbt");
    cr_assert_gt(rc, 0, "should fail: %s", text);
    cr_assert_not_null(strstr(errors, where), "want %s in: %s", where, errors);
    cr_assert_not_null(strstr(errors, what), "want \"%s\" in: %s", what, errors);
    cr_assert_eq(tb_thesaurus_size(th), before, "a broken file adds nothing");
    free(errors);
    errors = NULL;
}

Test(thesaurus, broken_files_name_file_and_line)
{
    cr_assert_eq(parse(HEAD GOOD, "ok.tbt"), 0);
    expect_error("@format techbridge-thesaurus 2\n", "broken.tbt:1:", "unknown format");
    expect_error("[a.b]\n", "broken.tbt:1:", "@format");
    expect_error("@format techbridge-thesaurus 1\n@source Bad Name\n",
                 "broken.tbt:2:", "source");
    expect_error(HEAD "[Wood]\n", "broken.tbt:3:", "DOMAIN.NAME");
    expect_error(HEAD "[a.b]\nen = x y\nru = да нет\n", "broken.tbt:3:", "no zh labels");
    expect_error(HEAD "[a.b]\nen = wood | \nru = лес\nzh = 木材\n",
                 "broken.tbt:4:", "empty label");
    expect_error(HEAD "[a.b]\nfr = bois\n", "broken.tbt:4:", "not a language");
    expect_error(HEAD "[a.b]\nen = wood\nen = timber\n", "broken.tbt:5:", "second en");
    expect_error(HEAD "[a.b]\nen = wood\nru = лес\nzh = 木a\n",
                 "broken.tbt:6:", "one Han character");
    expect_error(HEAD "[wood.drying]\nen = x1\nru = да\nzh = 木材\n",
                 "broken.tbt:3:", "already defined at ok.tbt:3");
    expect_error(HEAD "[a.b]\nen = w\xff\n", "broken.tbt:4:", "UTF-8");
    expect_error(HEAD "en = wood\n", "broken.tbt:3:", "before any [concept]");
    cr_assert_eq(tb_thesaurus_size(th), 1, "the good file stays");
}

Test(thesaurus, an_empty_thesaurus_indexes_and_finds_nothing)
{
    cr_assert_eq(tb_thesaurus_index(th, an, &errors), 0);
    cr_assert_eq(tb_thesaurus_size(th), 0);
    cr_assert_null(tb_thesaurus_find(th, "wood.drying"));
    tb_text_use(an, th);
    tb_arena_t *a = tb_arena_new(0);
    tb_text_result_t r;
    const char *parts[] = {"木材干燥 lumber drying сушка"};
    cr_assert_eq(tb_text_analyse(an, a, parts, 1, TB_LANG_UNKNOWN, 0, &r), 0);
    cr_assert_eq(r.n_concepts, 0);
    cr_assert_gt(r.n_terms, 0);
    tb_arena_destroy(&a);
    tb_text_use(an, NULL);
}

Test(thesaurus, stop_word_label_is_an_index_error)
{
    cr_assert_eq(parse(HEAD "[a.b]\nen = of the\nru = лес\nzh = 木材\n", "s.tbt"), 0);
    cr_assert_eq(tb_thesaurus_index(th, an, &errors), 1);
    cr_assert_not_null(strstr(errors, "s.tbt:3:"), "%s", errors);
    cr_assert_not_null(strstr(errors, "analyses to nothing"));
}

Test(thesaurus, lookup_by_key_and_han)
{
    cr_assert_eq(parse(HEAD GOOD, "ok.tbt"), 0);
    cr_assert_eq(tb_thesaurus_index(th, an, &errors), 0);
    const uint32_t *ids;
    size_t n;
    tb_thesaurus_lookup(th, "木材干燥", strlen("木材干燥"), true, &ids, &n);
    cr_assert_eq(n, 1);
    tb_thesaurus_lookup(th, "木材干燥", strlen("木材干燥"), false, &ids, &n);
    cr_assert_eq(n, 0, "a Chinese label is not a word key");
    cr_assert_eq(tb_thesaurus_max_han(th), 4);
    cr_assert_eq(tb_thesaurus_max_words(th), 2);
}

/*  The shipped thesaurus is valid and large enough: the CI check of the data. */
Test(thesaurus, shipped_files_validate)
{
    glob_t g;
    cr_assert_eq(glob(TB_THESAURUS_DIR "/*.tbt", 0, NULL, &g), 0, "no thesaurus files");
    int files = 0;
    for (size_t k = 0; k < g.gl_pathc; k++) {
        const char *path = g.gl_pathv[k];
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "%s", path);
        static char buf[4 << 20];
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *src;
        cr_assert_eq(tb_thesaurus_parse(th, buf, len, path, &src, &errors), 0, "%s",
                     errors ? errors : "");
        files++;
    }
    globfree(&g);
    cr_assert_gt(files, 0);
    cr_assert_eq(tb_thesaurus_index(th, an, &errors), 0, "%s", errors ? errors : "");
    cr_assert_geq(tb_thesaurus_size(th), 600, "the issue asks for at least 600 concepts");
    for (size_t i = 0; i < tb_thesaurus_size(th); i++) {
        const tb_concept_t *c = tb_thesaurus_concept(th, i);
        cr_assert(c->n_labels[TB_LANG_EN] && c->n_labels[TB_LANG_RU] &&
                      c->n_labels[TB_LANG_ZH],
                  "%s has en, ru and zh", c->id);
    }
}
