/* trace.c — lowering by tracing: while the checker interprets the program's statements it
 * also builds their graph. A tensor value carries the IR node that computes it; every
 * operation on tensors adds its node; function and layer calls are inlined because the
 * checker runs their bodies with the call's values; loops with compile-time bounds are
 * unrolled the same way. Definitions checked on their own (generically) are not traced. */
#include "sema/sema_internal.h"

#include <string.h>

bool sema_tracing(const Checker *c) { return c->graph && !sema_lenient; }

void sema_unsupported(Checker *c, Span at, const char *what)
{
    sema_error(c, at, "code generation does not support %s yet", what);
}

bool sema_ir_shape(Checker *c, const Value *v, Span at, IrShape *out)
{
    if (v->kind != V_TENSOR || v->rank < 0) {
        sema_unsupported(c, at, "tensors of unknown rank");
        return false;
    }
    out->rank = v->rank;
    for (int i = 0; i < v->rank; i++) {
        if (!dim_known(v->dims[i])) {
            char buf[64];
            sema_error(c, at, "code generation does not support the symbolic size '%s' yet "
                              "(only sizes known at compile time)",
                       dim_str(c, v->dims[i], buf, sizeof buf));
            return false;
        }
        out->dims[i] = v->dims[i].n;
    }
    return true;
}

/* Row-major numbers of a numeric nest; false if one is not known at compile time. */
static bool flatten(const Value *v, double *out, int64_t *n)
{
    if (v->kind == V_INT || v->kind == V_FLOAT) {
        if (!v->known)
            return false;
        out[(*n)++] = v->kind == V_INT ? (double)v->i : v->f;
        return true;
    }
    for (int i = 0; i < v->len; i++)
        if (!flatten(v->items[i], out, n))
            return false;
    return true;
}

IrNode *sema_node(Checker *c, const Value *v, Span at)
{
    /* A literal keeps the node made for it, so every use of a variable bound to one (and
     * grad with respect to it) refers to the same constant. */
    if (v->node)
        return v->node;
    if (v->kind == V_INT || v->kind == V_FLOAT || v->kind == V_LIST) {
        Value *t = sema_as_tensor(c, (Value *)v);
        IrShape shape;
        if (!t || !sema_ir_shape(c, t, at, &shape))
            return NULL;
        int64_t count = ir_shape_numel(&shape), n = 0;
        double *values = util_malloc(sizeof(double) * (size_t)(count ? count : 1));
        IrNode *k = NULL;
        if (flatten(v, values, &n) && n == count) {
            k = ir_const(c->graph, at, &shape, values);
            ((Value *)v)->node = k;
        }
        else
            sema_unsupported(c, at, "numbers only known at run time in tensors");
        util_free(values);
        return k;
    }
    if (v->kind == V_TENSOR)
        sema_unsupported(c, at, "this tensor (it has no compiled value)");
    /* an error value's own error was reported where it arose */
    return NULL;
}

Value *sema_with_node(Checker *c, Value *v, IrNode *node)
{
    if (!node || v->kind == V_ERROR)
        return val_error(c);
    Value *r = val_copy(c, v);
    r->node = node;
    return r;
}

/* Adds a node after checking it with the op's own shape and type rules, so a mismatch
 * between what the checker accepts and what the IR supports is a reported limitation, never
 * an internal error. `proto` supplies attributes and, for ops whose shape is an attribute,
 * the shape; NULL for none. */
IrNode *sema_trace_op(Checker *c, Span at, IrOp op, IrNode *const *in, int nin,
                      const IrNode *proto)
{
    for (int i = 0; i < nin; i++)
        if (!in[i])
            return NULL;
    IrNode *n = ir_node_alloc(c->graph, op, in, nin, at);
    if (proto) {
        n->attr = proto->attr;
        n->shape = proto->shape;
        n->dtype = proto->dtype;
    }
    char err[256];
    if (!ir_infer_shape(op, n->in, nin, n, &n->shape, err, sizeof err) ||
        !ir_infer_dtype(op, n->in, nin, n, &n->dtype, err, sizeof err)) {
        char what[400];
        snprintf(what, sizeof what, "this %s (%s)", ir_op_name(op), err);
        sema_unsupported(c, at, what);
        return NULL;
    }
    ir_graph_append(c->graph, n);
    return n;
}

/* x @ w for the ranks the IR's MATMUL (2-D) can do: 2-D x 2-D, and [..., k] @ [k, n] by
 * folding the leading axes of x into rows. */
IrNode *sema_trace_matmul(Checker *c, Span at, IrNode *a, IrNode *b)
{
    if (!a || !b)
        return NULL;
    if (a->shape.rank == 2 && b->shape.rank == 2)
        return sema_trace_op(c, at, IR_OP_MATMUL, (IrNode *[]){a, b}, 2, NULL);
    if (a->shape.rank > 2 && b->shape.rank == 2) {
        IrShape rows = {.rank = 2, .dims = {1, a->shape.dims[a->shape.rank - 1]}};
        for (int i = 0; i < a->shape.rank - 1; i++)
            rows.dims[0] *= a->shape.dims[i];
        IrNode *flat = ir_reshape(c->graph, at, a, &rows);
        IrNode *m = sema_trace_op(c, at, IR_OP_MATMUL, (IrNode *[]){flat, b}, 2, NULL);
        if (!m)
            return NULL;
        IrShape out = a->shape;
        out.dims[out.rank - 1] = b->shape.dims[1];
        return ir_reshape(c->graph, at, m, &out);
    }
    sema_unsupported(c, at, "batched matrix products of these ranks");
    return NULL;
}
