/*  test_localtime.c — libfoleni/localtime.h: zones, wall clocks and days.
 *
 *  Known instants are checked in Africa/Nairobi (UTC+3 all year) and in two
 *  zones with daylight saving, Europe/London and America/New_York, on both
 *  sides of the 2026 changes (the spring-forward gap, the autumn overlap) and
 *  of the 2040 ones, which lie past the files' last listed transition, so
 *  they come from the footer rule.  The expected values were taken from
 *  `TZ=zone date -d @utc`.  Property tests walk every quarter hour of 2026
 *  both ways, and compare with the C library's localtime_r over decades.
 *  Malformed zone files are built byte by byte (s_tzif) or cut from real ones.
 */
#include "libfoleni/localtime.h"
#include "libfoleni/error.h"
#include "tests/testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAIROBI "Africa/Nairobi"
#define LONDON  "Europe/London"
#define NEWYORK "America/New_York"
#define HOUR    3600
#define DAY     86400
#define QUARTER (15 * 60)
/* 2026-01-01T00:00:00Z and 2027-01-01T00:00:00Z. */
#define UTC_2026 1767225600LL
#define UTC_2027 1798761600LL
/* Room for any synthetic TZif file below. */
#define TZIF_BUF_MAX 4096
/* Most transitions and types in a synthetic file. */
#define SPEC_TIMES_MAX 8
#define SPEC_TYPES_MAX 4
/* Property tests walk many instants; sanitizers slow them down. */
#define SLOW_TEST_TIMEOUT_S 120

/* ck_assert reports every check that passes to the runner through a pipe (a
 * system call each); loops of thousands of checks use this, which reports
 * only a failure. */
#define EXPECT(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

static fl_zone_t *
s_zone(const char *name)
{
    fl_error_t err;
    fl_zone_t *z = fl_zone_new(name, &err);
    ck_assert_msg(z != NULL, "%s: %s", name, err.message);
    return z;
}

/* ---- known instants ------------------------------------------------------------ */

typedef struct {
    const char *zone;
    int64_t utc;
    int year, month, day, hour, minute, second, wday;
    int offset;
} known_t;

static const known_t s_known[] = {
    /* Nairobi: +3 all year, before and after the epoch, far ahead. */
    { NAIROBI, 0LL,          1970, 1, 1, 3, 0, 0, 4, 10800 },
    { NAIROBI, -1LL,         1970, 1, 1, 2, 59, 59, 4, 10800 },
    { NAIROBI, 951782400LL,  2000, 2, 29, 3, 0, 0, 2, 10800 },
    { NAIROBI, 1234567890LL, 2009, 2, 14, 2, 31, 30, 6, 10800 },
    { NAIROBI, 1700000000LL, 2023, 11, 15, 1, 13, 20, 3, 10800 },
    { NAIROBI, 1767214799LL, 2025, 12, 31, 23, 59, 59, 3, 10800 },
    { NAIROBI, 1767214800LL, 2026, 1, 1, 0, 0, 0, 4, 10800 },
    { NAIROBI, 1835428500LL, 2028, 2, 29, 12, 15, 0, 2, 10800 },
    { NAIROBI, 2000000000LL, 2033, 5, 18, 6, 33, 20, 3, 10800 },
    { NAIROBI, 2216250000LL, 2040, 3, 25, 4, 0, 0, 0, 10800 },
    { NAIROBI, 4102444800LL, 2100, 1, 1, 3, 0, 0, 5, 10800 },
    /* London 2026: the clock jumps 01:00 GMT -> 02:00 BST, falls 02:00 BST -> 01:00 GMT. */
    { LONDON, 1767225600LL, 2026, 1, 1, 0, 0, 0, 4, 0 },
    { LONDON, 1774745999LL, 2026, 3, 29, 0, 59, 59, 0, 0 },
    { LONDON, 1774746000LL, 2026, 3, 29, 2, 0, 0, 0, 3600 },
    { LONDON, 1782864000LL, 2026, 7, 1, 1, 0, 0, 3, 3600 },
    { LONDON, 1792888200LL, 2026, 10, 25, 1, 30, 0, 0, 3600 },   /* first 01:30 */
    { LONDON, 1792891799LL, 2026, 10, 25, 1, 29, 59, 0, 0 },
    { LONDON, 1792891800LL, 2026, 10, 25, 1, 30, 0, 0, 0 },      /* second 01:30 */
    { LONDON, 1792895400LL, 2026, 10, 25, 2, 30, 0, 0, 0 },
    /* London 2040, from the footer rule GMT0BST,M3.5.0/1,M10.5.0. */
    { LONDON, 2216249999LL, 2040, 3, 25, 0, 59, 59, 0, 0 },
    { LONDON, 2216250000LL, 2040, 3, 25, 2, 0, 0, 0, 3600 },
    { LONDON, 2234998799LL, 2040, 10, 28, 1, 59, 59, 0, 3600 },
    { LONDON, 2234998800LL, 2040, 10, 28, 1, 0, 0, 0, 0 },
    { LONDON, 6311433600LL, 2170, 1, 1, 0, 0, 0, 1, 0 },
    /* New York 2026: 02:00 EST -> 03:00 EDT, 02:00 EDT -> 01:00 EST. */
    { NEWYORK, 1767225600LL, 2025, 12, 31, 19, 0, 0, 3, -18000 },
    { NEWYORK, 1772953199LL, 2026, 3, 8, 1, 59, 59, 0, -18000 },
    { NEWYORK, 1772953200LL, 2026, 3, 8, 3, 0, 0, 0, -14400 },
    { NEWYORK, 1782864000LL, 2026, 6, 30, 20, 0, 0, 2, -14400 },
    { NEWYORK, 1793511000LL, 2026, 11, 1, 1, 30, 0, 0, -14400 },  /* first 01:30 */
    { NEWYORK, 1793514599LL, 2026, 11, 1, 1, 29, 59, 0, -18000 },
    { NEWYORK, 1793514600LL, 2026, 11, 1, 1, 30, 0, 0, -18000 },  /* second 01:30 */
    /* New York 2040, from the footer rule EST5EDT,M3.2.0,M11.1.0. */
    { NEWYORK, 2215061999LL, 2040, 3, 11, 1, 59, 59, 0, -18000 },
    { NEWYORK, 2215062000LL, 2040, 3, 11, 3, 0, 0, 0, -14400 },
    { NEWYORK, 2235621599LL, 2040, 11, 4, 1, 59, 59, 0, -14400 },
    { NEWYORK, 2235621600LL, 2040, 11, 4, 1, 0, 0, 0, -18000 },
    { NEWYORK, 6311433600LL, 2169, 12, 31, 19, 0, 0, 0, -18000 },
};
#define KNOWN_COUNT (sizeof s_known / sizeof s_known[0])

START_TEST(test_local_wall_clock_of_known_instants)
{
    const known_t *k = &s_known[_i];
    fl_zone_t *z = s_zone(k->zone);
    fl_local_t l;
    fl_zone_local(z, k->utc, &l);
    ck_assert_msg(l.year == k->year && l.month == k->month && l.day == k->day
                  && l.hour == k->hour && l.minute == k->minute && l.second == k->second
                  && l.wday == k->wday && l.utc_offset_s == k->offset,
                  "%s @%lld: got %04d-%02d-%02d %02d:%02d:%02d wday %d off %d",
                  k->zone, (long long) k->utc, l.year, l.month, l.day, l.hour, l.minute,
                  l.second, l.wday, l.utc_offset_s);
    ck_assert_int_eq(l.is_dst, k->offset != 0 && k->offset != 10800 && k->offset != -18000);
    ck_assert_int_eq(fl_zone_offset(z, k->utc), k->offset);
    ck_assert_uint_eq(fl_zone_day(z, k->utc), fl_day_make(k->year, k->month, k->day));
    fl_zone_destroy(&z);
    ck_assert_ptr_null(z);
}
END_TEST

/* Every known instant whose wall time happens once maps back to itself. */
START_TEST(test_unambiguous_wall_time_maps_back_to_its_instant)
{
    const known_t *k = &s_known[_i];
    if (k->second != 0)
        return;                             /* fl_zone_utc takes whole minutes */
    fl_zone_t *z = s_zone(k->zone);
    /* The second pass through an autumn overlap maps to the first, an hour earlier. */
    bool second_pass = k->utc == 1792891800LL || k->utc == 1793514600LL
                    || k->utc == 2234998800LL || k->utc == 2235621600LL;
    int64_t utc = 0;
    ck_assert_int_eq(fl_zone_utc(z, k->year, k->month, k->day, k->hour * 60 + k->minute, &utc), 0);
    ck_assert_int_eq(utc, second_pass ? k->utc - HOUR : k->utc);
    fl_zone_destroy(&z);
}
END_TEST

/* ---- gaps and overlaps ------------------------------------------------------------ */

typedef struct {
    const char *zone;
    int year, month, day, minute;
    int64_t utc;
    const char *why;
} wall_t;

static const wall_t s_walls[] = {
    /* London spring 2026: 01:00..01:59 never happen; the gap ends at 01:00Z. */
    { LONDON, 2026, 3, 29, 59, 1774745940LL, "00:59 GMT, before the gap" },
    { LONDON, 2026, 3, 29, 60, 1774746000LL, "01:00 is the gap's first minute" },
    { LONDON, 2026, 3, 29, 90, 1774746000LL, "01:30 does not exist" },
    { LONDON, 2026, 3, 29, 119, 1774746000LL, "01:59 does not exist" },
    { LONDON, 2026, 3, 29, 120, 1774746000LL, "02:00 BST, the gap's end" },
    { LONDON, 2026, 3, 29, 150, 1774747800LL, "02:30 BST" },
    /* London autumn 2026: 01:00..01:59 happen twice; the BST one comes first. */
    { LONDON, 2026, 10, 25, 59, 1792886340LL, "00:59 BST" },
    { LONDON, 2026, 10, 25, 60, 1792886400LL, "01:00 BST, not GMT" },
    { LONDON, 2026, 10, 25, 90, 1792888200LL, "01:30 BST, not GMT" },
    { LONDON, 2026, 10, 25, 120, 1792893600LL, "02:00 GMT, once" },
    /* New York spring 2026: 02:00..02:59 never happen; the gap ends at 07:00Z. */
    { NEWYORK, 2026, 3, 8, 119, 1772953140LL, "01:59 EST" },
    { NEWYORK, 2026, 3, 8, 150, 1772953200LL, "02:30 does not exist" },
    { NEWYORK, 2026, 3, 8, 180, 1772953200LL, "03:00 EDT, the gap's end" },
    /* New York autumn 2026: 01:00..01:59 twice; EDT first. */
    { NEWYORK, 2026, 11, 1, 90, 1793511000LL, "01:30 EDT, not EST" },
    { NEWYORK, 2026, 11, 1, 120, 1793516400LL, "02:00 EST, once" },
    /* 2040, past the last listed transition: the footer rule decides. */
    { LONDON, 2040, 3, 25, 90, 2216250000LL, "2040 gap" },
    { LONDON, 2040, 10, 28, 90, 2234997000LL, "2040 overlap" },
    { NEWYORK, 2040, 3, 11, 150, 2215062000LL, "2040 gap" },
    { NEWYORK, 2040, 11, 4, 90, 2235619800LL, "2040 overlap" },
    /* Nairobi: every wall time happens exactly once. */
    { NAIROBI, 2026, 3, 29, 90, 1774737000LL, "01:30 EAT" },
    { NAIROBI, 2028, 2, 29, 555, 1835417700LL, "leap day 09:15 EAT" },
    /* minute_of_day 1440 is 24:00, the next day's midnight. */
    { NAIROBI, 2025, 12, 31, 1440, 1767214800LL, "24:00 on New Year's Eve" },
    { LONDON, 2026, 3, 28, 1440, 1774742400LL, "24:00 before the gap day" },
};
#define WALLS_COUNT (sizeof s_walls / sizeof s_walls[0])

START_TEST(test_gap_gives_its_end_and_overlap_gives_earlier_instant)
{
    const wall_t *w = &s_walls[_i];
    fl_zone_t *z = s_zone(w->zone);
    int64_t utc = 0;
    ck_assert_int_eq(fl_zone_utc(z, w->year, w->month, w->day, w->minute, &utc), 0);
    ck_assert_msg(utc == w->utc, "%s %04d-%02d-%02d +%d min (%s): got %lld, want %lld",
                  w->zone, w->year, w->month, w->day, w->minute, w->why,
                  (long long) utc, (long long) w->utc);
    fl_zone_destroy(&z);
}
END_TEST

/* For each year the footer governs, the change falls on the rule's day. */
START_TEST(test_footer_rule_governs_every_year_after_the_table)
{
    fl_zone_t *london = s_zone(LONDON), *ny = s_zone(NEWYORK), *nbo = s_zone(NAIROBI);
    for (int year = 2030; year <= FL_YEAR_MAX && year <= 2399; year++) {
        /* London: last Sunday of March and of October, at 01:00 UTC. */
        uint32_t mar = fl_day_make(year, 3, 31), oct = fl_day_make(year, 10, 31);
        mar = fl_day_add(mar, -fl_day_weekday(mar));
        oct = fl_day_add(oct, -fl_day_weekday(oct));
        int64_t on = fl_zone_day_start(nbo, mar) + 3 * HOUR + HOUR;   /* 00:00Z + 1h */
        int64_t off = fl_zone_day_start(nbo, oct) + 3 * HOUR + HOUR;
        EXPECT(fl_zone_offset(london, on - 1) == 0 && fl_zone_offset(london, on) == HOUR
                      && fl_zone_offset(london, off - 1) == HOUR
                      && fl_zone_offset(london, off) == 0, "London %d", year);
        /* New York: second Sunday of March 02:00 EST, first of November 02:00 EDT. */
        uint32_t mar1 = fl_day_make(year, 3, 1), nov1 = fl_day_make(year, 11, 1);
        mar1 = fl_day_add(mar1, (7 - fl_day_weekday(mar1)) % 7 + 7);
        nov1 = fl_day_add(nov1, (7 - fl_day_weekday(nov1)) % 7);
        on = fl_zone_day_start(nbo, mar1) + 3 * HOUR + 7 * HOUR;
        off = fl_zone_day_start(nbo, nov1) + 3 * HOUR + 6 * HOUR;
        EXPECT(fl_zone_offset(ny, on - 1) == -5 * HOUR
                      && fl_zone_offset(ny, on) == -4 * HOUR
                      && fl_zone_offset(ny, off - 1) == -4 * HOUR
                      && fl_zone_offset(ny, off) == -5 * HOUR, "New York %d", year);
        EXPECT(fl_zone_offset(nbo, on) == 3 * HOUR, "Nairobi %d", year);
    }
    fl_zone_destroy(&london);
    fl_zone_destroy(&ny);
    fl_zone_destroy(&nbo);
}
END_TEST

/* ---- properties over 2026 ---------------------------------------------------------- */

typedef struct {
    const char *zone;
    int gap_quarters;           /* wall times of 2026 that never happen */
    int overlap_quarters;       /* instants of 2026 whose wall time happened before */
} zone_year_t;

static const zone_year_t s_years[] = {
    { NAIROBI, 0, 0 },
    { LONDON, 4, 4 },           /* 01:00, 01:15, 01:30, 01:45 */
    { NEWYORK, 4, 4 },          /* 02:00..02:45 in March; 01:00..01:45 EST in November */
};
#define YEARS_COUNT (sizeof s_years / sizeof s_years[0])

/* local -> utc -> local gives the same wall time, except in gaps, where it
 * gives the wall time at the end of the gap. */
START_TEST(test_wall_time_round_trips_every_quarter_hour_except_in_gaps)
{
    const zone_year_t *zy = &s_years[_i];
    fl_zone_t *z = s_zone(zy->zone);
    int gaps = 0;
    for (uint32_t d = 20260101; d <= 20261231; d = fl_day_add(d, 1)) {
        int year = (int) (d / 10000), month = (int) (d / 100 % 100), day = (int) (d % 100);
        for (int minute = 0; minute < FL_DAY_MINUTES; minute += 15) {
            int64_t utc;
            EXPECT(fl_zone_utc(z, year, month, day, minute, &utc) == 0, "%u %d", d, minute);
            fl_local_t l;
            fl_zone_local(z, utc, &l);
            if (l.year == year && l.month == month && l.day == day
                && l.hour * 60 + l.minute == minute && l.second == 0)
                continue;
            /* A gap: utc is a transition that moves the clock forward past minute. */
            gaps++;
            EXPECT(l.utc_offset_s > fl_zone_offset(z, utc - 1), "%u %d: not a gap", d, minute);
            fl_local_t before;
            fl_zone_local(z, utc - 1, &before);
            int at = l.hour * 60 + l.minute, was = before.hour * 60 + before.minute + 1;
            EXPECT(was <= minute && minute < at && l.day == day,
                          "%s %u %d: gap %d..%d", zy->zone, d, minute, was, at);
        }
    }
    ck_assert_int_eq(gaps, zy->gap_quarters);
    fl_zone_destroy(&z);
}
END_TEST

/* utc -> local -> utc gives the same instant, except for the second pass
 * through an overlap, which maps to the first. */
START_TEST(test_instant_round_trips_every_quarter_hour_except_repeated_ones)
{
    const zone_year_t *zy = &s_years[_i];
    fl_zone_t *z = s_zone(zy->zone);
    int repeats = 0;
    for (int64_t t = UTC_2026; t < UTC_2027; t += QUARTER) {
        fl_local_t l;
        fl_zone_local(z, t, &l);
        int64_t back;
        EXPECT(fl_zone_utc(z, l.year, l.month, l.day, l.hour * 60 + l.minute, &back) == 0,
               "@%lld", (long long) t);
        if (back == t)
            continue;
        repeats++;
        EXPECT(back < t, "@%lld maps to the later %lld", (long long) t, (long long) back);
        fl_local_t first;
        fl_zone_local(z, back, &first);
        EXPECT(first.hour == l.hour && first.minute == l.minute && first.day == l.day
               && first.utc_offset_s > l.utc_offset_s, "@%lld: not an overlap", (long long) t);
    }
    ck_assert_int_eq(repeats, zy->overlap_quarters);
    fl_zone_destroy(&z);
}
END_TEST

/* Ticket day d runs from day_start(d) to day_start(d + 1); days in DST zones
 * last 23 or 25 hours on the change days. */
START_TEST(test_ticket_days_tile_the_year)
{
    const zone_year_t *zy = &s_years[_i];
    fl_zone_t *z = s_zone(zy->zone);
    int short_days = 0, long_days = 0;
    for (uint32_t d = 20260101; d <= 20261231; d = fl_day_add(d, 1)) {
        int64_t start = fl_zone_day_start(z, d), end = fl_zone_day_start(z, fl_day_add(d, 1));
        EXPECT(fl_zone_day(z, start) == d && fl_zone_day(z, start - 1) == fl_day_add(d, -1)
               && fl_zone_day(z, end - 1) == d, "%s %u: day starts at %lld, next at %lld",
               zy->zone, d, (long long) start, (long long) end);
        short_days += end - start == DAY - HOUR;
        long_days += end - start == DAY + HOUR;
        EXPECT(end - start == DAY || end - start == DAY - HOUR || end - start == DAY + HOUR,
               "%s %u lasts %lld s", zy->zone, d, (long long) (end - start));
    }
    ck_assert_int_eq(short_days, zy->gap_quarters ? 1 : 0);
    ck_assert_int_eq(long_days, zy->overlap_quarters ? 1 : 0);
    fl_zone_destroy(&z);
}
END_TEST

/* Cuba moves its clocks at midnight: 2026-03-08 starts at 01:00 CDT. */
START_TEST(test_day_start_when_midnight_is_skipped)
{
    fl_zone_t *z = s_zone("America/Havana");
    ck_assert_int_eq(fl_zone_day_start(z, 20260308), 1772946000LL);
    ck_assert_uint_eq(fl_zone_day(z, 1772946000LL - 1), 20260307);
    fl_local_t l;
    fl_zone_local(z, fl_zone_day_start(z, 20260308), &l);
    ck_assert_int_eq(l.hour, 1);
    ck_assert_int_eq(l.minute, 0);
    ck_assert_int_eq(fl_zone_day_start(z, 20260230), FL_TIME_INVALID);
    ck_assert_int_eq(fl_zone_day_start(z, 0), FL_TIME_INVALID);
    fl_zone_destroy(&z);
}
END_TEST

/* ---- against the C library ------------------------------------------------------- */

static const char *s_glibc_zones[] = {
    NAIROBI, LONDON, NEWYORK,
    "Australia/Sydney",         /* southern hemisphere: DST spans New Year */
    "Europe/Dublin",            /* "negative" DST: winter is the DST type */
    "America/Nuuk",             /* rule times -1 and 0 */
    "Pacific/Chatham",          /* +12:45 / +13:45 */
    "Asia/Kolkata",             /* +05:30 */
    "America/Havana",           /* changes at midnight */
    "Africa/Casablanca",        /* many listed transitions, far ahead */
};
#define GLIBC_ZONES_COUNT (sizeof s_glibc_zones / sizeof s_glibc_zones[0])
/* 1950..2110 every 7 hours and 13 seconds. */
#define GLIBC_FROM  (-631152000LL)
#define GLIBC_UNTIL (4417977600LL)
#define GLIBC_STEP  (7 * HOUR + 13)

static void
s_assert_like_libc(const fl_zone_t *z, int64_t t)
{
    time_t tt = (time_t) t;
    struct tm tm;
    EXPECT(localtime_r(&tt, &tm) != NULL, "localtime_r @%lld", (long long) t);
    fl_local_t l;
    fl_zone_local(z, t, &l);
    EXPECT(l.year == tm.tm_year + 1900 && l.month == tm.tm_mon + 1
                  && l.day == tm.tm_mday && l.hour == tm.tm_hour && l.minute == tm.tm_min
                  && l.second == tm.tm_sec && l.wday == tm.tm_wday
                  && l.utc_offset_s == tm.tm_gmtoff && l.is_dst == (tm.tm_isdst > 0),
                  "%s @%lld: libc %04d-%02d-%02d %02d:%02d:%02d off %ld dst %d, "
                  "we %04d-%02d-%02d %02d:%02d:%02d off %d dst %d",
                  fl_zone_name(z), (long long) t, tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_gmtoff, tm.tm_isdst,
                  l.year, l.month, l.day, l.hour, l.minute, l.second, l.utc_offset_s,
                  l.is_dst);
}

START_TEST(test_agrees_with_c_library_over_decades)
{
    const char *name = s_glibc_zones[_i];
    fl_zone_t *z = s_zone(name);
    ck_assert_int_eq(setenv("TZ", name, 1), 0);     /* this test runs in its own fork */
    tzset();
    for (int64_t t = GLIBC_FROM; t < GLIBC_UNTIL; t += GLIBC_STEP)
        s_assert_like_libc(z, t);
    fl_zone_destroy(&z);
}
END_TEST

/* Several zones used in turn give the same answers as each alone. */
START_TEST(test_zones_interleave_without_interference)
{
    fl_zone_t *zones[3] = { s_zone(NAIROBI), s_zone(LONDON), s_zone(NEWYORK) };
    fl_zone_t *alone = s_zone(LONDON);
    for (int64_t t = UTC_2026; t < UTC_2027; t += 4 * HOUR + 1) {
        fl_local_t a, b;
        for (int k = 0; k < 3; k++)
            fl_zone_local(zones[(t / HOUR + k) % 3], t, &a);
        fl_zone_local(zones[1], t, &a);
        fl_zone_local(alone, t, &b);
        EXPECT(a.year == b.year && a.month == b.month && a.day == b.day && a.hour == b.hour
               && a.minute == b.minute && a.second == b.second && a.wday == b.wday
               && a.utc_offset_s == b.utc_offset_s && a.is_dst == b.is_dst,
               "@%lld differs", (long long) t);
    }
    for (int k = 0; k < 3; k++)
        fl_zone_destroy(&zones[k]);
    fl_zone_destroy(&alone);
}
END_TEST

START_TEST(test_extreme_instants_are_clamped)
{
    fl_zone_t *z = s_zone(NEWYORK);
    fl_local_t l;
    fl_zone_local(z, INT64_MAX, &l);
    ck_assert_int_eq(l.year, FL_YEAR_MAX);
    ck_assert_uint_eq(fl_zone_day(z, INT64_MAX), fl_zone_day(z, FL_UTC_MAX));
    fl_zone_local(z, INT64_MIN, &l);
    ck_assert_int_eq(l.year, FL_YEAR_MIN);
    ck_assert(fl_day_valid(fl_zone_day(z, INT64_MIN)));
    int64_t utc;
    ck_assert_int_eq(fl_zone_utc(z, FL_YEAR_MAX, 12, 31, FL_DAY_MINUTES, &utc), 0);
    ck_assert_int_eq(fl_zone_utc(z, FL_YEAR_MIN, 1, 1, 0, &utc), 0);
    fl_zone_destroy(&z);
}
END_TEST

typedef struct {
    int year, month, day, minute;
} bad_wall_t;

static const bad_wall_t s_bad_walls[] = {
    { 2027, 2, 29, 0 }, { 2100, 2, 29, 0 }, { 2026, 4, 31, 0 }, { 2026, 13, 1, 0 },
    { 2026, 0, 1, 0 }, { 2026, 1, 0, 0 }, { 2026, 1, 32, 0 }, { 0, 1, 1, 0 },
    { 10000, 1, 1, 0 }, { -1, 1, 1, 0 }, { 2026, 1, 1, -1 }, { 2026, 1, 1, 1441 },
    { INT_MAX, INT_MAX, INT_MAX, INT_MAX }, { 2026, 6, 15, INT_MIN },
};
#define BAD_WALLS_COUNT (sizeof s_bad_walls / sizeof s_bad_walls[0])

START_TEST(test_impossible_wall_time_is_range_error)
{
    const bad_wall_t *b = &s_bad_walls[_i];
    fl_zone_t *z = s_zone(LONDON);
    int64_t utc = 42;
    ck_assert_int_eq(fl_zone_utc(z, b->year, b->month, b->day, b->minute, &utc), FL_E_RANGE);
    ck_assert_int_eq(utc, 42);
    fl_zone_destroy(&z);
}
END_TEST

START_TEST(test_leap_day_2028)
{
    fl_zone_t *z = s_zone(NAIROBI);
    int64_t utc;
    ck_assert_int_eq(fl_zone_utc(z, 2028, 2, 29, 9 * 60 + 15, &utc), 0);
    ck_assert_int_eq(utc, 1835428500LL - 3 * HOUR);
    ck_assert_uint_eq(fl_zone_day(z, utc), 20280229);
    ck_assert_int_eq(fl_zone_day_start(z, 20280301) - fl_zone_day_start(z, 20280228), 2 * DAY);
    ck_assert(fl_day_valid(20280229) && fl_day_valid(20000229) && fl_day_valid(24000229));
    ck_assert(!fl_day_valid(20270229) && !fl_day_valid(21000229) && !fl_day_valid(19000229));
    ck_assert_uint_eq(fl_day_add(20280228, 1), 20280229);
    ck_assert_uint_eq(fl_day_add(20280228, 2), 20280301);
    ck_assert_uint_eq(fl_day_add(20270228, 1), 20270301);
    ck_assert_uint_eq(fl_day_add(20280229, 365), 20290228);
    ck_assert_uint_eq(fl_day_add(20280229, 366), 20290301);
    ck_assert_int_eq(fl_day_diff(20280101, 20290101), 366);
    ck_assert_int_eq(fl_day_diff(20270101, 20280101), 365);
    fl_zone_destroy(&z);
}
END_TEST

/* ---- calendar days --------------------------------------------------------------- */

typedef struct {
    uint32_t from;
    int days;
    uint32_t to;
} add_t;

static const add_t s_adds[] = {
    { 20260131, 1, 20260201 }, { 20260228, 1, 20260301 }, { 20260331, 1, 20260401 },
    { 20260430, 1, 20260501 }, { 20261231, 1, 20270101 }, { 20270101, -1, 20261231 },
    { 20260301, -1, 20260228 }, { 20260315, 0, 20260315 }, { 20260101, 365, 20270101 },
    { 20260101, -365, 20250101 }, { 19700101, -1, 19691231 }, { 20000101, 10000, 20270519 },
    { 20260329, 7, 20260405 }, { 20261225, 14, 20270108 }, { 10101, 0, 10101 },
    { 10101, 3652058, 99991231 }, { 99991231, -3652058, 10101 }, { 99991230, 1, 99991231 },
};
#define ADDS_COUNT (sizeof s_adds / sizeof s_adds[0])

START_TEST(test_day_add_crosses_month_and_year_ends)
{
    const add_t *a = &s_adds[_i];
    ck_assert_msg(fl_day_add(a->from, a->days) == a->to, "%u %+d: got %u, want %u",
                  a->from, a->days, fl_day_add(a->from, a->days), a->to);
    ck_assert_int_eq(fl_day_diff(a->from, a->to), a->days);
    ck_assert_int_eq(fl_day_diff(a->to, a->from), -a->days);
}
END_TEST

START_TEST(test_day_add_refuses_invalid_days_and_overflow)
{
    ck_assert_uint_eq(fl_day_add(0, 1), 0);
    ck_assert_uint_eq(fl_day_add(20260230, 0), 0);
    ck_assert_uint_eq(fl_day_add(20261301, 0), 0);
    ck_assert_uint_eq(fl_day_add(100000101, 0), 0);
    ck_assert_uint_eq(fl_day_add(UINT32_MAX, 0), 0);
    ck_assert_uint_eq(fl_day_add(FL_DAY_MAX, 1), 0);
    ck_assert_uint_eq(fl_day_add(FL_DAY_MIN, -1), 0);
    ck_assert_uint_eq(fl_day_add(20260101, INT_MAX), 0);
    ck_assert_uint_eq(fl_day_add(20260101, INT_MIN), 0);
    ck_assert_uint_eq(fl_day_make(2026, 2, 29), 0);
    ck_assert_uint_eq(fl_day_make(2026, 12, 31), 20261231);
    ck_assert(!fl_day_valid(0) && fl_day_valid(FL_DAY_MIN) && fl_day_valid(FL_DAY_MAX));
}
END_TEST

typedef struct {
    uint32_t day;
    int wday;
} weekday_t;

static const weekday_t s_weekdays[] = {
    { 19700101, 4 },            /* Thursday: the epoch */
    { 19691231, 3 },
    { 20000101, 6 },            /* Saturday */
    { 20000229, 2 },
    { 20240229, 4 },
    { 20260101, 4 },
    { 20260329, 0 },            /* Sunday: London springs forward */
    { 20261025, 0 },
    { 20261212, 6 },            /* Jamhuri Day 2026, a Saturday */
    { 20280229, 2 },
    { 20380119, 2 },            /* the 32-bit time_t rollover */
    { 15821015, 5 },            /* first Gregorian day, a Friday */
    { 10101, 1 },               /* proleptic: 0001-01-01 was a Monday */
    { 99991231, 5 },
    { 20260230, -1 },           /* no such day */
    { 0, -1 },
};
#define WEEKDAYS_COUNT (sizeof s_weekdays / sizeof s_weekdays[0])

START_TEST(test_weekday_of_known_dates)
{
    const weekday_t *w = &s_weekdays[_i];
    ck_assert_msg(fl_day_weekday(w->day) == w->wday, "%u: got %d, want %d", w->day,
                  fl_day_weekday(w->day), w->wday);
}
END_TEST

typedef struct {
    const char *text;
    int rc;
    uint32_t day;
} parse_t;

static const parse_t s_parses[] = {
    { "2026-03-29", 0, 20260329 }, { "2028-02-29", 0, 20280229 }, { "0001-01-01", 0, 10101 },
    { "9999-12-31", 0, 99991231 }, { "2000-02-29", 0, 20000229 },
    { "2027-02-29", FL_E_RANGE, 0 }, { "2026-13-01", FL_E_RANGE, 0 },
    { "2026-00-10", FL_E_RANGE, 0 }, { "2026-04-31", FL_E_RANGE, 0 },
    { "2026-01-00", FL_E_RANGE, 0 }, { "0000-01-01", FL_E_RANGE, 0 },
    { "2100-02-29", FL_E_RANGE, 0 },
    { "", FL_E_INVALID, 0 }, { "2026-3-29", FL_E_INVALID, 0 }, { "2026-03-9", FL_E_INVALID, 0 },
    { "2026/03/29", FL_E_INVALID, 0 }, { "20260329", FL_E_INVALID, 0 },
    { "2026-03-29 ", FL_E_INVALID, 0 }, { " 2026-03-29", FL_E_INVALID, 0 },
    { "2026-03-29T00:00", FL_E_INVALID, 0 }, { "+026-03-29", FL_E_INVALID, 0 },
    { "-026-03-29", FL_E_INVALID, 0 }, { "2026-0x-29", FL_E_INVALID, 0 },
    { "2026--3-29", FL_E_INVALID, 0 }, { "12026-03-29", FL_E_INVALID, 0 },
    { "2026-03-2", FL_E_INVALID, 0 }, { "abcd-ef-gh", FL_E_INVALID, 0 },
};
#define PARSES_COUNT (sizeof s_parses / sizeof s_parses[0])

START_TEST(test_day_parse_accepts_only_real_iso_dates)
{
    const parse_t *p = &s_parses[_i];
    uint32_t day = 7;
    ck_assert_msg(fl_day_parse(p->text, &day) == p->rc, "\"%s\": got %d, want %d", p->text,
                  fl_day_parse(p->text, &day), p->rc);
    ck_assert_uint_eq(day, p->rc == 0 ? p->day : 7);
}
END_TEST

START_TEST(test_day_format_and_parse_round_trip)
{
    char text[FL_DAY_TEXT_SIZE];
    int count = 0;
    for (uint32_t d = 19991201; d != 0 && d <= 20310131; d = fl_day_add(d, 1), count++) {
        fl_day_format(d, text);
        uint32_t back = 0;
        EXPECT(strlen(text) == FL_DAY_TEXT_LEN && fl_day_parse(text, &back) == 0 && back == d,
               "%u -> \"%s\" -> %u", d, text, back);
        EXPECT(fl_day_diff(19991201, d) == count, "%u: diff", d);
        EXPECT(fl_day_weekday(d) == (count + 3) % 7, "%u: weekday", d);  /* 1999-12-01: Wed */
    }
    fl_day_format(10101, text);
    ck_assert_str_eq(text, "0001-01-01");
    fl_day_format(99991231, text);
    ck_assert_str_eq(text, "9999-12-31");
    fl_day_format(20260230, text);
    ck_assert_str_eq(text, "0000-00-00");
    fl_day_format(UINT32_MAX, text);
    ck_assert_str_eq(text, "0000-00-00");
}
END_TEST

/* ---- synthetic zone files ------------------------------------------------------------ */

/* The parts of a TZif file, written by s_tzif. */
typedef struct {
    int version;                /* 0 for version 1, else '2', '3'... */
    int version2;               /* second header's version; 0: same as version */
    int ntimes;
    int64_t times[SPEC_TIMES_MAX];
    uint8_t idx[SPEC_TIMES_MAX];
    int ntypes;
    int32_t off[SPEC_TYPES_MAX];
    uint8_t dst[SPEC_TYPES_MAX];
    const char *footer;         /* between the newlines; NULL: no footer at all */
    uint32_t leapcnt;
    const char *trailer;        /* bytes after everything, or NULL */
} tzif_spec_t;

static uint8_t *
s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24); p[1] = (uint8_t) (v >> 16); p[2] = (uint8_t) (v >> 8); p[3] = (uint8_t) v;
    return p + 4;
}

static uint8_t *
s_put64(uint8_t *p, uint64_t v)
{
    return s_put32(s_put32(p, (uint32_t) (v >> 32)), (uint32_t) v);
}

static uint8_t *
s_header(uint8_t *p, int version, uint32_t leap, uint32_t times, uint32_t types, uint32_t chars)
{
    memcpy(p, "TZif", 4);
    p[4] = (uint8_t) version;
    memset(p + 5, 0, 15);
    p += 20;
    p = s_put32(p, 0);          /* isutcnt */
    p = s_put32(p, 0);          /* isstdcnt */
    p = s_put32(p, leap);
    p = s_put32(p, times);
    p = s_put32(p, types);
    return s_put32(p, chars);
}

/* The data block: times of time_len bytes, indices, types, "ABC\0", leap records. */
static uint8_t *
s_block(uint8_t *p, const tzif_spec_t *s, int time_len)
{
    for (int i = 0; i < s->ntimes; i++)
        p = time_len == 8 ? s_put64(p, (uint64_t) s->times[i])
                          : s_put32(p, (uint32_t) (int32_t) s->times[i]);
    for (int i = 0; i < s->ntimes; i++)
        *p++ = s->idx[i];
    for (int i = 0; i < s->ntypes; i++) {
        p = s_put32(p, (uint32_t) s->off[i]);
        *p++ = s->dst[i];
        *p++ = 0;
    }
    memcpy(p, "ABC", 4);
    p += 4;
    memset(p, 0, s->leapcnt * (size_t) (time_len + 4));
    return p + s->leapcnt * (size_t) (time_len + 4);
}

static size_t
s_tzif(const tzif_spec_t *s, uint8_t *buf)
{
    uint8_t *p = buf;
    if (s->version == 0) {
        p = s_header(p, 0, s->leapcnt, (uint32_t) s->ntimes, (uint32_t) s->ntypes, 4);
        p = s_block(p, s, 4);
    } else {
        /* A minimal version 1 block (one type, no transitions), then the real one. */
        tzif_spec_t v1 = { .ntypes = 1 };
        p = s_header(p, s->version, 0, 0, 1, 4);
        p = s_block(p, &v1, 4);
        p = s_header(p, s->version2 ? s->version2 : s->version, s->leapcnt,
                     (uint32_t) s->ntimes, (uint32_t) s->ntypes, 4);
        p = s_block(p, s, 8);
        if (s->footer) {
            *p++ = '\n';
            memcpy(p, s->footer, strlen(s->footer));
            p += strlen(s->footer);
            *p++ = '\n';
        }
    }
    if (s->trailer) {
        memcpy(p, s->trailer, strlen(s->trailer));
        p += strlen(s->trailer);
    }
    ck_assert_uint_le((size_t) (p - buf), TZIF_BUF_MAX);
    return (size_t) (p - buf);
}

static fl_zone_t *
s_parse_spec(const tzif_spec_t *s, fl_error_t *err)
{
    uint8_t buf[TZIF_BUF_MAX];
    size_t len = s_tzif(s, buf);
    return fl_zone_parse("Test/Zone", buf, len, err);
}

/* A zone with only a footer rule, for each footer form.  glibc computes a
 * year's changes from the UTC year, which goes wrong when a change falls
 * within hours of New Year; these rules keep clear of that. */
static const char *s_footers[] = {
    "EAT-3",
    "<+0545>-5:45",
    "UTC0",
    "EST5EDT,M3.2.0,M11.1.0",
    "GMT0BST,M3.5.0/1,M10.5.0",
    "AEST-10AEDT,M10.1.0,M4.1.0/3",
    "IST-1GMT0,M10.5.0,M3.5.0/1",
    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
    "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
    "XXX3YYY,J60/2,J300/2",               /* Julian days, no 29 February */
    "XXX3YYY,59/2,299/2",                 /* zero-based days with 29 February */
    "XXX-2YYY-3:30:15,M1.2.1/0,M12.3.6/23:59:59",
};
#define FOOTERS_COUNT (sizeof s_footers / sizeof s_footers[0])

START_TEST(test_footer_forms_agree_with_c_library)
{
    const char *footer = s_footers[_i];
    tzif_spec_t spec = { .version = '2', .ntypes = 1, .footer = footer };
    fl_error_t err;
    fl_zone_t *z = s_parse_spec(&spec, &err);
    ck_assert_msg(z != NULL, "%s: %s", footer, err.message);
    ck_assert_int_eq(setenv("TZ", footer, 1), 0);
    tzset();
    /* From 1970 (the table starts then; glibc's rules go wrong before it),
     * around now, and around 2100 (where the table ends). */
    static const int64_t windows[] = { 5 * 365 * DAY, UTC_2026, 4102444800LL };
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++)
        for (int64_t t = windows[w] - 5 * 365 * DAY; t < windows[w] + 5 * 365 * DAY;
             t += 3 * HOUR + 7)
            s_assert_like_libc(z, t);
    fl_zone_destroy(&z);
}
END_TEST

/* "0/0,J365/25": daylight time all year (glibc gets New Year wrong here). */
START_TEST(test_footer_daylight_time_all_year)
{
    tzif_spec_t spec = { .version = '3', .ntypes = 1, .footer = "EST5EDT4,0/0,J365/25" };
    fl_zone_t *z = s_parse_spec(&spec, NULL);
    ck_assert_ptr_nonnull(z);
    for (int64_t t = UTC_2026 - 2 * DAY; t < UTC_2027 + 2 * DAY; t += HOUR)
        EXPECT(fl_zone_offset(z, t) == -4 * HOUR, "@%lld", (long long) t);
    fl_zone_destroy(&z);
}
END_TEST

/* Transitions, then the footer; before the first, type 0; version 1 files. */
START_TEST(test_table_then_footer_then_version_1)
{
    /* Type 0 (+1) until 2000, type 1 (+2, DST) until 2010, then the footer. */
    tzif_spec_t spec = { .version = '2', .ntimes = 2, .times = { 946684800LL, 1262304000LL },
                         .idx = { 1, 0 }, .ntypes = 2, .off = { 3600, 7200 }, .dst = { 0, 1 },
                         .footer = "AAA-4" };
    fl_zone_t *z = s_parse_spec(&spec, NULL);
    ck_assert_ptr_nonnull(z);
    ck_assert_str_eq(fl_zone_name(z), "Test/Zone");
    ck_assert_int_eq(fl_zone_offset(z, 946684799LL), 3600);
    ck_assert_int_eq(fl_zone_offset(z, 946684800LL), 7200);
    ck_assert_int_eq(fl_zone_offset(z, 1262303999LL), 7200);
    ck_assert_int_eq(fl_zone_offset(z, 1262304000LL), 4 * HOUR);  /* footer from the last one */
    ck_assert_int_eq(fl_zone_offset(z, UTC_2026), 4 * HOUR);
    fl_zone_destroy(&z);

    /* An empty footer: the last type stays in force. */
    spec.footer = "";
    z = s_parse_spec(&spec, NULL);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(fl_zone_offset(z, UTC_2026), 3600);
    fl_zone_destroy(&z);

    /* Version 1: 32-bit times, no footer. */
    spec.version = 0;
    spec.footer = NULL;
    z = s_parse_spec(&spec, NULL);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(fl_zone_offset(z, 946684800LL), 7200);
    ck_assert_int_eq(fl_zone_offset(z, UTC_2026), 3600);
    int64_t utc;
    ck_assert_int_eq(fl_zone_utc(z, 2000, 1, 1, 60, &utc), 0);   /* 01:00 +1 -> 02:00 +2: gap */
    ck_assert_int_eq(utc, 946684800LL);
    fl_zone_destroy(&z);
}
END_TEST

/* A "slim" file lists transitions only until the footer rule can take
 * over; it must answer like the "fat" one, which lists them until 2037. */
START_TEST(test_slim_file_answers_like_fat_file)
{
    tzif_spec_t spec = { .version = '2', .ntimes = 1, .times = { 1193533200LL }, .idx = { 0 },
                         .ntypes = 2, .off = { 0, 3600 }, .dst = { 0, 1 },
                         .footer = "GMT0BST,M3.5.0/1,M10.5.0" };
    fl_zone_t *slim = s_parse_spec(&spec, NULL), *fat = s_zone(LONDON);
    ck_assert_ptr_nonnull(slim);
    for (int64_t t = 1199145600LL; t < 4417977600LL; t += 5 * HOUR + 3) {
        fl_local_t a, b;
        fl_zone_local(slim, t, &a);
        fl_zone_local(fat, t, &b);
        EXPECT(a.utc_offset_s == b.utc_offset_s && a.hour == b.hour && a.day == b.day
               && a.is_dst == b.is_dst, "@%lld: slim %d, fat %d", (long long) t,
               a.utc_offset_s, b.utc_offset_s);
    }
    fl_zone_destroy(&slim);
    fl_zone_destroy(&fat);
}
END_TEST

/* With no transitions listed, the footer rule applies to every year. */
START_TEST(test_footer_alone_applies_before_1970_too)
{
    tzif_spec_t spec = { .version = '2', .ntypes = 1, .footer = "EST5EDT,M3.2.0,M11.1.0" };
    fl_zone_t *z = s_parse_spec(&spec, NULL);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(fl_zone_offset(z, -156556800LL), -5 * HOUR);     /* 1965-01-15 */
    ck_assert_int_eq(fl_zone_offset(z, -142128000LL), -4 * HOUR);     /* 1965-07-01 */
    ck_assert_int_eq(fl_zone_offset(z, UTC_2026), -5 * HOUR);
    ck_assert_int_eq(fl_zone_offset(z, 1782864000LL), -4 * HOUR);     /* 2026-07-01 */
    fl_zone_destroy(&z);
}
END_TEST

typedef struct {
    const char *why;
    tzif_spec_t spec;
    int code;
} bad_tzif_t;

#define GOOD_V2 .version = '2', .ntypes = 1, .footer = "EAT-3"
static const bad_tzif_t s_bad_tzifs[] = {
    { "leap seconds", { GOOD_V2, .leapcnt = 1 }, FL_E_INVALID },
    { "headers disagree", { GOOD_V2, .version2 = '3' }, FL_E_INVALID },
    { "unknown version", { .version = '1', .ntypes = 1, .footer = "EAT-3" }, FL_E_INVALID },
    { "no types", { .version = '2', .ntypes = 0, .footer = "EAT-3" }, FL_E_INVALID },
    { "times not ascending", { GOOD_V2, .ntimes = 2, .times = { 100, 100 } }, FL_E_INVALID },
    { "times descending", { GOOD_V2, .ntimes = 2, .times = { 100, 50 } }, FL_E_INVALID },
    { "type index too big", { GOOD_V2, .ntimes = 1, .idx = { 1 } }, FL_E_INVALID },
    { "offset out of range", { .version = '2', .ntypes = 1, .off = { 26 * 3600 },
                               .footer = "EAT-3" }, FL_E_INVALID },
    { "offset INT32_MIN", { .version = '2', .ntypes = 1, .off = { INT32_MIN },
                            .footer = "EAT-3" }, FL_E_INVALID },
    { "dst flag 2", { .version = '2', .ntypes = 1, .dst = { 2 }, .footer = "EAT-3" },
      FL_E_INVALID },
    { "no footer", { .version = '2', .ntypes = 1 }, FL_E_INVALID },
    { "bytes after footer", { GOOD_V2, .trailer = "x" }, FL_E_INVALID },
    { "bytes after v1 data", { .version = 0, .ntypes = 1, .trailer = "\n" }, FL_E_INVALID },
    { "footer garbage", { .version = '2', .ntypes = 1, .footer = "hello world" }, FL_E_INVALID },
    { "footer short name", { .version = '2', .ntypes = 1, .footer = "EA-3" }, FL_E_INVALID },
    { "footer no offset", { .version = '2', .ntypes = 1, .footer = "EAT" }, FL_E_INVALID },
    { "footer offset 25h", { .version = '2', .ntypes = 1, .footer = "EAT-25" }, FL_E_INVALID },
    { "footer DST no rule", { .version = '2', .ntypes = 1, .footer = "EST5EDT" }, FL_E_INVALID },
    { "footer month 13", { .version = '2', .ntypes = 1, .footer = "EST5EDT,M13.2.0,M11.1.0" },
      FL_E_INVALID },
    { "footer week 6", { .version = '2', .ntypes = 1, .footer = "EST5EDT,M3.6.0,M11.1.0" },
      FL_E_INVALID },
    { "footer weekday 7", { .version = '2', .ntypes = 1, .footer = "EST5EDT,M3.2.7,M11.1.0" },
      FL_E_INVALID },
    { "footer J0", { .version = '2', .ntypes = 1, .footer = "EST5EDT,J0,J300" }, FL_E_INVALID },
    { "footer day 366", { .version = '2', .ntypes = 1, .footer = "EST5EDT,366,300" },
      FL_E_INVALID },
    { "footer time 168h", { .version = '2', .ntypes = 1, .footer = "EST5EDT,M3.2.0/168,M11.1.0" },
      FL_E_INVALID },
    { "footer one rule", { .version = '2', .ntypes = 1, .footer = "EST5EDT,M3.2.0" },
      FL_E_INVALID },
    { "footer trailing", { .version = '2', .ntypes = 1, .footer = "EST5EDT,M3.2.0,M11.1.0,x" },
      FL_E_INVALID },
    { "footer minutes 60", { .version = '2', .ntypes = 1, .footer = "EAT-3:60" }, FL_E_INVALID },
    { "footer control char", { .version = '2', .ntypes = 1, .footer = "EAT-3\t" }, FL_E_INVALID },
    { "footer too long", { .version = '2', .ntypes = 1,
      .footer = "<+0300000000000000000000000000000000000000000000000000000000000000000000000"
                "0000000000000000000000000000000000000000000000000000000000000000>-3" },
      FL_E_INVALID },
};
#define BAD_TZIFS_COUNT (sizeof s_bad_tzifs / sizeof s_bad_tzifs[0])

START_TEST(test_malformed_tzif_is_rejected_with_reason)
{
    const bad_tzif_t *b = &s_bad_tzifs[_i];
    fl_error_t err;
    fl_error_clear(&err);
    fl_zone_t *z = s_parse_spec(&b->spec, &err);
    ck_assert_msg(z == NULL, "%s: accepted", b->why);
    ck_assert_msg(err.code == b->code, "%s: code %d (%s)", b->why, err.code, err.message);
    ck_assert_msg(strncmp(err.message, "Test/Zone: ", 11) == 0, "%s: %s", b->why, err.message);
}
END_TEST

/* Read a real zone file into buf; returns its length. */
static size_t
s_slurp(const char *name, uint8_t *buf, size_t cap)
{
    char path[FL_ZONE_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", FL_ZONE_DIR_DEFAULT, name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(buf, 1, cap, f);
    fclose(f);
    ck_assert_uint_gt(len, 0);
    ck_assert_uint_lt(len, cap);
    return len;
}

START_TEST(test_every_truncation_of_a_real_file_is_rejected)
{
    static uint8_t buf[FL_ZONE_FILE_MAX];
    size_t len = s_slurp(LONDON, buf, sizeof buf);
    fl_zone_t *z = fl_zone_parse(LONDON, buf, len, NULL);
    ck_assert_ptr_nonnull(z);
    fl_zone_destroy(&z);
    for (size_t cut = 0; cut < len; cut++) {
        fl_error_t err;
        z = fl_zone_parse(LONDON, buf, cut, &err);
        EXPECT(z == NULL && err.code == FL_E_INVALID, "%zu of %zu bytes: accepted or %d",
               cut, len, err.code);
    }
}
END_TEST

/* Any single corrupted byte is refused, or gives a zone that still answers. */
START_TEST(test_corrupted_bytes_never_crash)
{
    static uint8_t buf[FL_ZONE_FILE_MAX];
    size_t len = s_slurp(NEWYORK, buf, sizeof buf);
    static const uint8_t values[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
    for (size_t i = 0; i < len; i++) {
        uint8_t saved = buf[i];
        for (size_t v = 0; v < sizeof values; v++) {
            buf[i] = values[v];
            fl_zone_t *z = fl_zone_parse(NEWYORK, buf, len, NULL);
            if (z) {
                int64_t utc;
                fl_local_t l;
                fl_zone_local(z, UTC_2026, &l);
                EXPECT(fl_zone_utc(z, 2026, 3, 8, 150, &utc) == 0, "byte %zu", i);
                fl_zone_destroy(&z);
            }
        }
        buf[i] = saved;
    }
}
END_TEST

/* ---- finding zones ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    int code;
} bad_name_t;

static const bad_name_t s_bad_names[] = {
    { "", FL_E_INVALID },
    { "/etc/localtime", FL_E_INVALID },
    { "../../etc/passwd", FL_E_INVALID },
    { "Europe/../Europe/London", FL_E_INVALID },
    { "Europe//London", FL_E_INVALID },
    { "Europe/London/", FL_E_INVALID },
    { "Europe/London ", FL_E_INVALID },
    { "Europe/Lon don", FL_E_INVALID },
    { "Europe\\London", FL_E_INVALID },
    { "Africa/Nairobi\n", FL_E_INVALID },
    { "Africa/Nairobi-with-a-name-long-enough-to-pass-sixty-four-bytes-x", FL_E_INVALID },
    { "Africa/Nairob", FL_E_NOT_FOUND },
    { "Mars/Olympus_Mons", FL_E_NOT_FOUND },
    { "Europe", FL_E_NOT_FOUND },                   /* a folder */
    { "Europe/London/x", FL_E_NOT_FOUND },          /* under a file */
};
#define BAD_NAMES_COUNT (sizeof s_bad_names / sizeof s_bad_names[0])

START_TEST(test_bad_zone_names_are_rejected)
{
    const bad_name_t *b = &s_bad_names[_i];
    fl_error_t err;
    fl_error_clear(&err);
    fl_zone_t *z = fl_zone_new(b->name, &err);
    ck_assert_msg(z == NULL, "\"%s\" accepted", b->name);
    ck_assert_msg(err.code == b->code, "\"%s\": code %d (%s)", b->name, err.code, err.message);
    ck_assert_uint_gt(strlen(err.message), 0);
}
END_TEST

/* Write len bytes of data to dir/name, making dir/ parts first. */
static void
s_write(const char *dir, const char *name, const void *data, size_t len)
{
    char path[FL_ZONE_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *slash = strrchr(path, '/');
    if (slash > path + strlen(dir)) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_zone_files_in_tzdir_are_checked)
{
    char *dir = tu_tempdir();
    static uint8_t london[FL_ZONE_FILE_MAX];
    size_t len = s_slurp(LONDON, london, sizeof london);
    s_write(dir, "Test/Good", london, len);
    s_write(dir, "Test/Empty", "", 0);
    s_write(dir, "Test/Text", "Africa/Nairobi\n", 15);
    s_write(dir, "Test/Cut", london, len / 2);
    uint8_t bad_footer[FL_ZONE_FILE_MAX];
    memcpy(bad_footer, london, len);
    memcpy(bad_footer + len - 6, "Q.5.0\n", 6);        /* ...,M10.5.0 -> ,Q.5.0 */
    s_write(dir, "Test/BadFooter", bad_footer, len);
    static uint8_t big[FL_ZONE_FILE_MAX + 1];
    memcpy(big, london, len);
    s_write(dir, "Test/Big", big, sizeof big);
    ck_assert_int_eq(setenv(FL_ZONE_DIR_ENV, dir, 1), 0);

    fl_error_t err;
    fl_zone_t *z = fl_zone_new("Test/Good", &err);
    ck_assert_msg(z != NULL, "%s", err.message);
    ck_assert_int_eq(fl_zone_offset(z, 1782864000LL), HOUR);
    fl_zone_destroy(&z);

    static const struct { const char *name; int code; const char *says; } cases[] = {
        { "Test/Empty", FL_E_INVALID, "ends inside a header" },
        { "Test/Text", FL_E_INVALID, "\"TZif\"" },
        { "Test/Cut", FL_E_INVALID, "ends inside" },
        { "Test/BadFooter", FL_E_INVALID, "footer rule" },
        { "Test/Big", FL_E_TOO_LONG, "larger than" },
        { "Test/Missing", FL_E_NOT_FOUND, "no such time zone" },
        { "Test", FL_E_NOT_FOUND, "folder" },
        { NAIROBI, FL_E_NOT_FOUND, "no such time zone" },   /* not in this TZDIR */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fl_error_clear(&err);
        z = fl_zone_new(cases[i].name, &err);
        ck_assert_msg(z == NULL, "%s accepted", cases[i].name);
        ck_assert_msg(err.code == cases[i].code && strstr(err.message, cases[i].says)
                      && strncmp(err.message, cases[i].name, strlen(cases[i].name)) == 0,
                      "%s: %d %s", cases[i].name, err.code, err.message);
    }
    /* Unreadable (meaningless for root, who reads anything). */
    if (geteuid() != 0) {
        char path[FL_ZONE_PATH_MAX];
        snprintf(path, sizeof path, "%s/Test/Good", dir);
        ck_assert_int_eq(chmod(path, 0), 0);
        z = fl_zone_new("Test/Good", &err);
        ck_assert_ptr_null(z);
        ck_assert_int_eq(err.code, FL_E_IO);
    }
    /* An empty TZDIR means the default folder. */
    ck_assert_int_eq(setenv(FL_ZONE_DIR_ENV, "", 1), 0);
    z = fl_zone_new(NAIROBI, &err);
    ck_assert_ptr_nonnull(z);
    fl_zone_destroy(&z);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_oversize_buffer_is_too_long)
{
    static uint8_t big[FL_ZONE_FILE_MAX + 1];
    fl_error_t err;
    ck_assert_ptr_null(fl_zone_parse("Big", big, sizeof big, &err));
    ck_assert_int_eq(err.code, FL_E_TOO_LONG);
    ck_assert_ptr_null(fl_zone_parse("Empty", NULL, 0, &err));
    ck_assert_int_eq(err.code, FL_E_INVALID);
    fl_zone_t *none = NULL;
    fl_zone_destroy(&none);                             /* safe on NULL */
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("localtime");
    TCase *tc = tcase_create("instants");
    tcase_add_loop_test(tc, test_local_wall_clock_of_known_instants, 0, KNOWN_COUNT);
    tcase_add_loop_test(tc, test_unambiguous_wall_time_maps_back_to_its_instant, 0, KNOWN_COUNT);
    tcase_add_loop_test(tc, test_gap_gives_its_end_and_overlap_gives_earlier_instant, 0,
                        WALLS_COUNT);
    tcase_add_loop_test(tc, test_impossible_wall_time_is_range_error, 0, BAD_WALLS_COUNT);
    tcase_add_test(tc, test_leap_day_2028);
    tcase_add_test(tc, test_day_start_when_midnight_is_skipped);
    tcase_add_test(tc, test_extreme_instants_are_clamped);
    suite_add_tcase(s, tc);

    tc = tcase_create("properties");
    tcase_set_timeout(tc, SLOW_TEST_TIMEOUT_S);
    tcase_add_test(tc, test_footer_rule_governs_every_year_after_the_table);
    tcase_add_loop_test(tc, test_wall_time_round_trips_every_quarter_hour_except_in_gaps, 0,
                        YEARS_COUNT);
    tcase_add_loop_test(tc, test_instant_round_trips_every_quarter_hour_except_repeated_ones,
                        0, YEARS_COUNT);
    tcase_add_loop_test(tc, test_ticket_days_tile_the_year, 0, YEARS_COUNT);
    tcase_add_loop_test(tc, test_agrees_with_c_library_over_decades, 0, GLIBC_ZONES_COUNT);
    tcase_add_test(tc, test_zones_interleave_without_interference);
    suite_add_tcase(s, tc);

    tc = tcase_create("days");
    tcase_add_loop_test(tc, test_day_add_crosses_month_and_year_ends, 0, ADDS_COUNT);
    tcase_add_test(tc, test_day_add_refuses_invalid_days_and_overflow);
    tcase_add_loop_test(tc, test_weekday_of_known_dates, 0, WEEKDAYS_COUNT);
    tcase_add_loop_test(tc, test_day_parse_accepts_only_real_iso_dates, 0, PARSES_COUNT);
    tcase_add_test(tc, test_day_format_and_parse_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_set_timeout(tc, SLOW_TEST_TIMEOUT_S);
    tcase_add_loop_test(tc, test_footer_forms_agree_with_c_library, 0, FOOTERS_COUNT);
    tcase_add_test(tc, test_footer_daylight_time_all_year);
    tcase_add_test(tc, test_table_then_footer_then_version_1);
    tcase_add_test(tc, test_slim_file_answers_like_fat_file);
    tcase_add_test(tc, test_footer_alone_applies_before_1970_too);
    tcase_add_loop_test(tc, test_malformed_tzif_is_rejected_with_reason, 0, BAD_TZIFS_COUNT);
    tcase_add_test(tc, test_every_truncation_of_a_real_file_is_rejected);
    tcase_add_test(tc, test_corrupted_bytes_never_crash);
    tcase_add_loop_test(tc, test_bad_zone_names_are_rejected, 0, BAD_NAMES_COUNT);
    tcase_add_test(tc, test_zone_files_in_tzdir_are_checked);
    tcase_add_test(tc, test_oversize_buffer_is_too_long);
    suite_add_tcase(s, tc);
    return s;
}
