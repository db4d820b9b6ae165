/*  tb_pgarray: a PostgreSQL array literal ("{...}") built element by element, so
    that a batch of rows travels as one parameter of one set-wise statement
    (SELECT ... FROM unnest($1::text[], $2::bigint[]) ...). Elements are quoted
    and escaped for the array syntax; the literal is a parameter, never SQL. */
#ifndef TB_PGARRAY_H
#define TB_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"

typedef struct tb_pgarray_t tb_pgarray_t;

tb_pgarray_t *tb_pgarray_new(void);
void tb_pgarray_destroy(tb_pgarray_t **self_p);

/*  Appends one element. Out of memory is remembered and reported by
    tb_pgarray_literal. */
void tb_pgarray_text(tb_pgarray_t *self, const char *s);
void tb_pgarray_int(tb_pgarray_t *self, int64_t v);
/*  Bytes as a hex text element: decode it in SQL with decode(x, 'hex'). */
void tb_pgarray_hex(tb_pgarray_t *self, const uint8_t *p, size_t len);

/*  The literal, owned by the array (valid until destroy; append nothing after);
    NULL when memory ran out on the way. */
const char *tb_pgarray_literal(tb_pgarray_t *self);
/*  The literal copied into `arena`, for a parameter that must outlive the
    array (a statement of tb_db_pipeline); NULL when memory ran out. */
const char *tb_pgarray_copy(tb_pgarray_t *self, tb_arena_t *arena);

#endif
