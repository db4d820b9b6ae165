/*  tb_embedded: data files under deploy/ that every binary carries, compiled
    in by embed_files.cmake (stop words, notification templates), so that a
    binary never depends on where it is installed. */
#ifndef TB_EMBEDDED_H
#define TB_EMBEDDED_H

#include <stddef.h>

/*  The file at `name` (relative to deploy/, e.g. "text/stopwords-en.txt"), or
    NULL when no such file was embedded. *len gets its size when not NULL. */
const char *tb_embedded_get(const char *name, size_t *len);

#endif
