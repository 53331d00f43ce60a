/*  broker.c — routing, credit windows, queues, heartbeats and the bus.
 *  See broker.h for the behaviour; docs/protocol.md for the frames.
 *
 *  Services keep two lists: workers with credit left (least recently used
 *  first) and requests waiting (oldest first).  A worker is in its service's
 *  credit list exactly when inflight < window.  Both lists are intrusive, so
 *  moving a worker to the back or taking a request costs no allocation.
 *
 *  The hot path works on zmq_msg_t, not CZMQ messages: a message is received
 *  into a fixed array of frames, checked in place (fl_mdp_check_*), and its
 *  body frames are passed on with zmq_msg_send, which moves them without a
 *  copy.  The protocol frames going out are constants sent with zmq_send.  A
 *  request that finds a worker with credit goes out at once and is never
 *  stored; only a request that must wait is moved into a request_t.  Workers
 *  are found by their binary ROUTER identity in a small hash table.
 *
 *  Compact framing (mdp.h).  A Foleni peer may pack the protocol frames into
 *  one header frame.  The broker reads both forms from anyone and writes the
 *  form each peer asked for through its identity: a request is read into an
 *  ask_t (client, caller, request id, body frames), whatever its form, and
 *  written out in the form of the worker that takes it; a reply's head is
 *  written in the form of its client (s_client_head).  So a compact client
 *  meets a plain worker, and the other way round, without either knowing.
 */
#include "broker/broker.h"

#include <string.h>

#include "libfoleni/keytab.h"
#include "libfoleni/log.h"
#include "libfoleni/mdp.h"
#include "libfoleni/msg.h"
#include "libfoleni/security.h"
#include "broker/zap.h"

#define BROKER_SERVICES_MAX 1024    /* distinct service names kept at once */
#define BROKER_LOG_BURST    20      /* malformed-input warnings per stats period */
#define BROKER_DRAIN_MAX    1000    /* messages read per wake-up before timers run */
#define BROKER_BUCKETS_MIN  64      /* worker table size to start with (a power of 2) */

/* Frames kept from one message: identity, then a worker's header, command,
 * address and delimiter, then the largest body; one spare.  A message with
 * more frames is counted through and refused (its body is too long). */
#define BROKER_FRAMES_MAX   (1 + 4 + FL_MDP_BODY_FRAMES_MAX + 1)

typedef struct service service_t;
typedef struct worker worker_t;
typedef struct request request_t;

struct worker {
    fl_keynode_t node;              /* in self->workers, keyed by id */
    worker_t  *cprev, *cnext;       /* neighbours in service->credit */
    bool       in_credit;
    service_t *service;
    unsigned   window;              /* requests it may hold */
    unsigned   inflight;
    bool       foleni;              /* announced a window: wants caller frames */
    bool       compact;             /* its identity asks for compact requests */
    int64_t    expires;
    size_t     id_size;
    uint8_t    id[FL_MDP_ADDRESS_MAX];  /* ROUTER identity */
};

/* A request waiting for a worker; it owns its frames. */
struct request {
    request_t *next;
    int64_t    expires;
    char       caller[FL_CURVE_KEY_TEXT + 1];
    zmq_msg_t  client;              /* identity of the client */
    bool       rid_framed;          /* body[0] is the request id (plain MDP form) */
    size_t     rid_size;            /* a compact header's request id, copied; 0: none */
    uint8_t    rid[FL_MDP_RID_MAX];
    size_t     nbody;
    zmq_msg_t  body[];              /* [rid +] payload */
};

/* A client's request as read, in either form; views into the received
 * frames or into a request_t. */
typedef struct {
    zmq_msg_t  *client;             /* the client's identity frame */
    const char *caller;             /* CURVE key text or "" */
    const void *rid;                /* the request id, NULL when none */
    size_t      rid_size;
    bool        rid_framed;         /* rid is body[0] (plain form); else it came in a header */
    zmq_msg_t  *body;               /* the body frames, body[0] the rid when rid_framed */
    size_t      nbody;
} ask_t;

struct service {
    char       name[FL_MDP_SERVICE_MAX + 1];
    size_t     name_size;
    worker_t  *credit_head, *credit_tail;   /* workers with inflight < window, LRU first */
    request_t *req_head, *req_tail;         /* oldest first (owned) */
    size_t     waiting;
    size_t     workers;
};

struct broker {
    broker_options_t opts;
    zsock_t  *router, *xsub, *xpub;
    void     *router_h;             /* the ROUTER's libzmq handle */
    zap_t    *auth;                 /* CURVE authenticator, NULL when plain */
    zcert_t  *cert;
    zhashx_t *services;             /* name -> service_t (owned) */
    service_t *last_service;        /* the last one looked up (services are never removed) */
    fl_keytab_t workers;            /* identity -> worker_t (owned) */
    broker_stats_t stats;
    int64_t   now;                  /* zclock_mono, read once per batch of input */
    int64_t   heartbeat_at, stats_at;
    int       warnings_left;        /* rate limit for malformed-input logs */
};

/* ---- small helpers ---- */

static void
s_request_free(request_t *r)
{
    zmq_msg_close(&r->client);
    for (size_t i = 0; i < r->nbody; i++)
        zmq_msg_close(&r->body[i]);
    free(r);
}

static void
s_service_destroy(void **item)
{
    service_t *s = *item;
    if (s) {
        while (s->req_head) {
            request_t *r = s->req_head;
            s->req_head = r->next;
            s_request_free(r);
        }
        free(s);
        *item = NULL;
    }
}

static void
s_warn(broker_t *self, const char *what, const char *reason)
{
    self->stats.malformed++;
    if (self->warnings_left > 0) {
        self->warnings_left--;
        fl_log(FL_LOG_WARN, what, FL_S("reason", reason), NULL);
    }
}

bool
broker_endpoint_is_local(const char *e)
{
    if (!strncmp(e, "ipc://", 6) || !strncmp(e, "inproc://", 9))
        return true;
    if (strncmp(e, "tcp://", 6))
        return false;
    e += 6;
    return !strncmp(e, "127.", 4) || !strncmp(e, "localhost:", 10) || !strncmp(e, "[::1]:", 6);
}

/* ---- the worker table: binary identity -> worker ---- */

static worker_t *
s_worker_find(broker_t *self, const void *id, size_t size)
{
    fl_keynode_t *n = fl_keytab_find(&self->workers, id, size);
    return n ? fl_keytab_entry(n, worker_t, node) : NULL;
}

/* ---- the credit list and the queue of a service ---- */

static void
s_credit_add(service_t *s, worker_t *w)
{
    w->cnext = NULL;
    w->cprev = s->credit_tail;
    if (s->credit_tail)
        s->credit_tail->cnext = w;
    else
        s->credit_head = w;
    s->credit_tail = w;
    w->in_credit = true;
}

static void
s_credit_remove(service_t *s, worker_t *w)
{
    if (!w->in_credit)
        return;
    if (w->cprev)
        w->cprev->cnext = w->cnext;
    else
        s->credit_head = w->cnext;
    if (w->cnext)
        w->cnext->cprev = w->cprev;
    else
        s->credit_tail = w->cprev;
    w->cprev = w->cnext = NULL;
    w->in_credit = false;
}

static void
s_queue_push(service_t *s, request_t *r)
{
    r->next = NULL;
    if (s->req_tail)
        s->req_tail->next = r;
    else
        s->req_head = r;
    s->req_tail = r;
    s->waiting++;
}

static request_t *
s_queue_pop(service_t *s)
{
    request_t *r = s->req_head;
    if (r) {
        s->req_head = r->next;
        if (!s->req_head)
            s->req_tail = NULL;
        s->waiting--;
    }
    return r;
}

/* ---- sending ---- */

/* Start a message to the peer with this identity; false (and counted) when
 * the peer has gone (ROUTER_MANDATORY tells us, and nothing was sent). */
static bool
s_route(broker_t *self, const void *id, size_t size)
{
    if (zmq_send(self->router_h, id, size, ZMQ_SNDMORE) < 0) {
        self->stats.unroutable++;
        return false;
    }
    return true;
}

/* Send a constant or small frame (copied by libzmq). */
static void
s_put(broker_t *self, const void *data, size_t size, bool more)
{
    zmq_send(self->router_h, data, size, more ? ZMQ_SNDMORE : 0);
}

/* Pass a frame on without copying it; the (now empty) frame stays the
 * caller's to close. */
static void
s_pass(broker_t *self, zmq_msg_t *frame, bool more)
{
    zmq_msg_send(frame, self->router_h, more ? ZMQ_SNDMORE : 0);
}

/* Start a message to a client: its identity, then its protocol frames and
 * the request id (rid NULL: none), in the form the client asked for with its
 * identity.  The body follows.  A request id that a compact header cannot
 * carry goes as a body frame, as in MDP, so no bytes are lost.  False (and
 * counted) when the client has gone. */
static bool
s_client_head(broker_t *self, const void *client, size_t client_size, int command, const char *service,
              size_t service_size, const void *rid, size_t rid_size)
{
    if (!s_route(self, client, client_size))
        return false;
    if (fl_mdp_compact_peer(client, client_size) == FL_MDP_PROTO_CLIENT) {
        uint8_t head[FL_MDP_COMPACT_HEADER_MAX];
        bool packed = rid && fl_mdp_compact_rid_ok(rid, rid_size);
        size_t size = fl_mdp_compact_pack_client(head, command, service, service_size,
                                                 packed ? rid : NULL, packed ? rid_size : 0);
        s_put(self, head, size, true);      /* the service was checked on the way in */
        if (rid && !packed)
            s_put(self, rid, rid_size, true);
        return true;
    }
    s_put(self, FL_MDP_CLIENT_HEADER, FL_MDP_HEADER_SIZE, true);
    s_put(self, (uint8_t[]) { (uint8_t) command }, 1, true);
    s_put(self, service, service_size, true);
    if (rid)
        s_put(self, rid, rid_size, true);
    return true;
}

/* A broker-made FINAL to a client: [rid,] body. */
static void
s_reply(broker_t *self, const void *client, size_t client_size, const char *service,
        const void *rid, size_t rid_size, const void *body, size_t body_size)
{
    if (s_client_head(self, client, client_size, FL_MDP_CLIENT_FINAL, service, strlen(service), rid,
                      rid_size))
        s_put(self, body, body_size, false);
}

/* An error reply, with the msgpack `error` body every Foleni client reads;
 * rid (NULL for a plain request) is the request's id. */
static void
s_error(broker_t *self, zmq_msg_t *client, const char *service, const void *rid, size_t rid_size,
        int code, const char *message)
{
    fl_msg_t *err = fl_msg_new(FL_T_ERROR);
    fl_msg_set_str(err, FL_F_CODE, fl_error_name(code));
    fl_msg_set_str(err, FL_F_MESSAGE, message);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    fl_msg_encode(err, &buf, NULL);
    fl_msg_destroy(&err);
    s_reply(self, zmq_msg_data(client), zmq_msg_size(client), service, rid, rid_size, buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
}

/* A two-frame worker command (HEARTBEAT, DISCONNECT) to this identity. */
static void
s_worker_command(broker_t *self, const void *id, size_t size, uint8_t command)
{
    if (s_route(self, id, size)) {
        s_put(self, FL_MDP_WORKER_HEADER, FL_MDP_HEADER_SIZE, true);
        s_put(self, &command, 1, false);
    }
}

/* Hand a request to w, moving the client identity and body frames out (they
 * stay the caller's to close); false when w has gone, and then nothing was
 * moved and the request can go to another worker (a worker that reconnected
 * leaves its old registration behind until its heartbeats run out). */
static bool
s_send_to_worker(broker_t *self, worker_t *w, const ask_t *a)
{
    if (!s_route(self, w->id, w->id_size))
        return false;
    size_t first = 0;                   /* the body frames to pass on */
    if (w->compact) {
        /* one header frame: address, caller, rid; a rid it cannot carry
         * stays a body frame */
        const void *rid = a->rid;
        size_t rid_size = a->rid_size;
        if (rid && !fl_mdp_compact_rid_ok(rid, rid_size)) {
            rid = NULL;
            rid_size = 0;
        } else if (rid && a->rid_framed)
            first = 1;
        uint8_t head[FL_MDP_COMPACT_HEADER_MAX];
        size_t size = fl_mdp_compact_pack_worker(head, FL_MDP_WORKER_REQUEST, zmq_msg_data(a->client),
                                                 zmq_msg_size(a->client), a->caller, strlen(a->caller),
                                                 rid, rid_size);
        s_put(self, head, size, true);  /* identity and caller were checked on the way in */
    } else {
        s_put(self, FL_MDP_WORKER_HEADER, FL_MDP_HEADER_SIZE, true);
        s_put(self, (uint8_t[]) { FL_MDP_WORKER_REQUEST }, 1, true);
        s_pass(self, a->client, true);
        s_put(self, "", 0, true);
        if (w->foleni)
            s_put(self, a->caller, strlen(a->caller), true);
        if (a->rid && !a->rid_framed)   /* from a compact header: back into a frame */
            s_put(self, a->rid, a->rid_size, true);
    }
    for (size_t i = first; i < a->nbody; i++)
        s_pass(self, &a->body[i], i + 1 < a->nbody);
    return true;
}

/* The ask of a waiting request. */
static ask_t
s_ask_of(request_t *r)
{
    ask_t a = { .client = &r->client, .caller = r->caller, .rid_framed = r->rid_framed,
                .body = r->body, .nbody = r->nbody };
    if (r->rid_framed) {
        /* read after the move: a small frame's bytes live inside the zmq_msg_t */
        a.rid = zmq_msg_data(&r->body[0]);
        a.rid_size = zmq_msg_size(&r->body[0]);
    } else if (r->rid_size) {
        a.rid = r->rid;
        a.rid_size = r->rid_size;
    }
    return a;
}

/* ---- services and workers ---- */

static service_t *
s_service(broker_t *self, const char *name)
{
    service_t *s = self->last_service;
    if (s && !strcmp(s->name, name))
        return s;
    s = zhashx_lookup(self->services, name);
    if (!s && zhashx_size(self->services) < BROKER_SERVICES_MAX && (s = calloc(1, sizeof *s))) {
        snprintf(s->name, sizeof s->name, "%s", name);
        s->name_size = strlen(s->name);
        zhashx_insert(self->services, s->name, s);
    }
    if (s)
        self->last_service = s;
    return s;
}

/* Answer waiting requests that are too old. */
static void
s_expire_requests(broker_t *self, service_t *s, int64_t now)
{
    while (s->req_head && s->req_head->expires <= now) {
        request_t *r = s_queue_pop(s);
        ask_t a = s_ask_of(r);
        s_error(self, &r->client, s->name, a.rid, a.rid_size, FL_E_UNAVAILABLE,
                s->workers ? "the service is busy: no worker took the request in time"
                           : "the service is not available: no worker has registered for it");
        self->stats.expired++;
        s_request_free(r);
    }
}

/* w took one request: one credit less, and to the back of the LRU order. */
static void
s_took(service_t *s, worker_t *w)
{
    w->inflight++;
    s_credit_remove(s, w);
    if (w->inflight < w->window)
        s_credit_add(s, w);
}

static void s_worker_delete(broker_t *self, worker_t *w, bool tell);

/* Pair waiting requests with workers that have credit. */
static void
s_dispatch(broker_t *self, service_t *s)
{
    s_expire_requests(self, s, self->now);
    while (s->credit_head && s->req_head) {
        worker_t *w = s->credit_head;
        ask_t a = s_ask_of(s->req_head);
        if (!s_send_to_worker(self, w, &a)) {
            fl_log(FL_LOG_INFO, "worker gone: dropped", FL_S("service", s->name), NULL);
            s_worker_delete(self, w, false);    /* the request stays queued for the next */
            continue;
        }
        s_request_free(s_queue_pop(s));
        s_took(s, w);
    }
}

static void
s_worker_delete(broker_t *self, worker_t *w, bool tell)
{
    if (tell)
        s_worker_command(self, w->id, w->id_size, FL_MDP_WORKER_DISCONNECT);
    if (w->service) {
        s_credit_remove(w->service, w);
        w->service->workers--;
    }
    fl_keytab_remove(&self->workers, &w->node);
    free(w);
}

/* ---- input ---- */

/* The mmi. services, answered here. */
static void
s_mmi(broker_t *self, const ask_t *a, const char *service)
{
    zmq_msg_t *asked = &a->body[a->rid_framed ? 1 : 0];
    char *text = NULL;
    const char *answer = FL_MDP_MMI_NOT_IMPLEMENTED;
    if (!strcmp(service, FL_MDP_MMI_SERVICE)) {
        char name[FL_MDP_SERVICE_MAX + 1] = "";
        size_t size = zmq_msg_size(asked);
        if (size < sizeof name)
            memcpy(name, zmq_msg_data(asked), size);
        name[size < sizeof name ? size : 0] = '\0';
        service_t *s = zhashx_lookup(self->services, name);
        answer = s && s->workers ? FL_MDP_MMI_FOUND : FL_MDP_MMI_NOT_FOUND;
    } else if (!strcmp(service, "mmi.stats")) {
        text = broker_stats_text(self);
        answer = text ? text : "";
    }
    s_reply(self, zmq_msg_data(a->client), zmq_msg_size(a->client), service, a->rid, a->rid_size, answer,
            strlen(answer));
    free(text);
}

/* A client's request, in either form (its frames stay the caller's to
 * close; those passed on are left empty). */
static void
s_client_request(broker_t *self, const ask_t *a, const char *service)
{
    if (fl_mdp_service_is_mmi(service)) {
        s_mmi(self, a, service);
        return;
    }
    service_t *s = s_service(self, service);
    if (!s || s->waiting >= self->opts.queue_max) {
        self->stats.refused++;
        s_error(self, a->client, service, a->rid, a->rid_size, FL_E_UNAVAILABLE,
                s ? "the service is overloaded: its queue is full" : "too many services");
        return;
    }
    self->stats.requests++;
    /* Nothing waiting before it: straight to a worker with credit, unstored. */
    while (!s->req_head && s->credit_head) {
        worker_t *w = s->credit_head;
        if (s_send_to_worker(self, w, a)) {
            s_took(s, w);
            return;
        }
        fl_log(FL_LOG_INFO, "worker gone: dropped", FL_S("service", s->name), NULL);
        s_worker_delete(self, w, false);
    }
    request_t *r = malloc(sizeof *r + a->nbody * sizeof(zmq_msg_t));
    if (!r)
        return;                         /* dropped: the client will retry */
    zmq_msg_init(&r->client);
    zmq_msg_move(&r->client, a->client);
    r->rid_framed = a->rid_framed;
    r->rid_size = 0;
    if (a->rid && !a->rid_framed) {     /* it lives in the header frame, which is not kept */
        r->rid_size = a->rid_size;      /* at most FL_MDP_RID_MAX: checked */
        memcpy(r->rid, a->rid, a->rid_size);
    }
    r->nbody = a->nbody;
    for (size_t i = 0; i < a->nbody; i++) {
        zmq_msg_init(&r->body[i]);
        zmq_msg_move(&r->body[i], &a->body[i]);
    }
    r->expires = self->now + self->opts.queue_timeout_ms;
    snprintf(r->caller, sizeof r->caller, "%s", a->caller);
    self->stats.queued++;
    s_queue_push(s, r);
    s_dispatch(self, s);
}

/* A worker w sent PARTIAL or FINAL: a FINAL gives a credit back. */
static void
s_worker_replied(broker_t *self, worker_t *w, bool final)
{
    if (!final)
        return;
    self->stats.replies++;
    if (w->inflight > 0)
        w->inflight--;
    if (!w->in_credit && w->inflight < w->window)
        s_credit_add(w->service, w);
    s_dispatch(self, w->service);
}

/* A message from a worker: f[0] its identity, v[] views of the n frames kept,
 * total frames received. */
static void
s_worker_message(broker_t *self, zmq_msg_t *f, const fl_mdp_frame_t *v, size_t n, size_t total)
{
    fl_mdp_worker_msg_t cmd;
    fl_error_t err;
    const void *id = v[0].data;
    size_t id_size = v[0].size;
    if (fl_mdp_check_worker(v + 1, total - 1, &cmd, &err) != 0) {
        s_warn(self, "dropped a malformed worker message", err.message);
        return;
    }
    worker_t *w = s_worker_find(self, id, id_size);
    if (w)
        w->expires = self->now + (int64_t) self->opts.heartbeat_ms * self->opts.liveness;
    switch (cmd.command) {
    case FL_MDP_WORKER_READY: {
        bool mmi = fl_mdp_service_is_mmi(cmd.service);
        service_t *s = w || mmi ? NULL : s_service(self, cmd.service);
        if (!s) {
            s_warn(self, "refused a READY", w ? "worker already registered" : "bad or too many services");
            if (w)
                s_worker_delete(self, w, true);
            else
                s_worker_command(self, id, id_size, FL_MDP_WORKER_DISCONNECT);
            break;
        }
        w = calloc(1, sizeof *w);
        if (!w)
            break;
        memcpy(w->id, id, id_size);
        w->id_size = id_size;
        w->node.key = w->id;
        w->node.key_size = id_size;
        w->service = s;
        w->foleni = cmd.window > 0;
        w->compact = fl_mdp_compact_peer(id, id_size) == FL_MDP_PROTO_WORKER;
        w->window = cmd.window > 0 ? cmd.window : 1;
        w->expires = self->now + (int64_t) self->opts.heartbeat_ms * self->opts.liveness;
        fl_keytab_insert(&self->workers, &w->node);
        s->workers++;
        s_credit_add(s, w);
        fl_log(FL_LOG_INFO, "worker ready", FL_S("service", s->name), FL_U("window", w->window),
               FL_U("workers", s->workers), NULL);
        s_dispatch(self, s);
        break;
    }
    case FL_MDP_WORKER_PARTIAL:
    case FL_MDP_WORKER_FINAL: {
        if (!w) {                           /* not registered: tell it to start over */
            s_worker_command(self, id, id_size, FL_MDP_WORKER_DISCONNECT);
            break;
        }
        /* f[1] header, f[2] command, f[3] client address, f[4] "", f[5..] body;
         * with two or more body frames the first is the request id */
        bool final = cmd.command == FL_MDP_WORKER_FINAL;
        size_t first = 5;
        const void *rid = NULL;
        size_t rid_size = 0;
        if (n - first >= 2) {
            rid = v[first].data;
            rid_size = v[first].size;
            first++;
        }
        service_t *s = w->service;
        if (s_client_head(self, v[3].data, v[3].size,
                          final ? FL_MDP_CLIENT_FINAL : FL_MDP_CLIENT_PARTIAL, s->name, s->name_size, rid,
                          rid_size))
            for (size_t i = first; i < n; i++)
                s_pass(self, &f[i], i + 1 < n);
        s_worker_replied(self, w, final);
        break;
    }
    case FL_MDP_WORKER_HEARTBEAT:
        if (!w)
            s_worker_command(self, id, id_size, FL_MDP_WORKER_DISCONNECT);
        break;
    case FL_MDP_WORKER_DISCONNECT:
        if (w)
            s_worker_delete(self, w, false);
        break;
    default:                                /* REQUEST: only brokers send it */
        s_warn(self, "dropped a worker message a worker may not send", fl_mdp_command_name(FL_MDP_PROTO_WORKER, cmd.command));
        break;
    }
}

/* A compact message from a worker (PARTIAL or FINAL): f[0] its identity,
 * f[1] the header, f[2 .. n-1] the body. */
static void
s_worker_compact(broker_t *self, zmq_msg_t *f, const fl_mdp_frame_t *v, size_t n, size_t total)
{
    fl_mdp_compact_t c;
    fl_error_t err;
    if (fl_mdp_check_compact(v + 1, total - 1, &c, &err) != 0) {
        s_warn(self, "dropped a malformed worker message", err.message);
        return;
    }
    if (c.command == FL_MDP_WORKER_REQUEST) {
        s_warn(self, "dropped a worker message a worker may not send", "REQUEST");
        return;
    }
    worker_t *w = s_worker_find(self, v[0].data, v[0].size);
    if (!w) {                               /* not registered: tell it to start over */
        s_worker_command(self, v[0].data, v[0].size, FL_MDP_WORKER_DISCONNECT);
        return;
    }
    w->expires = self->now + (int64_t) self->opts.heartbeat_ms * self->opts.liveness;
    bool final = c.command == FL_MDP_WORKER_FINAL;
    service_t *s = w->service;
    if (s_client_head(self, c.address.data, c.address.size,
                      final ? FL_MDP_CLIENT_FINAL : FL_MDP_CLIENT_PARTIAL, s->name, s->name_size,
                      c.rid.size ? c.rid.data : NULL, c.rid.size))
        for (size_t i = 2; i < n; i++)
            s_pass(self, &f[i], i + 1 < n);
    s_worker_replied(self, w, final);
}

/* The caller of a client's message: the User-Id libzmq attached to it (the
 * client's CURVE key, set by zap.c), or "".  Metadata rides on frames that
 * came over the wire, not on the identity frame the ROUTER made up: read it
 * from the header.  Only the ZAP handler sets User-Id, and it runs only with
 * CURVE. */
static void
s_caller(broker_t *self, zmq_msg_t *header, char caller[FL_CURVE_KEY_TEXT + 1])
{
    caller[0] = '\0';
    if (self->cert) {
        const char *user = zmq_msg_gets(header, "User-Id");
        if (user && strlen(user) == FL_CURVE_KEY_TEXT)
            memcpy(caller, user, FL_CURVE_KEY_TEXT + 1);
    }
}

/* One received message: f[0 .. n-1] the frames kept (identity first), v[]
 * views of them, total the frames it had. */
static void
s_handle(broker_t *self, zmq_msg_t *f, const fl_mdp_frame_t *v, size_t n, size_t total)
{
    fl_error_t err;
    if (fl_mdp_address_check(v[0].data, v[0].size, &err) != 0) {
        s_warn(self, "dropped a message without identity", err.message);
        return;
    }
    char caller[FL_CURVE_KEY_TEXT + 1];
    switch (fl_mdp_protocol_of_frame(total >= 2 ? &v[1] : NULL)) {
    case FL_MDP_PROTO_CLIENT: {
        fl_mdp_client_msg_t cmd;
        if (fl_mdp_check_client(v + 1, total - 1, &cmd, &err) != 0)
            s_warn(self, "dropped a malformed client message", err.message);
        else if (cmd.command != FL_MDP_CLIENT_REQUEST)
            s_warn(self, "dropped a client message a client may not send", "PARTIAL or FINAL");
        else {
            /* f[1] header, f[2] command, f[3] service, f[4..] body; with two
             * or more body frames the first is the request id */
            s_caller(self, &f[1], caller);
            size_t nbody = n - 4;
            ask_t a = { .client = &f[0], .caller = caller, .body = &f[4], .nbody = nbody };
            if (nbody >= 2) {
                a.rid = v[4].data;
                a.rid_size = v[4].size;
                a.rid_framed = true;
            }
            s_client_request(self, &a, cmd.service);
        }
        break;
    }
    case FL_MDP_PROTO_WORKER:
        s_worker_message(self, f, v, n, total);
        break;
    default:
        switch (fl_mdp_compact_of_frame(total >= 2 ? &v[1] : NULL)) {
        case FL_MDP_PROTO_CLIENT: {
            fl_mdp_compact_t c;
            if (fl_mdp_check_compact(v + 1, total - 1, &c, &err) != 0)
                s_warn(self, "dropped a malformed client message", err.message);
            else if (c.command != FL_MDP_CLIENT_REQUEST)
                s_warn(self, "dropped a client message a client may not send", "PARTIAL or FINAL");
            else {
                /* f[1] the header (service, rid), f[2..] body */
                char service[FL_MDP_SERVICE_MAX + 1];
                memcpy(service, c.service.data, c.service.size);
                service[c.service.size] = '\0';
                s_caller(self, &f[1], caller);
                ask_t a = { .client = &f[0], .caller = caller, .body = &f[2], .nbody = n - 2 };
                if (c.rid.size) {
                    a.rid = c.rid.data;
                    a.rid_size = c.rid.size;
                }
                self->stats.compact++;
                s_client_request(self, &a, service);
            }
            break;
        }
        case FL_MDP_PROTO_WORKER:
            s_worker_compact(self, f, v, n, total);
            break;
        default:
            s_warn(self, "dropped a message that is neither MDP client nor worker", "unknown header");
            break;
        }
        break;
    }
}

/* Handle one waiting message; false when none was waiting (reading without
 * waiting is the cheapest way to ask). */
static bool
s_router_input(broker_t *self)
{
    zmq_msg_t f[BROKER_FRAMES_MAX];
    size_t n, total;
    if (!fl_mdp_recv_frames(self->router_h, f, BROKER_FRAMES_MAX, &n, &total))
        return false;
    fl_mdp_frame_t v[BROKER_FRAMES_MAX];
    for (size_t i = 0; i < n; i++)
        v[i] = (fl_mdp_frame_t) { zmq_msg_data(&f[i]), zmq_msg_size(&f[i]) };
    s_handle(self, f, v, n, total);
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);           /* frames passed on are empty by now */
    return true;
}

/* ---- timers ---- */

static void
s_heartbeat(broker_t *self, int64_t now)
{
    size_t at = 0;
    fl_keynode_t *n, *next = NULL;
    while ((n = fl_keytab_next(&self->workers, &at, &next))) {  /* w may be freed below */
        worker_t *w = fl_keytab_entry(n, worker_t, node);
        if (w->expires > now) {
            s_worker_command(self, w->id, w->id_size, FL_MDP_WORKER_HEARTBEAT);
            continue;
        }
        fl_log(FL_LOG_WARN, "worker silent: dropped", FL_S("service", w->service->name),
               FL_U("inflight", w->inflight), NULL);
        self->stats.workers_dropped++;
        s_worker_delete(self, w, false);
    }
    for (service_t *s = zhashx_first(self->services); s; s = zhashx_next(self->services))
        s_expire_requests(self, s, now);
}

/* ---- the event bus ---- */

static void
s_forward(zsock_t *from, zsock_t *to, uint64_t *count)
{
    zmsg_t *msg = zmsg_recv(from);
    if (msg && zmsg_send(&msg, to) == 0 && count)
        (*count)++;
    zmsg_destroy(&msg);
}

/* ---- life cycle ---- */

static int
s_bind(broker_t *self, zsock_t **sock, int type, const char *endpoint, fl_error_t *err)
{
    if (!self->cert && !self->opts.insecure && !broker_endpoint_is_local(endpoint))
        return fl_error_set(err, FL_E_INVALID, "endpoint",
                            "%s is not a loopback address: give a CURVE certificate (--cert) "
                            "or say --insecure", endpoint);
    *sock = zsock_new(type);
    if (!*sock)
        return fl_error_set(err, FL_E_IO, "", "cannot create a socket");
    zsock_set_linger(*sock, 0);
    zsock_set_maxmsgsize(*sock, (int) self->opts.max_message_bytes);
    zsock_set_sndhwm(*sock, 100000);
    zsock_set_rcvhwm(*sock, 100000);
    if (type == ZMQ_ROUTER) {
        zsock_set_router_mandatory(*sock, 1);
        zsock_set_rcvtimeo(*sock, 0);       /* drained by reading until empty */
        /* Foleni peers choose their own identity (FLC1/FLW1 + 8 random bytes).  If a
           peer's link is re-established while this side still holds the old, half-open
           one, the new connection takes the identity over instead of being refused. */
        zsock_set_router_handover(*sock, 1);
    }
    if (self->cert) {
        zcert_apply(self->cert, *sock);
        zsock_set_curve_server(*sock, 1);
        zsock_set_zap_domain(*sock, FL_ZAP_DOMAIN);
    }
    if (zsock_bind(*sock, "%s", endpoint) < 0)
        return fl_error_set(err, FL_E_IO, "endpoint", "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return 0;
}

broker_t *
broker_new(const broker_options_t *opts, fl_error_t *err)
{
    broker_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->opts = *opts;
    if (self->opts.heartbeat_ms <= 0) self->opts.heartbeat_ms = 2500;
    if (self->opts.liveness <= 0) self->opts.liveness = 3;
    if (self->opts.queue_max == 0) self->opts.queue_max = 10000;
    if (self->opts.queue_timeout_ms <= 0) self->opts.queue_timeout_ms = 5000;
    if (self->opts.max_message_bytes <= 0) self->opts.max_message_bytes = 1 << 20;
    self->services = zhashx_new();
    zhashx_set_destructor(self->services, s_service_destroy);
    if (fl_keytab_init(&self->workers, BROKER_BUCKETS_MIN)) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        goto fail;
    }
    self->warnings_left = BROKER_LOG_BURST;

    if (opts->cert_path && *opts->cert_path) {
        if (!opts->clients_dir || !*opts->clients_dir) {
            fl_error_set(err, FL_E_INVALID, "clients", "CURVE needs a directory of allowed client certificates");
            goto fail;
        }
        self->cert = zcert_load(opts->cert_path);
        if (!self->cert) {
            fl_error_set(err, FL_E_IO, "cert", "%s: cannot read the server certificate", opts->cert_path);
            goto fail;
        }
        if (!(self->auth = zap_new(opts->clients_dir, err)))
            goto fail;
    }
    if (s_bind(self, &self->router, ZMQ_ROUTER, opts->endpoint, err))
        goto fail;
    self->router_h = zsock_resolve(self->router);
    if (opts->publish_endpoint && *opts->publish_endpoint) {
        if (s_bind(self, &self->xsub, ZMQ_XSUB, opts->publish_endpoint, err)
            || s_bind(self, &self->xpub, ZMQ_XPUB, opts->subscribe_endpoint, err))
            goto fail;
    }
    int64_t now = self->now = zclock_mono();
    self->heartbeat_at = now + self->opts.heartbeat_ms;
    self->stats_at = now + (int64_t) self->opts.stats_interval_s * 1000;
    return self;
fail:
    broker_destroy(&self);
    return NULL;
}

void
broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    size_t at = 0;
    fl_keynode_t *n, *next = NULL;
    while ((n = fl_keytab_next(&self->workers, &at, &next)))
        free(fl_keytab_entry(n, worker_t, node));
    fl_keytab_fini(&self->workers);
    zhashx_destroy(&self->services);
    zsock_destroy(&self->router);
    zsock_destroy(&self->xsub);
    zsock_destroy(&self->xpub);
    zap_destroy(&self->auth);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

void
broker_stats(const broker_t *self, broker_stats_t *out)
{
    *out = self->stats;
    out->workers = self->workers.count;
    out->waiting = 0;
    for (service_t *s = zhashx_first(self->services); s; s = zhashx_next(self->services))
        out->waiting += s->waiting;
}

char *
broker_stats_text(const broker_t *self)
{
    broker_stats_t st;
    broker_stats(self, &st);
    size_t cap = 512 + zhashx_size(self->services) * (FL_MDP_SERVICE_MAX + 32);
    char *text = malloc(cap);
    if (!text)
        return NULL;
    int n = snprintf(text, cap,
                     "requests=%llu replies=%llu queued=%llu expired=%llu refused=%llu malformed=%llu "
                     "unroutable=%llu workers_dropped=%llu events=%llu peers_denied=%llu workers=%zu waiting=%zu "
                     "compact=%llu",
                     (unsigned long long) st.requests, (unsigned long long) st.replies,
                     (unsigned long long) st.queued, (unsigned long long) st.expired,
                     (unsigned long long) st.refused, (unsigned long long) st.malformed,
                     (unsigned long long) st.unroutable, (unsigned long long) st.workers_dropped,
                     (unsigned long long) st.events, (unsigned long long) st.peers_denied, st.workers,
                     st.waiting, (unsigned long long) st.compact);
    for (service_t *s = zhashx_first(self->services); s && n > 0 && (size_t) n < cap;
         s = zhashx_next(self->services))
        n += snprintf(text + n, cap - (size_t) n, " workers.%s=%zu", s->name, s->workers);
    return text;
}

int
broker_run(broker_t *self, volatile bool *stop)
{
    zpoller_t *poller = zpoller_new(self->router, NULL);
    if (self->xsub) {
        zpoller_add(poller, self->xsub);
        zpoller_add(poller, self->xpub);
    }
    if (self->auth)
        zpoller_add(poller, zap_socket(self->auth));
    fl_log(FL_LOG_INFO, "broker serving", FL_S("endpoint", self->opts.endpoint),
           FL_S("publish", self->opts.publish_endpoint ? self->opts.publish_endpoint : ""),
           FL_S("subscribe", self->opts.subscribe_endpoint ? self->opts.subscribe_endpoint : ""),
           FL_S("security", self->cert ? "curve" : "plain"), NULL);
    while (!(stop && *stop) && !zsys_interrupted) {
        int64_t now = zclock_mono();
        int wait = (int) (self->heartbeat_at > now ? self->heartbeat_at - now : 0);
        zsock_t *which = zpoller_wait(poller, wait);
        if (which == self->router) {
            /* drain what is there, up to a bound, before looking at timers */
            self->now = zclock_mono();
            for (int i = 0; i < BROKER_DRAIN_MAX && s_router_input(self); i++)
                ;
        } else if (which && which == self->xsub)
            s_forward(self->xsub, self->xpub, &self->stats.events);
        else if (which && which == self->xpub)
            s_forward(self->xpub, self->xsub, NULL);    /* subscriptions travel upstream */
        else if (which && self->auth && which == zap_socket(self->auth)) {
            if (zap_handle(self->auth) == 0)
                self->stats.peers_denied++;
        }
        else if (zpoller_terminated(poller))
            break;
        now = self->now = zclock_mono();
        if (now >= self->heartbeat_at) {
            s_heartbeat(self, now);
            self->heartbeat_at = now + self->opts.heartbeat_ms;
        }
        if (self->opts.stats_interval_s > 0 && now >= self->stats_at) {
            char *text = broker_stats_text(self);
            fl_log(FL_LOG_INFO, "broker stats", FL_S("counters", text), NULL);
            free(text);
            self->stats_at = now + (int64_t) self->opts.stats_interval_s * 1000;
            self->warnings_left = BROKER_LOG_BURST;
        }
    }
    zpoller_destroy(&poller);
    fl_log(FL_LOG_INFO, "broker stopping", NULL);
    return 0;
}
