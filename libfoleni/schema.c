/*  schema.c — which fields each message, item and record takes.  See schema.h.
 *
 *  R(x) is a required field, O(x) an optional one.  Requests that change state
 *  require `rid` (request id) so a retry is recognised; counter and admin
 *  requests take an optional `token`, the demo's stand-in for a CURVE identity.
 *  Keep docs/protocol.md in step with this file.
 */
#include "libfoleni/schema.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

#define R(f) { FL_F_##f, true }
#define O(f) { FL_F_##f, false }
#define USES(name, ...) static const fl_use_t s_##name[] = { __VA_ARGS__ }

/* ---- requests ---- */
USES(list_offices,  O(TOKEN));
USES(list_services, R(OFFICE), O(TOKEN));
USES(availability,  R(OFFICE), R(SERVICE), R(FROM), R(DAYS));
USES(book,          R(RID), R(OFFICE), R(SERVICE), R(START), R(NAME), R(ID_TYPE), R(ID_NUMBER),
                    R(PHONE), O(TOKEN));
USES(view,          R(REF), R(ID_NUMBER));
USES(cancel,        R(RID), R(REF), R(ID_NUMBER));
USES(reschedule,    R(RID), R(REF), R(ID_NUMBER), R(START));
USES(walkin,        R(RID), R(OFFICE), R(SERVICE), R(PRIORITY), O(TOKEN));
USES(checkin,       R(RID), R(OFFICE), R(REF), O(TOKEN));
USES(counter_open,  R(RID), R(OFFICE), R(COUNTER), R(SERVICE_CODES), O(TOKEN));
USES(counter_only,  R(RID), R(OFFICE), R(COUNTER), O(TOKEN));      /* pause, close, next */
USES(on_ticket,     R(RID), R(OFFICE), R(COUNTER), O(TICKET), O(TOKEN)); /* recall, start, done, noshow */
USES(transfer,      R(RID), R(OFFICE), R(COUNTER), O(TICKET), O(TO_SERVICE), O(TO_COUNTER), O(TOKEN));
USES(snapshot,      R(OFFICE));
USES(stats,         R(OFFICE), R(DAY), O(TOKEN));

/* ---- replies ---- */
USES(error,         R(CODE), R(MESSAGE), O(FIELD));
USES(office_list,   R(OFFICES));
USES(service_list,  R(OFFICE), R(SERVICES), O(COUNTERS));
USES(slot_list,     R(OFFICE), R(SERVICE), R(SLOT_MINUTES), R(SLOTS));
USES(booking,       R(REF), R(OFFICE), R(SERVICE), R(START), R(END), R(STATE), R(NAME), O(PHONE),
                    O(EXPIRES), O(FEE), O(TICKET));
USES(ticket,        R(OFFICE), R(SERVICE), R(TICKET), R(DAY), R(STATE), R(PRIORITY), R(ISSUED),
                    O(KIND), O(REF), O(COUNTER), O(CALLED), O(POSITION), O(WAIT_S));
USES(counter_state, R(OFFICE), R(COUNTER), R(STATE), R(SERVICE_CODES), O(TICKET));
USES(board,         R(OFFICE), R(SEQ), R(AT), R(SERVING), R(RECENT), R(QUEUES));
USES(day_stats,     R(OFFICE), R(DAY), R(BY_SERVICE), R(BY_COUNTER));

/* ---- events: `kind` says what happened; the rest depends on it ---- */
USES(event,         R(OFFICE), R(SEQ), R(AT), R(KIND), O(SERVICE), O(TICKET), O(COUNTER),
                    O(STATE), O(REF), O(WAITING), O(WAIT_S), O(TO_SERVICE), O(TO_COUNTER));

/* ---- list items ---- */
USES(office_item,   R(OFFICE), R(NAME), O(NAME_SW), R(TZ));
USES(service_item,  R(SERVICE), R(PREFIX), R(NAME), O(NAME_SW), R(SLOT_MINUTES), R(CAPACITY),
                    R(SERVICE_MINUTES), O(FEE), O(BRING), O(BRING_SW));
USES(counter_item,  R(COUNTER), O(NAME), R(SERVICE_CODES), O(STATE));
USES(hours,         R(WEEKDAY), R(OPEN), R(CLOSE));
USES(slot_item,     R(START), R(FREE));
USES(call_item,     R(TICKET), R(COUNTER), R(SERVICE), R(AT), O(CALLS));
USES(queue_item,    R(SERVICE), R(WAITING), R(WAIT_S), R(OPEN_COUNTERS));
USES(service_stats_item, R(SERVICE), R(SERVED), R(NOSHOWS), R(UNSERVED), R(AVG_WAIT_S), R(P95_WAIT_S),
                    R(AVG_SERVICE_S));
USES(counter_stats_item, R(COUNTER), R(SERVED), R(BUSY_S));

/* ---- store records ---- */
USES(office_rec,    R(OFFICE), R(NAME), O(NAME_SW), R(TZ), R(HOURS), R(CLOSED));
USES(service_rec,   R(OFFICE), R(SERVICE), R(PREFIX), R(NAME), O(NAME_SW), R(SLOT_MINUTES),
                    R(CAPACITY), R(SERVICE_MINUTES), R(FEE), R(HOLD_MINUTES), R(EARLY_MINUTES),
                    R(LATE_MINUTES), R(LATE_AS_WALKIN), R(MAX_WAIT_MINUTES), O(BRING), O(BRING_SW));
USES(counter_rec,   R(OFFICE), R(COUNTER), O(NAME), R(SERVICE_CODES), R(STATE), O(TICKET), O(DAY));
USES(slot_rec,      R(OFFICE), R(SERVICE), R(START), R(END), R(CAPACITY), R(TAKEN));
USES(booking_rec,   R(REF), R(OFFICE), R(SERVICE), R(START), R(END), R(STATE), R(NAME),
                    R(ID_TYPE), R(ID_HASH), O(PHONE), R(CREATED), O(EXPIRES), O(FEE), O(TICKET));
USES(ticket_rec,    R(OFFICE), R(DAY), R(PREFIX), R(NUMBER), R(TICKET), R(SERVICE), R(KIND),
                    R(PRIORITY), R(STATE), R(ISSUED), O(REF), O(START), O(COUNTER), O(TO_COUNTER),
                    O(CALLED), O(STARTED), O(FINISHED), O(CALLS));
USES(idem_rec,      R(RID), R(EXPIRES), R(REQUEST_HASH), R(REPLY));
USES(meta_rec,      R(SCHEMA), R(CREATED));

#define FL_X_FIELD(e, nm, k, l, h, f, it) \
    [FL_F_##e] = { .name = nm, .len = sizeof nm - 1, .kind = FL_K_##k, .lo = (l), .hi = (h), .format = FL_FMT_##f, .item = FL_T_##it },
static const fl_field_spec_t s_fields[FL_F__COUNT] = { FL_FIELDS(FL_X_FIELD) };

#define COUNT(a) ((int) (sizeof(a) / sizeof((a)[0])))
#define FL_X_TYPE(e, nm, rl, list) \
    [FL_T_##e] = { .name = nm, .len = sizeof nm - 1, .role = FL_ROLE_##rl, .uses = s_##list, .nuses = COUNT(s_##list) },
static const fl_type_spec_t s_types[FL_T__COUNT] = { FL_TYPES(FL_X_TYPE) };

const fl_field_spec_t *
fl_schema_field(fl_field_t field)
{
    assert(field >= 0 && field < FL_F__COUNT);
    return &s_fields[field];
}

const fl_type_spec_t *
fl_schema_type(fl_type_t type)
{
    assert(type >= 0 && type < FL_T__COUNT);
    assert(s_types[type].name);          /* every type has an entry above */
    return &s_types[type];
}

fl_type_t
fl_schema_type_by_name(const char *name, size_t len)
{
    for (int t = 0; t < FL_T__COUNT; t++) {
        const fl_type_spec_t *spec = &s_types[t];
        if (spec->role > FL_ROLE_EVENT)
            continue;
        if (spec->len == len && memcmp(spec->name, name, len) == 0)
            return (fl_type_t) t;
    }
    return FL_T_NONE;
}

int
fl_schema_field_by_name(const char *name, size_t len)
{
    for (int f = 0; f < FL_F__COUNT; f++)
        if (s_fields[f].len == len && memcmp(s_fields[f].name, name, len) == 0)
            return f;
    return -1;
}

/* Which use of each type each field is, or -1: a table rather than a scan,
 * since every getter and setter asks.  Types take at most 127 fields. */
static int8_t s_use_of[FL_T__COUNT][FL_F__COUNT];
static pthread_once_t s_use_once = PTHREAD_ONCE_INIT;

static void
s_use_build(void)
{
    memset(s_use_of, -1, sizeof s_use_of);
    for (int t = 0; t < FL_T__COUNT; t++) {
        assert(s_types[t].nuses < 128);
        for (int i = 0; i < s_types[t].nuses; i++)
            s_use_of[t][s_types[t].uses[i].field] = (int8_t) i;
    }
}

int
fl_schema_use_index(fl_type_t type, fl_field_t field)
{
    assert(type >= 0 && type < FL_T__COUNT && field >= 0 && field < FL_F__COUNT);
    pthread_once(&s_use_once, s_use_build);
    return s_use_of[type][field];
}

int
fl_schema_use_by_name(fl_type_t type, const char *name, size_t len)
{
    const fl_type_spec_t *spec = fl_schema_type(type);
    if (len == 0)
        return -1;
    /* a type takes a handful of fields: compare lengths and first bytes, which
     * settles almost every candidate without a memcmp */
    for (int i = 0; i < spec->nuses; i++) {
        const fl_field_spec_t *f = &s_fields[spec->uses[i].field];
        if (f->len == len && f->name[0] == name[0] && memcmp(f->name, name, len) == 0)
            return i;
    }
    return -1;
}

bool
fl_schema_is_mutating(fl_type_t type)
{
    return fl_schema_type(type)->role == FL_ROLE_REQUEST && fl_schema_use_index(type, FL_F_RID) >= 0;
}
