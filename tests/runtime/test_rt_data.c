/* test_rt_data.c — datasets: IDX (plain and gzip'd, with every error the loader reports),
 * the real Fashion-MNIST files when installed, CSV, NPY, the text corpus, splits and the
 * batch iterator. Synthetic files are written to a scratch directory.
 * Prints one line per failure, then "N passed, M failed"; exits non-zero on any failure. */
#include "rt_test.h"

#include "rt_internal.h" /* rt_data_baseline_only */

#include <zlib.h>

/* ---- writing IDX files ------------------------------------------------------------------ */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes bytes to path, through zlib when gz. */
static void write_maybe_gz(const char *path, const uint8_t *bytes, size_t size, int gz)
{
    if (!gz) {
        write_file(path, bytes, size);
        return;
    }
    gzFile file = gzopen(path, "wb");
    if (file == NULL || gzwrite(file, bytes, (unsigned)size) != (int)size ||
        gzclose(file) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

/* An IDX file of `count` items of dims[0..rank) bytes; item i byte j = (7i + 3j) % 256.
 * magic overrides the magic number when not 0; cut drops that many data bytes. */
static void write_idx(const char *path, int gz, uint32_t magic, uint32_t count, int rank,
                      const uint32_t *dims, size_t cut)
{
    size_t item = 1;
    for (int d = 0; d < rank; d++)
        item *= dims[d];
    size_t header = 4 + 4 * (size_t)(rank + 1);
    size_t size = header + count * item;
    uint8_t *bytes = malloc(size);
    put_be32(bytes, magic ? magic : 0x00000800u | (uint32_t)(rank + 1));
    put_be32(bytes + 4, count);
    for (int d = 0; d < rank; d++)
        put_be32(bytes + 8 + 4 * d, dims[d]);
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < item; j++)
            bytes[header + i * item + j] = (uint8_t)((7 * i + 3 * j) % 256);
    write_maybe_gz(path, bytes, size - cut, gz);
    free(bytes);
}

static void write_labels(const char *path, int gz, uint32_t count)
{
    uint8_t *bytes = malloc(8 + count);
    put_be32(bytes, 0x00000801);
    put_be32(bytes + 4, count);
    for (uint32_t i = 0; i < count; i++)
        bytes[8 + i] = (uint8_t)(i % 10);
    write_maybe_gz(path, bytes, 8 + count, gz);
    free(bytes);
}

/* Arguments of a loader call run in a child. */
typedef struct IdxCall {
    char images[512], labels[512];
    int32_t rank;
    int64_t shape[4];
} IdxCall;

static void call_idx(void *context)
{
    IdxCall *call = context;
    rt_dataset_free(rt_dataset_idx(call->images, call->labels, call->rank, call->shape));
}

static IdxCall idx_call(const char *images, const char *labels, int32_t rank, int64_t d0,
                        int64_t d1)
{
    IdxCall call = {.rank = rank, .shape = {d0, d1}};
    snprintf(call.images, sizeof call.images, "%s", images);
    snprintf(call.labels, sizeof call.labels, "%s", labels);
    return call;
}

static void test_idx_round_trip(void)
{
    const uint32_t dims[2] = {3, 4};
    for (int gz = 0; gz <= 1; gz++) {
        char images[512], labels[512];
        snprintf(images, sizeof images, "%s", scratch(gz ? "img.gz" : "img"));
        snprintf(labels, sizeof labels, "%s", scratch(gz ? "lab.gz" : "lab"));
        write_idx(images, gz, 0, 5, 2, dims, 0);
        write_labels(labels, gz, 5);
        const int64_t shape[2] = {3, 4};
        RtDataset *ds = rt_dataset_idx(images, labels, 2, shape);
        int ok = rt_dataset_count(ds) == 5 && rt_dataset_x_rank(ds) == 2 &&
                 rt_dataset_x_shape(ds)[0] == 3 && rt_dataset_x_shape(ds)[1] == 4 &&
                 rt_dataset_x_size(ds) == 12 && rt_dataset_y_size(ds) == 1 &&
                 rt_dataset_x_dtype(ds) == RT_DTYPE_F32 && rt_dataset_y_dtype(ds) == RT_DTYPE_I32;
        float x[12];
        int32_t y;
        for (int64_t i = 0; i < 5; i++) {
            rt_dataset_get(ds, i, x, &y);
            ok &= y == (int32_t)(i % 10);
            for (int j = 0; j < 12; j++)
                ok &= x[j] == (float)((7 * i + 3 * j) % 256) * (1.0f / 255.0f);
        }
        recordf(ok, "idx round trip (%s)", gz ? "gzip" : "plain");
        rt_dataset_free(ds);

        /* The same file under other accepted shapes: flat, and with a channel axis. */
        const int64_t flat[1] = {12}, channel[3] = {1, 3, 4};
        ds = rt_dataset_idx(images, labels, 1, flat);
        recordf(rt_dataset_x_rank(ds) == 1 && rt_dataset_x_shape(ds)[0] == 12,
                "idx flat sample shape (%s)", gz ? "gzip" : "plain");
        rt_dataset_free(ds);
        ds = rt_dataset_idx(images, labels, 3, channel);
        recordf(rt_dataset_x_rank(ds) == 3 && rt_dataset_classes(ds) == 5,
                "idx channel sample shape and class count (%s)", gz ? "gzip" : "plain");
        rt_dataset_free(ds);
        ds = rt_dataset_idx(images, labels, 0, NULL);
        recordf(rt_dataset_x_rank(ds) == 2 && rt_dataset_x_shape(ds)[1] == 4,
                "idx shape from the file (%s)", gz ? "gzip" : "plain");
        rt_dataset_free(ds);
    }
}

/* The loader keeps the images as bytes and converts each sample as it is copied out, 16
 * values at a time and the rest one by one: every value, through rt_dataset_get and
 * through shuffled batches, must be the f32 byte times 1 / 255 exactly, as when the file
 * was converted at load. 35 values a sample: two blocks of 16 and 3 more. Run with the
 * code the host picks (AVX-512 here) and with the baseline code. */
static void test_idx_bytes(const char *isa)
{
    enum { COUNT = 40, SIZE = 35, BATCH = 16 };
    const uint32_t dims[2] = {5, 7};
    char images[512], labels[512];
    snprintf(images, sizeof images, "%s", scratch("bytes-img"));
    snprintf(labels, sizeof labels, "%s", scratch("bytes-lab"));
    write_idx(images, 0, 0, COUNT, 2, dims, 0);
    write_labels(labels, 0, COUNT);
    RtDataset *ds = rt_dataset_idx(images, labels, 0, NULL);
    float x[BATCH * SIZE];
    int32_t y[BATCH];
    int ok = rt_dataset_x_size(ds) == SIZE;
    for (int64_t i = 0; i < COUNT && ok; i++) {
        rt_dataset_get(ds, i, x, y);
        for (int j = 0; j < SIZE; j++)
            ok &= x[j] == (float)((7 * i + 3 * j) % 256) * (1.0f / 255.0f);
    }
    recordf(ok, "idx bytes: every value of every sample (%s)", isa);
    RtBatches *it = rt_batches_begin(ds, BATCH, 1, 0, 3, 0);
    int64_t rows, seen = 0;
    int batches_ok = 1;
    while ((rows = rt_batches_next(it, x, y)) > 0) {
        for (int64_t r = 0; r < rows; r++) {
            /* label i % 10 and first byte 7 i % 256 name the sample among 40 */
            int64_t i = -1;
            for (int64_t k = 0; k < COUNT; k++)
                if (k % 10 == y[r] && x[r * SIZE] == (float)((7 * k) % 256) * (1.0f / 255.0f))
                    i = k;
            batches_ok &= i >= 0;
            for (int j = 0; j < SIZE && i >= 0; j++)
                batches_ok &= x[r * SIZE + j] == (float)((7 * i + 3 * j) % 256) * (1.0f / 255.0f);
        }
        seen += rows;
    }
    rt_batches_end(it);
    recordf(batches_ok && seen == COUNT, "idx bytes: shuffled batches (%s)", isa);
    rt_dataset_free(ds);
}

static void test_idx_errors(void)
{
    const uint32_t dims[2] = {3, 4}, big[2] = {32, 32};
    char labels[512], labels4[512];
    snprintf(labels, sizeof labels, "%s", scratch("e-lab.gz"));
    snprintf(labels4, sizeof labels4, "%s", scratch("e-lab4.gz"));
    write_labels(labels, 1, 5);
    write_labels(labels4, 1, 4);
    IdxCall call;

    write_idx(scratch("cut"), 0, 0, 5, 2, dims, 10);
    call = idx_call(scratch("cut"), labels, 2, 3, 4);
    expect_failure("idx truncated (plain)", call_idx, &call, 1,
                   "cut: truncated: expected 60 bytes of images, found 50");

    write_idx(scratch("cut.gz"), 1, 0, 5, 2, dims, 10);
    call = idx_call(scratch("cut.gz"), labels, 2, 3, 4);
    expect_failure("idx truncated (gzip'd data)", call_idx, &call, 1,
                   "truncated: expected 60 bytes of images, found 50");

    /* A gzip stream cut in the middle: zlib delivers a prefix, then reports the cut. */
    write_idx(scratch("big.gz"), 1, 0, 200, 2, big, 0);
    size_t size;
    char *whole = read_file(scratch("big.gz"), &size);
    write_file(scratch("cutstream.gz"), whole, size / 2);
    free(whole);
    call = idx_call(scratch("cutstream.gz"), labels, 2, 32, 32);
    expect_failure("idx gzip stream cut short", call_idx, &call, 1,
                   "truncated: expected 204800 bytes of images, found");

    write_idx(scratch("magic.gz"), 1, 0x12345678, 5, 2, dims, 0);
    call = idx_call(scratch("magic.gz"), labels, 2, 3, 4);
    expect_failure("idx wrong magic", call_idx, &call, 1,
                   "magic.gz: not an IDX file (magic number 0x12345678");

    call = idx_call(labels, scratch("magic.gz"), 2, 3, 4);
    expect_failure("idx labels where images belong", call_idx, &call, 1,
                   "expected an IDX file of images");

    write_idx(scratch("type.gz"), 1, 0x00000D03, 5, 2, dims, 0);
    call = idx_call(scratch("type.gz"), labels, 2, 3, 4);
    expect_failure("idx unsupported element type", call_idx, &call, 1,
                   "IDX element type 0x0d is not supported");

    write_idx(scratch("img5.gz"), 1, 0, 5, 2, dims, 0);
    call = idx_call(scratch("img5.gz"), labels4, 2, 3, 4);
    expect_failure("idx count mismatch", call_idx, &call, 1, "has 5 images but");
    expect_failure("idx count mismatch names labels", call_idx, &call, 1, "has 4 labels");

    call = idx_call(scratch("img5.gz"), labels, 2, 28, 28);
    expect_failure("idx wrong image size", call_idx, &call, 1,
                   "images are [3, 4] (12 values each), but the program expects [28, 28] "
                   "(784 values)");

    call = idx_call(scratch("does-not-exist.gz"), labels, 2, 3, 4);
    expect_failure("idx missing file", call_idx, &call, 1,
                   "cannot open ");

    write_file(scratch("tiny"), "\0\0", 2);
    call = idx_call(scratch("tiny"), labels, 2, 3, 4);
    expect_failure("idx file of two bytes", call_idx, &call, 1, "not an IDX file: it has only 2");

    write_idx(scratch("extra"), 0, 0, 5, 2, dims, 0);
    FILE *file = fopen(scratch("extra"), "ab");
    fputs("junk", file);
    fclose(file);
    call = idx_call(scratch("extra"), labels, 2, 3, 4);
    expect_failure("idx trailing bytes", call_idx, &call, 1,
                   "unexpected data after the 5 images (the header declares 60 bytes of them)");
}

static void call_fashion_missing(void *context)
{
    RtDataset *train, *test;
    rt_dataset_fashion_mnist(context, 0, NULL, &train, &test);
}

static void test_fashion_mnist(void)
{
    expect_failure("fashion-mnist missing directory", call_fashion_missing,
                   (void *)scratch("no-such-dir"), 1, "apt-get install dataset-fashion-mnist");
    expect_failure("fashion-mnist directory without files", call_fashion_missing,
                   (void *)scratch_dir, 1, "neither train-images-idx3-ubyte.gz nor");

    struct stat info;
    if (stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", &info) != 0) {
        printf("skipped: real Fashion-MNIST (/usr/share/datasets/fashion-mnist is absent)\n");
        return;
    }
    RtDataset *train, *test;
    const int64_t shape[3] = {1, 28, 28};
    rt_dataset_fashion_mnist(NULL, 3, shape, &train, &test);
    record(rt_dataset_count(train) == 60000 && rt_dataset_count(test) == 10000,
           "fashion-mnist counts 60000 and 10000");
    record(rt_dataset_classes(train) == 10 && rt_dataset_classes(test) == 10,
           "fashion-mnist has 10 classes");
    int64_t per_class[10] = {0};
    float x[784];
    int32_t y;
    float low = 1, high = 0;
    for (int64_t i = 0; i < 60000; i++) {
        rt_dataset_get(train, i, x, &y);
        per_class[y]++;
        if (i % 100 == 0)
            for (int j = 0; j < 784; j++) {
                low = x[j] < low ? x[j] : low;
                high = x[j] > high ? x[j] : high;
            }
    }
    int balanced = 1;
    for (int k = 0; k < 10; k++)
        balanced &= per_class[k] == 6000;
    record(balanced, "fashion-mnist train has 6000 samples per class");
    record(low == 0.0f && high == 1.0f, "fashion-mnist pixels span [0, 1]");
    rt_dataset_free(train);
    rt_dataset_free(test);
}

/* ---- CSV ------------------------------------------------------------------------------------- */

typedef struct CsvCall {
    char path[512];
    int64_t features;
    int32_t has_label;
} CsvCall;

static void call_csv(void *context)
{
    CsvCall *call = context;
    rt_dataset_free(rt_dataset_csv(call->path, call->features, call->has_label));
}

static void csv_expect(const char *name, const char *content, int64_t features,
                       const char *expected)
{
    CsvCall call = {.features = features, .has_label = 1};
    snprintf(call.path, sizeof call.path, "%s", scratch("bad.csv"));
    write_file(call.path, content, strlen(content));
    expect_failure(name, call_csv, &call, 1, expected);
}

static void test_csv(void)
{
    const char *good = "a, b ,c,label\r\n1,2,3,0\r\n\r\n 4.5 ,-6e1,7,2\n8,9,10,1";
    write_file(scratch("good.csv"), good, strlen(good));
    RtDataset *ds = rt_dataset_csv(scratch("good.csv"), 3, 1);
    float x[3];
    int32_t y;
    int ok = rt_dataset_count(ds) == 3 && rt_dataset_x_size(ds) == 3;
    rt_dataset_get(ds, 1, x, &y);
    ok &= x[0] == 4.5f && x[1] == -60.0f && x[2] == 7.0f && y == 2;
    rt_dataset_get(ds, 2, x, &y);
    ok &= x[0] == 8.0f && y == 1;
    record(ok, "csv with header, CRLF, blank line and spaces");
    rt_dataset_free(ds);

    ds = rt_dataset_csv(scratch("good.csv"), 0, 0);
    record(rt_dataset_count(ds) == 3 && rt_dataset_x_size(ds) == 4 && rt_dataset_y_size(ds) == 0,
           "csv without labels, feature count inferred");
    rt_dataset_free(ds);

    csv_expect("csv bad field", "1,2,3,0\n4,5,6,1\n7,x8,9,0\n", 3, "bad.csv:3:3: bad number 'x8'");
    csv_expect("csv field count", "1,2,3,0\n4,5,1\n", 3,
               "bad.csv:2: expected 4 fields (3 features and a label), found 3");
    csv_expect("csv label not an integer", "1,2,3,0.5\n", 3,
               "bad.csv:1:7: label '0.5' is not an integer");
    csv_expect("csv empty field", "1,,3,0\n", 3, "bad.csv:1:3: empty field");
    csv_expect("csv no samples", "just,a,header\n", 0, "no samples");
}

/* ---- NPY ------------------------------------------------------------------------------------- */

/* Writes an NPY 1.0 file with the given descr, header text and raw data. */
static void write_npy(const char *path, const char *descr, const char *fortran,
                      const char *shape, const void *data, size_t size)
{
    char dict[256];
    int length = snprintf(dict, sizeof dict,
                          "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                          fortran, shape);
    int total = 10 + length + 1;
    int padded = (total + 63) / 64 * 64;
    uint8_t *bytes = calloc(1, (size_t)padded + size);
    memcpy(bytes, "\x93NUMPY\x01\x00", 8);
    uint16_t header_length = (uint16_t)(padded - 10);
    bytes[8] = (uint8_t)header_length;
    bytes[9] = (uint8_t)(header_length >> 8);
    memcpy(bytes + 10, dict, (size_t)length);
    memset(bytes + 10 + length, ' ', (size_t)(padded - total));
    bytes[padded - 1] = '\n';
    memcpy(bytes + padded, data, size);
    write_file(path, bytes, (size_t)padded + size);
    free(bytes);
}

typedef struct NpyCall {
    char x[512], y[512];
    int has_y;
} NpyCall;

static void call_npy(void *context)
{
    NpyCall *call = context;
    rt_dataset_free(rt_dataset_npy(call->x, call->has_y ? call->y : NULL));
}

static void npy_expect(const char *name, const char *descr, const char *fortran,
                       const char *shape, size_t size, const char *expected)
{
    uint8_t data[64] = {0};
    NpyCall call = {.has_y = 0};
    snprintf(call.x, sizeof call.x, "%s", scratch("bad.npy"));
    write_npy(call.x, descr, fortran, shape, data, size);
    expect_failure(name, call_npy, &call, 1, expected);
}

static void test_npy(void)
{
    /* Every supported x dtype holds the values 0, 1, ..., 5 as a [3, 2] array. */
    float f4[6];
    double f8[6];
    int32_t i4[6];
    int64_t i8[6];
    uint8_t u1[6];
    for (int i = 0; i < 6; i++) {
        f4[i] = (float)i;
        f8[i] = i;
        i4[i] = i;
        i8[i] = i;
        u1[i] = (uint8_t)i;
    }
    const struct {
        const char *descr;
        const void *data;
        size_t size;
    } kinds[] = {{"<f4", f4, sizeof f4}, {"<f8", f8, sizeof f8}, {"<i4", i4, sizeof i4},
                 {"<i8", i8, sizeof i8}, {"|u1", u1, sizeof u1}};
    int64_t labels[3] = {2, 0, 1};
    write_npy(scratch("y.npy"), "<i8", "False", "(3,)", labels, sizeof labels);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        write_npy(scratch("x.npy"), kinds[k].descr, "False", "(3, 2)", kinds[k].data,
                  kinds[k].size);
        RtDataset *ds = rt_dataset_npy(scratch("x.npy"), scratch("y.npy"));
        int ok = rt_dataset_count(ds) == 3 && rt_dataset_x_rank(ds) == 1 &&
                 rt_dataset_x_shape(ds)[0] == 2 && rt_dataset_y_size(ds) == 1;
        for (int64_t i = 0; i < 3; i++) {
            float x[2];
            int32_t y;
            rt_dataset_get(ds, i, x, &y);
            ok &= x[0] == (float)(2 * i) && x[1] == (float)(2 * i + 1) && y == labels[i];
        }
        recordf(ok, "npy x %s with <i8 labels", kinds[k].descr);
        rt_dataset_free(ds);
    }

    float targets[3] = {0.5f, -1.0f, 2.0f};
    write_npy(scratch("yf.npy"), "<f4", "False", "(3, 1)", targets, sizeof targets);
    RtDataset *ds = rt_dataset_npy(scratch("x.npy"), scratch("yf.npy"));
    float x[2], y;
    rt_dataset_get(ds, 1, x, &y);
    record(rt_dataset_y_dtype(ds) == RT_DTYPE_F32 && rt_dataset_y_rank(ds) == 1 && y == -1.0f,
           "npy f32 targets");
    rt_dataset_free(ds);

    npy_expect("npy big-endian", ">f4", "False", "(2,)", 8, "big-endian dtype '>f4'");
    npy_expect("npy unsupported dtype", "<f2", "False", "(2,)", 4,
               "dtype '<f2' is not supported (use <f4, <f8, <i4, <i8 or |u1)");
    npy_expect("npy fortran order", "<f4", "True", "(2, 2)", 16,
               "Fortran-order (column-major) arrays are not supported");
    npy_expect("npy truncated", "<f4", "False", "(4, 2)", 16,
               "truncated: expected 32 bytes of array data, found 16");
    npy_expect("npy malformed header", "<f4", "False", "[2, 2]", 16, "malformed NPY header");
    npy_expect("npy 0-d array", "<f4", "False", "()", 4, "0-dimensional array");

    NpyCall call = {.has_y = 1};
    snprintf(call.x, sizeof call.x, "%s", scratch("x.npy"));
    write_npy(scratch("y2.npy"), "<i4", "False", "(2,)", i4, 8);
    snprintf(call.y, sizeof call.y, "%s", scratch("y2.npy"));
    expect_failure("npy sample count mismatch", call_npy, &call, 1, "has 3 samples but");

    write_file(scratch("notnpy"), "hello, world", 12);
    snprintf(call.x, sizeof call.x, "%s", scratch("notnpy"));
    call.has_y = 0;
    expect_failure("npy wrong magic", call_npy, &call, 1, "not an NPY file");
}

/* ---- text, splits, batches ------------------------------------------------------------------- */

static void test_text(void)
{
    write_file(scratch("corpus.txt"), "hello world", 11);
    RtDataset *ds = rt_dataset_text(scratch("corpus.txt"), 3);
    int32_t size;
    const uint8_t *vocab = rt_dataset_vocab(ds, &size);
    record(size == 8 && memcmp(vocab, " dehlorw", 8) == 0, "text vocabulary is sorted bytes");
    record(rt_dataset_count(ds) == 3 && rt_dataset_x_dtype(ds) == RT_DTYPE_I32 &&
               rt_dataset_x_size(ds) == 3 && rt_dataset_y_size(ds) == 3,
           "text sample count and shapes");
    int32_t x[3], y[3];
    int ok = 1;
    const char *text = "hello world";
    for (int64_t k = 0; k < 3; k++) {
        rt_dataset_get(ds, k, x, y);
        for (int t = 0; t < 3; t++)
            ok &= vocab[x[t]] == (uint8_t)text[3 * k + t] &&
                  vocab[y[t]] == (uint8_t)text[3 * k + t + 1];
    }
    record(ok, "text samples are windows with next-character targets");
    rt_dataset_free(ds);
}

/* A dataset of n samples whose x is [i, -i] and label is i. */
static RtDataset *numbered_dataset(int64_t n)
{
    FILE *file = fopen(scratch("numbered.csv"), "w");
    for (int64_t i = 0; i < n; i++)
        fprintf(file, "%lld,%lld,%lld\n", (long long)i, (long long)-i, (long long)i);
    fclose(file);
    return rt_dataset_csv(scratch("numbered.csv"), 2, 1);
}

static void test_split(void)
{
    RtDataset *ds = numbered_dataset(100);
    RtDataset *a, *b, *a2, *b2, *c, *d;
    rt_dataset_split(ds, 0.8, 42, &a, &b);
    rt_dataset_split(ds, 0.8, 42, &a2, &b2);
    rt_dataset_split(ds, 0.8, 43, &c, &d);
    record(rt_dataset_count(a) == 80 && rt_dataset_count(b) == 20, "split sizes 80/20");
    int seen[100] = {0}, same = 1, differs = 0, ascending = 1;
    int64_t previous = -1;
    for (int64_t i = 0; i < 80; i++) {
        float x[2], x2[2], x3[2];
        int32_t y, y2, y3;
        rt_dataset_get(a, i, x, &y);
        rt_dataset_get(a2, i, x2, &y2);
        rt_dataset_get(c, i, x3, &y3);
        seen[y]++;
        same &= y == y2;
        differs |= y != y3;
        ascending &= y > previous;
        previous = y;
    }
    for (int64_t i = 0; i < 20; i++) {
        float x[2];
        int32_t y;
        rt_dataset_get(b, i, x, &y);
        seen[y]++;
    }
    int once = 1;
    for (int i = 0; i < 100; i++)
        once &= seen[i] == 1;
    record(once, "split parts are disjoint and cover every sample");
    record(same, "split is deterministic for a seed");
    record(differs, "split differs for another seed");
    record(ascending, "split parts keep the original order");
    /* Parts outlive the whole and each other. */
    rt_dataset_free(ds);
    rt_dataset_free(a2);
    rt_dataset_free(b2);
    RtDataset *e, *f;
    rt_dataset_split(a, 0.5, 1, &e, &f);
    record(rt_dataset_count(e) == 40 && rt_dataset_count(f) == 40, "split of a split");
    rt_dataset_free(a);
    rt_dataset_free(b);
    rt_dataset_free(c);
    rt_dataset_free(d);
    rt_dataset_free(e);
    rt_dataset_free(f);
}

/* Labels of every batch of one epoch, in order, into order[]; returns the sample count. */
static int64_t epoch_order(const RtDataset *ds, int64_t batch, int shuffle, int drop_last,
                           uint64_t seed, int64_t epoch, int32_t *order, int *x_matches)
{
    RtBatches *it = rt_batches_begin(ds, batch, shuffle, drop_last, seed, epoch);
    float x[2 * 16];
    int32_t y[16];
    int64_t total = 0, rows;
    *x_matches = 1;
    while ((rows = rt_batches_next(it, x, y)) > 0) {
        for (int64_t r = 0; r < rows; r++) {
            order[total++] = y[r];
            *x_matches &= x[2 * r] == (float)y[r] && x[2 * r + 1] == -(float)y[r];
        }
    }
    rt_batches_end(it);
    return total;
}

static void test_batches(void)
{
    RtDataset *ds = numbered_dataset(103);
    int32_t first[103], again[103], other_epoch[103], other_seed[103], plain[103];
    int x_ok, x_all = 1;
    int64_t n = epoch_order(ds, 10, 1, 0, 5, 0, first, &x_ok);
    x_all &= x_ok;
    int seen[103] = {0};
    for (int64_t i = 0; i < n; i++)
        seen[first[i]]++;
    int once = n == 103;
    for (int i = 0; i < 103; i++)
        once &= seen[i] == 1;
    record(once, "shuffled epoch covers every sample exactly once");
    epoch_order(ds, 10, 1, 0, 5, 0, again, &x_ok);
    x_all &= x_ok;
    record(memcmp(first, again, sizeof first) == 0, "same seed and epoch, same order");
    epoch_order(ds, 10, 1, 0, 5, 1, other_epoch, &x_ok);
    record(memcmp(first, other_epoch, sizeof first) != 0, "another epoch, another order");
    epoch_order(ds, 10, 1, 0, 6, 0, other_seed, &x_ok);
    record(memcmp(first, other_seed, sizeof first) != 0, "another seed, another order");
    n = epoch_order(ds, 10, 0, 0, 5, 0, plain, &x_ok);
    int in_order = n == 103;
    for (int i = 0; i < 103; i++)
        in_order &= plain[i] == i;
    record(in_order, "without shuffle the order is 0..n-1");
    record(x_all, "batches copy x rows with their labels");

    int32_t dropped[103];
    n = epoch_order(ds, 10, 1, 1, 5, 0, dropped, &x_ok);
    record(n == 100 && memcmp(dropped, first, 100 * sizeof(int32_t)) == 0,
           "drop_last drops the partial batch only");

    RtBatches *it = rt_batches_begin(ds, 10, 1, 0, 5, 0);
    record(rt_batches_count(it) == 11, "batch count rounds up");
    float x[20];
    int32_t y[10];
    for (int k = 0; k < 4; k++)
        rt_batches_next(it, x, y);
    int64_t position = rt_batches_position(it);
    rt_batches_end(it);
    it = rt_batches_begin(ds, 10, 1, 0, 5, 0);
    rt_batches_seek(it, position);
    int64_t rows = rt_batches_next(it, x, y);
    record(position == 4 && rows == 10 && memcmp(y, first + 40, sizeof y) == 0,
           "seek resumes at the saved position");
    for (int k = 5; k < 10; k++)
        rt_batches_next(it, x, y);
    rows = rt_batches_next(it, x, y);
    record(rows == 3 && rt_batches_next(it, x, y) == 0, "last batch is partial, then the end");
    rt_batches_end(it);
    rt_dataset_free(ds);
}

/* A batch of 200 samples of 256 floats (200 KiB) is gathered on the pool (rt_batches_next:
 * 128 KiB or more); each row must be its sample's, at 1 and 2 threads alike, and the rows
 * past the last, partial batch must be NaN (floats) and 0 (labels). */
static void test_large_batches(void)
{
    enum { SAMPLES = 650, WIDTH = 256, BATCH = 200 };
    int64_t x_shape[1] = {WIDTH}, y_shape[1] = {1};
    RtDataset *ds = rt_dataset_new(SAMPLES, RT_DTYPE_F32, 1, x_shape, RT_DTYPE_I32, 1, y_shape);
    float row[WIDTH];
    for (int32_t i = 0; i < SAMPLES; i++) {
        for (int j = 0; j < WIDTH; j++)
            row[j] = (float)(i * 1000 + j);
        rt_dataset_set(ds, i, row, &i);
    }
    float *x = malloc(sizeof(float) * BATCH * WIDTH);
    int32_t y[BATCH];
    for (int32_t threads = 1; threads <= 2; threads++) {
        rt_pool_set_threads(threads);
        RtBatches *it = rt_batches_begin(ds, BATCH, 1, 0, 7, 0);
        int64_t rows, seen = 0, last = 0;
        int rows_ok = 1, poison_ok = 1;
        while ((rows = rt_batches_next(it, x, y)) > 0) {
            for (int64_t r = 0; r < rows; r++)
                for (int j = 0; j < WIDTH; j++)
                    rows_ok &= x[r * WIDTH + j] == (float)(y[r] * 1000 + j);
            for (int64_t r = rows; r < BATCH; r++) {
                poison_ok &= y[r] == 0;
                for (int j = 0; j < WIDTH; j++)
                    poison_ok &= x[r * WIDTH + j] != x[r * WIDTH + j]; /* NaN */
            }
            seen += rows;
            last = rows;
        }
        rt_batches_end(it);
        recordf(rows_ok && seen == SAMPLES, "large batches: each row is its sample's (%d threads)",
               threads);
        recordf(poison_ok && last == 50, "large batches: the rows past 50 of the last are poison "
               "(%d threads)", threads);
    }
    rt_pool_set_threads(0);
    free(x);
    rt_dataset_free(ds);
}

int main(void)
{
    test_idx_round_trip();
    test_idx_bytes("the host's best code");
    rt_data_baseline_only = true;
    test_idx_bytes("baseline x86-64 code");
    rt_data_baseline_only = false;
    test_idx_errors();
    test_fashion_mnist();
    test_csv();
    test_npy();
    test_text();
    test_split();
    test_batches();
    test_large_batches();
    return finish();
}
