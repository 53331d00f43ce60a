/*  client.c — the asynchronous MDP client with request ids.  See client.h.
 *
 *  Outstanding requests live in a hash by request id (to match replies) and a
 *  list in send order.  Every attempt has the same timeout, so the list is also
 *  in deadline order and its head is the next to expire.  Both are intrusive:
 *  a request is one allocation (its body inline, kept for a retry), and when
 *  its reply comes the same block moves to the list of finished requests.
 *
 *  The socket is read and written with zmq_msg_t and zmq_send, not CZMQ
 *  messages: a reply is received into a fixed array of frames and checked in
 *  place, and its body frames are moved (zmq_msg_move, no copy) into the
 *  request's own block, which fl_client_recv then hands out as the reply's
 *  backing store: a round trip costs that one allocation and nothing more.
 *  fl_client_recv drains every reply waiting (up to a bound) in one go.
 *
 *  Compact framing (mdp.h).  Unless told plain_mdp, each socket gets an
 *  identity that asks the broker for compact replies.  Requests go out in
 *  plain MDP until the first compact reply shows that the broker speaks it;
 *  from then on, on that socket, a request is two frames (header, body).
 *  Replies are read in either form, so an older broker still works.
 */
#include "libfoleni/client.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "libfoleni/keytab.h"
#include "libfoleni/log.h"
#include "libfoleni/mdp.h"

#define CLIENT_BUCKETS_MIN 64       /* request table size to start with (a power of 2) */
#define CLIENT_DRAIN_MAX   1024     /* replies read per call before looking at timers */
/* Frames kept from one reply: header, command, service, the largest body, one
 * spare; a reply with more is counted through and refused. */
#define CLIENT_FRAMES_MAX  (3 + FL_MDP_BODY_FRAMES_MAX + 1)

/* A reply body is at most FL_MDP_BODY_FRAMES_MAX frames, the id among them. */
_Static_assert(FL_PARTS_MAX >= FL_MDP_BODY_FRAMES_MAX - 1, "fl_reply_t.parts too small");

typedef struct pending pending_t;
struct pending {
    fl_keynode_t node;              /* in self->table while outstanding, keyed by rid */
    pending_t *prev, *next;         /* in self->order, or in self->finished */
    int        status;              /* when finished */
    size_t     nframes;             /* when finished: reply frames after the id, in frames */
    int64_t    deadline;            /* zclock_mono, ms */
    int        retries_left;
    size_t     rid_size, service_size, len;
    char       rid[FL_RID_MAX + 1];
    char       service[FL_MDP_SERVICE_MAX + 1];
    zmq_msg_t  frames[FL_PARTS_MAX];    /* not cleared on send: only frames[0 .. nframes-1] are live */
    uint8_t    body[];              /* kept to send again on a retry */
};

/* A doubly linked list of pending_t. */
typedef struct {
    pending_t *head, *tail;
} plist_t;

struct fl_client {
    char       *endpoint;
    const fl_security_t *security;  /* borrowed; NULL when plain */
    zsock_t    *sock;
    void       *handle;             /* sock's libzmq handle */
    fl_client_options_t opts;
    bool        compact;            /* the broker has answered compactly on this socket */
    fl_keytab_t table;              /* rid -> outstanding pending_t (owns them) */
    plist_t     order;              /* outstanding, in deadline order */
    plist_t     finished;           /* ready to hand out (owns them) */
};

/* ---- lists and the table ---- */

static void
s_append(plist_t *list, pending_t *p)
{
    p->next = NULL;
    p->prev = list->tail;
    if (list->tail)
        list->tail->next = p;
    else
        list->head = p;
    list->tail = p;
}

static void
s_remove(plist_t *list, pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        list->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        list->tail = p->prev;
    p->prev = p->next = NULL;
}

static pending_t *
s_find(fl_client_t *self, const void *rid, size_t size)
{
    fl_keynode_t *n = fl_keytab_find(&self->table, rid, size);
    return n ? fl_keytab_entry(n, pending_t, node) : NULL;
}

/* Free a request's block and the reply frames it holds. */
static void
s_pending_free(pending_t *p)
{
    for (size_t i = 0; i < p->nframes; i++)
        zmq_msg_close(&p->frames[i]);
    free(p);
}

/* ---- life cycle ---- */

/* (Re)open the socket: a new socket is a new identity at the broker. */
static int
s_connect(fl_client_t *self, fl_error_t *err)
{
    zsock_destroy(&self->sock);
    self->handle = NULL;
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock)
        return fl_error_set(err, FL_E_IO, "", "cannot create a socket");
    self->handle = zsock_resolve(self->sock);
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 0);
    zsock_set_rcvhwm(self->sock, 0);
    zsock_set_rcvtimeo(self->sock, 0);  /* reading until empty is how we drain */
    zsock_set_sndtimeo(self->sock, 0);  /* a connection refused in the handshake must not block send */
    self->compact = false;              /* a new socket: the broker's answer will tell */
    if (!self->opts.plain_mdp) {
        uint8_t id[FL_MDP_IDENTITY_SIZE];
        fl_mdp_compact_identity(FL_MDP_PROTO_CLIENT, id);
        zmq_setsockopt(self->handle, ZMQ_ROUTING_ID, id, sizeof id);
    }
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
        self->opts.plain_mdp = opts->plain_mdp;
    }
    self->security = security;
    self->endpoint = strdup(endpoint);
    if (fl_keytab_init(&self->table, CLIENT_BUCKETS_MIN) || !self->endpoint) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        fl_client_destroy(&self);
        return NULL;
    }
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
    for (pending_t *p = self->order.head, *next; p; p = next) {
        next = p->next;
        free(p);
    }
    for (pending_t *p = self->finished.head, *next; p; p = next) {
        next = p->next;
        s_pending_free(p);
    }
    fl_keytab_fini(&self->table);
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
    return self->table.count;
}

/* Leave a reply empty without looking at what it held. */
static void
s_reply_clear(fl_reply_t *reply)
{
    reply->rid[0] = '\0';
    reply->status = 0;
    reply->nparts = 0;
    reply->parts[0] = (fl_part_t) { "", 0 };
    reply->held = NULL;
}

void
fl_reply_reset(fl_reply_t *reply)
{
    if (!reply)
        return;
    if (reply->held)
        s_pending_free(reply->held);
    s_reply_clear(reply);
}

char *
fl_part_strdup(const fl_part_t *part)
{
    char *s = malloc(part->size + 1);
    if (s) {
        if (part->size)
            memcpy(s, part->data, part->size);
        s[part->size] = '\0';
    }
    return s;
}

/* ---- sending ---- */

static int
s_transmit(fl_client_t *self, pending_t *p)
{
    void *h = self->handle;
    if (h && self->compact) {
        uint8_t head[FL_MDP_COMPACT_HEADER_MAX];
        size_t size = fl_mdp_compact_pack_client(head, FL_MDP_CLIENT_REQUEST, p->service, p->service_size,
                                                 p->rid, p->rid_size);
        if (zmq_send(h, head, size, ZMQ_SNDMORE) < 0)   /* both fields were checked on send */
            return FL_E_IO;
        return zmq_send(h, p->body, p->len, 0) >= 0 ? 0 : FL_E_IO;
    }
    if (!h || zmq_send(h, FL_MDP_CLIENT_HEADER, FL_MDP_HEADER_SIZE, ZMQ_SNDMORE) < 0)
        return FL_E_IO;             /* nothing sent: the message is all or nothing */
    int rc = zmq_send(h, (uint8_t[]) { FL_MDP_CLIENT_REQUEST }, 1, ZMQ_SNDMORE);
    if (rc >= 0) rc = zmq_send(h, p->service, p->service_size, ZMQ_SNDMORE);
    if (rc >= 0) rc = zmq_send(h, p->rid, p->rid_size, ZMQ_SNDMORE);
    if (rc >= 0) rc = zmq_send(h, p->body, p->len, 0);
    return rc >= 0 ? 0 : FL_E_IO;
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
    size_t service_size = strlen(service);
    if (!s_rid_ok(rid) || fl_mdp_service_check(service, service_size, NULL) != 0)
        return FL_E_INVALID;
    size_t rid_size = strlen(rid);
    if (s_find(self, rid, rid_size))
        return FL_E_CONFLICT;
    if (self->table.count >= self->opts.max_outstanding)
        return FL_E_FULL;
    pending_t *p = malloc(sizeof *p + len);
    if (!p)
        return FL_E_NOMEM;
    memset(p, 0, offsetof(pending_t, frames));
    p->rid_size = rid_size;
    p->service_size = service_size;
    p->len = len;
    p->deadline = zclock_mono() + self->opts.timeout_ms;
    p->retries_left = self->opts.retries;
    memcpy(p->rid, rid, rid_size + 1);
    memcpy(p->service, service, service_size + 1);
    if (len)
        memcpy(p->body, body, len);
    int rc = s_transmit(self, p);
    if (rc) {
        free(p);
        return rc;
    }
    p->node.key = p->rid;
    p->node.key_size = rid_size;
    fl_keytab_insert(&self->table, &p->node);
    s_append(&self->order, p);
    return 0;
}

/* ---- receiving ---- */

/* Move a request to the finished list with this status and reply frames
 * (reply[0 .. n-1], moved into the request's block; n may be 0). */
static void
s_finish(fl_client_t *self, pending_t *p, int status, zmq_msg_t *reply, size_t n)
{
    fl_keytab_remove(&self->table, &p->node);
    s_remove(&self->order, p);
    p->status = status;
    for (size_t i = 0; i < n; i++) {
        zmq_msg_init(&p->frames[i]);
        zmq_msg_move(&p->frames[i], &reply[i]);
    }
    p->nframes = n;
    s_append(&self->finished, p);
}

/* Give up on overdue requests with no retries left; if any other request is
 * overdue, open a new socket and send everything outstanding again.  now is
 * zclock_mono(), read by the caller (one clock read serves a whole pass). */
static void
s_expire(fl_client_t *self, int64_t now)
{
    pending_t *p = self->order.head;
    if (!p)
        return;
    if (p->deadline > now)
        return;
    bool resend = false;
    while (p && p->deadline <= now) {
        pending_t *next = p->next;
        if (p->retries_left <= 0)
            s_finish(self, p, FL_E_TIMEOUT, NULL, 0);
        else {
            p->retries_left--;
            resend = true;
        }
        p = next;
    }
    if (!resend)
        return;
    fl_log(FL_LOG_INFO, "no reply in time: new socket, sending again", FL_S("endpoint", self->endpoint),
           FL_U("outstanding", self->table.count), NULL);
    if (s_connect(self, NULL) != 0)
        return;                     /* try again at the next expiry */
    int64_t deadline = now + self->opts.timeout_ms;
    for (p = self->order.head; p; p = p->next) {
        p->deadline = deadline;     /* all resent now: order stays deadline order */
        s_transmit(self, p);
    }
}

/* The reply f[0 .. n-1] (total frames received), matched to its request. */
static void
s_on_reply(fl_client_t *self, zmq_msg_t *f, size_t n, size_t total)
{
    fl_mdp_frame_t v[CLIENT_FRAMES_MAX];
    for (size_t i = 0; i < n; i++)
        v[i] = (fl_mdp_frame_t) { zmq_msg_data(&f[i]), zmq_msg_size(&f[i]) };
    fl_mdp_client_msg_t cmd;
    fl_error_t err;
    const char *reason = NULL;
    if (n > 0 && fl_mdp_compact_of_frame(&v[0]) == FL_MDP_PROTO_CLIENT) {
        /* f[0] the header (service, rid), f[1..] the body */
        fl_mdp_compact_t c;
        if (fl_mdp_check_compact(v, total, &c, &err) != 0)
            reason = err.message;
        else if (c.command != FL_MDP_CLIENT_FINAL)
            reason = "not a FINAL reply";
        else if (c.rid.size == 0)
            reason = "no request id in the header";
        if (reason) {
            fl_log(FL_LOG_WARN, "dropped a malformed reply", FL_S("reason", reason), NULL);
            return;
        }
        self->compact = !self->opts.plain_mdp;  /* the broker speaks it: so do we, from now */
        pending_t *p = s_find(self, c.rid.data, c.rid.size);
        if (p)
            s_finish(self, p, 0, f + 1, n - 1);    /* the check bounds n - 1 by FL_PARTS_MAX */
        return;
    }
    if (fl_mdp_check_client(v, total, &cmd, &err) != 0)
        reason = err.message;
    else if (cmd.command != FL_MDP_CLIENT_FINAL)
        reason = "not a FINAL reply";
    else if (n < 5)
        reason = "no request id frame before the body";
    if (reason) {
        fl_log(FL_LOG_WARN, "dropped a malformed reply", FL_S("reason", reason), NULL);
        return;
    }
    pending_t *p = s_find(self, v[3].data, v[3].size);
    if (!p)
        return;                     /* a late reply to a finished request is dropped */
    s_finish(self, p, 0, f + 4, n - 4);     /* the check bounds n - 4 by FL_PARTS_MAX */
}

/* Read one message from the broker, waiting up to wait_ms for it, and match
 * it to its request.  False when nothing came (errno says why). */
static bool
s_receive(fl_client_t *self, int wait_ms)
{
    if (!self->handle) {
        errno = EAGAIN;
        return false;
    }
    zmq_msg_t f[CLIENT_FRAMES_MAX];
    size_t n, total;
    if (!fl_mdp_recv_frames_wait(self->handle, wait_ms, f, CLIENT_FRAMES_MAX, &n, &total))
        return false;
    s_on_reply(self, f, n, total);
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return true;
}

/* Read every reply waiting, up to a bound; true if there was any. */
static bool
s_drain(fl_client_t *self)
{
    int i = 0;
    while (i < CLIENT_DRAIN_MAX && s_receive(self, 0))
        i++;
    return i > 0;
}

/* fl_client_next_timeout_ms at time now. */
static int
s_next_timeout(const fl_client_t *self, int64_t now)
{
    pending_t *p = self->order.head;
    if (!p)
        return -1;
    int64_t left = p->deadline - now;
    return left > 0 ? (int) left : 0;
}

int
fl_client_next_timeout_ms(fl_client_t *self)
{
    return self->order.head ? s_next_timeout(self, zclock_mono()) : -1;
}

int
fl_client_recv(fl_client_t *self, fl_reply_t *out, int timeout_ms)
{
    s_reply_clear(out);
    int64_t now = zclock_mono();
    int64_t until = timeout_ms < 0 ? INT64_MAX : now + timeout_ms;
    while (true) {
        s_expire(self, now);
        pending_t *p = self->finished.head;
        if (p) {
            s_remove(&self->finished, p);
            memcpy(out->rid, p->rid, p->rid_size + 1);
            out->status = p->status;
            /* the parts point into p's frames, not into *out: the caller may
             * copy the struct; p itself is freed by fl_reply_reset */
            out->nparts = p->nframes;
            for (size_t i = 0; i < p->nframes; i++)
                out->parts[i] = (fl_part_t) { zmq_msg_data(&p->frames[i]), zmq_msg_size(&p->frames[i]) };
            out->held = p;
            return 0;
        }
        if (self->table.count == 0)
            return FL_E_EMPTY;
        if (timeout_ms == 0) {          /* an event loop's call: take what is here */
            if (s_drain(self))
                continue;
            return FL_E_TIMEOUT;
        }
        int64_t wait = 0;               /* until the caller's limit or the next expiry */
        if (now < until) {
            wait = s_next_timeout(self, now);
            if (until - now < wait)
                wait = until - now;
        }
        if (!self->handle) {            /* no socket: a retry will open one */
            if (now >= until)
                return FL_E_TIMEOUT;
            zclock_sleep((int) wait);
            now = zclock_mono();
            continue;
        }
        /* one reply at a time, in a blocking read rather than zmq_poll +
         * draining reads: a reply already waiting costs no system call, and
         * an empty socket one wait instead of several checks */
        bool got = s_receive(self, (int) wait);
        int saved = errno;
        if (wait > 0)
            now = zclock_mono();        /* the read may have waited */
        if (got)
            continue;
        if (saved != EAGAIN)
            return FL_E_IO;             /* interrupted: let the caller decide */
        if (now >= until)
            return FL_E_TIMEOUT;
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
fl_client_call(fl_client_t *self, const char *service, const void *body, size_t len, fl_reply_t *reply,
               fl_error_t *err)
{
    s_reply_clear(reply);
    char rid[33];
    fl_client_new_rid(rid);
    int rc = fl_client_send(self, service, rid, body, len);
    if (rc)
        return fl_error_set(err, rc, "", "cannot send the request to %s", service);
    while (true) {
        fl_reply_t r;
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
        *reply = r;                     /* moved: the parts do not point into r */
        return 0;
    }
}
