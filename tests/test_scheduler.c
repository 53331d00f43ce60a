/*  test_scheduler.c — the scheduler's rules, in process, on a real store.
 *
 *  Each test opens a fresh LMDB environment in a temporary folder, a small
 *  configuration, and a sched_t, then sends requests exactly as they arrive
 *  from the broker (msgpack built from JSON) through sched_batch() at chosen
 *  instants: the clock is an argument, so nothing sleeps.  After every test
 *  the store's own consistency check must pass.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libfoleni/ids.h"
#include "libfoleni/json.h"
#include "libfoleni/localtime.h"
#include "scheduler/scheduler.h"
#include "store/check.h"
#include "tests/testutil.h"

/* 2026-12-01 is a Tuesday; 09:00 in Nairobi (UTC+3) is 06:00 UTC. */
#define TUE_0900 INT64_C(1796104800)
#define MINUTES(m) ((int64_t) (m) * 60)

static const char *s_config =
    "{\"version\":1,\"booking_days_ahead\":14,\"offices\":["
    " {\"code\":\"NBI\",\"name\":{\"en\":\"Nairobi\"},\"timezone\":\"Africa/Nairobi\","
    "  \"hours\":{\"mon\":[\"08:00\",\"17:00\"],\"tue\":[\"08:00\",\"17:00\"],\"wed\":[\"08:00\",\"17:00\"],"
    "            \"thu\":[\"08:00\",\"17:00\"],\"fri\":[\"08:00\",\"17:00\"],\"sat\":[\"08:00\",\"13:00\"]},"
    "  \"closed\":[\"2026-12-25\"],"
    "  \"services\":["
    "   {\"code\":\"PASSPORT\",\"prefix\":\"P\",\"name\":{\"en\":\"Passports\"},\"slot_minutes\":15,\"capacity\":2,"
    "    \"service_minutes\":10,\"checkin_early_minutes\":30,\"checkin_late_minutes\":15,\"max_wait_minutes\":60},"
    "   {\"code\":\"GOODCOND\",\"prefix\":\"G\",\"name\":{\"en\":\"Good conduct\"},\"slot_minutes\":30,\"capacity\":1,"
    "    \"service_minutes\":10,\"fee\":1050,\"hold_minutes\":30},"
    "   {\"code\":\"BIRTH\",\"prefix\":\"B\",\"name\":{\"en\":\"Birth\"},\"slot_minutes\":10,\"capacity\":0,"
    "    \"service_minutes\":5}],"
    "  \"counters\":[{\"number\":1,\"services\":[\"PASSPORT\",\"BIRTH\"]},{\"number\":2,\"services\":[\"BIRTH\",\"GOODCOND\"]}]},"
    " {\"code\":\"LON\",\"name\":{\"en\":\"London\"},\"timezone\":\"Europe/London\","
    "  \"hours\":{\"sun\":[\"00:00\",\"24:00\"],\"mon\":[\"00:00\",\"24:00\"],\"tue\":[\"00:00\",\"24:00\"],"
    "            \"wed\":[\"00:00\",\"24:00\"],\"thu\":[\"00:00\",\"24:00\"],\"fri\":[\"00:00\",\"24:00\"],"
    "            \"sat\":[\"00:00\",\"24:00\"]},"
    "  \"services\":[{\"code\":\"VISA\",\"prefix\":\"V\",\"name\":{\"en\":\"Visas\"},\"slot_minutes\":60,"
    "    \"capacity\":1,\"service_minutes\":20}],"
    "  \"counters\":[{\"number\":1,\"services\":[\"VISA\"]}]}]}";

typedef struct {
    char *dir;
    fl_config_t *cfg;
    store_t *store;
    sched_t *s;
    size_t events;              /* events published so far */
    uint64_t last_seq;
} fx_t;

static const uint8_t s_secret[32] = "a test secret of 32 bytes......";

static void
fx_start(fx_t *fx, int64_t now)
{
    fl_error_t err;
    if (!fx->dir)
        fx->dir = tu_tempdir();
    if (!fx->cfg)
        ck_assert_ptr_nonnull(fx->cfg = fl_config_parse(s_config, strlen(s_config), "test", &err));
    ck_assert_ptr_nonnull(fx->store = store_open(fx->dir, NULL, &err));
    sched_auth_t auth = { .counter_token = "counter-secret", .admin_token = "admin-secret" };
    fx->s = sched_new(fx->store, fx->cfg, s_secret, sizeof s_secret, &auth, now, &err);
    ck_assert_msg(fx->s != NULL, "%s", err.message);
}

static void
fx_stop(fx_t *fx)
{
    sched_destroy(&fx->s);
    store_destroy(&fx->store);
}

static void
fx_end(fx_t *fx)
{
    size_t problems = 99;
    ck_assert_int_eq(store_check(fx->store, NULL, NULL, &problems, NULL, NULL), 0);
    ck_assert_msg(problems == 0, "the store check found %zu problems", problems);
    fx_stop(fx);
    fl_config_destroy(&fx->cfg);
    tu_rmtree(fx->dir);
}

static void
s_encode_json(const char *json, msgpack_sbuffer *buf)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    ck_assert_msg(j != NULL, "test JSON: %s in %s", jerr.text, json);
    fl_error_t err;
    fl_msg_t *m = fl_msg_from_json(j, &err);
    json_decref(j);
    ck_assert_msg(m != NULL, "test request: %s", err.message);
    msgpack_sbuffer_init(buf);
    ck_assert_int_eq(fl_msg_encode(m, buf, NULL), 0);
    fl_msg_destroy(&m);
}

/* Send n requests (JSON texts) as one batch at now; return the replies. */
static void
fx_batch(fx_t *fx, int64_t now, const char *const *json, size_t n, fl_msg_t **replies)
{
    sched_request_t reqs[64];
    msgpack_sbuffer bufs[64];
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++) {
        s_encode_json(json[i], &bufs[i]);
        reqs[i] = (sched_request_t) { .body = bufs[i].data, .len = bufs[i].size, .caller = "" };
    }
    sched_event_t *events;
    size_t nevents;
    ck_assert_int_eq(sched_batch(fx->s, reqs, n, now, &events, &nevents), 0);
    for (size_t i = 0; i < nevents; i++) {
        fl_msg_t *e = fl_msg_decode(events[i].body, events[i].len, NULL);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_gt(fl_msg_uint(e, FL_F_SEQ), 0);
        fl_msg_destroy(&e);
    }
    fx->events += nevents;
    sched_events_free(events, nevents);
    for (size_t i = 0; i < n; i++) {
        fl_error_t err;
        replies[i] = fl_msg_decode(reqs[i].reply, reqs[i].reply_len, &err);
        ck_assert_msg(replies[i] != NULL, "reply %zu does not decode: %s", i, err.message);
        /* every reply is in the codec's own encoding, even those the
         * scheduler packs by hand (slot_list): re-encoding gives the same bytes */
        msgpack_sbuffer again;
        msgpack_sbuffer_init(&again);
        ck_assert_int_eq(fl_msg_encode(replies[i], &again, NULL), 0);
        ck_assert_uint_eq(again.size, reqs[i].reply_len);
        ck_assert(memcmp(again.data, reqs[i].reply, again.size) == 0);
        msgpack_sbuffer_destroy(&again);
        free(reqs[i].reply);
        msgpack_sbuffer_destroy(&bufs[i]);
    }
}

/* One request, printf-style JSON. */
__attribute__((format(printf, 3, 4)))
static fl_msg_t *
fx_call(fx_t *fx, int64_t now, const char *fmt, ...)
{
    char json[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    const char *one[] = { json };
    fl_msg_t *reply;
    fx_batch(fx, now, one, 1, &reply);
    return reply;
}

/* The error code name of a reply, or "ok". */
static const char *
s_code(const fl_msg_t *r)
{
    return fl_msg_type(r) == FL_T_ERROR ? fl_msg_str(r, FL_F_CODE) : "ok";
}

static int s_rid;

#define RID "\"rid\":\"test-%06d\""
#define CTR ",\"token\":\"counter-secret\""

static fl_msg_t *
fx_walkin(fx_t *fx, int64_t now, const char *service, const char *priority)
{
    return fx_call(fx, now, "{\"type\":\"walkin\"," RID ",\"office\":\"NBI\",\"service\":\"%s\",\"priority\":\"%s\"}",
                   ++s_rid, service, priority);
}

static fl_msg_t *
fx_counter(fx_t *fx, int64_t now, const char *type, unsigned counter)
{
    return fx_call(fx, now, "{\"type\":\"%s\"," RID ",\"office\":\"NBI\",\"counter\":%u" CTR "}", type, ++s_rid,
                   counter);
}

static fl_msg_t *
fx_book(fx_t *fx, int64_t now, const char *service, int64_t start, const char *id)
{
    return fx_call(fx, now, "{\"type\":\"book\"," RID ",\"office\":\"NBI\",\"service\":\"%s\",\"start\":%lld,"
                   "\"name\":\"Wanjiru Kamau\",\"id_type\":\"national\",\"id_number\":\"%s\","
                   "\"phone\":\"+254712345678\"}", ++s_rid, service, (long long) start, id);
}

static void
fx_open_counter(fx_t *fx, int64_t now, unsigned counter, const char *services)
{
    fl_msg_t *r = fx_call(fx, now, "{\"type\":\"counter_open\"," RID ",\"office\":\"NBI\",\"counter\":%u,"
                          "\"service_codes\":[%s]" CTR "}", ++s_rid, counter, services);
    ck_assert_str_eq(s_code(r), "ok");
    fl_msg_destroy(&r);
}

/* Call next at counter and return the ticket label called ("" when none). */
static const char *
fx_next(fx_t *fx, int64_t now, unsigned counter)
{
    static char label[16];
    fl_msg_t *r = fx_counter(fx, now, "next", counter);
    snprintf(label, sizeof label, "%s", fl_msg_type(r) == FL_T_TICKET ? fl_msg_str(r, FL_F_TICKET) : "");
    fl_msg_destroy(&r);
    if (label[0]) {                      /* finish it so the counter may call again */
        fl_msg_t *d = fx_counter(fx, now, "done", counter);
        ck_assert_str_eq(s_code(d), "ok");
        fl_msg_destroy(&d);
    }
    return label;
}

/* Tuesday's statistics at now (as an administrator); *passport gets the
   PASSPORT item (the first service).  Free the returned reply. */
static fl_msg_t *
fx_tuesday_stats(fx_t *fx, int64_t now, fl_msg_t **passport)
{
    fl_msg_t *stats = fx_call(fx, now, "{\"type\":\"stats\",\"office\":\"NBI\",\"day\":20261201,"
                              "\"token\":\"admin-secret\"}");
    ck_assert_str_eq(s_code(stats), "ok");
    *passport = fl_msg_item(stats, FL_F_BY_SERVICE, 0);
    ck_assert_str_eq(fl_msg_str(*passport, FL_F_SERVICE), "PASSPORT");
    return stats;
}

/* ---- numbering ---- */

START_TEST(test_tickets_are_numbered_per_prefix_and_restart_each_local_day)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    const char *want[][2] = { { "PASSPORT", "P-001" }, { "PASSPORT", "P-002" }, { "BIRTH", "B-001" },
                              { "PASSPORT", "P-003" } };
    for (size_t i = 0; i < 4; i++) {
        fl_msg_t *r = fx_walkin(&fx, TUE_0900 + (int64_t) i, want[i][0], "none");
        ck_assert_str_eq(s_code(r), "ok");
        ck_assert_str_eq(fl_msg_str(r, FL_F_TICKET), want[i][1]);
        ck_assert_uint_eq(fl_msg_uint(r, FL_F_DAY), 20261201);
        fl_msg_destroy(&r);
    }
    /* Wednesday 08:05 in Nairobi: a new day, numbers start again */
    fl_msg_t *r = fx_walkin(&fx, TUE_0900 + MINUTES(23 * 60 + 5), "PASSPORT", "none");
    ck_assert_str_eq(fl_msg_str(r, FL_F_TICKET), "P-001");
    ck_assert_uint_eq(fl_msg_uint(r, FL_F_DAY), 20261202);
    fl_msg_destroy(&r);
    /* the office is closed at 06:00 local: no walk-in ticket */
    r = fx_walkin(&fx, TUE_0900 + MINUTES(21 * 60), "PASSPORT", "none");
    ck_assert_str_eq(s_code(r), "closed");
    fl_msg_destroy(&r);
    /* London: the day changes at London's midnight (23:59:30 -> 00:00:30 UTC in December) */
    int64_t lon_late = INT64_C(1796169570);          /* 2026-12-01 23:59:30 GMT */
    const char *visa = "{\"type\":\"walkin\",\"rid\":\"lon-%06d\",\"office\":\"LON\",\"service\":\"VISA\",\"priority\":\"none\"}";
    r = fx_call(&fx, lon_late, visa, ++s_rid);
    ck_assert_str_eq(fl_msg_str(r, FL_F_TICKET), "V-001");
    ck_assert_uint_eq(fl_msg_uint(r, FL_F_DAY), 20261201);
    fl_msg_destroy(&r);
    r = fx_call(&fx, lon_late + 60, visa, ++s_rid);
    ck_assert_str_eq(fl_msg_str(r, FL_F_TICKET), "V-001");
    ck_assert_uint_eq(fl_msg_uint(r, FL_F_DAY), 20261202);
    fl_msg_destroy(&r);
    fx_end(&fx);
}
END_TEST

/* ---- the call-next order, through the real handlers ---- */

START_TEST(test_call_next_order_appointment_priority_walkin)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *r;
    r = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");          /* P-001 */
    fl_msg_destroy(&r);
    r = fx_walkin(&fx, TUE_0900 + MINUTES(1), "PASSPORT", "elderly"); /* P-002 */
    fl_msg_destroy(&r);
    r = fx_walkin(&fx, TUE_0900 + MINUTES(2), "BIRTH", "expectant");  /* B-001 */
    fl_msg_destroy(&r);
    r = fx_book(&fx, TUE_0900, "PASSPORT", TUE_0900 + MINUTES(30), "20000001");
    ck_assert_str_eq(s_code(r), "ok");
    char ref[16];
    snprintf(ref, sizeof ref, "%s", fl_msg_str(r, FL_F_REF));
    fl_msg_destroy(&r);
    r = fx_call(&fx, TUE_0900 + MINUTES(20), "{\"type\":\"checkin\"," RID ",\"office\":\"NBI\",\"ref\":\"%s\"}", ++s_rid, ref);
    ck_assert_str_eq(s_code(r), "ok");
    ck_assert_str_eq(fl_msg_str(r, FL_F_TICKET), "P-003");
    ck_assert_str_eq(fl_msg_str(r, FL_F_KIND), "appointment");
    fl_msg_destroy(&r);
    fx_open_counter(&fx, TUE_0900, 1, "\"PASSPORT\",\"BIRTH\"");
    /* at 09:25 the appointment's slot has not started: priorities, walk-in, then it */
    const char *before[] = { "P-002", "B-001", "P-001", "P-003", "" };
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(25), 1), before[i]);
    fx_end(&fx);
}
END_TEST

START_TEST(test_started_appointment_goes_first_and_starved_walkin_is_not_passed)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *r = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");    /* P-001 at 09:00 */
    fl_msg_destroy(&r);
    r = fx_book(&fx, TUE_0900, "PASSPORT", TUE_0900 + MINUTES(30), "20000002");
    char ref[16];
    snprintf(ref, sizeof ref, "%s", fl_msg_str(r, FL_F_REF));
    fl_msg_destroy(&r);
    r = fx_call(&fx, TUE_0900 + MINUTES(25), "{\"type\":\"checkin\"," RID ",\"office\":\"NBI\",\"ref\":\"%s\"}", ++s_rid, ref);
    fl_msg_destroy(&r);                                           /* P-002, appointment 09:30 */
    r = fx_walkin(&fx, TUE_0900 + MINUTES(26), "PASSPORT", "expectant");  /* P-003 */
    fl_msg_destroy(&r);
    fx_open_counter(&fx, TUE_0900, 1, "\"PASSPORT\"");
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(31), 1), "P-002");  /* slot started: first */
    /* 10:01: P-001 has waited 61 minutes, over PASSPORT's 60: before the expectant mother */
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(61), 1), "P-001");
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(62), 1), "P-003");
    fx_end(&fx);
}
END_TEST

START_TEST(test_transfer_keeps_arrival_time_and_named_counter)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *r = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");          /* P-001 09:00 */
    fl_msg_destroy(&r);
    r = fx_walkin(&fx, TUE_0900 + MINUTES(5), "BIRTH", "none");              /* B-001 09:05 */
    fl_msg_destroy(&r);
    r = fx_walkin(&fx, TUE_0900 + MINUTES(10), "BIRTH", "none");             /* B-002 09:10 */
    fl_msg_destroy(&r);
    fx_open_counter(&fx, TUE_0900, 1, "\"PASSPORT\"");
    fx_open_counter(&fx, TUE_0900, 2, "\"BIRTH\"");
    r = fx_counter(&fx, TUE_0900 + MINUTES(15), "next", 1);
    ck_assert_str_eq(fl_msg_str(r, FL_F_TICKET), "P-001");
    fl_msg_destroy(&r);
    r = fx_call(&fx, TUE_0900 + MINUTES(16), "{\"type\":\"transfer\"," RID ",\"office\":\"NBI\",\"counter\":1,"
                "\"to_service\":\"BIRTH\"" CTR "}", ++s_rid);
    ck_assert_str_eq(s_code(r), "ok");
    ck_assert_str_eq(fl_msg_str(r, FL_F_STATE), "waiting");
    fl_msg_destroy(&r);
    /* counter 2 calls P-001 first: it arrived at 09:00, before both B tickets */
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(17), 2), "P-001");
    /* B-001 called at counter 2, sent to counter 1 by name: only counter 1 may call it */
    r = fx_counter(&fx, TUE_0900 + MINUTES(18), "next", 2);
    ck_assert_str_eq(fl_msg_str(r, FL_F_TICKET), "B-001");
    fl_msg_destroy(&r);
    r = fx_call(&fx, TUE_0900 + MINUTES(19), "{\"type\":\"transfer\"," RID ",\"office\":\"NBI\",\"counter\":2,"
                "\"to_counter\":1" CTR "}", ++s_rid);
    ck_assert_str_eq(s_code(r), "ok");
    fl_msg_destroy(&r);
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(20), 2), "B-002");
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(21), 2), "");
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(22), 1), "B-001");
    fx_end(&fx);
}
END_TEST

/* ---- check-in ---- */

START_TEST(test_checkin_window_early_on_time_late)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *b1 = fx_book(&fx, TUE_0900, "PASSPORT", TUE_0900 + MINUTES(60), "30000001");   /* 10:00 */
    fl_msg_t *b2 = fx_book(&fx, TUE_0900, "PASSPORT", TUE_0900 + MINUTES(75), "30000002");   /* 10:15 */
    const char *checkin = "{\"type\":\"checkin\"," RID ",\"office\":\"NBI\",\"ref\":\"%s\"}";
    fl_msg_t *r = fx_call(&fx, TUE_0900 + MINUTES(29), checkin, ++s_rid, fl_msg_str(b1, FL_F_REF));
    ck_assert_str_eq(s_code(r), "closed");                    /* 31 minutes early */
    ck_assert_ptr_nonnull(strstr(fl_msg_str(r, FL_F_MESSAGE), "check in from 09:30"));
    fl_msg_destroy(&r);
    r = fx_call(&fx, TUE_0900 + MINUTES(30), checkin, ++s_rid, fl_msg_str(b1, FL_F_REF));
    ck_assert_str_eq(s_code(r), "ok");
    ck_assert_str_eq(fl_msg_str(r, FL_F_KIND), "appointment");
    fl_msg_destroy(&r);
    r = fx_call(&fx, TUE_0900 + MINUTES(31), checkin, ++s_rid, fl_msg_str(b1, FL_F_REF));
    ck_assert_str_eq(s_code(r), "conflict");                  /* only once */
    fl_msg_destroy(&r);
    /* 16 minutes after 10:15 is past the 15-minute grace: a walk-in ticket instead */
    r = fx_call(&fx, TUE_0900 + MINUTES(91), checkin, ++s_rid, fl_msg_str(b2, FL_F_REF));
    ck_assert_str_eq(s_code(r), "ok");
    ck_assert_str_eq(fl_msg_str(r, FL_F_KIND), "walkin");
    fl_msg_destroy(&r);
    /* a typed reference with dashes and lower case is understood */
    char display[32], typed[32];
    fl_msg_t *b3 = fx_book(&fx, TUE_0900, "PASSPORT", TUE_0900 + MINUTES(120), "30000003");
    snprintf(display, sizeof display, "%.4s-%.4s-%.3s", fl_msg_str(b3, FL_F_REF), fl_msg_str(b3, FL_F_REF) + 4,
             fl_msg_str(b3, FL_F_REF) + 8);
    for (int i = 0; display[i]; i++)
        typed[i] = (char) (display[i] >= 'A' && display[i] <= 'Z' ? display[i] + 32 : display[i]), typed[i + 1] = 0;
    r = fx_call(&fx, TUE_0900 + MINUTES(100), checkin, ++s_rid, typed);
    ck_assert_str_eq(s_code(r), "ok");
    fl_msg_destroy(&r);
    fl_msg_destroy(&b1);
    fl_msg_destroy(&b2);
    fl_msg_destroy(&b3);
    fx_end(&fx);
}
END_TEST

/* ---- bookings ---- */

static int64_t
s_free_at(fx_t *fx, int64_t now, const char *service, int64_t start)
{
    fl_msg_t *r = fx_call(fx, now, "{\"type\":\"availability\",\"office\":\"NBI\",\"service\":\"%s\","
                          "\"from\":\"2026-12-01\",\"days\":2}", service);
    ck_assert_str_eq(s_code(r), "ok");
    int64_t free_places = -1;
    for (size_t i = 0; i < fl_msg_count(r, FL_F_SLOTS); i++) {
        fl_msg_t *slot = fl_msg_item(r, FL_F_SLOTS, i);
        if ((int64_t) fl_msg_uint(slot, FL_F_START) == start)
            free_places = (int64_t) fl_msg_uint(slot, FL_F_FREE);
    }
    fl_msg_destroy(&r);
    return free_places;
}

START_TEST(test_full_slot_duplicate_id_and_cancel)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    int64_t ten = TUE_0900 + MINUTES(60);
    ck_assert_int_eq(s_free_at(&fx, TUE_0900, "PASSPORT", ten), 2);
    fl_msg_t *a = fx_book(&fx, TUE_0900, "PASSPORT", ten, "40000001");
    fl_msg_t *b = fx_book(&fx, TUE_0900, "PASSPORT", ten, "40000002");
    fl_msg_t *c = fx_book(&fx, TUE_0900, "PASSPORT", ten, "40000003");
    ck_assert_str_eq(s_code(a), "ok");
    ck_assert_str_eq(s_code(b), "ok");
    ck_assert_str_eq(s_code(c), "full");
    ck_assert_int_eq(s_free_at(&fx, TUE_0900, "PASSPORT", ten), 0);
    fl_msg_t *again = fx_book(&fx, TUE_0900, "PASSPORT", ten + MINUTES(15), "40000001");
    ck_assert_str_eq(s_code(again), "conflict");              /* one active booking per ID per service */
    fl_msg_t *wrong = fx_call(&fx, TUE_0900, "{\"type\":\"cancel\"," RID ",\"ref\":\"%s\",\"id_number\":\"40000002\"}",
                              ++s_rid, fl_msg_str(a, FL_F_REF));
    ck_assert_str_eq(s_code(wrong), "not_found");             /* someone else's ID number */
    fl_msg_t *cancel = fx_call(&fx, TUE_0900, "{\"type\":\"cancel\"," RID ",\"ref\":\"%s\",\"id_number\":\"40000001\"}",
                               ++s_rid, fl_msg_str(a, FL_F_REF));
    ck_assert_str_eq(s_code(cancel), "ok");
    ck_assert_str_eq(fl_msg_str(cancel, FL_F_STATE), "cancelled");
    ck_assert_int_eq(s_free_at(&fx, TUE_0900, "PASSPORT", ten), 1);
    fl_msg_t *c2 = fx_book(&fx, TUE_0900, "PASSPORT", ten, "40000003");
    ck_assert_str_eq(s_code(c2), "ok");                       /* the freed place */
    fl_msg_t *a2 = fx_book(&fx, TUE_0900, "PASSPORT", ten + MINUTES(15), "40000001");
    ck_assert_str_eq(s_code(a2), "ok");                       /* cancelled: may book again */
    fl_msg_t *view = fx_call(&fx, TUE_0900, "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"40000001\"}",
                             fl_msg_str(a, FL_F_REF));
    ck_assert_str_eq(fl_msg_str(view, FL_F_STATE), "cancelled");
    fl_msg_t *msgs[] = { a, b, c, again, wrong, cancel, c2, a2, view };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        fl_msg_destroy(&msgs[i]);
    fx_end(&fx);
}
END_TEST

/* Remove (arg NULL) or put back the places record of the PASSPORT slot at
 * *start: as a damaged index could have lost it. */
typedef struct { int64_t start; const store_places_t *put; } places_edit_t;

static int
s_edit_places(store_txn_t *txn, void *arg)
{
    const places_edit_t *e = arg;
    store_key_t k = store_key_slot("NBI", "PASSPORT", (uint64_t) e->start);
    return e->put ? store_put_places(txn, &k, e->put) : store_del(txn, STORE_DB_PLACES, &k);
}

START_TEST(test_a_slot_whose_places_record_is_lost_is_not_booked_blind)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    int64_t ten = TUE_0900 + MINUTES(60);
    fl_msg_t *a = fx_book(&fx, TUE_0900, "PASSPORT", ten, "41000001");
    ck_assert_str_eq(s_code(a), "ok");
    places_edit_t lose = { .start = ten };
    ck_assert_int_eq(store_write(fx.store, s_edit_places, &lose, NULL), 0);
    /* the slot record says the slot was booked; how many places are taken
     * is unknown: refused, not counted from zero */
    fl_msg_t *b = fx_book(&fx, TUE_0900, "PASSPORT", ten, "41000002");
    ck_assert_str_eq(s_code(b), "store");
    ck_assert_msg(strstr(fl_msg_str(b, FL_F_MESSAGE), "cannot be booked just now"), "%s",
                  fl_msg_str(b, FL_F_MESSAGE));
    size_t problems = 0;
    ck_assert_int_eq(store_check(fx.store, NULL, NULL, &problems, NULL, NULL), 0);
    ck_assert_uint_eq(problems, 1);         /* the lost record, and nothing the refusal wrote */
    /* the citizen who holds a place there can still cancel */
    fl_msg_t *gone = fx_call(&fx, TUE_0900, "{\"type\":\"cancel\"," RID ",\"ref\":\"%s\",\"id_number\":\"41000001\"}",
                             ++s_rid, fl_msg_str(a, FL_F_REF));
    ck_assert_str_eq(s_code(gone), "ok");
    fl_msg_destroy(&gone);
    store_places_t one = { .capacity = 2, .taken = 0 };
    places_edit_t put_back = { .start = ten, .put = &one };
    ck_assert_int_eq(store_write(fx.store, s_edit_places, &put_back, NULL), 0);
    fl_msg_t *c = fx_book(&fx, TUE_0900, "PASSPORT", ten, "41000002");
    ck_assert_str_eq(s_code(c), "ok");
    ck_assert_int_eq(s_free_at(&fx, TUE_0900, "PASSPORT", ten), 1);
    fl_msg_destroy(&a);
    fl_msg_destroy(&b);
    fl_msg_destroy(&c);
    fx_end(&fx);
}
END_TEST

/* A request that fails after it has written (closing a missed booking, then
 * finding the slot full) must leave nothing behind, and the requests around
 * it in the same batch must still succeed: the batch runs again with each
 * request nested. */
/* The seqs of an office's events in the store, oldest first (at most 8). */
typedef struct {
    uint64_t seq[8];
    size_t n, total;
    const char *office;
    uint64_t newest_body_seq;       /* the seq inside the newest stored event */
} stored_events_t;

static int
s_stored_event(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    stored_events_t *se = arg;
    ck_assert_uint_eq(klen, 16);
    if (se->n < 8)
        se->seq[se->n++] = store_be_get(key + 8, 8);
    se->total++;
    fl_msg_t *e = fl_msg_decode(val, vlen, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(fl_msg_type(e), FL_T_EVENT);
    ck_assert_str_eq(fl_msg_str(e, FL_F_OFFICE), se->office);
    se->newest_body_seq = fl_msg_uint(e, FL_F_SEQ);
    fl_msg_destroy(&e);
    return 0;
}

static int
s_scan_events(store_txn_t *txn, void *arg)
{
    stored_events_t *se = arg;
    store_key_t prefix = store_key_office(se->office);
    return store_scan(txn, STORE_DB_EVENTS, &prefix, NULL, s_stored_event, se);
}

static stored_events_t
fx_stored_events(fx_t *fx, const char *office)
{
    stored_events_t se = { .office = office };
    ck_assert_int_eq(store_read(fx->store, s_scan_events, &se, NULL), 0);
    return se;
}

START_TEST(test_a_request_failing_after_writing_fails_alone)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    int64_t ten = TUE_0900 + MINUTES(60), eleven = TUE_0900 + MINUTES(120);
    fl_msg_t *a = fx_book(&fx, TUE_0900, "PASSPORT", ten, "82000001");
    fl_msg_t *f1 = fx_book(&fx, TUE_0900, "PASSPORT", eleven, "82000002");
    fl_msg_t *f2 = fx_book(&fx, TUE_0900, "PASSPORT", eleven, "82000003");
    ck_assert_str_eq(s_code(a), "ok");
    ck_assert_str_eq(s_code(f1), "ok");
    ck_assert_str_eq(s_code(f2), "ok");                      /* 11:00 is now full */
    char j[3][512];
    const char *book = "{\"type\":\"book\",\"rid\":\"test-%06d\",\"office\":\"NBI\",\"service\":\"PASSPORT\","
                       "\"start\":%lld,\"name\":\"Achieng Otieno\",\"id_type\":\"national\","
                       "\"id_number\":\"%s\",\"phone\":\"+254712345678\"}";
    snprintf(j[0], sizeof j[0], book, ++s_rid, (long long) (eleven + MINUTES(15)), "82000004");
    snprintf(j[1], sizeof j[1], book, ++s_rid, (long long) eleven, "82000001");   /* missed 10:00, wants 11:00 */
    snprintf(j[2], sizeof j[2], book, ++s_rid, (long long) (eleven + MINUTES(15)), "82000005");
    const char *batch[] = { j[0], j[1], j[2] };
    fl_msg_t *r[3];
    int64_t now = TUE_0900 + MINUTES(76);                    /* 10:16: the 10:00 one was missed */
    fx_batch(&fx, now, batch, 3, r);
    ck_assert_str_eq(s_code(r[0]), "ok");
    ck_assert_str_eq(s_code(r[1]), "full");
    ck_assert_str_eq(s_code(r[2]), "ok");
    /* the missed booking was not closed after all: its no-show went with the failure */
    fl_msg_t *old = fx_call(&fx, now, "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"82000001\"}",
                            fl_msg_str(a, FL_F_REF));
    ck_assert_str_eq(fl_msg_str(old, FL_F_STATE), "confirmed");
    ck_assert_int_eq(s_free_at(&fx, now, "PASSPORT", eleven + MINUTES(15)), 0);
    ck_assert_int_eq(s_free_at(&fx, now, "PASSPORT", eleven), 0);
    /* the batch run again nested published only the two bookings' events, and
     * the store's newest event is the last one published: no number was
     * used by the failure, none is given twice after a restart */
    stored_events_t se = fx_stored_events(&fx, "NBI");
    ck_assert_uint_eq(fx.events, 5);
    ck_assert_uint_eq(se.total, 1);
    ck_assert_uint_eq(se.seq[0], 5);
    fl_msg_t *msgs[] = { a, f1, f2, r[0], r[1], r[2], old };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        fl_msg_destroy(&msgs[i]);
    fx_end(&fx);                                             /* the store checks clean */
}
END_TEST

START_TEST(test_a_missed_appointment_does_not_block_a_new_booking)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *a = fx_book(&fx, TUE_0900, "PASSPORT", TUE_0900 + MINUTES(60), "80000001");   /* 10:00 */
    ck_assert_str_eq(s_code(a), "ok");
    fl_msg_t *early = fx_book(&fx, TUE_0900 + MINUTES(70), "PASSPORT", TUE_0900 + MINUTES(120), "80000001");
    ck_assert_str_eq(s_code(early), "conflict");            /* 10:10: still within check-in */
    fl_msg_t *later = fx_book(&fx, TUE_0900 + MINUTES(76), "PASSPORT", TUE_0900 + MINUTES(120), "80000001");
    ck_assert_str_eq(s_code(later), "ok");                  /* 10:16: the 10:00 one was missed */
    fl_msg_t *old = fx_call(&fx, TUE_0900 + MINUTES(77), "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"80000001\"}",
                            fl_msg_str(a, FL_F_REF));
    ck_assert_str_eq(fl_msg_str(old, FL_F_STATE), "no_show");
    fl_msg_destroy(&a);
    fl_msg_destroy(&early);
    fl_msg_destroy(&later);
    fl_msg_destroy(&old);
    fx_end(&fx);
}
END_TEST

START_TEST(test_reschedule_takes_the_new_place_before_freeing_the_old)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    int64_t ten = TUE_0900 + MINUTES(60), quarter = ten + MINUTES(15), half = ten + MINUTES(30);
    fl_msg_t *a = fx_book(&fx, TUE_0900, "PASSPORT", ten, "50000001");
    fl_msg_t *b = fx_book(&fx, TUE_0900, "PASSPORT", quarter, "50000002");
    fl_msg_t *c = fx_book(&fx, TUE_0900, "PASSPORT", quarter, "50000003");
    const char *move = "{\"type\":\"reschedule\"," RID ",\"ref\":\"%s\",\"id_number\":\"50000001\",\"start\":%lld}";
    fl_msg_t *r = fx_call(&fx, TUE_0900, move, ++s_rid, fl_msg_str(a, FL_F_REF), (long long) quarter);
    ck_assert_str_eq(s_code(r), "full");
    fl_msg_destroy(&r);
    ck_assert_int_eq(s_free_at(&fx, TUE_0900, "PASSPORT", ten), 1);      /* still holds 10:00 */
    r = fx_call(&fx, TUE_0900, move, ++s_rid, fl_msg_str(a, FL_F_REF), (long long) half);
    ck_assert_str_eq(s_code(r), "ok");
    ck_assert_uint_eq(fl_msg_uint(r, FL_F_START), (uint64_t) half);
    fl_msg_destroy(&r);
    ck_assert_int_eq(s_free_at(&fx, TUE_0900, "PASSPORT", ten), 2);
    ck_assert_int_eq(s_free_at(&fx, TUE_0900, "PASSPORT", half), 1);
    fl_msg_destroy(&a);
    fl_msg_destroy(&b);
    fl_msg_destroy(&c);
    fx_end(&fx);
}
END_TEST

START_TEST(test_held_booking_expires_and_frees_its_place)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    int64_t ten = TUE_0900 + MINUTES(60);
    fl_msg_t *a = fx_book(&fx, TUE_0900, "GOODCOND", ten, "60000001");
    ck_assert_str_eq(fl_msg_str(a, FL_F_STATE), "held");
    ck_assert_uint_eq(fl_msg_uint(a, FL_F_EXPIRES), (uint64_t) (TUE_0900 + MINUTES(30)));
    ck_assert_uint_eq(fl_msg_uint(a, FL_F_FEE), 1050);
    fl_msg_t *b = fx_book(&fx, TUE_0900, "GOODCOND", ten, "60000002");
    ck_assert_str_eq(s_code(b), "full");
    sched_event_t *events;
    size_t n;
    ck_assert_int_eq(sched_tick(fx.s, TUE_0900 + MINUTES(30) - 1, &events, &n), 0);
    ck_assert_uint_eq(n, 0);                                   /* not yet */
    sched_events_free(events, n);
    ck_assert_int_eq(sched_tick(fx.s, TUE_0900 + MINUTES(30), &events, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(events[0].topic, "NBI.booking");
    sched_events_free(events, n);
    fl_msg_t *view = fx_call(&fx, TUE_0900 + MINUTES(31), "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"60000001\"}",
                             fl_msg_str(a, FL_F_REF));
    ck_assert_str_eq(fl_msg_str(view, FL_F_STATE), "expired");
    fl_msg_t *b2 = fx_book(&fx, TUE_0900 + MINUTES(31), "GOODCOND", ten, "60000002");
    ck_assert_str_eq(s_code(b2), "ok");
    fl_msg_destroy(&a);
    fl_msg_destroy(&b);
    fl_msg_destroy(&view);
    fl_msg_destroy(&b2);
    fx_end(&fx);
}
END_TEST

/* ---- bad input changes nothing ---- */

static void
s_counts(fx_t *fx, size_t out[STORE_DB__COUNT])
{
    store_stat_t st;
    ck_assert_int_eq(store_stat(fx->store, &st, NULL), 0);
    memcpy(out, st.entries, sizeof st.entries);
}

static const struct { const char *why, *json, *code; } s_bad[] = {
    { "unknown office", "{\"type\":\"walkin\",\"rid\":\"bad-000001\",\"office\":\"MSA\",\"service\":\"PASSPORT\",\"priority\":\"none\"}", "not_found" },
    { "unknown service", "{\"type\":\"walkin\",\"rid\":\"bad-000002\",\"office\":\"NBI\",\"service\":\"VISA\",\"priority\":\"none\"}", "not_found" },
    { "bad priority", "{\"type\":\"walkin\",\"rid\":\"bad-000003\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"priority\":\"vip\"}", "invalid" },
    { "slot in the past", "{\"type\":\"book\",\"rid\":\"bad-000004\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796101200,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"+254712345678\"}", "closed" },
    { "start off the slot grid", "{\"type\":\"book\",\"rid\":\"bad-000005\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108460,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"+254712345678\"}", "invalid" },
    { "closed day (Christmas)", "{\"type\":\"book\",\"rid\":\"bad-000006\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1798178400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"+254712345678\"}", "closed" },
    { "beyond the booking horizon", "{\"type\":\"book\",\"rid\":\"bad-000007\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1797832800,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"+254712345678\"}", "closed" },
    { "walk-in only service", "{\"type\":\"book\",\"rid\":\"bad-000008\",\"office\":\"NBI\",\"service\":\"BIRTH\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"+254712345678\"}", "closed" },
    { "malformed ID number", "{\"type\":\"book\",\"rid\":\"bad-000009\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"12AB\",\"phone\":\"+254712345678\"}", "invalid" },
    { "landline, not a mobile", "{\"type\":\"book\",\"rid\":\"bad-000010\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"1234567\",\"phone\":\"+254202222222\"}", "invalid" },
    { "unknown document type", "{\"type\":\"book\",\"rid\":\"bad-000011\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"library_card\",\"id_number\":\"1234567\",\"phone\":\"+254712345678\"}", "invalid" },
    { "next at a closed counter", "{\"type\":\"next\",\"rid\":\"bad-000012\",\"office\":\"NBI\",\"counter\":2,\"token\":\"counter-secret\"}", "closed" },
    { "done before called", "{\"type\":\"done\",\"rid\":\"bad-000013\",\"office\":\"NBI\",\"counter\":1,\"token\":\"counter-secret\"}", "conflict" },
    { "recall with nothing called", "{\"type\":\"recall\",\"rid\":\"bad-000014\",\"office\":\"NBI\",\"counter\":1,\"token\":\"counter-secret\"}", "conflict" },
    { "counter work without a counter's token", "{\"type\":\"next\",\"rid\":\"bad-000015\",\"office\":\"NBI\",\"counter\":1}", "forbidden" },
    { "a wrong token", "{\"type\":\"counter_open\",\"rid\":\"bad-000016\",\"office\":\"NBI\",\"counter\":1,\"service_codes\":[\"PASSPORT\"],\"token\":\"guess\"}", "forbidden" },
    { "statistics without an admin's token", "{\"type\":\"stats\",\"office\":\"NBI\",\"day\":20261201,\"token\":\"counter-secret\"}", "forbidden" },
    { "unknown counter", "{\"type\":\"counter_open\",\"rid\":\"bad-000017\",\"office\":\"NBI\",\"counter\":9,\"service_codes\":[\"PASSPORT\"],\"token\":\"counter-secret\"}", "not_found" },
    { "counter opened for a service the office lacks", "{\"type\":\"counter_open\",\"rid\":\"bad-000018\",\"office\":\"NBI\",\"counter\":2,\"service_codes\":[\"VISA\"],\"token\":\"counter-secret\"}", "not_found" },
    { "transfer to nowhere", "{\"type\":\"transfer\",\"rid\":\"bad-000019\",\"office\":\"NBI\",\"counter\":1,\"token\":\"counter-secret\"}", "conflict" },
    { "a misspelt reference", "{\"type\":\"view\",\"ref\":\"ABCD-EFGH-JKL\",\"id_number\":\"1234567\"}", "invalid" },
    { "checkin of an unknown booking", "{\"type\":\"checkin\",\"rid\":\"bad-000020\",\"office\":\"NBI\",\"ref\":\"2345-6789-ABZ\"}", "invalid" },
};

START_TEST(test_bad_request_gets_a_clear_error_and_changes_nothing)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fx_open_counter(&fx, TUE_0900, 1, "\"PASSPORT\"");
    size_t before[STORE_DB__COUNT], after[STORE_DB__COUNT];
    s_counts(&fx, before);
    fl_msg_t *r = fx_call(&fx, TUE_0900, "%s", s_bad[_i].json);
    ck_assert_msg(!strcmp(s_code(r), s_bad[_i].code), "%s: got %s (%s), want %s", s_bad[_i].why, s_code(r),
                  fl_msg_type(r) == FL_T_ERROR ? fl_msg_str(r, FL_F_MESSAGE) : "", s_bad[_i].code);
    ck_assert_msg(strlen(fl_msg_str(r, FL_F_MESSAGE)) > 10, "%s: message too thin", s_bad[_i].why);
    fl_msg_destroy(&r);
    s_counts(&fx, after);
    for (int db = 0; db < STORE_DB__COUNT; db++)
        ck_assert_msg(before[db] == after[db], "%s changed %s", s_bad[_i].why, store_db_name((store_db_t) db));
    fx_end(&fx);
}
END_TEST

/* ---- durability and repeats ---- */

START_TEST(test_same_request_id_twice_same_reply_one_effect)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    const char *walkin = "{\"type\":\"walkin\",\"rid\":\"retry-000001\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"priority\":\"none\"}";
    fl_msg_t *first = fx_call(&fx, TUE_0900, "%s", walkin);
    size_t events = fx.events;
    fl_msg_t *second = fx_call(&fx, TUE_0900 + 30, "%s", walkin);   /* a retry, 30 s later */
    ck_assert(fl_msg_equal(first, second));
    ck_assert_uint_eq(fx.events, events);                          /* no second event */
    size_t counts[STORE_DB__COUNT];
    s_counts(&fx, counts);
    ck_assert_uint_eq(counts[STORE_DB_TICKETS], 1);
    /* the same id with another body is refused, not confused with the first */
    fl_msg_t *other = fx_call(&fx, TUE_0900, "{\"type\":\"walkin\",\"rid\":\"retry-000001\",\"office\":\"NBI\","
                              "\"service\":\"BIRTH\",\"priority\":\"none\"}");
    ck_assert_str_eq(s_code(other), "conflict");
    /* within one batch too */
    const char *twice[] = { "{\"type\":\"walkin\",\"rid\":\"retry-000002\",\"office\":\"NBI\",\"service\":\"BIRTH\",\"priority\":\"none\"}",
                            "{\"type\":\"walkin\",\"rid\":\"retry-000002\",\"office\":\"NBI\",\"service\":\"BIRTH\",\"priority\":\"none\"}" };
    fl_msg_t *pair[2];
    fx_batch(&fx, TUE_0900, twice, 2, pair);
    ck_assert(fl_msg_equal(pair[0], pair[1]));
    s_counts(&fx, counts);
    ck_assert_uint_eq(counts[STORE_DB_TICKETS], 2);
    /* a stored reply is forgotten after a day */
    sched_event_t *ev;
    size_t n;
    ck_assert_uint_eq(counts[STORE_DB_IDEM], 2);
    ck_assert_int_eq(sched_tick(fx.s, TUE_0900 + SCHED_IDEM_TTL_S + 1, &ev, &n), 0);
    sched_events_free(ev, n);
    s_counts(&fx, counts);
    ck_assert_uint_eq(counts[STORE_DB_IDEM], 0);
    ck_assert_uint_eq(counts[STORE_DB_IDEM_BY_EXPIRY], 0);
    fl_msg_destroy(&first);
    fl_msg_destroy(&second);
    fl_msg_destroy(&other);
    fl_msg_destroy(&pair[0]);
    fl_msg_destroy(&pair[1]);
    fx_end(&fx);
}
END_TEST

START_TEST(test_one_failure_in_a_batch_fails_alone)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    const char *batch[] = {
        "{\"type\":\"walkin\",\"rid\":\"batch-000001\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"priority\":\"none\"}",
        "{\"type\":\"walkin\",\"rid\":\"batch-000002\",\"office\":\"NBI\",\"service\":\"NOPE\",\"priority\":\"none\"}",
        "{\"type\":\"book\",\"rid\":\"batch-000003\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"70000001\",\"phone\":\"+254712345678\"}",
        "{\"type\":\"book\",\"rid\":\"batch-000004\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"start\":1796108400,\"name\":\"A B\",\"id_type\":\"national\",\"id_number\":\"70000001\",\"phone\":\"+254712345678\"}",
        "{\"type\":\"walkin\",\"rid\":\"batch-000005\",\"office\":\"NBI\",\"service\":\"PASSPORT\",\"priority\":\"none\"}",
    };
    fl_msg_t *r[5];
    fx_batch(&fx, TUE_0900, batch, 5, r);
    const char *want[] = { "ok", "not_found", "ok", "conflict", "ok" };
    for (int i = 0; i < 5; i++)
        ck_assert_msg(!strcmp(s_code(r[i]), want[i]), "request %d: %s", i, s_code(r[i]));
    ck_assert_str_eq(fl_msg_str(r[0], FL_F_TICKET), "P-001");
    ck_assert_str_eq(fl_msg_str(r[4], FL_F_TICKET), "P-002");
    for (int i = 0; i < 5; i++)
        fl_msg_destroy(&r[i]);
    fx_end(&fx);
}
END_TEST

/* The lead of a reference as a number (its first SCHED_REF_LEAD symbols). */
static unsigned
s_ref_lead(const char *ref)
{
    unsigned lead = 0;
    for (int i = 0; i < 3; i++)
        lead = lead * FL_REF_SYMBOLS + (unsigned) (strchr(FL_REF_ALPHABET, ref[i]) - FL_REF_ALPHABET);
    return lead;
}

START_TEST(test_one_batch_shares_a_reference_lead_and_the_next_batch_takes_the_next)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    char j[4][512];
    const char *book = "{\"type\":\"book\",\"rid\":\"lead-%06d\",\"office\":\"NBI\",\"service\":\"PASSPORT\","
                       "\"start\":%lld,\"name\":\"Achieng Otieno\",\"id_type\":\"national\","
                       "\"id_number\":\"%d\",\"phone\":\"+254712345678\"}";
    const char *batch[4];
    for (int i = 0; i < 4; i++) {
        snprintf(j[i], sizeof j[i], book, ++s_rid, (long long) (TUE_0900 + MINUTES(60 + 15 * (i / 2))),
                 83000001 + i);
        batch[i] = j[i];
    }
    fl_msg_t *r[4];
    fx_batch(&fx, TUE_0900, batch, 4, r);
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(s_code(r[i]), "ok");
        ck_assert(fl_ref_valid(fl_msg_str(r[i], FL_F_REF)));
        ck_assert_uint_eq(s_ref_lead(fl_msg_str(r[i], FL_F_REF)), s_ref_lead(fl_msg_str(r[0], FL_F_REF)));
    }
    /* four distinct references all the same (the random part differs) */
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++)
            ck_assert_str_ne(fl_msg_str(r[a], FL_F_REF), fl_msg_str(r[b], FL_F_REF));
    fl_msg_t *next = fx_book(&fx, TUE_0900, "PASSPORT", TUE_0900 + MINUTES(90), "83000009");
    ck_assert_str_eq(s_code(next), "ok");
    ck_assert_uint_eq(s_ref_lead(fl_msg_str(next, FL_F_REF)), (s_ref_lead(fl_msg_str(r[0], FL_F_REF)) + 1) % 27000);
    /* and each is found again by its reference */
    fl_msg_t *seen = fx_call(&fx, TUE_0900, "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"83000003\"}",
                             fl_msg_str(r[2], FL_F_REF));
    ck_assert_str_eq(s_code(seen), "ok");
    for (int i = 0; i < 4; i++)
        fl_msg_destroy(&r[i]);
    fl_msg_destroy(&next);
    fl_msg_destroy(&seen);
    fx_end(&fx);
}
END_TEST

START_TEST(test_metrics_file_counts_and_a_bad_path_is_an_error)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *ok = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");
    fl_msg_t *bad = fx_walkin(&fx, TUE_0900, "NOPE", "none");
    ck_assert_str_eq(s_code(bad), "not_found");
    char path[600], text[4096];
    snprintf(path, sizeof path, "%s/metrics.prom", fx.dir);
    ck_assert_int_eq(sched_metrics_write(fx.s, path, 1796104800), 0);
    ck_assert_uint_gt(tu_read_file(path, text, sizeof text), 0);
    static const char *want[] = {
        "\nfoleni_scheduler_requests_total 2\n", "\nfoleni_scheduler_refused_total 1\n",
        "\nfoleni_scheduler_batches_total 2\n", "\nfoleni_scheduler_failed_batches_total 0\n",
        "\nfoleni_scheduler_metrics_time_seconds 1796104800\n",
        "# TYPE foleni_scheduler_store_used_bytes gauge\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(text, want[i]), "no '%s' in:\n%s", want[i], text);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644);            /* readable by node_exporter, any umask */
    /* written again over the old one, nothing left beside it */
    ck_assert_int_eq(sched_metrics_write(fx.s, path, 1796104801), 0);
    tu_read_file(path, text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text, "\nfoleni_scheduler_metrics_time_seconds 1796104801\n"));
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid());
    ck_assert_int_ne(access(tmp, F_OK), 0);
    /* a link planted under the temporary name (the folder is writable by
     * node_exporter's group) is removed, never followed: its target stays */
    char victim[700];
    snprintf(victim, sizeof victim, "%s/victim", fx.dir);
    FILE *v = fopen(victim, "w");
    ck_assert_ptr_nonnull(v);
    fputs("precious\n", v);
    fclose(v);
    ck_assert_int_eq(chmod(victim, 0600), 0);
    ck_assert_int_eq(symlink(victim, tmp), 0);
    ck_assert_int_eq(sched_metrics_write(fx.s, path, 1796104802), 0);
    ck_assert_int_eq(tu_read_file(victim, text, sizeof text), 9);
    ck_assert_str_eq(text, "precious\n");
    ck_assert_int_eq(stat(victim, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    tu_read_file(path, text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text, "\nfoleni_scheduler_metrics_time_seconds 1796104802\n"));
    /* a folder that does not exist: an error, nothing written */
    snprintf(path, sizeof path, "%s/no-such-folder/metrics.prom", fx.dir);
    ck_assert_int_eq(sched_metrics_write(fx.s, path, 1796104800), FL_E_IO);
    ck_assert_int_ne(access(path, F_OK), 0);
    fl_msg_destroy(&ok);
    fl_msg_destroy(&bad);
    fx_end(&fx);
}
END_TEST

/* Every event is published, but the store keeps only each office's newest:
 * its seq is where the numbering goes on after a restart. */
START_TEST(test_the_store_keeps_each_offices_newest_event)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    stored_events_t se = fx_stored_events(&fx, "NBI");
    ck_assert_uint_eq(se.total, 0);
    char json[12][160];
    const char *batch[12];
    for (int i = 0; i < 12; i++) {
        snprintf(json[i], sizeof json[i], "{\"type\":\"walkin\"," RID ",\"office\":\"NBI\","
                 "\"service\":\"PASSPORT\",\"priority\":\"none\"}", ++s_rid);
        batch[i] = json[i];
    }
    fl_msg_t *replies[12];
    fx_batch(&fx, TUE_0900, batch, 12, replies);            /* 12 events in one batch */
    for (int i = 0; i < 12; i++) {
        ck_assert_str_eq(s_code(replies[i]), "ok");
        fl_msg_destroy(&replies[i]);
    }
    ck_assert_uint_eq(fx.events, 12);
    se = fx_stored_events(&fx, "NBI");
    ck_assert_uint_eq(se.total, 1);
    ck_assert_uint_eq(se.seq[0], 12);
    ck_assert_uint_eq(se.newest_body_seq, 12);
    fl_msg_t *r = fx_walkin(&fx, TUE_0900 + 1, "PASSPORT", "none");   /* the next batch replaces it */
    fl_msg_destroy(&r);
    se = fx_stored_events(&fx, "NBI");
    ck_assert_uint_eq(se.total, 1);
    ck_assert_uint_eq(se.seq[0], 13);
    ck_assert_uint_eq(fx_stored_events(&fx, "LON").total, 0);
    /* a refused request publishes nothing and uses no number */
    r = fx_walkin(&fx, TUE_0900 + 2, "NOSUCH", "none");
    ck_assert_str_ne(s_code(r), "ok");
    fl_msg_destroy(&r);
    ck_assert_uint_eq(fx.events, 13);
    r = fx_walkin(&fx, TUE_0900 + 3, "PASSPORT", "none");
    fl_msg_destroy(&r);
    se = fx_stored_events(&fx, "NBI");
    ck_assert_uint_eq(se.total, 1);
    ck_assert_uint_eq(se.seq[0], 14);
    fx_end(&fx);
}
END_TEST

/* Events in the older form of the store, one per change since it began. */
static int
s_put_history(store_txn_t *txn, void *arg)
{
    const uint64_t *count = arg;
    for (uint64_t seq = 1; seq <= *count; seq++) {
        fl_msg_t *e = fl_msg_new(FL_T_EVENT);
        fl_msg_set_str(e, FL_F_OFFICE, "NBI");
        fl_msg_set_uint(e, FL_F_SEQ, seq);
        fl_msg_set_uint(e, FL_F_AT, (uint64_t) TUE_0900 - 3600 + seq % 3600);
        fl_msg_set_str(e, FL_F_KIND, "call");
        store_key_t k = store_key_event("NBI", seq);
        int rc = store_put_rec(txn, STORE_DB_EVENTS, &k, e);
        fl_msg_destroy(&e);
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct {
    int64_t start;
    const char *id;
    fl_msg_t *b;                    /* the booking reply */
} phone_booking_t;

/* Whether each booking still has its phone, as `view` tells at now. */
static void
s_assert_phones(fx_t *fx, int64_t now, const phone_booking_t *bk, size_t n, const bool *want)
{
    for (size_t i = 0; i < n; i++) {
        fl_msg_t *v = fx_call(fx, now, "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"%s\"}",
                              fl_msg_str(bk[i].b, FL_F_REF), bk[i].id);
        ck_assert_str_eq(s_code(v), "ok");
        ck_assert_msg(fl_msg_has(v, FL_F_PHONE) == want[i], "booking %zu: the phone is %s", i,
                      fl_msg_has(v, FL_F_PHONE) ? "still there" : "gone");
        fl_msg_destroy(&v);
    }
}

static void
s_ticks(fx_t *fx, int64_t from, int count)
{
    for (int i = 0; i < count; i++) {
        sched_event_t *events;
        size_t n;
        ck_assert_int_eq(sched_tick(fx->s, from + i, &events, &n), 0);
        sched_events_free(events, n);
    }
}

/* A booking's phone number is deleted phone_retention_days after its slot
 * ends, by the periodic work looking at a few bookings a tick, and resting
 * SCHED_PURGE_REST_S after each round of all the bookings. */
START_TEST(test_phone_numbers_go_after_their_retention)
{
    fx_t fx = { 0 };
    char *json = NULL;
    ck_assert_int_ge(asprintf(&json, "{\"phone_retention_days\":2,%s", strchr(s_config, '{') + 1), 0);
    fl_error_t err;
    ck_assert_ptr_nonnull(fx.cfg = fl_config_parse(json, strlen(json), "test", &err));
    free(json);
    ck_assert_int_eq(fx.cfg->phone_retention_days, 2);
    fx_start(&fx, TUE_0900);
    sched_set_purge_per_tick(fx.s, 2);
    int64_t ten = TUE_0900 + MINUTES(60), week = 7 * 86400;
    phone_booking_t bk[] = {
        { ten, "83000001", NULL }, { ten, "83000002", NULL }, { ten + MINUTES(15), "83000003", NULL },
        { ten + week, "83000004", NULL }, { ten + week, "83000005", NULL },
    };
    size_t n = sizeof bk / sizeof bk[0];
    for (size_t i = 0; i < n; i++) {
        bk[i].b = fx_book(&fx, TUE_0900, "PASSPORT", bk[i].start, bk[i].id);
        ck_assert_str_eq(s_code(bk[i].b), "ok");
    }
    int64_t before = ten + MINUTES(15) + 2 * 86400 - 10;       /* the 10:00 slot's end + 2 days - 10 s */
    s_ticks(&fx, before, 4);                                   /* more than a round, 2 bookings a tick */
    s_assert_phones(&fx, before, bk, n, (const bool[]) { true, true, true, true, true });
    int64_t after = ten + MINUTES(30) + 2 * 86400 + 1;         /* both slots ended 2 days ago */
    s_ticks(&fx, after, 3);                                    /* but the round ended 15 minutes ago: */
    s_assert_phones(&fx, after, bk, n, (const bool[]) { true, true, true, true, true });   /* resting */
    after = before + 2 + SCHED_PURGE_REST_S;                   /* the rest after that round is over */
    s_ticks(&fx, after, 1);
    int gone = 0;
    for (size_t i = 0; i < 3; i++) {                           /* one tick looked at 2 bookings at most */
        fl_msg_t *v = fx_call(&fx, after, "{\"type\":\"view\",\"ref\":\"%s\",\"id_number\":\"%s\"}",
                              fl_msg_str(bk[i].b, FL_F_REF), bk[i].id);
        gone += !fl_msg_has(v, FL_F_PHONE);
        fl_msg_destroy(&v);
    }
    ck_assert_int_le(gone, 2);
    s_ticks(&fx, after + 1, 3);
    s_assert_phones(&fx, after + 4, bk, n, (const bool[]) { false, false, false, true, true });
    for (size_t i = 0; i < n; i++)
        fl_msg_destroy(&bk[i].b);
    fx_end(&fx);                                               /* the store checks clean */
}
END_TEST

/* A store that kept every event goes on numbering from its newest, and the
 * periodic work lets go of the older ones, at most 1,024 a tick. */
START_TEST(test_a_stored_event_history_is_let_go_a_part_at_a_time)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fx_stop(&fx);
    fl_error_t err;
    ck_assert_ptr_nonnull(fx.store = store_open(fx.dir, NULL, &err));
    uint64_t count = 2500;
    ck_assert_int_eq(store_write(fx.store, s_put_history, &count, &err), 0);
    store_destroy(&fx.store);
    fx_start(&fx, TUE_0900);
    size_t left[] = { 2500 - 1024, 2500 - 2048, 1, 1 };
    for (int tick = 0; tick < 4; tick++) {
        sched_event_t *events;
        size_t n;
        ck_assert_int_eq(sched_tick(fx.s, TUE_0900 + tick, &events, &n), 0);
        sched_events_free(events, n);
        stored_events_t se = fx_stored_events(&fx, "NBI");
        ck_assert_uint_eq(se.total, left[tick]);
        ck_assert_uint_eq(se.newest_body_seq, 2500);     /* the newest stays */
        if (tick == 0)
            ck_assert_uint_eq(se.seq[0], 1025);          /* oldest first */
    }
    fl_msg_t *r = fx_walkin(&fx, TUE_0900 + 10, "PASSPORT", "none");
    fl_msg_destroy(&r);
    stored_events_t se = fx_stored_events(&fx, "NBI");
    ck_assert_uint_eq(se.total, 1);
    ck_assert_uint_eq(se.seq[0], 2501);
    fl_msg_t *board = fx_call(&fx, TUE_0900 + 10, "{\"type\":\"snapshot\",\"office\":\"NBI\"}");
    ck_assert_uint_eq(fl_msg_uint(board, FL_F_SEQ), 2501);
    fl_msg_destroy(&board);
    fx_end(&fx);
}
END_TEST

START_TEST(test_event_seq_keeps_rising_across_a_restart)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    for (int i = 0; i < 3; i++) {
        fl_msg_t *r = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");
        fl_msg_destroy(&r);
    }
    fl_msg_t *board = fx_call(&fx, TUE_0900, "{\"type\":\"snapshot\",\"office\":\"NBI\"}");
    uint64_t seq = fl_msg_uint(board, FL_F_SEQ);
    ck_assert_uint_eq(seq, 3);
    fl_msg_destroy(&board);
    fx_stop(&fx);
    fx_start(&fx, TUE_0900);                           /* the same store, a new process' worth of state */
    fl_msg_t *r = fx_walkin(&fx, TUE_0900 + 60, "PASSPORT", "none");
    ck_assert_str_eq(fl_msg_str(r, FL_F_TICKET), "P-004");
    fl_msg_destroy(&r);
    board = fx_call(&fx, TUE_0900, "{\"type\":\"snapshot\",\"office\":\"NBI\"}");
    ck_assert_uint_eq(fl_msg_uint(board, FL_F_SEQ), seq + 1);
    fl_msg_destroy(&board);
    fx_end(&fx);
}
END_TEST

/* ---- counters ---- */

START_TEST(test_counter_transitions)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *t = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");
    fl_msg_destroy(&t);
    t = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");
    fl_msg_destroy(&t);
    struct { const char *type; const char *want; } steps[] = {
        { "next", "closed" },            /* not open yet */
        { "counter_pause", "conflict" },
        { "start", "conflict" },         /* nothing called */
        { "OPEN", "ok" },
        { "counter_pause", "ok" },
        { "next", "closed" },            /* paused */
        { "OPEN", "ok" },                /* resumes */
        { "next", "ok" },                /* P-001 */
        { "next", "conflict" },          /* finish P-001 first */
        { "counter_close", "conflict" },
        { "recall", "ok" },
        { "start", "ok" },
        { "noshow", "conflict" },        /* already being served */
        { "recall", "conflict" },
        { "done", "ok" },
        { "done", "conflict" },
        { "next", "ok" },                /* P-002 */
        { "noshow", "ok" },
        { "next", "empty" },
        { "counter_close", "ok" },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        fl_msg_t *r;
        if (!strcmp(steps[i].type, "OPEN")) {
            r = fx_call(&fx, TUE_0900 + MINUTES(i), "{\"type\":\"counter_open\"," RID ",\"office\":\"NBI\",\"counter\":1,"
                        "\"service_codes\":[\"PASSPORT\"]" CTR "}", ++s_rid);
        } else
            r = fx_counter(&fx, TUE_0900 + MINUTES(i), steps[i].type, 1);
        ck_assert_msg(!strcmp(s_code(r), steps[i].want), "step %zu %s: got %s (%s)", i, steps[i].type, s_code(r),
                      fl_msg_type(r) == FL_T_ERROR ? fl_msg_str(r, FL_F_MESSAGE) : "");
        fl_msg_destroy(&r);
    }
    fl_msg_t *passport;
    fl_msg_t *stats = fx_tuesday_stats(&fx, TUE_0900 + MINUTES(30), &passport);
    ck_assert_uint_eq(fl_msg_uint(passport, FL_F_SERVED), 1);
    ck_assert_uint_eq(fl_msg_uint(passport, FL_F_NOSHOWS), 1);
    ck_assert_uint_eq(fl_msg_uint(passport, FL_F_AVG_SERVICE_S), 3 * 60);   /* started at step 11, done at 14 */
    fl_msg_t *counter1 = fl_msg_item(stats, FL_F_BY_COUNTER, 0);
    ck_assert_uint_eq(fl_msg_uint(counter1, FL_F_SERVED), 1);
    fl_msg_destroy(&stats);
    fx_end(&fx);
}
END_TEST

/* Tickets still waiting when the office's day ends are closed as "unserved"
   at the first tick of the next local day: the day's statistics count them, the
   waiting index lets them go (the store check agrees), one event tells boards,
   and the next day's queue starts empty. */
START_TEST(test_tickets_left_waiting_are_closed_unserved_when_the_day_ends)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    for (int i = 0; i < 3; i++) {
        fl_msg_t *t = fx_walkin(&fx, TUE_0900 + i, "PASSPORT", "none");
        ck_assert_str_eq(s_code(t), "ok");
        fl_msg_destroy(&t);
    }
    fx_open_counter(&fx, TUE_0900, 1, "\"PASSPORT\"");
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(5), 1), "P-001");
    sched_event_t *events;
    size_t n;
    ck_assert_int_eq(sched_tick(fx.s, TUE_0900 + MINUTES(14 * 60 + 59), &events, &n), 0);   /* 23:59 Tuesday */
    ck_assert_uint_eq(n, 0);
    sched_events_free(events, n);
    ck_assert_int_eq(sched_tick(fx.s, TUE_0900 + MINUTES(15 * 60) + 30, &events, &n), 0);   /* 00:00:30 Wednesday */
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(events[0].topic, "NBI.day_closed");
    fl_msg_t *e = fl_msg_decode(events[0].body, events[0].len, NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(fl_msg_str(e, FL_F_KIND), "day_closed");
    fl_msg_destroy(&e);
    sched_events_free(events, n);
    ck_assert_int_eq(sched_tick(fx.s, TUE_0900 + MINUTES(15 * 60) + 31, &events, &n), 0);   /* nothing more to close */
    ck_assert_uint_eq(n, 0);
    sched_events_free(events, n);

    fl_msg_t *passport;
    fl_msg_t *stats = fx_tuesday_stats(&fx, TUE_0900 + MINUTES(24 * 60), &passport);
    ck_assert_uint_eq(fl_msg_uint(passport, FL_F_SERVED), 1);
    ck_assert_uint_eq(fl_msg_uint(passport, FL_F_UNSERVED), 2);
    fl_msg_destroy(&stats);
    /* Wednesday: a fresh queue; yesterday's P-002 and P-003 are not called */
    fl_msg_t *t = fx_walkin(&fx, TUE_0900 + MINUTES(24 * 60), "PASSPORT", "none");
    ck_assert_str_eq(fl_msg_str(t, FL_F_TICKET), "P-001");
    fl_msg_destroy(&t);
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(24 * 60 + 1), 1), "P-001");
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(24 * 60 + 2), 1), "");
    fx_end(&fx);
}
END_TEST

/* What the periodic "scheduler stats" line reports: requests, refusals,
   batches, events, and the largest batch since the last line. */
START_TEST(test_stats_count_requests_refusals_and_batches)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    sched_stats_t before, after;
    sched_stats_take(fx.s, &before, true);
    fl_msg_t *r = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");
    ck_assert_str_eq(s_code(r), "ok");
    fl_msg_destroy(&r);
    r = fx_call(&fx, TUE_0900, "{\"type\":\"walkin\"," RID ",\"office\":\"NOPE\",\"service\":\"PASSPORT\","
                "\"priority\":\"none\"}", ++s_rid);
    ck_assert_str_eq(s_code(r), "not_found");
    fl_msg_destroy(&r);
    sched_stats_take(fx.s, &after, true);
    ck_assert_uint_eq(after.requests - before.requests, 2);
    ck_assert_uint_eq(after.refused - before.refused, 1);
    ck_assert_uint_eq(after.batches - before.batches, 2);
    ck_assert_uint_eq(after.events - before.events, 1);            /* the ticket */
    ck_assert_uint_eq(after.failed_batches, 0);
    ck_assert_uint_eq(after.batch_max, 1);
    ck_assert(after.write_ms > before.write_ms && after.write_ms_max > 0);
    sched_stats_take(fx.s, &after, false);                          /* the maxima were reset */
    ck_assert_uint_eq(after.batch_max, 0);
    fx_end(&fx);
}
END_TEST

/* A --counter-keys or --admin-keys folder that does not exist stops the
   scheduler at start, instead of running one that refuses every counter. */
START_TEST(test_a_missing_key_folder_is_refused_at_start)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fx_stop(&fx);
    fl_error_t err;
    ck_assert_ptr_nonnull(fx.store = store_open(fx.dir, NULL, &err));
    for (int i = 0; i < 2; i++) {
        sched_auth_t auth = { .counter_keys_dir = i == 0 ? "/nonexistent/counters" : NULL,
                              .admin_keys_dir = i == 1 ? "/nonexistent/admins" : NULL };
        ck_assert_ptr_null(sched_new(fx.store, fx.cfg, s_secret, sizeof s_secret, &auth, TUE_0900, &err));
        ck_assert_int_eq(err.code, FL_E_IO);
        ck_assert_msg(strstr(err.message, i == 0 ? "/nonexistent/counters: no such folder of counter certificates"
                                                 : "/nonexistent/admins: no such folder of administrator"),
                      "%s", err.message);
    }
    /* An empty folder is fine, and so is one full of other files, here the
       store's own (CZMQ's zcertstore leaked on each; libfoleni/certdir.h). */
    char *keys = tu_tempdir();
    sched_auth_t auth = { .counter_keys_dir = keys, .admin_keys_dir = fx.dir };
    ck_assert_ptr_nonnull(fx.s = sched_new(fx.store, fx.cfg, s_secret, sizeof s_secret, &auth, TUE_0900, &err));
    fx_end(&fx);
    tu_rmtree(keys);
}
END_TEST

/* A citizen who checks in 20 minutes before a 09:30 slot and is called at 09:35 waited
   5 minutes, not 25: the day's statistics count from the later of arrival and slot. */
START_TEST(test_stats_count_an_early_appointment_wait_from_its_slot)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *r = fx_book(&fx, TUE_0900, "PASSPORT", TUE_0900 + MINUTES(30), "20000003");
    ck_assert_str_eq(s_code(r), "ok");
    char ref[16];
    snprintf(ref, sizeof ref, "%s", fl_msg_str(r, FL_F_REF));
    fl_msg_destroy(&r);
    r = fx_call(&fx, TUE_0900 + MINUTES(10), "{\"type\":\"checkin\"," RID ",\"office\":\"NBI\",\"ref\":\"%s\"}", ++s_rid, ref);
    ck_assert_str_eq(s_code(r), "ok");
    fl_msg_destroy(&r);
    r = fx_walkin(&fx, TUE_0900 + MINUTES(10), "PASSPORT", "none");   /* a walk-in waits from arrival */
    fl_msg_destroy(&r);
    fx_open_counter(&fx, TUE_0900, 1, "\"PASSPORT\"");
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(35), 1), "P-001");   /* the appointment: 5 min */
    r = fx_counter(&fx, TUE_0900 + MINUTES(36), "done", 1);
    fl_msg_destroy(&r);
    ck_assert_str_eq(fx_next(&fx, TUE_0900 + MINUTES(40), 1), "P-002");   /* the walk-in: 30 min */
    fl_msg_t *passport;
    fl_msg_t *stats = fx_tuesday_stats(&fx, TUE_0900 + MINUTES(50), &passport);
    ck_assert_uint_eq(fl_msg_uint(passport, FL_F_AVG_WAIT_S), (5 * 60 + 30 * 60) / 2);
    ck_assert_uint_eq(fl_msg_uint(passport, FL_F_P95_WAIT_S), 30 * 60);
    fl_msg_destroy(&stats);
    fx_end(&fx);
}
END_TEST

START_TEST(test_wait_estimate_uses_position_average_and_open_counters)
{
    fx_t fx = { 0 };
    fx_start(&fx, TUE_0900);
    fl_msg_t *r;
    for (int i = 0; i < 3; i++) {
        r = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");
        fl_msg_destroy(&r);
    }
    r = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");                 /* 4th: three ahead */
    ck_assert_uint_eq(fl_msg_uint(r, FL_F_POSITION), 3);
    ck_assert_uint_eq(fl_msg_uint(r, FL_F_WAIT_S), 3 * 600);           /* no counter open: as if one */
    fl_msg_destroy(&r);
    fx_open_counter(&fx, TUE_0900, 1, "\"PASSPORT\"");
    fx_open_counter(&fx, TUE_0900, 2, "\"PASSPORT\"");
    r = fx_walkin(&fx, TUE_0900, "PASSPORT", "none");                 /* 5th: four ahead, two counters */
    ck_assert_uint_eq(fl_msg_uint(r, FL_F_WAIT_S), 4 * 600 / 2);
    fl_msg_destroy(&r);
    /* one service of 4 minutes: the average (first sample replaces the default) drops */
    r = fx_counter(&fx, TUE_0900, "next", 1);
    fl_msg_destroy(&r);
    r = fx_counter(&fx, TUE_0900, "start", 1);
    fl_msg_destroy(&r);
    r = fx_counter(&fx, TUE_0900 + MINUTES(4), "done", 1);
    fl_msg_destroy(&r);
    fl_msg_t *board = fx_call(&fx, TUE_0900 + MINUTES(4), "{\"type\":\"snapshot\",\"office\":\"NBI\"}");
    fl_msg_t *q = fl_msg_item(board, FL_F_QUEUES, 0);
    ck_assert_str_eq(fl_msg_str(q, FL_F_SERVICE), "PASSPORT");
    ck_assert_uint_eq(fl_msg_uint(q, FL_F_WAITING), 4);
    ck_assert_uint_eq(fl_msg_uint(q, FL_F_OPEN_COUNTERS), 2);
    ck_assert_uint_eq(fl_msg_uint(q, FL_F_WAIT_S), 4 * 240 / 2);
    ck_assert_uint_eq(fl_msg_count(board, FL_F_RECENT), 1);
    fl_msg_destroy(&board);
    fx_end(&fx);
}
END_TEST

/* ---- a zone with daylight saving ---- */

START_TEST(test_slots_follow_daylight_saving)
{
    fx_t fx = { 0 };
    int64_t before = INT64_C(1774699200);              /* 2026-03-28 12:00 UTC, a day before the change */
    fx_start(&fx, before);
    const char *q = "{\"type\":\"availability\",\"office\":\"LON\",\"service\":\"VISA\",\"from\":\"%s\",\"days\":1}";
    fl_msg_t *spring = fx_call(&fx, before, q, "2026-03-29");
    ck_assert_uint_eq(fl_msg_count(spring, FL_F_SLOTS), 23);          /* 01:00-02:00 never happens */
    fl_msg_t *first = fl_msg_item(spring, FL_F_SLOTS, 0), *second = fl_msg_item(spring, FL_F_SLOTS, 1);
    ck_assert_uint_eq(fl_msg_uint(first, FL_F_START), UINT64_C(1774742400));       /* 00:00 GMT */
    ck_assert_uint_eq(fl_msg_uint(second, FL_F_START), UINT64_C(1774746000));      /* 02:00 BST = 01:00 UTC */
    /* a booking at 02:00 BST is that instant, and is the only place */
    fl_msg_t *b = fx_call(&fx, before, "{\"type\":\"book\"," RID ",\"office\":\"LON\",\"service\":\"VISA\","
                          "\"start\":1774746000,\"name\":\"Jo Bloggs\",\"id_type\":\"passport\",\"id_number\":\"AB123456\","
                          "\"phone\":\"+254712345678\"}", ++s_rid);
    ck_assert_str_eq(s_code(b), "ok");
    fl_msg_t *spring2 = fx_call(&fx, before, q, "2026-03-29");
    ck_assert_uint_eq(fl_msg_uint(fl_msg_item(spring2, FL_F_SLOTS, 1), FL_F_FREE), 0);
    fl_msg_destroy(&spring);
    fl_msg_destroy(&spring2);
    fl_msg_destroy(&b);
    fx_end(&fx);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("scheduler");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tickets_are_numbered_per_prefix_and_restart_each_local_day);
    tcase_add_test(tc, test_call_next_order_appointment_priority_walkin);
    tcase_add_test(tc, test_started_appointment_goes_first_and_starved_walkin_is_not_passed);
    tcase_add_test(tc, test_transfer_keeps_arrival_time_and_named_counter);
    tcase_add_test(tc, test_checkin_window_early_on_time_late);
    tcase_add_test(tc, test_full_slot_duplicate_id_and_cancel);
    tcase_add_test(tc, test_a_slot_whose_places_record_is_lost_is_not_booked_blind);
    tcase_add_test(tc, test_a_missed_appointment_does_not_block_a_new_booking);
    tcase_add_test(tc, test_a_request_failing_after_writing_fails_alone);
    tcase_add_test(tc, test_reschedule_takes_the_new_place_before_freeing_the_old);
    tcase_add_test(tc, test_held_booking_expires_and_frees_its_place);
    tcase_add_loop_test(tc, test_bad_request_gets_a_clear_error_and_changes_nothing, 0,
                        sizeof s_bad / sizeof s_bad[0]);
    tcase_add_test(tc, test_same_request_id_twice_same_reply_one_effect);
    tcase_add_test(tc, test_one_failure_in_a_batch_fails_alone);
    tcase_add_test(tc, test_one_batch_shares_a_reference_lead_and_the_next_batch_takes_the_next);
    tcase_add_test(tc, test_metrics_file_counts_and_a_bad_path_is_an_error);
    tcase_add_test(tc, test_event_seq_keeps_rising_across_a_restart);
    tcase_add_test(tc, test_the_store_keeps_each_offices_newest_event);
    tcase_add_test(tc, test_a_stored_event_history_is_let_go_a_part_at_a_time);
    tcase_add_test(tc, test_phone_numbers_go_after_their_retention);
    tcase_add_test(tc, test_counter_transitions);
    tcase_add_test(tc, test_a_missing_key_folder_is_refused_at_start);
    tcase_add_test(tc, test_stats_count_requests_refusals_and_batches);
    tcase_add_test(tc, test_tickets_left_waiting_are_closed_unserved_when_the_day_ends);
    tcase_add_test(tc, test_stats_count_an_early_appointment_wait_from_its_slot);
    tcase_add_test(tc, test_wait_estimate_uses_position_average_and_open_counters);
    tcase_add_test(tc, test_slots_follow_daylight_saving);
    suite_add_tcase(s, tc);
    return s;
}
