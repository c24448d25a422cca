/* shape.c — shape rules of the primitive ops (the "shape" column of ops.def). */
#include "ir/ir.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

int64_t ir_shape_numel(const IrShape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->dims[i];
    return n;
}

bool ir_shape_eq(const IrShape *a, const IrShape *b)
{
    if (a->rank != b->rank)
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
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)s->dims[i]);
    if (len < n)
        snprintf(buf + len, n - len, "]");
    return buf;
}

bool ir_shape_broadcast(const IrShape *a, const IrShape *b, IrShape *out)
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
        if (!ir_shape_broadcast(&r, &in[i]->shape, &r)) {
            char a[128], b[128];
            return SHAPE_ERR("shapes %s and %s do not broadcast",
                             ir_shape_str(&in[0]->shape, a, sizeof a),
                             ir_shape_str(&in[i]->shape, b, sizeof b));
        }
    }
    *out = r;
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
    if (a->rank != 2 || b->rank != 2)
        return SHAPE_ERR("matmul needs two matrices, got shapes %s and %s",
                         ir_shape_str(a, sa, sizeof sa), ir_shape_str(b, sb, sizeof sb));
    if (a->dims[1] != b->dims[0])
        return SHAPE_ERR("matmul of %s and %s: inner dimensions %lld and %lld differ",
                         ir_shape_str(a, sa, sizeof sa), ir_shape_str(b, sb, sizeof sb),
                         (long long)a->dims[1], (long long)b->dims[0]);
    *out = (IrShape){.rank = 2, .dims = {a->dims[0], b->dims[1]}};
    return true;
}

static bool shape_effect(IrNode *const *in, int nin, const IrNode *p, IrShape *out, char *err,
                         size_t errlen)
{
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
    return rules[op](in, nin, proto, out, err, errlen);
}
