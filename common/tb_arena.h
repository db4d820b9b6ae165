/*  tb_arena: a bump allocator for everything one call builds or decodes, freed
    at once. Its cap bounds what untrusted input can make us allocate: protobuf-c
    unpacks through tb_arena_allocator, so a hostile frame hits the cap, not the
    heap. */
#ifndef TB_ARENA_H
#define TB_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tb_arena_t tb_arena_t;

/*  cap: the most bytes the arena hands out in all; 0 means no limit. */
tb_arena_t *tb_arena_new(size_t cap);
void tb_arena_destroy(tb_arena_t **self_p);

/*  Zeroed memory aligned for any type, or NULL when the cap would be passed. */
void *tb_arena_alloc(tb_arena_t *self, size_t size);
/*  Copies; NULL in gives "" out (never NULL unless out of cap). */
char *tb_arena_strdup(tb_arena_t *self, const char *s);
char *tb_arena_strndup(tb_arena_t *self, const char *s, size_t n);
/*  printf into the arena. `fmt` must be a literal of ours, never data. */
char *tb_arena_printf(tb_arena_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*  An allocator for protobuf_c_message_unpack; free is a no-op (the arena frees). */
ProtobufCAllocator *tb_arena_allocator(tb_arena_t *self);
/*  Bytes handed out so far. */
size_t tb_arena_used(const tb_arena_t *self);
/*  True once an allocation was refused because it would pass the cap: a
    decoder that failed then ran out of room, the input may be well formed. */
bool tb_arena_refused(const tb_arena_t *self);
/*  The cap given to tb_arena_new (0: none). */
size_t tb_arena_cap(const tb_arena_t *self);

/*  A new initialised protobuf-c message of `desc` in the arena, or NULL (cap):
    Techbridge__Org *org = TB_PB_NEW (a, Techbridge__Org, techbridge__org__descriptor); */
void *tb_arena_pb_new(tb_arena_t *self, const ProtobufCMessageDescriptor *desc);
#define TB_PB_NEW(arena, Type, desc) ((Type *)tb_arena_pb_new((arena), &(desc)))

#endif
