/*  portal.h — the citizen-facing HTTP server: JSON API, pages, kiosk.
 *
 *  One thread runs everything.  libmicrohttpd runs in its external epoll mode
 *  and the broker client (libfoleni/client.h) is polled beside it in one
 *  zmq_poll loop.  An API request that needs the scheduler is turned into a
 *  protocol message, sent with a request id, and its HTTP connection suspended;
 *  when the reply with that id arrives, the response is built and the
 *  connection resumed.  So no thread ever waits for the scheduler, and one
 *  portal carries thousands of requests in flight over one socket.  The portal
 *  keeps no state a second portal would need: run as many as you like.
 *
 *  docs/api.md describes the API; docs/pages.md the pages.
 */
#ifndef FOLENI_PORTAL_H
#define FOLENI_PORTAL_H

#include <stdbool.h>
#include <stdint.h>

#include "libfoleni/error.h"
#include "libfoleni/security.h"

#define PORTAL_BODY_MAX        4096     /* largest request body accepted */
#define PORTAL_SERVICE         "foleni.scheduler"

typedef struct {
    const char *address;            /* listen address, default 127.0.0.1 */
    int    port;                    /* listen port (0: pick one; see portal_port) */
    const char *broker;             /* broker endpoint */
    const fl_security_t *security;  /* CURVE for the broker link; NULL plain */
    const char *www;                /* folder of the static pages */
    unsigned connection_limit;      /* all connections; default 10000 */
    unsigned per_ip_limit;          /* connections per IP; default 64 (0: none) */
    unsigned timeout_s;             /* idle connection timeout; default 30 */
    unsigned rate_burst;            /* token bucket per IP for mutating and lookup routes; 0: off */
    double   rate_per_s;            /* refill rate (tokens per second) */
    int    scheduler_timeout_ms;    /* per attempt; default 2500 */
    int    scheduler_retries;       /* default 1 */
    bool   access_log;              /* one logfmt line per request */
    const char *trust_proxy;        /* "ADDR[/BITS][,...]": peers whose X-Forwarded-For is
                                     * believed (forwarded.c); NULL: none */
} portal_options_t;

typedef struct portal portal_t;

/*  Load the pages, start the HTTP daemon and connect to the broker.  NULL with err. */
portal_t *portal_new(const portal_options_t *opts, fl_error_t *err);

/*  Resume every suspended connection, stop and free; sets *self_p to NULL. */
void portal_destroy(portal_t **self_p);

/*  The port it listens on (useful when opts->port was 0). */
int portal_port(const portal_t *self);

/*  Serve until *stop or SIGINT/SIGTERM.  Returns 0. */
int portal_run(portal_t *self, volatile bool *stop);

#endif
