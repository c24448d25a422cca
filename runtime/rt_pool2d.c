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
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++)
                y[i * g->ow + j] = x[window_argmax(g, x, i, j)];
    }
}

static void max_backward(void *ctx, int64_t begin, int64_t end)
{
    const PoolJob *job = ctx;
    const RtPool2d *g = job->g;
    for (int64_t p = begin; p < end; p++) {
        const float *x = job->x + p * g->h * g->w;
        const float *dy = job->dy + p * g->oh * g->ow;
        float *dx = job->out + p * g->h * g->w;
        memset(dx, 0, sizeof(float) * (size_t)(g->h * g->w));
        if (g->size == 2 && g->stride == 2) {
            /* windows do not overlap: each gets its dy at its maximum */
            for (int64_t i = 0; i < g->oh; i++) {
                const float *r0 = x + 2 * i * g->w, *r1 = r0 + g->w;
                float *d0 = dx + 2 * i * g->w, *d1 = d0 + g->w;
                for (int64_t j = 0; j < g->ow; j++) {
                    float m = r0[2 * j];
                    float *at = &d0[2 * j];
                    if (r0[2 * j + 1] > m) { m = r0[2 * j + 1]; at = &d0[2 * j + 1]; }
                    if (r1[2 * j] > m) { m = r1[2 * j]; at = &d1[2 * j]; }
                    if (r1[2 * j + 1] > m) at = &d1[2 * j + 1];
                    *at = dy[i * g->ow + j];
                }
            }
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
