/*  test_msg.c — the message codec and the validator in front of it.
 *
 *  Proves: every message, item and record type round-trips through msgpack;
 *  setters refuse values outside their field's bounds; the decoder rejects a
 *  written-down corpus of malformed inputs with the expected code and field
 *  (including the 5-byte array bomb), accepts valid messages from another
 *  encoder, and never crashes on mutated input.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "libfoleni/msg.h"
#include "libfoleni/sanitize.h"
#include "libfoleni/wire.h"
#include "tests/testutil.h"

static void
s_encode(const fl_msg_t *m, msgpack_sbuffer *buf)
{
    fl_error_t err;
    msgpack_sbuffer_init(buf);
    ck_assert_msg(fl_msg_encode(m, buf, &err) == 0, "encode: %s", err.message);
}

START_TEST(test_every_type_round_trips)
{
    fl_type_t type = (fl_type_t) _i;
    const fl_type_spec_t *spec = fl_schema_type(type);
    fl_msg_t *m = fl_msg_new(type);
    ck_assert_ptr_nonnull(m);
    tu_fill_msg(m);
    msgpack_sbuffer buf;
    s_encode(m, &buf);
    fl_error_t err;
    fl_msg_t *back = fl_msg_decode_as(type, buf.data, buf.size, &err);
    ck_assert_msg(back != NULL, "%s: %s", spec->name, err.message);
    ck_assert_msg(fl_msg_equal(m, back), "%s differs after a round trip", spec->name);
    if (spec->role <= FL_ROLE_EVENT) {          /* top level: found by its own type field */
        fl_msg_t *any = fl_msg_decode(buf.data, buf.size, &err);
        ck_assert_ptr_nonnull(any);
        ck_assert_int_eq(fl_msg_type(any), type);
        fl_msg_destroy(&any);
    }
    /* only required fields set: still round-trips */
    fl_msg_t *bare = fl_msg_new(type);
    tu_fill_msg(bare);
    for (int i = 0; i < spec->nuses; i++)
        if (!spec->uses[i].required)
            fl_msg_unset(bare, spec->uses[i].field);
    msgpack_sbuffer buf2;
    s_encode(bare, &buf2);
    fl_msg_t *bare_back = fl_msg_decode_as(type, buf2.data, buf2.size, &err);
    ck_assert_msg(bare_back != NULL, "%s (required only): %s", spec->name, err.message);
    ck_assert(fl_msg_equal(bare, bare_back));
    msgpack_sbuffer_destroy(&buf);
    msgpack_sbuffer_destroy(&buf2);
    fl_msg_destroy(&m);
    fl_msg_destroy(&back);
    fl_msg_destroy(&bare);
    fl_msg_destroy(&bare_back);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_encode_refuses_missing_required_field)
{
    fl_msg_t *m = fl_msg_new(FL_T_BOOK);
    tu_fill_msg(m);
    fl_msg_unset(m, FL_F_PHONE);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    fl_error_t err;
    ck_assert_int_eq(fl_msg_encode(m, &buf, &err), FL_E_MISSING);
    ck_assert_str_eq(err.field, "phone");
    ck_assert_uint_eq(buf.size, 0);
    /* the same inside a list item, with the item's path */
    fl_msg_t *slots = fl_msg_new(FL_T_SLOT_LIST);
    tu_fill_msg(slots);
    fl_msg_unset(fl_msg_item(slots, FL_F_SLOTS, 1), FL_F_FREE);
    ck_assert_int_eq(fl_msg_encode(slots, &buf, &err), FL_E_MISSING);
    ck_assert_str_eq(err.field, "slots[1].free");
    msgpack_sbuffer_destroy(&buf);
    fl_msg_destroy(&m);
    fl_msg_destroy(&slots);
}
END_TEST

START_TEST(test_setters_refuse_out_of_bounds_values)
{
    fl_msg_t *m = fl_msg_new(FL_T_BOOK);
    ck_assert_int_eq(fl_msg_set_str(m, FL_F_OFFICE, "N"), FL_E_RANGE);          /* too short */
    ck_assert_int_eq(fl_msg_set_str(m, FL_F_OFFICE, "NAIROBI12"), FL_E_TOO_LONG);
    ck_assert_int_eq(fl_msg_set_str(m, FL_F_OFFICE, "nbi"), FL_E_INVALID);       /* lower case */
    ck_assert_int_eq(fl_msg_set_str(m, FL_F_NAME, "bad\nname"), FL_E_INVALID);   /* control char */
    ck_assert_int_eq(fl_msg_set_str(m, FL_F_NAME, "bad \xc3\x28"), FL_E_INVALID); /* broken UTF-8 */
    ck_assert_int_eq(fl_msg_set_str(m, FL_F_NAME, "\xed\xa0\x80"), FL_E_INVALID); /* surrogate */
    ck_assert_int_eq(fl_msg_set_strn(m, FL_F_NAME, "a\0b", 3), FL_E_INVALID);
    ck_assert_int_eq(fl_msg_set_uint(m, FL_F_START, FL_T_MAX_SECONDS + 1), FL_E_RANGE);
    ck_assert(!fl_msg_has(m, FL_F_OFFICE));
    ck_assert(!fl_msg_has(m, FL_F_START));
    ck_assert_int_eq(fl_msg_set_str(m, FL_F_NAME, "Achieng' Otieno-Wafula"), 0);
    ck_assert_str_eq(fl_msg_str(m, FL_F_NAME), "Achieng' Otieno-Wafula");
    fl_msg_destroy(&m);

    fl_msg_t *a = fl_msg_new(FL_T_AVAILABILITY);
    ck_assert_int_eq(fl_msg_set_str(a, FL_F_FROM, "2026-02-29"), FL_E_INVALID);  /* not a leap year */
    ck_assert_int_eq(fl_msg_set_str(a, FL_F_FROM, "2028-02-29"), 0);
    ck_assert_int_eq(fl_msg_set_uint(a, FL_F_DAYS, 0), FL_E_RANGE);
    ck_assert_int_eq(fl_msg_set_uint(a, FL_F_DAYS, 63), FL_E_RANGE);
    fl_msg_destroy(&a);

    fl_msg_t *c = fl_msg_new(FL_T_COUNTER_OPEN);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(fl_msg_add_str(c, FL_F_SERVICE_CODES, "PASSPORT"), 0);
    ck_assert_int_eq(fl_msg_add_str(c, FL_F_SERVICE_CODES, "PASSPORT"), FL_E_TOO_LONG);
    ck_assert_uint_eq(fl_msg_count(c, FL_F_SERVICE_CODES), 64);
    fl_msg_destroy(&c);
}
END_TEST

/* ---- the corpus of malformed input ---- */

/* Encode a JSON text as msgpack: integers >= 0 become unsigned, others signed,
 * reals become float64; so the corpus below stays readable. */
static void
s_pack_json(msgpack_packer *pk, json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(j));
        const char *k; json_t *v;
        json_object_foreach(j, k, v) {
            msgpack_pack_str(pk, strlen(k));
            msgpack_pack_str_body(pk, k, strlen(k));
            s_pack_json(pk, v);
        }
        break;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(j));
        size_t i; json_t *v;
        json_array_foreach(j, i, v) s_pack_json(pk, v);
        break;
    }
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(j));
        msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        if (json_integer_value(j) >= 0) msgpack_pack_uint64(pk, (uint64_t) json_integer_value(j));
        else msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    case JSON_NULL: msgpack_pack_nil(pk); break;
    }
}

static fl_msg_t *
s_decode_json(const char *text, fl_error_t *err)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(j != NULL, "corpus JSON: %s", jerr.text);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    s_pack_json(&pk, j);
    json_decref(j);
    fl_msg_t *m = fl_msg_decode(buf.data, buf.size, err);
    msgpack_sbuffer_destroy(&buf);
    return m;
}

#define BOOK_OK "\"v\":1,\"type\":\"book\",\"rid\":\"r-0000001\",\"office\":\"NBIGPO\",\"service\":\"PASSPORT\"," \
                "\"start\":1796000000,\"id_type\":\"national\",\"id_number\":\"12345678\",\"phone\":\"+254712345678\""

static const struct { const char *name, *hex; int code; } s_bytes_corpus[] = {
    { "empty input",              "",                          FL_E_TRUNCATED },
    { "the 5-byte array bomb",    "dd ff ff ff ff",            FL_E_COUNT },
    { "map bomb",                 "df ff ff ff ff",            FL_E_COUNT },
    { "bomb inside a message",    "82 a1 76 01 a4 74 79 70 65 dd ff ff ff ff", FL_E_COUNT },
    { "str32 of 4 GB",            "81 a1 76 db ff ff ff ff 41", FL_E_COUNT },
    { "bin32 of 4 GB",            "c6 ff ff ff ff 00",         FL_E_COUNT },
    { "array16 longer than input","dc 00 10 01 02 03",         FL_E_COUNT },
    { "map of 2 with 3 bytes",    "82 01 02 03",               FL_E_COUNT },
    { "uint16 cut inside array",  "92 cd 00",                  FL_E_TRUNCATED },
    { "truncated uint32",         "ce 00 01",                  FL_E_TRUNCATED },
    { "truncated str8 header",    "d9",                        FL_E_TRUNCATED },
    { "truncated mid-map",        "82 a1 76 01 a4 74 79",      FL_E_COUNT },
    { "nine nested arrays",       "91 91 91 91 91 91 91 91 91 01", FL_E_DEPTH },
    { "nine nested empty maps",   "91 91 91 91 91 91 91 91 80", FL_E_DEPTH },
    { "reserved byte c1",         "81 a1 76 c1",               FL_E_TYPE },
    { "extension fixext1",        "d4 01 00",                  FL_E_TYPE },
    { "trailing byte",            "80 00",                     FL_E_TRAILING },
    { "two messages glued",       "80 80",                     FL_E_TRAILING },
    { "top level not a map",      "93 01 02 03",               FL_E_TYPE },
    { "top level a string",       "a3 61 62 63",               FL_E_TYPE },
    { "integer key",              "83 a1 76 01 a4 74 79 70 65 a4 76 69 65 77 01 02", FL_E_TYPE },
    { "bin where a string goes",  "82 a1 76 01 a4 74 79 70 65 c4 04 62 6f 6f 6b", FL_E_TYPE },
};

START_TEST(test_corpus_of_malformed_bytes_is_rejected)
{
    const char *name = s_bytes_corpus[_i].name;
    uint8_t buf[256];
    long n = tu_unhex(s_bytes_corpus[_i].hex, buf, sizeof buf);
    ck_assert_int_ge(n, 0);
    fl_error_t err;
    fl_msg_t *m = fl_msg_decode(n ? buf : NULL, (size_t) n, &err);
    ck_assert_msg(m == NULL, "%s: accepted", name);
    ck_assert_msg(err.code == s_bytes_corpus[_i].code, "%s: got %s (%s), want %s", name,
                  fl_error_name(err.code), err.message, fl_error_name(s_bytes_corpus[_i].code));
    ck_assert_msg(err.message[0] != '\0', "%s: no message", name);
}
END_TEST

static const struct { const char *name, *json; int code; const char *field; } s_json_corpus[] = {
    { "valid book is accepted", "{" BOOK_OK ",\"name\":\"Amina Yusuf\"}", FL_OK, "" },
    { "no version",      "{\"type\":\"view\",\"ref\":\"ABCD2345\",\"id_number\":\"1\"}", FL_E_MISSING, "v" },
    { "unknown version", "{\"v\":2,\"type\":\"view\",\"ref\":\"ABCD2345\",\"id_number\":\"1\"}", FL_E_VERSION, "v" },
    { "version 0",       "{\"v\":0,\"type\":\"view\"}", FL_E_VERSION, "v" },
    { "version a string","{\"v\":\"1\",\"type\":\"view\"}", FL_E_TYPE, "v" },
    { "no type",         "{\"v\":1,\"ref\":\"ABCD2345\"}", FL_E_MISSING, "type" },
    { "unknown type",    "{\"v\":1,\"type\":\"drop_tables\"}", FL_E_UNKNOWN, "type" },
    { "record type is not a message", "{\"v\":1,\"type\":\"booking_rec\"}", FL_E_UNKNOWN, "type" },
    { "missing name",    "{" BOOK_OK "}", FL_E_MISSING, "name" },
    { "unknown field",   "{" BOOK_OK ",\"name\":\"A\",\"admin\":true}", FL_E_UNKNOWN, "admin" },
    { "field of another type", "{" BOOK_OK ",\"name\":\"A\",\"counter\":3}", FL_E_UNKNOWN, "counter" },
    { "name is a number","{" BOOK_OK ",\"name\":42}", FL_E_TYPE, "name" },
    { "name is nil",     "{" BOOK_OK ",\"name\":null}", FL_E_TYPE, "name" },
    { "start negative",  "{" BOOK_OK ",\"name\":\"A\",\"start\":-5}", FL_E_DUPLICATE_KEY, "start" },
    { "start a float",   "{\"v\":1,\"type\":\"reschedule\",\"rid\":\"r-0000001\",\"ref\":\"ABCD2345\","
                         "\"id_number\":\"1\",\"start\":1.5}", FL_E_TYPE, "start" },
    { "start negative int", "{\"v\":1,\"type\":\"reschedule\",\"rid\":\"r-0000001\",\"ref\":\"ABCD2345\","
                         "\"id_number\":\"1\",\"start\":-1}", FL_E_TYPE, "start" },
    { "huge name",       "{" BOOK_OK ",\"name\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                         FL_E_TOO_LONG, "name" },
    { "office lower case", "{\"v\":1,\"type\":\"snapshot\",\"office\":\"nbi\"}", FL_E_INVALID, "office" },
    { "office too long", "{\"v\":1,\"type\":\"snapshot\",\"office\":\"NAIROBI12\"}", FL_E_TOO_LONG, "office" },
    { "control char in name", "{" BOOK_OK ",\"name\":\"A\\u0007B\"}", FL_E_INVALID, "name" },
    { "NUL in name",     "{" BOOK_OK ",\"name\":\"A\\u0000B\"}", FL_E_INVALID, "name" },
    { "bad date",        "{\"v\":1,\"type\":\"availability\",\"office\":\"NBI\",\"service\":\"P\","
                         "\"from\":\"2026-13-01\",\"days\":7}", FL_E_INVALID, "from" },
    { "too many days",   "{\"v\":1,\"type\":\"availability\",\"office\":\"NBI\",\"service\":\"P\","
                         "\"from\":\"2026-12-01\",\"days\":400}", FL_E_RANGE, "days" },
    { "list not an array", "{\"v\":1,\"type\":\"counter_open\",\"rid\":\"r-0000001\",\"office\":\"NBI\","
                         "\"counter\":1,\"service_codes\":\"PASSPORT\"}", FL_E_TYPE, "service_codes" },
    { "empty list where one is needed", "{\"v\":1,\"type\":\"counter_open\",\"rid\":\"r-0000001\","
                         "\"office\":\"NBI\",\"counter\":1,\"service_codes\":[]}", FL_E_RANGE, "service_codes" },
    { "wrong entry type in list", "{\"v\":1,\"type\":\"counter_open\",\"rid\":\"r-0000001\","
                         "\"office\":\"NBI\",\"counter\":1,\"service_codes\":[\"ID\",7]}", FL_E_TYPE, "service_codes[1]" },
    { "bad item in a reply list", "{\"v\":1,\"type\":\"slot_list\",\"office\":\"NBI\",\"service\":\"P\","
                         "\"slot_minutes\":15,\"slots\":[{\"start\":1,\"free\":2},{\"start\":\"x\",\"free\":2}]}",
                         FL_E_TYPE, "slots[1].start" },
    { "item missing a field", "{\"v\":1,\"type\":\"slot_list\",\"office\":\"NBI\",\"service\":\"P\","
                         "\"slot_minutes\":15,\"slots\":[{\"start\":1}]}", FL_E_MISSING, "slots[0].free" },
    { "item is not a map", "{\"v\":1,\"type\":\"slot_list\",\"office\":\"NBI\",\"service\":\"P\","
                         "\"slot_minutes\":15,\"slots\":[[1,2]]}", FL_E_TYPE, "slots[0]" },
    /* the decoder builds a path only when it fails: deep and wide ones must
     * still come out whole */
    { "unknown field in an item", "{\"v\":1,\"type\":\"slot_list\",\"office\":\"NBI\",\"service\":\"P\","
                         "\"slot_minutes\":15,\"slots\":[{\"start\":1,\"free\":2},{\"start\":1,\"bogus\":2}]}",
                         FL_E_UNKNOWN, "slots[1].bogus" },
    { "bad field in item 12", "{\"v\":1,\"type\":\"slot_list\",\"office\":\"NBI\",\"service\":\"P\","
                         "\"slot_minutes\":15,\"slots\":[{\"start\":1,\"free\":2},{\"start\":1,\"free\":2},"
                         "{\"start\":1,\"free\":2},{\"start\":1,\"free\":2},{\"start\":1,\"free\":2},"
                         "{\"start\":1,\"free\":2},{\"start\":1,\"free\":2},{\"start\":1,\"free\":2},"
                         "{\"start\":1,\"free\":2},{\"start\":1,\"free\":2},{\"start\":1,\"free\":2},"
                         "{\"start\":1,\"free\":2},{\"start\":1,\"free\":2000}]}",
                         FL_E_RANGE, "slots[12].free" },
    { "control char in an item field", "{\"v\":1,\"type\":\"service_list\",\"office\":\"NBI\","
                         "\"services\":[{\"service\":\"P\",\"prefix\":\"P\",\"name\":\"A\",\"slot_minutes\":15,"
                         "\"capacity\":1,\"service_minutes\":5,\"bring_sw\":\"\\u0001\"}]}",
                         FL_E_INVALID, "services[0].bring_sw" },
    { "counter out of range", "{\"v\":1,\"type\":\"next\",\"rid\":\"r-0000001\",\"office\":\"NBI\","
                         "\"counter\":1000}", FL_E_RANGE, "counter" },
    { "request id too short", "{\"v\":1,\"type\":\"next\",\"rid\":\"r1\",\"office\":\"NBI\","
                         "\"counter\":1}", FL_E_RANGE, "rid" },
    { "mutating request without rid", "{\"v\":1,\"type\":\"next\",\"office\":\"NBI\",\"counter\":1}",
                         FL_E_MISSING, "rid" },
};

START_TEST(test_corpus_of_malformed_messages_is_rejected)
{
    fl_error_t err;
    const char *name = s_json_corpus[_i].name;
    const char *json = s_json_corpus[_i].json;
    /* "start negative" is a duplicate key: JSON objects cannot repeat keys, so
     * that case is built by hand from two start entries. */
    fl_msg_t *m;
    if (strcmp(name, "start negative") == 0) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4);
        msgpack_pack_str_with_body(&pk, "v", 1);     msgpack_pack_uint8(&pk, 1);
        msgpack_pack_str_with_body(&pk, "type", 4);  msgpack_pack_str_with_body(&pk, "snapshot", 8);
        msgpack_pack_str_with_body(&pk, "office", 6); msgpack_pack_str_with_body(&pk, "NBI", 3);
        msgpack_pack_str_with_body(&pk, "office", 6); msgpack_pack_str_with_body(&pk, "MSA", 3);
        m = fl_msg_decode(buf.data, buf.size, &err);
        msgpack_sbuffer_destroy(&buf);
        ck_assert_ptr_null(m);
        ck_assert_int_eq(err.code, FL_E_DUPLICATE_KEY);
        ck_assert_str_eq(err.field, "office");
        return;
    }
    m = s_decode_json(json, &err);
    if (s_json_corpus[_i].code == FL_OK) {
        ck_assert_msg(m != NULL, "%s: %s", name, err.message);
        fl_msg_destroy(&m);
        return;
    }
    ck_assert_msg(m == NULL, "%s: accepted", name);
    ck_assert_msg(err.code == s_json_corpus[_i].code, "%s: got %s (%s), want %s", name,
                  fl_error_name(err.code), err.message, fl_error_name(s_json_corpus[_i].code));
    ck_assert_msg(strcmp(err.field, s_json_corpus[_i].field) == 0, "%s: field '%s', want '%s'",
                  name, err.field, s_json_corpus[_i].field);
    ck_assert_msg(strstr(err.message, s_json_corpus[_i].field) != NULL,
                  "%s: message '%s' does not name the field", name, err.message);
}
END_TEST

START_TEST(test_oversize_message_is_refused_before_parsing)
{
    size_t len = FL_WIRE_MAX_BYTES + 1;
    uint8_t *big = calloc(1, len);
    big[0] = 0xc6;                        /* bin32 that claims exactly the rest */
    big[1] = (uint8_t) ((len - 5) >> 24); big[2] = (uint8_t) ((len - 5) >> 16);
    big[3] = (uint8_t) ((len - 5) >> 8);  big[4] = (uint8_t) (len - 5);
    fl_error_t err;
    ck_assert_ptr_null(fl_msg_decode(big, len, &err));
    ck_assert_int_eq(err.code, FL_E_TOO_LONG);
    free(big);
}
END_TEST

START_TEST(test_mutated_messages_never_crash)
{
    /* Flip, cut and splice bytes of valid encodings; every result must either
     * decode to something that re-encodes, or be refused with a message. */
    uint32_t seed = 12345;
    int accepted = 0, refused = 0;
    for (int t = 0; t < FL_T__COUNT; t++) {
        fl_msg_t *m = fl_msg_new((fl_type_t) t);
        tu_fill_msg(m);
        msgpack_sbuffer buf;
        s_encode(m, &buf);
        for (int round = 0; round < 300; round++) {
            uint8_t copy[4096];
            size_t n = buf.size < sizeof copy ? buf.size : sizeof copy;
            memcpy(copy, buf.data, n);
            int edits = 1 + round % 4;
            for (int e = 0; e < edits; e++) {
                seed = seed * 1103515245 + 12345;
                size_t at = (seed >> 8) % n;
                switch ((seed >> 4) % 4) {
                case 0: copy[at] ^= (uint8_t) (1u << ((seed >> 16) % 8)); break;
                case 1: copy[at] = (uint8_t) (seed >> 16); break;
                case 2: n = at + 1; break;
                default: copy[at] = (uint8_t[]) { 0xdd, 0xdf, 0xdb, 0xc6, 0xff, 0x00 }[(seed >> 16) % 6]; break;
                }
            }
            fl_error_t err;
            fl_msg_t *d = fl_msg_decode_as((fl_type_t) t, copy, n, &err);
            if (d) {
                msgpack_sbuffer again;
                s_encode(d, &again);
                msgpack_sbuffer_destroy(&again);
                fl_msg_destroy(&d);
                accepted++;
            } else {
                ck_assert(err.code != FL_OK && err.message[0]);
                refused++;
            }
        }
        msgpack_sbuffer_destroy(&buf);
        fl_msg_destroy(&m);
    }
    ck_assert_int_gt(refused, 0);
    ck_assert_int_gt(accepted, 0);
}
END_TEST

START_TEST(test_mutating_requests_require_a_request_id)
{
    for (int t = 0; t < FL_T__COUNT; t++) {
        const fl_type_spec_t *spec = fl_schema_type((fl_type_t) t);
        if (spec->role != FL_ROLE_REQUEST || !fl_schema_is_mutating((fl_type_t) t))
            continue;
        int i = fl_schema_use_index((fl_type_t) t, FL_F_RID);
        ck_assert_msg(spec->uses[i].required, "%s: rid must be required", spec->name);
    }
    ck_assert(fl_schema_is_mutating(FL_T_BOOK));
    ck_assert(fl_schema_is_mutating(FL_T_NEXT));
    ck_assert(!fl_schema_is_mutating(FL_T_VIEW));
    ck_assert(!fl_schema_is_mutating(FL_T_SNAPSHOT));
}
END_TEST

START_TEST(test_every_type_is_documented_in_protocol_md)
{
    FILE *f = fopen("docs/protocol.md", "r");
    ck_assert_msg(f != NULL, "docs/protocol.md must exist (tests run from the repo root)");
    static char text[256 * 1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    for (int t = 0; t < FL_T__COUNT; t++) {
        char needle[64];
        snprintf(needle, sizeof needle, "`%s`", fl_schema_type((fl_type_t) t)->name);
        ck_assert_msg(strstr(text, needle) != NULL, "docs/protocol.md does not describe %s", needle);
    }
}
END_TEST

/* fl_msg_encode_scratch gives the bytes fl_msg_encode gives, in one buffer per
 * thread that is reused (the pointer stays while no message outgrows it), and
 * decoding through the reused zone gives the same messages, big after small
 * and small after big. */
START_TEST(test_scratch_encoding_and_zone_reuse)
{
    for (int round = 0; round < 3; round++) {
        for (int t = 1; t < FL_T__COUNT; t++) {
            fl_msg_t *m = fl_msg_new((fl_type_t) t);
            ck_assert_ptr_nonnull(m);
            tu_fill_msg(m);
            msgpack_sbuffer own;
            s_encode(m, &own);
            const void *data;
            size_t len;
            fl_error_t err;
            ck_assert_int_eq(fl_msg_encode_scratch(m, &data, &len, &err), 0);
            ck_assert_uint_eq(len, own.size);
            ck_assert(memcmp(data, own.data, len) == 0);
            const void *again;
            size_t len2;
            ck_assert_int_eq(fl_msg_encode_scratch(m, &again, &len2, &err), 0);
            if (!FL_ASAN)                       /* sanitizer builds make a new one each time */
                ck_assert_ptr_eq(again, data);  /* the same buffer, not a new one */
            fl_msg_t *back = fl_msg_decode_as((fl_type_t) t, own.data, own.size, &err);
            ck_assert_msg(back && fl_msg_equal(m, back), "%s: %s", fl_schema_type((fl_type_t) t)->name,
                          back ? "differs" : err.message);
            fl_msg_destroy(&back);
            fl_msg_destroy(&m);
            msgpack_sbuffer_destroy(&own);
        }
    }
    /* a big message (a zone of many chunks, a grown buffer), then a small one */
    fl_msg_t *big = fl_msg_new(FL_T_OFFICE_LIST);
    ck_assert_ptr_nonnull(big);
    for (int i = 0; i < 2000; i++) {
        fl_msg_t *o = fl_msg_add_item(big, FL_F_OFFICES);
        ck_assert_ptr_nonnull(o);
        tu_fill_msg(o);
    }
    const void *data;
    size_t len;
    fl_error_t err;
    ck_assert_int_eq(fl_msg_encode_scratch(big, &data, &len, &err), 0);
    ck_assert_uint_gt(len, 64 * 1024);
    fl_msg_t *back = fl_msg_decode(data, len, &err);
    ck_assert_msg(back && fl_msg_equal(big, back), "the big message: %s", back ? "differs" : err.message);
    ck_assert_uint_eq(fl_msg_count(back, FL_F_OFFICES), 2000);
    fl_msg_destroy(&back);
    fl_msg_t *m = fl_msg_new(FL_T_LIST_OFFICES);
    ck_assert_int_eq(fl_msg_encode_scratch(m, &data, &len, &err), 0);
    back = fl_msg_decode(data, len, &err);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(fl_msg_type(back), FL_T_LIST_OFFICES);
    fl_msg_destroy(&back);
    fl_msg_destroy(&big);
    fl_msg_destroy(&m);
}
END_TEST

/* Every thread has scratch memory of its own: threads encoding and decoding
 * at the same time never see each other's bytes, nor the same buffer. */
#define SCRATCH_THREADS 6
static pthread_barrier_t s_barrier;

static void *
s_scratch_worker(void *arg)
{
    intptr_t id = (intptr_t) arg;
    char office[16];
    snprintf(office, sizeof office, "OFF%d", (int) id);
    const void *last = NULL;                   /* the buffer in use now: live until the thread ends */
    pthread_barrier_wait(&s_barrier);          /* all alive at once */
    for (int i = 0; i < 500; i++) {
        fl_msg_t *m = fl_msg_new(FL_T_LIST_SERVICES);
        if (!m)
            return (void *) 1;
        fl_msg_set_str(m, FL_F_OFFICE, office);
        const void *data;
        size_t len;
        if (fl_msg_encode_scratch(m, &data, &len, NULL) != 0) {
            fl_msg_destroy(&m);
            return (void *) 2;
        }
        last = data;
        fl_msg_t *back = fl_msg_decode(data, len, NULL);
        bool same = back && fl_msg_str(back, FL_F_OFFICE) && !strcmp(fl_msg_str(back, FL_F_OFFICE), office);
        fl_msg_destroy(&back);
        fl_msg_destroy(&m);
        if (!same)
            return (void *) 3;
    }
    pthread_barrier_wait(&s_barrier);          /* nobody has ended yet: buffers all live */
    return (void *) last;
}

START_TEST(test_scratch_is_per_thread)
{
    pthread_t th[SCRATCH_THREADS];
    ck_assert_int_eq(pthread_barrier_init(&s_barrier, NULL, SCRATCH_THREADS), 0);
    for (intptr_t i = 0; i < SCRATCH_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, s_scratch_worker, (void *) i), 0);
    void *buffers[SCRATCH_THREADS];
    for (int i = 0; i < SCRATCH_THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], &buffers[i]), 0);
        ck_assert_msg((uintptr_t) buffers[i] > 3, "thread %d failed (%p)", i, buffers[i]);
    }
    for (int i = 0; i < SCRATCH_THREADS; i++)
        for (int j = i + 1; j < SCRATCH_THREADS; j++)
            ck_assert_ptr_ne(buffers[i], buffers[j]);
    pthread_barrier_destroy(&s_barrier);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("msg");
    TCase *tc = tcase_create("codec");
    tcase_add_loop_test(tc, test_every_type_round_trips, 0, FL_T__COUNT);
    tcase_add_test(tc, test_encode_refuses_missing_required_field);
    tcase_add_test(tc, test_setters_refuse_out_of_bounds_values);
    tcase_add_test(tc, test_mutating_requests_require_a_request_id);
    tcase_add_test(tc, test_every_type_is_documented_in_protocol_md);
    tcase_add_test(tc, test_scratch_encoding_and_zone_reuse);
    tcase_add_test(tc, test_scratch_is_per_thread);
    suite_add_tcase(s, tc);
    TCase *v = tcase_create("validator");
    tcase_add_loop_test(v, test_corpus_of_malformed_bytes_is_rejected, 0,
                        sizeof s_bytes_corpus / sizeof s_bytes_corpus[0]);
    tcase_add_loop_test(v, test_corpus_of_malformed_messages_is_rejected, 0,
                        sizeof s_json_corpus / sizeof s_json_corpus[0]);
    tcase_add_test(v, test_oversize_message_is_refused_before_parsing);
    tcase_add_test(v, test_mutated_messages_never_crash);
    tcase_set_timeout(v, 60);
    suite_add_tcase(s, v);
    return s;
}
