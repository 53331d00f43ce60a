/*  hub.c — SSE fan-out: a formatted message ring per office, a cursor per
 *  stream, suspend when idle, resume on publish or keep-alive.  See hub.h.
 */
#include "display/hub.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

typedef struct hub_stream {
    disp_hub_t *hub;
    size_t office;
    struct MHD_Connection *conn;
    uint64_t cursor;                /* next message to send */
    size_t offset;                  /* bytes of it already sent */
    bool started, preamble, suspended, ka_due;
    int64_t last_write_ms;
    int64_t handed_origin_us;       /* origin of a timed message in the last block handed to MHD */
    struct hub_stream *prev, *next;
} hub_stream_t;

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
};

static int64_t
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

disp_hub_t *
disp_hub_new(size_t noffices, int keepalive_ms, int retry_ms)
{
    assert(noffices >= 1 && noffices <= DISP_HUB_OFFICES_MAX && keepalive_ms > 0 && retry_ms > 0);
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
    /* streams still listed belong to a daemon that was stopped: detach them */
    for (hub_stream_t *s = self->streams; s; s = s->next)
        s->hub = NULL;
    for (size_t o = 0; o < self->noffices; o++)
        for (size_t i = 0; i < DISP_HUB_RING; i++)
            free(self->offices[o].ring[i].data);
    free(self->offices);
    free(self->delays);
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
s_record_delay(disp_hub_t *self, int64_t origin_us)
{
    double d = (double) (s_now_us() - origin_us) / 1e6;
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
    hub_office_t *o = &self->offices[s->office];
    /* MHD asks for more only once the last block is written to the socket:
     * that is when a call handed over last time reached this screen's socket */
    if (s->handed_origin_us) {
        s_record_delay(self, s->handed_origin_us);
        s->handed_origin_us = 0;
    }
    size_t n = 0;
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
    if (n == 0 && s->ka_due) {
        static const char ka[] = ": keep-alive\n\n";
        if (max >= sizeof ka - 1) {
            memcpy(buf, ka, sizeof ka - 1);
            n = sizeof ka - 1;
            self->stats.keepalives++;
        }
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
    for (hub_stream_t *s = self->streams, *next; s; s = next) {
        next = s->next;
        if (s->office == office && s->suspended)
            s_resume(self, s);
    }
    return 0;
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
            s->ka_due = true;
            s->last_write_ms = now_ms;      /* one comment per period even if MHD is slow to run */
            s_resume(self, s);
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
