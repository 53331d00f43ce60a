/*  oneshot.h — foleni-counter's commands for scripts: do one thing, print
 *  what happened, exit with a code that says how it went.
 *
 *    foleni-counter --office NBIGPO --counter 3 next
 *    Ticket I-007 called to counter 3
 *
 *  The result goes to stdout as one sentence (or, with --json, the
 *  scheduler's reply as one line of JSON); a refusal's reason goes to stderr.
 *  Exit codes are CTR_EXIT_* (action.h): 0 done, 1 refused, 2 usage, 3 no
 *  answer, 4 identity refused, 5 nobody waiting.
 *
 *  Exactly once: every command that changes something is sent with one
 *  request id, and fl_client sends it again with the same id when an attempt
 *  gets no answer.  When every attempt fails (exit 3) the command may or may
 *  not have happened; the message prints the request id, and running the
 *  same command again with --rid ID makes it happen at most once in all (the
 *  scheduler answers a repeated id from its store).
 */
#ifndef FOLENI_COUNTER_ONESHOT_H
#define FOLENI_COUNTER_ONESHOT_H

#include <stdio.h>

#include "counter/options.h"

/*  Run the command in opts (opts->command is set).  Writes the result to out
 *  and messages to errout.  Returns the exit code. */
int ctr_oneshot_run(const ctr_options_t *opts, FILE *out, FILE *errout);

#endif
