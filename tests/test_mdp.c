/*  test_mdp.c — MDP/0.2 framing: every builder round-trips through its parser,
 *  every malformed message is refused with the right code and left untouched,
 *  garbage never crashes a parser, and the frames survive real ZeroMQ sockets.
 */
#include "libfoleni/mdp.h"
#include "tests/testutil.h"

#include <stdint.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------------- */

/* A body of one frame holding `text` (without its NUL). */
static zmsg_t *
s_body(const char *text)
{
    zmsg_t *body = zmsg_new();
    zmsg_addmem(body, text, strlen(text));
    return body;
}

/* True if frame holds exactly `text`. */
static bool
s_frame_is(zframe_t *frame, const char *text)
{
    return frame && zframe_size(frame) == strlen(text)
        && memcmp(zframe_data(frame), text, strlen(text)) == 0;
}

/* The frame at index i of msg, or NULL. */
static zframe_t *
s_frame_at(zmsg_t *msg, size_t i)
{
    zframe_t *frame = zmsg_first(msg);
    while (frame && i-- > 0)
        frame = zmsg_next(msg);
    return frame;
}

/* A frame of `size` bytes of 'a'. */
static zframe_t *
s_filled(size_t size)
{
    zframe_t *frame = zframe_new(NULL, size);
    if (size)
        memset(zframe_data(frame), 'a', size);
    return frame;
}

/* Open ZeroMQ only inside a test body: Check forks each test.  No CZMQ signal
 * handlers, and no linger, so nothing blocks at exit. */
static void
s_zmq_setup(void)
{
    zsys_handler_set(NULL);
    zsys_init();
    zsys_set_linger(0);
}

static zsock_t *
s_socket(int type)
{
    zsock_t *sock = zsock_new(type);
    ck_assert_ptr_nonnull(sock);
    zsock_set_linger(sock, 0);
    zsock_set_rcvtimeo(sock, 5000);     /* a lost message fails the test, never hangs it */
    zsock_set_sndtimeo(sock, 5000);
    return sock;
}

/* ---- round trips ----------------------------------------------------------- */

START_TEST(test_client_request_round_trips)
{
    zmsg_t *body = s_body("ping");
    zmsg_t *msg = fl_mdp_client_request("foleni.nbo", &body);
    ck_assert_ptr_null(body);                           /* consumed */
    ck_assert_ptr_nonnull(msg);
    ck_assert_uint_eq(zmsg_size(msg), 4);
    ck_assert(s_frame_is(s_frame_at(msg, 0), "MDPC02"));
    ck_assert(s_frame_is(s_frame_at(msg, 1), "\x01"));
    ck_assert(s_frame_is(s_frame_at(msg, 2), "foleni.nbo"));
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_CLIENT);

    fl_mdp_client_msg_t out;
    fl_error_t err;
    ck_assert_int_eq(fl_mdp_parse_client(msg, &out, &err), 0);
    ck_assert_int_eq(out.command, FL_MDP_CLIENT_REQUEST);
    ck_assert_str_eq(out.service, "foleni.nbo");
    ck_assert_uint_eq(zmsg_size(msg), 1);              /* only the body is left */
    ck_assert(s_frame_is(zmsg_first(msg), "ping"));
    zmsg_destroy(&msg);
}
END_TEST

START_TEST(test_broker_to_client_partial_and_final_round_trip)
{
    for (int final = 0; final <= 1; final++) {
        zmsg_t *body = s_body("pong");
        zmsg_t *msg = fl_mdp_broker_to_client("foleni.nbo", final, &body);
        ck_assert_ptr_null(body);
        ck_assert_ptr_nonnull(msg);
        ck_assert(s_frame_is(s_frame_at(msg, 1), final ? "\x03" : "\x02"));

        fl_mdp_client_msg_t out;
        ck_assert_int_eq(fl_mdp_parse_client(msg, &out, NULL), 0);
        ck_assert_int_eq(out.command, final ? FL_MDP_CLIENT_FINAL : FL_MDP_CLIENT_PARTIAL);
        ck_assert_str_eq(out.service, "foleni.nbo");
        ck_assert_uint_eq(zmsg_size(msg), 1);
        ck_assert(s_frame_is(zmsg_first(msg), "pong"));
        zmsg_destroy(&msg);
    }
}
END_TEST

START_TEST(test_worker_ready_round_trips)
{
    zmsg_t *msg = fl_mdp_worker_ready("foleni.nbo");
    ck_assert_ptr_nonnull(msg);
    ck_assert_uint_eq(zmsg_size(msg), 3);
    ck_assert(s_frame_is(s_frame_at(msg, 0), "MDPW02"));
    ck_assert(s_frame_is(s_frame_at(msg, 1), "\x01"));
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_WORKER);

    fl_mdp_worker_msg_t out;
    fl_error_t err;
    ck_assert_int_eq(fl_mdp_parse_worker(msg, &out, &err), 0);
    ck_assert_int_eq(out.command, FL_MDP_WORKER_READY);
    ck_assert_str_eq(out.service, "foleni.nbo");
    ck_assert_uint_eq(out.window, 0);                 /* a plain MDP/0.2 worker */
    ck_assert_ptr_null(out.address);
    ck_assert_uint_eq(zmsg_size(msg), 0);
    fl_mdp_worker_msg_reset(&out);
    zmsg_destroy(&msg);

    /* Foleni's extension: a fourth frame with the credit window */
    msg = fl_mdp_worker_ready_window("foleni.nbo", 256);
    ck_assert_uint_eq(zmsg_size(msg), 4);
    ck_assert_int_eq(fl_mdp_parse_worker(msg, &out, &err), 0);
    ck_assert_uint_eq(out.window, 256);
    ck_assert_uint_eq(zmsg_size(msg), 0);
    zmsg_destroy(&msg);
    ck_assert_ptr_null(fl_mdp_worker_ready_window("foleni.nbo", 0));
    ck_assert_ptr_null(fl_mdp_worker_ready_window("foleni.nbo", FL_MDP_WINDOW_MAX + 1));
    msg = fl_mdp_worker_ready_window("foleni.nbo", FL_MDP_WINDOW_MAX);
    ck_assert_int_eq(fl_mdp_parse_worker(msg, &out, &err), 0);
    ck_assert_uint_eq(out.window, FL_MDP_WINDOW_MAX);
    zmsg_destroy(&msg);
}
END_TEST

START_TEST(test_worker_heartbeat_and_disconnect_round_trip)
{
    zmsg_t *msgs[2] = { fl_mdp_worker_heartbeat(), fl_mdp_worker_disconnect() };
    const int want[2] = { FL_MDP_WORKER_HEARTBEAT, FL_MDP_WORKER_DISCONNECT };
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(msgs[i]);
        ck_assert_uint_eq(zmsg_size(msgs[i]), 2);
        fl_mdp_worker_msg_t out;
        ck_assert_int_eq(fl_mdp_parse_worker(msgs[i], &out, NULL), 0);
        ck_assert_int_eq(out.command, want[i]);
        ck_assert_str_eq(out.service, "");
        ck_assert_ptr_null(out.address);
        ck_assert_uint_eq(zmsg_size(msgs[i]), 0);
        zmsg_destroy(&msgs[i]);
    }
}
END_TEST

START_TEST(test_envelope_commands_round_trip_with_client_address)
{
    zframe_t *client = zframe_new("\x00\x6b\x8b\x45\x67", 5);     /* a libzmq-made id */
    for (int c = FL_MDP_WORKER_REQUEST; c <= FL_MDP_WORKER_FINAL; c++) {
        zmsg_t *body = s_body("payload");
        zmsg_t *msg = c == FL_MDP_WORKER_REQUEST ? fl_mdp_broker_to_worker_request(client, &body)
                    : c == FL_MDP_WORKER_PARTIAL ? fl_mdp_worker_partial(client, &body)
                                                 : fl_mdp_worker_final(client, &body);
        ck_assert_ptr_null(body);
        ck_assert_ptr_nonnull(msg);
        ck_assert_uint_eq(zmsg_size(msg), 5);
        ck_assert_uint_eq(zframe_size(s_frame_at(msg, 3)), 0);      /* delimiter */

        fl_mdp_worker_msg_t out;
        fl_error_t err;
        ck_assert_int_eq(fl_mdp_parse_worker(msg, &out, &err), 0);
        ck_assert_int_eq(out.command, c);
        ck_assert_ptr_nonnull(out.address);
        ck_assert(zframe_eq(out.address, client));
        ck_assert_uint_eq(zmsg_size(msg), 1);
        ck_assert(s_frame_is(zmsg_first(msg), "payload"));
        fl_mdp_worker_msg_reset(&out);
        ck_assert_ptr_null(out.address);
        fl_mdp_worker_msg_reset(&out);                              /* twice is safe */
        zmsg_destroy(&msg);
    }
    zframe_destroy(&client);
}
END_TEST

START_TEST(test_empty_body_travels_as_one_empty_frame)
{
    zmsg_t *empty = zmsg_new();
    zmsg_t *a = fl_mdp_client_request("svc", &empty);
    zmsg_t *b = fl_mdp_client_request("svc", NULL);
    zmsg_t *none = NULL;
    zmsg_t *c = fl_mdp_broker_to_client("svc", true, &none);
    zmsg_t *msgs[] = { a, b, c };
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(msgs[i]);
        ck_assert_uint_eq(zmsg_size(msgs[i]), 4);
        fl_mdp_client_msg_t out;
        ck_assert_int_eq(fl_mdp_parse_client(msgs[i], &out, NULL), 0);
        ck_assert_uint_eq(zmsg_size(msgs[i]), 1);
        ck_assert_uint_eq(zframe_size(zmsg_first(msgs[i])), 0);
        zmsg_destroy(&msgs[i]);
    }
    zframe_t *client = zframe_new("C", 1);
    zmsg_t *w = fl_mdp_worker_final(client, NULL);
    ck_assert_uint_eq(zmsg_size(w), 5);
    fl_mdp_worker_msg_t out;
    ck_assert_int_eq(fl_mdp_parse_worker(w, &out, NULL), 0);
    ck_assert_uint_eq(zmsg_size(w), 1);
    fl_mdp_worker_msg_reset(&out);
    zmsg_destroy(&w);
    zframe_destroy(&client);
}
END_TEST

START_TEST(test_body_of_max_frames_keeps_its_order_and_one_more_is_refused)
{
    zmsg_t *body = zmsg_new();
    for (int i = 0; i < FL_MDP_BODY_FRAMES_MAX; i++)
        zmsg_addstrf(body, "part-%d", i);
    zmsg_t *msg = fl_mdp_client_request("svc", &body);
    ck_assert_ptr_nonnull(msg);
    fl_mdp_client_msg_t out;
    ck_assert_int_eq(fl_mdp_parse_client(msg, &out, NULL), 0);
    ck_assert_uint_eq(zmsg_size(msg), FL_MDP_BODY_FRAMES_MAX);
    for (int i = 0; i < FL_MDP_BODY_FRAMES_MAX; i++) {
        char *part = zmsg_popstr(msg);
        char want[16];
        snprintf(want, sizeof want, "part-%d", i);
        ck_assert_str_eq(part, want);
        zstr_free(&part);
    }
    zmsg_destroy(&msg);

    body = zmsg_new();
    for (int i = 0; i < FL_MDP_BODY_FRAMES_MAX + 1; i++)
        zmsg_addstr(body, "x");
    ck_assert_ptr_null(fl_mdp_client_request("svc", &body));
    ck_assert_ptr_null(body);                           /* consumed even on refusal */
}
END_TEST

START_TEST(test_builders_refuse_what_parsers_would_reject)
{
    char long_service[FL_MDP_SERVICE_MAX + 2];
    memset(long_service, 's', sizeof long_service - 1);
    long_service[sizeof long_service - 1] = '\0';
    const char *bad_services[] = { "", "has space", "tab\there", "caf\xc3\xa9", long_service };
    for (size_t i = 0; i < sizeof bad_services / sizeof bad_services[0]; i++) {
        zmsg_t *body = s_body("x");
        ck_assert_ptr_null(fl_mdp_client_request(bad_services[i], &body));
        ck_assert_ptr_null(body);
        body = s_body("x");
        ck_assert_ptr_null(fl_mdp_broker_to_client(bad_services[i], false, &body));
        ck_assert_ptr_null(body);
        ck_assert_ptr_null(fl_mdp_worker_ready(bad_services[i]));
    }

    zframe_t *empty = zframe_new_empty();
    zframe_t *too_long = s_filled(FL_MDP_ADDRESS_MAX + 1);
    zframe_t *longest = s_filled(FL_MDP_ADDRESS_MAX);
    zmsg_t *body = s_body("x");
    ck_assert_ptr_null(fl_mdp_worker_final(empty, &body));
    ck_assert_ptr_null(body);
    body = s_body("x");
    ck_assert_ptr_null(fl_mdp_broker_to_worker_request(too_long, &body));
    ck_assert_ptr_null(body);
    body = s_body("x");
    zmsg_t *ok = fl_mdp_worker_partial(longest, &body);
    ck_assert_ptr_nonnull(ok);
    fl_mdp_worker_msg_t out;
    ck_assert_int_eq(fl_mdp_parse_worker(ok, &out, NULL), 0);
    ck_assert_uint_eq(zframe_size(out.address), FL_MDP_ADDRESS_MAX);
    fl_mdp_worker_msg_reset(&out);
    zmsg_destroy(&ok);
    zframe_destroy(&empty);
    zframe_destroy(&too_long);
    zframe_destroy(&longest);
}
END_TEST

/* ---- service names ---------------------------------------------------------- */

START_TEST(test_service_name_boundaries)
{
    char name[FL_MDP_SERVICE_MAX + 1];
    memset(name, 'n', sizeof name);
    fl_error_t err;
    ck_assert_int_eq(fl_mdp_service_check("", 0, &err), FL_E_INVALID);
    ck_assert_int_eq(fl_mdp_service_check(NULL, 0, &err), FL_E_INVALID);
    ck_assert_int_eq(fl_mdp_service_check(name, 1, &err), 0);
    ck_assert_int_eq(fl_mdp_service_check(name, FL_MDP_SERVICE_MAX, &err), 0);
    ck_assert_int_eq(fl_mdp_service_check(name, FL_MDP_SERVICE_MAX + 1, &err), FL_E_TOO_LONG);
    ck_assert_str_eq(err.field, "service");
    ck_assert_int_eq(fl_mdp_service_check("!~", 2, &err), 0);      /* 0x21 and 0x7e */
    ck_assert_int_eq(fl_mdp_service_check("a b", 3, &err), FL_E_INVALID);
    ck_assert_int_eq(fl_mdp_service_check("a\x7f", 2, &err), FL_E_INVALID);
    ck_assert_int_eq(fl_mdp_service_check("a\0b", 3, &err), FL_E_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "0x00 at offset 1"));

    ck_assert(fl_mdp_service_is_mmi("mmi.service"));
    ck_assert(fl_mdp_service_is_mmi(FL_MDP_MMI_PREFIX));
    ck_assert(!fl_mdp_service_is_mmi("mmi"));
    ck_assert(!fl_mdp_service_is_mmi("MMI.service"));
    ck_assert(!fl_mdp_service_is_mmi("foleni.mmi."));
    ck_assert_str_eq(FL_MDP_MMI_FOUND, "200");
    ck_assert_str_eq(FL_MDP_MMI_NOT_FOUND, "404");
    ck_assert_str_eq(FL_MDP_MMI_NOT_IMPLEMENTED, "501");
}
END_TEST

/* ---- malformed messages ----------------------------------------------------- */

/*  One frame of a table row: literal bytes, or (data NULL) `size` bytes of 'a'.
 *  A row's frame list ends at the first all-zero entry; F("") is an empty frame. */
typedef struct { const char *data; size_t size; } s_frame_t;
#define F(lit)   { (lit), sizeof (lit) - 1 }
#define FILL(n)  { NULL, (n) }
#define S65      FILL(FL_MDP_SERVICE_MAX + 1)

typedef struct {
    const char *name;
    fl_mdp_proto_t parser;          /* which parser must refuse it */
    int code;                       /* the code it must give */
    const char *says;               /* a phrase the message must contain */
    s_frame_t frames[16];
} s_bad_t;

static const s_bad_t s_bad[] = {
    /* client side */
    { "client: empty message", FL_MDP_PROTO_CLIENT, FL_E_TRUNCATED, "empty message", { { 0 } } },
    { "client: header only", FL_MDP_PROTO_CLIENT, FL_E_TRUNCATED, "frame 1: command missing",
      { F("MDPC02") } },
    { "client: wrong header", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "frame 0: not an MDP header",
      { F("HELLO!"), F("\x01"), F("svc"), F("body") } },
    { "client: header with NUL", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "frame 0",
      { F("MDPC02\0"), F("\x01"), F("svc"), F("body") } },
    { "client: MDPC01 header", FL_MDP_PROTO_CLIENT, FL_E_VERSION, "MDPC01 is not supported",
      { F("MDPC01"), F("\x01"), F("svc"), F("body") } },
    { "client: MDP/0.1 from a REQ socket", FL_MDP_PROTO_CLIENT, FL_E_VERSION,
      "empty frame before the header", { F(""), F("MDPC01"), F("svc"), F("body") } },
    { "client: garbled MDP version", FL_MDP_PROTO_CLIENT, FL_E_VERSION, "unknown MDP version",
      { F("MDPC\xff\x01"), F("\x01"), F("svc"), F("body") } },
    { "client: worker header", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "worker header",
      { F("MDPW02"), F("\x01"), F("svc") } },
    { "client: two-byte command", FL_MDP_PROTO_CLIENT, FL_E_INVALID,
      "frame 1: command must be one byte, got 2",
      { F("MDPC02"), F("\x01\x00"), F("svc"), F("body") } },
    { "client: empty command", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "must be one byte, got 0",
      { F("MDPC02"), F(""), F("svc"), F("body") } },
    { "client: command 0x00", FL_MDP_PROTO_CLIENT, FL_E_UNKNOWN, "unknown MDPC02 command 0x00",
      { F("MDPC02"), F("\x00"), F("svc"), F("body") } },
    { "client: command 0x04", FL_MDP_PROTO_CLIENT, FL_E_UNKNOWN, "command 0x04",
      { F("MDPC02"), F("\x04"), F("svc"), F("body") } },
    { "client: reserved extension command", FL_MDP_PROTO_CLIENT, FL_E_UNKNOWN, "command 0x10",
      { F("MDPC02"), F("\x10"), F("svc"), F("body") } },
    { "client: service frame missing", FL_MDP_PROTO_CLIENT, FL_E_TRUNCATED,
      "frame 2: service name missing", { F("MDPC02"), F("\x01") } },
    { "client: body missing", FL_MDP_PROTO_CLIENT, FL_E_TRUNCATED, "frame 3: body missing",
      { F("MDPC02"), F("\x01"), F("svc") } },
    { "client: empty service", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "service name is empty",
      { F("MDPC02"), F("\x01"), F(""), F("body") } },
    { "client: oversize service", FL_MDP_PROTO_CLIENT, FL_E_TOO_LONG, "65 bytes, longer than 64",
      { F("MDPC02"), F("\x01"), S65, F("body") } },
    { "client: control byte in service", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "byte 0x01",
      { F("MDPC02"), F("\x01"), F("ech\x01o"), F("body") } },
    { "client: space in service", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "byte 0x20",
      { F("MDPC02"), F("\x01"), F("my svc"), F("body") } },
    { "client: NUL in service", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "byte 0x00 at offset 2",
      { F("MDPC02"), F("\x03"), F("ab\0c"), F("body") } },
    { "client: UTF-8 in service", FL_MDP_PROTO_CLIENT, FL_E_INVALID, "byte 0xc3",
      { F("MDPC02"), F("\x02"), F("caf\xc3\xa9"), F("body") } },
    { "client: too many body frames", FL_MDP_PROTO_CLIENT, FL_E_TOO_LONG, "body has 9 frames",
      { F("MDPC02"), F("\x01"), F("svc"), F("1"), F("2"), F("3"), F("4"), F("5"), F("6"),
        F("7"), F("8"), F("9") } },

    /* worker side */
    { "worker: empty message", FL_MDP_PROTO_WORKER, FL_E_TRUNCATED, "empty message", { { 0 } } },
    { "worker: wrong header", FL_MDP_PROTO_WORKER, FL_E_INVALID, "not an MDP header",
      { F("MDPX02"), F("\x05") } },
    { "worker: MDPW01 header", FL_MDP_PROTO_WORKER, FL_E_VERSION, "MDPW01 is not supported",
      { F("MDPW01"), F("\x01"), F("svc") } },
    { "worker: MDP/0.1 leading empty frame", FL_MDP_PROTO_WORKER, FL_E_VERSION,
      "empty frame before the header", { F(""), F("MDPW01"), F("\x01"), F("svc") } },
    { "worker: client header", FL_MDP_PROTO_WORKER, FL_E_INVALID, "client header MDPC02",
      { F("MDPC02"), F("\x01"), F("svc"), F("body") } },
    { "worker: header only", FL_MDP_PROTO_WORKER, FL_E_TRUNCATED, "command missing",
      { F("MDPW02") } },
    { "worker: two-byte command", FL_MDP_PROTO_WORKER, FL_E_INVALID,
      "frame 1: command must be one byte, got 2", { F("MDPW02"), F("\x05\x05") } },
    { "worker: command 0x07", FL_MDP_PROTO_WORKER, FL_E_UNKNOWN, "unknown MDPW02 command 0x07",
      { F("MDPW02"), F("\x07") } },
    { "worker: command 0xff", FL_MDP_PROTO_WORKER, FL_E_UNKNOWN, "command 0xff",
      { F("MDPW02"), F("\xff") } },
    { "worker: READY without service", FL_MDP_PROTO_WORKER, FL_E_TRUNCATED,
      "frame 2: service name missing", { F("MDPW02"), F("\x01") } },
    { "worker: READY oversize service", FL_MDP_PROTO_WORKER, FL_E_TOO_LONG, "longer than 64",
      { F("MDPW02"), F("\x01"), S65 } },
    { "worker: READY non-printable service", FL_MDP_PROTO_WORKER, FL_E_INVALID, "byte 0x0a",
      { F("MDPW02"), F("\x01"), F("svc\n") } },
    { "worker: READY empty service", FL_MDP_PROTO_WORKER, FL_E_INVALID, "service name is empty",
      { F("MDPW02"), F("\x01"), F("") } },
    { "worker: READY with a frame after the window", FL_MDP_PROTO_WORKER, FL_E_TRAILING,
      "got 5", { F("MDPW02"), F("\x01"), F("svc"), F("64"), F("more") } },
    { "worker: READY with a window that is not a number", FL_MDP_PROTO_WORKER, FL_E_INVALID,
      "window must be a number", { F("MDPW02"), F("\x01"), F("svc"), F("more") } },
    { "worker: READY with window 0", FL_MDP_PROTO_WORKER, FL_E_INVALID,
      "window must be a number", { F("MDPW02"), F("\x01"), F("svc"), F("0") } },
    { "worker: READY with window over the maximum", FL_MDP_PROTO_WORKER, FL_E_INVALID,
      "window must be a number", { F("MDPW02"), F("\x01"), F("svc"), F("4097") } },
    { "worker: HEARTBEAT with extra frame", FL_MDP_PROTO_WORKER, FL_E_TRAILING,
      "HEARTBEAT has exactly 2 frames", { F("MDPW02"), F("\x05"), F("") } },
    { "worker: DISCONNECT with extra frame", FL_MDP_PROTO_WORKER, FL_E_TRAILING,
      "DISCONNECT has exactly 2 frames", { F("MDPW02"), F("\x06"), F("bye") } },
    { "worker: FINAL without client address", FL_MDP_PROTO_WORKER, FL_E_TRUNCATED,
      "frame 2: client address missing", { F("MDPW02"), F("\x04") } },
    { "worker: FINAL with empty client address", FL_MDP_PROTO_WORKER, FL_E_INVALID,
      "frame 2: client address is empty", { F("MDPW02"), F("\x04"), F(""), F(""), F("body") } },
    { "worker: FINAL without delimiter", FL_MDP_PROTO_WORKER, FL_E_INVALID,
      "frame 3: envelope delimiter must be empty",
      { F("MDPW02"), F("\x04"), F("client"), F("body") } },
    { "worker: FINAL ends after address", FL_MDP_PROTO_WORKER, FL_E_TRUNCATED,
      "frame 3: empty envelope delimiter missing", { F("MDPW02"), F("\x04"), F("client") } },
    { "worker: FINAL with two address frames", FL_MDP_PROTO_WORKER, FL_E_INVALID,
      "exactly one client address frame",
      { F("MDPW02"), F("\x04"), F("proxy"), F("client"), F(""), F("body") } },
    { "worker: FINAL without body", FL_MDP_PROTO_WORKER, FL_E_TRUNCATED,
      "frame 4: body missing; FINAL", { F("MDPW02"), F("\x04"), F("client"), F("") } },
    { "worker: PARTIAL with oversize address", FL_MDP_PROTO_WORKER, FL_E_TOO_LONG,
      "256 bytes, longer than 255",
      { F("MDPW02"), F("\x03"), FILL(FL_MDP_ADDRESS_MAX + 1), F(""), F("body") } },
    { "worker: REQUEST with too many body frames", FL_MDP_PROTO_WORKER, FL_E_TOO_LONG,
      "body has 9 frames",
      { F("MDPW02"), F("\x02"), F("client"), F(""), F("1"), F("2"), F("3"), F("4"), F("5"),
        F("6"), F("7"), F("8"), F("9") } },
};
#define S_BAD_COUNT ((int) (sizeof s_bad / sizeof s_bad[0]))

static zmsg_t *
s_build(const s_frame_t *frames)
{
    zmsg_t *msg = zmsg_new();
    for (size_t i = 0; frames[i].data || frames[i].size; i++) {
        zframe_t *frame = frames[i].data ? zframe_new(frames[i].data, frames[i].size)
                                         : s_filled(frames[i].size);
        zmsg_append(msg, &frame);
    }
    return msg;
}

START_TEST(test_malformed_message_is_refused_with_its_code)
{
    const s_bad_t *bad = &s_bad[_i];
    zmsg_t *msg = s_build(bad->frames);
    zmsg_t *copy = zmsg_dup(msg);
    if (zmsg_size(msg) == 0) {      /* zmsg_dup gives NULL for an empty message */
        zmsg_destroy(&copy);
        copy = zmsg_new();
    }
    fl_error_t err;
    fl_error_clear(&err);
    int rc;
    if (bad->parser == FL_MDP_PROTO_CLIENT) {
        fl_mdp_client_msg_t out;
        memset(&out, 0x5a, sizeof out);
        rc = fl_mdp_parse_client(msg, &out, &err);
        ck_assert_str_eq(out.service, "");              /* no partial result escapes */
    } else {
        fl_mdp_worker_msg_t out;
        memset(&out, 0x5a, sizeof out);
        rc = fl_mdp_parse_worker(msg, &out, &err);
        ck_assert_ptr_null(out.address);
        ck_assert_str_eq(out.service, "");
    }
    ck_assert_msg(rc == bad->code, "%s: got %s (%s), want %s", bad->name,
                  fl_error_name(rc), err.message, fl_error_name(bad->code));
    ck_assert_int_eq(err.code, bad->code);
    ck_assert_msg(strstr(err.message, bad->says) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  bad->name, err.message, bad->says);
    ck_assert_msg(err.field[0] != '\0', "%s: no field named", bad->name);
    ck_assert_msg(zmsg_size(msg) == zmsg_size(copy), "%s: message changed", bad->name);
    for (size_t i = 0; i < zmsg_size(copy); i++)
        ck_assert(zframe_eq(s_frame_at(msg, i), s_frame_at(copy, i)));
    zmsg_destroy(&msg);
    zmsg_destroy(&copy);
}
END_TEST

/* ---- ROUTER helpers, directions, names ------------------------------------ */

START_TEST(test_pop_identity_takes_only_a_real_identity)
{
    fl_error_t err;
    zmsg_t *msg = zmsg_new();
    ck_assert_ptr_null(fl_mdp_pop_identity(msg, &err));
    ck_assert_int_eq(err.code, FL_E_TRUNCATED);

    zmsg_addmem(msg, NULL, 0);
    zmsg_addstr(msg, "MDPC02");
    ck_assert_ptr_null(fl_mdp_pop_identity(msg, &err));
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.field, "identity");
    ck_assert_uint_eq(zmsg_size(msg), 2);              /* unchanged */
    zmsg_destroy(&msg);

    msg = zmsg_new();
    zframe_t *big = s_filled(FL_MDP_ADDRESS_MAX + 1);
    zmsg_append(msg, &big);
    ck_assert_ptr_null(fl_mdp_pop_identity(msg, &err));
    ck_assert_int_eq(err.code, FL_E_TOO_LONG);
    zmsg_destroy(&msg);

    zmsg_t *body = s_body("b");
    msg = fl_mdp_client_request("svc", &body);
    zframe_t *id = zframe_new("\x00\x01\x02\x03\x04", 5);
    ck_assert_int_eq(fl_mdp_prepend_identity(msg, id), 0);
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_NONE);   /* identity first */
    zframe_t *got = fl_mdp_pop_identity(msg, &err);
    ck_assert_ptr_nonnull(got);
    ck_assert(zframe_eq(got, id));
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_CLIENT);

    zframe_t *empty = zframe_new_empty();
    ck_assert_int_eq(fl_mdp_prepend_identity(msg, empty), FL_E_INVALID);
    ck_assert_uint_eq(zmsg_size(msg), 4);
    zframe_destroy(&empty);
    zframe_destroy(&got);
    zframe_destroy(&id);
    zmsg_destroy(&msg);
}
END_TEST

START_TEST(test_protocol_of_reads_frame_zero)
{
    zmsg_t *msg = zmsg_new();
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_NONE);
    zmsg_addstr(msg, "MDPW01");
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_NONE);
    zmsg_destroy(&msg);
    msg = fl_mdp_worker_heartbeat();
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_WORKER);
    zmsg_destroy(&msg);
}
END_TEST

START_TEST(test_may_send_follows_rfc18_directions)
{
    const fl_mdp_proto_t C = FL_MDP_PROTO_CLIENT, W = FL_MDP_PROTO_WORKER;
    const fl_mdp_role_t cl = FL_MDP_ROLE_CLIENT, br = FL_MDP_ROLE_BROKER, wk = FL_MDP_ROLE_WORKER;

    ck_assert(fl_mdp_may_send(cl, C, FL_MDP_CLIENT_REQUEST));
    ck_assert(!fl_mdp_may_send(cl, C, FL_MDP_CLIENT_FINAL));
    ck_assert(!fl_mdp_may_send(br, C, FL_MDP_CLIENT_REQUEST));
    ck_assert(fl_mdp_may_send(br, C, FL_MDP_CLIENT_PARTIAL));
    ck_assert(fl_mdp_may_send(br, C, FL_MDP_CLIENT_FINAL));

    ck_assert(fl_mdp_may_send(wk, W, FL_MDP_WORKER_READY));
    ck_assert(!fl_mdp_may_send(br, W, FL_MDP_WORKER_READY));
    ck_assert(fl_mdp_may_send(br, W, FL_MDP_WORKER_REQUEST));
    ck_assert(!fl_mdp_may_send(wk, W, FL_MDP_WORKER_REQUEST));   /* valid but unexpected */
    ck_assert(fl_mdp_may_send(wk, W, FL_MDP_WORKER_PARTIAL));
    ck_assert(fl_mdp_may_send(wk, W, FL_MDP_WORKER_FINAL));
    ck_assert(!fl_mdp_may_send(br, W, FL_MDP_WORKER_FINAL));
    for (int c = FL_MDP_WORKER_HEARTBEAT; c <= FL_MDP_WORKER_DISCONNECT; c++) {
        ck_assert(fl_mdp_may_send(wk, W, c));
        ck_assert(fl_mdp_may_send(br, W, c));
        ck_assert(!fl_mdp_may_send(cl, W, c));
    }
    ck_assert(!fl_mdp_may_send(cl, W, FL_MDP_WORKER_READY));
    ck_assert(!fl_mdp_may_send(wk, W, 0x07));
    ck_assert(!fl_mdp_may_send(cl, FL_MDP_PROTO_NONE, FL_MDP_CLIENT_REQUEST));
}
END_TEST

START_TEST(test_command_names_follow_the_rfc)
{
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_CLIENT, 0x01), "REQUEST");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_CLIENT, 0x02), "PARTIAL");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_CLIENT, 0x03), "FINAL");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_CLIENT, 0x04), "UNKNOWN");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, 0x01), "READY");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, 0x02), "REQUEST");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, 0x03), "PARTIAL");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, 0x04), "FINAL");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, 0x05), "HEARTBEAT");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, 0x06), "DISCONNECT");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, 0x00), "UNKNOWN");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, 0x07), "UNKNOWN");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_WORKER, -1), "UNKNOWN");
    ck_assert_str_eq(fl_mdp_command_name(FL_MDP_PROTO_NONE, 0x01), "UNKNOWN");
}
END_TEST

/* ---- garbage --------------------------------------------------------------- */

static uint32_t
s_rand(uint32_t *state)
{
    uint32_t x = *state;                 /* xorshift32: deterministic, no libc state */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/*  A frame that is often almost right: a real header, a near-miss header, a
 *  command byte, a service, an empty frame, or random bytes. */
static zframe_t *
s_random_frame(uint32_t *state)
{
    static const char *const pieces[] = {
        "MDPC02", "MDPW02", "MDPC01", "MDPW01", "MDPC0", "MDPW022", "svc", "mmi.service",
    };
    uint32_t pick = s_rand(state) % 16;
    if (pick < 8)
        return zframe_new(pieces[pick], strlen(pieces[pick]));
    if (pick < 12) {
        uint8_t command = (uint8_t) (s_rand(state) % 9);
        return zframe_new(&command, 1);
    }
    if (pick == 12)
        return zframe_new_empty();
    size_t size = s_rand(state) % 80;
    zframe_t *frame = zframe_new(NULL, size);
    for (size_t i = 0; i < size; i++)
        zframe_data(frame)[i] = (uint8_t) s_rand(state);
    return frame;
}

START_TEST(test_garbage_never_crashes_a_parser)
{
    uint32_t state = 0x5eed1234u;
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        zmsg_t *msg = zmsg_new();
        size_t frames = s_rand(&state) % 13;
        for (size_t i = 0; i < frames; i++) {
            zframe_t *frame = s_random_frame(&state);
            zmsg_append(msg, &frame);
        }
        zmsg_t *other = frames ? zmsg_dup(msg) : zmsg_new();
        /* the in-place checks (the broker's hot path) decide exactly as the
         * parsers do, with the same code and sentence */
        fl_mdp_frame_t views[13];
        size_t nv = 0;
        for (zframe_t *f = zmsg_first(msg); f; f = zmsg_next(msg))
            views[nv++] = (fl_mdp_frame_t) { zframe_data(f), zframe_size(f) };
        fl_error_t verr_c = { 0 }, verr_w = { 0 };
        fl_mdp_client_msg_t vc;
        fl_mdp_worker_msg_t vw;
        int vrc_c = fl_mdp_check_client(views, nv, &vc, &verr_c);
        int vrc_w = fl_mdp_check_worker(views, nv, &vw, &verr_w);
        ck_assert_ptr_null(vw.address);
        fl_error_t err;
        fl_mdp_client_msg_t c;
        int rc = fl_mdp_parse_client(msg, &c, &err);
        ck_assert_int_eq(rc, vrc_c);
        if (rc == 0) {
            ck_assert_int_eq(c.command, vc.command);
            ck_assert_str_eq(c.service, vc.service);
        } else
            ck_assert_str_eq(err.message, verr_c.message);
        if (rc == 0) {
            accepted++;
            ck_assert_uint_ge(zmsg_size(msg), 1);
            ck_assert_uint_le(zmsg_size(msg), FL_MDP_BODY_FRAMES_MAX);
            ck_assert_int_eq(fl_mdp_service_check(c.service, strlen(c.service), NULL), 0);
        } else {
            ck_assert_int_lt(rc, 0);
            ck_assert_uint_eq(zmsg_size(msg), frames);
        }
        fl_mdp_worker_msg_t w;
        rc = fl_mdp_parse_worker(other, &w, &err);
        ck_assert_int_eq(rc, vrc_w);
        if (rc == 0) {
            ck_assert_int_eq(w.command, vw.command);
            ck_assert_str_eq(w.service, vw.service);
            ck_assert_uint_eq(w.window, vw.window);
        } else
            ck_assert_str_eq(err.message, verr_w.message);
        if (rc == 0) {
            accepted++;
            bool envelope = w.command == FL_MDP_WORKER_REQUEST
                         || w.command == FL_MDP_WORKER_PARTIAL || w.command == FL_MDP_WORKER_FINAL;
            ck_assert(envelope == (w.address != NULL));
            fl_mdp_worker_msg_reset(&w);
        } else {
            ck_assert_int_lt(rc, 0);
            ck_assert_uint_eq(zmsg_size(other), frames);
        }
        zmsg_destroy(&msg);
        zmsg_destroy(&other);
    }
    ck_assert_int_gt(accepted, 0);      /* the generator does reach the happy path */
}
END_TEST

/* ---- compact framing ------------------------------------------------------- */

/* n frame views: frames[0] the header (head, size), then n - 1 one-byte bodies. */
static void
s_compact_views(fl_mdp_frame_t *v, size_t n, const uint8_t *head, size_t size)
{
    v[0] = (fl_mdp_frame_t) { head, size };
    for (size_t i = 1; i < n; i++)
        v[i] = (fl_mdp_frame_t) { "b", 1 };
}

/*  What the packers write the check accepts, field for field, at the
 *  boundaries: the longest service, address, caller and rid, and the most body
 *  frames (one fewer when the rid rides in the header). */
START_TEST(test_compact_headers_round_trip_at_their_limits)
{
    char service[FL_MDP_SERVICE_MAX + 1], rid[FL_MDP_RID_MAX + 1], caller[FL_MDP_CALLER_SIZE + 1];
    uint8_t address[FL_MDP_ADDRESS_MAX];
    memset(service, 's', FL_MDP_SERVICE_MAX);
    memset(rid, 'r', FL_MDP_RID_MAX);
    memset(caller, 'k', FL_MDP_CALLER_SIZE);
    memset(address, 0, sizeof address);     /* binary identities are fine */
    uint8_t head[FL_MDP_COMPACT_HEADER_MAX];
    fl_mdp_frame_t v[FL_MDP_BODY_FRAMES_MAX + 2];
    fl_mdp_compact_t c;
    fl_error_t err;

    size_t size = fl_mdp_compact_pack_client(head, FL_MDP_CLIENT_REQUEST, service, FL_MDP_SERVICE_MAX,
                                             rid, FL_MDP_RID_MAX);
    ck_assert_uint_eq(size, 4 + 1 + 1 + FL_MDP_SERVICE_MAX + 1 + FL_MDP_RID_MAX);
    s_compact_views(v, FL_MDP_BODY_FRAMES_MAX, head, size);    /* header + 7 body frames */
    ck_assert_msg(fl_mdp_check_compact(v, FL_MDP_BODY_FRAMES_MAX, &c, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c.proto, FL_MDP_PROTO_CLIENT);
    ck_assert_int_eq(c.command, FL_MDP_CLIENT_REQUEST);
    ck_assert_uint_eq(c.service.size, FL_MDP_SERVICE_MAX);
    ck_assert_int_eq(memcmp(c.service.data, service, FL_MDP_SERVICE_MAX), 0);
    ck_assert_uint_eq(c.rid.size, FL_MDP_RID_MAX);
    s_compact_views(v, FL_MDP_BODY_FRAMES_MAX + 1, head, size);    /* one more: refused */
    ck_assert_int_eq(fl_mdp_check_compact(v, FL_MDP_BODY_FRAMES_MAX + 1, &c, &err), FL_E_TOO_LONG);

    /* without a rid the body may have all FL_MDP_BODY_FRAMES_MAX frames */
    size = fl_mdp_compact_pack_client(head, FL_MDP_CLIENT_FINAL, "echo", 4, NULL, 0);
    ck_assert_uint_eq(size, 4 + 1 + 1 + 4 + 1);
    s_compact_views(v, FL_MDP_BODY_FRAMES_MAX + 1, head, size);
    ck_assert_msg(fl_mdp_check_compact(v, FL_MDP_BODY_FRAMES_MAX + 1, &c, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(c.rid.size, 0);

    size = fl_mdp_compact_pack_worker(head, FL_MDP_WORKER_REQUEST, address, FL_MDP_ADDRESS_MAX, caller,
                                      FL_MDP_CALLER_SIZE, rid, FL_MDP_RID_MAX);
    ck_assert_uint_eq(size, FL_MDP_COMPACT_HEADER_MAX);
    s_compact_views(v, 2, head, size);
    ck_assert_msg(fl_mdp_check_compact(v, 2, &c, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c.proto, FL_MDP_PROTO_WORKER);
    ck_assert_uint_eq(c.address.size, FL_MDP_ADDRESS_MAX);
    ck_assert_uint_eq(c.caller.size, FL_MDP_CALLER_SIZE);
    ck_assert_int_eq(memcmp(c.caller.data, caller, FL_MDP_CALLER_SIZE), 0);
    ck_assert_int_eq(memcmp(c.rid.data, rid, FL_MDP_RID_MAX), 0);

    /* the packers refuse what the check would */
    ck_assert_uint_eq(fl_mdp_compact_pack_client(head, 1, service, FL_MDP_SERVICE_MAX + 1, NULL, 0), 0);
    ck_assert_uint_eq(fl_mdp_compact_pack_client(head, 1, "echo", 4, rid, FL_MDP_RID_MAX + 1), 0);
    ck_assert_uint_eq(fl_mdp_compact_pack_client(head, 1, "ec ho", 5, NULL, 0), 0);
    ck_assert_uint_eq(fl_mdp_compact_pack_client(head, 4, "echo", 4, NULL, 0), 0);
    ck_assert_uint_eq(fl_mdp_compact_pack_worker(head, 4, address, 0, NULL, 0, NULL, 0), 0);
    ck_assert_uint_eq(fl_mdp_compact_pack_worker(head, 4, address, 256, NULL, 0, NULL, 0), 0);
    ck_assert_uint_eq(fl_mdp_compact_pack_worker(head, 4, address, 5, caller, 39, NULL, 0), 0);
    ck_assert_uint_eq(fl_mdp_compact_pack_worker(head, 1, address, 5, NULL, 0, NULL, 0), 0);

    /* identities */
    uint8_t id[FL_MDP_IDENTITY_SIZE], id2[FL_MDP_IDENTITY_SIZE];
    fl_mdp_compact_identity(FL_MDP_PROTO_CLIENT, id);
    fl_mdp_compact_identity(FL_MDP_PROTO_CLIENT, id2);
    ck_assert_int_eq(fl_mdp_compact_peer(id, sizeof id), FL_MDP_PROTO_CLIENT);
    ck_assert_int_ne(memcmp(id, id2, sizeof id), 0);
    fl_mdp_compact_identity(FL_MDP_PROTO_WORKER, id);
    ck_assert_int_eq(fl_mdp_compact_peer(id, sizeof id), FL_MDP_PROTO_WORKER);
    ck_assert_int_eq(fl_mdp_compact_peer("\0\x12\x34\x56\x78", 5), FL_MDP_PROTO_NONE);
    ck_assert_int_eq(fl_mdp_compact_peer("FLC", 3), FL_MDP_PROTO_NONE);
}
END_TEST

/*  Every way a packed header can lie about its lengths is refused, with the
 *  code and a sentence that names frame 0. */
START_TEST(test_compact_malformed_headers_are_refused_with_their_code)
{
    static const struct {
        const char *name;
        const char *bytes;
        size_t size;
        size_t frames;
        int code;
    } cases[] = {
        { "tag only", "FLC1", 4, 2, FL_E_TRUNCATED },
        { "unknown client command", "FLC1\x04\x04" "echo\x00", 11, 2, FL_E_UNKNOWN },
        { "READY is never compact", "FLW1\x01\x01" "a\x00\x00", 9, 2, FL_E_UNKNOWN },
        { "no service length", "FLC1\x01", 5, 2, FL_E_TRUNCATED },
        { "service runs past the end", "FLC1\x01\x09" "echo\x00", 11, 2, FL_E_TRUNCATED },
        { "empty service", "FLC1\x01\x00\x00", 7, 2, FL_E_INVALID },
        { "service with a space", "FLC1\x01\x03" "a b\x00", 10, 2, FL_E_INVALID },
        { "service byte out of range", "FLC1\x01\x02" "a\x01\x00", 9, 2, FL_E_INVALID },
        { "no rid length", "FLC1\x01\x04" "echo", 10, 2, FL_E_TRUNCATED },
        { "rid runs past the end", "FLC1\x01\x04" "echo\x08" "abc", 14, 2, FL_E_TRUNCATED },
        { "rid with a space", "FLC1\x01\x04" "echo\x03" "a c", 14, 2, FL_E_INVALID },
        { "trailing byte", "FLC1\x01\x04" "echo\x00X", 12, 2, FL_E_TRAILING },
        { "no body", "FLC1\x01\x04" "echo\x00", 11, 1, FL_E_TRUNCATED },
        { "empty address", "FLW1\x04\x00\x00\x00", 8, 2, FL_E_INVALID },
        { "caller of 3 bytes", "FLW1\x04\x01" "a\x03" "abc\x00", 13, 2, FL_E_INVALID },
        { "caller runs past the end", "FLW1\x04\x01" "a\x28" "abc", 12, 2, FL_E_TRUNCATED },
        { "worker REQUEST fine", "FLW1\x02\x01" "a\x00\x02" "id", 11, 2, 0 },
        { "client REQUEST fine", "FLC1\x01\x04" "echo\x02" "id", 13, 2, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_mdp_frame_t v[3];
        s_compact_views(v, cases[i].frames, (const uint8_t *) cases[i].bytes, cases[i].size);
        fl_mdp_compact_t c;
        fl_error_t err = { 0 };
        int rc = fl_mdp_check_compact(v, cases[i].frames, &c, &err);
        ck_assert_msg(rc == cases[i].code, "%s: got %d (%s)", cases[i].name, rc, err.message);
        if (rc)
            ck_assert_msg(strncmp(err.message, "frame ", 6) == 0, "%s: %s", cases[i].name, err.message);
    }

    /* the longest fields plus one, written by hand since the packers refuse them */
    uint8_t head[512];
    memcpy(head, "FLC1\x01", 5);
    head[5] = FL_MDP_SERVICE_MAX + 1;
    memset(head + 6, 's', FL_MDP_SERVICE_MAX + 1);
    head[6 + FL_MDP_SERVICE_MAX + 1] = 0;
    fl_mdp_frame_t v[2];
    s_compact_views(v, 2, head, 7 + FL_MDP_SERVICE_MAX + 1);
    fl_mdp_compact_t c;
    fl_error_t err;
    ck_assert_int_eq(fl_mdp_check_compact(v, 2, &c, &err), FL_E_TOO_LONG);
    head[5] = 4;
    memcpy(head + 6, "echo", 4);
    head[10] = FL_MDP_RID_MAX + 1;
    memset(head + 11, 'r', FL_MDP_RID_MAX + 1);
    s_compact_views(v, 2, head, 11 + FL_MDP_RID_MAX + 1);
    ck_assert_int_eq(fl_mdp_check_compact(v, 2, &c, &err), FL_E_TOO_LONG);
    ck_assert_int_eq(fl_mdp_check_compact(NULL, 0, &c, &err), FL_E_TRUNCATED);
}
END_TEST

/*  Random bytes, and valid headers with bytes changed or cut off: the check
 *  never crashes, and whatever it accepts is exactly what the packer writes
 *  for the fields it read (so every length and byte obeys the rules). */
START_TEST(test_compact_garbage_is_never_accepted_unless_valid)
{
    uint32_t state = 0xc0ffee11u;
    int accepted = 0;
    for (int round = 0; round < 40000; round++) {
        uint8_t head[FL_MDP_COMPACT_HEADER_MAX + 8];
        size_t size;
        int kind = (int) (s_rand(&state) % 3);
        if (kind == 0) {                /* random bytes after a tag */
            size = s_rand(&state) % sizeof head;
            for (size_t i = 0; i < size; i++)
                head[i] = (uint8_t) s_rand(&state);
            if (size >= 4)
                memcpy(head, s_rand(&state) % 2 ? "FLC1" : "FLW1", 4);
        } else {                        /* a valid header, then damaged */
            char rid[20];
            snprintf(rid, sizeof rid, "rid-%u", s_rand(&state) % 100000);
            uint8_t addr[5] = { 0, 1, 2, 3, (uint8_t) s_rand(&state) };
            size = kind == 1
                ? fl_mdp_compact_pack_client(head, 1 + (int) (s_rand(&state) % 3), "foleni.scheduler", 16,
                                             rid, strlen(rid))
                : fl_mdp_compact_pack_worker(head, 2 + (int) (s_rand(&state) % 3), addr, sizeof addr,
                                             "0123456789012345678901234567890123456789",
                                             s_rand(&state) % 2 ? 40 : 0, rid, strlen(rid));
            ck_assert_uint_gt(size, 0);
            int changes = (int) (s_rand(&state) % 4);
            for (int i = 0; i < changes; i++)
                head[s_rand(&state) % size] = (uint8_t) s_rand(&state);
            if (s_rand(&state) % 4 == 0)
                size = s_rand(&state) % (size + 1);
        }
        size_t n = s_rand(&state) % (FL_MDP_BODY_FRAMES_MAX + 2);
        fl_mdp_frame_t v[FL_MDP_BODY_FRAMES_MAX + 2];
        s_compact_views(v, n, head, size);
        fl_mdp_compact_t c;
        fl_error_t err;
        int rc = fl_mdp_check_compact(n ? v : NULL, n, &c, &err);
        if (rc != 0) {
            ck_assert_int_lt(rc, 0);
            ck_assert_int_eq(c.proto, FL_MDP_PROTO_NONE);      /* nothing escapes */
            continue;
        }
        accepted++;
        uint8_t again[FL_MDP_COMPACT_HEADER_MAX];
        size_t asize = c.proto == FL_MDP_PROTO_CLIENT
            ? fl_mdp_compact_pack_client(again, c.command, c.service.data, c.service.size, c.rid.data,
                                         c.rid.size)
            : fl_mdp_compact_pack_worker(again, c.command, c.address.data, c.address.size, c.caller.data,
                                         c.caller.size, c.rid.data, c.rid.size);
        ck_assert_uint_eq(asize, size);
        ck_assert_int_eq(memcmp(again, head, size), 0);
        ck_assert_uint_ge(n, 2);
        ck_assert_uint_le(n - 1 + (c.rid.size ? 1 : 0), FL_MDP_BODY_FRAMES_MAX);
    }
    ck_assert_int_gt(accepted, 1000);   /* the generator does reach the happy path */
}
END_TEST

/* The in-place checks read only the leading frames, so a receiver that kept
 * five frames of a longer message can still have its body bounded by count. */
START_TEST(test_checks_bound_the_body_by_count_alone)
{
    fl_mdp_frame_t f[FL_MDP_CHECK_FRAMES] = {
        { "MDPC02", 6 }, { "\x01", 1 }, { "svc", 3 }, { "rid-0001", 8 }, { "body", 4 },
    };
    fl_mdp_client_msg_t c;
    fl_error_t err;
    ck_assert_int_eq(fl_mdp_check_client(f, 3 + FL_MDP_BODY_FRAMES_MAX, &c, &err), 0);
    ck_assert_str_eq(c.service, "svc");
    ck_assert_int_eq(fl_mdp_check_client(f, 4 + FL_MDP_BODY_FRAMES_MAX, &c, &err), FL_E_TOO_LONG);
    ck_assert_str_eq(err.field, "body");
    ck_assert_int_eq(fl_mdp_check_client(f, 3, &c, &err), FL_E_TRUNCATED);
    ck_assert_int_eq(fl_mdp_check_client(NULL, 0, &c, &err), FL_E_TRUNCATED);

    fl_mdp_frame_t w[FL_MDP_CHECK_FRAMES] = {
        { "MDPW02", 6 }, { "\x04", 1 }, { "\x00\x01\x02\x03\x04", 5 }, { "", 0 }, { "rid-0001", 8 },
    };
    fl_mdp_worker_msg_t wm;
    ck_assert_int_eq(fl_mdp_check_worker(w, 4 + FL_MDP_BODY_FRAMES_MAX, &wm, &err), 0);
    ck_assert_int_eq(wm.command, FL_MDP_WORKER_FINAL);
    ck_assert_ptr_null(wm.address);
    ck_assert_int_eq(fl_mdp_check_worker(w, 5 + FL_MDP_BODY_FRAMES_MAX, &wm, &err), FL_E_TOO_LONG);
    ck_assert_int_eq(fl_mdp_protocol_of_frame(&w[0]), FL_MDP_PROTO_WORKER);
    ck_assert_int_eq(fl_mdp_protocol_of_frame(&f[0]), FL_MDP_PROTO_CLIENT);
    ck_assert_int_eq(fl_mdp_protocol_of_frame(&f[2]), FL_MDP_PROTO_NONE);
    ck_assert_int_eq(fl_mdp_protocol_of_frame(NULL), FL_MDP_PROTO_NONE);
    ck_assert_int_eq(fl_mdp_address_check("", 0, NULL), FL_E_INVALID);
    ck_assert_int_eq(fl_mdp_address_check("x", 1, NULL), 0);
    static const char long_id[FL_MDP_ADDRESS_MAX + 1] = { 0 };
    ck_assert_int_eq(fl_mdp_address_check(long_id, FL_MDP_ADDRESS_MAX, NULL), 0);
    ck_assert_int_eq(fl_mdp_address_check(long_id, FL_MDP_ADDRESS_MAX + 1, NULL), FL_E_TOO_LONG);
}
END_TEST

/* ---- real sockets ------------------------------------------------------------ */

START_TEST(test_request_and_replies_cross_router_and_dealer_over_tcp)
{
    s_zmq_setup();
    int port = tu_free_port();
    zsock_t *router = s_socket(ZMQ_ROUTER);
    ck_assert_int_eq(zsock_bind(router, "tcp://127.0.0.1:%d", port), port);
    zsock_t *client = s_socket(ZMQ_DEALER);
    ck_assert_int_eq(zsock_connect(client, "tcp://127.0.0.1:%d", port), 0);

    /* client -> broker: REQUEST */
    zmsg_t *body = s_body("\x82\xa4type\xa4next\xa1v\x01");   /* a msgpack-ish body */
    zmsg_t *msg = fl_mdp_client_request("foleni.nbo", &body);
    ck_assert_int_eq(zmsg_send(&msg, client), 0);

    zmsg_t *got = zmsg_recv(router);
    ck_assert_ptr_nonnull(got);
    fl_error_t err;
    zframe_t *identity = fl_mdp_pop_identity(got, &err);
    ck_assert_ptr_nonnull(identity);
    ck_assert_int_eq(fl_mdp_protocol_of(got), FL_MDP_PROTO_CLIENT);
    fl_mdp_client_msg_t req;
    ck_assert_msg(fl_mdp_parse_client(got, &req, &err) == 0, "%s", err.message);
    ck_assert_int_eq(req.command, FL_MDP_CLIENT_REQUEST);
    ck_assert(fl_mdp_may_send(FL_MDP_ROLE_CLIENT, FL_MDP_PROTO_CLIENT, req.command));
    ck_assert_str_eq(req.service, "foleni.nbo");
    ck_assert_uint_eq(zmsg_size(got), 1);
    ck_assert(s_frame_is(zmsg_first(got), "\x82\xa4type\xa4next\xa1v\x01"));

    /* broker -> client: one PARTIAL, then the FINAL echoing the request body */
    zmsg_t *partial_body = s_body("working");
    zmsg_t *partial = fl_mdp_broker_to_client(req.service, false, &partial_body);
    ck_assert_int_eq(fl_mdp_prepend_identity(partial, identity), 0);
    ck_assert_int_eq(zmsg_send(&partial, router), 0);
    zmsg_t *final = fl_mdp_broker_to_client(req.service, true, &got);
    ck_assert_int_eq(fl_mdp_prepend_identity(final, identity), 0);
    ck_assert_int_eq(zmsg_send(&final, router), 0);

    const char *want_body[2] = { "working", "\x82\xa4type\xa4next\xa1v\x01" };
    const int want_cmd[2] = { FL_MDP_CLIENT_PARTIAL, FL_MDP_CLIENT_FINAL };
    for (int i = 0; i < 2; i++) {
        zmsg_t *reply = zmsg_recv(client);
        ck_assert_ptr_nonnull(reply);
        fl_mdp_client_msg_t rep;
        ck_assert_msg(fl_mdp_parse_client(reply, &rep, &err) == 0, "%s", err.message);
        ck_assert_int_eq(rep.command, want_cmd[i]);
        ck_assert_str_eq(rep.service, "foleni.nbo");
        ck_assert(s_frame_is(zmsg_first(reply), want_body[i]));
        zmsg_destroy(&reply);
    }

    zframe_destroy(&identity);
    zsock_destroy(&client);
    zsock_destroy(&router);
}
END_TEST

/*  A one-socket broker in miniature: a worker registers, a client's request is
 *  routed to it, the worker's PARTIAL and FINAL come back to the client, and the
 *  client address survives the trip through the worker untouched. */
START_TEST(test_client_worker_dialog_through_one_router_over_tcp)
{
    s_zmq_setup();
    int port = tu_free_port();
    zsock_t *router = s_socket(ZMQ_ROUTER);
    ck_assert_int_eq(zsock_bind(router, "tcp://127.0.0.1:%d", port), port);
    zsock_t *worker = s_socket(ZMQ_DEALER);
    zsock_t *client = s_socket(ZMQ_DEALER);
    ck_assert_int_eq(zsock_connect(worker, "tcp://127.0.0.1:%d", port), 0);
    ck_assert_int_eq(zsock_connect(client, "tcp://127.0.0.1:%d", port), 0);
    fl_error_t err;

    /* worker: READY */
    zmsg_t *msg = fl_mdp_worker_ready("foleni.nbo");
    ck_assert_int_eq(zmsg_send(&msg, worker), 0);
    msg = zmsg_recv(router);
    ck_assert_ptr_nonnull(msg);
    zframe_t *worker_id = fl_mdp_pop_identity(msg, &err);
    ck_assert_ptr_nonnull(worker_id);
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_WORKER);
    fl_mdp_worker_msg_t wmsg;
    ck_assert_msg(fl_mdp_parse_worker(msg, &wmsg, &err) == 0, "%s", err.message);
    ck_assert_int_eq(wmsg.command, FL_MDP_WORKER_READY);
    ck_assert_str_eq(wmsg.service, "foleni.nbo");
    ck_assert(!fl_mdp_service_is_mmi(wmsg.service));
    zmsg_destroy(&msg);

    /* client: REQUEST; broker routes it to the worker */
    zmsg_t *body = s_body("call-next");
    msg = fl_mdp_client_request("foleni.nbo", &body);
    ck_assert_int_eq(zmsg_send(&msg, client), 0);
    msg = zmsg_recv(router);
    ck_assert_ptr_nonnull(msg);
    zframe_t *client_id = fl_mdp_pop_identity(msg, &err);
    ck_assert_ptr_nonnull(client_id);
    ck_assert(!zframe_eq(client_id, worker_id));
    fl_mdp_client_msg_t cmsg;
    ck_assert_msg(fl_mdp_parse_client(msg, &cmsg, &err) == 0, "%s", err.message);
    zmsg_t *to_worker = fl_mdp_broker_to_worker_request(client_id, &msg);
    ck_assert_ptr_null(msg);
    ck_assert_int_eq(fl_mdp_prepend_identity(to_worker, worker_id), 0);
    ck_assert_int_eq(zmsg_send(&to_worker, router), 0);

    /* worker: receives REQUEST, answers PARTIAL then FINAL */
    msg = zmsg_recv(worker);
    ck_assert_ptr_nonnull(msg);
    fl_mdp_worker_msg_t job;
    ck_assert_msg(fl_mdp_parse_worker(msg, &job, &err) == 0, "%s", err.message);
    ck_assert_int_eq(job.command, FL_MDP_WORKER_REQUEST);
    ck_assert(zframe_eq(job.address, client_id));
    ck_assert(s_frame_is(zmsg_first(msg), "call-next"));
    zmsg_destroy(&msg);
    body = s_body("queued");
    msg = fl_mdp_worker_partial(job.address, &body);
    ck_assert_int_eq(zmsg_send(&msg, worker), 0);
    body = s_body("ticket P-001 to counter 4");
    msg = fl_mdp_worker_final(job.address, &body);
    ck_assert_int_eq(zmsg_send(&msg, worker), 0);
    fl_mdp_worker_msg_reset(&job);

    /* broker: relays both to the client, addressed by the frame the worker returned */
    for (int i = 0; i < 2; i++) {
        msg = zmsg_recv(router);
        ck_assert_ptr_nonnull(msg);
        zframe_t *from = fl_mdp_pop_identity(msg, &err);
        ck_assert(zframe_eq(from, worker_id));
        zframe_destroy(&from);
        fl_mdp_worker_msg_t reply;
        ck_assert_msg(fl_mdp_parse_worker(msg, &reply, &err) == 0, "%s", err.message);
        ck_assert_int_eq(reply.command, i == 0 ? FL_MDP_WORKER_PARTIAL : FL_MDP_WORKER_FINAL);
        ck_assert(fl_mdp_may_send(FL_MDP_ROLE_WORKER, FL_MDP_PROTO_WORKER, reply.command));
        zmsg_t *out = fl_mdp_broker_to_client(cmsg.service,
                                              reply.command == FL_MDP_WORKER_FINAL, &msg);
        ck_assert_int_eq(zmsg_prepend(out, &reply.address), 0);     /* take it from reply */
        fl_mdp_worker_msg_reset(&reply);
        ck_assert_int_eq(zmsg_send(&out, router), 0);
    }

    /* client: PARTIAL then FINAL */
    const char *want[2] = { "queued", "ticket P-001 to counter 4" };
    for (int i = 0; i < 2; i++) {
        msg = zmsg_recv(client);
        ck_assert_ptr_nonnull(msg);
        fl_mdp_client_msg_t rep;
        ck_assert_msg(fl_mdp_parse_client(msg, &rep, &err) == 0, "%s", err.message);
        ck_assert_int_eq(rep.command, i == 0 ? FL_MDP_CLIENT_PARTIAL : FL_MDP_CLIENT_FINAL);
        ck_assert(s_frame_is(zmsg_first(msg), want[i]));
        zmsg_destroy(&msg);
    }

    /* heartbeat both ways, then the worker says goodbye */
    msg = fl_mdp_worker_heartbeat();
    ck_assert_int_eq(fl_mdp_prepend_identity(msg, worker_id), 0);
    ck_assert_int_eq(zmsg_send(&msg, router), 0);
    msg = zmsg_recv(worker);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(fl_mdp_parse_worker(msg, &wmsg, &err), 0);
    ck_assert_int_eq(wmsg.command, FL_MDP_WORKER_HEARTBEAT);
    zmsg_destroy(&msg);
    msg = fl_mdp_worker_disconnect();
    ck_assert_int_eq(zmsg_send(&msg, worker), 0);
    msg = zmsg_recv(router);
    ck_assert_ptr_nonnull(msg);
    zframe_t *from = fl_mdp_pop_identity(msg, &err);
    ck_assert(zframe_eq(from, worker_id));
    ck_assert_int_eq(fl_mdp_parse_worker(msg, &wmsg, &err), 0);
    ck_assert_int_eq(wmsg.command, FL_MDP_WORKER_DISCONNECT);
    zmsg_destroy(&msg);

    zframe_destroy(&from);
    zframe_destroy(&client_id);
    zframe_destroy(&worker_id);
    zsock_destroy(&client);
    zsock_destroy(&worker);
    zsock_destroy(&router);
}
END_TEST

/*  A client speaking MDP/0.1 through a REQ socket reaches the ROUTER with the
 *  REQ's empty delimiter first; the parser names that, not just "bad header". */
START_TEST(test_mdp01_req_client_is_recognised_over_tcp)
{
    s_zmq_setup();
    int port = tu_free_port();
    zsock_t *router = s_socket(ZMQ_ROUTER);
    ck_assert_int_eq(zsock_bind(router, "tcp://127.0.0.1:%d", port), port);
    zsock_t *old = s_socket(ZMQ_REQ);
    ck_assert_int_eq(zsock_connect(old, "tcp://127.0.0.1:%d", port), 0);
    ck_assert_int_eq(zstr_sendx(old, "MDPC01", "echo", "hello", NULL), 0);

    zmsg_t *msg = zmsg_recv(router);
    ck_assert_ptr_nonnull(msg);
    fl_error_t err;
    zframe_t *identity = fl_mdp_pop_identity(msg, &err);
    ck_assert_ptr_nonnull(identity);
    ck_assert_int_eq(fl_mdp_protocol_of(msg), FL_MDP_PROTO_NONE);
    fl_mdp_client_msg_t out;
    ck_assert_int_eq(fl_mdp_parse_client(msg, &out, &err), FL_E_VERSION);
    ck_assert_ptr_nonnull(strstr(err.message, "MDP/0.1"));
    ck_assert_uint_eq(zmsg_size(msg), 4);
    zmsg_destroy(&msg);
    zframe_destroy(&identity);
    zsock_destroy(&old);
    zsock_destroy(&router);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *suite = suite_create("mdp");

    TCase *round = tcase_create("round trips");
    tcase_add_test(round, test_client_request_round_trips);
    tcase_add_test(round, test_broker_to_client_partial_and_final_round_trip);
    tcase_add_test(round, test_worker_ready_round_trips);
    tcase_add_test(round, test_worker_heartbeat_and_disconnect_round_trip);
    tcase_add_test(round, test_envelope_commands_round_trip_with_client_address);
    tcase_add_test(round, test_empty_body_travels_as_one_empty_frame);
    tcase_add_test(round, test_body_of_max_frames_keeps_its_order_and_one_more_is_refused);
    tcase_add_test(round, test_builders_refuse_what_parsers_would_reject);
    suite_add_tcase(suite, round);

    TCase *rules = tcase_create("rules");
    tcase_add_test(rules, test_service_name_boundaries);
    tcase_add_loop_test(rules, test_malformed_message_is_refused_with_its_code, 0, S_BAD_COUNT);
    tcase_add_test(rules, test_pop_identity_takes_only_a_real_identity);
    tcase_add_test(rules, test_protocol_of_reads_frame_zero);
    tcase_add_test(rules, test_may_send_follows_rfc18_directions);
    tcase_add_test(rules, test_command_names_follow_the_rfc);
    tcase_add_test(rules, test_compact_headers_round_trip_at_their_limits);
    tcase_add_test(rules, test_compact_malformed_headers_are_refused_with_their_code);
    suite_add_tcase(suite, rules);

    TCase *fuzz = tcase_create("garbage");
    tcase_add_test(fuzz, test_garbage_never_crashes_a_parser);
    tcase_add_test(fuzz, test_checks_bound_the_body_by_count_alone);
    tcase_add_test(fuzz, test_compact_garbage_is_never_accepted_unless_valid);
    tcase_set_timeout(fuzz, 60);
    suite_add_tcase(suite, fuzz);

    TCase *wire = tcase_create("sockets");
    tcase_add_test(wire, test_request_and_replies_cross_router_and_dealer_over_tcp);
    tcase_add_test(wire, test_client_worker_dialog_through_one_router_over_tcp);
    tcase_add_test(wire, test_mdp01_req_client_is_recognised_over_tcp);
    tcase_set_timeout(wire, 30);
    suite_add_tcase(suite, wire);
    return suite;
}
