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
 *  When may the index be used as found?  A small file beside it,
 *  citizens/state (written whole, synced and renamed into place), says the
 *  boot id of the machine that last wrote the index and whether its last
 *  writer stopped cleanly: `clean 1` is written only after a full sync of the
 *  index succeeded, and `clean 0` before anything is written under a new
 *  open.  After a process crash the page cache still holds every committed
 *  index page, so the index is whole; after a machine crash its file may
 *  hold pages written back out of order, so an index last written under
 *  another boot without a clean stop is rebuilt, without opening it (its
 *  pages could point anywhere).  Then the index's own `state` database must
 *  say it matches the durable store's last transaction (`matched`) and the
 *  durable file it was built beside (`durable`: device and inode of
 *  data.mdb, so a backup restored next to an old index is not taken for its
 *  store).  docs/store.md, "The citizen index", has the whole argument.
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

/* LMDB maps its lock file too, and writes its reader slots through the map:
 * on a full disk, a slot on a page without a block is a SIGBUS.  So the lock
 * file gets its blocks before LMDB opens it.  A new one is made whole under
 * another name and linked into place, so no other process can open it half
 * made; LMDB takes a lock file that is already there at its size
 * (CITIZENS_LOCK_ROOM holds 1,022 reader slots).  One that exists (an older
 * one made by LMDB's ftruncate may have holes) gets blocks for its holes,
 * keeping its size. */
#define CITIZENS_LOCK_ROOM ((off_t) 64 << 10)

static int
s_lock_file_no_room(store_t *self, const char *path, int rc, fl_error_t *err)
{
    fl_log(FL_LOG_ERROR, "no room on the disk for the citizen index's lock file", FL_S("path", path),
           FL_S("reason", strerror(rc)), NULL);
    return fl_error_set(err, FL_E_IO, "", "%s: no room on the disk for the citizen index (%s)", self->path,
                        strerror(rc));
}

static int
s_lock_file_room(store_t *self, fl_error_t *err)
{
    char path[4096], made[4200];
    if (s_dir(self, path, sizeof path, "lock.mdb"))
        return fl_error_set(err, FL_E_IO, "", "%s: path too long", self->path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        int rc = fstat(fd, &st) != 0 ? errno : st.st_size > 0 ? posix_fallocate(fd, 0, st.st_size) : 0;
        close(fd);
        return rc ? s_lock_file_no_room(self, path, rc, err) : 0;
    }
    if (errno != ENOENT)
        return fl_error_set(err, FL_E_IO, "", "%s: %s", path, strerror(errno));
    snprintf(made, sizeof made, "%s.%ld", path, (long) getpid());
    fd = open(made, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return fl_error_set(err, FL_E_IO, "", "%s: %s", made, strerror(errno));
    int rc = posix_fallocate(fd, 0, CITIZENS_LOCK_ROOM);
    close(fd);
    if (!rc && link(made, path) != 0 && errno != EEXIST)      /* EEXIST: another made it first */
        rc = errno;
    unlink(made);
    return rc ? s_lock_file_no_room(self, path, rc, err) : 0;
}

/* Open the environment in citizens/: `fresh` for one a rebuild has just
 * made (its databases are created), otherwise one found on disk, which must
 * have them all (an index without `places` was not built for schema 3: a
 * writer rebuilds it, a reader leaves it out). */
static int
s_env_open(store_t *self, bool fresh, fl_error_t *err)
{
    char dir[4096];
    if (s_dir(self, dir, sizeof dir, NULL))
        return fl_error_set(err, FL_E_IO, "", "%s: path too long", self->path);
    self->creserved = 0;                /* a file opened anew: nothing known yet */
    if (!self->read_only && s_lock_file_room(self, err) != 0)
        return FL_E_IO;
    int rc = mdb_env_create(&self->cenv);
    if (rc)
        return s_lmdb(err, rc, "mdb_env_create");
    mdb_env_set_maxdbs(self->cenv, 3);
    mdb_env_set_maxreaders(self->cenv, 126);
    if (!rc)
        rc = mdb_env_set_mapsize(self->cenv, CITIZENS_MAP_SIZE);
    /* MDB_WRITEMAP: a commit changes the mapped pages in place, with no
     * pwrite per page (the index's pages are never adjacent, so LMDB would
     * write each with a call of its own); the file is sparse, as large as
     * the map.  It rules out LMDB's nested transactions: store.c keeps an
     * undo list instead. */
    unsigned flags = MDB_NOTLS | MDB_NOSYNC | (self->read_only ? MDB_RDONLY : MDB_WRITEMAP);
    if (!rc)
        rc = mdb_env_open(self->cenv, dir, flags, 0640);
    if (!rc)
        mdb_reader_check(self->cenv, NULL);     /* slots of dead readers would pin old pages */
    /* room on the disk before the first write through the map (a new file's
     * databases are made just below) */
    if (!rc && citizens_reserve(self, CITIZENS_RESERVE_AHEAD, err) != 0) {
        mdb_env_close(self->cenv);
        self->cenv = NULL;
        return FL_E_IO;
    }
    MDB_txn *txn = NULL;
    if (!rc)
        rc = mdb_txn_begin(self->cenv, NULL, self->read_only ? MDB_RDONLY : 0, &txn);
    unsigned create = fresh && !self->read_only ? MDB_CREATE : 0;
    if (!rc)
        rc = mdb_dbi_open(txn, "index", create, &self->cindex);
    if (!rc)
        rc = mdb_dbi_open(txn, "state", create, &self->cstate);
    if (!rc && self->schema >= 3)
        rc = mdb_dbi_open(txn, "places", create, &self->cplaces);
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

/* Device and inode of the durable data.mdb. */
static int
s_durable_file(store_t *self, uint64_t out[2])
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", self->path);
    if (stat(path, &st) != 0)
        return -1;
    out[0] = (uint64_t) st.st_dev;
    out[1] = (uint64_t) st.st_ino;
    return 0;
}

int
citizens_mark(store_t *self, MDB_txn *ctxn, uint64_t txnid)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t) (txnid >> (56 - 8 * i));
    return s_put_state(self, ctxn, "matched", be, sizeof be);
}

/* ---- the state file: boot id and clean stop ---- */

/* Read citizens/state.  0 with boot and *clean, or -1 (missing, unreadable,
 * not in its format). */
static int
s_state_read(store_t *self, char boot[CITIZENS_BOOT_MAX], bool *clean)
{
    char path[4096], text[256];
    if (s_dir(self, path, sizeof path, "state"))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    int c = -1;
    char b[CITIZENS_BOOT_MAX] = "";
    if (sscanf(text, "boot %63s\nclean %d\n", b, &c) != 2 || (c != 0 && c != 1))
        return -1;
    snprintf(boot, CITIZENS_BOOT_MAX, "%s", strcmp(b, "-") ? b : "");
    *clean = c == 1;
    return 0;
}

/* Replace citizens/state, durably: a temporary file written and synced,
 * renamed over the old one, the folder synced. */
static int
s_state_write(store_t *self, bool clean)
{
    char path[4096], tmp[4096], dir[4096], text[128];
    if (s_dir(self, path, sizeof path, "state") || s_dir(self, tmp, sizeof tmp, "state.tmp")
        || s_dir(self, dir, sizeof dir, NULL))
        return -1;
    int len = snprintf(text, sizeof text, "boot %s\nclean %d\n", self->cboot[0] ? self->cboot : "-", clean);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    bool ok = write(fd, text, (size_t) len) == len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok = dfd >= 0 && fsync(dfd) == 0;
    if (dfd >= 0)
        close(dfd);
    return ok ? 0 : -1;
}

/* Why the index as found cannot be used (its file is not opened), or NULL. */
static const char *
s_distrust_file(store_t *self)
{
    char boot[CITIZENS_BOOT_MAX];
    bool clean;
    if (s_state_read(self, boot, &clean) != 0)
        return "the index has no state file (a stop while it was being built?)";
    bool same_boot = self->cboot[0] && strcmp(boot, self->cboot) == 0;
    if (!same_boot && !clean)
        return "the machine restarted since the index was last written, without a clean stop";
    return NULL;
}

/* The durable store's last committed transaction. */
static uint64_t
s_durable_txnid(store_t *self)
{
    MDB_envinfo info;
    return mdb_env_info(self->env, &info) == 0 ? (uint64_t) info.me_last_txnid : 0;
}

static uint64_t
s_be64(const void *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | ((const uint8_t *) p)[i];
    return v;
}

/* Why the opened index does not belong with the durable store as it is now,
 * or NULL.  Without `txnid` the transaction it matches is not compared: a
 * reader beside a live writer may open between the writer's two commits,
 * and store_read compares snapshots at every read anyway. */
static const char *
s_distrust_content(store_t *self, bool txnid)
{
    MDB_txn *txn;
    if (mdb_txn_begin(self->cenv, NULL, MDB_RDONLY, &txn))
        return "the index cannot be read";
    const char *why = NULL;
    MDB_val mk = { 7, "matched" }, mv, dk = { 7, "durable" }, dv;
    uint64_t file[2];
    if (mdb_get(txn, self->cstate, &mk, &mv) || mv.mv_size != 8 || mdb_get(txn, self->cstate, &dk, &dv)
        || dv.mv_size != 16)
        why = "the index has no state";
    else if (s_durable_file(self, file) != 0 || s_be64(dv.mv_data) != file[0]
             || s_be64((const uint8_t *) dv.mv_data + 8) != file[1])
        why = "the index was built beside another data.mdb (a restored or copied store)";
    else if (txnid && s_be64(mv.mv_data) != s_durable_txnid(self))
        why = "the index does not match the store (a stop between the two commits)";
    mdb_txn_abort(txn);
    return why;
}

int
citizens_open(store_t *self, const char *boot_id, bool sole_writer, fl_error_t *err)
{
    char data[4096], dir[4096];
    if (s_dir(self, data, sizeof data, "data.mdb") || s_dir(self, dir, sizeof dir, NULL))
        return fl_error_set(err, FL_E_IO, "", "%s: path too long", self->path);
    s_boot_id(boot_id, self->cboot);
    self->csole = sole_writer;
    struct stat st;
    bool present = stat(data, &st) == 0;
    if (self->read_only) {
        /* an index that is absent, untrusted or cannot be opened is left
         * out: the durable store is still readable (and checkable) */
        fl_error_t ignored;
        if (present && !s_distrust_file(self) && s_env_open(self, false, &ignored) == 0
            && s_distrust_content(self, false)) {
            mdb_env_close(self->cenv);
            self->cenv = NULL;
        }
        return 0;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return fl_error_set(err, FL_E_IO, "", "%s: cannot create: %s", dir, strerror(errno));
    const char *why = self->upgrade_reason ? self->upgrade_reason
                    : present ? s_distrust_file(self) : "there is no index yet";
    if (!why) {
        if (s_env_open(self, false, err) != 0) {
            fl_log(FL_LOG_WARN, "citizen index unreadable", FL_S("reason", err->message), NULL);
            why = "the index cannot be opened";
        } else
            why = s_distrust_content(self, true);
    }
    if (why)
        return citizens_rebuild(self, why, err);
    if (s_state_write(self, false) != 0)        /* in use: not clean until a clean stop */
        return fl_error_set(err, FL_E_IO, "", "%s/state: cannot write: %s", dir, strerror(errno));
    return 0;
}

/* ---- rebuilding ---- */

typedef struct {
    store_t *self;
    MDB_txn *w;
    size_t in_txn, entries, bookings, slots, places, over, homeless;
    fl_error_t *err;
    bool no_room;                       /* citizens_reserve refused: err says why */
} rebuild_t;

/* Room for the next transaction of a rebuild: each one may copy every leaf
 * of the trees made so far (the copies of the last two transactions cannot
 * be reused yet) and adds up to REBUILD_CHUNK entries.  An index entry takes
 * about 100 bytes of a tree filled at random; 160 leaves room to spare.  A
 * places record takes about 43 bytes of a tree filled in key order (the
 * slots come in order): 48 covers one copy of all of it, more than the
 * copies a transaction of REBUILD_CHUNK places makes in a large tree (at
 * most one leaf each), without setting aside twice the disk at national
 * scale (49 M slots: a 2.0 GiB tree, 2.2 GiB more kept ready). */
static int
s_rebuild_room(rebuild_t *r)
{
    size_t ahead = (r->entries + REBUILD_CHUNK) * 160 + r->slots * 48 + CITIZENS_RESERVE_AHEAD;
    if (citizens_reserve(r->self, ahead, r->err) == 0)
        return 0;
    r->no_room = true;
    return ENOSPC;
}

/* After each put: commit every REBUILD_CHUNK of them, so that one
 * transaction never holds the whole index. */
static int
s_rebuild_step(rebuild_t *r)
{
    if (++r->in_txn < REBUILD_CHUNK)
        return 0;
    int rc = mdb_txn_commit(r->w);
    r->w = NULL;                        /* gone, committed or not */
    if (!rc)
        rc = s_rebuild_room(r);
    if (!rc)
        rc = mdb_txn_begin(r->self->cenv, NULL, 0, &r->w);
    r->in_txn = 0;
    return rc;
}

static int
s_put_places(rebuild_t *r, const MDB_val *key, uint32_t capacity, uint32_t taken)
{
    uint8_t be[STORE_PLACES_LEN];
    store_be_put(be, capacity, 4);
    store_be_put(be + 4, taken, 4);
    MDB_val val = { sizeof be, be };
    return mdb_put(r->w, r->self->cplaces, (MDB_val *) key, &val, 0);
}

/* A durable slot record: its places, with nothing taken yet. */
static int
s_rebuild_slot(rebuild_t *r, const MDB_val *k, const MDB_val *v)
{
    store_slot_t slot;
    if (k->mv_size != 24 || store_slot_parse(v->mv_data, v->mv_size, &slot) != 0) {
        fl_msg_t *rec = k->mv_size == 24 ? fl_msg_decode_as(FL_T_SLOT_REC, v->mv_data, v->mv_size, NULL) : NULL;
        if (!rec) {
            fl_log(FL_LOG_WARN, "citizen index rebuild: a slot record does not decode; skipped",
                   FL_I("key_bytes", (int) k->mv_size), NULL);
            return 0;                   /* foleni-store check reports it */
        }
        slot.capacity = (uint32_t) fl_msg_uint(rec, FL_F_CAPACITY);
        fl_msg_destroy(&rec);
    }
    r->slots++;
    int rc = s_put_places(r, k, slot.capacity, 0);
    return rc ? rc : s_rebuild_step(r);
}

/* One more place taken in the slot of a booking that holds one.  A booking
 * whose slot has no durable record (a damaged store: check reports it) gets
 * a places record of capacity 0, so that its slot is full rather than open
 * to more bookings than anyone decided. */
static int
s_rebuild_place(rebuild_t *r, fl_msg_t *rec)
{
    const char *office = fl_msg_str(rec, FL_F_OFFICE), *service = fl_msg_str(rec, FL_F_SERVICE);
    if (!office || !service)
        return 0;
    store_key_t sk = store_key_slot(office, service, fl_msg_uint(rec, FL_F_START));
    MDB_val key = { sk.len, sk.b }, v;
    uint32_t capacity = 0, taken = 0;
    int rc = mdb_get(r->w, r->self->cplaces, &key, &v);
    if (rc == 0 && v.mv_size == STORE_PLACES_LEN) {
        capacity = (uint32_t) store_be_get(v.mv_data, 4);
        taken = (uint32_t) store_be_get((const uint8_t *) v.mv_data + 4, 4);
    } else if (rc == 0 || rc == MDB_NOTFOUND)
        r->homeless++;
    else
        return rc;
    taken++;
    r->places++;
    if (taken == capacity + 1)
        r->over++;
    rc = s_put_places(r, &key, capacity, taken);
    return rc ? rc : s_rebuild_step(r);
}

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
        r->entries += rc == 0;
        if (!rc)
            rc = s_rebuild_step(r);
    }
    if (!rc && store_booking_holds_place(fl_msg_str(rec, FL_F_STATE)))
        rc = s_rebuild_place(r, rec);
    fl_msg_destroy(&rec);
    return rc;
}

/* Hand every entry of the durable database dbi, in the read snapshot, to
 * each.  0 or an LMDB code (each's own). */
typedef int (rebuild_each_fn)(rebuild_t *r, const MDB_val *k, const MDB_val *v);

static int
s_rebuild_walk(rebuild_t *r, MDB_txn *read, MDB_dbi dbi, rebuild_each_fn *each)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(read, dbi, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    int got = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (!rc && got == 0) {
        rc = each(r, &k, &v);
        if (!rc)
            got = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc ? rc : got == MDB_NOTFOUND ? 0 : got;
}

int
citizens_reserve(store_t *self, size_t ahead, fl_error_t *err)
{
    if (!self->cenv || self->read_only)
        return 0;
    MDB_envinfo info;
    MDB_stat st;
    int fd;
    int rc = mdb_env_info(self->cenv, &info);
    if (!rc)
        rc = mdb_env_stat(self->cenv, &st);
    if (!rc)
        rc = mdb_env_get_fd(self->cenv, &fd);
    if (rc)
        return s_lmdb(err, rc, "measuring the citizen index");
    off_t want = ((off_t) info.me_last_pgno + 1) * (off_t) st.ms_psize + (off_t) ahead;
    if (want <= self->creserved)
        return 0;                       /* the usual case: one comparison */
    want = (want + CITIZENS_RESERVE_STEP - 1) / CITIZENS_RESERVE_STEP * CITIZENS_RESERVE_STEP;
    if (want > (off_t) CITIZENS_MAP_SIZE)
        want = (off_t) CITIZENS_MAP_SIZE;
    if (want <= self->creserved)
        return 0;                       /* the whole map has its blocks */
    /* the file is as large as the map already: this gives blocks to the
     * holes, it does not change its size */
    rc = posix_fallocate(fd, self->creserved, want - self->creserved);
    if (rc)                             /* the caller logs it (the scheduler at most once a second) */
        return fl_error_set(err, FL_E_IO, "", "%s: no room on the disk for the citizen index to grow (%s); "
                            "nothing was written", self->path, strerror(rc));
    self->creserved = want;
    return 0;
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
    /* the state file first: a stop during the rebuild leaves none, so the
     * next start rebuilds again */
    if (s_dir(self, file, sizeof file, "state") == 0 && unlink(file) != 0 && errno != ENOENT)
        return fl_error_set(err, FL_E_IO, "", "%s: cannot remove: %s", file, strerror(errno));
    if (s_dir(self, file, sizeof file, "data.mdb") == 0 && unlink(file) != 0 && errno != ENOENT)
        return fl_error_set(err, FL_E_IO, "", "%s: cannot remove: %s", file, strerror(errno));
    if (s_dir(self, file, sizeof file, "lock.mdb") == 0 && unlink(file) != 0 && errno != ENOENT)
        return fl_error_set(err, FL_E_IO, "", "%s: cannot remove: %s", file, strerror(errno));
    int rc = s_env_open(self, true, err);
    if (rc)
        return rc;
    /* One read snapshot of the durable store: the index made from it matches
     * that snapshot's transaction (nothing else writes while we do). */
    MDB_txn *read = NULL;
    rebuild_t r = { .self = self, .err = err };
    rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &read);
    if (!rc)
        rc = s_rebuild_room(&r);
    if (!rc)
        rc = mdb_txn_begin(self->cenv, NULL, 0, &r.w);
    /* the slots first (their capacity), then the bookings (the places they
     * take, and the citizen index) */
    if (!rc)
        rc = s_rebuild_walk(&r, read, self->dbi[STORE_DB_SLOTS], s_rebuild_slot);
    if (!rc)
        rc = s_rebuild_walk(&r, read, self->dbi[STORE_DB_BOOKINGS], s_rebuild_one);
    uint64_t snapshot = read ? (uint64_t) mdb_txn_id(read) : 0;
    if (read)
        mdb_txn_abort(read);
    uint64_t ident[2];
    uint8_t durable[16];
    if (!rc && s_durable_file(self, ident) != 0)
        rc = errno ? errno : EIO;
    for (int i = 0; !rc && i < 16; i++)
        durable[i] = (uint8_t) (ident[i / 8] >> (56 - 8 * (i % 8)));
    if (!rc && r.w)
        rc = citizens_mark(self, r.w, snapshot);
    if (!rc && r.w)
        rc = s_put_state(self, r.w, "durable", durable, sizeof durable);
    if (!rc && r.w) {
        rc = mdb_txn_commit(r.w);
        r.w = NULL;
    }
    if (r.w)
        mdb_txn_abort(r.w);
    if (!rc)
        rc = mdb_env_sync(self->cenv, 1);
    if (!rc && s_state_write(self, false) != 0)
        rc = errno ? errno : EIO;
    if (rc) {
        mdb_env_close(self->cenv);
        self->cenv = NULL;
        return r.no_room ? FL_E_IO : s_lmdb(err, rc, "rebuilding");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    self->rebuild_reason = reason;
    self->rebuild_ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
    fl_log(FL_LOG_INFO, "citizen index rebuilt", FL_U("bookings", r.bookings), FL_U("entries", r.entries),
           FL_U("slots", r.slots), FL_U("places_taken", r.places), FL_D("ms", self->rebuild_ms), NULL);
    if (r.over || r.homeless)           /* foleni-store check names them */
        fl_log(FL_LOG_WARN, "citizen index rebuild: bookings hold more places than their slots have",
               FL_U("slots_over_capacity", r.over), FL_U("bookings_without_a_slot_record", r.homeless), NULL);
    self->upgrade_reason = NULL;
    return 0;
}

void
citizens_close(store_t *self)
{
    if (!self->cenv)
        return;
    /* Clean only when this was the store's sole writer and everything it
     * committed reached the disk: then (and only then) a later start under
     * another boot may trust the index as it is. */
    if (!self->read_only && !self->cbroken && self->csole) {
        int rc = mdb_env_sync(self->cenv, 1);
        if (rc || s_state_write(self, true) != 0)
            fl_log(FL_LOG_WARN, "could not mark the citizen index clean; it is rebuilt if the machine restarts "
                   "first", FL_S("path", self->path), FL_S("reason", rc ? mdb_strerror(rc) : strerror(errno)), NULL);
    }
    mdb_env_close(self->cenv);
    self->cenv = NULL;
}
