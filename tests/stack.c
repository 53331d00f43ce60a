/*  stack.c — starting and stopping a real broker and scheduler for tests.  See stack.h. */
#include "tests/stack.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libfoleni/json.h"
#include "tests/testutil.h"

void
tu_encode_json(const char *json, msgpack_sbuffer *buf)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    ck_assert_msg(j != NULL, "test JSON: %s", jerr.text);
    fl_error_t err;
    fl_msg_t *m = fl_msg_from_json(j, &err);
    json_decref(j);
    ck_assert_msg(m != NULL, "test request: %s", err.message);
    msgpack_sbuffer_init(buf);
    ck_assert_int_eq(fl_msg_encode(m, buf, NULL), 0);
    fl_msg_destroy(&m);
}

fl_client_t *
tu_stack_client(tu_stack_t *st, int timeout_ms, int retries)
{
    fl_client_options_t o = { .timeout_ms = timeout_ms, .retries = retries, .max_outstanding = 4096 };
    fl_client_t *c = fl_client_new(st->endpoint, NULL, &o, NULL);
    ck_assert_ptr_nonnull(c);
    return c;
}

fl_msg_t *
tu_stack_call(fl_client_t *c, const char *json)
{
    msgpack_sbuffer buf;
    tu_encode_json(json, &buf);
    fl_reply_t reply;
    fl_error_t err;
    int rc = fl_client_call(c, "foleni.scheduler", buf.data, buf.size, &reply, &err);
    msgpack_sbuffer_destroy(&buf);
    ck_assert_msg(rc == 0, "%s", err.message);
    fl_msg_t *m = reply.nparts ? fl_msg_decode(reply.parts[0].data, reply.parts[0].size, NULL) : NULL;
    fl_reply_reset(&reply);
    ck_assert_ptr_nonnull(m);
    return m;
}

void
tu_stack_start_scheduler(tu_stack_t *st)
{
    const char *argv[32] = { tu_bin("foleni-scheduler"), "-c", st->config, "-d", st->data, "-e", st->endpoint,
                             "-p", st->publish, "--secret-file", st->secret, "--create-secret",
                             "--counter-token", TU_COUNTER_TOKEN, "--admin-token", TU_ADMIN_TOKEN,
                             "--heartbeat-ms", "200", "--metrics-file", st->metrics };
    int n = 20;
    if (st->clock[0]) {
        argv[n++] = "--clock";
        argv[n++] = st->clock;
    }
    for (size_t i = 0; i < sizeof st->scheduler_args / sizeof st->scheduler_args[0] && st->scheduler_args[i]; i++)
        argv[n++] = st->scheduler_args[i];
    argv[n] = NULL;
    st->scheduler = tu_spawn(st->log, argv);
    fl_client_t *c = tu_stack_client(st, 500, 20);
    fl_msg_t *r = tu_stack_call(c, "{\"type\":\"list_offices\"}");
    ck_assert_int_eq(fl_msg_type(r), FL_T_OFFICE_LIST);
    fl_msg_destroy(&r);
    fl_client_destroy(&c);
}

/* One of the three free ports may be taken between being picked and being
 * bound; then the broker says so and ends at once, and we pick again. */
void
tu_stack_start_broker(tu_stack_t *st, const char *const *extra)
{
    for (int attempt = 1;; attempt++) {
        int ports[3];
        tu_free_ports(ports, 3);
        snprintf(st->endpoint, sizeof st->endpoint, "tcp://127.0.0.1:%d", ports[0]);
        snprintf(st->publish, sizeof st->publish, "tcp://127.0.0.1:%d", ports[1]);
        snprintf(st->subscribe, sizeof st->subscribe, "tcp://127.0.0.1:%d", ports[2]);
        const char *argv[24] = { tu_bin("foleni-broker"), "-e", st->endpoint, "-p", st->publish, "-s",
                                 st->subscribe, "--heartbeat-ms", "200", "--log-level", "info" };
        int n = 11;                         /* info: the "broker serving" line we wait for */
        for (int i = 0; extra && extra[i]; i++) {
            ck_assert_int_lt(n, 23);
            argv[n++] = extra[i];
        }
        argv[n] = NULL;
        st->broker = tu_spawn(st->log, argv);
        char serving[200];
        snprintf(serving, sizeof serving, "msg=\"broker serving\" endpoint=%s ", st->endpoint);
        if (tu_wait_started(st->broker, st->log, serving, 10000))
            return;
        st->broker = 0;
        const char *endpoints[] = { st->endpoint, st->publish, st->subscribe };
        ck_assert_msg(tu_bind_refused(st->log, endpoints, 3), "the broker ended at start (log: %s)", st->log);
        ck_assert_msg(attempt < 5, "the broker could not bind free ports in 5 attempts (%s)", st->log);
    }
}

void
tu_stack_start(tu_stack_t *st, const char *config_json, const char *clock)
{
    tu_stack_start_args(st, config_json, clock, NULL);
}

void
tu_stack_start_args(tu_stack_t *st, const char *config_json, const char *clock, const char *const *scheduler_args)
{
    zsys_handler_set(NULL);
    zsys_init();
    zsys_set_linger(0);
    zsys_set_max_sockets(4096);
    memset(st, 0, sizeof *st);
    for (size_t i = 0; scheduler_args && scheduler_args[i]; i++) {
        ck_assert_uint_lt(i, sizeof st->scheduler_args / sizeof st->scheduler_args[0] - 1);
        st->scheduler_args[i] = scheduler_args[i];
    }
    st->dir = tu_tempdir();
    snprintf(st->data, sizeof st->data, "%s/data", st->dir);
    snprintf(st->secret, sizeof st->secret, "%s/secret", st->dir);
    snprintf(st->log, sizeof st->log, "%s/stack.log", st->dir);
    snprintf(st->metrics, sizeof st->metrics, "%s/scheduler.prom", st->dir);
    snprintf(st->clock, sizeof st->clock, "%s", clock ? clock : "");
    if (config_json) {
        snprintf(st->config, sizeof st->config, "%s/config.json", st->dir);
        FILE *f = fopen(st->config, "w");
        ck_assert_ptr_nonnull(f);
        fputs(config_json, f);
        fclose(f);
    } else
        snprintf(st->config, sizeof st->config, "deploy/config/demo.json");
    tu_stack_start_broker(st, NULL);
    tu_stack_start_scheduler(st);
}

void
tu_stack_stop(tu_stack_t *st)
{
    if (st->scheduler)
        ck_assert_int_eq(tu_stop(st->scheduler, SIGTERM, 5000), 0);
    if (st->broker)
        ck_assert_int_eq(tu_stop(st->broker, SIGTERM, 5000), 0);
    st->scheduler = st->broker = 0;
    /* after a clean stop the index is trusted, so the check compares it and
     * the places taken in each slot, which are counted only there */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "out=$(%s --data %s check) && ! printf '%%s' \"$out\" | grep -q 'not compared'",
             tu_bin("foleni-store"), st->data);
    ck_assert_msg(system(cmd) == 0, "foleni-store check of the stack's store failed or did not compare the index");
    tu_rmtree(st->dir);
}
