/*  tb-matching: pairs published offers with needs (SPEC section 3). Thin: the
    options, the service runtime, the core's handler and feeds. */
#include <stdlib.h>

#include "matching_core.h"
#include "tb_config.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_service.h"

static const tb_option_t s_options[] = {
    TB_COMMON_OPTIONS,
    {"api", "TB_MATCHING_API", "tcp://127.0.0.1:7103", "API endpoint to bind (ROUTER)",
     false},
    {"feed", "TB_MATCHING_FEED", "tcp://127.0.0.1:7104",
     "match event feed endpoint to bind (ROUTER)", false},
    {"intake-feed", "TB_INTAKE_FEED_CONNECT", "tcp://127.0.0.1:7102",
     "tb-intake's request event feed to follow", false},
    {"threshold", "TB_MATCH_THRESHOLD", "0.35", "lowest score kept as a match (0..1)",
     false},
    {"top-k", "TB_MATCH_TOP_K", "20", "most matches proposed per request (1..1000)",
     false},
    TB_OPTION_END,
};

int main(int argc, char **argv)
{
    int exit_code = 0;
    tb_config_t *config = tb_config_new("tb-matching", "techbridge matching service",
                                        s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;
    const char *threshold_s = tb_config_get(config, "threshold");
    char *end = NULL;
    double threshold = threshold_s ? strtod(threshold_s, &end) : -1;
    long top_k = 0;
    if (!threshold_s || end == threshold_s || *end ||
        !(threshold >= 0 && threshold <= 1) ||
        tb_config_long(config, "top-k", 1, 1000, &top_k) < 0) {
        tb_log_setup("matching", NULL, NULL);
        tb_error("config.invalid", NULL,
                 TB_S("error", "--threshold must be in [0,1] and --top-k in [1,1000]"));
        tb_config_destroy(&config);
        return 2;
    }
    tb_service_t *service = tb_service_new("matching", config);
    if (!service) {
        tb_config_destroy(&config);
        return 1;
    }
    matching_core_t *core =
        matching_core_new(tb_service_db(service), threshold, (int)top_k);
    int rc = -1;
    if (core &&
        tb_service_bind_api(service, tb_config_get(config, "api"), matching_core_api,
                            core) == 0 &&
        tb_service_serve_feed(service, TB_STREAM_MATCHES,
                              tb_config_get(config, "feed")) == 0 &&
        tb_service_consume(service, "matching", TB_STREAM_REQUESTS,
                           tb_config_get(config, "intake-feed"), matching_core_apply,
                           NULL, core) == 0)
        rc = tb_service_run(service);
    tb_service_destroy(&service);
    matching_core_destroy(&core);
    tb_config_destroy(&config);
    return rc == 0 ? 0 : 1;
}
