/*  tb_pgarray: PostgreSQL array literals for set-wise statements. */
#include "tb_pgarray.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb_pgarray_t {
    char *data;
    size_t len, cap;
    size_t count;
    bool failed; /* sticks once set */
    bool closed;
};

tb_pgarray_t *tb_pgarray_new(void)
{
    return calloc(1, sizeof(tb_pgarray_t));
}

void tb_pgarray_destroy(tb_pgarray_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->data);
    free(*self_p);
    *self_p = NULL;
}

static void s_put(tb_pgarray_t *self, const char *s, size_t n)
{
    if (self->failed)
        return;
    if (self->len + n + 1 > self->cap) {
        size_t cap = self->cap ? self->cap : 256;
        while (cap < self->len + n + 1)
            cap *= 2;
        char *data = realloc(self->data, cap);
        if (!data) {
            self->failed = true;
            return;
        }
        self->data = data;
        self->cap = cap;
    }
    memcpy(self->data + self->len, s, n);
    self->len += n;
    self->data[self->len] = '\0';
}

/*  "{" before the first element, "," before the others. */
static void s_next(tb_pgarray_t *self)
{
    s_put(self, self->count++ == 0 ? "{" : ",", 1);
}

void tb_pgarray_text(tb_pgarray_t *self, const char *s)
{
    s_next(self);
    s_put(self, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            s_put(self, run, (size_t)(s - run));
            s_put(self, "\\", 1);
            run = s;
        }
    }
    s_put(self, run, (size_t)(s - run));
    s_put(self, "\"", 1);
}

void tb_pgarray_int(tb_pgarray_t *self, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    s_next(self);
    s_put(self, num, (size_t)n);
}

void tb_pgarray_hex(tb_pgarray_t *self, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char chunk[128];
    size_t k = 0;
    s_next(self);
    for (size_t i = 0; i < len; i++) {
        chunk[k++] = digits[p[i] >> 4];
        chunk[k++] = digits[p[i] & 15];
        if (k == sizeof chunk) {
            s_put(self, chunk, k);
            k = 0;
        }
    }
    /*  An empty element must still be an element: "" */
    if (len == 0)
        s_put(self, "\"\"", 2);
    s_put(self, chunk, k);
}

const char *tb_pgarray_literal(tb_pgarray_t *self)
{
    if (!self->closed) {
        s_put(self, self->count == 0 ? "{}" : "}", self->count == 0 ? 2 : 1);
        self->closed = true;
    }
    return self->failed ? NULL : self->data;
}

const char *tb_pgarray_copy(tb_pgarray_t *self, tb_arena_t *arena)
{
    const char *literal = tb_pgarray_literal(self);
    return literal ? tb_arena_strdup(arena, literal) : NULL;
}
