/* rt_util.c — allocation, whole-file reading (plain or gzip) and number parsing shared by
 * the runtime's data, flag and checkpoint code (rt_internal.h). */
#define _GNU_SOURCE /* POSIX: open flags, pread, fdopen */
#include "rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

/* ---- allocation -------------------------------------------------------------------------- */

_Noreturn static void rt_out_of_memory(size_t bytes)
{
    fflush(stdout);
    fprintf(stderr, "nnc: out of memory (%zu bytes)\n", bytes);
    exit(3);
}

void *rt_alloc(size_t bytes)
{
    rt_memory_reserve(bytes); /* a large block is about to be filled */
    void *block = malloc(bytes == 0 ? 1 : bytes);
    if (block == NULL)
        rt_out_of_memory(bytes);
    return block;
}

size_t rt_size_mul(size_t count, size_t size)
{
    size_t product;
    if (__builtin_mul_overflow(count, size, &product))
        rt_out_of_memory(SIZE_MAX);
    return product;
}

void *rt_alloc_zeroed(size_t count, size_t size)
{
    rt_memory_reserve(rt_size_mul(count, size));
    void *block = calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
    if (block == NULL)
        rt_out_of_memory(rt_size_mul(count, size));
    return block;
}

void *rt_realloc(void *block, size_t bytes)
{
    rt_memory_reserve(bytes); /* more than needed: the old part is in use already */
    void *moved = realloc(block, bytes == 0 ? 1 : bytes);
    if (moved == NULL)
        rt_out_of_memory(bytes);
    return moved;
}

char *rt_strdup(const char *text)
{
    size_t length = strlen(text) + 1;
    char *copy = rt_alloc(length);
    memcpy(copy, text, length);
    return copy;
}

void rt_free(void *block)
{
    free(block);
}

/* ---- whole files --------------------------------------------------------------------------- */

enum { RT_READ_CHUNK = 1 << 20 };

/* The buffer for a read of at most `limit` bytes: a chunk, or less when the limit is. */
static size_t rt_first_capacity(size_t limit)
{
    return limit < RT_READ_CHUNK ? limit + 1 : RT_READ_CHUNK;
}

/* Reads an uncompressed file through stdio: at most `limit` bytes, then one more to know
 * whether there is more. */
static RtFileBytes rt_read_plain(const char *path, FILE *file, size_t limit)
{
    RtFileBytes result = {0};
    size_t capacity = rt_first_capacity(limit);
    result.bytes = rt_alloc(capacity);
    for (;;) {
        if (result.size == capacity) {
            capacity = rt_size_mul(capacity, 2);
            result.bytes = rt_realloc(result.bytes, capacity);
        }
        size_t want = capacity - result.size;
        if (result.size + want > limit)
            want = limit - result.size + 1; /* the probe for more */
        size_t got = fread(result.bytes + result.size, 1, want, file);
        result.size += got;
        if (got == 0 || result.size > limit)
            break;
    }
    if (ferror(file)) {
        int error = errno;
        fclose(file);
        rt_fatal("cannot read %s: %s", path, strerror(error));
    }
    fclose(file);
    if (result.size > limit) {
        result.size = limit;
        result.more = 1;
    }
    return result;
}

/* Decompresses a gzip file (any number of concatenated members, as gunzip accepts), as
 * rt_read_plain: at most `limit` bytes, so a header that declares a small file stops a
 * stream that would inflate to gigabytes. */
static RtFileBytes rt_read_gzip(const char *path, int fd, size_t limit)
{
    RtFileBytes result = {.gzip = 1};
    gzFile file = gzdopen(fd, "rb");
    if (file == NULL)
        rt_fatal("cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(file, 1 << 17);
    size_t capacity = rt_first_capacity(limit);
    result.bytes = rt_alloc(capacity);
    for (;;) {
        if (result.size == capacity) {
            capacity = rt_size_mul(capacity, 2);
            result.bytes = rt_realloc(result.bytes, capacity);
        }
        size_t want = capacity - result.size;
        if (result.size + want > limit)
            want = limit - result.size + 1; /* the probe for more */
        if (want > (1u << 30))
            want = 1u << 30; /* gzread counts in unsigned int */
        int got = gzread(file, result.bytes + result.size, (unsigned)want);
        if (got < 0) {
            int code;
            const char *message = gzerror(file, &code);
            if (code == Z_ERRNO)
                rt_fatal("cannot read %s: %s", path, strerror(errno));
            /* Z_DATA_ERROR, Z_BUF_ERROR ("unexpected end of file"): keep what we have. */
            result.gzip_problem = code == Z_BUF_ERROR ? "compressed data ends early"
                                                       : "corrupt compressed data";
            (void)message;
            break;
        }
        if (got == 0) {
            /* A clean end of input, or a stream cut short that zlib reports at the end. */
            int code;
            gzerror(file, &code);
            if (code == Z_BUF_ERROR)
                result.gzip_problem = "compressed data ends early";
            else if (code != Z_OK)
                result.gzip_problem = "corrupt compressed data";
            break;
        }
        result.size += (size_t)got;
        if (result.size > limit)
            break;
    }
    gzclose(file);
    if (result.size > limit) {
        result.size = limit;
        result.more = 1;
    }
    return result;
}

RtFileBytes rt_file_read_upto(const char *path, size_t limit)
{
    /* O_NONBLOCK: a FIFO without a writer must not block the open; it is refused */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        rt_fatal("cannot open %s: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0)
        rt_fatal("cannot read %s: %s", path, strerror(errno));
    if (!S_ISREG(info.st_mode)) {
        close(fd);
        /* a device (/dev/zero) or a FIFO may never end; a directory has no data */
        rt_fatal("cannot read %s: %s", path,
                 S_ISDIR(info.st_mode)    ? "it is a directory"
                 : S_ISFIFO(info.st_mode) ? "it is a FIFO, not a regular file"
                 : S_ISCHR(info.st_mode)  ? "it is a character device, not a regular file"
                                          : "it is not a regular file");
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        rt_fatal("cannot read %s: %s", path, strerror(errno));
    unsigned char magic[2];
    ssize_t got = pread(fd, magic, 2, 0);
    if (got < 0)
        rt_fatal("cannot read %s: %s", path, strerror(errno));
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        return rt_read_gzip(path, fd, limit);
    FILE *file = fdopen(fd, "rb");
    if (file == NULL)
        rt_fatal("cannot read %s: %s", path, strerror(errno));
    return rt_read_plain(path, file, limit);
}

RtFileBytes rt_file_read_all(const char *path)
{
    return rt_file_read_upto(path, SIZE_MAX - 1);
}

uint32_t rt_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- numbers in text ----------------------------------------------------------------------- */

enum { RT_NUMBER_CHARS = 128 };

/* Copies text[0..length) into a NUL-terminated buffer for strtoll/strtod; longer text is
 * not a number anyone writes, so it is rejected. */
static int rt_number_text(const char *text, size_t length, char buffer[RT_NUMBER_CHARS])
{
    if (length == 0 || length >= RT_NUMBER_CHARS)
        return 0;
    memcpy(buffer, text, length);
    buffer[length] = '\0';
    /* strto* skip leading white space; a field with spaces is the caller's to trim. */
    return !(buffer[0] == ' ' || buffer[0] == '\t' || buffer[0] == '\n' || buffer[0] == '\r' ||
             buffer[0] == '\f' || buffer[0] == '\v');
}

int rt_parse_int64(const char *text, size_t length, int64_t *value)
{
    char buffer[RT_NUMBER_CHARS];
    if (!rt_number_text(text, length, buffer))
        return 0;
    char *end;
    errno = 0;
    long long parsed = strtoll(buffer, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    *value = (int64_t)parsed;
    return 1;
}

int rt_parse_double(const char *text, size_t length, double *value)
{
    char buffer[RT_NUMBER_CHARS];
    if (!rt_number_text(text, length, buffer))
        return 0;
    char *end;
    errno = 0;
    double parsed = strtod(buffer, &end);
    /* ERANGE also flags underflow to a tiny value, which is a fine number; overflow and
     * "inf"/"nan" are not. */
    if (*end != '\0' || !isfinite(parsed))
        return 0;
    *value = parsed;
    return 1;
}

const char *rt_shape_text(char *text, size_t capacity, int32_t rank, const int64_t *dims)
{
    size_t used = (size_t)snprintf(text, capacity, "[");
    for (int32_t axis = 0; axis < rank && used < capacity; axis++)
        used += (size_t)snprintf(text + used, capacity - used, axis ? ", %" PRId64 : "%" PRId64,
                                 dims[axis]);
    if (used < capacity)
        snprintf(text + used, capacity - used, "]");
    return text;
}
