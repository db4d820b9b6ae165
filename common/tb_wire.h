/*  tb_wire: protobuf messages over ZeroMQ. One frame per message; a ROUTER side
    keeps the return envelope (routing id, empty delimiter) of each request and the
    ZAP User-Id of its sender. Sizes are checked before anything is decoded. */
#ifndef TB_WIRE_H
#define TB_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_arena.h"

/*  A request received on a ROUTER socket, with what is needed to answer it. */
typedef struct tb_msg_t tb_msg_t;

/*  Sets the options every socket needs: LINGER 0, and on sockets that read from
    the network MAXMSGSIZE (a hard transport ceiling of 4 x max_frame, so that a
    frame over max_frame still reaches us and gets an error reply, not silence).
    Returns 0 or -1. */
int tb_wire_socket_setup(void *socket, size_t max_frame);

/*  What CURVE adds to each frame on the wire: the MESSAGE command's name (8),
    its short nonce (8), the flags byte and the MAC (16). libzmq checks
    MAXMSGSIZE on the frame as it travels, so under CURVE the ceiling must grow
    by this much for the documented boundary (4 x max_frame of the peer's own
    bytes) to hold. */
#define TB_WIRE_CURVE_OVERHEAD 33

/*  tb_wire_socket_setup for a socket that runs CURVE (`curve`) or not: the
    same ceiling on the peer's own bytes. Returns 0 or -1. */
int tb_wire_socket_setup_mech(void *socket, size_t max_frame, bool curve);

/*  Receives one request from a ROUTER socket (non-blocking). Returns NULL when
    nothing is waiting (EAGAIN, EINTR) or on a malformed envelope (logged,
    dropped: there is nobody to answer). */
tb_msg_t *tb_msg_recv(void *router);
void tb_msg_destroy(tb_msg_t **self_p);

/*  The body: the first frame after the envelope. *frames tells how many body
    frames came (more than one is a protocol error for our API). */
const uint8_t *tb_msg_body(const tb_msg_t *self, size_t *len, int *frames);
/*  False when the request came as [id][body] without the empty delimiter frame
    (a DEALER client's mistake): the service answers it with an error. */
bool tb_msg_delimited(const tb_msg_t *self);
/*  Whether two requests came from the same peer (the same routing id). */
bool tb_msg_same_peer(const tb_msg_t *a, const tb_msg_t *b);
/*  The descriptor of the connection libzmq read the request from (its "__fd"
    property), -1 when unknown; a peer can name properties of its own, so it
    is a hint to match against descriptors known otherwise (tb_guard). */
int tb_msg_fd(const tb_msg_t *self);
/*  The ZAP User-Id of the sender ("" when running open). */
const char *tb_msg_user_id(const tb_msg_t *self);

/*  Sends `reply` back along the request's envelope. Returns 0 or -1. */
int tb_msg_reply(tb_msg_t *self, const ProtobufCMessage *reply);

/*  Packs into the arena. NULL when the arena's cap is hit. */
uint8_t *tb_wire_pack(tb_arena_t *arena, const ProtobufCMessage *msg, size_t *len);

/*  Unpacks `len` bytes as a `desc` message into the arena; NULL when the bytes
    are over max_len (errno EMSGSIZE), hold a NUL in a string (EILSEQ), are not
    a valid message (EPROTO), or need more than the arena's cap (ENOMEM). */
ProtobufCMessage *tb_wire_unpack(tb_arena_t *arena,
                                 const ProtobufCMessageDescriptor *desc,
                                 const uint8_t *data, size_t len, size_t max_len);

/*  The live-push topic of a recipient (an org id or "operators"): the id and a
    '/' that no id contains, so that ZeroMQ's prefix matching of a subscription
    to one id never delivers another's frames ("acme/" is not a prefix of
    "acme-bel/"). Writes it into `out` (`cap` bytes, NUL-terminated) and returns
    its length, or -1 when it does not fit. */
#define TB_TOPIC_END '/'
int tb_wire_topic(char *out, size_t cap, const char *recipient);

/*  Client side. Sends one message; on a DEALER socket an empty delimiter frame
    goes first (`dealer` true). Returns 0 or -1. */
int tb_wire_send(void *socket, const ProtobufCMessage *msg, bool dealer);

/*  Receives one message (blocking up to timeout_ms, -1 forever) and unpacks it
    into the arena; on a DEALER the empty delimiter is skipped. NULL on timeout
    (errno EAGAIN), on a bad frame (EPROTO) or over max_len (EMSGSIZE). */
ProtobufCMessage *tb_wire_recv(void *socket, tb_arena_t *arena,
                               const ProtobufCMessageDescriptor *desc, size_t max_len,
                               bool dealer, int timeout_ms);

#endif
