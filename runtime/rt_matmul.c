/* rt_matmul.c — dense matrix multiply, delegated to oneDNN's sgemm; oneDNN's thread count.
 *
 * oneDNN's sgemm picks how to share a product among its threads from the thread count,
 * and for some shapes it splits the sum over K: the MLP's first layer at batch 64
 * ([64, 784] x [784, 512]) gave other bits on 2 threads than on 1. So the runtime shares
 * the work itself. A product is cut into parts fixed by its shape alone, rows or columns
 * of C, each part is one sgemm call made on one thread, and the parts run on the pool
 * (rt_parallel_for): every part, and so every value of C, is computed the same way
 * whatever the thread count. A stack of products (rt_matmul_batch_f32) runs its
 * products' parts together. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "rt_internal.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

/* Debian's oneDNN runs its kernels on OpenMP threads, whose number only OpenMP sets. The
 * symbols are looked up rather than linked so that the runtime does not depend on which
 * threading runtime oneDNN was built with: without OpenMP there is nothing to set. */
static struct {
    int (*get_max_threads)(void);
    void (*set_num_threads)(int);
} rt_omp;
static pthread_once_t rt_omp_once = PTHREAD_ONCE_INIT;

static void rt_omp_look_up(void)
{
    rt_omp.get_max_threads = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    rt_omp.set_num_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
}

int32_t rt_dnnl_threads(void)
{
    pthread_once(&rt_omp_once, rt_omp_look_up);
    return rt_omp.get_max_threads ? rt_omp.get_max_threads() : 1;
}

void rt_dnnl_set_threads(int32_t threads)
{
    pthread_once(&rt_omp_once, rt_omp_look_up);
    if (threads > 0 && rt_omp.set_num_threads)
        rt_omp.set_num_threads(threads);
}

/* A product of fewer flops runs as one part: sharing it costs more than it saves. Above,
 * two parts, one per core of the 2-core machine this was measured on (bench/mlp.sh's
 * shapes, batch 16 to 256): 4 or 8 parts were 3% and 10% slower there, and the parts are
 * what fixes the results, so more cores would need more parts and would change bits. */
enum { RT_MATMUL_PARTS = 2, RT_MATMUL_SPLIT_FLOPS = 1 << 19, RT_MATMUL_ALIGN = 16 };

/* One product or a stack of them, cut into parts: part p of product i is index
 * i * parts + p of the pool's range. */
typedef struct RtGemm {
    int64_t M, N, K;
    char ta, tb;
    const float *A, *B;
    float beta;
    float *C;
    int64_t parts;
    int split_rows; /* the parts are rows of C (else columns) */
    int64_t step;   /* rows or columns per part, a multiple of RT_MATMUL_ALIGN */
} RtGemm;

static void rt_gemm_part(const RtGemm *g, int64_t index)
{
    int64_t item = index / g->parts, part = index % g->parts;
    int64_t extent = g->split_rows ? g->M : g->N;
    int64_t first = part * g->step;
    if (first >= extent)
        return;
    int64_t count = extent - first < g->step ? extent - first : g->step;
    dnnl_dim_t lda = g->ta == 'T' ? g->M : g->K;
    dnnl_dim_t ldb = g->tb == 'T' ? g->K : g->N;
    const float *A = g->A + item * g->M * g->K, *B = g->B + item * g->K * g->N;
    float *C = g->C + item * g->M * g->N;
    int64_t M = g->M, N = g->N;
    if (g->split_rows) {
        A += g->ta == 'T' ? first : first * lda;
        C += first * N;
        M = count;
    } else {
        B += g->tb == 'T' ? first * ldb : first;
        C += first;
        N = count;
    }
    dnnl_status_t status =
        dnnl_sgemm(g->ta, g->tb, M, N, g->K, 1.0f, A, lda, B, ldb, g->beta, C, g->N);
    if (status != dnnl_success)
        rt_fatal("matmul of [%" PRId64 ", %" PRId64 "] x [%" PRId64 ", %" PRId64
                 "] failed in oneDNN: %s",
                 g->M, g->K, g->K, g->N, dnnl_status2str(status));
}

static void rt_gemm_parts(void *context, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        rt_gemm_part(context, i);
}

/* How a product of this shape is cut, from the shape alone. The rules are this machine's
 * faster choices: rows when A is transposed (a weight gradient), columns when C is at
 * least twice as wide as tall, rows otherwise; a side shorter than two aligned steps is
 * not cut. */
static void rt_gemm_plan(RtGemm *g)
{
    g->parts = 1;
    g->split_rows = 1;
    g->step = g->M;
    if (2.0 * (double)g->M * (double)g->N * (double)g->K < RT_MATMUL_SPLIT_FLOPS)
        return;
    int rows_fit = g->M >= RT_MATMUL_PARTS * RT_MATMUL_ALIGN;
    int columns_fit = g->N >= RT_MATMUL_PARTS * RT_MATMUL_ALIGN;
    if (rows_fit && (g->ta == 'T' || g->N < 2 * g->M || !columns_fit))
        g->split_rows = 1;
    else if (columns_fit)
        g->split_rows = 0;
    else
        return;
    int64_t extent = g->split_rows ? g->M : g->N;
    int64_t step = (extent + RT_MATMUL_PARTS - 1) / RT_MATMUL_PARTS;
    g->step = (step + RT_MATMUL_ALIGN - 1) / RT_MATMUL_ALIGN * RT_MATMUL_ALIGN;
    g->parts = RT_MATMUL_PARTS;
}

/* Runs every part of `batch` products, oneDNN on one thread per part. OpenMP's count is
 * set to 1 for the length of the call, as in rt_conv.c: the pool's team is as large as
 * the pool asks whatever that count is, and a part run on the calling thread (one part,
 * one thread, or a call from inside a chunk) must not share its product either. */
static void rt_gemm_run(RtGemm *g, int64_t batch)
{
    int64_t n = batch * g->parts;
    (void)rt_cpu_avx512(); /* oneDNN's instruction set is fixed before its first use */
    int32_t threads = rt_dnnl_threads();
    if (threads > 1)
        rt_dnnl_set_threads(1);
    if (n > 1 && 2.0 * (double)batch * (double)g->M * (double)g->N * (double)g->K >=
                     RT_MATMUL_SPLIT_FLOPS)
        rt_parallel_for(n, rt_gemm_parts, g);
    else
        rt_gemm_parts(g, 0, n);
    if (threads > 1)
        rt_dnnl_set_threads(threads);
}

/* C is [M, N]; op(A) is [M, K]; op(B) is [K, N]; everything row-major and contiguous, so
 * each leading dimension is the row length of the matrix as stored:
 *   A stored [M, K] -> lda = K,  stored [K, M] (trans_a) -> lda = M
 *   B stored [K, N] -> ldb = N,  stored [N, K] (trans_b) -> ldb = K
 *   C stored [M, N] -> ldc = N
 * With beta = 0, C is overwritten and never read (as BLAS does). */
void rt_matmul_batch_f32(int64_t batch, int64_t M, int64_t N, int64_t K, int32_t trans_a,
                         int32_t trans_b, const float *A, const float *B, float *C, float beta,
                         const float *C0)
{
    if (M < 0 || N < 0 || K < 0 || batch < 0)
        rt_fatal("matmul with negative size (batch=%" PRId64 ", M=%" PRId64 ", N=%" PRId64
                 ", K=%" PRId64 ")",
                 batch, M, N, K);
    if (batch == 0 || M == 0 || N == 0)
        return;
    size_t count = (size_t)batch * (size_t)M * (size_t)N;
    if (beta != 0.0f && C0 != C)
        memcpy(C, C0, count * sizeof(float));
    if (K == 0) {
        /* An empty sum: oneDNN rejects a zero leading dimension, and the sum is 0. */
        if (beta == 0.0f)
            memset(C, 0, count * sizeof(float));
        else
            for (size_t i = 0; i < count; i++)
                C[i] *= beta;
        return;
    }
    RtGemm g = {.M = M, .N = N, .K = K, .ta = trans_a ? 'T' : 'N', .tb = trans_b ? 'T' : 'N',
                .A = A, .B = B, .beta = beta, .C = C};
    rt_gemm_plan(&g);
    rt_gemm_run(&g, batch);
}

void rt_matmul_acc_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a, int32_t trans_b,
                       const float *A, const float *B, float beta, float *C)
{
    rt_matmul_batch_f32(1, M, N, K, trans_a, trans_b, A, B, C, beta, C);
}

void rt_matmul_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a, int32_t trans_b,
                   const float *A, const float *B, float *C)
{
    rt_matmul_batch_f32(1, M, N, K, trans_a, trans_b, A, B, C, 0.0f, NULL);
}
