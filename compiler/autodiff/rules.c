/* rules.c — one derivative rule per primitive (the "derivative" column of ops.def).
 * Each rule returns d(loss)/d(in[i]) given gy = d(loss)/d(n); comments quote the forward
 * op beside its backward. */
#include "autodiff/ad_internal.h"
#include "util/util.h"

static IrNode *mul(IrGraph *g, Span s, IrNode *a, IrNode *b) { return ir_binary(g, s, IR_OP_MUL, a, b); }
static IrNode *scalar(IrGraph *g, Span s, double v) { return ir_scalar(g, s, v); }

IrNode *ad_unbroadcast(IrGraph *g, Span s, IrNode *gy, const IrShape *shape)
{
    const IrShape *from = &gy->shape;
    if (ir_shape_eq(from, shape))
        return gy;
    uint32_t axes = 0;
    int lead = from->rank - shape->rank;
    for (int i = 0; i < from->rank; i++)
        if (i < lead || (shape->dims[i - lead] == 1 && from->dims[i] != 1))
            axes |= 1u << i;
    IrNode *r = axes ? ir_reduce(g, s, IR_OP_SUM, gy, axes) : gy;
    if (!ir_shape_eq(&r->shape, shape))
        r = ir_reshape(g, s, r, shape);
    return r;
}

/* The adjoint of a reduction's result, reshaped with 1s at the reduced axes and stretched
 * back over the input: every input element receives its output's adjoint. */
static IrNode *unreduce(IrGraph *g, Span s, IrNode *gy, const IrShape *in, uint32_t axes)
{
    IrShape kept = *in;
    for (int i = 0; i < in->rank; i++)
        if (axes & (1u << i))
            kept.dims[i] = 1;
    if ((axes >> in->rows_axis) & 1)
        kept.rows = kept.rows_axis = 0;
    IrNode *r = ir_reshape(g, s, gy, &kept);
    return ir_broadcast(g, s, r, in);
}

static IrNode *ad_none(IrGraph *g, IrNode *n, int i, IrNode *gy) { UNREACHABLE(); }
static IrNode *ad_zero(IrGraph *g, IrNode *n, int i, IrNode *gy) { return NULL; }

/* y = -x                 dx = -gy */
static IrNode *ad_neg(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return ir_unary(g, n->span, IR_OP_NEG, gy);
}

/* y = exp(x)             dx = gy * y */
static IrNode *ad_exp(IrGraph *g, IrNode *n, int i, IrNode *gy) { return mul(g, n->span, gy, n); }

/* y = log(x)             dx = gy / x */
static IrNode *ad_log(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return ir_binary(g, n->span, IR_OP_DIV, gy, n->in[0]);
}

/* y = sqrt(x)            dx = gy * 0.5 / y */
static IrNode *ad_sqrt(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *half = mul(g, n->span, gy, scalar(g, n->span, 0.5));
    return ir_binary(g, n->span, IR_OP_DIV, half, n);
}

/* y = tanh(x)            dx = gy * (1 - y*y) */
static IrNode *ad_tanh(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *d = ir_binary(g, n->span, IR_OP_SUB, scalar(g, n->span, 1), mul(g, n->span, n, n));
    return mul(g, n->span, gy, d);
}

/* y = sigmoid(x)         dx = gy * y * (1 - y) */
static IrNode *ad_sigmoid(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *d = ir_binary(g, n->span, IR_OP_SUB, scalar(g, n->span, 1), n);
    return mul(g, n->span, mul(g, n->span, gy, n), d);
}

/* y = relu(x)            dx = gy * (x > 0) */
static IrNode *ad_relu(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *pos = ir_binary(g, n->span, IR_OP_CMP_GT, n->in[0], scalar(g, n->span, 0));
    return mul(g, n->span, gy, pos);
}

/* y = a + b              da = gy, db = gy (summed over broadcast axes) */
static IrNode *ad_add(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return ad_unbroadcast(g, n->span, gy, &n->in[i]->shape);
}

/* y = a - b              da = gy, db = -gy */
static IrNode *ad_sub(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *d = i == 0 ? gy : ir_unary(g, n->span, IR_OP_NEG, gy);
    return ad_unbroadcast(g, n->span, d, &n->in[i]->shape);
}

/* y = a * b              da = gy * b, db = gy * a */
static IrNode *ad_mul(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return ad_unbroadcast(g, n->span, mul(g, n->span, gy, n->in[1 - i]), &n->in[i]->shape);
}

/* y = a / b              da = gy / b, db = -gy * y / b */
static IrNode *ad_div(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *d = ir_binary(g, n->span, IR_OP_DIV, gy, n->in[1]);
    if (i == 1)
        d = ir_unary(g, n->span, IR_OP_NEG, mul(g, n->span, d, n));
    return ad_unbroadcast(g, n->span, d, &n->in[i]->shape);
}

/* y = a ^ b              da = gy * b * a^(b-1), db = gy * y * log(a) */
static IrNode *ad_pow(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *a = n->in[0], *b = n->in[1], *d;
    if (i == 0) {
        IrNode *bm1 = ir_binary(g, n->span, IR_OP_SUB, b, scalar(g, n->span, 1));
        d = mul(g, n->span, gy, mul(g, n->span, b, ir_binary(g, n->span, IR_OP_POW, a, bm1)));
    } else {
        d = mul(g, n->span, mul(g, n->span, gy, n), ir_unary(g, n->span, IR_OP_LOG, a));
    }
    return ad_unbroadcast(g, n->span, d, &n->in[i]->shape);
}

/* y = max(a, b)          da = gy * (a >= b), db = gy * (a < b): ties go to a */
static IrNode *ad_max(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *m = ir_binary(g, n->span, i == 0 ? IR_OP_CMP_GE : IR_OP_CMP_LT, n->in[0], n->in[1]);
    return ad_unbroadcast(g, n->span, mul(g, n->span, gy, m), &n->in[i]->shape);
}

/* y = min(a, b)          da = gy * (a <= b), db = gy * (a > b): ties go to a */
static IrNode *ad_min(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *m = ir_binary(g, n->span, i == 0 ? IR_OP_CMP_LE : IR_OP_CMP_GT, n->in[0], n->in[1]);
    return ad_unbroadcast(g, n->span, mul(g, n->span, gy, m), &n->in[i]->shape);
}

/* y = select(c, a, b)    da = select(c, gy, 0), db = select(c, 0, gy); c gets none */
static IrNode *ad_select(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    if (i == 0)
        return NULL;
    IrNode *zero = scalar(g, n->span, 0);
    IrNode *d = i == 1 ? ir_select(g, n->span, n->in[0], gy, zero)
                       : ir_select(g, n->span, n->in[0], zero, gy);
    return ad_unbroadcast(g, n->span, d, &n->in[i]->shape);
}

/* y = sum(x, axes)       dx = broadcast(gy) */
static IrNode *ad_sum(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return unreduce(g, n->span, gy, &n->in[0]->shape, n->attr.reduce.axes);
}

/* y = max(x, axes)       dx = broadcast(gy) * (x == broadcast(y)): every maximal element
 *                        receives the full adjoint */
static IrNode *ad_reduce_max(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    const IrShape *in = &n->in[0]->shape;
    IrNode *y = unreduce(g, n->span, n, in, n->attr.reduce.axes);
    IrNode *hit = ir_binary(g, n->span, IR_OP_CMP_EQ, n->in[0], y);
    return mul(g, n->span, unreduce(g, n->span, gy, in, n->attr.reduce.axes), hit);
}

/* y = broadcast(x)       dx = gy summed over the stretched axes */
static IrNode *ad_broadcast(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return ad_unbroadcast(g, n->span, gy, &n->in[0]->shape);
}

/* y = reshape(x)         dx = reshape(gy) */
static IrNode *ad_reshape(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return ir_reshape(g, n->span, gy, &n->in[0]->shape);
}

/* y = transpose(x, p)    dx = transpose(gy, inverse(p)) */
static IrNode *ad_transpose(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    int inv[IR_MAX_RANK];
    for (int k = 0; k < n->shape.rank; k++)
        inv[n->attr.transpose.perm[k]] = k;
    return ir_transpose(g, n->span, gy, inv);
}

/* y = a @ b              da = gy @ b^T, db = a^T @ gy (^T swaps the last two axes: a
 * stack of matrices is multiplied matrix by matrix) */
static IrNode *ad_matmul(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    int r = n->shape.rank, swap[IR_MAX_RANK];
    for (int d = 0; d < r; d++)
        swap[d] = d;
    swap[r - 2] = r - 1;
    swap[r - 1] = r - 2;
    /* autodiff runs before simplify folds transposes into products */
    ASSERT(!n->attr.matmul.trans_a && !n->attr.matmul.trans_b);
    if (i == 0)
        return ir_matmul(g, n->span, gy, ir_transpose(g, n->span, n->in[1], swap));
    return ir_matmul(g, n->span, ir_transpose(g, n->span, n->in[0], swap), gy);
}

/* y = concat(x_0, ..., axis)   dx_i = gy[the block of x_i along axis] */
static IrNode *ad_concat(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    int axis = n->attr.concat.axis;
    int64_t begin[IR_MAX_RANK] = {0}, end[IR_MAX_RANK];
    for (int d = 0; d < n->shape.rank; d++)
        end[d] = n->shape.dims[d];
    for (int k = 0; k < i; k++)
        begin[axis] += n->in[k]->shape.dims[axis];
    end[axis] = begin[axis] + n->in[i]->shape.dims[axis];
    return ir_slice(g, n->span, gy, begin, end);
}

/* y = x[begin : end]     dx = pad(gy, before = begin, after = dim - end) */
static IrNode *ad_slice(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    int64_t after[IR_MAX_RANK];
    for (int d = 0; d < n->shape.rank; d++)
        after[d] = n->in[0]->shape.dims[d] - n->attr.slice.end[d];
    return ir_pad(g, n->span, gy, n->attr.slice.begin, after);
}

/* y = pad(x, before, after)    dx = gy[before : before + dim] */
static IrNode *ad_pad(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    int64_t end[IR_MAX_RANK];
    for (int d = 0; d < n->shape.rank; d++)
        end[d] = n->attr.pad.before[d] + n->in[0]->shape.dims[d];
    return ir_slice(g, n->span, gy, n->attr.pad.before, end);
}

/* y = upsample2d(x, f)   dx = gy [N, C, H f, W f] viewed as [N, C, H, f, W, f], summed over
 *                        both f axes: each x element receives its f x f block */
static IrNode *ad_upsample2d(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    const int64_t *d = n->in[0]->shape.dims;
    int64_t f = n->attr.upsample.factor;
    IrShape blocks = {.rank = 6, .dims = {d[0], d[1], d[2], f, d[3], f}, .rows = gy->shape.rows};
    ASSERT(gy->shape.rows_axis == 0);
    IrNode *b = ir_reshape(g, n->span, gy, &blocks);
    return ir_reduce(g, n->span, IR_OP_SUM, b, 1u << 3 | 1u << 5);
}

/* The convolutions are one bilinear form B(x, w, y) = sum x[xi] w[wi] y[yi] over the terms
 * of ir.h: CONV2D(x, w) = dB/dy, CONV2D_BACKWARD_DATA(dy, w) = dB/dx at y = dy, and
 * CONV2D_BACKWARD_WEIGHTS(x, dy) = dB/dw at y = dy. The adjoint of each in one operand is
 * another of the three, so derivatives of any order stay within them. */

/* y = conv2d(x, w)       dx = conv2d_backward_data(gy, w), dw = conv2d_backward_weights(x, gy) */
static IrNode *ad_conv2d(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    IrNode *x = n->in[0], *w = n->in[1];
    if (i == 0)
        return ir_conv2d_backward_data(g, n->span, gy, w, &x->shape, n->attr.conv);
    return ir_conv2d_backward_weights(g, n->span, x, gy, &w->shape, n->attr.conv);
}

/* dx = conv2d_backward_data(dy, w)     d(dy) = conv2d(gx, w), dw = conv2d_backward_weights(gx, dy) */
static IrNode *ad_conv2d_backward_data(IrGraph *g, IrNode *n, int i, IrNode *gx)
{
    IrNode *dy = n->in[0], *w = n->in[1];
    if (i == 0)
        return ir_conv2d(g, n->span, gx, w, n->attr.conv);
    return ir_conv2d_backward_weights(g, n->span, gx, dy, &w->shape, n->attr.conv);
}

/* dw = conv2d_backward_weights(x, dy)  dx = conv2d_backward_data(dy, gw), d(dy) = conv2d(x, gw) */
static IrNode *ad_conv2d_backward_weights(IrGraph *g, IrNode *n, int i, IrNode *gw)
{
    IrNode *x = n->in[0], *dy = n->in[1];
    if (i == 0)
        return ir_conv2d_backward_data(g, n->span, dy, gw, &x->shape, n->attr.conv);
    return ir_conv2d(g, n->span, x, gw, n->attr.conv);
}

/* y = max_pool2d(x)      dx = max_pool2d_backward(x, y, gy): each window's adjoint goes to
 *                        its first maximal element */
static IrNode *ad_max_pool2d(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return ir_max_pool2d_backward(g, n->span, n->in[0], n, gy, n->attr.pool);
}

/* dx = max_pool2d_backward(x, y, dy): piecewise constant in x and y (no gradient). Its
 * adjoint in dy picks gx at each window's argmax. Where windows do not overlap (stride >=
 * size) each element of x is in one window at most, so that is the window's sum of
 *     mask * gx,   mask = max_pool2d_backward(x, y, 1): 1 at each window's argmax
 * (size^2 * avg_pool2d). Overlapping windows share elements, and no primitive picks per
 * window yet: that second derivative is reported as unsupported (IrGraph.unsupported). */
static IrNode *ad_max_pool2d_backward(IrGraph *g, IrNode *n, int i, IrNode *gx)
{
    if (i < 2)
        return NULL;
    IrPoolAttr a = n->attr.pool;
    if (a.stride < a.size) {
        ir_graph_unsupported(g, n->span, "the second derivative of max_pool2d with overlapping "
                                         "windows (stride < size)");
        return NULL;
    }
    Span s = n->span;
    IrNode *ones = ir_broadcast(g, s, scalar(g, s, 1), &n->in[2]->shape);
    IrNode *mask = ir_max_pool2d_backward(g, s, n->in[0], n->in[1], ones, a);
    IrNode *sums = ir_avg_pool2d(g, s, mul(g, s, mask, gx), a);
    return mul(g, s, sums, scalar(g, s, (double)a.size * a.size));
}

/* y = avg_pool2d(x)      dx = avg_pool2d_backward(gy) */
static IrNode *ad_avg_pool2d(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return ir_avg_pool2d_backward(g, n->span, gy, &n->in[0]->shape, n->attr.pool);
}

/* dx = avg_pool2d_backward(dy)         d(dy) = avg_pool2d(gx) */
static IrNode *ad_avg_pool2d_backward(IrGraph *g, IrNode *n, int i, IrNode *gx)
{
    return ir_avg_pool2d(g, n->span, gx, n->attr.pool);
}

/* y = gather(table, idx)               dtable = scatter_add(idx, gy); idx gets none */
static IrNode *ad_gather(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    if (i == 1)
        return NULL;
    return ir_scatter_add(g, n->span, n->in[1], gy, n->in[0]->shape.dims[0]);
}

/* y = scatter_add(idx, upd)            dupd = gather(gy, idx); idx gets none */
static IrNode *ad_scatter_add(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    if (i == 0)
        return NULL;
    return ir_gather(g, n->span, gy, n->in[0]);
}

/* y = cast(x)                          dx = gy between floats; an i32 on either side
 *                                      carries no gradient */
static IrNode *ad_cast(IrGraph *g, IrNode *n, int i, IrNode *gy)
{
    return n->dtype == IR_F32 && n->in[0]->dtype == IR_F32 ? gy : NULL;
}

AdRule *ad_rule(IrOp op)
{
    static AdRule *const rules[] = {
#define OP(id, name, arity, kind, shape, grad) [IR_OP_##id] = ad_##grad,
#include "ir/ops.def"
#undef OP
    };
    return rules[op];
}
