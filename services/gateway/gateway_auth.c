/*  gateway_auth: password hashes, secrets and the failed-login limiter. */
#include "gateway_auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t s_pwhash_lock = PTHREAD_MUTEX_INITIALIZER;

int gw_auth_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

int gw_auth_hash_password(const char *password, char out[128])
{
    pthread_mutex_lock(&s_pwhash_lock);
    int rc = crypto_pwhash_str(out, password, strlen(password), GW_PWHASH_OPSLIMIT,
                               GW_PWHASH_MEMLIMIT);
    pthread_mutex_unlock(&s_pwhash_lock);
    return rc == 0 ? 0 : -1;
}

bool gw_auth_verify_password(const char *hash, const char *password)
{
    pthread_mutex_lock(&s_pwhash_lock);
    int rc = crypto_pwhash_str_verify(hash, password, strlen(password));
    pthread_mutex_unlock(&s_pwhash_lock);
    return rc == 0;
}

const char *gw_auth_password_problem(const char *password)
{
    size_t n = strlen(password);
    if (n < GW_PASSWORD_MIN)
        return "a password needs at least 10 characters";
    if (n > GW_PASSWORD_MAX)
        return "a password has at most 256 characters";
    return NULL;
}

void gw_auth_new_secret(char out[48])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, 48, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

void gw_auth_secret_hash(const char *secret, char out[65])
{
    unsigned char digest[32];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)secret,
                       strlen(secret), NULL, 0);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

/* ---- the limiter: a small table, the oldest entry reused when full ---- */

#define S_SLOTS 512

typedef struct {
    char key[96];
    int failures;
    int64_t window_start;
} s_slot_t;

struct gw_limiter_t {
    pthread_mutex_t lock;
    int64_t window_ms;
    s_slot_t slots[S_SLOTS];
};

gw_limiter_t *gw_limiter_new(int64_t window_ms)
{
    gw_limiter_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->window_ms = window_ms;
    return self;
}

void gw_limiter_destroy(gw_limiter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->lock);
    free(*self_p);
    *self_p = NULL;
}

/*  The slot of `key`, or NULL. Under the lock. */
static s_slot_t *s_find(gw_limiter_t *self, const char *key)
{
    for (int i = 0; i < S_SLOTS; i++)
        if (self->slots[i].key[0] && strcmp(self->slots[i].key, key) == 0)
            return &self->slots[i];
    return NULL;
}

int64_t gw_limiter_wait_ms(gw_limiter_t *self, const char *key, int limit, int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    s_slot_t *s = s_find(self, key);
    int64_t wait = 0;
    if (s && now_ms - s->window_start < self->window_ms && s->failures >= limit)
        wait = s->window_start + self->window_ms - now_ms;
    pthread_mutex_unlock(&self->lock);
    return wait;
}

void gw_limiter_fail(gw_limiter_t *self, const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    s_slot_t *s = s_find(self, key);
    if (!s) {
        /* A free slot, else the one whose window started longest ago. */
        s = &self->slots[0];
        for (int i = 0; i < S_SLOTS; i++) {
            if (!self->slots[i].key[0]) {
                s = &self->slots[i];
                break;
            }
            if (self->slots[i].window_start < s->window_start)
                s = &self->slots[i];
        }
        snprintf(s->key, sizeof s->key, "%s", key);
        s->failures = 0;
        s->window_start = now_ms;
    }
    if (now_ms - s->window_start >= self->window_ms) {
        s->failures = 0;
        s->window_start = now_ms;
    }
    s->failures++;
    pthread_mutex_unlock(&self->lock);
}

void gw_limiter_reset(gw_limiter_t *self, const char *key)
{
    pthread_mutex_lock(&self->lock);
    s_slot_t *s = s_find(self, key);
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&self->lock);
}

/* ---- the session cache ---- */

#define S_CACHE_SLOTS 1024

typedef struct {
    char hash[65];
    gw_cached_t entry;
    int64_t stored_ms;
} s_cache_slot_t;

struct gw_cache_t {
    pthread_mutex_t lock;
    int64_t ttl_ms;
    s_cache_slot_t slots[S_CACHE_SLOTS];
};

gw_cache_t *gw_cache_new(int64_t ttl_ms)
{
    gw_cache_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->ttl_ms = ttl_ms;
    return self;
}

void gw_cache_destroy(gw_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->lock);
    sodium_memzero(*self_p, sizeof **self_p);
    free(*self_p);
    *self_p = NULL;
}

/*  The slot of a hash: its first hex digits (the hash is uniform). */
static s_cache_slot_t *s_slot(gw_cache_t *self, const char *hash)
{
    unsigned v = 0;
    for (int i = 0; i < 6 && hash[i]; i++)
        v = v * 16 +
            (unsigned)(hash[i] <= '9' ? hash[i] - '0' : (hash[i] | 0x20) - 'a' + 10);
    return &self->slots[v % S_CACHE_SLOTS];
}

bool gw_cache_get(gw_cache_t *self, const char *hash, int64_t now_ms, gw_cached_t *out)
{
    if (self->ttl_ms <= 0)
        return false;
    pthread_mutex_lock(&self->lock);
    s_cache_slot_t *s = s_slot(self, hash);
    bool hit = strcmp(s->hash, hash) == 0 && now_ms - s->stored_ms < self->ttl_ms &&
               now_ms < s->entry.expires_ms;
    if (hit)
        *out = s->entry;
    pthread_mutex_unlock(&self->lock);
    return hit;
}

void gw_cache_put(gw_cache_t *self, const char *hash, const gw_cached_t *entry,
                  int64_t now_ms)
{
    if (self->ttl_ms <= 0)
        return;
    pthread_mutex_lock(&self->lock);
    s_cache_slot_t *s = s_slot(self, hash);
    snprintf(s->hash, sizeof s->hash, "%s", hash);
    s->entry = *entry;
    s->stored_ms = now_ms;
    pthread_mutex_unlock(&self->lock);
}

void gw_cache_evict(gw_cache_t *self, const char *hash)
{
    pthread_mutex_lock(&self->lock);
    s_cache_slot_t *s = s_slot(self, hash);
    if (strcmp(s->hash, hash) == 0)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&self->lock);
}
