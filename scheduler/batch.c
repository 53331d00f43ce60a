/*  batch.c — group commit: many requests, one durable transaction.
 *
 *  sched_batch() runs inside one store_write().  For each request: decode and
 *  validate it; if it changes state, look its request id up in the
 *  idempotency store (a repeat gets the stored reply and does nothing more);
 *  run its handler; store a successful reply under the request id.  Then one
 *  commit for the lot.
 *
 *  One failure fails alone.  Handlers check before they write, so nearly
 *  every refusal (full, conflict, not found, bad input) happens before the
 *  request's first put, and the handler runs straight in the batch's
 *  transaction: a nested LMDB transaction per request would copy every page
 *  the request touches once more.  The store counts puts, deletes and errors
 *  (store_txn_marks); if a request fails after one of them, the batch is
 *  thrown away before anything is committed or answered and run again from
 *  the start with every request in its own nested transaction (store_nested),
 *  which rolls a failure back alone.  Requests that change nothing (no `rid`)
 *  never write and need neither.  Replies and events are handed back only after that commit, and the
 *  in-memory caches (event seq, service-time averages) change only then.  If
 *  the store grows its map and runs the whole function again, the per-batch
 *  state is reset first, so nothing is counted twice.
 */
#include "scheduler/internal.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "libfoleni/log.h"

static handler_fn *const s_handlers[FL_T__COUNT] = {
    [FL_T_LIST_OFFICES] = h_list_offices,   [FL_T_LIST_SERVICES] = h_list_services,
    [FL_T_AVAILABILITY] = h_availability,   [FL_T_BOOK] = h_book,
    [FL_T_VIEW] = h_view,                   [FL_T_CANCEL] = h_cancel,
    [FL_T_RESCHEDULE] = h_reschedule,       [FL_T_WALKIN] = h_walkin,
    [FL_T_CHECKIN] = h_checkin,             [FL_T_COUNTER_OPEN] = h_counter_open,
    [FL_T_COUNTER_PAUSE] = h_counter_pause, [FL_T_COUNTER_CLOSE] = h_counter_close,
    [FL_T_NEXT] = h_next,                   [FL_T_RECALL] = h_recall,
    [FL_T_START] = h_start,                 [FL_T_DONE] = h_done,
    [FL_T_NOSHOW] = h_noshow,               [FL_T_TRANSFER] = h_transfer,
    [FL_T_SNAPSHOT] = h_snapshot,           [FL_T_STATS] = h_stats,
};

/* ---- encoding replies ---- */

static void
s_encode(const fl_msg_t *msg, uint8_t **out, size_t *len)
{
    const void *data;
    size_t size;
    *out = NULL;
    *len = 0;
    if (fl_msg_encode_scratch(msg, &data, &size, NULL) == 0 && size && (*out = malloc(size))) {
        memcpy(*out, data, size);
        *len = size;
    }
}

static void
s_error_reply(sched_request_t *r, int code, const char *field, const char *message)
{
    r->refused = true;
    fl_msg_t *m = fl_msg_new(FL_T_ERROR);
    if (!m)
        return;
    fl_msg_set_str(m, FL_F_CODE, fl_error_name(code));
    char text[256];
    snprintf(text, sizeof text, "%s", message);
    if (fl_msg_set_str(m, FL_F_MESSAGE, text) != 0)
        fl_msg_set_str(m, FL_F_MESSAGE, "the request was refused");
    if (field && *field && fl_msg_set_str(m, FL_F_FIELD, field) != 0)
        fl_msg_unset(m, FL_F_FIELD);
    free(r->reply);
    s_encode(m, &r->reply, &r->reply_len);
    fl_msg_destroy(&m);
}

/* ---- per-batch state ---- */

static void
s_event_free(void **item)
{
    sched_event_t *e = *item;
    if (e) {
        free(e->body);
        free(e);
        *item = NULL;
    }
}

static void
s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

void
batch_reset(batch_t *b)
{
    b->forgot_last_older_events = false;
    b->purge_ran = b->purged = false;
    b->purge_next.len = 0;
    b->phones_deleted = 0;
    zhashx_purge(b->seq);
    zlistx_purge(b->events);
    zlistx_purge(b->samples);
}

/* An office's numbering in this batch, made on its first event. */
static batch_seq_t *
s_batch_seq(batch_t *b, const char *office)
{
    batch_seq_t *s = zhashx_lookup(b->seq, office);
    if (!s && (s = calloc(1, sizeof *s))) {
        const uint64_t *committed = zhashx_lookup(b->sched->seq, office);
        s->committed = s->seq = committed ? *committed : 0;
        if (zhashx_insert(b->seq, office, s) != 0) {
            free(s);
            s = NULL;
        }
    }
    return s;
}

/* The newest seq an office's events have, this batch's included. */
uint64_t
batch_newest_seq(batch_t *b, const char *office)
{
    const batch_seq_t *s = zhashx_lookup(b->seq, office);
    if (s)
        return s->seq;
    const uint64_t *committed = zhashx_lookup(b->sched->seq, office);
    return committed ? *committed : 0;
}

uint64_t
sched_current_seq(op_t *op, const char *office)
{
    return batch_newest_seq(op->batch, office);
}

/* Take back the events batch_number_events numbered for op, newest first, so each
 * office's numbering ends where it began. */
static void
s_unnumber_events(op_t *op)
{
    while (op->nnumbered > 0) {
        int i = --op->nnumbered;
        op->numbered[i].seq->seq--;
        op->numbered[i].seq->newest = op->numbered[i].was_newest;
        zlistx_delete(op->batch->events, op->numbered[i].handle);
    }
}

/* Give the op's events their seq and queue them for publishing after the
 * commit.  All or nothing: if one cannot be queued (out of memory), those
 * queued before it are taken back and their numbers given back; so are they
 * all if the op's nested transaction fails after this (s_handle).  A request
 * that fails publishes nothing and leaves no gap. */
int
batch_number_events(op_t *op)
{
    batch_t *b = op->batch;
    op->nnumbered = 0;
    for (int i = 0; i < op->nevents; i++) {
        fl_msg_t *e = op->events[i];
        const char *office = fl_msg_str(e, FL_F_OFFICE);
        batch_seq_t *s = s_batch_seq(b, office);
        sched_event_t *out = s ? calloc(1, sizeof *out) : NULL;
        if (!out) {
            s_unnumber_events(op);
            return FL_E_NOMEM;
        }
        fl_msg_set_uint(e, FL_F_SEQ, s->seq + 1);
        fl_msg_set_uint(e, FL_F_AT, (uint64_t) op->now);
        /* one encoding serves the bus and, if it is the office's newest, the store */
        s_encode(e, &out->body, &out->len);
        snprintf(out->topic, sizeof out->topic, "%s.%s", office, fl_msg_str(e, FL_F_KIND));
        void *handle = out->body ? zlistx_add_end(b->events, out) : NULL;
        if (!handle) {
            free(out->body);
            free(out);
            s_unnumber_events(op);
            return FL_E_NOMEM;
        }
        op->numbered[op->nnumbered++] = (numbered_event_t) { .seq = s, .was_newest = s->newest, .handle = handle };
        s->seq++;
        s->newest = out;
    }
    return 0;
}

/* The store keeps only each office's newest event: its seq is where the
 * numbering goes on after a restart (sched_new reads it), and keeping every
 * event would cost a put and about 200 bytes on the disk per change, a tenth
 * of a booking's cost, for a log nothing reads (docs/store.md).  One put and
 * one delete per office per batch, in the batch's own transaction. */
int
batch_store_newest_events(batch_t *b, store_txn_t *txn)
{
    for (batch_seq_t *s = zhashx_first(b->seq); s; s = zhashx_next(b->seq)) {
        if (!s->newest || s->seq == s->committed)
            continue;
        const char *office = zhashx_cursor(b->seq);
        store_key_t k = store_key_event(office, s->seq);
        int rc = store_put(txn, STORE_DB_EVENTS, &k, s->newest->body, s->newest->len);
        if (rc)
            return rc;
        if (s->committed) {
            store_key_t old = store_key_event(office, s->committed);
            if ((rc = store_del(txn, STORE_DB_EVENTS, &old)) && rc != FL_E_NOT_FOUND)
                return rc;
        }
    }
    return 0;
}

void
batch_op_clear(op_t *op)
{
    for (int i = 0; i < op->nevents; i++)
        fl_msg_destroy(&op->events[i]);
    op->nevents = 0;
    fl_msg_destroy(&op->reply);
    free(op->raw_reply);
    op->raw_reply = NULL;
    op->raw_len = 0;
}

/* The nested transaction of one request. */
static int
s_run_op(store_txn_t *txn, void *arg)
{
    op_t *op = arg;
    op->txn = txn;
    handler_fn *fn = s_handlers[fl_msg_type(op->req)];
    int rc = fn(op);
    if (rc == 0 && !op->reply && !op->raw_reply)
        rc = sched_fail(op, FL_E_INVALID, "", "internal error: no reply was made");
    if (rc == 0)
        rc = batch_number_events(op);
    return rc;
}

/* ---- idempotency ---- */

typedef struct {
    uint8_t hash[32];
    bool found, same;
    uint8_t *reply;
    size_t len;
} idem_t;

static int
s_idem_lookup(store_txn_t *txn, const char *rid, idem_t *idem)
{
    store_key_t k = store_key_idem(rid);
    fl_msg_t *rec = NULL;
    int rc = store_get_rec(txn, STORE_DB_IDEM, &k, FL_T_IDEM_REC, &rec);
    if (rc == FL_E_NOT_FOUND)
        return 0;
    if (rc)
        return rc;
    size_t hlen, rlen;
    const void *hash = fl_msg_bin(rec, FL_F_REQUEST_HASH, &hlen);
    const void *reply = fl_msg_bin(rec, FL_F_REPLY, &rlen);
    idem->found = true;
    idem->same = hlen == 32 && memcmp(hash, idem->hash, 32) == 0;
    if (idem->same && (idem->reply = malloc(rlen ? rlen : 1))) {
        memcpy(idem->reply, reply, rlen);
        idem->len = rlen;
    }
    fl_msg_destroy(&rec);
    return 0;
}

static int
s_idem_store(store_txn_t *txn, const char *rid, const uint8_t hash[32], const sched_request_t *r, int64_t now)
{
    fl_msg_t *rec = fl_msg_new(FL_T_IDEM_REC);
    if (!rec)
        return FL_E_NOMEM;
    uint64_t expires = (uint64_t) now + SCHED_IDEM_TTL_S;
    fl_msg_set_str(rec, FL_F_RID, rid);
    fl_msg_set_uint(rec, FL_F_EXPIRES, expires);
    fl_msg_set_bin(rec, FL_F_REQUEST_HASH, hash, 32);
    fl_msg_set_bin(rec, FL_F_REPLY, r->reply ? r->reply : (const uint8_t *) "", r->reply_len);
    store_key_t k = store_key_idem(rid), ek = store_key_idem_expiry(expires, rid);
    int rc = store_put_rec(txn, STORE_DB_IDEM, &k, rec);
    if (rc == 0)
        rc = store_put(txn, STORE_DB_IDEM_BY_EXPIRY, &ek, "", 0);
    fl_msg_destroy(&rec);
    return rc;
}

/* ---- the batch ---- */

typedef struct {
    batch_t *batch;
    sched_request_t *reqs;
    size_t n;
} run_t;

/* s_handle's answer when a request failed after writing in the batch's own
 * transaction: the batch must be thrown away and run again nested. */
#define S_REDO 1

static int
s_handle(batch_t *b, store_txn_t *txn, sched_request_t *r)
{
    fl_error_t err;
    fl_msg_t *req = fl_msg_decode(r->body, r->len, &err);
    if (!req) {
        s_error_reply(r, err.code, err.field, err.message);
        return 0;
    }
    fl_type_t type = fl_msg_type(req);
    if (fl_schema_type(type)->role != FL_ROLE_REQUEST || !s_handlers[type]) {
        s_error_reply(r, FL_E_UNKNOWN, "type", "the scheduler takes requests only");
        fl_msg_destroy(&req);
        return 0;
    }
    bool mutating = fl_schema_is_mutating(type);
    idem_t idem = { .found = false };
    const char *rid = mutating ? fl_msg_str(req, FL_F_RID) : NULL;
    if (mutating) {
        crypto_generichash(idem.hash, sizeof idem.hash, r->body, r->len, NULL, 0);
        if (s_idem_lookup(txn, rid, &idem) == 0 && idem.found) {
            if (idem.same && idem.reply) {
                r->reply = idem.reply;      /* the first answer, word for word */
                r->reply_len = idem.len;
                r->repeat = true;
            } else
                s_error_reply(r, FL_E_CONFLICT, "rid", "this request id was already used for another request");
            fl_msg_destroy(&req);
            return 0;
        }
    }
    const char *token = fl_msg_takes(req, FL_F_TOKEN) ? fl_msg_str(req, FL_F_TOKEN) : NULL;
    op_t op = { .batch = b, .req = req, .now = b->now };
    op.role = sched_role_of(b->sched, r->caller, token, &op.binding);
    int rc;
    if (b->nested) {
        rc = store_nested(txn, s_run_op, &op);
        if (rc)
            s_unnumber_events(&op);         /* its commit may fail after its events were numbered */
    } else {
        unsigned long marks = store_txn_marks(txn);
        rc = s_run_op(txn, &op);
        if (rc != 0 && store_txn_marks(txn) != marks) {
            batch_op_clear(&op);                /* it may have left half its writes */
            fl_msg_destroy(&req);
            return S_REDO;
        }
    }
    if (rc == 0 && op.raw_reply) {
        r->reply = op.raw_reply;
        r->reply_len = op.raw_len;
        op.raw_reply = NULL;
    } else if (rc == 0)
        s_encode(op.reply, &r->reply, &r->reply_len);
    else if (op.err.code)
        s_error_reply(r, op.err.code, op.err.field, op.err.message);
    else
        s_error_reply(r, FL_E_STORE, "", "the store failed; try again");
    batch_op_clear(&op);
    /* Only a success is remembered: a refused request changed nothing, so
     * running it again on a retry cannot do anything twice. */
    if (mutating && r->reply && rc == 0)
        s_idem_store(txn, rid, idem.hash, r, b->now);
    fl_msg_destroy(&req);
    return 0;
}

static int
s_run_batch(store_txn_t *txn, void *arg)
{
    run_t *run = arg;
    batch_reset(run->batch);
    for (size_t i = 0; i < run->n; i++) {
        sched_request_t *r = &run->reqs[i];
        free(r->reply);
        r->reply = NULL;
        r->reply_len = 0;
        r->repeat = false;
        r->refused = false;
        if (s_handle(run->batch, txn, r) == S_REDO)
            return S_REDO;                  /* store_write aborts the transaction */
    }
    return batch_store_newest_events(run->batch, txn);
}

/* After a commit: fold the batch into the caches and hand out its events. */
void
batch_after_commit(batch_t *b, sched_event_t **events, size_t *nevents)
{
    for (batch_seq_t *s = zhashx_first(b->seq); s; s = zhashx_next(b->seq)) {
        const char *office = zhashx_cursor(b->seq);
        uint64_t *committed = zhashx_lookup(b->sched->seq, office);
        if (committed)
            *committed = s->seq;
    }
    for (sched_sample_t *smp = zlistx_first(b->samples); smp; smp = zlistx_next(b->samples)) {
        fl_service_avg_t *avg = zhashx_lookup(b->sched->averages, smp->key);
        if (avg)
            fl_service_avg_add(avg, smp->seconds);
    }
    size_t n = zlistx_size(b->events);
    *events = n ? calloc(n, sizeof **events) : NULL;
    *nevents = 0;
    for (sched_event_t *e = zlistx_first(b->events); e && *events; e = zlistx_next(b->events)) {
        (*events)[(*nevents)++] = *e;
        e->body = NULL;
    }
}

batch_t *
batch_new(sched_t *self, int64_t now)
{
    batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->sched = self;
    b->now = now;
    b->seq = zhashx_new();
    b->events = zlistx_new();
    b->samples = zlistx_new();
    if (!b->seq || !b->events || !b->samples) {
        zhashx_destroy(&b->seq);
        zlistx_destroy(&b->events);
        zlistx_destroy(&b->samples);
        free(b);
        return NULL;
    }
    zhashx_set_destructor(b->seq, s_free_item);
    zlistx_set_destructor(b->events, s_event_free);
    zlistx_set_destructor(b->samples, s_free_item);
    return b;
}

void
batch_destroy(batch_t **b_p)
{
    batch_t *b = *b_p;
    if (!b)
        return;
    zhashx_destroy(&b->seq);
    zlistx_destroy(&b->events);
    zlistx_destroy(&b->samples);
    free(b);
    *b_p = NULL;
}

/* A write that did not commit, in the log: at most one line a second, which
 * counts the failures it stands for (a full disk fails every batch, hundreds
 * a second in a rush; the metrics file counts each one). */
void
sched_log_failure(sched_t *self, const char *what, const char *reason, size_t requests)
{
    int64_t now = zclock_mono();
    if (self->failure_logged_ms && now - self->failure_logged_ms < 1000) {
        self->failures_unlogged++;
        return;
    }
    fl_log(FL_LOG_ERROR, what, FL_S("reason", reason), FL_U("requests", requests),
           FL_U("failures_not_logged_since_last", self->failures_unlogged), NULL);
    self->failure_logged_ms = now;
    self->failures_unlogged = 0;
}

int
sched_batch(sched_t *self, sched_request_t *reqs, size_t n, int64_t now, sched_event_t **events,
            size_t *nevents)
{
    *events = NULL;
    *nevents = 0;
    assert(n <= SCHED_BATCH_MAX);
    batch_t *b = batch_new(self, now);
    if (!b)
        return FL_E_NOMEM;
    self->ref_lead = (self->ref_lead + 1) % SCHED_REF_LEADS;
    run_t run = { .batch = b, .reqs = reqs, .n = n };
    fl_error_t err;
    int64_t started = zclock_usecs();
    int rc = store_write(self->store, s_run_batch, &run, &err);
    if (rc == S_REDO) {
        fl_log(FL_LOG_DEBUG, "batch run again, each request nested", FL_U("requests", n), NULL);
        b->nested = true;
        self->stats.redone++;
        rc = store_write(self->store, s_run_batch, &run, &err);
    }
    double ms = (double) (zclock_usecs() - started) / 1000;
    sched_stats_t *st = &self->stats;
    st->write_ms += ms;
    if (ms > st->write_ms_max)
        st->write_ms_max = ms;
    if (n > st->batch_max)
        st->batch_max = n;
    st->requests += n;
    if (rc == 0) {
        st->batches++;
        batch_after_commit(b, events, nevents);
        st->events += *nevents;
        for (size_t i = 0; i < n; i++) {
            st->refused += reqs[i].refused;
            st->repeats += reqs[i].repeat;
        }
    } else {
        st->failed_batches++;
        st->refused += n;
        sched_log_failure(self, "batch not committed", err.message, n);
        for (size_t i = 0; i < n; i++)
            s_error_reply(&reqs[i], FL_E_STORE, "", "the store failed; nothing was changed, try again");
        rc = FL_E_STORE;
    }
    batch_destroy(&b);
    return rc;
}

void
sched_stats_take(sched_t *self, sched_stats_t *out, bool reset)
{
    *out = self->stats;
    if (reset) {
        self->stats.batch_max = 0;
        self->stats.write_ms_max = 0;
    }
}

void
sched_events_free(sched_event_t *events, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(events[i].body);
    free(events);
}
