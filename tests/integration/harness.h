/*  harness: what the integration tests share. Real PostgreSQL (env TB_TEST_PG: a
    libpq conninfo WITHOUT dbname), real service binaries (TB_INTAKE_BIN, ...,
    TBCTL_BIN compile definitions), real ZeroMQ. Nothing here uses Criterion's
    asserts: every helper returns a status and says why on stderr, so a test
    decides what a failure means. */
#ifndef TB_HARNESS_H
#define TB_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api.pb-c.h"
#include "tb_arena.h"

/* ---- PostgreSQL ---- */

/*  TB_TEST_PG, or NULL when unset (tests then skip). */
const char *tb_test_pg(void);

/*  Creates a fresh database with a unique name on the TB_TEST_PG server.
    Returns its conninfo (malloc'd: TB_TEST_PG plus " dbname=..."), or NULL. */
char *tb_test_db_new(void);
/*  Drops the database of `*conninfo_p` (terminating its sessions), frees and
    nulls it. Accepts NULL. */
void tb_test_db_drop(char **conninfo_p);

/*  Runs one SQL statement (no parameters, our own text only). Returns 0 or -1. */
int tb_test_sql_exec(const char *conninfo, const char *sql);
/*  Runs `sql` and reads the first column of the first row as an integer.
    Returns 0, or -1 (error, no row, NULL) after a line on stderr. */
int tb_test_sql_int(const char *conninfo, const char *sql, int64_t *out);
/*  The same, as a value: INT64_MIN on any failure (handy inside asserts). */
int64_t tb_test_sql_scalar(const char *conninfo, const char *sql);

/*  Stops / starts the PostgreSQL server of TB_TEST_PG with pg_ctl (env
    TB_TEST_PGDATA: data dir; TB_TEST_PGBIN: bin dir or pg_ctl path), as user
    postgres when we are root. Return 0 or -1. */
int tb_test_pg_stop(void);
int tb_test_pg_start(void);
/*  True when the restart helpers have what they need (env set). */
bool tb_test_pg_can_restart(void);
/*  Crash-restarts that server: `pg_ctl stop -m immediate` (no shutdown
    checkpoint, clients cut off mid-transaction, crash recovery on start), then
    tb_test_pg_start. Returns 0 or -1. */
int tb_test_pg_restart_immediate(void);

/* ---- time, ports, conditions ---- */

int64_t tb_test_now_ms(void);
/*  A free loopback TCP port (never the same one twice in a process), or -1. */
int tb_test_free_port(void);
/*  "tcp://127.0.0.1:PORT" with a free port into `out` (64 bytes). Returns 0/-1. */
int tb_test_endpoint(char out[64]);

/*  Polls `cond` with a short backoff (5 ms doubling to 100 ms) until it holds
    or `deadline_ms` passed. Returns true when it held. */
typedef bool (*tb_test_cond_fn)(void *arg);
bool tb_test_wait_until(tb_test_cond_fn cond, void *arg, int deadline_ms);

/* ---- processes ---- */

typedef struct tb_test_proc_t tb_test_proc_t;

/*  Starts `bin` with `args` (NULL-terminated, without argv[0]) and the current
    environment plus `env` ("K=V" strings, NULL-terminated; may be NULL).
    stdout and stderr go to <log dir>/<name>-<pid>.log (log dir: env
    TB_TEST_LOGDIR, else ./it-logs). The child dies with us (PDEATHSIG).
    Returns NULL on failure. */
tb_test_proc_t *tb_test_proc_start(const char *bin, const char *name,
                                   const char *const *args, const char *const *env);
pid_t tb_test_proc_pid(const tb_test_proc_t *self);
const char *tb_test_proc_log(const tb_test_proc_t *self);
/*  True while the process runs (reaps it when it exited; see exit_status). */
bool tb_test_proc_alive(tb_test_proc_t *self);
/*  The exit status once it exited (-1 while running, 128+N for a signal). */
int tb_test_proc_exit_status(tb_test_proc_t *self);
/*  Sends SIGTERM and waits up to `deadline_ms` for the exit. Returns the exit
    status (0..255, 128+signal), or -1 when it had to be SIGKILLed. Frees the
    handle and nulls it. */
int tb_test_proc_stop(tb_test_proc_t **self_p, int deadline_ms);
/*  SIGKILL, reap, free, null. Accepts NULL. */
void tb_test_proc_kill(tb_test_proc_t **self_p);
/*  Prints the last `bytes` of the process's log to stderr (for failures). */
void tb_test_proc_dump_log(const tb_test_proc_t *self, size_t bytes);

/*  Starts a service and waits until it answers a Health call at `api` within
    `deadline_ms`. On failure dumps its log, kills it and returns NULL. */
tb_test_proc_t *tb_test_service_start(const char *bin, const char *name, const char *api,
                                      const char *const *args, const char *const *env,
                                      int deadline_ms);

/* ---- API calls ---- */

/*  Sends `req` (a fresh correlation id when it has none) to `endpoint` on a
    REQ socket and returns the reply decoded into `arena`, or NULL when none
    came within `timeout_ms` (or it did not decode). */
Techbridge__ApiReply *tb_test_call(tb_arena_t *arena, const char *endpoint,
                                   Techbridge__ApiRequest *req, int timeout_ms);
/*  Sends raw bytes as one frame (DEALER, empty delimiter first) and returns the
    decoded reply, or NULL. For malformed-frame tests. */
Techbridge__ApiReply *tb_test_call_raw(tb_arena_t *arena, const char *endpoint,
                                       const void *data, size_t len, int timeout_ms);
/*  True when a Health call to `endpoint` is answered within `timeout_ms`. */
bool tb_test_health(const char *endpoint, int timeout_ms);
/*  The process's ZeroMQ context (made on first use). */
void *tb_test_zmq_ctx(void);

/* ---- running a command ---- */

typedef struct {
    int status; /* exit status, 128+N for a signal, -1: could not run / timed out */
    char *out;  /* captured stdout (malloc'd, NUL-terminated) */
    char *err;  /* captured stderr */
} tb_test_run_t;

/*  Runs `bin` with `args` (NULL-terminated, without argv[0]) and extra `env`,
    feeding `input` (may be NULL: /dev/null) on stdin, and waits up to
    `deadline_ms` (then SIGKILL, status -1). Returns 0 when it ran. */
int tb_test_run(tb_test_run_t *r, const char *bin, const char *const *args,
                const char *const *env, const char *input, int deadline_ms);
/*  tb_test_run of TBCTL_BIN. */
int tb_test_tbctl(tb_test_run_t *r, const char *const *args, const char *const *env,
                  const char *input);
void tb_test_run_free(tb_test_run_t *r);

/* ---- CURVE keys (services started with TB_KEYS_FILE / TB_SECRET_KEY_FILE) ---- */

/*  Writes a new key pair file <dir>/<name>.key (tb_auth_keypair_write) and
    gives its path (512 bytes) and public key (Z85). Returns 0 or -1. */
int tb_test_keypair(const char *dir, const char *name, char path[512],
                    char public_z85[41]);
/*  Makes every socket of tb_test_call, tb_test_call_raw and tb_test_health (so
    also tb_test_service_start) in this process a CURVE client with the key
    pair in `keypair_file`, talking to the server key `server_public_z85`.
    NULL clears it (plain sockets again). Returns 0 or -1. */
int tb_test_set_client_keys(const char *keypair_file, const char *server_public_z85);
/*  tb_test_call with the given CURVE client keys for this call only
    (keypair_file NULL: a plain socket). */
Techbridge__ApiReply *tb_test_call_keyed(tb_arena_t *arena, const char *endpoint,
                                         Techbridge__ApiRequest *req, int timeout_ms,
                                         const char *keypair_file,
                                         const char *server_public_z85);
/*  True when one line of the process's log holds `a` and (when not NULL) `b`. */
bool tb_test_log_has(const tb_test_proc_t *self, const char *a, const char *b);
/*  How many lines of the process's log hold `a` and (when not NULL) `b`. */
int tb_test_log_count(const tb_test_proc_t *self, const char *a, const char *b);
/*  The process's resident memory now and at its peak (VmRSS, VmHWM), in KiB.
    Returns 0 or -1. */
int tb_test_proc_memory(const tb_test_proc_t *self, int64_t *rss_kib, int64_t *peak_kib);
/*  Waits up to `deadline_ms` for tb_test_log_has. */
bool tb_test_log_wait(const tb_test_proc_t *self, const char *a, const char *b,
                      int deadline_ms);

/*  Reads a whole file (malloc'd, NUL-terminated) or NULL. */
char *tb_test_read_file(const char *path);
/*  Writes `text` to a new temporary file; returns its path (malloc'd) or NULL. */
char *tb_test_write_temp(const char *text);
/*  The path of tests/data/<name> (found from this source file's location, or
    env TB_TEST_DATA) into `out`. Returns `out`. */
const char *tb_test_data_path(const char *name, char out[512]);

#endif
