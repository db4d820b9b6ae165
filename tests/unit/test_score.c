/*  matching_score: each component, the orderings SPEC section 3 asks for,
    monotonicity in shared rare terms, determinism. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matching_score.h"

/*  A fixed document-frequency table: "common" terms are in many documents,
    "rare" ones in few. */
static long s_df(const char *term, void *arg)
{
    (void)arg;
    if (strncmp(term, "common", 6) == 0)
        return 500;
    if (strncmp(term, "rare", 4) == 0)
        return 2;
    return 50;
}

static const matching_corpus_t s_corpus = {s_df, NULL, 1000};

static const char *const s_mech_related[] = {"materials", "transport", "energy",
                                             "woodworking"};
static const char *const s_mat_related[] = {"chemical_production",
                                            "mechanical_engineering", "geology_mining"};
static const char *const s_med_related[] = {"science", "chemical_production"};

static const int s_coop_lic[] = {1, 3};
static const int s_coop_need[] = {1, 3};

static matching_side_t s_offer(void)
{
    static const char *const terms[] = {"dri", "line", "wood", "rare1", "common1"};
    matching_side_t s = {0};
    s.id = "o1";
    s.org_id = "org-a";
    s.country = "CN";
    s.sector = "mechanical_engineering";
    s.sector_related = s_mech_related;
    s.n_sector_related = 4;
    s.terms = terms;
    s.n_terms = 5;
    s.trl = 6;
    s.cooperation = s_coop_lic;
    s.n_cooperation = 2;
    return s;
}

static matching_side_t s_need(void)
{
    static const char *const terms[] = {"dri", "line", "rare1", "common1", "kiln"};
    matching_side_t s = {0};
    s.id = "n1";
    s.org_id = "org-b";
    s.country = "BY";
    s.sector = "mechanical_engineering";
    s.sector_related = s_mech_related;
    s.n_sector_related = 4;
    s.terms = terms;
    s.n_terms = 5;
    s.trl = 5;
    s.cooperation = s_coop_need;
    s.n_cooperation = 2;
    return s;
}

static const matching_reason_t *s_comp(const matching_result_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_reasons; i++)
        if (strcmp(r->reasons[i].component, name) == 0)
            return &r->reasons[i];
    cr_assert_fail("no component %s", name);
    return NULL;
}

Test(score, components_and_weights)
{
    matching_side_t o = s_offer(), n = s_need();
    matching_result_t r;
    cr_assert_eq(matching_score(&o, &n, &s_corpus, &r), 0);
    cr_assert(r.matchable);
    cr_assert_eq(r.n_reasons, 5);
    cr_assert_float_eq(s_comp(&r, "sector")->value, 1.0, 1e-9);
    cr_assert_float_eq(s_comp(&r, "sector")->weight, 0.20, 1e-9);
    cr_assert_float_eq(s_comp(&r, "text")->weight, 0.50, 1e-9);
    cr_assert_float_eq(s_comp(&r, "geography")->weight, 0.05, 1e-9);
    cr_assert_float_eq(s_comp(&r, "trl")->value, 1.0, 1e-9);
    cr_assert_float_eq(s_comp(&r, "cooperation")->value, 1.0, 1e-9);
    cr_assert_float_eq(s_comp(&r, "geography")->value, 1.0, 1e-9);
    /*  text: shared dri, line, rare1, common1 over the need's five terms */
    double idf_mid = log(1 + 1000.0 / 50), idf_rare = log(1 + 1000.0 / 2),
           idf_common = log(1 + 1000.0 / 500);
    double expect =
        (2 * idf_mid + idf_rare + idf_common) / (3 * idf_mid + idf_rare + idf_common);
    const matching_reason_t *t = s_comp(&r, "text");
    cr_assert_float_eq(t->value, matching_round4(expect), 1e-9);
    cr_assert_eq(t->n_shared, 4);
    cr_assert_str_eq(t->shared[0], "rare1", "rarest shared term first");
    cr_assert_str_eq(t->shared[3], "common1", "most common shared term last");
    double sum = 0.20 + 0.50 * expect + 0.15 + 0.10 + 0.05;
    cr_assert_float_eq(r.score, matching_round4(sum), 1e-9);
    double contributions = 0;
    for (size_t i = 0; i < r.n_reasons; i++)
        contributions += r.reasons[i].contribution;
    cr_assert_float_eq(contributions, r.score, 2e-4);
}

Test(score, same_beats_related_beats_other_sector)
{
    matching_side_t o = s_offer(), n = s_need();
    matching_result_t same, related, other;
    matching_score(&o, &n, &s_corpus, &same);
    n.sector = "materials";
    n.sector_related = s_mat_related;
    n.n_sector_related = 3;
    matching_score(&o, &n, &s_corpus, &related);
    n.sector = "medicine";
    n.sector_related = s_med_related;
    n.n_sector_related = 2;
    matching_score(&o, &n, &s_corpus, &other);
    cr_assert_float_eq(s_comp(&related, "sector")->value, 0.5, 1e-9);
    cr_assert_float_eq(s_comp(&other, "sector")->value, 0.0, 1e-9);
    cr_assert_gt(same.score, related.score);
    cr_assert_gt(related.score, other.score);
}

Test(score, related_is_symmetric_through_either_list)
{
    matching_side_t o = s_offer(), n = s_need();
    n.sector = "materials";
    n.sector_related = NULL; /* only the offer's list names it */
    n.n_sector_related = 0;
    matching_result_t r;
    matching_score(&o, &n, &s_corpus, &r);
    cr_assert_float_eq(s_comp(&r, "sector")->value, 0.5, 1e-9);
}

Test(score, trl_below_minimum_loses)
{
    matching_side_t o = s_offer(), n = s_need();
    matching_result_t ok, one, two, far;
    n.trl = 6;
    matching_score(&o, &n, &s_corpus, &ok);
    n.trl = 7;
    matching_score(&o, &n, &s_corpus, &one);
    n.trl = 8;
    matching_score(&o, &n, &s_corpus, &two);
    n.trl = 9;
    matching_score(&o, &n, &s_corpus, &far);
    cr_assert_float_eq(s_comp(&ok, "trl")->value, 1.0, 1e-9);
    cr_assert_float_eq(s_comp(&one, "trl")->value, 0.66, 1e-9);
    cr_assert_float_eq(s_comp(&two, "trl")->value, 0.32, 1e-9);
    cr_assert_float_eq(s_comp(&far, "trl")->value, 0.0, 1e-9);
    cr_assert_gt(ok.score, one.score);
    cr_assert_gt(one.score, two.score);
    cr_assert_gt(two.score, far.score);
    /*  An offer above the minimum is not better than one exactly at it. */
    matching_result_t above;
    n.trl = 2;
    matching_score(&o, &n, &s_corpus, &above);
    cr_assert_float_eq(s_comp(&above, "trl")->value, 1.0, 1e-9);
}

Test(score, cooperation_jaccard)
{
    matching_side_t o = s_offer(), n = s_need();
    static const int a[] = {1, 2, 3}, b[] = {3, 4};
    o.cooperation = a;
    o.n_cooperation = 3;
    n.cooperation = b;
    n.n_cooperation = 2;
    matching_result_t r;
    matching_score(&o, &n, &s_corpus, &r);
    cr_assert_float_eq(s_comp(&r, "cooperation")->value, matching_round4(1.0 / 4), 1e-9);
    static const int c[] = {5};
    n.cooperation = c;
    n.n_cooperation = 1;
    matching_score(&o, &n, &s_corpus, &r);
    cr_assert_float_eq(s_comp(&r, "cooperation")->value, 0.0, 1e-9);
}

Test(score, geography)
{
    matching_side_t o = s_offer(), n = s_need();
    static const char *const by[] = {"BY"}, *const cn[] = {"CN", "KZ"},
                             *const de[] = {"DE"};
    matching_result_t r;
    /*  no wishes on either side */
    matching_score(&o, &n, &s_corpus, &r);
    cr_assert_float_eq(s_comp(&r, "geography")->value, 1.0, 1e-9);
    /*  both wishes met */
    o.target_countries = by;
    o.n_target_countries = 1;
    n.target_countries = cn;
    n.n_target_countries = 2;
    matching_score(&o, &n, &s_corpus, &r);
    cr_assert_float_eq(s_comp(&r, "geography")->value, 1.0, 1e-9);
    /*  the offer wants Germany: one wish met */
    o.target_countries = de;
    matching_score(&o, &n, &s_corpus, &r);
    cr_assert_float_eq(s_comp(&r, "geography")->value, 0.5, 1e-9);
    /*  and the need wants Germany too: none */
    n.target_countries = de;
    n.n_target_countries = 1;
    matching_score(&o, &n, &s_corpus, &r);
    cr_assert_float_eq(s_comp(&r, "geography")->value, 0.0, 1e-9);
}

Test(score, same_org_never_matches)
{
    matching_side_t o = s_offer(), n = s_need();
    n.org_id = o.org_id;
    matching_result_t r;
    cr_assert_eq(matching_score(&o, &n, &s_corpus, &r), 0);
    cr_assert_not(r.matchable);
    cr_assert_float_eq(r.score, 0.0, 1e-12);
}

Test(score, rare_shared_terms_weigh_more)
{
    matching_side_t o = s_offer(), n = s_need();
    static const char *const need_terms[] = {"rare1", "common1", "x1", "x2"};
    static const char *const offer_rare[] = {"rare1"}, *const offer_common[] = {
                                                           "common1"};
    n.terms = need_terms;
    n.n_terms = 4;
    matching_result_t rare, common;
    o.terms = offer_rare;
    o.n_terms = 1;
    matching_score(&o, &n, &s_corpus, &rare);
    o.terms = offer_common;
    matching_score(&o, &n, &s_corpus, &common);
    cr_assert_gt(rare.score, common.score);
}

Test(score, too_little_text_is_no_match_whatever_the_rest)
{
    /*  Same sector, TRL, cooperation and geography all perfect (0.50), but the
        offer holds only the need's most common term. */
    matching_side_t o = s_offer(), n = s_need();
    static const char *const need_terms[] = {"rare1", "rare2", "x1", "common1"};
    static const char *const offer_terms[] = {"common1", "other"};
    n.terms = need_terms;
    n.n_terms = 4;
    o.terms = offer_terms;
    o.n_terms = 2;
    matching_result_t r;
    cr_assert_eq(matching_score(&o, &n, &s_corpus, &r), 0);
    cr_assert_lt(s_comp(&r, "text")->value, MATCHING_MIN_TEXT);
    cr_assert_not(r.matchable);
    cr_assert_float_eq(r.score, 0.0, 1e-12);
    cr_assert_eq(r.n_reasons, 5, "the reasons still say why");
    /*  One rare shared term is enough text. */
    static const char *const offer_rare[] = {"common1", "rare2"};
    o.terms = offer_rare;
    cr_assert_eq(matching_score(&o, &n, &s_corpus, &r), 0);
    cr_assert_geq(s_comp(&r, "text")->value, MATCHING_MIN_TEXT);
    cr_assert(r.matchable);
    cr_assert_gt(r.score, 0.5);
}

/*  Deterministic pseudo-random generator for the generated cases. */
static unsigned s_next(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

Test(score, more_shared_rare_terms_never_lower_the_score)
{
    static char names[64][16];
    const char *vocab[64];
    for (int i = 0; i < 64; i++) {
        snprintf(names[i], sizeof names[i], "%s%d",
                 i % 3 == 0 ? "rare" : (i % 3 == 1 ? "common" : "mid"), i);
        vocab[i] = names[i];
    }
    unsigned seed = 7;
    for (int c = 0; c < 500; c++) {
        const char *need_terms[40], *offer_terms[41];
        size_t nn = 1 + s_next(&seed) % 30, no = s_next(&seed) % 30;
        for (size_t i = 0; i < nn; i++)
            need_terms[i] = vocab[s_next(&seed) % 64];
        for (size_t i = 0; i < no; i++)
            offer_terms[i] = vocab[s_next(&seed) % 64];
        matching_side_t o = s_offer(), n = s_need();
        n.terms = need_terms;
        n.n_terms = nn;
        o.terms = offer_terms;
        o.n_terms = no;
        o.trl = 1 + (int)(s_next(&seed) % 9);
        n.trl = 1 + (int)(s_next(&seed) % 9);
        matching_result_t before, after;
        cr_assert_eq(matching_score(&o, &n, &s_corpus, &before), 0);
        /*  The offer gains one more of the need's terms. */
        offer_terms[no] = need_terms[s_next(&seed) % nn];
        o.n_terms = no + 1;
        cr_assert_eq(matching_score(&o, &n, &s_corpus, &after), 0);
        cr_assert_geq(after.score, before.score, "case %d: %f < %f", c, after.score,
                      before.score);
        cr_assert_geq(s_comp(&after, "text")->value, s_comp(&before, "text")->value);
    }
}

Test(score, deterministic_and_order_independent)
{
    matching_side_t o = s_offer(), n = s_need();
    matching_result_t a, b;
    matching_score(&o, &n, &s_corpus, &a);
    matching_score(&o, &n, &s_corpus, &b);
    cr_assert_eq(memcmp(&a.score, &b.score, sizeof a.score), 0);
    static const char *const reversed[] = {"common1", "rare1", "wood",
                                           "line",    "dri",   "dri"};
    o.terms = reversed;
    o.n_terms = 6;
    matching_result_t c;
    matching_score(&o, &n, &s_corpus, &c);
    cr_assert_eq(memcmp(&a.score, &c.score, sizeof a.score), 0);
    for (size_t i = 0; i < a.n_reasons; i++) {
        cr_assert_str_eq(a.reasons[i].detail, c.reasons[i].detail);
        cr_assert_eq(a.reasons[i].n_shared, c.reasons[i].n_shared);
        for (size_t k = 0; k < a.reasons[i].n_shared; k++)
            cr_assert_str_eq(a.reasons[i].shared[k], c.reasons[i].shared[k]);
    }
}

Test(score, shared_terms_capped_at_ten)
{
    static char names[30][8];
    const char *terms[30];
    for (int i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "t%02d", i);
        terms[i] = names[i];
    }
    matching_side_t o = s_offer(), n = s_need();
    o.terms = terms;
    o.n_terms = 30;
    n.terms = terms;
    n.n_terms = 30;
    matching_result_t r;
    matching_score(&o, &n, &s_corpus, &r);
    cr_assert_eq(s_comp(&r, "text")->n_shared, MATCHING_SHARED_MAX);
    cr_assert_float_eq(s_comp(&r, "text")->value, 1.0, 1e-9);
}

/*  Cross-language: a Russian need and a Chinese offer share no word, only
    concepts ("#" + id); text is the concept overlap, and the reason names
    each shared concept with the words each side wrote. */
Test(score, concepts_match_across_languages)
{
    static const char *const nt[] = {"сушк", "пиломатериал", "тверд", "#wood.drying",
                                     "#wood.hardwood"};
    static const char *const ot[] = {
        "干燥", "硬木", "锯材", "#wood.drying", "#wood.hardwood", "#wood.vacuum_drying"};
    static const char *const nc[] = {"wood.drying", "wood.hardwood"};
    static const char *const np[] = {"сушка пиломатериалов", "твердых пород"};
    static const char *const oc[] = {"wood.drying", "wood.hardwood",
                                     "wood.vacuum_drying"};
    static const char *const op[] = {"锯材干燥", "硬木", "真空干燥"};
    matching_side_t o = s_offer(), n = s_need();
    o.terms = ot, o.n_terms = 6, o.concepts = oc, o.phrases = op, o.n_concepts = 3;
    n.terms = nt, n.n_terms = 5, n.concepts = nc, n.phrases = np, n.n_concepts = 2;
    matching_result_t r;
    cr_assert_eq(matching_score(&o, &n, &s_corpus, &r), 0);
    cr_assert(r.matchable);
    const matching_reason_t *t = s_comp(&r, "text");
    cr_assert_float_eq(t->value, 1.0, 1e-9, "every concept of the need is shared");
    cr_assert_eq(t->n_shared, 0, "no shared word");
    cr_assert_eq(t->n_concepts, 2);
    bool drying = false;
    for (size_t i = 0; i < t->n_concepts; i++)
        if (strcmp(t->concepts[i], "wood.drying") == 0) {
            drying = true;
            cr_assert_str_eq(t->need_text[i], "сушка пиломатериалов");
            cr_assert_str_eq(t->offer_text[i], "锯材干燥");
        }
    cr_assert(drying);
    cr_assert_not_null(strstr(t->detail, "2 shared concepts"), "%s", t->detail);
}

/*  text is the better of words and concepts: adding concepts never lowers a
    pair's text value, and a pair of unrelated concepts stays no match. */
Test(score, concepts_never_lower_and_unrelated_stays_apart)
{
    matching_result_t words, both, apart;
    matching_side_t o = s_offer(), n = s_need();
    cr_assert_eq(matching_score(&o, &n, &s_corpus, &words), 0);
    static const char *const ot[] = {"dri", "line", "wood", "rare1", "common1", "#a.x"};
    static const char *const nt[] = {"dri", "line", "rare1", "common1", "kiln", "#a.y"};
    o.terms = ot, o.n_terms = 6;
    n.terms = nt, n.n_terms = 6;
    cr_assert_eq(matching_score(&o, &n, &s_corpus, &both), 0);
    cr_assert_geq(s_comp(&both, "text")->value, s_comp(&words, "text")->value);
    static const char *const zt[] = {"钢材", "#mat.steel"};
    static const char *const rt[] = {"сушк", "#wood.drying"};
    o.terms = zt, o.n_terms = 2;
    n.terms = rt, n.n_terms = 2;
    cr_assert_eq(matching_score(&o, &n, &s_corpus, &apart), 0);
    cr_assert_not(apart.matchable, "a Russian drying need is no match for a steel offer");
}
