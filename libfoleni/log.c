/*  log.c — logfmt lines on stderr.  See log.h for the format rules.
 *
 *  A line is built in a buffer on the caller's stack (so threads never share
 *  one) and written with a single write(2).  Fields are appended one by one
 *  against the full line limit.  Only when one does not fit do we fall back:
 *  the line is rolled back to the last field boundary that leaves room for
 *  " truncated=true", the string field that starts at that boundary (if any)
 *  is written again cut short, and the mark ends the line.  So a line that
 *  fits never gives up the mark's room, and a line that does not keeps as
 *  much as it can.
 */
#include "libfoleni/log.h"
#include "libfoleni/error.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define S_TRUNCATED_MARK " truncated=true"
/* Room for every field: the whole line less its newline. */
#define S_FULL_LIMIT (FL_LOG_LINE_MAX - 1)
/* Room for fields on a line that must still take the truncation mark. */
#define S_SOFT_LIMIT (S_FULL_LIMIT - (sizeof S_TRUNCATED_MARK - 1))
/* Longest text of one number: 20 digits and a sign, or a %.17g double. */
#define S_NUMBER_MAX 32
/* Longest output for one input unit: \xNN is 4, a UTF-8 sequence at most 4. */
#define S_UNIT_MAX 4
/* "2026-11-27T23:04:26.123Z" plus room the compiler cannot rule out. */
#define S_TIMESTAMP_MAX 64

static const char *const s_level_names[] = { "debug", "info", "warn", "error" };
#define S_LEVEL_COUNT (sizeof s_level_names / sizeof s_level_names[0])

static _Atomic int s_min_level = FL_LOG_INFO;
static _Atomic int s_fd = STDERR_FILENO;
static char s_comp[FL_LOG_COMP_MAX + 1] = "foleni";

typedef struct {
    char buf[FL_LOG_LINE_MAX];
    size_t len;             /* bytes used */
    size_t safe_len;        /* last field boundary at or below S_SOFT_LIMIT */
    const char *spill_key;  /* the string field that starts at safe_len and */
    const char *spill_value;/*   ends beyond it, or NULL: the one to cut */
    bool cut;               /* the line has been truncated; add nothing more */
} s_line_t;


/* ---- values --------------------------------------------------------------- */

static bool
s_is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* True if the value must be written in quotes (see log.h). */
static bool
s_needs_quotes(const char *value)
{
    if (*value == '\0' || strcmp(value, "null") == 0)
        return true;
    for (const unsigned char *p = (const unsigned char *) value; *p; p++)
        if (*p == ' ' || *p == '=' || *p == '"' || s_is_control(*p))
            return true;
    return false;
}

/*  Length of the UTF-8 sequence that starts at p, if it is a lead byte followed
 *  by the right number of continuation bytes; 1 otherwise (a lone byte is copied
 *  as it is).  Used so that a cut never splits a character. */
static size_t
s_utf8_length(const unsigned char *p)
{
    size_t n = *p >= 0xf0 && *p <= 0xf7 ? 4
             : *p >= 0xe0 ? 3
             : *p >= 0xc0 && *p <= 0xdf ? 2
             : 1;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

/*  The next unit of value at p: the output bytes go to out (S_UNIT_MAX bytes),
 *  their count to *out_len; returns how many input bytes the unit takes. */
static size_t
s_next_unit(const unsigned char *p, bool quoted, char *out, size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    if (quoted && (*p == '"' || *p == '\\' || s_is_control(*p))) {
        out[0] = '\\';
        *out_len = 2;
        switch (*p) {
        case '"':  out[1] = '"';  break;
        case '\\': out[1] = '\\'; break;
        case '\n': out[1] = 'n';  break;
        case '\r': out[1] = 'r';  break;
        case '\t': out[1] = 't';  break;
        default:
            out[1] = 'x';
            out[2] = hex[*p >> 4];
            out[3] = hex[*p & 0x0f];
            *out_len = 4;
        }
        return 1;
    }
    size_t n = s_utf8_length(p);
    memcpy(out, p, n);
    *out_len = n;
    return n;
}


/* ---- building a line ------------------------------------------------------ */

static bool
s_append(s_line_t *line, const char *bytes, size_t n, size_t limit)
{
    if (line->len + n > limit)
        return false;
    memcpy(line->buf + line->len, bytes, n);
    line->len += n;
    return true;
}

/* Append " key=" with the key's odd bytes replaced by '_'. */
static bool
s_append_key(s_line_t *line, const char *key, size_t limit)
{
    size_t key_len = *key ? strlen(key) : 1;
    if (line->len + 1 + key_len + 1 > limit)
        return false;
    line->buf[line->len++] = ' ';
    if (*key == '\0')
        line->buf[line->len++] = '_';
    for (const char *p = key; *p; p++) {
        char c = *p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        line->buf[line->len++] = plain ? c : '_';
    }
    line->buf[line->len++] = '=';
    return true;
}

/*  Append " key=value" within limit.  If it does not fit whole: when may_cut is
 *  set, write as many whole units of the value as fit (at least one) and return
 *  true; otherwise leave the line as it was and return false. */
static bool
s_append_field(s_line_t *line, const char *key, const char *value,
               bool quoted, size_t limit, bool may_cut)
{
    size_t start = line->len;
    size_t closing = quoted ? 1 : 0;
    if (!s_append_key(line, key, limit) || !s_append(line, "\"", closing, limit))
        goto rollback;
    size_t value_start = line->len;
    const unsigned char *p = (const unsigned char *) value;
    while (*p) {
        char unit[S_UNIT_MAX];
        size_t unit_len;
        size_t used = s_next_unit(p, quoted, unit, &unit_len);
        if (line->len + unit_len + closing > limit) {
            if (may_cut && line->len > value_start)
                break;
            goto rollback;
        }
        memcpy(line->buf + line->len, unit, unit_len);
        line->len += unit_len;
        p += used;
    }
    if (!s_append(line, "\"", closing, limit))
        goto rollback;
    return true;

rollback:
    line->len = start;
    return false;
}

/*  Add one field, falling back to truncation (see the top of this file) when
 *  it does not fit.  Strings may be cut; numbers are all or nothing. */
static void
s_add(s_line_t *line, const char *key, const char *value, bool is_string)
{
    if (line->cut)
        return;
    size_t start = line->len;
    if (s_append_field(line, key, value, is_string && s_needs_quotes(value),
                       S_FULL_LIMIT, false)) {
        if (line->len <= S_SOFT_LIMIT)
            line->safe_len = line->len;
        else if (start == line->safe_len && is_string) {
            line->spill_key = key;
            line->spill_value = value;
        }
        return;
    }
    /* The field that starts at safe_len is cut: an earlier one that spilled
     * past the soft limit, else this one.  Everything after it goes. */
    if (start == line->safe_len && is_string) {
        line->spill_key = key;
        line->spill_value = value;
    }
    line->len = line->safe_len;
    if (line->spill_key)
        s_append_field(line, line->spill_key, line->spill_value,
                       s_needs_quotes(line->spill_value), S_SOFT_LIMIT, true);
    s_append(line, S_TRUNCATED_MARK, sizeof S_TRUNCATED_MARK - 1, S_FULL_LIMIT);
    line->cut = true;
}

static void
s_add_kv(s_line_t *line, const fl_kv_t *kv)
{
    assert(kv->key);
    char number[S_NUMBER_MAX];
    switch (kv->kind) {
    case FL_KV_STR:
        s_add(line, kv->key, kv->s ? kv->s : "null", kv->s != NULL);
        return;
    case FL_KV_INT:
        snprintf(number, sizeof number, "%lld", kv->i);
        break;
    case FL_KV_UINT:
        snprintf(number, sizeof number, "%llu", kv->u);
        break;
    case FL_KV_DOUBLE:
        if (isnan(kv->d))
            snprintf(number, sizeof number, "nan");
        else if (isinf(kv->d))
            snprintf(number, sizeof number, "%s", kv->d < 0 ? "-inf" : "inf");
        else {
            snprintf(number, sizeof number, "%.15g", kv->d);
            if (strtod(number, NULL) != kv->d)
                snprintf(number, sizeof number, "%.17g", kv->d);
        }
        break;
    default:
        assert(!"fl_kv_t has an unknown kind");
        return;
    }
    s_add(line, kv->key, number, false);
}

/* Write the ts= field: UTC, milliseconds, 'Z'. */
static void
s_add_timestamp(s_line_t *line)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    char text[S_TIMESTAMP_MAX];
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000L);
    s_append(line, "ts=", 3, S_FULL_LIMIT);
    s_append(line, text, strlen(text), S_FULL_LIMIT);
    line->safe_len = line->len;
}


/* ---- public API ----------------------------------------------------------- */

void
fl_log_init(const char *comp, fl_log_level_t min_level)
{
    assert((size_t) min_level < S_LEVEL_COUNT);
    if (comp)
        snprintf(s_comp, sizeof s_comp, "%s", comp);
    const char *env = getenv(FL_LOG_LEVEL_ENV);
    fl_log_level_t level = min_level;
    bool env_bad = env && fl_log_level_parse(env, &level) != 0;
    atomic_store(&s_min_level, (int) level);
    if (env_bad)
        fl_log(FL_LOG_WARN, "ignoring a log level that is not debug, info, warn or error",
               FL_S("env", FL_LOG_LEVEL_ENV), FL_S("value", env),
               FL_S("using", fl_log_level_name(level)), NULL);
}

int
fl_log_level_parse(const char *text, fl_log_level_t *out)
{
    assert(out);
    for (size_t i = 0; text && i < S_LEVEL_COUNT; i++)
        if (strcasecmp(text, s_level_names[i]) == 0) {
            *out = (fl_log_level_t) i;
            return 0;
        }
    return FL_E_INVALID;
}

const char *
fl_log_level_name(fl_log_level_t level)
{
    return (size_t) level < S_LEVEL_COUNT ? s_level_names[level] : "unknown";
}

bool
fl_log_enabled(fl_log_level_t level)
{
    return (int) level >= atomic_load(&s_min_level);
}

void
fl_log(fl_log_level_t level, const char *msg, ...)
{
    assert((size_t) level < S_LEVEL_COUNT);
    if (!fl_log_enabled(level))
        return;
    int saved_errno = errno;

    s_line_t line;
    line.len = line.safe_len = 0;
    line.spill_key = line.spill_value = NULL;
    line.cut = false;
    s_add_timestamp(&line);
    s_add(&line, "level", s_level_names[level], false);
    s_add(&line, "comp", s_comp, true);
    s_add(&line, "msg", msg ? msg : "null", msg != NULL);

    va_list ap;
    va_start(ap, msg);
    const fl_kv_t *kv;
    while ((kv = va_arg(ap, const fl_kv_t *)) != NULL)
        s_add_kv(&line, kv);
    va_end(ap);

    line.buf[line.len++] = '\n';
    int fd = atomic_load(&s_fd);
    ssize_t rc;
    do
        rc = write(fd, line.buf, line.len);
    while (rc < 0 && errno == EINTR);
    errno = saved_errno;
}

void
fl_log_set_fd(int fd)
{
    atomic_store(&s_fd, fd < 0 ? STDERR_FILENO : fd);
}
