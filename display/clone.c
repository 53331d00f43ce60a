/*  clone.c — the Clone pattern for one office's board.  See clone.h for the
 *  rules; this file is their state machine.
 */
#include "display/clone.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct disp_clone {
    disp_clone_options_t opts;
    disp_clone_phase_t phase;
    disp_board_t board;
    disp_board_t before;            /* scratch: the board before a snapshot, for announcements */
    disp_update_t scratch;          /* scratch: what replaying kept events did */
    /* the snapshot request */
    bool in_flight;
    int64_t requested_ms;
    disp_why_t why_in_flight;
    fl_msg_t **pending;             /* events received since the request went out */
    size_t npending;
    bool failed;                    /* the last request failed */
    int backoff_ms;
    int64_t retry_at_ms;
    /* timers */
    int64_t start_ms;
    int64_t heard_ms;               /* last event or snapshot */
    int64_t stale_since_ms;         /* 0: estimates fresh */
    int64_t gap_since_ms;           /* when RESYNC began */
    uint64_t snapshot_seq;          /* seq of the last snapshot applied */
    int64_t snapshot_ms;            /* when it was applied */
    bool want_now;                  /* a gap or backwards seq: ask at once */
    disp_why_t want_why;
    disp_clone_stats_t stats;
};

static const char *s_why_names[DISP_WHY_COUNT] = { "start", "gap", "backwards", "silence", "settle", "retry" };

const char *
disp_why_name(disp_why_t why)
{
    return why < DISP_WHY_COUNT ? s_why_names[why] : "unknown";
}

disp_clone_t *
disp_clone_new(const char *office, const disp_clone_options_t *opts, int64_t now_ms)
{
    assert(office);
    disp_clone_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pending = calloc(DISP_CLONE_PENDING_MAX, sizeof *self->pending);
    if (!self->pending) {
        free(self);
        return NULL;
    }
    if (opts)
        self->opts = *opts;
    if (self->opts.settle_ms <= 0)
        self->opts.settle_ms = 1000;
    if (self->opts.silence_ms <= 0)
        self->opts.silence_ms = 5000;
    if (self->opts.retry_min_ms <= 0)
        self->opts.retry_min_ms = 500;
    if (self->opts.retry_max_ms < self->opts.retry_min_ms)
        self->opts.retry_max_ms = self->opts.retry_min_ms > 8000 ? self->opts.retry_min_ms : 8000;
    if (self->opts.late_announce_s <= 0)
        self->opts.late_announce_s = 120;
    disp_board_init(&self->board, office);
    self->phase = DISP_CLONE_STARTING;
    self->start_ms = self->heard_ms = now_ms;
    self->backoff_ms = self->opts.retry_min_ms;
    return self;
}

static void
s_pending_clear(disp_clone_t *self)
{
    for (size_t i = 0; i < self->npending; i++)
        fl_msg_destroy(&self->pending[i]);
    self->npending = 0;
}

void
disp_clone_destroy(disp_clone_t **self_p)
{
    assert(self_p);
    disp_clone_t *self = *self_p;
    if (!self)
        return;
    s_pending_clear(self);
    free(self->pending);
    free(self);
    *self_p = NULL;
}

static void
s_update_clear(disp_update_t *out)
{
    out->changed = false;
    out->nannounce = 0;
}

static void
s_announce(disp_update_t *out, const disp_call_t *call, bool recall, uint64_t seq)
{
    if (out->nannounce == DISP_CLONE_ANNOUNCE_MAX) {    /* keep the newest */
        memmove(&out->announce[0], &out->announce[1], (DISP_CLONE_ANNOUNCE_MAX - 1) * sizeof out->announce[0]);
        memmove(&out->recall[0], &out->recall[1], (DISP_CLONE_ANNOUNCE_MAX - 1) * sizeof out->recall[0]);
        memmove(&out->announce_seq[0], &out->announce_seq[1], (DISP_CLONE_ANNOUNCE_MAX - 1) * sizeof out->announce_seq[0]);
        out->nannounce--;
    }
    out->announce[out->nannounce] = *call;
    out->recall[out->nannounce] = recall;
    out->announce_seq[out->nannounce] = seq;
    out->nannounce++;
}

static void
s_want(disp_clone_t *self, disp_why_t why, int64_t now_ms)
{
    if (self->phase == DISP_CLONE_LIVE) {
        self->phase = DISP_CLONE_RESYNC;
        self->gap_since_ms = now_ms;
    }
    self->want_now = true;
    self->want_why = why;
}

/* Apply a live event under the seq rules (3 and 4). */
static void
s_apply(disp_clone_t *self, const fl_msg_t *e, int64_t now_ms, disp_update_t *out)
{
    uint64_t seq = fl_msg_uint(e, FL_F_SEQ);
    if (seq <= self->board.seq) {
        self->stats.old++;
        bool expected = seq <= self->snapshot_seq && now_ms - self->snapshot_ms < DISP_CLONE_GRACE_MS;
        if (!expected) {
            self->stats.backwards++;
            s_want(self, DISP_WHY_BACKWARDS, now_ms);
        }
        return;
    }
    if (seq != self->board.seq + 1) {
        self->stats.gaps++;
        s_want(self, DISP_WHY_GAP, now_ms);
        return;
    }
    disp_effect_t fx;
    if (disp_board_apply(&self->board, e, &fx) != 0)
        return;
    self->stats.applied++;
    out->changed |= fx.changed;
    if (fx.announce)
        s_announce(out, &fx.call, fx.recall, seq);
    if (fx.stale && !self->stale_since_ms)
        self->stale_since_ms = now_ms;
}

void
disp_clone_event(disp_clone_t *self, fl_msg_t **event_p, int64_t now_ms, disp_update_t *out)
{
    assert(self && event_p && *event_p && out);
    s_update_clear(out);
    fl_msg_t *e = *event_p;
    *event_p = NULL;
    self->heard_ms = now_ms;
    if (self->phase == DISP_CLONE_LIVE)
        s_apply(self, e, now_ms, out);
    if (self->in_flight) {                  /* rule 1: keep it for after the snapshot */
        if (self->npending < DISP_CLONE_PENDING_MAX) {
            self->pending[self->npending++] = e;
            self->stats.held++;
            return;
        }
        self->stats.overflow++;             /* the replay will end early and see the gap */
    }
    fl_msg_destroy(&e);
}

int
disp_clone_poll(disp_clone_t *self, int64_t now_ms)
{
    assert(self);
    if (self->in_flight || now_ms < disp_clone_deadline(self))
        return -1;
    disp_why_t why;
    if (self->failed)
        why = DISP_WHY_RETRY;
    else if (self->phase == DISP_CLONE_STARTING)
        why = DISP_WHY_START;
    else if (self->want_now)
        why = self->want_why;
    else if (self->stale_since_ms && now_ms >= self->stale_since_ms + self->opts.settle_ms)
        why = DISP_WHY_SETTLE;
    else
        why = DISP_WHY_SILENCE;
    self->in_flight = true;
    self->requested_ms = now_ms;
    self->why_in_flight = why;
    self->want_now = false;
    self->stale_since_ms = 0;               /* this snapshot will carry fresh estimates */
    self->stats.snapshots[why]++;
    return (int) why;
}

int64_t
disp_clone_deadline(const disp_clone_t *self)
{
    assert(self);
    if (self->in_flight)
        return INT64_MAX;
    if (self->failed)
        return self->retry_at_ms;
    if (self->phase == DISP_CLONE_STARTING)
        return self->start_ms + DISP_CLONE_START_DELAY_MS;
    if (self->want_now)
        return 0;
    int64_t at = self->heard_ms + self->opts.silence_ms;
    if (self->stale_since_ms && self->stale_since_ms + self->opts.settle_ms < at)
        at = self->stale_since_ms + self->opts.settle_ms;
    return at;
}

void
disp_clone_snapshot(disp_clone_t *self, const fl_msg_t *reply, int64_t now_ms, disp_update_t *out)
{
    assert(self && reply && out);
    s_update_clear(out);
    if (!self->in_flight)
        return;                             /* not asked for (a late reply to a failed request) */
    bool had_board = self->phase != DISP_CLONE_STARTING;
    self->before = self->board;
    if (disp_board_from_snapshot(&self->board, reply) != 0) {
        disp_clone_snapshot_failed(self, now_ms);
        return;
    }
    self->in_flight = false;
    self->failed = false;
    self->backoff_ms = self->opts.retry_min_ms;
    self->heard_ms = now_ms;
    self->snapshot_seq = self->board.seq;
    self->snapshot_ms = now_ms;
    self->phase = DISP_CLONE_LIVE;
    self->want_now = false;
    /* rule 2: the kept events newer than the snapshot, in order */
    disp_update_t *replay = &self->scratch;
    s_update_clear(replay);
    for (size_t i = 0; i < self->npending && self->phase == DISP_CLONE_LIVE; i++)
        s_apply(self, self->pending[i], now_ms, replay);
    s_pending_clear(self);
    out->changed = !had_board || !disp_board_same(&self->before, &self->board);
    if (!had_board) {
        *out = *replay;                     /* calls made since the first snapshot */
        out->changed = true;
        return;
    }
    /* Calls announced are the ones this board did not know: found by comparing
     * with the board before (the replayed events were partly applied live and
     * announced then, so they cannot tell). */
    disp_call_t missed[DISP_CLONE_ANNOUNCE_MAX];
    bool recall[DISP_CLONE_ANNOUNCE_MAX];
    size_t n = disp_board_missed_calls(&self->before, &self->board, (uint64_t) self->opts.late_announce_s, missed,
                                       recall, DISP_CLONE_ANNOUNCE_MAX);
    for (size_t i = 0; i < n; i++)
        s_announce(out, &missed[i], recall[i], self->board.seq);
}

void
disp_clone_snapshot_failed(disp_clone_t *self, int64_t now_ms)
{
    assert(self);
    if (!self->in_flight)
        return;
    self->in_flight = false;
    self->failed = true;
    self->stats.snapshot_failures++;
    self->retry_at_ms = now_ms + self->backoff_ms;
    self->backoff_ms = self->backoff_ms * 2 > self->opts.retry_max_ms ? self->opts.retry_max_ms : self->backoff_ms * 2;
    /* Kept events are dropped: live, they were applied already; otherwise the
     * next request starts a new window.  A live board stays live: the seq
     * rules still catch any event lost meanwhile. */
    s_pending_clear(self);
}

const disp_board_t *
disp_clone_board(const disp_clone_t *self)
{
    assert(self);
    return &self->board;
}

disp_clone_phase_t
disp_clone_phase(const disp_clone_t *self)
{
    assert(self);
    return self->phase;
}

const char *
disp_clone_status(const disp_clone_t *self, int64_t now_ms)
{
    assert(self);
    if (self->phase == DISP_CLONE_STARTING)
        return "connecting";
    if (self->failed || (self->phase == DISP_CLONE_RESYNC && now_ms - self->gap_since_ms > 1000))
        return "stale";
    return "live";
}

const char *
disp_clone_office(const disp_clone_t *self)
{
    assert(self);
    return self->board.office;
}

const disp_clone_stats_t *
disp_clone_stats(const disp_clone_t *self)
{
    assert(self);
    return &self->stats;
}
