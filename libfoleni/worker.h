/*  worker.h — serving a service through the broker: register, heartbeat,
 *  reconnect with backoff, take many requests at once.
 *
 *  An fl_worker_t is one DEALER socket speaking MDP/0.2 as a worker, with
 *  Foleni's extension: READY announces a credit window (how many requests the
 *  worker may hold before replying), and the broker puts a caller frame (the
 *  client's CURVE public key, or empty) before each request body
 *  (docs/protocol.md, "Broker extensions").  The scheduler uses a large window
 *  so that it has every waiting request in hand for one group commit.  Unless
 *  opts.plain_mdp, its identity asks the broker for compact frames (one header
 *  frame with address, caller and request id, then the body; docs/protocol.md,
 *  "Compact framing"); it answers each request in the form it came in.
 *
 *  Liveness: any message from the broker counts as a heartbeat.  When nothing
 *  has come for heartbeat_ms × liveness, the worker assumes the broker is gone,
 *  closes its socket and connects again after a backoff that doubles from
 *  reconnect_min_ms to reconnect_max_ms, then sends READY again.  Requests
 *  already handed to the application may still be replied to; the broker drops
 *  replies it cannot route and the client's retry gets the stored reply.
 *
 *  Use from an event loop: poll fl_worker_socket() (ask again after each call,
 *  a reconnect replaces it) for at most fl_worker_next_timeout_ms(), then call
 *  fl_worker_recv(..., 0).  Or block in fl_worker_recv(..., -1).  Not
 *  thread-safe.
 */
#ifndef FOLENI_WORKER_H
#define FOLENI_WORKER_H

#include <czmq.h>

#include "libfoleni/client.h"
#include "libfoleni/error.h"
#include "libfoleni/security.h"

typedef struct {
    unsigned window;                /* requests held at once, 1..FL_MDP_WINDOW_MAX; default 1 */
    int heartbeat_ms;               /* default 2500 */
    int liveness;                   /* heartbeats missed before reconnecting; default 3 */
    int reconnect_min_ms;           /* default 250 */
    int reconnect_max_ms;           /* default 8000 */
    bool plain_mdp;                 /* speak plain MDP/0.2 only, never the compact
                                       framing (docs/protocol.md); default false */
} fl_worker_options_t;

typedef struct fl_worker fl_worker_t;

/*  One request handed to the application.  It is allocated and owned by the
 *  worker library: the body parts point into the received ZeroMQ frames it
 *  holds (no copy), valid until the request is passed to fl_worker_reply or
 *  fl_request_destroy.  Use it through the pointer; do not copy the struct.
 *  The client's address is kept inside, out of sight: only fl_worker_reply
 *  needs it. */
typedef struct {
    char      caller[FL_CURVE_KEY_TEXT + 1];    /* client's CURVE public key, "" when plain */
    char      rid[FL_RID_MAX + 1];              /* request id ("" for a plain MDP client) */
    size_t    nparts;                           /* the request frames after the id, 1.. */
    fl_part_t parts[FL_PARTS_MAX];              /* parts[0] is always readable */
} fl_request_t;

/*  Connect to the broker and register for service.  security may be NULL and
 *  is borrowed (must outlive the worker); opts may be NULL.  NULL with err. */
fl_worker_t *fl_worker_new(const char *endpoint, const char *service, const fl_security_t *security,
                           const fl_worker_options_t *opts, fl_error_t *err);

/*  Tell the broker goodbye (DISCONNECT), close and free; sets *self_p NULL. */
void fl_worker_destroy(fl_worker_t **self_p);

/*  Wait up to timeout_ms (0: no wait; -1: forever) for a request, answering
 *  heartbeats and reconnecting as needed.  Returns 0 with *req (a new request
 *  the caller passes to fl_worker_reply or fl_request_destroy), FL_E_TIMEOUT
 *  when none came, FL_E_IO when interrupted (e.g. a signal). */
int fl_worker_recv(fl_worker_t *self, fl_request_t **req, int timeout_ms);

/*  Reply to *req_p (consumed, *req_p set to NULL, whatever the result): the
 *  nparts frames in parts (copied; parts may be NULL when nparts is 0, which
 *  sends one empty frame) go back after the request id.  The parts may point
 *  into the request itself; passing exactly req->parts, req->nparts (an echo)
 *  moves the request's frames instead of copying them.  Returns 0,
 *  FL_E_INVALID (with the id, more than FL_PARTS_MAX frames; nothing sent),
 *  or FL_E_IO (no socket; the reply is lost, the client's retry will come
 *  back). */
int fl_worker_reply(fl_worker_t *self, fl_request_t **req_p, const fl_part_t *parts, size_t nparts);

/*  As fl_worker_reply, with one frame of size bytes (the common case). */
int fl_worker_reply_one(fl_worker_t *self, fl_request_t **req_p, const void *data, size_t size);

/*  Free a request without replying; sets *req_p NULL.  Safe on NULL.  It may
 *  outlive the worker that gave it. */
void fl_request_destroy(fl_request_t **req_p);

/*  The socket to poll; changes on reconnect. */
zsock_t *fl_worker_socket(fl_worker_t *self);

/*  Milliseconds until the worker must next run (heartbeat or reconnect due). */
int fl_worker_next_timeout_ms(fl_worker_t *self);

/*  Times the worker has (re)connected, the first included (for tests, logs). */
unsigned fl_worker_connects(const fl_worker_t *self);

#endif
