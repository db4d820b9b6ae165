/*  fuzz_api_request: an ApiRequest frame as a service receives it. The bytes go
    through tb_wire_unpack with the service's limits, then through the checks
    tb_service makes after decoding (correlation id, body case, actor) and the
    pure checks of each kind (field rules, edit merge, page tokens, the state
    machine). The reply the call would get is packed too. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "api.pb-c.h"
#include "fuzz_common.h"
#include "tb_call.h"
#include "tb_fsm.h"
#include "tb_json.h"
#include "tb_valid.h"
#include "tb_wire.h"

#ifdef TB_FUZZ_INTAKE
#include "intake_core.h"
#endif
#ifdef TB_FUZZ_NOTIFICATION
#include "notification_core.h"
#endif

#define S_CID_MAX 64 /* tb_service.c */

/*  tb_service.c's s_cid_valid. */
static bool s_cid_valid(const char *cid)
{
    size_t n = strlen(cid);
    if (n > S_CID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (cid[i] < 0x20 || cid[i] > 0x7e)
            return false;
    return true;
}

/*  tb_service.c's s_decode after the unpack. Returns 0 or -1 (error set). */
static int s_decode_checks(tb_call_t *call)
{
    Techbridge__ApiRequest *req = call->req;
    const char *cid = req->correlation_id ? req->correlation_id : "";
    if (!s_cid_valid(cid))
        return tb_call_error(
            call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
            "correlation_id must be at most %d printable ASCII characters", S_CID_MAX);
    if (*cid) {
        call->cid = cid;
        call->reply->correlation_id = (char *)cid;
    }
    if (req->body_case == TECHBRIDGE__API_REQUEST__BODY__NOT_SET)
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "unknown or missing kind");
    call->kind = tb_call_kind_name(req->body_case);
    FUZZ_CHECK(call->kind && *call->kind, "tb_call_kind_name");
    const char *actor = req->actor ? req->actor : "";
    if (!*actor || strcmp(actor, TB_OPERATOR) == 0) {
        call->actor = TB_OPERATOR;
        call->is_operator = true;
    } else if (tb_valid_org_id(actor)) {
        call->actor = actor;
        call->is_operator = false;
    } else {
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "actor must be \"operator\" or an organisation id "
                             "(1..64 of a-z 0-9 . _ -)");
    }
    return 0;
}

static void s_violations(tb_call_t *call, const tb_violations_t *v)
{
    for (size_t i = 0; i < v->count; i++)
        tb_call_violation(call, tb_arena_strdup(call->arena, v->items[i].field),
                          tb_arena_strdup(call->arena, v->items[i].reason));
    if (v->dropped > 0)
        tb_call_violation(call, "", "more violations not shown");
}

static void s_submit(tb_call_t *call)
{
    const Techbridge__SubmitRequest *sub = call->req->submit;
    if (!sub || !sub->request)
        return;
    Techbridge__Request *req = sub->request;
#ifdef TB_FUZZ_INTAKE
    req = intake_request_content(call->arena, sub->request);
    if (!req)
        return;
    /* What intake stores and puts on the feed is a fresh copy. */
    FUZZ_CHECK(fuzz_unknown_fields(&req->base) == 0,
               "intake_request_content keeps unknown fields");
#endif
    const char *org_id = req->org && req->org->id ? req->org->id : "";
    (void)tb_call_may_act_for(call, org_id);
    tb_violations_t *v = tb_arena_alloc(call->arena, sizeof *v);
    if (!v)
        return;
    if (fuzz_check_request(call->arena, req) > 0) {
        memset(v, 0, sizeof *v);
        tb_valid_request(req, &tb_default_sectors, FUZZ_NOW_MS, v);
        s_violations(call, v);
    }
}

static void s_edit(tb_call_t *call)
{
    const Techbridge__EditRequest *e = call->req->edit;
    if (!e || !e->changes)
        return;
    (void)tb_valid_uuid(e->id);
#ifdef TB_FUZZ_INTAKE
    (void)intake_is_uuid(e->id);
    if (e->n_fields > INTAKE_EDIT_FIELDS_MAX)
        return;
    bool bad = false;
    for (size_t i = 0; i < e->n_fields; i++) {
        const char *name = e->fields[i];
        if (intake_field_editable(name))
            continue;
        char *path = tb_arena_printf(call->arena, "fields[%zu]", i);
        if (strlen(name) > INTAKE_FIELD_NAME_MAX || !tb_valid_utf8(name, strlen(name)))
            tb_call_violation(call, path, "not a field name");
        else
            tb_call_violation(call, path,
                              tb_arena_printf(call->arena, "unknown field %s", name));
        bad = true;
    }
    if (bad)
        return;
    Techbridge__Request *stored = fuzz_stored_request(call->arena);
    tb_violations_t *v = tb_arena_alloc(call->arena, sizeof *v);
    if (!stored || !v)
        return;
    int merged =
        intake_edit_merge(call->arena, stored, e->changes, e->fields, e->n_fields, v);
    FUZZ_CHECK(merged >= -1, "intake_edit_merge result");
    if (merged > 0) {
        FUZZ_CHECK(v->count > 0 || v->dropped > 0, "merge violations");
        s_violations(call, v);
        return;
    }
    if (merged == 0) {
        FUZZ_CHECK(fuzz_unknown_fields(&stored->base) == 0,
                   "intake_edit_merge stores unknown fields of the changes");
        fuzz_check_request(call->arena, stored);
    }
#else
    fuzz_check_request(call->arena, e->changes);
#endif
}

static void s_list(tb_call_t *call)
{
    const Techbridge__ListRequests *l = call->req->list;
    if (!l)
        return;
    (void)tb_json_enum_name(&techbridge__kind__descriptor, (int)l->kind);
    (void)tb_json_enum_name(&techbridge__status__descriptor, (int)l->status);
    (void)tb_valid_utf8(l->text, strlen(l->text));
    (void)tb_valid_utf8(l->sector, strlen(l->sector));
    (void)tb_valid_org_id(l->org_id);
#ifdef TB_FUZZ_INTAKE
    int64_t ms = 0;
    char id[37];
    if (intake_page_token_decode(l->page_token, &ms, id) == 0) {
        FUZZ_CHECK(memchr(id, 0, sizeof id) != NULL, "page token id not terminated");
        char *again = intake_page_token_encode(call->arena, ms, id);
        if (again) {
            int64_t ms2 = 0;
            char id2[37];
            FUZZ_CHECK(intake_page_token_decode(again, &ms2, id2) == 0,
                       "a page token we made does not decode");
            FUZZ_CHECK(ms2 == ms && strcmp(id, id2) == 0, "page token round trip");
        }
    }
#endif
}

static void s_transition(tb_call_t *call)
{
    const Techbridge__TransitionRequest *t = call->req->transition;
    if (!t)
        return;
    (void)tb_valid_uuid(t->id);
    (void)tb_valid_utf8(t->reason, strlen(t->reason));
    (void)tb_action_name(t->action);
    for (int s = 0; s <= 8; s++) {
        Techbridge__Status to = TECHBRIDGE__STATUS__STATUS_UNSPECIFIED;
        int64_t expires = FUZZ_NOW_MS + (t->version % 1000) * INT64_C(86400000);
        tb_fsm_result_t r = tb_fsm_check(
            (Techbridge__Status)s, t->action, call->is_operator, (t->version & 1) != 0,
            FUZZ_NOW_MS, expires, (t->version & 2) != 0, &to);
        (void)tb_status_name(to);
        (void)tb_fsm_next((Techbridge__Status)s, t->action);
        if (r == TB_FSM_OK && t->action == TECHBRIDGE__ACTION__RENEW)
            (void)tb_fsm_renewed_expiry(FUZZ_NOW_MS, expires);
    }
}

static void s_notification(tb_call_t *call, const char *recipient)
{
    (void)recipient;
#ifdef TB_FUZZ_NOTIFICATION
    if (notification_valid_recipient(recipient))
        (void)notification_may_read(call->actor, call->is_operator, recipient);
#else
    (void)call;
#endif
}

static void s_serve(tb_arena_t *arena, Techbridge__ApiRequest *req)
{
    fuzz_repack(arena, &req->base);
    fuzz_escape_strings(&req->base);

    Techbridge__ApiReply *reply =
        TB_PB_NEW(arena, Techbridge__ApiReply, techbridge__api_reply__descriptor);
    char *cid = tb_arena_strdup(arena, "00000000-0000-4000-8000-000000000000");
    if (!reply || !cid)
        return;
    reply->correlation_id = cid;
    tb_call_t call = {.arena = arena,
                      .req = req,
                      .reply = reply,
                      .cid = cid,
                      .actor = "",
                      .is_operator = false,
                      .kind = "invalid"};
    if (s_decode_checks(&call) == 0) {
        switch (req->body_case) {
        case TECHBRIDGE__API_REQUEST__BODY_SUBMIT:
            s_submit(&call);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_EDIT:
            s_edit(&call);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_LIST:
            s_list(&call);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_TRANSITION:
            s_transition(&call);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_GET:
            if (req->get)
                (void)tb_valid_uuid(req->get->id);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_HISTORY:
            if (req->history)
                (void)tb_valid_uuid(req->history->id);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES:
            if (req->list_matches)
                (void)tb_valid_uuid(req->list_matches->request_id);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_GET_MATCH:
            if (req->get_match)
                (void)tb_valid_uuid(req->get_match->id);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH:
            if (req->decide_match) {
                (void)tb_valid_uuid(req->decide_match->id);
                (void)tb_json_enum_name(&techbridge__match_action__descriptor,
                                        (int)req->decide_match->action);
                (void)tb_valid_utf8(req->decide_match->reason,
                                    strlen(req->decide_match->reason));
            }
            break;
        case TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS:
            if (req->list_notifications)
                s_notification(&call, req->list_notifications->recipient);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS:
            if (req->ack_notifications)
                s_notification(&call, req->ack_notifications->recipient);
            break;
        case TECHBRIDGE__API_REQUEST__BODY_NOTIFICATION_STATS:
            if (req->notification_stats)
                s_notification(&call, req->notification_stats->recipient);
            break;
        default:
            break;
        }
    }
    if (reply->error)
        reply->result_case = TECHBRIDGE__API_REPLY__RESULT__NOT_SET;
    fuzz_repack(arena, &reply->base);
    fuzz_json_drop(tb_json_from_reply(reply));
    if (reply->error)
        fuzz_json_drop(tb_json_from_error(reply->error));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_arena_t *arena = tb_arena_new(FUZZ_ARENA_CAP);
    FUZZ_CHECK(arena != NULL, "arena");
    Techbridge__ApiRequest *req = (Techbridge__ApiRequest *)tb_wire_unpack(
        arena, &techbridge__api_request__descriptor, data, size, FUZZ_MAX_FRAME);
    if (size > FUZZ_MAX_FRAME)
        FUZZ_CHECK(req == NULL, "a frame over max_len was decoded");
    if (req)
        s_serve(arena, req);
    tb_arena_destroy(&arena);
    return 0;
}
