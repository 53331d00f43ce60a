/*  foleni-bench-relay — the portal's floor: what libmicrohttpd and the round
 *  trip through the broker cost on this machine when nothing else is done.
 *
 *    build/bin/foleni-bench-relay PORT BROKER [SERVICE]
 *
 *  The portal must reach the scheduler through the broker without a thread
 *  blocked per request (issue 5): libmicrohttpd in external epoll mode inside
 *  a ZeroMQ poll loop, each request's connection suspended while its message
 *  goes through the broker and resumed when the reply comes.  This program
 *  is that skeleton and nothing more, built like the portal (portal/server.c:
 *  the same daemon flags, the same loop, libfoleni's client): every request
 *  sends its body (the first 4 KiB of it) to SERVICE (default "echo", served by
 *  `foleni-echo worker --bare --window 256`), and the reply is answered with a
 *  fixed 201 and a small JSON body.  No JSON parsing, no checks, no store.
 *  bench/bench-portal --relay measures it against the plain hello server in
 *  the same run: no portal built this way can do better than it.
 *
 *  Listens on 127.0.0.1 only; prints "relay listening on PORT" when ready
 *  (PORT 0 picks one); serves until SIGINT or SIGTERM, exits 0.  Exit 1 when
 *  it cannot start, 2 on bad arguments.  A benchmark tool: bounded (body cap,
 *  connection limit) but without the portal's protections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <microhttpd.h>

#include "libfoleni/client.h"

#define RELAY_BODY_MAX    4096
#define RELAY_CONNECTIONS 10000
#define RELAY_ANSWER      "{\"reference\":\"relayed\"}"

typedef struct request {
    struct MHD_Connection *conn;
    char rid[40];
    size_t len;
    bool sent, answered, failed;
    char body[RELAY_BODY_MAX];
} request_t;

typedef struct {
    struct MHD_Daemon *daemon;
    fl_client_t *client;
    zhashx_t *waiting;                  /* rid -> request_t (suspended) */
    const char *service;
    struct MHD_Response *created, *unavailable;
} relay_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
         const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) url; (void) method; (void) version;
    relay_t *self = cls;
    request_t *req = *con_cls;
    if (!req) {                             /* first call: queue nothing yet (field notes) */
        if (!(req = calloc(1, sizeof *req)))
            return MHD_NO;
        req->conn = conn;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (req->len + n > sizeof req->body)
            n = sizeof req->body - req->len;
        memcpy(req->body + req->len, upload_data, n);
        req->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->answered)
        return MHD_queue_response(conn, req->failed ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_CREATED,
                                  req->failed ? self->unavailable : self->created);
    if (req->sent)
        return MHD_YES;
    memcpy(req->rid, "rl-", 3);
    fl_client_new_rid(req->rid + 3);
    if (fl_client_send(self->client, self->service, req->rid, req->len ? req->body : "", req->len) != 0)
        return MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, self->unavailable);
    req->sent = true;
    if (zhashx_insert(self->waiting, req->rid, req) != 0) {     /* a rid twice: never, but never hang */
        req->answered = req->failed = true;
        return MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, self->unavailable);
    }
    MHD_suspend_connection(conn);
    return MHD_YES;
}

static void
s_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void) conn; (void) toe;
    relay_t *self = cls;
    request_t *req = *con_cls;
    if (req && req->sent && !req->answered)
        zhashx_delete(self->waiting, req->rid);
    free(req);
    *con_cls = NULL;
}

/* Resume every request whose reply (or failure) has come. */
static size_t
s_replies(relay_t *self)
{
    size_t resumed = 0;
    fl_reply_t r;
    while (fl_client_recv(self->client, &r, 0) == 0) {
        request_t *req = zhashx_lookup(self->waiting, r.rid);
        if (req) {
            zhashx_delete(self->waiting, r.rid);
            req->answered = true;
            req->failed = r.status != 0;
            MHD_resume_connection(req->conn);
            resumed++;
        }
        fl_reply_reset(&r);
    }
    return resumed;
}

static struct MHD_Response *
s_response(const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_PERSISTENT);
    if (r)
        MHD_add_response_header(r, "Content-Type", "application/json");
    return r;
}

int
main(int argc, char **argv)
{
    char *end = NULL;
    long port = argc >= 3 ? strtol(argv[1], &end, 10) : -1;
    if (argc < 3 || argc > 4 || !end || *end || port < 0 || port > 65535) {
        fprintf(stderr, "usage: foleni-bench-relay PORT BROKER [SERVICE (default echo)]\n");
        return 2;
    }
    zsys_handler_set(NULL);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    relay_t self = { .service = argc == 4 ? argv[3] : "echo" };
    fl_error_t err;
    fl_client_options_t copts = { .timeout_ms = 2500, .max_outstanding = 65536 };
    int status = 1;
    self.waiting = zhashx_new();
    self.created = s_response(RELAY_ANSWER);
    self.unavailable = s_response("{\"error\":\"unavailable\"}");
    if (!self.waiting || !self.created || !self.unavailable
        || !(self.client = fl_client_new(argv[2], NULL, &copts, &err))) {
        fprintf(stderr, "foleni-bench-relay: cannot start\n");
        goto done;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    self.daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO, 0, NULL, NULL, s_access, &self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) RELAY_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, &self,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned) 4096,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (16 * 1024),
        MHD_OPTION_END);
    if (!self.daemon) {
        fprintf(stderr, "foleni-bench-relay: cannot listen on port %ld: %s\n", port, strerror(errno));
        goto done;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(self.daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf("relay listening on %u\n", di ? (unsigned) di->port : (unsigned) port);
    fflush(stdout);
    di = MHD_get_daemon_info(self.daemon, MHD_DAEMON_INFO_EPOLL_FD);
    int epoll_fd = di ? di->epoll_fd : -1;
    bool failed = false;
    while (!s_stop) {                       /* the portal's loop (portal/server.c, portal_run) */
        MHD_UNSIGNED_LONG_LONG mhd_timeout;
        long timeout = 1000;
        if (MHD_get_timeout(self.daemon, &mhd_timeout) == MHD_YES && (long) mhd_timeout < timeout)
            timeout = (long) mhd_timeout;
        bool mhd_due = timeout == 0;
        int client_timeout = fl_client_next_timeout_ms(self.client);
        if (client_timeout >= 0 && client_timeout < timeout)
            timeout = client_timeout;
        zmq_pollitem_t items[] = {
            { NULL, epoll_fd, ZMQ_POLLIN, 0 },
            { zsock_resolve(fl_client_socket(self.client)), 0, ZMQ_POLLIN, 0 },
        };
        int rc = zmq_poll(items, 2, timeout);
        if (rc < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, "foleni-bench-relay: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            failed = true;
            break;
        }
        size_t resumed = s_replies(&self);
        if (resumed || mhd_due || rc <= 0 || (items[0].revents & ZMQ_POLLIN))
            MHD_run(self.daemon);
    }
    /* every suspended connection is resumed (answered 503) before the daemon stops */
    for (request_t *req = zhashx_first(self.waiting); req; req = zhashx_next(self.waiting)) {
        req->answered = req->failed = true;
        MHD_resume_connection(req->conn);
    }
    zhashx_purge(self.waiting);
    MHD_run(self.daemon);
    status = failed ? 1 : 0;
done:
    if (self.daemon)
        MHD_stop_daemon(self.daemon);
    fl_client_destroy(&self.client);
    zhashx_destroy(&self.waiting);
    if (self.created)
        MHD_destroy_response(self.created);
    if (self.unavailable)
        MHD_destroy_response(self.unavailable);
    return status;
}
