/*  json.c — message to JSON.  See json.h. */
#include "libfoleni/json.h"

#include <stdio.h>
#include <stdlib.h>

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
