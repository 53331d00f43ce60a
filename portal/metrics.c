/*  metrics.c — what an operator graphs: requests by route and status,
 *  request latency, requests in flight, the scheduler's round trip; in the
 *  Prometheus text format at /metrics.
 */
#include "portal/internal.h"

#include <stdio.h>
#include <string.h>

static const double s_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
#define NBUCKETS (sizeof s_buckets / sizeof s_buckets[0])
#define STATUS_SLOTS 600                 /* status codes 0..599 */

typedef struct {
    uint64_t count[NBUCKETS + 1];       /* cumulative at output time; +Inf last */
    double sum;
    uint64_t n;
} histogram_t;

struct metrics {
    uint64_t requests[R__COUNT][STATUS_SLOTS];
    histogram_t latency, scheduler;
    int64_t in_flight;
};

static const char *s_routes[R__COUNT] = {
    [R_OFFICES] = "offices", [R_SERVICES] = "services", [R_SLOTS] = "slots", [R_BOOK] = "book",
    [R_VIEW] = "view", [R_CANCEL] = "cancel", [R_RESCHEDULE] = "reschedule", [R_QR] = "qr",
    [R_TICKET] = "ticket", [R_CHECKIN] = "checkin", [R_STATUS] = "status", [R_PAGE] = "page",
    [R_HEALTHZ] = "healthz", [R_METRICS] = "metrics", [R_OTHER] = "other",
};

const char *
route_name(route_t route)
{
    return route >= 0 && route < R__COUNT ? s_routes[route] : "other";
}

metrics_t *
metrics_new(void)
{
    return calloc(1, sizeof(metrics_t));
}

void
metrics_destroy(metrics_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

static void
s_observe(histogram_t *h, double v)
{
    size_t i = 0;
    while (i < NBUCKETS && v > s_buckets[i])
        i++;
    h->count[i]++;
    h->sum += v;
    h->n++;
}

void
metrics_request(metrics_t *self, route_t route, unsigned status, double seconds)
{
    if (status < STATUS_SLOTS && route >= 0 && route < R__COUNT)
        self->requests[route][status]++;
    s_observe(&self->latency, seconds);
}

void
metrics_scheduler(metrics_t *self, double seconds)
{
    s_observe(&self->scheduler, seconds);
}

void
metrics_in_flight(metrics_t *self, int delta)
{
    self->in_flight += delta;
}

static int
s_histogram(char *out, size_t cap, const char *name, const char *help, const histogram_t *h)
{
    int n = snprintf(out, cap, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= NBUCKETS && n > 0 && (size_t) n < cap; i++) {
        cumulative += h->count[i];
        if (i < NBUCKETS)
            n += snprintf(out + n, cap - (size_t) n, "%s_bucket{le=\"%g\"} %llu\n", name, s_buckets[i],
                          (unsigned long long) cumulative);
        else
            n += snprintf(out + n, cap - (size_t) n, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                          (unsigned long long) cumulative);
    }
    if (n > 0 && (size_t) n < cap)
        n += snprintf(out + n, cap - (size_t) n, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
                      (unsigned long long) h->n);
    return n;
}

char *
metrics_text(const metrics_t *self)
{
    size_t cap = 64 * 1024;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    int n = snprintf(out, cap, "# HELP foleni_portal_requests_total HTTP requests by route and status.\n"
                               "# TYPE foleni_portal_requests_total counter\n");
    for (int r = 0; r < R__COUNT; r++)
        for (int s = 0; s < STATUS_SLOTS; s++)
            if (self->requests[r][s] && n > 0 && (size_t) n < cap)
                n += snprintf(out + n, cap - (size_t) n,
                              "foleni_portal_requests_total{route=\"%s\",status=\"%d\"} %llu\n", s_routes[r], s,
                              (unsigned long long) self->requests[r][s]);
    if (n > 0 && (size_t) n < cap)
        n += s_histogram(out + n, cap - (size_t) n, "foleni_portal_request_seconds",
                         "Time from the first byte of a request to its answer.", &self->latency);
    if (n > 0 && (size_t) n < cap)
        n += s_histogram(out + n, cap - (size_t) n, "foleni_portal_scheduler_seconds",
                         "Round trip to the scheduler through the broker.", &self->scheduler);
    if (n > 0 && (size_t) n < cap)
        snprintf(out + n, cap - (size_t) n, "# HELP foleni_portal_in_flight Requests waiting for the scheduler.\n"
                 "# TYPE foleni_portal_in_flight gauge\nfoleni_portal_in_flight %lld\n", (long long) self->in_flight);
    return out;
}
