/*  board.c — reading the state: offices and services, a board snapshot for
 *  displays, and a day's statistics for the centre manager.
 *
 *  These requests change nothing.  A snapshot carries the office's event seq
 *  as of the same transaction, so a display that applies only events with a
 *  higher seq after it (the Clone pattern) is exactly right.
 */
#include "scheduler/internal.h"

#include <stdlib.h>
#include <string.h>

int
h_list_offices(op_t *op)
{
    const fl_config_t *cfg = op->batch->sched->config;
    fl_msg_t *r = op->reply = fl_msg_new(FL_T_OFFICE_LIST);
    if (!r)
        return FL_E_NOMEM;
    fl_msg_set_empty(r, FL_F_OFFICES);
    for (size_t i = 0; i < cfg->office_count; i++) {
        const fl_office_t *o = &cfg->offices[i];
        fl_msg_t *item = fl_msg_add_item(r, FL_F_OFFICES);
        if (!item)
            return FL_E_NOMEM;
        fl_msg_set_str(item, FL_F_OFFICE, o->code);
        fl_msg_set_str(item, FL_F_NAME, o->name.en);
        if (o->name.sw)
            fl_msg_set_str(item, FL_F_NAME_SW, o->name.sw);
        fl_msg_set_str(item, FL_F_TZ, o->timezone);
    }
    return 0;
}

typedef struct {
    fl_msg_t *reply;
} counters_t;

static int
s_counter_item(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void) key; (void) klen;
    counters_t *c = arg;
    fl_msg_t *rec = fl_msg_decode_as(FL_T_COUNTER_REC, val, vlen, NULL);
    fl_msg_t *item = rec ? fl_msg_add_item(c->reply, FL_F_COUNTERS) : NULL;
    if (item) {
        fl_msg_set_uint(item, FL_F_COUNTER, fl_msg_uint(rec, FL_F_COUNTER));
        if (fl_msg_has(rec, FL_F_NAME))
            fl_msg_set_str(item, FL_F_NAME, fl_msg_str(rec, FL_F_NAME));
        for (size_t i = 0; i < fl_msg_count(rec, FL_F_SERVICE_CODES); i++)
            fl_msg_add_str(item, FL_F_SERVICE_CODES, fl_msg_str_at(rec, FL_F_SERVICE_CODES, i));
        fl_msg_set_str(item, FL_F_STATE, fl_msg_str(rec, FL_F_STATE));
    }
    fl_msg_destroy(&rec);
    return 0;
}

int
h_list_services(op_t *op)
{
    const fl_office_t *o = sched_office(op, fl_msg_str(op->req, FL_F_OFFICE), NULL);
    if (!o)
        return op->err.code;
    fl_msg_t *r = op->reply = fl_msg_new(FL_T_SERVICE_LIST);
    if (!r)
        return FL_E_NOMEM;
    fl_msg_set_str(r, FL_F_OFFICE, o->code);
    fl_msg_set_empty(r, FL_F_SERVICES);
    for (size_t i = 0; i < o->service_count; i++) {
        const fl_service_t *s = &o->services[i];
        fl_msg_t *item = fl_msg_add_item(r, FL_F_SERVICES);
        if (!item)
            return FL_E_NOMEM;
        char prefix[2] = { s->prefix, '\0' };
        fl_msg_set_str(item, FL_F_SERVICE, s->code);
        fl_msg_set_str(item, FL_F_PREFIX, prefix);
        fl_msg_set_str(item, FL_F_NAME, s->name.en);
        if (s->name.sw)
            fl_msg_set_str(item, FL_F_NAME_SW, s->name.sw);
        fl_msg_set_uint(item, FL_F_SLOT_MINUTES, (uint64_t) s->slot_minutes);
        fl_msg_set_uint(item, FL_F_CAPACITY, (uint64_t) s->capacity);
        fl_msg_set_uint(item, FL_F_SERVICE_MINUTES, (uint64_t) s->service_minutes);
        if (s->fee)
            fl_msg_set_uint(item, FL_F_FEE, (uint64_t) s->fee);
        if (s->bring.en)
            fl_msg_set_str(item, FL_F_BRING, s->bring.en);
        if (s->bring.sw)
            fl_msg_set_str(item, FL_F_BRING_SW, s->bring.sw);
    }
    fl_msg_set_empty(r, FL_F_COUNTERS);
    counters_t c = { .reply = r };
    store_key_t prefix = store_key_office(o->code);
    int rc = store_scan(op->txn, STORE_DB_COUNTERS, &prefix, NULL, s_counter_item, &c);
    return rc < 0 ? rc : 0;
}

/* ---- the day's tickets, for boards and statistics ---- */

typedef struct {
    fl_msg_t **t;
    size_t n, cap;
    int rc;
} day_t;

static int
s_day_ticket(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void) key; (void) klen;
    day_t *d = arg;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        fl_msg_t **t = realloc(d->t, cap * sizeof *t);
        if (!t)
            return d->rc = FL_E_NOMEM;
        d->t = t;
        d->cap = cap;
    }
    fl_msg_t *t = fl_msg_decode_as(FL_T_TICKET_REC, val, vlen, NULL);
    if (t)
        d->t[d->n++] = t;
    return 0;
}

static int
s_day_load(op_t *op, const char *office, uint32_t day, day_t *d)
{
    memset(d, 0, sizeof *d);
    store_key_t prefix = store_key_ticket_day(office, day);
    int rc = store_scan(op->txn, STORE_DB_TICKETS, &prefix, NULL, s_day_ticket, d);
    return d->rc ? d->rc : rc < 0 ? rc : 0;
}

static void
s_day_free(day_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        fl_msg_destroy(&d->t[i]);
    free(d->t);
}

static int
s_by_called_desc(const void *a, const void *b)
{
    uint64_t x = fl_msg_uint(*(fl_msg_t *const *) a, FL_F_CALLED);
    uint64_t y = fl_msg_uint(*(fl_msg_t *const *) b, FL_F_CALLED);
    return x < y ? 1 : x > y ? -1 : 0;
}

static void
s_call_item(fl_msg_t *item, const fl_msg_t *t)
{
    fl_msg_set_str(item, FL_F_TICKET, fl_msg_str(t, FL_F_TICKET));
    fl_msg_set_uint(item, FL_F_COUNTER, fl_msg_uint(t, FL_F_COUNTER));
    fl_msg_set_str(item, FL_F_SERVICE, fl_msg_str(t, FL_F_SERVICE));
    fl_msg_set_uint(item, FL_F_AT, fl_msg_uint(t, FL_F_CALLED));
    fl_msg_set_uint(item, FL_F_CALLS, fl_msg_uint(t, FL_F_CALLS));
}

int
h_snapshot(op_t *op)
{
    int oi;
    const fl_office_t *o = sched_office(op, fl_msg_str(op->req, FL_F_OFFICE), &oi);
    if (!o)
        return op->err.code;
    uint32_t day = fl_zone_day(sched_zone(op->batch->sched, oi), op->now);
    day_t d;
    int rc = s_day_load(op, o->code, day, &d);
    if (rc)
        return rc;
    fl_msg_t *r = op->reply = fl_msg_new(FL_T_BOARD);
    if (!r) {
        s_day_free(&d);
        return FL_E_NOMEM;
    }
    fl_msg_set_str(r, FL_F_OFFICE, o->code);
    fl_msg_set_uint(r, FL_F_SEQ, sched_current_seq(op, o->code));
    fl_msg_set_uint(r, FL_F_AT, (uint64_t) op->now);
    fl_msg_set_empty(r, FL_F_SERVING);
    fl_msg_set_empty(r, FL_F_RECENT);
    fl_msg_set_empty(r, FL_F_QUEUES);
    if (d.n)
        qsort(d.t, d.n, sizeof *d.t, s_by_called_desc);
    size_t recent = 0;
    for (size_t i = 0; i < d.n; i++) {
        const fl_msg_t *t = d.t[i];
        if (!fl_msg_has(t, FL_F_CALLED))
            continue;
        const char *state = fl_msg_str(t, FL_F_STATE);
        if (!strcmp(state, "called") || !strcmp(state, "serving"))
            s_call_item(fl_msg_add_item(r, FL_F_SERVING), t);
        if (recent < SCHED_RECENT_CALLS) {
            s_call_item(fl_msg_add_item(r, FL_F_RECENT), t);
            recent++;
        }
    }
    for (size_t s = 0; s < o->service_count; s++) {
        const char *code = o->services[s].code;
        uint32_t waiting = 0;
        for (size_t i = 0; i < d.n; i++)
            waiting += !strcmp(fl_msg_str(d.t[i], FL_F_STATE), "waiting")
                       && !strcmp(fl_msg_str(d.t[i], FL_F_SERVICE), code);
        unsigned open = sched_open_counters(op, o->code, code);
        fl_msg_t *item = fl_msg_add_item(r, FL_F_QUEUES);
        fl_msg_set_str(item, FL_F_SERVICE, code);
        fl_msg_set_uint(item, FL_F_WAITING, waiting);
        fl_msg_set_uint(item, FL_F_WAIT_S, fl_queue_estimate_s(waiting, sched_average(op->batch->sched, o->code, code),
                                                               o->services[s].service_minutes * 60.0, open, NULL));
        fl_msg_set_uint(item, FL_F_OPEN_COUNTERS, open);
    }
    s_day_free(&d);
    return 0;
}

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

int
h_stats(op_t *op)
{
    if (sched_require(op, SCHED_ROLE_ADMIN))
        return op->err.code;
    const fl_office_t *o = sched_office(op, fl_msg_str(op->req, FL_F_OFFICE), NULL);
    if (!o)
        return op->err.code;
    uint32_t day = (uint32_t) fl_msg_uint(op->req, FL_F_DAY);
    day_t d;
    int rc = s_day_load(op, o->code, day, &d);
    if (rc)
        return rc;
    fl_msg_t *r = op->reply = fl_msg_new(FL_T_DAY_STATS);
    uint32_t *waits = calloc(d.n ? d.n : 1, sizeof *waits);
    if (!r || !waits) {
        free(waits);
        s_day_free(&d);
        return FL_E_NOMEM;
    }
    fl_msg_set_str(r, FL_F_OFFICE, o->code);
    fl_msg_set_uint(r, FL_F_DAY, day);
    fl_msg_set_empty(r, FL_F_BY_SERVICE);
    fl_msg_set_empty(r, FL_F_BY_COUNTER);
    for (size_t s = 0; s < o->service_count; s++) {
        const char *code = o->services[s].code;
        uint64_t served = 0, noshows = 0, unserved = 0, wait_sum = 0, service_sum = 0;
        size_t nwaits = 0;
        for (size_t i = 0; i < d.n; i++) {
            const fl_msg_t *t = d.t[i];
            if (strcmp(fl_msg_str(t, FL_F_SERVICE), code) != 0)
                continue;
            const char *state = fl_msg_str(t, FL_F_STATE);
            if (fl_msg_has(t, FL_F_CALLED)) {
                /* An appointment holder who checks in early chose to wait until the
                   slot starts: the office owes them nothing before then, so their wait
                   counts from the later of arrival and slot start. */
                uint64_t from = fl_msg_uint(t, FL_F_ISSUED), called = fl_msg_uint(t, FL_F_CALLED);
                if (fl_msg_has(t, FL_F_START) && fl_msg_uint(t, FL_F_START) > from)
                    from = fl_msg_uint(t, FL_F_START);
                uint64_t w = called > from ? called - from : 0;
                waits[nwaits++] = (uint32_t) (w > 10000000 ? 10000000 : w);
                wait_sum += w;
            }
            if (!strcmp(state, "done")) {
                served++;
                service_sum += fl_msg_uint(t, FL_F_FINISHED) - fl_msg_uint(t, FL_F_STARTED);
            } else if (!strcmp(state, "no_show"))
                noshows++;
            else if (!strcmp(state, "unserved"))
                unserved++;
        }
        qsort(waits, nwaits, sizeof *waits, s_cmp_u32);
        fl_msg_t *item = fl_msg_add_item(r, FL_F_BY_SERVICE);
        fl_msg_set_str(item, FL_F_SERVICE, code);
        fl_msg_set_uint(item, FL_F_SERVED, served);
        fl_msg_set_uint(item, FL_F_NOSHOWS, noshows);
        fl_msg_set_uint(item, FL_F_UNSERVED, unserved);
        fl_msg_set_uint(item, FL_F_AVG_WAIT_S, nwaits ? wait_sum / nwaits : 0);
        fl_msg_set_uint(item, FL_F_P95_WAIT_S, nwaits ? waits[(nwaits * 95 + 99) / 100 - 1] : 0);
        fl_msg_set_uint(item, FL_F_AVG_SERVICE_S, served ? service_sum / served : 0);
    }
    for (size_t c = 0; c < o->counter_count; c++) {
        unsigned number = (unsigned) o->counters[c].number;
        uint64_t served = 0, busy = 0;
        for (size_t i = 0; i < d.n; i++) {
            const fl_msg_t *t = d.t[i];
            if (fl_msg_uint(t, FL_F_COUNTER) != number || strcmp(fl_msg_str(t, FL_F_STATE), "done") != 0)
                continue;
            served++;
            busy += fl_msg_uint(t, FL_F_FINISHED) - fl_msg_uint(t, FL_F_STARTED);
        }
        fl_msg_t *item = fl_msg_add_item(r, FL_F_BY_COUNTER);
        fl_msg_set_uint(item, FL_F_COUNTER, number);
        fl_msg_set_uint(item, FL_F_SERVED, served);
        fl_msg_set_uint(item, FL_F_BUSY_S, busy > 10000000 ? 10000000 : busy);
    }
    free(waits);
    s_day_free(&d);
    return 0;
}
