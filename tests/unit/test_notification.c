/*  notification_core's pure parts: event -> notifications, recipients, who may
    read and subscribe; notification_text: the templates of every language
    (this is the validator of deploy/notifications/*.txt) and their rendering. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notification_core.h"
#include "notification_text.h"
#include "tb_embedded.h"
#include "tb_valid.h"

static tb_arena_t *s_arena;
static notification_text_t *s_text;
static tb_lang_t s_operators = TB_LANG_EN;

static void s_init(void)
{
    s_arena = tb_arena_new(0);
    s_text = notification_text_new();
    char err[512] = "";
    cr_assert_eq(notification_text_load_embedded(s_text, err, sizeof err), 0, "%s", err);
    s_operators = TB_LANG_EN;
}

static void s_fini(void)
{
    notification_text_destroy(&s_text);
    tb_arena_destroy(&s_arena);
}

static int s_map(const Techbridge__Event *ev, Techbridge__Notification ***out)
{
    return notification_map_event(s_text, s_operators, s_arena, ev, out);
}

TestSuite(notification_map, .init = s_init, .fini = s_fini);

static Techbridge__Party *s_party(const char *org, const char *email, const char *title)
{
    Techbridge__Party *p =
        TB_PB_NEW(s_arena, Techbridge__Party, techbridge__party__descriptor);
    p->org = TB_PB_NEW(s_arena, Techbridge__Org, techbridge__org__descriptor);
    p->org->id = (char *)org;
    p->org->name = (char *)org;
    p->contact = TB_PB_NEW(s_arena, Techbridge__Contact, techbridge__contact__descriptor);
    p->contact->name = (char *)"Someone";
    p->contact->email = (char *)email;
    p->title = (char *)title;
    p->request_id = (char *)"r";
    return p;
}

static Techbridge__Event *s_match_event(Techbridge__EventType type)
{
    Techbridge__Event *ev =
        TB_PB_NEW(s_arena, Techbridge__Event, techbridge__event__descriptor);
    ev->type = type;
    ev->correlation_id = (char *)"cid-1";
    ev->match = TB_PB_NEW(s_arena, Techbridge__Match, techbridge__match__descriptor);
    ev->match->id = (char *)"m-1";
    ev->match->version = 3;
    ev->match->score = 0.8;
    ev->match->offer = s_party("cn-org", "a@cn.example", "Offer title");
    ev->match->need = s_party("by-org", "b@by.example", "Need title");
    return ev;
}

static Techbridge__Event *s_request_event(Techbridge__EventType type)
{
    Techbridge__Event *ev =
        TB_PB_NEW(s_arena, Techbridge__Event, techbridge__event__descriptor);
    ev->type = type;
    ev->correlation_id = (char *)"cid-2";
    ev->from_status = TECHBRIDGE__STATUS__SUBMITTED;
    ev->actor = (char *)"operator";
    ev->request =
        TB_PB_NEW(s_arena, Techbridge__Request, techbridge__request__descriptor);
    ev->request->id = (char *)"req-1";
    ev->request->version = 2;
    ev->request->status = TECHBRIDGE__STATUS__PUBLISHED;
    ev->request->title = (char *)"A title";
    ev->request->org = TB_PB_NEW(s_arena, Techbridge__Org, techbridge__org__descriptor);
    ev->request->org->id = (char *)"acme";
    return ev;
}

Test(notification_map, status_change_to_owner)
{
    Techbridge__Notification **n = NULL;
    cr_assert_eq(
        s_map(s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED), &n),
        1);
    cr_assert_str_eq(n[0]->recipient, "acme");
    cr_assert_eq(n[0]->kind, TECHBRIDGE__NOTIFICATION_KIND__REQUEST_STATUS_CHANGED);
    cr_assert_str_eq(n[0]->subject_id, "req-1");
    cr_assert_eq(n[0]->subject_version, 2);
    cr_assert_str_eq(n[0]->correlation_id, "cid-2");
    cr_assert_not_null(strstr(n[0]->text, "PUBLISHED"));
    cr_assert_not_null(n[0]->request);
}

Test(notification_map, expiring_to_owner)
{
    Techbridge__Notification **n = NULL;
    cr_assert_eq(
        s_map(s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EXPIRING), &n),
        1);
    cr_assert_eq(n[0]->kind, TECHBRIDGE__NOTIFICATION_KIND__REQUEST_EXPIRING);
    cr_assert_str_eq(n[0]->recipient, "acme");
}

Test(notification_map, accepted_to_both_orgs_with_both_contacts)
{
    Techbridge__Notification **n = NULL;
    cr_assert_eq(
        s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED), &n),
        2);
    cr_assert_str_eq(n[0]->recipient, "cn-org");
    cr_assert_str_eq(n[1]->recipient, "by-org");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(n[i]->kind, TECHBRIDGE__NOTIFICATION_KIND__MATCH_ACCEPTED);
        cr_assert_not_null(strstr(n[i]->text, "a@cn.example"));
        cr_assert_not_null(strstr(n[i]->text, "b@by.example"));
        cr_assert_not_null(n[i]->match);
        cr_assert_eq(n[i]->subject_version, 3);
    }
}

Test(notification_map, proposed_and_declined_to_operators)
{
    Techbridge__Notification **n = NULL;
    cr_assert_eq(
        s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_PROPOSED), &n),
        1);
    cr_assert_str_eq(n[0]->recipient, "operators");
    cr_assert_eq(n[0]->kind, TECHBRIDGE__NOTIFICATION_KIND__MATCH_PROPOSED);
    cr_assert_eq(
        s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_DECLINED), &n),
        1);
    cr_assert_eq(n[0]->kind, TECHBRIDGE__NOTIFICATION_KIND__MATCH_DECLINED);
}

Test(notification_map, other_events_notify_nobody)
{
    Techbridge__Notification **n = NULL;
    cr_assert_eq(s_map(s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED),
                     &n),
                 0);
    cr_assert_eq(
        s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_UPDATED), &n),
        0);
    cr_assert_eq(
        s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_RETIRED), &n),
        0);
}

Test(notification_map, malformed_events_are_refused)
{
    Techbridge__Notification **n = NULL;
    Techbridge__Event *ev =
        s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED);
    ev->request->org->id = (char *)"Bad Org";
    cr_assert_eq(s_map(ev, &n), -1);
    ev->request = NULL;
    cr_assert_eq(s_map(ev, &n), -1);
    Techbridge__Event *m = s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED);
    m->match->need = NULL;
    cr_assert_eq(s_map(m, &n), -1);
}

Test(notification_rules, recipients_and_reading)
{
    cr_assert(notification_valid_recipient("operators"));
    cr_assert(notification_valid_recipient("acme.cn"));
    cr_assert_not(notification_valid_recipient(""));
    cr_assert_not(notification_valid_recipient("Acme"));
    cr_assert_not(notification_valid_recipient(NULL));
    cr_assert(notification_may_read("operator", true, "acme"));
    cr_assert(notification_may_read("operator", true, "operators"));
    cr_assert(notification_may_read("acme", false, "acme"));
    cr_assert_not(notification_may_read("acme", false, "acme.cn"));
    cr_assert_not(notification_may_read("operators", false, "operators"));
}

Test(notification_rules, subscriptions)
{
    cr_assert(notification_may_subscribe(false, "", "", 0));
    cr_assert(notification_may_subscribe(true, "operator", "", 0));
    cr_assert(notification_may_subscribe(true, "acme", "acme/", 5));
    cr_assert_not(notification_may_subscribe(true, "acme", "acme", 4));
    cr_assert_not(notification_may_subscribe(true, "acme", "acme/x", 6));
    cr_assert_not(notification_may_subscribe(true, "acme", "", 0));
    cr_assert_not(notification_may_subscribe(true, "acme", "acm", 3));
    cr_assert_not(notification_may_subscribe(true, "acme", "acme.cn", 7));
    cr_assert_not(notification_may_subscribe(true, "", "acme/", 5));
    cr_assert_not(notification_may_subscribe(true, "operators", "operators/", 10));
}
