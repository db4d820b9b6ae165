/*  gateway_api: /api/v1 over the services. The router turns the HTTP request
    into one ApiRequest; its reply goes back as tbctl --json prints it, with the
    error code as the HTTP status. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "tb_call.h"
#include "tb_json.h"

/*  Every reply of a call fits: a page of 100 full requests is far below. */
#define S_ARENA_CAP (64u * 1024 * 1024)

static const char *const s_svc_names[GW_NSVC] = {"intake", "matching", "notification"};

static const char *s_query(void *cls, const char *key)
{
    return MHD_lookup_connection_value(cls, MHD_GET_ARGUMENT_KIND, key);
}

/*  The answer when a service did not reply: UNAVAILABLE, naming it. */
static enum MHD_Result s_unavailable(gw_req_t *r, gw_svc_t svc, int err)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s from %s within %d ms",
             err == EPROTO     ? "bad reply"
             : err == EMSGSIZE ? "reply too large"
                               : "no reply",
             s_svc_names[svc], gw_upstream_timeout_ms(r->gw->up));
    return gw_respond_error(r, 503, TECHBRIDGE__CODE__UNAVAILABLE, msg);
}

static void s_prepare(gw_req_t *r, Techbridge__ApiRequest *req)
{
    req->correlation_id = r->cid;
    req->actor = r->who.actor;
    req->person = r->who.person;
}

/*  GET /api/v1/health: each service's Health, as {"intake": {...}, ...}; 503
    when any of them did not answer. */
static enum MHD_Result s_health(gw_req_t *r)
{
    r->kind = "health";
    if (strcmp(r->method, "GET") != 0)
        return gw_respond_error(r, 405, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                "method not allowed on this route");
    json_t *doc = json_object();
    int status = 200;
    for (int svc = 0; svc < GW_NSVC && doc; svc++) {
        tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
        Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
        req.health = &h;
        s_prepare(r, &req);
        /* Health answers anyone; under CURVE a gateway key must name an actor,
           and its own probe is the operator's. */
        if (!*req.actor)
            req.actor = (char *)"operator";
        Techbridge__ApiReply *reply = NULL;
        json_t *one = NULL;
        if (arena && gw_upstream_call(r->gw->up, (gw_svc_t)svc, &req, arena, &reply) == 0)
            one = tb_json_from_reply(reply);
        if (!one) {
            status = 503;
            one = json_pack("{s:{s:s,s:s}}", "error", "code", "UNAVAILABLE", "message",
                            "no reply");
        }
        json_object_set_new(doc, s_svc_names[svc], one);
        tb_arena_destroy(&arena);
    }
    r->outcome = status == 200 ? "OK" : "UNAVAILABLE";
    return gw_respond_json(r, status, doc);
}

/*  Parses the body (when there is one). Returns it, or NULL with *bad set and
    the 400 answered. */
static json_t *s_body(gw_req_t *r, bool *bad, enum MHD_Result *rc)
{
    *bad = false;
    if (r->body_len == 0)
        return NULL;
    json_error_t jerr;
    json_t *doc = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc)
        return doc;
    *bad = true;
    r->kind = "bad_json";
    char reason[256];
    snprintf(reason, sizeof reason, "not valid JSON: line %d, column %d: %s", jerr.line,
             jerr.column, jerr.text);
    Techbridge__Error e = TECHBRIDGE__ERROR__INIT;
    Techbridge__Violation v = TECHBRIDGE__VIOLATION__INIT;
    Techbridge__Violation *vs[1] = {&v};
    v.field = (char *)"(body)";
    v.reason = reason;
    e.code = TECHBRIDGE__CODE__INVALID_ARGUMENT;
    e.message = (char *)"invalid request";
    e.n_violations = 1;
    e.violations = vs;
    json_t *out = json_object();
    if (out) {
        json_object_set_new(out, "error", tb_json_from_error(&e));
        json_object_set_new(out, "correlation_id", json_string(r->cid));
    }
    r->outcome = "INVALID_ARGUMENT";
    *rc = gw_respond_json(r, 400, out);
    return NULL;
}

/*  Answers a route's own error (no call made). */
static enum MHD_Result s_route_error(gw_req_t *r, const gw_route_t *route)
{
    json_t *doc = json_object();
    if (doc) {
        json_object_set_new(doc, "error", tb_json_from_error(route->error));
        json_object_set_new(doc, "correlation_id", json_string(r->cid));
    }
    r->outcome = tb_stats_code_name((int)route->error->code);
    /* 405 carries its Allow header. */
    return gw_respond_json_header(r, route->status, doc,
                                  route->status == 405 ? "Allow" : NULL, route->allow);
}

enum MHD_Result gw_api_serve(gw_req_t *r)
{
    if (strcmp(r->path, "/api/v1/health") == 0)
        return s_health(r);
    bool bad = false;
    enum MHD_Result rc = MHD_NO;
    json_t *body = s_body(r, &bad, &rc);
    if (bad)
        return rc;
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    if (!arena) {
        json_decref(body);
        return gw_respond_error(r, 500, TECHBRIDGE__CODE__INTERNAL, "out of memory");
    }
    gw_http_in_t in = {.method = r->method,
                       .path = r->path,
                       .query = s_query,
                       .query_cls = r->conn,
                       .body = body};
    gw_route_t route;
    if (gw_route(arena, &in, &route) != 0) {
        rc = gw_respond_error(r, 413, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                              "request too large");
    } else if (route.error) {
        r->kind = route.req ? tb_call_kind_name(route.req->body_case) : "route";
        rc = s_route_error(r, &route);
    } else {
        r->kind = tb_call_kind_name(route.req->body_case);
        s_prepare(r, route.req);
        Techbridge__ApiReply *reply = NULL;
        if (gw_upstream_call(r->gw->up, route.svc, route.req, arena, &reply) != 0) {
            rc = s_unavailable(r, route.svc, errno);
        } else {
            Techbridge__Code code =
                reply->error ? reply->error->code : TECHBRIDGE__CODE__OK;
            int status = gw_http_status(code);
            if (code == TECHBRIDGE__CODE__OK &&
                reply->result_case == TECHBRIDGE__API_REPLY__RESULT_REQUEST &&
                reply->request && reply->request->created &&
                route.req->body_case == TECHBRIDGE__API_REQUEST__BODY_SUBMIT)
                status = 201;
            r->outcome = tb_stats_code_name((int)code);
            rc = gw_respond_json(r, status, tb_json_from_reply(reply));
        }
    }
    json_decref(body);
    tb_arena_destroy(&arena);
    return rc;
}
