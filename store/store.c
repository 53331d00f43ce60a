/*  store.c — the LMDB environment and its transactions.  See store.h.
 *
 *  A store_txn_t wraps an MDB_txn and remembers whether LMDB ever answered
 *  MDB_MAP_FULL inside it (or a nested child).  store_write looks at that flag
 *  rather than at what the caller's function returned, so a function that
 *  swallowed the error cannot make a half-done transaction commit: the whole
 *  transaction is thrown away, the map grows, and the function runs again.
 *
 *  The citizen index lives in an environment of its own (citizens.c): a
 *  store_txn_t holds a transaction of each, and every entry function routes
 *  STORE_DB_BOOKINGS_BY_CITIZEN and STORE_DB_PLACES to the index's.  The
 *  durable commit comes first, then the index's, which records the durable
 *  transaction it matches.
 */
#include "store/store.h"
#include "store/internal.h"

#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libfoleni/log.h"

static const struct { const char *name; fl_type_t rec; } s_dbs[STORE_DB__COUNT] = {
    [STORE_DB_META]       = { "meta", FL_T_META_REC },
    [STORE_DB_OFFICES]    = { "offices", FL_T_OFFICE_REC },
    [STORE_DB_SERVICES]   = { "services", FL_T_SERVICE_REC },
    [STORE_DB_COUNTERS]   = { "counters", FL_T_COUNTER_REC },
    [STORE_DB_SLOTS]      = { "slots", FL_T_SLOT_REC },
    [STORE_DB_BOOKINGS]   = { "bookings", FL_T_BOOKING_REC },
    [STORE_DB_BOOKINGS_BY_CITIZEN] = { "bookings_by_citizen", FL_T_NONE },
    [STORE_DB_TICKETS]    = { "tickets", FL_T_TICKET_REC },
    [STORE_DB_WAITING]    = { "waiting", FL_T_NONE },
    [STORE_DB_HOLDS]      = { "holds_by_expiry", FL_T_NONE },
    [STORE_DB_EVENTS]     = { "events", FL_T_EVENT },
    [STORE_DB_IDEM]       = { "idempotency", FL_T_IDEM_REC },
    [STORE_DB_IDEM_BY_EXPIRY] = { "idempotency_by_expiry", FL_T_NONE },
    [STORE_DB_PLACES]     = { "places", FL_T_NONE },
};

/* A database with no copy in the durable environment. */
static bool
s_index_only(int db)
{
    return db == STORE_DB_PLACES;
}

const char *
store_db_name(store_db_t db)
{
    assert(db >= 0 && db < STORE_DB__COUNT);
    return s_dbs[db].name;
}

int
store_db_by_name(const char *name)
{
    for (int i = 0; i < STORE_DB__COUNT; i++)
        if (strcmp(s_dbs[i].name, name) == 0)
            return i;
    return -1;
}

fl_type_t
store_db_record_type(store_db_t db)
{
    assert(db >= 0 && db < STORE_DB__COUNT);
    return s_dbs[db].rec;
}

unsigned
store_schema_version(const store_t *self)
{
    return self->schema;
}

const char *
store_path(const store_t *self)
{
    return self->path;
}

bool
store_txn_has_index(const store_txn_t *txn)
{
    return txn->ctxn != NULL || (txn->store->schema < 2 && txn->store->cenv == NULL);
}

bool
store_txn_has_places(const store_txn_t *txn)
{
    return txn->ctxn != NULL && txn->store->schema >= 3;
}

unsigned long
store_txn_marks(const store_txn_t *txn)
{
    return txn->marks;
}

store_t *
store_txn_store(store_txn_t *txn)
{
    return txn->store;
}

static int
s_lmdb_error(fl_error_t *err, int rc, const char *what)
{
    return fl_error_set(err, FL_E_STORE, "", "%s: %s", what, mdb_strerror(rc));
}

/* Note an LMDB result in the transaction; map a full map to the retry path. */
static int
s_note(store_txn_t *txn, int rc)
{
    if (rc == 0)
        return 0;
    if (rc == MDB_NOTFOUND)
        return FL_E_NOT_FOUND;
    txn->marks++;
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
        for (store_txn_t *t = txn; t; t = t->parent)
            t->map_full = true;
    }
    return FL_E_STORE;
}

/* The transaction and database an entry of db lives in, or NULL when it is
 * nowhere to be read: the places of a schema-3 store without its index. */
static MDB_txn *
s_route(store_txn_t *txn, store_db_t db, MDB_dbi *dbi)
{
    if (db == STORE_DB_BOOKINGS_BY_CITIZEN && txn->ctxn) {
        *dbi = txn->store->cindex;
        return txn->ctxn;
    }
    if (db == STORE_DB_PLACES) {
        if (store_txn_has_places(txn)) {
            *dbi = txn->store->cplaces;
            return txn->ctxn;
        }
        if (txn->store->schema >= 3)
            return NULL;
        db = STORE_DB_SLOTS;            /* schema 1 and 2 count places in the slot records */
    }
    *dbi = txn->store->dbi[db];
    return txn->txn;
}

/* The two environments disagree inside txn: it and every parent must abort. */
static int
s_fail(store_txn_t *txn, int rc)
{
    if (rc == MDB_NOTFOUND)
        return FL_E_NOT_FOUND;
    for (store_txn_t *t = txn; t; t = t->parent)
        t->failed = true;
    txn->marks++;
    return FL_E_STORE;
}

/* An LMDB result of an entry operation in transaction t: the index's own
 * failures abort the transaction (growing the durable map would not help). */
static int
s_note_in(store_txn_t *txn, MDB_txn *t, int rc)
{
    return rc && t != txn->txn ? s_fail(txn, rc) : s_note(txn, rc);
}

/* ---- opening ---- */

/* Write the schema record: this build's version, created at `created`. */
static int
s_put_schema(store_t *self, MDB_txn *txn, uint64_t created, fl_error_t *err)
{
    MDB_val k = { 6, "schema" };
    fl_msg_t *meta = fl_msg_new(FL_T_META_REC);
    if (!meta)
        return fl_error_set(err, FL_E_NOMEM, "", "out of memory");
    fl_msg_set_uint(meta, FL_F_SCHEMA, STORE_SCHEMA_VERSION);
    fl_msg_set_uint(meta, FL_F_CREATED, created);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int erc = fl_msg_encode(meta, &buf, err);
    fl_msg_destroy(&meta);
    if (erc == 0) {
        MDB_val val = { buf.size, buf.data };
        int rc = mdb_put(txn, self->dbi[STORE_DB_META], &k, &val, 0);
        if (rc)
            erc = s_lmdb_error(err, rc, "writing the schema record");
    }
    msgpack_sbuffer_destroy(&buf);
    self->schema = STORE_SCHEMA_VERSION;
    return erc;
}

static int
s_read_schema(store_t *self, MDB_txn *txn, fl_error_t *err)
{
    MDB_val k = { 6, "schema" }, v;
    int rc = mdb_get(txn, self->dbi[STORE_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        if (self->read_only)
            return fl_error_set(err, FL_E_NOT_FOUND, "", "%s: the store has no schema record", self->path);
        return s_put_schema(self, txn, (uint64_t) time(NULL), err);
    }
    if (rc)
        return s_lmdb_error(err, rc, "reading the schema record");
    fl_msg_t *meta = fl_msg_decode_as(FL_T_META_REC, v.mv_data, v.mv_size, err);
    if (!meta)
        return fl_error_set(err, FL_E_INVALID, "schema", "%s: the schema record is damaged", self->path);
    uint64_t version = fl_msg_uint(meta, FL_F_SCHEMA), created = fl_msg_uint(meta, FL_F_CREATED);
    fl_msg_destroy(&meta);
    if (version > STORE_SCHEMA_VERSION)
        return fl_error_set(err, FL_E_VERSION, "schema",
                            "%s was written with store schema version %llu, newer than this "
                            "program's %d: run a newer Foleni, or restore a backup made by this one",
                            self->path, (unsigned long long) version, STORE_SCHEMA_VERSION);
    if (version == 1) {
        /* Version 1 kept the citizen index in the durable environment.  Read
         * only, it is read there (no citizens/ is opened).  A writer upgrades:
         * empties that copy and records version 2 in this one transaction, so
         * that an older program refuses the store instead of finding an empty
         * index (and letting everyone book twice); citizens_open then builds
         * the new index from the bookings. */
        if (self->read_only) {
            self->schema = 1;
            return 0;
        }
        if ((rc = mdb_drop(txn, self->dbi[STORE_DB_BOOKINGS_BY_CITIZEN], 0)))
            return s_lmdb_error(err, rc, "emptying the version 1 citizen index");
        fl_log(FL_LOG_INFO, "store upgraded from schema 1 to 3: the citizen index and the places taken in "
               "each slot move to citizens/", FL_S("path", self->path), NULL);
        self->upgrade_reason = "the store was upgraded from schema 1";
        return s_put_schema(self, txn, created, err);
    }
    if (version == 2) {
        /* Version 2 counted the places taken in the durable slot records.
         * Read only, they are read there.  A writer records version 3 (an
         * older program then refuses the store rather than read counts that
         * are no longer kept), and citizens_open rebuilds the index, which
         * counts the places from the bookings, before anything else is
         * written: a stop before that ends rebuilds it at the next open (the
         * index no longer matches the durable store's last transaction). */
        if (self->read_only) {
            self->schema = 2;
            return 0;
        }
        fl_log(FL_LOG_INFO, "store upgraded from schema 2 to 3: the places taken in each slot are counted "
               "in citizens/", FL_S("path", self->path), NULL);
        self->upgrade_reason = "the store was upgraded from schema 2";
        return s_put_schema(self, txn, created, err);
    }
    if (version < STORE_SCHEMA_VERSION)
        return fl_error_set(err, FL_E_VERSION, "schema",
                            "%s has store schema version %llu and this program knows no upgrade "
                            "from it to %d", self->path, (unsigned long long) version, STORE_SCHEMA_VERSION);
    self->schema = (unsigned) version;
    return 0;
}

/* Take writer.lock for a sole writer (see store_open in store.h).  flock
 * rather than fcntl locks: an flock belongs to the open file, so it is held
 * as long as this descriptor and released by the kernel if the process dies,
 * and a second open in the same process conflicts too. */
static int
s_lock_writer(store_t *self, fl_error_t *err)
{
    char lock_path[4096];
    snprintf(lock_path, sizeof lock_path, "%s/writer.lock", self->path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return fl_error_set(err, FL_E_IO, "", "%s: cannot open the writer lock: %s", lock_path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int why = errno;
        char holder[32] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        close(fd);
        if (why == EWOULDBLOCK)
            return fl_error_set(err, FL_E_CONFLICT, "",
                                "%s is in use by another writer (pid %s; the scheduler, or a tool "
                                "that writes): stop it first, or give this one its own --data folder", self->path,
                                holder[0] ? holder : "unknown");
        return fl_error_set(err, FL_E_IO, "", "%s: cannot lock: %s", lock_path, strerror(why));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long) getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t) len, 0) != len) {
        int why = errno;
        close(fd);
        return fl_error_set(err, FL_E_IO, "", "%s: cannot write the pid: %s", lock_path, strerror(why));
    }
    self->writer_lock = fd;
    return 0;
}

store_t *
store_open(const char *path, const store_options_t *opts, fl_error_t *err)
{
    store_options_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    store_t *self = calloc(1, sizeof *self);
    if (!self || !(self->path = strdup(path))) {
        free(self);
        fl_error_set(err, FL_E_NOMEM, "", "out of memory");
        return NULL;
    }
    self->read_only = opts->read_only;
    self->writer_lock = -1;
    self->map_size = opts->map_size ? opts->map_size : STORE_DEFAULT_MAP_SIZE;

    struct stat st;
    if (self->read_only) {
        char data[4096];
        snprintf(data, sizeof data, "%s/data.mdb", path);
        if (stat(data, &st) != 0) {
            fl_error_set(err, FL_E_NOT_FOUND, "", "%s: no Foleni store here (no data.mdb)", path);
            goto fail;
        }
    } else if (stat(path, &st) != 0) {
        if (mkdir(path, 0750) != 0 && errno != EEXIST) {
            fl_error_set(err, FL_E_IO, "", "%s: cannot create the store directory: %s", path, strerror(errno));
            goto fail;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        fl_error_set(err, FL_E_IO, "", "%s: not a directory", path);
        goto fail;
    }

    /* Every writer takes the lock, sole or not: a second writer beside the
     * scheduler would find the citizen index one commit behind, rebuild it
     * under the scheduler's feet, and its stop could leave the scheduler's
     * later entries out of an index marked clean (citizens.c). */
    if (!self->read_only && s_lock_writer(self, err))
        goto fail;

    int rc = mdb_env_create(&self->env);
    if (rc) { s_lmdb_error(err, rc, "mdb_env_create"); goto fail; }
    mdb_env_set_maxdbs(self->env, STORE_DB__COUNT + 2);
    mdb_env_set_maxreaders(self->env, 126);
    if ((rc = mdb_env_set_mapsize(self->env, self->map_size))) {
        s_lmdb_error(err, rc, "setting the map size");
        goto fail;
    }
    /* NOTLS: read transactions are not tied to threads (tools and tests may
     * read from several).  Writes stay synchronous: no NOSYNC, no NOMETASYNC. */
    unsigned flags = MDB_NOTLS | (self->read_only ? MDB_RDONLY : 0);
    if ((rc = mdb_env_open(self->env, path, flags, 0640))) {
        fl_error_set(err, rc == EACCES || rc == ENOENT ? FL_E_IO : FL_E_STORE, "",
                     "%s: cannot open the store: %s", path, mdb_strerror(rc));
        goto fail;
    }
    /* A process that died inside a read transaction leaves its reader slot
     * taken, which stops LMDB from reusing pages: clear such slots now. */
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    self->stale_cleared = (unsigned) dead;
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    self->map_size = info.me_mapsize;       /* another process may have grown it */

    MDB_txn *txn;
    if ((rc = mdb_txn_begin(self->env, NULL, self->read_only ? MDB_RDONLY : 0, &txn))) {
        s_lmdb_error(err, rc, "starting the opening transaction");
        goto fail;
    }
    for (int i = 0; i < STORE_DB__COUNT; i++) {
        if (s_index_only(i))
            continue;
        rc = mdb_dbi_open(txn, s_dbs[i].name, self->read_only ? 0 : MDB_CREATE, &self->dbi[i]);
        if (rc) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND)
                fl_error_set(err, FL_E_NOT_FOUND, "", "%s: not a Foleni store (no %s database)", path, s_dbs[i].name);
            else
                s_lmdb_error(err, rc, "opening the databases");
            goto fail;
        }
    }
    if (s_read_schema(self, txn, err)) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn))) {
        s_lmdb_error(err, rc, "committing the opening transaction");
        goto fail;
    }
    if (self->schema >= 2 && citizens_open(self, opts->boot_id, opts->sole_writer, err))
        goto fail;
    if (dead)
        fl_log(FL_LOG_WARN, "cleared stale readers", FL_S("path", path), FL_I("count", dead), NULL);
    return self;

fail:
    if (self->cenv)
        mdb_env_close(self->cenv);
    if (self->env)
        mdb_env_close(self->env);
    if (self->writer_lock >= 0)
        close(self->writer_lock);
    free(self->path);
    free(self);
    return NULL;
}

void
store_destroy(store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    citizens_close(self);
    free(self->undo);
    mdb_env_close(self->env);
    if (self->writer_lock >= 0)
        close(self->writer_lock);          /* releases the flock */
    free(self->path);
    free(self);
    *self_p = NULL;
}

/* ---- transactions ---- */

/* Begin a transaction, adopting a map another process has grown. */
static int
s_begin(store_t *self, MDB_txn *parent, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(self->env, parent, flags, txn);
    if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(self->env, 0);
        MDB_envinfo info;
        mdb_env_info(self->env, &info);
        self->map_size = info.me_mapsize;
        rc = mdb_txn_begin(self->env, parent, flags, txn);
    }
    return rc;
}

static int
s_grow(store_t *self, fl_error_t *err)
{
    size_t bigger = self->map_size * 2;
    if (bigger > STORE_MAX_MAP_SIZE || self->growths >= 64)
        return fl_error_set(err, FL_E_STORE, "", "%s: the store is full at %zu bytes and may not grow further",
                            self->path, self->map_size);
    int rc = mdb_env_set_mapsize(self->env, bigger);
    if (rc)
        return s_lmdb_error(err, rc, "growing the map");
    fl_log(FL_LOG_INFO, "store map grown", FL_S("path", self->path), FL_U("from", self->map_size),
           FL_U("to", bigger), NULL);
    self->map_size = bigger;
    self->growths++;
    return 0;
}

/* After a durable commit: the index's, marked with the durable store's last
 * transaction.  If it fails the index no longer matches what is durable:
 * build it again now; if that fails too, refuse further writes (the durable
 * commit stands either way, and its caller is told it succeeded). */
static void
s_commit_index(store_t *self, MDB_txn *ctxn)
{
    if (!ctxn)
        return;
    MDB_envinfo info;
    int rc = mdb_env_info(self->env, &info);
    if (!rc)
        rc = citizens_mark(self, ctxn, (uint64_t) info.me_last_txnid);
    if (!rc)
        rc = mdb_txn_commit(ctxn);
    else
        mdb_txn_abort(ctxn);
    if (!rc)
        return;
    fl_log(FL_LOG_ERROR, "citizen index commit failed after the durable commit; rebuilding it",
           FL_S("path", self->path), FL_S("reason", mdb_strerror(rc)), NULL);
    fl_error_t err;
    if (citizens_rebuild(self, "an index commit failed", &err) != 0) {
        self->cbroken = true;
        fl_log(FL_LOG_ERROR, "citizen index rebuild failed: no more writes until restarted",
               FL_S("path", self->path), FL_S("reason", err.message), NULL);
    }
}

int
store_write(store_t *self, store_txn_fn *fn, void *arg, fl_error_t *err)
{
    assert(self && fn);
    if (self->read_only)
        return fl_error_set(err, FL_E_STORE, "", "%s: opened read-only", self->path);
    if (self->cbroken)
        return fl_error_set(err, FL_E_STORE, "", "%s: the citizen index could not be rebuilt; restart to "
                            "rebuild it", self->path);
    for (int attempt = 0; attempt <= STORE_MAX_GROWTHS; attempt++) {
        store_txn_t txn = { .store = self };
        self->nundo = 0;
        /* a full disk must fail this write, not kill the process through
         * the index's map (citizens_reserve) */
        int rc = citizens_reserve(self, CITIZENS_RESERVE_AHEAD, err);
        if (rc)
            return rc;
        rc = s_begin(self, NULL, 0, &txn.txn);
        if (rc)
            return s_lmdb_error(err, rc, "starting a write transaction");
        if (self->cenv && (rc = mdb_txn_begin(self->cenv, NULL, 0, &txn.ctxn))) {
            mdb_txn_abort(txn.txn);
            return s_lmdb_error(err, rc, "starting the citizen index's write transaction");
        }
        int result = fn(&txn, arg);
        if (txn.failed || (!txn.map_full && result != 0)) {
            mdb_txn_abort(txn.txn);
            if (txn.ctxn)
                mdb_txn_abort(txn.ctxn);
            return result ? result : fl_error_set(err, FL_E_STORE, "", "%s: the citizen index failed inside "
                                                  "the transaction", self->path);
        }
        if (!txn.map_full) {
            rc = mdb_txn_commit(txn.txn);           /* frees txn.txn whatever happens */
            if (rc == 0) {
                s_commit_index(self, txn.ctxn);
                return 0;
            }
            if (txn.ctxn)
                mdb_txn_abort(txn.ctxn);
            if (rc != MDB_MAP_FULL)
                return s_lmdb_error(err, rc, "committing");
        } else {
            mdb_txn_abort(txn.txn);
            if (txn.ctxn)
                mdb_txn_abort(txn.ctxn);
        }
        if ((rc = s_grow(self, err)))
            return rc;
    }
    return fl_error_set(err, FL_E_STORE, "", "%s: still full after growing %d times", self->path,
                        STORE_MAX_GROWTHS);
}

/* The transaction id of the durable store the index's snapshot matches, or 0. */
static uint64_t
s_index_matches(store_t *self, MDB_txn *ctxn)
{
    MDB_val k = { 7, "matched" }, v;
    if (mdb_get(ctxn, self->cstate, &k, &v) || v.mv_size != 8)
        return 0;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | ((const uint8_t *) v.mv_data)[i];
    return id;
}

/* The schema version the store's snapshot txn records, or 0 when unreadable. */
static unsigned
s_schema_in(store_t *self, MDB_txn *txn)
{
    MDB_val k = { 6, "schema" }, v;
    if (mdb_get(txn, self->dbi[STORE_DB_META], &k, &v))
        return 0;
    fl_msg_t *meta = fl_msg_decode_as(FL_T_META_REC, v.mv_data, v.mv_size, NULL);
    unsigned version = meta ? (unsigned) fl_msg_uint(meta, FL_F_SCHEMA) : 0;
    fl_msg_destroy(&meta);
    return version;
}

int
store_read(store_t *self, store_txn_fn *fn, void *arg, fl_error_t *err)
{
    store_txn_t txn = { .store = self };
    /* Another process's writer commits the durable store, then the index: a
     * reader that starts between the two would see a booking without its
     * index entry.  Take the two snapshots again until they match (within a
     * writer's batch, a few tries); an index that never matches (stale until
     * the next writer rebuilds it) is left out: lookups in it find nothing,
     * and store_txn_has_index says so. */
    for (int tries = 0;; tries++) {
        int rc = s_begin(self, NULL, MDB_RDONLY, &txn.txn);
        if (rc)
            return s_lmdb_error(err, rc, "starting a read transaction");
        if (!self->cenv)
            break;
        if ((rc = mdb_txn_begin(self->cenv, NULL, MDB_RDONLY, &txn.ctxn))) {
            mdb_txn_abort(txn.txn);
            return s_lmdb_error(err, rc, "starting the citizen index's read transaction");
        }
        if (s_index_matches(self, txn.ctxn) == (uint64_t) mdb_txn_id(txn.txn))
            break;
        mdb_txn_abort(txn.ctxn);
        txn.ctxn = NULL;
        if (tries >= 200)
            break;                          /* read without the index (store_txn_has_index) */
        mdb_txn_abort(txn.txn);
        nanosleep(&(struct timespec) { .tv_nsec = 100 * 1000 }, NULL);
    }
    /* A store opened read-only in an older layout, which a writer has
     * upgraded since: this handle would read it in the old layout (counts
     * in slot records that are no longer kept). */
    if (self->read_only && self->schema < STORE_SCHEMA_VERSION && s_schema_in(self, txn.txn) != self->schema) {
        mdb_txn_abort(txn.txn);
        if (txn.ctxn)
            mdb_txn_abort(txn.ctxn);
        return fl_error_set(err, FL_E_VERSION, "schema", "%s was upgraded to a newer store schema while this "
                            "program had it open; run it again", self->path);
    }
    int result = fn(&txn, arg);
    mdb_txn_abort(txn.txn);
    if (txn.ctxn)
        mdb_txn_abort(txn.ctxn);
    return result;
}

/* Put back the index changes recorded since mark (newest first). */
static int
s_undo_to(store_t *self, MDB_txn *ctxn, size_t mark)
{
    int rc = 0;
    while (self->nundo > mark) {
        struct citizens_undo *u = &self->undo[--self->nundo];
        MDB_val k = { u->key.len, u->key.b }, v = { u->len, u->val };
        int r = u->had ? mdb_put(ctxn, u->dbi, &k, &v, 0) : mdb_del(ctxn, u->dbi, &k, NULL);
        if (r && r != MDB_NOTFOUND && !rc)
            rc = r;
    }
    return rc;
}

/* Before an index change inside a nested transaction: remember what the key
 * holds now in the index's database dbi.  An LMDB code, or ENOMEM. */
static int
s_undo_note(store_txn_t *txn, MDB_dbi dbi, const store_key_t *key)
{
    store_t *self = txn->store;
    if (self->nundo == self->capundo) {
        size_t cap = self->capundo ? self->capundo * 2 : 64;
        void *grown = realloc(self->undo, cap * sizeof *self->undo);
        if (!grown)
            return ENOMEM;
        self->undo = grown;
        self->capundo = cap;
    }
    struct citizens_undo *u = &self->undo[self->nundo];
    MDB_val k = { key->len, (void *) key->b }, v;
    int rc = mdb_get(txn->ctxn, dbi, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0 && v.mv_size > CITIZENS_VALUE_MAX)
        return MDB_BAD_VALSIZE;
    u->dbi = dbi;
    u->key = *key;
    u->had = rc == 0;
    u->len = rc == 0 ? v.mv_size : 0;
    if (u->had)
        memcpy(u->val, v.mv_data, v.mv_size);
    self->nundo++;
    return 0;
}

int
store_nested(store_txn_t *parent, store_txn_fn *fn, void *arg)
{
    store_t *self = parent->store;
    /* the index's transaction is shared (see internal.h, struct store) */
    store_txn_t child = { .store = self, .parent = parent, .ctxn = parent->ctxn };
    int rc = mdb_txn_begin(self->env, parent->txn, 0, &child.txn);
    if (rc)
        return s_note(parent, rc);
    size_t mark = self->nundo;
    int result = fn(&child, arg);
    if (result != 0 || child.map_full || child.failed) {
        mdb_txn_abort(child.txn);
        if (child.ctxn && !child.failed && (rc = s_undo_to(self, child.ctxn, mark)))
            s_fail(parent, rc);
        self->nundo = mark;
        return result ? result : FL_E_STORE;
    }
    rc = mdb_txn_commit(child.txn);
    if (rc) {
        /* the durable child is gone: its index changes must go too */
        if (child.ctxn && (result = s_undo_to(self, child.ctxn, mark)))
            s_fail(parent, result);
        self->nundo = mark;
        return s_note(parent, rc);
    }
    return 0;                           /* its undo entries now belong to the parent */
}

/* ---- entries ---- */

int
store_put(store_txn_t *txn, store_db_t db, const store_key_t *key, const void *val, size_t len)
{
    MDB_val k = { key->len, (void *) key->b }, v = { len, (void *) val };
    MDB_dbi dbi;
    MDB_txn *t = s_route(txn, db, &dbi);
    txn->marks++;
    if (!t)
        return FL_E_INVALID;
    if (t == txn->ctxn && txn->parent) {
        int rc = len > CITIZENS_VALUE_MAX ? MDB_BAD_VALSIZE : s_undo_note(txn, dbi, key);
        if (rc)
            return s_fail(txn, rc);
    }
    return s_note_in(txn, t, mdb_put(t, dbi, &k, &v, 0));
}

int
store_put_rec(store_txn_t *txn, store_db_t db, const store_key_t *key, const fl_msg_t *rec)
{
    const void *data;
    size_t len;
    int rc = fl_msg_encode_scratch(rec, &data, &len, NULL);
    return rc ? rc : store_put(txn, db, key, data, len);       /* store_put copies */
}

int
store_get(store_txn_t *txn, store_db_t db, const store_key_t *key, const void **val, size_t *len)
{
    MDB_val k = { key->len, (void *) key->b }, v;
    MDB_dbi dbi;
    MDB_txn *t = s_route(txn, db, &dbi);
    if (!t)
        return FL_E_NOT_FOUND;
    int rc = s_note_in(txn, t, mdb_get(t, dbi, &k, &v));
    if (rc == 0) {
        *val = v.mv_data;
        *len = v.mv_size;
    }
    return rc;
}

int
store_get_rec(store_txn_t *txn, store_db_t db, const store_key_t *key, fl_type_t type, fl_msg_t **rec)
{
    const void *val;
    size_t len;
    *rec = NULL;
    int rc = store_get(txn, db, key, &val, &len);
    if (rc)
        return rc;
    fl_error_t err;
    *rec = fl_msg_decode_as(type, val, len, &err);
    if (!*rec) {
        if (err.code == FL_E_NOMEM)
            return FL_E_NOMEM;
        fl_log(FL_LOG_ERROR, "stored record does not decode", FL_S("db", store_db_name(db)),
               FL_S("reason", err.message), NULL);
        return FL_E_INVALID;
    }
    return 0;
}

int
store_del(store_txn_t *txn, store_db_t db, const store_key_t *key)
{
    MDB_val k = { key->len, (void *) key->b };
    MDB_dbi dbi;
    MDB_txn *t = s_route(txn, db, &dbi);
    txn->marks++;
    if (!t)
        return FL_E_INVALID;
    if (t == txn->ctxn && txn->parent) {
        int rc = s_undo_note(txn, dbi, key);
        if (rc)
            return s_fail(txn, rc);
    }
    return s_note_in(txn, t, mdb_del(t, dbi, &k, NULL));
}

static bool
s_has_prefix(const MDB_val *k, const store_key_t *prefix)
{
    return !prefix || (k->mv_size >= prefix->len && memcmp(k->mv_data, prefix->b, prefix->len) == 0);
}

int
store_scan(store_txn_t *txn, store_db_t db, const store_key_t *prefix, const store_key_t *from,
           store_each_fn *fn, void *arg)
{
    MDB_cursor *cur;
    MDB_dbi dbi;
    MDB_txn *t = s_route(txn, db, &dbi);
    if (!t)
        return 0;                       /* nothing to scan */
    int rc = mdb_cursor_open(t, dbi, &cur);
    if (rc)
        return s_note(txn, rc);
    const store_key_t *start = from ? from : prefix;
    MDB_val k = { start ? start->len : 0, start ? (void *) start->b : NULL }, v;
    rc = start && start->len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                             : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    int result = 0;
    while (rc == 0 && s_has_prefix(&k, prefix)) {
        if ((result = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg)) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (result)
        return result;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_note(txn, rc);
}

int
store_last(store_txn_t *txn, store_db_t db, const store_key_t *prefix, store_key_t *key,
           const void **val, size_t *vlen)
{
    MDB_cursor *cur;
    MDB_dbi dbi;
    MDB_txn *t = s_route(txn, db, &dbi);
    if (!t)
        return FL_E_NOT_FOUND;
    int rc = mdb_cursor_open(t, dbi, &cur);
    if (rc)
        return s_note(txn, rc);
    /* Seek just past the prefix (prefix + 0xff...), then step back one. */
    store_key_t past = *prefix;
    while (past.len < STORE_KEY_MAX)
        past.b[past.len++] = 0xff;
    MDB_val k = { past.len, past.b }, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && !s_has_prefix(&k, prefix))
        rc = MDB_NOTFOUND;
    if (rc == 0) {
        key->len = k.mv_size < STORE_KEY_MAX ? k.mv_size : STORE_KEY_MAX;
        memcpy(key->b, k.mv_data, key->len);
        if (val) *val = v.mv_data;
        if (vlen) *vlen = v.mv_size;
    }
    mdb_cursor_close(cur);
    return s_note(txn, rc);
}

/* ---- slot records ---- */

/* Read one msgpack value of the kinds fl_msg_encode uses for a slot_rec: an
 * unsigned integer (into *u) or a string (into *str, *slen).  Returns the
 * bytes it took, or 0 when the value is anything else or runs past end. */
static size_t
s_mp_value(const uint8_t *p, const uint8_t *end, uint64_t *u, const uint8_t **str, size_t *slen)
{
    if (p >= end)
        return 0;
    uint8_t b = *p;
    size_t left = (size_t) (end - p);
    *str = NULL;
    if (b <= 0x7f) { *u = b; return 1; }
    if ((b & 0xe0) == 0xa0) {                   /* fixstr */
        size_t n = b & 0x1f;
        if (1 + n > left) return 0;
        *str = p + 1; *slen = n;
        return 1 + n;
    }
    size_t w;
    switch (b) {
    case 0xcc: w = 1; break;
    case 0xcd: w = 2; break;
    case 0xce: w = 4; break;
    case 0xcf: w = 8; break;
    case 0xd9:                                  /* str 8 */
        if (left < 2 || 2 + (size_t) p[1] > left) return 0;
        *str = p + 2; *slen = p[1];
        return 2 + (size_t) p[1];
    default: return 0;
    }
    if (1 + w > left)
        return 0;
    uint64_t v = 0;
    for (size_t i = 1; i <= w; i++)
        v = v << 8 | p[i];
    *u = v;
    return 1 + w;
}

int
store_slot_parse(const void *val, size_t len, store_slot_t *slot)
{
    const uint8_t *p = val, *end = p + len;
    if (len < 1 || *p != (0x80 | 6))            /* a map of exactly the six fields */
        return FL_E_INVALID;
    p++;
    const fl_type_spec_t *type = fl_schema_type(FL_T_SLOT_REC);
    unsigned seen = 0;
    uint64_t num[FL_F__COUNT] = { 0 };
    for (int i = 0; i < 6; i++) {
        uint64_t u = 0;
        const uint8_t *key, *str;
        size_t klen, slen;
        size_t n = s_mp_value(p, end, &u, &key, &klen);
        if (!n || !key)
            return FL_E_INVALID;
        p += n;
        int use = fl_schema_use_by_name(FL_T_SLOT_REC, (const char *) key, klen);
        if (use < 0 || (seen & 1u << use))
            return FL_E_INVALID;
        seen |= 1u << use;
        if (!(n = s_mp_value(p, end, &u, &str, &slen)))
            return FL_E_INVALID;
        p += n;
        const fl_field_spec_t *f = fl_schema_field(type->uses[use].field);
        if (f->kind == FL_K_UINT) {
            if (str || u < f->lo || u > f->hi)
                return FL_E_INVALID;
        } else if (!str || slen < f->lo || slen > f->hi)
            return FL_E_INVALID;
        num[type->uses[use].field] = u;
    }
    if (p != end)
        return FL_E_INVALID;
    slot->start = num[FL_F_START];
    slot->end = num[FL_F_END];
    slot->capacity = (uint32_t) num[FL_F_CAPACITY];
    slot->taken = (uint32_t) num[FL_F_TAKEN];
    return 0;
}

int
store_get_slot(store_txn_t *txn, const store_key_t *key, store_slot_t *slot)
{
    const void *val;
    size_t len;
    int rc = store_get(txn, STORE_DB_SLOTS, key, &val, &len);
    if (rc || store_slot_parse(val, len, slot) == 0)
        return rc;
    fl_msg_t *rec = NULL;
    if ((rc = store_get_rec(txn, STORE_DB_SLOTS, key, FL_T_SLOT_REC, &rec)))
        return rc;
    slot->start = fl_msg_uint(rec, FL_F_START);
    slot->end = fl_msg_uint(rec, FL_F_END);
    slot->capacity = (uint32_t) fl_msg_uint(rec, FL_F_CAPACITY);
    slot->taken = (uint32_t) fl_msg_uint(rec, FL_F_TAKEN);
    fl_msg_destroy(&rec);
    return 0;
}

/* A fixed buffer for msgpack_packer: no allocation, and never past its end. */
typedef struct {
    uint8_t b[128];
    size_t n;
    bool over;
} fixbuf_t;

static int
s_fixbuf_write(void *data, const char *buf, size_t len)
{
    fixbuf_t *f = data;
    if (len > sizeof f->b - f->n) {
        f->over = true;
        return -1;
    }
    memcpy(f->b + f->n, buf, len);
    f->n += len;
    return 0;
}

static void
s_pack_field(msgpack_packer *pk, fl_field_t f)
{
    const fl_field_spec_t *spec = fl_schema_field(f);
    msgpack_pack_str_with_body(pk, spec->name, spec->len);
}

/* Capital letters and digits only (the format of office and service codes). */
static bool
s_is_code(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

int
store_put_slot(store_txn_t *txn, const store_key_t *key, const char *office, const char *service,
               const store_slot_t *slot)
{
    uint64_t start = slot->start, end = slot->end;
    uint32_t capacity = slot->capacity, taken = slot->taken;
    size_t olen = strlen(office), slen = strlen(service);
    const fl_field_spec_t *fo = fl_schema_field(FL_F_OFFICE), *fs = fl_schema_field(FL_F_SERVICE);
    if (olen < fo->lo || olen > fo->hi || slen < fs->lo || slen > fs->hi
        || start > fl_schema_field(FL_F_START)->hi || end > fl_schema_field(FL_F_END)->hi
        || capacity > fl_schema_field(FL_F_CAPACITY)->hi || taken > fl_schema_field(FL_F_TAKEN)->hi
        || !s_is_code(office, olen) || !s_is_code(service, slen))
        return FL_E_RANGE;
    fixbuf_t fb = { .n = 0 };                   /* about 95 bytes at most */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, s_fixbuf_write);
    /* the order of slot_rec's uses in schema.c, as fl_msg_encode writes them */
    msgpack_pack_map(&pk, 6);
    s_pack_field(&pk, FL_F_OFFICE);   msgpack_pack_str_with_body(&pk, office, olen);
    s_pack_field(&pk, FL_F_SERVICE);  msgpack_pack_str_with_body(&pk, service, slen);
    s_pack_field(&pk, FL_F_START);    msgpack_pack_uint64(&pk, start);
    s_pack_field(&pk, FL_F_END);      msgpack_pack_uint64(&pk, end);
    s_pack_field(&pk, FL_F_CAPACITY); msgpack_pack_uint64(&pk, capacity);
    s_pack_field(&pk, FL_F_TAKEN);    msgpack_pack_uint64(&pk, taken);
    if (fb.over)
        return FL_E_RANGE;
    return store_put(txn, STORE_DB_SLOTS, key, fb.b, fb.n);
}

/* ---- places taken in a slot ---- */

int
store_places_parse(const void *val, size_t len, store_places_t *places)
{
    if (len == STORE_PLACES_LEN) {
        places->capacity = (uint32_t) store_be_get(val, 4);
        places->taken = (uint32_t) store_be_get((const uint8_t *) val + 4, 4);
        return 0;
    }
    store_slot_t slot;                  /* a slot record of schema 1 or 2 */
    int rc = store_slot_parse(val, len, &slot);
    if (rc == 0)
        *places = (store_places_t) { .capacity = slot.capacity, .taken = slot.taken };
    return rc;
}

int
store_get_places(store_txn_t *txn, const store_key_t *key, store_places_t *places)
{
    if (!store_txn_has_places(txn)) {
        store_slot_t slot;
        int rc = txn->store->schema >= 3 ? FL_E_NOT_FOUND : store_get_slot(txn, key, &slot);
        if (rc == 0)
            *places = (store_places_t) { .capacity = slot.capacity, .taken = slot.taken };
        return rc;
    }
    const void *val;
    size_t len;
    int rc = store_get(txn, STORE_DB_PLACES, key, &val, &len);
    if (rc == 0 && len != STORE_PLACES_LEN)
        return FL_E_INVALID;
    return rc ? rc : store_places_parse(val, len, places);
}

int
store_put_places(store_txn_t *txn, const store_key_t *key, const store_places_t *places)
{
    if (!store_txn_has_places(txn))
        return FL_E_INVALID;
    uint8_t val[STORE_PLACES_LEN];
    store_be_put(val, places->capacity, 4);
    store_be_put(val + 4, places->taken, 4);
    return store_put(txn, STORE_DB_PLACES, key, val, sizeof val);
}

/* ---- the environment ---- */

int
store_stat(store_t *self, store_stat_t *st, fl_error_t *err)
{
    memset(st, 0, sizeof *st);
    MDB_envinfo info;
    MDB_stat est;
    int rc = mdb_env_info(self->env, &info);
    if (!rc) rc = mdb_env_stat(self->env, &est);
    if (rc)
        return s_lmdb_error(err, rc, "reading the environment's statistics");
    st->map_size = info.me_mapsize;
    st->page_size = est.ms_psize;
    st->used_bytes = (info.me_last_pgno + 1) * (size_t) est.ms_psize;
    st->last_txn = info.me_last_txnid;
    st->readers_in_use = info.me_numreaders;
    st->stale_readers_cleared = self->stale_cleared;
    st->schema_version = self->schema;
    st->growths = self->growths;
    MDB_txn *txn;
    if ((rc = s_begin(self, NULL, MDB_RDONLY, &txn)))
        return s_lmdb_error(err, rc, "starting a read transaction");
    for (int i = 0; i < STORE_DB__COUNT; i++) {
        MDB_stat ds;
        if (!s_index_only(i) && mdb_stat(txn, self->dbi[i], &ds) == 0)
            st->entries[i] = ds.ms_entries;
    }
    mdb_txn_abort(txn);
    st->index_present = self->cenv != NULL;
    st->index_rebuild_reason = self->rebuild_reason;
    st->index_rebuild_ms = self->rebuild_ms;
    if (self->cenv && mdb_txn_begin(self->cenv, NULL, MDB_RDONLY, &txn) == 0) {
        MDB_stat ds;
        if (mdb_stat(txn, self->cindex, &ds) == 0)
            st->entries[STORE_DB_BOOKINGS_BY_CITIZEN] = ds.ms_entries;
        if (self->schema >= 3 && mdb_stat(txn, self->cplaces, &ds) == 0)
            st->entries[STORE_DB_PLACES] = ds.ms_entries;
        mdb_txn_abort(txn);
        MDB_envinfo ci;
        if (mdb_env_info(self->cenv, &ci) == 0)
            st->index_used_bytes = (ci.me_last_pgno + 1) * (size_t) st->page_size;
    }
    return 0;
}

int
store_backup(store_t *self, const char *dest, fl_error_t *err)
{
    struct stat st;
    if (stat(dest, &st) != 0 || !S_ISDIR(st.st_mode))
        return fl_error_set(err, FL_E_IO, "", "%s: the backup directory must exist", dest);
    int rc = mdb_env_copy2(self->env, dest, MDB_CP_COMPACT);
    if (rc)
        return fl_error_set(err, rc == EEXIST ? FL_E_IO : FL_E_STORE, "", "backup to %s: %s",
                            dest, mdb_strerror(rc));
    return 0;
}
