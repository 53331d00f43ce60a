/*  scheduler.h — the heart of Foleni: slots, bookings, tickets and calls.
 *
 *  The scheduler is the only writer of the store.  It serves the
 *  `foleni.scheduler` service through the broker with a large credit window,
 *  so every request waiting at a moment is in hand at once, and handles them
 *  as one batch: one write transaction, each request in its own nested
 *  transaction (one failure fails alone), one durable commit, then every reply
 *  and every event.  A reply that says "booked" or "called" is therefore on
 *  disk before the client sees it (group commit).
 *
 *  sched_t holds what the rules need beyond the store: the configuration, each
 *  office's time zone, the secret that turns ID numbers into keyed hashes, the
 *  last committed event seq per office and moving averages of service times.
 *  Caches change only after a commit, so a batch that is thrown away and run
 *  again (a full map) sees them unchanged.
 *
 *  The rules take `now` from the caller (UTC seconds), so tests never sleep and
 *  the simulated day can run the clock fast.  docs/scheduler.md describes
 *  every request; docs/protocol.md their fields.
 */
#ifndef FOLENI_SCHEDULER_H
#define FOLENI_SCHEDULER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "libfoleni/config.h"
#include "libfoleni/error.h"
#include "libfoleni/msg.h"
#include "store/store.h"

#define SCHED_SERVICE        "foleni.scheduler"
#define SCHED_BATCH_MAX      1024       /* requests in one transaction */
#define SCHED_IDEM_TTL_S     (24 * 3600) /* how long a mutating reply is kept for retries */
#define SCHED_SECRET_MIN     32         /* bytes of ID-hashing secret, at least */
#define SCHED_SECRET_MAX     256
#define SCHED_RECENT_CALLS   10         /* calls shown on a board */

typedef struct sched sched_t;

/* Who sent a request, as far as the scheduler can tell. */
typedef enum {
    SCHED_ROLE_PUBLIC,                  /* a citizen-facing client (portal, kiosk) */
    SCHED_ROLE_COUNTER,                 /* a counter: may call tickets */
    SCHED_ROLE_ADMIN,                   /* an administrator: counters' rights and statistics */
} sched_role_t;

typedef struct {
    const char *counter_token;          /* demo stand-in for counter keys; NULL: none */
    const char *admin_token;
    const char *counter_keys_dir;       /* public certificates of counters; NULL: none */
    const char *admin_keys_dir;
} sched_auth_t;

/*  A scheduler over an open store and a loaded configuration (both borrowed:
 *  they must outlive it).  Upserts every office, service and counter of the
 *  configuration into the store (bookings in slots that no longer exist are
 *  reported in the log, never dropped), loads each office's time zone and the
 *  last event seq of each office.  secret: SCHED_SECRET_MIN..MAX bytes.
 *  NULL with err. */
sched_t *sched_new(store_t *store, const fl_config_t *config, const uint8_t *secret, size_t secret_len,
                   const sched_auth_t *auth, int64_t now, fl_error_t *err);

/*  Free; sets *self_p to NULL. */
void sched_destroy(sched_t **self_p);

/* One request of a batch, and what the batch makes of it. */
typedef struct {
    /* in */
    const void *body;                   /* msgpack request */
    size_t      len;
    const char *caller;                 /* CURVE key of the client, "" when plain */
    /* out, after sched_batch */
    uint8_t    *reply;                  /* msgpack reply (malloc'd; caller frees) */
    size_t      reply_len;
    bool        repeat;                 /* answered from the idempotency store */
    bool        refused;                /* the reply is an `error` */
} sched_request_t;

/* An event to publish after the batch's commit. */
typedef struct {
    char     topic[32];                 /* OFFICE.kind */
    uint8_t *body;                      /* msgpack `event` (malloc'd) */
    size_t   len;
} sched_event_t;

/*  Handle n requests (n <= SCHED_BATCH_MAX) in one durable transaction at
 *  `now`.  Every request gets a reply (an `error` for bad ones).  Fills *events
 *  with a malloc'd array of *nevents events to publish in order (free with
 *  sched_events_free).  Returns 0 when the batch committed; FL_E_STORE when
 *  the store failed (then every reply is an `error` with code `store` and
 *  nothing happened). */
int sched_batch(sched_t *self, sched_request_t *reqs, size_t n, int64_t now,
                sched_event_t **events, size_t *nevents);

void sched_events_free(sched_event_t *events, size_t n);

/* What the scheduler has done since it started (counts), and the largest
 * batch and longest write since the last sched_stats_take that reset them:
 * what an operator reads from the periodic "scheduler stats" log line. */
typedef struct {
    uint64_t batches;                   /* sched_batch calls that committed */
    uint64_t failed_batches;            /* ... that the store failed (every request refused) */
    uint64_t redone;                    /* batches run again with every request nested */
    uint64_t requests;                  /* requests handled */
    uint64_t refused;                   /* ... answered with an `error` */
    uint64_t repeats;                   /* ... answered from the idempotency store */
    uint64_t events;                    /* events handed out to publish */
    double   write_ms;                  /* time inside write transactions, commit and flush included */
    uint64_t batch_max;                 /* since the last reset */
    double   write_ms_max;              /* since the last reset */
} sched_stats_t;

/*  Copy the statistics into *out; with reset, start the interval maxima again. */
void sched_stats_take(sched_t *self, sched_stats_t *out, bool reset);

/*  Write the counters of sched_stats_t, the store's size and `now` (unix
 *  seconds) to path in the Prometheus text format, atomically (a file beside
 *  it, then rename).  Returns 0, or FL_E_IO (errno set) / FL_E_INVALID for a
 *  path too long.  See metrics.c. */
int sched_metrics_write(sched_t *self, const char *path, int64_t now);

/*  Periodic work at `now`: expire held bookings whose time is up (freeing
 *  their places), close tickets left waiting from an earlier day as
 *  "unserved", forget stored replies older than SCHED_IDEM_TTL_S, and
 *  delete the phone numbers of bookings whose slot ended more than
 *  phone_retention_days ago (a part of the bookings each tick).  Adds
 *  events like sched_batch.  Returns 0 or FL_E_STORE. */
int sched_tick(sched_t *self, int64_t now, sched_event_t **events, size_t *nevents);

/*  How many bookings each sched_tick looks at for phone numbers past the
 *  configuration's phone_retention_days (SCHED_PURGE_PER_TICK unless set;
 *  tests set fewer).  n >= 1. */
#define SCHED_PURGE_PER_TICK 500
#define SCHED_PURGE_REST_S   3600   /* after a round of all the bookings */
void sched_set_purge_per_tick(sched_t *self, size_t n);

/*  What a counter's CURVE key is bound to: the certificate's metadata
 *  "office" and "counter" (foleni-keygen --office --counter).  An empty office
 *  means any office; counter 0 any counter of it.  Tokens are never bound. */
typedef struct {
    char office[16];
    unsigned counter;
} sched_binding_t;

/*  The role a caller has; binding (may be NULL) gets what a counter key is
 *  bound to, or an empty binding. */
sched_role_t sched_role_of(const sched_t *self, const char *caller, const char *token, sched_binding_t *binding);

#endif
