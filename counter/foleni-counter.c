/*  foleni-counter — the clerk's counter client.
 *
 *    foleni-counter --office NBIGPO --counter 3              # full-screen, for a clerk
 *    foleni-counter --office NBIGPO --counter 3 next         # one command, for scripts
 *
 *  Without a command, on a terminal, it opens the full-screen counter
 *  (counter/fullscreen.h); with one, it does that once, prints the result and
 *  exits with a code that says how it went (counter/oneshot.h).  Options and
 *  environment: counter/options.h, or --help.  docs/counter.md is the guide.
 *
 *  Logs: one-shot commands log warnings to stderr (or --log FILE); the
 *  full-screen mode logs to --log FILE or nowhere, and points stderr there
 *  too, because anything written to the terminal would garble the screen.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <czmq.h>

#include "counter/fullscreen.h"
#include "counter/oneshot.h"
#include "counter/options.h"
#include "libfoleni/log.h"

int
main(int argc, char **argv)
{
    ctr_options_t opts;
    fl_error_t err;
    if (ctr_options_parse(&opts, argc, argv, &err) != 0) {
        fprintf(stderr, "foleni-counter: %s\n(foleni-counter --help shows the usage)\n", err.message);
        return CTR_EXIT_USAGE;
    }
    if (opts.help) {
        ctr_options_usage(stdout);
        return CTR_EXIT_OK;
    }
    bool screen = opts.command == NULL;
    if (screen && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        fprintf(stderr, "foleni-counter: the full-screen counter needs a terminal; for scripts, give a command "
                        "(next, status...: see --help)\n");
        return CTR_EXIT_USAGE;
    }
    int log_fd = -1;
    if (opts.log_path[0] || screen) {
        log_fd = open(opts.log_path[0] ? opts.log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            fprintf(stderr, "foleni-counter: cannot open the log %s\n", opts.log_path);
            return CTR_EXIT_USAGE;
        }
        fl_log_set_fd(log_fd);
    }
    fl_log_init("counter", screen ? FL_LOG_INFO : FL_LOG_WARN);
    zsys_init();
    zsys_set_linger(0);
    int rc;
    if (screen)
        rc = ctr_fullscreen_run(&opts, log_fd);
    else
        rc = ctr_oneshot_run(&opts, stdout, stderr);
    zsys_shutdown();
    if (log_fd >= 0) {
        fl_log_set_fd(-1);
        close(log_fd);
    }
    return rc;
}
