/*  test_counter.c — foleni-counter end to end: the real program against a
 *  real broker and scheduler (tests/stack.h) on the demo office, on a fixed
 *  clock (Tuesday 2026-12-01, 09:00 in Nairobi: the office is open).
 *
 *  One-shot mode is run as a process and judged by what it prints and its
 *  exit code.  The full-screen mode runs inside tmux (a private server on a
 *  socket in the test's folder, 120x40) and is driven with send-keys and read
 *  with capture-pane: what the clerk would see.  Every wait is a bounded
 *  poll for a condition, never a sleep that hopes.
 *
 *  Demo counters: 2 serves PASSPORT and IDCARD, 3 serves IDCARD and BIRTH.
 */
#include <czmq.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/stack.h"
#include "tests/testutil.h"

#define CLOCK          "2026-12-01T06:00:00Z"
#define OUT_MAX        16384            /* stdout or stderr kept from one run */
#define SCREEN_MAX     65536            /* one capture of the pane */
#define WAIT_MS        8000             /* the longest any condition is waited for */
#define ARGS_MAX       48
#define RUN_MAX_MS     30000            /* a one-shot run that takes longer has hung */
#define SCREEN_LIFE_S  90               /* a screen left by a failed test ends by itself */

/* ---- running foleni-counter once ---- */

typedef struct {
    int  code;
    char out[OUT_MAX];
    char err[OUT_MAX];
} run_t;

/* Run argv (argv[0] a path), stdout and stderr to files in dir; FOLENI_*
 * variables of the test's environment are not passed on. */
static int
s_exec(const char *dir, const char *const *argv, run_t *r)
{
    char out[600], err[600];
    snprintf(out, sizeof out, "%s/run.out", dir);
    snprintf(err, sizeof err, "%s/run.err", dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fo, 1);
        dup2(fe, 2);
        const char *vars[] = { "FOLENI_BROKER", "FOLENI_EVENTS_OUT", "FOLENI_COUNTER_TOKEN", "FOLENI_CURVE_CERT",
                               "FOLENI_CURVE_SERVER" };
        for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
            if (!getenv("CTR_KEEP_CURVE") || strncmp(vars[i], "FOLENI_CURVE", 12) != 0)
                unsetenv(vars[i]);
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    int status, waited = 0;
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (waited >= RUN_MAX_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            char line[1024] = "";
            for (int i = 0; argv[i]; i++)
                snprintf(line + strlen(line), sizeof line - strlen(line), " %s", argv[i]);
            ck_abort_msg("did not end within %d ms:%s", RUN_MAX_MS, line);
        }
        zclock_sleep(5);
        waited += 5;
    }
    tu_read_file(out, r->out, sizeof r->out);
    tu_read_file(err, r->err, sizeof r->err);
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r->code;
}

/* foleni-counter --office NBIGPO -e BROKER --events EVENTS [--token T] WORDS...
 * (words split at spaces). */
static int
s_counter(const tu_stack_t *st, const char *token, run_t *r, const char *fmt, ...)
{
    static char words[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(words, sizeof words, fmt, ap);
    va_end(ap);
    const char *argv[ARGS_MAX];
    int n = 0;
    argv[n++] = tu_bin("foleni-counter");
    argv[n++] = "--office";
    argv[n++] = "NBIGPO";
    argv[n++] = "-e";
    argv[n++] = st->endpoint;
    argv[n++] = "--events";
    argv[n++] = st->subscribe;
    if (token) {
        argv[n++] = "--token";
        argv[n++] = token;
    }
    for (char *w = strtok(words, " "); w && n < ARGS_MAX - 1; w = strtok(NULL, " "))
        argv[n++] = w;
    argv[n] = NULL;
    return s_exec(st->dir, argv, r);
}

#define ASSERT_RUN(r, want_code, want_out) do { \
        ck_assert_msg((r).code == (want_code), "exit %d, want %d\nstdout: %s\nstderr: %s", (r).code, (want_code), \
                      (r).out, (r).err); \
        ck_assert_msg(strstr((r).out, (want_out)) != NULL, "stdout lacks \"%s\":\n%s\nstderr: %s", (want_out), \
                      (r).out, (r).err); \
    } while (0)
#define ASSERT_ERR(r, want_code, want_err) do { \
        ck_assert_msg((r).code == (want_code), "exit %d, want %d\nstdout: %s\nstderr: %s", (r).code, (want_code), \
                      (r).out, (r).err); \
        ck_assert_msg(strstr((r).err, (want_err)) != NULL, "stderr lacks \"%s\":\n%s", (want_err), (r).err); \
    } while (0)

/* What a failed test leaves running (Check ends a failed test with exit()):
 * the stack's processes and the tmux server are stopped at exit.  Tests keep
 * their stack in a static, so the pointer is good after the test returns. */
static tu_stack_t *s_live_stack;
static char s_live_tmux[600];

static void
s_cleanup_at_exit(void)
{
    if (s_live_tmux[0]) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "tmux -S '%s' kill-server 2>/dev/null", s_live_tmux);
        int rc = system(cmd);
        (void) rc;
    }
    if (s_live_stack) {
        if (s_live_stack->broker)
            kill(s_live_stack->broker, SIGKILL);
        if (s_live_stack->scheduler)
            kill(s_live_stack->scheduler, SIGKILL);
    }
}

static void
s_watch(tu_stack_t *st)
{
    s_live_stack = st;
    atexit(s_cleanup_at_exit);
}

static void
s_start(tu_stack_t *st)
{
    unsetenv("FOLENI_CURVE_CERT");
    unsetenv("FOLENI_CURVE_SERVER");
    s_watch(st);
    tu_stack_start(st, NULL, CLOCK);
}

/* n walk-in tickets for service, through the scheduler directly. */
static void
s_walkins(tu_stack_t *st, const char *service, int n)
{
    static int serial;
    fl_client_t *c = tu_stack_client(st, 2000, 2);
    for (int i = 0; i < n; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"type\":\"walkin\",\"rid\":\"walkin-%d-%06d\",\"office\":\"NBIGPO\","
                 "\"service\":\"%s\",\"priority\":\"none\"}", (int) getpid(), ++serial, service);
        fl_msg_t *m = tu_stack_call(c, json);
        ck_assert_int_eq(fl_msg_type(m), FL_T_TICKET);
        fl_msg_destroy(&m);
    }
    fl_client_destroy(&c);
}

/* The board, from the scheduler directly. */
static fl_msg_t *
s_board(tu_stack_t *st)
{
    fl_client_t *c = tu_stack_client(st, 2000, 2);
    fl_msg_t *m = tu_stack_call(c, "{\"type\":\"snapshot\",\"office\":\"NBIGPO\"}");
    fl_client_destroy(&c);
    ck_assert_int_eq(fl_msg_type(m), FL_T_BOARD);
    return m;
}

static unsigned
s_waiting(const fl_msg_t *board, const char *service)
{
    for (size_t i = 0; i < fl_msg_count(board, FL_F_QUEUES); i++) {
        const fl_msg_t *q = fl_msg_item(board, FL_F_QUEUES, i);
        if (!strcmp(fl_msg_str(q, FL_F_SERVICE), service))
            return (unsigned) fl_msg_uint(q, FL_F_WAITING);
    }
    ck_abort_msg("no queue for %s", service);
    return 0;
}

/* ---- one-shot mode ---- */

START_TEST(test_oneshot_a_clerks_day_open_next_recall_start_done_noshow_transfer_pause)
{
    static tu_stack_t st;
    s_start(&st);
    const char *tok = TU_COUNTER_TOKEN;
    run_t r;
    s_counter(&st, NULL, &r, "--counter 3 status");
    ASSERT_RUN(r, 0, "Counter 3 (Dirisha 3) at NBIGPO: closed, serves IDCARD, BIRTH");
    s_counter(&st, tok, &r, "--counter 3 next");
    ASSERT_ERR(r, 1, "counter 3 is closed");
    s_counter(&st, tok, &r, "--counter 3 open");            /* the configured services */
    ASSERT_RUN(r, 0, "Counter 3 open for IDCARD, BIRTH");
    s_counter(&st, tok, &r, "--counter 3 next");
    ASSERT_ERR(r, 5, "no one is waiting");
    s_walkins(&st, "IDCARD", 4);
    s_counter(&st, tok, &r, "--counter 3 next");
    ASSERT_RUN(r, 0, "Ticket I-001 called to counter 3");
    s_counter(&st, tok, &r, "--counter 3 recall");
    ASSERT_RUN(r, 0, "Ticket I-001 called again to counter 3");
    s_counter(&st, tok, &r, "--counter 3 start");
    ASSERT_RUN(r, 0, "Serving ticket I-001 at counter 3");
    s_counter(&st, tok, &r, "--counter 3 next");
    ASSERT_ERR(r, 1, "finish ticket I-001 first");
    s_counter(&st, tok, &r, "--counter 3 done");
    ASSERT_RUN(r, 0, "Ticket I-001 done");
    s_counter(&st, tok, &r, "--counter 3 next");
    ASSERT_RUN(r, 0, "Ticket I-002 called to counter 3");
    s_counter(&st, tok, &r, "--counter 3 noshow");
    ASSERT_RUN(r, 0, "Ticket I-002 marked no-show");
    s_counter(&st, tok, &r, "--counter 3 next");
    ASSERT_RUN(r, 0, "Ticket I-003 called to counter 3");
    s_counter(&st, tok, &r, "--counter 3 transfer --to-service birth");
    ASSERT_RUN(r, 0, "Ticket I-003 transferred to BIRTH");
    /* a transferred ticket keeps its arrival time: it comes before I-004 */
    s_counter(&st, tok, &r, "--counter 3 next");
    ASSERT_RUN(r, 0, "Ticket I-003 called to counter 3");
    s_counter(&st, tok, &r, "--counter 3 transfer --to-counter 2");
    ASSERT_RUN(r, 0, "Ticket I-003 transferred to counter 2");
    s_counter(&st, tok, &r, "--counter 3 pause");
    ASSERT_RUN(r, 0, "Counter 3 paused");
    s_counter(&st, tok, &r, "--counter 3 next");
    ASSERT_ERR(r, 1, "counter 3 is paused");
    s_counter(&st, NULL, &r, "--counter 3 status");
    ASSERT_RUN(r, 0, "Counter 3 (Dirisha 3) at NBIGPO: paused, serves IDCARD, BIRTH");
    ck_assert_msg(strstr(r.out, "No ticket in hand") && strstr(r.out, "IDCARD   1 waiting"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "BIRTH    1 waiting"), "%s", r.out);
    s_counter(&st, tok, &r, "--counter 3 open IDCARD");      /* resume, for one service */
    ASSERT_RUN(r, 0, "Counter 3 open for IDCARD");
    s_counter(&st, tok, &r, "--counter 3 close");
    ASSERT_RUN(r, 0, "Counter 3 closed");
    fl_msg_t *board = s_board(&st);
    ck_assert_uint_eq(s_waiting(board, "IDCARD"), 1);       /* I-004 */
    ck_assert_uint_eq(s_waiting(board, "BIRTH"), 1);        /* I-003, for counter 2 */
    fl_msg_destroy(&board);
    tu_stack_stop(&st);
}
END_TEST

START_TEST(test_oneshot_json_prints_the_reply_and_errors_as_one_object)
{
    static tu_stack_t st;
    s_start(&st);
    run_t r;
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 2 --json open --services passport,idcard");
    ck_assert_int_eq(r.code, 0);
    json_error_t jerr;
    json_t *j = json_loads(r.out, 0, &jerr);
    ck_assert_msg(j != NULL, "not JSON: %s", r.out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "counter_state");
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "open");
    ck_assert_int_eq(json_array_size(json_object_get(j, "service_codes")), 2);
    json_decref(j);
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 2 --json next");
    ck_assert_int_eq(r.code, 5);
    j = json_loads(r.out, 0, &jerr);
    ck_assert_msg(j != NULL, "not JSON: %s", r.out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "error");
    ck_assert_str_eq(json_string_value(json_object_get(j, "code")), "empty");
    json_decref(j);
    s_walkins(&st, "PASSPORT", 1);
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 2 --json next");
    ck_assert_int_eq(r.code, 0);
    j = json_loads(r.out, 0, &jerr);
    ck_assert_msg(j != NULL, "not JSON: %s", r.out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "ticket");
    ck_assert_str_eq(json_string_value(json_object_get(j, "ticket")), "P-001");
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "called");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "counter")), 2);
    json_decref(j);
    s_counter(&st, NULL, &r, "--counter 2 --json status");
    ck_assert_int_eq(r.code, 0);
    j = json_loads(r.out, 0, &jerr);
    ck_assert_msg(j != NULL, "not JSON: %s", r.out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "open");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "ticket"), "ticket")), "P-001");
    ck_assert_int_eq(json_array_size(json_object_get(j, "queues")), 2);
    json_decref(j);
    tu_stack_stop(&st);
}
END_TEST

START_TEST(test_oneshot_wrong_or_missing_token_is_refused_with_exit_4_and_changes_nothing)
{
    static tu_stack_t st;
    s_start(&st);
    run_t r;
    s_counter(&st, "not-the-token", &r, "--counter 3 open");
    ASSERT_ERR(r, 4, "does not accept this terminal as counter 3 of NBIGPO");
    ck_assert_msg(strstr(r.err, "FOLENI_COUNTER_TOKEN") && strstr(r.err, "FOLENI_CURVE_CERT"), "%s", r.err);
    ck_assert_str_eq(r.out, "");
    s_counter(&st, NULL, &r, "--counter 3 next");
    ASSERT_ERR(r, 4, "only a counter may do this");
    s_counter(&st, NULL, &r, "--counter 3 status");
    ASSERT_RUN(r, 0, "at NBIGPO: closed");
    tu_stack_stop(&st);
}
END_TEST

START_TEST(test_oneshot_same_request_id_twice_calls_one_ticket)
{
    static tu_stack_t st;
    s_start(&st);
    run_t r;
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 3 open");
    ck_assert_int_eq(r.code, 0);
    s_walkins(&st, "IDCARD", 2);
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 3 next --rid script-next-000001");
    ASSERT_RUN(r, 0, "Ticket I-001 called to counter 3");
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 3 next --rid script-next-000001");
    ASSERT_RUN(r, 0, "Ticket I-001 called to counter 3");   /* the first answer again */
    fl_msg_t *board = s_board(&st);
    ck_assert_uint_eq(s_waiting(board, "IDCARD"), 1);       /* I-002 was not called */
    fl_msg_destroy(&board);
    tu_stack_stop(&st);
}
END_TEST

START_TEST(test_oneshot_no_broker_exits_3_and_names_the_request_id)
{
    char *dir = tu_tempdir();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", tu_free_port());
    const char *argv[] = { tu_bin("foleni-counter"), "--office", "NBIGPO", "--counter", "3", "-e", ep, "--token",
                           "x", "--timeout-ms", "150", "--retries", "1", "--rid", "rid-for-retry-0001", "next", NULL };
    run_t r;
    s_exec(dir, argv, &r);
    ASSERT_ERR(r, 3, "--rid rid-for-retry-0001");
    /* the link's state comes from the socket monitor: "not reachable" once a
     * connect has failed, "connecting" if the monitor has not said so yet (a
     * slow run, under AddressSanitizer); both are true, neither a success */
    ck_assert_msg(strstr(r.err, "no answer from")
                  && (strstr(r.err, "not reachable") || strstr(r.err, "(broker: connecting)")), "%s", r.err);
    const char *status[] = { tu_bin("foleni-counter"), "--office", "NBIGPO", "--counter", "3", "-e", ep,
                             "--timeout-ms", "150", "--retries", "0", "--json", "status", NULL };
    s_exec(dir, status, &r);
    ck_assert_int_eq(r.code, 3);
    ck_assert_msg(strstr(r.out, "\"code\":\"timeout\""), "%s", r.out);
    tu_rmtree(dir);
}
END_TEST

/* A table of command lines that are wrong, each refused with exit 2 and a reason. */
START_TEST(test_usage_errors_exit_2_with_a_reason)
{
    static const struct {
        const char *args;
        const char *reason;
    } cases[] = {
        { "--counter 3 next", "--office" },
        { "--office NBIGPO next", "--counter" },
        { "--office NBIGPO --counter 0 next", "from 1 to 999" },
        { "--office NBIGPO --counter 3 fly", "unknown command 'fly'" },
        { "--office NBIGPO --counter 3 transfer", "--to-service" },
        { "--office NBIGPO --counter 3 next --to-counter 2", "go with transfer" },
        { "--office NBIGPO --counter 3 next PASSPORT", "only open takes words" },
        { "--office NBIGPO --counter 3 open PASS-P", "letters and digits" },
        { "--office NBIGPO --counter 3 next --ticket I-001", "--ticket goes with" },
        { "--office NBIGPO --counter 3 next --rid short", "8 to 64" },
        { "--office NBIGPO --counter 3 --bogus next", "unknown option" },
        { "--office NBIGPO --counter 3", "needs a terminal" },      /* stdout is a file here */
    };
    char *dir = tu_tempdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char words[256];
        snprintf(words, sizeof words, "%s", cases[i].args);
        const char *argv[ARGS_MAX] = { tu_bin("foleni-counter") };
        int n = 1;
        for (char *w = strtok(words, " "); w; w = strtok(NULL, " "))
            argv[n++] = w;
        argv[n] = NULL;
        run_t r;
        s_exec(dir, argv, &r);
        ck_assert_msg(r.code == 2, "%s: exit %d (%s)", cases[i].args, r.code, r.err);
        ck_assert_msg(strstr(r.err, cases[i].reason), "%s: stderr lacks \"%s\": %s", cases[i].args, cases[i].reason,
                      r.err);
    }
    const char *help[] = { tu_bin("foleni-counter"), "--help", NULL };
    run_t r;
    s_exec(dir, help, &r);
    ASSERT_RUN(r, 0, "Exit codes: 0 done");
    tu_rmtree(dir);
}
END_TEST

/* ---- identity with CURVE ---- */

static void
s_keygen(const char *dir, const char *name)
{
    /* counter3's key is bound to counter 3 of NBIGPO (certificate metadata) */
    bool bound = !strcmp(name, "counter3");
    const char *argv[] = { tu_bin("foleni-keygen"), "--dir", dir, bound ? "--office" : name, "NBIGPO",
                           "--counter", "3", name, NULL };
    if (!bound)
        argv[4] = NULL;
    int pid = tu_spawn(NULL, argv);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
s_copy(const char *from, const char *to)
{
    char buf[4096];
    FILE *in = fopen(from, "r"), *out = fopen(to, "w");
    ck_assert(in && out);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
}

START_TEST(test_curve_key_identifies_the_counter_and_a_stranger_is_told_plainly)
{
    static tu_stack_t st;
    memset(&st, 0, sizeof st);
    s_watch(&st);
    st.dir = tu_tempdir();
    char keys[600], clients[600], counters[600], path[700], path2[700];
    snprintf(keys, sizeof keys, "%s/keys", st.dir);
    snprintf(clients, sizeof clients, "%s/clients", st.dir);
    snprintf(counters, sizeof counters, "%s/counters", st.dir);
    ck_assert_int_eq(mkdir(keys, 0700), 0);
    ck_assert_int_eq(mkdir(clients, 0700), 0);
    ck_assert_int_eq(mkdir(counters, 0700), 0);
    const char *names[] = { "broker", "scheduler", "counter3", "portal", "stranger" };
    for (size_t i = 0; i < 5; i++)
        s_keygen(keys, names[i]);
    /* the broker knows the scheduler, the counter and the portal; the scheduler
     * takes only the counter's key as a counter's */
    for (size_t i = 1; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s.cert", keys, names[i]);
        snprintf(path2, sizeof path2, "%s/%s.cert", clients, names[i]);
        s_copy(path, path2);
    }
    snprintf(path, sizeof path, "%s/counter3.cert", keys);
    snprintf(path2, sizeof path2, "%s/counter3.cert", counters);
    s_copy(path, path2);
    snprintf(st.data, sizeof st.data, "%s/data", st.dir);
    snprintf(st.log, sizeof st.log, "%s/stack.log", st.dir);
    char server[700], sched_cert[700];
    snprintf(server, sizeof server, "%s/broker.cert", keys);
    snprintf(sched_cert, sizeof sched_cert, "%s/scheduler.cert", keys);
    const char *broker_args[] = { "--cert", server, "--clients", clients, NULL };
    tu_stack_start_broker(&st, broker_args);
    char secret[700];
    snprintf(secret, sizeof secret, "%s/secret", st.dir);
    setenv("FOLENI_CURVE_CERT", sched_cert, 1);
    setenv("FOLENI_CURVE_SERVER", server, 1);
    const char *sched[] = { tu_bin("foleni-scheduler"), "-c", "deploy/config/demo.json", "-d", st.data, "-e",
                            st.endpoint, "-p", st.publish, "--secret-file", secret, "--create-secret",
                            "--counter-keys", counters, "--heartbeat-ms", "200", "--clock", CLOCK, NULL };
    st.scheduler = tu_spawn(st.log, sched);
    setenv("CTR_KEEP_CURVE", "1", 1);           /* s_exec passes FOLENI_CURVE_* on */
    run_t r;
    /* the counter's own key, no token: wait until the scheduler is up */
    snprintf(path, sizeof path, "%s/counter3.cert", keys);
    setenv("FOLENI_CURVE_CERT", path, 1);
    for (int i = 0; i < 40; i++) {
        s_counter(&st, NULL, &r, "--counter 3 --timeout-ms 500 --retries 0 open");
        if (r.code != 3)
            break;
    }
    ASSERT_RUN(r, 0, "Counter 3 open for IDCARD, BIRTH");
    /* the same key on another counter: its certificate binds it to counter 3 */
    s_counter(&st, NULL, &r, "--counter 1 open");
    ASSERT_ERR(r, 4, "this key belongs to counter 3 of NBIGPO");
    /* a key the broker does not know: refused at the door */
    snprintf(path, sizeof path, "%s/stranger.cert", keys);
    setenv("FOLENI_CURVE_CERT", path, 1);
    s_counter(&st, NULL, &r, "--counter 3 pause");
    ASSERT_ERR(r, 4, "the broker refused this terminal's CURVE key");
    /* a key the broker knows, but not as a counter's */
    snprintf(path, sizeof path, "%s/portal.cert", keys);
    setenv("FOLENI_CURVE_CERT", path, 1);
    s_counter(&st, NULL, &r, "--counter 3 pause");
    ASSERT_ERR(r, 4, "does not accept this terminal as counter 3");
    /* no certificate at all against a CURVE broker */
    unsetenv("FOLENI_CURVE_CERT");
    unsetenv("FOLENI_CURVE_SERVER");
    s_counter(&st, NULL, &r, "--counter 3 pause");
    ASSERT_ERR(r, 4, "the broker requires CURVE");
    unsetenv("CTR_KEEP_CURVE");
    tu_stack_stop(&st);
}
END_TEST

/* ---- full-screen mode, through tmux ---- */

typedef struct {
    char sock[600];
    char exit_file[600];
    char last[SCREEN_MAX];              /* the last capture */
} tmux_t;

static int
s_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Start the full-screen counter in a detached 120x40 tmux session. */
static void
s_screen_start(tmux_t *t, const tu_stack_t *st, unsigned counter, const char *token, const char *extra)
{
    snprintf(t->sock, sizeof t->sock, "%s/tmux.sock", st->dir);
    snprintf(t->exit_file, sizeof t->exit_file, "%s/screen.exit", st->dir);
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "env -u FOLENI_COUNTER_TOKEN -u FOLENI_CURVE_CERT -u FOLENI_CURVE_SERVER TERM=screen "
             "timeout --foreground -s KILL %d %s --office NBIGPO --counter %u -e %s --events %s --token %s --log %s/screen.log "
             "%s; echo $? > %s",
             SCREEN_LIFE_S, tu_bin("foleni-counter"), counter, st->endpoint, st->subscribe, token, st->dir,
             extra ? extra : "", t->exit_file);
    snprintf(s_live_tmux, sizeof s_live_tmux, "%s", t->sock);
    ck_assert_int_eq(s_sh("tmux -S '%s' -f /dev/null new-session -d -x 120 -y 40 -s ctr '%s'", t->sock, cmd), 0);
}

static const char *
s_capture(tmux_t *t)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "tmux -S '%s' capture-pane -p -t ctr 2>/dev/null", t->sock);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(t->last, 1, sizeof t->last - 1, p);
    t->last[n] = '\0';
    pclose(p);
    return t->last;
}

/* Wait until the screen shows text (bounded); fails the test showing the screen. */
static void
s_screen_wait(tmux_t *t, const char *text)
{
    for (int waited = 0; waited < WAIT_MS; waited += 25) {
        if (strstr(s_capture(t), text))
            return;
        zclock_sleep(25);
    }
    ck_abort_msg("the screen never showed \"%s\"; it shows:\n%s", text, t->last);
}

/* The number of tickets the QUEUE section shows waiting for service, or -1. */
static int
s_screen_waiting(tmux_t *t, const char *service)
{
    s_capture(t);
    for (char *line = strtok(t->last, "\n"); line; line = strtok(NULL, "\n")) {
        char code[16];
        unsigned waiting;
        if (sscanf(line, " %15s %u", code, &waiting) == 2 && !strcmp(code, service))
            return (int) waiting;
    }
    return -1;
}

static void
s_screen_wait_waiting(tmux_t *t, const char *service, int want)
{
    int got = -1;
    for (int waited = 0; waited < WAIT_MS; waited += 25) {
        if ((got = s_screen_waiting(t, service)) == want)
            return;
        zclock_sleep(25);
    }
    ck_abort_msg("the screen shows %d waiting for %s, not %d:\n%s", got, service, want, s_capture(t));
}

static void
s_keys(tmux_t *t, const char *keys)
{
    ck_assert_int_eq(s_sh("tmux -S '%s' send-keys -t ctr %s", t->sock, keys), 0);
}

/* Q, then the program must end by itself with exit 0. */
static void
s_screen_quit(tmux_t *t)
{
    s_keys(t, "q");
    for (int waited = 0; waited < WAIT_MS; waited += 25) {
        struct stat sb;
        if (stat(t->exit_file, &sb) == 0 && sb.st_size > 0) {
            char code[16];
            tu_read_file(t->exit_file, code, sizeof code);
            ck_assert_msg(atoi(code) == 0, "foleni-counter exited with %s", code);
            s_sh("tmux -S '%s' kill-server 2>/dev/null", t->sock);
            s_live_tmux[0] = '\0';
            return;
        }
        zclock_sleep(25);
    }
    s_sh("tmux -S '%s' kill-server 2>/dev/null", t->sock);
    ck_abort_msg("Q did not end the program; the screen shows:\n%s", t->last);
}

START_TEST(test_screen_pressing_n_shows_the_called_ticket)
{
    static tu_stack_t st;
    s_start(&st);
    run_t r;
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 3 open");
    ck_assert_int_eq(r.code, 0);
    s_walkins(&st, "IDCARD", 2);
    tmux_t t;
    s_screen_start(&t, &st, 3, TU_COUNTER_TOKEN, NULL);
    s_screen_wait(&t, "FOLENI COUNTER 3  Dirisha 3  |  Huduma Centre GPO, Nairobi (NBIGPO)");
    s_screen_wait(&t, "Serves IDCARD, BIRTH   Counter open");
    s_screen_wait(&t, "[OK] connected to");
    s_screen_wait_waiting(&t, "IDCARD", 2);
    s_screen_wait(&t, "N next  R recall  S start  D done  X no-show  T transfer  P pause  C close  Q quit");
    s_keys(&t, "N");
    s_screen_wait(&t, "> Ticket I-001 called to counter 3");
    s_screen_wait(&t, "I-001  National ID cards  -  called 0:");
    s_screen_wait(&t, "I-001    -> counter 3    <- this counter");
    s_screen_wait_waiting(&t, "IDCARD", 1);
    s_keys(&t, "s");
    s_screen_wait(&t, "> Serving ticket I-001 at counter 3");
    s_screen_wait(&t, "I-001  National ID cards  -  serving for 0:");
    s_keys(&t, "D");
    s_screen_wait(&t, "> Ticket I-001 done");
    s_screen_wait(&t, "No ticket in hand. Press N to call the next citizen.");
    s_keys(&t, "P");
    s_screen_wait(&t, "> Counter 3 paused");
    s_screen_wait(&t, "P resume");
    s_keys(&t, "n");
    s_screen_wait(&t, "> Next refused: counter 3 is paused");
    s_screen_quit(&t);
    tu_stack_stop(&st);
}
END_TEST

START_TEST(test_screen_calls_at_other_counters_update_the_waiting_counts_live)
{
    static tu_stack_t st;
    s_start(&st);
    run_t r;
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 2 open");
    ck_assert_int_eq(r.code, 0);
    tmux_t t;
    s_screen_start(&t, &st, 3, TU_COUNTER_TOKEN, NULL);
    s_screen_wait(&t, "[OK] connected to");
    s_screen_wait_waiting(&t, "IDCARD", 0);
    s_walkins(&st, "IDCARD", 3);                    /* the kiosk: events only */
    s_screen_wait_waiting(&t, "IDCARD", 3);
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 2 next");
    ASSERT_RUN(r, 0, "Ticket I-001 called to counter 2");
    s_screen_wait_waiting(&t, "IDCARD", 2);
    s_screen_wait(&t, "I-001    -> counter 2");
    s_screen_quit(&t);
    tu_stack_stop(&st);
}
END_TEST

START_TEST(test_screen_transfer_menu_sends_the_ticket_to_the_chosen_service)
{
    static tu_stack_t st;
    s_start(&st);
    run_t r;
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 3 open");
    ck_assert_int_eq(r.code, 0);
    s_walkins(&st, "IDCARD", 1);
    tmux_t t;
    s_screen_start(&t, &st, 3, TU_COUNTER_TOKEN, NULL);
    s_screen_wait(&t, "[OK] connected to");
    s_keys(&t, "t");
    s_screen_wait(&t, "> No ticket in hand to transfer: press N to call one");
    s_keys(&t, "n");
    s_screen_wait(&t, "> Ticket I-001 called to counter 3");
    s_keys(&t, "t");
    s_screen_wait(&t, "TRANSFER I-001 TO:");
    s_screen_wait(&t, "service BIRTH");
    /* the key shown beside BIRTH */
    const char *line = strstr(t.last, "service BIRTH");
    ck_assert_ptr_nonnull(line);
    char key = line[-3];
    ck_assert_msg(key != ' ', "no key beside BIRTH:\n%s", t.last);
    s_keys(&t, "Escape");
    s_screen_wait(&t, "> Transfer cancelled");
    s_keys(&t, "t");
    s_screen_wait(&t, "TRANSFER I-001 TO:");
    char keyarg[4] = { key, '\0' };
    s_keys(&t, keyarg);
    s_screen_wait(&t, "> Ticket I-001 transferred to BIRTH");
    s_screen_wait(&t, "No ticket in hand.");
    s_screen_wait_waiting(&t, "BIRTH", 1);
    s_screen_quit(&t);
    tu_stack_stop(&st);
}
END_TEST

START_TEST(test_screen_lost_broker_is_shown_and_the_action_happens_once_when_it_returns)
{
    static tu_stack_t st;
    s_start(&st);
    run_t r;
    s_counter(&st, TU_COUNTER_TOKEN, &r, "--counter 3 open");
    ck_assert_int_eq(r.code, 0);
    s_walkins(&st, "IDCARD", 2);
    tmux_t t;
    s_screen_start(&t, &st, 3, TU_COUNTER_TOKEN, "--timeout-ms 400 --retries 1");
    s_screen_wait(&t, "[OK] connected to");
    s_screen_wait_waiting(&t, "IDCARD", 2);
    ck_assert_int_eq(tu_stop(st.broker, SIGTERM, 5000), 0);
    st.broker = 0;
    s_screen_wait(&t, "[!!] waiting for broker");
    s_keys(&t, "N");
    s_screen_wait(&t, "retrying last action: next, same request id");
    s_keys(&t, "D");                                /* refused while next is in flight */
    s_screen_wait(&t, "> Wait: next is still on its way");
    const char *broker[] = { tu_bin("foleni-broker"), "-e", st.endpoint, "-p", st.publish, "-s", st.subscribe,
                             "--heartbeat-ms", "200", NULL };
    st.broker = tu_spawn(st.log, broker);
    s_screen_wait(&t, "> Ticket I-001 called to counter 3");
    s_screen_wait(&t, "[OK] connected to");
    s_screen_wait_waiting(&t, "IDCARD", 1);
    fl_msg_t *board = s_board(&st);                 /* exactly one ticket was called */
    ck_assert_uint_eq(s_waiting(board, "IDCARD"), 1);
    ck_assert_uint_eq(fl_msg_count(board, FL_F_SERVING), 1);
    ck_assert_str_eq(fl_msg_str(fl_msg_item(board, FL_F_SERVING, 0), FL_F_TICKET), "I-001");
    fl_msg_destroy(&board);
    s_screen_quit(&t);
    tu_stack_stop(&st);
}
END_TEST

START_TEST(test_screen_wrong_token_is_shown_as_refused)
{
    static tu_stack_t st;
    s_start(&st);
    tmux_t t;
    s_screen_start(&t, &st, 3, "wrong-token", NULL);
    s_screen_wait(&t, "[OK] connected to");
    s_screen_wait(&t, "Counter closed: press P to open it.");
    s_keys(&t, "p");
    s_screen_wait(&t, "> REFUSED: the scheduler does not accept this terminal as counter 3");
    s_screen_wait(&t, "not accepted as a counter");
    s_screen_quit(&t);
    tu_stack_stop(&st);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("counter");
    TCase *oneshot = tcase_create("oneshot");
    tcase_set_timeout(oneshot, 60);
    tcase_add_test(oneshot, test_oneshot_a_clerks_day_open_next_recall_start_done_noshow_transfer_pause);
    tcase_add_test(oneshot, test_oneshot_json_prints_the_reply_and_errors_as_one_object);
    tcase_add_test(oneshot, test_oneshot_wrong_or_missing_token_is_refused_with_exit_4_and_changes_nothing);
    tcase_add_test(oneshot, test_oneshot_same_request_id_twice_calls_one_ticket);
    tcase_add_test(oneshot, test_oneshot_no_broker_exits_3_and_names_the_request_id);
    tcase_add_test(oneshot, test_usage_errors_exit_2_with_a_reason);
    tcase_add_test(oneshot, test_curve_key_identifies_the_counter_and_a_stranger_is_told_plainly);
    suite_add_tcase(s, oneshot);
    TCase *screen = tcase_create("screen");
    tcase_set_timeout(screen, 60);
    tcase_add_test(screen, test_screen_pressing_n_shows_the_called_ticket);
    tcase_add_test(screen, test_screen_calls_at_other_counters_update_the_waiting_counts_live);
    tcase_add_test(screen, test_screen_transfer_menu_sends_the_ticket_to_the_chosen_service);
    tcase_add_test(screen, test_screen_lost_broker_is_shown_and_the_action_happens_once_when_it_returns);
    tcase_add_test(screen, test_screen_wrong_token_is_shown_as_refused);
    suite_add_tcase(s, screen);
    return s;
}
