/*  localtime.c — zones read from TZif files, and calendar arithmetic.
 *  See localtime.h.
 *
 *  A zone holds the transition table of its TZif file (RFC 8536): sorted
 *  UTC instants, each naming the local time type (offset, DST flag) in force
 *  from that instant on.  Before the first transition type 0 applies; from
 *  the last one on, the footer's POSIX TZ rule applies (or, with no footer,
 *  the last type).  When the zone is read, the rule's changes up to
 *  S_EXPAND_UNTIL_YEAR are appended to the table, so that looking up any
 *  instant before then is one binary search (about 9 steps for London),
 *  even with "slim" zone files that list few transitions; later instants
 *  compute the rule's changes for the years around them (some 5x slower).
 *
 *  Going from wall clock to UTC walks the intervals between transitions
 *  that touch a window of ±FL_ZONE_OFFSET_LIMIT around the wall time read as
 *  if it were UTC.  Every offset lies strictly inside that limit, so the
 *  answer, if any, is in the window: the first interval whose offset maps
 *  back onto the wall time gives the (earlier) instant; if none does, the
 *  wall time fell in the jump of a transition, and that transition's
 *  instant is the first one after the gap.
 *
 *  Calendar days are converted to and from a count of days since
 *  1970-01-01 with the usual era-of-400-years formulas (146097 days, a
 *  whole number of weeks), exact for the proleptic Gregorian calendar.
 */
#include "libfoleni/localtime.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SECONDS_PER_DAY   86400
#define S_SECONDS_PER_HOUR  3600
#define S_DAYS_PER_WEEK     7
/* 1970-01-01 was a Thursday. */
#define S_EPOCH_WEEKDAY     4
/* Days in one 400-year Gregorian era, and from 0000-03-01 to 1970-01-01. */
#define S_DAYS_PER_ERA      146097
#define S_DAYS_TO_EPOCH     719468

/* TZif layout (RFC 8536 section 3). */
#define S_TZIF_MAGIC        "TZif"
#define S_TZIF_MAGIC_LEN    4
#define S_TZIF_HEADER_LEN   44
#define S_TZIF_TTINFO_LEN   6
/* Leap-second records: transition time (4 or 8 bytes) + correction (4). */
#define S_TZIF_LEAP_CORR_LEN 4

/* POSIX TZ strings: hours of a UTC offset, and of a rule's time of day
 * (RFC 8536 section 3.3.1 widens the latter to -167..167). */
#define S_TZ_OFFSET_HOURS_MAX 24
#define S_TZ_RULE_HOURS_MAX   167
/* A rule time that is not given is 02:00:00. */
#define S_TZ_RULE_TIME_DEFAULT (2 * S_SECONDS_PER_HOUR)
/* Standard and daylight names are at least this long when unquoted. */
#define S_TZ_NAME_MIN 3
/* Footer rules are evaluated for this many years either side of the year
 * of the instant; a rule time of up to 167 h can push a year's transition
 * a week into its neighbour, so one year either side is not always enough. */
#define S_FOOTER_YEARS_AROUND 2
/* The footer rule's changes before this year are listed in the table. */
#define S_EXPAND_UNTIL_YEAR 2100
/* ...starting from this year when the file lists no transitions at all. */
#define S_EXPAND_FROM_YEAR 1970
/* A footer rule changes the clock at most twice a year. */
#define S_FOOTER_CHANGES_PER_YEAR 2
/* Types a zone may add to the file's: the footer's standard and daylight. */
#define S_FOOTER_TYPES 2

typedef struct {
    int32_t utoff;              /* local minus UTC, seconds */
    bool isdst;
} s_type_t;

typedef enum {
    S_RULE_JULIAN1,             /* Jn: day 1..365, 29 February never counted */
    S_RULE_JULIAN0,             /* n: day 0..365, 29 February counted */
    S_RULE_MONTH,               /* Mm.w.d: weekday d of week w (5 = last) of month m */
} s_rule_kind_t;

/* When daylight saving starts or ends, in one year. */
typedef struct {
    s_rule_kind_t kind;
    int day;                    /* JULIAN1, JULIAN0 */
    int month;                  /* MONTH: 1..12 */
    int week;                   /* MONTH: 1..5 */
    int wday;                   /* MONTH: 0 = Sunday */
    int32_t time;               /* local time of day of the change, seconds */
} s_rule_t;

/* The footer's POSIX TZ string, e.g. "EST5EDT,M3.2.0,M11.1.0". */
typedef struct {
    bool present;               /* false: the footer is empty (or a v1 file) */
    bool has_dst;               /* false: std_off all year ("EAT-3") */
    int32_t std_off;            /* local minus UTC in standard time */
    int32_t dst_off;            /* ... in daylight-saving time */
    s_rule_t start;             /* change to daylight time, in standard time */
    s_rule_t end;               /* change back, in daylight time */
} s_footer_t;

struct fl_zone {
    char name[FL_ZONE_NAME_MAX + 1];
    size_t count;               /* transitions: the file's, then the footer's */
    size_t file_count;          /* how many of them the file listed */
    int64_t *times;             /* count instants, strictly ascending */
    uint16_t *type_of;          /* count indices into types */
    size_t type_count;          /* the file's types, then up to S_FOOTER_TYPES */
    s_type_t *types;
    s_footer_t footer;
};


/* ---- calendar ---------------------------------------------------------------- */

static bool
s_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
s_days_in_month(int64_t year, int month)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return month == 2 && s_is_leap(year) ? 29 : days[month - 1];
}

static int64_t
s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days from 1970-01-01 to year-month-day (month 1..12, day 1..31). */
static int64_t
s_days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = s_floor_div(year, 400);
    int64_t yoe = year - era * 400;                                 /* 0..399 */
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            /* 0..146096 */
    return era * S_DAYS_PER_ERA + doe - S_DAYS_TO_EPOCH;
}

/* The date of day number days (0 = 1970-01-01). */
static void
s_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    days += S_DAYS_TO_EPOCH;
    int64_t era = s_floor_div(days, S_DAYS_PER_ERA);
    int64_t doe = days - era * S_DAYS_PER_ERA;                              /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;    /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                  /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                       /* 0 = March */
    *day = (int) (doy - (153 * mp + 2) / 5 + 1);
    *month = (int) (mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static int
s_weekday(int64_t days)
{
    return (int) (((days + S_EPOCH_WEEKDAY) % S_DAYS_PER_WEEK + S_DAYS_PER_WEEK)
                  % S_DAYS_PER_WEEK);
}

static bool
s_date_valid(int64_t year, int month, int day)
{
    return year >= FL_YEAR_MIN && year <= FL_YEAR_MAX && month >= 1 && month <= 12
        && day >= 1 && day <= s_days_in_month(year, month);
}

static uint32_t
s_day_pack(int64_t year, int month, int day)
{
    return (uint32_t) (year * 10000 + month * 100 + day);
}

/* Split yyyymmdd; false when it is not a valid day. */
static bool
s_day_split(uint32_t yyyymmdd, int64_t *year, int *month, int *day)
{
    *year = yyyymmdd / 10000;
    *month = (int) (yyyymmdd / 100 % 100);
    *day = (int) (yyyymmdd % 100);
    return s_date_valid(*year, *month, *day);
}


/* ---- the footer rule ------------------------------------------------------------ */

/* Day number (since 1970-01-01) on which rule r falls in year. */
static int64_t
s_rule_day(const s_rule_t *r, int64_t year)
{
    int64_t jan1 = s_days_from_civil(year, 1, 1);
    switch (r->kind) {
    case S_RULE_JULIAN1:
        return jan1 + r->day - 1 + (s_is_leap(year) && r->day >= 60);
    case S_RULE_JULIAN0:
        return jan1 + r->day;
    case S_RULE_MONTH:
    default: {
        int64_t first = s_days_from_civil(year, r->month, 1);
        int mday = 1 + (r->wday - s_weekday(first) + S_DAYS_PER_WEEK) % S_DAYS_PER_WEEK
                 + (r->week - 1) * S_DAYS_PER_WEEK;
        int last = s_days_in_month(year, r->month);
        while (mday > last)
            mday -= S_DAYS_PER_WEEK;
        return first + mday - 1;
    }
    }
}

/* The UTC instant at which rule r takes effect in year, when the clock
 * shows off_before (the offset in force until then). */
static int64_t
s_rule_instant(const s_rule_t *r, int64_t year, int32_t off_before)
{
    return s_rule_day(r, year) * S_SECONDS_PER_DAY + r->time - off_before;
}

/*  The offset at t by the footer rule, and the next change after t
 *  (INT64_MAX when there is none).  The rule's changes of the years around
 *  t are placed on the time line; the latest one at or before t decides.
 *  A start and an end at the same instant ("0/0,J365/25", DST all year)
 *  leave daylight time in force. */
static void
s_footer_at(const s_footer_t *f, int64_t t, s_type_t *type, int64_t *next)
{
    if (!f->has_dst) {
        *type = (s_type_t) { f->std_off, false };
        *next = INT64_MAX;
        return;
    }
    int64_t year;
    int month, day;
    s_civil_from_days(s_floor_div(t + f->std_off, S_SECONDS_PER_DAY), &year, &month, &day);

    int64_t last_time = INT64_MIN, next_time = INT64_MAX;
    bool last_dst = false;
    for (int64_t y = year - S_FOOTER_YEARS_AROUND; y <= year + S_FOOTER_YEARS_AROUND; y++) {
        int64_t s = s_rule_instant(&f->start, y, f->std_off);
        int64_t e = s_rule_instant(&f->end, y, f->dst_off);
        if (e <= t && (e > last_time || (e == last_time && !last_dst))) {
            last_time = e;
            last_dst = false;
        }
        if (s <= t && s >= last_time) {
            last_time = s;
            last_dst = true;
        }
        if (s > t && s < next_time)
            next_time = s;
        if (e > t && e < next_time)
            next_time = e;
    }
    *type = last_dst ? (s_type_t) { f->dst_off, true } : (s_type_t) { f->std_off, false };
    *next = next_time;
}


/* ---- lookups ------------------------------------------------------------------ */

/*  The local time type in force at t, and the instant of the next change
 *  after t (INT64_MAX when none is known). */
static void
s_lookup(const fl_zone_t *self, int64_t t, s_type_t *type, int64_t *next)
{
    size_t n = self->count;
    if (n == 0 || t >= self->times[n - 1]) {
        if (self->footer.present) {
            s_footer_at(&self->footer, t, type, next);
            return;
        }
        *type = self->types[n == 0 ? 0 : self->type_of[n - 1]];
        *next = INT64_MAX;
        return;
    }
    if (t < self->times[0]) {
        /* Type 0 applies before the file's first transition; with none,
         * the footer does, and the table holds only its expansion. */
        if (self->file_count == 0)
            s_footer_at(&self->footer, t, type, next);
        else
            *type = self->types[0];
        *next = self->times[0];
        return;
    }
    /* times[lo] <= t < times[hi] */
    size_t lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->times[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    *type = self->types[self->type_of[lo]];
    *next = self->times[hi];
}

static int64_t
s_clamp(int64_t utc)
{
    return utc < FL_UTC_MIN ? FL_UTC_MIN : utc > FL_UTC_MAX ? FL_UTC_MAX : utc;
}

int
fl_zone_offset(const fl_zone_t *self, int64_t utc)
{
    assert(self);
    s_type_t type;
    int64_t next;
    s_lookup(self, s_clamp(utc), &type, &next);
    return type.utoff;
}

void
fl_zone_local(const fl_zone_t *self, int64_t utc, fl_local_t *out)
{
    assert(self && out);
    s_type_t type;
    int64_t next;
    utc = s_clamp(utc);
    s_lookup(self, utc, &type, &next);
    int64_t local = utc + type.utoff;
    int64_t days = s_floor_div(local, S_SECONDS_PER_DAY);
    int secs = (int) (local - days * S_SECONDS_PER_DAY);
    int64_t year;
    s_civil_from_days(days, &year, &out->month, &out->day);
    out->year = (int) year;
    out->hour = secs / S_SECONDS_PER_HOUR;
    out->minute = secs / 60 % 60;
    out->second = secs % 60;
    out->wday = s_weekday(days);
    out->utc_offset_s = type.utoff;
    out->is_dst = type.isdst;
}

uint32_t
fl_zone_day(const fl_zone_t *self, int64_t utc)
{
    assert(self);
    s_type_t type;
    int64_t next;
    utc = s_clamp(utc);
    s_lookup(self, utc, &type, &next);
    int64_t year;
    int month, day;
    s_civil_from_days(s_floor_div(utc + type.utoff, S_SECONDS_PER_DAY), &year, &month, &day);
    return s_day_pack(year, month, day);
}

/* The instant whose wall time is local (seconds since 1970-01-01 on the
 * wall clock); see the top of the file for the method. */
static int64_t
s_from_local(const fl_zone_t *self, int64_t local)
{
    int64_t t = local - FL_ZONE_OFFSET_LIMIT;
    int64_t end = local + FL_ZONE_OFFSET_LIMIT;
    bool first = true;
    int32_t prev_off = 0;
    while (t <= end) {
        s_type_t type;
        int64_t next;
        s_lookup(self, t, &type, &next);
        /* The clock jumped over local at t: the gap ends at t. */
        if (!first && t + prev_off <= local && local < t + type.utoff)
            return t;
        int64_t candidate = local - type.utoff;
        if (candidate >= t && candidate < next)
            return candidate;
        if (next == INT64_MAX)
            break;
        first = false;
        prev_off = type.utoff;
        t = next;
    }
    /* Unreachable while every offset is inside the limit (the parser checks). */
    assert(!"local time neither in an interval nor in a gap");
    return local;
}

int
fl_zone_utc(const fl_zone_t *self, int year, int month, int day, int minute_of_day,
            int64_t *out)
{
    assert(self && out);
    if (!s_date_valid(year, month, day) || minute_of_day < 0 || minute_of_day > FL_DAY_MINUTES)
        return FL_E_RANGE;
    int64_t local = s_days_from_civil(year, month, day) * S_SECONDS_PER_DAY
                  + (int64_t) minute_of_day * 60;
    *out = s_from_local(self, local);
    return 0;
}

int64_t
fl_zone_day_start(const fl_zone_t *self, uint32_t yyyymmdd)
{
    assert(self);
    int64_t year;
    int month, day;
    if (!s_day_split(yyyymmdd, &year, &month, &day))
        return FL_TIME_INVALID;
    return s_from_local(self, s_days_from_civil(year, month, day) * S_SECONDS_PER_DAY);
}

const char *
fl_zone_name(const fl_zone_t *self)
{
    assert(self);
    return self->name;
}


/* ---- reading the POSIX TZ footer -------------------------------------------------- */

/* A zone name: <[A-Za-z0-9+-]+> or at least S_TZ_NAME_MIN letters. */
static bool
s_tz_name(const char **p)
{
    const char *s = *p;
    size_t len = 0;
    if (*s == '<') {
        s++;
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')
               || *s == '+' || *s == '-')
            s++, len++;
        if (*s != '>' || len < S_TZ_NAME_MIN)
            return false;
        *p = s + 1;
        return true;
    }
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++, len++;
    if (len < S_TZ_NAME_MIN)
        return false;
    *p = s;
    return true;
}

/* An unsigned number of 1..max_digits digits, at most max. */
static bool
s_tz_number(const char **p, int max_digits, int max, int *out)
{
    const char *s = *p;
    int value = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < max_digits) {
        value = value * 10 + (*s - '0');
        s++, digits++;
    }
    if (digits == 0 || (*s >= '0' && *s <= '9') || value > max)
        return false;
    *p = s;
    *out = value;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh at most max_hours, as signed seconds. */
static bool
s_tz_time(const char **p, int max_hours, int32_t *out)
{
    const char *s = *p;
    int sign = 1, h, m = 0, sec = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!s_tz_number(&s, 3, max_hours, &h))
        return false;
    if (*s == ':') {
        s++;
        if (!s_tz_number(&s, 2, 59, &m))
            return false;
        if (*s == ':') {
            s++;
            if (!s_tz_number(&s, 2, 59, &sec))
                return false;
        }
    }
    *p = s;
    *out = sign * (h * S_SECONDS_PER_HOUR + m * 60 + sec);
    return true;
}

/* Jn, n or Mm.w.d, then an optional /time. */
static bool
s_tz_rule(const char **p, s_rule_t *r)
{
    const char *s = *p;
    if (*s == 'J') {
        s++;
        r->kind = S_RULE_JULIAN1;
        if (!s_tz_number(&s, 3, 365, &r->day) || r->day < 1)
            return false;
    } else if (*s == 'M') {
        s++;
        r->kind = S_RULE_MONTH;
        if (!s_tz_number(&s, 2, 12, &r->month) || r->month < 1 || *s++ != '.'
            || !s_tz_number(&s, 1, 5, &r->week) || r->week < 1 || *s++ != '.'
            || !s_tz_number(&s, 1, 6, &r->wday))
            return false;
    } else {
        r->kind = S_RULE_JULIAN0;
        if (!s_tz_number(&s, 3, 365, &r->day))
            return false;
    }
    r->time = S_TZ_RULE_TIME_DEFAULT;
    if (*s == '/') {
        s++;
        if (!s_tz_time(&s, S_TZ_RULE_HOURS_MAX, &r->time))
            return false;
    }
    *p = s;
    return true;
}

static bool
s_offset_ok(int32_t off)
{
    return off > -FL_ZONE_OFFSET_LIMIT && off < FL_ZONE_OFFSET_LIMIT;
}

/*  Read a footer TZ string (text, NUL-terminated) into *f.  Returns NULL, or
 *  a short description of what is wrong. */
static const char *
s_parse_footer(const char *text, s_footer_t *f)
{
    memset(f, 0, sizeof *f);
    if (*text == '\0')
        return NULL;                    /* empty: the last type stays in force */
    const char *p = text;
    int32_t west;
    if (!s_tz_name(&p))
        return "its standard-time name is malformed";
    if (!s_tz_time(&p, S_TZ_OFFSET_HOURS_MAX, &west))
        return "its standard-time offset is malformed";
    f->present = true;
    f->std_off = -west;
    if (*p == '\0')
        return NULL;
    if (!s_tz_name(&p))
        return "its daylight-saving name is malformed";
    f->has_dst = true;
    f->dst_off = f->std_off + S_SECONDS_PER_HOUR;
    if (*p != ',' && *p != '\0') {
        if (!s_tz_time(&p, S_TZ_OFFSET_HOURS_MAX, &west))
            return "its daylight-saving offset is malformed";
        f->dst_off = -west;
    }
    if (*p != ',')
        return "it names a daylight-saving time but gives no rule for it";
    p++;
    if (!s_tz_rule(&p, &f->start) || *p++ != ',' || !s_tz_rule(&p, &f->end))
        return "its daylight-saving rule is malformed";
    if (*p != '\0')
        return "it has text after the rule";
    if (!s_offset_ok(f->std_off) || !s_offset_ok(f->dst_off))
        return "an offset is out of range";
    return NULL;
}


/* ---- reading TZif ----------------------------------------------------------------- */

typedef struct {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} s_header_t;

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    const char *name;           /* for messages */
    fl_error_t *err;
} s_reader_t;

static int
s_bad(s_reader_t *r, const char *why)
{
    return fl_error_set(r->err, FL_E_INVALID, "", "%s: not a valid zone file: %s", r->name, why);
}

static bool
s_has(const s_reader_t *r, uint64_t n)
{
    return n <= r->len - r->pos;
}

static uint32_t
s_be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t
s_be64(const uint8_t *p)
{
    return (uint64_t) s_be32(p) << 32 | s_be32(p + 4);
}

/* Read a 44-byte header; *version is 0 for version 1, else '2', '3'... */
static int
s_read_header(s_reader_t *r, int *version, s_header_t *h)
{
    const uint8_t *p = r->data + r->pos;
    if (s_has(r, S_TZIF_MAGIC_LEN) && memcmp(p, S_TZIF_MAGIC, S_TZIF_MAGIC_LEN) != 0)
        return s_bad(r, "it does not start with \"TZif\"");
    if (!s_has(r, S_TZIF_HEADER_LEN))
        return s_bad(r, "it ends inside a header");
    *version = p[4];
    if (*version != 0 && (*version < '2' || *version > '9'))
        return s_bad(r, "unknown version byte");
    p += 20;                            /* magic, version, 15 reserved bytes */
    h->isutcnt = s_be32(p);
    h->isstdcnt = s_be32(p + 4);
    h->leapcnt = s_be32(p + 8);
    h->timecnt = s_be32(p + 12);
    h->typecnt = s_be32(p + 16);
    h->charcnt = s_be32(p + 20);
    r->pos += S_TZIF_HEADER_LEN;
    return 0;
}

/* Bytes of the data block that follows header h, with times of time_len bytes. */
static uint64_t
s_block_len(const s_header_t *h, unsigned time_len)
{
    return (uint64_t) h->timecnt * time_len + h->timecnt
         + (uint64_t) h->typecnt * S_TZIF_TTINFO_LEN + h->charcnt
         + (uint64_t) h->leapcnt * (time_len + S_TZIF_LEAP_CORR_LEN)
         + h->isstdcnt + h->isutcnt;
}

/* Check the counts of header h and read its data block into self. */
static int
s_read_block(s_reader_t *r, const s_header_t *h, unsigned time_len, fl_zone_t *self)
{
    if (h->leapcnt != 0)
        return fl_error_set(r->err, FL_E_INVALID, "",
                            "%s: zone files with leap seconds (\"right/...\") are not supported",
                            r->name);
    if (h->typecnt == 0 || h->typecnt > FL_ZONE_TYPES_MAX)
        return s_bad(r, "it has no local time types, or too many");
    if (h->charcnt == 0)
        return s_bad(r, "it has no time zone abbreviations");
    if ((h->isstdcnt != 0 && h->isstdcnt != h->typecnt)
        || (h->isutcnt != 0 && h->isutcnt != h->typecnt))
        return s_bad(r, "its standard/UT indicator counts do not match its type count");
    if (h->timecnt > FL_ZONE_TRANSITIONS_MAX)
        return s_bad(r, "it has too many transitions");
    if (!s_has(r, s_block_len(h, time_len)))
        return s_bad(r, "it ends inside its data");

    self->count = h->timecnt;
    self->type_count = h->typecnt;
    self->times = malloc((h->timecnt ? h->timecnt : 1) * sizeof *self->times);
    self->file_count = h->timecnt;
    self->type_of = malloc((h->timecnt ? h->timecnt : 1) * sizeof *self->type_of);
    self->types = malloc((h->typecnt + S_FOOTER_TYPES) * sizeof *self->types);
    if (!self->times || !self->type_of || !self->types)
        return fl_error_set(r->err, FL_E_NOMEM, "", "%s: out of memory", r->name);

    const uint8_t *p = r->data + r->pos;
    for (uint32_t i = 0; i < h->timecnt; i++, p += time_len) {
        int64_t t = time_len == 8 ? (int64_t) s_be64(p) : (int64_t) (int32_t) s_be32(p);
        if (i > 0 && t <= self->times[i - 1])
            return s_bad(r, "its transition times are not in ascending order");
        self->times[i] = t;
    }
    for (uint32_t i = 0; i < h->timecnt; i++, p++) {
        if (*p >= h->typecnt)
            return s_bad(r, "a transition names a local time type that does not exist");
        self->type_of[i] = *p;
    }
    const uint8_t *chars = p + (size_t) h->typecnt * S_TZIF_TTINFO_LEN;
    for (uint32_t i = 0; i < h->typecnt; i++, p += S_TZIF_TTINFO_LEN) {
        int32_t utoff = (int32_t) s_be32(p);
        if (!s_offset_ok(utoff))
            return s_bad(r, "a UTC offset is out of range");
        if (p[4] > 1)
            return s_bad(r, "a daylight-saving flag is neither 0 nor 1");
        if (p[5] >= h->charcnt)
            return s_bad(r, "an abbreviation index is out of range");
        self->types[i] = (s_type_t) { utoff, p[4] == 1 };
    }
    p = chars;
    if (p[h->charcnt - 1] != '\0')
        return s_bad(r, "its abbreviations do not end with a NUL");
    p += h->charcnt + (size_t) h->leapcnt * (time_len + S_TZIF_LEAP_CORR_LEN);
    const uint8_t *isstd = p, *isut = p + h->isstdcnt;
    for (uint32_t i = 0; i < h->isstdcnt; i++)
        if (isstd[i] > 1)
            return s_bad(r, "a standard/wall indicator is neither 0 nor 1");
    for (uint32_t i = 0; i < h->isutcnt; i++)
        if (isut[i] > 1 || (isut[i] == 1 && (h->isstdcnt == 0 || isstd[i] != 1)))
            return s_bad(r, "a UT/local indicator is not 0 or 1, or set without "
                            "its standard indicator");
    p = isut + h->isutcnt;
    r->pos = (size_t) (p - r->data);
    return 0;
}

/* Read the footer "\n<TZ string>\n", which must end the file. */
static int
s_read_footer(s_reader_t *r, fl_zone_t *self)
{
    const char *p = (const char *) r->data + r->pos;
    size_t left = r->len - r->pos;
    if (left < 2 || p[0] != '\n')
        return s_bad(r, "its footer is missing");
    const char *nl = memchr(p + 1, '\n', left - 1);
    if (!nl)
        return s_bad(r, "its footer does not end with a newline");
    size_t len = (size_t) (nl - p - 1);
    if (len > FL_ZONE_FOOTER_MAX)
        return s_bad(r, "its footer is too long");
    if ((size_t) (nl - p) + 1 != left)
        return s_bad(r, "it has bytes after its footer");
    char text[FL_ZONE_FOOTER_MAX + 1];
    for (size_t i = 0; i < len; i++) {
        if (p[1 + i] < ' ' || p[1 + i] > '~')
            return s_bad(r, "its footer holds a control character");
        text[i] = p[1 + i];
    }
    text[len] = '\0';
    const char *why = s_parse_footer(text, &self->footer);
    if (why)
        return fl_error_set(r->err, FL_E_INVALID, "",
                            "%s: footer rule \"%s\" cannot be used: %s", r->name, text, why);
    return 0;
}

/* The index of a type equal to t, added to self->types if new (there is
 * room for S_FOOTER_TYPES more than the file's). */
static uint16_t
s_type_index(fl_zone_t *self, s_type_t t)
{
    for (size_t i = 0; i < self->type_count; i++)
        if (self->types[i].utoff == t.utoff && self->types[i].isdst == t.isdst)
            return (uint16_t) i;
    self->types[self->type_count] = t;
    return (uint16_t) self->type_count++;
}

/*  Append the footer rule's changes up to S_EXPAND_UNTIL_YEAR to the table,
 *  and give the last listed transition the footer's type, as lookups from
 *  it on used the footer.  Nothing to do without daylight saving, or when
 *  the file's last transition is before S_EXPAND_FROM_YEAR (no real zone
 *  has that; the footer is then simply evaluated for every later instant). */
static int
s_expand(fl_zone_t *self, s_reader_t *r)
{
    int64_t until = s_days_from_civil(S_EXPAND_UNTIL_YEAR, 1, 1) * S_SECONDS_PER_DAY;
    int64_t earliest = s_days_from_civil(S_EXPAND_FROM_YEAR, 1, 1) * S_SECONDS_PER_DAY;
    int64_t from = self->count ? self->times[self->count - 1] : earliest;
    if (!self->footer.present || !self->footer.has_dst || from < earliest || from >= until)
        return 0;
    /* At most two changes a year (a start and an end). */
    size_t room = self->count + S_FOOTER_CHANGES_PER_YEAR
                * (size_t) (S_EXPAND_UNTIL_YEAR - S_EXPAND_FROM_YEAR + 1);
    int64_t *times = realloc(self->times, room * sizeof *times);
    if (times)
        self->times = times;
    uint16_t *type_of = realloc(self->type_of, room * sizeof *type_of);
    if (type_of)
        self->type_of = type_of;
    if (!times || !type_of)
        return fl_error_set(r->err, FL_E_NOMEM, "", "%s: out of memory", r->name);
    s_type_t type;
    int64_t next;
    s_footer_at(&self->footer, from, &type, &next);
    if (self->count)
        self->type_of[self->count - 1] = s_type_index(self, type);
    while (next < until && self->count < room) {
        int64_t change = next;
        s_footer_at(&self->footer, change, &type, &next);
        self->times[self->count] = change;
        self->type_of[self->count] = s_type_index(self, type);
        self->count++;
    }
    return 0;
}

fl_zone_t *
fl_zone_parse(const char *name, const void *data, size_t len, fl_error_t *err)
{
    assert(name && (data || len == 0));
    if (len > FL_ZONE_FILE_MAX) {
        fl_error_set(err, FL_E_TOO_LONG, "", "%s: zone file is larger than %d bytes",
                     name, FL_ZONE_FILE_MAX);
        return NULL;
    }
    fl_zone_t *self = calloc(1, sizeof *self);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "%s: out of memory", name);
        return NULL;
    }
    snprintf(self->name, sizeof self->name, "%s", name);
    s_reader_t r = { .data = data, .len = len, .name = self->name, .err = err };
    s_header_t h;
    int version;
    int rc = s_read_header(&r, &version, &h);
    if (rc == 0 && version != 0) {
        /* Skip the version 1 block; read the 64-bit one and the footer. */
        if (!s_has(&r, s_block_len(&h, 4)))
            rc = s_bad(&r, "it ends inside its version 1 data");
        else {
            r.pos += (size_t) s_block_len(&h, 4);
            int version2;
            rc = s_read_header(&r, &version2, &h);
            if (rc == 0 && version2 != version)
                rc = s_bad(&r, "its two headers disagree about the version");
        }
        if (rc == 0)
            rc = s_read_block(&r, &h, 8, self);
        if (rc == 0)
            rc = s_read_footer(&r, self);
        if (rc == 0)
            rc = s_expand(self, &r);
    } else if (rc == 0) {
        rc = s_read_block(&r, &h, 4, self);
        if (rc == 0 && r.pos != r.len)
            rc = s_bad(&r, "it has bytes after its data");
    }
    if (rc != 0) {
        fl_zone_destroy(&self);
        return NULL;
    }
    return self;
}

void
fl_zone_destroy(fl_zone_t **self_p)
{
    assert(self_p);
    fl_zone_t *self = *self_p;
    if (!self)
        return;
    free(self->times);
    free(self->type_of);
    free(self->types);
    free(self);
    *self_p = NULL;
}


/* ---- finding the file ------------------------------------------------------------- */

/*  An IANA name: parts of [A-Za-z0-9_+-] joined by single '/', so never
 *  "..", an absolute path or an empty part. */
static bool
s_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > FL_ZONE_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
        return false;
    for (const char *p = name; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
                  || (*p >= '0' && *p <= '9') || *p == '_' || *p == '+' || *p == '-';
        if (!plain && !(*p == '/' && p[1] != '/'))
            return false;
    }
    return true;
}

fl_zone_t *
fl_zone_new(const char *name, fl_error_t *err)
{
    assert(name);
    if (!s_name_ok(name)) {
        fl_error_set(err, FL_E_INVALID, "",
                     "\"%.*s\": not a time zone name (parts of A-Z a-z 0-9 _ + - joined "
                     "by /, at most %d bytes), e.g. Africa/Nairobi",
                     FL_ZONE_NAME_MAX, name, FL_ZONE_NAME_MAX);
        return NULL;
    }
    const char *dir = getenv(FL_ZONE_DIR_ENV);
    if (!dir || !*dir)
        dir = FL_ZONE_DIR_DEFAULT;
    char path[FL_ZONE_PATH_MAX];
    if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        fl_error_set(err, FL_E_TOO_LONG, "", "%s: the path of its zone file is longer than %d bytes",
                     name, FL_ZONE_PATH_MAX - 1);
        return NULL;
    }
    /* O_NONBLOCK: a FIFO planted in the folder must not hang us in open(). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            fl_error_set(err, FL_E_NOT_FOUND, "", "%s: no such time zone in %s", name, dir);
        else
            fl_error_set(err, FL_E_IO, "", "%s: cannot open %s: %s", name, path, strerror(errno));
        return NULL;
    }
    fl_zone_t *self = NULL;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fl_error_set(err, FL_E_IO, "", "%s: cannot read %s: %s", name, path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        fl_error_set(err, FL_E_NOT_FOUND, "", "%s: no such time zone in %s (it is a folder)",
                     name, dir);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        fl_error_set(err, FL_E_INVALID, "", "%s: %s is not a regular file", name, path);
        goto done;
    }
    if (st.st_size > FL_ZONE_FILE_MAX) {
        fl_error_set(err, FL_E_TOO_LONG, "", "%s: zone file is larger than %d bytes",
                     name, FL_ZONE_FILE_MAX);
        goto done;
    }
    /* One byte more than allowed, to notice a file that grew since fstat. */
    buf = malloc(FL_ZONE_FILE_MAX + 1);
    if (!buf) {
        fl_error_set(err, FL_E_NOMEM, "", "%s: out of memory", name);
        goto done;
    }
    size_t len = 0;
    while (len <= FL_ZONE_FILE_MAX) {
        ssize_t n = read(fd, buf + len, FL_ZONE_FILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fl_error_set(err, FL_E_IO, "", "%s: cannot read %s: %s", name, path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    self = fl_zone_parse(name, buf, len, err);
done:
    free(buf);
    close(fd);
    return self;
}


/* ---- calendar days ---------------------------------------------------------------- */

bool
fl_day_valid(uint32_t yyyymmdd)
{
    int64_t year;
    int month, day;
    return s_day_split(yyyymmdd, &year, &month, &day);
}

uint32_t
fl_day_make(int year, int month, int day)
{
    return s_date_valid(year, month, day) ? s_day_pack(year, month, day) : 0;
}

/* Day number of a valid yyyymmdd. */
static int64_t
s_day_number(uint32_t yyyymmdd)
{
    int64_t year;
    int month, day;
    bool ok = s_day_split(yyyymmdd, &year, &month, &day);
    assert(ok);
    (void) ok;
    return s_days_from_civil(year, month, day);
}

uint32_t
fl_day_add(uint32_t yyyymmdd, int days)
{
    if (!fl_day_valid(yyyymmdd))
        return 0;
    int64_t number = s_day_number(yyyymmdd) + days;
    int64_t year;
    int month, day;
    s_civil_from_days(number, &year, &month, &day);
    return s_date_valid(year, month, day) ? s_day_pack(year, month, day) : 0;
}

int32_t
fl_day_diff(uint32_t a, uint32_t b)
{
    assert(fl_day_valid(a) && fl_day_valid(b));
    return (int32_t) (s_day_number(b) - s_day_number(a));
}

int
fl_day_weekday(uint32_t yyyymmdd)
{
    return fl_day_valid(yyyymmdd) ? s_weekday(s_day_number(yyyymmdd)) : -1;
}

int
fl_day_parse(const char *text, uint32_t *out)
{
    assert(text && out);
    int year = 0, month = 0, day = 0;
    for (int i = 0; i < FL_DAY_TEXT_LEN; i++) {
        char c = text[i];
        if (i == 4 || i == 7) {
            if (c != '-')
                return FL_E_INVALID;
            continue;
        }
        if (c < '0' || c > '9')
            return FL_E_INVALID;
        int *field = i < 4 ? &year : i < 7 ? &month : &day;
        *field = *field * 10 + (c - '0');
    }
    if (text[FL_DAY_TEXT_LEN] != '\0')
        return FL_E_INVALID;
    if (!s_date_valid(year, month, day))
        return FL_E_RANGE;
    *out = s_day_pack(year, month, day);
    return 0;
}

void
fl_day_format(uint32_t yyyymmdd, char out[FL_DAY_TEXT_SIZE])
{
    assert(out);
    int64_t year;
    int month, day;
    if (!s_day_split(yyyymmdd, &year, &month, &day))
        year = month = day = 0;
    /* Digit by digit: the compiler cannot prove snprintf's "%04d" fits. */
    int parts[3] = { (int) year, month, day };
    int widths[3] = { 4, 2, 2 };
    char *p = out;
    for (int k = 0; k < 3; k++) {
        if (k > 0)
            *p++ = '-';
        for (int i = widths[k] - 1; i >= 0; i--, parts[k] /= 10)
            p[i] = (char) ('0' + parts[k] % 10);
        p += widths[k];
    }
    *p = '\0';
}
