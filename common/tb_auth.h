/*  tb_auth: CURVE security for every socket (SPEC section 7). A service loads
    the keys file (which client public keys may connect, and the role of each:
    "operator" or an organisation id) and its own key pair (the "service key",
    shared by all services), binds the ZAP handler in its ZeroMQ context, and
    sets CURVE options on its sockets. A peer that passed the handler carries its
    role as the "User-Id" of every message it sends (tb_msg_user_id).

    File formats, the deployment model and key rotation: docs/security.md.

    The handler is a plain REP socket polled by the owner's loop: libzmq performs
    handshakes in its I/O threads and waits for the ZAP reply asynchronously, so
    the owner only has to poll tb_auth_zap_socket and call tb_auth_on_readable. */
#ifndef TB_AUTH_H
#define TB_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TB_AUTH_DOMAIN      "techbridge"      /* API, XPUB: every listed key */
#define TB_AUTH_DOMAIN_FEED "techbridge.feed" /* feeds: operator keys only */
#define TB_AUTH_Z85_LEN     40                /* a CURVE key in Z85, without the NUL */
#define TB_AUTH_ROLE_MAX    64                /* TB_ORG_ID_MAX */

typedef struct tb_auth_t tb_auth_t;

/*  Loads the keys file and the key pair file, and binds the ZAP handler at
    "inproc://zeromq.zap.01" in `zmq_ctx` (one per context). Must be made before
    any CURVE server socket of the context binds. NULL on failure (logged: file,
    line number, reason). */
tb_auth_t *tb_auth_new(void *zmq_ctx, const char *keys_file, const char *keypair_file);

/*  Closes the handler and wipes the secret key. Close the server sockets first:
    a connection that arrives with no handler bound is not authenticated. */
void tb_auth_destroy(tb_auth_t **self_p);

/*  The handler's socket, for the owner's zmq_poll set (ZMQ_POLLIN). */
void *tb_auth_zap_socket(tb_auth_t *self);

/*  Answers every pending ZAP request without blocking: CURVE with a listed
    client key is admitted ("200", User-Id = the key's role; on a feed socket
    only the operator role); anything else is
    refused ("400") with a rate-limited warn line "auth.denied" (peer address,
    client key in Z85). */
void tb_auth_on_readable(tb_auth_t *self);

/*  Rereads the keys file (e.g. on SIGHUP). On success the new list applies to
    every handshake from now on; connections already admitted stay. On failure
    (logged) the old list stays. Returns 0 or -1. */
int tb_auth_reload(tb_auth_t *self);

/*  Makes `socket` a CURVE server with the service key, in domain
    TB_AUTH_DOMAIN. Call before zmq_bind. Returns 0 or -1 (logged). */
int tb_auth_server_socket(tb_auth_t *self, void *socket);

/*  Like tb_auth_server_socket, in domain TB_AUTH_DOMAIN_FEED, where only keys
    with role operator are admitted: an event feed carries every organisation's
    data, so an organisation's key must not even connect to it. */
int tb_auth_feed_socket(tb_auth_t *self, void *socket);

/*  Makes `socket` a CURVE client of another service: the service key pair as
    the client's, the service public key as the server's (for feed consumers).
    Call before zmq_connect. Returns 0 or -1 (logged). */
int tb_auth_client_socket(tb_auth_t *self, void *socket);

/*  The service's public key in Z85 (borrowed; give it to clients). */
const char *tb_auth_public_key(const tb_auth_t *self);

/*  Number of client keys loaded. */
size_t tb_auth_key_count(const tb_auth_t *self);

/*  Handshakes admitted and refused so far (for the stats line and tests). */
void tb_auth_counts(const tb_auth_t *self, uint64_t *admitted, uint64_t *denied);

/*  True when `user_id` (a message's User-Id under CURVE) is the operator role. */
bool tb_auth_is_operator(const char *user_id);
/*  The role of tb-gateway's key: it acts for the people logged in to it, so a
    request from it is taken as the actor it names (ApiRequest.actor), with the
    person (ApiRequest.person) recorded in history. Not an organisation id. */
#define TB_AUTH_GATEWAY "gateway"
bool tb_auth_is_gateway(const char *user_id);

/* ---- helpers without a context: tbctl, examples, tests ---- */

/*  Checks a keys file without loading it into a handler. Returns 0 with the
    number of keys in *count (may be NULL), or -1 (logged) with the first bad
    line in *bad_line (0 when the file itself could not be read; may be NULL). */
int tb_auth_keys_check(const char *keys_file, size_t *count, int *bad_line);

/*  True when `s` is exactly a 40-character Z85 key. */
bool tb_auth_z85_valid(const char *s);

/*  Reads a key pair file ("public <Z85>" and "secret <Z85>" lines) and checks
    that the public key belongs to the secret key. Warns (auth.key_file_mode)
    when the file is readable by group or others. Returns 0 or -1 (logged). */
int tb_auth_keypair_load(const char *path, char public_z85[41], char secret_z85[41]);

/*  Reads only the "public <Z85>" line of a key pair file or of a public key
    file (a copy of that line): how a client gets the server's public key.
    Returns 0 or -1 (logged). */
int tb_auth_public_load(const char *path, char public_z85[41]);

/*  Makes a new key pair and writes it to `path` with mode 0600. Refuses to
    overwrite an existing file. Returns 0 or -1 (logged). */
int tb_auth_keypair_write(const char *path);

/*  Makes `socket` a CURVE client with the key pair in `client_keypair_file`,
    talking to the server whose public key is `server_public_z85`. Call before
    zmq_connect. Returns 0 or -1 (logged). */
int tb_auth_client_setup(void *socket, const char *client_keypair_file,
                         const char *server_public_z85);

#endif
