/*  tb-enterprise-client: how an enterprise's system (an ERP) integrates with
    techbridge over the public API.

    1. Submits its need from a JSON file, idempotently: the same external_ref on
       every run returns the stored request instead of making a second one.
    2. Follows its organisation's notifications without losing or repeating any:
       subscribes to its topic on the XPUB first (so nothing published during the
       catch-up is missed), catches up through ListNotifications after the last
       sequence number it processed, then handles live ones. A live notification
       at or below that number is a duplicate and is dropped; one past the next
       number shows a gap (PUB may drop) and triggers a catch-up. After each
       processed notification the sequence number is written atomically to a
       state file and acknowledged, so a restart resumes exactly where it was. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "tb_auth.h"
#include "tb_config.h"
#include "tb_json.h"
#include "tb_log.h"
#include "tb_wire.h"

#define S_CALL_MS   10000
#define S_IDLE_MS   5000 /* catch up when idle: covers a slow join, lost frames */
#define S_PAGE      500
#define S_MAX_REPLY (4u * 1024 * 1024)
#define S_MAX_NOTE  (1024u * 1024)
#define S_ARENA_CAP (16u * 1024 * 1024)

static const tb_option_t s_options[] = {
    {"org", "TB_ACTOR", NULL, "our organisation id (the identity we act as in open mode)",
     false},
    {"need", NULL, NULL, "JSON file of the need to submit (skipped when unset)", false},
    {"state", NULL, "enterprise-client.state", "file keeping the last processed sequence",
     false},
    {"intake", "TB_INTAKE_CONNECT", "tcp://127.0.0.1:7101", "tb-intake API", false},
    {"notification", "TB_NOTIFICATION_CONNECT", "tcp://127.0.0.1:7105",
     "tb-notification API", false},
    {"notification-pub", "TB_NOTIFICATION_PUB_CONNECT", "tcp://127.0.0.1:7106",
     "tb-notification live push (XPUB)", false},
    {"key-file", "TB_KEY_FILE", NULL,
     "our CURVE key pair file (tbctl keygen), when the services run with keys", false},
    {"server-key", "TB_SERVER_KEY", NULL,
     "the services' public key: 40 Z85 characters, or a file with its public line",
     false},
    {"once", NULL, NULL, "catch up, then exit instead of following live", true},
    TB_OPTION_END};

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

typedef struct {
    void *ctx;
    const char *org;
    const char *state_path;
    const char *intake;
    const char *notification;
    const char *key_file; /* NULL: the services run open */
    char server_key[41];
    int64_t last; /* the last sequence number processed */
} s_client_t;

/*  With keys: makes `sock` a CURVE client (our key pair, the services' public
    key), before it connects. Returns 0 or -1. */
static int s_secure(const s_client_t *c, void *sock)
{
    if (!c->key_file)
        return 0;
    return tb_auth_client_setup(sock, c->key_file, c->server_key);
}

/*  Reads --key-file / --server-key (both or neither). Returns 0 or -1. */
static int s_security_init(s_client_t *c, const tb_config_t *config)
{
    const char *key_file = tb_config_get(config, "key-file");
    const char *server = tb_config_get(config, "server-key");
    if (key_file && !*key_file)
        key_file = NULL;
    if (server && !*server)
        server = NULL;
    if (!key_file && !server)
        return 0;
    if (!key_file || !server) {
        fprintf(stderr, "enterprise-client: --key-file and --server-key go together\n");
        return -1;
    }
    if (tb_auth_z85_valid(server))
        snprintf(c->server_key, sizeof c->server_key, "%s", server);
    else if (tb_auth_public_load(server, c->server_key) != 0) {
        fprintf(stderr,
                "enterprise-client: --server-key %s is neither a Z85 key nor a "
                "public key file\n",
                server);
        return -1;
    }
    c->key_file = key_file;
    return 0;
}

/* ---- state file ---- */

static int64_t s_state_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int64_t seq = 0;
    if (fscanf(f, "last_seq=%" SCNd64, &seq) != 1 || seq < 0)
        seq = 0;
    fclose(f);
    return seq;
}

/*  Writes the state atomically: a temporary file, fsync, rename over the old. */
static int s_state_save(const char *path, int64_t seq)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    char line[64];
    int len = snprintf(line, sizeof line, "last_seq=%" PRId64 "\n", seq);
    if (write(fd, line, (size_t)len) != len || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    return rename(tmp, path);
}

/* ---- API ---- */

/*  One call on a fresh REQ socket. The reply (in the arena) or NULL. */
static Techbridge__ApiReply *s_call(s_client_t *c, const char *endpoint,
                                    tb_arena_t *arena, Techbridge__ApiRequest *req)
{
    req->actor = (char *)c->org;
    void *sock = zmq_socket(c->ctx, ZMQ_REQ);
    if (!sock)
        return NULL;
    Techbridge__ApiReply *reply = NULL;
    if (s_secure(c, sock) == 0 && tb_wire_socket_setup(sock, S_MAX_REPLY / 4) == 0 &&
        zmq_connect(sock, endpoint) == 0 && tb_wire_send(sock, &req->base, false) == 0)
        reply = (Techbridge__ApiReply *)tb_wire_recv(sock, arena,
                                                     &techbridge__api_reply__descriptor,
                                                     S_MAX_REPLY, false, S_CALL_MS);
    zmq_close(sock);
    if (!reply)
        fprintf(stderr, "enterprise-client: no reply from %s\n", endpoint);
    else if (reply->error)
        fprintf(stderr, "enterprise-client: %s: %s\n",
                tb_json_enum_name(&techbridge__code__descriptor, reply->error->code),
                reply->error->message);
    return reply;
}

static int s_submit(s_client_t *c, const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "enterprise-client: %s:%d: %s\n", path, jerr.line, jerr.text);
        return -1;
    }
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    tb_violations_t violations;
    memset(&violations, 0, sizeof violations);
    Techbridge__Request *r = tb_json_to_request(arena, doc, &violations, NULL, NULL);
    json_decref(doc);
    int rc = -1;
    if (!r || violations.count > 0) {
        for (size_t i = 0; i < violations.count; i++)
            fprintf(stderr, "enterprise-client: %s: %s\n", violations.items[i].field,
                    violations.items[i].reason);
        goto done;
    }
    if (!r->org || strcmp(r->org->id, c->org) != 0) {
        fprintf(stderr, "enterprise-client: the need's org.id must be %s\n", c->org);
        goto done;
    }
    Techbridge__SubmitRequest sr = TECHBRIDGE__SUBMIT_REQUEST__INIT;
    sr.request = r;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_SUBMIT;
    req.submit = &sr;
    Techbridge__ApiReply *reply = s_call(c, c->intake, arena, &req);
    if (!reply || reply->error ||
        reply->result_case != TECHBRIDGE__API_REPLY__RESULT_REQUEST)
        goto done;
    const Techbridge__Request *got = reply->request->request;
    printf("need %s (%s): %s, status %s, version %" PRId64 "\n", got->external_ref,
           got->id,
           reply->request->created ? "submitted" : "already submitted, unchanged",
           tb_json_enum_name(&techbridge__status__descriptor, got->status), got->version);
    if (reply->request->possible_duplicate_of && *reply->request->possible_duplicate_of)
        printf("  note: possibly a duplicate of %s\n",
               reply->request->possible_duplicate_of);
    fflush(stdout);
    rc = 0;
done:
    tb_arena_destroy(&arena);
    return rc;
}

/* ---- notifications ---- */

static void s_ack(s_client_t *c)
{
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    Techbridge__AckNotifications ack = TECHBRIDGE__ACK_NOTIFICATIONS__INIT;
    ack.recipient = (char *)c->org;
    ack.upto = c->last;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_ACK_NOTIFICATIONS;
    req.ack_notifications = &ack;
    s_call(c, c->notification, arena, &req); /* a lost ack is repeated by the next one */
    tb_arena_destroy(&arena);
}

/*  Processes the next notification: prints it, then records it (state file)
    before acknowledging it. Returns 0, or -1 when the state cannot be saved. */
static int s_process(s_client_t *c, const Techbridge__Notification *n, bool live)
{
    if (n->seq != c->last + 1)
        return 0; /* the caller keeps the order; never skip or repeat */
    printf("#%" PRId64 " %s %s%s\n  %s\n", n->seq,
           tb_json_enum_name(&techbridge__notification_kind__descriptor, n->kind),
           n->subject_id, live ? " (live)" : "", n->text);
    fflush(stdout);
    if (s_state_save(c->state_path, n->seq) != 0) {
        fprintf(stderr, "enterprise-client: cannot save %s: %s\n", c->state_path,
                strerror(errno));
        return -1;
    }
    c->last = n->seq;
    return 0;
}

/*  Fetches and processes everything stored after c->last. Returns 0 or -1. */
static int s_catch_up(s_client_t *c)
{
    int64_t before = c->last;
    for (;;) {
        tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
        Techbridge__ListNotifications ln = TECHBRIDGE__LIST_NOTIFICATIONS__INIT;
        ln.recipient = (char *)c->org;
        ln.after = c->last;
        ln.limit = S_PAGE;
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
        req.list_notifications = &ln;
        Techbridge__ApiReply *reply = s_call(c, c->notification, arena, &req);
        if (!reply || reply->error ||
            reply->result_case != TECHBRIDGE__API_REPLY__RESULT_NOTIFICATIONS) {
            tb_arena_destroy(&arena);
            return -1;
        }
        const Techbridge__NotificationPage *page = reply->notifications;
        for (size_t i = 0; i < page->n_notifications; i++)
            if (s_process(c, page->notifications[i], false) != 0) {
                tb_arena_destroy(&arena);
                return -1;
            }
        bool done = page->n_notifications == 0 || c->last >= page->last_seq;
        tb_arena_destroy(&arena);
        if (done || s_stop)
            break;
    }
    if (c->last > before)
        s_ack(c);
    return 0;
}

/*  One live message [topic][Notification]. */
static void s_on_live(s_client_t *c, void *sub)
{
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) < 0)
        goto done;
    if (!zmq_msg_more(&topic) || zmq_msg_recv(&body, sub, ZMQ_DONTWAIT) < 0)
        goto done;
    while (zmq_msg_more(&body)) { /* not ours: drain the rest */
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, sub, ZMQ_DONTWAIT) < 0)
            goto done;
    }
    /* Our topic is "<org>/" (tb_wire_topic); check it all the same. */
    char own[128];
    int len = tb_wire_topic(own, sizeof own, c->org);
    if (len < 0 || zmq_msg_size(&topic) != (size_t)len ||
        memcmp(zmq_msg_data(&topic), own, (size_t)len) != 0)
        goto done;
    tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
    const Techbridge__Notification *n = (const Techbridge__Notification *)tb_wire_unpack(
        arena, &techbridge__notification__descriptor, zmq_msg_data(&body),
        zmq_msg_size(&body), S_MAX_NOTE);
    if (n && n->seq == c->last + 1) {
        if (s_process(c, n, true) == 0)
            s_ack(c);
    } else if (n && n->seq > c->last + 1) {
        s_catch_up(c); /* a gap: the stored notifications are the truth */
    }                  /* else: already processed (catch-up gave it) */
    tb_arena_destroy(&arena);
done:
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
}

int main(int argc, char **argv)
{
    int exit_code = 0;
    tb_config_t *config =
        tb_config_new("tb-enterprise-client",
                      "an enterprise integration: submit a need, follow notifications",
                      s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;
    s_client_t c = {0};
    c.org = tb_config_get(config, "org");
    c.state_path = tb_config_get(config, "state");
    c.intake = tb_config_get(config, "intake");
    c.notification = tb_config_get(config, "notification");
    const char *pub = tb_config_get(config, "notification-pub");
    if (!c.org || !*c.org) {
        fprintf(stderr, "enterprise-client: --org (or TB_ACTOR) is required\n");
        tb_config_destroy(&config);
        return 2;
    }
    tb_log_setup("enterprise-client", "warn", "text");
    if (s_security_init(&c, config) != 0) {
        tb_config_destroy(&config);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    c.ctx = zmq_ctx_new();
    c.last = s_state_load(c.state_path);
    int rc = 1;
    void *sub = NULL;
    const char *need = tb_config_get(config, "need");
    if (need && s_submit(&c, need) != 0)
        goto done;
    printf("following notifications of %s after #%" PRId64 "\n", c.org, c.last);
    fflush(stdout);
    /* Subscribe before catching up, so that nothing falls between the two. */
    char topic[128];
    if (tb_wire_topic(topic, sizeof topic, c.org) < 0) {
        fprintf(stderr, "enterprise-client: org id too long\n");
        goto done;
    }
    sub = zmq_socket(c.ctx, ZMQ_SUB);
    if (!sub || s_secure(&c, sub) != 0 || tb_wire_socket_setup(sub, S_MAX_NOTE) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic)) != 0 ||
        zmq_connect(sub, pub) != 0) {
        fprintf(stderr, "enterprise-client: cannot subscribe at %s\n", pub);
        goto done;
    }
    if (s_catch_up(&c) != 0)
        goto done;
    if (tb_config_switch(config, "once")) {
        rc = 0;
        goto done;
    }
    while (!s_stop) {
        zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
        int n = zmq_poll(&item, 1, S_IDLE_MS);
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        if (n < 0)
            break;
        if (n == 0)
            s_catch_up(&c); /* idle: make sure nothing was dropped */
        else
            s_on_live(&c, sub);
    }
    rc = 0;
done:
    if (sub)
        zmq_close(sub);
    zmq_ctx_term(c.ctx);
    tb_config_destroy(&config);
    return rc;
}
