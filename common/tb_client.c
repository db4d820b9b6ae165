/*  tb_client: API calls over a DEALER socket, replies matched by correlation id. */
#include "tb_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "tb_auth.h"
#include "tb_util.h"
#include "tb_wire.h"

struct tb_client_t {
    void *sock;
    size_t max_reply;
};

int tb_client_keys_load(tb_client_keys_t *keys, const char *key_file,
                        const char *server_key_arg, char *why, size_t why_cap)
{
    memset(keys, 0, sizeof *keys);
    bool have_key = key_file && *key_file;
    bool have_server = server_key_arg && *server_key_arg;
    if (!have_key && !have_server)
        return 0;
    if (!have_key || !have_server) {
        snprintf(why, why_cap, "%s",
                 have_key ? "--key-file needs --server-key (the services' public key)"
                          : "--server-key needs --key-file (our own key pair)");
        return -1;
    }
    if (strlen(key_file) >= sizeof keys->key_file) {
        snprintf(why, why_cap, "key file path too long");
        return -1;
    }
    if (tb_auth_z85_valid(server_key_arg))
        snprintf(keys->server_key, sizeof keys->server_key, "%s", server_key_arg);
    else if (tb_auth_public_load(server_key_arg, keys->server_key) != 0) {
        snprintf(why, why_cap,
                 "--server-key is neither 40 characters of Z85 nor a "
                 "readable public key file");
        return -1;
    }
    char pub[41], secret[41];
    int rc = tb_auth_keypair_load(key_file, pub, secret);
    memset(secret, 0, sizeof secret);
    if (rc != 0) {
        snprintf(why, why_cap, "--key-file is not a valid key pair file");
        memset(keys, 0, sizeof *keys);
        return -1;
    }
    snprintf(keys->key_file, sizeof keys->key_file, "%s", key_file);
    return 0;
}

int tb_client_secure(const tb_client_keys_t *keys, void *sock)
{
    if (!keys || !keys->key_file[0])
        return 0;
    return tb_auth_client_setup(sock, keys->key_file, keys->server_key);
}

tb_client_t *tb_client_new(void *zmq_ctx, const char *endpoint,
                           const tb_client_keys_t *keys, size_t max_reply)
{
    tb_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max_reply = max_reply;
    self->sock = zmq_socket(zmq_ctx, ZMQ_DEALER);
    /* The transport ceiling is the reply limit itself: unlike a service, a
       client has nobody to tell that a reply was too large. */
    if (!self->sock || tb_client_secure(keys, self->sock) != 0 ||
        tb_wire_socket_setup(self->sock, max_reply / 4) != 0 ||
        zmq_connect(self->sock, endpoint) != 0) {
        int err = errno;
        tb_client_destroy(&self);
        errno = err;
        return NULL;
    }
    return self;
}

void tb_client_destroy(tb_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_client_t *self = *self_p;
    if (self->sock)
        zmq_close(self->sock);
    free(self);
    *self_p = NULL;
}

int tb_client_call(tb_client_t *self, const Techbridge__ApiRequest *req,
                   tb_arena_t *arena, int timeout_ms, Techbridge__ApiReply **reply)
{
    *reply = NULL;
    const char *cid = req->correlation_id ? req->correlation_id : "";
    if (tb_wire_send(self->sock, &req->base, true) != 0)
        return -1;
    int64_t deadline = tb_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int64_t left_ms = (deadline - tb_mono_us()) / 1000;
        if (left_ms < 0)
            left_ms = 0;
        Techbridge__ApiReply *r = (Techbridge__ApiReply *)tb_wire_recv(
            self->sock, arena, &techbridge__api_reply__descriptor, self->max_reply, true,
            (int)left_ms);
        if (!r) {
            /* A bad frame from an earlier call, or a signal, must not fail
               this one: read on while time is left. */
            if ((errno == EPROTO || errno == EINTR) && left_ms > 0)
                continue;
            return -1;
        }
        if (r->correlation_id && strcmp(r->correlation_id, cid) == 0) {
            *reply = r;
            return 0;
        }
        /* The late reply of a call that timed out: not ours, drop it. */
    }
}
