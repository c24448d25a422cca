/* layout.c — kernels of the layout and indexing ops: slice, pad, concat and upsample2d as
 * strided copies (kernel.c's cg_kernel_copies), and gather, scatter_add, argmax and one_hot
 * as loops written out here. Each kernel is `void name(out, in0, ...)` over contiguous
 * row-major buffers, inputs in the node's input order; f32 and i32 elements are both 4
 * bytes. Semantics (out-of-range indices, NaN in argmax) are the evaluator's (ir.h),
 * except that a gather index or one_hot label outside its range stops the program with a
 * run-time error (check_index) instead of giving a zero row. */
#include "codegen/cg_internal.h"
#include "util/util.h"

/* ---- copies ------------------------------------------------------------------------------- */

/* dst[idx] = src[idx + begin] over the result's shape */
static LLVMValueRef slice_kernel(Cg *cg, const char *name, const IrNode *n)
{
    const IrShape *in = &n->in[0]->shape;
    CgCopy c = {.rank = n->shape.rank};
    ir_contiguous_strides(&n->shape, c.dst_stride);
    ir_contiguous_strides(in, c.src_stride);
    for (int d = 0; d < c.rank; d++) {
        c.dims[d] = n->shape.dims[d];
        c.src_offset += n->attr.slice.begin[d] * c.src_stride[d];
    }
    return cg_kernel_copies(cg, name, 1, 0, &c, 1);
}

/* zeros, then dst[idx + before] = src[idx] over the input's shape */
static LLVMValueRef pad_kernel(Cg *cg, const char *name, const IrNode *n)
{
    const IrShape *in = &n->in[0]->shape;
    CgCopy c = {.rank = in->rank};
    ir_contiguous_strides(&n->shape, c.dst_stride);
    ir_contiguous_strides(in, c.src_stride);
    for (int d = 0; d < c.rank; d++) {
        c.dims[d] = in->dims[d];
        c.dst_offset += n->attr.pad.before[d] * c.dst_stride[d];
    }
    return cg_kernel_copies(cg, name, 1, ir_shape_numel(&n->shape), &c, 1);
}

/* input i lands at offset (sum of the earlier inputs' lengths) along the axis */
static LLVMValueRef concat_kernel(Cg *cg, const char *name, const IrNode *n)
{
    int axis = n->attr.concat.axis;
    CgCopy *c = util_malloc(sizeof(CgCopy) * (size_t)n->nin);
    int64_t at = 0;
    for (int i = 0; i < n->nin; i++) {
        const IrShape *in = &n->in[i]->shape;
        c[i] = (CgCopy){.rank = in->rank, .src = i};
        ir_contiguous_strides(&n->shape, c[i].dst_stride);
        ir_contiguous_strides(in, c[i].src_stride);
        for (int d = 0; d < in->rank; d++)
            c[i].dims[d] = in->dims[d];
        c[i].dst_offset = at * c[i].dst_stride[axis];
        at += in->dims[axis];
    }
    LLVMValueRef fn = cg_kernel_copies(cg, name, n->nin, 0, c, n->nin);
    util_free(c);
    return fn;
}

/* y [N, C, H f, W f] is contiguous [N, C, H, f, W, f]; x is read with stride 0 along
 * both f axes */
static LLVMValueRef upsample2d_kernel(Cg *cg, const char *name, const IrNode *n)
{
    const int64_t *x = n->in[0]->shape.dims;
    int64_t f = n->attr.upsample.factor;
    IrShape blocks = {.rank = 6, .dims = {x[0], x[1], x[2], f, x[3], f}};
    CgCopy c = {.rank = 6,
                .dims = {x[0], x[1], x[2], f, x[3], f},
                .src_stride = {x[1] * x[2] * x[3], x[2] * x[3], x[3], 0, 1, 0}};
    ir_contiguous_strides(&blocks, c.dst_stride);
    return cg_kernel_copies(cg, name, 1, 0, &c, 1);
}

/* ---- helpers for the loops below ------------------------------------------------------------ */

static LLVMValueRef i64c(Cg *cg, int64_t v) { return LLVMConstInt(cg->i64, (uint64_t)v, 1); }

static LLVMValueRef at(Cg *cg, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef index)
{
    return LLVMBuildInBoundsGEP2(cg->b, t, base, &index, 1, "");
}

static LLVMValueRef load(Cg *cg, LLVMTypeRef t, LLVMValueRef p)
{
    LLVMValueRef v = LLVMBuildLoad2(cg->b, t, p, "");
    LLVMSetAlignment(v, 4);
    return v;
}

static void store(Cg *cg, LLVMValueRef v, LLVMValueRef p)
{
    LLVMSetAlignment(LLVMBuildStore(cg->b, v, p), 4);
}

/* a * b + c on i64 indices that cannot overflow (they address existing buffers) */
static LLVMValueRef mad(Cg *cg, LLVMValueRef a, int64_t b, LLVMValueRef c)
{
    LLVMValueRef m = LLVMBuildMul(cg->b, a, i64c(cg, b), "");
    LLVMSetNUW(m, 1);
    LLVMSetNSW(m, 1);
    LLVMValueRef r = LLVMBuildAdd(cg->b, m, c, "");
    LLVMSetNUW(r, 1);
    LLVMSetNSW(r, 1);
    return r;
}

/* out[0 .. count) = 0 (4-byte elements) */
static void zero_fill(Cg *cg, LLVMValueRef out, int64_t count)
{
    if (count <= 0)
        return;
    CgLoop l;
    LLVMValueRef i = cg_loop_begin(cg, &l);
    store(cg, LLVMConstInt(cg->i32, 0, 0), at(cg, cg->i32, out, i));
    cg_loop_end(cg, &l, count);
}

/* Whether a (sign-extended) index lies in [0, limit): one unsigned compare, under which
 * negative indices wrap above every limit. */
static LLVMValueRef in_range(Cg *cg, LLVMValueRef index64, int64_t limit)
{
    return LLVMBuildICmp(cg->b, LLVMIntULT, index64, i64c(cg, limit), "in_range");
}

/* ---- indexing --------------------------------------------------------------------------------- */

/* Stops the program (rt_index_error, naming n's source position) when idx, element m of
 * n's indices, lies outside [0, bound) and m is below `limit`, the indices of the batch's
 * rows (NULL: every index counts). Past the limit the indices are what an earlier batch
 * left; their zero rows are read by nothing. */
static void check_index(Cg *cg, const IrNode *n, LLVMValueRef idx, LLVMValueRef m,
                        int64_t bound, LLVMValueRef limit)
{
    LLVMBuilderRef b = cg->b;
    LLVMValueRef bad = LLVMBuildNot(b, in_range(cg, idx, bound), "bad");
    if (limit)
        bad = LLVMBuildAnd(b, bad, LLVMBuildICmp(b, LLVMIntSLT, m, limit, ""), "");
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(b));
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(cg->ctx, fn, "bad_index");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(cg->ctx, fn, "index_ok");
    LLVMBuildCondBr(b, bad, fail, ok);
    LLVMPositionBuilderAtEnd(b, fail);
    char where[600] = "";
    if (n->span.file) {
        int line, col;
        diag_line_col(n->span.file, n->span.lo, &line, &col);
        snprintf(where, sizeof where, "%.500s:%d:%d", n->span.file->name, line, col);
    }
    LLVMTypeRef params[5] = {cg->ptr, cg->i32, cg->i64, cg->i64, cg->i64};
    LLVMTypeRef fty = LLVMFunctionType(cg->void_, params, 5, 0);
    LLVMValueRef error = LLVMGetNamedFunction(cg->mod, "rt_index_error");
    if (!error)
        error = LLVMAddFunction(cg->mod, "rt_index_error", fty);
    LLVMValueRef args[5] = {LLVMBuildGlobalStringPtr(b, where, "where"),
                            LLVMConstInt(cg->i32, n->op == IR_OP_GATHER, 0), idx, m,
                            i64c(cg, bound)};
    LLVMBuildCall2(b, fty, error, args, 5, "");
    LLVMBuildUnreachable(b);
    LLVMPositionBuilderAtEnd(b, ok);
}

/* out [M, D] = table [V, D] rows at indices [M]; an index outside [0, V) stops the
 * program (check_index), except past the batch's rows, where it gives a zero row. The
 * row read for such an index is row 0, and the value is discarded by a select, so the
 * inner loop has no branch. */
static LLVMValueRef gather_kernel(Cg *cg, const char *name, const IrNode *n)
{
    int64_t V = n->in[0]->shape.dims[0], D = n->in[0]->shape.dims[1];
    int64_t M = ir_shape_numel(&n->in[1]->shape);
    bool rows = n->in[1]->shape.rows; /* the batch's indices end at the last parameter */
    LLVMValueRef fn = cg_kernel_begin(cg, name, 3, rows);
    LLVMValueRef out = LLVMGetParam(fn, 0), table = LLVMGetParam(fn, 1);
    LLVMValueRef indices = LLVMGetParam(fn, 2);
    LLVMValueRef limit = rows ? LLVMGetParam(fn, 3) : NULL;
    if (M > 0) {
        CgLoop lm, ld;
        LLVMValueRef m = cg_loop_begin(cg, &lm);
        LLVMValueRef idx = LLVMBuildSExt(cg->b, load(cg, cg->i32, at(cg, cg->i32, indices, m)),
                                         cg->i64, "");
        check_index(cg, n, idx, m, V, limit);
        if (V == 0 || D == 0) {
            cg_loop_end(cg, &lm, M);
            zero_fill(cg, out, M * D); /* no row to copy: an empty table, or rows of width 0 */
            LLVMBuildRetVoid(cg->b);
            return fn;
        }
        LLVMValueRef ok = in_range(cg, idx, V);
        LLVMValueRef row = LLVMBuildSelect(cg->b, ok, idx, i64c(cg, 0), "row");
        LLVMValueRef d = cg_loop_begin(cg, &ld);
        LLVMValueRef v = load(cg, cg->i32, at(cg, cg->i32, table, mad(cg, row, D, d)));
        v = LLVMBuildSelect(cg->b, ok, v, LLVMConstInt(cg->i32, 0, 0), "");
        store(cg, v, at(cg, cg->i32, out, mad(cg, m, D, d)));
        cg_loop_end(cg, &ld, D);
        cg_loop_end(cg, &lm, M);
    }
    LLVMBuildRetVoid(cg->b);
    return fn;
}

/* out [V, D] = 0; out[indices[m]] += updates[m] for m in order, skipping indices outside
 * [0, V) */
static LLVMValueRef scatter_add_kernel(Cg *cg, const char *name, const IrNode *n)
{
    int64_t V = n->shape.dims[0], D = n->shape.dims[1];
    int64_t M = ir_shape_numel(&n->in[0]->shape);
    bool rows = n->in[0]->shape.rows; /* only the batch's rows: M is a parameter */
    LLVMValueRef fn = cg_kernel_begin(cg, name, 3, rows);
    LLVMValueRef out = LLVMGetParam(fn, 0), indices = LLVMGetParam(fn, 1);
    LLVMValueRef updates = LLVMGetParam(fn, 2);
    zero_fill(cg, out, V * D);
    if (V > 0 && M > 0 && D > 0) {
        CgLoop lm, ld;
        LLVMValueRef m = cg_loop_begin(cg, &lm);
        LLVMValueRef idx = LLVMBuildSExt(cg->b, load(cg, cg->i32, at(cg, cg->i32, indices, m)),
                                         cg->i64, "");
        LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(cg->ctx, fn, "add_row");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(cg->ctx, fn, "next_row");
        LLVMBuildCondBr(cg->b, in_range(cg, idx, V), then, next);
        LLVMPositionBuilderAtEnd(cg->b, then);
        LLVMValueRef d = cg_loop_begin(cg, &ld);
        LLVMValueRef dst = at(cg, cg->f32, out, mad(cg, idx, D, d));
        LLVMValueRef u = load(cg, cg->f32, at(cg, cg->f32, updates, mad(cg, m, D, d)));
        store(cg, LLVMBuildFAdd(cg->b, load(cg, cg->f32, dst), u, ""), dst);
        cg_loop_end(cg, &ld, D);
        LLVMBuildBr(cg->b, next);
        LLVMPositionBuilderAtEnd(cg->b, next);
        if (rows)
            cg_loop_end_value(cg, &lm, LLVMGetParam(fn, 3));
        else
            cg_loop_end(cg, &lm, M);
    }
    LLVMBuildRetVoid(cg->b);
    return fn;
}

/* x viewed as [outer, len, inner] (len: the axis), out [outer, inner] of i32: the first
 * index of the maximum, where the first NaN counts as the maximum. A candidate v replaces
 * the best b when v > b (ordered), or when v is NaN and b is not. */
static LLVMValueRef argmax_kernel(Cg *cg, const char *name, const IrNode *n)
{
    const IrShape *xs = &n->in[0]->shape;
    int axis = n->attr.argmax.axis;
    int64_t outer, inner, len = xs->dims[axis];
    ir_shape_around(xs, axis, &outer, &inner);
    LLVMValueRef fn = cg_kernel_begin(cg, name, 2, false);
    LLVMValueRef out = LLVMGetParam(fn, 0), x = LLVMGetParam(fn, 1);
    LLVMValueRef best_slot = LLVMBuildAlloca(cg->b, cg->f32, "best");
    LLVMValueRef arg_slot = LLVMBuildAlloca(cg->b, cg->i64, "arg");
    if (outer > 0 && inner > 0) {
        CgLoop lo, li, lk;
        LLVMValueRef o = cg_loop_begin(cg, &lo);
        LLVMValueRef i = cg_loop_begin(cg, &li);
        LLVMValueRef first = mad(cg, o, len * inner, i); /* x[o, 0, i] */
        LLVMBuildStore(cg->b, load(cg, cg->f32, at(cg, cg->f32, x, first)), best_slot);
        LLVMBuildStore(cg->b, i64c(cg, 0), arg_slot);
        if (len > 1) {
            LLVMValueRef k = cg_loop_begin(cg, &lk);
            LLVMValueRef k1 = LLVMBuildAdd(cg->b, k, i64c(cg, 1), "");
            LLVMValueRef v = load(cg, cg->f32, at(cg, cg->f32, x, mad(cg, k1, inner, first)));
            LLVMValueRef best = LLVMBuildLoad2(cg->b, cg->f32, best_slot, "");
            LLVMValueRef greater = LLVMBuildFCmp(cg->b, LLVMRealOGT, v, best, "");
            LLVMValueRef v_nan = LLVMBuildFCmp(cg->b, LLVMRealUNO, v, v, "");
            LLVMValueRef best_num = LLVMBuildFCmp(cg->b, LLVMRealORD, best, best, "");
            LLVMValueRef take = LLVMBuildOr(cg->b, greater,
                                            LLVMBuildAnd(cg->b, v_nan, best_num, ""), "take");
            LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, take, v, best, ""), best_slot);
            LLVMValueRef arg = LLVMBuildLoad2(cg->b, cg->i64, arg_slot, "");
            LLVMBuildStore(cg->b, LLVMBuildSelect(cg->b, take, k1, arg, ""), arg_slot);
            cg_loop_end(cg, &lk, len - 1);
        }
        LLVMValueRef arg = LLVMBuildTrunc(cg->b, LLVMBuildLoad2(cg->b, cg->i64, arg_slot, ""),
                                          cg->i32, "");
        store(cg, arg, at(cg, cg->i32, out, mad(cg, o, inner, i)));
        cg_loop_end(cg, &li, inner);
        cg_loop_end(cg, &lo, outer);
    }
    LLVMBuildRetVoid(cg->b);
    return fn;
}

/* out [M, depth] = (labels[m] == j) as 1.0 / 0.0 */
static LLVMValueRef one_hot_kernel(Cg *cg, const char *name, const IrNode *n)
{
    int64_t M = ir_shape_numel(&n->in[0]->shape), depth = n->attr.one_hot.depth;
    bool rows = n->in[0]->shape.rows; /* the batch's labels end at the last parameter */
    LLVMValueRef fn = cg_kernel_begin(cg, name, 2, rows);
    LLVMValueRef out = LLVMGetParam(fn, 0), labels = LLVMGetParam(fn, 1);
    if (M > 0) {
        CgLoop lm, lj;
        LLVMValueRef m = cg_loop_begin(cg, &lm);
        LLVMValueRef label = LLVMBuildSExt(cg->b, load(cg, cg->i32, at(cg, cg->i32, labels, m)),
                                           cg->i64, "");
        check_index(cg, n, label, m, depth, rows ? LLVMGetParam(fn, 2) : NULL);
        LLVMValueRef j = cg_loop_begin(cg, &lj);
        LLVMValueRef hit = LLVMBuildICmp(cg->b, LLVMIntEQ, label, j, "");
        LLVMValueRef v = LLVMBuildSelect(cg->b, hit, LLVMConstReal(cg->f32, 1.0),
                                         LLVMConstReal(cg->f32, 0.0), "");
        store(cg, v, at(cg, cg->f32, out, mad(cg, m, depth, j)));
        cg_loop_end(cg, &lj, depth);
        cg_loop_end(cg, &lm, M);
    }
    LLVMBuildRetVoid(cg->b);
    return fn;
}

LLVMValueRef cg_kernel_layout(Cg *cg, const char *name, const IrNode *n)
{
    switch (n->op) {
    case IR_OP_SLICE: return slice_kernel(cg, name, n);
    case IR_OP_PAD: return pad_kernel(cg, name, n);
    case IR_OP_CONCAT: return concat_kernel(cg, name, n);
    case IR_OP_UPSAMPLE2D: return upsample2d_kernel(cg, name, n);
    case IR_OP_GATHER: return gather_kernel(cg, name, n);
    case IR_OP_SCATTER_ADD: return scatter_add_kernel(cg, name, n);
    case IR_OP_ARGMAX: return argmax_kernel(cg, name, n);
    case IR_OP_ONE_HOT: return one_hot_kernel(cg, name, n);
    default: UNREACHABLE();
    }
}
