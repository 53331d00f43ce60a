/*  test_display_clone.c — the hall board's rules without processes: what each
 *  event does to a board, the Clone pattern's seq rules (snapshot, kept events,
 *  gaps, silence, settle, backwards seq, retries), what is announced and
 *  when, the spoken form of a call, the terminal's block letters, and where
 *  the page's files are found.
 *
 *  Times are passed in (milliseconds), so every timer rule is tested exactly.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "display/board.h"
#include "display/clone.h"
#include "display/tty.h"
#include "display/www.h"
#include "libfoleni/msg.h"
#include "tests/testutil.h"

#define OFFICE "NBIGPO"

/* ---- building messages ---- */

static fl_msg_t *
s_event(uint64_t seq, const char *kind, const char *ticket, const char *service, unsigned counter)
{
    fl_msg_t *e = fl_msg_new(FL_T_EVENT);
    ck_assert_int_eq(fl_msg_set_str(e, FL_F_OFFICE, OFFICE), 0);
    ck_assert_int_eq(fl_msg_set_uint(e, FL_F_SEQ, seq), 0);
    ck_assert_int_eq(fl_msg_set_uint(e, FL_F_AT, 1796104800 + seq), 0);
    ck_assert_int_eq(fl_msg_set_str(e, FL_F_KIND, kind), 0);
    if (ticket)
        ck_assert_int_eq(fl_msg_set_str(e, FL_F_TICKET, ticket), 0);
    if (service)
        ck_assert_int_eq(fl_msg_set_str(e, FL_F_SERVICE, service), 0);
    if (counter)
        ck_assert_int_eq(fl_msg_set_uint(e, FL_F_COUNTER, counter), 0);
    return e;
}

typedef struct {
    const char *ticket, *service;
    unsigned counter, calls;
    uint64_t at;
} call_t;

typedef struct {
    const char *service;
    unsigned waiting, wait_s, open;
} queue_t;

static void
s_add_call(fl_msg_t *b, fl_field_t field, const call_t *c)
{
    fl_msg_t *item = fl_msg_add_item(b, field);
    ck_assert_ptr_nonnull(item);
    fl_msg_set_str(item, FL_F_TICKET, c->ticket);
    fl_msg_set_str(item, FL_F_SERVICE, c->service);
    fl_msg_set_uint(item, FL_F_COUNTER, c->counter);
    fl_msg_set_uint(item, FL_F_AT, c->at ? c->at : 1796104800);
    fl_msg_set_uint(item, FL_F_CALLS, c->calls ? c->calls : 1);
}

/* A `board` reply: serving and recent as given, queues as given. */
static fl_msg_t *
s_snapshot(uint64_t seq, const call_t *serving, size_t nserving, const call_t *recent, size_t nrecent,
           const queue_t *queues, size_t nqueues)
{
    fl_msg_t *b = fl_msg_new(FL_T_BOARD);
    fl_msg_set_str(b, FL_F_OFFICE, OFFICE);
    fl_msg_set_uint(b, FL_F_SEQ, seq);
    fl_msg_set_uint(b, FL_F_AT, 1796104800 + seq);
    fl_msg_set_empty(b, FL_F_SERVING);
    fl_msg_set_empty(b, FL_F_RECENT);
    fl_msg_set_empty(b, FL_F_QUEUES);
    for (size_t i = 0; i < nserving; i++)
        s_add_call(b, FL_F_SERVING, &serving[i]);
    for (size_t i = 0; i < nrecent; i++)
        s_add_call(b, FL_F_RECENT, &recent[i]);
    for (size_t i = 0; i < nqueues; i++) {
        fl_msg_t *q = fl_msg_add_item(b, FL_F_QUEUES);
        fl_msg_set_str(q, FL_F_SERVICE, queues[i].service);
        fl_msg_set_uint(q, FL_F_WAITING, queues[i].waiting);
        fl_msg_set_uint(q, FL_F_WAIT_S, queues[i].wait_s);
        fl_msg_set_uint(q, FL_F_OPEN_COUNTERS, queues[i].open);
    }
    ck_assert_int_eq(fl_msg_check(b, NULL), 0);
    return b;
}

static fl_msg_t *
s_empty_snapshot(uint64_t seq)
{
    static const queue_t q[] = { { "PASSPORT", 0, 0, 1 } };
    return s_snapshot(seq, NULL, 0, NULL, 0, q, 1);
}

/* Feed an event to a clone. */
static void
s_feed(disp_clone_t *c, fl_msg_t *e, int64_t now, disp_update_t *u)
{
    disp_clone_event(c, &e, now, u);
    ck_assert_ptr_null(e);
}

/* A clone made at time 0 that took its first snapshot (seq) at time 100. */
static disp_clone_t *
s_live_clone(uint64_t seq, fl_msg_t *snapshot)
{
    disp_clone_options_t o = { .settle_ms = 1000, .silence_ms = 5000, .retry_min_ms = 500, .retry_max_ms = 4000 };
    disp_clone_t *c = disp_clone_new(OFFICE, &o, 0);
    ck_assert_int_eq(disp_clone_poll(c, 0), -1);            /* the subscription needs a moment */
    ck_assert_int_eq(disp_clone_poll(c, DISP_CLONE_START_DELAY_MS), DISP_WHY_START);
    disp_update_t u;
    fl_msg_t *b = snapshot ? snapshot : s_empty_snapshot(seq);
    disp_clone_snapshot(c, b, 100, &u);
    fl_msg_destroy(&b);
    ck_assert(u.changed);
    ck_assert_uint_eq(u.nannounce, 0);                      /* a first look announces nothing */
    ck_assert_int_eq(disp_clone_phase(c), DISP_CLONE_LIVE);
    ck_assert_uint_eq(disp_clone_board(c)->seq, seq);
    return c;
}

/* ---- the spoken form ---- */

START_TEST(test_a_call_is_spelled_out_in_english_and_kiswahili)
{
    static const struct {
        const char *ticket, *lang;
        unsigned counter;
        const char *said;
    } cases[] = {
        { "P-042", "en", 3, "Ticket P 0 4 2, counter 3" },
        { "P-042", "sw", 3, "Tiketi P 0 4 2, dirisha 3" },
        { "I-100", "sw", 12, "Tiketi I 1 0 0, dirisha 12" },
        { "b-7", "fr", 1, "Ticket B 7, counter 1" },            /* unknown language: English */
        { "AP-0001", NULL, 999, "Ticket A P 0 0 0 1, counter 999" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[DISP_SAY_MAX];
        disp_say(cases[i].ticket, cases[i].counter, cases[i].lang, out, sizeof out);
        ck_assert_str_eq(out, cases[i].said);
    }
    char tiny[8];
    disp_say("P-042", 3, "en", tiny, sizeof tiny);              /* cut, still a string */
    ck_assert_str_eq(tiny, "Ticket ");
}
END_TEST

/* ---- events on a board ---- */

START_TEST(test_each_event_kind_changes_the_board_as_a_snapshot_would)
{
    static const call_t serving[] = { { "P-001", "PASSPORT", 1, 1, 0 } };
    static const queue_t queues[] = { { "PASSPORT", 3, 1800, 1 }, { "IDCARD", 0, 0, 1 } };
    fl_msg_t *snap = s_snapshot(10, serving, 1, serving, 1, queues, 2);
    disp_board_t *b = calloc(1, sizeof *b);
    disp_board_init(b, OFFICE);
    ck_assert_int_eq(disp_board_from_snapshot(b, snap), 0);
    fl_msg_destroy(&snap);
    ck_assert_str_eq(b->newest, "P-001");
    disp_effect_t fx;
    fl_msg_t *e;

    /* ticket: one more waiting, the estimate scaled per place (1800 / 3 = 600 s each) */
    e = s_event(11, "ticket", "P-004", "PASSPORT", 0);
    ck_assert_int_eq(disp_board_apply(b, e, &fx), 0);
    fl_msg_destroy(&e);
    ck_assert(fx.changed && fx.stale && !fx.announce);
    ck_assert_uint_eq(b->queues[0].waiting, 4);
    ck_assert_uint_eq(b->queues[0].wait_s, 2400);
    ck_assert_uint_eq(b->seq, 11);

    /* call: first in serving and recent, one fewer waiting, announced, newest */
    e = s_event(12, "call", "P-002", "PASSPORT", 2);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert(fx.changed && fx.announce && !fx.recall && fx.stale);
    ck_assert_str_eq(fx.call.ticket, "P-002");
    ck_assert_uint_eq(fx.call.counter, 2);
    ck_assert_uint_eq(b->nserving, 2);
    ck_assert_str_eq(b->serving[0].ticket, "P-002");
    ck_assert_str_eq(b->recent[0].ticket, "P-002");
    ck_assert_str_eq(b->newest, "P-002");
    ck_assert_uint_eq(b->queues[0].waiting, 3);

    /* a call at a counter replaces that counter's ticket */
    e = s_event(13, "call", "P-003", "PASSPORT", 1);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert_uint_eq(b->nserving, 2);
    ck_assert_str_eq(b->serving[0].ticket, "P-003");
    ck_assert_str_eq(b->serving[1].ticket, "P-002");
    ck_assert_uint_eq(b->nrecent, 3);

    /* recall: announced again, one more call counted, still served */
    e = s_event(14, "recall", "P-002", "PASSPORT", 2);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert(fx.announce && fx.recall && !fx.stale);
    ck_assert_uint_eq(fx.call.calls, 2);
    ck_assert_uint_eq(b->serving[1].calls, 2);
    ck_assert_str_eq(b->newest, "P-002");

    /* start: nothing visible */
    e = s_event(15, "start", "P-002", "PASSPORT", 2);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert(!fx.changed && !fx.announce);

    /* done: leaves serving, stays in recent; averages moved: stale */
    e = s_event(16, "done", "P-003", "PASSPORT", 1);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert(fx.changed && fx.stale);
    ck_assert_uint_eq(b->nserving, 1);
    ck_assert_str_eq(b->recent[0].ticket, "P-003");

    /* transfer: leaves serving and recent, waits again in the new service */
    e = s_event(17, "transfer", "P-002", "IDCARD", 2);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert(fx.changed && fx.stale);
    ck_assert_uint_eq(b->nserving, 0);
    for (size_t i = 0; i < b->nrecent; i++)
        ck_assert_str_ne(b->recent[i].ticket, "P-002");
    ck_assert_uint_eq(b->queues[1].waiting, 1);

    /* noshow of a ticket not served: nothing to remove */
    e = s_event(18, "noshow", "P-009", "PASSPORT", 3);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert(!fx.changed && fx.stale);

    /* booking: not on the board; counter: only the scheduler knows what it changes */
    e = s_event(19, "booking", NULL, "PASSPORT", 0);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert(!fx.changed && !fx.stale);
    e = s_event(20, "counter", NULL, NULL, 4);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert(!fx.changed && fx.stale);

    /* a new service appears in the queues; waiting never goes below zero */
    e = s_event(21, "call", "B-001", "BIRTH", 5);
    disp_board_apply(b, e, &fx);
    fl_msg_destroy(&e);
    ck_assert_uint_eq(b->nqueues, 3);
    ck_assert_uint_eq(b->queues[2].waiting, 0);

    /* another office's event is refused and changes nothing */
    e = s_event(22, "call", "P-100", "PASSPORT", 1);
    fl_msg_set_str(e, FL_F_OFFICE, "MSAGPO");
    ck_assert_int_eq(disp_board_apply(b, e, &fx), FL_E_INVALID);
    fl_msg_destroy(&e);
    ck_assert_uint_eq(b->seq, 21);
    free(b);
}
END_TEST

START_TEST(test_recent_calls_keep_as_many_as_a_snapshot)
{
    disp_board_t *b = calloc(1, sizeof *b);
    disp_board_init(b, OFFICE);
    disp_effect_t fx;
    for (unsigned i = 1; i <= DISP_RECENT_KEEP + 5; i++) {
        char ticket[16];
        snprintf(ticket, sizeof ticket, "P-%03u", i);
        fl_msg_t *e = s_event(i, "call", ticket, "PASSPORT", i);
        disp_board_apply(b, e, &fx);
        fl_msg_destroy(&e);
    }
    ck_assert_uint_eq(b->nrecent, DISP_RECENT_KEEP);
    ck_assert_str_eq(b->recent[0].ticket, "P-015");
    ck_assert_uint_eq(b->nserving, DISP_RECENT_KEEP + 5);   /* one per counter, all still served */
    free(b);
}
END_TEST

START_TEST(test_the_board_json_carries_what_the_page_shows)
{
    static const call_t serving[] = { { "P-001", "PASSPORT", 3, 1, 0 } };
    static const queue_t queues[] = { { "PASSPORT", 2, 1200, 1 } };
    fl_msg_t *snap = s_snapshot(7, serving, 1, serving, 1, queues, 1);
    disp_board_t *b = calloc(1, sizeof *b);
    disp_board_init(b, OFFICE);
    disp_board_from_snapshot(b, snap);
    fl_msg_destroy(&snap);
    disp_names_t names = { .name = "Huduma Centre GPO", .name_sw = "Kituo cha Huduma GPO", .tz = "Africa/Nairobi",
                           .nservices = 1 };
    snprintf(names.services[0].service, sizeof names.services[0].service, "PASSPORT");
    snprintf(names.services[0].name, sizeof names.services[0].name, "Passports");
    json_t *j = disp_board_json(b, &names, "live", 1796104900);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "office")), OFFICE);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 7);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "live");
    ck_assert_str_eq(json_string_value(json_object_get(j, "newest")), "P-001");
    ck_assert_str_eq(json_string_value(json_object_get(j, "tz")), "Africa/Nairobi");
    json_t *s0 = json_array_get(json_object_get(j, "serving"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(s0, "ticket")), "P-001");
    ck_assert_int_eq(json_integer_value(json_object_get(s0, "counter")), 3);
    json_t *q0 = json_array_get(json_object_get(j, "queues"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(q0, "wait_s")), 1200);
    json_t *n0 = json_array_get(json_object_get(j, "services"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(n0, "name_sw")), "Passports");   /* none: the English name */
    json_decref(j);
    json_t *c = disp_call_json(OFFICE, &b->serving[0], true, 7);
    ck_assert_str_eq(json_string_value(json_object_get(c, "kind")), "recall");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "say"), "sw")), "Tiketi P 0 0 1, dirisha 3");
    json_decref(c);
    free(b);
}
END_TEST

/* ---- the Clone pattern ---- */

START_TEST(test_events_during_the_first_snapshot_are_kept_and_only_newer_ones_applied)
{
    disp_clone_options_t o = { 0 };
    disp_clone_t *c = disp_clone_new(OFFICE, &o, 0);
    disp_update_t u;
    ck_assert_int_eq(disp_clone_poll(c, 100), DISP_WHY_START);
    ck_assert_int_eq(disp_clone_poll(c, 101), -1);          /* one request at a time */
    s_feed(c, s_event(5, "ticket", "P-005", "PASSPORT", 0), 110, &u);   /* already in the snapshot */
    s_feed(c, s_event(6, "ticket", "P-006", "PASSPORT", 0), 120, &u);   /* after it */
    ck_assert(!u.changed);                                  /* nothing applied before the snapshot */
    static const queue_t q[] = { { "PASSPORT", 5, 3000, 1 } };
    fl_msg_t *snap = s_snapshot(5, NULL, 0, NULL, 0, q, 1);
    disp_clone_snapshot(c, snap, 130, &u);
    fl_msg_destroy(&snap);
    ck_assert(u.changed);
    ck_assert_uint_eq(disp_clone_board(c)->seq, 6);
    ck_assert_uint_eq(disp_clone_board(c)->queues[0].waiting, 6);   /* P-006 counted once, P-005 not twice */
    ck_assert_uint_eq(disp_clone_stats(c)->held, 2);
    ck_assert_uint_eq(disp_clone_stats(c)->applied, 1);
    ck_assert_str_eq(disp_clone_status(c, 130), "live");
    disp_clone_destroy(&c);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_an_event_already_in_the_board_is_ignored)
{
    disp_clone_t *c = s_live_clone(10, NULL);
    disp_update_t u;
    s_feed(c, s_event(9, "ticket", "P-009", "PASSPORT", 0), 200, &u);
    s_feed(c, s_event(10, "ticket", "P-010", "PASSPORT", 0), 210, &u);
    ck_assert(!u.changed);
    ck_assert_uint_eq(disp_clone_stats(c)->old, 2);
    ck_assert_uint_eq(disp_clone_stats(c)->backwards, 0);   /* expected right after a snapshot */
    s_feed(c, s_event(11, "ticket", "P-011", "PASSPORT", 0), 220, &u);
    ck_assert(u.changed);
    ck_assert_uint_eq(disp_clone_board(c)->seq, 11);
    disp_clone_destroy(&c);
}
END_TEST

START_TEST(test_a_gap_in_seq_stops_updates_until_a_new_snapshot)
{
    disp_clone_t *c = s_live_clone(10, NULL);
    disp_update_t u;
    s_feed(c, s_event(11, "ticket", "P-011", "PASSPORT", 0), 200, &u);
    s_feed(c, s_event(13, "call", "P-011", "PASSPORT", 1), 210, &u);      /* 12 was lost */
    ck_assert(!u.changed && u.nannounce == 0);
    ck_assert_int_eq(disp_clone_phase(c), DISP_CLONE_RESYNC);
    ck_assert_uint_eq(disp_clone_stats(c)->gaps, 1);
    ck_assert_int_eq(disp_clone_deadline(c), 0);            /* at once */
    s_feed(c, s_event(14, "ticket", "P-012", "PASSPORT", 0), 215, &u);    /* not applied either */
    ck_assert_uint_eq(disp_clone_board(c)->seq, 11);
    ck_assert_int_eq(disp_clone_poll(c, 220), DISP_WHY_GAP);
    s_feed(c, s_event(15, "ticket", "P-013", "PASSPORT", 0), 230, &u);    /* kept for after */
    static const call_t serving[] = { { "P-011", "PASSPORT", 1, 1, 1796104800 + 13 } };
    static const queue_t q[] = { { "PASSPORT", 1, 600, 1 } };
    fl_msg_t *snap = s_snapshot(14, serving, 1, serving, 1, q, 1);
    disp_clone_snapshot(c, snap, 240, &u);
    fl_msg_destroy(&snap);
    ck_assert_int_eq(disp_clone_phase(c), DISP_CLONE_LIVE);
    ck_assert_uint_eq(disp_clone_board(c)->seq, 15);
    ck_assert_uint_eq(disp_clone_board(c)->queues[0].waiting, 2);
    /* the call the lost events hid is announced, once */
    ck_assert_uint_eq(u.nannounce, 1);
    ck_assert_str_eq(u.announce[0].ticket, "P-011");
    ck_assert(!u.recall[0]);
    disp_clone_destroy(&c);
}
END_TEST

START_TEST(test_a_silent_bus_gets_a_fresh_snapshot)
{
    disp_clone_t *c = s_live_clone(3, NULL);               /* heard at 100; silence 5000 */
    ck_assert_int_eq(disp_clone_deadline(c), 5100);
    ck_assert_int_eq(disp_clone_poll(c, 5099), -1);
    disp_update_t u;
    s_feed(c, s_event(4, "booking", NULL, "PASSPORT", 0), 3000, &u);      /* an event restarts the wait */
    ck_assert_int_eq(disp_clone_poll(c, 5100), -1);
    ck_assert_int_eq(disp_clone_deadline(c), 8000);
    ck_assert_int_eq(disp_clone_poll(c, 8000), DISP_WHY_SILENCE);
    fl_msg_t *snap = s_empty_snapshot(4);
    disp_clone_snapshot(c, snap, 8010, &u);
    fl_msg_destroy(&snap);
    ck_assert(!u.changed);                                  /* same board: nothing to push to screens */
    ck_assert_uint_eq(disp_clone_stats(c)->snapshots[DISP_WHY_SILENCE], 1);
    disp_clone_destroy(&c);
}
END_TEST

START_TEST(test_a_burst_of_calls_gets_one_settle_snapshot)
{
    disp_clone_t *c = s_live_clone(0, NULL);
    disp_update_t u;
    for (int i = 1; i <= 5; i++)
        s_feed(c, s_event((uint64_t) i, "ticket", "P-001", "PASSPORT", 0), 1000 + 100 * i, &u);
    ck_assert_int_eq(disp_clone_deadline(c), 2100);        /* first stale event + settle */
    ck_assert_int_eq(disp_clone_poll(c, 2099), -1);
    ck_assert_int_eq(disp_clone_poll(c, 2100), DISP_WHY_SETTLE);
    fl_msg_t *snap = s_empty_snapshot(5);
    disp_clone_snapshot(c, snap, 2110, &u);
    fl_msg_destroy(&snap);
    ck_assert_int_eq(disp_clone_deadline(c), 2110 + 5000);  /* fresh: only silence is left */
    ck_assert_uint_eq(disp_clone_stats(c)->snapshots[DISP_WHY_SETTLE], 1);
    /* a recall changes nothing only the scheduler knows: no snapshot for it */
    static const call_t serving[] = { { "P-001", "PASSPORT", 1, 1, 0 } };
    disp_clone_destroy(&c);
    c = s_live_clone(5, s_snapshot(5, serving, 1, serving, 1, NULL, 0));
    s_feed(c, s_event(6, "recall", "P-001", "PASSPORT", 1), 200, &u);
    ck_assert_uint_eq(u.nannounce, 1);
    ck_assert(u.recall[0]);
    ck_assert_int_eq(disp_clone_deadline(c), 200 + 5000);
    disp_clone_destroy(&c);
}
END_TEST

START_TEST(test_a_call_seen_live_and_again_after_a_snapshot_is_announced_once)
{
    disp_clone_t *c = s_live_clone(6, NULL);
    disp_update_t u;
    s_feed(c, s_event(7, "ticket", "P-001", "PASSPORT", 0), 200, &u);
    ck_assert_int_eq(disp_clone_poll(c, 1200), DISP_WHY_SETTLE);
    s_feed(c, s_event(8, "call", "P-001", "PASSPORT", 1), 1210, &u);      /* live, while the snapshot is out */
    ck_assert_uint_eq(u.nannounce, 1);
    ck_assert_uint_eq(u.announce_seq[0], 8);
    static const queue_t q[] = { { "PASSPORT", 1, 600, 1 } };
    fl_msg_t *snap = s_snapshot(7, NULL, 0, NULL, 0, q, 1);        /* taken before the call */
    disp_clone_snapshot(c, snap, 1220, &u);
    fl_msg_destroy(&snap);
    ck_assert_uint_eq(u.nannounce, 0);                      /* replayed, not announced again */
    ck_assert_uint_eq(disp_clone_board(c)->seq, 8);
    ck_assert_uint_eq(disp_clone_board(c)->nserving, 1);
    ck_assert_uint_eq(disp_clone_board(c)->queues[0].waiting, 0);
    /* and a snapshot taken after it: no announcement, and the live event after it is old */
    ck_assert_int_eq(disp_clone_poll(c, 2220), DISP_WHY_SETTLE);
    static const call_t serving[] = { { "P-001", "PASSPORT", 1, 1, 1796104808 } };
    snap = s_snapshot(8, serving, 1, serving, 1, q, 1);
    disp_clone_snapshot(c, snap, 2230, &u);
    fl_msg_destroy(&snap);
    ck_assert_uint_eq(u.nannounce, 0);
    disp_clone_destroy(&c);
}
END_TEST

START_TEST(test_a_seq_that_goes_backwards_gets_a_snapshot_that_replaces_the_board)
{
    disp_clone_t *c = s_live_clone(50, NULL);              /* snapshot applied at 100 */
    disp_update_t u;
    /* a scheduler on a new store starts again at 1, long after the snapshot */
    s_feed(c, s_event(1, "ticket", "P-001", "PASSPORT", 0), 100 + DISP_CLONE_GRACE_MS + 1, &u);
    ck_assert_uint_eq(disp_clone_stats(c)->backwards, 1);
    ck_assert_int_eq(disp_clone_phase(c), DISP_CLONE_RESYNC);
    ck_assert_int_eq(disp_clone_poll(c, 4000), DISP_WHY_BACKWARDS);
    static const queue_t q[] = { { "PASSPORT", 1, 600, 1 } };
    fl_msg_t *snap = s_snapshot(1, NULL, 0, NULL, 0, q, 1);
    disp_clone_snapshot(c, snap, 4010, &u);
    fl_msg_destroy(&snap);
    ck_assert(u.changed);
    ck_assert_uint_eq(disp_clone_board(c)->seq, 1);         /* the snapshot wins, whatever its seq */
    s_feed(c, s_event(2, "ticket", "P-002", "PASSPORT", 0), 4020, &u);
    ck_assert_uint_eq(disp_clone_board(c)->seq, 2);
    disp_clone_destroy(&c);
}
END_TEST

START_TEST(test_a_failed_snapshot_is_asked_again_after_a_growing_backoff)
{
    disp_clone_options_t o = { .retry_min_ms = 500, .retry_max_ms = 1500 };
    disp_clone_t *c = disp_clone_new(OFFICE, &o, 0);
    ck_assert_str_eq(disp_clone_status(c, 0), "connecting");
    ck_assert_int_eq(disp_clone_poll(c, 100), DISP_WHY_START);
    disp_clone_snapshot_failed(c, 1000);
    ck_assert_str_eq(disp_clone_status(c, 1000), "connecting");
    ck_assert_int_eq(disp_clone_poll(c, 1499), -1);
    ck_assert_int_eq(disp_clone_poll(c, 1500), DISP_WHY_RETRY);
    disp_clone_snapshot_failed(c, 2000);                    /* then 1000 */
    ck_assert_int_eq(disp_clone_poll(c, 2999), -1);
    ck_assert_int_eq(disp_clone_poll(c, 3000), DISP_WHY_RETRY);
    disp_clone_snapshot_failed(c, 3000);                    /* capped at 1500 */
    ck_assert_int_eq(disp_clone_deadline(c), 4500);
    ck_assert_int_eq(disp_clone_poll(c, 4500), DISP_WHY_RETRY);
    /* an error reply counts as a failure */
    fl_msg_t *err = fl_msg_new(FL_T_ERROR);
    fl_msg_set_str(err, FL_F_CODE, "unavailable");
    fl_msg_set_str(err, FL_F_MESSAGE, "no scheduler");
    disp_update_t u;
    disp_clone_snapshot(c, err, 4600, &u);
    fl_msg_destroy(&err);
    ck_assert_uint_eq(disp_clone_stats(c)->snapshot_failures, 4);
    ck_assert_int_eq(disp_clone_poll(c, 6100), DISP_WHY_RETRY);
    fl_msg_t *snap = s_empty_snapshot(0);
    disp_clone_snapshot(c, snap, 6200, &u);
    fl_msg_destroy(&snap);
    ck_assert_str_eq(disp_clone_status(c, 6200), "live");
    /* a live board whose refresh fails shows it is stale, and keeps applying events */
    ck_assert_int_eq(disp_clone_poll(c, 6200 + 5000), DISP_WHY_SILENCE);
    disp_clone_snapshot_failed(c, 11300);
    ck_assert_str_eq(disp_clone_status(c, 11300), "stale");
    s_feed(c, s_event(1, "ticket", "P-001", "PASSPORT", 0), 11400, &u);
    ck_assert(u.changed);
    disp_clone_destroy(&c);
}
END_TEST

START_TEST(test_too_many_events_during_a_snapshot_end_in_another_snapshot)
{
    disp_clone_t *c = disp_clone_new(OFFICE, NULL, 0);
    ck_assert_int_eq(disp_clone_poll(c, 100), DISP_WHY_START);
    disp_update_t u;
    for (uint64_t s = 1; s <= DISP_CLONE_PENDING_MAX + 10; s++)
        s_feed(c, s_event(s, "booking", NULL, "PASSPORT", 0), 200, &u);
    ck_assert_uint_eq(disp_clone_stats(c)->overflow, 10);
    fl_msg_t *snap = s_empty_snapshot(0);
    disp_clone_snapshot(c, snap, 300, &u);
    fl_msg_destroy(&snap);
    ck_assert_uint_eq(disp_clone_board(c)->seq, DISP_CLONE_PENDING_MAX);
    /* the next live event shows the hole */
    s_feed(c, s_event(DISP_CLONE_PENDING_MAX + 11, "booking", NULL, "PASSPORT", 0), 400, &u);
    ck_assert_int_eq(disp_clone_phase(c), DISP_CLONE_RESYNC);
    ck_assert_int_eq(disp_clone_poll(c, 400), DISP_WHY_GAP);
    disp_clone_destroy(&c);
}
END_TEST

START_TEST(test_a_stale_board_says_so_after_a_second_of_resync)
{
    disp_clone_t *c = s_live_clone(1, NULL);
    disp_update_t u;
    s_feed(c, s_event(3, "booking", NULL, "PASSPORT", 0), 1000, &u);
    ck_assert_str_eq(disp_clone_status(c, 1500), "live");
    ck_assert_str_eq(disp_clone_status(c, 2001), "stale");
    disp_clone_destroy(&c);
}
END_TEST

/* ---- the terminal and the page's files ---- */

START_TEST(test_block_letters_are_five_lines_tall)
{
    char out[4096];
    size_t n = disp_tty_big("P-1", out, sizeof out);
    ck_assert_uint_gt(n, 0);
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += out[i] == '\n';
    ck_assert_int_eq(lines, 5);
    ck_assert_ptr_nonnull(strstr(out, "\xe2\x96\x88"));
    ck_assert_uint_eq(disp_tty_big("P-001 > 12", out, 10), 0);      /* does not fit: nothing */
}
END_TEST

START_TEST(test_the_tty_frame_shows_the_call_and_its_announcement)
{
    char path[] = "/tmp/foleni-tty-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    static const call_t serving[] = { { "P-042", "PASSPORT", 3, 1, 0 } };
    fl_msg_t *snap = s_snapshot(2, serving, 1, serving, 1, NULL, 0);
    disp_board_t *b = calloc(1, sizeof *b);
    disp_board_init(b, OFFICE);
    disp_board_from_snapshot(b, snap);
    fl_msg_destroy(&snap);
    disp_tty_t *t = disp_tty_new(fd, "sw,en");
    disp_tty_announce(t, &b->serving[0]);
    disp_tty_draw(t, b, NULL, "live", 1796104800);          /* 09:00 in Nairobi */
    disp_tty_destroy(&t);
    char text[8192] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    ck_assert_int_gt(n, 0);
    text[n] = '\0';
    close(fd);
    unlink(path);
    ck_assert_ptr_nonnull(strstr(text, "09:00"));
    ck_assert_ptr_nonnull(strstr(text, "SASA ANAHUDUMIWA · NOW SERVING"));
    ck_assert_ptr_nonnull(strstr(text, "P-042 -> 3"));
    ck_assert_ptr_nonnull(strstr(text, "Tiketi P 0 4 2, dirisha 3  ·  Ticket P 0 4 2, counter 3"));
    free(b);
}
END_TEST

START_TEST(test_the_page_is_found_in_the_source_tree_and_loaded)
{
    char dir[DISP_WWW_PATH_MAX];
    ck_assert_int_eq(disp_www_locate(NULL, dir), 0);        /* from tests/.. or the binary's tree */
    fl_error_t err;
    disp_www_t *w = disp_www_load(dir, &err);
    ck_assert_msg(w != NULL, "%s", err.message);
    const disp_www_file_t *page = disp_www_get(w, "board.html");
    ck_assert_ptr_nonnull(page);
    ck_assert_str_eq(page->type, "text/html; charset=utf-8");
    ck_assert_str_eq(disp_www_get(w, "board.js")->type, "text/javascript; charset=utf-8");
    ck_assert_str_eq(disp_www_get(w, "board.css")->type, "text/css; charset=utf-8");
    ck_assert_ptr_null(disp_www_get(w, "../Makefile"));
    disp_www_destroy(&w);
    ck_assert_int_eq(disp_www_locate("/nonexistent", dir), FL_E_NOT_FOUND);
    ck_assert_ptr_null(disp_www_load("/nonexistent", &err));
    ck_assert_int_eq(err.code, FL_E_IO);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("display_clone");
    TCase *board = tcase_create("board");
    tcase_add_test(board, test_a_call_is_spelled_out_in_english_and_kiswahili);
    tcase_add_test(board, test_each_event_kind_changes_the_board_as_a_snapshot_would);
    tcase_add_test(board, test_recent_calls_keep_as_many_as_a_snapshot);
    tcase_add_test(board, test_the_board_json_carries_what_the_page_shows);
    suite_add_tcase(s, board);
    TCase *clone = tcase_create("clone");
    tcase_add_test(clone, test_events_during_the_first_snapshot_are_kept_and_only_newer_ones_applied);
    tcase_add_test(clone, test_an_event_already_in_the_board_is_ignored);
    tcase_add_test(clone, test_a_gap_in_seq_stops_updates_until_a_new_snapshot);
    tcase_add_test(clone, test_a_silent_bus_gets_a_fresh_snapshot);
    tcase_add_test(clone, test_a_burst_of_calls_gets_one_settle_snapshot);
    tcase_add_test(clone, test_a_call_seen_live_and_again_after_a_snapshot_is_announced_once);
    tcase_add_test(clone, test_a_seq_that_goes_backwards_gets_a_snapshot_that_replaces_the_board);
    tcase_add_test(clone, test_a_failed_snapshot_is_asked_again_after_a_growing_backoff);
    tcase_add_test(clone, test_too_many_events_during_a_snapshot_end_in_another_snapshot);
    tcase_add_test(clone, test_a_stale_board_says_so_after_a_second_of_resync);
    suite_add_tcase(s, clone);
    TCase *misc = tcase_create("tty_www");
    tcase_add_test(misc, test_block_letters_are_five_lines_tall);
    tcase_add_test(misc, test_the_tty_frame_shows_the_call_and_its_announcement);
    tcase_add_test(misc, test_the_page_is_found_in_the_source_tree_and_loaded);
    suite_add_tcase(s, misc);
    return s;
}
