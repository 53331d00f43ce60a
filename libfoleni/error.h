/*  error.h — the one error shape every Foleni function reports.
 *
 *  Functions that can fail because of the world (bad input, a full disk, a dead
 *  peer) return 0 on success or a negative FL_E_* code, and, when the caller passes
 *  an fl_error_t, fill it with the code, the field at fault (a dotted path such as
 *  "offices[0].services[2].prefix", or "" when no field applies) and one sentence
 *  for a human.  Programmer mistakes (NULL self, wrong state) are asserts instead.
 *
 *  The same codes travel in error replies on the wire (see fl_error_name), so a
 *  portal can map them to HTTP statuses and a counter to a message for the clerk.
 */
#ifndef FOLENI_ERROR_H
#define FOLENI_ERROR_H

#include <stddef.h>

typedef enum {
    FL_OK             =   0,
    /* input shape (validator, decoders, config) */
    FL_E_TRUNCATED    =  -1,  /* input ends inside a value */
    FL_E_COUNT        =  -2,  /* a count or length is larger than the bytes left */
    FL_E_DEPTH        =  -3,  /* nesting deeper than allowed */
    FL_E_TOO_LONG     =  -4,  /* string, binary or list longer than its field allows */
    FL_E_TYPE         =  -5,  /* a value of the wrong type */
    FL_E_MISSING      =  -6,  /* a required field is absent */
    FL_E_VERSION      =  -7,  /* unknown protocol or schema version */
    FL_E_UNKNOWN      =  -8,  /* unknown message type or field */
    FL_E_RANGE        =  -9,  /* number or text outside what the field allows */
    FL_E_TRAILING     = -10,  /* bytes after the end of the message */
    FL_E_DUPLICATE_KEY= -11,  /* the same key twice in one map */
    FL_E_INVALID      = -12,  /* well-formed but not acceptable (bad format, bad reference) */
    /* system */
    FL_E_NOMEM        = -20,  /* out of memory */
    FL_E_IO           = -21,  /* a file or socket operation failed */
    FL_E_STORE        = -22,  /* the store reported an error */
    FL_E_TIMEOUT      = -23,  /* no answer in time */
    FL_E_UNAVAILABLE  = -24,  /* the service cannot be reached */
    /* domain (used by the scheduler's replies) */
    FL_E_NOT_FOUND    = -30,  /* no such office, service, booking, ticket... */
    FL_E_FULL         = -31,  /* no capacity left */
    FL_E_CONFLICT     = -32,  /* duplicate booking, impossible transition */
    FL_E_FORBIDDEN    = -33,  /* the caller's identity may not do this */
    FL_E_EMPTY        = -34,  /* nothing to call */
    FL_E_CLOSED       = -35,  /* office closed, slot in the past, counter paused */
} fl_code_t;

/* Longest field path and message, including the terminating NUL. */
#define FL_ERROR_FIELD_MAX   96
#define FL_ERROR_MESSAGE_MAX 192

typedef struct fl_error {
    int  code;                              /* an fl_code_t */
    char field[FL_ERROR_FIELD_MAX];         /* dotted path of the field at fault, or "" */
    char message[FL_ERROR_MESSAGE_MAX];     /* one human sentence */
} fl_error_t;

/*  Fill err (if not NULL) with code, field and a printf-style message, and
 *  return code, so callers can write `return fl_error_set(err, FL_E_TYPE, ...)`.
 *  Text that does not fit is cut.  Cannot fail. */
int fl_error_set(fl_error_t *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*  Reset err to FL_OK with empty field and message.  Cannot fail. */
void fl_error_clear(fl_error_t *err);

/*  The stable lower-case name of a code ("too_long", "full"...), as sent on the
 *  wire.  Unknown codes give "error".  Never NULL. */
const char *fl_error_name(int code);

/*  The code for a wire name, or FL_E_INVALID for a name this build does not know. */
int fl_error_from_name(const char *name);

#endif
