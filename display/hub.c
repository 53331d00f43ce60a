/*  hub.c — SSE fan-out: a formatted message ring per office, a cursor per
 *  stream, suspend when idle; a publish is written straight to the idle
 *  streams' sockets, shared with a helper thread.  See hub.h.
 */
#include "display/hub.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "libfoleni/error.h"

typedef struct {
    char    *data;
    size_t   len;
    bool     is_board;
    int64_t  origin_us;             /* when its cause arrived; 0: not timed */
} hub_msg_t;

typedef struct {
    hub_msg_t ring[DISP_HUB_RING];
    uint64_t head;                  /* index of the next message */
    uint64_t last_board;            /* index of the latest board (when has_board) */
    bool has_board;
    size_t nstreams;
} hub_office_t;

#define HUB_DIRECT_IOV 8            /* messages one direct write may carry */

static const char s_keepalive[] = ": keep-alive\n\n";
#define HUB_KA_LEN (sizeof s_keepalive - 1)

/* What a direct write did, left in the stream for the publishing thread. */
typedef enum { DIRECT_NONE, DIRECT_ALL, DIRECT_PART, DIRECT_FAIL, DIRECT_SKIP } direct_t;

typedef struct hub_stream {
    disp_hub_t *hub;
    size_t office;
    struct MHD_Connection *conn;
    int fd;                         /* the connection's socket; -1: MHD writes everything */
    uint64_t cursor;                /* next message to send */
    size_t offset;                  /* bytes of it already sent */
    bool started, preamble, suspended, ka_due;
    bool broken;                    /* a direct write failed: the reader ends the stream */
    size_t ka_sent;                 /* bytes of a keep-alive written directly, when not all were */
    int64_t last_write_ms;
    int64_t handed_origin_us;       /* origin of a timed message in the last block handed to MHD */
    /* the outcome of the last direct write, by whichever thread made it */
    direct_t result;
    size_t wrote;
    int64_t done_us, done_origin_us;    /* a timed message finished by it, and when */
    struct hub_stream *prev, *next;
} hub_stream_t;

/* The helper's job: 0 idle, then posted -> running -> done, or posted -> cancelled
 * when the publisher finished every write before the helper woke. */
enum { JOB_IDLE, JOB_POSTED, JOB_RUNNING, JOB_DONE, JOB_CANCELLED };

struct disp_hub {
    size_t noffices;
    hub_office_t *offices;
    int keepalive_ms, retry_ms;
    hub_stream_t *streams;
    size_t nstreams, nsuspended;
    int64_t keepalive_due_ms;       /* no idle stream needs a comment before this */
    bool stopping;
    disp_hub_stats_t stats;
    float *delays;                  /* ring of recent delivery times, seconds */
    size_t ndelays, next_delay;
    /* the idle streams of the publish in progress, shared out by work_next */
    hub_stream_t **work;
    size_t nwork, work_cap;
    atomic_size_t work_next;
    /* the helper thread (when writers is 2) */
    bool helper_on;
    pthread_t helper;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    uint64_t job_gen;               /* under lock: bumped for each job posted */
    bool quit;                      /* under lock */
    atomic_int job_state;
};

static int64_t
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_write_share(disp_hub_t *self);

/* The helper: waits for a job, takes it unless the publisher has cancelled it,
 * writes its share of the streams, says it is done. */
static void *
s_helper(void *arg)
{
    disp_hub_t *self = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&self->lock);
    while (true) {
        while (!self->quit && self->job_gen == seen)
            pthread_cond_wait(&self->wake, &self->lock);
        if (self->quit)
            break;
        seen = self->job_gen;
        pthread_mutex_unlock(&self->lock);
        int expect = JOB_POSTED;
        if (atomic_compare_exchange_strong(&self->job_state, &expect, JOB_RUNNING)) {
            s_write_share(self);
            atomic_store_explicit(&self->job_state, JOB_DONE, memory_order_release);
        }
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

disp_hub_t *
disp_hub_new(size_t noffices, int keepalive_ms, int retry_ms, int writers)
{
    assert(noffices >= 1 && noffices <= DISP_HUB_OFFICES_MAX && keepalive_ms > 0 && retry_ms > 0);
    assert(writers >= 0 && writers <= 2);
    disp_hub_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->offices = calloc(noffices, sizeof *self->offices);
    self->delays = calloc(DISP_HUB_LATENCY_SAMPLES, sizeof *self->delays);
    if (!self->offices || !self->delays) {
        free(self->offices);
        free(self->delays);
        free(self);
        return NULL;
    }
    self->noffices = noffices;
    self->keepalive_ms = keepalive_ms;
    self->retry_ms = retry_ms;
    atomic_init(&self->work_next, 0);
    atomic_init(&self->job_state, JOB_IDLE);
    if (writers == 0)
        writers = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    if (writers == 2) {
        if (pthread_mutex_init(&self->lock, NULL) != 0) {
            disp_hub_destroy(&self);
            return NULL;
        }
        if (pthread_cond_init(&self->wake, NULL) != 0) {
            pthread_mutex_destroy(&self->lock);
            disp_hub_destroy(&self);
            return NULL;
        }
        if (pthread_create(&self->helper, NULL, s_helper, self) != 0) {
            pthread_cond_destroy(&self->wake);
            pthread_mutex_destroy(&self->lock);
            disp_hub_destroy(&self);
            return NULL;
        }
        self->helper_on = true;
    }
    return self;
}

void
disp_hub_destroy(disp_hub_t **self_p)
{
    assert(self_p);
    disp_hub_t *self = *self_p;
    if (!self)
        return;
    assert(self->nsuspended == 0);
    if (self->helper_on) {
        pthread_mutex_lock(&self->lock);
        self->quit = true;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->helper, NULL);
        pthread_cond_destroy(&self->wake);
        pthread_mutex_destroy(&self->lock);
    }
    /* streams still listed belong to a daemon that was stopped: detach them */
    for (hub_stream_t *s = self->streams; s; s = s->next)
        s->hub = NULL;
    for (size_t o = 0; o < self->noffices; o++)
        for (size_t i = 0; i < DISP_HUB_RING; i++)
            free(self->offices[o].ring[i].data);
    free(self->offices);
    free(self->delays);
    free(self->work);
    free(self);
    *self_p = NULL;
}

/* ---- streams ---- */

static void
s_resume(disp_hub_t *self, hub_stream_t *s)
{
    assert(s->suspended);
    s->suspended = false;
    self->nsuspended--;
    MHD_resume_connection(s->conn);
}

static void
s_record_delay(disp_hub_t *self, int64_t delay_us)
{
    double d = (double) delay_us / 1e6;
    self->delays[self->next_delay] = (float) d;
    self->next_delay = (self->next_delay + 1) % DISP_HUB_LATENCY_SAMPLES;
    if (self->ndelays < DISP_HUB_LATENCY_SAMPLES)
        self->ndelays++;
    self->stats.deliveries++;
    self->stats.delivery_sum_s += d;
}

/* MHD asks for the stream's next bytes. */
static ssize_t
s_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void) pos;
    hub_stream_t *s = cls;
    disp_hub_t *self = s->hub;
    if (!self || self->stopping)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->broken)                          /* a direct write failed: MHD closes the connection */
        return MHD_CONTENT_READER_END_WITH_ERROR;
    hub_office_t *o = &self->offices[s->office];
    /* MHD asks for more only once the last block is written to the socket:
     * that is when a call handed over last time reached this screen's socket */
    if (s->handed_origin_us) {
        s_record_delay(self, s_now_us() - s->handed_origin_us);
        s->handed_origin_us = 0;
    }
    size_t n = 0;
    if (s->ka_sent) {                       /* the rest of a keep-alive the socket took only part of */
        n = HUB_KA_LEN - s->ka_sent < max ? HUB_KA_LEN - s->ka_sent : max;
        memcpy(buf, s_keepalive + s->ka_sent, n);
        s->ka_sent = (s->ka_sent + n) % HUB_KA_LEN;
        if (s->ka_sent)
            return (ssize_t) n;
    }
    if (!s->preamble) {                     /* how soon the browser reconnects */
        int len = snprintf(buf, max, "retry: %d\n\n", self->retry_ms);
        if (len < 0 || (size_t) len >= max)
            return 0;                       /* MHD gives a whole block; never happens */
        n = (size_t) len;
        s->preamble = true;
    }
    if (!s->started) {                      /* the whole board first, then what follows */
        s->cursor = o->has_board ? o->last_board : o->head;
        s->started = true;
    }
    while (n < max) {
        if (o->head - s->cursor > DISP_HUB_RING) {   /* fell off the ring */
            if (s->offset) {
                self->stats.dropped++;
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            s->cursor = o->has_board && o->head - o->last_board <= DISP_HUB_RING ? o->last_board : o->head;
            self->stats.lagged++;
        }
        if (s->cursor == o->head)
            break;
        const hub_msg_t *m = &o->ring[s->cursor % DISP_HUB_RING];
        size_t take = m->len - s->offset < max - n ? m->len - s->offset : max - n;
        memcpy(buf + n, m->data + s->offset, take);
        n += take;
        s->offset += take;
        if (s->offset == m->len) {
            if (m->origin_us)
                s->handed_origin_us = m->origin_us;
            s->cursor++;
            s->offset = 0;
        }
    }
    if (n == 0 && s->ka_due && max >= HUB_KA_LEN) {
        memcpy(buf, s_keepalive, HUB_KA_LEN);
        n = HUB_KA_LEN;
        self->stats.keepalives++;
    }
    s->ka_due = false;
    if (n == 0) {                           /* idle: sleep until publish or keep-alive */
        s->suspended = true;
        self->nsuspended++;
        if (s->last_write_ms + self->keepalive_ms < self->keepalive_due_ms)
            self->keepalive_due_ms = s->last_write_ms + self->keepalive_ms;
        MHD_suspend_connection(s->conn);
        return 0;
    }
    s->last_write_ms = s_now_us() / 1000;
    self->stats.bytes += n;
    return (ssize_t) n;
}

/* MHD frees the response: the stream has ended. */
static void
s_free(void *cls)
{
    hub_stream_t *s = cls;
    disp_hub_t *self = s->hub;
    if (self) {
        if (s->suspended)                   /* cannot happen: MHD frees only running connections */
            self->nsuspended--;
        if (s->prev)
            s->prev->next = s->next;
        else
            self->streams = s->next;
        if (s->next)
            s->next->prev = s->prev;
        self->nstreams--;
        self->offices[s->office].nstreams--;
        self->stats.closed++;
    }
    free(s);
}

enum MHD_Result
disp_hub_open(disp_hub_t *self, size_t office, struct MHD_Connection *connection)
{
    assert(self && office < self->noffices && connection);
    if (self->stopping)
        return MHD_NO;
    if (self->nstreams + 1 > self->work_cap) {     /* room to list every stream in a publish */
        size_t cap = self->work_cap ? self->work_cap * 2 : 64;
        hub_stream_t **work = realloc(self->work, cap * sizeof *work);
        if (!work)
            return MHD_NO;
        self->work = work;
        self->work_cap = cap;
    }
    hub_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    s->hub = self;
    s->office = office;
    s->conn = connection;
    s->last_write_ms = s_now_us() / 1000;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, DISP_HUB_BLOCK, s_read, s, s_free);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    /* The body is the raw SSE text until the connection closes (no chunked
     * framing), so the hub may append to it on the socket itself (hub.h).
     * Should MHD refuse, it frames the body and only it may write. */
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->fd = info && MHD_set_response_options(r, MHD_RF_HTTP_VERSION_1_0_ONLY, MHD_RO_END) == MHD_YES
                ? info->connect_fd : -1;
    /* linked before the free callback can run */
    s->next = self->streams;
    if (self->streams)
        self->streams->prev = s;
    self->streams = s;
    self->nstreams++;
    self->offices[office].nstreams++;
    self->stats.opened++;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");     /* a proxy in front must not buffer */
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(connection, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- writing to idle streams ---- */

/* Write what stream s lacks straight to its socket, without blocking.  Runs in
 * the flushing thread or the helper: it reads the rings (which nobody changes
 * meanwhile) and changes only s. */
static void
s_direct(const disp_hub_t *self, hub_stream_t *s)
{
    const hub_office_t *o = &self->offices[s->office];
    s->result = DIRECT_NONE;
    s->wrote = 0;
    s->done_origin_us = 0;
    if (s->cursor == o->head)
        return;
    if (o->head - s->cursor > DISP_HUB_RING) {     /* fell off the ring: the reader decides */
        s->result = DIRECT_SKIP;
        return;
    }
    struct iovec iov[HUB_DIRECT_IOV];
    size_t n = 0, off = s->offset;
    for (uint64_t c = s->cursor; c < o->head && n < HUB_DIRECT_IOV; c++, n++, off = 0) {
        const hub_msg_t *m = &o->ring[c % DISP_HUB_RING];
        iov[n] = (struct iovec) { .iov_base = m->data + off, .iov_len = m->len - off };
    }
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
    ssize_t w = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    int64_t t = s_now_us();                 /* the bytes are the kernel's now */
    if (w < 0) {
        s->result = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? DIRECT_PART : DIRECT_FAIL;
        return;
    }
    s->wrote = (size_t) w;
    for (size_t left = (size_t) w; left;) {
        const hub_msg_t *m = &o->ring[s->cursor % DISP_HUB_RING];
        size_t rest = m->len - s->offset;
        if (left < rest) {
            s->offset += left;
            break;
        }
        left -= rest;
        s->offset = 0;
        s->cursor++;
        if (m->origin_us) {
            s->done_origin_us = m->origin_us;
            s->done_us = t;
        }
    }
    s->result = s->cursor == o->head ? DIRECT_ALL : DIRECT_PART;
}

/* Take streams from the work list until none is left. */
static void
s_write_share(disp_hub_t *self)
{
    size_t i;
    while ((i = atomic_fetch_add_explicit(&self->work_next, 1, memory_order_relaxed)) < self->nwork)
        s_direct(self, self->work[i]);
}

/* What was published reaches the office's idle streams: each is written
 * directly, by this thread and the helper together when there are many; a
 * stream whose socket did not take it all is resumed, and MHD writes the rest. */
static void
s_fan_out(disp_hub_t *self, size_t office)
{
    self->nwork = 0;
    for (hub_stream_t *s = self->streams, *next; s; s = next) {
        next = s->next;
        if (s->office != office || !s->suspended)
            continue;                       /* a running stream's reader will send it */
        if (s->fd < 0 || s->broken)
            s_resume(self, s);
        else
            self->work[self->nwork++] = s;
    }
    if (!self->nwork)
        return;
    bool shared = self->helper_on && self->nwork >= DISP_HUB_SHARE_MIN;
    atomic_store_explicit(&self->work_next, 0, memory_order_relaxed);
    if (shared) {
        atomic_store_explicit(&self->job_state, JOB_POSTED, memory_order_release);
        pthread_mutex_lock(&self->lock);
        self->job_gen++;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->lock);
    }
    s_write_share(self);
    if (shared) {
        /* every stream is taken; the helper is either not started (cancel its
         * job) or finishing its last write (wait for it) */
        int expect = JOB_POSTED;
        if (!atomic_compare_exchange_strong(&self->job_state, &expect, JOB_CANCELLED))
            while (atomic_load_explicit(&self->job_state, memory_order_acquire) != JOB_DONE)
                sched_yield();
    }
    int64_t now_ms = s_now_us() / 1000;
    for (size_t i = 0; i < self->nwork; i++) {
        hub_stream_t *s = self->work[i];
        if (s->result == DIRECT_NONE)
            continue;
        if (s->result == DIRECT_SKIP) {
            s_resume(self, s);
            continue;
        }
        self->stats.direct++;
        self->stats.bytes += s->wrote;
        if (s->wrote)
            s->last_write_ms = now_ms;
        if (s->done_origin_us)
            s_record_delay(self, s->done_us - s->done_origin_us);
        if (s->result == DIRECT_FAIL) {     /* gone: the reader ends it, MHD closes it */
            s->broken = true;
            s_resume(self, s);
        } else if (s->result == DIRECT_PART) {
            self->stats.direct_short++;
            s_resume(self, s);
        }
    }
    self->nwork = 0;
}

/* ---- publishing ---- */

int
disp_hub_publish(disp_hub_t *self, size_t office, const char *event, uint64_t id, const char *data,
                 int64_t origin_us, bool is_board)
{
    assert(self && office < self->noffices && event && data);
    size_t cap = strlen(event) + strlen(data) + 64;
    if (cap > DISP_HUB_MSG_MAX)
        return FL_E_TOO_LONG;
    char *text = malloc(cap);
    if (!text)
        return FL_E_NOMEM;
    int len = id ? snprintf(text, cap, "event: %s\nid: %llu\ndata: %s\n\n", event, (unsigned long long) id, data)
                 : snprintf(text, cap, "event: %s\ndata: %s\n\n", event, data);
    assert(len > 0 && (size_t) len < cap);
    hub_office_t *o = &self->offices[office];
    hub_msg_t *m = &o->ring[o->head % DISP_HUB_RING];
    free(m->data);
    *m = (hub_msg_t) { .data = text, .len = (size_t) len, .is_board = is_board, .origin_us = origin_us };
    if (is_board) {
        o->last_board = o->head;
        o->has_board = true;
    }
    o->head++;
    self->stats.messages++;
    return 0;
}

void
disp_hub_flush(disp_hub_t *self, size_t office)
{
    assert(self && office < self->noffices);
    s_fan_out(self, office);
}

/* A keep-alive comment on idle stream s: written directly when its socket
 * takes it (the stream stays suspended), else by MHD once resumed. */
static void
s_keepalive_one(disp_hub_t *self, hub_stream_t *s)
{
    if (s->fd < 0 || s->cursor != self->offices[s->office].head) {
        s->ka_due = true;
        s_resume(self, s);
        return;
    }
    ssize_t w = send(s->fd, s_keepalive, HUB_KA_LEN, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            s->ka_due = true;
        else
            s->broken = true;               /* a screen that is gone: the reader ends the stream */
        s_resume(self, s);
        return;
    }
    self->stats.keepalives++;
    self->stats.bytes += (uint64_t) w;
    if ((size_t) w < HUB_KA_LEN) {          /* the reader writes the rest */
        s->ka_sent = (size_t) w;
        s_resume(self, s);
    }
}

void
disp_hub_keepalive(disp_hub_t *self, int64_t now_ms)
{
    assert(self);
    if (now_ms < self->keepalive_due_ms)
        return;                             /* the loop calls this often: most calls end here */
    int64_t next_due = now_ms + self->keepalive_ms;
    for (hub_stream_t *s = self->streams, *next; s; s = next) {
        next = s->next;
        if (!s->suspended)
            continue;
        if (now_ms - s->last_write_ms >= self->keepalive_ms) {
            s->last_write_ms = now_ms;      /* one comment per period even if MHD is slow to run */
            s_keepalive_one(self, s);
        } else if (s->last_write_ms + self->keepalive_ms < next_due)
            next_due = s->last_write_ms + self->keepalive_ms;
    }
    self->keepalive_due_ms = next_due;
}

int
disp_hub_next_ms(const disp_hub_t *self, int64_t now_ms)
{
    assert(self);
    int64_t left = self->keepalive_due_ms - now_ms;
    return left < 0 ? 0 : left > self->keepalive_ms ? self->keepalive_ms : (int) left;
}

void
disp_hub_stop(disp_hub_t *self)
{
    assert(self);
    self->stopping = true;
    for (hub_stream_t *s = self->streams, *next; s; s = next) {
        next = s->next;
        if (s->suspended)
            s_resume(self, s);
    }
}

size_t
disp_hub_streams(const disp_hub_t *self)
{
    assert(self);
    return self->nstreams;
}

size_t
disp_hub_suspended(const disp_hub_t *self)
{
    assert(self);
    return self->nsuspended;
}

size_t
disp_hub_office_streams(const disp_hub_t *self, size_t office)
{
    assert(self && office < self->noffices);
    return self->offices[office].nstreams;
}

const disp_hub_stats_t *
disp_hub_stats(const disp_hub_t *self)
{
    assert(self);
    return &self->stats;
}

static int
s_cmp_float(const void *a, const void *b)
{
    float x = *(const float *) a, y = *(const float *) b;
    return x < y ? -1 : x > y;
}

double
disp_hub_delivery_quantile(const disp_hub_t *self, double q)
{
    assert(self && q >= 0 && q <= 1);
    if (!self->ndelays)
        return 0;
    float *sorted = malloc(self->ndelays * sizeof *sorted);
    if (!sorted)
        return 0;
    memcpy(sorted, self->delays, self->ndelays * sizeof *sorted);
    qsort(sorted, self->ndelays, sizeof *sorted, s_cmp_float);
    size_t i = (size_t) (q * (double) (self->ndelays - 1) + 0.5);
    double v = sorted[i];
    free(sorted);
    return v;
}
