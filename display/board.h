/*  board.h — one office's hall board as plain data: what is being served,
 *  the last calls, the queues; filled from a snapshot, changed by events.
 *
 *  A disp_board_t is the state a hall screen shows.  It is filled from the
 *  scheduler's `board` reply (disp_board_from_snapshot) and then moved forward
 *  by `event` messages (disp_board_apply), so a call reaches the screens
 *  without another round trip to the scheduler.  This file knows nothing of
 *  sequence numbers, sockets or timers: clone.h decides which events may be
 *  applied, and when a fresh snapshot is needed.
 *
 *  What an event does to the board (the rules mirror what the scheduler's
 *  snapshot would show after it, docs/display.md has the table):
 *    call      the ticket goes to the top of "serving" (replacing the counter's
 *              previous ticket) and of "recent"; its service has one fewer waiting
 *    recall    the ticket's call count goes up (it is announced again)
 *    start     nothing visible
 *    done, noshow   the ticket leaves "serving" (it stays in "recent")
 *    transfer  the ticket leaves "serving" and "recent" and waits again, in
 *              its new service
 *    ticket    one more waiting in its service
 *    counter, booking   nothing the board can compute alone
 *  Waiting counts are exact after each event; the estimated waits and open
 *  counters depend on the scheduler's averages, so events that may change them
 *  set `stale` and the clone fetches a snapshot shortly after.  Until then the
 *  estimate is scaled by the new count (wait per place unchanged).
 *
 *  Everything is bounded by the protocol's own limits (docs/protocol.md);
 *  nothing here allocates except disp_board_json.  Not thread-safe.
 */
#ifndef FOLENI_DISPLAY_BOARD_H
#define FOLENI_DISPLAY_BOARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libfoleni/msg.h"

#define DISP_OFFICE_MAX     8       /* office code, bytes (protocol: 2..8) */
#define DISP_TICKET_MAX     16      /* ticket label, bytes (protocol: 3..16) */
#define DISP_SERVICE_MAX    8       /* service code, bytes (protocol: 1..8) */
#define DISP_NAME_MAX       80      /* a name, bytes (protocol: 1..80) */
#define DISP_TZ_MAX         64      /* IANA zone name, bytes */
#define DISP_SERVING_MAX    999     /* tickets being served: one per counter (protocol bound) */
#define DISP_RECENT_MAX     64      /* recent calls kept (protocol bound) */
#define DISP_RECENT_KEEP    10      /* recent calls an event-driven board keeps: as many as a snapshot carries */
#define DISP_QUEUES_MAX     64      /* services per office (protocol bound) */
#define DISP_COUNTERS_MAX   256     /* counters with a name, per office (protocol bound) */
#define DISP_CALLS_MAX      255     /* calls of one ticket (protocol bound) */
#define DISP_SAY_MAX        128     /* a spoken announcement, bytes */

/* One call of a ticket to a counter (a `call_item`). */
typedef struct {
    char     ticket[DISP_TICKET_MAX + 1];
    char     service[DISP_SERVICE_MAX + 1];
    unsigned counter;
    uint64_t at;                    /* when it was called, UTC seconds */
    unsigned calls;                 /* 1 for the first call, +1 per recall */
} disp_call_t;

/* The queue of one service (a `queue_item`). */
typedef struct {
    char     service[DISP_SERVICE_MAX + 1];
    uint32_t waiting;
    uint32_t wait_s;                /* estimated wait for a new ticket, seconds */
    unsigned open_counters;
} disp_queue_t;

/* The board of one office. */
typedef struct {
    char        office[DISP_OFFICE_MAX + 1];
    uint64_t    seq;                /* the last event included */
    uint64_t    at;                 /* scheduler time of the snapshot or of the last event */
    char        newest[DISP_TICKET_MAX + 1];   /* ticket of the latest call or recall; "" none */
    size_t      nserving, nrecent, nqueues;
    disp_call_t serving[DISP_SERVING_MAX];     /* newest call first */
    disp_call_t recent[DISP_RECENT_MAX];       /* newest call first */
    disp_queue_t queues[DISP_QUEUES_MAX];
} disp_board_t;

/* Names the board shows beside codes: the office's and its services' (from
 * list_offices and list_services).  Optional: a board without them shows codes. */
typedef struct {
    char service[DISP_SERVICE_MAX + 1];
    char prefix[2];
    char name[DISP_NAME_MAX + 1];
    char name_sw[DISP_NAME_MAX + 1];
} disp_service_name_t;

typedef struct {
    unsigned counter;
    char name[DISP_NAME_MAX + 1];
} disp_counter_name_t;

typedef struct {
    char name[DISP_NAME_MAX + 1];
    char name_sw[DISP_NAME_MAX + 1];
    char tz[DISP_TZ_MAX + 1];
    size_t nservices, ncounters;
    disp_service_name_t services[DISP_QUEUES_MAX];
    disp_counter_name_t counters[DISP_COUNTERS_MAX];
} disp_names_t;

/* What applying an event did. */
typedef struct {
    bool changed;                   /* the board looks different: show it again */
    bool stale;                     /* estimates or open counters may be off: refresh soon */
    bool announce;                  /* a call or recall to announce: `call` holds it */
    bool recall;                    /* ... and it is a recall */
    disp_call_t call;
} disp_effect_t;

/*  An empty board of office (copied, cut to DISP_OFFICE_MAX).  Cannot fail. */
void disp_board_init(disp_board_t *self, const char *office);

/*  Replace the board with a scheduler `board` reply.  The reply must be of
 *  type board and for this board's office.  newest becomes the first recent
 *  call when it is still being served, or stays what it was when that ticket is
 *  still being served.  Returns 0, or FL_E_INVALID (another type or office;
 *  the board is unchanged). */
int disp_board_from_snapshot(disp_board_t *self, const fl_msg_t *board);

/*  Apply one `event` of this office (its seq is not checked here: clone.h
 *  does that).  Sets self->seq and self->at from the event.  fx (required)
 *  says what changed.  Returns 0, or FL_E_INVALID when the message is not an
 *  event of this office (nothing changes). */
int disp_board_apply(disp_board_t *self, const fl_msg_t *event, disp_effect_t *fx);

/*  True when two boards show the same thing (seq and at are not compared). */
bool disp_board_same(const disp_board_t *a, const disp_board_t *b);

/*  Calls to announce after the board went from `before` to `after` without
 *  events in between (a snapshot after a gap): tickets being served in
 *  `after` that were not served in `before`, or were called more times since,
 *  and were called at most late_s seconds before after->at.  Writes up to cap
 *  of them to out (oldest first) with recall[i] set for recalls; returns how
 *  many. */
size_t disp_board_missed_calls(const disp_board_t *before, const disp_board_t *after, uint64_t late_s,
                               disp_call_t *out, bool *recall, size_t cap);

/*  Fill names from a `service_list` reply (services and counters).  0 or
 *  FL_E_INVALID (wrong type).  Office names are set with disp_names_office. */
int disp_names_services(disp_names_t *self, const fl_msg_t *service_list);

/*  Take the office's names from an `office_list` reply.  0, FL_E_NOT_FOUND
 *  (office absent) or FL_E_INVALID (wrong type). */
int disp_names_office(disp_names_t *self, const fl_msg_t *office_list, const char *office);

/*  The board as a JSON object for the page (docs/display.md, "The stream"):
 *  office, name, name_sw, tz, seq, at, now, status, newest, serving, recent,
 *  queues, services, counters.  names may be NULL; status is a word such as
 *  "live".  NULL when out of memory. */
json_t *disp_board_json(const disp_board_t *self, const disp_names_t *names, const char *status, int64_t now);

/*  A call as a JSON object for the stream's `call` message: kind, office,
 *  ticket, counter, service, calls, at, seq and say {en, sw}.  NULL when out
 *  of memory. */
json_t *disp_call_json(const char *office, const disp_call_t *call, bool recall, uint64_t seq);

/*  json_dumps(disp_board_json(...), JSON_COMPACT): the board as the text that
 *  goes into every call's write to the screens.  Returns malloc'd text (the
 *  caller frees it), or NULL when out of memory or a string is not valid UTF-8. */
char *disp_board_text(const disp_board_t *self, const disp_names_t *names, const char *status, int64_t now);

/*  The same for disp_call_json. */
char *disp_call_text(const char *office, const disp_call_t *call, bool recall, uint64_t seq);

/*  The spoken announcement of a call in lang ("en" or "sw"; anything else is
 *  "en"): "Ticket P 0 4 2, counter 3" / "Tiketi P 0 4 2, dirisha 3".  The
 *  ticket is spelled one letter or digit at a time; dashes and spaces are
 *  dropped.  Always NUL-terminates out (cap >= 1); cut to fit. */
void disp_say(const char *ticket, unsigned counter, const char *lang, char *out, size_t cap);

#endif
