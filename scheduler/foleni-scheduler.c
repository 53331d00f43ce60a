/*  foleni-scheduler — the scheduler process: one worker of the broker, the
 *  only writer of the store, the source of every event.
 *
 *  Its loop: wait for a request; take every other request already waiting (up
 *  to the batch bound); handle them all in one durable transaction
 *  (sched_batch); send the replies; publish the events.  The next batch starts
 *  as soon as this one is out: requests that arrived during a commit are the
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

/* ---- serving ---- */

typedef struct {
    fl_worker_t *worker;
    zsock_t *publisher;
    sched_t *sched;
    bool group_commit;
    unsigned window;
} loop_t;

static void
s_publish(loop_t *l, sched_event_t *events, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fl_bus_publish(l->publisher, events[i].topic, events[i].body, events[i].len);
    sched_events_free(events, n);
}

/* Handle the requests in hand as one batch (or one by one without group commit). */
static void
s_serve(loop_t *l, fl_request_t **reqs, size_t n)
{
    sched_request_t batch[SCHED_BATCH_MAX];
    size_t step = l->group_commit ? n : 1;
    for (size_t first = 0; first < n; first += step) {
        size_t count = first + step <= n ? step : n - first;
        for (size_t i = 0; i < count; i++) {
            const fl_part_t *body = &reqs[first + i]->parts[0];     /* always readable */
            batch[i] = (sched_request_t) { .body = body->data, .len = body->size,
                                           .caller = reqs[first + i]->caller };
        }
        sched_event_t *events;
        size_t nevents;
        sched_batch(l->sched, batch, count, s_now(), &events, &nevents);
        for (size_t i = 0; i < count; i++) {
            fl_worker_reply_one(l->worker, &reqs[first + i], batch[i].reply, batch[i].reply_len);
            free(batch[i].reply);
        }
        s_publish(l, events, nevents);
    }
}

/* The periodic "scheduler stats" line: counts since start, and the largest
 * batch and longest write transaction since the last line. */
static void
s_log_stats(sched_t *sched, store_t *store)
{
    sched_stats_t st;
    sched_stats_take(sched, &st, true);
    store_stat_t ss = { 0 };
    store_stat(store, &ss, NULL);
    fl_log(FL_LOG_INFO, "scheduler stats", FL_U("batches", st.batches), FL_U("requests", st.requests),
           FL_U("refused", st.refused), FL_U("repeats", st.repeats), FL_U("events", st.events),
           FL_U("failed_batches", st.failed_batches), FL_U("redone", st.redone),
           FL_U("batch_max", st.batch_max), FL_D("write_ms_max", st.write_ms_max),
           FL_D("write_ms_avg", st.batches + st.failed_batches ? st.write_ms / (double) (st.batches + st.failed_batches) : 0),
           FL_U("store_used_bytes", ss.used_bytes), NULL);
}

/* The metrics file, every second: its time is the wall clock's (what a
 * scraper compares it with), not --clock's.  A failure is logged once, and
 * the recovery once. */
static void
s_write_metrics(sched_t *sched, const char *path, bool *failing)
{
    int rc = sched_metrics_write(sched, path, (int64_t) time(NULL));
    if (rc && !*failing)
        fl_log(FL_LOG_WARN, "cannot write the metrics file", FL_S("path", path), FL_S("reason", strerror(errno)),
               NULL);
    else if (!rc && *failing)
        fl_log(FL_LOG_INFO, "metrics file written again", FL_S("path", path), NULL);
    *failing = rc != 0;
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
    loop_t l = { .group_commit = group_commit, .window = window };
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
    if (!(l.worker = fl_worker_new(broker, service, security, &wopts, &err))
        || !(l.publisher = fl_bus_publisher(publish, security, &err))) {
        fl_log(FL_LOG_ERROR, "cannot connect", FL_S("reason", err.message), NULL);
        goto done;
    }
    l.sched = sched;
    fl_log(FL_LOG_INFO, "scheduler serving", FL_S("service", service), FL_S("broker", broker),
           FL_S("data", data), FL_U("offices", config->office_count), FL_U("window", window),
           FL_S("group_commit", group_commit ? "on" : "off"), NULL);
    bool metrics_failing = false;
    int64_t next_tick = zclock_mono();
    int64_t next_stats = zclock_mono() + (int64_t) stats_interval_s * 1000;
    fl_request_t *reqs[SCHED_BATCH_MAX];
    while (!zsys_interrupted) {
        int64_t wait = next_tick - zclock_mono();
        fl_request_t *first;
        int rc = fl_worker_recv(l.worker, &first, wait > 0 ? (int) wait : 0);
        if (rc == 0) {
            size_t n = 0;
            reqs[n++] = first;
            while (n < window && fl_worker_recv(l.worker, &reqs[n], 0) == 0)
                n++;
            s_serve(&l, reqs, n);
        } else if (rc != FL_E_TIMEOUT)
            break;
        if (zclock_mono() >= next_tick) {
            sched_event_t *events;
            size_t nevents;
            if (sched_tick(sched, s_now(), &events, &nevents) == 0)
                s_publish(&l, events, nevents);
            next_tick = zclock_mono() + 1000;
            if (metrics_path)
                s_write_metrics(sched, metrics_path, &metrics_failing);
            if (stats_interval_s && zclock_mono() >= next_stats) {
                s_log_stats(sched, store);
                next_stats = zclock_mono() + (int64_t) stats_interval_s * 1000;
            }
        }
    }
    if (metrics_path)
        s_write_metrics(sched, metrics_path, &metrics_failing);
    /* the last batch's replies may still be in the socket's queue: give them
     * a second to leave (the worker's socket has no linger otherwise) */
    if (fl_worker_socket(l.worker))
        zsock_set_linger(fl_worker_socket(l.worker), 1000);
    fl_log(FL_LOG_INFO, "scheduler stopping", NULL);
    status = 0;
done:
    fl_worker_destroy(&l.worker);
    zsock_destroy(&l.publisher);
    sched_destroy(&sched);
    store_destroy(&store);
    fl_config_destroy(&config);
    fl_security_destroy(&security);
    return status;
}
