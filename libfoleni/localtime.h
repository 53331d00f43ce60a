/*  localtime.h — an office's local time: UTC seconds to wall clock and back,
 *  local dates ("ticket days") and plain calendar arithmetic.
 *
 *  Foleni stores every instant as UTC seconds since 1970-01-01 (int64_t).
 *  Slots, opening hours, closed dates and the daily restart of ticket
 *  numbers follow the office's wall clock, which is given by an IANA zone
 *  name (Africa/Nairobi unless the config says otherwise).  Kenya has no
 *  daylight saving, but the code must be right where there is some, so it
 *  reads the compiled zone the way the C library does, but per object:
 *
 *    fl_zone_new("Europe/London") reads $TZDIR/Europe/London (or
 *    /usr/share/zoneinfo/...), a TZif file (RFC 8536), and keeps its
 *    transition table (64-bit times, version 2 and later; version 1 files
 *    are read with 32-bit times) and the POSIX TZ rule in its footer
 *    ("GMT0BST,M3.5.0/1,M10.5.0") that tells the offsets after the last
 *    listed transition, i.e. the far future.
 *
 *  Why not setenv("TZ") + tzset() + localtime_r()?  TZ is one process-wide
 *  setting: switching it per office means re-reading the zone file on every
 *  switch and is unsafe with other threads reading the environment.  A zone
 *  object is read once, is immutable afterwards, and answers with a binary
 *  search over its table (or a little arithmetic with the footer rule), so
 *  the scheduler can keep one per office and interleave them freely.
 *
 *  Calendar days travel as uint32_t YYYYMMDD (20260329), the same form as
 *  fl_office_t.closed; fl_day_* do proleptic Gregorian arithmetic on them for
 *  years 1..9999 and need no zone.
 *
 *  Caveats:
 *    - A zone is never changed after fl_zone_new returns, so any number of
 *      threads may read one at once; fl_zone_destroy must not race readers.
 *    - A zone is a snapshot of the file when it was read: an updated tzdata
 *      package takes effect for objects made after it.
 *    - Leap-second ("right/...") zone files are refused: Foleni's UTC
 *      seconds are POSIX seconds, which have no leap seconds.
 *    - Instants are clamped to FL_UTC_MIN..FL_UTC_MAX, which keeps every
 *      local date in years 1..9999 in any zone.
 */
#ifndef FOLENI_LOCALTIME_H
#define FOLENI_LOCALTIME_H

#include "libfoleni/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest zone file accepted, in bytes (real ones are under 4 KiB). */
#define FL_ZONE_FILE_MAX        (64 * 1024)
/* Most transitions in one zone file (real ones have under 300). */
#define FL_ZONE_TRANSITIONS_MAX 4096
/* Most local time types in one zone file (RFC 8536 allows at most 256). */
#define FL_ZONE_TYPES_MAX       256
/* Longest POSIX TZ string in a file's footer, in bytes. */
#define FL_ZONE_FOOTER_MAX      128
/* Longest zone name accepted, in bytes (the same limit as the config's). */
#define FL_ZONE_NAME_MAX        64
/* Longest path of a zone file: the zoneinfo folder, '/', the name. */
#define FL_ZONE_PATH_MAX        512
/* Offsets from UTC must lie strictly inside ±this (RFC 8536: -25h..+26h). */
#define FL_ZONE_OFFSET_LIMIT    (26 * 3600)
/* The folder zone names are looked up in, unless $TZDIR names another. */
#define FL_ZONE_DIR_DEFAULT     "/usr/share/zoneinfo"
#define FL_ZONE_DIR_ENV         "TZDIR"

/* First and last instant handled (0001-01-02T00:00:00Z, 9999-12-30T23:59:59Z);
 * others are clamped to these, so local dates stay in years 1..9999. */
#define FL_UTC_MIN              (-62135510400LL)
#define FL_UTC_MAX              (253402214399LL)
/* What fl_zone_day_start returns for a day that does not exist. */
#define FL_TIME_INVALID         INT64_MIN

/* Calendar days as YYYYMMDD: the first and the last one handled. */
#define FL_DAY_MIN              10101u      /* 0001-01-01 */
#define FL_DAY_MAX              99991231u   /* 9999-12-31 */
#define FL_YEAR_MIN             1
#define FL_YEAR_MAX             9999
/* "YYYY-MM-DD": length, and buffer size with the NUL. */
#define FL_DAY_TEXT_LEN         10
#define FL_DAY_TEXT_SIZE        (FL_DAY_TEXT_LEN + 1)
/* Minutes in a day; fl_zone_utc accepts minute_of_day 0..FL_DAY_MINUTES. */
#define FL_DAY_MINUTES          1440

/* One instant as seen on an office's wall clock. */
typedef struct {
    int year;                   /* 1..9999 */
    int month;                  /* 1..12 */
    int day;                    /* 1..31 */
    int hour;                   /* 0..23 */
    int minute;                 /* 0..59 */
    int second;                 /* 0..59 */
    int wday;                   /* 0 = Sunday ... 6 = Saturday, like tm_wday */
    int utc_offset_s;           /* local minus UTC, in seconds (Nairobi: 10800) */
    bool is_dst;                /* the zone calls this daylight-saving time */
} fl_local_t;

typedef struct fl_zone fl_zone_t;

/* ---- zones ------------------------------------------------------------------ */

/*  Read the zone called name (an IANA name such as "Africa/Nairobi": parts of
 *  [A-Za-z0-9_+-] joined by single '/') from $TZDIR, or FL_ZONE_DIR_DEFAULT
 *  when TZDIR is unset or empty.
 *  Returns a new zone, which the caller owns and frees with fl_zone_destroy,
 *  or NULL with err (if not NULL) filled in; the message starts with name:
 *    FL_E_INVALID    name is not of that form or longer than FL_ZONE_NAME_MAX;
 *                    the file is not a well-formed TZif file, or uses leap
 *                    seconds, or has a footer rule this module cannot read
 *                    (the message says what is wrong)
 *    FL_E_NOT_FOUND  there is no such zone (no file, or a folder)
 *    FL_E_IO         the file cannot be opened or read (permissions...)
 *    FL_E_TOO_LONG   the file is larger than FL_ZONE_FILE_MAX, or the path
 *                    longer than FL_ZONE_PATH_MAX
 *    FL_E_NOMEM      out of memory */
fl_zone_t *fl_zone_new(const char *name, fl_error_t *err);

/*  Build a zone from the bytes of a TZif file held in memory (len bytes at
 *  data); name (cut to FL_ZONE_NAME_MAX bytes) is only kept for fl_zone_name
 *  and error messages.  For tests, fuzzing and embedded zones.  Returns a new zone or NULL with err filled:
 *    FL_E_TOO_LONG   len is larger than FL_ZONE_FILE_MAX
 *    FL_E_INVALID    not well-formed, as for fl_zone_new
 *    FL_E_NOMEM      out of memory */
fl_zone_t *fl_zone_parse(const char *name, const void *data, size_t len, fl_error_t *err);

/*  Free a zone and set *self_p to NULL.  Safe when *self_p is NULL. */
void fl_zone_destroy(fl_zone_t **self_p);

/*  The name the zone was made with.  Never NULL; lives as long as the zone. */
const char *fl_zone_name(const fl_zone_t *self);

/*  Local minus UTC, in seconds, at instant utc.  Cannot fail. */
int fl_zone_offset(const fl_zone_t *self, int64_t utc);

/*  The wall clock at instant utc (clamped to FL_UTC_MIN..FL_UTC_MAX), into
 *  *out.  Cannot fail. */
void fl_zone_local(const fl_zone_t *self, int64_t utc, fl_local_t *out);

/*  The local date at instant utc, as YYYYMMDD: the "ticket day" whose
 *  numbering the instant belongs to.  Cannot fail; never 0. */
uint32_t fl_zone_day(const fl_zone_t *self, int64_t utc);

/*  The instant at which the wall clock reads year-month-day, minute_of_day
 *  minutes after midnight (0..FL_DAY_MINUTES; FL_DAY_MINUTES is "24:00",
 *  the next day's midnight, as in a closing time), second 0, into *out.
 *    - In a spring-forward gap (London, 2026-03-29 01:30 never happens) the
 *      answer is the first instant after the gap, i.e. the moment of the
 *      transition (01:00 UTC, when the clock jumps to 02:00 BST): a slot
 *      that would start inside the gap starts when the gap ends.
 *    - In an autumn overlap (2026-10-25 01:30 happens twice) the answer is
 *      the earlier instant (01:30 BST = 00:30 UTC).
 *  Returns 0, or FL_E_RANGE (and leaves *out alone) when the date does not
 *  exist (month 13, 30 February, year outside FL_YEAR_MIN..FL_YEAR_MAX) or
 *  minute_of_day is outside 0..FL_DAY_MINUTES. */
int fl_zone_utc(const fl_zone_t *self, int year, int month, int day, int minute_of_day,
                int64_t *out);

/*  The first instant of local day yyyymmdd (its midnight, or the end of a
 *  gap that swallows midnight).  A ticket day d runs from
 *  fl_zone_day_start(d) up to fl_zone_day_start(fl_day_add(d, 1)).
 *  Returns FL_TIME_INVALID when yyyymmdd is not a valid day. */
int64_t fl_zone_day_start(const fl_zone_t *self, uint32_t yyyymmdd);

/* ---- calendar days (no zone) --------------------------------------------------- */

/*  True if yyyymmdd is a real date in years FL_YEAR_MIN..FL_YEAR_MAX. */
bool fl_day_valid(uint32_t yyyymmdd);

/*  The day year-month-day as YYYYMMDD, or 0 when that date does not exist. */
uint32_t fl_day_make(int year, int month, int day);

/*  The day days after yyyymmdd (negative: before).  Returns 0 when
 *  yyyymmdd is not valid or the result falls outside FL_DAY_MIN..FL_DAY_MAX. */
uint32_t fl_day_add(uint32_t yyyymmdd, int days);

/*  Days from a to b (b - a; negative when b is earlier).  Both must be valid
 *  days (fl_day_valid); passing another value is a programmer error (assert). */
int32_t fl_day_diff(uint32_t a, uint32_t b);

/*  The weekday of yyyymmdd, 0 = Sunday ... 6 = Saturday (index of
 *  fl_office_t.hours), or -1 when yyyymmdd is not valid. */
int fl_day_weekday(uint32_t yyyymmdd);

/*  Read text, exactly "YYYY-MM-DD" (10 characters, nothing after), into
 *  *out.  Returns 0, or (leaving *out alone):
 *    FL_E_INVALID  not of that form (missing zeros, other separators, signs,
 *                  spaces, trailing characters)
 *    FL_E_RANGE    of that form but no such date (2026-02-29, 2026-13-01,
 *                  0000-01-01) */
int fl_day_parse(const char *text, uint32_t *out);

/*  Write yyyymmdd as "YYYY-MM-DD" and a NUL into out; an invalid day is
 *  written "0000-00-00".  Cannot fail. */
void fl_day_format(uint32_t yyyymmdd, char out[FL_DAY_TEXT_SIZE]);

#endif
