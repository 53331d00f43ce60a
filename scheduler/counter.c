/*  counter.c — what a clerk does at a counter: open, pause, close, call the
 *  next ticket, recall it, start, finish, mark a no-show, transfer.
 *
 *  A counter record says whether the counter is open, which services it
 *  serves now, and which ticket it has (label and day).  A ticket leaves the
 *  waiting index when called and comes back to it only by a transfer.  Every
 *  step is an event on the bus, so boards and other counters follow.
 */
#include "scheduler/internal.h"

#include <string.h>

#include "store/check.h"

typedef struct {
    const fl_office_t *office;
    int oi;
    unsigned number;
    store_key_t key;
    fl_msg_t *rec;                  /* the counter record (owned) */
    fl_msg_t *ticket;               /* its current ticket, if any (owned) */
    store_key_t ticket_key;
} counter_t;

static void
s_counter_free(counter_t *c)
{
    fl_msg_destroy(&c->rec);
    fl_msg_destroy(&c->ticket);
}

/* Load the counter the request names, after checking the caller may act as one. */
static int
s_counter_load(op_t *op, counter_t *c)
{
    memset(c, 0, sizeof *c);
    if (sched_require(op, SCHED_ROLE_COUNTER))
        return op->err.code;
    if (!(c->office = sched_office(op, fl_msg_str(op->req, FL_F_OFFICE), &c->oi)))
        return op->err.code;
    c->number = (unsigned) fl_msg_uint(op->req, FL_F_COUNTER);
    const sched_binding_t *bound = &op->binding;
    if (op->role == SCHED_ROLE_COUNTER && bound->office[0]
        && (strcmp(bound->office, c->office->code) != 0 || (bound->counter && bound->counter != c->number))) {
        if (bound->counter)
            return sched_fail(op, FL_E_FORBIDDEN, "counter", "this key belongs to counter %u of %s",
                              bound->counter, bound->office);
        return sched_fail(op, FL_E_FORBIDDEN, "office", "this key belongs to the counters of %s", bound->office);
    }
    c->key = store_key_counter(c->office->code, c->number);
    int rc = store_get_rec(op->txn, STORE_DB_COUNTERS, &c->key, FL_T_COUNTER_REC, &c->rec);
    if (rc == FL_E_NOT_FOUND)
        return sched_fail(op, FL_E_NOT_FOUND, "counter", "office %s has no counter %u", c->office->code, c->number);
    if (rc)
        return rc;
    if (fl_msg_has(c->rec, FL_F_TICKET)) {
        rc = sched_ticket_key(c->office->code, (uint32_t) fl_msg_uint(c->rec, FL_F_DAY),
                              fl_msg_str(c->rec, FL_F_TICKET), &c->ticket_key);
        if (rc == 0)
            rc = store_get_rec(op->txn, STORE_DB_TICKETS, &c->ticket_key, FL_T_TICKET_REC, &c->ticket);
        if (rc == FL_E_NOT_FOUND || rc == FL_E_INVALID) {   /* a stale pointer: forget it */
            fl_msg_unset(c->rec, FL_F_TICKET);
            fl_msg_unset(c->rec, FL_F_DAY);
            rc = 0;
        }
    }
    return rc;
}

static int
s_counter_save(op_t *op, counter_t *c)
{
    return store_put_rec(op->txn, STORE_DB_COUNTERS, &c->key, c->rec);
}

static int
s_ticket_save(op_t *op, counter_t *c)
{
    return store_put_rec(op->txn, STORE_DB_TICKETS, &c->ticket_key, c->ticket);
}

static int
s_state_reply(op_t *op, counter_t *c)
{
    fl_msg_t *r = op->reply = fl_msg_new(FL_T_COUNTER_STATE);
    if (!r)
        return FL_E_NOMEM;
    fl_msg_set_str(r, FL_F_OFFICE, c->office->code);
    fl_msg_set_uint(r, FL_F_COUNTER, c->number);
    fl_msg_set_str(r, FL_F_STATE, fl_msg_str(c->rec, FL_F_STATE));
    for (size_t i = 0; i < fl_msg_count(c->rec, FL_F_SERVICE_CODES); i++)
        fl_msg_add_str(r, FL_F_SERVICE_CODES, fl_msg_str_at(c->rec, FL_F_SERVICE_CODES, i));
    if (fl_msg_has(c->rec, FL_F_TICKET))
        fl_msg_set_str(r, FL_F_TICKET, fl_msg_str(c->rec, FL_F_TICKET));
    fl_msg_t *e = sched_emit(op, c->office->code, "counter");
    if (e) {
        fl_msg_set_uint(e, FL_F_COUNTER, c->number);
        fl_msg_set_str(e, FL_F_STATE, fl_msg_str(c->rec, FL_F_STATE));
    }
    return 0;
}

/* A ticket event for the counter's current ticket. */
static void
s_ticket_event(op_t *op, counter_t *c, const char *kind)
{
    fl_msg_t *e = sched_emit(op, c->office->code, kind);
    if (!e)
        return;
    fl_msg_set_str(e, FL_F_SERVICE, fl_msg_str(c->ticket, FL_F_SERVICE));
    fl_msg_set_str(e, FL_F_TICKET, fl_msg_str(c->ticket, FL_F_TICKET));
    fl_msg_set_uint(e, FL_F_COUNTER, c->number);
    fl_msg_set_str(e, FL_F_STATE, fl_msg_str(c->ticket, FL_F_STATE));
}

static bool
s_has_active(const counter_t *c)
{
    if (!c->ticket)
        return false;
    const char *state = fl_msg_str(c->ticket, FL_F_STATE);
    return !strcmp(state, "called") || !strcmp(state, "serving");
}

int
h_counter_open(op_t *op)
{
    counter_t c;
    int rc = s_counter_load(op, &c);
    if (rc == 0) {
        for (size_t i = 0; i < fl_msg_count(op->req, FL_F_SERVICE_CODES) && rc == 0; i++)
            if (!sched_service(op, c.office, fl_msg_str_at(op->req, FL_F_SERVICE_CODES, i)))
                rc = op->err.code;
    }
    if (rc == 0) {
        fl_msg_unset(c.rec, FL_F_SERVICE_CODES);
        for (size_t i = 0; i < fl_msg_count(op->req, FL_F_SERVICE_CODES); i++)
            fl_msg_add_str(c.rec, FL_F_SERVICE_CODES, fl_msg_str_at(op->req, FL_F_SERVICE_CODES, i));
        fl_msg_set_str(c.rec, FL_F_STATE, "open");
        if ((rc = s_counter_save(op, &c)) == 0)
            rc = s_state_reply(op, &c);
    }
    s_counter_free(&c);
    return rc;
}

int
h_counter_pause(op_t *op)
{
    counter_t c;
    int rc = s_counter_load(op, &c);
    if (rc == 0 && strcmp(fl_msg_str(c.rec, FL_F_STATE), "open") != 0)
        rc = sched_fail(op, FL_E_CONFLICT, "counter", "counter %u is %s, not open", c.number,
                        fl_msg_str(c.rec, FL_F_STATE));
    if (rc == 0) {
        fl_msg_set_str(c.rec, FL_F_STATE, "paused");
        if ((rc = s_counter_save(op, &c)) == 0)
            rc = s_state_reply(op, &c);
    }
    s_counter_free(&c);
    return rc;
}

int
h_counter_close(op_t *op)
{
    counter_t c;
    int rc = s_counter_load(op, &c);
    if (rc == 0 && s_has_active(&c))
        rc = sched_fail(op, FL_E_CONFLICT, "ticket", "finish ticket %s first (done, no-show or transfer)",
                        fl_msg_str(c.ticket, FL_F_TICKET));
    if (rc == 0) {
        fl_msg_set_str(c.rec, FL_F_STATE, "closed");
        fl_msg_unset(c.rec, FL_F_TICKET);
        fl_msg_unset(c.rec, FL_F_DAY);
        if ((rc = s_counter_save(op, &c)) == 0)
            rc = s_state_reply(op, &c);
    }
    s_counter_free(&c);
    return rc;
}

int
h_next(op_t *op)
{
    counter_t c;
    int rc = s_counter_load(op, &c);
    if (rc)
        goto done;
    const char *state = fl_msg_str(c.rec, FL_F_STATE);
    if (strcmp(state, "open") != 0) {
        rc = sched_fail(op, FL_E_CLOSED, "counter", "counter %u is %s: open it to call tickets", c.number, state);
        goto done;
    }
    if (s_has_active(&c)) {
        rc = sched_fail(op, FL_E_CONFLICT, "ticket", "finish ticket %s first (done, no-show or transfer)",
                        fl_msg_str(c.ticket, FL_F_TICKET));
        goto done;
    }
    uint32_t day = fl_zone_day(sched_zone(op->batch->sched, c.oi), op->now);
    sched_waiting_t q;
    if ((rc = sched_waiting_load(op, c.office, day, &q)))
        goto done;
    size_t nservices = fl_msg_count(c.rec, FL_F_SERVICE_CODES);
    const char *services[FL_CONFIG_SERVICES_MAX];
    for (size_t i = 0; i < nservices && i < FL_CONFIG_SERVICES_MAX; i++)
        services[i] = fl_msg_str_at(c.rec, FL_F_SERVICE_CODES, i);
    fl_queue_call_t call = { .counter = c.number, .services = services, .service_count = nservices,
                             .rules = q.rules, .rule_count = q.nrules, .now = op->now };
    size_t picked;
    if (fl_queue_pick(q.w, q.n, &call, &picked) != 0) {
        sched_waiting_free(&q);
        rc = sched_fail(op, FL_E_EMPTY, "counter", "no one is waiting for the services of counter %u", c.number);
        goto done;
    }
    fl_msg_destroy(&c.ticket);
    c.ticket = q.tickets[picked];
    q.tickets[picked] = NULL;
    c.ticket_key = q.keys[picked];
    sched_waiting_free(&q);
    fl_msg_set_str(c.ticket, FL_F_STATE, "called");
    fl_msg_set_uint(c.ticket, FL_F_COUNTER, c.number);
    fl_msg_set_uint(c.ticket, FL_F_CALLED, (uint64_t) op->now);
    fl_msg_set_uint(c.ticket, FL_F_CALLS, 1);
    fl_msg_unset(c.ticket, FL_F_STARTED);
    fl_msg_set_str(c.rec, FL_F_TICKET, fl_msg_str(c.ticket, FL_F_TICKET));
    fl_msg_set_uint(c.rec, FL_F_DAY, fl_msg_uint(c.ticket, FL_F_DAY));
    if ((rc = store_del(op->txn, STORE_DB_WAITING, &c.ticket_key)) == 0 && (rc = s_ticket_save(op, &c)) == 0
        && (rc = s_counter_save(op, &c)) == 0) {
        s_ticket_event(op, &c, "call");
        rc = (op->reply = sched_ticket_reply(op, c.ticket)) ? 0 : FL_E_NOMEM;
    }
done:
    s_counter_free(&c);
    return rc;
}

/* Load the counter and check its current ticket is in one of the states. */
static int
s_current(op_t *op, counter_t *c, const char *const *states, const char *what)
{
    int rc = s_counter_load(op, c);
    if (rc)
        return rc;
    if (!c->ticket || !s_has_active(c))
        return sched_fail(op, FL_E_CONFLICT, "ticket", "counter %u has no ticket to %s", c->number, what);
    if (fl_msg_takes(op->req, FL_F_TICKET) && fl_msg_has(op->req, FL_F_TICKET)
        && strcmp(fl_msg_str(op->req, FL_F_TICKET), fl_msg_str(c->ticket, FL_F_TICKET)) != 0)
        return sched_fail(op, FL_E_CONFLICT, "ticket", "counter %u has ticket %s, not %s", c->number,
                          fl_msg_str(c->ticket, FL_F_TICKET), fl_msg_str(op->req, FL_F_TICKET));
    const char *state = fl_msg_str(c->ticket, FL_F_STATE);
    for (int i = 0; states[i]; i++)
        if (!strcmp(state, states[i]))
            return 0;
    return sched_fail(op, FL_E_CONFLICT, "ticket", "ticket %s is %s: it cannot be %s now",
                      fl_msg_str(c->ticket, FL_F_TICKET), state, what);
}

/* Save the ticket (and counter), emit kind and reply with the ticket. */
static int
s_finish_step(op_t *op, counter_t *c, const char *kind, bool counter_too)
{
    int rc = s_ticket_save(op, c);
    if (rc == 0 && counter_too)
        rc = s_counter_save(op, c);
    if (rc == 0) {
        s_ticket_event(op, c, kind);
        rc = (op->reply = sched_ticket_reply(op, c->ticket)) ? 0 : FL_E_NOMEM;
    }
    return rc;
}

int
h_recall(op_t *op)
{
    counter_t c;
    int rc = s_current(op, &c, (const char *[]) { "called", NULL }, "recalled");
    if (rc == 0) {
        uint64_t calls = fl_msg_uint(c.ticket, FL_F_CALLS);
        fl_msg_set_uint(c.ticket, FL_F_CALLS, calls < 255 ? calls + 1 : 255);
        rc = s_finish_step(op, &c, "recall", false);
    }
    s_counter_free(&c);
    return rc;
}

int
h_start(op_t *op)
{
    counter_t c;
    int rc = s_current(op, &c, (const char *[]) { "called", NULL }, "started");
    if (rc == 0) {
        fl_msg_set_str(c.ticket, FL_F_STATE, "serving");
        fl_msg_set_uint(c.ticket, FL_F_STARTED, (uint64_t) op->now);
        rc = s_finish_step(op, &c, "start", false);
    }
    s_counter_free(&c);
    return rc;
}

/* The counter lets go of its ticket. */
static void
s_release(counter_t *c)
{
    fl_msg_unset(c->rec, FL_F_TICKET);
    fl_msg_unset(c->rec, FL_F_DAY);
}

int
h_done(op_t *op)
{
    counter_t c;
    int rc = s_current(op, &c, (const char *[]) { "called", "serving", NULL }, "done");
    if (rc == 0) {
        if (!fl_msg_has(c.ticket, FL_F_STARTED))     /* served without pressing start */
            fl_msg_set_uint(c.ticket, FL_F_STARTED, fl_msg_uint(c.ticket, FL_F_CALLED));
        fl_msg_set_str(c.ticket, FL_F_STATE, "done");
        fl_msg_set_uint(c.ticket, FL_F_FINISHED, (uint64_t) op->now);
        sched_sample(op, c.office->code, fl_msg_str(c.ticket, FL_F_SERVICE),
                     (double) (op->now - (int64_t) fl_msg_uint(c.ticket, FL_F_STARTED)));
        if (fl_msg_has(c.ticket, FL_F_REF))
            rc = sched_booking_finish(op, fl_msg_str(c.ticket, FL_F_REF), STORE_BOOKING_SERVED);
        s_release(&c);
        if (rc == 0)
            rc = s_finish_step(op, &c, "done", true);
    }
    s_counter_free(&c);
    return rc;
}

int
h_noshow(op_t *op)
{
    counter_t c;
    int rc = s_current(op, &c, (const char *[]) { "called", NULL }, "marked a no-show");
    if (rc == 0) {
        fl_msg_set_str(c.ticket, FL_F_STATE, "no_show");
        fl_msg_set_uint(c.ticket, FL_F_FINISHED, (uint64_t) op->now);
        if (fl_msg_has(c.ticket, FL_F_REF))
            rc = sched_booking_finish(op, fl_msg_str(c.ticket, FL_F_REF), STORE_BOOKING_NO_SHOW);
        s_release(&c);
        if (rc == 0)
            rc = s_finish_step(op, &c, "noshow", true);
    }
    s_counter_free(&c);
    return rc;
}

int
h_transfer(op_t *op)
{
    counter_t c;
    int rc = s_current(op, &c, (const char *[]) { "called", "serving", NULL }, "transferred");
    if (rc)
        goto done;
    const char *to_service = fl_msg_has(op->req, FL_F_TO_SERVICE) ? fl_msg_str(op->req, FL_F_TO_SERVICE) : NULL;
    unsigned to_counter = (unsigned) fl_msg_uint(op->req, FL_F_TO_COUNTER);
    if (!to_service && !to_counter) {
        rc = sched_fail(op, FL_E_INVALID, "to_service", "say where to: to_service, to_counter or both");
        goto done;
    }
    if (to_service && !sched_service(op, c.office, to_service)) {
        rc = op->err.code;
        goto done;
    }
    if (to_counter) {
        if (to_counter == c.number) {
            rc = sched_fail(op, FL_E_CONFLICT, "to_counter", "the ticket is already at counter %u", c.number);
            goto done;
        }
        store_key_t k = store_key_counter(c.office->code, to_counter);
        const void *v;
        size_t n;
        if (store_get(op->txn, STORE_DB_COUNTERS, &k, &v, &n) != 0) {
            rc = sched_fail(op, FL_E_NOT_FOUND, "to_counter", "office %s has no counter %u", c.office->code,
                            to_counter);
            goto done;
        }
    }
    /* back in the queue, keeping its arrival time, so it is not sent to the end */
    if (to_service)
        fl_msg_set_str(c.ticket, FL_F_SERVICE, to_service);
    if (to_counter)
        fl_msg_set_uint(c.ticket, FL_F_TO_COUNTER, to_counter);
    else
        fl_msg_unset(c.ticket, FL_F_TO_COUNTER);
    fl_msg_set_str(c.ticket, FL_F_STATE, "waiting");
    fl_msg_unset(c.ticket, FL_F_COUNTER);
    fl_msg_unset(c.ticket, FL_F_CALLED);
    fl_msg_unset(c.ticket, FL_F_STARTED);
    s_release(&c);
    if ((rc = store_put(op->txn, STORE_DB_WAITING, &c.ticket_key, "", 0)) == 0
        && (rc = s_ticket_save(op, &c)) == 0 && (rc = s_counter_save(op, &c)) == 0) {
        fl_msg_t *e = sched_emit(op, c.office->code, "transfer");
        if (e) {
            fl_msg_set_str(e, FL_F_TICKET, fl_msg_str(c.ticket, FL_F_TICKET));
            fl_msg_set_uint(e, FL_F_COUNTER, c.number);
            fl_msg_set_str(e, FL_F_SERVICE, fl_msg_str(c.ticket, FL_F_SERVICE));
            if (to_service)
                fl_msg_set_str(e, FL_F_TO_SERVICE, to_service);
            if (to_counter)
                fl_msg_set_uint(e, FL_F_TO_COUNTER, to_counter);
        }
        rc = (op->reply = sched_ticket_reply(op, c.ticket)) ? 0 : FL_E_NOMEM;
    }
done:
    s_counter_free(&c);
    return rc;
}
