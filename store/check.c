/*  check.c — the store's consistency check.  See check.h for what it proves.
 *
 *  One read transaction; each database is scanned once.  To compare the places
 *  taken in each slot with the bookings that hold them without an index by
 *  slot, the slot keys of all active bookings are collected, sorted and
 *  merged with the scan of the places (from schema 3 on, `places` in the
 *  index's environment; before, the slot records; memory: 24 bytes per
 *  active booking).
 */
#include "store/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
store_booking_holds_place(const char *state)
{
    return state && (strcmp(state, STORE_BOOKING_HELD) == 0 || strcmp(state, STORE_BOOKING_CONFIRMED) == 0
                     || strcmp(state, STORE_BOOKING_CHECKED_IN) == 0);
}

typedef struct {
    store_txn_t *txn;
    store_problem_fn *report;
    void *arg;
    size_t problems;
    store_db_t db;                  /* database being scanned */
    /* slot keys of bookings holding a place, for the slot comparison */
    uint8_t (*held)[24];
    size_t nheld, capheld;
    size_t active_bookings;
    bool index;                     /* the citizen index exists (store.h, store_stat) */
    bool places;                    /* places are kept apart, and readable (store_txn_has_places) */
    bool counted_in_slots;          /* schema 1 or 2: the slot records hold the count */
    int failure;                    /* FL_E_NOMEM or FL_E_STORE: stop */
} check_t;

__attribute__((format(printf, 3, 4)))
static void
s_problem(check_t *c, store_db_t db, const char *fmt, ...)
{
    char text[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    c->problems++;
    if (c->report)
        c->report(store_db_name(db), text, c->arg);
}

static bool
s_key_is(const uint8_t *key, size_t klen, const store_key_t *want)
{
    return klen == want->len && memcmp(key, want->b, klen) == 0;
}

/* Printable form of a key for problem reports. */
static const char *
s_hex(const uint8_t *key, size_t klen, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < klen && o + 3 < cap; i++)
        o += (size_t) snprintf(out + o, cap - o, "%02x", key[i]);
    out[o] = '\0';
    return out;
}

static bool
s_exists(check_t *c, store_db_t db, const store_key_t *key)
{
    const void *v;
    size_t n;
    return store_get(c->txn, db, key, &v, &n) == 0;
}

/* Decode the value of the entry being scanned; report and return NULL if damaged. */
static fl_msg_t *
s_decode(check_t *c, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    fl_error_t err;
    fl_msg_t *rec = fl_msg_decode_as(store_db_record_type(c->db), val, vlen, &err);
    if (!rec) {
        char hex[2 * STORE_KEY_MAX + 1];
        if (err.code == FL_E_NOMEM)
            c->failure = FL_E_NOMEM;
        else
            s_problem(c, c->db, "key %s: value does not decode: %s", s_hex(key, klen, hex, sizeof hex),
                      err.message);
    }
    return rec;
}

static void
s_wrong_key(check_t *c, const uint8_t *key, size_t klen, const char *what)
{
    char hex[2 * STORE_KEY_MAX + 1];
    s_problem(c, c->db, "key %s does not match its record (%s)", s_hex(key, klen, hex, sizeof hex), what);
}

/* ---- one visitor per database ---- */

static int
s_office(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    if (rec) {
        store_key_t want = store_key_office(fl_msg_str(rec, FL_F_OFFICE));
        if (!s_key_is(key, klen, &want))
            s_wrong_key(c, key, klen, fl_msg_str(rec, FL_F_OFFICE));
    }
    fl_msg_destroy(&rec);
    return c->failure;
}

static int
s_service(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    if (rec) {
        const char *office = fl_msg_str(rec, FL_F_OFFICE), *service = fl_msg_str(rec, FL_F_SERVICE);
        store_key_t want = store_key_service(office, service);
        if (!s_key_is(key, klen, &want))
            s_wrong_key(c, key, klen, service);
        store_key_t ok = store_key_office(office);
        if (!s_exists(c, STORE_DB_OFFICES, &ok))
            s_problem(c, c->db, "service %s belongs to unknown office %s", service, office);
    }
    fl_msg_destroy(&rec);
    return c->failure;
}

static int
s_counter(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    if (rec) {
        const char *office = fl_msg_str(rec, FL_F_OFFICE);
        unsigned number = (unsigned) fl_msg_uint(rec, FL_F_COUNTER);
        store_key_t want = store_key_counter(office, number);
        if (!s_key_is(key, klen, &want))
            s_wrong_key(c, key, klen, "counter");
        store_key_t ok = store_key_office(office);
        if (!s_exists(c, STORE_DB_OFFICES, &ok))
            s_problem(c, c->db, "counter %u belongs to unknown office %s", number, office);
        for (size_t i = 0; i < fl_msg_count(rec, FL_F_SERVICE_CODES); i++) {
            const char *code = fl_msg_str_at(rec, FL_F_SERVICE_CODES, i);
            store_key_t sk = store_key_service(office, code);
            if (strlen(code) > STORE_CODE_WIDTH || !s_exists(c, STORE_DB_SERVICES, &sk))
                s_problem(c, c->db, "counter %u of %s serves %s, which the office does not offer",
                          number, office, code);
        }
    }
    fl_msg_destroy(&rec);
    return c->failure;
}

static int
s_booking(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    if (!rec)
        return c->failure;
    const char *ref = fl_msg_str(rec, FL_F_REF);
    store_key_t want = store_key_booking(ref);
    if (!s_key_is(key, klen, &want))
        s_wrong_key(c, key, klen, ref);
    if (strcmp(fl_msg_str(rec, FL_F_STATE), STORE_BOOKING_HELD) == 0) {
        store_key_t hk = store_key_hold(fl_msg_uint(rec, FL_F_EXPIRES), ref);
        if (!fl_msg_has(rec, FL_F_EXPIRES) || !s_exists(c, STORE_DB_HOLDS, &hk))
            s_problem(c, c->db, "held booking %s is missing from the hold index", ref);
    }
    if (store_booking_holds_place(fl_msg_str(rec, FL_F_STATE))) {
        const char *office = fl_msg_str(rec, FL_F_OFFICE), *service = fl_msg_str(rec, FL_F_SERVICE);
        store_key_t slot = store_key_slot(office, service, fl_msg_uint(rec, FL_F_START));
        if (!s_exists(c, STORE_DB_SLOTS, &slot))
            s_problem(c, c->db, "booking %s holds a place in a slot that does not exist", ref);
        if (c->nheld == c->capheld) {
            size_t cap = c->capheld ? c->capheld * 2 : 1024;
            void *grown = realloc(c->held, cap * sizeof *c->held);
            if (!grown) {
                fl_msg_destroy(&rec);
                return c->failure = FL_E_NOMEM;
            }
            c->held = grown;
            c->capheld = cap;
        }
        memcpy(c->held[c->nheld++], slot.b, 24);
        c->active_bookings++;
    }
    if (c->index && store_booking_holds_place(fl_msg_str(rec, FL_F_STATE))) {
        const char *service = fl_msg_str(rec, FL_F_SERVICE);
        size_t hlen;
        const uint8_t *hash = fl_msg_bin(rec, FL_F_ID_HASH, &hlen);
        store_key_t ck = store_key_citizen(hash, service);
        const void *iv;
        size_t ilen;
        if (store_get(c->txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck, &iv, &ilen) != 0)
            s_problem(c, c->db, "active booking %s is missing from the citizen index", ref);
        else if (ilen != strlen(ref) || memcmp(iv, ref, ilen) != 0)
            s_problem(c, c->db, "the citizen index names another booking than %s for its citizen and service", ref);
    }
    fl_msg_destroy(&rec);
    return c->failure;
}

static int
s_citizen(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    char ref[17];
    if (klen != STORE_HASH_WIDTH + STORE_CODE_WIDTH || vlen < 1 || vlen > 16) {
        s_wrong_key(c, key, klen, "malformed index entry");
        return 0;
    }
    memcpy(ref, val, vlen);
    ref[vlen] = '\0';
    store_key_t bk = store_key_booking(ref);
    fl_msg_t *rec = NULL;
    int rc = store_get_rec(c->txn, STORE_DB_BOOKINGS, &bk, FL_T_BOOKING_REC, &rec);
    if (rc == FL_E_NOMEM)
        return c->failure = FL_E_NOMEM;
    if (rc) {
        s_problem(c, c->db, "index entry names booking %s, which does not exist", ref);
        return 0;
    }
    size_t hlen;
    const uint8_t *hash = fl_msg_bin(rec, FL_F_ID_HASH, &hlen);
    store_key_t want = store_key_citizen(hash, fl_msg_str(rec, FL_F_SERVICE));
    if (!s_key_is(key, klen, &want))
        s_problem(c, c->db, "index entry for booking %s has another citizen or service", ref);
    if (!store_booking_holds_place(fl_msg_str(rec, FL_F_STATE)))
        s_problem(c, c->db, "index entry names booking %s, which is %s", ref, fl_msg_str(rec, FL_F_STATE));
    fl_msg_destroy(&rec);
    return 0;
}

static int
s_cmp_slot(const void *a, const void *b)
{
    return memcmp(a, b, 24);
}

typedef struct {
    check_t *c;
    size_t next;                     /* first held key not yet matched */
} slots_t;

/* How many bookings hold a place in the slot under key (keys come in order). */
static uint64_t
s_holding(slots_t *s, const uint8_t *key, size_t klen)
{
    check_t *c = s->c;
    /* held keys are sorted; bookings whose slot is missing were reported already */
    while (s->next < c->nheld && memcmp(c->held[s->next], key, klen < 24 ? klen : 24) < 0)
        s->next++;
    uint64_t holding = 0;
    while (s->next < c->nheld && klen == 24 && memcmp(c->held[s->next], key, 24) == 0) {
        holding++;
        s->next++;
    }
    return holding;
}

/* The places counted in a slot against its capacity and its bookings. */
static void
s_compare_places(check_t *c, slots_t *s, const uint8_t *key, size_t klen, uint64_t taken, uint64_t cap)
{
    char a[STORE_CODE_WIDTH + 1], b[STORE_CODE_WIDTH + 1];
    const char *office = klen == 24 ? store_code_get(key, a) : "?", *service = klen == 24 ? store_code_get(key + 8, b) : "?";
    unsigned long long start = klen == 24 ? (unsigned long long) store_be_get(key + 16, 8) : 0;
    if (taken > cap)
        s_problem(c, c->db, "slot %s/%s at %llu is over capacity: %llu taken of %llu", office, service, start,
                  (unsigned long long) taken, (unsigned long long) cap);
    uint64_t holding = s_holding(s, key, klen);
    if (holding != taken)
        s_problem(c, c->db, "slot %s/%s at %llu says %llu taken but %llu bookings hold places in it",
                  office, service, start, (unsigned long long) taken, (unsigned long long) holding);
}

static int
s_slot(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    slots_t *s = arg;
    check_t *c = s->c;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    if (!rec)
        return c->failure;
    const char *office = fl_msg_str(rec, FL_F_OFFICE), *service = fl_msg_str(rec, FL_F_SERVICE);
    uint64_t start = fl_msg_uint(rec, FL_F_START);
    store_key_t want = store_key_slot(office, service, start);
    if (!s_key_is(key, klen, &want))
        s_wrong_key(c, key, klen, "slot");
    store_key_t sk = store_key_service(office, service);
    if (!s_exists(c, STORE_DB_SERVICES, &sk))
        s_problem(c, c->db, "slot of unknown service %s/%s", office, service);
    if (fl_msg_uint(rec, FL_F_END) <= start)
        s_problem(c, c->db, "slot %s/%s at %llu ends before it starts", office, service, (unsigned long long) start);
    uint64_t cap = fl_msg_uint(rec, FL_F_CAPACITY);
    if (c->counted_in_slots)
        s_compare_places(c, s, key, klen, fl_msg_uint(rec, FL_F_TAKEN), cap);
    else if (c->places) {
        if (!s_exists(c, STORE_DB_PLACES, &want))
            s_problem(c, c->db, "slot %s/%s at %llu has no places record in the index", office, service,
                      (unsigned long long) start);
    } else {
        /* no index to read the count from (a backup): the bookings alone
         * still prove that the slot holds no more than its capacity */
        uint64_t holding = s_holding(s, key, klen);
        if (holding > cap)
            s_problem(c, c->db, "slot %s/%s at %llu is over capacity: %llu bookings hold places of %llu", office,
                      service, (unsigned long long) start, (unsigned long long) holding, (unsigned long long) cap);
    }
    fl_msg_destroy(&rec);
    return c->failure;
}

/* A places record (schema 3): 8 bytes under a slot's key, for a slot that
 * has its durable record and the same capacity. */
static int
s_place(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    slots_t *s = arg;
    check_t *c = s->c;
    store_places_t places;
    if (klen != 24 || vlen != STORE_PLACES_LEN || store_places_parse(val, vlen, &places) != 0) {
        s_wrong_key(c, key, klen, "malformed places record");
        return 0;
    }
    store_key_t k = { .len = 24 };
    memcpy(k.b, key, 24);
    store_slot_t slot;
    int rc = store_get_slot(c->txn, &k, &slot);
    if (rc == FL_E_NOMEM)
        return c->failure = FL_E_NOMEM;
    char a[STORE_CODE_WIDTH + 1], b[STORE_CODE_WIDTH + 1];
    if (rc == FL_E_NOT_FOUND)
        s_problem(c, c->db, "places of slot %s/%s at %llu, which has no slot record", store_code_get(key, a),
                  store_code_get(key + 8, b), (unsigned long long) store_be_get(key + 16, 8));
    else if (rc == 0 && slot.capacity != places.capacity)
        s_problem(c, c->db, "places of slot %s/%s at %llu say capacity %u, its slot record %u", store_code_get(key, a),
                  store_code_get(key + 8, b), (unsigned long long) store_be_get(key + 16, 8), places.capacity,
                  slot.capacity);
    s_compare_places(c, s, key, klen, places.taken, places.capacity);
    return c->failure;
}

static int
s_ticket(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    if (!rec)
        return c->failure;
    const char *office = fl_msg_str(rec, FL_F_OFFICE);
    store_key_t want = store_key_ticket(office, (uint32_t) fl_msg_uint(rec, FL_F_DAY),
                                        fl_msg_str(rec, FL_F_PREFIX)[0],
                                        (uint32_t) fl_msg_uint(rec, FL_F_NUMBER));
    if (!s_key_is(key, klen, &want))
        s_wrong_key(c, key, klen, fl_msg_str(rec, FL_F_TICKET));
    if (strcmp(fl_msg_str(rec, FL_F_STATE), "waiting") == 0 && !s_exists(c, STORE_DB_WAITING, &want))
        s_problem(c, c->db, "waiting ticket %s is missing from the waiting index", fl_msg_str(rec, FL_F_TICKET));
    if (fl_msg_has(rec, FL_F_REF)) {
        store_key_t bk = store_key_booking(fl_msg_str(rec, FL_F_REF));
        if (!s_exists(c, STORE_DB_BOOKINGS, &bk))
            s_problem(c, c->db, "ticket %s names booking %s, which does not exist",
                      fl_msg_str(rec, FL_F_TICKET), fl_msg_str(rec, FL_F_REF));
    }
    fl_msg_destroy(&rec);
    return c->failure;
}

static int
s_waiting(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    (void) val; (void) vlen;
    store_key_t tk = { .len = klen };
    if (klen > STORE_KEY_MAX) {
        s_wrong_key(c, key, klen, "malformed waiting entry");
        return 0;
    }
    memcpy(tk.b, key, klen);
    fl_msg_t *rec = NULL;
    int rc = store_get_rec(c->txn, STORE_DB_TICKETS, &tk, FL_T_TICKET_REC, &rec);
    if (rc == FL_E_NOMEM)
        return c->failure = FL_E_NOMEM;
    if (rc)
        s_wrong_key(c, key, klen, "waiting entry for a ticket that does not exist");
    else if (strcmp(fl_msg_str(rec, FL_F_STATE), "waiting") != 0)
        s_problem(c, c->db, "ticket %s is in the waiting index but is %s", fl_msg_str(rec, FL_F_TICKET),
                  fl_msg_str(rec, FL_F_STATE));
    fl_msg_destroy(&rec);
    return 0;
}

static int
s_hold(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    (void) val; (void) vlen;
    if (klen < 9 || klen > 8 + 16) {
        s_wrong_key(c, key, klen, "malformed hold entry");
        return 0;
    }
    char ref[17];
    memcpy(ref, key + 8, klen - 8);
    ref[klen - 8] = '\0';
    store_key_t bk = store_key_booking(ref);
    fl_msg_t *rec = NULL;
    int rc = store_get_rec(c->txn, STORE_DB_BOOKINGS, &bk, FL_T_BOOKING_REC, &rec);
    if (rc == FL_E_NOMEM)
        return c->failure = FL_E_NOMEM;
    if (rc)
        s_problem(c, c->db, "hold entry names booking %s, which does not exist", ref);
    else if (strcmp(fl_msg_str(rec, FL_F_STATE), STORE_BOOKING_HELD) != 0
             || fl_msg_uint(rec, FL_F_EXPIRES) != store_be_get(key, 8))
        s_problem(c, c->db, "hold entry for booking %s disagrees with it (%s)", ref, fl_msg_str(rec, FL_F_STATE));
    fl_msg_destroy(&rec);
    return 0;
}

static int
s_event(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    if (rec) {
        store_key_t want = store_key_event(fl_msg_str(rec, FL_F_OFFICE), fl_msg_uint(rec, FL_F_SEQ));
        if (!s_key_is(key, klen, &want))
            s_wrong_key(c, key, klen, "event office and seq");
    }
    fl_msg_destroy(&rec);
    return c->failure;
}

static int
s_idem(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    if (rec) {
        const char *rid = fl_msg_str(rec, FL_F_RID);
        store_key_t want = store_key_idem(rid);
        if (!s_key_is(key, klen, &want))
            s_wrong_key(c, key, klen, rid);
        store_key_t ek = store_key_idem_expiry(fl_msg_uint(rec, FL_F_EXPIRES), rid);
        if (!s_exists(c, STORE_DB_IDEM_BY_EXPIRY, &ek))
            s_problem(c, c->db, "stored reply %s has no expiry entry", rid);
    }
    fl_msg_destroy(&rec);
    return c->failure;
}

static int
s_idem_expiry(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    (void) val; (void) vlen;
    if (klen < 8 + 8 || klen > 8 + 64) {
        s_wrong_key(c, key, klen, "malformed expiry entry");
        return 0;
    }
    char rid[65];
    memcpy(rid, key + 8, klen - 8);
    rid[klen - 8] = '\0';
    store_key_t ik = store_key_idem(rid);
    fl_msg_t *rec = NULL;
    int rc = store_get_rec(c->txn, STORE_DB_IDEM, &ik, FL_T_IDEM_REC, &rec);
    if (rc == FL_E_NOMEM)
        return c->failure = FL_E_NOMEM;
    if (rc)
        s_problem(c, c->db, "expiry entry for %s has no stored reply", rid);
    else if (fl_msg_uint(rec, FL_F_EXPIRES) != store_be_get(key, 8))
        s_problem(c, c->db, "expiry entry for %s disagrees with the reply's expiry", rid);
    fl_msg_destroy(&rec);
    return 0;
}

static int
s_meta(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    check_t *c = arg;
    fl_msg_t *rec = s_decode(c, key, klen, val, vlen);
    fl_msg_destroy(&rec);
    return c->failure;
}

static int
s_run(store_txn_t *txn, void *arg)
{
    check_t *c = arg;
    c->txn = txn;
    /* A store whose index is absent or untrusted (a backup, opened read-only;
     * a stale index) has nothing to compare; the scheduler builds it from the
     * bookings at start. */
    c->index = store_txn_has_index(txn);
    c->places = store_txn_has_places(txn);
    c->counted_in_slots = store_schema_version(store_txn_store(txn)) < 3;
    static const struct { store_db_t db; store_each_fn *fn; } order[] = {
        { STORE_DB_META, s_meta }, { STORE_DB_OFFICES, s_office }, { STORE_DB_SERVICES, s_service },
        { STORE_DB_COUNTERS, s_counter }, { STORE_DB_BOOKINGS, s_booking },
        { STORE_DB_BOOKINGS_BY_CITIZEN, s_citizen }, { STORE_DB_TICKETS, s_ticket },
        { STORE_DB_WAITING, s_waiting }, { STORE_DB_HOLDS, s_hold },
        { STORE_DB_EVENTS, s_event }, { STORE_DB_IDEM, s_idem }, { STORE_DB_IDEM_BY_EXPIRY, s_idem_expiry },
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        c->db = order[i].db;
        int rc = store_scan(txn, order[i].db, NULL, NULL, order[i].fn, c);
        if (rc)
            return rc;
    }
    store_key_t schema = { .len = 6 };
    memcpy(schema.b, "schema", 6);
    if (!s_exists(c, STORE_DB_META, &schema))
        s_problem(c, STORE_DB_META, "the schema record is missing");
    /* slots and places last: they need every held place, sorted */
    if (c->nheld)
        qsort(c->held, c->nheld, sizeof *c->held, s_cmp_slot);
    slots_t s = { .c = c };
    c->db = STORE_DB_SLOTS;
    int rc = store_scan(txn, STORE_DB_SLOTS, NULL, NULL, s_slot, &s);
    if (rc || !c->places)
        return rc;
    s = (slots_t) { .c = c };
    c->db = STORE_DB_PLACES;
    return store_scan(txn, STORE_DB_PLACES, NULL, NULL, s_place, &s);
}

int
store_check(store_t *self, store_problem_fn *report, void *arg, size_t *problems, bool *index_compared,
            fl_error_t *err)
{
    check_t c = { .report = report, .arg = arg };
    int rc = store_read(self, s_run, &c, err);
    free(c.held);
    *problems = c.problems;
    if (index_compared)
        *index_compared = rc == 0 && c.index && (c.places || c.counted_in_slots);
    if (rc == FL_E_NOMEM)
        return fl_error_set(err, FL_E_NOMEM, "", "out of memory while checking");
    if (rc == FL_E_VERSION)
        return rc;                          /* store_read said why */
    if (rc)
        return fl_error_set(err, FL_E_STORE, "", "the check could not read the store");
    return 0;
}
