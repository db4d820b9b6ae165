/*  notification_core: fan-out of request and match events into stored, per-recipient
    notifications (SPEC section 4), their API (list, ack, stats) and live delivery on
    the XPUB socket.

    Flow: the consumers of the "requests" and "matches" feeds call
    notification_core_apply inside their transaction; it maps the event to
    notifications (notification_map_event), stores each once with the next
    gap-free sequence number of its recipient, and keeps the packed messages in
    memory. After the transaction committed, notification_core_committed publishes
    them as [recipient][Notification] on the XPUB; when the transaction rolled back
    they are dropped when the event is applied again. The stored notifications are
    the truth; the XPUB is a fast path a subscriber catches up from. */
#ifndef NOTIFICATION_CORE_H
#define NOTIFICATION_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "feed.pb-c.h"
#include "notification_text.h"
#include "tb_arena.h"
#include "tb_call.h"
#include "tb_service.h"
#include "tb_text.h"

/*  The recipient of operator notifications. */
#define NOTIFICATION_OPERATORS "operators"
/*  The largest frame the XPUB reads (libzmq's ceiling, ZMQ_MAXMSGSIZE). The
    longest topic that can match is an id of 64 characters and "/" (66 bytes
    with the flag byte); but the ceiling also applies to the CURVE handshake's
    commands (INITIATE: about 300 bytes with its metadata), and under CURVE to
    each frame with 33 bytes more. 512 passes those and keeps a peer from
    handing libzmq's subscription table frames of up to 4 x max-frame. */
#define NOTIFICATION_SUBSCRIPTION_MAX 512
/*  What one subscriber's connection may send within the window (tb_guard_budget):
    the CURVE handshake and a few hundred subscriptions. */
#define NOTIFICATION_SUBSCRIBER_BUDGET    (64 * 1024)
#define NOTIFICATION_SUBSCRIBER_WINDOW_MS 10000
/*  Subscription messages libzmq queues per subscriber (the XPUB's RCVHWM). */
#define NOTIFICATION_SUBSCRIPTION_QUEUE 64
/*  ListNotifications limits. */
#define NOTIFICATION_LIST_DEFAULT 100
#define NOTIFICATION_LIST_MAX     1000

typedef struct notification_core_t notification_core_t;

/*  A stream context: the `arg` of one tb_service_consume (one per stream). */
typedef struct notification_stream_t notification_stream_t;

/*  `db`: the service's session (borrowed), used by the API handler.
    `reply_budget`: the most bytes of notifications one ListNotifications reply
    carries (a page then holds fewer than `limit`; the client continues after the
    last seq it got). `keyed`: CURVE keys are configured, so XPUB subscriptions are
    checked against the subscriber's role. Loads the notification templates
    (notification_text_load_embedded). NULL when out of memory or when a template
    file is broken (logged, naming file, line and problem). */
notification_core_t *notification_core_new(tb_db_t *db, size_t reply_budget, bool keyed);
void notification_core_destroy(notification_core_t **self_p);

/*  The language of the operators' notifications (MATCH_PROPOSED,
    MATCH_DECLINED); English until set. */
void notification_core_set_operators_lang(notification_core_t *self, tb_lang_t lang);

/*  The XPUB socket notifications are published on (owned by the service). With
    `keyed`, sets ZMQ_XPUB_MANUAL so that each subscription is admitted by
    notification_core_on_subscription. Returns 0 or -1. */
int notification_core_set_pub(notification_core_t *self, void *xpub);

/*  The context to pass as `arg` with notification_core_apply/_committed for
    `stream` (TB_STREAM_REQUESTS or TB_STREAM_MATCHES); owned by the core. */
notification_stream_t *notification_core_stream(notification_core_t *self,
                                                const char *stream);

/*  tb_apply_fn (arg: a notification_stream_t): stores the event's notifications
    in the open transaction. 0, or -1 to roll back and retry (database trouble). */
int notification_core_apply(tb_db_t *db, const Techbridge__Event *event, void *arg);
/*  tb_committed_fn (arg: a notification_stream_t): publishes what the committed
    transaction stored. */
void notification_core_committed(const Techbridge__Event *event, void *arg);
/*  tb_wants_fn: whether the event is of a type that notifies anybody. */
bool notification_core_wants(const Techbridge__Event *event, void *arg);

/*  tb_api_fn (core: a notification_core_t): ListNotifications, AckNotifications,
    NotificationStats; other kinds are INVALID_ARGUMENT. */
int notification_core_api(tb_call_t *call, void *core);

/*  tb_readable_fn (arg: a notification_core_t): reads the XPUB's subscription
    frames, logs them and, when keyed, admits only what the subscriber may see. */
void notification_core_on_subscription(tb_service_t *service, void *socket, void *arg);

/* ---- pure parts, for unit tests ---- */

/*  Maps one event to the notifications it causes (SPEC section 4), built in the
    arena without seq and created_at, each text from `text`'s templates in its
    recipient's language: for a request, its org's language, else the request's,
    else English; for MATCH_ACCEPTED, each party's org language, else English;
    for operators, `operators`. Events that notify nobody give 0. Returns the
    count (>= 0), -1 when the event lacks what its type needs (a malformed event:
    logged by the caller and skipped), or -2 when the arena is full. */
int notification_map_event(const notification_text_t *text, tb_lang_t operators,
                           tb_arena_t *arena, const Techbridge__Event *event,
                           Techbridge__Notification ***out);

/*  True when `recipient` names a recipient: "operators" or a valid org id. */
bool notification_valid_recipient(const char *recipient);

/*  True when a caller (`actor`, `is_operator`) may read `recipient`'s
    notifications: operators anything, an organisation only its own. */
bool notification_may_read(const char *actor, bool is_operator, const char *recipient);

/*  Whether a subscriber authenticated as `user_id` (the ZAP User-Id: "operator" or
    an org id; "" when running open) may subscribe to `topic` (`len` bytes). Open
    mode admits everything; keyed, an operator anything, an org only its own id. */
bool notification_may_subscribe(bool keyed, const char *user_id, const void *topic,
                                size_t len);

#endif
