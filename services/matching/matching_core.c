/*  matching_core: see matching_core.h. */
#include "matching_core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tb_feed.h"
#include "tb_lexicon.h"
#include "tb_log.h"
#include "tb_pgarray.h"
#include "tb_valid.h"

#define S_LIST_DEFAULT 20
#define S_LIST_MAX     100

struct matching_core_t {
    tb_db_t *db;
    double threshold;
    int top_k;
    tb_lexicon_t *lexicon; /* the analyser and the thesaurus, for both threads of
                              work this core does (one service thread) */
};

matching_core_t *matching_core_new(tb_db_t *db, double threshold, int top_k)
{
    matching_core_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->threshold = threshold;
    self->top_k = top_k;
    if (!(self->lexicon = tb_lexicon_new()))
        matching_core_destroy(&self);
    return self;
}

void matching_core_destroy(matching_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_lexicon_destroy(&(*self_p)->lexicon);
    free(*self_p);
    *self_p = NULL;
}

/* ---- text ---- */

/*  A text[] literal of `items`. */
static const char *s_literal(tb_arena_t *arena, char *const *items, size_t n)
{
    tb_pgarray_t *a = tb_pgarray_new();
    for (size_t i = 0; a && i < n; i++)
        tb_pgarray_text(a, items[i]);
    const char *lit = a ? tb_pgarray_copy(a, arena) : NULL;
    tb_pgarray_destroy(&a);
    return lit;
}

int matching_analyse(matching_core_t *self, tb_db_t *db, tb_arena_t *arena,
                     const Techbridge__Request *r, matching_text_t *out)
{
    tb_text_result_t t;
    if (tb_lexicon_analyse_request(self->lexicon, db, arena, r, 0, &t) != 0)
        return -1;
    out->terms = tb_lexicon_terms_literal(arena, &t, false);
    out->concepts = s_literal(arena, t.concepts, t.n_concepts);
    out->phrases = s_literal(arena, t.phrases, t.n_concepts);
    out->language = tb_lang_code(t.language);
    return out->terms && out->concepts && out->phrases ? 0 : -1;
}

/*  The reader's language of a list_matches or get_match call ("" = English):
    0, or -1 with the violation set. */
static int s_reader_lang(tb_call_t *call, const char *code, tb_lang_t *lang)
{
    *lang = TB_LANG_EN;
    if (!code || !*code || tb_lang_parse(code, lang) == 0)
        return 0;
    tb_call_violation(call, "lang", "must be one of en, ru, be, zh");
    return -1;
}

/*  Names the shared concepts of a match's text reason in the reader's
    language and leads its detail with them: `wood drying: "сушка
    пиломатериалов" ~ "木材干燥"`. */
static int s_label(matching_core_t *self, tb_arena_t *arena, Techbridge__Match *m,
                   tb_lang_t lang)
{
    const tb_thesaurus_t *th = tb_lexicon_thesaurus(self->lexicon);
    for (size_t i = 0; i < m->n_reasons; i++) {
        Techbridge__ScoreReason *r = m->reasons[i];
        if (!r->n_shared_concepts)
            continue;
        char *lead = "";
        for (size_t k = 0; k < r->n_shared_concepts; k++) {
            Techbridge__SharedConcept *c = r->shared_concepts[k];
            const tb_concept_t *concept = th ? tb_thesaurus_find(th, c->id) : NULL;
            c->label = (char *)(concept ? tb_concept_name(concept, lang) : c->id);
            lead = tb_arena_printf(arena, "%s%s%s: \"%s\" ~ \"%s\"", lead, k ? "; " : "",
                                   c->label, c->need_text, c->offer_text);
            if (!lead)
                return -1;
        }
        if (!(r->detail = tb_arena_printf(arena, "%s (%s)", lead, r->detail)))
            return -1;
    }
    return 0;
}

/* ---- scoring ---- */

int matching_score_pair(const matching_req_t *a, const matching_req_t *b,
                        const matching_dfmap_t *map, matching_result_t *out)
{
    matching_side_t sa, sb;
    matching_req_side(a, &sa);
    matching_req_side(b, &sb);
    matching_corpus_t corpus = {matching_dfmap_lookup, (void *)map, map->n_docs};
    if (a->kind == TECHBRIDGE__KIND__OFFER)
        return matching_score(&sa, &sb, &corpus, out);
    return matching_score(&sb, &sa, &corpus, out);
}

static int s_cmp_hit(const void *x, const void *y)
{
    const matching_hit_t *a = x, *b = y;
    if (a->res.score != b->res.score)
        return a->res.score > b->res.score ? -1 : 1;
    return strcmp(a->req->id, b->req->id);
}

/*  Scores `cands` against `r`, keeps those >= threshold, sorted, top_k. */
static int s_rank(const matching_req_t *r, const matching_req_t *cands, size_t n,
                  const matching_dfmap_t *map, double threshold, int top_k,
                  tb_arena_t *arena, matching_hit_t **hits, size_t *n_hits)
{
    matching_hit_t *v = tb_arena_alloc(arena, sizeof *v * (n ? n : 1));
    if (!v)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cands[i].kind == r->kind || strcmp(cands[i].id, r->id) == 0)
            continue;
        v[k].req = &cands[i];
        if (matching_score_pair(r, &cands[i], map, &v[k].res) < 0)
            return -1;
        if (v[k].res.matchable && v[k].res.score >= threshold)
            k++;
    }
    qsort(v, k, sizeof *v, s_cmp_hit);
    if (top_k >= 0 && k > (size_t)top_k)
        k = (size_t)top_k;
    *hits = v;
    *n_hits = k;
    return 0;
}

/*  The df the scorer needs: its idf weights are the need's terms only
    (docs/scoring.md). When r is the need, those are r's own, already read for
    retrieval (`own`); when r is the offer, the terms of the needs in the lists.
    At 100k requests the candidates' terms were most of a probe's df read. */
static int s_dfmap(tb_db_t *db, tb_arena_t *arena, const matching_req_t *r,
                   const matching_dfmap_t *own, const matching_req_t *a, size_t na,
                   const matching_req_t *b, size_t nb, matching_dfmap_t *map)
{
    if (r->kind == TECHBRIDGE__KIND__NEED) {
        *map = *own;
        return 0;
    }
    const matching_req_t **all = tb_arena_alloc(arena, sizeof *all * (1 + na + nb));
    if (!all)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < na; i++)
        all[n++] = &a[i];
    for (size_t i = 0; i < nb; i++)
        all[n++] = &b[i];
    return matching_store_dfmap(db, arena, all, n, map);
}

int matching_find(tb_db_t *db, tb_arena_t *arena, const matching_req_t *r, bool naive,
                  double threshold, int top_k, matching_hit_t **hits, size_t *n_hits,
                  size_t *n_candidates)
{
    matching_dfmap_t own, map;
    matching_req_t *cands = NULL;
    size_t n = 0;
    if (matching_store_dfmap(db, arena, &r, 1, &own) < 0 ||
        matching_store_candidates(db, arena, r, &own, MATCHING_RETRIEVE_LIMIT, naive,
                                  &cands, &n) < 0 ||
        s_dfmap(db, arena, r, &own, cands, n, NULL, 0, &map) < 0)
        return -1;
    if (n_candidates)
        *n_candidates = n;
    return s_rank(r, cands, n, &map, threshold, top_k, arena, hits, n_hits);
}

/* ---- events ---- */

/*  Appends a match event carrying `m`. */
static int s_emit_match(tb_db_t *db, const Techbridge__Match *m,
                        Techbridge__EventType type, const char *cid, const char *actor,
                        const char *reason)
{
    Techbridge__Event ev = TECHBRIDGE__EVENT__INIT;
    ev.type = type;
    ev.correlation_id = (char *)(cid ? cid : "");
    ev.actor = (char *)(actor ? actor : "matching");
    ev.reason = (char *)(reason ? reason : "");
    ev.match = (Techbridge__Match *)m;
    if (tb_feed_append(db, TB_STREAM_MATCHES, &ev) < 0)
        return -1;
    tb_info("match.event", cid, TB_S("match_id", m->id), TB_I("type", type),
            TB_D("score", m->score), TB_I("seq", ev.seq));
    return 0;
}

/*  Appends a match event for stored match `id` (read back with both parties). */
static int s_emit(tb_db_t *db, tb_arena_t *arena, const char *id,
                  Techbridge__EventType type, const char *cid, const char *actor,
                  const char *reason)
{
    Techbridge__Match *m = NULL;
    bool found = false;
    if (matching_store_match(db, arena, id, false, &m, &found) < 0 || !found)
        return -1;
    return s_emit_match(db, m, type, cid, actor, reason);
}

static const matching_req_t *s_find_req(const matching_req_t *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id, id) == 0)
            return &v[i];
    return NULL;
}

/*  Retires the open (PROPOSED) matches of a request that left PUBLISHED. */
static int s_retire_open(tb_db_t *db, tb_arena_t *arena, const char *request_id,
                         const char *cid)
{
    matching_pair_t *pairs = NULL;
    size_t n = 0;
    if (matching_store_pairs(db, arena, request_id, &pairs, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (pairs[i].status != TECHBRIDGE__MATCH_STATUS__PROPOSED)
            continue;
        if (matching_store_set_status(db, pairs[i].id, TECHBRIDGE__MATCH_STATUS__RETIRED,
                                      NULL) < 0 ||
            s_emit(db, arena, pairs[i].id, TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_RETIRED,
                   cid, NULL, "request left PUBLISHED") < 0)
            return -1;
    }
    return 0;
}

/*  (Re)matches a published request: new pairs in its top K become PROPOSED,
    open pairs are re-scored (UPDATED when the score moved) or RETIRED when they
    fell below the threshold, RETIRED pairs back in the top K are proposed again.
    Decided pairs (ACCEPTED, DECLINED, CLOSED) are left alone. */
static int s_rematch(matching_core_t *self, tb_db_t *db, tb_arena_t *arena,
                     const matching_req_t *r, const char *cid)
{
    const char *id = r->id;

    matching_pair_t *pairs = NULL;
    size_t np = 0;
    if (matching_store_pairs(db, arena, id, &pairs, &np) < 0)
        return -1;

    matching_dfmap_t own, map;
    matching_req_t *cands = NULL, *others = NULL;
    size_t nc = 0, no = 0;
    if (matching_store_dfmap(db, arena, &r, 1, &own) < 0 ||
        matching_store_candidates(db, arena, r, &own, MATCHING_RETRIEVE_LIMIT, false,
                                  &cands, &nc) < 0)
        return -1;
    /*  The counterparts of stored pairs that retrieval did not bring. */
    const char **other_ids = tb_arena_alloc(arena, sizeof *other_ids * (np ? np : 1));
    if (!other_ids)
        return -1;
    size_t nother = 0;
    for (size_t i = 0; i < np; i++) {
        const char *cp =
            strcmp(pairs[i].offer_id, id) == 0 ? pairs[i].need_id : pairs[i].offer_id;
        if (!s_find_req(cands, nc, cp))
            other_ids[nother++] = cp;
    }
    if (matching_store_load(db, arena, other_ids, nother, &others, &no) < 0 ||
        s_dfmap(db, arena, r, &own, cands, nc, others, no, &map) < 0)
        return -1;

    matching_hit_t *hits = NULL;
    size_t nh = 0;
    if (s_rank(r, cands, nc, &map, self->threshold, self->top_k, arena, &hits, &nh) < 0)
        return -1;

    bool *handled = tb_arena_alloc(arena, sizeof *handled * (np ? np : 1));
    if (!handled)
        return -1;
    for (size_t h = 0; h < nh; h++) {
        const matching_req_t *c = hits[h].req;
        const char *offer_id = r->kind == TECHBRIDGE__KIND__OFFER ? r->id : c->id;
        const char *need_id = r->kind == TECHBRIDGE__KIND__OFFER ? c->id : r->id;
        matching_pair_t *pair = NULL;
        for (size_t i = 0; i < np; i++)
            if (strcmp(pairs[i].offer_id, offer_id) == 0 &&
                strcmp(pairs[i].need_id, need_id) == 0) {
                pair = &pairs[i];
                handled[i] = true;
            }
        if (!pair) {
            Techbridge__Match *m = NULL;
            bool offer = r->kind == TECHBRIDGE__KIND__OFFER;
            if (matching_store_propose(db, arena, offer ? r : c, offer ? c : r,
                                       &hits[h].res, &m) < 0 ||
                s_emit_match(db, m, TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_PROPOSED, cid,
                             NULL, NULL) < 0)
                return -1;
        } else if (pair->status == TECHBRIDGE__MATCH_STATUS__PROPOSED) {
            if (fabs(pair->score - hits[h].res.score) > 1e-9 &&
                (matching_store_rescore(db, pair->id, &hits[h].res,
                                        TECHBRIDGE__MATCH_STATUS__PROPOSED) < 0 ||
                 s_emit(db, arena, pair->id, TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_UPDATED,
                        cid, NULL, NULL) < 0))
                return -1;
        } else if (pair->status == TECHBRIDGE__MATCH_STATUS__RETIRED) {
            if (matching_store_rescore(db, pair->id, &hits[h].res,
                                       TECHBRIDGE__MATCH_STATUS__PROPOSED) < 0 ||
                s_emit(db, arena, pair->id, TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_PROPOSED,
                       cid, NULL, NULL) < 0)
                return -1;
        }
    }
    /*  Open pairs outside the top K: re-score; below the threshold, or the other
        side no longer published, they retire. */
    for (size_t i = 0; i < np; i++) {
        if (handled[i] || pairs[i].status != TECHBRIDGE__MATCH_STATUS__PROPOSED)
            continue;
        const char *cp =
            strcmp(pairs[i].offer_id, id) == 0 ? pairs[i].need_id : pairs[i].offer_id;
        const matching_req_t *c = s_find_req(cands, nc, cp);
        if (!c)
            c = s_find_req(others, no, cp);
        matching_result_t res;
        bool keep = false;
        if (c && c->status == TECHBRIDGE__STATUS__PUBLISHED) {
            if (matching_score_pair(r, c, &map, &res) < 0)
                return -1;
            keep = res.matchable && res.score >= self->threshold;
        }
        if (!keep) {
            if (matching_store_set_status(db, pairs[i].id,
                                          TECHBRIDGE__MATCH_STATUS__RETIRED, NULL) < 0 ||
                s_emit(db, arena, pairs[i].id,
                       TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_RETIRED, cid, NULL,
                       "score fell below the threshold") < 0)
                return -1;
        } else if (fabs(pairs[i].score - res.score) > 1e-9) {
            if (matching_store_rescore(db, pairs[i].id, &res,
                                       TECHBRIDGE__MATCH_STATUS__PROPOSED) < 0 ||
                s_emit(db, arena, pairs[i].id,
                       TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_UPDATED, cid, NULL, NULL) < 0)
                return -1;
        }
    }
    tb_info("match.rematch", cid, TB_S("request_id", id), TB_I("candidates", nc),
            TB_I("kept", nh), TB_I("existing", np));
    return 0;
}

int matching_core_apply(tb_db_t *db, const Techbridge__Event *event, void *core)
{
    matching_core_t *self = core;
    const char *cid = event->correlation_id;
    switch (event->type) {
    case TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED:
    case TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EDITED:
    case TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED:
        break;
    default:
        return 0; /* nothing for matching (EXPIRING, unknown types) */
    }
    const Techbridge__Request *r = event->request;
    if (!r || !r->id || !tb_valid_uuid(r->id) || !r->org || !r->sector || !r->title ||
        !r->summary ||
        (r->kind != TECHBRIDGE__KIND__OFFER && r->kind != TECHBRIDGE__KIND__NEED)) {
        /*  A poison event must not block the feed: log it and move on. */
        tb_error("match.bad_event", cid, TB_I("seq", event->seq),
                 TB_S("error", "request event without a usable request"));
        return 0;
    }
    tb_arena_t *arena = tb_arena_new(0);
    if (!arena)
        return -1;
    int old_status = 0;
    bool stale = false;
    matching_req_t *row = NULL;
    matching_text_t text;
    if (matching_analyse(self, db, arena, r, &text) != 0 ||
        matching_store_upsert(db, arena, r, &text, &old_status, &stale, &row) < 0) {
        tb_arena_destroy(&arena);
        return -1;
    }
    if (stale) {
        tb_arena_destroy(&arena);
        return 0;
    }
    int rc = 0;
    bool published = r->status == TECHBRIDGE__STATUS__PUBLISHED;
    if (published) {
        /*  Published, reopened or edited while published; a renewal (published
            to published without an edit) changes nothing that scores. */
        bool renew =
            event->type == TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED &&
            old_status == TECHBRIDGE__STATUS__PUBLISHED;
        if (!renew)
            rc = s_rematch(self, db, arena, row, cid);
    } else if (r->status == TECHBRIDGE__STATUS__WITHDRAWN ||
               r->status == TECHBRIDGE__STATUS__REJECTED ||
               r->status == TECHBRIDGE__STATUS__EXPIRED ||
               r->status == TECHBRIDGE__STATUS__SUBMITTED) {
        /*  SUBMITTED: an organisation's edit sent it back to review; its
            proposals wait for the operator to publish it again. */
        rc = s_retire_open(db, arena, r->id, cid);
    }
    tb_arena_destroy(&arena);
    return rc;
}

/* ---- API ---- */

/*  May the caller see the matches of `request_id`? Sets the error when not. */
static int s_may_see_request(tb_call_t *call, tb_db_t *db, const char *request_id)
{
    char *org = NULL;
    bool found = false;
    if (matching_store_request_org(db, call->arena, request_id, &org, &found) < 0)
        return tb_call_db_error(call, db, "request");
    if (!found)
        return tb_call_error(call, TECHBRIDGE__CODE__NOT_FOUND, "no request %s",
                             request_id);
    if (!tb_call_may_act_for(call, org))
        return tb_call_error(call, TECHBRIDGE__CODE__PERMISSION_DENIED,
                             "the request belongs to another organisation");
    return 0;
}

static bool s_may_see_match(const tb_call_t *call, const Techbridge__Match *m)
{
    return call->is_operator || tb_call_may_act_for(call, m->offer->org->id) ||
           tb_call_may_act_for(call, m->need->org->id);
}

/*  SPEC section 4 makes the accepted match the introduction, with both
    contacts: until an operator accepts it, an organisation sees the other
    party's request without its contact (name, e-mail, phone). Operators see
    everything; each party always sees its own. */
static void s_hide_contacts(const tb_call_t *call, Techbridge__Match *m)
{
    if (call->is_operator || m->status == TECHBRIDGE__MATCH_STATUS__ACCEPTED ||
        m->status == TECHBRIDGE__MATCH_STATUS__CLOSED)
        return;
    Techbridge__Party *sides[] = {m->offer, m->need};
    for (size_t i = 0; i < 2; i++)
        if (sides[i] && sides[i]->org && !tb_call_may_act_for(call, sides[i]->org->id))
            sides[i]->contact = NULL;
}

static int s_list(matching_core_t *self, tb_call_t *call)
{
    const Techbridge__ListMatches *q = call->req->list_matches;
    if (!q->request_id || !tb_valid_uuid(q->request_id)) {
        tb_call_violation(call, "request_id", "must be a request id (UUID)");
        return -1;
    }
    int limit = q->limit;
    if (limit < 0 || limit > S_LIST_MAX) {
        tb_call_violation(call, "limit", "must be between 0 and 100");
        return -1;
    }
    if (limit == 0)
        limit = S_LIST_DEFAULT;
    tb_lang_t lang;
    if (s_reader_lang(call, q->lang, &lang) < 0)
        return -1;
    if (s_may_see_request(call, self->db, q->request_id) < 0)
        return -1;
    Techbridge__MatchList *list =
        TB_PB_NEW(call->arena, Techbridge__MatchList, techbridge__match_list__descriptor);
    if (!list)
        return tb_call_error(call, TECHBRIDGE__CODE__INTERNAL, "out of memory");
    if (matching_store_matches_of(self->db, call->arena, q->request_id, limit,
                                  &list->matches, &list->n_matches) < 0)
        return tb_call_db_error(call, self->db, "list matches");
    tb_lexicon_refresh(self->lexicon, self->db, false);
    for (size_t i = 0; i < list->n_matches; i++) {
        s_hide_contacts(call, list->matches[i]);
        if (s_label(self, call->arena, list->matches[i], lang) != 0)
            return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                                 "reply too large");
    }
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_MATCHES;
    call->reply->matches = list;
    return 0;
}

static int s_get(matching_core_t *self, tb_call_t *call)
{
    const char *id = call->req->get_match->id;
    if (!id || !tb_valid_uuid(id)) {
        tb_call_violation(call, "id", "must be a match id (UUID)");
        return -1;
    }
    tb_lang_t lang;
    if (s_reader_lang(call, call->req->get_match->lang, &lang) < 0)
        return -1;
    Techbridge__Match *m = NULL;
    bool found = false;
    if (matching_store_match(self->db, call->arena, id, false, &m, &found) < 0)
        return tb_call_db_error(call, self->db, "get match");
    if (!found || !s_may_see_match(call, m))
        return tb_call_error(call, TECHBRIDGE__CODE__NOT_FOUND, "no match %s", id);
    s_hide_contacts(call, m);
    tb_lexicon_refresh(self->lexicon, self->db, false);
    if (s_label(self, call->arena, m, lang) != 0)
        return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                             "reply too large");
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_MATCH;
    call->reply->match = m;
    return 0;
}

static int s_replace_thesaurus(matching_core_t *self, tb_call_t *call,
                               const tb_thesaurus_t *th, const char *source,
                               const char *file)
{
    int64_t version = 0, total = 0;
    char *conflict = NULL;
    int rc = tb_thesaurus_db_replace(self->db, call->arena, th, source, file, call->who,
                                     &version, &total, &conflict);
    if (rc < 0)
        return tb_call_db_error(call, self->db, "load thesaurus");
    if (rc > 0)
        return tb_call_error(call, TECHBRIDGE__CODE__ALREADY_EXISTS,
                             "concept %s belongs to another source", conflict);
    Techbridge__ThesaurusResult *res =
        TB_PB_NEW(call->arena, Techbridge__ThesaurusResult,
                  techbridge__thesaurus_result__descriptor);
    if (!res || !(res->source = tb_arena_strdup(call->arena, source)))
        return tb_call_error(call, TECHBRIDGE__CODE__INTERNAL, "out of memory");
    res->concepts = (int32_t)tb_thesaurus_size(th);
    res->total_concepts = (int32_t)total;
    res->version = version;
    tb_info("thesaurus.replaced", call->cid, TB_S("source", source), TB_S("file", file),
            TB_I("concepts", res->concepts), TB_I("total", total),
            TB_I("version", version), TB_S("actor", call->actor));
    tb_lexicon_refresh(self->lexicon, self->db, true);
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_THESAURUS;
    call->reply->thesaurus = res;
    return 0;
}

/*  load_thesaurus (operators): validates a whole file, then replaces its
    source's concepts in one transaction; every service loads the new
    thesaurus within TB_LEXICON_CHECK_MS. */
static int s_load_thesaurus(matching_core_t *self, tb_call_t *call)
{
    const Techbridge__LoadThesaurus *q = call->req->load_thesaurus;
    if (!call->is_operator)
        return tb_call_error(call, TECHBRIDGE__CODE__PERMISSION_DENIED,
                             "only operators load the thesaurus");
    const char *file = q->file && *q->file ? q->file : "thesaurus";
    if (strlen(file) > 200 || !tb_valid_utf8(file, strlen(file))) {
        tb_call_violation(call, "file", "must be at most 200 bytes of UTF-8");
        return -1;
    }
    tb_thesaurus_t *th = tb_thesaurus_new();
    char *errors = NULL;
    const char *source = NULL;
    const char *text = q->text ? q->text : "";
    int bad =
        th ? tb_thesaurus_parse(th, text, strlen(text), file, &source, &errors) : -1;
    if (bad == 0)
        bad = tb_thesaurus_index(th, tb_lexicon_text(self->lexicon), &errors);
    int rc = -1;
    if (bad < 0)
        rc = tb_call_error(call, TECHBRIDGE__CODE__INTERNAL, "out of memory");
    else if (bad > 0) {
        for (char *line = errors, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            if ((nl = strchr(line, '\n')))
                *nl = '\0';
            tb_call_violation(call, "text", line);
        }
    } else
        rc = s_replace_thesaurus(self, call, th, source, file);
    free(errors);
    tb_thesaurus_destroy(&th);
    return rc;
}

static int s_decide(matching_core_t *self, tb_call_t *call)
{
    const Techbridge__DecideMatch *q = call->req->decide_match;
    tb_db_t *db = self->db;
    if (!call->is_operator)
        return tb_call_error(call, TECHBRIDGE__CODE__PERMISSION_DENIED,
                             "only operators decide matches");
    bool bad = false;
    if (!q->id || !tb_valid_uuid(q->id)) {
        tb_call_violation(call, "id", "must be a match id (UUID)");
        bad = true;
    }
    int to = 0;
    Techbridge__EventType type = 0;
    switch (q->action) {
    case TECHBRIDGE__MATCH_ACTION__ACCEPT:
        to = TECHBRIDGE__MATCH_STATUS__ACCEPTED;
        type = TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED;
        break;
    case TECHBRIDGE__MATCH_ACTION__DECLINE:
        to = TECHBRIDGE__MATCH_STATUS__DECLINED;
        type = TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_DECLINED;
        break;
    case TECHBRIDGE__MATCH_ACTION__CLOSE:
        to = TECHBRIDGE__MATCH_STATUS__CLOSED;
        type = TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_CLOSED;
        break;
    default:
        tb_call_violation(call, "action", "must be ACCEPT, DECLINE or CLOSE");
        bad = true;
    }
    const char *reason = q->reason ? q->reason : "";
    size_t rlen = strlen(reason);
    if (rlen > TB_REASON_MAX || !tb_valid_utf8(reason, rlen)) {
        tb_call_violation(call, "reason", "at most 1000 characters of valid UTF-8");
        bad = true;
    }
    if (q->version < 0) {
        tb_call_violation(call, "version", "must not be negative");
        bad = true;
    }
    if (bad)
        return -1;

    if (tb_db_begin(db) < 0)
        return tb_call_db_error(call, db, "begin");
    Techbridge__Match *m = NULL;
    bool found = false;
    if (matching_store_match(db, call->arena, q->id, true, &m, &found) < 0) {
        tb_call_db_error(call, db, "decide match");
        tb_db_rollback(db);
        return -1;
    }
    if (!found) {
        tb_db_rollback(db);
        return tb_call_error(call, TECHBRIDGE__CODE__NOT_FOUND, "no match %s", q->id);
    }
    if (q->version != 0 && q->version != m->version) {
        tb_db_rollback(db);
        return tb_call_error(call, TECHBRIDGE__CODE__ABORTED,
                             "the match is at version %lld, not %lld",
                             (long long)m->version, (long long)q->version);
    }
    Techbridge__MatchStatus need = to == TECHBRIDGE__MATCH_STATUS__CLOSED
                                       ? TECHBRIDGE__MATCH_STATUS__ACCEPTED
                                       : TECHBRIDGE__MATCH_STATUS__PROPOSED;
    if (m->status != need) {
        tb_db_rollback(db);
        return tb_call_error(
            call, TECHBRIDGE__CODE__FAILED_PRECONDITION,
            "a match can be %s only when it is %s",
            to == TECHBRIDGE__MATCH_STATUS__CLOSED ? "closed" : "decided",
            need == TECHBRIDGE__MATCH_STATUS__ACCEPTED ? "ACCEPTED" : "PROPOSED");
    }
    if (matching_store_set_status(db, q->id, to, reason) < 0 ||
        s_emit(db, call->arena, q->id, type, call->cid, call->who, reason) < 0 ||
        matching_store_match(db, call->arena, q->id, false, &m, &found) < 0 || !found) {
        tb_call_db_error(call, db, "decide match");
        tb_db_rollback(db);
        return -1;
    }
    if (tb_db_commit(db) < 0)
        return tb_call_db_error(call, db, "commit");
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_MATCH;
    call->reply->match = m;
    return 0;
}

int matching_core_api(tb_call_t *call, void *core)
{
    matching_core_t *self = core;
    switch (call->req->body_case) {
    case TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES:
        return s_list(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_GET_MATCH:
        return s_get(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH:
        return s_decide(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_LOAD_THESAURUS:
        return s_load_thesaurus(self, call);
    default:
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "unknown kind for tb-matching: %s",
                             tb_call_kind_name(call->req->body_case));
    }
}
