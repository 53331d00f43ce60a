/*  json.c — message to JSON.  See json.h. */
#include "libfoleni/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
s_hex(const uint8_t *p, size_t n)
{
    char *text = malloc(2 * n + 1);
    if (!text)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(text + 2 * i, 3, "%02x", p[i]);
    text[2 * n] = '\0';
    json_t *j = json_string(text);
    free(text);
    return j;
}

json_t *
fl_msg_to_json(const fl_msg_t *self)
{
    const fl_type_spec_t *spec = fl_schema_type(fl_msg_type(self));
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    if (spec->role <= FL_ROLE_EVENT)
        json_object_set_new(obj, "type", json_string(spec->name));
    for (int i = 0; i < spec->nuses; i++) {
        fl_field_t f = spec->uses[i].field;
        if (!fl_msg_has(self, f))
            continue;
        const fl_field_spec_t *fs = fl_schema_field(f);
        json_t *v = NULL;
        size_t n;
        switch (fs->kind) {
        case FL_K_UINT: v = json_integer((json_int_t) fl_msg_uint(self, f)); break;
        case FL_K_BOOL: v = json_boolean(fl_msg_bool(self, f)); break;
        case FL_K_STR:  v = json_string(fl_msg_str(self, f)); break;
        case FL_K_BIN: {
            const void *p = fl_msg_bin(self, f, &n);
            v = s_hex(p, n);
            break;
        }
        case FL_K_STRS:
            v = json_array();
            for (size_t k = 0; v && k < fl_msg_count(self, f); k++)
                json_array_append_new(v, json_string(fl_msg_str_at(self, f, k)));
            break;
        case FL_K_LIST:
            v = json_array();
            for (size_t k = 0; v && k < fl_msg_count(self, f); k++)
                json_array_append_new(v, fl_msg_to_json(fl_msg_item(self, f, k)));
            break;
        }
        if (!v || json_object_set_new(obj, fs->name, v) != 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

/* ---- JSON to message ---- */

static int
s_unhex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t) v;
    }
    *len = n / 2;
    return 0;
}

static int s_fill(fl_msg_t *m, const json_t *obj, char *path, size_t plen, bool top, fl_error_t *err);

static int
s_value(fl_msg_t *m, fl_field_t f, const json_t *v, const char *path, fl_error_t *err)
{
    const fl_field_spec_t *spec = fl_schema_field(f);
    int rc = 0;
    switch (spec->kind) {
    case FL_K_UINT:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return fl_error_set(err, FL_E_TYPE, path, "%s: must be a whole number >= 0", path);
        rc = fl_msg_set_uint(m, f, (uint64_t) json_integer_value(v));
        break;
    case FL_K_BOOL:
        if (!json_is_boolean(v))
            return fl_error_set(err, FL_E_TYPE, path, "%s: must be true or false", path);
        rc = fl_msg_set_bool(m, f, json_is_true(v));
        break;
    case FL_K_STR:
        if (!json_is_string(v))
            return fl_error_set(err, FL_E_TYPE, path, "%s: must be a string", path);
        rc = fl_msg_set_strn(m, f, json_string_value(v), json_string_length(v));
        break;
    case FL_K_BIN: {
        uint8_t buf[256];
        size_t n;
        if (!json_is_string(v) || s_unhex(json_string_value(v), buf, sizeof buf, &n) != 0)
            return fl_error_set(err, FL_E_TYPE, path, "%s: must be a hex string", path);
        rc = fl_msg_set_bin(m, f, buf, n);
        break;
    }
    case FL_K_STRS: {
        if (!json_is_array(v))
            return fl_error_set(err, FL_E_TYPE, path, "%s: must be an array of strings", path);
        fl_msg_set_empty(m, f);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_string(e))
                return fl_error_set(err, FL_E_TYPE, path, "%s[%zu]: must be a string", path, i);
            if ((rc = fl_msg_add_str(m, f, json_string_value(e))))
                return fl_error_set(err, rc, path, "%s[%zu]: not acceptable (%s)", path, i, fl_error_name(rc));
        }
        break;
    }
    case FL_K_LIST: {
        if (!json_is_array(v))
            return fl_error_set(err, FL_E_TYPE, path, "%s: must be an array of objects", path);
        fl_msg_set_empty(m, f);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            char sub[FL_ERROR_FIELD_MAX];
            int n = snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            fl_msg_t *item = fl_msg_add_item(m, f);
            if (!item)
                return fl_error_set(err, FL_E_TOO_LONG, path, "%s: too many entries", path);
            if (!json_is_object(e))
                return fl_error_set(err, FL_E_TYPE, sub, "%s: must be an object", sub);
            if ((rc = s_fill(item, e, sub, n > 0 ? (size_t) n : 0, false, err)))
                return rc;
        }
        return 0;
    }
    }
    if (rc)
        return fl_error_set(err, rc, path, "%s: %s", path,
                            rc == FL_E_TOO_LONG ? "too long" : rc == FL_E_RANGE ? "out of range"
                            : "not acceptable here");
    return 0;
}

static int
s_fill(fl_msg_t *m, const json_t *obj, char *path, size_t plen, bool top, fl_error_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *) obj, key, v) {
        if (top && (!strcmp(key, "type") || !strcmp(key, "v")))
            continue;
        char sub[FL_ERROR_FIELD_MAX];
        snprintf(sub, sizeof sub, "%.*s%s%s", (int) plen, path, plen ? "." : "", key);
        int f = fl_schema_field_by_name(key, strlen(key));
        if (f < 0 || !fl_msg_takes(m, (fl_field_t) f))
            return fl_error_set(err, FL_E_UNKNOWN, sub, "%s: %s takes no such field", sub,
                                fl_schema_type(fl_msg_type(m))->name);
        int rc = s_value(m, (fl_field_t) f, v, sub, err);
        if (rc)
            return rc;
    }
    return 0;
}

fl_msg_t *
fl_msg_from_json(const json_t *json, fl_error_t *err)
{
    if (!json_is_object(json)) {
        fl_error_set(err, FL_E_TYPE, "", "a message must be a JSON object");
        return NULL;
    }
    json_t *type = json_object_get(json, "type"), *v = json_object_get(json, "v");
    if (!json_is_string(type)) {
        fl_error_set(err, FL_E_MISSING, "type", "type: the message type is missing");
        return NULL;
    }
    if (v && (!json_is_integer(v) || json_integer_value(v) != FL_PROTOCOL_VERSION)) {
        fl_error_set(err, FL_E_VERSION, "v", "v: only protocol version %d is spoken", FL_PROTOCOL_VERSION);
        return NULL;
    }
    fl_type_t t = fl_schema_type_by_name(json_string_value(type), json_string_length(type));
    if (t == FL_T_NONE) {
        fl_error_set(err, FL_E_UNKNOWN, "type", "type: unknown message type");
        return NULL;
    }
    fl_msg_t *m = fl_msg_new(t);
    char path[FL_ERROR_FIELD_MAX] = "";
    if (!m || s_fill(m, json, path, 0, true, err) || fl_msg_check(m, err)) {
        if (!m)
            fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        fl_msg_destroy(&m);
    }
    return m;
}
