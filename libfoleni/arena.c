/*  arena.c — a bump allocator over a chain of blocks.  See arena.h.
 *
 *  Small requests share 4 KiB blocks; a request larger than a quarter block gets
 *  a block of its own, so one big list does not waste the rest of a block.
 */
#include "libfoleni/arena.h"

#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE  4096
#define ARENA_MAX_ALLOC   (64u << 20)

typedef struct block {
    struct block *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
} block_t;

struct fl_arena {
    block_t *head;          /* block being filled; big blocks go behind it */
    size_t used;
};

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
        free(b);
        b = next;
    }
    free(*self_p);
    *self_p = NULL;
}

static block_t *
s_block_new(size_t size)
{
    block_t *b = malloc(sizeof(block_t) + size);
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
