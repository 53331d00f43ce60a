/*  foleni-bench-sched-scale — the scheduler measured in-process, with no
 *  broker and no network: the booking rate sched_batch reaches by itself, and
 *  availability queries at national scale.
 *
 *    bench/bench-sched-run      (builds it, then runs it after foleni-bench-sched), or
 *    build/bin/foleni-bench-sched-scale.linked [--part book|avail|all] [options]
 *
 *  book:  a fresh store with the same kind of configuration as
 *         foleni-bench-sched (4 offices x 8 services, capacity 1000 per
 *         5-minute slot, open all day); batches of 1, 16, 64 and 256 `book`
 *         requests of distinct citizens, each batch one sched_batch call (one
 *         durable commit), for a fixed time each.  Batches of 1 are what
 *         --no-group-commit does; 256 is what the scheduler's default window
 *         allows.  The ceiling the process behind the broker cannot pass.
 *
 *  avail: a configuration of --offices (1000) offices x --services (26)
 *         services (prefixes are single letters A-Z, so 26 is the most an
 *         office can have), open Monday to Friday 08:00-17:00 with 15-minute
 *         slots (36 a day), booking_days_ahead 365; slot records written
 *         straight into the store (store API, in key order, in a child
 *         process) for --share (20%) of every slot of the coming year, each
 *         with 1..capacity places taken in its `places` record (no booking
 *         records: the places are what an availability query reads).  Then, in this
 *         process: fl_config_load, sched_new, and --queries (10000) single
 *         `availability` requests of --days (30) days for random offices and
 *         services, each its own sched_batch call, timed one by one (p50, p99,
 *         max); half start today, half on a random day of the year.  Before
 *         them, every service is asked once from today, as a scheduler that
 *         has been serving has done (their times are printed apart: the cold
 *         figure just after a start, when each query's pages are first
 *         mapped, which costs most on this VM).  Then the
 *         process's memory from /proc/self/smaps: private (USS: Private_Clean +
 *         Private_Dirty) of every mapping but the LMDB files, and the LMDB map's
 *         resident pages on their own.  With --e2e it also starts the real
 *         foleni-broker and foleni-scheduler on that store and reads the
 *         scheduler process's memory the same way after queries through the
 *         broker.
 *
 *  Stores go to a temporary directory under $TMPDIR or /tmp (--dir; tmpfs is
 *  refused), removed at exit unless --keep.  Bounded by an alarm.  A benchmark,
 *  not a test.  docs/benchmarks.md ("Scheduler") has the method and figures.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
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
#include <sodium.h>

#include "bench/benchproc.h"
#include "libfoleni/client.h"
#include "libfoleni/config.h"
#include "libfoleni/error.h"
#include "libfoleni/localtime.h"
#include "libfoleni/log.h"
#include "libfoleni/msg.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

#define SC_CLOCK          INT64_C(1796104800)   /* Tue 2026-12-01 06:00 UTC, 09:00 in Nairobi */
#define SC_TODAY          20261201u
#define SC_BATCH_LEVELS   8
#define SC_PUT_CHUNK      1000000       /* slot records per transaction while filling */
#define SC_STARTUP_MS     120000        /* the real scheduler on a big store */

static const uint8_t s_secret[32] = "foleni-bench-sched-scale-secret";

/* ---- small helpers ---------------------------------------------------------- */

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

/*  p in 0..1 of n sorted values (nearest rank). */
static double
s_rank(const uint32_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t) ceil(p * (double) n);
    return v[i ? i - 1 : 0];
}

static uint64_t s_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/*  Bytes this process has handed to write calls so far (/proc/self/io wchar):
 *  the pages LMDB writes at each commit.  (write_bytes is no use here: it counts
 *  whole page-cache folios each time one is dirtied again.) */
static double
s_write_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return 0;
    char line[128];
    double v = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %lf", &v) == 1)
            break;
    fclose(f);
    return v;
}

static double
s_cpu_s(bool user)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const struct timeval *t = user ? &ru.ru_utime : &ru.ru_stime;
    return (double) t->tv_sec + (double) t->tv_usec / 1e6;
}

/* ---- children, cleanup -------------------------------------------------------- */


/* ---- memory -------------------------------------------------------------------- */

typedef struct {
    double private_kib;             /* Private_Clean + Private_Dirty, LMDB files excluded */
    double anon_kib;                /* Anonymous (heap, stacks), LMDB files excluded */
    double lmdb_rss_kib;            /* resident pages of data.mdb and lock.mdb */
    double rss_kib;                 /* everything resident */
    double hwm_kib;                 /* VmHWM: the peak of rss */
} mem_t;

static int
s_memory(pid_t pid, mem_t *m)
{
    memset(m, 0, sizeof *m);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int) (pid ? pid : getpid()));
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    bool lmdb = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ')) {
            size_t len = strlen(line);
            while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
                line[--len] = '\0';
            lmdb = (len > 9 && !strcmp(line + len - 9, "/data.mdb")) || (len > 9 && !strcmp(line + len - 9, "/lock.mdb"));
            continue;
        }
        double kib;
        if (sscanf(line, "Rss: %lf kB", &kib) == 1) {
            m->rss_kib += kib;
            if (lmdb)
                m->lmdb_rss_kib += kib;
        } else if (!lmdb && (sscanf(line, "Private_Clean: %lf kB", &kib) == 1
                             || sscanf(line, "Private_Dirty: %lf kB", &kib) == 1))
            m->private_kib += kib;
        else if (!lmdb && sscanf(line, "Anonymous: %lf kB", &kib) == 1)
            m->anon_kib += kib;
    }
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/status", (int) (pid ? pid : getpid()));
    if ((f = fopen(path, "r"))) {
        while (fgets(line, sizeof line, f))
            sscanf(line, "VmHWM: %lf kB", &m->hwm_kib);
        fclose(f);
    }
    return 0;
}

static void
s_print_memory(const char *who, const mem_t *m)
{
    printf("  %s: private %.1f MiB (of which anonymous %.1f MiB); LMDB map resident %.1f MiB; "
           "RSS %.1f MiB, peak %.1f MiB\n", who, m->private_kib / 1024, m->anon_kib / 1024,
           m->lmdb_rss_kib / 1024, m->rss_kib / 1024, m->hwm_kib / 1024);
}

/* ---- options -------------------------------------------------------------------- */

typedef struct {
    bool book, avail, e2e;
    double seconds;
    int batches[SC_BATCH_LEVELS], nbatches;
    int offices, services, capacity, queries, days;
    double share;
    const char *base, *reuse;
    bool allow_tmpfs;
    char self_dir[PATH_MAX];
} opts_t;

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-bench-sched-scale [options]\n"
        "\n"
        "The scheduler in-process (sched_batch): booking batches, and availability\n"
        "queries over a national-scale configuration and store.\n"
        "\n"
        "  --part P        book, avail or all [all]\n"
        "  --seconds S     book: time per batch size [3]\n"
        "  --batch LIST    book: requests per sched_batch call [1,16,64,256]\n"
        "  --offices N     avail: offices [1000]\n"
        "  --services N    avail: services per office, 1..26 [26]\n"
        "  --capacity N    avail: places per slot [4]\n"
        "  --share F       avail: share of the year's slots with a slot record [0.20]\n"
        "  --queries N     avail: availability requests timed [10000]\n"
        "  --days N        avail: days per query, 1..62 [30]\n"
        "  --e2e           avail: also the real broker + scheduler on the store (its memory)\n"
        "  --reuse DIR     avail: use the store already filled in DIR/data (with --keep before)\n"
        "  --dir DIR       where the temporary stores go [$TMPDIR, /tmp]\n"
        "  --allow-tmpfs   measure on tmpfs anyway\n"
        "  --keep          keep the stores\n"
        "  -h, --help\n");
}

static int
s_parse(int argc, char **argv, opts_t *o)
{
    *o = (opts_t) { .book = true, .avail = true, .seconds = 3, .batches = { 1, 16, 64, 256 }, .nbatches = 4,
                    .offices = 1000, .services = 26, .capacity = 4, .queries = 10000, .days = 30, .share = 0.20 };
    enum { OPT_PART = 256, OPT_SECONDS, OPT_BATCH, OPT_OFFICES, OPT_SERVICES, OPT_CAPACITY, OPT_SHARE, OPT_QUERIES,
           OPT_DAYS, OPT_E2E, OPT_REUSE, OPT_DIR, OPT_TMPFS, OPT_KEEP };
    static const struct option longopts[] = {
        { "part", required_argument, NULL, OPT_PART }, { "seconds", required_argument, NULL, OPT_SECONDS },
        { "batch", required_argument, NULL, OPT_BATCH }, { "offices", required_argument, NULL, OPT_OFFICES },
        { "services", required_argument, NULL, OPT_SERVICES }, { "capacity", required_argument, NULL, OPT_CAPACITY },
        { "share", required_argument, NULL, OPT_SHARE }, { "queries", required_argument, NULL, OPT_QUERIES },
        { "days", required_argument, NULL, OPT_DAYS }, { "e2e", no_argument, NULL, OPT_E2E },
        { "reuse", required_argument, NULL, OPT_REUSE }, { "dir", required_argument, NULL, OPT_DIR },
        { "allow-tmpfs", no_argument, NULL, OPT_TMPFS }, { "keep", no_argument, NULL, OPT_KEEP },
        { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_PART:
            o->book = !strcmp(optarg, "book") || !strcmp(optarg, "all");
            o->avail = !strcmp(optarg, "avail") || !strcmp(optarg, "all");
            if (!o->book && !o->avail)
                return 2;
            break;
        case OPT_SECONDS: o->seconds = atof(optarg); break;
        case OPT_BATCH: {
            o->nbatches = 0;
            char buf[128];
            snprintf(buf, sizeof buf, "%s", optarg);
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int v = atoi(t);
                if (v < 1 || v > SCHED_BATCH_MAX || o->nbatches == SC_BATCH_LEVELS)
                    return 2;
                o->batches[o->nbatches++] = v;
            }
            if (!o->nbatches)
                return 2;
            break;
        }
        case OPT_OFFICES: o->offices = atoi(optarg); break;
        case OPT_SERVICES: o->services = atoi(optarg); break;
        case OPT_CAPACITY: o->capacity = atoi(optarg); break;
        case OPT_SHARE: o->share = atof(optarg); break;
        case OPT_QUERIES: o->queries = atoi(optarg); break;
        case OPT_DAYS: o->days = atoi(optarg); break;
        case OPT_E2E: o->e2e = true; break;
        case OPT_REUSE: o->reuse = optarg; break;
        case OPT_DIR: o->base = optarg; break;
        case OPT_TMPFS: o->allow_tmpfs = true; break;
        case OPT_KEEP: bp_keep = true; break;
        case 'h': s_usage(stdout); exit(0);
        default: return 2;
        }
    }
    if (optind != argc || o->seconds <= 0 || o->seconds > 600 || o->offices < 1 || o->offices > 2000
        || o->services < 1 || o->services > 26 || o->capacity < 1 || o->capacity > 1000 || o->share < 0
        || o->share > 1 || o->queries < 1 || o->queries > 10000000 || o->days < 1 || o->days > 62)
        return 2;
    return 0;
}

/* ---- configuration -------------------------------------------------------------- */

static const char *s_daynames[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static void
s_office_code(int i, char out[16])
{
    snprintf(out, 16, "OF%04d", i);
}

static void
s_service_code(int s, char out[16])
{
    snprintf(out, 16, "SVC%02d", s);
}

/*  all_day: 00:00-24:00 every day, 5-minute slots (the booking part);
 *  otherwise Monday to Friday 08:00-17:00, 15-minute slots. */
static int
s_write_config(const char *path, int offices, int services, int capacity, bool all_day)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"version\":1,\"booking_days_ahead\":365,\"offices\":[");
    for (int i = 0; i < offices; i++) {
        char code[16];
        s_office_code(i, code);
        fprintf(f, "%s{\"code\":\"%s\",\"name\":{\"en\":\"Office %c%c\"},\"hours\":{", i ? "," : "", code,
                'A' + i % 26, 'A' + i / 26 % 26);
        for (int d = 0, n = 0; d < 7; d++)
            if (all_day || (d >= 1 && d <= 5))
                fprintf(f, "%s\"%s\":[\"%s\",\"%s\"]", n++ ? "," : "", s_daynames[d], all_day ? "00:00" : "08:00",
                        all_day ? "24:00" : "17:00");
        fprintf(f, "},\"services\":[");
        for (int s = 0; s < services; s++) {
            char sc[16];
            s_service_code(s, sc);
            fprintf(f, "%s{\"code\":\"%s\",\"prefix\":\"%c\",\"name\":{\"en\":\"Service %c\"},\"slot_minutes\":%d,"
                       "\"capacity\":%d,\"service_minutes\":10}", s ? "," : "", sc, 'A' + s, 'A' + s,
                    all_day ? 5 : 15, capacity);
        }
        fprintf(f, "],\"counters\":[{\"number\":1,\"services\":[");
        for (int s = 0; s < services; s++) {
            char sc[16];
            s_service_code(s, sc);
            fprintf(f, "%s\"%s\"", s ? "," : "", sc);
        }
        fprintf(f, "]}]}");
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- the booking part ---------------------------------------------------------- */

static const char *s_first[] = { "Amina", "Wanjiru", "Otieno", "Achieng", "Kamau", "Njeri", "Mwangi", "Atieno" };
static const char *s_last[] = { "Wanjiku", "Odhiambo", "Kariuki", "Mohamed", "Ochieng", "Mutiso", "Kiptoo", "Maina" };

static int
s_encode_book(uint64_t i, int offices, int services, msgpack_sbuffer *buf)
{
    int svc = (int) (i % (uint64_t) (offices * services));
    uint64_t j = i / (uint64_t) (offices * services);
    char office[16], service[16], rid[32], name[64], id[16], phone[20];
    s_office_code(svc / services, office);
    s_service_code(svc % services, service);
    snprintf(rid, sizeof rid, "p%015llx", (unsigned long long) i);
    snprintf(name, sizeof name, "%s %s", s_first[i % 8], s_last[(i / 8) % 8]);
    snprintf(id, sizeof id, "%llu", (unsigned long long) (i + 1));
    snprintf(phone, sizeof phone, "+2547%08llu", (unsigned long long) (i % 100000000));
    fl_msg_t *m = fl_msg_new(FL_T_BOOK);
    if (!m)
        return -1;
    int rc = fl_msg_set_str(m, FL_F_RID, rid) | fl_msg_set_str(m, FL_F_OFFICE, office)
           | fl_msg_set_str(m, FL_F_SERVICE, service)
           | fl_msg_set_uint(m, FL_F_START, (uint64_t) (SC_CLOCK + 86400 + (int64_t) (j / 500) * 300))
           | fl_msg_set_str(m, FL_F_NAME, name) | fl_msg_set_str(m, FL_F_ID_TYPE, "national")
           | fl_msg_set_str(m, FL_F_ID_NUMBER, id) | fl_msg_set_str(m, FL_F_PHONE, phone);
    msgpack_sbuffer_clear(buf);
    if (rc == 0)
        rc = fl_msg_encode(m, buf, NULL);
    fl_msg_destroy(&m);
    return rc;
}

static int
s_part_book(const opts_t *o, const char *root)
{
    char dir[PATH_MAX], config_path[PATH_MAX], data[PATH_MAX];
    if (bp_path(dir, sizeof dir, "%s/book", root) || mkdir(dir, 0700) != 0
        || bp_path(config_path, sizeof config_path, "%s/config.json", dir)
        || bp_path(data, sizeof data, "%s/data", dir) || s_write_config(config_path, 4, 8, 1000, true) != 0)
        return -1;
    fl_error_t err;
    fl_config_t *config = fl_config_load(config_path, &err);
    store_t *store = config ? store_open(data, NULL, &err) : NULL;
    sched_t *sched = store ? sched_new(store, config, s_secret, sizeof s_secret, &(sched_auth_t) { 0 }, SC_CLOCK, &err)
                           : NULL;
    if (!sched) {
        fprintf(stderr, "foleni-bench-sched-scale: %s\n", err.message);
        sched_destroy(&sched);
        store_destroy(&store);
        fl_config_destroy(&config);
        return -1;
    }
    printf("\nbook: sched_batch in-process, 4 offices x 8 services, capacity 1000; %.1f s per batch size\n",
           o->seconds);
    printf("%6s %11s %10s %10s %10s %9s %9s %9s %8s\n", "batch", "bookings/s", "batch p50", "batch p99", "batch max",
           "user µs", "sys µs", "KiB wrote", "errors");
    static sched_request_t reqs[SCHED_BATCH_MAX];
    static msgpack_sbuffer bufs[SCHED_BATCH_MAX];
    for (int i = 0; i < SCHED_BATCH_MAX; i++)
        msgpack_sbuffer_init(&bufs[i]);
    uint64_t next = 0;
    int status = 0;
    size_t lat_cap = 1 << 20;
    uint32_t *lat = malloc(lat_cap * sizeof *lat);
    for (int l = 0; l < o->nbatches && lat; l++) {
        int b = o->batches[l];
        uint64_t booked = 0, errors = 0;
        size_t nlat = 0;
        double user = 0, sys = 0;           /* inside sched_batch only */
        double written = s_write_bytes();
        int64_t start = bp_now_ns(), until = start + (int64_t) (o->seconds * 1e9), elapsed_ns = 0;
        while (bp_now_ns() < until) {
            for (int k = 0; k < b; k++) {
                if (s_encode_book(next++, 4, 8, &bufs[k]) != 0)
                    return -1;
                reqs[k] = (sched_request_t) { .body = bufs[k].data, .len = bufs[k].size, .caller = "" };
            }
            sched_event_t *events;
            size_t nevents;
            double u0 = s_cpu_s(true), s0 = s_cpu_s(false);
            int64_t t0 = bp_now_ns();
            int rc = sched_batch(sched, reqs, (size_t) b, SC_CLOCK + (t0 - start) / 1000000000, &events, &nevents);
            int64_t t1 = bp_now_ns();
            user += s_cpu_s(true) - u0;
            sys += s_cpu_s(false) - s0;
            elapsed_ns += t1 - t0;
            sched_events_free(events, nevents);
            if (nlat < lat_cap)
                lat[nlat++] = (uint32_t) ((t1 - t0) / 1000);
            for (int k = 0; k < b; k++) {
                fl_msg_t *m = reqs[k].reply ? fl_msg_decode(reqs[k].reply, reqs[k].reply_len, NULL) : NULL;
                if (rc == 0 && m && fl_msg_type(m) == FL_T_BOOKING)
                    booked++;
                else {
                    if (errors++ < 3 && m && fl_msg_type(m) == FL_T_ERROR)
                        fprintf(stderr, "foleni-bench-sched-scale: refused: %s\n", fl_msg_str(m, FL_F_MESSAGE));
                }
                fl_msg_destroy(&m);
                free(reqs[k].reply);
            }
        }
        qsort(lat, nlat, sizeof lat[0], s_cmp_u32);
        double secs = (double) elapsed_ns / 1e9, per = (double) (booked ? booked : 1);
        double kib = (s_write_bytes() - written) / 1024 / per;
        printf("%6d %11.0f %8.2f ms %7.2f ms %7.2f ms %9.1f %9.1f %9.1f %8llu\n", b, (double) booked / secs,
               s_rank(lat, nlat, 0.5) / 1000, s_rank(lat, nlat, 0.99) / 1000, s_rank(lat, nlat, 1.0) / 1000,
               user * 1e6 / per, sys * 1e6 / per, kib, (unsigned long long) errors);
        printf("BENCH sched-inproc batch=%d bookings_per_s=%.0f batch_p50_ms=%.3f batch_p99_ms=%.3f user_us=%.1f "
               "sys_us=%.1f written_kib=%.1f errors=%llu\n", b, (double) booked / secs, s_rank(lat, nlat, 0.5) / 1000,
               s_rank(lat, nlat, 0.99) / 1000, user * 1e6 / per, sys * 1e6 / per, kib, (unsigned long long) errors);
        fflush(stdout);
        if (errors)
            status = -1;
    }
    free(lat);
    for (int i = 0; i < SCHED_BATCH_MAX; i++)
        msgpack_sbuffer_destroy(&bufs[i]);
    store_stat_t st;
    if (store_stat(store, &st, NULL) == 0)
        printf("  store after the part: %llu bookings, %.1f MiB used\n",
               (unsigned long long) st.entries[STORE_DB_BOOKINGS], (double) st.used_bytes / 1048576);
    sched_destroy(&sched);
    store_destroy(&store);
    fl_config_destroy(&config);
    return status;
}

/* ---- the availability part ------------------------------------------------------- */

typedef struct {
    const opts_t *o;
    const fl_zone_t *zone;
    uint32_t *days;                 /* open days of the year (Monday..Friday) */
    int ndays;
    int64_t next;                   /* next office*services index to write */
    int64_t done_until;             /* the chunk this transaction covers */
    uint64_t records, places;
    uint64_t rng;
} fill_t;

static int
s_fill_chunk(store_txn_t *txn, void *arg)
{
    fill_t *f = arg;
    const opts_t *o = f->o;
    uint64_t rng = f->rng;          /* run again after a full map: same records */
    uint64_t records = 0, places = 0;
    int64_t total = (int64_t) o->offices * o->services;
    int64_t i = f->next;
    fl_msg_t *rec = fl_msg_new(FL_T_SLOT_REC);
    if (!rec)
        return FL_E_NOMEM;
    for (; i < total && records < SC_PUT_CHUNK; i++) {
        char office[16], service[16];
        s_office_code((int) (i / o->services), office);
        s_service_code((int) (i % o->services), service);
        fl_msg_set_str(rec, FL_F_OFFICE, office);
        fl_msg_set_str(rec, FL_F_SERVICE, service);
        fl_msg_set_uint(rec, FL_F_CAPACITY, (uint64_t) o->capacity);
        for (int d = 0; d < f->ndays; d++) {
            uint32_t day = f->days[d];
            for (int m = 8 * 60; m + 15 <= 17 * 60; m += 15) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                if ((double) (rng >> 11) / 9007199254740992.0 >= o->share)
                    continue;
                int64_t start;
                if (fl_zone_utc(f->zone, (int) (day / 10000), (int) (day / 100 % 100), (int) (day % 100), m, &start))
                    continue;
                uint64_t taken = 1 + (rng >> 40) % (uint64_t) o->capacity;
                fl_msg_set_uint(rec, FL_F_START, (uint64_t) start);
                fl_msg_set_uint(rec, FL_F_END, (uint64_t) start + 900);
                fl_msg_set_uint(rec, FL_F_TAKEN, 0);        /* the count is in `places` (store.h) */
                store_key_t k = store_key_slot(office, service, (uint64_t) start);
                store_places_t p = { .capacity = (uint32_t) o->capacity, .taken = (uint32_t) taken };
                int rc = store_put_rec(txn, STORE_DB_SLOTS, &k, rec);
                if (!rc)
                    rc = store_put_places(txn, &k, &p);
                if (rc) {
                    fl_msg_destroy(&rec);
                    return rc;
                }
                records++;
                places += taken;
            }
        }
    }
    fl_msg_destroy(&rec);
    f->done_until = i;
    f->records = records;
    f->places = places;
    f->rng = rng;
    return 0;
}

/*  In a child process (no LMDB environment or ZeroMQ context crosses a fork):
 *  open the store, write the slot records, exit. */
static int
s_fill(const opts_t *o, const char *data)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fl_error_t err;
        store_options_t so = { .map_size = (size_t) 64 << 30 };
        store_t *store = store_open(data, &so, &err);
        fl_zone_t *zone = fl_zone_new("Africa/Nairobi", &err);
        if (!store || !zone) {
            fprintf(stderr, "foleni-bench-sched-scale: %s\n", err.message);
            _exit(1);
        }
        fill_t f = { .o = o, .zone = zone, .rng = 0x2545F4914F6CDD1DULL };
        f.days = calloc(400, sizeof *f.days);
        for (int d = 0; d <= 365 && f.days; d++) {
            uint32_t day = fl_day_add(SC_TODAY, d);
            int wd = fl_day_weekday(day);
            if (wd >= 1 && wd <= 5)
                f.days[f.ndays++] = day;
        }
        uint64_t records = 0, places = 0;
        int64_t total = (int64_t) o->offices * o->services, t0 = bp_now_ms(), shown = t0;
        while (f.next < total) {
            uint64_t rng0 = f.rng;
            int rc = store_write(store, s_fill_chunk, &f, &err);
            if (rc) {
                fprintf(stderr, "foleni-bench-sched-scale: filling: %s\n", rc == FL_E_STORE ? err.message : "failed");
                _exit(1);
            }
            (void) rng0;
            f.next = f.done_until;
            records += f.records;
            places += f.places;
            if (bp_now_ms() - shown > 10000) {
                shown = bp_now_ms();
                fprintf(stderr, "  filling: %lld of %lld services, %llu slot records, %.0f s\n", (long long) f.next,
                        (long long) total, (unsigned long long) records, (double) (shown - t0) / 1000);
            }
        }
        store_stat_t st;
        store_stat(store, &st, NULL);
        printf("  filled: %llu slot records (%llu places taken) over %d open days in %.1f s; store %.2f GiB "
               "used, its index %.2f GiB\n", (unsigned long long) records, (unsigned long long) places, f.ndays,
               (double) (bp_now_ms() - t0) / 1000, (double) st.used_bytes / 1073741824.0,
               (double) st.index_used_bytes / 1073741824.0);
        fflush(stdout);
        store_destroy(&store);
        fl_zone_destroy(&zone);
        _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

/*  One availability request, encoded. */
static int
s_encode_avail(const char *office, const char *service, uint32_t from, int days, msgpack_sbuffer *buf)
{
    fl_msg_t *m = fl_msg_new(FL_T_AVAILABILITY);
    if (!m)
        return -1;
    char date[FL_DAY_TEXT_SIZE];
    fl_day_format(from, date);
    int rc = fl_msg_set_str(m, FL_F_OFFICE, office) | fl_msg_set_str(m, FL_F_SERVICE, service)
           | fl_msg_set_str(m, FL_F_FROM, date) | fl_msg_set_uint(m, FL_F_DAYS, (uint64_t) days);
    msgpack_sbuffer_clear(buf);
    if (rc == 0)
        rc = fl_msg_encode(m, buf, NULL);
    fl_msg_destroy(&m);
    return rc;
}

typedef struct {
    uint32_t *lat;
    size_t n;
    uint64_t slots, replies, errors, bytes;
} qstats_t;

/*  n availability queries at random offices and services, from today
 *  (random_day false) or from a random day of the year; with every_service,
 *  one from today for each service of each office in turn instead (n is
 *  then offices × services). */
static int
s_queries(sched_t *sched, const opts_t *o, int n, bool random_day, bool every_service, qstats_t *q)
{
    memset(q, 0, sizeof *q);
    q->lat = malloc((size_t) n * sizeof *q->lat);
    if (!q->lat)
        return -1;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    for (int i = 0; i < n; i++) {
        char office[16], service[16];
        s_office_code(every_service ? i / o->services : (int) (s_rand() % (uint64_t) o->offices), office);
        s_service_code(every_service ? i % o->services : (int) (s_rand() % (uint64_t) o->services), service);
        uint32_t from = random_day ? fl_day_add(SC_TODAY, (int) (s_rand() % (uint64_t) (365 - o->days + 1))) : SC_TODAY;
        if (s_encode_avail(office, service, from, o->days, &buf) != 0)
            return -1;
        sched_request_t r = { .body = buf.data, .len = buf.size, .caller = "" };
        sched_event_t *events;
        size_t nevents;
        int64_t t0 = bp_now_ns();
        int rc = sched_batch(sched, &r, 1, SC_CLOCK, &events, &nevents);
        int64_t t1 = bp_now_ns();
        sched_events_free(events, nevents);
        q->lat[q->n++] = (uint32_t) ((t1 - t0) / 1000 ? (t1 - t0) / 1000 : 1);
        fl_msg_t *m = r.reply ? fl_msg_decode(r.reply, r.reply_len, NULL) : NULL;
        if (rc == 0 && m && fl_msg_type(m) == FL_T_SLOT_LIST) {
            q->replies++;
            q->slots += fl_msg_count(m, FL_F_SLOTS);
            q->bytes += r.reply_len;
        } else
            q->errors++;
        fl_msg_destroy(&m);
        free(r.reply);
    }
    msgpack_sbuffer_destroy(&buf);
    qsort(q->lat, q->n, sizeof q->lat[0], s_cmp_u32);
    return 0;
}

/*  The real broker and scheduler on the filled store: startup time, queries
 *  through the broker (one in flight), the scheduler process's memory. */
static int
s_e2e(const opts_t *o, const char *dir, const char *config_path, const char *data)
{
    char broker[PATH_MAX], scheduler[PATH_MAX], log[PATH_MAX], secret[PATH_MAX];
    if (bp_path(broker, sizeof broker, "%s/foleni-broker", o->self_dir)
        || bp_path(scheduler, sizeof scheduler, "%s/foleni-scheduler", o->self_dir)
        || bp_path(log, sizeof log, "%s/stack.log", dir) || bp_path(secret, sizeof secret, "%s/secret", dir))
        return -1;
    char endpoint[64], publish[64], subscribe[64], clock[32];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", bp_free_port());
    snprintf(publish, sizeof publish, "tcp://127.0.0.1:%d", bp_free_port());
    snprintf(subscribe, sizeof subscribe, "tcp://127.0.0.1:%d", bp_free_port());
    snprintf(clock, sizeof clock, "%lld", (long long) SC_CLOCK);
    char *bargv[] = { broker, "-e", endpoint, "-p", publish, "-s", subscribe, "--log-level", "warn",
                      "--stats-interval", "0", NULL };
    char *sargv[] = { scheduler, "-c", (char *) config_path, "-d", (char *) data, "-e", endpoint, "-p", publish,
                      "--secret-file", secret, "--create-secret", "--clock", clock, "--log-level", "warn", NULL };
    int64_t t0 = bp_now_ms();
    pid_t bpid = bp_spawn(bargv, log), spid = bp_spawn(sargv, log);
    if (bpid < 0 || spid < 0)
        return -1;
    fl_client_options_t co = { .timeout_ms = 2000, .retries = 0, .max_outstanding = 16 };
    fl_client_t *c = fl_client_new(endpoint, NULL, &co, NULL);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int status = -1;
    bool ready = false;
    if (c && s_encode_avail("OF0000", "SVC00", SC_TODAY, o->days, &buf) == 0) {
        while (!ready && bp_now_ms() - t0 < SC_STARTUP_MS) {
            fl_reply_t reply;
            if (fl_client_call(c, "foleni.scheduler", buf.data, buf.size, &reply, NULL) == 0)
                ready = true;
            fl_reply_reset(&reply);
            if (!bp_alive(spid))
                break;
        }
    }
    if (ready) {
        printf("  the real scheduler answered %.1f s after it was started\n", (double) (bp_now_ms() - t0) / 1000);
        int n = o->queries < 2000 ? o->queries : 2000;
        uint32_t *lat = malloc((size_t) n * sizeof *lat);
        int got = 0;
        for (int i = 0; lat && i < n; i++) {
            char office[16], service[16];
            s_office_code((int) (s_rand() % (uint64_t) o->offices), office);
            s_service_code((int) (s_rand() % (uint64_t) o->services), service);
            uint32_t from = i % 2 ? fl_day_add(SC_TODAY, (int) (s_rand() % (uint64_t) (365 - o->days + 1))) : SC_TODAY;
            s_encode_avail(office, service, from, o->days, &buf);
            fl_reply_t reply;
            int64_t a = bp_now_ns();
            if (fl_client_call(c, "foleni.scheduler", buf.data, buf.size, &reply, NULL) == 0)
                lat[got++] = (uint32_t) ((bp_now_ns() - a) / 1000);
            fl_reply_reset(&reply);
        }
        if (lat && got) {
            qsort(lat, (size_t) got, sizeof *lat, s_cmp_u32);
            printf("  %d queries through the broker, one at a time: p50 %.3f ms, p99 %.3f ms (client to client)\n",
                   got, s_rank(lat, (size_t) got, 0.5) / 1000, s_rank(lat, (size_t) got, 0.99) / 1000);
        }
        free(lat);
        mem_t m;
        if (s_memory(spid, &m) == 0) {
            s_print_memory("foleni-scheduler process", &m);
            printf("BENCH sched-scale-e2e private_mib=%.1f anon_mib=%.1f lmdb_rss_mib=%.1f\n", m.private_kib / 1024,
                   m.anon_kib / 1024, m.lmdb_rss_kib / 1024);
        }
        status = 0;
    } else
        fprintf(stderr, "foleni-bench-sched-scale: the real scheduler did not answer (log: %s)\n", log);
    msgpack_sbuffer_destroy(&buf);
    fl_client_destroy(&c);
    bp_stop(spid, SIGTERM, 10000);
    bp_stop(bpid, SIGTERM, 5000);
    return status;
}

static int
s_part_avail(const opts_t *o, const char *root)
{
    char dir[PATH_MAX], config_path[PATH_MAX], data[PATH_MAX];
    if (o->reuse) {
        if (bp_path(dir, sizeof dir, "%s", o->reuse))
            return -1;
    } else if (bp_path(dir, sizeof dir, "%s/avail", root) || mkdir(dir, 0700) != 0)
        return -1;
    if (bp_path(config_path, sizeof config_path, "%s/config.json", dir) || bp_path(data, sizeof data, "%s/data", dir))
        return -1;
    printf("\navail: %d offices x %d services, Monday-Friday 08:00-17:00, 15-minute slots, capacity %d, "
           "booking_days_ahead 365; %.0f%% of the year's slots with a record\n", o->offices, o->services, o->capacity,
           o->share * 100);
    if (!o->reuse) {
        if (s_write_config(config_path, o->offices, o->services, o->capacity, false) != 0)
            return -1;
        if (s_fill(o, data) != 0) {
            fprintf(stderr, "foleni-bench-sched-scale: filling the store failed\n");
            return -1;
        }
    }
    struct stat cst;
    stat(config_path, &cst);
    mem_t m0;
    s_memory(0, &m0);
    fl_error_t err;
    int64_t t0 = bp_now_ns();
    fl_config_t *config = fl_config_load(config_path, &err);
    int64_t t1 = bp_now_ns();
    store_t *store = config ? store_open(data, NULL, &err) : NULL;
    sched_t *sched = store ? sched_new(store, config, s_secret, sizeof s_secret, &(sched_auth_t) { 0 }, SC_CLOCK, &err)
                           : NULL;
    int64_t t2 = bp_now_ns();
    if (!sched) {
        fprintf(stderr, "foleni-bench-sched-scale: %s\n", err.message);
        sched_destroy(&sched);
        store_destroy(&store);
        fl_config_destroy(&config);
        return -1;
    }
    malloc_trim(0);                     /* as foleni-scheduler does after starting */
    mem_t m1;
    s_memory(0, &m1);
    store_stat_t st;
    store_stat(store, &st, NULL);
    printf("  config %.2f MiB loaded in %.2f s; sched_new in %.2f s; store: %llu slot records, %.2f GiB used; "
           "index: %llu places records, %.2f GiB\n", (double) cst.st_size / 1048576, (double) (t1 - t0) / 1e9,
           (double) (t2 - t1) / 1e9, (unsigned long long) st.entries[STORE_DB_SLOTS], (double) st.used_bytes / 1073741824.0,
           (unsigned long long) st.entries[STORE_DB_PLACES], (double) st.index_used_bytes / 1073741824.0);
    qstats_t warm, qt, qr, q;
    if (s_queries(sched, o, o->offices * o->services, false, true, &warm) != 0
        || s_queries(sched, o, (o->queries + 1) / 2, false, false, &qt) != 0
        || s_queries(sched, o, o->queries / 2 > 0 ? o->queries / 2 : 1, true, false, &qr) != 0)
        return -1;
    printf("  first query of each service after the start (cold pages): %zu queries, p50 %.3f ms, p99 %.3f ms\n",
           warm.n, s_rank(warm.lat, warm.n, 0.5) / 1000, s_rank(warm.lat, warm.n, 0.99) / 1000);
    free(warm.lat);
    /* all of them together */
    q = (qstats_t) { .n = qt.n + qr.n, .slots = qt.slots + qr.slots, .replies = qt.replies + qr.replies,
                     .errors = qt.errors + qr.errors, .bytes = qt.bytes + qr.bytes };
    if (!(q.lat = malloc(q.n * sizeof *q.lat)))
        return -1;
    memcpy(q.lat, qt.lat, qt.n * sizeof *q.lat);
    memcpy(q.lat + qt.n, qr.lat, qr.n * sizeof *q.lat);
    qsort(q.lat, q.n, sizeof q.lat[0], s_cmp_u32);
    printf("  from today:          %zu queries, p50 %.3f ms, p99 %.3f ms\n", qt.n, s_rank(qt.lat, qt.n, 0.5) / 1000,
           s_rank(qt.lat, qt.n, 0.99) / 1000);
    printf("  from a random day:   %zu queries, p50 %.3f ms, p99 %.3f ms\n", qr.n, s_rank(qr.lat, qr.n, 0.5) / 1000,
           s_rank(qr.lat, qr.n, 0.99) / 1000);
    free(qt.lat);
    free(qr.lat);
    mem_t m2;
    s_memory(0, &m2);
    double p50 = s_rank(q.lat, q.n, 0.5) / 1000, p99 = s_rank(q.lat, q.n, 0.99) / 1000,
           max = s_rank(q.lat, q.n, 1.0) / 1000;
    printf("  %zu availability queries of %d days, each one sched_batch call: p50 %.3f ms, p99 %.3f ms, max %.3f ms;"
           " %.0f slots and %.1f KiB per reply on average; %llu errors\n", q.n, o->days, p50, p99, max,
           (double) q.slots / (double) (q.replies ? q.replies : 1),
           (double) q.bytes / 1024 / (double) (q.replies ? q.replies : 1), (unsigned long long) q.errors);
    printf("  memory of this process (the scheduler in-process; before config: private %.1f MiB):\n",
           m0.private_kib / 1024);
    s_print_memory("after config + sched_new", &m1);
    s_print_memory("after the queries", &m2);
    printf("  aim: p99 <= 0.2 ms: %s (%.3f ms); private memory <= 64 MiB: %s (%.1f MiB)\n",
           p99 <= 0.2 ? "met" : "NOT met", p99, m2.private_kib / 1024 <= 64 ? "met" : "NOT met", m2.private_kib / 1024);
    printf("BENCH sched-scale offices=%d services=%d slot_records=%llu queries=%zu days=%d p50_ms=%.3f p99_ms=%.3f "
           "max_ms=%.3f private_mib=%.1f anon_mib=%.1f lmdb_rss_mib=%.1f errors=%llu\n", o->offices, o->services,
           (unsigned long long) st.entries[STORE_DB_SLOTS], q.n, o->days, p50, p99, max, m2.private_kib / 1024,
           m2.anon_kib / 1024, m2.lmdb_rss_kib / 1024, (unsigned long long) q.errors);
    fflush(stdout);
    free(q.lat);
    sched_destroy(&sched);
    store_destroy(&store);
    fl_config_destroy(&config);
    int rc = q.errors ? -1 : 0;
    if (o->e2e && s_e2e(o, dir, config_path, data) != 0)
        rc = -1;
    return rc;
}

/* ---- main ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    snprintf(o.self_dir, sizeof o.self_dir, "%s", dirname(self));
    const char *base = o.base ? o.base : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    struct statfs sfs;
    if (statfs(base, &sfs) != 0) {
        fprintf(stderr, "foleni-bench-sched-scale: %s: %s\n", base, strerror(errno));
        return 1;
    }
    bool tmpfs = (unsigned long) sfs.f_type == 0x01021994UL || (unsigned long) sfs.f_type == 0x858458F6UL;
    if (tmpfs && !o.allow_tmpfs) {
        fprintf(stderr, "foleni-bench-sched-scale: %s is tmpfs: use --dir on a disk or --allow-tmpfs\n", base);
        return 2;
    }
    if (bp_path(bp_tempdir, sizeof bp_tempdir, "%s/foleni-bench-sched-scale.XXXXXX", base) || !mkdtemp(bp_tempdir)) {
        fprintf(stderr, "foleni-bench-sched-scale: cannot make a directory in %s\n", base);
        bp_tempdir[0] = '\0';
        return 1;
    }
    zsys_handler_set(NULL);          /* our own signal handlers, not CZMQ's */
    fl_log_init("bench", FL_LOG_WARN);
    if (sodium_init() < 0)
        return 1;
    bp_setup("foleni-bench-sched-scale");
    signal(SIGPIPE, SIG_IGN);
    unsigned budget = (unsigned) ((o.book ? o.nbatches * (o.seconds + 5) : 0)
                                  + (o.avail ? 1800 + o.queries / 500.0 : 0) + 60);
    alarm(budget);
    printf("foleni-bench-sched-scale: stores in %s (%s); alarm at %u s\n", bp_tempdir,
           (unsigned long) sfs.f_type == 0xEF53 ? "ext4" : tmpfs ? "tmpfs" : "another filesystem", budget);
    int rc = 0;
    if (o.avail && rc == 0)          /* first: the fill runs in a child, before this process opens anything */
        rc = s_part_avail(&o, bp_tempdir);
    if (o.book && rc == 0)
        rc = s_part_book(&o, bp_tempdir);
    if (bp_keep)
        printf("kept: %s\n", bp_tempdir);
    printf("%s\n", rc == 0 ? "ok" : "FAILED");
    return rc == 0 ? 0 : 1;
}
