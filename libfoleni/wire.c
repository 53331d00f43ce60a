/*  wire.c — the allocation-free msgpack shape walker.  See wire.h for why.
 *
 *  The walker keeps, per open container, how many values it still owes; a
 *  header is read, its length checked against the bytes left, and either the
 *  payload is skipped or a new container level is pushed.  Depth is bounded, so
 *  the stack is a small fixed array and nothing is allocated.
 */
#include "libfoleni/wire.h"

#include <inttypes.h>

/* Values still owed by each open container. */
typedef struct {
    uint64_t owed[FL_WIRE_MAX_DEPTH + 1];
    int depth;
} walk_t;

static uint64_t
s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Bytes of header that follow the first byte, and the kind of payload. */
enum { PAY_NONE, PAY_BYTES, PAY_ARRAY, PAY_MAP, PAY_EXT };

static int
s_classify(uint8_t b, int *extra, int *pay, uint64_t *fixed)
{
    *extra = 0; *pay = PAY_NONE; *fixed = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;                                  /* fixint, nil, bool */
    if ((b & 0xf0) == 0x80) { *pay = PAY_MAP;   *fixed = b & 0x0f; return 0; }
    if ((b & 0xf0) == 0x90) { *pay = PAY_ARRAY; *fixed = b & 0x0f; return 0; }
    if ((b & 0xe0) == 0xa0) { *pay = PAY_BYTES; *fixed = b & 0x1f; return 0; }
    switch (b) {
    case 0xc4: case 0xd9: *extra = 1; *pay = PAY_BYTES; return 0;   /* bin8, str8 */
    case 0xc5: case 0xda: *extra = 2; *pay = PAY_BYTES; return 0;
    case 0xc6: case 0xdb: *extra = 4; *pay = PAY_BYTES; return 0;
    case 0xca: *fixed = 4; *pay = PAY_NONE; *extra = -1; return 0;  /* float32 */
    case 0xcb: *fixed = 8; *extra = -1; return 0;                   /* float64 */
    case 0xcc: case 0xd0: *fixed = 1; *extra = -1; return 0;
    case 0xcd: case 0xd1: *fixed = 2; *extra = -1; return 0;
    case 0xce: case 0xd2: *fixed = 4; *extra = -1; return 0;
    case 0xcf: case 0xd3: *fixed = 8; *extra = -1; return 0;
    case 0xdc: *extra = 2; *pay = PAY_ARRAY; return 0;
    case 0xdd: *extra = 4; *pay = PAY_ARRAY; return 0;
    case 0xde: *extra = 2; *pay = PAY_MAP; return 0;
    case 0xdf: *extra = 4; *pay = PAY_MAP; return 0;
    default:   *pay = PAY_EXT; return 0;           /* c7-c9, d4-d8: extensions */
    }
}

int
fl_wire_check(const uint8_t *buf, size_t len, fl_error_t *err)
{
    if (len > FL_WIRE_MAX_BYTES)
        return fl_error_set(err, FL_E_TOO_LONG, "", "message of %zu bytes is over the %u-byte limit",
                            len, FL_WIRE_MAX_BYTES);
    if (len == 0)
        return fl_error_set(err, FL_E_TRUNCATED, "", "empty message");

    walk_t w = { .depth = 0 };
    w.owed[0] = 1;                      /* the one top-level value */
    size_t pos = 0;

    while (w.depth > 0 || w.owed[0] > 0) {
        if (w.owed[w.depth] == 0) {     /* container complete: pop */
            w.depth--;
            continue;
        }
        if (pos >= len)
            return fl_error_set(err, FL_E_TRUNCATED, "", "message ends at byte %zu inside a value", pos);
        uint8_t b = buf[pos];
        if (b == 0xc1)
            return fl_error_set(err, FL_E_TYPE, "", "reserved byte 0xc1 at byte %zu", pos);
        int extra, pay;
        uint64_t n;
        s_classify(b, &extra, &pay, &n);
        if (pay == PAY_EXT)
            return fl_error_set(err, FL_E_TYPE, "", "extension type 0x%02x at byte %zu is not used by Foleni", b, pos);
        size_t at = pos++;
        size_t left = len - pos;
        if (extra < 0) {                            /* fixed-size scalar: n bytes follow */
            if (n > left)
                return fl_error_set(err, FL_E_TRUNCATED, "", "number at byte %zu is cut short", at);
            pos += n;
            n = 0;
        } else if (extra > 0) {
            if ((size_t) extra > left)
                return fl_error_set(err, FL_E_TRUNCATED, "", "header at byte %zu is cut short", at);
            n = s_be(buf + pos, extra);
            pos += extra;
            left -= extra;
        }
        w.owed[w.depth]--;
        if (pay == PAY_BYTES) {
            if (n > left)
                return fl_error_set(err, FL_E_COUNT, "",
                                    "length %" PRIu64 " at byte %zu is larger than the %zu bytes left", n, at, left);
            pos += n;
        } else if (pay == PAY_ARRAY || pay == PAY_MAP) {
            uint64_t values = pay == PAY_MAP ? 2 * n : n;
            if (values > left)
                return fl_error_set(err, FL_E_COUNT, "",
                                    "%s of %" PRIu64 " at byte %zu is larger than the %zu bytes left",
                                    pay == PAY_MAP ? "map" : "array", n, at, left);
            if (values > 0) {
                if (w.depth + 1 > FL_WIRE_MAX_DEPTH)
                    return fl_error_set(err, FL_E_DEPTH, "", "nesting deeper than %d at byte %zu",
                                        FL_WIRE_MAX_DEPTH, at);
                w.owed[++w.depth] = values;
            } else if (w.depth + 1 > FL_WIRE_MAX_DEPTH)
                return fl_error_set(err, FL_E_DEPTH, "", "nesting deeper than %d at byte %zu",
                                    FL_WIRE_MAX_DEPTH, at);
        }
    }
    if (pos != len)
        return fl_error_set(err, FL_E_TRAILING, "", "%zu bytes after the end of the message", len - pos);
    return 0;
}
