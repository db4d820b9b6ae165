/*  gateway_http: the libmicrohttpd side. Every request gets a context with its
    correlation id (the client's X-Correlation-Id when well formed, else a new
    one), its body bounded by --max-body (413 past it, from the Content-Length
    header at once or while the body streams in), then is dispatched to the API
    or the event stream. One log line per request when it completes. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "tb_json.h"
#include "tb_log.h"
#include "tb_util.h"

/*  What every response carries. The API answers JSON only; nosniff keeps a
    browser from reading it as anything else, and the CSP forbids everything a
    JSON document has no use for. */
void gw_add_common_headers(gw_req_t *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Correlation-Id", r->cid);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; frame-ancestors 'none'");
}

static enum MHD_Result s_respond(gw_req_t *r, int status, const char *content_type,
                                 const void *body, size_t len, const char *name,
                                 const char *value)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    if (name)
        MHD_add_response_header(resp, name, value);
    gw_add_common_headers(r, resp);
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->answered = true;
    return rc;
}

enum MHD_Result gw_respond(gw_req_t *r, int status, const char *content_type,
                           const void *body, size_t len)
{
    return s_respond(r, status, content_type, body, len, NULL, NULL);
}

enum MHD_Result gw_respond_json_header(gw_req_t *r, int status, json_t *doc,
                                       const char *name, const char *value)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"cannot render the reply\"}}";
        return gw_respond(r, 500, "application/json", oom, sizeof oom - 1);
    }
    enum MHD_Result rc = s_respond(r, status, "application/json; charset=utf-8", text,
                                   strlen(text), name, value);
    free(text);
    return rc;
}

enum MHD_Result gw_respond_json(gw_req_t *r, int status, json_t *doc)
{
    return gw_respond_json_header(r, status, doc, NULL, NULL);
}

enum MHD_Result gw_respond_error(gw_req_t *r, int status, Techbridge__Code code,
                                 const char *message)
{
    Techbridge__Error e = TECHBRIDGE__ERROR__INIT;
    e.code = code;
    e.message = (char *)message;
    json_t *doc = json_object();
    if (doc) {
        json_object_set_new(doc, "error", tb_json_from_error(&e));
        json_object_set_new(doc, "correlation_id", json_string(r->cid));
    }
    r->outcome = tb_stats_code_name((int)code);
    return gw_respond_json(r, status, doc);
}

void gw_count(gw_t *gw, const char *kind, const char *outcome, int64_t latency_us)
{
    pthread_mutex_lock(&gw->stats_lock);
    tb_stats_call(gw->stats, kind, outcome, latency_us);
    pthread_mutex_unlock(&gw->stats_lock);
}

/*  A client's correlation id is echoed in a header and written to logs: take
    only a plain token, else make one. */
static void s_set_cid(gw_req_t *r)
{
    const char *given =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Correlation-Id");
    size_t n = given ? strlen(given) : 0;
    bool ok = n > 0 && n <= GW_CID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)given[i]) || strchr("._:-", given[i]);
    if (ok)
        memcpy(r->cid, given, n + 1);
    else
        tb_uuid(r->cid);
}

static bool s_body_is_json(const gw_req_t *r)
{
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    return ct && strncasecmp(ct, "application/json", 16) == 0 &&
           (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

static enum MHD_Result s_too_large(gw_req_t *r)
{
    char msg[96];
    snprintf(msg, sizeof msg, "request body over the limit of %zu bytes",
             r->gw->set.max_body);
    r->kind = "oversize";
    return gw_respond_error(r, 413, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED, msg);
}

/*  Takes a chunk of the body, keeping at most max_body bytes. */
static void s_take_body(gw_req_t *r, const char *data, size_t len)
{
    if (r->body_too_large)
        return;
    if (len > r->gw->set.max_body - r->body_len) {
        r->body_too_large = true;
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
        return;
    }
    char *grown = realloc(r->body, r->body_len + len + 1);
    if (!grown) {
        r->body_too_large = true;
        return;
    }
    memcpy(grown + r->body_len, data, len);
    r->body = grown;
    r->body_len += len;
    r->body[r->body_len] = '\0';
}

static enum MHD_Result s_dispatch(gw_req_t *r)
{
    if (r->body_too_large)
        return s_too_large(r);
    if (r->body_len > 0 && !s_body_is_json(r)) {
        r->kind = "unsupported";
        return gw_respond_error(r, 415, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                "a request body must be application/json");
    }
    int handled = gw_session_serve(r);
    if (handled >= 0)
        return (enum MHD_Result)handled;
    /* Health answers anyone (a load balancer's probe); the rest needs a login. */
    enum MHD_Result rc;
    if (strcmp(r->path, "/api/v1/health") != 0 && strncmp(r->path, "/api/v1/", 8) == 0 &&
        gw_session_gate(r, &rc) != 0)
        return rc;
    if (strcmp(r->path, "/api/v1/events") == 0)
        return gw_events_serve(r);
    if (strncmp(r->path, "/api/v1/", 8) == 0)
        return gw_api_serve(r);
    return gw_static_serve(r);
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn,
                                    const char *url, const char *method,
                                    const char *version, const char *upload_data,
                                    size_t *upload_data_size, void **con_cls)
{
    (void)version;
    gw_t *gw = cls;
    gw_req_t *r = *con_cls;
    if (!r) {
        /* First call: headers only. */
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->gw = gw;
        r->conn = conn;
        r->t0_us = tb_mono_us();
        r->kind = "invalid";
        r->outcome = "";
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        s_set_cid(r);
        if (strlen(url) >= sizeof r->path) {
            r->kind = "unknown";
            return gw_respond_error(r, 414, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                    "path too long");
        }
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > gw->set.max_body)
            return s_too_large(r); /* refused before a byte of it is read */
        return MHD_YES;
    }
    if (r->answered) {
        /* An answer went out early (413): drain what the client still sends. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        s_take_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return s_dispatch(r);
}

static void s_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    gw_req_t *r = *con_cls;
    if (!r)
        return;
    int64_t us = tb_mono_us() - r->t0_us;
    char status[8];
    snprintf(status, sizeof status, "%d", r->status);
    gw_count(r->gw, r->kind, r->outcome && *r->outcome ? r->outcome : status, us);
    tb_log(r->status >= 500 ? TB_LOG_WARN : TB_LOG_INFO, "http.request", r->cid,
           TB_S("method", r->method), TB_S("path", r->path), TB_I("status", r->status),
           TB_S("kind", r->kind), TB_I("latency_us", us), TB_S("actor", r->who.actor),
           TB_S("person", r->who.person),
           TB_B("completed", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK));
    free(r->body);
    free(r);
    *con_cls = NULL;
}

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    tb_warn("http.server", NULL, TB_S("message", line));
}

struct MHD_Daemon *gw_http_start(gw_t *gw, const char *host, int port)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        tb_error("http.bind_failed", NULL, TB_S("host", host),
                 TB_S("reason", "not a numeric IPv4 address"));
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
            MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, s_on_request, gw, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, gw,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
        /* Bounded: a connection is a thread; an idle one goes after a minute
           (event streams send a comment more often than that). */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024), MHD_OPTION_END);
    if (!d)
        tb_error("http.bind_failed", NULL, TB_S("host", host), TB_I("port", port),
                 TB_S("reason", "MHD_start_daemon failed (port in use?)"));
    return d;
}
