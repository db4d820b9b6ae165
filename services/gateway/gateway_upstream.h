/*  gateway_upstream: the gateway's connections to the three services. Any
    thread may call; each thread gets its own tb_client per service (ZeroMQ
    sockets belong to one thread), made on first use and closed when the thread
    ends (tb_client makes a connection anew after a failed call). */
#ifndef GATEWAY_UPSTREAM_H
#define GATEWAY_UPSTREAM_H

#include "gateway_route.h"
#include "tb_client.h"

typedef struct gw_upstream_t gw_upstream_t;

/*  `endpoints` by gw_svc_t; `keys` may be NULL (plain sockets). Strings are
    copied. Returns NULL on failure. */
gw_upstream_t *gw_upstream_new(void *zmq_ctx, const char *const endpoints[GW_NSVC],
                               const tb_client_keys_t *keys, int timeout_ms,
                               size_t max_reply);
/*  Call after every thread that used it has ended (their connections close at
    their exit) and before zmq_ctx_term. */
void gw_upstream_destroy(gw_upstream_t **self_p);

/*  One call to `svc`. Returns 0 with *reply
    set (it may carry an Error), or -1 (errno as tb_client_call). */
int gw_upstream_call(gw_upstream_t *self, gw_svc_t svc, const Techbridge__ApiRequest *req,
                     tb_arena_t *arena, Techbridge__ApiReply **reply);

/*  The endpoint of `svc` and the services' keys, for sockets of one's own (the
    live push SUB of the event stream). */
const char *gw_upstream_endpoint(const gw_upstream_t *self, gw_svc_t svc);
const tb_client_keys_t *gw_upstream_keys(const gw_upstream_t *self);
void *gw_upstream_zmq_ctx(const gw_upstream_t *self);
int gw_upstream_timeout_ms(const gw_upstream_t *self);

#endif
