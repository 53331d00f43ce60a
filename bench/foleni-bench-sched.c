/*  foleni-bench-sched — durable bookings per second through the broker and the
 *  scheduler, with group commit and with one commit per request, in one run.
 *
 *    make && build/bin/foleni-bench-sched [--seconds S] [--runs N] ...
 *
 *  For each run and each commit mode it starts the real programs that sit
 *  next to this one (build/bin/foleni-broker, build/bin/foleni-scheduler) on
 *  free loopback ports, with a generated configuration that has room for
 *  every booking (several offices and services, capacity 1000 per slot, open
 *  00:00-24:00 every day, booking_days_ahead 365) and a fixed --clock, on a
 *  fresh store in a temporary directory on a real disk (tmpfs is refused:
 *  fsync must cost what it costs).  Then, for 1, 16, 64 and 256 requests in
 *  flight, a booking rush: libfoleni clients (fl_client_send/fl_client_recv)
 *  keep that many `book` requests of distinct citizens in flight for a
 *  warm-up and a measured window, and count the replies that arrive in the
 *  window and their latency.  Every reply must be a `booking`; anything else
 *  is counted as an error.  The modes: the scheduler as started normally
 *  (group commit: every waiting request in one durable transaction), and with
 *  --no-group-commit (one durable transaction per request).  After each
 *  mode the scheduler is stopped and `foleni-store --data DIR check` must
 *  report 0 problems.
 *
 *  With --floor (or --only floor) it also measures the floor: the same rush
 *  against a worker of its own (this program run with --floor-worker) that
 *  does the least a durable booking worker can do, so that the scheduler's
 *  figures can be read as a ratio of what this machine allows.
 *
 *  It also reads, from a read-only view of the store, how many transactions
 *  the scheduler committed in the window (so bookings per commit), the CPU
 *  time of the client, broker and scheduler, and the machine's I/O wait, and
 *  measures the disk's fdatasync rate first, as the ceiling one commit per
 *  request runs into.
 *
 *  Bounded: every child gets PR_SET_PDEATHSIG and is killed at exit and on
 *  SIGINT/SIGTERM; an alarm bounds the whole run; a configuration that gets no
 *  reply for BS_STALL_MS fails instead of waiting.  A benchmark, not a test:
 *  `make check` does not run it.  docs/benchmarks.md ("Scheduler") has the
 *  method and the figures.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include <zmq.h>

#include "bench/benchproc.h"
#include "libfoleni/client.h"
#include "libfoleni/error.h"
#include "libfoleni/ids.h"
#include "libfoleni/msg.h"
#include "libfoleni/worker.h"
#include "store/store.h"

#define BS_SOCKETS_MAX    16            /* client sockets in one configuration */
#define BS_INFLIGHT_MAX   1024          /* requests in flight, all sockets */
#define BS_LEVELS_MAX     8             /* in-flight levels in one run */
#define BS_RUNS_MAX       9
#define BS_RING           65536         /* send times by request number (> in flight) */
#define BS_STALL_MS       5000          /* no reply for this long: the configuration failed */
#define BS_DRAIN_MS       15000         /* wait for the last replies after a window */
#define BS_STARTUP_MS     20000         /* the broker and scheduler to answer */
#define BS_STOP_MS        10000         /* SIGTERM, then SIGKILL */
#define BS_CHECK_MS       300000        /* foleni-store check */
#define BS_PUMP_MS        100
#define BS_CLIENT_TIMEOUT 20000         /* per request; no retries */
#define BS_SERVICE        "foleni.scheduler"
#define BS_CLOCK          INT64_C(1796104800)   /* Tue 2026-12-01 06:00 UTC, 09:00 in Nairobi */
#define BS_SLOT_MINUTES   5
#define BS_CAPACITY       1000
#define BS_PER_SLOT       500           /* bookings put in one slot (half its capacity) */
#define BS_ERRKINDS       8

/* ---- small helpers ---------------------------------------------------------- */

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    double tmp[BS_RUNS_MAX];
    memcpy(tmp, v, sizeof(double) * (size_t) n);
    qsort(tmp, (size_t) n, sizeof tmp[0], s_cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* ---- child processes -------------------------------------------------------- */

/* Append got bytes to out (n used, cap with the terminating zero), keeping
 * only the last cap - 1 bytes. */
static void
s_keep_tail(char *out, size_t cap, size_t *n, const char *buf, size_t got)
{
    size_t room = cap - 1;
    if (got >= room) {
        memcpy(out, buf + got - room, room);
        *n = room;
        return;
    }
    if (*n + got > room) {
        size_t drop = *n + got - room;
        memmove(out, out + drop, *n - drop);
        *n -= drop;
    }
    memcpy(out + *n, buf, got);
    *n += got;
}

/*  Run argv to completion within timeout_ms with the end of its stdout (and
 *  stderr) captured into out: its last cap - 1 bytes.  Returns its exit
 *  status, or -1. */
static int
s_run_capture(char *const argv[], char *out, size_t cap, int timeout_ms)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(fds[1], STDOUT_FILENO) < 0 || dup2(fds[1], STDERR_FILENO) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    size_t n = 0;
    int status = -1;
    int64_t until = bp_now_ms() + timeout_ms;
    char buf[4096];
    ssize_t got;
    while (true) {
        /* read all it writes, keeping the end: a store with many problems
         * prints a line for each, and a pipe left full would stop it */
        while ((got = read(fds[0], buf, sizeof buf)) > 0)
            s_keep_tail(out, cap, &n, buf, (size_t) got);
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            while ((got = read(fds[0], buf, sizeof buf)) > 0)
                s_keep_tail(out, cap, &n, buf, (size_t) got);
            break;
        }
        if (bp_now_ms() >= until) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            status = -1;
            break;
        }
        usleep(20000);
    }
    close(fds[0]);
    out[n] = '\0';
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*  CPU time (user + system, all threads) of a process in µs; ours for 0. */
static int64_t
s_cpu_us(pid_t pid)
{
    if (pid == 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) != 0)
            return -1;
        return (int64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec
             + ru.ru_stime.tv_usec;
    }
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t) ((utime + stime) * 1000000ULL / (unsigned long long) (hz > 0 ? hz : 100));
}

/*  The machine's busy and iowait CPU time in µs (summed over cores). */
static int
s_machine_us(int64_t *busy, int64_t *iowait)
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
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long k = 1000000ULL / (unsigned long long) (hz > 0 ? hz : 100);
    *busy = (int64_t) ((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * k);
    *iowait = (int64_t) (v[4] * k);
    return 0;
}

/* ---- the filesystem --------------------------------------------------------- */

static const char *
s_fs_name(long type)
{
    switch ((unsigned long) type) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x858458F6: return "ramfs";
    case 0x794C7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    case 0xF2F52010: return "f2fs";
    case 0x6969: return "nfs";
    case 0x65735546: return "fuse";
    default: return "other";
    }
}

/*  The device and mount point of path, from /proc/self/mountinfo (longest match). */
static void
s_mount_of(const char *path, char *dev, size_t dcap, char *mnt, size_t mcap)
{
    snprintf(dev, dcap, "?");
    snprintf(mnt, mcap, "?");
    char real[PATH_MAX];
    if (!realpath(path, real))
        return;
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return;
    char line[4096];
    size_t best = 0;
    while (fgets(line, sizeof line, f)) {
        char point[PATH_MAX], source[PATH_MAX];
        /* id parent major:minor root mount-point options ... - fstype source superopts */
        if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
            continue;
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(dash + 3, "%*s %4095s", source) != 1)
            continue;
        size_t len = strlen(point);
        bool under = !strcmp(point, "/") || (!strncmp(real, point, len) && (real[len] == '/' || !real[len]));
        if (under && len >= best) {
            best = len;
            snprintf(dev, dcap, "%s", source);
            snprintf(mnt, mcap, "%s", point);
        }
    }
    fclose(f);
}

/*  fdatasync of a 256-byte write, as many as fit in ms: syncs per second and
 *  the median, in the directory the stores live in. */
static void
s_fsync_probe(const char *dir, int ms, double *per_s, double *p50_us)
{
    *per_s = *p50_us = 0;
    char path[PATH_MAX];
    if (bp_path(path, sizeof path, "%s/fsync-probe", dir) != 0)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    static uint32_t lat[200000];
    size_t n = 0;
    char buf[256];
    memset(buf, 'x', sizeof buf);
    int64_t start = bp_now_ns(), until = start + (int64_t) ms * 1000000;
    while (n < sizeof lat / sizeof lat[0]) {
        int64_t t0 = bp_now_ns();
        if (t0 >= until)
            break;
        if (pwrite(fd, buf, sizeof buf, (off_t) (n % 16) * 4096) != (ssize_t) sizeof buf || fdatasync(fd) != 0)
            break;
        lat[n++] = (uint32_t) ((bp_now_ns() - t0) / 1000);
    }
    double secs = (double) (bp_now_ns() - start) / 1e9;
    close(fd);
    unlink(path);
    if (!n)
        return;
    qsort(lat, n, sizeof lat[0], s_cmp_u32);
    *per_s = (double) n / secs;
    *p50_us = lat[n / 2];
}

/* ---- the floor: the least a durable booking worker can do ---------------------- */

/*  What any scheduler behind this broker could reach on this machine: the
 *  same worker library, window and receive loop as foleni-scheduler, and for
 *  each batch one durable store transaction that puts every booking's body
 *  under its request id (sequential here, so the pages written are as few as
 *  they can be), then a `booking` reply built from the request with a fresh
 *  random reference.  No capacity, no citizen index, no event.  Runs as
 *  `foleni-bench-sched --floor-worker ENDPOINT DATA WINDOW` (a child of the
 *  benchmark, stopped by SIGTERM). */

typedef struct {
    fl_request_t **reqs;
    size_t n;
} floor_batch_t;

static int
s_floor_put(store_txn_t *txn, void *arg)
{
    floor_batch_t *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        store_key_t key = { 0 };
        size_t len = strlen(b->reqs[i]->rid);
        if (len > sizeof key.b)
            return -1;
        memcpy(key.b, b->reqs[i]->rid, len);
        key.len = len;
        int rc = store_put(txn, STORE_DB_IDEM, &key, b->reqs[i]->parts[0].data, b->reqs[i]->parts[0].size);
        if (rc)
            return rc;
    }
    return 0;
}

/*  The reply to one request: a booking that repeats it, or an (empty)
 *  office list for the benchmark's readiness probe. */
static int
s_floor_reply(const fl_request_t *req, msgpack_sbuffer *out)
{
    fl_msg_t *in = fl_msg_decode(req->parts[0].data, req->parts[0].size, NULL);
    if (!in)
        return -1;
    fl_msg_t *m = NULL;
    int rc = -1;
    if (fl_msg_type(in) == FL_T_LIST_OFFICES) {
        if ((m = fl_msg_new(FL_T_OFFICE_LIST))) {
            fl_msg_set_empty(m, FL_F_OFFICES);
            rc = 0;
        }
    } else if (fl_msg_type(in) == FL_T_BOOK && (m = fl_msg_new(FL_T_BOOKING))) {
        uint64_t start = fl_msg_uint(in, FL_F_START);
        const char *office = fl_msg_str(in, FL_F_OFFICE), *service = fl_msg_str(in, FL_F_SERVICE);
        const char *name = fl_msg_str(in, FL_F_NAME), *phone = fl_msg_str(in, FL_F_PHONE);
        char ref[FL_REF_LEN + 1];
        rc = fl_ref_new(ref) | fl_msg_set_str(m, FL_F_REF, ref) | fl_msg_set_str(m, FL_F_OFFICE, office ? office : "")
           | fl_msg_set_str(m, FL_F_SERVICE, service ? service : "") | fl_msg_set_uint(m, FL_F_START, start)
           | fl_msg_set_uint(m, FL_F_END, start + 60 * BS_SLOT_MINUTES) | fl_msg_set_str(m, FL_F_STATE, "booked")
           | fl_msg_set_str(m, FL_F_NAME, name ? name : "");
        if (rc == 0 && phone)
            rc = fl_msg_set_str(m, FL_F_PHONE, phone);
        if (rc)
            fprintf(stderr, "floor worker: cannot build a booking for %s (%d)\n", req->rid, rc);
    }
    msgpack_sbuffer_clear(out);
    if (rc == 0)
        rc = fl_msg_encode(m, out, NULL);
    fl_msg_destroy(&m);
    fl_msg_destroy(&in);
    return rc;
}

static void
s_floor_stop(int sig)
{
    (void) sig;
    zsys_interrupted = 1;
}

static int
s_floor_worker(const char *endpoint, const char *data, unsigned window)
{
    fl_error_t err;
    store_t *store = store_open(data, NULL, &err);
    if (!store) {
        fprintf(stderr, "floor worker: %s\n", err.message);
        return 1;
    }
    fl_worker_options_t wopts = { .window = window };
    fl_worker_t *worker = fl_worker_new(endpoint, BS_SERVICE, NULL, &wopts, &err);
    if (!worker) {
        fprintf(stderr, "floor worker: %s\n", err.message);
        store_destroy(&store);
        return 1;
    }
    fl_request_t *reqs[1024];
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    int status = 0;
    while (!zsys_interrupted) {
        fl_request_t *first;
        int rc = fl_worker_recv(worker, &first, 500);
        if (rc == FL_E_TIMEOUT)
            continue;
        if (rc)
            break;
        size_t n = 0;
        reqs[n++] = first;
        while (n < window && n < 1024 && fl_worker_recv(worker, &reqs[n], 0) == 0)
            n++;
        floor_batch_t b = { reqs, n };
        if (store_write(store, s_floor_put, &b, &err) != 0) {
            fprintf(stderr, "floor worker: %s\n", err.message);
            status = 1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (s_floor_reply(reqs[i], &out) == 0)
                fl_worker_reply_one(worker, &reqs[i], out.data, out.size);
            else
                fl_request_destroy(&reqs[i]);
        }
    }
    msgpack_sbuffer_destroy(&out);
    fl_worker_destroy(&worker);
    store_destroy(&store);
    return status;
}

/* ---- options ---------------------------------------------------------------- */

typedef enum { MODE_GROUP, MODE_SINGLE, MODE_FLOOR, MODES } mode_t_;

static const char *s_mode_names[MODES] = { "group commit", "commit per request", "floor: one put" };
static const char *s_mode_keys[MODES] = { "group", "single", "floor" };

typedef struct {
    double seconds, warmup;
    int runs;
    int levels[BS_LEVELS_MAX];
    int nlevels;
    int sockets_max;
    int offices, services;
    unsigned window;
    bool modes[MODES];
    const char *base;
    bool allow_tmpfs;
    int fsync_ms;
    int busy_retries;               /* measure a configuration again when others kept the machine busy */
    double busy_limit;              /* cores busy elsewhere that spoil a measurement */
    char self_dir[PATH_MAX];
    char self[PATH_MAX], broker[PATH_MAX], scheduler[PATH_MAX], store_tool[PATH_MAX];
} opts_t;

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-bench-sched [options]\n"
        "\n"
        "Bookings per second and latency through foleni-broker and foleni-scheduler,\n"
        "with group commit and with one commit per request, in one run.\n"
        "\n"
        "  --seconds S      measured window per configuration [3]\n"
        "  --warmup S       requests in flight before the window opens [1]\n"
        "  --runs N         repeat everything N times, report medians (1..%d) [3]\n"
        "  --inflight LIST  requests in flight, comma-separated [1,16,64,256]\n"
        "  --sockets N      client sockets at most (in flight is split over them) [4]\n"
        "  --offices N      offices in the generated configuration [4]\n"
        "  --services N     services per office (1..26) [8]\n"
        "  --window N       the scheduler's --window [256]\n"
        "  --only MODE      group, single or floor (default: group and single)\n"
        "  --floor          also measure the floor: the broker and a worker that only\n"
        "                   decodes each booking, puts it in the store with group commit\n"
        "                   and replies (what any scheduler could reach here)\n"
        "  --dir DIR        where the temporary stores go [$TMPDIR, /tmp]\n"
        "  --allow-tmpfs    measure on tmpfs anyway (fsync then costs nothing)\n"
        "  --fsync-ms N     how long to probe the disk's fdatasync rate before each run, 0 none [500]\n"
        "  --busy-retries N measure a configuration again, up to N times, while more than\n"
        "                   --busy-limit cores were busy with other programs [3]\n"
        "  --busy-limit C   [0.25]\n"
        "  --keep           keep the stores and logs\n"

        "  -h, --help\n", BS_RUNS_MAX);
}

static int
s_parse_levels(const char *text, opts_t *o)
{
    o->nlevels = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int v = atoi(tok);
        if (v < 1 || v > BS_INFLIGHT_MAX || o->nlevels == BS_LEVELS_MAX)
            return -1;
        o->levels[o->nlevels++] = v;
    }
    return o->nlevels ? 0 : -1;
}

static int
s_parse(int argc, char **argv, opts_t *o)
{
    *o = (opts_t) { .seconds = 3, .warmup = 1, .runs = 3, .sockets_max = 4, .offices = 4, .services = 8,
                    .window = 256, .modes = { true, true, false }, .fsync_ms = 500, .busy_retries = 3,
                    .busy_limit = 0.25 };
    s_parse_levels("1,16,64,256", o);
    enum { OPT_SECONDS = 256, OPT_WARMUP, OPT_RUNS, OPT_INFLIGHT, OPT_SOCKETS, OPT_OFFICES, OPT_SERVICES, OPT_WINDOW, OPT_ONLY,
           OPT_DIR, OPT_TMPFS, OPT_FSYNC, OPT_KEEP, OPT_RETRIES, OPT_LIMIT, OPT_FLOOR };
    static const struct option longopts[] = {
        { "seconds", required_argument, NULL, OPT_SECONDS }, { "warmup", required_argument, NULL, OPT_WARMUP },
        { "runs", required_argument, NULL, OPT_RUNS }, { "inflight", required_argument, NULL, OPT_INFLIGHT },
        { "sockets", required_argument, NULL, OPT_SOCKETS }, { "offices", required_argument, NULL, OPT_OFFICES },
        { "services", required_argument, NULL, OPT_SERVICES }, { "window", required_argument, NULL, OPT_WINDOW },
        { "only", required_argument, NULL, OPT_ONLY }, { "dir", required_argument, NULL, OPT_DIR },
        { "allow-tmpfs", no_argument, NULL, OPT_TMPFS }, { "fsync-ms", required_argument, NULL, OPT_FSYNC },
        { "keep", no_argument, NULL, OPT_KEEP }, { "busy-retries", required_argument, NULL, OPT_RETRIES },
        { "busy-limit", required_argument, NULL, OPT_LIMIT }, { "floor", no_argument, NULL, OPT_FLOOR },
        { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_SECONDS: o->seconds = atof(optarg); break;
        case OPT_WARMUP: o->warmup = atof(optarg); break;
        case OPT_RUNS: o->runs = atoi(optarg); break;
        case OPT_INFLIGHT:
            if (s_parse_levels(optarg, o) != 0) {
                fprintf(stderr, "foleni-bench-sched: --inflight: 1..%d, at most %d values\n", BS_INFLIGHT_MAX,
                        BS_LEVELS_MAX);
                return 2;
            }
            break;
        case OPT_SOCKETS: o->sockets_max = atoi(optarg); break;
        case OPT_OFFICES: o->offices = atoi(optarg); break;
        case OPT_SERVICES: o->services = atoi(optarg); break;
        case OPT_WINDOW: o->window = (unsigned) atoi(optarg); break;
        case OPT_ONLY:
            for (int m = 0; m < MODES; m++)
                o->modes[m] = !strcmp(optarg, s_mode_keys[m]);
            if (!o->modes[MODE_GROUP] && !o->modes[MODE_SINGLE] && !o->modes[MODE_FLOOR]) {
                fprintf(stderr, "foleni-bench-sched: --only group, single or floor\n");
                return 2;
            }
            break;
        case OPT_FLOOR: o->modes[MODE_FLOOR] = true; break;
        case OPT_DIR: o->base = optarg; break;
        case OPT_TMPFS: o->allow_tmpfs = true; break;
        case OPT_FSYNC: o->fsync_ms = atoi(optarg); break;
        case OPT_KEEP: bp_keep = true; break;
        case OPT_RETRIES: o->busy_retries = atoi(optarg); break;
        case OPT_LIMIT: o->busy_limit = atof(optarg); break;
        case 'h': s_usage(stdout); exit(0);
        default: s_usage(stderr); return 2;
        }
    }
    if (optind != argc || o->seconds <= 0 || o->seconds > 600 || o->warmup < 0 || o->warmup > 60
        || o->runs < 1 || o->runs > BS_RUNS_MAX || o->sockets_max < 1 || o->sockets_max > BS_SOCKETS_MAX
        || o->offices < 1 || o->offices > 99 || o->services < 1 || o->services > 26 || o->window < 1
        || o->window > 1024 || o->fsync_ms < 0 || o->fsync_ms > 10000 || o->busy_retries < 0
        || o->busy_retries > 10 || o->busy_limit <= 0) {
        s_usage(stderr);
        return 2;
    }
    return 0;
}

/* ---- the stack: broker + scheduler on a fresh store --------------------------- */

typedef struct {
    char dir[PATH_MAX];             /* this mode's temporary directory */
    char config[PATH_MAX], data[PATH_MAX], secret[PATH_MAX], log[PATH_MAX];
    char endpoint[64], publish[64], subscribe[64];
    pid_t broker, scheduler;        /* scheduler: the floor worker in MODE_FLOOR */
    mode_t_ mode;
    store_t *view;                  /* read-only, for the commit count */
} stack_t_;

static int
s_write_config(const opts_t *o, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"version\":1,\"booking_days_ahead\":365,\"offices\":[");
    static const char *days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
    for (int i = 0; i < o->offices; i++) {
        fprintf(f, "%s{\"code\":\"BENCH%02d\",\"name\":{\"en\":\"Bench office %c\"},\"hours\":{", i ? "," : "", i,
                'A' + i % 26);
        for (int d = 0; d < 7; d++)
            fprintf(f, "%s\"%s\":[\"00:00\",\"24:00\"]", d ? "," : "", days[d]);
        fprintf(f, "},\"services\":[");
        for (int s = 0; s < o->services; s++)
            fprintf(f, "%s{\"code\":\"SVC%02d\",\"prefix\":\"%c\",\"name\":{\"en\":\"Service %c\"},"
                       "\"slot_minutes\":%d,\"capacity\":%d,\"service_minutes\":5}",
                    s ? "," : "", s, 'A' + s, 'A' + s, BS_SLOT_MINUTES, BS_CAPACITY);
        fprintf(f, "],\"counters\":[{\"number\":1,\"services\":[");
        for (int s = 0; s < o->services; s++)
            fprintf(f, "%s\"SVC%02d\"", s ? "," : "", s);
        fprintf(f, "]}]}");
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/*  Ask list_offices until the scheduler answers (through the broker). */
static int
s_wait_ready(stack_t_ *st, int timeout_ms)
{
    fl_client_options_t co = { .timeout_ms = 300, .retries = 0, .max_outstanding = 16 };
    fl_client_t *c = fl_client_new(st->endpoint, NULL, &co, NULL);
    if (!c)
        return -1;
    fl_msg_t *m = fl_msg_new(FL_T_LIST_OFFICES);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = m && fl_msg_encode(m, &buf, NULL) == 0 ? -1 : -2;
    fl_msg_destroy(&m);
    int64_t until = bp_now_ms() + timeout_ms;
    while (rc == -1 && bp_now_ms() < until && bp_alive(st->broker) && bp_alive(st->scheduler)) {
        fl_reply_t reply;
        if (fl_client_call(c, BS_SERVICE, buf.data, buf.size, &reply, NULL) == 0) {
            const fl_part_t *f = reply.nparts ? &reply.parts[0] : NULL;
            fl_msg_t *r = f ? fl_msg_decode(f->data, f->size, NULL) : NULL;
            if (r && fl_msg_type(r) == FL_T_OFFICE_LIST)
                rc = 0;
            fl_msg_destroy(&r);
            fl_reply_reset(&reply);
        } else
            zclock_sleep(50);
    }
    msgpack_sbuffer_destroy(&buf);
    fl_client_destroy(&c);
    return rc == 0 ? 0 : -1;
}

/*  Print the last lines of a log (what a child said before it failed). */
static void
s_show_log(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    static char buf[8192];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long) sizeof buf - 1 ? size - (long) sizeof buf + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    fprintf(stderr, "---- %s (end) ----\n%s---- end of log ----\n", path, buf);
}

static int
s_stack_start(const opts_t *o, const char *root, int run, mode_t_ mode, stack_t_ *st)
{
    memset(st, 0, sizeof *st);
    if (bp_path(st->dir, sizeof st->dir, "%s/run%d-%s", root, run + 1, s_mode_keys[mode]) != 0
        || mkdir(st->dir, 0700) != 0 || bp_path(st->config, sizeof st->config, "%s/config.json", st->dir) != 0
        || bp_path(st->data, sizeof st->data, "%s/data", st->dir) != 0
        || bp_path(st->secret, sizeof st->secret, "%s/secret", st->dir) != 0
        || bp_path(st->log, sizeof st->log, "%s/stack.log", st->dir) != 0)
        return -1;
    st->mode = mode;
    if (s_write_config(o, st->config) != 0)
        return -1;
    char clock[32], window[16];
    snprintf(clock, sizeof clock, "%lld", (long long) BS_CLOCK);
    snprintf(window, sizeof window, "%u", o->window);
    /* a port picked free may be taken again before the broker binds it: fresh
     * ports and a fresh store on each of a few tries */
    for (int attempt = 0; attempt < 3; attempt++) {
        int ports[3];
        for (int i = 0; i < 3; i++) {
            do
                ports[i] = bp_free_port();
            while (ports[i] > 0 && ((i > 0 && ports[i] == ports[0]) || (i > 1 && ports[i] == ports[1])));
            if (ports[i] <= 0)
                return -1;
        }
        snprintf(st->endpoint, sizeof st->endpoint, "tcp://127.0.0.1:%d", ports[0]);
        snprintf(st->publish, sizeof st->publish, "tcp://127.0.0.1:%d", ports[1]);
        snprintf(st->subscribe, sizeof st->subscribe, "tcp://127.0.0.1:%d", ports[2]);
        /* default heartbeats (2.5 s x 3): the scheduler cannot send one during a
         * commit, and a disk busy with other work can stall a commit for seconds */
        char *bargv[] = { (char *) o->broker, "-e", st->endpoint, "-p", st->publish, "-s", st->subscribe,
                          "--log-level", "warn", "--stats-interval", "0", NULL };
        st->broker = bp_spawn(bargv, st->log);
        char *fargv[] = { (char *) o->self, "--floor-worker", st->endpoint, st->data, window, NULL };
        char *sargv[] = { (char *) o->scheduler, "-c", st->config, "-d", st->data, "-e", st->endpoint,
                          "-p", st->publish, "--secret-file", st->secret, "--create-secret", "--clock", clock,
                          "--window", window, "--log-level", "warn",
                          mode == MODE_SINGLE ? "--no-group-commit" : NULL, NULL };
        st->scheduler = bp_spawn(mode == MODE_FLOOR ? fargv : sargv, st->log);
        if (st->broker > 0 && st->scheduler > 0 && s_wait_ready(st, BS_STARTUP_MS) == 0)
            break;
        fprintf(stderr, "foleni-bench-sched: the broker and scheduler did not come up (try %d)\n", attempt + 1);
        s_show_log(st->log);
        bp_stop(st->scheduler, SIGKILL, 1000);
        bp_stop(st->broker, SIGKILL, 1000);
        st->scheduler = st->broker = 0;
        if (attempt == 2)
            return -1;
        bp_rmtree(st->data);
    }
    store_options_t so = { .read_only = true };
    fl_error_t err;
    if (!(st->view = store_open(st->data, &so, &err)))
        fprintf(stderr, "foleni-bench-sched: no read-only view of the store (%s); no commit counts\n",
                err.message);
    return 0;
}

/*  The id of the last committed transaction, or 0. */
static uint64_t
s_last_txn(stack_t_ *st)
{
    store_stat_t ss;
    if (!st->view || store_stat(st->view, &ss, NULL) != 0)
        return 0;
    return ss.last_txn;
}

/*  Stop the scheduler, check the store, stop the broker.  Returns the number
 *  of problems the check found (0), or -1 when the check did not run. */
static long
s_stack_stop(const opts_t *o, stack_t_ *st, char *summary, size_t cap)
{
    store_destroy(&st->view);
    int sst = bp_stop(st->scheduler, SIGTERM, BS_STOP_MS);
    st->scheduler = 0;
    bp_stop(st->broker, SIGTERM, BS_STOP_MS);
    st->broker = 0;
    snprintf(summary, cap, "check did not run");
    if (sst < 0)
        fprintf(stderr, "foleni-bench-sched: the scheduler had to be killed\n");
    if (st->mode == MODE_FLOOR) {           /* its records are not the scheduler's */
        snprintf(summary, cap, "check skipped (the floor worker's store)");
        return sst < 0 ? -1 : 0;
    }
    char out[4096];
    char *argv[] = { (char *) o->store_tool, "--data", st->data, "check", NULL };
    int rc = s_run_capture(argv, out, sizeof out, BS_CHECK_MS);
    char *line = strstr(out, "check: ");
    long problems = -1;
    if (line && sscanf(line, "check: %ld problem", &problems) == 1 && rc >= 0) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        snprintf(summary, cap, "%s", line);
    } else {
        fprintf(stderr, "foleni-bench-sched: foleni-store check (exit %d) said:\n%s\n", rc, out);
        return -1;
    }
    if (problems != 0 || rc != 0)
        fprintf(stderr, "foleni-bench-sched: foleni-store check (exit %d) said:\n%s\n", rc, out);
    return problems;
}

/* ---- the rush ---------------------------------------------------------------- */

typedef struct {
    bool ok;
    int inflight, sockets;
    uint64_t replies;               /* bookings confirmed in the window */
    uint64_t total;                 /* replies of the whole configuration, window or not */
    uint64_t errors;                /* replies that were not `booking`, and timeouts */
    double rps, p50_ms, p99_ms, max_ms;
    double per_commit;              /* bookings per committed transaction in the window */
    double cpu_us[3];               /* client, broker, scheduler: µs per booking */
    double cores;                   /* those three, cores busy on average */
    double iowait;                  /* machine I/O wait, cores on average */
    double other;                   /* cores busy with anything else */
} result_t;

typedef struct {
    fl_client_t *c[BS_SOCKETS_MAX];
    int sockets, per_socket;
    int outstanding[BS_SOCKETS_MAX];
    bool sending;
    uint64_t next;                  /* the instance's next booking number (citizen) */
    int64_t sent_ns[BS_RING];
    int64_t from_ns, until_ns, last_progress_ms;
    uint32_t *lat;                  /* µs, replies in the window */
    size_t nlat, lat_cap;
    uint64_t replies, total, errors;
    char errkind[BS_ERRKINDS][48];
    uint64_t errcount[BS_ERRKINDS];
    int offices, services;
    int64_t first_slot;
    msgpack_sbuffer buf;
} rush_t;

static const char *s_first[] = { "Amina", "Wanjiru", "Otieno", "Achieng", "Kamau", "Njeri", "Mwangi", "Atieno",
                                 "Kiprono", "Chebet", "Mutua", "Wambui", "Omondi", "Nyambura", "Kibet", "Auma" };
static const char *s_last[] = { "Wanjiku", "Odhiambo", "Kariuki", "Mohamed", "Ochieng", "Mutiso", "Kiptoo",
                                "Njoroge", "Onyango", "Wafula", "Barasa", "Cheruiyot", "Maina", "Akinyi",
                                "Juma", "Ndirangu" };

/*  Send booking number rush->next on socket sock. */
static int
s_send(rush_t *r, int sock)
{
    uint64_t i = r->next++;                 /* request ids are unique in the store's life */
    uint64_t n = i;
    int svc = (int) (i % (uint64_t) (r->offices * r->services));
    uint64_t j = i / (uint64_t) (r->offices * r->services);
    char office[16], service[16], rid[32], name[64], id[16], phone[20];
    snprintf(office, sizeof office, "BENCH%02d", svc / r->services);
    snprintf(service, sizeof service, "SVC%02d", svc % r->services);
    snprintf(rid, sizeof rid, "b%015llx", (unsigned long long) n);
    snprintf(name, sizeof name, "%s %s", s_first[i % 16], s_last[(i / 16) % 16]);
    snprintf(id, sizeof id, "%llu", (unsigned long long) (i + 1));
    snprintf(phone, sizeof phone, "+2547%08llu", (unsigned long long) (i % 100000000));
    fl_msg_t *m = fl_msg_new(FL_T_BOOK);
    if (!m)
        return -1;
    int rc = fl_msg_set_str(m, FL_F_RID, rid) | fl_msg_set_str(m, FL_F_OFFICE, office)
           | fl_msg_set_str(m, FL_F_SERVICE, service)
           | fl_msg_set_uint(m, FL_F_START, (uint64_t) (r->first_slot + (int64_t) (j / BS_PER_SLOT) * 60 * BS_SLOT_MINUTES))
           | fl_msg_set_str(m, FL_F_NAME, name) | fl_msg_set_str(m, FL_F_ID_TYPE, "national")
           | fl_msg_set_str(m, FL_F_ID_NUMBER, id) | fl_msg_set_str(m, FL_F_PHONE, phone);
    msgpack_sbuffer_clear(&r->buf);
    fl_error_t err;
    if (rc == 0)
        rc = fl_msg_encode(m, &r->buf, &err);
    fl_msg_destroy(&m);
    if (rc != 0) {
        fprintf(stderr, "foleni-bench-sched: cannot encode a booking: %s\n", err.message);
        return -1;
    }
    r->sent_ns[n % BS_RING] = bp_now_ns();
    if (fl_client_send(r->c[sock], BS_SERVICE, rid, r->buf.data, r->buf.size) != 0)
        return -1;
    r->outstanding[sock]++;
    return 0;
}

static void
s_count_error(rush_t *r, const char *kind)
{
    r->errors++;
    for (int k = 0; k < BS_ERRKINDS; k++) {
        if (r->errkind[k][0] && strcmp(r->errkind[k], kind) != 0)
            continue;
        if (!r->errkind[k][0])
            snprintf(r->errkind[k], sizeof r->errkind[k], "%s", kind);
        r->errcount[k]++;
        return;
    }
}

static int
s_on_reply(rush_t *r, int sock, fl_reply_t *rep)
{
    int64_t now = bp_now_ns();
    r->outstanding[sock]--;
    r->total++;
    r->last_progress_ms = now / 1000000;
    unsigned long long n = strtoull(rep->rid + 1, NULL, 16);
    int64_t sent = r->sent_ns[n % BS_RING];
    bool ok = false;
    if (rep->status != 0)
        s_count_error(r, "timeout");
    else {
        const fl_part_t *f = rep->nparts ? &rep->parts[0] : NULL;
        fl_msg_t *m = f ? fl_msg_decode(f->data, f->size, NULL) : NULL;
        if (m && fl_msg_type(m) == FL_T_BOOKING)
            ok = true;
        else if (m && fl_msg_type(m) == FL_T_ERROR) {
            char kind[48];
            snprintf(kind, sizeof kind, "error %s", fl_msg_str(m, FL_F_CODE));
            s_count_error(r, kind);
            if (r->errors <= 3)
                fprintf(stderr, "foleni-bench-sched: refused: %s (%s)\n", fl_msg_str(m, FL_F_MESSAGE),
                        fl_msg_has(m, FL_F_FIELD) ? fl_msg_str(m, FL_F_FIELD) : "");
        } else
            s_count_error(r, "undecodable reply");
        fl_msg_destroy(&m);
    }
    fl_reply_reset(rep);
    if (ok && now >= r->from_ns && now < r->until_ns) {
        r->replies++;
        if (r->nlat == r->lat_cap) {
            size_t cap = r->lat_cap ? r->lat_cap * 2 : 65536;
            uint32_t *lat = realloc(r->lat, cap * sizeof *lat);
            if (!lat)
                return -1;
            r->lat = lat;
            r->lat_cap = cap;
        }
        int64_t us = (now - sent) / 1000;
        r->lat[r->nlat++] = (uint32_t) (us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : us);
    }
    return r->sending ? s_send(r, sock) : 0;
}

/*  Take in whatever came back, waiting up to timeout_ms. */
static int
s_pump(rush_t *r, int timeout_ms)
{
    zmq_pollitem_t items[BS_SOCKETS_MAX];
    for (int i = 0; i < r->sockets; i++)
        items[i] = (zmq_pollitem_t) { zsock_resolve(fl_client_socket(r->c[i])), 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll(items, r->sockets, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < r->sockets; i++) {
        if (rc > 0 && !(items[i].revents & ZMQ_POLLIN))
            continue;                   /* when idle, let every client expire its requests */
        fl_reply_t rep = { .held = NULL };
        for (int n = 0; n < 4096 && fl_client_recv(r->c[i], &rep, 0) == 0; n++)
            if (s_on_reply(r, i, &rep) != 0)
                return -1;
    }
    return 0;
}

static int
s_outstanding(const rush_t *r)
{
    int n = 0;
    for (int i = 0; i < r->sockets; i++)
        n += r->outstanding[i];
    return n;
}

/*  One configuration: inflight requests over `sockets` client sockets. */
static void
s_rush(const opts_t *o, stack_t_ *st, rush_t *r, int inflight, result_t *out)
{
    memset(out, 0, sizeof *out);
    int sockets = inflight < o->sockets_max ? inflight : o->sockets_max;
    out->inflight = inflight;
    out->sockets = sockets;
    r->sockets = sockets;
    r->nlat = 0;
    r->replies = r->total = r->errors = 0;
    memset(r->errkind, 0, sizeof r->errkind);
    memset(r->errcount, 0, sizeof r->errcount);
    memset(r->outstanding, 0, sizeof r->outstanding);
    bool failed = false;
    fl_client_options_t co = { .timeout_ms = BS_CLIENT_TIMEOUT, .retries = 0, .max_outstanding = BS_INFLIGHT_MAX };
    for (int i = 0; i < sockets; i++)
        if (!(r->c[i] = fl_client_new(st->endpoint, NULL, &co, NULL)))
            failed = true;
    int64_t start = bp_now_ns();
    r->from_ns = start + (int64_t) (o->warmup * 1e9);
    r->until_ns = r->from_ns + (int64_t) (o->seconds * 1e9);
    r->last_progress_ms = start / 1000000;
    r->sending = true;
    for (int k = 0; k < inflight && !failed; k++)
        failed = s_send(r, k % sockets) != 0;
    pid_t pids[3] = { 0, st->broker, st->scheduler };
    int64_t cpu0[3] = { 0 }, busy0 = 0, io0 = 0;
    uint64_t txn0 = 0;
    bool taken = false;
    while (!failed) {
        int64_t now = bp_now_ns();
        if (!taken && now >= r->from_ns) {
            for (int i = 0; i < 3; i++)
                cpu0[i] = s_cpu_us(pids[i]);
            s_machine_us(&busy0, &io0);
            txn0 = s_last_txn(st);
            taken = true;
        }
        if (now >= r->until_ns)
            break;
        int wait = (int) (((taken ? r->until_ns : r->from_ns) - now) / 1000000) + 1;
        failed = s_pump(r, wait < BS_PUMP_MS ? wait : BS_PUMP_MS) != 0;
        if (now / 1000000 - r->last_progress_ms > BS_STALL_MS) {
            fprintf(stderr, "foleni-bench-sched: no reply for %d ms\n", BS_STALL_MS);
            failed = true;
        }
    }
    if (taken && !failed) {
        uint64_t txn1 = s_last_txn(st);
        double used_total = 0, bookings = (double) (r->replies ? r->replies : 1);
        for (int i = 0; i < 3; i++) {
            int64_t c1 = s_cpu_us(pids[i]);
            double used = cpu0[i] >= 0 && c1 >= 0 ? (double) (c1 - cpu0[i]) : 0;
            out->cpu_us[i] = used / bookings;
            used_total += used;
        }
        int64_t busy1, io1;
        if (s_machine_us(&busy1, &io1) == 0) {
            double other = ((double) (busy1 - busy0) - used_total) / (o->seconds * 1e6);
            out->other = other > 0 ? other : 0;
            out->iowait = (double) (io1 - io0) / (o->seconds * 1e6);
        }
        out->cores = used_total / (o->seconds * 1e6);
        /* only top-level commits that wrote something advance the id (the
         * once-a-second tick writes nothing here: no holds, nothing expires) */
        double commits = txn1 > txn0 ? (double) (txn1 - txn0) : 0;
        out->per_commit = commits > 0 ? (double) r->replies / commits : 0;
    }
    r->sending = false;
    int64_t drain_until = bp_now_ms() + BS_DRAIN_MS;
    while (!failed && s_outstanding(r) > 0 && bp_now_ms() < drain_until)
        failed = s_pump(r, BS_PUMP_MS) != 0;
    if (s_outstanding(r) > 0)
        fprintf(stderr, "foleni-bench-sched: %d replies still missing after the run\n", s_outstanding(r));
    for (int i = 0; i < sockets; i++)
        fl_client_destroy(&r->c[i]);
    out->replies = r->replies;
    out->total = r->total;
    out->errors = r->errors + (uint64_t) s_outstanding(r);
    out->rps = (double) r->replies / o->seconds;
    if (r->nlat) {
        qsort(r->lat, r->nlat, sizeof r->lat[0], s_cmp_u32);
        size_t i50 = (size_t) ceil(0.50 * (double) r->nlat) - 1, i99 = (size_t) ceil(0.99 * (double) r->nlat) - 1;
        out->p50_ms = r->lat[i50] / 1000.0;
        out->p99_ms = r->lat[i99] / 1000.0;
        out->max_ms = r->lat[r->nlat - 1] / 1000.0;
    }
    out->ok = !failed && out->errors == 0 && r->replies > 0;
    for (int k = 0; k < BS_ERRKINDS && r->errkind[k][0]; k++)
        fprintf(stderr, "foleni-bench-sched: %llu x %s\n", (unsigned long long) r->errcount[k], r->errkind[k]);
}

/* ---- output ------------------------------------------------------------------ */

static void
s_print_header(void)
{
    printf("%-19s %4s %4s %9s %8s %8s %8s %7s %6s %6s %6s %5s %5s %5s\n", "mode", "infl", "sock", "bookings/s",
           "p50 ms", "p99 ms", "max ms", "b/commit", "cli", "brk", "sch", "cores", "iow", "other");
}

static void
s_print_row(mode_t_ mode, const result_t *r)
{
    printf("%-19s %4d %4d %9.0f %8.3f %8.3f %8.2f %7.1f %6.1f %6.1f %6.1f %5.2f %5.2f %5.2f%s\n",
           s_mode_names[mode], r->inflight, r->sockets, r->rps, r->p50_ms, r->p99_ms, r->max_ms, r->per_commit,
           r->cpu_us[0], r->cpu_us[1], r->cpu_us[2], r->cores, r->iowait, r->other, r->ok ? "" : "  FAILED");
    fflush(stdout);
}

/* ---- main -------------------------------------------------------------------- */

static int
s_find_programs(opts_t *o)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(o->self, sizeof o->self, "%s", self);
    snprintf(o->self_dir, sizeof o->self_dir, "%s", dirname(self));
    if (bp_path(o->broker, sizeof o->broker, "%s/foleni-broker", o->self_dir) != 0
        || bp_path(o->scheduler, sizeof o->scheduler, "%s/foleni-scheduler", o->self_dir) != 0
        || bp_path(o->store_tool, sizeof o->store_tool, "%s/foleni-store", o->self_dir) != 0)
        return -1;
    const char *need[] = { o->broker, o->scheduler, o->store_tool };
    for (int i = 0; i < 3; i++)
        if (access(need[i], X_OK) != 0) {
            fprintf(stderr, "foleni-bench-sched: %s is missing (run make)\n", need[i]);
            return -1;
        }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--floor-worker")) {
        zsys_handler_set(NULL);
        signal(SIGTERM, s_floor_stop);
        return s_floor_worker(argv[2], argv[3], (unsigned) atoi(argv[4]));
    }
    opts_t o;
    int rc = s_parse(argc, argv, &o);
    if (rc)
        return rc;
    if (s_find_programs(&o) != 0)
        return 1;

    /* where the stores go: a real disk */
    const char *base = o.base ? o.base : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    struct statfs sfs;
    if (statfs(base, &sfs) != 0) {
        fprintf(stderr, "foleni-bench-sched: %s: %s\n", base, strerror(errno));
        return 1;
    }
    const char *fs = s_fs_name(sfs.f_type);
    if ((!strcmp(fs, "tmpfs") || !strcmp(fs, "ramfs")) && !o.allow_tmpfs) {
        fprintf(stderr, "foleni-bench-sched: %s is %s: fsync would cost nothing. Use --dir on a disk "
                        "(e.g. the project's var/) or --allow-tmpfs.\n", base, fs);
        return 2;
    }
    snprintf(bp_tempdir, sizeof bp_tempdir, "%s/foleni-bench-sched.XXXXXX", base);
    if (!mkdtemp(bp_tempdir)) {
        fprintf(stderr, "foleni-bench-sched: cannot make a directory in %s: %s\n", base, strerror(errno));
        bp_tempdir[0] = '\0';
        return 1;
    }
    char dev[PATH_MAX], mnt[PATH_MAX];
    s_mount_of(bp_tempdir, dev, sizeof dev, mnt, sizeof mnt);

    /* bounded: children die with us, an alarm ends everything */
    zsys_handler_set(NULL);
    zsys_init();
    zsys_set_linger(0);
    zsys_set_max_sockets(1024);
    bp_setup("foleni-bench-sched");
    signal(SIGPIPE, SIG_IGN);
    int modes = o.modes[MODE_GROUP] + o.modes[MODE_SINGLE] + o.modes[MODE_FLOOR];
    double per_mode = o.nlevels * (1 + o.busy_retries) * (o.warmup + o.seconds + BS_DRAIN_MS / 1000.0 + 2)
                    + BS_STARTUP_MS / 1000.0
                    + 3 * BS_STOP_MS / 1000.0 + 60;
    unsigned budget = (unsigned) (o.runs * modes * (per_mode + o.fsync_ms / 1000.0) + 30);
    alarm(budget);

    printf("foleni-bench-sched: %d run(s); %d offices x %d services, capacity %d per %d-minute slot; "
           "scheduler --window %u; window %.1f s after %.1f s warm-up; alarm at %u s\n",
           o.runs, o.offices, o.services, BS_CAPACITY, BS_SLOT_MINUTES, o.window, o.seconds, o.warmup, budget);
    printf("stores in %s: %s on %s (mounted at %s)\n", bp_tempdir, fs, dev, mnt);
    printf("\ncli, brk, sch: CPU µs per booking of the client, broker and scheduler; cores: the three together;\n"
           "iow: machine I/O wait in cores; other: cores busy with anything else (high: figures spoiled);\n"
           "b/commit: bookings per durable transaction of the scheduler.\n\n");
    s_print_header();

    static result_t results[BS_RUNS_MAX][MODES][BS_LEVELS_MAX];
    /* The disk's flush rate before each stack: on a shared virtual machine it
     * swings from run to run (3,300 to 4,900/s), and the bookings/s of the same
     * build swing with it; the CPU's speed, probed the same way, did not. */
    double probes[BS_RUNS_MAX * MODES], probe_p50[BS_RUNS_MAX * MODES];
    int nprobes = 0;
    bool all_ok = true;
    rush_t *r = calloc(1, sizeof *r);
    if (!r)
        return 1;
    r->offices = o.offices;
    r->services = o.services;
    r->first_slot = BS_CLOCK + 86400;       /* tomorrow, same time: every slot is ahead */
    msgpack_sbuffer_init(&r->buf);
    for (int run = 0; run < o.runs; run++) {
        for (int m = 0; m < MODES; m++) {
            if (!o.modes[m])
                continue;
            if (o.fsync_ms) {
                s_fsync_probe(bp_tempdir, o.fsync_ms, &probes[nprobes], &probe_p50[nprobes]);
                printf("  run %d, %s: disk fdatasync %.0f/s, p50 %.0f µs\n", run + 1, s_mode_names[m],
                       probes[nprobes], probe_p50[nprobes]);
                nprobes++;
            }
            stack_t_ st;
            if (s_stack_start(&o, bp_tempdir, run, (mode_t_) m, &st) != 0) {
                all_ok = false;
                bp_stop(st.scheduler, SIGKILL, 1000);
                bp_stop(st.broker, SIGKILL, 1000);
                goto done;
            }
            r->next = 0;                    /* a fresh store: citizens from 1 again */
            for (int l = 0; l < o.nlevels; l++) {
                /* again while other programs kept the machine busy; keep the least disturbed */
                result_t *best = &results[run][m][l], now;
                for (int attempt = 0; attempt <= o.busy_retries; attempt++) {
                    s_rush(&o, &st, r, o.levels[l], attempt ? &now : best);
                    const result_t *got = attempt ? &now : best;
                    bool busy = got->other > o.busy_limit && attempt < o.busy_retries;
                    s_print_row((mode_t_) m, got);
                    if (attempt && (!now.ok < !best->ok || (now.ok == best->ok && now.other < best->other)))
                        *best = now;
                    if (!got->ok || !busy)
                        break;
                    printf("  (%.2f cores busy elsewhere: measuring again)\n", got->other);
                }
                all_ok &= best->ok;
            }
            char summary[256];
            long problems = s_stack_stop(&o, &st, summary, sizeof summary);
            printf("  run %d, %s: %llu bookings in all; foleni-store %s\n", run + 1, s_mode_names[m],
                   (unsigned long long) r->next, summary);
            fflush(stdout);
            all_ok &= problems == 0;
            if (!bp_keep) {
                char data[PATH_MAX + 8];
                snprintf(data, sizeof data, "%s", st.dir);
                bp_rmtree(data);
            }
        }
    }

    /* medians over the runs */
    printf("\nmedian of %d run(s):\n", o.runs);
    printf("%4s %12s %9s %9s %12s %9s %9s %8s\n", "infl", "group b/s", "p50 ms", "p99 ms", "single b/s", "p50 ms",
           "p99 ms", "ratio");
    double med[MODES][BS_LEVELS_MAX][4];    /* rps, p50, p99, per_commit */
    for (int m = 0; m < MODES; m++)
        for (int l = 0; l < o.nlevels; l++) {
            double v[4][BS_RUNS_MAX];
            for (int run = 0; run < o.runs; run++) {
                const result_t *x = &results[run][m][l];
                v[0][run] = x->rps;
                v[1][run] = x->p50_ms;
                v[2][run] = x->p99_ms;
                v[3][run] = x->per_commit;
            }
            for (int k = 0; k < 4; k++)
                med[m][l][k] = s_median(v[k], o.runs);
        }
    for (int l = 0; l < o.nlevels; l++) {
        double ratio = med[MODE_SINGLE][l][0] > 0 ? med[MODE_GROUP][l][0] / med[MODE_SINGLE][l][0] : 0;
        printf("%4d %12.0f %9.3f %9.3f %12.0f %9.3f %9.3f %7.1fx\n", o.levels[l], med[MODE_GROUP][l][0],
               med[MODE_GROUP][l][1], med[MODE_GROUP][l][2], med[MODE_SINGLE][l][0], med[MODE_SINGLE][l][1],
               med[MODE_SINGLE][l][2], ratio);
    }
    if (o.modes[MODE_FLOOR]) {
        printf("\n%4s %12s %9s %9s %12s\n", "infl", "floor b/s", "p50 ms", "p99 ms", "group/floor");
        for (int l = 0; l < o.nlevels; l++)
            printf("%4d %12.0f %9.3f %9.3f %11.2fx\n", o.levels[l], med[MODE_FLOOR][l][0], med[MODE_FLOOR][l][1],
                   med[MODE_FLOOR][l][2],
                   med[MODE_FLOOR][l][0] > 0 ? med[MODE_GROUP][l][0] / med[MODE_FLOOR][l][0] : 0);
    }
    for (int l = 0; l < o.nlevels; l++)
        printf("BENCH sched inflight=%d group_rps=%.0f group_p50_ms=%.3f group_p99_ms=%.3f group_per_commit=%.1f "
               "single_rps=%.0f single_p50_ms=%.3f single_p99_ms=%.3f ratio=%.2f floor_rps=%.0f "
               "floor_p99_ms=%.3f group_vs_floor=%.2f runs=%d fs=%s\n",
               o.levels[l], med[MODE_GROUP][l][0], med[MODE_GROUP][l][1], med[MODE_GROUP][l][2],
               med[MODE_GROUP][l][3], med[MODE_SINGLE][l][0], med[MODE_SINGLE][l][1], med[MODE_SINGLE][l][2],
               med[MODE_SINGLE][l][0] > 0 ? med[MODE_GROUP][l][0] / med[MODE_SINGLE][l][0] : 0,
               med[MODE_FLOOR][l][0], med[MODE_FLOOR][l][2],
               med[MODE_FLOOR][l][0] > 0 ? med[MODE_GROUP][l][0] / med[MODE_FLOOR][l][0] : 0, o.runs, fs);
    if (nprobes) {
        double lo = probes[0], hi = probes[0];
        for (int i = 1; i < nprobes; i++) {
            lo = probes[i] < lo ? probes[i] : lo;
            hi = probes[i] > hi ? probes[i] : hi;
        }
        double per_s = s_median(probes, nprobes), p50 = s_median(probe_p50, nprobes);
        printf("disk: fdatasync of 256 bytes before each run: median %.0f/s (%.0f to %.0f), p50 %.0f µs; a run on a "
               "slower disk books fewer\n", per_s, lo, hi, p50);
        printf("BENCH sched-fsync fs=%s syncs_per_s=%.0f syncs_min=%.0f syncs_max=%.0f p50_us=%.0f\n", fs, per_s, lo,
               hi, p50);
    }
    for (int l = 0; l < o.nlevels; l++)
        if (o.levels[l] == 256 && o.modes[MODE_GROUP]) {
            bool rate = med[MODE_GROUP][l][0] >= 40000, tail = med[MODE_GROUP][l][2] <= 10.0;
            printf("aim, 256 in flight with group commit: >= 40000 bookings/s: %s (%.0f); p99 <= 10 ms: %s (%.3f)\n",
                   rate ? "met" : "NOT met", med[MODE_GROUP][l][0], tail ? "met" : "NOT met", med[MODE_GROUP][l][2]);
        }
done:
    msgpack_sbuffer_destroy(&r->buf);
    free(r->lat);
    free(r);
    printf("%s\n", all_ok ? "ok: every reply was a booking and every store checked clean"
                          : "FAILED: see the messages above");
    if (bp_keep)
        printf("kept: %s\n", bp_tempdir);
    return all_ok ? 0 : 1;
}
