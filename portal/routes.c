/*  routes.c — what each URL means: checking the request, building the
 *  scheduler's message, and turning its reply into the HTTP answer.
 *
 *  The rule for request bodies is one: a JSON object with exactly the fields
 *  the endpoint takes, each of its type; anything else is a 400 that names the
 *  field.  Names, ID numbers and phones are checked and normalised here (the
 *  scheduler checks them again), so a citizen hears about a typo at once.
 */
#include "portal/internal.h"

#include <string.h>

#include "libfoleni/ids.h"
#include "libfoleni/json.h"

typedef struct {
    const char *name;
    json_type type;
    bool required;
} field_t;

void
routes_error(route_result_t *out, int status, const char *code, const char *message, const char *field)
{
    out->status = status;
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (field && *field)
        json_object_set_new(e, "field", json_string(field));
    out->json = json_pack("{s:o}", "error", e);
}

int
routes_status_of(const char *code)
{
    static const struct { const char *code; int status; } map[] = {
        { "not_found", 404 }, { "empty", 404 }, { "full", 409 }, { "conflict", 409 }, { "closed", 409 },
        { "forbidden", 403 }, { "unavailable", 503 }, { "timeout", 503 }, { "store", 503 }, { "io", 503 },
        { "nomem", 503 },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].code, code))
            return map[i].status;
    return 400;                         /* every shape or value problem */
}

static void
s_fail(route_result_t *out, const fl_error_t *err)
{
    routes_error(out, routes_status_of(fl_error_name(err->code)), fl_error_name(err->code), err->message,
                 err->field);
}

/* Parse the body against the endpoint's fields; NULL after answering 400. */
static json_t *
s_body(request_t *req, const field_t *fields, route_result_t *out)
{
    if (req->too_big) {
        routes_error(out, 413, "too_long", "the request body is over 4 KiB", "");
        return NULL;
    }
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        char msg[240];
        snprintf(msg, sizeof msg, "the body is not valid JSON: %.120s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        routes_error(out, 400, "invalid", msg, "");
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        routes_error(out, 400, "type", "the body must be a JSON object", "");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        const field_t *f = NULL;
        for (int i = 0; fields[i].name; i++)
            if (!strcmp(fields[i].name, key))
                f = &fields[i];
        char msg[200];
        if (!f) {
            snprintf(msg, sizeof msg, "%.60s: this request takes no such field", key);
            routes_error(out, 400, "unknown", msg, key);
            json_decref(body);
            return NULL;
        }
        if (json_typeof(v) != f->type) {
            snprintf(msg, sizeof msg, "%s: must be %s", key, f->type == JSON_STRING ? "a string" : "a number");
            routes_error(out, 400, "type", msg, key);
            json_decref(body);
            return NULL;
        }
    }
    for (int i = 0; fields[i].name; i++)
        if (fields[i].required && !json_object_get(body, fields[i].name)) {
            char msg[120];
            snprintf(msg, sizeof msg, "%s: required", fields[i].name);
            routes_error(out, 400, "missing", msg, fields[i].name);
            json_decref(body);
            return NULL;
        }
    return body;
}

/* Build the scheduler message from a JSON object with "type"; 400 if refused. */
static void
s_message(json_t *msg, route_result_t *out, int created)
{
    fl_error_t err;
    out->msg = fl_msg_from_json(msg, &err);
    json_decref(msg);
    if (!out->msg)
        s_fail(out, &err);
    out->created_status = created;
}

/* Split "/api/a/b/c" into at most n segments; returns the count. */
static int
s_segments(const char *path, char seg[][64], int n)
{
    int count = 0;
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p && count < n) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if (len >= 64)
            return -1;
        memcpy(seg[count], p, len);
        seg[count][len] = '\0';
        count++;
        p += len;
        while (*p == '/')
            p++;
    }
    return *p ? -1 : count;
}

static const field_t s_book_fields[] = {
    { "office", JSON_STRING, true }, { "service", JSON_STRING, true }, { "start", JSON_INTEGER, true },
    { "name", JSON_STRING, true }, { "id_type", JSON_STRING, true }, { "id_number", JSON_STRING, true },
    { "phone", JSON_STRING, true }, { NULL, 0, false }
};
static const field_t s_id_fields[] = { { "id_number", JSON_STRING, true }, { NULL, 0, false } };
static const field_t s_move_fields[] = {
    { "id_number", JSON_STRING, true }, { "start", JSON_INTEGER, true }, { NULL, 0, false }
};
static const field_t s_ticket_fields[] = {
    { "service", JSON_STRING, true }, { "priority", JSON_STRING, false }, { NULL, 0, false }
};
static const field_t s_checkin_fields[] = { { "ref", JSON_STRING, true }, { NULL, 0, false } };

/* Check and normalise a booking's citizen fields in place. */
static bool
s_citizen(json_t *body, route_result_t *out)
{
    char name[FL_NAME_MAX + 1], number[FL_ID_NUMBER_MAX + 1], phone[FL_PHONE_MAX + 1];
    fl_error_t err;
    if (fl_name_check(json_string_value(json_object_get(body, "name")), name, &err)
        || fl_id_check(json_string_value(json_object_get(body, "id_type")),
                       json_string_value(json_object_get(body, "id_number")), number, &err)
        || fl_phone_normalise(json_string_value(json_object_get(body, "phone")), phone, &err)) {
        s_fail(out, &err);
        return false;
    }
    json_object_set_new(body, "name", json_string(name));
    json_object_set_new(body, "id_number", json_string(number));
    json_object_set_new(body, "phone", json_string(phone));
    return true;
}

/* A reference from the URL, canonical, or a 400/404 answer. */
static bool
s_ref(const char *text, char out[FL_REF_LEN + 1], route_result_t *res)
{
    fl_error_t err;
    if (fl_ref_parse(text, out, &err) == 0)
        return true;
    s_fail(res, &err);
    return false;
}

static bool
s_query_days(struct MHD_Connection *conn, const char **from, json_int_t *days, route_result_t *out)
{
    *from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
    const char *d = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "days");
    *days = 7;
    if (d) {
        char *end;
        long v = strtol(d, &end, 10);
        if (*end || v < 1 || v > 31) {
            routes_error(out, 400, "range", "days: must be 1..31", "days");
            return false;
        }
        *days = v;
    }
    if (!*from) {
        routes_error(out, 400, "missing", "from: required (YYYY-MM-DD)", "from");
        return false;
    }
    return true;
}

void
routes_handle(portal_ctx_t *ctx, request_t *req, route_result_t *out)
{
    memset(out, 0, sizeof *out);
    bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    bool post = !strcmp(req->method, "POST");
    char seg[6][64];
    int n = s_segments(req->url, seg, 6);
    char ref[FL_REF_LEN + 1];

    if (n >= 1 && !strcmp(seg[0], "api")) {
        /* GET /api/offices */
        if (n == 2 && get && !strcmp(seg[1], "offices")) {
            req->route = R_OFFICES;
            s_message(json_pack("{s:s}", "type", "list_offices"), out, 200);
            return;
        }
        /* GET /api/offices/{office}/services */
        if (n == 4 && get && !strcmp(seg[1], "offices") && !strcmp(seg[3], "services")) {
            req->route = R_SERVICES;
            s_message(json_pack("{s:s, s:s}", "type", "list_services", "office", seg[2]), out, 200);
            return;
        }
        /* GET /api/offices/{office}/services/{service}/slots */
        if (n == 6 && get && !strcmp(seg[1], "offices") && !strcmp(seg[3], "services") && !strcmp(seg[5], "slots")) {
            req->route = R_SLOTS;
            const char *from;
            json_int_t days;
            if (s_query_days(req->conn, &from, &days, out))
                s_message(json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "availability", "office", seg[2],
                                    "service", seg[4], "from", from, "days", days), out, 200);
            return;
        }
        /* GET /api/offices/{office}/status */
        if (n == 4 && get && !strcmp(seg[1], "offices") && !strcmp(seg[3], "status")) {
            req->route = R_STATUS;
            s_message(json_pack("{s:s, s:s}", "type", "snapshot", "office", seg[2]), out, 200);
            return;
        }
        /* POST /api/offices/{office}/tickets and /checkin */
        if (n == 4 && post && !strcmp(seg[1], "offices") && (!strcmp(seg[3], "tickets") || !strcmp(seg[3], "checkin"))) {
            bool ticket = !strcmp(seg[3], "tickets");
            req->route = ticket ? R_TICKET : R_CHECKIN;
            json_t *body = s_body(req, ticket ? s_ticket_fields : s_checkin_fields, out);
            if (!body)
                return;
            json_object_set_new(body, "type", json_string(ticket ? "walkin" : "checkin"));
            json_object_set_new(body, "office", json_string(seg[2]));
            json_object_set_new(body, "rid", json_string(req->rid));
            if (ticket && !json_object_get(body, "priority"))
                json_object_set_new(body, "priority", json_string("none"));
            if (!ticket) {
                if (!s_ref(json_string_value(json_object_get(body, "ref")), ref, out)) {
                    json_decref(body);
                    return;
                }
                json_object_set_new(body, "ref", json_string(ref));
            }
            s_message(body, out, 201);
            return;
        }
        /* POST /api/bookings */
        if (n == 2 && post && !strcmp(seg[1], "bookings")) {
            req->route = R_BOOK;
            json_t *body = s_body(req, s_book_fields, out);
            if (!body)
                return;
            if (!s_citizen(body, out)) {
                json_decref(body);
                return;
            }
            json_object_set_new(body, "type", json_string("book"));
            json_object_set_new(body, "rid", json_string(req->rid));
            s_message(body, out, 201);
            return;
        }
        /* POST /api/bookings/{ref}/view|cancel|reschedule */
        if (n == 4 && post && !strcmp(seg[1], "bookings")) {
            const char *action = seg[3];
            bool move = !strcmp(action, "reschedule");
            req->route = !strcmp(action, "view") ? R_VIEW : !strcmp(action, "cancel") ? R_CANCEL : R_RESCHEDULE;
            if (strcmp(action, "view") && strcmp(action, "cancel") && !move) {
                req->route = R_OTHER;
                routes_error(out, 404, "not_found", "no such page", "");
                return;
            }
            if (!s_ref(seg[2], ref, out))
                return;
            json_t *body = s_body(req, move ? s_move_fields : s_id_fields, out);
            if (!body)
                return;
            json_object_set_new(body, "type", json_string(action));
            json_object_set_new(body, "ref", json_string(ref));
            if (req->route != R_VIEW)
                json_object_set_new(body, "rid", json_string(req->rid));
            s_message(body, out, 200);
            return;
        }
        /* GET /api/qr/{ref}.svg */
        if (n == 3 && get && !strcmp(seg[1], "qr")) {
            req->route = R_QR;
            size_t len = strlen(seg[2]);
            if (len < 5 || strcmp(seg[2] + len - 4, ".svg") != 0) {
                routes_error(out, 404, "not_found", "no such image", "");
                return;
            }
            seg[2][len - 4] = '\0';
            if (!s_ref(seg[2], ref, out))
                return;
            char display[FL_REF_DISPLAY_LEN + 1];
            fl_ref_display(ref, display);
            size_t svg_len;
            out->text = qr_svg(display, &svg_len);
            out->status = out->text ? 200 : 503;
            out->content_type = "image/svg+xml";
            return;
        }
        req->route = R_OTHER;
        routes_error(out, get || post ? 404 : 405, "not_found", "no such endpoint", "");
        return;
    }
    if (!strcmp(req->url, "/healthz") && get) {
        req->route = R_HEALTHZ;
        bool ok = zclock_usecs() - ctx->last_scheduler_ok_us < 10 * 1000 * 1000;
        out->status = ok ? 200 : 503;
        out->text = strdup(ok ? "ok\n" : "the scheduler has not answered in the last 10 s\n");
        out->content_type = "text/plain; charset=utf-8";
        return;
    }
    if (!strcmp(req->url, "/metrics") && get) {
        req->route = R_METRICS;
        out->status = 200;
        out->text = metrics_text(ctx->metrics);
        out->content_type = "text/plain; version=0.0.4";
        return;
    }
    req->route = R_PAGE;
    if (!get) {
        routes_error(out, 405, "invalid", "pages are read with GET", "");
        return;
    }
    out->status = 404;                  /* server.c serves the page when it exists */
}

/* The board, as the public status answer. */
static json_t *
s_status(const fl_msg_t *board)
{
    json_t *j = fl_msg_to_json(board);
    if (!j)
        return NULL;
    json_t *services = json_object_get(j, "queues");
    json_t *serving = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(j, "serving"), i, item)
        json_array_append_new(serving, json_pack("{s:O, s:O, s:O}", "ticket", json_object_get(item, "ticket"),
                                                 "counter", json_object_get(item, "counter"),
                                                 "service", json_object_get(item, "service")));
    json_t *out = json_pack("{s:O, s:O, s:O, s:o}", "office", json_object_get(j, "office"), "at",
                            json_object_get(j, "at"), "services", services ? services : json_null(),
                            "serving", serving);
    json_decref(j);
    return out;
}

void
routes_reply(request_t *req, const fl_msg_t *reply, route_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (fl_msg_type(reply) == FL_T_ERROR) {
        const char *code = fl_msg_str(reply, FL_F_CODE);
        routes_error(out, routes_status_of(code), code, fl_msg_str(reply, FL_F_MESSAGE),
                     fl_msg_has(reply, FL_F_FIELD) ? fl_msg_str(reply, FL_F_FIELD) : "");
        if (out->status == 503)
            out->retry_after = 5;
        return;
    }
    out->status = req->created_status ? req->created_status : 200;
    json_t *j = req->route == R_STATUS ? s_status(reply) : fl_msg_to_json(reply);
    if (!j) {
        routes_error(out, 503, "nomem", "out of memory", "");
        return;
    }
    json_object_del(j, "type");
    if (fl_msg_type(reply) == FL_T_BOOKING) {
        char display[FL_REF_DISPLAY_LEN + 1];
        if (fl_ref_valid(fl_msg_str(reply, FL_F_REF))) {
            fl_ref_display(fl_msg_str(reply, FL_F_REF), display);
            json_object_set_new(j, "ref_display", json_string(display));
        }
    }
    if (fl_msg_type(reply) == FL_T_SERVICE_LIST)
        json_object_del(j, "counters");       /* the public does not need counters */
    out->json = j;
}
