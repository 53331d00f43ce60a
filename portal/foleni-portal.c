/*  foleni-portal — the booking site, the kiosk and the public API.
 *
 *  Runs portal.h's server with options from flags or the environment, logs
 *  in logfmt (an access line per request unless --no-access-log), stops
 *  cleanly on SIGINT/SIGTERM.  `foleni-portal --help` lists everything.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libfoleni/log.h"
#include "portal/portal.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-portal [options]\n"
        "\n"
        "Serves the booking pages, the kiosk, the wait-times page and the JSON API\n"
        "(docs/api.md), reaching the scheduler through the broker.\n"
        "\n"
        "  -p, --port N              HTTP port                 [$FOLENI_PORTAL_PORT, 8080]\n"
        "  -a, --address A           listen address            [127.0.0.1]\n"
        "  -e, --broker EP           the broker                [$FOLENI_BROKER, tcp://127.0.0.1:5555]\n"
        "  -w, --www DIR             the pages                 [portal/www beside the build]\n"
        "      --rate-burst N        requests per address before limiting (booking,\n"
        "                            lookup, tickets); 0 turns limiting off [20]\n"
        "      --rate-per-minute N   refill of that budget      [30]\n"
        "      --per-ip N            connections per address, 0: no limit [64]\n"
        "      --trust-proxy A[,A..] reverse proxies (IP addresses, or ranges ADDR/BITS)\n"
        "                            whose X-Forwarded-For names the client for rate\n"
        "                            limits and the access log\n"
        "      --connections N       connections in all        [10000]\n"
        "      --timeout S           idle connection timeout   [30]\n"
        "      --scheduler-timeout-ms N  per attempt           [2500]\n"
        "      --no-access-log       no line per request\n"
        "      --log-level L         debug, info, warn, error  [info]\n"
        "  -h, --help\n"
        "CURVE for the broker link: FOLENI_CURVE_CERT and FOLENI_CURVE_SERVER.\n");
}

/* portal/www relative to the binary (build/bin/ -> ../../portal/www), else ./portal/www. */
static void
s_default_www(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (n > 0) {
        exe[n] = '\0';
        snprintf(out, cap, "%s/../../portal/www", dirname(exe));
        if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
            return;
    }
    snprintf(out, cap, "portal/www");
}

static bool
s_num(const char *text, long min, long max, long *out)
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
    char www[PATH_MAX];
    s_default_www(www, sizeof www);
    const char *port_env = getenv("FOLENI_PORTAL_PORT"), *broker = getenv("FOLENI_BROKER");
    portal_options_t opts = {
        .address = "127.0.0.1", .port = port_env ? atoi(port_env) : 8080,
        .broker = broker && *broker ? broker : "tcp://127.0.0.1:5555", .www = www,
        .per_ip_limit = 64, .rate_burst = 20, .rate_per_s = 30.0 / 60, .access_log = true,
        .scheduler_retries = 1,
    };
    fl_log_level_t level = FL_LOG_INFO;
    enum { O_BURST = 256, O_RATE, O_PERIP, O_CONNS, O_TIMEOUT, O_STIMEOUT, O_NOLOG, O_LEVEL, O_TRUST };
    static const struct option longopts[] = {
        { "port", required_argument, NULL, 'p' }, { "address", required_argument, NULL, 'a' },
        { "broker", required_argument, NULL, 'e' }, { "www", required_argument, NULL, 'w' },
        { "rate-burst", required_argument, NULL, O_BURST }, { "rate-per-minute", required_argument, NULL, O_RATE },
        { "per-ip", required_argument, NULL, O_PERIP }, { "connections", required_argument, NULL, O_CONNS },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "scheduler-timeout-ms", required_argument, NULL, O_STIMEOUT },
        { "no-access-log", no_argument, NULL, O_NOLOG }, { "trust-proxy", required_argument, NULL, O_TRUST }, { "log-level", required_argument, NULL, O_LEVEL },
        { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    long n;
    while ((opt = getopt_long(argc, argv, "p:a:e:w:h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case 'p': ok = s_num(optarg, 0, 65535, &n); opts.port = (int) n; break;
        case 'a': opts.address = optarg; break;
        case 'e': opts.broker = optarg; break;
        case 'w': opts.www = optarg; break;
        case O_BURST: ok = s_num(optarg, 0, 1000000, &n); opts.rate_burst = (unsigned) n; break;
        case O_RATE: ok = s_num(optarg, 1, 6000000, &n); opts.rate_per_s = (double) n / 60; break;
        case O_PERIP: ok = s_num(optarg, 0, 100000, &n); opts.per_ip_limit = (unsigned) n; break;
        case O_CONNS: ok = s_num(optarg, 1, 1000000, &n); opts.connection_limit = (unsigned) n; break;
        case O_TIMEOUT: ok = s_num(optarg, 1, 3600, &n); opts.timeout_s = (unsigned) n; break;
        case O_STIMEOUT: ok = s_num(optarg, 10, 600000, &n); opts.scheduler_timeout_ms = (int) n; break;
        case O_NOLOG: opts.access_log = false; break;
        case O_TRUST: opts.trust_proxy = optarg; break;
        case O_LEVEL: ok = fl_log_level_parse(optarg, &level) == 0; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "foleni-portal: bad value '%s' for %s\n", optarg, argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return 2;
    }
    fl_log_init("portal", level);
    fl_error_t err;
    fl_security_t *security = fl_security_from_env(&err);
    portal_t *portal = NULL;
    if (security) {
        opts.security = security;
        portal = portal_new(&opts, &err);
    }
    if (!portal) {
        fl_log(FL_LOG_ERROR, "cannot start", FL_S("reason", err.message), NULL);
        fl_security_destroy(&security);
        return 1;
    }
    portal_run(portal, NULL);
    portal_destroy(&portal);
    fl_security_destroy(&security);
    return 0;
}
