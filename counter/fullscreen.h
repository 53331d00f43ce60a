/*  fullscreen.h — the clerk's full-screen terminal: the loop that joins the
 *  keyboard, the session (session.h) and the screen (screen.h).
 *
 *  One thread, one zmq_poll over the broker socket, its monitor, the event
 *  subscriber and stdin (fd 0), woken at least once a second so the "called
 *  2:05 ago" clock moves.  Nothing in it blocks: a key is read, the action is
 *  sent, and the screen is drawn again at once; the answer arrives later
 *  through the same poll.
 *
 *  Keys (either case): N next, R recall, S start, D done, X no-show,
 *  T transfer (opens a menu of services and counters), P pause / resume (or
 *  open a closed counter), C close, Q quit.  While an action is in flight,
 *  other action keys are refused with a message (never queued), and Q asks
 *  to be pressed twice.  Ctrl-C quits too.
 */
#ifndef FOLENI_COUNTER_FULLSCREEN_H
#define FOLENI_COUNTER_FULLSCREEN_H

#include "counter/options.h"

/*  Run the full-screen counter on the terminal until the clerk quits.
 *  stdin and stdout must be a terminal.  While the screen is up, stderr is
 *  pointed at quiet_fd (the log file, or /dev/null), because CZMQ or libzmq
 *  writing there would garble the screen; problems before that are printed
 *  on stderr.  Returns an exit code: 0 after Q or Ctrl-C, CTR_EXIT_USAGE when
 *  the CURVE settings cannot be read or the terminal cannot be used,
 *  CTR_EXIT_NO_ANSWER when the sockets cannot be made. */
int ctr_fullscreen_run(const ctr_options_t *opts, int quiet_fd);

#endif
