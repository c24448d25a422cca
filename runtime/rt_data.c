/* rt_data.c — datasets in memory, train/dev splits, the character corpus, and the batch
 * iterator. The file formats (IDX, CSV, NPY) are read in rt_data_load.c.
 *
 * A dataset is a view: sample i is row rows[i] (row i when rows is NULL) of the storage,
 * and row r of x starts x_stride elements after row r - 1. Ordinary datasets store rows
 * back to back (stride = sample size); the text corpus stores its ids once and lets x
 * and y overlap (stride = seq, y one id after x). Splits share storage by reference
 * count and differ only in `rows`. Every element is 4 bytes (f32 or i32), except IDX
 * images, which keep the file's bytes and become f32 as a sample is copied out. */
#include "rt_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <inttypes.h>
#include <math.h>
#include <string.h>

typedef struct RtStorage {
    int32_t references; /* datasets sharing this storage */
    void *x_block;
    void *y_block;    /* NULL when y is a view into x_block (text) or there are no labels */
    uint8_t *vocab;   /* text only: sorted distinct bytes */
    int32_t vocab_size;
    char *y_source;   /* the labels' file when it is not the dataset's source, or NULL */
} RtStorage;

/* One side (x or y) of a dataset. */
typedef struct RtSide {
    RtDtype dtype;          /* RT_DTYPE_F32 or RT_DTYPE_I32 */
    int32_t rank;
    int64_t shape[RT_MAX_RANK];
    int64_t size;           /* elements per sample: product of shape; 0 for absent labels */
    int64_t stride;         /* elements from one row to the next */
    const uint32_t *base;   /* row 0; 4-byte elements copied as they are */
    /* or, for images kept as the file's bytes (base NULL): row 0 of bytes, each copied as
     * the f32 byte / 255 */
    const uint8_t *bytes;
} RtSide;

struct RtDataset {
    RtStorage *storage;
    char *source;  /* "train-images-idx3-ubyte.gz", for messages */
    int64_t count;
    int64_t *rows; /* count entries, or NULL for the identity */
    RtSide x, y;
};

enum { RT_ELEMENT_BYTES = 4 };

/* ---- construction ------------------------------------------------------------------------ */

static int64_t rt_shape_size(const char *source, int32_t rank, const int64_t *shape)
{
    if (rank < 0 || rank > RT_MAX_RANK)
        rt_fatal("%s: sample rank %d is outside 0..%d", source, rank, RT_MAX_RANK);
    int64_t size = 1;
    for (int32_t axis = 0; axis < rank; axis++) {
        if (shape[axis] <= 0 || __builtin_mul_overflow(size, shape[axis], &size))
            rt_fatal("%s: bad sample dimension %" PRId64, source, shape[axis]);
    }
    return size;
}

static void rt_side_set(RtSide *side, const char *source, RtDtype dtype, int32_t rank,
                        const int64_t *shape, const void *base)
{
    side->dtype = dtype;
    side->rank = rank;
    memset(side->shape, 0, sizeof side->shape);
    if (rank > 0)
        memcpy(side->shape, shape, (size_t)rank * sizeof(int64_t));
    side->size = base ? rt_shape_size(source, rank, shape) : 0;
    side->stride = side->size;
    side->base = base;
    side->bytes = NULL;
}

static RtDataset *rt_dataset_alloc(const char *source, int64_t count)
{
    RtDataset *ds = rt_alloc_zeroed(1, sizeof(RtDataset));
    ds->storage = rt_alloc_zeroed(1, sizeof(RtStorage));
    ds->storage->references = 1;
    ds->source = rt_strdup(source);
    ds->count = count;
    return ds;
}

RtDataset *rt_dataset_from_blocks(const char *source, int64_t count, RtDtype x_dtype,
                                  int32_t x_rank, const int64_t *x_shape, void *x_block,
                                  RtDtype y_dtype, int32_t y_rank, const int64_t *y_shape,
                                  void *y_block)
{
    RtDataset *ds = rt_dataset_alloc(source, count);
    ds->storage->x_block = x_block;
    ds->storage->y_block = y_block;
    rt_side_set(&ds->x, source, x_dtype, x_rank, x_shape, x_block);
    rt_side_set(&ds->y, source, y_dtype, y_block ? y_rank : 0, y_shape, y_block);
    return ds;
}

RtDataset *rt_dataset_from_bytes(const char *source, int64_t count, int32_t x_rank,
                                 const int64_t *x_shape, void *x_block, const uint8_t *x_bytes,
                                 void *y_block)
{
    RtDataset *ds = rt_dataset_from_blocks(source, count, RT_DTYPE_F32, x_rank, x_shape,
                                           x_block, RT_DTYPE_I32, 0, NULL, y_block);
    ds->x.base = NULL;
    ds->x.bytes = x_bytes;
    return ds;
}

void rt_dataset_free(RtDataset *ds)
{
    if (ds == NULL)
        return;
    if (--ds->storage->references == 0) {
        rt_free(ds->storage->x_block);
        rt_free(ds->storage->y_block);
        rt_free(ds->storage->vocab);
        rt_free(ds->storage->y_source);
        rt_free(ds->storage);
    }
    rt_free(ds->rows);
    rt_free(ds->source);
    rt_free(ds);
}

/* ---- accessors ------------------------------------------------------------------------------ */

int64_t rt_dataset_count(const RtDataset *ds) { return ds->count; }
RtDtype rt_dataset_x_dtype(const RtDataset *ds) { return ds->x.dtype; }
int32_t rt_dataset_x_rank(const RtDataset *ds) { return ds->x.rank; }
const int64_t *rt_dataset_x_shape(const RtDataset *ds) { return ds->x.shape; }
int64_t rt_dataset_x_size(const RtDataset *ds) { return ds->x.size; }
RtDtype rt_dataset_y_dtype(const RtDataset *ds) { return ds->y.dtype; }
int32_t rt_dataset_y_rank(const RtDataset *ds) { return ds->y.rank; }
const int64_t *rt_dataset_y_shape(const RtDataset *ds) { return ds->y.shape; }
int64_t rt_dataset_y_size(const RtDataset *ds) { return ds->y.size; }

const uint8_t *rt_dataset_vocab(const RtDataset *ds, int32_t *size)
{
    if (size != NULL)
        *size = ds->storage->vocab_size;
    return ds->storage->vocab;
}

static const char *rt_dtype_text(RtDtype dtype) { return dtype == RT_DTYPE_I32 ? "i32" : "f32"; }

/* Fails unless a side of ds holds samples of the dtype and element count the program was
 * compiled for. */
static void rt_side_expect(const RtDataset *ds, const RtSide *side, const char *what,
                           RtDtype dtype, int32_t rank, const int64_t *shape)
{
    int64_t size = rt_shape_size(ds->source, rank, shape);
    if (side->dtype == dtype && side->size == size)
        return;
    char found[160], wanted[160];
    rt_fatal("%s: %s are %s%s, but the program was compiled for %s%s", ds->source, what,
             rt_dtype_text(side->dtype), rt_shape_text(found, sizeof found, side->rank, side->shape),
             rt_dtype_text(dtype), rt_shape_text(wanted, sizeof wanted, rank, shape));
}

void rt_dataset_expect(const RtDataset *ds, RtDtype x_dtype, int32_t x_rank,
                       const int64_t *x_shape, RtDtype y_dtype, int32_t y_rank,
                       const int64_t *y_shape)
{
    rt_side_expect(ds, &ds->x, "the samples", x_dtype, x_rank, x_shape);
    if (ds->y.size > 0)
        rt_side_expect(ds, &ds->y, "the targets", y_dtype, y_rank, y_shape);
}

void rt_dataset_expect_vocab(const RtDataset *ds, int32_t size)
{
    if (ds->storage->vocab_size != size)
        rt_fatal("%s: the text has %d distinct characters, but the program was compiled for "
                 "%d (vocab() sizes its tensors); compile it again with this text",
                 ds->source, ds->storage->vocab_size, size);
}

int32_t rt_dataset_classes(const RtDataset *ds)
{
    if (ds->y.size != 1 || ds->y.dtype != RT_DTYPE_I32)
        return 0;
    int32_t largest = -1;
    for (int64_t i = 0; i < ds->count; i++) {
        int64_t row = ds->rows ? ds->rows[i] : i;
        int32_t label = (int32_t)ds->y.base[row * ds->y.stride];
        if (label > largest)
            largest = label;
    }
    return largest + 1;
}

void rt_dataset_set_y_source(RtDataset *ds, const char *path)
{
    rt_free(ds->storage->y_source);
    ds->storage->y_source = rt_strdup(path);
}

/* Fails unless every element of a side of ds, an i32 one, lies in [0, bound). */
static void rt_side_expect_bound(const RtDataset *ds, const RtSide *side, const char *source,
                                 const char *what, int64_t bound)
{
    if (bound <= 0 || side->dtype != RT_DTYPE_I32 || side->base == NULL)
        return;
    for (int64_t i = 0; i < ds->count; i++) {
        int64_t row = ds->rows ? ds->rows[i] : i;
        const int32_t *at = (const int32_t *)(side->base + row * side->stride);
        for (int64_t k = 0; k < side->size; k++)
            if (at[k] < 0 || at[k] >= bound)
                rt_fatal("%s: sample %" PRId64 " (counting from 0) has %s %" PRId32
                         "%s, but the program takes its %ss as one of %" PRId64
                         " classes (0..%" PRId64 ": a one_hot, cross_entropy or embedding "
                         "of that size)",
                         source, i, what, at[k], side->size > 1 ? " in it" : "", what, bound,
                         bound - 1);
    }
}

void rt_dataset_expect_classes(const RtDataset *ds, int64_t x_classes, int64_t y_classes)
{
    rt_side_expect_bound(ds, &ds->x, ds->source, "id", x_classes);
    const char *y_source = ds->storage->y_source ? ds->storage->y_source : ds->source;
    rt_side_expect_bound(ds, &ds->y, y_source, "label", y_classes);
}

_Noreturn void rt_index_error(const char *where, int32_t gather, int64_t index, int64_t element,
                              int64_t bound)
{
    const char *at = where && where[0] ? where : "a compiled kernel";
    if (gather)
        rt_fatal("%s: gather: index %" PRId64 " (element %" PRId64 " of the indices) is "
                 "outside the table's %" PRId64 " rows (0..%" PRId64 ")",
                 at, index, element, bound, bound - 1);
    rt_fatal("%s: one_hot: label %" PRId64 " (element %" PRId64 " of the labels) is outside "
             "its %" PRId64 " classes (0..%" PRId64 ")",
             at, index, element, bound, bound - 1);
}

/* out[i] = in[i] / 255 as f32: the byte times the f32 1 / 255, which every version below
 * computes with the same single rounding, so the values do not depend on the host. The
 * runtime is built for baseline x86-64, where GCC converts bytes one at a time; SSE2
 * converts 16 in a dozen instructions, AVX-512 or AVX2 (chosen at run time) 16 or 8 in
 * three. */
static void rt_bytes_to_floats_tail(const uint8_t *in, float *out, int64_t i, int64_t n)
{
    for (; i < n; i++)
        out[i] = (float)in[i] * (1.0f / 255.0f);
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void rt_bytes_to_floats_avx512(const uint8_t *in,
                                                                         float *out, int64_t n)
{
    const __m512 scale = _mm512_set1_ps(1.0f / 255.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(in + i)));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(w), scale));
    }
    rt_bytes_to_floats_tail(in, out, i, n);
}

__attribute__((target("avx2"))) static void rt_bytes_to_floats_avx2(const uint8_t *in,
                                                                     float *out, int64_t n)
{
    const __m256 scale = _mm256_set1_ps(1.0f / 255.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(in + i)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(w), scale));
    }
    rt_bytes_to_floats_tail(in, out, i, n);
}

static void rt_bytes_to_floats_sse2(const uint8_t *in, float *out, int64_t n)
{
    const __m128 scale = _mm_set1_ps(1.0f / 255.0f);
    const __m128i zero = _mm_setzero_si128();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(in + i));
        __m128i half[2] = {_mm_unpacklo_epi8(b, zero), _mm_unpackhi_epi8(b, zero)};
        for (int h = 0; h < 2; h++) {
            __m128i lo = _mm_unpacklo_epi16(half[h], zero), hi = _mm_unpackhi_epi16(half[h], zero);
            _mm_storeu_ps(out + i + 8 * h, _mm_mul_ps(_mm_cvtepi32_ps(lo), scale));
            _mm_storeu_ps(out + i + 8 * h + 4, _mm_mul_ps(_mm_cvtepi32_ps(hi), scale));
        }
    }
    rt_bytes_to_floats_tail(in, out, i, n);
}
#endif

bool rt_data_baseline_only; /* rt_internal.h */

static void rt_bytes_to_floats(const uint8_t *in, float *out, int64_t n)
{
#if defined(__x86_64__)
    RtKernelIsa isa = rt_data_baseline_only ? RT_KERNELS_BASELINE : rt_kernels_isa();
    if (isa == RT_KERNELS_AVX512)
        rt_bytes_to_floats_avx512(in, out, n);
    else if (isa == RT_KERNELS_AVX2)
        rt_bytes_to_floats_avx2(in, out, n);
    else
        rt_bytes_to_floats_sse2(in, out, n);
#else
    rt_bytes_to_floats_tail(in, out, 0, n);
#endif
}

/* Copies sample `index`'s row into x_out and (when both exist) y_out. */
static void rt_copy_sample(const RtDataset *ds, int64_t index, uint32_t *x_out,
                           uint32_t *y_out)
{
    int64_t row = ds->rows ? ds->rows[index] : index;
    if (ds->x.bytes) {
        rt_bytes_to_floats(ds->x.bytes + row * ds->x.stride, (float *)x_out, ds->x.size);
    } else {
        memcpy(x_out, ds->x.base + row * ds->x.stride, (size_t)ds->x.size * RT_ELEMENT_BYTES);
    }
    if (y_out != NULL && ds->y.size > 0)
        memcpy(y_out, ds->y.base + row * ds->y.stride, (size_t)ds->y.size * RT_ELEMENT_BYTES);
}

RtDataset *rt_dataset_new(int64_t count, RtDtype x_dtype, int32_t x_rank, const int64_t *x_shape,
                          RtDtype y_dtype, int32_t y_rank, const int64_t *y_shape)
{
    if (count < 0)
        rt_fatal("a dataset cannot have %" PRId64 " samples", count);
    int64_t xs = rt_shape_size("map", x_rank, x_shape);
    int64_t ys = y_rank >= 0 ? rt_shape_size("map", y_rank, y_shape) : 0;
    void *x = rt_alloc_zeroed((size_t)(count * xs + 1), RT_ELEMENT_BYTES);
    void *y = y_rank >= 0 ? rt_alloc_zeroed((size_t)(count * ys + 1), RT_ELEMENT_BYTES) : NULL;
    return rt_dataset_from_blocks("map", count, x_dtype, x_rank, x_shape, x, y_dtype,
                                  y_rank >= 0 ? y_rank : 0, y_shape, y);
}

void rt_dataset_set(RtDataset *ds, int64_t index, const void *x, const void *y)
{
    if (index < 0 || index >= ds->count || ds->rows || !ds->x.base)
        rt_fatal("%s: cannot set sample %" PRId64, ds->source, index);
    memcpy((uint32_t *)ds->x.base + index * ds->x.stride, x, (size_t)ds->x.size * RT_ELEMENT_BYTES);
    if (y && ds->y.size > 0)
        memcpy((uint32_t *)ds->y.base + index * ds->y.stride, y,
               (size_t)ds->y.size * RT_ELEMENT_BYTES);
}

void rt_dataset_get(const RtDataset *ds, int64_t index, void *x_out, void *y_out)
{
    if (index < 0 || index >= ds->count)
        rt_fatal("%s: sample %" PRId64 " is out of range (the dataset has %" PRId64 ")",
                 ds->source, index, ds->count);
    rt_copy_sample(ds, index, x_out, y_out);
}

/* ---- splits ------------------------------------------------------------------------------------- */

/* A dataset over the same storage whose sample i is ds's sample picks[i]. */
static RtDataset *rt_dataset_subset(const RtDataset *ds, const char *suffix,
                                    const int64_t *picks, int64_t count)
{
    RtDataset *part = rt_alloc_zeroed(1, sizeof(RtDataset));
    *part = *ds;
    part->storage->references++;
    size_t length = strlen(ds->source) + strlen(suffix) + 1;
    part->source = rt_alloc(length);
    snprintf(part->source, length, "%s%s", ds->source, suffix);
    part->count = count;
    part->rows = rt_alloc(rt_size_mul((size_t)count, sizeof(int64_t)));
    for (int64_t i = 0; i < count; i++)
        part->rows[i] = ds->rows ? ds->rows[picks[i]] : picks[i];
    return part;
}

void rt_dataset_split(const RtDataset *ds, double fraction, uint64_t seed, RtDataset **first,
                      RtDataset **second)
{
    if (!(fraction > 0 && fraction < 1))
        rt_fatal("%s: split fraction %g is not between 0 and 1", ds->source, fraction);
    int64_t first_count = (int64_t)llround(fraction * (double)ds->count);
    if (first_count <= 0 || first_count >= ds->count)
        rt_fatal("%s: a split of %g leaves one part of the %" PRId64
                 " samples empty (%" PRId64 " and %" PRId64 ")",
                 ds->source, fraction, ds->count, first_count, ds->count - first_count);

    /* The first part is the first `first_count` entries of a permutation; both parts are
     * then listed in ascending sample order (better locality, and an order that does not
     * depend on how the permutation was drawn). */
    int64_t *permutation = rt_alloc(rt_size_mul((size_t)ds->count, sizeof(int64_t)));
    rt_random_permutation(permutation, ds->count, seed, (uint64_t)RT_STREAM_SPLIT << 32);
    uint8_t *in_first = rt_alloc_zeroed((size_t)ds->count, 1);
    for (int64_t i = 0; i < first_count; i++)
        in_first[permutation[i]] = 1;
    int64_t *picks_first = permutation; /* reused: the permutation is no longer needed */
    int64_t *picks_second = rt_alloc(rt_size_mul((size_t)(ds->count - first_count),
                                                 sizeof(int64_t)));
    int64_t a = 0, b = 0;
    for (int64_t i = 0; i < ds->count; i++) {
        if (in_first[i])
            picks_first[a++] = i;
        else
            picks_second[b++] = i;
    }
    *first = rt_dataset_subset(ds, " (first part of split)", picks_first, a);
    *second = rt_dataset_subset(ds, " (second part of split)", picks_second, b);
    rt_free(permutation);
    rt_free(picks_second);
    rt_free(in_first);
}

/* ---- the character corpus -------------------------------------------------------------------- */

RtDataset *rt_dataset_text(const char *path, int64_t seq)
{
    if (seq <= 0)
        rt_fatal("%s: sequence length %" PRId64 " must be positive", path, seq);
    RtFileBytes file = rt_file_read_all(path);
    if (file.gzip_problem != NULL)
        rt_fatal("%s: %s (after %zu bytes of text)", path, file.gzip_problem, file.size);
    if (file.size < 2 || (uint64_t)(file.size - 1) < (uint64_t)seq)
        rt_fatal("%s: %zu bytes of text are too few for one sample of %" PRId64
                 " characters (%" PRId64 " bytes needed: the inputs and one more target)",
                 path, file.size, seq, seq + 1);

    /* Vocabulary: the distinct bytes in ascending order; id[b] is b's position. */
    uint8_t present[256] = {0};
    for (size_t i = 0; i < file.size; i++)
        present[file.bytes[i]] = 1;
    uint8_t *vocab = rt_alloc(256);
    int32_t id_of[256];
    int32_t vocab_size = 0;
    for (int b = 0; b < 256; b++) {
        if (present[b]) {
            id_of[b] = vocab_size;
            vocab[vocab_size++] = (uint8_t)b;
        }
    }

    int32_t *ids = rt_alloc(rt_size_mul(file.size, sizeof(int32_t)));
    for (size_t i = 0; i < file.size; i++)
        ids[i] = id_of[file.bytes[i]];
    int64_t count = (int64_t)(file.size - 1) / seq;
    rt_free(file.bytes);

    RtDataset *ds = rt_dataset_alloc(path, count);
    ds->storage->x_block = ids;
    ds->storage->vocab = vocab;
    ds->storage->vocab_size = vocab_size;
    rt_side_set(&ds->x, path, RT_DTYPE_I32, 1, &seq, ids);
    rt_side_set(&ds->y, path, RT_DTYPE_I32, 1, &seq, ids + 1);
    ds->x.stride = seq;
    ds->y.stride = seq;
    return ds;
}

/* ---- batches ------------------------------------------------------------------------------------ */

struct RtBatches {
    const RtDataset *ds;
    int64_t batch;    /* samples per full batch */
    int64_t *order;   /* the epoch's sample order (count entries), NULL for 0..count-1 */
    int64_t used;     /* samples the epoch covers: count, or whole batches with drop_last */
    int64_t batches;  /* batches in the epoch */
    int64_t position; /* batches returned so far */
};

RtBatches *rt_batches_begin(const RtDataset *ds, int64_t batch, int32_t shuffle,
                            int32_t drop_last, uint64_t seed, int64_t epoch)
{
    if (batch <= 0)
        rt_fatal("%s: batch size %" PRId64 " must be positive", ds->source, batch);
    RtBatches *it = rt_alloc_zeroed(1, sizeof(RtBatches));
    it->ds = ds;
    it->batch = batch;
    it->batches = drop_last ? ds->count / batch : (ds->count + batch - 1) / batch;
    it->used = drop_last ? it->batches * batch : ds->count;
    if (shuffle) {
        /* Stream (SHUFFLE, epoch mod 2^32): the order is a function of (seed, epoch, count).
         * Any epoch is valid, negative ones too (the loop variable of `for e in -1..1`). */
        it->order = rt_alloc(rt_size_mul((size_t)ds->count, sizeof(int64_t)));
        uint64_t stream = (uint64_t)RT_STREAM_SHUFFLE << 32 | (uint32_t)(uint64_t)epoch;
        rt_random_permutation(it->order, ds->count, seed, stream);
    }
    return it;
}

/* Batches of at least this many bytes are gathered in parallel (below that, handing the
 * rows to the pool costs more than the copy: a batch of 64 Fashion-MNIST images is 200 KB). */
#define RT_GATHER_PARALLEL ((size_t)128 << 10)

typedef struct RtGather {
    const RtDataset *ds;
    const int64_t *order; /* the batch's sample indices, or NULL: samples first, first + 1, ... */
    int64_t first;
    uint32_t *x, *y; /* y may be NULL */
} RtGather;

static void rt_gather_rows(void *context, int64_t begin, int64_t end)
{
    const RtGather *job = context;
    const RtDataset *ds = job->ds;
    for (int64_t r = begin; r < end; r++) {
        int64_t sample = job->order ? job->order[r] : job->first + r;
        rt_copy_sample(ds, sample, job->x + r * ds->x.size,
                       job->y ? job->y + r * ds->y.size : NULL);
    }
}

static void rt_poison(uint32_t *p, int64_t n, RtDtype dtype)
{
    uint32_t v = dtype == RT_DTYPE_I32 ? 0 : 0x7fc00000u; /* 0, quiet NaN */
    for (int64_t i = 0; i < n; i++)
        p[i] = v;
}

int64_t rt_batches_next(RtBatches *it, void *x_out, void *y_out)
{
    if (it->position >= it->batches)
        return 0;
    const RtDataset *ds = it->ds;
    int64_t start = it->position * it->batch;
    int64_t rows = it->used - start < it->batch ? it->used - start : it->batch;
    uint32_t *x = x_out;
    uint32_t *y = y_out;
    RtGather job = {ds, it->order ? it->order + start : NULL, start, x, y};
    /* A large batch is gathered on the pool: its rows are scattered over the data set, so
     * the copy is bound by memory latency, and it runs between steps with the workers
     * idle. Each row is a plain copy, so the bytes do not depend on the thread count. */
    if ((size_t)rows * (size_t)(ds->x.size + ds->y.size) * RT_ELEMENT_BYTES >= RT_GATHER_PARALLEL)
        rt_parallel_for(rows, rt_gather_rows, &job);
    else
        rt_gather_rows(&job, 0, rows);
    /* A smaller last batch: the rows past it get NaN (floats) and 0 (indices: valid ones,
     * which gathers and scatters do not skip), so that compiled code reading them, which
     * it must not, shows in its results. */
    if (rows < it->batch) {
        rt_poison(x + rows * ds->x.size, (it->batch - rows) * ds->x.size, ds->x.dtype);
        if (y)
            rt_poison(y + rows * ds->y.size, (it->batch - rows) * ds->y.size, ds->y.dtype);
    }
    it->position++;
    return rows;
}

int64_t rt_batches_count(const RtBatches *it)
{
    return it->batches;
}

int64_t rt_batches_position(const RtBatches *it)
{
    return it->position;
}

void rt_batches_seek(RtBatches *it, int64_t position)
{
    if (position < 0 || position > it->batches)
        rt_fatal("%s: batch position %" PRId64 " is outside this epoch's 0..%" PRId64
                 " (a checkpoint from another batch size or dataset?)",
                 it->ds->source, position, it->batches);
    it->position = position;
}

void rt_batches_end(RtBatches *it)
{
    if (it == NULL)
        return;
    rt_free(it->order);
    rt_free(it);
}
