/*  gateway_auth: people. Passwords hashed with Argon2id (libsodium
    crypto_pwhash_str), login sessions in an HttpOnly SameSite=Strict cookie with
    an expiry and a CSRF token that every change must echo, bearer tokens for
    scripts, and a limit on failed logins. Secrets are random 256-bit values;
    only their BLAKE2b hash is stored. */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Argon2id cost: 19 MiB and 2 passes (the OWASP minimum for Argon2id). Why not
    libsodium's INTERACTIVE (64 MiB): the gateway must stay small, and hashes
    are checked one at a time, so a burst of logins cannot multiply it. */
#define GW_PWHASH_OPSLIMIT 2
#define GW_PWHASH_MEMLIMIT (19u * 1024 * 1024)
#define GW_PASSWORD_MIN    10
#define GW_PASSWORD_MAX    256

/*  Initialises libsodium. Returns 0 or -1. */
int gw_auth_init(void);

/*  Hashes a password into `out` (crypto_pwhash_STRBYTES = 128 bytes). Returns 0
    or -1 (out of memory). */
int gw_auth_hash_password(const char *password, char out[128]);
/*  True when `password` matches `hash`. Verifications run one at a time. */
bool gw_auth_verify_password(const char *hash, const char *password);
/*  Checks a new password's length; returns NULL or the reason. */
const char *gw_auth_password_problem(const char *password);

/*  A new random secret, URL-safe base64 without padding (43 characters). */
void gw_auth_new_secret(char out[48]);
/*  The stored form of a secret: hex of its BLAKE2b-256 (64 characters). */
void gw_auth_secret_hash(const char *secret, char out[65]);

/*  Failed logins per key (a user name, a client address) within a window: past
    a key's limit of failures it is refused until the window ends. Thread-safe. */
typedef struct gw_limiter_t gw_limiter_t;
gw_limiter_t *gw_limiter_new(int64_t window_ms);
void gw_limiter_destroy(gw_limiter_t **self_p);
/*  0 when `key` may try (fewer than `limit` failures in its window), else the
    ms until it may try again. */
int64_t gw_limiter_wait_ms(gw_limiter_t *self, const char *key, int limit,
                           int64_t now_ms);
void gw_limiter_fail(gw_limiter_t *self, const char *key, int64_t now_ms);
void gw_limiter_reset(gw_limiter_t *self, const char *key);

/*  Sessions and tokens recently found valid, so that a busy script or page
    does not cost a database round trip per request: an entry is trusted for
    `ttl_ms`. What that costs: a session ended elsewhere (another gateway, or
    --user-passwd / --user-disable) still works here for up to ttl_ms; a
    logout through this gateway evicts its entry at once. Direct-mapped by the
    hash (a collision just replaces): bounded, no allocation after new. */
typedef struct gw_cache_t gw_cache_t;
typedef struct {
    char user[65];
    char role[65];
    char kind[16];
    char csrf[64];
    int64_t expires_ms;
} gw_cached_t;
gw_cache_t *gw_cache_new(int64_t ttl_ms);
void gw_cache_destroy(gw_cache_t **self_p);
/*  True with *out filled when `hash` was stored less than ttl_ms ago and has
    not expired by `now_ms`. */
bool gw_cache_get(gw_cache_t *self, const char *hash, int64_t now_ms, gw_cached_t *out);
void gw_cache_put(gw_cache_t *self, const char *hash, const gw_cached_t *entry,
                  int64_t now_ms);
void gw_cache_evict(gw_cache_t *self, const char *hash);

#endif
