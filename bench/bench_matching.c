/*  bench_matching: time to find and score the candidates of a new request with
    the service's indexed retrieval (matching_find) against a naive full scan
    that scores every published request of the other kind in C.

    Env: TB_BENCH_PG (libpq conninfo of a database it may fill; required),
    TB_BENCH_REQUESTS (default 100000), TB_BENCH_PROBES (default 200),
    TB_BENCH_NAIVE_PROBES (default: all probes; the scan is slow),
    TB_BENCH_DEBUG (set: print the scan's top K of the first 3 probes, with their
    languages, components and whether the indexed path found them).

    Reported: the language mix; p50/p99 of both paths, their ratio, the
    candidates the indexed path scored; CPU per probe of both paths (the
    backend's and the bench's, from /proc/PID/schedstat when the database runs
    on this host: steadier than wall time on a shared machine); and the recall
    of the indexed path: the share of the scan's top K (pairs at or above the
    threshold) that it also returns, in all and split into pairs of one
    language and pairs of two, with the share of the latter in the top K.
    It fails (exit 1) when the loaded data breaks the model (s_checks), when
    the indexed path's j-th best outscores the scan's j-th best (it scores a
    subset with the same df), or when requests of two languages share a word.

    The data is synthetic but shaped like real multilingual text: 14 sectors,
    uniform, each with 40 topics (what a request is about), uniform; a language
    per request, Russian 1/2, Chinese 1/4, English 1/4 (independent of kind and
    topic). Each word of a request is drawn from its topic's own 25 stems (40%),
    its sector's 300 stems (20%) or a general vocabulary of 3,000 stems (40%),
    each Zipf distributed (s = 1: the rank-r stem has probability ~ 1/r), each
    vocabulary per language (no word is shared across languages); 4-6 words of
    title, 3-5 keywords, 25-40 words of summary. Each request also names 2-6
    distinct thesaurus concepts (uniform count), each drawn from its topic's 8
    concepts (60%) or its sector's 60 (40%), Zipf: concept ids carry no
    language, so two requests on one topic share concepts whatever their
    languages; the word that named a concept is a word of the request's
    language. TRL 1-9, two cooperation forms, half the requests with a target
    country; 20,000 organisations. So requests on one topic share a few
    specific words when they share a language, and concepts in any case; any
    two of one language share common words (noise). Loaded with one INSERT ...
    SELECT; df (matching_terms, concepts included) and N (matching_corpus) are
    then computed from the loaded rows, as the service keeps them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matching_core.h"
#include "tb_db.h"
#include "tb_log.h"
#include "tb_migrate.h"
#include "tb_util.h"

#define SECTORS                                                                          \
    "ARRAY['mechanical_engineering','woodworking','chemical_production',"                \
    "'information_technology','digitalization','green_economy','transport',"             \
    "'geology_mining','science','education','agriculture','energy','medicine',"          \
    "'materials']"
/*  A Zipf (s = 1) rank in [0, n): floor((n + 1)^u) - 1, u uniform. */
#define ZIPF(n) "(floor(power(" #n " + 1, random())) - 1)::int"
/*  One word of a request of sector z.si, topic z.ti and language z.lang, inside
    a generate_series(...) i (the `0 * i` keeps the aggregate at the level of
    its subquery): 40% from its topic's 25 stems, 20% from its sector's 300
    stems, 40% from the general 3,000 stems, each Zipf distributed, each
    vocabulary its language's own (the language code leads the stem). */
#define TOPIC_WORD   "z.lang || 't' || (z.si + 0 * i) || 'y' || z.ti || 'x' || " ZIPF(25)
#define SECTOR_WORD  "z.lang || 'k' || (z.si + 0 * i) || 'x' || " ZIPF(300)
#define GENERAL_WORD "z.lang || 'w' || (" ZIPF(3000) " + 0 * i)"
#define WORD                                                                             \
    "CASE WHEN random() < 0.4 THEN " TOPIC_WORD                                          \
    " WHEN random() < 0.33 THEN " SECTOR_WORD " ELSE " GENERAL_WORD " END"
/*  One concept named by a request, inside a generate_series(...) j: 60% from
    its topic's 8 concepts, 40% from its sector's 60, each Zipf distributed;
    concept ids carry no language. */
#define CONCEPT                                                                          \
    "CASE WHEN random() < 0.6 THEN 'c' || (z.si + 0 * j) || '_' || z.ti || '_' "         \
    "|| " ZIPF(8) " ELSE 'c' || (z.si + 0 * j) || '_s' || " ZIPF(60) " END"
/*  The share of each language: Russian 1/2, Chinese 1/4, English 1/4. */
#define LANGUAGE                                                                         \
    "CASE WHEN z0.lu < 0.5 THEN 'ru' WHEN z0.lu < 0.75 THEN 'zh' ELSE 'en' END"

/*  Rows $1 .. $2 of synthetic published requests, as tb-matching's projection
    holds them after the analyser: terms are the distinct words of keywords,
    title and summary, plus per concept "#" + its id and the word of the
    request's language that named it (the analyser keeps a label's stems as
    words too), sorted; concepts sorted, with phrases parallel (a placeholder:
    language and concept). */
static const char *s_load_sql =
    "INSERT INTO matching_requests (id, kind, org_id, status, sector, keywords, trl, "
    "cooperation, target_countries, country, org_name, title, summary, terms, concepts, "
    "phrases, language, org_language, version) "
    "SELECT gen_random_uuid(), 1 + g % 2, 'org-' || (g % 20000), 2, x.sector, x.kw, "
    "1 + floor(random() * 9)::int, "
    "ARRAY[1 + floor(random() * 7)::int, 1 + floor(random() * 7)::int], "
    "CASE WHEN random() < 0.5 THEN '{}'::text[] ELSE ARRAY[(ARRAY['CN','BY','KZ','UZ',"
    "'RU'])[1 + floor(random() * 5)::int]] END, "
    "(ARRAY['CN','BY','KZ','UZ','RU'])[1 + g % 5], 'Org ' || (g % 20000), x.title, "
    "x.summary, ARRAY(SELECT DISTINCT t FROM unnest(x.kw || "
    "string_to_array(x.title, ' ') || string_to_array(x.summary, ' ') || c.marked) "
    "AS t ORDER BY t), "
    "c.concepts, c.phrases, z.lang, z.lang, 1 "
    "FROM generate_series($1::int, $2::int) g, "
    "LATERAL (SELECT floor(random() * 14)::int + 0 * g AS si, "
    "floor(random() * 40)::int + 0 * g AS ti, random() + 0 * g AS lu, "
    "2 + floor(random() * 5)::int + 0 * g AS nc) z0, "
    "LATERAL (SELECT z0.si, z0.ti, z0.nc, " LANGUAGE " AS lang) z, "
    "LATERAL (SELECT (" SECTORS ")[1 + z.si] AS sector, "
    "(SELECT array_agg(" WORD ") FROM generate_series(1, 3 + floor(random() * 3)::int "
    "+ 0 * z.si + 0 * g) i) AS kw, "
    "(SELECT string_agg(" WORD ", ' ') FROM generate_series(1, 4 + floor(random() * 3)"
    "::int + 0 * z.si + 0 * g) i) AS title, "
    "(SELECT string_agg(" WORD ", ' ') FROM generate_series(1, 25 + floor(random() * "
    "16)::int + 0 * z.si + 0 * g) i) AS summary) x, "
    /*  nc distinct concepts: the first nc of 24 draws, in order of first draw. */
    "LATERAL (SELECT array_agg(d.c ORDER BY d.c) AS concepts, "
    "array_agg(z.lang || ' ' || d.c ORDER BY d.c) AS phrases, "
    "array_agg('#' || d.c ORDER BY d.c) || array_agg(z.lang || 'l' || d.c) AS marked "
    "FROM (SELECT e.c FROM (SELECT " CONCEPT " AS c, j "
    "FROM generate_series(1, 24 + 0 * z.si + 0 * g) j) e "
    "GROUP BY e.c ORDER BY min(e.j) LIMIT z.nc) d) c "
    "RETURNING id";

/*  Checks of the loaded data, each a count that must be 0: the model the
    figures rest on. */
static const struct {
    const char *what;
    const char *sql;
} s_checks[] = {
    {"terms distinct and sorted (df counts requests)",
     "SELECT count(*) FROM matching_requests WHERE terms <> ARRAY(SELECT DISTINCT t "
     "FROM unnest(terms) t ORDER BY t)"},
    {"2-6 concepts, phrases parallel, each concept among the terms",
     "SELECT count(*) FROM matching_requests WHERE cardinality(concepts) NOT BETWEEN 2 "
     "AND 6 OR cardinality(phrases) <> cardinality(concepts) OR NOT terms @> "
     "ARRAY(SELECT '#' || c FROM unnest(concepts) c)"},
    {"every word term in its request's language (cross-language pairs share no words)",
     "SELECT count(*) FROM matching_requests r WHERE EXISTS (SELECT 1 FROM "
     "unnest(r.terms) t WHERE t NOT LIKE '#%' AND left(t, 2) <> r.language)"},
    {"df of every term = requests holding it",
     "SELECT count(*) FROM (SELECT t, count(*) AS n FROM matching_requests, "
     "unnest(terms) t WHERE status = 2 GROUP BY t) a "
     "FULL JOIN matching_terms m ON m.term = a.t WHERE a.n IS DISTINCT FROM m.df"},
    {"N = published requests",
     "SELECT count(*) FROM matching_corpus WHERE published <> (SELECT count(*) FROM "
     "matching_requests WHERE status = 2)"},
};

static int s_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, s_cmp_d);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static long s_env(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : dflt;
}

static int s_sql(tb_db_t *db, const char *sql)
{
    PGresult *r = tb_db_query(db, sql, 0, NULL);
    if (!r) {
        fprintf(stderr, "bench: %s: %s\n", sql, tb_db_message(db));
        return -1;
    }
    PQclear(r);
    return 0;
}

/*  Runs the checks of s_checks; -1 (and says which) when one fails. */
static int s_check(tb_db_t *db)
{
    for (size_t i = 0; i < sizeof s_checks / sizeof s_checks[0]; i++) {
        PGresult *r = tb_db_query(db, s_checks[i].sql, 0, NULL);
        if (!r) {
            fprintf(stderr, "bench: check: %s\n", tb_db_message(db));
            return -1;
        }
        long bad = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (bad != 0) {
            fprintf(stderr, "bench: check failed: %s (%ld rows)\n", s_checks[i].what,
                    bad);
            return -1;
        }
    }
    return 0;
}

/*  Prints the language mix and the mean terms and concepts per request. */
static int s_describe(tb_db_t *db)
{
    PGresult *r = tb_db_query(
        db,
        "SELECT language, count(*), round(avg(cardinality(terms)), 1), "
        "round(avg(cardinality(concepts)), 2) FROM matching_requests GROUP BY language "
        "ORDER BY count(*) DESC",
        0, NULL);
    if (!r) {
        fprintf(stderr, "bench: describe: %s\n", tb_db_message(db));
        return -1;
    }
    printf("languages:");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s %s %s requests (%s terms, %s concepts each)", i ? "," : "",
               PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 3));
    printf("\n");
    PQclear(r);
    return 0;
}

/*  On-CPU and run-queue wait time of a process so far, from
    /proc/PID/schedstat (nanoseconds); false when it cannot be read (the
    database on another host). On a shared machine the wall-clock figures move
    with the load; the CPU the path costs does much less. */
typedef struct {
    int64_t run_ns, wait_ns;
} s_sched_t;

static bool s_sched(int pid, s_sched_t *out)
{
    char path[64];
    snprintf(path, sizeof path, pid ? "/proc/%d/schedstat" : "/proc/self/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    long long run = 0, wait = 0;
    bool ok = fscanf(f, "%lld %lld", &run, &wait) == 2;
    fclose(f);
    out->run_ns = run;
    out->wait_ns = wait;
    return ok;
}

/*  Whether `pid` is a PostgreSQL process of this host (the backend's pid names
    a process of another host when the database is remote). */
static bool s_is_postgres(int pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(comm, sizeof comm, f) && strncmp(comm, "postgres", 8) == 0;
    fclose(f);
    return ok;
}

/*  CPU of one path (backend + this process) summed over its calls. */
typedef struct {
    int backend_pid;
    bool ok;
    s_sched_t b0, s0;
    int64_t backend_ns, self_ns, wait_ns;
    int64_t last_ns; /* CPU of the last call, backend + this process */
} s_cpu_t;

static void s_cpu_start(s_cpu_t *c)
{
    c->ok = c->backend_pid > 0 && s_sched(c->backend_pid, &c->b0) && s_sched(0, &c->s0);
}

static void s_cpu_stop(s_cpu_t *c)
{
    s_sched_t b, s;
    if (!c->ok || !s_sched(c->backend_pid, &b) || !s_sched(0, &s)) {
        c->backend_pid = 0; /* not measurable: say so once at the end */
        return;
    }
    c->backend_ns += b.run_ns - c->b0.run_ns;
    c->self_ns += s.run_ns - c->s0.run_ns;
    c->last_ns = (b.run_ns - c->b0.run_ns) + (s.run_ns - c->s0.run_ns);
    c->wait_ns += (b.wait_ns - c->b0.wait_ns) + (s.wait_ns - c->s0.wait_ns);
}

static void s_cpu_print(const char *name, const s_cpu_t *c, size_t calls)
{
    if (calls == 0)
        return;
    if (c->backend_pid <= 0) {
        printf("%s: CPU per probe not measured (no /proc/PID/schedstat of the backend)\n",
               name);
        return;
    }
    double n = (double)calls;
    printf("%s: CPU per probe %.2f ms (backend %.2f + bench %.2f), run-queue wait "
           "%.2f ms\n",
           name, (double)(c->backend_ns + c->self_ns) / 1e6 / n,
           (double)c->backend_ns / 1e6 / n, (double)c->self_ns / 1e6 / n,
           (double)c->wait_ns / 1e6 / n);
}

/*  Pairs of the full scan's top K, and how many the indexed path found. */
typedef struct {
    size_t expected, found;
} s_recall_t;

static double s_share(s_recall_t r)
{
    return r.expected ? (double)r.found / (double)r.expected : 1.0;
}

/*  Wall time of the indexed path over the probes of one kind. */
static void s_print_kind(const char *kind, double *t, size_t n)
{
    if (n == 0)
        printf("indexed: %s probes: n/a (none)\n", kind);
    else
        printf("indexed: %s probes %zu  p50 %.2f ms  p99 %.2f ms\n", kind, n,
               s_pct(t, n, 0.50), s_pct(t, n, 0.99));
}

static void s_print_share(const char *label, s_recall_t r)
{
    if (r.expected == 0)
        printf("%sn/a (no such pair in the scan's top lists)\n", label);
    else
        printf("%s%.3f (%zu of %zu pairs)\n", label, s_share(r), r.found, r.expected);
}

int main(void)
{
    const char *conninfo = getenv("TB_BENCH_PG");
    if (!conninfo) {
        fprintf(stderr, "bench_matching: set TB_BENCH_PG to a libpq conninfo\n");
        return 2;
    }
    long n_requests = s_env("TB_BENCH_REQUESTS", 100000);
    long n_probes = s_env("TB_BENCH_PROBES", 200);
    long n_naive = s_env("TB_BENCH_NAIVE_PROBES", n_probes);
    tb_log_setup("bench", "warn", "text");
    tb_db_t *db = tb_db_new(conninfo);
    if (!tb_db_ok(db) || tb_migrate_apply(db) != 0) {
        fprintf(stderr, "bench_matching: cannot use %s\n", conninfo);
        return 1;
    }
    int64_t t0 = tb_mono_us();
    if (s_sql(db, "TRUNCATE matching_requests, matching_terms, matching_matches") < 0 ||
        s_sql(db, "SELECT setseed(0.42)") < 0 ||
        s_sql(db, "SET enable_memoize = off") < 0) /* a cached subquery: same words */
        return 1;
    char lo[24], hi[24];
    snprintf(lo, sizeof lo, "%d", 1);
    snprintf(hi, sizeof hi, "%ld", n_requests);
    const char *p[] = {lo, hi};
    PGresult *r = tb_db_query(db, s_load_sql, 2, p);
    if (!r) {
        fprintf(stderr, "bench: load: %s\n", tb_db_message(db));
        return 1;
    }
    PQclear(r);
    /*  The probes: new published requests, loaded the same way. Then df (for
        every term, concepts included) and N, as matching_store_upsert keeps
        them: the probes are published, so they count. */
    snprintf(lo, sizeof lo, "%ld", n_requests + 1);
    snprintf(hi, sizeof hi, "%ld", n_requests + n_probes);
    PGresult *probes = tb_db_query(db, s_load_sql, 2, p);
    if (!probes ||
        s_sql(db,
              "INSERT INTO matching_terms (term, df) SELECT term, count(*) FROM "
              "matching_requests, unnest(terms) AS term WHERE status = 2 GROUP BY term") <
            0 ||
        s_sql(db, "UPDATE matching_corpus SET published = "
                  "(SELECT count(*) FROM matching_requests WHERE status = 2)") < 0 ||
        /*  The idf totals each request keeps for retrieval's estimate, as the
            upsert stores them (migration 008). */
        s_sql(db, "UPDATE matching_requests SET idf_words = matching_idf_total(terms, "
                  "false), idf_concepts = matching_idf_total(terms, true)") < 0 ||
        s_sql(db, "VACUUM ANALYZE matching_requests") < 0 ||
        s_sql(db, "VACUUM ANALYZE matching_terms") < 0 || s_check(db) < 0 ||
        s_describe(db) < 0)
        return 1;
    printf("loaded %ld requests + %ld probes in %.1f s\n", n_requests, n_probes,
           (double)(tb_mono_us() - t0) / 1e6);

    s_cpu_t cpu_idx = {0}, cpu_nv = {0};
    PGresult *pid = tb_db_query(db, "SELECT pg_backend_pid()", 0, NULL);
    if (pid) {
        int backend = atoi(PQgetvalue(pid, 0, 0));
        if (s_is_postgres(backend))
            cpu_idx.backend_pid = cpu_nv.backend_pid = backend;
        PQclear(pid);
    }
    size_t np = (size_t)PQntuples(probes);
    double *t_idx = calloc(np, sizeof *t_idx), *t_naive = calloc(np, sizeof *t_naive);
    /*  The indexed path per probe: CPU (what it costs, whatever else the
        machine runs) and wall time by the probe's kind (an offer's candidates
        are needs, whose terms' df the scorer reads). */
    double *c_idx = calloc(np, sizeof *c_idx), *t_offer = calloc(np, sizeof *t_offer),
           *t_need = calloc(np, sizeof *t_need);
    size_t n_cpu = 0, n_offer = 0, n_need = 0;
    if (!t_idx || !t_naive || !c_idx || !t_offer || !t_need) {
        fprintf(stderr, "bench_matching: out of memory\n");
        return 1;
    }
    size_t n_idx = 0, n_nv = 0, perfect = 0;
    s_recall_t all = {0, 0}, same = {0, 0}, cross = {0, 0};
    long cands_idx = 0, cands_nv = 0, kept_idx = 0, kept_nv = 0;
    for (size_t i = 0; i < np; i++) {
        tb_arena_t *arena = tb_arena_new(0);
        const char *id = PQgetvalue(probes, (int)i, 0);
        matching_req_t *req = NULL;
        size_t nreq = 0;
        if (matching_store_load(db, arena, &id, 1, &req, &nreq) < 0 || nreq != 1) {
            fprintf(stderr, "bench: cannot load probe %s\n", id);
            return 1;
        }
        matching_hit_t *hi_idx = NULL, *hi_nv = NULL;
        size_t nh_idx = 0, nh_nv = 0, nc_idx = 0, nc_nv = 0;
        s_cpu_start(&cpu_idx);
        int64_t a = tb_mono_us();
        if (matching_find(db, arena, req, false, MATCHING_THRESHOLD_DEFAULT,
                          MATCHING_TOP_K_DEFAULT, &hi_idx, &nh_idx, &nc_idx) < 0)
            return 1;
        double wall = (double)(tb_mono_us() - a) / 1000.0;
        t_idx[n_idx++] = wall;
        s_cpu_stop(&cpu_idx);
        if (cpu_idx.backend_pid > 0)
            c_idx[n_cpu++] = (double)cpu_idx.last_ns / 1e6;
        if (req->kind == TECHBRIDGE__KIND__OFFER)
            t_offer[n_offer++] = wall;
        else
            t_need[n_need++] = wall;
        cands_idx += (long)nc_idx;
        kept_idx += (long)nh_idx;
        if ((long)i < n_naive) {
            s_cpu_start(&cpu_nv);
            a = tb_mono_us();
            if (matching_find(db, arena, req, true, MATCHING_THRESHOLD_DEFAULT,
                              MATCHING_TOP_K_DEFAULT, &hi_nv, &nh_nv, &nc_nv) < 0)
                return 1;
            t_naive[n_nv++] = (double)(tb_mono_us() - a) / 1000.0;
            s_cpu_stop(&cpu_nv);
            cands_nv += (long)nc_nv;
            kept_nv += (long)nh_nv;
            /*  The indexed path scores a subset of what the scan scores, with
                the same df: its j-th best can never beat the scan's j-th. */
            for (size_t j = 0; j < nh_idx; j++)
                if (j >= nh_nv || hi_idx[j].res.score > hi_nv[j].res.score + 1e-9) {
                    fprintf(stderr, "bench: probe %zu: indexed #%zu beats the scan's\n",
                            i, j);
                    return 1;
                }
            /*  Recall of the indexed path against the full scan's top K, split
                by whether the pair is of one language or of two. */
            size_t hit = 0;
            for (size_t k = 0; k < nh_nv; k++) {
                bool f = false;
                for (size_t j = 0; j < nh_idx && !f; j++)
                    f = strcmp(hi_nv[k].req->id, hi_idx[j].req->id) == 0;
                bool one = strcmp(hi_nv[k].req->language, req->language) == 0;
                /*  Languages share no words: a cross-language pair matched
                    through concepts alone. */
                if (!one && hi_nv[k].res.reasons[1].n_shared != 0) {
                    fprintf(stderr, "bench: probe %zu: %s and %s share words\n", i,
                            req->language, hi_nv[k].req->language);
                    return 1;
                }
                s_recall_t *part = one ? &same : &cross;
                part->expected++;
                part->found += f;
                hit += f;
                if (getenv("TB_BENCH_DEBUG") && i < 3) {
                    const matching_reason_t *t = &hi_nv[k].res.reasons[1];
                    printf("probe %zu (%s) #%zu %s %s score %.3f sec %.2f text %.3f "
                           "trl %.2f coop %.2f geo %.2f shared %s #%s %s\n",
                           i, req->language, k, f ? "found" : "MISS ",
                           hi_nv[k].req->language, hi_nv[k].res.score,
                           hi_nv[k].res.reasons[0].value, t->value,
                           hi_nv[k].res.reasons[2].value, hi_nv[k].res.reasons[3].value,
                           hi_nv[k].res.reasons[4].value,
                           t->n_shared ? t->shared[0] : "-",
                           t->n_concepts ? t->concepts[0] : "-", t->detail);
                }
            }
            all.expected += nh_nv;
            all.found += hit;
            if (hit == nh_nv)
                perfect++;
        }
        tb_arena_destroy(&arena);
    }
    PQclear(probes);
    double i50 = s_pct(t_idx, n_idx, 0.50), i99 = s_pct(t_idx, n_idx, 0.99);
    double n50 = s_pct(t_naive, n_nv, 0.50), n99 = s_pct(t_naive, n_nv, 0.99);
    printf("indexed : %zu probes  p50 %8.2f ms  p99 %8.2f ms  (avg %.1f candidates "
           "scored, %.1f kept)\n",
           n_idx, i50, i99, n_idx ? (double)cands_idx / (double)n_idx : 0.0,
           n_idx ? (double)kept_idx / (double)n_idx : 0.0);
    printf("naive   : %zu probes  p50 %8.2f ms  p99 %8.2f ms  (avg %.1f candidates "
           "scored, %.1f kept)\n",
           n_nv, n50, n99, n_nv ? (double)cands_nv / (double)n_nv : 0.0,
           n_nv ? (double)kept_nv / (double)n_nv : 0.0);
    if (n_nv == 0)
        printf("ratio naive/indexed: n/a (no probe timed by the full scan)\n");
    else if (i50 > 0 && i99 > 0)
        printf("ratio naive/indexed: p50 %.1fx  p99 %.1fx\n", n50 / i50, n99 / i99);
    else
        printf("ratio naive/indexed: n/a (an indexed time of 0 ms)\n");
    s_cpu_print("indexed", &cpu_idx, n_idx);
    if (cpu_idx.backend_pid > 0 && n_cpu == n_idx && n_cpu > 0) {
        double c50 = s_pct(c_idx, n_cpu, 0.50), c99 = s_pct(c_idx, n_cpu, 0.99);
        printf("indexed: CPU of one probe p50 %.2f ms  p99 %.2f ms\n", c50, c99);
    } else {
        printf("indexed: CPU of one probe n/a (not measured for every probe)\n");
    }
    s_print_kind("offer", t_offer, n_offer);
    s_print_kind("need", t_need, n_need);
    s_cpu_print("naive  ", &cpu_nv, n_nv);
    if (cpu_idx.backend_pid > 0 && cpu_nv.backend_pid > 0 && n_idx && n_nv &&
        cpu_idx.backend_ns + cpu_idx.self_ns > 0)
        printf("ratio of CPU per probe naive/indexed: %.1fx\n",
               ((double)(cpu_nv.backend_ns + cpu_nv.self_ns) / (double)n_nv) /
                   ((double)(cpu_idx.backend_ns + cpu_idx.self_ns) / (double)n_idx));
    if (all.expected == 0) {
        /*  Nothing to find (no probe scanned, or no pair above the threshold):
            a share of nothing is not a recall. */
        printf("recall of the full scan's top %d (score >= %.2f) by the indexed path: "
               "n/a (the scan's top lists of %zu probes hold no pair)\n",
               MATCHING_TOP_K_DEFAULT, MATCHING_THRESHOLD_DEFAULT, n_nv);
    } else {
        printf("recall of the full scan's top %d (score >= %.2f) by the indexed path: "
               "%.3f (%zu of %zu pairs; complete for %zu of %zu probes)\n",
               MATCHING_TOP_K_DEFAULT, MATCHING_THRESHOLD_DEFAULT, s_share(all),
               all.found, all.expected, perfect, n_nv);
        s_print_share("  same language : ", same);
        s_print_share("  cross-language: ", cross);
        printf("  cross-language pairs are %.1f%% of the scan's top %d\n",
               100.0 * (double)cross.expected / (double)all.expected,
               MATCHING_TOP_K_DEFAULT);
    }
    free(t_idx);
    free(t_naive);
    free(c_idx);
    free(t_offer);
    free(t_need);
    tb_db_destroy(&db);
    return 0;
}
