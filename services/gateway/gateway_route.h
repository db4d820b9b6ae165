/*  gateway_route: the HTTP/JSON form of the API. Maps a method, a path under
    /api/v1, its query and its JSON body to one ApiRequest for one service, and
    an API error code to an HTTP status. Pure: no socket, no HTTP library, so a
    unit test calls it directly. */
#ifndef GATEWAY_ROUTE_H
#define GATEWAY_ROUTE_H

#include <jansson.h>
#include <stdbool.h>

#include "api.pb-c.h"
#include "tb_arena.h"

typedef enum { GW_INTAKE = 0, GW_MATCHING = 1, GW_NOTIFICATION = 2 } gw_svc_t;
#define GW_NSVC 3

/*  One HTTP request as the router sees it. `query` returns a query argument's
    value (borrowed) or NULL. `body` is the parsed JSON body, NULL when the
    request had none. */
typedef struct {
    const char *method;
    const char *path; /* decoded, from "/api/v1/" on */
    const char *(*query)(void *cls, const char *key);
    void *query_cls;
    const json_t *body;
} gw_http_in_t;

/*  What the router decided: a call to send, or an answer of its own. */
typedef struct {
    Techbridge__ApiRequest *req; /* set: send it to `svc` */
    gw_svc_t svc;
    int ok_status;            /* HTTP status of a successful reply (200, or 201) */
    Techbridge__Error *error; /* set: answer it with `status`, send nothing */
    int status;
    const char *allow; /* with 405: the Allow header */
} gw_route_t;

/*  Routes `in` into `out` (everything in `arena`). Returns 0 when `out` holds a
    call or an error to answer; -1 only when the arena is full. */
int gw_route(tb_arena_t *arena, const gw_http_in_t *in, gw_route_t *out);

/*  The HTTP status for an API error code (OK: 200). */
int gw_http_status(Techbridge__Code code);

/*  A new Error in the arena (NULL when full); `message` is copied. */
Techbridge__Error *gw_error_new(tb_arena_t *arena, Techbridge__Code code,
                                const char *message);
/*  Appends a violation to `e` (field and reason copied). Returns 0 or -1. */
int gw_error_violation(tb_arena_t *arena, Techbridge__Error *e, const char *field,
                       const char *reason);

#endif
