/*  intake_query: the reads of the requests API: get, history and list. */
#include <string.h>

#include "intake_internal.h"

/* Loads request `id` for a read by the caller: 0 with *row, or -1 with the
   reply set (bad id, not found, another org's request, database). */
int intake_load(intake_core_t *self, tb_call_t *call, const char *id, bool for_update,
                intake_row_t *row)
{
    if (!intake_is_uuid(id))
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "id must be a UUID");
    int rc = intake_store_get(self->db, call->arena, id, for_update, row);
    if (rc < 0)
        return intake_db_fail(call, self->db, "read request");
    if (rc > 0) {
        if (for_update)
            tb_db_rollback(self->db);
        return tb_call_error(call, INTAKE_CODE(NOT_FOUND), "request %s not found", id);
    }
    const char *org = row->request->org ? row->request->org->id : "";
    if (!tb_call_may_act_for(call, org)) {
        if (for_update)
            tb_db_rollback(self->db);
        return tb_call_error(call, INTAKE_CODE(PERMISSION_DENIED),
                             "request %s belongs to another organisation", id);
    }
    return 0;
}

int intake_get(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__GetRequest *g = call->req->get;
    intake_row_t row = {0};
    if (intake_load(self, call, g ? g->id : "", false, &row) != 0)
        return -1;
    return intake_reply_request(call, row.request, "", false);
}

int intake_history(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__HistoryRequest *h = call->req->history;
    intake_row_t row = {0};
    if (intake_load(self, call, h ? h->id : "", false, &row) != 0)
        return -1;
    Techbridge__History *out =
        TB_PB_NEW(call->arena, Techbridge__History, techbridge__history__descriptor);
    if (!out)
        return intake_full(call);
    if (intake_store_history(self->db, call->arena, row.request->id, &out->entries,
                             &out->n_entries) != 0)
        return intake_db_fail(call, self->db, "read history");
    out->request_id = row.request->id;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_HISTORY;
    call->reply->history = out;
    return 0;
}

/* ---- list ---- */

/* A filter string: bounded, valid UTF-8. */
static bool s_filter_ok(const char *s, size_t max_chars)
{
    size_t len = strlen(s);
    return len <= max_chars * 4 && intake_utf8_chars(s) <= max_chars &&
           tb_valid_utf8(s, len);
}

/* The kind and status filters. False when one is unknown (violation added). */
static bool s_list_enums(tb_call_t *call, const Techbridge__ListRequests *l,
                         intake_filter_t *f)
{
    bool ok = true;
    if (l->kind != 0) {
        if (l->kind != TECHBRIDGE__KIND__OFFER && l->kind != TECHBRIDGE__KIND__NEED) {
            tb_call_violation(call, "kind", "unknown kind");
            ok = false;
        } else
            f->kind = intake_kind_text(l->kind);
    }
    if (l->status != 0) {
        f->status = intake_status_text(l->status);
        if (!*f->status) {
            tb_call_violation(call, "status", "unknown status");
            ok = false;
        }
    }
    return ok;
}

/* A string filter `value`, when given, into *out. False when it is too long
   or not UTF-8 (violation `field`, `reason` added). */
static bool s_list_string(tb_call_t *call, const char *value, size_t max_chars,
                          const char *field, const char *reason, const char **out)
{
    if (!value || !*value)
        return true;
    *out = value;
    if (s_filter_ok(value, max_chars))
        return true;
    tb_call_violation(call, field, reason);
    return false;
}

/* The page size asked for, within 1..INTAKE_LIST_MAX (0: the default). False
   when negative (violation added). */
static bool s_list_limit(tb_call_t *call, int requested, int *limit)
{
    bool ok = requested >= 0;
    if (!ok)
        tb_call_violation(call, "limit", "must not be negative");
    *limit = requested <= 0                ? INTAKE_LIST_DEFAULT
             : requested > INTAKE_LIST_MAX ? INTAKE_LIST_MAX
                                           : requested;
    return ok;
}

/* The position after which the page starts, from the page token when given.
   False when the token is malformed (violation added). */
static bool s_list_after(tb_call_t *call, const char *token, intake_filter_t *f,
                         char after_id[37])
{
    if (!token || !*token)
        return true;
    if (intake_page_token_decode(token, &f->after_ms, after_id) != 0) {
        tb_call_violation(call, "page_token", "malformed page token");
        return false;
    }
    f->has_after = true;
    f->after_id = after_id;
    return true;
}

/* The filter of a list call (an organisation sees only its own requests) and
   its page size. Returns 0, or -1 with every violation on the reply. */
static int s_list_filter(tb_call_t *call, const Techbridge__ListRequests *l,
                         intake_filter_t *f, char after_id[37], int *limit)
{
    bool ok = s_list_enums(call, l, f);
    ok &= s_list_string(call, l->sector, 64, "sector",
                        "at most 64 characters of valid UTF-8", &f->sector);
    if (!call->is_operator)
        f->org_id = call->actor;
    else
        ok &= s_list_string(call, l->org_id, TB_ORG_ID_MAX, "org_id",
                            "at most 64 characters of valid UTF-8", &f->org_id);
    ok &= s_list_string(call, l->text, INTAKE_TEXT_MAX, "text",
                        "at most 200 characters of valid UTF-8", &f->words);
    ok &= s_list_limit(call, l->limit, limit);
    ok &= s_list_after(call, l->page_token, f, after_id);
    return ok ? 0 : -1;
}

/*  How each request of a text search was found. */
static int s_hits(tb_arena_t *arena, Techbridge__RequestPage *page, const bool *by_words)
{
    page->hits = tb_arena_alloc(arena, (page->n_requests + 1) * sizeof *page->hits);
    if (!page->hits)
        return -1;
    for (size_t i = 0; i < page->n_requests; i++) {
        Techbridge__SearchHit *h =
            TB_PB_NEW(arena, Techbridge__SearchHit, techbridge__search_hit__descriptor);
        if (!h)
            return -1;
        h->request_id = page->requests[i]->id;
        h->found_by = by_words[i] ? "words" : "concepts";
        page->hits[i] = h;
    }
    page->n_hits = page->n_requests;
    return 0;
}

int intake_list(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__ListRequests *l = call->req->list;
    if (!l)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "list needs filters");
    intake_filter_t f = {0};
    char after_id[37];
    int limit = 0;
    if (s_list_filter(call, l, &f, after_id, &limit) != 0)
        return -1;
    f.limit = limit + 1; /* one more tells whether a next page exists */
    if (f.words) {
        int rc = intake_query_terms(self, call->arena, f.words, &f.words, &f.concepts);
        if (rc < 0)
            return intake_full(call);
        if (rc > 0) {
            tb_call_violation(call, "text",
                              "holds no word to search for (only stop words, numbers "
                              "or punctuation)");
            return -1;
        }
    }

    Techbridge__RequestPage *page = TB_PB_NEW(call->arena, Techbridge__RequestPage,
                                              techbridge__request_page__descriptor);
    if (!page)
        return intake_full(call);
    Techbridge__Request **list = NULL;
    bool *by_words = NULL;
    size_t n = 0;
    if (intake_store_list(self->db, call->arena, &f, &list, &by_words, &n) != 0)
        return intake_db_fail(call, self->db, "list requests");
    if (n > (size_t)limit) {
        n = (size_t)limit;
        page->next_page_token = intake_page_token_encode(
            call->arena, list[n - 1]->created_at, list[n - 1]->id);
        if (!page->next_page_token)
            return intake_full(call);
    }
    page->requests = list;
    page->n_requests = n;
    if (f.words && s_hits(call->arena, page, by_words) != 0)
        return intake_full(call);
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_REQUESTS;
    call->reply->requests = page;
    return 0;
}
