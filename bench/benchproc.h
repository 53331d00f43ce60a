/*  benchproc.h — what the benchmark drivers share: a monotonic clock, bounded
 *  path formatting, and the child processes they start (each dies with the
 *  driver, is stopped at exit and killed on a signal), their scratch folder
 *  (removed at exit unless kept), and a free loopback port.
 *
 *  Benchmarks only: this keeps process-global state (one driver per process)
 *  and installs signal handlers; nothing outside bench/ links it.
 */
#ifndef FOLENI_BENCH_BENCHPROC_H
#define FOLENI_BENCH_BENCHPROC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BP_CHILDREN_MAX 16

/* The scratch folder bp_setup's atexit handler removes (unless bp_keep);
 * the driver fills it in (mkdtemp). */
extern char bp_tempdir[PATH_MAX];
extern bool bp_keep;

/*  Name the driver for its messages, and stop children and remove
 *  bp_tempdir at exit; SIGINT, SIGTERM and SIGALRM kill the children and
 *  exit at once (124 for the alarm, 128 + signal otherwise). */
void bp_setup(const char *program);

int64_t bp_now_ns(void);
int64_t bp_now_ms(void);

/*  snprintf into a path buffer; -1 (and a message naming the driver) when it
 *  does not fit. */
int bp_path(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*  Start argv[0] with argv, stdout and stderr appended to log (or /dev/null);
 *  the child dies with us (PR_SET_PDEATHSIG).  Returns the pid, or -1. */
pid_t bp_spawn(char *const argv[], const char *log);

/*  Send sig, wait up to timeout_ms, then SIGKILL.  Returns the wait status,
 *  or -1 when it had to be killed (0 for pid <= 0). */
int bp_stop(pid_t pid, int sig, int timeout_ms);

/*  True while pid runs (reaps and forgets it once it has ended). */
bool bp_alive(pid_t pid);

/*  Remove a scratch tree of ours; -1 (and a message) on failure. */
int bp_rmtree(const char *path);

/*  A loopback TCP port nobody listens on now, or -1. */
int bp_free_port(void);

#endif
