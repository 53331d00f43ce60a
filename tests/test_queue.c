/*  test_queue.c — the call-next order and the wait estimate (libfoleni/queue.h).
 *
 *  Most rules are proved by one table.  A row is a queue of waiting tickets, a
 *  counter with the services it serves, the time of the first call and how far
 *  the clock moves between calls; the test calls "next" until nothing is left
 *  for that counter and compares the ids called with the row's expectation.
 *  Each row runs twice, the second time with the tickets in reverse order, to
 *  show that the array's order never decides.
 *
 *  Times are written in minutes after T0 (08:00 on a working day, UTC).  The
 *  services and their limits: PASS may wait 60 minutes, ID 15, and BIRTH has
 *  no rule, so it gets the default of FL_QUEUE_MAX_WAIT_DEFAULT_S (90 min).
 */
#include "libfoleni/queue.h"
#include "libfoleni/error.h"
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-01-01 08:00:00 UTC, and a time m minutes after it. */
#define T0 INT64_C(1767254400)
#define M(m) (T0 + (int64_t) (m) * 60)

/* Most tickets and services in one table row. */
#define ROW_TICKETS_MAX   8
#define ROW_SERVICES_MAX  4
/* Longest "ids called" text a row produces. */
#define CALLED_TEXT_MAX   512
/* Tickets in the generated queue of the total-order test. */
#define RANDOM_TICKETS    300

/* A row's tickets, written so that each reads as what it is. */
#define WALKIN(i, svc, at)      { .id = (i), .service = (svc), .arrived = M(at) }
#define PRIO(i, svc, p, at)     { .id = (i), .service = (svc), .priority = FL_PRIO_##p, \
                                  .arrived = M(at) }
#define APPT(i, svc, slot, at)  { .id = (i), .service = (svc), .appointment = true, \
                                  .slot_start = M(slot), .arrived = M(at) }
#define SENT(i, svc, at, c)     { .id = (i), .service = (svc), .arrived = M(at), \
                                  .to_counter = (c) }

static const fl_service_rule_t s_rules[] = {
    { "PASS", 60 * 60 },
    { "ID",   15 * 60 },
};
#define RULE_COUNT (sizeof s_rules / sizeof s_rules[0])

typedef struct {
    const char *name;                           /* the rule the row shows */
    fl_waiting_t tickets[ROW_TICKETS_MAX];      /* ids from 1; id 0 ends the list */
    unsigned counter;                           /* the calling counter */
    const char *services[ROW_SERVICES_MAX + 1]; /* what it serves; NULL ends */
    int now;                                    /* first call, minutes after T0 */
    int step;                                   /* minutes between calls */
    const char *expect;                         /* ids called, in order */
} s_row_t;

static const s_row_t s_rows[] = {
    { "the five classes, and a ticket sent here before them all",
      { WALKIN(1, "PASS", 90),            /* walk-in */
        PRIO(2, "PASS", ELDERLY, 95),     /* priority */
        APPT(3, "PASS", 90, 85),          /* appointment, slot started */
        APPT(4, "PASS", 120, 99),         /* appointment, slot not started */
        WALKIN(5, "PASS", 30),            /* waited 70 min of 60: starved */
        SENT(6, "PASS", 99, 1) },         /* sent to counter 1 by name */
      1, { "PASS" }, 100, 0, "6 5 3 2 1 4" },

    { "a walk-in at its max wait beats a newer expectant mother",
      { WALKIN(1, "PASS", 40), PRIO(2, "PASS", EXPECTANT, 99) },
      1, { "PASS" }, 100, 0, "1 2" },

    { "a minute short of its max wait, the walk-in lets her go first",
      { WALKIN(1, "PASS", 41), PRIO(2, "PASS", EXPECTANT, 99) },
      1, { "PASS" }, 100, 0, "2 1" },

    { "a walk-in starves while priority tickets keep coming, then goes first",
      { WALKIN(1, "PASS", 0), PRIO(2, "PASS", ELDERLY, 1), PRIO(3, "PASS", DISABLED, 2),
        PRIO(4, "PASS", EXPECTANT, 3), PRIO(5, "PASS", ELDERLY, 4) },
      1, { "PASS" }, 30, 10, "2 3 4 1 5" },

    { "a starved walk-in goes before a due appointment",
      { APPT(1, "PASS", 95, 90), WALKIN(2, "PASS", 35) },
      1, { "PASS" }, 100, 0, "2 1" },

    { "starved tickets go longest wait first, whatever their kind",
      { PRIO(1, "PASS", ELDERLY, 20), WALKIN(2, "PASS", 10), APPT(3, "PASS", 30, 25) },
      1, { "PASS" }, 100, 0, "2 1 3" },

    { "an appointment's wait starts at its slot, not at an early check-in",
      { APPT(1, "PASS", 90, 20), WALKIN(2, "PASS", 30), PRIO(3, "PASS", ELDERLY, 95) },
      1, { "PASS" }, 100, 0, "2 1 3" },

    { "due appointments go by slot, then by arrival",
      { APPT(1, "PASS", 90, 80), APPT(2, "PASS", 80, 85), APPT(3, "PASS", 90, 70) },
      1, { "PASS" }, 95, 0, "2 3 1" },

    { "due appointments go before priority walk-ins",
      { PRIO(1, "PASS", DISABLED, 50), APPT(2, "PASS", 60, 58) },
      1, { "PASS" }, 61, 0, "2 1" },

    { "the priority categories are equal: oldest first",
      { PRIO(1, "PASS", EXPECTANT, 50), PRIO(2, "PASS", ELDERLY, 45),
        PRIO(3, "PASS", DISABLED, 48), WALKIN(4, "PASS", 40) },
      1, { "PASS" }, 60, 0, "2 3 1 4" },

    { "walk-ins go oldest first",
      { WALKIN(1, "PASS", 50), WALKIN(2, "PASS", 40), WALKIN(3, "PASS", 45) },
      1, { "PASS" }, 60, 0, "2 3 1" },

    { "an appointment before its slot waits behind walk-ins",
      { APPT(1, "PASS", 120, 90), WALKIN(2, "PASS", 95), PRIO(3, "PASS", ELDERLY, 99) },
      1, { "PASS" }, 100, 0, "3 2 1" },

    { "an appointment goes first once its slot starts",
      { APPT(1, "PASS", 110, 95), WALKIN(2, "PASS", 96), WALKIN(3, "PASS", 97) },
      1, { "PASS" }, 100, 10, "2 1 3" },

    { "an appointment alone is called before its slot",
      { APPT(1, "PASS", 200, 95) },
      1, { "PASS" }, 100, 0, "1" },

    { "early appointments, when alone, go by slot",
      { APPT(1, "PASS", 150, 95), APPT(2, "PASS", 130, 99) },
      1, { "PASS" }, 100, 0, "2 1" },

    { "a counter serving several services picks across them by one order",
      { WALKIN(1, "PASS", 80), WALKIN(2, "ID", 90), PRIO(3, "ID", ELDERLY, 95),
        APPT(4, "PASS", 95, 90), WALKIN(5, "BIRTH", 10) },
      2, { "PASS", "ID" }, 100, 0, "4 3 1 2" },

    { "each ticket starves by its own service's max wait",
      { WALKIN(1, "PASS", 50), WALKIN(2, "ID", 84), PRIO(3, "PASS", ELDERLY, 99) },
      2, { "PASS", "ID" }, 100, 0, "2 3 1" },

    { "a service without a rule starves at the default max wait",
      { WALKIN(1, "BIRTH", 10), PRIO(2, "BIRTH", ELDERLY, 99) },
      3, { "BIRTH" }, 100, 0, "1 2" },

    { "a minute short of the default, it does not",
      { WALKIN(1, "BIRTH", 11), PRIO(2, "BIRTH", ELDERLY, 99) },
      3, { "BIRTH" }, 100, 0, "2 1" },

    { "tickets of services the counter does not serve are left",
      { WALKIN(1, "PASS", 10), WALKIN(2, "BIRTH", 10), WALKIN(3, "ID", 90) },
      1, { "ID" }, 100, 0, "3" },

    { "a ticket sent to another counter is left",
      { SENT(1, "PASS", 50, 2), WALKIN(2, "PASS", 60) },
      1, { "PASS" }, 100, 0, "2" },

    { "a ticket sent here is called even for a service not served here",
      { SENT(1, "PASS", 50, 2), WALKIN(2, "PASS", 60) },
      2, { "ID" }, 100, 0, "1" },

    { "a ticket sent here goes before older tickets of the counter's services",
      { SENT(1, "PASS", 99, 2), WALKIN(2, "PASS", 60) },
      2, { "PASS" }, 100, 0, "1 2" },

    { "tickets sent here follow the usual order among themselves",
      { SENT(1, "PASS", 90, 3),
        { .id = 2, .service = "ID", .priority = FL_PRIO_ELDERLY, .arrived = M(95),
          .to_counter = 3 },
        WALKIN(3, "PASS", 10) },
      3, { "PASS" }, 100, 0, "2 1 3" },

    { "equal arrival times are broken by id",
      { WALKIN(3, "PASS", 50), WALKIN(1, "PASS", 50), WALKIN(2, "PASS", 50) },
      1, { "PASS" }, 60, 0, "1 2 3" },

    { "equal slots and check-ins are broken by id",
      { APPT(5, "PASS", 60, 55), APPT(4, "PASS", 60, 55),
        PRIO(7, "PASS", ELDERLY, 50), PRIO(6, "PASS", EXPECTANT, 50) },
      1, { "PASS" }, 60, 0, "4 5 6 7" },

    { "equal waits among starved tickets are broken by id",
      { WALKIN(9, "PASS", 0), PRIO(8, "PASS", ELDERLY, 0) },
      1, { "PASS" }, 100, 0, "8 9" },

    { "an empty queue calls nothing",
      { { 0 } },
      1, { "PASS" }, 100, 0, "" },

    { "a counter serving nothing calls only what is sent to it",
      { WALKIN(1, "PASS", 10), SENT(2, "ID", 20, 4) },
      4, { NULL }, 100, 0, "2" },
};
#define ROW_COUNT (sizeof s_rows / sizeof s_rows[0])


/* ---- helpers -------------------------------------------------------------- */

static size_t
s_count(const fl_waiting_t *tickets, size_t cap)
{
    size_t n = 0;
    while (n < cap && tickets[n].id != 0)
        n++;
    return n;
}

/* Call "next" until nothing is left for call->counter; the clock moves by
 * step_s after each call.  Writes the ids called, space-separated, to out.
 * A called ticket is removed by moving the last one into its place, so the
 * array's order is shuffled between calls on purpose. */
static void
s_call_all(fl_waiting_t *w, size_t n, fl_queue_call_t call, int64_t step_s,
           char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (;;) {
        size_t picked = SIZE_MAX;
        int rc = fl_queue_pick(w, n, &call, &picked);
        if (rc == FL_E_EMPTY) {
            ck_assert_uint_eq(picked, SIZE_MAX);
            break;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_lt(picked, n);
        ck_assert(fl_queue_can_call(&w[picked], &call));
        int wrote = snprintf(out + len, cap - len, "%s%u", len ? " " : "", w[picked].id);
        ck_assert(wrote > 0 && (size_t) wrote < cap - len);
        len += (size_t) wrote;
        w[picked] = w[--n];
        call.now += step_s;
    }
}

static fl_queue_call_t
s_call(unsigned counter, const char *const *services, size_t service_count, int64_t now)
{
    return (fl_queue_call_t) {
        .counter = counter, .services = services, .service_count = service_count,
        .rules = s_rules, .rule_count = RULE_COUNT, .now = now,
    };
}


/* ---- the order, by table -------------------------------------------------- */

START_TEST(test_call_next_order)
{
    const s_row_t *row = &s_rows[_i];
    size_t n = s_count(row->tickets, ROW_TICKETS_MAX);
    size_t ns = 0;
    while (ns < ROW_SERVICES_MAX && row->services[ns])
        ns++;
    fl_queue_call_t call = s_call(row->counter, row->services, ns, M(row->now));

    for (int reversed = 0; reversed < 2; reversed++) {
        fl_waiting_t w[ROW_TICKETS_MAX];
        for (size_t i = 0; i < n; i++)
            w[i] = row->tickets[reversed ? n - 1 - i : i];
        char called[CALLED_TEXT_MAX];
        s_call_all(w, n, call, (int64_t) row->step * 60, called, sizeof called);
        ck_assert_msg(strcmp(called, row->expect) == 0,
                      "%s%s: called \"%s\", expected \"%s\"", row->name,
                      reversed ? " (tickets reversed)" : "", called, row->expect);
    }
}
END_TEST


/* ---- the order, by hand --------------------------------------------------- */

START_TEST(test_empty_queue_is_an_empty_error)
{
    const char *const services[] = { "PASS" };
    fl_queue_call_t call = s_call(1, services, 1, M(0));
    size_t picked = 42;
    ck_assert_int_eq(fl_queue_pick(NULL, 0, &call, &picked), FL_E_EMPTY);
    ck_assert_uint_eq(picked, 42);
}
END_TEST

START_TEST(test_transferred_ticket_keeps_its_place_by_arrival)
{
    /* Ticket 1 came at 08:50 for ID; the ID clerk sends it to PASS at 10:00,
     * where 2 and 3 arrived later.  It is called first there. */
    fl_waiting_t w[] = {
        WALKIN(1, "ID", 50), WALKIN(2, "PASS", 55), WALKIN(3, "PASS", 58),
    };
    const char *const pass[] = { "PASS" };
    fl_queue_call_t call = s_call(1, pass, 1, M(59));
    fl_queue_transfer(&w[0], "PASS", 0);
    ck_assert_str_eq(w[0].service, "PASS");
    ck_assert_int_eq(w[0].arrived, M(50));
    char called[CALLED_TEXT_MAX];
    s_call_all(w, 3, call, 0, called, sizeof called);
    ck_assert_str_eq(called, "1 2 3");
}
END_TEST

START_TEST(test_transfer_keeps_kind_slot_and_priority)
{
    fl_waiting_t appt = APPT(1, "ID", 30, 25);
    fl_waiting_t prio = PRIO(2, "ID", EXPECTANT, 40);
    fl_queue_transfer(&appt, "PASS", 0);
    fl_queue_transfer(&prio, NULL, 7);
    ck_assert(appt.appointment);
    ck_assert_int_eq(appt.slot_start, M(30));
    ck_assert_int_eq(appt.arrived, M(25));
    ck_assert_str_eq(prio.service, "ID");       /* NULL: same service */
    ck_assert_uint_eq(prio.to_counter, 7);
    ck_assert_int_eq(prio.priority, FL_PRIO_EXPECTANT);
    ck_assert_int_eq(prio.arrived, M(40));
}
END_TEST

START_TEST(test_transfer_to_a_service_frees_it_from_a_named_counter)
{
    fl_waiting_t w = SENT(1, "ID", 10, 4);
    fl_queue_transfer(&w, "PASS", 0);
    ck_assert_uint_eq(w.to_counter, 0);
    const char *const pass[] = { "PASS" };
    fl_queue_call_t call = s_call(9, pass, 1, M(20));
    ck_assert(fl_queue_can_call(&w, &call));
}
END_TEST

START_TEST(test_ticket_sent_to_a_counter_is_refused_by_the_others)
{
    fl_waiting_t w = SENT(1, "PASS", 10, 4);
    const char *const pass[] = { "PASS" };
    for (unsigned counter = 0; counter <= 8; counter++) {
        fl_queue_call_t call = s_call(counter, pass, 1, M(20));
        ck_assert_msg(fl_queue_can_call(&w, &call) == (counter == 4), "counter %u", counter);
    }
}
END_TEST

START_TEST(test_class_names_the_step_of_the_order)
{
    static const struct {
        fl_waiting_t w;
        fl_queue_class_t cls;
    } cases[] = {
        { WALKIN(1, "PASS", 50),              FL_QUEUE_WALKIN },
        { WALKIN(1, "PASS", 40),              FL_QUEUE_STARVED },     /* exactly 60 min */
        { PRIO(1, "PASS", DISABLED, 99),      FL_QUEUE_PRIORITY },
        { PRIO(1, "PASS", DISABLED, 0),       FL_QUEUE_STARVED },
        { APPT(1, "PASS", 100, 90),           FL_QUEUE_APPOINTMENT }, /* slot starts now */
        { APPT(1, "PASS", 101, 90),           FL_QUEUE_EARLY },
        { APPT(1, "PASS", 40, 30),            FL_QUEUE_STARVED },     /* 60 min since slot */
        { APPT(1, "PASS", 41, 30),            FL_QUEUE_APPOINTMENT },
        { { .id = 1, .service = "PASS", .appointment = true, .slot_start = M(100),
            .priority = FL_PRIO_ELDERLY, .arrived = M(90) }, FL_QUEUE_APPOINTMENT },
        { SENT(1, "PASS", 90, 1),             FL_QUEUE_WALKIN },
        { WALKIN(1, "ID", 85),                FL_QUEUE_STARVED },     /* ID: 15 min */
        { WALKIN(1, "ID", 86),                FL_QUEUE_WALKIN },
        { WALKIN(1, "PASS", 101),             FL_QUEUE_WALKIN },      /* arrives "later" */
    };
    fl_queue_call_t call = s_call(1, NULL, 0, M(100));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(fl_queue_class(&cases[i].w, &call) == cases[i].cls,
                      "case %zu: class %d, expected %d", i,
                      (int) fl_queue_class(&cases[i].w, &call), (int) cases[i].cls);
}
END_TEST

START_TEST(test_max_wait_comes_from_the_rules_or_the_default)
{
    fl_queue_call_t call = s_call(1, NULL, 0, M(0));
    ck_assert_int_eq(fl_queue_max_wait_s(&call, "PASS"), 3600);
    ck_assert_int_eq(fl_queue_max_wait_s(&call, "ID"), 900);
    ck_assert_int_eq(fl_queue_max_wait_s(&call, "BIRTH"), FL_QUEUE_MAX_WAIT_DEFAULT_S);
    ck_assert_int_eq(FL_QUEUE_MAX_WAIT_DEFAULT_S, 90 * 60);
    call.rules = NULL;
    call.rule_count = 0;
    ck_assert_int_eq(fl_queue_max_wait_s(&call, "PASS"), FL_QUEUE_MAX_WAIT_DEFAULT_S);
}
END_TEST

START_TEST(test_times_far_apart_do_not_overflow)
{
    fl_waiting_t w[] = {
        { .id = 1, .service = "PASS", .arrived = INT64_MIN },
        { .id = 2, .service = "PASS", .arrived = INT64_MAX },
        { .id = 3, .service = "PASS", .appointment = true, .slot_start = INT64_MAX,
          .arrived = 0 },
    };
    const char *const pass[] = { "PASS" };
    fl_queue_call_t call = s_call(1, pass, 1, INT64_MAX);
    ck_assert_int_eq(fl_queue_class(&w[0], &call), FL_QUEUE_STARVED);
    ck_assert_int_eq(fl_queue_class(&w[1], &call), FL_QUEUE_WALKIN);
    call.now = INT64_MIN;
    ck_assert_int_eq(fl_queue_class(&w[0], &call), FL_QUEUE_WALKIN);
    ck_assert_int_eq(fl_queue_class(&w[2], &call), FL_QUEUE_EARLY);
    char called[CALLED_TEXT_MAX];
    s_call_all(w, 3, call, 0, called, sizeof called);
    ck_assert_str_eq(called, "1 2 3");
}
END_TEST

/* A fixed pseudo-random sequence (a 64-bit LCG), so the test is the same on
 * every run. */
static uint64_t s_seed = 20260101;

static unsigned
s_random(unsigned below)
{
    s_seed = s_seed * 6364136223846793005u + 1442695040888963407u;
    return (unsigned) ((s_seed >> 33) % below);
}

static const fl_queue_call_t *s_sort_call;

static int
s_sort_cmp(const void *a, const void *b)
{
    return fl_queue_compare(a, b, s_sort_call);
}

START_TEST(test_compare_is_a_total_order_and_pick_takes_its_first)
{
    static const char *const services[] = { "PASS", "ID", "BIRTH" };
    fl_waiting_t w[RANDOM_TICKETS], sorted[RANDOM_TICKETS];
    for (size_t i = 0; i < RANDOM_TICKETS; i++) {
        /* few distinct times, so that ties are common */
        bool appointment = s_random(3) == 0;
        w[i] = (fl_waiting_t) {
            .id = (uint32_t) (i + 1),
            .service = services[s_random(3)],
            .appointment = appointment,
            .slot_start = appointment ? M(10 * s_random(20)) : 0,
            .priority = (fl_priority_t) (s_random(2) ? 0 : s_random(FL_PRIO_COUNT)),
            .arrived = M(5 * s_random(40)),
            .to_counter = s_random(8) == 0 ? 5 : 0,
        };
    }
    fl_queue_call_t call = s_call(5, services, 3, M(100));

    for (size_t i = 0; i < RANDOM_TICKETS; i++) {
        ck_assert_int_eq(fl_queue_compare(&w[i], &w[i], &call), 0);
        for (size_t j = 0; j < RANDOM_TICKETS; j++) {
            int ab = fl_queue_compare(&w[i], &w[j], &call);
            int ba = fl_queue_compare(&w[j], &w[i], &call);
            ck_assert_int_eq((ab > 0) - (ab < 0), -((ba > 0) - (ba < 0)));
            ck_assert(i == j || ab != 0);
        }
    }

    memcpy(sorted, w, sizeof w);
    s_sort_call = &call;
    qsort(sorted, RANDOM_TICKETS, sizeof sorted[0], s_sort_cmp);
    /* Transitivity on this set: every earlier ticket compares before every later one. */
    for (size_t i = 0; i < RANDOM_TICKETS; i++)
        for (size_t j = i + 1; j < RANDOM_TICKETS; j++)
            ck_assert_int_lt(fl_queue_compare(&sorted[i], &sorted[j], &call), 0);

    /* Calling until empty gives the sorted order, since this counter may call all. */
    char called[RANDOM_TICKETS * 5], expect[RANDOM_TICKETS * 5];
    size_t len = 0;
    for (size_t i = 0; i < RANDOM_TICKETS; i++)
        len += (size_t) snprintf(expect + len, sizeof expect - len, "%s%u",
                                 i ? " " : "", sorted[i].id);
    s_call_all(w, RANDOM_TICKETS, call, 0, called, sizeof called);
    ck_assert_str_eq(called, expect);
}
END_TEST


/* ---- position ------------------------------------------------------------- */

START_TEST(test_position_counts_the_tickets_ahead_in_the_same_queue)
{
    const fl_waiting_t w[] = {
        WALKIN(1, "PASS", 50),              /* 0: behind 3 (priority), 5 (appointment) */
        WALKIN(2, "PASS", 55),              /* 1 */
        PRIO(3, "PASS", ELDERLY, 58),       /* 2 */
        WALKIN(4, "ID", 10),                /* 3: alone in ID */
        APPT(5, "PASS", 60, 59),            /* 4 */
        SENT(6, "PASS", 40, 2),             /* 5: the older of two sent to counter 2 */
        SENT(7, "ID", 50, 2),               /* 6 */
        APPT(8, "PASS", 90, 40),            /* 7: early; behind every PASS ticket */
    };
    const uint32_t expect[] = { 2, 3, 1, 0, 0, 0, 1, 4 };
    const size_t n = sizeof w / sizeof w[0];
    fl_queue_call_t call = s_call(0, NULL, 0, M(60));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fl_queue_position(w, n, i, &call) == expect[i],
                      "ticket %u: position %u, expected %u", w[i].id,
                      fl_queue_position(w, n, i, &call), expect[i]);
}
END_TEST

START_TEST(test_position_of_a_lone_ticket_is_zero)
{
    const fl_waiting_t w[] = { WALKIN(1, "PASS", 50) };
    fl_queue_call_t call = s_call(0, NULL, 0, M(60));
    ck_assert_uint_eq(fl_queue_position(w, 1, 0, &call), 0);
}
END_TEST


/* ---- priority words ------------------------------------------------------- */

START_TEST(test_priority_words_read_back)
{
    static const char *const words[FL_PRIO_COUNT] = {
        "none", "elderly", "disabled", "expectant",
    };
    for (int p = 0; p < FL_PRIO_COUNT; p++) {
        ck_assert_str_eq(fl_priority_name((fl_priority_t) p), words[p]);
        fl_priority_t read = FL_PRIO_COUNT;
        ck_assert_int_eq(fl_priority_parse(words[p], &read), 0);
        ck_assert_int_eq(read, p);
    }
}
END_TEST

START_TEST(test_unknown_priority_words_are_refused)
{
    static const char *const bad[] = {
        "", "Elderly", "ELDERLY", "disability", "elderly ", "old", "expectant\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_priority_t read = FL_PRIO_ELDERLY;
        ck_assert_int_eq(fl_priority_parse(bad[i], &read), FL_E_INVALID);
        ck_assert_int_eq(read, FL_PRIO_ELDERLY);
    }
    fl_priority_t read = FL_PRIO_ELDERLY;
    ck_assert_int_eq(fl_priority_parse(NULL, &read), FL_E_INVALID);
    ck_assert_int_eq(read, FL_PRIO_ELDERLY);
}
END_TEST


/* ---- moving average ------------------------------------------------------- */

START_TEST(test_first_sample_replaces_no_samples)
{
    fl_service_avg_t avg = FL_SERVICE_AVG_INIT;
    ck_assert_int_eq(fl_service_avg_add(&avg, 420), 0);
    ck_assert_uint_eq(avg.samples, 1);
    ck_assert_double_eq_tol(avg.avg_s, 420, 1e-9);
}
END_TEST

START_TEST(test_first_samples_are_a_plain_mean_then_alpha_weighs_the_newest)
{
    fl_service_avg_t avg = FL_SERVICE_AVG_INIT;
    for (int s = 100; s <= 400; s += 100)
        ck_assert_int_eq(fl_service_avg_add(&avg, s), 0);
    ck_assert_double_eq_tol(avg.avg_s, 250, 1e-9);
    ck_assert_int_eq(fl_service_avg_add(&avg, 500), 0);     /* weight 1/5 = alpha */
    ck_assert_double_eq_tol(avg.avg_s, 250 + FL_QUEUE_AVG_ALPHA * 250, 1e-9);
    ck_assert_int_eq(fl_service_avg_add(&avg, 0), 0);       /* weight stays alpha */
    ck_assert_double_eq_tol(avg.avg_s, 300 * (1 - FL_QUEUE_AVG_ALPHA), 1e-9);
    ck_assert_uint_eq(avg.samples, 6);
}
END_TEST

START_TEST(test_average_converges_to_a_new_pace)
{
    fl_service_avg_t avg = FL_SERVICE_AVG_INIT;
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(fl_service_avg_add(&avg, 600), 0);
    ck_assert_double_eq_tol(avg.avg_s, 600, 1e-9);
    /* The pace halves: within ten citizens the average has moved most of the way. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(fl_service_avg_add(&avg, 300), 0);
    ck_assert_double_lt(avg.avg_s - 300, 0.11 * 300);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(fl_service_avg_add(&avg, 300), 0);
    ck_assert_double_lt(fabs(avg.avg_s - 300), 1.0);
}
END_TEST

START_TEST(test_bad_samples_are_refused_and_change_nothing)
{
    const double bad[] = { -1, -0.001, FL_QUEUE_SAMPLE_MAX_S + 0.5, NAN, INFINITY, -INFINITY };
    fl_service_avg_t avg = FL_SERVICE_AVG_INIT;
    ck_assert_int_eq(fl_service_avg_add(&avg, 300), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(fl_service_avg_add(&avg, bad[i]), FL_E_RANGE);
        ck_assert_uint_eq(avg.samples, 1);
        ck_assert_double_eq_tol(avg.avg_s, 300, 1e-9);
    }
    ck_assert_int_eq(fl_service_avg_add(&avg, 0), 0);
    ck_assert_int_eq(fl_service_avg_add(&avg, FL_QUEUE_SAMPLE_MAX_S), 0);
    ck_assert_uint_eq(avg.samples, 3);
}
END_TEST

START_TEST(test_sample_count_saturates)
{
    fl_service_avg_t avg = { .avg_s = 100, .samples = UINT32_MAX };
    ck_assert_int_eq(fl_service_avg_add(&avg, 200), 0);
    ck_assert_uint_eq(avg.samples, UINT32_MAX);
    ck_assert_double_eq_tol(avg.avg_s, 100 + FL_QUEUE_AVG_ALPHA * 100, 1e-9);
}
END_TEST


/* ---- estimate ------------------------------------------------------------- */

START_TEST(test_estimate_arithmetic)
{
    static const struct {
        uint32_t position;
        double avg_s;               /* < 0: no samples */
        double default_s;
        unsigned open;
        uint32_t expect;
        bool no_counter;
    } cases[] = {
        { 0, 600, 300, 2, 0, false },               /* next in line: no wait */
        { 0, 600, 300, 0, 0, true },                /* still flagged with no counter */
        { 3, 600, 300, 2, 900, false },             /* 3 × 600 ÷ 2 */
        { 3, 600, 300, 1, 1800, false },
        { 3, 600, 300, 0, 1800, true },             /* none open: ÷ 1, and flagged */
        { 3, -1, 300, 1, 900, false },              /* no samples: the default */
        { 1, 100, 300, 3, 33, false },              /* 33.3 rounds down */
        { 2, 100, 300, 3, 67, false },              /* 66.7 rounds up */
        { 1, 0, 300, 1, 0, false },                 /* instant service */
        { FL_QUEUE_WAITING_MAX, FL_QUEUE_SAMPLE_MAX_S, 0, 1,
          FL_QUEUE_ESTIMATE_MAX_S, false },         /* capped */
        { UINT32_MAX, 1, 0, 1, FL_QUEUE_ESTIMATE_MAX_S, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_service_avg_t avg = { .avg_s = cases[i].avg_s, .samples = 7 };
        if (cases[i].avg_s < 0)
            avg = (fl_service_avg_t) FL_SERVICE_AVG_INIT;
        bool no_counter = !cases[i].no_counter;
        uint32_t got = fl_queue_estimate_s(cases[i].position, &avg, cases[i].default_s,
                                           cases[i].open, &no_counter);
        ck_assert_msg(got == cases[i].expect, "case %zu: %u s, expected %u s",
                      i, got, cases[i].expect);
        ck_assert_msg(no_counter == cases[i].no_counter, "case %zu: flag", i);
    }
}
END_TEST

START_TEST(test_estimate_accepts_null_average_and_flag)
{
    ck_assert_uint_eq(fl_queue_estimate_s(4, NULL, 450, 3, NULL), 600);
    ck_assert_uint_eq(fl_queue_estimate_s(4, NULL, 450, 0, NULL), 1800);
}
END_TEST

START_TEST(test_estimate_follows_the_moving_average)
{
    /* A service configured at 10 min that really takes 5: once samples come
     * in, the estimate uses them. */
    fl_service_avg_t avg = FL_SERVICE_AVG_INIT;
    ck_assert_uint_eq(fl_queue_estimate_s(6, &avg, 600, 2, NULL), 1800);
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(fl_service_avg_add(&avg, 300), 0);
    ck_assert_uint_eq(fl_queue_estimate_s(6, &avg, 600, 2, NULL), 900);
}
END_TEST


Suite *
make_suite(void)
{
    Suite *suite = suite_create("queue");

    TCase *tc = tcase_create("order");
    tcase_add_loop_test(tc, test_call_next_order, 0, ROW_COUNT);
    tcase_add_test(tc, test_empty_queue_is_an_empty_error);
    tcase_add_test(tc, test_transferred_ticket_keeps_its_place_by_arrival);
    tcase_add_test(tc, test_transfer_keeps_kind_slot_and_priority);
    tcase_add_test(tc, test_transfer_to_a_service_frees_it_from_a_named_counter);
    tcase_add_test(tc, test_ticket_sent_to_a_counter_is_refused_by_the_others);
    tcase_add_test(tc, test_class_names_the_step_of_the_order);
    tcase_add_test(tc, test_max_wait_comes_from_the_rules_or_the_default);
    tcase_add_test(tc, test_times_far_apart_do_not_overflow);
    tcase_add_test(tc, test_compare_is_a_total_order_and_pick_takes_its_first);
    suite_add_tcase(suite, tc);

    tc = tcase_create("position");
    tcase_add_test(tc, test_position_counts_the_tickets_ahead_in_the_same_queue);
    tcase_add_test(tc, test_position_of_a_lone_ticket_is_zero);
    suite_add_tcase(suite, tc);

    tc = tcase_create("priority");
    tcase_add_test(tc, test_priority_words_read_back);
    tcase_add_test(tc, test_unknown_priority_words_are_refused);
    suite_add_tcase(suite, tc);

    tc = tcase_create("estimate");
    tcase_add_test(tc, test_first_sample_replaces_no_samples);
    tcase_add_test(tc, test_first_samples_are_a_plain_mean_then_alpha_weighs_the_newest);
    tcase_add_test(tc, test_average_converges_to_a_new_pace);
    tcase_add_test(tc, test_bad_samples_are_refused_and_change_nothing);
    tcase_add_test(tc, test_sample_count_saturates);
    tcase_add_test(tc, test_estimate_arithmetic);
    tcase_add_test(tc, test_estimate_accepts_null_average_and_flag);
    tcase_add_test(tc, test_estimate_follows_the_moving_average);
    suite_add_tcase(suite, tc);

    return suite;
}
