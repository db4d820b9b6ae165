/*  tb-notification: notifications to organisations and operators (SPEC section 4).
    Thin: options, the runtime, the core's handler, feeds and XPUB. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "notification_core.h"
#include "tb_feed.h"
#include "tb_log.h"

static const tb_option_t s_options[] = {
    TB_COMMON_OPTIONS,
    {"api", "TB_NOTIFICATION_API", "tcp://127.0.0.1:7105",
     "API endpoint to bind (ROUTER)", false},
    {"pub", "TB_NOTIFICATION_PUB", "tcp://127.0.0.1:7106",
     "live notification endpoint to bind (XPUB: [recipient][Notification])", false},
    {"pub-hwm", "TB_NOTIFICATION_PUB_HWM", "10000",
     "notifications queued per live subscriber before its live copies are dropped",
     false},
    {"intake-feed", "TB_INTAKE_FEED_CONNECT", "tcp://127.0.0.1:7102",
     "tb-intake's request event feed to connect to", false},
    {"matching-feed", "TB_MATCHING_FEED_CONNECT", "tcp://127.0.0.1:7104",
     "tb-matching's match event feed to connect to", false},
    {"operators-lang", "TB_OPERATORS_LANG", "en",
     "language of the operators' notifications: en, ru, be or zh", false},
    TB_OPTION_END};

/*  tb_service_bind_socket binds at once, and libzmq copies a socket's options
    (the high-water marks among them) into its listener at bind time. So the XPUB
    is bound again after its send HWM and its frame ceiling are set; the
    runtime's CURVE options stay on the socket. The ceiling: a subscriber only
    ever sends subscriptions, and none longer than NOTIFICATION_SUBSCRIPTION_MAX
    can name a topic; a longer frame cuts the connection in libzmq, before it
    costs memory in its table of the peer's subscriptions. Returns 0, or -1. */
static int s_rebind_with_hwm(void *xpub, const char *endpoint, int hwm)
{
    int64_t ceiling = NOTIFICATION_SUBSCRIPTION_MAX;
    /* A subscriber's messages waiting in libzmq: few, so that libzmq takes in
       a flood of subscriptions no faster than the service reads them, and the
       service cuts the connection before libzmq's table of them grows large
       (notification_core_on_subscription). */
    int rcvhwm = NOTIFICATION_SUBSCRIPTION_QUEUE;
    char bound[256];
    size_t size = sizeof bound;
    if (zmq_getsockopt(xpub, ZMQ_LAST_ENDPOINT, bound, &size) != 0 ||
        zmq_unbind(xpub, bound) != 0)
        return -1;
    if (zmq_setsockopt(xpub, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(xpub, ZMQ_MAXMSGSIZE, &ceiling, sizeof ceiling) != 0 ||
        zmq_setsockopt(xpub, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm) != 0)
        return -1;
    /* The I/O thread closes the old listener asynchronously: retry a little. */
    for (int attempt = 0; attempt < 200; attempt++) {
        if (zmq_bind(xpub, endpoint) == 0)
            return 0;
        if (zmq_errno() != EADDRINUSE)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    return -1;
}

int main(int argc, char **argv)
{
    int exit_code = 0;
    tb_config_t *config =
        tb_config_new("tb-notification", "techbridge notification service", s_options,
                      argc, argv, &exit_code);
    if (!config)
        return exit_code;
    tb_service_t *service = tb_service_new("notification", config);
    if (!service) {
        tb_config_destroy(&config);
        return 1;
    }
    int rc = 1;
    notification_core_t *core = NULL;
    if (tb_config_switch(config, "migrate")) {
        rc = tb_service_run(service) == 0 ? 0 : 1;
        goto done;
    }
    long max_frame = 0, hwm = 0;
    if (tb_config_long(config, "max-frame", 1024, 64L * 1024 * 1024, &max_frame) != 0 ||
        tb_config_long(config, "pub-hwm", 1, 10L * 1000 * 1000, &hwm) != 0)
        goto done;
    tb_lang_t operators_lang;
    const char *lang = tb_config_get(config, "operators-lang");
    if (tb_lang_parse(lang, &operators_lang) != 0) {
        /* A typo here would silently give operators English: refuse instead. */
        tb_error("config.invalid", NULL, TB_S("flag", "operators-lang"),
                 TB_S("value", lang ? lang : ""),
                 TB_S("reason", "not a language of ours: en, ru, be or zh"));
        goto done;
    }
    /* Keyed exactly when the runtime runs CURVE (a keys file is set): then each
       XPUB subscription is checked against the subscriber's User-Id. */
    const char *keys = tb_config_get(config, "keys-file");
    core = notification_core_new(tb_service_db(service), (size_t)max_frame,
                                 keys != NULL && *keys != '\0');
    if (!core)
        goto done;
    notification_core_set_operators_lang(core, operators_lang);
    const char *pub = tb_config_get(config, "pub");
    if (tb_service_bind_api(service, tb_config_get(config, "api"), notification_core_api,
                            core) != 0)
        goto done;
    void *xpub = tb_service_bind_socket(service, ZMQ_XPUB, pub,
                                        notification_core_on_subscription, core);
    if (!xpub)
        goto done;
    if (s_rebind_with_hwm(xpub, pub, (int)hwm) != 0) {
        tb_error("pub.bind_failed", NULL, TB_S("endpoint", pub),
                 TB_S("error", zmq_strerror(zmq_errno())));
        goto done;
    }
    if (notification_core_set_pub(core, xpub) != 0)
        goto done;
    /* A subscriber sends a few short subscriptions; libzmq takes in whatever a
       peer queues before the service sees any of it, so a peer that sends much
       more is cut as its bytes arrive (README: memory under hostile peers). */
    if (tb_service_budget(service, xpub, NOTIFICATION_SUBSCRIBER_BUDGET,
                          NOTIFICATION_SUBSCRIBER_WINDOW_MS) != 0)
        goto done;
    tb_info("pub.bound", NULL, TB_S("endpoint", pub), TB_I("sndhwm", hwm));
    if (tb_service_consume_wanted(
            service, "notification", TB_STREAM_REQUESTS,
            tb_config_get(config, "intake-feed"), notification_core_wants,
            notification_core_apply, notification_core_committed,
            notification_core_stream(core, TB_STREAM_REQUESTS)) != 0 ||
        tb_service_consume_wanted(service, "notification", TB_STREAM_MATCHES,
                                  tb_config_get(config, "matching-feed"),
                                  notification_core_wants, notification_core_apply,
                                  notification_core_committed,
                                  notification_core_stream(core, TB_STREAM_MATCHES)) != 0)
        goto done;
    rc = tb_service_run(service) == 0 ? 0 : 1;
done:
    /* The service owns the sockets; destroy it before the core they point at. */
    tb_service_destroy(&service);
    notification_core_destroy(&core);
    tb_config_destroy(&config);
    return rc;
}
