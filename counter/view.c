/*  view.c — keeping the clerk's picture of the office right.  See view.h.
 *
 *  The rules in one place:
 *    - a board replaces queues, last calls and the ticket at this counter,
 *      unless it is older (lower seq) than what the view already holds;
 *    - an event newer than the view moves seq on and changes this counter's
 *      ticket or state at once; an older one is already in the view, except
 *      that a `start` of the ticket in hand still says "serving" (a board does
 *      not carry whether a ticket is called or being served);
 *    - the scheduler's clock only moves forward.
 */
#include "counter/view.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy text into a fixed buffer, cut to fit; NULL becomes "". */
#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

ctr_view_t *
ctr_view_new(const char *office, unsigned counter)
{
    assert(office);
    ctr_view_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    COPY(self->office, office);
    self->counter = counter;
    return self;
}

void
ctr_view_destroy(ctr_view_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fl_zone_destroy(&(*self_p)->zone);
    free(*self_p);
    *self_p = NULL;
}

/* ---- the scheduler's clock ---- */

int64_t
ctr_view_server_now(const ctr_view_t *self, int64_t mono_ms)
{
    if (!self->server_mono)
        return 0;
    return self->server_at + (mono_ms - self->server_mono) / 1000;
}

static void
s_heard_time(ctr_view_t *self, int64_t at, int64_t mono_ms)
{
    if (at <= 0)
        return;
    if (!self->server_mono || at > ctr_view_server_now(self, mono_ms)) {
        self->server_at = at;
        self->server_mono = mono_ms ? mono_ms : 1;
    }
}

void
ctr_view_clock(const ctr_view_t *self, int64_t utc, char *out, size_t cap)
{
    fl_local_t local;
    if (self->zone) {
        fl_zone_local(self->zone, utc, &local);
        snprintf(out, cap, "%02d:%02d", local.hour, local.minute);
    } else {
        int64_t m = ((utc % 86400) + 86400) % 86400 / 60;
        snprintf(out, cap, "%02d:%02d", (int) (m / 60), (int) (m % 60));
    }
}

void
ctr_view_duration(int64_t seconds, char *out, size_t cap)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds >= 3600)
        snprintf(out, cap, "%d:%02d:%02d", (int) (seconds / 3600), (int) (seconds / 60 % 60), (int) (seconds % 60));
    else
        snprintf(out, cap, "%d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

/* ---- lookups ---- */

static ctr_service_t *
s_service(ctr_view_t *self, const char *code, bool add)
{
    for (size_t i = 0; i < self->nservices; i++)
        if (!strcmp(self->services[i].code, code))
            return &self->services[i];
    if (!add || self->nservices == CTR_VIEW_SERVICES)
        return NULL;
    ctr_service_t *s = &self->services[self->nservices++];
    memset(s, 0, sizeof *s);
    COPY(s->code, code);
    return s;
}

const ctr_service_t *
ctr_view_service(const ctr_view_t *self, const char *code)
{
    return code ? s_service((ctr_view_t *) self, code, false) : NULL;
}

static bool
s_serves(const ctr_view_t *self, const char *code)
{
    for (size_t i = 0; i < self->nserves; i++)
        if (!strcmp(self->serves[i], code))
            return true;
    return false;
}

static void
s_mark_mine(ctr_view_t *self)
{
    for (size_t i = 0; i < self->nservices; i++)
        self->services[i].mine = s_serves(self, self->services[i].code);
}

static void
s_set_serves(ctr_view_t *self, const fl_msg_t *m)
{
    self->nserves = 0;
    for (size_t i = 0; i < fl_msg_count(m, FL_F_SERVICE_CODES) && self->nserves < CTR_SERVICES_MAX; i++)
        COPY(self->serves[self->nserves++], fl_msg_str_at(m, FL_F_SERVICE_CODES, i));
    s_mark_mine(self);
}

void
ctr_view_serves_text(const ctr_view_t *self, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < self->nserves && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", self->serves[i]);
        used += n > 0 ? (size_t) n : 0;
    }
}

/* ---- replies from the scheduler ---- */

int
ctr_view_apply_offices(ctr_view_t *self, const fl_msg_t *list)
{
    if (fl_msg_type(list) != FL_T_OFFICE_LIST)
        return FL_E_TYPE;
    for (size_t i = 0; i < fl_msg_count(list, FL_F_OFFICES); i++) {
        const fl_msg_t *o = fl_msg_item(list, FL_F_OFFICES, i);
        if (strcmp(fl_msg_str(o, FL_F_OFFICE), self->office) != 0)
            continue;
        COPY(self->office_name, fl_msg_str(o, FL_F_NAME));
        const char *tz = fl_msg_str(o, FL_F_TZ);
        if (strcmp(tz, self->tz) != 0 || !self->zone) {
            COPY(self->tz, tz);
            fl_zone_destroy(&self->zone);
            self->zone = fl_zone_new(self->tz, NULL);      /* NULL: times shown in UTC */
        }
        return 0;
    }
    return FL_E_NOT_FOUND;
}

int
ctr_view_apply_services(ctr_view_t *self, const fl_msg_t *list)
{
    if (fl_msg_type(list) != FL_T_SERVICE_LIST)
        return FL_E_TYPE;
    /* services in the scheduler's order, keeping queues already known */
    ctr_service_t old[CTR_VIEW_SERVICES];
    size_t nold = self->nservices;
    memcpy(old, self->services, nold * sizeof old[0]);
    self->nservices = 0;
    for (size_t i = 0; i < fl_msg_count(list, FL_F_SERVICES) && self->nservices < CTR_VIEW_SERVICES; i++) {
        const fl_msg_t *item = fl_msg_item(list, FL_F_SERVICES, i);
        ctr_service_t *s = &self->services[self->nservices++];
        memset(s, 0, sizeof *s);
        COPY(s->code, fl_msg_str(item, FL_F_SERVICE));
        COPY(s->name, fl_msg_str(item, FL_F_NAME));
        for (size_t k = 0; k < nold; k++)
            if (!strcmp(old[k].code, s->code)) {
                s->has_queue = old[k].has_queue;
                s->waiting = old[k].waiting;
                s->wait_s = old[k].wait_s;
                s->open_counters = old[k].open_counters;
            }
    }
    self->ncounters = 0;
    self->counter_known = false;
    for (size_t i = 0; i < fl_msg_count(list, FL_F_COUNTERS); i++) {
        const fl_msg_t *item = fl_msg_item(list, FL_F_COUNTERS, i);
        unsigned number = (unsigned) fl_msg_uint(item, FL_F_COUNTER);
        if (number == self->counter) {
            self->counter_known = true;
            COPY(self->counter_name, fl_msg_str(item, FL_F_NAME));
            COPY(self->state, fl_msg_str(item, FL_F_STATE));
            s_set_serves(self, item);
            continue;
        }
        if (self->ncounters == CTR_VIEW_COUNTERS)
            continue;
        ctr_counter_t *c = &self->counters[self->ncounters++];
        memset(c, 0, sizeof *c);
        c->number = number;
        COPY(c->name, fl_msg_str(item, FL_F_NAME));
        COPY(c->state, fl_msg_str(item, FL_F_STATE));
        size_t used = 0;
        for (size_t k = 0; k < fl_msg_count(item, FL_F_SERVICE_CODES) && used < sizeof c->serves; k++) {
            int n = snprintf(c->serves + used, sizeof c->serves - used, "%s%s", k ? ", " : "",
                             fl_msg_str_at(item, FL_F_SERVICE_CODES, k));
            used += n > 0 ? (size_t) n : 0;
        }
    }
    s_mark_mine(self);
    return self->counter_known ? 0 : FL_E_NOT_FOUND;
}

static void
s_call_from(ctr_call_t *call, const fl_msg_t *m)
{
    memset(call, 0, sizeof *call);
    COPY(call->ticket, fl_msg_str(m, FL_F_TICKET));
    COPY(call->service, fl_msg_str(m, FL_F_SERVICE));
    call->counter = (unsigned) fl_msg_uint(m, FL_F_COUNTER);
    call->at = (int64_t) fl_msg_uint(m, FL_F_AT);
    call->calls = (unsigned) fl_msg_uint(m, FL_F_CALLS);
}

void
ctr_view_apply_board(ctr_view_t *self, const fl_msg_t *board, int64_t mono_ms)
{
    if (fl_msg_type(board) != FL_T_BOARD || strcmp(fl_msg_str(board, FL_F_OFFICE), self->office) != 0)
        return;
    uint64_t seq = fl_msg_uint(board, FL_F_SEQ);
    if (self->have_board && seq < self->seq)
        return;                                 /* older than what we hold */
    self->have_board = true;
    self->seq = seq;
    s_heard_time(self, (int64_t) fl_msg_uint(board, FL_F_AT), mono_ms);
    for (size_t i = 0; i < self->nservices; i++)
        self->services[i].has_queue = false;
    for (size_t i = 0; i < fl_msg_count(board, FL_F_QUEUES); i++) {
        const fl_msg_t *q = fl_msg_item(board, FL_F_QUEUES, i);
        ctr_service_t *s = s_service(self, fl_msg_str(q, FL_F_SERVICE), true);
        if (!s)
            continue;
        s->has_queue = true;
        s->waiting = (unsigned) fl_msg_uint(q, FL_F_WAITING);
        s->wait_s = (unsigned) fl_msg_uint(q, FL_F_WAIT_S);
        s->open_counters = (unsigned) fl_msg_uint(q, FL_F_OPEN_COUNTERS);
    }
    s_mark_mine(self);
    self->nrecent = 0;
    for (size_t i = 0; i < fl_msg_count(board, FL_F_RECENT) && self->nrecent < CTR_VIEW_RECENT; i++)
        s_call_from(&self->recent[self->nrecent++], fl_msg_item(board, FL_F_RECENT, i));
    ctr_current_t *cur = &self->current;
    for (size_t i = 0; i < fl_msg_count(board, FL_F_SERVING); i++) {
        const fl_msg_t *item = fl_msg_item(board, FL_F_SERVING, i);
        if (fl_msg_uint(item, FL_F_COUNTER) != self->counter)
            continue;
        const char *ticket = fl_msg_str(item, FL_F_TICKET);
        if (cur->state == CTR_TICKET_NONE || strcmp(cur->ticket, ticket) != 0) {
            memset(cur, 0, sizeof *cur);
            cur->state = CTR_TICKET_IN_HAND;    /* called or serving: the board does not say */
            COPY(cur->ticket, ticket);
        }
        COPY(cur->service, fl_msg_str(item, FL_F_SERVICE));
        cur->called = (int64_t) fl_msg_uint(item, FL_F_AT);
        cur->calls = (unsigned) fl_msg_uint(item, FL_F_CALLS);
        return;
    }
    memset(cur, 0, sizeof *cur);                /* nothing at this counter */
}

/* Put a call at the front of the last calls. */
static void
s_recent_push(ctr_view_t *self, const ctr_call_t *call)
{
    size_t keep = self->nrecent < CTR_VIEW_RECENT ? self->nrecent : CTR_VIEW_RECENT - 1;
    memmove(&self->recent[1], &self->recent[0], keep * sizeof self->recent[0]);
    self->recent[0] = *call;
    self->nrecent = keep + 1;
}

static bool
s_is_current(const ctr_view_t *self, const char *ticket)
{
    return self->current.state != CTR_TICKET_NONE && ticket && !strcmp(self->current.ticket, ticket);
}

bool
ctr_view_apply_event(ctr_view_t *self, const fl_msg_t *event, int64_t mono_ms)
{
    if (fl_msg_type(event) != FL_T_EVENT || strcmp(fl_msg_str(event, FL_F_OFFICE), self->office) != 0)
        return false;
    const char *kind = fl_msg_str(event, FL_F_KIND);
    const char *ticket = fl_msg_str(event, FL_F_TICKET);
    bool mine = fl_msg_uint(event, FL_F_COUNTER) == self->counter;
    int64_t at = (int64_t) fl_msg_uint(event, FL_F_AT);
    uint64_t seq = fl_msg_uint(event, FL_F_SEQ);
    s_heard_time(self, at, mono_ms);
    if (self->have_board && seq <= self->seq) {
        /* already in the view; only "serving" is news a board cannot carry */
        if (mine && !strcmp(kind, "start") && s_is_current(self, ticket)) {
            self->current.state = CTR_TICKET_SERVING;
            self->current.started = at;
        }
        return false;
    }
    self->seq = seq;
    ctr_current_t *cur = &self->current;
    if (!strcmp(kind, "call") || !strcmp(kind, "recall")) {
        ctr_call_t call = { .counter = (unsigned) fl_msg_uint(event, FL_F_COUNTER), .at = at, .calls = 1 };
        COPY(call.ticket, ticket);
        COPY(call.service, fl_msg_str(event, FL_F_SERVICE));
        if (mine && !strcmp(kind, "call")) {
            memset(cur, 0, sizeof *cur);
            cur->state = CTR_TICKET_CALLED;
            COPY(cur->ticket, ticket);
            COPY(cur->service, call.service);
            cur->called = at;
            cur->calls = 1;
        } else if (mine && s_is_current(self, ticket)) {
            cur->called = at;
            cur->calls = cur->calls < 255 ? cur->calls + 1 : 255;
            call.calls = cur->calls;
        }
        s_recent_push(self, &call);
    } else if (mine && !strcmp(kind, "start") && s_is_current(self, ticket)) {
        cur->state = CTR_TICKET_SERVING;
        cur->started = at;
    } else if (mine && (!strcmp(kind, "done") || !strcmp(kind, "noshow") || !strcmp(kind, "transfer"))
               && s_is_current(self, ticket)) {
        memset(cur, 0, sizeof *cur);
    } else if (mine && !strcmp(kind, "counter") && fl_msg_has(event, FL_F_STATE)) {
        COPY(self->state, fl_msg_str(event, FL_F_STATE));
    }
    return true;
}

void
ctr_view_apply_reply(ctr_view_t *self, ctr_action_t action, const fl_msg_t *reply, int64_t mono_ms)
{
    ctr_current_t *cur = &self->current;
    if (fl_msg_type(reply) == FL_T_COUNTER_STATE) {
        COPY(self->state, fl_msg_str(reply, FL_F_STATE));
        s_set_serves(self, reply);
        if (!fl_msg_has(reply, FL_F_TICKET))
            memset(cur, 0, sizeof *cur);
        return;
    }
    if (fl_msg_type(reply) != FL_T_TICKET)
        return;
    const char *ticket = fl_msg_str(reply, FL_F_TICKET);
    int64_t called = (int64_t) fl_msg_uint(reply, FL_F_CALLED);
    switch (action) {
    case CTR_ACT_NEXT:
        s_heard_time(self, called, mono_ms);    /* called just now, by the scheduler's clock */
        memset(cur, 0, sizeof *cur);
        cur->state = CTR_TICKET_CALLED;
        COPY(cur->ticket, ticket);
        COPY(cur->service, fl_msg_str(reply, FL_F_SERVICE));
        cur->called = called;
        cur->calls = 1;
        break;
    case CTR_ACT_RECALL:
        s_heard_time(self, called, mono_ms);
        if (s_is_current(self, ticket)) {
            cur->called = called;
            cur->calls = cur->calls < 255 ? cur->calls + 1 : 255;
        }
        break;
    case CTR_ACT_START:
        if (s_is_current(self, ticket)) {
            cur->state = CTR_TICKET_SERVING;
            cur->started = ctr_view_server_now(self, mono_ms);
        }
        break;
    case CTR_ACT_DONE:
    case CTR_ACT_NOSHOW:
    case CTR_ACT_TRANSFER:
        if (s_is_current(self, ticket))
            memset(cur, 0, sizeof *cur);
        break;
    default:
        break;
    }
}
