/* test_rt_print.c — unit test of the runtime's tensor print format (a golden format the
 * JIT, AOT executables and reference evaluator all share) and of rt_matmul_f32.
 * Prints one line per failure, then "N passed, M failed"; exits non-zero on any failure. */
#define _GNU_SOURCE /* open_memstream */
#include "nnc_rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tests_passed;
static int tests_failed;

static void record(int ok, const char *name)
{
    if (ok) {
        tests_passed++;
    } else {
        tests_failed++;
        printf("FAIL %s\n", name);
    }
}

/* ---- printing ----------------------------------------------------------------------- */

/* Formats the tensor with rt_fprint_f64 into memory; the caller frees the text. */
static char *format_tensor(const double *data, int32_t rank, const int64_t *dims)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    if (!stream) {
        perror("open_memstream");
        exit(2);
    }
    rt_fprint_f64(stream, "f64", data, rank, dims);
    fclose(stream);
    return text;
}

static void check_print(const char *name, const double *data, int32_t rank,
                        const int64_t *dims, const char *expected)
{
    char *text = format_tensor(data, rank, dims);
    int ok = strcmp(text, expected) == 0;
    record(ok, name);
    if (!ok)
        printf("--- expected:\n%s--- got:\n%s---\n", expected, text);
    free(text);
}

/* Fills data[0..count) with 0, 1, 2, ... so each element names its own flat index. */
static double *iota(int64_t count)
{
    double *data = malloc((size_t)count * sizeof(double));
    for (int64_t i = 0; i < count; i++)
        data[i] = (double)i;
    return data;
}

static void test_small_shapes(void)
{
    double pi = 3.14159265358979;
    check_print("scalar", &pi, 0, NULL, "f64[]\n3.142\n");
    double negative_zero = -0.0;
    check_print("scalar negative zero", &negative_zero, 0, NULL, "f64[]\n-0\n");

    double one[] = {7};
    check_print("rank 1, one element", one, 1, (int64_t[]){1}, "f64[1]\n[7]\n");
    double three[] = {1, 2, 3};
    check_print("rank 1", three, 1, (int64_t[]){3}, "f64[3]\n[1, 2, 3]\n");

    double matrix[] = {1, 2, 3, 4, 5, 6};
    check_print("rank 2", matrix, 2, (int64_t[]){2, 3},
                "f64[2, 3]\n"
                "[[1, 2, 3],\n"
                " [4, 5, 6]]\n");
    check_print("rank 2, one column", matrix, 2, (int64_t[]){3, 1},
                "f64[3, 1]\n"
                "[[1],\n"
                " [2],\n"
                " [3]]\n");

    double cube[] = {1, 2, 3, 4, 5, 6, 7, 8};
    check_print("rank 3", cube, 3, (int64_t[]){2, 2, 2},
                "f64[2, 2, 2]\n"
                "[[[1, 2],\n"
                "  [3, 4]],\n"
                "\n"
                " [[5, 6],\n"
                "  [7, 8]]]\n");
    check_print("rank 4", cube, 4, (int64_t[]){2, 1, 2, 2},
                "f64[2, 1, 2, 2]\n"
                "[[[[1, 2],\n"
                "   [3, 4]]],\n"
                "\n"
                "\n"
                " [[[5, 6],\n"
                "   [7, 8]]]]\n");
}

static void test_element_format(void)
{
    double mixed[] = {0.5, -2.5, 123456, 2, 1e-5, 0.0001234567};
    check_print("%.4g and alignment", mixed, 2, (int64_t[]){2, 3},
                "f64[2, 3]\n"
                "[[      0.5,      -2.5, 1.235e+05],\n"
                " [        2,     1e-05, 0.0001235]]\n");

    double negatives[] = {-1.5, 2, 100};
    check_print("negative alignment", negatives, 1, (int64_t[]){3},
                "f64[3]\n[-1.5,    2,  100]\n");

    double special[] = {NAN, -NAN, INFINITY, -INFINITY, -0.0, 1};
    check_print("nan, inf, -0", special, 1, (int64_t[]){6},
                "f64[6]\n[ nan,  nan,  inf, -inf,   -0,    1]\n");
}

static void test_zero_size(void)
{
    double unused = 0;
    check_print("shape [0]", &unused, 1, (int64_t[]){0}, "f64[0]\n[]\n");
    check_print("shape [0, 3]", &unused, 2, (int64_t[]){0, 3}, "f64[0, 3]\n[]\n");
    check_print("shape [2, 0]", &unused, 2, (int64_t[]){2, 0}, "f64[2, 0]\n[[],\n []]\n");
    check_print("shape [2, 0, 3]", &unused, 3, (int64_t[]){2, 0, 3},
                "f64[2, 0, 3]\n[[],\n\n []]\n");
    check_print("shape [2, 3, 0]", &unused, 3, (int64_t[]){2, 3, 0},
                "f64[2, 3, 0]\n"
                "[[[],\n"
                "  [],\n"
                "  []],\n"
                "\n"
                " [[],\n"
                "  [],\n"
                "  []]]\n");
}

static void test_elision(void)
{
    double *data = iota(8000);

    /* The threshold is "more than 1000 elements". */
    char *text = format_tensor(data, 1, (int64_t[]){1000});
    record(strstr(text, "...") == NULL && strstr(text, " 500,") != NULL,
           "1000 elements printed in full");
    free(text);
    text = format_tensor(data, 1, (int64_t[]){1001});
    record(strcmp(text, "f64[1001]\n[   0,    1,    2, ...,  998,  999, 1000]\n") == 0,
           "1001 elements elided");
    free(text);

    /* Only printed elements count for the width: data[1000] is hidden. */
    data[1000] = 123456789;
    check_print("elided [2000]", data, 1, (int64_t[]){2000},
                "f64[2000]\n[   0,    1,    2, ..., 1997, 1998, 1999]\n");
    data[1000] = 1000;

    check_print("elided [40, 40]", data, 2, (int64_t[]){40, 40},
                "f64[40, 40]\n"
                "[[   0,    1,    2, ...,   37,   38,   39],\n"
                " [  40,   41,   42, ...,   77,   78,   79],\n"
                " [  80,   81,   82, ...,  117,  118,  119],\n"
                " ...,\n"
                " [1480, 1481, 1482, ..., 1517, 1518, 1519],\n"
                " [1520, 1521, 1522, ..., 1557, 1558, 1559],\n"
                " [1560, 1561, 1562, ..., 1597, 1598, 1599]]\n");

    /* A dimension of 6 or fewer is never elided, even in a large tensor. */
    check_print("elided [200, 6]", data, 2, (int64_t[]){200, 6},
                "f64[200, 6]\n"
                "[[   0,    1,    2,    3,    4,    5],\n"
                " [   6,    7,    8,    9,   10,   11],\n"
                " [  12,   13,   14,   15,   16,   17],\n"
                " ...,\n"
                " [1182, 1183, 1184, 1185, 1186, 1187],\n"
                " [1188, 1189, 1190, 1191, 1192, 1193],\n"
                " [1194, 1195, 1196, 1197, 1198, 1199]]\n");

    /* Elided blocks of rank 3 keep the blank line after " ...,", like numpy. */
    check_print("elided [8, 2, 70]", data, 3, (int64_t[]){8, 2, 70},
                "f64[8, 2, 70]\n"
                "[[[   0,    1,    2, ...,   67,   68,   69],\n"
                "  [  70,   71,   72, ...,  137,  138,  139]],\n"
                "\n"
                " [[ 140,  141,  142, ...,  207,  208,  209],\n"
                "  [ 210,  211,  212, ...,  277,  278,  279]],\n"
                "\n"
                " [[ 280,  281,  282, ...,  347,  348,  349],\n"
                "  [ 350,  351,  352, ...,  417,  418,  419]],\n"
                "\n"
                " ...,\n"
                "\n"
                " [[ 700,  701,  702, ...,  767,  768,  769],\n"
                "  [ 770,  771,  772, ...,  837,  838,  839]],\n"
                "\n"
                " [[ 840,  841,  842, ...,  907,  908,  909],\n"
                "  [ 910,  911,  912, ...,  977,  978,  979]],\n"
                "\n"
                " [[ 980,  981,  982, ..., 1047, 1048, 1049],\n"
                "  [1050, 1051, 1052, ..., 1117, 1118, 1119]]]\n");
    free(data);
}

/* rt_print_f32 writes to stdout: send stdout to a temporary file for the call. Checks
 * that f32 data is widened to double before %.4g (0.1f is 0.100000001..., printed 0.1). */
static void test_print_f32_to_stdout(void)
{
    FILE *capture = tmpfile();
    if (!capture) {
        record(0, "rt_print_f32 (tmpfile failed)");
        return;
    }
    fflush(stdout);
    int saved_stdout = dup(STDOUT_FILENO);
    dup2(fileno(capture), STDOUT_FILENO);

    float values[] = {0.1f, -3.0f, 16777216.0f};
    rt_print_f32(values, 1, (int64_t[]){3});
    int exit_status = rt_exit();

    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdout);

    char text[256] = {0};
    rewind(capture);
    size_t length = fread(text, 1, sizeof text - 1, capture);
    text[length] = '\0';
    fclose(capture);

    const char *expected = "f32[3]\n[      0.1,        -3, 1.678e+07]\n";
    record(strcmp(text, expected) == 0, "rt_print_f32 to stdout");
    record(exit_status == 0, "rt_exit returns 0 after a good flush");
}

/* ---- matmul ------------------------------------------------------------------------- */

/* Deterministic uniform values in [-1, 1), so failures reproduce. */
static float random_value(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (float)((double)(*state >> 40) / (double)(1u << 23) - 1.0);
}

/* Reference: C[m, n] = sum_k op(A)[m, k] * op(B)[k, n], accumulated in double.
 * op(A)[m, k] is A[m*K + k], or A[k*M + m] when trans_a; op(B)[k, n] is B[k*N + n], or
 * B[n*K + k] when trans_b. */
static void naive_matmul(int64_t M, int64_t N, int64_t K, int trans_a, int trans_b,
                         const float *A, const float *B, double *C)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double sum = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = trans_a ? A[k * M + m] : A[m * K + k];
                double b = trans_b ? B[n * K + k] : B[k * N + n];
                sum += a * b;
            }
            C[m * N + n] = sum;
        }
}

/* C = op(A) op(B) + beta C (rt_matmul_acc_f32), or with beta = 0 (rt_matmul_f32, which
 * must not read C: it starts as NaN), on 2 threads; then again on 1 thread, which must
 * give the same bits (runtime/rt_matmul.c cuts a product by its shape alone).
 * Tolerance: |C - reference| <= 1e-4 * max(1, |reference|), a relative error of 1e-4
 * (absolute near zero, where relative error means nothing). Prints the max difference. */
static void check_matmul(int64_t M, int64_t N, int64_t K, int trans_a, int trans_b, float beta)
{
    uint64_t state = (uint64_t)(M * 1000003 + N * 1009 + K * 7 + trans_a * 2 + trans_b);
    size_t a_count = (size_t)(M * K), b_count = (size_t)(K * N), c_count = (size_t)(M * N);
    float *A = malloc((a_count + 1) * sizeof(float));
    float *B = malloc((b_count + 1) * sizeof(float));
    float *C = malloc((c_count + 1) * sizeof(float));
    double *reference = malloc((c_count + 1) * sizeof(double));
    for (size_t i = 0; i < a_count; i++)
        A[i] = random_value(&state);
    for (size_t i = 0; i < b_count; i++)
        B[i] = random_value(&state);
    for (size_t i = 0; i < c_count; i++)
        C[i] = beta == 0.0f ? NAN : random_value(&state); /* NaN: must be overwritten */

    naive_matmul(M, N, K, trans_a, trans_b, A, B, reference);
    float *one_thread = malloc((c_count + 1) * sizeof(float));
    memcpy(one_thread, C, c_count * sizeof(float));
    rt_pool_set_threads(2);
    if (beta == 0.0f) {
        rt_matmul_f32(M, N, K, trans_a, trans_b, A, B, C);
    } else {
        for (size_t i = 0; i < c_count; i++)
            reference[i] += (double)beta * C[i];
        rt_matmul_acc_f32(M, N, K, trans_a, trans_b, A, B, beta, C);
    }
    rt_pool_set_threads(1);
    rt_matmul_acc_f32(M, N, K, trans_a, trans_b, A, B, beta, one_thread);
    rt_pool_set_threads(0);
    int same_bits = memcmp(C, one_thread, c_count * sizeof(float)) == 0;
    free(one_thread);

    double max_difference = 0;
    int ok = 1;
    for (size_t i = 0; i < c_count; i++) {
        double difference = fabs((double)C[i] - reference[i]);
        if (!(difference <= 1e-4 * fmax(1.0, fabs(reference[i]))))
            ok = 0;
        if (!(difference <= max_difference))
            max_difference = difference;
    }
    char name[128];
    snprintf(name, sizeof name, "matmul M=%lld N=%lld K=%lld trans_a=%d trans_b=%d beta=%g",
             (long long)M, (long long)N, (long long)K, trans_a, trans_b, beta);
    record(ok, name);
    if (!ok)
        printf("  max difference %g\n", max_difference);
    snprintf(name, sizeof name, "matmul M=%lld N=%lld K=%lld trans_a=%d trans_b=%d beta=%g"
             " on 1 and 2 threads: the same bits",
             (long long)M, (long long)N, (long long)K, trans_a, trans_b, beta);
    record(same_bits, name);
    free(A);
    free(B);
    free(C);
    free(reference);
}

static void test_matmul(void)
{
    /* The last four are large enough to be cut in parts: rows of two lengths (64 and 36),
     * columns (112 and 88; or 32 and 8, too few rows to cut), and the MLP's first layer
     * at batch 64, whose sum oneDNN split between 2 threads. */
    const int64_t sizes[][3] = {{1, 1, 1},      {17, 23, 31},   {64, 3, 128},
                                {5, 7, 0},      {100, 37, 300}, {33, 200, 100},
                                {20, 40, 1000}, {64, 512, 784}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int trans_a = 0; trans_a <= 1; trans_a++)
            for (int trans_b = 0; trans_b <= 1; trans_b++)
                for (int acc = 0; acc <= 1; acc++)
                    check_matmul(sizes[s][0], sizes[s][1], sizes[s][2], trans_a, trans_b,
                                 acc ? 0.9f : 0.0f);

    /* M == 0 or N == 0: nothing to write, and C must be left alone. */
    float untouched = 42.0f, operand = 1.0f;
    rt_matmul_f32(0, 1, 1, 0, 0, &operand, &operand, &untouched);
    rt_matmul_f32(1, 0, 1, 0, 0, &operand, &operand, &untouched);
    record(untouched == 42.0f, "matmul with M or N == 0 writes nothing");
}

/* A stack of 3 products (rt_matmul_batch_f32), each large enough to be cut in parts, with
 * C0 elsewhere than C: every item equals its naive product plus beta C0 (tolerance as in
 * check_matmul), and 1 and 2 threads give the same bits. */
static void test_matmul_stack(void)
{
    enum { STACK = 3, M = 40, N = 70, K = 400 };
    const float beta = 0.5f;
    uint64_t state = 12345;
    size_t c_bytes = sizeof(float) * STACK * M * N;
    float *A = malloc(sizeof(float) * STACK * M * K), *B = malloc(sizeof(float) * STACK * K * N);
    float *C0 = malloc(c_bytes), *C = malloc(c_bytes), *one_thread = malloc(c_bytes);
    double *reference = malloc(sizeof(double) * M * N);
    for (int i = 0; i < STACK * M * K; i++)
        A[i] = random_value(&state);
    for (int i = 0; i < STACK * K * N; i++)
        B[i] = random_value(&state);
    for (int i = 0; i < STACK * M * N; i++)
        C0[i] = random_value(&state);
    rt_pool_set_threads(2);
    rt_matmul_batch_f32(STACK, M, N, K, 0, 1, A, B, C, beta, C0);
    rt_pool_set_threads(1);
    rt_matmul_batch_f32(STACK, M, N, K, 0, 1, A, B, one_thread, beta, C0);
    rt_pool_set_threads(0);
    int ok = 1;
    for (int item = 0; item < STACK; item++) {
        naive_matmul(M, N, K, 0, 1, A + item * M * K, B + item * K * N, reference);
        for (int i = 0; i < M * N; i++) {
            double want = reference[i] + (double)beta * C0[item * M * N + i];
            if (!(fabs(C[item * M * N + i] - want) <= 1e-4 * fmax(1.0, fabs(want))))
                ok = 0;
        }
    }
    record(ok, "a stack of 3 matmuls with C0 elsewhere");
    record(memcmp(C, one_thread, c_bytes) == 0,
           "a stack of 3 matmuls on 1 and 2 threads: the same bits");
    free(A);
    free(B);
    free(C0);
    free(C);
    free(one_thread);
    free(reference);
}

int main(void)
{
    test_small_shapes();
    test_element_format();
    test_zero_size();
    test_elision();
    test_print_f32_to_stdout();
    test_matmul();
    test_matmul_stack();
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed != 0;
}
