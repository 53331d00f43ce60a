/*  broker.c — routing, credit windows, queues, heartbeats and the bus.
 *  See broker.h for the behaviour; docs/protocol.md for the frames.
 *
 *  Services keep two lists: workers with credit left (least recently used
 *  first) and requests waiting (oldest first).  dispatch() pairs them until one
 *  runs out.  A worker is in its service's credit list exactly when
 *  inflight < window, and its handle there is kept so it can leave in O(1).
 */
#include "broker/broker.h"

#include <string.h>

#include "libfoleni/log.h"
#include "libfoleni/mdp.h"
#include "libfoleni/msg.h"
#include "libfoleni/security.h"
#include "broker/zap.h"

#define BROKER_SERVICES_MAX 1024    /* distinct service names kept at once */
#define BROKER_LOG_BURST    20      /* malformed-input warnings per stats period */

typedef struct service service_t;

typedef struct {
    char       key[2 * FL_MDP_ADDRESS_MAX + 1];   /* identity as hex */
    zframe_t  *identity;
    service_t *service;
    unsigned   window;              /* requests it may hold */
    unsigned   inflight;
    bool       foleni;              /* announced a window: wants caller frames */
    int64_t    expires;
    void      *credit_handle;       /* in service->credit, or NULL */
} worker_t;

typedef struct {
    zframe_t *client;               /* identity of the client */
    char      caller[FL_CURVE_KEY_TEXT + 1];
    zmsg_t   *body;                 /* rid + payload (Foleni), or payload */
    int64_t   expires;
} request_t;

struct service {
    char      name[FL_MDP_SERVICE_MAX + 1];
    zlistx_t *credit;               /* worker_t with inflight < window, LRU first */
    zlistx_t *requests;             /* request_t, oldest first (owned) */
    size_t    workers;
};

struct broker {
    broker_options_t opts;
    zsock_t  *router, *xsub, *xpub;
    zap_t    *auth;                 /* CURVE authenticator, NULL when plain */
    zcert_t  *cert;
    zhashx_t *services;             /* name -> service_t (owned) */
    zhashx_t *workers;              /* identity hex -> worker_t (owned) */
    broker_stats_t stats;
    int64_t   heartbeat_at, stats_at;
    int       warnings_left;        /* rate limit for malformed-input logs */
};

/* ---- small helpers ---- */

static void
s_request_destroy(void **item)
{
    request_t *r = *item;
    if (r) {
        zframe_destroy(&r->client);
        zmsg_destroy(&r->body);
        free(r);
        *item = NULL;
    }
}

static void
s_service_destroy(void **item)
{
    service_t *s = *item;
    if (s) {
        zlistx_destroy(&s->credit);
        zlistx_destroy(&s->requests);
        free(s);
        *item = NULL;
    }
}

static void
s_worker_free(void **item)
{
    worker_t *w = *item;
    if (w) {
        zframe_destroy(&w->identity);
        free(w);
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

/* ---- sending to clients ---- */

/* Send msg (consumed) to the peer with this identity; false (and counted)
 * when the peer has gone (ROUTER_MANDATORY tells us). */
static bool
s_route(broker_t *self, const zframe_t *identity, zmsg_t **msg_p)
{
    if (!*msg_p)
        return false;
    fl_mdp_prepend_identity(*msg_p, identity);
    if (zmsg_send(msg_p, self->router) != 0) {
        self->stats.unroutable++;
        zmsg_destroy(msg_p);
        return false;
    }
    return true;
}

/* Reply to a client: the request's rid frame (if it had one), then body. */
static void
s_reply(broker_t *self, const zframe_t *client, const char *service, zframe_t *rid, zmsg_t **body_p)
{
    if (rid)
        zmsg_pushmem(*body_p, zframe_data(rid), zframe_size(rid));
    zmsg_t *msg = fl_mdp_broker_to_client(service, true, body_p);
    s_route(self, client, &msg);
}

/* An error reply, with the msgpack `error` body every Foleni client reads. */
static void
s_error(broker_t *self, const zframe_t *client, const char *service, const zmsg_t *request_body,
        int code, const char *message)
{
    fl_msg_t *err = fl_msg_new(FL_T_ERROR);
    fl_msg_set_str(err, FL_F_CODE, fl_error_name(code));
    fl_msg_set_str(err, FL_F_MESSAGE, message);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    fl_msg_encode(err, &buf, NULL);
    fl_msg_destroy(&err);
    zmsg_t *body = zmsg_new();
    zmsg_addmem(body, buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
    zframe_t *rid = zmsg_size((zmsg_t *) request_body) >= 2 ? zmsg_first((zmsg_t *) request_body) : NULL;
    s_reply(self, client, service, rid, &body);
}

/* ---- services and workers ---- */

static service_t *
s_service(broker_t *self, const char *name)
{
    service_t *s = zhashx_lookup(self->services, name);
    if (s || zhashx_size(self->services) >= BROKER_SERVICES_MAX)
        return s;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->credit = zlistx_new();
    s->requests = zlistx_new();
    zlistx_set_destructor(s->requests, s_request_destroy);
    zhashx_insert(self->services, s->name, s);
    return s;
}

/* Answer waiting requests that are too old. */
static void
s_expire_requests(broker_t *self, service_t *s, int64_t now)
{
    request_t *r;
    while ((r = zlistx_first(s->requests)) && r->expires <= now) {
        s_error(self, r->client, s->name, r->body, FL_E_UNAVAILABLE,
                s->workers ? "the service is busy: no worker took the request in time"
                           : "the service is not available: no worker has registered for it");
        self->stats.expired++;
        zlistx_delete(s->requests, zlistx_cursor(s->requests));
    }
}

/* Hand r to w; false when w has gone (then r is untouched and can go to
 * another worker: a worker that reconnected leaves its old registration
 * behind until its heartbeats run out). */
static bool
s_send_to_worker(broker_t *self, worker_t *w, request_t *r)
{
    zmsg_t *body = zmsg_dup(r->body);
    if (!body)
        return false;
    if (w->foleni)
        zmsg_pushstr(body, r->caller);
    zmsg_t *msg = fl_mdp_broker_to_worker_request(r->client, &body);
    return s_route(self, w->identity, &msg);
}

static void s_worker_delete(broker_t *self, worker_t *w, bool tell);

/* Pair waiting requests with workers that have credit. */
static void
s_dispatch(broker_t *self, service_t *s)
{
    s_expire_requests(self, s, zclock_mono());
    while (zlistx_size(s->credit) && zlistx_size(s->requests)) {
        worker_t *w = zlistx_first(s->credit);
        request_t *r = zlistx_first(s->requests);
        if (!s_send_to_worker(self, w, r)) {
            fl_log(FL_LOG_INFO, "worker gone: dropped", FL_S("service", s->name), NULL);
            s_worker_delete(self, w, false);    /* the request stays queued for the next */
            continue;
        }
        zlistx_delete(s->requests, zlistx_cursor(s->requests));
        w->inflight++;
        zlistx_delete(s->credit, w->credit_handle);
        w->credit_handle = w->inflight < w->window ? zlistx_add_end(s->credit, w) : NULL;
    }
}

static void
s_worker_delete(broker_t *self, worker_t *w, bool tell)
{
    if (tell) {
        zmsg_t *bye = fl_mdp_worker_disconnect();
        s_route(self, w->identity, &bye);
    }
    if (w->service) {
        if (w->credit_handle)
            zlistx_delete(w->service->credit, w->credit_handle);
        w->service->workers--;
    }
    zhashx_delete(self->workers, w->key);   /* frees w */
}

/* ---- input ---- */

/* A client's request; caller is the User-Id libzmq attached (the client's
 * CURVE key, set by zap.c) or "". */
static void
s_client_request(broker_t *self, zframe_t *identity, const char *caller, const char *service,
                 zmsg_t **body_p)
{
    zmsg_t *body = *body_p;
    *body_p = NULL;
    if (fl_mdp_service_is_mmi(service)) {
        zframe_t *rid = zmsg_size(body) >= 2 ? zmsg_pop(body) : NULL;
        char *asked = zmsg_popstr(body);
        zmsg_t *answer = zmsg_new();
        if (!strcmp(service, FL_MDP_MMI_SERVICE)) {
            service_t *s = asked ? zhashx_lookup(self->services, asked) : NULL;
            zmsg_addstr(answer, s && s->workers ? FL_MDP_MMI_FOUND : FL_MDP_MMI_NOT_FOUND);
        } else if (!strcmp(service, "mmi.stats")) {
            char *text = broker_stats_text(self);
            zmsg_addstr(answer, text ? text : "");
            free(text);
        } else
            zmsg_addstr(answer, FL_MDP_MMI_NOT_IMPLEMENTED);
        s_reply(self, identity, service, rid, &answer);
        zframe_destroy(&rid);
        zstr_free(&asked);
        zmsg_destroy(&body);
        return;
    }
    service_t *s = s_service(self, service);
    if (!s || zlistx_size(s->requests) >= self->opts.queue_max) {
        self->stats.refused++;
        s_error(self, identity, service, body, FL_E_UNAVAILABLE,
                s ? "the service is overloaded: its queue is full" : "too many services");
        zmsg_destroy(&body);
        return;
    }
    request_t *r = calloc(1, sizeof *r);
    if (!r) {
        zmsg_destroy(&body);
        return;
    }
    r->client = zframe_dup(identity);
    r->body = body;
    r->expires = zclock_mono() + self->opts.queue_timeout_ms;
    snprintf(r->caller, sizeof r->caller, "%s", caller);
    self->stats.requests++;
    if (!zlistx_size(s->credit))
        self->stats.queued++;
    zlistx_add_end(s->requests, r);
    s_dispatch(self, s);
}

/* A message from a worker; *msg_p may be consumed (forwarded). */
static void
s_worker_message(broker_t *self, zframe_t *identity, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    fl_mdp_worker_msg_t cmd;
    fl_error_t err;
    char *key = zframe_strhex(identity);
    worker_t *w = zhashx_lookup(self->workers, key);
    if (fl_mdp_parse_worker(msg, &cmd, &err) != 0) {
        s_warn(self, "dropped a malformed worker message", err.message);
        free(key);
        return;
    }
    if (w)
        w->expires = zclock_mono() + (int64_t) self->opts.heartbeat_ms * self->opts.liveness;
    switch (cmd.command) {
    case FL_MDP_WORKER_READY: {
        service_t *s = w ? NULL : s_service(self, cmd.service);
        if (w || !s || fl_mdp_service_is_mmi(cmd.service)) {
            s_warn(self, "refused a READY", w ? "worker already registered" : "bad or too many services");
            if (w)
                s_worker_delete(self, w, true);
            else {
                zmsg_t *bye = fl_mdp_worker_disconnect();
                s_route(self, identity, &bye);
            }
            break;
        }
        w = calloc(1, sizeof *w);
        if (!w)
            break;
        snprintf(w->key, sizeof w->key, "%s", key);
        w->identity = zframe_dup(identity);
        w->service = s;
        w->foleni = cmd.window > 0;
        w->window = cmd.window > 0 ? cmd.window : 1;
        w->expires = zclock_mono() + (int64_t) self->opts.heartbeat_ms * self->opts.liveness;
        zhashx_insert(self->workers, w->key, w);
        s->workers++;
        w->credit_handle = zlistx_add_end(s->credit, w);
        fl_log(FL_LOG_INFO, "worker ready", FL_S("service", s->name), FL_U("window", w->window),
               FL_U("workers", s->workers), NULL);
        s_dispatch(self, s);
        break;
    }
    case FL_MDP_WORKER_PARTIAL:
    case FL_MDP_WORKER_FINAL: {
        if (!w) {                           /* not registered: tell it to start over */
            zmsg_t *bye = fl_mdp_worker_disconnect();
            s_route(self, identity, &bye);
            break;
        }
        bool final = cmd.command == FL_MDP_WORKER_FINAL;
        zmsg_t *out = fl_mdp_broker_to_client(w->service->name, final, msg_p);
        s_route(self, cmd.address, &out);
        if (final) {
            self->stats.replies++;
            if (w->inflight > 0)
                w->inflight--;
            if (!w->credit_handle && w->inflight < w->window)
                w->credit_handle = zlistx_add_end(w->service->credit, w);
            s_dispatch(self, w->service);
        }
        break;
    }
    case FL_MDP_WORKER_HEARTBEAT:
        if (!w) {
            zmsg_t *bye = fl_mdp_worker_disconnect();
            s_route(self, identity, &bye);
        }
        break;
    case FL_MDP_WORKER_DISCONNECT:
        if (w)
            s_worker_delete(self, w, false);
        break;
    default:                                /* REQUEST: only brokers send it */
        s_warn(self, "dropped a worker message a worker may not send", fl_mdp_command_name(FL_MDP_PROTO_WORKER, cmd.command));
        break;
    }
    fl_mdp_worker_msg_reset(&cmd);
    free(key);
}

/* Handle one waiting message; false when none was waiting (the ROUTER has a
 * receive timeout of 0, so reading is the cheapest way to ask). */
static bool
s_router_input(broker_t *self)
{
    zmsg_t *msg = zmsg_recv(self->router);
    if (!msg)
        return false;
    fl_error_t err;
    zframe_t *identity = fl_mdp_pop_identity(msg, &err);
    if (!identity) {
        s_warn(self, "dropped a message without identity", err.message);
        zmsg_destroy(&msg);
        return true;
    }
    switch (fl_mdp_protocol_of(msg)) {
    case FL_MDP_PROTO_CLIENT: {
        /* metadata rides on frames that came over the wire, not on the
         * identity frame the ROUTER made up: read it from the header */
        const char *user = zframe_meta(zmsg_first(msg), "User-Id");
        char caller[FL_CURVE_KEY_TEXT + 1] = "";
        if (user && strlen(user) == FL_CURVE_KEY_TEXT)
            memcpy(caller, user, FL_CURVE_KEY_TEXT + 1);
        fl_mdp_client_msg_t cmd;
        if (fl_mdp_parse_client(msg, &cmd, &err) != 0)
            s_warn(self, "dropped a malformed client message", err.message);
        else if (cmd.command != FL_MDP_CLIENT_REQUEST)
            s_warn(self, "dropped a client message a client may not send", "PARTIAL or FINAL");
        else
            s_client_request(self, identity, caller, cmd.service, &msg);
        break;
    }
    case FL_MDP_PROTO_WORKER:
        s_worker_message(self, identity, &msg);
        break;
    default:
        s_warn(self, "dropped a message that is neither MDP client nor worker", "unknown header");
        break;
    }
    zmsg_destroy(&msg);
    zframe_destroy(&identity);
    return true;
}

/* ---- timers ---- */

static void
s_heartbeat(broker_t *self, int64_t now)
{
    zlistx_t *dead = zlistx_new();
    for (worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers)) {
        if (w->expires <= now)
            zlistx_add_end(dead, w);
        else {
            zmsg_t *hb = fl_mdp_worker_heartbeat();
            s_route(self, w->identity, &hb);
        }
    }
    for (worker_t *w = zlistx_first(dead); w; w = zlistx_next(dead)) {
        fl_log(FL_LOG_WARN, "worker silent: dropped", FL_S("service", w->service->name),
               FL_U("inflight", w->inflight), NULL);
        self->stats.workers_dropped++;
        s_worker_delete(self, w, false);
    }
    zlistx_destroy(&dead);
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
    self->workers = zhashx_new();
    zhashx_set_destructor(self->services, s_service_destroy);
    zhashx_set_destructor(self->workers, s_worker_free);
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
    if (opts->publish_endpoint && *opts->publish_endpoint) {
        if (s_bind(self, &self->xsub, ZMQ_XSUB, opts->publish_endpoint, err)
            || s_bind(self, &self->xpub, ZMQ_XPUB, opts->subscribe_endpoint, err))
            goto fail;
    }
    int64_t now = zclock_mono();
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
    zhashx_destroy(&self->workers);
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
    out->workers = zhashx_size(self->workers);
    out->waiting = 0;
    for (service_t *s = zhashx_first(self->services); s; s = zhashx_next(self->services))
        out->waiting += zlistx_size(s->requests);
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
                     "unroutable=%llu workers_dropped=%llu events=%llu workers=%zu waiting=%zu",
                     (unsigned long long) st.requests, (unsigned long long) st.replies,
                     (unsigned long long) st.queued, (unsigned long long) st.expired,
                     (unsigned long long) st.refused, (unsigned long long) st.malformed,
                     (unsigned long long) st.unroutable, (unsigned long long) st.workers_dropped,
                     (unsigned long long) st.events, st.workers, st.waiting);
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
            for (int i = 0; i < 1000 && s_router_input(self); i++)
                ;
        } else if (which && which == self->xsub)
            s_forward(self->xsub, self->xpub, &self->stats.events);
        else if (which && which == self->xpub)
            s_forward(self->xpub, self->xsub, NULL);    /* subscriptions travel upstream */
        else if (which && self->auth && which == zap_socket(self->auth))
            zap_handle(self->auth);
        else if (zpoller_terminated(poller))
            break;
        now = zclock_mono();
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
