/*  options.c — parsing foleni-counter's command line.  See options.h. */
#include "counter/options.h"

#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_EVENTS = 256, O_TOKEN, O_SERVICES, O_JSON, O_TIMEOUT, O_RETRIES, O_RID, O_TICKET, O_TO_SERVICE,
    O_TO_COUNTER, O_LOG,
};

void
ctr_options_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-counter --office CODE --counter N [options] [COMMAND [SERVICE...]]\n"
        "\n"
        "The clerk's counter client.  Without a command, on a terminal: the full-screen\n"
        "counter (keys N next, R recall, S start, D done, X no-show, T transfer,\n"
        "P pause/resume/open, C close, Q quit).  With a command: do it once, print\n"
        "the result and exit.\n"
        "\n"
        "Commands:\n"
        "  open [SERVICE...]     open the counter (default: the services it is configured for)\n"
        "  pause | close         pause (stays open, calls nobody) or close the counter\n"
        "  next                  call the next citizen\n"
        "  recall | start | done | noshow     act on the ticket in hand\n"
        "  transfer --to-service CODE | --to-counter N    send the ticket elsewhere\n"
        "  status                the counter, its ticket and its queues\n"
        "\n"
        "Options:\n"
        "  -o, --office CODE       the office (e.g. NBIGPO)\n"
        "  -c, --counter N         the counter number\n"
        "  -e, --broker EP         broker endpoint     [$FOLENI_BROKER, " CTR_DEFAULT_BROKER "]\n"
        "      --events EP         event endpoint      [$FOLENI_EVENTS_OUT, " CTR_DEFAULT_EVENTS "]\n"
        "      --token TEXT        counter token (demo) [$FOLENI_COUNTER_TOKEN]; with CURVE the\n"
        "                          certificate identifies the counter [$FOLENI_CURVE_CERT,\n"
        "                          $FOLENI_CURVE_SERVER]\n"
        "      --services A,B      services to open for (open, and P on the screen)\n"
        "      --ticket LABEL      act on this ticket only (recall, start, done, noshow, transfer)\n"
        "      --json              print the result as one line of JSON\n"
        "      --timeout-ms N      wait per attempt (one-shot %d, screen %d)\n"
        "      --retries N         attempts after the first (one-shot %d; the screen never gives up)\n"
        "      --rid ID            request id to use: repeat a command that got no answer with\n"
        "                          the id it printed, and it happens exactly once\n"
        "      --log FILE          log here (default: stderr one-shot, nowhere full-screen)\n"
        "  -h, --help              this text\n"
        "\n"
        "Exit codes: 0 done, 1 refused by the scheduler (reason on stderr), 2 usage,\n"
        "3 no answer (broker or scheduler unreachable), 4 identity refused, 5 next: no one waiting.\n",
        CTR_DEFAULT_TIMEOUT_MS, CTR_SCREEN_TIMEOUT_MS, CTR_DEFAULT_RETRIES);
}

/* Copy an upper-cased code (capital letters and digits, 1..CTR_CODE_MAX). */
static int
s_code(const char *text, char *out, size_t cap, const char *what, fl_error_t *err)
{
    size_t n = strlen(text);
    if (n == 0 || n > CTR_CODE_MAX || n >= cap)
        return fl_error_set(err, FL_E_INVALID, what, "%s '%s' must be 1 to %d letters or digits", what, text,
                            CTR_CODE_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char) text[i]))
            return fl_error_set(err, FL_E_INVALID, what, "%s '%s' must be letters and digits only", what, text);
        out[i] = (char) toupper((unsigned char) text[i]);
    }
    out[n] = '\0';
    return 0;
}

/* A whole number lo..hi. */
static int
s_number(const char *text, long lo, long hi, long *out, const char *what, fl_error_t *err)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < lo || v > hi)
        return fl_error_set(err, FL_E_INVALID, what, "%s must be a number from %ld to %ld, not '%s'", what, lo, hi,
                            text);
    *out = v;
    return 0;
}

/* Add services from "A,B" (or one word). */
static int
s_services(ctr_options_t *self, const char *list, fl_error_t *err)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t) (comma - p) : strlen(p);
        char word[CTR_CODE_MAX + 2];
        if (n == 0 || n > CTR_CODE_MAX)
            return fl_error_set(err, FL_E_INVALID, "services", "'%.*s' is not a service code", (int) n, p);
        if (self->nservices == CTR_SERVICES_MAX)
            return fl_error_set(err, FL_E_INVALID, "services", "at most %d services", CTR_SERVICES_MAX);
        memcpy(word, p, n);
        word[n] = '\0';
        int rc = s_code(word, self->services[self->nservices], sizeof self->services[0], "service", err);
        if (rc)
            return rc;
        self->nservices++;
        p += n + (comma ? 1 : 0);
    }
    return 0;
}

static int
s_text(char *out, size_t cap, const char *text, const char *what, fl_error_t *err)
{
    if (strlen(text) >= cap)
        return fl_error_set(err, FL_E_INVALID, what, "%s is too long (at most %zu bytes)", what, cap - 1);
    snprintf(out, cap, "%s", text);
    return 0;
}

static const char *
s_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int
ctr_options_parse(ctr_options_t *self, int argc, char **argv, fl_error_t *err)
{
    memset(self, 0, sizeof *self);
    self->retries = -1;
    self->action = -1;
    int rc = s_text(self->broker, sizeof self->broker, s_env("FOLENI_BROKER", CTR_DEFAULT_BROKER), "broker", err);
    if (!rc)
        rc = s_text(self->events, sizeof self->events, s_env("FOLENI_EVENTS_OUT", CTR_DEFAULT_EVENTS), "events",
                    err);
    if (!rc)
        rc = s_text(self->token, sizeof self->token, s_env("FOLENI_COUNTER_TOKEN", ""), "token", err);
    if (rc)
        return rc;
    static const struct option longopts[] = {
        { "office", required_argument, NULL, 'o' }, { "counter", required_argument, NULL, 'c' },
        { "broker", required_argument, NULL, 'e' }, { "events", required_argument, NULL, O_EVENTS },
        { "token", required_argument, NULL, O_TOKEN }, { "services", required_argument, NULL, O_SERVICES },
        { "json", no_argument, NULL, O_JSON }, { "timeout-ms", required_argument, NULL, O_TIMEOUT },
        { "retries", required_argument, NULL, O_RETRIES }, { "rid", required_argument, NULL, O_RID },
        { "ticket", required_argument, NULL, O_TICKET }, { "to-service", required_argument, NULL, O_TO_SERVICE },
        { "to-counter", required_argument, NULL, O_TO_COUNTER }, { "log", required_argument, NULL, O_LOG },
        { "help", no_argument, NULL, 'h' }, { 0 }
    };
    bool have_office = false;
    long v;
    optind = 0;                     /* GNU: start afresh (the tests parse many times) */
    opterr = 0;
    int opt;
    /* GNU getopt moves the words (command, services) after the options, so
     * options may come before or after the command */
    while (!rc && (opt = getopt_long(argc, argv, ":o:c:e:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            rc = s_code(optarg, self->office, sizeof self->office, "office", err);
            have_office = true;
            break;
        case 'c':
            if (!(rc = s_number(optarg, 1, 999, &v, "--counter", err)))
                self->counter = (unsigned) v;
            break;
        case 'e': rc = s_text(self->broker, sizeof self->broker, optarg, "broker", err); break;
        case O_EVENTS: rc = s_text(self->events, sizeof self->events, optarg, "events", err); break;
        case O_TOKEN: rc = s_text(self->token, sizeof self->token, optarg, "token", err); break;
        case O_SERVICES: rc = s_services(self, optarg, err); break;
        case O_JSON: self->json = true; break;
        case O_TIMEOUT:
            if (!(rc = s_number(optarg, 1, 600000, &v, "--timeout-ms", err)))
                self->timeout_ms = (int) v;
            break;
        case O_RETRIES:
            if (!(rc = s_number(optarg, 0, 1000, &v, "--retries", err)))
                self->retries = (int) v;
            break;
        case O_RID: rc = s_text(self->rid, sizeof self->rid, optarg, "rid", err); break;
        case O_TICKET: rc = s_text(self->ticket, sizeof self->ticket, optarg, "ticket", err); break;
        case O_TO_SERVICE: rc = s_code(optarg, self->to_service, sizeof self->to_service, "--to-service", err); break;
        case O_TO_COUNTER:
            if (!(rc = s_number(optarg, 1, 999, &v, "--to-counter", err)))
                self->to_counter = (unsigned) v;
            break;
        case O_LOG: rc = s_text(self->log_path, sizeof self->log_path, optarg, "log", err); break;
        case 'h': self->help = true; return 0;
        case ':': return fl_error_set(err, FL_E_INVALID, "", "%s needs a value", argv[optind - 1]);
        default: return fl_error_set(err, FL_E_INVALID, "", "unknown option %s", argv[optind - 1]);
        }
    }
    if (rc)
        return rc;
    if (!have_office)
        return fl_error_set(err, FL_E_INVALID, "office", "say which office: --office CODE");
    if (!self->counter)
        return fl_error_set(err, FL_E_INVALID, "counter", "say which counter: --counter N");
    if (optind < argc) {
        self->command = argv[optind++];
        if (strcmp(self->command, "status") != 0 && (self->action = ctr_action_by_name(self->command)) < 0)
            return fl_error_set(err, FL_E_INVALID, "", "unknown command '%s'", self->command);
    }
    for (; optind < argc; optind++) {           /* open's services, as words */
        if (self->action != CTR_ACT_OPEN)
            return fl_error_set(err, FL_E_INVALID, "", "'%s' after %s: only open takes words (services)",
                                argv[optind], self->command);
        if ((rc = s_services(self, argv[optind], err)))
            return rc;
    }
    bool transfer = self->action == CTR_ACT_TRANSFER;
    if (!transfer && (self->to_service[0] || self->to_counter))
        return fl_error_set(err, FL_E_INVALID, "", "--to-service and --to-counter go with transfer");
    if (transfer && !self->to_service[0] && !self->to_counter)
        return fl_error_set(err, FL_E_INVALID, "", "transfer needs --to-service CODE or --to-counter N");
    if (self->nservices && self->command && self->action != CTR_ACT_OPEN)
        return fl_error_set(err, FL_E_INVALID, "", "services go with open");
    if (self->ticket[0] && (self->action < 0
                            || fl_schema_use_index(ctr_action_spec(self->action)->request, FL_F_TICKET) < 0))
        return fl_error_set(err, FL_E_INVALID, "", "--ticket goes with recall, start, done, noshow and transfer");
    if (self->rid[0]) {
        if (!self->command || self->action < 0)
            return fl_error_set(err, FL_E_INVALID, "", "--rid goes with a command that changes something");
        size_t n = strlen(self->rid);
        bool ok = n >= 8 && n <= FL_RID_MAX;
        for (size_t i = 0; i < n && ok; i++)
            ok = self->rid[i] > 0x20 && self->rid[i] < 0x7f;
        if (!ok)
            return fl_error_set(err, FL_E_INVALID, "rid", "--rid must be 8 to %d printable characters", FL_RID_MAX);
    }
    return 0;
}

void
ctr_options_args(const ctr_options_t *self, ctr_args_t *args, const char **services)
{
    for (size_t i = 0; i < self->nservices; i++)
        services[i] = self->services[i];
    *args = (ctr_args_t) {
        .office = self->office, .counter = self->counter, .token = self->token[0] ? self->token : NULL,
        .services = services, .nservices = self->nservices, .ticket = self->ticket[0] ? self->ticket : NULL,
        .to_service = self->to_service[0] ? self->to_service : NULL, .to_counter = self->to_counter,
    };
}
