/*  tbctl_watch: follows a recipient's notifications live without gaps or
    duplicates. Subscribes first, then catches up from the stored notifications
    (the truth), then prints live ones, dropping what was already printed and
    catching up again through the API whenever a gap shows (PUB may drop). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "tb_json.h"
#include "tb_wire.h"
#include "tbctl.h"

#define S_ARENA_CAP  (64u * 1024 * 1024)
#define S_PAGE       1000
#define S_IDLE_MS    3000 /* catch up when idle: covers the subscription's slow join */
#define S_MAX_NOTIFY (1024u * 1024)

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

typedef struct {
    tbctl_t *t;
    const char *recipient;
    char topic[128]; /* tb_wire_topic of the recipient */
    int64_t last;    /* the highest seq printed */
} s_watch_t;

static void s_emit(s_watch_t *w, const Techbridge__Notification *n)
{
    if (n->seq <= w->last)
        return;
    if (w->t->json) {
        json_t *doc = tb_json_from_notification(n);
        if (doc) {
            json_dumpf(doc, stdout, JSON_COMPACT | JSON_SORT_KEYS);
            fputc('\n', stdout);
            json_decref(doc);
        }
    } else {
        tbctl_print_notification(n);
    }
    fflush(stdout);
    w->last = n->seq;
}

/*  Fetches and prints everything stored after w->last. Returns an exit status. */
static int s_catch_up(s_watch_t *w, bool quiet)
{
    for (;;) {
        tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
        Techbridge__ListNotifications ln = TECHBRIDGE__LIST_NOTIFICATIONS__INIT;
        ln.recipient = (char *)w->recipient;
        ln.after = w->last;
        ln.limit = S_PAGE;
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_LIST_NOTIFICATIONS;
        req.list_notifications = &ln;
        Techbridge__ApiReply *reply = NULL;
        int rc = tbctl_call(w->t, TBCTL_NOTIFICATION, &req, arena, &reply, quiet);
        size_t n = 0;
        if (rc == TBCTL_EXIT_OK &&
            reply->result_case == TECHBRIDGE__API_REPLY__RESULT_NOTIFICATIONS) {
            n = reply->notifications->n_notifications;
            for (size_t i = 0; i < n; i++)
                s_emit(w, reply->notifications->notifications[i]);
        }
        tb_arena_destroy(&arena);
        if (rc != TBCTL_EXIT_OK || n < S_PAGE || s_stop)
            return rc;
    }
}

/*  Handles one live message [topic][Notification]. */
static void s_on_live(s_watch_t *w, void *sub)
{
    zmq_msg_t parts[2];
    zmq_msg_init(&parts[0]);
    zmq_msg_init(&parts[1]);
    int nparts = 0;
    int more = 1;
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        zmq_msg_t *m = nparts < 2 ? &parts[nparts] : &extra;
        int rc = zmq_msg_recv(m, sub, ZMQ_DONTWAIT);
        more = rc >= 0 && zmq_msg_more(m);
        zmq_msg_close(&extra);
        if (rc < 0)
            break;
        nparts++;
    }
    bool ok = nparts == 2 && zmq_msg_size(&parts[0]) == strlen(w->topic) &&
              memcmp(zmq_msg_data(&parts[0]), w->topic, strlen(w->topic)) == 0;
    if (ok) {
        tb_arena_t *arena = tb_arena_new(S_ARENA_CAP);
        const Techbridge__Notification *n =
            (const Techbridge__Notification *)tb_wire_unpack(
                arena, &techbridge__notification__descriptor, zmq_msg_data(&parts[1]),
                zmq_msg_size(&parts[1]), S_MAX_NOTIFY);
        if (n && n->seq == w->last + 1)
            s_emit(w, n);
        else if (n && n->seq > w->last + 1)
            s_catch_up(w, false); /* a gap: the stored notifications fill it */
        tb_arena_destroy(&arena);
    }
    zmq_msg_close(&parts[0]);
    zmq_msg_close(&parts[1]);
}

static void *s_subscribe(s_watch_t *w)
{
    void *sub = zmq_socket(w->t->zmq_ctx, ZMQ_SUB);
    if (!sub)
        return NULL;
    if (tbctl_socket_secure(w->t, sub) != 0) {
        zmq_close(sub);
        return NULL;
    }
    if (tb_wire_socket_setup(sub, S_MAX_NOTIFY) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, w->topic, strlen(w->topic)) != 0 ||
        zmq_connect(sub, w->t->pub_endpoint) != 0) {
        fprintf(stderr, "tbctl: UNAVAILABLE: cannot subscribe at %s: %s\n",
                w->t->pub_endpoint, zmq_strerror(errno));
        zmq_close(sub);
        return NULL;
    }
    return sub;
}

static void s_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: zmq_poll must return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int s_loop(s_watch_t *w, void *sub)
{
    while (!s_stop) {
        zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, S_IDLE_MS);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            fprintf(stderr, "tbctl: INTERNAL: zmq_poll: %s\n", zmq_strerror(errno));
            return TBCTL_EXIT_API;
        }
        if (rc == 0)
            s_catch_up(w, true);
        else
            s_on_live(w, sub);
    }
    return TBCTL_EXIT_OK;
}

int tbctl_cmd_watch(tbctl_t *t)
{
    if (t->npos != 1)
        return tbctl_usage_error("watch RECIPIENT [--after SEQ]", "missing argument");
    for (int i = 0; i < t->nopt; i++)
        if (strcmp(t->opt_name[i], "after") != 0)
            return tbctl_usage_error("option not valid for watch", t->opt_name[i]);
    s_watch_t w = {.t = t, .recipient = t->pos[0], .last = 0};
    if (tbctl_opt_int(t, "after", 0, INT64_MAX, &w.last) != 0)
        return TBCTL_EXIT_USAGE;
    if (tb_wire_topic(w.topic, sizeof w.topic, w.recipient) < 0)
        return tbctl_usage_error("recipient too long", w.recipient);
    s_install_signals();
    void *sub = s_subscribe(&w);
    if (!sub)
        return TBCTL_EXIT_UNAVAILABLE;
    int rc = s_catch_up(&w, false);
    if (rc == TBCTL_EXIT_OK)
        rc = s_loop(&w, sub);
    zmq_close(sub);
    return rc;
}
