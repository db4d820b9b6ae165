/*  tb_stats: per-interval call counters and a log-scale latency histogram. */
#include "tb_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.pb-c.h"
#include "tb_util.h"

/*  Buckets: values 0..3 exactly, then 4 linear sub-buckets per power of two
    (relative width at most 25%), up to 2^41 us (about 25 days). */
#define S_SUB      4
#define S_MAX_EXP  41
#define S_BUCKETS  (S_SUB + (S_MAX_EXP - 2) * S_SUB)
#define S_NAME_MAX 40

typedef struct {
    char kind[S_NAME_MAX];
    char outcome[S_NAME_MAX];
    int64_t count;
} s_pair_t;

struct tb_stats_t {
    s_pair_t pairs[TB_STATS_MAX_PAIRS];
    int n_pairs;
    int64_t buckets[S_BUCKETS];
    int64_t calls;
    int64_t calls_total;
    int64_t min_us;
    int64_t max_us;
    int64_t started_us; /* monotonic start of the interval */
};

static int s_bucket(int64_t v)
{
    if (v < S_SUB)
        return (int)v;
    int e = 63 - __builtin_clzll((unsigned long long)v); /* floor(log2 v) >= 2 */
    if (e >= S_MAX_EXP)
        return S_BUCKETS - 1;
    int sub = (int)((v >> (e - 2)) & (S_SUB - 1));
    return S_SUB + (e - 2) * S_SUB + sub;
}

/*  The largest value that falls in bucket b. */
static int64_t s_bucket_max(int b)
{
    if (b < S_SUB)
        return b;
    int e = (b - S_SUB) / S_SUB + 2;
    int sub = (b - S_SUB) % S_SUB;
    return ((int64_t)(S_SUB + sub + 1) << (e - 2)) - 1;
}

tb_stats_t *tb_stats_new(void)
{
    tb_stats_t *self = calloc(1, sizeof *self);
    if (self)
        tb_stats_reset(self);
    return self;
}

void tb_stats_destroy(tb_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void tb_stats_reset(tb_stats_t *self)
{
    if (!self)
        return;
    memset(self->pairs, 0, sizeof self->pairs);
    memset(self->buckets, 0, sizeof self->buckets);
    self->n_pairs = 0;
    self->calls = 0;
    self->min_us = 0;
    self->max_us = 0;
    self->started_us = tb_mono_us();
}

static s_pair_t *s_find(const tb_stats_t *self, const char *kind, const char *outcome)
{
    for (int i = 0; i < self->n_pairs; i++) {
        const s_pair_t *p = &self->pairs[i];
        if (strncmp(p->kind, kind, S_NAME_MAX - 1) == 0 &&
            strncmp(p->outcome, outcome, S_NAME_MAX - 1) == 0)
            return (s_pair_t *)p;
    }
    return NULL;
}

void tb_stats_call(tb_stats_t *self, const char *kind, const char *outcome,
                   int64_t latency_us)
{
    if (!self)
        return;
    kind = kind && *kind ? kind : "unknown";
    outcome = outcome && *outcome ? outcome : "unknown";
    s_pair_t *p = s_find(self, kind, outcome);
    if (!p && self->n_pairs < TB_STATS_MAX_PAIRS - 1) {
        p = &self->pairs[self->n_pairs++];
        snprintf(p->kind, sizeof p->kind, "%s", kind);
        snprintf(p->outcome, sizeof p->outcome, "%s", outcome);
    }
    if (!p) {
        /* The last slot is the overflow bucket. */
        p = s_find(self, "other", "other");
        if (!p) {
            p = &self->pairs[self->n_pairs++];
            snprintf(p->kind, sizeof p->kind, "other");
            snprintf(p->outcome, sizeof p->outcome, "other");
        }
    }
    p->count++;

    if (latency_us < 0)
        latency_us = 0;
    self->buckets[s_bucket(latency_us)]++;
    if (self->calls == 0 || latency_us < self->min_us)
        self->min_us = latency_us;
    if (latency_us > self->max_us)
        self->max_us = latency_us;
    self->calls++;
    self->calls_total++;
}

const char *tb_stats_code_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&techbridge__code__descriptor, code);
    return v ? v->name : "UNKNOWN";
}

int64_t tb_stats_calls(const tb_stats_t *self)
{
    return self ? self->calls : 0;
}

int64_t tb_stats_count(const tb_stats_t *self, const char *kind, const char *outcome)
{
    if (!self || !kind || !outcome)
        return 0;
    const s_pair_t *p = s_find(self, kind, outcome);
    return p ? p->count : 0;
}

int64_t tb_stats_max_us(const tb_stats_t *self)
{
    return self ? self->max_us : 0;
}

int64_t tb_stats_percentile(const tb_stats_t *self, double pct)
{
    if (!self || self->calls == 0)
        return 0;
    if (pct < 0)
        pct = 0;
    if (pct > 100)
        pct = 100;
    /* The smallest bucket holding the rank-th sample (rank from 1). */
    int64_t rank = (int64_t)ceil(pct / 100.0 * (double)self->calls - 1e-9);
    if (rank < 1)
        rank = 1;
    int64_t seen = 0;
    for (int b = 0; b < S_BUCKETS; b++) {
        seen += self->buckets[b];
        if (seen >= rank) {
            int64_t v = s_bucket_max(b);
            if (v > self->max_us)
                v = self->max_us;
            if (v < self->min_us)
                v = self->min_us;
            return v;
        }
    }
    return self->max_us;
}

void tb_stats_log(tb_stats_t *self, const tb_field_t *extra)
{
    if (!self)
        return;
    size_t n_extra = 0;
    while (extra && extra[n_extra].type != TB_F_END)
        n_extra++;
    enum { FIXED = 7 };
    size_t n = FIXED + (size_t)self->n_pairs + n_extra + 1;
    tb_field_t *fields = calloc(n, sizeof *fields);
    char(*keys)[2 * S_NAME_MAX + 8] = calloc((size_t)self->n_pairs + 1, sizeof *keys);
    if (!fields || !keys) {
        free(fields);
        free(keys);
        tb_stats_reset(self);
        return;
    }
    size_t i = 0;
    fields[i++] = TB_I("calls", self->calls);
    fields[i++] = TB_I("calls_total", self->calls_total);
    fields[i++] =
        TB_I("interval_s", (tb_mono_us() - self->started_us + 500000) / 1000000);
    for (int p = 0; p < self->n_pairs; p++) {
        snprintf(keys[p], sizeof keys[p], "calls.%s.%s", self->pairs[p].kind,
                 self->pairs[p].outcome);
        fields[i++] = TB_I(keys[p], self->pairs[p].count);
    }
    fields[i++] = TB_I("latency_p50_us", tb_stats_percentile(self, 50));
    fields[i++] = TB_I("latency_p90_us", tb_stats_percentile(self, 90));
    fields[i++] = TB_I("latency_p99_us", tb_stats_percentile(self, 99));
    fields[i++] = TB_I("latency_max_us", self->max_us);
    for (size_t e = 0; e < n_extra; e++)
        fields[i++] = extra[e];
    fields[i] = TB_F_END_;
    tb_log_fields(TB_LOG_INFO, "stats", NULL, fields);
    free(fields);
    free(keys);
    tb_stats_reset(self);
}
