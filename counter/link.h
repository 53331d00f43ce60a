/*  link.h — the counter's line to the broker: an fl_client that also knows
 *  whether its connection is up, down, or refused.
 *
 *  fl_client (libfoleni/client.h) gives requests in flight, timeouts and
 *  retries with the same request id.  What it cannot say is *why* nothing
 *  comes back: the broker may be down, or it may have refused this terminal's
 *  CURVE key during the handshake, which ZeroMQ reports to nobody but a
 *  socket monitor.  A clerk must be told the difference ("waiting for the
 *  broker" is not "this terminal is not allowed"), so a link watches its
 *  client's socket with zmq_socket_monitor and keeps the transport state:
 *
 *    - handshake succeeded, or any reply heard      -> CTR_TRANSPORT_UP
 *    - connection dropped, or a connect attempt failed -> CTR_TRANSPORT_DOWN
 *    - handshake failed on authentication (ZAP said no) -> CTR_TRANSPORT_REFUSED
 *    - handshake failed on the protocol (one side wants CURVE, the other
 *      not)                                          -> CTR_TRANSPORT_MISMATCH
 *
 *  REFUSED and MISMATCH stay until a handshake succeeds: the disconnection
 *  that follows a refusal does not hide it.  ZeroMQ keeps reconnecting after
 *  a refusal, so a refusal that happened before the monitor was attached is
 *  seen at the next attempt (every 100 ms).
 *
 *  fl_client opens a new socket on each retry; the link notices (the old
 *  monitor says it stopped, or the socket changed) and watches the new one.
 *
 *  Sends never block: a send that cannot go (the broker dropped the
 *  connection during the handshake, so libzmq has no pipe left and would
 *  wait for ever) fails with FL_E_IO, and the caller starts over with
 *  ctr_link_reset, which forgets every request in flight.
 *  Not thread-safe.
 */
#ifndef FOLENI_COUNTER_LINK_H
#define FOLENI_COUNTER_LINK_H

#include <czmq.h>
#include <stdbool.h>

#include "libfoleni/client.h"
#include "libfoleni/error.h"
#include "libfoleni/security.h"

/* Poll items a link needs: the client's socket and its monitor. */
#define CTR_LINK_POLLITEMS 2

typedef enum {
    CTR_TRANSPORT_UNKNOWN,      /* no news from the socket yet */
    CTR_TRANSPORT_UP,           /* connected, handshake done (or a reply came) */
    CTR_TRANSPORT_DOWN,         /* not connected: the broker is not there */
    CTR_TRANSPORT_REFUSED,      /* the broker refused this terminal's CURVE key */
    CTR_TRANSPORT_MISMATCH,     /* security mismatch (CURVE on one side only) */
} ctr_transport_t;

typedef struct ctr_link ctr_link_t;

/*  A client of the broker at endpoint with its monitor.  security (may be
 *  NULL: plain) is borrowed and must outlive the link; opts as for
 *  fl_client_new.  NULL with err (FL_E_IO, FL_E_NOMEM). */
ctr_link_t *ctr_link_new(const char *endpoint, const fl_security_t *security, const fl_client_options_t *opts,
                         fl_error_t *err);

/*  Close everything; sets *self_p to NULL.  Safe on NULL. */
void ctr_link_destroy(ctr_link_t **self_p);

/*  The client, for fl_client_recv and the like.  After calling
 *  fl_client_recv, call ctr_link_check so the monitor follows a new socket.
 *  Send with ctr_link_send, not fl_client_send. */
fl_client_t *ctr_link_client(ctr_link_t *self);

/*  fl_client_send without ever blocking.  Returns fl_client_send's codes;
 *  FL_E_IO means the connection is gone for good (ctr_link_cut() is then
 *  true): call ctr_link_reset before sending again. */
int ctr_link_send(ctr_link_t *self, const char *service, const char *rid, const void *body, size_t len);

/*  True when a send found the connection dropped during the handshake (and
 *  no handshake has succeeded since). */
bool ctr_link_cut(const ctr_link_t *self);

/*  Start over with a new client (a new socket, a new identity at the
 *  broker).  Requests in flight are forgotten: the caller sends again what
 *  it still needs, with the same request ids.  The transport state is kept
 *  until the new connection says otherwise.  0, or fl_client_new's errors
 *  (the old client is then kept). */
int ctr_link_reset(ctr_link_t *self, fl_error_t *err);

/*  Watch the client's current socket if it changed.  Cannot fail (a monitor
 *  that cannot be attached only means less is known). */
void ctr_link_check(ctr_link_t *self);

/*  Fill items (room for CTR_LINK_POLLITEMS) with the sockets to poll for
 *  input; returns how many were filled.  Ask again after each round: a retry
 *  replaces the client's socket. */
int ctr_link_pollitems(ctr_link_t *self, zmq_pollitem_t *items);

/*  Read the monitor's events, if any are waiting, and update the state.
 *  Cannot fail. */
void ctr_link_read_monitor(ctr_link_t *self);

/*  Tell the link a reply arrived: the transport is up. */
void ctr_link_heard(ctr_link_t *self);

/*  The transport state, and words saying it for a person: "connected",
 *  "connecting", "not reachable", or for a refusal a whole sentence ("the
 *  broker refused this terminal's CURVE key: ..."). */
ctr_transport_t ctr_link_transport(const ctr_link_t *self);
const char *ctr_link_transport_text(const ctr_link_t *self);

/*  Wait up to timeout_ms for a request to finish (as fl_client_recv: a reply, or
 *  status FL_E_TIMEOUT once its retries are used up), while
 *  watching the monitor.  Returns 0 with *out filled, FL_E_TIMEOUT when
 *  nothing finished in time, FL_E_EMPTY when nothing is outstanding, or
 *  FL_E_FORBIDDEN as soon as the broker refuses this terminal's key or the
 *  security settings do not match (ctr_link_transport_text says which). */
int ctr_link_wait(ctr_link_t *self, fl_reply_t *out, int timeout_ms);

#endif
