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

const IrNode *ir_slot_source(const IrNode *n)
{
    while (n->op == IR_OP_RESHAPE)
        n = n->in[0];
    return n->op == IR_OP_SLOT_LOAD ? n : NULL;
}

bool ir_fused_flat(const IrNode *a)
{
    if (a->op != IR_OP_FUSED || ir_shape_numel(&a->shape) < 2 || a->shape.rows)
        return false;
    for (int j = 0; j < a->attr.fused.nbody; j++)
        if (!ir_op_is_elementwise(a->attr.fused.body[j]->op))
            return false;
    for (int i = 0; i < a->nin; i++)
        if (!ir_shape_eq(&a->in[i]->shape, &a->shape) && ir_shape_numel(&a->in[i]->shape) != 1)
            return false;
    return true;
}

/* Where body node b of FUSED node f takes its input j: a body index, or -1 - the index
 * of one of f's inputs. */
static int body_source(const IrNode *f, const IrNode *b, int j)
{
    for (int t = 0; t < f->attr.fused.nbody; t++)
        if (f->attr.fused.body[t] == b->in[j])
            return t;
    for (int i = 0; i < f->nin; i++)
        if (f->in[i] == b->in[j])
            return -1 - i;
    return INT32_MIN; /* not reached in a well-formed FUSED node */
}

bool ir_fused_alike(const IrNode *a, const IrNode *b)
{
    /* the cheap tests first: gather_alike asks of many pairs */
    if (a->op != IR_OP_FUSED || b->op != IR_OP_FUSED || a->dtype != b->dtype ||
        a->nin != b->nin || a->attr.fused.nbody != b->attr.fused.nbody ||
        !ir_fused_flat(a) || !ir_fused_flat(b))
        return false;
    for (int i = 0; i < a->nin; i++) {
        const IrNode *x = a->in[i], *y = b->in[i];
        bool x_whole = ir_shape_eq(&x->shape, &a->shape), y_whole = ir_shape_eq(&y->shape, &b->shape);
        if (x_whole != y_whole || x->dtype != y->dtype)
            return false;
    }
    for (int t = 0; t < a->attr.fused.nbody; t++) {
        const IrNode *p = a->attr.fused.body[t], *q = b->attr.fused.body[t];
        if (p->op != q->op || p->dtype != q->dtype || p->nin != q->nin ||
            (ir_shape_numel(&p->shape) == 1) != (ir_shape_numel(&q->shape) == 1))
            return false;
        if (ir_op_kind(p->op) != IR_KIND_BROADCAST && memcmp(&p->attr, &q->attr, sizeof p->attr))
            return false;
        for (int j = 0; j < p->nin; j++)
            if (body_source(a, p, j) != body_source(b, q, j))
                return false;
    }
    return true;
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
    util_free(g->invalid);
    util_free(g->unsupported);
    util_free(g);
}

void ir_graph_unsupported(IrGraph *g, Span at, const char *what)
{
    if (g->unsupported)
        return;
    g->unsupported = util_strdup(what);
    g->unsupported_at = at;
}

bool ir_graph_report(const IrGraph *g, bool color)
{
    if (!g->unsupported)
        return false;
    DiagSink d;
    diag_init(&d);
    d.color = color;
    diag_error(&d, g->unsupported_at, "%s is not supported yet", g->unsupported);
    fflush(stdout);
    diag_print(&d, stderr);
    diag_free(&d);
    return true;
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
    bool shaped = ir_infer_shape(n->op, n->in, n->nin, n, &n->shape, err, sizeof err);
    if (!shaped && g->tolerant && !strncmp(err, IR_ROWS_ERROR, strlen(IR_ROWS_ERROR))) {
        if (!g->invalid) {
            g->invalid = util_strdup(err);
            g->invalid_at = n->span;
        }
        shaped = true;
    }
    if (!shaped || !ir_infer_dtype(n->op, n->in, n->nin, n, &n->dtype, err, sizeof err)) {
        fprintf(stderr, "nnc: invalid %s: %s\n", ir_op_name(n->op), err);
        UNREACHABLE();
    }
    ir_graph_append(g, n);
    return n;
}

IrNode *ir_const(IrGraph *g, Span s, const IrShape *shape, const double *values)
{
    return ir_const_typed(g, s, IR_F32, shape, values);
}

IrNode *ir_const_typed(IrGraph *g, Span s, IrDType dtype, const IrShape *shape,
                       const double *values)
{
    IrNode *n = ir_node_alloc(g, IR_OP_CONST, NULL, 0, s);
    int64_t numel = ir_shape_numel(shape);
    if (dtype == IR_I32)
        for (int64_t i = 0; i < numel; i++)
            ASSERT(values[i] == (double)(int32_t)values[i]);
    n->shape = *shape;
    n->dtype = dtype;
    n->attr.konst.values = arena_copy(&g->arena, values, sizeof(double) * (size_t)numel);
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

IrNode *ir_conv2d(IrGraph *g, Span s, IrNode *x, IrNode *w, IrConvAttr a)
{
    IrNode *in[2] = {x, w};
    IrNode *n = ir_node_alloc(g, IR_OP_CONV2D, in, 2, s);
    n->attr.conv = a;
    return finish(g, n);
}

IrNode *ir_conv2d_backward_data(IrGraph *g, Span s, IrNode *dy, IrNode *w,
                                const IrShape *x_shape, IrConvAttr a)
{
    IrNode *in[2] = {dy, w};
    IrNode *n = ir_node_alloc(g, IR_OP_CONV2D_BACKWARD_DATA, in, 2, s);
    n->attr.conv = a;
    n->shape = *x_shape;
    return finish(g, n);
}

IrNode *ir_conv2d_backward_weights(IrGraph *g, Span s, IrNode *x, IrNode *dy,
                                   const IrShape *w_shape, IrConvAttr a)
{
    IrNode *in[2] = {x, dy};
    IrNode *n = ir_node_alloc(g, IR_OP_CONV2D_BACKWARD_WEIGHTS, in, 2, s);
    n->attr.conv = a;
    n->shape = *w_shape;
    return finish(g, n);
}

static IrNode *pool(IrGraph *g, Span s, IrOp op, IrNode *const *in, int nin, IrPoolAttr a)
{
    IrNode *n = ir_node_alloc(g, op, in, nin, s);
    n->attr.pool = a;
    return n;
}

IrNode *ir_max_pool2d(IrGraph *g, Span s, IrNode *x, IrPoolAttr a)
{
    return finish(g, pool(g, s, IR_OP_MAX_POOL2D, &x, 1, a));
}

IrNode *ir_avg_pool2d(IrGraph *g, Span s, IrNode *x, IrPoolAttr a)
{
    return finish(g, pool(g, s, IR_OP_AVG_POOL2D, &x, 1, a));
}

IrNode *ir_max_pool2d_backward(IrGraph *g, Span s, IrNode *x, IrNode *y, IrNode *dy,
                               IrPoolAttr a)
{
    IrNode *in[3] = {x, y, dy};
    return finish(g, pool(g, s, IR_OP_MAX_POOL2D_BACKWARD, in, 3, a));
}

IrNode *ir_avg_pool2d_backward(IrGraph *g, Span s, IrNode *dy, const IrShape *x_shape,
                               IrPoolAttr a)
{
    IrNode *n = pool(g, s, IR_OP_AVG_POOL2D_BACKWARD, &dy, 1, a);
    n->shape = *x_shape;
    return finish(g, n);
}

IrNode *ir_upsample2d(IrGraph *g, Span s, IrNode *x, int factor)
{
    IrNode *n = ir_node_alloc(g, IR_OP_UPSAMPLE2D, &x, 1, s);
    n->attr.upsample.factor = factor;
    return finish(g, n);
}

IrNode *ir_gather(IrGraph *g, Span s, IrNode *table, IrNode *indices)
{
    IrNode *in[2] = {table, indices};
    return finish(g, ir_node_alloc(g, IR_OP_GATHER, in, 2, s));
}

IrNode *ir_scatter_add(IrGraph *g, Span s, IrNode *indices, IrNode *updates, int64_t rows)
{
    IrNode *in[2] = {indices, updates};
    IrNode *n = ir_node_alloc(g, IR_OP_SCATTER_ADD, in, 2, s);
    n->shape = (IrShape){.rank = 2, .dims = {rows, updates->shape.dims[updates->shape.rank - 1]}};
    return finish(g, n);
}

IrNode *ir_concat(IrGraph *g, Span s, IrNode *const *xs, int n, int axis)
{
    IrNode *c = ir_node_alloc(g, IR_OP_CONCAT, xs, n, s);
    c->attr.concat.axis = axis;
    return finish(g, c);
}

IrNode *ir_slice(IrGraph *g, Span s, IrNode *x, const int64_t *begin, const int64_t *end)
{
    IrNode *n = ir_node_alloc(g, IR_OP_SLICE, &x, 1, s);
    for (int d = 0; d < x->shape.rank; d++) {
        n->attr.slice.begin[d] = begin[d];
        n->attr.slice.end[d] = end[d];
    }
    return finish(g, n);
}

IrNode *ir_pad(IrGraph *g, Span s, IrNode *x, const int64_t *before, const int64_t *after)
{
    IrNode *n = ir_node_alloc(g, IR_OP_PAD, &x, 1, s);
    for (int d = 0; d < x->shape.rank; d++) {
        n->attr.pad.before[d] = before[d];
        n->attr.pad.after[d] = after[d];
    }
    return finish(g, n);
}

IrNode *ir_argmax(IrGraph *g, Span s, IrNode *x, int axis)
{
    IrNode *n = ir_node_alloc(g, IR_OP_ARGMAX, &x, 1, s);
    n->attr.argmax.axis = axis;
    return finish(g, n);
}

IrNode *ir_one_hot(IrGraph *g, Span s, IrNode *labels, int depth)
{
    IrNode *n = ir_node_alloc(g, IR_OP_ONE_HOT, &labels, 1, s);
    n->attr.one_hot.depth = depth;
    return finish(g, n);
}

IrNode *ir_random(IrGraph *g, Span s, IrOp op, const IrShape *shape, IrRandomAttr a)
{
    ASSERT(op == IR_OP_RANDOM_UNIFORM || op == IR_OP_RANDOM_NORMAL ||
           op == IR_OP_RANDOM_BERNOULLI);
    IrNode *n = ir_node_alloc(g, op, NULL, 0, s);
    n->shape = *shape;
    n->attr.random = a;
    return finish(g, n);
}

IrNode *ir_slot_load(IrGraph *g, Span s, int slot, IrDType dtype, const IrShape *shape)
{
    ASSERT(slot >= 0 && (dtype == IR_F32 || dtype == IR_I32));
    IrNode *n = ir_node_alloc(g, IR_OP_SLOT_LOAD, NULL, 0, s);
    n->attr.io.index = slot;
    n->dtype = dtype;
    n->shape = *shape;
    return finish(g, n);
}

IrNode *ir_slot_store(IrGraph *g, Span s, int slot, IrNode *x)
{
    ASSERT(slot >= 0);
    IrNode *n = ir_node_alloc(g, IR_OP_SLOT_STORE, &x, 1, s);
    n->attr.io.index = slot;
    return finish(g, n);
}

IrNode *ir_scalar_input(IrGraph *g, Span s, int var)
{
    ASSERT(var >= 0);
    IrNode *n = ir_node_alloc(g, IR_OP_SCALAR_INPUT, NULL, 0, s);
    n->attr.io.index = var;
    return finish(g, n);
}

IrNode *ir_scalar_output(IrGraph *g, Span s, int out, IrNode *x)
{
    ASSERT(out >= 0);
    IrNode *n = ir_node_alloc(g, IR_OP_SCALAR_OUTPUT, &x, 1, s);
    n->attr.io.index = out;
    return finish(g, n);
}

IrNode *ir_cast(IrGraph *g, Span s, IrNode *x, IrDType to)
{
    IrNode *n = ir_node_alloc(g, IR_OP_CAST, &x, 1, s);
    n->dtype = to;
    return finish(g, n);
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

static void print_list(FILE *out, const char *label, int n, const int64_t *list)
{
    fprintf(out, " %s=[", label);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%lld", i ? ", " : "", (long long)list[i]);
    fputc(']', out);
}

/* " low=0 high=1 seed=7 counter=0": the parameters under their names (b only if named) */
static void print_random(FILE *out, const IrRandomAttr *r, const char *a, const char *b)
{
    fprintf(out, " %s=%.9g", a, r->a);
    if (b)
        fprintf(out, " %s=%.9g", b, r->b);
    fprintf(out, " seed=%llu counter=%llu", (unsigned long long)r->seed,
            (unsigned long long)r->counter);
    if (r->run_var)
        fprintf(out, " run_var=%d", r->run_var - 1);
}

void ir_print_node(FILE *out, const IrNode *n, int indent)
{
    char shape[256];
    fprintf(out, "%*s", indent, "");
    if (ir_op_kind(n->op) == IR_KIND_EFFECT)
        fputs(ir_op_name(n->op), out);
    else
        fprintf(out, "%%%d = %s %s%s", n->id, ir_op_name(n->op), ir_dtype_name(n->dtype),
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
    case IR_OP_MATMUL:
    case IR_OP_MATMUL_ACC:
        if (n->attr.matmul.trans_a)
            fputs(" trans_a", out);
        if (n->attr.matmul.trans_b)
            fputs(" trans_b", out);
        break;
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BACKWARD_DATA:
    case IR_OP_CONV2D_BACKWARD_WEIGHTS:
        fprintf(out, " stride=%d padding=%d dilation=%d groups=%d", n->attr.conv.stride,
                n->attr.conv.padding, n->attr.conv.dilation, n->attr.conv.groups);
        break;
    case IR_OP_MAX_POOL2D:
    case IR_OP_MAX_POOL2D_BACKWARD:
    case IR_OP_AVG_POOL2D:
    case IR_OP_AVG_POOL2D_BACKWARD:
        fprintf(out, " size=%d stride=%d", n->attr.pool.size, n->attr.pool.stride);
        break;
    case IR_OP_UPSAMPLE2D: fprintf(out, " factor=%d", n->attr.upsample.factor); break;
    case IR_OP_RANDOM_UNIFORM: print_random(out, &n->attr.random, "low", "high"); break;
    case IR_OP_RANDOM_NORMAL: print_random(out, &n->attr.random, "mean", "stddev"); break;
    case IR_OP_RANDOM_BERNOULLI: print_random(out, &n->attr.random, "p", NULL); break;
    case IR_OP_CONCAT: fprintf(out, " axis=%d", n->attr.concat.axis); break;
    case IR_OP_ARGMAX: fprintf(out, " axis=%d", n->attr.argmax.axis); break;
    case IR_OP_ONE_HOT: fprintf(out, " depth=%d", n->attr.one_hot.depth); break;
    case IR_OP_SLICE:
        print_list(out, "begin", n->shape.rank, n->attr.slice.begin);
        print_list(out, "end", n->shape.rank, n->attr.slice.end);
        break;
    case IR_OP_PAD:
        print_list(out, "before", n->shape.rank, n->attr.pad.before);
        print_list(out, "after", n->shape.rank, n->attr.pad.after);
        break;
    case IR_OP_SLOT_LOAD:
    case IR_OP_SLOT_STORE: fprintf(out, " slot=%d", n->attr.io.index); break;
    case IR_OP_SCALAR_INPUT: fprintf(out, " var=%d", n->attr.io.index); break;
    case IR_OP_SCALAR_OUTPUT: fprintf(out, " out=%d", n->attr.io.index); break;
    case IR_OP_FUSED:
        fputs(" {\n", out);
        for (int i = 0; i < n->attr.fused.nbody; i++)
            ir_print_node(out, n->attr.fused.body[i], indent + 4);
        fprintf(out, "%*s}", indent, "");
        break;
    default: break;
    }
    fputc('\n', out);
}

void ir_print_graph(FILE *out, const IrGraph *g)
{
    for (int i = 0; i < g->len; i++)
        ir_print_node(out, g->nodes[i], 0);
}

/* ---- verifier -------------------------------------------------------------------------- */

static const char *verify_node(const IrNode *n, const IrNode *const *defined, int ndefined)
{
    static char msg[512];
    int arity = op_info[n->op].arity;
    if (arity >= 0 && n->nin != arity)
        return "wrong number of inputs";
    for (int j = 0; j < ndefined; j++)
        if (defined[j] == n)
            return "defined twice";
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
        IrDType t;
        if (!ir_infer_dtype(n->op, n->in, n->nin, n, &t, err, sizeof err)) {
            snprintf(msg, sizeof msg, "type rule fails: %s", err);
            return msg;
        }
        if (t != n->dtype && ir_op_kind(n->op) != IR_KIND_EFFECT)
            return "result type differs from the type rule's";
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
    if (root->dtype != f->dtype)
        return "fused type differs from its result's";
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
