/*  tb_client: API calls over a DEALER socket, one at a time. */
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
    void *zmq_ctx;
    void *sock;
    char *endpoint;
    tb_client_keys_t keys;
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

/*  A fresh socket to the endpoint. Returns 0 or -1 (errno set). */
static int s_open(tb_client_t *self)
{
    self->sock = zmq_socket(self->zmq_ctx, ZMQ_DEALER);
    /* The transport ceiling is the reply limit itself: unlike a service, a
       client has nobody to tell that a reply was too large. */
    if (!self->sock || tb_client_secure(&self->keys, self->sock) != 0 ||
        tb_wire_socket_setup(self->sock, self->max_reply / 4) != 0 ||
        zmq_connect(self->sock, self->endpoint) != 0) {
        int err = errno;
        if (self->sock)
            zmq_close(self->sock);
        self->sock = NULL;
        errno = err;
        return -1;
    }
    return 0;
}

tb_client_t *tb_client_new(void *zmq_ctx, const char *endpoint,
                           const tb_client_keys_t *keys, size_t max_reply)
{
    tb_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->zmq_ctx = zmq_ctx;
    self->max_reply = max_reply;
    if (keys)
        self->keys = *keys;
    if (!(self->endpoint = strdup(endpoint)) || s_open(self) != 0) {
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
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

int tb_client_call(tb_client_t *self, const Techbridge__ApiRequest *req,
                   tb_arena_t *arena, int timeout_ms, Techbridge__ApiReply **reply)
{
    *reply = NULL;
    if (!self->sock && s_open(self) != 0)
        return -1;
    if (tb_wire_send(self->sock, &req->base, true) == 0) {
        int64_t deadline = tb_mono_us() + (int64_t)timeout_ms * 1000;
        for (;;) {
            int64_t left_ms = (deadline - tb_mono_us()) / 1000;
            *reply = (Techbridge__ApiReply *)tb_wire_recv(
                self->sock, arena, &techbridge__api_reply__descriptor, self->max_reply,
                true, left_ms > 0 ? (int)left_ms : 0);
            /* A signal must not fail the call while time is left. */
            if (*reply || errno != EINTR || left_ms <= 0)
                break;
        }
    }
    if (*reply)
        return 0;
    int err = errno;
    zmq_close(self->sock);
    self->sock = NULL;
    errno = err;
    return -1;
}
