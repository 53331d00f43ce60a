/*  oneshot.c — one command, one answer, one exit code.  See oneshot.h.
 *
 *  A command is a few requests sent together and waited for together: the
 *  action itself, plus list_services first when open has to find the
 *  counter's configured services, or list_offices + list_services + snapshot
 *  for status (read through a ctr_view_t, the same picture the screen draws).
 */
#include "counter/oneshot.h"

#include <assert.h>
#include <jansson.h>
#include <string.h>

#include "counter/link.h"
#include "counter/view.h"
#include "libfoleni/json.h"
#include "libfoleni/log.h"

/* Most requests one command sends at once. */
#define ONESHOT_ASKS 3
/* Longest message about a missing answer (it names the endpoint). */
#define ONESHOT_MESSAGE_MAX (CTR_PATH_MAX + 2 * CTR_SENTENCE_MAX)

/* One request and its answer. */
typedef struct {
    char      rid[FL_RID_MAX + 1];
    fl_msg_t *reply;                /* decoded reply (owned), once it came */
} ask_t;

typedef struct {
    const ctr_options_t *opts;
    FILE *out, *err;
    fl_security_t *security;
    ctr_link_t *link;
    ask_t asks[ONESHOT_ASKS];
    size_t nasks;
} run_t;

static void
s_run_free(run_t *run)
{
    for (size_t i = 0; i < run->nasks; i++)
        fl_msg_destroy(&run->asks[i].reply);
    ctr_link_destroy(&run->link);
    fl_security_destroy(&run->security);
}

/* Print an error as JSON (with --json) so a script reads one object either way. */
static void
s_json_error(run_t *run, const char *code, const char *message, const char *rid)
{
    if (!run->opts->json)
        return;
    json_t *j = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);
    if (j && rid)
        json_object_set_new(j, "rid", json_string(rid));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text)
        fprintf(run->out, "%s\n", text);
    free(text);
    json_decref(j);
}

/* Encode and send msg under rid; remembers it in run->asks. */
static int
s_send(run_t *run, const fl_msg_t *msg, const char *rid)
{
    assert(run->nasks < ONESHOT_ASKS);
    msgpack_sbuffer buf;
    fl_error_t err;
    int rc = ctr_encode(msg, &buf, &err);
    if (rc) {
        fprintf(run->err, "foleni-counter: %s\n", err.message);
        return CTR_EXIT_USAGE;
    }
    rc = ctr_link_send(run->link, CTR_SCHEDULER_SERVICE, rid, buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
    if (rc == FL_E_IO) {
        fprintf(run->err, "foleni-counter: %s\n", ctr_link_transport_text(run->link));
        s_json_error(run, "forbidden", ctr_link_transport_text(run->link), NULL);
        return CTR_EXIT_FORBIDDEN;
    }
    if (rc) {
        fprintf(run->err, "foleni-counter: cannot send the request (%s)\n", fl_error_name(rc));
        return rc == FL_E_INVALID ? CTR_EXIT_USAGE : CTR_EXIT_NO_ANSWER;
    }
    ask_t *a = &run->asks[run->nasks++];
    snprintf(a->rid, sizeof a->rid, "%s", rid);
    return 0;
}

/* A read-only request: type and office, a fresh request id frame. */
static int
s_send_query(run_t *run, fl_type_t type)
{
    fl_msg_t *m = fl_msg_new(type);
    if (!m)
        return CTR_EXIT_NO_ANSWER;
    if (fl_msg_takes(m, FL_F_OFFICE))
        fl_msg_set_str(m, FL_F_OFFICE, run->opts->office);
    char rid[33];
    fl_client_new_rid(rid);
    int rc = s_send(run, m, rid);
    fl_msg_destroy(&m);
    return rc;
}

/* Wait until every request sent has its reply.  action_rid names the
 * request that changes something, if one was sent.  0, or the exit code. */
static int
s_collect(run_t *run, const char *action_rid)
{
    while (true) {
        fl_reply_t r = { .held = NULL };
        int rc = ctr_link_wait(run->link, &r, -1);
        if (rc == FL_E_EMPTY)
            return 0;
        if (rc == FL_E_FORBIDDEN) {
            fprintf(run->err, "foleni-counter: %s\n", ctr_link_transport_text(run->link));
            s_json_error(run, "forbidden", ctr_link_transport_text(run->link), NULL);
            return CTR_EXIT_FORBIDDEN;
        }
        if (rc != 0 || r.status != 0) {
            bool action = action_rid && !strcmp(r.rid, action_rid);
            char message[ONESHOT_MESSAGE_MAX];
            if (action)
                snprintf(message, sizeof message,
                         "no answer from %s (broker: %s); the command may or may not have happened: run it again with "
                         "--rid %s and it happens at most once",
                         run->opts->broker, ctr_link_transport_text(run->link), action_rid);
            else
                snprintf(message, sizeof message, "no answer from %s (broker: %s)", run->opts->broker,
                         ctr_link_transport_text(run->link));
            fprintf(run->err, "foleni-counter: %s\n", message);
            s_json_error(run, "timeout", message, action ? action_rid : NULL);
            fl_reply_reset(&r);
            return CTR_EXIT_NO_ANSWER;
        }
        ask_t *a = NULL;
        for (size_t i = 0; i < run->nasks; i++)
            if (!strcmp(run->asks[i].rid, r.rid))
                a = &run->asks[i];
        fl_error_t err;
        fl_msg_t *m = r.nparts ? fl_msg_decode(r.parts[0].data, r.parts[0].size, &err) : NULL;
        fl_reply_reset(&r);
        if (!m) {
            fprintf(run->err, "foleni-counter: the answer is not a Foleni message\n");
            return CTR_EXIT_REFUSED;
        }
        if (a && !a->reply)
            a->reply = m;
        else
            fl_msg_destroy(&m);
    }
}

/* Report an error reply; returns its exit code. */
static int
s_refused(run_t *run, const char *what, const fl_msg_t *reply)
{
    const char *code = fl_msg_str(reply, FL_F_CODE), *message = fl_msg_str(reply, FL_F_MESSAGE);
    int exit_code = ctr_exit_for_error(code);
    if (exit_code == CTR_EXIT_FORBIDDEN)
        fprintf(run->err, "foleni-counter: the scheduler does not accept this terminal as counter %u of %s (%s): %s\n",
                run->opts->counter, run->opts->office, message, ctr_identity_hint());
    else if (exit_code == CTR_EXIT_NO_ANSWER)
        fprintf(run->err, "foleni-counter: no scheduler is answering behind the broker: %s\n", message);
    else
        fprintf(run->err, "foleni-counter: %s refused: %s (%s)\n", what, message, code);
    if (run->opts->json) {
        json_t *j = fl_msg_to_json(reply);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (text)
            fprintf(run->out, "%s\n", text);
        free(text);
        json_decref(j);
    }
    return exit_code;
}

static bool
s_is_error(const fl_msg_t *m)
{
    return fl_msg_type(m) == FL_T_ERROR;
}

static void
s_print_json(run_t *run, const fl_msg_t *m)
{
    json_t *j = fl_msg_to_json(m);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text)
        fprintf(run->out, "%s\n", text);
    free(text);
    json_decref(j);
}

/* ---- status ---- */

static int
s_status(run_t *run)
{
    int rc = s_send_query(run, FL_T_LIST_OFFICES);
    if (!rc)
        rc = s_send_query(run, FL_T_LIST_SERVICES);
    if (!rc)
        rc = s_send_query(run, FL_T_SNAPSHOT);
    if (!rc)
        rc = s_collect(run, NULL);
    if (rc)
        return rc;
    for (size_t i = 0; i < run->nasks; i++)
        if (!run->asks[i].reply)
            return CTR_EXIT_NO_ANSWER;
        else if (s_is_error(run->asks[i].reply))
            return s_refused(run, "status", run->asks[i].reply);
    ctr_view_t *v = ctr_view_new(run->opts->office, run->opts->counter);
    if (!v)
        return CTR_EXIT_REFUSED;
    int64_t now = zclock_mono();
    ctr_view_apply_offices(v, run->asks[0].reply);
    int known = ctr_view_apply_services(v, run->asks[1].reply);
    ctr_view_apply_board(v, run->asks[2].reply, now);
    if (known != 0) {
        fprintf(run->err, "foleni-counter: office %s has no counter %u\n", v->office, v->counter);
        s_json_error(run, "not_found", "no such counter", NULL);
        ctr_view_destroy(&v);
        return CTR_EXIT_REFUSED;
    }
    char serves[CTR_SENTENCE_MAX];
    ctr_view_serves_text(v, serves, sizeof serves);
    const ctr_current_t *cur = &v->current;
    static const char *const states[] = { "none", "called", "serving", "in_hand" };
    if (run->opts->json) {
        json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:[], s:o, s:[], s:I}", "office", v->office, "counter",
                              (int) v->counter, "name", v->counter_name, "state", v->state, "services",
                              "ticket", json_null(), "queues", "seq", (json_int_t) v->seq);
        for (size_t i = 0; j && i < v->nserves; i++)
            json_array_append_new(json_object_get(j, "services"), json_string(v->serves[i]));
        if (j && cur->state != CTR_TICKET_NONE)
            json_object_set_new(j, "ticket",
                                json_pack("{s:s, s:s, s:s, s:I, s:i}", "ticket", cur->ticket, "service", cur->service,
                                          "state", states[cur->state], "called", (json_int_t) cur->called,
                                          "calls", (int) cur->calls));
        for (size_t i = 0; j && i < v->nservices; i++) {
            const ctr_service_t *s = &v->services[i];
            if (s->mine && s->has_queue)
                json_array_append_new(json_object_get(j, "queues"),
                                      json_pack("{s:s, s:i, s:i, s:i}", "service", s->code, "waiting",
                                                (int) s->waiting, "wait_s", (int) s->wait_s, "open_counters",
                                                (int) s->open_counters));
        }
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (text)
            fprintf(run->out, "%s\n", text);
        free(text);
        json_decref(j);
    } else {
        fprintf(run->out, "Counter %u%s%s%s at %s: %s%s%s\n", v->counter, v->counter_name[0] ? " (" : "",
                v->counter_name, v->counter_name[0] ? ")" : "", v->office, v->state, serves[0] ? ", serves " : "",
                serves);
        if (cur->state == CTR_TICKET_NONE)
            fprintf(run->out, "No ticket in hand\n");
        else {
            char at[16];
            ctr_view_clock(v, cur->called, at, sizeof at);
            fprintf(run->out, "Ticket %s (%s) %s, called at %s, %u call%s\n", cur->ticket, cur->service,
                    cur->state == CTR_TICKET_SERVING ? "being served" : "in hand", at, cur->calls,
                    cur->calls == 1 ? "" : "s");
        }
        for (size_t i = 0; i < v->nservices; i++) {
            const ctr_service_t *s = &v->services[i];
            if (!s->mine || !s->has_queue)
                continue;
            fprintf(run->out, "%-8s %u waiting, about %u min, %u counter%s open\n", s->code, s->waiting,
                    (s->wait_s + 59) / 60, s->open_counters, s->open_counters == 1 ? "" : "s");
        }
    }
    ctr_view_destroy(&v);
    return CTR_EXIT_OK;
}

/* ---- actions ---- */

/* open without services: the ones the counter is configured for. */
static int
s_configured_services(run_t *run, ctr_options_t *opts)
{
    int rc = s_send_query(run, FL_T_LIST_SERVICES);
    if (!rc)
        rc = s_collect(run, NULL);
    if (rc)
        return rc;
    fl_msg_t *list = run->asks[0].reply;
    if (!list)
        return CTR_EXIT_NO_ANSWER;
    if (s_is_error(list))
        return s_refused(run, "open", list);
    for (size_t i = 0; i < fl_msg_count(list, FL_F_COUNTERS); i++) {
        const fl_msg_t *c = fl_msg_item(list, FL_F_COUNTERS, i);
        if (fl_msg_uint(c, FL_F_COUNTER) != opts->counter)
            continue;
        for (size_t k = 0; k < fl_msg_count(c, FL_F_SERVICE_CODES) && opts->nservices < CTR_SERVICES_MAX; k++)
            snprintf(opts->services[opts->nservices++], sizeof opts->services[0], "%s",
                     fl_msg_str_at(c, FL_F_SERVICE_CODES, k));
        return 0;
    }
    fprintf(run->err, "foleni-counter: office %s has no counter %u\n", opts->office, opts->counter);
    s_json_error(run, "not_found", "no such counter", NULL);
    return CTR_EXIT_REFUSED;
}

static int
s_action(run_t *run)
{
    ctr_options_t opts = *run->opts;      /* open may fill in services */
    ctr_action_t action = (ctr_action_t) opts.action;
    int rc = 0;
    if (action == CTR_ACT_OPEN && opts.nservices == 0 && (rc = s_configured_services(run, &opts)))
        return rc;
    const char *services[CTR_SERVICES_MAX];
    ctr_args_t args;
    ctr_options_args(&opts, &args, services);
    char rid[FL_RID_MAX + 1];
    if (opts.rid[0])
        snprintf(rid, sizeof rid, "%s", opts.rid);
    else
        fl_client_new_rid(rid);
    fl_error_t err;
    fl_msg_t *req = ctr_action_request(action, &args, rid, &err);
    if (!req) {
        fprintf(run->err, "foleni-counter: %s\n", err.message);
        return CTR_EXIT_USAGE;
    }
    size_t mine = run->nasks;
    rc = s_send(run, req, rid);
    fl_msg_destroy(&req);
    if (!rc)
        rc = s_collect(run, rid);
    if (rc)
        return rc;
    const fl_msg_t *reply = run->asks[mine].reply;
    if (!reply)
        return CTR_EXIT_NO_ANSWER;
    if (s_is_error(reply))
        return s_refused(run, ctr_action_spec(action)->command, reply);
    if (opts.json)
        s_print_json(run, reply);
    else {
        char sentence[CTR_SENTENCE_MAX];
        ctr_action_describe(action, &args, reply, sentence, sizeof sentence);
        fprintf(run->out, "%s\n", sentence);
    }
    return CTR_EXIT_OK;
}

int
ctr_oneshot_run(const ctr_options_t *opts, FILE *out, FILE *errout)
{
    assert(opts && opts->command);
    run_t run = { .opts = opts, .out = out, .err = errout };
    fl_error_t err;
    run.security = fl_security_from_env(&err);
    if (!run.security) {
        fprintf(errout, "foleni-counter: %s\n", err.message);
        return CTR_EXIT_USAGE;
    }
    fl_client_options_t copts = {
        .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : CTR_DEFAULT_TIMEOUT_MS,
        .retries = opts->retries >= 0 ? opts->retries : CTR_DEFAULT_RETRIES,
    };
    run.link = ctr_link_new(opts->broker, run.security, &copts, &err);
    if (!run.link) {
        fprintf(errout, "foleni-counter: %s\n", err.message);
        s_run_free(&run);
        return CTR_EXIT_NO_ANSWER;
    }
    int rc = opts->action < 0 ? s_status(&run) : s_action(&run);
    fflush(out);
    s_run_free(&run);
    return rc;
}
