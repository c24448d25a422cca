/* arena.h — bump allocators with stated lifetimes.
 * One arena per compilation unit holds the AST; one per graph holds IR; passes use a
 * scratch arena reset after each pass. Everything is freed at once with arena_free. */
#ifndef NNC_ARENA_H
#define NNC_ARENA_H

#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
    ArenaBlock *head;
    size_t total;  /* bytes handed out, for --mem style reports and leak tests */
} Arena;

void arena_init(Arena *a);
void *arena_alloc(Arena *a, size_t n);        /* zeroed, 16-byte aligned */
void *arena_copy(Arena *a, const void *p, size_t n);
char *arena_strndup(Arena *a, const char *s, size_t n);
void arena_reset(Arena *a);                   /* frees all but keeps the struct usable */
void arena_free(Arena *a);

#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_NEW_N(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

#endif
