/*  tb_fsm: the life of a request (SPEC section 2) as one static table of
    status x action -> status. See tb_fsm.h for the contract. */
#include "tb_fsm.h"

#include <string.h>

#include "tb_valid.h"

#define S_NSTATUS 8  /* STATUS_UNSPECIFIED .. EXPIRED */
#define S_NACTION 11 /* ACTION_UNSPECIFIED .. EDIT */

#define S_(x) TECHBRIDGE__STATUS__##x
#define A_(x) TECHBRIDGE__ACTION__##x

/*  The transitions; every cell not listed is STATUS_UNSPECIFIED (0), "no such
    transition". SUBMIT and EDIT are history records, not transitions. */
static const Techbridge__Status s_next[S_NSTATUS][S_NACTION] = {
    [S_(SUBMITTED)] =
        {
            [A_(PUBLISH)] = S_(PUBLISHED),
            [A_(REJECT)] = S_(REJECTED),
            [A_(WITHDRAW)] = S_(WITHDRAWN),
        },
    [S_(PUBLISHED)] =
        {
            [A_(NEGOTIATE)] = S_(IN_NEGOTIATION),
            [A_(WITHDRAW)] = S_(WITHDRAWN),
            [A_(EXPIRE)] = S_(EXPIRED),
            [A_(RENEW)] = S_(PUBLISHED),
        },
    [S_(IN_NEGOTIATION)] =
        {
            [A_(AGREE)] = S_(AGREED),
            [A_(REOPEN)] = S_(PUBLISHED),
            [A_(WITHDRAW)] = S_(WITHDRAWN),
        },
};

static bool s_in_range(int status, int action)
{
    return status >= 0 && status < S_NSTATUS && action >= 0 && action < S_NACTION;
}

Techbridge__Status tb_fsm_next(Techbridge__Status from, Techbridge__Action action)
{
    if (!s_in_range((int)from, (int)action))
        return S_(STATUS_UNSPECIFIED);
    return s_next[from][action];
}

/*  Who may take a caller action besides operators (who may take every one). */
static bool s_owner_may(Techbridge__Action action)
{
    return action == A_(WITHDRAW) || action == A_(RENEW);
}

tb_fsm_result_t tb_fsm_check(Techbridge__Status from, Techbridge__Action action,
                             bool is_operator, bool is_owner, int64_t now_ms,
                             int64_t expires_at_ms, bool renewed, Techbridge__Status *to)
{
    if (action == A_(EXPIRE) || action == A_(SUBMIT) || action == A_(EDIT))
        return TB_FSM_INTERNAL_ONLY;
    Techbridge__Status next = tb_fsm_next(from, action);
    if (next == S_(STATUS_UNSPECIFIED))
        return TB_FSM_FORBIDDEN_ACTION;
    if (!is_operator && !(is_owner && s_owner_may(action)))
        return TB_FSM_NOT_ALLOWED;
    if (action == A_(RENEW)) {
        if (renewed)
            return TB_FSM_ALREADY_RENEWED;
        if (now_ms < expires_at_ms - TB_RENEW_WINDOW_DAYS * TB_DAY_MS)
            return TB_FSM_TOO_EARLY;
    }
    if (to)
        *to = next;
    return TB_FSM_OK;
}

int64_t tb_fsm_renewed_expiry(int64_t now_ms, int64_t expires_at_ms)
{
    (void)expires_at_ms;
    return tb_add_months_ms(now_ms, TB_EXPIRY_DEFAULT_MONTHS);
}

bool tb_fsm_editable(Techbridge__Status status)
{
    return status == S_(SUBMITTED) || status == S_(PUBLISHED);
}

Techbridge__Status tb_fsm_after_edit(Techbridge__Status from, bool is_operator)
{
    return !is_operator && from == S_(PUBLISHED) ? S_(SUBMITTED) : from;
}

bool tb_fsm_is_open(Techbridge__Status status)
{
    return status == S_(SUBMITTED) || status == S_(PUBLISHED) ||
           status == S_(IN_NEGOTIATION);
}

const char *tb_status_name(Techbridge__Status s)
{
    static const char *const names[S_NSTATUS] = {
        "STATUS_UNSPECIFIED", "SUBMITTED", "PUBLISHED", "IN_NEGOTIATION", "AGREED",
        "REJECTED",           "WITHDRAWN", "EXPIRED",
    };
    if ((int)s < 0 || (int)s >= S_NSTATUS)
        return "UNKNOWN";
    return names[s];
}

const char *tb_action_name(Techbridge__Action a)
{
    static const char *const names[S_NACTION] = {
        "unspecified", "publish", "reject", "withdraw", "negotiate", "agree",
        "reopen",      "renew",   "expire", "submit",   "edit",
    };
    if ((int)a < 0 || (int)a >= S_NACTION)
        return "unknown";
    return names[a];
}

Techbridge__Action tb_action_parse(const char *name)
{
    for (int a = TECHBRIDGE__ACTION__PUBLISH; a <= TECHBRIDGE__ACTION__RENEW; a++)
        if (strcmp(tb_action_name((Techbridge__Action)a), name) == 0)
            return (Techbridge__Action)a;
    return TECHBRIDGE__ACTION__ACTION_UNSPECIFIED;
}
