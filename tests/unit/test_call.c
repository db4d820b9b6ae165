/*  tb_call: errors, violations, database error mapping, permissions, kinds. */
#include <criterion/criterion.h>
#include <string.h>

#include "tb_auth.h"
#include "tb_call.h"

static tb_call_t s_call(tb_arena_t *a, const char *actor, bool is_operator)
{
    tb_call_t call = {0};
    call.arena = a;
    call.reply = TB_PB_NEW(a, Techbridge__ApiReply, techbridge__api_reply__descriptor);
    call.reply->correlation_id = "cid-1";
    call.cid = "cid-1";
    call.actor = actor;
    call.is_operator = is_operator;
    call.kind = "submit";
    return call;
}

Test(call, error_formats_into_reply)
{
    tb_arena_t *a = tb_arena_new(0);
    tb_call_t call = s_call(a, "org.a", false);
    const char *hostile = "%s%n%x";
    int rc = tb_call_error(&call, TECHBRIDGE__CODE__NOT_FOUND,
                           "request %s not found (%d)", hostile, 7);
    cr_assert_eq(rc, -1);
    cr_assert_not_null(call.reply->error);
    cr_assert_eq(call.reply->error->code, TECHBRIDGE__CODE__NOT_FOUND);
    cr_assert_str_eq(call.reply->error->message, "request %s%n%x not found (7)");
    cr_assert_eq(call.reply->error->n_violations, 0);
    tb_arena_destroy(&a);
}

Test(call, violations_accumulate)
{
    tb_arena_t *a = tb_arena_new(0);
    tb_call_t call = s_call(a, "operator", true);
    char field[32];
    for (int i = 0; i < 40; i++) {
        snprintf(field, sizeof field, "keywords[%d]", i);
        tb_call_violation(&call, field, "too short");
    }
    Techbridge__Error *e = call.reply->error;
    cr_assert_not_null(e);
    cr_assert_eq(e->code, TECHBRIDGE__CODE__INVALID_ARGUMENT);
    cr_assert_str_eq(e->message, "invalid request");
    cr_assert_eq(e->n_violations, 40);
    for (int i = 0; i < 40; i++) {
        snprintf(field, sizeof field, "keywords[%d]", i);
        cr_assert_str_eq(e->violations[i]->field, field);
        cr_assert_str_eq(e->violations[i]->reason, "too short");
    }
    /* The reply packs and unpacks with every violation. */
    size_t len = techbridge__api_reply__get_packed_size(call.reply);
    uint8_t *buf = tb_arena_alloc(a, len);
    techbridge__api_reply__pack(call.reply, buf);
    Techbridge__ApiReply *back =
        techbridge__api_reply__unpack(tb_arena_allocator(a), len, buf);
    cr_assert_not_null(back);
    cr_assert_eq(back->error->n_violations, 40);
    tb_arena_destroy(&a);
}

Test(call, violation_keeps_existing_error_code)
{
    tb_arena_t *a = tb_arena_new(0);
    tb_call_t call = s_call(a, "org.a", false);
    tb_call_error(&call, TECHBRIDGE__CODE__FAILED_PRECONDITION, "not now");
    tb_call_violation(&call, "expires_at", "in the past");
    cr_assert_eq(call.reply->error->code, TECHBRIDGE__CODE__FAILED_PRECONDITION);
    cr_assert_str_eq(call.reply->error->message, "not now");
    cr_assert_eq(call.reply->error->n_violations, 1);
    /* And an error after violations keeps them. */
    tb_call_error(&call, TECHBRIDGE__CODE__INVALID_ARGUMENT, "%d problems", 1);
    cr_assert_eq(call.reply->error->n_violations, 1);
    cr_assert_str_eq(call.reply->error->message, "1 problems");
    tb_arena_destroy(&a);
}

Test(call, out_of_cap_still_gives_an_error)
{
    tb_arena_t *a = tb_arena_new(512);
    tb_call_t call = s_call(a, "org.a", false);
    while (tb_arena_alloc(a, 16))
        ;
    cr_assert_eq(tb_call_error(&call, TECHBRIDGE__CODE__NOT_FOUND, "x"), -1);
    cr_assert_not_null(call.reply->error);
    cr_assert_neq(call.reply->error->code, TECHBRIDGE__CODE__OK);
    tb_call_violation(&call, "a", "b"); /* must not crash */
    tb_arena_destroy(&a);
}

Test(call, db_error_unavailable)
{
    tb_arena_t *a = tb_arena_new(0);
    tb_call_t call = s_call(a, "org.a", false);
    /* A server that is not there: the handle exists but is down. */
    tb_db_t *db = tb_db_new("host=/nonexistent/tb-test port=1 connect_timeout=1");
    cr_assert_not_null(db);
    cr_assert_not(tb_db_ok(db));
    PGresult *res = tb_db_query(db, "SELECT 1", 0, NULL);
    cr_assert_null(res);
    cr_assert_eq(tb_db_error(db), TB_DB_UNAVAILABLE);
    cr_assert_eq(tb_call_db_error(&call, db, "load request"), -1);
    cr_assert_eq(call.reply->error->code, TECHBRIDGE__CODE__UNAVAILABLE);
    cr_assert_str_eq(call.reply->error->message, "database unavailable");
    tb_db_destroy(&db);
    tb_arena_destroy(&a);
}

Test(call, may_act_for)
{
    tb_arena_t *a = tb_arena_new(0);
    tb_call_t op = s_call(a, TB_OPERATOR, true);
    tb_call_t org = s_call(a, "org.a", false);
    cr_assert(tb_call_may_act_for(&op, "org.a"));
    cr_assert(tb_call_may_act_for(&op, "org.b"));
    cr_assert(tb_call_may_act_for(&org, "org.a"));
    cr_assert_not(tb_call_may_act_for(&org, "org.b"));
    cr_assert_not(tb_call_may_act_for(&org, "org.aa"));
    cr_assert_not(tb_call_may_act_for(&org, ""));
    cr_assert_not(tb_call_may_act_for(&org, NULL));
    tb_call_t empty = s_call(a, "", false);
    cr_assert_not(tb_call_may_act_for(&empty, ""));
    tb_arena_destroy(&a);
}

Test(call, kind_names)
{
    static const struct {
        Techbridge__ApiRequest__BodyCase c;
        const char *name;
    } cases[] = {
        {TECHBRIDGE__API_REQUEST__BODY_SUBMIT, "submit"},
        {TECHBRIDGE__API_REQUEST__BODY_GET, "get"},
        {TECHBRIDGE__API_REQUEST__BODY_LIST, "list"},
        {TECHBRIDGE__API_REQUEST__BODY_EDIT, "edit"},
        {TECHBRIDGE__API_REQUEST__BODY_TRANSITION, "transition"},
        {TECHBRIDGE__API_REQUEST__BODY_HISTORY, "history"},
        {TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES, "list_matches"},
        {TECHBRIDGE__API_REQUEST__BODY_GET_MATCH, "get_match"},
        {TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH, "decide_match"},
        {TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS, "list_notifications"},
        {TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS, "ack_notifications"},
        {TECHBRIDGE__API_REQUEST__BODY_NOTIFICATION_STATS, "notification_stats"},
        {TECHBRIDGE__API_REQUEST__BODY_HEALTH, "health"},
        {TECHBRIDGE__API_REQUEST__BODY__NOT_SET, "unknown"},
        {(Techbridge__ApiRequest__BodyCase)99, "unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_str_eq(tb_call_kind_name(cases[i].c), cases[i].name);
    /* Every oneof member of ApiRequest has a name. */
    const ProtobufCMessageDescriptor *d = &techbridge__api_request__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (!(d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        const char *name =
            tb_call_kind_name((Techbridge__ApiRequest__BodyCase)d->fields[i].id);
        cr_assert_str_eq(name, d->fields[i].name, "field %s", d->fields[i].name);
    }
}

/* ---- tb_call_prepare: decode and the checks before a handler ---- */

#define S_MAX_FRAME 4096

/* A fresh call as the runtime makes it: its arena, a reply, a cid of ours. */
static tb_call_t s_fresh(tb_arena_t *a)
{
    tb_call_t call = {0};
    call.arena = a;
    call.reply = TB_PB_NEW(a, Techbridge__ApiReply, techbridge__api_reply__descriptor);
    call.reply->correlation_id = "made-by-runtime";
    call.cid = "made-by-runtime";
    call.actor = "";
    call.kind = "invalid";
    return call;
}

/* The packed bytes of a Get request with this correlation id, actor and
   person (NULL: none). */
static uint8_t *s_frame_for(tb_arena_t *a, const char *cid, const char *actor,
                            const char *person, size_t *len)
{
    Techbridge__GetRequest get = TECHBRIDGE__GET_REQUEST__INIT;
    get.id = "00000000-0000-4000-8000-000000000001";
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.correlation_id = (char *)cid;
    req.actor = (char *)actor;
    req.person = (char *)(person ? person : "");
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
    req.get = &get;
    *len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = tb_arena_alloc(a, *len);
    cr_assert_not_null(buf);
    protobuf_c_message_pack(&req.base, buf);
    return buf;
}

static uint8_t *s_frame(tb_arena_t *a, const char *cid, const char *actor, size_t *len)
{
    return s_frame_for(a, cid, actor, NULL, len);
}

/* tb_call_prepare of a Get frame (cid, actor claim) as `user_id`/`keyed`. */
static int s_prepare(tb_call_t *call, const char *cid, const char *actor,
                     const char *user_id, bool keyed)
{
    size_t len = 0;
    uint8_t *body = s_frame(call->arena, cid, actor, &len);
    return tb_call_prepare(call, body, len, S_MAX_FRAME, user_id, keyed);
}

static Techbridge__Code s_code(const tb_call_t *call)
{
    return call->reply->error ? call->reply->error->code : TECHBRIDGE__CODE__OK;
}

Test(call, prepare_open_mode_takes_the_claim)
{
    tb_arena_t *a = tb_arena_new(0);
    tb_call_t call = s_fresh(a);
    cr_assert_eq(s_prepare(&call, "cid-7", "org.a", NULL, false), 0);
    cr_assert_not_null(call.req);
    cr_assert_null(call.reply->error);
    cr_assert_str_eq(call.cid, "cid-7");
    cr_assert_str_eq(call.reply->correlation_id, "cid-7");
    cr_assert_str_eq(call.kind, "get");
    cr_assert_str_eq(call.actor, "org.a");
    cr_assert_not(call.is_operator);

    const char *as_operator[] = {"", TB_OPERATOR};
    for (size_t i = 0; i < 2; i++) {
        call = s_fresh(a);
        cr_assert_eq(s_prepare(&call, "", as_operator[i], NULL, false), 0);
        cr_assert_str_eq(call.actor, TB_OPERATOR);
        cr_assert(call.is_operator);
        /* No correlation id in the request: the runtime's stays. */
        cr_assert_str_eq(call.cid, "made-by-runtime");
        cr_assert_str_eq(call.reply->correlation_id, "made-by-runtime");
    }
    tb_arena_destroy(&a);
}

Test(call, prepare_open_mode_refuses_a_malformed_actor)
{
    tb_arena_t *a = tb_arena_new(0);
    const char *bad[] = {"Org A", "org/a", "ORG", "operator "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb_call_t call = s_fresh(a);
        cr_assert_eq(s_prepare(&call, "cid-1", bad[i], NULL, false), -1, "%s", bad[i]);
        cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__INVALID_ARGUMENT);
        cr_assert_not_null(strstr(call.reply->error->message, "actor must be"));
        cr_assert_str_eq(call.reply->correlation_id, "cid-1"); /* the caller's, still */
    }
    tb_arena_destroy(&a);
}

Test(call, prepare_keyed_the_key_decides)
{
    tb_arena_t *a = tb_arena_new(0);
    /* The key's role, whatever the request would claim in open mode. */
    tb_call_t call = s_fresh(a);
    cr_assert_eq(s_prepare(&call, "cid-1", "", "org.a", true), 0);
    cr_assert_str_eq(call.actor, "org.a");
    cr_assert_not(call.is_operator);

    call = s_fresh(a);
    cr_assert_eq(s_prepare(&call, "cid-1", "org.a", "org.a", true), 0);
    cr_assert_str_eq(call.actor, "org.a");

    call = s_fresh(a);
    cr_assert_eq(s_prepare(&call, "cid-1", "", TB_OPERATOR, true), 0);
    cr_assert_str_eq(call.actor, TB_OPERATOR);
    cr_assert(call.is_operator);

    /* A claim that is not the key's role is refused, operator's included. */
    const char *claims[] = {"org.b", TB_OPERATOR, "Not An Org"};
    for (size_t i = 0; i < 3; i++) {
        call = s_fresh(a);
        cr_assert_eq(s_prepare(&call, "cid-1", claims[i], "org.a", true), -1);
        cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__PERMISSION_DENIED, "%s", claims[i]);
    }
    call = s_fresh(a);
    cr_assert_eq(s_prepare(&call, "cid-1", "org.a", TB_OPERATOR, true), -1);
    cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__PERMISSION_DENIED);

    /* No authenticated identity: refused, whatever is claimed. */
    const char *users[] = {"", NULL};
    for (size_t i = 0; i < 2; i++) {
        call = s_fresh(a);
        cr_assert_eq(s_prepare(&call, "cid-1", "", users[i], true), -1);
        cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__UNAUTHENTICATED);
    }
    tb_arena_destroy(&a);
}

Test(call, prepare_checks_the_correlation_id)
{
    tb_arena_t *a = tb_arena_new(0);
    char longest[TB_CALL_CID_MAX + 2];
    memset(longest, 'c', TB_CALL_CID_MAX);
    longest[TB_CALL_CID_MAX] = '\0';
    tb_call_t call = s_fresh(a);
    cr_assert_eq(s_prepare(&call, longest, "", NULL, false), 0);
    cr_assert_str_eq(call.cid, longest);

    longest[TB_CALL_CID_MAX] = 'c';
    longest[TB_CALL_CID_MAX + 1] = '\0';
    const char *bad[] = {longest, "tab\there", "new\nline", "del\x7f", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call = s_fresh(a);
        cr_assert_eq(s_prepare(&call, bad[i], "", NULL, false), -1, "case %zu", i);
        cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__INVALID_ARGUMENT);
        cr_assert_not_null(strstr(call.reply->error->message, "correlation_id"));
        /* A bad one is never echoed: the reply keeps the runtime's. */
        cr_assert_str_eq(call.reply->correlation_id, "made-by-runtime");
        cr_assert_str_eq(call.cid, "made-by-runtime");
    }
    tb_arena_destroy(&a);
}

Test(call, prepare_refuses_what_does_not_decode)
{
    tb_arena_t *a = tb_arena_new(0);
    /* Over the frame limit: refused before decoding. */
    size_t len = 0;
    uint8_t *body = s_frame(a, "cid-1", "", &len);
    tb_call_t call = s_fresh(a);
    cr_assert_eq(tb_call_prepare(&call, body, len, len - 1, NULL, false), -1);
    cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__RESOURCE_EXHAUSTED);
    cr_assert_null(call.req);

    /* Not protobuf. */
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0x01};
    call = s_fresh(a);
    cr_assert_eq(tb_call_prepare(&call, junk, sizeof junk, S_MAX_FRAME, NULL, false), -1);
    cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    cr_assert_str_eq(call.reply->error->message, "not a valid ApiRequest");
    cr_assert_null(call.req);

    /* A request without a body: no kind. */
    Techbridge__ApiRequest empty = TECHBRIDGE__API_REQUEST__INIT;
    empty.correlation_id = "cid-2";
    uint8_t buf[64];
    size_t n = protobuf_c_message_pack(&empty.base, buf);
    call = s_fresh(a);
    cr_assert_eq(tb_call_prepare(&call, buf, n, S_MAX_FRAME, NULL, false), -1);
    cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    cr_assert_str_eq(call.reply->error->message, "unknown or missing kind");
    cr_assert_str_eq(call.reply->correlation_id, "cid-2");
    tb_arena_destroy(&a);
}

static int s_prepare_person(tb_call_t *call, const char *actor, const char *person,
                            const char *user_id, bool keyed)
{
    size_t len = 0;
    uint8_t *body = s_frame_for(call->arena, "cid-1", actor, person, &len);
    return tb_call_prepare(call, body, len, S_MAX_FRAME, user_id, keyed);
}

/*  A gateway key acts as the actor it names, and the person goes to `who`. */
Test(call, prepare_gateway_key_acts_for_the_named_actor)
{
    tb_arena_t *a = tb_arena_new(0);
    tb_call_t call = s_fresh(a);
    cr_assert_eq(s_prepare_person(&call, "org.a", "petrov", TB_AUTH_GATEWAY, true), 0);
    cr_assert_str_eq(call.actor, "org.a");
    cr_assert_not(call.is_operator);
    cr_assert_str_eq(call.who, "org.a:petrov via gateway");

    call = s_fresh(a);
    cr_assert_eq(s_prepare_person(&call, TB_OPERATOR, "ivanova", TB_AUTH_GATEWAY, true),
                 0);
    cr_assert(call.is_operator);
    cr_assert_str_eq(call.who, "operator:ivanova via gateway");

    /* it must name someone, and never the gateway or the operators' topic */
    const char *bad[] = {"", TB_AUTH_GATEWAY, "operators", "Not An Org"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call = s_fresh(a);
        cr_assert_eq(s_prepare_person(&call, bad[i], "petrov", TB_AUTH_GATEWAY, true), -1,
                     "%s", bad[i]);
        cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    }
    tb_arena_destroy(&a);
}

Test(call, prepare_person_only_from_a_gateway)
{
    tb_arena_t *a = tb_arena_new(0);
    /* another key naming a person: refused */
    tb_call_t call = s_fresh(a);
    cr_assert_eq(s_prepare_person(&call, "", "petrov", "org.a", true), -1);
    cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__PERMISSION_DENIED);
    /* open mode: taken like the actor; a malformed person refused */
    call = s_fresh(a);
    cr_assert_eq(s_prepare_person(&call, "org.a", "petrov", NULL, false), 0);
    cr_assert_str_eq(call.who, "org.a:petrov via gateway");
    call = s_fresh(a);
    cr_assert_eq(s_prepare_person(&call, "org.a", "Petrov Ivan", NULL, false), -1);
    cr_assert_eq(s_code(&call), TECHBRIDGE__CODE__INVALID_ARGUMENT);
    /* no person: who is the actor */
    call = s_fresh(a);
    cr_assert_eq(s_prepare_person(&call, "org.a", NULL, NULL, false), 0);
    cr_assert_str_eq(call.who, "org.a");
    tb_arena_destroy(&a);
}
