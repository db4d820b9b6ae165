/*  gateway_admin: --user-add, --user-passwd, --user-disable, --token-add. */
#ifndef GATEWAY_ADMIN_H
#define GATEWAY_ADMIN_H

#include <stdbool.h>

#include "gateway_store.h"
#include "tb_config.h"

/*  True when the command line asks for one of the commands. */
bool gw_admin_requested(const tb_config_t *config);
/*  Runs the command asked for. Returns the exit status (0 done, 1 refused or
    failed, 2 bad input), or -1 when none was asked for. */
int gw_admin_run(const tb_config_t *config, gw_store_t *store);

#endif
