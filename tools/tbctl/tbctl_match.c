/*  tbctl_match: matches (matching's API), notifications and health. */
#include <stdio.h>
#include <string.h>

#include "tb_json.h"
#include "tbctl.h"

#define S_ARENA_CAP (64u * 1024 * 1024)

static int s_check(const tbctl_t *t, int npos, const char *usage,
                   const char *const *allowed)
{
    if (t->npos != npos)
        return tbctl_usage_error(usage, t->npos < npos ? "missing argument"
                                                       : "too many arguments");
    for (int i = 0; i < t->nopt; i++) {
        bool ok = false;
        for (int k = 0; allowed && allowed[k]; k++)
            ok = ok || strcmp(allowed[k], t->opt_name[i]) == 0;
        if (!ok)
            return tbctl_usage_error("option not valid for this command", t->opt_name[i]);
    }
    return 0;
}

/*  One call to `svc`, printed as JSON or with `human`. */
static int s_run(tbctl_t *t, tbctl_svc_t svc, Techbridge__ApiRequest *req,
                 void (*human)(const Techbridge__ApiReply *))
{
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__ApiReply *reply = NULL;
    int rc = tbctl_call(t, svc, req, arena, &reply, false);
    if (rc == TBCTL_EXIT_OK && t->json)
        rc = tbctl_print_json_reply(reply);
    else if (rc == TBCTL_EXIT_OK)
        human(reply);
    tb_arena_destroy(&arena);
    return rc;
}

static void s_human_matches(const Techbridge__ApiReply *r)
{
    if (r->result_case == TECHBRIDGE__API_REPLY__RESULT_MATCHES)
        tbctl_print_matches(r->matches);
}

static void s_human_match(const Techbridge__ApiReply *r)
{
    if (r->result_case == TECHBRIDGE__API_REPLY__RESULT_MATCH)
        tbctl_print_match(r->match);
}

static void s_human_notifications(const Techbridge__ApiReply *r)
{
    if (r->result_case != TECHBRIDGE__API_REPLY__RESULT_NOTIFICATIONS)
        return;
    for (size_t i = 0; i < r->notifications->n_notifications; i++)
        tbctl_print_notification(r->notifications->notifications[i]);
    printf("(%zu notification(s); last seq %lld)\n", r->notifications->n_notifications,
           (long long)r->notifications->last_seq);
}

static void s_human_ack(const Techbridge__ApiReply *r)
{
    if (r->result_case == TECHBRIDGE__API_REPLY__RESULT_ACK)
        tbctl_print_ack(r->ack);
}

int tbctl_cmd_matches(tbctl_t *t)
{
    static const char *const allowed[] = {"limit", NULL};
    if (s_check(t, 1, "matches ID [--limit N]", allowed))
        return TBCTL_EXIT_USAGE;
    int64_t limit = 0;
    if (tbctl_opt_int(t, "limit", 1, 100, &limit) != 0)
        return TBCTL_EXIT_USAGE;
    Techbridge__ListMatches lm = TECHBRIDGE__LIST_MATCHES__INIT;
    lm.request_id = (char *)t->pos[0];
    lm.limit = (int32_t)limit;
    lm.lang = (char *)t->lang;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_MATCHES;
    req.list_matches = &lm;
    return s_run(t, TBCTL_MATCHING, &req, s_human_matches);
}

int tbctl_cmd_decide(tbctl_t *t)
{
    static const char *const allowed[] = {"reason", "version", NULL};
    if (s_check(t, 1, "accept|decline|close MATCH_ID [--reason R] [--version V]",
                allowed))
        return TBCTL_EXIT_USAGE;
    Techbridge__DecideMatch dm = TECHBRIDGE__DECIDE_MATCH__INIT;
    if (tbctl_opt_int(t, "version", 1, INT64_MAX, &dm.version) != 0)
        return TBCTL_EXIT_USAGE;
    dm.id = (char *)t->pos[0];
    dm.action = strcmp(t->cmd, "accept") == 0    ? TECHBRIDGE__MATCH_ACTION__ACCEPT
                : strcmp(t->cmd, "decline") == 0 ? TECHBRIDGE__MATCH_ACTION__DECLINE
                                                 : TECHBRIDGE__MATCH_ACTION__CLOSE;
    if (tbctl_opt(t, "reason"))
        dm.reason = (char *)tbctl_opt(t, "reason");
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_DECIDE_MATCH;
    req.decide_match = &dm;
    return s_run(t, TBCTL_MATCHING, &req, s_human_match);
}

int tbctl_cmd_notifications(tbctl_t *t)
{
    static const char *const allowed[] = {"after", "limit", NULL};
    if (s_check(t, 1, "notifications RECIPIENT [--after SEQ] [--limit N]", allowed))
        return TBCTL_EXIT_USAGE;
    Techbridge__ListNotifications ln = TECHBRIDGE__LIST_NOTIFICATIONS__INIT;
    int64_t limit = 0;
    if (tbctl_opt_int(t, "after", 0, INT64_MAX, &ln.after) != 0 ||
        tbctl_opt_int(t, "limit", 1, 1000, &limit) != 0)
        return TBCTL_EXIT_USAGE;
    ln.recipient = (char *)t->pos[0];
    ln.limit = (int32_t)limit;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
    req.list_notifications = &ln;
    return s_run(t, TBCTL_NOTIFICATION, &req, s_human_notifications);
}

int tbctl_cmd_ack(tbctl_t *t)
{
    if (s_check(t, 2, "ack RECIPIENT SEQ", NULL))
        return TBCTL_EXIT_USAGE;
    Techbridge__AckNotifications ack = TECHBRIDGE__ACK_NOTIFICATIONS__INIT;
    if (tbctl_parse_int("SEQ", t->pos[1], 0, INT64_MAX, &ack.upto) != 0)
        return TBCTL_EXIT_USAGE;
    ack.recipient = (char *)t->pos[0];
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS;
    req.ack_notifications = &ack;
    return s_run(t, TBCTL_NOTIFICATION, &req, s_human_ack);
}

/*  Asks one service for its health. Returns the JSON form of the answer (with
    "up") for --json, after printing the human form otherwise. *ok is false when
    the service is down, answered with an error or has no database. */
static json_t *s_health_one(tbctl_t *t, tbctl_svc_t svc, bool *ok)
{
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req.health = &h;
    Techbridge__ApiReply *reply = NULL;
    int rc = tbctl_call(t, svc, &req, arena, &reply, true);
    bool up =
        rc == TBCTL_EXIT_OK && reply->result_case == TECHBRIDGE__API_REPLY__RESULT_HEALTH;
    const Techbridge__HealthResult *hr = up ? reply->health : NULL;
    *ok = up && hr->database_ok;
    json_t *doc = up ? tb_json_from_reply(reply) : json_object();
    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = json_object();
    }
    json_object_set_new(doc, "up", json_boolean(up));
    json_object_set_new(doc, "endpoint", json_string(t->endpoint[svc]));
    if (rc == TBCTL_EXIT_API && reply && reply->error)
        json_object_set_new(doc, "error", tb_json_from_error(reply->error));
    if (!t->json)
        tbctl_print_health(tbctl_svc_name(svc), t->endpoint[svc], hr);
    tb_arena_destroy(&arena);
    return doc;
}

int tbctl_cmd_health(tbctl_t *t)
{
    if (s_check(t, 0, "health", NULL))
        return TBCTL_EXIT_USAGE;
    json_t *all = json_object();
    bool all_ok = true;
    for (int s = TBCTL_INTAKE; s <= TBCTL_NOTIFICATION; s++) {
        bool ok = false;
        json_object_set_new(all, tbctl_svc_name((tbctl_svc_t)s),
                            s_health_one(t, (tbctl_svc_t)s, &ok));
        all_ok = all_ok && ok;
    }
    if (t->json) {
        json_dumpf(all, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
    }
    json_decref(all);
    return all_ok ? TBCTL_EXIT_OK : TBCTL_EXIT_UNAVAILABLE;
}
