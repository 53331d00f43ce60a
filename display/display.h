/*  display.h — the hall board service: boards kept right from the event bus,
 *  served to screens over HTTP (and drawn on a terminal).
 *
 *  A disp_t owns, in one thread:
 *    - a SUB socket on the broker's event output, subscribed to "OFFICE." for
 *      each office it shows (made first, as the Clone pattern asks);
 *    - an MDP client of the scheduler for snapshots and names;
 *    - one disp_clone_t per office (clone.h), which says when to take a
 *      snapshot and what an event changed;
 *    - the SSE hub and the HTTP server (hub.h, http.h), when an HTTP port is
 *      given; the terminal renderer (tty.h) with --tty.
 *  disp_run() polls the sockets and MHD's epoll descriptor together, so an
 *  event goes from the bus to every screen's socket in one pass: decode, apply,
 *  format once, write it straight to the idle streams' sockets (two threads
 *  when there are many, hub.h), let MHD write to the busy ones.
 *
 *  Every change of a board is published as SSE messages: `call` for each call
 *  or recall to announce (before the board that shows it), then `board` with
 *  the whole state (its id is the board's seq).  A call is pushed at once;
 *  other changes wait up to DISP_BOARD_COALESCE_MS to share one push.
 *  docs/display.md describes both.
 */
#ifndef FOLENI_DISPLAY_H
#define FOLENI_DISPLAY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "display/clone.h"
#include "display/hub.h"
#include "libfoleni/error.h"
#include "libfoleni/security.h"

#define DISP_SERVICE_DEFAULT   "foleni.scheduler"   /* the scheduler's MDP service */
#define DISP_REQUESTS_MAX      64      /* requests to the scheduler in flight */
#define DISP_NAMES_REFRESH_MS  300000  /* office and service names fetched again this often */
#define DISP_TICK_MS           30000   /* a `tick` message (server time) to every screen this often */
#define DISP_EVENTS_PER_PASS   1024    /* events read before the loop looks at its other inputs */
#define DISP_BOARD_COALESCE_MS 250     /* a change that is not a call waits this long to share a push */

typedef struct {
    const char *offices[DISP_HUB_OFFICES_MAX];   /* office codes; the first is the default */
    size_t noffices;
    const char *broker;             /* MDP endpoint of the broker */
    const char *events;             /* the broker's event output (XPUB) */
    const char *service;            /* the scheduler's service; NULL: DISP_SERVICE_DEFAULT */
    const fl_security_t *security;  /* borrowed; NULL: plain */
    int request_timeout_ms;         /* per attempt; default 1000 */
    int request_retries;            /* default 2 */
    disp_clone_options_t clone;     /* zero fields: defaults */
    /* HTTP (port 0: none) */
    const char *http_bind;          /* default 127.0.0.1 */
    int http_port;
    const char *www;                /* the page's folder; NULL: found (www.h) */
    int keepalive_ms;               /* comment on an idle stream; default 15000 */
    int retry_ms;                   /* the browser's reconnect delay (SSE retry); default 2000 */
    size_t max_connections;         /* default 1024 */
    int send_buffer;                /* SO_SNDBUF per screen, bytes; 0: the kernel's */
    int writers;                    /* threads writing a call to the screens: 1 or 2; 0: 2 on a
                                       machine with more than one core (hub.h) */
    /* terminal */
    int tty_fd;                     /* -1: no terminal board */
    const char *tty_langs;          /* "en,sw" (default), "sw", ... */
} disp_options_t;

typedef struct disp disp_t;

/*  Set opts to the defaults (no offices, no HTTP, no terminal). */
void disp_options_init(disp_options_t *opts);

/*  Connect, subscribe, load the page and listen.  NULL with err: FL_E_INVALID
 *  (options: no office, a bad office code, too many), FL_E_NOT_FOUND (the page's
 *  folder), FL_E_IO (sockets, HTTP port), FL_E_NOMEM. */
disp_t *disp_new(const disp_options_t *opts, fl_error_t *err);

/*  Stop serving (streams are ended cleanly), close everything; sets *self_p
 *  to NULL.  Safe on NULL. */
void disp_destroy(disp_t **self_p);

/*  Serve until *stop becomes non-zero (a signal handler sets it).  Returns 0,
 *  or FL_E_IO when polling fails. */
int disp_run(disp_t *self, volatile sig_atomic_t *stop);

/*  The HTTP port actually listened on (0: none). */
int disp_http_port(const disp_t *self);

#endif
