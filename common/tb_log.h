/*  tb_log: structured logging, one JSON object (or one text line) per event on
    stderr. The process's logger is its one global: set up once in main. */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { TB_LOG_DEBUG, TB_LOG_INFO, TB_LOG_WARN, TB_LOG_ERROR } tb_level_t;

typedef enum { TB_F_END, TB_F_STR, TB_F_INT, TB_F_DBL, TB_F_BOOL } tb_ftype_t;

/*  One field of a log line. Values are data, never format strings: a string
    value is escaped (control characters, quotes, invalid UTF-8) before output. */
typedef struct {
    const char *key;
    tb_ftype_t type;
    const char *s;
    int64_t i;
    double d;
} tb_field_t;

#define TB_S(k, v) ((tb_field_t){.key = (k), .type = TB_F_STR, .s = (v)})
#define TB_I(k, v) ((tb_field_t){.key = (k), .type = TB_F_INT, .i = (int64_t)(v)})
#define TB_D(k, v) ((tb_field_t){.key = (k), .type = TB_F_DBL, .d = (double)(v)})
#define TB_B(k, v) ((tb_field_t){.key = (k), .type = TB_F_BOOL, .i = (v) ? 1 : 0})
#define TB_F_END_  ((tb_field_t){.key = NULL, .type = TB_F_END})

/*  Sets the service name, level ("debug", "info", "warn", "error") and format
    ("json" or "text"). NULL keeps the default (info, json). Returns 0, or -1 on an
    unknown level or format (the defaults stay). */
int tb_log_setup(const char *service, const char *level, const char *format);

bool tb_log_enabled(tb_level_t level);

/*  Writes one line: ts, level, service, event, correlation_id (omitted when NULL
    or empty), then the fields, which end with a TB_F_END entry. One write(2) per
    line, so lines from one process never interleave. */
void tb_log_fields(tb_level_t level, const char *event, const char *correlation_id,
                   const tb_field_t *fields);

/*  tb_log (TB_LOG_INFO, "api.call", cid, TB_S ("kind", "submit"), TB_I ("us", 120)); */
#define tb_log(level, event, cid, ...)                                                   \
    tb_log_fields((level), (event), (cid),                                               \
                  (const tb_field_t[]){__VA_ARGS__ __VA_OPT__(, ) TB_F_END_})
#define tb_debug(event, cid, ...) tb_log(TB_LOG_DEBUG, event, cid, __VA_ARGS__)
#define tb_info(event, cid, ...)  tb_log(TB_LOG_INFO, event, cid, __VA_ARGS__)
#define tb_warn(event, cid, ...)  tb_log(TB_LOG_WARN, event, cid, __VA_ARGS__)
#define tb_error(event, cid, ...) tb_log(TB_LOG_ERROR, event, cid, __VA_ARGS__)

/*  Escapes `s` (at most `len` bytes) as the body of a JSON string into `out`
    (`cap` bytes, always NUL-terminated, truncated if needed): quotes, backslash
    and control characters escaped, invalid UTF-8 replaced by U+FFFD. Returns the
    length written. Shared with anything else that writes JSON by hand. */
size_t tb_json_escape(char *out, size_t cap, const char *s, size_t len);

#endif
