/* roofline.c — what this host can do, as references for bench/mlp.sh's GFLOP/s.
 *
 *   roofline peak THREADS      FP32 FMA throughput (GFLOP/s): each thread runs 12
 *                              independent chains of 16-lane fused multiply-adds, enough
 *                              to keep two FMA pipes busy; the median of 5 runs.
 *   roofline mlp-gemms BATCH   ms per training step of bench/mlp.nn's matrix products
 *                              alone, called back to back through oneDNN's sgemm (the
 *                              library nnc's kernels call): the 3 forward products, the 3
 *                              weight gradients and the 2 input gradients nnc computes
 *                              (none for the images). The median of 200 steps.
 *
 * The peak needs AVX-512 (build with -march=native on such a host); without it the
 * program says so and exits with status 2. Usage: see bench/mlp.sh. */
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return v[n / 2];
}

enum { CHAINS = 12, ROUNDS = 50000000 };

#ifdef __AVX512F__
static void *fma_chains(void *out)
{
    __m512 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-7f);
    for (long r = 0; r < ROUNDS; r++)
#pragma GCC unroll 16 /* keeps the chains in registers */
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], scale, shift);
    float sum = 0;
    for (int c = 0; c < CHAINS; c++)
        sum += _mm512_reduce_add_ps(acc[c]);
    *(float *)out = sum; /* keeps the chains alive */
    return NULL;
}

static int peak(int threads)
{
    pthread_t id[64];
    float sink[64];
    double gflops[5];
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "roofline: threads must be 1..64\n");
        return 2;
    }
    for (int run = 0; run < 5; run++) {
        double start = seconds();
        for (int t = 0; t < threads; t++)
            pthread_create(&id[t], NULL, fma_chains, &sink[t]);
        for (int t = 0; t < threads; t++)
            pthread_join(id[t], NULL);
        double flops = 2.0 * 16 * CHAINS * (double)ROUNDS * threads;
        gflops[run] = flops / (seconds() - start) / 1e9;
    }
    printf("%.1f\n", median(gflops, 5));
    return 0;
}
#else
static int peak(int threads)
{
    (void)threads;
    fprintf(stderr, "roofline: built without AVX-512 (use -march=native on an AVX-512 host)\n");
    return 2;
}
#endif

static float *matrix(long rows, long cols)
{
    float *m = malloc((size_t)(rows * cols) * sizeof(float));
    if (m == NULL) {
        fprintf(stderr, "roofline: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < rows * cols; i++)
        m[i] = (float)(i % 7) * 0.01f;
    return m;
}

/* C (m x n) = op(A) op(B), row-major, through oneDNN's sgemm. */
static void gemm(char ta, char tb, long m, long n, long k, const float *a, const float *b,
                 float *c)
{
    dnnl_status_t status = dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, ta == 'N' ? k : m, b,
                                      tb == 'N' ? n : k, 0.0f, c, n);
    if (status != dnnl_success) {
        fprintf(stderr, "roofline: dnnl_sgemm failed (%d)\n", (int)status);
        exit(1);
    }
}

static int mlp_gemms(long batch)
{
    enum { STEPS = 200 };
    if (batch < 1 || batch > 65536) {
        fprintf(stderr, "roofline: batch must be 1..65536\n");
        return 2;
    }
    const long in = 784, h1 = 512, h2 = 256, out = 10;
    float *x = matrix(batch, in), *w1 = matrix(h1, in), *a1 = matrix(batch, h1);
    float *w2 = matrix(h2, h1), *a2 = matrix(batch, h2), *w3 = matrix(out, h2);
    float *y = matrix(batch, out), *dy = matrix(batch, out), *da2 = matrix(batch, h2);
    float *da1 = matrix(batch, h1), *dw1 = matrix(h1, in), *dw2 = matrix(h2, h1);
    float *dw3 = matrix(out, h2);
    double ms[STEPS];
    for (int step = -10; step < STEPS; step++) { /* 10 warm-up steps */
        double start = seconds();
        gemm('N', 'T', batch, h1, in, x, w1, a1);
        gemm('N', 'T', batch, h2, h1, a1, w2, a2);
        gemm('N', 'T', batch, out, h2, a2, w3, y);
        gemm('T', 'N', out, h2, batch, dy, a2, dw3);
        gemm('N', 'N', batch, h2, out, dy, w3, da2);
        gemm('T', 'N', h2, h1, batch, da2, a1, dw2);
        gemm('N', 'N', batch, h1, h2, da2, w2, da1);
        gemm('T', 'N', h1, in, batch, da1, x, dw1);
        if (step >= 0)
            ms[step] = (seconds() - start) * 1e3;
    }
    printf("%.3f\n", median(ms, STEPS));
    float *all[] = {x, w1, a1, w2, a2, w3, y, dy, da2, da1, dw1, dw2, dw3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "peak") == 0)
        return peak(atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "mlp-gemms") == 0)
        return mlp_gemms(atol(argv[2]));
    fprintf(stderr, "usage: roofline peak THREADS | roofline mlp-gemms BATCH\n");
    return 2;
}
