/* accumulate.c — a matrix product added to a scaled slot that is stored back into that
 * slot becomes one product accumulated into the slot (passes.h, pass_accumulate).
 *
 * SGD with momentum updates its velocity with `v = momentum * v + g`, g a weight gradient
 * (a matmul). As three ops, the product writes g, and a kernel reads g and v and writes v:
 * the gradient crosses memory twice, and for the MLP's first layer that is 1.6 MB each
 * way. sgemm computes C = A B + beta C, so the product can add itself to the velocity
 * directly: matmul_acc(a, b, v, momentum). Memory planning then gives the result the
 * velocity's own slot when nothing else reads the old velocity (pass_slots_in_place), and
 * the gradient is never stored. The parameter's update (p -= lr * v) reads the new
 * velocity as before.
 *
 * The pattern is add(mul(c, v), matmul(a, b)), in either order of either op's inputs,
 * where c is one f32 value, v is a slot's value (through reshapes) of the product's shape,
 * the sum is stored into that same slot, and the product and the scaled v have no other
 * use. A product with a batch's rows (IrShape.rows) is left alone: its rows past a
 * smaller batch are not computed. sgemm may add beta * v to the product with one rounding
 * (a fused multiply-add) where the two ops round twice: the last bit of the velocity may
 * differ from the unfused program's. */
#include "passes/passes.h"
#include "util/util.h"

/* The store of n into the slot that v views, if n has one. */
static bool stored_into_source(const IrGraph *g, const IrNode *n, const IrNode *v)
{
    const IrNode *load = ir_slot_source(v);
    if (!load)
        return false;
    for (int i = 0; i < g->len; i++) {
        const IrNode *st = g->nodes[i];
        if (st->op == IR_OP_SLOT_STORE && st->in[0] == n &&
            st->attr.io.index == load->attr.io.index)
            return true;
    }
    return false;
}

/* The matmul_acc that add node n stands for, or NULL. */
static IrNode *accumulation(IrGraph *g, IrNode *n)
{
    if (n->op != IR_OP_ADD || n->dtype != IR_F32)
        return NULL;
    for (int i = 0; i < 2; i++) {
        IrNode *m = n->in[i], *t = n->in[1 - i];
        if (m->op != IR_OP_MATMUL || m->uses != 1 || m->shape.rows ||
            !ir_shape_eq(&m->shape, &n->shape) || t->op != IR_OP_MUL || t->uses != 1)
            continue;
        for (int j = 0; j < 2; j++) {
            IrNode *c = t->in[j], *v = t->in[1 - j];
            if (c->shape.rank != 0 || c->dtype != IR_F32 || !ir_shape_eq(&v->shape, &n->shape) ||
                !stored_into_source(g, n, v))
                continue;
            IrNode *in[4] = {m->in[0], m->in[1], v, c};
            IrNode *acc = ir_node_alloc(g, IR_OP_MATMUL_ACC, in, 4, n->span);
            acc->attr.matmul = m->attr.matmul;
            acc->shape = n->shape;
            acc->dtype = n->dtype;
            m->mark = t->mark = 1; /* no use left */
            return acc;
        }
    }
    return NULL;
}

void pass_accumulate(IrGraph *g)
{
    ir_count_uses(g);
    for (int i = 0; i < g->len; i++) {
        g->nodes[i]->mark = 0;
        g->nodes[i]->aux = NULL;
    }
    bool any = false;
    for (int i = 0; i < g->len; i++) {
        IrNode *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            if (n->in[j]->aux)
                n->in[j] = n->in[j]->aux;
        IrNode *acc = accumulation(g, n);
        if (acc) {
            n->aux = acc;
            g->nodes[i] = acc;
            any = true;
        }
    }
    if (!any)
        return;
    int k = 0;
    for (int i = 0; i < g->len; i++)
        if (!g->nodes[i]->mark)
            g->nodes[k++] = g->nodes[i];
    g->len = k;
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->aux = NULL;
}
