/* test_simplify_attrs.c — CSE in pass_simplify must merge nodes only when their
 * attributes agree (and, at the end, the power identities and constant folding). For every op with attributes: two nodes on the same inputs that
 * differ in one attribute must both survive, and an exact duplicate must be merged. The
 * graphs are built by hand; each node is printed so dead-node removal keeps it. */
#include "ir/ir.h"
#include "passes/passes.h"
#include "util/util.h"

#include <stdio.h>

static const Span NOWHERE = {0};
static int passed, failed;

/* After simplification: is node n still in the graph, or was it replaced? */
static bool kept(const IrGraph *g, const IrNode *n)
{
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i] == n)
            return true;
    return false;
}

/* Counts and prints one check on g (shown when it fails), then frees g. */
static void report(IrGraph *g, const char *what, bool ok)
{
    if (!ok)
        ir_print_graph(stdout, g);
    printf("%-28s %s\n", what, ok ? "ok" : "FAIL");
    ok ? passed++ : failed++;
    ir_graph_free(g);
}

/* a and b differ in an attribute, c duplicates a: expects a and b kept, c merged. */
static void expect(const char *what, IrGraph *g, IrNode *a, IrNode *b, IrNode *c)
{
    ir_print(g, NOWHERE, a);
    ir_print(g, NOWHERE, b);
    ir_print(g, NOWHERE, c);
    pass_simplify(g);
    ir_verify(g, "simplify");
    report(g, what, kept(g, a) && kept(g, b) && !kept(g, c));
}

static IrNode *filled(IrGraph *g, int rank, const int64_t *dims, IrDType t)
{
    IrShape s = ir_shape_make(rank, dims);
    int64_t n = ir_shape_numel(&s);
    double *v = util_malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = (double)(i % 3);
    IrNode *x = ir_const_typed(g, NOWHERE, t, &s, v);
    util_free(v);
    return x;
}

/* Simplifies g and gives the first n printed values, in program order. */
static void simplify_printed(IrGraph *g, const IrNode **printed, int n)
{
    pass_simplify(g);
    ir_verify(g, "simplify");
    for (int i = 0, k = 0; i < g->len && k < n; i++)
        if (g->nodes[i]->op == IR_OP_PRINT)
            printed[k++] = g->nodes[i]->in[0];
}

/* x^2 becomes x x, x^1 becomes x, x^3 stays a power (pass_simplify's POW rule). */
static void test_pow_identities(void)
{
    IrGraph *g = ir_graph_new();
    int64_t d[] = {4, 6};
    IrNode *x = filled(g, 2, d, IR_F32);
    IrShape s0 = {.rank = 0};
    double e[3] = {2, 1, 3};
    for (int i = 0; i < 3; i++)
        ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_POW, x, ir_const(g, NOWHERE, &s0, &e[i])));
    const IrNode *printed[3] = {0};
    simplify_printed(g, printed, 3);
    bool ok = printed[0] && printed[0]->op == IR_OP_MUL && printed[0]->in[0] == x &&
              printed[0]->in[1] == x && printed[1] == x && printed[2] &&
              printed[2]->op == IR_OP_POW;
    report(g, "pow by 2 and 1", ok);
}

/* pow's derivative as autodiff writes it, x^(k - 1) with k = 2: the exponent folds to
 * the constant 1 and the power to x, so no powf is called per element (it was 18% of a
 * ResNet-20 step). Also the folded values: f32 operations on f32 constants, a splat
 * against a vector, and 0.1 + 0.2 rounded as f32 arithmetic rounds it; and equal nodes
 * on equal folded constants are merged. */
static void test_constant_folding(void)
{
    IrGraph *g = ir_graph_new();
    int64_t d[] = {4, 6};
    IrNode *x = filled(g, 2, d, IR_F32);
    IrShape s0 = {.rank = 0}, s3 = {.rank = 1, .dims = {3}};
    double two = 2, one = 1, tenth = 0.1, fifth = 0.2, v[3] = {1, -2, 8};
    IrNode *k = ir_binary(g, NOWHERE, IR_OP_SUB, ir_const(g, NOWHERE, &s0, &two),
                          ir_const(g, NOWHERE, &s0, &one));
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_POW, x, k));
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_DIV, ir_const(g, NOWHERE, &s3, v),
                                   ir_const(g, NOWHERE, &s0, &two)));
    ir_print(g, NOWHERE, ir_binary(g, NOWHERE, IR_OP_ADD, ir_const(g, NOWHERE, &s0, &tenth),
                                   ir_const(g, NOWHERE, &s0, &fifth)));
    /* the same product twice, each on its own 3 - 1: merged once the constants fold (an
     * unmerged U-Net backward ran each convolution's data gradient 15 times) */
    IrNode *m[2];
    for (int i = 0; i < 2; i++) {
        IrNode *e = ir_binary(g, NOWHERE, IR_OP_SUB, ir_const(g, NOWHERE, &s0, (double[]){3}),
                              ir_const(g, NOWHERE, &s0, &one));
        m[i] = ir_binary(g, NOWHERE, IR_OP_MUL, x, e);
        ir_print(g, NOWHERE, m[i]);
    }
    const IrNode *printed[5] = {0};
    simplify_printed(g, printed, 5);
    bool ok = printed[3] && printed[3] == printed[4] &&
              printed[0] == x && printed[1] && printed[1]->op == IR_OP_CONST &&
              printed[1]->attr.konst.values[0] == 0.5 && printed[1]->attr.konst.values[1] == -1 &&
              printed[1]->attr.konst.values[2] == 4 && printed[2] &&
              printed[2]->op == IR_OP_CONST &&
              printed[2]->attr.konst.values[0] == (double)(0.1f + 0.2f);
    report(g, "constant folding", ok);
}

/* Builds a = A, b = B, then c = A again (in that order), and checks them. */
#define CASE(what, A, B)                                                                   \
    do {                                                                                   \
        IrNode *a_ = (A);                                                                  \
        IrNode *b_ = (B);                                                                  \
        IrNode *c_ = (A);                                                                  \
        expect(what, g, a_, b_, c_);                                                       \
    } while (0)

int main(void)
{
    int64_t d4[] = {1, 4, 6, 6}, d7[] = {1, 4, 7, 7}, dw[] = {4, 4, 3, 3}, d2[] = {4, 6};
    IrGraph *g;
    IrNode *x, *w;
    /* same result shapes: padding 1 dense, or padding 2 with dilation 2 */
    IrConvAttr c1 = {1, 1, 1, 1}, c2 = {1, 2, 2, 1};

    g = ir_graph_new();
    x = filled(g, 4, d4, IR_F32);
    w = filled(g, 4, dw, IR_F32);
    CASE("conv2d padding, dilation",
         ir_conv2d(g, NOWHERE, x, w, c1),
         ir_conv2d(g, NOWHERE, x, w, c2));

    g = ir_graph_new();
    x = filled(g, 4, d4, IR_F32);
    IrNode *dy = filled(g, 4, d4, IR_F32);
    CASE("conv2d_backward_weights",
         ir_conv2d_backward_weights(g, NOWHERE, x, dy, &(IrShape){4, {4, 4, 3, 3}}, c1),
         ir_conv2d_backward_weights(g, NOWHERE, x, dy, &(IrShape){4, {4, 4, 3, 3}}, c2));

    /* same result shapes on 7 x 7: size 3 or 2, stride 2 */
    g = ir_graph_new();
    x = filled(g, 4, d7, IR_F32);
    CASE("max_pool2d size",
         ir_max_pool2d(g, NOWHERE, x, (IrPoolAttr){3, 2}),
         ir_max_pool2d(g, NOWHERE, x, (IrPoolAttr){2, 2}));

    g = ir_graph_new();
    x = filled(g, 4, d7, IR_F32);
    CASE("avg_pool2d size",
         ir_avg_pool2d(g, NOWHERE, x, (IrPoolAttr){3, 2}),
         ir_avg_pool2d(g, NOWHERE, x, (IrPoolAttr){2, 2}));

    g = ir_graph_new();
    x = filled(g, 4, d4, IR_F32);
    CASE("upsample2d factor",
         ir_upsample2d(g, NOWHERE, x, 2),
         ir_upsample2d(g, NOWHERE, x, 3));

    g = ir_graph_new();
    x = filled(g, 2, d2, IR_F32);
    int64_t b1[] = {0, 1}, e1[] = {2, 3}, b2[] = {1, 0}, e2[] = {3, 2};
    CASE("slice bounds (same shape)",
         ir_slice(g, NOWHERE, x, b1, e1),
         ir_slice(g, NOWHERE, x, b2, e2));

    g = ir_graph_new();
    x = filled(g, 2, d2, IR_F32);
    int64_t lo1[] = {1, 0}, hi1[] = {0, 1}, lo2[] = {0, 1}, hi2[] = {1, 0};
    CASE("pad sides (same shape)",
         ir_pad(g, NOWHERE, x, lo1, hi1),
         ir_pad(g, NOWHERE, x, lo2, hi2));

    g = ir_graph_new();
    x = filled(g, 2, d2, IR_F32);
    IrNode *xt = ir_transpose(g, NOWHERE, filled(g, 2, (int64_t[]){6, 4}, IR_F32), (int[]){1, 0});
    IrNode *ab[] = {x, xt}, *ba[] = {xt, x};
    CASE("concat order",
         ir_concat(g, NOWHERE, ab, 2, 0),
         ir_concat(g, NOWHERE, ba, 2, 0));

    g = ir_graph_new();
    IrNode *sq = filled(g, 2, (int64_t[]){4, 4}, IR_F32);
    CASE("argmax axis",
         ir_argmax(g, NOWHERE, sq, 0),
         ir_argmax(g, NOWHERE, sq, 1));

    g = ir_graph_new();
    IrShape s = {.rank = 1, .dims = {8}};
    CASE("random counter",
         ir_random(g, NOWHERE, IR_OP_RANDOM_UNIFORM, &s, (IrRandomAttr){0, 1, 3, 0}),
         ir_random(g, NOWHERE, IR_OP_RANDOM_UNIFORM, &s, (IrRandomAttr){0, 1, 3, 8}));

    g = ir_graph_new();
    CASE("random parameters",
         ir_random(g, NOWHERE, IR_OP_RANDOM_NORMAL, &s, (IrRandomAttr){0, 1, 3, 0}),
         ir_random(g, NOWHERE, IR_OP_RANDOM_NORMAL, &s, (IrRandomAttr){0, 2, 3, 0}));

    g = ir_graph_new();
    CASE("const type (f32 vs i32)",
         filled(g, 1, (int64_t[]){5}, IR_F32),
         filled(g, 1, (int64_t[]){5}, IR_I32));

    test_pow_identities();
    test_constant_folding();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
