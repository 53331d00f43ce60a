/*  foleni-bench-broker — round trips per second through the broker, against
 *  two baselines measured in the same run.
 *
 *    make && build/bin/foleni-bench-broker [--seconds S] [--warmup S] ...
 *
 *  Four paths, each in separate processes on loopback tcp, every port picked
 *  free at run time:
 *    direct   DEALER client -> ROUTER echo server (a helper process);
 *    relay    DEALER client -> bare ROUTER-ROUTER relay -> DEALER echo worker
 *             (two helper processes, raw libzmq, nothing parsed): the
 *             reference that "does about 120k round trips/s" on these machines;
 *    broker   libfoleni clients (fl_client_send / fl_client_recv with request
 *             ids) -> build/bin/foleni-broker -> build/bin/foleni-echo worker
 *             with a credit window: the real thing.  The echo runs --bare
 *             (returns the request's frames, as the relay's echo does) unless
 *             --echo-tag asks for its extra pid/caller frame;
 *    mdp-raw  the same broker process between a client and a worker that speak
 *             MDP/0.2 with request ids and a window in raw libzmq (a helper):
 *             a diagnostic that tells the broker's own cost from that of the
 *             client and worker libraries.
 *  Each path runs every configuration (1 socket x 1, 1 x 16, 4 x 4, 1 x 64 and
 *  4 x 16 requests in flight); a configuration runs the four paths back to
 *  back, so the ratios compare figures taken seconds apart.  Every run keeps
 *  its requests in flight for a warm-up, then counts the replies that arrive
 *  during the measured window and their latency (1 µs buckets).  It also reads
 *  the CPU time each process used, to show where time goes, and the machine's
 *  busy time: a configuration during which other work kept more than
 *  BENCH_OTHER_MAX cores busy is measured again (--busy-retries).
 *
 *  The helpers are this same program run again with a hidden first argument
 *  (--helper KIND PARENT-PID ...).  Every child gets PR_SET_PDEATHSIG and is
 *  killed at exit, on SIGINT/SIGTERM and on error; an alarm bounds the whole
 *  run, and a run that gets no reply for BENCH_STALL_MS fails instead of
 *  waiting.  This is a benchmark, not a test: `make check` does not run it.
 *  docs/benchmarks.md has the method and the figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include <zmq.h>

#include "bench/benchproc.h"
#include "libfoleni/client.h"
#include "libfoleni/error.h"

#define BENCH_CHILDREN_MAX   8          /* helper, broker and worker processes */
#define BENCH_SOCKETS_MAX    16         /* client sockets in one configuration */
#define BENCH_HIST_US        1000000    /* latency buckets: 1 µs each, up to 1 s */
#define BENCH_PAYLOAD_MIN    16         /* room for the send time */
#define BENCH_PAYLOAD_MAX    65536
#define BENCH_ENDPOINT_MAX   256
#define BENCH_STALL_MS       5000       /* no reply for this long: the run failed */
#define BENCH_DRAIN_MS       2000       /* wait for the last replies after a run */
#define BENCH_STARTUP_MS     10000      /* a helper, the broker or the worker to come up */
#define BENCH_PUMP_MS        100        /* longest single wait for replies */
#define BENCH_BATCH_MAX      4096       /* messages drained from one socket per wake-up */
#define BENCH_BROKER_TRIES   3          /* fresh ports if the broker cannot bind */
#define BENCH_OTHER_MAX      0.25       /* cores other work may use before a configuration is measured again */
#define BENCH_BUSY_PAUSE_MS  5000       /* pause before measuring again */
#define BENCH_SERVICE        "bench.echo"       /* served by foleni-echo */
#define BENCH_SERVICE_RAW    "bench.raw"        /* served by the mdp-worker helper */
#define BENCH_RID_LEN        16         /* "r" + 15 hex digits */

/* ---- small helpers ---------------------------------------------------------- */

/* ---- child processes -------------------------------------------------------- */

typedef enum { PROC_CLIENT, PROC_MIDDLE, PROC_END, PROC_ROLES } proc_role_t;

static pid_t s_children[BENCH_CHILDREN_MAX];
static size_t s_nchildren;

/*  Kill every child still registered.  Async-signal-safe when hard. */
static void
s_kill_children(bool hard)
{
    for (size_t i = 0; i < s_nchildren; i++)
        if (s_children[i] > 0)
            kill(s_children[i], hard ? SIGKILL : SIGTERM);
    if (hard)
        return;
    int64_t until = bp_now_ms() + 2000;
    for (size_t i = 0; i < s_nchildren; i++) {
        while (s_children[i] > 0) {
            pid_t got = waitpid(s_children[i], NULL, WNOHANG);
            if (got == s_children[i] || (got < 0 && errno == ECHILD))
                s_children[i] = 0;
            else if (bp_now_ms() >= until) {
                kill(s_children[i], SIGKILL);
                waitpid(s_children[i], NULL, 0);
                s_children[i] = 0;
            } else
                usleep(10000);
        }
    }
    s_nchildren = 0;
}

static void
s_atexit(void)
{
    s_kill_children(false);
}

static void
s_on_signal(int sig)
{
    s_kill_children(true);
    static const char msg[] = "foleni-bench-broker: stopped by a signal; children killed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void) ignored;
    _exit(sig == SIGALRM ? 124 : 128 + sig);
}

/*  Forget a child that has been reaped or killed by hand. */
static void
s_forget_child(pid_t pid)
{
    for (size_t i = 0; i < s_nchildren; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
}

/*  Start argv[0] with argv.  If out_fd is not NULL the child's stdout becomes
 *  a pipe whose read end is returned there.  The child dies with us
 *  (PR_SET_PDEATHSIG).  Returns the pid, or -1. */
static pid_t
s_spawn(char *const argv[], int *out_fd)
{
    if (s_nchildren >= BENCH_CHILDREN_MAX)
        return -1;
    int fds[2] = { -1, -1 };
    if (out_fd && pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls between fork and exec */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (out_fd && dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    if (out_fd) {
        close(fds[1]);
        if (pid < 0)
            close(fds[0]);
        else
            *out_fd = fds[0];
    }
    if (pid > 0)
        s_children[s_nchildren++] = pid;
    return pid;
}

/*  Read one line (without its newline) from fd within timeout_ms.
 *  Returns 0, or -1 on timeout, end of file or error. */
static int
s_read_line(int fd, char *out, size_t cap, int timeout_ms)
{
    size_t n = 0;
    int64_t until = bp_now_ms() + timeout_ms;
    while (n + 1 < cap) {
        int64_t left = until - bp_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int rc = poll(&pfd, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t got = read(fd, out + n, 1);
        if (got <= 0)
            return -1;
        if (out[n] == '\n') {
            out[n] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

/*  CPU time (user + system, all threads) a process has used, in µs; the
 *  calling process for pid 0.  -1 when it cannot be read. */
static int64_t
s_cpu_us(pid_t pid)
{
    if (pid == 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) != 0)
            return -1;
        return (int64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
             + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    }
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');        /* the command name may hold spaces */
    if (!p)
        return -1;
    unsigned long long utime, stime;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t) ((utime + stime) * 1000000ULL / (unsigned long long) (hz > 0 ? hz : 100));
}

/*  CPU time the whole machine spent busy (not idle, not waiting for I/O), in
 *  µs summed over cores, from /proc/stat.  -1 when it cannot be read. */
static int64_t
s_machine_busy_us(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[8] = { 0 };
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return -1;
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];  /* all but idle, iowait */
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t) (busy * 1000000ULL / (unsigned long long) (hz > 0 ? hz : 100));
}

/* ---- helpers: the baselines' servers, in child processes (raw libzmq) ------- */

/*  Exit when the bench that started us has gone (belt and braces with
 *  PR_SET_PDEATHSIG). */
static void
s_helper_check_parent(pid_t parent)
{
    if (getppid() != parent)
        _exit(0);
}

/*  Move the rest of a multipart message from one socket to another, frame by
 *  frame (zero copy).  `more` says whether a frame follows the one already
 *  read.  Returns 0 or -1. */
static int
s_forward_rest(void *from, void *to, bool more)
{
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, from, 0) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        more = zmq_msg_more(&part);
        if (zmq_msg_send(&part, to, more ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
    }
    return 0;
}

static void *
s_helper_socket(void *ctx, int type)
{
    void *sock = zmq_socket(ctx, type);
    if (!sock)
        return NULL;
    int zero = 0, timeout = 1000;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return sock;
}

/*  Bind to a free loopback port and write the endpoint into out. */
static int
s_helper_bind(void *sock, char *out, size_t cap)
{
    if (zmq_bind(sock, "tcp://127.0.0.1:*") != 0)
        return -1;
    size_t len = cap;
    return zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, out, &len);
}

/*  direct: a ROUTER that sends every message back to its sender as it is. */
static int
s_helper_echo(void *ctx, pid_t parent)
{
    void *router = s_helper_socket(ctx, ZMQ_ROUTER);
    char endpoint[BENCH_ENDPOINT_MAX];
    if (!router || s_helper_bind(router, endpoint, sizeof endpoint) != 0)
        return 1;
    printf("%s\n", endpoint);
    fflush(stdout);
    while (true) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, router, 0) < 0) {   /* the identity, or a timeout */
            zmq_msg_close(&part);
            if (errno != EAGAIN && errno != EINTR)
                return 1;
            s_helper_check_parent(parent);
            continue;
        }
        bool more = zmq_msg_more(&part);
        if (zmq_msg_send(&part, router, more ? ZMQ_SNDMORE : 0) < 0 || s_forward_rest(router, router, more) != 0)
            return 1;
    }
}

/*  relay: clients on a front ROUTER, one echo worker on a back ROUTER (it
 *  says READY first).  Front [client][body...] -> back [worker][client][body...]
 *  and back again.  Nothing is parsed beyond the routing frames. */
static int
s_helper_relay(void *ctx, pid_t parent)
{
    void *front = s_helper_socket(ctx, ZMQ_ROUTER);
    void *back = s_helper_socket(ctx, ZMQ_ROUTER);
    char front_ep[BENCH_ENDPOINT_MAX], back_ep[BENCH_ENDPOINT_MAX];
    if (!front || !back || s_helper_bind(front, front_ep, sizeof front_ep) != 0
        || s_helper_bind(back, back_ep, sizeof back_ep) != 0)
        return 1;
    printf("%s %s\n", front_ep, back_ep);
    fflush(stdout);
    uint8_t worker[256];
    size_t worker_len = 0;
    while (true) {
        zmq_pollitem_t items[2] = { { back, 0, ZMQ_POLLIN, 0 }, { front, 0, ZMQ_POLLIN, 0 } };
        int rc = zmq_poll(items, worker_len ? 2 : 1, 1000);     /* front waits for a worker */
        if (rc < 0 && errno != EINTR)
            return 1;
        if (rc <= 0) {
            s_helper_check_parent(parent);
            continue;
        }
        for (int i = 0; i < BENCH_BATCH_MAX; i++) {             /* back: READY or a reply */
            zmq_msg_t id;
            zmq_msg_init(&id);
            if (zmq_msg_recv(&id, back, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&id);
                break;
            }
            zmq_msg_t first;
            zmq_msg_init(&first);
            if (zmq_msg_recv(&first, back, 0) < 0)
                return 1;
            if (!zmq_msg_more(&first)) {                        /* READY */
                worker_len = zmq_msg_size(&id) < sizeof worker ? zmq_msg_size(&id) : 0;
                memcpy(worker, zmq_msg_data(&id), worker_len);
                zmq_msg_close(&first);
            } else if (zmq_msg_send(&first, front, ZMQ_SNDMORE) < 0 || s_forward_rest(back, front, true) != 0)
                return 1;
            zmq_msg_close(&id);
        }
        for (int i = 0; worker_len && i < BENCH_BATCH_MAX; i++) {   /* front: a request */
            zmq_msg_t client;
            zmq_msg_init(&client);
            if (zmq_msg_recv(&client, front, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&client);
                break;
            }
            if (zmq_send(back, worker, worker_len, ZMQ_SNDMORE) < 0
                || zmq_msg_send(&client, back, ZMQ_SNDMORE) < 0 || s_forward_rest(front, back, true) != 0)
                return 1;
        }
    }
}

/*  relay's worker: a DEALER that says READY, then echoes [client][body...]. */
static int
s_helper_relay_worker(void *ctx, pid_t parent, const char *back_ep)
{
    void *dealer = s_helper_socket(ctx, ZMQ_DEALER);
    if (!dealer || zmq_connect(dealer, back_ep) != 0 || zmq_send(dealer, "READY", 5, 0) < 0)
        return 1;
    while (true) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, dealer, 0) < 0) {
            zmq_msg_close(&part);
            if (errno != EAGAIN && errno != EINTR)
                return 1;
            s_helper_check_parent(parent);
            continue;
        }
        bool more = zmq_msg_more(&part);
        if (zmq_msg_send(&part, dealer, more ? ZMQ_SNDMORE : 0) < 0 || s_forward_rest(dealer, dealer, more) != 0)
            return 1;
    }
}

/*  mdp-raw's worker: MDP/0.2 with a credit window in raw libzmq, no CZMQ and
 *  no libfoleni.  REQUEST [MDPW02][02][client][""][caller][rid][payload...]
 *  becomes FINAL [MDPW02][04][client][""][rid][payload...].  It says
 *  HEARTBEAT when idle, READY again after a DISCONNECT. */
static int
s_helper_mdp_worker(void *ctx, pid_t parent, const char *endpoint, const char *service, const char *window)
{
    void *dealer = s_helper_socket(ctx, ZMQ_DEALER);
    if (!dealer || zmq_connect(dealer, endpoint) != 0)
        return 1;
    bool ready = false;
    while (true) {
        if (!ready) {
            if (zmq_send(dealer, "MDPW02", 6, ZMQ_SNDMORE) < 0 || zmq_send(dealer, "\x01", 1, ZMQ_SNDMORE) < 0
                || zmq_send(dealer, service, strlen(service), ZMQ_SNDMORE) < 0
                || zmq_send(dealer, window, strlen(window), 0) < 0)
                return 1;
            ready = true;
        }
        zmq_msg_t header;
        zmq_msg_init(&header);
        if (zmq_msg_recv(&header, dealer, 0) < 0) {            /* idle for a second */
            zmq_msg_close(&header);
            if (errno != EAGAIN && errno != EINTR)
                return 1;
            s_helper_check_parent(parent);
            if (zmq_send(dealer, "MDPW02", 6, ZMQ_SNDMORE) < 0 || zmq_send(dealer, "\x05", 1, 0) < 0)
                return 1;
            continue;
        }
        bool more = zmq_msg_more(&header);
        zmq_msg_close(&header);
        uint8_t command = 0;
        if (more) {
            zmq_msg_t cmd;
            zmq_msg_init(&cmd);
            if (zmq_msg_recv(&cmd, dealer, 0) < 0)
                return 1;
            command = zmq_msg_size(&cmd) == 1 ? *(uint8_t *) zmq_msg_data(&cmd) : 0;
            more = zmq_msg_more(&cmd);
            zmq_msg_close(&cmd);
        }
        if (command == 0x02 && more) {                          /* REQUEST */
            if (zmq_send(dealer, "MDPW02", 6, ZMQ_SNDMORE) < 0 || zmq_send(dealer, "\x04", 1, ZMQ_SNDMORE) < 0)
                return 1;
            for (int index = 0; more; index++) {                /* client, "", caller, rid, payload... */
                zmq_msg_t part;
                zmq_msg_init(&part);
                if (zmq_msg_recv(&part, dealer, 0) < 0)
                    return 1;
                more = zmq_msg_more(&part);
                if (index == 2)
                    zmq_msg_close(&part);                       /* the caller frame */
                else if (zmq_msg_send(&part, dealer, more ? ZMQ_SNDMORE : 0) < 0)
                    return 1;
            }
            continue;
        }
        while (more) {                                          /* HEARTBEAT, DISCONNECT... */
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, dealer, 0) < 0)
                return 1;
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        if (command == 0x06)
            ready = false;
    }
}

static int
s_helper_main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    pid_t parent = (pid_t) atoi(argv[3]);
    s_helper_check_parent(parent);
    void *ctx = zmq_ctx_new();
    if (!ctx)
        return 1;
    if (!strcmp(argv[2], "echo"))
        return s_helper_echo(ctx, parent);
    if (!strcmp(argv[2], "relay"))
        return s_helper_relay(ctx, parent);
    if (!strcmp(argv[2], "relay-worker") && argc >= 5)
        return s_helper_relay_worker(ctx, parent, argv[4]);
    if (!strcmp(argv[2], "mdp-worker") && argc >= 7)
        return s_helper_mdp_worker(ctx, parent, argv[4], argv[5], argv[6]);
    return 2;
}

/* ---- measurement ------------------------------------------------------------ */

/* direct, relay: the baselines; broker: the real thing; mdp-raw: the same
 * broker between a client and a worker written in raw libzmq, to tell the
 * broker's own cost from the client and worker libraries'. */
typedef enum { MODE_DIRECT, MODE_RELAY, MODE_BROKER, MODE_MDP_RAW, MODES } bench_mode_t;

static const char *s_mode_names[MODES] = { "direct", "relay", "broker", "mdp-raw" };
static const char *s_mode_keys[MODES] = { "direct", "relay", "broker", "mdp_raw" };    /* BENCH lines */

typedef struct {
    int sockets;                    /* client sockets */
    int per_socket;                 /* requests in flight on each */
} config_t;

static const config_t s_configs[] = { { 1, 1 }, { 1, 16 }, { 4, 4 }, { 1, 64 }, { 4, 16 } };
#define BENCH_CONFIGS (sizeof s_configs / sizeof s_configs[0])

typedef struct {
    bool     ok;
    uint64_t replies;               /* received in the measured window */
    uint64_t errors;                /* timed out or refused */
    double   seconds;
    double   rps;
    double   p50_us, p99_us;
    double   cpu_us_per_rt[PROC_ROLES];     /* client, middle (relay/broker), end (echo) */
    double   cpu_cores;             /* all three processes, cores busy on average */
    double   other_cores;           /* cores busy with anything else (other work
                                       on the machine spoils the figures) */
} result_t;

typedef struct run run_t;

/* How one mode talks to its server. */
typedef struct {
    int  (*send)(run_t *run, int sock);                 /* one request on socket sock */
    int  (*pump)(run_t *run, int timeout_ms);           /* take in what came back */
} driver_t;

struct run {
    const driver_t *driver;
    int      sockets, per_socket;
    bool     sending;               /* false while draining */
    int64_t  measure_from, measure_until;   /* ns */
    int64_t  last_progress_ms;
    int      outstanding[BENCH_SOCKETS_MAX];
    uint64_t seq;
    uint64_t replies, errors;
    uint32_t *hist;                 /* BENCH_HIST_US + 1 buckets, the last for overflow */
    uint8_t  payload[BENCH_PAYLOAD_MAX];
    size_t   size;
    /* raw libzmq driver */
    void    *raw[BENCH_SOCKETS_MAX];
    bool     raw_mdp;               /* speak MDP/0.2 with request ids (mdp-raw) */
    /* libfoleni driver */
    fl_client_t *fl[BENCH_SOCKETS_MAX];
    bool     event_loop;            /* poll + fl_client_recv(.., 0) even for one socket */
};

/*  A reply came back on socket sock for a request sent at sent_ns. */
static int
s_on_reply(run_t *run, int sock, int64_t sent_ns, bool ok)
{
    int64_t now = bp_now_ns();
    run->outstanding[sock]--;
    run->last_progress_ms = now / 1000000;
    if (!ok)
        run->errors++;
    else if (now >= run->measure_from && now < run->measure_until) {
        run->replies++;
        int64_t us = (now - sent_ns) / 1000;
        run->hist[us >= 0 && us < BENCH_HIST_US ? us : BENCH_HIST_US]++;
    }
    if (!run->sending)
        return 0;
    return run->driver->send(run, sock);
}

static void
s_stamp(run_t *run, char rid[BENCH_RID_LEN + 1])
{
    int64_t now = bp_now_ns();
    memcpy(run->payload, &now, sizeof now);
    snprintf(rid, BENCH_RID_LEN + 1, "r%015llx", (unsigned long long) (run->seq++ & 0xfffffffffffffffULL));
}

static int64_t
s_sent_ns(const void *payload, size_t size)
{
    int64_t t = 0;
    if (size >= sizeof t)
        memcpy(&t, payload, sizeof t);
    return t;
}

/* raw: frames [rid][payload], echoed back as they are */

static int
s_raw_send(run_t *run, int sock)
{
    char rid[BENCH_RID_LEN + 1];
    s_stamp(run, rid);
    if (run->raw_mdp
        && (zmq_send(run->raw[sock], "MDPC02", 6, ZMQ_SNDMORE) < 0
            || zmq_send(run->raw[sock], "\x01", 1, ZMQ_SNDMORE) < 0
            || zmq_send(run->raw[sock], BENCH_SERVICE_RAW, strlen(BENCH_SERVICE_RAW), ZMQ_SNDMORE) < 0))
        return -1;
    if (zmq_send(run->raw[sock], rid, BENCH_RID_LEN, ZMQ_SNDMORE) < 0
        || zmq_send(run->raw[sock], run->payload, run->size, 0) < 0)
        return -1;
    run->outstanding[sock]++;
    return 0;
}

static int
s_raw_pump(run_t *run, int timeout_ms)
{
    zmq_pollitem_t items[BENCH_SOCKETS_MAX];
    for (int i = 0; i < run->sockets; i++)
        items[i] = (zmq_pollitem_t) { run->raw[i], 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll(items, run->sockets, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < run->sockets; i++) {
        if (!(items[i].revents & ZMQ_POLLIN))
            continue;
        for (int n = 0; n < BENCH_BATCH_MAX; n++) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, run->raw[i], ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&part);
                break;
            }
            int64_t sent = 0;
            int index = 0, payload = run->raw_mdp ? 4 : 1;  /* [MDPC02][03][service] before the rid */
            bool more, echoed = false;  /* an error reply from the broker has another body */
            do {
                if (index == payload) {
                    sent = s_sent_ns(zmq_msg_data(&part), zmq_msg_size(&part));
                    echoed = zmq_msg_size(&part) == run->size;
                }
                more = zmq_msg_more(&part);
                zmq_msg_close(&part);
                if (more) {
                    zmq_msg_init(&part);
                    if (zmq_msg_recv(&part, run->raw[i], 0) < 0)
                        return -1;
                }
                index++;
            } while (more);
            if (s_on_reply(run, i, sent, echoed && index == payload + 1) != 0)
                return -1;
        }
    }
    return 0;
}

static const driver_t s_raw_driver = { s_raw_send, s_raw_pump };

/* broker: libfoleni client, request ids, service BENCH_SERVICE */

static int
s_fl_send(run_t *run, int sock)
{
    char rid[BENCH_RID_LEN + 1];
    s_stamp(run, rid);
    if (fl_client_send(run->fl[sock], BENCH_SERVICE, rid, run->payload, run->size) != 0)
        return -1;
    run->outstanding[sock]++;
    return 0;
}

static int
s_fl_take(run_t *run, int sock, fl_reply_t *r)
{
    const fl_part_t *body = r->status == 0 && r->nparts ? &r->parts[0] : NULL;
    if (body && body->size != run->size)
        body = NULL;                    /* not our payload: the broker's error reply */
    int64_t sent = body ? s_sent_ns(body->data, body->size) : 0;
    int rc = s_on_reply(run, sock, sent, body != NULL);
    fl_reply_reset(r);
    return rc;
}

static int
s_fl_pump(run_t *run, int timeout_ms)
{
    fl_reply_t r = { .held = NULL };
    if (run->sockets == 1 && !run->event_loop) {
        /* blocking use (counter, tools): one reply per call; the client drains
         * the socket into its own list on the first */
        int rc = fl_client_recv(run->fl[0], &r, timeout_ms);
        if (rc == 0)
            return s_fl_take(run, 0, &r);
        return rc == FL_E_TIMEOUT || rc == FL_E_EMPTY || rc == FL_E_IO ? 0 : -1;
    }
    /* event-loop use (portal): poll the sockets, then fl_client_recv(.., 0) */
    zmq_pollitem_t items[BENCH_SOCKETS_MAX];
    for (int i = 0; i < run->sockets; i++)
        items[i] = (zmq_pollitem_t) { zsock_resolve(fl_client_socket(run->fl[i])), 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll(items, run->sockets, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < run->sockets; i++) {
        if (rc > 0 && !(items[i].revents & ZMQ_POLLIN))
            continue;                   /* when idle, let every client expire its requests */
        for (int n = 0; n < BENCH_BATCH_MAX && fl_client_recv(run->fl[i], &r, 0) == 0; n++)
            if (s_fl_take(run, i, &r) != 0)
                return -1;
    }
    return 0;
}

static const driver_t s_fl_driver = { s_fl_send, s_fl_pump };

static int
s_outstanding(const run_t *run)
{
    int n = 0;
    for (int i = 0; i < run->sockets; i++)
        n += run->outstanding[i];
    return n;
}

static double
s_percentile(const uint32_t *hist, uint64_t total, double p)
{
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t) (p * (double) total + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (int i = 0; i <= BENCH_HIST_US; i++) {
        seen += hist[i];
        if (seen >= want)
            return i;
    }
    return BENCH_HIST_US;
}

/*  Keep run->sockets × run->per_socket requests in flight for warmup_s +
 *  seconds, count what arrives in the last `seconds`, then drain.  pids are
 *  the processes whose CPU time to read (0: this one; -1: none).
 *  Fills *out; out->ok false when anything failed. */
static void
s_measure(run_t *run, double warmup_s, double seconds, const pid_t pids[PROC_ROLES], result_t *out)
{
    memset(out, 0, sizeof *out);
    memset(run->hist, 0, sizeof(uint32_t) * (BENCH_HIST_US + 1));
    memset(run->outstanding, 0, sizeof run->outstanding);
    run->replies = run->errors = 0;
    run->sending = true;
    int64_t start = bp_now_ns();
    run->measure_from = start + (int64_t) (warmup_s * 1e9);
    run->measure_until = run->measure_from + (int64_t) (seconds * 1e9);
    run->last_progress_ms = start / 1000000;
    bool failed = false;
    for (int s = 0; s < run->sockets && !failed; s++)
        for (int k = 0; k < run->per_socket && !failed; k++)
            failed = run->driver->send(run, s) != 0;

    int64_t cpu0[PROC_ROLES], machine0 = -1;
    bool cpu_taken = false;
    while (!failed) {
        int64_t now = bp_now_ns();
        if (!cpu_taken && now >= run->measure_from) {
            for (int i = 0; i < PROC_ROLES; i++)
                cpu0[i] = pids[i] >= 0 ? s_cpu_us(pids[i]) : -1;
            machine0 = s_machine_busy_us();
            cpu_taken = true;
        }
        if (now >= run->measure_until)
            break;
        int64_t next = cpu_taken ? run->measure_until : run->measure_from;
        int wait = (int) ((next - now) / 1000000) + 1;
        failed = run->driver->pump(run, wait < BENCH_PUMP_MS ? wait : BENCH_PUMP_MS) != 0;
        if (now / 1000000 - run->last_progress_ms > BENCH_STALL_MS) {
            fprintf(stderr, "foleni-bench-broker: no reply for %d ms\n", BENCH_STALL_MS);
            failed = true;
        }
    }
    if (cpu_taken && !failed) {
        double rts = (double) (run->replies ? run->replies : 1);
        double total_cpu = 0;
        for (int i = 0; i < PROC_ROLES; i++) {
            int64_t c1 = pids[i] >= 0 ? s_cpu_us(pids[i]) : -1;
            double used = cpu0[i] >= 0 && c1 >= 0 ? (double) (c1 - cpu0[i]) : 0;
            out->cpu_us_per_rt[i] = used / rts;
            total_cpu += used;
        }
        out->cpu_cores = total_cpu / (seconds * 1e6);
        int64_t machine1 = s_machine_busy_us();
        if (machine0 >= 0 && machine1 >= 0) {
            double other = ((double) (machine1 - machine0) - total_cpu) / (seconds * 1e6);
            out->other_cores = other > 0 ? other : 0;
        }
    }
    run->sending = false;
    int64_t drain_until = bp_now_ms() + BENCH_DRAIN_MS;
    while (!failed && s_outstanding(run) > 0 && bp_now_ms() < drain_until)
        failed = run->driver->pump(run, BENCH_PUMP_MS) != 0;
    if (s_outstanding(run) > 0)
        fprintf(stderr, "foleni-bench-broker: %d replies still missing after the run\n", s_outstanding(run));
    out->replies = run->replies;
    out->errors = run->errors;
    out->seconds = seconds;
    out->rps = (double) run->replies / seconds;
    out->p50_us = s_percentile(run->hist, run->replies, 0.50);
    out->p99_us = s_percentile(run->hist, run->replies, 0.99);
    out->ok = !failed && run->errors == 0 && s_outstanding(run) == 0 && run->replies > 0;
}

/* ---- setting up each mode ---------------------------------------------------- */

typedef struct {
    char self_path[PATH_MAX];
    char broker_path[PATH_MAX];
    char echo_path[PATH_MAX];
    char direct_ep[BENCH_ENDPOINT_MAX];
    char relay_ep[BENCH_ENDPOINT_MAX];
    char broker_ep[BENCH_ENDPOINT_MAX];
    pid_t echo_pid, relay_pid, relay_worker_pid, broker_pid, worker_pid, mdp_worker_pid;
    unsigned window;
    bool echo_tag;                  /* foleni-echo adds its pid/caller frame (not --bare) */
} setup_t;

/*  Start a helper (this program again) and read the line it prints. */
static pid_t
s_start_helper(setup_t *setup, const char *kind, char *const args[3], char *line, size_t cap)
{
    char parent[32];
    snprintf(parent, sizeof parent, "%d", (int) getpid());
    char *argv[] = { setup->self_path, "--helper", (char *) kind, parent, NULL, NULL, NULL, NULL };
    for (int i = 0; args && i < 3; i++)
        argv[4 + i] = args[i];
    int fd = -1;
    pid_t pid = s_spawn(argv, line ? &fd : NULL);
    if (pid < 0)
        return -1;
    if (line) {
        int rc = s_read_line(fd, line, cap, BENCH_STARTUP_MS);
        close(fd);
        if (rc != 0) {
            fprintf(stderr, "foleni-bench-broker: helper %s did not start\n", kind);
            return -1;
        }
    }
    return pid;
}

static bool
s_alive(pid_t pid)
{
    pid_t got = waitpid(pid, NULL, WNOHANG);
    if (got == pid) {
        s_forget_child(pid);
        return false;
    }
    return got == 0;
}

/*  Ask the broker mmi.service for our service until it answers "200" (the
 *  worker has registered).  0, or -1 after timeout_ms or if pid died. */
static int
s_wait_service(const char *endpoint, const char *service, pid_t broker, pid_t worker, int timeout_ms)
{
    fl_client_options_t opts = { .timeout_ms = 250, .retries = 0 };
    fl_error_t err;
    fl_client_t *client = fl_client_new(endpoint, NULL, &opts, &err);
    if (!client)
        return -1;
    int rc = -1;
    int64_t until = bp_now_ms() + timeout_ms;
    while (bp_now_ms() < until && s_alive(broker) && (worker <= 0 || s_alive(worker))) {
        fl_reply_t reply;
        if (fl_client_call(client, "mmi.service", service, strlen(service), &reply, &err) == 0) {
            bool found = reply.nparts && reply.parts[0].size == 3 && !memcmp(reply.parts[0].data, "200", 3);
            fl_reply_reset(&reply);
            if (found) {
                rc = 0;
                break;
            }
        }
        zclock_sleep(50);
    }
    fl_client_destroy(&client);
    return rc;
}

static int
s_start_broker(setup_t *setup)
{
    for (int attempt = 0; attempt < BENCH_BROKER_TRIES; attempt++) {
        int port = bp_free_port();
        if (port < 0)
            return -1;
        snprintf(setup->broker_ep, sizeof setup->broker_ep, "tcp://127.0.0.1:%d", port);
        char *bargv[] = { setup->broker_path, "--endpoint", setup->broker_ep,
                          "--publish", "tcp://127.0.0.1:*", "--subscribe", "tcp://127.0.0.1:*",
                          "--stats-interval", "0", "--log-level", "warn", NULL };
        setup->broker_pid = s_spawn(bargv, NULL);
        if (setup->broker_pid < 0)
            return -1;
        if (s_wait_service(setup->broker_ep, BENCH_SERVICE, setup->broker_pid, 0, 300) == 0 || s_alive(setup->broker_pid))
            break;                      /* up (no worker yet: "404" is fine) */
        setup->broker_pid = -1;         /* it exited: the port was taken */
    }
    if (setup->broker_pid < 0) {
        fprintf(stderr, "foleni-bench-broker: %s did not start\n", setup->broker_path);
        return -1;
    }
    char window[16];
    snprintf(window, sizeof window, "%u", setup->window);
    char *wargv[] = { setup->echo_path, "worker", "--endpoint", setup->broker_ep, "--service", BENCH_SERVICE,
                      "--window", window, setup->echo_tag ? NULL : "--bare", NULL };
    setup->worker_pid = s_spawn(wargv, NULL);
    if (setup->worker_pid < 0
        || s_wait_service(setup->broker_ep, BENCH_SERVICE, setup->broker_pid, setup->worker_pid,
                          BENCH_STARTUP_MS) != 0) {
        fprintf(stderr, "foleni-bench-broker: the echo worker did not register with the broker\n");
        return -1;
    }
    char *margs[3] = { setup->broker_ep, BENCH_SERVICE_RAW, window };
    setup->mdp_worker_pid = s_start_helper(setup, "mdp-worker", margs, NULL, 0);
    if (setup->mdp_worker_pid < 0
        || s_wait_service(setup->broker_ep, BENCH_SERVICE_RAW, setup->broker_pid, setup->mdp_worker_pid,
                          BENCH_STARTUP_MS) != 0) {
        fprintf(stderr, "foleni-bench-broker: the raw MDP worker did not register with the broker\n");
        return -1;
    }
    return 0;
}

static int
s_start_all(setup_t *setup)
{
    char line[2 * BENCH_ENDPOINT_MAX + 2];
    setup->echo_pid = s_start_helper(setup, "echo", NULL, setup->direct_ep, sizeof setup->direct_ep);
    if (setup->echo_pid < 0)
        return -1;
    setup->relay_pid = s_start_helper(setup, "relay", NULL, line, sizeof line);
    char *space = setup->relay_pid > 0 ? strchr(line, ' ') : NULL;
    if (!space || (size_t) (space - line) >= sizeof setup->relay_ep)
        return -1;
    *space = '\0';
    snprintf(setup->relay_ep, sizeof setup->relay_ep, "%.*s", (int) sizeof setup->relay_ep - 1, line);
    char *rargs[3] = { space + 1, NULL, NULL };
    setup->relay_worker_pid = s_start_helper(setup, "relay-worker", rargs, NULL, 0);
    if (setup->relay_worker_pid < 0)
        return -1;
    return s_start_broker(setup);
}

/*  Open the client sockets of one configuration for one mode. */
static int
s_open_clients(run_t *run, bench_mode_t mode, const setup_t *setup, void *ctx)
{
    for (int i = 0; i < run->sockets; i++) {
        if (mode == MODE_BROKER) {
            fl_client_options_t opts = { .timeout_ms = 2 * BENCH_STALL_MS, .retries = 0 };
            fl_error_t err;
            run->fl[i] = fl_client_new(setup->broker_ep, NULL, &opts, &err);
            if (!run->fl[i])
                return -1;
            continue;
        }
        run->raw[i] = zmq_socket(ctx, ZMQ_DEALER);
        if (!run->raw[i])
            return -1;
        int zero = 0;
        zmq_setsockopt(run->raw[i], ZMQ_LINGER, &zero, sizeof zero);
        const char *ep = mode == MODE_DIRECT ? setup->direct_ep
                       : mode == MODE_RELAY ? setup->relay_ep : setup->broker_ep;
        if (zmq_connect(run->raw[i], ep) != 0)
            return -1;
    }
    run->driver = mode == MODE_BROKER ? &s_fl_driver : &s_raw_driver;
    run->raw_mdp = mode == MODE_MDP_RAW;
    return 0;
}

static void
s_close_clients(run_t *run)
{
    for (int i = 0; i < BENCH_SOCKETS_MAX; i++) {
        fl_client_destroy(&run->fl[i]);
        if (run->raw[i])
            zmq_close(run->raw[i]);
        run->raw[i] = NULL;
    }
}

/* ---- report -------------------------------------------------------------------- */

static double
s_ratio(const result_t *a, const result_t *b)
{
    return a->ok && b->ok && b->rps > 0 ? a->rps / b->rps : 0;
}

static void
s_print_row(const config_t *c, bench_mode_t mode, const result_t *r, const result_t *row)
{
    char label[32];
    snprintf(label, sizeof label, "%d x %d", c->sockets, c->per_socket);
    printf("%-9s %6d  %-7s %9.0f %8.0f %8.0f   %5.1f %5.1f %5.1f   %4.2f %5.2f",
           label, c->sockets * c->per_socket, s_mode_names[mode], r->rps, r->p50_us, r->p99_us,
           r->cpu_us_per_rt[PROC_CLIENT], r->cpu_us_per_rt[PROC_MIDDLE], r->cpu_us_per_rt[PROC_END],
           r->cpu_cores, r->other_cores);
    if (mode == MODE_BROKER || mode == MODE_MDP_RAW)
        printf("   %5.2f %5.2f", s_ratio(r, &row[MODE_DIRECT]), s_ratio(r, &row[MODE_RELAY]));
    printf("%s\n", r->ok ? "" : "   FAILED");
    fflush(stdout);
}

static void
s_print_machine(const config_t *c, const result_t row[MODES])
{
    printf("BENCH broker config=%dx%d inflight=%d sockets=%d", c->sockets, c->per_socket,
           c->sockets * c->per_socket, c->sockets);
    for (int m = 0; m < MODES; m++)
        printf(" %s_rps=%.0f %s_p50_us=%.0f %s_p99_us=%.0f", s_mode_keys[m], row[m].rps, s_mode_keys[m],
               row[m].p50_us, s_mode_keys[m], row[m].p99_us);
    bool ok = true;
    for (int m = 0; m < MODES; m++)
        ok = ok && row[m].ok;
    double other = 0;
    for (int m = 0; m < MODES; m++)
        other = row[m].other_cores > other ? row[m].other_cores : other;
    printf(" broker_vs_direct=%.3f broker_vs_relay=%.3f mdp_raw_vs_relay=%.3f other_cores_max=%.2f ok=%d\n",
           s_ratio(&row[MODE_BROKER], &row[MODE_DIRECT]), s_ratio(&row[MODE_BROKER], &row[MODE_RELAY]),
           s_ratio(&row[MODE_MDP_RAW], &row[MODE_RELAY]), other, ok);
}

/* ---- running a configuration ------------------------------------------------------ */

/*  The most cores other work kept busy during any run of a configuration. */
static double
s_max_other(const result_t row[MODES])
{
    double other = 0;
    for (int m = 0; m < MODES; m++)
        other = row[m].other_cores > other ? row[m].other_cores : other;
    return other;
}

/*  Measure every path with configuration c into row[].  Returns 0, or -1
 *  when client sockets cannot be opened (a failed run is only marked in row). */
static int
s_run_config(run_t *run, const config_t *c, const setup_t *setup, void *ctx, double warmup, double seconds,
             result_t row[MODES])
{
    for (int m = 0; m < MODES; m++) {
        run->sockets = c->sockets;
        run->per_socket = c->per_socket;
        pid_t pids[PROC_ROLES] = { 0, -1, -1 };
        if (m == MODE_DIRECT)
            pids[PROC_END] = setup->echo_pid;
        else if (m == MODE_RELAY) {
            pids[PROC_MIDDLE] = setup->relay_pid;
            pids[PROC_END] = setup->relay_worker_pid;
        } else {
            pids[PROC_MIDDLE] = setup->broker_pid;
            pids[PROC_END] = m == MODE_BROKER ? setup->worker_pid : setup->mdp_worker_pid;
        }
        if (s_open_clients(run, (bench_mode_t) m, setup, ctx) != 0) {
            fprintf(stderr, "foleni-bench-broker: cannot open client sockets\n");
            s_close_clients(run);
            return -1;
        }
        s_measure(run, warmup, seconds, pids, &row[m]);
        s_close_clients(run);
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-bench-broker [options]\n"
        "\n"
        "Round trips per second through foleni-broker with 1, 16 and 64 requests in\n"
        "flight (one client socket and four), against a direct DEALER->ROUTER echo and\n"
        "a bare ROUTER-ROUTER relay measured in the same run.  Loopback tcp, free ports.\n"
        "Rows: direct, relay (the baselines), broker (libfoleni client -> foleni-broker\n"
        "-> foleni-echo) and mdp-raw (the same broker between a raw-libzmq MDP client\n"
        "and worker: the broker's own cost).\n"
        "\n"
        "  --seconds S     measured time per run                [3]\n"
        "  --warmup S      unmeasured time before each run       [0.5]\n"
        "  --size N        request payload in bytes (%d..%d)  [32]\n"
        "  --window N      the echo worker's credit window       [256]\n"
        "  --broker PATH   the broker program    [foleni-broker next to this program]\n"
        "  --echo PATH     the echo worker       [foleni-echo next to this program]\n"
        "  --echo-tag      let foleni-echo add its pid/caller frame to each reply (the\n"
        "                  figures before it took --bare); default: --bare, the frames\n"
        "                  the relay's echo returns\n"
        "  --event-loop    one socket too: poll + fl_client_recv(.., 0), as a portal does\n"
        "                  (default for one socket: blocking fl_client_recv, as a counter)\n"
        "  --only N        run only configuration N (1..%zu: 1x1 1x16 4x4 1x64 4x16)\n"
        "  --busy-retries N  measure a configuration again (up to N times, 0..10) when\n"
        "                  other work kept more than %.2f cores busy        [3]\n"
        "  -h, --help      this text\n"
        "\n"
        "Prints a table, then one 'BENCH broker ...' line per configuration.\n"
        "Exit codes: 0 every run completed, 1 a run failed, 2 usage.\n",
        BENCH_PAYLOAD_MIN, BENCH_PAYLOAD_MAX, BENCH_CONFIGS, BENCH_OTHER_MAX);
}

static bool
s_seconds(const char *text, double min, double max, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

static int
s_sibling(char *out, size_t cap, const char *self_path, const char *name)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", self_path);
    int n = snprintf(out, cap, "%s/%s", dirname(copy), name);
    return n > 0 && (size_t) n < cap ? 0 : -1;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--helper"))
        return s_helper_main(argc, argv);

    double seconds = 3, warmup = 0.5;
    long size = 32, window = 256, only = 0, busy_retries = 3;
    bool event_loop = false, echo_tag = false;
    static setup_t setup;
    const char *broker_path = NULL, *echo_path = NULL;
    enum { O_SECONDS = 256, O_WARMUP, O_SIZE, O_WINDOW, O_BROKER, O_ECHO, O_EVLOOP, O_ONLY, O_RETRIES, O_TAG };
    static const struct option longopts[] = {
        { "seconds", required_argument, NULL, O_SECONDS }, { "warmup", required_argument, NULL, O_WARMUP },
        { "size", required_argument, NULL, O_SIZE }, { "window", required_argument, NULL, O_WINDOW },
        { "broker", required_argument, NULL, O_BROKER }, { "echo", required_argument, NULL, O_ECHO },
        { "event-loop", no_argument, NULL, O_EVLOOP }, { "only", required_argument, NULL, O_ONLY },
        { "busy-retries", required_argument, NULL, O_RETRIES }, { "echo-tag", no_argument, NULL, O_TAG },
        { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt, li = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
        bool ok = true;
        char *end = NULL;
        switch (opt) {
        case O_SECONDS: ok = s_seconds(optarg, 0.1, 600, &seconds); break;
        case O_WARMUP: ok = s_seconds(optarg, 0, 60, &warmup); break;
        case O_SIZE: size = strtol(optarg, &end, 10); ok = !*end && size >= BENCH_PAYLOAD_MIN && size <= BENCH_PAYLOAD_MAX; break;
        case O_WINDOW: window = strtol(optarg, &end, 10); ok = !*end && window >= 1 && window <= 4096; break;
        case O_BROKER: broker_path = optarg; break;
        case O_ECHO: echo_path = optarg; break;
        case O_EVLOOP: event_loop = true; break;
        case O_TAG: echo_tag = true; break;
        case O_ONLY: only = strtol(optarg, &end, 10); ok = !*end && only >= 1 && only <= (long) BENCH_CONFIGS; break;
        case O_RETRIES: busy_retries = strtol(optarg, &end, 10); ok = !*end && busy_retries >= 0 && busy_retries <= 10; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "foleni-bench-broker: bad value '%s' for --%s\n", optarg, longopts[li].name);
            return 2;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return 2;
    }

    ssize_t n = readlink("/proc/self/exe", setup.self_path, sizeof setup.self_path - 1);
    if (n <= 0) {
        fprintf(stderr, "foleni-bench-broker: cannot read /proc/self/exe\n");
        return 1;
    }
    setup.self_path[n] = '\0';
    if (broker_path)
        snprintf(setup.broker_path, sizeof setup.broker_path, "%s", broker_path);
    else
        s_sibling(setup.broker_path, sizeof setup.broker_path, setup.self_path, "foleni-broker");
    if (echo_path)
        snprintf(setup.echo_path, sizeof setup.echo_path, "%s", echo_path);
    else
        s_sibling(setup.echo_path, sizeof setup.echo_path, setup.self_path, "foleni-echo");
    if (access(setup.broker_path, X_OK) != 0 || access(setup.echo_path, X_OK) != 0) {
        fprintf(stderr, "foleni-bench-broker: need %s and %s (run make)\n", setup.broker_path, setup.echo_path);
        return 1;
    }
    setup.window = (unsigned) window;
    setup.echo_tag = echo_tag;

    /* plain sockets everywhere; our own signal handling; a bound on the whole run */
    unsetenv("FOLENI_CURVE_CERT");
    unsetenv("FOLENI_CURVE_SERVER");
    unsetenv("FOLENI_BROKER_CERT");
    unsetenv("FOLENI_BROKER_CLIENTS");
    zsys_handler_set(NULL);
    atexit(s_atexit);
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    signal(SIGALRM, s_on_signal);
    size_t nconfigs = only ? 1 : BENCH_CONFIGS;
    double per_config = MODES * (warmup + seconds + BENCH_DRAIN_MS / 1000.0 + 2) * 1.5 + BENCH_BUSY_PAUSE_MS / 1000.0;
    double budget = 60 + (double) nconfigs * (double) (busy_retries + 1) * per_config;
    alarm((unsigned) budget);

    int rc = 1;
    void *ctx = zmq_ctx_new();
    run_t *run = calloc(1, sizeof *run);
    uint32_t *hist = calloc(BENCH_HIST_US + 1, sizeof *hist);
    if (!ctx || !run || !hist)
        goto done;
    run->hist = hist;
    run->size = (size_t) size;
    run->event_loop = event_loop;
    memset(run->payload, 'x', sizeof run->payload);
    if (s_start_all(&setup) != 0) {
        fprintf(stderr, "foleni-bench-broker: could not start the servers\n");
        goto done;
    }
    printf("foleni-bench-broker: %.1f s per run after %.1f s warm-up, %ld-byte payload, worker window %u, "
           "echo %s, %ld cores\n", seconds, warmup, size, setup.window, echo_tag ? "with its tag frame" : "--bare",
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("  direct %s | relay %s | broker %s\n", setup.direct_ep, setup.relay_ep, setup.broker_ep);
    printf("  cpu µs/rt: CPU time per round trip of the client, the middle (relay or broker) and the end\n"
           "  (echo server or worker); cores: those three together; other: cores busy with anything else\n\n");
    printf("%-9s %6s  %-7s %9s %8s %8s   %5s %5s %5s   %4s %5s   %5s %5s\n", "sockets", "flight", "path", "rt/s",
           "p50 µs", "p99 µs", "cli", "mid", "end", "cores", "other", "/dir", "/rel");

    bool all_ok = true;
    result_t results[BENCH_CONFIGS][MODES];
    memset(results, 0, sizeof results);
    for (size_t ci = 0; ci < BENCH_CONFIGS; ci++) {
        if (only && (long) ci + 1 != only)
            continue;
        const config_t *c = &s_configs[ci];
        for (long attempt = 0; attempt <= busy_retries; attempt++) {
            if (attempt > 0) {
                printf("(other work kept up to %.2f cores busy: measuring %d x %d again, %ld of %ld)\n",
                       s_max_other(results[ci]), c->sockets, c->per_socket, attempt, busy_retries);
                fflush(stdout);
                zclock_sleep(BENCH_BUSY_PAUSE_MS);
            }
            if (s_run_config(run, c, &setup, ctx, warmup, seconds, results[ci]) != 0)
                goto done;
            if (s_max_other(results[ci]) <= BENCH_OTHER_MAX)
                break;
        }
        for (int m = 0; m < MODES; m++) {
            all_ok = all_ok && results[ci][m].ok;
            s_print_row(c, (bench_mode_t) m, &results[ci][m], results[ci]);
        }
    }
    printf("\n");
    for (size_t ci = 0; ci < BENCH_CONFIGS; ci++)
        if (!only || (long) ci + 1 == only)
            s_print_machine(&s_configs[ci], results[ci]);
    double other = 0;
    for (size_t ci = 0; ci < BENCH_CONFIGS; ci++) {
        const config_t *c = &s_configs[ci];
        if (only && (long) ci + 1 != only)
            continue;
        other = s_max_other(results[ci]) > other ? s_max_other(results[ci]) : other;
        if (c->sockets * c->per_socket != 64)
            continue;
        double ratio = s_ratio(&results[ci][MODE_BROKER], &results[ci][MODE_RELAY]);
        printf("aim (64 in flight, %d socket%s): broker %.2f x relay — %s 0.8 x\n", c->sockets,
               c->sockets > 1 ? "s" : "", ratio, ratio >= 0.8 ? "meets" : "below");
    }
    if (other > BENCH_OTHER_MAX)
        printf("warning: other work kept up to %.2f cores busy during a run; these figures are low\n", other);
    rc = all_ok ? 0 : 1;
done:
    if (run)
        s_close_clients(run);
    s_kill_children(false);
    if (ctx)
        zmq_ctx_term(ctx);
    free(hist);
    free(run);
    return rc;
}
