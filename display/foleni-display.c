/*  foleni-display — the hall board service: keeps each office's board right
 *  from the event bus (snapshot + sequenced updates) and serves it to the
 *  hall's screens as a web page fed by server-sent events, or draws it on this
 *  terminal (--tty).
 *
 *  Reads options from flags or the environment, logs logfmt lines on stderr,
 *  and stops cleanly on SIGINT or SIGTERM: every screen's stream is ended
 *  before the server stops.  `foleni-display --help` lists everything;
 *  docs/display.md explains the board and its page.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "display/display.h"
#include "libfoleni/log.h"

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-display --office CODE [options]\n"
        "\n"
        "Keeps the hall board of each office right from the event bus and serves it to\n"
        "screens: open http://HOST:PORT/?office=CODE on the hall's TV (docs/display.md).\n"
        "\n"
        "  -o, --office CODE[,CODE]  office(s) to show; repeatable, the first is the default\n"
        "                            [$FOLENI_OFFICE]\n"
        "  -e, --broker EP           the broker                 [$FOLENI_BROKER, tcp://127.0.0.1:5555]\n"
        "  -s, --events EP           the broker's event output  [$FOLENI_EVENTS_OUT, tcp://127.0.0.1:5557]\n"
        "      --service NAME        the scheduler's service    [" DISP_SERVICE_DEFAULT "]\n"
        "  -p, --http-port N         HTTP port for the screens; 0: none [$FOLENI_DISPLAY_PORT, 8090]\n"
        "      --http-bind ADDR      address to listen on       [$FOLENI_DISPLAY_BIND, 127.0.0.1]\n"
        "                            (0.0.0.0 for screens on the hall's network)\n"
        "      --www DIR             the board page's files     [display/www of the source tree]\n"
        "      --max-boards N        connections at once        [1024]\n"
        "      --keepalive-ms N      comment on an idle stream this often [15000]\n"
        "      --retry-ms N          how soon a screen reconnects (SSE retry) [2000]\n"
        "      --writers N           threads writing a call to the screens, 1 or 2 [2 on 2+ cores]\n"
        "      --send-buffer N       socket send buffer per screen, bytes; 0: the kernel's [0]\n"
        "      --settle-ms N         estimates refreshed this long after a change [1000]\n"
        "      --silence-ms N        no event this long: fresh snapshot [5000]\n"
        "      --timeout-ms N        per request to the scheduler [1000]\n"
        "      --tty                 draw the board on this terminal (no HTTP unless -p is given)\n"
        "      --lang L              terminal languages: en, sw, en,sw, sw,en [en,sw]\n"
        "      --log-level L         debug, info, warn, error   [info]\n"
        "  -h, --help\n"
        "CURVE for the links: FOLENI_CURVE_CERT and FOLENI_CURVE_SERVER.\n");
}

static const char *
s_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* A whole number in lo..hi. */
static bool
s_num(const char *text, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return false;
    *out = (int) v;
    return true;
}

/* Split "A,B" into the office list (the text is kept: argv or environment). */
static bool
s_add_offices(disp_options_t *opts, char *text)
{
    for (char *save = NULL, *code = strtok_r(text, ",", &save); code; code = strtok_r(NULL, ",", &save)) {
        if (opts->noffices == DISP_HUB_OFFICES_MAX)
            return false;
        opts->offices[opts->noffices++] = code;
    }
    return true;
}

int
main(int argc, char **argv)
{
    disp_options_t opts;
    disp_options_init(&opts);
    opts.broker = s_env("FOLENI_BROKER", "tcp://127.0.0.1:5555");
    opts.events = s_env("FOLENI_EVENTS_OUT", "tcp://127.0.0.1:5557");
    opts.http_bind = s_env("FOLENI_DISPLAY_BIND", "127.0.0.1");
    int port = 8090, max_boards = 1024;
    bool port_given = false, tty = false;
    if (getenv("FOLENI_DISPLAY_PORT") && !s_num(getenv("FOLENI_DISPLAY_PORT"), 0, 65535, &port)) {
        fprintf(stderr, "foleni-display: bad FOLENI_DISPLAY_PORT\n");
        return 2;
    }
    static char env_offices[256];
    snprintf(env_offices, sizeof env_offices, "%s", s_env("FOLENI_OFFICE", ""));
    bool from_env = env_offices[0] != '\0';
    fl_log_level_t level = FL_LOG_INFO;
    enum { O_SERVICE = 256, O_BIND, O_WWW, O_MAX, O_KA, O_RETRY, O_SETTLE, O_SILENCE, O_TIMEOUT, O_TTY, O_LANG,
           O_LEVEL, O_WRITERS, O_SNDBUF };
    static const struct option longopts[] = {
        { "office", required_argument, NULL, 'o' }, { "broker", required_argument, NULL, 'e' },
        { "events", required_argument, NULL, 's' }, { "service", required_argument, NULL, O_SERVICE },
        { "http-port", required_argument, NULL, 'p' }, { "http-bind", required_argument, NULL, O_BIND },
        { "www", required_argument, NULL, O_WWW }, { "max-boards", required_argument, NULL, O_MAX },
        { "keepalive-ms", required_argument, NULL, O_KA }, { "retry-ms", required_argument, NULL, O_RETRY },
        { "settle-ms", required_argument, NULL, O_SETTLE }, { "silence-ms", required_argument, NULL, O_SILENCE },
        { "timeout-ms", required_argument, NULL, O_TIMEOUT }, { "tty", no_argument, NULL, O_TTY },
        { "lang", required_argument, NULL, O_LANG }, { "log-level", required_argument, NULL, O_LEVEL },
        { "writers", required_argument, NULL, O_WRITERS }, { "send-buffer", required_argument, NULL, O_SNDBUF },
        { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "o:e:s:p:h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case 'o':
            if (from_env) {                 /* flags replace the environment */
                opts.noffices = 0;
                from_env = false;
            }
            ok = s_add_offices(&opts, optarg);
            break;
        case 'e': opts.broker = optarg; break;
        case 's': opts.events = optarg; break;
        case O_SERVICE: opts.service = optarg; break;
        case 'p': ok = s_num(optarg, 0, 65535, &port); port_given = true; break;
        case O_BIND: opts.http_bind = optarg; break;
        case O_WWW: opts.www = optarg; break;
        case O_MAX: ok = s_num(optarg, 1, 4096, &max_boards); break;
        case O_KA: ok = s_num(optarg, 10, 3600000, &opts.keepalive_ms); break;
        case O_RETRY: ok = s_num(optarg, 100, 600000, &opts.retry_ms); break;
        case O_WRITERS: ok = s_num(optarg, 1, 2, &opts.writers); break;
        case O_SNDBUF:
            ok = s_num(optarg, 0, 16 * 1024 * 1024, &opts.send_buffer) && (opts.send_buffer == 0 || opts.send_buffer >= 4096);
            break;
        case O_SETTLE: ok = s_num(optarg, 10, 600000, &opts.clone.settle_ms); break;
        case O_SILENCE: ok = s_num(optarg, 100, 3600000, &opts.clone.silence_ms); break;
        case O_TIMEOUT: ok = s_num(optarg, 10, 600000, &opts.request_timeout_ms); break;
        case O_TTY: tty = true; break;
        case O_LANG: opts.tty_langs = optarg; break;
        case O_LEVEL: ok = fl_log_level_parse(optarg, &level) == 0; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "foleni-display: bad value '%s' for %s\n", optarg, argv[optind - 1]);
            return 2;
        }
    }
    if (from_env && !s_add_offices(&opts, env_offices)) {
        fprintf(stderr, "foleni-display: too many offices in FOLENI_OFFICE\n");
        return 2;
    }
    if (optind != argc || opts.noffices == 0) {
        fprintf(stderr, "foleni-display: %s\n", opts.noffices == 0 ? "--office is required" : "unexpected arguments");
        s_usage(stderr);
        return 2;
    }
    opts.http_port = tty && !port_given ? 0 : port;
    opts.max_connections = (size_t) max_boards;
    if (tty)
        opts.tty_fd = STDOUT_FILENO;
    fl_log_init("display", level);

    /* Our own handlers: the loop sees the flag when zmq_poll is interrupted.
     * The signals are blocked while ZeroMQ starts its I/O threads, which
     * inherit the mask, so they reach this thread and interrupt its poll at
     * once (otherwise an I/O thread may take them and the poll sleeps on). */
    zsys_handler_set(NULL);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    zsys_init();
    zsys_set_linger(0);

    fl_error_t err = { 0 };
    fl_security_t *security = fl_security_from_env(&err);
    disp_t *display = NULL;
    if (security) {
        opts.security = security;
        display = disp_new(&opts, &err);
    }
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
    if (!display) {
        fl_log(FL_LOG_ERROR, "cannot start", FL_S("reason", err.message), NULL);
        fl_security_destroy(&security);
        return 1;
    }
    char offices[DISP_HUB_OFFICES_MAX * (DISP_OFFICE_MAX + 1) + 1] = "";
    for (size_t i = 0; i < opts.noffices; i++) {
        size_t len = strlen(offices);
        snprintf(offices + len, sizeof offices - len, "%s%s", i ? "," : "", opts.offices[i]);
    }
    fl_log(FL_LOG_INFO, "display running", FL_S("offices", offices), FL_S("broker", opts.broker),
           FL_S("events", opts.events), FL_I("http_port", disp_http_port(display)), FL_S("tty", tty ? "on" : "off"),
           NULL);
    int rc = disp_run(display, &s_stop);
    disp_destroy(&display);
    fl_security_destroy(&security);
    fl_log(FL_LOG_INFO, "display stopped", NULL);
    return rc == 0 ? 0 : 1;
}
