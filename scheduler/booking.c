/*  booking.c — slots and bookings: availability, book, view, cancel,
 *  reschedule, and held bookings that expire.
 *
 *  Slots are derived from the office's hours and the service's slot length in
 *  the office's time zone; a durable slot record is written only when its
 *  first place is taken, fixing its capacity.  The places taken are counted
 *  in the store's `places` (derived from the bookings, kept beside the
 *  citizen index, not flushed with every commit: store.h).  A place is taken
 *  and the booking written in the same store transaction, so a slot can
 *  never hold more than its capacity.  A citizen's ID number is kept only
 *  as a keyed hash; with the service code it indexes the one active booking a
 *  person may hold per service.
 */
#include "scheduler/internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "libfoleni/ids.h"
#include "libfoleni/log.h"
#include "store/check.h"

/* ---- slots ---- */

/* Check that start is the beginning of a bookable slot of service at office;
 * set *end.  Fails the op with a clear reason otherwise. */
static int
s_check_slot(op_t *op, const fl_office_t *o, int oi, const fl_service_t *s, int64_t start, int64_t *end)
{
    const sched_t *sc = op->batch->sched;
    const fl_zone_t *z = sched_zone(sc, oi);
    fl_local_t lt;
    fl_zone_local(z, start, &lt);
    uint32_t day = fl_day_make(lt.year, lt.month, lt.day);
    int minute = lt.hour * 60 + lt.minute;
    const fl_hours_t *h = &o->hours[lt.wday];
    int64_t again;
    if (lt.second != 0 || !h->is_open || minute < h->opens || minute + s->slot_minutes > h->closes
        || (minute - h->opens) % s->slot_minutes != 0
        || fl_zone_utc(z, lt.year, lt.month, lt.day, minute, &again) != 0 || again != start)
        return sched_fail(op, FL_E_INVALID, "start", "there is no %s slot starting at that time", s->code);
    for (size_t i = 0; i < o->closed_count; i++)
        if ((uint32_t) o->closed[i] == day)
            return sched_fail(op, FL_E_CLOSED, "start", "the office is closed on that day");
    if (start <= op->now)
        return sched_fail(op, FL_E_CLOSED, "start", "that slot has already started");
    uint32_t last = fl_day_add(fl_zone_day(z, op->now), sc->config->booking_days_ahead);
    if (day > last)
        return sched_fail(op, FL_E_CLOSED, "start", "bookings open %d days ahead", sc->config->booking_days_ahead);
    *end = start + (int64_t) s->slot_minutes * 60;
    return 0;
}

/* Take one place in a slot, or fail full.  The first place of a slot writes
 * its durable record, which fixes its capacity (a later change of the
 * service's capacity applies to slots nobody has booked yet); every place
 * after that changes only the count in `places`.  Nothing is written when it
 * fails. */
static int
s_take_place(op_t *op, const char *office, const fl_service_t *s, int64_t start, int64_t end)
{
    store_key_t k = store_key_slot(office, s->code, (uint64_t) start);
    store_places_t places;
    int rc = store_get_places(op->txn, &k, &places);
    if (rc == FL_E_NOT_FOUND) {
        store_slot_t slot;
        rc = store_get_slot(op->txn, &k, &slot);
        if (rc == 0) {
            /* A slot record without its places: a rebuild makes one for
             * each, so the index is damaged.  How many places are taken is
             * unknown here, and guessing none could overbook the slot:
             * refuse, and say so (a restart after removing citizens/
             * rebuilds the index). */
            fl_log(FL_LOG_ERROR, "a booked slot has no places record in the index; refusing to book it",
                   FL_S("office", office), FL_S("service", s->code), FL_I("start", start), NULL);
            return sched_fail(op, FL_E_STORE, "start", "that slot cannot be booked just now; choose another time");
        }
        if (rc != FL_E_NOT_FOUND)
            return rc;
        slot = (store_slot_t) { .start = (uint64_t) start, .end = (uint64_t) end,
                                .capacity = (uint32_t) s->capacity, .taken = 0 };
        if ((rc = store_put_slot(op->txn, &k, office, s->code, &slot)))
            return rc;
        places = (store_places_t) { .capacity = slot.capacity, .taken = 0 };
    } else if (rc)
        return rc;
    if (places.taken >= places.capacity)
        return sched_fail(op, FL_E_FULL, "start", "that slot is full; choose another time");
    places.taken++;
    return store_put_places(op->txn, &k, &places);
}

/* Give a place back.  A slot without its places record (a damaged index,
 * see s_take_place) has no count to lower: the booking is let go all the
 * same, and taking a place there stays refused until the index is rebuilt. */
static int
s_release_place(op_t *op, const char *office, const char *service, uint64_t start)
{
    store_key_t k = store_key_slot(office, service, start);
    store_places_t places;
    int rc = store_get_places(op->txn, &k, &places);
    if (rc == FL_E_NOT_FOUND) {
        fl_log(FL_LOG_ERROR, "a booked slot has no places record in the index; its place is given back uncounted",
               FL_S("office", office), FL_S("service", service), FL_U("start", start), NULL);
        return 0;
    }
    if (rc)
        return rc;
    if (places.taken)
        places.taken--;
    return store_put_places(op->txn, &k, &places);
}

typedef struct {
    int64_t *starts;
    uint16_t *taken, *capacity;
    size_t n;
    size_t next;
} avail_t;

static int
s_avail_entry(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    avail_t *a = arg;
    if (klen != 24)
        return 0;
    int64_t start = (int64_t) store_be_get(key + 16, 8);
    while (a->next < a->n && a->starts[a->next] < start)
        a->next++;
    if (a->next == a->n)
        return 1;                               /* past the last slot asked for */
    if (a->starts[a->next] == start) {
        store_places_t places;
        if (store_places_parse(val, vlen, &places) == 0) {
            a->taken[a->next] = (uint16_t) (places.taken < 0xffff ? places.taken : 0xffff);
            a->capacity[a->next] = (uint16_t) (places.capacity < 0xffff ? places.capacity : 0xffff);
        }
    }
    return 0;
}

/* Append msgpack's shortest encoding of v (as msgpack_pack_uint64 writes it). */
static uint8_t *
s_mp_uint(uint8_t *p, uint64_t v)
{
    if (v <= 0x7f) {
        *p++ = (uint8_t) v;
        return p;
    }
    int w;
    if (v <= 0xff) { *p++ = 0xcc; w = 1; }
    else if (v <= 0xffff) { *p++ = 0xcd; w = 2; }
    else if (v <= 0xffffffffu) { *p++ = 0xce; w = 4; }
    else { *p++ = 0xcf; w = 8; }
    for (int i = w - 1; i >= 0; i--)
        *p++ = (uint8_t) (v >> (8 * i));
    return p;
}

/* Append a short string (under 32 bytes: every field name and code here). */
static uint8_t *
s_mp_fixstr(uint8_t *p, const char *s, size_t n)
{
    assert(n < 32);
    *p++ = (uint8_t) (0xa0 | n);
    memcpy(p, s, n);
    return p + n;
}

static uint8_t *
s_mp_key(uint8_t *p, fl_field_t f)
{
    const fl_field_spec_t *spec = fl_schema_field(f);
    return s_mp_fixstr(p, spec->name, spec->len);
}

/* The slot_list reply, packed straight from the arrays into one buffer sized
 * up front: the same bytes fl_msg_encode gives for the message built field by
 * field (a test holds the two together), without up to 8,192 item objects.
 * Every value is in bounds by construction: codes come from the
 * configuration, free is at most the capacity (<= 1000), starts are slot
 * times, n is at most the list's 8,192. */
static int
s_pack_slot_list(op_t *op, const fl_office_t *o, const fl_service_t *s, const avail_t *a)
{
    const fl_type_spec_t *t = fl_schema_type(FL_T_SLOT_LIST);
    size_t olen = strlen(o->code), slen = strlen(s->code);
    /* header: map, v, type, office, service, slot_minutes, slots + array
     * header; each item: map, "start", 9-byte number, "free", 3-byte number */
    size_t max = 128 + t->len + olen + slen + a->n * 24;
    assert(max <= FL_WIRE_MAX_BYTES);
    uint8_t *buf = malloc(max), *p = buf;
    if (!buf)
        return FL_E_NOMEM;
    *p++ = 0x86;                                /* map of 6 */
    p = s_mp_fixstr(p, "v", 1);
    p = s_mp_uint(p, FL_PROTOCOL_VERSION);
    p = s_mp_fixstr(p, "type", 4);
    p = s_mp_fixstr(p, t->name, t->len);
    p = s_mp_key(p, FL_F_OFFICE);
    p = s_mp_fixstr(p, o->code, olen);
    p = s_mp_key(p, FL_F_SERVICE);
    p = s_mp_fixstr(p, s->code, slen);
    p = s_mp_key(p, FL_F_SLOT_MINUTES);
    p = s_mp_uint(p, (uint64_t) s->slot_minutes);
    p = s_mp_key(p, FL_F_SLOTS);
    if (a->n <= 15)
        *p++ = (uint8_t) (0x90 | a->n);         /* fixarray */
    else {
        *p++ = 0xdc;                            /* array 16: n <= 8192 */
        *p++ = (uint8_t) (a->n >> 8);
        *p++ = (uint8_t) a->n;
    }
    for (size_t i = 0; i < a->n; i++) {
        *p++ = 0x82;                            /* map of 2 */
        p = s_mp_key(p, FL_F_START);
        p = s_mp_uint(p, (uint64_t) a->starts[i]);
        p = s_mp_key(p, FL_F_FREE);
        p = s_mp_uint(p, a->taken[i] >= a->capacity[i] ? 0 : (uint64_t) (a->capacity[i] - a->taken[i]));
    }
    assert((size_t) (p - buf) <= max);
    op->raw_reply = buf;
    op->raw_len = (size_t) (p - buf);
    return 0;
}

int
h_availability(op_t *op)
{
    int oi;
    const fl_office_t *o = sched_office(op, fl_msg_str(op->req, FL_F_OFFICE), &oi);
    if (!o)
        return op->err.code;
    const fl_service_t *s = sched_service(op, o, fl_msg_str(op->req, FL_F_SERVICE));
    if (!s)
        return op->err.code;
    uint32_t from;
    if (fl_day_parse(fl_msg_str(op->req, FL_F_FROM), &from) != 0)
        return sched_fail(op, FL_E_INVALID, "from", "from must be a date YYYY-MM-DD");
    const sched_t *sc = op->batch->sched;
    const fl_zone_t *z = sched_zone(sc, oi);
    uint32_t today = fl_zone_day(z, op->now);
    uint32_t last = fl_day_add(today, sc->config->booking_days_ahead);
    uint32_t days = (uint32_t) fl_msg_uint(op->req, FL_F_DAYS);
    if (from < today)
        from = today;
    /* every slot start in the range, in time order */
    size_t cap = 8192;
    avail_t a = { .starts = calloc(cap, sizeof(int64_t)), .taken = calloc(cap, sizeof(uint16_t)),
                  .capacity = calloc(cap, sizeof(uint16_t)) };
    int rc = 0;
    if (!a.starts || !a.taken || !a.capacity) {
        rc = FL_E_NOMEM;
        goto done;
    }
    for (uint32_t d = from, i = 0; i < days && d <= last; d = fl_day_add(d, 1), i++) {
        bool closed = false;
        for (size_t c = 0; c < o->closed_count; c++)
            closed |= (uint32_t) o->closed[c] == d;
        const fl_hours_t *h = &o->hours[fl_day_weekday(d)];
        if (closed || !h->is_open || s->capacity == 0)
            continue;
        for (int m = h->opens; m + s->slot_minutes <= h->closes && a.n < cap; m += s->slot_minutes) {
            int64_t start;
            if (fl_zone_utc(z, (int) (d / 10000), (int) (d / 100 % 100), (int) (d % 100), m, &start) != 0)
                continue;
            if (start <= op->now || (a.n && start <= a.starts[a.n - 1]))
                continue;                       /* past, or swallowed by a clock change */
            a.starts[a.n] = start;
            a.capacity[a.n] = (uint16_t) s->capacity;
            a.n++;
        }
    }
    if (a.n) {
        store_key_t prefix = store_key_slot_prefix(o->code, s->code);
        store_key_t first = store_key_slot(o->code, s->code, (uint64_t) a.starts[0]);
        rc = store_scan(op->txn, STORE_DB_PLACES, &prefix, &first, s_avail_entry, &a);
        if (rc > 0)
            rc = 0;
        if (rc)
            goto done;
    }
    rc = s_pack_slot_list(op, o, s, &a);
done:
    free(a.starts);
    free(a.taken);
    free(a.capacity);
    if (rc && !op->err.code)
        sched_fail(op, rc, "", "availability could not be read");
    return rc;
}

/* ---- bookings ---- */

static int s_let_go(op_t *op, fl_msg_t *b, const char *new_state);
static int s_close_if_missed(op_t *op, const void *ref_bytes, size_t len);

/* The reply every booking request gets. */
static int
s_booking_reply(op_t *op, const fl_msg_t *b)
{
    fl_msg_t *r = op->reply = fl_msg_new(FL_T_BOOKING);
    if (!r)
        return FL_E_NOMEM;
    static const fl_field_t copy[] = { FL_F_REF, FL_F_OFFICE, FL_F_SERVICE, FL_F_STATE, FL_F_NAME,
                                       FL_F_PHONE, FL_F_TICKET };
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        if (fl_msg_has(b, copy[i]))
            fl_msg_set_str(r, copy[i], fl_msg_str(b, copy[i]));
    fl_msg_set_uint(r, FL_F_START, fl_msg_uint(b, FL_F_START));
    fl_msg_set_uint(r, FL_F_END, fl_msg_uint(b, FL_F_END));
    if (fl_msg_has(b, FL_F_EXPIRES))
        fl_msg_set_uint(r, FL_F_EXPIRES, fl_msg_uint(b, FL_F_EXPIRES));
    if (fl_msg_uint(b, FL_F_FEE))
        fl_msg_set_uint(r, FL_F_FEE, fl_msg_uint(b, FL_F_FEE));
    return 0;
}

static void
s_booking_event(op_t *op, const fl_msg_t *b)
{
    fl_msg_t *e = sched_emit(op, fl_msg_str(b, FL_F_OFFICE), "booking");
    if (e) {                                /* no reference or name on the bus */
        fl_msg_set_str(e, FL_F_SERVICE, fl_msg_str(b, FL_F_SERVICE));
        fl_msg_set_str(e, FL_F_STATE, fl_msg_str(b, FL_F_STATE));
    }
}

static int
s_put_booking(op_t *op, const fl_msg_t *b)
{
    store_key_t k = store_key_booking(fl_msg_str(b, FL_F_REF));
    return store_put_rec(op->txn, STORE_DB_BOOKINGS, &k, b);
}

int
h_book(op_t *op)
{
    const fl_msg_t *q = op->req;
    int oi;
    const fl_office_t *o = sched_office(op, fl_msg_str(q, FL_F_OFFICE), &oi);
    if (!o)
        return op->err.code;
    const fl_service_t *s = sched_service(op, o, fl_msg_str(q, FL_F_SERVICE));
    if (!s)
        return op->err.code;
    if (s->capacity == 0)
        return sched_fail(op, FL_E_CLOSED, "service", "%s is served to walk-ins only; no appointments", s->code);
    char name[FL_NAME_MAX + 1], number[FL_ID_NUMBER_MAX + 1], phone[FL_PHONE_MAX + 1];
    if (fl_name_check(fl_msg_str(q, FL_F_NAME), name, &op->err)
        || fl_id_check(fl_msg_str(q, FL_F_ID_TYPE), fl_msg_str(q, FL_F_ID_NUMBER), number, &op->err)
        || fl_phone_normalise(fl_msg_str(q, FL_F_PHONE), phone, &op->err))
        return op->err.code;
    int64_t start = (int64_t) fl_msg_uint(q, FL_F_START), end;
    if (s_check_slot(op, o, oi, s, start, &end))
        return op->err.code;
    uint8_t hash[32];
    sched_id_hash(op->batch->sched, fl_msg_str(q, FL_F_ID_TYPE), number, hash);
    store_key_t ck = store_key_citizen(hash, s->code);
    const void *v;
    size_t vlen;
    int rc = store_get(op->txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck, &v, &vlen);
    if (rc == 0) {
        int closed = s_close_if_missed(op, v, vlen);
        if (closed < 0)
            return closed;
        if (closed == 1)
            rc = FL_E_NOT_FOUND;                /* the old one was missed: book anew */
    }
    if (rc == 0)
        return sched_fail(op, FL_E_CONFLICT, "id_number",
                          "this ID number already has a booking for %s; view or cancel it with its reference",
                          s->code);
    if (rc != FL_E_NOT_FOUND)
        return rc;
    if ((rc = s_take_place(op, o->code, s, start, end)))
        return rc;
    char ref[FL_REF_LEN + 1];
    store_key_t bk;
    for (int tries = 0;; tries++) {         /* 7 random symbols per lead: a clash is rare, never reused */
        if (fl_ref_new_led(ref, op->batch->sched->ref_lead, SCHED_REF_LEAD) != 0 || tries > 8)
            return sched_fail(op, FL_E_IO, "", "could not make a booking reference");
        bk = store_key_booking(ref);
        if (store_get(op->txn, STORE_DB_BOOKINGS, &bk, &v, &vlen) == FL_E_NOT_FOUND)
            break;
    }
    fl_msg_t *b = fl_msg_new(FL_T_BOOKING_REC);
    if (!b)
        return FL_E_NOMEM;
    bool held = s->fee > 0;
    fl_msg_set_str(b, FL_F_REF, ref);
    fl_msg_set_str(b, FL_F_OFFICE, o->code);
    fl_msg_set_str(b, FL_F_SERVICE, s->code);
    fl_msg_set_uint(b, FL_F_START, (uint64_t) start);
    fl_msg_set_uint(b, FL_F_END, (uint64_t) end);
    fl_msg_set_str(b, FL_F_STATE, held ? STORE_BOOKING_HELD : STORE_BOOKING_CONFIRMED);
    fl_msg_set_str(b, FL_F_NAME, name);
    fl_msg_set_str(b, FL_F_ID_TYPE, fl_msg_str(q, FL_F_ID_TYPE));
    fl_msg_set_bin(b, FL_F_ID_HASH, hash, sizeof hash);
    fl_msg_set_str(b, FL_F_PHONE, phone);
    fl_msg_set_uint(b, FL_F_CREATED, (uint64_t) op->now);
    fl_msg_set_uint(b, FL_F_FEE, (uint64_t) s->fee);
    if (held) {
        uint64_t expires = (uint64_t) op->now + (uint64_t) s->hold_minutes * 60;
        fl_msg_set_uint(b, FL_F_EXPIRES, expires);
        store_key_t hk = store_key_hold(expires, ref);
        rc = store_put(op->txn, STORE_DB_HOLDS, &hk, "", 0);
    }
    if (rc == 0)
        rc = s_put_booking(op, b);
    if (rc == 0)
        rc = store_put(op->txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck, ref, strlen(ref));
    if (rc == 0)
        rc = s_booking_reply(op, b);
    if (rc == 0)
        s_booking_event(op, b);
    fl_msg_destroy(&b);
    return rc;
}

/* A confirmed or held booking whose check-in window has closed was missed:
 * it becomes a no-show and gives back its place and its index entry, so the
 * citizen may book again.  Returns 1 when it closed the booking, 0 when the
 * booking is still live, or an error. */
static int
s_close_if_missed(op_t *op, const void *ref_bytes, size_t len)
{
    char ref[17];
    if (len == 0 || len > 16)
        return 0;
    memcpy(ref, ref_bytes, len);
    ref[len] = '\0';
    store_key_t bk = store_key_booking(ref);
    fl_msg_t *b = NULL;
    int rc = store_get_rec(op->txn, STORE_DB_BOOKINGS, &bk, FL_T_BOOKING_REC, &b);
    if (rc)
        return rc == FL_E_NOT_FOUND ? 0 : rc;
    const fl_office_t *o = fl_config_office(op->batch->sched->config, fl_msg_str(b, FL_F_OFFICE));
    const fl_service_t *s = o ? fl_office_service(o, fl_msg_str(b, FL_F_SERVICE)) : NULL;
    int64_t late = s ? (int64_t) s->checkin_late_minutes * 60 : 0;
    const char *state = fl_msg_str(b, FL_F_STATE);
    bool missed = (!strcmp(state, STORE_BOOKING_CONFIRMED) || !strcmp(state, STORE_BOOKING_HELD))
                  && (int64_t) fl_msg_uint(b, FL_F_START) + late < op->now;
    if (missed && (rc = s_let_go(op, b, STORE_BOOKING_NO_SHOW)) == 0)
        rc = 1;
    fl_msg_destroy(&b);
    return missed ? rc : 0;
}

/* The booking with this reference, if the ID number is the one it was made
 * with.  Both a wrong reference and a wrong number say "not found", so the
 * answer does not tell which one was wrong. */
static fl_msg_t *
s_own_booking(op_t *op)
{
    char ref[FL_REF_LEN + 1], number[FL_ID_NUMBER_MAX + 1];
    if (fl_ref_parse(fl_msg_str(op->req, FL_F_REF), ref, &op->err))
        return NULL;
    store_key_t bk = store_key_booking(ref);
    fl_msg_t *b = NULL;
    int rc = store_get_rec(op->txn, STORE_DB_BOOKINGS, &bk, FL_T_BOOKING_REC, &b);
    if (rc == 0) {
        uint8_t hash[32];
        size_t hlen;
        const void *stored = fl_msg_bin(b, FL_F_ID_HASH, &hlen);
        fl_error_t ignore;
        if (fl_id_check(fl_msg_str(b, FL_F_ID_TYPE), fl_msg_str(op->req, FL_F_ID_NUMBER), number, &ignore) == 0) {
            sched_id_hash(op->batch->sched, fl_msg_str(b, FL_F_ID_TYPE), number, hash);
            if (hlen == 32 && memcmp(hash, stored, 32) == 0)
                return b;
        }
        fl_msg_destroy(&b);
    } else if (rc != FL_E_NOT_FOUND) {
        sched_fail(op, rc, "", "the booking could not be read");
        return NULL;
    }
    sched_fail(op, FL_E_NOT_FOUND, "ref", "no booking has this reference and ID number");
    return NULL;
}

int
h_view(op_t *op)
{
    fl_msg_t *b = s_own_booking(op);
    if (!b)
        return op->err.code;
    int rc = s_booking_reply(op, b);
    fl_msg_destroy(&b);
    return rc;
}

/* Leave a state that held a place: free it and drop the index entries. */
static int
s_let_go(op_t *op, fl_msg_t *b, const char *new_state)
{
    const char *ref = fl_msg_str(b, FL_F_REF);
    int rc = s_release_place(op, fl_msg_str(b, FL_F_OFFICE), fl_msg_str(b, FL_F_SERVICE),
                             fl_msg_uint(b, FL_F_START));
    size_t hlen;
    const uint8_t *hash = fl_msg_bin(b, FL_F_ID_HASH, &hlen);
    store_key_t ck = store_key_citizen(hash, fl_msg_str(b, FL_F_SERVICE));
    if (rc == 0)
        rc = store_del(op->txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck);
    if (rc == 0 && !strcmp(fl_msg_str(b, FL_F_STATE), STORE_BOOKING_HELD)) {
        store_key_t hk = store_key_hold(fl_msg_uint(b, FL_F_EXPIRES), ref);
        rc = store_del(op->txn, STORE_DB_HOLDS, &hk);
    }
    if (rc == 0) {
        fl_msg_set_str(b, FL_F_STATE, new_state);
        rc = s_put_booking(op, b);
    }
    return rc;
}

static bool
s_changeable(const fl_msg_t *b)
{
    const char *state = fl_msg_str(b, FL_F_STATE);
    return !strcmp(state, STORE_BOOKING_HELD) || !strcmp(state, STORE_BOOKING_CONFIRMED);
}

int
h_cancel(op_t *op)
{
    fl_msg_t *b = s_own_booking(op);
    if (!b)
        return op->err.code;
    int rc;
    if (!s_changeable(b))
        rc = sched_fail(op, FL_E_CONFLICT, "ref", "this booking is %s and can no longer be cancelled",
                        fl_msg_str(b, FL_F_STATE));
    else if ((rc = s_let_go(op, b, STORE_BOOKING_CANCELLED)) == 0 && (rc = s_booking_reply(op, b)) == 0)
        s_booking_event(op, b);
    fl_msg_destroy(&b);
    return rc;
}

int
h_reschedule(op_t *op)
{
    fl_msg_t *b = s_own_booking(op);
    if (!b)
        return op->err.code;
    int rc = 0, oi;
    const fl_office_t *o = sched_office(op, fl_msg_str(b, FL_F_OFFICE), &oi);
    const fl_service_t *s = o ? sched_service(op, o, fl_msg_str(b, FL_F_SERVICE)) : NULL;
    int64_t start = (int64_t) fl_msg_uint(op->req, FL_F_START), end;
    uint64_t old = fl_msg_uint(b, FL_F_START);
    if (!s)
        rc = op->err.code;
    else if (!s_changeable(b))
        rc = sched_fail(op, FL_E_CONFLICT, "ref", "this booking is %s and can no longer be moved",
                        fl_msg_str(b, FL_F_STATE));
    else if ((uint64_t) start == old)
        rc = sched_fail(op, FL_E_CONFLICT, "start", "the booking is already at that time");
    else if (s_check_slot(op, o, oi, s, start, &end))
        rc = op->err.code;
    /* the new place is taken before the old one is given back: if the new
     * slot is full, nothing changes */
    else if ((rc = s_take_place(op, o->code, s, start, end)) == 0
             && (rc = s_release_place(op, o->code, s->code, old)) == 0) {
        fl_msg_set_uint(b, FL_F_START, (uint64_t) start);
        fl_msg_set_uint(b, FL_F_END, (uint64_t) end);
        if ((rc = s_put_booking(op, b)) == 0 && (rc = s_booking_reply(op, b)) == 0)
            s_booking_event(op, b);
    }
    fl_msg_destroy(&b);
    return rc;
}

int
sched_expire_hold(op_t *op, const char *ref, const store_key_t *hold_key)
{
    store_key_t bk = store_key_booking(ref);
    fl_msg_t *b = NULL;
    int rc = store_get_rec(op->txn, STORE_DB_BOOKINGS, &bk, FL_T_BOOKING_REC, &b);
    if (rc == 0 && strcmp(fl_msg_str(b, FL_F_STATE), STORE_BOOKING_HELD) != 0)
        rc = FL_E_NOT_FOUND;
    if (rc) {
        store_del(op->txn, STORE_DB_HOLDS, hold_key);   /* a stale entry: drop it */
        fl_msg_destroy(&b);
        return rc;
    }
    if ((rc = s_let_go(op, b, STORE_BOOKING_EXPIRED)) == 0)
        s_booking_event(op, b);
    fl_msg_destroy(&b);
    return rc;
}

int
sched_booking_finish(op_t *op, const char *ref, const char *state)
{
    store_key_t bk = store_key_booking(ref);
    fl_msg_t *b = NULL;
    int rc = store_get_rec(op->txn, STORE_DB_BOOKINGS, &bk, FL_T_BOOKING_REC, &b);
    if (rc == 0 && store_booking_holds_place(fl_msg_str(b, FL_F_STATE)))
        rc = s_let_go(op, b, state);
    fl_msg_destroy(&b);
    return rc == FL_E_NOT_FOUND ? 0 : rc;
}
