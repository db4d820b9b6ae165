/*  fuzz_feed: the event feed's frames. The producer decodes a FeedFetch from a
    consumer; a consumer decodes a FeedBatch from the producer and applies each
    Event (the notification service maps events to notifications; matching
    checks the request of a request event). The producer also decodes Events
    from its outbox. The same bytes are tried as each of the three, with the
    limits of tb_feed.c. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "feed.pb-c.h"
#include "fuzz_common.h"
#include "tb_json.h"
#include "tb_valid.h"
#include "tb_wire.h"

#ifdef TB_FUZZ_NOTIFICATION
#include "notification_core.h"

/*  Loaded once: the templates are ours, not input. */
static notification_text_t *s_text;
#endif

/*  tb_feed.c's limits. */
#define S_EVENT_MAX   (1024u * 1024)
#define S_BATCH_BYTES (8u * 1024 * 1024)
#define S_REPLY_MAX   (S_BATCH_BYTES + 2 * S_EVENT_MAX)
#define S_FETCH_MAX   4096
#define S_FETCH_ARENA (64u * 1024)
#define S_MAX_EVENTS  1000
#define S_WAIT_MS     5000
#define S_APPLY_ARENA (8u * 1024 * 1024) /* notification_core.c */

/*  The producer's handling of a fetch (tb_feed_server_on_readable). */
static void s_fetch(const uint8_t *data, size_t size)
{
    tb_arena_t *arena = tb_arena_new(S_FETCH_ARENA);
    FUZZ_CHECK(arena != NULL, "arena");
    Techbridge__FeedFetch *f = (Techbridge__FeedFetch *)tb_wire_unpack(
        arena, &techbridge__feed_fetch__descriptor, data, size, S_FETCH_MAX);
    if (size > S_FETCH_MAX)
        FUZZ_CHECK(f == NULL, "a fetch over max_len was decoded");
    if (f) {
        FUZZ_CHECK(f->stream && f->consumer && f->correlation_id, "NULL string");
        (void)strcmp(f->stream, "requests");
        int max = f->max < 1 ? 1 : f->max > S_MAX_EVENTS ? S_MAX_EVENTS : f->max;
        int wait_ms = f->wait_ms < 0           ? 0
                      : f->wait_ms > S_WAIT_MS ? S_WAIT_MS
                                               : f->wait_ms;
        int64_t after = f->after < 0 ? 0 : f->after;
        FUZZ_CHECK(max >= 1 && wait_ms >= 0 && after >= 0, "clamps");
        char cid[65];
        snprintf(cid, sizeof cid, "%s", f->correlation_id);
        fuzz_escape_strings(&f->base);
        fuzz_repack(arena, &f->base);
    }
    tb_arena_destroy(&arena);
}

/*  What the consumers do with one event. */
static void s_event(const Techbridge__Event *ev)
{
    fuzz_escape_strings(&ev->base);
    (void)tb_json_enum_name(&techbridge__event_type__descriptor, (int)ev->type);
    /* matching_core_apply's guard before it touches the request. */
    const Techbridge__Request *r = ev->request;
    if (r) {
        bool usable = r->id && tb_valid_uuid(r->id) && r->org && r->sector && r->title &&
                      r->summary;
        (void)usable;
        fuzz_json_drop(tb_json_from_request(r));
    }
    if (ev->match)
        fuzz_json_drop(tb_json_from_match(ev->match));
#ifdef TB_FUZZ_NOTIFICATION
    tb_arena_t *arena = tb_arena_new(S_APPLY_ARENA);
    FUZZ_CHECK(arena != NULL, "arena");
    if (!s_text) {
        s_text = notification_text_new();
        FUZZ_CHECK(s_text && notification_text_load_embedded(s_text, NULL, 0) == 0,
                   "notification templates");
    }
    /* The operators' language from the input, so every file's templates run. */
    tb_lang_t operators = (tb_lang_t)(TB_LANG_EN + (int)((uint64_t)ev->seq % 4));
    Techbridge__Notification **items = NULL;
    int n = notification_map_event(s_text, operators, arena, ev, &items);
    FUZZ_CHECK(n >= -2, "notification_map_event result");
    for (int i = 0; i < n; i++) {
        Techbridge__Notification *note = items[i];
        FUZZ_CHECK(note != NULL, "a NULL notification");
        FUZZ_CHECK(note->recipient != NULL, "a notification without recipient");
        note->created_at = FUZZ_NOW_MS;
        note->seq = i + 1;
        fuzz_repack(arena, &note->base); /* the store packs it */
        fuzz_json_drop(tb_json_from_notification(note));
    }
    tb_arena_destroy(&arena);
#endif
}

/*  A consumer's handling of a reply (tb_feed_consumer_on_readable, s_apply_batch). */
static void s_batch(const uint8_t *data, size_t size)
{
    tb_arena_t *arena = tb_arena_new((size_t)S_REPLY_MAX * 8);
    FUZZ_CHECK(arena != NULL, "arena");
    Techbridge__FeedBatch *b = (Techbridge__FeedBatch *)tb_wire_unpack(
        arena, &techbridge__feed_batch__descriptor, data, size, S_REPLY_MAX);
    if (b) {
        fuzz_repack(arena, &b->base);
        if (!(b->error && b->error[0])) {
            int64_t cursor = 0;
            for (size_t i = 0; i < b->n_events; i++) {
                const Techbridge__Event *ev = b->events[i];
                FUZZ_CHECK(ev != NULL, "a NULL event in a batch");
                if (ev->seq <= cursor)
                    continue;
                s_event(ev);
                cursor = ev->seq;
            }
        }
    }
    tb_arena_destroy(&arena);
}

/*  The producer reading its outbox (s_read: an arena without a cap). */
static void s_outbox(const uint8_t *data, size_t size)
{
    tb_arena_t *arena = tb_arena_new(0);
    FUZZ_CHECK(arena != NULL, "arena");
    Techbridge__Event *ev = (Techbridge__Event *)tb_wire_unpack(
        arena, &techbridge__event__descriptor, data, size, S_EVENT_MAX);
    if (ev) {
        ev->seq = 1;
        ev->stream = tb_arena_strdup(arena, "requests");
        fuzz_repack(arena, &ev->base);
        s_event(ev);
    }
    tb_arena_destroy(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_fetch(data, size);
    s_batch(data, size);
    s_outbox(data, size);
    return 0;
}
