/*  gateway_upstream: thread-local tb_client connections (see the header). */
#include "gateway_upstream.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct gw_upstream_t {
    void *zmq_ctx;
    char *endpoint[GW_NSVC];
    tb_client_keys_t keys;
    int timeout_ms;
    size_t max_reply;
    pthread_key_t key; /* -> s_conns_t of the calling thread */
};

typedef struct {
    tb_client_t *client[GW_NSVC];
} s_conns_t;

static void s_conns_free(void *p)
{
    s_conns_t *conns = p;
    for (int i = 0; i < GW_NSVC; i++)
        tb_client_destroy(&conns->client[i]);
    free(conns);
}

gw_upstream_t *gw_upstream_new(void *zmq_ctx, const char *const endpoints[GW_NSVC],
                               const tb_client_keys_t *keys, int timeout_ms,
                               size_t max_reply)
{
    gw_upstream_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->zmq_ctx = zmq_ctx;
    self->timeout_ms = timeout_ms;
    self->max_reply = max_reply;
    if (keys)
        self->keys = *keys;
    for (int i = 0; i < GW_NSVC; i++)
        if (!(self->endpoint[i] = strdup(endpoints[i]))) {
            gw_upstream_destroy(&self);
            return NULL;
        }
    if (pthread_key_create(&self->key, s_conns_free) != 0) {
        for (int i = 0; i < GW_NSVC; i++)
            free(self->endpoint[i]);
        free(self);
        return NULL;
    }
    return self;
}

void gw_upstream_destroy(gw_upstream_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_upstream_t *self = *self_p;
    /* The calling thread's own connections (the other threads' closed as
       they ended). */
    s_conns_t *mine = pthread_getspecific(self->key);
    if (mine) {
        pthread_setspecific(self->key, NULL);
        s_conns_free(mine);
    }
    pthread_key_delete(self->key);
    for (int i = 0; i < GW_NSVC; i++)
        free(self->endpoint[i]);
    free(self);
    *self_p = NULL;
}

int gw_upstream_call(gw_upstream_t *self, gw_svc_t svc, const Techbridge__ApiRequest *req,
                     tb_arena_t *arena, Techbridge__ApiReply **reply)
{
    s_conns_t *conns = pthread_getspecific(self->key);
    if (!conns) {
        if (!(conns = calloc(1, sizeof *conns)))
            return -1;
        if (pthread_setspecific(self->key, conns) != 0) {
            free(conns);
            errno = ENOMEM;
            return -1;
        }
    }
    if (!conns->client[svc] &&
        !(conns->client[svc] = tb_client_new(self->zmq_ctx, self->endpoint[svc],
                                             &self->keys, self->max_reply)))
        return -1;
    return tb_client_call(conns->client[svc], req, arena, self->timeout_ms, reply);
}

const char *gw_upstream_endpoint(const gw_upstream_t *self, gw_svc_t svc)
{
    return self->endpoint[svc];
}

const tb_client_keys_t *gw_upstream_keys(const gw_upstream_t *self)
{
    return &self->keys;
}

void *gw_upstream_zmq_ctx(const gw_upstream_t *self)
{
    return self->zmq_ctx;
}

int gw_upstream_timeout_ms(const gw_upstream_t *self)
{
    return self->timeout_ms;
}
