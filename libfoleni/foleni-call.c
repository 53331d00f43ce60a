/*  foleni-call — send one request, written as JSON, and print the reply as JSON.
 *
 *    foleni-call [options] '{"type":"list_offices"}'
 *
 *  The operator's and tester's way to talk to the scheduler (or any Foleni
 *  service) by hand: the JSON is checked against the protocol (schema.h) before
 *  it is sent, a request id is added to requests that change state (or use
 *  --rid), and the msgpack reply is printed as one line of JSON.  Exit codes:
 *  0 a reply that is not an error, 1 an `error` reply, 2 usage or bad JSON,
 *  3 no reply in time.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libfoleni/client.h"
#include "libfoleni/json.h"
#include "libfoleni/log.h"

int
main(int argc, char **argv)
{
    const char *endpoint = getenv("FOLENI_BROKER"), *service = "foleni.scheduler", *rid = NULL;
    if (!endpoint || !*endpoint)
        endpoint = "tcp://127.0.0.1:5555";
    fl_client_options_t opts = { .timeout_ms = 3000, .retries = 3 };
    static const struct option longopts[] = {
        { "endpoint", required_argument, NULL, 'e' }, { "service", required_argument, NULL, 's' },
        { "rid", required_argument, NULL, 'r' }, { "timeout-ms", required_argument, NULL, 't' },
        { "retries", required_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "e:s:r:t:n:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'e': endpoint = optarg; break;
        case 's': service = optarg; break;
        case 'r': rid = optarg; break;
        case 't': opts.timeout_ms = atoi(optarg); break;
        case 'n': opts.retries = atoi(optarg); break;
        case 'h':
            printf("usage: foleni-call [-e EP] [-s SERVICE] [--rid ID] [--timeout-ms N] [--retries N] JSON\n"
                   "exit codes: 0 reply, 1 error reply, 2 usage or bad JSON, 3 no reply in time\n");
            return 0;
        default: return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: foleni-call [options] JSON\n");
        return 2;
    }
    fl_log_init("call", FL_LOG_WARN);
    json_error_t jerr;
    json_t *json = json_loads(argv[optind], 0, &jerr);
    if (!json) {
        fprintf(stderr, "foleni-call: bad JSON: %s\n", jerr.text);
        return 2;
    }
    char fresh[33];
    fl_client_new_rid(fresh);
    json_t *type = json_object_get(json, "type");
    if (type && json_is_string(type)) {
        fl_type_t t = fl_schema_type_by_name(json_string_value(type), json_string_length(type));
        if (t != FL_T_NONE && fl_schema_is_mutating(t) && !json_object_get(json, "rid"))
            json_object_set_new(json, "rid", json_string(rid ? rid : fresh));
    }
    fl_error_t err;
    fl_msg_t *msg = fl_msg_from_json(json, &err);
    json_decref(json);
    if (!msg) {
        fprintf(stderr, "foleni-call: %s\n", err.message);
        return 2;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = fl_msg_encode(msg, &buf, &err);
    fl_msg_destroy(&msg);
    if (rc) {
        fprintf(stderr, "foleni-call: %s\n", err.message);
        msgpack_sbuffer_destroy(&buf);
        return 2;
    }
    fl_security_t *sec = fl_security_from_env(&err);
    fl_client_t *client = sec ? fl_client_new(endpoint, sec, &opts, &err) : NULL;
    fl_reply_t reply = { .held = NULL };
    int status = 3;
    if (client && fl_client_call(client, service, buf.data, buf.size, &reply, &err) == 0) {
        const fl_part_t *f = reply.nparts ? &reply.parts[0] : NULL;
        fl_msg_t *r = f ? fl_msg_decode(f->data, f->size, &err) : NULL;
        json_t *out = r ? fl_msg_to_json(r) : NULL;
        char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
        if (text) {
            printf("%s\n", text);
            status = fl_msg_type(r) == FL_T_ERROR ? 1 : 0;
        } else {
            fprintf(stderr, "foleni-call: the reply is not a Foleni message: %s\n", err.message);
            status = 1;
        }
        free(text);
        json_decref(out);
        fl_msg_destroy(&r);
    } else
        fprintf(stderr, "foleni-call: %s\n", err.message);
    fl_reply_reset(&reply);
    fl_client_destroy(&client);
    fl_security_destroy(&sec);
    msgpack_sbuffer_destroy(&buf);
    return status;
}
