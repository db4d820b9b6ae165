/*  intake_life: the changes of a request after its submission: edits of its
    content and the transitions of its state machine (tb_fsm). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "intake_internal.h"
#include "tb_fsm.h"
#include "tb_log.h"
#include "tb_util.h"

/* Refuses a change made against version `seen` when the request is at
   `current`: rolls back and returns -1 (ABORTED); 0 when they agree. */
static int s_version_check(tb_call_t *call, tb_db_t *db, int64_t seen, int64_t current)
{
    if (seen == current)
        return 0;
    tb_db_rollback(db);
    return tb_call_error(call, INTAKE_CODE(ABORTED),
                         "stale version: saw %" PRId64 ", current %" PRId64, seen,
                         current);
}

/* The answer to an update that found no row at the version read (a concurrent
   change won): rolls back, returns -1. */
static int s_lost_race(tb_call_t *call, tb_db_t *db, int64_t seen)
{
    tb_db_rollback(db);
    return tb_call_error(call, INTAKE_CODE(ABORTED), "stale version: saw %" PRId64, seen);
}

/* Opens a transaction and loads request `id` locked for the change (FOR
   UPDATE). Returns the request, or NULL with the reply set and nothing left
   open. */
static Techbridge__Request *s_lock(intake_core_t *self, tb_call_t *call, const char *id)
{
    if (tb_db_begin(self->db) != 0) {
        intake_db_fail(call, self->db, "begin");
        return NULL;
    }
    intake_row_t row = {0};
    if (intake_load(self, call, id, true, &row) != 0)
        return NULL;
    return row.request;
}

/* Records the change of `req` (history row and event, as call->who) and
   commits. `what` names the change in errors ("edit"). Returns 0, or -1 with
   the reply set and the transaction rolled back. */
static int s_record_commit(tb_call_t *call, tb_db_t *db, Techbridge__Request *req,
                           Techbridge__Action action, Techbridge__Status from,
                           Techbridge__EventType type, int64_t now, const char *reason,
                           const char *what)
{
    char step[64];
    snprintf(step, sizeof step, "record %s", what);
    if (intake_record(db, call->arena, req, action, from, type, now, call->who, reason,
                      call->cid) != 0)
        return intake_db_fail(call, db, step);
    snprintf(step, sizeof step, "commit %s", what);
    if (tb_db_commit(db) != 0)
        return intake_db_fail(call, db, step);
    return 0;
}

/* ---- edit ---- */

/* The field names of an edit: each must be editable. Returns 0, or -1 with a
   violation for each bad name. */
static int s_edit_fields(tb_call_t *call, const Techbridge__EditRequest *e)
{
    bool bad = false;
    for (size_t i = 0; i < e->n_fields; i++) {
        const char *name = e->fields[i];
        if (intake_field_editable(name))
            continue;
        char *path = tb_arena_printf(call->arena, "fields[%zu]", i);
        if (strlen(name) > INTAKE_FIELD_NAME_MAX || !tb_valid_utf8(name, strlen(name)))
            tb_call_violation(call, path, "not a field name");
        else if (intake_field_fixed(name))
            tb_call_violation(call, path,
                              tb_arena_printf(call->arena, "%s is not editable", name));
        else
            tb_call_violation(call, path,
                              tb_arena_printf(call->arena, "unknown field %s", name));
        bad = true;
    }
    return bad ? -1 : 0;
}

int intake_edit_check(tb_call_t *call, const Techbridge__EditRequest *e)
{
    if (!e)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT),
                             "edit needs an id and changes");
    if (!intake_is_uuid(e->id))
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "id must be a UUID");
    if (e->version <= 0)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "version required");
    if (!e->changes)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "changes required");
    if (e->n_fields > INTAKE_EDIT_FIELDS_MAX)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "at most %d fields",
                             INTAKE_EDIT_FIELDS_MAX);
    /* Field names first: nothing to load for a request we cannot apply. */
    return s_edit_fields(call, e);
}

/* Merges the edit `e` into the locked request `req` and checks the result.
   Returns 0, or -1 with the reply set and the transaction rolled back. */
static int s_edit_merge(intake_core_t *self, tb_call_t *call,
                        const Techbridge__EditRequest *e, Techbridge__Request *req,
                        int64_t now)
{
    tb_db_t *db = self->db;
    if (!tb_fsm_editable(req->status)) {
        tb_db_rollback(db);
        return tb_call_error(call, INTAKE_CODE(FAILED_PRECONDITION),
                             "cannot edit a %s request", tb_status_name(req->status));
    }
    if (s_version_check(call, db, e->version, req->version) != 0)
        return -1;
    tb_violations_t *v = tb_arena_alloc(call->arena, sizeof *v);
    if (!v) {
        tb_db_rollback(db);
        return intake_full(call);
    }
    int merged =
        intake_edit_merge(call->arena, req, e->changes, e->fields, e->n_fields, v);
    if (merged != 0) {
        tb_db_rollback(db);
        return merged < 0 ? intake_full(call) : intake_violations(call, v);
    }
    if (intake_check_request(self, call, req, now) != 0) {
        tb_db_rollback(db);
        return -1;
    }
    /*  A language the edit does not declare is told from the edited text. */
    if (!e->changes->language || !*e->changes->language)
        req->language = "";
    return 0;
}

int intake_edit(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__EditRequest *e = call->req->edit;
    if (intake_edit_check(call, e) != 0)
        return -1;

    tb_db_t *db = self->db;
    int64_t now = tb_now_ms();
    Techbridge__Request *req = s_lock(self, call, e->id);
    if (!req)
        return -1;
    int64_t current = req->version;
    if (s_edit_merge(self, call, e, req, now) != 0)
        return -1;
    Techbridge__Status from = req->status;
    req->status = tb_fsm_after_edit(from, call->is_operator);
    req->version = current + 1;
    req->updated_at = now;
    intake_text_t text;
    if (intake_terms(self, call->arena, req, &text) != 0) {
        tb_db_rollback(db);
        return intake_full(call);
    }
    int rc = intake_store_update_content(db, call->arena, req, &text, current);
    if (rc < 0)
        return intake_db_fail(call, db, "update request");
    if (rc > 0)
        return s_lost_race(call, db, e->version);
    bool review = req->status != from;
    if (s_record_commit(call, db, req, TECHBRIDGE__ACTION__EDIT, from,
                        TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EDITED, now,
                        review ? "edited by the organisation: back to review" : "",
                        "edit") != 0)
        return -1;
    tb_info("request.edited", call->cid, TB_S("id", req->id),
            TB_I("version", req->version), TB_I("fields", e->n_fields),
            TB_S("status", tb_status_name(req->status)));
    return intake_reply_request(call, req, "", false);
}

/* ---- transition ---- */

int intake_transition_check(tb_call_t *call, const Techbridge__TransitionRequest *t,
                            const char **reason)
{
    if (!t)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT),
                             "transition needs an id");
    if (!intake_is_uuid(t->id))
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "id must be a UUID");
    Techbridge__Action action = t->action;
    if (action == TECHBRIDGE__ACTION__ACTION_UNSPECIFIED)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "action required");
    if (action < TECHBRIDGE__ACTION__PUBLISH || action > TECHBRIDGE__ACTION__EDIT)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "unknown action %d",
                             (int)action);
    if (action == TECHBRIDGE__ACTION__EXPIRE || action == TECHBRIDGE__ACTION__SUBMIT ||
        action == TECHBRIDGE__ACTION__EDIT)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT),
                             "%s is not a caller action", tb_action_name(action));
    if (t->version <= 0)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT), "version required");
    const char *r = t->reason ? t->reason : "";
    if (intake_utf8_chars(r) > TB_REASON_MAX || strlen(r) > TB_REASON_MAX * 4 ||
        !tb_valid_utf8(r, strlen(r))) {
        tb_call_violation(call, "reason", "at most 1000 characters of valid UTF-8");
        return -1;
    }
    *reason = r;
    return 0;
}

/* The error for a transition the state machine refused. Returns -1. */
static int s_fsm_refused(tb_call_t *call, tb_fsm_result_t fr, Techbridge__Action action,
                         Techbridge__Status from)
{
    switch (fr) {
    case TB_FSM_FORBIDDEN_ACTION:
        return tb_call_error(call, INTAKE_CODE(FAILED_PRECONDITION),
                             "cannot %s a %s request", tb_action_name(action),
                             tb_status_name(from));
    case TB_FSM_NOT_ALLOWED:
        return tb_call_error(call, INTAKE_CODE(PERMISSION_DENIED),
                             "only operators may %s", tb_action_name(action));
    case TB_FSM_TOO_EARLY:
        return tb_call_error(call, INTAKE_CODE(FAILED_PRECONDITION),
                             "renew is possible from %d days before expiry",
                             TB_RENEW_WINDOW_DAYS);
    case TB_FSM_ALREADY_RENEWED:
        return tb_call_error(call, INTAKE_CODE(FAILED_PRECONDITION),
                             "a request may be renewed only once");
    case TB_FSM_INTERNAL_ONLY:
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT),
                             "%s is not a caller action", tb_action_name(action));
    default:
        return tb_call_error(call, INTAKE_CODE(INTERNAL), "state machine said %d",
                             (int)fr);
    }
}

/* Applies `action` to the locked request `req` in memory: the state machine's
   verdict, the version seen, then the new status, version and times (and the
   expiry of a renewal). Returns 0, or -1 with the reply set and the
   transaction rolled back. */
static int s_transition_apply(tb_call_t *call, tb_db_t *db,
                              const Techbridge__TransitionRequest *t,
                              Techbridge__Request *req, int64_t now)
{
    Techbridge__Action action = t->action;
    Techbridge__Status from = req->status, to = TECHBRIDGE__STATUS__STATUS_UNSPECIFIED;
    bool is_owner = req->org && strcmp(req->org->id, call->actor) == 0;
    tb_fsm_result_t fr = tb_fsm_check(from, action, call->is_operator, is_owner, now,
                                      req->expires_at, req->renewed, &to);
    if (fr != TB_FSM_OK) {
        tb_db_rollback(db);
        return s_fsm_refused(call, fr, action, from);
    }
    if (s_version_check(call, db, t->version, req->version) != 0)
        return -1;
    req->status = to;
    req->version = req->version + 1;
    req->updated_at = now;
    if (action == TECHBRIDGE__ACTION__RENEW) {
        req->expires_at = tb_fsm_renewed_expiry(now, req->expires_at);
        req->renewed = true;
    }
    return 0;
}

int intake_transition(intake_core_t *self, tb_call_t *call)
{
    const Techbridge__TransitionRequest *t = call->req->transition;
    const char *reason = "";
    if (intake_transition_check(call, t, &reason) != 0)
        return -1;

    tb_db_t *db = self->db;
    int64_t now = tb_now_ms();
    Techbridge__Request *req = s_lock(self, call, t->id);
    if (!req)
        return -1;
    Techbridge__Status from = req->status;
    int64_t current = req->version;
    if (s_transition_apply(call, db, t, req, now) != 0)
        return -1;
    bool renew = t->action == TECHBRIDGE__ACTION__RENEW;
    int rc = intake_store_update_status(db, req, current, renew);
    if (rc < 0)
        return intake_db_fail(call, db, "update status");
    if (rc > 0)
        return s_lost_race(call, db, t->version);
    if (s_record_commit(call, db, req, t->action, from,
                        TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED, now, reason,
                        "transition") != 0)
        return -1;
    tb_info("request.transition", call->cid, TB_S("id", req->id),
            TB_S("action", tb_action_name(t->action)), TB_S("from", tb_status_name(from)),
            TB_S("to", tb_status_name(req->status)), TB_I("version", req->version),
            TB_S("actor", call->actor));
    return intake_reply_request(call, req, "", false);
}
