/* simplify.c — algebraic identities, common subexpressions and dead nodes (passes.h).
 * One forward walk: each node's inputs are first redirected to their replacements (aux),
 * then the node is folded, merged with an identical earlier node, or kept. */
#include "passes/passes.h"
#include "util/util.h"

#include <string.h>

/* Whether n is a constant whose every element is v, possibly reshaped or broadcast. */
/* Does the transpose swap its last two axes and keep the others? */
static bool swaps_last_two(const IrNode *t)
{
    int r = t->shape.rank;
    if (r < 2 || t->attr.transpose.perm[r - 2] != r - 1 || t->attr.transpose.perm[r - 1] != r - 2)
        return false;
    for (int i = 0; i < r - 2; i++)
        if (t->attr.transpose.perm[i] != i)
            return false;
    return true;
}

static bool is_splat(const IrNode *n, double v)
{
    while (n->op == IR_OP_BROADCAST || n->op == IR_OP_RESHAPE)
        n = n->in[0];
    if (n->op != IR_OP_CONST)
        return false;
    int64_t numel = ir_shape_numel(&n->shape);
    for (int64_t i = 0; i < numel; i++)
        if (n->attr.konst.values[i] != v)
            return false;
    return true;
}

/* x op k, where k is a constant splat and the result has x's shape: which input is x? */
static IrNode *identity_operand(IrNode *n, double k, bool commutes)
{
    IrNode *a = n->in[0], *b = n->in[1];
    if (is_splat(b, k) && ir_shape_eq(&a->shape, &n->shape))
        return a;
    if (commutes && is_splat(a, k) && ir_shape_eq(&b->shape, &n->shape))
        return b;
    return NULL;
}

/* x + 0 * y, y * 0 + x or x - 0 * y, the 0 a constant splat and the result of x's shape:
 * x. An optimizer's `g + weight_decay * p` with weight_decay = 0 then costs nothing, and
 * adds nothing, as in PyTorch (which skips the term). IEEE arithmetic differs only when y
 * is infinite or NaN (0 * y is NaN), or x is -0 (-0 + 0 is +0, as x + 0 -> x above). */
static IrNode *without_zero_term(IrNode *n)
{
    for (int i = n->op == IR_OP_ADD ? 0 : 1; i < 2; i++) {
        const IrNode *t = n->in[i];
        IrNode *x = n->in[1 - i];
        if (t->op == IR_OP_MUL && (is_splat(t->in[0], 0.0) || is_splat(t->in[1], 0.0)) &&
            ir_shape_eq(&x->shape, &n->shape))
            return x;
    }
    return n;
}

/* a op b on small f32 constants (each a scalar or of n's shape) as one constant: autodiff
 * writes pow's derivative with the exponent b - 1, which must be a constant for the rules
 * below to see x^1 or x^2 (a powf call per element otherwise). Each element is the f32
 * operation on the f32 inputs, computed in f64 and rounded once, which is exact for these
 * operations: what the kernel would compute. */
static IrNode *fold_constants(IrGraph *g, IrNode *n)
{
    switch (n->op) {
    case IR_OP_ADD:
    case IR_OP_SUB:
    case IR_OP_MUL:
    case IR_OP_DIV:
    case IR_OP_MAX:
    case IR_OP_MIN: break;
    default: return n;
    }
    IrNode *a = n->in[0], *b = n->in[1];
    if (n->dtype != IR_F32 || a->op != IR_OP_CONST || b->op != IR_OP_CONST ||
        a->dtype != IR_F32 || b->dtype != IR_F32)
        return n;
    int64_t numel = ir_shape_numel(&n->shape), na = ir_shape_numel(&a->shape);
    int64_t nb = ir_shape_numel(&b->shape);
    if (numel > 64 || (na != 1 && na != numel) || (nb != 1 && nb != numel))
        return n;
    IrNode *k = ir_node_alloc(g, IR_OP_CONST, NULL, 0, n->span);
    k->shape = n->shape;
    k->dtype = IR_F32;
    double *v = ARENA_NEW_N(&g->arena, double, numel ? numel : 1);
    for (int64_t i = 0; i < numel; i++) {
        double x = (float)a->attr.konst.values[na == 1 ? 0 : i];
        double y = (float)b->attr.konst.values[nb == 1 ? 0 : i];
        double r = n->op == IR_OP_ADD   ? x + y
                   : n->op == IR_OP_SUB ? x - y
                   : n->op == IR_OP_MUL ? x * y
                   : n->op == IR_OP_DIV ? x / y
                   : n->op == IR_OP_MAX ? (x >= y ? x : y)
                                        : (x <= y ? x : y);
        v[i] = (float)r;
    }
    k->attr.konst.values = v;
    return k;
}

/* Returns a node equivalent to n (possibly a new one), or n itself. */
static IrNode *fold(IrGraph *g, IrNode *n)
{
    IrNode *k = fold_constants(g, n);
    if (k != n)
        return k;
    IrNode *x = n->nin ? n->in[0] : NULL;
    switch (n->op) {
    case IR_OP_BROADCAST:
    case IR_OP_RESHAPE:
        if (ir_shape_eq(&x->shape, &n->shape))
            return x;
        if (n->op == IR_OP_RESHAPE && x->op == IR_OP_RESHAPE)
            n->in[0] = x->in[0];
        return n;
    case IR_OP_TRANSPOSE: {
        bool identity = true;
        for (int i = 0; i < n->shape.rank; i++)
            identity &= n->attr.transpose.perm[i] == i;
        if (identity)
            return x;
        if (x->op == IR_OP_MATMUL && n->shape.rank == 2 && x->uses == 1) {
            /* transpose(a @ b) = b^T @ a^T: the product written transposed, no copy */
            IrNode *in[2] = {x->in[1], x->in[0]};
            IrNode *m = ir_node_alloc(g, IR_OP_MATMUL, in, 2, n->span);
            m->attr.matmul.trans_a = !x->attr.matmul.trans_b;
            m->attr.matmul.trans_b = !x->attr.matmul.trans_a;
            m->shape = n->shape;
            m->dtype = n->dtype;
            return m;
        }
        if (x->op == IR_OP_TRANSPOSE) {
            /* transpose(transpose(y, p), q)[i] = y dim p[q[i]] */
            int composed[IR_MAX_RANK];
            bool back = true;
            for (int i = 0; i < n->shape.rank; i++) {
                composed[i] = x->attr.transpose.perm[n->attr.transpose.perm[i]];
                back &= composed[i] == i;
            }
            if (back)
                return x->in[0];
            n->in[0] = x->in[0];
            memcpy(n->attr.transpose.perm, composed, sizeof composed);
        }
        return n;
    }
    case IR_OP_SLICE:
    case IR_OP_PAD:
    case IR_OP_CONCAT:
        /* a slice of everything, no padding, a concatenation of one tensor */
        return ir_shape_eq(&x->shape, &n->shape) && n->nin == 1 ? x : n;
    case IR_OP_NEG:
        return x->op == IR_OP_NEG ? x->in[0] : n;
    case IR_OP_MATMUL:
        /* matmul(transpose(a), b): oneDNN reads a transposed, no copy is made (for stacks
         * of matrices, a transpose of the last two axes alone) */
        for (int i = 0; i < 2; i++) {
            IrNode *t = n->in[i];
            if (t->op == IR_OP_TRANSPOSE && swaps_last_two(t)) {
                n->in[i] = t->in[0];
                if (i == 0)
                    n->attr.matmul.trans_a = !n->attr.matmul.trans_a;
                else
                    n->attr.matmul.trans_b = !n->attr.matmul.trans_b;
            }
        }
        return n;
    case IR_OP_MUL: {
        IrNode *r = identity_operand(n, 1.0, true);
        return r ? r : n;
    }
    case IR_OP_ADD: {
        IrNode *r = identity_operand(n, 0.0, true);
        return r ? r : without_zero_term(n);
    }
    case IR_OP_SUB: {
        IrNode *r = identity_operand(n, 0.0, false);
        return r ? r : without_zero_term(n);
    }
    case IR_OP_DIV: {
        IrNode *r = identity_operand(n, 1.0, false);
        return r ? r : n;
    }
    case IR_OP_POW: {
        /* x^1 = x and x^2 = x x (exactly rounded, as pow's result should be): an
         * optimizer's squared gradient is a multiplication, not a call per element */
        IrNode *r = identity_operand(n, 1.0, false);
        if (r)
            return r;
        r = identity_operand(n, 2.0, false);
        if (!r)
            return n;
        IrNode *in[2] = {r, r};
        IrNode *m = ir_node_alloc(g, IR_OP_MUL, in, 2, n->span);
        m->shape = n->shape;
        m->dtype = n->dtype;
        return m;
    }
    default: return n;
    }
}

static uint64_t hash_node(const IrNode *n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)n->op;
    h = (h ^ (uint64_t)n->shape.rank) * 1099511628211ull;
    for (int i = 0; i < n->shape.rank; i++)
        h = (h ^ (uint64_t)n->shape.dims[i]) * 1099511628211ull;
    for (int i = 0; i < n->nin; i++)
        h = (h ^ (uint64_t)n->in[i]->id) * 1099511628211ull;
    if (n->op == IR_OP_CONST && n->shape.rank == 0) {
        uint64_t bits;
        memcpy(&bits, n->attr.konst.values, sizeof bits);
        h = (h ^ bits) * 1099511628211ull;
    }
    return h;
}

static bool same_ints(const int64_t *a, const int64_t *b, int n)
{
    return memcmp(a, b, sizeof(int64_t) * (size_t)n) == 0;
}

/* Whether a and b compute the same value: same op, type, shape, inputs and attributes.
 * Every op with attributes must compare them here. */
static bool same_node(const IrNode *a, const IrNode *b)
{
    if (a->op != b->op || a->dtype != b->dtype || a->nin != b->nin ||
        !ir_shape_eq(&a->shape, &b->shape))
        return false;
    for (int i = 0; i < a->nin; i++)
        if (a->in[i] != b->in[i])
            return false;
    switch (a->op) {
    case IR_OP_CONST:
        return memcmp(a->attr.konst.values, b->attr.konst.values,
                      sizeof(double) * (size_t)ir_shape_numel(&a->shape)) == 0;
    case IR_OP_SUM:
    case IR_OP_REDUCE_MAX: return a->attr.reduce.axes == b->attr.reduce.axes;
    case IR_OP_TRANSPOSE:
        return memcmp(a->attr.transpose.perm, b->attr.transpose.perm,
                      sizeof a->attr.transpose.perm) == 0;
    case IR_OP_MATMUL:
    case IR_OP_MATMUL_ACC:
        return a->attr.matmul.trans_a == b->attr.matmul.trans_a &&
               a->attr.matmul.trans_b == b->attr.matmul.trans_b;
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BACKWARD_DATA:
    case IR_OP_CONV2D_BACKWARD_WEIGHTS:
        return a->attr.conv.stride == b->attr.conv.stride &&
               a->attr.conv.padding == b->attr.conv.padding &&
               a->attr.conv.dilation == b->attr.conv.dilation &&
               a->attr.conv.groups == b->attr.conv.groups;
    case IR_OP_MAX_POOL2D:
    case IR_OP_MAX_POOL2D_BACKWARD:
    case IR_OP_AVG_POOL2D:
    case IR_OP_AVG_POOL2D_BACKWARD:
        return a->attr.pool.size == b->attr.pool.size &&
               a->attr.pool.stride == b->attr.pool.stride;
    case IR_OP_UPSAMPLE2D: return a->attr.upsample.factor == b->attr.upsample.factor;
    case IR_OP_CONCAT: return a->attr.concat.axis == b->attr.concat.axis;
    case IR_OP_ARGMAX: return a->attr.argmax.axis == b->attr.argmax.axis;
    case IR_OP_ONE_HOT: return a->attr.one_hot.depth == b->attr.one_hot.depth;
    case IR_OP_RANDOM_UNIFORM:
    case IR_OP_RANDOM_NORMAL:
    case IR_OP_RANDOM_BERNOULLI:
        /* a deterministic function of its attributes: equal ones give equal tensors */
        return a->attr.random.a == b->attr.random.a && a->attr.random.b == b->attr.random.b &&
               a->attr.random.seed == b->attr.random.seed &&
               a->attr.random.counter == b->attr.random.counter &&
               a->attr.random.run_var == b->attr.random.run_var;
    case IR_OP_SLICE:
        return same_ints(a->attr.slice.begin, b->attr.slice.begin, a->shape.rank) &&
               same_ints(a->attr.slice.end, b->attr.slice.end, a->shape.rank);
    case IR_OP_PAD:
        return same_ints(a->attr.pad.before, b->attr.pad.before, a->shape.rank) &&
               same_ints(a->attr.pad.after, b->attr.pad.after, a->shape.rank);
    case IR_OP_SLOT_LOAD:
    case IR_OP_SCALAR_INPUT: return a->attr.io.index == b->attr.io.index;
    case IR_OP_PRINT:
    case IR_OP_SLOT_STORE:
    case IR_OP_SCALAR_OUTPUT:
    case IR_OP_GRAD:
    case IR_OP_FUSED: return false; /* effects and meta nodes are never merged */
    default: return true;
    }
}

/* Keeps only nodes that an effect (PRINT, SLOT_STORE, SCALAR_OUTPUT) depends on. */
static void remove_dead(IrGraph *g)
{
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->mark = ir_op_kind(g->nodes[i]->op) == IR_KIND_EFFECT;
    for (int i = g->len - 1; i >= 0; i--)
        if (g->nodes[i]->mark)
            for (int j = 0; j < g->nodes[i]->nin; j++)
                g->nodes[i]->in[j]->mark = 1;
    int k = 0;
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i]->mark)
            g->nodes[k++] = g->nodes[i];
    g->len = k;
}

void pass_simplify(IrGraph *g)
{
    int cap = 64;
    while (cap < 2 * g->len)
        cap *= 2;
    IrNode **table = util_malloc(sizeof(IrNode *) * (size_t)cap);
    memset(table, 0, sizeof(IrNode *) * (size_t)cap);
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->aux = NULL;
    ir_count_uses(g);
    int k = 0;
    for (int i = 0; i < g->len; i++) {
        IrNode *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            while (n->in[j]->aux)
                n->in[j] = n->in[j]->aux;
        int fresh = g->next_id; /* the nodes this fold makes have ids from here on */
        IrNode *r = fold(g, n);
        /* n itself, or a new node taking its place, is merged with an equal one seen
         * before (folded constants too: autodiff leaves duplicates that are equal only
         * once their constants are); a node that was there before, which an identity
         * returns (even one an earlier fold made), is in the graph already */
        IrNode *c = r == n || r->id >= fresh ? r : NULL;
        if (c) {
            uint64_t h = hash_node(c);
            size_t slot = (size_t)h & (size_t)(cap - 1);
            for (; table[slot]; slot = (slot + 1) & (size_t)(cap - 1))
                if (same_node(table[slot], c)) {
                    r = table[slot];
                    break;
                }
            if (r == c)
                table[slot] = c;
        }
        if (r != n)
            n->aux = r;
        if (r == n || r == c) /* kept: n, or the new node in its place */
            g->nodes[k++] = r;
    }
    g->len = k;
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->aux = NULL;
    util_free(table);
    remove_dead(g);
}
