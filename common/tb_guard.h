/*  tb_guard: a ceiling on what libzmq buffers for each peer of a ROUTER.

    libzmq hands a multipart message to the service only once every frame has
    arrived, its per-frame ceiling (ZMQ_MAXMSGSIZE) does not bound the number
    of frames, and its high-water mark counts whole messages: a peer that
    sends one message of 600 frames of 1 MB makes the service hold 600 MB
    before it can see, let alone refuse, the message. The guard watches each
    TCP connection the ROUTER accepted (a socket monitor gives the
    descriptors): the bytes libzmq has read from it (TCP_INFO's bytes received
    less what is still unread in the kernel) since the service last took a
    message from it. A connection past `per_peer` such bytes, or the largest
    one when all together pass `total`, is shut down; libzmq then drops the
    connection and frees its unfinished message. */
#ifndef TB_GUARD_H
#define TB_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tb_guard_t tb_guard_t;

/*  Watches `router` (bound, owned by the calling thread) of context `ctx`.
    NULL on failure (logged). */
tb_guard_t *tb_guard_new(void *ctx, void *router, const char *name, uint64_t per_peer,
                         uint64_t total);
/*  Stops watching; call before the router is closed. Accepts NULL. */
void tb_guard_destroy(tb_guard_t **self_p);

/*  The service took a message that libzmq read from descriptor `fd` (the
    "__fd" property; -1: unknown): what libzmq had read from it is the
    service's now. */
void tb_guard_took(tb_guard_t *self, int fd);

/*  Reads the monitor's events and checks every connection; cuts those past a
    ceiling. Cheap enough for every loop turn; due every TB_GUARD_PERIOD_MS. */
void tb_guard_check(tb_guard_t *self);
#define TB_GUARD_PERIOD_MS 20

/*  The monitor's socket, for the loop's poll: readable when a connection
    comes or goes (then call tb_guard_check). */
void *tb_guard_socket(const tb_guard_t *self);
/*  Whether any connection is watched (else the loop need not wake for it). */
bool tb_guard_watching(const tb_guard_t *self);

/*  Connections cut since the start. */
uint64_t tb_guard_cuts(const tb_guard_t *self);

/*  For a bound socket whose peers have little to say (an XPUB's subscribers):
    a thread of its own is woken (epoll) as data arrives on each TCP
    connection the socket accepted, and shuts down a connection that sends
    more than `budget` bytes within `window_ms`, before libzmq has taken in
    much of it (guard.peer_cut). The thread owns only its monitor socket;
    destroy before closing `socket`. NULL on failure (logged). */
typedef struct tb_guard_budget_t tb_guard_budget_t;
tb_guard_budget_t *tb_guard_budget_new(void *ctx, void *socket, const char *name,
                                       uint64_t budget, int window_ms);
void tb_guard_budget_destroy(tb_guard_budget_t **self_p);

#endif
