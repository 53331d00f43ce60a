/*  metrics.c — the scheduler's counters as a Prometheus text file.
 *
 *  The scheduler serves no HTTP: it is a worker of the broker and nothing
 *  else listens in it, which keeps the one writer of the store small and
 *  out of reach.  Its counters go to a file instead, rewritten every second
 *  (`foleni-scheduler --metrics-file`), for node_exporter's textfile
 *  collector, the same road the broker's counters take
 *  (deploy/monitoring/foleni-broker-stats).  The file is written beside its
 *  final name and renamed over it, so a scraper never reads half of one.
 *  foleni_scheduler_metrics_time_seconds says when it was written: a
 *  scheduler that hangs leaves a file that stops getting younger, which an
 *  alert can see (deploy/monitoring/foleni-alerts.yaml).
 */
#include "scheduler/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libfoleni/log.h"

int
sched_metrics_write(sched_t *self, const char *path, int64_t now)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid()) >= (int) sizeof tmp) {
        errno = ENAMETOOLONG;
        return FL_E_INVALID;
    }
    /* The folder is node_exporter's, writable by others: never follow or
     * reuse what is already there under the temporary name (a link planted
     * there would make us truncate its target).  Remove it, then create
     * afresh; a name planted again in between makes this write fail. */
    unlink(tmp);
    /* 0644 whatever the umask (the unit runs with 0077): node_exporter runs
     * as another user, and counters are not secret */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 && fchmod(fd, 0644) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int saved = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        errno = saved;
        return FL_E_IO;
    }
    const sched_stats_t *st = &self->stats;
    store_stat_t ss = { 0 };
    bool have_store = store_stat(self->store, &ss, NULL) == 0;
    static const struct { const char *name, *help; size_t offset; } counters[] = {
        { "batches", "write transactions committed (each one flush)", offsetof(sched_stats_t, batches) },
        { "failed_batches", "write transactions the store failed (every request in them refused)",
          offsetof(sched_stats_t, failed_batches) },
        { "redone_batches", "batches run again with each request nested (one failed after writing)",
          offsetof(sched_stats_t, redone) },
        { "requests", "requests handled", offsetof(sched_stats_t, requests) },
        { "refused", "requests answered with an error", offsetof(sched_stats_t, refused) },
        { "repeats", "requests answered from the idempotency store", offsetof(sched_stats_t, repeats) },
        { "events", "events handed to the bus", offsetof(sched_stats_t, events) },
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *) st + counters[i].offset, sizeof v);
        fprintf(f, "# HELP foleni_scheduler_%s_total %s.\n# TYPE foleni_scheduler_%s_total counter\n"
                   "foleni_scheduler_%s_total %llu\n",
                counters[i].name, counters[i].help, counters[i].name, counters[i].name, (unsigned long long) v);
    }
    fprintf(f, "# HELP foleni_scheduler_write_seconds_total time inside write transactions, flush included.\n"
               "# TYPE foleni_scheduler_write_seconds_total counter\n"
               "foleni_scheduler_write_seconds_total %.6f\n", st->write_ms / 1000.0);
    if (have_store) {                   /* no figures rather than zeros */
        fprintf(f, "# HELP foleni_scheduler_store_used_bytes pages of the store in use.\n"
                   "# TYPE foleni_scheduler_store_used_bytes gauge\n"
                   "foleni_scheduler_store_used_bytes %llu\n", (unsigned long long) ss.used_bytes);
        fprintf(f, "# HELP foleni_scheduler_store_map_bytes the store's map size (it doubles when full).\n"
                   "# TYPE foleni_scheduler_store_map_bytes gauge\n"
                   "foleni_scheduler_store_map_bytes %llu\n", (unsigned long long) ss.map_size);
        fprintf(f, "# HELP foleni_scheduler_citizen_index_bytes pages of the citizen index in use (citizens/).\n"
                   "# TYPE foleni_scheduler_citizen_index_bytes gauge\n"
                   "foleni_scheduler_citizen_index_bytes %llu\n", (unsigned long long) ss.index_used_bytes);
    }
    fprintf(f, "# HELP foleni_scheduler_metrics_time_seconds when this file was written (unix time).\n"
               "# TYPE foleni_scheduler_metrics_time_seconds gauge\n"
               "foleni_scheduler_metrics_time_seconds %lld\n", (long long) now);
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return FL_E_IO;
    }
    return 0;
}
