/*  foleni-echo — a diagnostic worker and client for the broker.
 *
 *    foleni-echo worker [options]        serve the echo service
 *    foleni-echo call [options] TEXT     ask it once and print the reply
 *
 *  An operator uses it to prove a broker (and its CURVE keys) work before
 *  starting the real services; the broker's tests use it as a real worker
 *  process they can start, kill and restart.  The worker replies with the
 *  request's frames followed by one frame "pid=P caller=KEY" (KEY is the
 *  client's CURVE public key, empty when plain); with --bare, with the
 *  request's frames alone (as the benchmark's bare relay echo does).  Security comes from
 *  FOLENI_CURVE_CERT and FOLENI_CURVE_SERVER, as for every Foleni process.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libfoleni/client.h"
#include "libfoleni/log.h"
#include "libfoleni/worker.h"

#define HELD_MAX 4096            /* requests --hold keeps unanswered */

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-echo worker [options]\n"
        "       foleni-echo call [options] TEXT\n"
        "\n"
        "  -e, --endpoint EP     the broker [$FOLENI_BROKER, tcp://127.0.0.1:5555]\n"
        "  -s, --service NAME    the service [echo]\n"
        "worker:\n"
        "      --window N        requests held at once [1]\n"
        "      --delay-ms N      wait before each reply [0]\n"
        "      --hold            take requests and never reply (prints 'got RID')\n"
        "      --bare            reply with the request's frames only, no pid/caller frame\n"
        "      --heartbeat-ms N  [2500]\n"
        "call:\n"
        "      --timeout-ms N    per attempt [3000]\n"
        "      --retries N       further attempts [3]\n"
        "exit codes: 0 ok, 1 no reply / cannot start, 2 usage\n");
}

static int
s_worker(const char *endpoint, const char *service, const fl_worker_options_t *wopts, int delay_ms, bool hold,
         bool bare, const fl_security_t *sec)
{
    fl_error_t err;
    fl_worker_t *worker = fl_worker_new(endpoint, service, sec, wopts, &err);
    if (!worker) {
        fprintf(stderr, "foleni-echo: %s\n", err.message);
        return 1;
    }
    fl_request_t *held[HELD_MAX];
    size_t nheld = 0;
    const int pid = (int) getpid();     /* once: getpid is a system call per reply otherwise */
    while (!zsys_interrupted) {
        fl_request_t *req;
        int rc = fl_worker_recv(worker, &req, 500);
        if (rc == FL_E_TIMEOUT)
            continue;
        if (rc)
            break;
        if (hold) {
            printf("got %s\n", req->rid);
            fflush(stdout);
            if (nheld < HELD_MAX)
                held[nheld++] = req;
            else
                fl_request_destroy(&req);
            continue;
        }
        if (delay_ms)
            zclock_sleep(delay_ms);
        if (bare) {                     /* the request's own frames: moved, no copy */
            fl_worker_reply(worker, &req, req->parts, req->nparts);
            continue;
        }
        fl_part_t parts[FL_PARTS_MAX];
        size_t n = req->nparts < FL_PARTS_MAX - 1 ? req->nparts : FL_PARTS_MAX - 1;
        memcpy(parts, req->parts, n * sizeof parts[0]);
        char tag[FL_CURVE_KEY_TEXT + 32];
        int len = snprintf(tag, sizeof tag, "pid=%d caller=%s", pid, req->caller);
        parts[n++] = (fl_part_t) { tag, (size_t) len };
        fl_worker_reply(worker, &req, parts, n);
    }
    while (nheld)
        fl_request_destroy(&held[--nheld]);
    fl_worker_destroy(&worker);
    return 0;
}

static int
s_call(const char *endpoint, const char *service, const fl_client_options_t *copts, const char *text,
       const fl_security_t *sec)
{
    fl_error_t err;
    fl_client_t *client = fl_client_new(endpoint, sec, copts, &err);
    if (!client) {
        fprintf(stderr, "foleni-echo: %s\n", err.message);
        return 1;
    }
    fl_reply_t reply;
    int rc = fl_client_call(client, service, text, strlen(text), &reply, &err);
    if (rc == 0) {
        for (size_t i = 0; i < reply.nparts; i++)
            printf("%.*s\n", (int) reply.parts[i].size, (const char *) reply.parts[i].data);
    } else
        fprintf(stderr, "foleni-echo: %s\n", err.message);
    fl_reply_reset(&reply);
    fl_client_destroy(&client);
    return rc ? 1 : 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *mode = argv[1];
    const char *endpoint = getenv("FOLENI_BROKER");
    if (!endpoint || !*endpoint)
        endpoint = "tcp://127.0.0.1:5555";
    const char *service = "echo";
    fl_worker_options_t wopts = { .window = 1 };
    fl_client_options_t copts = { .timeout_ms = 3000, .retries = 3 };
    int delay_ms = 0;
    bool hold = false, bare = false;
    enum { O_WINDOW = 256, O_DELAY, O_HOLD, O_HB, O_TIMEOUT, O_RETRIES, O_BARE };
    static const struct option longopts[] = {
        { "endpoint", required_argument, NULL, 'e' }, { "service", required_argument, NULL, 's' },
        { "window", required_argument, NULL, O_WINDOW }, { "delay-ms", required_argument, NULL, O_DELAY },
        { "hold", no_argument, NULL, O_HOLD }, { "heartbeat-ms", required_argument, NULL, O_HB },
        { "timeout-ms", required_argument, NULL, O_TIMEOUT }, { "retries", required_argument, NULL, O_RETRIES },
        { "bare", no_argument, NULL, O_BARE }, { 0 }
    };
    optind = 2;
    int opt;
    while ((opt = getopt_long(argc, argv, "e:s:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'e': endpoint = optarg; break;
        case 's': service = optarg; break;
        case O_WINDOW: wopts.window = (unsigned) atoi(optarg); break;
        case O_DELAY: delay_ms = atoi(optarg); break;
        case O_HOLD: hold = true; break;
        case O_BARE: bare = true; break;
        case O_HB: wopts.heartbeat_ms = atoi(optarg); break;
        case O_TIMEOUT: copts.timeout_ms = atoi(optarg); break;
        case O_RETRIES: copts.retries = atoi(optarg); break;
        default: s_usage(stderr); return 2;
        }
    }
    fl_log_init("echo", FL_LOG_WARN);
    fl_error_t err;
    fl_security_t *sec = fl_security_from_env(&err);
    if (!sec) {
        fprintf(stderr, "foleni-echo: %s\n", err.message);
        return 1;
    }
    int rc;
    if (!strcmp(mode, "worker") && optind == argc)
        rc = s_worker(endpoint, service, &wopts, delay_ms, hold, bare, sec);
    else if (!strcmp(mode, "call") && optind == argc - 1)
        rc = s_call(endpoint, service, &copts, argv[optind], sec);
    else {
        s_usage(stderr);
        rc = 2;
    }
    fl_security_destroy(&sec);
    return rc;
}
