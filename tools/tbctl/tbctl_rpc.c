/*  tbctl_rpc: one API exchange per call, on a fresh REQ socket (LINGER 0, a
    receive deadline), so that a dead service costs one timeout and nothing else. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "tb_auth.h"
#include "tb_json.h"
#include "tb_util.h"
#include "tb_wire.h"
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
    if (!t->key_file && !t->server_key_arg)
        return TBCTL_EXIT_OK;
    if (!t->key_file)
        return tbctl_usage_error("--server-key needs --key-file (our own key pair)",
                                 NULL);
    if (!t->server_key_arg)
        return tbctl_usage_error(
            "--key-file needs --server-key (the services' public key)", NULL);
    if (tb_auth_z85_valid(t->server_key_arg))
        snprintf(t->server_key, sizeof t->server_key, "%s", t->server_key_arg);
    else if (tb_auth_public_load(t->server_key_arg, t->server_key) != 0)
        return tbctl_usage_error("--server-key is neither 40 characters of Z85 nor a "
                                 "readable public key file",
                                 t->server_key_arg);
    char pub[41], secret[41];
    int rc = tb_auth_keypair_load(t->key_file, pub, secret);
    memset(secret, 0, sizeof secret);
    if (rc != 0)
        return tbctl_usage_error("--key-file is not a valid key pair file", t->key_file);
    return TBCTL_EXIT_OK;
}

int tbctl_socket_secure(const tbctl_t *t, void *sock)
{
    if (!t->key_file)
        return 0;
    if (tb_auth_client_setup(sock, t->key_file, t->server_key) != 0) {
        fprintf(stderr, "tbctl: INTERNAL: cannot set up CURVE with %s\n", t->key_file);
        return -1;
    }
    return 0;
}

/*  Sends and receives on a connected REQ socket. Returns the reply or NULL. */
static Techbridge__ApiReply *s_exchange(void *sock, const Techbridge__ApiRequest *req,
                                        tb_arena_t *arena, int timeout_ms)
{
    if (tb_wire_send(sock, &req->base, false) != 0)
        return NULL;
    return (Techbridge__ApiReply *)tb_wire_recv(sock, arena,
                                                &techbridge__api_reply__descriptor,
                                                TBCTL_MAX_REPLY, false, timeout_ms);
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

    void *sock = zmq_socket(t->zmq_ctx, ZMQ_REQ);
    if (!sock) {
        fprintf(stderr, "tbctl: INTERNAL: zmq_socket: %s\n", zmq_strerror(errno));
        return TBCTL_EXIT_UNAVAILABLE;
    }
    int err = 0;
    if (tbctl_socket_secure(t, sock) != 0) {
        zmq_close(sock);
        return TBCTL_EXIT_UNAVAILABLE;
    }
    if (tb_wire_socket_setup(sock, TBCTL_MAX_REPLY / 4) != 0 ||
        zmq_connect(sock, t->endpoint[svc]) != 0) {
        err = errno;
        if (!quiet)
            fprintf(stderr, "tbctl: UNAVAILABLE: cannot connect to %s at %s: %s\n",
                    tbctl_svc_name(svc), t->endpoint[svc], zmq_strerror(err));
        zmq_close(sock);
        return TBCTL_EXIT_UNAVAILABLE;
    }
    *reply = s_exchange(sock, req, arena, t->timeout_ms);
    err = errno;
    zmq_close(sock);
    if (!*reply) {
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
