/* rt_data_load.c — dataset files: IDX (MNIST, Fashion-MNIST), CSV and NPY.
 * Each loader reads the whole file (through zlib when it is gzip'd), checks it completely,
 * converts it, and hands the blocks to rt_dataset_from_blocks (rt_data.c). Every problem
 * is fatal with a message that names the file and says what was expected and found. */
#define _GNU_SOURCE /* POSIX: stat */
#include "rt_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

static int64_t rt_dims_product(int32_t rank, const int64_t *dims)
{
    int64_t product = 1;
    for (int32_t axis = 0; axis < rank; axis++)
        if (__builtin_mul_overflow(product, dims[axis], &product))
            return INT64_MAX;
    return product;
}

/* ---- IDX ----------------------------------------------------------------------------------- */

/* An IDX file: magic 00 00 TYPE RANK, then RANK big-endian u32 dimensions (the first is
 * the item count), then the items; only TYPE 0x08 (unsigned bytes) is read here. */
typedef struct RtIdx {
    RtFileBytes file;
    int32_t rank; /* dimensions in the file, the count included */
    int64_t dims[RT_MAX_RANK + 1];
    const uint8_t *data;
    int64_t item_size; /* bytes per item: product of dims[1..rank) */
} RtIdx;

/* Reads and checks an IDX file of `what` ("images": rank >= 2, "labels": rank 1): its
 * header first, then no more than the items it declares (rt_file_read_upto), so that a
 * gzip'd file is never inflated past its declared size. */
static RtIdx rt_idx_read(const char *path, const char *what)
{
    int labels = strcmp(what, "labels") == 0;
    RtIdx idx = {.file = rt_file_read_upto(path, 4 + 4 * 255)};
    const uint8_t *bytes = idx.file.bytes;
    size_t size = idx.file.size;
    const char *cut = idx.file.gzip_problem ? idx.file.gzip_problem : "the file ends early";
    if (size < 4) {
        if (idx.file.gzip_problem)
            rt_fatal("%s: truncated: %s within the 4-byte IDX magic number", path, cut);
        rt_fatal("%s: not an IDX file: it has only %zu bytes", path, size);
    }
    uint32_t magic = rt_load_be32(bytes);
    if (bytes[0] != 0 || bytes[1] != 0)
        rt_fatal("%s: not an IDX file (magic number 0x%08" PRIx32
                 "; an IDX file starts with two zero bytes, a type and a rank)",
                 path, magic);
    if (bytes[2] != 0x08)
        rt_fatal("%s: IDX element type 0x%02x is not supported (only unsigned bytes, 0x08)",
                 path, bytes[2]);
    idx.rank = bytes[3];
    if (labels && idx.rank != 1)
        rt_fatal("%s: expected an IDX file of labels (rank 1, magic 0x00000801), found rank %d "
                 "(magic 0x%08" PRIx32 ")%s",
                 path, idx.rank, magic, idx.rank == 3 ? ": images and labels swapped?" : "");
    if (!labels && (idx.rank < 2 || idx.rank > RT_MAX_RANK + 1))
        rt_fatal("%s: expected an IDX file of images (rank 2 to %d, e.g. magic 0x00000803), "
                 "found rank %d (magic 0x%08" PRIx32 ")%s",
                 path, RT_MAX_RANK + 1, idx.rank, magic,
                 idx.rank == 1 ? ": images and labels swapped?" : "");

    size_t header = 4 + 4 * (size_t)idx.rank;
    if (size < header)
        rt_fatal("%s: truncated: the IDX header needs %zu bytes, found %zu (%s)", path, header,
                 size, cut);
    for (int32_t axis = 0; axis < idx.rank; axis++)
        idx.dims[axis] = rt_load_be32(bytes + 4 + 4 * axis);
    idx.item_size = rt_dims_product(idx.rank - 1, idx.dims + 1);
    if (idx.dims[0] == 0)
        rt_fatal("%s: the IDX file holds no %s (count 0)", path, what);
    for (int32_t axis = 1; axis < idx.rank; axis++)
        if (idx.dims[axis] == 0)
            rt_fatal("%s: %s of size 0 (dimension %d is 0)", path, what, axis);

    /* Counts and sizes are below 2^32 each, so this product of two fits in 64 bits only
     * when checked; a file claiming more than that is corrupt anyway. */
    int64_t expected;
    if (__builtin_mul_overflow(idx.dims[0], idx.item_size, &expected) ||
        (uint64_t)expected > SIZE_MAX - header)
        rt_fatal("%s: IDX dimensions describe more than 2^63 bytes", path);
    rt_free(idx.file.bytes);
    idx.file = rt_file_read_upto(path, header + (size_t)expected);
    cut = idx.file.gzip_problem ? idx.file.gzip_problem : "the file ends early";
    size_t found = idx.file.size - header;
    if ((uint64_t)found < (uint64_t)expected)
        rt_fatal("%s: truncated: expected %" PRId64 " bytes of %s, found %zu (%s)", path,
                 expected, what, found, cut);
    if (idx.file.more)
        rt_fatal("%s: unexpected data after the %" PRId64 " %s (the header declares %" PRId64
                 " bytes of them%s)",
                 path, idx.dims[0], what, expected,
                 idx.file.gzip ? "; the file was not decompressed further" : "");
    if (idx.file.gzip_problem)
        rt_fatal("%s: %s (the gzip check failed after the last of the %s)", path,
                 idx.file.gzip_problem, what);
    idx.data = idx.file.bytes + header;
    return idx;
}

/* Does the file's image shape satisfy the program's expected sample shape? Equal dims,
 * equal dims once 1s are dropped, or one flat dimension of the same size. */
static int rt_image_shape_agrees(int32_t file_rank, const int64_t *file_dims, int32_t want_rank,
                                 const int64_t *want)
{
    int64_t a[RT_MAX_RANK + 1], b[RT_MAX_RANK + 1];
    int32_t na = 0, nb = 0;
    for (int32_t i = 0; i < file_rank; i++)
        if (file_dims[i] != 1)
            a[na++] = file_dims[i];
    for (int32_t i = 0; i < want_rank; i++)
        if (want[i] != 1)
            b[nb++] = want[i];
    if (na == nb && memcmp(a, b, (size_t)na * sizeof(int64_t)) == 0)
        return 1;
    return want_rank == 1 && want[0] == rt_dims_product(file_rank, file_dims);
}

RtDataset *rt_dataset_idx(const char *images_path, const char *labels_path, int32_t rank,
                          const int64_t *sample_shape)
{
    if (rank < 0 || rank > RT_MAX_RANK)
        rt_fatal("%s: expected sample rank %d is outside 0..%d", images_path, rank,
                 RT_MAX_RANK);
    RtIdx images = rt_idx_read(images_path, "images");
    int32_t file_rank = images.rank - 1;
    const int64_t *file_shape = images.dims + 1;
    if (rank > 0) {
        for (int32_t axis = 0; axis < rank; axis++)
            if (sample_shape[axis] <= 0)
                rt_fatal("%s: expected sample shape has dimension %" PRId64, images_path,
                         sample_shape[axis]);
        if (!rt_image_shape_agrees(file_rank, file_shape, rank, sample_shape)) {
            char found[160], wanted[160];
            rt_fatal("%s: images are %s (%" PRId64 " values each), but the program expects %s "
                     "(%" PRId64 " values)",
                     images_path, rt_shape_text(found, sizeof found, file_rank, file_shape),
                     images.item_size, rt_shape_text(wanted, sizeof wanted, rank, sample_shape),
                     rt_dims_product(rank, sample_shape));
        }
    }
    RtIdx labels = rt_idx_read(labels_path, "labels");
    if (labels.dims[0] != images.dims[0])
        rt_fatal("%s has %" PRId64 " images but %s has %" PRId64
                 " labels: they must have one label per image",
                 images_path, images.dims[0], labels_path, labels.dims[0]);

    int64_t count = images.dims[0];
    int32_t *y = rt_alloc(rt_size_mul((size_t)count, sizeof(int32_t)));
    for (int64_t i = 0; i < count; i++)
        y[i] = labels.data[i];
    rt_free(labels.file.bytes);

    if (rank == 0) {
        rank = file_rank;
        sample_shape = file_shape;
    }
    /* The images stay the file's bytes, a quarter of their floats' size: each sample is
     * converted as a batch gathers it, which then reads 4 times fewer bytes from all over
     * the data set (rt_copy_sample). */
    RtDataset *ds = rt_dataset_from_bytes(images_path, count, rank, sample_shape,
                                          images.file.bytes, images.data, y);
    rt_dataset_set_y_source(ds, labels_path);
    return ds;
}

/* ---- MNIST and Fashion-MNIST --------------------------------------------------------------------- */

/* dir/name.gz when it exists, else dir/name when that exists, else a clear error. The
 * result is rt_alloc'd. */
static char *rt_find_idx_file(const char *dir, const char *name, const char *title,
                              const char *hint)
{
    size_t length = strlen(dir) + strlen(name) + 8;
    char *path = rt_alloc(length);
    struct stat info;
    snprintf(path, length, "%s/%s.gz", dir, name);
    if (stat(path, &info) == 0)
        return path;
    snprintf(path, length, "%s/%s", dir, name);
    if (stat(path, &info) == 0)
        return path;
    if (stat(dir, &info) != 0)
        rt_fatal("no %s data: cannot open directory %s: %s (%s)", title, dir, strerror(errno),
                 hint);
    rt_fatal("no %s data in %s: neither %s.gz nor %s is there (%s)", title, dir, name, name,
             hint);
}

static void rt_dataset_idx_pair(const char *dir, const char *title, const char *hint,
                                int32_t rank, const int64_t *sample_shape, RtDataset **train,
                                RtDataset **test)
{
    static const char *const names[2][2] = {
        {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
        {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
    };
    RtDataset **outputs[2] = {train, test};
    for (int part = 0; part < 2; part++) {
        char *images = rt_find_idx_file(dir, names[part][0], title, hint);
        char *labels = rt_find_idx_file(dir, names[part][1], title, hint);
        *outputs[part] = rt_dataset_idx(images, labels, rank, sample_shape);
        rt_free(images);
        rt_free(labels);
    }
}

/* The data directory: --data DIR when given (the user's choice at run time overrides the
 * program's), else the program's, else the Debian package's. */
static const char *rt_data_dir(const char *program_dir, const char *package_dir)
{
    const char *given = rt_flag_get_string("data");
    return given ? given : program_dir ? program_dir : package_dir;
}

void rt_dataset_fashion_mnist(const char *dir, int32_t rank, const int64_t *sample_shape,
                              RtDataset **train, RtDataset **test)
{
    dir = rt_data_dir(dir, "/usr/share/datasets/fashion-mnist");
    rt_dataset_idx_pair(dir, "Fashion-MNIST",
                        "on Debian: apt-get install dataset-fashion-mnist, or pass --data DIR",
                        rank, sample_shape, train, test);
}

void rt_dataset_mnist(const char *dir, int32_t rank, const int64_t *sample_shape,
                      RtDataset **train, RtDataset **test)
{
    dir = rt_data_dir(dir, "/usr/share/datasets/mnist");
    rt_dataset_idx_pair(dir, "MNIST",
                        "put the four MNIST IDX files there, or pass --data DIR", rank,
                        sample_shape, train, test);
}

/* ---- CSV ----------------------------------------------------------------------------------------- */

/* A growable array of 4-byte values. */
typedef struct RtGrow {
    void *data;
    size_t count, capacity;
} RtGrow;

static void rt_grow_push(RtGrow *grow, const void *value)
{
    if (grow->count == grow->capacity) {
        grow->capacity = grow->capacity ? 2 * grow->capacity : 1024;
        grow->data = rt_realloc(grow->data, rt_size_mul(grow->capacity, 4));
    }
    memcpy((uint8_t *)grow->data + 4 * grow->count++, value, 4);
}

typedef struct RtCsvField {
    const char *text; /* trimmed of spaces and tabs */
    size_t length;
    size_t column; /* 1-based byte column of the field's first character */
} RtCsvField;

/* Splits the line [line, end) at commas into fields (growing *fields); returns the count. */
static size_t rt_csv_split(const char *line, const char *end, RtCsvField **fields,
                           size_t *capacity)
{
    size_t count = 0;
    const char *start = line;
    for (;;) {
        const char *stop = start;
        while (stop < end && *stop != ',')
            stop++;
        const char *a = start, *b = stop;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (count == *capacity) {
            *capacity = *capacity ? 2 * *capacity : 64;
            *fields = rt_realloc(*fields, rt_size_mul(*capacity, sizeof(RtCsvField)));
        }
        (*fields)[count++] = (RtCsvField){a, (size_t)(b - a), (size_t)(a - line) + 1};
        if (stop == end)
            return count;
        start = stop + 1;
    }
}

RtDataset *rt_dataset_csv(const char *path, int64_t features, int32_t has_label)
{
    if (features < 0)
        rt_fatal("%s: feature count %" PRId64 " is negative", path, features);
    RtFileBytes file = rt_file_read_all(path);
    if (file.gzip_problem)
        rt_fatal("%s: %s", path, file.gzip_problem);
    const char *text = (const char *)file.bytes;
    const char *text_end = text + file.size;
    RtGrow x = {0}, y = {0};
    RtCsvField *fields = NULL;
    size_t capacity = 0;
    int64_t samples = 0;
    int seen_first = 0;
    int64_t line_number = 0;
    for (const char *line = text; line < text_end;) {
        const char *end = memchr(line, '\n', (size_t)(text_end - line));
        const char *next = end ? end + 1 : text_end;
        if (end == NULL)
            end = text_end;
        if (end > line && end[-1] == '\r')
            end--;
        line_number++;
        const char *probe = line;
        while (probe < end && (*probe == ' ' || *probe == '\t'))
            probe++;
        if (probe == end) { /* blank line */
            line = next;
            continue;
        }
        size_t count = rt_csv_split(line, end, &fields, &capacity);
        double value;
        if (!seen_first) {
            seen_first = 1;
            if (!rt_parse_double(fields[0].text, fields[0].length, &value)) {
                line = next; /* a header line */
                continue;
            }
        }
        if (features == 0) {
            if ((int64_t)count <= has_label)
                rt_fatal("%s:%" PRId64 ": one field is a label and nothing is left for "
                         "features",
                         path, line_number);
            features = (int64_t)count - has_label;
        }
        if ((int64_t)count != features + has_label)
            rt_fatal("%s:%" PRId64 ": expected %" PRId64 " fields (%" PRId64 " features%s), "
                     "found %zu",
                     path, line_number, features + has_label, features,
                     has_label ? " and a label" : "", count);
        for (int64_t f = 0; f < features; f++) {
            const RtCsvField *field = &fields[f];
            if (field->length == 0)
                rt_fatal("%s:%" PRId64 ":%zu: empty field (feature %" PRId64 ")", path,
                         line_number, field->column, f + 1);
            if (!rt_parse_double(field->text, field->length, &value))
                rt_fatal("%s:%" PRId64 ":%zu: bad number '%.*s' (feature %" PRId64 ")", path,
                         line_number, field->column, field->length > 40 ? 40 : (int)field->length,
                         field->text, f + 1);
            float single = (float)value;
            rt_grow_push(&x, &single);
        }
        if (has_label) {
            const RtCsvField *field = &fields[features];
            int64_t label;
            if (!rt_parse_int64(field->text, field->length, &label))
                rt_fatal("%s:%" PRId64 ":%zu: label '%.*s' is not an integer", path, line_number,
                         field->column, field->length > 40 ? 40 : (int)field->length,
                         field->text);
            if (label < 0 || label > INT32_MAX)
                rt_fatal("%s:%" PRId64 ":%zu: label %" PRId64 " is outside 0..%d", path,
                         line_number, field->column, label, INT32_MAX);
            int32_t single = (int32_t)label;
            rt_grow_push(&y, &single);
        }
        samples++;
        line = next;
    }
    rt_free(fields);
    rt_free(file.bytes);
    if (samples == 0)
        rt_fatal("%s: no samples (the file has no lines of numbers)", path);
    return rt_dataset_from_blocks(path, samples, RT_DTYPE_F32, 1, &features, x.data,
                                  RT_DTYPE_I32, 0, NULL, has_label ? y.data : NULL);
}

/* ---- NPY ------------------------------------------------------------------------------------------- */

/* An NPY array: "\x93NUMPY", version, header length, a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (N, ...), } and the data. */
typedef struct RtNpy {
    RtFileBytes file;
    char kind;        /* 'f', 'i' or 'u' */
    int item_size;    /* bytes per element: 1, 4 or 8 */
    char descr[16];
    int32_t rank;
    int64_t shape[RT_MAX_RANK + 1];
    const uint8_t *data;
    int64_t elements;
} RtNpy;

typedef struct RtNpyParser {
    const char *path;
    const char *p, *end;
} RtNpyParser;

_Noreturn static void rt_npy_malformed(const RtNpyParser *parser, const char *expected)
{
    int left = (int)(parser->end - parser->p);
    rt_fatal("%s: malformed NPY header: expected %s at '%.*s'", parser->path, expected,
             left > 30 ? 30 : left, parser->p);
}

static void rt_npy_space(RtNpyParser *parser)
{
    while (parser->p < parser->end && (*parser->p == ' ' || *parser->p == '\t' ||
                                       *parser->p == '\n' || *parser->p == '\r'))
        parser->p++;
}

static int rt_npy_accept(RtNpyParser *parser, char c)
{
    rt_npy_space(parser);
    if (parser->p < parser->end && *parser->p == c) {
        parser->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes (all NPY writers produce such keys and descrs). */
static void rt_npy_string(RtNpyParser *parser, const char **text, size_t *length)
{
    rt_npy_space(parser);
    if (parser->p >= parser->end || (*parser->p != '\'' && *parser->p != '"'))
        rt_npy_malformed(parser, "a quoted string");
    char quote = *parser->p++;
    const char *start = parser->p;
    while (parser->p < parser->end && *parser->p != quote)
        parser->p++;
    if (parser->p >= parser->end)
        rt_npy_malformed(parser, "a closing quote");
    *text = start;
    *length = (size_t)(parser->p - start);
    parser->p++;
}

static void rt_npy_header(RtNpy *npy, const char *path, const char *text, size_t length)
{
    RtNpyParser parser = {path, text, text + length};
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!rt_npy_accept(&parser, '{'))
        rt_npy_malformed(&parser, "'{'");
    while (!rt_npy_accept(&parser, '}')) {
        const char *key;
        size_t key_length;
        rt_npy_string(&parser, &key, &key_length);
        if (!rt_npy_accept(&parser, ':'))
            rt_npy_malformed(&parser, "':'");
        rt_npy_space(&parser);
        if (key_length == 5 && memcmp(key, "descr", 5) == 0) {
            if (parser.p < parser.end && *parser.p == '[')
                rt_fatal("%s: structured dtypes are not supported (use a plain array of "
                         "<f4, <f8, <i4, <i8 or |u1)",
                         path);
            const char *descr;
            size_t descr_length;
            rt_npy_string(&parser, &descr, &descr_length);
            if (descr_length >= sizeof npy->descr)
                descr_length = sizeof npy->descr - 1;
            memcpy(npy->descr, descr, descr_length);
            npy->descr[descr_length] = '\0';
            have_descr = 1;
        } else if (key_length == 13 && memcmp(key, "fortran_order", 13) == 0) {
            if (parser.end - parser.p >= 4 && memcmp(parser.p, "True", 4) == 0) {
                parser.p += 4;
                have_order = 2;
            } else if (parser.end - parser.p >= 5 && memcmp(parser.p, "False", 5) == 0) {
                parser.p += 5;
                have_order = 1;
            } else {
                rt_npy_malformed(&parser, "True or False");
            }
        } else if (key_length == 5 && memcmp(key, "shape", 5) == 0) {
            if (!rt_npy_accept(&parser, '('))
                rt_npy_malformed(&parser, "'(' starting the shape");
            npy->rank = 0;
            while (!rt_npy_accept(&parser, ')')) {
                rt_npy_space(&parser);
                const char *digits = parser.p;
                while (parser.p < parser.end && *parser.p >= '0' && *parser.p <= '9')
                    parser.p++;
                int64_t dim;
                if (!rt_parse_int64(digits, (size_t)(parser.p - digits), &dim))
                    rt_npy_malformed(&parser, "a dimension");
                if (npy->rank == RT_MAX_RANK + 1)
                    rt_fatal("%s: arrays of more than %d dimensions are not supported", path,
                             RT_MAX_RANK + 1);
                npy->shape[npy->rank++] = dim;
                if (!rt_npy_accept(&parser, ',')) {
                    if (!rt_npy_accept(&parser, ')'))
                        rt_npy_malformed(&parser, "',' or ')' in the shape");
                    break;
                }
            }
            have_shape = 1;
        } else {
            rt_fatal("%s: malformed NPY header: unexpected key '%.*s'", path, (int)key_length,
                     key);
        }
        if (!rt_npy_accept(&parser, ',')) {
            if (!rt_npy_accept(&parser, '}'))
                rt_npy_malformed(&parser, "',' or '}'");
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        rt_fatal("%s: malformed NPY header: '%s' is missing", path,
                 !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    if (have_order == 2 && npy->rank > 1)
        rt_fatal("%s: Fortran-order (column-major) arrays are not supported; save "
                 "np.ascontiguousarray(a) instead",
                 path);
}

/* Reads and checks an NPY file of a supported dtype: its header first, then no more than
 * the data it declares (as rt_idx_read). */
static RtNpy rt_npy_read(const char *path)
{
    RtNpy npy = {.file = rt_file_read_upto(path, 12)};
    const uint8_t *bytes = npy.file.bytes;
    size_t size = npy.file.size;
    if (npy.file.gzip_problem)
        rt_fatal("%s: %s", path, npy.file.gzip_problem);
    if (size < 10 || memcmp(bytes, "\x93NUMPY", 6) != 0)
        rt_fatal("%s: not an NPY file (it does not start with \\x93NUMPY)", path);
    int major = bytes[6];
    size_t header_length, header_start;
    if (major == 1) {
        header_length = (size_t)bytes[8] | (size_t)bytes[9] << 8;
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            rt_fatal("%s: truncated NPY header", path);
        header_length = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 |
                        (size_t)bytes[11] << 24;
        header_start = 12;
    } else {
        rt_fatal("%s: NPY format version %d.%d is not supported (1.0 to 3.0 are)", path, major,
                 bytes[7]);
    }
    rt_free(npy.file.bytes);
    npy.file = rt_file_read_upto(path, header_start + header_length);
    bytes = npy.file.bytes;
    size = npy.file.size;
    if (npy.file.gzip_problem)
        rt_fatal("%s: %s", path, npy.file.gzip_problem);
    if (header_length > size - header_start)
        rt_fatal("%s: truncated: the NPY header needs %zu bytes, found %zu", path, header_length,
                 size - header_start);
    rt_npy_header(&npy, path, (const char *)bytes + header_start, header_length);

    const char *d = npy.descr;
    size_t descr_length = strlen(d);
    int supported = descr_length == 3 && (d[1] == 'f' || d[1] == 'i' || d[1] == 'u') &&
                    (d[2] == '1' || d[2] == '4' || d[2] == '8');
    if (supported) {
        npy.kind = d[1];
        npy.item_size = d[2] - '0';
        /* u1 only among the bytes (i1, f1 do not exist or are not read here); f4 f8 i4 i8. */
        supported = npy.item_size == 1 ? npy.kind == 'u' && (d[0] == '|' || d[0] == '<')
                                       : npy.kind != 'u' && (d[0] == '<' || d[0] == '>');
    }
    if (supported && d[0] == '>')
        rt_fatal("%s: big-endian dtype '%s' is not supported (save with dtype '<%s')", path, d,
                 d + 1);
    if (!supported)
        rt_fatal("%s: dtype '%s' is not supported (use <f4, <f8, <i4, <i8 or |u1)", path, d);
    if (npy.rank == 0)
        rt_fatal("%s: a 0-dimensional array has no sample dimension", path);
    if (npy.shape[0] == 0)
        rt_fatal("%s: the array holds no samples (shape starts with 0)", path);
    npy.elements = rt_dims_product(npy.rank, npy.shape);
    int64_t expected;
    if (npy.elements == INT64_MAX ||
        __builtin_mul_overflow(npy.elements, (int64_t)npy.item_size, &expected))
        rt_fatal("%s: the NPY shape describes more than 2^63 bytes", path);
    if ((uint64_t)expected > SIZE_MAX - header_start - header_length)
        rt_fatal("%s: the NPY shape describes more than 2^63 bytes", path);
    rt_free(npy.file.bytes);
    npy.file = rt_file_read_upto(path, header_start + header_length + (size_t)expected);
    if (npy.file.gzip_problem)
        rt_fatal("%s: %s", path, npy.file.gzip_problem);
    size_t found = npy.file.size - header_start - header_length;
    if ((uint64_t)found < (uint64_t)expected)
        rt_fatal("%s: truncated: expected %" PRId64 " bytes of array data, found %zu", path,
                 expected, found);
    if (npy.file.more)
        rt_fatal("%s: unexpected data after the array (its shape declares %" PRId64 " bytes)",
                 path, expected);
    npy.data = npy.file.bytes + header_start + header_length;
    return npy;
}

/* Element i of the array as a double (exact for every supported type except i8 beyond
 * 2^53, which only matters for labels and is range-checked there). */
static double rt_npy_element(const RtNpy *npy, int64_t i, int64_t *as_integer)
{
    const uint8_t *at = npy->data + i * npy->item_size;
    if (npy->kind == 'u') {
        *as_integer = *at;
        return *at;
    }
    if (npy->kind == 'f') {
        if (npy->item_size == 4) {
            float value;
            memcpy(&value, at, 4);
            return value;
        }
        double value;
        memcpy(&value, at, 8);
        return value;
    }
    if (npy->item_size == 4) {
        int32_t value;
        memcpy(&value, at, 4);
        *as_integer = value;
        return value;
    }
    int64_t value;
    memcpy(&value, at, 8);
    *as_integer = value;
    return (double)value;
}

RtDataset *rt_dataset_npy(const char *x_path, const char *y_path)
{
    RtNpy x = rt_npy_read(x_path);
    float *x_block = rt_alloc(rt_size_mul((size_t)x.elements, sizeof(float)));
    int64_t ignored;
    for (int64_t i = 0; i < x.elements; i++)
        x_block[i] = (float)rt_npy_element(&x, i, &ignored);
    rt_free(x.file.bytes);

    void *y_block = NULL;
    RtNpy y = {0};
    RtDtype y_dtype = RT_DTYPE_I32;
    if (y_path != NULL) {
        y = rt_npy_read(y_path);
        if (y.shape[0] != x.shape[0])
            rt_fatal("%s has %" PRId64 " samples but %s has %" PRId64
                     ": they must have the same first dimension",
                     x_path, x.shape[0], y_path, y.shape[0]);
        y_dtype = y.kind == 'f' ? RT_DTYPE_F32 : RT_DTYPE_I32;
        y_block = rt_alloc(rt_size_mul((size_t)y.elements, 4));
        for (int64_t i = 0; i < y.elements; i++) {
            int64_t integer = 0;
            double value = rt_npy_element(&y, i, &integer);
            if (y_dtype == RT_DTYPE_F32) {
                ((float *)y_block)[i] = (float)value;
            } else {
                if (integer < INT32_MIN || integer > INT32_MAX)
                    rt_fatal("%s: label %" PRId64 " at element %" PRId64
                             " does not fit in 32 bits",
                             y_path, integer, i);
                ((int32_t *)y_block)[i] = (int32_t)integer;
            }
        }
        rt_free(y.file.bytes);
    }
    RtDataset *ds = rt_dataset_from_blocks(x_path, x.shape[0], RT_DTYPE_F32, x.rank - 1,
                                           x.shape + 1, x_block, y_dtype,
                                           y_path ? y.rank - 1 : 0, y.shape + 1, y_block);
    if (y_path != NULL)
        rt_dataset_set_y_source(ds, y_path);
    return ds;
}
