/*  tb_call: one API call being served. The service runtime decodes the request,
    makes the call, passes it to the service's handler and sends the reply; the
    handler only reads call->req and fills call->reply (a result, or an error via
    tb_call_error). Everything lives in call->arena. */
#ifndef TB_CALL_H
#define TB_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.pb-c.h"
#include "tb_arena.h"
#include "tb_db.h"

#define TB_OPERATOR "operator"

/*  Longest correlation id a request may carry (printable ASCII). */
#define TB_CALL_CID_MAX 64

typedef struct {
    tb_arena_t *arena;
    Techbridge__ApiRequest *req; /* decoded, bounded */
    Techbridge__ApiReply *reply; /* correlation_id already set */
    const char *cid;             /* the request's correlation id, or one we made */
    const char *actor;           /* "operator" or an org id: who is calling */
    /* what history and events record as the actor: `actor`, or
       "ACTOR:PERSON via gateway" when a gateway acts for a person */
    const char *who;
    bool is_operator;
    const char *kind; /* the call's kind for logs and stats: "submit" */
} tb_call_t;

/*  Decodes the ApiRequest frame `body` (`len` bytes; more than `max_frame`
    is refused, strings and repeated fields are bounded by tb_wire_unpack) into
    call->req, then makes the checks every call gets before its handler: the
    correlation id (at most TB_CALL_CID_MAX printable ASCII; when not empty it
    becomes call->cid and the reply's), a known body case (call->kind), and who
    is calling (call->actor, call->is_operator). With `keyed` (CURVE) the
    caller is `user_id`, the ZAP User-Id of the frame ("operator" or an org
    id; none is refused) and a differing ApiRequest.actor is refused; in open
    mode the request's actor is taken ("" or "operator": the operator, or an
    organisation id). A key with role "gateway" acts as the actor its request
    names. ApiRequest.person (a gateway's user) sets call->who. `call` needs its arena,
   reply and cid set. Returns 0, or -1 with the reply's error set (call->req is set once
   the frame decoded). */
int tb_call_prepare(tb_call_t *call, const uint8_t *body, size_t len, size_t max_frame,
                    const char *user_id, bool keyed);

/*  Sets the reply's error (code and message). `fmt` is a literal of ours: data
    goes in the arguments, never in the format. Returns -1, for `return
    tb_call_error (...)`. */
int tb_call_error(tb_call_t *call, Techbridge__Code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*  Appends one violation (field path, reason) to the reply's error, making it
    INVALID_ARGUMENT if it had no error yet. */
void tb_call_violation(tb_call_t *call, const char *field, const char *reason);

/*  Maps the database's last failure to the reply: UNAVAILABLE, ALREADY_EXISTS,
    ABORTED (serialization), INTERNAL. Returns -1. */
int tb_call_db_error(tb_call_t *call, const tb_db_t *db, const char *what);

/*  After a handler ran on `db`: a handler must leave no transaction open, or
    the next call would run inside it. One that did is logged (with the call's
    correlation id and kind) and rolled back. */
void tb_call_end_transaction(const tb_call_t *call, tb_db_t *db);

/*  True when the call is allowed to act for org `org_id`: operators always,
    an organisation only for itself. */
bool tb_call_may_act_for(const tb_call_t *call, const char *org_id);

/*  The name of an ApiRequest body case ("submit", "get", ..., "unknown"). */
const char *tb_call_kind_name(Techbridge__ApiRequest__BodyCase body_case);

#endif
