/*  tb_service: the one runtime loop of every service. One thread: zmq_poll over
    the self-pipe of the signal handler, the database socket (NOTIFY wake-ups),
    the API router, the feed routers, the feed consumers and the service's own
    sockets; timers and the stats line in between. */
#include "tb_service.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "tb_auth.h"
#include "tb_feed.h"
#include "tb_guard.h"
#include "tb_log.h"
#include "tb_migrate.h"
#include "tb_stats.h"
#include "tb_util.h"
#include "tb_wire.h"

#ifndef TB_VERSION
#define TB_VERSION "dev"
#endif

#define S_POLL_MAX_MS  1000 /* the longest the loop sleeps */
#define S_FEED_WAKE_MS 1000 /* the slow safety timer of the feed servers */
#define S_API_BATCH    64   /* API calls served per loop turn, so feeds keep going */
#define S_HWM          1000 /* queued messages per peer, each way */
#define S_ARENA_FRAMES 16   /* a call's arena: this many times max-frame */
/*  What libzmq may hold for the API's peers, unread by the service (tb_guard):
    per connection, and all connections together, in times max-frame. */
#define S_PEER_BUFFER_FRAMES 32
#define S_ALL_BUFFER_FRAMES  256
#define S_ENDPOINTS_MAX      1024
/*  Calls taken off the API router and waiting for a worker; past this the
    router is left alone and its queue (and the peers) wait. */
#define S_QUEUE_MAX (2 * TB_SERVICE_BATCH_MAX)

typedef struct {
    char *stream;
    void *router;
    tb_feed_server_t *server;
} s_feed_t;

typedef struct {
    void *socket;
    tb_readable_fn fn;
    void *arg;
} s_socket_t;

typedef struct {
    int interval_ms;
    int64_t due_us;
    tb_timer_fn fn;
    void *arg;
} s_timer_t;

/*  One API call from its receipt to its reply. */
typedef struct {
    tb_msg_t *msg;
    tb_call_t call;
    int64_t t0;
    bool pending; /* decoded and checked: for the service's handler */
} s_slot_t;

/*  A batch out on a worker of the pool. */
typedef struct {
    s_slot_t *slots[TB_SERVICE_BATCH_MAX];
    tb_call_t *calls[TB_SERVICE_BATCH_MAX];
    size_t n;
} s_batch_t;

struct tb_service_t {
    char *name;
    const tb_config_t *config;
    void *ctx;
    tb_db_t *db;
    tb_stats_t *stats;
    size_t max_frame;
    long stats_interval_s;
    bool migrate_only;
    bool fatal;               /* set at start: tb_service_run refuses */
    tb_auth_t *auth;          /* CURVE and the ZAP handler; NULL: running open */
    struct sigaction old_hup; /* restored by destroy when hup_installed */
    bool hup_installed;

    void *api;
    tb_guard_t *guard;             /* libzmq's buffers for the API's peers, bounded */
    tb_guard_budget_t *budgets[4]; /* watchers of the service's own sockets */
    size_t nbudgets;
    tb_api_fn api_fn;
    void *core;
    tb_pool_t *pool;                /* a batch API's workers, instead of api_fn */
    s_batch_t batches[TB_POOL_MAX]; /* by worker */
    s_slot_t *queue[S_QUEUE_MAX];   /* decoded, waiting for a worker, in order */
    size_t nqueue;

    s_feed_t *feeds;
    size_t nfeeds;
    tb_feed_consumer_t **consumers;
    size_t nconsumers;
    s_socket_t *sockets;
    size_t nsockets;
    s_timer_t *timers;
    size_t ntimers;

    struct sigaction old_sigs[2]; /* restored by destroy */
    bool signals;
    char endpoints[S_ENDPOINTS_MAX]; /* for the start line */
    int64_t started_us;
    bool schema_ready;   /* migrations applied and checked in this session */
    long schema_session; /* tb_db_reconnects() when they were */
    bool session_new;    /* NOTIFYs may have been lost meanwhile: wake the feeds */
};

/* ---- signals ---- */

static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_reload; /* SIGHUP: reread the keys file */
static int s_pipe[2] = {-1, -1};

static void s_on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    s_stop = 1;
    if (s_pipe[1] >= 0) {
        ssize_t rc = write(s_pipe[1], "", 1);
        (void)rc; /* a full pipe already wakes the loop */
    }
    errno = saved;
}

static int s_signals_install(struct sigaction old[2])
{
    if (s_pipe[0] < 0 && pipe2(s_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        tb_error("service.failed", NULL, TB_S("step", "pipe"),
                 TB_S("error", strerror(errno)));
        return -1;
    }
    s_stop = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, &old[0]) != 0 || sigaction(SIGINT, &sa, &old[1]) != 0) {
        tb_error("service.failed", NULL, TB_S("step", "sigaction"),
                 TB_S("error", strerror(errno)));
        return -1;
    }
    return 0;
}

static void s_signals_restore(struct sigaction old[2])
{
    sigaction(SIGTERM, &old[0], NULL);
    sigaction(SIGINT, &old[1], NULL);
}

static void s_on_hup(int sig)
{
    (void)sig;
    int saved = errno;
    s_reload = 1;
    if (s_pipe[1] >= 0) {
        ssize_t rc = write(s_pipe[1], "", 1);
        (void)rc;
    }
    errno = saved;
}

/*  With keys, SIGHUP rereads the keys file (tb_auth_reload) instead of ending
    the process. Returns 0 or -1. */
static int s_hup_install(tb_service_t *self)
{
    s_reload = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_hup;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGHUP, &sa, &self->old_hup) != 0) {
        tb_error("service.failed", NULL, TB_S("step", "sigaction"),
                 TB_S("error", strerror(errno)));
        return -1;
    }
    self->hup_installed = true;
    return 0;
}

static void s_pipe_drain(void)
{
    char buf[64];
    while (read(s_pipe[0], buf, sizeof buf) > 0)
        ;
}

/* ---- sockets ---- */

/*  What a socket is to CURVE: a server of the API domain (API ROUTER, XPUB),
    a server of the feed domain (operators only), or a client (feed consumer). */
typedef enum { S_SEC_SERVER, S_SEC_FEED, S_SEC_CLIENT } s_sec_t;

/*  Every socket the service binds or connects passes through here, before its
    bind or connect: the options each needs, and when keys are configured
    CURVE: the service key on bound sockets, client keys on connected ones. */
static int s_socket_setup(tb_service_t *self, void *socket, s_sec_t sec)
{
    if (tb_wire_socket_setup_mech(socket, self->max_frame, self->auth != NULL) != 0)
        return -1;
    if (!self->auth)
        return 0;
    switch (sec) {
    case S_SEC_SERVER:
        return tb_auth_server_socket(self->auth, socket);
    case S_SEC_FEED:
        return tb_auth_feed_socket(self->auth, socket);
    case S_SEC_CLIENT:
        return tb_auth_client_socket(self->auth, socket);
    }
    return -1;
}

/*  The consumer's DEALER is set up by tb_feed with this callback. */
static int s_client_setup(void *socket, void *arg)
{
    return s_socket_setup(arg, socket, S_SEC_CLIENT);
}

static void s_endpoint_note(tb_service_t *self, const char *what, const char *endpoint)
{
    size_t used = strlen(self->endpoints);
    snprintf(self->endpoints + used, sizeof self->endpoints - used, "%s%s=%s",
             used ? " " : "", what, endpoint);
}

/*  A bound socket of `type` with the service's setup (`feed`: an event feed,
    for operator keys only); ROUTERs report unroutable replies and never block
    the loop. NULL on failure (logged). */
static void *s_bind(tb_service_t *self, int type, const char *endpoint, const char *what,
                    bool feed)
{
    if (!endpoint || !*endpoint) {
        tb_error("service.bind_failed", NULL, TB_S("socket", what),
                 TB_S("error", "no endpoint"));
        return NULL;
    }
    void *socket = zmq_socket(self->ctx, type);
    if (!socket) {
        tb_error("service.bind_failed", NULL, TB_S("socket", what),
                 TB_S("error", zmq_strerror(errno)));
        return NULL;
    }
    int rc = s_socket_setup(self, socket, feed ? S_SEC_FEED : S_SEC_SERVER);
    if (rc == 0 && type == ZMQ_ROUTER) {
        int one = 1, hwm = S_HWM, zero = 0;
        rc = zmq_setsockopt(socket, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        if (rc == 0)
            rc = zmq_setsockopt(socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
        if (rc == 0)
            rc = zmq_setsockopt(socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
        /* A peer that does not read gets EAGAIN, not a stalled service. */
        if (rc == 0)
            rc = zmq_setsockopt(socket, ZMQ_SNDTIMEO, &zero, sizeof zero);
    }
    if (rc == 0)
        rc = zmq_bind(socket, endpoint);
    if (rc != 0) {
        tb_error("service.bind_failed", NULL, TB_S("socket", what),
                 TB_S("endpoint", endpoint), TB_S("error", zmq_strerror(errno)));
        zmq_close(socket);
        return NULL;
    }
    s_endpoint_note(self, what, endpoint);
    return socket;
}

/* ---- lifecycle ---- */

tb_service_t *tb_service_new(const char *name, const tb_config_t *config)
{
    if (tb_log_setup(name, tb_config_get(config, "log-level"),
                     tb_config_get(config, "log-format")) != 0) {
        tb_error("service.config", NULL,
                 TB_S("error", "unknown log-level or log-format"));
        return NULL;
    }
    long max_frame, interval;
    if (tb_config_long(config, "max-frame", 1024, 64L * 1024 * 1024, &max_frame) != 0 ||
        tb_config_long(config, "stats-interval", 0, 7L * 24 * 3600, &interval) != 0)
        return NULL;
    const char *keys = tb_config_get(config, "keys-file");
    const char *pair = tb_config_get(config, "secret-key-file");
    keys = keys && *keys ? keys : NULL;
    pair = pair && *pair ? pair : NULL;
    /* Half a configuration never runs open while the operator believes the
       service is closed, nor closed with a key the operator did not mean. */
    if (keys && !pair) {
        tb_error("security.config", NULL, TB_S("keys_file", keys),
                 TB_S("error", "keys-file is set but secret-key-file is not: the "
                               "service needs its key pair (tbctl keygen)"));
        return NULL;
    }
    if (pair && !keys) {
        tb_error("security.config", NULL, TB_S("secret_key_file", pair),
                 TB_S("error", "secret-key-file is set but keys-file is not: set both "
                               "for CURVE, or neither to run open on loopback"));
        return NULL;
    }
    if (!keys)
        tb_warn("security.open", NULL,
                TB_S("message", "no keys-file: running without CURVE; every caller is "
                                "trusted, keep the endpoints on loopback"));

    tb_service_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->name = strdup(name);
    self->config = config;
    self->max_frame = (size_t)max_frame;
    self->stats_interval_s = interval;
    self->migrate_only = tb_config_switch(config, "migrate");
    self->started_us = tb_mono_us();
    /* From here on SIGTERM is a clean stop, even before tb_service_run. */
    if (s_signals_install(self->old_sigs) != 0) {
        free(self->name);
        free(self);
        return NULL;
    }
    self->signals = true;
    self->ctx = zmq_ctx_new();
    self->stats = tb_stats_new();
    if (!self->name || !self->ctx || !self->stats) {
        tb_error("service.failed", NULL, TB_S("step", "new"),
                 TB_S("error", "out of memory"));
        tb_service_destroy(&self);
        return NULL;
    }
    /* The ZAP handler binds before any CURVE server socket (tb_auth.h). */
    if (keys) {
        self->auth = tb_auth_new(self->ctx, keys, pair);
        if (!self->auth || s_hup_install(self) != 0) {
            tb_error("service.failed", NULL, TB_S("step", "security"),
                     TB_S("keys_file", keys), TB_S("secret_key_file", pair));
            tb_service_destroy(&self);
            return NULL;
        }
    }
    self->db = tb_db_new(tb_config_get(config, "database-url"));
    if (!self->db) {
        tb_service_destroy(&self);
        return NULL;
    }
    /* With the database up, bring the schema up to date now, before the core
       prepares its statements against it. (When it comes later, the loop does.) */
    if (!self->migrate_only && tb_db_ok(self->db)) {
        tb_migrate_apply(self->db);
        if (tb_db_ok(self->db)) {
            if (tb_migrate_check(self->db) != 0)
                self->fatal = true;
            else {
                self->schema_ready = true;
                self->schema_session = tb_db_reconnects(self->db);
            }
        }
    }
    return self;
}

/*  Closes every socket and ends the context; safe to call twice. */
static void s_close_all(tb_service_t *self)
{
    for (size_t i = 0; i < self->nfeeds; i++) {
        tb_feed_server_destroy(&self->feeds[i].server);
        if (self->feeds[i].router)
            zmq_close(self->feeds[i].router);
        self->feeds[i].router = NULL;
        free(self->feeds[i].stream);
        self->feeds[i].stream = NULL;
    }
    self->nfeeds = 0;
    for (size_t i = 0; i < self->nconsumers; i++)
        tb_feed_consumer_destroy(&self->consumers[i]);
    self->nconsumers = 0;
    /* Watchers first: their monitors watch the sockets closed next. */
    for (size_t i = 0; i < self->nbudgets; i++)
        tb_guard_budget_destroy(&self->budgets[i]);
    self->nbudgets = 0;
    for (size_t i = 0; i < self->nsockets; i++)
        zmq_close(self->sockets[i].socket);
    self->nsockets = 0;
    /* Workers are joined before their sockets' context ends. A call still
       queued here (a failed start) goes unanswered: the peer is going too. */
    tb_pool_destroy(&self->pool);
    for (size_t i = 0; i < self->nqueue; i++) {
        tb_arena_destroy(&self->queue[i]->call.arena);
        tb_msg_destroy(&self->queue[i]->msg);
        free(self->queue[i]);
    }
    self->nqueue = 0;
    tb_guard_destroy(&self->guard);
    if (self->api) {
        zmq_close(self->api);
        self->api = NULL;
    }
    /* The handler goes after every CURVE socket it authenticates for. */
    tb_auth_destroy(&self->auth);
    if (self->ctx) {
        zmq_ctx_term(self->ctx);
        self->ctx = NULL;
    }
}

void tb_service_destroy(tb_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_service_t *self = *self_p;
    s_close_all(self);
    if (self->signals)
        s_signals_restore(self->old_sigs);
    if (self->hup_installed)
        sigaction(SIGHUP, &self->old_hup, NULL);
    free(self->feeds);
    free(self->consumers);
    free(self->sockets);
    free(self->timers);
    tb_db_destroy(&self->db);
    tb_stats_destroy(&self->stats);
    free(self->name);
    free(self);
    *self_p = NULL;
}

tb_db_t *tb_service_db(tb_service_t *self)
{
    return self->db;
}

void *tb_service_ctx(tb_service_t *self)
{
    return self->ctx;
}

const tb_config_t *tb_service_config(tb_service_t *self)
{
    return self->config;
}

/* ---- registration ---- */

static int s_bind_api(tb_service_t *self, const char *endpoint, bool handler, void *core)
{
    if (self->api || !handler) {
        tb_error("service.bind_failed", NULL, TB_S("socket", "api"),
                 TB_S("error", self->api ? "already bound" : "no handler"));
        return -1;
    }
    self->api = s_bind(self, ZMQ_ROUTER, endpoint, "api", false);
    if (!self->api)
        return -1;
    self->guard = tb_guard_new(self->ctx, self->api, "api",
                               (uint64_t)S_PEER_BUFFER_FRAMES * self->max_frame,
                               (uint64_t)S_ALL_BUFFER_FRAMES * self->max_frame);
    if (!self->guard)
        return -1;
    self->core = core;
    return 0;
}

int tb_service_bind_api(tb_service_t *self, const char *endpoint, tb_api_fn fn,
                        void *core)
{
    if (s_bind_api(self, endpoint, fn != NULL, core) != 0)
        return -1;
    self->api_fn = fn;
    return 0;
}

int tb_service_bind_api_batch(tb_service_t *self, const char *endpoint,
                              const tb_api_pool_t *pool)
{
    if (s_bind_api(self, endpoint, pool && pool->fn, NULL) != 0)
        return -1;
    self->pool = tb_pool_new(self->ctx, pool->sessions,
                             tb_config_get(self->config, "database-url"), pool->fn,
                             pool->core_new, pool->core_destroy, pool->arg);
    return self->pool ? 0 : -1;
}

int tb_service_serve_feed(tb_service_t *self, const char *stream, const char *endpoint)
{
    s_feed_t *feeds = realloc(self->feeds, (self->nfeeds + 1) * sizeof *feeds);
    if (!feeds)
        return -1;
    self->feeds = feeds;
    char what[80];
    snprintf(what, sizeof what, "feed.%s", stream);
    void *router = s_bind(self, ZMQ_ROUTER, endpoint, what, true);
    if (!router)
        return -1;
    char channel[80];
    snprintf(channel, sizeof channel, "%s%s", TB_FEED_CHANNEL_PREFIX, stream);
    s_feed_t feed = {strdup(stream), router,
                     tb_feed_server_new(self->db, stream, router)};
    if (!feed.stream || !feed.server || tb_db_listen(self->db, channel) != 0) {
        tb_error("service.feed_failed", NULL, TB_S("stream", stream));
        tb_feed_server_destroy(&feed.server);
        free(feed.stream);
        zmq_close(router);
        return -1;
    }
    self->feeds[self->nfeeds++] = feed;
    return 0;
}

int tb_service_consume(tb_service_t *self, const char *name, const char *stream,
                       const char *endpoint, tb_apply_fn fn, tb_committed_fn committed,
                       void *arg)
{
    return tb_service_consume_wanted(self, name, stream, endpoint, NULL, fn, committed,
                                     arg);
}

int tb_service_consume_wanted(tb_service_t *self, const char *name, const char *stream,
                              const char *endpoint, tb_wants_fn wants, tb_apply_fn fn,
                              tb_committed_fn committed, void *arg)
{
    tb_feed_consumer_t **consumers =
        realloc(self->consumers, (self->nconsumers + 1) * sizeof *consumers);
    if (!consumers)
        return -1;
    self->consumers = consumers;
    tb_feed_consumer_t *consumer =
        tb_feed_consumer_new(self->ctx, self->db, name, stream, endpoint, fn, committed,
                             arg, s_client_setup, self);
    if (!consumer) {
        tb_error("service.consume_failed", NULL, TB_S("consumer", name),
                 TB_S("stream", stream), TB_S("endpoint", endpoint ? endpoint : ""));
        return -1;
    }
    tb_feed_consumer_set_wants(consumer, wants);
    self->consumers[self->nconsumers++] = consumer;
    char what[80];
    snprintf(what, sizeof what, "consume.%s", stream);
    s_endpoint_note(self, what, endpoint);
    return 0;
}

void *tb_service_bind_socket(tb_service_t *self, int type, const char *endpoint,
                             tb_readable_fn fn, void *arg)
{
    s_socket_t *sockets = realloc(self->sockets, (self->nsockets + 1) * sizeof *sockets);
    if (!sockets)
        return NULL;
    self->sockets = sockets;
    void *socket = s_bind(self, type, endpoint,
                          type == ZMQ_XPUB  ? "xpub"
                          : type == ZMQ_PUB ? "pub"
                                            : "socket",
                          false);
    if (!socket)
        return NULL;
    self->sockets[self->nsockets++] = (s_socket_t){socket, fn, arg};
    return socket;
}

int tb_service_budget(tb_service_t *self, void *socket, uint64_t budget, int window_ms)
{
    if (self->nbudgets == sizeof self->budgets / sizeof self->budgets[0])
        return -1;
    tb_guard_budget_t *b =
        tb_guard_budget_new(self->ctx, socket, "pub", budget, window_ms);
    if (!b)
        return -1;
    self->budgets[self->nbudgets++] = b;
    return 0;
}

int tb_service_every(tb_service_t *self, int interval_ms, tb_timer_fn fn, void *arg)
{
    if (interval_ms <= 0 || !fn)
        return -1;
    s_timer_t *timers = realloc(self->timers, (self->ntimers + 1) * sizeof *timers);
    if (!timers)
        return -1;
    self->timers = timers;
    self->timers[self->ntimers++] =
        (s_timer_t){interval_ms, tb_mono_us() + (int64_t)interval_ms * 1000, fn, arg};
    return 0;
}

/* ---- API calls ---- */

static int64_t s_lag(tb_feed_consumer_t *c)
{
    int64_t lag = tb_feed_consumer_head(c) - tb_feed_consumer_cursor(c);
    return lag > 0 ? lag : 0;
}

/*  Health is the runtime's own: it must answer while the database is down. */
static int s_health(tb_service_t *self, tb_call_t *call)
{
    Techbridge__HealthResult *h = TB_PB_NEW(call->arena, Techbridge__HealthResult,
                                            techbridge__health_result__descriptor);
    Techbridge__FeedLag **feeds =
        tb_arena_alloc(call->arena, (self->nconsumers + 1) * sizeof *feeds);
    if (!h || !feeds)
        return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                             "reply too large");
    h->service = tb_arena_strdup(call->arena, self->name);
    /* Every session that serves calls, not only the loop's own: a pool
       worker's session lost to a restart would answer UNAVAILABLE. */
    h->database_ok = tb_db_ok(self->db) && (!self->pool || tb_pool_db_ok(self->pool));
    h->uptime_s = (tb_mono_us() - self->started_us) / 1000000;
    h->version = tb_arena_strdup(call->arena, TB_VERSION);
    for (size_t i = 0; i < self->nconsumers; i++) {
        tb_feed_consumer_t *c = self->consumers[i];
        Techbridge__FeedLag *f =
            TB_PB_NEW(call->arena, Techbridge__FeedLag, techbridge__feed_lag__descriptor);
        if (!f)
            return tb_call_error(call, TECHBRIDGE__CODE__RESOURCE_EXHAUSTED,
                                 "reply too large");
        f->consumer = tb_arena_strdup(call->arena, tb_feed_consumer_name(c));
        f->stream = tb_arena_strdup(call->arena, tb_feed_consumer_stream(c));
        f->cursor = tb_feed_consumer_cursor(c);
        f->head = tb_feed_consumer_head(c);
        f->lag = s_lag(c);
        feeds[i] = f;
    }
    h->n_feeds = self->nconsumers;
    h->feeds = feeds;
    call->reply->result_case = TECHBRIDGE__API_REPLY__RESULT_HEALTH;
    call->reply->health = h;
    return 0;
}

/*  Decodes and checks the request (tb_call_prepare); fills call->req, cid,
    kind, actor. Returns 0, or -1 with the reply's error set. */
static int s_decode(tb_service_t *self, tb_msg_t *msg, tb_call_t *call)
{
    size_t len = 0;
    int frames = 0;
    const uint8_t *body = tb_msg_body(msg, &len, &frames);
    bool keyed = self->auth != NULL;
    /* Under CURVE the sender's role is known before a byte of the frame is
       decoded: name it in the api.call line of a frame that never decodes.
       tb_call_prepare replaces it with the actor the call acts as. */
    if (keyed && *tb_msg_user_id(msg)) {
        const char *role = tb_arena_strdup(call->arena, tb_msg_user_id(msg));
        if (role)
            call->actor = role;
    }
    if (!tb_msg_delimited(msg))
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "missing the empty delimiter frame before the ApiRequest "
                             "(send it first on a DEALER)");
    if (frames != 1 || !body || len == 0)
        return tb_call_error(call, TECHBRIDGE__CODE__INVALID_ARGUMENT,
                             "expected one non-empty ApiRequest frame, got %d frame(s)",
                             frames);
    return tb_call_prepare(call, body, len, self->max_frame,
                           keyed ? tb_msg_user_id(msg) : NULL, keyed);
}

/*  Makes the call of `msg` and answers at once what the runtime answers itself
    (bad frames, Health, database down): those leave `pending` false. Returns
    -1 when out of memory (logged; the message gets no reply). */
static int s_call_open(tb_service_t *self, tb_msg_t *msg, s_slot_t *slot)
{
    memset(slot, 0, sizeof *slot);
    slot->msg = msg;
    slot->t0 = tb_mono_us();
    tb_arena_t *arena = tb_arena_new(S_ARENA_FRAMES * self->max_frame);
    Techbridge__ApiReply *reply =
        arena ? TB_PB_NEW(arena, Techbridge__ApiReply, techbridge__api_reply__descriptor)
              : NULL;
    char made[37];
    tb_uuid(made);
    char *cid = reply ? tb_arena_strdup(arena, made) : NULL;
    if (!cid) {
        tb_error("api.failed", made, TB_S("error", "out of memory"));
        tb_arena_destroy(&arena);
        return -1;
    }
    reply->correlation_id = cid;
    slot->call = (tb_call_t){.arena = arena,
                             .reply = reply,
                             .cid = cid,
                             .actor = "",
                             .who = "",
                             .is_operator = false,
                             .kind = "invalid"};
    tb_call_t *call = &slot->call;
    if (s_decode(self, msg, call) != 0)
        return 0;
    if (call->req->body_case == TECHBRIDGE__API_REQUEST__BODY_HEALTH)
        s_health(self, call);
    else if (!tb_db_ok(self->db) || !self->schema_ready)
        tb_call_error(call, TECHBRIDGE__CODE__UNAVAILABLE, "database unavailable");
    else
        slot->pending = true;
    return 0;
}

/*  Sends the call's reply, counts and logs it, frees the call. */
static void s_call_close(tb_service_t *self, s_slot_t *slot)
{
    tb_call_t *call = &slot->call;
    Techbridge__ApiReply *reply = call->reply;
    if (slot->pending && !reply->error &&
        reply->result_case == TECHBRIDGE__API_REPLY__RESULT__NOT_SET) {
        tb_error("api.no_reply", call->cid, TB_S("kind", call->kind));
        tb_call_error(call, TECHBRIDGE__CODE__INTERNAL, "the service produced no result");
    }
    if (reply->error)
        reply->result_case =
            TECHBRIDGE__API_REPLY__RESULT__NOT_SET; /* either, not both */

    Techbridge__Code code = reply->error ? reply->error->code : TECHBRIDGE__CODE__OK;
    int sent = tb_msg_reply(slot->msg, &reply->base);
    int send_errno = errno;
    int64_t us = tb_mono_us() - slot->t0;
    tb_stats_call(self->stats, call->kind, tb_stats_code_name((int)code), us);
    if (reply->error)
        tb_log(code == TECHBRIDGE__CODE__INTERNAL ? TB_LOG_ERROR : TB_LOG_INFO,
               "api.call", call->cid, TB_S("kind", call->kind),
               TB_S("code", tb_stats_code_name((int)code)), TB_I("latency_us", us),
               TB_S("actor", call->actor),
               TB_S("message", reply->error->message ? reply->error->message : ""));
    else
        tb_info("api.call", call->cid, TB_S("kind", call->kind), TB_S("code", "OK"),
                TB_I("latency_us", us), TB_S("actor", call->actor));
    if (sent != 0)
        tb_warn("api.reply_failed", call->cid, TB_S("kind", call->kind),
                TB_S("error", zmq_strerror(send_errno)));
    tb_arena_destroy(&call->arena);
}

static void s_serve(tb_service_t *self, tb_msg_t *msg)
{
    s_slot_t slot;
    if (s_call_open(self, msg, &slot) != 0)
        return;
    if (slot.pending) {
        self->api_fn(&slot.call, self->core);
        tb_call_end_transaction(&slot.call, self->db);
    }
    s_call_close(self, &slot);
}

/*  Answers a slot's call and frees it. */
static void s_slot_done(tb_service_t *self, s_slot_t *slot)
{
    s_call_close(self, slot);
    tb_msg_destroy(&slot->msg);
    free(slot);
}

/*  The next request of the API router, or NULL; tells the guard that what
    libzmq read from its connection is now the service's. */
static tb_msg_t *s_api_recv(tb_service_t *self)
{
    tb_msg_t *msg = tb_msg_recv(self->api);
    if (msg)
        tb_guard_took(self->guard, tb_msg_fd(msg));
    return msg;
}

/*  Takes what the router holds while the queue has room: the runtime answers
    at once what it answers itself, the rest waits for a worker. Returns the
    number of messages taken. */
static int s_api_take(tb_service_t *self)
{
    int taken = 0;
    while (self->nqueue < S_QUEUE_MAX && !s_stop) {
        tb_msg_t *msg = s_api_recv(self);
        if (!msg)
            break;
        taken++;
        s_slot_t *slot = malloc(sizeof *slot);
        if (!slot || s_call_open(self, msg, slot) != 0) {
            if (!slot)
                tb_error("api.failed", NULL, TB_S("error", "out of memory"));
            free(slot);
            tb_msg_destroy(&msg);
            continue;
        }
        if (slot->pending)
            self->queue[self->nqueue++] = slot;
        else
            s_slot_done(self, slot);
    }
    return taken;
}

/*  Whether a call of the peer of `msg` is out on a worker. */
static bool s_peer_busy(tb_service_t *self, const tb_msg_t *msg)
{
    for (size_t w = 0; w < tb_pool_size(self->pool); w++) {
        if (!tb_pool_busy(self->pool, w))
            continue;
        const s_batch_t *b = &self->batches[w];
        for (size_t i = 0; i < b->n; i++)
            if (tb_msg_same_peer(b->slots[i]->msg, msg))
                return true;
    }
    return false;
}

/*  Fills worker `w`'s batch from the queue, in order, with up to a batch of
    calls whose peer has none out (a peer's calls run in the order sent). */
static void s_batch_fill(tb_service_t *self, s_batch_t *b)
{
    size_t kept = 0;
    b->n = 0;
    for (size_t i = 0; i < self->nqueue; i++) {
        s_slot_t *slot = self->queue[i];
        if (b->n < TB_SERVICE_BATCH_MAX && !s_peer_busy(self, slot->msg)) {
            b->slots[b->n] = slot;
            b->calls[b->n++] = &slot->call;
        } else
            self->queue[kept++] = slot;
    }
    self->nqueue = kept;
}

/*  Hands queued calls to idle workers. */
static void s_dispatch(tb_service_t *self)
{
    int w;
    while (self->nqueue > 0 && (w = tb_pool_idle(self->pool)) >= 0) {
        s_batch_t *b = &self->batches[w];
        s_batch_fill(self, b);
        if (b->n == 0)
            return; /* each waits for an earlier call of its peer */
        if (tb_pool_submit(self->pool, (size_t)w, b->calls, b->n, b) != 0) {
            for (size_t i = 0; i < b->n; i++) {
                tb_call_error(b->calls[i], TECHBRIDGE__CODE__INTERNAL,
                              "could not hand the call to a worker");
                s_slot_done(self, b->slots[i]);
            }
            b->n = 0;
            return;
        }
    }
}

/*  Answers the calls of worker `w`'s finished batch. Returns how many. */
static size_t s_collect(tb_service_t *self, size_t w)
{
    s_batch_t *b = tb_pool_collect(self->pool, w);
    if (!b)
        return 0;
    size_t n = b->n;
    for (size_t i = 0; i < n; i++)
        s_slot_done(self, b->slots[i]);
    b->n = 0;
    return n;
}

/*  At a stop: the calls taken are finished and answered (a client gets its
    reply, and a submission that committed is never left unanswered). */
static void s_pool_drain(tb_service_t *self)
{
    if (!self->pool)
        return;
    for (;;) {
        s_dispatch(self);
        zmq_pollitem_t items[TB_POOL_MAX];
        size_t index[TB_POOL_MAX], n = 0;
        for (size_t w = 0; w < tb_pool_size(self->pool); w++)
            if (tb_pool_busy(self->pool, w)) {
                items[n] =
                    (zmq_pollitem_t){tb_pool_socket(self->pool, w), -1, ZMQ_POLLIN, 0};
                index[n++] = w;
            }
        if (n == 0)
            break;
        if (zmq_poll(items, (int)n, S_POLL_MAX_MS) < 0 && errno != EINTR)
            break;
        for (size_t i = 0; i < n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                s_collect(self, index[i]);
    }
}

/*  Serves what the API router holds. Returns the number of messages taken. */
static int s_api_readable(tb_service_t *self)
{
    if (self->pool) {
        int taken = s_api_take(self);
        s_dispatch(self);
        return taken;
    }
    int n = 0;
    while (n < S_API_BATCH && !s_stop) {
        tb_msg_t *msg = s_api_recv(self);
        if (!msg)
            break;
        s_serve(self, msg);
        tb_msg_destroy(&msg);
        n++;
    }
    return n;
}

/* ---- the loop ---- */

/*  Whenever a database session is new: migrations, then the schema check.
    Returns -1 when the schema is one this binary must not run on. */
static int s_db_maintain(tb_service_t *self)
{
    if (!tb_db_ok(self->db)) {
        self->schema_ready = false;
        if (tb_db_tick(self->db) != 0)
            return 0;
    }
    if (self->schema_ready && self->schema_session == tb_db_reconnects(self->db))
        return 0;
    self->schema_ready = false;
    tb_migrate_apply(self->db);
    if (!tb_db_ok(self->db))
        return 0; /* lost it again: next session */
    if (tb_migrate_check(self->db) != 0) {
        if (!tb_db_ok(self->db))
            return 0;
        return -1;
    }
    self->schema_ready = true;
    self->schema_session = tb_db_reconnects(self->db);
    self->session_new = true;
    return 0;
}

static void s_stats_line(tb_service_t *self)
{
    enum { EXTRA = 64 };
    tb_field_t fields[8 + EXTRA];
    char keys[EXTRA][96];
    size_t n = 0;
    fields[n++] = TB_B("db.ok", tb_db_ok(self->db));
    fields[n++] = TB_I("db.round_trips",
                       tb_db_round_trips(self->db) + tb_pool_round_trips(self->pool));
    fields[n++] = TB_I("db.reconnects",
                       tb_db_reconnects(self->db) + tb_pool_reconnects(self->pool));
    fields[n++] = TB_I("uptime_s", (tb_mono_us() - self->started_us) / 1000000);
    if (self->auth) {
        uint64_t admitted = 0, denied = 0;
        tb_auth_counts(self->auth, &admitted, &denied);
        fields[n++] = TB_I("auth.admitted", (int64_t)admitted);
        fields[n++] = TB_I("auth.denied", (int64_t)denied);
    }
    for (size_t i = 0; i < self->nconsumers && i < EXTRA; i++) {
        tb_feed_consumer_t *c = self->consumers[i];
        snprintf(keys[i], sizeof keys[i], "feed.%s.%s.lag", tb_feed_consumer_name(c),
                 tb_feed_consumer_stream(c));
        fields[n++] = TB_I(keys[i], s_lag(c));
    }
    fields[n] = TB_F_END_;
    tb_stats_log(self->stats, fields);
}

static long s_until_ms(int64_t due_us, int64_t now_us)
{
    if (due_us <= now_us)
        return 0;
    return (long)((due_us - now_us + 999) / 1000);
}

static long s_min_timeout(long a, long b)
{
    if (b < 0)
        return a;
    return b < a ? b : a;
}

typedef enum {
    S_PIPE,
    S_DB,
    S_ZAP,
    S_GUARD,
    S_API,
    S_WORKER,
    S_FEED,
    S_CONSUMER,
    S_SOCKET
} s_role_t;

typedef struct {
    s_role_t role;
    size_t index; /* in the pool, feeds, consumers or sockets */
} s_tag_t;

static void s_poll_add(zmq_pollitem_t *items, s_tag_t *tags, size_t *n, void *socket,
                       int fd, s_role_t role, size_t index)
{
    items[*n] = (zmq_pollitem_t){socket, fd, ZMQ_POLLIN, 0};
    tags[*n] = (s_tag_t){role, index};
    (*n)++;
}

static int s_migrate_only(tb_service_t *self)
{
    /* The database may be starting beside us (compose, CI): give it a moment. */
    int64_t deadline = tb_mono_us() + 10 * 1000000LL;
    while (tb_db_tick(self->db) != 0 && tb_mono_us() < deadline && !s_stop) {
        long ms = tb_db_next_attempt_ms(self->db);
        usleep((useconds_t)(ms > 0 ? ms : 10) * 1000);
    }
    if (!tb_db_ok(self->db)) {
        tb_error("migrate.failed", NULL, TB_S("error", tb_db_message(self->db)));
        return -1;
    }
    if (tb_migrate_apply(self->db) != 0 || tb_migrate_check(self->db) != 0)
        return -1;
    tb_info("migrate.ok", NULL, TB_S("service", self->name));
    return 0;
}

int tb_service_run(tb_service_t *self)
{
    if (!self->ctx) {
        tb_error("service.failed", NULL, TB_S("error", "the service has already run"));
        return -1;
    }
    int rc = 0;
    if (self->migrate_only) {
        rc = s_migrate_only(self);
        s_close_all(self);
        return rc;
    }
    if (self->fatal) {
        tb_error("service.refused", NULL,
                 TB_S("error", "refuses to start on a database schema it does not know"));
        s_close_all(self);
        return -1;
    }
    tb_info("service.start", NULL, TB_S("version", TB_VERSION),
            TB_S("endpoints", self->endpoints), TB_B("database_ok", tb_db_ok(self->db)),
            TB_I("max_frame", (int64_t)self->max_frame),
            TB_I("stats_interval_s", self->stats_interval_s));

    /* pipe, database, ZAP, guard, API; workers, feeds, consumers, sockets */
    size_t cap = 5 + TB_POOL_MAX + self->nfeeds + self->nconsumers + self->nsockets;
    zmq_pollitem_t *items = calloc(cap, sizeof *items);
    s_tag_t *tags = calloc(cap, sizeof *tags);
    bool *ready = calloc(cap, sizeof *ready); /* by tag: feeds, consumers, sockets */
    if (!items || !tags || !ready) {
        free(items);
        free(tags);
        free(ready);
        s_close_all(self);
        return -1;
    }
    bool *feed_ready = ready;
    bool *cons_ready = feed_ready + self->nfeeds;
    bool *sock_ready = cons_ready + self->nconsumers;
    int64_t now = tb_mono_us();
    int64_t next_wake = now + S_FEED_WAKE_MS * 1000LL;
    int64_t next_stats = now + self->stats_interval_s * 1000000LL;

    while (!s_stop) {
        if (s_db_maintain(self) != 0) {
            tb_error(
                "service.refused", NULL,
                TB_S("error", "refuses to start on a database schema it does not know"));
            rc = -1;
            break;
        }
        bool live = tb_db_ok(self->db) && self->schema_ready;

        /* The poll set holds only what is watched now: an item without events
           would still report POLLERR/POLLHUP of its fd. */
        size_t n = 0;
        s_poll_add(items, tags, &n, NULL, s_pipe[0], S_PIPE, 0);
        if (tb_db_socket(self->db) >= 0)
            s_poll_add(items, tags, &n, NULL, tb_db_socket(self->db), S_DB, 0);
        /* Handshakes wait for the ZAP handler, database or not. */
        if (self->auth)
            s_poll_add(items, tags, &n, tb_auth_zap_socket(self->auth), -1, S_ZAP, 0);
        if (self->guard)
            s_poll_add(items, tags, &n, tb_guard_socket(self->guard), -1, S_GUARD, 0);
        if (self->api && self->nqueue < S_QUEUE_MAX)
            s_poll_add(items, tags, &n, self->api, -1, S_API, 0);
        for (size_t w = 0; self->pool && w < tb_pool_size(self->pool); w++)
            if (tb_pool_busy(self->pool, w))
                s_poll_add(items, tags, &n, tb_pool_socket(self->pool, w), -1, S_WORKER,
                           w);
        for (size_t i = 0; live && i < self->nfeeds; i++)
            s_poll_add(items, tags, &n, self->feeds[i].router, -1, S_FEED, i);
        for (size_t i = 0; live && i < self->nconsumers; i++)
            s_poll_add(items, tags, &n, tb_feed_consumer_socket(self->consumers[i]), -1,
                       S_CONSUMER, i);
        for (size_t i = 0; i < self->nsockets; i++)
            if (self->sockets[i].fn)
                s_poll_add(items, tags, &n, self->sockets[i].socket, -1, S_SOCKET, i);

        /* The timeout: the nearest deadline, at most S_POLL_MAX_MS. */
        now = tb_mono_us();
        long timeout = S_POLL_MAX_MS;
        if (!tb_db_ok(self->db))
            timeout = s_min_timeout(timeout, tb_db_next_attempt_ms(self->db));
        if (self->stats_interval_s > 0)
            timeout = s_min_timeout(timeout, s_until_ms(next_stats, now));
        if (tb_guard_watching(self->guard))
            timeout = s_min_timeout(timeout, TB_GUARD_PERIOD_MS);
        if (live) {
            if (self->nfeeds > 0)
                timeout = s_min_timeout(
                    timeout, self->session_new ? 0 : s_until_ms(next_wake, now));
            for (size_t i = 0; i < self->nfeeds; i++)
                timeout = s_min_timeout(
                    timeout, tb_feed_server_next_timeout_ms(self->feeds[i].server));
            for (size_t i = 0; i < self->nconsumers; i++)
                timeout = s_min_timeout(
                    timeout, tb_feed_consumer_next_timeout_ms(self->consumers[i]));
            for (size_t i = 0; i < self->ntimers; i++)
                timeout = s_min_timeout(timeout, s_until_ms(self->timers[i].due_us, now));
        }

        if (zmq_poll(items, (int)n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            tb_error("service.failed", NULL, TB_S("step", "poll"),
                     TB_S("error", zmq_strerror(errno)));
            rc = -1;
            break;
        }
        bool api_ready = false;
        size_t answered = 0; /* calls of batches back from the workers */
        memset(ready, 0, cap * sizeof *ready);
        for (size_t i = 0; i < n; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            switch (tags[i].role) {
            case S_PIPE:
                s_pipe_drain();
                break;
            case S_DB:
            case S_GUARD:
                break; /* drained below, every turn */
            case S_ZAP:
                tb_auth_on_readable(self->auth);
                break;
            case S_API:
                api_ready = true;
                break;
            case S_WORKER:
                answered += s_collect(self, tags[i].index);
                break;
            case S_FEED:
                feed_ready[tags[i].index] = true;
                break;
            case S_CONSUMER:
                cons_ready[tags[i].index] = true;
                break;
            case S_SOCKET:
                sock_ready[tags[i].index] = true;
                break;
            }
        }
        if (s_stop)
            break;
        tb_guard_check(self->guard);
        if (s_reload && self->auth) {
            s_reload = 0;
            tb_auth_reload(self->auth);
        }

        /* NOTIFYs are read on every turn: libpq may have buffered them during
           another call, when the socket no longer shows readable. */
        bool wake = tb_db_drain_notifies(self->db) > 0 || self->session_new;
        self->session_new = false;
        if (api_ready)
            wake = s_api_readable(self) > 0 || wake;
        if (answered > 0) {
            s_dispatch(self); /* workers came free */
            wake = true;
        }

        live = tb_db_ok(self->db) && self->schema_ready;
        if (live && !s_stop) {
            for (size_t i = 0; i < self->nfeeds; i++)
                if (feed_ready[i])
                    tb_feed_server_on_readable(self->feeds[i].server);
            now = tb_mono_us();
            if (self->nfeeds > 0 && (wake || now >= next_wake)) {
                for (size_t i = 0; i < self->nfeeds; i++)
                    tb_feed_server_wake(self->feeds[i].server);
                next_wake = now + S_FEED_WAKE_MS * 1000LL;
            }
            for (size_t i = 0; i < self->nconsumers && !s_stop; i++) {
                if (cons_ready[i])
                    tb_feed_consumer_on_readable(self->consumers[i]);
                tb_feed_consumer_tick(self->consumers[i]);
            }
            now = tb_mono_us();
            for (size_t i = 0; i < self->ntimers && !s_stop && tb_db_ok(self->db); i++) {
                if (now < self->timers[i].due_us)
                    continue;
                self->timers[i].fn(self, self->timers[i].arg);
                now = tb_mono_us();
                self->timers[i].due_us =
                    now + (int64_t)self->timers[i].interval_ms * 1000;
            }
            /* A consumer's or a timer's transaction may have appended events: the
               NOTIFY of our own session came back with its COMMIT and sits in
               libpq's buffer, so the socket will not show readable for it and the
               next poll could sleep until the slow timer. Wake the feeds now. */
            if (self->nfeeds > 0 && tb_db_ok(self->db) &&
                tb_db_drain_notifies(self->db) > 0) {
                for (size_t i = 0; i < self->nfeeds; i++)
                    tb_feed_server_wake(self->feeds[i].server);
                next_wake = tb_mono_us() + S_FEED_WAKE_MS * 1000LL;
            }
        }
        for (size_t i = 0; i < self->nsockets && !s_stop; i++)
            if (sock_ready[i])
                self->sockets[i].fn(self, self->sockets[i].socket, self->sockets[i].arg);

        now = tb_mono_us();
        if (self->stats_interval_s > 0 && now >= next_stats) {
            s_stats_line(self);
            next_stats = now + self->stats_interval_s * 1000000LL;
        }
    }
    free(tags);
    free(ready);
    free(items);
    s_pool_drain(self);
    if (rc == 0)
        tb_info("service.stop", NULL, TB_S("reason", "signal"),
                TB_I("uptime_s", (tb_mono_us() - self->started_us) / 1000000));
    s_close_all(self);
    return rc;
}
