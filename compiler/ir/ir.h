/* ir.h — the graph IR: typed, shaped tensor ops in one arena per graph.
 *
 * A graph is a list of nodes in program order, which is also a topological order: every
 * node's inputs come before it. Effects (PRINT) run in list order. Passes rewrite the list;
 * nodes are never freed individually (the arena goes with the graph).
 *
 * Broadcasting follows numpy: shapes are right-aligned; a dimension of 1 (or a missing
 * leading dimension) stretches to the other's size.
 *
 * FUSED nodes (made by passes/fuse.c) hold a body: a small graph in topological order whose
 * nodes are elementwise (UNARY, BINARY, SELECT, BROADCAST) except possibly the last, which
 * may be a reduction (SUM, REDUCE_MAX). The body's nodes take as inputs earlier body nodes
 * or the FUSED node's own inputs (fused.in). The last body node is the result.
 * Iteration domain: the reduction's input shape if the last node reduces, else the result's
 * shape. Every other body node and every input broadcasts to the domain, and its value at
 * a domain index is its element at the broadcast index. A reduction's result at j combines
 * all domain indices that map to j once the reduced axes are removed. */
#ifndef NNC_IR_H
#define NNC_IR_H

#include "util/arena.h"
#include "util/diag.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { IR_MAX_RANK = 8 };

typedef enum IrOp {
#define OP(id, name, arity, kind, shape, grad) IR_OP_##id,
#include "ir/ops.def"
#undef OP
    IR_OP_COUNT
} IrOp;

typedef enum IrOpKind {
    IR_KIND_SOURCE, IR_KIND_UNARY, IR_KIND_BINARY, IR_KIND_SELECT, IR_KIND_BROADCAST,
    IR_KIND_REDUCE, IR_KIND_LAYOUT, IR_KIND_MATMUL, IR_KIND_EFFECT, IR_KIND_META,
} IrOpKind;

typedef enum IrDType { IR_F32, IR_F64 } IrDType;

typedef struct IrShape {
    int rank;
    int64_t dims[IR_MAX_RANK];
} IrShape;

typedef struct IrNode IrNode;
struct IrNode {
    IrOp op;
    int id;            /* unique within the graph, printed as %id */
    IrDType dtype;     /* IR_F32 everywhere for now; the evaluator may compute in f64 */
    IrShape shape;     /* the result's shape (rank 0 for PRINT) */
    Span span;         /* source span; derived nodes inherit their origin's */
    IrNode **in;
    int nin;
    union {
        struct { double *values; } konst;          /* CONST: numel(shape) values, row-major */
        struct { uint32_t axes; } reduce;          /* SUM, REDUCE_MAX: bit i = input axis i */
        struct { int perm[IR_MAX_RANK]; } transpose; /* result dim i = input dim perm[i] */
        struct { IrNode **body; int nbody; } fused;  /* FUSED: see above */
    } attr;
    /* Scratch for passes; meaning is local to one pass, which must reset what it uses. */
    int uses;
    int mark;
    void *aux;
};

typedef struct IrGraph {
    Arena arena;
    IrNode **nodes;
    int len, cap;
    int next_id;
} IrGraph;

/* ---- the op table ---------------------------------------------------------------- */
const char *ir_op_name(IrOp op);
int ir_op_arity(IrOp op);
IrOpKind ir_op_kind(IrOp op);
bool ir_op_is_elementwise(IrOp op);   /* UNARY, BINARY, SELECT, BROADCAST kinds */

/* ---- shapes -------------------------------------------------------------------------- */
int64_t ir_shape_numel(const IrShape *s);
bool ir_shape_eq(const IrShape *a, const IrShape *b);
IrShape ir_shape_make(int rank, const int64_t *dims);
/* "[2, 3]" into buf (returns buf). */
char *ir_shape_str(const IrShape *s, char *buf, size_t n);
/* Numpy broadcast of a and b; false if incompatible. */
bool ir_shape_broadcast(const IrShape *a, const IrShape *b, IrShape *out);
/* Strides (in elements) for reading a contiguous tensor of shape `from` at the indices of
 * the larger shape `to` it broadcasts to: 0 along stretched axes. */
void ir_broadcast_strides(const IrShape *from, const IrShape *to, int64_t strides[IR_MAX_RANK]);
/* Contiguous row-major strides. */
void ir_contiguous_strides(const IrShape *s, int64_t strides[IR_MAX_RANK]);

/* The op's shape rule: the result shape of op applied to inputs with attributes taken
 * from `proto` (reduce axes, transpose perm; for RESHAPE/BROADCAST/CONST the result is
 * proto->shape). Returns false and writes a message naming the shapes when invalid. */
bool ir_infer_shape(IrOp op, IrNode *const *in, int nin, const IrNode *proto, IrShape *out,
                    char *err, size_t errlen);

/* ---- graphs and node constructors ---------------------------------------------------------- */
IrGraph *ir_graph_new(void);
void ir_graph_free(IrGraph *g);
/* Allocates a node in g's arena WITHOUT appending it to g->nodes (for rewrites and bodies). */
IrNode *ir_node_alloc(IrGraph *g, IrOp op, IrNode *const *in, int nin, Span span);
void ir_graph_append(IrGraph *g, IrNode *n);

/* Constructors append to g->nodes and infer the shape; they ASSERT validity (the checker
 * has already reported user errors). */
IrNode *ir_const(IrGraph *g, Span s, const IrShape *shape, const double *values);
IrNode *ir_scalar(IrGraph *g, Span s, double v);
IrNode *ir_unary(IrGraph *g, Span s, IrOp op, IrNode *x);
IrNode *ir_binary(IrGraph *g, Span s, IrOp op, IrNode *a, IrNode *b);
IrNode *ir_select(IrGraph *g, Span s, IrNode *cond, IrNode *a, IrNode *b);
IrNode *ir_reduce(IrGraph *g, Span s, IrOp op, IrNode *x, uint32_t axes);
IrNode *ir_broadcast(IrGraph *g, Span s, IrNode *x, const IrShape *to);
IrNode *ir_reshape(IrGraph *g, Span s, IrNode *x, const IrShape *to);
IrNode *ir_transpose(IrGraph *g, Span s, IrNode *x, const int *perm);
IrNode *ir_matmul(IrGraph *g, Span s, IrNode *a, IrNode *b);
IrNode *ir_print(IrGraph *g, Span s, IrNode *x);
IrNode *ir_grad(IrGraph *g, Span s, IrNode *y, IrNode *wrt);

/* ---- printing, parsing and checking ------------------------------------------------------------ */
/* Textual IR, one node a line: "%3 = add f32[2, 3] %1, %2" (docs/ir.md). */
void ir_print_graph(FILE *out, const IrGraph *g);
/* Checks the invariants above; on failure prints the reason and the graph, then aborts.
 * Called between passes in debug builds (NNC_VERIFY_IR) and by the pass tests. */
void ir_verify(const IrGraph *g, const char *after_pass);
/* Counts uses of every node by the graph's nodes (sets node->uses). */
void ir_count_uses(IrGraph *g);

#endif
