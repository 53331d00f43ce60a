/*  foleni-scheduler — the scheduler process: one worker of the broker, the
 *  only writer of the store, the source of every event.
 *
 *  It reads its options, the configuration, the ID-hashing secret and the
 *  store, connects to the broker, and serves (scheduler/serve.h): one thread
 *  takes every request waiting (up to the batch bound) and handles them all in
 *  one durable transaction (sched_batch), while another sends the replies and
 *  events of the batch before.  Requests that arrive during a commit are the
 *  next batch, so the busier it gets, the more each flush carries.
 *  `foleni-scheduler --help` lists the options.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "libfoleni/bus.h"
#include "libfoleni/log.h"
#include "libfoleni/worker.h"
#include "scheduler/scheduler.h"
#include "scheduler/serve.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-scheduler --config FILE --data DIR [options]\n"
        "\n"
        "Serves Foleni's bookings and tickets through the broker and publishes every\n"
        "change on the event bus.  It is the only writer of the store in DIR.\n"
        "\n"
        "  -c, --config FILE       offices, services, counters (docs/config.md) [$FOLENI_CONFIG]\n"
        "  -d, --data DIR          the store                    [$FOLENI_DATA, var/data]\n"
        "  -e, --broker EP         the broker                   [$FOLENI_BROKER, tcp://127.0.0.1:5555]\n"
        "  -p, --publish EP        the broker's event input     [$FOLENI_EVENTS_IN, tcp://127.0.0.1:5556]\n"
        "      --secret-file F     key for hashing ID numbers, >= 32 bytes [$FOLENI_SECRET_FILE]\n"
        "      --create-secret     make the secret file (random) if it does not exist\n"
        "      --service NAME      the service to serve         [" SCHED_SERVICE "]\n"
        "      --window N          requests held at once (batch bound) [256]\n"
        "      --no-group-commit   one commit per request (for benchmarks only)\n"
        "      --counter-token T   token that makes a request a counter's [$FOLENI_COUNTER_TOKEN]\n"
        "      --admin-token T     token that makes a request an admin's  [$FOLENI_ADMIN_TOKEN]\n"
        "      --counter-keys DIR  public certificates of counters (CURVE)\n"
        "      --admin-keys DIR    public certificates of administrators (CURVE)\n"
        "      --clock T[:SPEED]   pretend it is T (unix seconds or YYYY-MM-DDTHH:MM:SSZ) and\n"
        "                          run SPEED times faster (tests, the simulated day)\n"
        "      --heartbeat-ms N    [2500]\n"
        "      --stats-interval S  log what it did every S seconds, 0 never [60]\n"
        "      --metrics-file F    write its counters there every second, in the Prometheus\n"
        "                          text format (node_exporter's textfile collector)\n"
        "                          [$FOLENI_SCHEDULER_METRICS]\n"
        "      --log-level L       debug, info, warn, error [info]\n"
        "  -h, --help\n"
        "CURVE for the links: FOLENI_CURVE_CERT and FOLENI_CURVE_SERVER.\n");
}

static const char *
s_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* ---- the clock ---- */

static int64_t s_clock_start;       /* 0: real time */
static int64_t s_clock_mono0;
static double  s_clock_speed = 1.0;

static int64_t
s_now(void)
{
    if (!s_clock_start)
        return (int64_t) time(NULL);
    return s_clock_start + (int64_t) ((double) (zclock_mono() - s_clock_mono0) * s_clock_speed / 1000.0);
}

static int
s_clock_parse(const char *text)
{
    char when[64];
    snprintf(when, sizeof when, "%s", text);
    char *colon = strrchr(when, ':');
    /* "2026-12-01T08:00:00Z:60" or "1796104800:60": SPEED follows the last ':' if the rest parses */
    if (colon && strchr(colon, 'Z') == NULL && colon[1] && strspn(colon + 1, "0123456789.") == strlen(colon + 1)) {
        s_clock_speed = atof(colon + 1);
        *colon = '\0';
    }
    struct tm tm = { 0 };
    char *end = strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end && !*end)
        s_clock_start = (int64_t) timegm(&tm);
    else {
        char *e;
        long long v = strtoll(when, &e, 10);
        if (*e || v <= 0)
            return -1;
        s_clock_start = v;
    }
    s_clock_mono0 = zclock_mono();
    return s_clock_speed > 0 && s_clock_speed <= 100000 ? 0 : -1;
}

/* ---- the secret ---- */

static int
s_read_secret(const char *path, bool create, uint8_t *out, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0 && errno == ENOENT && create) {
        uint8_t fresh[32];
        randombytes_buf(fresh, sizeof fresh);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, fresh, sizeof fresh) != (ssize_t) sizeof fresh || fsync(fd) != 0) {
            if (fd >= 0) close(fd);
            return -1;
        }
        close(fd);
        fl_log(FL_LOG_INFO, "created the ID-hashing secret", FL_S("path", path), NULL);
        fd = open(path, O_RDONLY);
    }
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, SCHED_SECRET_MAX);
    close(fd);
    if (n < SCHED_SECRET_MIN)
        return -1;
    *len = (size_t) n;
    return 0;
}

int
main(int argc, char **argv)
{
    const char *config_path = s_env("FOLENI_CONFIG", NULL), *data = s_env("FOLENI_DATA", "var/data");
    const char *broker = s_env("FOLENI_BROKER", "tcp://127.0.0.1:5555");
    const char *publish = s_env("FOLENI_EVENTS_IN", "tcp://127.0.0.1:5556");
    const char *secret_path = s_env("FOLENI_SECRET_FILE", NULL), *service = SCHED_SERVICE;
    const char *metrics_path = s_env("FOLENI_SCHEDULER_METRICS", NULL);
    sched_auth_t auth = { .counter_token = s_env("FOLENI_COUNTER_TOKEN", NULL),
                          .admin_token = s_env("FOLENI_ADMIN_TOKEN", NULL) };
    bool create_secret = false, group_commit = true;
    unsigned window = 256;
    int heartbeat_ms = 2500, stats_interval_s = 60;
    fl_log_level_t level = FL_LOG_INFO;
    enum { O_SECRET = 256, O_CREATE, O_SERVICE, O_WINDOW, O_NOGROUP, O_CTOKEN, O_ATOKEN, O_CKEYS, O_AKEYS,
           O_CLOCK, O_HB, O_LEVEL, O_STATS, O_METRICS };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' }, { "data", required_argument, NULL, 'd' },
        { "broker", required_argument, NULL, 'e' }, { "publish", required_argument, NULL, 'p' },
        { "secret-file", required_argument, NULL, O_SECRET }, { "create-secret", no_argument, NULL, O_CREATE },
        { "service", required_argument, NULL, O_SERVICE }, { "window", required_argument, NULL, O_WINDOW },
        { "no-group-commit", no_argument, NULL, O_NOGROUP },
        { "counter-token", required_argument, NULL, O_CTOKEN }, { "admin-token", required_argument, NULL, O_ATOKEN },
        { "counter-keys", required_argument, NULL, O_CKEYS }, { "admin-keys", required_argument, NULL, O_AKEYS },
        { "clock", required_argument, NULL, O_CLOCK }, { "heartbeat-ms", required_argument, NULL, O_HB },
        { "log-level", required_argument, NULL, O_LEVEL }, { "stats-interval", required_argument, NULL, O_STATS },
        { "metrics-file", required_argument, NULL, O_METRICS },
        { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:d:e:p:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'd': data = optarg; break;
        case 'e': broker = optarg; break;
        case 'p': publish = optarg; break;
        case O_SECRET: secret_path = optarg; break;
        case O_CREATE: create_secret = true; break;
        case O_SERVICE: service = optarg; break;
        case O_WINDOW: window = (unsigned) atoi(optarg); break;
        case O_NOGROUP: group_commit = false; break;
        case O_CTOKEN: auth.counter_token = optarg; break;
        case O_ATOKEN: auth.admin_token = optarg; break;
        case O_CKEYS: auth.counter_keys_dir = optarg; break;
        case O_AKEYS: auth.admin_keys_dir = optarg; break;
        case O_CLOCK:
            if (s_clock_parse(optarg) != 0) {
                fprintf(stderr, "foleni-scheduler: bad --clock '%s'\n", optarg);
                return 2;
            }
            break;
        case O_HB: heartbeat_ms = atoi(optarg); break;
        case O_METRICS: metrics_path = optarg; break;
        case O_STATS:
            stats_interval_s = atoi(optarg);
            if (stats_interval_s < 0 || stats_interval_s > 86400 || strspn(optarg, "0123456789") != strlen(optarg)) {
                fprintf(stderr, "foleni-scheduler: bad --stats-interval '%s'\n", optarg);
                return 2;
            }
            break;
        case O_LEVEL:
            if (fl_log_level_parse(optarg, &level) != 0) {
                fprintf(stderr, "foleni-scheduler: bad --log-level '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!config_path || !secret_path || optind != argc || window < 1 || window > SCHED_BATCH_MAX) {
        fprintf(stderr, "foleni-scheduler: %s\n", !config_path ? "--config is required"
                        : !secret_path ? "--secret-file is required" : "bad arguments");
        s_usage(stderr);
        return 2;
    }
    fl_log_init("scheduler", level);
    if (sodium_init() < 0)
        return 1;
    int status = 1;
    fl_error_t err;
    fl_config_t *config = NULL;
    store_t *store = NULL;
    sched_t *sched = NULL;
    fl_security_t *security = NULL;
    fl_worker_t *worker = NULL;
    zsock_t *publisher = NULL;
    sched_server_t *server = NULL;
    uint8_t secret[SCHED_SECRET_MAX];
    size_t secret_len = 0;
    if (s_read_secret(secret_path, create_secret, secret, &secret_len) != 0) {
        fl_log(FL_LOG_ERROR, "cannot read the ID-hashing secret (at least 32 bytes)", FL_S("path", secret_path), NULL);
        goto done;
    }
    /* The scheduler is the store's only writer: a second one on the same
     * folder is refused (store.h, sole_writer). */
    store_options_t store_opts = { .sole_writer = true };
    if (!(config = fl_config_load(config_path, &err)) || !(store = store_open(data, &store_opts, &err))
        || !(sched = sched_new(store, config, secret, secret_len, &auth, s_now(), &err))
        || !(security = fl_security_from_env(&err))) {
        fl_log(FL_LOG_ERROR, "cannot start", FL_S("reason", err.message), NULL);
        goto done;
    }
    sodium_memzero(secret, sizeof secret);
    /* Parsing a national configuration peaks at many times the file's size
     * (Jansson's tree), all freed again; glibc would keep that heap (about
     * 28 MiB for 1,000 offices) for the life of the process.  Give it back. */
    malloc_trim(0);
    fl_worker_options_t wopts = { .window = window, .heartbeat_ms = heartbeat_ms };
    if (!(worker = fl_worker_new(broker, service, security, &wopts, &err))
        || !(publisher = fl_bus_publisher(publish, security, &err))) {
        fl_log(FL_LOG_ERROR, "cannot connect", FL_S("reason", err.message), NULL);
        goto done;
    }
    sched_server_options_t sopts = { .window = window, .group_commit = group_commit, .now = s_now,
                                     .metrics_path = metrics_path, .stats_interval_s = stats_interval_s };
    if (!(server = sched_server_new(sched, store, worker, publisher, &sopts, &err))) {
        fl_log(FL_LOG_ERROR, "cannot start", FL_S("reason", err.message), NULL);
        goto done;
    }
    fl_log(FL_LOG_INFO, "scheduler serving", FL_S("service", service), FL_S("broker", broker),
           FL_S("data", data), FL_U("offices", config->office_count), FL_U("window", window),
           FL_S("group_commit", group_commit ? "on" : "off"), NULL);
    if (sched_server_run(server) != 0)
        goto done;
    fl_log(FL_LOG_INFO, "scheduler stopping", NULL);
    status = 0;
done:
    sched_server_destroy(&server);
    fl_worker_destroy(&worker);
    zsock_destroy(&publisher);
    sched_destroy(&sched);
    store_destroy(&store);
    fl_config_destroy(&config);
    fl_security_destroy(&security);
    return status;
}
