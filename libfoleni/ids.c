/*  ids.c — booking references, identity document numbers, phone numbers and
 *  names: making them canonical and refusing what is not.  See ids.h, which
 *  also gives the reasoning behind the reference check symbol.
 *
 *  Every checker reads its input once, left to right, into a bounded buffer,
 *  and stops at the first problem, so a hostile input costs at most its
 *  *_INPUT_MAX bytes of work.  Names are classified code point by code point
 *  with a small table of the non-letter blocks (s_name_blocks) instead of the
 *  full Unicode letter table, which would be some 700 ranges for a form field.
 */
#include "libfoleni/ids.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

/* ---- booking references -------------------------------------------------- */

/* The check makes sum(weight_i * value_i) a multiple of this prime, with
 * weight_i = i + 1.  It must be prime and exceed the alphabet size and every
 * weight for the detection proof in ids.h to hold. */
#define REF_CHECK_MODULUS   31
/* The inverse of the check symbol's weight (FL_REF_LEN) modulo the modulus. */
#define REF_CHECK_INVERSE   17
/* A symbol takes one random byte, or more when a byte falls in the biased
 * tail and is thrown away: bytes below this map evenly onto the alphabet
 * (byte % FL_REF_SYMBOLS). */
#define REF_BYTE_LIMIT      (256 / FL_REF_SYMBOLS * FL_REF_SYMBOLS)
/* Draws before giving up: each draw fails (needs the 31st residue) with
 * probability 1/31, so running out means the random source is broken. */
#define REF_DRAWS_MAX       64

_Static_assert(sizeof FL_REF_ALPHABET - 1 == FL_REF_SYMBOLS, "alphabet size");
_Static_assert(REF_CHECK_MODULUS > FL_REF_SYMBOLS && REF_CHECK_MODULUS > FL_REF_LEN,
               "the modulus must exceed every symbol value and every weight");
_Static_assert(FL_REF_LEN * REF_CHECK_INVERSE % REF_CHECK_MODULUS == 1,
               "REF_CHECK_INVERSE must invert the check symbol's weight");
_Static_assert(FL_REF_DISPLAY_LEN == 13, "display form is XXXX-XXXX-XXX");

static const char s_ref_alphabet[] = FL_REF_ALPHABET;

static const char s_ref_length_msg[] = "a booking reference has 11 letters and digits";
static const char s_ref_symbols_msg[] =
    "it uses the digits 2-9 and the letters A-Z except I, L, O and U";

/* The value of a reference symbol (capital letters only), or -1. */
static int
s_ref_value(char c)
{
    const char *p = c ? strchr(s_ref_alphabet, c) : NULL;
    return p ? (int) (p - s_ref_alphabet) : -1;
}

/* The weighted sum of the first n symbols of ref (all valid), mod the modulus. */
static unsigned
s_ref_sum(const char *ref, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (unsigned) (i + 1) * (unsigned) s_ref_value(ref[i]);
    return sum % REF_CHECK_MODULUS;
}

/* Fill buf from getrandom(2).  Returns 0, or -1 when the source fails. */
static int
s_random_fill(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t) r;
    }
    return 0;
}

/* Random bytes for references, drawn from getrandom(2) a block at a time:
 * one system call per block rather than one per reference (a booking rush
 * makes tens of thousands of references a second, and a system call costs
 * about a microsecond on the project's virtual machines).  Per thread; each
 * byte is handed out once and wiped as it is taken.  A child of fork() drops
 * what it inherited, so parent and child never hand out the same bytes. */
#define REF_BLOCK_BYTES 512
static _Thread_local unsigned char s_block[REF_BLOCK_BYTES];
static _Thread_local size_t s_block_left;
static pthread_once_t s_block_once = PTHREAD_ONCE_INIT;

static void
s_block_forget(void)
{
    explicit_bzero(s_block, sizeof s_block);
    s_block_left = 0;
}

static void
s_block_setup(void)
{
    pthread_atfork(NULL, NULL, s_block_forget);
}

static int
s_random_byte(unsigned *out)
{
    pthread_once(&s_block_once, s_block_setup);
    if (s_block_left == 0) {
        if (s_random_fill(s_block, sizeof s_block) != 0)
            return -1;
        s_block_left = sizeof s_block;
    }
    unsigned char *b = &s_block[--s_block_left];
    *out = *b;
    *b = 0;
    return 0;
}

int
fl_ref_new(char out[FL_REF_LEN + 1])
{
    return fl_ref_new_led(out, 0, 0);
}

int
fl_ref_new_led(char out[FL_REF_LEN + 1], unsigned lead, int lead_symbols)
{
    assert(out && lead_symbols >= 0 && lead_symbols <= FL_REF_LEAD_MAX);
    int rc = FL_E_IO;
    unsigned lead_sum = 0;
    /* the lead's symbols, most significant first, so that consecutive leads
     * sort next to each other */
    for (int i = lead_symbols - 1; i >= 0; i--) {
        unsigned value = lead % FL_REF_SYMBOLS;
        lead /= FL_REF_SYMBOLS;
        out[i] = s_ref_alphabet[value];
        lead_sum += (unsigned) (i + 1) * value;
    }

    for (int draw = 0; draw < REF_DRAWS_MAX; draw++) {
        unsigned sum = lead_sum;
        for (int i = lead_symbols; i < FL_REF_RANDOM; ) {
            unsigned byte;
            if (s_random_byte(&byte) != 0)
                goto done;
            if (byte >= REF_BYTE_LIMIT)
                continue;                   /* would favour the first symbols */
            unsigned value = byte % FL_REF_SYMBOLS;
            out[i] = s_ref_alphabet[value];
            sum += (unsigned) (i + 1) * value;
            i++;
        }
        /* check * FL_REF_LEN ≡ -sum (mod 31) */
        unsigned check = (REF_CHECK_MODULUS - sum % REF_CHECK_MODULUS)
                         * REF_CHECK_INVERSE % REF_CHECK_MODULUS;
        if (check < FL_REF_SYMBOLS) {
            out[FL_REF_RANDOM] = s_ref_alphabet[check];
            out[FL_REF_LEN] = '\0';
            rc = 0;
            goto done;
        }
    }
done:
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

bool
fl_ref_valid(const char *ref)
{
    if (!ref)
        return false;
    for (size_t i = 0; i < FL_REF_LEN; i++)
        if (s_ref_value(ref[i]) < 0)
            return false;               /* also stops at an early NUL */
    return ref[FL_REF_LEN] == '\0' && s_ref_sum(ref, FL_REF_LEN) == 0;
}

int
fl_ref_parse(const char *input, char out[FL_REF_LEN + 1], fl_error_t *err)
{
    assert(input && out);
    out[0] = '\0';
    size_t len = strnlen(input, FL_REF_INPUT_MAX + 1);
    if (len > FL_REF_INPUT_MAX)
        return fl_error_set(err, FL_E_INVALID, "ref", "%s", s_ref_length_msg);

    char ref[FL_REF_LEN + 1];
    size_t n = 0;                           /* symbols seen, maybe > FL_REF_LEN */
    for (size_t i = 0; i < len; i++) {
        char c = input[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-')
            continue;
        char upper = (c >= 'a' && c <= 'z') ? (char) (c - 'a' + 'A') : c;
        if (s_ref_value(upper) < 0) {
            if (c > ' ' && c < 0x7f)
                return fl_error_set(err, FL_E_INVALID, "ref",
                                    "a booking reference never contains '%c': %s",
                                    c, s_ref_symbols_msg);
            return fl_error_set(err, FL_E_INVALID, "ref",
                                "a booking reference contains only letters and digits: %s",
                                s_ref_symbols_msg);
        }
        if (n < FL_REF_LEN)
            ref[n] = upper;
        n++;
    }
    if (n != FL_REF_LEN)
        return fl_error_set(err, FL_E_INVALID, "ref", "%s", s_ref_length_msg);
    ref[FL_REF_LEN] = '\0';
    if (s_ref_sum(ref, FL_REF_LEN) != 0)
        return fl_error_set(err, FL_E_INVALID, "ref",
                            "the reference is mistyped: its check character does not match");
    memcpy(out, ref, sizeof ref);
    return 0;
}

void
fl_ref_display(const char *ref, char out[FL_REF_DISPLAY_LEN + 1])
{
    assert(ref && out && strnlen(ref, FL_REF_LEN + 1) == FL_REF_LEN);
    size_t n = 0;
    for (size_t i = 0; i < FL_REF_LEN; i++) {
        if (i > 0 && i % FL_REF_GROUP == 0)
            out[n++] = '-';
        out[n++] = ref[i];
    }
    assert(n == FL_REF_DISPLAY_LEN);
    out[n] = '\0';
}

/* ---- identity documents -------------------------------------------------- */

/* One document type: its number is `letters` capitals then `digits` digits. */
typedef struct {
    const char *type;               /* the id_type word */
    int letters_min, letters_max;
    int digits_min, digits_max;
    bool strip_zeros;               /* drop leading zeros of the digits */
    const char *message;            /* what a good number looks like */
} id_rule_t;

static const id_rule_t s_id_rules[] = {
    { "national", 0, 0, 1, FL_ID_NATIONAL_DIGITS_MAX, true,
      "a national ID number has 1 to 8 digits" },
    { "passport", FL_ID_PASSPORT_LETTERS_MIN, FL_ID_PASSPORT_LETTERS_MAX,
      FL_ID_PASSPORT_DIGITS_MIN, FL_ID_PASSPORT_DIGITS_MAX, false,
      "a passport number is 1 or 2 letters followed by 6 to 8 digits, e.g. AK0123456" },
    { "alien", 0, 0, FL_ID_ALIEN_DIGITS_MIN, FL_ID_ALIEN_DIGITS_MAX, false,
      "an alien ID number has 6 to 10 digits" },
    { "birth", 0, 0, FL_ID_BIRTH_DIGITS_MIN, FL_ID_BIRTH_DIGITS_MAX, false,
      "a birth certificate number has 5 to 12 digits" },
};

_Static_assert(FL_ID_NATIONAL_DIGITS_MAX <= FL_ID_NUMBER_MAX
               && FL_ID_PASSPORT_LETTERS_MAX + FL_ID_PASSPORT_DIGITS_MAX <= FL_ID_NUMBER_MAX
               && FL_ID_ALIEN_DIGITS_MAX <= FL_ID_NUMBER_MAX
               && FL_ID_BIRTH_DIGITS_MAX <= FL_ID_NUMBER_MAX,
               "every canonical number fits FL_ID_NUMBER_MAX");

static bool
s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int
fl_id_check(const char *id_type, const char *number,
            char out[FL_ID_NUMBER_MAX + 1], fl_error_t *err)
{
    assert(id_type && number && out);
    out[0] = '\0';
    const id_rule_t *rule = NULL;
    for (size_t i = 0; i < sizeof s_id_rules / sizeof s_id_rules[0]; i++)
        if (strcmp(id_type, s_id_rules[i].type) == 0)
            rule = &s_id_rules[i];
    if (!rule)
        return fl_error_set(err, FL_E_INVALID, "id_type",
                            "unknown document type: use national, passport, alien or birth");

    size_t len = strnlen(number, FL_ID_INPUT_MAX + 1);
    if (len > FL_ID_INPUT_MAX)
        return fl_error_set(err, FL_E_INVALID, "id_number", "%s", rule->message);

    /* Normalise: drop spaces and dashes, upper-case letters. */
    char norm[FL_ID_INPUT_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = number[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-')
            continue;
        norm[n++] = (c >= 'a' && c <= 'z') ? (char) (c - 'a' + 'A') : c;
    }
    norm[n] = '\0';
    if (n == 0)
        return fl_error_set(err, FL_E_INVALID, "id_number", "the document number is empty");

    /* Letters, then digits, then nothing else. */
    size_t letters = 0;
    while (letters < n && norm[letters] >= 'A' && norm[letters] <= 'Z')
        letters++;
    size_t first_digit = letters;
    if (rule->strip_zeros)
        while (first_digit < n && norm[first_digit] == '0')
            first_digit++;
    size_t digits = 0;
    while (first_digit + digits < n && s_is_digit(norm[first_digit + digits]))
        digits++;
    if (first_digit + digits != n
        || letters < (size_t) rule->letters_min || letters > (size_t) rule->letters_max
        || digits < (size_t) rule->digits_min || digits > (size_t) rule->digits_max)
        return fl_error_set(err, FL_E_INVALID, "id_number", "%s", rule->message);

    memcpy(out, norm, letters);
    memcpy(out + letters, norm + first_digit, digits);
    out[letters + digits] = '\0';
    return 0;
}

/* ---- phone numbers ------------------------------------------------------- */

/* Most digits in any phone number (E.164). */
#define PHONE_DIGITS_MAX      15
/* Kenya's country code, and the international dialling prefix before it. */
#define PHONE_COUNTRY         "254"
#define PHONE_INTL_PREFIX     "00"
/* Digits of a Kenyan mobile number after the country code (7XXXXXXXX). */
#define PHONE_NATIONAL_DIGITS 9

_Static_assert(sizeof "+" PHONE_COUNTRY - 1 + PHONE_NATIONAL_DIGITS == FL_PHONE_LEN,
               "FL_PHONE_LEN is +254 and the national digits");
_Static_assert(FL_PHONE_LEN <= FL_PHONE_MAX, "the output fits its buffer");

/* True when the n characters of s begin with prefix. */
static bool
s_starts(const char *s, size_t n, const char *prefix)
{
    size_t len = strlen(prefix);
    return n >= len && memcmp(s, prefix, len) == 0;
}

int
fl_phone_normalise(const char *input, char out[FL_PHONE_MAX + 1], fl_error_t *err)
{
    assert(input && out);
    out[0] = '\0';
    const char *usage = "a Kenyan mobile number looks like 0712 345 678";
    size_t len = strnlen(input, FL_PHONE_INPUT_MAX + 1);
    if (len > FL_PHONE_INPUT_MAX)
        return fl_error_set(err, FL_E_INVALID, "phone", "%s", usage);

    char d[PHONE_DIGITS_MAX + 1];
    size_t n = 0;
    bool plus = false;
    for (size_t i = 0; i < len; i++) {
        char c = input[i];
        if (c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')')
            continue;
        if (c == '+' && !plus && n == 0)
            plus = true;
        else if (s_is_digit(c) && n < PHONE_DIGITS_MAX)
            d[n++] = c;
        else
            return fl_error_set(err, FL_E_INVALID, "phone", "%s", usage);
    }
    d[n] = '\0';

    const char *national = d;
    bool after_country = false;
    if (plus) {
        if (!s_starts(d, n, PHONE_COUNTRY))
            return fl_error_set(err, FL_E_INVALID, "phone", "%s", usage);
        national = d + strlen(PHONE_COUNTRY);
        after_country = true;
    } else if (s_starts(d, n, PHONE_INTL_PREFIX PHONE_COUNTRY)) {
        national = d + strlen(PHONE_INTL_PREFIX PHONE_COUNTRY);
        after_country = true;
    } else if (s_starts(d, n, PHONE_COUNTRY)
               && n >= strlen(PHONE_COUNTRY) + PHONE_NATIONAL_DIGITS) {
        national = d + strlen(PHONE_COUNTRY);
        after_country = true;
    } else if (d[0] == '0') {
        national = d + 1;                   /* trunk prefix of a local number */
    }
    if (after_country && national[0] == '0')
        national++;                         /* "+254 (0)712 ..." */

    if (strlen(national) != PHONE_NATIONAL_DIGITS || (national[0] != '7' && national[0] != '1'))
        return fl_error_set(err, FL_E_INVALID, "phone", "%s", usage);
    memcpy(out, "+" PHONE_COUNTRY, strlen("+" PHONE_COUNTRY));
    memcpy(out + strlen("+" PHONE_COUNTRY), national, PHONE_NATIONAL_DIGITS + 1);
    return 0;
}

/* ---- names --------------------------------------------------------------- */

/* What a code point is, for a name. */
typedef enum {
    NC_LETTER,      /* counts as the letter a name needs */
    NC_MARK,        /* kept, but not a letter: combining marks, ZWJ, ZWNJ */
    NC_PUNCT,       /* kept: apostrophes, hyphens, dots */
    NC_SPACE,       /* collapsed into one ASCII space */
    NC_DROP,        /* invisible, removed: zero-width space, word joiner, BOM */
    NC_DIGIT,       /* refused */
    NC_CONTROL,     /* refused */
    NC_SYMBOL,      /* refused: punctuation, symbols, private use, emoji */
} name_class_t;

typedef struct {
    uint32_t lo, hi;
    name_class_t cls;
} name_block_t;

/* Non-ASCII code points that are not letters, in order.  Everything between
 * them (and every code point not yet assigned) counts as a letter. */
static const name_block_t s_name_blocks[] = {
    { 0x0080, 0x009F, NC_CONTROL },     /* C1 controls */
    { 0x00A0, 0x00A0, NC_SPACE },       /* no-break space */
    { 0x00A1, 0x00BF, NC_SYMBOL },      /* Latin-1 punctuation and signs */
    { 0x00D7, 0x00D7, NC_SYMBOL },      /* × */
    { 0x00F7, 0x00F7, NC_SYMBOL },      /* ÷ */
    { 0x0300, 0x036F, NC_MARK },        /* combining diacritical marks */
    { 0x0600, 0x0605, NC_CONTROL },     /* Arabic number signs (format characters) */
    { 0x060C, 0x060F, NC_SYMBOL },      /* Arabic comma, date separator, signs */
    { 0x061B, 0x061B, NC_SYMBOL },      /* Arabic semicolon */
    { 0x061C, 0x061C, NC_CONTROL },     /* Arabic letter mark (bidi) */
    { 0x061D, 0x061F, NC_SYMBOL },      /* Arabic end of text, triple dot, question mark */
    { 0x066A, 0x066D, NC_SYMBOL },      /* Arabic percent, separators, star */
    { 0x1360, 0x1368, NC_SYMBOL },      /* Ethiopic punctuation */
    { 0x1369, 0x137C, NC_DIGIT },       /* Ethiopic numerals */
    { 0x1680, 0x1680, NC_SPACE },       /* Ogham space mark */
    { 0x1AB0, 0x1AFF, NC_MARK },        /* combining marks extended */
    { 0x1DC0, 0x1DFF, NC_MARK },        /* combining marks supplement */
    { 0x2000, 0x200A, NC_SPACE },       /* en quad .. hair space */
    { 0x200B, 0x200B, NC_DROP },        /* zero-width space */
    { 0x200C, 0x200D, NC_MARK },        /* ZWNJ, ZWJ: needed by some scripts */
    { 0x200E, 0x200F, NC_CONTROL },     /* LRM, RLM */
    { 0x2010, 0x2011, NC_PUNCT },       /* hyphen, non-breaking hyphen */
    { 0x2012, 0x2018, NC_SYMBOL },      /* dashes, quotes */
    { 0x2019, 0x2019, NC_PUNCT },       /* ’ right single quote, the typeset apostrophe */
    { 0x201A, 0x2027, NC_SYMBOL },      /* quotes, bullets, ellipsis */
    { 0x2028, 0x202E, NC_CONTROL },     /* line/paragraph separators, bidi embeddings */
    { 0x202F, 0x202F, NC_SPACE },       /* narrow no-break space */
    { 0x2030, 0x205E, NC_SYMBOL },      /* general punctuation */
    { 0x205F, 0x205F, NC_SPACE },       /* medium mathematical space */
    { 0x2060, 0x2060, NC_DROP },        /* word joiner */
    { 0x2061, 0x206F, NC_CONTROL },     /* invisible operators, bidi isolates */
    { 0x2070, 0x2BFF, NC_SYMBOL },      /* super/subscripts .. arrows, maths, shapes, dingbats */
    { 0x2E00, 0x2E7F, NC_SYMBOL },      /* supplemental punctuation */
    { 0x2E80, 0x2FFF, NC_SYMBOL },      /* CJK and Kangxi radicals, description characters */
    { 0x3000, 0x3000, NC_SPACE },       /* ideographic space */
    { 0x3001, 0x3004, NC_SYMBOL },      /* CJK punctuation */
    { 0x3008, 0x3020, NC_SYMBOL },      /* CJK brackets and marks */
    { 0x3200, 0x33FF, NC_SYMBOL },      /* enclosed CJK, CJK compatibility squares */
    { 0x4DC0, 0x4DFF, NC_SYMBOL },      /* Yijing hexagrams */
    { 0xA490, 0xA4CF, NC_SYMBOL },      /* Yi radicals */
    { 0xE000, 0xF8FF, NC_SYMBOL },      /* private use */
    { 0xFDD0, 0xFDEF, NC_SYMBOL },      /* noncharacters */
    { 0xFE00, 0xFE0F, NC_MARK },        /* variation selectors */
    { 0xFE10, 0xFE1F, NC_SYMBOL },      /* vertical forms */
    { 0xFE20, 0xFE2F, NC_MARK },        /* combining half marks */
    { 0xFE30, 0xFE6F, NC_SYMBOL },      /* CJK compatibility and small forms */
    { 0xFEFF, 0xFEFF, NC_DROP },        /* byte-order mark */
    { 0xFF01, 0xFF20, NC_SYMBOL },      /* fullwidth punctuation */
    { 0xFF3B, 0xFF40, NC_SYMBOL },
    { 0xFF5B, 0xFF65, NC_SYMBOL },
    { 0xFFF0, 0xFFFF, NC_SYMBOL },      /* specials, replacement character */
    { 0x10100, 0x1013F, NC_SYMBOL },    /* Aegean numbers */
    { 0x1D000, 0x1D24F, NC_SYMBOL },    /* musical symbols */
    { 0x1D2E0, 0x1D37F, NC_SYMBOL },    /* Mayan numerals, Tai Xuan Jing, counting rods */
    { 0x1D400, 0x1D7FF, NC_SYMBOL },    /* mathematical letters (look-alikes) */
    { 0x1D800, 0x1DAAF, NC_SYMBOL },    /* Sutton SignWriting */
    { 0x1F000, 0x1FBFF, NC_SYMBOL },    /* emoji, game pieces, legacy computing */
    { 0xE0000, 0xE007F, NC_CONTROL },   /* tags */
    { 0xE0100, 0xE01EF, NC_MARK },      /* variation selectors supplement */
    { 0xF0000, 0x10FFFF, NC_SYMBOL },   /* supplementary private use */
};

/* Decimal digits of every script but ASCII (Unicode 14, category Nd). */
static const struct { uint32_t lo, hi; } s_name_digits[] = {
    { 0x0660, 0x0669 }, { 0x06F0, 0x06F9 }, { 0x07C0, 0x07C9 }, { 0x0966, 0x096F },
    { 0x09E6, 0x09EF }, { 0x0A66, 0x0A6F }, { 0x0AE6, 0x0AEF }, { 0x0B66, 0x0B6F },
    { 0x0BE6, 0x0BEF }, { 0x0C66, 0x0C6F }, { 0x0CE6, 0x0CEF }, { 0x0D66, 0x0D6F },
    { 0x0DE6, 0x0DEF }, { 0x0E50, 0x0E59 }, { 0x0ED0, 0x0ED9 }, { 0x0F20, 0x0F29 },
    { 0x1040, 0x1049 }, { 0x1090, 0x1099 }, { 0x17E0, 0x17E9 }, { 0x1810, 0x1819 },
    { 0x1946, 0x194F }, { 0x19D0, 0x19D9 }, { 0x1A80, 0x1A89 }, { 0x1A90, 0x1A99 },
    { 0x1B50, 0x1B59 }, { 0x1BB0, 0x1BB9 }, { 0x1C40, 0x1C49 }, { 0x1C50, 0x1C59 },
    { 0xA620, 0xA629 }, { 0xA8D0, 0xA8D9 }, { 0xA900, 0xA909 }, { 0xA9D0, 0xA9D9 },
    { 0xA9F0, 0xA9F9 }, { 0xAA50, 0xAA59 }, { 0xABF0, 0xABF9 }, { 0xFF10, 0xFF19 },
    { 0x104A0, 0x104A9 }, { 0x10D30, 0x10D39 }, { 0x11066, 0x1106F }, { 0x110F0, 0x110F9 },
    { 0x11136, 0x1113F }, { 0x111D0, 0x111D9 }, { 0x112F0, 0x112F9 }, { 0x11450, 0x11459 },
    { 0x114D0, 0x114D9 }, { 0x11650, 0x11659 }, { 0x116C0, 0x116C9 }, { 0x11730, 0x11739 },
    { 0x118E0, 0x118E9 }, { 0x11950, 0x11959 }, { 0x11C50, 0x11C59 }, { 0x11D50, 0x11D59 },
    { 0x11DA0, 0x11DA9 }, { 0x16A60, 0x16A69 }, { 0x16AC0, 0x16AC9 }, { 0x16B50, 0x16B59 },
    { 0x1D7CE, 0x1D7FF }, { 0x1E140, 0x1E149 }, { 0x1E2F0, 0x1E2F9 }, { 0x1E950, 0x1E959 },
    { 0x1FBF0, 0x1FBF9 },
};

static name_class_t
s_name_class(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
            return NC_LETTER;
        if (cp >= '0' && cp <= '9')
            return NC_DIGIT;
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r')
            return NC_SPACE;
        if (cp < 0x20 || cp == 0x7f)
            return NC_CONTROL;
        if (cp == '\'' || cp == '-' || cp == '.')
            return NC_PUNCT;
        return NC_SYMBOL;
    }
    if ((cp & 0xFFFE) == 0xFFFE)
        return NC_SYMBOL;                   /* U+xxFFFE and U+xxFFFF: noncharacters */
    for (size_t i = 0; i < sizeof s_name_digits / sizeof s_name_digits[0]; i++)
        if (cp >= s_name_digits[i].lo && cp <= s_name_digits[i].hi)
            return NC_DIGIT;
    /* Binary search for the last block starting at or before cp. */
    size_t lo = 0, hi = sizeof s_name_blocks / sizeof s_name_blocks[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_name_blocks[mid].lo <= cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && cp <= s_name_blocks[lo - 1].hi)
        return s_name_blocks[lo - 1].cls;
    return NC_LETTER;
}

/*  Decode one UTF-8 character of p (left bytes available).  Returns its length
 *  and sets *cp, or 0 for an invalid sequence (truncated, overlong, a
 *  surrogate, beyond U+10FFFF). */
static size_t
s_utf8_decode(const unsigned char *p, size_t left, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    } else if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2; c = p[0] & 0x1Fu; min = 0x80;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3; c = p[0] & 0x0Fu; min = 0x800;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4; c = p[0] & 0x07u; min = 0x10000;
    } else {
        return 0;
    }
    if (left < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

int
fl_name_check(const char *input, char out[FL_NAME_MAX + 1], fl_error_t *err)
{
    assert(input && out);
    out[0] = '\0';
    const char *too_long =
        "the name is too long: at most 80 characters, fewer with accented or non-Latin letters";
    size_t len = strnlen(input, FL_NAME_INPUT_MAX + 1);
    if (len > FL_NAME_INPUT_MAX)
        return fl_error_set(err, FL_E_TOO_LONG, "name", "%s", too_long);

    const unsigned char *p = (const unsigned char *) input;
    size_t n = 0;
    bool space = false;                     /* a space is due before the next character */
    bool letter = false;
    int rc = 0;
    for (size_t i = 0, step; i < len; i += step) {
        uint32_t cp;
        step = s_utf8_decode(p + i, len - i, &cp);
        if (step == 0) {
            rc = fl_error_set(err, FL_E_INVALID, "name", "the name is not valid UTF-8 text");
            goto fail;
        }
        switch (s_name_class(cp)) {
        case NC_SPACE:
            space = n > 0;
            continue;
        case NC_DROP:
            continue;
        case NC_CONTROL:
            rc = fl_error_set(err, FL_E_INVALID, "name", "the name contains a control character");
            goto fail;
        case NC_DIGIT:
            rc = fl_error_set(err, FL_E_INVALID, "name", "a name cannot contain digits");
            goto fail;
        case NC_SYMBOL:
            rc = fl_error_set(err, FL_E_INVALID, "name",
                              "a name may contain only letters, spaces, apostrophes, hyphens and dots");
            goto fail;
        case NC_LETTER:
            letter = true;
            break;
        case NC_MARK:
        case NC_PUNCT:
            break;
        }
        if (n + space + step > FL_NAME_MAX) {
            rc = fl_error_set(err, FL_E_TOO_LONG, "name", "%s", too_long);
            goto fail;
        }
        if (space)
            out[n++] = ' ';
        space = false;
        memcpy(out + n, p + i, step);
        n += step;
    }
    out[n] = '\0';
    if (n == 0) {
        rc = fl_error_set(err, FL_E_INVALID, "name", "the name is empty");
        goto fail;
    }
    if (!letter) {
        rc = fl_error_set(err, FL_E_INVALID, "name", "a name needs at least one letter");
        goto fail;
    }
    return 0;
fail:
    out[0] = '\0';
    return rc;
}
