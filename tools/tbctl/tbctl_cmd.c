/*  tbctl_cmd: the request commands (intake's API). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "tb_fsm.h"
#include "tb_json.h"
#include "tbctl.h"

#define S_ARENA_CAP (64u * 1024 * 1024)

/*  Prints the reply (JSON or human) after a successful call. */
static int s_output(const tbctl_t *t, const Techbridge__ApiReply *reply,
                    void (*human)(const Techbridge__ApiReply *))
{
    if (t->json)
        return tbctl_print_json_reply(reply);
    human(reply);
    return TBCTL_EXIT_OK;
}

static void s_human_result(const Techbridge__ApiReply *r)
{
    if (r->result_case == TECHBRIDGE__API_REPLY__RESULT_REQUEST)
        tbctl_print_request_result(r->request);
}

static void s_human_page(const Techbridge__ApiReply *r)
{
    if (r->result_case == TECHBRIDGE__API_REPLY__RESULT_REQUESTS)
        tbctl_print_page(r->requests);
}

static void s_human_history(const Techbridge__ApiReply *r)
{
    if (r->result_case == TECHBRIDGE__API_REPLY__RESULT_HISTORY)
        tbctl_print_history(r->history);
}

/*  Runs one intake call and prints its result. */
static int s_run(tbctl_t *t, tb_arena_t *arena, Techbridge__ApiRequest *req,
                 void (*human)(const Techbridge__ApiReply *))
{
    Techbridge__ApiReply *reply = NULL;
    int rc = tbctl_call(t, TBCTL_INTAKE, req, arena, &reply, false);
    if (rc == TBCTL_EXIT_OK)
        rc = s_output(t, reply, human);
    return rc;
}

/*  Reads FILE (or stdin for "-") as a JSON object and converts it. Problems are
    reported on stderr like violations. Returns the request or NULL. */
static Techbridge__Request *s_read_request(tb_arena_t *arena, const char *path,
                                           char ***fields, size_t *nfields)
{
    json_error_t jerr;
    json_t *doc = strcmp(path, "-") == 0
                      ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
                      : json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc && jerr.line < 0) {
        fprintf(stderr, "tbctl: INVALID_ARGUMENT: cannot read %s: %s\n", path, jerr.text);
        return NULL;
    }
    if (!doc) {
        fprintf(stderr, "tbctl: INVALID_ARGUMENT: %s is not valid JSON\n", path);
        fprintf(stderr, "  line %d, column %d: %s\n", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        fprintf(stderr, "tbctl: INVALID_ARGUMENT: %s: a request must be a JSON object\n",
                path);
        json_decref(doc);
        return NULL;
    }
    static tb_violations_t v;
    memset(&v, 0, sizeof v);
    Techbridge__Request *req = tb_json_to_request(arena, doc, &v, fields, nfields);
    json_decref(doc);
    if (!req || v.count > 0) {
        fprintf(stderr, "tbctl: INVALID_ARGUMENT: %s: %zu problem(s) in the request\n",
                path, v.count + v.dropped);
        for (size_t i = 0; i < v.count; i++)
            fprintf(stderr, "  %s: %s\n", v.items[i].field, v.items[i].reason);
        return NULL;
    }
    return req;
}

static int s_need_args(const tbctl_t *t, int n, const char *usage)
{
    if (t->npos != n)
        return tbctl_usage_error(usage,
                                 t->npos < n ? "missing argument" : "too many arguments");
    return 0;
}

/*  Rejects command options that this command does not take. */
static int s_allow_opts(const tbctl_t *t, const char *const *allowed)
{
    for (int i = 0; i < t->nopt; i++) {
        bool ok = false;
        for (int k = 0; allowed && allowed[k]; k++)
            ok = ok || strcmp(allowed[k], t->opt_name[i]) == 0;
        if (!ok) {
            char flag[80];
            snprintf(flag, sizeof flag, "--%s", t->opt_name[i]);
            return tbctl_usage_error("option not valid for this command", flag);
        }
    }
    return 0;
}

int tbctl_cmd_submit(tbctl_t *t)
{
    if (s_need_args(t, 1, "submit FILE|-") || s_allow_opts(t, NULL))
        return TBCTL_EXIT_USAGE;
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    int rc = TBCTL_EXIT_API;
    Techbridge__Request *r = s_read_request(arena, t->pos[0], NULL, NULL);
    if (r) {
        Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
        sub.request = r;
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
        req.submit = &sub;
        rc = s_run(t, arena, &req, s_human_result);
    }
    tb_arena_destroy(&arena);
    return rc;
}

int tbctl_cmd_get(tbctl_t *t)
{
    if (s_need_args(t, 1, "get ID") || s_allow_opts(t, NULL))
        return TBCTL_EXIT_USAGE;
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__GetRequest get = TECHBRIDGE__GET_REQUEST__INIT;
    get.id = (char *)t->pos[0];
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
    req.get = &get;
    int rc = s_run(t, arena, &req, s_human_result);
    tb_arena_destroy(&arena);
    return rc;
}

int tbctl_cmd_history(tbctl_t *t)
{
    if (s_need_args(t, 1, "history ID") || s_allow_opts(t, NULL))
        return TBCTL_EXIT_USAGE;
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__HistoryRequest h = TECHBRIDGE__HISTORY_REQUEST__INIT;
    h.id = (char *)t->pos[0];
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HISTORY;
    req.history = &h;
    int rc = s_run(t, arena, &req, s_human_history);
    tb_arena_destroy(&arena);
    return rc;
}

/*  Parses an enum option ("offer" or "OFFER"); 0 when absent. Returns 0 or -1. */
static int s_enum_opt(const tbctl_t *t, const char *name,
                      const ProtobufCEnumDescriptor *desc, int *out)
{
    const char *v = tbctl_opt(t, name);
    if (!v)
        return 0;
    char upper[64];
    size_t i = 0;
    for (; v[i] && i + 1 < sizeof upper; i++)
        upper[i] = (char)toupper((unsigned char)v[i]);
    upper[i] = '\0';
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value_by_name(desc, upper);
    if (!ev || ev->value == 0) {
        char flag[80];
        snprintf(flag, sizeof flag, "unknown value for --%s", name);
        tbctl_usage_error(flag, v);
        return -1;
    }
    *out = ev->value;
    return 0;
}

static int s_list_body(const tbctl_t *t, Techbridge__ListRequests *l)
{
    int kind = 0, status = 0;
    int64_t limit = 0;
    if (s_enum_opt(t, "kind", &techbridge__kind__descriptor, &kind) ||
        s_enum_opt(t, "status", &techbridge__status__descriptor, &status) ||
        tbctl_opt_int(t, "limit", 1, 100, &limit))
        return -1;
    l->kind = (Techbridge__Kind)kind;
    l->status = (Techbridge__Status)status;
    l->limit = (int32_t)limit;
    const char *s;
    if ((s = tbctl_opt(t, "sector")))
        l->sector = (char *)s;
    if ((s = tbctl_opt(t, "org")))
        l->org_id = (char *)s;
    if ((s = tbctl_opt(t, "text")))
        l->text = (char *)s;
    if ((s = tbctl_opt(t, "page-token")))
        l->page_token = (char *)s;
    return 0;
}

int tbctl_cmd_list(tbctl_t *t)
{
    static const char *const allowed[] = {"kind", "status", "sector",     "org",
                                          "text", "limit",  "page-token", NULL};
    if (s_need_args(t, 0, "list [filters]") || s_allow_opts(t, allowed))
        return TBCTL_EXIT_USAGE;
    Techbridge__ListRequests l = TECHBRIDGE__LIST_REQUESTS__INIT;
    if (s_list_body(t, &l) != 0)
        return TBCTL_EXIT_USAGE;
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST;
    req.list = &l;
    int rc = s_run(t, arena, &req, s_human_page);
    tb_arena_destroy(&arena);
    return rc;
}

/*  The version to send: --version, or the current one from a `get`. */
static int s_version(tbctl_t *t, tb_arena_t *arena, const char *id, int64_t *version)
{
    *version = 0;
    if (tbctl_opt_int(t, "version", 1, INT64_MAX, version) != 0)
        return TBCTL_EXIT_USAGE;
    if (*version > 0)
        return TBCTL_EXIT_OK;
    Techbridge__GetRequest get = TECHBRIDGE__GET_REQUEST__INIT;
    get.id = (char *)id;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
    req.get = &get;
    Techbridge__ApiReply *reply = NULL;
    int rc = tbctl_call(t, TBCTL_INTAKE, &req, arena, &reply, false);
    if (rc != TBCTL_EXIT_OK)
        return rc;
    if (reply->result_case != TECHBRIDGE__API_REPLY__RESULT_REQUEST ||
        !reply->request->request) {
        fputs("tbctl: INTERNAL: get answered without a request\n", stderr);
        return TBCTL_EXIT_API;
    }
    *version = reply->request->request->version;
    return TBCTL_EXIT_OK;
}

int tbctl_cmd_transition(tbctl_t *t)
{
    static const char *const allowed[] = {"reason", "version", NULL};
    if (s_need_args(t, 1, "ACTION ID [--reason R] [--version V]") ||
        s_allow_opts(t, allowed))
        return TBCTL_EXIT_USAGE;
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__TransitionRequest tr = TECHBRIDGE__TRANSITION_REQUEST__INIT;
    int rc = s_version(t, arena, t->pos[0], &tr.version);
    if (rc == TBCTL_EXIT_OK) {
        tr.id = (char *)t->pos[0];
        tr.action = tb_action_parse(t->cmd);
        if (tbctl_opt(t, "reason"))
            tr.reason = (char *)tbctl_opt(t, "reason");
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_TRANSITION;
        req.transition = &tr;
        rc = s_run(t, arena, &req, s_human_result);
    }
    tb_arena_destroy(&arena);
    return rc;
}

int tbctl_cmd_edit(tbctl_t *t)
{
    static const char *const allowed[] = {"version", NULL};
    if (s_need_args(t, 2, "edit ID FILE|- [--version V]") || s_allow_opts(t, allowed))
        return TBCTL_EXIT_USAGE;
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__EditRequest ed = TECHBRIDGE__EDIT_REQUEST__INIT;
    char **fields = NULL;
    size_t nfields = 0;
    int rc = TBCTL_EXIT_API;
    ed.changes = s_read_request(arena, t->pos[1], &fields, &nfields);
    if (ed.changes && nfields == 0) {
        fprintf(stderr, "tbctl: INVALID_ARGUMENT: %s names no field to change\n",
                t->pos[1]);
        ed.changes = NULL;
    }
    if (ed.changes)
        rc = s_version(t, arena, t->pos[0], &ed.version);
    if (ed.changes && rc == TBCTL_EXIT_OK) {
        ed.id = (char *)t->pos[0];
        ed.fields = fields;
        ed.n_fields = nfields;
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_EDIT;
        req.edit = &ed;
        rc = s_run(t, arena, &req, s_human_result);
    }
    tb_arena_destroy(&arena);
    return rc;
}
