/*  schema.h — every message and record Foleni sends or stores, as data.
 *
 *  A message is one msgpack map.  Top-level messages carry `v` (the protocol
 *  version, FL_PROTOCOL_VERSION) and `type` (the names below); list items and
 *  store records are plain maps of fields.  Each field has one name, one kind
 *  and one set of bounds everywhere it appears, listed once in FL_FIELDS; each
 *  type lists which fields it takes and which of those are required
 *  (schema.c).  The codec (msg.h) enforces both when encoding and decoding, so
 *  nothing Foleni emits could be refused by Foleni, and nothing malformed gets
 *  in.  docs/protocol.md describes each message in prose; a test checks that
 *  every type named here is described there.
 */
#ifndef FOLENI_SCHEMA_H
#define FOLENI_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libfoleni/wire.h"

#define FL_PROTOCOL_VERSION 1

/* Kinds of field value. */
typedef enum {
    FL_K_UINT,      /* unsigned integer, lo..hi */
    FL_K_BOOL,
    FL_K_STR,       /* UTF-8 text of lo..hi bytes, checked against a format */
    FL_K_BIN,       /* bytes, lo..hi long */
    FL_K_STRS,      /* list of lo..hi strings, each checked like FL_F_ITEM_TEXT */
    FL_K_LIST,      /* list of lo..hi items of one item type */
} fl_kind_t;

/* Formats a string field must match (beyond valid UTF-8). */
typedef enum {
    FL_FMT_TEXT,    /* any UTF-8 without control characters */
    FL_FMT_ASCII,   /* printable ASCII, no spaces */
    FL_FMT_CODE,    /* A-Z, 0-9 */
    FL_FMT_WORD,    /* a-z, 0-9, '_' (enumerations such as states) */
    FL_FMT_DATE,    /* YYYY-MM-DD, a real calendar date */
} fl_format_t;

#define FL_T_MAX_SECONDS  UINT64_C(17179869183)   /* 2^34-1: year 2514; times are UTC seconds */

/*  X(ENUM, "wire name", kind, lo, hi, format, item type)  — one line per field.
 *  For strings, binaries and lists lo..hi bound the length or count; for
 *  numbers they bound the value. */
#define FL_FIELDS(X) \
    /* envelope and errors */ \
    X(V,             "v",              UINT, 1, 255, TEXT, NONE) \
    X(TYPE,          "type",           STR,  1, 24,  WORD, NONE) \
    X(RID,           "rid",            STR,  8, 64,  ASCII, NONE) \
    X(TOKEN,         "token",          STR,  1, 128, ASCII, NONE) \
    X(CODE,          "code",           STR,  1, 24,  WORD, NONE) \
    X(MESSAGE,       "message",        STR,  0, 255, TEXT, NONE) \
    X(FIELD,         "field",          STR,  0, 95,  TEXT, NONE) \
    /* places and services */ \
    X(OFFICE,        "office",         STR,  2, 8,   CODE, NONE) \
    X(SERVICE,       "service",        STR,  1, 8,   CODE, NONE) \
    X(COUNTER,       "counter",        UINT, 1, 999, TEXT, NONE) \
    X(NAME,          "name",           STR,  1, 80,  TEXT, NONE) \
    X(NAME_SW,       "name_sw",        STR,  0, 80,  TEXT, NONE) \
    X(TZ,            "tz",             STR,  1, 64,  ASCII, NONE) \
    X(HOURS,         "hours",          LIST, 0, 7,   TEXT, HOURS) \
    X(WEEKDAY,       "weekday",        UINT, 0, 6,   TEXT, NONE) \
    X(OPEN,          "open",           UINT, 0, 1440, TEXT, NONE) \
    X(CLOSE,         "close",          UINT, 0, 1440, TEXT, NONE) \
    X(CLOSED,        "closed",         STRS, 0, 366, DATE, NONE) \
    X(PREFIX,        "prefix",         STR,  1, 1,   CODE, NONE) \
    X(SLOT_MINUTES,  "slot_minutes",   UINT, 5, 240, TEXT, NONE) \
    X(CAPACITY,      "capacity",       UINT, 0, 1000, TEXT, NONE) \
    X(SERVICE_MINUTES,"service_minutes",UINT, 1, 240, TEXT, NONE) \
    X(FEE,           "fee",            UINT, 0, 1000000, TEXT, NONE) \
    X(HOLD_MINUTES,  "hold_minutes",   UINT, 1, 1440, TEXT, NONE) \
    X(EARLY_MINUTES, "early_minutes",  UINT, 0, 240, TEXT, NONE) \
    X(LATE_MINUTES,  "late_minutes",   UINT, 0, 240, TEXT, NONE) \
    X(LATE_AS_WALKIN,"late_as_walkin", BOOL, 0, 1,   TEXT, NONE) \
    X(MAX_WAIT_MINUTES,"max_wait_minutes",UINT, 5, 1440, TEXT, NONE) \
    X(BRING,         "bring",          STR,  0, 240, TEXT, NONE) \
    X(BRING_SW,      "bring_sw",       STR,  0, 240, TEXT, NONE) \
    X(SERVICE_CODES, "service_codes",  STRS, 1, 64,  CODE, NONE) \
    X(OFFICES,       "offices",        LIST, 0, 2000, TEXT, OFFICE_ITEM) \
    X(SERVICES,      "services",       LIST, 0, 64,  TEXT, SERVICE_ITEM) \
    X(COUNTERS,      "counters",       LIST, 0, 256, TEXT, COUNTER_ITEM) \
    /* slots and bookings */ \
    X(FROM,          "from",           STR,  10, 10, DATE, NONE) \
    X(DAYS,          "days",           UINT, 1, 62,  TEXT, NONE) \
    X(START,         "start",          UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    X(END,           "end",            UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    X(FREE,          "free",           UINT, 0, 1000, TEXT, NONE) \
    X(TAKEN,         "taken",          UINT, 0, 1000, TEXT, NONE) \
    X(SLOTS,         "slots",          LIST, 0, 8192, TEXT, SLOT_ITEM) \
    X(REF,           "ref",            STR,  4, 16,  ASCII, NONE) \
    X(ID_TYPE,       "id_type",        STR,  1, 16,  WORD, NONE) \
    X(ID_NUMBER,     "id_number",      STR,  1, 20,  ASCII, NONE) \
    X(ID_HASH,       "id_hash",        BIN,  32, 32, TEXT, NONE) \
    X(PHONE,         "phone",          STR,  4, 16,  ASCII, NONE) \
    X(STATE,         "state",          STR,  1, 16,  WORD, NONE) \
    X(CREATED,       "created",        UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    X(EXPIRES,       "expires",        UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    /* tickets and calls */ \
    X(TICKET,        "ticket",         STR,  3, 16,  ASCII, NONE) \
    X(NUMBER,        "number",         UINT, 1, 9999, TEXT, NONE) \
    X(DAY,           "day",            UINT, 19700101, 99991231, TEXT, NONE) \
    X(KIND,          "kind",           STR,  1, 16,  WORD, NONE) \
    X(PRIORITY,      "priority",       STR,  1, 16,  WORD, NONE) \
    X(ISSUED,        "issued",         UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    X(CALLED,        "called",         UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    X(STARTED,       "started",        UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    X(FINISHED,      "finished",       UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    X(CALLS,         "calls",          UINT, 0, 255, TEXT, NONE) \
    X(TO_SERVICE,    "to_service",     STR,  1, 8,   CODE, NONE) \
    X(TO_COUNTER,    "to_counter",     UINT, 1, 999, TEXT, NONE) \
    X(POSITION,      "position",       UINT, 0, 100000, TEXT, NONE) \
    X(WAIT_S,        "wait_s",         UINT, 0, 10000000, TEXT, NONE) \
    X(WAITING,       "waiting",        UINT, 0, 100000, TEXT, NONE) \
    X(OPEN_COUNTERS, "open_counters",  UINT, 0, 999, TEXT, NONE) \
    X(SERVING,       "serving",        LIST, 0, 999, TEXT, CALL_ITEM) \
    X(RECENT,        "recent",         LIST, 0, 64,  TEXT, CALL_ITEM) \
    X(QUEUES,        "queues",         LIST, 0, 64,  TEXT, QUEUE_ITEM) \
    /* events and statistics */ \
    X(SEQ,           "seq",            UINT, 0, UINT64_MAX, TEXT, NONE) \
    X(AT,            "at",             UINT, 0, FL_T_MAX_SECONDS, TEXT, NONE) \
    X(SERVED,        "served",         UINT, 0, 1000000, TEXT, NONE) \
    X(NOSHOWS,       "noshows",        UINT, 0, 1000000, TEXT, NONE) \
    X(UNSERVED,      "unserved",       UINT, 0, 1000000, TEXT, NONE) \
    X(AVG_WAIT_S,    "avg_wait_s",     UINT, 0, 10000000, TEXT, NONE) \
    X(P95_WAIT_S,    "p95_wait_s",     UINT, 0, 10000000, TEXT, NONE) \
    X(AVG_SERVICE_S, "avg_service_s",  UINT, 0, 10000000, TEXT, NONE) \
    X(BUSY_S,        "busy_s",         UINT, 0, 10000000, TEXT, NONE) \
    X(BY_SERVICE,    "by_service",     LIST, 0, 64,  TEXT, SERVICE_STATS_ITEM) \
    X(BY_COUNTER,    "by_counter",     LIST, 0, 256, TEXT, COUNTER_STATS_ITEM) \
    /* store-only */ \
    X(REPLY,         "reply",          BIN,  0, FL_WIRE_MAX_BYTES, TEXT, NONE) \
    X(REQUEST_HASH,  "request_hash",   BIN,  32, 32, TEXT, NONE) \
    X(SCHEMA,        "schema",         UINT, 1, 65535, TEXT, NONE)

/*  X(ENUM, "wire type", role, fields) — one line per message, list item or
 *  record; `fields` names the list of fields in schema.c. */
#define FL_TYPES(X) \
    /* requests (client -> scheduler) */ \
    X(LIST_OFFICES, "list_offices", REQUEST, list_offices) \
    X(LIST_SERVICES, "list_services", REQUEST, list_services) \
    X(AVAILABILITY, "availability", REQUEST, availability) \
    X(BOOK, "book", REQUEST, book) \
    X(VIEW, "view", REQUEST, view) \
    X(CANCEL, "cancel", REQUEST, cancel) \
    X(RESCHEDULE, "reschedule", REQUEST, reschedule) \
    X(WALKIN, "walkin", REQUEST, walkin) \
    X(CHECKIN, "checkin", REQUEST, checkin) \
    X(COUNTER_OPEN, "counter_open", REQUEST, counter_open) \
    X(COUNTER_PAUSE, "counter_pause", REQUEST, counter_only) \
    X(COUNTER_CLOSE, "counter_close", REQUEST, counter_only) \
    X(NEXT, "next", REQUEST, counter_only) \
    X(RECALL, "recall", REQUEST, on_ticket) \
    X(START, "start", REQUEST, on_ticket) \
    X(DONE, "done", REQUEST, on_ticket) \
    X(NOSHOW, "noshow", REQUEST, on_ticket) \
    X(TRANSFER, "transfer", REQUEST, transfer) \
    X(SNAPSHOT, "snapshot", REQUEST, snapshot) \
    X(STATS, "stats", REQUEST, stats) \
    /* replies (scheduler -> client) */ \
    X(ERROR, "error", REPLY, error) \
    X(OFFICE_LIST, "office_list", REPLY, office_list) \
    X(SERVICE_LIST, "service_list", REPLY, service_list) \
    X(SLOT_LIST, "slot_list", REPLY, slot_list) \
    X(BOOKING, "booking", REPLY, booking) \
    X(TICKET, "ticket", REPLY, ticket) \
    X(COUNTER_STATE, "counter_state", REPLY, counter_state) \
    X(BOARD, "board", REPLY, board) \
    X(DAY_STATS, "day_stats", REPLY, day_stats) \
    /* events (scheduler -> event bus) */ \
    X(EVENT, "event", EVENT, event) \
    /* list items (inside messages) */ \
    X(OFFICE_ITEM, "office_item", ITEM, office_item) \
    X(SERVICE_ITEM, "service_item", ITEM, service_item) \
    X(COUNTER_ITEM, "counter_item", ITEM, counter_item) \
    X(HOURS, "hours", ITEM, hours) \
    X(SLOT_ITEM, "slot_item", ITEM, slot_item) \
    X(CALL_ITEM, "call_item", ITEM, call_item) \
    X(QUEUE_ITEM, "queue_item", ITEM, queue_item) \
    X(SERVICE_STATS_ITEM, "service_stats_item", ITEM, service_stats_item) \
    X(COUNTER_STATS_ITEM, "counter_stats_item", ITEM, counter_stats_item) \
    /* store records (values in the LMDB databases; see store/records.h) */ \
    X(OFFICE_REC, "office_rec", RECORD, office_rec) \
    X(SERVICE_REC, "service_rec", RECORD, service_rec) \
    X(COUNTER_REC, "counter_rec", RECORD, counter_rec) \
    X(SLOT_REC, "slot_rec", RECORD, slot_rec) \
    X(BOOKING_REC, "booking_rec", RECORD, booking_rec) \
    X(TICKET_REC, "ticket_rec", RECORD, ticket_rec) \
    X(IDEM_REC, "idem_rec", RECORD, idem_rec) \
    X(META_REC, "meta_rec", RECORD, meta_rec)

#define FL_X_ENUM_FIELD(e, name, kind, lo, hi, fmt, item) FL_F_##e,
typedef enum { FL_FIELDS(FL_X_ENUM_FIELD) FL_F__COUNT } fl_field_t;
#undef FL_X_ENUM_FIELD

#define FL_X_ENUM_TYPE(e, name, role, uses) FL_T_##e,
typedef enum { FL_T_NONE = -1, FL_TYPES(FL_X_ENUM_TYPE) FL_T__COUNT } fl_type_t;
#undef FL_X_ENUM_TYPE

typedef enum {
    FL_ROLE_REQUEST,  /* top-level, has v and type */
    FL_ROLE_REPLY,    /* top-level, has v and type */
    FL_ROLE_EVENT,    /* top-level, has v and type */
    FL_ROLE_ITEM,     /* element of a list field */
    FL_ROLE_RECORD,   /* value stored in the LMDB store */
} fl_role_t;

/* How a field is declared (one per field, from FL_FIELDS). */
typedef struct {
    const char *name;
    size_t      len;        /* strlen(name), fixed at build time */
    fl_kind_t   kind;
    uint64_t    lo, hi;
    fl_format_t format;
    fl_type_t   item;       /* for FL_K_LIST: the item type */
} fl_field_spec_t;

/* A field's use in one type. */
typedef struct {
    fl_field_t field;
    bool       required;
} fl_use_t;

/* How a type is declared. */
typedef struct {
    const char     *name;
    size_t          len;    /* strlen(name) */
    fl_role_t       role;
    const fl_use_t *uses;   /* fields this type takes */
    int             nuses;
} fl_type_spec_t;

/*  The declaration of a field or type.  Both assert the argument is in range. */
const fl_field_spec_t *fl_schema_field(fl_field_t field);
const fl_type_spec_t  *fl_schema_type(fl_type_t type);

/*  The type with this wire name among top-level messages (requests, replies,
 *  events), or FL_T_NONE.  name need not be NUL-terminated. */
fl_type_t fl_schema_type_by_name(const char *name, size_t len);

/*  The field with this wire name, or -1.  name need not be NUL-terminated. */
int fl_schema_field_by_name(const char *name, size_t len);

/*  Index of field within type's uses, or -1 when the type does not take it.
 *  A table lookup (built once, thread-safely, on first use). */
int fl_schema_use_index(fl_type_t type, fl_field_t field);

/*  Index within type's uses of the field with this wire name, or -1 when the
 *  type takes no field of that name (the decoder's lookup of each map key).
 *  name need not be NUL-terminated. */
int fl_schema_use_by_name(fl_type_t type, const char *name, size_t len);

/*  True when the top-level type is a request that changes state and so must
 *  carry a request id (`rid`) for idempotency. */
bool fl_schema_is_mutating(fl_type_t type);

#endif
