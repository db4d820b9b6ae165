/*  tb-intake: the requests service. Thin: options, the runtime, the core's
    handler (on a pool of workers, each with its own database session), the
    request event feed and the expiry sweep (on the service's session). */
#include <stdio.h>
#include <stdlib.h>

#include "intake_core.h"
#include "tb_config.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_service.h"

static const tb_option_t s_options[] = {
    TB_COMMON_OPTIONS,
    {"api", "TB_INTAKE_API", "tcp://127.0.0.1:7101", "API endpoint to bind (ROUTER)",
     false},
    {"feed", "TB_INTAKE_FEED", "tcp://127.0.0.1:7102",
     "request event feed endpoint to bind (ROUTER)", false},
    {"sweep-interval", "TB_SWEEP_INTERVAL", "60",
     "seconds between expiry sweeps (1..86400)", false},
    {"api-sessions", "TB_INTAKE_API_SESSIONS", "2",
     "database sessions (worker threads) serving API calls (1..16)", false},
    TB_OPTION_END};

/*  Each API worker gets a core over its own session (tb_pool). */
static void *s_core_new(tb_db_t *db, void *arg)
{
    (void)arg;
    return intake_core_new(db);
}

static void s_core_destroy(void **core_p)
{
    intake_core_t *core = *core_p;
    intake_core_destroy(&core);
    *core_p = NULL;
}

int main(int argc, char **argv)
{
    int code = 0;
    tb_config_t *config = tb_config_new(
        "tb-intake",
        "techbridge intake: technology offers and needs, their life and history",
        s_options, argc, argv, &code);
    if (!config)
        return code;
    tb_service_t *service = tb_service_new("intake", config);
    if (!service) {
        tb_config_destroy(&config);
        return 1;
    }
    intake_core_t *core = NULL;
    long sweep_s = 0, sessions = 0;
    if (tb_config_switch(config, "migrate"))
        code = tb_service_run(service) == 0 ? 0 : 1; /* migrates and returns */
    else if (tb_config_long(config, "sweep-interval", 1, 86400, &sweep_s) != 0 ||
             tb_config_long(config, "api-sessions", 1, TB_POOL_MAX, &sessions) != 0)
        code = 2; /* a bad value, like a bad flag (logged) */
    else if (!(core = intake_core_new(tb_service_db(service)))) {
        tb_error("intake.start_failed", NULL, TB_S("reason", "out of memory"));
        code = 1;
    } else if (tb_service_bind_api_batch(
                   service, tb_config_get(config, "api"),
                   &(tb_api_pool_t){.fn = intake_core_handle_batch,
                                    .core_new = s_core_new,
                                    .core_destroy = s_core_destroy,
                                    .sessions = (size_t)sessions}) != 0 ||
               tb_service_serve_feed(service, TB_STREAM_REQUESTS,
                                     tb_config_get(config, "feed")) != 0 ||
               tb_service_every(service, (int)sweep_s * 1000, intake_core_sweep, core) !=
                   0 ||
               tb_service_every(service, INTAKE_REANALYSE_MS, intake_core_reanalyse,
                                core) != 0)
        code = 1; /* logged by the runtime */
    else
        code = tb_service_run(service) == 0 ? 0 : 1;
    tb_service_destroy(&service);
    intake_core_destroy(&core);
    tb_config_destroy(&config);
    return code;
}
