/*  fuzz_common: what the fuzz targets share. Each target feeds its bytes to one
    decoder from the network, then to what the project does with the decoded
    message, and checks properties that must hold for any input (a decoded
    message re-packs, and the re-packed bytes decode to the same bytes). A
    broken property aborts, so libFuzzer saves the input as a crash. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"
#include "techbridge.pb-c.h"

/*  The limits of the services (tb_service.c): max-frame 256 KiB by default, a
    call's arena 16 x max-frame. */
#define FUZZ_MAX_FRAME (256u * 1024)
#define FUZZ_ARENA_CAP (16u * FUZZ_MAX_FRAME)

/*  A fixed "now" (2026-01-01T00:00:00Z), so that a crash reproduces. */
#define FUZZ_NOW_MS INT64_C(1767225600000)

/*  Aborts with a message when `cond` is false (a broken property). */
#define FUZZ_CHECK(cond, what)                                                           \
    do {                                                                                 \
        if (!(cond))                                                                     \
            fuzz_fail(__FILE__, __LINE__, (what));                                       \
    } while (0)

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/*  For tb_valid_normalise: a strdup into the arena `ctx`. */
char *fuzz_dup(void *ctx, const char *s);

/*  Packs `msg`, unpacks the bytes again (no size limit, an arena without a cap)
    and checks that the second packing gives the same bytes. Skipped (returns)
    when `arena` is full. */
void fuzz_repack(tb_arena_t *arena, const ProtobufCMessage *msg);

/*  The number of unknown fields in the message tree. What a service stores or
    forwards must have none (see fuzz_repack). */
size_t fuzz_unknown_fields(const ProtobufCMessage *msg);

/*  Serialises a JSON document made by tb_json_* (NULL is fine: conversion
    failures are allowed) and drops it. */
void fuzz_json_drop(json_t *doc);

/*  Runs each string of the message tree through tb_json_escape, as the log does
    with untrusted fields. */
void fuzz_escape_strings(const ProtobufCMessage *msg);

/*  Every pure check of a request the services make: tb_valid_normalise then
    tb_valid_request (default sectors, FUZZ_NOW_MS), the JSON form, and with the
    intake library the content copy and fingerprint. `req` is changed in
    place (normalised). Returns the number of violations. */
size_t fuzz_check_request(tb_arena_t *arena, Techbridge__Request *req);

/*  A valid stored request (built in the arena), for edit merges. NULL when the
    arena is full. */
Techbridge__Request *fuzz_stored_request(tb_arena_t *arena);

#endif
