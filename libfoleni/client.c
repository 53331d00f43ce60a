/*  client.c — the asynchronous MDP client with request ids.  See client.h.
 *
 *  Outstanding requests live in a hash by request id (to match replies) and a
 *  list in send order.  Every attempt has the same timeout, so the list is also
 *  in deadline order and its head is the next to expire; a reply removes its
 *  request from the middle through the handle kept in the request.
 */
#include "libfoleni/client.h"

#include <assert.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "libfoleni/log.h"
#include "libfoleni/mdp.h"

typedef struct {
    char      rid[FL_RID_MAX + 1];
    char      service[FL_MDP_SERVICE_MAX + 1];
    zframe_t *body;
    int64_t   deadline;             /* zclock_mono, ms */
    int       retries_left;
    void     *handle;               /* its place in self->order */
} pending_t;

struct fl_client {
    char       *endpoint;
    const fl_security_t *security;  /* borrowed; NULL when plain */
    zsock_t    *sock;
    fl_client_options_t opts;
    zhashx_t   *by_rid;             /* rid -> pending_t (owns) */
    zlistx_t   *order;              /* pending_t in deadline order (borrows) */
    zlistx_t   *finished;           /* fl_reply_t * ready to hand out (owns) */
};

static void
s_pending_destroy(void **item)
{
    pending_t *p = *item;
    if (p) {
        zframe_destroy(&p->body);
        free(p);
        *item = NULL;
    }
}

static void
s_reply_destroy(void **item)
{
    fl_reply_t *r = *item;
    if (r) {
        fl_reply_reset(r);
        free(r);
        *item = NULL;
    }
}

/* (Re)open the socket: a new socket is a new identity at the broker. */
static int
s_connect(fl_client_t *self, fl_error_t *err)
{
    zsock_destroy(&self->sock);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock)
        return fl_error_set(err, FL_E_IO, "", "cannot create a socket");
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 0);
    zsock_set_rcvhwm(self->sock, 0);
    zsock_set_rcvtimeo(self->sock, 0);  /* reading until empty is how we drain */
    zsock_set_sndtimeo(self->sock, 0);  /* a connection refused in the handshake must not block send */
    fl_security_apply(self->security, self->sock);
    if (zsock_connect(self->sock, "%s", self->endpoint) != 0)
        return fl_error_set(err, FL_E_IO, "endpoint", "cannot connect to %s", self->endpoint);
    return 0;
}

fl_client_t *
fl_client_new(const char *endpoint, const fl_security_t *security, const fl_client_options_t *opts,
              fl_error_t *err)
{
    fl_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->opts = (fl_client_options_t) { .timeout_ms = 3000, .retries = 3, .max_outstanding = 4096 };
    if (opts) {
        if (opts->timeout_ms > 0) self->opts.timeout_ms = opts->timeout_ms;
        if (opts->retries >= 0) self->opts.retries = opts->retries;
        if (opts->max_outstanding > 0) self->opts.max_outstanding = opts->max_outstanding;
    }
    self->security = security;
    self->endpoint = strdup(endpoint);
    self->by_rid = zhashx_new();
    self->order = zlistx_new();
    self->finished = zlistx_new();
    if (!self->endpoint || !self->by_rid || !self->order || !self->finished) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        fl_client_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->by_rid, s_pending_destroy);
    zlistx_set_destructor(self->finished, s_reply_destroy);
    if (s_connect(self, err) != 0)
        fl_client_destroy(&self);
    return self;
}

void
fl_client_destroy(fl_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_client_t *self = *self_p;
    zsock_destroy(&self->sock);
    zlistx_destroy(&self->order);
    zhashx_destroy(&self->by_rid);
    zlistx_destroy(&self->finished);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

zsock_t *
fl_client_socket(fl_client_t *self)
{
    return self->sock;
}

size_t
fl_client_outstanding(const fl_client_t *self)
{
    return zhashx_size(self->by_rid);
}

void
fl_reply_reset(fl_reply_t *reply)
{
    if (reply) {
        zmsg_destroy(&reply->body);
        reply->rid[0] = '\0';
        reply->status = 0;
    }
}

static int
s_transmit(fl_client_t *self, pending_t *p)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, FL_MDP_CLIENT_HEADER);
    zmsg_addmem(msg, (byte[]) { FL_MDP_CLIENT_REQUEST }, 1);
    zmsg_addstr(msg, p->service);
    zmsg_addstr(msg, p->rid);
    zmsg_addmem(msg, zframe_data(p->body), zframe_size(p->body));
    return zmsg_send(&msg, self->sock) == 0 ? 0 : FL_E_IO;
}

static bool
s_rid_ok(const char *rid)
{
    size_t n = strlen(rid);
    if (n < 8 || n > FL_RID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (rid[i] <= 0x20 || rid[i] >= 0x7f)
            return false;
    return true;
}

int
fl_client_send(fl_client_t *self, const char *service, const char *rid, const void *body, size_t len)
{
    if (!s_rid_ok(rid) || fl_mdp_service_check(service, strlen(service), NULL) != 0)
        return FL_E_INVALID;
    if (zhashx_lookup(self->by_rid, rid))
        return FL_E_CONFLICT;
    if (zhashx_size(self->by_rid) >= self->opts.max_outstanding)
        return FL_E_FULL;
    pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return FL_E_NOMEM;
    snprintf(p->rid, sizeof p->rid, "%s", rid);
    snprintf(p->service, sizeof p->service, "%s", service);
    p->body = zframe_new(body, len);
    p->deadline = zclock_mono() + self->opts.timeout_ms;
    p->retries_left = self->opts.retries;
    int rc = s_transmit(self, p);
    if (rc) {
        s_pending_destroy((void **) &p);
        return rc;
    }
    zhashx_insert(self->by_rid, p->rid, p);
    p->handle = zlistx_add_end(self->order, p);
    return 0;
}

/* Move a request to the finished list with this status and body. */
static void
s_finish(fl_client_t *self, pending_t *p, int status, zmsg_t **body_p)
{
    fl_reply_t *r = calloc(1, sizeof *r);
    if (r) {
        snprintf(r->rid, sizeof r->rid, "%s", p->rid);
        r->status = status;
        if (body_p) {
            r->body = *body_p;
            *body_p = NULL;
        }
        zlistx_add_end(self->finished, r);
    } else if (body_p)
        zmsg_destroy(body_p);
    zlistx_delete(self->order, p->handle);
    zhashx_delete(self->by_rid, p->rid);
}

/* Give up on overdue requests with no retries left; if any other request is
 * overdue, open a new socket and send everything outstanding again. */
static void
s_expire(fl_client_t *self)
{
    int64_t now = zclock_mono();
    bool resend = false;
    pending_t *p = zlistx_first(self->order);
    while (p && p->deadline <= now) {
        pending_t *next = zlistx_next(self->order);
        if (p->retries_left <= 0)
            s_finish(self, p, FL_E_TIMEOUT, NULL);
        else {
            p->retries_left--;
            resend = true;
        }
        p = next;
    }
    if (!resend)
        return;
    fl_log(FL_LOG_INFO, "no reply in time: new socket, sending again", FL_S("endpoint", self->endpoint),
           FL_U("outstanding", zhashx_size(self->by_rid)), NULL);
    if (s_connect(self, NULL) != 0)
        return;                     /* try again at the next expiry */
    int64_t deadline = now + self->opts.timeout_ms;
    for (p = zlistx_first(self->order); p; p = zlistx_next(self->order)) {
        p->deadline = deadline;     /* all resent now: order stays deadline order */
        s_transmit(self, p);
    }
}

/* Read one message from the broker, if one is waiting, and match it to its
 * request.  False when nothing was waiting. */
static bool
s_receive(fl_client_t *self)
{
    zmsg_t *msg = zmsg_recv(self->sock);
    if (!msg)
        return false;
    fl_mdp_client_msg_t cmd;
    fl_error_t err;
    if (fl_mdp_parse_client(msg, &cmd, &err) != 0 || cmd.command != FL_MDP_CLIENT_FINAL
        || zmsg_size(msg) < 2) {
        fl_log(FL_LOG_WARN, "dropped a malformed reply", FL_S("reason", err.message), NULL);
        zmsg_destroy(&msg);
        return true;
    }
    char *rid = zmsg_popstr(msg);
    pending_t *p = rid ? zhashx_lookup(self->by_rid, rid) : NULL;
    if (p)
        s_finish(self, p, 0, &msg);
    zstr_free(&rid);                /* a late reply to a finished request is dropped */
    zmsg_destroy(&msg);
    return true;
}

int
fl_client_next_timeout_ms(fl_client_t *self)
{
    pending_t *p = zlistx_first(self->order);
    if (!p)
        return -1;
    int64_t left = p->deadline - zclock_mono();
    return left > 0 ? (int) left : 0;
}

int
fl_client_recv(fl_client_t *self, fl_reply_t *out, int timeout_ms)
{
    int64_t until = timeout_ms < 0 ? INT64_MAX : zclock_mono() + timeout_ms;
    while (true) {
        s_expire(self);
        fl_reply_t *r = zlistx_first(self->finished);
        if (r) {
            *out = *r;
            r->body = NULL;
            zlistx_delete(self->finished, zlistx_cursor(self->finished));
            return 0;
        }
        if (zhashx_size(self->by_rid) == 0)
            return FL_E_EMPTY;
        if (s_receive(self))            /* take what is already here first */
            continue;
        int64_t now = zclock_mono();
        if (now >= until && timeout_ms >= 0)
            return FL_E_TIMEOUT;
        int64_t wait = fl_client_next_timeout_ms(self);
        if (until != INT64_MAX && until - now < wait)
            wait = until - now;
        zmq_pollitem_t item = { zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll(&item, 1, (long) wait);
        if (rc < 0)
            return FL_E_IO;         /* interrupted: let the caller decide */
        if (rc > 0)
            while (s_receive(self))
                ;
    }
}

/* Request ids are time-ordered (milliseconds, then a per-process random salt,
 * then a counter): unique without a system call per id, and they land at the
 * end of the scheduler's idempotency B-tree instead of at random pages. */
void
fl_client_new_rid(char out[33])
{
    static _Atomic uint64_t counter;
    static _Atomic uint32_t salt;
    uint32_t s = salt;
    if (!s) {
        if (getrandom(&s, sizeof s, 0) != (ssize_t) sizeof s)
            s = (uint32_t) zclock_usecs() ^ (uint32_t) getpid();
        s |= 1;                         /* never 0: 0 means "not drawn yet" */
        salt = s;
    }
    uint64_t n = ++counter;
    snprintf(out, 33, "%012llx%08x%012llx", (unsigned long long) (zclock_time() & 0xffffffffffffULL), s,
             (unsigned long long) (n & 0xffffffffffffULL));
}

int
fl_client_call(fl_client_t *self, const char *service, const void *body, size_t len, zmsg_t **reply,
               fl_error_t *err)
{
    char rid[33];
    fl_client_new_rid(rid);
    int rc = fl_client_send(self, service, rid, body, len);
    if (rc)
        return fl_error_set(err, rc, "", "cannot send the request to %s", service);
    while (true) {
        fl_reply_t r = { .body = NULL };
        rc = fl_client_recv(self, &r, -1);
        if (rc)
            return fl_error_set(err, rc == FL_E_EMPTY ? FL_E_TIMEOUT : rc, "", "no reply from %s", service);
        if (strcmp(r.rid, rid) != 0) {
            fl_reply_reset(&r);         /* not ours: see client.h */
            continue;
        }
        if (r.status) {
            fl_reply_reset(&r);
            return fl_error_set(err, FL_E_TIMEOUT, "", "no reply from %s after %d attempts", service,
                                self->opts.retries + 1);
        }
        *reply = r.body;
        return 0;
    }
}
