/*  matching_score: see matching_score.h. */
#include "matching_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double matching_idf(long df, long n_docs)
{
    if (df < 1)
        df = 1;
    if (n_docs < 1)
        n_docs = 1;
    return log(1.0 + (double)n_docs / (double)df);
}

double matching_round4(double x)
{
    return round(x * 10000.0) / 10000.0;
}

static bool s_in(const char *s, const char *const *list, size_t n)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], s) == 0)
            return true;
    return false;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*  Sorted, deduplicated copy of a term list (pointers borrowed). */
static const char **s_sorted_unique(const char *const *terms, size_t n, size_t *out_n)
{
    const char **v = malloc(sizeof *v * (n ? n : 1));
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (terms[i] && *terms[i])
            v[k++] = terms[i];
    qsort(v, k, sizeof *v, s_cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(v[u - 1], v[i]) != 0)
            v[u++] = v[i];
    *out_n = u;
    return v;
}

typedef struct {
    const char *term;
    double idf;
} s_weighted_t;

/*  Rarest first (highest idf), then by term for a stable order. */
static int s_cmp_weighted(const void *a, const void *b)
{
    const s_weighted_t *x = a, *y = b;
    if (x->idf > y->idf)
        return -1;
    if (x->idf < y->idf)
        return 1;
    return strcmp(x->term, y->term);
}

static void s_reason(matching_result_t *out, const char *component, double weight,
                     double value)
{
    matching_reason_t *r = &out->reasons[out->n_reasons++];
    r->component = component;
    r->weight = weight;
    r->value = matching_round4(value);
    r->contribution = matching_round4(weight * value);
}

static double s_sector(const matching_side_t *o, const matching_side_t *n,
                       matching_reason_t *r)
{
    const char *os = o->sector ? o->sector : "", *ns = n->sector ? n->sector : "";
    if (*os && strcmp(os, ns) == 0) {
        snprintf(r->detail, sizeof r->detail, "same sector: %s", os);
        return 1.0;
    }
    if (s_in(ns, o->sector_related, o->n_sector_related) ||
        s_in(os, n->sector_related, n->n_sector_related)) {
        snprintf(r->detail, sizeof r->detail, "related sectors: %s ~ %s", os, ns);
        return 0.5;
    }
    snprintf(r->detail, sizeof r->detail, "different sectors: %s / %s", os, ns);
    return 0.0;
}

/*  The overlap of one class of terms (words, or concepts: "#" + id) of two
    sorted, unique term lists: the idf of the shared ones and of all the
    need's, and the shared ones rarest first (at most MATCHING_SHARED_MAX). */
typedef struct {
    double common, total;
    size_t n_all;    /* shared terms in all */
    size_t n_shared; /* of which listed */
    const char *shared[MATCHING_SHARED_MAX];
} s_overlap_t;

static bool s_is_concept(const char *term)
{
    return term[0] == MATCHING_CONCEPT_MARK;
}

static int s_overlap(const char **ot, size_t no, const char **nt, size_t nn,
                     bool concepts, const matching_corpus_t *corpus, s_overlap_t *out)
{
    memset(out, 0, sizeof *out);
    s_weighted_t *shared = malloc(sizeof *shared * (nn ? nn : 1));
    if (!shared)
        return -1;
    size_t ns = 0;
    /*  Merge of two sorted lists; sums in a fixed order (sorted by term) so
        the result never depends on the caller's order. */
    for (size_t i = 0, j = 0; j < nn;) {
        if (s_is_concept(nt[j]) != concepts) {
            j++;
            continue;
        }
        long df = corpus && corpus->df ? corpus->df(nt[j], corpus->arg) : 1;
        double idf = matching_idf(df, corpus ? corpus->n_docs : 1);
        out->total += idf;
        while (i < no && strcmp(ot[i], nt[j]) < 0)
            i++;
        if (i < no && strcmp(ot[i], nt[j]) == 0) {
            shared[ns++] = (s_weighted_t){nt[j], idf};
            out->common += idf;
        }
        j++;
    }
    qsort(shared, ns, sizeof *shared, s_cmp_weighted);
    out->n_all = ns;
    out->n_shared = ns < MATCHING_SHARED_MAX ? ns : MATCHING_SHARED_MAX;
    for (size_t i = 0; i < out->n_shared; i++)
        out->shared[i] = shared[i].term;
    free(shared);
    return 0;
}

/*  The words of `side` that named concept `term` ("#" + id), or "". */
static const char *s_phrase(const matching_side_t *side, const char *term)
{
    for (size_t i = 0; i < side->n_concepts; i++)
        if (strcmp(side->concepts[i], term + 1) == 0)
            return side->phrases ? side->phrases[i] : "";
    return "";
}

/*  text: the better of the words both wrote (one language) and the concepts
    both name (any language), each as the idf of the shared part over the
    need's whole. */
static int s_text(const matching_side_t *o, const matching_side_t *n,
                  const matching_corpus_t *corpus, matching_reason_t *r, double *value)
{
    size_t no = 0, nn = 0;
    const char **ot = s_sorted_unique(o->terms, o->n_terms, &no);
    const char **nt = s_sorted_unique(n->terms, n->n_terms, &nn);
    s_overlap_t words, concepts;
    int rc = ot && nt ? 0 : -1;
    if (rc == 0)
        rc = s_overlap(ot, no, nt, nn, false, corpus, &words);
    if (rc == 0)
        rc = s_overlap(ot, no, nt, nn, true, corpus, &concepts);
    free(ot);
    free(nt);
    if (rc != 0)
        return -1;
    double wv = words.total > 0 ? words.common / words.total : 0.0;
    double cv = concepts.total > 0 ? concepts.common / concepts.total : 0.0;
    double v = wv > cv ? wv : cv;
    *value = v > 1.0 ? 1.0 : v;
    r->n_shared = words.n_shared;
    memcpy(r->shared, words.shared, sizeof r->shared);
    r->n_concepts = concepts.n_shared;
    for (size_t i = 0; i < concepts.n_shared; i++) {
        r->concepts[i] = concepts.shared[i] + 1;
        r->need_text[i] = s_phrase(n, concepts.shared[i]);
        r->offer_text[i] = s_phrase(o, concepts.shared[i]);
    }
    if (concepts.total == 0 && concepts.common == 0)
        snprintf(r->detail, sizeof r->detail,
                 "%zu shared terms, idf %.2f of the need's %.2f", words.n_all,
                 words.common, words.total);
    else
        snprintf(r->detail, sizeof r->detail,
                 "%zu shared terms, idf %.2f of the need's %.2f; %zu shared concepts, "
                 "idf %.2f of the need's %.2f",
                 words.n_all, words.common, words.total, concepts.n_all, concepts.common,
                 concepts.total);
    return 0;
}

static double s_trl(const matching_side_t *o, const matching_side_t *n,
                    matching_reason_t *r)
{
    if (o->trl >= n->trl) {
        snprintf(r->detail, sizeof r->detail, "offer TRL %d meets the need's minimum %d",
                 o->trl, n->trl);
        return 1.0;
    }
    int below = n->trl - o->trl;
    double v = 1.0 - MATCHING_TRL_STEP * below;
    if (v < 0)
        v = 0;
    snprintf(r->detail, sizeof r->detail,
             "offer TRL %d is %d below the need's minimum %d", o->trl, below, n->trl);
    return v;
}

static bool s_int_in(int x, const int *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static double s_cooperation(const matching_side_t *o, const matching_side_t *n,
                            matching_reason_t *r)
{
    size_t inter = 0, uni = 0;
    /*  Distinct values of the offer, then the need's values the offer lacks. */
    for (size_t i = 0; i < o->n_cooperation; i++) {
        if (s_int_in(o->cooperation[i], o->cooperation, i))
            continue;
        uni++;
        if (s_int_in(o->cooperation[i], n->cooperation, n->n_cooperation))
            inter++;
    }
    for (size_t i = 0; i < n->n_cooperation; i++) {
        if (s_int_in(n->cooperation[i], n->cooperation, i))
            continue;
        if (!s_int_in(n->cooperation[i], o->cooperation, o->n_cooperation))
            uni++;
    }
    snprintf(r->detail, sizeof r->detail, "%zu of %zu cooperation forms in common", inter,
             uni);
    return uni ? (double)inter / (double)uni : 0.0;
}

static double s_geography(const matching_side_t *o, const matching_side_t *n,
                          matching_reason_t *r)
{
    bool offer_ok = o->n_target_countries == 0 ||
                    s_in(n->country, o->target_countries, o->n_target_countries);
    bool need_ok = n->n_target_countries == 0 ||
                   s_in(o->country, n->target_countries, n->n_target_countries);
    const char *oc = o->country ? o->country : "", *nc = n->country ? n->country : "";
    snprintf(r->detail, sizeof r->detail,
             "offer (%s) %s the need's targets; need (%s) %s the offer's targets", oc,
             need_ok ? "fits" : "is outside", nc, offer_ok ? "fits" : "is outside");
    return offer_ok && need_ok ? 1.0 : (offer_ok || need_ok ? 0.5 : 0.0);
}

int matching_score(const matching_side_t *offer, const matching_side_t *need,
                   const matching_corpus_t *corpus, matching_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (offer->org_id && need->org_id && strcmp(offer->org_id, need->org_id) == 0) {
        out->matchable = false;
        return 0;
    }
    out->matchable = true;
    matching_reason_t tmp[MATCHING_COMPONENTS];
    memset(tmp, 0, sizeof tmp);
    double v_sector = s_sector(offer, need, &tmp[0]);
    double v_text = 0;
    if (s_text(offer, need, corpus, &tmp[1], &v_text) < 0)
        return -1;
    double v_trl = s_trl(offer, need, &tmp[2]);
    double v_coop = s_cooperation(offer, need, &tmp[3]);
    double v_geo = s_geography(offer, need, &tmp[4]);

    s_reason(out, "sector", MATCHING_W_SECTOR, v_sector);
    s_reason(out, "text", MATCHING_W_TEXT, v_text);
    s_reason(out, "trl", MATCHING_W_TRL, v_trl);
    s_reason(out, "cooperation", MATCHING_W_COOPERATION, v_coop);
    s_reason(out, "geography", MATCHING_W_GEOGRAPHY, v_geo);
    for (size_t i = 0; i < out->n_reasons; i++) {
        memcpy(out->reasons[i].detail, tmp[i].detail, sizeof tmp[i].detail);
        memcpy(out->reasons[i].shared, tmp[i].shared, sizeof tmp[i].shared);
        out->reasons[i].n_shared = tmp[i].n_shared;
        memcpy(out->reasons[i].concepts, tmp[i].concepts, sizeof tmp[i].concepts);
        memcpy(out->reasons[i].need_text, tmp[i].need_text, sizeof tmp[i].need_text);
        memcpy(out->reasons[i].offer_text, tmp[i].offer_text, sizeof tmp[i].offer_text);
        out->reasons[i].n_concepts = tmp[i].n_concepts;
    }
    double sum = MATCHING_W_SECTOR * v_sector + MATCHING_W_TEXT * v_text +
                 MATCHING_W_TRL * v_trl + MATCHING_W_COOPERATION * v_coop +
                 MATCHING_W_GEOGRAPHY * v_geo;
    out->score = matching_round4(sum);
    if (v_text < MATCHING_MIN_TEXT) {
        out->matchable = false;
        out->score = 0;
    }
    return 0;
}
