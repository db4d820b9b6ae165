/*  gateway_store: the gateway's own tables (deploy/migrations/007): people,
    sessions and bearer tokens. Never the services' tables. A small pool of
    database sessions shared by the HTTP threads (a thread per connection would
    otherwise mean a PostgreSQL backend per browser). */
#ifndef GATEWAY_STORE_H
#define GATEWAY_STORE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gw_store_t gw_store_t;

/*  `size` sessions to `conninfo`. Applies the migrations (under the advisory
    lock, as the services do) when `migrate`, then checks that the schema is the
    one this binary knows. Returns NULL on failure (logged). */
gw_store_t *gw_store_new(const char *conninfo, int size, bool migrate);
void gw_store_destroy(gw_store_t **self_p);

/*  Results of the calls below: 0 done, GW_STORE_NONE (no such row),
    GW_STORE_EXISTS (a user of that name exists), -1 database error (logged). */
#define GW_STORE_NONE   1
#define GW_STORE_EXISTS 2

typedef struct {
    char name[65];
    char role[65];
    char password_hash[160];
    bool disabled;
} gw_user_t;

int gw_store_user_add(gw_store_t *self, const char *name, const char *role,
                      const char *password_hash);
/*  Sets the password and ends every session and token of the user. */
int gw_store_user_passwd(gw_store_t *self, const char *name, const char *password_hash);
/*  Disables the user and ends every session and token. */
int gw_store_user_disable(gw_store_t *self, const char *name);
int gw_store_user_get(gw_store_t *self, const char *name, gw_user_t *out);

/*  A session or token: `secret_hash` is the hex digest of its secret. */
typedef struct {
    char user[65];
    char role[65];
    char kind[16]; /* "session" or "token" */
    char csrf[64];
    int64_t expires_ms;
} gw_session_t;

int gw_store_session_add(gw_store_t *self, const char *secret_hash, const char *user,
                         const char *kind, const char *csrf, const char *label,
                         int64_t expires_ms);
/*  A live session: not expired, its user not disabled. GW_STORE_NONE otherwise. */
int gw_store_session_get(gw_store_t *self, const char *secret_hash, gw_session_t *out);
int gw_store_session_delete(gw_store_t *self, const char *secret_hash);
/*  Deletes expired sessions and tokens; *deleted gets how many. */
int gw_store_session_sweep(gw_store_t *self, long *deleted);

#endif
