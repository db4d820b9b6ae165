/*  bench_e2e: end-to-end latency of the three running services, open loop.

    One "request" = submit a NEED to tb-intake, publish it when the submit reply
    comes (version 1), and wait for the MATCH_PROPOSED notification that
    tb-notification publishes on its XPUB (topic "operators") once tb-matching
    stored the match: latency = notification receipt - the request's SCHEDULED
    submit time. The generator keeps a fixed schedule (send i at t0 + i / rate)
    whatever the services do, so a stall shows as latency of every request
    scheduled during it (no coordinated omission). Submits go round-robin over
    several DEALERs, each with any number of calls outstanding; one thread owns
    every socket and waits on their file descriptors with ppoll (sub-millisecond
    timeouts: zmq_poll only has milliseconds, which would add up to 1 ms of
    sending lateness to every request).

    Needs are built to match exactly one pre-loaded OFFER: request topic t has
    two pseudo-words of its own ("zq" + 4 letters + "x", untouched by the English
    stemmer) in keywords, title and summary, shared only with offer t of the same
    sector; every other term of a need is one that no offer has, so the text
    component of any other pair is 0 (no match).

      bench_e2e --preload N [endpoints]     submit + publish offers 0..N-1 (topics),
                                            then wait until the feeds are idle
      bench_e2e --zmq-rtt                   REQ/REP round trip, in process, over
                                            tcp loopback: prints rtt_p50_us= ...
      bench_e2e [endpoints] [load options]  the latency run (below)

    Endpoints: --intake, --matching, --notification (APIs), --pub (XPUB).
    Load: --topics N (= the preload count, 2000), --headline-rate R (500)
    --headline-seconds S (30), --rates "250,500,..." (the sweep, ascending; it
    stops at the first rate whose p99 passes --p99-limit-ms, 100),
    --seconds S (per sweep point, 10), --warmup S (1, not counted), --grace-ms
    (2000: a need without its notification by then is "missing"), --dealers N
    (4), --commit-ms X and --commit-label L (the single-row INSERT commit
    latency the run script measured with pgbench, for the floor estimate).

    Every point prints one key=value line; a summary follows. Exit 0 when the
    run completed (whatever the figures), 1 on a setup failure or an error reply
    from a service. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "api.pb-c.h"
#include "tb_valid.h"
#include "tb_arena.h"
#include "tb_util.h"
#include "tb_wire.h"

#define S_DEALERS_MAX 64
#define S_MISSING     UINT32_MAX
#define S_REPLY_MAX   (4 * 1024 * 1024)
#define S_CALL_MS     5000
#define S_IDLE_MS     60000

/*  The built-in sector codes (tb_default_sectors), the seed of the sectors table. */
#define S_NSECTORS (tb_default_sectors.count)

typedef struct {
    const char *intake, *matching, *notification, *pub;
    int topics;
    double headline_rate, headline_s;
    double rates[32];
    int n_rates;
    double sweep_s, warmup_s;
    int grace_ms;
    double p99_limit_ms;
    int dealers;
    int refine;       /* bisection steps after the first failing rate */
    double commit_ms; /* < 0: not measured */
    const char *commit_label;
    char tag[16];
} s_opts_t;

/* ---- request content ---- */

/*  Topic word j (0, 1) of topic t: "zq" + 4 letters + "x". */
static void s_word(char out[8], int t, int j)
{
    unsigned v = (unsigned)t * 2u + (unsigned)j;
    out[0] = 'z';
    out[1] = 'q';
    for (int k = 5; k >= 2; k--) {
        out[k] = (char)('a' + v % 26);
        v /= 26;
    }
    out[6] = 'x';
    out[7] = '\0';
}

typedef struct {
    Techbridge__Request r;
    Techbridge__Org org;
    Techbridge__Contact contact;
    char *keywords[3];
    Techbridge__Cooperation coop[1];
    char w0[8], w1[8], ref[96], org_id[64], title[160], summary[300];
} s_req_t;

/*  Fills `q` with offer t (OFFER) or a need of topic t (NEED, number `seq`). */
static void s_req_fill(s_req_t *q, const s_opts_t *o, bool offer, int t, int point,
                       uint64_t seq)
{
    memset(q, 0, sizeof *q);
    techbridge__request__init(&q->r);
    techbridge__org__init(&q->org);
    techbridge__contact__init(&q->contact);
    s_word(q->w0, t, 0);
    s_word(q->w1, t, 1);
    q->r.org = &q->org;
    q->r.contact = &q->contact;
    q->r.sector = (char *)tb_default_sectors.codes[(unsigned)t % S_NSECTORS];
    q->coop[0] = TECHBRIDGE__COOPERATION__LICENSE;
    q->r.cooperation = q->coop;
    q->r.n_cooperation = 1;
    q->r.keywords = q->keywords;
    q->r.n_keywords = 3;
    q->keywords[0] = q->w0;
    q->keywords[1] = q->w1;
    if (offer) {
        q->r.kind = TECHBRIDGE__KIND__OFFER;
        snprintf(q->ref, sizeof q->ref, "e2e-offer-%d", t);
        snprintf(q->org_id, sizeof q->org_id, "e2e-offer-%d", t);
        q->org.name = "Jiangsu Hengtai Process Co., Ltd.";
        q->org.country = "CN";
        q->org.region = "Jiangsu";
        q->contact.name = "Wang Lei";
        q->contact.email = "wang.lei@hengtai.example.cn";
        q->keywords[2] = "licence";
        snprintf(q->title, sizeof q->title, "Licence of the %s %s process", q->w0, q->w1);
        snprintf(q->summary, sizeof q->summary,
                 "Proven %s %s process at three plants in Jiangsu. Licence, "
                 "drawings and operator training offered.",
                 q->w0, q->w1);
        q->r.trl = 7;
        q->r.ipr = TECHBRIDGE__IPR__PATENT_GRANTED;
    } else {
        q->r.kind = TECHBRIDGE__KIND__NEED;
        snprintf(q->ref, sizeof q->ref, "e2e-%s-%d-%" PRIu64, o->tag, point, seq);
        snprintf(q->org_id, sizeof q->org_id, "e2e-need-%s-%u", o->tag,
                 (unsigned)(seq % 1000));
        q->org.name = "Gomel Mechanical Works";
        q->org.country = "BY";
        q->org.region = "Gomel";
        q->contact.name = "Olga Ivanova";
        q->contact.email = "o.ivanova@gomel-works.example.by";
        q->keywords[2] = "modernisation";
        snprintf(q->title, sizeof q->title, "Wanted: %s %s for modernisation", q->w0,
                 q->w1);
        snprintf(q->summary, sizeof q->summary,
                 "Our workshop wants %s %s for modernisation; budget agreed, "
                 "start next quarter.",
                 q->w0, q->w1);
        q->r.trl = 5;
    }
    q->org.id = q->org_id;
    q->r.external_ref = q->ref;
    q->r.title = q->title;
    q->r.summary = q->summary;
}

/* ---- small helpers ---- */

static uint64_t s_mix(uint64_t x)
{
    /* splitmix64 */
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static void *s_socket(void *ctx, int type, const char *endpoint)
{
    void *s = zmq_socket(ctx, type);
    int zero = 0, big = 1000000;
    if (!s)
        return NULL;
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &big, sizeof big) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &big, sizeof big) != 0 ||
        zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "bench_e2e: %s: %s\n", endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/*  Receives one message (all its frames) without waiting. Returns the number
    of frames (0: nothing waiting); the last two frames land in `a` and `b`
    (initialised here, closed by the caller). */
static int s_recv_frames(void *sock, zmq_msg_t *a, zmq_msg_t *b)
{
    zmq_msg_init(a);
    zmq_msg_init(b);
    if (zmq_msg_recv(b, sock, ZMQ_DONTWAIT) < 0)
        return 0;
    int frames = 1;
    while (zmq_msg_more(b)) {
        zmq_msg_close(a);
        zmq_msg_move(a, b);
        if (zmq_msg_recv(b, sock, 0) < 0)
            break;
        frames++;
    }
    return frames;
}

/*  One blocking call over a DEALER. Returns the reply (free with
    techbridge__api_reply__free_unpacked) or NULL. */
static Techbridge__ApiReply *s_call(void *sock, Techbridge__ApiRequest *req,
                                    int timeout_ms)
{
    if (tb_wire_send(sock, &req->base, true) != 0)
        return NULL;
    zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return NULL;
    zmq_msg_t a, b;
    Techbridge__ApiReply *rep = NULL;
    if (s_recv_frames(sock, &a, &b) > 0)
        rep = techbridge__api_reply__unpack(NULL, zmq_msg_size(&b), zmq_msg_data(&b));
    zmq_msg_close(&a);
    zmq_msg_close(&b);
    return rep;
}

/*  Waits until every feed consumer of matching and notification has caught up
    (lag 0) and, when `sub` is given, nothing arrived on it for 300 ms (a lag
    of 0 is a snapshot: a consumer between two batches shows none), at most
    `deadline_ms`. What arrives on `sub` meanwhile is dropped. Returns 0, or -1
    on timeout / no answer. */
static int s_wait_idle(void *ctx, const s_opts_t *o, void *sub, int deadline_ms)
{
    int64_t last_note = tb_mono_us();
    const char *eps[] = {o->matching, o->notification};
    void *socks[2] = {NULL, NULL};
    int rc = -1;
    for (int i = 0; i < 2; i++)
        if (!(socks[i] = s_socket(ctx, ZMQ_DEALER, eps[i])))
            goto done;
    int64_t until = tb_mono_us() + (int64_t)deadline_ms * 1000;
    while (tb_mono_us() < until) {
        bool idle = true;
        for (int i = 0; i < 2 && idle; i++) {
            Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
            Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
            req.correlation_id = "e2e-health";
            req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
            req.health = &h;
            Techbridge__ApiReply *rep = s_call(socks[i], &req, S_CALL_MS);
            if (!rep || rep->result_case != TECHBRIDGE__API_REPLY__RESULT_HEALTH) {
                fprintf(stderr, "bench_e2e: no health answer from %s\n", eps[i]);
                if (rep)
                    techbridge__api_reply__free_unpacked(rep, NULL);
                goto done;
            }
            for (size_t f = 0; f < rep->health->n_feeds; f++)
                if (rep->health->feeds[f]->lag != 0)
                    idle = false;
            techbridge__api_reply__free_unpacked(rep, NULL);
        }
        if (sub) {
            zmq_msg_t a, b;
            while (s_recv_frames(sub, &a, &b) > 0) {
                last_note = tb_mono_us();
                zmq_msg_close(&a);
                zmq_msg_close(&b);
            }
            zmq_msg_close(&a);
            zmq_msg_close(&b);
            if (tb_mono_us() - last_note < 300000)
                idle = false;
        }
        if (idle) {
            rc = 0;
            goto done;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "bench_e2e: feeds not idle after %d ms\n", deadline_ms);
done:
    for (int i = 0; i < 2; i++)
        if (socks[i])
            zmq_close(socks[i]);
    return rc;
}

/* ---- preload ---- */

static int s_preload(void *ctx, const s_opts_t *o, int n)
{
    void *sock = s_socket(ctx, ZMQ_DEALER, o->intake);
    if (!sock)
        return 1;
    int64_t t0 = tb_mono_us();
    int sent = 0, done = 0, inflight = 0, errors = 0, skipped = 0;
    const int window = 64;
    char cid[64];
    while (done < n) {
        while (sent < n && inflight < window) {
            s_req_t q;
            s_req_fill(&q, o, true, sent, 0, 0);
            Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
            sub.request = &q.r;
            Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
            snprintf(cid, sizeof cid, "e2e-pre-s-%d", sent);
            req.correlation_id = cid;
            req.actor = "operator";
            req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
            req.submit = &sub;
            if (tb_wire_send(sock, &req.base, true) != 0)
                goto fail;
            sent++;
            inflight++;
        }
        zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, S_CALL_MS) <= 0) {
            fprintf(stderr, "bench_e2e: preload: no reply in %d ms\n", S_CALL_MS);
            goto fail;
        }
        zmq_msg_t a, b;
        while (s_recv_frames(sock, &a, &b) > 0) {
            Techbridge__ApiReply *rep =
                techbridge__api_reply__unpack(NULL, zmq_msg_size(&b), zmq_msg_data(&b));
            zmq_msg_close(&a);
            zmq_msg_close(&b);
            if (!rep || rep->error ||
                rep->result_case != TECHBRIDGE__API_REPLY__RESULT_REQUEST) {
                if (errors++ == 0)
                    fprintf(stderr, "bench_e2e: preload: error reply: %s\n",
                            rep && rep->error && rep->error->message ? rep->error->message
                                                                     : "?");
                inflight--;
                done++;
            } else {
                Techbridge__Request *r = rep->request->request;
                bool is_submit = strncmp(rep->correlation_id, "e2e-pre-s-", 10) == 0;
                if (is_submit && r->status == TECHBRIDGE__STATUS__SUBMITTED) {
                    /* publish it: one more call in flight on the same slot */
                    Techbridge__TransitionRequest tr =
                        TECHBRIDGE__TRANSITION_REQUEST__INIT;
                    tr.id = r->id;
                    tr.action = TECHBRIDGE__ACTION__PUBLISH;
                    tr.version = r->version;
                    tr.reason = "bench preload";
                    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
                    snprintf(cid, sizeof cid, "e2e-pre-p-%s", r->external_ref);
                    req.correlation_id = cid;
                    req.actor = "operator";
                    req.body_case = TECHBRIDGE__API_REQUEST__BODY_TRANSITION;
                    req.transition = &tr;
                    int rc = tb_wire_send(sock, &req.base, true);
                    techbridge__api_reply__free_unpacked(rep, NULL);
                    if (rc != 0)
                        goto fail;
                    continue;
                }
                if (is_submit)
                    skipped++; /* already there from an earlier run */
                inflight--;
                done++;
            }
            if (rep)
                techbridge__api_reply__free_unpacked(rep, NULL);
        }
        zmq_msg_close(&a);
        zmq_msg_close(&b);
    }
    zmq_close(sock);
    double s = (double)(tb_mono_us() - t0) / 1e6;
    int idle = s_wait_idle(ctx, o, NULL, 120000);
    printf("preload offers=%d errors=%d already=%d seconds=%.2f idle_after_s=%.2f\n", n,
           errors, skipped, s, (double)(tb_mono_us() - t0) / 1e6);
    return errors || idle != 0 ? 1 : 0;
fail:
    fprintf(stderr, "bench_e2e: preload failed: %s\n", zmq_strerror(errno));
    zmq_close(sock);
    return 1;
}

/* ---- ZeroMQ round trip ---- */

static void *s_rep_thread(void *arg)
{
    void *rep = arg;
    char buf[512];
    for (;;) {
        int n = zmq_recv(rep, buf, sizeof buf, 0);
        if (n < 0)
            break;
        if (n == 4 && memcmp(buf, "stop", 4) == 0) {
            zmq_send(rep, "", 0, 0);
            break;
        }
        if (zmq_send(rep, buf, (size_t)(n > (int)sizeof buf ? (int)sizeof buf : n), 0) <
            0)
            break;
    }
    return NULL;
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*  p in [0,1] of sorted v (nearest rank); S_MISSING stays S_MISSING. */
static uint32_t s_pct(const uint32_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/*  Median REQ/REP round trip in microseconds over tcp loopback, in one process
    (a 200-byte message: about an API call's size), or < 0 on failure. */
static double s_zmq_rtt(void *ctx, double *p99_us)
{
    void *rep = zmq_socket(ctx, ZMQ_REP), *req = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    char ep[128];
    size_t len = sizeof ep;
    pthread_t th;
    zmq_setsockopt(rep, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(rep, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(rep, ZMQ_LAST_ENDPOINT, ep, &len) != 0 ||
        zmq_connect(req, ep) != 0 || pthread_create(&th, NULL, s_rep_thread, rep) != 0) {
        zmq_close(rep);
        zmq_close(req);
        return -1;
    }
    enum { N = 5000, WARM = 500 };
    static uint32_t lat[N];
    char msg[200], buf[256];
    memset(msg, 'x', sizeof msg);
    for (int i = 0; i < WARM + N; i++) {
        int64_t t0 = tb_mono_us();
        if (zmq_send(req, msg, sizeof msg, 0) < 0 ||
            zmq_recv(req, buf, sizeof buf, 0) < 0)
            break;
        if (i >= WARM)
            lat[i - WARM] = (uint32_t)(tb_mono_us() - t0);
    }
    zmq_send(req, "stop", 4, 0);
    zmq_recv(req, buf, sizeof buf, 0);
    pthread_join(th, NULL);
    zmq_close(rep);
    zmq_close(req);
    qsort(lat, N, sizeof lat[0], s_cmp_u32);
    if (p99_us)
        *p99_us = s_pct(lat, N, 0.99);
    return s_pct(lat, N, 0.50);
}

/* ---- the load ---- */

typedef struct {
    int64_t sched_us, sub_us, pub_us, note_us;
    char id[37];
    uint8_t state; /* S_* below */
} s_need_t;

enum { S_WAIT, S_SUBMITTING, S_PUBLISHING, S_PUBLISHED, S_FAILED };

typedef struct {
    double rate, seconds;
    size_t n, n_warm;
    s_need_t *needs;
    /* id -> index + 1 (0: empty), open addressing */
    uint32_t *map;
    size_t map_cap;
    long errors, strays, dup_notes;
    char first_error[256];
} s_point_t;

typedef struct {
    size_t counted, notified, missing;
    uint32_t p50, p90, p99, max;
    uint32_t sub_p50, sub_p99, pub_p50, pub_p99, pipe_p50, pipe_p99;
    double achieved;
} s_result_t;

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static void s_map_put(s_point_t *p, size_t idx)
{
    size_t m = p->map_cap - 1, i = (size_t)s_hash(p->needs[idx].id) & m;
    while (p->map[i])
        i = (i + 1) & m;
    p->map[i] = (uint32_t)idx + 1;
}

static s_need_t *s_map_get(s_point_t *p, const char *id)
{
    if (!id)
        return NULL;
    size_t m = p->map_cap - 1, i = (size_t)s_hash(id) & m;
    while (p->map[i]) {
        s_need_t *n = &p->needs[p->map[i] - 1];
        if (strcmp(n->id, id) == 0)
            return n;
        i = (i + 1) & m;
    }
    return NULL;
}

static void s_point_error(s_point_t *p, const char *what, const Techbridge__ApiReply *rep)
{
    p->errors++;
    if (!p->first_error[0])
        snprintf(p->first_error, sizeof p->first_error, "%s: code %d: %s", what,
                 rep && rep->error ? (int)rep->error->code : -1,
                 rep && rep->error && rep->error->message ? rep->error->message : "?");
}

typedef struct {
    const s_opts_t *o;
    void *dealers[S_DEALERS_MAX];
    int n_dealers;
    void *sub;
    int point_no;
    long errors;     /* error replies over the sweep */
    double low_rate; /* the first sweep point's rate and p50 */
    uint32_t low_p50;
} s_gen_t;

static int s_send_submit(s_gen_t *g, s_point_t *p, size_t i)
{
    s_req_t q;
    int topic = (int)(s_mix(((uint64_t)g->point_no << 32) ^ i) % (uint64_t)g->o->topics);
    s_req_fill(&q, g->o, false, topic, g->point_no, i);
    Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    sub.request = &q.r;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    char cid[64];
    snprintf(cid, sizeof cid, "e2e-%s-%d-%zu", g->o->tag, g->point_no, i);
    req.correlation_id = cid;
    req.actor = "operator";
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    p->needs[i].state = S_SUBMITTING;
    if (tb_wire_send(g->dealers[i % (size_t)g->n_dealers], &req.base, true) != 0) {
        p->needs[i].state = S_FAILED;
        s_point_error(p, "submit send failed", NULL);
        return -1;
    }
    return 0;
}

/*  The index of a call of this point from its correlation id, or -1. */
static long s_cid_index(const s_gen_t *g, const char *cid, const s_point_t *p)
{
    char head[48];
    snprintf(head, sizeof head, "e2e-%s-%d-", g->o->tag, g->point_no);
    size_t hl = strlen(head);
    if (!cid || strncmp(cid, head, hl) != 0)
        return -1;
    char *end = NULL;
    unsigned long v = strtoul(cid + hl, &end, 10);
    if (end == cid + hl || *end || v >= p->n)
        return -1;
    return (long)v;
}

static void s_on_reply(s_gen_t *g, s_point_t *p, void *sock, const uint8_t *data,
                       size_t len, int64_t now)
{
    Techbridge__ApiReply *rep = techbridge__api_reply__unpack(NULL, len, data);
    long i = rep ? s_cid_index(g, rep->correlation_id, p) : -1;
    if (i < 0) {
        s_point_error(p, "reply of no call of this point", rep);
        goto done;
    }
    s_need_t *n = &p->needs[i];
    if (rep->error || rep->result_case != TECHBRIDGE__API_REPLY__RESULT_REQUEST ||
        !rep->request->request || !rep->request->request->id) {
        s_point_error(p, n->state == S_SUBMITTING ? "submit" : "publish", rep);
        n->state = S_FAILED;
        goto done;
    }
    if (n->state == S_SUBMITTING) {
        Techbridge__Request *r = rep->request->request;
        n->sub_us = now;
        snprintf(n->id, sizeof n->id, "%s", r->id);
        s_map_put(p, (size_t)i);
        Techbridge__TransitionRequest tr = TECHBRIDGE__TRANSITION_REQUEST__INIT;
        tr.id = r->id;
        tr.action = TECHBRIDGE__ACTION__PUBLISH;
        tr.version = r->version;
        tr.reason = "bench";
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        req.correlation_id = rep->correlation_id; /* one id end to end */
        req.actor = "operator";
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_TRANSITION;
        req.transition = &tr;
        n->state = S_PUBLISHING;
        if (tb_wire_send(sock, &req.base, true) != 0) {
            n->state = S_FAILED;
            s_point_error(p, "publish send failed", NULL);
        }
    } else if (n->state == S_PUBLISHING) {
        n->pub_us = now;
        n->state = S_PUBLISHED;
    }
done:
    if (rep)
        techbridge__api_reply__free_unpacked(rep, NULL);
}

static void s_on_note(s_point_t *p, const uint8_t *data, size_t len, int64_t now)
{
    Techbridge__Notification *note = techbridge__notification__unpack(NULL, len, data);
    if (!note)
        return;
    if (note->kind == TECHBRIDGE__NOTIFICATION_KIND__MATCH_PROPOSED && note->match &&
        note->match->need) {
        s_need_t *n = s_map_get(p, note->match->need->request_id);
        if (!n)
            p->strays++;
        else if (n->note_us)
            p->dup_notes++;
        else
            n->note_us = now;
    }
    techbridge__notification__free_unpacked(note, NULL);
}

/*  Reads everything waiting on every socket. */
static void s_drain(s_gen_t *g, s_point_t *p)
{
    zmq_msg_t a, b;
    for (int d = 0; d < g->n_dealers; d++)
        while (s_recv_frames(g->dealers[d], &a, &b) > 0) {
            s_on_reply(g, p, g->dealers[d], zmq_msg_data(&b), zmq_msg_size(&b),
                       tb_mono_us());
            zmq_msg_close(&a);
            zmq_msg_close(&b);
        }
    zmq_msg_close(&a);
    zmq_msg_close(&b);
    while (s_recv_frames(g->sub, &a, &b) > 0) {
        s_on_note(p, zmq_msg_data(&b), zmq_msg_size(&b), tb_mono_us());
        zmq_msg_close(&a);
        zmq_msg_close(&b);
    }
    zmq_msg_close(&a);
    zmq_msg_close(&b);
}

static bool s_readable(void *sock)
{
    int ev = 0;
    size_t sz = sizeof ev;
    return zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

/*  Runs one point: n = rate * (warmup + seconds) needs on a fixed schedule,
    then waits until each has its notification or its grace passed. */
static int s_run_point(s_gen_t *g, s_point_t *p, double rate, double seconds,
                       double warmup)
{
    memset(p, 0, sizeof *p);
    p->rate = rate;
    p->seconds = seconds;
    p->n_warm = (size_t)(rate * warmup);
    p->n = p->n_warm + (size_t)(rate * seconds);
    p->needs = calloc(p->n ? p->n : 1, sizeof *p->needs);
    p->map_cap = 1024;
    while (p->map_cap < 2 * p->n)
        p->map_cap *= 2;
    p->map = calloc(p->map_cap, sizeof *p->map);
    if (!p->needs || !p->map)
        return -1;
    struct pollfd fds[S_DEALERS_MAX + 1];
    void *socks[S_DEALERS_MAX + 1];
    int nfds = 0;
    for (int d = 0; d < g->n_dealers; d++)
        socks[nfds++] = g->dealers[d];
    socks[nfds++] = g->sub;
    for (int k = 0; k < nfds; k++) {
        int fd = -1;
        size_t sz = sizeof fd;
        zmq_getsockopt(socks[k], ZMQ_FD, &fd, &sz);
        fds[k] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    const double step_us = 1e6 / rate;
    const int64_t grace_us = (int64_t)g->o->grace_ms * 1000;
    int64_t t0 = tb_mono_us() + 1000;
    for (size_t i = 0; i < p->n; i++)
        p->needs[i].sched_us = t0 + (int64_t)((double)i * step_us);
    size_t next = 0, resolved_upto = 0;
    for (;;) {
        int64_t now = tb_mono_us();
        while (next < p->n && p->needs[next].sched_us <= now)
            s_send_submit(g, p, next++);
        s_drain(g, p);
        now = tb_mono_us();
        /* Done when every need has its notification, failed, or ran out of grace. */
        while (resolved_upto < next) {
            s_need_t *n = &p->needs[resolved_upto];
            if (n->note_us || n->state == S_FAILED || now > n->sched_us + grace_us)
                resolved_upto++;
            else
                break;
        }
        if (next == p->n && resolved_upto == p->n)
            break;
        int64_t wake = next < p->n ? p->needs[next].sched_us : now + 10000;
        if (next == p->n && resolved_upto < p->n) {
            int64_t g_end = p->needs[resolved_upto].sched_us + grace_us + 1;
            if (g_end < wake)
                wake = g_end;
        }
        bool ready = false;
        for (int k = 0; k < nfds && !ready; k++)
            ready = s_readable(socks[k]);
        if (ready || wake <= now)
            continue;
        int64_t d = wake - now;
        struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
        if (ppoll(fds, (nfds_t)nfds, &ts, NULL) < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

static void s_point_result(const s_point_t *p, int grace_ms, s_result_t *r)
{
    memset(r, 0, sizeof *r);
    size_t n = p->n - p->n_warm;
    uint32_t *tot = malloc((n ? n : 1) * sizeof *tot);
    uint32_t *sub = malloc((n ? n : 1) * sizeof *sub);
    uint32_t *pub = malloc((n ? n : 1) * sizeof *pub);
    uint32_t *pipe = malloc((n ? n : 1) * sizeof *pipe);
    if (!tot || !sub || !pub || !pipe) {
        free(tot), free(sub), free(pub), free(pipe);
        return;
    }
    size_t ns = 0, np = 0, nq = 0;
    int64_t start = 0, last = 0;
    for (size_t i = p->n_warm; i < p->n; i++) {
        const s_need_t *x = &p->needs[i];
        if (!start || x->sched_us < start)
            start = x->sched_us;
        int64_t lat = x->note_us ? x->note_us - x->sched_us : -1;
        bool ok = lat >= 0 && lat <= (int64_t)grace_ms * 1000;
        tot[r->counted++] = ok ? (uint32_t)lat : S_MISSING;
        if (ok) {
            r->notified++;
            if (x->note_us > last)
                last = x->note_us;
        } else {
            r->missing++;
        }
        if (x->sub_us)
            sub[ns++] = (uint32_t)(x->sub_us - x->sched_us);
        if (x->pub_us && x->sub_us)
            pub[np++] = (uint32_t)(x->pub_us - x->sub_us);
        if (ok && x->pub_us)
            pipe[nq++] = x->note_us > x->pub_us ? (uint32_t)(x->note_us - x->pub_us) : 0;
    }
    qsort(tot, r->counted, sizeof *tot, s_cmp_u32);
    qsort(sub, ns, sizeof *sub, s_cmp_u32);
    qsort(pub, np, sizeof *pub, s_cmp_u32);
    qsort(pipe, nq, sizeof *pipe, s_cmp_u32);
    r->p50 = s_pct(tot, r->counted, 0.50);
    r->p90 = s_pct(tot, r->counted, 0.90);
    r->p99 = s_pct(tot, r->counted, 0.99);
    r->max = r->counted ? tot[r->counted - 1] : 0;
    r->sub_p50 = s_pct(sub, ns, 0.50);
    r->sub_p99 = s_pct(sub, ns, 0.99);
    r->pub_p50 = s_pct(pub, np, 0.50);
    r->pub_p99 = s_pct(pub, np, 0.99);
    r->pipe_p50 = s_pct(pipe, nq, 0.50);
    r->pipe_p99 = s_pct(pipe, nq, 0.99);
    /*  Needs notified in time per second, from the first scheduled submission
        to the last notification: it cannot exceed the offered rate (a span
        between notifications alone can, when few arrive close together). */
    r->achieved = -1;
    if (r->notified > 0 && last > start) {
        double span_s = (double)(last - start) / 1e6;
        double v = (double)r->notified / span_s;
        if (v <= p->rate * 1.01 + 1.0 / span_s)
            r->achieved = v;
    }
    free(tot), free(sub), free(pub), free(pipe);
}

/*  Milliseconds as text; a missing value as "inf". */
static const char *s_ms(char buf[32], uint32_t us)
{
    if (us == S_MISSING)
        snprintf(buf, 32, "inf");
    else
        snprintf(buf, 32, "%.2f", us / 1000.0);
    return buf;
}

static void s_print_point(const char *label, const s_point_t *p, const s_result_t *r)
{
    char a[32], b[32], c[32], d[32], e[32], f[32], h[32], i[32], j[32], k[32], ach[32];
    /*  n/a: nothing notified in time, or a figure above the offered rate. */
    if (r->achieved < 0)
        snprintf(ach, sizeof ach, "n/a");
    else
        snprintf(ach, sizeof ach, "%.1f", r->achieved);
    printf("point label=%s rate=%.0f seconds=%.0f needs=%zu notified=%zu missing=%zu "
           "errors=%ld p50_ms=%s p90_ms=%s p99_ms=%s max_ms=%s submit_p50_ms=%s "
           "submit_p99_ms=%s publish_p50_ms=%s publish_p99_ms=%s pipeline_p50_ms=%s "
           "pipeline_p99_ms=%s achieved_per_s=%s strays=%ld\n",
           label, p->rate, p->seconds, r->counted, r->notified, r->missing, p->errors,
           s_ms(a, r->p50), s_ms(b, r->p90), s_ms(c, r->p99), s_ms(d, r->max),
           s_ms(e, r->sub_p50), s_ms(f, r->sub_p99), s_ms(h, r->pub_p50),
           s_ms(i, r->pub_p99), s_ms(j, r->pipe_p50), s_ms(k, r->pipe_p99), ach,
           p->strays);
    if (p->first_error[0])
        fprintf(stderr, "bench_e2e: %s: first error: %s\n", label, p->first_error);
    fflush(stdout);
}

static void s_point_free(s_point_t *p)
{
    free(p->needs);
    free(p->map);
    p->needs = NULL;
    p->map = NULL;
}

/*  One sweep point at `rate`: runs, prints, waits for the feeds to drain.
    *ok: p99 under the limit and every need notified. Returns -1 on a setup
    failure. */
static int s_sweep_point(void *ctx, s_gen_t *g, double rate, bool *ok)
{
    const s_opts_t *o = g->o;
    s_point_t p;
    s_result_t r;
    if (s_run_point(g, &p, rate, o->sweep_s, o->warmup_s) != 0)
        return -1;
    s_point_result(&p, o->grace_ms, &r);
    s_print_point("sweep", &p, &r);
    g->errors += p.errors;
    if (g->low_rate == 0 || rate < g->low_rate) {
        g->low_rate = rate;
        g->low_p50 = r.p50;
    }
    *ok = r.missing == 0 && p.errors == 0 && r.p99 != S_MISSING &&
          r.p99 / 1000.0 < o->p99_limit_ms;
    s_point_free(&p);
    if (s_wait_idle(ctx, o, g->sub, S_IDLE_MS) != 0)
        fprintf(stderr, "bench_e2e: carrying on with a backlog\n");
    return 0;
}

static int s_parse_rates(s_opts_t *o, const char *v)
{
    o->n_rates = 0;
    char *copy = strdup(v), *save = NULL;
    if (!copy)
        return -1;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        double r = atof(t);
        if (r <= 0 || o->n_rates == (int)(sizeof o->rates / sizeof o->rates[0])) {
            free(copy);
            return -1;
        }
        o->rates[o->n_rates++] = r;
    }
    free(copy);
    return o->n_rates > 0 ? 0 : -1;
}

static void s_usage(void)
{
    fprintf(
        stderr,
        "usage: bench_e2e [--intake EP] [--matching EP] [--notification EP] [--pub EP]\n"
        "         [--preload N | --zmq-rtt]\n"
        "         [--topics N] [--headline-rate R] [--headline-seconds S]\n"
        "         [--rates R1,R2,...] [--seconds S] [--warmup S] [--grace-ms MS]\n"
        "         [--p99-limit-ms MS] [--refine N] [--dealers N] [--commit-ms X]\n"
        "         [--commit-label TEXT]\n");
}

int main(int argc, char **argv)
{
    s_opts_t o = {.intake = "tcp://127.0.0.1:7101",
                  .matching = "tcp://127.0.0.1:7103",
                  .notification = "tcp://127.0.0.1:7105",
                  .pub = "tcp://127.0.0.1:7106",
                  .topics = 2000,
                  .headline_rate = 500,
                  .headline_s = 30,
                  .sweep_s = 10,
                  .warmup_s = 1,
                  .grace_ms = 2000,
                  .p99_limit_ms = 100,
                  .dealers = 4,
                  .refine = 1,
                  .commit_ms = -1,
                  .commit_label = "pgbench single-row INSERT, latency average"};
    s_parse_rates(&o, "250,500,750,1000,1500,2000");
    int preload = 0;
    bool rtt_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--zmq-rtt") == 0) {
            rtt_only = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v) {
            s_usage();
            return 2;
        }
        if (strcmp(a, "--intake") == 0)
            o.intake = v;
        else if (strcmp(a, "--matching") == 0)
            o.matching = v;
        else if (strcmp(a, "--notification") == 0)
            o.notification = v;
        else if (strcmp(a, "--pub") == 0)
            o.pub = v;
        else if (strcmp(a, "--preload") == 0)
            preload = atoi(v);
        else if (strcmp(a, "--topics") == 0)
            o.topics = atoi(v);
        else if (strcmp(a, "--headline-rate") == 0)
            o.headline_rate = atof(v);
        else if (strcmp(a, "--headline-seconds") == 0)
            o.headline_s = atof(v);
        else if (strcmp(a, "--rates") == 0) {
            if (s_parse_rates(&o, v) != 0) {
                s_usage();
                return 2;
            }
        } else if (strcmp(a, "--seconds") == 0)
            o.sweep_s = atof(v);
        else if (strcmp(a, "--warmup") == 0)
            o.warmup_s = atof(v);
        else if (strcmp(a, "--grace-ms") == 0)
            o.grace_ms = atoi(v);
        else if (strcmp(a, "--p99-limit-ms") == 0)
            o.p99_limit_ms = atof(v);
        else if (strcmp(a, "--refine") == 0)
            o.refine = atoi(v);
        else if (strcmp(a, "--dealers") == 0)
            o.dealers = atoi(v);
        else if (strcmp(a, "--commit-ms") == 0)
            o.commit_ms = atof(v);
        else if (strcmp(a, "--commit-label") == 0)
            o.commit_label = v;
        else {
            s_usage();
            return 2;
        }
    }
    if (o.topics < 1 || o.dealers < 1 || o.dealers > S_DEALERS_MAX || o.grace_ms < 1 ||
        o.headline_s < 0 || o.sweep_s <= 0 || o.warmup_s < 0 || preload < 0) {
        s_usage();
        return 2;
    }
    {
        char uuid[37];
        tb_uuid(uuid);
        snprintf(o.tag, sizeof o.tag, "%.8s", uuid);
    }
    void *ctx = zmq_ctx_new();
    if (!ctx)
        return 1;
    if (rtt_only) {
        double p99 = 0, p50 = s_zmq_rtt(ctx, &p99);
        printf("zmq_rtt p50_us=%.1f p99_us=%.1f\n", p50, p99);
        zmq_ctx_term(ctx);
        return p50 < 0;
    }
    if (preload > 0) {
        int rc = s_preload(ctx, &o, preload);
        zmq_ctx_term(ctx);
        return rc;
    }

    /* The floor's ZeroMQ part, measured now, on the same machine state. */
    double rtt_p99 = 0, rtt_us = s_zmq_rtt(ctx, &rtt_p99);
    printf("zmq_rtt p50_us=%.1f p99_us=%.1f\n", rtt_us, rtt_p99);

    s_gen_t g = {.o = &o, .n_dealers = o.dealers};
    for (int d = 0; d < o.dealers; d++)
        if (!(g.dealers[d] = s_socket(ctx, ZMQ_DEALER, o.intake)))
            return 1;
    if (!(g.sub = s_socket(ctx, ZMQ_SUB, o.pub)) ||
        zmq_setsockopt(g.sub, ZMQ_SUBSCRIBE, "operators", 9) != 0)
        return 1;
    if (s_wait_idle(ctx, &o, NULL, S_IDLE_MS) != 0)
        return 1;

    /*  Settle: a short run until one notification arrives proves the
        subscription is in place (a SUB misses what was published before its
        subscription reached the XPUB). */
    s_point_t p;
    s_result_t r;
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        g.point_no = 1000 + attempt;
        if (s_run_point(&g, &p, 50, 0.5, 0) != 0)
            return 1;
        s_point_result(&p, o.grace_ms, &r);
        long errors = p.errors;
        s_point_free(&p);
        if (errors) {
            fprintf(stderr, "bench_e2e: settle run: %s\n", p.first_error);
            return 1;
        }
        if (r.notified > 0)
            break;
        if (attempt == 4) {
            fprintf(stderr,
                    "bench_e2e: no MATCH_PROPOSED notification arrived on %s: "
                    "was the preload done (--topics = preloaded offers)?\n",
                    o.pub);
            return 1;
        }
    }
    s_wait_idle(ctx, &o, g.sub, S_IDLE_MS);

    /*  The sweep first: ascending, it stops at the first rate over the limit,
        then bisects between the last good rate and that one (--refine steps).
        The headline comes last, so that an overloaded headline's backlog need
        not drain before anything else runs. */
    double best = 0, bad = 0;
    int point_no = 1;
    for (int k = 0; k < o.n_rates && bad == 0; k++) {
        bool ok = false;
        g.point_no = point_no++;
        if (s_sweep_point(ctx, &g, o.rates[k], &ok) != 0)
            return 1;
        if (ok)
            best = o.rates[k];
        else
            bad = o.rates[k];
    }
    for (int k = 0; k < o.refine && bad > 0; k++) {
        double mid = 25 * (double)(long)((best + bad) / 2 / 25 + 0.5);
        if (mid <= best || mid >= bad)
            break;
        bool ok = false;
        g.point_no = point_no++;
        if (s_sweep_point(ctx, &g, mid, &ok) != 0)
            return 1;
        if (ok)
            best = mid;
        else
            bad = mid;
    }
    rc |= g.errors ? 1 : 0;

    /* The headline. */
    s_result_t head = {0};
    bool have_head = o.headline_s > 0;
    if (have_head) {
        g.point_no = 0;
        if (s_run_point(&g, &p, o.headline_rate, o.headline_s, o.warmup_s) != 0)
            return 1;
        s_point_result(&p, o.grace_ms, &head);
        s_print_point("headline", &p, &head);
        rc |= p.errors ? 1 : 0;
        s_point_free(&p);
    }

    /* Summary. */
    char a[32], b[32], c[32], d[32], e[32], f[32];
    printf(
        "\n== end-to-end: submit + publish -> match stored -> MATCH_PROPOSED on XPUB\n");
    if (have_head)
        printf("headline %.0f/s for %.0f s: p50 %s ms, p90 %s ms, p99 %s ms, max %s ms; "
               "%zu needs, %zu without a notification within %d ms\n",
               o.headline_rate, o.headline_s, s_ms(a, head.p50), s_ms(b, head.p90),
               s_ms(c, head.p99), s_ms(d, head.max), head.counted, head.missing,
               o.grace_ms);
    if (have_head)
        printf("  stages (p50 / p99 ms): submit reply %s / %s (from the scheduled time), "
               "publish call %s / %s, publish reply -> notification %s / %s\n",
               s_ms(a, head.sub_p50), s_ms(b, head.sub_p99), s_ms(c, head.pub_p50),
               s_ms(d, head.pub_p99), s_ms(e, head.pipe_p50), s_ms(f, head.pipe_p99));
    if (bad > 0 && best == 0)
        printf(
            "max sustained rate (p99 < %.0f ms, none missing): none of the rates tried "
            "(%.0f/s failed)\n",
            o.p99_limit_ms, bad);
    else if (bad > 0)
        printf(
            "max sustained rate (p99 < %.0f ms, none missing): %.0f/s (%.0f/s failed)\n",
            o.p99_limit_ms, best, bad);
    else
        printf("max sustained rate (p99 < %.0f ms, none missing): >= %.0f/s (every "
               "rate of the sweep passed)\n",
               o.p99_limit_ms, best);
    printf("baseline: ZeroMQ REQ/REP round trip (tcp loopback, in process) p50 %.1f us\n",
           rtt_us);
    if (o.commit_ms > 0) {
        /*  The floor: 3 durable commits on the path after the submit
            (publish, match stored, notification stored) and 4 ZeroMQ hops,
            taken at a round trip each (publish call, two feed deliveries, the
            XPUB push). The submit adds one more commit and round trip. */
        double floor_ms = 3 * o.commit_ms + 4 * rtt_us / 1000.0;
        printf("baseline: durable commit (%s) %.3f ms\n", o.commit_label, o.commit_ms);
        printf("floor estimate = 3 commits + 4 ZeroMQ round trips = %.2f ms (with the "
               "submit's commit and round trip: %.2f ms)\n",
               floor_ms, floor_ms + o.commit_ms + rtt_us / 1000.0);
        if (g.low_rate > 0 && g.low_p50 != S_MISSING)
            printf("e2e p50 / floor estimate at %.0f/s (lowest sweep rate) = %.1f\n",
                   g.low_rate, g.low_p50 / 1000.0 / floor_ms);
        if (have_head && head.p50 != S_MISSING)
            printf("e2e p50 / floor estimate at %.0f/s (headline) = %.1f\n",
                   o.headline_rate, head.p50 / 1000.0 / floor_ms);
    }
    printf("targets: p50 < 5 ms %s, p99 < 20 ms %s (headline)\n",
           have_head && head.p50 != S_MISSING && head.p50 < 5000 ? "MET" : "NOT met",
           have_head && head.p99 != S_MISSING && head.p99 < 20000 ? "MET" : "NOT met");
    for (int d2 = 0; d2 < o.dealers; d2++)
        zmq_close(g.dealers[d2]);
    zmq_close(g.sub);
    zmq_ctx_term(ctx);
    return rc;
}
