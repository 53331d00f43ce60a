/*  store.h — Foleni's durable state: an LMDB environment, its named databases,
 *  transactions that survive a full map, hot backup and statistics.
 *
 *  The scheduler is the store's only writer.  Everything it keeps lives in one
 *  LMDB environment (a directory holding data.mdb and lock.mdb) with the named
 *  databases listed in store_db_t, all opened once, in one transaction, when the
 *  store is opened, except two that are derived from the bookings: the citizen
 *  index (STORE_DB_BOOKINGS_BY_CITIZEN) and the places taken in each slot
 *  (STORE_DB_PLACES).  They live in a second environment in the subdirectory
 *  citizens/, committed without sync right after each durable commit and
 *  rebuilt from the bookings at open whenever they cannot be trusted
 *  (store/citizens.c; docs/store.md, "The citizen index").  Callers see one
 *  store: every function here routes those databases to their environment.
 *  Values are msgpack records (schema.h, FL_ROLE_RECORD) and
 *  keys are the big-endian composites of keys.h, so ranges sort by time.
 *
 *  Durability: a write transaction that store_write() reports as committed has
 *  been flushed to disk (LMDB's default sync mode; only the derived citizen
 *  index is written without sync).
 *  Speed comes from putting many requests into one transaction (group commit),
 *  which the caller does by doing all of its work inside one store_write() call,
 *  each request in its own nested transaction (store_nested) so one failure
 *  does not undo the others.
 *
 *  A full map: when LMDB answers MDB_MAP_FULL, the whole write transaction is
 *  aborted, the map is doubled and the caller's function runs again from the
 *  start.  The function must therefore have no effects outside the transaction
 *  (collect replies and events, send them only after store_write returns 0).
 *
 *  Caveats (as LMDB's own):
 *    - Never use a store across fork(): open it in the process that uses it.
 *    - Growing the map needs no other transaction open in this process; the
 *      scheduler is single-threaded, so store_write is its only transaction.
 *    - Long-lived read transactions keep old pages alive and make the file grow.
 *    - One store_t per environment per process.
 */
#ifndef FOLENI_STORE_H
#define FOLENI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libfoleni/error.h"
#include "libfoleni/msg.h"
#include "store/keys.h"

/* The layout this build reads and writes.  Bump it with every change to keys
 * or records, and teach store_open to upgrade the older layout. */
#define STORE_SCHEMA_VERSION   3       /* 2: the citizen index in citizens/;
                                          3: slot places counted there too */
/* Initial map size: sparse, so only pages in use take disk space. */
#define STORE_DEFAULT_MAP_SIZE ((size_t) 8 << 30)
/* The largest map the store grows to by itself. */
#define STORE_MAX_MAP_SIZE     ((size_t) 1 << 40)
/* How many times one store_write may grow the map and start again. */
#define STORE_MAX_GROWTHS      24

/* The named databases.  The comment is what a key maps to. */
typedef enum {
    STORE_DB_META,              /* "schema" -> meta_rec */
    STORE_DB_OFFICES,           /* office -> office_rec */
    STORE_DB_SERVICES,          /* office|service -> service_rec */
    STORE_DB_COUNTERS,          /* office|counter -> counter_rec */
    STORE_DB_SLOTS,             /* office|service|start -> slot_rec: the slot's
                                   capacity, written at its first booking
                                   (from schema 3 on its `taken` is 0, unused) */
    STORE_DB_BOOKINGS,          /* ref -> booking_rec */
    STORE_DB_BOOKINGS_BY_CITIZEN, /* id_hash|service -> ref (active bookings only) */
    STORE_DB_TICKETS,           /* office|day|prefix|number -> ticket_rec */
    STORE_DB_WAITING,           /* ticket key -> "" for tickets in state waiting */
    STORE_DB_HOLDS,             /* expires|ref -> "" for held bookings */
    STORE_DB_EVENTS,            /* office|seq -> event message */
    STORE_DB_IDEM,              /* rid -> idem_rec (stored reply) */
    STORE_DB_IDEM_BY_EXPIRY,    /* expires|rid -> "" */
    STORE_DB_PLACES,            /* office|service|start -> capacity, taken: 8 bytes
                                   (store_places_t); kept in the citizen index's
                                   environment, derived from the bookings */
    STORE_DB__COUNT
} store_db_t;

typedef struct store store_t;
typedef struct store_txn store_txn_t;

typedef struct {
    size_t map_size;            /* initial map size; 0 = STORE_DEFAULT_MAP_SIZE */
    bool   read_only;           /* for tools beside a running scheduler */
    bool   sole_writer;         /* the scheduler: its clean stop may mark the
                                 * citizen index clean (see store_open) */
    const char *boot_id;        /* tests: the machine's boot id as the citizen
                                 * index sees it; NULL: the kernel's */
} store_options_t;

/*  Open (creating if needed, unless read_only) the store in directory path.
 *  Clears stale reader slots left by dead processes (mdb_reader_check), opens
 *  every named database in one transaction and records or checks the schema
 *  version.  opts may be NULL for defaults.
 *
 *  Every open that may write takes an exclusive lock on the file
 *  `writer.lock` in the directory (flock, released by store_destroy or when
 *  the process dies) and writes its pid there.  The scheduler keeps state in
 *  memory between batches (event seq, ticket numbers, counters' calls), so
 *  two schedulers on one store would hand out the same numbers, and any
 *  second writer would find the citizen index one commit behind and rebuild
 *  it under the first; LMDB alone would let them both write.  Tools that only
 *  read (read_only) do not take the lock.  opts->sole_writer says the opener
 *  is the scheduler, whose clean stop may mark the index clean.
 *
 *  Returns the store, or NULL with err: FL_E_CONFLICT (another process, or
 *  another open in this one, holds the lock: the message gives its pid), FL_E_VERSION (written by a newer
 *  Foleni: the message says which versions), FL_E_NOT_FOUND (read_only and no
 *  store there), FL_E_IO / FL_E_STORE (LMDB's reason in the message). */
store_t *store_open(const char *path, const store_options_t *opts, fl_error_t *err);

/*  Close the environment and free the store; sets *self_p to NULL.  No
 *  transaction may be open.  Safe on NULL. */
void store_destroy(store_t **self_p);

/*  Work done inside a transaction.  Return 0 to commit (store_write) or finish
 *  (store_read); any other value aborts and is returned by the caller. */
typedef int (store_txn_fn)(store_txn_t *txn, void *arg);

/*  Run fn in one write transaction and commit it durably.  On MDB_MAP_FULL
 *  (anywhere inside fn, even if fn ignored the error, or at commit) the
 *  transaction is aborted, the map doubled and fn called again.
 *  Returns 0 when committed; fn's own non-zero result (nothing committed);
 *  FL_E_STORE with err filled when LMDB fails (a full disk at commit among
 *  others) or the map cannot grow further; FL_E_IO with err when the disk
 *  has no room for the citizen index to grow (fn not called).  A full disk is
 *  always an error here, never a signal (docs/store.md, "A full disk"). */
int store_write(store_t *self, store_txn_fn *fn, void *arg, fl_error_t *err);

/*  Run fn in a read-only snapshot.  Returns fn's result, FL_E_STORE, or
 *  FL_E_VERSION with err when a store opened read-only in an older schema
 *  has been upgraded by a writer since (open it again). */
int store_read(store_t *self, store_txn_fn *fn, void *arg, fl_error_t *err);

/*  Run fn in a transaction nested in a write transaction: committed into the
 *  parent when fn returns 0, rolled back alone otherwise (the parent goes on).
 *  Returns fn's result, or FL_E_STORE when LMDB fails (a full map marks the
 *  parent so store_write starts again). */
int store_nested(store_txn_t *parent, store_txn_fn *fn, void *arg);

/*  A count that grows with every put or delete attempted in txn and every
 *  error LMDB reported in it (a missing key is not an error).  A caller that
 *  runs a request straight in the parent transaction, without store_nested,
 *  compares it before and after: unchanged means a failed request left the
 *  transaction exactly as it found it. */
unsigned long store_txn_marks(const store_txn_t *txn);

/*  True when the citizen index can be read in this transaction: false in a
 *  read transaction of a store whose index is absent, cannot be trusted, or
 *  did not match the durable snapshot (another process's writer between its
 *  two commits, or a stale index); lookups in it then find nothing. */
bool store_txn_has_index(const store_txn_t *txn);

/*  The store a transaction belongs to. */
store_t *store_txn_store(store_txn_t *txn);

/* ---- reading and writing inside a transaction: 0, FL_E_NOT_FOUND,
 * FL_E_INVALID (a stored record that does not decode: corruption), FL_E_STORE */

/*  Store len bytes under key; replaces any value. */
int store_put(store_txn_t *txn, store_db_t db, const store_key_t *key, const void *val, size_t len);

/*  Encode rec (which must pass fl_msg_check) and store it under key. */
int store_put_rec(store_txn_t *txn, store_db_t db, const store_key_t *key, const fl_msg_t *rec);

/*  Point *val at the stored bytes (valid until the transaction ends or the next
 *  write in it) and set *len. */
int store_get(store_txn_t *txn, store_db_t db, const store_key_t *key, const void **val, size_t *len);

/*  Decode the record under key as type into *rec (a new root the caller
 *  destroys).  Stored records pass through the same validating decoder as
 *  network input. */
int store_get_rec(store_txn_t *txn, store_db_t db, const store_key_t *key, fl_type_t type,
                  fl_msg_t **rec);

/*  Remove key.  FL_E_NOT_FOUND when it was not there. */
int store_del(store_txn_t *txn, store_db_t db, const store_key_t *key);

/*  Called for each entry of a scan; return 0 to go on, anything else to stop
 *  (store_scan then returns that value). */
typedef int (store_each_fn)(const uint8_t *key, size_t klen, const void *val, size_t vlen, void *arg);

/*  Visit, in key order, the entries whose key starts with prefix (all of db
 *  when prefix is NULL), beginning at the first key >= from (or the prefix
 *  itself when from is NULL).  Returns 0 after the last entry, fn's non-zero
 *  result, or FL_E_STORE. */
int store_scan(store_txn_t *txn, store_db_t db, const store_key_t *prefix, const store_key_t *from,
               store_each_fn *fn, void *arg);

/*  Copy the last key (and point *val at its value) among keys starting with
 *  prefix.  FL_E_NOT_FOUND when there is none. */
int store_last(store_txn_t *txn, store_db_t db, const store_key_t *prefix, store_key_t *key,
               const void **val, size_t *vlen);

/* ---- slot records, without a message object ----
 * An availability query reads a slot record for every booked slot it shows,
 * and every booking rewrites one; a full decode and encode of these six-field
 * records cost more than the rest of the work.  These read and write the same
 * bytes fl_msg_decode_as / fl_msg_encode would, for the common encoding. */

/* The numbers of a slot record (its office and service are in its key). */
typedef struct {
    uint64_t start, end;
    uint32_t capacity, taken;
} store_slot_t;

/*  Read a stored slot_rec's numbers.  The whole record is walked: it must be
 *  one map of slot_rec's six fields, each once, of the right kinds and within
 *  their schema bounds, with nothing after it.  0, or FL_E_INVALID when the
 *  record is not in the encoding this build writes (store_get_slot then
 *  decodes it in full, which accepts any valid encoding). */
int store_slot_parse(const void *val, size_t len, store_slot_t *slot);

/*  The slot record under key: store_slot_parse, falling back to the full
 *  decoder.  0, FL_E_NOT_FOUND, FL_E_INVALID (damaged), FL_E_NOMEM, FL_E_STORE. */
int store_get_slot(store_txn_t *txn, const store_key_t *key, store_slot_t *slot);

/*  Store the slot_rec of office, service and slot under key, encoded byte for
 *  byte as fl_msg_encode encodes it.  FL_E_RANGE when a value is outside its
 *  field's bounds or format (nothing is written); otherwise as store_put. */
int store_put_slot(store_txn_t *txn, const store_key_t *key, const char *office, const char *service,
                   const store_slot_t *slot);

/* ---- places taken in a slot ----
 * How many places of a slot are taken is derived data: the bookings that hold
 * a place say it.  From schema 3 on it is kept in STORE_DB_PLACES, in the
 * index's environment (no flush per commit), with a copy of the slot's
 * capacity so that an availability query reads one tree.  The durable slot
 * record stays the slot's capacity as fixed at its first booking: a rebuild
 * takes the capacity from there and counts the bookings. */

typedef struct {
    uint32_t capacity, taken;
} store_places_t;

/* The size of a places value: capacity and taken, 32 bits each, big-endian. */
#define STORE_PLACES_LEN 8

/*  True when this transaction keeps places in STORE_DB_PLACES (schema 3 and
 *  the index readable).  False when it reads a store of schema 1 or 2, whose
 *  slot records hold the count (the places functions then read those), or a
 *  schema-3 store without its index (there is nothing to read: counts are
 *  unknown). */
bool store_txn_has_places(const store_txn_t *txn);

/*  Read a places value: the 8 bytes of STORE_PLACES_LEN or, in a store of
 *  schema 1 or 2, a slot record.  0 or FL_E_INVALID. */
int store_places_parse(const void *val, size_t len, store_places_t *places);

/*  The places of the slot under key (a store_key_slot).  0, FL_E_NOT_FOUND
 *  (no booking ever took a place in it), FL_E_INVALID, FL_E_STORE. */
int store_get_places(store_txn_t *txn, const store_key_t *key, store_places_t *places);

/*  Store the places of the slot under key.  In a nested transaction the old
 *  value is put back if the nested transaction fails.  0 or FL_E_STORE
 *  (FL_E_INVALID when the store keeps no places: schema 1 or 2, read only). */
int store_put_places(store_txn_t *txn, const store_key_t *key, const store_places_t *places);

/* ---- the environment ---- */

typedef struct {
    size_t   map_size;          /* current map size in bytes */
    size_t   used_bytes;        /* pages in use × page size */
    size_t   page_size;
    size_t   last_txn;          /* id of the last committed transaction */
    unsigned readers_in_use;
    unsigned stale_readers_cleared;  /* by store_open */
    unsigned schema_version;
    size_t   entries[STORE_DB__COUNT];
    unsigned growths;           /* map growths since open */
    bool     index_present;     /* the citizen index's environment is open */
    size_t   index_used_bytes;  /* its pages in use × page size */
    const char *index_rebuild_reason;   /* why store_open rebuilt it, or NULL */
    double   index_rebuild_ms;  /* how long that took */
} store_stat_t;

/*  Fill st.  Returns 0 or FL_E_STORE. */
int store_stat(store_t *self, store_stat_t *st, fl_error_t *err);

/*  Write a compacted copy of the environment into directory dest (which must
 *  exist and be empty), consistent as of one moment, while writers go on
 *  (mdb_env_copy2 with MDB_CP_COMPACT).  Returns 0, FL_E_IO or FL_E_STORE. */
int store_backup(store_t *self, const char *dest, fl_error_t *err);

/*  The database's name as stored ("bookings", "slots"...). */
const char *store_db_name(store_db_t db);

/*  The database with this name, or -1. */
int store_db_by_name(const char *name);

/*  The record type stored in db, or FL_T_NONE for index databases whose values
 *  are plain bytes (the citizen index holds a ref, the expiry index nothing). */
fl_type_t store_db_record_type(store_db_t db);

/*  The schema version of the store as opened (a read-only open of an older
 *  store reads it in its own layout). */
unsigned store_schema_version(const store_t *self);

/*  Path of the environment directory (as given to store_open). */
const char *store_path(const store_t *self);

#endif
