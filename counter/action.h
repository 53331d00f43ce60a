/*  action.h — what a clerk can do at a counter, as requests to the scheduler.
 *
 *  Both faces of the counter client (the one-shot commands for scripts and the
 *  full-screen terminal) act through this table: an action has a command name
 *  ("next"), a key on the clerk's screen ('N'), a protocol request
 *  (`next`), and a sentence that says what happened, made from the
 *  scheduler's reply ("Ticket P-042 called to counter 3").  Building the
 *  request here keeps the two faces saying exactly the same thing to the
 *  scheduler, and the exit codes a script sees are decided here too, from the
 *  error code the scheduler (or the broker) answered with.
 *
 *  Every action changes state, so every request carries a request id (`rid`);
 *  the caller makes it, keeps it, and sends the same bytes again with it when
 *  it got no answer, so the action happens exactly once (docs/protocol.md,
 *  "Request ids and idempotency").
 */
#ifndef FOLENI_COUNTER_ACTION_H
#define FOLENI_COUNTER_ACTION_H

#include <stdbool.h>
#include <stddef.h>

#include "libfoleni/error.h"
#include "libfoleni/msg.h"

/* Longest office code, service code and ticket label (the schema's bounds). */
#define CTR_CODE_MAX       8
#define CTR_TICKET_MAX     16
/* Most services one counter may open for (the schema's bound on service_codes). */
#define CTR_SERVICES_MAX   64
/* Longest token accepted (the schema's bound). */
#define CTR_TOKEN_MAX      128
/* A sentence describing an outcome, including the NUL. */
#define CTR_SENTENCE_MAX   256

/* The scheduler's service name. */
#define CTR_SCHEDULER_SERVICE "foleni.scheduler"

typedef enum {
    CTR_ACT_OPEN,           /* counter_open: start calling for these services */
    CTR_ACT_PAUSE,          /* counter_pause: stay open, call nobody */
    CTR_ACT_CLOSE,          /* counter_close: end of the day */
    CTR_ACT_NEXT,           /* next: call the next citizen */
    CTR_ACT_RECALL,         /* recall: call the same ticket again */
    CTR_ACT_START,          /* start: the citizen came forward, service starts */
    CTR_ACT_DONE,           /* done: served */
    CTR_ACT_NOSHOW,         /* noshow: the citizen did not come */
    CTR_ACT_TRANSFER,       /* transfer: to another service and/or counter */
    CTR_ACT__COUNT
} ctr_action_t;

/* Exit codes of the one-shot commands (docs/counter.md lists them for scripts). */
enum {
    CTR_EXIT_OK        = 0, /* done; the result is on stdout */
    CTR_EXIT_REFUSED   = 1, /* the scheduler refused; its message is on stderr */
    CTR_EXIT_USAGE     = 2, /* bad command line */
    CTR_EXIT_NO_ANSWER = 3, /* no answer: broker unreachable or no scheduler behind it */
    CTR_EXIT_FORBIDDEN = 4, /* this terminal's identity (token or CURVE key) was refused */
    CTR_EXIT_EMPTY     = 5, /* next: no one is waiting */
};

/* One action's static description. */
typedef struct {
    const char *command;    /* one-shot command name: "next" */
    const char *label;      /* what the screen calls it: "no-show" */
    char        key;        /* its key on the screen (upper case), or 0 */
    fl_type_t   request;    /* the protocol request */
} ctr_action_spec_t;

/* What the request says besides the action: who acts, and its arguments. */
typedef struct {
    const char *office;                 /* office code */
    unsigned    counter;                /* counter number, 1..999 */
    const char *token;                  /* demo counter token, or NULL (CURVE identifies) */
    const char *const *services;        /* open: the services, nservices of them */
    size_t      nservices;
    const char *ticket;                 /* recall..transfer: the ticket meant, or NULL (the current one) */
    const char *to_service;             /* transfer: the new service, or NULL */
    unsigned    to_counter;             /* transfer: the new counter, or 0 */
} ctr_args_t;

/*  The description of an action; asserts it is in range.  Never NULL. */
const ctr_action_spec_t *ctr_action_spec(ctr_action_t action);

/*  The action whose command name is name ("next", "no-show" and "noshow"
 *  both name CTR_ACT_NOSHOW), or -1. */
int ctr_action_by_name(const char *name);

/*  The action bound to a key (either case), or -1. */
int ctr_action_by_key(int key);

/*  Build the request for action with request id rid.  Returns a new message
 *  (the caller destroys it) or NULL with err: FL_E_INVALID when an argument
 *  is refused by the protocol (err names the field: a bad service code, say),
 *  FL_E_MISSING when open has no services or transfer has nowhere to go,
 *  FL_E_NOMEM. */
fl_msg_t *ctr_action_request(ctr_action_t action, const ctr_args_t *args, const char *rid, fl_error_t *err);

/*  Encode a request (fl_msg_encode) into a new buffer the caller frees with
 *  msgpack_sbuffer_destroy.  0, or the codec's error. */
int ctr_encode(const fl_msg_t *msg, msgpack_sbuffer *out, fl_error_t *err);

/*  The sentence for a successful reply to action ("Ticket P-042 called to
 *  counter 3") into out (cap bytes, cut if longer).  reply is the `ticket`
 *  or `counter_state` reply; args (may be NULL) are the request's, which
 *  name the counter a ticket was transferred to.  Cannot fail. */
void ctr_action_describe(ctr_action_t action, const ctr_args_t *args, const fl_msg_t *reply, char *out,
                         size_t cap);

/*  The exit code for an error reply's code name ("forbidden" -> 4, "empty"
 *  -> 5, "unavailable" -> 3, anything else -> 1). */
int ctr_exit_for_error(const char *code);

/*  What to tell a clerk whose identity was refused: one sentence naming how
 *  to give the right one.  Static text. */
const char *ctr_identity_hint(void);

#endif
