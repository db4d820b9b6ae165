/*  tbctl_rpc: one API exchange per call through tb_client (common/, shared with
    tb-gateway), on a fresh connection with a receive deadline. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "tb_json.h"
#include "tb_util.h"
#include "tbctl.h"

static const char *const s_svc_names[] = {"intake", "matching", "notification"};

const char *tbctl_svc_name(tbctl_svc_t svc)
{
    return s_svc_names[svc];
}

void tbctl_print_error(const Techbridge__Error *error)
{
    const char *code = tbctl_enum_name(&techbridge__code__descriptor, error->code);
    fprintf(stderr, "tbctl: %s: %s\n", code, error->message ? error->message : "");
    for (size_t i = 0; i < error->n_violations; i++) {
        const Techbridge__Violation *v = error->violations[i];
        fprintf(stderr, "  %s: %s\n", v->field, v->reason);
    }
}

int tbctl_print_json_reply(const Techbridge__ApiReply *reply)
{
    json_t *doc = tb_json_from_reply(reply);
    if (!doc) {
        fputs("tbctl: INTERNAL: cannot render the reply as JSON\n", stderr);
        return TBCTL_EXIT_API;
    }
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', stdout);
    json_decref(doc);
    return TBCTL_EXIT_OK;
}

int tbctl_security_init(tbctl_t *t)
{
    char why[160];
    if (tb_client_keys_load(&t->keys, t->key_file, t->server_key_arg, why, sizeof why) !=
        0)
        return tbctl_usage_error(why, t->key_file ? t->key_file : t->server_key_arg);
    return TBCTL_EXIT_OK;
}

int tbctl_socket_secure(const tbctl_t *t, void *sock)
{
    if (tb_client_secure(&t->keys, sock) != 0) {
        fprintf(stderr, "tbctl: INTERNAL: cannot set up CURVE with %s\n", t->key_file);
        return -1;
    }
    return 0;
}

static void s_report_unavailable(const tbctl_t *t, tbctl_svc_t svc, int err)
{
    const char *why = err == EPROTO     ? "bad reply"
                      : err == EMSGSIZE ? "reply too large"
                                        : "no reply";
    fprintf(stderr, "tbctl: UNAVAILABLE: %s from %s at %s within %d ms\n", why,
            tbctl_svc_name(svc), t->endpoint[svc], t->timeout_ms);
}

int tbctl_call(const tbctl_t *t, tbctl_svc_t svc, Techbridge__ApiRequest *req,
               tb_arena_t *arena, Techbridge__ApiReply **reply, bool quiet)
{
    char cid[37];
    tb_uuid(cid);
    req->correlation_id = tb_arena_strdup(arena, cid);
    req->actor = (char *)t->actor;
    *reply = NULL;

    /* A fresh connection per call, so that a dead service costs one timeout and
       nothing else (tbctl makes few calls). */
    tb_client_t *client =
        tb_client_new(t->zmq_ctx, t->endpoint[svc], &t->keys, TBCTL_MAX_REPLY);
    if (!client) {
        if (!quiet)
            fprintf(stderr, "tbctl: UNAVAILABLE: cannot connect to %s at %s: %s\n",
                    tbctl_svc_name(svc), t->endpoint[svc], zmq_strerror(errno));
        return TBCTL_EXIT_UNAVAILABLE;
    }
    int rc = tb_client_call(client, req, arena, t->timeout_ms, reply);
    int err = errno;
    tb_client_destroy(&client);
    if (rc != 0) {
        if (!quiet)
            s_report_unavailable(t, svc, err);
        return TBCTL_EXIT_UNAVAILABLE;
    }
    if ((*reply)->error) {
        if (!quiet)
            tbctl_print_error((*reply)->error);
        return TBCTL_EXIT_API;
    }
    return TBCTL_EXIT_OK;
}
