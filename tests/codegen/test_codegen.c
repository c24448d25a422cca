/* test_codegen.c — the LLVM code generator, checked by running what it generates.
 *
 * Each test builds a small graph by hand (FUSED nodes included: their body nodes come from
 * ir_node_alloc and are not appended to the graph), runs ir_verify on it, JIT-runs it with
 * stdout captured in a temporary file, parses the printed tensors back, and compares them
 * with values computed here in plain C, in double precision.
 *
 * Tolerances. Printed elements carry 4 significant digits (%.4g), so a printed value can
 * be off by 5e-4 relative from the exact one before the f32 arithmetic adds anything:
 * elementwise and reduction results are compared with a relative tolerance of 1e-3 plus
 * an absolute 1e-5 * (the scale of the data), which also absorbs f32 rounding and the
 * reassociated sums. The accuracy sweeps of exp, tanh, log and sigmoid cannot go through
 * 4 digits, so the graph computes the error itself: with the reference split into two
 * floats (hi + lo = the double result to 2^-48), it computes ((f(x) - hi) - lo) / hi,
 * each step in its own kernel so nothing is reassociated, and prints the maximum of its
 * absolute value; f(x) - hi is exact when the two are close, so the printed number is the
 * true relative error to a few percent. Those must stay below 4 * FLT_EPSILON (2^-21).
 *
 * Prints one line per failure and per measured error, then "N passed, M failed"; exits
 * non-zero on any failure. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream, mkstemp */
#endif
#include "cg_test.h"
#include "codegen/cg.h"
#include "ir/eval.h"
#include "ir/ir.h"
#include "util/util.h"

#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const Span NOWHERE = {0};

/* ---- building graphs ------------------------------------------------------------------------ */

static IrShape shape_of(int rank, const int64_t *dims) { return ir_shape_make(rank, dims); }

static IrNode *konst(IrGraph *g, int rank, const int64_t *dims, const double *values)
{
    IrShape s = shape_of(rank, dims);
    return ir_const(g, NOWHERE, &s, values);
}

/* A body node for a FUSED node: allocated in g, shaped by its op's rule, not appended. */
static IrNode *body_node(IrGraph *g, IrOp op, IrNode *const *in, int nin, uint32_t axes,
                         const IrShape *to)
{
    IrNode *n = ir_node_alloc(g, op, in, nin, NOWHERE);
    if (ir_op_kind(op) == IR_KIND_REDUCE)
        n->attr.reduce.axes = axes;
    if (to)
        n->shape = *to;
    char err[256];
    if (!ir_infer_shape(op, n->in, nin, n, &n->shape, err, sizeof err)) {
        fprintf(stderr, "test: bad body node: %s\n", err);
        abort();
    }
    return n;
}

static IrNode *b1(IrGraph *g, IrOp op, IrNode *x) { return body_node(g, op, &x, 1, 0, NULL); }
static IrNode *b2(IrGraph *g, IrOp op, IrNode *x, IrNode *y)
{
    IrNode *in[2] = {x, y};
    return body_node(g, op, in, 2, 0, NULL);
}
static IrNode *bred(IrGraph *g, IrOp op, IrNode *x, uint32_t axes)
{
    return body_node(g, op, &x, 1, axes, NULL);
}

static IrNode *fused(IrGraph *g, IrNode *const *in, int nin, IrNode *const *body, int nbody)
{
    IrNode *f = ir_node_alloc(g, IR_OP_FUSED, in, nin, NOWHERE);
    f->attr.fused.body = ARENA_NEW_N(&g->arena, IrNode *, nbody);
    memcpy(f->attr.fused.body, body, sizeof(IrNode *) * (size_t)nbody);
    f->attr.fused.nbody = nbody;
    f->shape = body[nbody - 1]->shape;
    ir_graph_append(g, f);
    return f;
}

/* ---- running -------------------------------------------------------------------------------- */

/* Compiles g and JIT-runs it; returns what it printed (caller frees), or NULL. */
static char *jit_output(IrGraph *g, const char *name)
{
    ir_verify(g, name);
    CgModule *m = cg_compile(g, name);
    if (!m) {
        record(false, "%s: cg_compile failed", name);
        return NULL;
    }
    char *argv[] = {(char *)name, NULL};
    return jit_capture(m, name, 1, argv);
}

/* ---- reading printed tensors back ---------------------------------------------------------------- */

enum { MAX_TENSORS = 64 };

typedef struct Printed {
    int rank;
    int64_t dims[IR_MAX_RANK];
    double *v;
    int64_t n;
} Printed;

/* The next tensor header ("f32[" or "i32[") at or after p, or NULL. */
static const char *next_header(const char *p)
{
    const char *f = strstr(p, "f32["), *i = strstr(p, "i32[");
    return !f ? i : !i ? f : f < i ? f : i;
}

/* Splits rt_print_f32 / rt_print_i32 output ("f32[2, 3]\n[[1, 2, 3],\n [4, 5, 6]]\n" per
 * tensor) into tensors. Returns how many; the values of each are in t[i].v (caller frees). */
static int parse_printed(const char *text, Printed *t, int max)
{
    int count = 0;
    const char *p = text;
    while ((p = next_header(p)) && count < max) {
        Printed *cur = &t[count++];
        *cur = (Printed){0};
        p += 4;
        while (*p != ']') {
            cur->dims[cur->rank++] = strtoll(p, (char **)&p, 10);
            if (*p == ',')
                p++;
        }
        p = strchr(p, '\n');
        int64_t cap = 16;
        cur->v = malloc(sizeof(double) * (size_t)cap);
        while (p && *p && strncmp(p, "f32[", 4) != 0 && strncmp(p, "i32[", 4) != 0) {
            if (strchr("[], \n", *p)) {
                p++;
                continue;
            }
            char *end;
            double v = strtod(p, &end);
            if (end == p) { /* not a number: skip the character */
                p++;
                continue;
            }
            if (cur->n == cap)
                cur->v = realloc(cur->v, sizeof(double) * (size_t)(cap *= 2));
            cur->v[cur->n++] = v;
            p = end;
        }
        if (!p)
            break;
    }
    return count;
}

static void free_printed(Printed *t, int n)
{
    for (int i = 0; i < n; i++)
        free(t[i].v);
}

static bool close_enough(double got, double want, double scale)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= 1e-3 * fabs(want) + 1e-5 * scale;
}

/* Checks one printed tensor against the expected shape and values. */
static void expect_tensor(const char *name, const Printed *t, int rank, const int64_t *dims,
                          const double *want)
{
    bool ok = t->rank == rank;
    int64_t n = 1;
    for (int i = 0; i < rank && ok; i++) {
        ok = t->dims[i] == dims[i];
        n *= dims[i];
    }
    if (!ok || t->n != n) {
        record(false, "%s: printed shape/count differ (rank %d, %lld values; want rank %d, %lld)",
               name, t->rank, (long long)t->n, rank, (long long)n);
        return;
    }
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(want[i]) && fabs(want[i]) > scale)
            scale = fabs(want[i]);
    for (int64_t i = 0; i < n; i++) {
        if (!close_enough(t->v[i], want[i], scale)) {
            record(false, "%s: element %lld is %.7g, want %.7g", name, (long long)i, t->v[i],
                   want[i]);
            return;
        }
    }
    record(true, "%s", name);
}

/* Runs g and checks that it printed exactly `count` tensors; fills t. */
static int run_and_parse(IrGraph *g, const char *name, Printed *t, int count)
{
    char *text = jit_output(g, name);
    if (!text)
        return -1;
    int n = parse_printed(text, t, MAX_TENSORS);
    free(text);
    if (n != count) {
        record(false, "%s: printed %d tensors, want %d", name, n, count);
        free_printed(t, n);
        return -1;
    }
    return n;
}

/* Deterministic test data: a simple LCG, values in [lo, hi). */
static uint64_t rng_state = 12345;
static double rnd(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}
static double *rnd_array(int64_t n, double lo, double hi)
{
    double *a = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        a[i] = (float)rnd(lo, hi); /* exactly representable, like the f32 the code sees */
    return a;
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* [2, 3] * [3] + scalar, as one FUSED node. */
static void test_broadcast_chain(void)
{
    IrGraph *g = ir_graph_new();
    int64_t d23[] = {2, 3}, d3[] = {3};
    double av[] = {1, 2, 3, 4, 5, 6}, bv[] = {0.5, -1, 2}, cv = 10;
    IrNode *a = konst(g, 2, d23, av), *b = konst(g, 1, d3, bv), *c = ir_scalar(g, NOWHERE, cv);
    IrNode *m = b2(g, IR_OP_MUL, a, b);
    IrNode *r = b2(g, IR_OP_ADD, m, c);
    IrNode *in[] = {a, b, c}, *body[] = {m, r};
    ir_print(g, NOWHERE, fused(g, in, 3, body, 2));
    Printed t[MAX_TENSORS];
    if (run_and_parse(g, "broadcast_chain", t, 1) == 1) {
        double want[6];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                want[i * 3 + j] = av[i * 3 + j] * bv[j] + cv;
        expect_tensor("broadcast_chain", &t[0], 2, d23, want);
        free_printed(t, 1);
    }
    ir_graph_free(g);
}

/* Every elementwise op as a top-level node (one-node kernels), x [4, 5] against y [5]. */
static void test_elementwise_ops(void)
{
    IrGraph *g = ir_graph_new();
    int64_t dx[] = {4, 5}, dy[] = {5};
    double *xv = rnd_array(20, -3, 3), *pv = rnd_array(20, 0.1, 4), *yv = rnd_array(5, -2, 2);
    xv[3] = yv[3];   /* equal elements for the comparisons */
    xv[13] = yv[3];
    double cv[20];
    for (int i = 0; i < 20; i++)
        cv[i] = i % 3 == 0 ? 0.0 : (i % 3 == 1 ? 1.0 : -2.5);
    IrNode *x = konst(g, 2, dx, xv), *p = konst(g, 2, dx, pv), *y = konst(g, 1, dy, yv);
    IrNode *c = konst(g, 2, dx, cv);
    static const IrOp unary[] = {IR_OP_NEG, IR_OP_EXP, IR_OP_LOG, IR_OP_SQRT, IR_OP_TANH,
                                 IR_OP_SIGMOID, IR_OP_RELU};
    static const IrOp binary[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV, IR_OP_POW,
                                  IR_OP_MAX, IR_OP_MIN, IR_OP_CMP_LT, IR_OP_CMP_LE,
                                  IR_OP_CMP_GT, IR_OP_CMP_GE, IR_OP_CMP_EQ, IR_OP_CMP_NE};
    int nu = (int)ARRAY_LEN(unary), nb = (int)ARRAY_LEN(binary);
    for (int i = 0; i < nu; i++) {
        bool positive = unary[i] == IR_OP_LOG || unary[i] == IR_OP_SQRT;
        ir_print(g, NOWHERE, ir_unary(g, NOWHERE, unary[i], positive ? p : x));
    }
    for (int i = 0; i < nb; i++)
        ir_print(g, NOWHERE, ir_binary(g, NOWHERE, binary[i], binary[i] == IR_OP_POW ? p : x, y));
    ir_print(g, NOWHERE, ir_select(g, NOWHERE, c, x, y));
    IrShape to = shape_of(2, dx);
    ir_print(g, NOWHERE, ir_broadcast(g, NOWHERE, y, &to));

    Printed t[MAX_TENSORS];
    int total = nu + nb + 2;
    if (run_and_parse(g, "elementwise_ops", t, total) == total) {
        double want[20];
        char name[64];
        for (int k = 0; k < total; k++) {
            IrOp op = k < nu ? unary[k] : k < nu + nb ? binary[k - nu] : (k == total - 2 ? IR_OP_SELECT : IR_OP_BROADCAST);
            for (int i = 0; i < 20; i++) {
                double a = xv[i], b = yv[i % 5], pa = pv[i];
                double w;
                switch (op) {
                case IR_OP_NEG: w = -a; break;
                case IR_OP_EXP: w = exp(a); break;
                case IR_OP_LOG: w = log(pa); break;
                case IR_OP_SQRT: w = sqrt(pa); break;
                case IR_OP_TANH: w = tanh(a); break;
                case IR_OP_SIGMOID: w = 1 / (1 + exp(-a)); break;
                case IR_OP_RELU: w = a > 0 ? a : 0; break;
                case IR_OP_ADD: w = a + b; break;
                case IR_OP_SUB: w = a - b; break;
                case IR_OP_MUL: w = a * b; break;
                case IR_OP_DIV: w = a / b; break;
                case IR_OP_POW: w = pow(pa, b); break;
                case IR_OP_MAX: w = a > b ? a : b; break;
                case IR_OP_MIN: w = a < b ? a : b; break;
                case IR_OP_CMP_LT: w = a < b; break;
                case IR_OP_CMP_LE: w = a <= b; break;
                case IR_OP_CMP_GT: w = a > b; break;
                case IR_OP_CMP_GE: w = a >= b; break;
                case IR_OP_CMP_EQ: w = a == b; break;
                case IR_OP_CMP_NE: w = a != b; break;
                case IR_OP_SELECT: w = cv[i] != 0 ? a : b; break;
                case IR_OP_BROADCAST: w = b; break;
                default: abort();
                }
                want[i] = w;
            }
            snprintf(name, sizeof name, "elementwise %s", ir_op_name(op));
            expect_tensor(name, &t[k], 2, dx, want);
        }
        free_printed(t, total);
    }
    free(xv);
    free(pv);
    free(yv);
    ir_graph_free(g);
}

/* NaN and signed zeros through max/min/relu/select/comparisons/reduce_max. */
static void test_nan_policy(void)
{
    IrGraph *g = ir_graph_new();
    int64_t d[] = {4};
    double xv[] = {NAN, 1, -2, -0.0}, yv[] = {1, NAN, 3, 0};
    IrNode *x = konst(g, 1, d, xv), *y = konst(g, 1, d, yv);
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_MAX, x, y));
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_MIN, x, y));
    ir_print(g, NOWHERE, ir_unary(g, NOWHERE, IR_OP_RELU, x));
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_CMP_NE, x, y));
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_CMP_LT, x, y));
    ir_print(g, NOWHERE, ir_select(g, NOWHERE, x, y, x));
    ir_print(g, NOWHERE, ir_reduce(g, NOWHERE, IR_OP_REDUCE_MAX, x, 1));
    Printed t[MAX_TENSORS];
    if (run_and_parse(g, "nan_policy", t, 7) == 7) {
        double want_max[] = {NAN, NAN, 3, 0}, want_min[] = {NAN, NAN, -2, -0.0};
        double want_relu[] = {NAN, 1, 0, 0}, want_ne[] = {1, 1, 1, 0}, want_lt[] = {0, 0, 1, 0};
        double want_sel[] = {1, NAN, 3, -0.0}, want_rmax[] = {NAN};
        expect_tensor("nan max", &t[0], 1, d, want_max);
        expect_tensor("nan min", &t[1], 1, d, want_min);
        expect_tensor("nan relu", &t[2], 1, d, want_relu);
        expect_tensor("nan ne", &t[3], 1, d, want_ne);
        expect_tensor("nan lt", &t[4], 1, d, want_lt);
        expect_tensor("nan select", &t[5], 1, d, want_sel);
        expect_tensor("nan reduce_max", &t[6], 0, NULL, want_rmax);
        free_printed(t, 7);
    }
    ir_graph_free(g);
}

/* Reference sum/max over the axes in `axes` of x (row-major, shape dims). */
static void reference_reduce(IrOp op, const double *x, int rank, const int64_t *dims,
                             uint32_t axes, double *out, int64_t out_n)
{
    for (int64_t j = 0; j < out_n; j++)
        out[j] = op == IR_OP_SUM ? 0 : -INFINITY;
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= dims[d];
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, j = 0, jstride = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int64_t idx = rem % dims[d];
            rem /= dims[d];
            if (!((axes >> d) & 1)) {
                j += idx * jstride;
                jstride *= dims[d];
            }
        }
        out[j] = op == IR_OP_SUM ? out[j] + x[i] : fmax(out[j], x[i]);
    }
}

/* One reduction case: FUSED { e = x * x (or x); r = reduce(e, axes) }, printed. */
static void check_reduce(const char *name, IrOp op, int rank, const int64_t *dims, uint32_t axes,
                         bool square)
{
    IrGraph *g = ir_graph_new();
    int64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= dims[d];
    double *xv = rnd_array(n, -2, 2);
    IrNode *x = konst(g, rank, dims, xv);
    IrNode *body[2];
    int nbody = 0;
    IrNode *v = x;
    if (square)
        v = body[nbody++] = b2(g, IR_OP_MUL, x, x);
    IrNode *r = body[nbody++] = bred(g, op, v, axes);
    ir_print(g, NOWHERE, fused(g, &x, 1, body, nbody));
    Printed t[MAX_TENSORS];
    if (run_and_parse(g, name, t, 1) == 1) {
        int64_t out_n = ir_shape_numel(&r->shape);
        double *sq = malloc(sizeof(double) * (size_t)(n ? n : 1));
        for (int64_t i = 0; i < n; i++)
            sq[i] = square ? (double)((float)xv[i] * (float)xv[i]) : xv[i];
        double *want = malloc(sizeof(double) * (size_t)(out_n ? out_n : 1));
        reference_reduce(op, sq, rank, dims, axes, want, out_n);
        expect_tensor(name, &t[0], r->shape.rank, r->shape.dims, want);
        free(want);
        free(sq);
        free_printed(t, 1);
    }
    free(xv);
    ir_graph_free(g);
}

static void test_reductions(void)
{
    int64_t d437[] = {4, 37}, d375[] = {37, 5}, d345[] = {3, 4, 5}, d350[] = {3, 50};
    int64_t d67[] = {6, 7}, d30[] = {3, 0}, d2345[] = {2, 3, 4, 5};
    check_reduce("sum last axis", IR_OP_SUM, 2, d437, 2, true);
    check_reduce("sum first axis", IR_OP_SUM, 2, d375, 1, true);
    check_reduce("sum middle axis", IR_OP_SUM, 3, d345, 2, false);
    check_reduce("sum axes 0,2", IR_OP_SUM, 3, d345, 5, true);
    check_reduce("sum axes 1,2", IR_OP_SUM, 3, d345, 6, false);
    check_reduce("sum all axes", IR_OP_SUM, 3, d345, 7, true);
    check_reduce("sum no axes", IR_OP_SUM, 2, d67, 0, false);
    check_reduce("sum axes 1,3", IR_OP_SUM, 4, d2345, 10, false);
    check_reduce("reduce_max last axis", IR_OP_REDUCE_MAX, 2, d350, 2, false);
    check_reduce("reduce_max first axis", IR_OP_REDUCE_MAX, 2, d67, 1, false);
    check_reduce("reduce_max all axes", IR_OP_REDUCE_MAX, 3, d345, 7, true);
    check_reduce("sum over an empty axis", IR_OP_SUM, 2, d30, 2, false);
    check_reduce("reduce_max over an empty axis", IR_OP_REDUCE_MAX, 2, d30, 2, false);
}

/* A body node smaller than the domain: FUSED { e = exp(b) [3]; m = a * e; s = sum(m, 1) }
 * and the same with a broadcast node and a select in the body, reduced in memory. */
static void test_fused_broadcast_body(void)
{
    IrGraph *g = ir_graph_new();
    int64_t d23[] = {2, 3}, d3[] = {3}, d2[] = {2};
    double av[] = {1, -2, 3, 4, 5, -6}, bv[] = {0.5, -1, 0.25};
    IrNode *a = konst(g, 2, d23, av), *b = konst(g, 1, d3, bv);
    IrNode *e = b1(g, IR_OP_EXP, b);
    IrNode *m = b2(g, IR_OP_MUL, a, e);
    IrNode *s = bred(g, IR_OP_SUM, m, 2);
    IrNode *in[] = {a, b}, *body[] = {e, m, s};
    ir_print(g, NOWHERE, fused(g, in, 2, body, 3));

    IrShape to = shape_of(2, d23);
    IrNode *bb = body_node(g, IR_OP_BROADCAST, &b, 1, 0, &to);
    IrNode *gt = b2(g, IR_OP_CMP_GT, a, bb);
    IrNode *sel_in[] = {gt, a, bb};
    IrNode *sel = body_node(g, IR_OP_SELECT, sel_in, 3, 0, NULL);
    IrNode *s0 = bred(g, IR_OP_SUM, sel, 1);
    IrNode *body2[] = {bb, gt, sel, s0};
    ir_print(g, NOWHERE, fused(g, in, 2, body2, 4));

    Printed t[MAX_TENSORS];
    if (run_and_parse(g, "fused_broadcast_body", t, 2) == 2) {
        double want[2] = {0, 0}, want0[3] = {0, 0, 0};
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) {
                want[i] += av[i * 3 + j] * exp(bv[j]);
                want0[j] += av[i * 3 + j] > bv[j] ? av[i * 3 + j] : bv[j];
            }
        expect_tensor("fused body broadcast (suffix sum)", &t[0], 1, d2, want);
        expect_tensor("fused broadcast+select (sum axis 0)", &t[1], 1, d3, want0);
        free_printed(t, 2);
    }
    ir_graph_free(g);
}

/* Transposes (3-D and 2-D), a matmul of transposed operands, and reshapes (views). */
static void test_layout_and_matmul(void)
{
    IrGraph *g = ir_graph_new();
    int64_t d234[] = {2, 3, 4}, d57[] = {5, 7}, d34[] = {3, 4}, d45[] = {4, 5};
    double *xv = rnd_array(24, -5, 5), *yv = rnd_array(35, -5, 5);
    double *av = rnd_array(12, -1, 1), *bv = rnd_array(20, -1, 1);
    IrNode *x = konst(g, 3, d234, xv), *y = konst(g, 2, d57, yv);
    int perm3[] = {2, 0, 1}, perm2[] = {1, 0};
    ir_print(g, NOWHERE, ir_transpose(g, NOWHERE, x, perm3));
    ir_print(g, NOWHERE, ir_transpose(g, NOWHERE, y, perm2));
    /* a @ b, then (b^T @ a^T)^T computed through transposes: the same matrix */
    IrNode *a = konst(g, 2, d34, av), *b = konst(g, 2, d45, bv);
    IrNode *ab = ir_matmul(g, NOWHERE, a, b);
    ir_print(g, NOWHERE, ab);
    IrNode *bt_at = ir_matmul(g, NOWHERE, ir_transpose(g, NOWHERE, b, perm2),
                              ir_transpose(g, NOWHERE, a, perm2));
    ir_print(g, NOWHERE, ir_transpose(g, NOWHERE, bt_at, perm2));
    /* reshape of a computed tensor and of a constant */
    int64_t d15[] = {15}, d62[] = {6, 2, 2};
    IrShape s15 = shape_of(1, d15), s62 = shape_of(3, d62);
    ir_print(g, NOWHERE, ir_reshape(g, NOWHERE, ab, &s15));
    ir_print(g, NOWHERE, ir_reshape(g, NOWHERE, konst(g, 3, d234, xv), &s62));

    Printed t[MAX_TENSORS];
    if (run_and_parse(g, "layout_and_matmul", t, 6) == 6) {
        double want[35];
        int64_t d423[] = {4, 2, 3}, d75[] = {7, 5}, d35[] = {3, 5};
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 3; k++)
                    want[(i * 2 + j) * 3 + k] = xv[(j * 3 + k) * 4 + i];
        expect_tensor("transpose [2,3,4] perm [2,0,1]", &t[0], 3, d423, want);
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 5; j++)
                want[i * 5 + j] = yv[j * 7 + i];
        expect_tensor("transpose [5,7]", &t[1], 2, d75, want);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) {
                double acc = 0;
                for (int k = 0; k < 4; k++)
                    acc += av[i * 4 + k] * bv[k * 5 + j];
                want[i * 5 + j] = acc;
            }
        expect_tensor("matmul [3,4]@[4,5]", &t[2], 2, d35, want);
        expect_tensor("matmul through transposes", &t[3], 2, d35, want);
        expect_tensor("reshape of a computed tensor", &t[4], 1, d15, want);
        expect_tensor("reshape of a constant", &t[5], 3, d62, xv);
        free_printed(t, 6);
    }
    free(xv);
    free(yv);
    free(av);
    free(bv);
    ir_graph_free(g);
}

/* ---- the ops beyond elementwise/reduce/matmul, against the reference evaluator --------------- */

enum { MAX_CHECKS = 48 };

/* Nodes of one graph whose compiled values are compared with the evaluator's. */
typedef struct Checks {
    IrGraph *g;
    IrNode *node[MAX_CHECKS];
    const char *label[MAX_CHECKS];
    bool exact[MAX_CHECKS];
    int n;
} Checks;

/* Records x for comparison under `label`; returns x. */
static IrNode *check(Checks *c, const char *label, IrNode *x)
{
    ASSERT(c->n < MAX_CHECKS);
    c->node[c->n] = x;
    c->exact[c->n] = false;
    c->label[c->n++] = label;
    return x;
}

/* The same, but the compiled values must equal the evaluator's bit for bit. */
static IrNode *check_exact(Checks *c, const char *label, IrNode *x)
{
    check(c, label, x);
    c->exact[c->n - 1] = true;
    return x;
}

/* Runs the f64 evaluator on the graph, then appends what the compiled program prints:
 * each checked node itself, or, when it is too large to print in full (the printer elides
 * above 1000 elements) or must match exactly, max |x - ref| computed in the program
 * against the evaluator's values as a constant. JIT-runs it and compares: small tensors
 * within expect_tensor's printing tolerance, large ones to 1e-5 of their largest element
 * (f32 sums), exact ones to 0. */
static void run_checks(Checks *c, const char *name)
{
    ir_verify(c->g, name);
    EvalResult ref = eval_graph(c->g, EVAL_F64, NULL);
    double scale[MAX_CHECKS];
    bool whole[MAX_CHECKS];
    for (int i = 0; i < c->n; i++) {
        IrNode *x = c->node[i];
        int64_t numel = ir_shape_numel(&x->shape);
        const double *r = ref.values[x->id];
        whole[i] = numel <= 1000 && !c->exact[i];
        if (whole[i]) {
            ir_print(c->g, NOWHERE, x);
            continue;
        }
        scale[i] = 1;
        for (int64_t k = 0; k < numel; k++)
            scale[i] = fmax(scale[i], fabs(r[k]));
        IrNode *want = ir_const(c->g, NOWHERE, &x->shape, r);
        IrNode *d = ir_binary(c->g, NOWHERE, IR_OP_SUB, x, want);
        IrNode *ad = ir_binary(c->g, NOWHERE, IR_OP_MAX, d, ir_unary(c->g, NOWHERE, IR_OP_NEG, d));
        ir_print(c->g, NOWHERE, ir_reduce(c->g, NOWHERE, IR_OP_REDUCE_MAX, ad,
                                          (1u << x->shape.rank) - 1));
    }
    Printed t[MAX_TENSORS];
    if (run_and_parse(c->g, name, t, c->n) == c->n) {
        for (int i = 0; i < c->n; i++) {
            char label[128];
            snprintf(label, sizeof label, "%s: %s", name, c->label[i]);
            const IrNode *x = c->node[i];
            if (whole[i]) {
                expect_tensor(label, &t[i], x->shape.rank, x->shape.dims, ref.values[x->id]);
                continue;
            }
            double err = t[i].n == 1 ? t[i].v[0] : NAN;
            printf("  %-50s max |error| %.3g (largest element %.3g)\n", label, err, scale[i]);
            record(err <= (c->exact[i] ? 0 : 1e-5 * scale[i]),
                   "%s: max |error| %g, largest element %g", label, err, scale[i]);
        }
        free_printed(t, c->n);
    }
    eval_result_free(&ref);
}

static IrNode *random_tensor(IrGraph *g, int rank, const int64_t *dims, double lo, double hi)
{
    IrShape s = shape_of(rank, dims);
    double *v = rnd_array(ir_shape_numel(&s), lo, hi);
    IrNode *n = ir_const(g, NOWHERE, &s, v);
    free(v);
    return n;
}

/* Small integers: pooling windows full of ties. */
static IrNode *tie_tensor(IrGraph *g, int rank, const int64_t *dims)
{
    IrShape s = shape_of(rank, dims);
    int64_t n = ir_shape_numel(&s);
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = floor(rnd(0, 3));
    IrNode *x = ir_const(g, NOWHERE, &s, v);
    free(v);
    return x;
}

static IrNode *index_tensor(IrGraph *g, int rank, const int64_t *dims, const double *v)
{
    IrShape s = shape_of(rank, dims);
    return ir_const_typed(g, NOWHERE, IR_I32, &s, v);
}

/* One convolution geometry: forward, both backward ops, and the forward again on other
 * data of the same shapes (the second call reuses the cached oneDNN primitive). */
static void check_conv(const char *name, const int64_t *xd, const int64_t *wd, IrConvAttr a)
{
    Checks c = {.g = ir_graph_new()};
    IrGraph *g = c.g;
    IrNode *x = random_tensor(g, 4, xd, -1, 1), *w = random_tensor(g, 4, wd, -1, 1);
    IrNode *y = check(&c, "conv2d", ir_conv2d(g, NOWHERE, x, w, a));
    IrNode *dy = random_tensor(g, 4, y->shape.dims, -1, 1);
    check(&c, "backward data", ir_conv2d_backward_data(g, NOWHERE, dy, w, &x->shape, a));
    check(&c, "backward weights", ir_conv2d_backward_weights(g, NOWHERE, x, dy, &w->shape, a));
    IrNode *x2 = random_tensor(g, 4, xd, -2, 2);
    check(&c, "conv2d again (cached)", ir_conv2d(g, NOWHERE, x2, w, a));
    run_checks(&c, name);
    ir_graph_free(g);
}

static void test_conv(void)
{
    int64_t x1[] = {2, 3, 8, 8}, w1[] = {4, 3, 3, 3};
    check_conv("conv 3x3 pad 1", x1, w1, (IrConvAttr){1, 1, 1, 1});
    int64_t x2[] = {2, 4, 9, 7}, w2[] = {6, 2, 3, 3};
    check_conv("conv stride 2 dilation 2 groups 2", x2, w2, (IrConvAttr){2, 1, 2, 2});
    int64_t x3[] = {1, 4, 6, 6}, w3[] = {4, 1, 3, 3};
    check_conv("conv depthwise", x3, w3, (IrConvAttr){1, 1, 1, 4});
    int64_t x4[] = {2, 16, 8, 8}, w4[] = {32, 16, 1, 1};
    check_conv("conv 1x1 stride 2", x4, w4, (IrConvAttr){2, 0, 1, 1});
    /* the direct kernels (at most 4 input channels, stride 1): LeNet's first layer (rows of
     * 28 outputs, a full and a partial vector, padding on both sides); 7 wide, 13 output
     * channels (partial blocks); an even kernel; padding wider than the kernel */
    int64_t x6[] = {3, 1, 28, 28}, w6[] = {6, 1, 5, 5};
    check_conv("direct: LeNet conv1", x6, w6, (IrConvAttr){1, 2, 1, 1});
    int64_t x7[] = {2, 2, 9, 20}, w7[] = {13, 2, 7, 7};
    check_conv("direct: 7x7, 13 channels", x7, w7, (IrConvAttr){1, 3, 1, 1});
    int64_t x8[] = {1, 4, 5, 5}, w8[] = {5, 4, 2, 2};
    check_conv("direct: 2x2, 4 input channels", x8, w8, (IrConvAttr){1, 0, 1, 1});
    int64_t x9[] = {2, 1, 4, 4}, w9[] = {2, 1, 3, 3};
    check_conv("direct: padding 3 around a 3x3", x9, w9, (IrConvAttr){1, 3, 1, 1});
    /* the weight gradient across output channels (5 to 16 input channels, no padding):
     * LeNet's second layer, and 3x3 with 11 output channels (lanes left empty) */
    int64_t x10[] = {2, 6, 14, 14}, w10[] = {16, 6, 5, 5};
    check_conv("across: LeNet conv2", x10, w10, (IrConvAttr){1, 0, 1, 1});
    int64_t x11[] = {3, 5, 7, 9}, w11[] = {11, 5, 3, 3};
    check_conv("across: 3x3, 11 channels", x11, w11, (IrConvAttr){1, 0, 1, 1});
    /* enough channels for oneDNN's blocked layouts (and the reorders around them) */
    int64_t x5[] = {4, 32, 12, 12}, w5[] = {64, 32, 3, 3};
    check_conv("conv 32->64 channels", x5, w5, (IrConvAttr){1, 1, 1, 1});
}

static void check_pool(const char *name, const int64_t *xd, IrPoolAttr a, bool ties)
{
    Checks c = {.g = ir_graph_new()};
    IrGraph *g = c.g;
    IrNode *x = ties ? tie_tensor(g, 4, xd) : random_tensor(g, 4, xd, -3, 3);
    IrNode *y = check(&c, "max_pool2d", ir_max_pool2d(g, NOWHERE, x, a));
    IrNode *dy = random_tensor(g, 4, y->shape.dims, -1, 1);
    check(&c, "max_pool2d_backward", ir_max_pool2d_backward(g, NOWHERE, x, y, dy, a));
    check(&c, "avg_pool2d", ir_avg_pool2d(g, NOWHERE, x, a));
    check(&c, "avg_pool2d_backward", ir_avg_pool2d_backward(g, NOWHERE, dy, &x->shape, a));
    run_checks(&c, name);
    ir_graph_free(g);
}

static void test_pool(void)
{
    int64_t d1[] = {2, 3, 6, 6}, d2[] = {1, 2, 7, 9}, d3[] = {2, 16, 10, 10};
    check_pool("pool 2/2", d1, (IrPoolAttr){2, 2}, false);
    check_pool("pool 2/2 with ties", d1, (IrPoolAttr){2, 2}, true);
    check_pool("pool 3/1 overlapping, ties", d2, (IrPoolAttr){3, 1}, true);
    check_pool("pool 3/2, remainder rows", d2, (IrPoolAttr){3, 2}, false);
    check_pool("pool 2/2, 16 channels, ties", d3, (IrPoolAttr){2, 2}, true);
    /* the vectorized 2/2 backward: an odd last row and column left out of every window,
     * and rows of more than 16 windows (a full and a partial vector) */
    check_pool("pool 2/2, odd rows and columns, ties", d2, (IrPoolAttr){2, 2}, true);
    int64_t d4[] = {2, 3, 6, 42};
    check_pool("pool 2/2, 21 windows a row, ties", d4, (IrPoolAttr){2, 2}, true);
}

static void test_layout_ops(void)
{
    Checks c = {.g = ir_graph_new()};
    IrGraph *g = c.g;
    int64_t d23[] = {2, 3}, d21[] = {2, 1}, d24[] = {2, 4}, d345[] = {3, 4, 5};
    IrNode *a = random_tensor(g, 2, d23, -1, 1), *b = random_tensor(g, 2, d21, -1, 1);
    IrNode *e = random_tensor(g, 2, d24, -1, 1), *x = random_tensor(g, 3, d345, -1, 1);
    IrNode *abe[] = {a, b, e};
    check(&c, "concat axis 1", ir_concat(g, NOWHERE, abe, 3, 1));
    IrNode *aa[] = {a, a};
    check(&c, "concat axis 0", ir_concat(g, NOWHERE, aa, 2, 0));
    int64_t begin[] = {1, 0, 2}, end[] = {3, 3, 5};
    check(&c, "slice", ir_slice(g, NOWHERE, x, begin, end));
    int64_t before[] = {0, 2, 1}, after[] = {1, 0, 3};
    check(&c, "pad", ir_pad(g, NOWHERE, x, before, after));
    int64_t d1223[] = {1, 2, 2, 3};
    IrNode *img = random_tensor(g, 4, d1223, -1, 1);
    check(&c, "upsample2d x3", ir_upsample2d(g, NOWHERE, img, 3));

    /* integers: argmax (ties and NaN), concat/slice of i32, one_hot, gather, scatter_add */
    int64_t d34[] = {3, 4};
    double sv[] = {1, 5, 5, 2, NAN, 3, NAN, 9, -1, -1, -2, -1};
    IrShape s34 = shape_of(2, d34);
    IrNode *scores = ir_const(g, NOWHERE, &s34, sv);
    IrNode *am1 = check(&c, "argmax axis 1", ir_argmax(g, NOWHERE, scores, 1));
    check(&c, "argmax axis 0", ir_argmax(g, NOWHERE, scores, 0));
    check(&c, "argmax axis 1 of [3, 4, 5]", ir_argmax(g, NOWHERE, x, 1));
    int64_t d6[] = {6};
    /* compiled one_hot and gather stop the program at an index outside their range
     * (cli.index_out_of_range), so these are in range; scatter_add drops such indices */
    double labels_v[] = {0, 3, 1, 0, 2, 3};
    IrNode *labels = index_tensor(g, 1, d6, labels_v);
    IrNode *both[] = {am1, labels};
    IrNode *cat = check(&c, "concat of i32", ir_concat(g, NOWHERE, both, 2, 0));
    check(&c, "one_hot", ir_one_hot(g, NOWHERE, cat, 4));
    int64_t d53[] = {5, 3}, d23i[] = {2, 3};
    IrNode *table = random_tensor(g, 2, d53, -1, 1);
    double ids_v[] = {4, 0, 1, 2, 3, 2}, idx_v[] = {4, 0, 5, 2, -1, 2};
    IrNode *ids = index_tensor(g, 2, d23i, ids_v), *idx = index_tensor(g, 2, d23i, idx_v);
    IrNode *rows = check(&c, "gather", ir_gather(g, NOWHERE, table, ids));
    check(&c, "scatter_add (repeats, out of range)", ir_scatter_add(g, NOWHERE, idx, rows, 5));
    run_checks(&c, "layout_ops");
    ir_graph_free(g);
}

/* Random tensors: the compiled program and the evaluator call the same generator, so
 * they must agree bit for bit (an odd-length normal fill, and a fill long enough to run
 * on several threads, included); different counters give different tensors. */
static void test_random(void)
{
    Checks c = {.g = ir_graph_new()};
    IrGraph *g = c.g;
    int64_t d[] = {3, 700}, dn[] = {2, 513}, db[] = {70000};
    IrShape s = shape_of(2, d), sn = shape_of(2, dn), sb = shape_of(1, db);
    IrNode *u = check_exact(&c, "uniform [-2, 3)",
                            ir_random(g, NOWHERE, IR_OP_RANDOM_UNIFORM, &s,
                                      (IrRandomAttr){-2, 3, 42, 7}));
    check_exact(&c, "normal (0.5, 2), odd count",
                ir_random(g, NOWHERE, IR_OP_RANDOM_NORMAL, &sn, (IrRandomAttr){0.5, 2, 42, 9}));
    check_exact(&c, "bernoulli 0.3, 70000 elements",
                ir_random(g, NOWHERE, IR_OP_RANDOM_BERNOULLI, &sb, (IrRandomAttr){0.3, 0, 5, 0}));
    IrNode *u2 = ir_random(g, NOWHERE, IR_OP_RANDOM_UNIFORM, &s, (IrRandomAttr){-2, 3, 42, 8});
    IrNode *same = ir_binary(g, NOWHERE, IR_OP_CMP_EQ, u, u2);
    check(&c, "elements equal across counters 7 and 8",
          ir_reduce(g, NOWHERE, IR_OP_SUM, same, 3));
    run_checks(&c, "random");
    EvalResult r = eval_graph(g, EVAL_F64, NULL);
    double equal = r.values[c.node[3]->id][0];
    record(equal < 10, "random: counters 7 and 8 agree on %g of 2100 elements", equal);
    eval_result_free(&r);
    ir_graph_free(g);
}

/* ---- accuracy of exp, log, tanh, sigmoid ------------------------------------------------------- */

/* Appends to g the nodes that print max |((f(x) - hi) - lo) / hi| over the points. */
static void add_error_probe(IrGraph *g, IrOp op, const double *x, const double *ref, int64_t n)
{
    double *hi = malloc(sizeof(double) * (size_t)n), *lo = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        hi[i] = (float)ref[i];
        lo[i] = (float)(ref[i] - hi[i]);
    }
    int64_t d[] = {n};
    IrNode *xn = konst(g, 1, d, x), *hn = konst(g, 1, d, hi), *ln = konst(g, 1, d, lo);
    IrNode *f = ir_unary(g, NOWHERE, op, xn);
    IrNode *e = ir_binary(g, NOWHERE, IR_OP_SUB, f, hn);
    e = ir_binary(g, NOWHERE, IR_OP_SUB, e, ln);
    e = ir_binary(g, NOWHERE, IR_OP_DIV, e, hn);
    e = ir_binary(g, NOWHERE, IR_OP_MAX, e, ir_unary(g, NOWHERE, IR_OP_NEG, e));
    ir_print(g, NOWHERE, ir_reduce(g, NOWHERE, IR_OP_REDUCE_MAX, e, 1));
    free(hi);
    free(lo);
}

enum { SWEEP = 100000 };

static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }

static void test_math_accuracy(void)
{
    IrGraph *g = ir_graph_new();
    static const struct {
        IrOp op;
        double (*ref)(double);
        double lo, hi;
    } sweeps[] = {
        {IR_OP_EXP, exp, -80, 80},
        {IR_OP_TANH, tanh, -20, 20},
        {IR_OP_SIGMOID, sigmoid_ref, -80, 80},
        {IR_OP_LOG, log, 0.5, 2},    /* linear around 1 (relative error near a zero) */
        {IR_OP_LOG, log, -44, 38.5}, /* log-spaced: x = 10^t, subnormals to near FLT_MAX */
    };
    int nsweeps = (int)ARRAY_LEN(sweeps);
    double *x = malloc(sizeof(double) * SWEEP), *ref = malloc(sizeof(double) * SWEEP);
    for (int s = 0; s < nsweeps; s++) {
        int64_t n = 0;
        for (int64_t i = 0; i < SWEEP; i++) {
            /* midpoints of the grid, so 0 (tanh) and 1 (log) are not hit exactly */
            double t = sweeps[s].lo + (sweeps[s].hi - sweeps[s].lo) * ((double)i + 0.5) / SWEEP;
            double v = (float)(s == 4 ? pow(10, t) : t);
            if (v == 0 || (sweeps[s].op == IR_OP_LOG && v == 1) || !isfinite(v))
                continue;
            x[n] = v;
            ref[n++] = sweeps[s].ref(v);
        }
        add_error_probe(g, sweeps[s].op, x, ref, n);
    }
    free(x);
    free(ref);

    Printed t[MAX_TENSORS];
    if (run_and_parse(g, "math_accuracy", t, nsweeps) == nsweeps) {
        static const char *labels[] = {"exp on [-80, 80]", "tanh on [-20, 20]",
                                       "sigmoid on [-80, 80]", "log on [0.5, 2]",
                                       "log on [1e-44, 3e38]"};
        for (int s = 0; s < nsweeps; s++) {
            double err = t[s].n == 1 ? t[s].v[0] : NAN;
            printf("  %-22s max relative error %.3g (%.2f x FLT_EPSILON)\n", labels[s], err,
                   err / FLT_EPSILON);
            record(err <= 4 * FLT_EPSILON, "%s: max relative error %g exceeds 4 FLT_EPSILON",
                   labels[s], err);
        }
        free_printed(t, nsweeps);
    }
    ir_graph_free(g);
}

/* Special values: infinities, NaN, zeros, overflow/underflow edges, branch boundaries. */
static void test_math_special(void)
{
    IrGraph *g = ir_graph_new();
    static const double exp_x[] = {NAN, INFINITY, -INFINITY, 0, -0.0, 100, -110, 88.7, -87,
                                   1e-10, 0.5};
    static const double tanh_x[] = {NAN, INFINITY, -INFINITY, 0, -0.0, 1e-30, -1e-30, 30, -30,
                                    0.99999, 1.0, 1.00001, -1.0, 9.5, 15};
    static const double log_x[] = {NAN, -1, 0, -0.0, INFINITY, 1, 0x1p-149, 0x1p-130, 3e38, 2,
                                   1.0000001, 0.9999999, -INFINITY};
    static const double sig_x[] = {NAN, INFINITY, -INFINITY, 0, 100, -80, 20, -20};
    static const struct {
        IrOp op;
        const double *x;
        int n;
        double (*ref)(double);
    } cases[] = {
        {IR_OP_EXP, exp_x, ARRAY_LEN(exp_x), exp},
        {IR_OP_TANH, tanh_x, ARRAY_LEN(tanh_x), tanh},
        {IR_OP_LOG, log_x, ARRAY_LEN(log_x), log},
        {IR_OP_SIGMOID, sig_x, ARRAY_LEN(sig_x), sigmoid_ref},
    };
    int ncases = (int)ARRAY_LEN(cases);
    for (int c = 0; c < ncases; c++) {
        double xf[16];
        for (int i = 0; i < cases[c].n; i++)
            xf[i] = (float)cases[c].x[i];
        int64_t d[] = {cases[c].n};
        ir_print(g, NOWHERE, ir_unary(g, NOWHERE, cases[c].op, konst(g, 1, d, xf)));
    }
    Printed t[MAX_TENSORS];
    if (run_and_parse(g, "math_special", t, ncases) == ncases) {
        for (int c = 0; c < ncases; c++) {
            double want[16];
            for (int i = 0; i < cases[c].n; i++) {
                double w = cases[c].ref((float)cases[c].x[i]);
                want[i] = (float)w; /* overflow to inf and underflow to 0 happen in f32 */
            }
            char name[64];
            snprintf(name, sizeof name, "%s special values", ir_op_name(cases[c].op));
            int64_t d[] = {cases[c].n};
            expect_tensor(name, &t[c], 1, d, want);
            /* the sign of zero results: tanh(-0) = -0, exp(-inf) = +0 */
        }
        free_printed(t, ncases);
    }
    ir_graph_free(g);
}

/* ---- printing, vector width, AOT -------------------------------------------------------------- */

/* The text of one function in an assembly listing: from its label to .Lfunc_end. */
static char *asm_function(const char *text, const char *fn)
{
    char label[64];
    snprintf(label, sizeof label, "\n%s:", fn);
    const char *start = strstr(text, label);
    if (!start)
        return NULL;
    const char *end = strstr(start, ".Lfunc_end");
    size_t len = end ? (size_t)(end - start) : strlen(start);
    char *out = malloc(len + 1);
    memcpy(out, start, len);
    out[len] = '\0';
    return out;
}

/* A fused elementwise + reduction kernel (sum of x * y over the last axis) must use 16-wide
 * zmm vectors on an AVX-512 host, and none where the target has no AVX-512 (an AVX2 host,
 * or NNC_ISA=avx2, which makes nnc target x86-64-v3); --emit=llvm must show the program
 * and the kernel. */
static void test_emit_text(void)
{
    IrGraph *g = ir_graph_new();
    int64_t d[] = {64, 1024};
    int64_t n = 64 * 1024;
    double *xv = rnd_array(n, -1, 1);
    IrNode *x = konst(g, 2, d, xv), *y = konst(g, 2, d, xv);
    IrNode *m = b2(g, IR_OP_MUL, x, y);
    IrNode *s = bred(g, IR_OP_SUM, m, 2);
    IrNode *in[] = {x, y}, *body[] = {m, s};
    IrNode *f = fused(g, in, 2, body, 2);
    IrNode *e = ir_unary(g, NOWHERE, IR_OP_EXP, ir_unary(g, NOWHERE, IR_OP_TANH, f));
    ir_print(g, NOWHERE, e);
    ir_verify(g, "emit_text");
    free(xv);
    CgModule *mod = cg_compile(g, "emit_text");
    record(mod != NULL, "emit_text: cg_compile failed");
    if (!mod) {
        ir_graph_free(g);
        return;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    record(cg_print_llvm(mod, mem) == 0, "cg_print_llvm failed");
    fclose(mem);
    char fused_name[32], exp_name[32];
    snprintf(fused_name, sizeof fused_name, "fused_%d", f->id);
    snprintf(exp_name, sizeof exp_name, "exp_%d", e->id);
    record(strstr(text, "define void @nnc_program()") != NULL, "llvm text lacks nnc_program");
    record(strstr(text, fused_name) != NULL, "llvm text lacks %s", fused_name);
    record(strstr(text, "@llvm.exp") == NULL && strstr(text, "@expf") == NULL,
           "exp should be inlined IR, not a call");
    free(text);

    text = NULL;
    mem = open_memstream(&text, &size);
    record(cg_print_asm(mod, mem) == 0, "cg_print_asm failed");
    fclose(mem);
    const char *widths[] = {fused_name, exp_name};
    /* decided here from the host and the environment, not asked of the code generator */
    const char *isa = getenv("NNC_ISA");
    bool want_zmm = __builtin_cpu_supports("avx512f") && !(isa && strcmp(isa, "avx2") == 0);
    printf("  the target %s AVX-512\n", want_zmm ? "has" : "has no");
    for (int i = 0; i < 2; i++) {
        char *body_asm = asm_function(text, widths[i]);
        record(body_asm != NULL, "no function %s in the assembly", widths[i]);
        bool zmm = body_asm && strstr(body_asm, "zmm") != NULL;
        printf("  %s: %s\n", widths[i], zmm ? "uses 16-wide zmm vectors" : "NO zmm vectors");
        if (want_zmm)
            record(zmm, "%s does not use zmm registers", widths[i]);
        else
            record(body_asm && !zmm, "%s uses zmm registers on a target without AVX-512",
                   widths[i]);
        free(body_asm);
    }
    free(text);
    /* the module stays usable after printing: it still runs */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    char *argv[] = {"emit_text", NULL};
    int rc = cg_jit_run(mod, 1, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(null);
    record(rc == 0, "jit run after printing returned %d", rc);
    cg_module_free(mod);
    ir_graph_free(g);
}

/* The same graph, JIT-run and built into an executable, prints the same bytes. */
static void test_aot(void)
{
    IrGraph *g = ir_graph_new();
    int64_t d[] = {3, 40}, d2[] = {40, 2};
    double *xv = rnd_array(120, -3, 3), *wv = rnd_array(80, -1, 1);
    IrNode *x = konst(g, 2, d, xv), *w = konst(g, 2, d2, wv);
    IrNode *t = b1(g, IR_OP_TANH, x);
    IrNode *e = b1(g, IR_OP_EXP, t);
    IrNode *s = bred(g, IR_OP_SUM, e, 2);
    IrNode *body[] = {t, e, s};
    ir_print(g, NOWHERE, fused(g, &x, 1, body, 3));
    ir_print(g, NOWHERE, ir_matmul(g, NOWHERE, x, w));
    int perm[] = {1, 0};
    ir_print(g, NOWHERE, ir_unary(g, NOWHERE, IR_OP_SIGMOID, ir_transpose(g, NOWHERE, x, perm)));
    /* oneDNN convolution and pooling, i32 results and random tensors link and run too */
    int64_t dimg[] = {1, 2, 6, 6}, dk[] = {3, 2, 3, 3};
    IrNode *img = random_tensor(g, 4, dimg, -1, 1), *k = random_tensor(g, 4, dk, -1, 1);
    IrNode *conv = ir_conv2d(g, NOWHERE, img, k, (IrConvAttr){1, 1, 1, 1});
    ir_print(g, NOWHERE, ir_max_pool2d(g, NOWHERE, conv, (IrPoolAttr){2, 2}));
    ir_print(g, NOWHERE, ir_argmax(g, NOWHERE, x, 1));
    IrShape s8 = shape_of(1, (int64_t[]){8});
    ir_print(g, NOWHERE, ir_random(g, NOWHERE, IR_OP_RANDOM_NORMAL, &s8, (IrRandomAttr){0, 1, 1, 0}));
    free(xv);
    free(wv);

    char *jit = jit_output(g, "aot");
    CgModule *m = cg_compile(g, "aot");
    char exe[] = "/tmp/nnc-test-exe-XXXXXX";
    int fd = mkstemp(exe);
    close(fd);
    int rc = m ? cg_emit_executable(m, exe) : 1;
    record(rc == 0, "cg_emit_executable returned %d", rc);
    if (rc == 0 && jit) {
        char *aot = run_executable(exe);
        record(aot != NULL, "the executable did not run cleanly");
        record(aot && strcmp(aot, jit) == 0, "AOT output differs from JIT output:\n%s---\n%s",
               aot ? aot : "", jit);
        free(aot);
    }
    unlink(exe);

    /* a link that cannot succeed: a clear message, 1, and no file left behind */
    const char *bad = "/nonexistent-dir/nnc-test-exe";
    fprintf(stderr, "(expected error follows)\n");
    rc = m ? cg_emit_executable(m, bad) : 0;
    record(rc == 1 && access(bad, F_OK) != 0, "failed link returned %d", rc);

    cg_module_free(m);
    free(jit);
    ir_graph_free(g);
}

/* A program with nothing in it still allocates (0 bytes), releases and exits 0. */
static void test_empty(void)
{
    IrGraph *g = ir_graph_new();
    char *text = jit_output(g, "empty");
    record(text && text[0] == '\0', "empty program printed something");
    free(text);
    ir_graph_free(g);
}

int main(void)
{
    test_empty();
    test_broadcast_chain();
    test_elementwise_ops();
    test_nan_policy();
    test_reductions();
    test_fused_broadcast_body();
    test_layout_and_matmul();
    test_conv();
    test_pool();
    test_layout_ops();
    test_random();
    test_math_accuracy();
    test_math_special();
    test_emit_text();
    test_aot();
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed ? 1 : 0;
}
