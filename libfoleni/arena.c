/*  arena.c — a bump allocator over a chain of blocks.  See arena.h.
 *
 *  Small requests share 4 KiB blocks; a request larger than a quarter block gets
 *  a block of its own, so one big list does not waste the rest of a block.
 *
 *  Each thread keeps up to ARENA_CACHE_MAX freed 4 KiB blocks for its next
 *  arenas.  A message is built and freed per request, several per booking, and
 *  a fresh block is a malloc large enough to make glibc sweep its fast bins
 *  (malloc_consolidate) each time: that sweep and the malloc and free around it
 *  were about a tenth of the scheduler's CPU.  The cache is freed when its
 *  thread ends, and sanitizer builds keep none (sanitize.h).
 */
#include "libfoleni/arena.h"
#include "libfoleni/sanitize.h"

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE  4096
#define ARENA_MAX_ALLOC   (64u << 20)
#define ARENA_CACHE_MAX   32        /* blocks kept per thread: 128 KiB */

typedef struct block {
    struct block *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
} block_t;

struct fl_arena {
    block_t *head;          /* block being filled; big blocks go behind it */
    size_t used;
};

/* ---- the per-thread cache of standard blocks ---- */

static _Thread_local block_t *tl_cache;
static _Thread_local unsigned tl_cached;
static pthread_key_t s_cache_key;
static pthread_once_t s_cache_once = PTHREAD_ONCE_INIT;
static bool s_cache_ok;

/* At thread exit (the key's value is only a flag that the thread cached). */
static void
s_cache_free(void *flag)
{
    (void) flag;
    while (tl_cache) {
        block_t *next = tl_cache->next;
        free(tl_cache);
        tl_cache = next;
    }
    tl_cached = 0;
}

static void
s_cache_key_make(void)
{
    s_cache_ok = pthread_key_create(&s_cache_key, s_cache_free) == 0;
}

/* Keep b for this thread's next arena; false when it must be freed instead. */
static bool
s_cache_put(block_t *b)
{
    if (FL_ASAN || b->size != ARENA_BLOCK_SIZE || tl_cached >= ARENA_CACHE_MAX)
        return false;                   /* sanitizer builds keep none (sanitize.h) */
    if (!tl_cache) {                    /* the first block: make sure it is freed at thread exit */
        pthread_once(&s_cache_once, s_cache_key_make);
        if (!s_cache_ok || pthread_setspecific(s_cache_key, (void *) 1) != 0)
            return false;
    }
    b->next = tl_cache;
    tl_cache = b;
    tl_cached++;
    return true;
}

fl_arena_t *
fl_arena_new(void)
{
    return calloc(1, sizeof(fl_arena_t));
}

void
fl_arena_destroy(fl_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    block_t *b = (*self_p)->head;
    while (b) {
        block_t *next = b->next;
        if (!s_cache_put(b))
            free(b);
        b = next;
    }
    free(*self_p);
    *self_p = NULL;
}

static block_t *
s_block_new(size_t size)
{
    block_t *b;
    if (size == ARENA_BLOCK_SIZE && tl_cache) {
        b = tl_cache;
        tl_cache = b->next;
        tl_cached--;
    } else
        b = malloc(sizeof(block_t) + size);
    if (b) {
        b->next = NULL;
        b->size = size;
        b->used = 0;
    }
    return b;
}

void *
fl_arena_alloc(fl_arena_t *self, size_t size)
{
    assert(self);
    if (size > ARENA_MAX_ALLOC)
        return NULL;
    const size_t align = alignof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    if (size == 0)
        size = align;

    block_t *b = self->head;
    if (size > ARENA_BLOCK_SIZE / 4) {
        block_t *big = s_block_new(size);
        if (!big)
            return NULL;
        big->used = size;
        if (b) {                        /* keep filling the current small block */
            big->next = b->next;
            b->next = big;
        } else
            self->head = big;
        self->used += size;
        memset(big->data, 0, size);
        return big->data;
    }
    if (!b || b->size - b->used < size) {
        block_t *fresh = s_block_new(ARENA_BLOCK_SIZE);
        if (!fresh)
            return NULL;
        fresh->next = b;
        self->head = b = fresh;
    }
    void *p = b->data + b->used;
    b->used += size;
    self->used += size;
    memset(p, 0, size);
    return p;
}

char *
fl_arena_strndup(fl_arena_t *self, const char *text, size_t len)
{
    char *copy = fl_arena_alloc(self, len + 1);
    if (copy) {
        if (len)
            memcpy(copy, text, len);
        copy[len] = '\0';
    }
    return copy;
}

size_t
fl_arena_used(const fl_arena_t *self)
{
    return self->used;
}
