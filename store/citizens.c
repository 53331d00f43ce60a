/*  citizens.c — the citizen index's own LMDB environment: opening it, deciding
 *  whether it can be trusted, rebuilding it from the bookings.
 *
 *  Why a second environment: the index is keyed by the keyed hash of an ID
 *  number, so every new booking lands on a random leaf of its B-tree, and in
 *  the durable environment that leaf (4 KiB) was written and flushed with
 *  every commit: most of what a booking cost the disk.  Here it is committed
 *  without sync (MDB_NOSYNC): the kernel writes it back in the background.
 *  It is derived data: every booking record holds its ID hash, service and
 *  state, so the index can always be built again from `bookings`, which stay
 *  durable.  Nothing acknowledged depends on the index reaching the disk.
 *
 *  When may the index be used as found?  Its `state` database says which
 *  durable transaction it matches (`matched`), the boot id of the machine
 *  that last wrote it (`boot`) and whether the last writer stopped cleanly
 *  (`clean`, after a full sync).  After a process crash the page cache still
 *  holds every committed index page, so the index is whole; it matches the
 *  durable store unless the process died between the two commits.  After a
 *  machine crash its file may hold pages written back out of order, so an
 *  index last written under another boot, without a clean stop, is rebuilt.
 *  docs/store.md, "The citizen index", has the whole argument.
 */
#include "store/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libfoleni/log.h"
#include "libfoleni/msg.h"
#include "store/check.h"
#include "store/keys.h"

#define REBUILD_CHUNK 100000            /* index entries per transaction while rebuilding */

static int
s_lmdb(fl_error_t *err, int rc, const char *what)
{
    return fl_error_set(err, FL_E_STORE, "", "citizen index: %s: %s", what, mdb_strerror(rc));
}

/* The kernel's boot id, or "" when it cannot be read (then every unclean
 * stop counts as a machine restart: rebuild). */
static void
s_boot_id(const char *given, char out[CITIZENS_BOOT_MAX])
{
    out[0] = '\0';
    if (given) {
        snprintf(out, CITIZENS_BOOT_MAX, "%s", given);
        return;
    }
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, CITIZENS_BOOT_MAX - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

static int
s_dir(const store_t *self, char *out, size_t cap, const char *file)
{
    int n = snprintf(out, cap, "%s/" CITIZENS_DIR "%s%s", self->path, file ? "/" : "", file ? file : "");
    return n > 0 && (size_t) n < cap ? 0 : -1;
}

/* Open the environment in citizens/ (created by a writer). */
static int
s_env_open(store_t *self, fl_error_t *err)
{
    char dir[4096];
    if (s_dir(self, dir, sizeof dir, NULL))
        return fl_error_set(err, FL_E_IO, "", "%s: path too long", self->path);
    int rc = mdb_env_create(&self->cenv);
    if (rc)
        return s_lmdb(err, rc, "mdb_env_create");
    mdb_env_set_maxdbs(self->cenv, 2);
    mdb_env_set_maxreaders(self->cenv, 126);
    if (!rc)
        rc = mdb_env_set_mapsize(self->cenv, CITIZENS_MAP_SIZE);
    unsigned flags = MDB_NOTLS | MDB_NOSYNC | (self->read_only ? MDB_RDONLY : 0);
    if (!rc)
        rc = mdb_env_open(self->cenv, dir, flags, 0640);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = mdb_txn_begin(self->cenv, NULL, self->read_only ? MDB_RDONLY : 0, &txn);
    unsigned create = self->read_only ? 0 : MDB_CREATE;
    if (!rc)
        rc = mdb_dbi_open(txn, "index", create, &self->cindex);
    if (!rc)
        rc = mdb_dbi_open(txn, "state", create, &self->cstate);
    if (!rc) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc) {
        if (txn)
            mdb_txn_abort(txn);
        mdb_env_close(self->cenv);
        self->cenv = NULL;
        return s_lmdb(err, rc, "opening");
    }
    return 0;
}

static int
s_put_state(store_t *self, MDB_txn *txn, const char *name, const void *val, size_t len)
{
    MDB_val k = { strlen(name), (void *) name }, v = { len, (void *) val };
    return mdb_put(txn, self->cstate, &k, &v, 0);
}

int
citizens_mark(store_t *self, MDB_txn *ctxn, uint64_t txnid)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t) (txnid >> (56 - 8 * i));
    return s_put_state(self, ctxn, "matched", be, sizeof be);
}

/* Mark the index in use under this boot (not clean) or cleanly stopped, and
 * sync it: a later start trusts what these say. */
static int
s_set_clean(store_t *self, const char *boot, bool clean)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->cenv, NULL, 0, &txn);
    if (rc)
        return rc;
    uint8_t c = clean;
    rc = s_put_state(self, txn, "clean", &c, 1);
    if (!rc && boot)
        rc = s_put_state(self, txn, "boot", boot, strlen(boot));
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)))
        return rc;
    return mdb_env_sync(self->cenv, 1);
}

/* The durable store's last committed transaction. */
static uint64_t
s_durable_txnid(store_t *self)
{
    MDB_envinfo info;
    return mdb_env_info(self->env, &info) == 0 ? (uint64_t) info.me_last_txnid : 0;
}

/* Why the index as found cannot be used, or NULL when it can. */
static const char *
s_distrust(store_t *self, const char *boot)
{
    MDB_txn *txn;
    if (mdb_txn_begin(self->cenv, NULL, MDB_RDONLY, &txn))
        return "the index cannot be read";
    const char *why = NULL;
    MDB_val k = { 7, "matched" }, v;
    uint64_t matched = 0;
    if (mdb_get(txn, self->cstate, &k, &v) || v.mv_size != 8)
        why = "the index has no state";
    else {
        for (int i = 0; i < 8; i++)
            matched = matched << 8 | ((const uint8_t *) v.mv_data)[i];
        if (matched != s_durable_txnid(self))
            why = "the index does not match the store (a stop between the two commits, or a copied store)";
    }
    if (!why) {
        MDB_val bk = { 4, "boot" }, bv, ck = { 5, "clean" }, cv;
        bool same_boot = boot[0] && mdb_get(txn, self->cstate, &bk, &bv) == 0 && bv.mv_size == strlen(boot)
                      && memcmp(bv.mv_data, boot, bv.mv_size) == 0;
        bool clean = mdb_get(txn, self->cstate, &ck, &cv) == 0 && cv.mv_size == 1 && *(uint8_t *) cv.mv_data;
        if (!same_boot && !clean)
            why = "the machine restarted since the index was last written, without a clean stop";
    }
    mdb_txn_abort(txn);
    return why;
}

/* Stores written before the index had its own environment kept it in the
 * durable one: empty that copy (the rebuild that follows makes the new one). */
static int
s_drop_durable_copy(store_t *self, fl_error_t *err)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        return s_lmdb(err, rc, "starting a write transaction");
    if ((rc = mdb_stat(txn, self->dbi[STORE_DB_BOOKINGS_BY_CITIZEN], &st)) == 0 && st.ms_entries == 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    if (!rc)
        rc = mdb_drop(txn, self->dbi[STORE_DB_BOOKINGS_BY_CITIZEN], 0);
    if (rc) {
        mdb_txn_abort(txn);
        return s_lmdb(err, rc, "emptying the old index in the durable store");
    }
    if ((rc = mdb_txn_commit(txn)))
        return s_lmdb(err, rc, "emptying the old index in the durable store");
    fl_log(FL_LOG_INFO, "moved the citizen index out of the durable store", FL_S("path", self->path), NULL);
    return 0;
}

int
citizens_open(store_t *self, const char *boot_id, fl_error_t *err)
{
    char data[4096], dir[4096];
    if (s_dir(self, data, sizeof data, "data.mdb") || s_dir(self, dir, sizeof dir, NULL))
        return fl_error_set(err, FL_E_IO, "", "%s: path too long", self->path);
    struct stat st;
    bool present = stat(data, &st) == 0;
    if (self->read_only) {
        if (!present)
            return 0;                   /* never built: lookups find nothing */
        return s_env_open(self, err);
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return fl_error_set(err, FL_E_IO, "", "%s: cannot create: %s", dir, strerror(errno));
    int rc = s_drop_durable_copy(self, err);
    if (rc)
        return rc;
    s_boot_id(boot_id, self->cboot);
    const char *why = present ? NULL : "there is no index yet";
    if (present) {
        if ((rc = s_env_open(self, err))) {
            why = "the index cannot be opened";
            fl_log(FL_LOG_WARN, "citizen index unreadable", FL_S("reason", err->message), NULL);
        } else
            why = s_distrust(self, self->cboot);
    }
    if (why)
        return citizens_rebuild(self, why, err);
    if ((rc = s_set_clean(self, self->cboot, false)))
        return s_lmdb(err, rc, "marking it in use");
    return 0;
}

/* ---- rebuilding ---- */

typedef struct {
    store_t *self;
    MDB_txn *w;
    size_t in_txn, entries, bookings;
} rebuild_t;

static int
s_rebuild_one(rebuild_t *r, const MDB_val *k, const MDB_val *v)
{
    r->bookings++;
    fl_msg_t *rec = fl_msg_decode_as(FL_T_BOOKING_REC, v->mv_data, v->mv_size, NULL);
    if (!rec) {
        fl_log(FL_LOG_WARN, "citizen index rebuild: a booking record does not decode; skipped",
               FL_I("key_bytes", (int) k->mv_size), NULL);
        return 0;                       /* foleni-store check reports it */
    }
    int rc = 0;
    size_t hlen = 0;
    const uint8_t *hash = fl_msg_bin(rec, FL_F_ID_HASH, &hlen);
    const char *ref = fl_msg_str(rec, FL_F_REF), *service = fl_msg_str(rec, FL_F_SERVICE);
    if (store_booking_holds_place(fl_msg_str(rec, FL_F_STATE)) && hash && hlen == STORE_HASH_WIDTH && ref
        && service) {
        store_key_t ck = store_key_citizen(hash, service);
        MDB_val key = { ck.len, ck.b }, val = { strlen(ref), (void *) ref };
        rc = mdb_put(r->w, r->self->cindex, &key, &val, 0);
        r->entries++;
        r->in_txn++;
    }
    fl_msg_destroy(&rec);
    if (!rc && r->in_txn >= REBUILD_CHUNK) {
        if (!(rc = mdb_txn_commit(r->w)))
            rc = mdb_txn_begin(r->self->cenv, NULL, 0, &r->w);
        else
            r->w = NULL;
        r->in_txn = 0;
    }
    return rc;
}

int
citizens_rebuild(store_t *self, const char *reason, fl_error_t *err)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fl_log(FL_LOG_INFO, "rebuilding the citizen index from the bookings", FL_S("path", self->path),
           FL_S("reason", reason), NULL);
    if (self->cenv) {
        mdb_env_close(self->cenv);
        self->cenv = NULL;
    }
    char file[4096];
    if (s_dir(self, file, sizeof file, "data.mdb") == 0 && unlink(file) != 0 && errno != ENOENT)
        return fl_error_set(err, FL_E_IO, "", "%s: cannot remove: %s", file, strerror(errno));
    if (s_dir(self, file, sizeof file, "lock.mdb") == 0 && unlink(file) != 0 && errno != ENOENT)
        return fl_error_set(err, FL_E_IO, "", "%s: cannot remove: %s", file, strerror(errno));
    int rc = s_env_open(self, err);
    if (rc)
        return rc;
    /* One read snapshot of the durable store: the index made from it matches
     * that snapshot's transaction (nothing else writes while we do). */
    MDB_txn *read = NULL;
    MDB_cursor *cur = NULL;
    rebuild_t r = { .self = self };
    rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &read);
    if (!rc)
        rc = mdb_cursor_open(read, self->dbi[STORE_DB_BOOKINGS], &cur);
    if (!rc)
        rc = mdb_txn_begin(self->cenv, NULL, 0, &r.w);
    MDB_val k, v;
    int got = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (!rc && got == 0) {
        rc = s_rebuild_one(&r, &k, &v);
        if (!rc)
            got = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (!rc && got != MDB_NOTFOUND)
        rc = got;
    uint64_t snapshot = read ? (uint64_t) mdb_txn_id(read) : 0;
    if (cur)
        mdb_cursor_close(cur);
    if (read)
        mdb_txn_abort(read);
    if (!rc)
        rc = citizens_mark(self, r.w, snapshot);
    if (!rc) {
        rc = mdb_txn_commit(r.w);
        r.w = NULL;
    }
    if (r.w)
        mdb_txn_abort(r.w);
    if (!rc)
        rc = s_set_clean(self, self->cboot, false);
    if (rc) {
        mdb_env_close(self->cenv);
        self->cenv = NULL;
        return s_lmdb(err, rc, "rebuilding");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    self->rebuild_reason = reason;
    self->rebuild_ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
    fl_log(FL_LOG_INFO, "citizen index rebuilt", FL_U("bookings", r.bookings), FL_U("entries", r.entries),
           FL_D("ms", self->rebuild_ms), NULL);
    return 0;
}

void
citizens_close(store_t *self)
{
    if (!self->cenv)
        return;
    if (!self->read_only && !self->cbroken) {
        int rc = s_set_clean(self, NULL, true);
        if (rc)
            fl_log(FL_LOG_WARN, "could not mark the citizen index clean; it will be rebuilt at the next start",
                   FL_S("path", self->path), FL_S("reason", mdb_strerror(rc)), NULL);
    }
    mdb_env_close(self->cenv);
    self->cenv = NULL;
}
