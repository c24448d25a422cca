/* ir.h — the graph IR: typed, shaped tensor ops in one arena per graph.
 *
 * A graph is a list of nodes in program order, which is also a topological order: every
 * node's inputs come before it. Effects (PRINT, SLOT_STORE, SCALAR_OUTPUT) run in list
 * order. Passes rewrite the list; nodes are never freed individually (the arena goes with
 * the graph).
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

/* SOURCE: no inputs (constants, random tensors). LAYOUT: every result element is a fixed
 * input element or zero (views and copies). OPAQUE: a kernel of its own that fusion leaves
 * alone (convolution, pooling, gather/scatter, argmax, one-hot). See ops.def. */
typedef enum IrOpKind {
    IR_KIND_SOURCE, IR_KIND_UNARY, IR_KIND_BINARY, IR_KIND_SELECT, IR_KIND_BROADCAST,
    IR_KIND_REDUCE, IR_KIND_LAYOUT, IR_KIND_MATMUL, IR_KIND_OPAQUE, IR_KIND_EFFECT,
    IR_KIND_META,
} IrOpKind;

/* Element types. I32 holds integer indices and labels (GATHER and SCATTER_ADD indices,
 * ARGMAX results, ONE_HOT labels); CONST, PRINT, the program ops SLOT_LOAD, SLOT_STORE and
 * SCALAR_OUTPUT, and the data-movement ops RESHAPE, TRANSPOSE, CONCAT, SLICE and PAD carry
 * either type; CAST converts between them; the comparisons take two floats or two i32s
 * and give f32 0/1; every other op takes and gives floats (ir_infer_dtype). Both types
 * are 4 bytes in compiled code. */
typedef enum IrDType { IR_F32, IR_F64, IR_I32 } IrDType;

/* CONV2D and its backward ops: x [N, C, H, W], w [O, C / groups, KH, KW], y [N, O, OH, OW]
 * with OH = (H + 2 padding - dilation (KH - 1) - 1) / stride + 1 (floor), OW likewise;
 * y[n, o, i, j] = sum over c, kh, kw of
 *     x[n, g C/groups + c, i stride - padding + kh dilation, j stride - padding + kw dilation]
 *     * w[o, c, kh, kw],   g = o / (O / groups), out-of-range x reads as 0. */
typedef struct IrConvAttr {
    int stride, padding, dilation, groups;
} IrConvAttr;

/* Pooling over size x size windows, `stride` apart, no padding: OH = (H - size) / stride
 * + 1 (floor), OW likewise. */
typedef struct IrPoolAttr {
    int size, stride;
} IrPoolAttr;

/* RANDOM_*: a deterministic function of the attributes: the runtime's counter-based
 * generator (rt_random_uniform / _normal / _bernoulli in nnc_rt.h) filling numel(shape)
 * elements in row-major order from word `counter` of `seed`, with a and b rounded to f32.
 * uniform: [a, b); normal: mean a, standard deviation b; bernoulli: 1 with probability a,
 * else 0 (b unused). The evaluator and compiled code call the same functions, so they
 * agree bit for bit. */
typedef struct IrRandomAttr {
    double a, b;
    uint64_t seed, counter;
    /* 0, or 1 + a host variable of the program (prog.h) for a region that runs many times
     * (a training loop). The node then has a stream of its own, seed + IR_RANDOM_RUN_BASE
     * + counter, and draws from word vars[run_var - 1] of it; the program advances that
     * variable after every run by at least the words the run drew, so each run draws new
     * numbers (dropout's mask), and no two nodes share words. */
    int run_var;
} IrRandomAttr;

/* Added to the seed of run-dependent streams: apart from every stream a program draws
 * from once (whose seed is below it). */
#define IR_RANDOM_RUN_BASE (UINT64_C(1) << 40)

/* A shape. Inside a loop over batches whose last batch may be smaller (docs/training.md
 * §4), a tensor with an axis that runs over the batch's samples has `rows` set: 1 + the
 * program variable (prog.h) holding the current batch's row count, and that axis is
 * rows_axis. dims[rows_axis] is then its size at the loop's largest batch; at run time it
 * is dims[rows_axis] / largest * rows (a multiple of the rows: [B, 784], or [B * T, V]
 * after a reshape). At most one axis has rows; rows == 0 (and rows_axis == 0) elsewhere.
 * The shape rules carry the rows through every op, and reject an op that would mix them
 * with a fixed size (ir_infer_shape). */
typedef struct IrShape {
    int rank;
    int64_t dims[IR_MAX_RANK];
    int rows, rows_axis;
} IrShape;

typedef struct IrNode IrNode;
struct IrNode {
    IrOp op;
    int id;            /* unique within the graph, printed as %id */
    IrDType dtype;     /* IR_F32, or IR_I32 for indices; the evaluator may compute in f64 */
    IrShape shape;     /* the result's shape (rank 0 for PRINT) */
    Span span;         /* source span; derived nodes inherit their origin's */
    IrNode **in;
    int nin;
    union {
        struct { double *values; } konst;          /* CONST: numel(shape) values, row-major */
        struct { uint32_t axes; } reduce;          /* SUM, REDUCE_MAX: bit i = input axis i */
        struct { int perm[IR_MAX_RANK]; } transpose; /* result dim i = input dim perm[i] */
        /* MATMUL, MATMUL_ACC: an input is used transposed (set by simplify, which folds a
         * 2-D TRANSPOSE into the product; the node's inputs are then [K, M] or [N, K]) */
        struct { bool trans_a, trans_b; } matmul;
        struct { IrNode **body; int nbody; } fused;  /* FUSED: see above */
        IrConvAttr conv;       /* CONV2D, CONV2D_BACKWARD_DATA, CONV2D_BACKWARD_WEIGHTS */
        IrPoolAttr pool;       /* MAX_POOL2D, AVG_POOL2D and their backward ops */
        struct { int factor; } upsample;           /* UPSAMPLE2D */
        struct { int axis; } concat;               /* CONCAT */
        struct { int axis; } argmax;               /* ARGMAX */
        struct { int64_t begin[IR_MAX_RANK], end[IR_MAX_RANK]; } slice;    /* SLICE */
        struct { int64_t before[IR_MAX_RANK], after[IR_MAX_RANK]; } pad;   /* PAD */
        struct { int depth; } one_hot;             /* ONE_HOT */
        IrRandomAttr random;                       /* RANDOM_* */
        /* SLOT_LOAD, SLOT_STORE: the slot; SCALAR_INPUT: the var; SCALAR_OUTPUT: the out
         * (indices into the Prog's slots, vars and outs, prog.h) */
        struct { int index; } io;
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
    /* A tolerant graph's constructors, given inputs an op's batch rows rule rejects
     * (IrShape.rows), record the first such message here (heap) and where, and go on
     * with the node's dims; otherwise they abort. The checker traces batch rows into
     * tolerant graphs and falls back to full batches when one is recorded. */
    bool tolerant;
    char *invalid;
    Span invalid_at;
    /* What a pass met that nnc cannot compile yet (a limit, not a bug): the first such
     * message (heap, a noun phrase) and where. The pass goes on with a well-formed graph;
     * whoever ran it reports this as an error (ir_graph_report) instead of using it. */
    char *unsupported;
    Span unsupported_at;
} IrGraph;

/* Records `what` as g->unsupported, unless something is recorded already. */
void ir_graph_unsupported(IrGraph *g, Span at, const char *what);
/* Prints g->unsupported as a diagnostic (file:line:col, with color as asked) to stderr;
 * false when there is none. */
bool ir_graph_report(const IrGraph *g, bool color);

/* ---- the op table ---------------------------------------------------------------- */
const char *ir_op_name(IrOp op);
int ir_op_arity(IrOp op);
IrOpKind ir_op_kind(IrOp op);
bool ir_op_is_elementwise(IrOp op);   /* UNARY, BINARY, SELECT, BROADCAST kinds */
/* Whether FUSED node a is a flat elementwise kernel: its body is elementwise, each input
 * has a's shape or one element, a has more than one, and no batch's rows (IrShape.rows:
 * its size is known at compile time). Such a kernel is one loop over its elements, the
 * same code for any shape. */
bool ir_fused_flat(const IrNode *a);
/* The SLOT_LOAD whose storage n views (n itself, or through reshapes), or NULL. */
const IrNode *ir_slot_source(const IrNode *n);
/* Whether flat FUSED nodes a and b compute the same function of their inputs (the same
 * body ops wired the same way, inputs of the same kinds and types): one kernel serves
 * both, over each one's own elements (an optimizer's update of every parameter). */
bool ir_fused_alike(const IrNode *a, const IrNode *b);

/* ---- shapes -------------------------------------------------------------------------- */
/* The most elements a tensor may have (docs/language.md §3.1, limits): 2^48. Its byte size
 * at the widest element (8 bytes, the evaluator's f64) is then at most 2^51, so sizes,
 * strides and byte offsets, and sums of thousands of them, fit int64_t and size_t. */
#define IR_MAX_NUMEL ((int64_t)1 << 48)
/* The element count of a tensor with these dims and its byte size at elem_bytes (1 to 8)
 * per element (either pointer may be NULL); false when a dim is negative or when the
 * product of the dims, each counted as at least 1, is over IR_MAX_NUMEL (a dim of 0 does
 * not make [0, 2^40, 2^40] small: its strides would not fit). The one test of a shape's
 * size, for the checker and the IR alike. */
bool ir_dims_size(int rank, const int64_t *dims, int64_t elem_bytes, int64_t *numel,
                  int64_t *bytes);
/* The element count of a shape the IR holds (within IR_MAX_NUMEL: ir_infer_shape). */
int64_t ir_shape_numel(const IrShape *s);
/* The shape viewed as [outer, dims[axis], inner]: the products before and after axis. */
void ir_shape_around(const IrShape *s, int axis, int64_t *outer, int64_t *inner);
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
 * from `proto` (reduce axes, transpose perm, ...; for RESHAPE, BROADCAST, CONST, RANDOM_*
 * and the backward ops whose result shape the inputs do not determine — SCATTER_ADD,
 * CONV2D_BACKWARD_DATA/WEIGHTS, AVG_POOL2D_BACKWARD — the result is proto->shape, checked
 * against the inputs). Returns false and writes a message naming the shapes when invalid. */
bool ir_infer_shape(IrOp op, IrNode *const *in, int nin, const IrNode *proto, IrShape *out,
                    char *err, size_t errlen);
/* How the message starts when only the batch rows rule fails (IrShape.rows); *out then
 * holds the result's dims, without rows. */
#define IR_ROWS_ERROR "batch rows: "

/* The op's type rule: the result's element type (CONST: proto->dtype), or false with a
 * message when an input has the wrong type (an I32 operand of arithmetic, float indices). */
bool ir_infer_dtype(IrOp op, IrNode *const *in, int nin, const IrNode *proto, IrDType *out,
                    char *err, size_t errlen);
const char *ir_dtype_name(IrDType t);   /* "f32", "f64", "i32" */

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

/* Constant of any element type (I32 values must be integers in range). */
IrNode *ir_const_typed(IrGraph *g, Span s, IrDType dtype, const IrShape *shape,
                       const double *values);
/* x [N, C, H, W], w [O, C / groups, KH, KW] -> [N, O, OH, OW] (IrConvAttr). */
IrNode *ir_conv2d(IrGraph *g, Span s, IrNode *x, IrNode *w, IrConvAttr a);
/* dx [x_shape] from dy [N, O, OH, OW] and w: the adjoint of CONV2D in x. */
IrNode *ir_conv2d_backward_data(IrGraph *g, Span s, IrNode *dy, IrNode *w,
                                const IrShape *x_shape, IrConvAttr a);
/* dw [w_shape] from x and dy: the adjoint of CONV2D in w. */
IrNode *ir_conv2d_backward_weights(IrGraph *g, Span s, IrNode *x, IrNode *dy,
                                   const IrShape *w_shape, IrConvAttr a);
/* x [N, C, H, W] -> [N, C, OH, OW] (IrPoolAttr): the window's maximum / mean. */
IrNode *ir_max_pool2d(IrGraph *g, Span s, IrNode *x, IrPoolAttr a);
IrNode *ir_avg_pool2d(IrGraph *g, Span s, IrNode *x, IrPoolAttr a);
/* dx [N, C, H, W]: each dy element added at the first maximal element of its window of x
 * (y = max_pool2d(x) is an input so kernels may compare against it). */
IrNode *ir_max_pool2d_backward(IrGraph *g, Span s, IrNode *x, IrNode *y, IrNode *dy,
                               IrPoolAttr a);
/* dx [x_shape]: each dy element spread evenly over its window. */
IrNode *ir_avg_pool2d_backward(IrGraph *g, Span s, IrNode *dy, const IrShape *x_shape,
                               IrPoolAttr a);
/* x [N, C, H, W] -> [N, C, H factor, W factor], nearest neighbour. */
IrNode *ir_upsample2d(IrGraph *g, Span s, IrNode *x, int factor);
/* table [V, D], indices (I32) of shape S -> S + [D]: rows of the table; an index outside
 * [0, V) gives a row of zeros here, and stops compiled code with a run-time error
 * (codegen/layout.c, past a batch's rows excepted). */
IrNode *ir_gather(IrGraph *g, Span s, IrNode *table, IrNode *indices);
/* indices (I32) S, updates S + [D] -> [rows, D]: zeros, with each update row added at its
 * index (indices outside [0, rows) are dropped). The adjoint of GATHER in the table. */
IrNode *ir_scatter_add(IrGraph *g, Span s, IrNode *indices, IrNode *updates, int64_t rows);
/* Joins n >= 1 tensors of one rank and type along axis (other dimensions equal). */
IrNode *ir_concat(IrGraph *g, Span s, IrNode *const *xs, int n, int axis);
/* x[begin[d] : end[d]] along every axis d (0 <= begin <= end <= dim). */
IrNode *ir_slice(IrGraph *g, Span s, IrNode *x, const int64_t *begin, const int64_t *end);
/* x with before[d] zeros in front and after[d] behind along every axis d. */
IrNode *ir_pad(IrGraph *g, Span s, IrNode *x, const int64_t *before, const int64_t *after);
/* Index (I32) of the first maximal element along axis, which is removed; a NaN counts as
 * the maximum (the first NaN wins), as in numpy. */
IrNode *ir_argmax(IrGraph *g, Span s, IrNode *x, int axis);
/* labels (I32) S -> F32 S + [depth]: 1 at the label, else 0 (a label outside [0, depth)
 * gives a row of zeros here, and stops compiled code as GATHER's index does). */
IrNode *ir_one_hot(IrGraph *g, Span s, IrNode *labels, int depth);
/* A tensor of `shape` from the counter-based generator (IrRandomAttr); op is
 * IR_OP_RANDOM_UNIFORM, IR_OP_RANDOM_NORMAL or IR_OP_RANDOM_BERNOULLI. */
IrNode *ir_random(IrGraph *g, Span s, IrOp op, const IrShape *shape, IrRandomAttr a);

/* ---- program state (prog.h) ---------------------------------------------------------------- */
/* The persistent tensor `slot`, of the given type and shape (the slot's). A source that
 * autodiff treats as a leaf, so GRAD(y, slot_load) differentiates with respect to it. */
IrNode *ir_slot_load(IrGraph *g, Span s, int slot, IrDType dtype, const IrShape *shape);
/* Effect: copies x into `slot` (same type and shape). The stores of a region come after
 * every node that reads the slots' old values (codegen keeps that true for swaps). */
IrNode *ir_slot_store(IrGraph *g, Span s, int slot, IrNode *x);
/* f32[] holding (float)vars[var] as the region starts. */
IrNode *ir_scalar_input(IrGraph *g, Span s, int var);
/* Effect: outs[out] = (double)x for an f32[] or i32[] x. */
IrNode *ir_scalar_output(IrGraph *g, Span s, int out, IrNode *x);
/* Elementwise conversion to IR_F32 or IR_I32: f32 -> i32 truncates toward zero,
 * saturating at the i32 range, NaN -> 0; i32 -> f32 rounds to nearest (exact below 2^24). */
IrNode *ir_cast(IrGraph *g, Span s, IrNode *x, IrDType to);

/* ---- printing, parsing and checking ------------------------------------------------------------ */
/* Textual IR, one node a line: "%3 = add f32[2, 3] %1, %2" (docs/ir.md). */
void ir_print_graph(FILE *out, const IrGraph *g);
/* One node (a FUSED node with its body), indented by `indent` spaces. */
void ir_print_node(FILE *out, const IrNode *n, int indent);
/* Checks the invariants above; on failure prints the reason and the graph, then aborts.
 * Called between passes in debug builds (NNC_VERIFY_IR) and by the pass tests. */
void ir_verify(const IrGraph *g, const char *after_pass);
/* Counts uses of every node by the graph's nodes (sets node->uses). */
void ir_count_uses(IrGraph *g);

#endif
