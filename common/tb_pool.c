/*  tb_pool: worker threads with a database session each (see tb_pool.h).

    The service side of each worker is a PAIR socket bound at
    inproc://tb-pool-<pool>-<i>. A job changes hands through the worker's
    `handed` slot, stored with release and taken with acquire, and a one-byte
    frame on the pair says "look": the atomic makes the hand-over of the
    job's memory explicit (and visible to ThreadSanitizer, which cannot see
    inside libzmq), the frame does the waking. An empty frame tells the
    worker to stop. */
#include "tb_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "tb_log.h"

typedef struct {
    tb_call_t *const *calls;
    size_t n;
    void *tag;
    long round_trips; /* the worker's session totals after the batch */
    long reconnects;
} s_job_t;

typedef struct {
    tb_pool_t *pool;
    char endpoint[96];
    void *pipe; /* the service's end */
    pthread_t thread;
    bool started;
    bool busy;
    _Atomic(s_job_t *) handed; /* the job, in whichever direction it travels */
    s_job_t job;               /* the worker's while busy */
    long round_trips;          /* as of its last collected batch */
    long reconnects;
    _Atomic bool db_ok; /* the worker's session, as the worker last saw it */
} s_worker_t;

struct tb_pool_t {
    void *ctx;
    char *conninfo;
    tb_pool_fn fn;
    tb_pool_core_new_fn core_new;
    tb_pool_core_destroy_fn core_destroy;
    void *arg;
    size_t size;
    s_worker_t workers[TB_POOL_MAX];
};

/* ---- the worker's thread ---- */

static void s_fail_all(const s_job_t *job, Techbridge__Code code, const char *message)
{
    for (size_t i = 0; i < job->n; i++)
        tb_call_error(job->calls[i], code, "%s", message);
}

static void s_run(tb_pool_t *pool, tb_db_t *db, void *core, s_job_t *job)
{
    if (!core)
        s_fail_all(job, TECHBRIDGE__CODE__INTERNAL, "out of memory");
    else if (tb_db_check(db) != 0)
        s_fail_all(job, TECHBRIDGE__CODE__UNAVAILABLE, "database unavailable");
    else {
        pool->fn(job->calls, job->n, core);
        tb_call_end_transaction(job->calls[0], db);
    }
    job->round_trips = tb_db_round_trips(db);
    job->reconnects = tb_db_reconnects(db);
}

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    tb_pool_t *pool = w->pool;
    void *pipe = zmq_socket(pool->ctx, ZMQ_PAIR);
    int linger = 0;
    if (!pipe || zmq_setsockopt(pipe, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(pipe, w->endpoint) != 0) {
        tb_error("pool.failed", NULL, TB_S("step", "connect"),
                 TB_S("error", zmq_strerror(errno)));
        if (pipe)
            zmq_close(pipe);
        return NULL;
    }
    tb_db_t *db = tb_db_new(pool->conninfo);
    void *core = db ? pool->core_new(db, pool->arg) : NULL;
    atomic_store(&w->db_ok, db && tb_db_ok(db));
    for (;;) {
        /* Between jobs the worker watches its session too: a server restart
           ends idle sessions, and it is noticed and mended here, before a
           caller meets it, and Health (tb_pool_db_ok) says so meanwhile. */
        zmq_pollitem_t items[2] = {{.socket = pipe, .events = ZMQ_POLLIN}};
        int nitems = 1;
        if (db && tb_db_socket(db) >= 0)
            items[nitems++] =
                (zmq_pollitem_t){.fd = tb_db_socket(db), .events = ZMQ_POLLIN};
        long timeout = db && !tb_db_ok(db) ? tb_db_next_attempt_ms(db) : -1;
        if (zmq_poll(items, nitems, timeout) < 0 && errno != EINTR)
            break;
        if (db && (!tb_db_ok(db) || (nitems > 1 && (items[1].revents & ZMQ_POLLIN))))
            tb_db_check(db);
        atomic_store(&w->db_ok, db && tb_db_ok(db));
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        char byte;
        int rc = zmq_recv(pipe, &byte, 1, 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc != 1)
            break; /* an empty frame: stop; or the context is ending */
        s_job_t *job = atomic_exchange_explicit(&w->handed, NULL, memory_order_acquire);
        if (!job)
            continue;
        s_run(pool, db, core, job);
        atomic_store(&w->db_ok, db && tb_db_ok(db));
        atomic_store_explicit(&w->handed, job, memory_order_release);
        while (zmq_send(pipe, "", 1, 0) < 0 && errno == EINTR)
            ;
    }
    if (core)
        pool->core_destroy(&core);
    tb_db_destroy(&db);
    zmq_close(pipe);
    return NULL;
}

/* ---- the service's side ---- */

/*  Starts a worker's thread with every signal blocked: signals are for the
    service thread's handler and self-pipe. */
static int s_start(s_worker_t *w)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, s_worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    w->started = true;
    return 0;
}

tb_pool_t *tb_pool_new(void *ctx, size_t size, const char *conninfo, tb_pool_fn fn,
                       tb_pool_core_new_fn core_new, tb_pool_core_destroy_fn core_destroy,
                       void *arg)
{
    if (size < 1 || size > TB_POOL_MAX || !fn || !core_new || !core_destroy) {
        tb_error("pool.failed", NULL, TB_S("step", "new"), TB_I("size", (int64_t)size),
                 TB_S("error", "bad arguments"));
        return NULL;
    }
    tb_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->conninfo = strdup(conninfo ? conninfo : "");
    self->fn = fn;
    self->core_new = core_new;
    self->core_destroy = core_destroy;
    self->arg = arg;
    if (!self->conninfo) {
        free(self);
        return NULL;
    }
    int linger = 0;
    for (size_t i = 0; i < size; i++) {
        s_worker_t *w = &self->workers[i];
        w->pool = self;
        /* Not known to be down until the worker has tried: a call that
           arrives first waits for the worker, which connects for it. */
        atomic_store(&w->db_ok, true);
        snprintf(w->endpoint, sizeof w->endpoint, "inproc://tb-pool-%p-%zu", (void *)self,
                 i);
        w->pipe = zmq_socket(ctx, ZMQ_PAIR);
        self->size = i + 1; /* destroy closes what exists */
        if (!w->pipe ||
            zmq_setsockopt(w->pipe, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
            zmq_bind(w->pipe, w->endpoint) != 0 || s_start(w) != 0) {
            tb_error("pool.failed", NULL, TB_S("step", "start"),
                     TB_I("worker", (int64_t)i), TB_S("error", zmq_strerror(errno)));
            tb_pool_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void tb_pool_destroy(tb_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_pool_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++) {
        s_worker_t *w = &self->workers[i];
        if (w->started) {
            /* Queued behind a batch still out, if any: the worker finishes it. */
            while (zmq_send(w->pipe, "", 0, 0) < 0 && errno == EINTR)
                ;
            pthread_join(w->thread, NULL);
        }
        if (w->pipe)
            zmq_close(w->pipe);
    }
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

size_t tb_pool_size(const tb_pool_t *self)
{
    return self->size;
}

int tb_pool_idle(const tb_pool_t *self)
{
    for (size_t i = 0; i < self->size; i++)
        if (!self->workers[i].busy)
            return (int)i;
    return -1;
}

bool tb_pool_db_ok(const tb_pool_t *self)
{
    for (size_t i = 0; i < self->size; i++)
        if (!atomic_load(&self->workers[i].db_ok))
            return false;
    return true;
}

int tb_pool_busy(const tb_pool_t *self, size_t i)
{
    return i < self->size && self->workers[i].busy;
}

int tb_pool_submit(tb_pool_t *self, size_t i, tb_call_t *const *calls, size_t n,
                   void *tag)
{
    if (i >= self->size || self->workers[i].busy || n == 0)
        return -1;
    s_worker_t *w = &self->workers[i];
    w->job = (s_job_t){.calls = calls, .n = n, .tag = tag};
    atomic_store_explicit(&w->handed, &w->job, memory_order_release);
    int rc;
    while ((rc = zmq_send(w->pipe, "", 1, 0)) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        atomic_store_explicit(&w->handed, NULL, memory_order_relaxed);
        return -1;
    }
    w->busy = true;
    return 0;
}

void *tb_pool_socket(tb_pool_t *self, size_t i)
{
    return i < self->size ? self->workers[i].pipe : NULL;
}

void *tb_pool_collect(tb_pool_t *self, size_t i)
{
    if (i >= self->size || !self->workers[i].busy)
        return NULL;
    s_worker_t *w = &self->workers[i];
    char byte;
    if (zmq_recv(w->pipe, &byte, 1, ZMQ_DONTWAIT) < 0)
        return NULL;
    s_job_t *job = atomic_exchange_explicit(&w->handed, NULL, memory_order_acquire);
    if (job != &w->job)
        return NULL;
    w->busy = false;
    w->round_trips = job->round_trips;
    w->reconnects = job->reconnects;
    return job->tag;
}

long tb_pool_round_trips(const tb_pool_t *self)
{
    long n = 0;
    for (size_t i = 0; self && i < self->size; i++)
        n += self->workers[i].round_trips;
    return n;
}

long tb_pool_reconnects(const tb_pool_t *self)
{
    long n = 0;
    for (size_t i = 0; self && i < self->size; i++)
        n += self->workers[i].reconnects;
    return n;
}
