/*  keytab.h — an intrusive hash table keyed by short byte strings.
 *
 *  The broker finds a worker by its ROUTER identity for every message a worker
 *  sends, and a client finds its outstanding request by request id for every
 *  reply.  Both keys are a few bytes kept inside the object itself, so the table
 *  stores no copies and allocates nothing per entry: the object embeds an
 *  fl_keynode_t, fills in its key, and is linked and unlinked by the caller, who
 *  keeps owning it.  Chained buckets, a power-of-two count, doubled as the table
 *  fills (if that allocation fails the chains just get longer).  FNV-1a hashing:
 *  the keys are short, made by our own peers or by libzmq, and a bad peer can
 *  only slow its own lookups.
 *
 *  Not thread-safe; one table belongs to one object's thread.
 */
#ifndef FOLENI_KEYTAB_H
#define FOLENI_KEYTAB_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in each object the table holds. */
typedef struct fl_keynode fl_keynode_t;
struct fl_keynode {
    fl_keynode_t *next;             /* next in its bucket */
    uint32_t      hash;             /* of key, set by fl_keytab_insert */
    const void   *key;              /* inside the object; set before insert, unchanged while linked */
    size_t        key_size;
};

typedef struct {
    fl_keynode_t **buckets;
    size_t         nbuckets;        /* a power of 2 */
    size_t         count;           /* nodes linked */
} fl_keytab_t;

/* The object that embeds node as its member `field`. */
#define fl_keytab_entry(node, type, field) \
    ((type *) (void *) ((char *) (node) - offsetof(type, field)))

/*  Prepare an empty table with nbuckets buckets (rounded up to a power of 2,
 *  at least 8).  Returns 0, or FL_E_NOMEM (the table is then empty and safe to
 *  fini). */
int fl_keytab_init(fl_keytab_t *self, size_t nbuckets);

/*  Free the buckets.  The nodes are the caller's: walk them first with
 *  fl_keytab_next if they must be freed. */
void fl_keytab_fini(fl_keytab_t *self);

/*  The linked node whose key is these size bytes, or NULL. */
fl_keynode_t *fl_keytab_find(const fl_keytab_t *self, const void *key, size_t size);

/*  Link node (its key and key_size set, no node with an equal key linked:
 *  the caller checks with fl_keytab_find).  Cannot fail. */
void fl_keytab_insert(fl_keytab_t *self, fl_keynode_t *node);

/*  Unlink node, which must be linked. */
void fl_keytab_remove(fl_keytab_t *self, fl_keynode_t *node);

/*  Walk every linked node: start with *cursor = 0 and after = NULL, then pass
 *  back the node returned; NULL at the end.  The node returned may be removed
 *  (and freed) before the next call, because the walk remembers its successor
 *  in *next_p.  Usage:
 *      size_t at = 0; fl_keynode_t *n, *next = NULL;
 *      while ((n = fl_keytab_next(&t, &at, &next))) ...                    */
fl_keynode_t *fl_keytab_next(const fl_keytab_t *self, size_t *cursor, fl_keynode_t **next_p);

#endif
