/* nnc_rt.h — the runtime that ships inside every program nnc builds.
 * Generated code (JIT or AOT) calls only these functions. The runtime never includes
 * compiler headers; the compiler may include this one (the reference evaluator prints
 * through it, so every path formats tensors identically). */
#ifndef NNC_RT_H
#define NNC_RT_H

#include <stdint.h>
#include <stdio.h>

/* ---- memory ---------------------------------------------------------------------- */
/* All intermediates of a program live in arenas: one allocation, 64-byte aligned,
 * zero-filled. On failure prints "nnc: out of memory (N bytes)" and exits 3. */
void *rt_arena_new(int64_t bytes);
void rt_arena_release(void *base);

/* ---- printing ---------------------------------------------------------------------- */
/* Prints a tensor to stdout in the documented format (docs/runtime.md):
 *   f32[2, 3]
 *   [[1, 2, 3],
 *    [4, 5, 6]]
 * Elements use %.4g, right-aligned to a common width; a tensor of more than 1000 elements
 * shows the first and last 3 entries of each dimension longer than 6, with "...". */
void rt_print_f32(const float *data, int32_t rank, const int64_t *dims);
void rt_print_f64(const double *data, int32_t rank, const int64_t *dims);
/* Same format to any stream (used by the compiler's reference evaluator and the REPL). */
void rt_fprint_f64(FILE *out, const char *dtype, const double *data, int32_t rank,
                   const int64_t *dims);

/* ---- linear algebra (oneDNN) --------------------------------------------------------- */
/* C[M,N] = op(A) @ op(B), all row-major and contiguous; op(A) is [M,K]: A is [M,K], or
 * [K,M] when trans_a; op(B) is [K,N]: B is [K,N], or [N,K] when trans_b. */
void rt_matmul_f32(int64_t M, int64_t N, int64_t K, int32_t trans_a, int32_t trans_b,
                   const float *A, const float *B, float *C);

/* ---- program lifecycle ----------------------------------------------------------------- */
/* rt_main (in rt_main.c, linked only into executables) calls rt_init, then the compiled
 * program's nnc_program(), then rt_exit. The JIT calls the same three. */
void rt_init(int argc, char **argv);
int rt_exit(void);
/* Report a runtime failure ("nnc: <msg>") and exit with status 1. */
_Noreturn void rt_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The entry point every compiled program defines. */
void nnc_program(void);

#endif
