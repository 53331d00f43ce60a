/*  msg.c — the schema-driven message codec.  See msg.h for the contract.
 *
 *  A message keeps one value slot per field its type takes (in the type's
 *  declared order), all carved from the root's arena.  Every value enters
 *  through s_check_*(), whether a setter or the decoder puts it there, so the
 *  bounds are enforced in exactly one place.
 */
#include "libfoleni/msg.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "libfoleni/arena.h"
#include "libfoleni/sanitize.h"
#include "libfoleni/wire.h"

/*  Where in a message a value sits, as a chain of frames on the C stack:
 *  each frame is a field name or a list index and points at its parent.
 *  Nothing is formatted while all is well; only an error turns the chain into
 *  text such as "slots[3].start" (s_path_text).  Formatting the path for every
 *  field of every message cost about a third of a decode. */
typedef struct path {
    const struct path *up;
    const char *name;               /* a field name (nlen bytes), or NULL for an index */
    size_t nlen;
    uint32_t index;
} path_t;

/* Write the path into out (FL_ERROR_FIELD_MAX bytes), cutting at its end;
 * returns the length written. */
static size_t
s_path_text(const path_t *p, char *out)
{
    if (!p) {
        out[0] = '\0';
        return 0;
    }
    size_t n = s_path_text(p->up, out);
    int w;
    if (p->name)
        w = snprintf(out + n, FL_ERROR_FIELD_MAX - n, "%s%.*s", n ? "." : "", (int) p->nlen, p->name);
    else
        w = snprintf(out + n, FL_ERROR_FIELD_MAX - n, "[%u]", p->index);
    n += w > 0 ? (size_t) w : 0;
    return n < FL_ERROR_FIELD_MAX ? n : FL_ERROR_FIELD_MAX - 1;
}

/* Fill err with code, the path as its field and "path: message" (or just the
 * message at the top, where the path is empty); returns code.  Does nothing
 * but return code when err is NULL (the setters need no text). */
static int s_fail(fl_error_t *err, int code, const path_t *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_fail(fl_error_t *err, int code, const path_t *path, const char *fmt, ...)
{
    if (!err)
        return code;
    char where[FL_ERROR_FIELD_MAX], what[FL_ERROR_MESSAGE_MAX];
    s_path_text(path, where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fl_error_set(err, code, where, "%s%s%s", where, *where ? ": " : "", what);
}

typedef struct {
    bool set;
    union {
        uint64_t u;
        bool b;
        struct { char *p; uint32_t n; } s;          /* text (NUL-terminated) or bytes */
        struct { void **v; uint32_t n, cap; } list; /* char * or fl_msg_t * */
    };
} value_t;

struct fl_msg {
    fl_type_t type;
    const fl_type_spec_t *spec;
    fl_arena_t *arena;
    bool root;
    value_t values[];
};

/* ---- construction ---- */

static fl_msg_t *
s_alloc(fl_arena_t *arena, fl_type_t type, bool root)
{
    const fl_type_spec_t *spec = fl_schema_type(type);
    fl_msg_t *self = fl_arena_alloc(arena, sizeof(fl_msg_t) + spec->nuses * sizeof(value_t));
    if (self) {
        self->type = type;
        self->spec = spec;
        self->arena = arena;
        self->root = root;
    }
    return self;
}

fl_msg_t *
fl_msg_new(fl_type_t type)
{
    fl_arena_t *arena = fl_arena_new();
    if (!arena)
        return NULL;
    fl_msg_t *self = s_alloc(arena, type, true);
    if (!self)
        fl_arena_destroy(&arena);
    return self;
}

void
fl_msg_destroy(fl_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    assert((*self_p)->root);
    fl_arena_t *arena = (*self_p)->arena;
    fl_arena_destroy(&arena);           /* the message itself lives in it */
    *self_p = NULL;
}

fl_type_t
fl_msg_type(const fl_msg_t *self)
{
    assert(self);
    return self->type;
}

bool
fl_msg_takes(const fl_msg_t *self, fl_field_t field)
{
    return fl_schema_use_index(self->type, field) >= 0;
}

/* The value slot of a field, asserting the type takes it and it is of kind. */
static value_t *
s_slot(const fl_msg_t *self, fl_field_t field, fl_kind_t kind)
{
    assert(self);
    int i = fl_schema_use_index(self->type, field);
    assert(i >= 0 && "this message type does not take this field");
    assert(fl_schema_field(field)->kind == kind && "field accessed as the wrong kind");
    (void) kind;
    return (value_t *) &self->values[i];
}

bool
fl_msg_has(const fl_msg_t *self, fl_field_t field)
{
    int i = fl_schema_use_index(self->type, field);
    assert(i >= 0);
    return self->values[i].set;
}

/* ---- value checks, shared by setters and the decoder ---- */

/* Length of the UTF-8 sequence at p (1..4), or 0 when invalid. */
static int
s_utf8_char(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    int n; unsigned min;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; c &= 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; c &= 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if ((size_t) n > left) return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    return n;
}

static bool
s_is_date(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return false;
    int max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    return d <= max;
}

static const char *
s_format_name(fl_format_t f)
{
    switch (f) {
    case FL_FMT_ASCII: return "printable ASCII without spaces";
    case FL_FMT_CODE:  return "capital letters and digits";
    case FL_FMT_WORD:  return "lower-case letters, digits and '_'";
    case FL_FMT_DATE:  return "a date YYYY-MM-DD";
    default:           return "UTF-8 text without control characters";
    }
}

static int
s_check_text(uint64_t lo, uint64_t hi, fl_format_t format, const char *text, size_t len,
             const path_t *path, fl_error_t *err)
{
    if (len > hi)
        return s_fail(err, FL_E_TOO_LONG, path, "%zu bytes, at most %llu allowed",
                      len, (unsigned long long) hi);
    if (len < lo)
        return s_fail(err, FL_E_RANGE, path, "%zu bytes, at least %llu needed",
                      len, (unsigned long long) lo);
    const unsigned char *p = (const unsigned char *) text;
    for (size_t i = 0; i < len;) {
        /* plain ASCII runs are checked a byte at a time with one comparison
         * per format; only bytes >= 0x80 need the UTF-8 decoder */
        unsigned c = p[i];
        bool ok;
        switch (format) {
        case FL_FMT_ASCII: ok = c > 0x20 && c < 0x7f; break;
        case FL_FMT_CODE:  ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); break;
        case FL_FMT_WORD:  ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; break;
        case FL_FMT_DATE:  ok = (c >= '0' && c <= '9') || c == '-'; break;
        default:
            while (i < len && p[i] >= 0x20 && p[i] < 0x7f)
                i++;
            if (i == len)
                continue;
            c = p[i];
            ok = c >= 0x20 && c != 0x7f;
            break;
        }
        int step = 1;
        if (ok && c >= 0x80) {
            step = s_utf8_char(p + i, len - i);
            ok = step > 0;
        }
        if (!ok)
            return s_fail(err, FL_E_INVALID, path, "must be %s (bad byte at %zu)",
                          s_format_name(format), i);
        i += step;
    }
    if (format == FL_FMT_DATE && !s_is_date(text, len))
        return s_fail(err, FL_E_INVALID, path, "not a real date YYYY-MM-DD");
    return 0;
}

static int
s_check_uint(const fl_field_spec_t *spec, uint64_t v, const path_t *path, fl_error_t *err)
{
    if (v < spec->lo || v > spec->hi)
        return s_fail(err, FL_E_RANGE, path, "%llu is outside %llu..%llu",
                      (unsigned long long) v, (unsigned long long) spec->lo,
                      (unsigned long long) spec->hi);
    return 0;
}

/* ---- setters ---- */

int
fl_msg_set_uint(fl_msg_t *self, fl_field_t field, uint64_t value)
{
    value_t *v = s_slot(self, field, FL_K_UINT);
    const fl_field_spec_t *spec = fl_schema_field(field);
    int rc = s_check_uint(spec, value, NULL, NULL);
    if (rc == 0) {
        v->u = value;
        v->set = true;
    }
    return rc;
}

int
fl_msg_set_bool(fl_msg_t *self, fl_field_t field, bool value)
{
    value_t *v = s_slot(self, field, FL_K_BOOL);
    v->b = value;
    v->set = true;
    return 0;
}

int
fl_msg_set_strn(fl_msg_t *self, fl_field_t field, const char *text, size_t len)
{
    value_t *v = s_slot(self, field, FL_K_STR);
    const fl_field_spec_t *spec = fl_schema_field(field);
    if (memchr(text, '\0', len))
        return FL_E_INVALID;
    int rc = s_check_text(spec->lo, spec->hi, spec->format, text, len, NULL, NULL);
    if (rc)
        return rc;
    char *copy = fl_arena_strndup(self->arena, text, len);
    if (!copy)
        return FL_E_NOMEM;
    v->s.p = copy;
    v->s.n = (uint32_t) len;
    v->set = true;
    return 0;
}

int
fl_msg_set_str(fl_msg_t *self, fl_field_t field, const char *text)
{
    assert(text);
    return fl_msg_set_strn(self, field, text, strlen(text));
}

int
fl_msg_set_bin(fl_msg_t *self, fl_field_t field, const void *data, size_t len)
{
    value_t *v = s_slot(self, field, FL_K_BIN);
    const fl_field_spec_t *spec = fl_schema_field(field);
    if (len > spec->hi)
        return FL_E_TOO_LONG;
    if (len < spec->lo)
        return FL_E_RANGE;
    char *copy = fl_arena_alloc(self->arena, len ? len : 1);
    if (!copy)
        return FL_E_NOMEM;
    if (len)
        memcpy(copy, data, len);
    v->s.p = copy;
    v->s.n = (uint32_t) len;
    v->set = true;
    return 0;
}

/* Make room for one more entry in a list value. */
static int
s_list_grow(fl_msg_t *self, value_t *v, uint64_t max)
{
    if (v->list.n >= max)
        return FL_E_TOO_LONG;
    if (v->list.n == v->list.cap) {
        uint32_t cap = v->list.cap ? v->list.cap * 2 : 4;
        if (cap > max)
            cap = (uint32_t) max;
        void **grown = fl_arena_alloc(self->arena, cap * sizeof(void *));
        if (!grown)
            return FL_E_NOMEM;
        if (v->list.n)
            memcpy(grown, v->list.v, v->list.n * sizeof(void *));
        v->list.v = grown;          /* the old array stays in the arena until destroy */
        v->list.cap = cap;
    }
    return 0;
}

int
fl_msg_add_str(fl_msg_t *self, fl_field_t field, const char *text)
{
    value_t *v = s_slot(self, field, FL_K_STRS);
    const fl_field_spec_t *spec = fl_schema_field(field);
    size_t len = strlen(text);
    /* each string in a list is text of 1..80 bytes in the field's format */
    int rc = s_check_text(1, 80, spec->format, text, len, NULL, NULL);
    if (rc == 0)
        rc = s_list_grow(self, v, spec->hi);
    if (rc)
        return rc;
    char *copy = fl_arena_strndup(self->arena, text, len);
    if (!copy)
        return FL_E_NOMEM;
    v->list.v[v->list.n++] = copy;
    v->set = true;
    return 0;
}

fl_msg_t *
fl_msg_add_item(fl_msg_t *self, fl_field_t field)
{
    value_t *v = s_slot(self, field, FL_K_LIST);
    const fl_field_spec_t *spec = fl_schema_field(field);
    if (s_list_grow(self, v, spec->hi))
        return NULL;
    fl_msg_t *item = s_alloc(self->arena, spec->item, false);
    if (!item)
        return NULL;
    v->list.v[v->list.n++] = item;
    v->set = true;
    return item;
}

void
fl_msg_set_empty(fl_msg_t *self, fl_field_t field)
{
    int i = fl_schema_use_index(self->type, field);
    assert(i >= 0);
    fl_kind_t kind = fl_schema_field(field)->kind;
    assert(kind == FL_K_LIST || kind == FL_K_STRS);
    (void) kind;
    self->values[i].list.n = 0;
    self->values[i].set = true;
}

void
fl_msg_unset(fl_msg_t *self, fl_field_t field)
{
    int i = fl_schema_use_index(self->type, field);
    assert(i >= 0);
    memset(&self->values[i], 0, sizeof(value_t));
}

/* ---- getters ---- */

uint64_t
fl_msg_uint(const fl_msg_t *self, fl_field_t field)
{
    const value_t *v = s_slot(self, field, FL_K_UINT);
    return v->set ? v->u : 0;
}

bool
fl_msg_bool(const fl_msg_t *self, fl_field_t field)
{
    const value_t *v = s_slot(self, field, FL_K_BOOL);
    return v->set && v->b;
}

const char *
fl_msg_str(const fl_msg_t *self, fl_field_t field)
{
    const value_t *v = s_slot(self, field, FL_K_STR);
    return v->set ? v->s.p : NULL;
}

const void *
fl_msg_bin(const fl_msg_t *self, fl_field_t field, size_t *len)
{
    const value_t *v = s_slot(self, field, FL_K_BIN);
    *len = v->set ? v->s.n : 0;
    return v->set ? v->s.p : NULL;
}

size_t
fl_msg_count(const fl_msg_t *self, fl_field_t field)
{
    int i = fl_schema_use_index(self->type, field);
    assert(i >= 0);
    fl_kind_t kind = fl_schema_field(field)->kind;
    assert(kind == FL_K_LIST || kind == FL_K_STRS);
    (void) kind;
    return self->values[i].list.n;
}

fl_msg_t *
fl_msg_item(const fl_msg_t *self, fl_field_t field, size_t i)
{
    const value_t *v = s_slot(self, field, FL_K_LIST);
    assert(i < v->list.n);
    return v->list.v[i];
}

const char *
fl_msg_str_at(const fl_msg_t *self, fl_field_t field, size_t i)
{
    const value_t *v = s_slot(self, field, FL_K_STRS);
    assert(i < v->list.n);
    return v->list.v[i];
}

/* ---- required fields ---- */

/* A message's required fields and list lengths; with check_items, its
 * items' too (a decoded item has been checked already). */
static int
s_check(const fl_msg_t *self, const path_t *path, bool check_items, fl_error_t *err)
{
    for (int i = 0; i < self->spec->nuses; i++) {
        const fl_use_t *use = &self->spec->uses[i];
        const value_t *v = &self->values[i];
        if (!v->set) {
            if (use->required) {
                const fl_field_spec_t *spec = fl_schema_field(use->field);
                path_t here = { path, spec->name, spec->len, 0 };
                return s_fail(err, FL_E_MISSING, &here, "required by %s but missing", self->spec->name);
            }
            continue;
        }
        const fl_field_spec_t *spec = fl_schema_field(use->field);
        if (spec->kind != FL_K_LIST && spec->kind != FL_K_STRS)
            continue;
        path_t here = { path, spec->name, spec->len, 0 };
        if (v->list.n < spec->lo)
            return s_fail(err, FL_E_RANGE, &here, "%u entries, at least %llu needed",
                          v->list.n, (unsigned long long) spec->lo);
        if (spec->kind == FL_K_LIST && check_items) {
            for (uint32_t k = 0; k < v->list.n; k++) {
                path_t at = { &here, NULL, 0, k };
                int rc = s_check(v->list.v[k], &at, true, err);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

int
fl_msg_check(const fl_msg_t *self, fl_error_t *err)
{
    return s_check(self, NULL, true, err);
}

/* ---- encoding ---- */

static bool
s_top_level(const fl_type_spec_t *spec)
{
    return spec->role == FL_ROLE_REQUEST || spec->role == FL_ROLE_REPLY || spec->role == FL_ROLE_EVENT;
}

static void
s_pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void
s_pack(const fl_msg_t *self, msgpack_packer *pk)
{
    uint32_t n = 0;
    for (int i = 0; i < self->spec->nuses; i++)
        n += self->values[i].set;
    bool top = s_top_level(self->spec);
    msgpack_pack_map(pk, n + (top ? 2 : 0));
    if (top) {
        s_pack_str(pk, "v", 1);
        msgpack_pack_uint64(pk, FL_PROTOCOL_VERSION);
        s_pack_str(pk, "type", 4);
        s_pack_str(pk, self->spec->name, strlen(self->spec->name));
    }
    for (int i = 0; i < self->spec->nuses; i++) {
        const value_t *v = &self->values[i];
        if (!v->set)
            continue;
        const fl_field_spec_t *spec = fl_schema_field(self->spec->uses[i].field);
        s_pack_str(pk, spec->name, strlen(spec->name));
        switch (spec->kind) {
        case FL_K_UINT: msgpack_pack_uint64(pk, v->u); break;
        case FL_K_BOOL: v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        case FL_K_STR:  s_pack_str(pk, v->s.p, v->s.n); break;
        case FL_K_BIN:
            msgpack_pack_bin(pk, v->s.n);
            msgpack_pack_bin_body(pk, v->s.p, v->s.n);
            break;
        case FL_K_STRS:
            msgpack_pack_array(pk, v->list.n);
            for (uint32_t k = 0; k < v->list.n; k++)
                s_pack_str(pk, v->list.v[k], strlen(v->list.v[k]));
            break;
        case FL_K_LIST:
            msgpack_pack_array(pk, v->list.n);
            for (uint32_t k = 0; k < v->list.n; k++)
                s_pack(v->list.v[k], pk);
            break;
        }
    }
}

/* The sbuffer an encoding goes into, and whether it ever failed to grow:
 * msgpack-c's pack functions return the writer's failure, but s_pack would
 * have to check each of them; one flag checked at the end is the same. */
typedef struct {
    msgpack_sbuffer *out;
    bool failed;
} s_sink_t;

static int
s_sink_write(void *data, const char *buf, size_t len)
{
    s_sink_t *sink = data;
    if (!sink->failed && msgpack_sbuffer_write(sink->out, buf, len) != 0)
        sink->failed = true;
    return sink->failed ? -1 : 0;
}

int
fl_msg_encode(const fl_msg_t *self, msgpack_sbuffer *out, fl_error_t *err)
{
    int rc = fl_msg_check(self, err);
    if (rc)
        return rc;
    size_t before = out->size;
    s_sink_t sink = { .out = out };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sink, s_sink_write);
    s_pack(self, &pk);
    if (sink.failed) {                  /* out of memory: never a message cut short */
        out->size = before;
        return fl_error_set(err, FL_E_NOMEM, "", "%s: out of memory while encoding", self->spec->name);
    }
    if (out->size - before > FL_WIRE_MAX_BYTES) {
        out->size = before;
        return fl_error_set(err, FL_E_TOO_LONG, "", "%s: encoded message is over %u bytes",
                            self->spec->name, FL_WIRE_MAX_BYTES);
    }
    return 0;
}

/* This thread's scratch memory: the buffer fl_msg_encode_scratch encodes
 * into, and the zone msgpack-c decodes into.  Each fresh one began with an
 * 8 KiB malloc, large enough to make glibc sweep its fast bins every time
 * (malloc_consolidate): with both per request, that was several per cent of the
 * scheduler's CPU.  Both are freed when the thread ends.  Sanitizer builds
 * make them afresh for each use (sanitize.h), so that a pointer kept past
 * its time is caught. */
#define SCRATCH_KEEP_MAX (64 * 1024)   /* a larger encode buffer is freed at the next use */

static _Thread_local struct {
    bool ready;
    msgpack_sbuffer out;
    msgpack_zone zone;
} tl_scratch;
static pthread_key_t s_scratch_key;
static pthread_once_t s_scratch_once = PTHREAD_ONCE_INIT;
static bool s_scratch_ok;

static void
s_scratch_free(void *flag)
{
    (void) flag;
    if (tl_scratch.ready) {
        msgpack_sbuffer_destroy(&tl_scratch.out);
        msgpack_zone_destroy(&tl_scratch.zone);
        tl_scratch.ready = false;
    }
}

static void
s_scratch_key_make(void)
{
    s_scratch_ok = pthread_key_create(&s_scratch_key, s_scratch_free) == 0;
}

/* This thread's scratch memory, made on first use; false when out of memory. */
static bool
s_scratch(void)
{
    if (tl_scratch.ready)
        return true;
    pthread_once(&s_scratch_once, s_scratch_key_make);
    if (!s_scratch_ok || pthread_setspecific(s_scratch_key, (void *) 1) != 0
        || !msgpack_zone_init(&tl_scratch.zone, MSGPACK_ZONE_CHUNK_SIZE))
        return false;
    msgpack_sbuffer_init(&tl_scratch.out);
    tl_scratch.ready = true;
    return true;
}

int
fl_msg_encode_scratch(const fl_msg_t *self, const void **data, size_t *len, fl_error_t *err)
{
    *data = "";
    *len = 0;
    if (!s_scratch())
        return fl_error_set(err, FL_E_NOMEM, "", "out of memory");
    /* Sanitizer builds free the last bytes, so a stale pointer to them is
     * caught; every build lets go of a buffer grown past what nearly every
     * message needs (one big list, or a message refused as too long, would
     * otherwise keep up to twice FL_WIRE_MAX_BYTES for the thread's life). */
    if (FL_ASAN || tl_scratch.out.alloc > SCRATCH_KEEP_MAX) {
        msgpack_sbuffer_destroy(&tl_scratch.out);
        msgpack_sbuffer_init(&tl_scratch.out);
    }
    tl_scratch.out.size = 0;
    int rc = fl_msg_encode(self, &tl_scratch.out, err);
    if (rc == 0 && tl_scratch.out.data) {
        *data = tl_scratch.out.data;
        *len = tl_scratch.out.size;
    }
    return rc;
}

/* ---- decoding ---- */

static const char *
s_object_kind(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return "an unsigned integer";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "a negative integer";
    case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64: return "a float";
    case MSGPACK_OBJECT_STR: return "a string";
    case MSGPACK_OBJECT_BIN: return "binary";
    case MSGPACK_OBJECT_ARRAY: return "an array";
    case MSGPACK_OBJECT_MAP: return "a map";
    default: return "an extension";
    }
}

static const char *
s_kind_name(fl_kind_t k)
{
    switch (k) {
    case FL_K_UINT: return "an unsigned integer";
    case FL_K_BOOL: return "a boolean";
    case FL_K_STR:  return "a string";
    case FL_K_BIN:  return "binary";
    default:        return "an array";
    }
}

static int s_decode_map(fl_msg_t *self, const msgpack_object *o, const path_t *path, bool top,
                        fl_error_t *err);

static int
s_decode_value(fl_msg_t *self, value_t *v, const fl_field_spec_t *spec, const msgpack_object *o,
               const path_t *path, fl_error_t *err)
{
    bool kind_ok;
    switch (spec->kind) {
    case FL_K_UINT: kind_ok = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER; break;
    case FL_K_BOOL: kind_ok = o->type == MSGPACK_OBJECT_BOOLEAN; break;
    case FL_K_STR:  kind_ok = o->type == MSGPACK_OBJECT_STR; break;
    case FL_K_BIN:  kind_ok = o->type == MSGPACK_OBJECT_BIN; break;
    default:        kind_ok = o->type == MSGPACK_OBJECT_ARRAY; break;
    }
    if (!kind_ok)
        return s_fail(err, FL_E_TYPE, path, "must be %s, not %s", s_kind_name(spec->kind), s_object_kind(o));
    int rc;
    switch (spec->kind) {
    case FL_K_UINT:
        if ((rc = s_check_uint(spec, o->via.u64, path, err)))
            return rc;
        v->u = o->via.u64;
        break;
    case FL_K_BOOL:
        v->b = o->via.boolean;
        break;
    case FL_K_STR:
        if (memchr(o->via.str.ptr, '\0', o->via.str.size))
            return s_fail(err, FL_E_INVALID, path, "contains a NUL byte");
        if ((rc = s_check_text(spec->lo, spec->hi, spec->format, o->via.str.ptr, o->via.str.size, path, err)))
            return rc;
        if (!(v->s.p = fl_arena_strndup(self->arena, o->via.str.ptr, o->via.str.size)))
            return s_fail(err, FL_E_NOMEM, path, "out of memory");
        v->s.n = o->via.str.size;
        break;
    case FL_K_BIN:
        if (o->via.bin.size > spec->hi)
            return s_fail(err, FL_E_TOO_LONG, path, "%u bytes, at most %llu allowed",
                          o->via.bin.size, (unsigned long long) spec->hi);
        if (o->via.bin.size < spec->lo)
            return s_fail(err, FL_E_RANGE, path, "%u bytes, at least %llu needed",
                          o->via.bin.size, (unsigned long long) spec->lo);
        if (!(v->s.p = fl_arena_alloc(self->arena, o->via.bin.size ? o->via.bin.size : 1)))
            return s_fail(err, FL_E_NOMEM, path, "out of memory");
        if (o->via.bin.size)
            memcpy(v->s.p, o->via.bin.ptr, o->via.bin.size);
        v->s.n = o->via.bin.size;
        break;
    case FL_K_STRS:
    case FL_K_LIST: {
        uint32_t n = o->via.array.size;
        if (n > spec->hi)
            return s_fail(err, FL_E_TOO_LONG, path, "%u entries, at most %llu allowed",
                          n, (unsigned long long) spec->hi);
        if (n < spec->lo)
            return s_fail(err, FL_E_RANGE, path, "%u entries, at least %llu needed",
                          n, (unsigned long long) spec->lo);
        v->list.v = fl_arena_alloc(self->arena, (n ? n : 1) * sizeof(void *));
        if (!v->list.v)
            return s_fail(err, FL_E_NOMEM, path, "out of memory");
        v->list.cap = n;
        for (uint32_t k = 0; k < n; k++) {
            const msgpack_object *e = &o->via.array.ptr[k];
            path_t at = { path, NULL, 0, k };
            if (spec->kind == FL_K_STRS) {
                if (e->type != MSGPACK_OBJECT_STR)
                    return s_fail(err, FL_E_TYPE, &at, "must be a string, not %s", s_object_kind(e));
                if (memchr(e->via.str.ptr, '\0', e->via.str.size))
                    return s_fail(err, FL_E_INVALID, &at, "contains a NUL byte");
                if ((rc = s_check_text(1, 80, spec->format, e->via.str.ptr, e->via.str.size, &at, err)))
                    return rc;
                if (!(v->list.v[k] = fl_arena_strndup(self->arena, e->via.str.ptr, e->via.str.size)))
                    return s_fail(err, FL_E_NOMEM, &at, "out of memory");
            } else {
                if (e->type != MSGPACK_OBJECT_MAP)
                    return s_fail(err, FL_E_TYPE, &at, "must be a map, not %s", s_object_kind(e));
                fl_msg_t *item = s_alloc(self->arena, spec->item, false);
                if (!item)
                    return s_fail(err, FL_E_NOMEM, &at, "out of memory");
                if ((rc = s_decode_map(item, e, &at, false, err)))
                    return rc;
                v->list.v[k] = item;
            }
            v->list.n = k + 1;
        }
        break;
    }
    }
    v->set = true;
    return 0;
}

static bool
s_key_is(const msgpack_object *k, const char *name, size_t n)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static int
s_decode_map(fl_msg_t *self, const msgpack_object *o, const path_t *path, bool top, fl_error_t *err)
{
    const msgpack_object_map *map = &o->via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            return s_fail(err, FL_E_TYPE, path, "keys must be strings, not %s", s_object_kind(key));
        if (top && (s_key_is(key, "v", 1) || s_key_is(key, "type", 4)))
            continue;                     /* checked by the caller */
        int use = fl_schema_use_by_name(self->type, key->via.str.ptr, key->via.str.size);
        if (use < 0) {
            char name[40];
            size_t n = key->via.str.size < 32 ? key->via.str.size : 32;
            memcpy(name, key->via.str.ptr, n);
            for (size_t c = 0; c < n; c++)
                if ((unsigned char) name[c] < 0x20 || (unsigned char) name[c] >= 0x7f)
                    name[c] = '?';
            path_t here = { path, name, n, 0 };
            return s_fail(err, FL_E_UNKNOWN, &here, "%s takes no such field", self->spec->name);
        }
        const fl_field_spec_t *spec = fl_schema_field(self->spec->uses[use].field);
        path_t here = { path, spec->name, spec->len, 0 };
        value_t *v = &self->values[use];
        if (v->set)
            return s_fail(err, FL_E_DUPLICATE_KEY, &here, "appears twice");
        int rc = s_decode_value(self, v, spec, &map->ptr[i].val, &here, err);
        if (rc)
            return rc;
    }
    return s_check(self, path, false, err);
}

/* Find `v` and `type` in a top-level map and check them. */
static int
s_envelope(const msgpack_object *o, fl_type_t *type, fl_error_t *err)
{
    const msgpack_object *v = NULL, *t = NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key;
        if (s_key_is(key, "v", 1)) {
            if (v)
                return fl_error_set(err, FL_E_DUPLICATE_KEY, "v", "v: appears twice");
            v = &o->via.map.ptr[i].val;
        } else if (s_key_is(key, "type", 4)) {
            if (t)
                return fl_error_set(err, FL_E_DUPLICATE_KEY, "type", "type: appears twice");
            t = &o->via.map.ptr[i].val;
        }
    }
    if (!v)
        return fl_error_set(err, FL_E_MISSING, "v", "v: the protocol version is missing");
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return fl_error_set(err, FL_E_TYPE, "v", "v: must be an unsigned integer, not %s", s_object_kind(v));
    if (v->via.u64 != FL_PROTOCOL_VERSION)
        return fl_error_set(err, FL_E_VERSION, "v", "v: protocol version %llu is not supported (this build speaks %d)",
                            (unsigned long long) v->via.u64, FL_PROTOCOL_VERSION);
    if (!t)
        return fl_error_set(err, FL_E_MISSING, "type", "type: the message type is missing");
    if (t->type != MSGPACK_OBJECT_STR)
        return fl_error_set(err, FL_E_TYPE, "type", "type: must be a string, not %s", s_object_kind(t));
    *type = fl_schema_type_by_name(t->via.str.ptr, t->via.str.size);
    if (*type == FL_T_NONE)
        return fl_error_set(err, FL_E_UNKNOWN, "type", "type: unknown message type");
    return 0;
}

static fl_msg_t *
s_decode(fl_type_t want, const void *buf, size_t len, fl_error_t *err)
{
    fl_error_t local;
    if (!err)
        err = &local;
    fl_error_clear(err);
    if (fl_wire_check(buf, len, err))
        return NULL;

    if (!s_scratch()) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    /* The objects go into this thread's zone; the message copies what it
     * keeps into its own arena, so the zone is cleared on the way out. */
    msgpack_object obj;
    fl_msg_t *self = NULL;
    size_t off = 0;
    msgpack_unpack_return urc = msgpack_unpack(buf, len, &off, &tl_scratch.zone, &obj);
    if (urc != MSGPACK_UNPACK_SUCCESS && urc != MSGPACK_UNPACK_EXTRA_BYTES) {
        fl_error_set(err, FL_E_INVALID, "", "msgpack-c could not parse the message");
        goto done;
    }
    const msgpack_object *o = &obj;
    if (o->type != MSGPACK_OBJECT_MAP) {
        fl_error_set(err, FL_E_TYPE, "", "a message must be a map, not %s", s_object_kind(o));
        goto done;
    }
    fl_type_t type = want;
    bool top = want == FL_T_NONE || s_top_level(fl_schema_type(want));
    if (top) {
        if (s_envelope(o, &type, err))
            goto done;
        if (want != FL_T_NONE && type != want) {
            fl_error_set(err, FL_E_UNKNOWN, "type", "type: expected %s, got %s",
                         fl_schema_type(want)->name, fl_schema_type(type)->name);
            goto done;
        }
    }
    self = fl_msg_new(type);
    if (!self) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        goto done;
    }
    if (s_decode_map(self, o, NULL, top, err))
        fl_msg_destroy(&self);
done:
    msgpack_zone_clear(&tl_scratch.zone);
    if (FL_ASAN) {                      /* every chunk freed: a stale pointer into it is caught */
        msgpack_zone_destroy(&tl_scratch.zone);
        if (!msgpack_zone_init(&tl_scratch.zone, MSGPACK_ZONE_CHUNK_SIZE)) {
            msgpack_sbuffer_destroy(&tl_scratch.out);
            tl_scratch.ready = false;   /* made again on next use */
        }
    }
    return self;
}

fl_msg_t *
fl_msg_decode(const void *buf, size_t len, fl_error_t *err)
{
    return s_decode(FL_T_NONE, buf, len, err);
}

fl_msg_t *
fl_msg_decode_as(fl_type_t type, const void *buf, size_t len, fl_error_t *err)
{
    assert(type >= 0 && type < FL_T__COUNT);
    return s_decode(type, buf, len, err);
}

/* ---- comparison ---- */

bool
fl_msg_equal(const fl_msg_t *a, const fl_msg_t *b)
{
    if (a->type != b->type)
        return false;
    for (int i = 0; i < a->spec->nuses; i++) {
        const value_t *x = &a->values[i], *y = &b->values[i];
        if (x->set != y->set)
            return false;
        if (!x->set)
            continue;
        switch (fl_schema_field(a->spec->uses[i].field)->kind) {
        case FL_K_UINT: if (x->u != y->u) return false; break;
        case FL_K_BOOL: if (x->b != y->b) return false; break;
        case FL_K_STR:
        case FL_K_BIN:
            if (x->s.n != y->s.n || memcmp(x->s.p, y->s.p, x->s.n) != 0) return false;
            break;
        case FL_K_STRS:
            if (x->list.n != y->list.n) return false;
            for (uint32_t k = 0; k < x->list.n; k++)
                if (strcmp(x->list.v[k], y->list.v[k]) != 0) return false;
            break;
        case FL_K_LIST:
            if (x->list.n != y->list.n) return false;
            for (uint32_t k = 0; k < x->list.n; k++)
                if (!fl_msg_equal(x->list.v[k], y->list.v[k])) return false;
            break;
        }
    }
    return true;
}
