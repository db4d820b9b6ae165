/*  tb_call: errors of one API call, built in the call's arena. */
#include "tb_call.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tb_auth.h"
#include "tb_log.h"
#include "tb_valid.h"
#include "tb_wire.h"

/*  Room for the message of a frame too costly to decode. */
#define S_FULL_MESSAGE_MAX 200

/*  When the arena is exhausted, the reply still carries an error: this one,
    never modified (tb_call_violation leaves it alone). */
static Techbridge__Error s_oom_error = {
    PROTOBUF_C_MESSAGE_INIT(&techbridge__error__descriptor),
    TECHBRIDGE__CODE__RESOURCE_EXHAUSTED, (char *)"reply too large", 0, NULL};

static Techbridge__Error *s_error(tb_call_t *call)
{
    if (!call->reply->error) {
        Techbridge__Error *e =
            TB_PB_NEW(call->arena, Techbridge__Error, techbridge__error__descriptor);
        call->reply->error = e ? e : &s_oom_error;
    }
    return call->reply->error;
}

int tb_call_error(tb_call_t *call, Techbridge__Code code, const char *fmt, ...)
{
    Techbridge__Error *e = s_error(call);
    if (e == &s_oom_error)
        return -1;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *message = n >= 0 ? tb_arena_alloc(call->arena, (size_t)n + 1) : NULL;
    if (message)
        vsnprintf(message, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    e->code = code;
    e->message = message ? message : (char *)"(message too large)";
    return -1;
}

void tb_call_violation(tb_call_t *call, const char *field, const char *reason)
{
    Techbridge__Error *e = s_error(call);
    if (e == &s_oom_error)
        return;
    if (e->code == TECHBRIDGE__CODE__OK) {
        e->code = TECHBRIDGE__CODE__INVALID_ARGUMENT;
        e->message = (char *)"invalid request";
    }
    Techbridge__Violation *v =
        TB_PB_NEW(call->arena, Techbridge__Violation, techbridge__violation__descriptor);
    Techbridge__Violation **items =
        tb_arena_alloc(call->arena, (e->n_violations + 1) * sizeof *items);
    char *f = tb_arena_strdup(call->arena, field);
    char *r = tb_arena_strdup(call->arena, reason);
    if (!v || !items || !f || !r)
        return; /* out of cap: the error stands, with fewer violations */
    v->field = f;
    v->reason = r;
    if (e->n_violations)
        memcpy(items, e->violations, e->n_violations * sizeof *items);
    items[e->n_violations] = v;
    e->violations = items;
    e->n_violations++;
}

int tb_call_db_error(tb_call_t *call, const tb_db_t *db, const char *what)
{
    const char *w = what && *what ? what : "database call";
    switch (tb_db_error(db)) {
    case TB_DB_UNAVAILABLE:
        return tb_call_error(call, TECHBRIDGE__CODE__UNAVAILABLE, "database unavailable");
    case TB_DB_UNIQUE:
        return tb_call_error(call, TECHBRIDGE__CODE__ALREADY_EXISTS,
                             "already exists (%s)", w);
    case TB_DB_SERIALIZATION:
        return tb_call_error(call, TECHBRIDGE__CODE__ABORTED,
                             "concurrent update, retry (%s)", w);
    case TB_DB_INVALID:
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "invalid data rejected by the database (%s)", w);
    default:
        break;
    }
    /* The caller sees no SQL detail; the log has it. */
    tb_error("db.error", call->cid, TB_S("kind", call->kind ? call->kind : ""),
             TB_S("what", w), TB_S("sqlstate", tb_db_sqlstate(db)),
             TB_S("message", tb_db_message(db)));
    return tb_call_error(call, TECHBRIDGE__CODE__INTERNAL, "internal error (%s)", w);
}

void tb_call_end_transaction(const tb_call_t *call, tb_db_t *db)
{
    PGconn *conn = tb_db_conn(db);
    if (conn && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        tb_error("api.open_transaction", call->cid, TB_S("kind", call->kind));
        tb_db_rollback(db);
    }
}

bool tb_call_may_act_for(const tb_call_t *call, const char *org_id)
{
    if (call->is_operator)
        return true;
    return call->actor && *call->actor && org_id && strcmp(call->actor, org_id) == 0;
}

const char *tb_call_kind_name(Techbridge__ApiRequest__BodyCase body_case)
{
    switch (body_case) {
    case TECHBRIDGE__API_REQUEST__BODY_SUBMIT:
        return "submit";
    case TECHBRIDGE__API_REQUEST__BODY_GET:
        return "get";
    case TECHBRIDGE__API_REQUEST__BODY_LIST:
        return "list";
    case TECHBRIDGE__API_REQUEST__BODY_EDIT:
        return "edit";
    case TECHBRIDGE__API_REQUEST__BODY_TRANSITION:
        return "transition";
    case TECHBRIDGE__API_REQUEST__BODY_HISTORY:
        return "history";
    case TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES:
        return "list_matches";
    case TECHBRIDGE__API_REQUEST__BODY_GET_MATCH:
        return "get_match";
    case TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH:
        return "decide_match";
    case TECHBRIDGE__API_REQUEST__BODY_LOAD_THESAURUS:
        return "load_thesaurus";
    case TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS:
        return "list_notifications";
    case TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS:
        return "ack_notifications";
    case TECHBRIDGE__API_REQUEST__BODY_NOTIFICATION_STATS:
        return "notification_stats";
    case TECHBRIDGE__API_REQUEST__BODY_HEALTH:
        return "health";
    default:
        return "unknown";
    }
}

/* ---- a call's request ---- */

static bool s_cid_valid(const char *cid)
{
    size_t n = strlen(cid);
    if (n > TB_CALL_CID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (cid[i] < 0x20 || cid[i] > 0x7e)
            return false;
    return true;
}

/*  Under CURVE the caller is who its key says (`user`, the ZAP User-Id of the
    message: "operator" or an org id), never what the request claims; a claim
    that differs is refused. Returns 0, or -1 with the reply's error set. */
static int s_identity_keyed(tb_call_t *call, const char *user)
{
    const char *claim = call->req->actor ? call->req->actor : "";
    if (!user || !*user) {
        tb_warn("auth.refused", call->cid, TB_S("kind", call->kind), TB_S("user", ""),
                TB_S("claimed", claim), TB_S("reason", "no authenticated identity"));
        return tb_call_error(call, TECHBRIDGE__CODE__UNAUTHENTICATED,
                             "no authenticated identity on this connection");
    }
    if (tb_auth_is_gateway(user)) {
        /* The gateway authenticated the person and vouches for the role it
           names; the rules of that role then apply as to anyone. */
        if (!*claim || tb_auth_is_gateway(claim) || strcmp(claim, "operators") == 0 ||
            (!tb_auth_is_operator(claim) && !tb_valid_org_id(claim)))
            return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                 "a gateway must name the actor it acts for "
                                 "(\"operator\" or an organisation id)");
        call->is_operator = tb_auth_is_operator(claim);
        call->actor = call->is_operator ? TB_OPERATOR : claim;
        return 0;
    }
    if (call->req->person && *call->req->person) {
        tb_warn("auth.refused", call->cid, TB_S("kind", call->kind), TB_S("user", user),
                TB_S("reason", "only a gateway key may name a person"));
        return tb_call_error(call, TECHBRIDGE__CODE__PERMISSION_DENIED,
                             "only a gateway key may act for a person");
    }
    call->is_operator = tb_auth_is_operator(user);
    call->actor = call->is_operator ? TB_OPERATOR : tb_arena_strdup(call->arena, user);
    if (!call->actor)
        return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                             "request too large");
    if (*claim && strcmp(claim, call->actor) != 0) {
        tb_warn("auth.refused", call->cid, TB_S("kind", call->kind),
                TB_S("user", call->actor), TB_S("claimed", claim),
                TB_S("reason", "the claimed actor is not the key's role"));
        return tb_call_error(call, TECHBRIDGE__CODE__PERMISSION_DENIED,
                             "this key acts as %s, not as the claimed actor",
                             call->actor);
    }
    return 0;
}

/*  Open mode: the caller's claim is taken. Returns 0, or -1 with the reply's
    error set. */
static int s_identity_open(tb_call_t *call)
{
    const char *actor = call->req->actor ? call->req->actor : "";
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

/*  call->who: the actor, or "ACTOR:PERSON via gateway". Returns 0, or -1 with
    the reply's error set (a malformed person). */
static int s_who(tb_call_t *call)
{
    const char *person = call->req->person ? call->req->person : "";
    call->who = call->actor;
    if (!*person)
        return 0;
    if (!tb_valid_org_id(person))
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "person must be 1..64 of a-z 0-9 . _ -");
    call->who = tb_arena_printf(call->arena, "%s:%s via gateway", call->actor, person);
    if (!call->who)
        return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                             "request too large");
    return 0;
}

int tb_call_prepare(tb_call_t *call, const uint8_t *body, size_t len, size_t max_frame,
                    const char *user_id, bool keyed)
{
    if (len > max_frame)
        return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                             "frame of %zu bytes exceeds the limit of %zu", len,
                             max_frame);
    /* The answer to a frame whose decoding outgrows the call's arena is made
       before decoding: afterwards the arena has no room left for it. */
    Techbridge__Error *full =
        TB_PB_NEW(call->arena, Techbridge__Error, techbridge__error__descriptor);
    char *why = tb_arena_alloc(call->arena, S_FULL_MESSAGE_MAX);
    Techbridge__ApiRequest *req = (Techbridge__ApiRequest *)tb_wire_unpack(
        call->arena, &techbridge__api_request__descriptor, body, len, max_frame);
    if (!req && errno == ENOMEM && full && why) {
        /* Well formed, perhaps, but many small repeated items cost far more
           decoded than on the wire: name the limit, not a bad frame. */
        snprintf(why, S_FULL_MESSAGE_MAX,
                 "decoding a frame of %zu bytes needs more than the per-call memory "
                 "limit of %zu bytes (too many repeated items)",
                 len, tb_arena_cap(call->arena));
        full->code = TECHBRIDGE__CODE__RESOURCE_EXHAUSTED;
        full->message = why;
        call->reply->error = full;
        return -1;
    }
    if (!req)
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "not a valid ApiRequest");
    call->req = req;
    const char *cid = req->correlation_id ? req->correlation_id : "";
    if (!s_cid_valid(cid))
        return tb_call_error(
            call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
            "correlation_id must be at most %d printable ASCII characters",
            TB_CALL_CID_MAX);
    if (*cid) {
        call->cid = cid;
        call->reply->correlation_id = (char *)cid;
    }
    if (req->body_case == TECHBRIDGE__API_REQUEST__BODY__NOT_SET)
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "unknown or missing kind");
    call->kind = tb_call_kind_name(req->body_case);
    int rc = keyed ? s_identity_keyed(call, user_id) : s_identity_open(call);
    if (rc != 0)
        return rc;
    return s_who(call);
}
