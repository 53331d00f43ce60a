/*  test_ids.c — booking references, document numbers, phones and names
 *  (libfoleni/ids.h).
 *
 *  References: fresh ones are canonical, distinct and evenly spread; the check
 *  symbol catches every single substitution and every transposition over
 *  thousands of random references; pinned references stay valid, so a change
 *  to the scheme (which would orphan every stored booking) fails here first.
 *  The other checkers are tables of what people type and what must come out,
 *  or which field and sentence must come back.
 */
#include "libfoleni/ids.h"
#include "libfoleni/error.h"
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* References drawn for the detection tests and the distinctness test. */
#define SAMPLE_REFS        2000
#define DISTINCT_REFS      100000
/* Draws for the evenness test, and the largest chi-square statistic allowed
 * per position: with 29 degrees of freedom a fair source exceeds 90 with
 * probability 5e-8, while the modulo bias of byte % 30 gives about 340. */
#define SPREAD_REFS        100000
#define CHI_SQUARE_MAX     90.0
/* Time for the tests that draw or check hundreds of thousands of references
 * (under ASan too). */
#define HEAVY_TIMEOUT_S    120

#define REF_LENGTH   "a booking reference has 11 letters and digits"
#define REF_CHECK    "the reference is mistyped: its check character does not match"
#define REF_SYMBOLS  ": it uses the digits 2-9 and the letters A-Z except I, L, O and U"

static const char s_alphabet[] = FL_REF_ALPHABET;

static bool
s_in_alphabet(char c)
{
    return c && strchr(s_alphabet, c);
}

/* ---- references: making them ------------------------------------------------ */

START_TEST(test_new_reference_is_canonical_and_valid)
{
    for (int k = 0; k < SAMPLE_REFS; k++) {
        char ref[FL_REF_LEN + 1];
        char parsed[FL_REF_LEN + 1];
        if (fl_ref_new(ref) != 0 || strlen(ref) != FL_REF_LEN)
            ck_abort_msg("bad draw: '%s'", ref);
        for (int i = 0; i < FL_REF_LEN; i++)
            if (!s_in_alphabet(ref[i]))
                ck_abort_msg("symbol %c of %s is not in the alphabet", ref[i], ref);
        if (!fl_ref_valid(ref) || fl_ref_parse(ref, parsed, NULL) != 0 || strcmp(parsed, ref) != 0)
            ck_abort_msg("fresh reference %s does not check", ref);
    }
}
END_TEST

static int
s_cmp_ref(const void *a, const void *b)
{
    return memcmp(a, b, FL_REF_LEN + 1);
}

START_TEST(test_references_are_distinct_over_100000_draws)
{
    char (*refs)[FL_REF_LEN + 1] = malloc(DISTINCT_REFS * sizeof *refs);
    ck_assert_ptr_nonnull(refs);
    for (int k = 0; k < DISTINCT_REFS; k++)
        if (fl_ref_new(refs[k]) != 0)
            ck_abort_msg("draw %d failed", k);
    qsort(refs, DISTINCT_REFS, sizeof *refs, s_cmp_ref);
    for (int k = 1; k < DISTINCT_REFS; k++)
        if (strcmp(refs[k - 1], refs[k]) == 0)
            ck_abort_msg("drawn twice: %s", refs[k]);
    free(refs);
}
END_TEST

START_TEST(test_every_symbol_is_drawn_evenly_at_every_position)
{
    static int counts[FL_REF_LEN][FL_REF_SYMBOLS];
    memset(counts, 0, sizeof counts);
    for (int k = 0; k < SPREAD_REFS; k++) {
        char ref[FL_REF_LEN + 1];
        if (fl_ref_new(ref) != 0)
            ck_abort_msg("draw %d failed", k);
        for (int i = 0; i < FL_REF_LEN; i++)
            counts[i][strchr(s_alphabet, ref[i]) - s_alphabet]++;
    }
    double expected = (double) SPREAD_REFS / FL_REF_SYMBOLS;
    for (int i = 0; i < FL_REF_LEN; i++) {
        double chi2 = 0;
        for (int v = 0; v < FL_REF_SYMBOLS; v++)
            chi2 += (counts[i][v] - expected) * (counts[i][v] - expected) / expected;
        ck_assert_msg(chi2 <= CHI_SQUARE_MAX,
                      "position %d is uneven: chi-square %.1f over %d symbols", i, chi2,
                      FL_REF_SYMBOLS);
    }
}
END_TEST

/* ---- references with a lead (fl_ref_new_led) -------------------------------- */

START_TEST(test_parent_and_child_of_fork_draw_different_references)
{
    char first[FL_REF_LEN + 1];
    ck_assert_int_eq(fl_ref_new(first), 0);         /* the block of random bytes is filled */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    enum { N = 40 };
    if (child == 0) {
        close(fds[0]);
        for (int i = 0; i < N; i++) {
            char ref[FL_REF_LEN + 1];
            if (fl_ref_new(ref) != 0 || write(fds[1], ref, FL_REF_LEN) != FL_REF_LEN)
                _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    char mine[N][FL_REF_LEN + 1], theirs[N][FL_REF_LEN + 1];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(fl_ref_new(mine[i]), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(read(fds[0], theirs[i], FL_REF_LEN), FL_REF_LEN);
        theirs[i][FL_REF_LEN] = '\0';
    }
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            ck_assert_msg(strcmp(mine[i], theirs[j]) != 0, "parent and child both drew %s", mine[i]);
}
END_TEST

START_TEST(test_led_reference_spells_its_lead_and_checks)
{
    static const struct { unsigned lead; const char *spelled; } cases[] = {
        { 0, "222" }, { 1, "223" }, { 29, "22Z" }, { 30, "232" }, { 26999, "ZZZ" },
        { 27000, "222" },                   /* modulo 30^3 */
        { 27000 + 30 * 30 + 5, "327" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int k = 0; k < 200; k++) {
            char ref[FL_REF_LEN + 1];
            ck_assert_int_eq(fl_ref_new_led(ref, cases[c].lead, 3), 0);
            ck_assert_msg(strncmp(ref, cases[c].spelled, 3) == 0, "lead %u gave %s, wanted %s...",
                          cases[c].lead, ref, cases[c].spelled);
            ck_assert_msg(fl_ref_valid(ref), "%s does not check", ref);
        }
    char ref[FL_REF_LEN + 1];
    ck_assert_int_eq(fl_ref_new_led(ref, 12345, 0), 0);     /* no lead: any reference */
    ck_assert(fl_ref_valid(ref));
}
END_TEST

START_TEST(test_consecutive_leads_sort_in_order)
{
    /* what the store relies on: a batch's references sort next to each other
     * and the next batch's just after */
    char prev[FL_REF_LEN + 1], ref[FL_REF_LEN + 1];
    ck_assert_int_eq(fl_ref_new_led(prev, 0, 3), 0);
    for (unsigned lead = 1; lead < 27000; lead++) {
        ck_assert_int_eq(fl_ref_new_led(ref, lead, 3), 0);
        if (memcmp(prev, ref, 3) >= 0)
            ck_abort_msg("lead %u: %s does not sort after %s", lead, ref, prev);
        memcpy(prev, ref, sizeof ref);
    }
}
END_TEST

START_TEST(test_led_reference_is_random_after_its_lead)
{
    static int counts[FL_REF_LEN][FL_REF_SYMBOLS];
    memset(counts, 0, sizeof counts);
    char (*refs)[FL_REF_LEN + 1] = malloc(DISTINCT_REFS * sizeof *refs);
    ck_assert_ptr_nonnull(refs);
    for (int k = 0; k < DISTINCT_REFS; k++) {
        if (fl_ref_new_led(refs[k], 777, 3) != 0)
            ck_abort_msg("draw %d failed", k);
        for (int i = 3; i < FL_REF_LEN; i++)
            counts[i][strchr(s_alphabet, refs[k][i]) - s_alphabet]++;
    }
    double expected = (double) DISTINCT_REFS / FL_REF_SYMBOLS;
    for (int i = 3; i < FL_REF_LEN; i++) {
        double chi2 = 0;
        for (int v = 0; v < FL_REF_SYMBOLS; v++)
            chi2 += (counts[i][v] - expected) * (counts[i][v] - expected) / expected;
        ck_assert_msg(chi2 <= CHI_SQUARE_MAX, "position %d is uneven: chi-square %.1f", i, chi2);
    }
    /* 100,000 draws from 30^7 (about 2^34) under one lead: about 0.23
     * repeats are expected (n^2 / 2N), six or more about once in 5 million
     * runs; the scheduler looks each new reference up before using it */
    qsort(refs, DISTINCT_REFS, sizeof *refs, s_cmp_ref);
    int same = 0;
    for (int k = 1; k < DISTINCT_REFS; k++)
        same += strcmp(refs[k - 1], refs[k]) == 0;
    ck_assert_msg(same <= 5, "%d repeats in %d draws under one lead", same, DISTINCT_REFS);
    free(refs);
}
END_TEST

/* ---- references: the check symbol ------------------------------------------- */

/* Computed by hand (weights 1..11, sum ≡ 0 mod 31); changing the scheme must
 * break this test, because stored references would stop parsing. */
static const char *s_pinned[] = {
    "22222222222", "7KQ4M2XHB94", "ZZZZZZZZZZC", "ABCDEFGHJKS",
    "MNPQRSTVWX6", "3456789ABCX", "Y2K9PQ4HTWX", "NAJRQBJ234R",
};

START_TEST(test_pinned_references_stay_valid)
{
    const char *ref = s_pinned[_i];
    ck_assert_msg(fl_ref_valid(ref), "%s", ref);
    char out[FL_REF_LEN + 1];
    ck_assert_int_eq(fl_ref_parse(ref, out, NULL), 0);
    ck_assert_str_eq(out, ref);
}
END_TEST

/* These random parts would need a 31st symbol as check: no reference starts so. */
static const char *s_no_check[] = { "CYSRJZFJWZ", "JFHWDFD2KK", "P93Z4TJPYD" };

START_TEST(test_random_part_needing_the_missing_residue_has_no_valid_check)
{
    for (int v = 0; v < FL_REF_SYMBOLS; v++) {
        char ref[FL_REF_LEN + 1];
        snprintf(ref, sizeof ref, "%s%c", s_no_check[_i], s_alphabet[v]);
        ck_assert_msg(!fl_ref_valid(ref), "%s", ref);
    }
}
END_TEST

/*  Both the canonical check and the parser must refuse ref, with the check
 *  sentence.  Plain ifs, not ck_assert: Check records every assertion it
 *  passes, which would dominate loops of hundreds of thousands. */
static void
s_assert_refused(const char *ref, const char *what)
{
    char out[FL_REF_LEN + 1] = "unchanged";
    fl_error_t err;
    if (fl_ref_valid(ref))
        ck_abort_msg("%s went unnoticed by fl_ref_valid: %s", what, ref);
    if (fl_ref_parse(ref, out, &err) != FL_E_INVALID || strcmp(err.field, "ref") != 0
        || strcmp(err.message, REF_CHECK) != 0 || out[0] != '\0')
        ck_abort_msg("%s not refused as mistyped: %s (%s)", what, ref, err.message);
}

START_TEST(test_check_detects_every_single_substitution)
{
    long tried = 0;
    for (int k = 0; k < SAMPLE_REFS; k++) {
        char ref[FL_REF_LEN + 1];
        ck_assert_int_eq(fl_ref_new(ref), 0);
        for (int i = 0; i < FL_REF_LEN; i++) {
            char was = ref[i];
            for (int v = 0; v < FL_REF_SYMBOLS; v++) {
                if (s_alphabet[v] == was)
                    continue;
                ref[i] = s_alphabet[v];
                s_assert_refused(ref, "substitution");
                tried++;
            }
            ref[i] = was;
        }
    }
    ck_assert_int_eq(tried, (long) SAMPLE_REFS * FL_REF_LEN * (FL_REF_SYMBOLS - 1));
}
END_TEST

START_TEST(test_check_detects_every_adjacent_transposition)
{
    long tried = 0;
    for (int k = 0; k < SAMPLE_REFS; k++) {
        char ref[FL_REF_LEN + 1];
        ck_assert_int_eq(fl_ref_new(ref), 0);
        for (int i = 0; i + 1 < FL_REF_LEN; i++) {
            if (ref[i] == ref[i + 1])
                continue;                   /* swapping equals changes nothing */
            char t = ref[i]; ref[i] = ref[i + 1]; ref[i + 1] = t;
            s_assert_refused(ref, "adjacent transposition");
            tried++;
            t = ref[i]; ref[i] = ref[i + 1]; ref[i + 1] = t;
        }
        ck_assert(fl_ref_valid(ref));
    }
    /* About 29/30 of the pairs differ. */
    ck_assert_int_gt(tried, (long) SAMPLE_REFS * (FL_REF_LEN - 1) * 9 / 10);
}
END_TEST

START_TEST(test_check_detects_transpositions_at_any_distance)
{
    for (int k = 0; k < SAMPLE_REFS; k++) {
        char ref[FL_REF_LEN + 1];
        ck_assert_int_eq(fl_ref_new(ref), 0);
        for (int i = 0; i < FL_REF_LEN; i++)
            for (int j = i + 2; j < FL_REF_LEN; j++) {
                if (ref[i] == ref[j])
                    continue;
                char t = ref[i]; ref[i] = ref[j]; ref[j] = t;
                if (fl_ref_valid(ref))
                    ck_abort_msg("swap of %d and %d unnoticed: %s", i, j, ref);
                t = ref[i]; ref[i] = ref[j]; ref[j] = t;
            }
    }
}
END_TEST

/* ---- references: reading what people type ----------------------------------- */

START_TEST(test_display_groups_four_four_three)
{
    char shown[FL_REF_DISPLAY_LEN + 1];
    fl_ref_display("7KQ4M2XHB94", shown);
    ck_assert_str_eq(shown, "7KQ4-M2XH-B94");
    ck_assert_uint_eq(strlen(shown), FL_REF_DISPLAY_LEN);
}
END_TEST

START_TEST(test_parse_round_trips_display_and_lower_case)
{
    for (int k = 0; k < SAMPLE_REFS; k++) {
        char ref[FL_REF_LEN + 1], shown[FL_REF_DISPLAY_LEN + 1], out[FL_REF_LEN + 1];
        if (fl_ref_new(ref) != 0)
            ck_abort_msg("draw %d failed", k);
        fl_ref_display(ref, shown);
        if (fl_ref_parse(shown, out, NULL) != 0 || strcmp(out, ref) != 0)
            ck_abort_msg("display form %s of %s does not read back", shown, ref);

        char lower[FL_REF_DISPLAY_LEN + 1];
        for (size_t i = 0; i < sizeof shown; i++)
            lower[i] = (shown[i] >= 'A' && shown[i] <= 'Z') ? (char) (shown[i] - 'A' + 'a') : shown[i];
        if (fl_ref_parse(lower, out, NULL) != 0 || strcmp(out, ref) != 0)
            ck_abort_msg("lower case %s of %s does not read back", lower, ref);
    }
}
END_TEST

static const char *s_typed_ok[] = {
    "7KQ4M2XHB94",
    "7kq4m2xhb94",
    "7KQ4-M2XH-B94",
    "7kq4-m2xh-b94",
    " 7KQ4 M2XH B94 ",
    "7KQ4--M2XH--B94",
    "\t7KQ4M2XHB94\r\n",
    "7-K-Q-4-M-2-X-H-B-9-4",
    "7Kq4 m2XH-b94",
    "                             7KQ4M2XHB94",   /* exactly FL_REF_INPUT_MAX bytes */
};

START_TEST(test_parse_accepts_what_people_type)
{
    char out[FL_REF_LEN + 1];
    fl_error_t err;
    ck_assert_msg(fl_ref_parse(s_typed_ok[_i], out, &err) == 0,
                  "'%s': %s", s_typed_ok[_i], err.message);
    ck_assert_str_eq(out, "7KQ4M2XHB94");
}
END_TEST

static const struct {
    const char *input;
    const char *message;
} s_typed_bad[] = {
    { "",                       REF_LENGTH },
    { "   ",                    REF_LENGTH },
    { "----",                   REF_LENGTH },
    { "7KQ4M2XHB9",             REF_LENGTH },
    { "7KQ4-M2XH-B9",           REF_LENGTH },
    { "7KQ4M2XHB942",           REF_LENGTH },
    { "7KQ4M2XHB94 7KQ4M2XHB94", REF_LENGTH },
    { "                              7KQ4M2XHB94", REF_LENGTH },   /* one byte over */
    { "7KQ0M2XHB94",            "a booking reference never contains '0'" REF_SYMBOLS },
    { "7KQ1M2XHB94",            "a booking reference never contains '1'" REF_SYMBOLS },
    { "7KQOM2XHB94",            "a booking reference never contains 'O'" REF_SYMBOLS },
    { "7kqom2xhb94",            "a booking reference never contains 'o'" REF_SYMBOLS },
    { "7KQIM2XHB94",            "a booking reference never contains 'I'" REF_SYMBOLS },
    { "7KQLM2XHB94",            "a booking reference never contains 'L'" REF_SYMBOLS },
    { "7KQUM2XHB94",            "a booking reference never contains 'U'" REF_SYMBOLS },
    { "7kq4_m2xh_b94",          "a booking reference never contains '_'" REF_SYMBOLS },
    { "7KQ4.M2XH.B94",          "a booking reference never contains '.'" REF_SYMBOLS },
    { "7KQ4M2XHB9\xc3\x89",     "a booking reference contains only letters and digits" REF_SYMBOLS },
    { "7KQ4M2XHB94\x01",        "a booking reference contains only letters and digits" REF_SYMBOLS },
    { "7KQ4M2XHB95",            REF_CHECK },
    { "K7Q4M2XHB94",            REF_CHECK },
    { "7KQ4M2XHB49",            REF_CHECK },
    { "7KQ4-M2XH-B9Z",          REF_CHECK },
};

START_TEST(test_parse_refuses_with_a_sentence)
{
    char out[FL_REF_LEN + 1] = "XXXXXXXXXXX";
    fl_error_t err;
    ck_assert_int_eq(fl_ref_parse(s_typed_bad[_i].input, out, &err), FL_E_INVALID);
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.field, "ref");
    ck_assert_str_eq(err.message, s_typed_bad[_i].message);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(fl_ref_parse(s_typed_bad[_i].input, out, NULL), FL_E_INVALID);
}
END_TEST

START_TEST(test_valid_wants_the_canonical_form)
{
    ck_assert(fl_ref_valid("7KQ4M2XHB94"));
    ck_assert(!fl_ref_valid(NULL));
    ck_assert(!fl_ref_valid(""));
    ck_assert(!fl_ref_valid("7kq4m2xhb94"));
    ck_assert(!fl_ref_valid("7KQ4-M2XH-B94"));
    ck_assert(!fl_ref_valid("7KQ4M2XHB9"));
    ck_assert(!fl_ref_valid("7KQ4M2XHB94 "));
    ck_assert(!fl_ref_valid("7KQ4M2XHB942"));
}
END_TEST

/* ---- identity documents ----------------------------------------------------- */

#define ID_NATIONAL  "a national ID number has 1 to 8 digits"
#define ID_PASSPORT  "a passport number is 1 or 2 letters followed by 6 to 8 digits, e.g. AK0123456"
#define ID_ALIEN     "an alien ID number has 6 to 10 digits"
#define ID_BIRTH     "a birth certificate number has 5 to 12 digits"
#define ID_EMPTY     "the document number is empty"
#define ID_TYPE      "unknown document type: use national, passport, alien or birth"

static const struct {
    const char *type, *input, *canonical;
} s_ids_ok[] = {
    { "national", "12345678",           "12345678" },
    { "national", "1",                  "1" },
    { "national", "9876543",            "9876543" },
    { "national", " 1234 5678 ",        "12345678" },
    { "national", "1234-5678",          "12345678" },
    { "national", "\t987654\r\n",       "987654" },
    { "national", "01234567",           "1234567" },
    { "national", "00000001",           "1" },
    { "national", "000000000000012345678", "12345678" },
    { "passport", "AK0123456",          "AK0123456" },
    { "passport", "ak0123456",          "AK0123456" },
    { "passport", " ak 012 3456 ",      "AK0123456" },
    { "passport", "A1234567",           "A1234567" },
    { "passport", "a-123-4567",         "A1234567" },
    { "passport", "AB123456",           "AB123456" },
    { "passport", "C12345678",          "C12345678" },
    { "passport", "A0000000",           "A0000000" },
    { "alien",    "123456",             "123456" },
    { "alien",    "1234567890",         "1234567890" },
    { "alien",    "012345",             "012345" },
    { "alien",    "12 34 56",           "123456" },
    { "birth",    "12345",              "12345" },
    { "birth",    "123456789012",       "123456789012" },
    { "birth",    "0001234",            "0001234" },
    /* exactly FL_ID_INPUT_MAX bytes, spaces included */
    { "national", "                                     123", "123" },
};

START_TEST(test_id_accepts_and_normalises)
{
    char out[FL_ID_NUMBER_MAX + 1];
    fl_error_t err;
    ck_assert_msg(fl_id_check(s_ids_ok[_i].type, s_ids_ok[_i].input, out, &err) == 0,
                  "%s '%s': %s", s_ids_ok[_i].type, s_ids_ok[_i].input, err.message);
    ck_assert_str_eq(out, s_ids_ok[_i].canonical);
}
END_TEST

static const struct {
    const char *type, *input, *field, *message;
} s_ids_bad[] = {
    { "national", "",               "id_number", ID_EMPTY },
    { "national", "  - ",           "id_number", ID_EMPTY },
    { "national", "123456789",      "id_number", ID_NATIONAL },
    { "national", "0",              "id_number", ID_NATIONAL },
    { "national", "0000",           "id_number", ID_NATIONAL },
    { "national", "12A45",          "id_number", ID_NATIONAL },
    { "national", "A1234567",       "id_number", ID_NATIONAL },
    { "national", "12.345",         "id_number", ID_NATIONAL },
    { "national", "+12345",         "id_number", ID_NATIONAL },
    { "national", "1234\x01",       "id_number", ID_NATIONAL },
    { "national", "\xd9\xa1\xd9\xa2\xd9\xa3", "id_number", ID_NATIONAL },  /* Arabic-Indic 123 */
    { "national", "                                      123", "id_number", ID_NATIONAL },  /* 41 bytes */
    { "passport", "123456789",      "id_number", ID_PASSPORT },
    { "passport", "ABC123456",      "id_number", ID_PASSPORT },
    { "passport", "A12345",         "id_number", ID_PASSPORT },
    { "passport", "A123456789",     "id_number", ID_PASSPORT },
    { "passport", "AK01234X6",      "id_number", ID_PASSPORT },
    { "passport", "AK",             "id_number", ID_PASSPORT },
    { "passport", "A1234567B",      "id_number", ID_PASSPORT },
    { "passport", "\xc3\x84K0123456", "id_number", ID_PASSPORT },     /* ÄK... */
    { "alien",    "12345",          "id_number", ID_ALIEN },
    { "alien",    "12345678901",    "id_number", ID_ALIEN },
    { "alien",    "A12345",         "id_number", ID_ALIEN },
    { "birth",    "1234",           "id_number", ID_BIRTH },
    { "birth",    "1234567890123",  "id_number", ID_BIRTH },
    { "birth",    "12/2019",        "id_number", ID_BIRTH },
    { "National", "12345678",       "id_type",   ID_TYPE },
    { "",         "12345678",       "id_type",   ID_TYPE },
    { "driving",  "12345678",       "id_type",   ID_TYPE },
    { "passport ", "AK0123456",     "id_type",   ID_TYPE },
};

START_TEST(test_id_refuses_with_field_and_sentence)
{
    char out[FL_ID_NUMBER_MAX + 1] = "unchanged";
    fl_error_t err;
    ck_assert_int_eq(fl_id_check(s_ids_bad[_i].type, s_ids_bad[_i].input, out, &err),
                     FL_E_INVALID);
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.field, s_ids_bad[_i].field);
    ck_assert_str_eq(err.message, s_ids_bad[_i].message);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(fl_id_check(s_ids_bad[_i].type, s_ids_bad[_i].input, out, NULL),
                     FL_E_INVALID);
}
END_TEST

START_TEST(test_national_id_with_and_without_leading_zero_is_one_person)
{
    char a[FL_ID_NUMBER_MAX + 1], b[FL_ID_NUMBER_MAX + 1];
    ck_assert_int_eq(fl_id_check("national", "0 2345 678", a, NULL), 0);
    ck_assert_int_eq(fl_id_check("national", "2345678", b, NULL), 0);
    ck_assert_str_eq(a, b);
}
END_TEST

/* ---- phones ------------------------------------------------------------------ */

#define PHONE_USAGE "a Kenyan mobile number looks like 0712 345 678"

static const struct {
    const char *input, *e164;
} s_phones_ok[] = {
    { "0712345678",             "+254712345678" },
    { "0712 345 678",           "+254712345678" },
    { "0712-345-678",           "+254712345678" },
    { "0712.345.678",           "+254712345678" },
    { "(0712) 345678",          "+254712345678" },
    { " 0712345678 ",           "+254712345678" },
    { "\t0712 345 678",         "+254712345678" },
    { "712345678",              "+254712345678" },
    { "712 345 678",            "+254712345678" },
    { "254712345678",           "+254712345678" },
    { "+254712345678",          "+254712345678" },
    { "+254 712 345 678",       "+254712345678" },
    { "+254-712-345-678",       "+254712345678" },
    { "(+254) 712 345 678",     "+254712345678" },
    { "+254 (0) 712 345 678",   "+254712345678" },
    { "+2540712345678",         "+254712345678" },
    { "2540712345678",          "+254712345678" },
    { "00254712345678",         "+254712345678" },
    { "00 254 712 345 678",     "+254712345678" },
    { "0799999999",             "+254799999999" },
    { "0700000000",             "+254700000000" },
    { "0110123456",             "+254110123456" },
    { "0100 123 456",           "+254100123456" },
    { "110123456",              "+254110123456" },
    { "254110123456",           "+254110123456" },
    { "+254110123456",          "+254110123456" },
    { "+254 1 10 12 34 56",     "+254110123456" },
    { "                              0712345678", "+254712345678" },  /* 40 bytes */
};

START_TEST(test_phone_accepts_kenyan_mobiles_in_every_usual_form)
{
    char out[FL_PHONE_MAX + 1];
    fl_error_t err;
    ck_assert_msg(fl_phone_normalise(s_phones_ok[_i].input, out, &err) == 0,
                  "'%s': %s", s_phones_ok[_i].input, err.message);
    ck_assert_str_eq(out, s_phones_ok[_i].e164);
    ck_assert_uint_eq(strlen(out), FL_PHONE_LEN);
}
END_TEST

static const char *s_phones_bad[] = {
    "",
    "   ",
    "+",
    "0",
    "0712 345 67",              /* too short */
    "0712 345 6789",            /* too long */
    "712 34 567",
    "254 712 345 678 9",
    "07123456781234567",        /* more digits than any phone number */
    "071234567x",
    "0712345678 ext 1",
    "#0712345678",
    "0712+345678",
    "++254712345678",
    "0712345678+",
    "020 222 2222",             /* Nairobi landline */
    "0202222222",
    "041 222 2222",             /* Mombasa landline */
    "+254 20 2222222",
    "+254 0 20 222 2222",
    "0612345678",
    "+255712345678",            /* Tanzania */
    "255712345678",
    "00255712345678",
    "+1 212 555 0100",
    "+44 7911 123456",
    "0254712345678",
    "+0712345678",
    "07\xd9\xa1\xd9\xa2 345 678",   /* Arabic-Indic digits */
    "0712/345/678",
    "                               0712345678",   /* 41 bytes */
};

START_TEST(test_phone_refuses_landlines_other_countries_and_junk)
{
    char out[FL_PHONE_MAX + 1] = "unchanged";
    fl_error_t err;
    ck_assert_msg(fl_phone_normalise(s_phones_bad[_i], out, &err) == FL_E_INVALID,
                  "accepted '%s' as %s", s_phones_bad[_i], out);
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.field, "phone");
    ck_assert_str_eq(err.message, PHONE_USAGE);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(fl_phone_normalise(s_phones_bad[_i], out, NULL), FL_E_INVALID);
}
END_TEST

/* ---- names ------------------------------------------------------------------- */

static const struct {
    const char *input, *canonical;
} s_names_ok[] = {
    { "Wanjiku Kamau",                  "Wanjiku Kamau" },
    { "  Wanjiku   Kamau  ",            "Wanjiku Kamau" },
    { "Wanjiku\tKamau\r\n",             "Wanjiku Kamau" },
    { "A",                              "A" },
    { "O'Brien",                        "O'Brien" },
    { "Ng'ang'a",                       "Ng'ang'a" },
    { "N’gang’a",                       "N’gang’a" },
    { "Mary-Jane Akinyi",               "Mary-Jane Akinyi" },
    { "Mary\u2010Jane",                 "Mary\u2010Jane" },
    { "Dr. Otieno",                     "Dr. Otieno" },
    { "Zoë Müller",                     "Zoë Müller" },
    { "Wanjikũ",                        "Wanjikũ" },
    { "ʻOkina",                         "ʻOkina" },
    { "e\u0301mile",                    "e\u0301mile" },           /* combining accent */
    { "محمد علي",                       "محمد علي" },
    { "Αλέξανδρος",                     "Αλέξανδρος" },
    { "Иван Петров",                    "Иван Петров" },
    { "አበበ ቢቂላ",                        "አበበ ቢቂላ" },
    { "राजेश कुमार",                       "राजेश कुमार" },
    { "王小明",                          "王小明" },
    { "김민준",                          "김민준" },
    { "Amina\u00a0Hassan",              "Amina Hassan" },          /* no-break space */
    { "Amina\u3000Hassan",              "Amina Hassan" },          /* ideographic space */
    { "Amina \u2003 Hassan",            "Amina Hassan" },          /* em space */
    { "Ann\u200bie",                    "Annie" },                 /* zero-width space */
    { "\ufeffAnnie",                    "Annie" },                 /* byte-order mark */
    { "a                                                                   b", "a b" },
};

START_TEST(test_name_accepts_letters_of_any_script_and_tidies_spaces)
{
    char out[FL_NAME_MAX + 1];
    fl_error_t err;
    ck_assert_msg(fl_name_check(s_names_ok[_i].input, out, &err) == 0,
                  "'%s': %s", s_names_ok[_i].input, err.message);
    ck_assert_str_eq(out, s_names_ok[_i].canonical);
}
END_TEST

#define NAME_EMPTY    "the name is empty"
#define NAME_UTF8     "the name is not valid UTF-8 text"
#define NAME_CONTROL  "the name contains a control character"
#define NAME_DIGITS   "a name cannot contain digits"
#define NAME_SYMBOLS  "a name may contain only letters, spaces, apostrophes, hyphens and dots"
#define NAME_LETTER   "a name needs at least one letter"

static const struct {
    const char *input, *message;
} s_names_bad[] = {
    { "",                       NAME_EMPTY },
    { "    ",                   NAME_EMPTY },
    { "\u200b",                 NAME_EMPTY },
    { "12345",                  NAME_DIGITS },
    { "Agent 007",              NAME_DIGITS },
    { "Juma \xd9\xa3",          NAME_DIGITS },              /* Arabic-Indic three */
    { "Juma\uff13",             NAME_DIGITS },              /* fullwidth three */
    { "Juma\x01",               NAME_CONTROL },
    { "Juma\x7f",               NAME_CONTROL },
    { "Juma\x1b[31m",           NAME_CONTROL },
    { "Juma\xc2\x85",           NAME_CONTROL },             /* NEL, a C1 control */
    { "Juma\u202eamuJ",         NAME_CONTROL },             /* right-to-left override */
    { "Juma\u2028Kamau",        NAME_CONTROL },             /* line separator */
    { "Juma!",                  NAME_SYMBOLS },
    { "Juma@Kamau",             NAME_SYMBOLS },
    { "Juma, Kamau",            NAME_SYMBOLS },
    { "Juma_Kamau",             NAME_SYMBOLS },
    { "<script>",               NAME_SYMBOLS },
    { "Juma \U0001F600",        NAME_SYMBOLS },             /* emoji */
    { "Juma\u00a9",             NAME_SYMBOLS },             /* © */
    { "Juma \u2013 Kamau",      NAME_SYMBOLS },             /* en dash */
    { "\U0001D409\U0001D42E",   NAME_SYMBOLS },             /* mathematical bold look-alikes */
    { "Juma\ue000",             NAME_SYMBOLS },             /* private use */
    { "Juma\xef\xbf\xbe",       NAME_SYMBOLS },             /* noncharacter U+FFFE */
    { "'-.",                    NAME_LETTER },
    { "...",                    NAME_LETTER },
    { "\u0301",                 NAME_LETTER },              /* a lone combining mark */
    { "\xff",                   NAME_UTF8 },
    { "Jos\xc3",                NAME_UTF8 },                /* cut inside a character */
    { "Jos\xc3 ",               NAME_UTF8 },
    { "\xc0\xaf",               NAME_UTF8 },                /* overlong '/' */
    { "\xe0\x80\xaf",           NAME_UTF8 },
    { "\xed\xa0\x80",           NAME_UTF8 },                /* a surrogate */
    { "\xf4\x90\x80\x80",       NAME_UTF8 },                /* beyond U+10FFFF */
    { "\x80Juma",               NAME_UTF8 },                /* lone continuation byte */
};

START_TEST(test_name_refuses_with_a_sentence)
{
    char out[FL_NAME_MAX + 1] = "unchanged";
    fl_error_t err;
    ck_assert_msg(fl_name_check(s_names_bad[_i].input, out, &err) == FL_E_INVALID,
                  "accepted '%s' as '%s'", s_names_bad[_i].input, out);
    ck_assert_int_eq(err.code, FL_E_INVALID);
    ck_assert_str_eq(err.field, "name");
    ck_assert_str_eq(err.message, s_names_bad[_i].message);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(fl_name_check(s_names_bad[_i].input, out, NULL), FL_E_INVALID);
}
END_TEST

/* Fill buf with count copies of unit; returns buf. */
static char *
s_repeat(char *buf, const char *unit, int count)
{
    buf[0] = '\0';
    for (int i = 0; i < count; i++)
        strcat(buf, unit);
    return buf;
}

START_TEST(test_name_length_is_counted_in_bytes_after_tidying)
{
    char in[FL_NAME_INPUT_MAX + 8], out[FL_NAME_MAX + 1], expected[FL_NAME_MAX + 1];
    fl_error_t err;

    /* exactly FL_NAME_MAX bytes fits, one more does not */
    ck_assert_int_eq(fl_name_check(s_repeat(in, "a", FL_NAME_MAX), out, NULL), 0);
    ck_assert_uint_eq(strlen(out), FL_NAME_MAX);
    ck_assert_int_eq(fl_name_check(s_repeat(in, "a", FL_NAME_MAX + 1), out, &err), FL_E_TOO_LONG);
    ck_assert_str_eq(err.field, "name");
    ck_assert_str_eq(out, "");

    /* a two-byte letter that would end one byte past the limit is refused whole */
    s_repeat(in, "a", FL_NAME_MAX - 2);
    strcat(in, "é");
    ck_assert_int_eq(fl_name_check(in, out, NULL), 0);
    ck_assert_uint_eq(strlen(out), FL_NAME_MAX);
    s_repeat(in, "a", FL_NAME_MAX - 1);
    strcat(in, "é");
    ck_assert_int_eq(fl_name_check(in, out, NULL), FL_E_TOO_LONG);

    /* 40 words of one letter: "a a a ... a" is 79 bytes once tidied */
    ck_assert_int_eq(fl_name_check(s_repeat(in, "a   ", 40), out, NULL), 0);
    s_repeat(expected, "a ", 40);
    expected[strlen(expected) - 1] = '\0';
    ck_assert_str_eq(out, expected);

    /* spaces around the limit do not count */
    s_repeat(in, " ", 100);
    strcat(in, s_repeat(expected, "b", FL_NAME_MAX));
    strcat(in, "        ");
    ck_assert_int_eq(fl_name_check(in, out, NULL), 0);
    ck_assert_str_eq(out, expected);

    /* raw input is bounded too: FL_NAME_INPUT_MAX bytes are read, not more */
    s_repeat(in, " ", FL_NAME_INPUT_MAX - 1);
    strcat(in, "c");
    ck_assert_int_eq(fl_name_check(in, out, NULL), 0);
    ck_assert_str_eq(out, "c");
    strcat(in, " ");
    ck_assert_int_eq(fl_name_check(in, out, &err), FL_E_TOO_LONG);
    ck_assert_str_eq(err.field, "name");
}
END_TEST

/* ---- suite ------------------------------------------------------------------- */

#define N(a) ((int) (sizeof (a) / sizeof (a)[0]))

Suite *
make_suite(void)
{
    Suite *suite = suite_create("ids");

    TCase *tc = tcase_create("reference making");
    tcase_set_timeout(tc, HEAVY_TIMEOUT_S);
    tcase_add_test(tc, test_new_reference_is_canonical_and_valid);
    tcase_add_test(tc, test_references_are_distinct_over_100000_draws);
    tcase_add_test(tc, test_parent_and_child_of_fork_draw_different_references);
    tcase_add_test(tc, test_every_symbol_is_drawn_evenly_at_every_position);
    tcase_add_test(tc, test_led_reference_spells_its_lead_and_checks);
    tcase_add_test(tc, test_consecutive_leads_sort_in_order);
    tcase_add_test(tc, test_led_reference_is_random_after_its_lead);
    suite_add_tcase(suite, tc);

    tc = tcase_create("reference check");
    tcase_set_timeout(tc, HEAVY_TIMEOUT_S);
    tcase_add_loop_test(tc, test_pinned_references_stay_valid, 0, N(s_pinned));
    tcase_add_loop_test(tc, test_random_part_needing_the_missing_residue_has_no_valid_check,
                        0, N(s_no_check));
    tcase_add_test(tc, test_check_detects_every_single_substitution);
    tcase_add_test(tc, test_check_detects_every_adjacent_transposition);
    tcase_add_test(tc, test_check_detects_transpositions_at_any_distance);
    suite_add_tcase(suite, tc);

    tc = tcase_create("reference typing");
    tcase_add_test(tc, test_display_groups_four_four_three);
    tcase_add_test(tc, test_parse_round_trips_display_and_lower_case);
    tcase_add_loop_test(tc, test_parse_accepts_what_people_type, 0, N(s_typed_ok));
    tcase_add_loop_test(tc, test_parse_refuses_with_a_sentence, 0, N(s_typed_bad));
    tcase_add_test(tc, test_valid_wants_the_canonical_form);
    suite_add_tcase(suite, tc);

    tc = tcase_create("identity documents");
    tcase_add_loop_test(tc, test_id_accepts_and_normalises, 0, N(s_ids_ok));
    tcase_add_loop_test(tc, test_id_refuses_with_field_and_sentence, 0, N(s_ids_bad));
    tcase_add_test(tc, test_national_id_with_and_without_leading_zero_is_one_person);
    suite_add_tcase(suite, tc);

    tc = tcase_create("phones");
    tcase_add_loop_test(tc, test_phone_accepts_kenyan_mobiles_in_every_usual_form, 0, N(s_phones_ok));
    tcase_add_loop_test(tc, test_phone_refuses_landlines_other_countries_and_junk, 0, N(s_phones_bad));
    suite_add_tcase(suite, tc);

    tc = tcase_create("names");
    tcase_add_loop_test(tc, test_name_accepts_letters_of_any_script_and_tidies_spaces, 0, N(s_names_ok));
    tcase_add_loop_test(tc, test_name_refuses_with_a_sentence, 0, N(s_names_bad));
    tcase_add_test(tc, test_name_length_is_counted_in_bytes_after_tidying);
    suite_add_tcase(suite, tc);

    return suite;
}
