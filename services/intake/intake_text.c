/*  intake_text: pure text helpers of tb-intake (UUIDs, UTF-8 length, page
    tokens). See intake_core.h. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "intake_internal.h"
#include "tb_util.h"

bool intake_is_uuid(const char *s)
{
    return tb_valid_uuid(s);
}

size_t intake_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

char *intake_page_token_encode(tb_arena_t *arena, int64_t created_ms, const char *id)
{
    char plain[64];
    int n = snprintf(plain, sizeof plain, "%" PRId64 ":%s", created_ms, id);
    if (n < 0 || (size_t)n >= sizeof plain)
        return NULL;
    char *out = tb_arena_alloc(arena, (size_t)n * 2 + 1);
    if (!out)
        return NULL;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        out[2 * i] = digits[(unsigned char)plain[i] >> 4];
        out[2 * i + 1] = digits[(unsigned char)plain[i] & 0x0F];
    }
    out[2 * n] = '\0';
    return out;
}

#define INTAKE_PAGE_TOKEN_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

int intake_page_token_decode(const char *token, int64_t *created_ms, char id[37])
{
    if (!token)
        return -1;
    size_t len = strlen(token);
    if (len == 0 || len % 2 != 0 || len > INTAKE_PAGE_TOKEN_MAX)
        return -1;
    char plain[INTAKE_PAGE_TOKEN_MAX / 2 + 1];
    size_t n = len / 2;
    for (size_t i = 0; i < n; i++) {
        int hi = tb_hex_value((unsigned char)token[2 * i]);
        int lo = tb_hex_value((unsigned char)token[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        plain[i] = (char)(hi << 4 | lo);
        if (plain[i] == '\0')
            return -1;
    }
    plain[n] = '\0';
    const char *colon = strchr(plain, ':');
    if (!colon)
        return -1;
    size_t digits = (size_t)(colon - plain);
    if (digits == 0 || digits > 18)
        return -1;
    int64_t ms = 0;
    for (size_t i = 0; i < digits; i++) {
        if (plain[i] < '0' || plain[i] > '9')
            return -1;
        ms = ms * 10 + (plain[i] - '0');
    }
    /*  Past 9999-12-31 PostgreSQL's timestamps end: such a token was never ours,
        and it must not reach SQL as a data error. */
    if (ms > INTAKE_PAGE_TOKEN_MAX_MS || !intake_is_uuid(colon + 1))
        return -1;
    *created_ms = ms;
    memcpy(id, colon + 1, 37);
    return 0;
}
