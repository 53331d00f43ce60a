/*  foleni-simday — a whole day at a service centre, driven through the real
 *  broker and scheduler with the scheduler's clock running fast.
 *
 *    make && build/bin/foleni-simday [--seed N] [--citizens N] [--walkins N] [--speed X] [--json]
 *    build/bin/foleni-simday --small          (the quick run `make check` does)
 *
 *  It starts build/bin/foleni-broker and build/bin/foleni-scheduler (the
 *  programs next to this one, or --bin DIR) on free loopback ports in a fresh
 *  temporary folder, with the demo office (deploy/config/demo.json, or
 *  --config) and `--clock START:SPEED`, so that the scheduler's day passes
 *  SPEED times faster than the wall clock.  Then it plays the day:
 *
 *    - before opening, N citizens book online, spread over the day's slots of
 *      the services that take appointments without a fee; some come early,
 *      most on time, some late, some too late (they queue as walk-ins), and
 *      a share never come at all;
 *    - walk-ins arrive at random through the opening hours (a Poisson process
 *      with a morning peak), most without priority, some elderly, disabled or
 *      expectant; a few give up and leave before they are called;
 *    - M counters open at opening time with the services the configuration
 *      gives them; clerks call the next ticket, wait for the citizen to walk
 *      up, start, serve for a time drawn around the service's
 *      service_minutes, and finish; an absent citizen is recalled once and
 *      then marked a no-show; a few citizens are transferred to another
 *      service; each clerk takes a tea break and a lunch break; after closing
 *      time the counters go on until the hall is empty, then close.
 *
 *  Everything the citizens and clerks do is drawn from --seed before the day
 *  starts, so two runs with one seed play the same day; only the exact
 *  seconds differ with the machine's pace.  The simulation keeps its clock in
 *  step with the scheduler's by reading the times in replies (issued, called,
 *  at): each reply bounds the scheduler's clock from below and above, and the
 *  simulation acts on the lower bound.
 *
 *  At the end it asks for the day's statistics, stops both processes, runs
 *  `foleni-store check` and `foleni-store dump`, and reports served counts,
 *  average and 95th-percentile waits per service and per kind, counter
 *  utilisation and no-shows, and checks the invariants listed in
 *  docs/simday.md (every ticket ends done or no_show; no ticket at two
 *  counters; no slot over capacity; the call-next order; the appointment
 *  promise; the kiosk's rules; the board and the statistics agree with what
 *  happened).  Exit codes: 0 every invariant held, 1 an invariant failed,
 *  2 usage, 3 the day could not be run (a process, a timeout, an unexpected
 *  reply).  Every loop and the whole run are bounded (--max-seconds).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include <jansson.h>

#include "libfoleni/client.h"
#include "libfoleni/config.h"
#include "libfoleni/error.h"
#include "libfoleni/localtime.h"
#include "libfoleni/log.h"
#include "libfoleni/msg.h"

/* ---- bounds and constants ------------------------------------------------------ */

#define SD_BOOKINGS_MAX       20000         /* --citizens */
#define SD_WALKINS_MAX        30000         /* --walkins */
#define SD_PEOPLE_MAX         (SD_BOOKINGS_MAX + SD_WALKINS_MAX)
#define SD_SERVICES_MAX       FL_CONFIG_SERVICES_MAX
#define SD_COUNTERS_MAX       FL_CONFIG_COUNTERS_MAX
#define SD_PLACES_MAX         200000        /* bookable places considered in a day */
#define SD_INFLIGHT_MAX       4096          /* requests in flight (the client's own bound) */
#define SD_BOOK_WINDOW        256           /* bookings in flight at once */
#define SD_CALLS_MAX          2000000       /* `next` answers recorded */
#define SD_SPELLS_MAX         2             /* queue spells per ticket: on arrival, after a transfer */
#define SD_BREAKS_MAX         2             /* per counter: tea, lunch */
#define SD_CHECKIN_TRIES_MAX  5             /* a citizen who is too early tries again */
#define SD_MESSAGES_MAX       8             /* failure messages kept per invariant */
#define SD_LINE_MAX           (64 * 1024)   /* longest line of `foleni-store dump` read */
#define SD_PATH_MAX           1024
#define SD_START_ATTEMPTS     3             /* ports taken by someone else: try new ones */
#define SD_STARTUP_MS         20000         /* broker and scheduler to answer */
#define SD_STOP_MS            10000         /* SIGTERM, then SIGKILL */
#define SD_CLIENT_TIMEOUT_MS  2000          /* per attempt: a lost request is sent again soon */
#define SD_CLIENT_RETRIES     8             /* (the broker drops a worker it thinks silent) */
#define SD_SYNC_CALL_MS       30000         /* a blocking request (availability, stats) */
#define SD_PUMP_MS            20            /* longest sleep of the main loop, real ms */
#define SD_IDLE_POLL_S        30            /* an idle clerk presses "next" again after this */
#define SD_RECALL_AFTER_S     90            /* an absent citizen is recalled after this */
#define SD_NOSHOW_AFTER_S     120           /* and marked a no-show this long after the recall */
#define SD_SYNC_EVERY_S       (20 * 60)     /* compare the board with what we know */
#define SD_PAUSE_MS           500           /* a loop turn this long: we were held up (load, a paused VM) */
#define SD_PROMISE_S          (15 * 60)     /* the appointment promise (docs/simday.md) */
#define SD_LAST_WALKIN_S      (10 * 60)     /* no walk-in arrives in the last minutes */
#define SD_BOOK_LEAD_S        (30 * 60)     /* only slots this far after the booking hour */
#define SD_TEA_AFTER_OPEN_S   (135 * 60)    /* first tea break 2 h 15 after opening */
#define SD_TEA_S              (15 * 60)
#define SD_TEA_STAGGER_S      (15 * 60)
#define SD_LUNCH_AFTER_OPEN_S (270 * 60)    /* first lunch 4 h 30 after opening */
#define SD_LUNCH_S            (30 * 60)
#define SD_LUNCH_STAGGER_S    (30 * 60)
#define SD_DEFAULT_START      "2026-12-01T04:00:00Z"   /* a Tuesday, 07:00 in Nairobi */
#define SD_DEFAULT_SEED       20261201u
#define SD_DEFAULT_CITIZENS   100
#define SD_DEFAULT_WALKINS    120
#define SD_DEFAULT_SPEED      300.0
#define SD_SMALL_CITIZENS     40
#define SD_SMALL_WALKINS      60
#define SD_SMALL_SPEED        2400.0
#define SD_DEFAULT_NOSHOW     0.12          /* bookings never honoured; 0.06..0.19 seen */
#define SD_SPEED_MAX          5000.0
#define SD_SCHED_SERVICE      "foleni.scheduler"
#define SD_COUNTER_TOKEN      "simday-counter"
#define SD_ADMIN_TOKEN        "simday-admin"

/* Exit codes. */
enum { SD_EXIT_OK = 0, SD_EXIT_INVARIANT = 1, SD_EXIT_USAGE = 2, SD_EXIT_RUN = 3 };

/* The invariants the day checks (docs/simday.md). */
typedef enum {
    INV_FINAL,          /* every ticket ends done or no_show */
    INV_ONE_COUNTER,    /* no ticket at two counters at once */
    INV_CAPACITY,       /* no slot over capacity */
    INV_ORDER,          /* every call took the first ticket by the call-next order */
    INV_PROMISE,        /* appointments called within the promise when a counter was free */
    INV_KIOSK,          /* check-in window and opening hours */
    INV_AGREE,          /* the board and the statistics agree with what happened */
    INV_COUNT
} inv_t;

static const char *const s_inv_name[INV_COUNT] = {
    [INV_FINAL] = "final_states", [INV_ONE_COUNTER] = "one_counter", [INV_CAPACITY] = "slot_capacity",
    [INV_ORDER] = "call_order", [INV_PROMISE] = "appointment_promise", [INV_KIOSK] = "kiosk_rules",
    [INV_AGREE] = "board_and_stats_agree",
};
static const char *const s_inv_text[INV_COUNT] = {
    [INV_FINAL] = "every ticket ends done or no_show",
    [INV_ONE_COUNTER] = "no ticket at two counters at once",
    [INV_CAPACITY] = "no slot over capacity",
    [INV_ORDER] = "every call took the first ticket by the call-next order",
    [INV_PROMISE] = "appointments called within the promise when a counter was free",
    [INV_KIOSK] = "check-in window and opening hours kept",
    [INV_AGREE] = "the board and the statistics agree with what happened",
};

/* ---- the day's people ------------------------------------------------------------ */

typedef enum { P_BOOKED, P_WALKIN } origin_t;
typedef enum { B_NOSHOW, B_EARLY, B_ONTIME, B_LATE, B_TOOLATE, B_WALKIN } behaviour_t;
typedef enum { T_NONE, T_WAITING, T_CALLED, T_SERVING, T_DONE, T_NOSHOW } tstate_t;

static const char *const s_tstate_name[] = { "none", "waiting", "called", "serving", "done", "no_show" };

/* One stretch of time a ticket spends in a service's queue. */
typedef struct {
    int service;
    int64_t in_lo, in_hi;           /* when it entered (bounds; equal when known exactly) */
    int64_t out;                    /* when it was called (exact), INT64_MAX while waiting */
} spell_t;

typedef struct {
    /* who, and what they will do (drawn before the day) */
    origin_t origin;
    behaviour_t behaviour;
    int service;                    /* what they came for */
    const char *priority;           /* walk-ins */
    char name[64], id_number[16], phone[20];
    int64_t slot;                   /* booked: the slot's start */
    int64_t arrive;                 /* reaches the kiosk; 0: never comes */
    int64_t leaves_at;              /* gives up if not called by then; 0: waits */
    bool steps_out;                 /* absent at the first call, back for the recall */
    int walkup_s, service_s, transfer_to, service2_s;
    /* what happened */
    char ref[24];                   /* booking reference */
    int checkin_tries;
    bool resolved, turned_away;
    char ticket[16];
    bool appointment;               /* the ticket is an appointment (checked in on time) */
    bool priority_ticket;
    tstate_t tstate;
    int service_now;
    int counter;                    /* index of the counter it is (or was last) at; -1 */
    int64_t issued, first_called, called;
    int nspells;
    spell_t spell[SD_SPELLS_MAX];
    int64_t passed_over;            /* first time a call skipped it wrongly; 0: never */
} person_t;

typedef enum { C_CLOSED, C_IDLE, C_CALLED, C_SERVING, C_PAUSED, C_FINISHED } cstate_t;

typedef struct {
    int number;
    int services[SD_SERVICES_MAX];
    int nservices;
    bool serves[SD_SERVICES_MAX];
    cstate_t state;
    int64_t due;
    bool in_flight;
    int person;                     /* -1 */
    bool recalled, present_first, present_recall;
    int64_t break_at[SD_BREAKS_MAX];
    int break_s[SD_BREAKS_MAX];
    int nbreaks, next_break;
    int64_t opened_at, open_s, call_at, occupied_s;
    int served, noshows, transfers, calls, pauses;
} counter_t;

/* One answer to `next`: the ticket called, or nothing (person -1). */
typedef struct {
    int counter;
    int person;
    int service;                    /* the called ticket's service at that moment */
    int64_t t_lo, t_hi;             /* when the scheduler handled it (equal when known) */
} call_t;

typedef struct {
    bool used;
    uint32_t seq;
    fl_type_t type;
    int who;                        /* person or counter index */
    int64_t sent_ms;
} pending_t;

typedef struct {
    char code[FL_SERVICE_CODE_MAX + 1];
    const fl_service_t *cfg;
    bool bookable, served;          /* takes free appointments; some opened counter serves it */
    int waiting;                    /* tickets waiting now, as we know it */
    int64_t max_wait_s;
} service_t;

typedef struct { int n; double avg_s; double p95_s; } waits_t;

typedef struct {
    /* options */
    uint64_t seed;
    int citizens, walkins, counters_wanted;
    double speed, noshow_rate;
    int64_t start;
    int max_seconds;
    bool json, quiet, keep;
    char config_path[SD_PATH_MAX], bin[SD_PATH_MAX], office_code[FL_OFFICE_CODE_MAX + 1];
    /* the office */
    fl_config_t *config;
    const fl_office_t *office;
    fl_zone_t *zone;
    uint32_t day;
    int64_t open_t, close_t;
    service_t svc[SD_SERVICES_MAX];
    int nsvc;
    /* processes */
    char dir[SD_PATH_MAX], data[SD_PATH_MAX], endpoint[64];
    pid_t broker, scheduler;
    fl_client_t *client;
    /* clock: scheduler time = off + mono_ms * k, with off in [off_lo, off_hi] */
    double k, off_lo, off_hi;
    bool calibrated;
    /* people, counters, calls */
    person_t *people;
    int npeople, nbooked, unresolved;
    int *heap;                      /* people by next arrival (min-heap on arrive) */
    int nheap;
    counter_t ctr[SD_COUNTERS_MAX];
    int nctr;
    call_t *calls;
    size_t ncalls, calls_cap;
    zhashx_t *by_ticket;            /* label -> person index + 1 */
    zhashx_t *by_ref;               /* booking reference -> person index + 1 */
    /* requests */
    pending_t pending[SD_INFLIGHT_MAX];
    uint32_t seq, run_id;
    size_t outstanding;
    fl_msg_t *sync_reply;           /* the reply a blocking call waits for, decoded */
    uint32_t sync_seq;
    bool quiescing, sync_sent;
    int64_t sync_due, progress_due;
    int board_checks;
    int at_counters;
    /* results */
    int fails[INV_COUNT];
    char msgs[INV_COUNT][SD_MESSAGES_MAX][256];
    char fatal[512];
    fl_msg_t *stats;
    int store_problems;
    int slots_checked, slots_over, bookings_confirmed_left, bookings_inconsistent;
    bool places_uncompared;     /* foleni-store check said it could not read the index */
    int dump_tickets;
    int64_t wall_start_ms;
    int64_t ended_at, day_end;
    int book_refused;
    int pauses;                     /* loop turns of SD_PAUSE_MS or more */
    int64_t paused_ms, longest_pause_ms;
} sim_t;

static volatile sig_atomic_t s_interrupted;

/* ---- small helpers ------------------------------------------------------------------ */

static int64_t
s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_on_signal(int sig)
{
    (void) sig;
    s_interrupted = 1;
}

static const char *
s_str(const fl_msg_t *m, fl_field_t f)
{
    const char *v = fl_msg_takes(m, f) ? fl_msg_str(m, f) : NULL;
    return v ? v : "";
}

/* Record a failure of an invariant (the first messages are kept). */
static void __attribute__((format(printf, 3, 4)))
s_fail(sim_t *s, inv_t inv, const char *fmt, ...)
{
    int n = s->fails[inv]++;
    if (n >= SD_MESSAGES_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msgs[inv][n], sizeof s->msgs[inv][n], fmt, ap);
    va_end(ap);
    if (!s->quiet)
        fprintf(stderr, "foleni-simday: FAIL %s: %s\n", s_inv_name[inv], s->msgs[inv][n]);
}

/* The day cannot go on: remember why (the first reason wins). */
static void __attribute__((format(printf, 2, 3)))
s_fatal(sim_t *s, const char *fmt, ...)
{
    if (s->fatal[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fatal, sizeof s->fatal, fmt, ap);
    va_end(ap);
}

/* "HH:MM:SS" of t on the office's wall clock (static buffers, 4 in turn). */
static const char *
s_hms(const sim_t *s, int64_t t)
{
    static char buf[4][16];
    static int turn;
    char *out = buf[turn++ % 4];
    fl_local_t lt;
    fl_zone_local(s->zone, t, &lt);
    snprintf(out, sizeof buf[0], "%02d:%02d:%02d", lt.hour, lt.minute, lt.second);
    return out;
}

static int __attribute__((format(printf, 3, 4)))
s_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t) n >= cap ? -1 : 0;
}

static int
s_service_index(const sim_t *s, const char *code)
{
    for (int i = 0; code && i < s->nsvc; i++)
        if (!strcmp(s->svc[i].code, code))
            return i;
    return -1;
}

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

/* Average and nearest-rank 95th percentile of n values (sorted in place). */
static waits_t
s_waits(int64_t *v, int n)
{
    waits_t w = { .n = n };
    if (n <= 0)
        return w;
    qsort(v, (size_t) n, sizeof *v, s_cmp_i64);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double) v[i];
    w.avg_s = sum / n;
    w.p95_s = (double) v[(n * 95 + 99) / 100 - 1];
    return w;
}

/* ---- randomness: xoshiro256** seeded by splitmix64, so --seed fixes the day ---- */

typedef struct { uint64_t s[4]; } rng_t;

static uint64_t
s_splitmix(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void
s_rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = s_splitmix(&seed);
}

static uint64_t
s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
s_rng_next(rng_t *r)
{
    uint64_t *s = r->s, out = s_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1). */
static double
s_unit(rng_t *r)
{
    return (double) (s_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [lo, hi]. */
static int64_t
s_between(rng_t *r, int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t) (s_unit(r) * (double) (hi - lo + 1));
}

/* A service time around mean_s: log-normal, spread 0.35, kept within 0.3..3 x mean. */
static int
s_service_time(rng_t *r, double mean_s)
{
    double u1 = s_unit(r), u2 = s_unit(r);
    double z = sqrt(-2.0 * log(u1 > 0 ? u1 : 1e-12)) * cos(2 * M_PI * u2);
    double sigma = 0.35, v = mean_s * exp(sigma * z - sigma * sigma / 2);
    if (v < 0.3 * mean_s)
        v = 0.3 * mean_s;
    if (v > 3.0 * mean_s)
        v = 3.0 * mean_s;
    return (int) (v + 0.5);
}

/* ---- processes ---------------------------------------------------------------------- */

/* A TCP port on 127.0.0.1 that was free a moment ago (ports[n], all distinct). */
static int
s_free_ports(int *ports, int n)
{
    int fds[8];
    int rc = 0;
    for (int i = 0; i < n; i++)
        fds[i] = -1;
    for (int i = 0; i < n && rc == 0; i++) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(fds[i], (struct sockaddr *) &a, sizeof a) != 0
            || getsockname(fds[i], (struct sockaddr *) &a, &len) != 0)
            rc = -1;
        else
            ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

/* Start argv[0]: its stdout to out_fd when >= 0 (stderr stays ours), else
 * stdout and stderr appended to log (or /dev/null).  It dies with us. */
static pid_t
s_spawn(const char *log, char *const argv[], int out_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0)
        dup2(in, 0);
    if (out_fd >= 0)
        dup2(out_fd, 1);
    else {
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
    }
    execv(argv[0], argv);
    _exit(127);
}

/* Stop pid (SIGTERM, then SIGKILL after SD_STOP_MS); its exit status, 128+signal, or -1. */
static int
s_stop(pid_t *pid)
{
    if (*pid <= 0)
        return 0;
    int status = 0;
    kill(*pid, SIGTERM);
    for (int waited = 0; waited <= SD_STOP_MS; waited += 10) {
        if (waitpid(*pid, &status, WNOHANG) == *pid) {
            *pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        zclock_sleep(10);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, &status, 0);
    *pid = 0;
    return -1;
}

static bool
s_alive(pid_t pid)
{
    int status;
    return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

static int
s_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

/* ---- the clock ------------------------------------------------------------------------ */

/*  The scheduler computes now = START + (its mono ms - its start) * SPEED / 1000,
 *  truncated to seconds.  A reply handled at scheduler time t, sent at our
 *  mono ms a and received at b, says off + (b+1)k >= t and off + (a-1)k < t+1,
 *  where k = SPEED/1000; the bounds tighten with every reply. */
static void
s_observe(sim_t *s, int64_t t, int64_t sent_ms, int64_t recv_ms)
{
    double lo = (double) t - (double) (recv_ms + 1) * s->k;
    double hi = (double) t + 1.0 - (double) (sent_ms - 1) * s->k;
    if (!s->calibrated || lo > s->off_lo)
        s->off_lo = lo;
    if (!s->calibrated || hi < s->off_hi)
        s->off_hi = hi;
    s->calibrated = true;
    if (s->off_lo > s->off_hi)                  /* the model is wrong: no verdict can rest on it */
        s_fatal(s, "the scheduler's clock left the bounds its replies set (%.3f > %.3f s): is it running "
                "with --clock START:%g?", s->off_lo, s->off_hi, s->speed);
}

/* The scheduler's time now, surely not later than its own clock. */
static int64_t
s_lo_at(const sim_t *s, int64_t mono_ms)
{
    return (int64_t) floor(s->off_lo + (double) mono_ms * s->k);
}

/* Surely not earlier than the scheduler's own clock. */
static int64_t
s_hi_at(const sim_t *s, int64_t mono_ms)
{
    return (int64_t) ceil(s->off_hi + (double) mono_ms * s->k);
}

static int64_t
s_now(const sim_t *s)
{
    return s_lo_at(s, s_mono_ms());
}

/* ---- requests ------------------------------------------------------------------------- */

static fl_msg_t *
s_new(fl_type_t type)
{
    fl_msg_t *m = fl_msg_new(type);
    if (!m) {
        fprintf(stderr, "foleni-simday: out of memory\n");
        exit(SD_EXIT_RUN);
    }
    return m;
}

/* A request to a counter: office, counter number and the counter token set. */
static fl_msg_t *
s_counter_req(sim_t *s, fl_type_t type, int c)
{
    fl_msg_t *m = s_new(type);
    fl_msg_set_str(m, FL_F_OFFICE, s->office->code);
    fl_msg_set_uint(m, FL_F_COUNTER, (uint64_t) s->ctr[c].number);
    fl_msg_set_str(m, FL_F_TOKEN, SD_COUNTER_TOKEN);
    return m;
}

/* Send *m (consumed) under a fresh request id; who is the person or counter
 * it is for.  Returns the sequence number, 0 on failure (s->fatal set). */
static uint32_t
s_send(sim_t *s, fl_msg_t **m, int who)
{
    fl_type_t type = fl_msg_type(*m);
    uint32_t seq = ++s->seq;
    pending_t *p = &s->pending[seq % SD_INFLIGHT_MAX];
    char rid[32];
    snprintf(rid, sizeof rid, "sd%08x-%08u", s->run_id, seq);
    if (p->used) {
        s_fatal(s, "more than %d requests in flight", SD_INFLIGHT_MAX);
        fl_msg_destroy(m);
        return 0;
    }
    if (fl_schema_is_mutating(type))
        fl_msg_set_str(*m, FL_F_RID, rid);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    fl_error_t err;
    int64_t sent_ms = s_mono_ms();              /* before sending: it may be handled at once */
    int rc = fl_msg_encode(*m, &buf, &err);
    if (rc == 0)
        rc = fl_client_send(s->client, SD_SCHED_SERVICE, rid, buf.data, buf.size);
    else
        s_fatal(s, "cannot encode a %s request: %s", fl_schema_type(type)->name, err.message);
    msgpack_sbuffer_destroy(&buf);
    fl_msg_destroy(m);
    if (rc) {
        s_fatal(s, "cannot send a %s request (%s)", fl_schema_type(type)->name, fl_error_name(rc));
        return 0;
    }
    *p = (pending_t) { .used = true, .seq = seq, .type = type, .who = who, .sent_ms = sent_ms };
    s->outstanding++;
    return seq;
}

static void s_handle_reply(sim_t *s, pending_t *p, const fl_msg_t *r, int64_t recv_ms);

/* Take one finished request from the client, waiting up to timeout_ms.
 * Returns 1 when one was handled, 0 when none came, -1 on a fatal error. */
static int
s_pump(sim_t *s, int timeout_ms)
{
    fl_reply_t r;
    int rc = fl_client_recv(s->client, &r, timeout_ms);
    if (rc == FL_E_TIMEOUT || rc == FL_E_EMPTY)
        return 0;
    if (rc) {
        s_fatal(s, "the client failed (%s)", fl_error_name(rc));
        return -1;
    }
    int64_t recv_ms = s_mono_ms();
    unsigned run, seq;
    pending_t *p = NULL;
    if (sscanf(r.rid, "sd%8x-%8u", &run, &seq) == 2 && run == s->run_id)
        p = &s->pending[seq % SD_INFLIGHT_MAX];
    if (!p || !p->used || p->seq != seq) {
        s_fatal(s, "a reply with an unknown request id '%s'", r.rid);
        fl_reply_reset(&r);
        return -1;
    }
    pending_t req = *p;
    p->used = false;
    s->outstanding--;
    if (r.status != 0) {
        s_fatal(s, "no reply to a %s request after %d attempts of %d ms: is the scheduler alive? (logs in %s)",
                fl_schema_type(req.type)->name, SD_CLIENT_RETRIES + 1, SD_CLIENT_TIMEOUT_MS, s->dir);
        fl_reply_reset(&r);
        return -1;
    }
    const fl_part_t *f = r.nparts ? &r.parts[0] : NULL;
    fl_error_t err;
    fl_msg_t *m = f ? fl_msg_decode(f->data, f->size, &err) : NULL;
    if (!m)
        s_fatal(s, "an undecodable reply to a %s request: %s", fl_schema_type(req.type)->name,
                f ? err.message : "empty body");
    else if (s->sync_seq && seq == s->sync_seq) {
        s->sync_reply = m;                      /* a blocking call's answer: keep it */
        m = NULL;
    } else
        s_handle_reply(s, &req, m, recv_ms);
    fl_msg_destroy(&m);
    fl_reply_reset(&r);
    return s->fatal[0] ? -1 : 1;
}

/* Send *m and wait for its reply (other replies are handled meanwhile).
 * Returns the decoded reply, or NULL (s->fatal set). */
static fl_msg_t *
s_call(sim_t *s, fl_msg_t **m)
{
    uint32_t seq = s_send(s, m, -1);
    if (!seq)
        return NULL;
    int64_t sent = s->pending[seq % SD_INFLIGHT_MAX].sent_ms, deadline = s_mono_ms() + SD_SYNC_CALL_MS;
    s->sync_seq = seq;
    while (!s->sync_reply && !s->fatal[0] && !s_interrupted && s_mono_ms() < deadline)
        s_pump(s, SD_PUMP_MS);
    s->sync_seq = 0;
    fl_msg_t *r = s->sync_reply;
    s->sync_reply = NULL;
    if (!r) {
        s_fatal(s, s_interrupted ? "interrupted" : "no reply from the scheduler in %d ms", SD_SYNC_CALL_MS);
        return NULL;
    }
    if (r && fl_msg_type(r) == FL_T_BOARD)
        s_observe(s, (int64_t) fl_msg_uint(r, FL_F_AT), sent, s_mono_ms());
    return r;
}

/* ---- starting and stopping the office ---------------------------------------------- */

static int
s_start_processes(sim_t *s)
{
    char broker_bin[SD_PATH_MAX], sched_bin[SD_PATH_MAX], log[SD_PATH_MAX], secret[SD_PATH_MAX], clock[96];
    if (s_path(broker_bin, sizeof broker_bin, "%s/foleni-broker", s->bin)
        || s_path(sched_bin, sizeof sched_bin, "%s/foleni-scheduler", s->bin)
        || s_path(log, sizeof log, "%s/stack.log", s->dir) || s_path(secret, sizeof secret, "%s/secret", s->dir)
        || s_path(s->data, sizeof s->data, "%s/data", s->dir)) {
        s_fatal(s, "paths too long under %s", s->dir);
        return -1;
    }
    if (access(broker_bin, X_OK) != 0 || access(sched_bin, X_OK) != 0) {
        s_fatal(s, "%s and foleni-scheduler are needed (build them with make, or give --bin DIR)", broker_bin);
        return -1;
    }
    snprintf(clock, sizeof clock, "%lld:%g", (long long) s->start, s->speed);
    for (int attempt = 1; attempt <= SD_START_ATTEMPTS; attempt++) {
        int ports[3];
        if (s_free_ports(ports, 3) != 0) {
            s_fatal(s, "no free loopback ports: %s", strerror(errno));
            return -1;
        }
        char pub[64], sub[64];
        snprintf(s->endpoint, sizeof s->endpoint, "tcp://127.0.0.1:%d", ports[0]);
        snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", ports[1]);
        snprintf(sub, sizeof sub, "tcp://127.0.0.1:%d", ports[2]);
        char *bargv[] = { broker_bin, "-e", s->endpoint, "-p", pub, "-s", sub, "--stats-interval", "0", NULL };
        char *sargv[] = { sched_bin, "-c", s->config_path, "-d", s->data, "-e", s->endpoint, "-p", pub,
                          "--secret-file", secret, "--create-secret", "--counter-token", SD_COUNTER_TOKEN,
                          "--admin-token", SD_ADMIN_TOKEN, "--clock", clock, NULL };
        s->broker = s_spawn(log, bargv, -1);
        s->scheduler = s->broker > 0 ? s_spawn(log, sargv, -1) : -1;
        if (s->broker <= 0 || s->scheduler <= 0) {
            s_fatal(s, "cannot start the broker and the scheduler: %s", strerror(errno));
            return -1;
        }
        fl_client_options_t o = { .timeout_ms = SD_CLIENT_TIMEOUT_MS, .retries = SD_CLIENT_RETRIES,
                                  .max_outstanding = SD_INFLIGHT_MAX };
        fl_error_t err;
        if (!(s->client = fl_client_new(s->endpoint, NULL, &o, &err))) {
            s_fatal(s, "cannot make a client: %s", err.message);
            return -1;
        }
        /* wait until our scheduler answers through our broker */
        bool up = false;
        for (int64_t deadline = s_mono_ms() + SD_STARTUP_MS; !up && s_mono_ms() < deadline && !s_interrupted;) {
            if (!s_alive(s->broker) || !s_alive(s->scheduler))
                break;
            fl_msg_t *q = s_new(FL_T_SNAPSHOT);
            fl_msg_set_str(q, FL_F_OFFICE, s->office->code);
            msgpack_sbuffer buf;
            msgpack_sbuffer_init(&buf);
            fl_msg_encode(q, &buf, NULL);
            fl_msg_destroy(&q);
            char rid[32];
            snprintf(rid, sizeof rid, "sd-start-%d", attempt);
            int64_t sent = s_mono_ms();
            fl_reply_t r = { .status = -1 };
            if (fl_client_send(s->client, SD_SCHED_SERVICE, rid, buf.data, buf.size) == 0
                && fl_client_recv(s->client, &r, 1000) == 0 && r.status == 0) {
                fl_msg_t *b = r.nparts ? fl_msg_decode(r.parts[0].data, r.parts[0].size, NULL) : NULL;
                if (b && fl_msg_type(b) == FL_T_BOARD) {
                    int64_t at = (int64_t) fl_msg_uint(b, FL_F_AT);
                    double since = (double) (s_mono_ms() - s->wall_start_ms + 1000) * s->k;
                    if (at >= s->start && at <= s->start + (int64_t) since + 1) {   /* ours: its clock began at START */
                        s_observe(s, at, sent, s_mono_ms());
                        up = true;
                    }
                }
                fl_msg_destroy(&b);
            }
            fl_reply_reset(&r);
            msgpack_sbuffer_destroy(&buf);
            if (!up) {
                fl_client_destroy(&s->client);     /* forget a request that went nowhere */
                if (!(s->client = fl_client_new(s->endpoint, NULL, &o, &err))) {
                    s_fatal(s, "cannot make a client: %s", err.message);
                    return -1;
                }
                zclock_sleep(100);
            }
        }
        if (up && s_alive(s->broker) && s_alive(s->scheduler))
            return 0;
        fl_client_destroy(&s->client);
        s_stop(&s->scheduler);
        s_stop(&s->broker);
        if (s_interrupted)
            break;
        if (!s->quiet)
            fprintf(stderr, "foleni-simday: the office did not start on ports %d-%d (attempt %d); see %s\n",
                    ports[0], ports[2], attempt, log);
        nftw(s->data, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);     /* a fresh store for the next attempt */
    }
    s_fatal(s, s_interrupted ? "interrupted" : "the broker and the scheduler did not start (see %s)", log);
    return -1;
}

/* Run a program and read its standard output line by line into fn. Returns its exit status or -1. */
static int
s_run_lines(sim_t *s, char *const argv[], void (*fn)(sim_t *, const char *), int *lines)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = s_spawn(NULL, argv, fds[1]);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    FILE *in = fdopen(fds[0], "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    *lines = 0;
    while (in && (n = getline(&line, &cap, in)) > 0) {
        if (n > SD_LINE_MAX)
            continue;
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        fn(s, line);
        (*lines)++;
    }
    free(line);
    if (in)
        fclose(in);
    else
        close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the day's plan ----------------------------------------------------------------------- */

static const char *const s_first[] = { "Amina", "Wanjiru", "Otieno", "Achieng", "Kamau", "Njeri", "Mwangi",
                                       "Akinyi", "Kiprono", "Chebet", "Wafula", "Nafula", "Hassan", "Fatuma",
                                       "Mutua", "Mwikali", "Omondi", "Atieno", "Kibet", "Jeptoo", "Baraka",
                                       "Zawadi", "Juma", "Halima" };
static const char *const s_last[] = { "Odhiambo", "Kariuki", "Mutiso", "Wekesa", "Ruto", "Karanja", "Onyango",
                                      "Njoroge", "Barasa", "Kiptoo", "Ali", "Nyambura", "Cheruiyot", "Muthoni",
                                      "Ochieng", "Mohamed", "Kilonzo", "Wambui" };

/* Walk-in demand per service code; a code not listed weighs 10. */
static double
s_walkin_weight(const char *code)
{
    static const struct { const char *code; double w; } t[] = {
        { "PASSPORT", 20 }, { "IDCARD", 25 }, { "BIRTH", 15 }, { "DRIVING", 12 }, { "GOODCOND", 20 },
        { "BUSINESS", 8 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i].code, code))
            return t[i].w;
    return 10;
}

/* Relative walk-in arrivals per hour after opening: a morning peak, a lunch bump, a quiet end. */
static const double s_hourly[] = { 1.6, 1.5, 1.2, 1.0, 1.2, 1.1, 0.9, 0.7, 0.5 };
#define SD_HOURLY_N ((int) (sizeof s_hourly / sizeof s_hourly[0]))

static int
s_pick_weighted(rng_t *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double x = s_unit(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

typedef struct { int service; int64_t start; } place_t;

static void
s_draw_common(sim_t *s, rng_t *r, person_t *p, int i)
{
    snprintf(p->name, sizeof p->name, "%s %s", s_first[s_rng_next(r) % (sizeof s_first / sizeof s_first[0])],
             s_last[s_rng_next(r) % (sizeof s_last / sizeof s_last[0])]);
    snprintf(p->id_number, sizeof p->id_number, "%u", 20000000u + (unsigned) i);
    snprintf(p->phone, sizeof p->phone, "+2547%08u", 10000000u + (unsigned) i);
    p->walkup_s = (int) s_between(r, 15, 75);
    p->steps_out = s_unit(r) < 0.03;
    p->service_s = s_service_time(r, s->svc[p->service].cfg->service_minutes * 60.0);
    p->transfer_to = -1;
    p->counter = -1;
}

/* Draw the whole day from the seed: bookings over the free places, walk-ins,
 * how each behaves, and the clerks' breaks. */
static int
s_plan(sim_t *s, const place_t *places, int nplaces)
{
    rng_t r;
    s_rng_seed(&r, s->seed);
    int nbook = s->citizens < nplaces ? s->citizens : nplaces;
    if (nbook < s->citizens && !s->quiet)
        fprintf(stderr, "foleni-simday: only %d places can be booked today; %d bookings instead of %d\n",
                nplaces, nbook, s->citizens);
    s->people = calloc((size_t) (nbook + s->walkins) + 1, sizeof *s->people);
    s->heap = calloc((size_t) (nbook + s->walkins) + 1, sizeof *s->heap);
    place_t *pool = malloc((size_t) (nplaces ? nplaces : 1) * sizeof *pool);
    if (!s->people || !s->heap || !pool) {
        free(pool);
        s_fatal(s, "out of memory");
        return -1;
    }
    memcpy(pool, places, (size_t) nplaces * sizeof *pool);
    /* exactly round(rate x bookings) never come, chosen at random */
    bool *absent = calloc((size_t) nbook + 1, sizeof *absent);
    if (!absent) {
        free(pool);
        s_fatal(s, "out of memory");
        return -1;
    }
    for (int left = (int) (s->noshow_rate * nbook + 0.5), tries = 0; left > 0 && tries < 100 * nbook; tries++) {
        int i = (int) s_between(&r, 0, nbook - 1);
        if (!absent[i]) {
            absent[i] = true;
            left--;
        }
    }
    /* bookings: distinct places, drawn without replacement */
    for (int i = 0; i < nbook; i++) {
        int j = i + (int) s_between(&r, 0, nplaces - 1 - i);
        place_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
        person_t *p = &s->people[s->npeople];
        p->origin = P_BOOKED;
        p->service = pool[i].service;
        p->slot = pool[i].start;
        p->priority = "none";
        s_draw_common(s, &r, p, s->npeople);
        const fl_service_t *sv = s->svc[p->service].cfg;
        double v = s_unit(&r);
        int64_t late = (int64_t) sv->checkin_late_minutes * 60;
        if (absent[i]) {
            p->behaviour = B_NOSHOW;
            p->arrive = 0;
        } else if (v < 0.20) {
            p->behaviour = B_EARLY;                 /* may be before the check-in window */
            p->arrive = p->slot - s_between(&r, 5 * 60, 50 * 60);
        } else if (v < 0.70) {
            p->behaviour = B_ONTIME;
            p->arrive = p->slot + s_between(&r, -10 * 60, 3 * 60);
        } else if (v < 0.88) {
            p->behaviour = B_LATE;                  /* still inside the window */
            p->arrive = p->slot + s_between(&r, late < 3 * 60 ? late : 3 * 60, late);
        } else {
            p->behaviour = B_TOOLATE;
            p->arrive = p->slot + late + s_between(&r, 60, 45 * 60);
        }
        if (p->arrive && p->arrive < s->start + 60)
            p->arrive = s->start + 60;
        if (p->arrive && s_unit(&r) < 0.03)         /* checks in, then goes off and does not come back */
            p->leaves_at = (p->arrive > p->slot ? p->arrive : p->slot) + s_between(&r, 60, 5 * 60);
        s->npeople++;
    }
    s->nbooked = s->npeople;
    free(pool);
    free(absent);
    /* walk-ins: services by demand among those an opened counter serves */
    double w[SD_SERVICES_MAX];
    for (int i = 0; i < s->nsvc; i++)
        w[i] = s->svc[i].served ? s_walkin_weight(s->svc[i].code) : 0;
    int hours = (int) ((s->close_t - s->open_t + 3599) / 3600);
    double hw[64];
    for (int h = 0; h < hours && h < 64; h++)
        hw[h] = s_hourly[h < SD_HOURLY_N ? h : SD_HOURLY_N - 1];
    int64_t last = s->close_t - SD_LAST_WALKIN_S;
    for (int i = 0; i < s->walkins; i++) {
        person_t *p = &s->people[s->npeople];
        p->origin = P_WALKIN;
        p->behaviour = B_WALKIN;
        p->service = s_pick_weighted(&r, w, s->nsvc);
        /* a Poisson process with piecewise-constant rate: given the count, arrival
         * times are independent draws from the rate's shape */
        int h = s_pick_weighted(&r, hw, hours < 64 ? hours : 64);
        p->arrive = s->open_t + (int64_t) h * 3600 + s_between(&r, 0, 3599);
        if (p->arrive > last)
            p->arrive = s->open_t + s_between(&r, 0, last - s->open_t);
        double u = s_unit(&r);
        p->priority = u < 0.86 ? "none" : u < 0.93 ? "elderly" : u < 0.97 ? "disabled" : "expectant";
        s_draw_common(s, &r, p, s->npeople);
        if (s_unit(&r) < 0.08)                      /* gives up after 20 min to 1 h 30 */
            p->leaves_at = p->arrive + s_between(&r, 20 * 60, 90 * 60);
        if (s_unit(&r) < 0.04) {                    /* sent on to another service */
            int others[SD_SERVICES_MAX], n = 0;
            for (int k = 0; k < s->nsvc; k++)
                if (k != p->service && s->svc[k].served)
                    others[n++] = k;
            if (n) {
                p->transfer_to = others[s_between(&r, 0, n - 1)];
                p->service_s = (int) (p->service_s * (0.3 + 0.3 * s_unit(&r)));
                p->service2_s = s_service_time(&r, s->svc[p->transfer_to].cfg->service_minutes * 60.0);
            }
        }
        s->npeople++;
    }
    /* breaks: staggered, so the counters of a service do not all rest at once */
    for (int c = 0; c < s->nctr; c++) {
        counter_t *k = &s->ctr[c];
        int64_t tea = s->open_t + SD_TEA_AFTER_OPEN_S + (int64_t) c * SD_TEA_STAGGER_S + s_between(&r, -300, 300);
        int64_t lunch = s->open_t + SD_LUNCH_AFTER_OPEN_S + (int64_t) c * SD_LUNCH_STAGGER_S + s_between(&r, -300, 300);
        if (tea + SD_TEA_S < s->close_t - 3600) {
            k->break_at[k->nbreaks] = tea;
            k->break_s[k->nbreaks++] = SD_TEA_S;
        }
        if (lunch + SD_LUNCH_S < s->close_t - 3600) {
            k->break_at[k->nbreaks] = lunch;
            k->break_s[k->nbreaks++] = SD_LUNCH_S;
        }
    }
    return 0;
}

/* ---- the arrivals heap (people by arrival time) ---------------------------------------- */

static bool
s_before(const sim_t *s, int a, int b)
{
    const person_t *x = &s->people[a], *y = &s->people[b];
    return x->arrive < y->arrive || (x->arrive == y->arrive && a < b);
}

static void
s_heap_push(sim_t *s, int p)
{
    int i = s->nheap++;
    s->heap[i] = p;
    while (i > 0 && s_before(s, s->heap[i], s->heap[(i - 1) / 2])) {
        int t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static int
s_heap_pop(sim_t *s)
{
    int top = s->heap[0];
    s->heap[0] = s->heap[--s->nheap];
    for (int i = 0;;) {
        int l = 2 * i + 1, rr = l + 1, m = i;
        if (l < s->nheap && s_before(s, s->heap[l], s->heap[m]))
            m = l;
        if (rr < s->nheap && s_before(s, s->heap[rr], s->heap[m]))
            m = rr;
        if (m == i)
            break;
        int t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

/* ---- what people and clerks do ------------------------------------------------------------ */

static void
s_resolve(sim_t *s, person_t *p)
{
    if (!p->resolved) {
        p->resolved = true;
        s->unresolved--;
    }
}

static void
s_arrive(sim_t *s, int i)
{
    person_t *p = &s->people[i];
    fl_msg_t *m;
    if (p->origin == P_BOOKED) {
        m = s_new(FL_T_CHECKIN);
        fl_msg_set_str(m, FL_F_OFFICE, s->office->code);
        fl_msg_set_str(m, FL_F_REF, p->ref);
    } else {
        m = s_new(FL_T_WALKIN);
        fl_msg_set_str(m, FL_F_OFFICE, s->office->code);
        fl_msg_set_str(m, FL_F_SERVICE, s->svc[p->service].code);
        fl_msg_set_str(m, FL_F_PRIORITY, p->priority);
    }
    p->checkin_tries++;
    s_send(s, &m, i);
}

static bool
s_hall_empty(const sim_t *s)
{
    return s->unresolved == 0;
}

/* A clerk whose turn has come does the next thing. */
static void
s_counter_step(sim_t *s, int c, int64_t now)
{
    counter_t *k = &s->ctr[c];
    person_t *p = k->person >= 0 ? &s->people[k->person] : NULL;
    fl_msg_t *m = NULL;
    switch (k->state) {
    case C_CLOSED:
    case C_PAUSED:
        m = s_counter_req(s, FL_T_COUNTER_OPEN, c);
        for (int i = 0; i < k->nservices; i++)
            fl_msg_add_str(m, FL_F_SERVICE_CODES, s->svc[k->services[i]].code);
        break;
    case C_IDLE:
        if (k->next_break < k->nbreaks && now >= k->break_at[k->next_break])
            m = s_counter_req(s, FL_T_COUNTER_PAUSE, c);
        else if (now >= s->close_t && s_hall_empty(s))
            m = s_counter_req(s, FL_T_COUNTER_CLOSE, c);
        else
            m = s_counter_req(s, FL_T_NEXT, c);
        break;
    case C_CALLED:
        if (!k->recalled)
            m = s_counter_req(s, k->present_first ? FL_T_START : FL_T_RECALL, c);
        else
            m = s_counter_req(s, k->present_recall ? FL_T_START : FL_T_NOSHOW, c);
        fl_msg_set_str(m, FL_F_TICKET, p->ticket);
        break;
    case C_SERVING:
        if (p->nspells == 1 && p->transfer_to >= 0) {
            m = s_counter_req(s, FL_T_TRANSFER, c);
            fl_msg_set_str(m, FL_F_TO_SERVICE, s->svc[p->transfer_to].code);
        } else
            m = s_counter_req(s, FL_T_DONE, c);
        fl_msg_set_str(m, FL_F_TICKET, p->ticket);
        break;
    case C_FINISHED:
        return;
    }
    k->in_flight = true;
    s_send(s, &m, c);
}

/* ---- replies ---------------------------------------------------------------------------------- */

static void
s_unexpected(sim_t *s, const char *what, const fl_msg_t *r)
{
    if (fl_msg_type(r) == FL_T_ERROR)
        s_fatal(s, "%s: the scheduler answered %s: %s", what, s_str(r, FL_F_CODE), s_str(r, FL_F_MESSAGE));
    else
        s_fatal(s, "%s: an unexpected %s reply", what, fl_schema_type(fl_msg_type(r))->name);
}

/* A ticket was issued to person i (walk-in or check-in). */
static void
s_issued(sim_t *s, int i, const fl_msg_t *r, const pending_t *q, int64_t recv_ms)
{
    person_t *p = &s->people[i];
    const char *label = s_str(r, FL_F_TICKET);
    int svc = s_service_index(s, s_str(r, FL_F_SERVICE));
    if (zhashx_lookup(s->by_ticket, label)) {
        s_fatal(s, "ticket %s was issued twice", label);
        return;
    }
    if (svc != p->service || strcmp(s_str(r, FL_F_STATE), "waiting") != 0) {
        s_fatal(s, "ticket %s: issued as %s/%s for a citizen of %s", label, s_str(r, FL_F_SERVICE),
                s_str(r, FL_F_STATE), s->svc[p->service].code);
        return;
    }
    zhashx_insert(s->by_ticket, label, (void *) (intptr_t) (i + 1));
    snprintf(p->ticket, sizeof p->ticket, "%s", label);
    p->issued = (int64_t) fl_msg_uint(r, FL_F_ISSUED);
    s_observe(s, p->issued, q->sent_ms, recv_ms);
    p->appointment = !strcmp(s_str(r, FL_F_KIND), "appointment");
    p->priority_ticket = strcmp(s_str(r, FL_F_PRIORITY), "none") != 0;
    p->tstate = T_WAITING;
    p->service_now = svc;
    p->spell[0] = (spell_t) { .service = svc, .in_lo = p->issued, .in_hi = p->issued, .out = INT64_MAX };
    p->nspells = 1;
    s->svc[svc].waiting++;
    if (p->origin == P_BOOKED) {                /* the check-in window, exactly */
        const fl_service_t *sv = s->svc[svc].cfg;
        int64_t opens = p->slot - (int64_t) sv->checkin_early_minutes * 60;
        int64_t closes = p->slot + (int64_t) sv->checkin_late_minutes * 60;
        if (p->appointment && (p->issued < opens || p->issued > closes))
            s_fail(s, INV_KIOSK, "%s checked in at %s as an appointment, outside %s..%s", label, s_hms(s, p->issued),
                   s_hms(s, opens), s_hms(s, closes));
        if (!p->appointment && p->issued <= closes)
            s_fail(s, INV_KIOSK, "%s checked in at %s, inside the window (until %s), but got a walk-in ticket",
                   label, s_hms(s, p->issued), s_hms(s, closes));
    } else if (p->issued < s->open_t || p->issued >= s->close_t)
        s_fail(s, INV_KIOSK, "walk-in ticket %s issued at %s while the office is closed", label, s_hms(s, p->issued));
}

static void
s_kiosk_reply(sim_t *s, const pending_t *q, const fl_msg_t *r, int64_t recv_ms)
{
    person_t *p = &s->people[q->who];
    if (fl_msg_type(r) == FL_T_TICKET) {
        s_issued(s, q->who, r, q, recv_ms);
        return;
    }
    if (fl_msg_type(r) != FL_T_ERROR || strcmp(s_str(r, FL_F_CODE), "closed") != 0) {
        s_unexpected(s, q->type == FL_T_CHECKIN ? "check-in" : "walk-in", r);
        return;
    }
    int64_t lo = s_lo_at(s, q->sent_ms), hi = s_hi_at(s, recv_ms);
    if (q->type == FL_T_WALKIN) {               /* refused: the office must have been closed */
        if (lo >= s->open_t && hi < s->close_t)
            s_fail(s, INV_KIOSK, "a walk-in was refused at %s..%s, inside opening hours", s_hms(s, lo), s_hms(s, hi));
        p->turned_away = true;
        s_resolve(s, p);
        return;
    }
    const fl_service_t *sv = s->svc[p->service].cfg;
    int64_t opens = p->slot - (int64_t) sv->checkin_early_minutes * 60;
    int64_t closes = p->slot + (int64_t) sv->checkin_late_minutes * 60;
    if (lo < p->slot) {                         /* too early: come back when the window opens */
        if (lo >= opens)
            s_fail(s, INV_KIOSK, "check-in for the %s slot refused at %s, after the window opened at %s",
                   s_hms(s, p->slot), s_hms(s, lo), s_hms(s, opens));
        if (p->checkin_tries < SD_CHECKIN_TRIES_MAX) {
            p->arrive = (opens > hi ? opens : hi) + 5;
            s_heap_push(s, q->who);
            return;
        }
    } else if (hi <= closes)
        s_fail(s, INV_KIOSK, "check-in for the %s slot refused at %s, inside the window (until %s)",
               s_hms(s, p->slot), s_hms(s, hi), s_hms(s, closes));
    else if (sv->late_as_walkin && hi < s->close_t && lo >= s->open_t)
        s_fail(s, INV_KIOSK, "a late check-in at %s was refused although late_as_walkin and the office is open",
               s_hms(s, hi));
    p->turned_away = true;
    s_resolve(s, p);
}

static void
s_log_call(sim_t *s, int c, int person, int service, int64_t lo, int64_t hi)
{
    if (s->ncalls == s->calls_cap) {
        size_t cap = s->calls_cap ? s->calls_cap * 2 : 4096;
        call_t *n = cap <= SD_CALLS_MAX ? realloc(s->calls, cap * sizeof *n) : NULL;
        if (!n) {
            s_fatal(s, "more than %d calls recorded", SD_CALLS_MAX);
            return;
        }
        s->calls = n;
        s->calls_cap = cap;
    }
    s->calls[s->ncalls++] = (call_t) { .counter = c, .person = person, .service = service, .t_lo = lo, .t_hi = hi };
}

static void
s_counter_reply(sim_t *s, const pending_t *q, const fl_msg_t *r, int64_t recv_ms)
{
    counter_t *k = &s->ctr[q->who];
    int c = q->who;
    k->in_flight = false;
    int64_t now = s_lo_at(s, recv_ms);
    person_t *p = k->person >= 0 ? &s->people[k->person] : NULL;
    const char *want = NULL;
    fl_type_t type = fl_msg_type(r);
    switch (q->type) {
    case FL_T_COUNTER_OPEN:
    case FL_T_COUNTER_PAUSE:
    case FL_T_COUNTER_CLOSE:
        want = q->type == FL_T_COUNTER_OPEN ? "open" : q->type == FL_T_COUNTER_PAUSE ? "paused" : "closed";
        if (type != FL_T_COUNTER_STATE || strcmp(s_str(r, FL_F_STATE), want) != 0) {
            s_unexpected(s, "a counter's open, pause or close", r);
            return;
        }
        if (q->type == FL_T_COUNTER_OPEN) {
            k->state = C_IDLE;
            k->opened_at = now;
            k->due = now;
        } else {
            k->open_s += now - k->opened_at;
            if (q->type == FL_T_COUNTER_PAUSE) {
                k->state = C_PAUSED;
                k->due = now + k->break_s[k->next_break++];
                k->pauses++;
            } else {
                k->state = C_FINISHED;
                k->due = INT64_MAX;
            }
        }
        return;
    case FL_T_NEXT:
        if (type == FL_T_ERROR && !strcmp(s_str(r, FL_F_CODE), "empty")) {
            s_log_call(s, c, -1, -1, s_lo_at(s, q->sent_ms), s_hi_at(s, recv_ms));
            k->due = now + SD_IDLE_POLL_S;
            return;
        }
        if (type != FL_T_TICKET) {
            s_unexpected(s, "next", r);
            return;
        }
        {
            const char *label = s_str(r, FL_F_TICKET);
            intptr_t v = (intptr_t) zhashx_lookup(s->by_ticket, label);
            if (!v) {
                s_fatal(s, "counter %d was given ticket %s, which no citizen holds", k->number, label);
                return;
            }
            int i = (int) v - 1;
            p = &s->people[i];
            int64_t called = (int64_t) fl_msg_uint(r, FL_F_CALLED);
            s_observe(s, called, q->sent_ms, recv_ms);
            if (p->tstate != T_WAITING) {
                s_fail(s, INV_ONE_COUNTER, "counter %d called %s at %s while it was %s at counter %d", k->number,
                       label, s_hms(s, called), s_tstate_name[p->tstate],
                       p->counter >= 0 ? s->ctr[p->counter].number : 0);
                s_fatal(s, "the simulation cannot go on: ticket %s is at two counters", label);
                return;
            }
            if (!k->serves[p->service_now] || fl_msg_uint(r, FL_F_COUNTER) != (uint64_t) k->number
                || strcmp(s_str(r, FL_F_STATE), "called") != 0) {
                s_fatal(s, "counter %d called %s of %s (state %s, counter %llu): not a ticket it may call",
                        k->number, label, s->svc[p->service_now].code, s_str(r, FL_F_STATE),
                        (unsigned long long) fl_msg_uint(r, FL_F_COUNTER));
                return;
            }
            s_log_call(s, c, i, p->service_now, called, called);
            s->svc[p->service_now].waiting--;
            s->at_counters++;
            p->tstate = T_CALLED;
            p->counter = c;
            p->called = called;
            if (!p->first_called)
                p->first_called = called;
            p->spell[p->nspells - 1].out = called;
            k->state = C_CALLED;
            k->person = i;
            k->call_at = called;
            k->calls++;
            k->recalled = false;
            bool gone = p->leaves_at && called >= p->leaves_at;
            k->present_first = !gone && !(p->steps_out && p->nspells == 1);
            k->present_recall = !(p->leaves_at && called + SD_RECALL_AFTER_S >= p->leaves_at);
            k->due = called + (k->present_first ? p->walkup_s : SD_RECALL_AFTER_S);
        }
        return;
    case FL_T_RECALL:
    case FL_T_START:
    case FL_T_DONE:
    case FL_T_NOSHOW:
    case FL_T_TRANSFER:
        want = q->type == FL_T_RECALL ? "called" : q->type == FL_T_START ? "serving" : q->type == FL_T_DONE ? "done"
             : q->type == FL_T_NOSHOW ? "no_show" : "waiting";
        if (type != FL_T_TICKET || !p || strcmp(s_str(r, FL_F_TICKET), p->ticket) != 0
            || strcmp(s_str(r, FL_F_STATE), want) != 0) {
            s_unexpected(s, fl_schema_type(q->type)->name, r);
            return;
        }
        if (q->type == FL_T_RECALL) {
            k->recalled = true;
            k->due = now + (k->present_recall ? p->walkup_s : SD_NOSHOW_AFTER_S);
        } else if (q->type == FL_T_START) {
            p->tstate = T_SERVING;
            k->state = C_SERVING;
            k->due = now + (p->nspells == 1 ? p->service_s : p->service2_s);
        } else {
            k->occupied_s += now - k->call_at;
            k->state = C_IDLE;
            k->person = -1;
            k->due = now;
            s->at_counters--;
            if (q->type == FL_T_TRANSFER) {
                int to = s_service_index(s, s_str(r, FL_F_SERVICE));
                if (to != p->transfer_to || p->nspells >= SD_SPELLS_MAX) {
                    s_fatal(s, "ticket %s transferred to %s, not %s", p->ticket, s_str(r, FL_F_SERVICE),
                            s->svc[p->transfer_to].code);
                    return;
                }
                p->tstate = T_WAITING;
                p->service_now = to;
                p->counter = -1;
                p->spell[p->nspells++] = (spell_t) { .service = to, .in_lo = s_lo_at(s, q->sent_ms),
                                                     .in_hi = s_hi_at(s, recv_ms), .out = INT64_MAX };
                s->svc[to].waiting++;
                k->transfers++;
            } else {
                p->tstate = q->type == FL_T_DONE ? T_DONE : T_NOSHOW;
                if (q->type == FL_T_DONE)
                    k->served++;
                else
                    k->noshows++;
                s_resolve(s, p);
            }
        }
        return;
    default:
        s_fatal(s, "a reply to an unknown counter request");
    }
}

/* Compare the board with what we know; called when nothing is in flight. */
static void
s_check_board(sim_t *s, const fl_msg_t *b)
{
    s->board_checks++;
    int64_t at = (int64_t) fl_msg_uint(b, FL_F_AT);
    size_t n = fl_msg_count(b, FL_F_SERVING);
    bool seen_counter[FL_COUNTER_NUMBER_MAX + 1] = { false };
    zhashx_t *seen = zhashx_new();
    for (size_t i = 0; seen && i < n; i++) {
        const fl_msg_t *it = fl_msg_item(b, FL_F_SERVING, i);
        const char *label = s_str(it, FL_F_TICKET);
        unsigned counter = (unsigned) fl_msg_uint(it, FL_F_COUNTER);
        intptr_t v = (intptr_t) zhashx_lookup(s->by_ticket, label);
        const person_t *p = v ? &s->people[v - 1] : NULL;
        if (zhashx_lookup(seen, label))
            s_fail(s, INV_ONE_COUNTER, "at %s the board shows %s at two counters", s_hms(s, at), label);
        zhashx_insert(seen, label, (void *) 1);
        if (counter <= FL_COUNTER_NUMBER_MAX && seen_counter[counter])
            s_fail(s, INV_ONE_COUNTER, "at %s the board shows counter %u serving two tickets", s_hms(s, at), counter);
        if (counter <= FL_COUNTER_NUMBER_MAX)
            seen_counter[counter] = true;
        if (!p || (p->tstate != T_CALLED && p->tstate != T_SERVING) || s->ctr[p->counter].number != (int) counter)
            s_fail(s, INV_ONE_COUNTER, "at %s the board shows %s at counter %u; the clerks say %s", s_hms(s, at),
                   label, counter, !p ? "no such ticket" : s_tstate_name[p->tstate]);
    }
    zhashx_destroy(&seen);
    if ((int) n != s->at_counters)
        s_fail(s, INV_ONE_COUNTER, "at %s the board shows %zu tickets at counters; the clerks have %d", s_hms(s, at),
               n, s->at_counters);
    for (size_t i = 0; i < fl_msg_count(b, FL_F_QUEUES); i++) {
        const fl_msg_t *it = fl_msg_item(b, FL_F_QUEUES, i);
        int svc = s_service_index(s, s_str(it, FL_F_SERVICE));
        if (svc < 0)
            continue;
        int open = 0;
        for (int c = 0; c < s->nctr; c++)
            open += s->ctr[c].serves[svc] && (s->ctr[c].state == C_IDLE || s->ctr[c].state == C_CALLED
                                              || s->ctr[c].state == C_SERVING);
        if ((int) fl_msg_uint(it, FL_F_WAITING) != s->svc[svc].waiting
            || (int) fl_msg_uint(it, FL_F_OPEN_COUNTERS) != open)
            s_fail(s, INV_AGREE, "at %s the board shows %s with %llu waiting and %llu counters open; we know %d and %d",
                   s_hms(s, at), s->svc[svc].code, (unsigned long long) fl_msg_uint(it, FL_F_WAITING),
                   (unsigned long long) fl_msg_uint(it, FL_F_OPEN_COUNTERS), s->svc[svc].waiting, open);
    }
}

static void
s_handle_reply(sim_t *s, pending_t *q, const fl_msg_t *r, int64_t recv_ms)
{
    switch (q->type) {
    case FL_T_BOOK: {
        person_t *p = &s->people[q->who];
        if (fl_msg_type(r) == FL_T_ERROR && !strcmp(s_str(r, FL_F_CODE), "closed")
            && s_hi_at(s, recv_ms) >= p->slot) {     /* the slot began while we were held up */
            s->book_refused++;
            p->arrive = 0;
            return;
        }
        if (fl_msg_type(r) != FL_T_BOOKING || strcmp(s_str(r, FL_F_STATE), "confirmed") != 0) {
            char what[96];
            snprintf(what, sizeof what, "booking %s at %s", s->svc[p->service].code, s_hms(s, p->slot));
            s_unexpected(s, what, r);
            return;
        }
        snprintf(p->ref, sizeof p->ref, "%s", s_str(r, FL_F_REF));
        zhashx_insert(s->by_ref, p->ref, (void *) (intptr_t) (q->who + 1));
        return;
    }
    case FL_T_CHECKIN:
    case FL_T_WALKIN:
        s_kiosk_reply(s, q, r, recv_ms);
        return;
    case FL_T_SNAPSHOT:
        if (fl_msg_type(r) != FL_T_BOARD) {
            s_unexpected(s, "snapshot", r);
            return;
        }
        s_observe(s, (int64_t) fl_msg_uint(r, FL_F_AT), q->sent_ms, recv_ms);
        s_check_board(s, r);
        s->quiescing = s->sync_sent = false;
        s->sync_due += SD_SYNC_EVERY_S;
        return;
    default:
        s_counter_reply(s, q, r, recv_ms);
    }
}

/* ---- the day ------------------------------------------------------------------------------ */

/* Free places of the bookable services today, at least SD_BOOK_LEAD_S ahead. */
static int
s_places(sim_t *s, place_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    char from[FL_DAY_TEXT_SIZE];
    fl_day_format(s->day, from);
    for (int i = 0; i < s->nsvc; i++) {
        if (!s->svc[i].bookable)
            continue;
        fl_msg_t *q = s_new(FL_T_AVAILABILITY);
        fl_msg_set_str(q, FL_F_OFFICE, s->office->code);
        fl_msg_set_str(q, FL_F_SERVICE, s->svc[i].code);
        fl_msg_set_str(q, FL_F_FROM, from);
        fl_msg_set_uint(q, FL_F_DAYS, 1);
        fl_msg_t *r = s_call(s, &q);
        if (!r)
            return -1;
        if (fl_msg_type(r) != FL_T_SLOT_LIST) {
            s_unexpected(s, "availability", r);
            fl_msg_destroy(&r);
            return -1;
        }
        int64_t earliest = s_now(s) + SD_BOOK_LEAD_S;
        for (size_t j = 0; j < fl_msg_count(r, FL_F_SLOTS); j++) {
            const fl_msg_t *it = fl_msg_item(r, FL_F_SLOTS, j);
            int64_t start = (int64_t) fl_msg_uint(it, FL_F_START);
            if (start < earliest || fl_zone_day(s->zone, start) != s->day)
                continue;
            for (uint64_t f = 0; f < fl_msg_uint(it, FL_F_FREE) && *n < SD_PLACES_MAX; f++) {
                if ((size_t) *n == cap) {
                    cap = cap ? cap * 2 : 1024;
                    place_t *p = realloc(*out, cap * sizeof *p);
                    if (!p) {
                        fl_msg_destroy(&r);
                        s_fatal(s, "out of memory");
                        return -1;
                    }
                    *out = p;
                }
                (*out)[(*n)++] = (place_t) { .service = i, .start = start };
            }
        }
        fl_msg_destroy(&r);
    }
    return 0;
}

/* Book every planned booking, SD_BOOK_WINDOW at a time. */
static int
s_book_all(sim_t *s)
{
    int next = 0;
    int64_t deadline = s_mono_ms() + SD_SYNC_CALL_MS + (int64_t) s->nbooked * 20;
    while ((next < s->nbooked || s->outstanding) && !s->fatal[0] && !s_interrupted) {
        while (next < s->nbooked && s->outstanding < SD_BOOK_WINDOW) {
            person_t *p = &s->people[next];
            fl_msg_t *m = s_new(FL_T_BOOK);
            fl_msg_set_str(m, FL_F_OFFICE, s->office->code);
            fl_msg_set_str(m, FL_F_SERVICE, s->svc[p->service].code);
            fl_msg_set_uint(m, FL_F_START, (uint64_t) p->slot);
            fl_msg_set_str(m, FL_F_NAME, p->name);
            fl_msg_set_str(m, FL_F_ID_TYPE, "national");
            fl_msg_set_str(m, FL_F_ID_NUMBER, p->id_number);
            fl_msg_set_str(m, FL_F_PHONE, p->phone);
            if (!s_send(s, &m, next))
                return -1;
            next++;
        }
        if (s_mono_ms() > deadline) {
            s_fatal(s, "the bookings took too long");
            return -1;
        }
        s_pump(s, SD_PUMP_MS);
    }
    return s->fatal[0] ? -1 : 0;
}

static void
s_progress(sim_t *s, int64_t now)
{
    int waiting = 0, done = 0, noshow = 0, arrived = 0;
    for (int i = 0; i < s->nsvc; i++)
        waiting += s->svc[i].waiting;
    for (int i = 0; i < s->npeople; i++) {
        arrived += s->people[i].tstate != T_NONE;
        done += s->people[i].tstate == T_DONE;
        noshow += s->people[i].tstate == T_NOSHOW;
    }
    int open = 0;
    for (int c = 0; c < s->nctr; c++)
        open += s->ctr[c].state == C_IDLE || s->ctr[c].state == C_CALLED || s->ctr[c].state == C_SERVING;
    fprintf(stderr, "  %.5s  tickets %4d  waiting %3d  at counters %2d  counters open %d/%d  served %4d  no-show %3d\n",
            s_hms(s, now), arrived, waiting, s->at_counters, open, s->nctr, done, noshow);
}

/* The main loop: arrivals, clerks, board checks, until every counter has closed. */
static int
s_run_day(sim_t *s)
{
    for (int i = 0; i < s->npeople; i++) {
        person_t *p = &s->people[i];
        if (p->arrive && (p->origin == P_WALKIN || p->ref[0])) {
            s_heap_push(s, i);
            s->unresolved++;
        }
    }
    for (int c = 0; c < s->nctr; c++) {
        s->ctr[c].due = s->open_t;
        s->ctr[c].person = -1;
    }
    s->sync_due = s->open_t + SD_SYNC_EVERY_S;
    s->progress_due = s->open_t + 60;           /* a minute past each hour: the counters have answered */
    int64_t limit_ms = s->wall_start_ms + (int64_t) s->max_seconds * 1000, last_turn = s_mono_ms();
    for (;;) {
        if (s->fatal[0])
            return -1;
        if (s_interrupted) {
            s_fatal(s, "interrupted");
            return -1;
        }
        int64_t mono = s_mono_ms(), now = s_lo_at(s, mono);
        if (mono > limit_ms) {
            s_fatal(s, "the day did not end within %d s of real time (at %s); try a lower --speed or a "
                    "higher --max-seconds", s->max_seconds, s_hms(s, now));
            return -1;
        }
        if (now >= s->day_end) {
            s_fatal(s, "the office's day ended before the hall was empty (%d citizens not done; the simulation "
                    "was held up %d times, %.1f s in all)", s->unresolved, s->pauses, (double) s->paused_ms / 1000);
            return -1;
        }
        if (mono - last_turn >= SD_PAUSE_MS) {      /* not an error: the invariants allow for it */
            s->pauses++;
            s->paused_ms += mono - last_turn;
            if (mono - last_turn > s->longest_pause_ms)
                s->longest_pause_ms = mono - last_turn;
            if (!s->quiet)
                fprintf(stderr, "foleni-simday: held up for %.1f s (%.0f simulated minutes) at %s\n",
                        (double) (mono - last_turn) / 1000, (double) (mono - last_turn) * s->k / 60, s_hms(s, now));
        }
        last_turn = mono;
        bool finished = true;
        for (int c = 0; c < s->nctr; c++)
            finished &= s->ctr[c].state == C_FINISHED;
        if (finished && !s->outstanding)
            break;
        if (now >= s->progress_due) {
            if (!s->quiet)
                s_progress(s, now);
            s->progress_due += 3600;
        }
        if (!s->quiescing && now >= s->sync_due)
            s->quiescing = true;
        if (s->quiescing) {
            if (!s->outstanding && !s->sync_sent) {
                fl_msg_t *m = s_new(FL_T_SNAPSHOT);
                fl_msg_set_str(m, FL_F_OFFICE, s->office->code);
                if (s_send(s, &m, -1))
                    s->sync_sent = true;
            }
        } else {
            while (s->nheap && s->people[s->heap[0]].arrive <= now)
                s_arrive(s, s_heap_pop(s));
            for (int c = 0; c < s->nctr; c++)
                if (!s->ctr[c].in_flight && s->ctr[c].state != C_FINISHED && s->ctr[c].due <= now)
                    s_counter_step(s, c, now);
        }
        /* sleep until the next thing is due, or a reply comes */
        int64_t due = s->quiescing ? now + 1 : s->sync_due;
        if (s->nheap && s->people[s->heap[0]].arrive < due)
            due = s->people[s->heap[0]].arrive;
        for (int c = 0; c < s->nctr; c++)
            if (!s->ctr[c].in_flight && s->ctr[c].state != C_FINISHED && s->ctr[c].due < due)
                due = s->ctr[c].due;
        double wait = (double) (due - now) / s->k;
        int wait_ms = wait < 1 ? 1 : wait > SD_PUMP_MS ? SD_PUMP_MS : (int) wait;
        if (s->outstanding) {
            if (s_pump(s, wait_ms) > 0)
                while (s_pump(s, 0) > 0)
                    ;
        } else
            zclock_sleep(wait_ms);
    }
    s->ended_at = s_now(s);
    return 0;
}

/* ---- after the day: the store ------------------------------------------------------------- */

typedef struct {
    char ticket[16], state[16], service[FL_SERVICE_CODE_MAX + 1], kind[16];
    uint64_t issued, called, started, finished, counter, start;
    bool has_called, has_started;
} dump_ticket_t;

static dump_ticket_t *s_dump;
static int s_ndump, s_dump_cap;

static void
s_dump_line(sim_t *s, const char *line)
{
    const char *brace = strchr(line, '{');
    if (!brace)
        return;
    json_t *j = json_loads(brace, 0, NULL);
    if (!j)
        return;
    const char *office = json_string_value(json_object_get(j, "office"));
    if (!office || strcmp(office, s->office->code) != 0) {
        json_decref(j);
        return;
    }
    if (!strncmp(line, "tickets ", 8)) {
        if ((uint64_t) json_integer_value(json_object_get(j, "day")) == s->day) {
            if (s_ndump == s_dump_cap) {
                int cap = s_dump_cap ? s_dump_cap * 2 : 1024;
                dump_ticket_t *n = cap <= SD_PEOPLE_MAX * 2 ? realloc(s_dump, (size_t) cap * sizeof *n) : NULL;
                if (!n) {
                    json_decref(j);
                    return;
                }
                s_dump = n;
                s_dump_cap = cap;
            }
            dump_ticket_t *t = &s_dump[s_ndump++];
            memset(t, 0, sizeof *t);
#define SD_JS(f, dst) snprintf(dst, sizeof dst, "%s", \
                              json_string_value(json_object_get(j, f)) ? json_string_value(json_object_get(j, f)) : "")
#define SD_JU(f) ((uint64_t) json_integer_value(json_object_get(j, f)))
            SD_JS("ticket", t->ticket);
            SD_JS("state", t->state);
            SD_JS("service", t->service);
            SD_JS("kind", t->kind);
            t->issued = SD_JU("issued");
            t->called = SD_JU("called");
            t->started = SD_JU("started");
            t->finished = SD_JU("finished");
            t->counter = SD_JU("counter");
            t->start = SD_JU("start");
            t->has_called = json_object_get(j, "called") != NULL;
            t->has_started = json_object_get(j, "started") != NULL;
        }
    } else if (!strncmp(line, "places ", 7)) {
        s->slots_checked++;
        if (SD_JU("taken") > SD_JU("capacity")) {
            s->slots_over++;
            s_fail(s, INV_CAPACITY, "slot %s of %s holds %llu bookings, capacity %llu",
                   s_hms(s, (int64_t) SD_JU("start")), json_string_value(json_object_get(j, "service")),
                   (unsigned long long) SD_JU("taken"), (unsigned long long) SD_JU("capacity"));
        }
    } else if (!strncmp(line, "bookings ", 9)) {
        const char *ref = json_string_value(json_object_get(j, "ref"));
        const char *state = json_string_value(json_object_get(j, "state"));
        intptr_t v = ref && state ? (intptr_t) zhashx_lookup(s->by_ref, ref) : 0;
        if (v) {
            const person_t *p = &s->people[v - 1];
            if (!strcmp(state, "confirmed"))
                s->bookings_confirmed_left++;
            const char *want = p->tstate == T_DONE ? "served" : p->tstate == T_NOSHOW ? "no_show" : NULL;
            if (want && strcmp(state, want) != 0) {
                s->bookings_inconsistent++;
                s_fail(s, INV_FINAL, "booking of ticket %s is %s after the ticket ended %s", p->ticket, state,
                       s_tstate_name[p->tstate]);
            }
        }
    }
#undef SD_JS
#undef SD_JU
    json_decref(j);
}

static void
s_check_line(sim_t *s, const char *line)
{
    unsigned long n;
    if (sscanf(line, "check: %lu problem", &n) == 1)
        s->store_problems = (int) n;
    if (!strncmp(line, "note:", 5) && strstr(line, "not compared"))
        s->places_uncompared = true;
}

/* Statistics, final board, stop the processes, then the store's own view. */
static int
s_close_day(sim_t *s)
{
    fl_msg_t *q = s_new(FL_T_SNAPSHOT);
    fl_msg_set_str(q, FL_F_OFFICE, s->office->code);
    fl_msg_t *b = s_call(s, &q);
    if (!b || fl_msg_type(b) != FL_T_BOARD) {
        if (b)
            s_unexpected(s, "the last snapshot", b);
        fl_msg_destroy(&b);
        return -1;
    }
    s_check_board(s, b);
    fl_msg_destroy(&b);
    q = s_new(FL_T_STATS);
    fl_msg_set_str(q, FL_F_OFFICE, s->office->code);
    fl_msg_set_uint(q, FL_F_DAY, s->day);
    fl_msg_set_str(q, FL_F_TOKEN, SD_ADMIN_TOKEN);
    s->stats = s_call(s, &q);
    if (!s->stats || fl_msg_type(s->stats) != FL_T_DAY_STATS) {
        if (s->stats)
            s_unexpected(s, "stats", s->stats);
        return -1;
    }
    fl_client_destroy(&s->client);
    int rs = s_stop(&s->scheduler), rb = s_stop(&s->broker);
    if (rs != 0 || rb != 0) {
        s_fatal(s, "the scheduler (status %d) or the broker (status %d) did not stop cleanly; logs in %s", rs, rb,
                s->dir);
        return -1;
    }
    char store_bin[SD_PATH_MAX];
    if (s_path(store_bin, sizeof store_bin, "%s/foleni-store", s->bin) || access(store_bin, X_OK) != 0) {
        s_fatal(s, "%s is needed to check the store", store_bin);
        return -1;
    }
    int lines;
    s->store_problems = -1;
    char *cargv[] = { store_bin, "--data", s->data, "check", NULL };
    int rc = s_run_lines(s, cargv, s_check_line, &lines);
    if (rc != 0 || s->store_problems != 0)
        s_fail(s, INV_CAPACITY, "foleni-store check: %d problems (exit %d)", s->store_problems, rc);
    if (s->places_uncompared)       /* the places taken are counted in the index only */
        s_fail(s, INV_CAPACITY, "foleni-store check could not read the index, so the places were not compared");
    char *dargv[] = { store_bin, "--data", s->data, "dump", "tickets", "places", "bookings", NULL };
    rc = s_run_lines(s, dargv, s_dump_line, &lines);
    if (rc != 0) {
        s_fatal(s, "foleni-store dump failed (exit %d)", rc);
        return -1;
    }
    return 0;
}

/* ---- after the day: the invariants and the figures ------------------------------------------ */

typedef struct { int cls; int64_t first, second; } rank_t;

/* Where a ticket stands in the call-next order at t (libfoleni/queue.h, written again here). */
static rank_t
s_rank(const sim_t *s, const person_t *p, int service, int64_t t)
{
    int64_t arrived = p->issued;
    if (p->appointment && p->slot > t)
        return (rank_t) { 5, p->slot, arrived };                    /* EARLY */
    int64_t from = p->appointment && p->slot > arrived ? p->slot : arrived;
    if (t - from >= s->svc[service].max_wait_s)
        return (rank_t) { 1, from, arrived };                       /* STARVED */
    if (p->appointment)
        return (rank_t) { 2, p->slot, arrived };                    /* APPOINTMENT */
    if (p->priority_ticket)
        return (rank_t) { 3, arrived, 0 };                          /* PRIORITY */
    return (rank_t) { 4, arrived, 0 };                              /* WALKIN */
}

static int
s_rank_cmp(rank_t a, rank_t b)
{
    if (a.cls != b.cls)
        return a.cls < b.cls ? -1 : 1;
    if (a.first != b.first)
        return a.first < b.first ? -1 : 1;
    if (a.second != b.second)
        return a.second < b.second ? -1 : 1;
    return 0;
}

static const char *const s_class_name[] = { "", "starved", "appointment", "priority walk-in", "walk-in",
                                            "early appointment" };

typedef struct { int64_t t; int type; int index; } sweep_t;     /* type 0: leaves, 1: call, 2: enters */

static int
s_sweep_cmp(const void *a, const void *b)
{
    const sweep_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->type != y->type ? (x->type < y->type ? -1 : 1) : (x->index < y->index ? -1 : x->index > y->index);
}

/* Check every answer to `next` against every ticket surely waiting at that moment. */
static void
s_check_order(sim_t *s)
{
    int nspells = 0;
    for (int i = 0; i < s->npeople; i++)
        nspells += s->people[i].nspells;
    size_t nev = (size_t) nspells * 2 + s->ncalls;
    sweep_t *ev = malloc((nev ? nev : 1) * sizeof *ev);
    int *spell_person = malloc((size_t) (nspells ? nspells : 1) * sizeof *spell_person);
    int *spell_index = malloc((size_t) (nspells ? nspells : 1) * sizeof *spell_index);
    int *active = malloc((size_t) (nspells ? nspells : 1) * sizeof *active);
    int *where = malloc((size_t) (nspells ? nspells : 1) * sizeof *where);
    if (!ev || !spell_person || !spell_index || !active || !where) {
        s_fatal(s, "out of memory");
        goto done;
    }
    size_t n = 0;
    int sp = 0;
    for (int i = 0; i < s->npeople; i++)
        for (int k = 0; k < s->people[i].nspells; k++, sp++) {
            spell_person[sp] = i;
            spell_index[sp] = k;
            const spell_t *x = &s->people[i].spell[k];
            if (x->out <= x->in_hi)
                continue;                                   /* called before surely waiting */
            ev[n++] = (sweep_t) { x->in_hi, 2, sp };        /* waiting from after in_hi */
            ev[n++] = (sweep_t) { x->out, 0, sp };          /* not waiting from out on */
        }
    for (size_t c = 0; c < s->ncalls; c++)
        ev[n++] = (sweep_t) { s->calls[c].t_lo, 1, (int) c };
    qsort(ev, n, sizeof *ev, s_sweep_cmp);
    int nactive = 0;
    for (size_t e = 0; e < n; e++) {
        if (ev[e].type == 2) {
            where[ev[e].index] = nactive;
            active[nactive++] = ev[e].index;
        } else if (ev[e].type == 0) {
            int at = where[ev[e].index], last = active[--nactive];
            active[at] = last;
            where[last] = at;
        } else {
            const call_t *call = &s->calls[ev[e].index];
            const counter_t *k = &s->ctr[call->counter];
            const person_t *x = call->person >= 0 ? &s->people[call->person] : NULL;
            rank_t rx = x ? s_rank(s, x, call->service, call->t_lo) : (rank_t) { 99, 0, 0 };
            bool reported = false;
            for (int a = 0; a < nactive; a++) {
                const person_t *y = &s->people[spell_person[active[a]]];
                const spell_t *ys = &y->spell[spell_index[active[a]]];
                if (y == x || !k->serves[ys->service] || ys->out <= call->t_hi)
                    continue;
                rank_t ry = s_rank(s, y, ys->service, call->t_lo);
                if (s_rank_cmp(ry, rx) >= 0)
                    continue;
                person_t *yw = &s->people[spell_person[active[a]]];
                if (!yw->passed_over)
                    yw->passed_over = call->t_lo;
                if (reported)
                    continue;                       /* one message per call; every ticket passed over is marked */
                reported = true;
                if (x)
                    s_fail(s, INV_ORDER, "counter %d called %s (%s) at %s while %s (%s, waiting since %s) came first",
                           k->number, x->ticket, s_class_name[rx.cls], s_hms(s, call->t_lo), y->ticket,
                           s_class_name[ry.cls], s_hms(s, ys->in_hi));
                else
                    s_fail(s, INV_ORDER, "counter %d found nothing to call at %s..%s while %s (%s) waited since %s",
                           k->number, s_hms(s, call->t_lo), s_hms(s, call->t_hi), y->ticket, s_class_name[ry.cls],
                           s_hms(s, ys->in_hi));
            }
        }
    }
done:
    free(ev);
    free(spell_person);
    free(spell_index);
    free(active);
    free(where);
}

typedef struct {
    int behaviours[B_WALKIN];                   /* bookings by how they come: never, early, on time, late, too late */
    int served[SD_SERVICES_MAX], noshows[SD_SERVICES_MAX];
    waits_t svc_wait[SD_SERVICES_MAX];
    waits_t kind_wait[3];                       /* appointment, walk-in, of which priority */
    int eligible, kept, excused, broken, late_walkins, never_came, turned_away, absent;
} figures_t;

/* Wait of a spell: from entering the queue (for an appointment: from the
 * later of check-in and slot start) to the call; never below 0. */
static int64_t
s_spell_wait(const person_t *p, int k)
{
    const spell_t *x = &p->spell[k];
    int64_t from = x->in_lo;
    if (k == 0 && p->appointment && p->slot > from)
        from = p->slot;
    return x->out > from ? x->out - from : 0;
}

static void
s_figures(sim_t *s, figures_t *f)
{
    memset(f, 0, sizeof *f);
    int64_t *v = malloc((size_t) (s->npeople * SD_SPELLS_MAX + 1) * sizeof *v);
    if (!v) {
        s_fatal(s, "out of memory");
        return;
    }
    for (int svc = 0; svc < s->nsvc; svc++) {
        int n = 0;
        for (int i = 0; i < s->npeople; i++)
            for (int k = 0; k < s->people[i].nspells; k++)
                if (s->people[i].spell[k].service == svc && s->people[i].spell[k].out != INT64_MAX)
                    v[n++] = s_spell_wait(&s->people[i], k);
        f->svc_wait[svc] = s_waits(v, n);
    }
    for (int kind = 0; kind < 3; kind++) {
        int n = 0;
        for (int i = 0; i < s->npeople; i++) {
            const person_t *p = &s->people[i];
            if (!p->nspells || p->spell[0].out == INT64_MAX)
                continue;
            if ((kind == 0 && p->appointment) || (kind == 1 && !p->appointment)
                || (kind == 2 && !p->appointment && p->priority_ticket))
                v[n++] = s_spell_wait(p, 0);
        }
        f->kind_wait[kind] = s_waits(v, n);
    }
    free(v);
    for (int i = 0; i < s->npeople; i++) {
        const person_t *p = &s->people[i];
        if (p->tstate == T_DONE)
            f->served[p->service_now]++;
        if (p->tstate == T_NOSHOW) {
            f->noshows[p->service_now]++;
            f->absent++;
        }
        f->never_came += p->origin == P_BOOKED && p->behaviour == B_NOSHOW;
        if (p->origin == P_BOOKED && p->behaviour < B_WALKIN && (p->ref[0] || p->behaviour == B_NOSHOW))
            f->behaviours[p->behaviour]++;
        f->turned_away += p->turned_away;
        f->late_walkins += p->origin == P_BOOKED && p->nspells && !p->appointment;
        if (!p->appointment || !p->first_called)
            continue;
        /* the promise: called within SD_PROMISE_S of max(slot start, check-in) */
        f->eligible++;
        int64_t due = p->slot > p->issued ? p->slot : p->issued;
        if (p->first_called - due <= SD_PROMISE_S)
            f->kept++;
        else if (p->passed_over && p->passed_over <= due + SD_PROMISE_S) {
            f->broken++;
            s_fail(s, INV_PROMISE, "%s (slot %s, checked in %s) was called at %s although a counter took a later "
                   "ticket at %s", p->ticket, s_hms(s, p->slot), s_hms(s, p->issued), s_hms(s, p->first_called),
                   s_hms(s, p->passed_over));
        } else
            f->excused++;
    }
}

/* Every ticket final, the store's tickets as we know them, the statistics as the tickets say. */
static void
s_check_records(sim_t *s)
{
    int ours = 0;
    for (int i = 0; i < s->npeople; i++) {
        const person_t *p = &s->people[i];
        if (p->tstate == T_NONE)
            continue;
        ours++;
        if (p->tstate != T_DONE && p->tstate != T_NOSHOW)
            s_fail(s, INV_FINAL, "ticket %s ended the day %s", p->ticket, s_tstate_name[p->tstate]);
    }
    s->dump_tickets = s_ndump;
    if (s_ndump != ours)
        s_fail(s, INV_FINAL, "the store holds %d tickets for the day; the citizens hold %d", s_ndump, ours);
    for (int d = 0; d < s_ndump; d++) {
        const dump_ticket_t *t = &s_dump[d];
        intptr_t v = (intptr_t) zhashx_lookup(s->by_ticket, t->ticket);
        const person_t *p = v ? &s->people[v - 1] : NULL;
        if (strcmp(t->state, "done") != 0 && strcmp(t->state, "no_show") != 0)
            s_fail(s, INV_FINAL, "the store has ticket %s in state %s", t->ticket, t->state);
        if (!p) {
            s_fail(s, INV_AGREE, "the store has ticket %s that no citizen was given", t->ticket);
            continue;
        }
        int number = p->counter >= 0 ? s->ctr[p->counter].number : 0;
        if (strcmp(t->state, s_tstate_name[p->tstate]) != 0 || strcmp(t->service, s->svc[p->service_now].code) != 0
            || t->issued != (uint64_t) p->issued || t->called != (uint64_t) p->called
            || t->counter != (uint64_t) number || (p->appointment && t->start != (uint64_t) p->slot))
            s_fail(s, INV_AGREE, "ticket %s in the store (%s, %s, issued %s, called %s, counter %llu) differs from "
                   "what happened (%s, %s, issued %s, called %s, counter %d)", t->ticket, t->state, t->service,
                   s_hms(s, (int64_t) t->issued), s_hms(s, (int64_t) t->called), (unsigned long long) t->counter,
                   s_tstate_name[p->tstate], s->svc[p->service_now].code, s_hms(s, p->issued), s_hms(s, p->called),
                   number);
    }
    /* the statistics, recomputed from the tickets as the scheduler defines them:
     * wait = called - issued of every called ticket (from the slot's start for an
     * appointment checked in before it), p95 by nearest rank */
    int64_t *w = malloc((size_t) (s_ndump + 1) * sizeof *w);
    if (!w) {
        s_fatal(s, "out of memory");
        return;
    }
    for (size_t i = 0; i < fl_msg_count(s->stats, FL_F_BY_SERVICE); i++) {
        const fl_msg_t *it = fl_msg_item(s->stats, FL_F_BY_SERVICE, i);
        const char *code = s_str(it, FL_F_SERVICE);
        uint64_t served = 0, noshows = 0, sum = 0, ssum = 0;
        int n = 0;
        for (int d = 0; d < s_ndump; d++) {
            const dump_ticket_t *t = &s_dump[d];
            if (strcmp(t->service, code) != 0)
                continue;
            if (t->has_called) {
                uint64_t from = t->start > t->issued ? t->start : t->issued;
                uint64_t x = t->called > from ? t->called - from : 0;
                w[n++] = (int64_t) (x > 10000000 ? 10000000 : x);
                sum += x;
            }
            if (!strcmp(t->state, "done")) {
                served++;
                ssum += t->finished - t->started;
            } else if (!strcmp(t->state, "no_show"))
                noshows++;
        }
        waits_t q = s_waits(w, n);
        uint64_t avg = n ? sum / (uint64_t) n : 0, p95 = (uint64_t) q.p95_s, avg_s = served ? ssum / served : 0;
        if (fl_msg_uint(it, FL_F_SERVED) != served || fl_msg_uint(it, FL_F_NOSHOWS) != noshows
            || fl_msg_uint(it, FL_F_AVG_WAIT_S) != avg || fl_msg_uint(it, FL_F_P95_WAIT_S) != p95
            || fl_msg_uint(it, FL_F_AVG_SERVICE_S) != avg_s)
            s_fail(s, INV_AGREE, "stats for %s: served %llu, no-shows %llu, wait %llu/%llu s, service %llu s; the "
                   "tickets say %llu, %llu, %llu/%llu s, %llu s", code,
                   (unsigned long long) fl_msg_uint(it, FL_F_SERVED),
                   (unsigned long long) fl_msg_uint(it, FL_F_NOSHOWS),
                   (unsigned long long) fl_msg_uint(it, FL_F_AVG_WAIT_S),
                   (unsigned long long) fl_msg_uint(it, FL_F_P95_WAIT_S),
                   (unsigned long long) fl_msg_uint(it, FL_F_AVG_SERVICE_S), (unsigned long long) served,
                   (unsigned long long) noshows, (unsigned long long) avg, (unsigned long long) p95,
                   (unsigned long long) avg_s);
        int svc = s_service_index(s, code);
        int mine_served = 0, mine_noshows = 0;
        for (int j = 0; svc >= 0 && j < s->npeople; j++) {
            mine_served += s->people[j].tstate == T_DONE && s->people[j].service_now == svc;
            mine_noshows += s->people[j].tstate == T_NOSHOW && s->people[j].service_now == svc;
        }
        if (svc >= 0 && (fl_msg_uint(it, FL_F_SERVED) != (uint64_t) mine_served
                         || fl_msg_uint(it, FL_F_NOSHOWS) != (uint64_t) mine_noshows))
            s_fail(s, INV_AGREE, "stats for %s: served %llu, no-shows %llu; the clerks finished %d and %d", code,
                   (unsigned long long) fl_msg_uint(it, FL_F_SERVED),
                   (unsigned long long) fl_msg_uint(it, FL_F_NOSHOWS), mine_served, mine_noshows);
    }
    free(w);
    for (size_t i = 0; i < fl_msg_count(s->stats, FL_F_BY_COUNTER); i++) {
        const fl_msg_t *it = fl_msg_item(s->stats, FL_F_BY_COUNTER, i);
        for (int c = 0; c < s->nctr; c++)
            if ((uint64_t) s->ctr[c].number == fl_msg_uint(it, FL_F_COUNTER)
                && fl_msg_uint(it, FL_F_SERVED) != (uint64_t) s->ctr[c].served)
                s_fail(s, INV_AGREE, "stats: counter %d served %llu; its clerk finished %d", s->ctr[c].number,
                       (unsigned long long) fl_msg_uint(it, FL_F_SERVED), s->ctr[c].served);
    }
}

/* ---- the report ------------------------------------------------------------------------------- */

static bool
s_passed(const sim_t *s)
{
    for (int i = 0; i < INV_COUNT; i++)
        if (s->fails[i])
            return false;
    return true;
}

static int
s_picked(const sim_t *s)
{
    int n = 0;
    for (size_t i = 0; i < s->ncalls; i++)
        n += s->calls[i].person >= 0;
    return n;
}

static void
s_inv_detail(const sim_t *s, const figures_t *f, inv_t i, char *out, size_t cap)
{
    int ticketed = 0;
    for (int k = 0; k < s->npeople; k++)
        ticketed += s->people[k].tstate != T_NONE;
    switch (i) {
    case INV_FINAL:
        snprintf(out, cap, "%d tickets in the store, %d citizens with tickets", s->dump_tickets, ticketed);
        break;
    case INV_ONE_COUNTER:
        snprintf(out, cap, "%d calls tracked, %d board checks", s_picked(s), s->board_checks);
        break;
    case INV_CAPACITY:
        snprintf(out, cap, "foleni-store check: %d problems; %d slots, %d over capacity", s->store_problems,
                 s->slots_checked, s->slots_over);
        break;
    case INV_ORDER:
        snprintf(out, cap, "%zu answers to next (%d calls, %zu 'nothing waiting') checked", s->ncalls, s_picked(s),
                 s->ncalls - (size_t) s_picked(s));
        break;
    case INV_PROMISE:
        snprintf(out, cap, "%d of %d kept, %d waited longer while no counter was free for them, %d broken",
                 f->kept, f->eligible, f->excused, f->broken);
        break;
    case INV_KIOSK:
        snprintf(out, cap, "%d bookings checked in or refused, %d walk-ins", s->nbooked - f->never_came,
                 s->npeople - s->nbooked);
        break;
    default:
        snprintf(out, cap, "%d board checks; statistics of %zu services and %zu counters", s->board_checks,
                 fl_msg_count(s->stats, FL_F_BY_SERVICE), fl_msg_count(s->stats, FL_F_BY_COUNTER));
    }
}

static double
s_min(double x)
{
    return x / 60.0;
}

static void
s_report_text(const sim_t *s, const figures_t *f, double wall_s)
{
    char date[FL_DAY_TEXT_SIZE];
    fl_day_format(s->day, date);
    printf("Foleni simulated day: %s (%s), %s %s..%s, seed %llu, clock x%g\n", s->office->name.en, s->office->code,
           date, s_hms(s, s->open_t), s_hms(s, s->close_t), (unsigned long long) s->seed, s->speed);
    printf("  %d bookings made at %.5s, %d walk-ins, %d counters; the last counter closed at %.5s; "
           "%.0f s of real time\n",
           s->nbooked, s_hms(s, s->start), s->npeople - s->nbooked, s->nctr, s_hms(s, s->ended_at), wall_s);
    if (s->pauses)
        printf("  the simulation was held up %d times, %.1f s in all (longest %.1f s = %.0f simulated minutes): "
               "waits include those stalls\n", s->pauses, (double) s->paused_ms / 1000,
               (double) s->longest_pause_ms / 1000, (double) s->longest_pause_ms * s->k / 60);
    if (s->book_refused)
        printf("  %d bookings were refused because their slot began during such a stall\n", s->book_refused);
    printf("\n");
    printf("%-9s %6s %8s %9s %9s\n", "service", "served", "no-show", "avg wait", "p95 wait");
    for (int i = 0; i < s->nsvc; i++)
        printf("%-9s %6d %8d %7.1f m %7.1f m%s\n", s->svc[i].code, f->served[i], f->noshows[i],
               s_min(f->svc_wait[i].avg_s), s_min(f->svc_wait[i].p95_s),
               !s->svc[i].served ? "   (no open counter serves it)" : !s->svc[i].bookable ? "   (walk-ins only)" : "");
    static const char *const kinds[] = { "appointment", "walk-in", "  priority" };
    printf("\n%-12s %6s %9s %9s\n", "kind", "called", "avg wait", "p95 wait");
    for (int k = 0; k < 3; k++)
        printf("%-12s %6d %7.1f m %7.1f m\n", kinds[k], f->kind_wait[k].n, s_min(f->kind_wait[k].avg_s),
               s_min(f->kind_wait[k].p95_s));
    printf("\n%-8s %-26s %6s %7s %6s %7s %5s\n", "counter", "services", "served", "no-show", "open", "busy", "util");
    for (int c = 0; c < s->nctr; c++) {
        const counter_t *k = &s->ctr[c];
        char list[128] = "";
        for (int i = 0; i < k->nservices; i++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%s", i ? "," : "", s->svc[k->services[i]].code);
        }
        printf("%-8d %-26s %6d %7d %4.1f h %5.1f h %4.0f%%\n", k->number, list, k->served, k->noshows,
               (double) k->open_s / 3600, (double) k->occupied_s / 3600,
               k->open_s ? 100.0 * (double) k->occupied_s / (double) k->open_s : 0);
    }
    printf("\nno-shows: %d of %d bookings never came (%.1f%%); %d called and absent after a recall; %d turned away; "
           "%d late check-ins queued as walk-ins\n", f->never_came, s->nbooked,
           s->nbooked ? 100.0 * f->never_came / s->nbooked : 0, f->absent, f->turned_away, f->late_walkins);
    printf("bookings came: %d early, %d on time, %d late but within the check-in window, %d too late, %d never\n",
           f->behaviours[B_EARLY], f->behaviours[B_ONTIME], f->behaviours[B_LATE], f->behaviours[B_TOOLATE],
           f->behaviours[B_NOSHOW]);
    printf("bookings still 'confirmed' after the day: %d (missed appointments are never closed out)\n",
           s->bookings_confirmed_left);
    printf("promise: an appointment is called within %d min of max(slot start, check-in): kept %d of %d (%.1f%%); "
           "%d waited longer while every counter for it was busy, paused or calling tickets ahead of it\n",
           SD_PROMISE_S / 60, f->kept, f->eligible, f->eligible ? 100.0 * f->kept / f->eligible : 100.0, f->excused);
    printf("\ninvariants:\n");
    for (int i = 0; i < INV_COUNT; i++) {
        char detail[256];
        s_inv_detail(s, f, (inv_t) i, detail, sizeof detail);
        printf("  %s %-58s %s\n", s->fails[i] ? "FAIL" : "pass", s_inv_text[i], detail);
        for (int m = 0; m < s->fails[i] && m < SD_MESSAGES_MAX; m++)
            printf("       - %s\n", s->msgs[i][m]);
        if (s->fails[i] > SD_MESSAGES_MAX)
            printf("       - ... %d more\n", s->fails[i] - SD_MESSAGES_MAX);
    }
    printf("\nresult: %s\n", s_passed(s) ? "PASS" : "FAIL");
}

static json_t *
s_waits_json(waits_t w)
{
    return json_pack("{s:i, s:f, s:f}", "n", w.n, "avg_wait_s", w.avg_s, "p95_wait_s", w.p95_s);
}

static void
s_report_json(const sim_t *s, const figures_t *f, double wall_s)
{
    char date[FL_DAY_TEXT_SIZE];
    fl_day_format(s->day, date);
    json_t *root = json_object(), *svcs = json_array(), *ctrs = json_array(), *invs = json_array();
    for (int i = 0; i < s->nsvc; i++)
        json_array_append_new(svcs, json_pack("{s:s, s:b, s:b, s:i, s:i, s:o}", "service", s->svc[i].code,
                                              "bookable", s->svc[i].bookable, "served_by_open_counter",
                                              s->svc[i].served, "served", f->served[i], "noshows", f->noshows[i],
                                              "wait", s_waits_json(f->svc_wait[i])));
    for (int c = 0; c < s->nctr; c++) {
        const counter_t *k = &s->ctr[c];
        json_array_append_new(ctrs, json_pack("{s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:f}", "counter", k->number,
                                              "served", k->served, "noshows", k->noshows, "transfers", k->transfers,
                                              "pauses", k->pauses, "open_s", (json_int_t) k->open_s, "busy_s",
                                              (json_int_t) k->occupied_s, "utilisation",
                                              k->open_s ? (double) k->occupied_s / (double) k->open_s : 0.0));
    }
    for (int i = 0; i < INV_COUNT; i++) {
        char detail[256];
        s_inv_detail(s, f, (inv_t) i, detail, sizeof detail);
        json_t *msgs = json_array();
        for (int m = 0; m < s->fails[i] && m < SD_MESSAGES_MAX; m++)
            json_array_append_new(msgs, json_string(s->msgs[i][m]));
        json_array_append_new(invs, json_pack("{s:s, s:s, s:b, s:i, s:s, s:o}", "name", s_inv_name[i], "text",
                                              s_inv_text[i], "passed", !s->fails[i], "failures", s->fails[i],
                                              "detail", detail, "messages", msgs));
    }
    json_object_set_new(root, "office", json_string(s->office->code));
    json_object_set_new(root, "date", json_string(date));
    json_object_set_new(root, "seed", json_integer((json_int_t) s->seed));
    json_object_set_new(root, "speed", json_real(s->speed));
    json_object_set_new(root, "bookings", json_integer(s->nbooked));
    json_object_set_new(root, "walkins", json_integer(s->npeople - s->nbooked));
    json_object_set_new(root, "services", svcs);
    json_object_set_new(root, "kinds", json_pack("{s:o, s:o, s:o}", "appointment", s_waits_json(f->kind_wait[0]),
                                                 "walkin", s_waits_json(f->kind_wait[1]), "priority",
                                                 s_waits_json(f->kind_wait[2])));
    json_object_set_new(root, "counters", ctrs);
    json_object_set_new(root, "noshows", json_pack("{s:i, s:f, s:i, s:i, s:i, s:i}", "bookings_never_came",
                                                   f->never_came, "rate",
                                                   s->nbooked ? (double) f->never_came / s->nbooked : 0.0,
                                                   "called_absent", f->absent, "turned_away", f->turned_away,
                                                   "late_checkins_as_walkins", f->late_walkins,
                                                   "bookings_left_confirmed", s->bookings_confirmed_left));
    json_object_set_new(root, "arrivals", json_pack("{s:i, s:i, s:i, s:i, s:i}", "early", f->behaviours[B_EARLY],
                                                    "on_time", f->behaviours[B_ONTIME], "late", f->behaviours[B_LATE],
                                                    "too_late", f->behaviours[B_TOOLATE], "never",
                                                    f->behaviours[B_NOSHOW]));
    json_object_set_new(root, "promise", json_pack("{s:i, s:i, s:i, s:f, s:i, s:i}", "minutes", SD_PROMISE_S / 60,
                                                   "eligible", f->eligible, "kept", f->kept, "share",
                                                   f->eligible ? (double) f->kept / f->eligible : 1.0, "excused",
                                                   f->excused, "broken", f->broken));
    json_object_set_new(root, "invariants", invs);
    json_object_set_new(root, "passed", json_boolean(s_passed(s)));
    json_object_set_new(root, "wall_s", json_real(wall_s));
    json_object_set_new(root, "stalls", json_pack("{s:i, s:f, s:f}", "count", s->pauses, "total_s",
                                                          (double) s->paused_ms / 1000, "longest_s",
                                                          (double) s->longest_pause_ms / 1000));
    json_object_set_new(root, "bookings_refused", json_integer(s->book_refused));
    char *text = json_dumps(root, JSON_INDENT(2));
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(root);
}

/* ---- options and main ------------------------------------------------------------------------- */

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-simday [options]\n"
        "\n"
        "Plays a whole day at a service centre through the real broker and scheduler, with\n"
        "the scheduler's clock running fast, then reports and checks invariants.\n"
        "\n"
        "  --seed N           the day's randomness                      [%u]\n"
        "  --citizens N       online bookings made before opening        [%d]\n"
        "  --walkins N        walk-ins through the day                   [%d]\n"
        "  --counters M       counters opened (the first M of the office) [all]\n"
        "  --speed X          scheduler seconds per real second          [%g]\n"
        "  --noshow-rate R    share of bookings never honoured            [%g]\n"
        "  --start T          the clock's start, UTC (YYYY-MM-DDTHH:MM:SSZ or seconds) [%s]\n"
        "  --config FILE      office configuration            [deploy/config/demo.json]\n"
        "  --office CODE      which office of the configuration       [the first]\n"
        "  --bin DIR          where foleni-broker, -scheduler, -store are [this program's folder]\n"
        "  --max-seconds N    bound on the whole run, real seconds        [from the day and speed]\n"
        "  --small            a quick run: %d bookings, %d walk-ins, speed %g\n"
        "  --json             the report as JSON on stdout\n"
        "  --quiet            no progress on stderr\n"
        "  --keep             keep the temporary folder (logs, store)\n"
        "  -h, --help\n"
        "exit codes: 0 every invariant held, 1 an invariant failed, 2 usage, 3 the day could not run\n",
        SD_DEFAULT_SEED, SD_DEFAULT_CITIZENS, SD_DEFAULT_WALKINS, SD_DEFAULT_SPEED, SD_DEFAULT_NOSHOW,
        SD_DEFAULT_START, SD_SMALL_CITIZENS, SD_SMALL_WALKINS, SD_SMALL_SPEED);
}

static int
s_parse_time(const char *text, int64_t *out)
{
    struct tm tm = { 0 };
    char *end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end && !*end) {
        *out = (int64_t) timegm(&tm);
        return 0;
    }
    char *e;
    long long v = strtoll(text, &e, 10);
    if (*e || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static bool
s_number(const char *text, double lo, double hi, double *out)
{
    char *e;
    double v = strtod(text, &e);
    if (e == text || *e || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* Find the default configuration: in the current folder, or above the bin folder. */
static void
s_default_config(sim_t *s)
{
    const char *tries[] = { "%s/../../deploy/config/demo.json", "%s/../../../deploy/config/demo.json" };
    snprintf(s->config_path, sizeof s->config_path, "deploy/config/demo.json");
    if (access(s->config_path, R_OK) == 0)
        return;
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        char path[SD_PATH_MAX];
        if (s_path(path, sizeof path, tries[i], s->bin) == 0 && access(path, R_OK) == 0) {
            snprintf(s->config_path, sizeof s->config_path, "%s", path);
            return;
        }
    }
}

static int
s_options(sim_t *s, int argc, char **argv)
{
    enum { O_SEED = 256, O_CITIZENS, O_WALKINS, O_COUNTERS, O_SPEED, O_NOSHOW, O_START, O_CONFIG, O_OFFICE, O_BIN,
           O_MAXS, O_SMALL, O_JSON, O_QUIET, O_KEEP };
    static const struct option longopts[] = {
        { "seed", required_argument, NULL, O_SEED }, { "citizens", required_argument, NULL, O_CITIZENS },
        { "walkins", required_argument, NULL, O_WALKINS }, { "counters", required_argument, NULL, O_COUNTERS },
        { "speed", required_argument, NULL, O_SPEED }, { "noshow-rate", required_argument, NULL, O_NOSHOW },
        { "start", required_argument, NULL, O_START }, { "config", required_argument, NULL, O_CONFIG },
        { "office", required_argument, NULL, O_OFFICE }, { "bin", required_argument, NULL, O_BIN },
        { "max-seconds", required_argument, NULL, O_MAXS }, { "small", no_argument, NULL, O_SMALL },
        { "json", no_argument, NULL, O_JSON }, { "quiet", no_argument, NULL, O_QUIET },
        { "keep", no_argument, NULL, O_KEEP }, { "help", no_argument, NULL, 'h' }, { 0 }
    };
    s->seed = SD_DEFAULT_SEED;
    s->citizens = -1;
    s->walkins = -1;
    s->speed = -1;
    s->noshow_rate = SD_DEFAULT_NOSHOW;
    s->counters_wanted = -1;
    s_parse_time(SD_DEFAULT_START, &s->start);
    bool small = false;
    const char *config = NULL;
    char self[SD_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        snprintf(s->bin, sizeof s->bin, "%s", dirname(self));
    } else
        snprintf(s->bin, sizeof s->bin, "build/bin");
    int opt;
    double v;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_SEED:
            if (!s_number(optarg, 0, 1e15, &v)) goto bad;
            s->seed = (uint64_t) v;
            break;
        case O_CITIZENS:
            if (!s_number(optarg, 0, SD_BOOKINGS_MAX, &v)) goto bad;
            s->citizens = (int) v;
            break;
        case O_WALKINS:
            if (!s_number(optarg, 0, SD_WALKINS_MAX, &v)) goto bad;
            s->walkins = (int) v;
            break;
        case O_COUNTERS:
            if (!s_number(optarg, 1, SD_COUNTERS_MAX, &v)) goto bad;
            s->counters_wanted = (int) v;
            break;
        case O_SPEED:
            if (!s_number(optarg, 1, SD_SPEED_MAX, &v)) goto bad;
            s->speed = v;
            break;
        case O_NOSHOW:
            if (!s_number(optarg, 0, 1, &v)) goto bad;
            s->noshow_rate = v;
            break;
        case O_START:
            if (s_parse_time(optarg, &s->start) != 0) goto bad;
            break;
        case O_CONFIG: config = optarg; break;
        case O_OFFICE: snprintf(s->office_code, sizeof s->office_code, "%s", optarg); break;
        case O_BIN: snprintf(s->bin, sizeof s->bin, "%s", optarg); break;
        case O_MAXS:
            if (!s_number(optarg, 1, 86400, &v)) goto bad;
            s->max_seconds = (int) v;
            break;
        case O_SMALL: small = true; break;
        case O_JSON: s->json = true; break;
        case O_QUIET: s->quiet = true; break;
        case O_KEEP: s->keep = true; break;
        case 'h': s_usage(stdout); exit(SD_EXIT_OK);
        default: s_usage(stderr); return -1;
        }
        continue;
    bad:
        fprintf(stderr, "foleni-simday: bad value '%s' for --%s\n", optarg, longopts[opt - O_SEED].name);
        return -1;
    }
    if (optind != argc) {
        s_usage(stderr);
        return -1;
    }
    if (s->citizens < 0)
        s->citizens = small ? SD_SMALL_CITIZENS : SD_DEFAULT_CITIZENS;
    if (s->walkins < 0)
        s->walkins = small ? SD_SMALL_WALKINS : SD_DEFAULT_WALKINS;
    if (s->speed < 0)
        s->speed = small ? SD_SMALL_SPEED : SD_DEFAULT_SPEED;
    s->k = s->speed / 1000.0;
    if (config)
        snprintf(s->config_path, sizeof s->config_path, "%s", config);
    else
        s_default_config(s);
    return 0;
}

/* Load the office and work out the day: opening hours, services, counters. */
static int
s_setup(sim_t *s)
{
    fl_error_t err;
    if (!(s->config = fl_config_load(s->config_path, &err))) {
        fprintf(stderr, "foleni-simday: %s\n", err.message);
        return -1;
    }
    s->office = s->office_code[0] ? fl_config_office(s->config, s->office_code) : &s->config->offices[0];
    if (!s->office) {
        fprintf(stderr, "foleni-simday: %s has no office %s\n", s->config_path, s->office_code);
        return -1;
    }
    if (!(s->zone = fl_zone_new(s->office->timezone, &err))) {
        fprintf(stderr, "foleni-simday: %s\n", err.message);
        return -1;
    }
    s->day = fl_zone_day(s->zone, s->start);
    const fl_hours_t *h = &s->office->hours[fl_day_weekday(s->day)];
    bool closed = !h->is_open;
    for (size_t i = 0; i < s->office->closed_count; i++)
        closed |= (uint32_t) s->office->closed[i] == s->day;
    char date[FL_DAY_TEXT_SIZE];
    fl_day_format(s->day, date);
    if (closed || fl_zone_utc(s->zone, (int) (s->day / 10000), (int) (s->day / 100 % 100), (int) (s->day % 100),
                              h->opens, &s->open_t) != 0
        || fl_zone_utc(s->zone, (int) (s->day / 10000), (int) (s->day / 100 % 100), (int) (s->day % 100), h->closes,
                       &s->close_t) != 0) {
        fprintf(stderr, "foleni-simday: %s is closed on %s; choose another --start\n", s->office->code, date);
        return -1;
    }
    if (s->start >= s->open_t) {
        fprintf(stderr, "foleni-simday: --start must be before opening (%s local) so that citizens can book\n",
                s_hms(s, s->open_t));
        return -1;
    }
    s->nsvc = (int) s->office->service_count;
    for (int i = 0; i < s->nsvc; i++) {
        const fl_service_t *sv = &s->office->services[i];
        snprintf(s->svc[i].code, sizeof s->svc[i].code, "%s", sv->code);
        s->svc[i].cfg = sv;
        s->svc[i].max_wait_s = (int64_t) sv->max_wait_minutes * 60;
    }
    int m = (int) s->office->counter_count;
    if (s->counters_wanted > 0 && s->counters_wanted < m)
        m = s->counters_wanted;
    for (int c = 0; c < m; c++) {
        const fl_counter_t *fc = &s->office->counters[c];
        counter_t *k = &s->ctr[s->nctr++];
        k->number = fc->number;
        k->person = -1;
        for (size_t i = 0; i < fc->service_count; i++) {
            int svc = s_service_index(s, fc->services[i]->code);
            k->services[k->nservices++] = svc;
            k->serves[svc] = true;
            s->svc[svc].served = true;
        }
    }
    for (int i = 0; i < s->nsvc; i++)
        s->svc[i].bookable = s->svc[i].served && s->svc[i].cfg->capacity > 0 && s->svc[i].cfg->fee == 0;
    s->day_end = fl_zone_day_start(s->zone, fl_day_add(s->day, 1));
    if (!s->max_seconds)
        s->max_seconds = (int) ((double) (s->day_end - s->start) / s->speed) + 60;
    return 0;
}

int
main(int argc, char **argv)
{
    static sim_t sim;
    sim_t *s = &sim;
    s->wall_start_ms = s_mono_ms();
    if (s_options(s, argc, argv) != 0)
        return SD_EXIT_USAGE;
    fl_log_init("simday", FL_LOG_ERROR);
    if (s_setup(s) != 0)
        return SD_EXIT_USAGE;
    zsys_handler_set(NULL);
    zsys_init();
    zsys_set_linger(0);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned) s->max_seconds + 120);        /* a last resort: the children die with us */
    s->run_id = (uint32_t) getpid();
    s->by_ticket = zhashx_new();
    s->by_ref = zhashx_new();
    const char *tmp = getenv("TMPDIR");
    if (s_path(s->dir, sizeof s->dir, "%s/foleni-simday-XXXXXX", tmp && *tmp ? tmp : "/tmp") || !mkdtemp(s->dir)) {
        fprintf(stderr, "foleni-simday: cannot make a temporary folder: %s\n", strerror(errno));
        return SD_EXIT_RUN;
    }
    if (!s->quiet) {
        char date[FL_DAY_TEXT_SIZE];
        fl_day_format(s->day, date);
        fprintf(stderr, "foleni-simday: %s on %s, %d bookings, %d walk-ins, %d counters, clock x%g (about %.0f s); "
                "folder %s\n", s->office->code, date, s->citizens, s->walkins, s->nctr, s->speed,
                (double) (s->close_t + 600 - s->start) / s->speed, s->dir);
    }
    place_t *places = NULL;
    int nplaces = 0;
    int rc = s_start_processes(s);
    if (rc == 0)
        rc = s_places(s, &places, &nplaces);
    if (rc == 0)
        rc = s_plan(s, places, nplaces);
    free(places);
    if (rc == 0)
        rc = s_book_all(s);
    if (rc == 0)
        rc = s_run_day(s);
    if (rc == 0)
        rc = s_close_day(s);
    figures_t f;
    memset(&f, 0, sizeof f);
    if (rc == 0) {
        s_check_order(s);
        s_figures(s, &f);
        s_check_records(s);
    }
    fl_client_destroy(&s->client);
    s_stop(&s->scheduler);
    s_stop(&s->broker);
    double wall_s = (double) (s_mono_ms() - s->wall_start_ms) / 1000.0;
    int status;
    if (s->fatal[0]) {
        fprintf(stderr, "foleni-simday: the day could not be run: %s\n", s->fatal);
        fprintf(stderr, "foleni-simday: the logs and the store are kept in %s\n", s->dir);
        status = SD_EXIT_RUN;
    } else {
        if (s->json)
            s_report_json(s, &f, wall_s);
        else
            s_report_text(s, &f, wall_s);
        status = s_passed(s) ? SD_EXIT_OK : SD_EXIT_INVARIANT;
        if (status != SD_EXIT_OK)
            fprintf(stderr, "foleni-simday: an invariant failed; the logs and the store are kept in %s\n", s->dir);
    }
    if (status == SD_EXIT_OK && !s->keep)
        nftw(s->dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (status == SD_EXIT_OK)
        fprintf(stderr, "foleni-simday: kept %s\n", s->dir);
    fflush(stdout);
    zhashx_destroy(&s->by_ticket);
    zhashx_destroy(&s->by_ref);
    fl_msg_destroy(&s->stats);
    fl_zone_destroy(&s->zone);
    fl_config_destroy(&s->config);
    free(s->people);
    free(s->heap);
    free(s->calls);
    free(s_dump);
    return status;
}
