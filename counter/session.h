/*  session.h — a counter's live session: the clerk's actions sent exactly
 *  once, the picture of the office kept current, the link watched.
 *
 *  The full-screen mode is an event loop over three inputs: the client
 *  socket (replies), the event bus (what other counters and kiosks did) and
 *  the keyboard.  A session owns the first two and never blocks: the loop
 *  polls ctr_session_pollitems() plus stdin for at most
 *  ctr_session_timeout_ms(), then calls ctr_session_step().
 *
 *  The clerk's action.  At most one is in flight; ctr_session_act() refuses a
 *  second (FL_E_CONFLICT) so the screen can say so instead of queueing keys
 *  the clerk no longer means.  The action's request is encoded once, with one
 *  request id, and those same bytes are sent again and again until an answer
 *  comes: fl_client resends on a new socket after each timeout, and when its
 *  retries are used up the session sends it once more with the same id, for
 *  as long as it takes.  A broker that answers "no scheduler" is asked again
 *  a second later, with the same id.  The scheduler keeps the reply to each id,
 *  so however many times the request arrives, it happens once.
 *
 *  The picture (view.h).  At start: list_offices, list_services and a
 *  snapshot.  Every event of the office (topic "OFFICE.") updates this
 *  counter's ticket at once and asks for a fresh snapshot; snapshots are
 *  coalesced to at most one in flight and one per CTR_REFRESH_MIN_MS, so a
 *  busy hall costs the scheduler a few snapshots a second per counter at
 *  most.  An idle screen refreshes every CTR_REFRESH_IDLE_MS anyway, which
 *  also heals a lost event subscription.
 *
 *  The link.  When nothing has been heard for CTR_PROBE_MS, the session asks
 *  the broker (mmi.service) whether the scheduler is there.  The state shown
 *  on the status line comes from that, from the requests overdue, and from
 *  the socket monitor (link.h): connected, connecting, waiting for the
 *  broker, no scheduler, or identity refused.
 */
#ifndef FOLENI_COUNTER_SESSION_H
#define FOLENI_COUNTER_SESSION_H

#include <czmq.h>
#include <stdbool.h>

#include "counter/action.h"
#include "counter/link.h"
#include "counter/options.h"
#include "counter/view.h"

#define CTR_REFRESH_MIN_MS   250        /* at most one snapshot per this */
#define CTR_REFRESH_IDLE_MS  10000      /* a snapshot at least this often */
#define CTR_PROBE_MS         2000       /* ask the broker after this much silence */
#define CTR_REASK_MS         1000       /* resend after "no scheduler", re-ask failed queries */
#define CTR_EVENTS_PER_STEP  256        /* events read per step, so keys stay responsive */
#define CTR_NOTICE_MAX       320        /* the message line, bytes */
#define CTR_SESSION_POLLITEMS (CTR_LINK_POLLITEMS + 1)

typedef enum {
    CTR_LINK_CONNECTING,                /* nothing heard yet */
    CTR_LINK_UP,                        /* answers come */
    CTR_LINK_NO_SCHEDULER,              /* the broker answers, the scheduler is not there */
    CTR_LINK_DOWN,                      /* no answer: waiting for the broker */
    CTR_LINK_REFUSED,                   /* the broker refused this terminal's identity */
} ctr_link_state_t;

typedef enum {
    CTR_NOTICE_INFO,
    CTR_NOTICE_OK,                      /* an action went through */
    CTR_NOTICE_WARN,                    /* refused, or wait */
    CTR_NOTICE_ERROR,                   /* identity refused, no such counter */
} ctr_notice_level_t;

typedef struct ctr_session ctr_session_t;

/*  Start a session for opts' office and counter: connect to the broker and
 *  the event bus, and ask for the office's picture.  security (may be NULL)
 *  is borrowed and must outlive the session.  NULL with err (FL_E_IO when a
 *  socket cannot be made, FL_E_NOMEM).  A broker that is not there yet is
 *  not an error: the session waits for it. */
ctr_session_t *ctr_session_new(const ctr_options_t *opts, const fl_security_t *security, fl_error_t *err);

/*  Close the sockets; sets *self_p to NULL.  Safe on NULL.  An action still in
 *  flight is abandoned (it may or may not have happened). */
void ctr_session_destroy(ctr_session_t **self_p);

/*  The picture of the office. */
const ctr_view_t *ctr_session_view(const ctr_session_t *self);

/*  Fill items (room for CTR_SESSION_POLLITEMS) with the sockets to poll;
 *  returns how many.  Ask again before every poll. */
int ctr_session_pollitems(ctr_session_t *self, zmq_pollitem_t *items);

/*  The longest the loop may sleep before calling ctr_session_step (ms). */
int ctr_session_timeout_ms(ctr_session_t *self);

/*  Handle whatever is ready (replies, events, monitor) and what is due
 *  (resends, refreshes, probes).  Never blocks.  Cannot fail: problems show
 *  in the link state and the notice. */
void ctr_session_step(ctr_session_t *self);

/*  Send the clerk's action.  For CTR_ACT_OPEN the services are opts'
 *  --services, else those the counter serves now.  extra (may be NULL) gives
 *  transfer's to_service / to_counter.  Returns 0 (sent), FL_E_CONFLICT when
 *  an action is still in flight (nothing sent), FL_E_FORBIDDEN when the
 *  broker refuses this terminal (nothing sent), FL_E_MISSING when open knows
 *  no services yet, FL_E_INVALID when the request is refused by the protocol,
 *  or FL_E_NOMEM.  Failures also set the notice. */
int ctr_session_act(ctr_session_t *self, ctr_action_t action, const ctr_args_t *extra);

/*  The action in flight, or -1; *since_ms (may be NULL) gets how long ago it
 *  was first sent and *attempts how many times it was sent. */
int ctr_session_in_flight(const ctr_session_t *self, int64_t *since_ms, int *attempts);

/*  The link state and a sentence for the status line into text. */
ctr_link_state_t ctr_session_link(const ctr_session_t *self, char *text, size_t cap);

/*  The last notice for the message line ("" at first) and its level. */
const char *ctr_session_notice(const ctr_session_t *self, ctr_notice_level_t *level);

/*  Set the notice (for the screen's own messages). */
void ctr_session_notify(ctr_session_t *self, ctr_notice_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
