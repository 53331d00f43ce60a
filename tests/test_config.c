/*  test_config.c — loading and checking the JSON config (libfoleni/config.h).
 *
 *  Most rules are proved by one table: start from a small valid config (two
 *  offices), change one value at a path, and expect a given error code at that
 *  path.  JSON in this file is written with ' for " to stay readable; s_json()
 *  swaps them back.  Tests run from the repository root, where the demo config
 *  lives at deploy/config/demo.json.
 */
#include "libfoleni/config.h"
#include "libfoleni/error.h"
#include "tests/testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEMO_PATH "deploy/config/demo.json"
/* Longest JSON snippet written in this file, after quote swapping. */
#define SNIPPET_MAX 4096
/* Longest path in a patch. */
#define PATCH_PATH_MAX 128
/* Most steps ("offices", [0], "services"...) in a patch path. */
#define PATCH_STEPS_MAX 8

/* Ten bytes, to spell long strings. */
#define X10 "xxxxxxxxxx"
#define X80 X10 X10 X10 X10 X10 X10 X10 X10
#define X240 X80 X80 X80

static const char *const s_base =
    "{'version': 1,"
    " 'offices': ["
    "  {'code': 'AAA', 'name': {'en': 'Office A', 'sw': 'Ofisi A'},"
    "   'timezone': 'Africa/Nairobi',"
    "   'hours': {'mon': ['08:00', '17:00'], 'sat': ['08:00', '13:00']},"
    "   'closed': ['2026-12-25', '2026-12-26'],"
    "   'services': ["
    "    {'code': 'PASSPORT', 'prefix': 'P', 'name': {'en': 'Passports', 'sw': 'Pasipoti'},"
    "     'slot_minutes': 15, 'capacity': 4, 'service_minutes': 12, 'fee': 7500,"
    "     'bring': {'en': 'ID card'}},"
    "    {'code': 'IDCARD', 'prefix': 'I', 'name': {'en': 'ID cards'},"
    "     'slot_minutes': 15, 'capacity': 6, 'service_minutes': 10}],"
    "   'counters': ["
    "    {'number': 1, 'name': 'Dirisha 1', 'services': ['PASSPORT']},"
    "    {'number': 2, 'services': ['IDCARD', 'PASSPORT']}]},"
    "  {'code': 'BBB', 'name': {'en': 'Office B'},"
    "   'hours': {'tue': ['09:00', '16:00']},"
    "   'services': ["
    "    {'code': 'BIRTH', 'prefix': 'B', 'name': {'en': 'Birth certificates'},"
    "     'slot_minutes': 10, 'capacity': 2, 'service_minutes': 8}],"
    "   'counters': [{'number': 1, 'services': ['BIRTH']}]}]}";


/* ---- helpers -------------------------------------------------------------- */

/* text with every ' turned into "; static storage, one at a time. */
static const char *
s_json(const char *text)
{
    static char buf[SNIPPET_MAX];
    ck_assert_uint_lt(strlen(text), sizeof buf);
    size_t i = 0;
    for (; text[i]; i++)
        buf[i] = text[i] == '\'' ? '"' : text[i];
    buf[i] = '\0';
    return buf;
}

static json_t *
s_parse_json(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(s_json(text), JSON_DECODE_ANY, &error);
    ck_assert_msg(value != NULL, "bad test JSON: %s: %s", text, error.text);
    return value;
}

/* Parse a config written with ' quotes; err gets the outcome. */
static fl_config_t *
s_parse(const char *text, fl_error_t *err)
{
    const char *json = s_json(text);
    return fl_config_parse(json, strlen(json), "test.json", err);
}

/* Serialise a Jansson tree and parse it as a config. */
static fl_config_t *
s_parse_tree(const json_t *root, fl_error_t *err)
{
    char *text = json_dumps(root, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    fl_config_t *config = fl_config_parse(text, strlen(text), "test.json", err);
    free(text);
    return config;
}

/*  Set the value at path ("offices[0].hours.mon[1]") in root, taking value;
 *  NULL removes it.  An index one past the end appends. */
static void
s_patch(json_t *root, const char *path, json_t *value)
{
    struct { char key[PATCH_PATH_MAX]; long index; } steps[PATCH_STEPS_MAX];
    size_t count = 0;
    for (const char *p = path; *p; ) {
        ck_assert_uint_lt(count, PATCH_STEPS_MAX);
        if (*p == '[') {
            char *end;
            steps[count].key[0] = '\0';
            steps[count++].index = strtol(p + 1, &end, 10);
            ck_assert_int_eq(*end, ']');
            p = end + 1;
        } else {
            size_t n = strcspn(p, ".[");
            ck_assert_uint_lt(n, PATCH_PATH_MAX);
            memcpy(steps[count].key, p, n);
            steps[count].key[n] = '\0';
            steps[count++].index = -1;
            p += n;
        }
        if (*p == '.')
            p++;
    }
    json_t *parent = root;
    for (size_t i = 0; i + 1 < count; i++) {
        parent = steps[i].index < 0 ? json_object_get(parent, steps[i].key)
                                    : json_array_get(parent, (size_t) steps[i].index);
        ck_assert_msg(parent != NULL, "no %s in the base config", path);
    }
    const char *key = steps[count - 1].key;
    size_t index = (size_t) steps[count - 1].index;
    if (steps[count - 1].index < 0)
        ck_assert_int_eq(value ? json_object_set_new(parent, key, value)
                               : json_object_del(parent, key), 0);
    else if (!value)
        ck_assert_int_eq(json_array_remove(parent, index), 0);
    else if (index == json_array_size(parent))
        ck_assert_int_eq(json_array_append_new(parent, value), 0);
    else
        ck_assert_int_eq(json_array_set_new(parent, index, value), 0);
}

static void
s_assert_error(const fl_error_t *err, int code, const char *field, const char *rule)
{
    ck_assert_msg(err->code == code && strcmp(err->field, field) == 0,
                  "%s: expected %s at \"%s\", got %s at \"%s\": %s", rule,
                  fl_error_name(code), field, fl_error_name(err->code), err->field,
                  err->message);
}

/* Write len bytes of text to a new file in dir; returns its path (static). */
static const char *
s_write_file(const char *dir, const char *name, const char *text, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "wb");
    ck_assert_ptr_nonnull(file);
    ck_assert_uint_eq(fwrite(text, 1, len, file), len);
    ck_assert_int_eq(fclose(file), 0);
    return path;
}


/* ---- the demo office ------------------------------------------------------ */

START_TEST(test_demo_file_loads)
{
    fl_error_t err;
    fl_config_t *config = fl_config_load(DEMO_PATH, &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    ck_assert_int_eq(err.code, FL_OK);
    ck_assert_int_eq(config->version, 1);
    ck_assert_uint_eq(config->office_count, 1);

    const fl_office_t *gpo = fl_config_office(config, "NBIGPO");
    ck_assert_ptr_nonnull(gpo);
    ck_assert_str_eq(gpo->name.en, "Huduma Centre GPO, Nairobi");
    ck_assert_str_eq(gpo->name.sw, "Kituo cha Huduma GPO, Nairobi");
    ck_assert_str_eq(gpo->timezone, "Africa/Nairobi");
    ck_assert_uint_eq(gpo->service_count, 6);
    ck_assert_uint_eq(gpo->counter_count, 6);

    const char *codes[] = { "PASSPORT", "IDCARD", "BIRTH", "DRIVING", "GOODCOND", "BUSINESS" };
    const char prefixes[] = { 'P', 'I', 'B', 'D', 'G', 'R' };
    for (size_t i = 0; i < 6; i++) {
        const fl_service_t *service = fl_office_service(gpo, codes[i]);
        ck_assert_ptr_nonnull(service);
        ck_assert_int_eq(service->prefix, prefixes[i]);
        ck_assert_ptr_nonnull(service->name.sw);
        ck_assert_ptr_nonnull(service->bring.en);
        ck_assert_ptr_nonnull(service->bring.sw);
    }
    ck_assert_int_gt(fl_office_service(gpo, "PASSPORT")->fee, 0);
    fl_config_destroy(&config);
    ck_assert_ptr_null(config);
}
END_TEST

START_TEST(test_demo_office_opens_weekdays_and_saturday_morning)
{
    fl_config_t *config = fl_config_load(DEMO_PATH, NULL);
    ck_assert_ptr_nonnull(config);
    const fl_office_t *gpo = fl_config_office(config, "NBIGPO");
    ck_assert(!gpo->hours[0].is_open);                         /* Sunday */
    for (int day = 1; day <= 5; day++) {
        ck_assert(gpo->hours[day].is_open);
        ck_assert_int_eq(gpo->hours[day].opens, 8 * 60);
        ck_assert_int_eq(gpo->hours[day].closes, 17 * 60);
    }
    ck_assert(gpo->hours[6].is_open);
    ck_assert_int_eq(gpo->hours[6].closes, 13 * 60);

    ck_assert(fl_office_closed_on(gpo, 2026, 12, 25));         /* Christmas */
    ck_assert(fl_office_closed_on(gpo, 2026, 6, 1));           /* Madaraka Day */
    ck_assert(fl_office_closed_on(gpo, 2027, 12, 13));         /* Jamhuri Day, observed */
    ck_assert(!fl_office_closed_on(gpo, 2026, 12, 24));
    fl_config_destroy(&config);
}
END_TEST

START_TEST(test_demo_counters_serve_overlapping_services)
{
    fl_config_t *config = fl_config_load(DEMO_PATH, NULL);
    ck_assert_ptr_nonnull(config);
    const fl_office_t *gpo = fl_config_office(config, "NBIGPO");
    const fl_service_t *passport = fl_office_service(gpo, "PASSPORT");
    const fl_service_t *idcard = fl_office_service(gpo, "IDCARD");
    ck_assert(fl_counter_serves(fl_office_counter(gpo, 1), passport));
    ck_assert(fl_counter_serves(fl_office_counter(gpo, 2), passport));
    ck_assert(fl_counter_serves(fl_office_counter(gpo, 2), idcard));
    ck_assert(!fl_counter_serves(fl_office_counter(gpo, 1), idcard));
    ck_assert_str_eq(fl_office_counter(gpo, 6)->name, "Dirisha 6");
    for (size_t s = 0; s < gpo->service_count; s++) {
        int serving = 0;
        for (size_t c = 0; c < gpo->counter_count; c++)
            serving += fl_counter_serves(&gpo->counters[c], &gpo->services[s]);
        ck_assert_msg(serving >= 1, "%s has no counter", gpo->services[s].code);
    }
    fl_config_destroy(&config);
}
END_TEST


/* ---- values and defaults -------------------------------------------------- */

START_TEST(test_defaults_are_applied)
{
    fl_error_t err;
    fl_config_t *config = s_parse(s_base, &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    ck_assert_int_eq(config->booking_days_ahead, FL_BOOKING_DAYS_DEFAULT);
    ck_assert_int_eq(config->phone_retention_days, FL_PHONE_RETENTION_DEFAULT);
    const fl_office_t *office = fl_config_office(config, "BBB");
    ck_assert_str_eq(office->timezone, "Africa/Nairobi");
    ck_assert_ptr_null(office->name.sw);
    ck_assert_uint_eq(office->closed_count, 0);
    const fl_service_t *birth = fl_office_service(office, "BIRTH");
    ck_assert_int_eq(birth->fee, 0);
    ck_assert_int_eq(birth->hold_minutes, 30);
    ck_assert_int_eq(birth->checkin_early_minutes, 30);
    ck_assert_int_eq(birth->checkin_late_minutes, 15);
    ck_assert(birth->late_as_walkin);
    ck_assert_int_eq(birth->max_wait_minutes, 90);
    ck_assert_ptr_null(birth->bring.en);
    ck_assert_ptr_null(birth->bring.sw);
    ck_assert_str_eq(fl_office_counter(office, 1)->name, "");
    for (int day = 0; day < FL_WEEKDAYS; day++)
        ck_assert(office->hours[day].is_open == (day == 2));
    fl_config_destroy(&config);
}
END_TEST

START_TEST(test_explicit_values_replace_defaults)
{
    json_t *root = s_parse_json(s_base);
    s_patch(root, "booking_days_ahead", json_integer(365));
    s_patch(root, "phone_retention_days", json_integer(7));
    s_patch(root, "offices[1].timezone", json_string("Africa/Kampala"));
    s_patch(root, "offices[1].services[0].fee", json_integer(1000000));
    s_patch(root, "offices[1].services[0].hold_minutes", json_integer(1440));
    s_patch(root, "offices[1].services[0].checkin_early_minutes", json_integer(0));
    s_patch(root, "offices[1].services[0].checkin_late_minutes", json_integer(240));
    s_patch(root, "offices[1].services[0].late_as_walkin", json_false());
    s_patch(root, "offices[1].services[0].max_wait_minutes", json_integer(5));
    fl_error_t err;
    fl_config_t *config = s_parse_tree(root, &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    ck_assert_int_eq(config->booking_days_ahead, 365);
    ck_assert_int_eq(config->phone_retention_days, 7);
    const fl_office_t *office = &config->offices[1];
    ck_assert_str_eq(office->timezone, "Africa/Kampala");
    const fl_service_t *birth = &office->services[0];
    ck_assert_int_eq(birth->fee, 1000000);
    ck_assert_int_eq(birth->hold_minutes, 1440);
    ck_assert_int_eq(birth->checkin_early_minutes, 0);
    ck_assert_int_eq(birth->checkin_late_minutes, 240);
    ck_assert(!birth->late_as_walkin);
    ck_assert_int_eq(birth->max_wait_minutes, 5);
    fl_config_destroy(&config);
    json_decref(root);
}
END_TEST

START_TEST(test_hours_may_run_from_midnight_to_midnight)
{
    json_t *root = s_parse_json(s_base);
    s_patch(root, "offices[1].hours.sun", s_parse_json("['00:00', '24:00']"));
    fl_error_t err;
    fl_config_t *config = s_parse_tree(root, &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    ck_assert(config->offices[1].hours[0].is_open);
    ck_assert_int_eq(config->offices[1].hours[0].opens, 0);
    ck_assert_int_eq(config->offices[1].hours[0].closes, 1440);
    fl_config_destroy(&config);
    json_decref(root);
}
END_TEST

START_TEST(test_name_length_counts_bytes_not_characters)
{
    /* "é" is two bytes: 40 of them make 80 bytes, the most a name may have. */
    char name[2 * FL_CONFIG_NAME_MAX + 3];
    name[0] = '\0';
    for (int i = 0; i < FL_CONFIG_NAME_MAX / 2; i++)
        strcat(name, "é");
    json_t *root = s_parse_json(s_base);
    s_patch(root, "offices[0].name.sw", json_string(name));
    fl_error_t err;
    fl_config_t *config = s_parse_tree(root, &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    ck_assert_str_eq(config->offices[0].name.sw, name);
    fl_config_destroy(&config);

    strcat(name, "é");
    s_patch(root, "offices[0].name.sw", json_string(name));
    ck_assert_ptr_null(s_parse_tree(root, &err));
    s_assert_error(&err, FL_E_TOO_LONG, "offices[0].name.sw", "41 two-byte characters");
    json_decref(root);
}
END_TEST

START_TEST(test_text_pick_falls_back_to_english)
{
    fl_config_t *config = s_parse(s_base, NULL);
    ck_assert_ptr_nonnull(config);
    const fl_office_t *a = fl_config_office(config, "AAA");
    ck_assert_str_eq(fl_text_pick(&a->name, "sw"), "Ofisi A");
    ck_assert_str_eq(fl_text_pick(&a->name, "en"), "Office A");
    ck_assert_str_eq(fl_text_pick(&a->name, "fr"), "Office A");
    ck_assert_str_eq(fl_text_pick(&a->name, NULL), "Office A");
    const fl_office_t *b = fl_config_office(config, "BBB");
    ck_assert_str_eq(fl_text_pick(&b->name, "sw"), "Office B");
    ck_assert_ptr_null(fl_text_pick(&b->services[0].bring, "sw"));
    fl_config_destroy(&config);
}
END_TEST


/* ---- lookups -------------------------------------------------------------- */

START_TEST(test_lookups_find_by_code_prefix_and_number)
{
    fl_config_t *config = s_parse(s_base, NULL);
    ck_assert_ptr_nonnull(config);
    const fl_office_t *a = fl_config_office(config, "AAA");
    ck_assert_ptr_eq(a, &config->offices[0]);
    ck_assert_ptr_eq(fl_config_office(config, "BBB"), &config->offices[1]);
    ck_assert_ptr_null(fl_config_office(config, "CCC"));
    ck_assert_ptr_null(fl_config_office(config, "aaa"));
    ck_assert_ptr_null(fl_config_office(config, NULL));

    ck_assert_ptr_eq(fl_office_service(a, "IDCARD"), &a->services[1]);
    ck_assert_ptr_null(fl_office_service(a, "BIRTH"));
    ck_assert_ptr_eq(fl_office_service_by_prefix(a, 'P'), &a->services[0]);
    ck_assert_ptr_null(fl_office_service_by_prefix(a, 'B'));

    const fl_counter_t *two = fl_office_counter(a, 2);
    ck_assert_ptr_eq(two, &a->counters[1]);
    ck_assert_ptr_null(fl_office_counter(a, 3));
    ck_assert_uint_eq(two->service_count, 2);
    ck_assert_ptr_eq(two->services[0], &a->services[1]);      /* file order */
    ck_assert_ptr_eq(two->services[1], &a->services[0]);
    fl_config_destroy(&config);
}
END_TEST

START_TEST(test_closed_dates_are_sorted_and_searchable)
{
    json_t *root = s_parse_json(s_base);
    s_patch(root, "offices[0].closed",
            s_parse_json("['2027-01-01', '2026-12-25', '2028-02-29', '2026-01-01']"));
    fl_error_t err;
    fl_config_t *config = s_parse_tree(root, &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    const fl_office_t *a = &config->offices[0];
    ck_assert_uint_eq(a->closed_count, 4);
    ck_assert_int_eq(a->closed[0], 20260101);
    ck_assert_int_eq(a->closed[1], 20261225);
    ck_assert_int_eq(a->closed[2], 20270101);
    ck_assert_int_eq(a->closed[3], 20280229);
    ck_assert(fl_office_closed_on(a, 2028, 2, 29));
    ck_assert(!fl_office_closed_on(a, 2026, 12, 26));
    ck_assert(!fl_office_closed_on(a, 2026, 13, 25));
    ck_assert(!fl_office_closed_on(&config->offices[1], 2026, 12, 25));
    fl_config_destroy(&config);
    json_decref(root);
}
END_TEST


/* ---- rejected configs ----------------------------------------------------- */

/*  One rule each: set path to value (JSON with ' quotes; NULL removes it) in
 *  the base config, and expect code at field (NULL: at path itself). */
static const struct {
    const char *rule;
    const char *path;
    const char *value;
    int code;
    const char *field;
} s_bad[] = {
    /* unknown keys: typos must not pass */
    { "unknown top-level key", "versoin", "1", FL_E_UNKNOWN, NULL },
    { "unknown office key", "offices[0].servics", "[]", FL_E_UNKNOWN, NULL },
    { "unknown service key", "offices[0].services[0].prefx", "'P'", FL_E_UNKNOWN, NULL },
    { "unknown counter key", "offices[1].counters[0].nmae", "'x'", FL_E_UNKNOWN, NULL },
    { "unknown language", "offices[0].name.fr", "'Bureau A'", FL_E_UNKNOWN, NULL },
    { "unknown weekday", "offices[0].hours.monday", "['08:00', '17:00']", FL_E_UNKNOWN, NULL },
    { "unknown bring key", "offices[0].services[0].bring.de", "'x'", FL_E_UNKNOWN, NULL },
    /* top level */
    { "version 2", "version", "2", FL_E_VERSION, NULL },
    { "version 0", "version", "0", FL_E_VERSION, NULL },
    { "version as text", "version", "'1'", FL_E_TYPE, NULL },
    { "version missing", "version", NULL, FL_E_MISSING, NULL },
    { "booking days 0", "booking_days_ahead", "0", FL_E_RANGE, NULL },
    { "booking days 366", "booking_days_ahead", "366", FL_E_RANGE, NULL },
    { "booking days as real", "booking_days_ahead", "30.5", FL_E_TYPE, NULL },
    { "phone retention 0", "phone_retention_days", "0", FL_E_RANGE, NULL },
    { "phone retention 3651", "phone_retention_days", "3651", FL_E_RANGE, NULL },
    { "phone retention as text", "phone_retention_days", "'90'", FL_E_TYPE, NULL },
    { "offices missing", "offices", NULL, FL_E_MISSING, NULL },
    { "offices empty", "offices", "[]", FL_E_MISSING, NULL },
    { "offices an object", "offices", "{}", FL_E_TYPE, NULL },
    { "office a number", "offices[0]", "5", FL_E_TYPE, NULL },
    /* office code */
    { "office code missing", "offices[0].code", NULL, FL_E_MISSING, NULL },
    { "office code lower case", "offices[0].code", "'aaa'", FL_E_INVALID, NULL },
    { "office code one char", "offices[0].code", "'A'", FL_E_INVALID, NULL },
    { "office code nine chars", "offices[0].code", "'ABCDEFGHI'", FL_E_INVALID, NULL },
    { "office code with dash", "offices[0].code", "'AB-1'", FL_E_INVALID, NULL },
    { "office code a number", "offices[0].code", "12", FL_E_TYPE, NULL },
    { "office code twice", "offices[1].code", "'AAA'", FL_E_DUPLICATE_KEY, NULL },
    /* names */
    { "office name missing", "offices[0].name", NULL, FL_E_MISSING, NULL },
    { "office name plain text", "offices[0].name", "'Office A'", FL_E_TYPE, NULL },
    { "office name without en", "offices[0].name.en", NULL, FL_E_MISSING, NULL },
    { "office name en empty", "offices[0].name.en", "''", FL_E_INVALID, NULL },
    { "office name en 81 bytes", "offices[0].name.en", "'" X80 "x'", FL_E_TOO_LONG, NULL },
    { "office name sw 81 bytes", "offices[0].name.sw", "'" X80 "x'", FL_E_TOO_LONG, NULL },
    { "office name with newline", "offices[0].name.en", "'Office\\nA'", FL_E_INVALID, NULL },
    { "office name sw a number", "offices[0].name.sw", "7", FL_E_TYPE, NULL },
    { "service name 81 bytes", "offices[0].services[1].name.en", "'" X80 "x'",
      FL_E_TOO_LONG, NULL },
    /* timezone */
    { "timezone unknown", "offices[0].timezone", "'Africa/Atlantis'", FL_E_INVALID, NULL },
    { "timezone climbs out", "offices[0].timezone", "'../../etc/passwd'", FL_E_INVALID, NULL },
    { "timezone absolute", "offices[0].timezone", "'/etc/localtime'", FL_E_INVALID, NULL },
    { "timezone a folder", "offices[0].timezone", "'Africa'", FL_E_INVALID, NULL },
    { "timezone a data file", "offices[0].timezone", "'leapseconds'", FL_E_INVALID, NULL },
    { "timezone with dot", "offices[0].timezone", "'zone.tab'", FL_E_INVALID, NULL },
    { "timezone empty", "offices[0].timezone", "''", FL_E_INVALID, NULL },
    { "timezone a number", "offices[0].timezone", "3", FL_E_TYPE, NULL },
    /* hours */
    { "hours missing", "offices[0].hours", NULL, FL_E_MISSING, NULL },
    { "hours never open", "offices[0].hours", "{}", FL_E_INVALID, NULL },
    { "hours a list", "offices[0].hours", "[]", FL_E_TYPE, NULL },
    { "opens after it closes", "offices[0].hours.mon", "['17:00', '08:00']", FL_E_INVALID, NULL },
    { "opens as it closes", "offices[0].hours.mon", "['08:00', '08:00']", FL_E_INVALID, NULL },
    { "hour 25", "offices[0].hours.mon[1]", "'25:00'", FL_E_INVALID, NULL },
    { "past 24:00", "offices[0].hours.mon[1]", "'24:01'", FL_E_INVALID, NULL },
    { "minute 60", "offices[0].hours.mon[0]", "'08:60'", FL_E_INVALID, NULL },
    { "one-digit hour", "offices[0].hours.mon[0]", "'8:00'", FL_E_INVALID, NULL },
    { "time a number", "offices[0].hours.mon[0]", "800", FL_E_TYPE, NULL },
    { "one time only", "offices[0].hours.mon[1]", NULL, FL_E_INVALID, "offices[0].hours.mon" },
    { "three times", "offices[0].hours.mon[2]", "'18:00'", FL_E_INVALID, "offices[0].hours.mon" },
    { "day as text", "offices[0].hours.mon", "'08:00-17:00'", FL_E_TYPE, NULL },
    /* closed dates */
    { "no 29 February 2026", "offices[0].closed[0]", "'2026-02-29'", FL_E_INVALID, NULL },
    { "month 13", "offices[0].closed[0]", "'2026-13-01'", FL_E_INVALID, NULL },
    { "day 32", "offices[0].closed[0]", "'2026-12-32'", FL_E_INVALID, NULL },
    { "day first", "offices[0].closed[0]", "'25-12-2026'", FL_E_INVALID, NULL },
    { "year out of range", "offices[0].closed[0]", "'1999-12-25'", FL_E_INVALID, NULL },
    { "date a number", "offices[0].closed[0]", "20261225", FL_E_TYPE, NULL },
    { "date twice", "offices[0].closed[0]", "'2026-12-26'", FL_E_DUPLICATE_KEY,
      "offices[0].closed[1]" },
    { "closed as text", "offices[0].closed", "'2026-12-25'", FL_E_TYPE, NULL },
    /* services */
    { "services missing", "offices[0].services", NULL, FL_E_MISSING, NULL },
    { "services empty", "offices[0].services", "[]", FL_E_MISSING, NULL },
    { "service code lower case", "offices[0].services[0].code", "'passport'", FL_E_INVALID, NULL },
    { "service code empty", "offices[0].services[0].code", "''", FL_E_INVALID, NULL },
    { "service code nine chars", "offices[0].services[0].code", "'PASSPORTS'",
      FL_E_INVALID, NULL },
    { "service code twice", "offices[0].services[1].code", "'PASSPORT'",
      FL_E_DUPLICATE_KEY, NULL },
    { "prefix two letters", "offices[0].services[0].prefix", "'PP'", FL_E_INVALID, NULL },
    { "prefix lower case", "offices[0].services[0].prefix", "'p'", FL_E_INVALID, NULL },
    { "prefix a digit", "offices[0].services[0].prefix", "'1'", FL_E_INVALID, NULL },
    { "prefix missing", "offices[0].services[0].prefix", NULL, FL_E_MISSING, NULL },
    { "prefix twice", "offices[0].services[1].prefix", "'P'", FL_E_DUPLICATE_KEY, NULL },
    { "service name missing", "offices[0].services[0].name", NULL, FL_E_MISSING, NULL },
    { "slot 4 minutes", "offices[0].services[0].slot_minutes", "4", FL_E_RANGE, NULL },
    { "slot 241 minutes", "offices[0].services[0].slot_minutes", "241", FL_E_RANGE, NULL },
    { "slot as real", "offices[0].services[0].slot_minutes", "15.0", FL_E_TYPE, NULL },
    { "slot as text", "offices[0].services[0].slot_minutes", "'15'", FL_E_TYPE, NULL },
    { "slot missing", "offices[0].services[0].slot_minutes", NULL, FL_E_MISSING, NULL },
    { "capacity -1", "offices[0].services[0].capacity", "-1", FL_E_RANGE, NULL },
    { "capacity 1001", "offices[0].services[0].capacity", "1001", FL_E_RANGE, NULL },
    { "capacity missing", "offices[0].services[0].capacity", NULL, FL_E_MISSING, NULL },
    { "service 0 minutes", "offices[0].services[0].service_minutes", "0", FL_E_RANGE, NULL },
    { "service time missing", "offices[0].services[0].service_minutes", NULL,
      FL_E_MISSING, NULL },
    { "fee over a million", "offices[0].services[0].fee", "1000001", FL_E_RANGE, NULL },
    { "fee negative", "offices[0].services[0].fee", "-1", FL_E_RANGE, NULL },
    { "hold 0 minutes", "offices[0].services[0].hold_minutes", "0", FL_E_RANGE, NULL },
    { "hold over a day", "offices[0].services[0].hold_minutes", "1441", FL_E_RANGE, NULL },
    { "check-in 241 early", "offices[0].services[0].checkin_early_minutes", "241",
      FL_E_RANGE, NULL },
    { "check-in -1 late", "offices[0].services[0].checkin_late_minutes", "-1",
      FL_E_RANGE, NULL },
    { "late_as_walkin as text", "offices[0].services[0].late_as_walkin", "'yes'",
      FL_E_TYPE, NULL },
    { "late_as_walkin as 1", "offices[0].services[0].late_as_walkin", "1", FL_E_TYPE, NULL },
    { "max wait 4", "offices[0].services[0].max_wait_minutes", "4", FL_E_RANGE, NULL },
    { "max wait null", "offices[0].services[0].max_wait_minutes", "null", FL_E_TYPE, NULL },
    { "huge number", "offices[0].services[0].capacity", "99999999999999", FL_E_RANGE, NULL },
    { "bring plain text", "offices[0].services[0].bring", "'ID card'", FL_E_TYPE, NULL },
    { "bring without en", "offices[0].services[0].bring", "{'sw': 'Kitambulisho'}",
      FL_E_MISSING, "offices[0].services[0].bring.en" },
    { "bring 241 bytes", "offices[0].services[0].bring.en", "'" X240 "x'", FL_E_TOO_LONG, NULL },
    { "service a list", "offices[0].services[0]", "[]", FL_E_TYPE, NULL },
    /* counters */
    { "counters missing", "offices[0].counters", NULL, FL_E_MISSING, NULL },
    { "counters empty", "offices[0].counters", "[]", FL_E_MISSING, NULL },
    { "counter 0", "offices[0].counters[0].number", "0", FL_E_RANGE, NULL },
    { "counter 1000", "offices[0].counters[0].number", "1000", FL_E_RANGE, NULL },
    { "counter number missing", "offices[0].counters[0].number", NULL, FL_E_MISSING, NULL },
    { "counter number twice", "offices[0].counters[1].number", "1", FL_E_DUPLICATE_KEY, NULL },
    { "counter name empty", "offices[0].counters[0].name", "''", FL_E_INVALID, NULL },
    { "counter name 33 bytes", "offices[0].counters[0].name", "'" X10 X10 X10 "xxx'",
      FL_E_TOO_LONG, NULL },
    { "counter name a number", "offices[0].counters[0].name", "1", FL_E_TYPE, NULL },
    { "counter services missing", "offices[0].counters[0].services", NULL, FL_E_MISSING, NULL },
    { "counter services empty", "offices[0].counters[0].services", "[]", FL_E_MISSING, NULL },
    { "counter names unknown service", "offices[0].counters[0].services[0]", "'VISA'",
      FL_E_NOT_FOUND, NULL },
    { "counter names another office's service", "offices[0].counters[0].services[0]",
      "'BIRTH'", FL_E_NOT_FOUND, NULL },
    { "counter names a service twice", "offices[0].counters[1].services[0]", "'PASSPORT'",
      FL_E_DUPLICATE_KEY, "offices[0].counters[1].services[1]" },
    { "counter service a number", "offices[0].counters[0].services[0]", "1", FL_E_TYPE, NULL },
    { "service no counter serves", "offices[0].counters[1].services", "['PASSPORT']",
      FL_E_INVALID, "offices[0].services[1]" },
};

START_TEST(test_bad_config_is_rejected)
{
    json_t *root = s_parse_json(s_base);
    const char *field = s_bad[_i].field ? s_bad[_i].field : s_bad[_i].path;
    s_patch(root, s_bad[_i].path, s_bad[_i].value ? s_parse_json(s_bad[_i].value) : NULL);
    fl_error_t err;
    fl_config_t *config = s_parse_tree(root, &err);
    ck_assert_msg(config == NULL, "%s: accepted", s_bad[_i].rule);
    s_assert_error(&err, s_bad[_i].code, field, s_bad[_i].rule);
    /* The message names the file and the field. */
    char start[FL_ERROR_MESSAGE_MAX];
    snprintf(start, sizeof start, "test.json: %s: ", field);
    ck_assert_msg(strncmp(err.message, start, strlen(start)) == 0, "%s: message \"%s\"",
                  s_bad[_i].rule, err.message);
    json_decref(root);
}
END_TEST

/* Text that is not a valid JSON config at all. */
static const struct {
    const char *rule;
    const char *text;
    int code;
} s_bad_json[] = {
    { "empty text", "", FL_E_INVALID },
    { "only white space", " \n\t ", FL_E_INVALID },
    { "ends early", "{'version': 1, 'offices': [", FL_E_TRUNCATED },
    { "missing comma", "{'version': 1 'offices': []}", FL_E_INVALID },
    { "trailing comma", "{'version': 1,}", FL_E_INVALID },
    { "comment", "{'version': 1 /* one */}", FL_E_INVALID },
    { "text after the object", "{'version': 1} {}", FL_E_INVALID },
    { "key twice", "{'version': 1, 'version': 1}", FL_E_DUPLICATE_KEY },
    { "bare word", "{'version': one}", FL_E_INVALID },
    { "bad UTF-8", "{'version': '\xff'}", FL_E_INVALID },
    { "escaped NUL", "{'version': 'a\\u0000b'}", FL_E_INVALID },
    { "a scalar", "true", FL_E_INVALID },
    { "an array", "[1, 2]", FL_E_TYPE },
};

START_TEST(test_bad_json_is_rejected)
{
    fl_error_t err;
    ck_assert_ptr_null(s_parse(s_bad_json[_i].text, &err));
    s_assert_error(&err, s_bad_json[_i].code, "", s_bad_json[_i].rule);
    ck_assert_msg(strncmp(err.message, "test.json: ", 11) == 0, "%s", err.message);
}
END_TEST

START_TEST(test_deep_nesting_is_rejected)
{
    enum { DEPTH = 5000 };
    char *text = malloc(2 * DEPTH + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, '[', DEPTH);
    memset(text + DEPTH, ']', DEPTH);
    text[2 * DEPTH] = '\0';
    fl_error_t err;
    ck_assert_ptr_null(fl_config_parse(text, 2 * DEPTH, "deep.json", &err));
    s_assert_error(&err, FL_E_DEPTH, "", "5000 nested lists");
    free(text);
}
END_TEST

START_TEST(test_nul_byte_inside_the_text_is_rejected)
{
    const char text[] = "{\"version\": 1,\0 \"offices\": []}";
    fl_error_t err;
    ck_assert_ptr_null(fl_config_parse(text, sizeof text - 1, "nul.json", &err));
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.message, "nul.json: has a NUL byte at offset 14");
}
END_TEST

START_TEST(test_error_message_names_file_field_and_reason)
{
    json_t *root = s_parse_json(s_base);
    s_patch(root, "offices[0].services[2]", s_parse_json(
        "{'code': 'BIRTH', 'prefix': 'b', 'name': {'en': 'Birth'},"
        " 'slot_minutes': 10, 'capacity': 2, 'service_minutes': 8}"));
    char *text = json_dumps(root, 0);
    fl_error_t err;
    ck_assert_ptr_null(fl_config_parse(text, strlen(text), "demo.json", &err));
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.field, "offices[0].services[2].prefix");
    ck_assert_str_eq(err.message,
                     "demo.json: offices[0].services[2].prefix: must be one capital letter A-Z");
    free(text);
    json_decref(root);
}
END_TEST

START_TEST(test_messages_say_what_is_allowed)
{
    static const struct { const char *path, *value, *message; } cases[] = {
        { "offices[0].services[0].slot_minutes", "4",
          "test.json: offices[0].services[0].slot_minutes: must be from 5 to 240" },
        { "offices[0].hours.mon[1]", "'25:00'",
          "test.json: offices[0].hours.mon[1]: must be a time HH:MM from 00:00 to 24:00" },
        { "offices[0].hours.mon", "['17:00', '08:00']",
          "test.json: offices[0].hours.mon: must close after it opens" },
        { "offices[1].code", "'AAA'",
          "test.json: offices[1].code: AAA is also offices[0]" },
        { "offices[0].services[1].prefix", "'P'",
          "test.json: offices[0].services[1].prefix: P is already the prefix of "
          "services[0] (PASSPORT)" },
        { "offices[0].counters[0].services[0]", "'VISA'",
          "test.json: offices[0].counters[0].services[0]: this office has no service \"VISA\"" },
        { "offices[0].name.en", "'" X80 "x'",
          "test.json: offices[0].name.en: must be at most 80 bytes (is 81)" },
        { "offices[0].timezone", "'Africa/Atlantis'",
          "test.json: offices[0].timezone: no such timezone on this system" },
        { "version", "2", "test.json: version: is 2; this build reads version 1" },
        { "offices[0].prefix", "'P'", "test.json: offices[0].prefix: unknown key" },
        { "offices[0].services[0].prefx", "'P'",
          "test.json: offices[0].services[0].prefx: unknown key (did you mean \"prefix\"?)" },
        { "offices[0].cuonters", "[]",
          "test.json: offices[0].cuonters: unknown key (did you mean \"counters\"?)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *root = s_parse_json(s_base);
        s_patch(root, cases[i].path, s_parse_json(cases[i].value));
        fl_error_t err;
        ck_assert_ptr_null(s_parse_tree(root, &err));
        ck_assert_str_eq(err.message, cases[i].message);
        json_decref(root);
    }
}
END_TEST

START_TEST(test_empty_file_says_so)
{
    fl_error_t err;
    ck_assert_ptr_null(fl_config_parse("\n", 1, "empty.json", &err));
    ck_assert_str_eq(err.message, "empty.json: is empty; a JSON object is expected");
}
END_TEST

START_TEST(test_syntax_error_gives_line_and_column)
{
    const char *text = "{\n  \"version\": 1,\n  \"offices\": [}\n}\n";
    fl_error_t err;
    ck_assert_ptr_null(fl_config_parse(text, strlen(text), "bad.json", &err));
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.field, "");
    const char *start = "bad.json: line 3, column 15: ";
    ck_assert_msg(strncmp(err.message, start, strlen(start)) == 0, "%s", err.message);
}
END_TEST

START_TEST(test_error_without_a_name_starts_with_the_field)
{
    const char *text = s_json("{'version': 3, 'offices': []}");
    fl_error_t err;
    ck_assert_ptr_null(fl_config_parse(text, strlen(text), NULL, &err));
    ck_assert_str_eq(err.message, "version: is 3; this build reads version 1");
}
END_TEST


/* ---- files and limits ----------------------------------------------------- */

START_TEST(test_missing_file_is_an_io_error)
{
    fl_error_t err;
    ck_assert_ptr_null(fl_config_load("tests/no-such-config.json", &err));
    ck_assert_int_eq(err.code, FL_E_IO);
    ck_assert_str_eq(err.field, "");
    ck_assert_str_eq(err.message, "tests/no-such-config.json: cannot open: "
                                  "No such file or directory");
}
END_TEST

START_TEST(test_folder_is_an_io_error)
{
    fl_error_t err;
    ck_assert_ptr_null(fl_config_load("tests", &err));
    ck_assert_int_eq(err.code, FL_E_IO);
}
END_TEST

/* A file of exactly size bytes: the base config padded with spaces. */
static const char *
s_padded_file(const char *dir, size_t size)
{
    const char *json = s_json(s_base);
    size_t len = strlen(json);
    char *text = malloc(size);
    ck_assert_ptr_nonnull(text);
    memcpy(text, json, len);
    memset(text + len, ' ', size - len);
    const char *path = s_write_file(dir, "big.json", text, size);
    free(text);
    return path;
}

START_TEST(test_file_at_the_size_cap_loads)
{
    char *dir = tu_tempdir();
    fl_error_t err;
    fl_config_t *config = fl_config_load(s_padded_file(dir, FL_CONFIG_FILE_MAX), &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    fl_config_destroy(&config);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_file_over_the_size_cap_is_rejected)
{
    char *dir = tu_tempdir();
    fl_error_t err;
    const char *path = s_padded_file(dir, FL_CONFIG_FILE_MAX + 1);
    ck_assert_ptr_null(fl_config_load(path, &err));
    ck_assert_int_eq(err.code, FL_E_TOO_LONG);
    ck_assert_str_eq(err.field, "");
    char said[64];
    snprintf(said, sizeof said, "is larger than %u bytes", FL_CONFIG_FILE_MAX);
    ck_assert_ptr_nonnull(strstr(err.message, said));
    ck_assert_int_eq(strncmp(err.message, path, strlen(path)), 0);
    tu_rmtree(dir);
}
END_TEST

/* A national configuration: 1,000 offices x 26 services with Swahili names
 * and `bring` texts is well over the old 4 MiB cap, and must load. */
START_TEST(test_national_configuration_loads)
{
    size_t cap = 16u * 1024 * 1024, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
#define PUT(...) do { len += (size_t) snprintf(text + len, cap - len, __VA_ARGS__); \
                        ck_assert_uint_lt(len, cap); } while (0)
    PUT("{\"version\":1,\"booking_days_ahead\":365,\"offices\":[");
    for (int o = 0; o < 1000; o++) {
        PUT("%s{\"code\":\"OF%04d\",\"name\":{\"en\":\"Huduma Centre number %d, Government Road\","
            "\"sw\":\"Kituo cha Huduma namba %d, Barabara ya Serikali\"},\"timezone\":\"Africa/Nairobi\","
            "\"hours\":{\"mon\":[\"08:00\",\"17:00\"],\"tue\":[\"08:00\",\"17:00\"],"
            "\"wed\":[\"08:00\",\"17:00\"],\"thu\":[\"08:00\",\"17:00\"],\"fri\":[\"08:00\",\"17:00\"]},"
            "\"services\":[", o ? "," : "", o, o, o);
        for (int v = 0; v < 26; v++)
            PUT("%s{\"code\":\"SVC%02d\",\"prefix\":\"%c\",\"name\":{\"en\":\"Service %c of the office\","
                "\"sw\":\"Huduma %c ya ofisi\"},\"slot_minutes\":15,\"capacity\":4,\"service_minutes\":10,"
                "\"bring\":{\"en\":\"Your national ID card, a copy of it and two passport photographs\","
                "\"sw\":\"Kitambulisho chako cha taifa, nakala yake na picha mbili za pasipoti\"}}",
                v ? "," : "", v, 'A' + v, 'A' + v, 'A' + v);
        PUT("],\"counters\":[{\"number\":1,\"services\":[");
        for (int v = 0; v < 26; v++)
            PUT("%s\"SVC%02d\"", v ? "," : "", v);
        PUT("]}]}");
    }
    PUT("]}");
#undef PUT
    ck_assert_uint_gt(len, 4u * 1024 * 1024);
    ck_assert_uint_le(len, FL_CONFIG_FILE_MAX);
    char *dir = tu_tempdir();
    fl_error_t err;
    fl_config_t *config = fl_config_load(s_write_file(dir, "national.json", text, len), &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    ck_assert_uint_eq(config->office_count, 1000);
    fl_config_destroy(&config);
    free(text);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_text_over_the_size_cap_is_rejected)
{
    char *text = malloc(FL_CONFIG_FILE_MAX + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, ' ', FL_CONFIG_FILE_MAX + 1);
    fl_error_t err;
    ck_assert_ptr_null(fl_config_parse(text, FL_CONFIG_FILE_MAX + 1, "big.json", &err));
    ck_assert_int_eq(err.code, FL_E_TOO_LONG);
    free(text);
}
END_TEST

/*  One office with the given numbers of services (prefixes A, B... in turn),
 *  counters and closed dates (from 2026-01-01 on).  Counter 1 serves every
 *  service, the others the first one. */
static json_t *
s_office(const char *code, size_t services, size_t counters, size_t closed)
{
    json_t *office = s_parse_json("{'name': {'en': 'Office'}, 'hours': {'mon': ['08:00', '17:00']},"
                                  " 'services': [], 'counters': [], 'closed': []}");
    json_object_set_new(office, "code", json_string(code));
    for (size_t i = 0; i < services; i++) {
        json_t *service = s_parse_json("{'name': {'en': 'Service'}, 'slot_minutes': 15,"
                                       " 'capacity': 1, 'service_minutes': 10}");
        char service_code[32], prefix[2] = { (char) ('A' + i % 26), '\0' };
        snprintf(service_code, sizeof service_code, "S%zu", i);
        json_object_set_new(service, "code", json_string(service_code));
        json_object_set_new(service, "prefix", json_string(prefix));
        json_array_append_new(json_object_get(office, "services"), service);
    }
    json_t *all_services = json_array();
    for (size_t i = 0; i < services; i++) {
        char service_code[32];
        snprintf(service_code, sizeof service_code, "S%zu", i);
        json_array_append_new(all_services, json_string(service_code));
    }
    for (size_t i = 0; i < counters; i++) {
        json_t *counter = json_object();
        json_object_set_new(counter, "number", json_integer((json_int_t) i + 1));
        json_object_set_new(counter, "services",
                            i == 0 ? json_copy(all_services) : json_pack("[s]", "S0"));
        json_array_append_new(json_object_get(office, "counters"), counter);
    }
    json_decref(all_services);
    time_t day = 1767225600;                    /* 2026-01-01T00:00:00Z */
    for (size_t i = 0; i < closed; i++, day += 86400) {
        struct tm tm;
        char date[16];
        gmtime_r(&day, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        json_array_append_new(json_object_get(office, "closed"), json_string(date));
    }
    return office;
}

static json_t *
s_config_of(size_t offices, size_t services, size_t counters, size_t closed)
{
    json_t *root = s_parse_json("{'version': 1, 'offices': []}");
    for (size_t i = 0; i < offices; i++) {
        char code[32];
        snprintf(code, sizeof code, "O%04zu", i);
        json_array_append_new(json_object_get(root, "offices"),
                              s_office(code, services, counters, closed));
    }
    return root;
}

/* Each count at its limit passes; one more fails with the given error. */
static const struct {
    const char *rule;
    size_t offices, services, counters, closed;
    int code;
    const char *field;
} s_limits[] = {
    { "2000 offices", FL_CONFIG_OFFICES_MAX, 1, 1, 0, FL_OK, "" },
    { "2001 offices", FL_CONFIG_OFFICES_MAX + 1, 1, 1, 0, FL_E_TOO_LONG, "offices" },
    { "26 services, one per letter", 1, 26, 1, 0, FL_OK, "" },
    { "27 services share a letter", 1, 27, 1, 0, FL_E_DUPLICATE_KEY,
      "offices[0].services[26].prefix" },
    { "65 services", 1, FL_CONFIG_SERVICES_MAX + 1, 1, 0, FL_E_TOO_LONG, "offices[0].services" },
    { "256 counters", 1, 1, FL_CONFIG_COUNTERS_MAX, 0, FL_OK, "" },
    { "257 counters", 1, 1, FL_CONFIG_COUNTERS_MAX + 1, 0, FL_E_TOO_LONG, "offices[0].counters" },
    { "366 closed dates", 1, 1, 1, FL_CONFIG_CLOSED_MAX, FL_OK, "" },
    { "367 closed dates", 1, 1, 1, FL_CONFIG_CLOSED_MAX + 1, FL_E_TOO_LONG, "offices[0].closed" },
};

START_TEST(test_counts_at_their_limit_pass_and_one_more_fails)
{
    json_t *root = s_config_of(s_limits[_i].offices, s_limits[_i].services,
                               s_limits[_i].counters, s_limits[_i].closed);
    fl_error_t err;
    fl_config_t *config = s_parse_tree(root, &err);
    s_assert_error(&err, s_limits[_i].code, s_limits[_i].field, s_limits[_i].rule);
    if (s_limits[_i].code == FL_OK) {
        ck_assert_ptr_nonnull(config);
        ck_assert_uint_eq(config->office_count, s_limits[_i].offices);
        const fl_office_t *last = &config->offices[config->office_count - 1];
        ck_assert_ptr_eq(fl_config_office(config, last->code), last);
        ck_assert_uint_eq(last->service_count, s_limits[_i].services);
        ck_assert_uint_eq(last->counter_count, s_limits[_i].counters);
        ck_assert_uint_eq(last->closed_count, s_limits[_i].closed);
    }
    fl_config_destroy(&config);
    json_decref(root);
}
END_TEST

START_TEST(test_counter_with_over_64_services_is_rejected)
{
    json_t *root = s_parse_json(s_base);
    json_t *list = json_array();
    for (int i = 0; i <= FL_CONFIG_SERVICES_MAX; i++)
        json_array_append_new(list, json_string("PASSPORT"));
    s_patch(root, "offices[0].counters[0].services", list);
    fl_error_t err;
    ck_assert_ptr_null(s_parse_tree(root, &err));
    s_assert_error(&err, FL_E_TOO_LONG, "offices[0].counters[0].services", "65 entries");
    json_decref(root);
}
END_TEST

START_TEST(test_timezone_is_looked_up_under_tzdir)
{
    char *dir = tu_tempdir();
    char sub[512];
    snprintf(sub, sizeof sub, "%s/Test", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    s_write_file(dir, "Test/Zone", "TZif2 and the rest", 18);
    s_write_file(dir, "Test/Text", "not a zone", 10);
    setenv("TZDIR", dir, 1);

    json_t *root = s_parse_json(s_base);
    s_patch(root, "offices[0].timezone", json_string("Test/Zone"));
    s_patch(root, "offices[1].timezone", json_string("Test/Zone"));
    fl_error_t err;
    fl_config_t *config = s_parse_tree(root, &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    ck_assert_str_eq(config->offices[0].timezone, "Test/Zone");
    fl_config_destroy(&config);

    s_patch(root, "offices[0].timezone", json_string("Test/Text"));
    ck_assert_ptr_null(s_parse_tree(root, &err));
    s_assert_error(&err, FL_E_INVALID, "offices[0].timezone", "not a TZif file");
    json_decref(root);
    unsetenv("TZDIR");
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_destroy_accepts_null)
{
    fl_config_t *config = NULL;
    fl_config_destroy(&config);
    ck_assert_ptr_null(config);
}
END_TEST


Suite *
make_suite(void)
{
    Suite *suite = suite_create("config");

    TCase *tc = tcase_create("demo");
    tcase_add_test(tc, test_demo_file_loads);
    tcase_add_test(tc, test_demo_office_opens_weekdays_and_saturday_morning);
    tcase_add_test(tc, test_demo_counters_serve_overlapping_services);
    suite_add_tcase(suite, tc);

    tc = tcase_create("values");
    tcase_add_test(tc, test_defaults_are_applied);
    tcase_add_test(tc, test_explicit_values_replace_defaults);
    tcase_add_test(tc, test_hours_may_run_from_midnight_to_midnight);
    tcase_add_test(tc, test_name_length_counts_bytes_not_characters);
    tcase_add_test(tc, test_text_pick_falls_back_to_english);
    tcase_add_test(tc, test_lookups_find_by_code_prefix_and_number);
    tcase_add_test(tc, test_closed_dates_are_sorted_and_searchable);
    suite_add_tcase(suite, tc);

    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_bad_config_is_rejected, 0, sizeof s_bad / sizeof s_bad[0]);
    tcase_add_loop_test(tc, test_bad_json_is_rejected, 0,
                        sizeof s_bad_json / sizeof s_bad_json[0]);
    tcase_add_test(tc, test_deep_nesting_is_rejected);
    tcase_add_test(tc, test_nul_byte_inside_the_text_is_rejected);
    tcase_add_test(tc, test_error_message_names_file_field_and_reason);
    tcase_add_test(tc, test_messages_say_what_is_allowed);
    tcase_add_test(tc, test_empty_file_says_so);
    tcase_add_test(tc, test_syntax_error_gives_line_and_column);
    tcase_add_test(tc, test_error_without_a_name_starts_with_the_field);
    suite_add_tcase(suite, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_missing_file_is_an_io_error);
    tcase_add_test(tc, test_folder_is_an_io_error);
    tcase_add_test(tc, test_file_at_the_size_cap_loads);
    tcase_add_test(tc, test_file_over_the_size_cap_is_rejected);
    tcase_add_test(tc, test_national_configuration_loads);
    tcase_add_test(tc, test_text_over_the_size_cap_is_rejected);
    tcase_add_loop_test(tc, test_counts_at_their_limit_pass_and_one_more_fails, 0,
                        sizeof s_limits / sizeof s_limits[0]);
    tcase_add_test(tc, test_counter_with_over_64_services_is_rejected);
    tcase_add_test(tc, test_timezone_is_looked_up_under_tzdir);
    tcase_add_test(tc, test_destroy_accepts_null);
    suite_add_tcase(suite, tc);

    return suite;
}
