/*  bench_gateway: what tb-gateway adds over the ZeroMQ API, same call, same run.
    Closed loop: N client threads each make `get` calls for one request for S
    seconds, first straight to tb-intake (tb_client, a DEALER each), then
    through the gateway (GET /api/v1/requests/ID with a bearer token, one
    keep-alive HTTP/1.1 connection each). Prints p50/p99 latency and calls per
    second of each path, the p50 the gateway adds and the throughput ratio.

    bench_gateway --api tcp://127.0.0.1:7101 --http 127.0.0.1:7110 --token T
                  --id REQUEST_ID [--clients 16] [--seconds 5] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "tb_client.h"
#include "tb_util.h"

#define S_MAX_SAMPLES 2000000

typedef struct {
    const char *api, *host, *token, *id;
    int port, seconds;
    void *zctx;
    /* results */
    int64_t *lat;
    size_t n, cap;
    int errors;
} s_job_t;

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void s_record(s_job_t *j, int64_t us)
{
    if (j->n < j->cap)
        j->lat[j->n++] = us;
}

static void *s_zmq_worker(void *arg)
{
    s_job_t *j = arg;
    tb_client_t *c = tb_client_new(j->zctx, j->api, NULL, 16u << 20);
    if (!c) {
        j->errors++;
        return NULL;
    }
    int64_t end = tb_mono_us() + (int64_t)j->seconds * 1000000;
    char cid[37];
    while (tb_mono_us() < end) {
        tb_arena_t *a = tb_arena_new(0);
        Techbridge__GetRequest g = TECHBRIDGE__GET_REQUEST__INIT;
        g.id = (char *)j->id;
        Techbridge__ApiRequest req = TECHBRIDGE__API_REQUEST__INIT;
        tb_uuid(cid);
        req.correlation_id = cid;
        req.body_case = TECHBRIDGE__API_REQUEST__BODY_GET;
        req.get = &g;
        Techbridge__ApiReply *reply = NULL;
        int64_t t0 = tb_mono_us();
        if (tb_client_call(c, &req, a, 5000, &reply) != 0 || reply->error)
            j->errors++;
        else
            s_record(j, tb_mono_us() - t0);
        tb_arena_destroy(&a);
    }
    tb_client_destroy(&c);
    return NULL;
}

static int s_connect(const s_job_t *j)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)j->port)};
    inet_pton(AF_INET, j->host, &sa.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/*  One keep-alive exchange: sends the request, reads one response (headers
    and Content-Length bytes). Returns its status, or -1. */
static int s_http_get(int fd, const char *req, size_t req_len, char *buf, size_t cap)
{
    if (send(fd, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len)
        return -1;
    size_t len = 0;
    char *body = NULL;
    long want = -1;
    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (!body && (body = strstr(buf, "\r\n\r\n"))) {
            body += 4;
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = cl ? strtol(cl + 17, NULL, 10) : 0;
        }
        if (body && (long)(len - (size_t)(body - buf)) >= want)
            break;
        if (len + 1 >= cap)
            return -1;
    }
    return atoi(buf + 9);
}

static void *s_http_worker(void *arg)
{
    s_job_t *j = arg;
    int fd = s_connect(j);
    if (fd < 0) {
        j->errors++;
        return NULL;
    }
    char req[512];
    int rl = snprintf(req, sizeof req,
                      "GET /api/v1/requests/%s HTTP/1.1\r\nHost: bench\r\n"
                      "Authorization: Bearer %s\r\n\r\n",
                      j->id, j->token);
    char *buf = malloc(1 << 20);
    int64_t end = tb_mono_us() + (int64_t)j->seconds * 1000000;
    while (tb_mono_us() < end) {
        int64_t t0 = tb_mono_us();
        int status = s_http_get(fd, req, (size_t)rl, buf, 1 << 20);
        if (status == 200) {
            s_record(j, tb_mono_us() - t0);
        } else {
            j->errors++;
            close(fd);
            if ((fd = s_connect(j)) < 0)
                break;
        }
    }
    free(buf);
    if (fd >= 0)
        close(fd);
    return NULL;
}

/*  Runs `clients` threads of `fn` and prints one line; returns calls/s. */
static double s_phase(const char *name, void *(*fn)(void *), s_job_t *proto, int clients,
                      int64_t *p50_out)
{
    s_job_t *jobs = calloc((size_t)clients, sizeof *jobs);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    int64_t t0 = tb_mono_us();
    for (int i = 0; i < clients; i++) {
        jobs[i] = *proto;
        jobs[i].cap = S_MAX_SAMPLES / (size_t)clients;
        jobs[i].lat = malloc(jobs[i].cap * sizeof(int64_t));
        pthread_create(&th[i], NULL, fn, &jobs[i]);
    }
    size_t total = 0;
    int errors = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].n;
        errors += jobs[i].errors;
    }
    double secs = (double)(tb_mono_us() - t0) / 1e6;
    int64_t *all = malloc((total + 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, jobs[i].lat, jobs[i].n * sizeof *all);
        k += jobs[i].n;
        free(jobs[i].lat);
    }
    qsort(all, total, sizeof *all, s_cmp);
    int64_t p50 = total ? all[total / 2] : 0, p99 = total ? all[total * 99 / 100] : 0;
    double rate = (double)total / secs;
    printf("%-5s clients=%-3d calls=%-8zu errors=%-4d calls/s=%-9.0f p50_us=%-6lld "
           "p99_us=%lld\n",
           name, clients, total, errors, rate, (long long)p50, (long long)p99);
    fflush(stdout);
    *p50_out = p50;
    free(all);
    free(jobs);
    free(th);
    return rate;
}

int main(int argc, char **argv)
{
    s_job_t job = {.host = "127.0.0.1", .seconds = 5};
    int clients = 16;
    const char *http = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--api"))
            job.api = argv[i + 1];
        else if (!strcmp(argv[i], "--http"))
            http = argv[i + 1];
        else if (!strcmp(argv[i], "--token"))
            job.token = argv[i + 1];
        else if (!strcmp(argv[i], "--id"))
            job.id = argv[i + 1];
        else if (!strcmp(argv[i], "--clients"))
            clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            job.seconds = atoi(argv[i + 1]);
    }
    if (!job.api || !http || !job.token || !job.id || clients < 1 || job.seconds < 1) {
        fprintf(stderr,
                "usage: bench_gateway --api EP --http HOST:PORT --token T --id ID "
                "[--clients N] [--seconds S]\n");
        return 2;
    }
    static char host[64];
    const char *colon = strrchr(http, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - http), http);
    job.host = host;
    job.port = atoi(colon + 1);
    job.zctx = zmq_ctx_new();
    int64_t zp50 = 0, hp50 = 0;
    double z = s_phase("zmq", s_zmq_worker, &job, clients, &zp50);
    double h = s_phase("http", s_http_worker, &job, clients, &hp50);
    /*  A gateway p50 below the direct call's is noise, not a gain: n/a. */
    char added[48], ratio[48];
    if (hp50 >= zp50)
        snprintf(added, sizeof added, "%lld", (long long)(hp50 - zp50));
    else
        snprintf(added, sizeof added, "n/a");
    if (z > 0)
        snprintf(ratio, sizeof ratio, "%.2f", h / z);
    else
        snprintf(ratio, sizeof ratio, "n/a");
    printf("clients=%d added_p50_us=%s throughput_ratio=%s\n", clients, added, ratio);
    zmq_ctx_term(job.zctx);
    return 0;
}
