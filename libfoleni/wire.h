/*  wire.h — the guard in front of every msgpack decoder.
 *
 *  msgpack-c 4.0 allocates room for n objects as soon as it reads an array or
 *  map header, before it reads a single element: the five bytes `dd ff ff ff ff`
 *  ask it for about 96 GB.  So no byte that came from outside reaches msgpack-c
 *  before fl_wire_check() has walked every header of the input and proved that:
 *
 *    - every string, binary and extension length fits in the bytes left;
 *    - every array count n fits (each element takes at least one byte), and
 *      every map count n fits (2n), so the objects msgpack-c allocates are
 *      bounded by the input size;
 *    - containers nest at most FL_WIRE_MAX_DEPTH deep;
 *    - the input is exactly one value, no more, no less, and is at most
 *      FL_WIRE_MAX_BYTES long;
 *    - no reserved byte (0xc1) and no extension types (Foleni sends none).
 *
 *  It checks shape only; msg.h checks meaning (types, fields, bounds) after it.
 */
#ifndef FOLENI_WIRE_H
#define FOLENI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "libfoleni/error.h"

/* Deepest nesting of arrays and maps; the top-level map is depth 1. */
#define FL_WIRE_MAX_DEPTH  8
/* Largest encoded message Foleni accepts (an availability reply for a month of
 * five-minute slots is about 60 KiB). */
#define FL_WIRE_MAX_BYTES  (512u * 1024u)

/*  Walk the msgpack value in buf[0..len) without allocating.
 *  Returns 0 when it is one well-formed value within the limits above, else
 *  FL_E_TRUNCATED, FL_E_COUNT, FL_E_DEPTH, FL_E_TOO_LONG, FL_E_TYPE (reserved
 *  byte or extension) or FL_E_TRAILING, with the byte offset in err->message.
 *  Cannot crash on any input; buf may be NULL when len is 0. */
int fl_wire_check(const uint8_t *buf, size_t len, fl_error_t *err);

#endif
