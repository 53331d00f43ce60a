/*  ids.h — booking references and the details citizens type: identity
 *  document numbers, phone numbers and names.
 *
 *  The scheduler issues booking references with fl_ref_new and checks the
 *  citizen's details of every booking; the portal runs the same checks on form
 *  and USSD input so that a typing mistake gets a clear sentence before any
 *  request is sent.  Every checker turns what a person typed into one
 *  canonical form (the form that is stored, hashed and compared), or refuses it
 *  with FL_E_INVALID (FL_E_TOO_LONG for an over-long name), the field at fault
 *  and one sentence that tells the person what the value should look like.
 *
 *  Booking references
 *
 *      canonical   7KQ4M2XHB9T      11 symbols, what is stored and sent
 *      display     7KQ4-M2XH-B9T    groups of 4, 4 and 3, what people see
 *
 *  A reference is FL_REF_RANDOM symbols drawn from getrandom(2) followed by one
 *  check symbol.  The alphabet has 30 symbols: the digits 2-9 and the capital
 *  letters without I, L, O and U, so that 0/O, 1/I/L and U/V cannot be
 *  confused when read aloud or copied by hand.  Ten random symbols give
 *  30^10 ≈ 2^49 references.  The scheduler fixes the first three
 *  (fl_ref_new_led: a batch counter, so that one commit's references sit
 *  together in the store) and draws the other seven; as the counter runs
 *  through all 27,000 leads in turn, a guessed reference is valid with
 *  about the same odds (docs/store.md weighs them), and the lead tells
 *  roughly when, among the last 27,000 batches, a booking was made.
 *
 *  The check symbol makes the position-weighted sum of the symbol values
 *  (value = index in FL_REF_ALPHABET, weights 1..11 from the left) a multiple
 *  of 31.  31 is prime and larger than both the alphabet and every weight, so a
 *  changed symbol changes the sum by w·d and a swap of any two different
 *  symbols by (w_i − w_j)·d, neither of them a multiple of 31: every single
 *  substitution and every transposition (adjacent or not) is detected.  The
 *  31st residue has no symbol, so fl_ref_new draws again in the 1 case in 31
 *  where the check would need it; valid references stay uniformly distributed.
 *  (Luhn mod 30 was not used: it misses the swap of the first and last symbol
 *  values, as decimal Luhn misses 09↔90.)
 *
 *  Typed references: case is ignored, and spaces, tabs, line breaks and
 *  dashes anywhere are skipped.  The characters 0, 1, I, L, O and U are refused rather than
 *  guessed at: none of them is ever in a reference, so there is no right
 *  symbol to map them to, and a clear "references never contain O" lets the
 *  person look again.
 *
 *  Caveats:
 *    - Every function is thread-safe (no shared state).
 *    - out buffers are always written: the canonical value on success, "" on
 *      failure.  Pointer arguments other than err must not be NULL (assert).
 */
#ifndef FOLENI_IDS_H
#define FOLENI_IDS_H

#include "libfoleni/error.h"

#include <stdbool.h>

/* ---- booking references -------------------------------------------------- */

/* The 30 reference symbols, in value order (a symbol's value is its index). */
#define FL_REF_ALPHABET      "23456789ABCDEFGHJKMNPQRSTVWXYZ"
#define FL_REF_SYMBOLS       30
/* Random symbols in a reference, then one check symbol. */
#define FL_REF_RANDOM        10
#define FL_REF_LEN           (FL_REF_RANDOM + 1)
/* Display form: groups of FL_REF_GROUP symbols joined by '-' ("XXXX-XXXX-XXX"). */
#define FL_REF_GROUP         4
#define FL_REF_DISPLAY_LEN   (FL_REF_LEN + (FL_REF_LEN - 1) / FL_REF_GROUP)
/* Longest typed reference fl_ref_parse reads, in bytes, separators included. */
#define FL_REF_INPUT_MAX     40

/*  Make a fresh random reference in canonical form (FL_REF_LEN symbols and a
 *  NUL).  Returns 0, or FL_E_IO when getrandom(2) fails (out is then ""). */
int fl_ref_new(char out[FL_REF_LEN + 1]);

/*  The same, with the first lead_symbols (0..FL_REF_LEAD_MAX) symbols fixed:
 *  they write lead modulo 30^lead_symbols in base 30, most significant
 *  first; the other FL_REF_RANDOM - lead_symbols symbols are random as
 *  above.  The scheduler gives the bookings of one batch the same lead and
 *  the next batch the next one, so that a batch's new references sit
 *  together in the store's B-tree instead of each dirtying a page of its
 *  own (docs/store.md, "Booking references and the B-tree").  Returns 0 or
 *  FL_E_IO. */
#define FL_REF_LEAD_MAX      3
int fl_ref_new_led(char out[FL_REF_LEN + 1], unsigned lead, int lead_symbols);

/*  True when ref is a reference in canonical form: exactly FL_REF_LEN symbols
 *  of FL_REF_ALPHABET (capitals only, no separators) with a matching check
 *  symbol.  For values that arrive on the wire or from the store.  ref NULL
 *  gives false. */
bool fl_ref_valid(const char *ref);

/*  Read a reference as a person typed it (any case; spaces, tabs, line
 *  breaks and dashes anywhere are ignored) and write its canonical form to
 *  out.  Errors, all FL_E_INVALID with field "ref":
 *    - a printable character that is never in a reference (0, 1, I, L, O, U,
 *      other punctuation): "a booking reference never contains 'O': it uses
 *      the digits 2-9 and the letters A-Z except I, L, O and U"; a control
 *      or non-ASCII byte: "a booking reference contains only letters and
 *      digits: it uses ...";
 *    - not FL_REF_LEN symbols, or more than FL_REF_INPUT_MAX bytes of input:
 *      "a booking reference has 11 letters and digits";
 *    - the check symbol does not match: "the reference is mistyped: its check
 *      character does not match".
 *  On error out is "". */
int fl_ref_parse(const char *input, char out[FL_REF_LEN + 1], fl_error_t *err);

/*  Write the display form of a canonical reference ("XXXX-XXXX-XXX").  ref
 *  must be FL_REF_LEN characters long (assert); it is not otherwise checked.
 *  Cannot fail. */
void fl_ref_display(const char *ref, char out[FL_REF_DISPLAY_LEN + 1]);

/* ---- identity documents -------------------------------------------------- */

/*  Longest canonical document number, in bytes (the wire's id_number limit;
 *  the longest number accepted today is a 12-digit birth certificate). */
#define FL_ID_NUMBER_MAX          20
/* Longest typed document number fl_id_check reads, in bytes. */
#define FL_ID_INPUT_MAX           40
/* "national": Kenyan national ID card, 1..8 digits, leading zeros dropped. */
#define FL_ID_NATIONAL_DIGITS_MAX 8
/* "passport": 1..2 letters then 6..8 digits (A1234567, AK0123456). */
#define FL_ID_PASSPORT_LETTERS_MIN 1
#define FL_ID_PASSPORT_LETTERS_MAX 2
#define FL_ID_PASSPORT_DIGITS_MIN 6
#define FL_ID_PASSPORT_DIGITS_MAX 8
/* "alien": foreign national (alien) ID card, 6..10 digits. */
#define FL_ID_ALIEN_DIGITS_MIN    6
#define FL_ID_ALIEN_DIGITS_MAX    10
/* "birth": birth certificate of a minor, 5..12 digits. */
#define FL_ID_BIRTH_DIGITS_MIN    5
#define FL_ID_BIRTH_DIGITS_MAX    12

/*  Check an identity document number of the given type and write its
 *  canonical form to out.  id_type is one of the exact words "national",
 *  "passport", "alien", "birth".  The number is normalised first: spaces,
 *  tabs, line breaks and dashes anywhere are removed and letters are
 *  upper-cased.  Then:
 *    national  1..8 digits; leading zeros are dropped ("00123" → "123"), because
 *              ID numbers are plain serial numbers and the same person must
 *              always give the same canonical number (it is hashed to enforce
 *              one booking per person); all zeros is refused;
 *    passport  1..2 letters then 6..8 digits, kept as typed (upper-cased);
 *    alien     6..10 digits, kept as typed (leading zeros are kept);
 *    birth     5..12 digits, kept as typed.
 *  Errors, all FL_E_INVALID: unknown id_type → field "id_type", "unknown
 *  document type: use national, passport, alien or birth"; an empty, over-long
 *  or ill-formed number → field "id_number", a sentence describing the
 *  expected form for the type (e.g. "a national ID number has 1 to 8
 *  digits").  On error out is "". */
int fl_id_check(const char *id_type, const char *number,
                char out[FL_ID_NUMBER_MAX + 1], fl_error_t *err);

/* ---- phone numbers ------------------------------------------------------- */

/* Room for any E.164 number ('+' and up to 15 digits), the wire's phone limit. */
#define FL_PHONE_MAX         16
/* Length of every number fl_phone_normalise writes: "+254" and 9 digits. */
#define FL_PHONE_LEN         13
/* Longest typed phone number fl_phone_normalise reads, in bytes. */
#define FL_PHONE_INPUT_MAX   40

/*  Turn a Kenyan mobile number as people write it into E.164 ("+2547XXXXXXXX"
 *  or "+2541XXXXXXXX").  Accepted: 07XXXXXXXX, 01XXXXXXXX, 7XXXXXXXX,
 *  1XXXXXXXX, 2547XXXXXXXX, 2541XXXXXXXX, +2547XXXXXXXX, +2541XXXXXXXX, and
 *  also 002547… / 002541… (the international dialling prefix) and a trunk 0
 *  after the country code ("+254 (0)712 345 678").  Spaces, tabs, dashes,
 *  dots and parentheses anywhere are ignored; '+' only at the start.
 *  Errors: FL_E_INVALID, field "phone", "a Kenyan mobile number looks like
 *  0712 345 678" — for landlines (020…), other countries, wrong lengths, other
 *  characters and input over FL_PHONE_INPUT_MAX bytes.  On error out is "". */
int fl_phone_normalise(const char *input, char out[FL_PHONE_MAX + 1], fl_error_t *err);

/* ---- names --------------------------------------------------------------- */

/* Longest canonical name, in bytes of UTF-8 (the wire's name limit). */
#define FL_NAME_MAX          80
/* Longest typed name fl_name_check reads, in bytes, before spaces are collapsed. */
#define FL_NAME_INPUT_MAX    (4 * FL_NAME_MAX)

/*  Check a person's name and write its canonical form: leading and trailing
 *  spaces removed and every run of spaces inside made one ASCII space.  Tab,
 *  CR, LF and the Unicode space characters (no-break space, ideographic space
 *  ...) count as spaces; zero-width space, word joiner and byte-order mark are
 *  dropped.  Allowed: letters of any script (with their combining marks and
 *  ZWJ/ZWNJ), spaces, apostrophes (' and ’), hyphens (- and U+2010/U+2011)
 *  and dots; at least one letter is required.
 *
 *  "Letter" is decided without the full Unicode tables: ASCII letters, and
 *  every non-ASCII code point outside a short list of blocks of controls,
 *  punctuation, symbols, digits (of every script), spaces, private use, emoji
 *  and noncharacters, which are refused.  Checked against Unicode 14: of
 *  134,000 letters and marks, the 1,200 refused are mathematical and
 *  letterlike look-alikes (𝐀, ℂ), superscript letters, µ, ª and º; about
 *  1,800 rare symbols scattered inside letter blocks (Tibetan marks, Adlam
 *  punctuation...) pass as letters.
 *
 *  Errors, field "name": FL_E_TOO_LONG when the canonical name is over
 *  FL_NAME_MAX bytes or the input over FL_NAME_INPUT_MAX; otherwise
 *  FL_E_INVALID with one of "the name is empty", "the name is not valid UTF-8
 *  text", "the name contains a control character", "a name cannot contain
 *  digits", "a name may contain only letters, spaces, apostrophes, hyphens and
 *  dots", "a name needs at least one letter".  On error out is "". */
int fl_name_check(const char *input, char out[FL_NAME_MAX + 1], fl_error_t *err);

#endif
