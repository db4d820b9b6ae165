/*  harness: see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "tb_auth.h"
#include "tb_util.h"
#include "tb_wire.h"

#define S_MAX_REPLY (16u * 1024 * 1024)

extern char **environ;

/* ---------------------------------------------------------------- time */

int64_t tb_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

bool tb_test_wait_until(tb_test_cond_fn cond, void *arg, int deadline_ms)
{
    int64_t end = tb_test_now_ms() + deadline_ms;
    int backoff = 5;
    for (;;) {
        if (cond(arg))
            return true;
        int64_t left = end - tb_test_now_ms();
        if (left <= 0)
            return false;
        s_sleep_ms((int)(left < backoff ? left : backoff));
        backoff = backoff * 2 > 100 ? 100 : backoff * 2;
    }
}

/* ---------------------------------------------------------------- files */

char *tb_test_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

char *tb_test_write_temp(const char *text)
{
    char path[] = "/tmp/tb-test-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0) {
            close(fd);
            unlink(path);
            return NULL;
        }
        off += (size_t)w;
    }
    close(fd);
    return strdup(path);
}

const char *tb_test_data_path(const char *name, char out[512])
{
    const char *env = getenv("TB_TEST_DATA");
    if (env && *env) {
        snprintf(out, 512, "%s/%s", env, name);
        return out;
    }
    /* __FILE__ is .../tests/integration/harness.c */
    char dir[400];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(out, 512, "%s/../data/%s", dir, name);
    return out;
}

/* ---------------------------------------------------------------- PostgreSQL */

const char *tb_test_pg(void)
{
    const char *pg = getenv("TB_TEST_PG");
    return pg && *pg ? pg : NULL;
}

static PGconn *s_connect(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot connect (%s): %s", conninfo,
                PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, NULL, NULL);
    return conn;
}

static char *s_admin_conninfo(void)
{
    const char *pg = tb_test_pg();
    if (!pg)
        return NULL;
    size_t n = strlen(pg) + 32;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s dbname=postgres", pg);
    return s;
}

int tb_test_sql_exec(const char *conninfo, const char *sql)
{
    PGconn *conn = s_connect(conninfo);
    if (!conn)
        return -1;
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "harness: SQL failed (%s): %s", sql, PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    return rc;
}

int tb_test_sql_int(const char *conninfo, const char *sql, int64_t *out)
{
    PGconn *conn = s_connect(conninfo);
    if (!conn)
        return -1;
    PGresult *res = PQexec(conn, sql);
    int rc = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "harness: SQL failed (%s): %s", sql, PQerrorMessage(conn));
    else if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0))
        fprintf(stderr, "harness: SQL gave no value (%s)\n", sql);
    else {
        *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        rc = 0;
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}

int64_t tb_test_sql_scalar(const char *conninfo, const char *sql)
{
    int64_t v = 0;
    return tb_test_sql_int(conninfo, sql, &v) == 0 ? v : INT64_MIN;
}

char *tb_test_db_new(void)
{
    char *admin = s_admin_conninfo();
    if (!admin) {
        fprintf(stderr, "harness: TB_TEST_PG is not set\n");
        return NULL;
    }
    static unsigned counter = 0;
    char uuid[37], name[64], sql[128];
    tb_uuid(uuid);
    snprintf(name, sizeof name, "tbtest_%d_%u_%.8s", (int)getpid(), counter++, uuid);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    int rc = tb_test_sql_exec(admin, sql);
    free(admin);
    if (rc != 0)
        return NULL;
    size_t n = strlen(tb_test_pg()) + strlen(name) + 16;
    char *conninfo = malloc(n);
    if (conninfo)
        snprintf(conninfo, n, "%s dbname=%s", tb_test_pg(), name);
    return conninfo;
}

void tb_test_db_drop(char **conninfo_p)
{
    if (!conninfo_p || !*conninfo_p)
        return;
    const char *at = strstr(*conninfo_p, "dbname=tbtest_");
    char *admin = s_admin_conninfo();
    if (at && admin) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %.100s WITH (FORCE)",
                 at + strlen("dbname="));
        tb_test_sql_exec(admin, sql);
    }
    free(admin);
    free(*conninfo_p);
    *conninfo_p = NULL;
}

bool tb_test_pg_can_restart(void)
{
    const char *data = getenv("TB_TEST_PGDATA");
    const char *bin = getenv("TB_TEST_PGBIN");
    return data && *data && bin && *bin;
}

/*  Runs pg_ctl with `a1 a2 ...` (as postgres when root). */
static int s_pg_ctl(const char *const *extra)
{
    if (!tb_test_pg_can_restart()) {
        fprintf(stderr, "harness: TB_TEST_PGDATA / TB_TEST_PGBIN are not set\n");
        return -1;
    }
    const char *bin = getenv("TB_TEST_PGBIN");
    char pg_ctl[512];
    size_t bl = strlen(bin);
    if (bl >= 6 && strcmp(bin + bl - 6, "pg_ctl") == 0)
        snprintf(pg_ctl, sizeof pg_ctl, "%s", bin);
    else
        snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", bin);
    const char *args[16];
    int n = 0;
    const char *prog = pg_ctl;
    if (geteuid() == 0) {
        prog = "/usr/sbin/runuser";
        args[n++] = "-u";
        args[n++] = "postgres";
        args[n++] = "--";
        args[n++] = pg_ctl;
    }
    args[n++] = "-D";
    args[n++] = getenv("TB_TEST_PGDATA");
    for (int i = 0; extra[i] && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    tb_test_run_t r;
    int rc = tb_test_run(&r, prog, args, NULL, NULL, 60000);
    if (rc != 0 || r.status != 0) {
        fprintf(stderr, "harness: pg_ctl failed (%d): %s%s", r.status, r.out ? r.out : "",
                r.err ? r.err : "");
        rc = -1;
    }
    tb_test_run_free(&r);
    return rc;
}

int tb_test_pg_stop(void)
{
    const char *args[] = {"stop", "-m", "fast", "-w", "-t", "30", NULL};
    return s_pg_ctl(args);
}

int tb_test_pg_restart_immediate(void)
{
    const char *args[] = {"stop", "-m", "immediate", "-w", "-t", "30", NULL};
    if (s_pg_ctl(args) != 0)
        return -1;
    return tb_test_pg_start();
}

int tb_test_pg_start(void)
{
    char log[600];
    snprintf(log, sizeof log, "%s/../pg.log",
             getenv("TB_TEST_PGDATA") ? getenv("TB_TEST_PGDATA") : ".");
    const char *args[] = {"start", "-w", "-t", "60", "-l", log, NULL};
    return s_pg_ctl(args);
}

/* ---------------------------------------------------------------- ports */

int tb_test_free_port(void)
{
    static int given[256];
    static int ngiven = 0;
    for (int attempt = 0; attempt < 50; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        int port = -1;
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
            port = ntohs(sa.sin_port);
        close(fd);
        bool seen = false;
        for (int i = 0; i < ngiven; i++)
            seen = seen || given[i] == port;
        if (port > 0 && !seen) {
            given[ngiven++ % 256] = port;
            return port;
        }
    }
    return -1;
}

int tb_test_endpoint(char out[64])
{
    int port = tb_test_free_port();
    if (port < 0)
        return -1;
    snprintf(out, 64, "tcp://127.0.0.1:%d", port);
    return 0;
}

/* ---------------------------------------------------------------- processes */

struct tb_test_proc_t {
    pid_t pid;
    int status; /* -1 while running */
    char log[512];
};

static const char *s_log_dir(void)
{
    const char *dir = getenv("TB_TEST_LOGDIR");
    if (!dir || !*dir)
        dir = "it-logs";
    mkdir(dir, 0755);
    return dir;
}

/*  The environment for a child: ours, with `extra` ("K=V") overriding. */
static char **s_child_env(const char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (extra && extra[k])
        k++;
    char **env = calloc(n + k + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        bool overridden = false;
        for (size_t j = 0; j < k; j++) {
            const char *eq = strchr(extra[j], '=');
            size_t klen = eq ? (size_t)(eq - extra[j]) : strlen(extra[j]);
            overridden = overridden || (strncmp(environ[i], extra[j], klen) == 0 &&
                                        environ[i][klen] == '=');
        }
        if (!overridden)
            env[out++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        env[out++] = (char *)extra[j];
    env[out] = NULL;
    return env;
}

/*  In the child: default signals, no inherited descriptors past 2, die with
    the parent, then exec. Never returns. */
static void s_child_exec(const char *bin, const char *const *args, char **env, int in_fd,
                         int out_fd, int err_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    size_t n = 0;
    while (args && args[n])
        n++;
    const char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        _exit(127);
    argv[0] = bin;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = args[i];
    execve(bin, (char *const *)argv, env);
    dprintf(2, "harness: exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

static int s_decode_status(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return -1;
}

tb_test_proc_t *tb_test_proc_start(const char *bin, const char *name,
                                   const char *const *args, const char *const *env)
{
    tb_test_proc_t *self = calloc(1, sizeof *self);
    char **cenv = s_child_env(env);
    int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/%s-%d-%lld.log", s_log_dir(), name, (int)getpid(),
             (long long)tb_test_now_ms());
    int log_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!self || !cenv || in_fd < 0 || log_fd < 0) {
        fprintf(stderr, "harness: cannot start %s: %s\n", name, strerror(errno));
        free(self);
        free(cenv);
        if (in_fd >= 0)
            close(in_fd);
        if (log_fd >= 0)
            close(log_fd);
        return NULL;
    }
    snprintf(self->log, sizeof self->log, "%s", tmp);
    self->status = -1;
    fflush(NULL);
    self->pid = fork();
    if (self->pid == 0)
        s_child_exec(bin, args, cenv, in_fd, log_fd, log_fd);
    close(in_fd);
    close(log_fd);
    free(cenv);
    if (self->pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        free(self);
        return NULL;
    }
    return self;
}

pid_t tb_test_proc_pid(const tb_test_proc_t *self)
{
    return self->pid;
}

const char *tb_test_proc_log(const tb_test_proc_t *self)
{
    return self->log;
}

bool tb_test_proc_alive(tb_test_proc_t *self)
{
    if (self->status >= 0)
        return false;
    int wstatus = 0;
    pid_t r = waitpid(self->pid, &wstatus, WNOHANG);
    if (r == self->pid) {
        self->status = s_decode_status(wstatus);
        return false;
    }
    return r == 0;
}

int tb_test_proc_exit_status(tb_test_proc_t *self)
{
    tb_test_proc_alive(self);
    return self->status;
}

static bool s_proc_exited(void *arg)
{
    return !tb_test_proc_alive(arg);
}

int tb_test_proc_stop(tb_test_proc_t **self_p, int deadline_ms)
{
    tb_test_proc_t *self = *self_p;
    if (!self)
        return -1;
    if (tb_test_proc_alive(self))
        kill(self->pid, SIGTERM);
    int status = -1;
    if (tb_test_wait_until(s_proc_exited, self, deadline_ms))
        status = self->status;
    else {
        fprintf(stderr, "harness: %s did not exit within %d ms of SIGTERM\n", self->log,
                deadline_ms);
        kill(self->pid, SIGKILL);
        waitpid(self->pid, NULL, 0);
    }
    free(self);
    *self_p = NULL;
    return status;
}

void tb_test_proc_kill(tb_test_proc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_test_proc_t *self = *self_p;
    if (tb_test_proc_alive(self)) {
        kill(self->pid, SIGKILL);
        waitpid(self->pid, NULL, 0);
    }
    free(self);
    *self_p = NULL;
}

void tb_test_proc_dump_log(const tb_test_proc_t *self, size_t bytes)
{
    char *text = tb_test_read_file(self->log);
    if (!text)
        return;
    size_t len = strlen(text);
    const char *from = len > bytes ? text + len - bytes : text;
    fprintf(stderr, "---- last of %s ----\n%s\n---- end ----\n", self->log, from);
    free(text);
}

tb_test_proc_t *tb_test_service_start(const char *bin, const char *name, const char *api,
                                      const char *const *args, const char *const *env,
                                      int deadline_ms)
{
    tb_test_proc_t *p = tb_test_proc_start(bin, name, args, env);
    if (!p)
        return NULL;
    int64_t end = tb_test_now_ms() + deadline_ms;
    while (tb_test_now_ms() < end) {
        if (!tb_test_proc_alive(p))
            break;
        if (tb_test_health(api, 200))
            return p;
    }
    fprintf(stderr, "harness: %s did not answer Health at %s within %d ms (exit %d)\n",
            name, api, deadline_ms, tb_test_proc_exit_status(p));
    tb_test_proc_dump_log(p, 4000);
    tb_test_proc_kill(&p);
    return NULL;
}

/* ---------------------------------------------------------------- API calls */

void *tb_test_zmq_ctx(void)
{
    static void *ctx = NULL;
    static pid_t owner = 0;
    /* Criterion forks per test: a context is not valid across fork */
    if (!ctx || owner != getpid()) {
        ctx = zmq_ctx_new();
        owner = getpid();
    }
    return ctx;
}

/*  The client keys of tb_test_set_client_keys ("" file: none). */
static char s_key_file[512];
static char s_server_key[41];

int tb_test_set_client_keys(const char *keypair_file, const char *server_public_z85)
{
    s_key_file[0] = '\0';
    s_server_key[0] = '\0';
    if (!keypair_file)
        return 0;
    if (!server_public_z85 || !tb_auth_z85_valid(server_public_z85) ||
        strlen(keypair_file) >= sizeof s_key_file) {
        fprintf(stderr, "harness: bad client keys (%s)\n", keypair_file);
        return -1;
    }
    snprintf(s_key_file, sizeof s_key_file, "%s", keypair_file);
    snprintf(s_server_key, sizeof s_server_key, "%s", server_public_z85);
    return 0;
}

/*  A connected client socket; CURVE with `key_file` (NULL: plain). */
static void *s_client_keyed(const char *endpoint, int type, const char *key_file,
                            const char *server_key)
{
    void *sock = zmq_socket(tb_test_zmq_ctx(), type);
    if (!sock)
        return NULL;
    if ((key_file && tb_auth_client_setup(sock, key_file, server_key) != 0) ||
        tb_wire_socket_setup(sock, S_MAX_REPLY / 4) != 0 ||
        zmq_connect(sock, endpoint) != 0) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

static void *s_client(const char *endpoint, int type)
{
    return s_client_keyed(endpoint, type, s_key_file[0] ? s_key_file : NULL,
                          s_server_key);
}

Techbridge__ApiReply *tb_test_call(tb_arena_t *arena, const char *endpoint,
                                   Techbridge__ApiRequest *req, int timeout_ms)
{
    return tb_test_call_keyed(arena, endpoint, req, timeout_ms,
                              s_key_file[0] ? s_key_file : NULL, s_server_key);
}

Techbridge__ApiReply *tb_test_call_keyed(tb_arena_t *arena, const char *endpoint,
                                         Techbridge__ApiRequest *req, int timeout_ms,
                                         const char *keypair_file,
                                         const char *server_public_z85)
{
    if (!req->correlation_id || !*req->correlation_id) {
        char cid[37];
        tb_uuid(cid);
        req->correlation_id = tb_arena_strdup(arena, cid);
    }
    void *sock = s_client_keyed(endpoint, ZMQ_REQ, keypair_file, server_public_z85);
    if (!sock)
        return NULL;
    Techbridge__ApiReply *reply = NULL;
    if (tb_wire_send(sock, &req->base, false) == 0)
        reply = (Techbridge__ApiReply *)tb_wire_recv(sock, arena,
                                                     &techbridge__api_reply__descriptor,
                                                     S_MAX_REPLY, false, timeout_ms);
    zmq_close(sock);
    return reply;
}

Techbridge__ApiReply *tb_test_call_raw(tb_arena_t *arena, const char *endpoint,
                                       const void *data, size_t len, int timeout_ms)
{
    void *sock = s_client(endpoint, ZMQ_DEALER);
    if (!sock)
        return NULL;
    Techbridge__ApiReply *reply = NULL;
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE) == 0 &&
        zmq_send(sock, data, len, 0) == (int)len)
        reply = (Techbridge__ApiReply *)tb_wire_recv(sock, arena,
                                                     &techbridge__api_reply__descriptor,
                                                     S_MAX_REPLY, true, timeout_ms);
    zmq_close(sock);
    return reply;
}

bool tb_test_health(const char *endpoint, int timeout_ms)
{
    tb_arena_t *arena = tb_arena_new(0);
    Techbridge__Health h = TECHBRIDGE__HEALTH__INIT;
    Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
    req.body_case = TECHBRIDGE__API_REQUEST__BODY_HEALTH;
    req.health = &h;
    Techbridge__ApiReply *reply = tb_test_call(arena, endpoint, &req, timeout_ms);
    bool ok = reply != NULL;
    tb_arena_destroy(&arena);
    return ok;
}

/* ---------------------------------------------------------------- commands */

static char *s_slurp_fd(int fd)
{
    lseek(fd, 0, SEEK_SET);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    return buf ? buf : strdup("");
}

static int s_temp_fd(void)
{
    char path[] = "/tmp/tb-run-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int s_input_fd(const char *input)
{
    if (!input)
        return open("/dev/null", O_RDONLY);
    int fd = s_temp_fd();
    if (fd < 0)
        return -1;
    size_t len = strlen(input);
    if (write(fd, input, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

int tb_test_run(tb_test_run_t *r, const char *bin, const char *const *args,
                const char *const *env, const char *input, int deadline_ms)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    int in_fd = s_input_fd(input), out_fd = s_temp_fd(), err_fd = s_temp_fd();
    char **cenv = s_child_env(env);
    pid_t pid = -1;
    if (in_fd >= 0 && out_fd >= 0 && err_fd >= 0 && cenv) {
        fflush(NULL);
        pid = fork();
        if (pid == 0)
            s_child_exec(bin, args, cenv, in_fd, out_fd, err_fd);
    }
    free(cenv);
    if (pid > 0) {
        tb_test_proc_t p = {.pid = pid, .status = -1};
        if (tb_test_wait_until(s_proc_exited, &p, deadline_ms))
            r->status = p.status;
        else {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fprintf(stderr, "harness: %s timed out after %d ms\n", bin, deadline_ms);
        }
    }
    r->out = out_fd >= 0 ? s_slurp_fd(out_fd) : strdup("");
    r->err = err_fd >= 0 ? s_slurp_fd(err_fd) : strdup("");
    for (int fd = 0, fds[3] = {in_fd, out_fd, err_fd}; fd < 3; fd++)
        if (fds[fd] >= 0)
            close(fds[fd]);
    return pid > 0 ? 0 : -1;
}

int tb_test_tbctl(tb_test_run_t *r, const char *const *args, const char *const *env,
                  const char *input)
{
#ifdef TBCTL_BIN
    return tb_test_run(r, TBCTL_BIN, args, env, input, 60000);
#else
    (void)args;
    (void)env;
    (void)input;
    memset(r, 0, sizeof *r);
    r->status = -1;
    fprintf(stderr, "harness: tbctl was not built\n");
    return -1;
#endif
}

void tb_test_run_free(tb_test_run_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* ---------------------------------------------------------------- keys, logs */

int tb_test_keypair(const char *dir, const char *name, char path[512],
                    char public_z85[41])
{
    snprintf(path, 512, "%s/%s.key", dir, name);
    if (tb_auth_keypair_write(path) != 0 || tb_auth_public_load(path, public_z85) != 0) {
        fprintf(stderr, "harness: cannot make the key pair %s\n", path);
        return -1;
    }
    return 0;
}

int tb_test_log_count(const tb_test_proc_t *self, const char *a, const char *b)
{
    char *text = tb_test_read_file(self->log);
    if (!text)
        return 0;
    int count = 0;
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (strstr(line, a) && (!b || strstr(line, b)))
            count++;
        line = end ? end + 1 : NULL;
    }
    free(text);
    return count;
}

bool tb_test_log_has(const tb_test_proc_t *self, const char *a, const char *b)
{
    return tb_test_log_count(self, a, b) > 0;
}

int tb_test_proc_memory(const tb_test_proc_t *self, int64_t *rss_kib, int64_t *peak_kib)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)self->pid);
    char *text = tb_test_read_file(path);
    if (!text)
        return -1;
    const char *rss = strstr(text, "VmRSS:"), *hwm = strstr(text, "VmHWM:");
    if (rss_kib)
        *rss_kib = rss ? strtoll(rss + 6, NULL, 10) : -1;
    if (peak_kib)
        *peak_kib = hwm ? strtoll(hwm + 6, NULL, 10) : -1;
    free(text);
    return rss && hwm ? 0 : -1;
}

typedef struct {
    const tb_test_proc_t *proc;
    const char *a, *b;
} s_log_cond_t;

static bool s_log_cond(void *arg)
{
    s_log_cond_t *c = arg;
    return tb_test_log_has(c->proc, c->a, c->b);
}

bool tb_test_log_wait(const tb_test_proc_t *self, const char *a, const char *b,
                      int deadline_ms)
{
    s_log_cond_t c = {self, a, b};
    return tb_test_wait_until(s_log_cond, &c, deadline_ms);
}
