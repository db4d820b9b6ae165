/*  tb_auth: CURVE keys, the ZAP handler (RFC 27) and socket options. */
#include "tb_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "tb_log.h"
#include "tb_util.h"
#include "tb_loglimit.h"
#include "tb_valid.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_KEY_BYTES    32
#define S_LINE_MAX     1024 /* a keys file line: key, role, comment */
#define S_KEYPAIR_MAX  4096 /* a key pair file is a few short lines */
#define S_ZAP_FRAMES   8    /* RFC 27 request: 6 frames + CURVE's 1 credential */
#define S_ZAP_BATCH    64   /* requests answered per call, so the loop stays fair */
/*  auth.denied lines: a peer address may cause S_DENY_PER_ADDRESS a minute,
    whatever key it presents (fresh keys cost nothing to make), and all peers
    together S_DENY_TOTAL; S_DENY_ADDRESSES addresses are remembered. */
#define S_DENY_ADDRESSES   64
#define S_DENY_PER_ADDRESS 3
#define S_DENY_TOTAL       60
#define S_DENY_LOG_US      (60LL * 1000 * 1000)

static const char s_z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

typedef struct {
    uint8_t key[S_KEY_BYTES];
    char role[TB_AUTH_ROLE_MAX + 1];
    int line;
} s_entry_t;

/*  The client keys, sorted by key for bsearch. */
typedef struct {
    s_entry_t *items;
    size_t count;
} s_keys_t;

struct tb_auth_t {
    void *zap;
    char *keys_file;
    s_keys_t keys;
    uint8_t public_key[S_KEY_BYTES];
    uint8_t secret_key[S_KEY_BYTES];
    char public_z85[TB_AUTH_Z85_LEN + 1];
    uint64_t admitted;
    uint64_t denied;
    tb_loglimit_t *deny_log; /* auth.denied lines per peer address */
};

/* ---- small pieces ---- */

static void s_wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

bool tb_auth_z85_valid(const char *s)
{
    if (!s || strlen(s) != TB_AUTH_Z85_LEN)
        return false;
    for (const char *c = s; *c; c++)
        if (!strchr(s_z85_chars, *c))
            return false;
    return true;
}

/*  Decodes a Z85 key into 32 bytes. Returns 0 or -1. */
static int s_z85_decode(uint8_t out[S_KEY_BYTES], const char *z85)
{
    if (!tb_auth_z85_valid(z85))
        return -1;
    return zmq_z85_decode(out, z85) ? 0 : -1;
}

bool tb_auth_is_operator(const char *user_id)
{
    return user_id && strcmp(user_id, "operator") == 0;
}

bool tb_auth_is_gateway(const char *user_id)
{
    return user_id && strcmp(user_id, TB_AUTH_GATEWAY) == 0;
}

/*  "operators" is a well-formed org id but names the operators' notification
    topic: an organisation called that could read what operators get. "gateway"
    is the role of tb-gateway's key, which may act for anyone. */
static bool s_role_valid(const char *role)
{
    return tb_auth_is_operator(role) || tb_auth_is_gateway(role) ||
           (tb_valid_org_id(role) && strcmp(role, "operators") != 0);
}

static int s_entry_cmp(const void *a, const void *b)
{
    return memcmp(((const s_entry_t *)a)->key, ((const s_entry_t *)b)->key, S_KEY_BYTES);
}

static const s_entry_t *s_keys_find(const s_keys_t *keys, const uint8_t key[S_KEY_BYTES])
{
    if (keys->count == 0)
        return NULL;
    s_entry_t probe;
    memcpy(probe.key, key, S_KEY_BYTES);
    return bsearch(&probe, keys->items, keys->count, sizeof *keys->items, s_entry_cmp);
}

static void s_keys_free(s_keys_t *keys)
{
    free(keys->items);
    keys->items = NULL;
    keys->count = 0;
}

/*  Splits `line` in place into whitespace-separated tokens (at most `max`).
    Returns the number of tokens, or max + 1 when there are more. */
static int s_tokens(char *line, char **tok, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == max)
            return max + 1;
        tok[n++] = t;
    }
    return n;
}

static void s_chomp(char *line)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
}

/* ---- keys file ---- */

static int s_keys_error(const char *path, int line, const char *error)
{
    tb_error("auth.keys_file", NULL, TB_S("file", path), TB_I("line", line),
             TB_S("error", error));
    return -1;
}

/*  Parses one line into `entry`. Returns 0, 1 for a blank or comment line, or
    -1 with *error set. (A Z85 key never starts with '#': 5 characters encode 4
    bytes, and '#', the 85th symbol, would exceed 2^32 in first position.) */
static int s_keys_line(char *line, s_entry_t *entry, const char **error)
{
    char *tok[3];
    int n = s_tokens(line, tok, 3);
    if (n == 0 || tok[0][0] == '#')
        return 1;
    if (!tb_auth_z85_valid(tok[0])) {
        *error = strlen(tok[0]) == TB_AUTH_Z85_LEN
                     ? "the public key is not valid Z85"
                     : "the public key must be 40 characters of Z85";
        return -1;
    }
    if (n < 2) {
        *error = "missing role after the key (operator or an organisation id)";
        return -1;
    }
    if (n >= 3 && tok[2][0] != '#') {
        *error = "expected \"<public key> <role>\" (a comment starts with #)";
        return -1;
    }
    if (!s_role_valid(tok[1])) {
        *error = "the role must be \"operator\", \"gateway\" or an organisation id "
                 "(1..64 of a-z 0-9 . _ -, not \"operators\")";
        return -1;
    }
    if (s_z85_decode(entry->key, tok[0]) != 0) {
        *error = "the public key is not valid Z85";
        return -1;
    }
    snprintf(entry->role, sizeof entry->role, "%s", tok[1]);
    return 0;
}

/*  Reads the keys file into `out` (sorted). Returns 0, or -1 (logged) with the
    first bad line in *bad_line (0: the file itself). */
static int s_keys_load(const char *path, s_keys_t *out, int *bad_line)
{
    *bad_line = 0;
    out->items = NULL;
    out->count = 0;
    if (!path || !*path)
        return s_keys_error("", 0, "no keys file given");
    FILE *file = fopen(path, "re");
    if (!file)
        return s_keys_error(path, 0, strerror(errno));

    s_keys_t keys = {NULL, 0};
    size_t cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    int lineno = 0;
    const char *error = NULL;
    while ((len = getline(&line, &line_cap, file)) >= 0) {
        lineno++;
        if (len > S_LINE_MAX) {
            error = "line too long";
            break;
        }
        if (memchr(line, '\0', (size_t)len)) {
            error = "NUL byte in line";
            break;
        }
        s_chomp(line);
        s_entry_t entry;
        memset(&entry, 0, sizeof entry);
        int rc = s_keys_line(line, &entry, &error);
        if (rc < 0)
            break;
        if (rc > 0)
            continue;
        entry.line = lineno;
        if (keys.count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            s_entry_t *items = realloc(keys.items, ncap * sizeof *items);
            if (!items) {
                error = "out of memory";
                break;
            }
            keys.items = items;
            cap = ncap;
        }
        keys.items[keys.count++] = entry;
    }
    if (!error && ferror(file)) {
        error = strerror(errno);
        lineno = 0;
    }
    free(line);
    fclose(file);
    if (error) {
        s_keys_free(&keys);
        *bad_line = lineno;
        return s_keys_error(path, lineno, error);
    }

    if (keys.count > 1)
        qsort(keys.items, keys.count, sizeof *keys.items, s_entry_cmp);
    for (size_t i = 1; i < keys.count; i++) {
        if (memcmp(keys.items[i - 1].key, keys.items[i].key, S_KEY_BYTES) == 0) {
            int a = keys.items[i - 1].line, b = keys.items[i].line;
            *bad_line = a > b ? a : b;
            tb_error("auth.keys_file", NULL, TB_S("file", path), TB_I("line", *bad_line),
                     TB_I("first_line", a < b ? a : b),
                     TB_S("error", "the same public key is listed twice"));
            s_keys_free(&keys);
            return -1;
        }
    }
    *out = keys;
    return 0;
}

int tb_auth_keys_check(const char *keys_file, size_t *count, int *bad_line)
{
    s_keys_t keys;
    int line = 0;
    int rc = s_keys_load(keys_file, &keys, &line);
    if (bad_line)
        *bad_line = line;
    if (count)
        *count = rc == 0 ? keys.count : 0;
    s_keys_free(&keys);
    return rc;
}

/* ---- key pair file ---- */

static int s_keypair_error(const char *path, int line, const char *error)
{
    tb_error("auth.key_file", NULL, TB_S("file", path ? path : ""), TB_I("line", line),
             TB_S("error", error));
    return -1;
}

/*  Reads the file at `path` (at most S_KEYPAIR_MAX bytes) into `buf`, NUL
    terminated. Warns when `secret` and group or others may read it. */
static int s_read_small(const char *path, char *buf, size_t cap, bool secret)
{
    if (!path || !*path)
        return s_keypair_error("", 0, "no key file given");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return s_keypair_error(path, 0, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return s_keypair_error(path, 0, "not a regular file");
    }
    if (st.st_size >= (off_t)cap) {
        close(fd);
        return s_keypair_error(path, 0, "too large for a key file");
    }
    if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)))
        tb_warn("auth.key_file_mode", NULL, TB_S("file", path),
                TB_I("mode", st.st_mode & 07777),
                TB_S("message", "the secret key file is accessible to group or others: "
                                "chmod 600 it"));
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            s_wipe(buf, cap);
            return s_keypair_error(path, 0, strerror(err));
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used == cap - 1) {
            close(fd);
            s_wipe(buf, cap);
            return s_keypair_error(path, 0, "too large for a key file");
        }
    }
    close(fd);
    buf[used] = '\0';
    if (strlen(buf) != used) {
        s_wipe(buf, cap);
        return s_keypair_error(path, 0, "NUL byte in key file");
    }
    return 0;
}

/*  Parses "public <Z85>" / "secret <Z85>" lines ('#' comments, blank lines).
    `secret_z85` NULL: only the public line is wanted (a secret line, if any, is
    skipped unread). Returns 0 or -1 (logged). */
static int s_keypair_parse(const char *path, char *buf, char public_z85[41],
                           char *secret_z85)
{
    bool have_public = false, have_secret = false;
    int lineno = 0;
    /* strtok_r on "\n" skips blank lines, so count them by hand. */
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        char *line = p;
        p = nl ? nl + 1 : p + strlen(p);
        s_chomp(line);
        char *tok[3];
        int n = s_tokens(line, tok, 3);
        if (n == 0 || tok[0][0] == '#')
            continue;
        bool is_public = strcmp(tok[0], "public") == 0;
        bool is_secret = strcmp(tok[0], "secret") == 0;
        if (!is_public && !is_secret)
            return s_keypair_error(path, lineno,
                                   "expected \"public <Z85>\" or \"secret <Z85>\"");
        if (is_secret && !secret_z85)
            continue;
        if (n != 2)
            return s_keypair_error(path, lineno,
                                   "expected one 40-character Z85 key after the keyword");
        if (!tb_auth_z85_valid(tok[1]))
            return s_keypair_error(path, lineno, "the key must be 40 characters of Z85");
        if ((is_public && have_public) || (is_secret && have_secret))
            return s_keypair_error(path, lineno, "key given twice");
        if (is_public) {
            memcpy(public_z85, tok[1], TB_AUTH_Z85_LEN + 1);
            have_public = true;
        } else {
            memcpy(secret_z85, tok[1], TB_AUTH_Z85_LEN + 1);
            have_secret = true;
        }
    }
    if (!have_public)
        return s_keypair_error(path, 0, "no \"public <Z85>\" line");
    if (secret_z85 && !have_secret)
        return s_keypair_error(path, 0, "no \"secret <Z85>\" line");
    return 0;
}

int tb_auth_keypair_load(const char *path, char public_z85[41], char secret_z85[41])
{
    char buf[S_KEYPAIR_MAX];
    if (s_read_small(path, buf, sizeof buf, true) != 0)
        return -1;
    int rc = s_keypair_parse(path, buf, public_z85, secret_z85);
    s_wipe(buf, sizeof buf);
    if (rc != 0) {
        s_wipe(secret_z85, TB_AUTH_Z85_LEN + 1);
        return -1;
    }
    /* A public key that does not belong to the secret one would make every
       peer that trusts it fail the handshake: refuse it here, by name. */
    char derived[TB_AUTH_Z85_LEN + 1];
    uint8_t probe[S_KEY_BYTES];
    if (s_z85_decode(probe, public_z85) != 0 || s_z85_decode(probe, secret_z85) != 0 ||
        zmq_curve_public(derived, secret_z85) != 0) {
        s_wipe(probe, sizeof probe);
        s_wipe(secret_z85, TB_AUTH_Z85_LEN + 1);
        return s_keypair_error(path, 0, "a key is not valid Z85");
    }
    s_wipe(probe, sizeof probe);
    if (strcmp(derived, public_z85) != 0) {
        s_wipe(secret_z85, TB_AUTH_Z85_LEN + 1);
        return s_keypair_error(path, 0,
                               "the public key does not belong to the secret key");
    }
    return 0;
}

int tb_auth_public_load(const char *path, char public_z85[41])
{
    char buf[S_KEYPAIR_MAX];
    if (s_read_small(path, buf, sizeof buf, false) != 0)
        return -1;
    int rc = s_keypair_parse(path, buf, public_z85, NULL);
    s_wipe(buf, sizeof buf);
    uint8_t probe[S_KEY_BYTES];
    if (rc == 0 && s_z85_decode(probe, public_z85) != 0)
        return s_keypair_error(path, 0, "the public key is not valid Z85");
    return rc;
}

int tb_auth_keypair_write(const char *path)
{
    if (!path || !*path)
        return s_keypair_error("", 0, "no key file given");
    char public_z85[TB_AUTH_Z85_LEN + 1], secret_z85[TB_AUTH_Z85_LEN + 1];
    if (zmq_curve_keypair(public_z85, secret_z85) != 0)
        return s_keypair_error(path, 0,
                               "libzmq cannot make CURVE keys (built without it?)");
    char buf[512];
    int len =
        snprintf(buf, sizeof buf,
                 "# techbridge CURVE key pair (tbctl keygen). Keep this file secret:\n"
                 "# mode 0600, never copied. Give out only the public line.\n"
                 "public %s\n"
                 "secret %s\n",
                 public_z85, secret_z85);
    s_wipe(secret_z85, sizeof secret_z85);
    /* O_EXCL: a key file is never overwritten, a lost secret cannot be undone. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        s_wipe(buf, sizeof buf);
        return s_keypair_error(path, 0, strerror(errno));
    }
    int rc = fchmod(fd, 0600);
    size_t done = 0;
    while (rc == 0 && done < (size_t)len) {
        ssize_t n = write(fd, buf + done, (size_t)len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            done += (size_t)n;
    }
    if (rc == 0)
        rc = fsync(fd);
    int err = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        err = errno;
    }
    s_wipe(buf, sizeof buf);
    if (rc != 0) {
        unlink(path);
        return s_keypair_error(path, 0, strerror(err));
    }
    tb_info("auth.keypair_written", NULL, TB_S("file", path), TB_S("public", public_z85));
    return 0;
}

/* ---- socket options ---- */

static int s_sockopt_error(const char *what)
{
    tb_error("auth.socket", NULL, TB_S("option", what),
             TB_S("error", zmq_strerror(errno)));
    return -1;
}

/*  CURVE client options from binary keys. */
static int s_client_options(void *socket, const uint8_t public_key[S_KEY_BYTES],
                            const uint8_t secret_key[S_KEY_BYTES],
                            const uint8_t server_key[S_KEY_BYTES])
{
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server_key, S_KEY_BYTES) != 0)
        return s_sockopt_error("CURVE_SERVERKEY");
    if (zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, public_key, S_KEY_BYTES) != 0)
        return s_sockopt_error("CURVE_PUBLICKEY");
    if (zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret_key, S_KEY_BYTES) != 0)
        return s_sockopt_error("CURVE_SECRETKEY");
    return 0;
}

static int s_server_options(tb_auth_t *self, void *socket, const char *domain)
{
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0)
        return s_sockopt_error("CURVE_SERVER");
    if (zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, self->secret_key, S_KEY_BYTES) != 0)
        return s_sockopt_error("CURVE_SECRETKEY");
    if (zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0)
        return s_sockopt_error("ZAP_DOMAIN");
    return 0;
}

int tb_auth_server_socket(tb_auth_t *self, void *socket)
{
    return s_server_options(self, socket, TB_AUTH_DOMAIN);
}

int tb_auth_feed_socket(tb_auth_t *self, void *socket)
{
    return s_server_options(self, socket, TB_AUTH_DOMAIN_FEED);
}

int tb_auth_client_socket(tb_auth_t *self, void *socket)
{
    return s_client_options(socket, self->public_key, self->secret_key, self->public_key);
}

int tb_auth_client_setup(void *socket, const char *client_keypair_file,
                         const char *server_public_z85)
{
    uint8_t server_key[S_KEY_BYTES];
    if (s_z85_decode(server_key, server_public_z85) != 0) {
        tb_error("auth.socket", NULL,
                 TB_S("error", "the server public key must be 40 characters of Z85"));
        return -1;
    }
    char public_z85[TB_AUTH_Z85_LEN + 1], secret_z85[TB_AUTH_Z85_LEN + 1];
    if (tb_auth_keypair_load(client_keypair_file, public_z85, secret_z85) != 0)
        return -1;
    uint8_t public_key[S_KEY_BYTES], secret_key[S_KEY_BYTES];
    int rc = s_z85_decode(public_key, public_z85) == 0 &&
                     s_z85_decode(secret_key, secret_z85) == 0
                 ? s_client_options(socket, public_key, secret_key, server_key)
                 : -1;
    s_wipe(secret_z85, sizeof secret_z85);
    s_wipe(secret_key, sizeof secret_key);
    return rc;
}

/* ---- the handler ---- */

/*  Warns about the service key when it is not listed as operator: feed
    consumers (which connect with it) would then be refused. */
static void s_check_service_key(tb_auth_t *self)
{
    const s_entry_t *own = s_keys_find(&self->keys, self->public_key);
    if (!own || !tb_auth_is_operator(own->role))
        tb_warn("auth.service_key_unlisted", NULL, TB_S("file", self->keys_file),
                TB_S("public", self->public_z85),
                TB_S("message", "the service public key is not in the keys file with "
                                "role operator: feed consumers will be refused"));
}

tb_auth_t *tb_auth_new(void *zmq_ctx, const char *keys_file, const char *keypair_file)
{
    if (!zmq_has("curve")) {
        tb_error("auth.unavailable", NULL,
                 TB_S("error", "libzmq was built without CURVE"));
        return NULL;
    }
    tb_auth_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->keys_file = strdup(keys_file ? keys_file : "");
    if (!self->keys_file) {
        free(self);
        return NULL;
    }
    self->deny_log = tb_loglimit_new(S_DENY_ADDRESSES, S_DENY_PER_ADDRESS, S_DENY_TOTAL,
                                     S_DENY_LOG_US);
    int bad_line;
    char secret_z85[TB_AUTH_Z85_LEN + 1];
    if (!self->deny_log || s_keys_load(keys_file, &self->keys, &bad_line) != 0 ||
        tb_auth_keypair_load(keypair_file, self->public_z85, secret_z85) != 0) {
        tb_auth_destroy(&self);
        return NULL;
    }
    int rc = s_z85_decode(self->public_key, self->public_z85) == 0 &&
                     s_z85_decode(self->secret_key, secret_z85) == 0
                 ? 0
                 : -1;
    s_wipe(secret_z85, sizeof secret_z85);
    if (rc != 0) {
        tb_auth_destroy(&self);
        return NULL;
    }

    self->zap = zmq_socket(zmq_ctx, ZMQ_REP);
    int zero = 0;
    if (!self->zap || zmq_setsockopt(self->zap, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(self->zap, S_ZAP_ENDPOINT) != 0) {
        tb_error("auth.zap_bind", NULL, TB_S("endpoint", S_ZAP_ENDPOINT),
                 TB_S("error", zmq_strerror(errno)));
        tb_auth_destroy(&self);
        return NULL;
    }
    s_check_service_key(self);
    tb_info("auth.ready", NULL, TB_S("keys_file", self->keys_file),
            TB_I("keys", self->keys.count), TB_S("public", self->public_z85));
    return self;
}

void tb_auth_destroy(tb_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_auth_t *self = *self_p;
    if (self->zap)
        zmq_close(self->zap);
    s_keys_free(&self->keys);
    free(self->keys_file);
    tb_loglimit_destroy(&self->deny_log);
    s_wipe(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

void *tb_auth_zap_socket(tb_auth_t *self)
{
    return self->zap;
}

const char *tb_auth_public_key(const tb_auth_t *self)
{
    return self->public_z85;
}

size_t tb_auth_key_count(const tb_auth_t *self)
{
    return self->keys.count;
}

void tb_auth_counts(const tb_auth_t *self, uint64_t *admitted, uint64_t *denied)
{
    if (admitted)
        *admitted = self->admitted;
    if (denied)
        *denied = self->denied;
}

int tb_auth_reload(tb_auth_t *self)
{
    s_keys_t keys;
    int bad_line;
    if (s_keys_load(self->keys_file, &keys, &bad_line) != 0) {
        tb_warn("auth.reload_failed", NULL, TB_S("file", self->keys_file),
                TB_I("line", bad_line), TB_I("keys_kept", self->keys.count));
        return -1;
    }
    s_keys_free(&self->keys);
    self->keys = keys;
    s_check_service_key(self);
    tb_info("auth.reloaded", NULL, TB_S("file", self->keys_file),
            TB_I("keys", self->keys.count));
    return 0;
}

/*  A frame as a NUL-terminated string (truncated to cap - 1). */
static void s_frame_str(zmq_msg_t *frame, char *out, size_t cap)
{
    size_t len = zmq_msg_size(frame);
    if (len > cap - 1)
        len = cap - 1;
    memcpy(out, zmq_msg_data(frame), len);
    out[len] = '\0';
}

static bool s_frame_is(zmq_msg_t *frame, const char *s)
{
    size_t len = strlen(s);
    return zmq_msg_size(frame) == len && memcmp(zmq_msg_data(frame), s, len) == 0;
}

/*  Logs a refusal unless its peer address has used up its lines for the
    minute (then it is counted, and the count goes into the address's next
    line). The limit is per address, not per key: a client can make a fresh
    key for every connection. */
static void s_log_denied(tb_auth_t *self, const char *address, const char *mechanism,
                         const char *key, const char *reason)
{
    uint64_t suppressed = 0;
    if (!tb_loglimit_allow(self->deny_log, address, tb_mono_us(), &suppressed))
        return;
    tb_warn("auth.denied", NULL, TB_S("address", address), TB_S("mechanism", mechanism),
            TB_S("client_key", key), TB_S("reason", reason),
            TB_I("suppressed", (int64_t)suppressed));
}

/*  Sends the ZAP reply: version, request id, status code and text, user id,
    empty metadata. */
static void s_reply(tb_auth_t *self, zmq_msg_t *request_id, const char *code,
                    const char *text, const char *user_id)
{
    const void *rid = request_id ? zmq_msg_data(request_id) : "";
    size_t rid_len = request_id ? zmq_msg_size(request_id) : 0;
    const struct {
        const void *data;
        size_t len;
    } frames[] = {
        {"1.0", 3},
        {rid, rid_len},
        {code, strlen(code)},
        {text, strlen(text)},
        {user_id, strlen(user_id)},
        {"", 0},
    };
    size_t n = sizeof frames / sizeof frames[0];
    for (size_t i = 0; i < n; i++) {
        if (zmq_send(self->zap, frames[i].data, frames[i].len,
                     (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) {
            tb_error("auth.zap_reply", NULL, TB_S("error", zmq_strerror(errno)));
            return;
        }
    }
}

/*  Receives one request (non-blocking). Returns the number of frames kept in
    `frames` (the rest is dropped; *total counts all), or -1 when none waits. */
static int s_recv_request(void *zap, zmq_msg_t frames[S_ZAP_FRAMES], int *total)
{
    int kept = 0;
    *total = 0;
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, zap, *total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&msg);
            return *total == 0 ? -1 : kept;
        }
        (*total)++;
        bool more = zmq_msg_more(&msg);
        if (kept < S_ZAP_FRAMES)
            frames[kept++] = msg;
        else
            zmq_msg_close(&msg);
        if (!more)
            return kept;
    }
}

/*  Answers one ZAP request. Returns false when none was waiting. */
static bool s_handle_one(tb_auth_t *self)
{
    zmq_msg_t f[S_ZAP_FRAMES];
    int total;
    int n = s_recv_request(self->zap, f, &total);
    if (n < 0)
        return false;

    char address[256] = "";
    char mechanism[32] = "";
    char key[TB_AUTH_Z85_LEN + 1] = "";
    if (n >= 4)
        s_frame_str(&f[3], address, sizeof address);
    if (n >= 6)
        s_frame_str(&f[5], mechanism, sizeof mechanism);

    if (n < 6 || !s_frame_is(&f[0], "1.0")) {
        /* Only libzmq writes here, so this is a bug of ours or theirs; still
           answer, or the REP socket would wait for a reply forever. */
        tb_error("auth.zap_malformed", NULL, TB_I("frames", total));
        s_reply(self, n >= 2 ? &f[1] : NULL, "500", "malformed ZAP request", "");
        self->denied++;
    } else if (!s_frame_is(&f[2], TB_AUTH_DOMAIN) &&
               !s_frame_is(&f[2], TB_AUTH_DOMAIN_FEED)) {
        self->denied++;
        s_log_denied(self, address, mechanism, "", "unknown ZAP domain");
        s_reply(self, &f[1], "400", "unknown domain", "");
    } else if (strcmp(mechanism, "CURVE") != 0) {
        self->denied++;
        s_log_denied(self, address, mechanism, "", "only CURVE is allowed");
        s_reply(self, &f[1], "400", "mechanism not allowed", "");
    } else if (total != 7 || zmq_msg_size(&f[6]) != S_KEY_BYTES) {
        self->denied++;
        s_log_denied(self, address, mechanism, "", "bad CURVE credentials");
        s_reply(self, &f[1], "400", "bad credentials", "");
    } else {
        const uint8_t *client_key = zmq_msg_data(&f[6]);
        zmq_z85_encode(key, client_key, S_KEY_BYTES);
        const s_entry_t *entry = s_keys_find(&self->keys, client_key);
        bool feed = s_frame_is(&f[2], TB_AUTH_DOMAIN_FEED);
        if (entry && feed && !tb_auth_is_operator(entry->role)) {
            self->denied++;
            s_log_denied(self, address, mechanism, key,
                         "only operator keys may connect to a feed");
            s_reply(self, &f[1], "400", "feeds are for operators only", "");
        } else if (entry) {
            self->admitted++;
            tb_debug("auth.admitted", NULL, TB_S("address", address),
                     TB_S("client_key", key), TB_S("role", entry->role));
            s_reply(self, &f[1], "200", "OK", entry->role);
        } else {
            self->denied++;
            s_log_denied(self, address, mechanism, key,
                         "client key not in the keys file");
            s_reply(self, &f[1], "400", "unknown client key", "");
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return true;
}

void tb_auth_on_readable(tb_auth_t *self)
{
    for (int i = 0; i < S_ZAP_BATCH; i++)
        if (!s_handle_one(self))
            return;
}
