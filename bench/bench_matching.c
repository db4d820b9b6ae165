/*  bench_matching: time to find and score the candidates of a new request with
    the service's indexed retrieval (matching_find) against a naive full scan
    that scores every published request of the other kind in C.

    Env: TB_BENCH_PG (libpq conninfo of a database it may fill; required),
    TB_BENCH_REQUESTS (default 100000), TB_BENCH_PROBES (default 200),
    TB_BENCH_NAIVE_PROBES (default: all probes; the scan is slow),
    TB_BENCH_DEBUG (set: print the scan's top K of the first 3 probes, with their
    components and whether the indexed path found them).

    Reported: p50/p99 of both paths, their ratio, the candidates the indexed
    path scored, and its recall: the share of the scan's top K (pairs at or
    above the threshold) that the indexed path also returns.

    The data is synthetic but shaped like real text: 14 sectors, uniform, each
    with 40 topics (what a request is about), uniform; each word of a request
    is drawn from its topic's own 25 stems (40%), its sector's 300 stems (20%)
    or a general vocabulary of 3,000 stems (40%), each Zipf distributed (s = 1:
    the rank-r stem has probability ~ 1/r); 4-6 words of title, 3-5 keywords,
    25-40 words of summary; TRL 1-9, two cooperation forms, half the requests
    with a target country; 20,000 organisations. So requests on one topic share
    a few specific terms (what makes a real match), and any two requests share
    common words (noise). Loaded with one INSERT ... SELECT. */
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
/*  One word of a request of sector z.si and topic z.ti, inside a
    generate_series(...) i (the `0 * i` keeps the aggregate at the level of its
    subquery): 40% from its topic's 25 stems, 20% from its sector's 300 stems,
    40% from the general 3,000 stems, each Zipf distributed. */
#define TOPIC_WORD   "'t' || (z.si + 0 * i) || 'y' || z.ti || 'x' || " ZIPF(25)
#define SECTOR_WORD  "'k' || (z.si + 0 * i) || 'x' || " ZIPF(300)
#define GENERAL_WORD "'w' || " ZIPF(3000)
#define WORD                                                                             \
    "CASE WHEN random() < 0.4 THEN " TOPIC_WORD                                          \
    " WHEN random() < 0.33 THEN " SECTOR_WORD " ELSE " GENERAL_WORD " END"

/*  Rows $1 .. $2 of synthetic published requests. */
static const char *s_load_sql =
    "INSERT INTO matching_requests (id, kind, org_id, status, sector, keywords, trl, "
    "cooperation, target_countries, country, org_name, title, summary, tsv, terms, "
    "version) "
    "SELECT gen_random_uuid(), 1 + g % 2, 'org-' || (g % 20000), 2, s.sector, s.kw, "
    "1 + floor(random() * 9)::int, "
    "ARRAY[1 + floor(random() * 7)::int, 1 + floor(random() * 7)::int], "
    "CASE WHEN random() < 0.5 THEN '{}'::text[] ELSE ARRAY[(ARRAY['CN','BY','KZ','UZ',"
    "'RU'])[1 + floor(random() * 5)::int]] END, "
    "(ARRAY['CN','BY','KZ','UZ','RU'])[1 + g % 5], 'Org ' || (g % 20000), s.title, "
    "s.summary, s.tsv, tsvector_to_array(s.tsv), 1 "
    "FROM generate_series($1::int, $2::int) g, "
    "LATERAL (SELECT floor(random() * 14)::int + 0 * g AS si, "
    "floor(random() * 40)::int + 0 * g AS ti) z, "
    "LATERAL (SELECT x.sector, x.kw, x.title, x.summary, "
    "setweight(to_tsvector('english', x.title || ' ' || array_to_string(x.kw, ' ')), "
    "'A') || setweight(to_tsvector('english', x.summary), 'B') AS tsv "
    "FROM (SELECT (" SECTORS ")[1 + z.si] AS sector, "
    "(SELECT array_agg(" WORD ") FROM generate_series(1, 3 + floor(random() * 3)::int "
    "+ 0 * z.si + 0 * g) i) AS kw, "
    "(SELECT string_agg(" WORD ", ' ') FROM generate_series(1, 4 + floor(random() * 3)"
    "::int + 0 * z.si + 0 * g) i) AS title, "
    "(SELECT string_agg(" WORD ", ' ') FROM generate_series(1, 25 + floor(random() * "
    "16)::int + 0 * z.si + 0 * g) i) AS summary) x) s "
    "RETURNING id";

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
    /*  The probes: new published requests, loaded the same way. */
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
        s_sql(db, "VACUUM ANALYZE matching_requests") < 0 ||
        s_sql(db, "VACUUM ANALYZE matching_terms") < 0)
        return 1;
    printf("loaded %ld requests + %ld probes in %.1f s\n", n_requests, n_probes,
           (double)(tb_mono_us() - t0) / 1e6);

    size_t np = (size_t)PQntuples(probes);
    double *t_idx = calloc(np, sizeof *t_idx), *t_naive = calloc(np, sizeof *t_naive);
    size_t n_idx = 0, n_nv = 0, found = 0, expected = 0;
    long cands_idx = 0, cands_nv = 0, kept_idx = 0, kept_nv = 0;
    size_t perfect = 0;
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
        int64_t a = tb_mono_us();
        if (matching_find(db, arena, req, false, MATCHING_THRESHOLD_DEFAULT,
                          MATCHING_TOP_K_DEFAULT, &hi_idx, &nh_idx, &nc_idx) < 0)
            return 1;
        t_idx[n_idx++] = (double)(tb_mono_us() - a) / 1000.0;
        cands_idx += (long)nc_idx;
        kept_idx += (long)nh_idx;
        if ((long)i < n_naive) {
            a = tb_mono_us();
            if (matching_find(db, arena, req, true, MATCHING_THRESHOLD_DEFAULT,
                              MATCHING_TOP_K_DEFAULT, &hi_nv, &nh_nv, &nc_nv) < 0)
                return 1;
            t_naive[n_nv++] = (double)(tb_mono_us() - a) / 1000.0;
            cands_nv += (long)nc_nv;
            kept_nv += (long)nh_nv;
            /*  Recall of the indexed path against the full scan's top K. */
            size_t hit = 0;
            for (size_t k = 0; k < nh_nv; k++)
                for (size_t j = 0; j < nh_idx; j++)
                    if (strcmp(hi_nv[k].req->id, hi_idx[j].req->id) == 0) {
                        hit++;
                        break;
                    }
            if (getenv("TB_BENCH_DEBUG") && i < 3)
                for (size_t k = 0; k < nh_nv; k++) {
                    bool f = false;
                    for (size_t j = 0; j < nh_idx; j++)
                        f = f || strcmp(hi_nv[k].req->id, hi_idx[j].req->id) == 0;
                    printf("probe %zu #%zu %s score %.3f sec %.2f text %.3f trl %.2f "
                           "coop %.2f geo %.2f shared %s %s\n",
                           i, k, f ? "found" : "MISS ", hi_nv[k].res.score,
                           hi_nv[k].res.reasons[0].value, hi_nv[k].res.reasons[1].value,
                           hi_nv[k].res.reasons[2].value, hi_nv[k].res.reasons[3].value,
                           hi_nv[k].res.reasons[4].value,
                           hi_nv[k].res.reasons[1].shared[0],
                           hi_nv[k].res.reasons[1].detail);
                }
            expected += nh_nv;
            found += hit;
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
    if (i50 > 0 && i99 > 0)
        printf("ratio naive/indexed: p50 %.1fx  p99 %.1fx\n", n50 / i50, n99 / i99);
    printf("recall of the full scan's top %d (score >= %.2f) by the indexed path: %.3f "
           "(%zu of %zu pairs; complete for %zu of %zu probes)\n",
           MATCHING_TOP_K_DEFAULT, MATCHING_THRESHOLD_DEFAULT,
           expected ? (double)found / (double)expected : 1.0, found, expected, perfect,
           n_nv);
    free(t_idx);
    free(t_naive);
    tb_db_destroy(&db);
    return 0;
}
