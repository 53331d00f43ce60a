/*  display.c — the hall board service's loop: bus events and snapshot
 *  replies in, board updates out to the SSE hub and the terminal.  See
 *  display.h.
 */
#include "display/display.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "display/board.h"
#include "display/http.h"
#include "display/tty.h"
#include "display/www.h"
#include "libfoleni/bus.h"
#include "libfoleni/client.h"
#include "libfoleni/log.h"
#include "libfoleni/msg.h"

typedef enum { REQ_SNAPSHOT, REQ_SERVICES, REQ_OFFICES } req_kind_t;

typedef struct {
    char rid[FL_RID_MAX + 1];
    req_kind_t kind;
    size_t office;
    bool used;
} request_t;

typedef struct {
    char code[DISP_OFFICE_MAX + 1];
    disp_clone_t *clone;
    disp_names_t names;
    bool have_names;
    int64_t names_due_ms;           /* when to ask for names again */
    bool names_in_flight;
    char status[16];                /* status shown by the last published board */
    bool dirty;                     /* the board changed and has not been pushed yet */
    int64_t due_ms;                 /* when to push it */
} office_t;

struct disp {
    disp_options_t opts;
    char service[64];
    office_t offices[DISP_HUB_OFFICES_MAX];
    size_t noffices;
    zsock_t *sub;
    fl_client_t *client;
    request_t requests[DISP_REQUESTS_MAX];
    uint64_t next_rid;
    disp_hub_t *hub;
    disp_www_t *www;
    disp_http_t *http;
    disp_tty_t *tty;
    int64_t next_tick_ms, next_draw_ms, offices_due_ms;
    bool offices_in_flight;
    /* counters for /metrics */
    uint64_t events_in, events_bad, events_foreign;
    int64_t started_ms;
};

static int64_t
s_mono_ms(void)
{
    return zclock_mono();
}

static int64_t
s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
disp_options_init(disp_options_t *opts)
{
    assert(opts);
    memset(opts, 0, sizeof *opts);
    opts->broker = "tcp://127.0.0.1:5555";
    opts->events = "tcp://127.0.0.1:5557";
    opts->tty_fd = -1;
}

/* ---- publishing a board ---- */

static char *
s_board_text(disp_t *self, size_t i)
{
    office_t *o = &self->offices[i];
    const disp_board_t *b = disp_clone_board(o->clone);
    const disp_names_t *names = o->have_names ? &o->names : NULL;
    const char *status = disp_clone_status(o->clone, s_mono_ms());
    int64_t now = (int64_t) time(NULL);
    return disp_board_text(b, names, status, now);
}

/* Show office i's board everywhere now: announcements first, then the board,
 * written to each idle screen together (one write per screen). */
static void
s_push(disp_t *self, size_t i, const disp_update_t *u, int64_t origin_us)
{
    office_t *o = &self->offices[i];
    const disp_board_t *b = disp_clone_board(o->clone);
    for (size_t k = 0; u && k < u->nannounce; k++) {
        if (self->hub) {
            char *text = disp_call_text(o->code, &u->announce[k], u->recall[k], u->announce_seq[k]);
            if (text)
                disp_hub_publish(self->hub, i, "call", 0, text, origin_us, false);
            free(text);
        }
        if (self->tty)
            disp_tty_announce(self->tty, &u->announce[k]);
        fl_log(FL_LOG_DEBUG, u->recall[k] ? "recall" : "call", FL_S("office", o->code),
               FL_S("ticket", u->announce[k].ticket), FL_U("counter", u->announce[k].counter), NULL);
    }
    o->dirty = false;
    snprintf(o->status, sizeof o->status, "%s", disp_clone_status(o->clone, s_mono_ms()));
    if (self->hub) {
        char *text = s_board_text(self, i);
        if (text)
            disp_hub_publish(self->hub, i, "board", b->seq, text, 0, true);
        else
            fl_log(FL_LOG_WARN, "board not published: out of memory", FL_S("office", o->code), NULL);
        free(text);
        disp_hub_flush(self->hub, i);
    }
    if (self->tty && i == 0)
        disp_tty_draw(self->tty, b, o->have_names ? &o->names : NULL, o->status, (int64_t) time(NULL));
}

/* Office i's board changed.  A call (or a change of status) goes out at once;
 * other changes (a walk-in, a finished ticket, fresher estimates) are pushed
 * at most DISP_BOARD_COALESCE_MS later, together with whatever follows them,
 * so a busy hall does not cost a write to every screen per event. */
static void
s_publish(disp_t *self, size_t i, const disp_update_t *u, int64_t origin_us)
{
    office_t *o = &self->offices[i];
    int64_t now = s_mono_ms();
    if ((u && u->nannounce) || strcmp(o->status, disp_clone_status(o->clone, now)) != 0) {
        s_push(self, i, u, origin_us);
        return;
    }
    if (!o->dirty) {
        o->dirty = true;
        o->due_ms = now + DISP_BOARD_COALESCE_MS;
    }
}

/* ---- requests to the scheduler ---- */

static int
s_send(disp_t *self, req_kind_t kind, size_t office)
{
    request_t *slot = NULL;
    for (size_t i = 0; i < DISP_REQUESTS_MAX && !slot; i++)
        if (!self->requests[i].used)
            slot = &self->requests[i];
    if (!slot)
        return FL_E_FULL;
    static const fl_type_t types[] = { [REQ_SNAPSHOT] = FL_T_SNAPSHOT, [REQ_SERVICES] = FL_T_LIST_SERVICES,
                                       [REQ_OFFICES] = FL_T_LIST_OFFICES };
    fl_msg_t *m = fl_msg_new(types[kind]);
    if (!m)
        return FL_E_NOMEM;
    if (kind != REQ_OFFICES)
        fl_msg_set_str(m, FL_F_OFFICE, self->offices[office].code);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = fl_msg_encode(m, &buf, NULL);
    fl_msg_destroy(&m);
    if (rc == 0) {
        snprintf(slot->rid, sizeof slot->rid, "display-%d-%016llx", (int) getpid(), (unsigned long long) ++self->next_rid);
        rc = fl_client_send(self->client, self->service, slot->rid, buf.data, buf.size);
    }
    msgpack_sbuffer_destroy(&buf);
    if (rc == 0) {
        slot->used = true;
        slot->kind = kind;
        slot->office = office;
    }
    return rc;
}

static void
s_timers(disp_t *self, int64_t now)
{
    for (size_t i = 0; i < self->noffices; i++) {
        office_t *o = &self->offices[i];
        int why = disp_clone_poll(o->clone, now);
        if (why >= 0) {
            fl_log(why == DISP_WHY_SILENCE || why == DISP_WHY_SETTLE ? FL_LOG_DEBUG : FL_LOG_INFO, "snapshot",
                   FL_S("office", o->code), FL_S("reason", disp_why_name((disp_why_t) why)),
                   FL_U("seq", disp_clone_board(o->clone)->seq), NULL);
            if (s_send(self, REQ_SNAPSHOT, i) != 0)
                disp_clone_snapshot_failed(o->clone, now);
        }
        if (!o->names_in_flight && now >= o->names_due_ms) {
            if (s_send(self, REQ_SERVICES, i) == 0)
                o->names_in_flight = true;
            else
                o->names_due_ms = now + 1000;
        }
        /* a board whose status changed by itself (a gap waiting too long), or whose push is due */
        if (disp_clone_phase(o->clone) != DISP_CLONE_STARTING
            && (strcmp(o->status, disp_clone_status(o->clone, now)) || (o->dirty && now >= o->due_ms)))
            s_push(self, i, NULL, 0);
    }
    if (!self->offices_in_flight && now >= self->offices_due_ms) {
        if (s_send(self, REQ_OFFICES, 0) == 0)
            self->offices_in_flight = true;
        else
            self->offices_due_ms = now + 1000;
    }
    if (self->hub && now >= self->next_tick_ms) {     /* server time, and proof the stream lives */
        char text[64];
        snprintf(text, sizeof text, "{\"now\":%lld}", (long long) time(NULL));
        for (size_t i = 0; i < self->noffices; i++) {
            disp_hub_publish(self->hub, i, "tick", 0, text, 0, false);
            disp_hub_flush(self->hub, i);
        }
        self->next_tick_ms = now + DISP_TICK_MS;
    }
    if (self->hub)
        disp_hub_keepalive(self->hub, now);
    if (self->tty && now >= self->next_draw_ms) {      /* the clock */
        office_t *o = &self->offices[0];
        disp_tty_draw(self->tty, disp_clone_board(o->clone), o->have_names ? &o->names : NULL,
                      disp_clone_status(o->clone, now), (int64_t) time(NULL));
        self->next_draw_ms = now + 1000;
    }
}

static void
s_on_reply(disp_t *self, fl_reply_t *r)
{
    request_t *req = NULL;
    for (size_t i = 0; i < DISP_REQUESTS_MAX && !req; i++)
        if (self->requests[i].used && !strcmp(self->requests[i].rid, r->rid))
            req = &self->requests[i];
    if (!req)
        return;
    req->used = false;
    office_t *o = &self->offices[req->office];
    int64_t now = s_mono_ms();
    fl_msg_t *m = NULL;
    fl_error_t err = { 0 };
    if (r->status == 0 && r->nparts) {
        const fl_part_t *f = &r->parts[0];
        m = fl_msg_decode(f->data, f->size, &err);
    } else
        fl_error_set(&err, r->status ? r->status : FL_E_INVALID, "", "no reply");
    bool error_reply = m && fl_msg_type(m) == FL_T_ERROR;
    if (error_reply)
        fl_error_set(&err, fl_error_from_name(fl_msg_str(m, FL_F_CODE)), "", "%s", fl_msg_str(m, FL_F_MESSAGE));
    switch (req->kind) {
    case REQ_SNAPSHOT:
        if (m && !error_reply) {
            disp_update_t u;
            disp_clone_snapshot(o->clone, m, now, &u);
            if (u.changed || u.nannounce || strcmp(o->status, disp_clone_status(o->clone, now)))
                s_publish(self, req->office, &u, 0);
        } else {
            fl_log(FL_LOG_WARN, "snapshot failed", FL_S("office", o->code), FL_S("reason", err.message), NULL);
            disp_clone_snapshot_failed(o->clone, now);
            if (strcmp(o->status, disp_clone_status(o->clone, now)))
                s_publish(self, req->office, NULL, 0);
        }
        break;
    case REQ_SERVICES:
        o->names_in_flight = false;
        if (m && disp_names_services(&o->names, m) == 0) {
            o->have_names = true;
            o->names_due_ms = now + DISP_NAMES_REFRESH_MS;
            if (disp_clone_phase(o->clone) != DISP_CLONE_STARTING)
                s_publish(self, req->office, NULL, 0);
        } else {
            fl_log(FL_LOG_WARN, "service names failed", FL_S("office", o->code), FL_S("reason", err.message), NULL);
            o->names_due_ms = now + 5000;
        }
        break;
    case REQ_OFFICES:
        self->offices_in_flight = false;
        self->offices_due_ms = now + (m && !error_reply ? DISP_NAMES_REFRESH_MS : 5000);
        for (size_t i = 0; m && !error_reply && i < self->noffices; i++) {
            office_t *x = &self->offices[i];
            if (disp_names_office(&x->names, m, x->code) != 0)
                fl_log(FL_LOG_WARN, "the scheduler does not know this office", FL_S("office", x->code), NULL);
            else if (disp_clone_phase(x->clone) != DISP_CLONE_STARTING)
                s_publish(self, i, NULL, 0);
        }
        break;
    }
    fl_msg_destroy(&m);
}

/* ---- events ---- */

static void
s_on_event(disp_t *self, zmsg_t *msg, int64_t origin_us)
{
    self->events_in++;
    zframe_t *body = zmsg_size(msg) == 2 ? zmsg_last(msg) : NULL;
    fl_msg_t *e = body ? fl_msg_decode(zframe_data(body), zframe_size(body), NULL) : NULL;
    if (!e || fl_msg_type(e) != FL_T_EVENT) {
        self->events_bad++;
        fl_msg_destroy(&e);
        return;
    }
    const char *code = fl_msg_str(e, FL_F_OFFICE);
    for (size_t i = 0; i < self->noffices; i++) {
        if (strcmp(self->offices[i].code, code) != 0)
            continue;
        disp_update_t u;
        disp_clone_event(self->offices[i].clone, &e, s_mono_ms(), &u);
        if (u.changed || u.nannounce)
            s_publish(self, i, &u, origin_us);
        return;
    }
    self->events_foreign++;             /* a longer code with our prefix */
    fl_msg_destroy(&e);
}

/* ---- HTTP callbacks ---- */

static int
s_app_office(void *arg, const char *code)
{
    disp_t *self = arg;
    if (!code)
        return 0;
    for (size_t i = 0; i < self->noffices; i++)
        if (!strcmp(self->offices[i].code, code))
            return (int) i;
    return -1;
}

static char *
s_app_board(void *arg, size_t office)
{
    return s_board_text(arg, office);
}

static bool
s_app_healthy(void *arg)
{
    disp_t *self = arg;
    int64_t now = s_mono_ms();
    for (size_t i = 0; i < self->noffices; i++)
        if (strcmp(disp_clone_status(self->offices[i].clone, now), "live") != 0)
            return false;
    return true;
}

static char *
s_app_metrics(void *arg)
{
    disp_t *self = arg;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    const disp_hub_stats_t *h = disp_hub_stats(self->hub);
    const disp_http_stats_t *hs = disp_http_stats(self->http);
    fprintf(f, "# HELP foleni_display_boards Event streams (screens) connected now.\n"
               "# TYPE foleni_display_boards gauge\nfoleni_display_boards %zu\n",
            disp_hub_streams(self->hub));
    fprintf(f, "# HELP foleni_display_boards_idle Streams suspended, waiting for the next update.\n"
               "# TYPE foleni_display_boards_idle gauge\nfoleni_display_boards_idle %zu\n",
            disp_hub_suspended(self->hub));
    fprintf(f, "# TYPE foleni_display_streams_opened_total counter\nfoleni_display_streams_opened_total %llu\n"
               "# TYPE foleni_display_streams_closed_total counter\nfoleni_display_streams_closed_total %llu\n"
               "# TYPE foleni_display_stream_messages_total counter\nfoleni_display_stream_messages_total %llu\n"
               "# TYPE foleni_display_stream_bytes_total counter\nfoleni_display_stream_bytes_total %llu\n"
               "# TYPE foleni_display_keepalives_total counter\nfoleni_display_keepalives_total %llu\n"
               "# TYPE foleni_display_streams_lagged_total counter\nfoleni_display_streams_lagged_total %llu\n"
               "# TYPE foleni_display_streams_dropped_total counter\nfoleni_display_streams_dropped_total %llu\n",
            (unsigned long long) h->opened, (unsigned long long) h->closed, (unsigned long long) h->messages,
            (unsigned long long) h->bytes, (unsigned long long) h->keepalives, (unsigned long long) h->lagged,
            (unsigned long long) h->dropped);
    fprintf(f, "# HELP foleni_display_direct_writes_total Writes of a message straight to an idle screen's socket.\n"
               "# TYPE foleni_display_direct_writes_total counter\nfoleni_display_direct_writes_total %llu\n"
               "# HELP foleni_display_direct_writes_short_total Direct writes the socket took only part of "
               "(the rest written by libmicrohttpd).\n"
               "# TYPE foleni_display_direct_writes_short_total counter\nfoleni_display_direct_writes_short_total %llu\n",
            (unsigned long long) h->direct, (unsigned long long) h->direct_short);
    fprintf(f, "# HELP foleni_display_delivery_seconds From an event's arrival to its call written to a screen's "
               "socket, per screen (recent %d).\n# TYPE foleni_display_delivery_seconds summary\n",
            DISP_HUB_LATENCY_SAMPLES);
    static const double qs[] = { 0.5, 0.9, 0.99, 1.0 };
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++)
        fprintf(f, "foleni_display_delivery_seconds{quantile=\"%g\"} %.6f\n", qs[k],
                disp_hub_delivery_quantile(self->hub, qs[k]));
    fprintf(f, "foleni_display_delivery_seconds_sum %.6f\nfoleni_display_delivery_seconds_count %llu\n",
            h->delivery_sum_s, (unsigned long long) h->deliveries);
    fprintf(f, "# TYPE foleni_display_bus_events_total counter\nfoleni_display_bus_events_total %llu\n"
               "# TYPE foleni_display_bus_events_bad_total counter\nfoleni_display_bus_events_bad_total %llu\n"
               "# TYPE foleni_display_http_requests_total counter\nfoleni_display_http_requests_total %llu\n",
            (unsigned long long) self->events_in, (unsigned long long) self->events_bad,
            (unsigned long long) hs->requests);
    fprintf(f, "# HELP foleni_display_seq The last event seq in each office's board.\n"
               "# TYPE foleni_display_seq gauge\n");
    for (size_t i = 0; i < self->noffices; i++)
        fprintf(f, "foleni_display_seq{office=\"%s\"} %llu\n", self->offices[i].code,
                (unsigned long long) disp_clone_board(self->offices[i].clone)->seq);
    fprintf(f, "# HELP foleni_display_live 1 when the office's board is live (not connecting or stale).\n"
               "# TYPE foleni_display_live gauge\n");
    for (size_t i = 0; i < self->noffices; i++)
        fprintf(f, "foleni_display_live{office=\"%s\"} %d\n", self->offices[i].code,
                !strcmp(disp_clone_status(self->offices[i].clone, s_mono_ms()), "live"));
    fprintf(f, "# HELP foleni_display_events_total Bus events by what the board did with them.\n"
               "# TYPE foleni_display_events_total counter\n");
    for (size_t i = 0; i < self->noffices; i++) {
        const disp_clone_stats_t *c = disp_clone_stats(self->offices[i].clone);
        const char *code = self->offices[i].code;
        fprintf(f, "foleni_display_events_total{office=\"%s\",result=\"applied\"} %llu\n"
                   "foleni_display_events_total{office=\"%s\",result=\"old\"} %llu\n"
                   "foleni_display_events_total{office=\"%s\",result=\"gap\"} %llu\n"
                   "foleni_display_events_total{office=\"%s\",result=\"backwards\"} %llu\n"
                   "foleni_display_events_total{office=\"%s\",result=\"overflow\"} %llu\n",
                code, (unsigned long long) c->applied, code, (unsigned long long) c->old, code,
                (unsigned long long) c->gaps, code, (unsigned long long) c->backwards, code,
                (unsigned long long) c->overflow);
    }
    fprintf(f, "# HELP foleni_display_snapshots_total Snapshots asked of the scheduler, by reason.\n"
               "# TYPE foleni_display_snapshots_total counter\n");
    for (size_t i = 0; i < self->noffices; i++) {
        const disp_clone_stats_t *c = disp_clone_stats(self->offices[i].clone);
        for (int w = 0; w < DISP_WHY_COUNT; w++)
            fprintf(f, "foleni_display_snapshots_total{office=\"%s\",reason=\"%s\"} %llu\n", self->offices[i].code,
                    disp_why_name((disp_why_t) w), (unsigned long long) c->snapshots[w]);
    }
    fprintf(f, "# TYPE foleni_display_snapshot_failures_total counter\n");
    for (size_t i = 0; i < self->noffices; i++)
        fprintf(f, "foleni_display_snapshot_failures_total{office=\"%s\"} %llu\n", self->offices[i].code,
                (unsigned long long) disp_clone_stats(self->offices[i].clone)->snapshot_failures);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- life ---- */

static bool
s_code_ok(const char *code)
{
    size_t n = strlen(code);
    return n >= 2 && n <= DISP_OFFICE_MAX && strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

disp_t *
disp_new(const disp_options_t *opts, fl_error_t *err)
{
    assert(opts);
    if (opts->noffices < 1 || opts->noffices > DISP_HUB_OFFICES_MAX) {
        fl_error_set(err, FL_E_INVALID, "office", "give 1 to %d offices", DISP_HUB_OFFICES_MAX);
        return NULL;
    }
    for (size_t i = 0; i < opts->noffices; i++) {
        if (!s_code_ok(opts->offices[i])) {
            fl_error_set(err, FL_E_INVALID, "office", "'%s' is not an office code (2..8 capitals and digits)",
                         opts->offices[i]);
            return NULL;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(opts->offices[k], opts->offices[i])) {
                fl_error_set(err, FL_E_INVALID, "office", "office %s is given twice", opts->offices[i]);
                return NULL;
            }
    }
    disp_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->opts = *opts;
    snprintf(self->service, sizeof self->service, "%s", opts->service ? opts->service : DISP_SERVICE_DEFAULT);
    int64_t now = s_mono_ms();
    self->started_ms = now;
    self->noffices = opts->noffices;
    /* 1. subscribe first (the Clone pattern): events from now on are seen */
    const char *topics[DISP_HUB_OFFICES_MAX];
    char topic_text[DISP_HUB_OFFICES_MAX][DISP_OFFICE_MAX + 2];
    for (size_t i = 0; i < self->noffices; i++) {
        snprintf(self->offices[i].code, sizeof self->offices[i].code, "%s", opts->offices[i]);
        snprintf(topic_text[i], sizeof topic_text[i], "%s.", opts->offices[i]);
        topics[i] = topic_text[i];
    }
    if (!(self->sub = fl_bus_subscriber(opts->events, opts->security, topics, self->noffices, err)))
        goto fail;
    zsock_set_rcvtimeo(self->sub, 0);
    /* 2. the clones ask for their snapshot shortly after */
    for (size_t i = 0; i < self->noffices; i++) {
        if (!(self->offices[i].clone = disp_clone_new(self->offices[i].code, &opts->clone, now))) {
            fl_error_set(err, FL_E_NOMEM, "", "out of memory");
            goto fail;
        }
    }
    fl_client_options_t copts = { .timeout_ms = opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 1000,
                                  .retries = opts->request_retries > 0 ? opts->request_retries : 2,
                                  .max_outstanding = DISP_REQUESTS_MAX };
    if (!(self->client = fl_client_new(opts->broker, opts->security, &copts, err)))
        goto fail;
    if (opts->http_port) {
        char dir[DISP_WWW_PATH_MAX];
        if (disp_www_locate(opts->www, dir) != 0) {
            fl_error_set(err, FL_E_NOT_FOUND, "www", "cannot find the board page's folder%s%s (give --www DIR)",
                         opts->www ? " " : "", opts->www ? opts->www : "");
            goto fail;
        }
        if (!(self->www = disp_www_load(dir, err)))
            goto fail;
        if (!(self->hub = disp_hub_new(self->noffices, opts->keepalive_ms > 0 ? opts->keepalive_ms : 15000,
                                       opts->retry_ms > 0 ? opts->retry_ms : 2000, opts->writers))) {
            fl_error_set(err, FL_E_NOMEM, "", "out of memory");
            goto fail;
        }
        disp_http_options_t hopts = { .bind = opts->http_bind, .port = opts->http_port,
                                      .max_connections = opts->max_connections,
                                      .send_buffer = opts->send_buffer };
        disp_http_app_t app = { .arg = self, .office = s_app_office, .board_json = s_app_board,
                                .metrics = s_app_metrics, .healthy = s_app_healthy };
        if (!(self->http = disp_http_new(&hopts, &app, self->hub, self->www, err)))
            goto fail;
        char url[128];
        snprintf(url, sizeof url, "http://%s:%d/?office=%s", opts->http_bind ? opts->http_bind : "127.0.0.1",
                 opts->http_port, self->offices[0].code);
        fl_log(FL_LOG_INFO, "serving boards", FL_S("url", url), FL_S("www", dir),
               FL_U("files", disp_www_count(self->www)), NULL);
    }
    if (opts->tty_fd >= 0 && !(self->tty = disp_tty_new(opts->tty_fd, opts->tty_langs))) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        goto fail;
    }
    self->next_tick_ms = now + DISP_TICK_MS;
    return self;
fail:
    disp_destroy(&self);
    return NULL;
}

void
disp_destroy(disp_t **self_p)
{
    assert(self_p);
    disp_t *self = *self_p;
    if (!self)
        return;
    disp_http_destroy(&self->http);     /* ends the streams, resuming the suspended ones first */
    disp_hub_destroy(&self->hub);
    disp_www_destroy(&self->www);
    disp_tty_destroy(&self->tty);
    fl_client_destroy(&self->client);
    zsock_destroy(&self->sub);
    for (size_t i = 0; i < self->noffices; i++)
        disp_clone_destroy(&self->offices[i].clone);
    free(self);
    *self_p = NULL;
}

static int
s_min(int a, int64_t b)
{
    if (b < 0)
        b = 0;
    return a < 0 || b < a ? (int) (b > 3600000 ? 3600000 : b) : a;
}

int
disp_run(disp_t *self, volatile sig_atomic_t *stop)
{
    assert(self && stop);
    while (!*stop) {
        int64_t now = s_mono_ms();
        s_timers(self, now);
        /* how long we may sleep */
        int timeout = 1000;
        for (size_t i = 0; i < self->noffices; i++) {
            int64_t d = disp_clone_deadline(self->offices[i].clone);
            if (d != INT64_MAX)
                timeout = s_min(timeout, d - now);
            if (self->offices[i].dirty)
                timeout = s_min(timeout, self->offices[i].due_ms - now);
        }
        int ct = fl_client_next_timeout_ms(self->client);
        if (ct >= 0)
            timeout = s_min(timeout, ct);
        if (self->hub)
            timeout = s_min(timeout, disp_hub_next_ms(self->hub, now));
        if (self->http) {
            int ht = disp_http_timeout_ms(self->http);
            if (ht >= 0)
                timeout = s_min(timeout, ht);
        }
        zmq_pollitem_t items[3] = {
            { zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve(fl_client_socket(self->client)), 0, ZMQ_POLLIN, 0 },
            { NULL, self->http ? disp_http_fd(self->http) : -1, ZMQ_POLLIN, 0 },
        };
        int rc = zmq_poll(items, self->http ? 3 : 2, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            fl_log(FL_LOG_ERROR, "poll failed", FL_S("reason", zmq_strerror(errno)), NULL);
            return FL_E_IO;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            for (int n = 0; n < DISP_EVENTS_PER_PASS; n++) {
                zmsg_t *msg = zmsg_recv(self->sub);
                if (!msg)
                    break;
                s_on_event(self, msg, s_mono_us());
                zmsg_destroy(&msg);
            }
        }
        if (fl_client_outstanding(self->client) > 0) {
            fl_reply_t r;
            while (fl_client_recv(self->client, &r, 0) == 0) {
                s_on_reply(self, &r);
                fl_reply_reset(&r);
            }
            /* requests given up (status FL_E_TIMEOUT) came through s_on_reply too */
        }
        /* Let MHD write: one pass resumes the streams a publish woke, the next
         * writes to them; go on while it says work is ready, rather than
         * through another poll. */
        for (int pass = 0; self->http && pass < 4; pass++) {
            disp_http_run(self->http);
            if (disp_http_timeout_ms(self->http) != 0)
                break;
        }
    }
    fl_log(FL_LOG_INFO, "display stopping", FL_U("boards", self->hub ? disp_hub_streams(self->hub) : 0), NULL);
    return 0;
}

int
disp_http_port(const disp_t *self)
{
    assert(self);
    return self->http ? self->opts.http_port : 0;
}
