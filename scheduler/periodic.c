/*  periodic.c — the scheduler's work once a second, beside the batches.
 *
 *  sched_tick() runs one write transaction, like a batch (batch.c), and hands
 *  back the events it made after the commit: held bookings whose time is up
 *  give back their places; tickets still waiting when their office's day
 *  ended are closed as unserved; stored replies past their day are
 *  forgotten; the events a store kept before it kept only each office's
 *  newest are let go a part at a time; and phone numbers past their
 *  retention are deleted, a part of the bookings each tick.  The last two
 *  are housekeeping and run nested, so a failure there never stops the rest.
 */
#include "scheduler/internal.h"

#include <assert.h>
#include <string.h>

#include "libfoleni/client.h"      /* FL_RID_MAX */
#include "libfoleni/log.h"

typedef struct {
    batch_t *batch;
    store_key_t keys[256];
    size_t n;
} due_t;

static int
s_collect_due(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void) val; (void) vlen;
    due_t *d = arg;
    if (klen > STORE_KEY_MAX)
        return 0;                                   /* not ours: `check` reports it */
    if (klen < 8 || store_be_get(key, 8) > (uint64_t) d->batch->now || d->n == 256)
        return 1;                                   /* sorted by time: stop at the first not due */
    d->keys[d->n].len = klen;
    memcpy(d->keys[d->n].b, key, klen);
    d->n++;
    return 0;
}

/* Keys of events older than each office's newest, a bounded number per tick. */
typedef struct {
    uint64_t newest;
    store_key_t *keys;
    size_t n, cap;
} older_t;

static int
s_collect_older(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void) val; (void) vlen;
    older_t *o = arg;
    if (klen != STORE_CODE_WIDTH + 8)
        return 0;                                   /* not an event key: `check` reports it */
    if (store_be_get(key + STORE_CODE_WIDTH, 8) >= o->newest || o->n == o->cap)
        return 1;                                   /* in seq order: stop at the newest */
    o->keys[o->n].len = klen;
    memcpy(o->keys[o->n].b, key, klen);
    o->n++;
    return 0;
}

#define S_OLDER_EVENTS_PER_TICK 1024

/* A store written before only the newest event was kept holds every event
 * since it began: let go of up to S_OLDER_EVENTS_PER_TICK of them a tick
 * (a million in about 16 minutes), oldest first in each configured office,
 * without one long transaction.  Runs nested (s_run_tick): a failure here
 * must not stop the tick's real work. */
static int
s_forget_older_events(store_txn_t *txn, void *arg)
{
    batch_t *b = arg;
    store_key_t *keys = malloc(S_OLDER_EVENTS_PER_TICK * sizeof *keys);
    if (!keys)
        return FL_E_NOMEM;
    const fl_config_t *config = b->sched->config;
    size_t forgotten = 0;
    int rc = 0;
    for (size_t oi = 0; oi < config->office_count && rc == 0; oi++) {
        const char *code = config->offices[oi].code;
        older_t older = { .newest = batch_newest_seq(b, code), .keys = keys,
                          .cap = S_OLDER_EVENTS_PER_TICK - forgotten };
        store_key_t prefix = store_key_office(code);
        rc = store_scan(txn, STORE_DB_EVENTS, &prefix, NULL, s_collect_older, &older);
        if (rc > 0)
            rc = 0;
        for (size_t i = 0; i < older.n && rc == 0; i++)
            rc = store_del(txn, STORE_DB_EVENTS, &keys[i]);
        forgotten += older.n;
        if (forgotten == S_OLDER_EVENTS_PER_TICK)
            break;
    }
    free(keys);
    if (rc == 0 && forgotten < S_OLDER_EVENTS_PER_TICK)
        b->forgot_last_older_events = true;         /* told to the scheduler after the commit */
    return rc;
}

/* Phone numbers are kept for notifications about an appointment, and
 * deleted phone_retention_days after its slot ends (the design's domain
 * rules; docs/scheduler.md, "Phone numbers").  No index orders bookings by
 * end time: one would cost every booking another write where the disk is
 * the limit.  Instead each tick looks at the next purge_per_tick bookings in
 * key order and goes round again at the end, so a phone is deleted within
 * SCHED_PURGE_REST_S and one round after its time (1,000,000 bookings take
 * about 33 minutes at 500 a second).  Records without a phone are passed
 * over without being decoded.  After a round it rests SCHED_PURGE_REST_S: a
 * store of a few thousand bookings would otherwise be decoded again every
 * few seconds, the future bookings' phones found not due each time. */
typedef struct {
    sched_t *sched;
    int64_t now;
    size_t seen;
    store_key_t *due;               /* bookings whose phone is to go */
    size_t ndue;
    store_key_t next;               /* where the next tick begins */
} purge_t;

static const uint8_t s_phone_key[] = { 0xa5, 'p', 'h', 'o', 'n', 'e' };   /* msgpack "phone" */

static int
s_purge_look(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    purge_t *p = arg;
    if (p->seen == p->sched->purge_per_tick) {
        /* the first not looked at; a key too long to be a reference (a
         * damaged store) is cut: the next tick begins just before it */
        p->next.len = klen < STORE_KEY_MAX ? klen : STORE_KEY_MAX;
        memcpy(p->next.b, key, p->next.len);
        return 1;
    }
    p->seen++;
    if (klen > STORE_KEY_MAX || !memmem(val, vlen, s_phone_key, sizeof s_phone_key))
        return 0;
    fl_msg_t *b = fl_msg_decode_as(FL_T_BOOKING_REC, val, vlen, NULL);
    int64_t retention = (int64_t) p->sched->config->phone_retention_days * 86400;
    if (b && fl_msg_has(b, FL_F_PHONE) && (int64_t) fl_msg_uint(b, FL_F_END) + retention < p->now) {
        memcpy(p->due[p->ndue].b, key, klen);
        p->due[p->ndue].len = klen;
        p->ndue++;
    }
    fl_msg_destroy(&b);                             /* a damaged one is left for `check` */
    return 0;
}

static int
s_purge_phones(store_txn_t *txn, void *arg)
{
    batch_t *b = arg;
    sched_t *sc = b->sched;
    purge_t p = { .sched = sc, .now = b->now, .due = malloc(sc->purge_per_tick * sizeof *p.due) };
    if (!p.due)
        return FL_E_NOMEM;
    int rc = store_scan(txn, STORE_DB_BOOKINGS, NULL, sc->purge_from.len ? &sc->purge_from : NULL,
                        s_purge_look, &p);
    if (rc > 0)
        rc = 0;
    for (size_t i = 0; i < p.ndue && rc == 0; i++) {
        fl_msg_t *rec = NULL;
        if ((rc = store_get_rec(txn, STORE_DB_BOOKINGS, &p.due[i], FL_T_BOOKING_REC, &rec)) == 0) {
            fl_msg_unset(rec, FL_F_PHONE);
            rc = store_put_rec(txn, STORE_DB_BOOKINGS, &p.due[i], rec);
        }
        fl_msg_destroy(&rec);
    }
    free(p.due);
    if (rc == 0) {
        b->purge_next = p.next;                     /* len 0: the end was reached, round again */
        b->phones_deleted = p.ndue;
    }
    return rc;
}

static int
s_run_tick(store_txn_t *txn, void *arg)
{
    batch_t *b = arg;
    batch_reset(b);
    /* held bookings whose time is up */
    due_t due = { .batch = b };
    int rc = store_scan(txn, STORE_DB_HOLDS, NULL, NULL, s_collect_due, &due);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < due.n; i++) {
        char ref[17];
        size_t len = due.keys[i].len - 8;
        memcpy(ref, due.keys[i].b + 8, len);
        ref[len] = '\0';
        op_t op = { .batch = b, .now = b->now, .role = SCHED_ROLE_ADMIN };
        op.txn = txn;
        rc = sched_expire_hold(&op, ref, &due.keys[i]);
        if (rc == 0)
            rc = batch_number_events(&op);
        batch_op_clear(&op);
        if (rc < 0 && rc != FL_E_NOT_FOUND)
            return rc;
    }
    /* tickets left waiting when their day ended */
    const fl_config_t *config = b->sched->config;
    for (size_t oi = 0; oi < config->office_count; oi++) {
        op_t op = { .batch = b, .now = b->now, .role = SCHED_ROLE_ADMIN, .txn = txn };
        const fl_office_t *office = &config->offices[oi];
        size_t closed = 0;
        rc = sched_close_past_days(&op, office, fl_zone_day(sched_zone(b->sched, (int) oi), b->now), &closed);
        if (rc == 0)
            rc = batch_number_events(&op);
        batch_op_clear(&op);
        if (rc < 0)
            return rc;
        if (closed)
            fl_log(FL_LOG_INFO, "closing tickets of past days as unserved", FL_S("office", office->code),
                   FL_U("tickets", closed), NULL);
    }
    /* stored replies past their day */
    due_t old = { .batch = b };
    rc = store_scan(txn, STORE_DB_IDEM_BY_EXPIRY, NULL, NULL, s_collect_due, &old);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < old.n; i++) {
        char rid[FL_RID_MAX + 1];
        size_t len = old.keys[i].len - 8;
        memcpy(rid, old.keys[i].b + 8, len);
        rid[len] = '\0';
        store_key_t k = store_key_idem(rid);
        store_del(txn, STORE_DB_IDEM, &k);
        if ((rc = store_del(txn, STORE_DB_IDEM_BY_EXPIRY, &old.keys[i])) < 0 && rc != FL_E_NOT_FOUND)
            return rc;
    }
    if ((rc = batch_store_newest_events(b, txn)))
        return rc;
    if (b->sched->older_events_left && store_nested(txn, s_forget_older_events, b) != 0)
        b->forgot_last_older_events = false;        /* try again next tick */
    if (b->now >= b->sched->purge_resume_at) {
        b->purge_rc = store_nested(txn, s_purge_phones, b);  /* if it fails, the same part next tick */
        b->purged = b->purge_rc == 0;
        b->purge_ran = true;
    }
    return 0;
}

int
sched_tick(sched_t *self, int64_t now, sched_event_t **events, size_t *nevents)
{
    *events = NULL;
    *nevents = 0;
    batch_t *b = batch_new(self, now);
    if (!b)
        return FL_E_NOMEM;
    fl_error_t err;
    int rc = store_write(self->store, s_run_tick, b, &err);
    if (rc == 0) {
        batch_after_commit(b, events, nevents);
        if (b->forgot_last_older_events)
            self->older_events_left = false;
        if (!b->purge_ran)
            ;                                       /* resting between rounds */
        else if (b->purged) {
            self->purge_from = b->purge_next;
            if (!b->purge_next.len)                 /* a round ended: rest before the next */
                self->purge_resume_at = now + SCHED_PURGE_REST_S;
            if (b->phones_deleted)
                fl_log(FL_LOG_INFO, "phone numbers past their retention deleted",
                       FL_U("bookings", b->phones_deleted), NULL);
        } else if (zclock_mono() - self->purge_failure_logged_ms >= 60000) {
            /* said at most once a minute: a purge stuck for good must not go unseen */
            fl_log(FL_LOG_WARN, "phone numbers past their retention not deleted; trying again",
                   FL_S("reason", fl_error_name(b->purge_rc)), NULL);
            self->purge_failure_logged_ms = zclock_mono();
        }
    }
    else {
        sched_log_failure(self, "periodic work not committed", err.message, 0);
        rc = FL_E_STORE;
    }
    batch_destroy(&b);
    return rc;
}

void
sched_set_purge_per_tick(sched_t *self, size_t n)
{
    assert(n >= 1);
    self->purge_per_tick = n;
}
