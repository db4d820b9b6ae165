/*  tb_call: errors of one API call, built in the call's arena. */
#include "tb_call.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tb_log.h"

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
