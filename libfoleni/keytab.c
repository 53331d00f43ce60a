/*  keytab.c — an intrusive hash table keyed by short byte strings.  See
 *  keytab.h for why it exists and how the broker and the client use it. */
#include "libfoleni/keytab.h"

#include <stdlib.h>
#include <string.h>

#include "libfoleni/error.h"

static uint32_t
s_hash(const void *key, size_t size)
{
    const uint8_t *d = key;
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (size_t i = 0; i < size; i++) {
        h ^= d[i];
        h *= 16777619u;
    }
    return h;
}

int
fl_keytab_init(fl_keytab_t *self, size_t nbuckets)
{
    size_t n = 8;
    while (n < nbuckets)
        n *= 2;
    *self = (fl_keytab_t) { 0 };
    if (!(self->buckets = calloc(n, sizeof *self->buckets)))
        return FL_E_NOMEM;
    self->nbuckets = n;
    return 0;
}

void
fl_keytab_fini(fl_keytab_t *self)
{
    free(self->buckets);
    *self = (fl_keytab_t) { 0 };
}

fl_keynode_t *
fl_keytab_find(const fl_keytab_t *self, const void *key, size_t size)
{
    if (!self->nbuckets)
        return NULL;
    uint32_t h = s_hash(key, size);
    for (fl_keynode_t *n = self->buckets[h & (self->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && n->key_size == size && !memcmp(n->key, key, size))
            return n;
    return NULL;
}

/* Double the buckets once the table holds as many nodes as it has buckets. */
static void
s_grow(fl_keytab_t *self)
{
    size_t n = self->nbuckets * 2;
    fl_keynode_t **b = calloc(n, sizeof *b);
    if (!b)
        return;                         /* chains get longer; lookups still work */
    for (size_t i = 0; i < self->nbuckets; i++)
        for (fl_keynode_t *x = self->buckets[i], *next; x; x = next) {
            next = x->next;
            x->next = b[x->hash & (n - 1)];
            b[x->hash & (n - 1)] = x;
        }
    free(self->buckets);
    self->buckets = b;
    self->nbuckets = n;
}

void
fl_keytab_insert(fl_keytab_t *self, fl_keynode_t *node)
{
    if (self->count >= self->nbuckets)
        s_grow(self);
    node->hash = s_hash(node->key, node->key_size);
    fl_keynode_t **head = &self->buckets[node->hash & (self->nbuckets - 1)];
    node->next = *head;
    *head = node;
    self->count++;
}

void
fl_keytab_remove(fl_keytab_t *self, fl_keynode_t *node)
{
    for (fl_keynode_t **at = &self->buckets[node->hash & (self->nbuckets - 1)]; *at; at = &(*at)->next)
        if (*at == node) {
            *at = node->next;
            self->count--;
            return;
        }
}

fl_keynode_t *
fl_keytab_next(const fl_keytab_t *self, size_t *cursor, fl_keynode_t **next_p)
{
    fl_keynode_t *n = *next_p;
    while (!n && *cursor < self->nbuckets)
        n = self->buckets[(*cursor)++];
    *next_p = n ? n->next : NULL;
    return n;
}
