/*  link.c — an fl_client with a socket monitor.  See link.h.
 *
 *  libzmq reports connection events on a PAIR socket it binds at an inproc
 *  address we choose; each event is two frames: six bytes (a 16-bit event
 *  id, then a 32-bit value, both in host order) and the peer's endpoint.
 *  Each monitor gets a fresh address, because the previous monitor's address
 *  may still be bound while libzmq closes the old socket.
 *
 *  Why every socket gets a send timeout of 0: with the broker refusing the
 *  handshake, libzmq drops the connection's pipe for good, and a DEALER
 *  with no pipe blocks in send until one appears, which would be never.
 *  Sends that cannot go return an error instead, and the link starts over
 *  with a new client (ctr_link_reset).
 */
#include "counter/link.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Longest inproc address of a monitor. */
#define LINK_MONITOR_ADDR_MAX 64

/* The events a link listens to. */
#define LINK_EVENTS (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED \
                     | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH \
                     | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL \
                     | ZMQ_EVENT_MONITOR_STOPPED)

struct ctr_link {
    fl_client_t *client;
    zsock_t *monitor;               /* PAIR connected to the monitor of `watched`, or NULL */
    void *watched;                  /* the raw socket being watched */
    unsigned generation;            /* makes each monitor address unique */
    ctr_transport_t transport;
    bool curve;                     /* this side uses CURVE */
    bool tcp_up;                    /* connected, handshake not finished yet */
    bool stalled;                   /* a CURVE connection dropped before its handshake finished */
    bool cut;                       /* a send found the connection dropped in the handshake */
    bool protocol_failed;           /* the monitor said why: a protocol failure */
    char *endpoint;                 /* to start over */
    const fl_security_t *security;
    fl_client_options_t opts;
};

/* Watch the client's current socket. */
static void
s_attach(ctr_link_t *self)
{
    zsock_destroy(&self->monitor);
    self->watched = NULL;
    zsock_set_sndtimeo(fl_client_socket(self->client), 0);     /* see the top of the file */
    void *raw = zsock_resolve(fl_client_socket(self->client));
    char addr[LINK_MONITOR_ADDR_MAX];
    snprintf(addr, sizeof addr, "inproc://ctr-link-%p-%u", (void *) self, ++self->generation);
    if (!raw || zmq_socket_monitor(raw, addr, LINK_EVENTS) != 0)
        return;
    self->monitor = zsock_new(ZMQ_PAIR);
    if (!self->monitor || zsock_connect(self->monitor, "%s", addr) != 0) {
        zsock_destroy(&self->monitor);
        return;
    }
    self->watched = raw;
}

ctr_link_t *
ctr_link_new(const char *endpoint, const fl_security_t *security, const fl_client_options_t *opts,
             fl_error_t *err)
{
    ctr_link_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->curve = fl_security_is_curve(security);
    self->security = security;
    if (opts)
        self->opts = *opts;
    self->endpoint = strdup(endpoint);
    self->client = self->endpoint ? fl_client_new(endpoint, security, opts, err) : NULL;
    if (!self->client) {
        if (!self->endpoint)
            fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        ctr_link_destroy(&self);
        return NULL;
    }
    s_attach(self);
    return self;
}

int
ctr_link_reset(ctr_link_t *self, fl_error_t *err)
{
    fl_client_t *fresh = fl_client_new(self->endpoint, self->security, &self->opts, err);
    if (!fresh)
        return err ? err->code : FL_E_IO;
    zsock_destroy(&self->monitor);
    fl_client_destroy(&self->client);
    self->client = fresh;
    s_attach(self);
    return 0;
}

int
ctr_link_send(ctr_link_t *self, const char *service, const char *rid, const void *body, size_t len)
{
    ctr_link_check(self);
    int rc = fl_client_send(self->client, service, rid, body, len);
    if (rc == FL_E_IO) {
        /* no pipe to the broker: libzmq dropped it in the handshake */
        self->cut = true;
        ctr_link_read_monitor(self);
        if (self->transport != CTR_TRANSPORT_REFUSED && self->transport != CTR_TRANSPORT_MISMATCH)
            self->transport = CTR_TRANSPORT_MISMATCH;
    }
    return rc;
}

void
ctr_link_destroy(ctr_link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctr_link_t *self = *self_p;
    fl_client_destroy(&self->client);
    zsock_destroy(&self->monitor);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

fl_client_t *
ctr_link_client(ctr_link_t *self)
{
    return self->client;
}

void
ctr_link_check(ctr_link_t *self)
{
    if (zsock_resolve(fl_client_socket(self->client)) != self->watched)
        s_attach(self);
}

int
ctr_link_pollitems(ctr_link_t *self, zmq_pollitem_t *items)
{
    ctr_link_check(self);
    int n = 0;
    items[n++] = (zmq_pollitem_t) { zsock_resolve(fl_client_socket(self->client)), 0, ZMQ_POLLIN, 0 };
    if (self->monitor)
        items[n++] = (zmq_pollitem_t) { zsock_resolve(self->monitor), 0, ZMQ_POLLIN, 0 };
    return n;
}

static void
s_event(ctr_link_t *self, uint16_t event)
{
    bool stuck = self->transport == CTR_TRANSPORT_REFUSED || self->transport == CTR_TRANSPORT_MISMATCH;
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        self->tcp_up = true;
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        self->transport = CTR_TRANSPORT_UP;
        self->tcp_up = self->stalled = self->cut = false;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        self->transport = CTR_TRANSPORT_REFUSED;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        /* one side speaks CURVE and the other not, or the keys do not fit */
        self->transport = CTR_TRANSPORT_MISMATCH;
        self->protocol_failed = true;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:     /* a system error mid-handshake: try again */
    case ZMQ_EVENT_DISCONNECTED:
    case ZMQ_EVENT_CONNECT_RETRIED:
        /* a CURVE server that cannot read our HELLO (we hold the wrong server
         * key) hangs up without a word */
        if (event != ZMQ_EVENT_CONNECT_RETRIED && self->tcp_up && self->curve)
            self->stalled = true;
        self->tcp_up = false;
        if (!stuck)
            self->transport = CTR_TRANSPORT_DOWN;
        break;
    default:
        break;
    }
}

void
ctr_link_read_monitor(ctr_link_t *self)
{
    bool stopped = false;
    while (self->monitor && (zsock_events(self->monitor) & ZMQ_POLLIN)) {
        zmsg_t *msg = zmsg_recv(self->monitor);
        if (!msg)
            break;
        zframe_t *f = zmsg_first(msg);
        if (f && zframe_size(f) >= 6) {
            uint16_t event;
            memcpy(&event, zframe_data(f), sizeof event);
            if (event == ZMQ_EVENT_MONITOR_STOPPED)
                stopped = true;
            else
                s_event(self, event);
        }
        zmsg_destroy(&msg);
        if (stopped)
            break;
    }
    if (stopped)
        s_attach(self);             /* the socket it watched is gone: watch the new one */
    else
        ctr_link_check(self);
}

void
ctr_link_heard(ctr_link_t *self)
{
    self->transport = CTR_TRANSPORT_UP;
    self->stalled = self->cut = false;
}

bool
ctr_link_cut(const ctr_link_t *self)
{
    return self->cut;
}

ctr_transport_t
ctr_link_transport(const ctr_link_t *self)
{
    return self->transport;
}

const char *
ctr_link_transport_text(const ctr_link_t *self)
{
    switch (self->transport) {
    case CTR_TRANSPORT_UP:
        return "connected";
    case CTR_TRANSPORT_DOWN:
        return self->stalled ? "it hangs up during the CURVE handshake: is FOLENI_CURVE_SERVER the "
                               "broker's certificate?"
                             : "not reachable";
    case CTR_TRANSPORT_REFUSED:
        return "the broker refused this terminal's CURVE key: it is not among the broker's known clients";
    case CTR_TRANSPORT_MISMATCH:
        if (!self->protocol_failed)     /* known only from a send that could not go */
            return "the broker closed the connection during the security handshake: check FOLENI_CURVE_CERT "
                   "and FOLENI_CURVE_SERVER against the broker's settings";
        return self->curve ? "the broker did not accept this terminal's CURVE handshake (does it run with "
                             "CURVE, and is FOLENI_CURVE_SERVER its certificate?)"
                           : "the broker requires CURVE: this terminal has no certificate (set FOLENI_CURVE_CERT "
                             "and FOLENI_CURVE_SERVER)";
    default:
        return "connecting";
    }
}

int
ctr_link_wait(ctr_link_t *self, fl_reply_t *out, int timeout_ms)
{
    int64_t until = zclock_mono() + (timeout_ms < 0 ? INT32_MAX : timeout_ms);
    while (true) {
        int rc = fl_client_recv(self->client, out, 0);
        ctr_link_check(self);
        if (rc == 0) {
            if (out->status == 0)
                ctr_link_heard(self);
            return 0;
        }
        if (rc == FL_E_EMPTY)
            return rc;
        if (self->transport == CTR_TRANSPORT_REFUSED || self->transport == CTR_TRANSPORT_MISMATCH)
            return FL_E_FORBIDDEN;
        int64_t now = zclock_mono();
        if (now >= until)
            return FL_E_TIMEOUT;
        int64_t wait = fl_client_next_timeout_ms(self->client);
        if (wait < 0 || wait > until - now)
            wait = until - now;
        zmq_pollitem_t items[CTR_LINK_POLLITEMS];
        int n = ctr_link_pollitems(self, items);
        if (zmq_poll(items, n, (long) wait) < 0 && errno != EINTR)
            return FL_E_IO;
        if (zsys_interrupted)
            return FL_E_TIMEOUT;
        if (n > 1 && (items[1].revents & ZMQ_POLLIN))
            ctr_link_read_monitor(self);
    }
}
