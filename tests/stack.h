/*  stack.h — a real Foleni stack for end-to-end suites: broker and scheduler
 *  processes on free loopback ports, in a temporary folder.
 *
 *  tu_stack_start() writes the configuration, starts build/bin/foleni-broker
 *  and build/bin/foleni-scheduler (with a fixed clock when clock is given,
 *  counter token "counter-secret", admin token "admin-secret", its metrics
 *  file in st->metrics) and waits until
 *  the scheduler answers.  tu_stack_stop() stops both with SIGTERM, requires a
 *  clean exit, and runs `foleni-store check` on the data, which must pass
 *  and must have compared the index (where the places taken are counted).
 *  Call tu_stack_start inside the test body (Check forks each test).
 */
#ifndef FOLENI_TESTS_STACK_H
#define FOLENI_TESTS_STACK_H

#include <czmq.h>

#include "libfoleni/client.h"
#include "libfoleni/msg.h"

#define TU_COUNTER_TOKEN "counter-secret"
#define TU_ADMIN_TOKEN   "admin-secret"
/* 2026-12-01, a Tuesday, 09:00 in Nairobi (06:00 UTC). */
#define TU_TUE_0900      INT64_C(1796104800)

typedef struct {
    char *dir;
    char endpoint[64], publish[64], subscribe[64];
    char config[512], data[512], secret[512], log[512];
    char metrics[512];              /* the scheduler's --metrics-file */
    char clock[64];
    const char *scheduler_args[4];  /* more options for foleni-scheduler, NULL-ended */
    int broker, scheduler;          /* pids; 0 when not running */
} tu_stack_t;

/*  Start broker and scheduler with config_json (NULL: deploy/config/demo.json)
 *  and clock (NULL: real time; else what --clock takes). */
void tu_stack_start(tu_stack_t *st, const char *config_json, const char *clock);

/*  The same, with more options for foleni-scheduler (NULL-ended, at most 3;
 *  borrowed: they must outlive the stack), also used at each restart. */
void tu_stack_start_args(tu_stack_t *st, const char *config_json, const char *clock,
                         const char *const *scheduler_args);

/*  (Re)start only the scheduler, on the same store. */
void tu_stack_start_scheduler(tu_stack_t *st);

/*  Stop everything (SIGTERM, clean exits), check the store, remove the folder. */
void tu_stack_stop(tu_stack_t *st);

/*  A client of the stack's broker. */
fl_client_t *tu_stack_client(tu_stack_t *st, int timeout_ms, int retries);

/*  Start st's broker on three free ports (st->endpoint, publish and
 *  subscribe; st->log set), with extra arguments (NULL-terminated, or NULL),
 *  and wait until it serves.  tu_stack_start calls it. */
void tu_stack_start_broker(tu_stack_t *st, const char *const *extra);

/*  Send a request written as JSON to the scheduler and return the decoded
 *  reply (fails the test when there is none). */
fl_msg_t *tu_stack_call(fl_client_t *client, const char *json);

/*  Encode a request written as JSON (fails the test when it is not valid). */
void tu_encode_json(const char *json, msgpack_sbuffer *buf);

#endif
