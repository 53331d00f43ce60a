/*  test_broker.c — the broker as real processes on loopback.
 *
 *  Each test starts build/bin/foleni-broker and build/bin/foleni-echo workers
 *  as separate processes on ports picked free at run time, then talks to them
 *  through libfoleni's client library (and raw sockets where a test needs to
 *  misbehave).  Timeouts are generous bounds, never the thing under test.
 */
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libfoleni/bus.h"
#include "libfoleni/client.h"
#include "libfoleni/mdp.h"
#include "libfoleni/msg.h"
#include "libfoleni/worker.h"
#include "tests/testutil.h"

typedef struct {
    char endpoint[64], publish[64], subscribe[64];
    char log[512];
    char *dir;
    int pid;
} broker_proc_t;

static void
s_quiet_czmq(void)
{
    zsys_handler_set(NULL);             /* let Check and tu_stop handle signals */
    zsys_init();
    zsys_set_linger(0);
}

static void
s_broker_start(broker_proc_t *b, const char *const extra[])
{
    bool first = !b->endpoint[0];
    if (first) {
        b->dir = tu_tempdir();
        snprintf(b->log, sizeof b->log, "%s/broker.log", b->dir);
    }
    /* A first start picks free ports; one may be taken before the broker
     * binds it, and then the broker ends at once: pick again.  A restart
     * keeps the ports its clients know. */
    for (int attempt = 1;; attempt++) {
        if (first) {
            int ports[3];
            tu_free_ports(ports, 3);
            snprintf(b->endpoint, sizeof b->endpoint, "tcp://127.0.0.1:%d", ports[0]);
            snprintf(b->publish, sizeof b->publish, "tcp://127.0.0.1:%d", ports[1]);
            snprintf(b->subscribe, sizeof b->subscribe, "tcp://127.0.0.1:%d", ports[2]);
        }
        const char *argv[32] = { tu_bin("foleni-broker"), "-e", b->endpoint, "-p", b->publish, "-s", b->subscribe,
                                 "--heartbeat-ms", "200", "--liveness", "3", "--queue-timeout-ms", "1500",
                                 "--log-level", "info" };     /* the "broker serving" line we wait for */
        int n = 15;
        for (int i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        b->pid = tu_spawn(b->log, argv);
        char serving[200];
        snprintf(serving, sizeof serving, "msg=\"broker serving\" endpoint=%s ", b->endpoint);
        if (!first || tu_wait_started(b->pid, b->log, serving, 10000))
            return;
        b->pid = 0;
        const char *endpoints[] = { b->endpoint, b->publish, b->subscribe };
        ck_assert_msg(tu_bind_refused(b->log, endpoints, 3), "the broker ended at start (log: %s)", b->log);
        ck_assert_msg(attempt < 5, "the broker could not bind free ports in 5 attempts (%s)", b->log);
    }
}

static int
s_worker_start(broker_proc_t *b, const char *const extra[])
{
    const char *argv[32] = { tu_bin("foleni-echo"), "worker", "-e", b->endpoint, "--heartbeat-ms", "200" };
    int n = 6;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return tu_spawn(NULL, argv);
}

static void
s_broker_stop(broker_proc_t *b)
{
    if (b->pid > 0)
        ck_assert_int_eq(tu_stop(b->pid, SIGTERM, 5000), 0);
    b->pid = 0;
}

/* Call service once and return the reply frames joined by '|', or NULL. */
static char *
s_call(fl_client_t *client, const char *service, const char *text)
{
    fl_reply_t reply;
    fl_error_t err;
    if (fl_client_call(client, service, text, strlen(text), &reply, &err) != 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    for (size_t i = 0; i < reply.nparts; i++) {
        int n = snprintf(out + len, cap - len, "%s%.*s", len ? "|" : "", (int) reply.parts[i].size,
                         (const char *) reply.parts[i].data);
        len += n > 0 ? (size_t) n : 0;
        if (len >= cap) len = cap - 1;
    }
    fl_reply_reset(&reply);
    return out;
}

/* Part i of a reply as a new string, or NULL when it has fewer parts. */
static char *
s_part(const fl_reply_t *r, size_t i)
{
    return i < r->nparts ? fl_part_strdup(&r->parts[i]) : NULL;
}

static fl_client_t *
s_client(broker_proc_t *b, int timeout_ms, int retries)
{
    fl_client_options_t o = { .timeout_ms = timeout_ms, .retries = retries };
    fl_client_t *c = fl_client_new(b->endpoint, NULL, &o, NULL);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Wait until mmi.service says the service has a worker. */
static void
s_wait_service(fl_client_t *client, const char *service)
{
    for (int i = 0; i < 100; i++) {
        char *r = s_call(client, "mmi.service", service);
        bool ok = r && !strcmp(r, "200");
        free(r);
        if (ok)
            return;
        zclock_sleep(50);
    }
    ck_abort_msg("service %s never registered", service);
}

/* The value of one counter in mmi.stats. */
static long
s_stat(fl_client_t *client, const char *name)
{
    char *text = s_call(client, "mmi.stats", "");
    ck_assert_ptr_nonnull(text);
    char key[80];
    snprintf(key, sizeof key, "%s=", name);
    char *at = strstr(text, key);
    long v = at && (at == text || at[-1] == ' ') ? atol(at + strlen(key)) : -1;
    free(text);
    return v;
}

/* Frame i of m, or NULL. */
static zframe_t *
s_frame_at_or_null(zmsg_t *m, size_t i)
{
    zframe_t *f = zmsg_first(m);
    while (f && i-- > 0)
        f = zmsg_next(m);
    return f;
}

/* True if frame holds exactly text. */
static bool
s_frame_is_text(zframe_t *f, const char *text)
{
    return f && zframe_size(f) == strlen(text) && memcmp(zframe_data(f), text, strlen(text)) == 0;
}

/* ---- routing ---- */

START_TEST(test_echo_round_trip_through_the_broker)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    int w = s_worker_start(&b, (const char *[]) { "--window", "8", NULL });
    fl_client_t *c = s_client(&b, 2000, 3);
    s_wait_service(c, "echo");
    char *r = s_call(c, "echo", "habari yako");
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(!strncmp(r, "habari yako|pid=", 16), "reply: %s", r);
    ck_assert_ptr_nonnull(strstr(r, "caller=")); /* plain link: empty caller */
    free(r);
    ck_assert_int_eq(s_stat(c, "replies"), 1);   /* MMI answers are the broker's own */
    fl_client_destroy(&c);
    tu_stop(w, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

START_TEST(test_two_workers_share_the_load)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    int w1 = s_worker_start(&b, (const char *[]) { "--window", "2", "--delay-ms", "5", NULL });
    int w2 = s_worker_start(&b, (const char *[]) { "--window", "2", "--delay-ms", "5", NULL });
    fl_client_t *c = s_client(&b, 3000, 2);
    s_wait_service(c, "echo");
    for (int i = 0; i < 100 && s_stat(c, "workers.echo") < 2; i++)
        zclock_sleep(20);
    ck_assert_int_eq(s_stat(c, "workers.echo"), 2);
    /* 40 requests in flight at once from one socket */
    for (int i = 0; i < 40; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "share-%04d", i);
        ck_assert_int_eq(fl_client_send(c, "echo", rid, rid, strlen(rid)), 0);
    }
    ck_assert_uint_eq(fl_client_outstanding(c), 40);
    int by_w1 = 0, by_w2 = 0, got = 0;
    char pid1[32], pid2[32];
    snprintf(pid1, sizeof pid1, "pid=%d ", w1);
    snprintf(pid2, sizeof pid2, "pid=%d ", w2);
    fl_reply_t r;
    while (got < 40 && fl_client_recv(c, &r, 10000) == 0) {
        ck_assert_int_eq(r.status, 0);
        char *echoed = s_part(&r, 0);
        ck_assert_str_eq(echoed, r.rid);        /* each reply found its own request */
        char *tag = s_part(&r, 1);
        by_w1 += strstr(tag, pid1) != NULL;
        by_w2 += strstr(tag, pid2) != NULL;
        zstr_free(&echoed);
        zstr_free(&tag);
        fl_reply_reset(&r);
        got++;
    }
    ck_assert_int_eq(got, 40);
    ck_assert_int_eq(by_w1 + by_w2, 40);
    ck_assert_msg(by_w1 >= 5 && by_w2 >= 5, "load not shared: %d and %d", by_w1, by_w2);
    fl_client_destroy(&c);
    tu_stop(w1, SIGKILL, 1000);
    tu_stop(w2, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

START_TEST(test_worker_killed_mid_request_and_the_retry_is_answered_by_another)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    char holder_log[600];
    snprintf(holder_log, sizeof holder_log, "%s/holder.log", b.dir);
    const char *argv[] = { tu_bin("foleni-echo"), "worker", "-e", b.endpoint, "--heartbeat-ms", "200",
                           "--hold", NULL };
    int holder = tu_spawn(holder_log, argv);
    fl_client_t *c = s_client(&b, 700, 5);
    s_wait_service(c, "echo");
    ck_assert_int_eq(fl_client_send(c, "echo", "the-one-request", "x", 1), 0);
    /* wait until the holder has the request in hand, then start a good worker and kill the holder */
    bool held = false;
    for (int i = 0; i < 200 && !held; i++) {
        FILE *f = fopen(holder_log, "r");
        char line[128] = "";
        if (f) {
            held = fgets(line, sizeof line, f) && !strncmp(line, "got the-one-request", 19);
            fclose(f);
        }
        if (!held)
            zclock_sleep(10);
    }
    ck_assert_msg(held, "the holding worker never got the request");
    int good = s_worker_start(&b, NULL);
    ck_assert_int_eq(tu_stop(holder, SIGKILL, 1000), 128 + SIGKILL);
    fl_reply_t r;
    ck_assert_int_eq(fl_client_recv(c, &r, 10000), 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.rid, "the-one-request");
    char *tag = s_part(&r, 1);
    char want[32];
    snprintf(want, sizeof want, "pid=%d ", good);
    ck_assert_msg(tag && strstr(tag, want), "answered by %s, not the good worker %d", tag, good);
    zstr_free(&tag);
    fl_reply_reset(&r);
    fl_client_destroy(&c);
    tu_stop(good, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

START_TEST(test_broker_restart_worker_registers_again_and_client_succeeds)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    int w = s_worker_start(&b, NULL);
    fl_client_t *c = s_client(&b, 500, 12);
    s_wait_service(c, "echo");
    char *r = s_call(c, "echo", "before");
    ck_assert_ptr_nonnull(r);
    free(r);
    ck_assert_int_eq(tu_stop(b.pid, SIGKILL, 1000), 128 + SIGKILL);
    zclock_sleep(300);
    s_broker_start(&b, NULL);                   /* same endpoints */
    int64_t t0 = zclock_mono();
    r = s_call(c, "echo", "after");             /* retries until the worker is back */
    ck_assert_msg(r != NULL, "no reply after the broker restarted");
    ck_assert(!strncmp(r, "after|", 6));
    free(r);
    ck_assert_msg(zclock_mono() - t0 < 6000, "took %lld ms", (long long) (zclock_mono() - t0));
    fl_client_destroy(&c);
    tu_stop(w, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

START_TEST(test_unknown_service_gets_an_error_reply_after_expiry)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    fl_client_t *c = s_client(&b, 5000, 0);
    fl_reply_t reply;
    int64_t t0 = zclock_mono();
    ck_assert_int_eq(fl_client_call(c, "foleni.nowhere", "x", 1, &reply, NULL), 0);
    ck_assert_int_ge(zclock_mono() - t0, 1000);  /* it waited in the queue first */
    ck_assert_uint_eq(reply.nparts, 1);
    fl_error_t err;
    fl_msg_t *m = fl_msg_decode(reply.parts[0].data, reply.parts[0].size, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    ck_assert_int_eq(fl_msg_type(m), FL_T_ERROR);
    ck_assert_str_eq(fl_msg_str(m, FL_F_CODE), "unavailable");
    ck_assert_ptr_nonnull(strstr(fl_msg_str(m, FL_F_MESSAGE), "no worker"));
    fl_msg_destroy(&m);
    fl_reply_reset(&reply);
    ck_assert_int_eq(s_stat(c, "expired"), 1);
    fl_client_destroy(&c);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

START_TEST(test_full_queue_refuses_at_once)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, (const char *[]) { "--queue-max", "2", NULL });
    fl_client_t *c = s_client(&b, 5000, 0);
    ck_assert_int_eq(fl_client_send(c, "foleni.nowhere", "queued-0001", "a", 1), 0);
    ck_assert_int_eq(fl_client_send(c, "foleni.nowhere", "queued-0002", "b", 1), 0);
    ck_assert_int_eq(fl_client_send(c, "foleni.nowhere", "refused-001", "c", 1), 0);
    fl_reply_t r;
    ck_assert_int_eq(fl_client_recv(c, &r, 1000), 0);     /* well before the queue timeout */
    ck_assert_str_eq(r.rid, "refused-001");
    ck_assert_uint_eq(r.nparts, 1);
    fl_msg_t *m = fl_msg_decode(r.parts[0].data, r.parts[0].size, NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(fl_msg_str(m, FL_F_CODE), "unavailable");
    ck_assert_ptr_nonnull(strstr(fl_msg_str(m, FL_F_MESSAGE), "queue is full"));
    fl_msg_destroy(&m);
    fl_reply_reset(&r);
    fl_client_destroy(&c);
    c = s_client(&b, 2000, 0);
    ck_assert_int_eq(s_stat(c, "refused"), 1);
    ck_assert_int_eq(s_stat(c, "waiting"), 2);
    fl_client_destroy(&c);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

START_TEST(test_client_refuses_repeated_ids_and_too_many_in_flight)
{
    s_quiet_czmq();
    fl_client_options_t o = { .timeout_ms = 60000, .retries = 0, .max_outstanding = 3 };
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", tu_free_port());    /* nobody there */
    fl_client_t *c = fl_client_new(ep, NULL, &o, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(fl_client_send(c, "echo", "first-rid", "x", 1), 0);
    ck_assert_int_eq(fl_client_send(c, "echo", "first-rid", "x", 1), FL_E_CONFLICT);
    ck_assert_int_eq(fl_client_send(c, "echo", "short", "x", 1), FL_E_INVALID);
    ck_assert_int_eq(fl_client_send(c, "echo", "has space in it", "x", 1), FL_E_INVALID);
    ck_assert_int_eq(fl_client_send(c, "bad service", "second-rid", "x", 1), FL_E_INVALID);
    ck_assert_int_eq(fl_client_send(c, "echo", "second-rid", "x", 1), 0);
    ck_assert_int_eq(fl_client_send(c, "echo", "third-rid", "x", 1), 0);
    ck_assert_int_eq(fl_client_send(c, "echo", "fourth-rid", "x", 1), FL_E_FULL);
    ck_assert_uint_eq(fl_client_outstanding(c), 3);
    fl_reply_t r;
    ck_assert_int_eq(fl_client_recv(c, &r, 50), FL_E_TIMEOUT);
    ck_assert_int_ge(fl_client_next_timeout_ms(c), 1000);
    fl_client_destroy(&c);
}
END_TEST

START_TEST(test_mmi_answers_which_services_exist)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    int w = s_worker_start(&b, (const char *[]) { "-s", "foleni.test", NULL });
    fl_client_t *c = s_client(&b, 2000, 2);
    s_wait_service(c, "foleni.test");
    char *r = s_call(c, "mmi.service", "foleni.nothing");
    ck_assert_str_eq(r, "404");
    free(r);
    r = s_call(c, "mmi.frobnicate", "");
    ck_assert_str_eq(r, "501");
    free(r);
    ck_assert_int_eq(s_stat(c, "workers.foleni.test"), 1);
    ck_assert_int_eq(s_stat(c, "workers"), 1);
    /* the worker leaves: mmi says so after it is dropped */
    tu_stop(w, SIGKILL, 1000);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        r = s_call(c, "mmi.service", "foleni.test");
        gone = r && !strcmp(r, "404");
        free(r);
        if (!gone)
            zclock_sleep(50);
    }
    ck_assert_msg(gone, "a silent worker was never dropped");
    ck_assert_int_eq(s_stat(c, "workers_dropped"), 1);
    fl_client_destroy(&c);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* ---- security ---- */

/* Make a certificate pair under dir/name(+_secret); return the public text. */
static const char *
s_cert(const char *dir, const char *name, char path[512])
{
    zcert_t *cert = zcert_new();
    snprintf(path, 512, "%s/%s", dir, name);
    ck_assert_int_eq(zcert_save(cert, path), 0);
    static char keys[4][FL_CURVE_KEY_TEXT + 1];
    static int next;
    char *key = keys[next++ % 4];
    snprintf(key, FL_CURVE_KEY_TEXT + 1, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return key;
}

START_TEST(test_curve_serves_allowed_keys_only_and_names_the_caller)
{
    s_quiet_czmq();
    char *dir = tu_tempdir();
    char clients[512], server[512], allowed[512], worker[512], stranger[512], tmp[600];
    snprintf(clients, sizeof clients, "%s/clients", dir);
    ck_assert_int_eq(mkdir(clients, 0700), 0);
    s_cert(dir, "server.cert", server);
    const char *allowed_key = s_cert(dir, "counter.cert", allowed);
    s_cert(dir, "scheduler.cert", worker);
    s_cert(dir, "stranger.cert", stranger);
    /* the broker's allowed directory holds public certificates only */
    zcert_t *c1 = zcert_load(allowed), *c2 = zcert_load(worker);
    snprintf(tmp, sizeof tmp, "%s/counter.cert", clients);
    zcert_save_public(c1, tmp);
    snprintf(tmp, sizeof tmp, "%s/scheduler.cert", clients);
    zcert_save_public(c2, tmp);
    zcert_destroy(&c1);
    zcert_destroy(&c2);

    broker_proc_t b = { 0 };
    const char *extra[] = { "--cert", server, "--clients", clients, NULL };
    s_broker_start(&b, extra);
    char env_cert[600], env_server[600];
    snprintf(env_cert, sizeof env_cert, "FOLENI_CURVE_CERT=%s", worker);
    snprintf(env_server, sizeof env_server, "FOLENI_CURVE_SERVER=%s", server);
    putenv(env_cert);
    putenv(env_server);
    int w = s_worker_start(&b, NULL);            /* inherits the environment above */
    unsetenv("FOLENI_CURVE_CERT");
    unsetenv("FOLENI_CURVE_SERVER");

    fl_security_t *good = fl_security_new(allowed, server, NULL);
    fl_security_t *bad = fl_security_new(stranger, server, NULL);
    ck_assert_ptr_nonnull(good);
    ck_assert_ptr_nonnull(bad);
    fl_client_options_t o = { .timeout_ms = 1500, .retries = 6 };
    fl_client_t *ok = fl_client_new(b.endpoint, good, &o, NULL);
    s_wait_service(ok, "echo");
    char *r = s_call(ok, "echo", "siri");
    ck_assert_ptr_nonnull(r);
    char want[80];
    snprintf(want, sizeof want, "caller=%s", allowed_key);
    ck_assert_msg(strstr(r, want) != NULL, "the worker was not told the caller: %s", r);
    free(r);

    fl_client_options_t quick = { .timeout_ms = 700, .retries = 0 };
    fl_client_t *intruder = fl_client_new(b.endpoint, bad, &quick, NULL);
    ck_assert_ptr_null(s_call(intruder, "echo", "let me in"));
    fl_client_t *plain = fl_client_new(b.endpoint, NULL, &quick, NULL);
    ck_assert_ptr_null(s_call(plain, "echo", "let me in"));
    ck_assert_int_eq(s_stat(ok, "requests"), 1);  /* neither reached the broker's queue */
    /* the stranger is refused by our authenticator, and counted; a plain peer never gets
       that far (libzmq ends the handshake at the mechanism mismatch) */
    ck_assert_int_ge(s_stat(ok, "peers_denied"), 1);

    /* A worker whose key the broker refuses: libzmq gives that connection up, and the
       worker must neither hang in a send nor ignore SIGTERM.  It notices the silence
       (3 x 200 ms), reconnects, is refused again, and stops cleanly when told. */
    char worker_log[600];
    snprintf(worker_log, sizeof worker_log, "%s/refused-worker.log", dir);
    snprintf(env_cert, sizeof env_cert, "FOLENI_CURVE_CERT=%s", stranger);
    putenv(env_cert);
    putenv(env_server);
    const char *argv[] = { tu_bin("foleni-echo"), "worker", "-e", b.endpoint, "--heartbeat-ms", "200", NULL };
    int refused = tu_spawn(worker_log, argv);
    unsetenv("FOLENI_CURVE_CERT");
    unsetenv("FOLENI_CURVE_SERVER");
    char text[8192] = "";
    const char *second = NULL;
    for (int i = 0; i < 200 && !second; i++) {     /* two reconnects seen, or 20 s */
        zclock_sleep(100);
        tu_read_file(worker_log, text, sizeof text);
        const char *first = strstr(text, "broker silent: reconnecting");
        second = first ? strstr(first + 1, "broker silent: reconnecting") : NULL;
    }
    ck_assert_msg(second != NULL, "the refused worker did not keep reconnecting:\n%s", text);
    ck_assert_int_eq(tu_stop(refused, SIGTERM, 3000), 0);
    ck_assert_ptr_nonnull(r = s_call(ok, "echo", "still here"));     /* the allowed worker serves on */
    free(r);

    fl_client_destroy(&ok);
    fl_client_destroy(&intruder);
    fl_client_destroy(&plain);
    fl_security_destroy(&good);
    fl_security_destroy(&bad);
    tu_stop(w, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
    tu_rmtree(dir);
}
END_TEST

START_TEST(test_plain_bind_beyond_loopback_needs_insecure)
{
    char *dir = tu_tempdir();
    char log[600], ep[64];
    snprintf(log, sizeof log, "%s/broker.log", dir);
    snprintf(ep, sizeof ep, "tcp://0.0.0.0:%d", tu_free_port());
    const char *argv[] = { tu_bin("foleni-broker"), "-e", ep, "-p", "", NULL };
    int pid = tu_spawn(log, argv);
    ck_assert_int_eq(tu_stop(pid, 0, 5000), 1);       /* signal 0: just wait; it exits 1 */
    FILE *f = fopen(log, "r");
    char text[2048] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "not a loopback address"));
    ck_assert_ptr_nonnull(strstr(text, "--insecure"));
    tu_rmtree(dir);
}
END_TEST

/* ---- bad input ---- */

START_TEST(test_garbage_then_a_valid_request_is_served)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, (const char *[]) { "--max-message", "65536", NULL });
    int w = s_worker_start(&b, NULL);
    fl_client_t *c = s_client(&b, 2000, 3);
    s_wait_service(c, "echo");

    zsock_t *evil = zsock_new_dealer(b.endpoint);
    zsock_set_linger(evil, 0);
    zstr_send(evil, "hello?");                                     /* not MDP */
    zstr_sendx(evil, "MDPC02", NULL);                              /* no command */
    zstr_sendx(evil, "MDPC02", "\x09", "echo", "x", NULL);         /* unknown command */
    zstr_sendx(evil, "MDPC01", "echo", "x", NULL);                 /* MDP/0.1 */
    zstr_sendx(evil, "MDPC02", "\x03", "echo", "x", NULL);         /* a client sending FINAL */
    zstr_sendx(evil, "MDPW02", "\x04", "nobody", "", "x", NULL);   /* a reply from a stranger */
    zstr_sendx(evil, "MDPW02", "\x07", NULL);                      /* unknown worker command */
    zframe_t *big = zframe_new(NULL, 100000);                      /* over --max-message */
    zframe_send(&big, evil, 0);
    for (int i = 0; i < 200; i++) {                                /* random frames */
        zmsg_t *m = zmsg_new();
        for (int k = 0; k < 1 + i % 5; k++) {
            char junk[16];
            for (int j = 0; j < 16; j++)
                junk[j] = (char) (i * 31 + k * 7 + j * 13);
            zmsg_addmem(m, junk, (size_t) (i + k) % 16);
        }
        zmsg_send(&m, evil);
    }
    zclock_sleep(200);
    char *r = s_call(c, "echo", "still here");
    ck_assert_ptr_nonnull(r);
    ck_assert(!strncmp(r, "still here|", 11));
    free(r);
    ck_assert_int_ge(s_stat(c, "malformed"), 5);
    zsock_destroy(&evil);
    fl_client_destroy(&c);
    tu_stop(w, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

START_TEST(test_reply_for_a_client_that_left_is_dropped)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    int w = s_worker_start(&b, (const char *[]) { "--delay-ms", "300", NULL });
    fl_client_t *c = s_client(&b, 3000, 1);
    s_wait_service(c, "echo");
    fl_client_t *leaver = s_client(&b, 3000, 0);
    ck_assert_int_eq(fl_client_send(leaver, "echo", "left-early", "x", 1), 0);
    zclock_sleep(50);
    fl_client_destroy(&leaver);                 /* gone before the reply */
    zclock_sleep(500);
    char *r = s_call(c, "echo", "next one");
    ck_assert_ptr_nonnull(r);
    free(r);
    ck_assert_int_eq(s_stat(c, "unroutable"), 1);
    fl_client_destroy(&c);
    tu_stop(w, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* ---- plain MDP/0.2 peers ---- */

START_TEST(test_plain_mdp_client_and_worker_work_with_a_window_of_one)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    /* a plain worker: READY without a window, replies without request ids */
    zsock_t *worker = zsock_new_dealer(b.endpoint);
    zsock_set_linger(worker, 0);
    zsock_set_rcvtimeo(worker, 5000);
    zmsg_t *ready = fl_mdp_worker_ready("plain");
    zmsg_send(&ready, worker);
    /* a plain client: one body frame, no request id */
    zsock_t *client = zsock_new_dealer(b.endpoint);
    zsock_set_linger(client, 0);
    zsock_set_rcvtimeo(client, 5000);
    zclock_sleep(100);
    zstr_sendx(client, "MDPC02", "\x01", "plain", "jambo", NULL);
    zmsg_t *req = NULL;
    fl_mdp_worker_msg_t cmd = { 0 };
    for (int i = 0; i < 10; i++) {              /* skip heartbeats */
        req = zmsg_recv(worker);
        ck_assert_ptr_nonnull(req);
        ck_assert_int_eq(fl_mdp_parse_worker(req, &cmd, NULL), 0);
        if (cmd.command == FL_MDP_WORKER_REQUEST)
            break;
        zmsg_destroy(&req);
    }
    ck_assert_int_eq(cmd.command, FL_MDP_WORKER_REQUEST);
    ck_assert_uint_eq(zmsg_size(req), 1);       /* no caller frame for a plain worker */
    char *body = zmsg_popstr(req);
    ck_assert_str_eq(body, "jambo");
    zstr_free(&body);
    zmsg_t *answer = zmsg_new();
    zmsg_addstr(answer, "jambo sana");
    zmsg_t *final = fl_mdp_worker_final(cmd.address, &answer);
    zmsg_send(&final, worker);
    fl_mdp_worker_msg_reset(&cmd);
    zmsg_destroy(&req);
    zmsg_t *reply = zmsg_recv(client);
    ck_assert_ptr_nonnull(reply);
    fl_mdp_client_msg_t ccmd;
    ck_assert_int_eq(fl_mdp_parse_client(reply, &ccmd, NULL), 0);
    ck_assert_int_eq(ccmd.command, FL_MDP_CLIENT_FINAL);
    ck_assert_str_eq(ccmd.service, "plain");
    char *text = zmsg_popstr(reply);
    ck_assert_str_eq(text, "jambo sana");
    zstr_free(&text);
    zmsg_destroy(&reply);
    zsock_destroy(&client);
    zsock_destroy(&worker);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* ---- compact framing ---- */

/* A raw DEALER connected to the broker; with tag (FLC1 or FLW1 side) it takes
 * an identity that asks for compact frames, as the library does. */
static zsock_t *
s_raw(broker_proc_t *b, fl_mdp_proto_t tag)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    ck_assert_ptr_nonnull(s);
    zsock_set_linger(s, 0);
    zsock_set_rcvtimeo(s, 5000);
    if (tag != FL_MDP_PROTO_NONE) {
        uint8_t id[FL_MDP_IDENTITY_SIZE];
        fl_mdp_compact_identity(tag, id);
        ck_assert_int_eq(zmq_setsockopt(zsock_resolve(s), ZMQ_ROUTING_ID, id, sizeof id), 0);
    }
    ck_assert_int_eq(zsock_connect(s, "%s", b->endpoint), 0);
    return s;
}

/* The next message on a raw worker that is not a HEARTBEAT. */
static zmsg_t *
s_raw_next(zsock_t *worker)
{
    for (int i = 0; i < 20; i++) {
        zmsg_t *m = zmsg_recv(worker);
        ck_assert_ptr_nonnull(m);
        zframe_t *f1 = s_frame_at_or_null(m, 1);
        if (!(zmsg_size(m) == 2 && f1 && zframe_size(f1) == 1
              && zframe_data(f1)[0] == FL_MDP_WORKER_HEARTBEAT))
            return m;
        zmsg_destroy(&m);
    }
    ck_abort_msg("only heartbeats came");
    return NULL;
}

/* Send a compact message: a header frame, then the body strings. */
static void
s_send_compact(zsock_t *s, const uint8_t *head, size_t size, const char *const body[])
{
    zmsg_t *m = zmsg_new();
    zmsg_addmem(m, head, size);
    for (int i = 0; body && body[i]; i++)
        zmsg_addstr(m, body[i]);
    ck_assert_int_eq(zmsg_send(&m, s), 0);
}

/* A compact client and compact workers (the library's, in foleni-echo) with
 * hundreds in flight: every reply finds its request, and from the second
 * request on they travel compactly. */
START_TEST(test_compact_client_and_worker_with_hundreds_in_flight)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    int w = s_worker_start(&b, (const char *[]) { "--window", "32", "--bare", NULL });
    fl_client_t *c = s_client(&b, 5000, 2);
    s_wait_service(c, "echo");          /* its compact reply switches the client over */
    long before = s_stat(c, "compact");
    ck_assert_int_ge(before, 1);
    enum { N = 500, FLIGHT = 64 };
    int sent = 0, got = 0;
    while (got < N) {
        while (sent < N && sent - got < FLIGHT) {
            char rid[32], body[32];
            snprintf(rid, sizeof rid, "compact-%05d", sent);
            snprintf(body, sizeof body, "body-%05d", sent);
            ck_assert_int_eq(fl_client_send(c, "echo", rid, body, strlen(body)), 0);
            sent++;
        }
        fl_reply_t r;
        ck_assert_int_eq(fl_client_recv(c, &r, 5000), 0);
        ck_assert_int_eq(r.status, 0);
        ck_assert_uint_eq(r.nparts, 1);
        char want[FL_RID_MAX + 8];
        snprintf(want, sizeof want, "body-%.20s", r.rid + strlen("compact-"));
        ck_assert_uint_eq(r.parts[0].size, strlen(want));
        ck_assert_int_eq(memcmp(r.parts[0].data, want, strlen(want)), 0);
        fl_reply_reset(&r);
        got++;
    }
    /* the N requests, and the mmi.stats call after mmi.stats itself */
    ck_assert_int_ge(s_stat(c, "compact") - before, N + 1);
    ck_assert_int_eq(s_stat(c, "malformed"), 0);
    fl_client_destroy(&c);
    tu_stop(w, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* A compact client meets a plain MDP/0.2 worker (frames exactly as MDP, the
 * request id as the first body frame) and a raw worker that asked for compact
 * frames (one header frame with address, caller and id). */
START_TEST(test_compact_client_with_plain_and_compact_raw_workers)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    zsock_t *plain = s_raw(&b, FL_MDP_PROTO_NONE);
    zmsg_t *ready = fl_mdp_worker_ready("plain");
    zmsg_send(&ready, plain);
    zsock_t *packed = s_raw(&b, FL_MDP_PROTO_WORKER);
    ready = fl_mdp_worker_ready_window("packed", 4);
    zmsg_send(&ready, packed);
    fl_client_t *c = s_client(&b, 5000, 0);
    s_wait_service(c, "plain");
    s_wait_service(c, "packed");
    long compact0 = s_stat(c, "compact");

    /* to the plain worker: MDPW02, REQUEST, address, "", rid, body */
    ck_assert_int_eq(fl_client_send(c, "plain", "rid-plain-1", "jambo", 5), 0);
    zmsg_t *req = s_raw_next(plain);
    fl_mdp_worker_msg_t cmd;
    ck_assert_int_eq(fl_mdp_parse_worker(req, &cmd, NULL), 0);
    ck_assert_int_eq(cmd.command, FL_MDP_WORKER_REQUEST);
    ck_assert_uint_eq(zmsg_size(req), 2);       /* no caller frame for a plain worker */
    char *rid = zmsg_popstr(req), *body = zmsg_popstr(req);
    ck_assert_str_eq(rid, "rid-plain-1");
    ck_assert_str_eq(body, "jambo");
    zmsg_t *answer = zmsg_new();
    zmsg_addstr(answer, rid);
    zmsg_addstr(answer, "jambo sana");
    zmsg_t *final = fl_mdp_worker_final(cmd.address, &answer);
    zmsg_send(&final, plain);
    fl_mdp_worker_msg_reset(&cmd);
    zmsg_destroy(&req);
    zstr_free(&rid);
    zstr_free(&body);
    fl_reply_t r;
    ck_assert_int_eq(fl_client_recv(c, &r, 5000), 0);
    ck_assert_str_eq(r.rid, "rid-plain-1");
    ck_assert_uint_eq(r.nparts, 1);
    ck_assert_int_eq(memcmp(r.parts[0].data, "jambo sana", 10), 0);
    fl_reply_reset(&r);

    /* to the compact worker: one header frame, then the body */
    ck_assert_int_eq(fl_client_send(c, "packed", "rid-packed-1", "habari", 6), 0);
    req = s_raw_next(packed);
    ck_assert_uint_eq(zmsg_size(req), 2);
    zframe_t *head = zmsg_first(req);
    fl_mdp_frame_t v[2] = { { zframe_data(head), zframe_size(head) }, { "", 0 } };
    fl_mdp_compact_t h;
    fl_error_t err;
    ck_assert_msg(fl_mdp_check_compact(v, 2, &h, &err) == 0, "%s", err.message);
    ck_assert_int_eq(h.proto, FL_MDP_PROTO_WORKER);
    ck_assert_int_eq(h.command, FL_MDP_WORKER_REQUEST);
    ck_assert_uint_eq(h.caller.size, 0);        /* plain link: no key */
    ck_assert_uint_eq(h.rid.size, 12);
    ck_assert_int_eq(memcmp(h.rid.data, "rid-packed-1", 12), 0);
    ck_assert(s_frame_is_text(zmsg_last(req), "habari"));
    uint8_t out[FL_MDP_COMPACT_HEADER_MAX];
    size_t size = fl_mdp_compact_pack_worker(out, FL_MDP_WORKER_FINAL, h.address.data, h.address.size, NULL,
                                             0, h.rid.data, h.rid.size);
    s_send_compact(packed, out, size, (const char *[]) { "nzuri", NULL });
    zmsg_destroy(&req);
    ck_assert_int_eq(fl_client_recv(c, &r, 5000), 0);
    ck_assert_str_eq(r.rid, "rid-packed-1");
    ck_assert_uint_eq(r.nparts, 1);
    ck_assert_int_eq(memcmp(r.parts[0].data, "nzuri", 5), 0);
    fl_reply_reset(&r);
    ck_assert_int_eq(s_stat(c, "compact") - compact0, 3);  /* both requests and mmi.stats */
    fl_client_destroy(&c);
    zsock_destroy(&plain);
    zsock_destroy(&packed);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* A plain MDP/0.2 client, with and without a request id, is served by the
 * library worker (which asks for compact frames): it gets exactly the MDP
 * frames it would from a plain worker. */
START_TEST(test_plain_mdp_client_with_a_compact_library_worker)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    fl_worker_options_t wo = { .window = 4, .heartbeat_ms = 200 };
    fl_worker_t *w = fl_worker_new(b.endpoint, "lib", NULL, &wo, NULL);
    ck_assert_ptr_nonnull(w);
    zsock_t *client = s_raw(&b, FL_MDP_PROTO_NONE);
    zclock_sleep(200);
    zstr_sendx(client, "MDPC02", "\x01", "lib", "rid-of-a-plain-client", "ombi", NULL);
    zstr_sendx(client, "MDPC02", "\x01", "lib", "no id", NULL);
    for (int i = 0; i < 2; i++) {
        fl_request_t *req = NULL;
        ck_assert_int_eq(fl_worker_recv(w, &req, 5000), 0);
        ck_assert_str_eq(req->caller, "");
        ck_assert_uint_eq(req->nparts, 1);
        if (i == 0) {
            ck_assert_str_eq(req->rid, "rid-of-a-plain-client");
            ck_assert_int_eq(memcmp(req->parts[0].data, "ombi", 4), 0);
        } else {
            ck_assert_str_eq(req->rid, "");
            ck_assert_int_eq(memcmp(req->parts[0].data, "no id", 5), 0);
        }
        ck_assert_int_eq(fl_worker_reply_one(w, &req, i ? "b" : "a", 1), 0);
    }
    zmsg_t *reply = zmsg_recv(client);
    ck_assert_ptr_nonnull(reply);
    ck_assert_uint_eq(zmsg_size(reply), 5);     /* MDPC02, FINAL, service, rid, body */
    fl_mdp_client_msg_t ccmd;
    ck_assert_int_eq(fl_mdp_parse_client(reply, &ccmd, NULL), 0);
    ck_assert_int_eq(ccmd.command, FL_MDP_CLIENT_FINAL);
    ck_assert_str_eq(ccmd.service, "lib");
    ck_assert(s_frame_is_text(zmsg_first(reply), "rid-of-a-plain-client"));
    ck_assert(s_frame_is_text(zmsg_next(reply), "a"));
    zmsg_destroy(&reply);
    reply = zmsg_recv(client);
    ck_assert_ptr_nonnull(reply);
    ck_assert_uint_eq(zmsg_size(reply), 4);     /* no id: MDPC02, FINAL, service, body */
    ck_assert_int_eq(fl_mdp_parse_client(reply, &ccmd, NULL), 0);
    ck_assert(s_frame_is_text(zmsg_first(reply), "b"));
    zmsg_destroy(&reply);
    zsock_destroy(&client);
    fl_worker_destroy(&w);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* Packed headers whose lengths lie, run short or run long are dropped and
 * counted; then a valid compact request from the same socket is served. */
START_TEST(test_malformed_compact_headers_then_a_valid_request_is_served)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    int w = s_worker_start(&b, (const char *[]) { "--window", "4", "--bare", NULL });
    fl_client_t *c = s_client(&b, 2000, 3);
    s_wait_service(c, "echo");
    long malformed0 = s_stat(c, "malformed");
    zsock_t *evil = s_raw(&b, FL_MDP_PROTO_CLIENT);
    static const struct { const char *bytes; size_t size; } bad[] = {
        { "FLC1", 4 },                                  /* tag only */
        { "FLC1\x01", 5 },                              /* no service length */
        { "FLC1\x01\x20" "echo\x00", 11 },              /* service length past the end */
        { "FLC1\x01\x04" "echo", 10 },                  /* no rid length */
        { "FLC1\x01\x04" "echo\x30" "abc", 14 },        /* rid length past the end */
        { "FLC1\x01\x04" "echo\x00zz", 13 },            /* trailing bytes */
        { "FLC1\x01\x00\x00", 7 },                      /* empty service */
        { "FLC1\x03\x04" "echo\x00", 11 },              /* a client sending FINAL */
        { "FLW1\x04\x00\x00\x00", 8 },                  /* empty address */
        { "FLW1\x04\x01" "a\x05" "abcde\x00", 15 },     /* caller neither 0 nor 40 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_send_compact(evil, (const uint8_t *) bad[i].bytes, bad[i].size, (const char *[]) { "x", NULL });
    /* oversize service and rid, written by hand (the packer refuses them) */
    uint8_t head[256];
    memcpy(head, "FLC1\x01", 5);
    head[5] = FL_MDP_SERVICE_MAX + 1;
    memset(head + 6, 's', FL_MDP_SERVICE_MAX + 1);
    head[6 + FL_MDP_SERVICE_MAX + 1] = 0;
    s_send_compact(evil, head, 7 + FL_MDP_SERVICE_MAX + 1, (const char *[]) { "x", NULL });
    head[5] = 4;
    memcpy(head + 6, "echo", 4);
    head[10] = FL_MDP_RID_MAX + 1;
    memset(head + 11, 'r', FL_MDP_RID_MAX + 1);
    s_send_compact(evil, head, 11 + FL_MDP_RID_MAX + 1, (const char *[]) { "x", NULL });
    size_t size = fl_mdp_compact_pack_client(head, FL_MDP_CLIENT_REQUEST, "echo", 4, "rid-evil", 8);
    s_send_compact(evil, head, size, NULL);             /* no body */
    s_send_compact(evil, head, size,                    /* 8 body frames besides the rid */
                   (const char *[]) { "1", "2", "3", "4", "5", "6", "7", "8", NULL });
    enum { BAD = 14 };
    for (int i = 0; i < 100 && s_stat(c, "malformed") < malformed0 + BAD; i++)
        zclock_sleep(20);
    ck_assert_int_eq(s_stat(c, "malformed") - malformed0, BAD);

    /* and now a good one, from the same socket */
    s_send_compact(evil, head, size, (const char *[]) { "still here", NULL });
    zmsg_t *reply = zmsg_recv(evil);
    ck_assert_ptr_nonnull(reply);
    ck_assert_uint_eq(zmsg_size(reply), 2);
    zframe_t *f0 = zmsg_first(reply);
    fl_mdp_frame_t v[2] = { { zframe_data(f0), zframe_size(f0) }, { "", 0 } };
    fl_mdp_compact_t h;
    fl_error_t err;
    ck_assert_msg(fl_mdp_check_compact(v, 2, &h, &err) == 0, "%s", err.message);
    ck_assert_int_eq(h.command, FL_MDP_CLIENT_FINAL);
    ck_assert_int_eq(memcmp(h.service.data, "echo", 4), 0);
    ck_assert_uint_eq(h.rid.size, 8);
    ck_assert_int_eq(memcmp(h.rid.data, "rid-evil", 8), 0);
    ck_assert(s_frame_is_text(zmsg_last(reply), "still here"));
    zmsg_destroy(&reply);
    zsock_destroy(&evil);
    fl_client_destroy(&c);
    tu_stop(w, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* The broker's own error reply (unknown service, after the queue timeout)
 * reaches a compact client in compact form, with its request id. */
START_TEST(test_broker_error_reaches_a_compact_client_with_its_rid)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    fl_client_t *c = s_client(&b, 5000, 0);
    long compact0 = s_stat(c, "compact");      /* the reply switches the client over */
    fl_reply_t reply;
    ck_assert_int_eq(fl_client_call(c, "foleni.nowhere", "x", 1, &reply, NULL), 0);
    ck_assert_uint_eq(reply.nparts, 1);
    fl_error_t err;
    fl_msg_t *m = fl_msg_decode(reply.parts[0].data, reply.parts[0].size, &err);
    ck_assert_msg(m != NULL, "%s", err.message);
    ck_assert_str_eq(fl_msg_str(m, FL_F_CODE), "unavailable");
    fl_msg_destroy(&m);
    fl_reply_reset(&reply);
    ck_assert_int_eq(s_stat(c, "compact") - compact0, 2);  /* the call and this mmi.stats */
    ck_assert_int_eq(s_stat(c, "expired"), 1);

    /* and on the wire: a raw compact client's rid comes back in the header */
    zsock_t *raw = s_raw(&b, FL_MDP_PROTO_CLIENT);
    uint8_t head[FL_MDP_COMPACT_HEADER_MAX];
    size_t size = fl_mdp_compact_pack_client(head, FL_MDP_CLIENT_REQUEST, "foleni.nowhere", 14,
                                             "rid-lost-1", 10);
    s_send_compact(raw, head, size, (const char *[]) { "x", NULL });
    zmsg_t *r = zmsg_recv(raw);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(zmsg_size(r), 2);
    zframe_t *f0 = zmsg_first(r);
    fl_mdp_frame_t v[2] = { { zframe_data(f0), zframe_size(f0) }, { "", 0 } };
    fl_mdp_compact_t h;
    ck_assert_msg(fl_mdp_check_compact(v, 2, &h, &err) == 0, "%s", err.message);
    ck_assert_int_eq(h.command, FL_MDP_CLIENT_FINAL);
    ck_assert_uint_eq(h.rid.size, 10);
    ck_assert_int_eq(memcmp(h.rid.data, "rid-lost-1", 10), 0);
    zmsg_destroy(&r);
    zsock_destroy(&raw);
    fl_client_destroy(&c);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* A library client and worker told plain_mdp speak plain MDP/0.2 only: the
 * broker counts no compact request, and the round trip still works. */
START_TEST(test_plain_mdp_option_keeps_the_libraries_on_plain_frames)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    fl_worker_options_t wo = { .window = 4, .heartbeat_ms = 200, .plain_mdp = true };
    fl_worker_t *w = fl_worker_new(b.endpoint, "lib", NULL, &wo, NULL);
    ck_assert_ptr_nonnull(w);
    fl_client_options_t co = { .timeout_ms = 5000, .retries = 0, .plain_mdp = true };
    fl_client_t *c = fl_client_new(b.endpoint, NULL, &co, NULL);
    ck_assert_ptr_nonnull(c);
    zclock_sleep(200);
    for (int i = 0; i < 3; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "plain-opt-%d", i);
        ck_assert_int_eq(fl_client_send(c, "lib", rid, "x", 1), 0);
        fl_request_t *req = NULL;
        ck_assert_int_eq(fl_worker_recv(w, &req, 5000), 0);
        ck_assert_str_eq(req->rid, rid);
        ck_assert_int_eq(fl_worker_reply(w, &req, req->parts, req->nparts), 0);
        fl_reply_t r;
        ck_assert_int_eq(fl_client_recv(c, &r, 5000), 0);
        ck_assert_str_eq(r.rid, rid);
        fl_reply_reset(&r);
    }
    ck_assert_int_eq(s_stat(c, "compact"), 0);
    fl_client_destroy(&c);
    fl_worker_destroy(&w);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* ---- many peers, many frames ---- */

/* A hundred workers (more than the worker table's first size) register,
 * half leave, and a request still finds one of those that stayed: the table
 * grows and shrinks without losing anyone. */
START_TEST(test_a_hundred_workers_register_and_half_leave)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    /* these raw workers send no heartbeats: give them 15 s before they count as silent */
    s_broker_start(&b, (const char *[]) { "--heartbeat-ms", "5000", NULL });
    enum { N = 100 };
    zsock_t *w[N];
    for (int i = 0; i < N; i++) {
        w[i] = zsock_new_dealer(b.endpoint);
        ck_assert_ptr_nonnull(w[i]);
        zsock_set_linger(w[i], 0);
        zsock_set_rcvtimeo(w[i], 0);
        zmsg_t *ready = fl_mdp_worker_ready_window("many", 4);
        ck_assert_int_eq(zmsg_send(&ready, w[i]), 0);
    }
    fl_client_t *c = s_client(&b, 3000, 0);
    for (int i = 0; i < 100 && s_stat(c, "workers.many") < N; i++)
        zclock_sleep(20);
    ck_assert_int_eq(s_stat(c, "workers.many"), N);
    for (int i = 0; i < N; i += 2) {                /* the even ones leave */
        zmsg_t *bye = fl_mdp_worker_disconnect();
        ck_assert_int_eq(zmsg_send(&bye, w[i]), 0);
    }
    for (int i = 0; i < 100 && s_stat(c, "workers.many") > N / 2; i++)
        zclock_sleep(20);
    ck_assert_int_eq(s_stat(c, "workers.many"), N / 2);
    ck_assert_int_eq(s_stat(c, "workers"), N / 2);

    ck_assert_int_eq(fl_client_send(c, "many", "many-0001", "hello", 5), 0);
    int64_t until = zclock_mono() + 5000;
    int served = -1;
    while (served < 0 && zclock_mono() < until) {
        for (int i = 1; i < N && served < 0; i += 2) {
            zmsg_t *req = zmsg_recv(w[i]);
            if (!req)
                continue;
            fl_mdp_worker_msg_t cmd;
            ck_assert_int_eq(fl_mdp_parse_worker(req, &cmd, NULL), 0);
            if (cmd.command == FL_MDP_WORKER_REQUEST) {
                ck_assert_uint_eq(zmsg_size(req), 3);   /* caller, rid, payload */
                zframe_t *caller = zmsg_pop(req);
                ck_assert_uint_eq(zframe_size(caller), 0);  /* plain link */
                zframe_destroy(&caller);
                zmsg_t *final = fl_mdp_worker_final(cmd.address, &req);
                ck_assert_int_eq(zmsg_send(&final, w[i]), 0);
                served = i;
            }
            fl_mdp_worker_msg_reset(&cmd);
            zmsg_destroy(&req);
        }
        zclock_sleep(1);
    }
    ck_assert_int_eq(served % 2, 1);                /* never one that left */
    fl_reply_t r;
    ck_assert_int_eq(fl_client_recv(c, &r, 5000), 0);
    ck_assert_str_eq(r.rid, "many-0001");
    char *text = s_part(&r, 0);
    ck_assert_str_eq(text, "hello");
    zstr_free(&text);
    fl_reply_reset(&r);
    fl_client_destroy(&c);
    for (int i = 0; i < N; i++)
        zsock_destroy(&w[i]);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* Three hundred requests in flight from one socket through a small window,
 * so most wait in the broker's queue; and a body of several frames, which
 * must arrive whole and in order whether it waited or not. */
START_TEST(test_hundreds_in_flight_and_multi_frame_bodies_arrive_whole)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    int w = s_worker_start(&b, (const char *[]) { "--window", "3", NULL });
    fl_client_t *c = s_client(&b, 5000, 1);
    s_wait_service(c, "echo");
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "flight-%04d", i);
        ck_assert_int_eq(fl_client_send(c, "echo", rid, rid, strlen(rid)), 0);
    }
    ck_assert_uint_eq(fl_client_outstanding(c), N);
    bool seen[N] = { false };
    fl_reply_t r;
    for (int got = 0; got < N; got++) {
        ck_assert_int_eq(fl_client_recv(c, &r, 10000), 0);
        ck_assert_int_eq(r.status, 0);
        char *echoed = s_part(&r, 0);
        ck_assert_str_eq(echoed, r.rid);
        int i = atoi(r.rid + 7);
        ck_assert(i >= 0 && i < N && !seen[i]);
        seen[i] = true;
        zstr_free(&echoed);
        fl_reply_reset(&r);
    }
    ck_assert_uint_eq(fl_client_outstanding(c), 0);
    ck_assert_int_eq(fl_client_recv(c, &r, 0), FL_E_EMPTY);
    ck_assert_int_gt(s_stat(c, "queued"), 0);       /* the window made requests wait */
    ck_assert_int_eq(s_stat(c, "waiting"), 0);

    /* a raw client: rid and three payload frames, one of them empty */
    zsock_t *raw = zsock_new_dealer(b.endpoint);
    zsock_set_linger(raw, 0);
    zsock_set_rcvtimeo(raw, 5000);
    for (int k = 0; k < 2; k++)
        zstr_sendx(raw, "MDPC02", "\x01", "echo", k ? "raw-rid-2" : "raw-rid-1", "alpha", "", "gamma", NULL);
    for (int k = 0; k < 2; k++) {
        zmsg_t *reply = zmsg_recv(raw);
        ck_assert_ptr_nonnull(reply);
        fl_mdp_client_msg_t cmd;
        ck_assert_int_eq(fl_mdp_parse_client(reply, &cmd, NULL), 0);
        ck_assert_int_eq(cmd.command, FL_MDP_CLIENT_FINAL);
        ck_assert_uint_eq(zmsg_size(reply), 5);     /* rid, alpha, "", gamma, the echo's tag */
        char *rid = zmsg_popstr(reply), *a = zmsg_popstr(reply), *e = zmsg_popstr(reply),
             *g = zmsg_popstr(reply), *tag = zmsg_popstr(reply);
        ck_assert(!strcmp(rid, "raw-rid-1") || !strcmp(rid, "raw-rid-2"));
        ck_assert_str_eq(a, "alpha");
        ck_assert_str_eq(e, "");
        ck_assert_str_eq(g, "gamma");
        ck_assert(!strncmp(tag, "pid=", 4));
        zstr_free(&rid); zstr_free(&a); zstr_free(&e); zstr_free(&g); zstr_free(&tag);
        zmsg_destroy(&reply);
    }
    zsock_destroy(&raw);
    fl_client_destroy(&c);
    tu_stop(w, SIGKILL, 1000);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* The library worker and client in this process, one step at a time: a
 * request's parts point at its frames; a reply goes back as parts, copied or
 * (an echo) moved; replies can be moved by value; request blocks are reused
 * without leaking one request's id into the next (a plain MDP client's
 * request has none); and a reply with too many frames is refused whole. */
START_TEST(test_worker_and_client_parts_round_trip)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    fl_worker_options_t wo = { .window = 4, .heartbeat_ms = 200 };
    fl_error_t err;
    fl_worker_t *w = fl_worker_new(b.endpoint, "parts", NULL, &wo, &err);
    ck_assert_msg(w != NULL, "%s", err.message);
    fl_client_t *c = s_client(&b, 5000, 0);
    for (int i = 0; i < 100; i++) {         /* the worker registers while it runs */
        fl_request_t *none = NULL;
        ck_assert_int_eq(fl_worker_recv(w, &none, 20), FL_E_TIMEOUT);
        char *r = s_call(c, "mmi.service", "parts");
        bool ok = r && !strcmp(r, "200");
        free(r);
        if (ok)
            break;
    }

    /* parts out, parts back: copied, one of them pointing into the request */
    ck_assert_int_eq(fl_client_send(c, "parts", "parts-0001", "hello", 5), 0);
    fl_request_t *req = NULL;
    ck_assert_int_eq(fl_worker_recv(w, &req, 5000), 0);
    ck_assert_str_eq(req->rid, "parts-0001");
    ck_assert_str_eq(req->caller, "");
    ck_assert_uint_eq(req->nparts, 1);
    ck_assert_uint_eq(req->parts[0].size, 5);
    ck_assert(!memcmp(req->parts[0].data, "hello", 5));
    fl_part_t out[3] = { { "a", 1 }, { NULL, 0 }, req->parts[0] };
    ck_assert_int_eq(fl_worker_reply(w, &req, out, 3), 0);
    ck_assert_ptr_null(req);
    fl_reply_t r;
    ck_assert_int_eq(fl_client_recv(c, &r, 5000), 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.rid, "parts-0001");
    fl_reply_t moved = r;                   /* by value: the parts stay valid */
    memset(&r, 0xA5, sizeof r);
    ck_assert_uint_eq(moved.nparts, 3);
    ck_assert(moved.parts[0].size == 1 && !memcmp(moved.parts[0].data, "a", 1));
    ck_assert_uint_eq(moved.parts[1].size, 0);
    ck_assert(moved.parts[2].size == 5 && !memcmp(moved.parts[2].data, "hello", 5));
    char *text = fl_part_strdup(&moved.parts[2]);
    ck_assert_str_eq(text, "hello");
    free(text);
    fl_reply_reset(&moved);
    ck_assert_uint_eq(moved.nparts, 0);
    ck_assert_uint_eq(moved.parts[0].size, 0);      /* parts[0] stays readable */
    fl_reply_reset(&moved);                         /* twice is harmless */

    /* many requests through reused blocks, echoed by moving their frames */
    for (int i = 0; i < 50; i++) {
        char rid[32], body[64];
        snprintf(rid, sizeof rid, "echo-%04d", i);
        snprintf(body, sizeof body, "payload %d %s", i, i % 2 ? "longer than a small message's inline bytes" : "");
        ck_assert_int_eq(fl_client_send(c, "parts", rid, body, strlen(body)), 0);
        ck_assert_int_eq(fl_worker_recv(w, &req, 5000), 0);
        ck_assert_str_eq(req->rid, rid);
        ck_assert_int_eq(fl_worker_reply(w, &req, req->parts, req->nparts), 0);
        ck_assert_int_eq(fl_client_recv(c, &r, 5000), 0);
        ck_assert_str_eq(r.rid, rid);
        ck_assert_uint_eq(r.nparts, 1);
        ck_assert_uint_eq(r.parts[0].size, strlen(body));
        ck_assert(!memcmp(r.parts[0].data, body, strlen(body)));
        fl_reply_reset(&r);
    }

    /* a plain MDP client's request has no id, even in a reused block */
    zsock_t *raw = zsock_new_dealer(b.endpoint);
    zsock_set_linger(raw, 0);
    zsock_set_rcvtimeo(raw, 5000);
    zstr_sendx(raw, "MDPC02", "\x01", "parts", "jambo", NULL);   /* one frame: more would read as an id */
    ck_assert_int_eq(fl_worker_recv(w, &req, 5000), 0);
    ck_assert_str_eq(req->rid, "");
    ck_assert_uint_eq(req->nparts, 1);
    ck_assert(req->parts[0].size == 5 && !memcmp(req->parts[0].data, "jambo", 5));
    ck_assert_int_eq(fl_worker_reply_one(w, &req, "sawa", 4), 0);
    zmsg_t *plain = zmsg_recv(raw);
    ck_assert_ptr_nonnull(plain);
    ck_assert_uint_eq(zmsg_size(plain), 4);         /* MDPC02, FINAL, service, body: no id */
    zframe_t *last = zmsg_last(plain);
    ck_assert(zframe_size(last) == 4 && !memcmp(zframe_data(last), "sawa", 4));
    zmsg_destroy(&plain);
    /* a body of several frames, echoed by moving them: whole and in order */
    zstr_sendx(raw, "MDPC02", "\x01", "parts", "raw-rid-9", "alpha", "", "gamma", NULL);
    ck_assert_int_eq(fl_worker_recv(w, &req, 5000), 0);
    ck_assert_str_eq(req->rid, "raw-rid-9");
    ck_assert_uint_eq(req->nparts, 3);
    ck_assert_int_eq(fl_worker_reply(w, &req, req->parts, req->nparts), 0);
    plain = zmsg_recv(raw);
    ck_assert_ptr_nonnull(plain);
    ck_assert_uint_eq(zmsg_size(plain), 7);         /* MDPC02, FINAL, service, rid, alpha, "", gamma */
    for (int i = 0; i < 3; i++)
        zframe_destroy(&(zframe_t *) { zmsg_pop(plain) });
    const char *want[] = { "raw-rid-9", "alpha", "", "gamma" };
    for (int i = 0; i < 4; i++) {
        char *got = zmsg_popstr(plain);
        ck_assert_str_eq(got, want[i]);
        zstr_free(&got);
    }
    zmsg_destroy(&plain);
    zsock_destroy(&raw);

    /* too many frames: refused, nothing sent, the request freed */
    ck_assert_int_eq(fl_client_send(c, "parts", "parts-many", "x", 1), 0);
    ck_assert_int_eq(fl_worker_recv(w, &req, 5000), 0);
    fl_part_t many[FL_PARTS_MAX];
    for (size_t i = 0; i < FL_PARTS_MAX; i++)
        many[i] = (fl_part_t) { "m", 1 };
    ck_assert_int_eq(fl_worker_reply(w, &req, many, FL_PARTS_MAX), FL_E_INVALID);
    ck_assert_ptr_null(req);
    ck_assert_int_eq(fl_client_recv(c, &r, 300), FL_E_TIMEOUT);
    ck_assert_uint_eq(r.nparts, 0);                 /* left empty: resetting it is safe */
    fl_reply_reset(&r);

    /* a request may be freed after its worker */
    ck_assert_int_eq(fl_client_send(c, "parts", "parts-last", "y", 1), 0);
    ck_assert_int_eq(fl_worker_recv(w, &req, 5000), 0);
    fl_worker_destroy(&w);
    ck_assert(req->parts[0].size == 1 && !memcmp(req->parts[0].data, "y", 1));
    fl_request_destroy(&req);
    ck_assert_ptr_null(req);
    fl_client_destroy(&c);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

/* ---- the event bus ---- */

START_TEST(test_events_reach_subscribers_of_their_office_only)
{
    s_quiet_czmq();
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    zsock_t *pub = fl_bus_publisher(b.publish, NULL, NULL);
    ck_assert_ptr_nonnull(pub);
    zsock_t *sub[3];
    const char *topics[3] = { "NBIGPO", "NBIGPO", "MSA" };
    for (int i = 0; i < 3; i++) {
        sub[i] = fl_bus_subscriber(b.subscribe, NULL, &topics[i], 1, NULL);
        ck_assert_ptr_nonnull(sub[i]);
    }
    /* subscriptions travel to the publisher asynchronously: publish until both
     * NBIGPO subscribers have one, then an MSA event until the third has it */
    int got[3] = { 0 };
    bool other_office_leaked = false;
    for (int round = 0; round < 400 && (!got[0] || !got[1] || !got[2]); round++) {
        if (!got[0] || !got[1])
            fl_bus_publish(pub, "NBIGPO.call", "P-042 to counter 3", 18);
        else
            fl_bus_publish(pub, "MSA.call", "B-001 to counter 1", 18);
        zclock_sleep(10);
        for (int i = 0; i < 3; i++) {
            zmsg_t *m;
            zsock_set_rcvtimeo(sub[i], 0);
            while ((m = zmsg_recv(sub[i]))) {
                char *topic = zmsg_popstr(m);
                if (strncmp(topic, topics[i], strlen(topics[i])) != 0)
                    other_office_leaked = true;
                got[i]++;
                zstr_free(&topic);
                zmsg_destroy(&m);
            }
        }
    }
    ck_assert_msg(got[0] && got[1], "NBIGPO subscribers got %d and %d", got[0], got[1]);
    ck_assert_msg(got[2] > 0, "the MSA subscriber got nothing");
    ck_assert(!other_office_leaked);
    fl_client_t *c = s_client(&b, 2000, 1);
    ck_assert_int_gt(s_stat(c, "events"), 0);
    fl_client_destroy(&c);
    for (int i = 0; i < 3; i++)
        zsock_destroy(&sub[i]);
    zsock_destroy(&pub);
    s_broker_stop(&b);
    tu_rmtree(b.dir);
}
END_TEST

START_TEST(test_sigterm_stops_the_broker_cleanly)
{
    broker_proc_t b = { 0 };
    s_broker_start(&b, NULL);
    zclock_sleep(200);
    ck_assert_int_eq(tu_stop(b.pid, SIGTERM, 5000), 0);
    FILE *f = fopen(b.log, "r");
    char text[4096] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "msg=\"broker stopped\""));
    tu_rmtree(b.dir);
}
END_TEST

Suite *
make_suite(void)
{
    Suite *s = suite_create("broker");
    TCase *tc = tcase_create("broker");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_echo_round_trip_through_the_broker);
    tcase_add_test(tc, test_two_workers_share_the_load);
    tcase_add_test(tc, test_worker_killed_mid_request_and_the_retry_is_answered_by_another);
    tcase_add_test(tc, test_broker_restart_worker_registers_again_and_client_succeeds);
    tcase_add_test(tc, test_unknown_service_gets_an_error_reply_after_expiry);
    tcase_add_test(tc, test_full_queue_refuses_at_once);
    tcase_add_test(tc, test_client_refuses_repeated_ids_and_too_many_in_flight);
    tcase_add_test(tc, test_mmi_answers_which_services_exist);
    tcase_add_test(tc, test_curve_serves_allowed_keys_only_and_names_the_caller);
    tcase_add_test(tc, test_plain_bind_beyond_loopback_needs_insecure);
    tcase_add_test(tc, test_garbage_then_a_valid_request_is_served);
    tcase_add_test(tc, test_reply_for_a_client_that_left_is_dropped);
    tcase_add_test(tc, test_plain_mdp_client_and_worker_work_with_a_window_of_one);
    tcase_add_test(tc, test_compact_client_and_worker_with_hundreds_in_flight);
    tcase_add_test(tc, test_compact_client_with_plain_and_compact_raw_workers);
    tcase_add_test(tc, test_plain_mdp_client_with_a_compact_library_worker);
    tcase_add_test(tc, test_malformed_compact_headers_then_a_valid_request_is_served);
    tcase_add_test(tc, test_broker_error_reaches_a_compact_client_with_its_rid);
    tcase_add_test(tc, test_plain_mdp_option_keeps_the_libraries_on_plain_frames);
    tcase_add_test(tc, test_a_hundred_workers_register_and_half_leave);
    tcase_add_test(tc, test_hundreds_in_flight_and_multi_frame_bodies_arrive_whole);
    tcase_add_test(tc, test_worker_and_client_parts_round_trip);
    tcase_add_test(tc, test_events_reach_subscribers_of_their_office_only);
    tcase_add_test(tc, test_sigterm_stops_the_broker_cleanly);
    suite_add_tcase(s, tc);
    return s;
}
