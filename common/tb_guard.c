/*  tb_guard: per-connection ceilings on what libzmq holds for a ROUTER. */
#include "tb_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <zmq.h>

#include "tb_log.h"
#include "tb_loglimit.h"
#include "tb_util.h"

/*  The descriptors libzmq accepted, by descriptor modulo S_SLOTS (a clash
    leaves the older one unwatched: it is still bounded by `total` once it
    is seen again after a message). */
#define S_SLOTS 1024

typedef struct {
    int fd;         /* -1: empty */
    uint64_t taken; /* bytes libzmq had read when the service last took a message */
    bool took;      /* the service took a message since the last check */
    bool cut;
} s_conn_t;

struct tb_guard_t {
    size_t watched; /* connections in conns */
    char name[32];
    void *monitor; /* PAIR end of the router's socket monitor */
    void *router;
    int port; /* the router's TCP port: a descriptor is cut only if it is ours */
    uint64_t per_peer, total;
    s_conn_t conns[S_SLOTS];
    uint64_t cuts;
    int64_t next_us;
    tb_loglimit_t *log; /* api.peer_cut lines */
};

/*  Bytes libzmq has read from a TCP connection: what TCP received less what
    still waits in the kernel. False when `fd` is no TCP socket (ipc). */
static bool s_read_bytes(int fd, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) +
                  sizeof ti.tcpi_bytes_received)
        return false;
    int unread = 0;
    if (ioctl(fd, SIOCINQ, &unread) != 0 || unread < 0)
        unread = 0;
    uint64_t got = ti.tcpi_bytes_received;
    *out = got > (uint64_t)unread ? got - (uint64_t)unread : 0;
    return true;
}

/*  The TCP port `socket` is bound to, or 0. */
static int s_bound_port(void *socket)
{
    char bound[256];
    size_t size = sizeof bound;
    if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, bound, &size) == 0 &&
        strncmp(bound, "tcp://", 6) == 0 && strrchr(bound, ':'))
        return atoi(strrchr(bound, ':') + 1);
    return 0;
}

/*  The peer's address of `fd` into `out` ("?" when unknown). */
static void s_peer_name(int fd, char out[64])
{
    snprintf(out, 64, "?");
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0)
        return;
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, out, 64);
    else if (sa.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, out, 64);
}

static s_conn_t *s_slot(tb_guard_t *self, int fd)
{
    return fd >= 0 ? &self->conns[fd % S_SLOTS] : NULL;
}

/*  Starts a monitor of `socket` (connections accepted and lost) and returns
    the PAIR end that reads it, or NULL. `tag` makes the endpoint unique. */
static void *s_monitor_open(void *ctx, void *socket, const void *tag)
{
    char endpoint[96];
    snprintf(endpoint, sizeof endpoint, "inproc://tb-guard-%p", tag);
    int linger = 0;
    void *monitor = NULL;
    if (zmq_socket_monitor(socket, endpoint,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0 ||
        !(monitor = zmq_socket(ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(monitor, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(monitor, endpoint) != 0) {
        if (monitor)
            zmq_close(monitor);
        zmq_socket_monitor(socket, NULL, 0);
        return NULL;
    }
    return monitor;
}

/*  The next event the monitor holds ([event u16, value u32][endpoint]), without
    waiting. Returns false when none. */
static bool s_monitor_next(void *monitor, uint16_t *event, int *fd)
{
    for (;;) {
        zmq_msg_t head, addr;
        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&head);
            return false;
        }
        zmq_msg_init(&addr);
        if (zmq_msg_more(&head))
            zmq_msg_recv(&addr, monitor, 0);
        bool ok = zmq_msg_size(&head) >= 6;
        if (ok) {
            uint32_t value;
            memcpy(event, zmq_msg_data(&head), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&head) + 2, 4);
            *fd = (int)value;
        }
        zmq_msg_close(&head);
        zmq_msg_close(&addr);
        if (ok)
            return true;
    }
}

tb_guard_t *tb_guard_new(void *ctx, void *router, const char *name, uint64_t per_peer,
                         uint64_t total)
{
    tb_guard_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->name, sizeof self->name, "%s", name);
    self->router = router;
    self->port = s_bound_port(router);
    self->per_peer = per_peer;
    self->total = total;
    for (size_t i = 0; i < S_SLOTS; i++)
        self->conns[i].fd = -1;
    self->log = tb_loglimit_new(64, 3, 60, 60LL * 1000 * 1000);
    if (!self->log || !(self->monitor = s_monitor_open(ctx, router, self))) {
        tb_error("guard.failed", NULL, TB_S("socket", name),
                 TB_S("error", zmq_strerror(errno)));
        tb_guard_destroy(&self);
        return NULL;
    }
    return self;
}

void tb_guard_destroy(tb_guard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_guard_t *self = *self_p;
    if (self->monitor) {
        zmq_socket_monitor(self->router, NULL, 0);
        zmq_close(self->monitor);
    }
    tb_loglimit_destroy(&self->log);
    free(self);
    *self_p = NULL;
}

void tb_guard_took(tb_guard_t *self, int fd)
{
    s_conn_t *c = self ? s_slot(self, fd) : NULL;
    if (c && c->fd == fd)
        c->took = true;
}

/*  Applies the monitor's events. */
static void s_events(tb_guard_t *self)
{
    uint16_t event;
    int fd;
    while (s_monitor_next(self->monitor, &event, &fd)) {
        s_conn_t *c = s_slot(self, fd);
        uint64_t now_read = 0;
        if (c && event == ZMQ_EVENT_ACCEPTED && s_read_bytes(fd, &now_read)) {
            if (c->fd < 0)
                self->watched++;
            *c = (s_conn_t){.fd = fd, .taken = now_read};
        } else if (c && c->fd == fd && event == ZMQ_EVENT_DISCONNECTED) {
            if (c->cut)
                malloc_trim(0); /* its unfinished message is freed: give it back */
            c->fd = -1;
            self->watched--;
        }
    }
}

/*  Whether `fd` is still a connection accepted on the router's port: libzmq
    may have closed it, and its number gone to another socket (a database
    session), between the monitor's last event and this check. */
static bool s_on_port(int port, int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (port <= 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return false;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port) == port;
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port) == port;
    return false;
}

static void s_cut(tb_guard_t *self, s_conn_t *c, uint64_t held, const char *why)
{
    if (!s_on_port(self->port, c->fd)) {
        c->fd = -1;
        self->watched--;
        return;
    }
    /* The peer's address first: a socket shut down has no peer any more. */
    char peer[64];
    s_peer_name(c->fd, peer);
    c->cut = true;
    self->cuts++;
    shutdown(c->fd, SHUT_RDWR);
    uint64_t suppressed = 0;
    if (tb_loglimit_allow(self->log, peer, tb_mono_us(), &suppressed))
        tb_warn("api.peer_cut", NULL, TB_S("socket", self->name), TB_S("peer", peer),
                TB_I("buffered", (int64_t)held), TB_I("limit", (int64_t)self->per_peer),
                TB_S("reason", why), TB_I("suppressed", (int64_t)suppressed));
}

void tb_guard_check(tb_guard_t *self)
{
    if (!self)
        return;
    /* Events at once (a new connection is watched from its first bytes), the
       connections every TB_GUARD_PERIOD_MS. */
    s_events(self);
    int64_t now = tb_mono_us();
    if (now < self->next_us)
        return;
    self->next_us = now + TB_GUARD_PERIOD_MS * 1000LL;
    uint64_t sum = 0, largest = 0;
    s_conn_t *worst = NULL;
    for (size_t i = 0; i < S_SLOTS; i++) {
        s_conn_t *c = &self->conns[i];
        uint64_t read = 0;
        if (c->fd < 0 || c->cut || !s_read_bytes(c->fd, &read))
            continue;
        if (c->took || read < c->taken) {
            /* What the service took may include a little of what followed;
               the next check measures from here. */
            c->took = false;
            c->taken = read;
            continue;
        }
        uint64_t held = read - c->taken;
        if (held > self->per_peer) {
            s_cut(self, c, held, "the connection's unread messages passed the limit");
            continue;
        }
        sum += held;
        if (held > largest) {
            largest = held;
            worst = c;
        }
    }
    if (worst && self->total > 0 && sum > self->total)
        s_cut(self, worst, largest, "all connections' unread messages passed the limit");
}

void *tb_guard_socket(const tb_guard_t *self)
{
    return self ? self->monitor : NULL;
}

bool tb_guard_watching(const tb_guard_t *self)
{
    return self && self->watched > 0;
}

uint64_t tb_guard_cuts(const tb_guard_t *self)
{
    return self ? self->cuts : 0;
}

/* ---- budget: peers that have little to say, watched from a thread ---- */

#define S_BUDGET_EVENTS 64

typedef struct {
    int fd; /* -1: empty */
    int64_t window_us;
    uint64_t base; /* bytes read when the window opened */
    bool cut;
} s_spender_t;

struct tb_guard_budget_t {
    char name[32];
    void *socket;
    void *monitor; /* the thread's */
    int port;
    int epfd;
    uint64_t budget;
    int64_t window_us;
    s_spender_t conns[S_SLOTS];
    pthread_t thread;
    bool started;
    atomic_bool stop;
    tb_loglimit_t *log; /* the thread's */
};

static void s_budget_events(tb_guard_budget_t *self)
{
    uint16_t event;
    int fd;
    while (s_monitor_next(self->monitor, &event, &fd)) {
        s_spender_t *c = &self->conns[fd % S_SLOTS];
        uint64_t read = 0;
        if (event == ZMQ_EVENT_ACCEPTED && s_read_bytes(fd, &read)) {
            *c = (s_spender_t){.fd = fd, .window_us = tb_mono_us(), .base = read};
            struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = fd};
            epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev);
        } else if (event == ZMQ_EVENT_DISCONNECTED && c->fd == fd) {
            epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL); /* may be closed: fine */
            c->fd = -1;
        }
    }
}

/*  Data arrived on `fd`: within its window, more than the budget cuts it. */
static void s_budget_spent(tb_guard_budget_t *self, int fd)
{
    s_spender_t *c = &self->conns[fd % S_SLOTS];
    uint64_t read = 0;
    if (c->fd != fd || c->cut || !s_read_bytes(fd, &read))
        return;
    int64_t now = tb_mono_us();
    if (now - c->window_us >= self->window_us || read < c->base) {
        c->window_us = now;
        c->base = read;
        return;
    }
    if (read - c->base <= self->budget || !s_on_port(self->port, fd))
        return;
    char peer[64];
    s_peer_name(fd, peer);
    c->cut = true;
    shutdown(fd, SHUT_RDWR);
    uint64_t suppressed = 0;
    if (tb_loglimit_allow(self->log, peer, now, &suppressed))
        tb_warn("guard.peer_cut", NULL, TB_S("socket", self->name), TB_S("peer", peer),
                TB_I("bytes", (int64_t)(read - c->base)),
                TB_I("limit", (int64_t)self->budget),
                TB_I("suppressed", (int64_t)suppressed));
}

static void *s_budget_main(void *arg)
{
    tb_guard_budget_t *self = arg;
    while (!atomic_load(&self->stop)) {
        zmq_pollitem_t items[2] = {{.socket = self->monitor, .events = ZMQ_POLLIN},
                                   {.fd = self->epfd, .events = ZMQ_POLLIN}};
        if (zmq_poll(items, 2, 100) < 0) {
            if (errno == EINTR)
                continue;
            break; /* the context is ending */
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_budget_events(self);
        struct epoll_event evs[S_BUDGET_EVENTS];
        int n = epoll_wait(self->epfd, evs, S_BUDGET_EVENTS, 0);
        for (int i = 0; i < n; i++)
            s_budget_spent(self, evs[i].data.fd);
    }
    return NULL;
}

tb_guard_budget_t *tb_guard_budget_new(void *ctx, void *socket, const char *name,
                                       uint64_t budget, int window_ms)
{
    tb_guard_budget_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->name, sizeof self->name, "%s", name);
    self->socket = socket;
    self->port = s_bound_port(socket);
    self->budget = budget;
    self->window_us = (int64_t)window_ms * 1000;
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < S_SLOTS; i++)
        self->conns[i].fd = -1;
    self->log = tb_loglimit_new(64, 3, 60, 60LL * 1000 * 1000);
    sigset_t all, old;
    bool ok = self->epfd >= 0 && self->log &&
              (self->monitor = s_monitor_open(ctx, socket, self)) != NULL;
    if (ok) {
        /* Signals are the service thread's: block them all in this one. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        ok = pthread_create(&self->thread, NULL, s_budget_main, self) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        self->started = ok;
    }
    if (!ok) {
        tb_error("guard.failed", NULL, TB_S("socket", name),
                 TB_S("error", zmq_strerror(errno)));
        tb_guard_budget_destroy(&self);
        return NULL;
    }
    return self;
}

void tb_guard_budget_destroy(tb_guard_budget_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_guard_budget_t *self = *self_p;
    if (self->started) {
        atomic_store(&self->stop, true);
        pthread_join(self->thread, NULL);
    }
    if (self->monitor) {
        zmq_socket_monitor(self->socket, NULL, 0);
        zmq_close(self->monitor);
    }
    if (self->epfd >= 0)
        close(self->epfd);
    tb_loglimit_destroy(&self->log);
    free(self);
    *self_p = NULL;
}
