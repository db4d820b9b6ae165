/*  tb_json: the JSON form of the API's messages (jansson), with proto field names
    as keys and enum value names as strings ("OFFER", "LICENSE"). Times are
    RFC 3339 UTC strings ("2027-05-01T00:00:00Z"); on input a date
    ("2027-05-01") or a number of epoch milliseconds is accepted too. Used by
    tbctl, the examples and the tests. */
#ifndef TB_JSON_H
#define TB_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "api.pb-c.h"
#include "feed.pb-c.h"
#include "tb_arena.h"
#include "tb_valid.h"

/*  Builds a Request from a JSON object into the arena. Unknown keys, wrong types
    and unknown enum names are violations (path + reason), like field rules; the
    result is still returned so that field rules can add theirs. Returns NULL only
    when `json` is not an object or the arena is full. When `fields` is not NULL
    it receives the top-level keys present (for an edit's field mask), as arena
    strings, with their count in *nfields. */
Techbridge__Request *tb_json_to_request(tb_arena_t *arena, const json_t *json,
                                        tb_violations_t *violations, char ***fields,
                                        size_t *nfields);

/*  To JSON. Each returns a new reference, or NULL when out of memory. Empty
    optional fields are left out. */
json_t *tb_json_from_request(const Techbridge__Request *req);
json_t *tb_json_from_history(const Techbridge__History *history);
json_t *tb_json_from_match(const Techbridge__Match *match);
json_t *tb_json_from_notification(const Techbridge__Notification *n);
json_t *tb_json_from_error(const Techbridge__Error *error);
/*  Any ApiReply result (request, page, history, matches, match, notifications,
    stats, health) as the JSON document tbctl --json prints. */
json_t *tb_json_from_reply(const Techbridge__ApiReply *reply);

/*  RFC 3339 UTC with milliseconds when not whole seconds; `out` needs 32 bytes. */
void tb_json_format_time(int64_t ms, char out[32]);
/*  Parses RFC 3339 (Z or offset), a date (midnight UTC). Returns 0 or -1. */
int tb_json_parse_time(const char *s, int64_t *ms);

/*  Enum names (and back: -1 when unknown). */
const char *tb_json_enum_name(const ProtobufCEnumDescriptor *desc, int value);
int tb_json_enum_value(const ProtobufCEnumDescriptor *desc, const char *name, int *value);

#endif
