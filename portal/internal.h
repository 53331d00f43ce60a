/*  internal.h — what the portal's files share.
 *
 *  A request_t lives as long as its HTTP request: created on the first call of
 *  the access handler, freed when libmicrohttpd says the request completed.
 *  routes.c decides what a request is; server.c moves it between libmicrohttpd
 *  and the broker; limits.c, metrics.c, pages.c and qr.c each do one thing.
 */
#ifndef FOLENI_PORTAL_INTERNAL_H
#define FOLENI_PORTAL_INTERNAL_H

#include <czmq.h>
#include <jansson.h>
#include <microhttpd.h>

#include "libfoleni/client.h"
#include "libfoleni/msg.h"
#include "portal/portal.h"

/* Routes, for metrics and logs (never the URL: it may hold a reference). */
typedef enum {
    R_OFFICES, R_SERVICES, R_SLOTS, R_BOOK, R_VIEW, R_CANCEL, R_RESCHEDULE, R_QR, R_TICKET, R_CHECKIN,
    R_STATUS, R_PAGE, R_HEALTHZ, R_METRICS, R_OTHER, R__COUNT
} route_t;

typedef struct request {
    struct request *next;           /* in server.c's list of spare requests */
    struct MHD_Connection *conn;
    char     method[8];
    char     url[256];
    route_t  route;
    size_t   body_len;
    bool     too_big;
    bool     suspended;
    char     rid[FL_RID_MAX + 1];
    int64_t  started_us;            /* zclock_usecs at the first call */
    int64_t  sent_us;               /* when the scheduler request left */
    int      created_status;        /* HTTP status for a successful reply (200/201) */
    char     ip[64];
    struct MHD_Response *response;  /* ready to queue */
    unsigned status;
    char     body[PORTAL_BODY_MAX];     /* last: never cleared, only body_len bytes are read */
} request_t;

/* ---- pages.c: static files ---- */
typedef struct pages pages_t;
pages_t *pages_new(const char *dir, fl_error_t *err);
void pages_destroy(pages_t **self_p);
/*  The file for a URL path ("/" is "/index.html"), or NULL. */
const void *pages_get(const pages_t *self, const char *path, size_t *len, const char **content_type);
size_t pages_count(const pages_t *self);

/* ---- limits.c: per-IP token buckets ---- */
typedef struct limits limits_t;
limits_t *limits_new(unsigned burst, double per_s);
void limits_destroy(limits_t **self_p);
/*  Take one token for ip at now (seconds); false (and *retry_after_s) when empty. */
bool limits_take(limits_t *self, const char *ip, double now, unsigned *retry_after_s);

/* ---- forwarded.c: the client's address behind a trusted proxy ---- */
#define FORWARDED_TRUST_MAX  16         /* proxies named in --trust-proxy */
#define FORWARDED_HEADER_MAX 1024       /* a longer X-Forwarded-For is ignored */
#define FORWARDED_HOPS_MAX   16         /* entries read from the right */
typedef struct {
    struct in6_addr addr[FORWARDED_TRUST_MAX];   /* IPv4 as ::ffff:a.b.c.d */
    unsigned bits[FORWARDED_TRUST_MAX];          /* prefix length in that form, 0..128 */
    size_t n;
} forwarded_trust_t;
/*  Parse "ENTRY[,ENTRY...]", each an IPv4 or IPv6 literal or a range
 *  ADDR/BITS with no address bits set past BITS.  0, or FL_E_INVALID. */
int forwarded_trust_parse(const char *list, forwarded_trust_t *out);
/*  Whether the TCP peer is one of the trusted proxies. */
bool forwarded_is_trusted(const forwarded_trust_t *trust, const struct sockaddr *peer);
/*  The client address in an X-Forwarded-For header that a trusted proxy sent:
 *  the rightmost entry that is not a trusted proxy.  true with out filled, or
 *  false (no header, too long, a malformed entry before a client was found). */
bool forwarded_client(const forwarded_trust_t *trust, const char *header, char *out, size_t cap);

/* ---- metrics.c ---- */
typedef struct metrics metrics_t;
metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **self_p);
void metrics_request(metrics_t *self, route_t route, unsigned status, double seconds);
void metrics_scheduler(metrics_t *self, double seconds);
void metrics_in_flight(metrics_t *self, int delta);
/*  The Prometheus text exposition (caller frees). */
char *metrics_text(const metrics_t *self);
const char *route_name(route_t route);

/* ---- qr.c ---- */
/*  An SVG image of a QR code of text (caller frees), or NULL. */
char *qr_svg(const char *text, size_t *len);

/* ---- routes.c ---- */

/* What routing decided. */
typedef struct {
    int status;                     /* > 0: answer now with this status and json/text */
    json_t *json;                   /* answer body (owned) */
    char *text;                     /* or a text body (owned) */
    const char *content_type;
    unsigned retry_after;           /* Retry-After seconds, 0: none */
    fl_msg_t *msg;                  /* or: send this to the scheduler (owned) */
    int created_status;             /* status for a successful scheduler reply */
} route_result_t;

typedef struct portal_ctx portal_ctx_t;

/*  Decide what the request is and either answer it or make the scheduler message. */
void routes_handle(portal_ctx_t *ctx, request_t *req, route_result_t *out);

/*  Turn the scheduler's reply into the HTTP answer. */
void routes_reply(request_t *req, const fl_msg_t *reply, route_result_t *out);

/*  An error answer. */
void routes_error(route_result_t *out, int status, const char *code, const char *message, const char *field);

/*  HTTP status for a Foleni error code name. */
int routes_status_of(const char *code);

/* The parts of the portal routes need. */
struct portal_ctx {
    pages_t *pages;
    limits_t *limits;
    metrics_t *metrics;
    int64_t last_scheduler_ok_us;   /* for /healthz */
};

#endif
