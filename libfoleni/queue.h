/*  queue.h — the call-next order and the wait estimate, as pure functions.
 *
 *  The scheduler keeps the waiting tickets of an office; when a clerk presses
 *  "next" it hands them to fl_queue_pick, which says which one that counter
 *  calls.  Nothing here reads a clock, a file or the store: the caller passes
 *  the time `now` (UTC seconds), so the same input always gives the same
 *  answer and every rule below is a unit test (tests/test_queue.c).
 *
 *  The call-next order
 *  -------------------
 *  A counter may call a waiting ticket when the ticket was sent to that
 *  counter by name (to_counter == the counter, whatever its service), or when
 *  the ticket is sent to no counter (to_counter == 0) and its service is one
 *  the counter serves.  A ticket sent to another counter is never a candidate.
 *
 *  Among the candidates the counter calls the first by this total order:
 *
 *    0. Tickets sent to this counter by name go before all others at it.  A
 *       clerk who sends a citizen to a named counter (a supervisor, the cash
 *       desk) means "next there"; the citizen has already queued once.  Among
 *       themselves they follow steps 1-5.
 *    1. STARVED: a ticket that has waited at least its service's max wait
 *       (fl_service_rule_t.max_wait_s).  Longest wait first.  A ticket's wait
 *       starts at its arrival; for an appointment it starts at the later of
 *       its arrival and its slot's start, because a citizen who checks in
 *       early chose to be early.  This step makes sure that an endless stream
 *       of appointments and priority tickets cannot hold a walk-in back past
 *       the limit — and it applies to every kind of ticket alike.
 *    2. APPOINTMENT: a checked-in appointment whose slot has started
 *       (slot_start <= now).  Earliest slot first, then earliest arrival.
 *    3. PRIORITY: a walk-in of a priority category (elderly, disabled,
 *       expectant).  The three categories are equal: the law and the centres
 *       give no ranking among them, so they share one line, oldest arrival
 *       first.
 *    4. WALKIN: any other walk-in, oldest arrival first.
 *    5. EARLY: a checked-in appointment whose slot has not started.  It is
 *       called only when nothing in steps 0-4 waits (a counter is never kept
 *       idle while a citizen waits), earliest slot first, then arrival.
 *
 *  Ties at every step are broken by the ticket id, smaller first, so equal
 *  times never leave the choice to the order of the array.  A ticket's
 *  priority category counts only for walk-ins; an appointment is placed by
 *  its slot.  When a counter serves several services it picks across all of
 *  them by this one order: each ticket's starvation is judged by the limit of
 *  its own service.
 *
 *  Transfers keep the arrival time (fl_queue_transfer), so a citizen sent to
 *  another service takes their place there by when they first arrived, not
 *  at the back.
 *
 *  The wait estimate
 *  -----------------
 *  estimate = position × average service time ÷ counters open for the service,
 *  where position is the number of tickets ahead and the average is an
 *  exponential moving average of recent service times (fl_service_avg_t).
 *  When no counter is open the division is by 1 and a flag says so, so a
 *  board can show "no counter open" instead of a wait.
 *
 *  Caveats:
 *    - Pointers in fl_waiting_t and the other structs are borrowed: nothing
 *      here keeps or frees them.
 *    - Passing NULL where a value is required, more than FL_QUEUE_WAITING_MAX
 *      tickets, an out-of-range priority or a max wait <= 0 is a programmer
 *      error (assert).  The scheduler must refuse new tickets beyond
 *      FL_QUEUE_WAITING_MAX itself.
 *    - All functions are reentrant and thread-safe; none allocates.
 */
#ifndef FOLENI_QUEUE_H
#define FOLENI_QUEUE_H

#include "libfoleni/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most tickets waiting in one office at once (the protocol's `waiting`). */
#define FL_QUEUE_WAITING_MAX      100000
/* Max wait, seconds, for a service that has no fl_service_rule_t. */
#define FL_QUEUE_MAX_WAIT_DEFAULT_S (FL_MAX_WAIT_DEFAULT * 60)
/* Weight of the newest service time in the moving average, once warmed up. */
#define FL_QUEUE_AVG_ALPHA        0.2
/* Longest service time accepted as a sample, seconds (a longer one is a
 * clerk who forgot to press "done", not a citizen). */
#define FL_QUEUE_SAMPLE_MAX_S     (FL_SERVICE_MINUTES_MAX * 60)
/* Largest estimate reported, seconds (the protocol's `wait_s`). */
#define FL_QUEUE_ESTIMATE_MAX_S   10000000u

/* Priority category of a ticket. */
typedef enum {
    FL_PRIO_NONE = 0,           /* an ordinary walk-in */
    FL_PRIO_ELDERLY,            /* an older citizen */
    FL_PRIO_DISABLED,           /* a citizen with a disability */
    FL_PRIO_EXPECTANT,          /* an expectant mother */
    FL_PRIO_COUNT               /* number of categories; not a category */
} fl_priority_t;

/* The step of the call-next order a ticket falls in (see above). */
typedef enum {
    FL_QUEUE_STARVED = 1,       /* waited at least its service's max wait */
    FL_QUEUE_APPOINTMENT,       /* checked-in appointment, slot started */
    FL_QUEUE_PRIORITY,          /* walk-in of a priority category */
    FL_QUEUE_WALKIN,            /* any other walk-in */
    FL_QUEUE_EARLY              /* checked-in appointment, slot not started */
} fl_queue_class_t;

/* One waiting ticket, as the order sees it. */
typedef struct {
    uint32_t id;                /* the caller's handle; also the last tie-break */
    const char *service;        /* code of the service it waits for; not NULL */
    bool appointment;           /* true: from a checked-in booking */
    int64_t slot_start;         /* appointments: the slot's start (UTC s); else ignored */
    fl_priority_t priority;     /* category; counts for walk-ins only */
    int64_t arrived;            /* ticket issue or check-in (UTC s); kept across transfers */
    unsigned to_counter;        /* 0, or the only counter that may call it */
} fl_waiting_t;

/* How long a service's tickets may wait before they go first. */
typedef struct {
    const char *service;        /* service code; not NULL */
    int max_wait_s;             /* > 0; fl_service_t.max_wait_minutes * 60 */
} fl_service_rule_t;

/* Who calls, and when: the context every order function needs. */
typedef struct {
    unsigned counter;           /* calling counter's number; 0 = no counter */
    const char *const *services;  /* codes the counter serves */
    size_t service_count;       /* entries in services */
    const fl_service_rule_t *rules;  /* max wait per service; may be NULL if 0 */
    size_t rule_count;          /* entries in rules */
    int64_t now;                /* the time of the call, UTC seconds */
} fl_queue_call_t;

/* A moving average of service times.  Zero-initialise it (or use
 * FL_SERVICE_AVG_INIT) for "no samples yet". */
typedef struct {
    double avg_s;               /* average service time, seconds; 0 when empty */
    uint32_t samples;           /* samples taken so far, saturating */
} fl_service_avg_t;

#define FL_SERVICE_AVG_INIT { 0.0, 0 }

/* ---- priority words ------------------------------------------------------ */

/*  The wire word of a category: "none", "elderly", "disabled" or "expectant"
 *  (the `priority` field of docs/protocol.md).  Never NULL; asserts on a value
 *  outside the enum. */
const char *fl_priority_name(fl_priority_t priority);

/*  Read a wire word into *priority.  Returns 0, or FL_E_INVALID (leaving
 *  *priority unchanged) when word is NULL or not one of the four words;
 *  matching is exact and case-sensitive. */
int fl_priority_parse(const char *word, fl_priority_t *priority);

/* ---- the order ----------------------------------------------------------- */

/*  The max wait, seconds, that applies to tickets of service: the rule for it
 *  in call, or FL_QUEUE_MAX_WAIT_DEFAULT_S when call has none.  Cannot fail. */
int fl_queue_max_wait_s(const fl_queue_call_t *call, const char *service);

/*  The step of the order ticket w falls in at call->now (STARVED, APPOINTMENT,
 *  PRIORITY, WALKIN or EARLY).  Whether it was sent to a counter does not
 *  change its class.  Cannot fail. */
fl_queue_class_t fl_queue_class(const fl_waiting_t *w, const fl_queue_call_t *call);

/*  True if call->counter may call w: w was sent to that counter, or w was sent
 *  to none and its service is among call->services.  Cannot fail. */
bool fl_queue_can_call(const fl_waiting_t *w, const fl_queue_call_t *call);

/*  Compare two tickets by the call-next order for call->counter at call->now:
 *  negative if a is called before b, positive if after, 0 only when both
 *  have the same id.  A total order on tickets with distinct ids, so it can
 *  sort a queue for a board.  It does not check fl_queue_can_call: a ticket
 *  sent to another counter is ordered as if sent to none.  Cannot fail. */
int fl_queue_compare(const fl_waiting_t *a, const fl_waiting_t *b,
                     const fl_queue_call_t *call);

/*  Choose the ticket that call->counter calls next among the n tickets of w:
 *  the first by fl_queue_compare among those fl_queue_can_call accepts.
 *  O(n × (services + rules)).  Returns 0 and sets *picked to its index in w,
 *  or FL_E_EMPTY (leaving *picked unchanged) when no ticket may be called,
 *  including when n is 0.  w may be NULL when n is 0. */
int fl_queue_pick(const fl_waiting_t *w, size_t n, const fl_queue_call_t *call,
                  size_t *picked);

/*  How many of the n tickets of w are ahead of w[index] — its position for
 *  the wait estimate (0: it is called next).  Only call->rules and call->now
 *  are read.
 *    - A ticket sent to counter c counts the tickets sent to c that go before
 *      it; that is exact, since those go first at c.  Estimate its wait with
 *      one open counter.
 *    - Any other ticket counts the tickets of its own service, sent to no
 *      counter, that go before it.  That ignores counters shared with other
 *      services and tickets sent to a named counter: an estimate, not a
 *      promise.
 *  index must be < n.  Cannot fail. */
uint32_t fl_queue_position(const fl_waiting_t *w, size_t n, size_t index,
                           const fl_queue_call_t *call);

/*  Send a waiting ticket elsewhere.  to_service (when not NULL) becomes its
 *  service; to_counter becomes the only counter that may call it, or, when 0,
 *  lets any counter of its service call it.  Its arrival, kind, slot and
 *  priority are kept, so it takes its place by when it first arrived.  The
 *  caller checks that the service and counter exist.  Cannot fail. */
void fl_queue_transfer(fl_waiting_t *w, const char *to_service, unsigned to_counter);

/* ---- wait estimates ------------------------------------------------------ */

/*  Add one service time (seconds from "start" to "done") to the average.
 *  The first samples are averaged plainly (the weight of the newest is
 *  1/samples), so the first one replaces "no samples" at once; once that
 *  weight would drop below FL_QUEUE_AVG_ALPHA (from the 5th sample on), each
 *  new sample counts FL_QUEUE_AVG_ALPHA and the older average the rest, so
 *  the average follows a change in pace within about ten citizens.
 *  Returns 0, or FL_E_RANGE (average unchanged) when service_s is not a
 *  finite number in 0..FL_QUEUE_SAMPLE_MAX_S. */
int fl_service_avg_add(fl_service_avg_t *avg, double service_s);

/*  Estimated wait, seconds, of a ticket with position tickets ahead of it:
 *  position × mean ÷ counters, rounded to the nearest second and capped at
 *  FL_QUEUE_ESTIMATE_MAX_S.  mean is avg->avg_s when avg has samples, else
 *  default_service_s (fl_service_t.service_minutes * 60; finite, >= 0).
 *  counters is open_counters, or 1 when none is open; then *no_counter is set
 *  true (false otherwise) so the caller can say "no counter open" instead.
 *  avg and no_counter may be NULL.  Position 0 gives 0.  Cannot fail. */
uint32_t fl_queue_estimate_s(uint32_t position, const fl_service_avg_t *avg,
                             double default_service_s, unsigned open_counters,
                             bool *no_counter);

#endif
