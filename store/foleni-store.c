/*  foleni-store — the operator's tool for a scheduler's store.
 *
 *    foleni-store [--data DIR] init            create an empty store (if none) and stat it
 *    foleni-store [--data DIR] stat            sizes, entries per database
 *    foleni-store [--data DIR] check           every index agrees with its records
 *    foleni-store [--data DIR] dump [DB...]    every entry, human-readable
 *    foleni-store [--data DIR] backup DEST     compacted hot copy into DEST
 *
 *  Apart from init, it opens the store read-only, so it runs beside a live
 *  scheduler (LMDB lets readers and the one writer share the environment).  Exit codes: 0 fine,
 *  1 check found problems, 2 usage, 3 the store could not be opened or read.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libfoleni/json.h"
#include "libfoleni/log.h"
#include "store/check.h"
#include "store/store.h"

#define EXIT_PROBLEMS 1
#define EXIT_USAGE    2
#define EXIT_STORE    3

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: foleni-store [--data DIR] COMMAND\n"
        "\n"
        "commands:\n"
        "  init            create an empty store if there is none, then stat it\n"
        "  stat            map size, space used, readers, entries per database\n"
        "  check           verify every index agrees with its records; lists problems\n"
        "  dump [DB...]    print every entry (all databases, or the ones named)\n"
        "  backup DEST     write a compacted copy into the existing empty directory DEST\n"
        "\n"
        "options:\n"
        "  -d, --data DIR  the store directory (default: $FOLENI_DATA, else var/data)\n"
        "  -h, --help      this text\n"
        "\n"
        "exit codes: 0 ok, 1 check found problems, 2 usage, 3 store unreadable\n");
}

static const char *
s_time(uint64_t t, char *out, size_t cap)
{
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

/* A key as a person reads it, by the layout of its database (keys.h). */
static void
s_key_text(store_db_t db, const uint8_t *k, size_t n, char *out, size_t cap)
{
    char a[STORE_CODE_WIDTH + 1], b[STORE_CODE_WIDTH + 1], t[32];
    switch (db) {
    case STORE_DB_OFFICES:
        if (n == 8) { snprintf(out, cap, "%s", store_code_get(k, a)); return; }
        break;
    case STORE_DB_SERVICES:
        if (n == 16) { snprintf(out, cap, "%s/%s", store_code_get(k, a), store_code_get(k + 8, b)); return; }
        break;
    case STORE_DB_COUNTERS:
        if (n == 10) { snprintf(out, cap, "%s/%u", store_code_get(k, a), (unsigned) store_be_get(k + 8, 2)); return; }
        break;
    case STORE_DB_SLOTS:
    case STORE_DB_PLACES:
        if (n == 24) {
            snprintf(out, cap, "%s/%s/%s", store_code_get(k, a), store_code_get(k + 8, b),
                     s_time(store_be_get(k + 16, 8), t, sizeof t));
            return;
        }
        break;
    case STORE_DB_TICKETS:
        if (n == 17) {
            snprintf(out, cap, "%s/%u/%c-%03u", store_code_get(k, a), (unsigned) store_be_get(k + 8, 4),
                     k[12], (unsigned) store_be_get(k + 13, 4));
            return;
        }
        break;
    case STORE_DB_EVENTS:
        if (n == 16) {
            snprintf(out, cap, "%s/%llu", store_code_get(k, a), (unsigned long long) store_be_get(k + 8, 8));
            return;
        }
        break;
    case STORE_DB_IDEM_BY_EXPIRY:
        if (n > 8) {
            snprintf(out, cap, "%s/%.*s", s_time(store_be_get(k, 8), t, sizeof t), (int) (n - 8), (const char *) (k + 8));
            return;
        }
        break;
    case STORE_DB_BOOKINGS_BY_CITIZEN:
        if (n == 40) {
            snprintf(out, cap, "%02x%02x%02x%02x.../%s", k[0], k[1], k[2], k[3], store_code_get(k + 32, b));
            return;
        }
        break;
    default: {                              /* text keys: meta, bookings, idempotency */
        size_t i = 0;
        for (; i < n && i + 1 < cap; i++)
            out[i] = (k[i] >= 0x20 && k[i] < 0x7f) ? (char) k[i] : '?';
        out[i] = '\0';
        return;
    }
    }
    snprintf(out, cap, "(malformed key of %zu bytes)", n);
}

typedef struct { store_db_t db; size_t count; } dump_t;

static int
s_dump_entry(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg)
{
    dump_t *d = arg;
    char ktext[160];
    s_key_text(d->db, key, klen, ktext, sizeof ktext);
    fl_type_t type = store_db_record_type(d->db);
    store_places_t places;
    if (d->db == STORE_DB_PLACES && klen == 24 && store_places_parse(val, vlen, &places) == 0) {
        char office[STORE_CODE_WIDTH + 1], service[STORE_CODE_WIDTH + 1];
        printf("%s %s {\"office\":\"%s\",\"service\":\"%s\",\"start\":%llu,\"capacity\":%u,\"taken\":%u}\n",
               store_db_name(d->db), ktext, store_code_get(key, office), store_code_get(key + 8, service),
               (unsigned long long) store_be_get(key + 16, 8), places.capacity, places.taken);
    } else if (type == FL_T_NONE) {
        printf("%s %s -> %.*s\n", store_db_name(d->db), ktext, (int) vlen, (const char *) val);
    } else {
        fl_error_t err;
        fl_msg_t *rec = fl_msg_decode_as(type, val, vlen, &err);
        json_t *j = rec ? fl_msg_to_json(rec) : NULL;
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (text)
            printf("%s %s %s\n", store_db_name(d->db), ktext, text);
        else
            printf("%s %s DAMAGED: %s\n", store_db_name(d->db), ktext, rec ? "cannot render" : err.message);
        free(text);
        json_decref(j);
        fl_msg_destroy(&rec);
    }
    d->count++;
    return 0;
}

typedef struct { int ndbs; int dbs[STORE_DB__COUNT]; } dump_args_t;

static int
s_dump(store_txn_t *txn, void *arg)
{
    dump_args_t *a = arg;
    for (int i = 0; i < a->ndbs; i++) {
        dump_t d = { .db = (store_db_t) a->dbs[i] };
        int rc = store_scan(txn, d.db, NULL, NULL, s_dump_entry, &d);
        if (rc)
            return rc;
    }
    return 0;
}

static void
s_report(const char *db, const char *problem, void *arg)
{
    (void) arg;
    printf("problem db=%s %s\n", db, problem);
}

int
main(int argc, char **argv)
{
    fl_log_init("foleni-store", FL_LOG_WARN);
    const char *data = getenv("FOLENI_DATA");
    if (!data || !*data)
        data = "var/data";
    static const struct option longopts[] = {
        { "data", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' }, { 0 }
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "+d:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': data = optarg; break;
        case 'h': s_usage(stdout); return 0;
        default:  s_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind++];
    bool known = !strcmp(cmd, "init") || !strcmp(cmd, "stat") || !strcmp(cmd, "check") || !strcmp(cmd, "dump") || !strcmp(cmd, "backup");
    if (!known) {
        fprintf(stderr, "foleni-store: unknown command '%s'\n", cmd);
        s_usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(cmd, "backup") && optind + 1 != argc) {
        fprintf(stderr, "foleni-store: backup needs one destination directory\n");
        return EXIT_USAGE;
    }
    dump_args_t dump = { 0 };
    if (!strcmp(cmd, "dump")) {
        for (int i = optind; i < argc; i++) {
            int db = store_db_by_name(argv[i]);
            if (db < 0) {
                fprintf(stderr, "foleni-store: no database named '%s'\n", argv[i]);
                return EXIT_USAGE;
            }
            dump.dbs[dump.ndbs++] = db;
            if (dump.ndbs == STORE_DB__COUNT)
                break;
        }
        if (dump.ndbs == 0)
            for (int i = 0; i < STORE_DB__COUNT; i++)
                dump.dbs[dump.ndbs++] = i;
    } else if (strcmp(cmd, "backup") && optind != argc) {
        fprintf(stderr, "foleni-store: %s takes no arguments\n", cmd);
        return EXIT_USAGE;
    }

    fl_error_t err;
    /* init writes, so it is refused beside a running scheduler like a second
     * scheduler would be; everything else only reads. */
    store_options_t opts = { .read_only = strcmp(cmd, "init") != 0, .sole_writer = true };
    store_t *store = store_open(data, &opts, &err);
    if (!store) {
        fprintf(stderr, "foleni-store: %s\n", err.message);
        return EXIT_STORE;
    }
    int status = 0;
    if (!strcmp(cmd, "stat") || !strcmp(cmd, "init")) {
        store_stat_t st;
        if (store_stat(store, &st, &err)) {
            fprintf(stderr, "foleni-store: %s\n", err.message);
            status = EXIT_STORE;
        } else {
            printf("path %s\nschema %u\nmap_size %zu\nused_bytes %zu\npage_size %zu\n"
                   "last_txn %zu\nreaders %u\nstale_readers_cleared %u\n",
                   data, st.schema_version, st.map_size, st.used_bytes, st.page_size, st.last_txn,
                   st.readers_in_use, st.stale_readers_cleared);
            for (int i = 0; i < STORE_DB__COUNT; i++)
                printf("entries.%s %zu\n", store_db_name((store_db_t) i), st.entries[i]);
            printf("citizen_index %s\ncitizen_index_used_bytes %zu\n", st.index_present ? "present" : "absent",
                   st.index_used_bytes);
        }
    } else if (!strcmp(cmd, "check")) {
        size_t problems = 0;
        bool compared = false;
        store_stat_t st;
        bool present = store_stat(store, &st, NULL) == 0 && st.index_present;
        if (store_check(store, s_report, NULL, &problems, &compared, &err)) {
            fprintf(stderr, "foleni-store: %s\n", err.message);
            status = EXIT_STORE;
        } else {
            if (!compared && !present)
                printf("note: the citizen index (with the places taken in each slot) is not built yet (the "
                       "scheduler or `foleni-store init` builds it from the bookings); it was not compared\n");
            else if (!compared)
                printf("note: the citizen index (with the places taken in each slot) could not be read in step "
                       "with the bookings (behind them, or not trusted after a crash; the scheduler rebuilds it "
                       "at its next start); it was not compared\n");
            printf("check: %zu problem%s\n", problems, problems == 1 ? "" : "s");
            status = problems ? EXIT_PROBLEMS : 0;
        }
    } else if (!strcmp(cmd, "dump")) {
        if (store_read(store, s_dump, &dump, &err)) {
            fprintf(stderr, "foleni-store: reading failed\n");
            status = EXIT_STORE;
        }
    } else {
        if (store_backup(store, argv[optind], &err)) {
            fprintf(stderr, "foleni-store: %s\n", err.message);
            status = EXIT_STORE;
        } else
            printf("backup written to %s\n", argv[optind]);
    }
    store_destroy(&store);
    return status;
}
