/*  queue.c — the call-next order and the wait estimate.  See queue.h.
 *
 *  The order is computed as a sort key per ticket: (sent here?, class, first
 *  time, second time, id), compared field by field.  Picking is one pass that
 *  keeps the smallest key, so calling "next" costs O(n) and needs no sorted
 *  structure that could drift from the store.  The times in the key depend
 *  on the class (queue.h lists which); unused ones are 0.
 */
#include "libfoleni/queue.h"
#include "libfoleni/error.h"

#include <assert.h>
#include <math.h>
#include <string.h>

typedef struct {
    int elsewhere;              /* 0: sent to the calling counter; 1: not */
    int cls;                    /* an fl_queue_class_t */
    int64_t first, second;      /* times, by class */
    uint32_t id;
} s_key_t;

static const char *const s_priority_words[FL_PRIO_COUNT] = {
    [FL_PRIO_NONE]      = "none",
    [FL_PRIO_ELDERLY]   = "elderly",
    [FL_PRIO_DISABLED]  = "disabled",
    [FL_PRIO_EXPECTANT] = "expectant",
};

const char *
fl_priority_name(fl_priority_t priority)
{
    assert((unsigned) priority < FL_PRIO_COUNT);
    return s_priority_words[priority];
}

int
fl_priority_parse(const char *word, fl_priority_t *priority)
{
    assert(priority);
    for (int p = 0; word && p < FL_PRIO_COUNT; p++)
        if (strcmp(word, s_priority_words[p]) == 0) {
            *priority = (fl_priority_t) p;
            return 0;
        }
    return FL_E_INVALID;
}

int
fl_queue_max_wait_s(const fl_queue_call_t *call, const char *service)
{
    assert(call && service);
    assert(call->rules || call->rule_count == 0);
    for (size_t i = 0; i < call->rule_count; i++) {
        assert(call->rules[i].service);
        if (strcmp(call->rules[i].service, service) == 0) {
            assert(call->rules[i].max_wait_s > 0);
            return call->rules[i].max_wait_s;
        }
    }
    return FL_QUEUE_MAX_WAIT_DEFAULT_S;
}

/* When w's wait began: its arrival, or for an appointment its slot's start
 * if that is later. */
static int64_t
s_wait_start(const fl_waiting_t *w)
{
    if (w->appointment && w->slot_start > w->arrived)
        return w->slot_start;
    return w->arrived;
}

/* True if from start to now is at least limit seconds.  Written so that no
 * pair of int64 times can overflow. */
static bool
s_waited_at_least(int64_t start, int64_t now, int limit)
{
    if (start > now)
        return false;
    return (uint64_t) now - (uint64_t) start >= (uint64_t) limit;
}

fl_queue_class_t
fl_queue_class(const fl_waiting_t *w, const fl_queue_call_t *call)
{
    assert(w && call && w->service);
    assert((unsigned) w->priority < FL_PRIO_COUNT);
    if (w->appointment && w->slot_start > call->now)
        return FL_QUEUE_EARLY;
    if (s_waited_at_least(s_wait_start(w), call->now, fl_queue_max_wait_s(call, w->service)))
        return FL_QUEUE_STARVED;
    if (w->appointment)
        return FL_QUEUE_APPOINTMENT;
    if (w->priority != FL_PRIO_NONE)
        return FL_QUEUE_PRIORITY;
    return FL_QUEUE_WALKIN;
}

bool
fl_queue_can_call(const fl_waiting_t *w, const fl_queue_call_t *call)
{
    assert(w && call && w->service);
    assert(call->services || call->service_count == 0);
    if (w->to_counter != 0)
        return call->counter != 0 && w->to_counter == call->counter;
    for (size_t i = 0; i < call->service_count; i++) {
        assert(call->services[i]);
        if (strcmp(call->services[i], w->service) == 0)
            return true;
    }
    return false;
}

static s_key_t
s_key(const fl_waiting_t *w, const fl_queue_call_t *call)
{
    s_key_t key = {
        .elsewhere = !(call->counter != 0 && w->to_counter == call->counter),
        .cls = fl_queue_class(w, call),
        .id = w->id,
    };
    switch (key.cls) {
    case FL_QUEUE_STARVED:
        key.first = s_wait_start(w);
        key.second = w->arrived;
        break;
    case FL_QUEUE_APPOINTMENT:
    case FL_QUEUE_EARLY:
        key.first = w->slot_start;
        key.second = w->arrived;
        break;
    default:                        /* PRIORITY, WALKIN: by arrival alone */
        key.first = w->arrived;
        break;
    }
    return key;
}

#define S_CMP(x, y) ((x) < (y) ? -1 : (x) > (y) ? 1 : 0)

static int
s_key_cmp(const s_key_t *a, const s_key_t *b)
{
    int c;
    if ((c = S_CMP(a->elsewhere, b->elsewhere)) != 0) return c;
    if ((c = S_CMP(a->cls, b->cls)) != 0) return c;
    if ((c = S_CMP(a->first, b->first)) != 0) return c;
    if ((c = S_CMP(a->second, b->second)) != 0) return c;
    return S_CMP(a->id, b->id);
}

int
fl_queue_compare(const fl_waiting_t *a, const fl_waiting_t *b, const fl_queue_call_t *call)
{
    assert(a && b && call);
    s_key_t ka = s_key(a, call), kb = s_key(b, call);
    return s_key_cmp(&ka, &kb);
}

int
fl_queue_pick(const fl_waiting_t *w, size_t n, const fl_queue_call_t *call, size_t *picked)
{
    assert(call && picked);
    assert(w || n == 0);
    assert(n <= FL_QUEUE_WAITING_MAX);
    bool found = false;
    size_t best = 0;
    s_key_t best_key = { 0 };
    for (size_t i = 0; i < n; i++) {
        if (!fl_queue_can_call(&w[i], call))
            continue;
        s_key_t key = s_key(&w[i], call);
        if (!found || s_key_cmp(&key, &best_key) < 0) {
            found = true;
            best = i;
            best_key = key;
        }
    }
    if (!found)
        return FL_E_EMPTY;
    *picked = best;
    return 0;
}

uint32_t
fl_queue_position(const fl_waiting_t *w, size_t n, size_t index, const fl_queue_call_t *call)
{
    assert(w && call);
    assert(n <= FL_QUEUE_WAITING_MAX);
    assert(index < n);
    const fl_waiting_t *me = &w[index];
    assert(me->service);
    /* Judge the order as the counter that would call it: the named one, or
     * none (then no ticket counts as sent here). */
    fl_queue_call_t view = *call;
    view.counter = me->to_counter;
    s_key_t my_key = s_key(me, &view);
    uint32_t ahead = 0;
    for (size_t j = 0; j < n; j++) {
        const fl_waiting_t *other = &w[j];
        if (j == index || other->to_counter != me->to_counter)
            continue;
        if (me->to_counter == 0 && strcmp(other->service, me->service) != 0)
            continue;
        s_key_t key = s_key(other, &view);
        if (s_key_cmp(&key, &my_key) < 0)
            ahead++;
    }
    return ahead;
}

void
fl_queue_transfer(fl_waiting_t *w, const char *to_service, unsigned to_counter)
{
    assert(w);
    if (to_service)
        w->service = to_service;
    w->to_counter = to_counter;
}

int
fl_service_avg_add(fl_service_avg_t *avg, double service_s)
{
    assert(avg);
    if (!isfinite(service_s) || service_s < 0 || service_s > FL_QUEUE_SAMPLE_MAX_S)
        return FL_E_RANGE;
    if (avg->samples < UINT32_MAX)
        avg->samples++;
    double weight = 1.0 / avg->samples;
    if (weight < FL_QUEUE_AVG_ALPHA)
        weight = FL_QUEUE_AVG_ALPHA;
    avg->avg_s += weight * (service_s - avg->avg_s);
    return 0;
}

uint32_t
fl_queue_estimate_s(uint32_t position, const fl_service_avg_t *avg,
                    double default_service_s, unsigned open_counters, bool *no_counter)
{
    assert(isfinite(default_service_s) && default_service_s >= 0);
    if (no_counter)
        *no_counter = open_counters == 0;
    double mean = default_service_s;
    if (avg && avg->samples > 0) {
        assert(isfinite(avg->avg_s) && avg->avg_s >= 0);
        mean = avg->avg_s;
    }
    double counters = open_counters ? open_counters : 1;
    double wait = (double) position * mean / counters;
    if (wait >= FL_QUEUE_ESTIMATE_MAX_S)
        return FL_QUEUE_ESTIMATE_MAX_S;
    return (uint32_t) (wait + 0.5);
}
