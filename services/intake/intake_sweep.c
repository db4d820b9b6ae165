/*  intake_sweep: the expiry sweep. PUBLISHED requests past expires_at become
    EXPIRED; those close to it get one EVENT_REQUEST_EXPIRING. */
#include "intake_internal.h"
#include "tb_fsm.h"
#include "tb_log.h"
#include "tb_util.h"

/*  Who the sweep acts as, in history rows and events. */
#define INTAKE_SYSTEM_ACTOR "system"

/* A fresh correlation id for each of `n` claimed requests (an entry is NULL
   when the arena is full: the history row and event then carry ""). NULL
   when the arena is full. */
static char **s_cids(tb_arena_t *a, size_t n)
{
    char **cids = tb_arena_alloc(a, sizeof *cids * (n ? n : 1));
    for (size_t i = 0; cids && i < n; i++) {
        char cid[37];
        tb_uuid(cid);
        cids[i] = tb_arena_strdup(a, cid);
    }
    return cids;
}

/* Logs the failure of the sweep step `what`, rolls back, returns -1. */
static int s_sweep_fail(tb_db_t *db, const char *what)
{
    tb_error("intake.sweep_failed", NULL, TB_S("what", what),
             TB_S("sqlstate", tb_db_sqlstate(db)), TB_S("error", tb_db_message(db)));
    tb_db_rollback(db);
    return -1;
}

/* Expires the claimed request `req` in the open transaction. */
static int s_expire(tb_db_t *db, tb_arena_t *a, Techbridge__Request *req, int64_t now,
                    const char *cid)
{
    int64_t current = req->version;
    req->status = TECHBRIDGE__STATUS__EXPIRED;
    req->version = current + 1;
    req->updated_at = now;
    if (intake_store_update_status(db, req, current, false) != 0)
        return -1;
    return intake_record(db, a, req, TECHBRIDGE__ACTION__EXPIRE,
                         TECHBRIDGE__STATUS__PUBLISHED,
                         TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_STATUS_CHANGED, now,
                         INTAKE_SYSTEM_ACTOR, "expires_at passed", cid);
}

/* Expires one batch of published requests past expires_at, in one
   transaction. Returns the count, or -1 (rolled back). */
static int s_sweep_expired(intake_core_t *self, tb_arena_t *a, int64_t now)
{
    tb_db_t *db = self->db;
    if (tb_db_begin(db) != 0)
        return -1;
    Techbridge__Request **list = NULL;
    size_t n = 0;
    if (intake_store_claim_expired(db, a, now, INTAKE_SWEEP_BATCH, &list, &n) != 0)
        return s_sweep_fail(db, "expire");
    char **cids = s_cids(a, n);
    if (!cids)
        return s_sweep_fail(db, "expire");
    for (size_t i = 0; i < n; i++)
        if (s_expire(db, a, list[i], now, cids[i]) != 0)
            return s_sweep_fail(db, "expire");
    if (tb_db_commit(db) != 0)
        return s_sweep_fail(db, "expire");
    for (size_t i = 0; i < n; i++)
        tb_info("request.expired", cids[i], TB_S("id", list[i]->id),
                TB_S("org", list[i]->org ? list[i]->org->id : ""),
                TB_I("expires_at", list[i]->expires_at),
                TB_I("version", list[i]->version));
    return (int)n;
}

/* Sends the expiring notice of one batch of published requests, in one
   transaction. Returns the count, or -1 (rolled back). */
static int s_sweep_expiring(intake_core_t *self, tb_arena_t *a, int64_t now)
{
    tb_db_t *db = self->db;
    if (tb_db_begin(db) != 0)
        return -1;
    Techbridge__Request **list = NULL;
    size_t n = 0;
    if (intake_store_claim_expiring(db, a, now, now + TB_EXPIRING_NOTICE_DAYS * TB_DAY_MS,
                                    INTAKE_SWEEP_BATCH, &list, &n) != 0)
        return s_sweep_fail(db, "expiring");
    char **cids = s_cids(a, n);
    if (!cids)
        return s_sweep_fail(db, "expiring");
    for (size_t i = 0; i < n; i++) {
        if (intake_store_set_notified(db, list[i]->id) != 0 ||
            intake_event(db, a, TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_EXPIRING, list[i],
                         list[i]->status, INTAKE_SYSTEM_ACTOR, "", cids[i]) != 0)
            return s_sweep_fail(db, "expiring");
    }
    if (tb_db_commit(db) != 0)
        return s_sweep_fail(db, "expiring");
    for (size_t i = 0; i < n; i++)
        tb_info("request.expiring", cids[i], TB_S("id", list[i]->id),
                TB_S("org", list[i]->org ? list[i]->org->id : ""),
                TB_I("expires_at", list[i]->expires_at));
    return (int)n;
}

int intake_core_sweep_at(intake_core_t *self, int64_t now_ms)
{
    if (intake_ready(self) != 0)
        return -1;
    intake_sectors(self, NULL, NULL); /* the timer also keeps the sector list fresh */
    tb_arena_t *a = tb_arena_new(64u << 20);
    if (!a)
        return -1;
    int expired = s_sweep_expired(self, a, now_ms);
    int expiring = expired < 0 ? -1 : s_sweep_expiring(self, a, now_ms);
    tb_arena_destroy(&a);
    if (expired < 0 || expiring < 0)
        return -1;
    return expired + expiring;
}

void intake_core_sweep(tb_service_t *service, void *core)
{
    (void)service;
    intake_core_sweep_at(core, tb_now_ms());
}
