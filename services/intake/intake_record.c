/*  intake_record: what a change of a request leaves behind, in the caller's
    transaction: its history row and its event on the requests stream. */
#include "intake_internal.h"
#include "tb_feed.h"

/* A history entry of the call. */
static Techbridge__HistoryEntry *s_entry(tb_arena_t *a, int64_t at, const char *actor,
                                         Techbridge__Action action,
                                         Techbridge__Status from, Techbridge__Status to,
                                         const char *reason, int64_t version,
                                         const char *cid)
{
    Techbridge__HistoryEntry *e =
        TB_PB_NEW(a, Techbridge__HistoryEntry, techbridge__history_entry__descriptor);
    if (!e)
        return NULL;
    e->at = at;
    e->actor = intake_str(actor);
    e->action = action;
    e->from_status = from;
    e->to_status = to;
    e->reason = intake_str(reason);
    e->version = version;
    e->correlation_id = intake_str(cid);
    return e;
}

/* An event of the requests stream (seq, stream and at are set on append). */
Techbridge__Event *intake_event_new(tb_arena_t *a, Techbridge__EventType type,
                                    Techbridge__Request *req, Techbridge__Status from,
                                    const char *actor, const char *reason,
                                    const char *cid)
{
    Techbridge__Event *ev =
        TB_PB_NEW(a, Techbridge__Event, techbridge__event__descriptor);
    if (!ev)
        return NULL;
    ev->type = type;
    ev->request = req;
    ev->from_status = from;
    ev->actor = intake_str(actor);
    ev->reason = intake_str(reason);
    ev->correlation_id = intake_str(cid);
    return ev;
}

/* Appends an event of the requests stream in the open transaction. */
int intake_event(tb_db_t *db, tb_arena_t *a, Techbridge__EventType type,
                 Techbridge__Request *req, Techbridge__Status from, const char *actor,
                 const char *reason, const char *cid)
{
    Techbridge__Event *ev = intake_event_new(a, type, req, from, actor, reason, cid);
    if (!ev)
        return -1;
    return tb_feed_append(db, TB_STREAM_REQUESTS, ev);
}

/* Writes history + event of a change in the open transaction. Returns 0 or -1
   (database, or the arena full: reported as a database failure by callers). */
int intake_record(tb_db_t *db, tb_arena_t *a, Techbridge__Request *req,
                  Techbridge__Action action, Techbridge__Status from,
                  Techbridge__EventType type, int64_t at, const char *actor,
                  const char *reason, const char *cid)
{
    Techbridge__HistoryEntry *e =
        s_entry(a, at, actor, action, from, req->status, reason, req->version, cid);
    if (!e)
        return -1;
    if (intake_store_history_add(db, req->id, e) != 0)
        return -1;
    return intake_event(db, a, type, req, from, actor, reason, cid);
}
