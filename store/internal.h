/*  internal.h — what store.c and citizens.c share inside the store library.
 *
 *  Not for other components: they use store.h.  The store is two LMDB
 *  environments: the durable one in the store's directory (every commit
 *  synced) and the citizen index in its `citizens/` subdirectory, derived
 *  from the bookings and written without sync (docs/store.md, "The citizen
 *  index"); it holds the places taken in each slot too (`places`).  A
 *  store_txn_t holds a transaction of each.
 */
#ifndef FOLENI_STORE_INTERNAL_H
#define FOLENI_STORE_INTERNAL_H

#include <lmdb.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define CITIZENS_DIR        "citizens"
#define CITIZENS_MAP_SIZE   ((size_t) 64 << 30)    /* address space only: the file grows as used */
#define CITIZENS_BOOT_MAX   64

struct store {
    MDB_env *env;
    MDB_dbi  dbi[STORE_DB__COUNT];
    char    *path;
    bool     read_only;
    size_t   map_size;
    unsigned stale_cleared;
    unsigned growths;
    unsigned schema;
    int      writer_lock;       /* fd holding writer.lock's flock, or -1 */
    /* the citizen index (citizens.c); cenv NULL: none (a read-only open of a
     * store whose index was never built): lookups find nothing */
    MDB_env *cenv;
    MDB_dbi  cindex, cstate, cplaces;
    bool     cbroken;           /* an index commit failed and the rebuild too: no more writes */
    const char *rebuild_reason; /* why store_open rebuilt the index, or NULL */
    const char *upgrade_reason; /* store_open upgraded the schema: the index must be rebuilt */
    double   rebuild_ms;
    char     cboot[CITIZENS_BOOT_MAX];  /* this machine's boot id, as citizens_open read it */
    bool     csole;             /* opened as the sole writer: may mark the index clean */
    off_t    creserved;         /* bytes of the index file known to have disk blocks (citizens_reserve) */
    /* The index is mapped writable (MDB_WRITEMAP: no pwrite per page), and
     * LMDB has no nested transactions in such an environment: a nested
     * store transaction shares its parent's index transaction and keeps
     * here what each index change replaced, to put it back if it fails. */
    struct citizens_undo *undo;
    size_t   nundo, capundo;
};

struct citizens_undo {
    MDB_dbi  dbi;               /* the index's cindex or cplaces */
    store_key_t key;
    bool     had;               /* the key had a value before the change */
    size_t   len;
    uint8_t  val[32];           /* a reference or a places value: CITIZENS_VALUE_MAX bytes at most */
};
#define CITIZENS_VALUE_MAX 32

struct store_txn {
    store_t   *store;
    MDB_txn   *txn;
    MDB_txn   *ctxn;            /* the citizen index's, or NULL */
    store_txn_t *parent;
    bool       map_full;        /* LMDB said MDB_MAP_FULL: abort everything, grow, redo */
    bool       failed;          /* the two environments disagree inside it: abort */
    unsigned long marks;        /* puts and deletes tried, errors seen (store_txn_marks) */
};

/*  Open the citizen index beside an open durable environment: as it is when
 *  it matches the durable store and can be trusted, otherwise rebuilt from
 *  the bookings (a missing or stale index, or a machine restarted since an
 *  unclean stop).  boot_id NULL: the kernel's.  A writer then marks the index
 *  in use (not clean) in citizens/state, synced; only a sole writer marks it
 *  clean at close.  Read-only: opened when present and trusted, never
 *  rebuilt.  Returns 0 or an FL_E_* code with err. */
int citizens_open(store_t *self, const char *boot_id, bool sole_writer, fl_error_t *err);

/*  Build the index again from the bookings: a fresh environment, a places
 *  record for every durable slot record (its capacity, nothing taken), then
 *  every booking that holds a place (its index entry, and one more place
 *  taken in its slot), then the durable store's last transaction id as the
 *  one it matches; synced.  Returns 0 or an FL_E_* code with err. */
int citizens_rebuild(store_t *self, const char *reason, fl_error_t *err);

/*  Record, in the index's write transaction ctxn, that it matches the
 *  durable transaction txnid.  Returns an LMDB code. */
int citizens_mark(store_t *self, MDB_txn *ctxn, uint64_t txnid);

/*  Make sure the index file has disk blocks for `ahead` bytes past its last
 *  page in use (more, rounded up to CITIZENS_RESERVE_STEP), so that no write
 *  through its map can find the disk full.  The index is written through a
 *  memory map of a sparse file: a page without a block, written when the
 *  disk is full, kills the process with SIGBUS, where a write call would only
 *  fail.  Called when the index is opened, before every write transaction,
 *  and before each transaction of a rebuild.
 *  0, or FL_E_IO with err (the disk is full: nothing was written). */
int citizens_reserve(store_t *self, size_t ahead, fl_error_t *err);

/* Room kept ready ahead of the index's last page: more than one write
 * transaction adds (1,024 bookings into a tree of a million entries, with a
 * reader holding the old pages, added about 1,450 pages: 5.7 MiB). */
#define CITIZENS_RESERVE_AHEAD  ((size_t) 16 << 20)
/* How much more is set aside at a time, so that most transactions find the
 * room already there. */
#define CITIZENS_RESERVE_STEP   ((off_t) 32 << 20)

/*  Close the index; a sole writer's clean stop first syncs it and then marks
 *  it clean in citizens/state. */
void citizens_close(store_t *self);

#endif
