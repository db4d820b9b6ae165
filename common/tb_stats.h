/*  tb_stats: what a service did over a stats interval, for the periodic "stats"
    log line (SPEC section 8): API calls by kind and outcome, and their latency
    as a log-scale histogram (p50/p90/p99/max, in microseconds). One owner
    thread, no locks. Typical use by the service runtime:

        tb_stats_t *stats = tb_stats_new ();
        ...after each call:
        tb_stats_call (stats, call->kind, tb_stats_code_name (code), latency_us);
        ...every TB_STATS_INTERVAL seconds:
        tb_stats_log (stats, (const tb_field_t[]) {
            TB_I ("feed.matching.requests.lag", lag), TB_I ("db.round_trips", n),
            TB_I ("db.reconnects", r), TB_F_END_});

    which writes one info line, event "stats":
        calls=14 calls_total=210 interval_s=60 calls.submit.OK=12
        calls.get.NOT_FOUND=2 latency_p50_us=830 latency_p90_us=1900
        latency_p99_us=4100 latency_max_us=5012 ...extra fields
    and starts a new interval. */
#ifndef TB_STATS_H
#define TB_STATS_H

#include <stdint.h>

#include "tb_log.h"

typedef struct tb_stats_t tb_stats_t;

/*  Kinds x outcomes kept per interval; past this, pairs count as "other.other". */
#define TB_STATS_MAX_PAIRS 96

tb_stats_t *tb_stats_new(void);
void tb_stats_destroy(tb_stats_t **self_p);

/*  Records one API call: its kind ("submit"), outcome ("OK", "NOT_FOUND": a code
    name) and latency in microseconds (negative counts as 0). NULL names count
    as "unknown". */
void tb_stats_call(tb_stats_t *self, const char *kind, const char *outcome,
                   int64_t latency_us);

/*  The name of an api.proto Code value ("OK", "INVALID_ARGUMENT", ...), or
    "UNKNOWN" for a value outside the enum. */
const char *tb_stats_code_name(int code);

/*  This interval so far: calls in all, calls of one kind and outcome, and the
    latency percentile `pct` (0..100) in microseconds (an upper bound within
    about 20%, never above the largest sample; 0 without samples). */
int64_t tb_stats_calls(const tb_stats_t *self);
int64_t tb_stats_count(const tb_stats_t *self, const char *kind, const char *outcome);
int64_t tb_stats_percentile(const tb_stats_t *self, double pct);
int64_t tb_stats_max_us(const tb_stats_t *self);

/*  Writes one "stats" info line: calls (this interval), calls_total (since
    start), interval_s, calls.<kind>.<outcome> for each pair seen, the latency
    percentiles latency_p50_us, latency_p90_us, latency_p99_us, latency_max_us,
    then the caller's `extra` fields (ending with TB_F_END_; may be NULL). Then
    resets the interval (calls_total keeps counting). */
void tb_stats_log(tb_stats_t *self, const tb_field_t *extra);

/*  Starts a new interval without logging. */
void tb_stats_reset(tb_stats_t *self);

#endif
