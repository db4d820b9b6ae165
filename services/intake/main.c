/*  tb-intake: the requests service. Thin: options, the runtime, the core's
    handler, the request event feed and the expiry sweep. */
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
    TB_OPTION_END};

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
    long sweep_s = 0;
    if (tb_config_switch(config, "migrate"))
        code = tb_service_run(service) == 0 ? 0 : 1; /* migrates and returns */
    else if (tb_config_long(config, "sweep-interval", 1, 86400, &sweep_s) != 0)
        code = 2; /* a bad value, like a bad flag (logged) */
    else if (!(core = intake_core_new(tb_service_db(service)))) {
        tb_error("intake.start_failed", NULL, TB_S("reason", "out of memory"));
        code = 1;
    } else if (tb_service_bind_api_batch(service, tb_config_get(config, "api"),
                                         intake_core_handle_batch, core) != 0 ||
               tb_service_serve_feed(service, TB_STREAM_REQUESTS,
                                     tb_config_get(config, "feed")) != 0 ||
               tb_service_every(service, (int)sweep_s * 1000, intake_core_sweep, core) !=
                   0)
        code = 1; /* logged by the runtime */
    else
        code = tb_service_run(service) == 0 ? 0 : 1;
    tb_service_destroy(&service);
    intake_core_destroy(&core);
    tb_config_destroy(&config);
    return code;
}
