/* shape.c — shape rules of the primitive ops (the "shape" column of ops.def). */
#include "ir/ir.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool ir_dims_size(int rank, const int64_t *dims, int64_t elem_bytes, int64_t *numel,
                  int64_t *bytes)
{
    ASSERT(elem_bytes >= 1 && elem_bytes <= 8);
    int64_t n = 1, spread = 1; /* spread: the product with 0 counted as 1 */
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || __builtin_mul_overflow(spread, dims[i] ? dims[i] : 1, &spread) ||
            spread > IR_MAX_NUMEL)
            return false;
        n *= dims[i];
    }
    if (numel)
        *numel = n;
    if (bytes)
        *bytes = n * elem_bytes;
    return true;
}

int64_t ir_shape_numel(const IrShape *s)
{
    int64_t n;
    ASSERT(ir_dims_size(s->rank, s->dims, 1, &n, NULL));
    return n;
}

void ir_shape_around(const IrShape *s, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++)
        *outer *= s->dims[d];
    for (int d = axis + 1; d < s->rank; d++)
        *inner *= s->dims[d];
}

bool ir_shape_eq(const IrShape *a, const IrShape *b)
{
    if (a->rank != b->rank || a->rows != b->rows || (a->rows && a->rows_axis != b->rows_axis))
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

IrShape ir_shape_make(int rank, const int64_t *dims)
{
    ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
    IrShape s = {.rank = rank};
    for (int i = 0; i < rank; i++)
        s.dims[i] = dims[i];
    return s;
}

char *ir_shape_str(const IrShape *s, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < s->rank && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld%s", i ? ", " : "",
                                (long long)s->dims[i], s->rows && i == s->rows_axis ? "r" : "");
    if (len < n)
        snprintf(buf + len, n - len, "]");
    return buf;
}

static bool rows_broadcast(const IrShape *const *shapes, int n, IrShape *out, char *err,
                           size_t errlen);

/* Numpy broadcast of a's and b's dims (no rows). */
static bool broadcast_dims(const IrShape *a, const IrShape *b, IrShape *out)
{
    IrShape r = {.rank = a->rank > b->rank ? a->rank : b->rank};
    for (int i = 0; i < r.rank; i++) {
        int ia = a->rank - r.rank + i, ib = b->rank - r.rank + i;
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        r.dims[i] = da == 1 ? db : da;
    }
    *out = r;
    return true;
}

bool ir_shape_broadcast(const IrShape *a, const IrShape *b, IrShape *out)
{
    IrShape r;
    const IrShape *shapes[2] = {a, b};
    char err[160];
    if (!broadcast_dims(a, b, &r) || !rows_broadcast(shapes, 2, &r, err, sizeof err))
        return false;
    *out = r;
    return true;
}

void ir_contiguous_strides(const IrShape *s, int64_t strides[IR_MAX_RANK])
{
    int64_t st = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        strides[i] = st;
        st *= s->dims[i];
    }
}

void ir_broadcast_strides(const IrShape *from, const IrShape *to, int64_t strides[IR_MAX_RANK])
{
    int64_t own[IR_MAX_RANK];
    ir_contiguous_strides(from, own);
    ASSERT(from->rank <= to->rank);
    for (int i = 0; i < to->rank; i++) {
        int j = from->rank - to->rank + i;
        strides[i] = (j < 0 || from->dims[j] == 1) ? 0 : own[j];
    }
}

#define SHAPE_ERR(...) (snprintf(err, errlen, __VA_ARGS__), false)

static bool shape_none(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                       size_t errlen)
{
    *out = p->shape;
    return true;
}

static bool shape_same(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                       size_t errlen)
{
    *out = in[0]->shape;
    return true;
}

static bool shape_bcast(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                        size_t errlen)
{
    IrShape r = in[0]->shape;
    for (int i = 1; i < nin; i++) {
        if (!broadcast_dims(&r, &in[i]->shape, &r)) {
            char a[128], b[128];
            return SHAPE_ERR("shapes %s and %s do not broadcast",
                             ir_shape_str(&in[0]->shape, a, sizeof a),
                             ir_shape_str(&in[i]->shape, b, sizeof b));
        }
    }
    *out = r;
    return true;
}

/* BROADCAST: x stretched to proto's shape */
static bool shape_broadcast_to(IrNode *const *in, int nin, const IrNode *p, IrShape *out,
                               char *err, size_t errlen)
{
    IrShape r;
    if (!broadcast_dims(&in[0]->shape, &p->shape, &r) || r.rank != p->shape.rank ||
        memcmp(r.dims, p->shape.dims, sizeof(int64_t) * (size_t)r.rank)) {
        char a[128], b[128];
        return SHAPE_ERR("%s does not broadcast to %s", ir_shape_str(&in[0]->shape, a, sizeof a),
                         ir_shape_str(&p->shape, b, sizeof b));
    }
    *out = p->shape;
    return true;
}

static bool shape_reduce(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    const IrShape *x = &in[0]->shape;
    if (p->attr.reduce.axes >> x->rank)
        return SHAPE_ERR("reduction axis out of range for rank %d", x->rank);
    IrShape r = {0};
    for (int i = 0; i < x->rank; i++)
        if (!(p->attr.reduce.axes & (1u << i)))
            r.dims[r.rank++] = x->dims[i];
    *out = r;
    return true;
}

static bool shape_transpose(IrNode *const *in, int nin, const IrNode *p, IrShape *out,
                            char *err, size_t errlen)
{
    const IrShape *x = &in[0]->shape;
    IrShape r = {.rank = x->rank};
    uint32_t seen = 0;
    for (int i = 0; i < x->rank; i++) {
        int j = p->attr.transpose.perm[i];
        if (j < 0 || j >= x->rank || (seen & (1u << j)))
            return SHAPE_ERR("invalid permutation for rank %d", x->rank);
        seen |= 1u << j;
        r.dims[i] = x->dims[j];
    }
    *out = r;
    return true;
}

static bool shape_matmul(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    const IrShape *a = &in[0]->shape, *b = &in[1]->shape;
    char sa[128], sb[128];
    int r = a->rank;
    bool batch_ok = r >= 2 && b->rank == r;
    for (int i = 0; batch_ok && i < r - 2; i++)
        batch_ok = a->dims[i] == b->dims[i];
    if (!batch_ok)
        return SHAPE_ERR("matmul needs two matrices, or two stacks of them with the same leading "
                         "dimensions, got shapes %s and %s",
                         ir_shape_str(a, sa, sizeof sa), ir_shape_str(b, sb, sizeof sb));
    bool ta = p->attr.matmul.trans_a, tb = p->attr.matmul.trans_b;
    const int64_t *ma = a->dims + r - 2, *mb = b->dims + r - 2;
    int64_t m = ma[ta], k = ma[!ta], k2 = mb[tb], n = mb[!tb];
    if (k != k2)
        return SHAPE_ERR("matmul of %s and %s: inner dimensions %lld and %lld differ",
                         ir_shape_str(a, sa, sizeof sa), ir_shape_str(b, sb, sizeof sb),
                         (long long)k, (long long)k2);
    *out = *a;
    out->dims[r - 2] = m;
    out->dims[r - 1] = n;
    return true;
}

/* matmul_acc(a, b, c, beta): a matmul's result, whose dims c has (the rows rule below
 * gives the result its batch's rows); beta is one f32. */
static bool shape_matmul_acc(IrNode *const *in, int nin, const IrNode *p, IrShape *out,
                             char *err, size_t errlen)
{
    if (!shape_matmul(in, nin, p, out, err, errlen))
        return false;
    char so[128], sc[128];
    const IrShape *c = &in[2]->shape;
    bool same = c->rank == out->rank;
    for (int i = 0; same && i < c->rank; i++)
        same = c->dims[i] == out->dims[i];
    if (!same)
        return SHAPE_ERR("matmul_acc of a %s product into %s", ir_shape_str(out, so, sizeof so),
                         ir_shape_str(&in[2]->shape, sc, sizeof sc));
    if (in[3]->shape.rank != 0)
        return SHAPE_ERR("matmul_acc's scale must be one value, got %s",
                         ir_shape_str(&in[3]->shape, sc, sizeof sc));
    return true;
}

static bool shape_effect(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    *out = (IrShape){0};
    return true;
}

/* SCALAR_INPUT: f32[] */
static bool shape_scalar(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    *out = (IrShape){0};
    return true;
}

/* SCALAR_OUTPUT: its input must be a scalar; no result */
static bool shape_scalar_output(IrNode *const *in, int nin, const IrNode *p, IrShape *out,
                                char *err, size_t errlen)
{
    if (in[0]->shape.rank != 0) {
        char s[128];
        return SHAPE_ERR("scalar_output needs a scalar, got shape %s",
                         ir_shape_str(&in[0]->shape, s, sizeof s));
    }
    *out = (IrShape){0};
    return true;
}

static bool shape_grad(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                       size_t errlen)
{
    if (in[0]->shape.rank != 0) {
        char s[128];
        return SHAPE_ERR("grad needs a scalar to differentiate, got shape %s",
                         ir_shape_str(&in[0]->shape, s, sizeof s));
    }
    *out = in[1]->shape;
    return true;
}

/* RANDOM_*: the shape is proto's; the parameters must be ones the runtime accepts. */
static bool shape_random(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    float a = (float)p->attr.random.a, b = (float)p->attr.random.b;
    bool ok = isfinite(a) && isfinite(b);
    switch (p->op) {
    case IR_OP_RANDOM_UNIFORM: ok = ok && a <= b; break;
    case IR_OP_RANDOM_NORMAL: ok = ok && b >= 0; break;
    default: ok = a >= 0 && a <= 1; break;
    }
    if (!ok)
        return SHAPE_ERR("%s with parameters %g and %g", ir_op_name(p->op), (double)a, (double)b);
    *out = p->shape;
    return true;
}

/* ---- layout ops ---------------------------------------------------------------------- */

static bool shape_concat(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    if (nin < 1)
        return SHAPE_ERR("concat needs at least one input");
    IrShape r = in[0]->shape;
    int axis = p->attr.concat.axis;
    if (axis < 0 || axis >= r.rank)
        return SHAPE_ERR("concat axis %d out of range for rank %d", axis, r.rank);
    for (int i = 1; i < nin; i++) {
        const IrShape *x = &in[i]->shape;
        bool ok = x->rank == r.rank;
        for (int d = 0; d < r.rank && ok; d++)
            ok = d == axis || x->dims[d] == r.dims[d];
        if (!ok) {
            char a[128], b[128];
            return SHAPE_ERR("cannot concatenate %s and %s along axis %d",
                             ir_shape_str(&in[0]->shape, a, sizeof a),
                             ir_shape_str(x, b, sizeof b), axis);
        }
        r.dims[axis] += x->dims[axis];
    }
    *out = r;
    return true;
}

static bool shape_slice(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                        size_t errlen)
{
    IrShape r = in[0]->shape;
    for (int d = 0; d < r.rank; d++) {
        int64_t b = p->attr.slice.begin[d], e = p->attr.slice.end[d];
        if (b < 0 || b > e || e > r.dims[d]) {
            char a[128];
            return SHAPE_ERR("slice [%lld, %lld) of axis %d is outside %s", (long long)b,
                             (long long)e, d, ir_shape_str(&in[0]->shape, a, sizeof a));
        }
        r.dims[d] = e - b;
    }
    *out = r;
    return true;
}

static bool shape_pad(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                      size_t errlen)
{
    IrShape r = in[0]->shape;
    for (int d = 0; d < r.rank; d++) {
        if (p->attr.pad.before[d] < 0 || p->attr.pad.after[d] < 0)
            return SHAPE_ERR("negative padding on axis %d", d);
        r.dims[d] += p->attr.pad.before[d] + p->attr.pad.after[d];
    }
    *out = r;
    return true;
}

static bool shape_upsample2d(IrNode *const *in, int nin, const IrNode *p, IrShape *out,
                             char *err, size_t errlen)
{
    IrShape r = in[0]->shape;
    char a[128];
    if (r.rank != 4)
        return SHAPE_ERR("upsample2d needs [N, C, H, W], got %s", ir_shape_str(&r, a, sizeof a));
    if (p->attr.upsample.factor < 1)
        return SHAPE_ERR("upsample2d factor %d is not positive", p->attr.upsample.factor);
    r.dims[2] *= p->attr.upsample.factor;
    r.dims[3] *= p->attr.upsample.factor;
    *out = r;
    return true;
}

/* ---- convolution and pooling ------------------------------------------------------------ */

/* The result of CONV2D on shapes x and w, or false with a message. */
static bool conv_result(const IrShape *x, const IrShape *w, const IrConvAttr *a, IrShape *out,
                        char *err, size_t errlen)
{
    char sx[128], sw[128];
    ir_shape_str(x, sx, sizeof sx);
    ir_shape_str(w, sw, sizeof sw);
    if (x->rank != 4 || w->rank != 4)
        return SHAPE_ERR("conv2d needs x [N, C, H, W] and w [O, C/groups, KH, KW], got %s "
                         "and %s", sx, sw);
    if (a->stride < 1 || a->padding < 0 || a->dilation < 1 || a->groups < 1)
        return SHAPE_ERR("conv2d stride %d, padding %d, dilation %d, groups %d: stride, "
                         "dilation and groups must be positive, padding not negative",
                         a->stride, a->padding, a->dilation, a->groups);
    if (x->dims[1] != w->dims[1] * a->groups || w->dims[0] % a->groups != 0)
        return SHAPE_ERR("conv2d of %s and %s with %d groups: x channels must be groups * "
                         "w dim 1, and w dim 0 a multiple of groups", sx, sw, a->groups);
    int64_t span_h = (int64_t)a->dilation * (w->dims[2] - 1) + 1;
    int64_t span_w = (int64_t)a->dilation * (w->dims[3] - 1) + 1;
    int64_t h = x->dims[2] + 2 * (int64_t)a->padding, wd = x->dims[3] + 2 * (int64_t)a->padding;
    if (w->dims[2] < 1 || w->dims[3] < 1 || h < span_h || wd < span_w)
        return SHAPE_ERR("conv2d kernel %s (dilation %d) does not fit in input %s padded by %d",
                         sw, a->dilation, sx, a->padding);
    *out = (IrShape){.rank = 4, .dims = {x->dims[0], w->dims[0], (h - span_h) / a->stride + 1,
                                         (wd - span_w) / a->stride + 1},
                     .rows = x->rows, .rows_axis = x->rows_axis};
    return true;
}

static bool expect_shape(const char *what, const IrShape *got, const IrShape *want, char *err,
                         size_t errlen)
{
    if (ir_shape_eq(got, want))
        return true;
    char a[128], b[128];
    return SHAPE_ERR("%s has shape %s, expected %s", what, ir_shape_str(got, a, sizeof a),
                     ir_shape_str(want, b, sizeof b));
}

static bool shape_conv2d(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    return conv_result(&in[0]->shape, &in[1]->shape, &p->attr.conv, out, err, errlen);
}

/* (dy, w) -> dx; dx's shape is proto's, and conv2d of it with w must give dy's. */
static bool shape_conv2d_backward_data(IrNode *const *in, int nin, const IrNode *p,
                                       IrShape *out, char *err, size_t errlen)
{
    IrShape y;
    if (!conv_result(&p->shape, &in[1]->shape, &p->attr.conv, &y, err, errlen) ||
        !expect_shape("conv2d_backward_data dy", &in[0]->shape, &y, err, errlen))
        return false;
    *out = p->shape;
    return true;
}

/* (x, dy) -> dw; dw's shape is proto's, and conv2d of x with it must give dy's. */
static bool shape_conv2d_backward_weights(IrNode *const *in, int nin, const IrNode *p,
                                          IrShape *out, char *err, size_t errlen)
{
    IrShape y;
    if (!conv_result(&in[0]->shape, &p->shape, &p->attr.conv, &y, err, errlen) ||
        !expect_shape("conv2d_backward_weights dy", &in[1]->shape, &y, err, errlen))
        return false;
    *out = p->shape;
    return true;
}

static bool pool_result(const IrShape *x, const IrPoolAttr *a, IrShape *out, char *err,
                        size_t errlen)
{
    char sx[128];
    ir_shape_str(x, sx, sizeof sx);
    if (x->rank != 4)
        return SHAPE_ERR("pooling needs [N, C, H, W], got %s", sx);
    if (a->size < 1 || a->stride < 1)
        return SHAPE_ERR("pooling size %d and stride %d must be positive", a->size, a->stride);
    if (x->dims[2] < a->size || x->dims[3] < a->size)
        return SHAPE_ERR("pooling window %d does not fit in %s", a->size, sx);
    *out = (IrShape){.rank = 4, .dims = {x->dims[0], x->dims[1],
                                         (x->dims[2] - a->size) / a->stride + 1,
                                         (x->dims[3] - a->size) / a->stride + 1},
                     .rows = x->rows, .rows_axis = x->rows_axis};
    return true;
}

static bool shape_pool2d(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    return pool_result(&in[0]->shape, &p->attr.pool, out, err, errlen);
}

/* (x, y, dy) -> dx shaped like x; y and dy are shaped like pool(x). */
static bool shape_max_pool2d_backward(IrNode *const *in, int nin, const IrNode *p,
                                      IrShape *out, char *err, size_t errlen)
{
    IrShape y;
    if (!pool_result(&in[0]->shape, &p->attr.pool, &y, err, errlen) ||
        !expect_shape("max_pool2d_backward y", &in[1]->shape, &y, err, errlen) ||
        !expect_shape("max_pool2d_backward dy", &in[2]->shape, &y, err, errlen))
        return false;
    *out = in[0]->shape;
    return true;
}

/* dy -> dx shaped like proto, whose pooling is shaped like dy. */
static bool shape_avg_pool2d_backward(IrNode *const *in, int nin, const IrNode *p,
                                      IrShape *out, char *err, size_t errlen)
{
    IrShape y;
    if (!pool_result(&p->shape, &p->attr.pool, &y, err, errlen) ||
        !expect_shape("avg_pool2d_backward dy", &in[0]->shape, &y, err, errlen))
        return false;
    *out = p->shape;
    return true;
}

/* ---- indexing ---------------------------------------------------------------------------- */

/* s + [last], or false when s already has the largest rank. */
static bool append_dim(const IrShape *s, int64_t last, IrShape *out, char *err, size_t errlen)
{
    if (s->rank >= IR_MAX_RANK)
        return SHAPE_ERR("result would have more than %d dimensions", IR_MAX_RANK);
    *out = *s;
    out->dims[out->rank++] = last;
    return true;
}

/* (table [V, D], indices S) -> S + [D] */
static bool shape_gather(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    const IrShape *t = &in[0]->shape;
    if (t->rank != 2) {
        char a[128];
        return SHAPE_ERR("gather needs a table [V, D], got %s", ir_shape_str(t, a, sizeof a));
    }
    return append_dim(&in[1]->shape, t->dims[1], out, err, errlen);
}

/* (indices S, updates S + [D]) -> proto's shape [V, D] */
static bool shape_scatter_add(IrNode *const *in, int nin, const IrNode *p, IrShape *out,
                              char *err, size_t errlen)
{
    const IrShape *r = &p->shape;
    char a[128];
    if (r->rank != 2)
        return SHAPE_ERR("scatter_add makes a [V, D] table, not %s", ir_shape_str(r, a, sizeof a));
    IrShape want;
    if (!append_dim(&in[0]->shape, r->dims[1], &want, err, errlen) ||
        !expect_shape("scatter_add updates", &in[1]->shape, &want, err, errlen))
        return false;
    *out = *r;
    return true;
}

static bool shape_argmax(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
    const IrShape *x = &in[0]->shape;
    int axis = p->attr.argmax.axis;
    if (axis < 0 || axis >= x->rank)
        return SHAPE_ERR("argmax axis %d out of range for rank %d", axis, x->rank);
    if (x->dims[axis] == 0)
        return SHAPE_ERR("argmax over an empty axis %d", axis);
    IrShape r = {0};
    for (int d = 0; d < x->rank; d++)
        if (d != axis)
            r.dims[r.rank++] = x->dims[d];
    *out = r;
    return true;
}

static bool shape_one_hot(IrNode *const *in, int nin, const IrNode *p, IrShape *out,
                          char *err, size_t errlen)
{
    if (p->attr.one_hot.depth < 1)
        return SHAPE_ERR("one_hot depth %d is not positive", p->attr.one_hot.depth);
    return append_dim(&in[0]->shape, p->attr.one_hot.depth, out, err, errlen);
}

/* ---- batch rows (IrShape.rows) ---------------------------------------------------------- */

#define ROWS_ERR(...) (snprintf(err, errlen, IR_ROWS_ERROR __VA_ARGS__), false)

static IrShape with_rows(IrShape s, int rows, int axis)
{
    s.rows = rows;
    s.rows_axis = rows ? axis : 0;
    return s;
}

/* The rows of the result `out` of broadcasting `shapes` together: those of every operand
 * with rows, which must agree on the variable and the (right-aligned) axis; no operand may
 * give that axis a fixed size of more than one. */
static bool rows_broadcast(const IrShape *const *shapes, int n, IrShape *out, char *err,
                           size_t errlen)
{
    int rows = 0, axis = 0;
    for (int i = 0; i < n; i++) {
        const IrShape *s = shapes[i];
        int at = s->rows_axis + out->rank - s->rank;
        if (s->rows && rows && (s->rows != rows || at != axis))
            return ROWS_ERR("the rows of two batches, or two axes with rows, meet");
        if (s->rows)
            rows = s->rows, axis = at;
    }
    for (int i = 0; rows && i < n; i++) {
        const IrShape *s = shapes[i];
        int j = axis - (out->rank - s->rank);
        if (!s->rows && j >= 0 && s->dims[j] != 1)
            return ROWS_ERR("a fixed size meets a batch's rows on axis %d", axis);
    }
    *out = with_rows(*out, rows, axis);
    return true;
}

/* Sets out's rows for the result of op (its dims already inferred), or false when an
 * operand's rows would meet a fixed size, or end up where the op cannot keep them. */
static bool infer_rows(IrOp op, IrNode *const *in, int nin, const IrNode *p, IrShape *out,
                       char *err, size_t errlen)
{
    const IrShape *x = nin > 0 ? &in[0]->shape : NULL;
    int r0 = x ? x->rows : 0, a0 = x ? x->rows_axis : 0;
    switch (ir_op_kind(op)) {
    case IR_KIND_SOURCE:
    case IR_KIND_META:
        if (op == IR_OP_GRAD)
            *out = with_rows(*out, in[1]->shape.rows, in[1]->shape.rows_axis);
        else
            *out = with_rows(*out, op == IR_OP_SCALAR_INPUT ? 0 : p->shape.rows,
                             p->shape.rows_axis);
        return true;
    case IR_KIND_EFFECT:
        *out = with_rows(*out, 0, 0);
        return true;
    case IR_KIND_UNARY:
        *out = with_rows(*out, r0, a0);
        return true;
    case IR_KIND_BINARY:
    case IR_KIND_SELECT: {
        const IrShape *shapes[3];
        for (int i = 0; i < nin; i++)
            shapes[i] = &in[i]->shape;
        return rows_broadcast(shapes, nin, out, err, errlen);
    }
    case IR_KIND_BROADCAST: {
        const IrShape *shapes[2] = {x, &p->shape};
        return rows_broadcast(shapes, 2, out, err, errlen);
    }
    case IR_KIND_REDUCE:
        *out = with_rows(*out, (p->attr.reduce.axes >> a0) & 1 ? 0 : r0,
                         a0 - __builtin_popcount(p->attr.reduce.axes & ((1u << a0) - 1)));
        return true;
    case IR_KIND_MATMUL: {
        /* the rows of the product's two matrix axes, m and n, and the contracted k */
        const IrShape *a = x, *b = &in[1]->shape;
        int r = a->rank;
        bool ta = p->attr.matmul.trans_a, tb = p->attr.matmul.trans_b;
        int ra[2] = {0, 0}, rb[2] = {0, 0};
        if (a->rows && a->rows_axis >= r - 2)
            ra[a->rows_axis - (r - 2)] = a->rows;
        if (b->rows && b->rows_axis >= r - 2)
            rb[b->rows_axis - (r - 2)] = b->rows;
        int m = ra[ta], k = ra[!ta], k2 = rb[tb], n = rb[!tb];
        bool a_stack = a->rows && a->rows_axis < r - 2, b_stack = b->rows && b->rows_axis < r - 2;
        if (k != k2 || (a_stack || b_stack) != (a_stack && b_stack && a->rows == b->rows &&
                                                a->rows_axis == b->rows_axis))
            return ROWS_ERR("matmul contracts or stacks a batch's rows with a fixed size");
        if ((m && n) || ((m || n) && a_stack))
            return ROWS_ERR("matmul gives a batch's rows to two axes");
        *out = a_stack ? with_rows(*out, a->rows, a->rows_axis)
                       : with_rows(*out, m ? m : n, m ? r - 2 : r - 1);
        return true;
    }
    case IR_KIND_LAYOUT:
    case IR_KIND_OPAQUE:
        break;
    }
    switch (op) {
    case IR_OP_RESHAPE:
        if (r0 != p->shape.rows)
            return ROWS_ERR("a reshape %s a batch's rows", r0 ? "loses" : "makes up");
        *out = with_rows(*out, r0, p->shape.rows_axis);
        return true;
    case IR_OP_TRANSPOSE:
        for (int i = 0; i < x->rank; i++)
            if (p->attr.transpose.perm[i] == a0)
                *out = with_rows(*out, r0, i);
        return true;
    case IR_OP_CONCAT:
        for (int i = 1; i < nin; i++)
            if (in[i]->shape.rows != r0 || in[i]->shape.rows_axis != a0)
                return ROWS_ERR("concat of tensors with different rows");
        *out = with_rows(*out, r0, a0);
        return true;
    case IR_OP_SLICE:
        if (r0 && (p->attr.slice.begin[a0] != 0 || p->attr.slice.end[a0] != x->dims[a0]))
            return ROWS_ERR("a slice of a batch's rows");
        *out = with_rows(*out, r0, a0);
        return true;
    case IR_OP_PAD:
        if (r0 && (p->attr.pad.before[a0] || p->attr.pad.after[a0]))
            return ROWS_ERR("padding of a batch's rows");
        *out = with_rows(*out, r0, a0);
        return true;
    case IR_OP_GATHER:
        if (r0)
            return ROWS_ERR("a gather from a table with a batch's rows");
        *out = with_rows(*out, in[1]->shape.rows, in[1]->shape.rows_axis);
        return true;
    case IR_OP_SCATTER_ADD:
        if (p->shape.rows)
            return ROWS_ERR("scatter_add into a table with a batch's rows");
        *out = with_rows(*out, 0, 0);
        return true;
    case IR_OP_ARGMAX:
        *out = with_rows(*out, p->attr.argmax.axis == a0 ? 0 : r0, a0 - (p->attr.argmax.axis < a0));
        return true;
    case IR_OP_ONE_HOT:
        *out = with_rows(*out, r0, a0);
        return true;
    default: break;
    }
    /* convolution, pooling, upsample2d: images [N, C, H, W], rows on N only */
    for (int i = 0; i < nin; i++)
        if (in[i]->shape.rows && in[i]->shape.rows_axis != 0)
            return ROWS_ERR("%s of a batch's rows on axis %d", ir_op_name(op),
                            in[i]->shape.rows_axis);
    switch (op) {
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BACKWARD_DATA:
        if (in[1]->shape.rows)
            return ROWS_ERR("convolution weights with a batch's rows");
        if (op == IR_OP_CONV2D_BACKWARD_DATA && p->shape.rows != r0)
            return ROWS_ERR("conv2d_backward_data changes the batch's rows");
        break;
    case IR_OP_CONV2D_BACKWARD_WEIGHTS:
        if (r0 != in[1]->shape.rows || p->shape.rows)
            return ROWS_ERR("conv2d_backward_weights of x and dy with different rows");
        *out = with_rows(*out, 0, 0);
        return true;
    case IR_OP_AVG_POOL2D_BACKWARD:
        if (p->shape.rows != r0)
            return ROWS_ERR("avg_pool2d_backward changes the batch's rows");
        break;
    default: break;
    }
    *out = with_rows(*out, r0, 0);
    return true;
}

bool ir_infer_shape(IrOp op, IrNode *const *in, int nin, const IrNode *proto, IrShape *out,
                    char *err, size_t errlen)
{
    typedef bool ShapeRule(IrNode *const *, int, const IrNode *, IrShape *, char *, size_t);
    static ShapeRule *const rules[] = {
#define OP(id, name, arity, kind, shape, grad) [IR_OP_##id] = shape_##shape,
#include "ir/ops.def"
#undef OP
    };
    ASSERT(op < IR_OP_COUNT);
    IrShape r;
    if (!rules[op](in, nin, proto, &r, err, errlen))
        return false;
    if (!infer_rows(op, in, nin, proto, &r, err, errlen)) {
        *out = with_rows(r, 0, 0); /* the dims are right: a tolerant graph goes on with them */
        return false;
    }
    if (r.rank == 0)
        r = with_rows(r, 0, 0);
    if (!ir_dims_size(r.rank, r.dims, 8, NULL, NULL)) {
        char buf[160];
        return SHAPE_ERR("the result %s is over nnc's size limit (2^48 elements)",
                         ir_shape_str(&r, buf, sizeof buf));
    }
    *out = r;
    return true;
}

/* ---- element types ----------------------------------------------------------------------- */

const char *ir_dtype_name(IrDType t)
{
    switch (t) {
    case IR_F32: return "f32";
    case IR_F64: return "f64";
    case IR_I32: return "i32";
    }
    UNREACHABLE();
}

#define DTYPE_ERR(...) (snprintf(err, errlen, __VA_ARGS__), false)

bool ir_infer_dtype(IrOp op, IrNode *const *in, int nin, const IrNode *proto, IrDType *out,
                    char *err, size_t errlen)
{
    /* Which inputs are indices (I32); every other input of an arithmetic op is a float. */
    uint32_t index_inputs = 0;
    switch (op) {
    case IR_OP_CONST:
        *out = proto->dtype;
        return true;
    case IR_OP_PRINT:
    case IR_OP_SLOT_STORE:
    case IR_OP_SCALAR_OUTPUT:
        *out = IR_F32; /* no result; the input may be either type */
        return true;
    case IR_OP_SLOT_LOAD:
        *out = proto->dtype;
        return true;
    case IR_OP_CAST:
        if (proto->dtype != IR_F32 && proto->dtype != IR_I32)
            return DTYPE_ERR("cast to %s", ir_dtype_name(proto->dtype));
        *out = proto->dtype;
        return true;
    case IR_OP_CMP_LT:
    case IR_OP_CMP_LE:
    case IR_OP_CMP_GT:
    case IR_OP_CMP_GE:
    case IR_OP_CMP_EQ:
    case IR_OP_CMP_NE:
        /* two i32s compare as integers; otherwise both are floats (below) */
        if (in[0]->dtype == IR_I32 || in[1]->dtype == IR_I32) {
            if (in[0]->dtype != in[1]->dtype)
                return DTYPE_ERR("%s of %s and %s", ir_op_name(op), ir_dtype_name(in[0]->dtype),
                                 ir_dtype_name(in[1]->dtype));
            *out = IR_F32;
            return true;
        }
        break;
    case IR_OP_FUSED:
        *out = proto->dtype; /* its body's root, checked with the body */
        return true;
    case IR_OP_RESHAPE:
    case IR_OP_TRANSPOSE:
    case IR_OP_SLICE:
    case IR_OP_PAD:
    case IR_OP_CONCAT:
        /* data movement keeps the type; concat's inputs share it */
        for (int i = 1; i < nin; i++)
            if (in[i]->dtype != in[0]->dtype)
                return DTYPE_ERR("concat of %s and %s", ir_dtype_name(in[0]->dtype),
                                 ir_dtype_name(in[i]->dtype));
        *out = nin ? in[0]->dtype : IR_F32;
        return true;
    case IR_OP_GATHER: index_inputs = 1u << 1; break;
    case IR_OP_SCATTER_ADD: index_inputs = 1u << 0; break;
    case IR_OP_ONE_HOT: index_inputs = 1u << 0; break;
    default:
        if (ir_op_kind(op) == IR_KIND_SOURCE) { /* random tensors, SCALAR_INPUT */
            *out = IR_F32;
            return true;
        }
        break;
    }
    IrDType result = IR_F32;
    bool have_float = false;
    for (int i = 0; i < nin; i++) {
        bool index = (index_inputs >> i) & 1;
        if (index && in[i]->dtype != IR_I32)
            return DTYPE_ERR("%s input %d must be i32 indices, not %s", ir_op_name(op), i,
                             ir_dtype_name(in[i]->dtype));
        if (!index && in[i]->dtype == IR_I32)
            return DTYPE_ERR("%s input %d must be a float tensor, not i32", ir_op_name(op), i);
        if (!index && !have_float) {
            result = in[i]->dtype;
            have_float = true;
        }
    }
    *out = op == IR_OP_ARGMAX ? IR_I32 : result;
    return true;
}
