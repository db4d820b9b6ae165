/*  tb_fsm: the life of a request (SPEC section 2) as an explicit table of
    status x action -> status, plus who may take each action and the renewal
    window. Pure: no socket, no database. */
#ifndef TB_FSM_H
#define TB_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "techbridge.pb-c.h"

#define TB_DAY_MS               (24LL * 3600 * 1000)
#define TB_RENEW_WINDOW_DAYS    30
#define TB_EXPIRING_NOTICE_DAYS 14

typedef enum {
    TB_FSM_OK = 0,
    TB_FSM_FORBIDDEN_ACTION = -1, /* not a transition from this status */
    TB_FSM_NOT_ALLOWED = -2,      /* the actor's role may not take it */
    TB_FSM_TOO_EARLY = -3,        /* renew before the 30-day window */
    TB_FSM_ALREADY_RENEWED = -4,  /* renew is allowed once */
    TB_FSM_INTERNAL_ONLY = -5     /* EXPIRE, SUBMIT, EDIT are not caller actions */
} tb_fsm_result_t;

/*  The status after `action` from `from`, or STATUS_UNSPECIFIED when the table
    has no such transition. */
Techbridge__Status tb_fsm_next(Techbridge__Status from, Techbridge__Action action);

/*  Checks a caller's transition: the table, the role (operators may take every
    action; the owning organisation may withdraw and renew), and for RENEW the
    window (from 30 days before expires_at, once). On success *to is the new
    status. */
tb_fsm_result_t tb_fsm_check(Techbridge__Status from, Techbridge__Action action,
                             bool is_operator, bool is_owner, int64_t now_ms,
                             int64_t expires_at_ms, bool renewed, Techbridge__Status *to);

/*  Where a renew moves expires_at: 12 months from now (renewal happens in the
    last 30 days, so this is "up to 12 months on" from the old expiry). */
int64_t tb_fsm_renewed_expiry(int64_t now_ms, int64_t expires_at_ms);

/*  Whether an edit is allowed in this status (SUBMITTED and PUBLISHED). */
bool tb_fsm_editable(Techbridge__Status status);

/*  The status after an edit in status `from`: a centre reviews what it
    publishes, so an organisation's edit of its PUBLISHED request sends it back
    to SUBMITTED (the review queue, published again by an operator); an
    operator's edit, or any edit of a SUBMITTED request, keeps the status. */
Techbridge__Status tb_fsm_after_edit(Techbridge__Status from, bool is_operator);

/*  Whether a request in this status is open: matched, counted for duplicates. */
bool tb_fsm_is_open(Techbridge__Status status);

/*  Names for logs and messages: "PUBLISHED", "publish". */
const char *tb_status_name(Techbridge__Status s);
const char *tb_action_name(Techbridge__Action a);
/*  The caller action (publish ... renew) named `name` as tb_action_name spells
    it, or ACTION_UNSPECIFIED: the internal ones (expire, submit, edit) are no
    caller's to name. */
Techbridge__Action tb_action_parse(const char *name);

#endif
