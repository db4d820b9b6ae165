/*  fuzz_api_request: an ApiRequest frame as a service receives it. The bytes go
    through tb_call_prepare with the service's limits (the runtime's decode and
    its checks: frame size, correlation id, body case, actor, in open mode or as
    under CURVE), then through the pure checks of each kind (field rules, edit
    merge, page tokens, the state machine). The reply the call would get is packed too. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "api.pb-c.h"
#include "fuzz_common.h"
#include "tb_call.h"
#include "tb_fsm.h"
#include "tb_json.h"
#include "tb_valid.h"

#ifdef TB_FUZZ_INTAKE
#include "intake_core.h"
#endif
#ifdef TB_FUZZ_NOTIFICATION
#include "notification_core.h"
#endif

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
#ifdef TB_FUZZ_INTAKE
    /* intake's own checks of the call, then the merge into a stored request. */
    if (intake_edit_check(call, e) != 0) {
        FUZZ_CHECK(call->reply->error != NULL,
                   "intake_edit_check failed without an error");
        return;
    }
    (void)tb_valid_uuid(e->id);
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
    if (!e || !e->changes)
        return;
    (void)tb_valid_uuid(e->id);
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
#ifdef TB_FUZZ_INTAKE
    const char *reason = NULL;
    if (intake_transition_check(call, t, &reason) == 0)
        FUZZ_CHECK(reason != NULL && call->reply->error == NULL,
                   "intake_transition_check");
#endif
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

/*  The identity a frame arrives with: most inputs in open mode (the request's
    actor claim decides), one in four as if under CURVE with one of three
    ZAP User-Ids, chosen by the input's size so that the bytes stay an
    ApiRequest. */
static void s_identity(size_t size, const char **user_id, bool *keyed)
{
    static const char *const users[] = {"", TB_OPERATOR, "org.fuzz"};
    *keyed = size % 4 == 3;
    *user_id = *keyed ? users[(size / 4) % 3] : NULL;
}

/*  The properties of tb_call_prepare's answer about the caller. */
static void s_check_identity(const tb_call_t *call, int rc, const char *user_id,
                             bool keyed)
{
    if (rc != 0) {
        FUZZ_CHECK(call->reply->error != NULL, "tb_call_prepare failed without an error");
        return;
    }
    FUZZ_CHECK(call->req != NULL && call->reply->error == NULL, "tb_call_prepare");
    FUZZ_CHECK(call->kind && *call->kind, "tb_call_kind_name");
    FUZZ_CHECK(call->is_operator == (strcmp(call->actor, TB_OPERATOR) == 0),
               "is_operator and actor disagree");
    if (keyed)
        FUZZ_CHECK(*user_id && strcmp(call->actor, user_id) == 0,
                   "a keyed call acts as someone else than its key");
}

/*  The pure checks of the call's kind (after tb_call_prepare accepted it). */
static void s_dispatch(tb_call_t *call)
{
    const Techbridge__ApiRequest *req = call->req;
    switch (req->body_case) {
    case TECHBRIDGE__API_REQUEST__BODY_SUBMIT:
        s_submit(call);
        break;
    case TECHBRIDGE__API_REQUEST__BODY_EDIT:
        s_edit(call);
        break;
    case TECHBRIDGE__API_REQUEST__BODY_LIST:
        s_list(call);
        break;
    case TECHBRIDGE__API_REQUEST__BODY_TRANSITION:
        s_transition(call);
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
            s_notification(call, req->list_notifications->recipient);
        break;
    case TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS:
        if (req->ack_notifications)
            s_notification(call, req->ack_notifications->recipient);
        break;
    case TECHBRIDGE__API_REQUEST__BODY_NOTIFICATION_STATS:
        if (req->notification_stats)
            s_notification(call, req->notification_stats->recipient);
        break;
    default:
        break;
    }
}

/*  One frame as tb_service serves it: tb_call_prepare (the runtime's own
    decode and checks), then the pure checks of its kind, then the reply. */
static void s_serve(tb_arena_t *arena, const uint8_t *data, size_t size)
{
    Techbridge__ApiReply *reply =
        TB_PB_NEW(arena, Techbridge__ApiReply, techbridge__api_reply__descriptor);
    char *cid = tb_arena_strdup(arena, "00000000-0000-4000-8000-000000000000");
    if (!reply || !cid)
        return;
    reply->correlation_id = cid;
    tb_call_t call = {.arena = arena,
                      .req = NULL,
                      .reply = reply,
                      .cid = cid,
                      .actor = "",
                      .is_operator = false,
                      .kind = "invalid"};
    const char *user_id = NULL;
    bool keyed = false;
    s_identity(size, &user_id, &keyed);
    int rc = tb_call_prepare(&call, data, size, FUZZ_MAX_FRAME, user_id, keyed);
    if (size > FUZZ_MAX_FRAME)
        FUZZ_CHECK(rc != 0 && call.req == NULL, "a frame over max_len was decoded");
    s_check_identity(&call, rc, user_id, keyed);
    Techbridge__ApiRequest *req = call.req;
    if (req) {
        fuzz_repack(arena, &req->base);
        fuzz_escape_strings(&req->base);
    }
    if (rc == 0)
        s_dispatch(&call);
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
    s_serve(arena, data, size);
    tb_arena_destroy(&arena);
    return 0;
}
