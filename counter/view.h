/*  view.h — what the clerk's screen shows, kept up to date from the
 *  scheduler's replies and the event bus.
 *
 *  A view is plain data about one counter of one office: the office's name
 *  and time zone, the services it offers and which of them this counter
 *  serves, the other counters (for the transfer menu), the counter's state,
 *  the ticket it has in hand and since when, the queue of each service
 *  (waiting, estimated wait, open counters) and the last calls in the hall.
 *  It knows nothing of sockets or of the terminal, so the rules that keep it
 *  right are tested on their own (tests/test_counter_view.c).
 *
 *  Where the data comes from:
 *    - list_offices   -> office name and time zone;
 *    - list_services  -> services, counters, this counter's state and services;
 *    - snapshot       -> queues, last calls, the ticket at this counter, and
 *                        the office's event seq (the Clone pattern: an event
 *                        with a seq at or below it is already included);
 *    - events         -> this counter's ticket and state change at once; any
 *                        event asks for a fresh snapshot for the rest;
 *    - action replies -> the ticket or counter state the clerk just changed.
 *
 *  Time: tickets carry the scheduler's clock (UTC seconds), which need not
 *  be this terminal's (a test runs the scheduler on a fixed clock; a real
 *  terminal's clock may be off).  The view keeps the scheduler's time as last
 *  heard (a snapshot's or event's `at`) with the monotonic time it was heard,
 *  and counts on from there, so "called 2:05 ago" is right either way.
 *
 *  Bounds: every list has a named maximum (the protocol's own); anything
 *  beyond it is left out, never overflowed.
 */
#ifndef FOLENI_COUNTER_VIEW_H
#define FOLENI_COUNTER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counter/action.h"
#include "libfoleni/localtime.h"
#include "libfoleni/msg.h"

#define CTR_NAME_MAX        80      /* office, service or counter name, bytes */
#define CTR_VIEW_SERVICES   64      /* services of one office (the protocol's bound) */
#define CTR_VIEW_COUNTERS   256     /* counters of one office (the protocol's bound) */
#define CTR_VIEW_RECENT     16      /* last calls kept */
#define CTR_STATE_MAX       16      /* a state word */
#define CTR_TZ_MAX          64      /* a time zone name */
#define CTR_SERVES_TEXT     64      /* "PASSPORT, IDCARD" for another counter, cut */

/* One service of the office, and its queue. */
typedef struct {
    char     code[CTR_CODE_MAX + 1];
    char     name[CTR_NAME_MAX + 1];
    bool     mine;                  /* this counter serves it */
    bool     has_queue;             /* a snapshot has given its queue */
    unsigned waiting, wait_s, open_counters;
} ctr_service_t;

/* Another counter of the office (for the transfer menu). */
typedef struct {
    unsigned number;
    char     name[CTR_NAME_MAX + 1];
    char     serves[CTR_SERVES_TEXT + 1];
    char     state[CTR_STATE_MAX + 1];
} ctr_counter_t;

/* One call of a ticket to a counter. */
typedef struct {
    char     ticket[CTR_TICKET_MAX + 1];
    char     service[CTR_CODE_MAX + 1];
    unsigned counter;
    int64_t  at;                    /* scheduler time, UTC seconds */
    unsigned calls;
} ctr_call_t;

typedef enum {
    CTR_TICKET_NONE,                /* nothing in hand */
    CTR_TICKET_CALLED,              /* called, the citizen is on the way */
    CTR_TICKET_SERVING,             /* service started */
    CTR_TICKET_IN_HAND,             /* called or serving: taken over from an earlier session */
} ctr_ticket_state_t;

/* The ticket this counter has in hand. */
typedef struct {
    ctr_ticket_state_t state;
    char     ticket[CTR_TICKET_MAX + 1];
    char     service[CTR_CODE_MAX + 1];
    int64_t  called;                /* scheduler time of the last call, or 0 */
    int64_t  started;               /* scheduler time service started, or 0 */
    unsigned calls;
} ctr_current_t;

typedef struct {
    char          office[CTR_CODE_MAX + 1];
    char          office_name[CTR_NAME_MAX + 1];
    char          tz[CTR_TZ_MAX + 1];
    unsigned      counter;
    char          counter_name[CTR_NAME_MAX + 1];
    bool          counter_known;    /* list_services named this counter */
    char          state[CTR_STATE_MAX + 1];     /* open, paused, closed, or "" before we know */
    char          serves[CTR_SERVICES_MAX][CTR_CODE_MAX + 1];   /* this counter's services */
    size_t        nserves;
    ctr_service_t services[CTR_VIEW_SERVICES];
    size_t        nservices;
    ctr_counter_t counters[CTR_VIEW_COUNTERS];  /* the others, not this one */
    size_t        ncounters;
    ctr_current_t current;
    ctr_call_t    recent[CTR_VIEW_RECENT];      /* newest first */
    size_t        nrecent;
    bool          have_board;       /* a snapshot has been applied */
    uint64_t      seq;              /* the office's last event included */
    int64_t       server_at;        /* scheduler time last heard... */
    int64_t       server_mono;      /* ...and the monotonic ms when heard; 0: never */
    fl_zone_t    *zone;             /* the office's zone, once known (owned) */
} ctr_view_t;

/*  A new empty view of counter number `counter` at office code `office`.
 *  NULL when out of memory. */
ctr_view_t *ctr_view_new(const char *office, unsigned counter);

/*  Free; sets *self_p to NULL.  Safe on NULL. */
void ctr_view_destroy(ctr_view_t **self_p);

/*  Apply an office_list reply: the office's name and time zone.  0,
 *  FL_E_NOT_FOUND when the list does not name the office, or FL_E_TYPE when
 *  the message is not an office_list (nothing changes). */
int ctr_view_apply_offices(ctr_view_t *self, const fl_msg_t *office_list);

/*  Apply a service_list reply.  0, FL_E_NOT_FOUND when it does not list
 *  this counter (the services are applied anyway), or FL_E_TYPE when the
 *  message is not a service_list (nothing changes). */
int ctr_view_apply_services(ctr_view_t *self, const fl_msg_t *service_list);

/*  Apply a board (snapshot reply) heard at monotonic time mono_ms.  A board
 *  older than what the view holds (lower seq), of another office, or a
 *  message that is not a board, is ignored. */
void ctr_view_apply_board(ctr_view_t *self, const fl_msg_t *board, int64_t mono_ms);

/*  Apply an event heard at mono_ms.  Returns true when the event is of this
 *  office (the caller should then refresh with a snapshot), false when it is
 *  not (ignored). */
bool ctr_view_apply_event(ctr_view_t *self, const fl_msg_t *event, int64_t mono_ms);

/*  Apply the reply to an action of this counter, heard at mono_ms (a ticket
 *  or counter_state; error replies change nothing). */
void ctr_view_apply_reply(ctr_view_t *self, ctr_action_t action, const fl_msg_t *reply, int64_t mono_ms);

/*  The scheduler's time now, as best known (UTC seconds), or 0 before any
 *  was heard. */
int64_t ctr_view_server_now(const ctr_view_t *self, int64_t mono_ms);

/*  "HH:MM" of a scheduler time in the office's zone (UTC until the zone is
 *  known) into out (at least 6 bytes).  Cannot fail. */
void ctr_view_clock(const ctr_view_t *self, int64_t utc, char *out, size_t cap);

/*  "M:SS" or "H:MM:SS" for a number of seconds (negative counts as 0). */
void ctr_view_duration(int64_t seconds, char *out, size_t cap);

/*  The service with this code, or NULL. */
const ctr_service_t *ctr_view_service(const ctr_view_t *self, const char *code);

/*  The services this counter serves joined as "PASSPORT, IDCARD". */
void ctr_view_serves_text(const ctr_view_t *self, char *out, size_t cap);

#endif
