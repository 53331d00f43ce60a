/*  options.h — foleni-counter's command line and environment.
 *
 *  One parser for both faces of the program: with a command after the
 *  options it runs once and exits (oneshot.h); without one it opens the
 *  clerk's full-screen terminal (fullscreen.h).  Codes typed by a person
 *  (office, services) are taken in any case and sent in capitals.
 *
 *  Environment (an option wins over its variable):
 *    FOLENI_BROKER          --broker   the broker's client endpoint
 *    FOLENI_EVENTS_OUT      --events   the broker's event endpoint for subscribers
 *    FOLENI_COUNTER_TOKEN   --token    the demo's stand-in for a counter key
 *    FOLENI_CURVE_CERT, FOLENI_CURVE_SERVER: this counter's CURVE certificate
 *                           and the broker's (read by fl_security_from_env)
 */
#ifndef FOLENI_COUNTER_OPTIONS_H
#define FOLENI_COUNTER_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "counter/action.h"
#include "libfoleni/client.h"
#include "libfoleni/error.h"

#define CTR_DEFAULT_BROKER      "tcp://127.0.0.1:5555"
#define CTR_DEFAULT_EVENTS      "tcp://127.0.0.1:5557"
/* Per attempt, and attempts after the first, for one-shot commands. */
#define CTR_DEFAULT_TIMEOUT_MS  2000
#define CTR_DEFAULT_RETRIES     2
/* Per attempt in the full-screen mode, where the action is retried for good. */
#define CTR_SCREEN_TIMEOUT_MS   1500
/* Longest endpoint or path taken from the command line. */
#define CTR_PATH_MAX            512

typedef struct {
    char        office[CTR_CODE_MAX + 1];       /* --office (required) */
    unsigned    counter;                        /* --counter (required), 1..999 */
    char        broker[CTR_PATH_MAX];           /* --broker / -e */
    char        events[CTR_PATH_MAX];           /* --events */
    char        token[CTR_TOKEN_MAX + 1];       /* --token; "" when none */
    char        services[CTR_SERVICES_MAX][CTR_CODE_MAX + 1];   /* --services or open's words */
    size_t      nservices;
    bool        json;                           /* --json */
    int         timeout_ms;                     /* --timeout-ms, per attempt; 0: the mode's default */
    int         retries;                        /* --retries; -1: the mode's default */
    char        rid[FL_RID_MAX + 1];            /* --rid: the request id to use ("" : a fresh one) */
    char        ticket[CTR_TICKET_MAX + 1];     /* --ticket: the ticket meant ("" : the current one) */
    char        to_service[CTR_CODE_MAX + 1];   /* transfer --to-service */
    unsigned    to_counter;                     /* transfer --to-counter */
    char        log_path[CTR_PATH_MAX];         /* --log FILE ("" : stderr one-shot, nowhere full-screen) */
    bool        help;                           /* --help */
    const char *command;                        /* the command, or NULL for the full-screen mode */
    int         action;                         /* its ctr_action_t, or -1 for status */
} ctr_options_t;

/*  Parse argv (and the environment) into *self.  Returns 0, or FL_E_INVALID
 *  with err saying what is wrong in one sentence (the caller prints it with
 *  the usage and exits 2).  With --help, returns 0 at once with help set. */
int ctr_options_parse(ctr_options_t *self, int argc, char **argv, fl_error_t *err);

/*  The usage text, on out. */
void ctr_options_usage(FILE *out);

/*  The request's arguments from the options: pointers into self, and into
 *  services, which the caller provides with room for CTR_SERVICES_MAX.
 *  Both must outlive args.  Cannot fail. */
void ctr_options_args(const ctr_options_t *self, ctr_args_t *args, const char **services);

#endif
