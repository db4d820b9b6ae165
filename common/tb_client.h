/*  tb_client: the client side of the API, shared by tbctl and tb-gateway. One
    tb_client_t is one connection to one service's API (a DEALER socket, a CURVE
    client when keys are configured), owned by one thread, serving any number
    of calls in turn. A call that fails (no reply in time, a bad reply) throws
    the connection away and opens a new one: so a late reply can never be taken
    for the next call's, and a request still queued for a service that is down
    is dropped rather than delivered later, when nobody waits for it. (Replies
    are not matched on the correlation id: a service answers a frame it cannot
    decode with an id of its own.) */
#ifndef TB_CLIENT_H
#define TB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "api.pb-c.h"
#include "tb_arena.h"

/*  How a client proves who it is: its own key pair file and the services'
    public key (Z85). Both empty: plain sockets (the services run open). */
typedef struct {
    char key_file[512];
    char server_key[41];
} tb_client_keys_t;

/*  Fills `keys` from a key pair file and a server key given as 40 characters of
    Z85 or as a file with a "public" line. Both NULL (or empty): no keys, 0.
    Returns 0, or -1 with a one-line reason in `why` (`why_cap` bytes): only one
    of the two given, an unreadable or invalid file, a bad key. */
int tb_client_keys_load(tb_client_keys_t *keys, const char *key_file,
                        const char *server_key_arg, char *why, size_t why_cap);

/*  Makes `sock` a CURVE client with `keys` (a no-op without keys). Call before
    zmq_connect. Returns 0 or -1. */
int tb_client_secure(const tb_client_keys_t *keys, void *sock);

typedef struct tb_client_t tb_client_t;

/*  Connects to `endpoint` (connecting is asynchronous: a service that is down
    shows as a timeout on the first call). `keys` may be NULL. Replies over
    `max_reply` bytes are refused. Returns NULL on failure (errno set). */
tb_client_t *tb_client_new(void *zmq_ctx, const char *endpoint,
                           const tb_client_keys_t *keys, size_t max_reply);
void tb_client_destroy(tb_client_t **self_p);

/*  Sends `req` and waits up to `timeout_ms` for its reply, decoded into
    `arena`. Returns 0 with *reply set (which may carry an Error), or -1 with
    errno EAGAIN (no reply in time), EPROTO (a reply that does not decode) or
    EMSGSIZE (over max_reply); the connection is then made anew. */
int tb_client_call(tb_client_t *self, const Techbridge__ApiRequest *req,
                   tb_arena_t *arena, int timeout_ms, Techbridge__ApiReply **reply);

#endif
