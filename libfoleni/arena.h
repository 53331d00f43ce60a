/*  arena.h — a bump allocator whose memory is freed all at once.
 *
 *  A decoded message owns one arena: its strings, lists and nested items are
 *  carved from it, so destroying the message is one call and no error path can
 *  leak a piece of it.  Not thread-safe (one message, one thread).
 */
#ifndef FOLENI_ARENA_H
#define FOLENI_ARENA_H

#include <stddef.h>

typedef struct fl_arena fl_arena_t;

/*  A new empty arena, or NULL when out of memory. */
fl_arena_t *fl_arena_new(void);

/*  Free every block the arena handed out, then the arena; sets *self_p to NULL.
 *  Safe on NULL and on *self_p == NULL. */
void fl_arena_destroy(fl_arena_t **self_p);

/*  size bytes aligned for any type, zero-filled, valid until the arena is
 *  destroyed; NULL when out of memory or size is absurd (> 64 MiB). */
void *fl_arena_alloc(fl_arena_t *self, size_t size);

/*  A NUL-terminated copy of len bytes of text (which need not be terminated);
 *  NULL when out of memory. */
char *fl_arena_strndup(fl_arena_t *self, const char *text, size_t len);

/*  Bytes handed out so far (for tests and limits). */
size_t fl_arena_used(const fl_arena_t *self);

#endif
