/*  server.c — libmicrohttpd and the broker client in one loop.  See portal.h.
 *
 *  The access handler is called several times per request: first (nothing
 *  queued yet: queueing on the first call makes libmicrohttpd 0.9.75 drop
 *  keep-alive), then once per chunk of body, then with no more data.  On that
 *  last call a request is routed: answered at once (pages, errors, metrics),
 *  or sent to the scheduler and its connection suspended.  The scheduler's
 *  reply finds its request by request id; the answer is built, the connection
 *  resumed, and the handler, called again, queues it.
 */
#include "portal/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "libfoleni/log.h"

struct portal {
    portal_options_t opts;
    struct MHD_Daemon *daemon;
    int port;
    fl_client_t *client;
    zhashx_t *waiting;              /* rid -> request_t (borrowed; suspended) */
    portal_ctx_t ctx;
    int64_t next_ping_us;
    request_t *spare;               /* finished requests kept for reuse */
    size_t nspare;
    forwarded_trust_t trust;        /* proxies whose X-Forwarded-For is believed */
};

/* libmicrohttpd's memory per connection (its default is 32 KiB).  It clears
 * the whole of it after every request on a kept-alive connection, which cost
 * several per cent of the portal's CPU; 16 KiB still holds request headers of
 * about 12 KiB (larger ones are answered 431) and the body arrives in pieces. */
#define PORTAL_CONNECTION_MEMORY (16 * 1024)

/* Spare requests kept: enough for a burst of connections, bounded memory. */
#define SPARE_MAX 1024

/* ---- requests: reused, because each holds a 4 KiB body buffer ---- */

/* A request with every field but the body buffer cleared (the body is only
 * ever read up to body_len), or NULL when out of memory. */
static request_t *
s_request_new(portal_t *self)
{
    request_t *req = self->spare;
    if (req) {
        self->spare = req->next;
        self->nspare--;
    }
    else if (!(req = malloc(sizeof *req)))
        return NULL;
    memset(req, 0, offsetof(request_t, body));
    return req;
}

static void
s_request_free(portal_t *self, request_t *req)
{
    if (self->nspare < SPARE_MAX) {
        req->next = self->spare;
        self->spare = req;
        self->nspare++;
    }
    else
        free(req);
}

/* ---- answers ---- */

static void
s_headers(struct MHD_Response *r, const char *content_type)
{
    MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", "no-store");
}

/* Make req's response from a routing result (consumes its bodies). */
static void
s_prepare(request_t *req, route_result_t *res)
{
    struct MHD_Response *r;
    if (res->json) {
        char *text = json_dumps(res->json, JSON_COMPACT);
        json_decref(res->json);
        res->json = NULL;
        r = MHD_create_response_from_buffer(text ? strlen(text) : 0, text ? text : (char *) "",
                                            text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        s_headers(r, "application/json; charset=utf-8");
    } else {
        char *text = res->text;
        res->text = NULL;
        r = MHD_create_response_from_buffer(text ? strlen(text) : 0, text ? text : (char *) "",
                                            text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        s_headers(r, res->content_type ? res->content_type : "text/plain; charset=utf-8");
    }
    if (res->retry_after) {
        char v[16];
        snprintf(v, sizeof v, "%u", res->retry_after);
        MHD_add_response_header(r, "Retry-After", v);
    }
    req->response = r;
    req->status = (unsigned) res->status;
}

static void
s_page(portal_t *self, request_t *req)
{
    size_t len;
    const char *type;
    const void *data = pages_get(self->ctx.pages, req->url, &len, &type);
    if (!data) {
        route_result_t res = { 0 };
        routes_error(&res, 404, "not_found", "no such page", "");
        s_prepare(req, &res);
        return;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *) data, MHD_RESPMEM_PERSISTENT);
    s_headers(r, type);
    MHD_del_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    req->response = r;
    req->status = 200;
}

/* ---- the access handler ---- */

/* The client's address as text, worked out when first needed (the rate limit
 * and the access log use it; most requests with both off never do).  From a
 * trusted proxy, the address it forwarded (forwarded.c). */
static const char *
s_ip(portal_t *self, request_t *req)
{
    if (!req->ip[0]) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr && forwarded_is_trusted(&self->trust, ci->client_addr)
            && forwarded_client(&self->trust, MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                                          "X-Forwarded-For"),
                                req->ip, sizeof req->ip))
            return req->ip;
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *) ci->client_addr)->sin_addr, req->ip, sizeof req->ip);
        else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) ci->client_addr)->sin6_addr, req->ip,
                      sizeof req->ip);
    }
    return req->ip;
}

static bool
s_limited_route(route_t r)
{
    return r == R_BOOK || r == R_VIEW || r == R_CANCEL || r == R_RESCHEDULE || r == R_TICKET || r == R_CHECKIN;
}

static void
s_route(portal_t *self, request_t *req)
{
    route_result_t res;
    routes_handle(&self->ctx, req, &res);
    unsigned retry;
    if (res.msg && self->opts.rate_burst && s_limited_route(req->route)
        && !limits_take(self->ctx.limits, s_ip(self, req), (double) zclock_usecs() / 1e6, &retry)) {
        fl_msg_destroy(&res.msg);
        routes_error(&res, 429, "rate_limited", "too many requests from this address; try again shortly", "");
        res.retry_after = retry;
    }
    if (!res.msg) {
        if (req->route == R_PAGE && res.status == 404)
            s_page(self, req);
        else
            s_prepare(req, &res);
        return;
    }
    const void *body;
    size_t len;
    int rc = fl_msg_encode_scratch(res.msg, &body, &len, NULL);
    fl_msg_destroy(&res.msg);
    if (rc == 0)
        rc = fl_client_send(self->client, PORTAL_SERVICE, req->rid, body, len);       /* copies */
    if (rc) {
        route_result_t e = { 0 };
        if (rc == FL_E_CONFLICT)
            routes_error(&e, 409, "conflict", "a request with this Idempotency-Key is already in progress", "");
        else {
            routes_error(&e, 503, "unavailable", "the portal is overloaded; try again shortly", "");
            e.retry_after = 2;
        }
        s_prepare(req, &e);
        return;
    }
    req->created_status = res.created_status;
    req->sent_us = zclock_usecs();
    req->suspended = true;
    zhashx_insert(self->waiting, req->rid, req);
    metrics_in_flight(self->ctx.metrics, 1);
    MHD_suspend_connection(req->conn);
}

/* Copy text into out (cap bytes), cut short if need be; false when cut. */
static bool
s_copy(char *out, size_t cap, const char *text)
{
    size_t n = strnlen(text, cap);
    bool whole = n < cap;
    if (!whole)
        n = cap - 1;
    memcpy(out, text, n);
    out[n] = '\0';
    return whole;
}

static bool
s_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n < 8 || n > 48)
        return false;
    for (size_t i = 0; i < n; i++)
        if (key[i] <= 0x20 || key[i] >= 0x7f)
            return false;
    return true;
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
         const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) version;
    portal_t *self = cls;
    request_t *req = *con_cls;
    if (!req) {                                     /* first call: remember, answer later */
        if (!(req = s_request_new(self)))
            return MHD_NO;
        req->conn = conn;
        req->started_us = zclock_usecs();
        s_copy(req->method, sizeof req->method, method);
        if (!s_copy(req->url, sizeof req->url, url))
            req->too_big = true;
        const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
        memcpy(req->rid, key && s_key_ok(key) ? "ik-" : "pt-", 3);
        if (key && s_key_ok(key))
            s_copy(req->rid + 3, sizeof req->rid - 3, key);
        else
            fl_client_new_rid(req->rid + 3);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size) {                        /* a chunk of body */
        if (req->body_len + *upload_data_size > PORTAL_BODY_MAX)
            req->too_big = true;
        else {
            memcpy(req->body + req->body_len, upload_data, *upload_data_size);
            req->body_len += *upload_data_size;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!req->response && !req->suspended)
        s_route(self, req);
    if (req->response) {
        enum MHD_Result rc = MHD_queue_response(conn, req->status, req->response);
        MHD_destroy_response(req->response);
        req->response = NULL;
        return rc;
    }
    return MHD_YES;                                 /* suspended: the reply will resume us */
}

static void
s_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void) conn; (void) toe;
    portal_t *self = cls;
    request_t *req = *con_cls;
    if (!req)
        return;
    if (req->suspended)                             /* stopped while waiting: forget it */
        zhashx_delete(self->waiting, req->rid);
    if (req->status) {
        double seconds = (double) (zclock_usecs() - req->started_us) / 1e6;
        metrics_request(self->ctx.metrics, req->route, req->status, seconds);
        if (self->opts.access_log)
            fl_log(FL_LOG_INFO, "http", FL_S("ip", s_ip(self, req)), FL_S("method", req->method),
                   FL_S("route", route_name(req->route)), FL_U("status", req->status),
                   FL_U("us", (uint64_t) (seconds * 1e6)), NULL);
    }
    if (req->response)
        MHD_destroy_response(req->response);
    s_request_free(self, req);
    *con_cls = NULL;
}

/* ---- replies from the scheduler ---- */

/* Answer every reply waiting; returns how many connections it resumed. */
static size_t
s_replies(portal_t *self)
{
    size_t resumed = 0;
    fl_reply_t r;
    while (fl_client_recv(self->client, &r, 0) == 0) {
        request_t *req = zhashx_lookup(self->waiting, r.rid);
        if (!strncmp(r.rid, "ping-", 5)) {
            if (r.status == 0)
                self->ctx.last_scheduler_ok_us = zclock_usecs();
            fl_reply_reset(&r);
            continue;
        }
        if (!req) {                                 /* its connection has gone */
            fl_reply_reset(&r);
            continue;
        }
        zhashx_delete(self->waiting, r.rid);
        route_result_t res = { 0 };
        fl_msg_t *m = NULL;
        const fl_part_t *f = r.nparts ? &r.parts[0] : NULL;
        if (r.status == 0 && f && (m = fl_msg_decode(f->data, f->size, NULL))) {
            metrics_scheduler(self->ctx.metrics, (double) (zclock_usecs() - req->sent_us) / 1e6);
            self->ctx.last_scheduler_ok_us = zclock_usecs();
            routes_reply(req, m, &res);
        } else {
            routes_error(&res, 503, r.status == FL_E_TIMEOUT ? "timeout" : "unavailable",
                         "the booking service cannot be reached; try again shortly", "");
            res.retry_after = 5;
        }
        fl_msg_destroy(&m);
        fl_reply_reset(&r);
        s_prepare(req, &res);
        req->suspended = false;
        metrics_in_flight(self->ctx.metrics, -1);
        MHD_resume_connection(req->conn);
        resumed++;
    }
    return resumed;
}

/* Keep /healthz honest when nobody is booking: ask for the office list now and then. */
static void
s_ping(portal_t *self)
{
    int64_t now = zclock_usecs();
    if (now < self->next_ping_us)
        return;
    self->next_ping_us = now + 5 * 1000 * 1000;
    if (now - self->ctx.last_scheduler_ok_us < 5 * 1000 * 1000)
        return;
    fl_msg_t *m = fl_msg_new(FL_T_LIST_OFFICES);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    if (m && fl_msg_encode(m, &buf, NULL) == 0) {
        char rid[40], fresh[33];
        fl_client_new_rid(fresh);
        snprintf(rid, sizeof rid, "ping-%s", fresh);
        fl_client_send(self->client, PORTAL_SERVICE, rid, buf.data, buf.size);
    }
    msgpack_sbuffer_destroy(&buf);
    fl_msg_destroy(&m);
}

/* ---- life cycle ---- */

portal_t *
portal_new(const portal_options_t *opts, fl_error_t *err)
{
    portal_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->opts = *opts;
    if (!self->opts.connection_limit) self->opts.connection_limit = 10000;
    if (!self->opts.timeout_s) self->opts.timeout_s = 30;
    if (!self->opts.scheduler_timeout_ms) self->opts.scheduler_timeout_ms = 2500;
    self->waiting = zhashx_new();
    self->ctx.metrics = metrics_new();
    self->ctx.limits = limits_new(self->opts.rate_burst, self->opts.rate_per_s);
    if (!self->waiting || !self->ctx.metrics || !self->ctx.limits) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        goto fail;
    }
    if (!(self->ctx.pages = pages_new(opts->www, err)))
        goto fail;
    if (opts->trust_proxy && *opts->trust_proxy && forwarded_trust_parse(opts->trust_proxy, &self->trust)) {
        fl_error_set(err, FL_E_INVALID, "trust-proxy", "%s: not a list of up to %d IP addresses or ranges (ADDR/BITS)",
                     opts->trust_proxy, FORWARDED_TRUST_MAX);
        goto fail;
    }
    fl_client_options_t copts = { .timeout_ms = self->opts.scheduler_timeout_ms,
                                  .retries = self->opts.scheduler_retries, .max_outstanding = 65536 };
    if (!(self->client = fl_client_new(opts->broker, opts->security, &copts, err)))
        goto fail;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) opts->port) };
    if (inet_pton(AF_INET, opts->address ? opts->address : "127.0.0.1", &addr.sin_addr) != 1) {
        fl_error_set(err, FL_E_INVALID, "address", "%s: not an IPv4 address", opts->address);
        goto fail;
    }
    self->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO, 0, NULL, NULL, s_access, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) self->opts.connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) self->opts.per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) self->opts.timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned) 4096,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) PORTAL_CONNECTION_MEMORY,
        MHD_OPTION_END);
    if (!self->daemon) {
        fl_error_set(err, FL_E_IO, "port", "cannot listen on %s:%d: %s", opts->address ? opts->address : "127.0.0.1",
                     opts->port, strerror(errno));
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = di ? di->port : opts->port;
    return self;
fail:
    portal_destroy(&self);
    return NULL;
}

void
portal_destroy(portal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    portal_t *self = *self_p;
    if (self->daemon) {
        /* every suspended connection must be resumed before the daemon stops */
        for (request_t *req = zhashx_first(self->waiting); req; req = zhashx_next(self->waiting)) {
            route_result_t res = { 0 };
            routes_error(&res, 503, "unavailable", "the portal is stopping", "");
            s_prepare(req, &res);
            req->suspended = false;
            MHD_resume_connection(req->conn);
        }
        zhashx_purge(self->waiting);
        MHD_run(self->daemon);
        MHD_stop_daemon(self->daemon);
    }
    fl_client_destroy(&self->client);
    zhashx_destroy(&self->waiting);
    pages_destroy(&self->ctx.pages);
    limits_destroy(&self->ctx.limits);
    metrics_destroy(&self->ctx.metrics);
    while (self->spare) {
        request_t *next = self->spare->next;
        free(self->spare);
        self->spare = next;
    }
    free(self);
    *self_p = NULL;
}

int
portal_port(const portal_t *self)
{
    return self->port;
}

int
portal_run(portal_t *self, volatile bool *stop)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    int epoll_fd = di ? di->epoll_fd : -1;
    fl_log(FL_LOG_INFO, "portal serving", FL_I("port", self->port), FL_S("broker", self->opts.broker),
           FL_U("pages", pages_count(self->ctx.pages)), NULL);
    while (!(stop && *stop) && !zsys_interrupted) {
        /* One MHD_run per wake, after the replies: it sends every answer the
         * replies resumed and reads every new request, so the requests it sends
         * on reach the broker together.  It is skipped when it has nothing to do
         * (each call is an epoll_wait): no socket ready, nothing resumed, no
         * timeout of libmicrohttpd's due. */
        MHD_UNSIGNED_LONG_LONG mhd_timeout;
        long timeout = 1000;
        if (MHD_get_timeout(self->daemon, &mhd_timeout) == MHD_YES && (long) mhd_timeout < timeout)
            timeout = (long) mhd_timeout;
        bool mhd_due = timeout == 0;
        int client_timeout = fl_client_next_timeout_ms(self->client);
        if (client_timeout >= 0 && client_timeout < timeout)
            timeout = client_timeout;
        zmq_pollitem_t items[] = {
            { NULL, epoll_fd, ZMQ_POLLIN, 0 },
            { zsock_resolve(fl_client_socket(self->client)), 0, ZMQ_POLLIN, 0 },
        };
        int rc = zmq_poll(items, 2, timeout);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        size_t resumed = s_replies(self);
        if (resumed || mhd_due || rc <= 0 || (items[0].revents & ZMQ_POLLIN))
            MHD_run(self->daemon);
        s_ping(self);
    }
    fl_log(FL_LOG_INFO, "portal stopping", NULL);
    return 0;
}
