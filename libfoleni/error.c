/*  error.c — filling fl_error_t and naming codes for the wire.  See error.h. */
#include "libfoleni/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct { int code; const char *name; } s_names[] = {
    { FL_OK, "ok" },
    { FL_E_TRUNCATED, "truncated" },   { FL_E_COUNT, "count" },
    { FL_E_DEPTH, "depth" },           { FL_E_TOO_LONG, "too_long" },
    { FL_E_TYPE, "type" },             { FL_E_MISSING, "missing" },
    { FL_E_VERSION, "version" },       { FL_E_UNKNOWN, "unknown" },
    { FL_E_RANGE, "range" },           { FL_E_TRAILING, "trailing" },
    { FL_E_DUPLICATE_KEY, "duplicate_key" }, { FL_E_INVALID, "invalid" },
    { FL_E_NOMEM, "nomem" },           { FL_E_IO, "io" },
    { FL_E_STORE, "store" },           { FL_E_TIMEOUT, "timeout" },
    { FL_E_UNAVAILABLE, "unavailable" },
    { FL_E_NOT_FOUND, "not_found" },   { FL_E_FULL, "full" },
    { FL_E_CONFLICT, "conflict" },     { FL_E_FORBIDDEN, "forbidden" },
    { FL_E_EMPTY, "empty" },           { FL_E_CLOSED, "closed" },
};

int
fl_error_set(fl_error_t *err, int code, const char *field, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void
fl_error_clear(fl_error_t *err)
{
    if (err) {
        err->code = FL_OK;
        err->field[0] = '\0';
        err->message[0] = '\0';
    }
}

const char *
fl_error_name(int code)
{
    for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++)
        if (s_names[i].code == code)
            return s_names[i].name;
    return "error";
}

int
fl_error_from_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof s_names / sizeof s_names[0]; i++)
        if (strcmp(s_names[i].name, name) == 0)
            return s_names[i].code;
    return FL_E_INVALID;
}
