/*  http.c — libmicrohttpd in external epoll mode, the display's routes.  See
 *  http.h.
 */
#include "display/http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "libfoleni/log.h"

struct disp_http {
    struct MHD_Daemon *daemon;
    disp_http_app_t app;
    disp_hub_t *hub;
    const disp_www_t *www;
    int dead_peer_ms;
    int send_buffer;
    disp_http_stats_t stats;
};

/* Marks a request whose first call has been seen. */
static int s_seen;

static void
s_logger(void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    fl_log(FL_LOG_WARN, "http", FL_S("detail", line), NULL);
}

/* Each new connection: a screen that vanishes (power cut) is dropped once
 * data has waited unacknowledged for dead_peer_ms. */
static void
s_notify(void *cls, struct MHD_Connection *connection, void **socket_context, enum MHD_ConnectionNotificationCode toe)
{
    (void) socket_context;
    disp_http_t *self = cls;
    if (toe != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return;
    unsigned int ms = (unsigned int) self->dead_peer_ms;
    setsockopt(info->connect_fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
    int one = 1;                            /* a call goes out at once, never held for an ACK */
    setsockopt(info->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (self->send_buffer > 0)
        setsockopt(info->connect_fd, SOL_SOCKET, SO_SNDBUF, &self->send_buffer, sizeof self->send_buffer);
}

static void
s_common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result
s_reply(struct MHD_Connection *c, unsigned status, const char *type, const void *body, size_t len,
        enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *) body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *) body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    s_common_headers(r);
    if (!strncmp(type, "text/html", 9))
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; media-src 'self' data:; "
                                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result
s_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return s_reply(c, status, "text/plain; charset=utf-8", text, strlen(text), MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result
s_owned(struct MHD_Connection *c, const char *type, char *body)
{
    if (!body)
        return s_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return s_reply(c, MHD_HTTP_OK, type, body, strlen(body), MHD_RESPMEM_MUST_FREE);
}

/* The office a request names (or the default), or -1 after replying 404. */
static int
s_office(disp_http_t *self, struct MHD_Connection *c, enum MHD_Result *rc)
{
    const char *code = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "office");
    int office = self->app.office(self->app.arg, code && *code ? code : NULL);
    if (office < 0) {
        self->stats.not_found++;
        *rc = s_text(c, MHD_HTTP_NOT_FOUND, "this display does not show that office\n");
    }
    return office;
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
         const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) version; (void) upload_data;
    disp_http_t *self = cls;
    if (*con_cls == NULL) {                 /* first call: headers only (keep-alive, see http.h) */
        *con_cls = &s_seen;
        return MHD_YES;
    }
    if (*upload_data_size) {                /* nothing here takes a body: read and drop it */
        *upload_data_size = 0;
        return MHD_YES;
    }
    self->stats.requests++;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        self->stats.bad_method++;
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return rc;
    }
    enum MHD_Result rc = MHD_NO;
    int office;
    if (!strcmp(url, "/events")) {
        if ((office = s_office(self, c, &rc)) < 0)
            return rc;
        return disp_hub_open(self->hub, (size_t) office, c);
    }
    if (!strcmp(url, "/board.json")) {
        if ((office = s_office(self, c, &rc)) < 0)
            return rc;
        return s_owned(c, "application/json", self->app.board_json(self->app.arg, (size_t) office));
    }
    if (!strcmp(url, "/healthz")) {
        bool ok = self->app.healthy(self->app.arg);
        return s_text(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, ok ? "ok\n" : "not live\n");
    }
    if (!strcmp(url, "/metrics"))
        return s_owned(c, "text/plain; version=0.0.4; charset=utf-8", self->app.metrics(self->app.arg));
    const char *name = !strcmp(url, "/") || !strcmp(url, "/board") ? DISP_WWW_PAGE : url + 1;
    const disp_www_file_t *f = url[0] == '/' && !strchr(name, '/') ? disp_www_get(self->www, name) : NULL;
    if (!f) {
        self->stats.not_found++;
        return s_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    return s_reply(c, MHD_HTTP_OK, f->type, f->data, f->len, MHD_RESPMEM_PERSISTENT);
}

disp_http_t *
disp_http_new(const disp_http_options_t *opts, const disp_http_app_t *app, disp_hub_t *hub, const disp_www_t *www,
              fl_error_t *err)
{
    assert(opts && app && hub && www);
    assert(app->office && app->board_json && app->metrics && app->healthy);
    if (opts->port < 1 || opts->port > 65535 || opts->max_connections > DISP_HTTP_CONNECTIONS_MAX) {
        fl_error_set(err, FL_E_INVALID, "http_port", "the HTTP port must be 1..65535");
        return NULL;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) opts->port) };
    const char *bind = opts->bind && *opts->bind ? opts->bind : "127.0.0.1";
    if (inet_pton(AF_INET, bind, &addr.sin_addr) != 1) {
        fl_error_set(err, FL_E_INVALID, "http_bind", "'%s' is not an IPv4 address", bind);
        return NULL;
    }
    disp_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->app = *app;
    self->hub = hub;
    self->www = www;
    self->dead_peer_ms = opts->dead_peer_ms > 0 ? opts->dead_peer_ms : 30000;
    self->send_buffer = opts->send_buffer;
    unsigned limit = (unsigned) (opts->max_connections ? opts->max_connections : 1024);
    self->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, s_access, self,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                                    MHD_OPTION_CONNECTION_LIMIT, limit,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) DISP_HTTP_TIMEOUT_S,
                                    MHD_OPTION_NOTIFY_CONNECTION, s_notify, self,
                                    MHD_OPTION_EXTERNAL_LOGGER, s_logger, NULL,
                                    MHD_OPTION_END);
    if (!self->daemon) {
        fl_error_set(err, FL_E_IO, "http_port", "cannot listen on %s:%d (in use?)", bind, opts->port);
        free(self);
        return NULL;
    }
    return self;
}

void
disp_http_destroy(disp_http_t **self_p)
{
    assert(self_p);
    disp_http_t *self = *self_p;
    if (!self)
        return;
    /* Every suspended stream must be resumed and finished before the daemon
     * stops (MHD's rule); streams end at their next read. */
    disp_hub_stop(self->hub);
    for (int i = 0; i < 100 && disp_hub_streams(self->hub) > 0; i++) {
        MHD_run(self->daemon);
        if (disp_hub_suspended(self->hub) == 0 && disp_hub_streams(self->hub) == 0)
            break;
        poll(&(struct pollfd) { .fd = disp_http_fd(self), .events = POLLIN }, 1, 10);
    }
    MHD_run(self->daemon);
    MHD_stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}

int
disp_http_fd(const disp_http_t *self)
{
    assert(self);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

int
disp_http_timeout_ms(disp_http_t *self)
{
    assert(self);
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(self->daemon, &ms) != MHD_YES)
        return -1;
    return ms > 60000 ? 60000 : (int) ms;
}

void
disp_http_run(disp_http_t *self)
{
    assert(self);
    MHD_run(self->daemon);
}

const disp_http_stats_t *
disp_http_stats(const disp_http_t *self)
{
    assert(self);
    return &self->stats;
}
