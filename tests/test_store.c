/*  test_store.c — the LMDB store: keys, records, growth, crashes, backup, check.
 *
 *  Every test opens its own environment in a fresh temporary directory, inside
 *  the test body (Check forks per test, and LMDB must not cross fork()).
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libfoleni/msg.h"
#include "store/check.h"
#include "store/store.h"
#include "tests/testutil.h"

/* ---- helpers ---- */

static store_t *
s_open(const char *dir, size_t map_size)
{
    store_options_t opts = { .map_size = map_size };
    fl_error_t err;
    store_t *s = store_open(dir, &opts, &err);
    ck_assert_msg(s != NULL, "open %s: %s", dir, err.message);
    return s;
}

static size_t
s_problems(store_t *s)
{
    size_t n = 0;
    fl_error_t err;
    ck_assert_int_eq(store_check(s, NULL, NULL, &n, NULL, &err), 0);
    return n;
}

typedef struct { int count; char text[8][200]; } problems_t;

static void
s_collect(const char *db, const char *problem, void *arg)
{
    problems_t *p = arg;
    if (p->count < 8)
        snprintf(p->text[p->count], sizeof p->text[0], "%s: %s", db, problem);
    p->count++;
}

static int s_run(const char *cmd, char *out, size_t cap);

static void
s_hash(uint8_t out[32], unsigned citizen)
{
    for (int i = 0; i < 32; i++)               /* distinct for every citizen number */
        out[i] = (uint8_t) (i < 4 ? citizen >> (8 * i) : (unsigned) i * 7);
}

#define T0 UINT64_C(1796104800)          /* 2026-12-01 09:00 in Nairobi, 06:00 UTC */

/* Write office NBI, service PASSPORT and its counter. */
static int
s_put_office(store_txn_t *txn, void *arg)
{
    (void) arg;
    fl_msg_t *o = fl_msg_new(FL_T_OFFICE_REC);
    fl_msg_set_str(o, FL_F_OFFICE, "NBI");
    fl_msg_set_str(o, FL_F_NAME, "Huduma Centre GPO");
    fl_msg_set_str(o, FL_F_TZ, "Africa/Nairobi");
    fl_msg_t *h = fl_msg_add_item(o, FL_F_HOURS);
    fl_msg_set_uint(h, FL_F_WEEKDAY, 1);
    fl_msg_set_uint(h, FL_F_OPEN, 480);
    fl_msg_set_uint(h, FL_F_CLOSE, 1020);
    fl_msg_add_str(o, FL_F_CLOSED, "2026-12-25");
    store_key_t k = store_key_office("NBI");
    int rc = store_put_rec(txn, STORE_DB_OFFICES, &k, o);
    fl_msg_destroy(&o);

    fl_msg_t *sv = fl_msg_new(FL_T_SERVICE_REC);
    fl_msg_set_str(sv, FL_F_OFFICE, "NBI");
    fl_msg_set_str(sv, FL_F_SERVICE, "PASSPORT");
    fl_msg_set_str(sv, FL_F_PREFIX, "P");
    fl_msg_set_str(sv, FL_F_NAME, "Passports");
    fl_msg_set_uint(sv, FL_F_SLOT_MINUTES, 15);
    fl_msg_set_uint(sv, FL_F_CAPACITY, 4);
    fl_msg_set_uint(sv, FL_F_SERVICE_MINUTES, 12);
    fl_msg_set_uint(sv, FL_F_FEE, 0);
    fl_msg_set_uint(sv, FL_F_HOLD_MINUTES, 30);
    fl_msg_set_uint(sv, FL_F_EARLY_MINUTES, 30);
    fl_msg_set_uint(sv, FL_F_LATE_MINUTES, 15);
    fl_msg_set_bool(sv, FL_F_LATE_AS_WALKIN, true);
    fl_msg_set_uint(sv, FL_F_MAX_WAIT_MINUTES, 90);
    k = store_key_service("NBI", "PASSPORT");
    if (!rc) rc = store_put_rec(txn, STORE_DB_SERVICES, &k, sv);
    fl_msg_destroy(&sv);

    fl_msg_t *c = fl_msg_new(FL_T_COUNTER_REC);
    fl_msg_set_str(c, FL_F_OFFICE, "NBI");
    fl_msg_set_uint(c, FL_F_COUNTER, 1);
    fl_msg_add_str(c, FL_F_SERVICE_CODES, "PASSPORT");
    fl_msg_set_str(c, FL_F_STATE, "closed");
    k = store_key_counter("NBI", 1);
    if (!rc) rc = store_put_rec(txn, STORE_DB_COUNTERS, &k, c);
    fl_msg_destroy(&c);
    return rc;
}

/* Book citizen n into slot n/4 (capacity 4), as the scheduler would: slot
 * record at the slot's first place, places, booking and citizen index in one
 * transaction. */
static int
s_book(store_txn_t *txn, void *arg)
{
    unsigned n = *(unsigned *) arg;
    uint64_t start = T0 + (uint64_t) (n / 4) * 900;
    store_key_t sk = store_key_slot("NBI", "PASSPORT", start);
    store_places_t places;
    int rc = store_get_places(txn, &sk, &places);
    if (rc == FL_E_NOT_FOUND) {
        store_slot_t slot = { .start = start, .end = start + 900, .capacity = 4, .taken = 0 };
        rc = store_put_slot(txn, &sk, "NBI", "PASSPORT", &slot);
        places = (store_places_t) { .capacity = 4, .taken = 0 };
    }
    if (rc)
        return rc;
    places.taken++;
    rc = store_put_places(txn, &sk, &places);

    char ref[17];
    snprintf(ref, sizeof ref, "R%07u", n);
    uint8_t hash[32];
    s_hash(hash, n);
    fl_msg_t *b = fl_msg_new(FL_T_BOOKING_REC);
    fl_msg_set_str(b, FL_F_REF, ref);
    fl_msg_set_str(b, FL_F_OFFICE, "NBI");
    fl_msg_set_str(b, FL_F_SERVICE, "PASSPORT");
    fl_msg_set_uint(b, FL_F_START, start);
    fl_msg_set_uint(b, FL_F_END, start + 900);
    fl_msg_set_str(b, FL_F_STATE, STORE_BOOKING_CONFIRMED);
    fl_msg_set_str(b, FL_F_NAME, "Citizen");
    fl_msg_set_str(b, FL_F_ID_TYPE, "national");
    fl_msg_set_bin(b, FL_F_ID_HASH, hash, 32);
    fl_msg_set_str(b, FL_F_PHONE, "+254712345678");
    fl_msg_set_uint(b, FL_F_CREATED, T0 - 86400);
    store_key_t bk = store_key_booking(ref);
    if (!rc) rc = store_put_rec(txn, STORE_DB_BOOKINGS, &bk, b);
    fl_msg_destroy(&b);
    store_key_t ck = store_key_citizen(hash, "PASSPORT");
    if (!rc) rc = store_put(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck, ref, strlen(ref));
    return rc;
}

static bool
s_booking_exists(store_t *s, unsigned n);

static int
s_exists_fn(store_txn_t *txn, void *arg)
{
    const char *ref = arg;
    store_key_t k = store_key_booking(ref);
    const void *v;
    size_t len;
    return store_get(txn, STORE_DB_BOOKINGS, &k, &v, &len);
}

static bool
s_booking_exists(store_t *s, unsigned n)
{
    char ref[17];
    snprintf(ref, sizeof ref, "R%07u", n);
    return store_read(s, s_exists_fn, ref, NULL) == 0;
}

static void
s_seed(store_t *s, unsigned bookings)
{
    fl_error_t err;
    ck_assert_int_eq(store_write(s, s_put_office, NULL, &err), 0);
    for (unsigned n = 0; n < bookings; n++)
        ck_assert_int_eq(store_write(s, s_book, &n, &err), 0);
}

/* ---- keys ---- */

START_TEST(test_keys_sort_by_time)
{
    /* slots of one service: by start, across byte boundaries and years */
    uint64_t starts[] = { 0, 255, 256, 65535, 65536, T0, T0 + 900, T0 + 86400 * 365, UINT64_C(17179869183) };
    for (size_t i = 0; i + 1 < sizeof starts / sizeof starts[0]; i++) {
        store_key_t a = store_key_slot("NBI", "PASSPORT", starts[i]);
        store_key_t b = store_key_slot("NBI", "PASSPORT", starts[i + 1]);
        ck_assert_uint_eq(a.len, 24);
        ck_assert_int_lt(memcmp(a.b, b.b, 24), 0);
    }
    /* a short code sorts before a longer one that extends it, and slots group by service */
    store_key_t id_late = store_key_slot("NBI", "ID", T0 + 99999);
    store_key_t idcard_early = store_key_slot("NBI", "IDCARD", 0);
    ck_assert_int_lt(memcmp(id_late.b, idcard_early.b, 24), 0);
    store_key_t prefix = store_key_slot_prefix("NBI", "ID");
    ck_assert_int_eq(memcmp(id_late.b, prefix.b, prefix.len), 0);
    ck_assert_int_ne(memcmp(idcard_early.b, prefix.b, prefix.len), 0);
    /* tickets: by day, then prefix, then number */
    store_key_t t1 = store_key_ticket("NBI", 20261231, 'P', 999);
    store_key_t t2 = store_key_ticket("NBI", 20270101, 'A', 1);
    store_key_t t3 = store_key_ticket("NBI", 20270101, 'A', 256);
    ck_assert_int_lt(memcmp(t1.b, t2.b, t1.len), 0);
    ck_assert_int_lt(memcmp(t2.b, t3.b, t2.len), 0);
    /* events: by seq within an office */
    store_key_t e1 = store_key_event("NBI", 255), e2 = store_key_event("NBI", 256);
    store_key_t e3 = store_key_event("NBI", UINT64_C(1) << 40);
    ck_assert_int_lt(memcmp(e1.b, e2.b, 16), 0);
    ck_assert_int_lt(memcmp(e2.b, e3.b, 16), 0);
    /* expiry index: by time first */
    store_key_t x1 = store_key_idem_expiry(1000, "zzzzzzzz"), x2 = store_key_idem_expiry(1001, "aaaaaaaa");
    ck_assert_int_lt(memcmp(x1.b, x2.b, x1.len), 0);
    ck_assert_uint_eq(store_be_get(e3.b + 8, 8), UINT64_C(1) << 40);
}
END_TEST

typedef struct { store_db_t db; store_key_t key; fl_msg_t *rec; } rt_t;

static int
s_put_rt(store_txn_t *txn, void *arg)
{
    rt_t *r = arg;
    return store_put_rec(txn, r->db, &r->key, r->rec);
}

static int
s_get_rt(store_txn_t *txn, void *arg)
{
    rt_t *r = arg;
    fl_msg_t *back = NULL;
    int rc = store_get_rec(txn, r->db, &r->key, store_db_record_type(r->db), &back);
    if (rc == 0 && !fl_msg_equal(back, r->rec))
        rc = -1000;
    fl_msg_destroy(&back);
    return rc;
}

START_TEST(test_every_record_type_round_trips_through_the_store)
{
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    int tested = 0;
    for (int db = 0; db < STORE_DB__COUNT; db++) {
        fl_type_t type = store_db_record_type((store_db_t) db);
        if (type == FL_T_NONE)
            continue;
        rt_t r = { .db = (store_db_t) db, .key = store_key_office("RTRIP"), .rec = fl_msg_new(type) };
        tu_fill_msg(r.rec);
        fl_error_t err;
        ck_assert_int_eq(store_write(s, s_put_rt, &r, &err), 0);
        ck_assert_msg(store_read(s, s_get_rt, &r, &err) == 0, "%s differs", store_db_name(r.db));
        fl_msg_destroy(&r.rec);
        tested++;
    }
    ck_assert_int_eq(tested, STORE_DB__COUNT - 5);   /* all but the five plain indexes */
    store_destroy(&s);
    ck_assert_ptr_null(s);
    tu_rmtree(dir);
}
END_TEST

/* ---- slot records without a message object ---- */

typedef struct {
    store_slot_t put, got;
    int get_rc;
    const void *raw;
    size_t raw_len;
    msgpack_sbuffer *odd;           /* stored as is under key SLOT2 */
} slotio_t;

static int
s_put_slots(store_txn_t *txn, void *arg)
{
    slotio_t *io = arg;
    store_key_t k = store_key_slot("NBI", "PASSPORT", io->put.start);
    int rc = store_put_slot(txn, &k, "NBI", "PASSPORT", &io->put);
    if (rc == 0 && io->odd) {
        store_key_t k2 = store_key_slot("NBI", "PASSPORT", io->put.start + 900);
        rc = store_put(txn, STORE_DB_SLOTS, &k2, io->odd->data, io->odd->size);
    }
    return rc;
}

static int
s_get_slots(store_txn_t *txn, void *arg)
{
    slotio_t *io = arg;
    store_key_t k = store_key_slot("NBI", "PASSPORT", io->put.start);
    ck_assert_int_eq(store_get(txn, STORE_DB_SLOTS, &k, &io->raw, &io->raw_len), 0);
    /* the bytes are the codec's: same as fl_msg_encode of the same record */
    fl_msg_t *m = fl_msg_new(FL_T_SLOT_REC);
    fl_msg_set_str(m, FL_F_OFFICE, "NBI");
    fl_msg_set_str(m, FL_F_SERVICE, "PASSPORT");
    fl_msg_set_uint(m, FL_F_START, io->put.start);
    fl_msg_set_uint(m, FL_F_END, io->put.end);
    fl_msg_set_uint(m, FL_F_CAPACITY, io->put.capacity);
    fl_msg_set_uint(m, FL_F_TAKEN, io->put.taken);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(fl_msg_encode(m, &buf, NULL), 0);
    ck_assert_uint_eq(buf.size, io->raw_len);
    ck_assert(memcmp(buf.data, io->raw, buf.size) == 0);
    msgpack_sbuffer_destroy(&buf);
    fl_msg_destroy(&m);
    ck_assert_int_eq(store_get_slot(txn, &k, &io->got), 0);
    if (io->odd) {
        store_key_t k2 = store_key_slot("NBI", "PASSPORT", io->put.start + 900);
        io->get_rc = store_get_slot(txn, &k2, &io->got);
    }
    return 0;
}

START_TEST(test_slot_records_read_and_written_directly)
{
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    fl_error_t err;
    /* small and large numbers take different msgpack widths */
    const store_slot_t cases[] = { { T0, T0 + 900, 4, 0 }, { T0, T0 + 900, 1000, 999 },
                                   { T0, T0 + 300, 200, 128 }, { T0, T0 + 300, 0, 0 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        slotio_t io = { .put = cases[i] };
        ck_assert_int_eq(store_write(s, s_put_slots, &io, &err), 0);
        ck_assert_int_eq(store_read(s, s_get_slots, &io, &err), 0);
        ck_assert(io.got.start == io.put.start && io.got.end == io.put.end);
        ck_assert_uint_eq(io.got.capacity, io.put.capacity);
        ck_assert_uint_eq(io.got.taken, io.put.taken);
        store_slot_t back;
        ck_assert_int_eq(store_slot_parse(io.raw, io.raw_len, &back), 0);
        ck_assert_uint_eq(back.taken, io.put.taken);
    }
    /* out of bounds or a bad code: refused, nothing written */
    slotio_t bad = { .put = { T0, T0 + 900, 4, 1001 } };
    ck_assert_int_eq(store_write(s, s_put_slots, &bad, &err), FL_E_RANGE);

    /* a valid record in another encoding (keys reordered, numbers in 8 bytes,
     * a string as str8) is not the codec's, but store_get_slot still reads it */
    msgpack_sbuffer odd;
    msgpack_sbuffer_init(&odd);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &odd, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    msgpack_pack_str_with_body(&pk, "taken", 5);
    const uint8_t eight[9] = { 0xcf, 0, 0, 0, 0, 0, 0, 0, 3 };
    msgpack_sbuffer_write(&odd, (const char *) eight, 9);
    msgpack_pack_str_with_body(&pk, "capacity", 8); msgpack_pack_uint64(&pk, 4);
    msgpack_pack_str_with_body(&pk, "start", 5);    msgpack_pack_uint64(&pk, T0 + 900);
    msgpack_pack_str_with_body(&pk, "end", 3);      msgpack_pack_uint64(&pk, T0 + 1800);
    msgpack_pack_str_with_body(&pk, "office", 6);   msgpack_pack_str_with_body(&pk, "NBI", 3);
    msgpack_pack_str_with_body(&pk, "service", 7);  msgpack_pack_str_with_body(&pk, "PASSPORT", 8);
    store_slot_t got;
    ck_assert_int_eq(store_slot_parse(odd.data, odd.size, &got), 0);   /* 0xcf is read too */
    ck_assert_uint_eq(got.taken, 3);
    slotio_t io = { .put = cases[0], .odd = &odd };
    ck_assert_int_eq(store_write(s, s_put_slots, &io, &err), 0);
    ck_assert_int_eq(store_read(s, s_get_slots, &io, &err), 0);
    ck_assert_int_eq(io.get_rc, 0);
    ck_assert_uint_eq(io.got.taken, 3);
    ck_assert_uint_eq(io.got.capacity, 4);

    /* what the direct reader must refuse: every cut, a byte too many, a
     * repeated key, a number out of bounds, a field of another type */
    for (size_t cut = 0; cut < odd.size; cut++)
        ck_assert_int_eq(store_slot_parse(odd.data, cut, &got), FL_E_INVALID);
    char more[256];
    memcpy(more, odd.data, odd.size);
    more[odd.size] = 0;
    ck_assert_int_eq(store_slot_parse(more, odd.size + 1, &got), FL_E_INVALID);
    msgpack_sbuffer_clear(&odd);
    msgpack_pack_map(&pk, 6);
    msgpack_pack_str_with_body(&pk, "taken", 5);    msgpack_pack_uint64(&pk, 1001);
    msgpack_pack_str_with_body(&pk, "capacity", 8); msgpack_pack_uint64(&pk, 4);
    msgpack_pack_str_with_body(&pk, "start", 5);    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "end", 3);      msgpack_pack_uint64(&pk, 2);
    msgpack_pack_str_with_body(&pk, "office", 6);   msgpack_pack_str_with_body(&pk, "NBI", 3);
    msgpack_pack_str_with_body(&pk, "service", 7);  msgpack_pack_str_with_body(&pk, "P", 1);
    ck_assert_int_eq(store_slot_parse(odd.data, odd.size, &got), FL_E_INVALID);
    msgpack_sbuffer_clear(&odd);
    msgpack_pack_map(&pk, 6);
    msgpack_pack_str_with_body(&pk, "taken", 5);    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "taken", 5);    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "start", 5);    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "end", 3);      msgpack_pack_uint64(&pk, 2);
    msgpack_pack_str_with_body(&pk, "office", 6);   msgpack_pack_str_with_body(&pk, "NBI", 3);
    msgpack_pack_str_with_body(&pk, "service", 7);  msgpack_pack_str_with_body(&pk, "P", 1);
    ck_assert_int_eq(store_slot_parse(odd.data, odd.size, &got), FL_E_INVALID);
    msgpack_sbuffer_clear(&odd);
    msgpack_pack_map(&pk, 6);
    msgpack_pack_str_with_body(&pk, "taken", 5);    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "counter", 7);  msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "start", 5);    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "end", 3);      msgpack_pack_uint64(&pk, 2);
    msgpack_pack_str_with_body(&pk, "office", 6);   msgpack_pack_str_with_body(&pk, "NBI", 3);
    msgpack_pack_str_with_body(&pk, "service", 7);  msgpack_pack_str_with_body(&pk, "P", 1);
    ck_assert_int_eq(store_slot_parse(odd.data, odd.size, &got), FL_E_INVALID);
    msgpack_sbuffer_destroy(&odd);
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

/* ---- opening and the schema ---- */

static int
s_put_schema_99(store_txn_t *txn, void *arg)
{
    (void) arg;
    fl_msg_t *m = fl_msg_new(FL_T_META_REC);
    fl_msg_set_uint(m, FL_F_SCHEMA, 99);
    fl_msg_set_uint(m, FL_F_CREATED, 1);
    store_key_t k = { .len = 6 };
    memcpy(k.b, "schema", 6);
    int rc = store_put_rec(txn, STORE_DB_META, &k, m);
    fl_msg_destroy(&m);
    return rc;
}

START_TEST(test_store_records_its_schema_and_refuses_a_newer_one)
{
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    store_stat_t st;
    ck_assert_int_eq(store_stat(s, &st, NULL), 0);
    ck_assert_uint_eq(st.schema_version, STORE_SCHEMA_VERSION);
    ck_assert_uint_eq(st.entries[STORE_DB_META], 1);
    store_destroy(&s);
    s = s_open(dir, 0);                               /* reopens fine */
    ck_assert_int_eq(store_write(s, s_put_schema_99, NULL, NULL), 0);
    store_destroy(&s);
    fl_error_t err;
    ck_assert_ptr_null(store_open(dir, NULL, &err));
    ck_assert_int_eq(err.code, FL_E_VERSION);
    ck_assert_ptr_nonnull(strstr(err.message, "version 99"));
    ck_assert_ptr_nonnull(strstr(err.message, "newer"));
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_read_only_open_of_a_missing_store_says_so)
{
    char *dir = tu_tempdir();
    store_options_t ro = { .read_only = true };
    fl_error_t err;
    ck_assert_ptr_null(store_open(dir, &ro, &err));
    ck_assert_int_eq(err.code, FL_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "no Foleni store"));
    tu_rmtree(dir);
}
END_TEST

/* ---- transactions ---- */

typedef struct { unsigned count, calls; } many_t;

static int
s_put_many(store_txn_t *txn, void *arg)
{
    many_t *m = arg;
    m->calls++;
    char value[200];
    memset(value, 'v', sizeof value);
    for (unsigned i = 0; i < m->count; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "rid-%08u", i);
        store_key_t k = store_key_idem(rid);
        int rc = store_put(txn, STORE_DB_IDEM, &k, value, sizeof value);
        if (rc)
            return rc;             /* a full map surfaces here; store_write redoes us */
    }
    return 0;
}

START_TEST(test_tiny_map_grows_and_completes_the_write)
{
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 64 * 1024);
    many_t m = { .count = 20000 };                      /* ~5 MB in one transaction */
    fl_error_t err;
    ck_assert_msg(store_write(s, s_put_many, &m, &err) == 0, "%s", err.message);
    ck_assert_uint_gt(m.calls, 1);                      /* it had to start again */
    store_stat_t st;
    ck_assert_int_eq(store_stat(s, &st, NULL), 0);
    ck_assert_uint_gt(st.growths, 0);
    ck_assert_uint_gt(st.map_size, 64 * 1024);
    ck_assert_uint_eq(st.entries[STORE_DB_IDEM], 20000);
    store_destroy(&s);
    s = s_open(dir, 64 * 1024);                         /* the grown size is kept by the file */
    ck_assert_int_eq(store_stat(s, &st, NULL), 0);
    ck_assert_uint_eq(st.entries[STORE_DB_IDEM], 20000);
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

static int
s_put_then_fail(store_txn_t *txn, void *arg)
{
    (void) arg;
    store_key_t k = store_key_office("GONE");
    store_put(txn, STORE_DB_OFFICES, &k, "x", 1);
    return FL_E_FULL;
}

static int
s_count_offices(const uint8_t *k, size_t kl, const void *v, size_t vl, void *arg)
{
    (void) k; (void) kl; (void) v; (void) vl;
    (*(int *) arg)++;
    return 0;
}

static int
s_scan_offices(store_txn_t *txn, void *arg)
{
    return store_scan(txn, STORE_DB_OFFICES, NULL, NULL, s_count_offices, arg);
}

typedef struct { const char *code; int result; } nested_t;

static int
s_nested_put(store_txn_t *txn, void *arg)
{
    nested_t *n = arg;
    store_key_t k = store_key_office(n->code);
    int rc = store_put(txn, STORE_DB_OFFICES, &k, "x", 1);
    return rc ? rc : n->result;
}

static int
s_batch(store_txn_t *txn, void *arg)
{
    int *results = arg;
    nested_t a = { "AAA", 0 }, b = { "BBB", FL_E_CONFLICT }, c = { "CCC", 0 };
    results[0] = store_nested(txn, s_nested_put, &a);
    results[1] = store_nested(txn, s_nested_put, &b);
    results[2] = store_nested(txn, s_nested_put, &c);
    return 0;
}

START_TEST(test_failed_write_changes_nothing_and_nested_failure_fails_alone)
{
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    ck_assert_int_eq(store_write(s, s_put_then_fail, NULL, NULL), FL_E_FULL);
    int n = 0;
    ck_assert_int_eq(store_read(s, s_scan_offices, &n, NULL), 0);
    ck_assert_int_eq(n, 0);
    int results[3];
    ck_assert_int_eq(store_write(s, s_batch, results, NULL), 0);
    ck_assert_int_eq(results[0], 0);
    ck_assert_int_eq(results[1], FL_E_CONFLICT);
    ck_assert_int_eq(results[2], 0);
    n = 0;
    ck_assert_int_eq(store_read(s, s_scan_offices, &n, NULL), 0);
    ck_assert_int_eq(n, 2);                             /* AAA and CCC, not BBB */
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

static int
s_events(store_txn_t *txn, void *arg)
{
    (void) arg;
    for (uint64_t seq = 1; seq <= 300; seq++) {
        const char *office = seq % 2 ? "MSA" : "NBI";
        fl_msg_t *e = fl_msg_new(FL_T_EVENT);
        fl_msg_set_str(e, FL_F_OFFICE, office);
        fl_msg_set_uint(e, FL_F_SEQ, seq);
        fl_msg_set_uint(e, FL_F_AT, T0 + seq);
        fl_msg_set_str(e, FL_F_KIND, "call");
        store_key_t k = store_key_event(office, seq);
        int rc = store_put_rec(txn, STORE_DB_EVENTS, &k, e);
        fl_msg_destroy(&e);
        if (rc)
            return rc;
    }
    return 0;
}

static int
s_last_event(store_txn_t *txn, void *arg)
{
    uint64_t *out = arg;
    const char *offices[] = { "MSA", "NBI", "KSM" };
    for (int i = 0; i < 3; i++) {
        store_key_t prefix = store_key_office(offices[i]), last;
        int rc = store_last(txn, STORE_DB_EVENTS, &prefix, &last, NULL, NULL);
        out[i] = rc == 0 ? store_be_get(last.b + 8, 8) : 0;
        if (rc && rc != FL_E_NOT_FOUND)
            return rc;
    }
    return 0;
}

START_TEST(test_last_finds_the_newest_event_of_each_office)
{
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    ck_assert_int_eq(store_write(s, s_events, NULL, NULL), 0);
    uint64_t last[3];
    ck_assert_int_eq(store_read(s, s_last_event, last, NULL), 0);
    ck_assert_uint_eq(last[0], 299);                    /* MSA: odd seqs */
    ck_assert_uint_eq(last[1], 300);                    /* NBI: even seqs */
    ck_assert_uint_eq(last[2], 0);                      /* KSM: none */
    ck_assert_uint_eq(s_problems(s), 0);
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

/* ---- crash, backup, check ---- */

/* A second scheduler on one store is refused, and a scheduler killed with
 * SIGKILL leaves no lock behind: its restart opens the store at once. */
START_TEST(test_writer_lock_refuses_a_second_writer_and_frees_on_death)
{
    char *dir = tu_tempdir();
    store_options_t sole = { .sole_writer = true };
    fl_error_t err;
    store_t *first = store_open(dir, &sole, &err);
    ck_assert_ptr_nonnull(first);

    ck_assert_ptr_null(store_open(dir, &sole, &err));         /* same process, second open */
    ck_assert_int_eq(err.code, FL_E_CONFLICT);
    char pid[32];
    snprintf(pid, sizeof pid, "(pid %ld;", (long) getpid());
    ck_assert_msg(strstr(err.message, "another writer") && strstr(err.message, pid), "%s", err.message);
    /* a writer that is not the scheduler (a tool) is refused too: it would
     * find the citizen index one commit behind and rebuild it under the
     * scheduler's feet */
    ck_assert_ptr_null(store_open(dir, NULL, &err));
    ck_assert_int_eq(err.code, FL_E_CONFLICT);

    store_options_t ro = { .read_only = true };                /* readers are not refused */
    store_t *reader = store_open(dir, &ro, &err);
    ck_assert_ptr_nonnull(reader);
    store_destroy(&reader);
    store_destroy(&first);

    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {                       /* holds the lock until killed */
        close(fds[0]);
        store_t *s = store_open(dir, &sole, NULL);
        char ready = s ? 'y' : 'n';
        if (write(fds[1], &ready, 1) != 1)
            _exit(4);
        pause();
        _exit(0);
    }
    close(fds[1]);
    char ready = 0;
    ck_assert_int_eq(read(fds[0], &ready, 1), 1);
    close(fds[0]);
    ck_assert_int_eq(ready, 'y');
    ck_assert_ptr_null(store_open(dir, &sole, &err));
    ck_assert_int_eq(err.code, FL_E_CONFLICT);
    snprintf(pid, sizeof pid, "(pid %ld;", (long) child);
    ck_assert_msg(strstr(err.message, pid), "%s", err.message);

    kill(child, SIGKILL);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    store_t *again = store_open(dir, &sole, &err);
    ck_assert_msg(again != NULL, "%s", err.message);
    store_destroy(&again);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_sigkill_loses_no_reported_commit)
{
    char *dir = tu_tempdir();
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {                       /* the writer: commit, then report */
        close(fds[0]);
        store_t *s = store_open(dir, NULL, NULL);
        if (!s || store_write(s, s_put_office, NULL, NULL))
            _exit(3);
        for (unsigned n = 0;; n++) {
            if (store_write(s, s_book, &n, NULL))
                _exit(4);
            if (write(fds[1], &n, sizeof n) != sizeof n)
                _exit(5);
        }
    }
    close(fds[1]);
    unsigned n, reported = 0, highest = 0;
    while (reported < 300 && read(fds[0], &n, sizeof n) == sizeof n) {
        reported++;
        highest = n;
        if (reported % 60 == 0) {           /* a reader beside the live writer sees one consistent store */
            store_options_t ro = { .read_only = true };
            store_t *view = store_open(dir, &ro, NULL);
            ck_assert_ptr_nonnull(view);
            ck_assert_uint_eq(s_problems(view), 0);
            store_destroy(&view);
        }
    }
    kill(child, SIGKILL);
    while (read(fds[0], &n, sizeof n) == sizeof n) {    /* reports already in the pipe count too */
        reported++;
        highest = n;
    }
    int status;
    waitpid(child, &status, 0);
    close(fds[0]);
    ck_assert_msg(WIFSIGNALED(status), "the writer stopped by itself (status %d)", status);
    ck_assert_uint_ge(reported, 300);

    store_t *s = s_open(dir, 0);
    for (unsigned i = 0; i <= highest; i++)
        ck_assert_msg(s_booking_exists(s, i), "booking %u was reported committed but is gone", i);
    ck_assert_uint_eq(s_problems(s), 0);
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_backup_is_a_consistent_openable_copy)
{
    char *dir = tu_tempdir();
    char *dest = tu_tempdir();
    store_t *s = s_open(dir, 0);
    s_seed(s, 50);
    fl_error_t err;
    ck_assert_msg(store_backup(s, dest, &err) == 0, "%s", err.message);
    unsigned more = 50;
    ck_assert_int_eq(store_write(s, s_book, &more, NULL), 0);   /* after the copy */
    store_stat_t live;
    ck_assert_int_eq(store_stat(s, &live, NULL), 0);
    store_destroy(&s);

    store_options_t ro = { .read_only = true };
    store_t *copy = store_open(dest, &ro, &err);
    ck_assert_msg(copy != NULL, "%s", err.message);
    store_stat_t st;
    ck_assert_int_eq(store_stat(copy, &st, NULL), 0);
    ck_assert_uint_eq(st.entries[STORE_DB_BOOKINGS], 50);
    ck_assert_uint_eq(live.entries[STORE_DB_BOOKINGS], 51);
    ck_assert(s_booking_exists(copy, 49));
    ck_assert(!s_booking_exists(copy, 50));
    ck_assert(!st.index_present);          /* the copy holds the durable store only */
    ck_assert_uint_eq(s_problems(copy), 0);
    store_destroy(&copy);
    copy = s_open(dest, 0);                 /* a writer builds the index from the bookings */
    ck_assert_int_eq(store_stat(copy, &st, NULL), 0);
    ck_assert(st.index_present);
    ck_assert_ptr_nonnull(st.index_rebuild_reason);
    ck_assert_uint_eq(st.entries[STORE_DB_BOOKINGS_BY_CITIZEN], 50);
    ck_assert_uint_eq(s_problems(copy), 0);
    store_destroy(&copy);
    /* a second backup into a non-empty directory is refused, not merged */
    s = s_open(dir, 0);
    ck_assert_int_ne(store_backup(s, dest, &err), 0);
    ck_assert_int_ne(store_backup(s, "/nonexistent/dir", &err), 0);
    ck_assert_int_eq(err.code, FL_E_IO);
    store_destroy(&s);
    tu_rmtree(dir);
    tu_rmtree(dest);
}
END_TEST


/* ---- the citizen index's own environment (store/citizens.c) ---- */

static store_t *
s_open_boot(const char *dir, const char *boot)
{
    store_options_t opts = { .boot_id = boot, .sole_writer = true };
    fl_error_t err;
    store_t *s = store_open(dir, &opts, &err);
    ck_assert_msg(s != NULL, "open %s: %s", dir, err.message);
    return s;
}

/* Why the last open rebuilt the index ("" when it did not), and its entries. */
static const char *
s_rebuilt(store_t *s, size_t *entries)
{
    store_stat_t st;
    ck_assert_int_eq(store_stat(s, &st, NULL), 0);
    ck_assert(st.index_present);
    *entries = st.entries[STORE_DB_BOOKINGS_BY_CITIZEN];
    return st.index_rebuild_reason ? st.index_rebuild_reason : "";
}

/* Open dir as the sole writer under boot; the open must have rebuilt the
 * index for a reason containing `why` ("" for none), and the index must hold
 * `entries` entries and agree with the store. */
static store_t *
s_expect_open(const char *dir, const char *boot, const char *why, size_t entries)
{
    store_t *s = s_open_boot(dir, boot);
    size_t got;
    const char *reason = s_rebuilt(s, &got);
    ck_assert_msg(why[0] ? strstr(reason, why) != NULL : reason[0] == '\0', "rebuilt: '%s', expected '%s'",
                  reason, why);
    ck_assert_uint_eq(got, entries);
    ck_assert_uint_eq(s_problems(s), 0);
    return s;
}

/* A writer that books [from, to) and dies without closing the store. */
static void
s_book_and_die(const char *dir, const char *boot, unsigned from, unsigned to, bool office)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        store_options_t opts = { .boot_id = boot, .sole_writer = true };
        store_t *s = store_open(dir, &opts, NULL);
        if (!s || (office && store_write(s, s_put_office, NULL, NULL)))
            _exit(3);
        for (unsigned n = from; n < to; n++)
            if (store_write(s, s_book, &n, NULL))
                _exit(4);
        _exit(0);                           /* no store_destroy: as if killed */
    }
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed (status %d)", status);
}

/* Whether the read sees the citizen index. */
static int
s_has_index(store_txn_t *txn, void *arg)
{
    *(bool *) arg = store_txn_has_index(txn);
    return 0;
}

/* 0 when citizen n has an index entry. */
static int
s_exists_index_any(store_txn_t *txn, void *arg)
{
    uint8_t hash[32];
    s_hash(hash, *(unsigned *) arg);
    store_key_t ck = store_key_citizen(hash, "PASSPORT");
    const void *v;
    size_t len;
    return store_get(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck, &v, &len);
}

/* 0 when citizen n's index entry names R000000n. */
static int
s_exists_index(store_txn_t *txn, void *arg)
{
    unsigned n = *(unsigned *) arg;
    uint8_t hash[32];
    s_hash(hash, n);
    store_key_t ck = store_key_citizen(hash, "PASSPORT");
    const void *v;
    size_t len;
    char ref[17];
    snprintf(ref, sizeof ref, "R%07u", n);
    int rc = store_get(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck, &v, &len);
    return rc ? rc : len == strlen(ref) && memcmp(v, ref, len) == 0 ? 0 : -1;
}

/* Cancel citizen n's booking as the scheduler would: the record's state, the
 * slot's count, the index entry. */
static int
s_cancel(store_txn_t *txn, void *arg)
{
    unsigned n = *(unsigned *) arg;
    char ref[17];
    snprintf(ref, sizeof ref, "R%07u", n);
    store_key_t bk = store_key_booking(ref);
    fl_msg_t *b = NULL;
    int rc = store_get_rec(txn, STORE_DB_BOOKINGS, &bk, FL_T_BOOKING_REC, &b);
    if (rc)
        return rc;
    fl_msg_set_str(b, FL_F_STATE, STORE_BOOKING_CANCELLED);
    rc = store_put_rec(txn, STORE_DB_BOOKINGS, &bk, b);
    store_key_t sk = store_key_slot("NBI", "PASSPORT", fl_msg_uint(b, FL_F_START));
    fl_msg_destroy(&b);
    store_places_t places;
    if (!rc) rc = store_get_places(txn, &sk, &places);
    places.taken--;
    if (!rc) rc = store_put_places(txn, &sk, &places);
    uint8_t hash[32];
    s_hash(hash, n);
    store_key_t ck = store_key_citizen(hash, "PASSPORT");
    if (!rc) rc = store_del(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck);
    return rc;
}

/* A writer that is not the sole writer (a tool, a test) never marks the
 * index clean: open and close one under boot `before`, then open the store
 * as the sole writer under boot `after`, which must rebuild the index. */
static store_t *
s_open_after_a_machine_restart(const char *dir, const char *before, const char *after, size_t *entries)
{
    store_options_t plain = { .boot_id = before };
    store_t *s = store_open(dir, &plain, NULL);
    ck_assert_ptr_nonnull(s);
    store_destroy(&s);
    s = s_open_boot(dir, after);
    ck_assert_msg(strstr(s_rebuilt(s, entries), "machine restarted"), "%s", s_rebuilt(s, entries));
    return s;
}

START_TEST(test_citizen_index_is_trusted_after_a_clean_stop_or_a_process_crash)
{
    char *dir = tu_tempdir();
    size_t entries;
    store_t *s = s_open_boot(dir, "boot-A");
    ck_assert_str_eq(s_rebuilt(s, &entries), "there is no index yet");
    s_seed(s, 20);
    store_destroy(&s);
    /* a reader beside nobody, after the clean stop, reads through the index */
    store_options_t ro = { .read_only = true, .boot_id = "boot-A" };
    s = store_open(dir, &ro, NULL);
    ck_assert_ptr_nonnull(s);
    bool has = false;
    ck_assert_int_eq(store_read(s, s_has_index, &has, NULL), 0);
    ck_assert_msg(has, "a read-only open after a clean stop did not use the index");
    unsigned seven = 7;
    ck_assert_int_eq(store_read(s, s_exists_index, &seven, NULL), 0);
    store_destroy(&s);
    /* a clean stop is trusted even after the machine restarted */
    s = s_expect_open(dir, "boot-B", "", 20);
    store_destroy(&s);
    /* a process that dies leaves its index commits in the page cache: the
     * same boot trusts them, and they hold the dead writer's bookings */
    s_book_and_die(dir, "boot-B", 20, 30, false);
    s = s_expect_open(dir, "boot-B", "", 30);
    store_destroy(&s);
    /* a writer that is not the sole writer (a tool, a test) never marks the
     * index clean: after a restart of the machine it is rebuilt */
    s = s_open_after_a_machine_restart(dir, "boot-B", "boot-C", &entries);
    ck_assert_uint_eq(entries, 30);
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_citizen_index_is_rebuilt_after_a_machine_restart_or_when_stale)
{
    char *dir = tu_tempdir();
    size_t entries;
    /* a writer dies, then the machine restarts: its index file cannot be trusted */
    s_book_and_die(dir, "boot-A", 0, 12, true);
    store_t *s = s_expect_open(dir, "boot-B", "machine restarted", 12);
    store_destroy(&s);
    /* an index left behind by later durable commits (the process stopped
     * between the two commits, or an old copy put back) is rebuilt */
    char live[4096], old[4096];
    snprintf(live, sizeof live, "%s/citizens", dir);
    snprintf(old, sizeof old, "%s/citizens.old", dir);
    ck_assert_int_eq(rename(live, old), 0);
    s = s_open_boot(dir, "boot-B");
    ck_assert_str_eq(s_rebuilt(s, &entries), "there is no index yet");
    ck_assert_uint_eq(entries, 12);
    unsigned n = 12;
    ck_assert_int_eq(store_write(s, s_book, &n, NULL), 0);
    store_destroy(&s);
    tu_rmtree(live);
    ck_assert_int_eq(rename(old, live), 0);
    /* a reader meanwhile opens it (it is this data.mdb's, cleanly stopped)
     * but reads without it: its snapshot never matches the durable one */
    store_options_t ro = { .read_only = true };
    s = store_open(dir, &ro, NULL);
    ck_assert_ptr_nonnull(s);
    bool has = true;
    ck_assert_int_eq(store_read(s, s_has_index, &has, NULL), 0);
    ck_assert(!has);
    ck_assert_uint_eq(s_problems(s), 0);
    bool compared = true;                           /* and the check says it did not compare it */
    size_t problems;
    ck_assert_int_eq(store_check(s, NULL, NULL, &problems, &compared, NULL), 0);
    ck_assert(!compared);
    store_destroy(&s);
    /* foleni-store check says so, rather than a bare "0 problems" */
    char tool[1024], out[4096];
    snprintf(tool, sizeof tool, "%s --data %s check", tu_bin("foleni-store"), dir);
    ck_assert_int_eq(s_run(tool, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "could not be read in step with the bookings") && strstr(out, "it was not compared")
                  && strstr(out, "check: 0 problems\n"), "%s", out);
    s = s_expect_open(dir, "boot-B", "does not match", 13);
    ck_assert_int_eq(store_read(s, s_has_index, &has, NULL), 0);
    ck_assert(has);
    ck_assert_int_eq(store_check(s, NULL, NULL, &problems, &compared, NULL), 0);
    ck_assert(compared);
    /* a data.mdb put back beside an index built for another (a restored
     * backup) is not taken for its store */
    store_destroy(&s);
    char data[1024], copy[1024];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(copy, sizeof copy, "%s/data.mdb.copy", dir);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && mv '%s' '%s'", data, copy, copy, data);
    ck_assert_int_eq(system(cmd), 0);
    s = s_open_boot(dir, "boot-B");
    ck_assert_msg(strstr(s_rebuilt(s, &entries), "another data.mdb"), "%s", s_rebuilt(s, &entries));
    ck_assert_uint_eq(entries, 13);
    /* a cancelled booking gets no entry in a rebuild */
    unsigned cancel = 3;
    ck_assert_int_eq(store_write(s, s_cancel, &cancel, NULL), 0);
    ck_assert_uint_eq(s_problems(s), 0);
    store_destroy(&s);
    tu_rmtree(live);
    s = s_expect_open(dir, "boot-B", "there is no index yet", 12);
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST


/* The durable slot records as schema 1 and 2 kept them: each with the
 * places taken in it (copied from `places`). */
static int
s_one_count(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    store_places_t places;
    ck_assert_uint_eq(klen, 24);
    ck_assert_int_eq(store_places_parse(val, vlen, &places), 0);
    store_key_t k = { .len = 24 };
    memcpy(k.b, key, 24);
    store_slot_t slot;
    store_txn_t *txn = arg;
    ck_assert_int_eq(store_get_slot(txn, &k, &slot), 0);
    slot.taken = places.taken;
    return store_put_slot(txn, &k, "NBI", "PASSPORT", &slot);
}

static int
s_count_in_slot_records(store_txn_t *txn, void *arg)
{
    (void) arg;
    /* the scan reads the index, the puts go to the durable environment */
    return store_scan(txn, STORE_DB_PLACES, NULL, NULL, s_one_count, txn);
}

/* Set the schema record of the store in dir to version (LMDB itself). */
static void
s_set_schema(const char *dir, unsigned version)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    mdb_env_set_mapsize(env, (size_t) 1 << 30);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0640), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    fl_msg_t *m = fl_msg_new(FL_T_META_REC);
    fl_msg_set_uint(m, FL_F_SCHEMA, version);
    fl_msg_set_uint(m, FL_F_CREATED, 1);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(fl_msg_encode(m, &buf, NULL), 0);
    fl_msg_destroy(&m);
    MDB_val k = { 6, "schema" }, v = { buf.size, buf.data };
    ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
    msgpack_sbuffer_destroy(&buf);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

typedef struct { uint64_t start; store_places_t places; int rc; } places_at_t;

static int
s_places_at(store_txn_t *txn, void *arg)
{
    places_at_t *p = arg;
    store_key_t k = store_key_slot("NBI", "PASSPORT", p->start);
    p->rc = store_get_places(txn, &k, &p->places);
    return 0;
}

/* The places of the slot at start: "capacity/taken", "none" or "error N". */
static const char *
s_places_text(store_t *s, uint64_t start, char out[32])
{
    places_at_t p = { .start = start };
    ck_assert_int_eq(store_read(s, s_places_at, &p, NULL), 0);
    if (p.rc == 0)
        snprintf(out, 32, "%u/%u", p.places.capacity, p.places.taken);
    else
        snprintf(out, 32, p.rc == FL_E_NOT_FOUND ? "none" : "error %d", p.rc);
    return out;
}

static int
s_set_taken(store_txn_t *txn, void *arg)
{
    places_at_t *p = arg;
    store_key_t k = store_key_slot("NBI", "PASSPORT", p->start);
    return store_put_places(txn, &k, &p->places);
}

/* Open the store in dir as its writer, which must upgrade it from schema
 * `from` to 3 and so rebuild the index. */
static store_t *
s_open_upgraded(const char *dir, unsigned from, store_stat_t *st)
{
    store_t *s = s_open_boot(dir, "boot-A");
    ck_assert_int_eq(store_stat(s, st, NULL), 0);
    ck_assert_uint_eq(st->schema_version, 3);
    char why[64];
    snprintf(why, sizeof why, "the store was upgraded from schema %u", from);
    ck_assert_str_eq(st->index_rebuild_reason, why);
    return s;
}

/* A store of this build with `bookings` bookings (s_seed), its slot records
 * counting their places as schema 1 and 2 did: for making an older store. */
static void
s_seed_counted_in_slots(const char *dir, unsigned bookings)
{
    store_t *s = s_open(dir, 0);
    s_seed(s, bookings);
    ck_assert_int_eq(store_write(s, s_count_in_slot_records, NULL, NULL), 0);
    store_destroy(&s);
}

/* Open the store in dir read-only; it must say schema `version`. */
static store_t *
s_open_read_only_at(const char *dir, unsigned version, store_stat_t *st)
{
    store_options_t ro = { .read_only = true };
    fl_error_t err;
    store_t *s = store_open(dir, &ro, &err);
    ck_assert_msg(s != NULL, "%s", err.message);
    ck_assert_int_eq(store_stat(s, st, NULL), 0);
    ck_assert_uint_eq(st->schema_version, version);
    return s;
}

/* The slot record at start says `taken` (a schema-2 count). */
static int
s_slot_says(store_txn_t *txn, void *arg)
{
    const places_at_t *p = arg;
    store_key_t k = store_key_slot("NBI", "PASSPORT", p->start);
    store_slot_t slot;
    int rc = store_get_slot(txn, &k, &slot);
    slot.taken = p->places.taken;
    return rc ? rc : store_put_slot(txn, &k, "NBI", "PASSPORT", &slot);
}

/* Make the index in dir/citizens as schema 2 made it, for the store as it is
 * now: no `places`, and matching the durable store's last transaction. */
static void
s_make_schema_2_index(const char *dir)
{
    MDB_env *env;
    MDB_envinfo info;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
    ck_assert_int_eq(mdb_env_info(env, &info), 0);
    mdb_env_close(env);
    char path[1024];
    snprintf(path, sizeof path, "%s/citizens", dir);
    MDB_txn *txn;
    MDB_dbi places, state;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 3);
    mdb_env_set_mapsize(env, (size_t) 64 << 30);
    ck_assert_int_eq(mdb_env_open(env, path, MDB_WRITEMAP, 0640), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "places", 0, &places), 0);
    ck_assert_int_eq(mdb_drop(txn, places, 1), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "state", 0, &state), 0);
    uint8_t be[8];
    store_be_put(be, (uint64_t) info.me_last_txnid, 8);
    MDB_val k = { 7, "matched" }, v = { 8, be };
    ck_assert_int_eq(mdb_put(txn, state, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    ck_assert_int_eq(mdb_env_sync(env, 1), 0);
    mdb_env_close(env);
}

START_TEST(test_schema_2_is_read_as_it_is_and_upgraded_by_a_writer)
{
    char *dir = tu_tempdir();
    s_seed_counted_in_slots(dir, 10);       /* slots T0 4, T0+900 4, T0+1800 2 */
    /* a count in a slot record that is not the bookings' (T0: 1 of 4) */
    store_t *s = s_open(dir, 0);
    places_at_t one = { .start = T0, .places = { .taken = 1 } };
    ck_assert_int_eq(store_write(s, s_slot_says, &one, NULL), 0);
    store_destroy(&s);
    s_set_schema(dir, 2);
    s_make_schema_2_index(dir);
    /* read only: version 2, the counts read from the slot records, beside
     * its citizen index (read: it matches) */
    store_stat_t st;
    s = s_open_read_only_at(dir, 2, &st);
    ck_assert(st.index_present);
    char text[32];
    ck_assert_str_eq(s_places_text(s, T0, text), "4/1");
    ck_assert_str_eq(s_places_text(s, T0 + 1800, text), "4/2");
    problems_t p = { 0 };
    size_t n_problems;
    bool compared = false;
    ck_assert_int_eq(store_check(s, s_collect, &p, &n_problems, &compared, NULL), 0);
    ck_assert(compared);
    ck_assert_uint_eq(n_problems, 1);
    ck_assert_msg(strstr(p.text[0], "says 1 taken but 4 bookings hold places"), "%s", p.text[0]);
    /* a writer upgrades: version 3, the places counted again from the
     * bookings, not copied from the slot records */
    store_t *reader = s;                    /* still open, in the old layout */
    s = s_open_upgraded(dir, 2, &st);
    fl_error_t err;                         /* the reader is told, rather than reading stale counts */
    places_at_t gone = { .start = T0 };
    ck_assert_int_eq(store_read(reader, s_places_at, &gone, &err), FL_E_VERSION);
    ck_assert_msg(strstr(err.message, "upgraded"), "%s", err.message);
    ck_assert_int_eq(store_check(reader, NULL, NULL, &n_problems, NULL, &err), FL_E_VERSION);
    store_destroy(&reader);
    ck_assert_uint_eq(st.entries[STORE_DB_PLACES], 3);
    ck_assert_str_eq(s_places_text(s, T0, text), "4/4");
    ck_assert_str_eq(s_places_text(s, T0 + 1800, text), "4/2");
    ck_assert_uint_eq(s_problems(s), 0);
    unsigned n = 10;                        /* and bookings go on, counted in places */
    ck_assert_int_eq(store_write(s, s_book, &n, NULL), 0);
    ck_assert_str_eq(s_places_text(s, T0 + 1800, text), "4/3");
    ck_assert_uint_eq(s_problems(s), 0);
    store_destroy(&s);
    /* a reader now reads the places in the index */
    s = s_open_read_only_at(dir, 3, &st);
    ck_assert_str_eq(s_places_text(s, T0 + 1800, text), "4/3");
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_places_are_counted_again_when_the_index_is_rebuilt)
{
    char *dir = tu_tempdir();
    store_t *s = s_open_boot(dir, "boot-A");
    s_seed(s, 10);                          /* slots T0 4 (full), T0+900 4 (full), T0+1800 2 */
    unsigned cancel = 5;                    /* T0+900: 3 */
    ck_assert_int_eq(store_write(s, s_cancel, &cancel, NULL), 0);
    char text[32];
    ck_assert_str_eq(s_places_text(s, T0, text), "4/4");
    ck_assert_str_eq(s_places_text(s, T0 + 900, text), "4/3");
    ck_assert_str_eq(s_places_text(s, T0 + 1800, text), "4/2");
    ck_assert_str_eq(s_places_text(s, T0 + 2700, text), "none");
    /* a count gone wrong in the index (as a machine crash could leave it:
     * pages written back out of order) is what check finds... */
    places_at_t wrong = { .start = T0, .places = { .capacity = 4, .taken = 1 } };
    ck_assert_int_eq(store_write(s, s_set_taken, &wrong, NULL), 0);
    ck_assert_uint_eq(s_problems(s), 1);
    store_destroy(&s);
    size_t entries;                         /* a clean stop: trusted as it is */
    s = s_open_boot(dir, "boot-A");
    ck_assert_str_eq(s_rebuilt(s, &entries), "");
    ck_assert_str_eq(s_places_text(s, T0, text), "4/1");
    store_destroy(&s);
    /* ...and a machine restart without a clean stop (a writer that never
     * marks the index clean, then another boot) rebuilds: the counts come
     * from the bookings and the capacity from the slot records */
    s = s_open_after_a_machine_restart(dir, "boot-A", "boot-B", &entries);
    ck_assert_str_eq(s_places_text(s, T0, text), "4/4");        /* full stays full */
    ck_assert_str_eq(s_places_text(s, T0 + 900, text), "4/3");
    ck_assert_str_eq(s_places_text(s, T0 + 1800, text), "4/2");
    ck_assert_str_eq(s_places_text(s, T0 + 2700, text), "none");
    ck_assert_uint_eq(s_problems(s), 0);
    store_destroy(&s);
    /* an index without `places` beside a schema-3 store (made for schema 2,
     * put back by hand) is not read by a reader, and a writer rebuilds it
     * rather than take every slot for empty */
    s_make_schema_2_index(dir);
    store_stat_t st;
    s = s_open_read_only_at(dir, 3, &st);
    ck_assert(!st.index_present);
    ck_assert_str_eq(s_places_text(s, T0, text), "none");
    store_destroy(&s);
    s = s_open_boot(dir, "boot-B");
    ck_assert_str_eq(s_rebuilt(s, &entries), "the index cannot be opened");
    ck_assert_str_eq(s_places_text(s, T0, text), "4/4");
    ck_assert_uint_eq(s_problems(s), 0);
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

/* A store as schema 1 left it: the citizen index inside data.mdb, no
 * citizens/.  Made from a current one with LMDB itself. */
static void
s_make_schema_1(const char *dir, unsigned bookings)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/citizens", dir);
    tu_rmtree(path);
    s_set_schema(dir, 1);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi index;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0640), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "bookings_by_citizen", 0, &index), 0);
    for (unsigned n = 0; n < bookings; n++) {
        uint8_t hash[32];
        s_hash(hash, n);
        store_key_t ck = store_key_citizen(hash, "PASSPORT");
        char ref[17];
        snprintf(ref, sizeof ref, "R%07u", n);
        MDB_val ik = { ck.len, ck.b }, iv = { strlen(ref), ref };
        ck_assert_int_eq(mdb_put(txn, index, &ik, &iv, 0), 0);
    }
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

START_TEST(test_schema_1_is_read_as_it_is_and_upgraded_by_a_writer)
{
    char *dir = tu_tempdir();
    s_seed_counted_in_slots(dir, 9);
    s_make_schema_1(dir, 9);
    /* read only: version 1, its index read where it is */
    store_stat_t st;
    store_t *s = s_open_read_only_at(dir, 1, &st);
    ck_assert(!st.index_present);
    ck_assert_uint_eq(st.entries[STORE_DB_BOOKINGS_BY_CITIZEN], 9);
    ck_assert_uint_eq(s_problems(s), 0);
    store_destroy(&s);
    /* a writer upgrades: version 3, the old copy emptied, the index rebuilt */
    s = s_open_upgraded(dir, 1, &st);
    ck_assert_uint_eq(st.entries[STORE_DB_PLACES], 3);
    ck_assert_uint_eq(st.entries[STORE_DB_BOOKINGS_BY_CITIZEN], 9);
    ck_assert_uint_eq(s_problems(s), 0);
    unsigned again = 4;                 /* the index still refuses what it should: R0000004 is there */
    ck_assert_int_eq(store_write(s, s_exists_index, &again, NULL), 0);
    store_destroy(&s);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi index;
    MDB_stat ms;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0640), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "bookings_by_citizen", 0, &index), 0);
    ck_assert_int_eq(mdb_stat(txn, index, &ms), 0);
    ck_assert_uint_eq(ms.ms_entries, 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    tu_rmtree(dir);
}
END_TEST


/* ---- nested transactions and the citizen index (an undo list, store.c) ---- */

/* Inside a nested transaction: one more place in slot T0 (3 -> 4), a new slot
 * T0+900, an index entry between the two changes of T0; then fail. */
static int
s_places_changes(store_txn_t *txn, void *arg)
{
    (void) arg;
    store_key_t k0 = store_key_slot("NBI", "PASSPORT", T0), k1 = store_key_slot("NBI", "PASSPORT", T0 + 900);
    store_places_t p0, p1 = { .capacity = 4, .taken = 1 };
    uint8_t hash[32];
    s_hash(hash, 100);
    store_key_t ck = store_key_citizen(hash, "PASSPORT");
    int rc = store_get_places(txn, &k0, &p0);
    p0.taken++;
    if (!rc) rc = store_put_places(txn, &k0, &p0);
    if (!rc) rc = store_put(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &ck, "NEW0100", 7);
    p0.taken = 0;
    if (!rc) rc = store_put_places(txn, &k0, &p0);
    if (!rc) rc = store_put_places(txn, &k1, &p1);
    return rc ? rc : FL_E_FULL;
}

static int
s_nest_places(store_txn_t *txn, void *arg)
{
    int *nested = arg;
    *nested = store_nested(txn, s_places_changes, NULL);
    return 0;
}

START_TEST(test_nested_failure_puts_the_places_back)
{
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    s_seed(s, 3);                           /* slot T0: 3 of 4 */
    int nested = 0;
    ck_assert_int_eq(store_write(s, s_nest_places, &nested, NULL), 0);
    ck_assert_int_eq(nested, FL_E_FULL);
    char text[32];
    ck_assert_str_eq(s_places_text(s, T0, text), "4/3");
    ck_assert_str_eq(s_places_text(s, T0 + 900, text), "none");
    ck_assert_uint_eq(s_problems(s), 0);    /* and the citizen index entry went too */
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

static store_key_t
s_ck(unsigned n)
{
    uint8_t hash[32];
    s_hash(hash, n);
    return store_key_citizen(hash, "PASSPORT");
}

/* The index entry of citizen n, "" when none. */
static int
s_index_of(store_txn_t *txn, unsigned n, char out[17])
{
    store_key_t k = s_ck(n);
    const void *v;
    size_t len;
    int rc = store_get(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &k, &v, &len);
    out[0] = '\0';
    if (rc == 0 && len < 17) {
        memcpy(out, v, len);
        out[len] = '\0';
    }
    return rc == FL_E_NOT_FOUND ? 0 : rc;
}

/* Inside a nested transaction: add citizen 100, change 1, delete 2, then
 * (arg "fail") fail, or nest once more and fail there ("inner": other values
 * over the outer one's, so that putting them back is seen). */
static int
s_index_changes(store_txn_t *txn, void *arg)
{
    const char *how = arg;
    bool inner = !strcmp(how, "inner");
    store_key_t add = s_ck(100), change = s_ck(1), gone = s_ck(2);
    int rc = store_put(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &add, inner ? "INN0100" : "NEW0100", 7);
    if (!rc) rc = store_put(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &change, inner ? "INN0001" : "CHG0001", 7);
    if (!rc) rc = store_put(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &change, inner ? "INN0001B" : "CHG0001B", 8);
    if (!rc && (rc = store_del(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &gone)) == FL_E_NOT_FOUND)
        rc = 0;                                  /* gone already (the outer one deleted it) */
    if (rc)
        return rc;
    if (!strcmp(how, "fail") || inner)
        return FL_E_CONFLICT;
    if (!strcmp(how, "inner-fails")) {           /* the inner one fails alone */
        int rc_inner = store_nested(txn, s_index_changes, "inner");
        return rc_inner == FL_E_CONFLICT ? 0 : -1;
    }
    return 0;
}

typedef struct { const char *how; int nested; char after[3][17]; } nest_case_t;

static int
s_nest(store_txn_t *txn, void *arg)
{
    nest_case_t *c = arg;
    c->nested = store_nested(txn, s_index_changes, (void *) c->how);
    unsigned who[3] = { 100, 1, 2 };
    for (int i = 0; i < 3; i++) {
        int rc = s_index_of(txn, who[i], c->after[i]);
        if (rc)
            return rc;
    }
    return 0;
}

START_TEST(test_nested_failure_puts_the_citizen_index_back)
{
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    s_seed(s, 3);                       /* R0000000..2 with their index entries */
    nest_case_t failed = { .how = "fail" };
    ck_assert_int_eq(store_write(s, s_nest, &failed, NULL), 0);
    ck_assert_int_eq(failed.nested, FL_E_CONFLICT);
    ck_assert_str_eq(failed.after[0], "");              /* added, taken back */
    ck_assert_str_eq(failed.after[1], "R0000001");      /* changed twice, put back */
    ck_assert_str_eq(failed.after[2], "R0000002");      /* deleted, put back */
    ck_assert_uint_eq(s_problems(s), 0);
    nest_case_t inner = { .how = "inner-fails" };       /* outer keeps its changes */
    ck_assert_int_eq(store_write(s, s_nest, &inner, NULL), 0);
    ck_assert_int_eq(inner.nested, 0);
    ck_assert_str_eq(inner.after[0], "NEW0100");
    ck_assert_str_eq(inner.after[1], "CHG0001B");
    ck_assert_str_eq(inner.after[2], "");
    store_destroy(&s);
    /* what the outer one kept was committed, and a failure later puts back
     * exactly that (a value that was there: restored, not removed) */
    s = s_open(dir, 0);
    unsigned n100 = 100;
    ck_assert_int_eq(store_read(s, s_exists_index_any, &n100, NULL), 0);
    nest_case_t again = { .how = "fail" };
    ck_assert_int_eq(store_write(s, s_nest, &again, NULL), 0);
    ck_assert_str_eq(again.after[0], "NEW0100");
    ck_assert_str_eq(again.after[1], "CHG0001B");
    ck_assert_str_eq(again.after[2], "");
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

static int
s_plant(store_txn_t *txn, void *arg)
{
    int which = *(int *) arg;
    uint8_t hash[32];
    switch (which) {
    case 0: {                       /* an index entry whose booking is gone */
        store_key_t k = store_key_booking("R0000003");
        return store_del(txn, STORE_DB_BOOKINGS, &k);
    }
    case 1: {                       /* an active booking without its index entry */
        s_hash(hash, 5);
        store_key_t k = store_key_citizen(hash, "PASSPORT");
        return store_del(txn, STORE_DB_BOOKINGS_BY_CITIZEN, &k);
    }
    case 2: {                       /* a slot over capacity */
        store_key_t k = store_key_slot("NBI", "PASSPORT", T0);
        store_places_t places;
        int rc = store_get_places(txn, &k, &places);
        if (rc) return rc;
        places.taken = 5;
        return store_put_places(txn, &k, &places);
    }
    case 5: {                       /* places counted short of the bookings */
        store_key_t k = store_key_slot("NBI", "PASSPORT", T0 + 900);
        store_places_t places;
        int rc = store_get_places(txn, &k, &places);
        if (rc) return rc;
        places.taken = 3;
        return store_put_places(txn, &k, &places);
    }
    case 6: {                       /* a slot whose places record is gone */
        store_key_t k = store_key_slot("NBI", "PASSPORT", T0 + 1800);
        return store_del(txn, STORE_DB_PLACES, &k);
    }
    case 3: {                       /* a damaged record */
        store_key_t k = store_key_booking("R0000006");
        return store_put(txn, STORE_DB_BOOKINGS, &k, "\xdd\xff\xff\xff\xff", 5);
    }
    default: {                      /* a record under another record's key */
        store_key_t from = store_key_booking("R0000007"), to = store_key_booking("R0000099");
        const void *v; size_t n;
        int rc = store_get(txn, STORE_DB_BOOKINGS, &from, &v, &n);
        if (rc) return rc;
        char copy[512];
        memcpy(copy, v, n);
        return store_put(txn, STORE_DB_BOOKINGS, &to, copy, n);
    }
    }
}

/* The slot record at T0 says capacity 3 (its four bookings are one too many). */
static int
s_shrink_t0(store_txn_t *txn, void *arg)
{
    (void) arg;
    store_key_t k = store_key_slot("NBI", "PASSPORT", T0);
    store_slot_t slot;
    int rc = store_get_slot(txn, &k, &slot);
    slot.capacity = 3;
    return rc ? rc : store_put_slot(txn, &k, "NBI", "PASSPORT", &slot);
}

START_TEST(test_check_of_a_backup_finds_a_slot_over_capacity)
{
    /* a backup has no index, so no places: the bookings and the slot
     * records alone must still show a slot holding more than it may */
    char *dir = tu_tempdir(), *dest = tu_tempdir();
    store_t *s = s_open(dir, 0);
    s_seed(s, 12);
    ck_assert_int_eq(store_write(s, s_shrink_t0, NULL, NULL), 0);
    problems_t p = { 0 };
    size_t n;
    ck_assert_int_eq(store_check(s, s_collect, &p, &n, NULL, NULL), 0);
    ck_assert_uint_eq(n, 1);                /* with the index: the copy of the capacity differs */
    ck_assert_msg(strstr(p.text[0], "say capacity 4, its slot record 3"), "%s", p.text[0]);
    ck_assert_int_eq(store_backup(s, dest, NULL), 0);
    store_destroy(&s);
    store_options_t ro = { .read_only = true };
    s = store_open(dest, &ro, NULL);
    ck_assert_ptr_nonnull(s);
    p = (problems_t) { 0 };
    bool compared = true;
    ck_assert_int_eq(store_check(s, s_collect, &p, &n, &compared, NULL), 0);
    ck_assert(!compared);
    ck_assert_uint_eq(n, 1);
    ck_assert_msg(strstr(p.text[0], "over capacity: 4 bookings hold places of 3"), "%s", p.text[0]);
    store_destroy(&s);
    tu_rmtree(dir);
    tu_rmtree(dest);
}
END_TEST

START_TEST(test_check_finds_each_planted_inconsistency)
{
    static const char *expect[] = {
        "does not exist", "missing from the citizen index", "over capacity",
        "does not decode", "does not match its record", "says 3 taken but 4 bookings hold places",
        "has no places record",
    };
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    s_seed(s, 12);
    ck_assert_uint_eq(s_problems(s), 0);
    int which = _i;
    ck_assert_int_eq(store_write(s, s_plant, &which, NULL), 0);
    problems_t p = { 0 };
    size_t n;
    ck_assert_int_eq(store_check(s, s_collect, &p, &n, NULL, NULL), 0);
    ck_assert_uint_eq((size_t) p.count, n);
    ck_assert_msg(n >= 1, "planted problem %d went unnoticed", which);
    bool found = false;
    for (int i = 0; i < p.count && i < 8; i++)
        found |= strstr(p.text[i], expect[which]) != NULL;
    ck_assert_msg(found, "planted %d: expected '%s', first report: %s", which, expect[which], p.text[0]);
    store_destroy(&s);
    tu_rmtree(dir);
}
END_TEST

static int
s_hold_reader(store_txn_t *txn, void *arg)
{
    (void) txn;
    int fd = *(int *) arg;
    char ready = 'r';
    if (write(fd, &ready, 1) != 1)
        return -1;
    pause();                                /* until SIGKILL */
    return 0;
}

START_TEST(test_stale_reader_of_a_killed_process_is_cleared_at_open)
{
    /* LMDB resets the reader table when the first process opens the
     * environment, so the stale slot must be found while another process
     * still has it open: a holder, plus a reader that dies mid-transaction. */
    char *dir = tu_tempdir();
    store_t *s = s_open(dir, 0);
    s_seed(s, 1);
    store_destroy(&s);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        ck_assert_int_ge(kids[k], 0);
        if (kids[k] == 0) {
            close(fds[0]);
            store_options_t ro = { .read_only = true };     /* the test's own open is the writer */
            store_t *r = store_open(dir, &ro, NULL);
            if (!r)
                _exit(3);
            if (k == 0) {                    /* the holder: open, no transaction */
                char ready = 'h';
                if (write(fds[1], &ready, 1) != 1)
                    _exit(4);
                pause();
            }
            store_read(r, s_hold_reader, &fds[1], NULL);
            _exit(0);
        }
        char ready;
        ck_assert_int_eq(read(fds[0], &ready, 1), 1);
    }
    close(fds[1]);
    kill(kids[1], SIGKILL);
    waitpid(kids[1], NULL, 0);
    s = s_open(dir, 0);
    store_stat_t st;
    ck_assert_int_eq(store_stat(s, &st, NULL), 0);
    ck_assert_uint_eq(st.stale_readers_cleared, 1);
    store_destroy(&s);
    kill(kids[0], SIGKILL);
    waitpid(kids[0], NULL, 0);
    close(fds[0]);
    tu_rmtree(dir);
}
END_TEST

/* ---- a full disk ---- */

/* Book citizens arg[0] .. arg[0] + arg[1] - 1 in one transaction. */
static int
s_book_many(store_txn_t *txn, void *arg)
{
    const unsigned *range = arg;
    int rc = 0;
    for (unsigned n = range[0]; n < range[0] + range[1] && rc == 0; n++)
        rc = s_book(txn, &n);
    return rc;
}

/* What the full-disk child does, step by step; its exit code is the step
 * that went wrong (0: none). */
enum { FD_OK, FD_NOT_REFUSED, FD_ALL_FITTED, FD_PROBLEMS, FD_UNLINK, FD_AFTER, FD_MISSING, FD_PROBLEMS_AFTER,
       FD_REOPEN };

static int
s_full_disk_child(const char *dir)
{
    char data[1024], filler[1100];
    snprintf(data, sizeof data, "%s/store", dir);
    store_t *s = s_open(data, 0);
    s_seed(s, 40);
    tu_fill_disk(dir, filler, sizeof filler);
    /* a full disk: a write either still fits (LMDB reuses its free pages)
     * or fails with an error; the writer is never killed.  One write of 500
     * bookings needs index pages beyond any page the index had. */
    fl_error_t err;
    unsigned many[2] = { 40, 500 };
    if (store_write(s, s_book_many, many, &err) == 0)
        return FD_NOT_REFUSED;
    unsigned booked = 40;
    for (unsigned n = 40; n < 2040 && store_write(s, s_book, &n, &err) == 0; n++)
        booked = n + 1;
    if (booked == 2040)
        return FD_ALL_FITTED;
    size_t problems;
    if (store_check(s, NULL, NULL, &problems, NULL, NULL) || problems)
        return FD_PROBLEMS;                         /* something half written */
    /* room again: writes go on, and everything booked is there */
    if (unlink(filler) != 0)
        return FD_UNLINK;
    for (unsigned n = booked; n < booked + 200; n++)
        if (store_write(s, s_book, &n, &err) != 0)
            return FD_AFTER;
    for (unsigned n = 0; n < booked + 200; n++)
        if (store_read(s, s_exists_index, &n, NULL) != 0)
            return FD_MISSING;
    if (store_check(s, NULL, NULL, &problems, NULL, NULL) || problems)
        return FD_PROBLEMS_AFTER;
    store_destroy(&s);
    /* a rebuild of the index on a full disk fails with an error, too */
    char index[1100];
    snprintf(index, sizeof index, "%s/citizens", data);
    tu_rmtree(index);                               /* gives its blocks back first */
    tu_fill_disk(dir, filler, sizeof filler);
    store_options_t opts = { 0 };
    s = store_open(data, &opts, &err);
    if (s || !strstr(err.message, "no room on the disk")) {
        fprintf(stderr, "full disk, open without an index: %s\n", s ? "opened" : err.message);
        return FD_REOPEN;
    }
    return FD_OK;
}

/* The citizen index is written through a memory map of a sparse file: a
 * page of it that the disk has no room for would kill the writer with
 * SIGBUS.  The store keeps room set aside ahead of the index's last page
 * (citizens_reserve), so a full disk makes a write fail with an error
 * instead, nothing half written, and the writer lives on; once there is
 * room again, writes go on.  Needs root, for a small tmpfs of its own; the
 * store's work runs in a child, so that the tmpfs is unmounted whatever
 * happens to it. */
START_TEST(test_a_full_disk_refuses_writes_and_never_kills_the_writer)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_store: the full-disk test needs root (a tmpfs mount); not run\n");
        return;
    }
    char *dir = tu_tempdir();
    if (mount("foleni-test", dir, "tmpfs", 0, "size=48m,mode=0700") != 0) {
        /* root without the right to mount (a container): say so, loudly */
        ck_assert_msg(errno == EPERM || errno == EACCES, "cannot mount a small tmpfs at %s: %s", dir,
                      strerror(errno));
        fprintf(stderr, "test_store: the full-disk test could not mount a tmpfs (%s); not run\n", strerror(errno));
        rmdir(dir);
        return;
    }
    pid_t child = fork();
    if (child == 0)
        _exit(s_full_disk_child(dir));
    int status = 0;
    pid_t waited = waitpid(child, &status, 0);
    int unmounted = umount2(dir, MNT_DETACH);
    rmdir(dir);
    ck_assert_int_eq(waited, child);
    ck_assert_msg(!WIFSIGNALED(status), "the writer was killed by signal %d", WTERMSIG(status));
    static const char *const step[] = {
        "", "a write of 500 bookings fitted on a full disk", "2,000 bookings fitted on a full disk",
        "the store has problems after the refused writes", "cannot remove the filler",
        "a booking failed after the disk had room", "a booking is missing", "the store has problems at the end",
        "opening without an index on a full disk did not fail with 'no room on the disk'" };
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    ck_assert_msg(code == FD_OK, "%s (exit %d)", code > 0 && code <= FD_REOPEN ? step[code] : "?", code);
    ck_assert_int_eq(unmounted, 0);
}
END_TEST

/* ---- the admin tool, as an operator runs it ---- */

static int
s_run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_foleni_store_tool_stat_check_dump_backup)
{
    const char *bin = getenv("FOLENI_BIN");
    ck_assert_msg(bin != NULL, "FOLENI_BIN must name the build's bin folder (tests/run-suites sets it)");
    char *dir = tu_tempdir();
    char *dest = tu_tempdir();
    store_t *s = s_open(dir, 0);
    s_seed(s, 6);
    /* the tool opens the store read-only beside this open writer */
    char cmd[1024], out[64 * 1024];
    snprintf(cmd, sizeof cmd, "%s/foleni-store --data %s stat", bin, dir);
    ck_assert_int_eq(s_run(cmd, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "entries.bookings 6\n"));
    ck_assert_ptr_nonnull(strstr(out, "schema 3\n"));
    ck_assert_ptr_nonnull(strstr(out, "entries.places 2\n"));
    snprintf(cmd, sizeof cmd, "%s/foleni-store --data %s check", bin, dir);
    ck_assert_int_eq(s_run(cmd, out, sizeof out), 0);
    ck_assert_str_eq(out, "check: 0 problems\n");
    snprintf(cmd, sizeof cmd, "%s/foleni-store --data %s dump slots bookings places", bin, dir);
    ck_assert_int_eq(s_run(cmd, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "places NBI/PASSPORT/2026-12-01T06:15:00Z {\"office\":\"NBI\",\"service\":\"PASSPORT\","
                         "\"start\":1796105700,\"capacity\":4,\"taken\":2}\n"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "slots NBI/PASSPORT/2026-12-01T06:00:00Z {\"office\":\"NBI\""));
    ck_assert_ptr_nonnull(strstr(out, "bookings R0000005 {\"ref\":\"R0000005\""));
    snprintf(cmd, sizeof cmd, "%s/foleni-store --data %s backup %s", bin, dir, dest);
    ck_assert_int_eq(s_run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s/foleni-store --data %s check", bin, dest);
    ck_assert_int_eq(s_run(cmd, out, sizeof out), 0);
    /* a problem makes check exit 1 and name it */
    int plant = 2;
    ck_assert_int_eq(store_write(s, s_plant, &plant, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s/foleni-store --data %s check", bin, dir);
    ck_assert_int_eq(s_run(cmd, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "over capacity"));
    /* usage and unreadable stores */
    snprintf(cmd, sizeof cmd, "%s/foleni-store --data %s frobnicate 2>/dev/null", bin, dir);
    ck_assert_int_eq(s_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s/foleni-store --data %s/none stat 2>&1", bin, dir);
    ck_assert_int_eq(s_run(cmd, out, sizeof out), 3);
    ck_assert_ptr_nonnull(strstr(out, "no Foleni store"));
    store_destroy(&s);
    tu_rmtree(dir);
    tu_rmtree(dest);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_keys_sort_by_time);
    tcase_add_test(tc, test_every_record_type_round_trips_through_the_store);
    tcase_add_test(tc, test_slot_records_read_and_written_directly);
    tcase_add_test(tc, test_store_records_its_schema_and_refuses_a_newer_one);
    tcase_add_test(tc, test_read_only_open_of_a_missing_store_says_so);
    tcase_add_test(tc, test_tiny_map_grows_and_completes_the_write);
    tcase_add_test(tc, test_failed_write_changes_nothing_and_nested_failure_fails_alone);
    tcase_add_test(tc, test_last_finds_the_newest_event_of_each_office);
    tcase_add_test(tc, test_sigkill_loses_no_reported_commit);
    tcase_add_test(tc, test_writer_lock_refuses_a_second_writer_and_frees_on_death);
    tcase_add_test(tc, test_backup_is_a_consistent_openable_copy);
    tcase_add_test(tc, test_citizen_index_is_trusted_after_a_clean_stop_or_a_process_crash);
    tcase_add_test(tc, test_schema_1_is_read_as_it_is_and_upgraded_by_a_writer);
    tcase_add_test(tc, test_schema_2_is_read_as_it_is_and_upgraded_by_a_writer);
    tcase_add_test(tc, test_places_are_counted_again_when_the_index_is_rebuilt);
    tcase_add_test(tc, test_nested_failure_puts_the_places_back);
    tcase_add_test(tc, test_nested_failure_puts_the_citizen_index_back);
    tcase_add_test(tc, test_citizen_index_is_rebuilt_after_a_machine_restart_or_when_stale);
    tcase_add_test(tc, test_stale_reader_of_a_killed_process_is_cleared_at_open);
    tcase_add_loop_test(tc, test_check_finds_each_planted_inconsistency, 0, 7);
    tcase_add_test(tc, test_check_of_a_backup_finds_a_slot_over_capacity);
    tcase_add_test(tc, test_foleni_store_tool_stat_check_dump_backup);
    tcase_add_test(tc, test_a_full_disk_refuses_writes_and_never_kills_the_writer);
    suite_add_tcase(s, tc);
    return s;
}
