/* rt_conv_direct.c — small convolutions computed directly on plain NCHW with AVX-512 (or
 * AVX2 and FMA) instead of through oneDNN: first layers (an image's 1 or 3 channels)
 * here, and the weight gradient of layers with at most 16 channels at the end of the file.
 *
 * oneDNN's fast convolutions work on layouts blocked by 16 channels. For a first layer
 * (LeNet's 1 -> 6 channels) the copies into and out of those layouts cost as much as the
 * convolution, and its plain-layout alternative (im2col and a matrix product) is slower
 * still. Here a row of 16 outputs is one vector: the forward pass adds, for each tap
 * (c, kh, kw), one input row (a masked load: padding reads as 0) times the tap's weight,
 * for a block of up to 12 output channels at once; the weight gradient adds, for each
 * block of 3 or 4 output channels and input channel c, image by image and kernel row by
 * kernel row, the products of dy rows with input rows shifted by kw. For LeNet's first
 * layer (64 images of 28x28, 1 -> 6 channels, 5x5) this took a LeNet training step from
 * 1.98 to 1.70 ms on two cores.
 *
 * Only the forward pass and the weight gradient are here: a first layer's input needs no
 * gradient, so the backward-data pass stays with oneDNN.
 *
 * Every output element is computed by one thread in a fixed order (forward: taps in
 * (c, kh, kw) order; weight gradient: lane-wise sums over (n, chunk, oh), then the lanes
 * added in a fixed tree), so results do not depend on the number of threads.
 *
 * Each kernel has an AVX2 version (rt_kernels_isa chooses) that computes every output
 * element by the same operations in the same order. A lane of a 16-wide vector holds one
 * output (forward), one partial sum of an output (weight gradient) or one output channel
 * (across), independent of the other lanes, so its 16 lanes become two vectors of 8 (or
 * chunks of 8 columns), in blocks sized for AVX2's 16 registers: the same bits on either.
 * Without AVX2 and FMA, rt_conv_direct_fits and rt_conv_across_fits say no (oneDNN). */
#include "rt_internal.h"

#include <immintrin.h>
#include <stdbool.h>

RtKernelIsa rt_kernels_cap = RT_KERNELS_AVX512; /* rt_internal.h */

RtKernelIsa rt_kernels_isa(void)
{
    RtKernelIsa host = RT_KERNELS_BASELINE;
    if (rt_cpu_avx512())
        host = RT_KERNELS_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        host = RT_KERNELS_AVX2;
    return host < rt_kernels_cap ? host : rt_kernels_cap;
}

enum {
    DIRECT_MAX_C = 4,       /* at most this many input channels */
    DIRECT_MAX_K = 7,       /* kernels at most 7 wide */
    DIRECT_MAX_TAPS = 256,  /* c kh kw, so one block's weights fit on the stack */
    MAX_BLOCK = 12,         /* output channels a forward task computes at once, at most */
};

bool rt_conv_direct_fits(const RtConv2d *g)
{
    return g->stride == 1 && g->dilation == 1 && g->groups == 1 && g->c <= DIRECT_MAX_C &&
           g->kh <= DIRECT_MAX_K && g->kw <= DIRECT_MAX_K && g->c * g->kh * g->kw <= DIRECT_MAX_TAPS &&
           rt_kernels_isa() >= RT_KERNELS_AVX2;
}

/* The lanes of the chunk of 16 (or 8) outputs starting at column j0 that read input column
 * j0 + lane + kw - padding inside [0, w), among the chunk's `count` outputs. */
static __mmask16 tap_mask(const RtConv2d *g, int64_t j0, int64_t kw, int64_t count)
{
    int64_t shift = j0 + kw - g->padding;
    int64_t lo = shift < 0 ? -shift : 0;
    int64_t hi = g->w - shift < count ? g->w - shift : count;
    if (hi <= lo)
        return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* The outputs of the chunk of at most `width` starting at column j0. */
static int64_t chunk_size(const RtConv2d *g, int64_t j0, int64_t width)
{
    return g->ow - j0 < width ? g->ow - j0 : width;
}

/* The AVX2 mask (a lane all ones or all zeros) of the lanes set in `bits` (at most 8). */
__attribute__((target("avx2"), always_inline)) static inline __m256i lane_mask8(unsigned bits)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), bit), bit);
}

/* The sum of 16 lane sums, in _mm512_reduce_add_ps's order (GCC's): lanes l and l + 8,
 * then l and l + 4, then (0 + 2) + (1 + 3). Both versions of the weight gradient end
 * here, so their results agree whatever the compiler's reduction tree. */
static float lanes_sum16(const float lanes[16])
{
    float half[8], quarter[4];
    for (int k = 0; k < 8; k++)
        half[k] = lanes[8 + k] + lanes[k];
    for (int k = 0; k < 4; k++)
        quarter[k] = half[4 + k] + half[k];
    return (quarter[0] + quarter[2]) + (quarter[1] + quarter[3]);
}

typedef struct DirectJob {
    const RtConv2d *g;
    const float *x, *in; /* forward: x and w; weight gradient: x and dy */
    float *out;
    int block; /* output channels per task (block_size) */
} DirectJob;

/* The output channels a task computes at once: the size among `sizes` (largest first)
 * that wastes the fewest lanes on channels beyond o (ties: the largest). */
static int block_size(int64_t o, const int *sizes, int count)
{
    int best = sizes[0];
    for (int k = 1; k < count; k++)
        if ((o + sizes[k] - 1) / sizes[k] * sizes[k] < (o + best - 1) / best * best)
            best = sizes[k];
    return best;
}

static const int forward_blocks[] = {12, 8, 6, 4};
static const int weights_blocks[] = {4, 3};

/* ---- forward ---------------------------------------------------------------------------------- */

/* wb[tap][o] = the weight of output channel o0 + o at tap (c, kh, kw), for o < B; 0 for
 * channels from g->o on. Returns how many of the B channels exist. */
static int64_t block_weights(const DirectJob *job, int64_t o0, int B,
                             float wb[DIRECT_MAX_TAPS][MAX_BLOCK])
{
    const RtConv2d *g = job->g;
    int64_t taps = g->c * g->kh * g->kw, count = g->o - o0 < B ? g->o - o0 : B;
    for (int64_t k = 0; k < taps; k++)
        for (int o = 0; o < B; o++)
            wb[k][o] = o < count ? job->in[(o0 + o) * taps + k] : 0;
    return count;
}

/* y[n, o0 .. o0 + B) for B output channels (a constant where inlined, so the B
 * accumulators stay in registers; channels from o on get weight 0 and are not stored). */
__attribute__((target("avx512f"), always_inline)) static inline void
forward_task(const DirectJob *job, int64_t n, int64_t o0, const int B)
{
    const RtConv2d *g = job->g;
    float wb[DIRECT_MAX_TAPS][MAX_BLOCK]; /* the block's weights by tap (fixed sizes, not
                                           * VLAs: those would live in memory) */
    int64_t count = block_weights(job, o0, B, wb);
    const float *x = job->x + n * g->c * g->h * g->w;
    float *y = job->out + (n * g->o + o0) * g->oh * g->ow;
    for (int64_t j0 = 0; j0 < g->ow; j0 += 16) {
        int64_t lanes = chunk_size(g, j0, 16);
        __mmask16 out = (__mmask16)((1u << lanes) - 1), mask[DIRECT_MAX_K];
        for (int64_t kw = 0; kw < g->kw; kw++)
            mask[kw] = tap_mask(g, j0, kw, lanes);
        for (int64_t i = 0; i < g->oh; i++) {
            __m512 acc[MAX_BLOCK];
#pragma GCC unroll 12
            for (int o = 0; o < B; o++)
                acc[o] = _mm512_setzero_ps();
            for (int64_t c = 0; c < g->c; c++)
                for (int64_t kh = 0; kh < g->kh; kh++) {
                    int64_t row = i + kh - g->padding;
                    if (row < 0 || row >= g->h)
                        continue;
                    const float *src = x + (c * g->h + row) * g->w + j0 - g->padding;
                    const float *wk = wb[(c * g->kh + kh) * g->kw];
                    for (int64_t kw = 0; kw < g->kw; kw++, wk += MAX_BLOCK) {
                        __m512 v = _mm512_maskz_loadu_ps(mask[kw], src + kw);
#pragma GCC unroll 12
                        for (int o = 0; o < B; o++)
                            acc[o] = _mm512_fmadd_ps(_mm512_set1_ps(wk[o]), v, acc[o]);
                    }
                }
            /* a constant bound (and the test inside) keeps acc in registers */
#pragma GCC unroll 12
            for (int o = 0; o < B; o++)
                if (o < count)
                    _mm512_mask_storeu_ps(y + (o * g->oh + i) * g->ow + j0, out, acc[o]);
        }
    }
}

/* Task t: image t / blocks, the output channels of block t % blocks. */
__attribute__((target("avx512f"))) static void forward_tasks(void *ctx, int64_t begin,
                                                             int64_t end)
{
    const DirectJob *job = ctx;
    int64_t blocks = (job->g->o + job->block - 1) / job->block;
    for (int64_t t = begin; t < end; t++) {
        int64_t n = t / blocks, o0 = t % blocks * job->block;
        switch (job->block) {
        case 12: forward_task(job, n, o0, 12); break;
        case 8: forward_task(job, n, o0, 8); break;
        case 6: forward_task(job, n, o0, 6); break;
        default: forward_task(job, n, o0, 4); break;
        }
    }
}

/* forward_task in chunks of 8 outputs: each output's taps in the same order, padding
 * lanes adding 0 times the weight as there. 12 accumulators, the input and a weight fill
 * 14 of the 16 registers. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
forward_task_avx2(const DirectJob *job, int64_t n, int64_t o0, const int B)
{
    const RtConv2d *g = job->g;
    float wb[DIRECT_MAX_TAPS][MAX_BLOCK];
    int64_t count = block_weights(job, o0, B, wb);
    const float *x = job->x + n * g->c * g->h * g->w;
    float *y = job->out + (n * g->o + o0) * g->oh * g->ow;
    for (int64_t j0 = 0; j0 < g->ow; j0 += 8) {
        int64_t lanes = chunk_size(g, j0, 8);
        __m256i out = lane_mask8((1u << lanes) - 1), mask[DIRECT_MAX_K];
        for (int64_t kw = 0; kw < g->kw; kw++)
            mask[kw] = lane_mask8(tap_mask(g, j0, kw, lanes));
        for (int64_t i = 0; i < g->oh; i++) {
            __m256 acc[MAX_BLOCK];
#pragma GCC unroll 12
            for (int o = 0; o < B; o++)
                acc[o] = _mm256_setzero_ps();
            for (int64_t c = 0; c < g->c; c++)
                for (int64_t kh = 0; kh < g->kh; kh++) {
                    int64_t row = i + kh - g->padding;
                    if (row < 0 || row >= g->h)
                        continue;
                    const float *src = x + (c * g->h + row) * g->w + j0 - g->padding;
                    const float *wk = wb[(c * g->kh + kh) * g->kw];
                    for (int64_t kw = 0; kw < g->kw; kw++, wk += MAX_BLOCK) {
                        __m256 v = _mm256_maskload_ps(src + kw, mask[kw]);
#pragma GCC unroll 12
                        for (int o = 0; o < B; o++)
                            acc[o] = _mm256_fmadd_ps(_mm256_set1_ps(wk[o]), v, acc[o]);
                    }
                }
#pragma GCC unroll 12
            for (int o = 0; o < B; o++) {
                float *at = y + (o * g->oh + i) * g->ow + j0;
                if (o < count && lanes == 8)
                    _mm256_storeu_ps(at, acc[o]);
                else if (o < count)
                    _mm256_maskstore_ps(at, out, acc[o]);
            }
        }
    }
}

__attribute__((target("avx2,fma"))) static void forward_tasks_avx2(void *ctx, int64_t begin,
                                                                   int64_t end)
{
    const DirectJob *job = ctx;
    int64_t blocks = (job->g->o + job->block - 1) / job->block;
    for (int64_t t = begin; t < end; t++) {
        int64_t n = t / blocks, o0 = t % blocks * job->block;
        switch (job->block) {
        case 12: forward_task_avx2(job, n, o0, 12); break;
        case 8: forward_task_avx2(job, n, o0, 8); break;
        case 6: forward_task_avx2(job, n, o0, 6); break;
        default: forward_task_avx2(job, n, o0, 4); break;
        }
    }
}

/* ---- weight gradient ---------------------------------------------------------------------------- */

/* dw[o0 .. o0 + B, c, 0 .. kh, 0 .. KW) for B output channels and a kernel KW wide
 * (constants where inlined, so the B KW accumulators of a kernel row stay in registers).
 * Image by image, so that its planes of x and dy stay in the cache for every kernel row;
 * each row's accumulators wait in `sums` meanwhile. */
__attribute__((target("avx512f"), always_inline)) static inline void
weights_task(const DirectJob *job, int64_t o0, int64_t c, const int B, const int KW)
{
    const RtConv2d *g = job->g;
    int64_t count = g->o - o0 < B ? g->o - o0 : B;
    __m512 sums[DIRECT_MAX_K][4][DIRECT_MAX_K];
    for (int64_t kh = 0; kh < g->kh; kh++)
#pragma GCC unroll 4
        for (int o = 0; o < B; o++)
#pragma GCC unroll 7
            for (int kw = 0; kw < KW; kw++)
                sums[kh][o][kw] = _mm512_setzero_ps();
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t kh = 0; kh < g->kh; kh++) {
            __m512 acc[4][DIRECT_MAX_K];
#pragma GCC unroll 4
            for (int o = 0; o < B; o++)
#pragma GCC unroll 7
                for (int kw = 0; kw < KW; kw++)
                    acc[o][kw] = sums[kh][o][kw];
            int64_t first = g->padding - kh > 0 ? g->padding - kh : 0;
            int64_t last = g->h + g->padding - kh < g->oh ? g->h + g->padding - kh : g->oh;
            for (int64_t j0 = 0; j0 < g->ow; j0 += 16) {
                int64_t lanes = chunk_size(g, j0, 16);
                __mmask16 out = (__mmask16)((1u << lanes) - 1), mask[DIRECT_MAX_K];
                for (int kw = 0; kw < KW; kw++)
                    mask[kw] = tap_mask(g, j0, kw, lanes);
                for (int64_t i = first; i < last; i++) {
                    const float *src = job->x + ((n * g->c + c) * g->h + i + kh - g->padding) * g->w +
                                       j0 - g->padding;
                    const float *dy = job->in + ((n * g->o + o0) * g->oh + i) * g->ow + j0;
                    __m512 d[4];
#pragma GCC unroll 4
                    for (int o = 0; o < B; o++)
                        d[o] = o < count ? _mm512_maskz_loadu_ps(out, dy + o * g->oh * g->ow)
                                         : _mm512_setzero_ps();
#pragma GCC unroll 7
                    for (int kw = 0; kw < KW; kw++) {
                        __m512 v = _mm512_maskz_loadu_ps(mask[kw], src + kw);
#pragma GCC unroll 4
                        for (int o = 0; o < B; o++)
                            acc[o][kw] = _mm512_fmadd_ps(d[o], v, acc[o][kw]);
                    }
                }
            }
#pragma GCC unroll 4
            for (int o = 0; o < B; o++)
#pragma GCC unroll 7
                for (int kw = 0; kw < KW; kw++)
                    sums[kh][o][kw] = acc[o][kw];
        }
    float lanes[16];
    for (int64_t kh = 0; kh < g->kh; kh++)
        for (int o = 0; o < count; o++)
            for (int kw = 0; kw < KW; kw++) {
                _mm512_storeu_ps(lanes, sums[kh][o][kw]);
                job->out[(((o0 + o) * g->c + c) * g->kh + kh) * g->kw + kw] = lanes_sum16(lanes);
            }
}

#define WEIGHTS_WIDTHS(B)                                                                          \
    switch (g->kw) {                                                                               \
    case 1: weights_task(job, o0, c, B, 1); break;                                             \
    case 2: weights_task(job, o0, c, B, 2); break;                                             \
    case 3: weights_task(job, o0, c, B, 3); break;                                             \
    case 4: weights_task(job, o0, c, B, 4); break;                                             \
    case 5: weights_task(job, o0, c, B, 5); break;                                             \
    case 6: weights_task(job, o0, c, B, 6); break;                                             \
    default: weights_task(job, o0, c, B, 7); break;                                            \
    }

/* Task t: the output channels of block t / c, input channel t % c. */
__attribute__((target("avx512f"))) static void weights_tasks(void *ctx, int64_t begin,
                                                             int64_t end)
{
    const DirectJob *job = ctx;
    const RtConv2d *g = job->g;
    for (int64_t t = begin; t < end; t++) {
        int64_t o0 = t / g->c * job->block, c = t % g->c;
        if (job->block == 4)
            WEIGHTS_WIDTHS(4)
        else
            WEIGHTS_WIDTHS(3)
    }
}

/* weights_task, 8 lanes at a time: sums[kh][h] holds lanes 8 h .. 8 h + 8 of its 16 lane
 * sums, lane l of half h adding column j0 + 8 h + l of every chunk j0 (16 apart), over
 * (n, j0, i) in the same order; chunks past the last column, whose lanes there add only
 * 0 times 0 to a sum that is never -0, are skipped. B output channels with B KW + B + 2
 * <= 16 (accumulators, dy, the input, a mask): weights_block_avx2. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
weights_task_avx2(const DirectJob *job, int64_t o0, int64_t c, const int B, const int KW)
{
    const RtConv2d *g = job->g;
    int64_t count = g->o - o0 < B ? g->o - o0 : B;
    __m256 sums[DIRECT_MAX_K][2][4][DIRECT_MAX_K];
    for (int64_t kh = 0; kh < g->kh; kh++)
        for (int h = 0; h < 2; h++)
            for (int o = 0; o < B; o++)
                for (int kw = 0; kw < KW; kw++)
                    sums[kh][h][o][kw] = _mm256_setzero_ps();
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t kh = 0; kh < g->kh; kh++) {
            int64_t first = g->padding - kh > 0 ? g->padding - kh : 0;
            int64_t last = g->h + g->padding - kh < g->oh ? g->h + g->padding - kh : g->oh;
            for (int h = 0; h < 2; h++) {
                __m256 acc[4][DIRECT_MAX_K];
#pragma GCC unroll 4
                for (int o = 0; o < B; o++)
#pragma GCC unroll 7
                    for (int kw = 0; kw < KW; kw++)
                        acc[o][kw] = sums[kh][h][o][kw];
                for (int64_t j0 = 8 * h; j0 < g->ow; j0 += 16) {
                    int64_t lanes = chunk_size(g, j0, 8);
                    __m256i out = lane_mask8((1u << lanes) - 1), mask[DIRECT_MAX_K];
                    for (int kw = 0; kw < KW; kw++)
                        mask[kw] = lane_mask8(tap_mask(g, j0, kw, lanes));
                    for (int64_t i = first; i < last; i++) {
                        const float *src = job->x +
                                           ((n * g->c + c) * g->h + i + kh - g->padding) * g->w +
                                           j0 - g->padding;
                        const float *dy = job->in + ((n * g->o + o0) * g->oh + i) * g->ow + j0;
                        __m256 d[4];
#pragma GCC unroll 4
                        for (int o = 0; o < B; o++)
                            d[o] = o < count ? _mm256_maskload_ps(dy + o * g->oh * g->ow, out)
                                             : _mm256_setzero_ps();
#pragma GCC unroll 7
                        for (int kw = 0; kw < KW; kw++) {
                            __m256 v = _mm256_maskload_ps(src + kw, mask[kw]);
#pragma GCC unroll 4
                            for (int o = 0; o < B; o++)
                                acc[o][kw] = _mm256_fmadd_ps(d[o], v, acc[o][kw]);
                        }
                    }
                }
#pragma GCC unroll 4
                for (int o = 0; o < B; o++)
#pragma GCC unroll 7
                    for (int kw = 0; kw < KW; kw++)
                        sums[kh][h][o][kw] = acc[o][kw];
            }
        }
    float lanes[16];
    for (int64_t kh = 0; kh < g->kh; kh++)
        for (int o = 0; o < count; o++)
            for (int kw = 0; kw < KW; kw++) {
                _mm256_storeu_ps(lanes, sums[kh][0][o][kw]);
                _mm256_storeu_ps(lanes + 8, sums[kh][1][o][kw]);
                job->out[(((o0 + o) * g->c + c) * g->kh + kh) * g->kw + kw] = lanes_sum16(lanes);
            }
}

/* The output channels of an AVX2 weight-gradient task for a kernel kw wide. */
static int weights_block_avx2(int64_t kw)
{
    return kw <= 2 ? 4 : kw == 3 ? 3 : kw <= 6 ? 2 : 1;
}

/* Task t: the output channels of block t / c, input channel t % c. */
__attribute__((target("avx2,fma"))) static void weights_tasks_avx2(void *ctx, int64_t begin,
                                                                   int64_t end)
{
    const DirectJob *job = ctx;
    const RtConv2d *g = job->g;
    for (int64_t t = begin; t < end; t++) {
        int64_t o0 = t / g->c * job->block, c = t % g->c;
        switch (g->kw) {
        case 1: weights_task_avx2(job, o0, c, 4, 1); break;
        case 2: weights_task_avx2(job, o0, c, 4, 2); break;
        case 3: weights_task_avx2(job, o0, c, 3, 3); break;
        case 4: weights_task_avx2(job, o0, c, 2, 4); break;
        case 5: weights_task_avx2(job, o0, c, 2, 5); break;
        case 6: weights_task_avx2(job, o0, c, 2, 6); break;
        default: weights_task_avx2(job, o0, c, 1, 7); break;
        }
    }
}

void rt_conv_direct_forward(const RtConv2d *g, const float *x, const float *w, float *y)
{
    DirectJob job = {g, x, w, y, block_size(g->o, forward_blocks, 4)};
    bool wide = rt_kernels_isa() == RT_KERNELS_AVX512;
    rt_parallel_for(g->n * ((g->o + job.block - 1) / job.block),
                    wide ? forward_tasks : forward_tasks_avx2, &job);
}

void rt_conv_direct_weights(const RtConv2d *g, const float *x, const float *dy, float *dw)
{
    bool wide = rt_kernels_isa() == RT_KERNELS_AVX512;
    DirectJob job = {g, x, dy, dw,
                     wide ? block_size(g->o, weights_blocks, 2) : weights_block_avx2(g->kw)};
    rt_parallel_for((g->o + job.block - 1) / job.block * g->c,
                    wide ? weights_tasks : weights_tasks_avx2, &job);
}

/* ---- the weight gradient of small convolutions, across output channels ------------------- */

/* LeNet's second layer (6 -> 16 channels, 5x5, 14x14 -> 10x10): rows of 10 outputs would
 * fill 10 lanes of 16, and oneDNN's gradient ran on AVX2 there. Here the 16 lanes are the
 * output channels: dy is first copied to [n, i, j, o] (o padded to 16 with zeros), then
 * for input channel c every (n, i, j) adds dy[n, i, j, :] times each of the KH KW inputs
 * it met, x[n, c, i + kh, j + kw], to the KH KW accumulators of c. One task per input
 * channel, each summing over (n, i, j) in order: independent of the thread count. */

typedef struct AcrossJob {
    const RtConv2d *g;
    const float *x, *dy;
    float *dyt; /* dy as [n, oh, ow, 16] */
    float *dw;
} AcrossJob;

bool rt_conv_across_fits(const RtConv2d *g)
{
    return g->stride == 1 && g->dilation == 1 && g->groups == 1 && g->padding == 0 &&
           g->o <= 16 && g->c <= 16 && g->kh == g->kw && (g->kh == 3 || g->kh == 5) &&
           rt_kernels_isa() >= RT_KERNELS_AVX2;
}

static void across_transpose(void *ctx, int64_t begin, int64_t end)
{
    const AcrossJob *job = ctx;
    const RtConv2d *g = job->g;
    int64_t plane = g->oh * g->ow;
    for (int64_t n = begin; n < end; n++) {
        const float *dy = job->dy + n * g->o * plane;
        float *t = job->dyt + n * plane * 16;
        for (int64_t p = 0; p < plane; p++)
            for (int64_t o = 0; o < 16; o++)
                t[p * 16 + o] = o < g->o ? dy[o * plane + p] : 0;
    }
}

/* dw[:, c, :, :] for a K x K kernel (a constant where inlined: K K accumulators in
 * registers). */
__attribute__((target("avx512f"), always_inline)) static inline void
across_channel(const AcrossJob *job, int64_t c, const int K)
{
    const RtConv2d *g = job->g;
    __m512 acc[25];
#pragma GCC unroll 25
    for (int k = 0; k < K * K; k++)
        acc[k] = _mm512_setzero_ps();
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t i = 0; i < g->oh; i++) {
            const float *d = job->dyt + (n * g->oh + i) * g->ow * 16;
            const float *row = job->x + ((n * g->c + c) * g->h + i) * g->w;
            for (int64_t j = 0; j < g->ow; j++, d += 16, row++) {
                __m512 dv = _mm512_loadu_ps(d);
#pragma GCC unroll 5
                for (int kh = 0; kh < K; kh++)
#pragma GCC unroll 5
                    for (int kw = 0; kw < K; kw++)
                        acc[kh * K + kw] = _mm512_fmadd_ps(
                            dv, _mm512_set1_ps(row[kh * g->w + kw]), acc[kh * K + kw]);
            }
        }
    float lanes[16];
#pragma GCC unroll 25
    for (int k = 0; k < K * K; k++) {
        _mm512_storeu_ps(lanes, acc[k]);
        for (int64_t o = 0; o < g->o; o++)
            job->dw[(o * g->c + c) * K * K + k] = lanes[o];
    }
}

__attribute__((target("avx512f"))) static void across_channels(void *ctx, int64_t begin,
                                                               int64_t end)
{
    const AcrossJob *job = ctx;
    for (int64_t c = begin; c < end; c++) {
        if (job->g->kh == 3)
            across_channel(job, c, 3);
        else
            across_channel(job, c, 5);
    }
}

/* across_channel with the 16 output channels as H vectors of 8 (H = 1 when there are at
 * most 8), one kernel row at a time so that its 2 K accumulators fit in registers: each
 * weight still adds its (n, i, j) terms in order. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
across_channel_avx2(const AcrossJob *job, int64_t c, const int K, const int H)
{
    const RtConv2d *g = job->g;
    for (int kh = 0; kh < K; kh++) {
        __m256 acc[2][5];
#pragma GCC unroll 2
        for (int h = 0; h < H; h++)
#pragma GCC unroll 5
            for (int kw = 0; kw < K; kw++)
                acc[h][kw] = _mm256_setzero_ps();
        for (int64_t n = 0; n < g->n; n++)
            for (int64_t i = 0; i < g->oh; i++) {
                const float *d = job->dyt + (n * g->oh + i) * g->ow * 16;
                const float *row = job->x + ((n * g->c + c) * g->h + i + kh) * g->w;
                for (int64_t j = 0; j < g->ow; j++, d += 16, row++) {
                    __m256 dv[2];
#pragma GCC unroll 2
                    for (int h = 0; h < H; h++)
                        dv[h] = _mm256_loadu_ps(d + 8 * h);
#pragma GCC unroll 5
                    for (int kw = 0; kw < K; kw++) {
                        __m256 xv = _mm256_set1_ps(row[kw]);
#pragma GCC unroll 2
                        for (int h = 0; h < H; h++)
                            acc[h][kw] = _mm256_fmadd_ps(dv[h], xv, acc[h][kw]);
                    }
                }
            }
        float lanes[16];
        for (int kw = 0; kw < K; kw++) {
            for (int h = 0; h < H; h++)
                _mm256_storeu_ps(lanes + 8 * h, acc[h][kw]);
            for (int64_t o = 0; o < g->o; o++)
                job->dw[(o * g->c + c) * K * K + kh * K + kw] = lanes[o];
        }
    }
}

__attribute__((target("avx2,fma"))) static void across_channels_avx2(void *ctx, int64_t begin,
                                                                     int64_t end)
{
    const AcrossJob *job = ctx;
    bool two = job->g->o > 8;
    for (int64_t c = begin; c < end; c++) {
        if (job->g->kh == 3)
            two ? across_channel_avx2(job, c, 3, 2) : across_channel_avx2(job, c, 3, 1);
        else
            two ? across_channel_avx2(job, c, 5, 2) : across_channel_avx2(job, c, 5, 1);
    }
}

void rt_conv_across_weights(const RtConv2d *g, const float *x, const float *dy, float *dw)
{
    /* the copy of dy: grown on first use of a larger geometry, then reused */
    static float *dyt;
    static int64_t capacity;
    int64_t need = g->n * g->oh * g->ow * 16;
    if (need > capacity) {
        rt_free(dyt);
        dyt = rt_alloc(sizeof(float) * (size_t)need);
        capacity = need;
    }
    AcrossJob job = {g, x, dy, dyt, dw};
    rt_parallel_for(g->n, across_transpose, &job);
    rt_parallel_for(g->c, rt_kernels_isa() == RT_KERNELS_AVX512 ? across_channels
                                                                : across_channels_avx2,
                    &job);
}
