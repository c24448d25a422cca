#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long fail_countdown;
static jmp_buf *recovery;

void util_set_recovery(jmp_buf *at) { recovery = at; }

/* Leaves through the recovery point, if one is set (once: a failure while recovering
 * ends the process). */
static void recover(void)
{
    jmp_buf *at = recovery;
    recovery = NULL;
    if (at)
        longjmp(*at, 1);
}

_Noreturn void util_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "nnc: internal compiler error: %s at %s:%d\n", what, file, line);
    recover();
    abort();
}

static void *check(void *p, size_t n)
{
    if (!p) {
        fprintf(stderr, "nnc: out of memory (%zu bytes)\n", n);
        recover();
        exit(3);
    }
    return p;
}

static bool injected_failure(void)
{
    return fail_countdown > 0 && --fail_countdown == 0;
}

void util_fail_alloc_after(long n) { fail_countdown = n; }

void *util_malloc(size_t n)
{
    return check(injected_failure() ? NULL : malloc(n ? n : 1), n);
}

void *util_realloc(void *p, size_t n)
{
    return check(injected_failure() ? NULL : realloc(p, n ? n : 1), n);
}

void util_free(void *p) { free(p); }

char *util_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(util_malloc(n), s, n);
}

static const char *read_error; /* util_read_error's answer; NULL: strerror(errno) */

const char *util_read_error(void)
{
    return read_error ? read_error : strerror(errno);
}

/* Why a file of this mode is not read (NULL: it is read): a device such as /dev/zero
 * never ends, and a directory has no text. A FIFO is read, so that `nnc run /dev/stdin`
 * and `<(...)` work; it ends when its writer closes it. */
static const char *unreadable_kind(mode_t mode)
{
    if (S_ISREG(mode) || S_ISFIFO(mode))
        return NULL;
    if (S_ISDIR(mode))
        return "it is a directory";
    if (S_ISCHR(mode))
        return "it is a character device, not a regular file";
    if (S_ISBLK(mode))
        return "it is a block device, not a regular file";
    return "it is not a regular file";
}

char *util_read_file(const char *path, size_t *len)
{
    read_error = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (read_error = unreadable_kind(st.st_mode)) != NULL) {
        fclose(f);
        errno = EINVAL;
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = util_malloc(cap);
    for (;;) {
        if (n + 1 >= cap)
            buf = util_realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        util_free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

void util_vec_push(PtrVec *v, void *p)
{
    if (v->len == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->items = util_realloc(v->items, sizeof(void *) * (size_t)v->cap);
    }
    v->items[v->len++] = p;
}

void util_vec_free(PtrVec *v)
{
    util_free(v->items);
    *v = (PtrVec){0};
}

bool util_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}
