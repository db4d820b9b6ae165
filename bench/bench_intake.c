/*  bench_intake: closed-loop submit throughput of a running tb-intake.

    Starts nothing itself. N client threads, each with its own DEALER socket and
    one outstanding request, submit valid requests (unique external_ref, orgs
    spread so that the duplicate check sees a realistic handful of open requests
    per organisation, titles varied) for D seconds after a warm-up, then it
    prints throughput and latency percentiles.

      bench_intake [-e ENDPOINT] [-c CLIENTS] [-d SECONDS] [-w WARMUP_S] [-t TAG]

    Output (one line, key=value, for scripts):
      clients=16 seconds=10.00 ok=123456 created=133000 errors=0 req_per_s=12345.6
      p50_ms=1.23 p99_ms=4.56 max_ms=7.89 client_cpu_us=35
    (ok: calls answered `created` after the warm-up, which req_per_s and the
    percentiles count; created: every call answered `created`, warm-up
    included, i.e. the rows the service says it wrote; client_cpu_us: the
    bench's own CPU per answered call, warm-up included)
    Exit status 0 when every call succeeded, 1 on any error reply or timeout. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

#include "api.pb-c.h"
#include "tb_arena.h"
#include "tb_util.h"
#include "tb_wire.h"

#define S_CLIENTS_MAX  256
#define S_TIMEOUT_MS   10000
#define S_REPLY_MAX    (1024 * 1024)
#define S_ORGS_PER_THR 512 /* orgs a thread cycles through */

static const char *s_summary =
    "Continuous heat-pump vacuum drying line for oak, ash and birch lumber 25-60 mm "
    "thick. Drying time is cut by 40% against conventional steam kilns and energy use "
    "by half; moisture is controlled per stack with wireless probes. Proven at three "
    "sawmills in Jiangsu and Heilongjiang. We offer a licence for local assembly, "
    "supply of the vacuum chambers and heat pumps, and training of operators.";
static char *s_keywords[] = {"lumber drying", "vacuum kiln", "heat pump", "hardwood",
                             "energy saving"};
static Techbridge__Cooperation s_coop[] = {TECHBRIDGE__COOPERATION__LICENSE,
                                           TECHBRIDGE__COOPERATION__EQUIPMENT_SUPPLY,
                                           TECHBRIDGE__COOPERATION__TRAINING};
static char *s_countries[] = {"BY", "KZ", "UZ", "RU"};
/*  Title words: a title is a fixed head plus three of these, so that titles of
    one organisation differ as real ones do. */
static const char *const s_words[] = {
    "oak",      "ash",      "birch",   "pine",     "spruce",   "larch",   "maple",
    "beech",    "cedar",    "alder",   "poplar",   "walnut",   "cherry",  "linden",
    "elm",      "fir",      "compact", "modular",  "mobile",   "solar",   "hybrid",
    "rapid",    "gentle",   "precise", "smart",    "robust",   "quiet",   "dense",
    "light",    "heavy",    "coastal", "northern", "southern", "eastern", "western",
    "alpine",   "steppe",   "river",   "forest",   "valley",   "harbour", "plant",
    "workshop", "sawmill",  "factory", "cluster",  "region",   "station", "depot",
    "yard",     "terminal", "line",    "cell",     "unit",     "module",  "stage",
    "phase",    "series",   "edition", "version",  "pilot",    "trial",   "scale",
    "batch"};
#define S_NWORDS (sizeof s_words / sizeof s_words[0])

typedef struct {
    int index;
    const char *endpoint;
    const char *tag;
    void *ctx;
    int64_t warm_until_us; /* calls that end before this are not counted */
    size_t answered;       /* every answered call, warm-up included */
    size_t created;        /* every call answered `created`, warm-up included */
    int64_t stop_us;
    /* results */
    uint32_t *lat_us;
    size_t n, cap;
    long errors;
    char first_error[256];
} s_client_t;

static atomic_int s_ready;

static uint64_t s_rand(uint64_t *state)
{
    /* xorshift64* */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

/*  The content every submission shares; the caller sets external_ref, org.id
    and title. */
static void s_request_init(Techbridge__Request *r, Techbridge__Org *org,
                           Techbridge__Contact *contact, Techbridge__Budget *budget,
                           Techbridge__UsdAmount *min, Techbridge__UsdAmount *max)
{
    techbridge__request__init(r);
    techbridge__org__init(org);
    techbridge__contact__init(contact);
    techbridge__budget__init(budget);
    techbridge__usd_amount__init(min);
    techbridge__usd_amount__init(max);
    org->name = "Jiangsu Hengtai Drying Equipment Co., Ltd.";
    org->country = "CN";
    org->region = "Jiangsu";
    contact->name = "Wang Lei";
    contact->email = "wang.lei@hengtai-drying.cn";
    contact->phone = "+86 519 8888 2017";
    min->value = 150000;
    max->value = 600000;
    budget->min = min;
    budget->max = max;
    r->kind = TECHBRIDGE__KIND__OFFER;
    r->org = org;
    r->contact = contact;
    r->summary = (char *)s_summary;
    r->sector = "woodworking";
    r->n_keywords = sizeof s_keywords / sizeof s_keywords[0];
    r->keywords = s_keywords;
    r->trl = 8;
    r->n_cooperation = sizeof s_coop / sizeof s_coop[0];
    r->cooperation = s_coop;
    r->ipr = TECHBRIDGE__IPR__PATENT_GRANTED;
    r->budget_usd = budget;
    r->n_target_countries = sizeof s_countries / sizeof s_countries[0];
    r->target_countries = s_countries;
}

static void s_title(char *out, size_t size, uint64_t *rng)
{
    snprintf(out, size, "Heat-pump vacuum kiln for %s %s %s lumber",
             s_words[s_rand(rng) % S_NWORDS], s_words[s_rand(rng) % S_NWORDS],
             s_words[s_rand(rng) % S_NWORDS]);
}

static int s_record(s_client_t *c, uint32_t us)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16384;
        uint32_t *lat = realloc(c->lat_us, cap * sizeof *lat);
        if (!lat)
            return -1;
        c->lat_us = lat;
        c->cap = cap;
    }
    c->lat_us[c->n++] = us;
    return 0;
}

static void s_fail(s_client_t *c, const char *what)
{
    c->errors++;
    if (!c->first_error[0])
        snprintf(c->first_error, sizeof c->first_error, "client %d: %s", c->index, what);
}

static void *s_client_run(void *arg)
{
    s_client_t *c = arg;
    void *sock = zmq_socket(c->ctx, ZMQ_DEALER);
    int zero = 0;
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(sock, c->endpoint) != 0) {
        s_fail(c, zmq_strerror(errno));
        atomic_fetch_add(&s_ready, 1);
        if (sock)
            zmq_close(sock);
        return NULL;
    }
    Techbridge__Request r;
    Techbridge__Org org;
    Techbridge__Contact contact;
    Techbridge__Budget budget;
    Techbridge__UsdAmount min, max;
    s_request_init(&r, &org, &contact, &budget, &min, &max);
    Techbridge__SubmitRequest sub = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    sub.request = &r;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    req.actor = "operator";
    char ref[96], org_id[64], title[160], cid[64];
    uint64_t rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)c->index * 0x100000001B3ULL) ^
                   (uint64_t)tb_mono_us();
    atomic_fetch_add(&s_ready, 1);

    for (uint64_t seq = 0;; seq++) {
        int64_t t0 = tb_mono_us();
        if (t0 >= c->stop_us)
            break;
        snprintf(ref, sizeof ref, "bench-%s-%d-%" PRIu64, c->tag, c->index, seq);
        snprintf(org_id, sizeof org_id, "bench-%s-%d-%" PRIu64, c->tag, c->index,
                 seq % S_ORGS_PER_THR);
        snprintf(cid, sizeof cid, "b-%s-%d-%" PRIu64, c->tag, c->index, seq);
        s_title(title, sizeof title, &rng);
        r.external_ref = ref;
        org.id = org_id;
        r.title = title;
        req.correlation_id = cid;
        if (tb_wire_send(sock, &req.base, true) != 0) {
            s_fail(c, "send failed");
            break;
        }
        tb_arena_t *arena = tb_arena_new(S_REPLY_MAX * 4);
        Techbridge__ApiReply *reply =
            arena
                ? (Techbridge__ApiReply *)tb_wire_recv(sock, arena,
                                                       &techbridge__api_reply__descriptor,
                                                       S_REPLY_MAX, true, S_TIMEOUT_MS)
                : NULL;
        int64_t t1 = tb_mono_us();
        if (!reply) {
            s_fail(c, errno == EAGAIN ? "timeout" : "bad reply");
            tb_arena_destroy(&arena);
            break; /* the socket may now hold a late reply: stop this client */
        }
        c->answered++;
        bool created = !reply->error &&
                       reply->result_case == TECHBRIDGE__API_REPLY__RESULT_REQUEST &&
                       reply->request->created;
        c->created += created;
        if (!created) {
            char what[200];
            snprintf(what, sizeof what, "error reply: code %d: %s",
                     reply->error ? (int)reply->error->code : -1,
                     reply->error && reply->error->message ? reply->error->message
                                                           : "not created");
            s_fail(c, what);
        } else if (t1 >= c->warm_until_us && t1 <= c->stop_us) {
            if (s_record(c, (uint32_t)(t1 - t0)) != 0) {
                s_fail(c, "out of memory");
                tb_arena_destroy(&arena);
                break;
            }
        }
        tb_arena_destroy(&arena);
    }
    zmq_close(sock);
    return NULL;
}

/*  CPU time of the whole process (every thread), microseconds. */
static double s_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double s_pct_ms(const uint32_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

static void s_usage(void)
{
    fprintf(stderr, "usage: bench_intake [-e ENDPOINT] [-c CLIENTS] [-d SECONDS] "
                    "[-w WARMUP_S] [-t TAG]\n");
}

int main(int argc, char **argv)
{
    const char *endpoint = "tcp://127.0.0.1:7101";
    const char *tag = NULL;
    long clients = 1;
    double seconds = 10, warmup = 1;
    char tagbuf[32];
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            s_usage();
            return 2;
        }
        if (strcmp(a, "-e") == 0)
            endpoint = v;
        else if (strcmp(a, "-c") == 0)
            clients = atol(v);
        else if (strcmp(a, "-d") == 0)
            seconds = atof(v);
        else if (strcmp(a, "-w") == 0)
            warmup = atof(v);
        else if (strcmp(a, "-t") == 0)
            tag = v;
        else {
            s_usage();
            return 2;
        }
    }
    if (clients < 1 || clients > S_CLIENTS_MAX || seconds <= 0 || warmup < 0) {
        s_usage();
        return 2;
    }
    if (!tag) {
        /* Unique per run, so that runs against one database never collide. */
        char uuid[37];
        tb_uuid(uuid);
        snprintf(tagbuf, sizeof tagbuf, "%.8s", uuid);
        tag = tagbuf;
    }

    void *ctx = zmq_ctx_new();
    s_client_t *cs = calloc((size_t)clients, sizeof *cs);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    if (!ctx || !cs || !th)
        return 1;
    double cpu0 = s_cpu_us();
    int64_t start = tb_mono_us();
    int64_t warm_until = start + (int64_t)(warmup * 1e6);
    int64_t stop = warm_until + (int64_t)(seconds * 1e6);
    for (long i = 0; i < clients; i++) {
        cs[i] = (s_client_t){.index = (int)i,
                             .endpoint = endpoint,
                             .tag = tag,
                             .ctx = ctx,
                             .warm_until_us = warm_until,
                             .stop_us = stop};
        if (pthread_create(&th[i], NULL, s_client_run, &cs[i]) != 0) {
            fprintf(stderr, "bench_intake: cannot start thread %ld\n", i);
            return 1;
        }
    }
    for (long i = 0; i < clients; i++)
        pthread_join(th[i], NULL);

    double cpu = s_cpu_us() - cpu0;
    size_t total = 0, answered = 0, created = 0;
    long errors = 0;
    for (long i = 0; i < clients; i++) {
        total += cs[i].n;
        answered += cs[i].answered;
        created += cs[i].created;
        errors += cs[i].errors;
    }
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    if (!all)
        return 1;
    size_t k = 0;
    for (long i = 0; i < clients; i++) {
        memcpy(all + k, cs[i].lat_us, cs[i].n * sizeof *all);
        k += cs[i].n;
    }
    qsort(all, total, sizeof *all, s_cmp_u32);
    printf("clients=%ld seconds=%.2f ok=%zu created=%zu errors=%ld req_per_s=%.1f "
           "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f client_cpu_us=%.0f\n",
           clients, seconds, total, created, errors, (double)total / seconds,
           s_pct_ms(all, total, 0.50), s_pct_ms(all, total, 0.99),
           total ? all[total - 1] / 1000.0 : 0.0,
           answered ? cpu / (double)answered : 0.0);
    for (long i = 0; i < clients; i++)
        if (cs[i].first_error[0]) {
            fprintf(stderr, "bench_intake: %s\n", cs[i].first_error);
            break;
        }
    for (long i = 0; i < clients; i++)
        free(cs[i].lat_us);
    free(all);
    free(cs);
    free(th);
    zmq_ctx_term(ctx);
    return errors ? 1 : 0;
}
