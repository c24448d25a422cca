/* test_rows.c — the shape rules' handling of a batch's rows (IrShape.rows, ir.h): which
 * axis of a result has the rows, and which ops are rejected because rows would meet a
 * fixed size or end up where the op cannot keep them. Each case builds one node on inputs
 * with given shapes and compares the inferred shape, rows included, with the expected
 * one (or expects a rejection). */
#include "ir/ir.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

static int failures;

/* [dims...] without rows, and with rows (var 1) on axis `axis` */
#define S(...) ((IrShape){.rank = sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), \
                          .dims = {__VA_ARGS__}})
static IrShape R(IrShape s, int axis)
{
    s.rows = 1;
    s.rows_axis = axis;
    return s;
}

static IrNode *input(IrGraph *g, IrShape s)
{
    IrNode *n = ir_node_alloc(g, IR_OP_CONST, NULL, 0, (Span){0});
    n->shape = s;
    return n;
}

/* Infers op on inputs `in` (proto attributes from p); want NULL: rejected. */
static void expect(const char *what, IrGraph *g, IrOp op, const IrShape *in, int nin,
                   const IrNode *p, const IrShape *want)
{
    IrNode *x[3];
    for (int i = 0; i < nin; i++)
        x[i] = input(g, in[i]);
    IrNode proto = p ? *p : (IrNode){0};
    IrShape got;
    char err[256], a[128], b[128];
    bool ok = ir_infer_shape(op, x, nin, &proto, &got, err, sizeof err);
    if (!want && ok) {
        fprintf(stderr, "FAIL %s: accepted as %s, expected a rejection\n", what,
                ir_shape_str(&got, a, sizeof a));
        failures++;
    } else if (want && !ok) {
        fprintf(stderr, "FAIL %s: rejected (%s)\n", what, err);
        failures++;
    } else if (want && !ir_shape_eq(&got, want)) {
        fprintf(stderr, "FAIL %s: %s (rows %d axis %d), expected %s (rows %d axis %d)\n", what,
                ir_shape_str(&got, a, sizeof a), got.rows, got.rows_axis,
                ir_shape_str(want, b, sizeof b), want->rows, want->rows_axis);
        failures++;
    }
}

int main(void)
{
    IrGraph *g = ir_graph_new();
    IrShape want;

    /* elementwise: rows meet rows, a stretched 1, or a fixed size */
    want = R(S(8, 3), 0);
    expect("add rows + vector", g, IR_OP_ADD, (IrShape[]){R(S(8, 3), 0), S(3)}, 2, NULL, &want);
    expect("add rows + [1, 3]", g, IR_OP_ADD, (IrShape[]){S(1, 3), R(S(8, 3), 0)}, 2, NULL, &want);
    expect("add rows + rows", g, IR_OP_ADD, (IrShape[]){R(S(8, 3), 0), R(S(8, 3), 0)}, 2, NULL, &want);
    expect("add rows + fixed 8", g, IR_OP_ADD, (IrShape[]){R(S(8, 3), 0), S(8, 3)}, 2, NULL, NULL);
    expect("add rows on different axes", g, IR_OP_ADD,
           (IrShape[]){R(S(8, 8), 0), R(S(8, 8), 1)}, 2, NULL, NULL);
    want = R(S(2, 8, 3), 1);
    expect("add right-aligned rows", g, IR_OP_MUL, (IrShape[]){S(2, 1, 3), R(S(8, 3), 0)}, 2, NULL,
           &want);

    /* reductions drop the rows with their axis, or move them */
    IrNode p = {0};
    p.attr.reduce.axes = 1u << 0;
    want = S(3);
    expect("sum over the rows", g, IR_OP_SUM, (IrShape[]){R(S(8, 3), 0)}, 1, &p, &want);
    p.attr.reduce.axes = 1u << 0;
    want = R(S(8), 0);
    expect("sum before the rows", g, IR_OP_SUM, (IrShape[]){R(S(2, 8), 1)}, 1, &p, &want);

    /* transposes move them; matmul keeps them on m or n, or contracts rows with rows */
    p = (IrNode){0};
    p.attr.transpose.perm[0] = 1;
    want = R(S(3, 8), 1);
    expect("transpose", g, IR_OP_TRANSPOSE, (IrShape[]){R(S(8, 3), 0)}, 1, &p, &want);
    want = R(S(8, 4), 0);
    expect("matmul rows @ w", g, IR_OP_MATMUL, (IrShape[]){R(S(8, 3), 0), S(3, 4)}, 2, NULL, &want);
    p = (IrNode){0};
    p.attr.matmul.trans_a = true;
    want = S(3, 4);
    expect("matmul x^T @ dy", g, IR_OP_MATMUL, (IrShape[]){R(S(8, 3), 0), R(S(8, 4), 0)}, 2, &p,
           &want);
    expect("matmul contracting rows with 8", g, IR_OP_MATMUL,
           (IrShape[]){R(S(8, 3), 0), S(8, 4)}, 2, &p, NULL);
    want = R(S(4, 8), 1);
    expect("matmul w @ x^T", g, IR_OP_MATMUL, (IrShape[]){S(4, 3), R(S(3, 8), 1)}, 2, NULL, &want);
    want = R(S(8, 2, 5), 0);
    expect("stacked matmul", g, IR_OP_MATMUL, (IrShape[]){R(S(8, 2, 3), 0), R(S(8, 3, 5), 0)}, 2,
           NULL, &want);
    expect("stack of rows @ fixed stack", g, IR_OP_MATMUL,
           (IrShape[]){R(S(8, 2, 3), 0), S(8, 3, 5)}, 2, NULL, NULL);

    /* reshapes must keep rows on both sides; slices and pads keep the rows axis whole */
    p = (IrNode){0};
    p.shape = R(S(24), 0);
    want = p.shape;
    expect("reshape keeping rows", g, IR_OP_RESHAPE, (IrShape[]){R(S(8, 3), 0)}, 1, &p, &want);
    p.shape = S(24);
    expect("reshape losing rows", g, IR_OP_RESHAPE, (IrShape[]){R(S(8, 3), 0)}, 1, &p, NULL);
    p = (IrNode){0};
    p.attr.slice.end[0] = 8;
    p.attr.slice.begin[1] = 1;
    p.attr.slice.end[1] = 3;
    want = R(S(8, 2), 0);
    expect("slice of the other axis", g, IR_OP_SLICE, (IrShape[]){R(S(8, 3), 0)}, 1, &p, &want);
    p.attr.slice.end[0] = 4;
    expect("slice of the rows", g, IR_OP_SLICE, (IrShape[]){R(S(8, 3), 0)}, 1, &p, NULL);

    /* images: rows on N only */
    p = (IrNode){0};
    p.attr.conv = (IrConvAttr){1, 0, 1, 1};
    want = R(S(8, 2, 3, 3), 0);
    expect("conv2d", g, IR_OP_CONV2D, (IrShape[]){R(S(8, 1, 5, 5), 0), S(2, 1, 3, 3)}, 2, &p, &want);
    expect("conv2d with rows on C", g, IR_OP_CONV2D,
           (IrShape[]){R(S(1, 8, 5, 5), 1), S(2, 8, 3, 3)}, 2, &p, NULL);
    p.shape = S(2, 1, 3, 3);
    want = S(2, 1, 3, 3);
    expect("conv2d_backward_weights", g, IR_OP_CONV2D_BACKWARD_WEIGHTS,
           (IrShape[]){R(S(8, 1, 5, 5), 0), R(S(8, 2, 3, 3), 0)}, 2, &p, &want);

    /* indexing */
    p = (IrNode){0};
    p.attr.argmax.axis = 1;
    want = R(S(8), 0);
    expect("argmax keeping rows", g, IR_OP_ARGMAX, (IrShape[]){R(S(8, 3), 0)}, 1, &p, &want);
    want = R(S(8, 5, 4), 0);
    expect("gather by rows of ids", g, IR_OP_GATHER, (IrShape[]){S(10, 4), R(S(8, 5), 0)}, 2, NULL,
           &want);
    p = (IrNode){0};
    p.shape = R(S(8, 3), 0);
    want = p.shape;
    expect("broadcast to rows", g, IR_OP_BROADCAST, (IrShape[]){S(3)}, 1, &p, &want);

    /* equality and printing see the rows */
    IrShape a = R(S(8, 3), 0), b = S(8, 3);
    char buf[64];
    if (ir_shape_eq(&a, &b) || strcmp(ir_shape_str(&a, buf, sizeof buf), "[8r, 3]") != 0) {
        fprintf(stderr, "FAIL: [8r, 3] equals [8, 3] or prints as %s\n", buf);
        failures++;
    }
    ir_graph_free(g);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    else
        puts("rows: all cases pass");
    return failures != 0;
}
