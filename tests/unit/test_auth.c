/*  tb_auth: keys and key pair files, and the ZAP handler with real ZeroMQ over
    tcp://127.0.0.1 (CURVE clients with listed, unlisted and no keys). The
    handler is polled in the test thread, as a service's loop would. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "tb_auth.h"
#include "tb_util.h"

#define ORG "acme-ltd"

/* ---- files ---- */

static char s_dir[64];

static void s_mkdir(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/tb_auth_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
}

static void s_rmdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", s_dir);
}

static const char *s_path(const char *name)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 128, "%s/%s", s_dir, name);
    return p;
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "open %s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void s_append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f, "open %s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/*  Makes a key pair file `name` and returns its public key. */
static void s_keygen(const char *name, char pub[41])
{
    char sec[41];
    cr_assert_eq(tb_auth_keypair_write(s_path(name)), 0);
    cr_assert_eq(tb_auth_keypair_load(s_path(name), pub, sec), 0);
}

/* ---- keys file parsing ---- */

Test(auth, keys_file_good, .init = s_mkdir, .fini = s_rmdir)
{
    char a[41], b[41], c[41], sec[41];
    cr_assert_eq(zmq_curve_keypair(a, sec), 0);
    cr_assert_eq(zmq_curve_keypair(b, sec), 0);
    cr_assert_eq(zmq_curve_keypair(c, sec), 0);
    char text[1024];
    snprintf(text, sizeof text,
             "# techbridge keys\n"
             "\n"
             "   # indented comment\n"
             "%s operator\n"
             "%s\t" ORG "   # trailing comment\r\n"
             "  %s org.2_x-y  \n"
             "#%s operator  (a commented-out key)\n"
             "# ---------------------------------------\n",
             a, b, c, a);
    s_write(s_path("keys"), text);
    size_t count = 99;
    int line = -1;
    cr_assert_eq(tb_auth_keys_check(s_path("keys"), &count, &line), 0);
    cr_assert_eq(count, 3);
    cr_assert_eq(line, 0);

    s_write(s_path("empty"), "# nobody yet\n");
    cr_assert_eq(tb_auth_keys_check(s_path("empty"), &count, &line), 0);
    cr_assert_eq(count, 0);
}

/*  The line that makes `text` (after one good line) bad is reported. */
static void s_expect_bad(const char *bad, int want_line)
{
    char a[41], sec[41];
    cr_assert_eq(zmq_curve_keypair(a, sec), 0);
    char text[1024];
    snprintf(text, sizeof text, "# header\n%s operator\n\n%s\n", a, bad);
    s_write(s_path("keys"), text);
    size_t count = 99;
    int line = -1;
    cr_assert_eq(tb_auth_keys_check(s_path("keys"), &count, &line), -1, "accepted: %s",
                 bad);
    cr_assert_eq(line, want_line, "line %d for: %s", line, bad);
    cr_assert_eq(count, 0);
}

Test(auth, keys_file_bad_lines, .init = s_mkdir, .fini = s_rmdir)
{
    char k[41], sec[41], line[256];
    cr_assert_eq(zmq_curve_keypair(k, sec), 0);
    /* bad key length */
    snprintf(line, sizeof line, "%.39s operator", k);
    s_expect_bad(line, 4);
    snprintf(line, sizeof line, "%sx operator", k);
    s_expect_bad(line, 4);
    /* a character outside Z85 */
    snprintf(line, sizeof line, "%.39s~ operator", k);
    s_expect_bad(line, 4);
    /* Z85 characters whose value overflows 32 bits */
    memset(line, '%', 40);
    snprintf(line + 40, sizeof line - 40, " operator");
    s_expect_bad(line, 4);
    /* bad roles */
    snprintf(line, sizeof line, "%s Operator", k);
    s_expect_bad(line, 4);
    snprintf(line, sizeof line, "%s ACME", k);
    s_expect_bad(line, 4);
    snprintf(line, sizeof line, "%s acme/ltd", k);
    s_expect_bad(line, 4);
    snprintf(line, sizeof line, "%s operators", k); /* the operators' topic */
    s_expect_bad(line, 4);
    snprintf(line, sizeof line,
             "%s aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", k);
    s_expect_bad(line, 4); /* 65 characters */
    /* missing role, extra field */
    s_expect_bad(k, 4);
    snprintf(line, sizeof line, "%s operator extra", k);
    s_expect_bad(line, 4);
    /* a line that is not a key at all */
    s_expect_bad("operator", 4);
}

Test(auth, keys_file_duplicate_and_missing, .init = s_mkdir, .fini = s_rmdir)
{
    char k[41], sec[41], text[256];
    cr_assert_eq(zmq_curve_keypair(k, sec), 0);
    snprintf(text, sizeof text, "%s operator\n# x\n%s " ORG "\n", k, k);
    s_write(s_path("keys"), text);
    int line = -1;
    cr_assert_eq(tb_auth_keys_check(s_path("keys"), NULL, &line), -1);
    cr_assert_eq(line, 3);

    cr_assert_eq(tb_auth_keys_check(s_path("nonexistent"), NULL, &line), -1);
    cr_assert_eq(line, 0);
    cr_assert_eq(tb_auth_keys_check(NULL, NULL, NULL), -1);
}

/* ---- key pair files ---- */

Test(auth, keypair_round_trip, .init = s_mkdir, .fini = s_rmdir)
{
    const char *path = s_path("svc.key");
    cr_assert_eq(tb_auth_keypair_write(path), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);

    char pub[41], sec[41], derived[41];
    cr_assert_eq(tb_auth_keypair_load(path, pub, sec), 0);
    cr_assert(tb_auth_z85_valid(pub));
    cr_assert(tb_auth_z85_valid(sec));
    cr_assert_eq(zmq_curve_public(derived, sec), 0);
    cr_assert_str_eq(derived, pub);

    char pub2[41];
    cr_assert_eq(tb_auth_public_load(path, pub2), 0);
    cr_assert_str_eq(pub2, pub);

    /* A public key file is a copy of the public line. */
    char text[128];
    snprintf(text, sizeof text, "# the service key\npublic %s\n", pub);
    s_write(s_path("svc.pub"), text);
    cr_assert_eq(tb_auth_public_load(s_path("svc.pub"), pub2), 0);
    cr_assert_str_eq(pub2, pub);
    /* ... which is not a key pair. */
    cr_assert_eq(tb_auth_keypair_load(s_path("svc.pub"), pub2, sec), -1);

    /* Never overwritten. */
    cr_assert_eq(tb_auth_keypair_write(path), -1);
    char pub3[41];
    cr_assert_eq(tb_auth_keypair_load(path, pub3, sec), 0);
    cr_assert_str_eq(pub3, pub);

    /* Readable by others: loaded, with a warning. */
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(tb_auth_keypair_load(path, pub3, sec), 0);

    cr_assert_eq(tb_auth_keypair_write(s_path("missing-dir/x.key")), -1);
}

Test(auth, keypair_bad_files, .init = s_mkdir, .fini = s_rmdir)
{
    char pub[41], sec[41], other_pub[41], other_sec[41], out_pub[41], out_sec[41];
    cr_assert_eq(zmq_curve_keypair(pub, sec), 0);
    cr_assert_eq(zmq_curve_keypair(other_pub, other_sec), 0);
    char text[256];
    const char *path = s_path("k");

    /* public key of another pair */
    snprintf(text, sizeof text, "public %s\nsecret %s\n", other_pub, sec);
    s_write(path, text);
    cr_assert_eq(tb_auth_keypair_load(path, out_pub, out_sec), -1);
    /* missing secret, missing public */
    snprintf(text, sizeof text, "public %s\n", pub);
    s_write(path, text);
    cr_assert_eq(tb_auth_keypair_load(path, out_pub, out_sec), -1);
    snprintf(text, sizeof text, "secret %s\n", sec);
    s_write(path, text);
    cr_assert_eq(tb_auth_keypair_load(path, out_pub, out_sec), -1);
    cr_assert_eq(tb_auth_public_load(path, out_pub), -1);
    /* unknown keyword, short key, key given twice */
    snprintf(text, sizeof text, "public %s\nsecret %s\nprivate %s\n", pub, sec, sec);
    s_write(path, text);
    cr_assert_eq(tb_auth_keypair_load(path, out_pub, out_sec), -1);
    snprintf(text, sizeof text, "public %.39s\nsecret %s\n", pub, sec);
    s_write(path, text);
    cr_assert_eq(tb_auth_keypair_load(path, out_pub, out_sec), -1);
    snprintf(text, sizeof text, "public %s\npublic %s\nsecret %s\n", pub, pub, sec);
    s_write(path, text);
    cr_assert_eq(tb_auth_keypair_load(path, out_pub, out_sec), -1);
    /* the same, well formed, with comments and blank lines */
    snprintf(text, sizeof text, "# pair\n\npublic %s\r\n  # c\nsecret %s\n\n", pub, sec);
    s_write(path, text);
    cr_assert_eq(tb_auth_keypair_load(path, out_pub, out_sec), 0);
    cr_assert_str_eq(out_pub, pub);
    cr_assert_str_eq(out_sec, sec);

    cr_assert_eq(tb_auth_keypair_load(s_path("none"), out_pub, out_sec), -1);
    cr_assert_eq(tb_auth_keypair_load(s_dir, out_pub, out_sec), -1);
}

Test(auth, z85_and_roles)
{
    cr_assert(tb_auth_z85_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
    cr_assert_not(tb_auth_z85_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"));
    cr_assert_not(tb_auth_z85_valid("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7 "));
    cr_assert_not(tb_auth_z85_valid(""));
    cr_assert_not(tb_auth_z85_valid(NULL));
    cr_assert(tb_auth_is_operator("operator"));
    cr_assert_not(tb_auth_is_operator(ORG));
    cr_assert_not(tb_auth_is_operator(""));
    cr_assert_not(tb_auth_is_operator(NULL));
}

/* ---- the handler over real sockets ---- */

typedef struct {
    void *ctx;
    tb_auth_t *auth;
    void *server;  /* ROUTER, CURVE server */
    void *monitor; /* PAIR reading the server's handshake events */
    char endpoint[128];
    char service_pub[41];
    char tbctl_pub[41];
    char org_pub[41];
    char stranger_pub[41];
    /* what the pump saw */
    int messages;
    char user_id[80];
    char payload[80];
    int events; /* ZMQ_EVENT_* bits seen on the server */
    uint32_t last_protocol_error;
    /* closed by the teardown even when an assertion ends a test early, or
       zmq_ctx_term would wait for them forever */
    void *clients[4];
    int nclients;
    void *ctx2;
    tb_auth_t *auth2;
} fx_t;

static fx_t fx;

static void *s_client_in(void *ctx)
{
    cr_assert_lt(fx.nclients, 4);
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    cr_assert_not_null(s);
    fx.clients[fx.nclients++] = s;
    int zero = 0;
    cr_assert_eq(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    return s;
}

static void *s_client(void)
{
    return s_client_in(fx.ctx);
}

static void s_send(void *client, const char *text)
{
    cr_assert_eq(zmq_connect(client, fx.endpoint), 0);
    cr_assert_eq(zmq_send(client, text, strlen(text), ZMQ_DONTWAIT), (int)strlen(text));
}

static void s_setup_with(bool feed)
{
    s_mkdir();
    memset(&fx, 0, sizeof fx);
    s_keygen("service.key", fx.service_pub);
    s_keygen("tbctl.key", fx.tbctl_pub);
    s_keygen("org.key", fx.org_pub);
    s_keygen("stranger.key", fx.stranger_pub);
    char text[512];
    snprintf(text, sizeof text,
             "# the service key: feed consumers\n%s operator\n"
             "# tbctl\n%s operator\n"
             "%s " ORG "\n",
             fx.service_pub, fx.tbctl_pub, fx.org_pub);
    s_write(s_path("keys"), text);

    fx.ctx = zmq_ctx_new();
    cr_assert_not_null(fx.ctx);
    fx.auth = tb_auth_new(fx.ctx, s_path("keys"), s_path("service.key"));
    cr_assert_not_null(fx.auth);
    cr_assert_eq(tb_auth_key_count(fx.auth), 3);
    cr_assert_str_eq(tb_auth_public_key(fx.auth), fx.service_pub);

    fx.server = zmq_socket(fx.ctx, ZMQ_ROUTER);
    int zero = 0;
    cr_assert_eq(zmq_setsockopt(fx.server, ZMQ_LINGER, &zero, sizeof zero), 0);
    if (feed)
        cr_assert_eq(tb_auth_feed_socket(fx.auth, fx.server), 0);
    else
        cr_assert_eq(tb_auth_server_socket(fx.auth, fx.server), 0);
    cr_assert_eq(zmq_bind(fx.server, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof fx.endpoint;
    cr_assert_eq(zmq_getsockopt(fx.server, ZMQ_LAST_ENDPOINT, fx.endpoint, &len), 0);

    cr_assert_eq(zmq_socket_monitor(fx.server, "inproc://test-monitor",
                                    ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                        ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                        ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
                 0);
    fx.monitor = zmq_socket(fx.ctx, ZMQ_PAIR);
    cr_assert_eq(zmq_setsockopt(fx.monitor, ZMQ_LINGER, &zero, sizeof zero), 0);
    cr_assert_eq(zmq_connect(fx.monitor, "inproc://test-monitor"), 0);
}

static void s_setup(void)
{
    s_setup_with(false);
}

/*  The server socket is an event feed. */
static void s_setup_feed(void)
{
    s_setup_with(true);
}

static void s_teardown(void)
{
    for (int i = 0; i < fx.nclients; i++)
        zmq_close(fx.clients[i]);
    tb_auth_destroy(&fx.auth2);
    if (fx.ctx2)
        zmq_ctx_term(fx.ctx2);
    if (fx.monitor)
        zmq_close(fx.monitor);
    if (fx.server) {
        zmq_socket_monitor(fx.server, NULL, 0);
        zmq_close(fx.server);
    }
    tb_auth_destroy(&fx.auth);
    cr_assert_null(fx.auth);
    if (fx.ctx)
        zmq_ctx_term(fx.ctx);
    s_rmdir();
}

static void s_read_server(void)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    /* [routing id][payload] */
    int part = 0;
    while (zmq_msg_recv(&msg, fx.server, ZMQ_DONTWAIT) >= 0) {
        if (part == 1) {
            const char *uid = zmq_msg_gets(&msg, "User-Id");
            snprintf(fx.user_id, sizeof fx.user_id, "%s", uid ? uid : "(none)");
            snprintf(fx.payload, sizeof fx.payload, "%.*s", (int)zmq_msg_size(&msg),
                     (const char *)zmq_msg_data(&msg));
            fx.messages++;
        }
        part = zmq_msg_more(&msg) ? part + 1 : 0;
        if (part == 0)
            break;
    }
    zmq_msg_close(&msg);
}

static void s_read_monitor(void)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, fx.monitor, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&msg) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy(&event, zmq_msg_data(&msg), 2);
        memcpy(&value, (const char *)zmq_msg_data(&msg) + 2, 4);
        fx.events |= event;
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            fx.last_protocol_error = value;
    }
    while (zmq_msg_more(&msg) && zmq_msg_recv(&msg, fx.monitor, ZMQ_DONTWAIT) >= 0)
        ;
    zmq_msg_close(&msg);
}

/*  Polls the ZAP handler, the server and the monitor, as a service loop does,
    until `done` holds or `timeout_ms` passes. Returns done's last verdict. */
static bool s_pump(int timeout_ms, bool (*done)(void))
{
    int64_t deadline = tb_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        if (done && done())
            return true;
        int64_t left_ms = (deadline - tb_mono_us()) / 1000;
        if (left_ms <= 0)
            return done ? done() : false;
        zmq_pollitem_t items[] = {
            {tb_auth_zap_socket(fx.auth), 0, ZMQ_POLLIN, 0},
            {fx.server, 0, ZMQ_POLLIN, 0},
            {fx.monitor, 0, ZMQ_POLLIN, 0},
        };
        int rc = zmq_poll(items, 3, left_ms > 50 ? 50 : left_ms);
        cr_assert(rc >= 0);
        if (items[0].revents & ZMQ_POLLIN)
            tb_auth_on_readable(fx.auth);
        if (items[1].revents & ZMQ_POLLIN)
            s_read_server();
        if (items[2].revents & ZMQ_POLLIN)
            s_read_monitor();
    }
}

static bool s_got_message(void)
{
    return fx.messages > 0;
}

static bool s_denied(void)
{
    uint64_t denied;
    tb_auth_counts(fx.auth, NULL, &denied);
    return denied > 0 && (fx.events & ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
}

static bool s_protocol_failed(void)
{
    return fx.events &
           (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
}

Test(auth, listed_operator_key_is_admitted, .init = s_setup, .fini = s_teardown)
{
    void *c = s_client();
    cr_assert_eq(tb_auth_client_setup(c, s_path("tbctl.key"), fx.service_pub), 0);
    s_send(c, "hello");
    cr_assert(s_pump(5000, s_got_message), "no message within 5 s");
    cr_assert_str_eq(fx.payload, "hello");
    cr_assert_str_eq(fx.user_id, "operator");
    uint64_t admitted, denied;
    tb_auth_counts(fx.auth, &admitted, &denied);
    cr_assert_eq(admitted, 1);
    cr_assert_eq(denied, 0);
}

Test(auth, listed_org_key_gets_its_role, .init = s_setup, .fini = s_teardown)
{
    void *c = s_client();
    cr_assert_eq(tb_auth_client_setup(c, s_path("org.key"), fx.service_pub), 0);
    s_send(c, "from org");
    cr_assert(s_pump(5000, s_got_message), "no message within 5 s");
    cr_assert_str_eq(fx.payload, "from org");
    cr_assert_str_eq(fx.user_id, ORG);
}

/*  A consumer service (own context, the shared service key pair) connects to
    a producer's feed as a CURVE client and is the operator. */
Test(auth, service_key_consumer_is_operator, .init = s_setup, .fini = s_teardown)
{
    fx.ctx2 = zmq_ctx_new();
    fx.auth2 = tb_auth_new(fx.ctx2, s_path("keys"), s_path("service.key"));
    cr_assert_not_null(fx.auth2);
    void *c = s_client_in(fx.ctx2);
    cr_assert_eq(tb_auth_client_socket(fx.auth2, c), 0);
    s_send(c, "feed hello");
    cr_assert(s_pump(5000, s_got_message), "no message within 5 s");
    cr_assert_str_eq(fx.user_id, "operator");
}

Test(auth, unlisted_key_is_refused, .init = s_setup, .fini = s_teardown)
{
    void *c = s_client();
    cr_assert_eq(tb_auth_client_setup(c, s_path("stranger.key"), fx.service_pub), 0);
    s_send(c, "let me in");
    cr_assert(s_pump(5000, s_denied), "no refusal within 5 s");
    /* It keeps retrying; none of its messages gets through. */
    s_pump(500, NULL);
    cr_assert_eq(fx.messages, 0, "the server received: %s", fx.payload);
    uint64_t admitted, denied;
    tb_auth_counts(fx.auth, &admitted, &denied);
    cr_assert_eq(admitted, 0);
    cr_assert_geq(denied, 1);
}

Test(auth, client_without_curve_is_refused, .init = s_setup, .fini = s_teardown)
{
    void *c = s_client(); /* NULL mechanism */
    s_send(c, "plain text");
    cr_assert(s_pump(5000, s_protocol_failed), "no handshake failure within 5 s");
    cr_assert_eq(fx.last_protocol_error, ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH,
                 "protocol error %#x", fx.last_protocol_error);
    s_pump(300, NULL);
    cr_assert_eq(fx.messages, 0);
    uint64_t admitted, denied;
    tb_auth_counts(fx.auth, &admitted, &denied);
    cr_assert_eq(admitted, 0);
}

/*  A listed client that trusts the wrong server key cannot talk either (and
    neither could an impostor server talk to it). */
Test(auth, client_with_wrong_server_key_is_refused, .init = s_setup, .fini = s_teardown)
{
    void *c = s_client();
    cr_assert_eq(tb_auth_client_setup(c, s_path("tbctl.key"), fx.stranger_pub), 0);
    s_send(c, "hello?");
    cr_assert(s_pump(5000, s_protocol_failed), "no handshake failure within 5 s");
    s_pump(300, NULL);
    cr_assert_eq(fx.messages, 0);
}

/*  A feed admits the service key (consumers) and operators, never an
    organisation, even one with a listed key. */
Test(auth, feed_admits_only_operators, .init = s_setup_feed, .fini = s_teardown)
{
    void *org = s_client();
    cr_assert_eq(tb_auth_client_setup(org, s_path("org.key"), fx.service_pub), 0);
    s_send(org, "all events please");
    cr_assert(s_pump(5000, s_denied), "no refusal within 5 s");
    s_pump(300, NULL);
    cr_assert_eq(fx.messages, 0, "the feed received: %s", fx.payload);

    fx.ctx2 = zmq_ctx_new();
    fx.auth2 = tb_auth_new(fx.ctx2, s_path("keys"), s_path("service.key"));
    cr_assert_not_null(fx.auth2);
    void *consumer = s_client_in(fx.ctx2);
    cr_assert_eq(tb_auth_client_socket(fx.auth2, consumer), 0);
    s_send(consumer, "fetch");
    cr_assert(s_pump(5000, s_got_message), "no message within 5 s");
    cr_assert_str_eq(fx.payload, "fetch");
    cr_assert_str_eq(fx.user_id, "operator");

    void *tbctl = s_client();
    cr_assert_eq(tb_auth_client_setup(tbctl, s_path("tbctl.key"), fx.service_pub), 0);
    fx.messages = 0;
    s_send(tbctl, "operator fetch");
    cr_assert(s_pump(5000, s_got_message), "no message within 5 s");
    cr_assert_str_eq(fx.payload, "operator fetch");
    cr_assert_str_eq(fx.user_id, "operator");
}

/*  Key rotation: a new key works after it is added and the list reloaded; a
    bad file on reload keeps the old list. */
Test(auth, reload_admits_a_new_key, .init = s_setup, .fini = s_teardown)
{
    char text[128];
    snprintf(text, sizeof text, "%s " ORG "\n", fx.stranger_pub);
    s_append(s_path("keys"), text);
    cr_assert_eq(tb_auth_reload(fx.auth), 0);
    cr_assert_eq(tb_auth_key_count(fx.auth), 4);

    void *c = s_client();
    cr_assert_eq(tb_auth_client_setup(c, s_path("stranger.key"), fx.service_pub), 0);
    s_send(c, "rotated");
    cr_assert(s_pump(5000, s_got_message), "no message within 5 s");
    cr_assert_str_eq(fx.user_id, ORG);

    s_append(s_path("keys"), "not a key line\n");
    cr_assert_eq(tb_auth_reload(fx.auth), -1);
    cr_assert_eq(tb_auth_key_count(fx.auth), 4);
}

static void s_setup_plain(void)
{
    s_mkdir();
    memset(&fx, 0, sizeof fx);
}

Test(auth, new_fails_on_bad_files, .init = s_setup_plain, .fini = s_teardown)
{
    char pub[41];
    s_keygen("service.key", pub);
    char text[128];
    snprintf(text, sizeof text, "%s operator\n%s nobody!\n", pub, pub);
    s_write(s_path("bad"), text);
    snprintf(text, sizeof text, "%s operator\n", pub);
    s_write(s_path("keys"), text);

    fx.ctx = zmq_ctx_new();
    cr_assert_null(tb_auth_new(fx.ctx, s_path("bad"), s_path("service.key")));
    cr_assert_null(tb_auth_new(fx.ctx, s_path("keys"), s_path("missing.key")));
    cr_assert_null(tb_auth_new(fx.ctx, NULL, s_path("service.key")));
    fx.auth = tb_auth_new(fx.ctx, s_path("keys"), s_path("service.key"));
    cr_assert_not_null(fx.auth);
    /* One handler per context. */
    fx.auth2 = tb_auth_new(fx.ctx, s_path("keys"), s_path("service.key"));
    cr_assert_null(fx.auth2);
    tb_auth_destroy(&fx.auth);
    cr_assert_null(fx.auth);
    tb_auth_destroy(&fx.auth);
}
