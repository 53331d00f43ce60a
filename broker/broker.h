/*  broker.h — the request router and event bus at the centre of Foleni.
 *
 *  One broker_t owns three sockets:
 *    - a ROUTER where clients and workers speak MDP/0.2 (RFC 18) with Foleni's
 *      extensions (docs/protocol.md, "Broker extensions"): a worker's READY
 *      may announce a credit window, and the broker then sends it up to that
 *      many requests before the first reply, each preceded by a caller frame
 *      holding the client's CURVE public key;
 *    - an XSUB where publishers (the scheduler) connect, and
 *    - an XPUB where subscribers (displays, counters, portals) connect; events
 *      and subscriptions are passed straight through.
 *
 *  Routing: a request goes to the least recently used worker of its service
 *  that has credit left.  With no such worker it waits in the service's queue,
 *  bounded in length and in age; an expired or refused request gets an error
 *  reply.  Workers are dropped when silent for heartbeat × liveness.  The
 *  broker keeps no state worth saving: after a restart, workers register again
 *  and clients retry.
 *
 *  CURVE: with a certificate, every socket is a CURVE server in the ZAP domain
 *  "foleni", and zap.c allows the client keys found in clients_dir.
 *
 *  Everything runs in one thread (broker_run); the sockets are not shared.
 */
#ifndef FOLENI_BROKER_H
#define FOLENI_BROKER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "libfoleni/error.h"

typedef struct {
    const char *endpoint;           /* ROUTER for MDP clients and workers */
    const char *publish_endpoint;   /* XSUB: publishers connect here (NULL: no bus) */
    const char *subscribe_endpoint; /* XPUB: subscribers connect here */
    int    heartbeat_ms;            /* default 2500 */
    int    liveness;                /* missed heartbeats before a worker is dropped; default 3 */
    size_t queue_max;               /* waiting requests per service; default 10000 */
    int    queue_timeout_ms;        /* how long a request may wait for a worker; default 5000 */
    int64_t max_message_bytes;      /* ZMQ_MAXMSGSIZE; default 1 MiB */
    const char *cert_path;          /* server certificate (with _secret): CURVE on; NULL: plain */
    const char *clients_dir;        /* directory of allowed client public certificates */
    bool   insecure;                /* allow plain binds beyond loopback */
    int    stats_interval_s;        /* log the counters this often; 0: never */
} broker_options_t;

/* What an operator reads (mmi.stats, the periodic log line). */
typedef struct {
    uint64_t requests;              /* client requests accepted */
    uint64_t replies;               /* worker replies forwarded */
    uint64_t queued;                /* requests that had to wait for a worker */
    uint64_t expired;               /* requests answered with an error after waiting too long */
    uint64_t refused;               /* requests refused at once (queue full, too many services) */
    uint64_t malformed;             /* messages dropped as malformed */
    uint64_t unroutable;            /* replies whose client had gone */
    uint64_t workers_dropped;       /* workers dropped for silence */
    uint64_t events;                /* events passed through the bus */
    uint64_t peers_denied;          /* CURVE handshakes refused by the authenticator (unknown key) */
    uint64_t compact;               /* client requests that came in compact form */
    size_t   workers;               /* workers registered now */
    size_t   waiting;               /* requests waiting now */
} broker_stats_t;

typedef struct broker broker_t;

/*  Create the sockets and bind them (and start CURVE authentication when a
 *  certificate is given).  Refuses a plain bind beyond loopback unless
 *  opts->insecure.  NULL with err: FL_E_INVALID (options), FL_E_IO (bind,
 *  certificate). */
broker_t *broker_new(const broker_options_t *opts, fl_error_t *err);

/*  Close everything; sets *self_p to NULL. */
void broker_destroy(broker_t **self_p);

/*  Serve until *stop becomes true or the process is interrupted (SIGINT or
 *  SIGTERM through CZMQ's handler).  Returns 0. */
int broker_run(broker_t *self, volatile bool *stop);

/*  The counters so far. */
void broker_stats(const broker_t *self, broker_stats_t *out);

/*  The counters as one logfmt text ("requests=12 replies=12 ..."), with
 *  workers per service as workers.NAME=N; the caller frees it. */
char *broker_stats_text(const broker_t *self);

/*  True when a plain bind to endpoint stays on this machine (tcp to
 *  127.0.0.0/8, localhost or [::1]; ipc; inproc). */
bool broker_endpoint_is_local(const char *endpoint);

#endif
