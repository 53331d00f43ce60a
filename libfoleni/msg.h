/*  msg.h — Foleni's messages and records, and their msgpack codec.
 *
 *  An fl_msg_t is one map of typed fields whose shape is declared in schema.h:
 *  a request, a reply, an event, a list item or a store record.  Setters check
 *  each value against its field's bounds, so an fl_msg_t always holds values
 *  that Foleni would accept; fl_msg_encode() adds the check that required fields
 *  are present.  fl_msg_decode() first lets fl_wire_check() prove the input's
 *  shape (wire.h), then parses it with msgpack-c and accepts it only when every
 *  key is a field the type takes, every value has the field's kind and bounds,
 *  no key repeats and every required field is there.  A rejection fills an
 *  fl_error_t with the code and the path of the field (e.g. "slots[3].start").
 *
 *  Ownership: a message made by fl_msg_new() or decoded is a root; it owns an
 *  arena holding its strings and items, and fl_msg_destroy() frees all of it.
 *  Items returned by fl_msg_add_item() or fl_msg_item() belong to their root and
 *  are never destroyed on their own.  Strings returned by getters live as long
 *  as the root.  Not thread-safe: one message, one thread.
 *
 *  Asking a type for a field it does not take, or a field for a kind it is not,
 *  is a programmer error and asserts.
 */
#ifndef FOLENI_MSG_H
#define FOLENI_MSG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libfoleni/error.h"
#include "libfoleni/schema.h"

typedef struct fl_msg fl_msg_t;

/*  A new empty message of the given type; NULL when out of memory. */
fl_msg_t *fl_msg_new(fl_type_t type);

/*  Destroy a root message and everything it holds; sets *self_p to NULL.
 *  Safe on NULL.  Asserts when given an item. */
void fl_msg_destroy(fl_msg_t **self_p);

/*  The message's type. */
fl_type_t fl_msg_type(const fl_msg_t *self);

/*  True when the type takes this field (the accessors assert otherwise). */
bool fl_msg_takes(const fl_msg_t *self, fl_field_t field);

/*  True when the field is set. */
bool fl_msg_has(const fl_msg_t *self, fl_field_t field);

/* ---- setters: 0, or FL_E_RANGE / FL_E_TOO_LONG / FL_E_INVALID (value not
 * acceptable for the field; the message is unchanged) or FL_E_NOMEM ---- */
int fl_msg_set_uint(fl_msg_t *self, fl_field_t field, uint64_t value);
int fl_msg_set_bool(fl_msg_t *self, fl_field_t field, bool value);
/*  Copy NUL-terminated text. */
int fl_msg_set_str(fl_msg_t *self, fl_field_t field, const char *text);
/*  Copy len bytes of text (no NUL needed; an embedded NUL is FL_E_INVALID). */
int fl_msg_set_strn(fl_msg_t *self, fl_field_t field, const char *text, size_t len);
/*  Copy len bytes. */
int fl_msg_set_bin(fl_msg_t *self, fl_field_t field, const void *data, size_t len);
/*  Append a copy of text to a list-of-strings field; FL_E_TOO_LONG when full. */
int fl_msg_add_str(fl_msg_t *self, fl_field_t field, const char *text);
/*  Append a new empty item to a list field and return it (owned by the root);
 *  NULL when the list is full or out of memory. */
fl_msg_t *fl_msg_add_item(fl_msg_t *self, fl_field_t field);
/*  Set a list or list-of-strings field to an empty list (present, no entries):
 *  how a required list says "none". */
void fl_msg_set_empty(fl_msg_t *self, fl_field_t field);
/*  Forget a field's value (lists become empty and unset). */
void fl_msg_unset(fl_msg_t *self, fl_field_t field);

/* ---- getters: absent fields read as 0, false, NULL or an empty list ---- */
uint64_t      fl_msg_uint(const fl_msg_t *self, fl_field_t field);
bool          fl_msg_bool(const fl_msg_t *self, fl_field_t field);
/*  NUL-terminated text, or NULL when absent. */
const char   *fl_msg_str(const fl_msg_t *self, fl_field_t field);
/*  Bytes and their count in *len, or NULL (and *len = 0) when absent. */
const void   *fl_msg_bin(const fl_msg_t *self, fl_field_t field, size_t *len);
/*  Number of entries of a list or list-of-strings field. */
size_t        fl_msg_count(const fl_msg_t *self, fl_field_t field);
/*  Entry i of a list field / list-of-strings field; asserts i < count. */
fl_msg_t     *fl_msg_item(const fl_msg_t *self, fl_field_t field, size_t i);
const char   *fl_msg_str_at(const fl_msg_t *self, fl_field_t field, size_t i);

/* ---- codec ---- */

/*  Check that every required field is set, in this message and its items.
 *  0 or FL_E_MISSING naming the field. */
int fl_msg_check(const fl_msg_t *self, fl_error_t *err);

/*  Append the msgpack encoding to out.  Top-level messages get `v` and `type`
 *  first.  0, FL_E_MISSING (a required field is unset; nothing appended),
 *  FL_E_TOO_LONG (over FL_WIRE_MAX_BYTES; out is restored) or FL_E_NOMEM (out
 *  could not grow; out is restored: never a message cut short). */
int fl_msg_encode(const fl_msg_t *self, msgpack_sbuffer *out, fl_error_t *err);

/*  Encode into this thread's scratch buffer, for bytes that are copied at once
 *  (a store put, a socket send): no allocation once the buffer has grown.
 *  *data and *len stay valid until this thread's next call; the buffer is freed
 *  when the thread ends.  0, or what fl_msg_encode returns, or FL_E_NOMEM;
 *  on an error *len is 0. */
int fl_msg_encode_scratch(const fl_msg_t *self, const void **data, size_t *len, fl_error_t *err);

/*  Decode a top-level message (request, reply or event) of any type.
 *  Returns a new root, or NULL with err filled: any code fl_wire_check gives,
 *  FL_E_VERSION, FL_E_UNKNOWN (type or field), FL_E_TYPE, FL_E_TOO_LONG,
 *  FL_E_RANGE, FL_E_INVALID, FL_E_DUPLICATE_KEY, FL_E_MISSING, FL_E_NOMEM. */
fl_msg_t *fl_msg_decode(const void *buf, size_t len, fl_error_t *err);

/*  Decode a message that must be of the given type: a store record, an item,
 *  or a top-level message (then `v` and `type` are checked and must match). */
fl_msg_t *fl_msg_decode_as(fl_type_t type, const void *buf, size_t len, fl_error_t *err);

/*  True when both messages have the same type and the same values, items
 *  included (for tests and for the store's consistency check). */
bool fl_msg_equal(const fl_msg_t *a, const fl_msg_t *b);

#endif
