/*  test_scheduler_e2e.c — the scheduler as a real process behind the broker.
 *
 *  Starts build/bin/foleni-broker and build/bin/foleni-scheduler on free ports
 *  with a small configuration and a fixed clock (Tuesday 2026-12-01, 09:00 in
 *  Nairobi), then drives them with many client sockets at once: races for
 *  the last places of a slot, one person booking twice at the same moment, a
 *  SIGKILL or a SIGTERM in the middle of a booking storm, one commit per
 *  request, held bookings expiring while it serves, a disk that fills up.
 */
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libfoleni/bus.h"
#include "libfoleni/client.h"
#include "libfoleni/json.h"
#include "tests/stack.h"
#include "tests/testutil.h"

#define TUE_0900 INT64_C(1796104800)

static const char *s_config =
    "{\"version\":1,\"offices\":[{\"code\":\"NBI\",\"name\":{\"en\":\"Nairobi\"},"
    "\"hours\":{\"mon\":[\"08:00\",\"17:00\"],\"tue\":[\"08:00\",\"17:00\"],\"wed\":[\"08:00\",\"17:00\"],"
    "\"thu\":[\"08:00\",\"17:00\"],\"fri\":[\"08:00\",\"17:00\"]},"
    "\"services\":[{\"code\":\"PASSPORT\",\"prefix\":\"P\",\"name\":{\"en\":\"Passports\"},\"slot_minutes\":15,"
    "\"capacity\":5,\"service_minutes\":10}],"
    "\"counters\":[{\"number\":1,\"services\":[\"PASSPORT\"]}]}]}";

typedef tu_stack_t fx_stack_t;

static void
s_start(fx_stack_t *st)
{
    tu_stack_start(st, s_config, "1796104800");
}

#define s_start_scheduler tu_stack_start_scheduler
#define s_stop            tu_stack_stop
#define s_client          tu_stack_client
#define s_call            tu_stack_call
#define s_encode          tu_encode_json

/* Decode a reply's msgpack body. */
static fl_msg_t *
s_reply(const fl_reply_t *r)
{
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_ge(r->nparts, 1);
    fl_msg_t *m = fl_msg_decode(r->parts[0].data, r->parts[0].size, NULL);
    ck_assert_ptr_nonnull(m);
    return m;
}

static void
s_book_json(char *out, size_t cap, const char *rid, int64_t start, unsigned id)
{
    snprintf(out, cap, "{\"type\":\"book\",\"rid\":\"%s\",\"office\":\"NBI\",\"service\":\"PASSPORT\","
             "\"start\":%lld,\"name\":\"Citizen Mwangi\",\"id_type\":\"national\",\"id_number\":\"%u\","
             "\"phone\":\"+254712345678\"}", rid, (long long) start, id);
}

#define RACERS 200

/* A metric's value in Prometheus text ("name value" at the start of a line),
 * or -1 when it is not there. */
static long long
s_metric(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, name, len) && line[len] == ' ')
            return strtoll(line + len + 1, NULL, 10);
    return -1;
}

START_TEST(test_racers_for_the_last_places_exactly_five_win)
{
    fx_stack_t st = { 0 };
    s_start(&st);
    int64_t slot = TUE_0900 + 3600;                 /* 10:00, capacity 5 */
    fl_client_t *clients[RACERS];
    msgpack_sbuffer bufs[RACERS];
    for (int i = 0; i < RACERS; i++) {
        clients[i] = s_client(&st, 10000, 2);
        char json[512], rid[32];
        snprintf(rid, sizeof rid, "race-%06d", i);
        s_book_json(json, sizeof json, rid, slot, 10000000u + (unsigned) i);
        s_encode(json, &bufs[i]);
    }
    for (int i = 0; i < RACERS; i++) {             /* all in flight before any reply */
        char rid[32];
        snprintf(rid, sizeof rid, "race-%06d", i);
        ck_assert_int_eq(fl_client_send(clients[i], "foleni.scheduler", rid, bufs[i].data, bufs[i].size), 0);
    }
    int booked = 0, full = 0, other = 0;
    for (int i = 0; i < RACERS; i++) {
        fl_reply_t r;
        ck_assert_int_eq(fl_client_recv(clients[i], &r, 20000), 0);
        fl_msg_t *m = s_reply(&r);
        if (fl_msg_type(m) == FL_T_BOOKING)
            booked++;
        else if (fl_msg_type(m) == FL_T_ERROR && !strcmp(fl_msg_str(m, FL_F_CODE), "full"))
            full++;
        else
            other++;
        fl_msg_destroy(&m);
        fl_reply_reset(&r);
        fl_client_destroy(&clients[i]);
        msgpack_sbuffer_destroy(&bufs[i]);
    }
    ck_assert_int_eq(booked, 5);
    ck_assert_int_eq(full, RACERS - 5);
    ck_assert_int_eq(other, 0);
    /* the scheduler's metrics file (rewritten every second) comes to count
     * the race: the start-up check, 200 bookings, 195 of them refused */
    bool counted = false;
    char text[4096] = "";
    for (int64_t until = zclock_mono() + 15000; !counted && zclock_mono() < until; zclock_sleep(50)) {
        tu_read_file(st.metrics, text, sizeof text);
        counted = s_metric(text, "foleni_scheduler_requests_total") == RACERS + 1;
    }
    ck_assert_msg(counted, "the metrics file never counted the race:\n%s", text);
    ck_assert_int_eq(s_metric(text, "foleni_scheduler_refused_total"), RACERS - 5);
    ck_assert_int_eq(s_metric(text, "foleni_scheduler_failed_batches_total"), 0);
    ck_assert_int_ge(s_metric(text, "foleni_scheduler_batches_total"), 2);
    ck_assert_int_gt(s_metric(text, "foleni_scheduler_store_used_bytes"), 0);
    ck_assert_int_gt(s_metric(text, "foleni_scheduler_metrics_time_seconds"), 1700000000);  /* the wall clock, not --clock */
    ck_assert_ptr_nonnull(strstr(text, "# TYPE foleni_scheduler_requests_total counter\n"));
    s_stop(&st);
}
END_TEST

START_TEST(test_the_same_id_twice_at_once_books_once)
{
    fx_stack_t st = { 0 };
    s_start(&st);
    fl_client_t *a = s_client(&st, 5000, 2), *b = s_client(&st, 5000, 2);
    char ja[512], jb[512];
    s_book_json(ja, sizeof ja, "twice-000001", TUE_0900 + 3600, 424242);
    s_book_json(jb, sizeof jb, "twice-000002", TUE_0900 + 4500, 424242);       /* another slot */
    msgpack_sbuffer ba, bb;
    s_encode(ja, &ba);
    s_encode(jb, &bb);
    ck_assert_int_eq(fl_client_send(a, "foleni.scheduler", "twice-000001", ba.data, ba.size), 0);
    ck_assert_int_eq(fl_client_send(b, "foleni.scheduler", "twice-000002", bb.data, bb.size), 0);
    fl_reply_t ra, rb;
    ck_assert_int_eq(fl_client_recv(a, &ra, 10000), 0);
    ck_assert_int_eq(fl_client_recv(b, &rb, 10000), 0);
    fl_msg_t *ma = s_reply(&ra), *mb = s_reply(&rb);
    int ok = (fl_msg_type(ma) == FL_T_BOOKING) + (fl_msg_type(mb) == FL_T_BOOKING);
    ck_assert_int_eq(ok, 1);
    fl_msg_t *refused = fl_msg_type(ma) == FL_T_ERROR ? ma : mb;
    ck_assert_str_eq(fl_msg_str(refused, FL_F_CODE), "conflict");
    fl_msg_destroy(&ma);
    fl_msg_destroy(&mb);
    fl_reply_reset(&ra);
    fl_reply_reset(&rb);
    msgpack_sbuffer_destroy(&ba);
    msgpack_sbuffer_destroy(&bb);
    fl_client_destroy(&a);
    fl_client_destroy(&b);
    s_stop(&st);
}
END_TEST

#define STORM 3000

START_TEST(test_sigkill_in_a_booking_storm_loses_no_confirmed_booking)
{
    fx_stack_t st = { 0 };
    s_start(&st);
    const char *topics[] = { "NBI" };
    zsock_t *sub = fl_bus_subscriber(st.subscribe, NULL, topics, 1, NULL);
    ck_assert_ptr_nonnull(sub);
    zclock_sleep(200);                               /* let the subscription reach the broker */
    fl_client_t *c = s_client(&st, 3000, 0);
    /* slots from 10:00 on, five places each: every booking has room */
    static char refs[STORM][16];
    static unsigned ids[STORM];
    int confirmed = 0;
    for (int sent = 0; sent < STORM; sent++) {
        char json[512], rid[32];
        snprintf(rid, sizeof rid, "storm-%06d", sent);
        s_book_json(json, sizeof json, rid, TUE_0900 + 3600 + (int64_t) (sent / 5) % 28 * 900
                    + (int64_t) (sent / 140) * 86400, 20000000u + (unsigned) sent);
        msgpack_sbuffer buf;
        s_encode(json, &buf);
        ck_assert_int_eq(fl_client_send(c, "foleni.scheduler", rid, buf.data, buf.size), 0);
        msgpack_sbuffer_destroy(&buf);
    }
    /* collect confirmations; kill the scheduler while most are still in flight */
    size_t in_flight_at_kill = 0;
    fl_reply_t r;
    while (fl_client_recv(c, &r, st.scheduler ? 5000 : 300) == 0) {
        if (r.status == 0) {
            fl_msg_t *m = s_reply(&r);
            if (fl_msg_type(m) == FL_T_BOOKING) {
                snprintf(refs[confirmed], sizeof refs[0], "%s", fl_msg_str(m, FL_F_REF));
                ids[confirmed++] = 20000000u + (unsigned) atoi(r.rid + 6);
            }
            fl_msg_destroy(&m);
        }
        fl_reply_reset(&r);
        if (confirmed >= 300 && st.scheduler) {
            ck_assert_int_eq(tu_stop(st.scheduler, SIGKILL, 1000), 128 + SIGKILL);
            st.scheduler = 0;
            in_flight_at_kill = fl_client_outstanding(c);
        }
    }
    ck_assert_msg(st.scheduler == 0, "the storm ended before the kill");
    ck_assert_uint_gt(in_flight_at_kill, 0);        /* killed in the middle, not after */
    fl_client_destroy(&c);
    ck_assert_int_ge(confirmed, 300);
    /* the highest seq seen on the bus before the crash */
    uint64_t max_seq = 0;
    zmsg_t *ev;
    zsock_set_rcvtimeo(sub, 100);
    while ((ev = zmsg_recv(sub))) {
        zframe_t *body = zmsg_last(ev);
        fl_msg_t *e = fl_msg_decode(zframe_data(body), zframe_size(body), NULL);
        if (e && fl_msg_uint(e, FL_F_SEQ) > max_seq)
            max_seq = fl_msg_uint(e, FL_F_SEQ);
        fl_msg_destroy(&e);
        zmsg_destroy(&ev);
    }
    ck_assert_uint_gt(max_seq, 0);

    s_start_scheduler(&st);                          /* restart on the same store */
    fl_client_t *v = s_client(&st, 3000, 3);
    for (int i = 0; i < confirmed; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"type\":\"view\",\"ref\":\"%.15s\",\"id_number\":\"%u\"}", refs[i], ids[i]);
        fl_msg_t *m = s_call(v, json);
        ck_assert_msg(fl_msg_type(m) == FL_T_BOOKING, "confirmed booking %s is gone after the crash", refs[i]);
        fl_msg_destroy(&m);
    }
    /* the next event continues the sequence */
    fl_msg_t *w = s_call(v, "{\"type\":\"walkin\",\"rid\":\"after-crash-1\",\"office\":\"NBI\",\"service\":\"PASSPORT\","
                            "\"priority\":\"none\"}");
    ck_assert_int_eq(fl_msg_type(w), FL_T_TICKET);
    fl_msg_destroy(&w);
    uint64_t next_seq = 0;
    zsock_set_rcvtimeo(sub, 3000);
    while (!next_seq && (ev = zmsg_recv(sub))) {
        zframe_t *body = zmsg_last(ev);
        fl_msg_t *e = fl_msg_decode(zframe_data(body), zframe_size(body), NULL);
        if (e && !strcmp(fl_msg_str(e, FL_F_KIND), "ticket"))
            next_seq = fl_msg_uint(e, FL_F_SEQ);
        fl_msg_destroy(&e);
        zmsg_destroy(&ev);
    }
    ck_assert_uint_gt(next_seq, max_seq);
    fl_client_destroy(&v);
    zsock_destroy(&sub);
    s_stop(&st);                                     /* includes foleni-store check: no slot over capacity */
}
END_TEST

/* The slot of storm booking i: 10:00 to 16:45 on weekdays from Tuesday
 * 2026-12-01 on, five bookings to a slot (its capacity), so every one has
 * room and a working day. */
static int64_t
s_storm_slot(int i)
{
    int day = 0;
    for (int weekdays = i / 140; ; day++)           /* 28 slots of 5 a day */
        if ((1 + day) % 7 < 5 && weekdays-- == 0)   /* day 0 is a Tuesday (1; Monday 0) */
            break;
    return TUE_0900 + 3600 + (int64_t) (i / 5 % 28) * 900 + (int64_t) day * 86400;
}

/* Send bookings first..end-1 on one client, all in flight at once: request
 * ids "PREFIX-NNNNNN", ID numbers id_base + N, slots s_storm_slot(N). */
static void
s_send_bookings(fl_client_t *c, const char *prefix, int first, int end, unsigned id_base)
{
    for (int sent = first; sent < end; sent++) {
        char json[512], rid[32];
        snprintf(rid, sizeof rid, "%s-%06d", prefix, sent);
        s_book_json(json, sizeof json, rid, s_storm_slot(sent), id_base + (unsigned) sent);
        msgpack_sbuffer buf;
        s_encode(json, &buf);
        ck_assert_int_eq(fl_client_send(c, "foleni.scheduler", rid, buf.data, buf.size), 0);
        msgpack_sbuffer_destroy(&buf);
    }
}

/* A SIGTERM in a storm must end cleanly (exit 0; under AddressSanitizer
 * nothing leaked), every answer the scheduler gave must hold, and every
 * request it took but did not answer must be safe to send again: once
 * committed, a retry gets the stored answer, not a second booking.  To stop it surely in the middle, the scheduler is frozen
 * (SIGSTOP) after 300 answers, the rest of the storm is sent, and only then
 * is it told to stop and let go on. */
START_TEST(test_sigterm_in_a_booking_storm_stops_cleanly_and_retries_book_once)
{
    fx_stack_t st = { 0 };
    s_start(&st);
    fl_client_t *c = s_client(&st, 3000, 0);
    s_send_bookings(c, "storm", 0, 1000, 20000000u);
    static char refs[STORM][16];
    static bool answered[STORM];
    int confirmed = 0;
    bool rest_sent = false;
    fl_reply_t r;
    while (fl_client_recv(c, &r, st.scheduler ? 5000 : 300) == 0) {
        if (r.status == 0) {
            fl_msg_t *m = s_reply(&r);
            ck_assert_msg(fl_msg_type(m) == FL_T_BOOKING, "storm reply %s: %s %s", r.rid,
                          fl_msg_type(m) == FL_T_ERROR ? fl_msg_str(m, FL_F_CODE) : "?",
                          fl_msg_type(m) == FL_T_ERROR ? fl_msg_str(m, FL_F_MESSAGE) : "");
            int i = atoi(r.rid + 6);
            ck_assert(!answered[i]);
            answered[i] = true;
            snprintf(refs[i], sizeof refs[0], "%s", fl_msg_str(m, FL_F_REF));
            confirmed++;
            fl_msg_destroy(&m);
        }
        fl_reply_reset(&r);
        if (confirmed >= 300 && !rest_sent) {
            ck_assert_int_eq(kill(st.scheduler, SIGSTOP), 0);
            s_send_bookings(c, "storm", 1000, STORM, 20000000u);
            zclock_sleep(300);                      /* the storm reaches the broker and the scheduler's socket */
            ck_assert_int_eq(kill(st.scheduler, SIGTERM), 0);
            ck_assert_int_eq(tu_stop(st.scheduler, SIGCONT, 5000), 0);     /* a clean exit */
            st.scheduler = 0;
            rest_sent = true;
        }
    }
    ck_assert_msg(st.scheduler == 0, "the storm ended before the stop");
    ck_assert_int_lt(confirmed, STORM);             /* stopped in the middle, not after */
    fl_client_destroy(&c);

    s_start_scheduler(&st);                          /* restart on the same store */
    fl_client_t *again = s_client(&st, 3000, 3);
    int repeated = 0;
    for (int i = 0; i < STORM; i++) {
        char json[512], rid[32];
        snprintf(rid, sizeof rid, "storm-%06d", i);
        if (!answered[i]) {                          /* the client's retry, same id */
            s_book_json(json, sizeof json, rid, s_storm_slot(i), 20000000u + (unsigned) i);
            fl_msg_t *m = s_call(again, json);
            ck_assert_msg(fl_msg_type(m) == FL_T_BOOKING, "retry of %s was not booked", rid);
            snprintf(refs[i], sizeof refs[0], "%s", fl_msg_str(m, FL_F_REF));
            fl_msg_destroy(&m);
            repeated++;
        }
        snprintf(json, sizeof json, "{\"type\":\"view\",\"ref\":\"%.15s\",\"id_number\":\"%u\"}", refs[i],
                 20000000u + (unsigned) i);
        fl_msg_t *m = s_call(again, json);
        ck_assert_msg(fl_msg_type(m) == FL_T_BOOKING, "booking %d (%s) is not there", i, refs[i]);
        fl_msg_destroy(&m);
    }
    ck_assert_int_eq(repeated, STORM - confirmed);
    fl_client_destroy(&again);
    /* one booking per request, never two: STORM bookings, each with its
     * place, and the store's own check (in s_stop) finds no slot over
     * capacity and no index entry astray */
    char text[4096] = "";
    bool counted = false;
    for (int64_t until = zclock_mono() + 15000; !counted && zclock_mono() < until; zclock_sleep(50)) {
        tu_read_file(st.metrics, text, sizeof text);
        counted = s_metric(text, "foleni_scheduler_requests_total") >= 2 * STORM - confirmed;
    }
    ck_assert_msg(counted, "the metrics file never counted the retries:\n%s", text);
    s_stop(&st);
}
END_TEST

/* --no-group-commit (what the benchmark compares group commit with): each
 * request its own durable commit, every one answered. */
START_TEST(test_one_commit_per_request_answers_every_request)
{
    fx_stack_t st = { 0 };
    const char *args[] = { "--no-group-commit", NULL };
    tu_stack_start_args(&st, s_config, "1796104800", args);
    enum { N = 40 };
    fl_client_t *c = s_client(&st, 10000, 0);
    for (int i = 0; i < N; i++) {                   /* all in flight at once */
        char json[512], rid[32];
        snprintf(rid, sizeof rid, "single-%03d", i);
        s_book_json(json, sizeof json, rid, TUE_0900 + 3600 + (int64_t) (i / 5) * 900, 30000000u + (unsigned) i);
        msgpack_sbuffer buf;
        s_encode(json, &buf);
        ck_assert_int_eq(fl_client_send(c, "foleni.scheduler", rid, buf.data, buf.size), 0);
        msgpack_sbuffer_destroy(&buf);
    }
    for (int i = 0; i < N; i++) {
        fl_reply_t r;
        ck_assert_int_eq(fl_client_recv(c, &r, 10000), 0);
        fl_msg_t *m = s_reply(&r);
        ck_assert_int_eq(fl_msg_type(m), FL_T_BOOKING);
        fl_msg_destroy(&m);
        fl_reply_reset(&r);
    }
    fl_client_destroy(&c);
    /* one committed batch per request (and one for the start-up check) */
    char text[4096] = "";
    bool counted = false;
    for (int64_t until = zclock_mono() + 15000; !counted && zclock_mono() < until; zclock_sleep(50)) {
        tu_read_file(st.metrics, text, sizeof text);
        counted = s_metric(text, "foleni_scheduler_requests_total") == N + 1;
    }
    ck_assert_msg(counted, "the metrics file never counted the bookings:\n%s", text);
    ck_assert_int_eq(s_metric(text, "foleni_scheduler_batches_total"), N + 1);
    s_stop(&st);
}
END_TEST

/* A service with a fee: its bookings are held for hold_minutes (one here).
 * The scheduler's clock runs 120 times faster, so a minute passes in half a
 * second: the periodic work (once a second, between batches) must expire
 * the hold, free its place and publish the change while the scheduler
 * serves. */
static const char *s_fee_config =
    "{\"version\":1,\"offices\":[{\"code\":\"NBI\",\"name\":{\"en\":\"Nairobi\"},"
    "\"hours\":{\"mon\":[\"08:00\",\"17:00\"],\"tue\":[\"08:00\",\"17:00\"],\"wed\":[\"08:00\",\"17:00\"],"
    "\"thu\":[\"08:00\",\"17:00\"],\"fri\":[\"08:00\",\"17:00\"]},"
    "\"services\":[{\"code\":\"PASSPORT\",\"prefix\":\"P\",\"name\":{\"en\":\"Passports\"},\"slot_minutes\":15,"
    "\"capacity\":1,\"service_minutes\":10,\"fee\":1050,\"hold_minutes\":1}],"
    "\"counters\":[{\"number\":1,\"services\":[\"PASSPORT\"]}]}]}";

START_TEST(test_a_held_booking_expires_while_the_scheduler_serves)
{
    fx_stack_t st = { 0 };
    tu_stack_start(&st, s_fee_config, "1796104800:120");
    const char *topics[] = { "NBI.booking" };
    zsock_t *sub = fl_bus_subscriber(st.subscribe, NULL, topics, 1, NULL);
    ck_assert_ptr_nonnull(sub);
    zclock_sleep(200);                               /* let the subscription reach the broker */
    fl_client_t *c = s_client(&st, 5000, 2);
    int64_t slot = TUE_0900 + 6 * 3600;              /* 15:00: hours ahead even at 120 times */
    char json[512];
    s_book_json(json, sizeof json, "held-000001", slot, 5550001);
    fl_msg_t *m = s_call(c, json);
    ck_assert_int_eq(fl_msg_type(m), FL_T_BOOKING);
    ck_assert_str_eq(fl_msg_str(m, FL_F_STATE), "held");
    char ref[16];
    snprintf(ref, sizeof ref, "%s", fl_msg_str(m, FL_F_REF));
    fl_msg_destroy(&m);
    /* the one place is held: a second person is told it is full, unless the
     * hold already ran out (a slow machine): then they get it */
    s_book_json(json, sizeof json, "held-000002", slot, 5550002);
    m = s_call(c, json);
    bool second_booked = fl_msg_type(m) == FL_T_BOOKING;
    if (!second_booked)
        ck_assert_str_eq(fl_msg_str(m, FL_F_CODE), "full");
    fl_msg_destroy(&m);
    /* the hold expires on its own */
    char view[256];
    snprintf(view, sizeof view, "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"5550001\"}", ref);
    bool expired = false;
    for (int64_t until = zclock_mono() + 20000; !expired && zclock_mono() < until; zclock_sleep(100)) {
        m = s_call(c, view);
        ck_assert_int_eq(fl_msg_type(m), FL_T_BOOKING);
        expired = !strcmp(fl_msg_str(m, FL_F_STATE), "expired");
        fl_msg_destroy(&m);
    }
    ck_assert_msg(expired, "the held booking %s never expired", ref);
    /* its place is free again: the second person gets it now */
    if (!second_booked) {
        s_book_json(json, sizeof json, "held-000003", slot, 5550002);
        m = s_call(c, json);
        ck_assert_int_eq(fl_msg_type(m), FL_T_BOOKING);
        fl_msg_destroy(&m);
    }
    /* and the bus carried the expiry */
    bool published = false;
    zsock_set_rcvtimeo(sub, 3000);
    zmsg_t *ev;
    while (!published && (ev = zmsg_recv(sub))) {
        zframe_t *body = zmsg_last(ev);
        fl_msg_t *e = fl_msg_decode(zframe_data(body), zframe_size(body), NULL);
        published = e && !strcmp(fl_msg_str(e, FL_F_STATE), "expired");
        fl_msg_destroy(&e);
        zmsg_destroy(&ev);
    }
    ck_assert_msg(published, "no event said the booking expired");
    fl_client_destroy(&c);
    zsock_destroy(&sub);
    s_stop(&st);
}
END_TEST

/* Unmount dir once this process is gone, however it ends (a failed check
 * ends it early): a child in a process group of its own waits for the end
 * of a pipe that only this process holds open. */
static void
s_unmount_when_gone(const char *dir)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);         /* not kept by the programs it starts */
    pid_t watcher = fork();
    ck_assert_int_ge(watcher, 0);
    if (watcher == 0) {
        setpgid(0, 0);                      /* Check ends the test's process group: not this one */
        close(fds[1]);
        char c;
        while (read(fds[0], &c, 1) > 0)
            ;
        umount2(dir, MNT_DETACH);           /* fails harmlessly if already done */
        _exit(0);
    }
    setpgid(watcher, watcher);              /* here too: whichever runs first */
    close(fds[0]);                          /* fds[1] stays open until this process ends */
}

/* The store on a disk that fills up (a 64 MiB tmpfs of the test's own; needs
 * root and the right to mount): bookings are refused with `store` errors,
 * the scheduler stays up and still answers reads, and once there is room
 * again it books again.  Before, the citizen index's mapped file could end
 * the process with SIGBUS (docs/store.md, "A full disk"). */
START_TEST(test_a_full_disk_refuses_bookings_and_the_scheduler_stays_up)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_scheduler_e2e: the full-disk test needs root (a tmpfs mount); not run\n");
        return;
    }
    fx_stack_t st = { 0 };
    s_start(&st);
    ck_assert_int_eq(tu_stop(st.scheduler, SIGTERM, 5000), 0);
    st.scheduler = 0;
    char disk[400], cmd[2048];
    ck_assert_uint_lt(strlen(st.dir), 300);
    snprintf(disk, sizeof disk, "%s/disk", st.dir);
    ck_assert_int_eq(mkdir(disk, 0700), 0);
    if (mount("foleni-test", disk, "tmpfs", 0, "size=64m,mode=0700") != 0) {
        ck_assert_msg(errno == EPERM || errno == EACCES, "cannot mount a tmpfs: %s", strerror(errno));
        fprintf(stderr, "test_scheduler_e2e: the full-disk test could not mount a tmpfs (%s); not run\n",
                strerror(errno));
        s_start_scheduler(&st);
        s_stop(&st);
        return;
    }
    s_unmount_when_gone(disk);
    int64_t mounted_at = zclock_mono();
    /* the store moves onto the small disk; the scheduler starts on it */
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s/data'", st.data, disk);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(st.data, sizeof st.data, "%s/data", disk);
    s_start_scheduler(&st);
    fl_client_t *c = s_client(&st, 5000, 2);
    char json[512], rid[32];
    snprintf(rid, sizeof rid, "disk-%06d", 0);
    s_book_json(json, sizeof json, rid, s_storm_slot(0), 40000000u);
    fl_msg_t *m = s_call(c, json);
    ck_assert_int_eq(fl_msg_type(m), FL_T_BOOKING);
    char first_ref[16];
    snprintf(first_ref, sizeof first_ref, "%s", fl_msg_str(m, FL_F_REF));
    fl_msg_destroy(&m);
    /* the disk fills to the last byte */
    char filler[700];
    tu_fill_disk(disk, filler, sizeof filler);
    /* 400 bookings at once: a batch of them needs new pages of the citizen
     * index at once.  Each is booked (while LMDB reuses free pages) or
     * refused with a `store` error */
    enum { AT_ONCE = 400 };
    fl_client_t *many = s_client(&st, 20000, 0);
    s_send_bookings(many, "disk", 1, AT_ONCE + 1, 40000000u);
    int refused = 0;
    for (int i = 1; i <= AT_ONCE; i++) {
        fl_reply_t r;
        ck_assert_msg(fl_client_recv(many, &r, 20000) == 0, "no reply: is the scheduler gone?");
        m = s_reply(&r);
        if (fl_msg_type(m) == FL_T_ERROR) {
            ck_assert_str_eq(fl_msg_str(m, FL_F_CODE), "store");
            if (!refused)
                refused = atoi(r.rid + 5);
        } else
            ck_assert_int_eq(fl_msg_type(m), FL_T_BOOKING);
        fl_msg_destroy(&m);
        fl_reply_reset(&r);
    }
    fl_client_destroy(&many);
    ck_assert_msg(refused, "400 bookings fitted on a full disk");
    /* 100 more, one at a time: 100 batches, each failing */
    int failed_alone = 0;
    for (int i = AT_ONCE + 1; i <= AT_ONCE + 100; i++) {
        snprintf(rid, sizeof rid, "disk-%06d", i);
        s_book_json(json, sizeof json, rid, s_storm_slot(i), 40000000u + (unsigned) i);
        m = s_call(c, json);
        failed_alone += fl_msg_type(m) == FL_T_ERROR && !strcmp(fl_msg_str(m, FL_F_CODE), "store");
        fl_msg_destroy(&m);
    }
    ck_assert_int_ge(failed_alone, 50);
    /* every failed batch is counted, but the log says so at most once a second */
    static char log[1 << 20];
    tu_read_file(st.log, log, sizeof log);
    int lines = 0;
    for (const char *p = log; (p = strstr(p, "not committed")); p++)
        lines++;
    ck_assert_int_ge(lines, 1);
    ck_assert_int_le(lines, 1 + (int) ((zclock_mono() - mounted_at) / 1000));
    /* still up, and reads are answered */
    ck_assert_int_eq(waitpid(st.scheduler, NULL, WNOHANG), 0);
    char view[256];
    snprintf(view, sizeof view, "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"40000000\"}", first_ref);
    m = s_call(c, view);
    ck_assert_int_eq(fl_msg_type(m), FL_T_BOOKING);
    fl_msg_destroy(&m);
    /* room again: the refused booking, sent again with its request id, is made */
    ck_assert_int_eq(unlink(filler), 0);
    snprintf(rid, sizeof rid, "disk-%06d", refused);
    s_book_json(json, sizeof json, rid, s_storm_slot(refused), 40000000u + (unsigned) refused);
    m = s_call(c, json);
    ck_assert_int_eq(fl_msg_type(m), FL_T_BOOKING);
    fl_msg_destroy(&m);
    fl_client_destroy(&c);
    ck_assert_int_eq(tu_stop(st.scheduler, SIGTERM, 5000), 0);
    ck_assert_int_eq(tu_stop(st.broker, SIGTERM, 5000), 0);
    st.scheduler = st.broker = 0;
    snprintf(cmd, sizeof cmd, "%s --data %s check >/dev/null", tu_bin("foleni-store"), st.data);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(umount2(disk, MNT_DETACH), 0);
    tu_rmtree(st.dir);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("scheduler_e2e");
    TCase *tc = tcase_create("through the broker");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_racers_for_the_last_places_exactly_five_win);
    tcase_add_test(tc, test_the_same_id_twice_at_once_books_once);
    tcase_add_test(tc, test_sigkill_in_a_booking_storm_loses_no_confirmed_booking);
    tcase_add_test(tc, test_sigterm_in_a_booking_storm_stops_cleanly_and_retries_book_once);
    tcase_add_test(tc, test_one_commit_per_request_answers_every_request);
    tcase_add_test(tc, test_a_held_booking_expires_while_the_scheduler_serves);
    tcase_add_test(tc, test_a_full_disk_refuses_bookings_and_the_scheduler_stays_up);
    suite_add_tcase(s, tc);
    return s;
}
