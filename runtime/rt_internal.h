/* rt_internal.h — helpers shared by the runtime's own files; never seen by generated code
 * or the compiler. Everything here either succeeds or ends the program through rt_fatal
 * (exit 1) or, for memory, "nnc: out of memory (N bytes)" and exit 3, as rt_arena_new. */
#ifndef NNC_RT_INTERNAL_H
#define NNC_RT_INTERNAL_H

#include "nnc_rt.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the nnc runtime reads and writes little-endian data in place: a little-endian host is required"
#endif

/* ---- allocation: the one hook every runtime file allocates through ------------------- */
/* Never return NULL. A zero-byte request returns a distinct, freeable block. */
void *rt_alloc(size_t bytes);
void *rt_alloc_zeroed(size_t count, size_t size);
void *rt_realloc(void *block, size_t bytes);
/* count * size, or "nnc: out of memory" when the product does not fit in size_t. */
size_t rt_size_mul(size_t count, size_t size);
char *rt_strdup(const char *text);
void rt_free(void *block);

/* ---- whole files ------------------------------------------------------------------------- */
typedef struct RtFileBytes {
    uint8_t *bytes;           /* rt_alloc'd; the caller frees with rt_free */
    size_t size;              /* bytes read (decompressed, for a gzip file) */
    int gzip;                 /* the file began with the gzip magic 1f 8b */
    const char *gzip_problem; /* NULL, or why decompression stopped early (a static
                                 string: "compressed data ends early", zlib's message) */
    int more;                 /* rt_file_read_upto: the file holds more than the limit */
} RtFileBytes;

/* Reads all of `path`, decompressing it through zlib when it starts with the gzip magic.
 * A gzip stream that is cut short or corrupt is not fatal here: what decompressed cleanly
 * is returned with gzip_problem set, so the caller can say how much of what was expected
 * it found. A file that cannot be opened or read is fatal: "nnc: cannot read PATH: why". */
RtFileBytes rt_file_read_all(const char *path);
/* As rt_file_read_all, but reads at most `limit` bytes (`more` says whether the file has
 * more), so that a file whose header declares its size is never read past it: a gzip'd
 * file of a few bytes can inflate to gigabytes. Only regular files are read: a device
 * such as /dev/zero, a FIFO (which would block) or a directory is fatal, "nnc: cannot
 * read PATH: it is a character device, not a regular file". */
RtFileBytes rt_file_read_upto(const char *path, size_t limit);

/* Big-endian 32-bit value at p (IDX headers). */
uint32_t rt_load_be32(const uint8_t *p);

/* ---- convolutions with at most 4 input channels (rt_conv_direct.c) ------------------------ */
/* Whether the direct kernels take this geometry: stride 1, no dilation or groups, at most
 * 4 input channels, kernels at most 7 wide, and a CPU with AVX-512 or AVX2 and FMA
 * (rt_kernels_isa). */
bool rt_conv_direct_fits(const RtConv2d *g);
void rt_conv_direct_forward(const RtConv2d *g, const float *x, const float *w, float *y);
void rt_conv_direct_weights(const RtConv2d *g, const float *x, const float *dy, float *dw);
/* The weight gradient of a small convolution (at most 16 output and 16 input channels,
 * a 3x3 or 5x5 kernel, stride 1, no padding, dilation or groups, AVX-512 or AVX2), vectorized
 * across the output channels. */
bool rt_conv_across_fits(const RtConv2d *g);
void rt_conv_across_weights(const RtConv2d *g, const float *x, const float *dy, float *dw);

/* ---- the instruction set ------------------------------------------------------------------- */
/* Whether the runtime's own kernels may use AVX-512: the CPU has AVX-512F and nothing caps
 * the runtime at AVX2 (the environment's NNC_ISA=avx2, which makes a program behave as on
 * an AVX2-only CPU, or a program compiled for a CPU without AVX-512: rt_target_cpu;
 * docs/testing.md). Decided once per process, and oneDNN capped at AVX2 with it when
 * false: call it before the first oneDNN call. Every AVX-512 path has an AVX2 (or
 * baseline) counterpart chosen when this is false. An unknown NNC_ISA is fatal. */
bool rt_cpu_avx512(void);
/* The vector code the runtime's own kernels run (direct convolution, max-pool backward,
 * byte conversion), narrowest first. Their AVX2 and AVX-512 versions compute each output
 * element by the same sequence of operations, so the results do not depend on which ran
 * (the baseline ones too, but for convolution the baseline is oneDNN's). */
typedef enum RtKernelIsa { RT_KERNELS_BASELINE, RT_KERNELS_AVX2, RT_KERNELS_AVX512 } RtKernelIsa;
/* RT_KERNELS_AVX512 when rt_cpu_avx512(), else RT_KERNELS_AVX2 when the CPU has AVX2 and
 * FMA, else RT_KERNELS_BASELINE; never above rt_kernels_cap (rt_conv_direct.c), which is
 * RT_KERNELS_AVX512 unless a test lowers it to run a narrower path on this host. */
RtKernelIsa rt_kernels_isa(void);
extern RtKernelIsa rt_kernels_cap;

/* ---- threads, messages and numbers in text ----------------------------------------------- */
/* Caps the threads oneDNN's kernels use (threads > 0; 0 leaves its default, one per CPU),
 * so --threads bounds every kernel, not only the pool's (rt_matmul.c). */
void rt_dnnl_set_threads(int32_t threads);
/* oneDNN's thread count (OpenMP's maximum; 1 without OpenMP). */
int32_t rt_dnnl_threads(void);
/* rt_flags_allow_checkpoints said yes, and no setting of the program took the names of
 * --save, --resume, --eval-only: rt_train_save and rt_train_resume may read them. */
int32_t rt_flags_checkpoints_allowed(void);
/* Checkpoints are allowed and the training loop has one batch loop of its own that
 * trains, where --save-every and --max-steps act (rt_flags_allow_checkpoints). */
int32_t rt_flags_steps_allowed(void);
/* Why not, when checkpoints are allowed but rt_flags_steps_allowed() is 0. */
const char *rt_flags_steps_why_not(void);
/* Prints "nnc: <message>\n" to stderr, stdout flushed first (rt_fatal, usage errors). */
void rt_vmessage(const char *fmt, va_list args) __attribute__((format(printf, 1, 0)));
/* Writes "[d0, d1, ...]" into text (cut to capacity) and returns text. */
const char *rt_shape_text(char *text, size_t capacity, int32_t rank, const int64_t *dims);
/* Parse all of text[0..length) (no surrounding spaces) as a decimal integer or a finite
 * float. Return 1 on success, 0 when the text is not such a number or is out of range. */
int rt_parse_int64(const char *text, size_t length, int64_t *value);
int rt_parse_double(const char *text, size_t length, double *value);

/* ---- randomness used by the data pipeline ------------------------------------------------ */
/* Streams of the generator that are not rt_random_*'s stream 0 (rt_random.c): the word
 * sequence for (seed, stream) is disjoint from every other stream's. */
enum {
    RT_STREAM_SHUFFLE = 1, /* batches: stream (RT_STREAM_SHUFFLE << 32) | epoch */
    RT_STREAM_SPLIT = 2,   /* rt_dataset_split */
};

/* ---- datasets (rt_data.c; the loaders in rt_data_load.c build them through this) ------ */
/* A dataset of `count` samples whose rows lie back to back in x_block (x_rank dims per
 * sample, f32 or i32) and y_block (NULL when there are no labels; then y_rank is 0).
 * Takes ownership of both blocks (rt_alloc'd); `source` names the data in messages. */
RtDataset *rt_dataset_from_blocks(const char *source, int64_t count, RtDtype x_dtype,
                                  int32_t x_rank, const int64_t *x_shape, void *x_block,
                                  RtDtype y_dtype, int32_t y_rank, const int64_t *y_shape,
                                  void *y_block);
/* Names the file of ds's labels (when it is not ds's source) in messages about them. */
void rt_dataset_set_y_source(RtDataset *ds, const char *path);
/* Set by tests: convert image bytes with the baseline code even where AVX-512 is there. */
extern bool rt_data_baseline_only;
/* Images of bytes with one i32 label each: sample i's x_rank-dim f32 values are
 * x_bytes[i * size ...] / 255, converted as samples are copied out. x_block is the
 * rt_alloc'd block holding x_bytes (a whole file, say); y_block the count labels. Takes
 * ownership of both blocks. */
RtDataset *rt_dataset_from_bytes(const char *source, int64_t count, int32_t x_rank,
                                 const int64_t *x_shape, void *x_block, const uint8_t *x_bytes,
                                 void *y_block);

#endif
