/* ir.c — the op table, graph construction, the textual printer and the verifier. */
#include "ir/ir.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int arity;
    IrOpKind kind;
} op_info[] = {
#define OP(id, name, arity, kind, shape, grad) [IR_OP_##id] = {name, arity, kind},
#include "ir/ops.def"
#undef OP
};

const char *ir_op_name(IrOp op) { return op_info[op].name; }
int ir_op_arity(IrOp op) { return op_info[op].arity; }
IrOpKind ir_op_kind(IrOp op) { return op_info[op].kind; }

bool ir_op_is_elementwise(IrOp op)
{
    IrOpKind k = op_info[op].kind;
    return k == IR_KIND_UNARY || k == IR_KIND_BINARY || k == IR_KIND_SELECT ||
           k == IR_KIND_BROADCAST;
}

IrGraph *ir_graph_new(void)
{
    IrGraph *g = util_malloc(sizeof *g);
    *g = (IrGraph){0};
    arena_init(&g->arena);
    return g;
}

void ir_graph_free(IrGraph *g)
{
    if (!g)
        return;
    arena_free(&g->arena);
    util_free(g->nodes);
    util_free(g);
}

IrNode *ir_node_alloc(IrGraph *g, IrOp op, IrNode *const *in, int nin, Span span)
{
    IrNode *n = ARENA_NEW(&g->arena, IrNode);
    n->op = op;
    n->id = g->next_id++;
    n->dtype = IR_F32;
    n->span = span;
    n->nin = nin;
    n->in = ARENA_NEW_N(&g->arena, IrNode *, nin ? nin : 1);
    for (int i = 0; i < nin; i++)
        n->in[i] = in[i];
    return n;
}

void ir_graph_append(IrGraph *g, IrNode *n)
{
    if (g->len == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->nodes = util_realloc(g->nodes, sizeof(IrNode *) * (size_t)g->cap);
    }
    g->nodes[g->len++] = n;
}

/* Infers n's shape with its op's rule (the checker has reported user errors already, so a
 * failure here is a compiler bug) and appends it. */
static IrNode *finish(IrGraph *g, IrNode *n)
{
    char err[256];
    if (!ir_infer_shape(n->op, n->in, n->nin, n, &n->shape, err, sizeof err)) {
        fprintf(stderr, "nnc: invalid %s: %s\n", ir_op_name(n->op), err);
        UNREACHABLE();
    }
    ir_graph_append(g, n);
    return n;
}

IrNode *ir_const(IrGraph *g, Span s, const IrShape *shape, const double *values)
{
    IrNode *n = ir_node_alloc(g, IR_OP_CONST, NULL, 0, s);
    n->shape = *shape;
    n->attr.konst.values = arena_copy(&g->arena, values,
                                      sizeof(double) * (size_t)ir_shape_numel(shape));
    return finish(g, n);
}

IrNode *ir_scalar(IrGraph *g, Span s, double v)
{
    IrShape scalar = {0};
    return ir_const(g, s, &scalar, &v);
}

IrNode *ir_unary(IrGraph *g, Span s, IrOp op, IrNode *x)
{
    ASSERT(op_info[op].kind == IR_KIND_UNARY);
    return finish(g, ir_node_alloc(g, op, &x, 1, s));
}

IrNode *ir_binary(IrGraph *g, Span s, IrOp op, IrNode *a, IrNode *b)
{
    ASSERT(op_info[op].kind == IR_KIND_BINARY);
    IrNode *in[2] = {a, b};
    return finish(g, ir_node_alloc(g, op, in, 2, s));
}

IrNode *ir_select(IrGraph *g, Span s, IrNode *cond, IrNode *a, IrNode *b)
{
    IrNode *in[3] = {cond, a, b};
    return finish(g, ir_node_alloc(g, IR_OP_SELECT, in, 3, s));
}

IrNode *ir_reduce(IrGraph *g, Span s, IrOp op, IrNode *x, uint32_t axes)
{
    ASSERT(op_info[op].kind == IR_KIND_REDUCE);
    IrNode *n = ir_node_alloc(g, op, &x, 1, s);
    n->attr.reduce.axes = axes;
    return finish(g, n);
}

IrNode *ir_broadcast(IrGraph *g, Span s, IrNode *x, const IrShape *to)
{
    IrShape check;
    ASSERT(ir_shape_broadcast(&x->shape, to, &check) && ir_shape_eq(&check, to));
    IrNode *n = ir_node_alloc(g, IR_OP_BROADCAST, &x, 1, s);
    n->shape = *to;
    return finish(g, n);
}

IrNode *ir_reshape(IrGraph *g, Span s, IrNode *x, const IrShape *to)
{
    ASSERT(ir_shape_numel(&x->shape) == ir_shape_numel(to));
    IrNode *n = ir_node_alloc(g, IR_OP_RESHAPE, &x, 1, s);
    n->shape = *to;
    return finish(g, n);
}

IrNode *ir_transpose(IrGraph *g, Span s, IrNode *x, const int *perm)
{
    IrNode *n = ir_node_alloc(g, IR_OP_TRANSPOSE, &x, 1, s);
    for (int i = 0; i < x->shape.rank; i++)
        n->attr.transpose.perm[i] = perm[i];
    return finish(g, n);
}

IrNode *ir_matmul(IrGraph *g, Span s, IrNode *a, IrNode *b)
{
    IrNode *in[2] = {a, b};
    return finish(g, ir_node_alloc(g, IR_OP_MATMUL, in, 2, s));
}

IrNode *ir_print(IrGraph *g, Span s, IrNode *x)
{
    return finish(g, ir_node_alloc(g, IR_OP_PRINT, &x, 1, s));
}

IrNode *ir_grad(IrGraph *g, Span s, IrNode *y, IrNode *wrt)
{
    IrNode *in[2] = {y, wrt};
    return finish(g, ir_node_alloc(g, IR_OP_GRAD, in, 2, s));
}

void ir_count_uses(IrGraph *g)
{
    for (int i = 0; i < g->len; i++)
        g->nodes[i]->uses = 0;
    for (int i = 0; i < g->len; i++)
        for (int j = 0; j < g->nodes[i]->nin; j++)
            g->nodes[i]->in[j]->uses++;
}

/* ---- printer ------------------------------------------------------------------------ */

static void print_axes(FILE *out, const char *label, uint32_t mask, int n, const int *list)
{
    fprintf(out, " %s=[", label);
    bool first = true;
    if (list) {
        for (int i = 0; i < n; i++) {
            fprintf(out, "%s%d", first ? "" : ", ", list[i]);
            first = false;
        }
    } else {
        for (int i = 0; i < 32; i++)
            if (mask & (1u << i)) {
                fprintf(out, "%s%d", first ? "" : ", ", i);
                first = false;
            }
    }
    fputc(']', out);
}

static void print_node(FILE *out, const IrNode *n, int indent)
{
    char shape[256];
    fprintf(out, "%*s", indent, "");
    if (n->op == IR_OP_PRINT)
        fprintf(out, "print");
    else
        fprintf(out, "%%%d = %s %s%s", n->id, ir_op_name(n->op), n->dtype == IR_F32 ? "f32" : "f64",
                ir_shape_str(&n->shape, shape, sizeof shape));
    for (int i = 0; i < n->nin; i++)
        fprintf(out, "%s%%%d", i ? ", " : " ", n->in[i]->id);
    switch (n->op) {
    case IR_OP_CONST: {
        int64_t numel = ir_shape_numel(&n->shape);
        fputs(" [", out);
        for (int64_t i = 0; i < numel && i < 16; i++)
            fprintf(out, "%s%.9g", i ? ", " : "", n->attr.konst.values[i]);
        fputs(numel > 16 ? ", ...]" : "]", out);
        break;
    }
    case IR_OP_SUM:
    case IR_OP_REDUCE_MAX: print_axes(out, "axes", n->attr.reduce.axes, 0, NULL); break;
    case IR_OP_TRANSPOSE:
        print_axes(out, "perm", 0, n->shape.rank, n->attr.transpose.perm);
        break;
    case IR_OP_FUSED:
        fputs(" {\n", out);
        for (int i = 0; i < n->attr.fused.nbody; i++)
            print_node(out, n->attr.fused.body[i], indent + 4);
        fprintf(out, "%*s}", indent, "");
        break;
    default: break;
    }
    fputc('\n', out);
}

void ir_print_graph(FILE *out, const IrGraph *g)
{
    for (int i = 0; i < g->len; i++)
        print_node(out, g->nodes[i], 0);
}

/* ---- verifier -------------------------------------------------------------------------- */

static const char *verify_node(const IrNode *n, const IrNode *const *defined, int ndefined)
{
    static char msg[512];
    int arity = op_info[n->op].arity;
    if (arity >= 0 && n->nin != arity)
        return "wrong number of inputs";
    for (int i = 0; i < n->nin; i++) {
        bool found = false;
        for (int j = 0; j < ndefined && !found; j++)
            found = defined[j] == n->in[i];
        if (!found) {
            snprintf(msg, sizeof msg, "input %%%d is not defined before its use", n->in[i]->id);
            return msg;
        }
    }
    if (n->op != IR_OP_FUSED) {
        IrShape s;
        char err[256];
        if (!ir_infer_shape(n->op, n->in, n->nin, n, &s, err, sizeof err)) {
            snprintf(msg, sizeof msg, "shape rule fails: %s", err);
            return msg;
        }
        if (!ir_shape_eq(&s, &n->shape))
            return "result shape differs from the shape rule's";
    }
    return NULL;
}

static const char *verify_fused(const IrNode *f, const IrNode **scope, int nscope)
{
    int nbody = f->attr.fused.nbody;
    if (nbody == 0)
        return "empty fused body";
    const IrNode *root = f->attr.fused.body[nbody - 1];
    if (!ir_shape_eq(&root->shape, &f->shape))
        return "fused shape differs from its result's";
    IrShape domain = op_info[root->op].kind == IR_KIND_REDUCE ? root->in[0]->shape : root->shape;
    for (int i = 0; i < f->nin; i++)
        scope[nscope + i] = f->in[i];
    int n = nscope + f->nin;
    for (int i = 0; i < nbody; i++) {
        const IrNode *b = f->attr.fused.body[i];
        bool last = i == nbody - 1;
        if (!ir_op_is_elementwise(b->op) && !(last && op_info[b->op].kind == IR_KIND_REDUCE))
            return "fused body holds an op that is not elementwise";
        IrShape check;
        if (!last && (!ir_shape_broadcast(&b->shape, &domain, &check) ||
                      !ir_shape_eq(&check, &domain)))
            return "fused body node does not broadcast to the domain";
        const char *e = verify_node(b, scope + nscope, n - nscope);
        if (e)
            return e;
        scope[n++] = b;
    }
    return NULL;
}

void ir_verify(const IrGraph *g, const char *after_pass)
{
    int cap = g->len + 1;
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i]->op == IR_OP_FUSED)
            cap += g->nodes[i]->nin + g->nodes[i]->attr.fused.nbody;
    const IrNode **defined = util_malloc(sizeof(IrNode *) * (size_t)cap);
    for (int i = 0; i < g->len; i++) {
        const IrNode *n = g->nodes[i];
        const char *e = verify_node(n, defined, i);
        if (!e && n->op == IR_OP_FUSED)
            e = verify_fused(n, defined, i);
        if (e) {
            fprintf(stderr, "nnc: IR verification failed after %s at %%%d (%s): %s\n",
                    after_pass, n->id, ir_op_name(n->op), e);
            ir_print_graph(stderr, g);
            abort();
        }
        defined[i] = n;
    }
    util_free((void *)defined);
}
