/*  http.h — the display's web server: the board page, its event stream, the
 *  board as JSON, health and metrics.
 *
 *  libmicrohttpd runs in external polling mode with epoll: the display's one
 *  loop polls disp_http_fd() beside its ZeroMQ sockets and calls
 *  disp_http_run().  So requests, the event stream and the board state all
 *  live in one thread and need no locks, and a call goes from the bus socket
 *  to every screen's TCP socket in one pass of the loop.
 *
 *  Routes (GET and HEAD; anything else is 405):
 *    /, /board          the board page (www/board.html); its parameters are read
 *                       by the page itself (docs/display.md)
 *    /<file>            another file of the www folder (board.js, board.css...)
 *    /events?office=X   the server-sent-events stream (hub.h)
 *    /board.json?office=X   the board now, as the stream's `board` data
 *    /healthz           200 "ok" when every office's board is live, else 503
 *    /metrics           Prometheus text
 *  office may be left out when the display shows one office; an office it does
 *  not show is 404.
 *
 *  The first call of the access handler for a request only returns MHD_YES
 *  and the response is queued on the second (libmicrohttpd 0.9.75 drops
 *  keep-alive otherwise: field notes).
 */
#ifndef FOLENI_DISPLAY_HTTP_H
#define FOLENI_DISPLAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "display/hub.h"
#include "display/www.h"
#include "libfoleni/error.h"

#define DISP_HTTP_CONNECTIONS_MAX 4096  /* connections at once, screens included */
#define DISP_HTTP_TIMEOUT_S       60    /* an idle non-stream connection is closed after this */

typedef struct {
    const char *bind;               /* IPv4 address to listen on; default "127.0.0.1" */
    int port;                       /* 1..65535 */
    size_t max_connections;         /* default 1024, at most DISP_HTTP_CONNECTIONS_MAX */
    int dead_peer_ms;               /* TCP_USER_TIMEOUT on each connection: unacknowledged data
                                       this long drops a screen whose power was cut; default 30000 */
    int send_buffer;                /* SO_SNDBUF on each connection, bytes; 0: the kernel's (it grows
                                       the buffer as needed, to megabytes on a fast link) */
} disp_http_options_t;

/* What the server asks of the display.  Returned strings are malloc'd and
 * freed by the server. */
typedef struct {
    void *arg;
    int (*office)(void *arg, const char *code);     /* index, or -1; code NULL: the default office */
    char *(*board_json)(void *arg, size_t office);  /* NULL when out of memory */
    char *(*metrics)(void *arg);                    /* Prometheus text; NULL when out of memory */
    bool (*healthy)(void *arg);
} disp_http_app_t;

typedef struct disp_http disp_http_t;

/*  Start listening.  app is copied; hub and www are borrowed and must outlive
 *  the server.  NULL with err: FL_E_INVALID (options), FL_E_IO (cannot listen:
 *  port taken, bad address). */
disp_http_t *disp_http_new(const disp_http_options_t *opts, const disp_http_app_t *app, disp_hub_t *hub,
                           const disp_www_t *www, fl_error_t *err);

/*  Stop: end every stream (resuming the suspended ones), let them finish for
 *  up to a second, then stop the daemon.  Sets *self_p to NULL.  Safe on NULL. */
void disp_http_destroy(disp_http_t **self_p);

/*  The file descriptor to poll for input (epoll). */
int disp_http_fd(const disp_http_t *self);

/*  The longest the caller may wait before disp_http_run, ms; -1: no limit. */
int disp_http_timeout_ms(disp_http_t *self);

/*  Do the work that is ready (accept, read, write); never blocks. */
void disp_http_run(disp_http_t *self);

/*  Requests answered, by class, for metrics. */
typedef struct {
    uint64_t requests, not_found, bad_method;
} disp_http_stats_t;
const disp_http_stats_t *disp_http_stats(const disp_http_t *self);

#endif
