/* rt_matmul.c — dense matrix multiply, delegated to oneDNN's sgemm; oneDNN's thread count. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "rt_internal.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

/* C is [M, N]; op(A) is [M, K]; op(B) is [K, N]; everything row-major and contiguous, so
 * each leading dimension is the row length of the matrix as stored:
 *   A stored [M, K] -> lda = K,  stored [K, M] (trans_a) -> lda = M
 *   B stored [K, N] -> ldb = N,  stored [N, K] (trans_b) -> ldb = K
 *   C stored [M, N] -> ldc = N
 * With beta = 0, C is overwritten and never read (as BLAS does). */
void rt_matmul_acc_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a, int32_t trans_b,
                       const float *A, const float *B, float beta, float *C)
{
    if (M < 0 || N < 0 || K < 0)
        rt_fatal("matmul with negative size (M=%" PRId64 ", N=%" PRId64 ", K=%" PRId64 ")",
                 M, N, K);
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        /* An empty sum: oneDNN rejects a zero leading dimension, and the sum is 0. */
        size_t count = (size_t)M * (size_t)N;
        if (beta == 0.0f)
            memset(C, 0, count * sizeof(float));
        else
            for (size_t i = 0; i < count; i++)
                C[i] *= beta;
        return;
    }

    dnnl_dim_t lda = trans_a ? M : K;
    dnnl_dim_t ldb = trans_b ? K : N;
    dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K,
                                      1.0f, A, lda, B, ldb, beta, C, N);
    if (status != dnnl_success)
        rt_fatal("matmul of [%" PRId64 ", %" PRId64 "] x [%" PRId64 ", %" PRId64
                 "] failed in oneDNN: %s",
                 M, K, K, N, dnnl_status2str(status));
}

void rt_matmul_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a, int32_t trans_b,
                   const float *A, const float *B, float *C)
{
    rt_matmul_acc_f32(M, N, K, trans_a, trans_b, A, B, 0.0f, C);
}

void rt_matmul_batch_f32(int64_t batch, int64_t M, int64_t N, int64_t K, int32_t trans_a,
                         int32_t trans_b, const float *A, const float *B, float *C, float beta,
                         const float *C0)
{
    if (beta != 0.0f && C0 != C && batch > 0 && M > 0 && N > 0)
        memcpy(C, C0, (size_t)batch * (size_t)M * (size_t)N * sizeof(float));
    for (int64_t i = 0; i < batch; i++)
        rt_matmul_acc_f32(M, N, K, trans_a, trans_b, A + i * M * K, B + i * K * N, beta,
                          C + i * M * N);
}

/* Debian's oneDNN runs its kernels on OpenMP threads, whose number only OpenMP sets. The
 * symbol is looked up rather than linked so that the runtime does not depend on which
 * threading runtime oneDNN was built with: without OpenMP there is nothing to set. */
int32_t rt_dnnl_threads(void)
{
    int (*get_max_threads)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    return get_max_threads ? get_max_threads() : 1;
}

void rt_dnnl_set_threads(int32_t threads)
{
    if (threads <= 0)
        return;
    void (*set_num_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (set_num_threads)
        set_num_threads(threads);
}
