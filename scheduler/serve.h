/*  serve.h — the scheduler's serving loop, on two threads.
 *
 *  The thread that calls sched_server_run (the network thread) owns the
 *  broker worker socket and the event publisher: it takes requests in, sends
 *  replies and publishes events.  A second thread (the store thread) owns the
 *  sched_t, and through it the store's write transactions: it takes every
 *  request waiting (up to the window) as one batch, runs it in one durable
 *  transaction (sched_batch), and hands the answered batch back.  It also runs
 *  the periodic work (sched_tick), writes the metrics file and logs the
 *  periodic stats line.
 *
 *  Why two threads: in one, a batch's time is its handlers, then its commit
 *  (which waits on the disk), then sending its replies and events, then
 *  receiving the next batch, one after the other.  Here the store thread
 *  starts the next batch, already received, the moment a commit returns,
 *  while the network thread sends the replies of the one before.  Nothing is
 *  answered before its commit: a batch reaches the network thread only after
 *  sched_batch returned.  docs/scheduler.md ("Two threads") has the figures.
 */
#ifndef FOLENI_SCHED_SERVE_H
#define FOLENI_SCHED_SERVE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "libfoleni/worker.h"
#include "scheduler/scheduler.h"

typedef struct {
    unsigned window;                    /* requests in one batch, 1..SCHED_BATCH_MAX */
    bool group_commit;                  /* false: one commit per request (benchmarks) */
    int64_t (*now)(void);               /* the scheduler's clock, UTC seconds */
    const char *metrics_path;           /* the metrics file, or NULL */
    int stats_interval_s;               /* the "scheduler stats" log line, 0 never */
} sched_server_options_t;

typedef struct sched_server sched_server_t;

/*  A server over a scheduler, its store, a connected worker and an event
 *  publisher (all borrowed: they must outlive it, and while it runs only its
 *  threads may use them).  NULL with err. */
sched_server_t *sched_server_new(sched_t *sched, store_t *store, fl_worker_t *worker, zsock_t *publisher,
                                 const sched_server_options_t *opts, fl_error_t *err);

/*  Serve until interrupted (zsys_interrupted, or the worker reports an
 *  interruption).  Starts the store thread and joins it before returning;
 *  every batch it committed is answered before this returns, and requests
 *  not yet handled are let go unanswered (their clients retry, and request
 *  ids make a retry safe).  Returns 0, or FL_E_IO when the worker failed or
 *  the store thread could not start. */
int sched_server_run(sched_server_t *self);

/*  Free; sets *self_p to NULL.  Not while sched_server_run runs. */
void sched_server_destroy(sched_server_t **self_p);

#endif
