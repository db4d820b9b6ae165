/*  tb_log: one JSON object (or one text line) per event on stderr, written with
    one write(2) from a bounded line buffer. */
#include "tb_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_LINE_MAX  8192 /* a line never grows past this */
#define S_VALUE_MAX 4096 /* nor one string value (escaped) */
#define S_RESERVE   48   /* kept free for the truncation marker and the end */

static struct {
    char service[64];
    tb_level_t level;
    bool text;
} s_log = {"techbridge", TB_LOG_INFO, false};

static const char *s_level_names[] = {"debug", "info", "warn", "error"};
static const char *s_level_upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};

int tb_log_setup(const char *service, const char *level, const char *format)
{
    int rc = 0;
    if (service && *service)
        snprintf(s_log.service, sizeof s_log.service, "%s", service);
    if (level) {
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(level, s_level_names[i]) == 0)
                found = i;
        if (strcmp(level, "warning") == 0)
            found = TB_LOG_WARN;
        if (found < 0)
            rc = -1;
        else
            s_log.level = (tb_level_t)found;
    }
    if (format) {
        if (strcmp(format, "json") == 0)
            s_log.text = false;
        else if (strcmp(format, "text") == 0)
            s_log.text = true;
        else
            rc = -1;
    }
    return rc;
}

bool tb_log_enabled(tb_level_t level)
{
    return level >= s_log.level && level <= TB_LOG_ERROR;
}

/*  Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t s_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned int cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0; /* overlong or out of range */
    if (cp >= 0xd800 && cp <= 0xdfff)
        return 0; /* surrogate */
    return len;
}

/*  Escapes up to `len` bytes of `s` (stopping at a NUL) into out[cap]; never
    splits an escape or a UTF-8 sequence. *consumed tells how much input fit. */
static size_t s_escape(char *out, size_t cap, const char *s, size_t len, size_t *consumed)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i = 0;
    if (cap == 0) {
        *consumed = 0;
        return 0;
    }
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (i < len && p[i]) {
        unsigned char c = p[i];
        char tmp[8];
        size_t tlen, step = 1;
        const char *src = tmp;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            tlen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(tmp, "\\u00", 4);
            tmp[4] = hex[c >> 4];
            tmp[5] = hex[c & 0xf];
            tlen = 6;
        } else if (c < 0x80) {
            tmp[0] = (char)c;
            tlen = 1;
        } else {
            size_t u = s_utf8_len(p + i, strnlen((const char *)p + i, len - i));
            if (u) {
                src = (const char *)p + i;
                tlen = u;
                step = u;
            } else {
                src = "\\ufffd";
                tlen = 6;
            }
        }
        if (o + tlen + 1 > cap)
            break;
        memcpy(out + o, src, tlen);
        o += tlen;
        i += step;
    }
    out[o] = '\0';
    *consumed = i;
    return o;
}

size_t tb_json_escape(char *out, size_t cap, const char *s, size_t len)
{
    size_t consumed;
    if (!out)
        return 0;
    return s_escape(out, cap, s, len, &consumed);
}

typedef struct {
    char buf[S_LINE_MAX];
    size_t len;
    bool truncated; /* something was cut or left out: the line says so */
    bool full;      /* no room for more fields */
} s_line_t;

/*  Room left for content, keeping the reserve for the end of the line. */
static size_t s_room(const s_line_t *l)
{
    return l->len + S_RESERVE < S_LINE_MAX ? S_LINE_MAX - S_RESERVE - l->len : 0;
}

static bool s_put(s_line_t *l, const char *s, size_t n)
{
    if (n > s_room(l)) {
        l->truncated = l->full = true;
        return false;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

static bool s_puts(s_line_t *l, const char *s)
{
    return s_put(l, s, strlen(s));
}

/*  Appends `s` escaped, cut at S_VALUE_MAX or the room left, with "..." when cut.
    Returns false when not even a start fits. */
static bool s_put_escaped(s_line_t *l, const char *s)
{
    size_t room = s_room(l);
    if (room < 8) {
        l->truncated = l->full = true;
        return false;
    }
    /* Keep 3 bytes for "..." and 1 for a closing quote; +1 for the NUL. */
    size_t cap = room - 4 + 1;
    bool by_room = cap <= S_VALUE_MAX;
    if (!by_room)
        cap = S_VALUE_MAX;
    size_t slen = strlen(s ? s : "");
    size_t consumed;
    size_t n = s_escape(l->buf + l->len, cap, s, slen, &consumed);
    l->len += n;
    if (consumed < slen) {
        memcpy(l->buf + l->len, "...", 3);
        l->len += 3;
        l->truncated = true;
        if (by_room)
            l->full = true;
    }
    return true;
}

static bool s_put_quoted(s_line_t *l, const char *s)
{
    return s_put(l, "\"", 1) && s_put_escaped(l, s) && s_put(l, "\"", 1);
}

static void s_put_number(s_line_t *l, const tb_field_t *f)
{
    char num[64];
    if (f->type == TB_F_INT)
        snprintf(num, sizeof num, "%lld", (long long)f->i);
    else if (f->type == TB_F_BOOL)
        snprintf(num, sizeof num, "%s", f->i ? "true" : "false");
    else if (isfinite(f->d))
        snprintf(num, sizeof num, "%.6g", f->d);
    else
        snprintf(num, sizeof num, "null");
    s_puts(l, num);
}

/*  A text value goes bare when it is plain, else quoted and escaped. */
static bool s_is_plain(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '=')
            return false;
    return true;
}

static void s_timestamp(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n > 0 && cap - n >= 6)
        snprintf(out + n, cap - n, ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

static void s_write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

static void s_json_line(s_line_t *l, const char *ts, tb_level_t level, const char *event,
                        const char *cid, const tb_field_t *fields)
{
    s_puts(l, "{\"ts\":\"");
    s_puts(l, ts);
    s_puts(l, "\",\"level\":\"");
    s_puts(l, s_level_names[level]);
    s_puts(l, "\",\"service\":");
    s_put_quoted(l, s_log.service);
    s_puts(l, ",\"event\":");
    s_put_quoted(l, event);
    if (cid && *cid) {
        s_puts(l, ",\"correlation_id\":");
        s_put_quoted(l, cid);
    }
    for (const tb_field_t *f = fields; f && f->type != TB_F_END && !l->full; f++) {
        if (!f->key)
            continue;
        size_t mark = l->len;
        bool ok = s_puts(l, ",") && s_put_quoted(l, f->key) && s_puts(l, ":");
        if (ok && f->type == TB_F_STR) {
            ok = s_put_quoted(l, f->s ? f->s : "");
        } else if (ok) {
            s_put_number(l, f);
            ok = !l->full;
        }
        if (!ok)
            l->len = mark; /* no half field */
    }
    /* The reserve always holds this. */
    if (l->truncated) {
        memcpy(l->buf + l->len, ",\"truncated\":true", 17);
        l->len += 17;
    }
    memcpy(l->buf + l->len, "}\n", 2);
    l->len += 2;
}

static void s_text_line(s_line_t *l, const char *ts, tb_level_t level, const char *event,
                        const char *cid, const tb_field_t *fields)
{
    s_puts(l, ts);
    s_puts(l, " ");
    s_puts(l, s_level_upper[level]);
    s_puts(l, " ");
    s_put_escaped(l, s_log.service);
    s_puts(l, " ");
    s_put_escaped(l, event);
    if (cid && *cid) {
        s_puts(l, " cid=");
        if (s_is_plain(cid))
            s_put_escaped(l, cid);
        else
            s_put_quoted(l, cid);
    }
    for (const tb_field_t *f = fields; f && f->type != TB_F_END && !l->full; f++) {
        if (!f->key)
            continue;
        size_t mark = l->len;
        bool ok = s_puts(l, " ") && s_put_escaped(l, f->key) && s_puts(l, "=");
        if (ok && f->type == TB_F_STR) {
            const char *v = f->s ? f->s : "";
            ok = s_is_plain(v) ? s_put_escaped(l, v) : s_put_quoted(l, v);
        } else if (ok) {
            s_put_number(l, f);
            ok = !l->full;
        }
        if (!ok)
            l->len = mark;
    }
    if (l->truncated) {
        memcpy(l->buf + l->len, " truncated=true", 15);
        l->len += 15;
    }
    l->buf[l->len++] = '\n';
}

void tb_log_fields(tb_level_t level, const char *event, const char *correlation_id,
                   const tb_field_t *fields)
{
    if (level < TB_LOG_DEBUG || level > TB_LOG_ERROR || !tb_log_enabled(level))
        return;
    int saved_errno = errno; /* logging must not disturb the caller's errno */
    char ts[64];
    s_timestamp(ts, sizeof ts);
    static _Thread_local s_line_t line;
    line.len = 0;
    line.truncated = false;
    line.full = false;
    if (s_log.text)
        s_text_line(&line, ts, level, event ? event : "", correlation_id, fields);
    else
        s_json_line(&line, ts, level, event ? event : "", correlation_id, fields);
    s_write_all(line.buf, line.len);
    errno = saved_errno;
}
