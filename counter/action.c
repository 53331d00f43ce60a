/*  action.c — the clerk's actions as requests, and their outcomes as
 *  sentences.  See action.h.
 *
 *  The table below is the one place that binds a command name, a key and a
 *  protocol request; the full-screen help line and the one-shot usage text
 *  are read from it.
 */
#include "counter/action.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const ctr_action_spec_t s_actions[CTR_ACT__COUNT] = {
    [CTR_ACT_OPEN]     = { "open",     "open",     0,   FL_T_COUNTER_OPEN },   /* P opens a closed counter */
    [CTR_ACT_PAUSE]    = { "pause",    "pause",    'P', FL_T_COUNTER_PAUSE },
    [CTR_ACT_CLOSE]    = { "close",    "close",    'C', FL_T_COUNTER_CLOSE },
    [CTR_ACT_NEXT]     = { "next",     "next",     'N', FL_T_NEXT },
    [CTR_ACT_RECALL]   = { "recall",   "recall",   'R', FL_T_RECALL },
    [CTR_ACT_START]    = { "start",    "start",    'S', FL_T_START },
    [CTR_ACT_DONE]     = { "done",     "done",     'D', FL_T_DONE },
    [CTR_ACT_NOSHOW]   = { "noshow",   "no-show",  'X', FL_T_NOSHOW },
    [CTR_ACT_TRANSFER] = { "transfer", "transfer", 'T', FL_T_TRANSFER },
};

const ctr_action_spec_t *
ctr_action_spec(ctr_action_t action)
{
    assert(action >= 0 && action < CTR_ACT__COUNT);
    return &s_actions[action];
}

int
ctr_action_by_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < CTR_ACT__COUNT; i++)
        if (!strcmp(name, s_actions[i].command) || !strcmp(name, s_actions[i].label))
            return i;
    return -1;
}

int
ctr_action_by_key(int key)
{
    if (key <= 0 || key > 0x7f)
        return -1;
    key = toupper(key);
    for (int i = 0; i < CTR_ACT__COUNT; i++)
        if (s_actions[i].key == key)
            return i;
    return -1;
}

/* Set a field, turning the codec's refusal into a sentence naming it. */
static int
s_set_str(fl_msg_t *m, fl_field_t field, const char *value, fl_error_t *err)
{
    int rc = fl_msg_set_str(m, field, value);
    if (rc == FL_E_NOMEM)
        return fl_error_set(err, rc, "", "out of memory");
    if (rc)
        return fl_error_set(err, FL_E_INVALID, fl_schema_field(field)->name, "'%s' is not a valid %s", value,
                            fl_schema_field(field)->name);
    return 0;
}

static int
s_set_uint(fl_msg_t *m, fl_field_t field, unsigned value, fl_error_t *err)
{
    if (fl_msg_set_uint(m, field, value) != 0)
        return fl_error_set(err, FL_E_INVALID, fl_schema_field(field)->name, "%u is not a valid %s", value,
                            fl_schema_field(field)->name);
    return 0;
}

fl_msg_t *
ctr_action_request(ctr_action_t action, const ctr_args_t *args, const char *rid, fl_error_t *err)
{
    assert(args && args->office && rid);
    const ctr_action_spec_t *spec = ctr_action_spec(action);
    fl_msg_t *m = fl_msg_new(spec->request);
    if (!m) {
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    int rc = s_set_str(m, FL_F_RID, rid, err);
    if (!rc)
        rc = s_set_str(m, FL_F_OFFICE, args->office, err);
    if (!rc)
        rc = s_set_uint(m, FL_F_COUNTER, args->counter, err);
    if (!rc && args->token && *args->token)
        rc = s_set_str(m, FL_F_TOKEN, args->token, err);
    if (!rc && action == CTR_ACT_OPEN) {
        if (args->nservices == 0)
            rc = fl_error_set(err, FL_E_MISSING, "service_codes", "say which services the counter opens for");
        for (size_t i = 0; i < args->nservices && !rc; i++)
            if (fl_msg_add_str(m, FL_F_SERVICE_CODES, args->services[i]) != 0)
                rc = fl_error_set(err, FL_E_INVALID, "service_codes", "'%s' is not a valid service code",
                                  args->services[i]);
    }
    if (!rc && args->ticket && fl_msg_takes(m, FL_F_TICKET))
        rc = s_set_str(m, FL_F_TICKET, args->ticket, err);
    if (!rc && action == CTR_ACT_TRANSFER) {
        if (!args->to_service && !args->to_counter)
            rc = fl_error_set(err, FL_E_MISSING, "to_service", "say where to: a service, a counter or both");
        if (!rc && args->to_service)
            rc = s_set_str(m, FL_F_TO_SERVICE, args->to_service, err);
        if (!rc && args->to_counter)
            rc = s_set_uint(m, FL_F_TO_COUNTER, args->to_counter, err);
    }
    if (rc)
        fl_msg_destroy(&m);
    return m;
}

int
ctr_encode(const fl_msg_t *msg, msgpack_sbuffer *out, fl_error_t *err)
{
    msgpack_sbuffer_init(out);
    int rc = fl_msg_encode(msg, out, err);
    if (rc)
        msgpack_sbuffer_destroy(out);
    return rc;
}

/* "PASSPORT, IDCARD" from a list-of-strings field. */
static void
s_join(const fl_msg_t *m, fl_field_t field, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < fl_msg_count(m, field) && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", fl_msg_str_at(m, field, i));
        used += n > 0 ? (size_t) n : 0;
    }
}

void
ctr_action_describe(ctr_action_t action, const ctr_args_t *args, const fl_msg_t *reply, char *out, size_t cap)
{
    assert(reply && out && cap > 0);
    if (fl_msg_type(reply) == FL_T_COUNTER_STATE) {
        unsigned counter = (unsigned) fl_msg_uint(reply, FL_F_COUNTER);
        const char *state = fl_msg_str(reply, FL_F_STATE);
        if (!strcmp(state, "open")) {
            char services[CTR_SENTENCE_MAX];
            s_join(reply, FL_F_SERVICE_CODES, services, sizeof services);
            snprintf(out, cap, "Counter %u open for %s", counter, services);
        } else
            snprintf(out, cap, "Counter %u %s", counter, state);
        return;
    }
    if (fl_msg_type(reply) != FL_T_TICKET) {
        snprintf(out, cap, "The scheduler answered %s", fl_schema_type(fl_msg_type(reply))->name);
        return;
    }
    const char *ticket = fl_msg_str(reply, FL_F_TICKET);
    unsigned counter = (unsigned) fl_msg_uint(reply, FL_F_COUNTER);
    switch (action) {
    case CTR_ACT_NEXT:
        snprintf(out, cap, "Ticket %s called to counter %u", ticket, counter);
        break;
    case CTR_ACT_RECALL:
        snprintf(out, cap, "Ticket %s called again to counter %u", ticket, counter);
        break;
    case CTR_ACT_START:
        snprintf(out, cap, "Serving ticket %s at counter %u", ticket, counter);
        break;
    case CTR_ACT_DONE:
        snprintf(out, cap, "Ticket %s done", ticket);
        break;
    case CTR_ACT_NOSHOW:
        snprintf(out, cap, "Ticket %s marked no-show", ticket);
        break;
    case CTR_ACT_TRANSFER:
        /* the reply is the ticket waiting again, under its new service */
        if (args && args->to_counter && args->to_service)
            snprintf(out, cap, "Ticket %s transferred to %s at counter %u", ticket, fl_msg_str(reply, FL_F_SERVICE),
                     args->to_counter);
        else if (args && args->to_counter)
            snprintf(out, cap, "Ticket %s transferred to counter %u", ticket, args->to_counter);
        else
            snprintf(out, cap, "Ticket %s transferred to %s", ticket, fl_msg_str(reply, FL_F_SERVICE));
        break;
    default:
        snprintf(out, cap, "Ticket %s is %s", ticket, fl_msg_str(reply, FL_F_STATE));
        break;
    }
}

int
ctr_exit_for_error(const char *code)
{
    if (!code)
        return CTR_EXIT_REFUSED;
    if (!strcmp(code, "forbidden"))
        return CTR_EXIT_FORBIDDEN;
    if (!strcmp(code, "empty"))
        return CTR_EXIT_EMPTY;
    if (!strcmp(code, "unavailable"))
        return CTR_EXIT_NO_ANSWER;
    return CTR_EXIT_REFUSED;
}

const char *
ctr_identity_hint(void)
{
    return "give the counter token (--token or FOLENI_COUNTER_TOKEN) or the counter's CURVE certificate "
           "(FOLENI_CURVE_CERT, with the broker's in FOLENI_CURVE_SERVER)";
}
