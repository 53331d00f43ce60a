/*  mdp.c — MDP/0.2 frame builders and strict parsers.  See mdp.h for the frame
 *  layouts, the ownership rules and the error table.
 *
 *  Parsers work in two passes: first they look at the frames in place and decide,
 *  touching nothing, then (only on success) they strip the protocol frames.  So a
 *  rejected message is left whole for the caller to log or drop, and no partial
 *  result ever escapes.
 */
#include "libfoleni/mdp.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Frames a parser inspects before the body: header, command, and up to three
 * more (service, or address + delimiter + first body frame). */
#define S_LOOK_FRAMES 5

/* ---- small helpers -------------------------------------------------------- */

/*  The checks below read frames through fl_mdp_frame_t views, so the same code
 *  serves CZMQ messages (fl_mdp_parse_*) and frames received straight into
 *  zmq_msg_t (fl_mdp_check_*).  A missing frame is a NULL view. */
static size_t
s_size(const fl_mdp_frame_t *frame)
{
    return frame->size;
}

static const uint8_t *
s_data(const fl_mdp_frame_t *frame)
{
    return frame->data;
}

/*  A view of a CZMQ frame (which CZMQ's accessors take as non-const although
 *  they only read it). */
static fl_mdp_frame_t
s_view(const zframe_t *frame)
{
    return (fl_mdp_frame_t) { zframe_data((zframe_t *) frame), zframe_size((zframe_t *) frame) };
}

static const char *
s_header_of(fl_mdp_proto_t proto)
{
    return proto == FL_MDP_PROTO_CLIENT ? FL_MDP_CLIENT_HEADER : FL_MDP_WORKER_HEADER;
}

static bool
s_is_header(const fl_mdp_frame_t *frame, const char *header)
{
    return s_size(frame) == FL_MDP_HEADER_SIZE
        && memcmp(s_data(frame), header, FL_MDP_HEADER_SIZE) == 0;
}

/*  Views of the first S_LOOK_FRAMES frames of msg in views[], pointers to them
 *  in f[] (NULL past the end); returns the message's frame count. */
static size_t
s_look(zmsg_t *msg, fl_mdp_frame_t *views, const fl_mdp_frame_t **f)
{
    zframe_t *frame = zmsg_first(msg);
    for (size_t i = 0; i < S_LOOK_FRAMES; i++) {
        f[i] = NULL;
        if (frame) {
            views[i] = s_view(frame);
            f[i] = &views[i];
            frame = zmsg_next(msg);
        }
    }
    return zmsg_size(msg);
}

/*  Pointers to the first S_LOOK_FRAMES of n caller-given views (NULL past n). */
static void
s_point(const fl_mdp_frame_t *frames, size_t n, const fl_mdp_frame_t **f)
{
    for (size_t i = 0; i < S_LOOK_FRAMES; i++)
        f[i] = i < n ? &frames[i] : NULL;
}

/*  Pop and destroy the first n frames of msg. */
static void
s_drop_front(zmsg_t *msg, size_t n)
{
    while (n-- > 0) {
        zframe_t *frame = zmsg_pop(msg);
        assert(frame);
        zframe_destroy(&frame);
    }
}

/*  Service name rule, shared by the parsers, the builders and
 *  fl_mdp_service_check.  `where` prefixes the message ("frame 2: " or ""). */
static int
s_check_service(const uint8_t *data, size_t size, const char *where, fl_error_t *err)
{
    if (size == 0)
        return fl_error_set(err, FL_E_INVALID, "service", "%sservice name is empty", where);
    if (size > FL_MDP_SERVICE_MAX)
        return fl_error_set(err, FL_E_TOO_LONG, "service",
                            "%sservice name is %zu bytes, longer than %d",
                            where, size, FL_MDP_SERVICE_MAX);
    for (size_t i = 0; i < size; i++)
        if (data[i] < 0x21 || data[i] > 0x7e)
            return fl_error_set(err, FL_E_INVALID, "service",
                                "%sservice name has byte 0x%02x at offset %zu; "
                                "only visible ASCII (0x21..0x7e) is allowed",
                                where, data[i], i);
    return FL_OK;
}

/*  Client address or ROUTER identity: 1..FL_MDP_ADDRESS_MAX bytes. */
static int
s_check_address(const fl_mdp_frame_t *frame, const char *field, const char *what,
                unsigned index, fl_error_t *err)
{
    size_t size = s_size(frame);
    if (size == 0)
        return fl_error_set(err, FL_E_INVALID, field, "frame %u: %s is empty", index, what);
    if (size > FL_MDP_ADDRESS_MAX)
        return fl_error_set(err, FL_E_TOO_LONG, field, "frame %u: %s is %zu bytes, longer than %d",
                            index, what, size, FL_MDP_ADDRESS_MAX);
    return FL_OK;
}

/*  Frame 0 must be the header of `want`.  Anything else is told apart as well as
 *  the bytes allow, so a log line says what kind of peer is talking. */
static int
s_check_header(const fl_mdp_frame_t *f0, const fl_mdp_frame_t *f1, fl_mdp_proto_t want, fl_error_t *err)
{
    const char *header = s_header_of(want);
    const fl_mdp_proto_t other = want == FL_MDP_PROTO_CLIENT ? FL_MDP_PROTO_WORKER
                                                             : FL_MDP_PROTO_CLIENT;
    if (s_is_header(f0, header))
        return FL_OK;
    if (s_is_header(f0, s_header_of(other)))
        return fl_error_set(err, FL_E_INVALID, "header",
                            "frame 0: got the %s header %s where %s was expected",
                            other == FL_MDP_PROTO_CLIENT ? "client" : "worker",
                            s_header_of(other), header);

    size_t size = s_size(f0);
    const uint8_t *data = s_data(f0);
    if (size == FL_MDP_HEADER_SIZE && memcmp(data, "MDP", 3) == 0
        && (data[3] == 'C' || data[3] == 'W')) {
        bool digits = data[4] >= '0' && data[4] <= '9' && data[5] >= '0' && data[5] <= '9';
        if (digits)
            return fl_error_set(err, FL_E_VERSION, "header",
                                "frame 0: protocol %.6s is not supported; expected %s (MDP/0.2)",
                                (const char *) data, header);
        return fl_error_set(err, FL_E_VERSION, "header",
                            "frame 0: unknown MDP version; expected %s (MDP/0.2)", header);
    }
    if (size == 0 && f1 && s_size(f1) == FL_MDP_HEADER_SIZE
        && memcmp(s_data(f1), "MDP", 3) == 0)
        return fl_error_set(err, FL_E_VERSION, "header",
                            "frame 0: empty frame before the header, as MDP/0.1 or a REQ "
                            "socket sends; expected %s (MDP/0.2)", header);
    return fl_error_set(err, FL_E_INVALID, "header",
                        "frame 0: not an MDP header (%zu bytes); expected %s", size, header);
}

/*  Frame 1 must be exactly one byte; return it through *command. */
static int
s_check_command(const fl_mdp_frame_t *f1, fl_mdp_proto_t proto, int *command, fl_error_t *err)
{
    if (!f1)
        return fl_error_set(err, FL_E_TRUNCATED, "command", "frame 1: command missing");
    if (s_size(f1) != 1)
        return fl_error_set(err, FL_E_INVALID, "command",
                            "frame 1: command must be one byte, got %zu", s_size(f1));
    int byte = s_data(f1)[0];
    int last = proto == FL_MDP_PROTO_CLIENT ? FL_MDP_CLIENT_FINAL : FL_MDP_WORKER_DISCONNECT;
    if (byte < 1 || byte > last)
        return fl_error_set(err, FL_E_UNKNOWN, "command", "frame 1: unknown %s command 0x%02x",
                            s_header_of(proto), byte);
    *command = byte;
    return FL_OK;
}

/*  A body starts at frame `first` of an n-frame message: at least one frame,
 *  at most FL_MDP_BODY_FRAMES_MAX. */
static int
s_check_body(size_t n, unsigned first, const char *command, fl_error_t *err)
{
    if (n <= first)
        return fl_error_set(err, FL_E_TRUNCATED, "body",
                            "frame %u: body missing; %s needs at least one body frame",
                            first, command);
    if (n - first > FL_MDP_BODY_FRAMES_MAX)
        return fl_error_set(err, FL_E_TOO_LONG, "body",
                            "frame %u: body has %zu frames, more than %d",
                            first, n - first, FL_MDP_BODY_FRAMES_MAX);
    return FL_OK;
}

/* ---- builders ------------------------------------------------------------- */

/*  Take the body out of *body_p (which may be NULL), so every builder consumes
 *  it whatever happens next. */
static zmsg_t *
s_take_body(zmsg_t **body_p)
{
    zmsg_t *body = NULL;
    if (body_p) {
        body = *body_p;
        *body_p = NULL;
    }
    return body;
}

static bool
s_body_fits(zmsg_t *body)
{
    return !body || zmsg_size(body) <= FL_MDP_BODY_FRAMES_MAX;
}

static zmsg_t *
s_command(const char *header, uint8_t command)
{
    zmsg_t *msg = zmsg_new();
    assert(msg);
    zmsg_addmem(msg, header, FL_MDP_HEADER_SIZE);
    zmsg_addmem(msg, &command, 1);
    return msg;
}

/*  Move every frame of *body_p to the end of msg (one empty frame if there are
 *  none) and destroy the emptied body. */
static void
s_append_body(zmsg_t *msg, zmsg_t **body_p)
{
    size_t moved = 0;
    if (*body_p) {
        zframe_t *frame;
        while ((frame = zmsg_pop(*body_p)) != NULL) {
            zmsg_append(msg, &frame);
            moved++;
        }
        zmsg_destroy(body_p);
    }
    if (moved == 0)
        zmsg_addmem(msg, NULL, 0);
}

static bool
s_service_ok(const char *service)
{
    assert(service);
    return s_check_service((const uint8_t *) service, strlen(service), "", NULL) == FL_OK;
}

static zmsg_t *
s_client_reply_or_request(uint8_t command, const char *service, zmsg_t **body_p)
{
    zmsg_t *body = s_take_body(body_p);
    if (!s_service_ok(service) || !s_body_fits(body)) {
        zmsg_destroy(&body);
        return NULL;
    }
    zmsg_t *msg = s_command(FL_MDP_CLIENT_HEADER, command);
    zmsg_addstr(msg, service);
    s_append_body(msg, &body);
    return msg;
}

/*  REQUEST, PARTIAL or FINAL on the worker side: address, delimiter, body. */
static zmsg_t *
s_worker_envelope(uint8_t command, const zframe_t *client_addr, zmsg_t **body_p)
{
    assert(client_addr);
    zmsg_t *body = s_take_body(body_p);
    fl_mdp_frame_t addr = s_view(client_addr);
    if (s_check_address(&addr, "address", "client address", 2, NULL) != FL_OK
        || !s_body_fits(body)) {
        zmsg_destroy(&body);
        return NULL;
    }
    zmsg_t *msg = s_command(FL_MDP_WORKER_HEADER, command);
    zmsg_addmem(msg, addr.data, addr.size);
    zmsg_addmem(msg, NULL, 0);
    s_append_body(msg, &body);
    return msg;
}

zmsg_t *
fl_mdp_client_request(const char *service, zmsg_t **body_p)
{
    return s_client_reply_or_request(FL_MDP_CLIENT_REQUEST, service, body_p);
}

zmsg_t *
fl_mdp_broker_to_client(const char *service, bool final, zmsg_t **body_p)
{
    return s_client_reply_or_request(final ? FL_MDP_CLIENT_FINAL : FL_MDP_CLIENT_PARTIAL,
                                     service, body_p);
}

zmsg_t *
fl_mdp_worker_ready(const char *service)
{
    if (!s_service_ok(service))
        return NULL;
    zmsg_t *msg = s_command(FL_MDP_WORKER_HEADER, FL_MDP_WORKER_READY);
    zmsg_addstr(msg, service);
    return msg;
}

zmsg_t *
fl_mdp_worker_ready_window(const char *service, unsigned window)
{
    if (window < 1 || window > FL_MDP_WINDOW_MAX)
        return NULL;
    zmsg_t *msg = fl_mdp_worker_ready(service);
    if (msg)
        zmsg_addstrf(msg, "%u", window);
    return msg;
}

zmsg_t *
fl_mdp_worker_heartbeat(void)
{
    return s_command(FL_MDP_WORKER_HEADER, FL_MDP_WORKER_HEARTBEAT);
}

zmsg_t *
fl_mdp_worker_disconnect(void)
{
    return s_command(FL_MDP_WORKER_HEADER, FL_MDP_WORKER_DISCONNECT);
}

zmsg_t *
fl_mdp_broker_to_worker_request(const zframe_t *client_addr, zmsg_t **body_p)
{
    return s_worker_envelope(FL_MDP_WORKER_REQUEST, client_addr, body_p);
}

zmsg_t *
fl_mdp_worker_partial(const zframe_t *client_addr, zmsg_t **body_p)
{
    return s_worker_envelope(FL_MDP_WORKER_PARTIAL, client_addr, body_p);
}

zmsg_t *
fl_mdp_worker_final(const zframe_t *client_addr, zmsg_t **body_p)
{
    return s_worker_envelope(FL_MDP_WORKER_FINAL, client_addr, body_p);
}

/* ---- parsers -------------------------------------------------------------- */

/* READY's optional frame 3: the worker's window, 1..FL_MDP_WINDOW_MAX in
 * ASCII decimal without leading zeros. */
static int
s_check_window(const fl_mdp_frame_t *f, unsigned *window, fl_error_t *err)
{
    const char *d = (const char *) s_data(f);
    size_t n = s_size(f);
    unsigned v = 0;
    bool ok = n >= 1 && n <= 4 && d[0] != '0';
    for (size_t i = 0; ok && i < n; i++) {
        ok = d[i] >= '0' && d[i] <= '9';
        v = v * 10 + (unsigned) (d[i] - '0');
    }
    if (!ok || v > FL_MDP_WINDOW_MAX)
        return fl_error_set(err, FL_E_INVALID, "window",
                            "frame 3: READY's window must be a number 1..%d", FL_MDP_WINDOW_MAX);
    *window = v;
    return FL_OK;
}

/* The part every check shares: the header and the command byte of the given
 * sub-protocol, in frames f[0] and f[1] of an n-frame message. */
static int
s_prologue(const fl_mdp_frame_t **f, size_t n, fl_mdp_proto_t proto, int *command, fl_error_t *err)
{
    if (n == 0)
        return fl_error_set(err, FL_E_TRUNCATED, "frames",
                            "frame 0: empty message; expected the %s header",
                            proto == FL_MDP_PROTO_CLIENT ? FL_MDP_CLIENT_HEADER : FL_MDP_WORKER_HEADER);
    int rc = s_check_header(f[0], f[1], proto, err);
    if (rc == FL_OK)
        rc = s_check_command(f[1], proto, command, err);
    return rc;
}

/* Decide on an MDP/Client command, touching nothing but *out (zeroed first). */
static int
s_client_check(const fl_mdp_frame_t **f, size_t n, fl_mdp_client_msg_t *out, fl_error_t *err)
{
    memset(out, 0, sizeof *out);
    int command = 0;
    int rc = s_prologue(f, n, FL_MDP_PROTO_CLIENT, &command, err);
    if (rc != FL_OK)
        return rc;
    const char *name = fl_mdp_command_name(FL_MDP_PROTO_CLIENT, command);
    if (!f[2])
        return fl_error_set(err, FL_E_TRUNCATED, "service",
                            "frame 2: service name missing from %s", name);
    if ((rc = s_check_service(s_data(f[2]), s_size(f[2]), "frame 2: ", err)) != FL_OK
        || (rc = s_check_body(n, 3, name, err)) != FL_OK)
        return rc;
    out->command = (fl_mdp_client_command_t) command;
    memcpy(out->service, s_data(f[2]), s_size(f[2]));
    out->service[s_size(f[2])] = '\0';
    return FL_OK;
}

/* Decide on an MDP/Worker command, touching nothing but *out (zeroed first;
 * out->address stays NULL). */
static int
s_worker_check(const fl_mdp_frame_t **f, size_t n, fl_mdp_worker_msg_t *out, fl_error_t *err)
{
    memset(out, 0, sizeof *out);
    int command = 0;
    int rc = s_prologue(f, n, FL_MDP_PROTO_WORKER, &command, err);
    if (rc != FL_OK)
        return rc;
    const char *name = fl_mdp_command_name(FL_MDP_PROTO_WORKER, command);

    switch (command) {
    case FL_MDP_WORKER_READY:
        if (!f[2])
            return fl_error_set(err, FL_E_TRUNCATED, "service",
                                "frame 2: service name missing from READY");
        if ((rc = s_check_service(s_data(f[2]), s_size(f[2]), "frame 2: ", err)) != FL_OK)
            return rc;
        if (n > 4)
            return fl_error_set(err, FL_E_TRAILING, "frames",
                                "frame 4: READY has 3 frames, or 4 with a window, got %zu", n);
        if (n == 4 && (rc = s_check_window(f[3], &out->window, err)) != FL_OK) {
            out->window = 0;
            return rc;
        }
        out->command = FL_MDP_WORKER_READY;
        memcpy(out->service, s_data(f[2]), s_size(f[2]));
        out->service[s_size(f[2])] = '\0';
        return FL_OK;

    case FL_MDP_WORKER_HEARTBEAT:
    case FL_MDP_WORKER_DISCONNECT:
        if (n > 2)
            return fl_error_set(err, FL_E_TRAILING, "frames",
                                "frame 2: %s has exactly 2 frames, got %zu", name, n);
        out->command = (fl_mdp_worker_command_t) command;
        return FL_OK;

    default:    /* REQUEST, PARTIAL, FINAL */
        assert(command == FL_MDP_WORKER_REQUEST || command == FL_MDP_WORKER_PARTIAL
               || command == FL_MDP_WORKER_FINAL);
        if (!f[2])
            return fl_error_set(err, FL_E_TRUNCATED, "address",
                                "frame 2: client address missing from %s", name);
        if ((rc = s_check_address(f[2], "address", "client address", 2, err)) != FL_OK)
            return rc;
        if (!f[3])
            return fl_error_set(err, FL_E_TRUNCATED, "delimiter",
                                "frame 3: empty envelope delimiter missing from %s", name);
        if (s_size(f[3]) != 0)
            return fl_error_set(err, FL_E_INVALID, "delimiter",
                                "frame 3: envelope delimiter must be empty, got %zu bytes "
                                "(exactly one client address frame is allowed)",
                                s_size(f[3]));
        if ((rc = s_check_body(n, 4, name, err)) != FL_OK)
            return rc;
        out->command = (fl_mdp_worker_command_t) command;
        return FL_OK;
    }
}

int
fl_mdp_parse_client(zmsg_t *msg, fl_mdp_client_msg_t *out, fl_error_t *err)
{
    assert(msg);
    assert(out);
    fl_mdp_frame_t views[S_LOOK_FRAMES];
    const fl_mdp_frame_t *f[S_LOOK_FRAMES];
    size_t n = s_look(msg, views, f);
    int rc = s_client_check(f, n, out, err);
    if (rc == FL_OK)
        s_drop_front(msg, 3);       /* accepted: now, and only now, change msg */
    return rc;
}

int
fl_mdp_parse_worker(zmsg_t *msg, fl_mdp_worker_msg_t *out, fl_error_t *err)
{
    assert(msg);
    assert(out);
    fl_mdp_frame_t views[S_LOOK_FRAMES];
    const fl_mdp_frame_t *f[S_LOOK_FRAMES];
    size_t n = s_look(msg, views, f);
    int rc = s_worker_check(f, n, out, err);
    if (rc != FL_OK)
        return rc;
    switch (out->command) {     /* accepted: now, and only now, change msg */
    case FL_MDP_WORKER_READY:
        s_drop_front(msg, n);   /* 3, or 4 with the window read above */
        break;
    case FL_MDP_WORKER_HEARTBEAT:
    case FL_MDP_WORKER_DISCONNECT:
        s_drop_front(msg, 2);
        break;
    default:
        s_drop_front(msg, 2);
        out->address = zmsg_pop(msg);
        s_drop_front(msg, 1);
        break;
    }
    return FL_OK;
}

int
fl_mdp_check_client(const fl_mdp_frame_t *frames, size_t n, fl_mdp_client_msg_t *out, fl_error_t *err)
{
    assert(frames || n == 0);
    assert(out);
    const fl_mdp_frame_t *f[S_LOOK_FRAMES];
    s_point(frames, n, f);
    return s_client_check(f, n, out, err);
}

int
fl_mdp_check_worker(const fl_mdp_frame_t *frames, size_t n, fl_mdp_worker_msg_t *out, fl_error_t *err)
{
    assert(frames || n == 0);
    assert(out);
    const fl_mdp_frame_t *f[S_LOOK_FRAMES];
    s_point(frames, n, f);
    return s_worker_check(f, n, out, err);
}

void
fl_mdp_worker_msg_reset(fl_mdp_worker_msg_t *self)
{
    assert(self);
    zframe_destroy(&self->address);
    memset(self, 0, sizeof *self);
}

/* ---- ROUTER helpers ------------------------------------------------------- */

zframe_t *
fl_mdp_pop_identity(zmsg_t *msg, fl_error_t *err)
{
    assert(msg);
    zframe_t *identity = zmsg_first(msg);
    if (!identity) {
        fl_error_set(err, FL_E_TRUNCATED, "identity",
                     "frame 0: empty message; expected a peer identity");
        return NULL;
    }
    fl_mdp_frame_t view = s_view(identity);
    if (s_check_address(&view, "identity", "peer identity", 0, err) != FL_OK)
        return NULL;
    return zmsg_pop(msg);
}

int
fl_mdp_prepend_identity(zmsg_t *msg, const zframe_t *identity)
{
    assert(msg);
    assert(identity);
    fl_mdp_frame_t view = s_view(identity);
    int rc = s_check_address(&view, "identity", "peer identity", 0, NULL);
    if (rc != FL_OK)
        return rc;
    zmsg_pushmem(msg, view.data, view.size);
    return FL_OK;
}

fl_mdp_proto_t
fl_mdp_protocol_of(zmsg_t *msg)
{
    assert(msg);
    zframe_t *first = zmsg_first(msg);
    if (!first)
        return FL_MDP_PROTO_NONE;
    fl_mdp_frame_t view = s_view(first);
    return fl_mdp_protocol_of_frame(&view);
}

fl_mdp_proto_t
fl_mdp_protocol_of_frame(const fl_mdp_frame_t *first)
{
    if (first && s_is_header(first, FL_MDP_CLIENT_HEADER))
        return FL_MDP_PROTO_CLIENT;
    if (first && s_is_header(first, FL_MDP_WORKER_HEADER))
        return FL_MDP_PROTO_WORKER;
    return FL_MDP_PROTO_NONE;
}

int
fl_mdp_address_check(const void *data, size_t size, fl_error_t *err)
{
    assert(data || size == 0);
    fl_mdp_frame_t view = { data, size };
    return s_check_address(&view, "identity", "peer identity", 0, err);
}

/* ---- names and rules ------------------------------------------------------ */

int
fl_mdp_service_check(const void *data, size_t size, fl_error_t *err)
{
    assert(data || size == 0);
    return s_check_service(data, size, "", err);
}

bool
fl_mdp_service_is_mmi(const char *service)
{
    assert(service);
    return strncmp(service, FL_MDP_MMI_PREFIX, strlen(FL_MDP_MMI_PREFIX)) == 0;
}

bool
fl_mdp_may_send(fl_mdp_role_t sender, fl_mdp_proto_t proto, int command)
{
    if (proto == FL_MDP_PROTO_CLIENT) {
        switch (command) {
        case FL_MDP_CLIENT_REQUEST: return sender == FL_MDP_ROLE_CLIENT;
        case FL_MDP_CLIENT_PARTIAL:
        case FL_MDP_CLIENT_FINAL:   return sender == FL_MDP_ROLE_BROKER;
        default:                    return false;
        }
    }
    if (proto == FL_MDP_PROTO_WORKER) {
        switch (command) {
        case FL_MDP_WORKER_READY:
        case FL_MDP_WORKER_PARTIAL:
        case FL_MDP_WORKER_FINAL:      return sender == FL_MDP_ROLE_WORKER;
        case FL_MDP_WORKER_REQUEST:    return sender == FL_MDP_ROLE_BROKER;
        case FL_MDP_WORKER_HEARTBEAT:
        case FL_MDP_WORKER_DISCONNECT: return sender == FL_MDP_ROLE_WORKER
                                           || sender == FL_MDP_ROLE_BROKER;
        default:                       return false;
        }
    }
    return false;
}

const char *
fl_mdp_command_name(fl_mdp_proto_t proto, int command)
{
    static const char *const client[] = {
        [FL_MDP_CLIENT_REQUEST] = "REQUEST",
        [FL_MDP_CLIENT_PARTIAL] = "PARTIAL",
        [FL_MDP_CLIENT_FINAL]   = "FINAL",
    };
    static const char *const worker[] = {
        [FL_MDP_WORKER_READY]      = "READY",
        [FL_MDP_WORKER_REQUEST]    = "REQUEST",
        [FL_MDP_WORKER_PARTIAL]    = "PARTIAL",
        [FL_MDP_WORKER_FINAL]      = "FINAL",
        [FL_MDP_WORKER_HEARTBEAT]  = "HEARTBEAT",
        [FL_MDP_WORKER_DISCONNECT] = "DISCONNECT",
    };
    if (proto == FL_MDP_PROTO_CLIENT && command >= FL_MDP_CLIENT_REQUEST
        && command <= FL_MDP_CLIENT_FINAL)
        return client[command];
    if (proto == FL_MDP_PROTO_WORKER && command >= FL_MDP_WORKER_READY
        && command <= FL_MDP_WORKER_DISCONNECT)
        return worker[command];
    return "UNKNOWN";
}

bool
fl_mdp_recv_frames(void *socket, zmq_msg_t *f, size_t cap, size_t *n, size_t *total)
{
    return fl_mdp_recv_frames_wait(socket, 0, f, cap, n, total);
}

bool
fl_mdp_recv_frames_wait(void *socket, int timeout_ms, zmq_msg_t *f, size_t cap, size_t *n, size_t *total)
{
    assert(socket && f && cap > 0 && n && total);
    /* A blocking read waits in one poll() on the socket's mailbox and costs
     * nothing when a message is already there; zmq_poll, then a read, costs
     * several system calls per wake-up (ZMQ_EVENTS before and after). */
    if (timeout_ms != 0 && zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms) != 0)
        timeout_ms = 0;
    zmq_msg_init(&f[0]);
    if (zmq_msg_recv(&f[0], socket, timeout_ms ? 0 : ZMQ_DONTWAIT) < 0) {
        int saved = errno;
        zmq_msg_close(&f[0]);
        errno = saved;
        return false;
    }
    *n = 1;
    *total = 1;
    bool more = zmq_msg_more(&f[0]);
    while (more) {
        zmq_msg_t spare, *m = *n < cap ? &f[*n] : &spare;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        (*total)++;
        if (m == &spare)
            zmq_msg_close(m);           /* counted only: the caller's check refuses it */
        else
            (*n)++;
    }
    return true;
}

/* ---- compact framing ------------------------------------------------------ */

fl_mdp_proto_t
fl_mdp_compact_of_frame(const fl_mdp_frame_t *first)
{
    if (!first || first->size < FL_MDP_TAG_SIZE)
        return FL_MDP_PROTO_NONE;
    if (memcmp(first->data, FL_MDP_COMPACT_CLIENT_TAG, FL_MDP_TAG_SIZE) == 0)
        return FL_MDP_PROTO_CLIENT;
    if (memcmp(first->data, FL_MDP_COMPACT_WORKER_TAG, FL_MDP_TAG_SIZE) == 0)
        return FL_MDP_PROTO_WORKER;
    return FL_MDP_PROTO_NONE;
}

fl_mdp_proto_t
fl_mdp_compact_peer(const void *identity, size_t size)
{
    fl_mdp_frame_t view = { identity, size };
    return fl_mdp_compact_of_frame(&view);
}

bool
fl_mdp_compact_rid_ok(const void *rid, size_t size)
{
    const uint8_t *d = rid;
    if (size == 0 || size > FL_MDP_RID_MAX)
        return false;
    for (size_t i = 0; i < size; i++)
        if (d[i] < 0x21 || d[i] > 0x7e)
            return false;
    return true;
}

/*  Read one length-prefixed field of the header at *at: its length byte,
 *  then that many bytes, all inside size.  `what` names it in the sentence. */
static int
s_field(const uint8_t *d, size_t size, size_t *at, fl_mdp_frame_t *out, const char *field,
        const char *what, fl_error_t *err)
{
    if (*at >= size)
        return fl_error_set(err, FL_E_TRUNCATED, field,
                            "frame 0: header ends at byte %zu, before the %s length", size, what);
    size_t len = d[*at];
    if (len > size - *at - 1)
        return fl_error_set(err, FL_E_TRUNCATED, field,
                            "frame 0: %s length %zu at byte %zu runs past the header's %zu bytes",
                            what, len, *at, size);
    *out = (fl_mdp_frame_t) { d + *at + 1, len };
    *at += 1 + len;
    return FL_OK;
}

int
fl_mdp_check_compact(const fl_mdp_frame_t *frames, size_t n, fl_mdp_compact_t *out, fl_error_t *err)
{
    assert(frames || n == 0);
    assert(out);
    memset(out, 0, sizeof *out);
    if (n == 0)
        return fl_error_set(err, FL_E_TRUNCATED, "frames", "frame 0: empty message; expected a compact header");
    const uint8_t *d = s_data(&frames[0]);
    size_t size = s_size(&frames[0]);
    fl_mdp_proto_t proto = fl_mdp_compact_of_frame(&frames[0]);
    if (proto == FL_MDP_PROTO_NONE)
        return fl_error_set(err, FL_E_INVALID, "header",
                            "frame 0: not a compact header; expected %s or %s",
                            FL_MDP_COMPACT_CLIENT_TAG, FL_MDP_COMPACT_WORKER_TAG);
    if (size < FL_MDP_TAG_SIZE + 1)
        return fl_error_set(err, FL_E_TRUNCATED, "command", "frame 0: command missing after the tag");
    int command = d[FL_MDP_TAG_SIZE];
    bool client = proto == FL_MDP_PROTO_CLIENT;
    int first = client ? FL_MDP_CLIENT_REQUEST : FL_MDP_WORKER_REQUEST;
    int last = client ? FL_MDP_CLIENT_FINAL : FL_MDP_WORKER_FINAL;
    if (command < first || command > last)
        return fl_error_set(err, FL_E_UNKNOWN, "command", "frame 0: unknown %s command 0x%02x",
                            client ? FL_MDP_COMPACT_CLIENT_TAG : FL_MDP_COMPACT_WORKER_TAG, command);
    const char *name = fl_mdp_command_name(client ? FL_MDP_PROTO_CLIENT : FL_MDP_PROTO_WORKER, command);
    size_t at = FL_MDP_TAG_SIZE + 1;
    fl_mdp_compact_t c = { .proto = proto, .command = command };
    int rc;
    if (client) {
        if ((rc = s_field(d, size, &at, &c.service, "service", "service", err)) != FL_OK
            || (rc = s_check_service(s_data(&c.service), s_size(&c.service), "frame 0: ", err)) != FL_OK)
            return rc;
    } else {
        if ((rc = s_field(d, size, &at, &c.address, "address", "client address", err)) != FL_OK
            || (rc = s_check_address(&c.address, "address", "client address", 0, err)) != FL_OK
            || (rc = s_field(d, size, &at, &c.caller, "caller", "caller", err)) != FL_OK)
            return rc;
        if (c.caller.size != 0 && c.caller.size != FL_MDP_CALLER_SIZE)
            return fl_error_set(err, FL_E_INVALID, "caller",
                                "frame 0: caller is %zu bytes; expected 0 or %d",
                                c.caller.size, FL_MDP_CALLER_SIZE);
    }
    if ((rc = s_field(d, size, &at, &c.rid, "rid", "request id", err)) != FL_OK)
        return rc;
    if (c.rid.size > FL_MDP_RID_MAX)
        return fl_error_set(err, FL_E_TOO_LONG, "rid", "frame 0: request id is %zu bytes, longer than %d",
                            c.rid.size, FL_MDP_RID_MAX);
    if (c.rid.size && !fl_mdp_compact_rid_ok(c.rid.data, c.rid.size))
        return fl_error_set(err, FL_E_INVALID, "rid",
                            "frame 0: request id has a byte outside visible ASCII (0x21..0x7e)");
    if (at != size)
        return fl_error_set(err, FL_E_TRAILING, "header",
                            "frame 0: %zu bytes after the request id; the header is %zu bytes",
                            size - at, at);
    unsigned body_max = FL_MDP_BODY_FRAMES_MAX - (c.rid.size ? 1 : 0);
    if (n < 2)
        return fl_error_set(err, FL_E_TRUNCATED, "body",
                            "frame 1: body missing; %s needs at least one body frame", name);
    if (n - 1 > body_max)
        return fl_error_set(err, FL_E_TOO_LONG, "body", "frame 1: body has %zu frames, more than %u",
                            n - 1, body_max);
    *out = c;
    return FL_OK;
}

/*  Append a length byte and the field; false when it is longer than max. */
static bool
s_put_field(uint8_t *buf, size_t *at, const void *data, size_t size, size_t max)
{
    if (size > max)
        return false;
    buf[(*at)++] = (uint8_t) size;
    if (size)
        memcpy(buf + *at, data, size);
    *at += size;
    return true;
}

size_t
fl_mdp_compact_pack_client(uint8_t *buf, int command, const void *service, size_t service_size,
                           const void *rid, size_t rid_size)
{
    assert(buf);
    if (command < FL_MDP_CLIENT_REQUEST || command > FL_MDP_CLIENT_FINAL
        || s_check_service(service, service_size, "", NULL) != FL_OK
        || (rid_size && !fl_mdp_compact_rid_ok(rid, rid_size)))
        return 0;
    memcpy(buf, FL_MDP_COMPACT_CLIENT_TAG, FL_MDP_TAG_SIZE);
    buf[FL_MDP_TAG_SIZE] = (uint8_t) command;
    size_t at = FL_MDP_TAG_SIZE + 1;
    s_put_field(buf, &at, service, service_size, FL_MDP_SERVICE_MAX);
    s_put_field(buf, &at, rid, rid_size, FL_MDP_RID_MAX);
    return at;
}

size_t
fl_mdp_compact_pack_worker(uint8_t *buf, int command, const void *address, size_t address_size,
                           const void *caller, size_t caller_size, const void *rid, size_t rid_size)
{
    assert(buf);
    if (command < FL_MDP_WORKER_REQUEST || command > FL_MDP_WORKER_FINAL || address_size == 0
        || address_size > FL_MDP_ADDRESS_MAX || (caller_size != 0 && caller_size != FL_MDP_CALLER_SIZE)
        || (rid_size && !fl_mdp_compact_rid_ok(rid, rid_size)))
        return 0;
    memcpy(buf, FL_MDP_COMPACT_WORKER_TAG, FL_MDP_TAG_SIZE);
    buf[FL_MDP_TAG_SIZE] = (uint8_t) command;
    size_t at = FL_MDP_TAG_SIZE + 1;
    s_put_field(buf, &at, address, address_size, FL_MDP_ADDRESS_MAX);
    s_put_field(buf, &at, caller, caller_size, FL_MDP_CALLER_SIZE);
    s_put_field(buf, &at, rid, rid_size, FL_MDP_RID_MAX);
    return at;
}

void
fl_mdp_compact_identity(fl_mdp_proto_t side, uint8_t out[FL_MDP_IDENTITY_SIZE])
{
    assert(side == FL_MDP_PROTO_CLIENT || side == FL_MDP_PROTO_WORKER);
    memcpy(out, side == FL_MDP_PROTO_CLIENT ? FL_MDP_COMPACT_CLIENT_TAG : FL_MDP_COMPACT_WORKER_TAG,
           FL_MDP_TAG_SIZE);
    uint8_t *rnd = out + FL_MDP_TAG_SIZE;
    size_t want = FL_MDP_IDENTITY_SIZE - FL_MDP_TAG_SIZE;
    if (getrandom(rnd, want, 0) != (ssize_t) want) {
        /* unique enough on one host: a ROUTER refuses only a duplicate
         * connected at the same moment */
        static _Atomic uint32_t counter;
        uint32_t a = (uint32_t) zclock_usecs() ^ ((uint32_t) getpid() << 16);
        uint32_t b = ++counter;
        memcpy(rnd, &a, 4);
        memcpy(rnd + 4, &b, 4);
    }
}
