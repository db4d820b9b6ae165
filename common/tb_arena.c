/*  tb_arena: a bump allocator over a list of zeroed chunks. */
#include "tb_arena.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ALIGN      16
#define S_CHUNK_SIZE (16 * 1024)

typedef struct s_chunk_t {
    struct s_chunk_t *next;
    size_t size; /* usable bytes in data */
    size_t used;
    /* Keeps data 16-byte aligned: the header is padded to a multiple of 16. */
    _Alignas(S_ALIGN) unsigned char data[];
} s_chunk_t;

struct tb_arena_t {
    size_t cap;   /* 0: no limit */
    size_t used;  /* bytes handed out, after alignment */
    bool refused; /* an allocation was refused because of the cap */
    s_chunk_t *head;
    ProtobufCAllocator allocator;
};

static void *s_pb_alloc(void *data, size_t size)
{
    return tb_arena_alloc((tb_arena_t *)data, size);
}

static void s_pb_free(void *data, void *ptr)
{
    /* The arena frees everything at once. */
    (void)data;
    (void)ptr;
}

tb_arena_t *tb_arena_new(size_t cap)
{
    tb_arena_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = cap;
    self->allocator.alloc = s_pb_alloc;
    self->allocator.free = s_pb_free;
    self->allocator.allocator_data = self;
    return self;
}

void tb_arena_destroy(tb_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_arena_t *self = *self_p;
    s_chunk_t *chunk = self->head;
    while (chunk) {
        s_chunk_t *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    free(self);
    *self_p = NULL;
}

void *tb_arena_alloc(tb_arena_t *self, size_t size)
{
    if (!self)
        return NULL;
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1);
    if (self->cap && (size > self->cap || self->used > self->cap - size)) {
        self->refused = true;
        return NULL;
    }

    s_chunk_t *chunk = self->head;
    if (!chunk || chunk->size - chunk->used < size) {
        size_t want = size > S_CHUNK_SIZE / 4 ? size : S_CHUNK_SIZE;
        s_chunk_t *fresh = calloc(1, sizeof *fresh + want);
        if (!fresh)
            return NULL;
        fresh->size = want;
        if (chunk && want == size && chunk->size - chunk->used >= S_CHUNK_SIZE / 8) {
            /* A big block gets its own chunk behind the current one, so that
               the room left in the current chunk is not wasted. */
            fresh->next = chunk->next;
            chunk->next = fresh;
            fresh->used = size;
            self->used += size;
            return fresh->data;
        }
        fresh->next = chunk;
        self->head = fresh;
        chunk = fresh;
    }
    void *p = chunk->data + chunk->used;
    chunk->used += size;
    self->used += size;
    return p;
}

char *tb_arena_strndup(tb_arena_t *self, const char *s, size_t n)
{
    if (!s) {
        s = "";
        n = 0;
    }
    size_t len = strnlen(s, n);
    char *out = tb_arena_alloc(self, len + 1);
    if (!out)
        return NULL;
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

char *tb_arena_strdup(tb_arena_t *self, const char *s)
{
    if (!s)
        s = "";
    return tb_arena_strndup(self, s, strlen(s));
}

char *tb_arena_printf(tb_arena_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *out = tb_arena_alloc(self, (size_t)n + 1);
    if (!out)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

ProtobufCAllocator *tb_arena_allocator(tb_arena_t *self)
{
    return self ? &self->allocator : NULL;
}

size_t tb_arena_used(const tb_arena_t *self)
{
    return self ? self->used : 0;
}

void *tb_arena_pb_new(tb_arena_t *self, const ProtobufCMessageDescriptor *desc)
{
    if (!desc)
        return NULL;
    void *msg = tb_arena_alloc(self, desc->sizeof_message);
    if (!msg)
        return NULL;
    protobuf_c_message_init(desc, msg);
    return msg;
}

bool tb_arena_refused(const tb_arena_t *self)
{
    return self && self->refused;
}

size_t tb_arena_cap(const tb_arena_t *self)
{
    return self ? self->cap : 0;
}
