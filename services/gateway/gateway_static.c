/*  gateway_static: GET / (the console's page) and /console/FILE from the
    embedded files. A name is looked up exactly in the table: "..", "/", "%2e"
    and the like find nothing and are 404. HTML gets a Content-Security-Policy
    that allows only this origin's scripts, styles and connections: no inline
    script or style can run, even one smuggled into the page. */
#include <string.h>

#include "gateway.h"
#include "gateway_console.h"

static const char s_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self'; connect-src 'self'; form-action 'self'; "
                            "base-uri 'none'; frame-ancestors 'none'";

static const char *s_content_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".txt", "text/plain; charset=utf-8"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

enum MHD_Result gw_static_serve(gw_req_t *r)
{
    r->kind = "static";
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return gw_respond_error(r, 405, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                                "method not allowed on this route");
    const char *name = NULL;
    if (strcmp(r->path, "/") == 0)
        name = "index.html";
    else if (strncmp(r->path, "/console/", 9) == 0)
        name = r->path + 9;
    size_t len = 0;
    const char *data = name && *name ? gw_console_get(name, &len) : NULL;
    const char *type = data ? s_content_type(name) : NULL;
    if (!data || !type)
        return gw_respond_error(r, 404, TECHBRIDGE__CODE__NOT_FOUND, "no such file");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    gw_add_common_headers(r, resp);
    /* After the common headers: the page's own policy replaces theirs. */
    MHD_del_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "Content-Security-Policy", s_csp);
    enum MHD_Result rc = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->status = 200;
    r->outcome = "OK";
    r->answered = true;
    return rc;
}
