/*  config.c — reading and checking the JSON config.  See config.h.
 *
 *  Jansson parses the text (rejecting bad UTF-8 and duplicate keys); the code
 *  here walks the tree once, top down, and copies each value into the C
 *  structs after checking it.  Every reader takes the path of the JSON value
 *  it reads ("offices[0].services[2]"), so an error can name the exact field.
 *  Every object's keys are checked against the list its format allows before
 *  its fields are read, so a misspelt optional key is caught instead of
 *  silently falling back to a default.
 *
 *  The first error stops the load: the partly built config is freed with
 *  fl_config_destroy, which copes with zeroed, half-filled structs.
 */
#include "libfoleni/config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest field path; longer ones are cut and end in "...". */
#define S_PATH_MAX FL_ERROR_FIELD_MAX
/* Bytes read from the file per read(2). */
#define S_READ_CHUNK 65536
/* Unknown keys up to this length get a "did you mean" hint. */
#define S_HINT_KEY_MAX 32
/* Largest edit distance for which a hint is offered. */
#define S_HINT_DISTANCE_MAX 2
/* A file under the zoneinfo folder is a timezone if it starts with this. */
#define S_TZIF_MAGIC "TZif"
#define S_TZIF_MAGIC_LEN 4
#define S_MINUTES_PER_DAY 1440
/* Longest path of a timezone file: TZDIR plus the name. */
#define S_ZONE_PATH_MAX 512

typedef struct {
    const char *name;           /* starts every message; may be "" */
    fl_error_t *err;            /* may be NULL */
} s_ctx_t;

/* How to read one integer field. */
typedef struct {
    const char *key;
    bool required;
    int fallback;               /* the value when absent and not required */
    int min, max;
} s_int_rule_t;

/* JSON keys of the weekdays, indexed like tm_wday; also the keys of "hours". */
static const char *const s_weekdays[FL_WEEKDAYS + 1] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const char *const s_config_keys[] = {
    "version", "booking_days_ahead", "phone_retention_days", "offices", NULL
};
static const char *const s_office_keys[] = {
    "code", "name", "timezone", "hours", "closed", "services", "counters", NULL
};
static const char *const s_service_keys[] = {
    "code", "prefix", "name", "slot_minutes", "capacity", "service_minutes", "fee",
    "hold_minutes", "checkin_early_minutes", "checkin_late_minutes", "late_as_walkin",
    "max_wait_minutes", "bring", NULL
};
static const char *const s_counter_keys[] = { "number", "name", "services", NULL };
static const char *const s_text_keys[] = { "en", "sw", NULL };

/* Any whole number, so that every other version is FL_E_VERSION. */
static const s_int_rule_t s_version_rule = {
    "version", true, 0, INT_MIN, INT_MAX
};
static const s_int_rule_t s_booking_days_rule = {
    "booking_days_ahead", false, FL_BOOKING_DAYS_DEFAULT,
    FL_BOOKING_DAYS_MIN, FL_BOOKING_DAYS_MAX
};
static const s_int_rule_t s_phone_retention_rule = {
    "phone_retention_days", false, FL_PHONE_RETENTION_DEFAULT,
    FL_PHONE_RETENTION_MIN, FL_PHONE_RETENTION_MAX
};
static const s_int_rule_t s_counter_number_rule = {
    "number", true, 0, 1, FL_COUNTER_NUMBER_MAX
};

/* The integer fields of a service, where they go, and their rules. */
static const struct {
    s_int_rule_t rule;
    size_t offset;
} s_service_ints[] = {
    { { "slot_minutes", true, 0, FL_SLOT_MINUTES_MIN, FL_SLOT_MINUTES_MAX },
      offsetof(fl_service_t, slot_minutes) },
    { { "capacity", true, 0, FL_CAPACITY_MIN, FL_CAPACITY_MAX },
      offsetof(fl_service_t, capacity) },
    { { "service_minutes", true, 0, FL_SERVICE_MINUTES_MIN, FL_SERVICE_MINUTES_MAX },
      offsetof(fl_service_t, service_minutes) },
    { { "fee", false, FL_FEE_DEFAULT, FL_FEE_MIN, FL_FEE_MAX },
      offsetof(fl_service_t, fee) },
    { { "hold_minutes", false, FL_HOLD_MINUTES_DEFAULT,
        FL_HOLD_MINUTES_MIN, FL_HOLD_MINUTES_MAX },
      offsetof(fl_service_t, hold_minutes) },
    { { "checkin_early_minutes", false, FL_CHECKIN_EARLY_DEFAULT,
        FL_CHECKIN_MINUTES_MIN, FL_CHECKIN_MINUTES_MAX },
      offsetof(fl_service_t, checkin_early_minutes) },
    { { "checkin_late_minutes", false, FL_CHECKIN_LATE_DEFAULT,
        FL_CHECKIN_MINUTES_MIN, FL_CHECKIN_MINUTES_MAX },
      offsetof(fl_service_t, checkin_late_minutes) },
    { { "max_wait_minutes", false, FL_MAX_WAIT_DEFAULT, FL_MAX_WAIT_MIN, FL_MAX_WAIT_MAX },
      offsetof(fl_service_t, max_wait_minutes) },
};


/* ---- errors and paths ----------------------------------------------------- */

/*  Fill ctx->err with "name: path: reason" (or "name: reason" when path is
 *  empty) and return code. */
static int s_fail(s_ctx_t *ctx, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_fail(s_ctx_t *ctx, int code, const char *path, const char *fmt, ...)
{
    char reason[FL_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    const char *colon = *ctx->name ? ": " : "";
    if (*path)
        return fl_error_set(ctx->err, code, path, "%s%s%s: %s", ctx->name, colon, path, reason);
    return fl_error_set(ctx->err, code, "", "%s%s%s", ctx->name, colon, reason);
}

static int
s_no_memory(s_ctx_t *ctx, const char *path)
{
    return s_fail(ctx, FL_E_NOMEM, path, "out of memory");
}

/* A path that did not fit in S_PATH_MAX ends in "..." (only a very long
 * unknown key can make one). */
static const char *
s_path_end(char out[S_PATH_MAX], int written)
{
    if (written < 0 || written >= S_PATH_MAX)
        memcpy(out + S_PATH_MAX - 4, "...", 4);
    return out;
}

/* Write "parent.key" (or "key" at the top) into out; returns out. */
static const char *
s_key_path(char out[S_PATH_MAX], const char *parent, const char *key)
{
    return s_path_end(out, snprintf(out, S_PATH_MAX, "%s%s%s", parent, *parent ? "." : "", key));
}

/* Write "parent[index]" into out; returns out. */
static const char *
s_index_path(char out[S_PATH_MAX], const char *parent, size_t index)
{
    return s_path_end(out, snprintf(out, S_PATH_MAX, "%s[%zu]", parent, index));
}

/* Levenshtein distance of two short strings (each at most S_HINT_KEY_MAX). */
static size_t
s_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[S_HINT_KEY_MAX + 1];
    assert(la <= S_HINT_KEY_MAX && lb <= S_HINT_KEY_MAX);
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t best = diagonal + (a[i - 1] != b[j - 1]);
            if (above + 1 < best) best = above + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}

/*  The allowed key closest to key, if close enough to be a likely typo: at
 *  most S_HINT_DISTANCE_MAX edits, and no more than half the key's length. */
static const char *
s_closest_key(const char *key, const char *const *allowed)
{
    size_t len = strlen(key);
    if (len > S_HINT_KEY_MAX)
        return NULL;
    const char *best = NULL;
    size_t best_distance = S_HINT_DISTANCE_MAX + 1;
    for (const char *const *k = allowed; *k; k++) {
        size_t d = s_distance(key, *k);
        if (d < best_distance && d * 2 <= len) {
            best = *k;
            best_distance = d;
        }
    }
    return best;
}


/* ---- JSON values ---------------------------------------------------------- */

static int
s_expect_object(s_ctx_t *ctx, const json_t *value, const char *path)
{
    return json_is_object(value) ? 0 : s_fail(ctx, FL_E_TYPE, path, "must be an object");
}

/* Fail on the first key of obj that is not in allowed (a NULL-ended list). */
static int
s_check_keys(s_ctx_t *ctx, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        const char *const *k = allowed;
        while (*k && strcmp(*k, key) != 0)
            k++;
        if (*k)
            continue;
        char child[S_PATH_MAX];
        s_key_path(child, path, key);
        const char *hint = s_closest_key(key, allowed);
        if (hint)
            return s_fail(ctx, FL_E_UNKNOWN, child, "unknown key (did you mean \"%s\"?)", hint);
        return s_fail(ctx, FL_E_UNKNOWN, child, "unknown key");
    }
    return 0;
}

/*  Read an integer field of obj by rule.  An absent optional field gives the
 *  rule's fallback. */
static int
s_read_int(s_ctx_t *ctx, const json_t *obj, const char *path, const s_int_rule_t *rule,
           int *out)
{
    char child[S_PATH_MAX];
    s_key_path(child, path, rule->key);
    const json_t *value = json_object_get(obj, rule->key);
    if (!value) {
        if (rule->required)
            return s_fail(ctx, FL_E_MISSING, child, "is required");
        *out = rule->fallback;
        return 0;
    }
    if (!json_is_integer(value))
        return s_fail(ctx, FL_E_TYPE, child, "must be a whole number");
    json_int_t number = json_integer_value(value);
    if (number < rule->min || number > rule->max)
        return s_fail(ctx, FL_E_RANGE, child, "must be from %d to %d", rule->min, rule->max);
    *out = (int) number;
    return 0;
}

/* Read an optional true/false field of obj; absent gives fallback. */
static int
s_read_bool(s_ctx_t *ctx, const json_t *obj, const char *path, const char *key,
            bool fallback, bool *out)
{
    const json_t *value = json_object_get(obj, key);
    if (!value) {
        *out = fallback;
        return 0;
    }
    if (!json_is_boolean(value)) {
        char child[S_PATH_MAX];
        return s_fail(ctx, FL_E_TYPE, s_key_path(child, path, key), "must be true or false");
    }
    *out = json_is_true(value);
    return 0;
}

/*  Read a string field of obj into *out (borrowed from the JSON tree); absent
 *  gives NULL, or FL_E_MISSING if required. */
static int
s_read_string(s_ctx_t *ctx, const json_t *obj, const char *path, const char *key,
              bool required, const char **out)
{
    char child[S_PATH_MAX];
    const json_t *value = json_object_get(obj, key);
    *out = NULL;
    if (!value)
        return required ? s_fail(ctx, FL_E_MISSING, s_key_path(child, path, key), "is required")
                        : 0;
    if (!json_is_string(value))
        return s_fail(ctx, FL_E_TYPE, s_key_path(child, path, key), "must be text");
    *out = json_string_value(value);
    return 0;
}

/*  Read an array field of obj with min..max entries; absent gives NULL, or
 *  FL_E_MISSING if required. */
static int
s_read_array(s_ctx_t *ctx, json_t *obj, const char *path, const char *key,
             bool required, size_t min, size_t max, json_t **out)
{
    char child[S_PATH_MAX];
    s_key_path(child, path, key);
    json_t *value = json_object_get(obj, key);
    *out = NULL;
    if (!value)
        return required ? s_fail(ctx, FL_E_MISSING, child, "is required") : 0;
    if (!json_is_array(value))
        return s_fail(ctx, FL_E_TYPE, child, "must be a list");
    size_t size = json_array_size(value);
    if (size < min)
        return s_fail(ctx, FL_E_MISSING, child, "must not be empty");
    if (size > max)
        return s_fail(ctx, FL_E_TOO_LONG, child, "has %zu entries; at most %zu are allowed",
                      size, max);
    *out = value;
    return 0;
}


/* ---- formats of strings --------------------------------------------------- */

/* Human text: not empty, at most max bytes, no control characters. */
static int
s_check_text(s_ctx_t *ctx, const char *text, const char *path, size_t max)
{
    size_t len = strlen(text);
    if (len == 0)
        return s_fail(ctx, FL_E_INVALID, path, "must not be empty");
    if (len > max)
        return s_fail(ctx, FL_E_TOO_LONG, path, "must be at most %zu bytes (is %zu)", max, len);
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return s_fail(ctx, FL_E_INVALID, path, "must not contain control characters");
    return 0;
}

/* A code: min..max characters, each A-Z or 0-9. */
static bool
s_is_code(const char *text, size_t min, size_t max)
{
    size_t len = strlen(text);
    if (len < min || len > max)
        return false;
    for (const char *p = text; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

/* Digits at text[0..n), as a number; -1 if any is not a digit. */
static int
s_digits(const char *text, size_t n)
{
    int value = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/* "HH:MM" (00:00..24:00) as minutes since midnight, or -1. */
static int
s_parse_time(const char *text)
{
    if (strlen(text) != 5 || text[2] != ':')
        return -1;
    int hours = s_digits(text, 2), minutes = s_digits(text + 3, 2);
    if (hours < 0 || minutes < 0 || minutes > 59 || hours * 60 + minutes > S_MINUTES_PER_DAY)
        return -1;
    return hours * 60 + minutes;
}

static bool
s_is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
s_days_in_month(int year, int month)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return month == 2 && s_is_leap(year) ? 29 : days[month - 1];
}

/* "YYYY-MM-DD", a real calendar date in the allowed years, as YYYYMMDD; or -1. */
static int32_t
s_parse_date(const char *text)
{
    if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return -1;
    int year = s_digits(text, 4), month = s_digits(text + 5, 2), day = s_digits(text + 8, 2);
    if (year < FL_CONFIG_YEAR_MIN || year > FL_CONFIG_YEAR_MAX || month < 1 || month > 12
        || day < 1 || day > s_days_in_month(year, month))
        return -1;
    return year * 10000 + month * 100 + day;
}

/*  An IANA name: components of [A-Za-z0-9_+-] joined by single '/', so never
 *  "..", a leading '/' or an empty component. */
static bool
s_is_timezone_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > FL_TIMEZONE_MAX || name[0] == '/' || name[len - 1] == '/')
        return false;
    for (const char *p = name; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
                  || (*p >= '0' && *p <= '9') || *p == '_' || *p == '+' || *p == '-';
        if (!plain && !(*p == '/' && p[1] != '/'))
            return false;
    }
    return true;
}


/* True if dir/name is a readable compiled timezone (starts with "TZif"). */
static bool
s_timezone_exists(const char *name)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = FL_CONFIG_ZONEINFO_DIR;
    char path[S_ZONE_PATH_MAX];
    if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char magic[S_TZIF_MAGIC_LEN];
    ssize_t n = read(fd, magic, sizeof magic);
    close(fd);
    return n == S_TZIF_MAGIC_LEN && memcmp(magic, S_TZIF_MAGIC, S_TZIF_MAGIC_LEN) == 0;
}


/* ---- office parts --------------------------------------------------------- */

/*  Read the text field key of obj ({"en": ..., "sw": ...}, each at most max
 *  bytes) into out as owned copies. */
static int
s_read_text(s_ctx_t *ctx, json_t *obj, const char *path, const char *key, bool required,
            size_t max, fl_text_t *out)
{
    char child[S_PATH_MAX], grandchild[S_PATH_MAX];
    s_key_path(child, path, key);
    json_t *value = json_object_get(obj, key);
    if (!value)
        return required ? s_fail(ctx, FL_E_MISSING, child, "is required") : 0;
    const char *en, *sw;
    int rc;
    if ((rc = s_expect_object(ctx, value, child))
        || (rc = s_check_keys(ctx, value, child, s_text_keys))
        || (rc = s_read_string(ctx, value, child, "en", true, &en))
        || (rc = s_check_text(ctx, en, s_key_path(grandchild, child, "en"), max))
        || (rc = s_read_string(ctx, value, child, "sw", false, &sw))
        || (sw && (rc = s_check_text(ctx, sw, s_key_path(grandchild, child, "sw"), max))))
        return rc;
    out->en = strdup(en);
    out->sw = sw ? strdup(sw) : NULL;
    if (!out->en || (sw && !out->sw))
        return s_no_memory(ctx, child);
    return 0;
}

static int
s_read_timezone(s_ctx_t *ctx, json_t *obj, const char *path, fl_office_t *office)
{
    const char *name;
    int rc = s_read_string(ctx, obj, path, "timezone", false, &name);
    if (rc)
        return rc;
    if (!name)
        name = FL_CONFIG_DEFAULT_TIMEZONE;
    char child[S_PATH_MAX];
    s_key_path(child, path, "timezone");
    if (!s_is_timezone_name(name))
        return s_fail(ctx, FL_E_INVALID, child,
                      "must be an IANA timezone name such as Africa/Nairobi");
    if (!s_timezone_exists(name))
        return s_fail(ctx, FL_E_INVALID, child, "no such timezone on this system");
    snprintf(office->timezone, sizeof office->timezone, "%s", name);
    return 0;
}

/* "hours": {"mon": ["08:00", "17:00"], ...}; absent days are closed. */
static int
s_read_hours(s_ctx_t *ctx, json_t *obj, const char *path, fl_office_t *office)
{
    char child[S_PATH_MAX], day_path[S_PATH_MAX], time_path[S_PATH_MAX];
    s_key_path(child, path, "hours");
    json_t *hours = json_object_get(obj, "hours");
    if (!hours)
        return s_fail(ctx, FL_E_MISSING, child, "is required");
    int rc;
    if ((rc = s_expect_object(ctx, hours, child))
        || (rc = s_check_keys(ctx, hours, child, s_weekdays)))
        return rc;

    bool open_any = false;
    for (int day = 0; day < FL_WEEKDAYS; day++) {
        json_t *pair = json_object_get(hours, s_weekdays[day]);
        if (!pair)
            continue;
        s_key_path(day_path, child, s_weekdays[day]);
        if (!json_is_array(pair))
            return s_fail(ctx, FL_E_TYPE, day_path, "must be a list of two times");
        if (json_array_size(pair) != 2)
            return s_fail(ctx, FL_E_INVALID, day_path,
                          "must be two times, opening and closing, like [\"08:00\", \"17:00\"]");
        int minutes[2];
        for (size_t i = 0; i < 2; i++) {
            json_t *time = json_array_get(pair, i);
            s_index_path(time_path, day_path, i);
            if (!json_is_string(time))
                return s_fail(ctx, FL_E_TYPE, time_path, "must be text");
            minutes[i] = s_parse_time(json_string_value(time));
            if (minutes[i] < 0)
                return s_fail(ctx, FL_E_INVALID, time_path,
                              "must be a time HH:MM from 00:00 to 24:00");
        }
        if (minutes[0] >= minutes[1])
            return s_fail(ctx, FL_E_INVALID, day_path, "must close after it opens");
        office->hours[day] = (fl_hours_t) {
            .is_open = true, .opens = (uint16_t) minutes[0], .closes = (uint16_t) minutes[1]
        };
        open_any = true;
    }
    if (!open_any)
        return s_fail(ctx, FL_E_INVALID, child, "must open on at least one day");
    return 0;
}

/* A closed date and where it was in the file, for sorting. */
typedef struct {
    int32_t date;
    size_t index;
} s_dated_t;

static int
s_compare_dated(const void *a, const void *b)
{
    const s_dated_t *x = a, *y = b;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* "closed": ["2026-12-25", ...], stored sorted. */
static int
s_read_closed(s_ctx_t *ctx, json_t *obj, const char *path, fl_office_t *office)
{
    char child[S_PATH_MAX], item_path[S_PATH_MAX];
    s_key_path(child, path, "closed");
    json_t *list;
    int rc = s_read_array(ctx, obj, path, "closed", false, 0, FL_CONFIG_CLOSED_MAX, &list);
    if (rc || !list || json_array_size(list) == 0)
        return rc;

    size_t count = json_array_size(list);
    s_dated_t dated[FL_CONFIG_CLOSED_MAX];
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(list, i);
        s_index_path(item_path, child, i);
        if (!json_is_string(item))
            return s_fail(ctx, FL_E_TYPE, item_path, "must be text");
        dated[i].date = s_parse_date(json_string_value(item));
        dated[i].index = i;
        if (dated[i].date < 0)
            return s_fail(ctx, FL_E_INVALID, item_path,
                          "must be a date YYYY-MM-DD in the years %d to %d",
                          FL_CONFIG_YEAR_MIN, FL_CONFIG_YEAR_MAX);
    }
    qsort(dated, count, sizeof dated[0], s_compare_dated);
    for (size_t i = 1; i < count; i++)
        if (dated[i].date == dated[i - 1].date)
            return s_fail(ctx, FL_E_DUPLICATE_KEY, s_index_path(item_path, child, dated[i].index),
                          "repeats closed[%zu]", dated[i - 1].index);

    office->closed = malloc(count * sizeof *office->closed);
    if (!office->closed)
        return s_no_memory(ctx, child);
    for (size_t i = 0; i < count; i++)
        office->closed[i] = dated[i].date;
    office->closed_count = count;
    return 0;
}

static int
s_read_service(s_ctx_t *ctx, json_t *obj, const char *path, fl_service_t *service)
{
    char child[S_PATH_MAX];
    const char *code, *prefix;
    int rc;
    if ((rc = s_expect_object(ctx, obj, path))
        || (rc = s_check_keys(ctx, obj, path, s_service_keys))
        || (rc = s_read_string(ctx, obj, path, "code", true, &code)))
        return rc;
    if (!s_is_code(code, 1, FL_SERVICE_CODE_MAX))
        return s_fail(ctx, FL_E_INVALID, s_key_path(child, path, "code"),
                      "must be 1 to %d characters A-Z or 0-9", FL_SERVICE_CODE_MAX);
    snprintf(service->code, sizeof service->code, "%s", code);

    if ((rc = s_read_string(ctx, obj, path, "prefix", true, &prefix)))
        return rc;
    if (strlen(prefix) != 1 || prefix[0] < 'A' || prefix[0] > 'Z')
        return s_fail(ctx, FL_E_INVALID, s_key_path(child, path, "prefix"),
                      "must be one capital letter A-Z");
    service->prefix = prefix[0];

    if ((rc = s_read_text(ctx, obj, path, "name", true, FL_CONFIG_NAME_MAX, &service->name)))
        return rc;
    for (size_t i = 0; i < sizeof s_service_ints / sizeof s_service_ints[0]; i++) {
        int *field = (int *) ((char *) service + s_service_ints[i].offset);
        if ((rc = s_read_int(ctx, obj, path, &s_service_ints[i].rule, field)))
            return rc;
    }
    if ((rc = s_read_bool(ctx, obj, path, "late_as_walkin", FL_LATE_AS_WALKIN_DEFAULT,
                          &service->late_as_walkin))
        || (rc = s_read_text(ctx, obj, path, "bring", false, FL_CONFIG_BRING_MAX,
                             &service->bring)))
        return rc;
    return 0;
}

/* Services of one office: codes and prefixes unique within it. */
static int
s_read_services(s_ctx_t *ctx, json_t *obj, const char *path, fl_office_t *office)
{
    char child[S_PATH_MAX], item_path[S_PATH_MAX], field_path[S_PATH_MAX];
    s_key_path(child, path, "services");
    json_t *list;
    int rc = s_read_array(ctx, obj, path, "services", true, 1, FL_CONFIG_SERVICES_MAX, &list);
    if (rc)
        return rc;
    size_t count = json_array_size(list);
    office->services = calloc(count, sizeof *office->services);
    if (!office->services)
        return s_no_memory(ctx, child);
    office->service_count = count;

    size_t by_prefix['Z' - 'A' + 1];            /* index + 1 of the service, or 0 */
    memset(by_prefix, 0, sizeof by_prefix);
    for (size_t i = 0; i < count; i++) {
        fl_service_t *service = &office->services[i];
        s_index_path(item_path, child, i);
        if ((rc = s_read_service(ctx, json_array_get(list, i), item_path, service)))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(office->services[j].code, service->code) == 0)
                return s_fail(ctx, FL_E_DUPLICATE_KEY, s_key_path(field_path, item_path, "code"),
                              "%s is also services[%zu]", service->code, j);
        size_t *seen = &by_prefix[service->prefix - 'A'];
        if (*seen)
            return s_fail(ctx, FL_E_DUPLICATE_KEY, s_key_path(field_path, item_path, "prefix"),
                          "%c is already the prefix of services[%zu] (%s)", service->prefix,
                          *seen - 1, office->services[*seen - 1].code);
        *seen = i + 1;
    }
    return 0;
}

static int
s_read_counter(s_ctx_t *ctx, json_t *obj, const char *path, fl_office_t *office,
               fl_counter_t *counter)
{
    char child[S_PATH_MAX], item_path[S_PATH_MAX];
    const char *name;
    json_t *list;
    int rc;
    if ((rc = s_expect_object(ctx, obj, path))
        || (rc = s_check_keys(ctx, obj, path, s_counter_keys))
        || (rc = s_read_int(ctx, obj, path, &s_counter_number_rule, &counter->number))
        || (rc = s_read_string(ctx, obj, path, "name", false, &name))
        || (name && (rc = s_check_text(ctx, name, s_key_path(child, path, "name"),
                                       FL_COUNTER_NAME_MAX)))
        || (rc = s_read_array(ctx, obj, path, "services", true, 1, FL_CONFIG_SERVICES_MAX,
                              &list)))
        return rc;
    snprintf(counter->name, sizeof counter->name, "%s", name ? name : "");

    s_key_path(child, path, "services");
    size_t count = json_array_size(list);
    counter->services = calloc(count, sizeof *counter->services);
    if (!counter->services)
        return s_no_memory(ctx, child);
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get(list, i);
        s_index_path(item_path, child, i);
        if (!json_is_string(item))
            return s_fail(ctx, FL_E_TYPE, item_path, "must be text");
        const char *code = json_string_value(item);
        const fl_service_t *service = fl_office_service(office, code);
        if (!service)
            return s_fail(ctx, FL_E_NOT_FOUND, item_path,
                          "this office has no service \"%.*s\"", FL_SERVICE_CODE_MAX * 2, code);
        if (fl_counter_serves(counter, service))
            return s_fail(ctx, FL_E_DUPLICATE_KEY, item_path, "%s is listed twice", code);
        counter->services[counter->service_count++] = service;
    }
    return 0;
}

/* Counters of one office: numbers unique; every service served by one at least. */
static int
s_read_counters(s_ctx_t *ctx, json_t *obj, const char *path, fl_office_t *office)
{
    char child[S_PATH_MAX], item_path[S_PATH_MAX], field_path[S_PATH_MAX];
    s_key_path(child, path, "counters");
    json_t *list;
    int rc = s_read_array(ctx, obj, path, "counters", true, 1, FL_CONFIG_COUNTERS_MAX, &list);
    if (rc)
        return rc;
    size_t count = json_array_size(list);
    office->counters = calloc(count, sizeof *office->counters);
    if (!office->counters)
        return s_no_memory(ctx, child);
    office->counter_count = count;

    size_t by_number[FL_COUNTER_NUMBER_MAX + 1] = { 0 };   /* index + 1, or 0 */
    for (size_t i = 0; i < count; i++) {
        fl_counter_t *counter = &office->counters[i];
        s_index_path(item_path, child, i);
        if ((rc = s_read_counter(ctx, json_array_get(list, i), item_path, office, counter)))
            return rc;
        size_t *seen = &by_number[counter->number];
        if (*seen)
            return s_fail(ctx, FL_E_DUPLICATE_KEY, s_key_path(field_path, item_path, "number"),
                          "counter %d is also counters[%zu]", counter->number, *seen - 1);
        *seen = i + 1;
    }

    for (size_t s = 0; s < office->service_count; s++) {
        size_t c = 0;
        while (c < count && !fl_counter_serves(&office->counters[c], &office->services[s]))
            c++;
        if (c == count) {
            char services_path[S_PATH_MAX];
            s_index_path(item_path, s_key_path(services_path, path, "services"), s);
            return s_fail(ctx, FL_E_INVALID, item_path, "no counter serves %s",
                          office->services[s].code);
        }
    }
    return 0;
}

static int
s_read_office(s_ctx_t *ctx, json_t *obj, const char *path, fl_office_t *office)
{
    char child[S_PATH_MAX];
    const char *code;
    int rc;
    if ((rc = s_expect_object(ctx, obj, path))
        || (rc = s_check_keys(ctx, obj, path, s_office_keys))
        || (rc = s_read_string(ctx, obj, path, "code", true, &code)))
        return rc;
    if (!s_is_code(code, FL_OFFICE_CODE_MIN, FL_OFFICE_CODE_MAX))
        return s_fail(ctx, FL_E_INVALID, s_key_path(child, path, "code"),
                      "must be %d to %d characters A-Z or 0-9",
                      FL_OFFICE_CODE_MIN, FL_OFFICE_CODE_MAX);
    snprintf(office->code, sizeof office->code, "%s", code);

    if ((rc = s_read_text(ctx, obj, path, "name", true, FL_CONFIG_NAME_MAX, &office->name))
        || (rc = s_read_timezone(ctx, obj, path, office))
        || (rc = s_read_hours(ctx, obj, path, office))
        || (rc = s_read_closed(ctx, obj, path, office))
        || (rc = s_read_services(ctx, obj, path, office))
        || (rc = s_read_counters(ctx, obj, path, office)))
        return rc;
    return 0;
}


/* ---- the whole file ------------------------------------------------------- */

static int
s_compare_office_ptr(const void *a, const void *b)
{
    const fl_office_t *x = *(const fl_office_t *const *) a;
    const fl_office_t *y = *(const fl_office_t *const *) b;
    int order = strcmp(x->code, y->code);
    return order ? order : (x < y ? -1 : x > y);
}

/* Sort the offices by code for lookup; a code used twice is an error. */
static int
s_index_offices(s_ctx_t *ctx, fl_config_t *self)
{
    self->by_code = malloc(self->office_count * sizeof *self->by_code);
    if (!self->by_code)
        return s_no_memory(ctx, "offices");
    for (size_t i = 0; i < self->office_count; i++)
        self->by_code[i] = &self->offices[i];
    qsort(self->by_code, self->office_count, sizeof *self->by_code, s_compare_office_ptr);
    for (size_t i = 1; i < self->office_count; i++)
        if (strcmp(self->by_code[i]->code, self->by_code[i - 1]->code) == 0) {
            char item_path[S_PATH_MAX], code_path[S_PATH_MAX];
            size_t later = (size_t) (self->by_code[i] - self->offices);
            size_t earlier = (size_t) (self->by_code[i - 1] - self->offices);
            s_key_path(code_path, s_index_path(item_path, "offices", later), "code");
            return s_fail(ctx, FL_E_DUPLICATE_KEY, code_path, "%s is also offices[%zu]",
                          self->by_code[i]->code, earlier);
        }
    return 0;
}

static int
s_read_config(s_ctx_t *ctx, json_t *root, fl_config_t *self)
{
    json_t *list;
    int rc;
    if (!json_is_object(root))
        return s_fail(ctx, FL_E_TYPE, "", "the top level must be a JSON object");
    if ((rc = s_check_keys(ctx, root, "", s_config_keys))
        || (rc = s_read_int(ctx, root, "", &s_version_rule, &self->version)))
        return rc;
    if (self->version != FL_CONFIG_VERSION)
        return s_fail(ctx, FL_E_VERSION, "version", "is %d; this build reads version %d",
                      self->version, FL_CONFIG_VERSION);
    if ((rc = s_read_int(ctx, root, "", &s_booking_days_rule, &self->booking_days_ahead))
        || (rc = s_read_int(ctx, root, "", &s_phone_retention_rule, &self->phone_retention_days))
        || (rc = s_read_array(ctx, root, "", "offices", true, 1, FL_CONFIG_OFFICES_MAX, &list)))
        return rc;

    size_t count = json_array_size(list);
    self->offices = calloc(count, sizeof *self->offices);
    if (!self->offices)
        return s_no_memory(ctx, "offices");
    self->office_count = count;
    for (size_t i = 0; i < count; i++) {
        char item_path[S_PATH_MAX];
        s_index_path(item_path, "offices", i);
        if ((rc = s_read_office(ctx, json_array_get(list, i), item_path, &self->offices[i])))
            return rc;
    }
    return s_index_offices(ctx, self);
}

/* Turn a Jansson parse error into ours, keeping its line and column. */
static int
s_fail_json(s_ctx_t *ctx, const json_error_t *error)
{
    int code;
    switch (json_error_code(error)) {
    case json_error_out_of_memory:      code = FL_E_NOMEM; break;
    case json_error_stack_overflow:     code = FL_E_DEPTH; break;
    case json_error_premature_end_of_input: code = FL_E_TRUNCATED; break;
    case json_error_duplicate_key:      code = FL_E_DUPLICATE_KEY; break;
    default:                            code = FL_E_INVALID; break;
    }
    return s_fail(ctx, code, "", "line %d, column %d: %s", error->line, error->column,
                  error->text);
}

fl_config_t *
fl_config_parse(const char *text, size_t len, const char *name_for_errors, fl_error_t *err)
{
    assert(text || len == 0);
    s_ctx_t ctx = { name_for_errors ? name_for_errors : "", err };
    fl_error_clear(err);
    if (len > FL_CONFIG_FILE_MAX) {
        s_fail(&ctx, FL_E_TOO_LONG, "", "is larger than %u bytes", FL_CONFIG_FILE_MAX);
        return NULL;
    }
    /* Jansson would take a NUL byte for the end of the text, and report an
     * empty text as a syntax error; say what is really wrong. */
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul) {
        s_fail(&ctx, FL_E_INVALID, "", "has a NUL byte at offset %zu", (size_t) (nul - text));
        return NULL;
    }
    size_t blank = 0;
    while (blank < len && (text[blank] == ' ' || text[blank] == '\t'
                           || text[blank] == '\r' || text[blank] == '\n'))
        blank++;
    if (blank == len) {
        s_fail(&ctx, FL_E_INVALID, "", "is empty; a JSON object is expected");
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        s_fail_json(&ctx, &error);
        return NULL;
    }
    fl_config_t *self = calloc(1, sizeof *self);
    if (!self)
        s_no_memory(&ctx, "");
    else if (s_read_config(&ctx, root, self) != 0)
        fl_config_destroy(&self);
    json_decref(root);
    return self;
}

fl_config_t *
fl_config_load(const char *path, fl_error_t *err)
{
    assert(path);
    s_ctx_t ctx = { path, err };
    fl_error_clear(err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        s_fail(&ctx, FL_E_IO, "", "cannot open: %s", strerror(errno));
        return NULL;
    }
    /* Read at most one byte past the cap, so a larger file is seen as such
     * whatever its reported size (pipes and /proc files report none).  The
     * buffer starts small and doubles, so a small file costs little. */
    size_t cap = FL_CONFIG_FILE_MAX + 1, len = 0, size = 1024 * 1024;
    char *text = malloc(size);
    if (!text) {
        close(fd);
        s_no_memory(&ctx, "");
        return NULL;
    }
    fl_config_t *self = NULL;
    while (len < cap) {
        if (len == size) {
            size_t bigger = size * 2 < cap ? size * 2 : cap;
            char *grown = realloc(text, bigger);
            if (!grown) {
                s_no_memory(&ctx, "");
                goto done;
            }
            text = grown;
            size = bigger;
        }
        size_t room = size - len;
        size_t want = room < S_READ_CHUNK ? room : S_READ_CHUNK;
        ssize_t n = read(fd, text + len, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            s_fail(&ctx, FL_E_IO, "", "cannot read: %s", strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    if (len > FL_CONFIG_FILE_MAX)
        s_fail(&ctx, FL_E_TOO_LONG, "", "is larger than %u bytes", FL_CONFIG_FILE_MAX);
    else
        self = fl_config_parse(text, len, path, err);
done:
    free(text);
    close(fd);
    return self;
}

static void
s_text_free(fl_text_t *text)
{
    free(text->en);
    free(text->sw);
}

void
fl_config_destroy(fl_config_t **self_p)
{
    assert(self_p);
    fl_config_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->office_count; i++) {
        fl_office_t *office = &self->offices[i];
        s_text_free(&office->name);
        free(office->closed);
        for (size_t s = 0; s < office->service_count; s++) {
            s_text_free(&office->services[s].name);
            s_text_free(&office->services[s].bring);
        }
        free(office->services);
        for (size_t c = 0; c < office->counter_count; c++)
            free(office->counters[c].services);
        free(office->counters);
    }
    free(self->offices);
    free(self->by_code);
    free(self);
    *self_p = NULL;
}


/* ---- lookups -------------------------------------------------------------- */

static int
s_compare_code_to_office(const void *key, const void *element)
{
    return strcmp(key, (*(const fl_office_t *const *) element)->code);
}

const fl_office_t *
fl_config_office(const fl_config_t *self, const char *code)
{
    assert(self);
    if (!code)
        return NULL;
    const fl_office_t *const *found = bsearch(code, self->by_code, self->office_count,
                                              sizeof *self->by_code, s_compare_code_to_office);
    return found ? *found : NULL;
}

const fl_service_t *
fl_office_service(const fl_office_t *office, const char *code)
{
    assert(office);
    for (size_t i = 0; code && i < office->service_count; i++)
        if (strcmp(office->services[i].code, code) == 0)
            return &office->services[i];
    return NULL;
}

const fl_service_t *
fl_office_service_by_prefix(const fl_office_t *office, char prefix)
{
    assert(office);
    for (size_t i = 0; i < office->service_count; i++)
        if (office->services[i].prefix == prefix)
            return &office->services[i];
    return NULL;
}

const fl_counter_t *
fl_office_counter(const fl_office_t *office, int number)
{
    assert(office);
    for (size_t i = 0; i < office->counter_count; i++)
        if (office->counters[i].number == number)
            return &office->counters[i];
    return NULL;
}

static int
s_compare_date(const void *a, const void *b)
{
    int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
    return x < y ? -1 : x > y;
}

bool
fl_office_closed_on(const fl_office_t *office, int year, int month, int day)
{
    assert(office);
    if (year < FL_CONFIG_YEAR_MIN || year > FL_CONFIG_YEAR_MAX
        || month < 1 || month > 12 || day < 1 || day > 31)
        return false;
    int32_t date = year * 10000 + month * 100 + day;
    return office->closed_count > 0
        && bsearch(&date, office->closed, office->closed_count, sizeof date, s_compare_date);
}

bool
fl_counter_serves(const fl_counter_t *counter, const fl_service_t *service)
{
    assert(counter);
    for (size_t i = 0; i < counter->service_count; i++)
        if (counter->services[i] == service)
            return true;
    return false;
}

const char *
fl_text_pick(const fl_text_t *text, const char *lang)
{
    assert(text);
    if (lang && strcmp(lang, "sw") == 0 && text->sw)
        return text->sw;
    return text->en;
}
