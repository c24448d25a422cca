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
    EvalEnv *env;   /* may be NULL */
} Eval;

static double round_to(const Eval *e, double v)
{
    return e->precision == EVAL_F32 ? (double)(float)v : v;
}

/* Rounds every element of n's result (f32 mode; I32 values are exact already). */
static void round_all(const Eval *e, const IrNode *n, double *out)
{
    if (n->dtype == IR_I32)
        return;
    int64_t numel = ir_shape_numel(&n->shape);
    for (int64_t i = 0; i < numel; i++)
        out[i] = round_to(e, out[i]);
}

/* CAST to i32: truncation toward zero, saturating at the i32 range, NaN -> 0 (what
 * llvm.fptosi.sat computes in compiled code). */
static double to_i32(double x)
{
    if (isnan(x))
        return 0;
    if (x <= (double)INT32_MIN)
        return (double)INT32_MIN;
    if (x >= (double)INT32_MAX)
        return (double)INT32_MAX;
    return trunc(x) + 0.0; /* -0.5 truncates to -0, an i32 0 */
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
        if (n->op == IR_OP_CAST) {
            r = a; /* converted below */
        } else if (n->nin == 1) {
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
        if (n->op == IR_OP_CAST && n->dtype == IR_I32)
            r = to_i32(a);
        else if (n->op == IR_OP_CAST)
            r = a;
        out[k++] = n->dtype == IR_I32 ? r : round_to(e, r);
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

/* MATMUL_ACC adds beta * c to the product, rounded as the mul and add it stands for. */
static void eval_matmul(Eval *e, IrNode *n, double *out)
{
    bool acc_into = n->op == IR_OP_MATMUL_ACC;
    bool ta = n->attr.matmul.trans_a, tb = n->attr.matmul.trans_b;
    int r = n->shape.rank;
    int64_t M = n->shape.dims[r - 2], N = n->shape.dims[r - 1];
    int64_t K = n->in[0]->shape.dims[r - (ta ? 2 : 1)];
    int64_t batch = M * N > 0 ? ir_shape_numel(&n->shape) / (M * N) : 0;
    for (int64_t s = 0; s < batch; s++) {
        const double *a = e->values[n->in[0]->id] + s * M * K;
        const double *b = e->values[n->in[1]->id] + s * K * N;
        double *c = out + s * M * N;
        for (int64_t i = 0; i < M; i++) {
            /* each element sums its products in k order from 0, whichever loop runs inside */
            double *row = c + i * N;
            if (!tb) { /* b's rows are contiguous: over j inside */
                for (int64_t j = 0; j < N; j++)
                    row[j] = 0;
                for (int64_t k = 0; k < K; k++) {
                    double aik = ta ? a[k * M + i] : a[i * K + k];
                    const double *brow = b + k * N;
                    for (int64_t j = 0; j < N; j++)
                        row[j] += aik * brow[j];
                }
            } else {
                for (int64_t j = 0; j < N; j++) {
                    double acc = 0;
                    for (int64_t k = 0; k < K; k++)
                        acc += (ta ? a[k * M + i] : a[i * K + k]) * b[j * K + k];
                    row[j] = acc;
                }
            }
            for (int64_t j = 0; j < N; j++) {
                row[j] = round_to(e, row[j]);
                if (acc_into) {
                    double beta = e->values[n->in[3]->id][0];
                    double old = e->values[n->in[2]->id][s * M * N + i * N + j];
                    row[j] = round_to(e, round_to(e, beta * old) + row[j]);
                }
            }
        }
    }
}

/* ---- layout ops: every result element is one input element or zero ---------------- */

/* Copies src (shape `shape`, contiguous) into dst at the block whose first element has
 * multi-index `at` in a contiguous tensor of shape `dst_shape`. */
static void copy_block(double *dst, const IrShape *dst_shape, const int64_t *at,
                       const double *src, const IrShape *shape)
{
    int64_t dstr[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    ir_contiguous_strides(dst_shape, dstr);
    int64_t base = offset(at, dstr, shape->rank);
    if (ir_shape_numel(shape) == 0)
        return;
    int64_t k = 0;
    do
        dst[base + offset(idx, dstr, shape->rank)] = src[k++];
    while (next_index(idx, shape));
}

static void eval_concat(Eval *e, IrNode *n, double *out)
{
    int64_t at[IR_MAX_RANK] = {0};
    for (int i = 0; i < n->nin; i++) {
        copy_block(out, &n->shape, at, e->values[n->in[i]->id], &n->in[i]->shape);
        at[n->attr.concat.axis] += n->in[i]->shape.dims[n->attr.concat.axis];
    }
}

static void eval_slice(Eval *e, IrNode *n, double *out)
{
    int64_t istr[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    ir_contiguous_strides(&n->in[0]->shape, istr);
    int64_t base = offset(n->attr.slice.begin, istr, n->shape.rank);
    const double *x = e->values[n->in[0]->id];
    if (ir_shape_numel(&n->shape) == 0)
        return;
    int64_t k = 0;
    do
        out[k++] = x[base + offset(idx, istr, n->shape.rank)];
    while (next_index(idx, &n->shape));
}

static void eval_pad(Eval *e, IrNode *n, double *out)
{
    memset(out, 0, sizeof(double) * (size_t)ir_shape_numel(&n->shape));
    copy_block(out, &n->shape, n->attr.pad.before, e->values[n->in[0]->id], &n->in[0]->shape);
}

/* y[n, c, i, j] = x[n, c, i / factor, j / factor] */
static void eval_upsample2d(Eval *e, IrNode *n, double *out)
{
    const int64_t *d = n->shape.dims;
    int64_t f = n->attr.upsample.factor;
    const double *x = e->values[n->in[0]->id];
    int64_t h = d[2] / f, w = d[3] / f, k = 0;
    for (int64_t nc = 0; nc < d[0] * d[1]; nc++)
        for (int64_t i = 0; i < d[2]; i++)
            for (int64_t j = 0; j < d[3]; j++)
                out[k++] = x[(nc * h + i / f) * w + j / f];
}

/* ---- convolution and pooling --------------------------------------------------------------- */

/* out[i] += row[i * stride] * weight for i in [0, count). */
static void add_scaled_row(double *restrict out, const double *restrict row, int64_t stride,
                           double weight, int64_t count)
{
    if (stride == 1)
        for (int64_t i = 0; i < count; i++)
            out[i] += row[i] * weight;
    else
        for (int64_t i = 0; i < count; i++)
            out[i] += row[i * stride] * weight;
}

/* The output columns ow in [*first, *end) of kernel column kw whose input column
 * iw = ow * stride + *shift lies in [0, W); false when there are none. */
static bool conv_columns(const IrConvAttr *c, int64_t kw, int64_t W, int64_t OW, int64_t *shift,
                         int64_t *first, int64_t *end)
{
    int64_t s = c->stride;
    *shift = kw * c->dilation - c->padding;
    *first = *shift < 0 ? (-*shift + s - 1) / s : 0;
    *end = W - 1 - *shift < 0 ? 0 : (W - 1 - *shift) / s + 1;
    if (*end > OW)
        *end = OW;
    return *first < *end;
}

/* CONV2D: every term of the bilinear form (eval_conv), one output row of a kernel tap at a
 * time, each output's terms added in the order (cg, kh, kw), with the bounds checks out of
 * the rows. It is the evaluator's hot loop in `nnc gradcheck`, which evaluates a
 * network's forward pass twice per element checked. */
static void conv_forward(const double *x, const double *w, const IrConvAttr *c,
                         const IrShape *xs, const IrShape *ws, const IrShape *ys, double *y)
{
    int64_t N = xs->dims[0], C = xs->dims[1], H = xs->dims[2], W = xs->dims[3];
    int64_t O = ws->dims[0], CG = ws->dims[1], KH = ws->dims[2], KW = ws->dims[3];
    int64_t OH = ys->dims[2], OW = ys->dims[3], OG = O / c->groups, s = c->stride;
    for (int64_t in = 0; in < N; in++)
        for (int64_t o = 0; o < O; o++) {
            double *plane = y + (in * O + o) * OH * OW;
            for (int64_t cg = 0; cg < CG; cg++) {
                const double *channel = x + (in * C + o / OG * CG + cg) * H * W;
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < KW; kw++) {
                        double weight = w[((o * CG + cg) * KH + kh) * KW + kw];
                        int64_t shift, first, end;
                        if (!conv_columns(c, kw, W, OW, &shift, &first, &end))
                            continue;
                        for (int64_t oh = 0; oh < OH; oh++) {
                            int64_t ih = oh * s - c->padding + kh * c->dilation;
                            if (ih < 0 || ih >= H)
                                continue;
                            add_scaled_row(plane + oh * OW + first,
                                           channel + ih * W + first * s + shift, s, weight,
                                           end - first);
                        }
                    }
            }
        }
}

/* CONV2D_BACKWARD_DATA (a = dy, b = w, out = dx) and CONV2D_BACKWARD_WEIGHTS (a = x,
 * b = dy, out = dw): every term of the bilinear form (eval_conv), one output row of a
 * kernel tap at a time, as conv_forward: the program oracle trains CNNs on it. */
static void conv_backward(IrOp op, const double *a, const double *b, const IrConvAttr *c,
                          const IrShape *xs, const IrShape *ws, const IrShape *ys, double *out)
{
    int64_t N = xs->dims[0], C = xs->dims[1], H = xs->dims[2], W = xs->dims[3];
    int64_t O = ws->dims[0], CG = ws->dims[1], KH = ws->dims[2], KW = ws->dims[3];
    int64_t OH = ys->dims[2], OW = ys->dims[3], OG = O / c->groups, s = c->stride;
    for (int64_t in = 0; in < N; in++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t cg = 0; cg < CG; cg++) {
                int64_t ci = o / OG * CG + cg;
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < KW; kw++) {
                        int64_t wi = ((o * CG + cg) * KH + kh) * KW + kw, shift, first, end;
                        if (!conv_columns(c, kw, W, OW, &shift, &first, &end))
                            continue;
                        for (int64_t oh = 0; oh < OH; oh++) {
                            int64_t ih = oh * s - c->padding + kh * c->dilation;
                            if (ih < 0 || ih >= H)
                                continue;
                            int64_t x_row = ((in * C + ci) * H + ih) * W + shift;
                            int64_t y_row = ((in * O + o) * OH + oh) * OW;
                            if (op == IR_OP_CONV2D_BACKWARD_DATA) {
                                for (int64_t ow = first; ow < end; ow++)
                                    out[x_row + ow * s] += a[y_row + ow] * b[wi];
                            } else {
                                double acc = 0;
                                for (int64_t ow = first; ow < end; ow++)
                                    acc += a[x_row + ow * s] * b[y_row + ow];
                                out[wi] += acc;
                            }
                        }
                    }
            }
}

/* The three convolution ops are one bilinear form read three ways: for every term
 * x[xi] * w[wi] of y[yi] (ir.h), CONV2D adds x[xi] w[wi] to y[yi], CONV2D_BACKWARD_DATA
 * adds dy[yi] w[wi] to dx[xi], and CONV2D_BACKWARD_WEIGHTS adds x[xi] dy[yi] to dw[wi]. */
static void eval_conv(Eval *e, IrNode *n, double *out)
{
    const IrShape *xs, *ws, *ys;
    const double *a = e->values[n->in[0]->id], *b = e->values[n->in[1]->id];
    switch (n->op) {
    case IR_OP_CONV2D: xs = &n->in[0]->shape, ws = &n->in[1]->shape, ys = &n->shape; break;
    case IR_OP_CONV2D_BACKWARD_DATA: xs = &n->shape, ws = &n->in[1]->shape, ys = &n->in[0]->shape; break;
    case IR_OP_CONV2D_BACKWARD_WEIGHTS: xs = &n->in[0]->shape, ws = &n->shape, ys = &n->in[1]->shape; break;
    default: UNREACHABLE();
    }
    memset(out, 0, sizeof(double) * (size_t)ir_shape_numel(&n->shape));
    if (n->op == IR_OP_CONV2D)
        conv_forward(a, b, &n->attr.conv, xs, ws, ys, out);
    else
        conv_backward(n->op, a, b, &n->attr.conv, xs, ws, ys, out);
    round_all(e, n, out);
}

/* Visits every pooling window: x is [N, C, H, W] (contiguous), y [N, C, OH, OW]; calls
 * visit with the window's output index and the input offsets of its size * size elements
 * in row-major window order. */
typedef void PoolVisit(Eval *e, IrNode *n, double *out, int64_t yi, const int64_t *xi, int k);

static void each_window(Eval *e, IrNode *n, const IrShape *xs, const IrShape *ys, double *out,
                        PoolVisit *visit)
{
    int size = n->attr.pool.size, stride = n->attr.pool.stride;
    int64_t *xi = util_malloc(sizeof(int64_t) * (size_t)size * (size_t)size);
    int64_t H = xs->dims[2], W = xs->dims[3], OH = ys->dims[2], OW = ys->dims[3], yi = 0;
    for (int64_t nc = 0; nc < xs->dims[0] * xs->dims[1]; nc++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++, yi++) {
                int k = 0;
                for (int kh = 0; kh < size; kh++)
                    for (int kw = 0; kw < size; kw++)
                        xi[k++] = (nc * H + oh * stride + kh) * W + ow * stride + kw;
                visit(e, n, out, yi, xi, k);
            }
    util_free(xi);
}

/* The first maximal element of the window in row-major order (only a strictly greater
 * element replaces the best so far, so ties keep the first and a NaN never wins unless it
 * comes first). Compiled code uses the same rule (runtime/rt_pool2d.c). */
static int64_t window_argmax(const double *x, const int64_t *xi, int k)
{
    int64_t best = xi[0];
    for (int i = 1; i < k; i++)
        if (x[xi[i]] > x[best])
            best = xi[i];
    return best;
}

static void visit_max(Eval *e, IrNode *n, double *out, int64_t yi, const int64_t *xi, int k)
{
    const double *x = e->values[n->in[0]->id];
    out[yi] = x[window_argmax(x, xi, k)];
}

static void visit_avg(Eval *e, IrNode *n, double *out, int64_t yi, const int64_t *xi, int k)
{
    const double *x = e->values[n->in[0]->id];
    double acc = 0;
    for (int i = 0; i < k; i++)
        acc += x[xi[i]];
    out[yi] = acc / k;
}

static void visit_max_backward(Eval *e, IrNode *n, double *out, int64_t yi, const int64_t *xi,
                               int k)
{
    out[window_argmax(e->values[n->in[0]->id], xi, k)] += e->values[n->in[2]->id][yi];
}

static void visit_avg_backward(Eval *e, IrNode *n, double *out, int64_t yi, const int64_t *xi,
                               int k)
{
    double share = e->values[n->in[0]->id][yi] / k;
    for (int i = 0; i < k; i++)
        out[xi[i]] += share;
}

static void eval_pool(Eval *e, IrNode *n, double *out)
{
    memset(out, 0, sizeof(double) * (size_t)ir_shape_numel(&n->shape));
    switch (n->op) {
    case IR_OP_MAX_POOL2D: each_window(e, n, &n->in[0]->shape, &n->shape, out, visit_max); break;
    case IR_OP_AVG_POOL2D: each_window(e, n, &n->in[0]->shape, &n->shape, out, visit_avg); break;
    case IR_OP_MAX_POOL2D_BACKWARD:
        each_window(e, n, &n->shape, &n->in[2]->shape, out, visit_max_backward);
        break;
    case IR_OP_AVG_POOL2D_BACKWARD:
        each_window(e, n, &n->shape, &n->in[0]->shape, out, visit_avg_backward);
        break;
    default: UNREACHABLE();
    }
    round_all(e, n, out);
}

/* ---- indexing ------------------------------------------------------------------------------ */

/* out [S, D] = table[indices] (zero rows for indices outside the table) */
static void eval_gather(Eval *e, IrNode *n, double *out)
{
    const IrShape *t = &n->in[0]->shape;
    int64_t V = t->dims[0], D = t->dims[1], M = ir_shape_numel(&n->in[1]->shape);
    const double *table = e->values[n->in[0]->id], *idx = e->values[n->in[1]->id];
    for (int64_t m = 0; m < M; m++) {
        int64_t row = (int64_t)idx[m];
        for (int64_t d = 0; d < D; d++)
            out[m * D + d] = row >= 0 && row < V ? table[row * D + d] : 0;
    }
}

/* out [V, D] = 0; out[indices[m]] += updates[m] (dropped outside the table) */
static void eval_scatter_add(Eval *e, IrNode *n, double *out)
{
    int64_t V = n->shape.dims[0], D = n->shape.dims[1], M = ir_shape_numel(&n->in[0]->shape);
    const double *idx = e->values[n->in[0]->id], *upd = e->values[n->in[1]->id];
    memset(out, 0, sizeof(double) * (size_t)(V * D));
    for (int64_t m = 0; m < M; m++) {
        int64_t row = (int64_t)idx[m];
        if (row >= 0 && row < V)
            for (int64_t d = 0; d < D; d++)
                out[row * D + d] += upd[m * D + d];
    }
    round_all(e, n, out);
}

/* x viewed as [outer, len, inner] with len the axis; out [outer, inner] */
static void eval_argmax(Eval *e, IrNode *n, double *out)
{
    const IrShape *xs = &n->in[0]->shape;
    int axis = n->attr.argmax.axis;
    int64_t outer, inner, len = xs->dims[axis];
    ir_shape_around(xs, axis, &outer, &inner);
    const double *x = e->values[n->in[0]->id];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const double *row = x + o * len * inner + i;
            int64_t best = 0;
            for (int64_t k = 1; k < len && !isnan(row[best * inner]); k++)
                if (row[k * inner] > row[best * inner] || isnan(row[k * inner]))
                    best = k;
            out[o * inner + i] = (double)best;
        }
}

static void eval_one_hot(Eval *e, IrNode *n, double *out)
{
    int64_t M = ir_shape_numel(&n->in[0]->shape), depth = n->attr.one_hot.depth;
    const double *labels = e->values[n->in[0]->id];
    for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < depth; j++)
            out[m * depth + j] = labels[m] == (double)j;
}

/* ---- random tensors --------------------------------------------------------------------- */

/* The runtime's generator fills f32 (ir.h): the values are f32 in both precisions. */
static void eval_random(const Eval *e, const IrNode *n, double *out)
{
    int64_t numel = ir_shape_numel(&n->shape);
    IrRandomAttr copy = n->attr.random;
    const IrRandomAttr *r = &copy;
    if (r->run_var) {
        copy.seed += IR_RANDOM_RUN_BASE + r->counter;
        copy.counter = (uint64_t)(e->env ? e->env->vars[r->run_var - 1] : 0);
    }
    float *f = util_malloc(sizeof(float) * (size_t)(numel ? numel : 1));
    switch (n->op) {
    case IR_OP_RANDOM_UNIFORM:
        rt_random_uniform(f, numel, (float)r->a, (float)r->b, r->seed, r->counter);
        break;
    case IR_OP_RANDOM_NORMAL:
        rt_random_normal(f, numel, (float)r->a, (float)r->b, r->seed, r->counter);
        break;
    case IR_OP_RANDOM_BERNOULLI:
        rt_random_bernoulli(f, numel, (float)r->a, r->seed, r->counter);
        break;
    default: UNREACHABLE();
    }
    for (int64_t i = 0; i < numel; i++)
        out[i] = f[i];
    util_free(f);
}

static void eval_node(Eval *e, IrNode *n)
{
    int64_t numel = ir_shape_numel(&n->shape);
    double *out = util_malloc(sizeof(double) * (size_t)(numel ? numel : 1));
    util_free(e->values[n->id]); /* a body node fusion recomputes in several FUSED nodes */
    e->values[n->id] = out;
    switch (ir_op_kind(n->op)) {
    case IR_KIND_SOURCE:
        if (n->op == IR_OP_CONST) {
            memcpy(out, n->attr.konst.values, sizeof(double) * (size_t)numel);
            round_all(e, n, out);
        } else if (n->op == IR_OP_SLOT_LOAD) {
            if (e->env)
                memcpy(out, e->env->slots[n->attr.io.index], sizeof(double) * (size_t)numel);
            else
                memset(out, 0, sizeof(double) * (size_t)numel);
            round_all(e, n, out);
        } else if (n->op == IR_OP_SCALAR_INPUT) {
            out[0] = e->env ? round_to(e, e->env->vars[n->attr.io.index]) : 0;
        } else {
            eval_random(e, n, out);
        }
        return;
    case IR_KIND_UNARY:
    case IR_KIND_BINARY:
    case IR_KIND_SELECT:
    case IR_KIND_BROADCAST: eval_elementwise(e, n, out); return;
    case IR_KIND_REDUCE: eval_reduce(e, n, out); return;
    case IR_KIND_MATMUL: eval_matmul(e, n, out); return;
    case IR_KIND_LAYOUT:
        switch (n->op) {
        case IR_OP_RESHAPE:
            memcpy(out, e->values[n->in[0]->id], sizeof(double) * (size_t)numel);
            return;
        case IR_OP_TRANSPOSE: eval_transpose(e, n, out); return;
        case IR_OP_CONCAT: eval_concat(e, n, out); return;
        case IR_OP_SLICE: eval_slice(e, n, out); return;
        case IR_OP_PAD: eval_pad(e, n, out); return;
        case IR_OP_UPSAMPLE2D: eval_upsample2d(e, n, out); return;
        default: UNREACHABLE();
        }
    case IR_KIND_OPAQUE:
        switch (n->op) {
        case IR_OP_CONV2D:
        case IR_OP_CONV2D_BACKWARD_DATA:
        case IR_OP_CONV2D_BACKWARD_WEIGHTS: eval_conv(e, n, out); return;
        case IR_OP_MAX_POOL2D:
        case IR_OP_MAX_POOL2D_BACKWARD:
        case IR_OP_AVG_POOL2D:
        case IR_OP_AVG_POOL2D_BACKWARD: eval_pool(e, n, out); return;
        case IR_OP_GATHER: eval_gather(e, n, out); return;
        case IR_OP_SCATTER_ADD: eval_scatter_add(e, n, out); return;
        case IR_OP_ARGMAX: eval_argmax(e, n, out); return;
        case IR_OP_ONE_HOT: eval_one_hot(e, n, out); return;
        default: UNREACHABLE();
        }
    case IR_KIND_EFFECT:
        if (n->op == IR_OP_SLOT_STORE) {
            if (e->env)
                memcpy(e->env->slots[n->attr.io.index], e->values[n->in[0]->id],
                       sizeof(double) * (size_t)ir_shape_numel(&n->in[0]->shape));
            return;
        }
        if (n->op == IR_OP_SCALAR_OUTPUT) {
            if (e->env)
                e->env->outs[n->attr.io.index] = e->values[n->in[0]->id][0];
            return;
        }
        if (e->out)
            rt_fprint_f64(e->out, ir_dtype_name(n->in[0]->dtype), e->values[n->in[0]->id],
                          n->in[0]->shape.rank, n->in[0]->shape.dims);
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
    return eval_graph_env(g, p, out, NULL);
}

EvalResult eval_graph_env(const IrGraph *g, EvalPrecision p, FILE *out, EvalEnv *env)
{
    Eval e = {.precision = p, .out = out, .env = env};
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
