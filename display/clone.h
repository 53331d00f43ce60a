/*  clone.h — keeping one office's board right: the Clone pattern (zguide
 *  chapter 5, ZeroMQ RFC 12) over Foleni's event bus.
 *
 *  The rules, in order:
 *    1. Subscribe to the office's events first (the caller does), then ask the
 *       scheduler for a snapshot.  Events that arrive while the snapshot is on
 *       its way are kept (up to DISP_CLONE_PENDING_MAX).
 *    2. The snapshot replaces the board whatever its seq (a scheduler whose
 *       store was replaced starts again lower); then the kept events newer than
 *       the snapshot's seq are applied, in order.
 *    3. Live, an event with seq = board seq + 1 is applied; an older one is
 *       ignored (it is already in the board); a newer one means events were
 *       lost (a gap): nothing more is applied until a fresh snapshot arrives.
 *    4. An old event long after the last snapshot means the scheduler's seq
 *       went backwards: a fresh snapshot.
 *    5. A silent bus (no event for silence_ms) gets a fresh snapshot: the scheduler
 *       sends no heartbeats, so this is how a lost last event, a dead broker
 *       link or a new day is noticed on a quiet office.
 *    6. Events that may change estimated waits or open counters (which only the
 *       scheduler can compute) make the board "stale": a snapshot follows
 *       settle_ms later, so one snapshot covers a burst of calls.
 *    7. A snapshot that fails (timeout, scheduler down) is asked again after a
 *       back-off that doubles from retry_min_ms to retry_max_ms; the board keeps
 *       showing the last known state meanwhile, marked stale.
 *
 *  The clone does no I/O: the caller feeds it events and snapshot replies with
 *  the time, asks disp_clone_poll() whether to send a snapshot request, and
 *  shows the board when an update says it changed.  Times are monotonic
 *  milliseconds.  Not thread-safe.
 */
#ifndef FOLENI_DISPLAY_CLONE_H
#define FOLENI_DISPLAY_CLONE_H

#include <stdbool.h>
#include <stdint.h>

#include "display/board.h"
#include "libfoleni/msg.h"

#define DISP_CLONE_PENDING_MAX   4096   /* events kept while a snapshot is on its way */
#define DISP_CLONE_ANNOUNCE_MAX  32     /* calls announced by one update */
#define DISP_CLONE_GRACE_MS      3000   /* old events this soon after a snapshot are expected */
#define DISP_CLONE_START_DELAY_MS 100   /* first snapshot after the subscription had time to reach the broker */

typedef struct {
    int settle_ms;                  /* stale board refreshed this long after the change; default 1000 */
    int silence_ms;                 /* no event this long: snapshot; default 5000 */
    int retry_min_ms;               /* first back-off after a failed snapshot; default 500 */
    int retry_max_ms;               /* longest back-off; default 8000 */
    int late_announce_s;            /* a call found by a snapshot is announced when at most this old; default 120 */
} disp_clone_options_t;

typedef enum {
    DISP_CLONE_STARTING,            /* no snapshot yet */
    DISP_CLONE_LIVE,                /* board right as of its seq; events applied */
    DISP_CLONE_RESYNC,              /* a gap or backwards seq: waiting for a snapshot */
} disp_clone_phase_t;

/* Why a snapshot is asked for (labels in the metrics). */
typedef enum {
    DISP_WHY_START,
    DISP_WHY_GAP,
    DISP_WHY_BACKWARDS,
    DISP_WHY_SILENCE,
    DISP_WHY_SETTLE,
    DISP_WHY_RETRY,
    DISP_WHY_COUNT
} disp_why_t;

/* What an event or a snapshot did. */
typedef struct {
    bool changed;                   /* the board looks different: show it again */
    size_t nannounce;               /* calls to announce, oldest first */
    disp_call_t announce[DISP_CLONE_ANNOUNCE_MAX];
    bool recall[DISP_CLONE_ANNOUNCE_MAX];
    uint64_t announce_seq[DISP_CLONE_ANNOUNCE_MAX];  /* seq of the event (or snapshot) that made it */
} disp_update_t;

/* Counters for operators and tests. */
typedef struct {
    uint64_t applied;               /* events applied */
    uint64_t old;                   /* events ignored as already in the board */
    uint64_t gaps;                  /* gaps seen */
    uint64_t backwards;             /* seq went backwards */
    uint64_t held;                  /* events kept while a snapshot was on its way */
    uint64_t overflow;              /* events dropped because too many were kept */
    uint64_t snapshots[DISP_WHY_COUNT];  /* snapshot requests by reason */
    uint64_t snapshot_failures;
} disp_clone_stats_t;

typedef struct disp_clone disp_clone_t;

/*  A clone of office's board.  opts may be NULL (defaults); zero fields take
 *  their defaults.  now_ms: the time the subscription was made.  NULL when out
 *  of memory. */
disp_clone_t *disp_clone_new(const char *office, const disp_clone_options_t *opts, int64_t now_ms);

/*  Free; sets *self_p to NULL.  Safe on NULL. */
void disp_clone_destroy(disp_clone_t **self_p);

/*  Take one event of this office (the caller checked type and office).  The
 *  clone takes ownership of *event_p and sets it to NULL.  out (required)
 *  says what changed. */
void disp_clone_event(disp_clone_t *self, fl_msg_t **event_p, int64_t now_ms, disp_update_t *out);

/*  Should a snapshot be asked for now?  Returns the reason and records the
 *  request as in flight (at most one at a time), or -1.  Each request must
 *  end with disp_clone_snapshot or disp_clone_snapshot_failed. */
int disp_clone_poll(disp_clone_t *self, int64_t now_ms);

/*  The earliest time disp_clone_poll may say yes (INT64_MAX: only after
 *  input).  For the caller's poll timeout. */
int64_t disp_clone_deadline(const disp_clone_t *self);

/*  The reply to the request in flight: a `board` of this office.  A reply of
 *  another type (an `error`) counts as a failure.  out (required). */
void disp_clone_snapshot(disp_clone_t *self, const fl_msg_t *reply, int64_t now_ms, disp_update_t *out);

/*  The request in flight got no reply (timeout, broker error). */
void disp_clone_snapshot_failed(disp_clone_t *self, int64_t now_ms);

/*  The board as it is (valid once the phase has left STARTING). */
const disp_board_t *disp_clone_board(const disp_clone_t *self);

disp_clone_phase_t disp_clone_phase(const disp_clone_t *self);

/*  A word for the page: "connecting" (no snapshot yet), "live", or "stale"
 *  (the last snapshot failed, or a gap has waited for one over a second). */
const char *disp_clone_status(const disp_clone_t *self, int64_t now_ms);

/*  The office code. */
const char *disp_clone_office(const disp_clone_t *self);

const disp_clone_stats_t *disp_clone_stats(const disp_clone_t *self);

/*  The metrics label of a reason: "start", "gap", "backwards", "silence",
 *  "settle", "retry". */
const char *disp_why_name(disp_why_t why);

#endif
