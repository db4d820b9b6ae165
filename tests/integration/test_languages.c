/*  Languages end to end (SPEC section 3, Languages): real tb-intake and
    tb-matching, a thesaurus loaded through the API. A Russian need matches a
    Chinese and an English offer on its subject through concepts, best first,
    with reasons in the reader's language, and not an unrelated Chinese offer;
    search finds Chinese words in Chinese text and other languages through
    concepts; a broken thesaurus file is refused with its file and line and
    leaves the loaded one in place; a new source reaches running services
    without a restart. */
#include <unistd.h>

#include "intake_fixture.h"
#include "matching_fixture.h"
#include "tb_lexicon.h"

#define setup    mx_setup
#define teardown mx_teardown

static Techbridge__ApiReply *load_thesaurus(const char *name, const char *actor)
{
    char path[512];
    char *text = tb_test_read_file(tb_test_data_path(name, path));
    cr_assert_not_null(text, "%s", path);
    Techbridge__LoadThesaurus *lt = TB_PB_NEW(g_arena, Techbridge__LoadThesaurus,
                                              techbridge__load_thesaurus__descriptor);
    lt->text = tb_arena_strdup(g_arena, text);
    lt->file = (char *)name;
    free(text);
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LOAD_THESAURUS;
    req.load_thesaurus = lt;
    return m_call(&req, actor);
}

static Techbridge__ApiReply *list_matches_in(const char *request_id, const char *lang)
{
    return m_list_in(request_id, NULL, lang);
}

static const Techbridge__ScoreReason *text_reason(const Techbridge__Match *m)
{
    for (size_t i = 0; i < m->n_reasons; i++)
        if (strcmp(m->reasons[i]->component, "text") == 0)
            return m->reasons[i];
    cr_assert_fail("no text reason");
    return NULL;
}

static const Techbridge__SharedConcept *shared(const Techbridge__ScoreReason *r,
                                               const char *id)
{
    for (size_t i = 0; i < r->n_shared_concepts; i++)
        if (strcmp(r->shared_concepts[i]->id, id) == 0)
            return r->shared_concepts[i];
    return NULL;
}

/*  The index of the hit of `id` in a page, or -1. */
static int find(const Techbridge__RequestPage *p, const char *id)
{
    for (size_t i = 0; i < p->n_requests; i++)
        if (strcmp(p->requests[i]->id, id) == 0)
            return (int)i;
    return -1;
}

static Techbridge__RequestPage *search(const char *text)
{
    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.text = (char *)text;
    return fx_list(&l, NULL);
}

Test(languages, russian_need_matches_chinese_and_english_offers, .init = setup,
     .fini = teardown, .timeout = 120)
{
    SKIP_NO_MATCHING();
    fx_start_intake(NULL);
    start_matching();
    Techbridge__ApiReply *loaded = load_thesaurus("lang/test.tbt", NULL);
    fx_expect_ok(loaded);
    cr_assert_eq(loaded->thesaurus->concepts, 6);
    cr_assert_str_eq(loaded->thesaurus->source, "test-wood");
    /*  Intake checks the version at most every TB_LEXICON_CHECK_MS. */
    usleep((TB_LEXICON_CHECK_MS + 200) * 1000);

    Techbridge__Request *zh = publish(fx_load("lang/offer_zh.json", NULL));
    Techbridge__Request *en = publish(fx_load("lang/offer_en.json", NULL));
    Techbridge__Request *other = publish(fx_load("lang/offer_zh_other.json", NULL));
    Techbridge__Request *need = publish(fx_load("lang/need_ru.json", NULL));
    wait_caught_up(30000);

    /*  Languages: detected (none was declared) and stored. */
    cr_assert_str_eq(fx_get_ok(need->id)->language, "ru");
    cr_assert_str_eq(fx_get_ok(zh->id)->language, "zh");
    cr_assert_str_eq(fx_get_ok(en->id)->language, "en");

    Techbridge__ApiReply *reply = list_matches_in(need->id, "en");
    fx_expect_ok(reply);
    Techbridge__MatchList *ml = reply->matches;
    cr_assert_eq(ml->n_matches, 2, "the Chinese and the English offer, not the pipes");
    for (size_t i = 0; i < ml->n_matches; i++)
        cr_assert_str_neq(ml->matches[i]->offer_id, other->id);
    cr_assert_geq(ml->matches[0]->score, ml->matches[1]->score, "best first");
    bool saw_zh = false;
    for (size_t i = 0; i < ml->n_matches; i++) {
        const Techbridge__Match *m = ml->matches[i];
        const Techbridge__ScoreReason *t = text_reason(m);
        cr_assert_gt(t->n_shared_concepts, 0, "matched through concepts");
        const Techbridge__SharedConcept *c = shared(t, "wood.drying");
        if (strcmp(m->offer_id, zh->id) == 0) {
            saw_zh = true;
            cr_assert_not_null(c, "wood drying is shared");
            cr_assert_str_eq(c->label, "lumber drying", "named in English");
            cr_assert_not_null(strstr(c->need_text, "сушк"), "%s", c->need_text);
            cr_assert_not_null(strstr(c->offer_text, "干燥"), "%s", c->offer_text);
            cr_assert_not_null(strstr(t->detail, "lumber drying: \""), "%s", t->detail);
        }
    }
    cr_assert(saw_zh);

    /*  The same match read by a Chinese operator names the concepts in Chinese. */
    reply = list_matches_in(need->id, "zh");
    fx_expect_ok(reply);
    bool named = false;
    for (size_t i = 0; i < reply->matches->n_matches; i++) {
        const Techbridge__Match *m = reply->matches->matches[i];
        if (strcmp(m->offer_id, zh->id) != 0)
            continue;
        const Techbridge__SharedConcept *c = shared(text_reason(m), "wood.drying");
        cr_assert_not_null(c);
        cr_assert_str_eq(c->label, "木材干燥");
        named = true;
    }
    cr_assert(named, "the Chinese offer's match names wood drying in Chinese");
    fx_expect_code(list_matches_in(need->id, "fr"), INVALID_ARGUMENT);

    /*  Search: a Chinese word in Chinese text; Russian words find the
        Russian need by its words and the other languages by concepts. */
    Techbridge__RequestPage *p = search("干燥");
    int at = find(p, zh->id);
    cr_assert_geq(at, 0, "干燥 finds the Chinese offer");
    cr_assert_str_eq(p->hits[at]->found_by, "words");
    cr_assert_lt(find(p, other->id), 0);
    p = search("сушка пиломатериалов");
    cr_assert_geq(find(p, need->id), 0);
    cr_assert_str_eq(p->hits[find(p, need->id)]->found_by, "words");
    cr_assert_geq(find(p, zh->id), 0, "found through the concept");
    cr_assert_str_eq(p->hits[find(p, zh->id)]->found_by, "concepts");
    cr_assert_geq(find(p, en->id), 0);
    cr_assert_eq(p->n_hits, p->n_requests);
    /*  Nothing to search for is a clear answer. */
    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.text = "и для 123 ...";
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST;
    req.list = &l;
    fx_expect_code(fx_call(&req, NULL), INVALID_ARGUMENT);
}

Test(languages, thesaurus_loads_are_checked_whole_and_reach_running_services,
     .init = setup, .fini = teardown, .timeout = 120)
{
    SKIP_NO_MATCHING();
    fx_start_intake(NULL);
    start_matching();
    fx_expect_ok(load_thesaurus("lang/test.tbt", NULL));
    int64_t version = fx_count("SELECT version FROM thesaurus_version");

    /*  A broken file: every error with file and line, nothing changed. */
    Techbridge__ApiReply *r = load_thesaurus("lang/broken.tbt", NULL);
    fx_expect_code(r, INVALID_ARGUMENT);
    bool named = false;
    for (size_t i = 0; i < r->error->n_violations; i++)
        named = named || strstr(r->error->violations[i]->reason, "lang/broken.tbt:7:");
    cr_assert(named, "the error names the file and line");
    cr_assert_eq(fx_count("SELECT version FROM thesaurus_version"), version);
    cr_assert_eq(fx_count("SELECT count(*) FROM thesaurus_concepts"), 6);
    cr_assert_eq(fx_count("SELECT count(*) FROM thesaurus_labels WHERE concept_id = "
                          "'wood.drying' AND lang = 'zh'"),
                 3, "the loaded concept keeps its labels");

    /*  Only operators load; an id of another source is refused. */
    fx_expect_code(load_thesaurus("lang/test.tbt", "by.mozyrdrev"), PERMISSION_DENIED);
    char *clash = tb_test_write_temp("@format techbridge-thesaurus 1\n@source mine\n"
                                     "[wood.drying]\nen = drying wood\nru = сушка\n"
                                     "zh = 烘干\n");
    char *text = tb_test_read_file(clash);
    Techbridge__LoadThesaurus lt = TECHBRIDGE__LOAD_THESAURUS__INIT;
    lt.text = text;
    lt.file = "mine.tbt";
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LOAD_THESAURUS;
    req.load_thesaurus = &lt;
    fx_expect_code(m_call(&req, NULL), ALREADY_EXISTS);
    free(text);
    unlink(clash);
    free(clash);

    /*  Reloading a source replaces it whole and bumps the version; running
        intake picks it up without a restart: a submission after the load is
        analysed with it. */
    fx_expect_ok(load_thesaurus("lang/test.tbt", NULL));
    cr_assert_eq(fx_count("SELECT count(*) FROM thesaurus_concepts"), 6);
    cr_assert_eq(fx_count("SELECT version FROM thesaurus_version"), version + 1);
    usleep((TB_LEXICON_CHECK_MS + 200) * 1000);
    Techbridge__Request *zh = fx_submit_ok(fx_load("lang/offer_zh.json", NULL));
    char *sql = tb_arena_printf(g_arena,
                                "SELECT count(*) FROM intake_requests WHERE id = '%s' "
                                "AND terms @> ARRAY['#wood.drying', '#wood.hardwood'] "
                                "AND analysed = %lld",
                                zh->id, (long long)(version + 1));
    cr_assert_eq(fx_count(sql), 1, "analysed with the reloaded thesaurus");

    /*  A request stored before a load (or before the languages migration) is
        analysed again in the background: its search terms get the concepts. */
    char *forget = tb_arena_printf(g_arena,
                                   "UPDATE intake_requests SET terms = '{}', "
                                   "analysed = -1 WHERE id = '%s'",
                                   zh->id);
    cr_assert_eq(tb_test_sql_exec(g_db, forget), 0);
    wait_sql(sql, 1, 10000);
}

Test(languages, language_codes_are_checked, .init = setup, .fini = teardown,
     .timeout = 60)
{
    fx_start_intake(NULL);
    Techbridge__Request *r = fx_load("lang/need_ru.json", NULL);
    r->language = "uk";
    r->org->language = "RU";
    Techbridge__ApiReply *reply = fx_submit(r, NULL);
    fx_expect_code(reply, INVALID_ARGUMENT);
    bool lang = false, org_lang = false;
    for (size_t i = 0; i < reply->error->n_violations; i++) {
        lang = lang || strcmp(reply->error->violations[i]->field, "language") == 0;
        org_lang =
            org_lang || strcmp(reply->error->violations[i]->field, "org.language") == 0;
    }
    cr_assert(lang && org_lang, "both named");
    /*  Declared wins over detection, and old clients that send none get one. */
    r->language = "be";
    r->org->language = "ru";
    cr_assert_str_eq(fx_submit_ok(r)->language, "be");
    Techbridge__Request *d = fx_load("offer_cn.json", NULL);
    cr_assert_str_eq(fx_submit_ok(d)->language, "en");
}

/*  Text the analyser cannot make much of gets a clear answer, never a crash:
    no letters, a 300-letter "word", scripts mixed in one title, a search of
    only an over-long word or of only stop words. */
Test(languages, odd_text_gets_clear_answers, .init = setup, .fini = teardown,
     .timeout = 60)
{
    fx_start_intake(NULL);
    Techbridge__Request *r = fx_load("lang/need_ru.json", "odd-1");
    r->title = "2026-04 / 12345 / 678";
    r->summary = "";
    r->n_keywords = 1;
    r->keywords[0] = "42";
    r->org->language = "zh";
    cr_assert_str_eq(fx_submit_ok(r)->language, "zh", "no letters: the org's language");

    char word[301];
    memset(word, 'x', 300);
    word[300] = '\0';
    r = fx_load("lang/offer_en.json", "odd-2");
    r->summary = tb_arena_printf(g_arena, "%s kiln", word);
    r->title = "PLC控制 vacuum сушка 干燥 kiln";
    Techbridge__Request *mixed = fx_submit_ok(r);
    cr_assert_str_eq(mixed->language, "en", "the larger script wins");

    Techbridge__RequestPage *p = search("干燥");
    cr_assert_eq(p->n_requests, 1, "the mixed title is found by its Chinese word");
    p = search("сушка");
    cr_assert_eq(p->n_requests, 1, "and by its Russian word");
    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    l.text = tb_arena_strndup(g_arena, word, 150);
    p = fx_list(&l, NULL);
    cr_assert_eq(p->n_requests, 0, "an over-long word is searched and finds nothing");
}
