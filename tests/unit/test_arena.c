/*  tb_arena: bump allocation, cap, alignment, strings, protobuf-c allocator. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "api.pb-c.h"
#include "tb_arena.h"

Test(arena, alloc_is_zeroed_aligned_and_distinct)
{
    tb_arena_t *a = tb_arena_new(0);
    cr_assert_not_null(a);
    unsigned char *prev = NULL;
    for (size_t size = 1; size < 3000; size += 37) {
        unsigned char *p = tb_arena_alloc(a, size);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 16, 0, "misaligned for size %zu", size);
        for (size_t i = 0; i < size; i++)
            cr_assert_eq(p[i], 0);
        memset(p, 0xab, size);
        cr_assert_neq(p, prev);
        prev = p;
    }
    /* Zero bytes still gives a usable, distinct pointer. */
    void *z1 = tb_arena_alloc(a, 0), *z2 = tb_arena_alloc(a, 0);
    cr_assert(z1 && z2 && z1 != z2);
    tb_arena_destroy(&a);
    cr_assert_null(a);
    tb_arena_destroy(&a); /* NULL is fine */
}

Test(arena, large_blocks_past_chunk_size)
{
    tb_arena_t *a = tb_arena_new(0);
    char *small = tb_arena_strdup(a, "before");
    unsigned char *big = tb_arena_alloc(a, 1 << 20);
    cr_assert_not_null(big);
    cr_assert_eq((uintptr_t)big % 16, 0);
    cr_assert_eq(big[0], 0);
    cr_assert_eq(big[(1 << 20) - 1], 0);
    memset(big, 0x5a, 1 << 20);
    char *after = tb_arena_strdup(a, "after");
    cr_assert_str_eq(small, "before");
    cr_assert_str_eq(after, "after");
    cr_assert_geq(tb_arena_used(a), (size_t)1 << 20);
    tb_arena_destroy(&a);
}

Test(arena, cap_bounds_what_is_handed_out)
{
    tb_arena_t *a = tb_arena_new(1000);
    int n = 0;
    while (tb_arena_alloc(a, 100)) {
        n++;
        cr_assert_lt(n, 100, "cap never reached");
    }
    cr_assert_leq(tb_arena_used(a), (size_t)1000);
    cr_assert_gt(n, 0);
    /* Once over, nothing big passes, and huge sizes never overflow. */
    cr_assert_null(tb_arena_alloc(a, 1000));
    cr_assert_null(tb_arena_alloc(a, SIZE_MAX));
    cr_assert_null(tb_arena_alloc(a, SIZE_MAX - 8));
    char past[200];
    memset(past, 'x', sizeof past - 1);
    past[sizeof past - 1] = '\0';
    cr_assert_null(tb_arena_strdup(a, past));
    cr_assert_leq(tb_arena_used(a), (size_t)1000);
    tb_arena_destroy(&a);

    tb_arena_t *u = tb_arena_new(0);
    cr_assert_null(tb_arena_alloc(u, SIZE_MAX));
    tb_arena_destroy(&u);
}

Test(arena, strings)
{
    tb_arena_t *a = tb_arena_new(0);
    cr_assert_str_eq(tb_arena_strdup(a, "héllo"), "héllo");
    cr_assert_str_eq(tb_arena_strdup(a, NULL), "");
    cr_assert_str_eq(tb_arena_strndup(a, "abcdef", 3), "abc");
    cr_assert_str_eq(tb_arena_strndup(a, "ab", 10), "ab");
    cr_assert_str_eq(tb_arena_strndup(a, NULL, 10), "");
    cr_assert_str_eq(tb_arena_printf(a, "%s-%d-%.2f", "x", 42, 1.5), "x-42-1.50");
    char long_s[5000];
    memset(long_s, 'q', sizeof long_s - 1);
    long_s[sizeof long_s - 1] = '\0';
    char *p = tb_arena_printf(a, "<%s>", long_s);
    cr_assert_eq(strlen(p), sizeof long_s + 1);
    cr_assert_eq(p[0], '<');
    cr_assert_eq(p[sizeof long_s], '>');
    tb_arena_destroy(&a);
}

Test(arena, pb_new_initialises)
{
    tb_arena_t *a = tb_arena_new(0);
    Techbridge__Org *org = TB_PB_NEW(a, Techbridge__Org, techbridge__org__descriptor);
    cr_assert_not_null(org);
    cr_assert_eq(org->base.descriptor, &techbridge__org__descriptor);
    cr_assert_str_eq(org->id, "");
    Techbridge__ApiReply *r =
        TB_PB_NEW(a, Techbridge__ApiReply, techbridge__api_reply__descriptor);
    cr_assert_not_null(r);
    cr_assert_null(r->error);
    cr_assert_eq(r->result_case, TECHBRIDGE__API_REPLY__RESULT__NOT_SET);
    tb_arena_destroy(&a);

    tb_arena_t *tiny = tb_arena_new(16);
    cr_assert_null(TB_PB_NEW(tiny, Techbridge__Request, techbridge__request__descriptor));
    tb_arena_destroy(&tiny);
}

Test(arena, protobuf_allocator_round_trip)
{
    Techbridge__Org org = TECHBRIDGE__ORG__INIT;
    org.id = "org.by-1";
    org.name = "Minsk Tractor";
    org.country = "BY";
    uint8_t buf[128];
    size_t len = techbridge__org__pack(&org, buf);

    tb_arena_t *a = tb_arena_new(4096);
    ProtobufCAllocator *alloc = tb_arena_allocator(a);
    cr_assert_not_null(alloc);
    size_t before = tb_arena_used(a);
    Techbridge__Org *out = techbridge__org__unpack(alloc, len, buf);
    cr_assert_not_null(out);
    cr_assert_str_eq(out->id, "org.by-1");
    cr_assert_str_eq(out->name, "Minsk Tractor");
    cr_assert_gt(tb_arena_used(a), before, "unpack did not draw from the arena");
    /* free is a no-op: the arena owns the memory. */
    techbridge__org__free_unpacked(out, alloc);
    tb_arena_destroy(&a);
}
