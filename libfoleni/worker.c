/*  worker.c — the MDP worker with a credit window.  See worker.h. */
#include "libfoleni/worker.h"

#include <string.h>

#include "libfoleni/log.h"
#include "libfoleni/mdp.h"

struct fl_worker {
    char *endpoint;
    char  service[FL_MDP_SERVICE_MAX + 1];
    const fl_security_t *security;
    fl_worker_options_t opts;
    zsock_t *sock;                  /* NULL while waiting to reconnect */
    int64_t  heartbeat_at;          /* when to send the next heartbeat */
    int64_t  broker_expires;        /* no traffic by then: reconnect */
    int64_t  reconnect_at;          /* when sock is NULL: when to connect */
    int      backoff_ms;
    unsigned connects;
};

static int
s_send_ready(fl_worker_t *self)
{
    zmsg_t *msg = fl_mdp_worker_ready_window(self->service, self->opts.window);
    return msg && zmsg_send(&msg, self->sock) == 0 ? 0 : FL_E_IO;
}

static void
s_connect(fl_worker_t *self)
{
    zsock_destroy(&self->sock);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock)
        return;
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 0);
    zsock_set_rcvhwm(self->sock, 0);
    zsock_set_rcvtimeo(self->sock, 0);  /* reading until empty is how we drain */
    fl_security_apply(self->security, self->sock);
    if (zsock_connect(self->sock, "%s", self->endpoint) != 0 || s_send_ready(self) != 0) {
        zsock_destroy(&self->sock);
        self->reconnect_at = zclock_mono() + self->backoff_ms;
        return;
    }
    self->connects++;
    int64_t now = zclock_mono();
    self->heartbeat_at = now + self->opts.heartbeat_ms;
    self->broker_expires = now + (int64_t) self->opts.heartbeat_ms * self->opts.liveness;
}

fl_worker_t *
fl_worker_new(const char *endpoint, const char *service, const fl_security_t *security,
              const fl_worker_options_t *opts, fl_error_t *err)
{
    if (fl_mdp_service_check(service, strlen(service), err) != 0)
        return NULL;
    fl_worker_t *self = calloc(1, sizeof *self);
    if (!self || !(self->endpoint = strdup(endpoint))) {
        free(self);
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->opts = (fl_worker_options_t) { .window = 1, .heartbeat_ms = 2500, .liveness = 3,
                                         .reconnect_min_ms = 250, .reconnect_max_ms = 8000 };
    if (opts) {
        if (opts->window) self->opts.window = opts->window;
        if (opts->heartbeat_ms > 0) self->opts.heartbeat_ms = opts->heartbeat_ms;
        if (opts->liveness > 0) self->opts.liveness = opts->liveness;
        if (opts->reconnect_min_ms > 0) self->opts.reconnect_min_ms = opts->reconnect_min_ms;
        if (opts->reconnect_max_ms > 0) self->opts.reconnect_max_ms = opts->reconnect_max_ms;
    }
    if (self->opts.window > FL_MDP_WINDOW_MAX) {
        fl_error_set(err, FL_E_RANGE, "window", "window must be 1..%d", FL_MDP_WINDOW_MAX);
        fl_worker_destroy(&self);
        return NULL;
    }
    snprintf(self->service, sizeof self->service, "%s", service);
    self->security = security;
    self->backoff_ms = self->opts.reconnect_min_ms;
    s_connect(self);
    if (!self->sock) {
        fl_error_set(err, FL_E_IO, "endpoint", "cannot connect to %s", endpoint);
        fl_worker_destroy(&self);
    }
    return self;
}

void
fl_worker_destroy(fl_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_worker_t *self = *self_p;
    if (self->sock) {
        zmsg_t *bye = fl_mdp_worker_disconnect();
        zmsg_send(&bye, self->sock);
        zsock_destroy(&self->sock);
    }
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

void
fl_request_destroy(fl_request_t **req_p)
{
    if (!req_p || !*req_p)
        return;
    zframe_destroy(&(*req_p)->address);
    zmsg_destroy(&(*req_p)->body);
    free(*req_p);
    *req_p = NULL;
}

zsock_t *
fl_worker_socket(fl_worker_t *self)
{
    return self->sock;
}

unsigned
fl_worker_connects(const fl_worker_t *self)
{
    return self->connects;
}

int
fl_worker_next_timeout_ms(fl_worker_t *self)
{
    int64_t now = zclock_mono();
    int64_t due = self->sock ? (self->heartbeat_at < self->broker_expires ? self->heartbeat_at
                                                                           : self->broker_expires)
                             : self->reconnect_at;
    return due > now ? (int) (due - now) : 0;
}

/* Heartbeats out, broker silence, reconnect backoff. */
static void
s_timers(fl_worker_t *self)
{
    int64_t now = zclock_mono();
    if (!self->sock) {
        if (now >= self->reconnect_at) {
            s_connect(self);
            if (!self->sock) {
                self->backoff_ms = self->backoff_ms * 2 > self->opts.reconnect_max_ms
                                       ? self->opts.reconnect_max_ms : self->backoff_ms * 2;
                self->reconnect_at = now + self->backoff_ms;
            }
        }
        return;
    }
    if (now >= self->broker_expires) {
        fl_log(FL_LOG_WARN, "broker silent: reconnecting", FL_S("service", self->service),
               FL_I("backoff_ms", self->backoff_ms), NULL);
        zsock_destroy(&self->sock);
        self->reconnect_at = now + self->backoff_ms;
        self->backoff_ms = self->backoff_ms * 2 > self->opts.reconnect_max_ms ? self->opts.reconnect_max_ms
                                                                              : self->backoff_ms * 2;
        return;
    }
    if (now >= self->heartbeat_at) {
        zmsg_t *hb = fl_mdp_worker_heartbeat();
        zmsg_send(&hb, self->sock);
        self->heartbeat_at = now + self->opts.heartbeat_ms;
    }
}

/* Handle one message from the broker, if one is waiting (*got says whether
 * one was); returns a request or NULL. */
static fl_request_t *
s_receive(fl_worker_t *self, bool *got)
{
    zmsg_t *msg = zmsg_recv(self->sock);
    *got = msg != NULL;
    if (!msg)
        return NULL;
    int64_t now = zclock_mono();
    self->broker_expires = now + (int64_t) self->opts.heartbeat_ms * self->opts.liveness;
    self->backoff_ms = self->opts.reconnect_min_ms;     /* the broker is alive */
    fl_mdp_worker_msg_t cmd;
    fl_error_t err;
    if (fl_mdp_parse_worker(msg, &cmd, &err) != 0) {
        fl_log(FL_LOG_WARN, "dropped a malformed message from the broker", FL_S("reason", err.message), NULL);
        zmsg_destroy(&msg);
        return NULL;
    }
    fl_request_t *req = NULL;
    switch (cmd.command) {
    case FL_MDP_WORKER_REQUEST:
        /* body: caller, then (Foleni clients) rid + payload, or (plain) payload */
        if (zmsg_size(msg) < 2)
            break;
        req = calloc(1, sizeof *req);
        if (!req)
            break;
        req->address = cmd.address;
        cmd.address = NULL;
        zframe_t *caller = zmsg_pop(msg);
        if (zframe_size(caller) <= FL_CURVE_KEY_TEXT)
            memcpy(req->caller, zframe_data(caller), zframe_size(caller));
        zframe_destroy(&caller);
        if (zmsg_size(msg) >= 2) {
            zframe_t *rid = zmsg_pop(msg);
            if (zframe_size(rid) <= FL_RID_MAX)
                memcpy(req->rid, zframe_data(rid), zframe_size(rid));
            zframe_destroy(&rid);
        }
        req->body = msg;
        msg = NULL;
        break;
    case FL_MDP_WORKER_DISCONNECT:
        fl_log(FL_LOG_INFO, "broker asked us to reconnect", FL_S("service", self->service), NULL);
        zsock_destroy(&self->sock);
        self->reconnect_at = now;
        break;
    default:                        /* HEARTBEAT, or what a broker should not send */
        break;
    }
    fl_mdp_worker_msg_reset(&cmd);
    zmsg_destroy(&msg);
    return req;
}

int
fl_worker_recv(fl_worker_t *self, fl_request_t **req, int timeout_ms)
{
    int64_t until = timeout_ms < 0 ? INT64_MAX : zclock_mono() + timeout_ms;
    *req = NULL;
    while (true) {
        s_timers(self);
        bool got = false;
        if (self->sock && (*req = s_receive(self, &got)))
            return 0;
        if (got)
            continue;                   /* a heartbeat or the like: look again */
        int64_t now = zclock_mono();
        if (now >= until)
            return FL_E_TIMEOUT;
        int64_t wait = fl_worker_next_timeout_ms(self);
        if (until - now < wait)
            wait = until - now;
        if (!self->sock) {
            zclock_sleep((int) wait);
            continue;
        }
        zmq_pollitem_t item = { zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&item, 1, (long) wait) < 0)
            return FL_E_IO;
    }
}

int
fl_worker_reply(fl_worker_t *self, fl_request_t **req_p, zmsg_t **reply_p)
{
    fl_request_t *req = *req_p;
    zmsg_t *body = *reply_p;
    *reply_p = NULL;
    if (req->rid[0])
        zmsg_pushstr(body, req->rid);
    int rc = FL_E_IO;
    if (self->sock) {
        zmsg_t *msg = fl_mdp_worker_final(req->address, &body);
        if (msg && zmsg_send(&msg, self->sock) == 0)
            rc = 0;
        zmsg_destroy(&msg);
    }
    zmsg_destroy(&body);
    fl_request_destroy(req_p);
    return rc;
}
