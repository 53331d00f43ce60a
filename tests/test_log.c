/*  test_log.c — the logfmt line format of libfoleni/log.h, byte for byte.
 *
 *  Each test points the log at a pipe (or an O_APPEND file for the threaded
 *  test), logs, and compares what arrived.  The timestamp changes from run to
 *  run, so s_take() checks its shape and returns the rest of the line.
 */
#include "libfoleni/log.h"
#include "libfoleni/error.h"
#include "tests/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "ts=" + "2026-11-27T23:04:26.123Z" + " " */
#define TS_FIELD_LEN (3 + 24 + 1)
/* Enough for several full lines. */
#define CAPTURE_MAX (4 * FL_LOG_LINE_MAX)
#define MARK " truncated=true\n"
#define MARK_LEN (sizeof MARK - 1)

static int s_pipe[2];
static char s_captured[CAPTURE_MAX + 1];

static void
setup(void)
{
    unsetenv(FL_LOG_LEVEL_ENV);
    ck_assert_int_eq(pipe(s_pipe), 0);
    ck_assert_int_eq(fcntl(s_pipe[0], F_SETFL, O_NONBLOCK), 0);
    fl_log_set_fd(s_pipe[1]);
    fl_log_init("test", FL_LOG_DEBUG);
}

static void
teardown(void)
{
    fl_log_set_fd(-1);
    close(s_pipe[0]);
    close(s_pipe[1]);
}

/* Everything logged since the last call, as one string ("" if nothing). */
static const char *
s_take_all(void)
{
    size_t len = 0;
    ssize_t n;
    while (len < CAPTURE_MAX
           && (n = read(s_pipe[0], s_captured + len, CAPTURE_MAX - len)) > 0)
        len += (size_t) n;
    s_captured[len] = '\0';
    return s_captured;
}

static bool
s_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* Check that line starts with a well-formed ts= field; return what follows. */
static const char *
s_after_ts(const char *line)
{
    ck_assert_msg(strncmp(line, "ts=", 3) == 0, "no ts= in: %s", line);
    const char *t = line + 3;
    ck_assert_msg(s_digits(t, 4) && t[4] == '-' && s_digits(t + 5, 2) && t[7] == '-'
                  && s_digits(t + 8, 2) && t[10] == 'T' && s_digits(t + 11, 2)
                  && t[13] == ':' && s_digits(t + 14, 2) && t[16] == ':'
                  && s_digits(t + 17, 2) && t[19] == '.' && s_digits(t + 20, 3)
                  && t[23] == 'Z' && t[24] == ' ',
                  "bad timestamp in: %s", line);
    return line + TS_FIELD_LEN;
}

/* The one line logged since the last call, without its ts= field. */
static const char *
s_take(void)
{
    const char *all = s_take_all();
    const char *newline = strchr(all, '\n');
    ck_assert_msg(newline && newline[1] == '\0', "expected one line, got: %s", all);
    return s_after_ts(all);
}


/* ---- shape ---------------------------------------------------------------- */

START_TEST(test_line_starts_with_ts_level_comp_msg)
{
    fl_log(FL_LOG_INFO, "store opened", FL_S("path", "/var/x"), FL_I("size", 1024), NULL);
    ck_assert_str_eq(s_take(), "level=info comp=test msg=\"store opened\" path=/var/x size=1024\n");
}
END_TEST

START_TEST(test_timestamp_is_utc_now_with_milliseconds)
{
    /* the logger's own clock: glibc's time() reads a coarser one, which can
     * still say the last second when the logger already says the next */
    struct timespec t0, t1;
    clock_gettime(CLOCK_REALTIME, &t0);
    fl_log(FL_LOG_INFO, "x", NULL);
    clock_gettime(CLOCK_REALTIME, &t1);
    time_t before = t0.tv_sec, after = t1.tv_sec;
    const char *line = s_take_all();
    s_after_ts(line);
    struct tm tm = { 0 };
    ck_assert_ptr_nonnull(strptime(line + 3, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t logged = timegm(&tm);
    ck_assert(logged >= before && logged <= after);
}
END_TEST

START_TEST(test_each_level_has_its_name)
{
    fl_log(FL_LOG_DEBUG, "a", NULL);
    ck_assert_str_eq(s_take(), "level=debug comp=test msg=a\n");
    fl_log(FL_LOG_INFO, "a", NULL);
    ck_assert_str_eq(s_take(), "level=info comp=test msg=a\n");
    fl_log(FL_LOG_WARN, "a", NULL);
    ck_assert_str_eq(s_take(), "level=warn comp=test msg=a\n");
    fl_log(FL_LOG_ERROR, "a", NULL);
    ck_assert_str_eq(s_take(), "level=error comp=test msg=a\n");
}
END_TEST

START_TEST(test_component_is_quoted_and_bounded_like_a_value)
{
    fl_log_init("my comp", FL_LOG_DEBUG);
    fl_log(FL_LOG_INFO, "a", NULL);
    ck_assert_str_eq(s_take(), "level=info comp=\"my comp\" msg=a\n");

    char long_name[FL_LOG_COMP_MAX * 2];
    memset(long_name, 'c', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    fl_log_init(long_name, FL_LOG_DEBUG);
    fl_log(FL_LOG_INFO, "a", NULL);
    char expected[FL_LOG_COMP_MAX * 2 + 64];
    snprintf(expected, sizeof expected, "level=info comp=%.*s msg=a\n",
             FL_LOG_COMP_MAX, long_name);
    ck_assert_str_eq(s_take(), expected);
}
END_TEST

START_TEST(test_null_message_prints_null)
{
    fl_log(FL_LOG_INFO, NULL, NULL);
    ck_assert_str_eq(s_take(), "level=info comp=test msg=null\n");
}
END_TEST


/* ---- values --------------------------------------------------------------- */

static const struct {
    const char *value;
    const char *written;
} s_values[] = {
    { "plain",              "plain" },
    { "/var/lib/foleni",    "/var/lib/foleni" },
    { "back\\slash",        "back\\slash" },             /* bare: nothing to quote */
    { "Nairobi–GPO",        "Nairobi–GPO" },             /* UTF-8 is copied */
    { "",                   "\"\"" },
    { "two words",          "\"two words\"" },
    { "a=b",                "\"a=b\"" },
    { "say \"hi\"",         "\"say \\\"hi\\\"\"" },
    { "back\\ slash",       "\"back\\\\ slash\"" },
    { "line\nbreak",        "\"line\\nbreak\"" },
    { "cr\rtab\t",          "\"cr\\rtab\\t\"" },
    { "bell\a",             "\"bell\\x07\"" },
    { "del\x7f",            "\"del\\x7f\"" },
    { "esc\x1b[31m",        "\"esc\\x1b[31m\"" },
    { "null",               "\"null\"" },
    { NULL,                 "null" },
};

START_TEST(test_value_quoting_and_escaping)
{
    fl_log(FL_LOG_INFO, "m", FL_S("v", s_values[_i].value), NULL);
    char expected[256];
    snprintf(expected, sizeof expected, "level=info comp=test msg=m v=%s\n",
             s_values[_i].written);
    ck_assert_str_eq(s_take(), expected);
}
END_TEST

START_TEST(test_message_follows_value_rules)
{
    fl_log(FL_LOG_WARN, "disk \"full\"\nretrying", NULL);
    ck_assert_str_eq(s_take(), "level=warn comp=test msg=\"disk \\\"full\\\"\\nretrying\"\n");
}
END_TEST

START_TEST(test_keys_outside_charset_become_underscore)
{
    fl_log(FL_LOG_INFO, "m", FL_S("user name", "a"), FL_S("a=b\"c", "b"),
           FL_S("ok_key.sub-1", "c"), FL_S("", "d"), FL_S("é", "e"),
           FL_S("new\nline", "f"), NULL);
    ck_assert_str_eq(s_take(), "level=info comp=test msg=m user_name=a a_b_c=b "
                               "ok_key.sub-1=c _=d __=e new_line=f\n");
}
END_TEST

START_TEST(test_integers_cover_their_full_range)
{
    fl_log(FL_LOG_INFO, "m", FL_I("zero", 0), FL_I("neg", -42), FL_I("min", LLONG_MIN),
           FL_I("max", LLONG_MAX), FL_U("umax", ULLONG_MAX), NULL);
    ck_assert_str_eq(s_take(), "level=info comp=test msg=m zero=0 neg=-42 "
                               "min=-9223372036854775808 max=9223372036854775807 "
                               "umax=18446744073709551615\n");
}
END_TEST

START_TEST(test_doubles_are_short_and_read_back_exactly)
{
    fl_log(FL_LOG_INFO, "m", FL_D("half", 0.5), FL_D("tenth", 0.1), FL_D("third", 1.0 / 3),
           FL_D("big", 1e21), FL_D("negzero", -0.0), FL_D("whole", 12.0), NULL);
    ck_assert_str_eq(s_take(), "level=info comp=test msg=m half=0.5 tenth=0.1 "
                               "third=0.33333333333333331 big=1e+21 negzero=-0 whole=12\n");
}
END_TEST

START_TEST(test_doubles_nan_and_infinities_are_words)
{
    fl_log(FL_LOG_INFO, "m", FL_D("a", NAN), FL_D("b", INFINITY), FL_D("c", -INFINITY), NULL);
    ck_assert_str_eq(s_take(), "level=info comp=test msg=m a=nan b=inf c=-inf\n");
}
END_TEST


/* ---- levels --------------------------------------------------------------- */

START_TEST(test_lines_below_min_level_are_dropped)
{
    fl_log_init("test", FL_LOG_WARN);
    ck_assert(!fl_log_enabled(FL_LOG_DEBUG));
    ck_assert(!fl_log_enabled(FL_LOG_INFO));
    ck_assert(fl_log_enabled(FL_LOG_WARN));
    ck_assert(fl_log_enabled(FL_LOG_ERROR));
    fl_log(FL_LOG_DEBUG, "d", NULL);
    fl_log(FL_LOG_INFO, "i", NULL);
    fl_log(FL_LOG_WARN, "w", NULL);
    fl_log(FL_LOG_ERROR, "e", NULL);
    const char *all = s_take_all();
    const char *second = strchr(all, '\n') + 1;
    ck_assert_str_eq(s_after_ts(second), "level=error comp=test msg=e\n");
    ck_assert_int_eq(strncmp(s_after_ts(all), "level=warn comp=test msg=w\n", 27), 0);
}
END_TEST

START_TEST(test_env_level_overrides_init_level)
{
    setenv(FL_LOG_LEVEL_ENV, "error", 1);
    fl_log_init("test", FL_LOG_DEBUG);
    fl_log(FL_LOG_WARN, "w", NULL);
    ck_assert_str_eq(s_take_all(), "");
    fl_log(FL_LOG_ERROR, "e", NULL);
    ck_assert_str_eq(s_take(), "level=error comp=test msg=e\n");

    setenv(FL_LOG_LEVEL_ENV, "DEBUG", 1);
    fl_log_init("test", FL_LOG_ERROR);
    ck_assert(fl_log_enabled(FL_LOG_DEBUG));
}
END_TEST

START_TEST(test_bad_env_level_is_ignored_with_a_warning)
{
    setenv(FL_LOG_LEVEL_ENV, "loud", 1);
    fl_log_init("test", FL_LOG_INFO);
    ck_assert_str_eq(s_take(), "level=warn comp=test msg=\"ignoring a log level that is "
                               "not debug, info, warn or error\" env=FOLENI_LOG_LEVEL "
                               "value=loud using=info\n");
    ck_assert(!fl_log_enabled(FL_LOG_DEBUG));
    ck_assert(fl_log_enabled(FL_LOG_INFO));
}
END_TEST

static const struct {
    const char *text;
    int rc;
    fl_log_level_t level;
} s_level_texts[] = {
    { "debug", 0, FL_LOG_DEBUG },
    { "info",  0, FL_LOG_INFO },
    { "warn",  0, FL_LOG_WARN },
    { "error", 0, FL_LOG_ERROR },
    { "INFO",  0, FL_LOG_INFO },
    { "Warn",  0, FL_LOG_WARN },
    { "warning", FL_E_INVALID, 0 },
    { "info ", FL_E_INVALID, 0 },
    { "",      FL_E_INVALID, 0 },
    { NULL,    FL_E_INVALID, 0 },
};

START_TEST(test_level_parse)
{
    fl_log_level_t level = (fl_log_level_t) 99;
    int rc = fl_log_level_parse(s_level_texts[_i].text, &level);
    ck_assert_int_eq(rc, s_level_texts[_i].rc);
    ck_assert_int_eq(level, rc == 0 ? s_level_texts[_i].level : (fl_log_level_t) 99);
}
END_TEST

START_TEST(test_level_names)
{
    ck_assert_str_eq(fl_log_level_name(FL_LOG_DEBUG), "debug");
    ck_assert_str_eq(fl_log_level_name(FL_LOG_ERROR), "error");
    ck_assert_str_eq(fl_log_level_name((fl_log_level_t) 7), "unknown");
}
END_TEST


/* ---- truncation ----------------------------------------------------------- */

/* A string of n copies of unit (which may be several bytes); caller frees. */
static char *
s_repeat(const char *unit, size_t n)
{
    size_t unit_len = strlen(unit);
    char *text = malloc(unit_len * n + 1);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < n; i++)
        memcpy(text + i * unit_len, unit, unit_len);
    text[unit_len * n] = '\0';
    return text;
}

/* Length of the line up to " v=": ts, level, comp and msg=m. */
#define PREFIX_LEN (TS_FIELD_LEN + strlen("level=info comp=test msg=m"))
#define FIELD_V_LEN strlen(" v=")

START_TEST(test_line_that_fits_exactly_is_not_cut)
{
    size_t n = FL_LOG_LINE_MAX - 1 - PREFIX_LEN - FIELD_V_LEN;
    char *value = s_repeat("a", n);
    fl_log(FL_LOG_INFO, "m", FL_S("v", value), NULL);
    const char *line = s_take_all();
    ck_assert_uint_eq(strlen(line), FL_LOG_LINE_MAX);
    ck_assert_ptr_null(strstr(line, "truncated"));
    ck_assert_int_eq(line[FL_LOG_LINE_MAX - 2], 'a');
    free(value);
}
END_TEST

START_TEST(test_one_byte_over_cuts_the_value_and_marks_the_line)
{
    size_t n = FL_LOG_LINE_MAX - PREFIX_LEN - FIELD_V_LEN;
    char *value = s_repeat("a", n);
    fl_log(FL_LOG_INFO, "m", FL_S("v", value), FL_I("after", 1), NULL);
    const char *line = s_take_all();
    ck_assert_uint_eq(strlen(line), FL_LOG_LINE_MAX);
    ck_assert_str_eq(line + FL_LOG_LINE_MAX - MARK_LEN, MARK);
    size_t kept = FL_LOG_LINE_MAX - MARK_LEN - PREFIX_LEN - FIELD_V_LEN;
    ck_assert_int_eq(strncmp(line + PREFIX_LEN, " v=", 3), 0);
    ck_assert_int_eq(strncmp(line + PREFIX_LEN + 3, value, kept), 0);
    free(value);
}
END_TEST

START_TEST(test_cut_never_splits_an_escape_and_keeps_the_closing_quote)
{
    char *value = s_repeat("\n", FL_LOG_LINE_MAX);
    fl_log(FL_LOG_INFO, "m", FL_S("v", value), NULL);
    const char *line = s_take_all();
    size_t len = strlen(line);
    ck_assert_uint_le(len, FL_LOG_LINE_MAX);
    ck_assert_uint_ge(len, FL_LOG_LINE_MAX - 1);
    const char *p = line + PREFIX_LEN;
    ck_assert_int_eq(strncmp(p, " v=\"", 4), 0);
    for (p += 4; *p == '\\'; p += 2)
        ck_assert_int_eq(p[1], 'n');
    ck_assert_str_eq(p, "\"" MARK);
    free(value);
}
END_TEST

START_TEST(test_cut_never_splits_a_utf8_character)
{
    char *value = s_repeat("€", FL_LOG_LINE_MAX);        /* 3 bytes each */
    fl_log(FL_LOG_INFO, "m", FL_S("v", value), NULL);
    const char *line = s_take_all();
    size_t len = strlen(line);
    ck_assert_uint_le(len, FL_LOG_LINE_MAX);
    ck_assert_uint_ge(len, FL_LOG_LINE_MAX - 2);
    const char *p = line + PREFIX_LEN + FIELD_V_LEN;
    while (strncmp(p, "€", 3) == 0)
        p += 3;
    ck_assert_str_eq(p, MARK);
    free(value);
}
END_TEST

START_TEST(test_fields_after_the_cut_are_left_out)
{
    char *value = s_repeat("b", FL_LOG_LINE_MAX);
    fl_log(FL_LOG_INFO, "m", FL_S("first", "kept"), FL_S("v", value),
           FL_S("later", "gone"), FL_I("n", 7), NULL);
    const char *line = s_take_all();
    ck_assert_uint_eq(strlen(line), FL_LOG_LINE_MAX);
    ck_assert_ptr_nonnull(strstr(line, " first=kept v=bbb"));
    ck_assert_ptr_null(strstr(line, "later"));
    ck_assert_str_eq(line + FL_LOG_LINE_MAX - MARK_LEN, MARK);
    free(value);
}
END_TEST

START_TEST(test_number_at_the_cut_is_left_out_whole)
{
    /* v ends exactly where the mark would start; the long number then cannot
     * fit, and is not cut. */
    size_t n = FL_LOG_LINE_MAX - 1 - (MARK_LEN - 1) - PREFIX_LEN - FIELD_V_LEN;
    char *value = s_repeat("c", n);
    fl_log(FL_LOG_INFO, "m", FL_S("v", value), FL_I("n", LLONG_MIN), NULL);
    const char *line = s_take_all();
    ck_assert_uint_eq(strlen(line), FL_LOG_LINE_MAX);
    ck_assert_int_eq(line[FL_LOG_LINE_MAX - MARK_LEN - 1], 'c');
    ck_assert_str_eq(line + FL_LOG_LINE_MAX - MARK_LEN, MARK);
    free(value);
}
END_TEST

START_TEST(test_string_past_the_mark_room_is_cut_when_a_later_field_overflows)
{
    /* v fits in the full line but ends inside the room the mark needs; the
     * number after it does not fit, so v itself is cut to make room. */
    size_t n = FL_LOG_LINE_MAX - 1 - 4 - PREFIX_LEN - FIELD_V_LEN;
    char *value = s_repeat("d", n);
    fl_log(FL_LOG_INFO, "m", FL_S("v", value), FL_I("n", 123456), NULL);
    const char *line = s_take_all();
    ck_assert_uint_eq(strlen(line), FL_LOG_LINE_MAX);
    ck_assert_ptr_null(strstr(line, "n=123456"));
    ck_assert_int_eq(line[FL_LOG_LINE_MAX - MARK_LEN - 1], 'd');
    ck_assert_str_eq(line + FL_LOG_LINE_MAX - MARK_LEN, MARK);
    free(value);
}
END_TEST

START_TEST(test_long_message_is_cut_too)
{
    char *msg = s_repeat("m", 2 * FL_LOG_LINE_MAX);
    fl_log(FL_LOG_ERROR, msg, FL_S("v", "x"), NULL);
    const char *line = s_take_all();
    ck_assert_uint_eq(strlen(line), FL_LOG_LINE_MAX);
    ck_assert_int_eq(strncmp(s_after_ts(line), "level=error comp=test msg=mmm", 29), 0);
    ck_assert_str_eq(line + FL_LOG_LINE_MAX - MARK_LEN, MARK);
    free(msg);
}
END_TEST


/* ---- writing -------------------------------------------------------------- */

START_TEST(test_errno_is_preserved_even_when_the_write_fails)
{
    int fd = open("/dev/null", O_WRONLY);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fl_log_set_fd(fd);                  /* now closed: write gives EBADF */
    errno = ENOENT;
    fl_log(FL_LOG_ERROR, "m", NULL);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

#define THREADS 8
#define LINES_PER_THREAD 400

static void *
s_logger(void *arg)
{
    long id = (long) arg;
    char pad[1000];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (long i = 0; i < LINES_PER_THREAD; i++)
        fl_log(FL_LOG_INFO, "tick", FL_I("t", id), FL_I("n", i), FL_S("pad", pad), NULL);
    return NULL;
}

START_TEST(test_lines_from_many_threads_never_interleave)
{
    char *dir = tu_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    ck_assert_int_ge(fd, 0);
    fl_log_set_fd(fd);

    pthread_t threads[THREADS];
    for (long t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&threads[t], NULL, s_logger, (void *) t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    close(fd);

    FILE *file = fopen(path, "r");
    ck_assert_ptr_nonnull(file);
    char line[FL_LOG_LINE_MAX + 1];
    int seen[THREADS] = { 0 };
    int count = 0;
    while (fgets(line, sizeof line, file)) {
        int t, n;
        const char *rest = s_after_ts(line);
        ck_assert_int_eq(sscanf(rest, "level=info comp=test msg=tick t=%d n=%d", &t, &n), 2);
        ck_assert(t >= 0 && t < THREADS);
        ck_assert_int_eq(n, seen[t]++);          /* each thread's lines in order */
        ck_assert_uint_eq(strlen(strstr(rest, " pad=")), strlen(" pad=\n") + 999);
        count++;
    }
    fclose(file);
    ck_assert_int_eq(count, THREADS * LINES_PER_THREAD);
    tu_rmtree(dir);
}
END_TEST


Suite *
make_suite(void)
{
    Suite *suite = suite_create("log");

    TCase *tc = tcase_create("shape");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_line_starts_with_ts_level_comp_msg);
    tcase_add_test(tc, test_timestamp_is_utc_now_with_milliseconds);
    tcase_add_test(tc, test_each_level_has_its_name);
    tcase_add_test(tc, test_component_is_quoted_and_bounded_like_a_value);
    tcase_add_test(tc, test_null_message_prints_null);
    suite_add_tcase(suite, tc);

    tc = tcase_create("values");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_value_quoting_and_escaping, 0,
                        sizeof s_values / sizeof s_values[0]);
    tcase_add_test(tc, test_message_follows_value_rules);
    tcase_add_test(tc, test_keys_outside_charset_become_underscore);
    tcase_add_test(tc, test_integers_cover_their_full_range);
    tcase_add_test(tc, test_doubles_are_short_and_read_back_exactly);
    tcase_add_test(tc, test_doubles_nan_and_infinities_are_words);
    suite_add_tcase(suite, tc);

    tc = tcase_create("levels");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_lines_below_min_level_are_dropped);
    tcase_add_test(tc, test_env_level_overrides_init_level);
    tcase_add_test(tc, test_bad_env_level_is_ignored_with_a_warning);
    tcase_add_loop_test(tc, test_level_parse, 0, sizeof s_level_texts / sizeof s_level_texts[0]);
    tcase_add_test(tc, test_level_names);
    suite_add_tcase(suite, tc);

    tc = tcase_create("truncation");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_line_that_fits_exactly_is_not_cut);
    tcase_add_test(tc, test_one_byte_over_cuts_the_value_and_marks_the_line);
    tcase_add_test(tc, test_cut_never_splits_an_escape_and_keeps_the_closing_quote);
    tcase_add_test(tc, test_cut_never_splits_a_utf8_character);
    tcase_add_test(tc, test_fields_after_the_cut_are_left_out);
    tcase_add_test(tc, test_number_at_the_cut_is_left_out_whole);
    tcase_add_test(tc, test_string_past_the_mark_room_is_cut_when_a_later_field_overflows);
    tcase_add_test(tc, test_long_message_is_cut_too);
    suite_add_tcase(suite, tc);

    tc = tcase_create("writing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_errno_is_preserved_even_when_the_write_fails);
    tcase_add_test(tc, test_lines_from_many_threads_never_interleave);
    suite_add_tcase(suite, tc);

    return suite;
}
