/*  internal.h — what the scheduler's files share and nobody else sees.
 *
 *  A batch (batch.c) runs each request as an op_t, straight in the batch's
 *  transaction or, after a request failed having written, each in a nested
 *  one (see batch.c); so a handler should refuse before its first write.  The
 *  handler for its type (booking.c, tickets.c, counter.c,
 *  board.c) reads and writes the store through op->txn, builds op->reply, and
 *  queues events with sched_emit().  Events get their seq and are queued for
 *  publishing when the handler succeeds, and taken back if its nested
 *  transaction then fails, so a request that fails leaves no event and uses
 *  no seq.  The store keeps each office's newest event, written at the end of
 *  the batch.
 */
#ifndef FOLENI_SCHEDULER_INTERNAL_H
#define FOLENI_SCHEDULER_INTERNAL_H

#include <sodium.h>

#include "libfoleni/certdir.h"
#include "libfoleni/localtime.h"
#include "libfoleni/queue.h"
#include "scheduler/scheduler.h"

struct sched {
    store_t *store;
    const fl_config_t *config;
    uint8_t secret[SCHED_SECRET_MAX];
    size_t secret_len;
    crypto_auth_hmacsha256_state id_mac;  /* HMAC keyed with secret, copied per ID hash */
    fl_zone_t **zones;              /* one per config office, same index */
    zhashx_t *seq;                  /* office -> uint64_t * : last committed event seq */
    zhashx_t *averages;             /* "OFFICE/SERVICE" -> fl_service_avg_t * (committed) */
    sched_auth_t auth;
    fl_certdir_t *counter_keys, *admin_keys;
    zhashx_t *roles;                /* CURVE key -> role_entry_t (a short-lived cache) */
    sched_stats_t stats;
    unsigned ref_lead;              /* lead of this batch's new references (booking.c) */
    /* A store that keeps failing (a full disk) fails every batch: the log
     * says so at most once a second, with how many it did not say. */
    int64_t failure_logged_ms;      /* zclock_mono of the last "not committed" line */
    uint64_t failures_unlogged;
    /* The store keeps each office's newest event only; one written before
     * that kept every event, and the periodic work lets go of the older ones
     * a bounded number at a time until none is left (periodic.c). */
    bool older_events_left;
    /* Phone numbers past their retention are deleted by the periodic work,
     * which walks the bookings a part at a time (periodic.c). */
    store_key_t purge_from;         /* the next booking key to look at; len 0: the first */
    size_t purge_per_tick;          /* bookings looked at per tick */
    int64_t purge_resume_at;        /* after a round: no purge before this (the scheduler's clock) */
    int64_t purge_failure_logged_ms;  /* zclock_mono of the last failure said */
};

/* Booking references begin with SCHED_REF_LEAD symbols that count batches
 * (fl_ref_new_led): one batch's new bookings sit together in the bookings
 * B-tree, so a batch of 128 dirties a few leaf pages there, not 128.  The
 * count starts at a random place and wraps at 30^3; the other 7 symbols are
 * random (docs/store.md). */
#define SCHED_REF_LEAD      3
#define SCHED_REF_LEADS     (30u * 30u * 30u)

/* An office's event numbering within one batch. */
typedef struct {
    uint64_t committed;             /* the newest seq in the store when the batch began */
    uint64_t seq;                   /* the newest seq given out in this batch */
    const sched_event_t *newest;    /* its event (in batch_t.events), or NULL */
} batch_seq_t;

/* A batch in progress; reset whenever the store runs the batch again. */
typedef struct {
    sched_t *sched;
    int64_t now;
    zhashx_t *seq;                  /* office -> batch_seq_t * */
    zlistx_t *events;               /* sched_event_t * to publish after commit */
    zlistx_t *samples;              /* service-time samples to fold in after commit */
    bool nested;                    /* each request in its own nested transaction */
    bool forgot_last_older_events;  /* the tick found no event older than the newest */
    bool purge_ran;                 /* the tick's phone purge ran (not resting): */
    int purge_rc;                   /*   0 or an FL_E_* code */
    bool purged;                    /* it succeeded: */
    store_key_t purge_next;         /*   where the next begins */
    size_t phones_deleted;          /*   and how many it deleted */
} batch_t;

/* An event an op numbered, and what that changed, to take it back. */
typedef struct {
    batch_seq_t *seq;
    const sched_event_t *was_newest;
    void *handle;                   /* in batch_t.events */
} numbered_event_t;

/* One request being handled. */
typedef struct {
    batch_t *batch;
    store_txn_t *txn;
    const fl_msg_t *req;
    sched_role_t role;
    sched_binding_t binding;        /* the counter a counter key may operate */
    int64_t now;
    fl_msg_t *reply;                /* set by a successful handler, or: */
    uint8_t *raw_reply;             /* a reply the handler encoded itself (malloc'd) */
    size_t raw_len;
    fl_msg_t *events[8];            /* queued by sched_emit, numbered on success */
    int nevents;
    numbered_event_t numbered[8];   /* what numbering them changed (batch.c) */
    int nnumbered;
    fl_error_t err;                 /* set by a failing handler */
} op_t;

typedef int (handler_fn)(op_t *op);

/* ---- what batch.c shares with periodic.c ---- */

/* A batch at now, and its end.  NULL when out of memory. */
batch_t *batch_new(sched_t *self, int64_t now);
void batch_destroy(batch_t **b_p);

/* Forget what a run of the batch did, before it runs (again). */
void batch_reset(batch_t *b);

/* Number op's events and queue them for publishing: all or nothing. */
int batch_number_events(op_t *op);

/* Put each office's newest event of the batch, delete the one before. */
int batch_store_newest_events(batch_t *b, store_txn_t *txn);

/* After the commit: fold the batch into the caches and hand out its events. */
void batch_after_commit(batch_t *b, sched_event_t **events, size_t *nevents);

/* Free op's reply and events. */
void batch_op_clear(op_t *op);

/* The newest seq an office's events have, this batch's included. */
uint64_t batch_newest_seq(batch_t *b, const char *office);

/* A write that did not commit, in the log: at most one line a second. */
void sched_log_failure(sched_t *self, const char *what, const char *reason, size_t requests);

/* ---- handlers, one per request type ---- */
handler_fn h_list_offices, h_list_services, h_availability, h_book, h_view, h_cancel, h_reschedule;
handler_fn h_walkin, h_checkin, h_counter_open, h_counter_pause, h_counter_close, h_next, h_recall;
handler_fn h_start, h_done, h_noshow, h_transfer, h_snapshot, h_stats;

/* ---- shared helpers (core.c) ---- */

/*  Fail the op: fill op->err and return code. */
int sched_fail(op_t *op, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*  The configured office (and its index), or fail with not_found. */
const fl_office_t *sched_office(op_t *op, const char *code, int *index);

/*  The office's service, or fail with not_found. */
const fl_service_t *sched_service(op_t *op, const fl_office_t *office, const char *code);

/*  The office's time zone. */
const fl_zone_t *sched_zone(const sched_t *self, int office_index);

/*  HMAC-SHA256 of "id_type:number" under the server secret. */
void sched_id_hash(const sched_t *self, const char *id_type, const char *number, uint8_t out[32]);

/*  Queue an event of `kind` for op's office; fields may be added to the
 *  returned message (office, seq and at are set at commit of the op).  NULL
 *  when too many events (a programmer error) or out of memory. */
fl_msg_t *sched_emit(op_t *op, const char *office, const char *kind);

/* A service-time sample waiting for its batch's commit. */
typedef struct {
    char key[32];                   /* OFFICE/SERVICE */
    double seconds;
} sched_sample_t;

/*  Expire the held booking ref (whose hold entry is hold_key) at op->now:
 *  state expired, place freed, index entries removed, a `booking` event.
 *  FL_E_NOT_FOUND when it is no longer held. */
int sched_expire_hold(op_t *op, const char *ref, const store_key_t *hold_key);

/*  End an appointment whose ticket was served or missed: the booking becomes
 *  `state` (served or no_show), gives its place back and leaves the citizen
 *  index, so the citizen may book again. */
int sched_booking_finish(op_t *op, const char *ref, const char *state);

/*  The seq the office's events have reached, this batch included. */
uint64_t sched_current_seq(op_t *op, const char *office);

/* The waiting tickets of an office's day, as the call-next order sees them. */
typedef struct {
    size_t n;
    fl_waiting_t *w;                /* w[i].id == i */
    fl_msg_t **tickets;             /* the ticket records (owned) */
    store_key_t *keys;              /* their keys */
    fl_service_rule_t *rules;       /* max wait per service of the office */
    size_t nrules;
} sched_waiting_t;

int  sched_waiting_load(op_t *op, const fl_office_t *office, uint32_t day, sched_waiting_t *out);
void sched_waiting_free(sched_waiting_t *w);

/*  The end of a day: tickets of the office still waiting from a day before
 *  today (the office's local day) are closed as "unserved", their finish time
 *  now, and leave the waiting index; one "day_closed" event is queued when
 *  any were.  At most 256 per call (the next tick takes the rest).  A
 *  checked-in appointment's booking stays checked_in: the citizen came.
 *  *closed gets the number closed.  0 or a store error. */
int sched_close_past_days(op_t *op, const fl_office_t *office, uint32_t today, size_t *closed);

/*  Counters of the office open now for service (and whether it serves it). */
unsigned sched_open_counters(op_t *op, const char *office, const char *service);

/*  The ticket key for a label such as "P-042" on day. */
int sched_ticket_key(const char *office, uint32_t day, const char *label, store_key_t *key);

/*  Record a service-time sample for the office's service (applied after commit). */
void sched_sample(op_t *op, const char *office, const char *service, double seconds);

/*  The committed moving average of an office's service times. */
const fl_service_avg_t *sched_average(const sched_t *self, const char *office, const char *service);

/*  True when the office is open at `now` (hours and closed dates). */
bool sched_office_open(const sched_t *self, const fl_office_t *office, int office_index, int64_t now);

/*  Require role at least `need` (counter or admin), else fail forbidden. */
int sched_require(op_t *op, sched_role_t need);

/*  Set the standard fields of a ticket reply from a ticket record. */
fl_msg_t *sched_ticket_reply(op_t *op, const fl_msg_t *ticket);

/*  Position among waiting tickets of its service and estimated wait. */
void sched_estimate(op_t *op, const fl_office_t *office, const char *service, uint32_t day,
                    const fl_msg_t *ticket, uint32_t *position, uint32_t *wait_s);

#endif
