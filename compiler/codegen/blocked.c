/* blocked.c — which activations a graph keeps in oneDNN's nChw16c layout.
 *
 * oneDNN's fast convolutions read and write activations blocked by 16 channels: element
 * [n, c, h, w] of an [N, C, H, W] tensor at ((n C/16 + c/16) H + h) W + w) 16 + c % 16.
 * Given NCHW, every call copies its input into that layout and its output back (in a
 * ResNet-20 training step, 222 such copies, a fifth of the step). So a tensor whose
 * producer and every consumer can work on either layout is kept blocked:
 *
 *   - convolutions that oneDNN runs: the forward pass's x and y, the data gradient's dy
 *     and dx, the weight gradient's x and dy (not weights or their gradient), with groups
 *     == 1 (runtime/rt_conv.c takes the layout in the geometry, RtConv2d.blocked). A
 *     weight gradient the runtime computes faster with its own NCHW kernel
 *     (rt_conv2d_weights_prefer_nchw: LeNet's second layer) keeps its inputs NCHW;
 *   - loop-nest kernels (FUSED nodes and single elementwise or reduce nodes) when the
 *     tensor has the kernel's domain shape: kernel.c then splits the domain's channel axis
 *     in two, [N, C/16, H, W, 16], and walks each array with its own layout's strides.
 *     Flat kernels run together (pass_alike_run) walk every array alike, so they do not.
 *
 * The tensor must be f32 [N, C, H, W] with C a multiple of 16 and H W > 1 (with H W = 1
 * both layouts are the same bytes), and the graph must have a convolution. Anything else
 * — reshapes, which alias bytes, matmuls, pooling, layout ops, slot stores, prints — reads
 * and writes NCHW, so a tensor one of them touches stays NCHW, and a kernel between the
 * two layouts converts as it goes (in tiles of 16 positions: kernel.c, nest_tile_layouts).
 * Values do not change: every element is computed by the same operations; only sums over
 * many elements (batch-norm statistics) may add in another order. */
#include "codegen/cg_internal.h"
#include "passes/passes.h"
#include "util/util.h"

#include <string.h>

enum { BLOCK = 16 };

static bool is_conv(IrOp op)
{
    return op == IR_OP_CONV2D || op == IR_OP_CONV2D_BACKWARD_DATA ||
           op == IR_OP_CONV2D_BACKWARD_WEIGHTS;
}

/* The shape a loop-nest kernel iterates over, or NULL when n is not such a kernel. */
static const IrShape *kernel_domain(const IrNode *n)
{
    const IrNode *root;
    if (n->op == IR_OP_FUSED)
        root = n->attr.fused.body[n->attr.fused.nbody - 1];
    else if (ir_op_is_elementwise(n->op) || ir_op_kind(n->op) == IR_KIND_REDUCE)
        root = n;
    else
        return NULL;
    return ir_op_kind(root->op) == IR_KIND_REDUCE ? &root->in[0]->shape : &root->shape;
}

/* A convolution oneDNN runs (not the runtime's own NCHW kernel), with groups == 1. */
static bool conv_on_onednn(const IrNode *n)
{
    if (n->attr.conv.groups != 1)
        return false;
    RtConv2d g = cg_conv_geometry(n, NULL);
    return n->op != IR_OP_CONV2D_BACKWARD_WEIGHTS || !rt_conv2d_weights_prefer_nchw(&g);
}

/* n (not in a flat run) can produce its result blocked. */
static bool produces_either(const IrNode *n)
{
    if (n->op == IR_OP_CONV2D || n->op == IR_OP_CONV2D_BACKWARD_DATA)
        return conv_on_onednn(n);
    const IrShape *domain = kernel_domain(n);
    return domain && ir_shape_eq(domain, &n->shape);
}

/* n (not in a flat run) can read its input k blocked. */
static bool reads_either(const IrNode *n, int k)
{
    switch (n->op) {
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BACKWARD_DATA: return k == 0 && conv_on_onednn(n);
    case IR_OP_CONV2D_BACKWARD_WEIGHTS: return k <= 1 && conv_on_onednn(n);
    default: {
        const IrShape *domain = kernel_domain(n);
        return domain && ir_shape_eq(domain, &n->in[k]->shape);
    }
    }
}

static bool blockable_shape(const IrNode *n)
{
    const IrShape *s = &n->shape;
    return n->dtype == IR_F32 && s->rank == 4 && s->dims[1] >= BLOCK && s->dims[1] % BLOCK == 0 &&
           s->dims[2] * s->dims[3] > 1;
}

bool *cg_blocked_layouts(const IrGraph *g)
{
    size_t count = (size_t)g->next_id + 1;
    bool *blocked = util_malloc(sizeof(bool) * count);
    bool *flat = util_malloc(sizeof(bool) * count);
    memset(blocked, 0, sizeof(bool) * count);
    memset(flat, 0, sizeof(bool) * count);
    bool convs = false;
    for (int i = 0; i < g->len; i++) {
        convs = convs || is_conv(g->nodes[i]->op);
        int r = pass_alike_run(g, i);
        for (int m = i; r > 1 && m < i + r; m++)
            flat[g->nodes[m]->id] = true;
    }
    if (convs) {
        for (int i = 0; i < g->len; i++) {
            const IrNode *n = g->nodes[i];
            blocked[n->id] = !flat[n->id] && blockable_shape(n) && produces_either(n);
        }
        /* a consumer that needs NCHW keeps its inputs so */
        for (int i = 0; i < g->len; i++) {
            const IrNode *n = g->nodes[i];
            for (int k = 0; k < n->nin; k++)
                if (flat[n->id] || !reads_either(n, k))
                    blocked[n->in[k]->id] = false;
        }
    }
    util_free(flat);
    return blocked;
}
