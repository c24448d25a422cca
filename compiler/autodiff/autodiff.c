/* autodiff.c — reverse mode on the graph (see ad.h).
 *
 * For GRAD(y, w): the nodes on a path from w to y are those both reachable backward from y
 * and depending on w. Walking them in reverse program order, each node's adjoint (the sum
 * of its users' contributions) is passed through its op's rule to its inputs. The new
 * nodes are appended where the GRAD stood, so program order stays topological. */
#include "autodiff/ad.h"
#include "autodiff/ad_internal.h"
#include "util/util.h"

#include <string.h>

enum { MARK_ANCESTOR = 1, MARK_DEPENDS = 2 };

/* The one axis along which the zero-padding p adds anything, or -1. */
static int pad_axis(const IrNode *p)
{
    int axis = -1;
    for (int d = 0; d < p->shape.rank; d++)
        if (p->attr.pad.before[d] || p->attr.pad.after[d]) {
            if (axis >= 0)
                return -1;
            axis = d;
        }
    return axis;
}

/* The sum of two contributions to an adjoint. The gradients of slices of one tensor are
 * zero-paddings of the slices' gradients: two paddings of adjacent ranges along one axis
 * become one padding of their concatenation (concatenations along that axis flattened).
 * An LSTM's input projection, sliced per time step, otherwise gets its gradient as a sum
 * of 64 full-size paddings, memset and added element by element. */
static IrNode *accumulate(IrGraph *g, Span at, IrNode *acc, IrNode *d)
{
    if (acc->op != IR_OP_PAD || d->op != IR_OP_PAD || acc->dtype != d->dtype ||
        !ir_shape_eq(&acc->shape, &d->shape))
        return ir_binary(g, at, IR_OP_ADD, acc, d);
    int axis = pad_axis(acc);
    if (axis < 0 || pad_axis(d) != axis)
        return ir_binary(g, at, IR_OP_ADD, acc, d);
    int64_t dim = acc->shape.dims[axis];
    IrNode *lo = acc, *hi = d;
    if (d->attr.pad.before[axis] < acc->attr.pad.before[axis])
        lo = d, hi = acc;
    if (dim - lo->attr.pad.after[axis] != hi->attr.pad.before[axis]) /* not adjacent */
        return ir_binary(g, at, IR_OP_ADD, acc, d);
    PtrVec parts = {0};
    IrNode *halves[2] = {lo->in[0], hi->in[0]};
    for (int h = 0; h < 2; h++) {
        IrNode *x = halves[h];
        if (x->op == IR_OP_CONCAT && x->attr.concat.axis == axis)
            for (int j = 0; j < x->nin; j++)
                util_vec_push(&parts, x->in[j]);
        else
            util_vec_push(&parts, x);
    }
    IrNode *joined = ir_concat(g, at, (IrNode *const *)parts.items, parts.len, axis);
    util_vec_free(&parts);
    int64_t before[IR_MAX_RANK] = {0}, after[IR_MAX_RANK] = {0};
    before[axis] = lo->attr.pad.before[axis];
    after[axis] = hi->attr.pad.after[axis];
    return ir_pad(g, at, joined, before, after);
}

/* Builds the gradient of y with respect to w from the nodes currently in g->nodes. */
static IrNode *differentiate(IrGraph *g, IrNode *grad, IrNode *y, IrNode *w)
{
    /* A snapshot: the rules append to g->nodes, which may move it. */
    int n = g->len;
    IrNode **nodes = util_malloc(sizeof(IrNode *) * (size_t)(n ? n : 1));
    memcpy(nodes, g->nodes, sizeof(IrNode *) * (size_t)n);
    int idmax = g->next_id;
    IrNode **adj = util_malloc(sizeof(IrNode *) * (size_t)idmax);
    memset(adj, 0, sizeof(IrNode *) * (size_t)idmax);
    for (int i = 0; i < n; i++)
        nodes[i]->mark = 0;

    /* Nodes depending on w (forward), then ancestors of y (backward). */
    w->mark |= MARK_DEPENDS;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nodes[i]->nin; j++)
            if (nodes[i]->in[j]->mark & MARK_DEPENDS)
                nodes[i]->mark |= MARK_DEPENDS;
    y->mark |= MARK_ANCESTOR;
    for (int i = n - 1; i >= 0; i--)
        if (nodes[i]->mark & MARK_ANCESTOR)
            for (int j = 0; j < nodes[i]->nin; j++)
                nodes[i]->in[j]->mark |= MARK_ANCESTOR;

    IrNode *result = NULL;
    if (y->mark & MARK_DEPENDS) {
        adj[y->id] = ir_scalar(g, grad->span, 1.0);
        for (int i = n - 1; i >= 0; i--) {
            IrNode *node = nodes[i];
            IrNode *gy = adj[node->id];
            if (!gy || node == w || node->mark != (MARK_ANCESTOR | MARK_DEPENDS))
                continue;
            AdRule *rule = ad_rule(node->op);
            for (int j = 0; j < node->nin; j++) {
                IrNode *x = node->in[j];
                if (x->mark != (MARK_ANCESTOR | MARK_DEPENDS))
                    continue;
                IrNode *d = rule(g, node, j, gy);
                if (d)
                    adj[x->id] = adj[x->id] ? accumulate(g, node->span, adj[x->id], d) : d;
            }
        }
        result = adj[w->id];
    }
    if (!result) /* y does not depend on w: the gradient is zero */
        result = ir_broadcast(g, grad->span, ir_scalar(g, grad->span, 0), &w->shape);
    util_free(adj);
    util_free(nodes);
    return result;
}

void ad_run(IrGraph *g)
{
    IrNode **old = g->nodes;
    int n = g->len;
    g->nodes = NULL;
    g->len = g->cap = 0;
    for (int i = 0; i < n; i++)
        old[i]->aux = NULL;
    for (int i = 0; i < n; i++) {
        IrNode *node = old[i];
        for (int j = 0; j < node->nin; j++)
            if (node->in[j]->aux)
                node->in[j] = node->in[j]->aux;
        if (node->op == IR_OP_GRAD)
            node->aux = differentiate(g, node, node->in[0], node->in[1]);
        else
            ir_graph_append(g, node);
    }
    for (int i = 0; i < n; i++)
        old[i]->aux = NULL;
    util_free(old);
}
