/*  limits.c — a token bucket per client address for the routes that book,
 *  look up or issue: a burst of `burst` requests, refilled at `per_s` a second.
 *
 *  The table is bounded: when it holds LIMITS_ADDRESSES addresses it is
 *  emptied and starts again, which can only ever let a client through early,
 *  never block one wrongly, and keeps memory fixed under an address flood.
 */
#include "portal/internal.h"

#include <math.h>

#define LIMITS_ADDRESSES 100000

typedef struct {
    double tokens;
    double at;
} bucket_t;

struct limits {
    zhashx_t *buckets;
    unsigned burst;
    double per_s;
};

static void
s_free(void **item)
{
    free(*item);
    *item = NULL;
}

limits_t *
limits_new(unsigned burst, double per_s)
{
    limits_t *self = calloc(1, sizeof *self);
    if (!self || !(self->buckets = zhashx_new())) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->buckets, s_free);
    self->burst = burst;
    self->per_s = per_s > 0 ? per_s : 1;
    return self;
}

void
limits_destroy(limits_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->buckets);
    free(*self_p);
    *self_p = NULL;
}

bool
limits_take(limits_t *self, const char *ip, double now, unsigned *retry_after_s)
{
    if (!self || self->burst == 0)
        return true;
    bucket_t *b = zhashx_lookup(self->buckets, ip);
    if (!b) {
        if (zhashx_size(self->buckets) >= LIMITS_ADDRESSES)
            zhashx_purge(self->buckets);
        if (!(b = calloc(1, sizeof *b)))
            return true;
        b->tokens = self->burst;
        b->at = now;
        zhashx_insert(self->buckets, ip, b);
    }
    b->tokens = fmin(self->burst, b->tokens + (now - b->at) * self->per_s);
    b->at = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return true;
    }
    *retry_after_s = (unsigned) ceil((1 - b->tokens) / self->per_s);
    return false;
}
