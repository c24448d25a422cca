/* test_rt_kernels.c — the runtime's own vector kernels on AVX2 and on AVX-512: the direct
 * convolution (forward and weight gradient, rt_conv_direct.c), the weight gradient across
 * output channels (same file), max-pool backward for 2x2 windows (rt_pool2d.c) and the
 * conversion of image bytes (rt_data.c).
 *
 * rt_kernels_cap forces a path. For each kernel and a set of shapes (widths that are not
 * a multiple of 8 or 16, padding, 1 to 4 input channels, kernels 1 to 7 wide; odd sizes;
 * tails) the AVX2 path is compared with a naive reference, and, where the host has
 * AVX-512, with the AVX-512 path bit for bit: the results must not depend on the ISA.
 * On a host without AVX2 and FMA there is nothing to test; the program says so. */
#include "rt_internal.h"
#include "rt_test.h"

#include <inttypes.h>
#include <math.h>

/* ---- inputs ------------------------------------------------------------------------------ */

static uint64_t lcg_state = 12345;

/* Uniform in [-1, 1), a multiple of 2^-20 (exact in f32). */
static float random_value(void)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return (float)((int64_t)(lcg_state >> 43) - (1 << 20)) / (float)(1 << 20);
}

static float *random_array(int64_t count)
{
    float *a = malloc(sizeof(float) * (size_t)(count + 1));
    for (int64_t i = 0; i < count; i++)
        a[i] = random_value();
    return a;
}

/* A block of count floats filled with a pattern the kernels must overwrite. */
static float *poisoned(int64_t count)
{
    float *a = malloc(sizeof(float) * (size_t)(count + 1));
    for (int64_t i = 0; i < count; i++)
        a[i] = -12345.0f;
    return a;
}

static int64_t conv_out(int64_t size, int64_t k, int64_t padding)
{
    return size + 2 * padding - k + 1;
}

static RtConv2d conv_geometry(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh,
                              int64_t kw, int64_t padding)
{
    RtConv2d g = {n, c, h, w, o, kh, kw, conv_out(h, kh, padding), conv_out(w, kw, padding),
                  1, padding, 1, 1, 0};
    return g;
}

/* ---- comparisons ----------------------------------------------------------------------- */

/* An f32 sum of m products (fused multiply-adds into partial sums, at most 4 more
 * additions to combine them) is within (m + 4) u S of the exact sum, u = 2^-24 and S the
 * sum of the products' magnitudes, whatever the order (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., §4.2): the tolerance, with the reference summed in
 * double (its own error, below m 2^-53 S, is negligible).
 * One term wrong by a typical product (S / m) is caught while m (m + 4) u < 1, m < 4000;
 * the largest m here is 2 * 33 * 33. The worst error in units of u S is printed. */
typedef struct Worst {
    double units; /* max |got - exact| / (u S) */
    double abs;   /* max |got - exact| */
} Worst;

static int close_enough(float got, double exact, double magnitude, int64_t terms, Worst *worst)
{
    double u = ldexp(1.0, -24), diff = fabs((double)got - exact);
    double units = magnitude > 0 ? diff / (u * magnitude) : (diff > 0 ? INFINITY : 0);
    if (units > worst->units)
        worst->units = units;
    if (diff > worst->abs)
        worst->abs = diff;
    return diff <= (double)(terms + 4) * u * magnitude;
}

static int same_bits(const float *a, const float *b, int64_t count)
{
    return memcmp(a, b, sizeof(float) * (size_t)count) == 0;
}

static int host_avx2(void)
{
    rt_kernels_cap = RT_KERNELS_AVX2;
    int ok = rt_kernels_isa() == RT_KERNELS_AVX2;
    rt_kernels_cap = RT_KERNELS_AVX512;
    return ok;
}

static int host_avx512(void)
{
    return rt_kernels_isa() == RT_KERNELS_AVX512;
}

/* ---- direct convolution (at most 4 input channels) ------------------------------------- */

/* y[n, o, i, j] = sum over (c, kh, kw) of x[n, c, i + kh - p, j + kw - p] w[o, c, kh, kw]
 * (x outside the image is 0); with the magnitudes and term counts for the tolerance. */
static void reference_forward(const RtConv2d *g, const float *x, const float *w, double *y,
                              double *mag)
{
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->o; o++)
            for (int64_t i = 0; i < g->oh; i++)
                for (int64_t j = 0; j < g->ow; j++) {
                    double sum = 0, abs = 0;
                    for (int64_t c = 0; c < g->c; c++)
                        for (int64_t kh = 0; kh < g->kh; kh++)
                            for (int64_t kw = 0; kw < g->kw; kw++) {
                                int64_t r = i + kh - g->padding, s = j + kw - g->padding;
                                if (r < 0 || r >= g->h || s < 0 || s >= g->w)
                                    continue;
                                double t = (double)x[((n * g->c + c) * g->h + r) * g->w + s] *
                                           w[((o * g->c + c) * g->kh + kh) * g->kw + kw];
                                sum += t;
                                abs += fabs(t);
                            }
                    int64_t at = ((n * g->o + o) * g->oh + i) * g->ow + j;
                    y[at] = sum;
                    mag[at] = abs;
                }
}

/* dw[o, c, kh, kw] = sum over (n, i, j) of dy[n, o, i, j] x[n, c, i + kh - p, j + kw - p]. */
static void reference_weights(const RtConv2d *g, const float *x, const float *dy, double *dw,
                              double *mag)
{
    for (int64_t o = 0; o < g->o; o++)
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t kh = 0; kh < g->kh; kh++)
                for (int64_t kw = 0; kw < g->kw; kw++) {
                    double sum = 0, abs = 0;
                    for (int64_t n = 0; n < g->n; n++)
                        for (int64_t i = 0; i < g->oh; i++)
                            for (int64_t j = 0; j < g->ow; j++) {
                                int64_t r = i + kh - g->padding, s = j + kw - g->padding;
                                if (r < 0 || r >= g->h || s < 0 || s >= g->w)
                                    continue;
                                double t = (double)dy[((n * g->o + o) * g->oh + i) * g->ow + j] *
                                           x[((n * g->c + c) * g->h + r) * g->w + s];
                                sum += t;
                                abs += fabs(t);
                            }
                    int64_t at = ((o * g->c + c) * g->kh + kh) * g->kw + kw;
                    dw[at] = sum;
                    mag[at] = abs;
                }
}

typedef void (*ConvFn)(const RtConv2d *g, const float *a, const float *b, float *out);
typedef bool (*FitsFn)(const RtConv2d *g);
typedef void (*ReferenceFn)(const RtConv2d *g, const float *a, const float *b, double *out,
                            double *mag);

typedef struct ConvKernel {
    const char *name;
    FitsFn fits;
    ConvFn run;
    ReferenceFn reference;
    int weights; /* the output is dw (else y); the inputs are x and dy (else x and w) */
} ConvKernel;

/* One geometry: the AVX2 path (it must be taken) against the reference, and against the
 * AVX-512 path bit for bit where the host has it. */
static void check_conv(const ConvKernel *k, const RtConv2d *g, int avx512, Worst *worst)
{
    int64_t xs = g->n * g->c * g->h * g->w, ys = g->n * g->o * g->oh * g->ow;
    int64_t ws = g->o * g->c * g->kh * g->kw, outs = k->weights ? ws : ys;
    int64_t terms = k->weights ? g->n * g->oh * g->ow : g->c * g->kh * g->kw;
    float *x = random_array(xs), *b = random_array(k->weights ? ys : ws);
    float *narrow = poisoned(outs), *wide = poisoned(outs);
    double *exact = malloc(sizeof(double) * (size_t)outs), *mag = malloc(sizeof(double) * (size_t)outs);
    k->reference(g, x, b, exact, mag);
    rt_kernels_cap = RT_KERNELS_AVX2;
    int fits = k->fits(g);
    k->run(g, x, b, narrow);
    rt_kernels_cap = RT_KERNELS_AVX512;
    int ok = 1;
    for (int64_t i = 0; i < outs; i++)
        ok &= close_enough(narrow[i], exact[i], mag[i], terms, worst);
    char shape[160];
    snprintf(shape, sizeof shape,
             "n %" PRId64 " c %" PRId64 " %" PRId64 "x%" PRId64 " -> o %" PRId64 " kernel %" PRId64
             "x%" PRId64 " padding %" PRId64,
             g->n, g->c, g->h, g->w, g->o, g->kh, g->kw, g->padding);
    recordf(fits, "%s: AVX2 takes %s", k->name, shape);
    recordf(ok, "%s: AVX2 = reference within (m + 4) u S, %s", k->name, shape);
    if (avx512) {
        k->run(g, x, b, wide);
        recordf(same_bits(narrow, wide, outs), "%s: AVX2 = AVX-512 bit for bit, %s", k->name,
                shape);
    }
    free(x);
    free(b);
    free(narrow);
    free(wide);
    free(exact);
    free(mag);
}

static void test_direct(int avx512)
{
    static const int64_t widths[] = {1, 5, 8, 13, 16, 17, 28, 33};
    static const int64_t outs[] = {1, 4, 6, 7, 12, 13, 16};
    const ConvKernel kernels[2] = {
        {"direct forward", rt_conv_direct_fits, rt_conv_direct_forward, reference_forward, 0},
        {"direct weights", rt_conv_direct_fits, rt_conv_direct_weights, reference_weights, 1},
    };
    for (int which = 0; which < 2; which++) {
        const ConvKernel *k = &kernels[which];
        Worst worst = {0, 0};
        int index = 0;
        for (int64_t c = 1; c <= 4; c++)
            for (int64_t size = 1; size <= 7; size++)
                for (int64_t pad = 0; pad < size; pad += size / 2 > 0 ? size / 2 : 1, index++) {
                    int64_t w = widths[index % 8] + size - 1;
                    int64_t h = widths[(index + 3) % 8] % 9 + size;
                    RtConv2d g = conv_geometry(1 + index % 2, c, h, w, outs[index % 7], size,
                                               size, pad);
                    check_conv(k, &g, avx512, &worst);
                }
        /* kernels that are not square, and images narrower than the padded kernel */
        RtConv2d odd[] = {conv_geometry(2, 3, 9, 21, 6, 3, 5, 2),
                          conv_geometry(1, 2, 11, 17, 5, 7, 1, 3),
                          conv_geometry(2, 1, 6, 3, 8, 2, 7, 3),
                          conv_geometry(3, 1, 28, 28, 6, 5, 5, 2)}; /* LeNet's first layer */
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
            check_conv(k, &odd[i], avx512, &worst);
        printf("%s: AVX2 against the reference: max |diff| %.3g, %.3g u S\n", k->name, worst.abs,
               worst.units);
    }
}

/* ---- the weight gradient across output channels ----------------------------------------- */

static void test_across(int avx512)
{
    const ConvKernel k = {"across weights", rt_conv_across_fits, rt_conv_across_weights,
                          reference_weights, 1};
    static const int64_t channels[] = {1, 3, 6, 16};
    static const int64_t outs[] = {1, 6, 8, 9, 16};
    static const int64_t widths[] = {5, 10, 14, 19};
    Worst worst = {0, 0};
    int index = 0;
    for (int64_t size = 3; size <= 5; size += 2)
        for (int ci = 0; ci < 4; ci++)
            for (int oi = 0; oi < 5; oi++, index++) {
                int64_t w = widths[index % 4] + size - 1, h = widths[(index + 1) % 4] % 7 + size;
                RtConv2d g = conv_geometry(1 + index % 3, channels[ci], h, w, outs[oi], size, size,
                                           0);
                check_conv(&k, &g, avx512, &worst);
            }
    RtConv2d lenet = conv_geometry(4, 6, 14, 14, 16, 5, 5, 0); /* LeNet's second layer */
    check_conv(&k, &lenet, avx512, &worst);
    printf("%s: AVX2 against the reference: max |diff| %.3g, %.3g u S\n", k.name, worst.abs,
           worst.units);
}

/* ---- max-pool backward, 2x2 windows at stride 2 ------------------------------------------- */

/* dx = 0 but dy at each window's first maximal element (row-major; only a greater element
 * replaces the best, so a NaN wins only in first place): exact, a selection. */
static void reference_max_backward(const RtPool2d *g, const float *x, const float *dy, float *dx)
{
    memset(dx, 0, sizeof(float) * (size_t)(g->n * g->c * g->h * g->w));
    for (int64_t p = 0; p < g->n * g->c; p++)
        for (int64_t i = 0; i < g->oh; i++)
            for (int64_t j = 0; j < g->ow; j++) {
                const float *plane = x + p * g->h * g->w;
                int64_t best = 2 * i * g->w + 2 * j;
                for (int64_t kh = 0; kh < 2; kh++)
                    for (int64_t kw = 0; kw < 2; kw++) {
                        int64_t at = (2 * i + kh) * g->w + 2 * j + kw;
                        if (plane[at] > plane[best])
                            best = at;
                    }
                dx[p * g->h * g->w + best] = dy[(p * g->oh + i) * g->ow + j];
            }
}

static void test_max_pool_backward(int avx512)
{
    static const int64_t sizes[] = {2, 3, 4, 5, 7, 16, 17, 31, 32, 33, 35};
    for (int hi = 0; hi < 11; hi++)
        for (int wi = 0; wi < 11; wi++) {
            int64_t h = sizes[hi], w = sizes[wi];
            RtPool2d g = {1, 3, h, w, h / 2, w / 2, 2, 2};
            int64_t xs = 3 * h * w, ys = 3 * (h / 2) * (w / 2);
            float *x = malloc(sizeof(float) * (size_t)xs), *dy = random_array(ys);
            for (int64_t i = 0; i < xs; i++) { /* 0, 1 or 2, so windows have ties; 5% NaN */
                float v = random_value();
                x[i] = v < -0.9f ? NAN : (float)(int)((v + 1) * 1.5f);
            }
            for (int64_t i = 0; i < ys; i++)
                dy[i] = dy[i] == 0 ? 1.0f : dy[i]; /* the reference writes dy; no -0 */
            float *exact = malloc(sizeof(float) * (size_t)xs);
            float *narrow = poisoned(xs), *wide = poisoned(xs);
            reference_max_backward(&g, x, dy, exact);
            rt_kernels_cap = RT_KERNELS_AVX2;
            rt_max_pool2d_backward_f32(&g, x, dy, narrow);
            rt_kernels_cap = RT_KERNELS_AVX512;
            recordf(same_bits(narrow, exact, xs), "max-pool backward: AVX2 = reference, %" PRId64
                    "x%" PRId64, h, w);
            if (avx512) {
                rt_max_pool2d_backward_f32(&g, x, dy, wide);
                recordf(same_bits(narrow, wide, xs), "max-pool backward: AVX2 = AVX-512 bit for "
                        "bit, %" PRId64 "x%" PRId64, h, w);
            }
            free(x);
            free(dy);
            free(exact);
            free(narrow);
            free(wide);
        }
}

/* ---- bytes to floats ---------------------------------------------------------------------- */

/* Samples of 1 to 40 and 100 bytes (blocks of 8 and 16 and every tail), read through a
 * dataset of bytes: each value must be the byte times the f32 1 / 255, exactly. */
static void test_bytes(int avx512)
{
    for (int64_t size = 1; size <= 100; size = size == 40 ? 100 : size + 1) {
        enum { COUNT = 3 };
        uint8_t *bytes = rt_alloc((size_t)(COUNT * size));
        for (int64_t i = 0; i < COUNT * size; i++)
            bytes[i] = (uint8_t)((37 * i + size) % 256);
        RtDataset *ds = rt_dataset_from_bytes("bytes", COUNT, 1, &size, bytes, bytes,
                                              rt_alloc_zeroed(COUNT, sizeof(int32_t)));
        float narrow[100], wide[100];
        int32_t label;
        int ok = 1, same = 1;
        for (int64_t s = 0; s < COUNT; s++) {
            rt_kernels_cap = RT_KERNELS_AVX2;
            rt_dataset_get(ds, s, narrow, &label);
            rt_kernels_cap = RT_KERNELS_AVX512;
            for (int64_t j = 0; j < size; j++)
                ok &= narrow[j] == (float)bytes[s * size + j] * (1.0f / 255.0f);
            if (avx512) {
                rt_dataset_get(ds, s, wide, &label);
                same &= same_bits(narrow, wide, size);
            }
        }
        recordf(ok, "bytes: AVX2 = byte * (1 / 255), %" PRId64 " a sample", size);
        recordf(same, "bytes: AVX2 = AVX-512 bit for bit, %" PRId64 " a sample", size);
        rt_dataset_free(ds);
    }
}

int main(void)
{
    if (!host_avx2()) {
        printf("this CPU has no AVX2 and FMA: the AVX2 kernels are not used here\n");
        return finish();
    }
    int avx512 = host_avx512();
    printf("AVX2 paths against the reference%s\n",
           avx512 ? " and against the AVX-512 paths" : " (no AVX-512 here, or NNC_ISA=avx2)");
    rt_pool_set_threads(2);
    test_direct(avx512);
    test_across(avx512);
    test_max_pool_backward(avx512);
    test_bytes(avx512);
    rt_pool_set_threads(0);
    return finish();
}
