/* util.h — assertions, the allocation hook and small helpers shared by every stage. */
#ifndef NNC_UTIL_H
#define NNC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <setjmp.h>

/* Compiler bugs, never user errors: print the location and abort. */
#define ASSERT(c) ((c) ? (void)0 : util_assert_fail(#c, __FILE__, __LINE__))
#define UNREACHABLE() util_assert_fail("unreachable", __FILE__, __LINE__)
_Noreturn void util_assert_fail(const char *what, const char *file, int line);

/* Every heap allocation of the compiler goes through these, so tests can inject failure.
 * On failure they print "nnc: out of memory (N bytes)" and exit(3) (or recover: see
 * util_set_recovery): the compiler never continues with a NULL it did not expect. */
void *util_malloc(size_t n);
void *util_realloc(void *p, size_t n);
void util_free(void *p);
char *util_strdup(const char *s);
/* Test hook: make the Nth allocation from now fail (0 disables). */
void util_fail_alloc_after(long n);
/* Where an internal compiler error or a failed allocation goes instead of ending the
 * process: with `at` set, they print their message and longjmp(*at, 1). The REPL sets one
 * around each entry, which then fails while the session goes on. NULL (the default)
 * restores abort and exit(3). */
void util_set_recovery(jmp_buf *at);

/* Reads a whole file (a regular file or a FIFO: a device or a directory is refused);
 * NULL and errno set on failure, and util_read_error() says why. *len excludes the added
 * NUL. */
char *util_read_file(const char *path, size_t *len);
const char *util_read_error(void);
/* Whether both paths exist and name the same file (st_dev and st_ino: through ./, links). */
bool util_same_file(const char *a, const char *b);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A growable array of pointers, heap-backed (not arena), for passes' worklists. */
typedef struct PtrVec {
    void **items;
    int len, cap;
} PtrVec;
void util_vec_push(PtrVec *v, void *p);
void util_vec_free(PtrVec *v);

#endif
