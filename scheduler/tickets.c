/*  tickets.c — walk-in tickets and check-in, their numbers, and the queue of
 *  waiting tickets that call-next, positions and estimates read.
 *
 *  Tickets are numbered per office, per local day, per service prefix: the
 *  first passport ticket of the day is P-001, whatever happened yesterday.
 *  The next number is one past the last key of that prefix (keys sort by
 *  office, day, prefix, number), so numbering needs no counter of its own and
 *  restarts by itself when the office's local date changes.
 */
#include "scheduler/internal.h"

#include <stdio.h>
#include <string.h>

#include "libfoleni/ids.h"
#include "store/check.h"

#define TICKET_NUMBER_MAX 9999

int
sched_ticket_key(const char *office, uint32_t day, const char *label, store_key_t *key)
{
    unsigned number;
    char prefix, dash, extra;
    if (!label || sscanf(label, "%c%c%u%c", &prefix, &dash, &number, &extra) != 3 || dash != '-'
        || prefix < 'A' || prefix > 'Z' || number < 1 || number > TICKET_NUMBER_MAX)
        return FL_E_INVALID;
    *key = store_key_ticket(office, day, prefix, number);
    return 0;
}

/* ---- the waiting queue ---- */

typedef struct {
    op_t *op;
    sched_waiting_t *out;
    size_t cap;
    int rc;
} load_t;

static int
s_load_entry(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void) val; (void) vlen;
    load_t *l = arg;
    sched_waiting_t *q = l->out;
    if (q->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        if (cap > FL_QUEUE_WAITING_MAX)
            return 1;
        fl_waiting_t *w = realloc(q->w, cap * sizeof *w);
        if (w) q->w = w;
        fl_msg_t **t = realloc(q->tickets, cap * sizeof *t);
        if (t) q->tickets = t;
        store_key_t *k = realloc(q->keys, cap * sizeof *k);
        if (k) q->keys = k;
        if (!w || !t || !k)
            return l->rc = FL_E_NOMEM;
        l->cap = cap;
    }
    store_key_t tk = { .len = klen };
    memcpy(tk.b, key, klen);
    fl_msg_t *t = NULL;
    int rc = store_get_rec(l->op->txn, STORE_DB_TICKETS, &tk, FL_T_TICKET_REC, &t);
    if (rc)
        return rc == FL_E_NOT_FOUND ? 0 : (l->rc = rc);
    fl_priority_t prio = FL_PRIO_NONE;
    fl_priority_parse(fl_msg_str(t, FL_F_PRIORITY), &prio);
    size_t i = q->n++;
    q->tickets[i] = t;
    q->keys[i] = tk;
    q->w[i] = (fl_waiting_t) {
        .id = (uint32_t) i,
        .service = fl_msg_str(t, FL_F_SERVICE),
        .appointment = !strcmp(fl_msg_str(t, FL_F_KIND), "appointment"),
        .slot_start = (int64_t) fl_msg_uint(t, FL_F_START),
        .priority = prio,
        .arrived = (int64_t) fl_msg_uint(t, FL_F_ISSUED),
        .to_counter = (unsigned) fl_msg_uint(t, FL_F_TO_COUNTER),
    };
    return 0;
}

int
sched_waiting_load(op_t *op, const fl_office_t *office, uint32_t day, sched_waiting_t *out)
{
    memset(out, 0, sizeof *out);
    out->rules = calloc(office->service_count ? office->service_count : 1, sizeof *out->rules);
    if (!out->rules)
        return FL_E_NOMEM;
    for (size_t i = 0; i < office->service_count; i++)
        out->rules[i] = (fl_service_rule_t) { office->services[i].code, office->services[i].max_wait_minutes * 60 };
    out->nrules = office->service_count;
    load_t l = { .op = op, .out = out };
    store_key_t prefix = store_key_ticket_day(office->code, day);
    int rc = store_scan(op->txn, STORE_DB_WAITING, &prefix, NULL, s_load_entry, &l);
    if (l.rc)
        rc = l.rc;
    if (rc < 0) {
        sched_waiting_free(out);
        return rc;
    }
    return 0;
}

void
sched_waiting_free(sched_waiting_t *q)
{
    for (size_t i = 0; i < q->n; i++)
        fl_msg_destroy(&q->tickets[i]);
    free(q->tickets);
    free(q->keys);
    free(q->w);
    free(q->rules);
    memset(q, 0, sizeof *q);
}

typedef struct {
    const char *service;
    unsigned open;
} open_t;

static int
s_count_open(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void) key; (void) klen;
    open_t *c = arg;
    fl_msg_t *rec = fl_msg_decode_as(FL_T_COUNTER_REC, val, vlen, NULL);
    if (rec && !strcmp(fl_msg_str(rec, FL_F_STATE), "open"))
        for (size_t i = 0; i < fl_msg_count(rec, FL_F_SERVICE_CODES); i++)
            if (!strcmp(fl_msg_str_at(rec, FL_F_SERVICE_CODES, i), c->service)) {
                c->open++;
                break;
            }
    fl_msg_destroy(&rec);
    return 0;
}

unsigned
sched_open_counters(op_t *op, const char *office, const char *service)
{
    open_t c = { .service = service };
    store_key_t prefix = store_key_office(office);
    store_scan(op->txn, STORE_DB_COUNTERS, &prefix, NULL, s_count_open, &c);
    return c.open;
}

void
sched_estimate(op_t *op, const fl_office_t *office, const char *service, uint32_t day, const fl_msg_t *ticket,
               uint32_t *position, uint32_t *wait_s)
{
    *position = 0;
    *wait_s = 0;
    sched_waiting_t q;
    if (sched_waiting_load(op, office, day, &q) != 0)
        return;
    const char *services[] = { service };
    fl_queue_call_t call = { .counter = 0, .services = services, .service_count = 1, .rules = q.rules,
                             .rule_count = q.nrules, .now = op->now };
    size_t index = q.n;
    for (size_t i = 0; i < q.n; i++)
        if (!strcmp(fl_msg_str(q.tickets[i], FL_F_TICKET), fl_msg_str(ticket, FL_F_TICKET)))
            index = i;
    if (index < q.n)
        *position = fl_queue_position(q.w, q.n, index, &call);
    else                                        /* not waiting: everyone of its service is ahead */
        for (size_t i = 0; i < q.n; i++)
            *position += !strcmp(q.w[i].service, service);
    const fl_service_t *s = fl_office_service(office, service);
    bool none_open;
    *wait_s = fl_queue_estimate_s(*position, sched_average(op->batch->sched, office->code, service),
                                  s ? s->service_minutes * 60.0 : 600.0,
                                  sched_open_counters(op, office->code, service), &none_open);
    sched_waiting_free(&q);
}

fl_msg_t *
sched_ticket_reply(op_t *op, const fl_msg_t *t)
{
    fl_msg_t *r = fl_msg_new(FL_T_TICKET);
    if (!r)
        return NULL;
    static const fl_field_t strs[] = { FL_F_OFFICE, FL_F_SERVICE, FL_F_TICKET, FL_F_STATE, FL_F_PRIORITY,
                                       FL_F_KIND, FL_F_REF };
    static const fl_field_t nums[] = { FL_F_DAY, FL_F_ISSUED, FL_F_COUNTER, FL_F_CALLED };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (fl_msg_has(t, strs[i]))
            fl_msg_set_str(r, strs[i], fl_msg_str(t, strs[i]));
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (fl_msg_has(t, nums[i]))
            fl_msg_set_uint(r, nums[i], fl_msg_uint(t, nums[i]));
    if (!strcmp(fl_msg_str(t, FL_F_STATE), "waiting")) {
        const fl_office_t *o = fl_config_office(op->batch->sched->config, fl_msg_str(t, FL_F_OFFICE));
        uint32_t position, wait_s;
        if (o) {
            sched_estimate(op, o, fl_msg_str(t, FL_F_SERVICE), (uint32_t) fl_msg_uint(t, FL_F_DAY), t,
                           &position, &wait_s);
            fl_msg_set_uint(r, FL_F_POSITION, position);
            fl_msg_set_uint(r, FL_F_WAIT_S, wait_s);
        }
    }
    return r;
}

/* ---- the end of a day ---- */

#define S_CLOSE_MAX 256             /* tickets closed per office per tick: bounds the transaction */

typedef struct {
    uint32_t today;
    store_key_t keys[S_CLOSE_MAX];
    size_t n;
} past_t;

/* Collect waiting entries of days before today; keys sort by day within the
 * office, so the first entry of today (or later) ends the scan. */
static int
s_collect_past(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void) val; (void) vlen;
    past_t *p = arg;
    if (klen < STORE_CODE_WIDTH + 4 || store_be_get(key + STORE_CODE_WIDTH, 4) >= p->today || p->n == S_CLOSE_MAX)
        return 1;
    p->keys[p->n].len = klen;
    memcpy(p->keys[p->n].b, key, klen);
    p->n++;
    return 0;
}

int
sched_close_past_days(op_t *op, const fl_office_t *office, uint32_t today, size_t *closed)
{
    *closed = 0;
    past_t *p = calloc(1, sizeof *p);
    if (!p)
        return FL_E_NOMEM;
    p->today = today;
    store_key_t prefix = store_key_office(office->code);
    int rc = store_scan(op->txn, STORE_DB_WAITING, &prefix, NULL, s_collect_past, p);
    rc = rc < 0 ? rc : 0;
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        fl_msg_t *t = NULL;
        rc = store_get_rec(op->txn, STORE_DB_TICKETS, &p->keys[i], FL_T_TICKET_REC, &t);
        if (rc == 0 && !strcmp(fl_msg_str(t, FL_F_STATE), "waiting")) {
            fl_msg_set_str(t, FL_F_STATE, "unserved");
            fl_msg_set_uint(t, FL_F_FINISHED, (uint64_t) op->now);
            if ((rc = store_put_rec(op->txn, STORE_DB_TICKETS, &p->keys[i], t)) == 0)
                ++*closed;
        } else if (rc == FL_E_NOT_FOUND)
            rc = 0;                 /* an index entry without its ticket: just drop it */
        fl_msg_destroy(&t);
        if (rc == 0)
            rc = store_del(op->txn, STORE_DB_WAITING, &p->keys[i]);
    }
    free(p);
    if (rc == 0 && *closed && !sched_emit(op, office->code, "day_closed"))
        rc = FL_E_NOMEM;
    return rc;
}

/* ---- issuing ---- */

/* A new waiting ticket for service at office today, stored and indexed. */
static fl_msg_t *
s_issue(op_t *op, const fl_office_t *o, int oi, const fl_service_t *s, const char *kind, const char *priority,
        const char *ref, int64_t slot_start)
{
    uint32_t day = fl_zone_day(sched_zone(op->batch->sched, oi), op->now);
    store_key_t prefix = store_key_ticket_day(o->code, day), last;
    prefix.b[prefix.len++] = (uint8_t) s->prefix;
    uint32_t number = 1;
    int rc = store_last(op->txn, STORE_DB_TICKETS, &prefix, &last, NULL, NULL);
    if (rc == 0)
        number = (uint32_t) store_be_get(last.b + prefix.len, 4) + 1;
    else if (rc != FL_E_NOT_FOUND) {
        sched_fail(op, rc, "", "the ticket numbers could not be read");
        return NULL;
    }
    if (number > TICKET_NUMBER_MAX) {
        sched_fail(op, FL_E_FULL, "service", "no more %s tickets today", s->code);
        return NULL;
    }
    char label[16], pfx[2] = { s->prefix, '\0' };
    snprintf(label, sizeof label, "%c-%03u", s->prefix, number);
    fl_msg_t *t = fl_msg_new(FL_T_TICKET_REC);
    if (!t)
        return NULL;
    fl_msg_set_str(t, FL_F_OFFICE, o->code);
    fl_msg_set_uint(t, FL_F_DAY, day);
    fl_msg_set_str(t, FL_F_PREFIX, pfx);
    fl_msg_set_uint(t, FL_F_NUMBER, number);
    fl_msg_set_str(t, FL_F_TICKET, label);
    fl_msg_set_str(t, FL_F_SERVICE, s->code);
    fl_msg_set_str(t, FL_F_KIND, kind);
    fl_msg_set_str(t, FL_F_PRIORITY, priority);
    fl_msg_set_str(t, FL_F_STATE, "waiting");
    fl_msg_set_uint(t, FL_F_ISSUED, (uint64_t) op->now);
    if (ref)
        fl_msg_set_str(t, FL_F_REF, ref);
    if (slot_start)
        fl_msg_set_uint(t, FL_F_START, (uint64_t) slot_start);
    store_key_t k = store_key_ticket(o->code, day, s->prefix, number);
    rc = store_put_rec(op->txn, STORE_DB_TICKETS, &k, t);
    if (rc == 0)
        rc = store_put(op->txn, STORE_DB_WAITING, &k, "", 0);
    if (rc == 0) {
        fl_msg_t *e = sched_emit(op, o->code, "ticket");
        if (e) {
            fl_msg_set_str(e, FL_F_SERVICE, s->code);
            fl_msg_set_str(e, FL_F_TICKET, label);
        }
    }
    if (rc) {
        fl_msg_destroy(&t);
        sched_fail(op, rc, "", "the ticket could not be stored");
    }
    return t;
}

int
h_walkin(op_t *op)
{
    int oi;
    const fl_office_t *o = sched_office(op, fl_msg_str(op->req, FL_F_OFFICE), &oi);
    if (!o)
        return op->err.code;
    const fl_service_t *s = sched_service(op, o, fl_msg_str(op->req, FL_F_SERVICE));
    if (!s)
        return op->err.code;
    fl_priority_t prio;
    if (fl_priority_parse(fl_msg_str(op->req, FL_F_PRIORITY), &prio) != 0)
        return sched_fail(op, FL_E_INVALID, "priority",
                          "priority must be none, elderly, disabled or expectant");
    if (!sched_office_open(op->batch->sched, o, oi, op->now))
        return sched_fail(op, FL_E_CLOSED, "office", "the office is closed now");
    fl_msg_t *t = s_issue(op, o, oi, s, "walkin", fl_priority_name(prio), NULL, 0);
    if (!t)
        return op->err.code ? op->err.code : FL_E_NOMEM;
    op->reply = sched_ticket_reply(op, t);
    fl_msg_destroy(&t);
    return op->reply ? 0 : FL_E_NOMEM;
}

int
h_checkin(op_t *op)
{
    int oi;
    const fl_office_t *o = sched_office(op, fl_msg_str(op->req, FL_F_OFFICE), &oi);
    if (!o)
        return op->err.code;
    char ref[FL_REF_LEN + 1];
    if (fl_ref_parse(fl_msg_str(op->req, FL_F_REF), ref, &op->err))
        return op->err.code;
    store_key_t bk = store_key_booking(ref);
    fl_msg_t *b = NULL;
    int rc = store_get_rec(op->txn, STORE_DB_BOOKINGS, &bk, FL_T_BOOKING_REC, &b);
    if (rc == FL_E_NOT_FOUND)
        return sched_fail(op, FL_E_NOT_FOUND, "ref", "no booking has this reference");
    if (rc)
        return rc;
    const char *state = fl_msg_str(b, FL_F_STATE);
    const fl_service_t *s = fl_office_service(o, fl_msg_str(b, FL_F_SERVICE));
    int64_t start = (int64_t) fl_msg_uint(b, FL_F_START);
    fl_msg_t *t = NULL;
    if (strcmp(fl_msg_str(b, FL_F_OFFICE), o->code) != 0 || !s)
        rc = sched_fail(op, FL_E_CONFLICT, "office", "this booking is for office %s", fl_msg_str(b, FL_F_OFFICE));
    else if (!strcmp(state, STORE_BOOKING_HELD))
        rc = sched_fail(op, FL_E_CONFLICT, "ref", "this booking waits for its payment");
    else if (!strcmp(state, STORE_BOOKING_CHECKED_IN))
        rc = sched_fail(op, FL_E_CONFLICT, "ref", "already checked in: ticket %s",
                        fl_msg_has(b, FL_F_TICKET) ? fl_msg_str(b, FL_F_TICKET) : "");
    else if (strcmp(state, STORE_BOOKING_CONFIRMED) != 0)
        rc = sched_fail(op, FL_E_CONFLICT, "ref", "this booking is %s", state);
    else if (op->now < start - (int64_t) s->checkin_early_minutes * 60) {
        fl_local_t lt;
        fl_zone_local(sched_zone(op->batch->sched, oi), start - (int64_t) s->checkin_early_minutes * 60, &lt);
        rc = sched_fail(op, FL_E_CLOSED, "ref", "too early: check in from %02d:%02d on %04d-%02d-%02d",
                        lt.hour, lt.minute, lt.year, lt.month, lt.day);
    } else if (op->now > start + (int64_t) s->checkin_late_minutes * 60) {
        if (!s->late_as_walkin)
            rc = sched_fail(op, FL_E_CLOSED, "ref", "too late: the appointment was missed; please book again");
        else if (!sched_office_open(op->batch->sched, o, oi, op->now))
            rc = sched_fail(op, FL_E_CLOSED, "office", "the office is closed now");
        else
            t = s_issue(op, o, oi, s, "walkin", "none", ref, 0);    /* late: queue as a walk-in */
    } else
        t = s_issue(op, o, oi, s, "appointment", "none", ref, start);
    if (rc == 0 && !t)
        rc = op->err.code ? op->err.code : FL_E_NOMEM;
    if (rc == 0) {
        fl_msg_set_str(b, FL_F_STATE, STORE_BOOKING_CHECKED_IN);
        fl_msg_set_str(b, FL_F_TICKET, fl_msg_str(t, FL_F_TICKET));
        rc = store_put_rec(op->txn, STORE_DB_BOOKINGS, &bk, b);
    }
    if (rc == 0 && !(op->reply = sched_ticket_reply(op, t)))
        rc = FL_E_NOMEM;
    fl_msg_destroy(&t);
    fl_msg_destroy(&b);
    return rc;
}
