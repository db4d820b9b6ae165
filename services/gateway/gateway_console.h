/*  gateway_console: the web console's files (services/gateway/console/),
    compiled into tb-gateway by embed_files.cmake, so that the console is served
    from memory: nothing from a CDN, nothing from the disk at run time, and no
    path on the disk that a request could climb out of. */
#ifndef GATEWAY_CONSOLE_H
#define GATEWAY_CONSOLE_H

#include <stddef.h>

/*  The file at `name` (relative to console/, e.g. "app.js"), or NULL. */
const char *gw_console_get(const char *name, size_t *len);

#endif
