/*  foleni-bench-display — how long a call takes to reach the hall's screens:
 *  from the scheduler's commit of a `next` to the `call` message on every
 *  board's SSE stream, with 10 and 200 boards connected.
 *
 *    make && build/bin/foleni-bench-display [--boards 10,200] [--calls 500] ...
 *
 *  It starts build/bin/foleni-broker, foleni-scheduler (a one-office
 *  configuration, clock at a Tuesday 09:00) and, for each board count, a fresh
 *  foleni-display, all on loopback ports picked free at run time.  It opens
 *  the boards as raw TCP connections (GET /events) and one plain SUB socket on
 *  the event bus, opens one counter, then repeats: walk-in (wait), `next`
 *  (timed), `done` (wait).
 *
 *  What is timed, per call (the wall clock, which the kernel's stamps use):
 *    t_reply  the `next` reply arrives at this client.  The scheduler sends
 *             replies only after the commit is on disk, and publishes the
 *             events right after the replies, so t_reply - commit is one
 *             broker hop (about 0.1 ms): latencies measured from t_reply are
 *             from the commit minus that hop;
 *    t_bus    the `call` event arrives at the plain SUB socket: the ZeroMQ
 *             path alone (scheduler -> broker XSUB/XPUB -> subscriber), the
 *             baseline the display cannot beat;
 *    t_board  per board, the kernel's receive stamp (SO_TIMESTAMPNS) of the
 *             read that completed the call's message (from its start to the
 *             blank line that ends it).  On loopback a segment is stamped as
 *             the display's write hands it to the kernel, so this is the
 *             moment the bytes for that board were on its socket, whenever
 *             this program gets round to reading them.  When segments merge
 *             in the receive queue the later stamp wins: an upper bound.
 *  The boards are read lazily by default: not while the display writes,
 *  but BENCH_LAZY_MS after the reply (then every BENCH_SWEEP_MS until all
 *  have the call), so no write wakes this process and it takes no core from
 *  the display, as screens on other machines would not.  --reader eager reads
 *  each board as its data arrives (epoll), as the first versions did.
 *  And from the display itself (its /metrics summary
 *  foleni_display_delivery_seconds): from the event's arrival at the display
 *  until the write that finished the call on each board's socket returned:
 *  the display's own share, per board.
 *
 *  Baselines, with the same reader: raw, one thread doing nothing but send()
 *  of an SSE-sized message to as many loopback sockets; raw2, two threads
 *  with half the sockets each (the floor for a server writing on two cores).
 *
 *  Reported per board count: p50 / p99 / max of board - reply over every
 *  (call, board) pair, p50 / p99 of the slowest board of each call, bus -
 *  reply, the display's own delivery p50 / p99, the display's CPU time per
 *  call, the baselines, and the CPU other programs used meanwhile (`other`,
 *  cores).  Then one `BENCH display ...` line per count for scripts.
 *
 *  Every child gets PR_SET_PDEATHSIG and is stopped at exit; an alarm bounds
 *  the run; a call not seen on every board within BENCH_CALL_MS fails it.
 *  This is a benchmark, not a test: `make check` does not run it.
 *  docs/benchmarks.md ("Display") has the method and the figures.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>

#include "bench/benchproc.h"
#include "libfoleni/bus.h"
#include "libfoleni/client.h"
#include "libfoleni/json.h"
#include "libfoleni/msg.h"

#define BENCH_BOARDS_MAX     2000       /* boards in one configuration */
#define BENCH_CONFIGS_MAX    8          /* board counts in --boards */
#define BENCH_CALLS_MAX      4000       /* calls per configuration (tickets per day are 9999) */
#define BENCH_CHILDREN_MAX   4
#define BENCH_STARTUP_MS     10000      /* a process to come up */
#define BENCH_CALL_MS        15000      /* a call must reach every board in this time (the client retries after 3 s) */
#define BENCH_SLOW_REPLY_MS  1000       /* a `next` reply later than this came from a retry: the call is not counted */
#define BENCH_BUF            (64 * 1024)    /* read buffer per board */
#define BENCH_KEEP           256        /* bytes kept between reads, so a needle split across reads is found */
#define BENCH_PATH_MAX       1024
#define BENCH_OFFICE         "BENCH"
#define BENCH_TOKEN          "bench-counter"
#define BENCH_ALARM_S        600
#define BENCH_LAZY_MS        20         /* lazy reader: first look at the boards this long after the reply */
#define BENCH_SWEEP_MS       5          /* ... then this often */

static const char *s_config =
    "{\"version\":1,\"offices\":[{\"code\":\"" BENCH_OFFICE "\",\"name\":{\"en\":\"Bench office\"},"
    "\"hours\":{\"mon\":[\"08:00\",\"17:00\"],\"tue\":[\"08:00\",\"17:00\"],\"wed\":[\"08:00\",\"17:00\"],"
    "\"thu\":[\"08:00\",\"17:00\"],\"fri\":[\"08:00\",\"17:00\"]},"
    "\"services\":[{\"code\":\"PASSPORT\",\"prefix\":\"P\",\"name\":{\"en\":\"Passports\"},\"slot_minutes\":15,"
    "\"capacity\":5,\"service_minutes\":10}],"
    "\"counters\":[{\"number\":1,\"services\":[\"PASSPORT\"]}]}]}";

/* ---- time, children ---- */

/* Wall-clock nanoseconds: the clock of the kernel's receive timestamps. */
static int64_t
s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
s_now_ms(void)
{
    return s_now_ns() / 1000000;
}

static pid_t s_children[BENCH_CHILDREN_MAX];

static void
s_stop_child(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    int64_t until = s_now_ms() + 3000;
    while (waitpid(*pid, NULL, WNOHANG) == 0) {
        if (s_now_ms() > until) {
            kill(*pid, SIGKILL);
            waitpid(*pid, NULL, 0);
            break;
        }
        zclock_sleep(5);
    }
    *pid = 0;
}

static void
s_stop_children(void)
{
    for (int i = BENCH_CHILDREN_MAX - 1; i >= 0; i--)
        s_stop_child(&s_children[i]);
}

static void
s_on_signal(int sig)
{
    for (int i = 0; i < BENCH_CHILDREN_MAX; i++)
        if (s_children[i] > 0)
            kill(s_children[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Start argv with its output appended to log; the child dies with us. */
static pid_t
s_spawn(int slot, const char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    s_children[slot] = pid;
    return pid;
}

/* CPU seconds (user + system) a process has used so far. */
static double
s_cpu_s(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    unsigned long long utime = 0, stime = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2)
        return (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
    return 0;
}

/* CPU seconds every core has been busy so far (/proc/stat). */
static double
s_cpu_all_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = { 0 };
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                       &v[6], &v[7]) : 0;
    if (f)
        fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    return (double) (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double) sysconf(_SC_CLK_TCK);
}

/* CPU seconds of the benchmark's own processes: this one and its children. */
static double
s_cpu_ours_s(void)
{
    double t = s_cpu_s(getpid());
    for (int i = 0; i < BENCH_CHILDREN_MAX; i++)
        if (s_children[i] > 0)
            t += s_cpu_s(s_children[i]);
    return t;
}

/* ---- HTTP by hand ---- */

static int
s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *) &a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);     /* when each segment arrived */
    return fd;
}

/* GET path with HTTP/1.0 (the server closes after); the body into out.  Status or -1. */
static int
s_http_get(int port, const char *path, char *out, size_t cap)
{
    int fd = s_connect(port);
    if (fd < 0)
        return -1;
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (send(fd, req, (size_t) n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    ssize_t got;
    while (len + 1 < cap && (got = recv(fd, out + len, cap - 1 - len, 0)) > 0)
        len += (size_t) got;
    out[len] = '\0';
    close(fd);
    int status = -1;
    sscanf(out, "HTTP/1.%*d %d", &status);
    char *body = strstr(out, "\r\n\r\n");
    if (body)
        memmove(out, body + 4, strlen(body + 4) + 1);
    return status;
}

static double
s_metric(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, prefix, n) && line[n] == ' ')
            return atof(line + n + 1);
    return -1;
}

/* ---- the boards ---- */

typedef struct {
    int fd;
    char buf[BENCH_BUF];
    size_t len;
    int64_t seen_ns;                /* when this call's needle was read; 0: not yet */
    int64_t sent_ns;                /* ... and when its segment reached the socket (kernel stamp) */
} board_t;

/* Read what board b has; look for needle.  false when the connection failed.
 * The kernel stamps each read with the arrival of its latest segment: on
 * loopback that is the moment the display's write went through, so it does
 * not include the time this one thread takes to get round to the socket. */
static bool
s_board_read(board_t *b, const char *needle)
{
    while (true) {
        if (b->len > BENCH_BUF - 4096) {            /* keep the tail only */
            memmove(b->buf, b->buf + b->len - BENCH_KEEP, BENCH_KEEP);
            b->len = BENCH_KEEP;
        }
        struct iovec iov = { .iov_base = b->buf + b->len, .iov_len = BENCH_BUF - 1 - b->len };
        union {
            char bytes[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } control;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes,
                              .msg_controllen = sizeof control.bytes };
        ssize_t n = recvmsg(b->fd, &msg, MSG_DONTWAIT);
        if (n == 0)
            return false;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        int64_t stamp = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                stamp = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
            }
        b->len += (size_t) n;
        b->buf[b->len] = '\0';
        /* the whole message: the needle starts it, a blank line ends it */
        const char *at = !b->seen_ns && needle ? strstr(b->buf, needle) : NULL;
        if (at && strstr(at, "\n\n")) {
            b->seen_ns = s_now_ns();
            b->sent_ns = stamp ? stamp : b->seen_ns;
        }
    }
}

/* ---- statistics ---- */

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static double
s_q_us(int64_t *v, size_t n, double q)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, s_cmp_i64);
    size_t i = (size_t) (q * (double) (n - 1) + 0.5);
    return (double) v[i] / 1000.0;
}

/* ---- one configuration ---- */

typedef struct {
    char bin[BENCH_PATH_MAX], dir[BENCH_PATH_MAX];
    char endpoint[64], subscribe[64];
    int calls, warmup;
    int pace_ms;                    /* quiet time before each call */
    const char *writers;            /* the display's --writers; NULL: its default */
    bool eager;                     /* read each board as its data arrives (woken by every write) */
    fl_client_t *client;
} bench_t;

typedef struct {
    double board_p50, board_p99, board_max, last_p50, last_p99, bus_p50, bus_p99, reply_p50;
    double disp_p50, disp_p99, cpu_per_call_us;
    double read_p50, read_p99;      /* until this program read it (its own reading time included) */
    double other_cores;             /* cores busy with anything but the benchmark's processes */
    double raw_p50, raw_p99, raw_last_p50, raw_last_p99;    /* the baseline: a bare send() loop */
    double raw2_p50, raw2_p99, raw2_last_p50, raw2_last_p99;    /* ... split over two threads */
    int calls, slow;
} result_t;

/* Send a request written as JSON; the decoded reply (caller destroys) or NULL. */
static fl_msg_t *
s_ask(bench_t *b, const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    const char *type = j ? json_string_value(json_object_get(j, "type")) : NULL;
    if (type && fl_schema_is_mutating(fl_schema_type_by_name(type, strlen(type)))) {
        char rid[33];                           /* a change: a fresh request id */
        fl_client_new_rid(rid);
        json_object_set_new(j, "rid", json_string(rid));
    }
    fl_error_t err;
    fl_msg_t *m = j ? fl_msg_from_json(j, &err) : NULL;
    json_decref(j);
    if (!m) {
        fprintf(stderr, "bench: bad request %s\n", json);
        return NULL;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = fl_msg_encode(m, &buf, NULL);
    fl_msg_destroy(&m);
    fl_reply_t reply;
    if (rc == 0)
        rc = fl_client_call(b->client, "foleni.scheduler", buf.data, buf.size, &reply, NULL);
    msgpack_sbuffer_destroy(&buf);
    if (rc != 0)
        return NULL;
    fl_msg_t *r = reply.nparts ? fl_msg_decode(reply.parts[0].data, reply.parts[0].size, NULL) : NULL;
    fl_reply_reset(&reply);
    if (r && fl_msg_type(r) == FL_T_ERROR) {
        fprintf(stderr, "bench: %s: %s\n", json, fl_msg_str(r, FL_F_MESSAGE));
        fl_msg_destroy(&r);
    }
    return r;
}

static bool
s_ok(bench_t *b, const char *json)
{
    fl_msg_t *r = s_ask(b, json);
    bool ok = r != NULL;
    fl_msg_destroy(&r);
    return ok;
}

static int
s_run(bench_t *b, int nboards, result_t *out)
{
    int rc = -1;
    char log[BENCH_PATH_MAX + 32], port_text[16], page[65536];
    snprintf(log, sizeof log, "%s/display-%d.log", b->dir, nboards);
    int port = bp_free_port();
    snprintf(port_text, sizeof port_text, "%d", port);
    char display[BENCH_PATH_MAX + 32];
    snprintf(display, sizeof display, "%s/foleni-display", b->bin);
    const char *dargv[] = { display, "-o", BENCH_OFFICE, "-e", b->endpoint, "-s", b->subscribe, "-p", port_text,
                            "--max-boards", "4096", "--log-level", "warn", NULL, NULL, NULL };
    if (b->writers) {
        dargv[13] = "--writers";
        dargv[14] = b->writers;
    }
    pid_t pid = s_spawn(2, dargv, log);
    board_t *boards = calloc((size_t) nboards, sizeof *boards);
    int64_t *lat = calloc((size_t) b->calls * (size_t) nboards, sizeof *lat);
    int64_t *last = calloc((size_t) b->calls, sizeof *last), *bus = calloc((size_t) b->calls, sizeof *bus);
    int64_t *reply = calloc((size_t) b->calls, sizeof *reply);
    int64_t *read = calloc((size_t) b->calls * (size_t) nboards, sizeof *read);
    int ep = epoll_create1(0);
    zsock_t *sub = NULL;
    size_t nlat = 0;
    if (!boards || !lat || !last || !bus || !reply || !read || ep < 0 || pid < 0)
        goto done;
    for (int64_t until = s_now_ms() + BENCH_STARTUP_MS; s_http_get(port, "/healthz", page, sizeof page) != 200;) {
        if (s_now_ms() > until) {
            fprintf(stderr, "bench: the display did not become live (log: %s)\n", log);
            goto done;
        }
        zclock_sleep(20);
    }
    /* the boards: each reads its first board message before we start */
    for (int i = 0; i < nboards; i++) {
        board_t *bd = &boards[i];
        bd->fd = s_connect(port);
        const char req[] = "GET /events?office=" BENCH_OFFICE " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        if (bd->fd < 0 || send(bd->fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t) sizeof req - 1) {
            fprintf(stderr, "bench: board %d could not connect\n", i);
            goto done;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
        epoll_ctl(ep, EPOLL_CTL_ADD, bd->fd, &ev);
    }
    for (int64_t until = s_now_ms() + BENCH_STARTUP_MS;;) {
        int have = 0;
        for (int i = 0; i < nboards; i++) {
            if (!boards[i].seen_ns)
                s_board_read(&boards[i], "event: board");
            have += boards[i].seen_ns != 0;
        }
        if (have == nboards)
            break;
        if (s_now_ms() > until) {
            fprintf(stderr, "bench: only %d of %d boards got their first board\n", have, nboards);
            goto done;
        }
        zclock_sleep(5);
    }
    const char *topics[] = { BENCH_OFFICE "." };
    sub = fl_bus_subscriber(b->subscribe, NULL, topics, 1, NULL);
    if (!sub)
        goto done;
    zsock_set_rcvtimeo(sub, 0);
    zclock_sleep(200);                              /* the subscription reaches the broker */
    double cpu0 = 0, all0 = 0, ours0 = 0;
    int64_t wall0 = 0;
    int measured = 0, slow = 0;
    for (int call = 0; call < b->warmup + b->calls; call++) {
        if (call == b->warmup) {
            cpu0 = s_cpu_s(pid);
            all0 = s_cpu_all_s();
            ours0 = s_cpu_ours_s();
            wall0 = s_now_ns();
        }
        fl_msg_t *t = s_ask(b, "{\"type\":\"walkin\",\"office\":\"" BENCH_OFFICE "\",\"service\":\"PASSPORT\","
                               "\"priority\":\"none\"}");
        if (!t)
            goto done;
        char needle[128];
        snprintf(needle, sizeof needle, "{\"kind\":\"call\",\"office\":\"" BENCH_OFFICE "\",\"ticket\":\"%s\"",
                 fl_msg_str(t, FL_F_TICKET));
        fl_msg_destroy(&t);
        /* a hall's calls are seconds apart: let the display finish pushing the last
         * changes to every board, reading them as they come */
        for (int64_t quiet = s_now_ms() + b->pace_ms; s_now_ms() < quiet;) {
            struct epoll_event evs[256];
            int n = epoll_wait(ep, evs, 256, (int) (quiet - s_now_ms()) > 0 ? (int) (quiet - s_now_ms()) : 0);
            for (int k = 0; k < n; k++)
                s_board_read(&boards[evs[k].data.u32], NULL);
        }
        for (int i = 0; i < nboards; i++) {         /* start each board's search afresh */
            s_board_read(&boards[i], NULL);
            boards[i].len = 0;
            boards[i].seen_ns = 0;
        }
        zmsg_t *stale;
        while ((stale = zmsg_recv(sub)))            /* events of the walk-in and the last done */
            zmsg_destroy(&stale);
        /* `next`, then wait for its reply, its bus event and every board */
        char rid[33];
        fl_client_new_rid(rid);
        fl_msg_t *m = fl_msg_new(FL_T_NEXT);
        fl_msg_set_str(m, FL_F_RID, rid);
        fl_msg_set_str(m, FL_F_OFFICE, BENCH_OFFICE);
        fl_msg_set_uint(m, FL_F_COUNTER, 1);
        fl_msg_set_str(m, FL_F_TOKEN, BENCH_TOKEN);
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        fl_msg_encode(m, &buf, NULL);
        fl_msg_destroy(&m);
        int64_t t_send = s_now_ns(), t_reply = 0, t_bus = 0;
        int sent = fl_client_send(b->client, "foleni.scheduler", rid, buf.data, buf.size);
        msgpack_sbuffer_destroy(&buf);
        if (sent != 0)
            goto done;
        int seen = 0;
        int64_t deadline = s_now_ms() + BENCH_CALL_MS;
        while (!t_reply || !t_bus || seen < nboards) {
            if (s_now_ms() > deadline) {
                fprintf(stderr, "bench: call %d: reply %s, bus %s, %d of %d boards\n", call, t_reply ? "yes" : "no",
                        t_bus ? "yes" : "no", seen, nboards);
                goto done;
            }
            if (!b->eager && t_reply && t_bus) {
                /* the lazy reader: the boards are read once the display is done with
                 * them, so no write of the display wakes this process (as with screens
                 * on other machines); the kernel's stamps still date each write */
                int64_t first = t_reply / 1000000 + BENCH_LAZY_MS;
                zclock_sleep((int) (first > s_now_ms() ? first - s_now_ms() : BENCH_SWEEP_MS));
                for (int i = 0; i < nboards; i++) {
                    if (boards[i].seen_ns)
                        continue;
                    if (!s_board_read(&boards[i], needle)) {
                        fprintf(stderr, "bench: board %d lost its connection\n", i);
                        goto done;
                    }
                    seen += boards[i].seen_ns != 0;
                }
                continue;
            }
            zmq_pollitem_t items[3] = { { zsock_resolve(fl_client_socket(b->client)), 0, ZMQ_POLLIN, 0 },
                                        { zsock_resolve(sub), 0, ZMQ_POLLIN, 0 }, { NULL, ep, ZMQ_POLLIN, 0 } };
            if (zmq_poll(items, b->eager ? 3 : 2, 100) < 0 && errno != EINTR)
                goto done;
            int64_t woke = s_now_ns();
            if (!t_reply) {
                fl_reply_t r;
                if (fl_client_recv(b->client, &r, 0) == 0) {
                    t_reply = woke;
                    fl_reply_reset(&r);
                }
            }
            zmsg_t *ev;
            while ((ev = zmsg_recv(sub))) {
                zframe_t *topic = zmsg_first(ev);
                if (!t_bus && zframe_streq(topic, BENCH_OFFICE ".call"))
                    t_bus = woke;
                zmsg_destroy(&ev);
            }
            struct epoll_event evs[256];
            int n;
            while (b->eager && (n = epoll_wait(ep, evs, 256, 0)) > 0)
                for (int k = 0; k < n; k++) {
                    board_t *bd = &boards[evs[k].data.u32];
                    bool before = bd->seen_ns != 0;
                    if (!s_board_read(bd, needle)) {
                        fprintf(stderr, "bench: board %u lost its connection\n", evs[k].data.u32);
                        goto done;
                    }
                    seen += !before && bd->seen_ns;
                }
        }
        if (t_reply - t_send > (int64_t) BENCH_SLOW_REPLY_MS * 1000000) {
            slow++;                                 /* timed from a retry's reply: meaningless */
            fprintf(stderr, "bench: call %d: the reply took %.0f ms (a retry); not counted\n", call,
                    (double) (t_reply - t_send) / 1e6);
        } else if (call >= b->warmup) {
            int64_t slowest = 0;
            for (int i = 0; i < nboards; i++) {
                int64_t d = boards[i].sent_ns - t_reply;
                lat[nlat] = d;
                read[nlat++] = boards[i].seen_ns - t_reply;
                slowest = d > slowest ? d : slowest;
            }
            last[measured] = slowest;
            bus[measured] = t_bus - t_reply;
            reply[measured] = t_reply - t_send;
            measured++;
        }
        if (!s_ok(b, "{\"type\":\"done\",\"office\":\"" BENCH_OFFICE "\",\"counter\":1,\"token\":\"" BENCH_TOKEN "\"}"))
            goto done;
    }
    double cpu = s_cpu_s(pid) - cpu0;
    double wall = (double) (s_now_ns() - wall0) / 1e9;
    out->other_cores = wall > 0 ? ((s_cpu_all_s() - all0) - (s_cpu_ours_s() - ours0)) / wall : 0;
    if (s_http_get(port, "/metrics", page, sizeof page) != 200)
        goto done;
    out->calls = measured;
    out->slow = slow;
    out->board_max = s_q_us(lat, nlat, 1.0);
    out->board_p50 = s_q_us(lat, nlat, 0.5);
    out->board_p99 = s_q_us(lat, nlat, 0.99);
    out->last_p50 = s_q_us(last, (size_t) measured, 0.5);
    out->last_p99 = s_q_us(last, (size_t) measured, 0.99);
    out->bus_p50 = s_q_us(bus, (size_t) measured, 0.5);
    out->bus_p99 = s_q_us(bus, (size_t) measured, 0.99);
    out->reply_p50 = s_q_us(reply, (size_t) measured, 0.5);
    out->read_p50 = s_q_us(read, nlat, 0.5);
    out->read_p99 = s_q_us(read, nlat, 0.99);
    out->disp_p50 = s_metric(page, "foleni_display_delivery_seconds{quantile=\"0.5\"}") * 1e6;
    out->disp_p99 = s_metric(page, "foleni_display_delivery_seconds{quantile=\"0.99\"}") * 1e6;
    out->cpu_per_call_us = measured ? cpu / measured * 1e6 : 0;
    rc = 0;
done:
    zsock_destroy(&sub);
    for (int i = 0; boards && i < nboards; i++)
        if (boards[i].fd > 0)
            close(boards[i].fd);
    if (ep >= 0)
        close(ep);
    s_stop_child(&s_children[2]);
    free(boards);
    free(lat);
    free(last);
    free(bus);
    free(reply);
    free(read);
    return rc;
}

/* ---- the baseline: the same fan-out as a bare loop of send() ---- */

/* A thread that, for each round number it is given, writes one SSE-sized
 * message carrying that number to each of its sockets, as fast as send() goes. */
typedef struct {
    int *fds;
    int n;
    int go[2];                      /* round numbers in; -1: stop */
    _Atomic int64_t t0;             /* when the round's first send began */
} raw_t;

#define BENCH_RAW_THREADS 2

static void *
s_raw_sender(void *arg)
{
    raw_t *r = arg;
    char msg[1468];
    int round;
    while (read(r->go[0], &round, sizeof round) == (ssize_t) sizeof round && round >= 0) {
        memset(msg, 'x', sizeof msg);
        int len = snprintf(msg, sizeof msg, "5B0\r\nevent: call\ndata: {\"round\":%d,", round);
        msg[len] = 'x';
        memcpy(msg + sizeof msg - 4, "}\n\n", 3);
        r->t0 = s_now_ns();
        for (int i = 0; i < r->n; i++)
            if (send(r->fds[i], msg, sizeof msg - 1, MSG_NOSIGNAL) < 0)
                break;
    }
    return NULL;
}

/* The floor for any server on this machine with nthreads (1 or 2) writing:
 * what the same number of loopback writes costs when nothing else (no HTTP
 * server, no event) is involved, read by this program exactly as the boards
 * are.  With two threads each writes half the sockets; a round starts when
 * the first of them starts, so the second one's wake-up counts, as the
 * display's helper's does. */
static int
s_raw(bench_t *b, int nboards, int nthreads, double *p50, double *p99, double *last_p50, double *last_p99)
{
    int rc = -1, listener = socket(AF_INET, SOCK_STREAM, 0), ep = epoll_create1(0);
    board_t *readers = calloc((size_t) nboards, sizeof *readers);
    int *writers = calloc((size_t) nboards, sizeof *writers);
    int64_t *lat = calloc((size_t) b->calls * (size_t) nboards, sizeof *lat);
    int64_t *last = calloc((size_t) b->calls, sizeof *last);
    raw_t r[BENCH_RAW_THREADS];
    pthread_t thread[BENCH_RAW_THREADS];
    int started = 0;
    for (int k = 0; k < nthreads; k++) {
        int lo = nboards * k / nthreads, hi = nboards * (k + 1) / nthreads;
        r[k] = (raw_t) { .fds = writers + lo, .n = hi - lo, .go = { -1, -1 } };
    }
    size_t nlat = 0;
    int measured = 0;
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (listener < 0 || ep < 0 || !readers || !writers || !lat || !last
        || bind(listener, (struct sockaddr *) &a, sizeof a) != 0 || listen(listener, nboards) != 0
        || getsockname(listener, (struct sockaddr *) &a, &alen) != 0)
        goto done;
    for (int k = 0; k < nthreads; k++)
        if (pipe(r[k].go) != 0)
            goto done;
    for (int i = 0; i < nboards; i++) {
        readers[i].fd = s_connect(ntohs(a.sin_port));
        writers[i] = accept(listener, NULL, NULL);
        if (readers[i].fd < 0 || writers[i] < 0)
            goto done;
        int one = 1;
        setsockopt(writers[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
        epoll_ctl(ep, EPOLL_CTL_ADD, readers[i].fd, &ev);
    }
    for (; started < nthreads; started++)
        if (pthread_create(&thread[started], NULL, s_raw_sender, &r[started]) != 0)
            goto done;
    for (int round = 0; round < b->warmup + b->calls; round++) {
        for (int64_t quiet = s_now_ms() + b->pace_ms; s_now_ms() < quiet;)
            zclock_sleep(5);
        char needle[64];
        snprintf(needle, sizeof needle, "\"round\":%d,", round);
        for (int i = 0; i < nboards; i++) {
            readers[i].len = 0;
            readers[i].seen_ns = 0;
        }
        for (int k = 0; k < nthreads; k++)
            if (write(r[k].go[1], &round, sizeof round) != (ssize_t) sizeof round)
                goto done;
        int seen = 0;
        int64_t t_go = s_now_ms();
        for (int64_t deadline = s_now_ms() + BENCH_CALL_MS; seen < nboards;) {
            if (s_now_ms() > deadline)
                goto done;
            if (!b->eager) {                        /* as the lazy reader of s_run */
                zclock_sleep((int) (t_go + BENCH_LAZY_MS > s_now_ms() ? t_go + BENCH_LAZY_MS - s_now_ms()
                                                                       : BENCH_SWEEP_MS));
                for (int i = 0; i < nboards; i++) {
                    if (readers[i].seen_ns)
                        continue;
                    if (!s_board_read(&readers[i], needle))
                        goto done;
                    seen += readers[i].seen_ns != 0;
                }
                continue;
            }
            struct epoll_event evs[256];
            int n = epoll_wait(ep, evs, 256, 100);
            for (int k = 0; k < n; k++) {
                board_t *rd = &readers[evs[k].data.u32];
                bool before = rd->seen_ns != 0;
                if (!s_board_read(rd, needle))
                    goto done;
                seen += !before && rd->seen_ns;
            }
        }
        if (round >= b->warmup) {
            int64_t t0 = r[0].t0, slowest = 0;
            for (int k = 1; k < nthreads; k++)
                t0 = r[k].t0 < t0 ? r[k].t0 : t0;
            for (int i = 0; i < nboards; i++) {
                int64_t d = readers[i].sent_ns - t0;
                lat[nlat++] = d;
                slowest = d > slowest ? d : slowest;
            }
            last[measured++] = slowest;
        }
    }
    *p50 = s_q_us(lat, nlat, 0.5);
    *p99 = s_q_us(lat, nlat, 0.99);
    *last_p50 = s_q_us(last, (size_t) measured, 0.5);
    *last_p99 = s_q_us(last, (size_t) measured, 0.99);
    rc = 0;
done:
    for (int k = 0; k < started; k++) {
        int stop = -1;
        if (write(r[k].go[1], &stop, sizeof stop) == (ssize_t) sizeof stop)
            pthread_join(thread[k], NULL);
        else
            pthread_cancel(thread[k]);
    }
    for (int i = 0; i < nboards; i++) {
        if (readers && readers[i].fd > 0)
            close(readers[i].fd);
        if (writers && writers[i] > 0)
            close(writers[i]);
    }
    for (int k = 0; k < nthreads; k++)
        for (int j = 0; j < 2; j++)
            if (r[k].go[j] >= 0)
                close(r[k].go[j]);
    if (listener >= 0)
        close(listener);
    if (ep >= 0)
        close(ep);
    free(readers);
    free(writers);
    free(lat);
    free(last);
    if (rc)
        fprintf(stderr, "bench: the baseline with %d sockets and %d threads failed\n", nboards, nthreads);
    return rc;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-bench-display [options]\n"
        "\n"
        "Latency from a call's commit (the `next` reply) to the call on every board's\n"
        "SSE stream, with the given numbers of boards connected.\n"
        "\n"
        "  --boards LIST    board counts, comma-separated          [10,200]\n"
        "  --calls N        measured calls per count (<= %d)     [200]\n"
        "  --warmup N       calls before measuring                  [20]\n"
        "  --pace-ms N      quiet time before each call             [300]\n"
        "  --writers N      the display's --writers (1 or 2)        [its default]\n"
        "  --reader R       lazy: read the boards after each call's writes are done,\n"
        "                   as screens on other machines would not load this one;\n"
        "                   eager: read each board as its data arrives   [lazy]\n"
        "  -h, --help\n", BENCH_CALLS_MAX);
}

int
main(int argc, char **argv)
{
    int counts[BENCH_CONFIGS_MAX] = { 10, 200 }, ncounts = 2;
    bench_t b = { .calls = 200, .warmup = 20, .pace_ms = 300 };
    static const struct option longopts[] = {
        { "boards", required_argument, NULL, 'b' }, { "calls", required_argument, NULL, 'c' },
        { "warmup", required_argument, NULL, 'w' }, { "pace-ms", required_argument, NULL, 'p' },
        { "writers", required_argument, NULL, 'W' }, { "reader", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            ncounts = 0;
            for (char *save = NULL, *p = strtok_r(optarg, ",", &save); p && ncounts < BENCH_CONFIGS_MAX;
                 p = strtok_r(NULL, ",", &save))
                counts[ncounts++] = atoi(p);
            break;
        case 'c': b.calls = atoi(optarg); break;
        case 'w': b.warmup = atoi(optarg); break;
        case 'p': b.pace_ms = atoi(optarg); break;
        case 'W': b.writers = optarg; break;
        case 'R':
            if (strcmp(optarg, "lazy") && strcmp(optarg, "eager")) {
                s_usage(stderr);
                return 2;
            }
            b.eager = !strcmp(optarg, "eager");
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    int total = 0;
    for (int i = 0; i < ncounts; i++) {
        if (counts[i] < 1 || counts[i] > BENCH_BOARDS_MAX) {
            fprintf(stderr, "foleni-bench-display: board counts are 1..%d\n", BENCH_BOARDS_MAX);
            return 2;
        }
        total += b.calls + b.warmup;
    }
    if (b.calls < 1 || b.calls > BENCH_CALLS_MAX || b.warmup < 0 || total > 9000 || b.pace_ms < 0) {
        fprintf(stderr, "foleni-bench-display: --calls 1..%d, and at most 9000 calls in all\n", BENCH_CALLS_MAX);
        return 2;
    }
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    signal(SIGALRM, s_on_signal);
    signal(SIGPIPE, SIG_IGN);
    alarm(BENCH_ALARM_S);
    zsys_handler_set(NULL);
    zsys_init();
    zsys_set_linger(0);
    char exe[BENCH_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 1;
    exe[n] = '\0';
    snprintf(b.bin, sizeof b.bin, "%s", dirname(exe));
    snprintf(b.dir, sizeof b.dir, "%s/foleni-bench-display-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(b.dir))
        return 1;
    char config[BENCH_PATH_MAX + 32], data[BENCH_PATH_MAX + 32], secret[BENCH_PATH_MAX + 32], log[BENCH_PATH_MAX + 32];
    snprintf(config, sizeof config, "%s/config.json", b.dir);
    snprintf(data, sizeof data, "%s/data", b.dir);
    snprintf(secret, sizeof secret, "%s/secret", b.dir);
    snprintf(log, sizeof log, "%s/stack.log", b.dir);
    FILE *f = fopen(config, "w");
    if (!f)
        return 1;
    fputs(s_config, f);
    fclose(f);
    char publish[64], broker[BENCH_PATH_MAX + 32], scheduler[BENCH_PATH_MAX + 32];
    snprintf(b.endpoint, sizeof b.endpoint, "tcp://127.0.0.1:%d", bp_free_port());
    snprintf(publish, sizeof publish, "tcp://127.0.0.1:%d", bp_free_port());
    snprintf(b.subscribe, sizeof b.subscribe, "tcp://127.0.0.1:%d", bp_free_port());
    snprintf(broker, sizeof broker, "%s/foleni-broker", b.bin);
    snprintf(scheduler, sizeof scheduler, "%s/foleni-scheduler", b.bin);
    const char *bargv[] = { broker, "-e", b.endpoint, "-p", publish, "-s", b.subscribe, "--log-level", "warn", NULL };
    const char *sargv[] = { scheduler, "-c", config, "-d", data, "-e", b.endpoint, "-p", publish, "--secret-file", secret,
                            "--create-secret", "--counter-token", BENCH_TOKEN, "--clock", "2026-12-01T06:00:00Z",
                            "--log-level", "warn", NULL };
    int status = 1;
    if (s_spawn(0, bargv, log) < 0 || s_spawn(1, sargv, log) < 0)
        goto out;
    fl_client_options_t copts = { .timeout_ms = 3000, .retries = 3, .max_outstanding = 16 };
    b.client = fl_client_new(b.endpoint, NULL, &copts, NULL);
    bool up = false;
    for (int64_t until = s_now_ms() + BENCH_STARTUP_MS; !up && s_now_ms() < until;) {
        fl_msg_t *r = b.client ? s_ask(&b, "{\"type\":\"list_offices\"}") : NULL;
        up = r != NULL;
        fl_msg_destroy(&r);
    }
    if (!up || !s_ok(&b, "{\"type\":\"counter_open\",\"office\":\"" BENCH_OFFICE "\",\"counter\":1,"
                         "\"service_codes\":[\"PASSPORT\"],\"token\":\"" BENCH_TOKEN "\"}")) {
        fprintf(stderr, "bench: the broker and scheduler did not come up (log: %s)\n", log);
        goto out;
    }
    printf("foleni-bench-display: %d calls (+%d warm-up) per row, %d ms apart, %s reader; µs from the `next` reply\n"
           "to each board's socket (last: the slowest board of a call); raw: a bare send() loop to as many\n"
           "sockets (raw2: two threads, half each)\n", b.calls, b.warmup, b.pace_ms, b.eager ? "eager" : "lazy");
    printf("%7s %9s %9s %9s %9s %8s %8s | %8s %8s %9s %9s | %8s %8s %9s | %9s %6s\n", "boards", "board p50",
           "board p99", "last p50", "last p99", "bus p50", "bus p99", "raw p50", "raw p99", "rawl p50", "rawl p99",
           "raw2 p50", "raw2 p99", "raw2l p50", "cpu/call", "other");
    result_t results[BENCH_CONFIGS_MAX];
    for (int i = 0; i < ncounts; i++) {
        result_t *r = &results[i];
        if (s_run(&b, counts[i], r) != 0
            || s_raw(&b, counts[i], 1, &r->raw_p50, &r->raw_p99, &r->raw_last_p50, &r->raw_last_p99) != 0
            || s_raw(&b, counts[i], 2, &r->raw2_p50, &r->raw2_p99, &r->raw2_last_p50, &r->raw2_last_p99) != 0)
            goto out;
        printf("%7d %9.0f %9.0f %9.0f %9.0f %8.0f %8.0f | %8.0f %8.0f %9.0f %9.0f | %8.0f %8.0f %9.0f | %9.0f %6.2f\n",
               counts[i], r->board_p50, r->board_p99, r->last_p50, r->last_p99, r->bus_p50, r->bus_p99, r->raw_p50,
               r->raw_p99, r->raw_last_p50, r->raw_last_p99, r->raw2_p50, r->raw2_p99, r->raw2_last_p50,
               r->cpu_per_call_us, r->other_cores);
        fflush(stdout);
    }
    for (int i = 0; i < ncounts; i++) {
        result_t *r = &results[i];
        printf("BENCH display boards=%d calls=%d not_counted=%d board_p50_us=%.0f board_p99_us=%.0f board_max_us=%.0f "
               "last_p50_us=%.0f last_p99_us=%.0f bus_p50_us=%.0f bus_p99_us=%.0f display_p50_us=%.0f "
               "display_p99_us=%.0f read_p50_us=%.0f read_p99_us=%.0f next_reply_p50_us=%.0f "
               "display_cpu_per_call_us=%.0f raw_p50_us=%.0f raw_p99_us=%.0f raw_last_p50_us=%.0f raw_last_p99_us=%.0f "
               "raw2_p50_us=%.0f raw2_p99_us=%.0f raw2_last_p50_us=%.0f raw2_last_p99_us=%.0f other_cores=%.2f reader=%s ok=1\n",
               counts[i], r->calls, r->slow, r->board_p50, r->board_p99, r->board_max, r->last_p50, r->last_p99, r->bus_p50,
               r->bus_p99, r->disp_p50, r->disp_p99, r->read_p50, r->read_p99, r->reply_p50, r->cpu_per_call_us,
               r->raw_p50, r->raw_p99, r->raw_last_p50, r->raw_last_p99, r->raw2_p50, r->raw2_p99, r->raw2_last_p50,
               r->raw2_last_p99, r->other_cores, b.eager ? "eager" : "lazy");
    }
    status = 0;
out:
    fl_client_destroy(&b.client);
    s_stop_children();
    if (status == 0) {
        char cmd[BENCH_PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench: could not remove %s\n", b.dir);
    } else
        fprintf(stderr, "bench: failed; logs kept in %s\n", b.dir);
    return status;
}
