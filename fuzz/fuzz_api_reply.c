/*  fuzz_api_reply: an ApiReply frame as tbctl and the integrations decode it
    (tb_wire_recv's unpack with tbctl's limits), then print it as JSON
    (tb_json_from_reply, what `tbctl --json` writes). */
#include <stdint.h>

#include "api.pb-c.h"
#include "fuzz_common.h"
#include "tb_json.h"
#include "tb_wire.h"

#define S_MAX_REPLY (16u * 1024 * 1024) /* TBCTL_MAX_REPLY */
#define S_ARENA_CAP (64u * 1024 * 1024) /* tbctl's call arena */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    FUZZ_CHECK(arena != NULL, "arena");
    const Techbridge__ApiReply *r = (const Techbridge__ApiReply *)tb_wire_unpack(
        arena, &techbridge__api_reply__descriptor, data, size, S_MAX_REPLY);
    if (r) {
        fuzz_escape_strings(&r->base);
        fuzz_json_drop(tb_json_from_reply(r));
        if (r->error)
            fuzz_json_drop(tb_json_from_error(r->error));
        fuzz_repack(arena, &r->base);
    }
    tb_arena_destroy(&arena);
    return 0;
}
