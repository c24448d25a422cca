/* eval.c — the reference evaluator (see eval.h): obvious loops, no cleverness, so it can
 * be trusted as the oracle for compiled code and for gradient checks. */
#include "ir/eval.h"
#include "nnc_rt.h"
#include "util/util.h"

#include <math.h>
#include <string.h>

typedef struct Eval {
    double **values;
    EvalPrecision precision;
    FILE *out;
} Eval;

static double round_to(const Eval *e, double v)
{
    return e->precision == EVAL_F32 ? (double)(float)v : v;
}

static double apply_unary(IrOp op, double x)
{
    switch (op) {
    case IR_OP_NEG: return -x;
    case IR_OP_EXP: return exp(x);
    case IR_OP_LOG: return log(x);
    case IR_OP_SQRT: return sqrt(x);
    case IR_OP_TANH: return tanh(x);
    case IR_OP_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case IR_OP_RELU: return isnan(x) ? x : x > 0 ? x : 0;
    case IR_OP_BROADCAST: return x;
    default: UNREACHABLE();
    }
}

static double apply_binary(IrOp op, double a, double b)
{
    switch (op) {
    case IR_OP_ADD: return a + b;
    case IR_OP_SUB: return a - b;
    case IR_OP_MUL: return a * b;
    case IR_OP_DIV: return a / b;
    case IR_OP_POW: return pow(a, b);
    /* NaN propagates and -0 < +0, as in numpy and PyTorch (and the compiled code). */
    case IR_OP_MAX:
        if (isnan(a) || isnan(b))
            return a + b;
        return a == b ? (signbit(a) ? b : a) : a > b ? a : b;
    case IR_OP_MIN:
        if (isnan(a) || isnan(b))
            return a + b;
        return a == b ? (signbit(a) ? a : b) : a < b ? a : b;
    case IR_OP_CMP_LT: return a < b;
    case IR_OP_CMP_LE: return a <= b;
    case IR_OP_CMP_GT: return a > b;
    case IR_OP_CMP_GE: return a >= b;
    case IR_OP_CMP_EQ: return a == b;
    case IR_OP_CMP_NE: return a != b;
    default: UNREACHABLE();
    }
}

/* Advances a row-major multi-index over `shape`; returns false after the last. */
static bool next_index(int64_t *idx, const IrShape *shape)
{
    for (int d = shape->rank - 1; d >= 0; d--) {
        if (++idx[d] < shape->dims[d])
            return true;
        idx[d] = 0;
    }
    return false;
}

static int64_t offset(const int64_t *idx, const int64_t *strides, int rank)
{
    int64_t o = 0;
    for (int d = 0; d < rank; d++)
        o += idx[d] * strides[d];
    return o;
}

static void eval_elementwise(Eval *e, IrNode *n, double *out)
{
    int64_t strides[3][IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    for (int i = 0; i < n->nin; i++)
        ir_broadcast_strides(&n->in[i]->shape, &n->shape, strides[i]);
    if (ir_shape_numel(&n->shape) == 0)
        return;
    int64_t k = 0;
    do {
        double a = e->values[n->in[0]->id][offset(idx, strides[0], n->shape.rank)], r;
        if (n->nin == 1) {
            r = apply_unary(n->op, a);
        } else {
            double b = e->values[n->in[1]->id][offset(idx, strides[1], n->shape.rank)];
            if (n->op == IR_OP_SELECT) {
                double c = e->values[n->in[2]->id][offset(idx, strides[2], n->shape.rank)];
                r = a != 0 ? b : c;
            } else {
                r = apply_binary(n->op, a, b);
            }
        }
        out[k++] = round_to(e, r);
    } while (next_index(idx, &n->shape));
}

static void eval_reduce(Eval *e, IrNode *n, double *out)
{
    const IrShape *in = &n->in[0]->shape;
    int64_t numel = ir_shape_numel(&n->shape);
    for (int64_t i = 0; i < numel; i++)
        out[i] = n->op == IR_OP_SUM ? 0 : -INFINITY;
    /* Output strides seen from the input: 0 along reduced axes. */
    int64_t ostr[IR_MAX_RANK], own[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    ir_contiguous_strides(&n->shape, own);
    for (int d = 0, k = 0; d < in->rank; d++)
        ostr[d] = (n->attr.reduce.axes & (1u << d)) ? 0 : own[k++];
    const double *x = e->values[n->in[0]->id];
    if (ir_shape_numel(in) == 0)
        return;
    int64_t k = 0;
    do {
        double *o = &out[offset(idx, ostr, in->rank)];
        double v = x[k++];
        *o = n->op == IR_OP_SUM ? *o + v : (v > *o || isnan(v) ? v : *o);
    } while (next_index(idx, in));
    for (int64_t i = 0; i < numel; i++)
        out[i] = round_to(e, out[i]);
}

static void eval_transpose(Eval *e, IrNode *n, double *out)
{
    const IrShape *in = &n->in[0]->shape;
    int64_t istr[IR_MAX_RANK], str[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    ir_contiguous_strides(in, istr);
    for (int d = 0; d < n->shape.rank; d++)
        str[d] = istr[n->attr.transpose.perm[d]];
    if (ir_shape_numel(&n->shape) == 0)
        return;
    const double *x = e->values[n->in[0]->id];
    int64_t k = 0;
    do
        out[k++] = x[offset(idx, str, n->shape.rank)];
    while (next_index(idx, &n->shape));
}

static void eval_matmul(Eval *e, IrNode *n, double *out)
{
    int64_t M = n->shape.dims[0], N = n->shape.dims[1], K = n->in[0]->shape.dims[1];
    const double *a = e->values[n->in[0]->id], *b = e->values[n->in[1]->id];
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += a[i * K + k] * b[k * N + j];
            out[i * N + j] = round_to(e, acc);
        }
}

static void eval_node(Eval *e, IrNode *n)
{
    int64_t numel = ir_shape_numel(&n->shape);
    double *out = util_malloc(sizeof(double) * (size_t)(numel ? numel : 1));
    e->values[n->id] = out;
    switch (ir_op_kind(n->op)) {
    case IR_KIND_SOURCE:
        for (int64_t i = 0; i < numel; i++)
            out[i] = round_to(e, n->attr.konst.values[i]);
        return;
    case IR_KIND_UNARY:
    case IR_KIND_BINARY:
    case IR_KIND_SELECT:
    case IR_KIND_BROADCAST: eval_elementwise(e, n, out); return;
    case IR_KIND_REDUCE: eval_reduce(e, n, out); return;
    case IR_KIND_MATMUL: eval_matmul(e, n, out); return;
    case IR_KIND_LAYOUT:
        if (n->op == IR_OP_RESHAPE)
            memcpy(out, e->values[n->in[0]->id], sizeof(double) * (size_t)numel);
        else
            eval_transpose(e, n, out);
        return;
    case IR_KIND_EFFECT:
        if (e->out)
            rt_fprint_f64(e->out, "f32", e->values[n->in[0]->id], n->in[0]->shape.rank,
                          n->in[0]->shape.dims);
        return;
    case IR_KIND_META:
        if (n->op == IR_OP_FUSED) {
            IrNode *last = NULL;
            for (int i = 0; i < n->attr.fused.nbody; i++)
                eval_node(e, last = n->attr.fused.body[i]);
            memcpy(out, e->values[last->id], sizeof(double) * (size_t)numel);
            return;
        }
        UNREACHABLE(); /* GRAD: autodiff runs before evaluation */
    }
}

EvalResult eval_graph(const IrGraph *g, EvalPrecision p, FILE *out)
{
    Eval e = {.precision = p, .out = out};
    e.values = util_malloc(sizeof(double *) * (size_t)(g->next_id + 1));
    memset(e.values, 0, sizeof(double *) * (size_t)(g->next_id + 1));
    for (int i = 0; i < g->len; i++)
        eval_node(&e, g->nodes[i]);
    return (EvalResult){e.values, g->next_id};
}

void eval_result_free(EvalResult *r)
{
    for (int i = 0; i < r->count; i++)
        util_free(r->values[i]);
    util_free(r->values);
    *r = (EvalResult){0};
}
