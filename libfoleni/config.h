/*  config.h — the offices, services and counters a deployment serves.
 *
 *  An operator describes every office in one JSON file (docs/config.md gives
 *  the format; deploy/config/demo.json is a full example).  fl_config_load
 *  reads it, checks every field, and hands back plain C structs that the
 *  scheduler (slots, tickets, call-next order), the portal (names, fees, what
 *  to bring) and the counters (which services a counter serves) read directly.
 *
 *  Loading is strict: an unknown key, a value of the wrong type, a number out
 *  of range or a reference to something that does not exist is an error that
 *  names the file, the field path and the reason, e.g.
 *
 *      demo.json: offices[0].services[2].prefix: must be one capital letter A-Z
 *
 *  so that a typo stops the process at start instead of changing its behaviour.
 *
 *  Caveats:
 *    - Everything reachable from an fl_config_t is owned by it, read-only, and
 *      freed by fl_config_destroy; pointers into it must not outlive it.
 *    - A loaded config is never changed, so any number of threads may read it.
 *    - Service codes are national: the same code names the same service in every
 *      office.  The loader checks codes within an office only; it does not
 *      compare the names or settings of one code across offices.
 */
#ifndef FOLENI_CONFIG_H
#define FOLENI_CONFIG_H

#include "libfoleni/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The format version this build reads ("version" in the file). */
#define FL_CONFIG_VERSION           1
/* Largest config file or text accepted, in bytes.  A national configuration
 * (1,000 offices x 26 services) is about 3 MiB with short English names only
 * and several times that with Swahili names and `bring` texts; the parse
 * peaks near 15 times the file's size, briefly. */
#define FL_CONFIG_FILE_MAX          (32u * 1024 * 1024)
/* Most offices in one file, services per office, counters per office. */
#define FL_CONFIG_OFFICES_MAX       2000
#define FL_CONFIG_SERVICES_MAX      64
#define FL_CONFIG_COUNTERS_MAX      256
/* Most closed dates per office (a year's worth). */
#define FL_CONFIG_CLOSED_MAX        366
/* Office codes are 2..8 of [A-Z0-9]; service codes 1..8. */
#define FL_OFFICE_CODE_MIN          2
#define FL_OFFICE_CODE_MAX          8
#define FL_SERVICE_CODE_MAX         8
/* Longest office or service name, per language, in bytes of UTF-8. */
#define FL_CONFIG_NAME_MAX          80
/* Longest "what to bring" text, per language, in bytes of UTF-8. */
#define FL_CONFIG_BRING_MAX         240
/* Longest counter name, in bytes of UTF-8. */
#define FL_COUNTER_NAME_MAX         32
/* Longest IANA timezone name, in bytes. */
#define FL_TIMEZONE_MAX             64
/* Where timezone names are looked up, unless the TZDIR environment variable
 * (which the C library honours too) names another folder. */
#define FL_CONFIG_ZONEINFO_DIR      "/usr/share/zoneinfo"
/* Counter numbers run from 1 to this. */
#define FL_COUNTER_NUMBER_MAX       999
/* Days of the week; fl_office_t.hours is indexed like struct tm's tm_wday. */
#define FL_WEEKDAYS                 7
/* Closed dates must fall in these years. */
#define FL_CONFIG_YEAR_MIN          2000
#define FL_CONFIG_YEAR_MAX          2199

/* Defaults for optional fields, and the ranges every number must fall in. */
#define FL_CONFIG_DEFAULT_TIMEZONE  "Africa/Nairobi"
#define FL_BOOKING_DAYS_DEFAULT     30
#define FL_BOOKING_DAYS_MIN         1
#define FL_BOOKING_DAYS_MAX         365
#define FL_PHONE_RETENTION_DEFAULT  90      /* days after the appointment's end */
#define FL_PHONE_RETENTION_MIN      1
#define FL_PHONE_RETENTION_MAX      3650
#define FL_SLOT_MINUTES_MIN         5
#define FL_SLOT_MINUTES_MAX         240
#define FL_CAPACITY_MIN             0
#define FL_CAPACITY_MAX             1000
#define FL_SERVICE_MINUTES_MIN      1
#define FL_SERVICE_MINUTES_MAX      240
#define FL_FEE_DEFAULT              0
#define FL_FEE_MIN                  0
#define FL_FEE_MAX                  1000000
#define FL_HOLD_MINUTES_DEFAULT     30
#define FL_HOLD_MINUTES_MIN         1
#define FL_HOLD_MINUTES_MAX         1440
#define FL_CHECKIN_EARLY_DEFAULT    30
#define FL_CHECKIN_LATE_DEFAULT     15
#define FL_CHECKIN_MINUTES_MIN      0
#define FL_CHECKIN_MINUTES_MAX      240
#define FL_LATE_AS_WALKIN_DEFAULT   true
#define FL_MAX_WAIT_DEFAULT         90
#define FL_MAX_WAIT_MIN             5
#define FL_MAX_WAIT_MAX             1440

/* A text in English and, optionally, Kiswahili. */
typedef struct {
    char *en;                   /* never NULL in a name; NULL for absent "bring" */
    char *sw;                   /* NULL when the file gives no Kiswahili */
} fl_text_t;

/* Opening hours of one weekday, in minutes since local midnight. */
typedef struct {
    bool is_open;               /* false: closed all day; then opens = closes = 0 */
    uint16_t opens;             /* 0..1439 */
    uint16_t closes;            /* opens+1..1440 (1440 is "24:00") */
} fl_hours_t;

typedef struct {
    char code[FL_SERVICE_CODE_MAX + 1]; /* national service code, e.g. "PASSPORT" */
    char prefix;                /* ticket letter 'A'..'Z', unique in the office */
    fl_text_t name;             /* en required */
    fl_text_t bring;            /* what to bring; en and sw NULL when absent */
    int slot_minutes;           /* length of an appointment slot */
    int capacity;               /* appointments per slot; 0 = walk-in only */
    int service_minutes;        /* first estimate of the time one citizen takes */
    int fee;                    /* KES; > 0 means a booking is held until paid */
    int hold_minutes;           /* how long an unpaid booking holds its slot */
    int checkin_early_minutes;  /* check-in opens this long before the slot */
    int checkin_late_minutes;   /* and closes this long after it starts */
    bool late_as_walkin;        /* a late arrival may still queue as a walk-in */
    int max_wait_minutes;       /* a walk-in waiting this long goes first */
} fl_service_t;

typedef struct {
    int number;                 /* 1..FL_COUNTER_NUMBER_MAX, unique in the office */
    char name[FL_COUNTER_NAME_MAX + 1];  /* e.g. "Dirisha 1"; "" when absent */
    size_t service_count;       /* 1..FL_CONFIG_SERVICES_MAX */
    const fl_service_t **services;  /* into the office's services, in file order */
} fl_counter_t;

typedef struct {
    char code[FL_OFFICE_CODE_MAX + 1];  /* e.g. "NBIGPO", unique in the file */
    fl_text_t name;             /* en required */
    char timezone[FL_TIMEZONE_MAX + 1];  /* IANA name, e.g. "Africa/Nairobi" */
    fl_hours_t hours[FL_WEEKDAYS];  /* [0] = Sunday ... [6] = Saturday */
    size_t closed_count;
    int32_t *closed;            /* closed dates as YYYYMMDD, ascending, no repeats */
    size_t service_count;       /* 1..FL_CONFIG_SERVICES_MAX */
    fl_service_t *services;     /* in file order */
    size_t counter_count;       /* 1..FL_CONFIG_COUNTERS_MAX */
    fl_counter_t *counters;     /* in file order */
} fl_office_t;

typedef struct fl_config {
    int version;                /* FL_CONFIG_VERSION */
    int booking_days_ahead;     /* how far ahead a citizen may book */
    int phone_retention_days;   /* a booking's phone number is deleted this
                                 * many days after its slot ends */
    size_t office_count;        /* 1..FL_CONFIG_OFFICES_MAX */
    fl_office_t *offices;       /* in file order */
    const fl_office_t **by_code;  /* the same offices sorted by code, for lookup */
} fl_config_t;

/*  Read and check the config file at path.
 *  Returns a new config, which the caller owns and frees with
 *  fl_config_destroy, or NULL with err (if not NULL) filled in:
 *    FL_E_IO        the file cannot be opened or read
 *    FL_E_TOO_LONG  the file is larger than FL_CONFIG_FILE_MAX
 *    and every error of fl_config_parse.
 *  Error messages start with path. */
fl_config_t *fl_config_load(const char *path, fl_error_t *err);

/*  Check a config held in memory: len bytes of text (need not end in NUL).
 *  name_for_errors starts every error message (a file name, or "" for none).
 *  Returns a new config owned by the caller, or NULL with err filled in; err's
 *  field is the path of the value at fault ("offices[0].hours.mon[1]"), or ""
 *  for the file as a whole.  The codes:
 *    FL_E_TOO_LONG       text over FL_CONFIG_FILE_MAX; a name or list too long
 *    FL_E_INVALID        not JSON (the message gives line and column), empty,
 *                        or holding a NUL byte; a code, time, date, timezone
 *                        or name of the wrong form; hours that open at or
 *                        after they close; an office never open; a service no
 *                        counter serves
 *    FL_E_TRUNCATED      the JSON text ends early
 *    FL_E_DEPTH          JSON nested too deep
 *    FL_E_TYPE           a value of the wrong JSON type
 *    FL_E_MISSING        a required field is absent, or a list is empty
 *    FL_E_UNKNOWN        a key this format does not have
 *    FL_E_RANGE          a number outside its range
 *    FL_E_VERSION        "version" is not FL_CONFIG_VERSION
 *    FL_E_DUPLICATE_KEY  a key twice in one JSON object; an office code,
 *                        service code, prefix, counter number, closed date or
 *                        counter service given twice
 *    FL_E_NOT_FOUND      a counter names a service its office does not have
 *    FL_E_NOMEM          out of memory */
fl_config_t *fl_config_parse(const char *text, size_t len, const char *name_for_errors,
                             fl_error_t *err);

/*  Free a config and everything in it, and set *self_p to NULL.
 *  Safe when *self_p is already NULL. */
void fl_config_destroy(fl_config_t **self_p);

/*  The office with this code, or NULL if there is none.  O(log offices). */
const fl_office_t *fl_config_office(const fl_config_t *self, const char *code);

/*  The office's service with this code, or NULL. */
const fl_service_t *fl_office_service(const fl_office_t *office, const char *code);

/*  The office's service whose tickets carry this prefix letter, or NULL. */
const fl_service_t *fl_office_service_by_prefix(const fl_office_t *office, char prefix);

/*  The office's counter with this number, or NULL. */
const fl_counter_t *fl_office_counter(const fl_office_t *office, int number);

/*  True if the office is closed all day on this date (a listed closed date).
 *  Opening hours are not consulted; see fl_office_t.hours for those. */
bool fl_office_closed_on(const fl_office_t *office, int year, int month, int day);

/*  True if the counter serves this service. */
bool fl_counter_serves(const fl_counter_t *counter, const fl_service_t *service);

/*  The text in language lang ("en" or "sw"), falling back to English when the
 *  Kiswahili is absent or lang is anything else.  NULL only for an absent
 *  "bring" text. */
const char *fl_text_pick(const fl_text_t *text, const char *lang);

#endif
