/*  session.c — the full-screen counter's connection to the office.  See
 *  session.h.
 *
 *  Requests in flight are tracked by purpose, one slot each: the clerk's
 *  action, and the three queries (offices, services, snapshot) plus the
 *  broker probe.  A reply finds its slot by request id; anything else (a
 *  late reply to a query that was asked again) is dropped.
 */
#include "counter/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "libfoleni/bus.h"
#include "libfoleni/log.h"
#include "libfoleni/mdp.h"

/* One request in flight, by purpose. */
typedef struct {
    bool    busy;
    char    rid[FL_RID_MAX + 1];
    int64_t sent;                       /* zclock_mono when first sent */
} slot_t;

enum { Q_OFFICES, Q_SERVICES, Q_SNAPSHOT, Q_PROBE, Q__COUNT };

struct ctr_session {
    ctr_options_t opts;
    ctr_link_t *link;
    zsock_t *sub;                       /* event bus subscriber, or NULL */
    ctr_view_t *view;
    /* the clerk's action */
    struct {
        slot_t   slot;
        int      action;                /* ctr_action_t */
        ctr_args_t args;                /* for describing the outcome */
        char     to_service[CTR_CODE_MAX + 1];
        msgpack_sbuffer body;           /* the request, sent as is every time */
        int      attempts;
        int64_t  resend_at;             /* 0, or when to send it again */
    } act;
    slot_t   q[Q__COUNT];
    bool     need[Q__COUNT];            /* query wanted (again) */
    int64_t  asked[Q__COUNT];           /* when last sent */
    int64_t  last_heard;                /* any reply, 0: never */
    int64_t  started;
    bool     no_scheduler;              /* the broker says the scheduler is not there */
    bool     forbidden;                 /* the scheduler refused this terminal */
    bool     was_lost;                  /* the link was down since the last answer */
    int64_t  relink_at;                 /* 0, or when to start over with a new client */
    char     notice[CTR_NOTICE_MAX];
    ctr_notice_level_t notice_level;
};

static const fl_type_t s_query_type[Q__COUNT] = {
    [Q_OFFICES] = FL_T_LIST_OFFICES, [Q_SERVICES] = FL_T_LIST_SERVICES, [Q_SNAPSHOT] = FL_T_SNAPSHOT,
    [Q_PROBE] = FL_T_NONE,
};

void
ctr_session_notify(ctr_session_t *self, ctr_notice_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->notice, sizeof self->notice, fmt, ap);
    va_end(ap);
    self->notice_level = level;
    fl_log(level >= CTR_NOTICE_WARN ? FL_LOG_WARN : FL_LOG_INFO, "notice", FL_S("text", self->notice), NULL);
}

ctr_session_t *
ctr_session_new(const ctr_options_t *opts, const fl_security_t *security, fl_error_t *err)
{
    ctr_session_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->opts = *opts;
    self->act.action = -1;
    self->started = zclock_mono();
    fl_client_options_t copts = {
        .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : CTR_SCREEN_TIMEOUT_MS,
        .retries = opts->retries >= 0 ? opts->retries : CTR_DEFAULT_RETRIES,
    };
    self->view = ctr_view_new(opts->office, opts->counter);
    self->link = self->view ? ctr_link_new(opts->broker, security, &copts, err) : NULL;
    if (!self->link) {
        if (!self->view)
            fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        ctr_session_destroy(&self);
        return NULL;
    }
    /* "NBIGPO." and not "NBIGPO", which would also match an office NBIGPO2 */
    char topic[CTR_CODE_MAX + 2];
    snprintf(topic, sizeof topic, "%s.", opts->office);
    const char *topics[] = { topic };
    fl_error_t suberr;
    self->sub = fl_bus_subscriber(opts->events, security, topics, 1, &suberr);
    if (!self->sub)
        ctr_session_notify(self, CTR_NOTICE_WARN, "No live updates (%s): the screen refreshes every %d s",
                           suberr.message, CTR_REFRESH_IDLE_MS / 1000);
    self->need[Q_OFFICES] = self->need[Q_SERVICES] = self->need[Q_SNAPSHOT] = true;
    ctr_session_step(self);             /* send them now */
    return self;
}

void
ctr_session_destroy(ctr_session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ctr_session_t *self = *self_p;
    if (self->act.slot.busy)
        msgpack_sbuffer_destroy(&self->act.body);
    zsock_destroy(&self->sub);
    ctr_link_destroy(&self->link);
    ctr_view_destroy(&self->view);
    free(self);
    *self_p = NULL;
}

const ctr_view_t *
ctr_session_view(const ctr_session_t *self)
{
    return self->view;
}

int
ctr_session_pollitems(ctr_session_t *self, zmq_pollitem_t *items)
{
    int n = ctr_link_pollitems(self->link, items);
    if (self->sub)
        items[n++] = (zmq_pollitem_t) { zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0 };
    return n;
}

/* ---- sending ---- */

static void
s_send_query(ctr_session_t *self, int q, int64_t now)
{
    slot_t *s = &self->q[q];
    fl_client_new_rid(s->rid);
    int rc;
    if (q == Q_PROBE)
        rc = ctr_link_send(self->link, FL_MDP_MMI_SERVICE, s->rid, CTR_SCHEDULER_SERVICE,
                           strlen(CTR_SCHEDULER_SERVICE));
    else {
        fl_msg_t *m = fl_msg_new(s_query_type[q]);
        if (!m)
            return;
        if (fl_msg_takes(m, FL_F_OFFICE))
            fl_msg_set_str(m, FL_F_OFFICE, self->opts.office);
        msgpack_sbuffer buf;
        rc = ctr_encode(m, &buf, NULL);
        fl_msg_destroy(&m);
        if (rc)
            return;
        rc = ctr_link_send(self->link, CTR_SCHEDULER_SERVICE, s->rid, buf.data, buf.size);
        msgpack_sbuffer_destroy(&buf);
    }
    if (rc == FL_E_IO && !self->relink_at)
        self->relink_at = now + CTR_REASK_MS;
    self->asked[q] = now;
    if (rc == 0) {
        s->busy = true;
        s->sent = now;
        self->need[q] = false;
    }
}

static int
s_send_action(ctr_session_t *self, int64_t now)
{
    int rc = ctr_link_send(self->link, CTR_SCHEDULER_SERVICE, self->act.slot.rid, self->act.body.data,
                           self->act.body.size);
    if (rc == FL_E_IO && !self->relink_at)
        self->relink_at = now + CTR_REASK_MS;
    self->act.attempts++;
    self->act.resend_at = rc ? now + CTR_REASK_MS : 0;      /* could not even send: try again soon */
    if (rc == 0)
        fl_log(FL_LOG_INFO, "action sent", FL_S("action", ctr_action_spec(self->act.action)->command),
               FL_S("rid", self->act.slot.rid), FL_I("attempt", self->act.attempts), NULL);
    return rc;
}

int
ctr_session_act(ctr_session_t *self, ctr_action_t action, const ctr_args_t *extra)
{
    const ctr_action_spec_t *spec = ctr_action_spec(action);
    if (self->act.slot.busy)
        return FL_E_CONFLICT;
    ctr_transport_t t = ctr_link_transport(self->link);
    if (t == CTR_TRANSPORT_REFUSED || t == CTR_TRANSPORT_MISMATCH) {
        ctr_session_notify(self, CTR_NOTICE_ERROR, "Not sent: the broker does not let this terminal in (see the "
                           "status line)");
        return FL_E_FORBIDDEN;
    }
    const char *services[CTR_SERVICES_MAX];
    ctr_args_t args;
    ctr_options_args(&self->opts, &args, services);
    args.ticket = NULL;
    if (action == CTR_ACT_OPEN && args.nservices == 0) {
        for (size_t i = 0; i < self->view->nserves; i++)
            services[i] = self->view->serves[i];
        args.nservices = self->view->nserves;
        if (!args.nservices) {
            ctr_session_notify(self, CTR_NOTICE_WARN, "Cannot open yet: the counter's services are not known "
                               "(start with --services, or wait for the scheduler)");
            return FL_E_MISSING;
        }
    }
    args.to_service = NULL;
    args.to_counter = 0;
    self->act.to_service[0] = '\0';
    if (extra && action == CTR_ACT_TRANSFER) {
        if (extra->to_service)
            snprintf(self->act.to_service, sizeof self->act.to_service, "%s", extra->to_service);
        args.to_service = extra->to_service ? self->act.to_service : NULL;
        args.to_counter = extra->to_counter;
    }
    char rid[33];
    fl_client_new_rid(rid);
    fl_error_t err;
    fl_msg_t *req = ctr_action_request(action, &args, rid, &err);
    int rc = req ? ctr_encode(req, &self->act.body, &err) : err.code;
    fl_msg_destroy(&req);
    if (rc) {
        ctr_session_notify(self, CTR_NOTICE_WARN, "Cannot %s: %s", spec->label, err.message);
        return rc;
    }
    self->act.action = action;
    self->act.args = args;
    self->act.args.services = NULL;     /* not kept: the outcome does not need them */
    self->act.args.nservices = 0;
    self->act.attempts = 0;
    snprintf(self->act.slot.rid, sizeof self->act.slot.rid, "%s", rid);
    int64_t now = zclock_mono();
    self->act.slot.busy = true;
    self->act.slot.sent = now;
    s_send_action(self, now);
    ctr_session_notify(self, CTR_NOTICE_INFO, "%c%s: sent...", spec->label[0] - 'a' + 'A', spec->label + 1);
    return 0;
}

int
ctr_session_in_flight(const ctr_session_t *self, int64_t *since_ms, int *attempts)
{
    if (!self->act.slot.busy)
        return -1;
    if (since_ms)
        *since_ms = zclock_mono() - self->act.slot.sent;
    if (attempts)
        *attempts = self->act.attempts;
    return self->act.action;
}

/* ---- receiving ---- */

static fl_msg_t *
s_decode(const fl_reply_t *r)
{
    const fl_part_t *f = r->nparts ? &r->parts[0] : NULL;
    return f ? fl_msg_decode(f->data, f->size, NULL) : NULL;
}

static void
s_action_finished(ctr_session_t *self)
{
    msgpack_sbuffer_destroy(&self->act.body);
    self->act.slot.busy = false;
    self->act.resend_at = 0;
}

static void
s_on_action(ctr_session_t *self, fl_reply_t *r, int64_t now)
{
    const ctr_action_spec_t *spec = ctr_action_spec(self->act.action);
    if (r->status != 0) {
        /* every attempt of fl_client timed out: the same bytes, the same id, again */
        fl_log(FL_LOG_WARN, "no answer to the action, sending it again", FL_S("rid", self->act.slot.rid), NULL);
        s_send_action(self, now);
        return;
    }
    fl_msg_t *m = s_decode(r);
    if (!m) {
        ctr_session_notify(self, CTR_NOTICE_ERROR, "%s: the answer was not a Foleni message", spec->label);
        s_action_finished(self);
        return;
    }
    if (fl_msg_type(m) == FL_T_ERROR) {
        const char *code = fl_msg_str(m, FL_F_CODE), *message = fl_msg_str(m, FL_F_MESSAGE);
        int exit_code = ctr_exit_for_error(code);
        if (exit_code == CTR_EXIT_NO_ANSWER) {
            /* the broker's answer: no scheduler took it, so it did not happen yet */
            self->no_scheduler = true;
            self->act.resend_at = now + CTR_REASK_MS;
            ctr_session_notify(self, CTR_NOTICE_WARN, "No scheduler is answering: %s will be sent again",
                               spec->label);
        } else if (exit_code == CTR_EXIT_FORBIDDEN) {
            self->forbidden = true;
            ctr_session_notify(self, CTR_NOTICE_ERROR, "REFUSED: the scheduler does not accept this terminal as "
                               "counter %u (%s): %s", self->opts.counter, message, ctr_identity_hint());
            s_action_finished(self);
        } else {
            ctr_session_notify(self, CTR_NOTICE_WARN, "%c%s refused: %s", spec->label[0] - 'a' + 'A',
                               spec->label + 1, message);
            s_action_finished(self);
            self->need[Q_SNAPSHOT] = true;      /* the picture may be out of date */
        }
    } else {
        self->forbidden = false;
        self->no_scheduler = false;
        ctr_view_apply_reply(self->view, (ctr_action_t) self->act.action, m, now);
        char sentence[CTR_SENTENCE_MAX];
        ctr_action_describe((ctr_action_t) self->act.action, &self->act.args, m, sentence, sizeof sentence);
        ctr_session_notify(self, CTR_NOTICE_OK, "%s", sentence);
        s_action_finished(self);
        self->need[Q_SNAPSHOT] = true;
    }
    fl_msg_destroy(&m);
}

static void
s_on_query(ctr_session_t *self, int q, fl_reply_t *r, int64_t now)
{
    self->q[q].busy = false;
    if (r->status != 0) {
        self->need[q] = q != Q_PROBE;   /* ask again later; a probe is sent when due */
        return;
    }
    if (q == Q_PROBE) {
        char *answer = r->nparts ? fl_part_strdup(&r->parts[0]) : NULL;
        self->no_scheduler = !answer || strcmp(answer, FL_MDP_MMI_FOUND) != 0;
        zstr_free(&answer);
        return;
    }
    fl_msg_t *m = s_decode(r);
    if (!m) {
        self->need[q] = true;
        return;
    }
    if (fl_msg_type(m) == FL_T_ERROR) {
        const char *code = fl_msg_str(m, FL_F_CODE);
        if (ctr_exit_for_error(code) == CTR_EXIT_NO_ANSWER)
            self->no_scheduler = true;
        else
            ctr_session_notify(self, CTR_NOTICE_ERROR, "%s", fl_msg_str(m, FL_F_MESSAGE));
        self->need[q] = true;
    } else {
        self->no_scheduler = false;
        if (q == Q_OFFICES && ctr_view_apply_offices(self->view, m) == FL_E_NOT_FOUND)
            ctr_session_notify(self, CTR_NOTICE_ERROR, "The scheduler does not serve office %s", self->opts.office);
        else if (q == Q_SERVICES && ctr_view_apply_services(self->view, m) == FL_E_NOT_FOUND)
            ctr_session_notify(self, CTR_NOTICE_ERROR, "Office %s has no counter %u", self->opts.office,
                               self->opts.counter);
        else if (q == Q_SNAPSHOT)
            ctr_view_apply_board(self->view, m, now);
    }
    fl_msg_destroy(&m);
}

static void
s_on_reply(ctr_session_t *self, fl_reply_t *r, int64_t now)
{
    if (r->status == 0) {
        self->last_heard = now;
        ctr_link_heard(self->link);
        if (self->was_lost) {
            /* back after a break: what happened meanwhile came as events we missed */
            self->was_lost = false;
            self->need[Q_SERVICES] = self->need[Q_SNAPSHOT] = true;
            fl_log(FL_LOG_INFO, "link back", NULL);
        }
    }
    if (self->act.slot.busy && !strcmp(r->rid, self->act.slot.rid)) {
        s_on_action(self, r, now);
        return;
    }
    for (int q = 0; q < Q__COUNT; q++)
        if (self->q[q].busy && !strcmp(r->rid, self->q[q].rid)) {
            s_on_query(self, q, r, now);
            return;
        }
}

static void
s_read_events(ctr_session_t *self, int64_t now)
{
    for (int i = 0; self->sub && i < CTR_EVENTS_PER_STEP && (zsock_events(self->sub) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(self->sub);
        if (!msg)
            break;
        zframe_t *body = zmsg_size(msg) == 2 ? zmsg_last(msg) : NULL;
        fl_msg_t *e = body ? fl_msg_decode(zframe_data(body), zframe_size(body), NULL) : NULL;
        if (e && ctr_view_apply_event(self->view, e, now))
            self->need[Q_SNAPSHOT] = true;
        fl_msg_destroy(&e);
        zmsg_destroy(&msg);
    }
}

/* ---- timers ---- */

/* When the next query q may be sent, or INT64_MAX when it is not wanted. */
static int64_t
s_query_due(const ctr_session_t *self, int q)
{
    if (self->q[q].busy)
        return INT64_MAX;
    if (q == Q_PROBE) {
        int64_t quiet_since = self->last_heard ? self->last_heard : self->started;
        return (quiet_since > self->asked[q] ? quiet_since : self->asked[q]) + CTR_PROBE_MS;
    }
    if (q == Q_SNAPSHOT) {
        if (self->need[q])
            return self->asked[q] + CTR_REFRESH_MIN_MS;
        return self->asked[q] + CTR_REFRESH_IDLE_MS;
    }
    if (!self->need[q])
        return INT64_MAX;
    return self->asked[q] ? self->asked[q] + CTR_REASK_MS : 0;
}

int
ctr_session_timeout_ms(ctr_session_t *self)
{
    int64_t now = zclock_mono(), next = now + CTR_PROBE_MS;
    for (int q = 0; q < Q__COUNT; q++) {
        int64_t due = s_query_due(self, q);
        if (due < next)
            next = due;
    }
    if (self->act.resend_at && self->act.resend_at < next)
        next = self->act.resend_at;
    if (self->relink_at && self->relink_at < next)
        next = self->relink_at;
    int client = fl_client_next_timeout_ms(ctr_link_client(self->link));
    if (client >= 0 && now + client < next)
        next = now + client;
    return next <= now ? 0 : (int) (next - now);
}

/* The connection is gone for good (link.h): a new client, and everything
 * still wanted asked again; the action with its own request id. */
static void
s_relink(ctr_session_t *self, int64_t now)
{
    self->relink_at = 0;
    fl_error_t err;
    if (ctr_link_reset(self->link, &err) != 0) {
        self->relink_at = now + CTR_REASK_MS;
        return;
    }
    fl_log(FL_LOG_WARN, "connection dropped in the handshake: new client",
           FL_S("reason", ctr_link_transport_text(self->link)), NULL);
    for (int q = 0; q < Q__COUNT; q++) {
        if (self->q[q].busy)
            self->need[q] = q != Q_PROBE;
        self->q[q].busy = false;
    }
    if (self->act.slot.busy)
        self->act.resend_at = now;
}

void
ctr_session_step(ctr_session_t *self)
{
    int64_t now = zclock_mono();
    if (self->relink_at && now >= self->relink_at)
        s_relink(self, now);
    fl_reply_t r = { .held = NULL };
    while (fl_client_recv(ctr_link_client(self->link), &r, 0) == 0) {
        s_on_reply(self, &r, now);
        fl_reply_reset(&r);
    }
    ctr_link_read_monitor(self->link);
    s_read_events(self, now);
    if (self->act.slot.busy && self->act.resend_at && now >= self->act.resend_at)
        s_send_action(self, now);
    for (int q = 0; q < Q__COUNT; q++)
        if (s_query_due(self, q) <= now)
            s_send_query(self, q, now);
    ctr_link_check(self->link);
    char text[CTR_NOTICE_MAX];
    ctr_link_state_t state = ctr_session_link(self, text, sizeof text);
    if ((state == CTR_LINK_DOWN || state == CTR_LINK_NO_SCHEDULER) && !self->was_lost) {
        self->was_lost = true;
        fl_log(FL_LOG_WARN, "link lost", FL_S("state", text), NULL);
    }
}

/* ---- what the status line says ---- */

ctr_link_state_t
ctr_session_link(const ctr_session_t *self, char *text, size_t cap)
{
    int64_t now = zclock_mono();
    ctr_transport_t t = ctr_link_transport(self->link);
    int timeout = self->opts.timeout_ms > 0 ? self->opts.timeout_ms : CTR_SCREEN_TIMEOUT_MS;
    /* overdue: something asked longer ago than a timeout, and nothing heard since */
    int64_t oldest = self->act.slot.busy ? self->act.slot.sent : INT64_MAX;
    for (int q = 0; q < Q__COUNT; q++)
        if (self->q[q].busy && self->q[q].sent < oldest)
            oldest = self->q[q].sent;
    int64_t quiet_since = self->last_heard > oldest ? self->last_heard : oldest;
    bool overdue = oldest != INT64_MAX && now - quiet_since > timeout;
    int64_t silent_s = (now - (self->last_heard ? self->last_heard : self->started)) / 1000;
    if (t == CTR_TRANSPORT_REFUSED || t == CTR_TRANSPORT_MISMATCH) {
        snprintf(text, cap, "IDENTITY REFUSED: %s", ctr_link_transport_text(self->link));
        return CTR_LINK_REFUSED;
    }
    if (overdue || t == CTR_TRANSPORT_DOWN) {
        if (t == CTR_TRANSPORT_DOWN)
            snprintf(text, cap, "waiting for broker %s: %s (%lld s)", self->opts.broker,
                     ctr_link_transport_text(self->link), (long long) silent_s);
        else
            snprintf(text, cap, "waiting for broker %s: no answer for %lld s", self->opts.broker,
                     (long long) silent_s);
        return CTR_LINK_DOWN;
    }
    if (self->no_scheduler) {
        snprintf(text, cap, "broker %s answers, but no scheduler is there yet", self->opts.broker);
        return CTR_LINK_NO_SCHEDULER;
    }
    if (!self->last_heard) {
        snprintf(text, cap, "connecting to broker %s", self->opts.broker);
        return CTR_LINK_CONNECTING;
    }
    if (self->forbidden) {
        snprintf(text, cap, "connected to %s, but this terminal is not accepted as a counter", self->opts.broker);
        return CTR_LINK_REFUSED;
    }
    snprintf(text, cap, "connected to %s%s", self->opts.broker, self->sub ? ", live updates" : "");
    return CTR_LINK_UP;
}

const char *
ctr_session_notice(const ctr_session_t *self, ctr_notice_level_t *level)
{
    if (level)
        *level = self->notice_level;
    return self->notice;
}
