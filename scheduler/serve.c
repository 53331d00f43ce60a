/*  serve.c — the scheduler's serving loop: a network thread and a store
 *  thread (serve.h says why).
 *
 *  Two hand-offs join them, both under one mutex:
 *
 *  - the queue, network → store: requests received and not yet taken.  The
 *    network thread appends whatever it drained from its socket and signals
 *    `wake`; the store thread takes up to a window's worth as its next batch.
 *    The broker never lets the scheduler hold more than its window of
 *    requests (queued, in a batch, or answered but not yet sent), so the
 *    queue cannot overflow; if a broker ever sent more, the extra ones are
 *    answered at once with an `unavailable` error.
 *  - the done list, store → network: answered batches (the requests with
 *    their replies, and the events to publish), in commit order.  The store
 *    thread appends one after each sched_batch or sched_tick and writes the
 *    eventfd that the network thread polls beside its socket.
 *
 *  The store thread fills an answered batch into a `served_t` that it takes
 *  from a small pool; the network thread gives it back after sending.  So a
 *  batch needs no allocation on the hot path, and memory running out can only
 *  make the store thread wait for a served_t to come back, never lose a reply.
 *
 *  Only the network thread touches the worker, the publisher and the
 *  requests' replies; only the store thread touches the sched_t and the store.
 *  A request's body is read by the store thread while the network thread owns
 *  the request: the body does not change until the request is answered.
 */
#include "scheduler/serve.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "libfoleni/bus.h"
#include "libfoleni/log.h"

/* Answered batches kept for reuse; more are allocated when the network
 * thread falls behind, and freed again beyond this. */
#define S_SPARE_MAX 4

/* One answered batch (or one round of periodic work: n == 0). */
typedef struct served {
    struct served *next;
    size_t n;
    sched_event_t *events;
    size_t nevents;
    struct {
        fl_request_t *req;
        uint8_t *reply;                 /* malloc'd by sched_batch */
        size_t len;
    } item[SCHED_BATCH_MAX];
} served_t;

struct sched_server {
    /* borrowed */
    sched_t *sched;
    store_t *store;
    fl_worker_t *worker;
    zsock_t *publisher;
    sched_server_options_t opts;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool lock_made, wake_made;          /* for destroy after a failed new */                /* the store thread waits on it: queue, spare, stopping */
    int done_fd;                        /* eventfd: the done list has something */
    /* under lock */
    fl_request_t *queue[SCHED_BATCH_MAX];
    size_t queued;
    served_t *done, *done_tail;
    served_t *spare;
    size_t nspare;
    bool stopping;

    /* the store thread's own */
    sched_request_t work[SCHED_BATCH_MAX];
    bool metrics_failing;
    /* the network thread's own */
    fl_request_t *drained[SCHED_BATCH_MAX];
    uint8_t *busy_reply;                /* the `unavailable` error for a request beyond the window */
    size_t busy_len;
};

/* ---- the store thread ---- */

/* A served_t from the pool, or a new one; waits (lock held) while memory is
 * short and the network thread still has one to give back.  NULL only when
 * stopping. */
static served_t *
s_take_served(sched_server_t *self)
{
    while (true) {
        served_t *s = self->spare;
        if (s) {
            self->spare = s->next;
            self->nspare--;
        } else
            s = malloc(sizeof *s);
        if (s) {
            s->next = NULL;
            s->n = 0;
            s->events = NULL;
            s->nevents = 0;
            return s;
        }
        if (self->stopping)
            return NULL;
        fl_log(FL_LOG_WARN, "out of memory for a batch's replies: waiting for the last batch's to be sent", NULL);
        pthread_cond_wait(&self->wake, &self->lock);
    }
}

/* Hand an answered batch to the network thread (lock not held). */
static void
s_post(sched_server_t *self, served_t *s)
{
    pthread_mutex_lock(&self->lock);
    if (self->done_tail)
        self->done_tail->next = s;
    else
        self->done = s;
    self->done_tail = s;
    pthread_mutex_unlock(&self->lock);
    uint64_t one = 1;
    /* only fails when the counter would overflow, and then it is readable anyway */
    (void) !write(self->done_fd, &one, sizeof one);
}

/* Run the requests taken from the queue: one batch with group commit, one
 * commit each without.  Each commit's replies are posted as soon as it
 * returns. */
static void
s_run(sched_server_t *self, fl_request_t **reqs, size_t n)
{
    size_t step = self->opts.group_commit ? n : 1;
    for (size_t first = 0; first < n; first += step) {
        size_t count = first + step <= n ? step : n - first;
        pthread_mutex_lock(&self->lock);
        served_t *s = s_take_served(self);
        pthread_mutex_unlock(&self->lock);
        if (!s) {                       /* stopping with no memory: let them go unanswered */
            for (size_t i = first; i < n; i++)
                fl_request_destroy(&reqs[i]);
            return;
        }
        for (size_t i = 0; i < count; i++) {
            const fl_part_t *body = &reqs[first + i]->parts[0];     /* always readable */
            self->work[i] = (sched_request_t) { .body = body->data, .len = body->size,
                                                .caller = reqs[first + i]->caller };
        }
        sched_batch(self->sched, self->work, count, self->opts.now(), &s->events, &s->nevents);
        for (size_t i = 0; i < count; i++) {
            s->item[i].req = reqs[first + i];
            s->item[i].reply = self->work[i].reply;
            s->item[i].len = self->work[i].reply_len;
        }
        s->n = count;
        s_post(self, s);
    }
}

/* The periodic "scheduler stats" line: counts since start, and the largest
 * batch and longest write transaction since the last line. */
static void
s_log_stats(sched_server_t *self)
{
    sched_stats_t st;
    sched_stats_take(self->sched, &st, true);
    store_stat_t ss = { 0 };
    store_stat(self->store, &ss, NULL);
    uint64_t writes = st.batches + st.failed_batches;
    fl_log(FL_LOG_INFO, "scheduler stats", FL_U("batches", st.batches), FL_U("requests", st.requests),
           FL_U("refused", st.refused), FL_U("repeats", st.repeats), FL_U("events", st.events),
           FL_U("failed_batches", st.failed_batches), FL_U("redone", st.redone),
           FL_U("batch_max", st.batch_max), FL_D("write_ms_max", st.write_ms_max),
           FL_D("write_ms_avg", writes ? st.write_ms / (double) writes : 0),
           FL_U("store_used_bytes", ss.used_bytes), NULL);
}

/* The metrics file: its time is the wall clock's (what a scraper compares it
 * with), not the scheduler's clock.  A failure is logged once, and the
 * recovery once. */
static void
s_write_metrics(sched_server_t *self)
{
    if (!self->opts.metrics_path)
        return;
    int rc = sched_metrics_write(self->sched, self->opts.metrics_path, (int64_t) time(NULL));
    if (rc && !self->metrics_failing)
        fl_log(FL_LOG_WARN, "cannot write the metrics file", FL_S("path", self->opts.metrics_path),
               FL_S("reason", strerror(errno)), NULL);
    else if (!rc && self->metrics_failing)
        fl_log(FL_LOG_INFO, "metrics file written again", FL_S("path", self->opts.metrics_path), NULL);
    self->metrics_failing = rc != 0;
}

/* Once a second: expire holds and the like, write the metrics file, and now
 * and then the stats line. */
static void
s_periodic(sched_server_t *self, int64_t *next_stats)
{
    sched_event_t *events;
    size_t nevents;
    if (sched_tick(self->sched, self->opts.now(), &events, &nevents) == 0 && nevents) {
        pthread_mutex_lock(&self->lock);
        served_t *s = s_take_served(self);
        pthread_mutex_unlock(&self->lock);
        if (s) {
            s->events = events;
            s->nevents = nevents;
            s_post(self, s);
        } else
            sched_events_free(events, nevents);
    } else if (nevents)
        sched_events_free(events, nevents);
    s_write_metrics(self);
    if (self->opts.stats_interval_s && zclock_mono() >= *next_stats) {
        s_log_stats(self);
        *next_stats = zclock_mono() + (int64_t) self->opts.stats_interval_s * 1000;
    }
}

static void *
s_store_thread(void *arg)
{
    sched_server_t *self = arg;
    size_t limit = self->opts.window;
    fl_request_t *reqs[SCHED_BATCH_MAX];
    int64_t next_tick = zclock_mono();      /* periodic work at once, as at every start */
    int64_t next_stats = zclock_mono() + (int64_t) self->opts.stats_interval_s * 1000;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        size_t n = 0;
        if (self->queued) {
            n = self->queued < limit ? self->queued : limit;
            memcpy(reqs, self->queue, n * sizeof *reqs);
            memmove(self->queue, self->queue + n, (self->queued - n) * sizeof *reqs);
            self->queued -= n;
        } else {
            int64_t wait_ms = next_tick - zclock_mono();
            if (wait_ms > 0) {
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += wait_ms / 1000;
                until.tv_nsec += (wait_ms % 1000) * 1000000;
                if (until.tv_nsec >= 1000000000) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&self->wake, &self->lock, &until);
                continue;                   /* look again: a request, a stop, or the time */
            }
        }
        pthread_mutex_unlock(&self->lock);
        if (n)
            s_run(self, reqs, n);
        if (zclock_mono() >= next_tick) {
            s_periodic(self, &next_stats);
            next_tick = zclock_mono() + 1000;
        }
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    s_write_metrics(self);
    return NULL;
}

/* ---- the network thread ---- */

/* Reply to and publish everything answered so far, in commit order; give the
 * served_t back. */
static void
s_send_done(sched_server_t *self)
{
    uint64_t count;
    (void) !read(self->done_fd, &count, sizeof count);     /* EAGAIN when nothing: fine */
    pthread_mutex_lock(&self->lock);
    served_t *list = self->done;
    self->done = self->done_tail = NULL;
    pthread_mutex_unlock(&self->lock);
    while (list) {
        served_t *s = list;
        list = s->next;
        for (size_t i = 0; i < s->n; i++) {
            fl_worker_reply_one(self->worker, &s->item[i].req, s->item[i].reply, s->item[i].len);
            free(s->item[i].reply);
        }
        for (size_t i = 0; i < s->nevents; i++)
            fl_bus_publish(self->publisher, s->events[i].topic, s->events[i].body, s->events[i].len);
        sched_events_free(s->events, s->nevents);
        pthread_mutex_lock(&self->lock);
        if (self->nspare < S_SPARE_MAX) {
            s->next = self->spare;
            self->spare = s;
            self->nspare++;
            s = NULL;
        }
        pthread_cond_signal(&self->wake);   /* the store thread may be waiting for one */
        pthread_mutex_unlock(&self->lock);
        free(s);
    }
}

/* Hand n drained requests to the store thread. */
static void
s_enqueue(sched_server_t *self, fl_request_t **reqs, size_t n)
{
    size_t over = 0;
    pthread_mutex_lock(&self->lock);
    size_t room = SCHED_BATCH_MAX - self->queued;
    size_t fit = n < room ? n : room;
    memcpy(self->queue + self->queued, reqs, fit * sizeof *reqs);
    self->queued += fit;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    for (size_t i = fit; i < n; i++, over++)
        fl_worker_reply_one(self->worker, &reqs[i], self->busy_reply, self->busy_len);
    if (over)
        fl_log(FL_LOG_WARN, "more requests than the window: answered unavailable", FL_U("requests", over), NULL);
}

int
sched_server_run(sched_server_t *self)
{
    pthread_t store_thread;
    if (pthread_create(&store_thread, NULL, s_store_thread, self) != 0) {
        fl_log(FL_LOG_ERROR, "cannot start the store thread", FL_S("reason", strerror(errno)), NULL);
        return FL_E_IO;
    }
    while (!zsys_interrupted) {
        /* take in what is there: without a request waiting this costs no system call */
        size_t n = 0;
        int rc = 0;
        while (n < SCHED_BATCH_MAX && (rc = fl_worker_recv(self->worker, &self->drained[n], 0)) == 0)
            n++;
        if (n)
            s_enqueue(self, self->drained, n);
        if (rc != 0 && rc != FL_E_TIMEOUT)
            break;                          /* interrupted */
        s_send_done(self);
        zmq_pollitem_t items[2] = { { NULL, self->done_fd, ZMQ_POLLIN, 0 } };
        int nitems = 1;
        zsock_t *sock = fl_worker_socket(self->worker);
        if (sock)
            items[nitems++] = (zmq_pollitem_t) { zsock_resolve(sock), 0, ZMQ_POLLIN, 0 };
        if (n == SCHED_BATCH_MAX)
            continue;                       /* more may be waiting */
        if (zmq_poll(items, nitems, fl_worker_next_timeout_ms(self->worker)) < 0 && errno != EINTR)
            break;
    }
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    pthread_join(store_thread, NULL);
    s_send_done(self);                      /* what was committed is answered */
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->queued; i++)
        fl_request_destroy(&self->queue[i]);
    self->queued = 0;
    self->stopping = false;                 /* another run may follow */
    pthread_mutex_unlock(&self->lock);
    return 0;
}

/* ---- life ---- */

sched_server_t *
sched_server_new(sched_t *sched, store_t *store, fl_worker_t *worker, zsock_t *publisher,
                 const sched_server_options_t *opts, fl_error_t *err)
{
    if (!opts->now || opts->window < 1 || opts->window > SCHED_BATCH_MAX) {
        fl_error_set(err, FL_E_INVALID, "window", "the window must be 1..%d", SCHED_BATCH_MAX);
        return NULL;
    }
    sched_server_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->sched = sched;
    self->store = store;
    self->worker = worker;
    self->publisher = publisher;
    self->opts = *opts;
    self->done_fd = -1;
    /* the store thread's waits are timed on the monotonic clock, as zclock_mono */
    pthread_condattr_t attr;
    self->lock_made = pthread_mutex_init(&self->lock, NULL) == 0;
    if (pthread_condattr_init(&attr) == 0) {
        self->wake_made = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0
                          && pthread_cond_init(&self->wake, &attr) == 0;
        pthread_condattr_destroy(&attr);
    }
    self->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    fl_msg_t *busy = fl_msg_new(FL_T_ERROR);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    bool busy_made = busy && fl_msg_set_str(busy, FL_F_CODE, fl_error_name(FL_E_UNAVAILABLE)) == 0
                     && fl_msg_set_str(busy, FL_F_MESSAGE, "the scheduler is holding too many requests; try again") == 0
                     && fl_msg_encode(busy, &buf, NULL) == 0;
    fl_msg_destroy(&busy);
    if (busy_made) {
        self->busy_reply = (uint8_t *) buf.data;        /* the buffer's own malloc'd bytes */
        self->busy_len = buf.size;
    } else
        msgpack_sbuffer_destroy(&buf);
    /* two served_t to start with: one being filled, one being sent */
    for (int i = 0; i < 2; i++) {
        served_t *s = malloc(sizeof *s);
        if (!s)
            break;
        s->next = self->spare;
        self->spare = s;
        self->nspare++;
    }
    if (!self->lock_made || !self->wake_made || self->done_fd < 0 || !busy_made || self->nspare < 2) {
        fl_error_set(err, FL_E_NOMEM, "", "cannot set up the scheduler's threads");
        sched_server_destroy(&self);
        return NULL;
    }
    return self;
}

void
sched_server_destroy(sched_server_t **self_p)
{
    sched_server_t *self = *self_p;
    if (!self)
        return;
    for (served_t *s = self->spare, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    if (self->done_fd >= 0)
        close(self->done_fd);
    free(self->busy_reply);
    if (self->wake_made)
        pthread_cond_destroy(&self->wake);
    if (self->lock_made)
        pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
