/*  log.h — one logfmt line per event, on stderr.
 *
 *  Every Foleni process logs the same way: one line per event, key=value pairs
 *  in logfmt, starting with the time, the level, the process and a message:
 *
 *      ts=2026-11-27T23:04:26.123Z level=info comp=broker msg="store opened" path=/var/x size=1024
 *
 *  Callers add fields with the FL_S / FL_I / FL_U / FL_D macros and end the list
 *  with NULL:
 *
 *      fl_log(FL_LOG_INFO, "store opened", FL_S("path", path), FL_U("size", size), NULL);
 *
 *  Formatting rules (the tests in tests/test_log.c pin them down):
 *    - ts is UTC with milliseconds; level is debug, info, warn or error.
 *    - A value is written bare unless it is empty, contains a space, '=', '"' or
 *      a control character (bytes below 0x20 and 0x7f), or is the text "null".
 *      Then it is quoted: '"' and '\' are escaped with '\', a newline is \n, a
 *      carriage return \r, a tab \t, any other control character \xNN (lower-case
 *      hex).  Bytes from 0x80 up (UTF-8) are copied as they are.
 *    - A NULL string value is written as bare `null`; the text "null" is written
 *      quoted, so the two stay distinct.
 *    - Keys are written as given, except that every byte outside [A-Za-z0-9_.-]
 *      becomes '_', and an empty key becomes "_".
 *    - Integers are written in decimal; doubles with up to 17 significant digits
 *      (the shortest of %.15g / %.17g that reads back the same), and nan, inf and
 *      -inf as those words.
 *    - A line is at most FL_LOG_LINE_MAX bytes including its newline.  When the
 *      fields do not fit, the line is cut and ends with ` truncated=true`: the
 *      string value at the cut is written short (never inside an escape or a
 *      UTF-8 sequence, and a quoted value keeps its closing quote); a number at
 *      the cut, or a field whose key does not fit, is left out whole; all later
 *      fields are left out.
 *
 *  Caveats:
 *    - fl_log is thread-safe: each line is formatted on the caller's stack and
 *      handed to the kernel with one write(2).  FL_LOG_LINE_MAX equals Linux's
 *      PIPE_BUF, so lines from many threads or processes sharing a pipe never
 *      interleave; a file should be opened with O_APPEND for the same guarantee.
 *    - fl_log_init and fl_log_set_fd change process-wide settings: call them
 *      before starting threads (the level and fd are atomics, so a late change
 *      is safe, but the component name is not).
 *    - fl_log never fails and never changes errno; a failed write is dropped.
 */
#ifndef FOLENI_LOG_H
#define FOLENI_LOG_H

#include <stdbool.h>
#include <stddef.h>         /* NULL, which ends every fl_log call */

/* Longest line, including the newline.  Equal to PIPE_BUF on Linux. */
#define FL_LOG_LINE_MAX 4096
/* Longest component name kept by fl_log_init, in bytes; longer names are cut. */
#define FL_LOG_COMP_MAX 32
/* The environment variable that overrides the minimum level given to fl_log_init. */
#define FL_LOG_LEVEL_ENV "FOLENI_LOG_LEVEL"

typedef enum {
    FL_LOG_DEBUG,       /* detail for a developer chasing a problem */
    FL_LOG_INFO,        /* normal events an operator may want to see */
    FL_LOG_WARN,        /* something is wrong but the process copes */
    FL_LOG_ERROR,       /* an operation failed */
} fl_log_level_t;

/* What a field's value is; selects the member of fl_kv_t's union. */
enum {
    FL_KV_STR,          /* .s, a NUL-terminated string or NULL */
    FL_KV_INT,          /* .i, signed */
    FL_KV_UINT,         /* .u, unsigned */
    FL_KV_DOUBLE,       /* .d */
};

/* One key=value field.  Usually made with the macros below. */
typedef struct {
    const char *key;    /* field name; must not be NULL */
    int kind;           /* an FL_KV_* value */
    union {
        const char *s;
        long long i;
        unsigned long long u;
        double d;
    };
} fl_kv_t;

/* Fields as arguments to fl_log.  Each makes a compound literal that lives until
 * the end of the enclosing block, which covers the call. */
#define FL_S(k, v) (&(const fl_kv_t){ .key = (k), .kind = FL_KV_STR, .s = (v) })
#define FL_I(k, v) (&(const fl_kv_t){ .key = (k), .kind = FL_KV_INT, .i = (v) })
#define FL_U(k, v) (&(const fl_kv_t){ .key = (k), .kind = FL_KV_UINT, .u = (v) })
#define FL_D(k, v) (&(const fl_kv_t){ .key = (k), .kind = FL_KV_DOUBLE, .d = (v) })

/*  Set the component name written as comp= on every line (the process name,
 *  such as "broker"; cut to FL_LOG_COMP_MAX bytes; NULL keeps the current one)
 *  and the lowest level that is written.  If the environment variable
 *  FOLENI_LOG_LEVEL holds a level name it wins over min_level; if it holds
 *  anything else, min_level is used and a warning line says so.
 *  Before any call the component is "foleni" and the level is FL_LOG_INFO.
 *  Cannot fail. */
void fl_log_init(const char *comp, fl_log_level_t min_level);

/*  Read a level name: "debug", "info", "warn" or "error", in any case.
 *  On success stores the level in *out and returns 0; otherwise leaves *out
 *  alone and returns FL_E_INVALID (also for NULL text). */
int fl_log_level_parse(const char *text, fl_log_level_t *out);

/*  The lower-case name of a level ("info"...); "unknown" for other values. */
const char *fl_log_level_name(fl_log_level_t level);

/*  True if a line at this level would be written.  Lets a caller skip work
 *  that only feeds a debug line. */
bool fl_log_enabled(fl_log_level_t level);

/*  Write one line at the given level, if the level is at least the minimum.
 *  msg is written as msg= (NULL is written as null); the variable arguments are
 *  `const fl_kv_t *` fields, ended by NULL.  Cannot fail; does not change errno. */
void fl_log(fl_log_level_t level, const char *msg, ...) __attribute__((sentinel));

/*  Write lines to fd instead of stderr (for tests); a negative fd goes back to
 *  stderr.  The caller keeps ownership of fd and must keep it open while it is
 *  in use.  Cannot fail. */
void fl_log_set_fd(int fd);

#endif
