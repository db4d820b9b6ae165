/*  notification_core's pure parts: event -> notifications, recipients, who may
    read and subscribe; notification_text: rendering, and the templates of
    every language (the validator of the files under deploy/notifications/). */
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
        s_map(s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EXPIRING), &n), 1);
    cr_assert_eq(n[0]->kind, TECHBRIDGE__NOTIFICATION_KIND__REQUEST_EXPIRING);
    cr_assert_str_eq(n[0]->recipient, "acme");
}

Test(notification_map, accepted_to_both_orgs_with_both_contacts)
{
    Techbridge__Notification **n = NULL;
    cr_assert_eq(s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED), &n),
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
    cr_assert_eq(s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_PROPOSED), &n),
                 1);
    cr_assert_str_eq(n[0]->recipient, "operators");
    cr_assert_eq(n[0]->kind, TECHBRIDGE__NOTIFICATION_KIND__MATCH_PROPOSED);
    cr_assert_eq(s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_DECLINED), &n),
                 1);
    cr_assert_eq(n[0]->kind, TECHBRIDGE__NOTIFICATION_KIND__MATCH_DECLINED);
}

Test(notification_map, other_events_notify_nobody)
{
    Techbridge__Notification **n = NULL;
    cr_assert_eq(
        s_map(s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED), &n), 0);
    cr_assert_eq(s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_UPDATED), &n),
                 0);
    cr_assert_eq(s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_RETIRED), &n),
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

/* ---- texts in the recipient's language ---- */

/*  The English texts are byte for byte what they were before templates:
    integrations and integration tests grep them. */
Test(notification_map, english_texts_unchanged)
{
    Techbridge__Notification **n = NULL;
    Techbridge__Event *ev =
        s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED);
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_str_eq(n[0]->text,
                     "Your need \"A title\" (req-1) is now PUBLISHED (was SUBMITTED), by "
                     "operator");
    ev->request->kind = TECHBRIDGE__KIND__OFFER;
    ev->reason = (char *)"duplicate of req-0";
    ev->from_status = TECHBRIDGE__STATUS__STATUS_UNSPECIFIED;
    ev->actor = NULL;
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_str_eq(
        n[0]->text,
        "Your offer \"A title\" (req-1) is now PUBLISHED: duplicate of req-0");

    ev = s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EXPIRING);
    ev->request->expires_at = 1772323200000; /* 2026-03-01 */
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_str_eq(n[0]->text, "Your need \"A title\" (req-1) expires at "
                                 "2026-03-01T00:00:00Z; renew it to keep it published");

    Techbridge__Event *m = s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED);
    m->match->offer->contact->phone = (char *)"+86 10 0000 0000";
    m->match->need->contact = NULL;
    cr_assert_eq(s_map(m, &n), 2);
    const char *intro = "Introduction (match m-1, score 0.80): offer \"Offer title\" by "
                        "cn-org, contact Someone <a@cn.example>, tel. +86 10 0000 0000; "
                        "need \"Need title\" by by-org, contact no contact given";
    cr_assert_str_eq(n[0]->text, intro);
    cr_assert_str_eq(n[1]->text, intro);

    m = s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_PROPOSED);
    cr_assert_eq(s_map(m, &n), 1);
    cr_assert_str_eq(n[0]->text, "Match m-1 proposed (score 0.80): offer \"Offer title\" "
                                 "by cn-org and need \"Need title\" by by-org");
    m = s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_DECLINED);
    cr_assert_eq(s_map(m, &n), 1);
    cr_assert_str_eq(n[0]->text,
                     "Match m-1 declined: offer \"Offer title\" and need \"Need title\"");
    m->match->reason = (char *)"not relevant";
    cr_assert_eq(s_map(m, &n), 1);
    cr_assert_str_eq(n[0]->text, "Match m-1 declined: offer \"Offer title\" and need "
                                 "\"Need title\": not relevant");
}

Test(notification_map, russian_and_chinese_owners)
{
    Techbridge__Notification **n = NULL;
    Techbridge__Event *ev =
        s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED);
    ev->reason = (char *)"дубликат";
    ev->request->org->language = (char *)"ru";
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_str_eq(n[0]->text,
                     "Статус вашей заявки «A title» (запрос, req-1) изменён на "
                     "«Опубликована» (прежний статус: «На рассмотрении»), инициатор: "
                     "operator. Причина: дубликат");
    ev->request->org->language = (char *)"zh";
    ev->request->kind = TECHBRIDGE__KIND__OFFER;
    ev->reason = NULL;
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_str_eq(n[0]->text, "您的技术供给“A title”（req-1）状态已变更为“已发布”"
                                 "（原状态：“待审核”），操作人：operator");

    ev = s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EXPIRING);
    ev->request->expires_at = 1772323200000;
    ev->request->org->language = (char *)"zh";
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_str_eq(n[0]->text,
                     "您的技术需求“A title”（req-1）将于 2026-03-01T00:00:00Z "
                     "到期，请及时续期以保持发布状态");
    ev->request->org->language = (char *)"ru";
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_str_eq(n[0]->text,
                     "Срок публикации вашей заявки «A title» (запрос, req-1) истекает "
                     "2026-03-01T00:00:00Z. Продлите заявку, чтобы она оставалась "
                     "опубликованной");
}

/*  The owner's org language first, then the request's, then English; a code
    that is not ours counts as none. */
Test(notification_map, language_fallbacks)
{
    Techbridge__Notification **n = NULL;
    Techbridge__Event *ev =
        s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED);
    ev->request->language = (char *)"zh";
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_not_null(strstr(n[0]->text, "您的"), "%s", n[0]->text);
    ev->request->org->language = (char *)"ru";
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_not_null(strstr(n[0]->text, "Статус"), "%s", n[0]->text);

    const char *not_ours[] = {"", "fr", "RU", "zh-CN", " en", "ru\n"};
    for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++) {
        ev->request->org->language = (char *)not_ours[i];
        ev->request->language = (char *)not_ours[i];
        cr_assert_eq(s_map(ev, &n), 1);
        cr_assert(strncmp(n[0]->text, "Your need", 9) == 0, "[%s]: %s", not_ours[i],
                  n[0]->text);
    }
    ev->request->org->language = NULL;
    ev->request->language = NULL;
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert(strncmp(n[0]->text, "Your need", 9) == 0, "%s", n[0]->text);
}

/*  Each organisation gets the introduction in its own language. */
Test(notification_map, accepted_in_each_recipients_language)
{
    Techbridge__Notification **n = NULL;
    Techbridge__Event *m = s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_ACCEPTED);
    m->match->offer->org->language = (char *)"zh";
    m->match->need->org->language = (char *)"ru";
    m->match->need->contact->phone = (char *)"+375 17 000 00 00";
    cr_assert_eq(s_map(m, &n), 2);
    cr_assert_str_eq(n[0]->recipient, "cn-org");
    cr_assert_str_eq(n[0]->text,
                     "供需对接（匹配 m-1，匹配度 0.80）：技术供给“Offer title”，供给方："
                     "cn-org，联系方式：Someone <a@cn.example>；技术需求“Need title”，"
                     "需求方：by-org，联系方式：Someone <b@by.example>，电话 +375 17 000 "
                     "00 00");
    cr_assert_str_eq(n[1]->recipient, "by-org");
    cr_assert_str_eq(
        n[1]->text,
        "Совпадение m-1 одобрено (оценка 0.80), знакомим стороны. "
        "Предложение «Offer title» — cn-org, контакт: Someone <a@cn.example>. "
        "Запрос «Need title» — by-org, контакт: Someone <b@by.example>, тел. "
        "+375 17 000 00 00");
    /* One side without a language: English for it only. */
    m->match->offer->org->language = NULL;
    cr_assert_eq(s_map(m, &n), 2);
    cr_assert(strncmp(n[0]->text, "Introduction", 12) == 0, "%s", n[0]->text);
    cr_assert(strncmp(n[1]->text, "Совпадение", strlen("Совпадение")) == 0, "%s",
              n[1]->text);
}

Test(notification_map, operators_language)
{
    Techbridge__Notification **n = NULL;
    s_operators = TB_LANG_ZH;
    cr_assert_eq(s_map(s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_PROPOSED), &n),
                 1);
    cr_assert_str_eq(n[0]->text, "新匹配 m-1（匹配度 0.80）：技术供给“Offer title”"
                                 "（cn-org）与技术需求“Need title”（by-org）");
    s_operators = TB_LANG_RU;
    Techbridge__Event *m = s_match_event(TECHBRIDGE__EVENT_TYPE__EVENT_MATCH_DECLINED);
    m->match->reason = (char *)"разные отрасли";
    cr_assert_eq(s_map(m, &n), 1);
    cr_assert_str_eq(n[0]->text, "Совпадение m-1 отклонено: предложение «Offer title» и "
                                 "запрос «Need title». Причина: разные отрасли");
    /* Organisations' texts do not follow the operators' language. */
    cr_assert_eq(
        s_map(s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EXPIRING), &n), 1);
    cr_assert(strncmp(n[0]->text, "Your need", 9) == 0, "%s", n[0]->text);
}

Test(notification_map, belarusian)
{
    Techbridge__Notification **n = NULL;
    Techbridge__Event *ev =
        s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED);
    ev->request->org->language = (char *)"be";
    cr_assert_eq(s_map(ev, &n), 1);
    if (notification_text_loaded(s_text, TB_LANG_BE))
        cr_assert_str_eq(n[0]->text,
                         "Статус вашай заяўкі «A title» (запыт, req-1) зменены на "
                         "«Апублікавана» (папярэдні статус: «На разглядзе»), ініцыятар: "
                         "operator");
    else
        cr_assert(strncmp(n[0]->text, "Статус вашей", strlen("Статус вашей")) == 0, "%s",
                  n[0]->text);
}

/*  Values are data: inserted as they are, never read as formats or templates. */
Test(notification_map, values_verbatim)
{
    Techbridge__Notification **n = NULL;
    Techbridge__Event *ev =
        s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED);
    ev->request->title = (char *)"%s%n%x {kind} {{ }";
    ev->actor = (char *)"%n";
    cr_assert_eq(s_map(ev, &n), 1);
    cr_assert_str_eq(n[0]->text, "Your need \"%s%n%x {kind} {{ }\" (req-1) is now "
                                 "PUBLISHED (was SUBMITTED), by %n");
}

/*  A text over the bound is cut at a character boundary and says so. */
Test(notification_map, bounded)
{
    Techbridge__Notification **n = NULL;
    Techbridge__Event *ev =
        s_request_event(TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED);
    size_t len = 3 * NOTIFICATION_TEXT_MAX;
    char *title = tb_arena_alloc(s_arena, len + 1);
    for (size_t i = 0; i + 2 <= len; i += 2)
        memcpy(title + i, "ж", 2);
    ev->request->title = title;
    ev->reason = title;
    ev->request->org->language = (char *)"ru";
    cr_assert_eq(s_map(ev, &n), 1);
    size_t got = strlen(n[0]->text);
    cr_assert_leq(got, NOTIFICATION_TEXT_MAX);
    cr_assert_geq(got, NOTIFICATION_TEXT_MAX - 8);
    cr_assert(tb_valid_utf8(n[0]->text, got));
    cr_assert_str_eq(n[0]->text + got - 3, "…");
}

/* ---- the template files: the validator of deploy/notifications/ ---- */

TestSuite(notification_text, .init = s_init, .fini = s_fini);

static const tb_lang_t s_langs[] = {TB_LANG_EN, TB_LANG_RU, TB_LANG_BE, TB_LANG_ZH};

/*  Every file loads, and has exactly the keys and, key by key, the placeholders
    of en.txt. */
Test(notification_text, every_language_like_english)
{
    for (size_t i = 0; i < sizeof s_langs / sizeof s_langs[0]; i++) {
        char name[64], err[512] = "";
        snprintf(name, sizeof name, "notifications/%s.txt", tb_lang_code(s_langs[i]));
        size_t len = 0;
        const char *src = tb_embedded_get(name, &len);
        if (s_langs[i] == TB_LANG_BE && !src)
            continue; /* optional: Belarusian organisations then read Russian */
        cr_assert_not_null(src, "%s is not embedded (re-run cmake)", name);
        notification_text_t *t = notification_text_new();
        cr_assert_eq(
            notification_text_load(t, TB_LANG_EN, "notifications/en.txt",
                                   tb_embedded_get("notifications/en.txt", NULL),
                                   strlen(tb_embedded_get("notifications/en.txt", NULL)),
                                   err, sizeof err),
            0, "%s", err);
        cr_assert_eq(
            notification_text_load(t, s_langs[i], name, src, len, err, sizeof err), 0,
            "%s", err);
        cr_assert_eq(
            notification_text_compare(t, s_langs[i], TB_LANG_EN, err, sizeof err), 0,
            "%s", err);
        notification_text_destroy(&t);
    }
    cr_assert(notification_text_loaded(s_text, TB_LANG_RU));
    cr_assert(notification_text_loaded(s_text, TB_LANG_ZH));
}

/*  Every status of the proto has its words (a new status fails here first). */
Test(notification_text, every_status_has_words)
{
    const ProtobufCEnumDescriptor *d = &techbridge__status__descriptor;
    for (unsigned i = 0; i < d->n_values; i++) {
        if (d->values[i].value == TECHBRIDGE__STATUS__STATUS_UNSPECIFIED)
            continue;
        char key[128];
        snprintf(key, sizeof key, "status.%s", d->values[i].name);
        cr_assert(notification_text_has(key), "no key %s in notification_text.c", key);
    }
}

Test(notification_text, resolve)
{
    notification_text_t *t = notification_text_new();
    char err[512] = "";
    const char *en = tb_embedded_get("notifications/en.txt", NULL);
    const char *ru = tb_embedded_get("notifications/ru.txt", NULL);
    cr_assert_eq(
        notification_text_load(t, TB_LANG_EN, "en.txt", en, strlen(en), err, sizeof err),
        0, "%s", err);
    cr_assert_eq(
        notification_text_load(t, TB_LANG_RU, "ru.txt", ru, strlen(ru), err, sizeof err),
        0, "%s", err);
    cr_assert_eq(notification_text_resolve(t, TB_LANG_BE), TB_LANG_RU);
    cr_assert_eq(notification_text_resolve(t, TB_LANG_ZH), TB_LANG_EN);
    cr_assert_eq(notification_text_resolve(t, TB_LANG_UNKNOWN), TB_LANG_EN);
    cr_assert_eq(notification_text_resolve(t, TB_LANG_RU), TB_LANG_RU);
    notification_text_destroy(&t);
}

/*  en.txt with `from` replaced by `to` (first occurrence), in the arena. */
static char *s_en_with(const char *from, const char *to)
{
    const char *en = tb_embedded_get("notifications/en.txt", NULL);
    const char *at = strstr(en, from);
    cr_assert_not_null(at, "en.txt has no %s", from);
    return tb_arena_printf(s_arena, "%.*s%s%s", (int)(at - en), en, to,
                           at + strlen(from));
}

/*  Loads `src` as Russian into s_text; returns the error. */
static const char *s_load_broken(const char *src)
{
    static char err[512];
    err[0] = '\0';
    cr_assert_eq(notification_text_load(s_text, TB_LANG_RU, "broken.txt", src,
                                        strlen(src), err, sizeof err),
                 -1, "loaded: %s", src);
    return err;
}

Test(notification_text, broken_files_are_rejected_at_load)
{
    static const struct {
        const char *from, *to, *says;
    } cases[] = {
        {"is now {status}", "is now {statuss}", "placeholder {statuss} is unknown"},
        {"is now {status}", "is now {reason}", "placeholder {reason} is not available"},
        {"is now {status}", "is now {status", "unbalanced \"{\""},
        {"is now {status}", "is now status}", "unbalanced \"}\""},
        {"is now {status}", "is now { status}", "unbalanced \"{\""},
        {"is now {status}", "is now {}", "unbalanced \"{\""},
        {"kind.need = need\n", "", "missing key kind.need"},
        {"kind.need = need\n", "kind.need = need\nkind.needs = needs\n",
         "unknown key \"kind.needs\""},
        {"kind.need = need\n", "kind.need = need\nkind.need = want\n",
         "kind.need defined again"},
        {"kind.need = need\n", "kind.need need\n", "expected KEY = template"},
        {"kind.need = need\n", "kind.need =\n", "kind.need: empty template"},
        {"= \" (was {from_status})\"\n", "= \" (was {from_status})\n", "must end with"},
        {"kind.need = need\n", "kind.need = ne\xff\n", "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *err = s_load_broken(s_en_with(cases[i].from, cases[i].to));
        cr_assert_not_null(strstr(err, cases[i].says), "case %zu: %s", i, err);
        cr_assert_not_null(strstr(err, "broken.txt"), "case %zu: %s", i, err);
    }
    /* The line is named. */
    const char *err = s_load_broken(s_en_with("is now {status}", "is now {x}"));
    const char *en = tb_embedded_get("notifications/en.txt", NULL);
    int line = 1;
    for (const char *p = en; p < strstr(en, "is now {status}"); p++)
        line += *p == '\n';
    char where[64];
    snprintf(where, sizeof where, "broken.txt:%d:", line);
    cr_assert_not_null(strstr(err, where), "%s (expected %s)", err, where);
    /* A failed load leaves what was loaded. */
    cr_assert(notification_text_loaded(s_text, TB_LANG_RU));
    char *text = NULL;
    cr_assert_eq(
        notification_text_add(s_text, s_arena, TB_LANG_RU, "kind.need", NULL, &text), 0);
    cr_assert_str_eq(text, "запрос");
}

/*  A translation may reorder placeholders, but not drop or add one. */
Test(notification_text, translation_must_keep_placeholders)
{
    char err[512] = "";
    char *reordered = s_en_with("Your {kind} \"{title}\" ({id}) is now {status}",
                                "{status}: {title} ({kind} {id})");
    cr_assert_eq(notification_text_load(s_text, TB_LANG_RU, "ru-test.txt", reordered,
                                        strlen(reordered), err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(
        notification_text_compare(s_text, TB_LANG_RU, TB_LANG_EN, err, sizeof err), 0,
        "%s", err);
    char *dropped = s_en_with("Your {kind} \"{title}\" ({id}) is now {status}",
                              "Your {kind} \"{title}\" is now {status}");
    cr_assert_eq(notification_text_load(s_text, TB_LANG_RU, "ru-test.txt", dropped,
                                        strlen(dropped), err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(
        notification_text_compare(s_text, TB_LANG_RU, TB_LANG_EN, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "status_changed"), "%s", err);
    cr_assert_not_null(strstr(err, "missing: {id}"), "%s", err);
}

Test(notification_text, literal_braces_and_quotes)
{
    char err[512] = "";
    char *src = s_en_with("kind.need = need\n", "kind.need = {{need}} \"x\"\n");
    cr_assert_eq(notification_text_load(s_text, TB_LANG_ZH, "braces.txt", src,
                                        strlen(src), err, sizeof err),
                 0, "%s", err);
    char *text = NULL;
    cr_assert_eq(
        notification_text_add(s_text, s_arena, TB_LANG_ZH, "kind.need", NULL, &text), 0);
    cr_assert_str_eq(text, "{need} \"x\"");
    /* The quotes of " (was {from_status})" keep its leading space. */
    const char *v[NOTIFICATION_P_COUNT] = {[NOTIFICATION_P_FROM_STATUS] = "X"};
    text = NULL;
    cr_assert_eq(notification_text_add(s_text, s_arena, TB_LANG_EN, "status_changed.was",
                                       v, &text),
                 0);
    cr_assert_str_eq(text, " (was X)");
}
