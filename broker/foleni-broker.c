/*  foleni-broker — the one address every part of Foleni talks to.
 *
 *  Runs broker.c's router and event bus with options from flags or the
 *  environment, logs in logfmt to stderr, and stops cleanly on SIGINT or
 *  SIGTERM.  `foleni-broker --help` lists everything.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "libfoleni/log.h"

#define DEFAULT_ENDPOINT  "tcp://127.0.0.1:5555"
#define DEFAULT_PUBLISH   "tcp://127.0.0.1:5556"
#define DEFAULT_SUBSCRIBE "tcp://127.0.0.1:5557"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-broker [options]\n"
        "\n"
        "Routes requests between Foleni clients and workers (Majordomo MDP/0.2 with\n"
        "Foleni's credit window) and passes events from publishers to subscribers.\n"
        "\n"
        "  -e, --endpoint EP        MDP clients and workers      [$FOLENI_BROKER, " DEFAULT_ENDPOINT "]\n"
        "  -p, --publish EP         publishers connect here      [$FOLENI_EVENTS_IN, " DEFAULT_PUBLISH "]\n"
        "  -s, --subscribe EP       subscribers connect here     [$FOLENI_EVENTS_OUT, " DEFAULT_SUBSCRIBE "]\n"
        "      --heartbeat-ms N     heartbeat interval           [$FOLENI_HEARTBEAT_MS, 2500]\n"
        "      --liveness N         missed heartbeats before a worker is dropped [3]\n"
        "      --queue-max N        requests waiting per service [10000]\n"
        "      --queue-timeout-ms N how long a request waits for a worker [5000]\n"
        "      --max-message N      largest message in bytes     [1048576]\n"
        "      --cert FILE          server certificate (CURVE on) [$FOLENI_BROKER_CERT]\n"
        "      --clients DIR        allowed client certificates  [$FOLENI_BROKER_CLIENTS]\n"
        "      --insecure           allow plain binds beyond loopback\n"
        "      --stats-interval S   log the counters every S seconds, 0 never [60]\n"
        "      --log-level L        debug, info, warn, error     [$FOLENI_LOG_LEVEL, info]\n"
        "  -h, --help               this text\n"
        "\n"
        "Operators read the counters with an MDP request to the service mmi.stats,\n"
        "and whether a service has workers with mmi.service (RFC 8).\n");
}

static const char *
s_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static bool
s_int(const char *text, long min, long max, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int
main(int argc, char **argv)
{
    broker_options_t opts = {
        .endpoint = s_env("FOLENI_BROKER", DEFAULT_ENDPOINT),
        .publish_endpoint = s_env("FOLENI_EVENTS_IN", DEFAULT_PUBLISH),
        .subscribe_endpoint = s_env("FOLENI_EVENTS_OUT", DEFAULT_SUBSCRIBE),
        .heartbeat_ms = atoi(s_env("FOLENI_HEARTBEAT_MS", "2500")),
        .cert_path = s_env("FOLENI_BROKER_CERT", NULL),
        .clients_dir = s_env("FOLENI_BROKER_CLIENTS", NULL),
        .stats_interval_s = 60,
    };
    fl_log_level_t level = FL_LOG_INFO;
    enum { O_HB = 256, O_LIVE, O_QMAX, O_QTIME, O_MAXMSG, O_CERT, O_CLIENTS, O_INSECURE, O_STATS, O_LEVEL };
    static const struct option longopts[] = {
        { "endpoint", required_argument, NULL, 'e' }, { "publish", required_argument, NULL, 'p' },
        { "subscribe", required_argument, NULL, 's' }, { "heartbeat-ms", required_argument, NULL, O_HB },
        { "liveness", required_argument, NULL, O_LIVE }, { "queue-max", required_argument, NULL, O_QMAX },
        { "queue-timeout-ms", required_argument, NULL, O_QTIME },
        { "max-message", required_argument, NULL, O_MAXMSG }, { "cert", required_argument, NULL, O_CERT },
        { "clients", required_argument, NULL, O_CLIENTS }, { "insecure", no_argument, NULL, O_INSECURE },
        { "stats-interval", required_argument, NULL, O_STATS },
        { "log-level", required_argument, NULL, O_LEVEL }, { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    long n;
    while ((opt = getopt_long(argc, argv, "e:p:s:h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case 'e': opts.endpoint = optarg; break;
        case 'p': opts.publish_endpoint = optarg; break;
        case 's': opts.subscribe_endpoint = optarg; break;
        case O_HB: ok = s_int(optarg, 10, 600000, &n); opts.heartbeat_ms = (int) n; break;
        case O_LIVE: ok = s_int(optarg, 1, 100, &n); opts.liveness = (int) n; break;
        case O_QMAX: ok = s_int(optarg, 1, 10000000, &n); opts.queue_max = (size_t) n; break;
        case O_QTIME: ok = s_int(optarg, 1, 3600000, &n); opts.queue_timeout_ms = (int) n; break;
        case O_MAXMSG: ok = s_int(optarg, 1024, 1L << 30, &n); opts.max_message_bytes = n; break;
        case O_CERT: opts.cert_path = optarg; break;
        case O_CLIENTS: opts.clients_dir = optarg; break;
        case O_INSECURE: opts.insecure = true; break;
        case O_STATS: ok = s_int(optarg, 0, 86400, &n); opts.stats_interval_s = (int) n; break;
        case O_LEVEL: ok = fl_log_level_parse(optarg, &level) == 0; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "foleni-broker: bad value '%s' for %s\n", optarg, argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "foleni-broker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    fl_log_init("broker", level);
    fl_error_t err;
    broker_t *broker = broker_new(&opts, &err);
    if (!broker) {
        fl_log(FL_LOG_ERROR, "cannot start", FL_S("reason", err.message), NULL);
        return 1;
    }
    broker_run(broker, NULL);
    char *text = broker_stats_text(broker);
    fl_log(FL_LOG_INFO, "broker stopped", FL_S("counters", text), NULL);
    free(text);
    broker_destroy(&broker);
    return 0;
}
