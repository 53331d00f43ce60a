/*  client.h — asking a service through the broker: many requests in flight,
 *  timeouts and retries that never double an effect.
 *
 *  An fl_client_t is one DEALER socket to the broker speaking MDP/0.2 as a
 *  client, with Foleni's extension: each request body starts with a request id
 *  frame, and the worker's reply starts with the same id, so replies can come
 *  back in any order and each finds its request (docs/protocol.md, "Broker
 *  extensions").  Any number of requests (up to max_outstanding) may be in
 *  flight at once.
 *
 *  Compact framing: unless opts.plain_mdp, the socket's identity asks the
 *  broker for compact frames (one header frame with service and request id,
 *  then the body; docs/protocol.md, "Compact framing").  The client sends
 *  plain MDP until the broker's first compact reply, so an older broker works.
 *
 *  Retries: when a request has had no reply for timeout_ms, the client closes
 *  its socket, opens a new one (a new identity at the broker, so late replies
 *  to the old one cannot confuse it), and sends every outstanding request
 *  again with the same request id.  The scheduler keeps each mutating
 *  request's reply under its id, so a repeat returns the first answer and has
 *  no second effect.  After `retries` more attempts a request is given up and
 *  reported with status FL_E_TIMEOUT.
 *
 *  Two ways to use it:
 *    - from an event loop (the portal): fl_client_send(), then poll
 *      fl_client_socket() (ask again after each call: a retry replaces it) with
 *      at most fl_client_next_timeout_ms(), then fl_client_recv(..., 0);
 *    - blocking (the counter, tools, tests): fl_client_call().
 *  Not thread-safe: one client per thread.
 */
#ifndef FOLENI_CLIENT_H
#define FOLENI_CLIENT_H

#include <czmq.h>
#include <stddef.h>

#include "libfoleni/error.h"
#include "libfoleni/security.h"

#define FL_RID_MAX 64               /* longest request id, bytes */
#define FL_PARTS_MAX 8              /* most frames in a request or reply body
                                       (FL_MDP_BODY_FRAMES_MAX in mdp.h) */

typedef struct {
    int    timeout_ms;              /* per attempt; default 3000 */
    int    retries;                 /* attempts after the first; default 3 */
    size_t max_outstanding;         /* default 4096 */
    bool   plain_mdp;               /* speak plain MDP/0.2 only, never the compact
                                       framing (docs/protocol.md); default false */
} fl_client_options_t;

typedef struct fl_client fl_client_t;

/*  One frame of a request or reply body, as a borrowed view: the bytes belong
 *  to the fl_reply_t or fl_request_t that holds it and stay valid until that
 *  is reset, replied to or destroyed.  Also used to hand a reply's frames to
 *  fl_worker_reply, which copies them. */
typedef struct {
    const void *data;
    size_t      size;
} fl_part_t;

/*  A finished request.  The body frames are the received ZeroMQ frames
 *  themselves, held until fl_reply_reset: no copy and no allocation per reply.
 *  The struct may be copied or moved by value (the parts point into memory
 *  the reply owns, not into the struct); release exactly one copy. */
typedef struct {
    char      rid[FL_RID_MAX + 1];
    int       status;               /* 0: parts hold the reply; FL_E_TIMEOUT: given up */
    size_t    nparts;               /* the reply frames after the request id (0 unless status is 0) */
    fl_part_t parts[FL_PARTS_MAX];  /* parts[0] is always readable: {"", 0} when nparts is 0 */
    void     *held;                 /* private: what backs the parts (NULL when nothing) */
} fl_reply_t;

/*  Connect to the broker at endpoint ("tcp://127.0.0.1:5555").  security may
 *  be NULL (plain) and is borrowed: it must outlive the client.  opts may be
 *  NULL (defaults).  NULL with err on failure. */
fl_client_t *fl_client_new(const char *endpoint, const fl_security_t *security,
                           const fl_client_options_t *opts, fl_error_t *err);

/*  Close the socket and forget outstanding requests; sets *self_p to NULL. */
void fl_client_destroy(fl_client_t **self_p);

/*  Send body (len bytes, copied) to service under request id rid (8..64
 *  printable ASCII bytes, unique among this client's outstanding requests).
 *  Returns 0, FL_E_CONFLICT (rid already outstanding), FL_E_FULL (too many
 *  outstanding), FL_E_INVALID (bad rid or service) or FL_E_IO. */
int fl_client_send(fl_client_t *self, const char *service, const char *rid, const void *body, size_t len);

/*  Wait up to timeout_ms (0: do not wait; -1: until something finishes) for a
 *  request to finish, retrying as described above.  *out is overwritten
 *  without being released (reset it first if it held a reply) and left empty
 *  unless the call returns 0.  Returns 0 with *out filled (the caller releases
 *  it with fl_reply_reset), FL_E_TIMEOUT when nothing finished in time,
 *  FL_E_EMPTY when nothing is outstanding. */
int fl_client_recv(fl_client_t *self, fl_reply_t *out, int timeout_ms);

/*  Release a reply's frames and leave it empty (nparts 0, parts[0] {"", 0}).
 *  Safe on NULL and on an empty reply. */
void fl_reply_reset(fl_reply_t *reply);

/*  A reply part as a new NUL-terminated string (the caller frees it), or NULL
 *  when out of memory.  Handy for text replies; the bytes are not checked. */
char *fl_part_strdup(const fl_part_t *part);

/*  The socket to poll for input.  It changes when a retry opens a new one:
 *  ask again after every fl_client_recv. */
zsock_t *fl_client_socket(fl_client_t *self);

/*  Milliseconds until the earliest outstanding request times out (0 when one
 *  is overdue), or -1 when nothing is outstanding: the longest an event loop
 *  should sleep before calling fl_client_recv again. */
int fl_client_next_timeout_ms(fl_client_t *self);

/*  Number of requests in flight. */
size_t fl_client_outstanding(const fl_client_t *self);

/*  Send one request with a fresh random request id and wait for its reply
 *  (through every retry).  On 0, *reply holds the reply (status 0; the caller
 *  releases it with fl_reply_reset); on failure *reply is left empty.  Returns
 *  0, FL_E_TIMEOUT (no reply after all retries), or fl_client_send's errors.
 *  Other requests' replies that arrive meanwhile are dropped, so do not mix
 *  with the asynchronous calls on one client. */
int fl_client_call(fl_client_t *self, const char *service, const void *body, size_t len,
                   fl_reply_t *reply, fl_error_t *err);

/*  A fresh request id into out (33 bytes, 32 hex digits): milliseconds since
 *  the epoch, a random per-process salt and a counter — unique, cheap, and in
 *  time order (the scheduler stores replies by id). */
void fl_client_new_rid(char out[33]);

#endif
