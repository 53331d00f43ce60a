/*  json.h — showing a message as JSON (Jansson), for people and tools.
 *
 *  Used by `foleni-store dump` and by anything that shows a message to a
 *  person.  Field names are the wire names; binary fields become lower-case hex
 *  strings; top-level messages include "type".
 */
#ifndef FOLENI_JSON_H
#define FOLENI_JSON_H

#include <jansson.h>

#include "libfoleni/msg.h"

/*  A new JSON object (the caller owns one reference) holding the message's set
 *  fields, items included; NULL when out of memory. */
json_t *fl_msg_to_json(const fl_msg_t *self);

/*  Build a message from JSON: an object with "type" (a request, reply or event
 *  name) and fields by their wire names; "v" may be given (it must be 1).
 *  Binary fields are hex strings; lists are arrays (of objects for item
 *  lists).  Every value goes through the codec's checks, so the result is a
 *  message Foleni would accept.  NULL with err (field path and reason). */
fl_msg_t *fl_msg_from_json(const json_t *json, fl_error_t *err);

#endif
