/*  core.c — building a scheduler from its configuration, and the helpers every
 *  handler uses.  See scheduler.h and internal.h.
 */
#include "scheduler/internal.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libfoleni/log.h"
#include "store/check.h"

/* ---- configuration into the store ---- */

typedef struct {
    sched_t *sched;
} setup_t;

static int
s_put_office(store_txn_t *txn, const fl_office_t *o)
{
    fl_msg_t *rec = fl_msg_new(FL_T_OFFICE_REC);
    if (!rec)
        return FL_E_NOMEM;
    fl_msg_set_str(rec, FL_F_OFFICE, o->code);
    fl_msg_set_str(rec, FL_F_NAME, o->name.en);
    if (o->name.sw)
        fl_msg_set_str(rec, FL_F_NAME_SW, o->name.sw);
    fl_msg_set_str(rec, FL_F_TZ, o->timezone);
    fl_msg_set_empty(rec, FL_F_HOURS);
    fl_msg_set_empty(rec, FL_F_CLOSED);
    for (int d = 0; d < FL_WEEKDAYS; d++) {
        if (!o->hours[d].is_open)
            continue;
        fl_msg_t *h = fl_msg_add_item(rec, FL_F_HOURS);
        fl_msg_set_uint(h, FL_F_WEEKDAY, (uint64_t) d);
        fl_msg_set_uint(h, FL_F_OPEN, o->hours[d].opens);
        fl_msg_set_uint(h, FL_F_CLOSE, o->hours[d].closes);
    }
    for (size_t i = 0; i < o->closed_count; i++) {
        char date[11];
        fl_day_format((uint32_t) o->closed[i], date);
        fl_msg_add_str(rec, FL_F_CLOSED, date);
    }
    store_key_t k = store_key_office(o->code);
    int rc = store_put_rec(txn, STORE_DB_OFFICES, &k, rec);
    fl_msg_destroy(&rec);
    return rc;
}

static int
s_put_service(store_txn_t *txn, const fl_office_t *o, const fl_service_t *s)
{
    fl_msg_t *rec = fl_msg_new(FL_T_SERVICE_REC);
    if (!rec)
        return FL_E_NOMEM;
    char prefix[2] = { s->prefix, '\0' };
    fl_msg_set_str(rec, FL_F_OFFICE, o->code);
    fl_msg_set_str(rec, FL_F_SERVICE, s->code);
    fl_msg_set_str(rec, FL_F_PREFIX, prefix);
    fl_msg_set_str(rec, FL_F_NAME, s->name.en);
    if (s->name.sw)
        fl_msg_set_str(rec, FL_F_NAME_SW, s->name.sw);
    fl_msg_set_uint(rec, FL_F_SLOT_MINUTES, (uint64_t) s->slot_minutes);
    fl_msg_set_uint(rec, FL_F_CAPACITY, (uint64_t) s->capacity);
    fl_msg_set_uint(rec, FL_F_SERVICE_MINUTES, (uint64_t) s->service_minutes);
    fl_msg_set_uint(rec, FL_F_FEE, (uint64_t) s->fee);
    fl_msg_set_uint(rec, FL_F_HOLD_MINUTES, (uint64_t) s->hold_minutes);
    fl_msg_set_uint(rec, FL_F_EARLY_MINUTES, (uint64_t) s->checkin_early_minutes);
    fl_msg_set_uint(rec, FL_F_LATE_MINUTES, (uint64_t) s->checkin_late_minutes);
    fl_msg_set_bool(rec, FL_F_LATE_AS_WALKIN, s->late_as_walkin);
    fl_msg_set_uint(rec, FL_F_MAX_WAIT_MINUTES, (uint64_t) s->max_wait_minutes);
    if (s->bring.en)
        fl_msg_set_str(rec, FL_F_BRING, s->bring.en);
    if (s->bring.sw)
        fl_msg_set_str(rec, FL_F_BRING_SW, s->bring.sw);
    store_key_t k = store_key_service(o->code, s->code);
    int rc = store_put_rec(txn, STORE_DB_SERVICES, &k, rec);
    fl_msg_destroy(&rec);
    return rc;
}

/* Counters keep their state (open, current ticket) across a restart; their
 * services come from the configuration unless a clerk opened it with others. */
static int
s_put_counter(store_txn_t *txn, const fl_office_t *o, const fl_counter_t *c)
{
    store_key_t k = store_key_counter(o->code, (unsigned) c->number);
    fl_msg_t *rec = NULL;
    int rc = store_get_rec(txn, STORE_DB_COUNTERS, &k, FL_T_COUNTER_REC, &rec);
    if (rc && rc != FL_E_NOT_FOUND)
        return rc;
    if (rc == FL_E_NOT_FOUND) {
        if (!(rec = fl_msg_new(FL_T_COUNTER_REC)))
            return FL_E_NOMEM;
        fl_msg_set_str(rec, FL_F_OFFICE, o->code);
        fl_msg_set_uint(rec, FL_F_COUNTER, (uint64_t) c->number);
        fl_msg_set_str(rec, FL_F_STATE, "closed");
    }
    if (c->name[0])
        fl_msg_set_str(rec, FL_F_NAME, c->name);
    if (strcmp(fl_msg_str(rec, FL_F_STATE), "closed") == 0 || fl_msg_count(rec, FL_F_SERVICE_CODES) == 0) {
        fl_msg_unset(rec, FL_F_SERVICE_CODES);
        for (size_t i = 0; i < c->service_count; i++)
            fl_msg_add_str(rec, FL_F_SERVICE_CODES, c->services[i]->code);
    }
    rc = store_put_rec(txn, STORE_DB_COUNTERS, &k, rec);
    fl_msg_destroy(&rec);
    return rc;
}

static int
s_upsert(store_txn_t *txn, void *arg)
{
    sched_t *self = arg;
    const fl_config_t *cfg = self->config;
    for (size_t i = 0; i < cfg->office_count; i++) {
        const fl_office_t *o = &cfg->offices[i];
        int rc = s_put_office(txn, o);
        for (size_t s = 0; rc == 0 && s < o->service_count; s++)
            rc = s_put_service(txn, o, &o->services[s]);
        for (size_t c = 0; rc == 0 && c < o->counter_count; c++)
            rc = s_put_counter(txn, o, &o->counters[c]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Bookings whose slot the configuration no longer offers are kept, and
 * reported so that someone calls the citizen. */
static int
s_report_orphan(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    (void) key; (void) klen;
    sched_t *self = arg;
    fl_msg_t *b = fl_msg_decode_as(FL_T_BOOKING_REC, val, vlen, NULL);
    if (!b)
        return 0;
    if (store_booking_holds_place(fl_msg_str(b, FL_F_STATE))) {
        const fl_office_t *o = fl_config_office(self->config, fl_msg_str(b, FL_F_OFFICE));
        const fl_service_t *s = o ? fl_office_service(o, fl_msg_str(b, FL_F_SERVICE)) : NULL;
        const char *why = !o ? "its office is no longer configured"
                        : !s ? "its service is no longer offered there" : NULL;
        if (s) {
            int index = (int) (o - self->config->offices);
            const fl_zone_t *z = self->zones[index];
            int64_t start = (int64_t) fl_msg_uint(b, FL_F_START);
            fl_local_t lt;
            fl_zone_local(z, start, &lt);
            const fl_hours_t *h = &o->hours[lt.wday];
            int minute = lt.hour * 60 + lt.minute;
            if (!h->is_open || minute < h->opens || minute + s->slot_minutes > h->closes
                || (minute - h->opens) % s->slot_minutes != 0)
                why = "its slot is no longer offered (hours or slot length changed)";
        }
        if (why)
            fl_log(FL_LOG_WARN, "booking outside the configuration", FL_S("ref", fl_msg_str(b, FL_F_REF)),
                   FL_S("office", fl_msg_str(b, FL_F_OFFICE)), FL_S("service", fl_msg_str(b, FL_F_SERVICE)),
                   FL_U("start", fl_msg_uint(b, FL_F_START)), FL_S("reason", why), NULL);
    }
    fl_msg_destroy(&b);
    return 0;
}

static int
s_load(store_txn_t *txn, void *arg)
{
    sched_t *self = arg;
    for (size_t i = 0; i < self->config->office_count; i++) {
        const char *code = self->config->offices[i].code;
        store_key_t prefix = store_key_office(code), last;
        uint64_t *seq = calloc(1, sizeof *seq);
        if (!seq)
            return FL_E_NOMEM;
        if (store_last(txn, STORE_DB_EVENTS, &prefix, &last, NULL, NULL) == 0)
            *seq = store_be_get(last.b + STORE_CODE_WIDTH, 8);
        zhashx_insert(self->seq, code, seq);
    }
    self->older_events_left = true;     /* the first tick looks, once per office */
    self->purge_per_tick = SCHED_PURGE_PER_TICK;
    return store_scan(txn, STORE_DB_BOOKINGS, NULL, NULL, s_report_orphan, self);
}

static void
s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

sched_t *
sched_new(store_t *store, const fl_config_t *config, const uint8_t *secret, size_t secret_len,
          const sched_auth_t *auth, int64_t now, fl_error_t *err)
{
    (void) now;
    if (secret_len < SCHED_SECRET_MIN || secret_len > SCHED_SECRET_MAX) {
        fl_error_set(err, FL_E_INVALID, "secret", "the ID-hashing secret must be %d..%d bytes",
                     SCHED_SECRET_MIN, SCHED_SECRET_MAX);
        return NULL;
    }
    if (sodium_init() < 0) {
        fl_error_set(err, FL_E_IO, "", "libsodium failed to start");
        return NULL;
    }
    sched_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->store = store;
    self->config = config;
    memcpy(self->secret, secret, secret_len);
    self->secret_len = secret_len;
    self->ref_lead = randombytes_uniform(SCHED_REF_LEADS);
    /* key the HMAC once: its two padded-key blocks are the same for every hash */
    crypto_auth_hmacsha256_init(&self->id_mac, self->secret, self->secret_len);
    self->seq = zhashx_new();
    self->averages = zhashx_new();
    self->roles = zhashx_new();
    if (self->roles)
        zhashx_set_destructor(self->roles, s_free_item);
    zhashx_set_destructor(self->seq, s_free_item);
    zhashx_set_destructor(self->averages, s_free_item);
    self->zones = calloc(config->office_count ? config->office_count : 1, sizeof *self->zones);
    if (!self->seq || !self->averages || !self->zones || !self->roles) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        goto fail;
    }
    if (auth)
        self->auth = *auth;
    /* A missing folder must not read as an empty one: a typo would start a
     * scheduler that refuses every counter.  Say so instead. */
    const char *dirs[2][2] = { { self->auth.counter_keys_dir, "counter_keys" },
                               { self->auth.admin_keys_dir, "admin_keys" } };
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (dirs[i][0] && (stat(dirs[i][0], &st) != 0 || !S_ISDIR(st.st_mode))) {
            fl_error_set(err, FL_E_IO, dirs[i][1], "%s: no such folder of %s certificates", dirs[i][0],
                         i == 0 ? "counter" : "administrator");
            goto fail;
        }
    }
    fl_error_t why;
    if (self->auth.counter_keys_dir && !(self->counter_keys = fl_certdir_new(self->auth.counter_keys_dir, &why))) {
        fl_error_set(err, FL_E_IO, "counter_keys", "cannot read counter certificates: %s", why.message);
        goto fail;
    }
    if (self->auth.admin_keys_dir && !(self->admin_keys = fl_certdir_new(self->auth.admin_keys_dir, &why))) {
        fl_error_set(err, FL_E_IO, "admin_keys", "cannot read admin certificates: %s", why.message);
        goto fail;
    }
    for (size_t i = 0; i < config->office_count; i++) {
        if (!(self->zones[i] = fl_zone_new(config->offices[i].timezone, err)))
            goto fail;
        for (size_t s = 0; s < config->offices[i].service_count; s++) {
            const fl_service_t *sv = &config->offices[i].services[s];
            fl_service_avg_t *avg = calloc(1, sizeof *avg);
            if (!avg)
                goto fail;
            char key[32];
            snprintf(key, sizeof key, "%s/%s", config->offices[i].code, sv->code);
            zhashx_insert(self->averages, key, avg);
        }
    }
    int rc = store_write(store, s_upsert, self, err);
    if (rc == 0)
        rc = store_read(store, s_load, self, err);
    if (rc) {
        if (rc != FL_E_STORE)
            fl_error_set(err, rc, "", "the configuration could not be written to the store (%s)", fl_error_name(rc));
        goto fail;
    }
    return self;
fail:
    sched_destroy(&self);
    return NULL;
}

void
sched_destroy(sched_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sched_t *self = *self_p;
    if (self->zones)
        for (size_t i = 0; i < self->config->office_count; i++)
            fl_zone_destroy(&self->zones[i]);
    free(self->zones);
    zhashx_destroy(&self->seq);
    zhashx_destroy(&self->averages);
    zhashx_destroy(&self->roles);
    fl_certdir_destroy(&self->counter_keys);
    fl_certdir_destroy(&self->admin_keys);
    sodium_memzero(self->secret, sizeof self->secret);
    sodium_memzero(&self->id_mac, sizeof self->id_mac);
    free(self);
    *self_p = NULL;
}

/* ---- identities ---- */

/* What a CURVE key may do.  A certificate folder is listed on every lookup
 * (libfoleni/certdir.h), so answers are remembered for SCHED_ROLE_CACHE_MS:
 * a key added or removed takes effect within seconds without a folder
 * listing per request. */
#define SCHED_ROLE_CACHE_MS 5000
#define SCHED_ROLE_CACHE_MAX 4096

typedef struct {
    sched_role_t role;
    sched_binding_t binding;
    int64_t until;
} role_entry_t;

/* Read a counter certificate's binding.  A certificate whose metadata names
 * an office that is not a code, or a counter that is not 1..999, binds to
 * nothing valid: such a key is not taken as a counter's at all, rather than
 * as one that may operate every counter. */
static bool
s_cert_binding(zcert_t *cert, sched_binding_t *out)
{
    memset(out, 0, sizeof *out);
    const char *office = zcert_meta(cert, "office"), *counter = zcert_meta(cert, "counter");
    if (office && *office) {
        size_t len = strlen(office);
        if (len >= sizeof out->office || strspn(office, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != len)
            return false;
        memcpy(out->office, office, len + 1);
    }
    if (counter && *counter) {
        char *end;
        unsigned long n = strtoul(counter, &end, 10);
        if (!out->office[0] || *end || n < 1 || n > 999)
            return false;                   /* a counter number means nothing without its office */
        out->counter = (unsigned) n;
    }
    return true;
}

static sched_role_t
s_key_role(const sched_t *self, const char *caller, sched_binding_t *binding)
{
    sched_t *me = (sched_t *) self;             /* the cache is not part of what callers see */
    int64_t now = zclock_mono();
    role_entry_t *e = zhashx_lookup(me->roles, caller);
    if (e && e->until > now) {
        *binding = e->binding;
        return e->role;
    }
    sched_role_t role = SCHED_ROLE_PUBLIC;
    memset(binding, 0, sizeof *binding);
    zcert_t *cert;
    if (self->admin_keys && fl_certdir_lookup(self->admin_keys, caller))
        role = SCHED_ROLE_ADMIN;
    else if (self->counter_keys && (cert = fl_certdir_lookup(self->counter_keys, caller))) {
        if (s_cert_binding(cert, binding))
            role = SCHED_ROLE_COUNTER;
        else
            fl_log(FL_LOG_WARN, "counter certificate with a bad office or counter: not taken as a counter's",
                   FL_S("key", caller), NULL);
    }
    if (!e) {
        if (zhashx_size(me->roles) >= SCHED_ROLE_CACHE_MAX)
            zhashx_purge(me->roles);
        if (!(e = calloc(1, sizeof *e)))
            return role;
        zhashx_insert(me->roles, caller, e);
    }
    e->role = role;
    e->binding = *binding;
    e->until = now + SCHED_ROLE_CACHE_MS;
    return role;
}

sched_role_t
sched_role_of(const sched_t *self, const char *caller, const char *token, sched_binding_t *binding)
{
    sched_binding_t ignored;
    if (!binding)
        binding = &ignored;
    memset(binding, 0, sizeof *binding);
    if (caller && *caller && (self->admin_keys || self->counter_keys)) {
        sched_role_t role = s_key_role(self, caller, binding);
        if (role != SCHED_ROLE_PUBLIC)
            return role;
    }
    if (token && *token) {
        if (self->auth.admin_token && strlen(token) == strlen(self->auth.admin_token)
            && sodium_memcmp(token, self->auth.admin_token, strlen(token)) == 0)
            return SCHED_ROLE_ADMIN;
        if (self->auth.counter_token && strlen(token) == strlen(self->auth.counter_token)
            && sodium_memcmp(token, self->auth.counter_token, strlen(token)) == 0)
            return SCHED_ROLE_COUNTER;
    }
    return SCHED_ROLE_PUBLIC;
}

int
sched_require(op_t *op, sched_role_t need)
{
    if (op->role >= need)
        return 0;
    return sched_fail(op, FL_E_FORBIDDEN, "token", need == SCHED_ROLE_ADMIN
                      ? "only an administrator may do this" : "only a counter may do this");
}

/* ---- helpers ---- */

int
sched_fail(op_t *op, int code, const char *field, const char *fmt, ...)
{
    op->err.code = code;
    snprintf(op->err.field, sizeof op->err.field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->err.message, sizeof op->err.message, fmt, ap);
    va_end(ap);
    return code;
}

const fl_office_t *
sched_office(op_t *op, const char *code, int *index)
{
    const fl_office_t *o = code ? fl_config_office(op->batch->sched->config, code) : NULL;
    if (!o) {
        sched_fail(op, FL_E_NOT_FOUND, "office", "there is no office %s", code ? code : "");
        return NULL;
    }
    if (index)
        *index = (int) (o - op->batch->sched->config->offices);
    return o;
}

const fl_service_t *
sched_service(op_t *op, const fl_office_t *office, const char *code)
{
    const fl_service_t *s = code ? fl_office_service(office, code) : NULL;
    if (!s)
        sched_fail(op, FL_E_NOT_FOUND, "service", "office %s does not offer service %s", office->code,
                   code ? code : "");
    return s;
}

const fl_zone_t *
sched_zone(const sched_t *self, int office_index)
{
    return self->zones[office_index];
}

void
sched_id_hash(const sched_t *self, const char *id_type, const char *number, uint8_t out[32])
{
    crypto_auth_hmacsha256_state st = self->id_mac;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) id_type, strlen(id_type));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) ":", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) number, strlen(number));
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

fl_msg_t *
sched_emit(op_t *op, const char *office, const char *kind)
{
    if (op->nevents >= (int) (sizeof op->events / sizeof op->events[0]))
        return NULL;
    fl_msg_t *e = fl_msg_new(FL_T_EVENT);
    if (!e)
        return NULL;
    fl_msg_set_str(e, FL_F_OFFICE, office);
    fl_msg_set_str(e, FL_F_KIND, kind);
    op->events[op->nevents++] = e;
    return e;
}

void
sched_sample(op_t *op, const char *office, const char *service, double seconds)
{
    sched_sample_t *s = calloc(1, sizeof *s);
    if (!s)
        return;
    snprintf(s->key, sizeof s->key, "%s/%s", office, service);
    s->seconds = seconds;
    zlistx_add_end(op->batch->samples, s);
}

const fl_service_avg_t *
sched_average(const sched_t *self, const char *office, const char *service)
{
    char key[32];
    snprintf(key, sizeof key, "%s/%s", office, service);
    return zhashx_lookup(self->averages, key);
}

bool
sched_office_open(const sched_t *self, const fl_office_t *office, int office_index, int64_t now)
{
    fl_local_t lt;
    fl_zone_local(self->zones[office_index], now, &lt);
    uint32_t day = (uint32_t) (lt.year * 10000 + lt.month * 100 + lt.day);
    for (size_t i = 0; i < office->closed_count; i++)
        if ((uint32_t) office->closed[i] == day)
            return false;
    const fl_hours_t *h = &office->hours[lt.wday];
    int minute = lt.hour * 60 + lt.minute;
    return h->is_open && minute >= h->opens && minute < h->closes;
}
