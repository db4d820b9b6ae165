/*  notification_store: the SQL of tb-notification. */
#include "notification_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_log.h"
#include "tb_wire.h"

/*  A stored payload is at most this big (a Notification carries one request or
    one match, each bounded by intake and matching). */
#define S_PAYLOAD_MAX (1024 * 1024)
/*  NotificationStats over every recipient returns at most this many. */
#define S_STATS_MAX "5000"

static const struct {
    const char *name;
    const char *sql;
} s_statements[] = {
    {"notification_exists",
     "SELECT seq FROM notification_items WHERE recipient = $1 AND kind = $2::int"
     " AND subject_id = $3 AND subject_version = $4::bigint"},
    /* The upsert takes the recipient's row lock until commit: concurrent writers
       for one recipient queue here, so sequence numbers are dense. */
    {"notification_next_seq",
     "INSERT INTO notification_recipients (recipient, last_seq, acked) VALUES ($1, 1, 0)"
     " ON CONFLICT (recipient) DO UPDATE"
     " SET last_seq = notification_recipients.last_seq + 1, updated_at = now()"
     " RETURNING last_seq"},
    {"notification_insert",
     "INSERT INTO notification_items (recipient, seq, kind, subject_id, subject_version,"
     " correlation_id, created_at, payload) VALUES ($1, $2::bigint, $3::int, $4, "
     "$5::bigint,"
     " $6, to_timestamp($7::bigint / 1000.0), $8::bytea)"},
    {"notification_list", "SELECT seq, payload FROM notification_items WHERE recipient = "
                          "$1 AND seq > $2::bigint"
                          " ORDER BY seq LIMIT $3::int"},
    {"notification_last_seq",
     "SELECT last_seq FROM notification_recipients WHERE recipient = $1"},
    {"notification_ack",
     "UPDATE notification_recipients SET acked = GREATEST(acked, LEAST($2::bigint, "
     "last_seq)),"
     " updated_at = now() WHERE recipient = $1 RETURNING last_seq, acked"},
    {"notification_stats_one", "SELECT recipient, last_seq, acked FROM "
                               "notification_recipients WHERE recipient = $1"},
    {"notification_stats_all",
     "SELECT recipient, last_seq, acked FROM notification_recipients ORDER BY recipient"
     " LIMIT " S_STATS_MAX},
};

int notification_store_prepare(tb_db_t *db)
{
    for (size_t i = 0; i < sizeof s_statements / sizeof s_statements[0]; i++)
        if (tb_db_prepare(db, s_statements[i].name, s_statements[i].sql) != 0)
            return -1;
    return 0;
}

static int64_t s_int64(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int notification_store_insert(tb_db_t *db, tb_arena_t *arena, Techbridge__Notification *n,
                              bool *created, uint8_t **packed, size_t *packed_len)
{
    *created = false;
    *packed = NULL;
    *packed_len = 0;
    char kind[16], version[24], created_at[24], seq[24];
    snprintf(kind, sizeof kind, "%d", (int)n->kind);
    snprintf(version, sizeof version, "%" PRId64, n->subject_version);
    snprintf(created_at, sizeof created_at, "%" PRId64, n->created_at);

    const char *key[] = {n->recipient, kind, n->subject_id, version};
    PGresult *res = tb_db_exec(db, "notification_exists", 4, key);
    if (!res)
        return -1;
    bool exists = PQntuples(res) > 0;
    if (exists)
        n->seq = s_int64(res, 0, 0);
    PQclear(res);
    if (exists)
        return 0;

    const char *who[] = {n->recipient};
    res = tb_db_exec(db, "notification_next_seq", 1, who);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return -1;
    }
    n->seq = s_int64(res, 0, 0);
    PQclear(res);

    uint8_t *data = tb_wire_pack(arena, &n->base, packed_len);
    if (!data)
        return -1;
    snprintf(seq, sizeof seq, "%" PRId64, n->seq);
    const char *values[] = {n->recipient, seq,
                            kind,         n->subject_id,
                            version,      n->correlation_id,
                            created_at,   (const char *)data};
    int lengths[] = {0, 0, 0, 0, 0, 0, 0, (int)*packed_len};
    int formats[] = {0, 0, 0, 0, 0, 0, 0, 1};
    res = tb_db_exec_bin(db, "notification_insert", 8, values, lengths, formats);
    if (!res)
        return -1;
    PQclear(res);
    *created = true;
    *packed = data;
    return 0;
}

int notification_store_list(tb_db_t *db, tb_arena_t *arena, const char *recipient,
                            int64_t after, int limit, size_t budget,
                            Techbridge__Notification ***out, int64_t *last_seq)
{
    *out = NULL;
    *last_seq = 0;
    const char *who[] = {recipient};
    PGresult *res = tb_db_exec(db, "notification_last_seq", 1, who);
    if (!res)
        return -1;
    if (PQntuples(res) > 0)
        *last_seq = s_int64(res, 0, 0);
    PQclear(res);

    char after_s[24], limit_s[16];
    snprintf(after_s, sizeof after_s, "%" PRId64, after);
    snprintf(limit_s, sizeof limit_s, "%d", limit);
    const char *values[] = {recipient, after_s, limit_s};
    res = tb_db_exec(db, "notification_list", 3, values);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    Techbridge__Notification **items = NULL;
    if (rows > 0) {
        items = tb_arena_alloc(arena, (size_t)rows * sizeof *items);
        if (!items) {
            PQclear(res);
            return -1;
        }
    }
    int count = 0;
    size_t used = 0;
    for (int i = 0; i < rows; i++) {
        size_t len = 0;
        uint8_t *data = tb_db_bytea(arena, res, i, 1, S_PAYLOAD_MAX, &len);
        if (!data) {
            tb_error("notification.payload_unreadable", NULL,
                     TB_S("recipient", recipient), TB_I("seq", s_int64(res, i, 0)));
            PQclear(res);
            return -1;
        }
        if (count > 0 && used + len > budget)
            break; /* the client continues after the last seq it got */
        Techbridge__Notification *n = (Techbridge__Notification *)tb_wire_unpack(
            arena, &techbridge__notification__descriptor, data, len, S_PAYLOAD_MAX);
        if (!n) {
            tb_error("notification.payload_unreadable", NULL,
                     TB_S("recipient", recipient), TB_I("seq", s_int64(res, i, 0)));
            PQclear(res);
            return -1;
        }
        n->seq = s_int64(res, i, 0);
        items[count++] = n;
        used += len;
    }
    PQclear(res);
    *out = items;
    return count;
}

int notification_store_ack(tb_db_t *db, const char *recipient, int64_t upto,
                           Techbridge__RecipientStats *stats)
{
    char upto_s[24];
    snprintf(upto_s, sizeof upto_s, "%" PRId64, upto);
    const char *values[] = {recipient, upto_s};
    PGresult *res = tb_db_exec(db, "notification_ack", 2, values);
    if (!res)
        return -1;
    stats->last_seq = 0;
    stats->acked = 0;
    if (PQntuples(res) > 0) {
        stats->last_seq = s_int64(res, 0, 0);
        stats->acked = s_int64(res, 0, 1);
    }
    stats->unacked = stats->last_seq - stats->acked;
    PQclear(res);
    return 0;
}

int notification_store_stats(tb_db_t *db, tb_arena_t *arena, const char *recipient,
                             Techbridge__RecipientStats ***out)
{
    *out = NULL;
    PGresult *res = recipient ? tb_db_exec(db, "notification_stats_one", 1, &recipient)
                              : tb_db_exec(db, "notification_stats_all", 0, NULL);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    int count = recipient ? 1 : rows;
    Techbridge__RecipientStats **items = NULL;
    if (count > 0) {
        items = tb_arena_alloc(arena, (size_t)count * sizeof *items);
        if (!items) {
            PQclear(res);
            return -1;
        }
    }
    for (int i = 0; i < count; i++) {
        Techbridge__RecipientStats *s = TB_PB_NEW(
            arena, Techbridge__RecipientStats, techbridge__recipient_stats__descriptor);
        if (!s) {
            PQclear(res);
            return -1;
        }
        if (i < rows) {
            s->recipient = tb_arena_strdup(arena, PQgetvalue(res, i, 0));
            s->last_seq = s_int64(res, i, 1);
            s->acked = s_int64(res, i, 2);
        } else {
            s->recipient = tb_arena_strdup(arena, recipient);
        }
        if (!s->recipient) {
            PQclear(res);
            return -1;
        }
        s->unacked = s->last_seq - s->acked;
        items[i] = s;
    }
    PQclear(res);
    *out = items;
    return count;
}
