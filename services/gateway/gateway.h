/*  tb-gateway: shared declarations of the HTTP/JSON gateway. The gateway is an
    API client of the three services, like tbctl: it never opens their tables.
    libmicrohttpd runs a thread per connection (an event stream blocks in its
    own thread without holding up anyone else); each thread talks to the
    services over its own ZeroMQ connections (gateway_upstream). */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_route.h"
#include "gateway_upstream.h"
#include "tb_arena.h"
#include "tb_stats.h"

/*  Longest correlation id taken from a client's X-Correlation-Id header. */
#define GW_CID_MAX 64

typedef struct gw_store_t gw_store_t;
typedef struct gw_limiter_t gw_limiter_t;
typedef struct gw_cache_t gw_cache_t;

typedef struct {
    size_t max_body;          /* the largest request body accepted (413 above) */
    int sse_keepalive_ms;     /* a comment line this often on an idle event stream */
    const char *pub_endpoint; /* tb-notification's live push (XPUB) */
    int64_t session_ttl_ms;   /* a login session's life */
    bool cookie_secure;       /* add Secure to the cookie (served over TLS) */
    int login_limit; /* failed logins per user name per 15 min (x4 per address) */
} gw_settings_t;

/*  The process: settings, connections, counters. One per process. */
typedef struct {
    gw_settings_t set;
    gw_upstream_t *up;
    gw_store_t *store;
    gw_limiter_t *logins;
    gw_cache_t *sessions; /* sessions and tokens recently found valid */
    pthread_mutex_t stats_lock;
    tb_stats_t *stats; /* under stats_lock */
    atomic_int stopping;
    atomic_long sse_open; /* event streams open now */
} gw_t;

/*  Who is calling: the role the services see (ApiRequest.actor: "operator" or
    an organisation id) and the person (ApiRequest.person: the user name). */
typedef struct {
    char actor[65];
    char person[65];
    bool by_cookie;       /* a browser session: changes need the CSRF token */
    char csrf[64];        /* the session's CSRF token */
    char secret_hash[65]; /* the session's or token's stored key */
    int64_t expires_ms;
} gw_identity_t;

/*  One HTTP request, from its headers to the end of its response. */
typedef struct {
    gw_t *gw;
    struct MHD_Connection *conn;
    char method[16];
    char path[512];
    char cid[GW_CID_MAX + 1];
    int64_t t0_us;
    /* the body, bounded by max_body */
    char *body;
    size_t body_len;
    bool body_too_large;
    /* the outcome, for the log line and stats */
    const char *kind; /* "get", "static", "events", ... */
    const char *outcome;
    int status;
    gw_identity_t who;
    bool answered;
} gw_req_t;

/* gateway_http.c */
/*  Starts the HTTP server on `host`:`port` (a numeric IPv4 address). Returns
    the daemon, or NULL (logged). */
struct MHD_Daemon *gw_http_start(gw_t *gw, const char *host, int port);

/*  Queues a response with `status`, the given content type and body (copied),
    the correlation id and the security headers. Records the status. Returns
    MHD_YES or MHD_NO. */
enum MHD_Result gw_respond(gw_req_t *r, int status, const char *content_type,
                           const void *body, size_t len);
/*  A JSON document (stolen: decref'd here) as the response. */
enum MHD_Result gw_respond_json(gw_req_t *r, int status, json_t *doc);
/*  The same with one more header (`name`: NULL for none), e.g. Allow or
    Set-Cookie. */
enum MHD_Result gw_respond_json_header(gw_req_t *r, int status, json_t *doc,
                                       const char *name, const char *value);
/*  An error of our own as {"error": {...}, "correlation_id": ...}. */
enum MHD_Result gw_respond_error(gw_req_t *r, int status, Techbridge__Code code,
                                 const char *message);
/*  Adds the headers every response carries. */
void gw_add_common_headers(gw_req_t *r, struct MHD_Response *resp);

/*  Counts a finished request in the stats. */
void gw_count(gw_t *gw, const char *kind, const char *outcome, int64_t latency_us);

/* gateway_session.c */
/*  Serves POST /api/v1/login, POST /api/v1/logout and GET /api/v1/me. Returns
    MHD_YES/MHD_NO when it answered, or -1 when the path is none of them. */
int gw_session_serve(gw_req_t *r);
/*  Finds who calls (a bearer token, else the session cookie) into r->who and
    checks the CSRF token of a cookie session's change. Returns 0 when the
    request may go on; else it answered (401, 403, 503) and returns 1 (with
    *rc the MHD result). */
int gw_session_gate(gw_req_t *r, enum MHD_Result *rc);

/* gateway_api.c */
/*  Serves a /api/v1 request other than the event stream. */
enum MHD_Result gw_api_serve(gw_req_t *r);

/* gateway_static.c */
/*  Serves the console: GET / and /console/FILE (404 for anything else). */
enum MHD_Result gw_static_serve(gw_req_t *r);

/* gateway_events.c */
/*  Serves GET /api/v1/events: the recipient's notifications as Server-Sent
    Events, from Last-Event-ID (or ?after=) on, then live. */
enum MHD_Result gw_events_serve(gw_req_t *r);

#endif
