/*  fuzz_gateway: tb-gateway's request path from HTTP to an ApiRequest. The
    input is "METHOD PATH[?QUERY]\n" then the body: the query is split into
    key=value pairs, the body parsed as the gateway does (jansson,
    JSON_REJECT_DUPLICATES; not JSON: no body), then routed (gw_route). Checks:
    the router either makes a call or answers an error with a known status,
    never both; a call packs; every violation has a field and a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "gateway_route.h"
#include "tb_wire.h"

#define S_ARENA_CAP (64u * 1024 * 1024) /* gateway_api.c */
#define S_MAX_ARGS  16

typedef struct {
    char *keys[S_MAX_ARGS];
    char *values[S_MAX_ARGS];
    int n;
} s_query_t;

static const char *s_lookup(void *cls, const char *key)
{
    s_query_t *q = cls;
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->keys[i], key) == 0)
            return q->values[i];
    return NULL;
}

static void s_split_query(char *qs, s_query_t *q)
{
    for (char *save = NULL, *p = strtok_r(qs, "&", &save); p && q->n < S_MAX_ARGS;
         p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        q->keys[q->n] = p;
        q->values[q->n] = eq ? (*eq = '\0', eq + 1) : (char *)"";
        q->n++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t head_len = nl ? (size_t)(nl - data) : size;
    if (head_len > 4096)
        return 0;
    char *head = strndup((const char *)data, head_len);
    FUZZ_CHECK(head != NULL, "strndup");
    char *space = strchr(head, ' ');
    if (!space || strlen(head) != head_len) { /* no method, or a NUL inside */
        free(head);
        return 0;
    }
    *space = '\0';
    char *path = space + 1;
    s_query_t q = {0};
    char *qmark = strchr(path, '?');
    if (qmark) {
        *qmark = '\0';
        s_split_query(qmark + 1, &q);
    }
    json_t *body = NULL;
    if (nl && size > head_len + 1)
        body = json_loadb((const char *)nl + 1, size - head_len - 1,
                          JSON_REJECT_DUPLICATES, NULL);
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    FUZZ_CHECK(arena != NULL, "arena");
    gw_http_in_t in = {
        .method = head, .path = path, .query = s_lookup, .query_cls = &q, .body = body};
    gw_route_t out;
    if (gw_route(arena, &in, &out) == 0) {
        FUZZ_CHECK((out.req != NULL) != (out.error != NULL), "a call xor an error");
        if (out.error) {
            int s = out.status;
            FUZZ_CHECK(s == 400 || s == 404 || s == 405, "unexpected status");
            FUZZ_CHECK(s != 405 || out.allow != NULL, "405 without Allow");
            for (size_t i = 0; i < out.error->n_violations; i++)
                FUZZ_CHECK(out.error->violations[i]->field &&
                               out.error->violations[i]->reason,
                           "a violation without field or reason");
        } else {
            FUZZ_CHECK(out.svc >= GW_INTAKE && out.svc < GW_NSVC, "no such service");
            size_t len = 0;
            FUZZ_CHECK(tb_wire_pack(arena, &out.req->base, &len) != NULL, "pack");
        }
    }
    tb_arena_destroy(&arena);
    json_decref(body);
    free(head);
    return 0;
}
