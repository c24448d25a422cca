/* rt_arena.c — the arenas that hold a program's intermediates.
 * An arena is one 64-byte aligned, zero-filled block; generated code carves named views
 * out of it at offsets the compiler planned, so the runtime only allocates and frees. */
#include "nnc_rt.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* 64 bytes: a cache line, and enough for any vector load generated code may use. */
enum { RT_ARENA_ALIGNMENT = 64 };

_Noreturn static void rt_out_of_memory(int64_t bytes)
{
    fflush(stdout);
    fprintf(stderr, "nnc: out of memory (%" PRId64 " bytes)\n", bytes);
    exit(3);
}

/* Returns a block of at least `bytes` bytes (a zero-byte request still gets a distinct,
 * valid block, so every arena can be released the same way). Never returns NULL. */
void *rt_arena_new(int64_t bytes)
{
    if (bytes < 0)
        rt_fatal("arena of negative size (%" PRId64 " bytes) requested", bytes);
    if ((uint64_t)bytes > SIZE_MAX - RT_ARENA_ALIGNMENT)
        rt_out_of_memory(bytes);

    /* aligned_alloc wants a whole number of alignment units; the tail is never used. */
    size_t size = ((size_t)bytes + RT_ARENA_ALIGNMENT - 1) / RT_ARENA_ALIGNMENT
                  * RT_ARENA_ALIGNMENT;
    if (size == 0)
        size = RT_ARENA_ALIGNMENT;
    /* memory the kernel grants but cannot back would kill the process, without a
     * message, when the memset below touches it */
    rt_memory_reserve(size);
    void *base = aligned_alloc(RT_ARENA_ALIGNMENT, size);
    if (base == NULL)
        rt_out_of_memory(bytes);
    memset(base, 0, size);
    return base;
}

/* `base` must come from rt_arena_new (or be NULL); every view into it dies with it. */
void rt_arena_release(void *base)
{
    free(base);
}
