/*  board.c — one office's hall board: filled from a snapshot, moved forward by
 *  events, shown as JSON.  See board.h for the rules each event follows.
 */
#include "display/board.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void
disp_board_init(disp_board_t *self, const char *office)
{
    assert(self && office);
    memset(self, 0, sizeof *self);
    s_copy(self->office, sizeof self->office, office);
}

/* ---- lookups ---- */

static disp_call_t *
s_find_call(disp_call_t *list, size_t n, const char *ticket)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i].ticket, ticket))
            return &list[i];
    return NULL;
}

static disp_queue_t *
s_queue(disp_board_t *self, const char *service, bool create)
{
    for (size_t i = 0; i < self->nqueues; i++)
        if (!strcmp(self->queues[i].service, service))
            return &self->queues[i];
    if (!create || self->nqueues == DISP_QUEUES_MAX)
        return NULL;
    disp_queue_t *q = &self->queues[self->nqueues++];
    memset(q, 0, sizeof *q);
    s_copy(q->service, sizeof q->service, service);
    return q;
}

/* Remove entry i of a list of n calls. */
static void
s_remove_at(disp_call_t *list, size_t *n, size_t i)
{
    memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof *list);
    (*n)--;
}

/* Remove every entry whose ticket is `ticket` or, when counter != 0, whose
 * counter is `counter`.  Returns how many went. */
static size_t
s_remove(disp_call_t *list, size_t *n, const char *ticket, unsigned counter)
{
    size_t removed = 0;
    for (size_t i = 0; i < *n;) {
        if (!strcmp(list[i].ticket, ticket) || (counter && list[i].counter == counter)) {
            s_remove_at(list, n, i);
            removed++;
        } else
            i++;
    }
    return removed;
}

/* Put call first in a list of n (at most cap) calls. */
static void
s_push_front(disp_call_t *list, size_t *n, size_t cap, const disp_call_t *call)
{
    size_t keep = *n < cap ? *n : cap - 1;
    memmove(&list[1], &list[0], keep * sizeof *list);
    list[0] = *call;
    *n = keep + 1;
}

/* The waiting count of a queue changed from `before`: scale its estimate. */
static void
s_rescale(disp_queue_t *q, uint32_t before)
{
    if (q->waiting == 0)
        q->wait_s = 0;
    else if (before > 0)
        q->wait_s = (uint32_t) ((uint64_t) q->wait_s * q->waiting / before);
}

/* ---- snapshot ---- */

static void
s_call_from_item(disp_call_t *c, const fl_msg_t *item)
{
    memset(c, 0, sizeof *c);
    s_copy(c->ticket, sizeof c->ticket, fl_msg_str(item, FL_F_TICKET));
    s_copy(c->service, sizeof c->service, fl_msg_str(item, FL_F_SERVICE));
    c->counter = (unsigned) fl_msg_uint(item, FL_F_COUNTER);
    c->at = fl_msg_uint(item, FL_F_AT);
    c->calls = fl_msg_has(item, FL_F_CALLS) ? (unsigned) fl_msg_uint(item, FL_F_CALLS) : 1;
}

int
disp_board_from_snapshot(disp_board_t *self, const fl_msg_t *board)
{
    assert(self && board);
    if (fl_msg_type(board) != FL_T_BOARD || strcmp(fl_msg_str(board, FL_F_OFFICE), self->office) != 0)
        return FL_E_INVALID;
    char newest[DISP_TICKET_MAX + 1];
    s_copy(newest, sizeof newest, self->newest);
    self->seq = fl_msg_uint(board, FL_F_SEQ);
    self->at = fl_msg_uint(board, FL_F_AT);
    size_t n = fl_msg_count(board, FL_F_SERVING);
    self->nserving = n < DISP_SERVING_MAX ? n : DISP_SERVING_MAX;
    for (size_t i = 0; i < self->nserving; i++)
        s_call_from_item(&self->serving[i], fl_msg_item(board, FL_F_SERVING, i));
    n = fl_msg_count(board, FL_F_RECENT);
    self->nrecent = n < DISP_RECENT_MAX ? n : DISP_RECENT_MAX;
    for (size_t i = 0; i < self->nrecent; i++)
        s_call_from_item(&self->recent[i], fl_msg_item(board, FL_F_RECENT, i));
    n = fl_msg_count(board, FL_F_QUEUES);
    self->nqueues = n < DISP_QUEUES_MAX ? n : DISP_QUEUES_MAX;
    for (size_t i = 0; i < self->nqueues; i++) {
        const fl_msg_t *item = fl_msg_item(board, FL_F_QUEUES, i);
        disp_queue_t *q = &self->queues[i];
        memset(q, 0, sizeof *q);
        s_copy(q->service, sizeof q->service, fl_msg_str(item, FL_F_SERVICE));
        q->waiting = (uint32_t) fl_msg_uint(item, FL_F_WAITING);
        q->wait_s = (uint32_t) fl_msg_uint(item, FL_F_WAIT_S);
        q->open_counters = (unsigned) fl_msg_uint(item, FL_F_OPEN_COUNTERS);
    }
    /* the newest call: kept while it is served, else the latest call being served */
    if (newest[0] && s_find_call(self->serving, self->nserving, newest))
        s_copy(self->newest, sizeof self->newest, newest);
    else if (self->nrecent && s_find_call(self->serving, self->nserving, self->recent[0].ticket))
        s_copy(self->newest, sizeof self->newest, self->recent[0].ticket);
    else
        self->newest[0] = '\0';
    return 0;
}

/* ---- events ---- */

static void
s_call_from_event(disp_call_t *c, const fl_msg_t *e)
{
    memset(c, 0, sizeof *c);
    s_copy(c->ticket, sizeof c->ticket, fl_msg_str(e, FL_F_TICKET));
    s_copy(c->service, sizeof c->service, fl_msg_str(e, FL_F_SERVICE));
    c->counter = (unsigned) fl_msg_uint(e, FL_F_COUNTER);
    c->at = fl_msg_uint(e, FL_F_AT);
    c->calls = 1;
}

static void
s_waiting_add(disp_board_t *self, const char *service, int delta, disp_effect_t *fx)
{
    if (!service)
        return;
    disp_queue_t *q = s_queue(self, service, true);
    if (!q)
        return;
    uint32_t before = q->waiting;
    if (delta > 0)
        q->waiting += (uint32_t) delta;
    else if (q->waiting >= (uint32_t) -delta)
        q->waiting -= (uint32_t) -delta;
    else
        q->waiting = 0;
    if (q->waiting != before) {
        s_rescale(q, before);
        fx->changed = true;
    }
}

static void
s_on_call(disp_board_t *self, const fl_msg_t *e, disp_effect_t *fx)
{
    disp_call_t c;
    s_call_from_event(&c, e);
    s_remove(self->serving, &self->nserving, c.ticket, c.counter);
    s_push_front(self->serving, &self->nserving, DISP_SERVING_MAX, &c);
    s_remove(self->recent, &self->nrecent, c.ticket, 0);
    s_push_front(self->recent, &self->nrecent, DISP_RECENT_KEEP, &c);
    s_waiting_add(self, c.service, -1, fx);
    s_copy(self->newest, sizeof self->newest, c.ticket);
    fx->changed = fx->announce = true;
    fx->call = c;
}

static void
s_on_recall(disp_board_t *self, const fl_msg_t *e, disp_effect_t *fx)
{
    disp_call_t c;
    s_call_from_event(&c, e);
    disp_call_t *s = s_find_call(self->serving, self->nserving, c.ticket);
    if (s) {
        if (s->calls < DISP_CALLS_MAX)
            s->calls++;
        c = *s;
    } else {                        /* missed its call: it is served now all the same */
        c.calls = 2;
        s_remove(self->serving, &self->nserving, c.ticket, c.counter);
        s_push_front(self->serving, &self->nserving, DISP_SERVING_MAX, &c);
        fx->stale = true;
    }
    disp_call_t *r = s_find_call(self->recent, self->nrecent, c.ticket);
    if (r)
        r->calls = c.calls;
    s_copy(self->newest, sizeof self->newest, c.ticket);
    fx->changed = fx->announce = fx->recall = true;
    fx->call = c;
}

int
disp_board_apply(disp_board_t *self, const fl_msg_t *event, disp_effect_t *fx)
{
    assert(self && event && fx);
    memset(fx, 0, sizeof *fx);
    if (fl_msg_type(event) != FL_T_EVENT || strcmp(fl_msg_str(event, FL_F_OFFICE), self->office) != 0)
        return FL_E_INVALID;
    self->seq = fl_msg_uint(event, FL_F_SEQ);
    self->at = fl_msg_uint(event, FL_F_AT);
    const char *kind = fl_msg_str(event, FL_F_KIND);
    const char *ticket = fl_msg_str(event, FL_F_TICKET);
    const char *service = fl_msg_str(event, FL_F_SERVICE);
    bool ticket_event = !strcmp(kind, "call") || !strcmp(kind, "recall") || !strcmp(kind, "start")
                        || !strcmp(kind, "done") || !strcmp(kind, "noshow") || !strcmp(kind, "transfer");
    if (ticket_event && (!ticket || !service)) {
        fx->stale = true;           /* not enough to go on: let a snapshot say */
        return 0;
    }
    if (!strcmp(kind, "call")) {
        s_on_call(self, event, fx);
        fx->stale = true;
    } else if (!strcmp(kind, "recall"))
        s_on_recall(self, event, fx);
    else if (!strcmp(kind, "start"))
        ;                           /* still served at the same counter */
    else if (!strcmp(kind, "done") || !strcmp(kind, "noshow")) {
        fx->changed = s_remove(self->serving, &self->nserving, ticket, 0) > 0;
        fx->stale = true;           /* the service-time average moved */
    } else if (!strcmp(kind, "transfer")) {
        fx->changed = s_remove(self->serving, &self->nserving, ticket, 0) > 0;
        fx->changed |= s_remove(self->recent, &self->nrecent, ticket, 0) > 0;
        s_waiting_add(self, service, +1, fx);
        fx->stale = true;
    } else if (!strcmp(kind, "ticket")) {
        s_waiting_add(self, service, +1, fx);
        fx->stale = true;
    } else if (!strcmp(kind, "booking"))
        ;                           /* bookings are not on the board */
    else
        fx->stale = true;           /* counter opened or closed, or a kind this build does not know */
    return 0;
}

static bool
s_call_eq(const disp_call_t *a, const disp_call_t *b)
{
    return !strcmp(a->ticket, b->ticket) && !strcmp(a->service, b->service) && a->counter == b->counter
           && a->at == b->at && a->calls == b->calls;
}

bool
disp_board_same(const disp_board_t *a, const disp_board_t *b)
{
    if (strcmp(a->office, b->office) || strcmp(a->newest, b->newest) || a->nserving != b->nserving
        || a->nrecent != b->nrecent || a->nqueues != b->nqueues)
        return false;
    for (size_t i = 0; i < a->nserving; i++)
        if (!s_call_eq(&a->serving[i], &b->serving[i]))
            return false;
    for (size_t i = 0; i < a->nrecent; i++)
        if (!s_call_eq(&a->recent[i], &b->recent[i]))
            return false;
    for (size_t i = 0; i < a->nqueues; i++)
        if (strcmp(a->queues[i].service, b->queues[i].service) || a->queues[i].waiting != b->queues[i].waiting
            || a->queues[i].wait_s != b->queues[i].wait_s || a->queues[i].open_counters != b->queues[i].open_counters)
            return false;
    return true;
}

size_t
disp_board_missed_calls(const disp_board_t *before, const disp_board_t *after, uint64_t late_s, disp_call_t *out,
                        bool *recall, size_t cap)
{
    size_t n = 0;
    for (size_t i = after->nserving; i-- > 0 && n < cap;) {     /* oldest first */
        const disp_call_t *c = &after->serving[i];
        if (c->at + late_s < after->at)
            continue;
        const disp_call_t *old = NULL;
        for (size_t k = 0; k < before->nserving; k++)
            if (!strcmp(before->serving[k].ticket, c->ticket) && before->serving[k].counter == c->counter)
                old = &before->serving[k];
        if (old && old->calls >= c->calls)
            continue;
        out[n] = *c;
        recall[n] = old != NULL || c->calls > 1;
        n++;
    }
    return n;
}

/* ---- names ---- */

int
disp_names_services(disp_names_t *self, const fl_msg_t *list)
{
    assert(self && list);
    if (fl_msg_type(list) != FL_T_SERVICE_LIST)
        return FL_E_INVALID;
    size_t n = fl_msg_count(list, FL_F_SERVICES);
    self->nservices = n < DISP_QUEUES_MAX ? n : DISP_QUEUES_MAX;
    for (size_t i = 0; i < self->nservices; i++) {
        const fl_msg_t *item = fl_msg_item(list, FL_F_SERVICES, i);
        disp_service_name_t *s = &self->services[i];
        s_copy(s->service, sizeof s->service, fl_msg_str(item, FL_F_SERVICE));
        s_copy(s->prefix, sizeof s->prefix, fl_msg_str(item, FL_F_PREFIX));
        s_copy(s->name, sizeof s->name, fl_msg_str(item, FL_F_NAME));
        s_copy(s->name_sw, sizeof s->name_sw, fl_msg_str(item, FL_F_NAME_SW));
    }
    self->ncounters = 0;
    n = fl_msg_count(list, FL_F_COUNTERS);
    for (size_t i = 0; i < n && self->ncounters < DISP_COUNTERS_MAX; i++) {
        const fl_msg_t *item = fl_msg_item(list, FL_F_COUNTERS, i);
        if (!fl_msg_has(item, FL_F_NAME))
            continue;
        disp_counter_name_t *c = &self->counters[self->ncounters++];
        c->counter = (unsigned) fl_msg_uint(item, FL_F_COUNTER);
        s_copy(c->name, sizeof c->name, fl_msg_str(item, FL_F_NAME));
    }
    return 0;
}

int
disp_names_office(disp_names_t *self, const fl_msg_t *list, const char *office)
{
    assert(self && list && office);
    if (fl_msg_type(list) != FL_T_OFFICE_LIST)
        return FL_E_INVALID;
    for (size_t i = 0; i < fl_msg_count(list, FL_F_OFFICES); i++) {
        const fl_msg_t *item = fl_msg_item(list, FL_F_OFFICES, i);
        if (strcmp(fl_msg_str(item, FL_F_OFFICE), office) != 0)
            continue;
        s_copy(self->name, sizeof self->name, fl_msg_str(item, FL_F_NAME));
        s_copy(self->name_sw, sizeof self->name_sw, fl_msg_str(item, FL_F_NAME_SW));
        s_copy(self->tz, sizeof self->tz, fl_msg_str(item, FL_F_TZ));
        return 0;
    }
    return FL_E_NOT_FOUND;
}

/* ---- JSON ---- */

static json_t *
s_call_json(const disp_call_t *c)
{
    return json_pack("{s:s, s:I, s:s, s:I, s:I}", "ticket", c->ticket, "counter", (json_int_t) c->counter,
                     "service", c->service, "at", (json_int_t) c->at, "calls", (json_int_t) c->calls);
}

static int
s_add_calls(json_t *obj, const char *key, const disp_call_t *list, size_t n)
{
    json_t *arr = json_array();
    if (!arr || json_object_set_new(obj, key, arr))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, s_call_json(&list[i])))
            return -1;
    return 0;
}

json_t *
disp_board_json(const disp_board_t *self, const disp_names_t *names, const char *status, int64_t now)
{
    assert(self && status);
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s}", "office", self->office, "seq", (json_int_t) self->seq,
                          "at", (json_int_t) self->at, "now", (json_int_t) now, "status", status, "newest",
                          self->newest);
    if (!o)
        return NULL;
    if (names) {
        json_object_set_new(o, "name", json_string(names->name));
        json_object_set_new(o, "name_sw", json_string(names->name_sw[0] ? names->name_sw : names->name));
        json_object_set_new(o, "tz", json_string(names->tz[0] ? names->tz : "Africa/Nairobi"));
    }
    json_t *queues = json_array(), *services = json_array(), *counters = json_array();
    if (s_add_calls(o, "serving", self->serving, self->nserving) || s_add_calls(o, "recent", self->recent, self->nrecent)
        || !queues || json_object_set_new(o, "queues", queues) || !services
        || json_object_set_new(o, "services", services) || !counters || json_object_set_new(o, "counters", counters))
        goto nomem;
    for (size_t i = 0; i < self->nqueues; i++) {
        const disp_queue_t *q = &self->queues[i];
        if (json_array_append_new(queues, json_pack("{s:s, s:I, s:I, s:I}", "service", q->service, "waiting",
                                                    (json_int_t) q->waiting, "wait_s", (json_int_t) q->wait_s,
                                                    "open_counters", (json_int_t) q->open_counters)))
            goto nomem;
    }
    for (size_t i = 0; names && i < names->nservices; i++) {
        const disp_service_name_t *s = &names->services[i];
        if (json_array_append_new(services, json_pack("{s:s, s:s, s:s, s:s}", "service", s->service, "prefix",
                                                      s->prefix, "name", s->name, "name_sw",
                                                      s->name_sw[0] ? s->name_sw : s->name)))
            goto nomem;
    }
    for (size_t i = 0; names && i < names->ncounters; i++)
        if (json_array_append_new(counters, json_pack("{s:I, s:s}", "counter", (json_int_t) names->counters[i].counter,
                                                      "name", names->counters[i].name)))
            goto nomem;
    return o;
nomem:
    json_decref(o);
    return NULL;
}

json_t *
disp_call_json(const char *office, const disp_call_t *call, bool recall, uint64_t seq)
{
    char en[DISP_SAY_MAX], sw[DISP_SAY_MAX];
    disp_say(call->ticket, call->counter, "en", en, sizeof en);
    disp_say(call->ticket, call->counter, "sw", sw, sizeof sw);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:{s:s, s:s}}", "kind", recall ? "recall" : "call",
                     "office", office, "ticket", call->ticket, "counter", (json_int_t) call->counter, "service",
                     call->service, "calls", (json_int_t) call->calls, "at", (json_int_t) call->at, "seq",
                     (json_int_t) seq, "say", "en", en, "sw", sw);
}

/* ---- JSON text ---- */

/* Dump a tree compactly and drop it; NULL when either step failed. */
static char *
s_dump(json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

char *
disp_board_text(const disp_board_t *self, const disp_names_t *names, const char *status, int64_t now)
{
    return s_dump(disp_board_json(self, names, status, now));
}

char *
disp_call_text(const char *office, const disp_call_t *call, bool recall, uint64_t seq)
{
    return s_dump(disp_call_json(office, call, recall, seq));
}

/* ---- speech ---- */

void
disp_say(const char *ticket, unsigned counter, const char *lang, char *out, size_t cap)
{
    assert(ticket && out && cap >= 1);
    bool sw = lang && !strcmp(lang, "sw");
    char spelled[2 * DISP_TICKET_MAX + 1];
    size_t n = 0;
    for (const char *p = ticket; *p && n + 2 < sizeof spelled; p++) {
        if (!isalnum((unsigned char) *p))
            continue;
        if (n)
            spelled[n++] = ' ';
        spelled[n++] = (char) toupper((unsigned char) *p);
    }
    spelled[n] = '\0';
    snprintf(out, cap, sw ? "Tiketi %s, dirisha %u" : "Ticket %s, counter %u", spelled, counter);
}
