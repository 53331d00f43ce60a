/*  worker.c — the MDP worker with a credit window.  See worker.h.
 *
 *  Requests are read with zmq_msg_recv into a fixed array of frames and
 *  checked in place (fl_mdp_check_worker).  The frames a request keeps (the
 *  client's address and the body) are moved with zmq_msg_move, not copied,
 *  into a request block that the application sees as an fl_request_t.  Blocks
 *  go back to a small free list when replied to, so a worker in steady state
 *  allocates nothing per request.  Replies go out with zmq_send for the
 *  protocol frames and the application's parts, and zmq_msg_send for the
 *  address frame (moved; so are the body frames when the reply is exactly the
 *  request's own body, as when echoing).
 *
 *  Compact framing (mdp.h).  Unless told plain_mdp, the worker's identity
 *  asks the broker for compact requests: one header frame (client address,
 *  caller, request id) and the body.  A request is answered in the form it
 *  came in, so an older broker, which sends plain MDP, still works.
 */
#include "libfoleni/worker.h"

#include <errno.h>
#include <string.h>

#include "libfoleni/log.h"
#include "libfoleni/mdp.h"

/* Frames kept from one message: header, command, address, delimiter, the
 * largest body, one spare; a message with more is counted through and
 * refused. */
#define WORKER_FRAMES_MAX (4 + FL_MDP_BODY_FRAMES_MAX + 1)
#define WORKER_SPARE_MAX  256       /* request blocks kept for reuse */

/* A request body is at most FL_MDP_BODY_FRAMES_MAX frames, the caller among them. */
_Static_assert(FL_PARTS_MAX >= FL_MDP_BODY_FRAMES_MAX - 1, "fl_request_t.parts too small");

/* What fl_worker_recv hands out: the public part first, so that an
 * fl_request_t * is the block's address; the frames its parts point into. */
typedef struct req_block req_block_t;
struct req_block {
    fl_request_t pub;
    zmq_msg_t    address;           /* the client, as the broker knows it (plain form) */
    bool         compact;           /* came in compact form: reply in it */
    size_t       addr_size;         /* compact form: the client's address */
    uint8_t      addr[FL_MDP_ADDRESS_MAX];
    size_t       nframes;           /* body frames held, = pub.nparts */
    zmq_msg_t    frames[FL_PARTS_MAX];
    req_block_t *next;              /* in the worker's spare list */
};

struct fl_worker {
    char *endpoint;
    char  service[FL_MDP_SERVICE_MAX + 1];
    const fl_security_t *security;
    fl_worker_options_t opts;
    zsock_t *sock;                  /* NULL while waiting to reconnect */
    void    *handle;                /* sock's libzmq handle, or NULL */
    int64_t  heartbeat_at;          /* when to send the next heartbeat */
    int64_t  broker_expires;        /* no traffic by then: reconnect */
    int64_t  reconnect_at;          /* when sock is NULL: when to connect */
    int      backoff_ms;
    unsigned connects;
    req_block_t *spare;             /* request blocks to reuse */
    size_t       nspare;
};

static int
s_send_ready(fl_worker_t *self)
{
    zmsg_t *msg = fl_mdp_worker_ready_window(self->service, self->opts.window);
    int rc = msg && zmsg_send(&msg, self->sock) == 0 ? 0 : FL_E_IO;
    zmsg_destroy(&msg);                 /* CZMQ keeps a message it could not send */
    return rc;
}

static void
s_connect(fl_worker_t *self)
{
    zsock_destroy(&self->sock);
    self->handle = NULL;
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock)
        return;
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 0);
    zsock_set_rcvhwm(self->sock, 0);
    zsock_set_rcvtimeo(self->sock, 0);  /* reading until empty is how we drain */
    /* Never wait to send.  When the broker refuses this worker's CURVE key, libzmq drops
       the connection and does not try again, and a DEALER with no connection blocks
       in send: the heartbeat would hang the whole process, even against SIGTERM.  An
       unsent heartbeat or reply is simply lost; the broker's silence then makes us
       reconnect with backoff, and clients retry. */
    zsock_set_sndtimeo(self->sock, 0);
    if (!self->opts.plain_mdp) {
        uint8_t id[FL_MDP_IDENTITY_SIZE];
        fl_mdp_compact_identity(FL_MDP_PROTO_WORKER, id);
        zmq_setsockopt(zsock_resolve(self->sock), ZMQ_ROUTING_ID, id, sizeof id);
    }
    fl_security_apply(self->security, self->sock);
    if (zsock_connect(self->sock, "%s", self->endpoint) != 0 || s_send_ready(self) != 0) {
        zsock_destroy(&self->sock);
        self->reconnect_at = zclock_mono() + self->backoff_ms;
        return;
    }
    self->handle = zsock_resolve(self->sock);
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
        self->opts.plain_mdp = opts->plain_mdp;
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
        if (zmsg_send(&bye, self->sock) != 0)
            zmsg_destroy(&bye);
        zsock_destroy(&self->sock);
    }
    while (self->spare) {
        req_block_t *b = self->spare;
        self->spare = b->next;
        free(b);
    }
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

/* Release the frames a request block holds. */
static void
s_block_close(req_block_t *b)
{
    zmq_msg_close(&b->address);
    for (size_t i = 0; i < b->nframes; i++)
        zmq_msg_close(&b->frames[i]);
    b->nframes = 0;
}

void
fl_request_destroy(fl_request_t **req_p)
{
    if (!req_p || !*req_p)
        return;
    req_block_t *b = (req_block_t *) *req_p;
    s_block_close(b);
    free(b);
    *req_p = NULL;
}

/* A request is done with: its block goes to the spare list, or is freed. */
static void
s_recycle(fl_worker_t *self, req_block_t *b)
{
    s_block_close(b);
    if (self->nspare >= WORKER_SPARE_MAX) {
        free(b);
        return;
    }
    b->next = self->spare;
    self->spare = b;
    self->nspare++;
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

/* fl_worker_next_timeout_ms at time now. */
static int
s_next_timeout(const fl_worker_t *self, int64_t now)
{
    int64_t due = self->sock ? (self->heartbeat_at < self->broker_expires ? self->heartbeat_at
                                                                           : self->broker_expires)
                             : self->reconnect_at;
    return due > now ? (int) (due - now) : 0;
}

int
fl_worker_next_timeout_ms(fl_worker_t *self)
{
    return s_next_timeout(self, zclock_mono());
}

/* Heartbeats out, broker silence, reconnect backoff, at time now. */
static void
s_timers(fl_worker_t *self, int64_t now)
{
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
               FL_S("causes", "broker down or unreachable, or this process's CURVE key refused"),
               FL_I("backoff_ms", self->backoff_ms), NULL);
        zsock_destroy(&self->sock);
        self->handle = NULL;
        self->reconnect_at = now + self->backoff_ms;
        self->backoff_ms = self->backoff_ms * 2 > self->opts.reconnect_max_ms ? self->opts.reconnect_max_ms
                                                                              : self->backoff_ms * 2;
        return;
    }
    if (now >= self->heartbeat_at) {
        zmsg_t *hb = fl_mdp_worker_heartbeat();
        if (zmsg_send(&hb, self->sock) != 0)
            zmsg_destroy(&hb);
        self->heartbeat_at = now + self->opts.heartbeat_ms;
    }
}

/* Copy a frame into a NUL-terminated text field of cap bytes; "" when it
 * does not fit. */
static void
s_text(char *out, size_t cap, const fl_mdp_frame_t *f)
{
    size_t n = f->size < cap ? f->size : 0;
    if (n)
        memcpy(out, f->data, n);
    out[n] = '\0';
}

/* A checked REQUEST m[0 .. n-1] (views f): frames 4 .. n-1 are the caller,
 * then rid + payload or payload.  The address and body frames are moved out
 * of m into a request for the application; NULL when it has too few frames
 * or no memory (m then still holds everything). */
static fl_request_t *
s_request(fl_worker_t *self, zmq_msg_t *m, const fl_mdp_frame_t *f, size_t n)
{
    if (n < 6)                      /* caller and at least one more frame */
        return NULL;
    req_block_t *b = self->spare;
    if (b) {
        self->spare = b->next;
        self->nspare--;
    } else if (!(b = malloc(sizeof *b)))
        return NULL;
    fl_request_t *req = &b->pub;
    s_text(req->caller, sizeof req->caller, &f[4]);
    size_t first = 5;
    req->rid[0] = '\0';
    if (n - first >= 2) {           /* a Foleni client's request id */
        s_text(req->rid, sizeof req->rid, &f[5]);
        first = 6;
    }
    b->compact = false;
    zmq_msg_init(&b->address);
    zmq_msg_move(&b->address, &m[2]);
    b->nframes = n - first;         /* 1 .. FL_PARTS_MAX: the check bounds n */
    for (size_t i = 0; i < b->nframes; i++) {
        zmq_msg_init(&b->frames[i]);
        zmq_msg_move(&b->frames[i], &m[first + i]);
        /* after the move: a small frame's bytes live inside the zmq_msg_t */
        req->parts[i] = (fl_part_t) { zmq_msg_data(&b->frames[i]), zmq_msg_size(&b->frames[i]) };
    }
    req->nparts = b->nframes;
    return req;
}

/* A checked compact REQUEST: c its header (views into m[0]), m[1 .. n-1] the
 * body, moved into a request for the application; NULL when there is no
 * memory (m then still holds everything). */
static fl_request_t *
s_request_compact(fl_worker_t *self, zmq_msg_t *m, const fl_mdp_compact_t *c, size_t n)
{
    req_block_t *b = self->spare;
    if (b) {
        self->spare = b->next;
        self->nspare--;
    } else if (!(b = malloc(sizeof *b)))
        return NULL;
    fl_request_t *req = &b->pub;
    s_text(req->caller, sizeof req->caller, &c->caller);     /* 0 or 40 bytes: checked */
    s_text(req->rid, sizeof req->rid, &c->rid);              /* at most FL_RID_MAX: checked */
    b->compact = true;
    zmq_msg_init(&b->address);          /* unused, but closed with the block */
    b->addr_size = c->address.size;     /* 1 .. FL_MDP_ADDRESS_MAX: checked */
    memcpy(b->addr, c->address.data, c->address.size);
    b->nframes = n - 1;                 /* 1 .. FL_PARTS_MAX: the check bounds n */
    for (size_t i = 0; i < b->nframes; i++) {
        zmq_msg_init(&b->frames[i]);
        zmq_msg_move(&b->frames[i], &m[1 + i]);
        req->parts[i] = (fl_part_t) { zmq_msg_data(&b->frames[i]), zmq_msg_size(&b->frames[i]) };
    }
    req->nparts = b->nframes;
    return req;
}

/* Handle one message from the broker, waiting up to wait_ms for it (*got
 * says whether one came; when none did, errno says why); returns a request
 * or NULL.  *now is the time before; it is brought up to date when the read
 * may have waited. */
static fl_request_t *
s_receive(fl_worker_t *self, int wait_ms, int64_t *now_p, bool *got)
{
    zmq_msg_t m[WORKER_FRAMES_MAX];
    size_t n, total;
    *got = fl_mdp_recv_frames_wait(self->handle, wait_ms, m, WORKER_FRAMES_MAX, &n, &total);
    if (wait_ms > 0) {
        int saved = errno;
        *now_p = zclock_mono();
        errno = saved;
    }
    if (!*got)
        return NULL;
    int64_t now = *now_p;
    self->broker_expires = now + (int64_t) self->opts.heartbeat_ms * self->opts.liveness;
    self->backoff_ms = self->opts.reconnect_min_ms;     /* the broker is alive */
    fl_mdp_frame_t f[WORKER_FRAMES_MAX];
    for (size_t i = 0; i < n; i++)
        f[i] = (fl_mdp_frame_t) { zmq_msg_data(&m[i]), zmq_msg_size(&m[i]) };
    fl_mdp_worker_msg_t cmd;
    fl_error_t err;
    fl_request_t *req = NULL;
    cmd.command = 0;
    if (fl_mdp_compact_of_frame(&f[0]) == FL_MDP_PROTO_WORKER) {
        fl_mdp_compact_t c;
        if (fl_mdp_check_compact(f, total, &c, &err) != 0)
            fl_log(FL_LOG_WARN, "dropped a malformed message from the broker", FL_S("reason", err.message),
                   NULL);
        else if (c.command == FL_MDP_WORKER_REQUEST)
            req = s_request_compact(self, m, &c, n);
    } else if (fl_mdp_check_worker(f, total, &cmd, &err) != 0)
        fl_log(FL_LOG_WARN, "dropped a malformed message from the broker", FL_S("reason", err.message), NULL);
    else if (cmd.command == FL_MDP_WORKER_REQUEST)
        req = s_request(self, m, f, n);
    else if (cmd.command == FL_MDP_WORKER_DISCONNECT) {
        fl_log(FL_LOG_INFO, "broker asked us to reconnect", FL_S("service", self->service), NULL);
        self->reconnect_at = now;
    }                               /* else HEARTBEAT, or what a broker should not send */
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&m[i]);
    if (cmd.command == FL_MDP_WORKER_DISCONNECT) {
        zsock_destroy(&self->sock);
        self->handle = NULL;
    }
    return req;
}

int
fl_worker_recv(fl_worker_t *self, fl_request_t **req, int timeout_ms)
{
    int64_t now = zclock_mono();       /* one clock read per pass, not per check */
    int64_t until = timeout_ms < 0 ? INT64_MAX : now + timeout_ms;
    *req = NULL;
    while (true) {
        s_timers(self, now);
        int64_t wait = 0;               /* until the caller's limit or the next timer */
        if (now < until) {
            wait = s_next_timeout(self, now);
            if (until - now < wait)
                wait = until - now;
        }
        if (!self->sock) {
            if (now >= until)
                return FL_E_TIMEOUT;
            zclock_sleep((int) wait);
            now = zclock_mono();
            continue;
        }
        /* wait in a blocking read rather than zmq_poll + read: when a request
         * is already there it costs no system call at all */
        bool got = false;
        if ((*req = s_receive(self, (int) wait, &now, &got)))
            return 0;
        if (got)
            continue;                   /* a heartbeat or the like: look again */
        if (errno != EAGAIN)
            return FL_E_IO;             /* interrupted (e.g. a signal) */
        if (now >= until)
            return FL_E_TIMEOUT;
    }
}

/* Whether parts are exactly the request's own body frames, in order: then
 * they can be moved instead of copied.  All or nothing, because a frame once
 * sent can no longer be read, and a later part might point into it. */
static bool
s_is_echo(req_block_t *b, const fl_part_t *parts, size_t nparts)
{
    if (nparts != b->nframes)
        return false;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].data != zmq_msg_data(&b->frames[i]) || parts[i].size != zmq_msg_size(&b->frames[i]))
            return false;
    return true;
}

/* The reply's body frames, the last one without SNDMORE: moved from the
 * request when they are exactly its own frames (an echo), else copied. */
static void
s_send_parts(void *h, req_block_t *b, const fl_part_t *parts, size_t nparts)
{
    bool echo = s_is_echo(b, parts, nparts);
    for (size_t i = 0; i < nparts; i++) {
        int more = i + 1 < nparts ? ZMQ_SNDMORE : 0;
        if (echo)
            zmq_msg_send(&b->frames[i], h, more);
        else
            zmq_send(h, parts[i].size ? parts[i].data : "", parts[i].size, more);
    }
}

int
fl_worker_reply(fl_worker_t *self, fl_request_t **req_p, const fl_part_t *parts, size_t nparts)
{
    req_block_t *b = (req_block_t *) *req_p;
    *req_p = NULL;
    fl_request_t *req = &b->pub;
    size_t rid_size = strlen(req->rid);
    size_t frames = (rid_size ? 1 : 0) + nparts;
    void *h = self->handle;
    int rc = FL_E_IO;
    if (frames > FL_MDP_BODY_FRAMES_MAX)
        rc = FL_E_INVALID;
    else if (b->compact) {
        /* one header frame (address, rid), then the parts */
        uint8_t head[FL_MDP_COMPACT_HEADER_MAX];
        size_t size = fl_mdp_compact_pack_worker(head, FL_MDP_WORKER_FINAL, b->addr, b->addr_size, NULL, 0,
                                                 req->rid, rid_size);
        frames -= rid_size ? 1 : 0;     /* the rid rides in the header */
        if (h && size && zmq_send(h, head, size, ZMQ_SNDMORE) >= 0) {
            if (frames == 0)            /* a body has at least one frame */
                zmq_send(h, "", 0, 0);
            s_send_parts(h, b, parts, nparts);
            rc = 0;
        }
    } else if (h && zmq_send(h, FL_MDP_WORKER_HEADER, FL_MDP_HEADER_SIZE, ZMQ_SNDMORE) >= 0) {
        /* after the first frame the rest of a message cannot fail on a DEALER
         * with no high-water mark */
        zmq_send(h, (uint8_t[]) { FL_MDP_WORKER_FINAL }, 1, ZMQ_SNDMORE);
        zmq_msg_send(&b->address, h, ZMQ_SNDMORE);
        zmq_send(h, "", 0, ZMQ_SNDMORE);
        if (frames == 0)            /* RFC 18: a body has at least one frame */
            zmq_send(h, "", 0, 0);
        if (rid_size)
            zmq_send(h, req->rid, rid_size, --frames ? ZMQ_SNDMORE : 0);
        s_send_parts(h, b, parts, nparts);
        rc = 0;
    }
    s_recycle(self, b);
    return rc;
}

int
fl_worker_reply_one(fl_worker_t *self, fl_request_t **req_p, const void *data, size_t size)
{
    fl_part_t part = { data, size };
    return fl_worker_reply(self, req_p, &part, 1);
}
