/*  test_counter_view.c — the counter client's rules, without processes: the
 *  requests each action makes, the sentences and exit codes its outcomes
 *  give, the command line, the picture of the office kept from replies and
 *  events (counter/view.h), and the transfer menu.
 *
 *  Messages are written as JSON and read with fl_msg_from_json, so each one
 *  is a message the scheduler could really send.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "counter/action.h"
#include "counter/options.h"
#include "counter/screen.h"
#include "counter/view.h"
#include "libfoleni/json.h"
#include "tests/testutil.h"

/* A message from JSON; fails the test when Foleni would not accept it. */
static fl_msg_t *
s_msg(const char *json)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    ck_assert_msg(j != NULL, "test JSON: %s in %s", jerr.text, json);
    fl_error_t err;
    fl_msg_t *m = fl_msg_from_json(j, &err);
    json_decref(j);
    ck_assert_msg(m != NULL, "test message: %s (%s) in %s", err.message, err.field, json);
    return m;
}

/* ---- actions ---- */

START_TEST(test_every_action_request_carries_rid_office_counter_and_token)
{
    const char *services[] = { "IDCARD", "BIRTH" };
    ctr_args_t args = { .office = "NBIGPO", .counter = 3, .token = "tok", .services = services, .nservices = 2,
                        .to_service = "BIRTH", .to_counter = 0 };
    for (int a = 0; a < CTR_ACT__COUNT; a++) {
        fl_error_t err;
        fl_msg_t *m = ctr_action_request((ctr_action_t) a, &args, "rid-00000001", &err);
        ck_assert_msg(m != NULL, "%s: %s", ctr_action_spec(a)->command, err.message);
        ck_assert_int_eq(fl_msg_type(m), ctr_action_spec(a)->request);
        ck_assert(fl_schema_is_mutating(fl_msg_type(m)));
        /* it survives the codec both ways */
        msgpack_sbuffer buf;
        ck_assert_int_eq(ctr_encode(m, &buf, &err), 0);
        fl_msg_t *back = fl_msg_decode(buf.data, buf.size, &err);
        msgpack_sbuffer_destroy(&buf);
        ck_assert_msg(back != NULL, "%s: %s", ctr_action_spec(a)->command, err.message);
        ck_assert_str_eq(fl_msg_str(back, FL_F_RID), "rid-00000001");
        ck_assert_str_eq(fl_msg_str(back, FL_F_OFFICE), "NBIGPO");
        ck_assert_uint_eq(fl_msg_uint(back, FL_F_COUNTER), 3);
        ck_assert_str_eq(fl_msg_str(back, FL_F_TOKEN), "tok");
        if (a == CTR_ACT_OPEN)
            ck_assert_uint_eq(fl_msg_count(back, FL_F_SERVICE_CODES), 2);
        if (a == CTR_ACT_TRANSFER)
            ck_assert_str_eq(fl_msg_str(back, FL_F_TO_SERVICE), "BIRTH");
        fl_msg_destroy(&back);
        fl_msg_destroy(&m);
    }
}
END_TEST

START_TEST(test_action_requests_refuse_what_the_protocol_refuses)
{
    fl_error_t err;
    ctr_args_t none = { .office = "NBIGPO", .counter = 3 };
    ck_assert_ptr_null(ctr_action_request(CTR_ACT_OPEN, &none, "rid-00000001", &err));
    ck_assert_int_eq(err.code, FL_E_MISSING);
    ck_assert_ptr_null(ctr_action_request(CTR_ACT_TRANSFER, &none, "rid-00000001", &err));
    ck_assert_int_eq(err.code, FL_E_MISSING);
    const char *bad[] = { "id-card" };
    ctr_args_t lower = { .office = "NBIGPO", .counter = 3, .services = bad, .nservices = 1 };
    ck_assert_ptr_null(ctr_action_request(CTR_ACT_OPEN, &lower, "rid-00000001", &err));
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.field, "service_codes");
    ctr_args_t far = { .office = "NBIGPO", .counter = 1000 };
    ck_assert_ptr_null(ctr_action_request(CTR_ACT_NEXT, &far, "rid-00000001", &err));
    ck_assert_str_eq(err.field, "counter");
    ck_assert_ptr_null(ctr_action_request(CTR_ACT_NEXT, &none, "short", &err));
    ck_assert_str_eq(err.field, "rid");
    /* no token: a CURVE counter is known by its key */
    fl_msg_t *m = ctr_action_request(CTR_ACT_NEXT, &none, "rid-00000001", &err);
    ck_assert_ptr_nonnull(m);
    ck_assert(!fl_msg_has(m, FL_F_TOKEN));
    fl_msg_destroy(&m);
}
END_TEST

START_TEST(test_action_names_and_keys)
{
    ck_assert_int_eq(ctr_action_by_name("next"), CTR_ACT_NEXT);
    ck_assert_int_eq(ctr_action_by_name("noshow"), CTR_ACT_NOSHOW);
    ck_assert_int_eq(ctr_action_by_name("no-show"), CTR_ACT_NOSHOW);
    ck_assert_int_eq(ctr_action_by_name("status"), -1);
    ck_assert_int_eq(ctr_action_by_name(NULL), -1);
    static const struct { int key, action; } keys[] = {
        { 'N', CTR_ACT_NEXT }, { 'n', CTR_ACT_NEXT }, { 'R', CTR_ACT_RECALL }, { 's', CTR_ACT_START },
        { 'D', CTR_ACT_DONE }, { 'x', CTR_ACT_NOSHOW }, { 'T', CTR_ACT_TRANSFER }, { 'p', CTR_ACT_PAUSE },
        { 'C', CTR_ACT_CLOSE }, { 'O', -1 }, { 'Q', -1 }, { 0, -1 }, { 0x263, -1 },
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(ctr_action_by_key(keys[i].key) == keys[i].action, "key %#x", keys[i].key);
}
END_TEST

START_TEST(test_outcomes_read_as_sentences)
{
    static const char *ticket = "{\"type\":\"ticket\",\"office\":\"NBIGPO\",\"service\":\"%s\",\"ticket\":\"I-042\","
                                "\"day\":20261201,\"state\":\"%s\",\"priority\":\"none\",\"issued\":1796104800,"
                                "\"counter\":3}";
    static const struct {
        ctr_action_t action;
        const char *service, *state;
        const char *to_service;
        unsigned to_counter;
        const char *want;
    } cases[] = {
        { CTR_ACT_NEXT, "IDCARD", "called", NULL, 0, "Ticket I-042 called to counter 3" },
        { CTR_ACT_RECALL, "IDCARD", "called", NULL, 0, "Ticket I-042 called again to counter 3" },
        { CTR_ACT_START, "IDCARD", "serving", NULL, 0, "Serving ticket I-042 at counter 3" },
        { CTR_ACT_DONE, "IDCARD", "done", NULL, 0, "Ticket I-042 done" },
        { CTR_ACT_NOSHOW, "IDCARD", "no_show", NULL, 0, "Ticket I-042 marked no-show" },
        { CTR_ACT_TRANSFER, "BIRTH", "waiting", "BIRTH", 0, "Ticket I-042 transferred to BIRTH" },
        { CTR_ACT_TRANSFER, "IDCARD", "waiting", NULL, 5, "Ticket I-042 transferred to counter 5" },
        { CTR_ACT_TRANSFER, "BIRTH", "waiting", "BIRTH", 5, "Ticket I-042 transferred to BIRTH at counter 5" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512], out[CTR_SENTENCE_MAX];
        snprintf(json, sizeof json, ticket, cases[i].service, cases[i].state);
        fl_msg_t *m = s_msg(json);
        ctr_args_t args = { .office = "NBIGPO", .counter = 3, .to_service = cases[i].to_service,
                            .to_counter = cases[i].to_counter };
        ctr_action_describe(cases[i].action, &args, m, out, sizeof out);
        ck_assert_str_eq(out, cases[i].want);
        fl_msg_destroy(&m);
    }
    fl_msg_t *open = s_msg("{\"type\":\"counter_state\",\"office\":\"NBIGPO\",\"counter\":3,\"state\":\"open\","
                           "\"service_codes\":[\"IDCARD\",\"BIRTH\"]}");
    char out[CTR_SENTENCE_MAX];
    ctr_action_describe(CTR_ACT_OPEN, NULL, open, out, sizeof out);
    ck_assert_str_eq(out, "Counter 3 open for IDCARD, BIRTH");
    fl_msg_destroy(&open);
    fl_msg_t *paused = s_msg("{\"type\":\"counter_state\",\"office\":\"NBIGPO\",\"counter\":3,\"state\":\"paused\","
                             "\"service_codes\":[\"IDCARD\"]}");
    ctr_action_describe(CTR_ACT_PAUSE, NULL, paused, out, 8);       /* cut, never overflowed */
    ck_assert_str_eq(out, "Counter");
    fl_msg_destroy(&paused);
}
END_TEST

START_TEST(test_error_codes_map_to_documented_exit_codes)
{
    static const struct { const char *code; int exit_code; } cases[] = {
        { "forbidden", CTR_EXIT_FORBIDDEN }, { "empty", CTR_EXIT_EMPTY }, { "unavailable", CTR_EXIT_NO_ANSWER },
        { "conflict", CTR_EXIT_REFUSED }, { "closed", CTR_EXIT_REFUSED }, { "not_found", CTR_EXIT_REFUSED },
        { "something_new", CTR_EXIT_REFUSED }, { NULL, CTR_EXIT_REFUSED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_int_eq(ctr_exit_for_error(cases[i].code), cases[i].exit_code);
    ck_assert_int_eq(CTR_EXIT_OK, 0);
    ck_assert_int_eq(CTR_EXIT_USAGE, 2);
}
END_TEST

/* ---- the command line ---- */

static int
s_parse(ctr_options_t *o, fl_error_t *err, const char *line)
{
    static char words[512];
    snprintf(words, sizeof words, "foleni-counter %s", line);
    char *argv[32];
    int argc = 0;
    for (char *w = strtok(words, " "); w && argc < 31; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc] = NULL;
    return ctr_options_parse(o, argc, argv, err);
}

START_TEST(test_options_commands_services_and_environment)
{
    setenv("FOLENI_BROKER", "tcp://10.0.0.1:5555", 1);
    setenv("FOLENI_EVENTS_OUT", "tcp://10.0.0.1:5557", 1);
    setenv("FOLENI_COUNTER_TOKEN", "from-env", 1);
    ctr_options_t o;
    fl_error_t err;
    ck_assert_int_eq(s_parse(&o, &err, "--office nbigpo --counter 3"), 0);
    ck_assert_str_eq(o.office, "NBIGPO");
    ck_assert_uint_eq(o.counter, 3);
    ck_assert_ptr_null(o.command);                      /* the full-screen mode */
    ck_assert_str_eq(o.broker, "tcp://10.0.0.1:5555");
    ck_assert_str_eq(o.events, "tcp://10.0.0.1:5557");
    ck_assert_str_eq(o.token, "from-env");
    ck_assert_int_eq(s_parse(&o, &err, "-o NBIGPO -c 3 -e tcp://h:1 --token t open passport idcard"), 0);
    ck_assert_str_eq(o.command, "open");
    ck_assert_int_eq(o.action, CTR_ACT_OPEN);
    ck_assert_str_eq(o.broker, "tcp://h:1");
    ck_assert_str_eq(o.token, "t");
    ck_assert_uint_eq(o.nservices, 2);
    ck_assert_str_eq(o.services[0], "PASSPORT");
    ck_assert_str_eq(o.services[1], "IDCARD");
    ck_assert_int_eq(s_parse(&o, &err, "--office NBIGPO --counter 3 --services passport,birth open"), 0);
    ck_assert_uint_eq(o.nservices, 2);
    ck_assert_str_eq(o.services[1], "BIRTH");
    /* options after the command */
    ck_assert_int_eq(s_parse(&o, &err, "--office NBIGPO --counter 3 transfer --to-counter 5 --json"), 0);
    ck_assert_int_eq(o.action, CTR_ACT_TRANSFER);
    ck_assert_uint_eq(o.to_counter, 5);
    ck_assert(o.json);
    ck_assert_int_eq(s_parse(&o, &err, "--office NBIGPO --counter 3 status"), 0);
    ck_assert_int_eq(o.action, -1);
    ck_assert_str_eq(o.command, "status");
    ck_assert_int_eq(s_parse(&o, &err, "--office NBIGPO --counter 3 done --ticket I-042 --rid abcdefgh01"), 0);
    ck_assert_str_eq(o.ticket, "I-042");
    ck_assert_str_eq(o.rid, "abcdefgh01");
    ck_assert_int_eq(s_parse(&o, &err, "--help"), 0);
    ck_assert(o.help);
    static const char *refused[] = {
        "--counter 3 next", "--office NBIGPO next", "--office NBIGPO --counter 1000 next",
        "--office NBIGPO --counter x next", "--office NBIGPO --counter 3 fly", "--office NBIGPO --counter 3 transfer",
        "--office NBIGPO --counter 3 next --to-service BIRTH", "--office NBIGPO --counter 3 next extra",
        "--office NBIGPO --counter 3 open TOOLONGCODE", "--office NBIGPO --counter 3 --timeout-ms 0 next",
        "--office NBIGPO --counter 3 --rid abc next", "--office NBIGPO --counter 3 --rid abcdefgh01 status",
        "--office NBIGPO --counter 3 --ticket I-1 next", "--office NBIGPO --counter", "--office N-B --counter 3",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_msg(s_parse(&o, &err, refused[i]) == FL_E_INVALID, "accepted: %s", refused[i]);
        ck_assert_msg(err.message[0], "no reason for: %s", refused[i]);
    }
    unsetenv("FOLENI_BROKER");
    unsetenv("FOLENI_EVENTS_OUT");
    unsetenv("FOLENI_COUNTER_TOKEN");
    ck_assert_int_eq(s_parse(&o, &err, "--office NBIGPO --counter 3"), 0);
    ck_assert_str_eq(o.broker, CTR_DEFAULT_BROKER);
    ck_assert_str_eq(o.events, CTR_DEFAULT_EVENTS);
    ck_assert_str_eq(o.token, "");
}
END_TEST

/* ---- the picture of the office ---- */

static const char *s_services_json =
    "{\"type\":\"service_list\",\"office\":\"NBIGPO\",\"services\":["
    "{\"service\":\"PASSPORT\",\"prefix\":\"P\",\"name\":\"Passports\",\"slot_minutes\":15,\"capacity\":4,"
    "\"service_minutes\":12},"
    "{\"service\":\"IDCARD\",\"prefix\":\"I\",\"name\":\"National ID cards\",\"slot_minutes\":15,\"capacity\":6,"
    "\"service_minutes\":10},"
    "{\"service\":\"BIRTH\",\"prefix\":\"B\",\"name\":\"Birth certificates\",\"slot_minutes\":10,\"capacity\":4,"
    "\"service_minutes\":8}],"
    "\"counters\":[{\"counter\":2,\"name\":\"Dirisha 2\",\"service_codes\":[\"PASSPORT\",\"IDCARD\"],"
    "\"state\":\"open\"},"
    "{\"counter\":3,\"name\":\"Dirisha 3\",\"service_codes\":[\"IDCARD\",\"BIRTH\"],\"state\":\"open\"}]}";

/* A board at seq with I-001 served at counter `at_counter` (0: none). */
static fl_msg_t *
s_board(uint64_t seq, unsigned at_counter, unsigned idcard_waiting)
{
    char json[1024], serving[256] = "";
    if (at_counter)
        snprintf(serving, sizeof serving, "{\"ticket\":\"I-001\",\"counter\":%u,\"service\":\"IDCARD\","
                 "\"at\":1796104800,\"calls\":1}", at_counter);
    snprintf(json, sizeof json,
             "{\"type\":\"board\",\"office\":\"NBIGPO\",\"seq\":%llu,\"at\":1796104860,\"serving\":[%s],"
             "\"recent\":[%s],\"queues\":[{\"service\":\"IDCARD\",\"waiting\":%u,\"wait_s\":600,"
             "\"open_counters\":2},{\"service\":\"BIRTH\",\"waiting\":0,\"wait_s\":0,\"open_counters\":1}]}",
             (unsigned long long) seq, serving, serving, idcard_waiting);
    return s_msg(json);
}

static fl_msg_t *
s_event(uint64_t seq, const char *kind, const char *ticket, unsigned counter, int64_t at)
{
    char json[512], by[32] = "";
    if (counter)
        snprintf(by, sizeof by, ",\"counter\":%u", counter);
    snprintf(json, sizeof json, "{\"type\":\"event\",\"office\":\"NBIGPO\",\"seq\":%llu,\"at\":%lld,"
             "\"kind\":\"%s\",\"service\":\"IDCARD\",\"ticket\":\"%s\"%s}",
             (unsigned long long) seq, (long long) at, kind, ticket, by);
    return s_msg(json);
}

/* Apply and destroy. */
static bool
s_apply_event(ctr_view_t *v, fl_msg_t *e, int64_t mono)
{
    bool refresh = ctr_view_apply_event(v, e, mono);
    fl_msg_destroy(&e);
    return refresh;
}

static ctr_view_t *
s_view(void)
{
    ctr_view_t *v = ctr_view_new("NBIGPO", 3);
    ck_assert_ptr_nonnull(v);
    fl_msg_t *list = s_msg(s_services_json);
    ck_assert_int_eq(ctr_view_apply_services(v, list), 0);
    fl_msg_destroy(&list);
    return v;
}

START_TEST(test_view_takes_services_counters_and_this_counters_state)
{
    ctr_view_t *v = s_view();
    ck_assert_str_eq(v->counter_name, "Dirisha 3");
    ck_assert_str_eq(v->state, "open");
    ck_assert_uint_eq(v->nserves, 2);
    ck_assert_uint_eq(v->nservices, 3);
    ck_assert(!ctr_view_service(v, "PASSPORT")->mine);
    ck_assert(ctr_view_service(v, "IDCARD")->mine && ctr_view_service(v, "BIRTH")->mine);
    ck_assert_uint_eq(v->ncounters, 1);                 /* the others only */
    ck_assert_uint_eq(v->counters[0].number, 2);
    ck_assert_str_eq(v->counters[0].serves, "PASSPORT, IDCARD");
    char text[64];
    ctr_view_serves_text(v, text, sizeof text);
    ck_assert_str_eq(text, "IDCARD, BIRTH");
    ctr_view_t *absent = ctr_view_new("NBIGPO", 9);
    fl_msg_t *list = s_msg(s_services_json);
    ck_assert_int_eq(ctr_view_apply_services(absent, list), FL_E_NOT_FOUND);
    fl_msg_destroy(&list);
    ctr_view_destroy(&absent);
    ctr_view_destroy(&v);
    ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_view_board_gives_queues_calls_and_the_ticket_in_hand)
{
    ctr_view_t *v = s_view();
    fl_msg_t *b = s_board(10, 3, 4);
    ctr_view_apply_board(v, b, 1000);
    fl_msg_destroy(&b);
    ck_assert(v->have_board);
    ck_assert_uint_eq(v->seq, 10);
    ck_assert_uint_eq(ctr_view_service(v, "IDCARD")->waiting, 4);
    ck_assert_uint_eq(ctr_view_service(v, "IDCARD")->wait_s, 600);
    ck_assert(!ctr_view_service(v, "PASSPORT")->has_queue);
    ck_assert_int_eq(v->current.state, CTR_TICKET_IN_HAND);     /* a board cannot say called or serving */
    ck_assert_str_eq(v->current.ticket, "I-001");
    ck_assert_uint_eq(v->nrecent, 1);
    /* an older board changes nothing */
    b = s_board(9, 0, 7);
    ctr_view_apply_board(v, b, 2000);
    fl_msg_destroy(&b);
    ck_assert_uint_eq(ctr_view_service(v, "IDCARD")->waiting, 4);
    ck_assert_str_eq(v->current.ticket, "I-001");
    /* a newer one without this counter: nothing in hand */
    b = s_board(11, 2, 3);
    ctr_view_apply_board(v, b, 3000);
    fl_msg_destroy(&b);
    ck_assert_int_eq(v->current.state, CTR_TICKET_NONE);
    ck_assert_uint_eq(ctr_view_service(v, "IDCARD")->waiting, 3);
    ctr_view_destroy(&v);
}
END_TEST

START_TEST(test_view_events_newer_than_the_board_move_the_ticket_older_ones_do_not)
{
    ctr_view_t *v = s_view();
    fl_msg_t *b = s_board(10, 0, 4);
    ctr_view_apply_board(v, b, 1000);
    fl_msg_destroy(&b);
    /* an old call (already in the board, which shows nothing here) resurrects nothing */
    ck_assert(!s_apply_event(v, s_event(9, "call", "I-000", 3, 1796104700), 1000));
    ck_assert_int_eq(v->current.state, CTR_TICKET_NONE);
    ck_assert(s_apply_event(v, s_event(11, "call", "I-001", 3, 1796104870), 1100));
    ck_assert_int_eq(v->current.state, CTR_TICKET_CALLED);
    ck_assert_str_eq(v->current.ticket, "I-001");
    ck_assert_int_eq(v->current.called, 1796104870);
    ck_assert_uint_eq(v->seq, 11);
    ck_assert_str_eq(v->recent[0].ticket, "I-001");
    ck_assert(s_apply_event(v, s_event(12, "recall", "I-001", 3, 1796104880), 1200));
    ck_assert_uint_eq(v->current.calls, 2);
    /* another counter's call: recent calls, not this counter's ticket */
    ck_assert(s_apply_event(v, s_event(13, "call", "I-002", 2, 1796104885), 1300));
    ck_assert_str_eq(v->current.ticket, "I-001");
    ck_assert_str_eq(v->recent[0].ticket, "I-002");
    ck_assert_uint_eq(v->recent[0].counter, 2);
    /* a board newer than the call arrives, then the start event it already includes */
    b = s_board(14, 3, 2);
    ctr_view_apply_board(v, b, 1400);
    fl_msg_destroy(&b);
    ck_assert_int_eq(v->current.state, CTR_TICKET_CALLED);      /* the same ticket keeps what we knew */
    ck_assert(!s_apply_event(v, s_event(14, "start", "I-001", 3, 1796104890), 1500));
    ck_assert_int_eq(v->current.state, CTR_TICKET_SERVING);
    ck_assert_int_eq(v->current.started, 1796104890);
    ck_assert(s_apply_event(v, s_event(15, "done", "I-001", 3, 1796104990), 1600));
    ck_assert_int_eq(v->current.state, CTR_TICKET_NONE);
    /* the counter's own state, and another office's events */
    fl_msg_t *e = s_msg("{\"type\":\"event\",\"office\":\"NBIGPO\",\"seq\":16,\"at\":1796105000,\"kind\":\"counter\","
                        "\"counter\":3,\"state\":\"paused\"}");
    ck_assert(s_apply_event(v, e, 1700));
    ck_assert_str_eq(v->state, "paused");
    e = s_msg("{\"type\":\"event\",\"office\":\"MSAGPO\",\"seq\":99,\"at\":1796105000,\"kind\":\"call\","
              "\"ticket\":\"I-001\",\"counter\":3,\"service\":\"IDCARD\"}");
    ck_assert(!s_apply_event(v, e, 1800));
    ck_assert_uint_eq(v->seq, 16);
    ctr_view_destroy(&v);
}
END_TEST

START_TEST(test_view_replies_to_the_clerks_actions)
{
    ctr_view_t *v = s_view();
    fl_msg_t *called = s_msg("{\"type\":\"ticket\",\"office\":\"NBIGPO\",\"service\":\"IDCARD\",\"ticket\":\"I-007\","
                             "\"day\":20261201,\"state\":\"called\",\"priority\":\"none\",\"issued\":1796104800,"
                             "\"counter\":3,\"called\":1796105000}");
    ctr_view_apply_reply(v, CTR_ACT_NEXT, called, 5000);
    ck_assert_int_eq(v->current.state, CTR_TICKET_CALLED);
    ck_assert_str_eq(v->current.ticket, "I-007");
    ck_assert_int_eq(ctr_view_server_now(v, 5000), 1796105000);     /* called just now, by its clock */
    ctr_view_apply_reply(v, CTR_ACT_START, called, 65000);
    ck_assert_int_eq(v->current.state, CTR_TICKET_SERVING);
    ck_assert_int_eq(v->current.started, 1796105060);
    ctr_view_apply_reply(v, CTR_ACT_DONE, called, 70000);
    ck_assert_int_eq(v->current.state, CTR_TICKET_NONE);
    fl_msg_destroy(&called);
    fl_msg_t *state = s_msg("{\"type\":\"counter_state\",\"office\":\"NBIGPO\",\"counter\":3,\"state\":\"paused\","
                            "\"service_codes\":[\"BIRTH\"]}");
    ctr_view_apply_reply(v, CTR_ACT_PAUSE, state, 71000);
    fl_msg_destroy(&state);
    ck_assert_str_eq(v->state, "paused");
    ck_assert_uint_eq(v->nserves, 1);
    ck_assert(!ctr_view_service(v, "IDCARD")->mine);
    ctr_view_destroy(&v);
}
END_TEST

START_TEST(test_view_clock_counts_on_from_the_scheduler_and_never_back)
{
    ctr_view_t *v = ctr_view_new("NBIGPO", 3);
    ck_assert_int_eq(ctr_view_server_now(v, 5000), 0);          /* nothing heard yet */
    fl_msg_t *b = s_board(1, 0, 0);                             /* at 1796104860 */
    ctr_view_apply_board(v, b, 10000);
    fl_msg_destroy(&b);
    ck_assert_int_eq(ctr_view_server_now(v, 13500), 1796104863);
    ck_assert(s_apply_event(v, s_event(2, "ticket", "I-001", 0, 1796104861), 14000));  /* behind: ignored */
    ck_assert_int_eq(ctr_view_server_now(v, 14000), 1796104864);
    ck_assert(s_apply_event(v, s_event(3, "ticket", "I-002", 0, 1796104900), 15000));  /* ahead: taken */
    ck_assert_int_eq(ctr_view_server_now(v, 15000), 1796104900);
    char text[16];
    ctr_view_clock(v, 1796104800, text, sizeof text);
    ck_assert_str_eq(text, "06:00");                            /* UTC until the zone is known */
    fl_msg_t *offices = s_msg("{\"type\":\"office_list\",\"offices\":[{\"office\":\"NBIGPO\",\"name\":\"GPO\","
                              "\"tz\":\"Africa/Nairobi\"}]}");
    ck_assert_int_eq(ctr_view_apply_offices(v, offices), 0);
    fl_msg_destroy(&offices);
    ck_assert_str_eq(v->office_name, "GPO");
    ctr_view_clock(v, 1796104800, text, sizeof text);
    ck_assert_str_eq(text, "09:00");
    static const struct { int64_t s; const char *want; } durations[] = {
        { -5, "0:00" }, { 0, "0:00" }, { 59, "0:59" }, { 61, "1:01" }, { 3599, "59:59" }, { 3600, "1:00:00" },
        { 86399, "23:59:59" },
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        ctr_view_duration(durations[i].s, text, sizeof text);
        ck_assert_str_eq(text, durations[i].want);
    }
    ctr_view_destroy(&v);
}
END_TEST

START_TEST(test_transfer_menu_lists_other_services_then_other_counters)
{
    ctr_view_t *v = s_view();
    fl_msg_t *e = s_event(1, "call", "I-001", 3, 1796104870);
    ctr_view_apply_event(v, e, 1000);
    fl_msg_destroy(&e);
    ctr_menu_t menu;
    ctr_menu_build(&menu, v);
    ck_assert_int_eq(menu.n, 3);                        /* PASSPORT, BIRTH, counter 2 */
    ck_assert_int_eq(menu.items[0].key, '1');
    ck_assert_str_eq(menu.items[0].to_service, "PASSPORT");
    ck_assert_str_eq(menu.items[1].to_service, "BIRTH");
    ck_assert_uint_eq(menu.items[2].to_counter, 2);
    ck_assert_str_eq(menu.items[2].to_service, "");
    ck_assert_ptr_eq(ctr_menu_find(&menu, '3'), &menu.items[2]);
    ck_assert_ptr_null(ctr_menu_find(&menu, '4'));
    ck_assert_ptr_null(ctr_menu_find(&menu, 0x1b));
    ctr_view_destroy(&v);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("counter_view");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_every_action_request_carries_rid_office_counter_and_token);
    tcase_add_test(tc, test_action_requests_refuse_what_the_protocol_refuses);
    tcase_add_test(tc, test_action_names_and_keys);
    tcase_add_test(tc, test_outcomes_read_as_sentences);
    tcase_add_test(tc, test_error_codes_map_to_documented_exit_codes);
    tcase_add_test(tc, test_options_commands_services_and_environment);
    tcase_add_test(tc, test_view_takes_services_counters_and_this_counters_state);
    tcase_add_test(tc, test_view_board_gives_queues_calls_and_the_ticket_in_hand);
    tcase_add_test(tc, test_view_events_newer_than_the_board_move_the_ticket_older_ones_do_not);
    tcase_add_test(tc, test_view_replies_to_the_clerks_actions);
    tcase_add_test(tc, test_view_clock_counts_on_from_the_scheduler_and_never_back);
    tcase_add_test(tc, test_transfer_menu_lists_other_services_then_other_counters);
    suite_add_tcase(s, tc);
    return s;
}
