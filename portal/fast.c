/*  fast.c — the booking rush's common case without a JSON tree.
 *
 *  Parsing a body into a Jansson tree and converting it to a message, and
 *  converting a reply to a tree and printing it, took about half of the
 *  portal's instructions per booking.  These two shortcuts do the same work
 *  directly, for the inputs they fully understand:
 *
 *    - fast_flat_parse: a request body that is one flat JSON object of plain
 *      ASCII strings (no escapes) and non-negative integers, with no key twice;
 *    - fast_reply_json: any reply message, printed exactly as
 *      json_dumps(fl_msg_to_json(m), JSON_COMPACT) prints it.
 *
 *  Anything else (escapes, non-ASCII text, nested values, any error) makes
 *  them decline, and the caller takes the general path, so every answer —
 *  above all every error message — stays what the general path gives.
 */
#include "portal/internal.h"

#include <string.h>

#include "libfoleni/ids.h"

/* ---- parsing ---- */

static const char *
s_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A plain string at p (after its opening quote): printable ASCII up to the
 * closing quote; NULL for anything else (escapes, control or non-ASCII bytes). */
static const char *
s_plain_string(const char *p, const char *end, const char **start, size_t *len)
{
    *start = p;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char) *p;
        if (c < 0x20 || c > 0x7e || c == '\\')
            return NULL;
        p++;
    }
    if (p >= end)
        return NULL;
    *len = (size_t) (p - *start);
    return p + 1;
}

int
fast_flat_parse(const char *text, size_t len, fast_member_t *out, int cap)
{
    const char *p = text, *end = text + len;
    int n = 0;
    p = s_space(p, end);
    if (p >= end || *p++ != '{')
        return -1;
    p = s_space(p, end);
    if (p < end && *p == '}')
        return s_space(p + 1, end) == end ? 0 : -1;
    for (;;) {
        if (n >= cap || p >= end || *p++ != '"')
            return -1;
        fast_member_t *m = &out[n];
        if (!(p = s_plain_string(p, end, &m->key, &m->key_len)))
            return -1;
        for (int i = 0; i < n; i++)         /* a repeated key: the general path refuses it */
            if (out[i].key_len == m->key_len && !memcmp(out[i].key, m->key, m->key_len))
                return -1;
        p = s_space(p, end);
        if (p >= end || *p++ != ':')
            return -1;
        p = s_space(p, end);
        if (p >= end)
            return -1;
        if (*p == '"') {
            m->is_string = true;
            if (!(p = s_plain_string(p + 1, end, &m->str, &m->str_len)))
                return -1;
        }
        else if (*p >= '0' && *p <= '9') {
            /* JSON's integers: no leading zero; at most 18 digits, so it fits */
            const char *digits = p;
            uint64_t v = 0;
            while (p < end && *p >= '0' && *p <= '9')
                v = v * 10 + (uint64_t) (*p++ - '0');
            size_t nd = (size_t) (p - digits);
            if (nd > 18 || (nd > 1 && *digits == '0'))
                return -1;
            if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
                return -1;                  /* a real: the general path says what is wrong */
            m->is_string = false;
            m->num = v;
        }
        else
            return -1;
        n++;
        p = s_space(p, end);
        if (p >= end)
            return -1;
        if (*p == '}')
            return s_space(p + 1, end) == end ? n : -1;
        if (*p++ != ',')
            return -1;
        p = s_space(p, end);
    }
}

/* ---- printing ---- */

typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} s_buf_t;

static void
s_put(s_buf_t *b, const char *text, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void
s_puts(s_buf_t *b, const char *text)
{
    s_put(b, text, strlen(text));
}

/* Length of the UTF-8 sequence at p (at most n bytes), 0 when it is not valid
 * UTF-8 (overlong, surrogate, beyond U+10FFFF or cut short): Jansson refuses
 * such a string, and so the general path answers it. */
static size_t
s_utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    else if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* A JSON string as Jansson prints it without flags: quote, backslash and the
 * control characters escaped, everything else as it is. */
static bool
s_string(s_buf_t *b, const char *text)
{
    const unsigned char *p = (const unsigned char *) text;
    s_put(b, "\"", 1);
    const unsigned char *run = p;           /* bytes copied as they are, not yet written */
    for (;;) {
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;                            /* the common case: plain ASCII */
        unsigned char c = *p;
        if (!c)
            break;
        if (c >= 0x80) {
            size_t len = s_utf8_len(p, strnlen((const char *) p, 4));
            if (!len)
                return false;
            p += len;
            continue;
        }
        s_put(b, (const char *) run, (size_t) (p - run));
        char seq[8];
        const char *esc = seq;
        switch (c) {
        case '"':  esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:   snprintf(seq, sizeof seq, "\\u%04X", c); break;
        }
        s_puts(b, esc);
        run = ++p;
    }
    s_put(b, (const char *) run, (size_t) (p - run));
    s_put(b, "\"", 1);
    return true;
}

/* A whole number as "%lld" prints it. */
static void
s_number(s_buf_t *b, long long v)
{
    char digits[24];
    char *p = digits + sizeof digits;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long) v : (unsigned long long) v;
    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    s_put(b, p, (size_t) (digits + sizeof digits - p));
}

/* A member's key: the schema's names are plain ASCII, nothing to escape. */
static bool
s_key(s_buf_t *b, bool *first, const char *name)
{
    s_put(b, *first ? "\"" : ",\"", *first ? 1 : 2);
    *first = false;
    s_puts(b, name);
    s_put(b, "\":", 2);
    return true;
}

/* The members of message m, as fl_msg_to_json makes them (less "type" at the
 * top and the fields routes_reply takes away). */
static bool
s_members(s_buf_t *b, const fl_msg_t *m, bool top, bool *first)
{
    const fl_type_spec_t *spec = fl_schema_type(fl_msg_type(m));
    if (!top && spec->role <= FL_ROLE_EVENT) {
        if (!s_key(b, first, "type") || !s_string(b, spec->name))
            return false;
    }
    for (int i = 0; i < spec->nuses; i++) {
        fl_field_t f = spec->uses[i].field;
        if (!fl_msg_has(m, f))
            continue;
        if (top && fl_msg_type(m) == FL_T_SERVICE_LIST && f == FL_F_COUNTERS)
            continue;                       /* the public does not need counters */
        const fl_field_spec_t *fs = fl_schema_field(f);
        if (!s_key(b, first, fs->name))
            return false;
        switch (fs->kind) {
        case FL_K_UINT:
            s_number(b, (long long) fl_msg_uint(m, f));
            break;
        case FL_K_BOOL:
            s_puts(b, fl_msg_bool(m, f) ? "true" : "false");
            break;
        case FL_K_STR:
            if (!s_string(b, fl_msg_str(m, f)))
                return false;
            break;
        case FL_K_BIN: {
            size_t n;
            const uint8_t *p = fl_msg_bin(m, f, &n);
            static const char hex[] = "0123456789abcdef";
            s_put(b, "\"", 1);
            for (size_t k = 0; k < n; k++) {
                char two[2] = { hex[p[k] >> 4], hex[p[k] & 15] };
                s_put(b, two, 2);
            }
            s_put(b, "\"", 1);
            break;
        }
        case FL_K_STRS:
            s_put(b, "[", 1);
            for (size_t k = 0; k < fl_msg_count(m, f); k++) {
                if (k)
                    s_put(b, ",", 1);
                if (!s_string(b, fl_msg_str_at(m, f, k)))
                    return false;
            }
            s_put(b, "]", 1);
            break;
        case FL_K_LIST:
            s_put(b, "[", 1);
            for (size_t k = 0; k < fl_msg_count(m, f); k++) {
                if (k)
                    s_put(b, ",", 1);
                bool item_first = true;
                s_put(b, "{", 1);
                if (!s_members(b, fl_msg_item(m, f, k), false, &item_first))
                    return false;
                s_put(b, "}", 1);
            }
            s_put(b, "]", 1);
            break;
        }
    }
    return true;
}

char *
fast_reply_json(const fl_msg_t *reply, size_t *len)
{
    s_buf_t b = { 0 };
    bool first = true;
    s_put(&b, "{", 1);
    bool ok = s_members(&b, reply, true, &first);
    if (ok && fl_msg_type(reply) == FL_T_BOOKING && fl_ref_valid(fl_msg_str(reply, FL_F_REF))) {
        char display[FL_REF_DISPLAY_LEN + 1];
        fl_ref_display(fl_msg_str(reply, FL_F_REF), display);
        ok = s_key(&b, &first, "ref_display") && s_string(&b, display);
    }
    s_put(&b, "}", 1);
    if (!ok || b.failed) {
        free(b.data);
        return NULL;
    }
    *len = b.len;
    return b.data;
}
