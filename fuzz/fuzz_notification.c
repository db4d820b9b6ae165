/*  fuzz_notification: a live notification frame from the notification
    service's XPUB, as tbctl watch and the integrations decode it (tb_wire_unpack
    with their limits), then print it as JSON. The same bytes are also tried as
    an XPUB subscription frame (a 1/0 byte and a topic), which the notification
    service checks with notification_may_subscribe. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "tb_json.h"
#include "tb_wire.h"

#ifdef TB_FUZZ_NOTIFICATION
#include "notification_core.h"
#endif

#define S_MAX_NOTIFY (1024u * 1024)      /* tbctl_watch.c, enterprise_client.c */
#define S_ARENA_CAP  (16u * 1024 * 1024) /* enterprise_client.c (tbctl: 64 MiB) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    FUZZ_CHECK(arena != NULL, "arena");
    const Techbridge__Notification *n = (const Techbridge__Notification *)tb_wire_unpack(
        arena, &techbridge__notification__descriptor, data, size, S_MAX_NOTIFY);
    if (n) {
        FUZZ_CHECK(n->recipient && n->subject_id && n->text && n->correlation_id,
                   "NULL string");
        fuzz_escape_strings(&n->base);
        fuzz_json_drop(tb_json_from_notification(n));
        if (n->request)
            fuzz_json_drop(tb_json_from_request(n->request));
        if (n->match)
            fuzz_json_drop(tb_json_from_match(n->match));
        fuzz_repack(arena, &n->base);
    }
    tb_arena_destroy(&arena);

#ifdef TB_FUZZ_NOTIFICATION
    if (size > 0 && (data[0] == 0 || data[0] == 1)) {
        const uint8_t *topic = data + 1;
        size_t len = size - 1;
        (void)notification_may_subscribe(false, "", topic, len);
        bool op = notification_may_subscribe(true, "operator", topic, len);
        bool own = notification_may_subscribe(true, "acme", topic, len);
        /* An organisation may follow only its own topic. */
        if (own)
            FUZZ_CHECK(len == 5 && memcmp(topic, "acme/", 5) == 0,
                       "an organisation may subscribe to another topic");
        (void)op;
    }
#endif
    return 0;
}
