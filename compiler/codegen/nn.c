/* nn.c — convolution and pooling nodes become calls into runtime/rt_conv.c (oneDNN):
 *
 *   rt_conv2d_f32(@geometry_12, x, w, y)
 *
 * where @geometry_12 is a private constant RtConv2d (or RtPool2d): a struct of int64s,
 * emitted as an array of i64 in the field order of nnc_rt.h. */
#include "codegen/cg_internal.h"
#include "nnc_rt.h"
#include "util/util.h"

#include <string.h>

enum { GEOMETRY_MAX = 16 }; /* int64 fields in the largest geometry struct, and more */

/* A private constant array of n int64s; returns its address. */
static LLVMValueRef geometry_constant(Cg *cg, const IrNode *node, const int64_t *v, int n)
{
    LLVMValueRef elems[GEOMETRY_MAX];
    ASSERT(n <= GEOMETRY_MAX);
    for (int i = 0; i < n; i++)
        elems[i] = LLVMConstInt(cg->i64, (uint64_t)v[i], 1);
    char name[48];
    snprintf(name, sizeof name, "geometry_%d", node->id);
    LLVMValueRef init = LLVMConstArray2(cg->i64, elems, (uint64_t)n);
    LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(gv, 8);
    return gv;
}

/* `void name(ptr geometry, ptr, ptr[, ptr])`, declared once per module. */
static LLVMValueRef runtime_function(Cg *cg, const char *name, int nptr, LLVMTypeRef *fty)
{
    LLVMTypeRef params[4] = {cg->ptr, cg->ptr, cg->ptr, cg->ptr};
    ASSERT(nptr <= 4);
    *fty = LLVMFunctionType(cg->void_, params, (unsigned)nptr, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    return fn ? fn : LLVMAddFunction(cg->mod, name, *fty);
}

RtConv2d cg_conv_geometry(const IrNode *n, const bool *blocked)
{
    const IrNode *x, *w, *y;
    switch (n->op) {
    case IR_OP_CONV2D: x = n->in[0], w = n->in[1], y = n; break;
    case IR_OP_CONV2D_BACKWARD_DATA: x = n, w = n->in[1], y = n->in[0]; break;
    case IR_OP_CONV2D_BACKWARD_WEIGHTS: x = n->in[0], w = n, y = n->in[1]; break;
    default: UNREACHABLE();
    }
    const IrConvAttr *a = &n->attr.conv;
    const int64_t *xd = x->shape.dims, *wd = w->shape.dims, *yd = y->shape.dims;
    int64_t layouts = 0;
    if (blocked && blocked[x->id])
        layouts |= RT_CONV_X_BLOCKED;
    if (blocked && blocked[y->id])
        layouts |= RT_CONV_Y_BLOCKED;
    return (RtConv2d){xd[0], xd[1], xd[2], xd[3], wd[0], wd[2], wd[3], yd[2], yd[3],
                      a->stride, a->padding, a->dilation, a->groups, layouts};
}

/* The RtPool2d of a pooling node: x is the forward input, y the forward result. */
static RtPool2d pool_geometry(const IrNode *n)
{
    const IrShape *x, *y;
    switch (n->op) {
    case IR_OP_MAX_POOL2D:
    case IR_OP_AVG_POOL2D: x = &n->in[0]->shape, y = &n->shape; break;
    case IR_OP_MAX_POOL2D_BACKWARD: x = &n->in[0]->shape, y = &n->in[2]->shape; break;
    case IR_OP_AVG_POOL2D_BACKWARD: x = &n->shape, y = &n->in[0]->shape; break;
    default: UNREACHABLE();
    }
    return (RtPool2d){x->dims[0], x->dims[1], x->dims[2], x->dims[3], y->dims[2], y->dims[3],
                      n->attr.pool.size, n->attr.pool.stride};
}

void cg_emit_nn_call(Cg *cg, const IrNode *n, LLVMValueRef *buf, const CgEnv *env)
{
    const char *name;
    int64_t geometry[GEOMETRY_MAX];
    int ngeometry;
    /* data arguments in the runtime function's order */
    LLVMValueRef data[3];
    int ndata = 0;
    switch (n->op) {
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BACKWARD_DATA:
    case IR_OP_CONV2D_BACKWARD_WEIGHTS: {
        name = n->op == IR_OP_CONV2D                ? "rt_conv2d_f32"
               : n->op == IR_OP_CONV2D_BACKWARD_DATA ? "rt_conv2d_backward_data_f32"
                                                     : "rt_conv2d_backward_weights_f32";
        RtConv2d g = cg_conv_geometry(n, cg->blocked);
        ngeometry = (int)(sizeof g / sizeof(int64_t));
        memcpy(geometry, &g, sizeof g);
        break;
    }
    case IR_OP_MAX_POOL2D:
    case IR_OP_AVG_POOL2D:
    case IR_OP_MAX_POOL2D_BACKWARD:
    case IR_OP_AVG_POOL2D_BACKWARD: {
        name = n->op == IR_OP_MAX_POOL2D            ? "rt_max_pool2d_f32"
               : n->op == IR_OP_AVG_POOL2D          ? "rt_avg_pool2d_f32"
               : n->op == IR_OP_MAX_POOL2D_BACKWARD ? "rt_max_pool2d_backward_f32"
                                                    : "rt_avg_pool2d_backward_f32";
        RtPool2d g = pool_geometry(n);
        ngeometry = (int)(sizeof g / sizeof(int64_t));
        memcpy(geometry, &g, sizeof g);
        break;
    }
    default: UNREACHABLE();
    }
    for (int i = 0; i < n->nin; i++)
        if (!(n->op == IR_OP_MAX_POOL2D_BACKWARD && i == 1)) /* y: rt_conv.c recomputes it */
            data[ndata++] = buf[n->in[i]->id];
    data[ndata++] = buf[n->id];

    LLVMTypeRef fty;
    LLVMValueRef fn = runtime_function(cg, name, ndata + 1, &fty);
    LLVMValueRef args[4] = {geometry_constant(cg, n, geometry, ngeometry)};
    int rows = n->shape.rows ? n->shape.rows : n->in[0]->shape.rows;
    if (rows) {
        /* the geometry with N, its first field, the batch's rows */
        LLVMTypeRef ty = LLVMArrayType2(cg->i64, (uint64_t)ngeometry);
        LLVMValueRef g = LLVMBuildAlloca(cg->b, ty, "geometry");
        LLVMValueRef bytes = LLVMConstInt(cg->i64, sizeof(int64_t) * (uint64_t)ngeometry, 0);
        LLVMBuildMemCpy(cg->b, g, 8, args[0], 8, bytes);
        LLVMBuildStore(cg->b, cg_rows_limit(cg, env, rows, geometry[0]), g);
        args[0] = g;
    }
    for (int i = 0; i < ndata; i++)
        args[i + 1] = data[i];
    LLVMBuildCall2(cg->b, fty, fn, args, (unsigned)ndata + 1, "");
}
