/* test_gradcheck.c — every primitive's derivative rule against central finite differences.
 *
 * For each case: inputs x_i are constants with random values; the loss is
 * L = sum(op(x...) * R) for a fixed random R (so every output element matters with a
 * different weight). autodiff builds dL/dx_i; the reference evaluator runs it in f64.
 * Finite differences perturb one element at a time by +-h and evaluate L in f64.
 *
 * Tolerance: |analytic - numeric| <= 1e-6 * max(1, |analytic|, |numeric|). With h = 1e-5
 * in f64, the truncation error is O(h^2 * f''') ~ 1e-10 and the rounding error
 * O(eps * |L| / h) ~ 1e-10 for these magnitudes, so 1e-6 leaves a wide margin while still
 * catching any wrong rule (a wrong sign, factor or missing broadcast sum is O(1)).
 * Inputs avoid kinks (relu at 0, ties in max/min, comparisons at equality; continuous
 * random values make ties in max pooling windows improbable). Integer inputs (gather and
 * scatter_add indices, DOMAIN_INDEX) are not differentiated; they include out-of-range
 * values, whose rows must receive no gradient.
 *
 * Ops without a case, each with its reason (the test fails for any other op without one):
 *   const, random_*, slot_load, scalar_input   no inputs
 *   print, slot_store, scalar_output, grad, fused, matmul_acc  never differentiated
 *                     (effects, replaced by autodiff, made by fusion)
 *   argmax            integer result: no gradient flows through it
 *   one_hot           integer input: no gradient flows into it
 * (max_pool2d_backward's cases have windows that do not overlap: with overlapping ones its
 * derivative in dy is reported as unsupported, rules.c.) */
#include "autodiff/ad.h"
#include "ir/eval.h"
#include "ir/ir.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { DOMAIN_ANY, DOMAIN_POSITIVE, DOMAIN_BOOL, DOMAIN_INDEX };

typedef struct Case {
    const char *name;
    IrOp op;
    int nin;
    IrShape shape[3];
    int domain[3];
    uint32_t axes;                 /* reductions */
    int perm[IR_MAX_RANK];         /* transpose */
    IrShape to;                    /* broadcast, reshape; the result of backward ops and
                                      scatter_add */
    IrConvAttr conv;
    IrPoolAttr pool;
    int factor;                    /* upsample2d */
    int axis;                      /* concat */
    int64_t lo[IR_MAX_RANK], hi[IR_MAX_RANK]; /* slice begin/end, pad before/after */
    int rows;                      /* DOMAIN_INDEX values lie in [-1, rows] */
} Case;

#define S(...) {.rank = sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), .dims = {__VA_ARGS__}}
#define S0 {.rank = 0}

static const Case cases[] = {
    {"neg", IR_OP_NEG, 1, {S(3, 4)}},
    {"exp", IR_OP_EXP, 1, {S(3, 4)}},
    {"log", IR_OP_LOG, 1, {S(3, 4)}, {DOMAIN_POSITIVE}},
    {"sqrt", IR_OP_SQRT, 1, {S(3, 4)}, {DOMAIN_POSITIVE}},
    {"tanh", IR_OP_TANH, 1, {S(3, 4)}},
    {"sigmoid", IR_OP_SIGMOID, 1, {S(3, 4)}},
    {"relu", IR_OP_RELU, 1, {S(3, 4)}},
    {"add", IR_OP_ADD, 2, {S(3, 4), S(4)}},
    {"add_outer", IR_OP_ADD, 2, {S(3, 1), S(1, 4)}},
    {"sub", IR_OP_SUB, 2, {S(3, 4), S(3, 1)}},
    {"mul", IR_OP_MUL, 2, {S(3, 4), S(4)}},
    {"mul_scalar", IR_OP_MUL, 2, {S(3, 4), S0}},
    {"div", IR_OP_DIV, 2, {S(3, 4), S(4)}, {DOMAIN_ANY, DOMAIN_POSITIVE}},
    {"pow", IR_OP_POW, 2, {S(3, 4), S(4)}, {DOMAIN_POSITIVE, DOMAIN_ANY}},
    {"max", IR_OP_MAX, 2, {S(3, 4), S(4)}},
    {"min", IR_OP_MIN, 2, {S(3, 4), S(3, 1)}},
    {"lt", IR_OP_CMP_LT, 2, {S(3, 4), S(4)}},
    {"le", IR_OP_CMP_LE, 2, {S(3, 4), S(4)}},
    {"gt", IR_OP_CMP_GT, 2, {S(3, 4), S(4)}},
    {"ge", IR_OP_CMP_GE, 2, {S(3, 4), S(4)}},
    {"eq", IR_OP_CMP_EQ, 2, {S(3, 4), S(4)}},
    {"ne", IR_OP_CMP_NE, 2, {S(3, 4), S(4)}},
    {"select", IR_OP_SELECT, 3, {S(3, 4), S(3, 4), S(4)}, {DOMAIN_BOOL}},
    {"sum_last", IR_OP_SUM, 1, {S(3, 4)}, .axes = 2},
    {"sum_first", IR_OP_SUM, 1, {S(2, 3, 4)}, .axes = 1},
    {"sum_all", IR_OP_SUM, 1, {S(2, 3, 4)}, .axes = 7},
    {"reduce_max", IR_OP_REDUCE_MAX, 1, {S(3, 4)}, .axes = 2},
    {"reduce_max_all", IR_OP_REDUCE_MAX, 1, {S(3, 4)}, .axes = 3},
    {"broadcast_row", IR_OP_BROADCAST, 1, {S(4)}, .to = S(3, 4)},
    {"broadcast_col", IR_OP_BROADCAST, 1, {S(3, 1)}, .to = S(3, 4)},
    {"reshape", IR_OP_RESHAPE, 1, {S(3, 4)}, .to = S(2, 6)},
    {"transpose", IR_OP_TRANSPOSE, 1, {S(2, 3, 4)}, .perm = {2, 0, 1}},
    {"matmul", IR_OP_MATMUL, 2, {S(3, 4), S(4, 5)}},
    {"matmul_batched", IR_OP_MATMUL, 2, {S(2, 3, 3, 4), S(2, 3, 4, 2)}},
    {"concat", IR_OP_CONCAT, 3, {S(2, 3), S(2, 1), S(2, 2)}, .axis = 1},
    {"concat_axis0", IR_OP_CONCAT, 2, {S(1, 4), S(3, 4)}, .axis = 0},
    {"slice", IR_OP_SLICE, 1, {S(3, 5)}, .lo = {1, 0}, .hi = {3, 4}},
    {"pad", IR_OP_PAD, 1, {S(2, 3)}, .lo = {1, 0}, .hi = {0, 2}},
    {"upsample2d", IR_OP_UPSAMPLE2D, 1, {S(1, 2, 2, 3)}, .factor = 2},
    {"conv2d", IR_OP_CONV2D, 2, {S(2, 3, 5, 5), S(4, 3, 3, 3)}, .conv = {1, 1, 1, 1}},
    {"conv2d_groups", IR_OP_CONV2D, 2, {S(1, 4, 7, 6), S(6, 2, 3, 2)}, .conv = {2, 1, 2, 2}},
    {"conv2d_bwd_data", IR_OP_CONV2D_BACKWARD_DATA, 2, {S(2, 4, 5, 5), S(4, 3, 3, 3)},
     .to = S(2, 3, 5, 5), .conv = {1, 1, 1, 1}},
    {"conv2d_bwd_data_g", IR_OP_CONV2D_BACKWARD_DATA, 2, {S(1, 6, 3, 3), S(6, 2, 3, 2)},
     .to = S(1, 4, 7, 6), .conv = {2, 1, 2, 2}},
    {"conv2d_bwd_weights", IR_OP_CONV2D_BACKWARD_WEIGHTS, 2, {S(2, 3, 5, 5), S(2, 4, 5, 5)},
     .to = S(4, 3, 3, 3), .conv = {1, 1, 1, 1}},
    {"conv2d_bwd_wts_g", IR_OP_CONV2D_BACKWARD_WEIGHTS, 2, {S(1, 4, 7, 6), S(1, 6, 3, 3)},
     .to = S(6, 2, 3, 2), .conv = {2, 1, 2, 2}},
    {"max_pool2d", IR_OP_MAX_POOL2D, 1, {S(2, 2, 5, 5)}, .pool = {2, 2}},
    {"max_pool2d_overlap", IR_OP_MAX_POOL2D, 1, {S(1, 2, 5, 6)}, .pool = {3, 1}},
    /* x, y (unused by the op: no gradient), dy; the gradient in x is 0 away from ties */
    {"max_pool2d_bwd", IR_OP_MAX_POOL2D_BACKWARD, 3, {S(2, 2, 5, 5), S(2, 2, 2, 2), S(2, 2, 2, 2)},
     .pool = {2, 2}},
    {"max_pool2d_bwd_gaps", IR_OP_MAX_POOL2D_BACKWARD, 3,
     {S(1, 2, 5, 6), S(1, 2, 2, 2), S(1, 2, 2, 2)}, .pool = {2, 3}},
    {"avg_pool2d", IR_OP_AVG_POOL2D, 1, {S(1, 2, 5, 6)}, .pool = {2, 2}},
    {"avg_pool2d_overlap", IR_OP_AVG_POOL2D, 1, {S(1, 2, 5, 6)}, .pool = {3, 2}},
    {"avg_pool2d_bwd", IR_OP_AVG_POOL2D_BACKWARD, 1, {S(1, 2, 2, 2)}, .to = S(1, 2, 5, 6),
     .pool = {3, 2}},
    {"cast", IR_OP_CAST, 1, {S(3, 4)}}, /* f32 -> f32; casts involving i32 carry none */
    {"gather", IR_OP_GATHER, 2, {S(5, 3), S(2, 3)}, {DOMAIN_ANY, DOMAIN_INDEX}, .rows = 5},
    {"scatter_add", IR_OP_SCATTER_ADD, 2, {S(6), S(6, 3)}, {DOMAIN_INDEX}, .to = S(5, 3),
     .rows = 5},
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(void)  /* in [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Values away from 0 and from each other, so no kink or tie is within h. */
static double sample(int domain, int rows)
{
    if (domain == DOMAIN_BOOL)
        return uniform() < 0.5 ? 0.0 : 1.0;
    if (domain == DOMAIN_INDEX) /* -1 and rows are out of range */
        return floor(uniform() * (rows + 2)) - 1;
    double mag = 0.2 + 1.3 * uniform();
    if (domain == DOMAIN_POSITIVE)
        return mag;
    return uniform() < 0.5 ? -mag : mag;
}

static IrNode *apply(IrGraph *g, const Case *c, IrNode **x)
{
    Span s = {0};
    switch (c->op) {
    case IR_OP_CONCAT: return ir_concat(g, s, x, c->nin, c->axis);
    case IR_OP_SLICE: return ir_slice(g, s, x[0], c->lo, c->hi);
    case IR_OP_PAD: return ir_pad(g, s, x[0], c->lo, c->hi);
    case IR_OP_UPSAMPLE2D: return ir_upsample2d(g, s, x[0], c->factor);
    case IR_OP_CONV2D: return ir_conv2d(g, s, x[0], x[1], c->conv);
    case IR_OP_CONV2D_BACKWARD_DATA:
        return ir_conv2d_backward_data(g, s, x[0], x[1], &c->to, c->conv);
    case IR_OP_CONV2D_BACKWARD_WEIGHTS:
        return ir_conv2d_backward_weights(g, s, x[0], x[1], &c->to, c->conv);
    case IR_OP_MAX_POOL2D: return ir_max_pool2d(g, s, x[0], c->pool);
    case IR_OP_AVG_POOL2D: return ir_avg_pool2d(g, s, x[0], c->pool);
    case IR_OP_MAX_POOL2D_BACKWARD:
        return ir_max_pool2d_backward(g, s, x[0], x[1], x[2], c->pool);
    case IR_OP_AVG_POOL2D_BACKWARD: return ir_avg_pool2d_backward(g, s, x[0], &c->to, c->pool);
    case IR_OP_GATHER: return ir_gather(g, s, x[0], x[1]);
    case IR_OP_SCATTER_ADD: return ir_scatter_add(g, s, x[0], x[1], c->to.dims[0]);
    case IR_OP_CAST: return ir_cast(g, s, x[0], IR_F32);
    default: break;
    }
    switch (ir_op_kind(c->op)) {
    case IR_KIND_UNARY: return ir_unary(g, s, c->op, x[0]);
    case IR_KIND_BINARY: return ir_binary(g, s, c->op, x[0], x[1]);
    case IR_KIND_SELECT: return ir_select(g, s, x[0], x[1], x[2]);
    case IR_KIND_REDUCE: return ir_reduce(g, s, c->op, x[0], c->axes);
    case IR_KIND_BROADCAST: return ir_broadcast(g, s, x[0], &c->to);
    case IR_KIND_MATMUL: return ir_matmul(g, s, x[0], x[1]);
    case IR_KIND_LAYOUT:
        return c->op == IR_OP_RESHAPE ? ir_reshape(g, s, x[0], &c->to)
                                      : ir_transpose(g, s, x[0], c->perm);
    default: UNREACHABLE();
    }
}

/* Builds L = sum(op(x) * R); returns L, with the inputs in x[] and R's values in r. */
static IrNode *build_loss(IrGraph *g, const Case *c, double *const *inputs, const double *r,
                          IrNode **x)
{
    for (int i = 0; i < c->nin; i++)
        x[i] = ir_const_typed(g, (Span){0}, c->domain[i] == DOMAIN_INDEX ? IR_I32 : IR_F32,
                              &c->shape[i], inputs[i]);
    IrNode *y = apply(g, c, x);
    IrNode *weights = ir_const(g, (Span){0}, &y->shape, r);
    IrNode *prod = ir_binary(g, (Span){0}, IR_OP_MUL, y, weights);
    uint32_t all = y->shape.rank ? (1u << y->shape.rank) - 1 : 0;
    return all ? ir_reduce(g, (Span){0}, IR_OP_SUM, prod, all) : prod;
}

static double loss_value(const Case *c, double *const *inputs, const double *r)
{
    IrGraph *g = ir_graph_new();
    IrNode *x[3];
    IrNode *loss = build_loss(g, c, inputs, r, x);
    EvalResult res = eval_graph(g, EVAL_F64, NULL);
    double v = res.values[loss->id][0];
    eval_result_free(&res);
    ir_graph_free(g);
    return v;
}

/* Returns the worst relative error over all inputs of the case. */
static double check_case(const Case *c)
{
    double *inputs[3];
    for (int i = 0; i < c->nin; i++) {
        int64_t n = ir_shape_numel(&c->shape[i]);
        inputs[i] = util_malloc(sizeof(double) * (size_t)n);
        for (int64_t k = 0; k < n; k++)
            inputs[i][k] = sample(c->domain[i], c->rows);
    }
    /* Output shape, for the weights. */
    IrGraph *probe = ir_graph_new();
    IrNode *px[3];
    for (int i = 0; i < c->nin; i++)
        px[i] = ir_const_typed(probe, (Span){0}, c->domain[i] == DOMAIN_INDEX ? IR_I32 : IR_F32,
                               &c->shape[i], inputs[i]);
    int64_t nout = ir_shape_numel(&apply(probe, c, px)->shape);
    ir_graph_free(probe);
    double *r = util_malloc(sizeof(double) * (size_t)nout);
    for (int64_t k = 0; k < nout; k++)
        r[k] = sample(DOMAIN_ANY, 0);

    IrGraph *g = ir_graph_new();
    IrNode *x[3];
    IrNode *loss = build_loss(g, c, inputs, r, x);
    /* GRAD nodes are replaced in place; find their replacements through PRINTs. */
    IrNode *prints[3] = {NULL};
    for (int i = 0; i < c->nin; i++)
        if (c->domain[i] != DOMAIN_INDEX)
            prints[i] = ir_print(g, (Span){0}, ir_grad(g, (Span){0}, loss, x[i]));
    ad_run(g);
    ir_verify(g, "autodiff");
    EvalResult res = eval_graph(g, EVAL_F64, NULL);

    double worst = 0, h = 1e-5;
    for (int i = 0; i < c->nin; i++) {
        if (c->domain[i] == DOMAIN_BOOL || c->domain[i] == DOMAIN_INDEX)
            continue; /* a select's condition and indices have no gradient */
        const double *analytic = res.values[prints[i]->in[0]->id];
        int64_t n = ir_shape_numel(&c->shape[i]);
        for (int64_t k = 0; k < n; k++) {
            double saved = inputs[i][k];
            inputs[i][k] = saved + h;
            double up = loss_value(c, inputs, r);
            inputs[i][k] = saved - h;
            double down = loss_value(c, inputs, r);
            inputs[i][k] = saved;
            double numeric = (up - down) / (2 * h);
            double scale = fmax(1.0, fmax(fabs(analytic[k]), fabs(numeric)));
            double err = fabs(analytic[k] - numeric) / scale;
            if (err > worst)
                worst = err;
        }
    }
    eval_result_free(&res);
    ir_graph_free(g);
    for (int i = 0; i < c->nin; i++)
        util_free(inputs[i]);
    util_free(r);
    return worst;
}

int main(void)
{
    const double tolerance = 1e-6;
    int passed = 0, failed = 0;
    bool covered[IR_OP_COUNT] = {0};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        double err = check_case(&cases[i]);
        bool ok = err <= tolerance;
        covered[cases[i].op] = true;
        printf("%-20s max relative error %.3e %s\n", cases[i].name, err, ok ? "ok" : "FAIL");
        ok ? passed++ : failed++;
    }
    /* Every differentiable primitive must have a case; the exemptions are listed, with
     * their reasons, at the top of this file. */
    for (int op = 0; op < IR_OP_COUNT; op++) {
        if (ir_op_kind((IrOp)op) == IR_KIND_SOURCE || ir_op_kind((IrOp)op) == IR_KIND_EFFECT ||
            op == IR_OP_GRAD ||
            op == IR_OP_FUSED || op == IR_OP_MATMUL_ACC || op == IR_OP_ARGMAX || op == IR_OP_ONE_HOT)
            continue;
        if (!covered[op]) {
            printf("%-16s has no gradient check FAIL\n", ir_op_name((IrOp)op));
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
