/*  fuzz_json: tbctl's input path. A file given to `tbctl submit`/`edit` is read
    with jansson (JSON_REJECT_DUPLICATES), converted with tb_json_to_request,
    normalised and checked like the service would, packed, and printed back with
    tb_json_from_request. A top-level JSON string is tried as a time
    (tb_json_parse_time / tb_json_format_time). */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "tb_json.h"
#include "tb_valid.h"
#include "tb_wire.h"

#ifdef TB_FUZZ_INTAKE
#include "intake_core.h"
#endif

#define S_ARENA_CAP (64u * 1024 * 1024) /* tbctl_cmd.c */

static void s_time(const char *s)
{
    int64_t ms = 0;
    if (tb_json_parse_time(s, &ms) != 0)
        return;
    char out[32];
    tb_json_format_time(ms, out);
    FUZZ_CHECK(memchr(out, 0, sizeof out) != NULL, "format_time not terminated");
    int64_t again = 0;
    if (tb_json_parse_time(out, &again) == 0)
        FUZZ_CHECK(again == ms, "parse(format(t)) != t");
}

static void s_request(json_t *doc)
{
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    FUZZ_CHECK(arena != NULL, "arena");
    tb_violations_t *v = tb_arena_alloc(arena, sizeof *v);
    char **fields = NULL;
    size_t nfields = 0;
    Techbridge__Request *req =
        v ? tb_json_to_request(arena, doc, v, &fields, &nfields) : NULL;
    if (req) {
        FUZZ_CHECK(v->count <= TB_MAX_VIOLATIONS, "violation count");
        FUZZ_CHECK(nfields <= json_object_size(doc), "more fields than keys");
        for (size_t i = 0; i < nfields; i++)
            FUZZ_CHECK(fields[i] && json_object_get(doc, fields[i]), "field not a key");
        fuzz_repack(arena, &req->base);
        fuzz_json_drop(tb_json_from_request(req));
        if (v->count == 0) {
#ifdef TB_FUZZ_INTAKE
            /* `tbctl edit ID VERSION FILE`: the file's keys are the field mask. */
            Techbridge__Request *stored = fuzz_stored_request(arena);
            tb_violations_t *mv = tb_arena_alloc(arena, sizeof *mv);
            if (stored && mv &&
                intake_edit_merge(arena, stored, req, fields, nfields, mv) == 0)
                fuzz_check_request(arena, stored);
            Techbridge__Request *content = intake_request_content(arena, req);
            if (content)
                fuzz_check_request(arena, content);
#else
            fuzz_check_request(arena, req);
#endif
        }
    }
    tb_arena_destroy(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (!doc)
        return 0;
    if (json_is_object(doc))
        s_request(doc);
    else if (json_is_string(doc))
        s_time(json_string_value(doc));
    json_decref(doc);
    return 0;
}
