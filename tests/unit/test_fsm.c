/*  Unit tests of tb_fsm: the full status x action matrix, roles, the renewal
    window and its once-only rule. */
#include <criterion/criterion.h>
#include <string.h>
#include <strings.h>

#include "tb_fsm.h"
#include "tb_valid.h"

#define ST(x) TECHBRIDGE__STATUS__##x
#define AC(x) TECHBRIDGE__ACTION__##x

#define NSTATUS 8  /* STATUS_UNSPECIFIED .. EXPIRED */
#define NACTION 11 /* ACTION_UNSPECIFIED .. EDIT */

/*  The expected table, written out independently of the implementation:
    every (status, action) not listed here has no transition. */
static Techbridge__Status expected_next(int from, int action)
{
    static const struct {
        int from, action, to;
    } allowed[] = {
        {ST(SUBMITTED), AC(PUBLISH), ST(PUBLISHED)},
        {ST(SUBMITTED), AC(REJECT), ST(REJECTED)},
        {ST(SUBMITTED), AC(WITHDRAW), ST(WITHDRAWN)},
        {ST(PUBLISHED), AC(NEGOTIATE), ST(IN_NEGOTIATION)},
        {ST(PUBLISHED), AC(WITHDRAW), ST(WITHDRAWN)},
        {ST(PUBLISHED), AC(EXPIRE), ST(EXPIRED)},
        {ST(PUBLISHED), AC(RENEW), ST(PUBLISHED)},
        {ST(IN_NEGOTIATION), AC(AGREE), ST(AGREED)},
        {ST(IN_NEGOTIATION), AC(REOPEN), ST(PUBLISHED)},
        {ST(IN_NEGOTIATION), AC(WITHDRAW), ST(WITHDRAWN)},
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i].from == from && allowed[i].action == action)
            return (Techbridge__Status)allowed[i].to;
    return ST(STATUS_UNSPECIFIED);
}

static bool internal_action(int action)
{
    return action == AC(EXPIRE) || action == AC(SUBMIT) || action == AC(EDIT);
}

/*  A time inside the renewal window of EXPIRES. */
#define EXPIRES   ((int64_t)1800000000000LL)
#define IN_WINDOW (EXPIRES - 10 * TB_DAY_MS)

Test(fsm, next_full_matrix)
{
    int transitions = 0;
    for (int s = 0; s < NSTATUS; s++)
        for (int a = 0; a < NACTION; a++) {
            Techbridge__Status got =
                tb_fsm_next((Techbridge__Status)s, (Techbridge__Action)a);
            cr_assert_eq(got, expected_next(s, a), "next(%s, %s) = %s",
                         tb_status_name((Techbridge__Status)s),
                         tb_action_name((Techbridge__Action)a), tb_status_name(got));
            transitions += got != ST(STATUS_UNSPECIFIED);
        }
    cr_assert_eq(transitions, 10);
}

Test(fsm, next_out_of_range)
{
    cr_assert_eq(tb_fsm_next((Techbridge__Status)-1, AC(PUBLISH)),
                 ST(STATUS_UNSPECIFIED));
    cr_assert_eq(tb_fsm_next((Techbridge__Status)8, AC(PUBLISH)), ST(STATUS_UNSPECIFIED));
    cr_assert_eq(tb_fsm_next(ST(SUBMITTED), (Techbridge__Action)11),
                 ST(STATUS_UNSPECIFIED));
    cr_assert_eq(tb_fsm_next(ST(SUBMITTED), (Techbridge__Action)-3),
                 ST(STATUS_UNSPECIFIED));
    cr_assert_eq(tb_fsm_next((Techbridge__Status)1000, (Techbridge__Action)1000),
                 ST(STATUS_UNSPECIFIED));
}

/*  As an operator, inside the renewal window, not yet renewed: every cell of
    the matrix is either the expected target, INTERNAL_ONLY, or
    FORBIDDEN_ACTION. */
Test(fsm, check_full_matrix_as_operator)
{
    for (int s = 0; s < NSTATUS; s++)
        for (int a = 0; a < NACTION; a++) {
            Techbridge__Status to = (Techbridge__Status)99;
            tb_fsm_result_t r = tb_fsm_check((Techbridge__Status)s, (Techbridge__Action)a,
                                             true, false, IN_WINDOW, EXPIRES, false, &to);
            const char *sn = tb_status_name((Techbridge__Status)s);
            const char *an = tb_action_name((Techbridge__Action)a);
            if (internal_action(a)) {
                cr_assert_eq(r, TB_FSM_INTERNAL_ONLY, "%s x %s", sn, an);
                cr_assert_eq(to, 99, "%s x %s wrote *to", sn, an);
            } else if (expected_next(s, a) != ST(STATUS_UNSPECIFIED)) {
                cr_assert_eq(r, TB_FSM_OK, "%s x %s gave %d", sn, an, r);
                cr_assert_eq(to, expected_next(s, a), "%s x %s", sn, an);
            } else {
                cr_assert_eq(r, TB_FSM_FORBIDDEN_ACTION, "%s x %s gave %d", sn, an, r);
                cr_assert_eq(to, 99, "%s x %s wrote *to", sn, an);
            }
        }
}

/*  The owner (not an operator) may withdraw and renew where the table allows;
    everything else the table allows is NOT_ALLOWED; the rest is unchanged. */
Test(fsm, check_full_matrix_as_owner)
{
    for (int s = 0; s < NSTATUS; s++)
        for (int a = 0; a < NACTION; a++) {
            Techbridge__Status to = ST(STATUS_UNSPECIFIED);
            tb_fsm_result_t r = tb_fsm_check((Techbridge__Status)s, (Techbridge__Action)a,
                                             false, true, IN_WINDOW, EXPIRES, false, &to);
            const char *sn = tb_status_name((Techbridge__Status)s);
            const char *an = tb_action_name((Techbridge__Action)a);
            if (internal_action(a))
                cr_assert_eq(r, TB_FSM_INTERNAL_ONLY, "%s x %s", sn, an);
            else if (expected_next(s, a) == ST(STATUS_UNSPECIFIED))
                cr_assert_eq(r, TB_FSM_FORBIDDEN_ACTION, "%s x %s", sn, an);
            else if (a == AC(WITHDRAW) || a == AC(RENEW)) {
                cr_assert_eq(r, TB_FSM_OK, "%s x %s gave %d", sn, an, r);
                cr_assert_eq(to, expected_next(s, a));
            } else
                cr_assert_eq(r, TB_FSM_NOT_ALLOWED, "%s x %s gave %d", sn, an, r);
        }
}

/*  Anyone else may take no caller action at all. */
Test(fsm, check_full_matrix_as_stranger)
{
    for (int s = 0; s < NSTATUS; s++)
        for (int a = 0; a < NACTION; a++) {
            tb_fsm_result_t r =
                tb_fsm_check((Techbridge__Status)s, (Techbridge__Action)a, false, false,
                             IN_WINDOW, EXPIRES, false, NULL);
            if (internal_action(a))
                cr_assert_eq(r, TB_FSM_INTERNAL_ONLY);
            else if (expected_next(s, a) == ST(STATUS_UNSPECIFIED))
                cr_assert_eq(r, TB_FSM_FORBIDDEN_ACTION);
            else
                cr_assert_eq(r, TB_FSM_NOT_ALLOWED, "%d x %d", s, a);
        }
}

Test(fsm, roles_named_cases)
{
    Techbridge__Status to;
    cr_assert_eq(
        tb_fsm_check(ST(SUBMITTED), AC(PUBLISH), true, false, 0, EXPIRES, false, &to),
        TB_FSM_OK);
    cr_assert_eq(to, ST(PUBLISHED));
    cr_assert_eq(
        tb_fsm_check(ST(SUBMITTED), AC(PUBLISH), false, true, 0, EXPIRES, false, &to),
        TB_FSM_NOT_ALLOWED);
    cr_assert_eq(
        tb_fsm_check(ST(SUBMITTED), AC(REJECT), false, true, 0, EXPIRES, false, &to),
        TB_FSM_NOT_ALLOWED);
    cr_assert_eq(
        tb_fsm_check(ST(PUBLISHED), AC(NEGOTIATE), false, true, 0, EXPIRES, false, &to),
        TB_FSM_NOT_ALLOWED);
    cr_assert_eq(
        tb_fsm_check(ST(IN_NEGOTIATION), AC(AGREE), false, true, 0, EXPIRES, false, &to),
        TB_FSM_NOT_ALLOWED);
    cr_assert_eq(
        tb_fsm_check(ST(IN_NEGOTIATION), AC(REOPEN), false, true, 0, EXPIRES, false, &to),
        TB_FSM_NOT_ALLOWED);
    cr_assert_eq(tb_fsm_check(ST(IN_NEGOTIATION), AC(WITHDRAW), false, true, 0, EXPIRES,
                              false, &to),
                 TB_FSM_OK);
    cr_assert_eq(to, ST(WITHDRAWN));
    cr_assert_eq(
        tb_fsm_check(ST(PUBLISHED), AC(WITHDRAW), false, false, 0, EXPIRES, false, &to),
        TB_FSM_NOT_ALLOWED);
    /* An operator who also owns it is still an operator. */
    cr_assert_eq(
        tb_fsm_check(ST(SUBMITTED), AC(PUBLISH), true, true, 0, EXPIRES, false, &to),
        TB_FSM_OK);
}

Test(fsm, terminal_statuses_have_no_way_out)
{
    Techbridge__Status terminal[] = {ST(AGREED), ST(REJECTED), ST(WITHDRAWN),
                                     ST(EXPIRED)};
    for (size_t i = 0; i < 4; i++)
        for (int a = 0; a < NACTION; a++)
            cr_assert_eq(tb_fsm_next(terminal[i], (Techbridge__Action)a),
                         ST(STATUS_UNSPECIFIED));
}

Test(fsm, internal_actions)
{
    Techbridge__Status to;
    cr_assert_eq(tb_fsm_check(ST(PUBLISHED), AC(EXPIRE), true, false, EXPIRES, EXPIRES,
                              false, &to),
                 TB_FSM_INTERNAL_ONLY);
    cr_assert_eq(
        tb_fsm_check(ST(SUBMITTED), AC(SUBMIT), true, false, 0, EXPIRES, false, &to),
        TB_FSM_INTERNAL_ONLY);
    cr_assert_eq(
        tb_fsm_check(ST(PUBLISHED), AC(EDIT), true, false, 0, EXPIRES, false, &to),
        TB_FSM_INTERNAL_ONLY);
    /* The system still knows where EXPIRE leads. */
    cr_assert_eq(tb_fsm_next(ST(PUBLISHED), AC(EXPIRE)), ST(EXPIRED));
    cr_assert_eq(tb_fsm_next(ST(SUBMITTED), AC(EXPIRE)), ST(STATUS_UNSPECIFIED));
    cr_assert_eq(tb_fsm_next(ST(IN_NEGOTIATION), AC(EXPIRE)), ST(STATUS_UNSPECIFIED));
}

Test(fsm, unknown_actions_are_forbidden)
{
    Techbridge__Status to;
    cr_assert_eq(tb_fsm_check(ST(PUBLISHED), AC(ACTION_UNSPECIFIED), true, false, 0,
                              EXPIRES, false, &to),
                 TB_FSM_FORBIDDEN_ACTION);
    cr_assert_eq(tb_fsm_check(ST(PUBLISHED), (Techbridge__Action)42, true, false, 0,
                              EXPIRES, false, &to),
                 TB_FSM_FORBIDDEN_ACTION);
    cr_assert_eq(tb_fsm_check((Techbridge__Status)42, AC(PUBLISH), true, false, 0,
                              EXPIRES, false, &to),
                 TB_FSM_FORBIDDEN_ACTION);
}

/* ------------------------------------------------------------------------ */
/*  Renewal                                                                 */

static tb_fsm_result_t renew(bool op, bool owner, int64_t now, bool renewed)
{
    Techbridge__Status to = ST(STATUS_UNSPECIFIED);
    tb_fsm_result_t r =
        tb_fsm_check(ST(PUBLISHED), AC(RENEW), op, owner, now, EXPIRES, renewed, &to);
    if (r == TB_FSM_OK)
        cr_assert_eq(to, ST(PUBLISHED));
    return r;
}

Test(fsm, renew_window)
{
    int64_t window = EXPIRES - 30 * TB_DAY_MS;
    cr_assert_eq(renew(true, false, window - 1, false), TB_FSM_TOO_EARLY);
    cr_assert_eq(renew(true, false, window, false), TB_FSM_OK);
    cr_assert_eq(renew(true, false, window + 1, false), TB_FSM_OK);
    cr_assert_eq(renew(true, false, EXPIRES - 1, false), TB_FSM_OK);
    cr_assert_eq(renew(true, false, EXPIRES - 200 * TB_DAY_MS, false), TB_FSM_TOO_EARLY);
    /* Still PUBLISHED at or past expires_at (the expiry sweep has not run yet). */
    cr_assert_eq(renew(true, false, EXPIRES, false), TB_FSM_OK);
    cr_assert_eq(renew(false, true, window - 1, false), TB_FSM_TOO_EARLY);
    cr_assert_eq(renew(false, true, window, false), TB_FSM_OK);
}

Test(fsm, renew_once)
{
    cr_assert_eq(renew(true, false, IN_WINDOW, true), TB_FSM_ALREADY_RENEWED);
    cr_assert_eq(renew(false, true, IN_WINDOW, true), TB_FSM_ALREADY_RENEWED);
    cr_assert_eq(renew(true, false, IN_WINDOW, false), TB_FSM_OK);
}

Test(fsm, renew_roles)
{
    cr_assert_eq(renew(false, false, IN_WINDOW, false), TB_FSM_NOT_ALLOWED);
    cr_assert_eq(renew(false, true, IN_WINDOW, false), TB_FSM_OK);
    cr_assert_eq(renew(true, false, IN_WINDOW, false), TB_FSM_OK);
}

Test(fsm, renew_only_from_published)
{
    Techbridge__Status to;
    for (int s = 0; s < NSTATUS; s++) {
        if (s == ST(PUBLISHED))
            continue;
        cr_assert_eq(tb_fsm_check((Techbridge__Status)s, AC(RENEW), true, false,
                                  IN_WINDOW, EXPIRES, false, &to),
                     TB_FSM_FORBIDDEN_ACTION);
    }
}

Test(fsm, renewed_expiry_is_12_months_from_now)
{
    cr_assert_eq(tb_fsm_renewed_expiry(IN_WINDOW, EXPIRES),
                 tb_add_months_ms(IN_WINDOW, 12));
    /* 2026-01-31T00:00:00Z + 12 months */
    int64_t now = 1769817600000LL;
    cr_assert_eq(tb_fsm_renewed_expiry(now, now + 5 * TB_DAY_MS), 1801353600000LL);
    cr_assert(tb_fsm_renewed_expiry(IN_WINDOW, EXPIRES) > EXPIRES);
}

/* ------------------------------------------------------------------------ */
/*  Predicates and names                                                    */

Test(fsm, editable_and_open)
{
    for (int s = 0; s < NSTATUS; s++) {
        bool editable = s == ST(SUBMITTED) || s == ST(PUBLISHED);
        bool open = editable || s == ST(IN_NEGOTIATION);
        cr_assert_eq(tb_fsm_editable((Techbridge__Status)s), editable, "%d", s);
        cr_assert_eq(tb_fsm_is_open((Techbridge__Status)s), open, "%d", s);
    }
    cr_assert_not(tb_fsm_editable((Techbridge__Status)42));
    cr_assert_not(tb_fsm_is_open((Techbridge__Status)42));
}

Test(fsm, names)
{
    const char *status[] = {"STATUS_UNSPECIFIED", "SUBMITTED", "PUBLISHED",
                            "IN_NEGOTIATION",     "AGREED",    "REJECTED",
                            "WITHDRAWN",          "EXPIRED"};
    for (int s = 0; s < NSTATUS; s++) {
        cr_assert_str_eq(tb_status_name((Techbridge__Status)s), status[s]);
        /* Same spelling as the proto's own enum names. */
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(&techbridge__status__descriptor, s);
        cr_assert_str_eq(v->name, status[s]);
    }
    const char *action[] = {"unspecified", "publish", "reject", "withdraw",
                            "negotiate",   "agree",   "reopen", "renew",
                            "expire",      "submit",  "edit"};
    for (int a = 0; a < NACTION; a++) {
        cr_assert_str_eq(tb_action_name((Techbridge__Action)a), action[a]);
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(&techbridge__action__descriptor, a);
        if (a > 0)
            cr_assert_eq(strcasecmp(v->name, action[a]), 0);
    }
    cr_assert_str_eq(tb_status_name((Techbridge__Status)99), "UNKNOWN");
    cr_assert_str_eq(tb_action_name((Techbridge__Action)-1), "unknown");
}

/*  Issue 16, item 9: a centre reviews what it publishes. */
Test(fsm, an_organisations_edit_of_a_published_request_goes_back_to_review)
{
    cr_assert_eq(tb_fsm_after_edit(TECHBRIDGE__STATUS__PUBLISHED, false),
                 TECHBRIDGE__STATUS__SUBMITTED);
    cr_assert_eq(tb_fsm_after_edit(TECHBRIDGE__STATUS__PUBLISHED, true),
                 TECHBRIDGE__STATUS__PUBLISHED);
    cr_assert_eq(tb_fsm_after_edit(TECHBRIDGE__STATUS__SUBMITTED, false),
                 TECHBRIDGE__STATUS__SUBMITTED);
    cr_assert_eq(tb_fsm_after_edit(TECHBRIDGE__STATUS__SUBMITTED, true),
                 TECHBRIDGE__STATUS__SUBMITTED);
}

Test(fsm, caller_actions_are_parsed_by_their_names_and_internal_ones_are_not)
{
    for (int a = TECHBRIDGE__ACTION__PUBLISH; a <= TECHBRIDGE__ACTION__RENEW; a++)
        cr_assert_eq(tb_action_parse(tb_action_name((Techbridge__Action)a)), a);
    cr_assert_eq(tb_action_parse("expire"), TECHBRIDGE__ACTION__ACTION_UNSPECIFIED);
    cr_assert_eq(tb_action_parse("edit"), TECHBRIDGE__ACTION__ACTION_UNSPECIFIED);
    cr_assert_eq(tb_action_parse("Publish"), TECHBRIDGE__ACTION__ACTION_UNSPECIFIED);
    cr_assert_eq(tb_action_parse(""), TECHBRIDGE__ACTION__ACTION_UNSPECIFIED);
}
