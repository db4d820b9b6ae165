/*  notification_store: the SQL of tb-notification (tables of
    deploy/migrations/004_notification.sql). Every function runs prepared
    statements on the caller's session; none opens or ends a transaction. */
#ifndef NOTIFICATION_STORE_H
#define NOTIFICATION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.pb-c.h"
#include "tb_arena.h"
#include "tb_db.h"

/*  Registers the statements with the session (idempotent; cheap to call before
    every use, so that it happens after migrations ran). Returns 0 or -1. */
int notification_store_prepare(tb_db_t *db);

/*  Stores `n` (recipient, kind, subject_id, subject_version, correlation_id,
    created_at, text, request/match set) unless that (recipient, kind, subject,
    version) is stored already. On a new row sets n->seq to the recipient's next
    gap-free sequence number, *created true, and packs the message into the arena
    (*packed, *packed_len). Must run in a transaction (the recipient's row lock
    orders the sequence). Returns 0, or -1 on database failure (roll back). */
int notification_store_insert(tb_db_t *db, tb_arena_t *arena, Techbridge__Notification *n,
                              bool *created, uint8_t **packed, size_t *packed_len);

/*  Up to `limit` notifications of `recipient` after seq `after`, by seq, into the
    arena; stops early once their packed size passes `budget` bytes (at least one
    is returned when there is one). *last_seq: the recipient's highest seq (0 when
    it has none). Returns the count (>= 0) or -1. */
int notification_store_list(tb_db_t *db, tb_arena_t *arena, const char *recipient,
                            int64_t after, int limit, size_t budget,
                            Techbridge__Notification ***out, int64_t *last_seq);

/*  Moves the recipient's acknowledged position to max(acked, min(upto,
    last_seq)). Fills `stats` (recipient is set by the caller). Returns 0 or -1. */
int notification_store_ack(tb_db_t *db, const char *recipient, int64_t upto,
                           Techbridge__RecipientStats *stats);

/*  Stats of one recipient (`recipient` non-NULL: always one entry, zeros when it
    has none) or of every recipient (NULL), into the arena. Returns the count or
    -1. */
int notification_store_stats(tb_db_t *db, tb_arena_t *arena, const char *recipient,
                             Techbridge__RecipientStats ***out);

#endif
