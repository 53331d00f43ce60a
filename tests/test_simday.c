/*  test_simday.c — a small simulated day through the real broker and scheduler.
 *
 *  Runs `foleni-simday --small --json` (bench/foleni-simday.c): 40 bookings
 *  and 60 walk-ins played through a whole day at the demo office with the
 *  scheduler's clock 2400 times faster than the wall clock and a fixed seed,
 *  and checks that it exits 0, that its report names every service of the
 *  demo office, and that every invariant it checks passed.  The simulation's
 *  invariants are written to hold whatever the machine's pace (docs/simday.md),
 *  so this test does not depend on timing luck.  Two quick cases check that
 *  it refuses a day the office is closed and a bad option, with exit code 2,
 *  without starting anything.
 */
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "libfoleni/config.h"
#include "tests/testutil.h"

#define SIMDAY_OUTPUT_MAX   (1024 * 1024)   /* the JSON report is a few KiB */
#define SIMDAY_CMD_MAX      2048
#define SIMDAY_CONFIG       "deploy/config/demo.json"

static const char *const s_invariants[] = { "final_states", "one_counter", "slot_capacity", "call_order",
                                            "appointment_promise", "kiosk_rules", "board_and_stats_agree" };

/* Run foleni-simday with args; its stdout into out (NUL-terminated); its exit status. */
static int
s_run(const char *args, char *out, size_t cap)
{
    char bin[SIMDAY_CMD_MAX], dir[SIMDAY_CMD_MAX], cmd[SIMDAY_CMD_MAX];
    snprintf(bin, sizeof bin, "%s", tu_bin("foleni-simday"));
    snprintf(dir, sizeof dir, "%s", bin);
    ck_assert_int_lt(snprintf(cmd, sizeof cmd, "'%s' --bin '%s' --config %s %s", bin, dirname(dir), SIMDAY_CONFIG,
                              args), (int) sizeof cmd);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0, got;
    while (n + 1 < cap && (got = fread(out + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    out[n] = '\0';
    int status = pclose(p);
    ck_assert_msg(WIFEXITED(status), "foleni-simday did not exit normally (status %d)", status);
    return WEXITSTATUS(status);
}

START_TEST(test_a_small_day_passes_every_invariant)
{
    char *out = malloc(SIMDAY_OUTPUT_MAX);
    ck_assert_ptr_nonnull(out);
    int rc = s_run("--small --json --quiet", out, SIMDAY_OUTPUT_MAX);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);          /* the report says which invariant failed */
    ck_assert_msg(rc == 0, "foleni-simday --small exited %d (its report is above)", rc);
    json_error_t jerr;
    json_t *report = json_loads(out, 0, &jerr);
    ck_assert_msg(report != NULL, "the report is not JSON: %s", jerr.text);
    ck_assert(json_is_true(json_object_get(report, "passed")));
    ck_assert_int_eq(json_integer_value(json_object_get(report, "bookings")), 40);
    ck_assert_int_eq(json_integer_value(json_object_get(report, "walkins")), 60);

    /* every service of the demo office is in the report, and the day served people */
    fl_error_t err;
    fl_config_t *config = fl_config_load(SIMDAY_CONFIG, &err);
    ck_assert_msg(config != NULL, "%s", err.message);
    const fl_office_t *office = &config->offices[0];
    ck_assert_str_eq(json_string_value(json_object_get(report, "office")), office->code);
    json_t *services = json_object_get(report, "services");
    ck_assert_int_eq(json_array_size(services), office->service_count);
    long served = 0;
    for (size_t i = 0; i < office->service_count; i++) {
        bool named = false;
        for (size_t j = 0; j < json_array_size(services); j++) {
            json_t *s = json_array_get(services, j);
            if (!strcmp(json_string_value(json_object_get(s, "service")), office->services[i].code)) {
                named = true;
                served += (long) json_integer_value(json_object_get(s, "served"));
            }
        }
        ck_assert_msg(named, "the report does not name service %s", office->services[i].code);
    }
    ck_assert_int_gt(served, 60);
    fl_config_destroy(&config);

    /* every invariant checked and passed */
    json_t *invariants = json_object_get(report, "invariants");
    ck_assert_int_eq(json_array_size(invariants), sizeof s_invariants / sizeof s_invariants[0]);
    for (size_t i = 0; i < sizeof s_invariants / sizeof s_invariants[0]; i++) {
        bool found = false;
        for (size_t j = 0; j < json_array_size(invariants); j++) {
            json_t *inv = json_array_get(invariants, j);
            if (strcmp(json_string_value(json_object_get(inv, "name")), s_invariants[i]) != 0)
                continue;
            found = true;
            ck_assert_msg(json_is_true(json_object_get(inv, "passed")), "invariant %s failed: %.200s", s_invariants[i],
                          json_string_value(json_array_get(json_object_get(inv, "messages"), 0)));
        }
        ck_assert_msg(found, "the report does not check invariant %s", s_invariants[i]);
    }
    /* the appointment promise was measured, with appointments to measure */
    json_t *promise = json_object_get(report, "promise");
    ck_assert_int_gt(json_integer_value(json_object_get(promise, "eligible")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(promise, "broken")), 0);
    json_decref(report);
    free(out);
}
END_TEST

START_TEST(test_a_closed_day_or_a_bad_option_is_refused)
{
    char out[4096];
    /* 2026-12-06 is a Sunday: the demo office is closed */
    ck_assert_int_eq(s_run("--quiet --start 2026-12-06T04:00:00Z 2>/dev/null", out, sizeof out), 2);
    ck_assert_int_eq(s_run("--quiet --speed 0 2>/dev/null", out, sizeof out), 2);
    ck_assert_int_eq(s_run("--quiet --citizens many 2>/dev/null", out, sizeof out), 2);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("simday");
    TCase *tc = tcase_create("a whole day");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_a_small_day_passes_every_invariant);
    tcase_add_test(tc, test_a_closed_day_or_a_bad_option_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
