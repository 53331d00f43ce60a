/*  test_display.c — the hall board service as a real process: foleni-display
 *  beside a real broker and scheduler (tests/stack.h, the demo office NBIGPO
 *  at 09:00 on a Tuesday), read the way screens read it.
 *
 *  What it proves: a board that joins late shows the calls made before it; a
 *  restarted display and a restarted scheduler both end with the board right
 *  again; a forced gap in seq brings a new snapshot and no made-up ticket; the
 *  SSE stream carries a call and a recall made during the test; a screen that
 *  goes away frees its slot; forty screens (enough for the display to share
 *  the writes between two threads) each get every call, whole and in order;
 *  a screen that stops reading gets the rest, intact, when it reads again
 *  (the display's direct writes handed over to libmicrohttpd);
 *  SIGTERM with screens connected stops cleanly;
 *  headless Chromium shows the called ticket and its counter (screenshot in
 *  build/screenshots/); the terminal mode draws it too; bad options are
 *  refused with a reason.
 *
 *  "Right" means equal to the scheduler's own snapshot, asked at the same
 *  moment: same seq, same tickets served and recently called, same queues and
 *  estimates.  Every wait polls a condition with a bound; nothing sleeps and
 *  hopes.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libfoleni/bus.h"
#include "libfoleni/json.h"
#include "tests/stack.h"
#include "tests/testutil.h"
#include "tests/webdriver.h"

#define OFFICE "NBIGPO"
#define WAIT_MS 10000               /* bound on every wait for the display to catch up */

typedef struct {
    tu_stack_t st;
    int port;                       /* the display's HTTP port */
    int pid;                        /* the display; 0 when stopped */
    char log[600];
    fl_client_t *client;
} fx_t;

/* ---- the stack and the display ---- */

static void
s_display_spawn_offices(fx_t *fx, const char *offices, const char *const *extra)
{
    char port[16];
    snprintf(port, sizeof port, "%d", fx->port);
    const char *argv[40] = { tu_bin("foleni-display"), "-o", offices, "-e", fx->st.endpoint, "-s", fx->st.subscribe,
                             "-p", port, "--settle-ms", "200", "--silence-ms", "1000", "--keepalive-ms", "500",
                             "--timeout-ms", "300", "--retry-ms", "500", "--log-level", "debug" };
    int n = 21;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    fx->pid = tu_spawn(fx->log, argv);
}

static void
s_display_spawn(fx_t *fx, const char *const *extra)
{
    s_display_spawn_offices(fx, OFFICE, extra);
}

static char *s_get(fx_t *fx, const char *path, long *status);

/* Wait until /healthz says every board is live. */
static void
s_display_ready(fx_t *fx)
{
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        long status = 0;
        free(s_get(fx, "/healthz", &status));
        if (status == 200)
            return;
        zclock_sleep(20);
    }
    ck_abort_msg("the display did not become live (log: %s)", fx->log);
}

static void
s_display_start(fx_t *fx, const char *const *extra)
{
    for (int attempt = 1;; attempt++) {
        s_display_spawn(fx, extra);
        char serving[160], refused[80];
        snprintf(serving, sizeof serving, "msg=\"serving boards\" url=\"http://127.0.0.1:%d/", fx->port);
        if (tu_wait_started(fx->pid, fx->log, serving, WAIT_MS))
            break;
        fx->pid = 0;
        /* the port picked free was taken before the display could bind it */
        snprintf(refused, sizeof refused, "cannot listen on 127.0.0.1:%d ", fx->port);
        ck_assert_msg(tu_log_has(fx->log, refused), "the display ended at start (log: %s)", fx->log);
        ck_assert_msg(attempt < 5, "the display could not bind a free port in 5 attempts (log: %s)", fx->log);
        fx->port = tu_free_port();
    }
    s_display_ready(fx);
}

static void
s_display_stop(fx_t *fx)
{
    ck_assert_msg(tu_stop(fx->pid, SIGTERM, 5000) == 0, "the display did not stop cleanly (log: %s)", fx->log);
    fx->pid = 0;
}

static void
s_start(fx_t *fx, bool display)
{
    memset(fx, 0, sizeof *fx);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tu_stack_start(&fx->st, NULL, "2026-12-01T06:00:00Z");
    fx->port = tu_free_port();
    snprintf(fx->log, sizeof fx->log, "%s/display.log", fx->st.dir);
    fx->client = tu_stack_client(&fx->st, 3000, 3);
    if (display)
        s_display_start(fx, NULL);
}

static void
s_stop(fx_t *fx)
{
    if (fx->pid)
        s_display_stop(fx);
    fl_client_destroy(&fx->client);
    tu_stack_stop(&fx->st);
}

/* ---- asking the scheduler ---- */

/* Send a request (printf-style JSON) and return the reply; fails on an error reply. */
static fl_msg_t *s_ask(fx_t *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static fl_msg_t *
s_ask(fx_t *fx, const char *fmt, ...)
{
    char body[1024], json[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (strstr(body, "\"type\":\"snapshot\"")) /* a read */
        snprintf(json, sizeof json, "%s", body);
    else {                                          /* a change: a fresh request id */
        char rid[33];
        fl_client_new_rid(rid);
        snprintf(json, sizeof json, "{\"rid\":\"%s\",%s", rid, body + 1);
    }
    fl_msg_t *m = tu_stack_call(fx->client, json);
    ck_assert_msg(fl_msg_type(m) != FL_T_ERROR, "%s: %s", json,
                  fl_msg_type(m) == FL_T_ERROR ? fl_msg_str(m, FL_F_MESSAGE) : "");
    return m;
}

static void
s_do(fx_t *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_do(fx_t *fx, const char *fmt, ...)
{
    char json[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    fl_msg_t *m = s_ask(fx, "%s", json);
    fl_msg_destroy(&m);
}

static void
s_open_counter(fx_t *fx, int counter, const char *service)
{
    s_do(fx, "{\"type\":\"counter_open\",\"office\":\"" OFFICE "\",\"counter\":%d,\"service_codes\":[\"%s\"],"
         "\"token\":\"" TU_COUNTER_TOKEN "\"}", counter, service);
}

static void
s_walkin(fx_t *fx, const char *service)
{
    s_do(fx, "{\"type\":\"walkin\",\"office\":\"" OFFICE "\",\"service\":\"%s\",\"priority\":\"none\"}", service);
}

/* A counter action (next, recall, done...); returns the ticket label it acted on. */
static void
s_counter(fx_t *fx, const char *action, int counter, char ticket[32])
{
    fl_msg_t *m = s_ask(fx, "{\"type\":\"%s\",\"office\":\"" OFFICE "\",\"counter\":%d,\"token\":\"" TU_COUNTER_TOKEN
                        "\"}", action, counter);
    if (ticket)
        snprintf(ticket, 32, "%s", fl_msg_str(m, FL_F_TICKET));
    fl_msg_destroy(&m);
}

/* ---- HTTP ---- */

typedef struct {
    char *buf;
    size_t len, cap;
} sink_t;

#define SINK_MAX (8 * 1024 * 1024)

static size_t
s_sink(char *data, size_t size, size_t n, void *arg)
{
    sink_t *s = arg;
    size_t k = size * n;
    if (s->len + k + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + k + 1)
            cap *= 2;
        if (cap > SINK_MAX)
            return 0;
        s->buf = realloc(s->buf, cap);
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, k);
    s->len += k;
    s->buf[s->len] = '\0';
    return k;
}

/* GET path from the display; the body (caller frees; "" when none) and the status. */
static char *
s_request(fx_t *fx, const char *method, const char *path, long *status, char **content_type)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", fx->port, path);
    sink_t sink = { 0 };
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    *status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        char *type = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
        if (content_type)
            *content_type = strdup(type ? type : "");
    } else if (content_type)
        *content_type = strdup("");
    curl_easy_cleanup(c);
    return sink.buf ? sink.buf : strdup("");
}

static char *
s_get(fx_t *fx, const char *path, long *status)
{
    return s_request(fx, "GET", path, status, NULL);
}

static json_t *
s_board(fx_t *fx)
{
    long status;
    char *text = s_get(fx, "/board.json?office=" OFFICE, &status);
    ck_assert_int_eq(status, 200);
    json_t *j = json_loads(text, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", text);
    free(text);
    return j;
}

/* The value of the first metrics line starting with `prefix ` (-1 when absent). */
static double
s_metric(fx_t *fx, const char *prefix)
{
    long status;
    char *text = s_get(fx, "/metrics", &status);
    double v = -1;
    size_t n = strlen(prefix);
    for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, prefix, n) && line[n] == ' ') {
            v = atof(line + n + 1);
            break;
        }
    free(text);
    return v;
}

static bool
s_wait_metric(fx_t *fx, const char *prefix, double at_least, double at_most)
{
    for (int waited = 0; waited < WAIT_MS; waited += 50) {
        double v = s_metric(fx, prefix);
        if (v >= at_least && v <= at_most)
            return true;
        zclock_sleep(50);
    }
    return false;
}

/* ---- "right": the display's board equals the scheduler's snapshot ---- */

/* One line per call or queue, sorted, so order among equal times does not matter. */
static int
s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
s_canon_list(json_t *list, const char *what, char *out, size_t cap)
{
    size_t n = json_array_size(list), len = strlen(out);
    char **lines = calloc(n ? n : 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(list, i);
        lines[i] = malloc(160);
        if (json_object_get(c, "ticket"))
            snprintf(lines[i], 160, "%s %s@%lld %s at=%lld calls=%lld", what,
                     json_string_value(json_object_get(c, "ticket")),
                     (long long) json_integer_value(json_object_get(c, "counter")),
                     json_string_value(json_object_get(c, "service")),
                     (long long) json_integer_value(json_object_get(c, "at")),
                     (long long) json_integer_value(json_object_get(c, "calls")));
        else
            snprintf(lines[i], 160, "%s %s waiting=%lld wait_s=%lld open=%lld", what,
                     json_string_value(json_object_get(c, "service")),
                     (long long) json_integer_value(json_object_get(c, "waiting")),
                     (long long) json_integer_value(json_object_get(c, "wait_s")),
                     (long long) json_integer_value(json_object_get(c, "open_counters")));
    }
    qsort(lines, n, sizeof *lines, s_cmp_str);
    for (size_t i = 0; i < n; i++) {
        snprintf(out + len, cap - len, "%s\n", lines[i]);
        len = strlen(out);
        free(lines[i]);
    }
    free(lines);
}

static void
s_canon(json_t *board, char *out, size_t cap)
{
    snprintf(out, cap, "seq=%lld\n", (long long) json_integer_value(json_object_get(board, "seq")));
    s_canon_list(json_object_get(board, "serving"), "serving", out, cap);
    s_canon_list(json_object_get(board, "recent"), "recent", out, cap);
    s_canon_list(json_object_get(board, "queues"), "queue", out, cap);
}

/* True when the display shows what the scheduler's snapshot says now. */
static bool
s_board_right(fx_t *fx, char *mine, char *theirs, size_t cap)
{
    fl_msg_t *snap = s_ask(fx, "{\"type\":\"snapshot\",\"office\":\"" OFFICE "\"}");
    json_t *want = fl_msg_to_json(snap);
    fl_msg_destroy(&snap);
    json_t *got = s_board(fx);
    s_canon(want, theirs, cap);
    s_canon(got, mine, cap);
    json_decref(want);
    json_decref(got);
    return !strcmp(mine, theirs);
}

static void
s_wait_board_right(fx_t *fx)
{
    static char mine[16384], theirs[16384];
    for (int waited = 0; waited < WAIT_MS; waited += 50) {
        if (s_board_right(fx, mine, theirs, sizeof mine))
            return;
        zclock_sleep(50);
    }
    ck_abort_msg("the board is not right.\ndisplay:\n%s\nscheduler:\n%s\n(log: %s)", mine, theirs, fx->log);
}

/* A morning at the office: two counters, five walk-ins, calls, a recall and a finished ticket. */
static void
s_morning(fx_t *fx)
{
    s_open_counter(fx, 1, "PASSPORT");
    s_open_counter(fx, 3, "IDCARD");
    for (int i = 0; i < 3; i++)
        s_walkin(fx, "PASSPORT");
    for (int i = 0; i < 2; i++)
        s_walkin(fx, "IDCARD");
    char ticket[32];
    s_counter(fx, "next", 1, ticket);
    ck_assert_str_eq(ticket, "P-001");
    s_counter(fx, "recall", 1, NULL);
    s_counter(fx, "next", 3, ticket);
    ck_assert_str_eq(ticket, "I-001");
    s_counter(fx, "done", 3, NULL);
    s_counter(fx, "next", 3, ticket);
    ck_assert_str_eq(ticket, "I-002");
}

/* ---- raw sockets: a screen that we control to the byte ---- */

static int
s_connect(fx_t *fx, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) fx->port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *) &a, sizeof a), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n", path);
    ck_assert_int_eq(send(fd, req, (size_t) n, MSG_NOSIGNAL), n);
    return fd;
}

/* Read from fd into sink until needle appears (true), EOF or timeout (false). */
static bool
s_read_until(int fd, sink_t *sink, const char *needle, int timeout_ms, bool *eof)
{
    int64_t until = zclock_mono() + timeout_ms;
    if (eof)
        *eof = false;
    while (!(sink->buf && strstr(sink->buf, needle))) {
        int left = (int) (until - zclock_mono());
        if (left <= 0)
            return false;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, left) <= 0)
            continue;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            if (eof)
                *eof = true;
            return false;
        }
        s_sink(buf, 1, (size_t) n, sink);
    }
    return true;
}

/* ---- the tests ---- */

START_TEST(test_a_board_that_joins_late_shows_the_calls_made_before_it)
{
    fx_t fx;
    s_start(&fx, false);
    s_morning(&fx);
    s_display_start(&fx, NULL);
    s_wait_board_right(&fx);
    json_t *b = s_board(&fx);
    ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "live");
    ck_assert_str_eq(json_string_value(json_object_get(b, "name")), "Huduma Centre GPO, Nairobi");
    json_t *serving = json_object_get(b, "serving");
    ck_assert_uint_eq(json_array_size(serving), 2);
    bool p1 = false;
    for (size_t i = 0; i < json_array_size(serving); i++) {
        json_t *c = json_array_get(serving, i);
        if (!strcmp(json_string_value(json_object_get(c, "ticket")), "P-001")) {
            p1 = true;
            ck_assert_int_eq(json_integer_value(json_object_get(c, "counter")), 1);
            ck_assert_int_eq(json_integer_value(json_object_get(c, "calls")), 2);    /* the recall */
        }
    }
    ck_assert(p1);
    json_decref(b);
    /* and it follows what happens next */
    s_counter(&fx, "done", 1, NULL);
    char ticket[32];
    s_counter(&fx, "next", 1, ticket);
    ck_assert_str_eq(ticket, "P-002");
    s_wait_board_right(&fx);
    s_stop(&fx);
}
END_TEST

START_TEST(test_a_restarted_display_is_right_again)
{
    fx_t fx;
    s_start(&fx, true);
    s_morning(&fx);
    s_wait_board_right(&fx);
    s_display_stop(&fx);
    /* the hall goes on while the display is down */
    s_counter(&fx, "done", 1, NULL);
    s_counter(&fx, "next", 1, NULL);
    s_walkin(&fx, "IDCARD");
    s_display_start(&fx, NULL);                         /* same port: screens come back by themselves */
    s_wait_board_right(&fx);
    char *text = s_get(&fx, "/board.json", &(long) { 0 });
    ck_assert_ptr_nonnull(strstr(text, "{\"ticket\":\"P-002\",\"counter\":1,"));    /* called while it was down */
    free(text);
    s_stop(&fx);
}
END_TEST

START_TEST(test_a_restarted_scheduler_leaves_the_board_right)
{
    fx_t fx;
    s_start(&fx, true);
    s_morning(&fx);
    s_wait_board_right(&fx);
    ck_assert_int_eq(tu_stop(fx.st.scheduler, SIGTERM, 5000), 0);
    fx.st.scheduler = 0;
    /* no scheduler: the next refresh fails and the board says it may be out of date */
    bool stale = false;
    for (int waited = 0; waited < WAIT_MS && !stale; waited += 50) {
        json_t *b = s_board(&fx);
        stale = !strcmp(json_string_value(json_object_get(b, "status")), "stale");
        json_decref(b);
        if (!stale)
            zclock_sleep(50);
    }
    ck_assert_msg(stale, "the board did not show it was stale (log: %s)", fx.log);
    long status;
    free(s_get(&fx, "/healthz", &status));
    ck_assert_int_eq(status, 503);
    tu_stack_start_scheduler(&fx.st);
    s_counter(&fx, "done", 1, NULL);                    /* the new scheduler's events */
    s_counter(&fx, "next", 1, NULL);
    s_wait_board_right(&fx);
    free(s_get(&fx, "/healthz", &status));
    ck_assert_int_eq(status, 200);
    s_stop(&fx);
}
END_TEST

START_TEST(test_a_gap_in_seq_brings_a_new_snapshot_and_no_made_up_ticket)
{
    fx_t fx;
    s_start(&fx, true);
    s_morning(&fx);
    s_wait_board_right(&fx);
    json_t *b = s_board(&fx);
    uint64_t seq = (uint64_t) json_integer_value(json_object_get(b, "seq"));
    json_decref(b);
    /* an event from "the future": the events between were lost */
    zsock_t *pub = fl_bus_publisher(fx.st.publish, NULL, NULL);
    ck_assert_ptr_nonnull(pub);
    fl_msg_t *e = fl_msg_new(FL_T_EVENT);
    fl_msg_set_str(e, FL_F_OFFICE, OFFICE);
    fl_msg_set_uint(e, FL_F_SEQ, seq + 5);
    fl_msg_set_uint(e, FL_F_AT, 1796104900);
    fl_msg_set_str(e, FL_F_KIND, "call");
    fl_msg_set_str(e, FL_F_TICKET, "Z-999");
    fl_msg_set_str(e, FL_F_SERVICE, "PASSPORT");
    fl_msg_set_uint(e, FL_F_COUNTER, 9);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(fl_msg_encode(e, &buf, NULL), 0);
    fl_msg_destroy(&e);
    const char *gaps = "foleni_display_events_total{office=\"" OFFICE "\",result=\"gap\"}";
    bool seen = false;
    for (int waited = 0; waited < WAIT_MS && !seen; waited += 100) {     /* until the bus has our publisher */
        fl_bus_publish(pub, OFFICE ".call", buf.data, buf.size);
        zclock_sleep(100);
        seen = s_metric(&fx, gaps) >= 1;
    }
    msgpack_sbuffer_destroy(&buf);
    zsock_destroy(&pub);
    ck_assert_msg(seen, "the display did not see the gap");
    ck_assert(s_wait_metric(&fx, "foleni_display_snapshots_total{office=\"" OFFICE "\",reason=\"gap\"}", 1, 1e9));
    s_wait_board_right(&fx);
    char *text = s_get(&fx, "/board.json", &(long) { 0 });
    ck_assert_msg(strstr(text, "Z-999") == NULL, "a ticket from a lost event was shown: %s", text);
    free(text);
    /* and it carries on from the snapshot */
    s_counter(&fx, "done", 3, NULL);
    s_walkin(&fx, "IDCARD");
    s_counter(&fx, "next", 3, NULL);
    s_wait_board_right(&fx);
    s_stop(&fx);
}
END_TEST

/* An SSE stream read with libcurl's multi interface, pumped while we wait. */
typedef struct {
    CURLM *multi;
    CURL *easy;
    sink_t sink;
} sse_t;

static void
s_sse_open(sse_t *s, fx_t *fx, const char *path)
{
    memset(s, 0, sizeof *s);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", fx->port, path);
    s->multi = curl_multi_init();
    s->easy = curl_easy_init();
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, s_sink);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->sink);
    curl_multi_add_handle(s->multi, s->easy);
}

static bool
s_sse_wait(sse_t *s, const char *needle, int timeout_ms)
{
    int64_t until = zclock_mono() + timeout_ms;
    while (!(s->sink.buf && strstr(s->sink.buf, needle))) {
        if (zclock_mono() >= until)
            return false;
        int running;
        curl_multi_perform(s->multi, &running);
        curl_multi_poll(s->multi, NULL, 0, 20, NULL);
    }
    return true;
}

static void
s_sse_close(sse_t *s)
{
    curl_multi_remove_handle(s->multi, s->easy);
    curl_easy_cleanup(s->easy);
    curl_multi_cleanup(s->multi);
    free(s->sink.buf);
}

START_TEST(test_the_event_stream_carries_a_call_made_during_the_test)
{
    fx_t fx;
    s_start(&fx, true);
    s_open_counter(&fx, 2, "PASSPORT");
    s_walkin(&fx, "PASSPORT");
    sse_t sse;
    s_sse_open(&sse, &fx, "/events?office=" OFFICE);
    ck_assert_msg(s_sse_wait(&sse, "event: board\n", WAIT_MS), "no board on the stream: %s", sse.sink.buf);
    ck_assert_ptr_nonnull(strstr(sse.sink.buf, "retry: 500\n"));
    char *type = NULL;
    curl_easy_getinfo(sse.easy, CURLINFO_CONTENT_TYPE, &type);
    ck_assert_ptr_nonnull(type);
    ck_assert_ptr_nonnull(strstr(type, "text/event-stream"));
    ck_assert_ptr_null(strstr(sse.sink.buf, "P-001\",\"counter\""));   /* not called yet */
    char ticket[32];
    s_counter(&fx, "next", 2, ticket);
    ck_assert_str_eq(ticket, "P-001");
    ck_assert_msg(s_sse_wait(&sse, "event: call\ndata: {\"kind\":\"call\",\"office\":\"" OFFICE "\",\"ticket\":\"P-001\","
                             "\"counter\":2", WAIT_MS), "no call on the stream: %s", sse.sink.buf);
    ck_assert(s_sse_wait(&sse, "\"say\":{\"en\":\"Ticket P 0 0 1, counter 2\",\"sw\":\"Tiketi P 0 0 1, dirisha 2\"}",
                         1000));
    /* the board after it names the call as the newest */
    ck_assert(s_sse_wait(&sse, "\"newest\":\"P-001\"", WAIT_MS));
    /* a recall is announced again */
    s_counter(&fx, "recall", 2, NULL);
    ck_assert_msg(s_sse_wait(&sse, "{\"kind\":\"recall\",\"office\":\"" OFFICE "\",\"ticket\":\"P-001\"", WAIT_MS),
                  "no recall on the stream: %s", sse.sink.buf);
    /* an idle stream gets keep-alive comments */
    ck_assert(s_sse_wait(&sse, "\n: keep-alive\n\n", 5000));
    s_sse_close(&sse);
    s_stop(&fx);
}
END_TEST

START_TEST(test_a_screen_that_goes_away_frees_its_slot)
{
    fx_t fx;
    s_start(&fx, true);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = s_connect(&fx, "/events");
        sink_t sink = { 0 };
        ck_assert(s_read_until(fds[i], &sink, "event: board", WAIT_MS, NULL));
        free(sink.buf);
    }
    ck_assert(s_wait_metric(&fx, "foleni_display_boards", 3, 3));
    ck_assert(s_wait_metric(&fx, "foleni_display_boards_idle", 3, 3));      /* suspended, costing nothing */
    close(fds[0]);
    close(fds[1]);
    /* the next keep-alive (every 500 ms here) finds them gone */
    ck_assert_msg(s_wait_metric(&fx, "foleni_display_boards", 1, 1), "the slots were not freed");
    sink_t sink = { 0 };
    ck_assert(s_read_until(fds[2], &sink, ": keep-alive", WAIT_MS, NULL));  /* the live one still is served */
    free(sink.buf);
    close(fds[2]);
    ck_assert(s_wait_metric(&fx, "foleni_display_boards", 0, 0));
    ck_assert(s_metric(&fx, "foleni_display_streams_closed_total") >= 3);
    s_stop(&fx);
}
END_TEST

/* Check a stream's text (HTTP head, then SSE): the body is not chunked, every
 * complete message is a known form with JSON data, and the calls are exactly
 * tickets[0..n), in order.  A last message not yet complete is left out. */
static void
s_check_stream(const char *text, char tickets[][32], size_t n)
{
    const char *body = strstr(text, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_msg(!strstr(text, "chunked") || strstr(text, "chunked") > body, "a chunked stream: %.300s", text);
    body += 4;
    size_t calls = 0;
    for (const char *p = body, *end; (end = strstr(p, "\n\n")); p = end + 2) {
        char block[65536];
        size_t len = (size_t) (end - p);
        ck_assert_uint_lt(len, sizeof block);
        memcpy(block, p, len);
        block[len] = '\0';
        if (!strncmp(block, "retry: ", 7) || !strcmp(block, ": keep-alive"))
            continue;
        ck_assert_msg(!strncmp(block, "event: ", 7), "not a message: '%.200s'", block);
        char *data = strstr(block, "\ndata: ");
        ck_assert_msg(data && !strchr(data + 7, '\n'), "a message without one data line: '%.200s'", block);
        json_t *j = json_loads(data + 7, 0, NULL);
        ck_assert_msg(j, "data that is not JSON: '%.200s'", data + 7);
        if (!strncmp(block, "event: call\n", 12)
            && !strcmp(json_string_value(json_object_get(j, "kind")), "call")) {
            ck_assert_uint_lt(calls, n);
            ck_assert_str_eq(json_string_value(json_object_get(j, "ticket")), tickets[calls]);
            calls++;
        }
        json_decref(j);
    }
    ck_assert_uint_eq(calls, n);
}

/* Read fd until the call of ticket and the board after it that shows it. */
static void
s_read_through_call(int fd, sink_t *sink, const char *ticket)
{
    char needle[128];
    snprintf(needle, sizeof needle, "{\"kind\":\"call\",\"office\":\"" OFFICE "\",\"ticket\":\"%s\"", ticket);
    ck_assert_msg(s_read_until(fd, sink, needle, WAIT_MS, NULL), "no call of %s", ticket);
    snprintf(needle, sizeof needle, "\"newest\":\"%s\"", ticket);
    ck_assert_msg(s_read_until(fd, sink, needle, WAIT_MS, NULL), "no board after the call of %s", ticket);
}

START_TEST(test_forty_screens_get_every_call_whole_and_in_order)
{
    fx_t fx;
    s_start(&fx, true);
    s_open_counter(&fx, 1, "PASSPORT");
    enum { N = 40, CALLS = 3 };             /* N >= DISP_HUB_SHARE_MIN: the writes are shared */
    int fds[N];
    sink_t sinks[N];
    memset(sinks, 0, sizeof sinks);
    for (int i = 0; i < N; i++) {
        fds[i] = s_connect(&fx, "/events?office=" OFFICE);
        ck_assert(s_read_until(fds[i], &sinks[i], "event: board", WAIT_MS, NULL));
    }
    ck_assert(s_wait_metric(&fx, "foleni_display_boards_idle", N, N));
    double direct0 = s_metric(&fx, "foleni_display_direct_writes_total");
    char tickets[CALLS][32];
    for (int k = 0; k < CALLS; k++) {
        s_walkin(&fx, "PASSPORT");
        if (k)
            s_counter(&fx, "done", 1, NULL);
        s_counter(&fx, "next", 1, tickets[k]);
    }
    for (int i = 0; i < N; i++) {
        s_read_through_call(fds[i], &sinks[i], tickets[CALLS - 1]);
        s_check_stream(sinks[i].buf, tickets, CALLS);
        free(sinks[i].buf);
        close(fds[i]);
    }
    /* each call, with the board after it, went straight to every idle screen */
    ck_assert(s_metric(&fx, "foleni_display_direct_writes_total") - direct0 >= (double) N * CALLS);
    ck_assert(s_wait_metric(&fx, "foleni_display_boards", 0, 0));
    s_stop(&fx);
}
END_TEST

START_TEST(test_a_screen_that_stops_reading_gets_the_rest_when_it_reads_again)
{
    fx_t fx;
    s_start(&fx, false);
    s_display_start(&fx, (const char *const[]) { "--send-buffer", "4096", NULL });     /* fills in a few calls */
    s_open_counter(&fx, 1, "PASSPORT");
    /* a screen with a small receive buffer that stops reading after its first board */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int small = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) fx.port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *) &a, sizeof a), 0);
    const char req[] = "GET /events?office=" OFFICE " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ck_assert_int_eq(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t) sizeof req - 1);
    sink_t sink = { 0 };
    ck_assert(s_read_until(fd, &sink, "event: board", WAIT_MS, NULL));
    ck_assert(s_wait_metric(&fx, "foleni_display_boards_idle", 1, 1));
    /* calls until a direct write finds the socket full, then a few more */
    enum { MAX_CALLS = 100 };
    char tickets[MAX_CALLS][32];
    size_t n = 0, after = 0;
    while (n < MAX_CALLS && after < 3) {
        s_walkin(&fx, "PASSPORT");
        if (n)
            s_counter(&fx, "done", 1, NULL);
        s_counter(&fx, "next", 1, tickets[n++]);
        if (after || s_metric(&fx, "foleni_display_direct_writes_short_total") >= 1)
            after++;
    }
    ck_assert_msg(after == 3, "the screen's socket never filled in %zu calls", n);
    ck_assert(s_wait_metric(&fx, "foleni_display_boards_idle", 0, 0));     /* libmicrohttpd writes the rest */
    /* the screen reads again: everything, whole and in order */
    s_read_through_call(fd, &sink, tickets[n - 1]);
    s_check_stream(sink.buf, tickets, n);
    ck_assert(s_metric(&fx, "foleni_display_streams_lagged_total") == 0);
    ck_assert(s_wait_metric(&fx, "foleni_display_boards_idle", 1, 1));     /* and it is idle again */
    free(sink.buf);
    close(fd);
    s_stop(&fx);
}
END_TEST

START_TEST(test_sigterm_with_screens_connected_stops_cleanly)
{
    fx_t fx;
    s_start(&fx, true);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = s_connect(&fx, "/events?office=" OFFICE);
        sink_t sink = { 0 };
        ck_assert(s_read_until(fds[i], &sink, "event: board", WAIT_MS, NULL));
        free(sink.buf);
    }
    ck_assert(s_wait_metric(&fx, "foleni_display_boards_idle", 4, 4));
    int64_t t0 = zclock_mono();
    s_display_stop(&fx);                                /* exit status 0 is asserted */
    ck_assert_int_lt(zclock_mono() - t0, 3000);
    for (int i = 0; i < 4; i++) {                       /* each stream ends: its chunked body is closed */
        sink_t sink = { 0 };
        bool eof;
        s_read_until(fds[i], &sink, "\r\n0\r\n\r\n", 2000, &eof);
        ck_assert_msg(eof || (sink.buf && strstr(sink.buf, "\r\n0\r\n\r\n")), "stream %d did not end", i);
        free(sink.buf);
        close(fds[i]);
    }
    char log[8192] = "";
    FILE *f = fopen(fx.log, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(log, 1, sizeof log - 1, f);
    log[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(log, "msg=\"display stopping\" boards=4"));
    ck_assert_ptr_nonnull(strstr(log, "msg=\"display stopped\""));
    s_stop(&fx);
}
END_TEST

START_TEST(test_the_page_its_files_and_the_routes)
{
    fx_t fx;
    s_start(&fx, false);
    s_display_spawn_offices(&fx, OFFICE ",MSAGPO", NULL);     /* a second office the scheduler lacks */
    /* NBIGPO goes live; MSAGPO never does, so the display is not healthy */
    bool live = false;
    for (int waited = 0; waited < WAIT_MS && !live; waited += 50) {
        long status;
        char *text = s_get(&fx, "/board.json", &status);
        live = status == 200 && strstr(text, "\"status\":\"live\"");
        free(text);
        if (!live)
            zclock_sleep(50);
    }
    ck_assert_msg(live, "NBIGPO did not go live (log: %s)", fx.log);
    static const struct {
        const char *method, *path;
        long status;
        const char *type, *contains;
    } cases[] = {
        { "GET", "/", 200, "text/html", "<script src=\"board.js\"" },
        { "GET", "/board?office=" OFFICE "&lang=sw,en", 200, "text/html", "id=\"newest\"" },
        { "GET", "/board.js", 200, "text/javascript", "EventSource" },
        { "GET", "/board.css", 200, "text/css", ".newest" },
        { "HEAD", "/board.css", 200, "text/css", "" },
        { "GET", "/board.json", 200, "application/json", "\"office\":\"" OFFICE "\"" },
        { "GET", "/board.json?office=MSAGPO", 200, "application/json", "\"status\":\"connecting\"" },
        { "GET", "/board.json?office=KSMGPO", 404, "text/plain", "does not show" },
        { "GET", "/events?office=KSMGPO", 404, "text/plain", "does not show" },
        { "GET", "/healthz", 503, "text/plain", "not live" },
        { "GET", "/metrics", 200, "text/plain", "foleni_display_boards 0" },
        { "GET", "/nothing.html", 404, "text/plain", "not found" },
        { "GET", "/../Makefile", 404, "text/plain", "" },
        { "POST", "/board.json", 405, "", "" },
        { "DELETE", "/", 405, "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long status;
        char *type = NULL;
        char *body = s_request(&fx, cases[i].method, cases[i].path, &status, &type);
        ck_assert_msg(status == cases[i].status, "%s %s: %ld", cases[i].method, cases[i].path, status);
        ck_assert_msg(strstr(type, cases[i].type) != NULL, "%s %s: type %s", cases[i].method, cases[i].path, type);
        ck_assert_msg(strstr(body, cases[i].contains) != NULL, "%s %s: %s", cases[i].method, cases[i].path, body);
        free(body);
        free(type);
    }
    ck_assert(s_metric(&fx, "foleni_display_snapshot_failures_total{office=\"MSAGPO\"}") >= 1);
    s_stop(&fx);
}
END_TEST

START_TEST(test_headless_chromium_shows_the_called_ticket_and_its_counter)
{
    fx_t fx;
    s_start(&fx, true);
    s_open_counter(&fx, 4, "BIRTH");
    s_walkin(&fx, "BIRTH");
    s_walkin(&fx, "BIRTH");
    tu_web_t *web = tu_web_start(1920, 1080);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/?office=" OFFICE "&lang=en,sw", fx.port);
    tu_web_open(web, url);
    ck_assert_msg(tu_web_wait_text(web, "#status", "Live", WAIT_MS), "the page did not go live");
    ck_assert(tu_web_wait_text(web, "#office-name", "Huduma Centre GPO", 2000));
    char ticket[32];
    s_counter(&fx, "next", 4, ticket);                 /* the call, made with the page open */
    ck_assert_str_eq(ticket, "B-001");
    ck_assert_msg(tu_web_wait_text(web, "#newest .ticket", "B-001", WAIT_MS), "the page did not show the call");
    char *counter = tu_web_text(web, "#newest .counter b");
    ck_assert_str_eq(counter, "4");
    free(counter);
    char *whole = tu_web_text(web, "#newest");
    ck_assert_msg(strstr(whole, "B-001") && strstr(whole, "COUNTER") && strstr(whole, "4"), "%s", whole);
    free(whole);
    /* announced: the highlight runs; the queue shows who is left */
    char *flash = tu_web_eval(web, "document.getElementById('newest').classList.contains('flash')");
    ck_assert_str_eq(flash, "true");
    free(flash);
    ck_assert(tu_web_wait_text(web, "#queues", "Birth certificates", 2000));
    char shot[700];
    snprintf(shot, sizeof shot, "%s/../screenshots/display-board.png", getenv("FOLENI_BIN"));
    tu_web_screenshot(web, shot);
    struct stat st;
    ck_assert_int_eq(stat(shot, &st), 0);
    ck_assert_int_gt(st.st_size, 10000);
    tu_web_stop(&web);
    s_stop(&fx);
}
END_TEST

START_TEST(test_the_terminal_mode_draws_the_call)
{
    fx_t fx;
    s_start(&fx, false);
    const char *const extra[] = { "--tty", "--lang", "en,sw", NULL };
    s_display_spawn(&fx, extra);                        /* -p is given: HTTP too */
    s_display_ready(&fx);
    s_open_counter(&fx, 5, "DRIVING");
    s_walkin(&fx, "DRIVING");
    s_counter(&fx, "next", 5, NULL);
    bool drawn = false;
    for (int waited = 0; waited < WAIT_MS && !drawn; waited += 50) {
        FILE *f = fopen(fx.log, "r");
        static char text[1 << 20];
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        text[n] = '\0';
        if (f)
            fclose(f);
        drawn = strstr(text, "NOW SERVING · SASA ANAHUDUMIWA") && strstr(text, "D-001 -> 5")
                && strstr(text, "Ticket D 0 0 1, counter 5  ·  Tiketi D 0 0 1, dirisha 5")
                && strstr(text, "\xe2\x96\x88");
        if (!drawn)
            zclock_sleep(50);
    }
    ck_assert_msg(drawn, "the terminal board did not show the call (log: %s)", fx.log);
    s_stop(&fx);
}
END_TEST

/* Run foleni-display with args; its exit status, its output in out. */
static int
s_run(const char *const *args, char *out, size_t cap)
{
    char log[300];
    snprintf(log, sizeof log, "%s/run.log", tu_tempdir());
    const char *argv[16] = { tu_bin("foleni-display") };
    int n = 1;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int pid = tu_spawn(log, argv);
    int rc = tu_stop(pid, 0, 5000);                     /* signal 0: just wait for it */
    tu_read_file(log, out, cap);
    return rc;
}

START_TEST(test_bad_options_are_refused_with_a_reason)
{
    char out[8192];
    ck_assert_int_eq(s_run((const char *const[]) { "--help", NULL }, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--office"));
    ck_assert_ptr_nonnull(strstr(out, "--http-port"));
    ck_assert_int_eq(s_run((const char *const[]) { "-p", "8", NULL }, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--office is required"));
    ck_assert_int_eq(s_run((const char *const[]) { "-o", OFFICE, "-p", "70000", NULL }, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "bad value '70000'"));
    ck_assert_int_eq(s_run((const char *const[]) { "-o", "nbi", "-p", "0", NULL }, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "not an office code"));
    ck_assert_int_eq(s_run((const char *const[]) { "-o", OFFICE, "--www", "/nonexistent", NULL }, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "cannot find the board page"));
    /* a port already taken */
    fx_t fx;
    s_start(&fx, true);
    char port[16];
    snprintf(port, sizeof port, "%d", fx.port);
    ck_assert_int_eq(s_run((const char *const[]) { "-o", OFFICE, "-e", fx.st.endpoint, "-s", fx.st.subscribe, "-p",
                                                   port, NULL }, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "cannot listen"));
    s_stop(&fx);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("display");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_board_that_joins_late_shows_the_calls_made_before_it);
    tcase_add_test(tc, test_a_restarted_display_is_right_again);
    tcase_add_test(tc, test_a_restarted_scheduler_leaves_the_board_right);
    tcase_add_test(tc, test_a_gap_in_seq_brings_a_new_snapshot_and_no_made_up_ticket);
    tcase_add_test(tc, test_the_event_stream_carries_a_call_made_during_the_test);
    tcase_add_test(tc, test_a_screen_that_goes_away_frees_its_slot);
    tcase_add_test(tc, test_forty_screens_get_every_call_whole_and_in_order);
    tcase_add_test(tc, test_a_screen_that_stops_reading_gets_the_rest_when_it_reads_again);
    tcase_add_test(tc, test_sigterm_with_screens_connected_stops_cleanly);
    tcase_add_test(tc, test_the_page_its_files_and_the_routes);
    tcase_add_test(tc, test_headless_chromium_shows_the_called_ticket_and_its_counter);
    tcase_add_test(tc, test_the_terminal_mode_draws_the_call);
    tcase_add_test(tc, test_bad_options_are_refused_with_a_reason);
    suite_add_tcase(s, tc);
    return s;
}
