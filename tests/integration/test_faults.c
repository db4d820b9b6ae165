/*  The storm (SPEC sections 6 and 8): tb-intake, tb-matching and tb-notification
    on a fresh database under a load of N submissions and N publications (N =
    5,000; 2,500 in a sanitizer build, still 5,000 calls; env TB_FAULT_N
    overrides). While the load runs, each service is SIGKILLed in turn and
    restarted, and PostgreSQL is crash-restarted once. The load driver retries
    every call that timed out or got UNAVAILABLE with the same content
    (idempotent) until it is acknowledged. Afterwards, once every feed is
    drained, counting proves exactly once: every acknowledged request once and
    PUBLISHED, two history rows each, dense event streams, every match once (and
    the same set as an uninterrupted replay) with one proposal notification,
    one status notification per publication, dense per-recipient sequences. The
    counts are printed (stdout and <log dir>/fault-counts.txt). */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "harness.h"
#include "tb_valid.h"
#include "tb_util.h"
#include "tb_wire.h"

#if defined(__SANITIZE_ADDRESS__)
#define S_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_ASAN 1
#endif
#endif
#ifndef S_ASAN
#define S_ASAN 0
#endif

#define S_N_DEFAULT      (S_ASAN ? 2500 : 5000)
#define S_START_MS       30000
#define S_CALL_MS        (S_ASAN ? 8000 : 4000)
#define S_RETRY_MS       100
#define S_WINDOW         24
#define S_ORGS           113
#define S_PHASE_DEADLINE (S_ASAN ? 240000 : 150000)
#define S_DRAIN_DEADLINE (S_ASAN ? 300000 : 180000)

/* ---------------------------------------------------------------- services */

typedef struct {
    char *db;
    char intake_api[64], intake_feed[64];
    char matching_api[64], matching_feed[64];
    char notif_api[64], notif_pub[64];
    tb_test_proc_t *intake, *matching, *notif;
} s_env_t;

static s_env_t E;

static void s_dump_logs(void)
{
    tb_test_proc_t *procs[] = {E.intake, E.matching, E.notif};
    for (int i = 0; i < 3; i++)
        if (procs[i])
            tb_test_proc_dump_log(procs[i], 3000);
}

static void s_teardown(void)
{
    if (E.notif)
        tb_test_proc_stop(&E.notif, 5000);
    if (E.matching)
        tb_test_proc_stop(&E.matching, 5000);
    if (E.intake)
        tb_test_proc_stop(&E.intake, 5000);
    tb_test_db_drop(&E.db);
}

static tb_test_proc_t *s_start_intake(void)
{
    const char *args[] = {"--database-url",   E.db,          "--api",       E.intake_api,
                          "--feed",           E.intake_feed, "--log-level", "info",
                          "--stats-interval", "0",           NULL};
    return tb_test_service_start(TB_INTAKE_BIN, "fault-intake", E.intake_api, args, NULL,
                                 S_START_MS);
}

static tb_test_proc_t *s_start_matching(void)
{
    const char *args[] = {"--database-url",
                          E.db,
                          "--api",
                          E.matching_api,
                          "--feed",
                          E.matching_feed,
                          "--intake-feed",
                          E.intake_feed,
                          "--log-level",
                          "info",
                          "--stats-interval",
                          "0",
                          NULL};
    return tb_test_service_start(TB_MATCHING_BIN, "fault-matching", E.matching_api, args,
                                 NULL, S_START_MS);
}

static tb_test_proc_t *s_start_notif(void)
{
    const char *args[] = {"--database-url",   E.db,          "--api",
                          E.notif_api,        "--pub",       E.notif_pub,
                          "--intake-feed",    E.intake_feed, "--matching-feed",
                          E.matching_feed,    "--log-level", "info",
                          "--stats-interval", "0",           NULL};
    return tb_test_service_start(TB_NOTIFICATION_BIN, "fault-notification", E.notif_api,
                                 args, NULL, S_START_MS);
}

/* ---------------------------------------------------------------- the load */

/*  The built-in sector codes (tb_default_sectors), the seed of the sectors table. */
#define S_NSECTORS (tb_default_sectors.count)

static const char *const s_words[] = {
    "drying",     "kiln",      "catalyst",   "polymer",    "sensor",       "robot",
    "turbine",    "biogas",    "solar",      "battery",    "welding",      "laser",
    "coating",    "ceramic",   "logging",    "software",   "platform",     "vision",
    "pump",       "valve",     "fertiliser", "greenhouse", "irrigation",   "composite",
    "alloy",      "recycling", "membrane",   "filter",     "extruder",     "furnace",
    "bearing",    "gearbox",   "hydraulic",  "pneumatic",  "spectrometer", "reactor",
    "enzyme",     "vaccine",   "diagnostic", "implant",    "drone",        "satellite",
    "lidar",      "radar",     "antenna",    "firmware",   "database",     "analytics",
    "tractor",    "harvester", "seeder",     "silo",       "dairy",        "poultry",
    "insulation", "concrete",  "asphalt",    "glass",      "textile",      "leather",
    "paper",      "pulp",      "veneer",     "plywood"};
#define S_NWORDS (sizeof s_words / sizeof s_words[0])

/*  Org countries, and target countries no org is in: geography adds nothing. */
static const char *const s_countries[] = {"CN", "BY", "KZ", "UZ", "RU", "IN", "PK"};
#define S_NCOUNTRIES (sizeof s_countries / sizeof s_countries[0])
static const char *const s_targets[] = {"DE", "FR", "JP"};

/*  A fixed pseudo-random number of (i, k): a retry sends the same content. */
static uint32_t s_rnd(uint32_t i, uint32_t k)
{
    uint32_t x = i * 2654435761u + k * 40503u + 0x9e3779b9u;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static int s_org_of(int i)
{
    return (int)(s_rnd((uint32_t)i, 1) % S_ORGS);
}

static void s_org_id(int org, char out[32])
{
    snprintf(out, 32, "fault-org-%03d", org);
}

/*  Request number i of a storm of n (deterministic in i). The matches stay
    linear in n: requests come in families of about 8 that share a sector and
    a rare keyword; TRL (needs 7..9, offers 1..4), cooperation (disjoint forms)
    and geography (targets where no org is) add nothing, so a pair scores past
    the threshold only on sector plus shared text, which mostly means one
    family. */
static Techbridge__Request *s_request(tb_arena_t *a, int i, int n)
{
    uint32_t u = (uint32_t)i;
    Techbridge__Request *r =
        TB_PB_NEW(a, Techbridge__Request, techbridge__request__descriptor);
    Techbridge__Org *org = TB_PB_NEW(a, Techbridge__Org, techbridge__org__descriptor);
    Techbridge__Contact *ct =
        TB_PB_NEW(a, Techbridge__Contact, techbridge__contact__descriptor);
    if (!r || !org || !ct)
        return NULL;
    int o = s_org_of(i);
    char oid[32];
    s_org_id(o, oid);
    uint32_t families = (uint32_t)(n / 8 > 1 ? n / 8 : 1);
    uint32_t f = s_rnd(u, 10) % families;
    char fam[16] = "kx";
    for (size_t k = 2; k < 7; k++, f /= 26)
        fam[k] = (char)('a' + f % 26);
    fam[7] = '\0';
    bool offer = s_rnd(u, 0) % 2 == 0;
    r->kind = offer ? TECHBRIDGE__KIND__OFFER : TECHBRIDGE__KIND__NEED;
    r->external_ref = tb_arena_printf(a, "storm-%06d", i);
    org->id = tb_arena_strdup(a, oid);
    org->name = tb_arena_printf(a, "Fault Organisation %d", o);
    org->country = (char *)s_countries[o % S_NCOUNTRIES];
    org->region = "Region";
    ct->name = "Contact Person";
    ct->email = tb_arena_printf(a, "contact%d@fault.example.org", o);
    r->org = org;
    r->contact = ct;
    const char *w1 = s_words[s_rnd(u, 2) % S_NWORDS];
    const char *w2 = s_words[s_rnd(u, 3) % S_NWORDS];
    if (strcmp(w1, w2) == 0)
        w2 = s_words[(s_rnd(u, 3) + 1) % S_NWORDS];
    /*  No boilerplate words: terms every request has would add shared text to
        every pair. */
    r->title = tb_arena_printf(a, "%s %s %s %d", fam, w1, w2, i);
    r->summary = "";
    r->sector = (char *)tb_default_sectors.codes[(s_rnd(u, 10) % families) % S_NSECTORS];
    r->keywords = tb_arena_alloc(a, 3 * sizeof(char *));
    r->keywords[0] = tb_arena_strdup(a, fam);
    r->keywords[1] = (char *)w1;
    r->keywords[2] = (char *)w2;
    r->n_keywords = 3;
    r->trl = offer ? 1 + (int)(s_rnd(u, 6) % 4) : 7 + (int)(s_rnd(u, 6) % 3);
    r->cooperation = tb_arena_alloc(a, sizeof *r->cooperation);
    r->cooperation[0] =
        (Techbridge__Cooperation)(offer ? 1 + s_rnd(u, 7) % 3 : 4 + s_rnd(u, 7) % 4);
    r->n_cooperation = 1;
    if (offer)
        r->ipr = TECHBRIDGE__IPR__KNOW_HOW;
    r->target_countries = tb_arena_alloc(a, sizeof(char *));
    if (!r->keywords || !r->keywords[0] || !r->cooperation || !r->target_countries)
        return NULL;
    r->target_countries[0] = (char *)s_targets[s_rnd(u, 9) % 3];
    r->n_target_countries = 1;
    return r;
}

typedef enum { P_SUBMIT, P_PUBLISH, P_VERIFY, P_DONE } s_phase_t;
static const char *const s_phase_names[] = {"submit", "publish", "verify", "done"};

typedef struct {
    s_phase_t phase;
    bool inflight;
    int64_t due_ms; /* in flight: its deadline; else: not before */
    int attempt;
    char id[37];
    int64_t version;
    bool failed;
} s_item_t;

typedef struct {
    int n;
    s_item_t *items;
    const char *endpoint;
    atomic_int done; /* items acknowledged to the end (or failed) */
    atomic_bool finished;
    atomic_bool stop;
    /* counters, read by the main thread after finished */
    long calls, timeouts, unavailable, retry_other, internal, resubmit_existing,
        publish_conflict, verified_published, stale_replies, send_failed;
    int failures;
    char failure[1024];
} s_driver_t;

static void s_fail(s_driver_t *d, int i, const char *what, const Techbridge__ApiReply *r)
{
    d->failures++;
    if (d->failures <= 5) {
        size_t len = strlen(d->failure);
        snprintf(d->failure + len, sizeof d->failure - len, "[item %d: %s: code %d %s] ",
                 i, what, r && r->error ? (int)r->error->code : 0,
                 r && r->error && r->error->message ? r->error->message : "");
    }
    fprintf(stderr, "fault: item %d (%s, attempt %d): %s (code %d: %s)\n", i,
            s_phase_names[d->items[i].phase], d->items[i].attempt, what,
            r && r->error ? (int)r->error->code : 0,
            r && r->error && r->error->message ? r->error->message : "");
}

static int s_send(s_driver_t *d, void *sock, int i)
{
    s_item_t *it = &d->items[i];
    tb_arena_t *a = tb_arena_new(0);
    if (!a)
        return -1;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.actor = "operator";
    it->attempt++;
    req.correlation_id =
        tb_arena_printf(a, "fault-%d-%d-%d", i, (int)it->phase, it->attempt);
    Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    Techbridge__TransitionRequest tr = TECHBRIDGE__TRANSITION_REQUEST__INIT;
    Techbridge__GetRequest get = TECHBRIDGE__GET_REQUEST__INIT;
    switch (it->phase) {
    case P_SUBMIT:
        sub.request = s_request(a, i, d->n);
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
        req.submit = &sub;
        break;
    case P_PUBLISH:
        tr.id = it->id;
        tr.action = TECHBRIDGE__ACTION__PUBLISH;
        tr.version = it->version;
        tr.reason = "storm";
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_TRANSITION;
        req.transition = &tr;
        break;
    case P_VERIFY:
        get.id = it->id;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
        req.get = &get;
        break;
    default:
        tb_arena_destroy(&a);
        return -1;
    }
    int rc = (req.correlation_id && (it->phase != P_SUBMIT || sub.request))
                 ? tb_wire_send(sock, &req.base, true)
                 : -1;
    tb_arena_destroy(&a);
    d->calls++;
    it->inflight = true;
    it->due_ms = tb_test_now_ms() + S_CALL_MS;
    if (rc != 0) {
        d->send_failed++;
        it->inflight = false;
        it->due_ms = tb_test_now_ms() + S_RETRY_MS;
    }
    return rc;
}

/*  The item goes on with `phase` now, or is retried after a pause. */
static void s_next(s_item_t *it, s_phase_t phase, bool pause)
{
    it->phase = phase;
    it->inflight = false;
    it->due_ms = tb_test_now_ms() + (pause ? S_RETRY_MS : 0);
}

static bool s_retryable(s_driver_t *d, const Techbridge__ApiReply *r)
{
    switch (r->error->code) {
    case TECHBRIDGE__CODE__UNAVAILABLE:
        d->unavailable++;
        return true;
    case TECHBRIDGE__CODE__INTERNAL:
        d->internal++;
        fprintf(stderr, "fault: INTERNAL: %s\n",
                r->error->message ? r->error->message : "");
        return true;
    case TECHBRIDGE__CODE__RESOURCE_EXHAUSTED:
        d->retry_other++;
        return true;
    default:
        return false;
    }
}

static void s_on_reply(s_driver_t *d, const Techbridge__ApiReply *r)
{
    int i = -1, phase = -1, attempt = -1;
    if (!r->correlation_id ||
        sscanf(r->correlation_id, "fault-%d-%d-%d", &i, &phase, &attempt) != 3 || i < 0 ||
        i >= d->n) {
        d->stale_replies++;
        return;
    }
    s_item_t *it = &d->items[i];
    if ((int)it->phase != phase || it->phase == P_DONE) {
        d->stale_replies++; /* an earlier attempt's answer, already superseded */
        return;
    }
    const Techbridge__Request *req =
        !r->error && r->result_case == TECHBRIDGE__API_REPLY__RESULT_REQUEST && r->request
            ? r->request->request
            : NULL;
    switch (it->phase) {
    case P_SUBMIT:
        if (req && req->id) {
            if (it->id[0] && strcmp(it->id, req->id) != 0)
                s_fail(d, i, "a resubmission returned another id", r);
            snprintf(it->id, sizeof it->id, "%s", req->id);
            it->version = req->version;
            if (!r->request->created)
                d->resubmit_existing++;
            if (req->status != TECHBRIDGE__STATUS__SUBMITTED) {
                s_fail(d, i, "submitted request not SUBMITTED", r);
                it->failed = true;
                s_next(it, P_DONE, false);
                return;
            }
            s_next(it, P_PUBLISH, false);
        } else if (r->error &&
                   (s_retryable(d, r) || r->error->code == TECHBRIDGE__CODE__ABORTED)) {
            s_next(it, P_SUBMIT, true);
        } else {
            s_fail(d, i, "submit refused", r);
            it->failed = true;
            s_next(it, P_DONE, false);
        }
        return;
    case P_PUBLISH:
        if (req) {
            if (req->status != TECHBRIDGE__STATUS__PUBLISHED || req->version != 2) {
                s_fail(d, i, "published request not PUBLISHED at version 2", r);
                it->failed = true;
            }
            s_next(it, P_DONE, false);
        } else if (r->error && s_retryable(d, r)) {
            s_next(it, P_PUBLISH, true);
        } else if (r->error &&
                   (r->error->code == TECHBRIDGE__CODE__ABORTED ||
                    r->error->code == TECHBRIDGE__CODE__FAILED_PRECONDITION)) {
            /* An earlier attempt may have committed: read it back. */
            d->publish_conflict++;
            s_next(it, P_VERIFY, false);
        } else {
            s_fail(d, i, "publish refused", r);
            it->failed = true;
            s_next(it, P_DONE, false);
        }
        return;
    case P_VERIFY:
        if (req) {
            if (req->status == TECHBRIDGE__STATUS__PUBLISHED) {
                d->verified_published++;
                s_next(it, P_DONE, false);
            } else if (req->status == TECHBRIDGE__STATUS__SUBMITTED) {
                it->version = req->version;
                s_next(it, P_PUBLISH, false);
            } else {
                s_fail(d, i, "request neither SUBMITTED nor PUBLISHED", r);
                it->failed = true;
                s_next(it, P_DONE, false);
            }
        } else if (r->error && s_retryable(d, r)) {
            s_next(it, P_VERIFY, true);
        } else {
            s_fail(d, i, "get refused", r);
            it->failed = true;
            s_next(it, P_DONE, false);
        }
        return;
    default:
        return;
    }
}

/*  The driver thread: one DEALER, up to S_WINDOW calls in flight, each item
    submit -> publish (-> get when a publish retry conflicts) until done. */
static void *s_driver_run(void *arg)
{
    s_driver_t *d = arg;
    void *sock = zmq_socket(tb_test_zmq_ctx(), ZMQ_DEALER);
    int sndtimeo = 1000;
    if (!sock || tb_wire_socket_setup(sock, 1u << 20) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo) != 0 ||
        zmq_connect(sock, d->endpoint) != 0) {
        snprintf(d->failure, sizeof d->failure, "driver socket: %s", zmq_strerror(errno));
        d->failures++;
        if (sock)
            zmq_close(sock);
        atomic_store(&d->finished, true);
        return NULL;
    }
    int active[S_WINDOW];
    int n_active = 0, next_new = 0;
    while (!atomic_load(&d->stop)) {
        while (n_active < S_WINDOW && next_new < d->n) {
            s_item_t *it = &d->items[next_new];
            it->phase = P_SUBMIT;
            it->due_ms = 0;
            active[n_active++] = next_new++;
        }
        /* Retire finished items; send what is due; expire what timed out. */
        int64_t now = tb_test_now_ms(), wake = now + 100;
        for (int k = 0; k < n_active;) {
            s_item_t *it = &d->items[active[k]];
            if (it->phase == P_DONE) {
                active[k] = active[--n_active];
                atomic_fetch_add(&d->done, 1);
                continue;
            }
            if (it->inflight && it->due_ms <= now) {
                d->timeouts++;
                s_next(it, it->phase, false);
            }
            if (!it->inflight && it->due_ms <= now)
                s_send(d, sock, active[k]);
            if (it->due_ms < wake)
                wake = it->due_ms;
            k++;
        }
        if (n_active == 0 && next_new >= d->n)
            break;
        zmq_pollitem_t pi = {.socket = sock, .events = ZMQ_POLLIN};
        long wait = (long)(wake - tb_test_now_ms());
        if (wait < 0)
            wait = 0;
        if (zmq_poll(&pi, 1, wait) <= 0)
            continue;
        for (;;) {
            tb_arena_t *a = tb_arena_new(0);
            if (!a)
                break;
            errno = 0;
            Techbridge__ApiReply *r = (Techbridge__ApiReply *)tb_wire_recv(
                sock, a, &techbridge__api_reply__descriptor, 1u << 20, true, 0);
            if (!r) {
                bool again = errno == EAGAIN;
                tb_arena_destroy(&a);
                if (again)
                    break;
                d->stale_replies++; /* undecodable: counted, and the call times out */
                continue;
            }
            s_on_reply(d, r);
            tb_arena_destroy(&a);
        }
    }
    zmq_close(sock);
    atomic_store(&d->finished, true);
    return NULL;
}

/* ---------------------------------------------------------------- conditions */

typedef struct {
    s_driver_t *d;
    int want;
} s_progress_t;

static bool s_progress_reached(void *arg)
{
    s_progress_t *p = arg;
    return atomic_load(&p->d->done) >= p->want || atomic_load(&p->d->finished);
}

static bool s_driver_finished(void *arg)
{
    return atomic_load(&((s_driver_t *)arg)->finished);
}

static const char *const s_lag_sql =
    "SELECT coalesce(sum(s.last_seq - coalesce(c.last_seq, 0)), -1) FROM "
    "(VALUES ('matching', 'requests'), ('notification', 'requests'), "
    "('notification', 'matches')) AS w(consumer, stream) "
    "JOIN feed_streams s ON s.stream = w.stream "
    "LEFT JOIN feed_cursors c ON c.consumer = w.consumer AND c.stream = w.stream";

typedef struct {
    int64_t last_print;
} s_drain_t;

/*  The lag of one consumer on one stream. */
#define S_LAG_ONE                                                                        \
    "SELECT (SELECT last_seq FROM feed_streams WHERE stream = '%s') - "                  \
    "coalesce((SELECT last_seq FROM feed_cursors WHERE consumer = '%s' AND stream = "    \
    "'%s'), 0)"

static bool s_drained(void *arg)
{
    s_drain_t *dr = arg;
    int64_t lag = tb_test_sql_scalar(E.db, s_lag_sql);
    int64_t now = tb_test_now_ms();
    if (now - dr->last_print >= 10000) {
        dr->last_print = now;
        char q[3][320];
        snprintf(q[0], sizeof q[0], S_LAG_ONE, "requests", "matching", "requests");
        snprintf(q[1], sizeof q[1], S_LAG_ONE, "requests", "notification", "requests");
        snprintf(q[2], sizeof q[2], S_LAG_ONE, "matches", "notification", "matches");
        printf("fault: draining, feed lag %" PRId64 " (matching/requests %" PRId64
               ", notification/requests %" PRId64 ", notification/matches %" PRId64 ")\n",
               lag, tb_test_sql_scalar(E.db, q[0]), tb_test_sql_scalar(E.db, q[1]),
               tb_test_sql_scalar(E.db, q[2]));
        fflush(stdout);
    }
    return lag == 0;
}

typedef struct {
    const char *sql;
    int64_t want;
} s_sql_cond_t;

static bool s_sql_is(void *arg)
{
    s_sql_cond_t *c = arg;
    return tb_test_sql_scalar(E.db, c->sql) == c->want;
}

/* ---------------------------------------------------------------- counting */

static FILE *g_counts;

static void s_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("fault: %s\n", line);
    fflush(stdout);
    if (g_counts) {
        fprintf(g_counts, "%s\n", line);
        fflush(g_counts);
    }
}

static int64_t s_q(const char *sql)
{
    return tb_test_sql_scalar(E.db, sql);
}

typedef struct {
    const char *what;
    const char *sql;
    int64_t want; /* INT64_MIN: only printed; INT64_MAX: must be > 0 */
} s_check_t;

/*  Runs and prints every check, then asserts them all (so a failure still shows
    every count). */
static void s_run_checks(const s_check_t *checks, size_t n)
{
    int64_t got[64];
    int bad = 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        got[i] = s_q(checks[i].sql);
        bool ok = checks[i].want == INT64_MIN   ? got[i] != INT64_MIN
                  : checks[i].want == INT64_MAX ? got[i] > 0 && got[i] != INT64_MAX
                                                : got[i] == checks[i].want;
        if (checks[i].want == INT64_MIN)
            s_say("%-58s %" PRId64, checks[i].what, got[i]);
        else if (checks[i].want == INT64_MAX)
            s_say("%-58s %" PRId64 " (want > 0)%s", checks[i].what, got[i],
                  ok ? "" : "  <-- FAILED");
        else
            s_say("%-58s %" PRId64 " (want %" PRId64 ")%s", checks[i].what, got[i],
                  checks[i].want, ok ? "" : "  <-- FAILED");
        bad += !ok;
    }
    for (size_t i = 0; i < n && i < 64; i++) {
        bool ok = checks[i].want == INT64_MIN   ? got[i] != INT64_MIN
                  : checks[i].want == INT64_MAX ? got[i] > 0 && got[i] != INT64_MAX
                                                : got[i] == checks[i].want;
        cr_expect(ok, "%s: got %" PRId64 " want %" PRId64, checks[i].what, got[i],
                  checks[i].want);
    }
    cr_assert_eq(bad, 0, "%d count(s) are wrong (see the lines above)", bad);
}

/*  Stores what the driver was acknowledged: (org, external_ref, id). */
static void s_store_acked(const s_driver_t *d)
{
    cr_assert_eq(tb_test_sql_exec(E.db,
                                  "CREATE TABLE test_fault_acked (org text NOT NULL, "
                                  "ref text NOT NULL, id uuid NOT NULL)"),
                 0);
    size_t cap = 600 * 100 + 128;
    char *sql = malloc(cap);
    cr_assert_not_null(sql);
    for (int from = 0; from < d->n; from += 500) {
        size_t len = (size_t)snprintf(sql, cap, "INSERT INTO test_fault_acked VALUES ");
        int rows = 0;
        for (int i = from; i < d->n && i < from + 500; i++) {
            const s_item_t *it = &d->items[i];
            if (it->failed || it->phase != P_DONE || !it->id[0])
                continue;
            char oid[32];
            s_org_id(s_org_of(i), oid);
            len += (size_t)snprintf(sql + len, cap - len, "%s('%s', 'storm-%06d', '%s')",
                                    rows ? ", " : "", oid, i, it->id);
            rows++;
        }
        if (rows)
            cr_assert_eq(tb_test_sql_exec(E.db, sql), 0);
    }
    free(sql);
}

static void s_open_counts(void)
{
    const char *dir = getenv("TB_TEST_LOGDIR");
    if (!dir || !*dir)
        dir = "it-logs";
    mkdir(dir, 0755);
    char path[512];
    snprintf(path, sizeof path, "%s/fault-counts.txt", dir);
    g_counts = fopen(path, "w");
}

/* ---------------------------------------------------------------- the test */

static int s_size(void)
{
    const char *env = getenv("TB_FAULT_N");
    int n = env && *env ? atoi(env) : S_N_DEFAULT;
    return n >= 100 ? n : 100;
}

/*  Waits until the driver acknowledged `want` items; fails the test (after
    stopping the driver) when it did not within the deadline. */
static void s_wait_progress(s_driver_t *d, pthread_t th, int want, const char *before)
{
    s_progress_t p = {d, want};
    if (tb_test_wait_until(s_progress_reached, &p, S_PHASE_DEADLINE))
        return;
    atomic_store(&d->stop, true);
    pthread_join(th, NULL);
    s_dump_logs();
    cr_assert_fail("the load stalled before %s: %d of %d acknowledged", before,
                   atomic_load(&d->done), d->n);
}

Test(faults, storm_sigkill_each_service_and_restart_postgres_exactly_once,
     .fini = s_teardown, .timeout = 600)
{
#if !defined(TB_INTAKE_BIN) || !defined(TB_MATCHING_BIN) || !defined(TB_NOTIFICATION_BIN)
    cr_skip_test("a service binary was not built");
#else
    memset(&E, 0, sizeof E);
    if (!tb_test_pg())
        cr_skip_test("TB_TEST_PG is not set (run scripts/test)");
    int64_t t0 = tb_test_now_ms();
    s_open_counts();
    int n = s_size();
    s_say("storm of %d requests (%d submissions + %d publications), %s build", n, n, n,
          S_ASAN ? "sanitizer" : "normal");

    E.db = tb_test_db_new();
    cr_assert_not_null(E.db, "cannot create a test database");
    cr_assert(
        tb_test_endpoint(E.intake_api) == 0 && tb_test_endpoint(E.intake_feed) == 0 &&
        tb_test_endpoint(E.matching_api) == 0 && tb_test_endpoint(E.matching_feed) == 0 &&
        tb_test_endpoint(E.notif_api) == 0 && tb_test_endpoint(E.notif_pub) == 0);
    /*  A commit acknowledged to a client must survive a crash of the server:
        throw-away clusters (scripts/pg-temp) run with synchronous_commit = off,
        which loses the last commits on an immediate stop, so the services'
        sessions of this database commit synchronously. */
    cr_assert_eq(tb_test_sql_exec(E.db, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I "
                                        "SET synchronous_commit = on', "
                                        "current_database()); END $$"),
                 0);
    E.intake = s_start_intake();
    cr_assert_not_null(E.intake, "tb-intake did not start");
    E.matching = s_start_matching();
    cr_assert_not_null(E.matching, "tb-matching did not start");
    E.notif = s_start_notif();
    cr_assert_not_null(E.notif, "tb-notification did not start");

    s_driver_t *d = calloc(1, sizeof *d);
    cr_assert_not_null(d);
    d->n = n;
    d->items = calloc((size_t)n, sizeof *d->items);
    cr_assert_not_null(d->items);
    d->endpoint = E.intake_api;
    (void)tb_test_zmq_ctx(); /* made here, before the driver thread uses it */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, s_driver_run, d), 0);

    /* The faults, in turn, each while the load runs. */
    /*  Each fault comes once another 12% of the load was acknowledged since the
        previous one recovered, so that every fault lands in a running load. */
    int step = n * 12 / 100;
    s_wait_progress(d, th, step, "killing tb-intake");
    s_say("SIGKILL tb-intake at %d acknowledged", atomic_load(&d->done));
    tb_test_proc_kill(&E.intake);
    E.intake = s_start_intake();
    cr_assert_not_null(E.intake, "tb-intake did not restart");

    s_wait_progress(d, th, atomic_load(&d->done) + step, "killing tb-matching");
    s_say("SIGKILL tb-matching at %d acknowledged, matching cursor %" PRId64,
          atomic_load(&d->done),
          s_q("SELECT coalesce(max(last_seq), 0) FROM feed_cursors WHERE consumer = "
              "'matching'"));
    tb_test_proc_kill(&E.matching);
    E.matching = s_start_matching();
    cr_assert_not_null(E.matching, "tb-matching did not restart");

    s_wait_progress(d, th, atomic_load(&d->done) + step, "killing tb-notification");
    s_say("SIGKILL tb-notification at %d acknowledged, %" PRId64 " notifications stored",
          atomic_load(&d->done), s_q("SELECT count(*) FROM notification_items"));
    tb_test_proc_kill(&E.notif);
    E.notif = s_start_notif();
    cr_assert_not_null(E.notif, "tb-notification did not restart");

    s_wait_progress(d, th, atomic_load(&d->done) + step, "restarting PostgreSQL");
    bool pg_restarted = false;
    if (tb_test_pg_can_restart()) {
        s_say("PostgreSQL crash restart (pg_ctl stop -m immediate; start) at %d "
              "acknowledged",
              atomic_load(&d->done));
        int64_t r0 = tb_test_now_ms();
        cr_assert_eq(tb_test_pg_restart_immediate(), 0, "PostgreSQL did not restart");
        s_say("PostgreSQL back after %" PRId64 " ms", tb_test_now_ms() - r0);
        pg_restarted = true;
    } else {
        s_say("NOTE: TB_TEST_PGDATA / TB_TEST_PGBIN unset: PostgreSQL restart skipped");
    }

    if (!tb_test_wait_until(s_driver_finished, d, S_PHASE_DEADLINE)) {
        atomic_store(&d->stop, true);
        pthread_join(th, NULL);
        s_dump_logs();
        cr_assert_fail("the load did not finish: %d of %d acknowledged",
                       atomic_load(&d->done), n);
    }
    pthread_join(th, NULL);
    int64_t t_load = tb_test_now_ms();
    s_say("load done in %.1f s: %ld calls, %ld timeouts, %ld UNAVAILABLE, %ld INTERNAL, "
          "%ld other retries, %ld send failures, %ld stale replies",
          (double)(t_load - t0) / 1000.0, d->calls, d->timeouts, d->unavailable,
          d->internal, d->retry_other, d->send_failed, d->stale_replies);
    s_say("idempotent replays: %ld resubmissions answered with the stored request, %ld "
          "publish retries conflicted (%ld read back PUBLISHED)",
          d->resubmit_existing, d->publish_conflict, d->verified_published);
    if (d->failures)
        s_dump_logs();
    cr_assert_eq(d->failures, 0, "%d unexpected answers: %s", d->failures, d->failure);
    cr_assert_eq(atomic_load(&d->done), n);

    /* Every service is up (none died on its own), then every feed drains. */
    cr_assert(tb_test_proc_alive(E.intake), "tb-intake died");
    cr_assert(tb_test_proc_alive(E.matching), "tb-matching died");
    cr_assert(tb_test_proc_alive(E.notif), "tb-notification died");
    s_drain_t dr = {tb_test_now_ms()};
    if (!tb_test_wait_until(s_drained, &dr, S_DRAIN_DEADLINE)) {
        s_dump_logs();
        cr_assert_fail("the feeds did not drain within %d ms (lag %" PRId64 ")",
                       S_DRAIN_DEADLINE, s_q(s_lag_sql));
    }
    s_say("feeds drained %.1f s after the load (%.1f s in all)",
          (double)(tb_test_now_ms() - t_load) / 1000.0,
          (double)(tb_test_now_ms() - t0) / 1000.0);

    s_store_acked(d);
    int64_t acked = s_q("SELECT count(*) FROM test_fault_acked");
    int64_t matches = s_q("SELECT count(*) FROM matching_matches");
    int64_t orgs = s_q("SELECT count(DISTINCT org) FROM test_fault_acked");
    (void)pg_restarted;

    const s_check_t checks[] = {
        /* intake: the requests, their history, the requests stream */
        {"acknowledged requests", "SELECT count(*) FROM test_fault_acked", n},
        {"requests stored", "SELECT count(*) FROM intake_requests", n},
        {"(org, external_ref) stored more than once",
         "SELECT count(*) FROM (SELECT 1 FROM intake_requests GROUP BY org_id, "
         "external_ref HAVING count(*) > 1) d",
         0},
        {"acknowledged but missing, other id, not PUBLISHED v2",
         "SELECT count(*) FROM test_fault_acked a LEFT JOIN intake_requests r ON "
         "r.org_id = a.org AND r.external_ref = a.ref WHERE r.id IS NULL OR r.id <> a.id "
         "OR r.status <> 'PUBLISHED' OR r.version <> 2",
         0},
        {"history rows", "SELECT count(*) FROM intake_history", 2 * (int64_t)n},
        {"requests without exactly one SUBMIT and one PUBLISH",
         "SELECT count(*) FROM intake_requests r LEFT JOIN (SELECT request_id, "
         "count(*) FILTER (WHERE action = 'SUBMIT') AS s, count(*) FILTER (WHERE action "
         "= 'PUBLISH') AS p, count(*) AS c FROM intake_history GROUP BY 1) h ON "
         "h.request_id = r.id WHERE coalesce(h.s, 0) <> 1 OR coalesce(h.p, 0) <> 1 OR "
         "coalesce(h.c, 0) <> 2",
         0},
        {"events in stream requests",
         "SELECT count(*) FROM feed_events WHERE stream = 'requests'", 2 * (int64_t)n},
        {"  of them REQUEST_SUBMITTED",
         "SELECT count(*) FROM feed_events WHERE stream = 'requests' AND type = 1", n},
        {"  of them REQUEST_STATUS_CHANGED",
         "SELECT count(*) FROM feed_events WHERE stream = 'requests' AND type = 3", n},
        {"requests stream: max(seq) - count (0 = dense)",
         "SELECT coalesce(max(seq), 0) - count(*) FROM feed_events WHERE stream = "
         "'requests'",
         0},
        {"requests stream: head - count",
         "SELECT (SELECT last_seq FROM feed_streams WHERE stream = 'requests') - "
         "(SELECT count(*) FROM feed_events WHERE stream = 'requests')",
         0},
        /* matching: its projection, the matches, the matches stream */
        {"matching: requests projected PUBLISHED",
         "SELECT count(*) FROM matching_requests WHERE status = 2", n},
        {"matching: corpus N", "SELECT published FROM matching_corpus", n},
        {"matching: document frequencies off a recount",
         "SELECT count(*) FROM ((SELECT term, count(*)::int AS df FROM "
         "matching_requests, "
         "unnest(terms) AS term WHERE status = 2 GROUP BY term EXCEPT SELECT term, df "
         "FROM matching_terms WHERE df > 0) UNION ALL (SELECT term, df FROM "
         "matching_terms WHERE df > 0 EXCEPT SELECT term, count(*)::int FROM "
         "matching_requests, unnest(terms) AS term WHERE status = 2 GROUP BY term)) d",
         0},
        {"matches", "SELECT count(*) FROM matching_matches", INT64_MAX},
        {"matches: (offer, need) stored more than once",
         "SELECT count(*) FROM (SELECT 1 FROM matching_matches GROUP BY offer_id, "
         "need_id "
         "HAVING count(*) > 1) d",
         0},
        {"matches not PROPOSED at version 1",
         "SELECT count(*) FROM matching_matches WHERE status <> 1 OR version <> 1", 0},
        {"matches whose offer/need is not a PUBLISHED OFFER/NEED",
         "SELECT count(*) FROM matching_matches m LEFT JOIN intake_requests o ON o.id = "
         "m.offer_id LEFT JOIN intake_requests n ON n.id = m.need_id WHERE o.id IS NULL "
         "OR n.id IS NULL OR o.status <> 'PUBLISHED' OR n.status <> 'PUBLISHED' OR "
         "o.kind <> 'OFFER' OR n.kind <> 'NEED' OR o.org_id = n.org_id",
         0},
        {"events in stream matches",
         "SELECT count(*) FROM feed_events WHERE stream = 'matches'", matches},
        {"  of them MATCH_PROPOSED",
         "SELECT count(*) FROM feed_events WHERE stream = 'matches' AND type = 10",
         matches},
        {"matches stream: max(seq) - count (0 = dense)",
         "SELECT coalesce(max(seq), 0) - count(*) FROM feed_events WHERE stream = "
         "'matches'",
         0},
        {"matches stream: head - count",
         "SELECT (SELECT last_seq FROM feed_streams WHERE stream = 'matches') - "
         "(SELECT count(*) FROM feed_events WHERE stream = 'matches')",
         0},
        /* notification */
        {"notifications", "SELECT count(*) FROM notification_items",
         (int64_t)n + matches},
        {"  REQUEST_STATUS_CHANGED",
         "SELECT count(*) FROM notification_items WHERE kind = 1", n},
        {"  MATCH_PROPOSED", "SELECT count(*) FROM notification_items WHERE kind = 3",
         matches},
        {"  other kinds",
         "SELECT count(*) FROM notification_items WHERE kind NOT IN (1, 3)", 0},
        {"(recipient, kind, subject, version) stored more than once",
         "SELECT count(*) FROM (SELECT 1 FROM notification_items GROUP BY recipient, "
         "kind, subject_id, subject_version HAVING count(*) > 1) d",
         0},
        {"recipients", "SELECT count(*) FROM notification_recipients", orgs + 1},
        {"recipients whose seqs are not 1..last_seq",
         "SELECT count(*) FROM notification_recipients r LEFT JOIN (SELECT recipient, "
         "count(*) AS c, min(seq) AS lo, max(seq) AS hi FROM notification_items GROUP BY "
         "recipient) i USING (recipient) WHERE NOT (coalesce(i.c, 0) = r.last_seq AND "
         "coalesce(i.hi, 0) = r.last_seq AND coalesce(i.lo, 1) = 1)",
         0},
        {"publications without exactly one status notice to the org",
         "SELECT count(*) FROM test_fault_acked a LEFT JOIN (SELECT recipient, "
         "subject_id, count(*) AS c FROM notification_items WHERE kind = 1 AND "
         "subject_version = 2 GROUP BY 1, 2) x ON x.recipient = a.org AND x.subject_id = "
         "a.id::text WHERE coalesce(x.c, 0) <> 1",
         0},
        {"matches without exactly one MATCH_PROPOSED to operators",
         "SELECT count(*) FROM matching_matches m LEFT JOIN (SELECT subject_id, count(*) "
         "AS c FROM notification_items WHERE kind = 3 AND recipient = 'operators' AND "
         "subject_version = 1 GROUP BY 1) x ON x.subject_id = m.id::text WHERE "
         "coalesce(x.c, 0) <> 1",
         0},
        {"operators' last seq",
         "SELECT last_seq FROM notification_recipients WHERE recipient = 'operators'",
         matches},
        {"largest org sequence",
         "SELECT max(last_seq) FROM notification_recipients WHERE recipient <> "
         "'operators'",
         INT64_MIN},
    };
    s_say("---- counts after the storm (%" PRId64 " acknowledged) ----", acked);
    s_run_checks(checks, sizeof checks / sizeof checks[0]);

    /*  The expected set of matches: forget what matching stored and replay the
        whole requests stream without interruption; the result must equal what
        the storm left (scores included). Notification stops first (SIGTERM:
        exit 0 within 5 s, SPEC section 8), so the replay's events stay unread. */
    cr_assert_eq(tb_test_proc_stop(&E.notif, 5000), 0, "tb-notification on SIGTERM");
    int64_t r0 = tb_test_now_ms();
    cr_assert_eq(tb_test_sql_exec(E.db,
                                  "CREATE TABLE test_fault_run1 AS SELECT offer_id, "
                                  "need_id, score, status FROM matching_matches"),
                 0);
    cr_assert_eq(tb_test_proc_stop(&E.matching, 5000), 0, "tb-matching on SIGTERM");
    cr_assert_eq(tb_test_sql_exec(E.db, "TRUNCATE matching_requests, matching_terms, "
                                        "matching_matches"),
                 0);
    cr_assert_eq(tb_test_sql_exec(E.db, "UPDATE matching_corpus SET published = 0"), 0);
    cr_assert_eq(tb_test_sql_exec(E.db, "UPDATE feed_cursors SET last_seq = 0 WHERE "
                                        "consumer = 'matching'"),
                 0);
    E.matching = s_start_matching();
    cr_assert_not_null(E.matching, "tb-matching did not start for the replay");
    s_sql_cond_t replayed = {
        "SELECT (SELECT last_seq FROM feed_streams WHERE stream = 'requests') - "
        "coalesce((SELECT last_seq FROM feed_cursors WHERE consumer = 'matching' AND "
        "stream = 'requests'), 0)",
        0};
    if (!tb_test_wait_until(s_sql_is, &replayed, S_DRAIN_DEADLINE)) {
        s_dump_logs();
        cr_assert_fail("the replay did not finish within %d ms", S_DRAIN_DEADLINE);
    }
    s_say("matching replayed the requests stream in %.1f s",
          (double)(tb_test_now_ms() - r0) / 1000.0);
    const s_check_t replay[] = {
        {"replay: matches", "SELECT count(*) FROM matching_matches", matches},
        {"replay: storm matches the replay lacks",
         "SELECT count(*) FROM (SELECT * FROM test_fault_run1 EXCEPT SELECT offer_id, "
         "need_id, score, status FROM matching_matches) d",
         0},
        {"replay: replay matches the storm lacks",
         "SELECT count(*) FROM (SELECT offer_id, need_id, score, status FROM "
         "matching_matches EXCEPT SELECT * FROM test_fault_run1) d",
         0},
    };
    s_run_checks(replay, sizeof replay / sizeof replay[0]);

    cr_assert_eq(tb_test_proc_stop(&E.matching, 5000), 0, "tb-matching on SIGTERM");
    cr_assert_eq(tb_test_proc_stop(&E.intake, 5000), 0, "tb-intake on SIGTERM");
    s_say("storm passed in %.1f s", (double)(tb_test_now_ms() - t0) / 1000.0);
    if (g_counts)
        fclose(g_counts);
    g_counts = NULL;
    free(d->items);
    free(d);
#endif
}
