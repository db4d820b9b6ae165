/*  tb_wire: protobuf messages over ZeroMQ, with libzmq directly. */
#include "tb_wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "tb_log.h"

#define S_MAX_ENVELOPE 8 /* routing frames, the empty delimiter included */

struct tb_msg_t {
    zmq_msg_t envelope[S_MAX_ENVELOPE];
    int n_envelope;
    zmq_msg_t body;
    bool has_body;
    bool delimited; /* false: [id][body] from a DEALER that left out the "" frame */
    int body_frames;
    char *user_id;
    int fd;       /* the connection libzmq read it from ("__fd"), -1: unknown */
    void *router; /* where the request came from: the reply goes back there */
};

int tb_wire_socket_setup_mech(void *socket, size_t max_frame, bool curve)
{
    int linger = 0;
    if (zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger) != 0)
        return -1;
    if (max_frame > 0) {
        /* A hard ceiling well above max_frame: a frame a bit too large still
           arrives and gets an error reply; only absurd ones cut the peer. */
        int64_t ceiling =
            max_frame > (size_t)(INT64_MAX / 8) ? INT64_MAX / 2 : (int64_t)max_frame * 4;
        if (curve)
            ceiling += TB_WIRE_CURVE_OVERHEAD;
        if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &ceiling, sizeof ceiling) != 0)
            return -1;
    }
    return 0;
}

int tb_wire_socket_setup(void *socket, size_t max_frame)
{
    return tb_wire_socket_setup_mech(socket, max_frame, false);
}

static bool s_more(void *socket)
{
    int more = 0;
    size_t size = sizeof more;
    if (zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &size) != 0)
        return false;
    return more != 0;
}

/*  Reads and drops what is left of a multipart message; returns the number of
    frames dropped. */
static int s_drain(void *socket)
{
    int n = 0;
    while (s_more(socket)) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        int rc = zmq_msg_recv(&part, socket, 0);
        zmq_msg_close(&part);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc >= 0)
            n++;
    }
    return n;
}

void tb_msg_destroy(tb_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tb_msg_t *self = *self_p;
    for (int i = 0; i < self->n_envelope; i++)
        zmq_msg_close(&self->envelope[i]);
    zmq_msg_close(&self->body);
    free(self->user_id);
    free(self);
    *self_p = NULL;
}

static tb_msg_t *s_malformed(tb_msg_t **self_p, void *router, const char *reason)
{
    int frames = (*self_p)->n_envelope + s_drain(router);
    tb_warn("api.malformed_envelope", NULL, TB_S("reason", reason),
            TB_I("frames", frames));
    tb_msg_destroy(self_p);
    errno = EPROTO; /* tells a dropped message from "nothing waiting" (EAGAIN) */
    return NULL;
}

static tb_msg_t *s_user_id(tb_msg_t *self, zmq_msg_t *meta)
{
    const char *fd = zmq_msg_gets(meta, "__fd");
    self->fd = fd ? atoi(fd) : -1;
    const char *user_id = zmq_msg_gets(meta, "User-Id");
    self->user_id = strdup(user_id ? user_id : "");
    if (!self->user_id) {
        tb_msg_destroy(&self);
        return NULL;
    }
    return self;
}

static tb_msg_t *s_undelimited(tb_msg_t *self)
{
    zmq_msg_move(&self->body, &self->envelope[1]);
    zmq_msg_close(&self->envelope[1]);
    self->n_envelope = 1;
    self->has_body = true;
    self->body_frames = 1;
    self->delimited = false;
    return s_user_id(self, &self->body);
}

tb_msg_t *tb_msg_recv(void *router)
{
    tb_msg_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    zmq_msg_init(&self->body);

    /* The first frame without waiting; the rest of a multipart message is
       already there when its first frame is. */
    zmq_msg_t *part = &self->envelope[0];
    zmq_msg_init(part);
    if (zmq_msg_recv(part, router, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close(part);
        free(self);
        errno = err;
        return NULL;
    }
    self->n_envelope = 1;
    self->router = router;
    bool delimited = zmq_msg_size(part) == 0;
    while (!delimited) {
        if (!s_more(router)) {
            /* [id][body]: a DEALER that left out the empty frame. Keep it, so
               that the service can answer the mistake instead of staying silent;
               the reply goes back as [id][reply]. */
            if (self->n_envelope == 2 && zmq_msg_size(&self->envelope[1]) > 0)
                return s_undelimited(self);
            return s_malformed(&self, router, "no delimiter");
        }
        if (self->n_envelope == S_MAX_ENVELOPE)
            return s_malformed(&self, router, "envelope too long");
        part = &self->envelope[self->n_envelope];
        zmq_msg_init(part);
        if (zmq_msg_recv(part, router, 0) < 0) {
            zmq_msg_close(part);
            return s_malformed(&self, router, "receive failed");
        }
        self->n_envelope++;
        delimited = zmq_msg_size(part) == 0;
    }
    if (self->n_envelope < 2) {
        /* A ROUTER always prepends the routing id: an empty first frame here
           means no identity to answer to. */
        return s_malformed(&self, router, "no routing id");
    }

    /* The body: the first frame after the delimiter; more frames are counted
       and dropped (a protocol error the service answers). */
    zmq_msg_t *meta = &self->envelope[0];
    if (s_more(router)) {
        if (zmq_msg_recv(&self->body, router, 0) < 0)
            return s_malformed(&self, router, "receive failed");
        self->has_body = true;
        self->body_frames = 1 + s_drain(router);
        meta = &self->body;
    }
    self->delimited = true;
    return s_user_id(self, meta);
}

bool tb_msg_delimited(const tb_msg_t *self)
{
    return self && self->delimited;
}

const uint8_t *tb_msg_body(const tb_msg_t *self, size_t *len, int *frames)
{
    static const uint8_t empty[1] = {0};
    if (frames)
        *frames = self ? self->body_frames : 0;
    if (!self || !self->has_body) {
        if (len)
            *len = 0;
        return empty;
    }
    if (len)
        *len = zmq_msg_size((zmq_msg_t *)&self->body);
    return zmq_msg_data((zmq_msg_t *)&self->body);
}

bool tb_msg_same_peer(const tb_msg_t *a, const tb_msg_t *b)
{
    if (a->n_envelope < 1 || b->n_envelope < 1)
        return false;
    /* zmq_msg_size/data take non-const messages; they do not change them. */
    zmq_msg_t *x = (zmq_msg_t *)&a->envelope[0];
    zmq_msg_t *y = (zmq_msg_t *)&b->envelope[0];
    size_t n = zmq_msg_size(x);
    return n == zmq_msg_size(y) && memcmp(zmq_msg_data(x), zmq_msg_data(y), n) == 0;
}

int tb_msg_fd(const tb_msg_t *self)
{
    return self ? self->fd : -1;
}

const char *tb_msg_user_id(const tb_msg_t *self)
{
    return self && self->user_id ? self->user_id : "";
}

/*  Sends a packed message as one frame (zero copy: packed into the frame). */
static int s_send_packed(void *socket, const ProtobufCMessage *msg, int flags)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    zmq_msg_t frame;
    if (zmq_msg_init_size(&frame, size) != 0)
        return -1;
    if (size > 0)
        protobuf_c_message_pack(msg, zmq_msg_data(&frame));
    if (zmq_msg_send(&frame, socket, flags) < 0) {
        int err = errno;
        zmq_msg_close(&frame);
        errno = err;
        return -1;
    }
    return 0;
}

int tb_msg_reply(tb_msg_t *self, const ProtobufCMessage *reply)
{
    if (!self || !reply || !self->router) {
        errno = EINVAL;
        return -1;
    }
    /* ROUTER sends do not block (a gone peer is a silent drop, or
       EHOSTUNREACH with ROUTER_MANDATORY); DONTWAIT keeps the loop safe. */
    for (int i = 0; i < self->n_envelope; i++) {
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, &self->envelope[i]);
        if (zmq_msg_send(&copy, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            int err = errno;
            zmq_msg_close(&copy);
            errno = err;
            return -1;
        }
    }
    return s_send_packed(self->router, reply, ZMQ_DONTWAIT);
}

uint8_t *tb_wire_pack(tb_arena_t *arena, const ProtobufCMessage *msg, size_t *len)
{
    if (len)
        *len = 0;
    if (!arena || !msg)
        return NULL;
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *out = tb_arena_alloc(arena, size ? size : 1);
    if (!out)
        return NULL;
    size_t packed = size ? protobuf_c_message_pack(msg, out) : 0;
    if (len)
        *len = packed;
    return out;
}

/*  Reads a varint at *p (< end); returns false when it is cut or too long. */
static bool s_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/*  False when a string field of `desc` (at any depth) holds a NUL byte:
    protobuf-c would hand it over as a C string cut at the NUL, so the rest
    would be silently dropped. A malformed wire is left for protobuf-c to
    refuse (true). */
static bool s_strings_clean(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                            size_t len, int depth)
{
    const uint8_t *end = p + len;
    if (depth > 32)
        return true;
    while (p < end) {
        uint64_t tag, n;
        if (!s_varint(&p, end, &tag))
            return true;
        switch (tag & 7) {
        case 0:
            if (!s_varint(&p, end, &n))
                return true;
            break;
        case 1:
            if ((size_t)(end - p) < 8)
                return true;
            p += 8;
            break;
        case 5:
            if ((size_t)(end - p) < 4)
                return true;
            p += 4;
            break;
        case 2: {
            if (!s_varint(&p, end, &n) || n > (uint64_t)(end - p))
                return true;
            const ProtobufCFieldDescriptor *f =
                tag >> 3 <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3))
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t)n))
                return false;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !s_strings_clean(f->descriptor, p, (size_t)n, depth + 1))
                return false;
            p += n;
            break;
        }
        default:
            return true; /* groups: protobuf-c's call */
        }
    }
    return true;
}

ProtobufCMessage *tb_wire_unpack(tb_arena_t *arena,
                                 const ProtobufCMessageDescriptor *desc,
                                 const uint8_t *data, size_t len, size_t max_len)
{
    static const uint8_t empty[1] = {0};
    if (!arena || !desc || (!data && len > 0)) {
        errno = EINVAL;
        return NULL;
    }
    /* Checked before protobuf-c sees a byte: it has no limits of its own. */
    if (len > max_len) {
        errno = EMSGSIZE;
        return NULL;
    }
    if (data && !s_strings_clean(desc, data, len, 0)) {
        errno = EILSEQ;
        return NULL;
    }
    bool refused = tb_arena_refused(arena);
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, tb_arena_allocator(arena),
                                                      len, data ? data : empty);
    /* protobuf-c says only "failed": when it failed because the arena's cap
       refused it memory, say so, or a well-formed frame with many small
       repeated items would be called undecodable. */
    if (!msg)
        errno = !refused && tb_arena_refused(arena) ? ENOMEM : EPROTO;
    return msg;
}

int tb_wire_send(void *socket, const ProtobufCMessage *msg, bool dealer)
{
    if (!socket || !msg) {
        errno = EINVAL;
        return -1;
    }
    if (dealer && zmq_send(socket, "", 0, ZMQ_SNDMORE) < 0)
        return -1;
    return s_send_packed(socket, msg, 0);
}

ProtobufCMessage *tb_wire_recv(void *socket, tb_arena_t *arena,
                               const ProtobufCMessageDescriptor *desc, size_t max_len,
                               bool dealer, int timeout_ms)
{
    zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
    int rc = zmq_poll(&item, 1, timeout_ms < 0 ? -1 : timeout_ms);
    if (rc < 0)
        return NULL; /* errno from zmq_poll, e.g. EINTR */
    if (rc == 0 || !(item.revents & ZMQ_POLLIN)) {
        errno = EAGAIN;
        return NULL;
    }

    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, socket, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close(&frame);
        errno = err;
        return NULL;
    }
    if (dealer) {
        /* The empty delimiter a ROUTER's reply starts with. */
        bool delimiter = zmq_msg_size(&frame) == 0;
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if (!delimiter || !s_more(socket) || zmq_msg_recv(&frame, socket, 0) < 0) {
            zmq_msg_close(&frame);
            s_drain(socket);
            errno = EPROTO;
            return NULL;
        }
    }
    if (s_drain(socket) > 0) {
        zmq_msg_close(&frame);
        errno = EPROTO; /* one frame per message */
        return NULL;
    }
    ProtobufCMessage *msg =
        tb_wire_unpack(arena, desc, zmq_msg_data(&frame), zmq_msg_size(&frame), max_len);
    int err = errno;
    zmq_msg_close(&frame);
    if (!msg)
        errno = err == EMSGSIZE ? EMSGSIZE : EPROTO;
    return msg;
}

int tb_wire_topic(char *out, size_t cap, const char *recipient)
{
    size_t n = strlen(recipient);
    if (n + 2 > cap)
        return -1;
    memcpy(out, recipient, n);
    out[n] = TB_TOPIC_END;
    out[n + 1] = '\0';
    return (int)(n + 1);
}
