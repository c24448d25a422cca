/* rt_pool2d.c — 2-D max and average pooling and their backward passes, on plain NCHW.
 *
 * Windows are size x size, `stride` apart, without padding (RtPool2d, nnc_rt.h). A window
 * lies inside one (n, c) plane, so each plane is computed by one thread of the runtime's
 * pool from start to end: results do not depend on the number of threads. The rules are
 * the reference evaluator's (compiler/ir/eval.c): a window's maximum is its first maximal
 * element in row-major order (only a strictly greater element replaces the best so far,
 * so a NaN never does unless it comes first); an average is the window's sum, in row-major
 * order, divided by size^2. Backward passes start from zeros and add each dy element to
 * its window (overlapping windows, stride < size, add up). */
#include "rt_internal.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

typedef struct PoolJob {
    const RtPool2d *g;
    const float *x, *dy;
    float *out;
} PoolJob;

/* The offset (in its plane) of the first maximal element of window (i, j). */
static int64_t window_argmax(const RtPool2d *g, const float *plane, int64_t i, int64_t j)
{
    int64_t best = i * g->stride * g->w + j * g->stride;
    for (int64_t kh = 0; kh < g->size; kh++)
        for (int64_t kw = 0; kw < g->size; kw++) {
            int64_t at = (i * g->stride + kh) * g->w + j * g->stride + kw;
            if (plane[at] > plane[best])
                best = at;
        }
    return best;
}

static void max_forward(void *ctx, int64_t begin, int64_t end)
{
    const PoolJob *job = ctx;
    const RtPool2d *g = job->g;
    for (int64_t p = begin; p < end; p++) {
        const float *x = job->x + p * g->h * g->w;
        float *y = job->out + p * g->oh * g->ow;
        if (g->size == 2 && g->stride == 2) {
            /* the common case, written so the compiler vectorizes along the row */
            for (int64_t i = 0; i < g->oh; i++) {
                const float *r0 = x + 2 * i * g->w, *r1 = r0 + g->w;
                for (int64_t j = 0; j < g->ow; j++) {
                    float m = r0[2 * j];
                    m = r0[2 * j + 1] > m ? r0[2 * j + 1] : m;
                    m = r1[2 * j] > m ? r1[2 * j] : m;
                    m = r1[2 * j + 1] > m ? r1[2 * j + 1] : m;
                    y[i * g->ow + j] = m;
                }
            }
            continue;
        }
        if (g->size == 1) { /* every stride-th pixel (ResNet's shortcut) */
            for (int64_t i = 0; i < g->oh; i++)
                for (int64_t j = 0; j < g->ow; j++)
                    y[i * g->ow + j] = x[i * g->stride * g->w + j * g->stride];
            continue;
        }
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++)
                y[i * g->ow + j] = x[window_argmax(g, x, i, j)];
    }
}

/* dx's odd last row and column, which no 2x2 window covers: 0. */
static void max_backward_2x2_edges(const RtPool2d *g, float *dx)
{
    if (g->h > 2 * g->oh)
        memset(dx + 2 * g->oh * g->w, 0, sizeof(float) * (size_t)((g->h - 2 * g->oh) * g->w));
    if (g->w > 2 * g->ow)
        for (int64_t i = 0; i < 2 * g->oh; i++)
            for (int64_t j = 2 * g->ow; j < g->w; j++)
                dx[i * g->w + j] = 0;
}

/* Max-pool backward for 2x2 windows at stride 2 (they do not overlap), for one (n, c)
 * plane, without branches: each window's maximum m is found as the forward pass finds it,
 * then its first element equal to m (or the first, when m is NaN: only a NaN in the first
 * place makes m NaN) receives dy and the other three 0. Sixteen windows of a row pair at
 * a time, each row pair written whole, so dx needs no clearing except an odd last row or
 * column. On random data the branching version mispredicts about half its comparisons
 * and took 7 times as long. */
__attribute__((target("avx512f"))) static void max_backward_2x2_avx512(const RtPool2d *g,
                                                                        const float *x,
                                                                        const float *dy,
                                                                        float *dx)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                          2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5,
                                         3, 1);
    /* interleave two vectors a, b as a0 b0 a1 b1 ...: the first 16, then the last 16 */
    const __m512i zip_lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                            16, 0);
    const __m512i zip_hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10,
                                            25, 9, 24, 8);
    for (int64_t i = 0; i < g->oh; i++) {
        const float *r0 = x + 2 * i * g->w, *r1 = r0 + g->w, *grad = dy + i * g->ow;
        float *d0 = dx + 2 * i * g->w, *d1 = d0 + g->w;
        for (int64_t j = 0; j < g->ow; j += 16) {
            int64_t n = g->ow - j < 16 ? g->ow - j : 16;
            __mmask16 k_out = (__mmask16)((1u << n) - 1);
            __mmask16 k_lo = (__mmask16)(n >= 8 ? 0xffffu : (1u << 2 * n) - 1);
            __mmask16 k_hi = (__mmask16)(n > 8 ? (1u << (2 * n - 16)) - 1 : 0);
            __m512 lo0 = _mm512_maskz_loadu_ps(k_lo, r0 + 2 * j);
            __m512 hi0 = _mm512_maskz_loadu_ps(k_hi, r0 + 2 * j + 16);
            __m512 lo1 = _mm512_maskz_loadu_ps(k_lo, r1 + 2 * j);
            __m512 hi1 = _mm512_maskz_loadu_ps(k_hi, r1 + 2 * j + 16);
            __m512 a = _mm512_permutex2var_ps(lo0, even, hi0);
            __m512 b = _mm512_permutex2var_ps(lo0, odd, hi0);
            __m512 c = _mm512_permutex2var_ps(lo1, even, hi1);
            __m512 d = _mm512_permutex2var_ps(lo1, odd, hi1);
            __m512 m = a;
            m = _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(b, m, _CMP_GT_OQ), b);
            m = _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(c, m, _CMP_GT_OQ), c);
            m = _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(d, m, _CMP_GT_OQ), d);
            __mmask16 at_a = (__mmask16)~_mm512_cmp_ps_mask(m, a, _CMP_GT_OQ);
            __mmask16 at_b = (__mmask16)(~at_a & _mm512_cmp_ps_mask(b, m, _CMP_EQ_OQ));
            __mmask16 at_c = (__mmask16)(~(at_a | at_b) & _mm512_cmp_ps_mask(c, m, _CMP_EQ_OQ));
            __mmask16 at_d = (__mmask16)~(at_a | at_b | at_c);
            __m512 gv = _mm512_maskz_loadu_ps(k_out, grad + j);
            __m512 ga = _mm512_maskz_mov_ps(at_a, gv), gb = _mm512_maskz_mov_ps(at_b, gv);
            __m512 gc = _mm512_maskz_mov_ps(at_c, gv), gd = _mm512_maskz_mov_ps(at_d, gv);
            _mm512_mask_storeu_ps(d0 + 2 * j, k_lo, _mm512_permutex2var_ps(ga, zip_lo, gb));
            _mm512_mask_storeu_ps(d0 + 2 * j + 16, k_hi, _mm512_permutex2var_ps(ga, zip_hi, gb));
            _mm512_mask_storeu_ps(d1 + 2 * j, k_lo, _mm512_permutex2var_ps(gc, zip_lo, gd));
            _mm512_mask_storeu_ps(d1 + 2 * j + 16, k_hi, _mm512_permutex2var_ps(gc, zip_hi, gd));
        }
    }
    max_backward_2x2_edges(g, dx);
}

/* max_backward_2x2_avx512 with eight windows at a time: the same comparisons, so the same
 * element of each window receives dy. The rows are split into even and odd elements by a
 * shuffle within 128-bit halves and a permutation of 64-bit quarters, and zipped back by
 * their inverses. */
__attribute__((target("avx2"))) static void max_backward_2x2_avx2(const RtPool2d *g,
                                                                  const float *x,
                                                                  const float *dy, float *dx)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t i = 0; i < g->oh; i++) {
        const float *r0 = x + 2 * i * g->w, *r1 = r0 + g->w, *grad = dy + i * g->ow;
        float *d0 = dx + 2 * i * g->w, *d1 = d0 + g->w;
        for (int64_t j = 0; j < g->ow; j += 8) {
            int n = g->ow - j < 8 ? (int)(g->ow - j) : 8;
            /* the windows j .. j + n, and their 2 n elements of a row: 8 in each half */
            __m256i k_out = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
            __m256i k_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * n), lane);
            __m256i k_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * n - 8), lane);
            __m256 lo0 = _mm256_maskload_ps(r0 + 2 * j, k_lo);
            __m256 hi0 = _mm256_maskload_ps(r0 + 2 * j + 8, k_hi);
            __m256 lo1 = _mm256_maskload_ps(r1 + 2 * j, k_lo);
            __m256 hi1 = _mm256_maskload_ps(r1 + 2 * j + 8, k_hi);
            /* shuffle: windows 0 1 4 5 2 3 6 7; the permutation puts them in order */
#define EVEN(lo, hi)                                                                               \
    _mm256_castpd_ps(_mm256_permute4x64_pd(                                                        \
        _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), 0xd8))
#define ODD(lo, hi)                                                                                \
    _mm256_castpd_ps(_mm256_permute4x64_pd(                                                        \
        _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))), 0xd8))
            __m256 a = EVEN(lo0, hi0), b = ODD(lo0, hi0);
            __m256 c = EVEN(lo1, hi1), d = ODD(lo1, hi1);
#undef EVEN
#undef ODD
            __m256 m = a;
            m = _mm256_blendv_ps(m, b, _mm256_cmp_ps(b, m, _CMP_GT_OQ));
            m = _mm256_blendv_ps(m, c, _mm256_cmp_ps(c, m, _CMP_GT_OQ));
            m = _mm256_blendv_ps(m, d, _mm256_cmp_ps(d, m, _CMP_GT_OQ));
            /* masks as all-ones lanes: at_a = not (m > a), and so on as there */
            __m256 at_a = _mm256_cmp_ps(m, a, _CMP_NGT_UQ);
            __m256 at_b = _mm256_andnot_ps(at_a, _mm256_cmp_ps(b, m, _CMP_EQ_OQ));
            __m256 at_c = _mm256_andnot_ps(_mm256_or_ps(at_a, at_b), _mm256_cmp_ps(c, m, _CMP_EQ_OQ));
            __m256 at_d = _mm256_andnot_ps(_mm256_or_ps(_mm256_or_ps(at_a, at_b), at_c),
                                           _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
            __m256 gv = _mm256_maskload_ps(grad + j, k_out);
            __m256 ga = _mm256_and_ps(at_a, gv), gb = _mm256_and_ps(at_b, gv);
            __m256 gc = _mm256_and_ps(at_c, gv), gd = _mm256_and_ps(at_d, gv);
            /* unpack: a0 b0 a1 b1 | a4 b4 a5 b5 and a2 b2 a3 b3 | a6 b6 a7 b7 */
            __m256 ab_lo = _mm256_unpacklo_ps(ga, gb), ab_hi = _mm256_unpackhi_ps(ga, gb);
            __m256 cd_lo = _mm256_unpacklo_ps(gc, gd), cd_hi = _mm256_unpackhi_ps(gc, gd);
            __m256 out[4] = {_mm256_permute2f128_ps(ab_lo, ab_hi, 0x20),
                             _mm256_permute2f128_ps(ab_lo, ab_hi, 0x31),
                             _mm256_permute2f128_ps(cd_lo, cd_hi, 0x20),
                             _mm256_permute2f128_ps(cd_lo, cd_hi, 0x31)};
            if (n == 8) {
                _mm256_storeu_ps(d0 + 2 * j, out[0]);
                _mm256_storeu_ps(d0 + 2 * j + 8, out[1]);
                _mm256_storeu_ps(d1 + 2 * j, out[2]);
                _mm256_storeu_ps(d1 + 2 * j + 8, out[3]);
            } else {
                _mm256_maskstore_ps(d0 + 2 * j, k_lo, out[0]);
                _mm256_maskstore_ps(d0 + 2 * j + 8, k_hi, out[1]);
                _mm256_maskstore_ps(d1 + 2 * j, k_lo, out[2]);
                _mm256_maskstore_ps(d1 + 2 * j + 8, k_hi, out[3]);
            }
        }
    }
    max_backward_2x2_edges(g, dx);
}

static void max_backward(void *ctx, int64_t begin, int64_t end)
{
    const PoolJob *job = ctx;
    const RtPool2d *g = job->g;
    RtKernelIsa isa = g->size == 2 && g->stride == 2 ? rt_kernels_isa() : RT_KERNELS_BASELINE;
    for (int64_t p = begin; p < end; p++) {
        const float *x = job->x + p * g->h * g->w;
        const float *dy = job->dy + p * g->oh * g->ow;
        float *dx = job->out + p * g->h * g->w;
        if (isa == RT_KERNELS_AVX512) {
            max_backward_2x2_avx512(g, x, dy, dx);
            continue;
        }
        if (isa == RT_KERNELS_AVX2) {
            max_backward_2x2_avx2(g, x, dy, dx);
            continue;
        }
        memset(dx, 0, sizeof(float) * (size_t)(g->h * g->w));
        if (g->size == 1) { /* windows of one pixel: 0 + dy, as below (0 + -0 is +0) */
            for (int64_t i = 0; i < g->oh; i++)
                for (int64_t j = 0; j < g->ow; j++)
                    dx[i * g->stride * g->w + j * g->stride] += dy[i * g->ow + j];
            continue;
        }
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++)
                dx[window_argmax(g, x, i, j)] += dy[i * g->ow + j];
    }
}

static void avg_forward(void *ctx, int64_t begin, int64_t end)
{
    const PoolJob *job = ctx;
    const RtPool2d *g = job->g;
    float count = (float)(g->size * g->size);
    for (int64_t p = begin; p < end; p++) {
        const float *x = job->x + p * g->h * g->w;
        float *y = job->out + p * g->oh * g->ow;
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++) {
                float sum = 0;
                for (int64_t kh = 0; kh < g->size; kh++)
                    for (int64_t kw = 0; kw < g->size; kw++)
                        sum += x[(i * g->stride + kh) * g->w + j * g->stride + kw];
                y[i * g->ow + j] = sum / count;
            }
    }
}

static void avg_backward(void *ctx, int64_t begin, int64_t end)
{
    const PoolJob *job = ctx;
    const RtPool2d *g = job->g;
    float count = (float)(g->size * g->size);
    for (int64_t p = begin; p < end; p++) {
        const float *dy = job->dy + p * g->oh * g->ow;
        float *dx = job->out + p * g->h * g->w;
        memset(dx, 0, sizeof(float) * (size_t)(g->h * g->w));
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++) {
                float share = dy[i * g->ow + j] / count;
                for (int64_t kh = 0; kh < g->size; kh++)
                    for (int64_t kw = 0; kw < g->size; kw++)
                        dx[(i * g->stride + kh) * g->w + j * g->stride + kw] += share;
            }
    }
}

static void run(const RtPool2d *g, RtRangeFn fn, const float *x, const float *dy, float *out)
{
    PoolJob job = {g, x, dy, out};
    rt_parallel_for(g->n * g->c, fn, &job);
}

void rt_max_pool2d_f32(const RtPool2d *g, const float *x, float *y)
{
    run(g, max_forward, x, NULL, y);
}

void rt_max_pool2d_backward_f32(const RtPool2d *g, const float *x, const float *dy, float *dx)
{
    run(g, max_backward, x, dy, dx);
}

void rt_avg_pool2d_f32(const RtPool2d *g, const float *x, float *y)
{
    run(g, avg_forward, x, NULL, y);
}

void rt_avg_pool2d_backward_f32(const RtPool2d *g, const float *dy, float *dx)
{
    run(g, avg_backward, NULL, dy, dx);
}
