/*  intake_submit: submissions, one at a time or a run of them as one group
    commit, with the idempotent answer to a repeated (org, external_ref). */
#include "intake_internal.h"
#include "tb_feed.h"
#include "tb_log.h"
#include "tb_util.h"

/* The answer to a submission whose (org, external_ref) is taken. */
static int s_submit_existing(intake_core_t *self, tb_call_t *call,
                             const Techbridge__Request *req, const uint8_t *fp,
                             size_t fp_len)
{
    intake_row_t row = {0};
    int rc = intake_store_get_by_ref(self->db, call->arena, req->org->id,
                                     req->external_ref, &row);
    if (rc < 0)
        return intake_db_fail(call, self->db, "read existing request");
    if (rc > 0)
        return tb_call_error(call, INTAKE_CODE(ABORTED),
                             "a concurrent submission of external_ref %s changed; retry",
                             req->external_ref);
    if (!intake_fingerprint_equal(fp, fp_len, row.fingerprint, row.fingerprint_len)) {
        tb_info("request.conflict", call->cid, TB_S("id", row.request->id),
                TB_S("org", req->org->id), TB_S("external_ref", req->external_ref));
        return tb_call_error(
            call, INTAKE_CODE(ALREADY_EXISTS),
            "external_ref %s of org %s is request %s, with other content",
            req->external_ref, req->org->id, row.request->id);
    }
    char *dup = "";
    if (intake_store_find_duplicate(self->db, call->arena, req->org->id, row.request->id,
                                    row.request->title, &dup) != 0)
        return intake_db_fail(call, self->db, "find duplicates");
    tb_info("request.resubmitted", call->cid, TB_S("id", row.request->id),
            TB_S("org", req->org->id), TB_S("external_ref", req->external_ref));
    return intake_reply_request(call, row.request, dup, false);
}

/* Checks and completes a submission before any SQL: the content normalised and
   validated, its fingerprint, then id, status, version and times. Returns 0
   with *req_out and the fingerprint, or -1 with the reply set. */
static int s_submit_prepare(intake_core_t *self, tb_call_t *call, int64_t now,
                            Techbridge__Request **req_out, uint8_t **fp, size_t *fp_len,
                            intake_text_t *text)
{
    const Techbridge__SubmitRequest *sub = call->req->submit;
    if (!sub || !sub->request)
        return tb_call_error(call, INTAKE_CODE(INVALID_ARGUMENT),
                             "submit needs a request");
    Techbridge__Request *req = intake_request_content(call->arena, sub->request);
    if (!req)
        return intake_full(call);
    if (tb_valid_normalise(req, intake_dup, call->arena) != 0)
        return intake_full(call);
    const char *org_id = req->org ? req->org->id : "";
    if (*org_id && !tb_call_may_act_for(call, org_id))
        return tb_call_error(call, INTAKE_CODE(PERMISSION_DENIED),
                             "an organisation may submit only its own requests");
    if (intake_check_request(self, call, req, now) != 0)
        return -1;

    /* The fingerprint is of the content as submitted (expires_at 0 stays 0). */
    if (intake_fingerprint(call->arena, req, fp, fp_len) != 0)
        return intake_full(call);
    /* After the fingerprint: a detected language is not submitted content. */
    if (intake_terms(self, call->arena, req, text) != 0)
        return intake_full(call);

    char id[37];
    tb_uuid(id);
    req->id = tb_arena_strdup(call->arena, id);
    req->status = TECHBRIDGE__STATUS__SUBMITTED;
    req->version = 1;
    req->created_at = now;
    req->updated_at = now;
    if (req->expires_at == 0)
        req->expires_at = tb_add_months_ms(now, TB_EXPIRY_DEFAULT_MONTHS);
    req->renewed = false;
    if (!req->id)
        return intake_full(call);
    *req_out = req;
    return 0;
}

/* The reply to a stored submission. */
static int s_submitted(tb_call_t *call, Techbridge__Request *req, const char *dup)
{
    tb_info("request.submitted", call->cid, TB_S("id", req->id),
            TB_S("org", req->org->id), TB_S("kind", intake_kind_text(req->kind)),
            TB_S("external_ref", req->external_ref), TB_S("possible_duplicate_of", dup));
    return intake_reply_request(call, req, dup, true);
}

/* Stores one prepared submission in a transaction of its own. */
static int s_submit_store(intake_core_t *self, tb_call_t *call, Techbridge__Request *req,
                          const intake_text_t *text, const uint8_t *fp, size_t fp_len,
                          int64_t now)
{
    tb_db_t *db = self->db;
    if (tb_db_begin(db) != 0)
        return intake_db_fail(call, db, "begin");
    int rc = intake_store_insert(db, call->arena, req, text, fp, fp_len);
    if (rc < 0)
        return intake_db_fail(call, db, "insert request");
    if (rc > 0) {
        /* (org, external_ref) taken: idempotent replay or a conflict. */
        tb_db_rollback(db);
        return s_submit_existing(self, call, req, fp, fp_len);
    }
    char *dup = "";
    if (intake_store_find_duplicate(db, call->arena, req->org->id, req->id, req->title,
                                    &dup) != 0)
        return intake_db_fail(call, db, "find duplicates");
    /* Last before COMMIT: the event holds the stream's lock. */
    if (intake_record(db, call->arena, req, TECHBRIDGE__ACTION__SUBMIT,
                      TECHBRIDGE__STATUS__STATUS_UNSPECIFIED,
                      TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED, now, call->who, "",
                      call->cid) != 0)
        return intake_db_fail(call, db, "record submission");
    if (tb_db_commit(db) != 0)
        return intake_db_fail(call, db, "commit submission");
    return s_submitted(call, req, dup);
}

int intake_submit(intake_core_t *self, tb_call_t *call)
{
    int64_t now = tb_now_ms();
    Techbridge__Request *req = NULL;
    uint8_t *fp = NULL;
    size_t fp_len = 0;
    intake_text_t text;
    if (s_submit_prepare(self, call, now, &req, &fp, &fp_len, &text) != 0)
        return -1;
    return s_submit_store(self, call, req, &text, fp, fp_len, now);
}

/* A submission of a group commit. */
typedef struct {
    tb_call_t *call;
    Techbridge__Request *req;
    uint8_t *fp;
    size_t fp_len;
    intake_text_t text;
} s_pending_t;

/* The common case, every submission new, in one round trip: the group
   insert (strict: a taken (org, external_ref) fails it), the duplicate check
   and the events, sent as one pipeline that commits at its end. Returns 0
   (committed: subs marked inserted, found[] and the events' positions set),
   1 when an (org, external_ref) was taken (nothing stored), -1 on failure
   (nothing stored, or, if the results cannot be read, stored: the per-call
   retry then finds the rows and answers idempotently). */
static int s_submit_pipelined(tb_db_t *db, tb_arena_t *tmp, intake_submission_t *subs,
                              Techbridge__Event **events,
                              const Techbridge__Request **reqs, size_t n, char **found)
{
    tb_db_stmt_t st[4] = {intake_store_generic_plans_stmt()};
    if (intake_store_insert_batch_stmt(tmp, subs, n, &st[1]) != 0 ||
        intake_store_duplicates_stmt(tmp, reqs, n, &st[2]) != 0 ||
        tb_feed_append_stmt(db, tmp, TB_STREAM_REQUESTS, events, n, &st[3]) != 0)
        return -1;
    if (tb_db_pipeline(db, st, 4) != 0)
        return tb_db_error(db) == TB_DB_UNIQUE ? 1 : -1;
    int rc = intake_store_inserted(st[1].result, subs, n) == 0 &&
                     intake_store_duplicates(st[2].result, tmp, n, found) == 0 &&
                     tb_feed_appended(st[3].result, events, n) == 0
                 ? 0
                 : -1;
    for (int i = 0; i < 4; i++)
        PQclear(st[i].result);
    return rc;
}

/* When a group holds a taken (org, external_ref): statement by statement in a
   transaction, the insert skipping taken rows, then the duplicate check and
   the events of the rows inserted (events[] and reqs[] are compacted to
   them). Returns 0 or -1 (rolled back, nothing stored). */
static int s_submit_careful(tb_db_t *db, tb_arena_t *tmp, intake_submission_t *subs,
                            Techbridge__Event **events, const Techbridge__Request **reqs,
                            size_t n, char **found)
{
    if (tb_db_begin(db) != 0 || intake_store_insert_batch(db, subs, n) != 0)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (subs[i].inserted) {
            events[m] = events[i];
            reqs[m++] = reqs[i];
        }
    if (intake_store_find_duplicates_batch(db, tmp, reqs, m, found) != 0 ||
        tb_feed_append_many(db, TB_STREAM_REQUESTS, events, m) != 0 ||
        tb_db_commit(db) != 0) /* the append last: it holds the stream's lock */
        return -1;
    return 0;
}

/* Stores the prepared submissions `p` in one transaction, set-wise: one
   statement for the requests and their history rows, one for the duplicate
   check, one for the events, one WAL flush for all. Returns 0 with dups[i]
   set for each inserted one, or -1 with nothing stored. */
static int s_submit_group(intake_core_t *self, s_pending_t *p, intake_submission_t *subs,
                          size_t n, char **dups)
{
    tb_db_t *db = self->db;
    Techbridge__Event *events[TB_SERVICE_BATCH_MAX];
    const Techbridge__Request *reqs[TB_SERVICE_BATCH_MAX];
    char *found[TB_SERVICE_BATCH_MAX];
    tb_arena_t *tmp = tb_arena_new(0);
    if (!tmp)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tb_call_t *call = p[i].call;
        events[i] = intake_event_new(
            call->arena, TECHBRIDGE__EVENT_TYPE__EVENT_REQUEST_SUBMITTED, p[i].req,
            TECHBRIDGE__STATUS__STATUS_UNSPECIFIED, call->who, "", call->cid);
        reqs[i] = p[i].req;
        dups[i] = "";
        if (!events[i])
            rc = -1;
    }
    if (rc == 0)
        rc = s_submit_pipelined(db, tmp, subs, events, reqs, n, found);
    if (rc == 1 && (rc = s_submit_careful(db, tmp, subs, events, reqs, n, found)) != 0)
        tb_db_rollback(db);
    if (rc != 0) {
        tb_error("intake.group_failed", p[0].call->cid, TB_I("calls", (int64_t)n),
                 TB_S("sqlstate", tb_db_sqlstate(db)), TB_S("error", tb_db_message(db)));
        tb_arena_destroy(&tmp);
        return -1;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!subs[i].inserted)
            continue;
        dups[i] = tb_arena_strdup(p[i].call->arena, found[k++]);
        if (!dups[i])
            dups[i] = ""; /* the reply will not fit anyway; the request is stored */
    }
    tb_arena_destroy(&tmp);
    return 0;
}

/* Group commit of consecutive submit calls: each is checked on its own (an
   invalid one gets its errors and leaves the group), the valid ones are
   stored together (s_submit_group) and answered. When the group fails for
   anything but the database being unreachable (e.g. one bad row reached SQL),
   each call is retried in a transaction of its own, so that one failure
   fails only itself. A submission whose (org, external_ref) was taken gets the
   idempotent answer after the commit, as a lone call would. */
void intake_submit_batch(intake_core_t *self, tb_call_t *const *calls, size_t n)
{
    s_pending_t p[TB_SERVICE_BATCH_MAX];
    intake_submission_t subs[TB_SERVICE_BATCH_MAX];
    char *dups[TB_SERVICE_BATCH_MAX];
    int64_t now = tb_now_ms();
    size_t k = 0;
    for (size_t i = 0; i < n && i < TB_SERVICE_BATCH_MAX; i++) {
        tb_call_t *call = calls[i];
        p[k] = (s_pending_t){.call = call};
        if (s_submit_prepare(self, call, now, &p[k].req, &p[k].fp, &p[k].fp_len,
                             &p[k].text) != 0)
            continue;
        subs[k] = (intake_submission_t){.req = p[k].req,
                                        .fingerprint = p[k].fp,
                                        .fingerprint_len = p[k].fp_len,
                                        .actor = call->who,
                                        .cid = call->cid,
                                        .text = p[k].text};
        k++;
    }
    if (k == 0)
        return;
    if (s_submit_group(self, p, subs, k, dups) != 0) {
        tb_db_t *db = self->db;
        bool down = !tb_db_ok(db) || tb_db_error(db) == TB_DB_UNAVAILABLE;
        for (size_t i = 0; i < k; i++) {
            if (down)
                tb_call_db_error(p[i].call, db, "submit");
            else
                s_submit_store(self, p[i].call, p[i].req, &p[i].text, p[i].fp,
                               p[i].fp_len, now);
        }
        return;
    }
    for (size_t i = 0; i < k; i++) {
        if (subs[i].inserted)
            s_submitted(p[i].call, p[i].req, dups[i]);
        else
            s_submit_existing(self, p[i].call, p[i].req, p[i].fp, p[i].fp_len);
    }
}
