/*  mdp.h — Majordomo Protocol MDP/0.2 framing: build and check the frames that
 *  clients, the broker and workers exchange.
 *
 *  MDP/0.2 (ZeroMQ RFC 18) is a service-oriented request-reply protocol over one
 *  broker.  Clients (DEALER sockets) send a REQUEST naming a service; the broker
 *  (one ROUTER socket) hands it to a worker that registered that service with
 *  READY; the worker answers with zero or more PARTIAL replies and exactly one
 *  FINAL, which the broker relays to the client.  Broker and worker send each
 *  other HEARTBEAT at a fixed interval and DISCONNECT when they give up.  Every
 *  command is a multipart message whose frame 0 is a protocol header ("MDPC02"
 *  on the client side, "MDPW02" on the worker side) and whose frame 1 is one
 *  command byte.  Unlike MDP/0.1 (RFC 7), no command starts with an empty frame,
 *  and REPLY is split into PARTIAL and FINAL.  On the ROUTER the peer identity
 *  comes first; RFC 18 does not show it, and neither do the layouts below.
 *
 *  Frame layouts (index: content):
 *
 *    client REQUEST    0 "MDPC02"  1 0x01  2 service  3.. body
 *    client PARTIAL    0 "MDPC02"  1 0x02  2 service  3.. body     (broker -> client)
 *    client FINAL      0 "MDPC02"  1 0x03  2 service  3.. body     (broker -> client)
 *    worker READY      0 "MDPW02"  1 0x01  2 service               (exactly 3 frames)
 *    worker REQUEST    0 "MDPW02"  1 0x02  2 client address  3 ""  4.. body
 *                                                                  (broker -> worker)
 *    worker PARTIAL    0 "MDPW02"  1 0x03  2 client address  3 ""  4.. body
 *    worker FINAL      0 "MDPW02"  1 0x04  2 client address  3 ""  4.. body
 *    worker HEARTBEAT  0 "MDPW02"  1 0x05                          (exactly 2, both ways)
 *    worker DISCONNECT 0 "MDPW02"  1 0x06                          (exactly 2, both ways)
 *
 *  How Foleni uses it.  One broker ROUTER serves both sub-protocols; it tells them
 *  apart by frame 0 (fl_mdp_protocol_of).  The scheduler is the worker for the
 *  scheduler service(s), one service name per office shard; counters and portals
 *  are clients.  Every body is exactly one msgpack frame (see the codec module),
 *  but this module treats bodies as opaque frames, as MDP does.  The broker also
 *  answers the "mmi." services of RFC 8 itself (FL_MDP_MMI_*).
 *
 *  Foleni's extensions (docs/protocol.md, "Broker extensions").  Plain MDP
 *  allows one request in flight per worker and per client.  Foleni adds a
 *  credit window per worker (a fourth READY frame: how many requests the worker
 *  can hold, so the scheduler can group-commit many at once) and many
 *  outstanding requests per client, each matched by a client-made request id
 *  frame before the body.  Both ride in new frames, never in frames 0..3 that
 *  stock MDP tools read, so a plain MDP/0.2 peer still works with a window of
 *  one.  Command bytes 0x10 and above (FL_MDP_EXT_COMMAND_FIRST) stay reserved;
 *  the parsers reject them as unknown.
 *
 *  Choices where RFC 18 is loose (each is checked by tests/test_mdp.c):
 *    - "4 or more frames" / "5 or more frames": a body has at least one frame.
 *      Builders given an empty body send one empty frame; parsers reject a
 *      command without a body frame (FL_E_TRUNCATED).  A body has at most
 *      FL_MDP_BODY_FRAMES_MAX frames.
 *    - "Client address (envelope stack)" vs "precisely one client address
 *      frame": exactly one frame, 1..FL_MDP_ADDRESS_MAX bytes (a ZeroMQ routing
 *      id), followed by an empty delimiter frame.
 *    - "printable string" service names: 1..FL_MDP_SERVICE_MAX bytes, each a
 *      visible ASCII character 0x21..0x7E.  No space, so names log unquoted in
 *      logfmt and cannot differ by trailing blanks.
 *    - READY, HEARTBEAT and DISCONNECT have exactly 3, 2, 2 frames; extra frames
 *      are rejected (FL_E_TRAILING) rather than ignored.
 *    - Parsers check shape, not direction: a worker that sends REQUEST has sent a
 *      valid but unexpected command, which RFC 18 answers with DISCONNECT rather
 *      than by dropping it.  fl_mdp_may_send tells the caller which is which.
 *
 *  Errors.  Parsers return 0 or a negative fl_code_t and, when err is not NULL,
 *  fill it with a field name ("header", "command", "service", "address",
 *  "delimiter", "body", "identity" or "frames") and a sentence that starts with
 *  the frame at fault, e.g. "frame 1: command must be one byte, got 2".
 *    FL_E_TRUNCATED  the message ends before a frame the command needs
 *    FL_E_TRAILING   a fixed-size command (READY, HEARTBEAT, DISCONNECT) has more
 *    FL_E_VERSION    another MDP version: "MDPC01"/"MDPW01" or any other
 *                    "MDPCxx"/"MDPWxx", or MDP/0.1's leading empty frame
 *    FL_E_INVALID    not an MDP header, the other sub-protocol's header, a command
 *                    frame that is not one byte, an empty or non-printable
 *                    service, an empty client address or identity, a
 *                    non-empty envelope delimiter
 *    FL_E_UNKNOWN    a one-byte command this sub-protocol does not define
 *    FL_E_TOO_LONG   service, client address or identity too long; too many
 *                    body frames
 *
 *  Caveats.
 *    - No global state; every function is safe to call from any thread on
 *      messages that thread owns.  CZMQ messages are not thread-safe.
 *    - Parsers bound counts and lengths but never read a body's bytes: set
 *      ZMQ_MAXMSGSIZE on sockets that face untrusted peers to bound frame sizes.
 *    - CZMQ aborts the process when it cannot allocate; builders therefore fail
 *      only on bad arguments, never on memory.
 *    - Parsers move the zmsg_t cursor (zmsg_first/zmsg_next).
 */
#ifndef FOLENI_MDP_H
#define FOLENI_MDP_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libfoleni/error.h"

/* ---- constants ------------------------------------------------------------ */

#define FL_MDP_CLIENT_HEADER "MDPC02"   /* frame 0 of every MDP/Client command */
#define FL_MDP_WORKER_HEADER "MDPW02"   /* frame 0 of every MDP/Worker command */
#define FL_MDP_HEADER_SIZE   6          /* both headers are six bytes, no NUL */

#define FL_MDP_SERVICE_MAX     64       /* longest service name, in bytes */
#define FL_MDP_ADDRESS_MAX     255      /* longest client address or peer identity
                                           (ZeroMQ's routing-id limit) */
#define FL_MDP_BODY_FRAMES_MAX 8        /* most frames in one request or reply body */
#define FL_MDP_WINDOW_MAX      4096     /* largest credit window a worker may announce */

/* RFC 8 (MMI): services under this prefix are answered by the broker itself,
 * and a worker that tries to register one is disconnected. */
#define FL_MDP_MMI_PREFIX          "mmi."
#define FL_MDP_MMI_SERVICE         "mmi.service"  /* body: a service name */
#define FL_MDP_MMI_FOUND           "200"  /* at least one worker has that service */
#define FL_MDP_MMI_NOT_FOUND       "404"  /* no worker has that service */
#define FL_MDP_MMI_NOT_IMPLEMENTED "501"  /* an mmi. service this broker lacks */

/* Which sub-protocol a message speaks, read from its frame 0. */
typedef enum {
    FL_MDP_PROTO_NONE   = 0,            /* not MDP/0.2 */
    FL_MDP_PROTO_CLIENT = 1,            /* "MDPC02" */
    FL_MDP_PROTO_WORKER = 2,            /* "MDPW02" */
} fl_mdp_proto_t;

/* MDP/Client command bytes (frame 1). */
typedef enum {
    FL_MDP_CLIENT_REQUEST = 0x01,       /* client -> broker: a request for a service */
    FL_MDP_CLIENT_PARTIAL = 0x02,       /* broker -> client: one of several replies */
    FL_MDP_CLIENT_FINAL   = 0x03,       /* broker -> client: the last reply */
} fl_mdp_client_command_t;

/* MDP/Worker command bytes (frame 1). */
typedef enum {
    FL_MDP_WORKER_READY      = 0x01,    /* worker -> broker: register one service */
    FL_MDP_WORKER_REQUEST    = 0x02,    /* broker -> worker: a client's request */
    FL_MDP_WORKER_PARTIAL    = 0x03,    /* worker -> broker: one of several replies */
    FL_MDP_WORKER_FINAL      = 0x04,    /* worker -> broker: the last reply */
    FL_MDP_WORKER_HEARTBEAT  = 0x05,    /* either way: still alive */
    FL_MDP_WORKER_DISCONNECT = 0x06,    /* either way: goodbye, reconnect afresh */
} fl_mdp_worker_command_t;

/* First command byte reserved for future Foleni commands.  None is defined
 * (the credit window and request ids travel in extra frames instead); parsers
 * reject them as unknown. */
#define FL_MDP_EXT_COMMAND_FIRST 0x10

/* Who sends a command, for fl_mdp_may_send. */
typedef enum {
    FL_MDP_ROLE_CLIENT = 1,
    FL_MDP_ROLE_BROKER = 2,
    FL_MDP_ROLE_WORKER = 3,
} fl_mdp_role_t;

/* A received MDP/Client command after fl_mdp_parse_client.  Owns nothing. */
typedef struct fl_mdp_client_msg {
    fl_mdp_client_command_t command;            /* REQUEST, PARTIAL or FINAL */
    char service[FL_MDP_SERVICE_MAX + 1];       /* frame 2, NUL-terminated */
} fl_mdp_client_msg_t;

/* A received MDP/Worker command after fl_mdp_parse_worker.  Owns address:
 * release it with fl_mdp_worker_msg_reset, or take it (and set it to NULL). */
typedef struct fl_mdp_worker_msg {
    fl_mdp_worker_command_t command;            /* any of the six */
    char service[FL_MDP_SERVICE_MAX + 1];       /* READY: frame 2; else "" */
    unsigned window;                            /* READY: frame 3 if present (a
                                                   Foleni worker's credit window,
                                                   1..FL_MDP_WINDOW_MAX); 0 for a
                                                   plain MDP/0.2 worker */
    zframe_t *address;                          /* REQUEST, PARTIAL, FINAL: the
                                                   client address (frame 2),
                                                   detached from the message;
                                                   else NULL */
} fl_mdp_worker_msg_t;

/* A frame seen in place, for checking frames received straight into zmq_msg_t
 * (the broker's and the client library's hot paths) with the same rules as
 * the zmsg_t parsers.  Borrows data. */
typedef struct fl_mdp_frame {
    const void *data;
    size_t size;
} fl_mdp_frame_t;

/* The checks read at most this many leading frames; past them only the count
 * matters (to bound the body). */
#define FL_MDP_CHECK_FRAMES 5

/* ---- builders --------------------------------------------------------------
 *
 *  Each builder returns a new message, ready for zmsg_send on a DEALER (or, after
 *  fl_mdp_prepend_identity, on the broker's ROUTER).  The caller owns it.
 *  A builder that takes `zmsg_t **body_p` always consumes the body: it moves the
 *  body's frames into the new message and sets *body_p to NULL, also when it
 *  fails.  body_p, or *body_p, may be NULL, and the body may have no frames: the
 *  message then carries one empty body frame, because RFC 18 requires one.
 *  Builders never produce a message that the parsers below reject.
 */

/*  Client -> broker REQUEST for `service`, carrying the body.
 *  Consumes *body_p.  Returns NULL if service is not a valid service name (see
 *  fl_mdp_service_check) or the body has more than FL_MDP_BODY_FRAMES_MAX frames. */
zmsg_t *fl_mdp_client_request(const char *service, zmsg_t **body_p);

/*  Broker -> client reply from `service`: FINAL when `final` is true, else
 *  PARTIAL.  Consumes *body_p.  Prepend the client's identity before sending on
 *  the ROUTER.  Returns NULL on a bad service or too many body frames. */
zmsg_t *fl_mdp_broker_to_client(const char *service, bool final, zmsg_t **body_p);

/*  Worker -> broker READY registering `service` (one service per worker).
 *  Returns NULL if service is not a valid service name. */
zmsg_t *fl_mdp_worker_ready(const char *service);

/*  HEARTBEAT, sent both by workers and by the broker (prepend the worker's
 *  identity on the ROUTER).  Cannot fail. */
zmsg_t *fl_mdp_worker_heartbeat(void);

/*  READY from a Foleni worker: frames header, 0x01, service, window — the
 *  number of requests it may hold at once (1..FL_MDP_WINDOW_MAX), as ASCII
 *  decimal.  This fourth frame is Foleni's extension (docs/protocol.md,
 *  "Broker extensions"); a broker that sees it sends up to `window` requests
 *  before the first reply, and puts a caller frame before each request body.
 *  NULL for a bad service or window. */
zmsg_t *fl_mdp_worker_ready_window(const char *service, unsigned window);

/*  DISCONNECT, sent both by workers and by the broker.  Cannot fail. */
zmsg_t *fl_mdp_worker_disconnect(void);

/*  Broker -> worker REQUEST on behalf of the client whose ROUTER identity is
 *  client_addr (copied, not consumed).  Consumes *body_p.  Returns NULL if
 *  client_addr is empty or longer than FL_MDP_ADDRESS_MAX, or the body has too
 *  many frames. */
zmsg_t *fl_mdp_broker_to_worker_request(const zframe_t *client_addr, zmsg_t **body_p);

/*  Worker -> broker PARTIAL reply to the request that came with client_addr
 *  (copied, not consumed).  Consumes *body_p.  NULL on the same errors as
 *  fl_mdp_broker_to_worker_request. */
zmsg_t *fl_mdp_worker_partial(const zframe_t *client_addr, zmsg_t **body_p);

/*  Worker -> broker FINAL reply; as fl_mdp_worker_partial. */
zmsg_t *fl_mdp_worker_final(const zframe_t *client_addr, zmsg_t **body_p);

/* ---- parsers ---------------------------------------------------------------
 *
 *  A parser checks a received message strictly and never trusts a length or a
 *  count it was sent.  On success it returns 0, fills *out, and strips the
 *  protocol frames from the front of msg, so msg holds only the body frames (none
 *  for READY, HEARTBEAT and DISCONNECT).  The caller still owns msg.  On failure
 *  it returns a negative code (listed at the top of this file), leaves msg
 *  exactly as it was, and zeroes *out.
 *  On the broker's ROUTER, call fl_mdp_pop_identity first.
 */

/*  Parse an MDP/Client command (REQUEST, PARTIAL or FINAL).
 *  msg and out must not be NULL; err may be.
 *  Errors: FL_E_TRUNCATED, FL_E_VERSION, FL_E_INVALID, FL_E_UNKNOWN,
 *  FL_E_TOO_LONG. */
int fl_mdp_parse_client(zmsg_t *msg, fl_mdp_client_msg_t *out, fl_error_t *err);

/*  Parse an MDP/Worker command (any of the six).  For REQUEST, PARTIAL and
 *  FINAL, out->address receives the client address frame, detached from msg and
 *  owned by out, and the empty delimiter frame is destroyed.  *out is overwritten
 *  without being released: reset it before parsing into it again.
 *  msg and out must not be NULL; err may be.
 *  Errors: FL_E_TRUNCATED, FL_E_TRAILING, FL_E_VERSION, FL_E_INVALID,
 *  FL_E_UNKNOWN, FL_E_TOO_LONG. */
int fl_mdp_parse_worker(zmsg_t *msg, fl_mdp_worker_msg_t *out, fl_error_t *err);

/*  Check an MDP/Client command held as n frame views, without copying or
 *  changing anything: the same rules, codes and messages as
 *  fl_mdp_parse_client.  Only frames[0 .. min(n, FL_MDP_CHECK_FRAMES) - 1] are
 *  read, so a caller that kept only the first frames of a longer message may
 *  pass its full count.  On success the body is frames 3 .. n-1.
 *  frames may be NULL only when n is 0; out must not be NULL; err may be. */
int fl_mdp_check_client(const fl_mdp_frame_t *frames, size_t n, fl_mdp_client_msg_t *out,
                        fl_error_t *err);

/*  The same for an MDP/Worker command, as fl_mdp_parse_worker but leaving
 *  out->address NULL: for REQUEST, PARTIAL and FINAL the client address is
 *  frame 2, the (empty) delimiter frame 3 and the body frames 4 .. n-1.
 *  Nothing to reset afterwards. */
int fl_mdp_check_worker(const fl_mdp_frame_t *frames, size_t n, fl_mdp_worker_msg_t *out,
                        fl_error_t *err);

/*  Destroy out->address, if any, and zero *self.  Safe to call twice, and on a
 *  zeroed struct.  self must not be NULL.  Cannot fail. */
void fl_mdp_worker_msg_reset(fl_mdp_worker_msg_t *self);

/* ---- ROUTER helpers ------------------------------------------------------- */

/*  Remove the peer identity that a ROUTER socket put in front of msg and return
 *  it; the caller owns the frame.  msg must not be NULL; err may be.
 *  Returns NULL, leaving msg unchanged, if msg has no frame (FL_E_TRUNCATED), or
 *  the identity is empty (FL_E_INVALID) or longer than FL_MDP_ADDRESS_MAX
 *  (FL_E_TOO_LONG). */
zframe_t *fl_mdp_pop_identity(zmsg_t *msg, fl_error_t *err);

/*  Put a copy of identity (1..FL_MDP_ADDRESS_MAX bytes) in front of msg, so a
 *  ROUTER sends msg to that peer.  identity is not consumed.
 *  Returns 0, or FL_E_INVALID / FL_E_TOO_LONG for a bad identity (msg unchanged). */
int fl_mdp_prepend_identity(zmsg_t *msg, const zframe_t *identity);

/*  The sub-protocol of msg, from its first frame, without changing msg (except
 *  its cursor).  FL_MDP_PROTO_NONE for anything else, including an empty
 *  message.  msg must not be NULL. */
fl_mdp_proto_t fl_mdp_protocol_of(zmsg_t *msg);

/*  As fl_mdp_protocol_of, for a frame view (NULL: FL_MDP_PROTO_NONE). */
fl_mdp_proto_t fl_mdp_protocol_of_frame(const fl_mdp_frame_t *first);

/*  Read one whole message from a ZeroMQ socket without waiting, for the hot
 *  paths (broker, client, worker) that keep frames as zmq_msg_t.  The first
 *  cap frames land in f[0..*n-1] (initialised; the caller closes them); any
 *  further frames are read and dropped, but counted in *total, so the caller's
 *  check can refuse a message that had too many.  Returns false, with nothing
 *  to close, when no message was waiting (reading without waiting is the
 *  cheapest way to ask).  The rest of a message always arrives with its first
 *  frame, so only the first read can find nothing. */
bool fl_mdp_recv_frames(void *socket, zmq_msg_t *f, size_t cap, size_t *n, size_t *total);

/*  As fl_mdp_recv_frames, but waiting up to timeout_ms (0: not at all; -1:
 *  without limit) for the message, by a blocking read: it sets the socket's
 *  ZMQ_RCVTIMEO (left set: callers that drain use ZMQ_DONTWAIT, which ignores
 *  it).  For a single socket this replaces zmq_poll + read, which costs
 *  several more system calls per wake-up.  On false, errno says why: EAGAIN
 *  (nothing in time), EINTR (a signal), or another libzmq error. */
bool fl_mdp_recv_frames_wait(void *socket, int timeout_ms, zmq_msg_t *f, size_t cap, size_t *n,
                             size_t *total);

/*  Check a ROUTER peer identity or client address: 1..FL_MDP_ADDRESS_MAX
 *  bytes.  Returns 0, FL_E_INVALID (empty) or FL_E_TOO_LONG. */
int fl_mdp_address_check(const void *data, size_t size, fl_error_t *err);

/* ---- names and rules ------------------------------------------------------ */

/*  Check that bytes [data, data+size) form a service name: 1..FL_MDP_SERVICE_MAX
 *  bytes of visible ASCII (0x21..0x7E).  Use it on configuration and on the body
 *  of an mmi.service request.  data may be NULL only when size is 0.
 *  Returns 0, FL_E_INVALID (empty or a byte outside the range) or FL_E_TOO_LONG. */
int fl_mdp_service_check(const void *data, size_t size, fl_error_t *err);

/*  True if service (NUL-terminated) lies in the RFC 8 "mmi." namespace. */
bool fl_mdp_service_is_mmi(const char *service);

/*  True if RFC 18 lets `sender` send `command` of sub-protocol `proto`: clients
 *  send REQUEST; the broker sends client PARTIAL and FINAL, and worker REQUEST,
 *  HEARTBEAT and DISCONNECT; workers send READY, PARTIAL, FINAL, HEARTBEAT and
 *  DISCONNECT.  False for every other combination and for unknown commands. */
bool fl_mdp_may_send(fl_mdp_role_t sender, fl_mdp_proto_t proto, int command);

/*  The RFC's name of a command ("REQUEST", "HEARTBEAT"...), for logs.  The same
 *  byte means different commands in the two sub-protocols, hence proto.
 *  Returns "UNKNOWN" for anything else.  Never NULL. */
const char *fl_mdp_command_name(fl_mdp_proto_t proto, int command);

/* ---- compact framing (Foleni peers) ----------------------------------------
 *
 *  MDP spends four or five frames of protocol per message, and every frame
 *  costs a send, a receive and pipe work in each process it crosses.  Foleni
 *  peers therefore pack the protocol part of REQUEST, PARTIAL and FINAL into
 *  one header frame, followed by the body frames (docs/protocol.md, "Compact
 *  framing").  Lengths are single bytes, so each field is read without
 *  searching and every length is checked against the frame's size.
 *
 *    client side  "FLC1" command S service[S] R rid[R]
 *                 command 0x01 REQUEST, 0x02 PARTIAL, 0x03 FINAL
 *    worker side  "FLW1" command A address[A] C caller[C] R rid[R]
 *                 command 0x02 REQUEST, 0x03 PARTIAL, 0x04 FINAL
 *
 *  S is 1..FL_MDP_SERVICE_MAX (a service name as fl_mdp_service_check says),
 *  A 1..FL_MDP_ADDRESS_MAX, C 0 or FL_MDP_CALLER_SIZE, R 0 (no request id)
 *  or 1..FL_MDP_RID_MAX visible ASCII bytes.  The frame ends exactly after the
 *  rid.  The body is 1..FL_MDP_BODY_FRAMES_MAX frames, one fewer when R > 0,
 *  so that the same request fits plain MDP with its id as a body frame.
 *
 *  Negotiation rides on the peer's ROUTER identity, which a Foleni peer sets
 *  itself (fl_mdp_compact_identity): an identity that starts with "FLC1" asks
 *  the broker for compact replies, one that starts with "FLW1" for compact
 *  requests.  Every other peer gets plain MDP/0.2 frames, and the broker reads
 *  both forms from anyone.
 */

#define FL_MDP_COMPACT_CLIENT_TAG "FLC1"    /* frame 0 prefix, client side */
#define FL_MDP_COMPACT_WORKER_TAG "FLW1"    /* frame 0 prefix, worker side */
#define FL_MDP_TAG_SIZE           4
#define FL_MDP_RID_MAX            64        /* longest request id in a header (= FL_RID_MAX) */
#define FL_MDP_CALLER_SIZE        40        /* a Z85 CURVE public key (= FL_CURVE_KEY_TEXT) */
#define FL_MDP_IDENTITY_SIZE      12        /* a compact peer's identity: tag + 8 random bytes */
/* The largest header frame: tag, command, three lengths and their fields. */
#define FL_MDP_COMPACT_HEADER_MAX \
    (FL_MDP_TAG_SIZE + 1 + 1 + FL_MDP_ADDRESS_MAX + 1 + FL_MDP_CALLER_SIZE + 1 + FL_MDP_RID_MAX)

/* A checked compact header.  The views point into frame 0 (borrowed). */
typedef struct fl_mdp_compact {
    fl_mdp_proto_t proto;           /* CLIENT ("FLC1") or WORKER ("FLW1") */
    int            command;         /* an fl_mdp_client_command_t or fl_mdp_worker_command_t */
    fl_mdp_frame_t service;         /* client side; {NULL, 0} on the worker side */
    fl_mdp_frame_t address;         /* worker side; {NULL, 0} on the client side */
    fl_mdp_frame_t caller;          /* worker side, 0 or 40 bytes */
    fl_mdp_frame_t rid;             /* size 0: no request id */
} fl_mdp_compact_t;

/*  Which compact header frame 0 starts with: FL_MDP_PROTO_CLIENT for "FLC1",
 *  FL_MDP_PROTO_WORKER for "FLW1", else FL_MDP_PROTO_NONE (first may be NULL). */
fl_mdp_proto_t fl_mdp_compact_of_frame(const fl_mdp_frame_t *first);

/*  Check a compact message held as n frame views (only frames[0] is read;
 *  the rest only count), with the same error codes and sentence style as
 *  fl_mdp_check_client.  On success *out holds views into frames[0] and the
 *  body is frames 1 .. n-1.  Errors: FL_E_TRUNCATED (the header ends inside
 *  a field, or no body), FL_E_TRAILING (bytes after the rid), FL_E_INVALID
 *  (not a compact tag, an empty service or address, a bad byte in a service
 *  or rid, a caller that is not 0 or 40 bytes), FL_E_UNKNOWN (a command this
 *  side does not carry), FL_E_TOO_LONG (service, rid or body too long).
 *  frames may be NULL only when n is 0; out must not be NULL; err may be. */
int fl_mdp_check_compact(const fl_mdp_frame_t *frames, size_t n, fl_mdp_compact_t *out, fl_error_t *err);

/*  Pack a client-side header into buf (at least FL_MDP_COMPACT_HEADER_MAX
 *  bytes).  rid may be NULL when rid_size is 0.  Returns the header's size,
 *  or 0 when a field breaks the rules above (nothing useful in buf). */
size_t fl_mdp_compact_pack_client(uint8_t *buf, int command, const void *service, size_t service_size,
                                  const void *rid, size_t rid_size);

/*  Pack a worker-side header into buf (as above).  caller and rid may be
 *  NULL when their size is 0.  Returns the size, or 0 on a bad field. */
size_t fl_mdp_compact_pack_worker(uint8_t *buf, int command, const void *address, size_t address_size,
                                  const void *caller, size_t caller_size, const void *rid,
                                  size_t rid_size);

/*  True if rid (size bytes) can travel inside a compact header: 1..
 *  FL_MDP_RID_MAX visible ASCII bytes. */
bool fl_mdp_compact_rid_ok(const void *rid, size_t size);

/*  Which compact form a peer asked for through its ROUTER identity:
 *  FL_MDP_PROTO_CLIENT, FL_MDP_PROTO_WORKER or FL_MDP_PROTO_NONE (plain). */
fl_mdp_proto_t fl_mdp_compact_peer(const void *identity, size_t size);

/*  Fill out[FL_MDP_IDENTITY_SIZE] with a new identity for a compact peer of
 *  this side (CLIENT or WORKER): the tag, then 8 random bytes.  Can't fail
 *  (falls back to the clock and pid when the kernel gives no randomness). */
void fl_mdp_compact_identity(fl_mdp_proto_t side, uint8_t out[FL_MDP_IDENTITY_SIZE]);

#endif
