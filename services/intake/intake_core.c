/*  intake_core: the core object of tb-intake, its sector list, the dispatch of
    API calls to the handlers (intake_submit.c, intake_life.c, intake_query.c)
    and the helpers they reply with. See intake_core.h and intake_internal.h. */
#include "intake_core.h"

#include <stdlib.h>
#include <string.h>

#include "intake_internal.h"
#include "tb_log.h"
#include "tb_util.h"

/*  A sector the cached list does not know makes us re-read the table, at most
    this often, so that a sector an operator just added is usable at once. */
#define INTAKE_SECTORS_MISS_MS 1000

intake_core_t *intake_core_new(tb_db_t *db)
{
    intake_core_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->sectors = tb_default_sectors;
    if (!(self->lexicon = tb_lexicon_new()))
        intake_core_destroy(&self);
    return self;
}

void intake_core_destroy(intake_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    intake_core_t *self = *self_p;
    intake_store_free_sectors(self->sector_codes, self->n_sectors);
    tb_lexicon_destroy(&self->lexicon);
    free(self);
    *self_p = NULL;
}

char *intake_str(const char *s)
{
    return (char *)(s ? s : "");
}

char *intake_dup(void *ctx, const char *s)
{
    return tb_arena_strdup((tb_arena_t *)ctx, s);
}

/* Registers the statements once the runtime has migrated the schema. */
int intake_ready(intake_core_t *self)
{
    if (self->prepared)
        return 0;
    if (!tb_db_ok(self->db))
        return -1;
    if (intake_store_prepare(self->db) != 0)
        return -1;
    self->prepared = true;
    return 0;
}

static bool s_sector_known(const tb_sectors_t *s, const char *code)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->codes[i], code) == 0)
            return true;
    return false;
}

/* The sector list: read at first use, again when older than the TTL, or when
   `miss` names a code the cached list lacks (at most every second). When the
   table cannot be read, the last list (or the built-in one) stays. */
const tb_sectors_t *intake_sectors(intake_core_t *self, const char *miss, const char *cid)
{
    int64_t now = tb_now_ms();
    int64_t age = now - self->sectors_loaded_ms;
    bool due = !self->sectors_loaded || age >= INTAKE_SECTORS_TTL_MS ||
               (miss && *miss && age >= INTAKE_SECTORS_MISS_MS &&
                !s_sector_known(&self->sectors, miss));
    if (!due)
        return &self->sectors;
    char **codes = NULL;
    size_t n = 0;
    if (intake_store_load_sectors(self->db, &codes, &n) != 0) {
        tb_warn("intake.sectors_unreadable", cid, TB_S("error", tb_db_message(self->db)));
        return &self->sectors;
    }
    intake_store_free_sectors(self->sector_codes, self->n_sectors);
    self->sector_codes = codes;
    self->n_sectors = n;
    if (n > 0) {
        self->sectors.codes = (const char *const *)codes;
        self->sectors.count = n;
    } else
        self->sectors = tb_default_sectors;
    self->sectors_loaded = true;
    self->sectors_loaded_ms = now;
    return &self->sectors;
}

/* Reports a database failure, rolls back, returns -1. */
int intake_db_fail(tb_call_t *call, tb_db_t *db, const char *what)
{
    tb_error("intake.db_failed", call->cid, TB_S("what", what),
             TB_S("sqlstate", tb_db_sqlstate(db)), TB_S("error", tb_db_message(db)));
    int rc = tb_call_db_error(call, db, what);
    tb_db_rollback(db);
    return rc;
}

int intake_full(tb_call_t *call)
{
    return tb_call_error(call, INTAKE_CODE(RESOURCE_EXHAUSTED), "reply too large");
}

/* Each violation on the reply (copied into the call's arena). Returns -1. */
int intake_violations(tb_call_t *call, const tb_violations_t *v)
{
    for (size_t i = 0; i < v->count; i++)
        tb_call_violation(call, tb_arena_strdup(call->arena, v->items[i].field),
                          tb_arena_strdup(call->arena, v->items[i].reason));
    if (v->dropped > 0)
        tb_call_violation(call, "", "more violations not shown");
    return -1;
}

/* Normalises and checks a request's fields. Returns 0 or -1 (reply set). */
int intake_check_request(intake_core_t *self, tb_call_t *call, Techbridge__Request *req,
                         int64_t now)
{
    if (tb_valid_normalise(req, intake_dup, call->arena) != 0)
        return intake_full(call);
    tb_violations_t *v = tb_arena_alloc(call->arena, sizeof *v);
    if (!v)
        return intake_full(call);
    const tb_sectors_t *sectors = intake_sectors(self, req->sector, call->cid);
    if (tb_valid_request(req, sectors, now, v) > 0)
        return intake_violations(call, v);
    return 0;
}

int intake_reply_request(tb_call_t *call, Techbridge__Request *req, const char *dup,
                         bool created)
{
    Techbridge__RequestResult *res = TB_PB_NEW(call->arena, Techbridge__RequestResult,
                                               techbridge__request_result__descriptor);
    if (!res)
        return intake_full(call);
    res->request = req;
    res->possible_duplicate_of = intake_str(dup);
    res->created = created;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_REQUEST;
    call->reply->request = res;
    return 0;
}

/* ---- dispatch ---- */

int intake_core_handle(tb_call_t *call, void *core)
{
    intake_core_t *self = core;
    switch (call->req->body_case) {
    case TECHBRIDGE__API_REQUEST__BODY_SUBMIT:
    case TECHBRIDGE__API_REQUEST__BODY_GET:
    case TECHBRIDGE__API_REQUEST__BODY_LIST:
    case TECHBRIDGE__API_REQUEST__BODY_EDIT:
    case TECHBRIDGE__API_REQUEST__BODY_TRANSITION:
    case TECHBRIDGE__API_REQUEST__BODY_HISTORY:
        break;
    default:
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT),
                             "unknown kind %s for this service",
                             tb_call_kind_name(call->req->body_case));
    }
    if (intake_ready(self) != 0) {
        if (!tb_db_ok(self->db))
            return tb_call_error(call, INTAKE_CODE(UNAVAILABLE), "database unavailable");
        return tb_call_error(call, INTAKE_CODE(INTERNAL),
                             "statements could not be prepared");
    }
    switch (call->req->body_case) {
    case TECHBRIDGE__API_REQUEST__BODY_SUBMIT:
        return intake_submit(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_GET:
        return intake_get(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_LIST:
        return intake_list(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_EDIT:
        return intake_edit(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_TRANSITION:
        return intake_transition(self, call);
    case TECHBRIDGE__API_REQUEST__BODY_HISTORY:
        return intake_history(self, call);
    default:
        return -1; /* not reached */
    }
}

void intake_core_handle_batch(tb_call_t *const *calls, size_t n, void *core)
{
    intake_core_t *self = core;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && calls[j]->req->body_case == TECHBRIDGE__API_REQUEST__BODY_SUBMIT)
            j++;
        if (j == i) {
            intake_core_handle(calls[i++], core);
            continue;
        }
        /* A run of submissions, in arrival order: a call that came after one
           of them (e.g. a get of it on the same DEALER) still sees it stored. */
        if (intake_ready(self) != 0) {
            for (; i < j; i++)
                intake_core_handle(calls[i], core); /* answers why not */
            continue;
        }
        intake_submit_batch(self, calls + i, j - i);
        i = j;
    }
}
