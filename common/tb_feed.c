/*  tb_feed: transactional outbox, feed server and feed consumer (see tb_feed.h). */
#include "tb_feed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "tb_log.h"
#include "tb_pgarray.h"
#include "tb_util.h"
#include "tb_wire.h"

/*  The largest packed event we accept from the outbox. */
#define TB_FEED_EVENT_MAX (1024 * 1024)
/*  A batch stops growing past this many payload bytes (it always has one event). */
#define TB_FEED_BATCH_BYTES (8 * 1024 * 1024)
/*  What a consumer accepts in one reply (a batch plus its framing). */
#define TB_FEED_REPLY_MAX (TB_FEED_BATCH_BYTES + 2 * TB_FEED_EVENT_MAX)
/*  A FeedFetch is small: a stream, a consumer name, a correlation id. */
#define TB_FEED_FETCH_MAX      4096
#define TB_FEED_MAX_EVENTS     1000
#define TB_FEED_PARKED_MAX     4096
#define TB_FEED_CONSUMER_BATCH 100
/*  The most events a consumer applies in one transaction. */
#define TB_FEED_TX_MAX 100
/*  Unwanted events the cursor may run ahead of its stored value. */
#define TB_FEED_SKIP_SAVE 1000
/*  No reply within wait_ms + this: the producer probably restarted. */
#define TB_FEED_REPLY_GRACE_MS 2000
#define TB_FEED_BACKOFF_MIN_MS 100
#define TB_FEED_BACKOFF_MAX_MS 5000

/* ---- statements ---- */

typedef enum {
    Q_APPEND,
    Q_HEAD,
    Q_CURSOR,
    Q_READ,
    Q_CURSOR_ENSURE,
    Q_CURSOR_LOCK,
    Q_CURSOR_SET,
    Q_COUNT
} s_query_t;

static const struct {
    const char *name;
    const char *sql;
} s_queries[Q_COUNT] = {
    /*  One statement, so that the stream's row lock (taken by the upsert and
        held to commit, it orders positions) is held for as short a time as
        possible: callers append last, right before COMMIT. The NOTIFY is
        delivered at commit and wakes the feed servers. The payloads carry no
        position: a reader takes it from the row. */
    [Q_APPEND] = {"tb_feed_append",
                  "WITH s AS ("
                  " INSERT INTO feed_streams (stream, last_seq) VALUES ($1, $2::bigint)"
                  " ON CONFLICT (stream) DO UPDATE"
                  " SET last_seq = feed_streams.last_seq + $2::bigint"
                  " RETURNING last_seq),"
                  " e AS ("
                  " INSERT INTO feed_events (stream, seq, type, payload)"
                  " SELECT $1, s.last_seq - $2::bigint + o, t, decode(p, 'hex')"
                  " FROM s, unnest($3::int[], $4::text[]) WITH ORDINALITY AS x(t, p, o))"
                  " SELECT s.last_seq, pg_notify($5, s.last_seq::text) FROM s"},
    [Q_HEAD] = {"tb_feed_head", "SELECT last_seq FROM feed_streams WHERE stream = $1"},
    [Q_CURSOR] =
        {"tb_feed_cursor",
         "SELECT last_seq FROM feed_cursors WHERE consumer = $1 AND stream = $2"},
    /*  The parameters behind one-row subqueries: a custom plan cannot see
        their values either, so it costs the same as the generic plan (the
        primary-key range scan in any case), and the plan cache settles on the
        generic one after its five trial runs. With bare parameters the custom
        plan looked cheaper (it knows the cursor is near the end) and every call
        was planned again: 55 us of planning for a 15 us read. */
    [Q_READ] = {"tb_feed_read", "SELECT seq, payload FROM feed_events "
                                "WHERE stream = (SELECT $1::text) "
                                "AND seq > (SELECT $2::bigint) "
                                "ORDER BY seq LIMIT (SELECT $3::int)"},
    [Q_CURSOR_ENSURE] = {"tb_feed_cursor_ensure",
                         "INSERT INTO feed_cursors (consumer, stream) VALUES ($1, $2) "
                         "ON CONFLICT (consumer, stream) DO NOTHING"},
    /*  Also turns the rest of the apply transaction to generic plans
        (TB_DB_GENERIC_PLANS), at no extra round trip: an apply
        runs the same statements over and over, and with the default the
        planner kept choosing custom plans for some of them as tables grew
        (tb-matching's candidate query was planned again on a third of its
        calls, 0.3 ms each). */
    [Q_CURSOR_LOCK] = {"tb_feed_cursor_lock",
                       "SELECT last_seq, " TB_DB_GENERIC_PLANS " FROM feed_cursors "
                       "WHERE consumer = $1 AND stream = $2 FOR UPDATE"},
    [Q_CURSOR_SET] = {"tb_feed_cursor_set",
                      "UPDATE feed_cursors SET last_seq = $3::bigint, updated_at = now() "
                      "WHERE consumer = $1 AND stream = $2"},
};

/*  Every statement is registered with tb_db_prepare on use: registration is
    idempotent (a name lookup once registered), prepares on the live session and
    again after each reconnect. When preparing fails (e.g. the schema is not
    there yet) the same SQL runs unprepared, so the caller sees the real error. */
static PGresult *s_exec(tb_db_t *db, s_query_t q, int nparams, const char *const *values)
{
    if (tb_db_prepare(db, s_queries[q].name, s_queries[q].sql) == 0)
        return tb_db_exec(db, s_queries[q].name, nparams, values);
    return tb_db_query(db, s_queries[q].sql, nparams, values);
}

/* ---- helpers ---- */

static int s_parse_i64(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/*  Runs a query that returns one bigint (or no row: *out = dflt). */
static int s_scalar(tb_db_t *db, s_query_t q, int n, const char *const *values,
                    int64_t dflt, int64_t *out)
{
    PGresult *res = s_exec(db, q, n, values);
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 0)
        *out = dflt;
    else
        rc = s_parse_i64(PQgetvalue(res, 0, 0), out);
    PQclear(res);
    return rc;
}

/* ---- producer ---- */

int tb_feed_append(tb_db_t *db, const char *stream, Techbridge__Event *event)
{
    return tb_feed_append_many(db, stream, &event, 1);
}

/*  The events' types and packed bodies (without positions) as two array
    literals. */
static int s_event_arrays(const char *stream, Techbridge__Event *const *events, size_t n,
                          tb_pgarray_t *types, tb_pgarray_t *bodies)
{
    int64_t at = tb_now_ms();
    for (size_t i = 0; i < n; i++) {
        Techbridge__Event *ev = events[i];
        ev->seq = 0;
        ev->stream = (char *)stream;
        ev->at = at;
        size_t len = protobuf_c_message_get_packed_size(&ev->base);
        uint8_t *packed = malloc(len ? len : 1);
        if (!packed)
            return -1;
        protobuf_c_message_pack(&ev->base, packed);
        tb_pgarray_int(types, (int64_t)ev->type);
        tb_pgarray_hex(bodies, packed, len);
        free(packed);
    }
    return 0;
}

int tb_feed_append_stmt(tb_db_t *db, tb_arena_t *arena, const char *stream,
                        Techbridge__Event *const *events, size_t n, tb_db_stmt_t *stmt)
{
    if (n == 0 ||
        tb_db_prepare(db, s_queries[Q_APPEND].name, s_queries[Q_APPEND].sql) != 0)
        return -1;
    tb_pgarray_t *types = tb_pgarray_new();
    tb_pgarray_t *bodies = tb_pgarray_new();
    const char **p = tb_arena_alloc(arena, 5 * sizeof *p);
    int rc = -1;
    if (p && types && bodies && s_event_arrays(stream, events, n, types, bodies) == 0) {
        char channel[128], count[24];
        snprintf(channel, sizeof channel, "%s%s", TB_FEED_CHANNEL_PREFIX, stream);
        snprintf(count, sizeof count, "%zu", n);
        p[0] = tb_arena_strdup(arena, stream);
        p[1] = tb_arena_strdup(arena, count);
        p[2] = tb_pgarray_copy(types, arena);
        p[3] = tb_pgarray_copy(bodies, arena);
        p[4] = tb_arena_strdup(arena, channel);
        if (p[0] && p[1] && p[2] && p[3] && p[4]) {
            *stmt = (tb_db_stmt_t){
                .name = s_queries[Q_APPEND].name, .nparams = 5, .values = p};
            rc = 0;
        }
    }
    tb_pgarray_destroy(&types);
    tb_pgarray_destroy(&bodies);
    return rc;
}

int tb_feed_appended(const PGresult *res, Techbridge__Event *const *events, size_t n)
{
    int64_t last = -1;
    if (!res || PQntuples(res) != 1 || s_parse_i64(PQgetvalue(res, 0, 0), &last) < 0 ||
        last < (int64_t)n)
        return -1;
    for (size_t i = 0; i < n; i++)
        events[i]->seq = last - (int64_t)n + 1 + (int64_t)i;
    return 0;
}

int tb_feed_append_many(tb_db_t *db, const char *stream, Techbridge__Event *const *events,
                        size_t n)
{
    if (n == 0)
        return 0;
    tb_arena_t *arena = tb_arena_new(0);
    tb_db_stmt_t stmt;
    PGresult *res = NULL;
    if (arena && tb_feed_append_stmt(db, arena, stream, events, n, &stmt) == 0)
        res = tb_db_exec(db, stmt.name, stmt.nparams, stmt.values);
    int rc = tb_feed_appended(res, events, n);
    PQclear(res);
    tb_arena_destroy(&arena);
    return rc;
}

int64_t tb_feed_head(tb_db_t *db, const char *stream)
{
    int64_t head = 0;
    const char *p[] = {stream};
    if (s_scalar(db, Q_HEAD, 1, p, 0, &head) < 0)
        return -1;
    return head;
}

int64_t tb_feed_cursor(tb_db_t *db, const char *consumer, const char *stream)
{
    int64_t cursor = 0;
    const char *p[] = {consumer, stream};
    if (s_scalar(db, Q_CURSOR, 2, p, 0, &cursor) < 0)
        return -1;
    return cursor;
}

/*  tb_feed_read with a byte budget: stops once the payloads passed `budget`
    (0: none), always keeping at least one event. *more (may be NULL) is false
    when the read returned every event after `after` that was committed then. */
static int s_read(tb_db_t *db, tb_arena_t *arena, const char *stream, int64_t after,
                  int max, size_t budget, Techbridge__Event ***events, bool *more)
{
    *events = NULL;
    if (more)
        *more = true;
    if (max < 1)
        max = 1;
    if (max > TB_FEED_MAX_EVENTS)
        max = TB_FEED_MAX_EVENTS;
    char after_s[24], max_s[16];
    snprintf(after_s, sizeof after_s, "%lld", (long long)after);
    snprintf(max_s, sizeof max_s, "%d", max);
    const char *p[] = {stream, after_s, max_s};
    PGresult *res = s_exec(db, Q_READ, 3, p);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    Techbridge__Event **out =
        tb_arena_alloc(arena, sizeof *out * (size_t)(rows ? rows : 1));
    if (!out) {
        PQclear(res);
        return -1;
    }
    int count = 0;
    size_t bytes = 0;
    for (int i = 0; i < rows; i++) {
        int64_t seq = 0;
        size_t len = 0;
        if (s_parse_i64(PQgetvalue(res, i, 0), &seq) < 0)
            goto bad;
        uint8_t *data = tb_db_bytea(arena, res, i, 1, TB_FEED_EVENT_MAX, &len);
        if (!data)
            goto bad;
        Techbridge__Event *ev = (Techbridge__Event *)tb_wire_unpack(
            arena, &techbridge__event__descriptor, data, len, TB_FEED_EVENT_MAX);
        if (!ev) {
            tb_error("feed.read", NULL, TB_S("stream", stream), TB_I("seq", seq),
                     TB_S("error", "undecodable event payload"));
            goto bad;
        }
        /*  The row is the truth about the position. */
        ev->seq = seq;
        ev->stream = tb_arena_strdup(arena, stream);
        out[count++] = ev;
        bytes += len;
        if (budget && bytes >= budget)
            break;
    }
    PQclear(res);
    *events = out;
    if (more)
        *more = rows >= max || count < rows;
    return count;
bad:
    PQclear(res);
    return -1;
}

int tb_feed_read(tb_db_t *db, tb_arena_t *arena, const char *stream, int64_t after,
                 int max, Techbridge__Event ***events)
{
    return s_read(db, arena, stream, after, max, 0, events, NULL);
}

/* ---- server ---- */

typedef struct {
    tb_msg_t *msg;
    int64_t after;
    int max;
    int64_t deadline_us;
    char cid[64];
} s_parked_t;

struct tb_feed_server_t {
    tb_db_t *db;
    char *stream;
    void *router;
    s_parked_t *parked;
    size_t n_parked;
    int64_t head; /* the last position known committed, -1: not known yet */
};

tb_feed_server_t *tb_feed_server_new(tb_db_t *db, const char *stream, void *router)
{
    tb_feed_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->router = router;
    self->stream = strdup(stream);
    self->parked = calloc(TB_FEED_PARKED_MAX, sizeof *self->parked);
    self->head = -1;
    if (!self->stream || !self->parked) {
        free(self->stream);
        free(self->parked);
        free(self);
        return NULL;
    }
    char channel[128];
    snprintf(channel, sizeof channel, "%s%s", TB_FEED_CHANNEL_PREFIX, stream);
    tb_db_listen(db, channel);
    return self;
}

void tb_feed_server_destroy(tb_feed_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_feed_server_t *self = *self_p;
    for (size_t i = 0; i < self->n_parked; i++)
        tb_msg_destroy(&self->parked[i].msg);
    free(self->parked);
    free(self->stream);
    free(self);
    *self_p = NULL;
}

/*  Answers `msg` with a batch (events may be NULL) or an error, and frees it. */
static void s_answer(tb_feed_server_t *self, tb_msg_t **msg, Techbridge__Event **events,
                     size_t n, int64_t head, const char *error)
{
    Techbridge__FeedBatch batch = TECHBRIDGE__FEED_BATCH__INIT;
    batch.stream = self->stream;
    batch.events = events;
    batch.n_events = n;
    batch.head = head;
    batch.error = (char *)(error ? error : "");
    if (tb_msg_reply(*msg, &batch.base) < 0)
        tb_warn("feed.fetch", NULL, TB_S("stream", self->stream),
                TB_S("error", "reply not delivered (consumer gone?)"));
    tb_msg_destroy(msg);
}

/*  The stream's head after a read of n events after `after`: positions are
    dense and commit in order, so a read that returned everything committed
    ends at the head; only a read that may have left events behind (a full
    batch, a backlog) asks the table. This spares a head query on every fetch
    and every wake: the head only feeds the consumers' lag figure. An empty read
    proves only that the head is at most `after`, and `after` is the fetcher's
    word: past the head we know, the table is asked, so that a fetch after
    INT64_MAX cannot become every consumer's head. Returns -1 on a database
    failure. */
static int64_t s_head_after_read(tb_feed_server_t *self, int64_t after,
                                 Techbridge__Event **events, int n, bool more)
{
    int64_t seen = n > 0 ? events[n - 1]->seq : -1;
    bool beyond = n == 0 && after > self->head;
    if (more || self->head < 0 || beyond) {
        int64_t head = tb_feed_head(self->db, self->stream);
        if (head < 0)
            return -1;
        if (head > seen)
            seen = head;
    }
    if (seen > self->head)
        self->head = seen;
    return self->head;
}

void tb_feed_server_on_readable(tb_feed_server_t *self)
{
    tb_msg_t *msg;
    while ((msg = tb_msg_recv(self->router)) != NULL) {
        size_t len = 0;
        int frames = 0;
        const uint8_t *body = tb_msg_body(msg, &len, &frames);
        tb_arena_t *arena = tb_arena_new(64 * 1024);
        Techbridge__FeedFetch *fetch = NULL;
        if (arena && body && frames == 1)
            fetch = (Techbridge__FeedFetch *)tb_wire_unpack(
                arena, &techbridge__feed_fetch__descriptor, body, len, TB_FEED_FETCH_MAX);
        if (!fetch) {
            tb_warn("feed.fetch", NULL, TB_S("stream", self->stream),
                    TB_S("error", "malformed FeedFetch"));
            s_answer(self, &msg, NULL, 0, 0, "malformed fetch");
            tb_arena_destroy(&arena);
            continue;
        }
        const char *cid = fetch->correlation_id;
        if (strcmp(fetch->stream, self->stream) != 0) {
            tb_warn("feed.fetch", cid, TB_S("stream", self->stream),
                    TB_S("asked", fetch->stream), TB_S("error", "unknown stream"));
            s_answer(self, &msg, NULL, 0, 0, "unknown stream");
            tb_arena_destroy(&arena);
            continue;
        }
        int max = fetch->max;
        if (max < 1)
            max = 1;
        if (max > TB_FEED_MAX_EVENTS)
            max = TB_FEED_MAX_EVENTS;
        int wait_ms = fetch->wait_ms;
        if (wait_ms < 0)
            wait_ms = 0;
        if (wait_ms > TB_FEED_WAIT_MS)
            wait_ms = TB_FEED_WAIT_MS;
        int64_t after = fetch->after < 0 ? 0 : fetch->after;

        Techbridge__Event **events = NULL;
        int n = -1;
        int64_t head = -1;
        /*  The events get their own arena: the fetch's is small on purpose. */
        tb_arena_t *batch_arena = tb_arena_new(0);
        if (batch_arena && tb_db_ok(self->db)) {
            bool more = true;
            n = s_read(self->db, batch_arena, self->stream, after, max,
                       TB_FEED_BATCH_BYTES, &events, &more);
            if (n >= 0)
                head = s_head_after_read(self, after, events, n, more);
        }
        if (n < 0 || head < 0) {
            tb_warn("feed.fetch", cid, TB_S("stream", self->stream),
                    TB_S("consumer", fetch->consumer), TB_S("error", "unavailable"),
                    TB_S("db", tb_db_message(self->db)));
            s_answer(self, &msg, NULL, 0, 0, "unavailable");
        } else if (n > 0 || wait_ms == 0 || self->n_parked >= TB_FEED_PARKED_MAX) {
            tb_debug("feed.fetch", cid, TB_S("stream", self->stream),
                     TB_S("consumer", fetch->consumer), TB_I("after", after),
                     TB_I("count", n));
            s_answer(self, &msg, events, (size_t)n, head, NULL);
        } else {
            s_parked_t *p = &self->parked[self->n_parked++];
            p->msg = msg;
            p->after = after;
            p->max = max;
            p->deadline_us = tb_mono_us() + (int64_t)wait_ms * 1000;
            snprintf(p->cid, sizeof p->cid, "%s", cid);
        }
        tb_arena_destroy(&batch_arena);
        tb_arena_destroy(&arena);
    }
}

static int s_cmp_after(const void *a, const void *b)
{
    const s_parked_t *x = a, *y = b;
    return x->after < y->after ? -1 : x->after > y->after;
}

void tb_feed_server_wake(tb_feed_server_t *self)
{
    if (self->n_parked == 0)
        return;
    /*  One read per distinct cursor, not one per parked fetch, and no head
        query first: an empty read costs about what that query did. */
    bool failed = !tb_db_ok(self->db);
    if (!failed) {
        qsort(self->parked, self->n_parked, sizeof *self->parked, s_cmp_after);
        size_t i = 0;
        while (i < self->n_parked && !failed) {
            size_t j = i;
            int max = 0;
            while (j < self->n_parked && self->parked[j].after == self->parked[i].after) {
                if (self->parked[j].max > max)
                    max = self->parked[j].max;
                j++;
            }
            tb_arena_t *arena = tb_arena_new(0);
            Techbridge__Event **events = NULL;
            bool more = true;
            int n = arena ? s_read(self->db, arena, self->stream, self->parked[i].after,
                                   max, TB_FEED_BATCH_BYTES, &events, &more)
                          : -1;
            int64_t head =
                n >= 0 ? s_head_after_read(self, self->parked[i].after, events, n, more)
                       : -1;
            if (n < 0 || head < 0)
                failed = true;
            else if (n > 0)
                for (size_t k = i; k < j; k++) {
                    size_t give = (size_t)n;
                    if (give > (size_t)self->parked[k].max)
                        give = (size_t)self->parked[k].max;
                    s_answer(self, &self->parked[k].msg, events, give, head, NULL);
                }
            tb_arena_destroy(&arena);
            i = j;
        }
    }
    /*  Answer the expired ones with an empty batch; compact. */
    int64_t now = tb_mono_us();
    int64_t head = self->head < 0 ? 0 : self->head;
    size_t keep = 0;
    for (size_t i = 0; i < self->n_parked; i++) {
        s_parked_t *p = &self->parked[i];
        if (p->msg && p->deadline_us <= now)
            s_answer(self, &p->msg, NULL, 0, failed ? 0 : head,
                     failed ? "unavailable" : NULL);
        if (p->msg)
            self->parked[keep++] = *p;
    }
    self->n_parked = keep;
}

long tb_feed_server_next_timeout_ms(const tb_feed_server_t *self)
{
    if (self->n_parked == 0)
        return -1;
    int64_t now = tb_mono_us(), best = INT64_MAX;
    for (size_t i = 0; i < self->n_parked; i++)
        if (self->parked[i].deadline_us < best)
            best = self->parked[i].deadline_us;
    if (best <= now)
        return 0;
    return (long)((best - now + 999) / 1000);
}

/* ---- consumer ---- */

/*  The consumer's connection to a feed as a table of state x event -> action.
    NEED_CURSOR: the cursor must be (re)loaded from feed_cursors (start, after a
    database failure or a back-off). READY: a fetch is to be sent. FETCHING: one
    fetch is outstanding. BACKOFF: something failed; wait, then reload. */
typedef enum { S_NEED_CURSOR, S_READY, S_FETCHING, S_BACKOFF, S_COUNT } s_cstate_t;
typedef enum { E_DUE, E_REPLY, E_TIMEOUT, E_FAILED, E_COUNT } s_cevent_t;
typedef enum {
    A_NONE,
    A_LOAD_CURSOR, /* ensure + read the cursor row */
    A_SEND,        /* send a FeedFetch after the cursor */
    A_APPLY,       /* apply the reply's events, one transaction per batch */
    A_DROP,        /* a reply nobody waits for */
    A_RECONNECT,   /* fresh DEALER: the old one may hold a stale request */
    A_BACKOFF      /* schedule a retry, doubling the delay */
} s_caction_t;

static const struct {
    s_cstate_t next;
    s_caction_t action;
} s_table[S_COUNT][E_COUNT] = {
    /*                 E_DUE                       E_REPLY                  E_TIMEOUT */
    /*                 E_FAILED */
    [S_NEED_CURSOR] = {{S_READY, A_LOAD_CURSOR},
                       {S_NEED_CURSOR, A_DROP},
                       {S_NEED_CURSOR, A_NONE},
                       {S_NEED_CURSOR, A_BACKOFF}},
    [S_READY] = {{S_FETCHING, A_SEND},
                 {S_READY, A_DROP},
                 {S_READY, A_NONE},
                 {S_BACKOFF, A_BACKOFF}},
    [S_FETCHING] = {{S_FETCHING, A_NONE},
                    {S_READY, A_APPLY},
                    {S_READY, A_RECONNECT},
                    {S_BACKOFF, A_BACKOFF}},
    [S_BACKOFF] = {{S_NEED_CURSOR, A_NONE},
                   {S_BACKOFF, A_DROP},
                   {S_BACKOFF, A_NONE},
                   {S_BACKOFF, A_BACKOFF}},
};

static const char *const s_state_names[S_COUNT] = {"need_cursor", "ready", "fetching",
                                                   "backoff"};

struct tb_feed_consumer_t {
    void *ctx;
    tb_db_t *db;
    char *name;
    char *stream;
    char *endpoint;
    tb_feed_apply_fn fn;
    tb_feed_committed_fn committed;
    tb_feed_wants_fn wants; /* NULL: every event */
    void *arg;
    int (*setup)(void *socket, void *arg);
    void *setup_arg;
    void *socket;
    s_cstate_t state;
    int64_t cursor; /* -1 until loaded */
    /*  The cursor as this instance last stored or loaded it. Invariant: every
        event in (saved, cursor] was passed over as unwanted by this instance. */
    int64_t saved;
    int64_t head;
    int64_t due_us; /* FETCHING: reply deadline; NEED_CURSOR/BACKOFF: retry time */
    int backoff_ms;
    unsigned long fetches;
};

static int s_consumer_connect(tb_feed_consumer_t *self)
{
    if (self->socket) {
        zmq_close(self->socket);
        self->socket = NULL;
    }
    void *s = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!s)
        return -1;
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    /*  The ceiling is set after the caller's setup, which sets the one of API
        sockets (4 x --max-frame): a reply carries a whole batch, and one over
        that ceiling would be dropped with the connection and fetched again
        forever. CURVE's own bytes on top, whether or not the setup keyed it. */
    int64_t maxmsg = TB_FEED_REPLY_MAX + TB_WIRE_CURVE_OVERHEAD;
    if ((self->setup && self->setup(s, self->setup_arg) < 0) ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_connect(s, self->endpoint) < 0) {
        tb_error("feed.fetch", NULL, TB_S("consumer", self->name),
                 TB_S("endpoint", self->endpoint), TB_S("error", "cannot connect"),
                 TB_S("zmq", zmq_strerror(zmq_errno())));
        zmq_close(s);
        return -1;
    }
    self->socket = s;
    return 0;
}

tb_feed_consumer_t *tb_feed_consumer_new(void *zmq_ctx, tb_db_t *db, const char *name,
                                         const char *stream, const char *endpoint,
                                         tb_feed_apply_fn fn,
                                         tb_feed_committed_fn committed, void *arg,
                                         int (*setup)(void *socket, void *arg),
                                         void *setup_arg)
{
    tb_feed_consumer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = zmq_ctx;
    self->db = db;
    self->name = strdup(name);
    self->stream = strdup(stream);
    self->endpoint = strdup(endpoint);
    self->fn = fn;
    self->committed = committed;
    self->arg = arg;
    self->setup = setup;
    self->setup_arg = setup_arg;
    self->state = S_NEED_CURSOR;
    self->cursor = -1;
    self->head = -1;
    self->backoff_ms = TB_FEED_BACKOFF_MIN_MS;
    if (!self->name || !self->stream || !self->endpoint || s_consumer_connect(self) < 0) {
        free(self->name);
        free(self->stream);
        free(self->endpoint);
        free(self);
        return NULL;
    }
    return self;
}

void tb_feed_consumer_set_wants(tb_feed_consumer_t *self, tb_feed_wants_fn wants)
{
    self->wants = wants;
}

void tb_feed_consumer_destroy(tb_feed_consumer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_feed_consumer_t *self = *self_p;
    if (self->socket)
        zmq_close(self->socket);
    free(self->name);
    free(self->stream);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

void *tb_feed_consumer_socket(tb_feed_consumer_t *self)
{
    return self->socket;
}

static int s_load_cursor(tb_feed_consumer_t *self)
{
    if (!tb_db_ok(self->db))
        return -1;
    const char *p[] = {self->name, self->stream};
    PGresult *res = s_exec(self->db, Q_CURSOR_ENSURE, 2, p);
    if (!res)
        return -1;
    PQclear(res);
    int64_t c = tb_feed_cursor(self->db, self->name, self->stream);
    if (c < 0)
        return -1;
    self->cursor = self->saved = c;
    return 0;
}

static int s_send_fetch(tb_feed_consumer_t *self)
{
    char cid[40];
    tb_uuid(cid);
    Techbridge__FeedFetch fetch = TECHBRIDGE__FEED_FETCH__INIT;
    fetch.stream = self->stream;
    fetch.after = self->cursor;
    fetch.max = TB_FEED_CONSUMER_BATCH;
    fetch.wait_ms = TB_FEED_WAIT_MS;
    fetch.consumer = self->name;
    fetch.correlation_id = cid;
    if (!self->socket || tb_wire_send(self->socket, &fetch.base, true) < 0) {
        tb_warn("feed.fetch", cid, TB_S("consumer", self->name),
                TB_S("stream", self->stream), TB_S("error", "send failed"));
        s_consumer_connect(self);
        return -1;
    }
    self->fetches++;
    self->due_us =
        tb_mono_us() + (int64_t)(TB_FEED_WAIT_MS + TB_FEED_REPLY_GRACE_MS) * 1000;
    return 0;
}

static bool s_wanted(const tb_feed_consumer_t *self, const Techbridge__Event *ev)
{
    return !self->wants || self->wants(ev, self->arg);
}

/*  Passes over evs[0..n) without a transaction when none is wanted, they follow
    the cursor without a gap, and the stored cursor is not too far behind.
    Returns true when it did (the cursor moved in memory only). */
static bool s_pass_over(tb_feed_consumer_t *self, Techbridge__Event *const *evs, size_t n)
{
    if (!self->wants || evs[n - 1]->seq - self->saved > TB_FEED_SKIP_SAVE)
        return false;
    for (size_t i = 0; i < n; i++)
        if (evs[i]->seq != self->cursor + 1 + (int64_t)i || s_wanted(self, evs[i]))
            return false;
    tb_debug("feed.pass_over", evs[0]->correlation_id, TB_S("consumer", self->name),
             TB_S("stream", self->stream), TB_I("from", evs[0]->seq),
             TB_I("to", evs[n - 1]->seq));
    self->cursor = evs[n - 1]->seq;
    return true;
}

/*  The outcome of applying a group of events in one transaction. */
typedef enum {
    G_DONE,     /* applied (or already applied) up to the group's end */
    G_FAILED,   /* database trouble or a gap: back off and refetch */
    G_FALLBACK, /* an apply failed: nothing of the group stayed, go one by one */
} s_group_t;

/*  Applies evs[0..n) (ascending, from one batch) in ONE transaction with one
    cursor update: BEGIN, lock the cursor row, skip what it already covers,
    apply the rest in order, set the cursor to the last applied, COMMIT, then
    `committed` for each applied event in order. When an apply fails, the whole
    transaction rolls back and the caller applies the group one event per
    transaction, so that a failing event blocks only itself: a group of one
    whose apply fails is simply G_FAILED (retried later with back-off). */
static s_group_t s_apply_group(tb_feed_consumer_t *self, Techbridge__Event *const *evs,
                               size_t n)
{
    tb_db_t *db = self->db;
    const char *cid = evs[0]->correlation_id;
    if (tb_db_begin(db) < 0)
        goto db_failed;
    const char *p[] = {self->name, self->stream, NULL};
    int64_t last = -1;
    PGresult *res = s_exec(db, Q_CURSOR_LOCK, 2, p);
    if (!res)
        goto db_failed_rollback;
    if (PQntuples(res) != 1 || s_parse_i64(PQgetvalue(res, 0, 0), &last) < 0) {
        PQclear(res);
        tb_db_rollback(db);
        tb_warn("feed.apply", cid, TB_S("consumer", self->name),
                TB_S("error", "cursor row missing"));
        return G_FAILED;
    }
    PQclear(res);
    int64_t stored = last;
    if (last >= self->saved && last < self->cursor)
        last = self->cursor; /* what lies between, this instance passed over */
    int64_t t0 = tb_mono_us();
    size_t first = 0;
    while (first < n && evs[first]->seq <= last)
        first++; /* another instance, or an earlier delivery, applied them */
    size_t end = first;
    bool gap = false;
    for (; end < n; end++) {
        const Techbridge__Event *ev = evs[end];
        if (ev->seq != last + 1 + (int64_t)(end - first)) {
            gap = true;
            break;
        }
        if (!s_wanted(self, ev))
            continue;
        if (self->fn(db, ev, self->arg) < 0) {
            tb_db_rollback(db);
            bool alone = n == 1;
            tb_log(alone ? TB_LOG_ERROR : TB_LOG_WARN, "feed.apply", ev->correlation_id,
                   TB_S("consumer", self->name), TB_I("seq", ev->seq),
                   TB_I("type", ev->type), TB_I("batch", (int64_t)(end - first + 1)),
                   TB_S("error", alone ? "apply failed: will retry"
                                       : "apply failed in a batch: one by one"),
                   TB_S("db", tb_db_message(db)));
            return alone ? G_FAILED : G_FALLBACK;
        }
    }
    if (end > first) {
        char seq_s[24];
        snprintf(seq_s, sizeof seq_s, "%lld", (long long)evs[end - 1]->seq);
        p[2] = seq_s;
        res = s_exec(db, Q_CURSOR_SET, 3, p);
        if (!res)
            goto db_failed_rollback;
        PQclear(res);
        if (tb_db_commit(db) < 0)
            goto db_failed;
        self->cursor = self->saved = evs[end - 1]->seq;
        int64_t latency = tb_mono_us() - t0;
        for (size_t i = first; i < end; i++) {
            const Techbridge__Event *ev = evs[i];
            if (!s_wanted(self, ev))
                continue;
            tb_info("feed.apply", ev->correlation_id, TB_S("consumer", self->name),
                    TB_S("stream", self->stream), TB_I("seq", ev->seq),
                    TB_I("type", ev->type), TB_I("batch", (int64_t)(end - first)),
                    TB_I("latency_us", latency));
            if (self->committed)
                self->committed(ev, self->arg);
        }
    } else {
        tb_db_rollback(db);
        self->cursor = last;
        self->saved = stored;
    }
    if (first > 0)
        tb_debug("feed.skip", cid, TB_S("consumer", self->name),
                 TB_I("seq", evs[first - 1]->seq), TB_I("cursor", last));
    if (gap) {
        tb_warn("feed.apply", evs[end]->correlation_id, TB_S("consumer", self->name),
                TB_S("stream", self->stream), TB_I("seq", evs[end]->seq),
                TB_I("cursor", self->cursor),
                TB_S("error", "gap in the feed: refetching"));
        return G_FAILED;
    }
    return G_DONE;

db_failed_rollback:
    tb_db_rollback(db);
db_failed:
    tb_warn("feed.apply", cid, TB_S("consumer", self->name), TB_I("seq", evs[0]->seq),
            TB_S("error", "database"), TB_S("db", tb_db_message(db)));
    return G_FAILED;
}

static int s_apply_batch(tb_feed_consumer_t *self, const Techbridge__FeedBatch *batch)
{
    if (!batch) {
        tb_warn("feed.fetch", NULL, TB_S("consumer", self->name),
                TB_S("stream", self->stream), TB_S("error", "malformed FeedBatch"));
        return -1;
    }
    if (batch->error && batch->error[0]) {
        tb_warn("feed.fetch", NULL, TB_S("consumer", self->name),
                TB_S("stream", self->stream), TB_S("error", batch->error));
        return -1;
    }
    if (batch->head > self->head)
        self->head = batch->head;
    size_t i = 0;
    while (i < batch->n_events) {
        if (batch->events[i]->seq <= self->cursor) {
            i++;
            continue;
        }
        size_t n = batch->n_events - i;
        if (n > TB_FEED_TX_MAX)
            n = TB_FEED_TX_MAX;
        Techbridge__Event *const *evs = batch->events + i;
        if (s_pass_over(self, evs, n)) {
            i += n;
            continue;
        }
        s_group_t rc = s_apply_group(self, evs, n);
        if (rc == G_FAILED)
            return -1;
        if (rc == G_FALLBACK)
            for (size_t k = 0; k < n; k++)
                if (evs[k]->seq > self->cursor &&
                    s_apply_group(self, &evs[k], 1) != G_DONE)
                    return -1;
        i += n;
    }
    self->backoff_ms = TB_FEED_BACKOFF_MIN_MS;
    return 0;
}

static void s_dispatch(tb_feed_consumer_t *self, s_cevent_t ev,
                       const Techbridge__FeedBatch *batch)
{
    s_cstate_t from = self->state;
    s_caction_t action = s_table[from][ev].action;
    self->state = s_table[from][ev].next;
    int rc = 0;
    switch (action) {
    case A_NONE:
        break;
    case A_LOAD_CURSOR:
        rc = s_load_cursor(self);
        break;
    case A_SEND:
        rc = s_send_fetch(self);
        break;
    case A_APPLY:
        rc = s_apply_batch(self, batch);
        break;
    case A_DROP:
        tb_debug("feed.fetch", NULL, TB_S("consumer", self->name),
                 TB_S("state", s_state_names[from]),
                 TB_S("error", "unexpected reply dropped"));
        break;
    case A_RECONNECT:
        tb_warn("feed.fetch", NULL, TB_S("consumer", self->name),
                TB_S("stream", self->stream), TB_S("endpoint", self->endpoint),
                TB_S("error", "no reply in time: reconnecting"));
        rc = s_consumer_connect(self);
        break;
    case A_BACKOFF:
        self->due_us = tb_mono_us() + (int64_t)self->backoff_ms * 1000;
        self->backoff_ms *= 2;
        if (self->backoff_ms > TB_FEED_BACKOFF_MAX_MS)
            self->backoff_ms = TB_FEED_BACKOFF_MAX_MS;
        break;
    }
    if (rc < 0 && ev != E_FAILED)
        s_dispatch(self, E_FAILED, NULL);
}

static bool s_due(const tb_feed_consumer_t *self, int64_t now)
{
    switch (self->state) {
    case S_READY:
        return true;
    case S_NEED_CURSOR:
    case S_BACKOFF:
        return now >= self->due_us;
    default:
        return false;
    }
}

void tb_feed_consumer_on_readable(tb_feed_consumer_t *self)
{
    for (;;) {
        if (!self->socket)
            return;
        int events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(self->socket, ZMQ_EVENTS, &events, &sz) < 0 ||
            !(events & ZMQ_POLLIN))
            return;
        tb_arena_t *arena = tb_arena_new((size_t)TB_FEED_REPLY_MAX * 8);
        if (!arena)
            return;
        errno = 0;
        Techbridge__FeedBatch *batch = (Techbridge__FeedBatch *)tb_wire_recv(
            self->socket, arena, &techbridge__feed_batch__descriptor, TB_FEED_REPLY_MAX,
            true, 0);
        if (!batch && (errno == EAGAIN || errno == EINTR)) {
            tb_arena_destroy(&arena);
            return;
        }
        s_dispatch(self, E_REPLY, batch);
        tb_arena_destroy(&arena);
        /*  Send the next fetch at once rather than at the next tick. */
        if (self->state == S_READY)
            s_dispatch(self, E_DUE, NULL);
    }
}

void tb_feed_consumer_tick(tb_feed_consumer_t *self)
{
    /*  A few steps at most: BACKOFF -> NEED_CURSOR -> READY -> FETCHING. */
    for (int i = 0; i < 4; i++) {
        int64_t now = tb_mono_us();
        if (self->state == S_FETCHING) {
            if (now < self->due_us)
                return;
            s_dispatch(self, E_TIMEOUT, NULL);
            continue;
        }
        if (!s_due(self, now))
            return;
        s_dispatch(self, E_DUE, NULL);
    }
}

long tb_feed_consumer_next_timeout_ms(const tb_feed_consumer_t *self)
{
    if (self->state == S_READY)
        return 0;
    int64_t now = tb_mono_us();
    if (self->due_us <= now)
        return 0;
    return (long)((self->due_us - now + 999) / 1000);
}

const char *tb_feed_consumer_name(const tb_feed_consumer_t *self)
{
    return self->name;
}

const char *tb_feed_consumer_stream(const tb_feed_consumer_t *self)
{
    return self->stream;
}

int64_t tb_feed_consumer_cursor(const tb_feed_consumer_t *self)
{
    return self->cursor;
}

int64_t tb_feed_consumer_head(const tb_feed_consumer_t *self)
{
    return self->head;
}
