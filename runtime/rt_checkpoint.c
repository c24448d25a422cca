/* rt_checkpoint.c — checkpoints in the safetensors format:
 *
 *   u64 N (little-endian)   length of the header
 *   N bytes of JSON         {"__metadata__": {"step": "12", ...},
 *                            "fc1.w": {"dtype": "F32", "shape": [256, 784],
 *                                      "data_offsets": [0, 802816]}, ...}
 *                           padded with spaces so the data starts 8-byte aligned
 *   the data                each tensor's bytes, little-endian, row-major; offsets are
 *                           relative to the start of the data, tensors tile it exactly
 *
 * Saving is atomic (a temporary file in the same directory, fsync, rename), so a crash or
 * a full disk never leaves a half-written checkpoint where a good one was. Loading checks
 * the whole file (header length, JSON, dtypes, shapes, offsets, size) before it writes a
 * single byte into the program's tensors. */
#define _GNU_SOURCE /* POSIX: mkstemp, fsync, pread, open_memstream, getline, fstatat, kill */
#include "rt_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The safetensors reference implementation refuses headers above 100 MB. */
enum { RT_HEADER_LIMIT = 100000000 };
/* Host ints are doubles: whole numbers are exact up to this magnitude. */
#define RT_HOST_INT_LIMIT (INT64_C(1) << 53)

typedef struct RtDtypeInfo {
    const char *name;
    int size;
} RtDtypeInfo;

/* Every safetensors dtype, so a file holding other tensors (say BF16 weights the program
 * does not ask for) still validates; the program's own tensors must be F32, I32, I64 or
 * F64 (the first four, in RtDtype order). */
static const RtDtypeInfo rt_dtypes[] = {
    {"F32", 4}, {"I32", 4}, {"I64", 8}, {"F64", 8}, {"F16", 2}, {"BF16", 2}, {"I16", 2},
    {"U16", 2}, {"U32", 4}, {"U64", 8}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E5M2", 1},
    {"F8_E4M3", 1},
};
enum { RT_DTYPE_COUNT = sizeof rt_dtypes / sizeof rt_dtypes[0] };

static const char *rt_dtype_name(RtDtype dtype)
{
    return (unsigned)dtype <= RT_DTYPE_F64 ? rt_dtypes[dtype].name : "?";
}

/* Bytes of a view's tensor; a bad view (a program bug) is fatal. */
static uint64_t rt_view_bytes(const RtTensorView *view)
{
    if ((unsigned)view->dtype > RT_DTYPE_F64)
        rt_fatal("checkpoint tensor '%s' has an unknown dtype %d", view->name, (int)view->dtype);
    if (view->rank < 0 || view->rank > RT_MAX_RANK)
        rt_fatal("checkpoint tensor '%s' has rank %d (0..%d allowed)", view->name, view->rank,
                 RT_MAX_RANK);
    uint64_t bytes = (uint64_t)rt_dtypes[view->dtype].size;
    for (int32_t axis = 0; axis < view->rank; axis++)
        if (view->dims[axis] < 0 ||
            __builtin_mul_overflow(bytes, (uint64_t)view->dims[axis], &bytes))
            rt_fatal("checkpoint tensor '%s' has a bad dimension %" PRId64, view->name,
                     view->dims[axis]);
    return bytes;
}

static void rt_check_views(const RtTensorView *views, int32_t n)
{
    if (n < 0)
        rt_fatal("checkpoint of %d tensors", n);
    for (int32_t i = 0; i < n; i++) {
        if (views[i].name == NULL || views[i].name[0] == '\0' ||
            strcmp(views[i].name, "__metadata__") == 0)
            rt_fatal("checkpoint tensor %d has no usable name", i);
        if (rt_view_bytes(&views[i]) > 0 && views[i].data == NULL)
            rt_fatal("checkpoint tensor '%s' has no data", views[i].name);
        if (views[i].integer && (views[i].dtype != RT_DTYPE_F64 || views[i].rank != 0))
            rt_fatal("checkpoint tensor '%s' is a host int but not a rank-0 F64 view",
                     views[i].name);
        for (int32_t j = 0; j < i; j++)
            if (strcmp(views[i].name, views[j].name) == 0)
                rt_fatal("checkpoint tensor name '%s' is used twice", views[i].name);
    }
}

/* ---- writing ---------------------------------------------------------------------------- */

/* A growable text buffer for the JSON header. */
typedef struct RtText {
    char *data;
    size_t length, capacity;
} RtText;

static void rt_text_append(RtText *text, const char *bytes, size_t length)
{
    if (text->length + length + 1 > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 1024;
        while (capacity < text->length + length + 1)
            capacity = rt_size_mul(capacity, 2);
        text->data = rt_realloc(text->data, capacity);
        text->capacity = capacity;
    }
    memcpy(text->data + text->length, bytes, length);
    text->length += length;
    text->data[text->length] = '\0';
}

__attribute__((format(printf, 2, 3))) static void rt_text_printf(RtText *text, const char *fmt,
                                                                 ...)
{
    char buffer[256];
    va_list args;
    va_start(args, fmt);
    int length = vsnprintf(buffer, sizeof buffer, fmt, args);
    va_end(args);
    rt_text_append(text, buffer, (size_t)length < sizeof buffer ? (size_t)length : sizeof buffer - 1);
}

/* A JSON string: quotes, backslashes and control characters escaped; other bytes as is. */
static void rt_text_json_string(RtText *text, const char *value)
{
    rt_text_append(text, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char escaped[2] = {'\\', (char)*c};
            rt_text_append(text, escaped, 2);
        } else if (*c < 0x20) {
            rt_text_printf(text, "\\u%04x", *c);
        } else {
            rt_text_append(text, (const char *)c, 1);
        }
    }
    rt_text_append(text, "\"", 1);
}

static RtText rt_header_build(const RtTensorView *views, int32_t n, const RtMeta *meta)
{
    RtText text = {0};
    rt_text_append(&text, "{", 1);
    if (meta != NULL)
        rt_text_printf(&text,
                       "\"__metadata__\":{\"format\":\"nnc\",\"step\":\"%" PRId64
                       "\",\"epoch\":\"%" PRId64 "\",\"seed\":\"%" PRIu64
                       "\",\"rng_counter\":\"%" PRIu64 "\",\"data_position\":\"%" PRId64 "\"}",
                       meta->step, meta->epoch, meta->seed, meta->rng_counter,
                       meta->data_position);
    uint64_t offset = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i > 0 || meta != NULL)
            rt_text_append(&text, ",", 1);
        rt_text_json_string(&text, views[i].name);
        rt_text_printf(&text, ":{\"dtype\":\"%s\",\"shape\":[", rt_dtype_name(views[i].dtype));
        for (int32_t axis = 0; axis < views[i].rank; axis++)
            rt_text_printf(&text, axis ? ",%" PRId64 : "%" PRId64, views[i].dims[axis]);
        uint64_t bytes = rt_view_bytes(&views[i]);
        rt_text_printf(&text, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset,
                       offset + bytes);
        offset += bytes;
    }
    rt_text_append(&text, "}", 1);
    while ((8 + text.length) % 8 != 0)
        rt_text_append(&text, " ", 1);
    return text;
}

/* Writes everything to `file`; returns 0, or the errno of the first failure. */
static int rt_checkpoint_write_all(FILE *file, const RtText *header, const RtTensorView *views,
                                   int32_t n)
{
    uint8_t length[8];
    for (int b = 0; b < 8; b++)
        length[b] = (uint8_t)((uint64_t)header->length >> (8 * b));
    errno = 0;
    if (fwrite(length, 1, 8, file) != 8 ||
        fwrite(header->data, 1, header->length, file) != header->length)
        return errno ? errno : EIO;
    for (int32_t i = 0; i < n; i++) {
        size_t bytes = (size_t)rt_view_bytes(&views[i]);
        if (bytes > 0 && fwrite(views[i].data, 1, bytes, file) != bytes)
            return errno ? errno : EIO;
    }
    if (fflush(file) != 0)
        return errno ? errno : EIO;
    if (fsync(fileno(file)) != 0)
        return errno;
    return 0;
}

/* ---- temporary files and the target's directory ------------------------------------------ */

/* The directory of path ("." for a bare name), rt_alloc'd. */
static char *rt_path_dir(const char *path)
{
    size_t dir_length = strlen(path) + 2;
    char *dir = rt_alloc(dir_length);
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, dir_length, ".");
    else if (slash == path)
        snprintf(dir, dir_length, "/");
    else
        snprintf(dir, dir_length, "%.*s", (int)(slash - path), path);
    return dir;
}

/* A temporary file for path: "PATH.tmp-PID-XXXXXX", made by mkstemp; the writer's process
 * id in the name lets a later save tell a file left by a killed writer from one still
 * being written (rt_remove_stale_temps). Returns the fd (< 0: errno says why) and the
 * name in *temp (rt_alloc'd). */
static int rt_temp_create(const char *path, char **temp)
{
    size_t temp_length = strlen(path) + 40;
    *temp = rt_alloc(temp_length);
    snprintf(*temp, temp_length, "%s.tmp-%ld-XXXXXX", path, (long)getpid());
    return mkstemp(*temp);
}

/* Removes the temporary files of earlier saves of path whose writer is gone: exactly the
 * names rt_temp_create makes for this path, regular files, whose process id names no
 * process (kill(pid, 0) fails with ESRCH). A save killed between creating its file and
 * renaming it (kill -9, a power cut) leaves one; without this they accumulated. A file
 * of a live process, of another target, or of another name is left alone, and so is a
 * file whose writer ran on another machine sharing the directory with a live process of
 * the same id. */
static void rt_remove_stale_temps(const char *path)
{
    char *dir = rt_path_dir(path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t base_length = strlen(base);
    DIR *d = opendir(dir);
    if (d == NULL) {
        rt_free(dir);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        const char *name = entry->d_name;
        if (strncmp(name, base, base_length) != 0 || strncmp(name + base_length, ".tmp-", 5))
            continue;
        const char *digits = name + base_length + 5, *end = digits;
        while (*end >= '0' && *end <= '9')
            end++;
        if (end == digits || end - digits > 18 || *end != '-' || strlen(end + 1) != 6)
            continue;
        long pid = strtol(digits, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        struct stat info;
        if (fstatat(dirfd(d), name, &info, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(info.st_mode))
            unlinkat(dirfd(d), name, 0);
    }
    closedir(d);
    rt_free(dir);
}

void rt_check_output_path(const char *path)
{
    if (path == NULL)
        return;
    struct stat info;
    if (stat(path, &info) == 0 && !S_ISREG(info.st_mode))
        rt_fatal("cannot write checkpoint %s: %s", path,
                 S_ISDIR(info.st_mode) ? "it is a directory" : "it is not a regular file");
    /* what a save does first: a temporary file next to path (a missing or read-only
     * directory fails here), on a file system with room */
    char *temp;
    int fd = rt_temp_create(path, &temp);
    if (fd < 0)
        rt_fatal("cannot write checkpoint %s: cannot create a temporary file next to it: %s",
                 path, strerror(errno));
    struct statvfs space;
    int full = fstatvfs(fd, &space) == 0 &&
               (geteuid() == 0 ? space.f_bfree : space.f_bavail) == 0;
    close(fd);
    unlink(temp);
    rt_free(temp);
    if (full)
        rt_fatal("cannot write checkpoint %s: %s", path, strerror(ENOSPC));
}

void rt_checkpoint_save(const char *path, const RtTensorView *views, int32_t n,
                        const RtMeta *meta)
{
    rt_check_views(views, n);
    struct stat target;
    /* renaming over a device (--save /dev/null) would replace the device itself */
    if (stat(path, &target) == 0 && !S_ISREG(target.st_mode))
        rt_fatal("cannot write checkpoint %s: %s", path,
                 S_ISDIR(target.st_mode) ? "it is a directory" : "it is not a regular file");
    RtText header = rt_header_build(views, n, meta);
    rt_remove_stale_temps(path);
    char *temp;
    int fd = rt_temp_create(path, &temp);
    if (fd < 0) {
        int error = errno;
        rt_fatal("cannot write checkpoint %s: cannot create a temporary file next to it: %s",
                 path, strerror(error));
    }
    /* mkstemp makes the file 0600; give it the mode a new file would get (0666 & ~umask). */
    mode_t mask = umask(0);
    umask(mask);
    int error = fchmod(fd, 0666 & ~mask) != 0 ? errno : 0;
    FILE *file = error ? NULL : fdopen(fd, "wb");
    if (!error && file == NULL)
        error = errno;
    if (!error)
        error = rt_checkpoint_write_all(file, &header, views, n);
    if (file != NULL) {
        if (fclose(file) != 0 && !error)
            error = errno;
    } else {
        close(fd);
    }
    if (!error && rename(temp, path) != 0)
        error = errno;
    rt_free(header.data);
    if (error) {
        unlink(temp);
        rt_free(temp);
        rt_fatal("cannot write checkpoint %s: %s (any previous checkpoint there is unchanged)",
                 path, strerror(error));
    }
    rt_free(temp);

    /* Make the rename itself durable. A directory that cannot be opened or synced (some
     * file systems refuse) leaves a complete file in place, so that is not an error. */
    char *dir = rt_path_dir(path);
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dir_fd >= 0) {
        fsync(dir_fd);
        close(dir_fd);
    }
    rt_free(dir);
}

/* ---- the header parser (strict JSON, just this shape) ----------------------------------------- */

typedef struct RtEntry {
    char *name;
    int dtype; /* index into rt_dtypes */
    int32_t rank;
    int64_t dims[RT_MAX_RANK];
    uint64_t begin, end;
} RtEntry;

typedef struct RtHeader {
    const char *path;
    const char *text;
    size_t length, pos;
    RtEntry *entries;
    int32_t count, capacity;
    char *meta_keys[16]; /* the first 16 metadata pairs; more are checked and dropped */
    char *meta_values[16];
    int32_t meta_count;
} RtHeader;

_Noreturn __attribute__((format(printf, 2, 3))) static void rt_corrupt(const RtHeader *header,
                                                                      const char *fmt, ...)
{
    char message[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    rt_fatal("%s: corrupt checkpoint: %s", header->path, message);
}

_Noreturn static void rt_json_expected(const RtHeader *header, const char *what)
{
    size_t left = header->length - header->pos;
    rt_corrupt(header, "bad JSON header at byte %zu: expected %s, found '%.*s'", header->pos,
               what, left > 20 ? 20 : (int)left, header->text + header->pos);
}

static void rt_json_space(RtHeader *header)
{
    while (header->pos < header->length &&
           (header->text[header->pos] == ' ' || header->text[header->pos] == '\t' ||
            header->text[header->pos] == '\n' || header->text[header->pos] == '\r'))
        header->pos++;
}

static int rt_json_accept(RtHeader *header, char c)
{
    rt_json_space(header);
    if (header->pos < header->length && header->text[header->pos] == c) {
        header->pos++;
        return 1;
    }
    return 0;
}

static void rt_json_expect(RtHeader *header, char c)
{
    if (!rt_json_accept(header, c)) {
        char what[4] = {'\'', c, '\'', '\0'};
        rt_json_expected(header, what);
    }
}

static int rt_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static uint32_t rt_json_hex4(RtHeader *header)
{
    uint32_t value = 0;
    for (int k = 0; k < 4; k++) {
        int digit = header->pos < header->length ? rt_hex_digit(header->text[header->pos]) : -1;
        if (digit < 0)
            rt_json_expected(header, "four hex digits after \\u");
        value = value * 16 + (uint32_t)digit;
        header->pos++;
    }
    return value;
}

/* A JSON string, decoded to UTF-8 (rt_alloc'd, NUL-terminated; an escaped NUL is refused). */
static char *rt_json_string(RtHeader *header)
{
    rt_json_space(header);
    if (header->pos >= header->length || header->text[header->pos] != '"')
        rt_json_expected(header, "a string");
    header->pos++;
    RtText out = {0};
    rt_text_append(&out, "", 0);
    for (;;) {
        if (header->pos >= header->length)
            rt_json_expected(header, "a closing '\"'");
        unsigned char c = (unsigned char)header->text[header->pos++];
        if (c == '"')
            break;
        if (c < 0x20) {
            header->pos--;
            rt_json_expected(header, "no control characters in a string");
        }
        if (c != '\\') {
            rt_text_append(&out, (const char *)&c, 1);
            continue;
        }
        if (header->pos >= header->length)
            rt_json_expected(header, "an escape");
        char e = header->text[header->pos++];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e != '\0' && simple != NULL) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            rt_text_append(&out, &decoded[simple - "\"\\/bfnrt"], 1);
            continue;
        }
        if (e != 'u') {
            header->pos--;
            rt_json_expected(header, "a valid escape");
        }
        uint32_t code = rt_json_hex4(header);
        if (code >= 0xD800 && code < 0xDC00) { /* a surrogate pair */
            if (header->pos + 2 > header->length || header->text[header->pos] != '\\' ||
                header->text[header->pos + 1] != 'u')
                rt_json_expected(header, "the second half of a surrogate pair");
            header->pos += 2;
            uint32_t low = rt_json_hex4(header);
            if (low < 0xDC00 || low >= 0xE000)
                rt_json_expected(header, "a low surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if ((code >= 0xDC00 && code < 0xE000) || code == 0) {
            rt_json_expected(header, "a character other than NUL or a lone surrogate");
        }
        char utf8[4];
        size_t bytes;
        if (code < 0x80) {
            utf8[0] = (char)code;
            bytes = 1;
        } else if (code < 0x800) {
            utf8[0] = (char)(0xC0 | code >> 6);
            utf8[1] = (char)(0x80 | (code & 0x3F));
            bytes = 2;
        } else if (code < 0x10000) {
            utf8[0] = (char)(0xE0 | code >> 12);
            utf8[1] = (char)(0x80 | (code >> 6 & 0x3F));
            utf8[2] = (char)(0x80 | (code & 0x3F));
            bytes = 3;
        } else {
            utf8[0] = (char)(0xF0 | code >> 18);
            utf8[1] = (char)(0x80 | (code >> 12 & 0x3F));
            utf8[2] = (char)(0x80 | (code >> 6 & 0x3F));
            utf8[3] = (char)(0x80 | (code & 0x3F));
            bytes = 4;
        }
        rt_text_append(&out, utf8, bytes);
    }
    return out.data;
}

/* A non-negative JSON integer (no sign, fraction or exponent; no leading zeros). */
static uint64_t rt_json_uint(RtHeader *header, const char *what)
{
    rt_json_space(header);
    size_t start = header->pos;
    uint64_t value = 0;
    while (header->pos < header->length && header->text[header->pos] >= '0' &&
           header->text[header->pos] <= '9') {
        uint64_t digit = (uint64_t)(header->text[header->pos] - '0');
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, digit, &value) || value > (uint64_t)INT64_MAX)
            rt_corrupt(header, "%s at byte %zu is too large", what, start);
        header->pos++;
    }
    if (header->pos == start)
        rt_json_expected(header, what);
    if (header->text[start] == '0' && header->pos - start > 1) {
        header->pos = start;
        rt_json_expected(header, "a number without leading zeros");
    }
    if (header->pos < header->length &&
        strchr(".eE-+", header->text[header->pos]) != NULL && header->text[header->pos] != '\0')
        rt_json_expected(header, "a whole number");
    return value;
}

static void rt_parse_metadata(RtHeader *header)
{
    rt_json_expect(header, '{');
    if (rt_json_accept(header, '}'))
        return;
    do {
        char *key = rt_json_string(header);
        rt_json_expect(header, ':');
        char *value = rt_json_string(header);
        if (header->meta_count < 16) {
            header->meta_keys[header->meta_count] = key;
            header->meta_values[header->meta_count++] = value;
        } else {
            rt_free(key);
            rt_free(value);
        }
    } while (rt_json_accept(header, ','));
    rt_json_expect(header, '}');
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, in any key order. */
static void rt_parse_entry(RtHeader *header, RtEntry *entry)
{
    int seen_dtype = 0, seen_shape = 0, seen_offsets = 0;
    rt_json_expect(header, '{');
    do {
        char *key = rt_json_string(header);
        rt_json_expect(header, ':');
        if (strcmp(key, "dtype") == 0 && !seen_dtype) {
            char *dtype = rt_json_string(header);
            entry->dtype = -1;
            for (int d = 0; d < RT_DTYPE_COUNT; d++)
                if (strcmp(dtype, rt_dtypes[d].name) == 0)
                    entry->dtype = d;
            if (entry->dtype < 0)
                rt_corrupt(header, "tensor '%s' has unknown dtype \"%s\"", entry->name, dtype);
            rt_free(dtype);
            seen_dtype = 1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            rt_json_expect(header, '[');
            if (!rt_json_accept(header, ']')) {
                do {
                    if (entry->rank == RT_MAX_RANK)
                        rt_corrupt(header, "tensor '%s' has more than %d dimensions",
                                   entry->name, RT_MAX_RANK);
                    entry->dims[entry->rank++] = (int64_t)rt_json_uint(header, "a dimension");
                } while (rt_json_accept(header, ','));
                rt_json_expect(header, ']');
            }
            seen_shape = 1;
        } else if (strcmp(key, "data_offsets") == 0 && !seen_offsets) {
            rt_json_expect(header, '[');
            entry->begin = rt_json_uint(header, "a data offset");
            rt_json_expect(header, ',');
            entry->end = rt_json_uint(header, "a data offset");
            rt_json_expect(header, ']');
            seen_offsets = 1;
        } else {
            rt_corrupt(header, "tensor '%s' has an unexpected or repeated key \"%s\"",
                       entry->name, key);
        }
        rt_free(key);
    } while (rt_json_accept(header, ','));
    rt_json_expect(header, '}');
    if (!seen_dtype || !seen_shape || !seen_offsets)
        rt_corrupt(header, "tensor '%s' lacks \"%s\"", entry->name,
                   !seen_dtype ? "dtype" : !seen_shape ? "shape" : "data_offsets");
}

static void rt_parse_header(RtHeader *header)
{
    int seen_metadata = 0;
    rt_json_expect(header, '{');
    if (!rt_json_accept(header, '}')) {
        do {
            char *name = rt_json_string(header);
            rt_json_expect(header, ':');
            if (strcmp(name, "__metadata__") == 0) {
                if (seen_metadata)
                    rt_corrupt(header, "\"__metadata__\" appears twice");
                seen_metadata = 1;
                rt_parse_metadata(header);
                rt_free(name);
                continue;
            }
            for (int32_t i = 0; i < header->count; i++)
                if (strcmp(header->entries[i].name, name) == 0)
                    rt_corrupt(header, "tensor '%s' appears twice", name);
            if (header->count == header->capacity) {
                header->capacity = header->capacity ? 2 * header->capacity : 16;
                header->entries = rt_realloc(
                    header->entries, rt_size_mul((size_t)header->capacity, sizeof(RtEntry)));
            }
            RtEntry *entry = &header->entries[header->count++];
            *entry = (RtEntry){.name = name};
            rt_parse_entry(header, entry);
        } while (rt_json_accept(header, ','));
        rt_json_expect(header, '}');
    }
    rt_json_space(header);
    if (header->pos != header->length)
        rt_json_expected(header, "the end of the header");
}

static void rt_header_free(RtHeader *header)
{
    for (int32_t i = 0; i < header->count; i++)
        rt_free(header->entries[i].name);
    rt_free(header->entries);
    for (int32_t i = 0; i < header->meta_count; i++) {
        rt_free(header->meta_keys[i]);
        rt_free(header->meta_values[i]);
    }
}

/* ---- loading --------------------------------------------------------------------------------- */

static int rt_entry_order(const void *a, const void *b)
{
    const RtEntry *x = *(const RtEntry *const *)a, *y = *(const RtEntry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Offsets consistent with shapes, inside the data, tiling it without overlap or gaps. */
static void rt_check_layout(RtHeader *header, uint64_t data_size)
{
    const RtEntry **sorted = rt_alloc(rt_size_mul((size_t)header->count + 1, sizeof *sorted));
    for (int32_t i = 0; i < header->count; i++) {
        const RtEntry *entry = &header->entries[i];
        uint64_t bytes = (uint64_t)rt_dtypes[entry->dtype].size;
        for (int32_t axis = 0; axis < entry->rank; axis++)
            if (__builtin_mul_overflow(bytes, (uint64_t)entry->dims[axis], &bytes))
                rt_corrupt(header, "tensor '%s' has an impossibly large shape", entry->name);
        if (entry->end < entry->begin)
            rt_corrupt(header, "tensor '%s' has data_offsets [%" PRIu64 ", %" PRIu64
                       "] that run backwards",
                       entry->name, entry->begin, entry->end);
        if (entry->end - entry->begin != bytes) {
            char shape[160];
            rt_shape_text(shape, sizeof shape, entry->rank, entry->dims);
            rt_corrupt(header, "tensor '%s' is %s %s (%" PRIu64 " bytes) but its data_offsets "
                       "[%" PRIu64 ", %" PRIu64 "] span %" PRIu64 " bytes",
                       entry->name, rt_dtypes[entry->dtype].name, shape, bytes, entry->begin,
                       entry->end, entry->end - entry->begin);
        }
        if (entry->end > data_size)
            rt_corrupt(header, "truncated: tensor '%s' needs data bytes [%" PRIu64 ", %" PRIu64
                       ") but the file holds only %" PRIu64 " bytes of data",
                       entry->name, entry->begin, entry->end, data_size);
        sorted[i] = entry;
    }
    qsort(sorted, (size_t)header->count, sizeof *sorted, rt_entry_order);
    uint64_t covered = 0; /* data bytes [0, covered) belong to tensors seen so far */
    const RtEntry *previous = NULL;
    for (int32_t i = 0; i < header->count; i++) {
        const RtEntry *entry = sorted[i];
        if (entry->begin == entry->end)
            continue; /* an empty tensor occupies nothing */
        if (entry->begin < covered)
            rt_corrupt(header, "tensors '%s' [%" PRIu64 ", %" PRIu64 ") and '%s' [%" PRIu64
                       ", %" PRIu64 ") overlap",
                       previous->name, previous->begin, previous->end, entry->name,
                       entry->begin, entry->end);
        if (entry->begin > covered)
            rt_corrupt(header, "data bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor",
                       covered, entry->begin);
        covered = entry->end;
        previous = entry;
    }
    if (covered != data_size)
        rt_corrupt(header, "the file holds %" PRIu64 " bytes of data but its tensors use %" PRIu64
                   " (trailing bytes)",
                   data_size, covered);
    rt_free(sorted);
}

/* pread all of [offset, offset + bytes) or fail clearly. */
static void rt_read_exact(int fd, const char *path, void *out, uint64_t bytes, uint64_t offset)
{
    uint8_t *at = out;
    while (bytes > 0) {
        size_t want = bytes > (1u << 30) ? (1u << 30) : (size_t)bytes;
        ssize_t got = pread(fd, at, want, (off_t)offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rt_fatal("cannot read checkpoint %s: %s", path, strerror(errno));
        if (got == 0)
            rt_fatal("%s: corrupt checkpoint: the file shrank while it was read", path);
        at += got;
        bytes -= (uint64_t)got;
        offset += (uint64_t)got;
    }
}

/* Host ints are doubles in the program (exact up to 2^53), and the loop it resumes
 * converts them back: a NaN epoch would end the loop at once, 0.5 would be truncated and
 * 1e300 would not convert at all. So the checkpoint's value must be one the program's int
 * could have held. (Host floats are taken as written: the program itself may hold an
 * infinity or a NaN in one and save it.) */
static void rt_check_host_int(const RtHeader *header, int fd, const char *name, uint64_t offset)
{
    double value;
    rt_read_exact(fd, header->path, &value, sizeof value, offset);
    if (!isfinite(value))
        rt_corrupt(header, "'%s' is %g, but the program's variable is an int", name, value);
    if (value != floor(value))
        rt_corrupt(header, "'%s' is %.17g, but the program's variable is an int (a whole "
                   "number)", name, value);
    if (fabs(value) > RT_HOST_INT_LIMIT)
        rt_corrupt(header, "'%s' is %.0f, beyond the 2^53 a host int holds exactly", name,
                   value);
}

/* Returns 1 when the metadata names an epoch (a training checkpoint's). */
static int rt_meta_read(RtHeader *header, RtMeta *meta)
{
    int has_epoch = 0;
    static const char *const keys[] = {"step", "epoch", "seed", "rng_counter", "data_position"};
    uint64_t *unsigned_fields[] = {NULL, NULL, &meta->seed, &meta->rng_counter, NULL};
    int64_t *signed_fields[] = {&meta->step, &meta->epoch, NULL, NULL, &meta->data_position};
    *meta = (RtMeta){0};
    for (int32_t i = 0; i < header->meta_count; i++) {
        for (int k = 0; k < 5; k++) {
            if (strcmp(header->meta_keys[i], keys[k]) != 0)
                continue;
            const char *text = header->meta_values[i];
            has_epoch |= k == 1;
            char *end;
            errno = 0;
            if (unsigned_fields[k]) {
                unsigned long long value = strtoull(text, &end, 10);
                if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0)
                    rt_corrupt(header, "__metadata__ \"%s\" is \"%s\", not a whole number",
                               keys[k], text);
                *unsigned_fields[k] = value;
            } else {
                long long value = strtoll(text, &end, 10);
                if (text[0] == '\0' || *end != '\0' || errno != 0 || text[0] == ' ')
                    rt_corrupt(header, "__metadata__ \"%s\" is \"%s\", not an integer",
                               keys[k], text);
                *signed_fields[k] = value;
            }
        }
    }
    return has_epoch;
}

/* rt_checkpoint_load; with `training`, a file whose metadata has no epoch is refused. */
static void rt_checkpoint_read(const char *path, const RtTensorView *views, int32_t n,
                               RtMeta *meta, int training)
{
    rt_check_views(views, n);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        rt_fatal("cannot open checkpoint %s: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0)
        rt_fatal("cannot read checkpoint %s: %s", path, strerror(errno));
    if (!S_ISREG(info.st_mode))
        rt_fatal("%s: not a regular file, so not a checkpoint", path);
    uint64_t file_size = (uint64_t)info.st_size;

    RtHeader header = {.path = path};
    if (file_size < 8)
        rt_corrupt(&header, "the file has %" PRIu64 " bytes, fewer than the 8 of the header "
                   "length",
                   file_size);
    uint8_t length_bytes[8];
    rt_read_exact(fd, path, length_bytes, 8, 0);
    uint64_t header_length = 0;
    for (int b = 7; b >= 0; b--)
        header_length = header_length << 8 | length_bytes[b];
    if (header_length < 2 || header_length > RT_HEADER_LIMIT)
        rt_corrupt(&header, "header length %" PRIu64 " is not plausible (2 to %d bytes)",
                   header_length, RT_HEADER_LIMIT);
    if (header_length > file_size - 8)
        rt_corrupt(&header, "truncated: the header claims %" PRIu64 " bytes but only %" PRIu64
                   " follow",
                   header_length, file_size - 8);
    char *text = rt_alloc((size_t)header_length + 1);
    rt_read_exact(fd, path, text, header_length, 8);
    text[header_length] = '\0';
    header.text = text;
    header.length = (size_t)header_length;
    rt_parse_header(&header);
    uint64_t data_start = 8 + header_length;
    rt_check_layout(&header, file_size - data_start);

    RtMeta read_meta = {0};
    if ((meta != NULL || training) && !rt_meta_read(&header, &read_meta) && training)
        rt_fatal("%s: not a training checkpoint: its metadata has no epoch (save(net, path) "
                 "writes parameters only; --save writes what --resume reads)",
                 path);

    /* Every requested tensor must be present with its dtype and shape, before any copy. */
    const RtEntry **found = rt_alloc(rt_size_mul((size_t)n + 1, sizeof *found));
    for (int32_t i = 0; i < n; i++) {
        const RtTensorView *view = &views[i];
        found[i] = NULL;
        for (int32_t e = 0; e < header.count && found[i] == NULL; e++)
            if (strcmp(header.entries[e].name, view->name) == 0)
                found[i] = &header.entries[e];
        if (found[i] == NULL)
            rt_fatal("%s: the checkpoint has no tensor '%s' (it holds %d tensors: a checkpoint "
                     "of another model?)",
                     path, view->name, header.count);
        const RtEntry *entry = found[i];
        if (entry->dtype != (int)view->dtype)
            rt_fatal("%s: tensor '%s' is %s in the checkpoint, but the program expects %s",
                     path, view->name, rt_dtypes[entry->dtype].name, rt_dtype_name(view->dtype));
        if (entry->rank != view->rank ||
            memcmp(entry->dims, view->dims, (size_t)view->rank * sizeof(int64_t)) != 0) {
            char expected[160], got[160];
            rt_shape_text(expected, sizeof expected, view->rank, view->dims);
            rt_shape_text(got, sizeof got, entry->rank, entry->dims);
            rt_fatal("%s: tensor '%s' has shape %s in the checkpoint, but the program expects %s",
                     path, view->name, got, expected);
        }
    }
    for (int32_t i = 0; i < n; i++)
        if (views[i].integer)
            rt_check_host_int(&header, fd, views[i].name, data_start + found[i]->begin);
    for (int32_t i = 0; i < n; i++)
        rt_read_exact(fd, path, views[i].data, found[i]->end - found[i]->begin,
                      data_start + found[i]->begin);
    if (meta != NULL)
        *meta = read_meta;
    close(fd);
    rt_free(found);
    rt_free(text);
    rt_header_free(&header);
}

void rt_checkpoint_load(const char *path, const RtTensorView *views, int32_t n, RtMeta *meta)
{
    rt_checkpoint_read(path, views, n, meta, 0);
}

/* ---- training checkpoints (--save, --resume, --save-every, --max-steps) ---------------------- */

/* The training of the one program running. rt_train_resume resets it, before any step. */
typedef struct RtTrain {
    int64_t step;            /* training steps taken, those of resumed runs included */
    int64_t resume_position; /* > 0: the batches of the resumed epoch already taken */
    int64_t save_every, max_steps; /* the flags, 0 when off or not available */
    int32_t stopped;               /* --max-steps was reached */
} RtTrain;

static RtTrain rt_train;

/* --save FILE, or NULL. */
static const char *rt_train_save_path(void)
{
    return rt_flags_checkpoints_allowed() ? rt_flag_get_string("save") : NULL;
}

static void rt_train_write(const RtTensorView *views, int32_t n, int64_t epoch, int64_t position)
{
    const char *path = rt_train_save_path();
    if (path == NULL)
        return;
    RtMeta meta = {.step = rt_train.step, .epoch = epoch, .seed = rt_run_seed(),
                   .data_position = position};
    rt_checkpoint_save(path, views, n, &meta);
}

void rt_train_save(const RtTensorView *views, int32_t n, int64_t epoch)
{
    rt_train_write(views, n, epoch, 0);
}

int32_t rt_train_resume(const RtTensorView *views, int32_t n)
{
    int steps = rt_flags_steps_allowed();
    rt_train = (RtTrain){
        .save_every = steps ? rt_flag_get_int("save-every") : 0,
        .max_steps = steps ? rt_flag_get_int("max-steps") : 0,
    };
    const char *path = rt_flags_checkpoints_allowed() ? rt_flag_get_string("resume") : NULL;
    if (path == NULL)
        return 0;
    RtMeta meta;
    rt_checkpoint_read(path, views, n, &meta, 1);
    /* its shuffles and dropout continue only with the seed they started from */
    if (meta.seed != rt_run_seed())
        rt_fatal("%s: the checkpoint was saved by a run with --seed %" PRIu64
                 "; resume it with that seed (this run has --seed %" PRIu64 ")",
                 path, meta.seed, rt_run_seed());
    if (meta.step < 0 || meta.data_position < 0)
        rt_fatal("%s: corrupt checkpoint: step %" PRId64 " and data position %" PRId64
                 " cannot be negative", path, meta.step, meta.data_position);
    /* counted on from here (rt_train_step), and compared with host ints */
    if (meta.step > RT_HOST_INT_LIMIT || meta.data_position > RT_HOST_INT_LIMIT ||
        meta.epoch > RT_HOST_INT_LIMIT || meta.epoch < -RT_HOST_INT_LIMIT)
        rt_fatal("%s: corrupt checkpoint: step %" PRId64 ", epoch %" PRId64
                 " or data position %" PRId64 " is beyond 2^53, more than a run can count",
                 path, meta.step, meta.epoch, meta.data_position);
    if (meta.data_position > 0 && !steps)
        rt_fatal("%s: the checkpoint was saved inside an epoch, but this program cannot resume "
                 "there: %s", path, rt_flags_steps_why_not());
    if (rt_train.max_steps > 0 && meta.step >= rt_train.max_steps)
        rt_fatal("%s: the checkpoint is at step %" PRId64 ", so --max-steps %" PRId64
                 " leaves nothing to train", path, meta.step, rt_train.max_steps);
    rt_train.step = meta.step;
    if (rt_flag_get_bool("eval-only"))
        return 1; /* nothing trains: no batch to go on from */
    rt_train.resume_position = meta.data_position;
    return meta.data_position > 0 ? 2 : 1;
}

int32_t rt_train_resuming(void)
{
    return rt_train.resume_position > 0;
}

void rt_train_batches(RtBatches *it)
{
    if (rt_train.resume_position == 0)
        return;
    rt_batches_seek(it, rt_train.resume_position);
    rt_progress_skip(rt_train.resume_position);
    rt_train.resume_position = 0;
}

int32_t rt_train_step(const RtTensorView *views, int32_t n, int64_t epoch, const RtBatches *it)
{
    rt_train.step++;
    int stop = rt_train.max_steps > 0 && rt_train.step >= rt_train.max_steps;
    if ((rt_train.save_every > 0 && rt_train.step % rt_train.save_every == 0) || stop)
        rt_train_write(views, n, epoch, rt_batches_position(it));
    if (stop) {
        rt_train.stopped = 1;
        rt_progress_end();
        const char *path = rt_train_save_path();
        rt_progress_note("training stopped after step %" PRId64 " (--max-steps)%s%s",
                         rt_train.step, path ? "; saved to " : "", path ? path : "");
    }
    return stop;
}

int32_t rt_train_stopped(void)
{
    return rt_train.stopped;
}
