/* kernel.c — loop-nest kernels: FUSED bodies (and single elementwise/reduce nodes, which
 * are one-node bodies) and transpose copies.
 *
 * Every kernel is one loop nest over an iteration domain with constant trip counts. Each
 * array the kernel touches (array 0 is the output, 1.. the inputs in parameter order)
 * has a stride per domain axis, in elements: 0 along an axis the array is broadcast over
 * (or that a reduction removes, for the output). Before emitting, the nest is simplified
 * (axes of length 1 dropped, neighbouring axes merged when every array walks them as one)
 * so that e.g. a contiguous elementwise op on [64, 3, 32] is one flat loop, and a sum over
 * the last two axes of a contiguous tensor is one inner reduction loop.
 *
 * Kernels are `internal noinline void name(float *out, const float *in0, ...)`. Buffers
 * come from the static memory plan (passes/memplan.c, docs/memory.md), which never gives a
 * kernel's output bytes of its inputs (the pointers are noalias) and aligns every buffer
 * to 64 bytes, as constant globals are too. */
#include "codegen/cg_internal.h"
#include "util/util.h"

#include <llvm-c/DebugInfo.h>

#include <math.h>
#include <string.h>

typedef struct Nest {
    int rank;
    int64_t dims[IR_MAX_RANK];
    bool reduced[IR_MAX_RANK];        /* axis summed/maxed away (output stride 0) */
    int narr;                         /* arrays: 0 the output, then the inputs */
    int64_t (*stride)[IR_MAX_RANK];   /* narr rows of per-axis strides, in elements */
} Nest;

/* For a kernel with an array in nChw16c layout (blocked.c; such an array has the domain's
 * shape): the 4-D domain [N, C, H, W] becomes [N, C/16, H, W, 16]. A blocked array walks
 * it contiguously; the others keep their strides, channel stride s becoming 16 s on the
 * block axis and s on the lane axis. */
static void nest_split_channels(Nest *n, const bool *blocked)
{
    ASSERT(n->rank == 4 && n->dims[1] % 16 == 0);
    int64_t c = n->dims[1], h = n->dims[2], w = n->dims[3];
    n->rank = 5;
    n->dims[1] = c / 16;
    n->dims[4] = 16;
    n->reduced[4] = n->reduced[1];
    for (int a = 0; a < n->narr; a++) {
        int64_t *s = n->stride[a];
        if (blocked[a]) {
            s[0] = c * h * w, s[1] = 16 * h * w, s[2] = 16 * w, s[3] = 16, s[4] = 1;
        } else {
            s[4] = s[1];
            s[1] *= 16;
        }
    }
}

/* For an elementwise kernel between the two layouts: after nest_split_channels and
 * nest_simplify its nest ends [..., S, 16], S the spatial positions and 16 the lanes of a
 * channel block, and a blocked array walks the lanes contiguously (strides 16, 1) while a
 * plain one walks S contiguously (strides 1, H W or more). Walked so, the plain array's 16
 * lanes lie H W floats apart: for 32 x 32 images 4 KiB, the same L1 set for all 16, so
 * every access misses L1 (ResNet-20's kernels that convert a block's output for its
 * shortcut ran several times slower than the same kernel within one layout). Tiling S by
 * 16, [..., S / 16, 16 lanes, 16 positions], makes the plain array's innermost walk
 * contiguous (a vector per lane) and the blocked array's a 1 KiB tile read or written 16
 * floats apart, which stays in L1. Every element is still computed by the same
 * operations. */
static void nest_tile_layouts(Nest *n)
{
    int r = n->rank; /* at least 3: axis 0 (a batch's rows, the axis split among threads)
                        stays as it is */
    if (r < 3 || r >= IR_MAX_RANK || n->dims[r - 1] != 16 || n->dims[r - 2] % 16 != 0)
        return;
    bool blocked = false, plain = false;
    for (int a = 0; a < n->narr; a++) {
        const int64_t *s = n->stride[a];
        blocked = blocked || (s[r - 2] == 16 && s[r - 1] == 1);
        plain = plain || (s[r - 2] == 1 && s[r - 1] >= n->dims[r - 2]);
    }
    if (!blocked || !plain)
        return;
    n->dims[r] = 16;
    n->dims[r - 1] = 16;
    n->dims[r - 2] /= 16;
    n->reduced[r] = n->reduced[r - 1] = n->reduced[r - 2];
    for (int a = 0; a < n->narr; a++) {
        int64_t *s = n->stride[a];
        s[r] = s[r - 2];
        s[r - 2] *= 16;
    }
    n->rank = r + 1;
}

/* Drops length-1 axes and merges axis k into the axis before it when both are reduced or
 * both kept and every array has stride[k-1] == stride[k] * dims[k]. Iteration order and
 * every array's addresses are unchanged. */
static void nest_simplify(Nest *n)
{
    int w = 0;
    for (int k = 0; k < n->rank; k++) {
        if (n->dims[k] == 1)
            continue;
        bool merge = w > 0 && n->reduced[w - 1] == n->reduced[k];
        for (int a = 0; a < n->narr && merge; a++)
            merge = n->stride[a][w - 1] == n->stride[a][k] * n->dims[k];
        if (merge) {
            n->dims[w - 1] *= n->dims[k];
            for (int a = 0; a < n->narr; a++)
                n->stride[a][w - 1] = n->stride[a][k];
            continue;
        }
        n->dims[w] = n->dims[k];
        n->reduced[w] = n->reduced[k];
        for (int a = 0; a < n->narr; a++)
            n->stride[a][w] = n->stride[a][k];
        w++;
    }
    n->rank = w;
}

/* ---- function and loop scaffolding ------------------------------------------------------- */

static void add_enum_attr(Cg *cg, LLVMValueRef fn, LLVMAttributeIndex idx, const char *name,
                          uint64_t value)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    ASSERT(kind != 0);
    LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(cg->ctx, kind, value));
}

/* Declares the kernel with narr pointer parameters and positions the builder in its
 * entry block. "prefer-vector-width"="512": the x86 backend otherwise sticks to 256-bit
 * vectors on some AVX-512 CPUs; these loops are long and regular enough to want zmm. */
/* With `ranged`, two i64 parameters (begin, end) come first; with `limit`, one i64 (the
 * row limit, cg_kernel_fused) comes last. */
static LLVMValueRef kernel_begin(Cg *cg, const char *name, int narr, bool ranged, bool limit)
{
    int first = ranged ? 2 : 0, n = first + narr + limit;
    LLVMTypeRef *params = util_malloc(sizeof(LLVMTypeRef) * (size_t)n);
    for (int i = 0; i < n; i++)
        params[i] = i < first || i >= first + narr ? cg->i64 : cg->ptr;
    LLVMTypeRef fty = LLVMFunctionType(cg->void_, params, (unsigned)n, 0);
    util_free(params);
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    add_enum_attr(cg, fn, LLVMAttributeFunctionIndex, "noinline", 0);
    add_enum_attr(cg, fn, LLVMAttributeFunctionIndex, "nounwind", 0);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(cg->ctx, "prefer-vector-width", 19,
                                                      "512", 3));
    for (int i = 0; i < narr; i++) {
        LLVMAttributeIndex idx = (LLVMAttributeIndex)(first + i + 1);
        add_enum_attr(cg, fn, idx, "noalias", 0);
        add_enum_attr(cg, fn, idx, "nocapture", 0);
        add_enum_attr(cg, fn, idx, "align", 64);
        if (i > 0)
            add_enum_attr(cg, fn, idx, "readonly", 0);
    }
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(cg->b, entry);
    return fn;
}

LLVMValueRef cg_kernel_begin(Cg *cg, const char *name, int narr, bool limit)
{
    return kernel_begin(cg, name, narr, false, limit);
}

/* Opens `for (iv = start; ; )` in a new block; the body goes where the builder is left. */
static LLVMValueRef loop_begin_at(Cg *cg, CgLoop *l, LLVMValueRef start)
{
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
    LLVMValueRef fn = LLVMGetBasicBlockParent(pre);
    l->header = LLVMAppendBasicBlockInContext(cg->ctx, fn, "loop");
    LLVMBuildBr(cg->b, l->header);
    LLVMPositionBuilderAtEnd(cg->b, l->header);
    l->iv = LLVMBuildPhi(cg->b, cg->i64, "i");
    LLVMAddIncoming(l->iv, &start, &pre, 1);
    return l->iv;
}

/* Closes the loop: `iv++` and back while iv < end (tested at the bottom: the body runs at
 * least once). Returns the loop's back branch (where its llvm.loop metadata goes). */
static LLVMValueRef loop_end_at(Cg *cg, CgLoop *l, LLVMValueRef end)
{
    LLVMValueRef next = LLVMBuildAdd(cg->b, l->iv, LLVMConstInt(cg->i64, 1, 0), "");
    LLVMSetNUW(next, 1);
    LLVMSetNSW(next, 1);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(cg->b);
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(cg->ctx,
                                                           LLVMGetBasicBlockParent(latch), "done");
    LLVMValueRef more = LLVMBuildICmp(cg->b, LLVMIntULT, next, end, "");
    LLVMValueRef br = LLVMBuildCondBr(cg->b, more, l->header, exit);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(cg->b, exit);
    return br;
}

/* Marks the loop whose back branch is `br` llvm.loop.vectorize.enable = false: a loop
 * around a 16-lane axis (nest_split_channels), which LLVM unrolls fully and the SLP
 * vectorizer turns into one 16-float vector; vectorizing the outer loop instead would
 * interleave 8 of its iterations with strided loads and shuffles. */
static void loop_no_vectorize(Cg *cg, LLVMValueRef br)
{
    LLVMMetadataRef self = LLVMTemporaryMDNode(cg->ctx, NULL, 0);
    const char *key = "llvm.loop.vectorize.enable";
    LLVMMetadataRef property[2] = {
        LLVMMDStringInContext2(cg->ctx, key, strlen(key)),
        LLVMValueAsMetadata(LLVMConstInt(cg->i1, 0, 0)),
    };
    LLVMMetadataRef operands[2] = {self, LLVMMDNodeInContext2(cg->ctx, property, 2)};
    LLVMMetadataRef loop = LLVMMDNodeInContext2(cg->ctx, operands, 2);
    LLVMMetadataReplaceAllUsesWith(self, loop);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(cg->ctx, "llvm.loop", 9),
                    LLVMMetadataAsValue(cg->ctx, loop));
}

LLVMValueRef cg_loop_begin(Cg *cg, CgLoop *l)
{
    return loop_begin_at(cg, l, LLVMConstInt(cg->i64, 0, 0));
}

void cg_loop_end(Cg *cg, CgLoop *l, int64_t n)
{
    loop_end_at(cg, l, LLVMConstInt(cg->i64, (uint64_t)n, 0));
}

void cg_loop_end_value(Cg *cg, CgLoop *l, LLVMValueRef n) { loop_end_at(cg, l, n); }

/* ---- nest emission ---------------------------------------------------------------------- */

typedef struct Kernel Kernel;
typedef void PointFn(Kernel *k);

struct Kernel {
    Cg *cg;
    Nest nest;
    LLVMValueRef *param;             /* nest.narr pointers */
    LLVMValueRef iv[IR_MAX_RANK];    /* induction variables of the open loops */
    int depth;                       /* number of open loops */
    /* FUSED bodies */
    IrNode *const *in;
    int nin;
    IrNode *const *body;
    int nvalue;                      /* body[0 .. nvalue) are evaluated at each point */
    const IrNode *value;             /* the value stored, or reduced */
    IrOp reduce;                     /* IR_OP_SUM, IR_OP_REDUCE_MAX, or IR_OP_CONST: none */
    int split;                       /* register accumulation over axes [split, rank) */
    LLVMValueRef acc;                /* the accumulator's stack slot */
    LLVMValueRef begin, end;         /* a ranged kernel: axis 0 runs over [begin, end) */
    /* A kernel over a batch's rows (cg_kernel_fused's row limit): axis 0 runs over
     * [0, limit), or, in chunks of `chunk` (nest_chunk_outer), axis 1 of chunk c over
     * [0, min(chunk, limit - c chunk)). NULL: the axes' own lengths. */
    LLVMValueRef limit;
    int64_t chunk;
    int lanes;                       /* the loops of axes [0, lanes) enclose a 16-lane axis
                                        and are not vectorized (0: none) */
};

/* Pointer to array a's element at the current loop indices (open loops only: closed axes
 * count as index 0, which is what the output of a register reduction needs). */
static LLVMValueRef element_ptr(Kernel *k, int a)
{
    Cg *cg = k->cg;
    LLVMValueRef off = LLVMConstInt(cg->i64, 0, 0);
    for (int d = 0; d < k->depth; d++) {
        int64_t s = k->nest.stride[a][d];
        if (s == 0)
            continue;
        LLVMValueRef term = LLVMBuildMul(cg->b, k->iv[d], LLVMConstInt(cg->i64, (uint64_t)s, 0), "");
        LLVMSetNUW(term, 1);
        LLVMSetNSW(term, 1);
        off = LLVMBuildAdd(cg->b, off, term, "");
        LLVMSetNUW(off, 1);
        LLVMSetNSW(off, 1);
    }
    return LLVMBuildInBoundsGEP2(cg->b, cg->f32, k->param[a], &off, 1, "");
}

static LLVMValueRef load_f32(Cg *cg, LLVMValueRef p)
{
    LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->f32, p, "");
    LLVMSetAlignment(v, 4);
    return v;
}

static void store_f32(Cg *cg, LLVMValueRef v, LLVMValueRef p)
{
    LLVMSetAlignment(LLVMBuildStore(cg->b, v, p), 4);
}

/* Emits loops over axes [from, to) around `point`. A zero-length axis means the points
 * never run, so nothing below it is emitted. */
static void emit_loops(Kernel *k, int from, int to, PointFn *point)
{
    if (from == to) {
        point(k);
        return;
    }
    if (k->nest.dims[from] == 0)
        return;
    Cg *cg = k->cg;
    CgLoop l;
    bool ranged = from == 0 && k->begin;
    LLVMValueRef n = LLVMConstInt(cg->i64, (uint64_t)k->nest.dims[from], 0);
    if (ranged) {
        n = k->end;
    } else if (k->limit && from == 0 && !k->chunk) {
        n = k->limit;
    } else if (k->limit && from == 1 && k->chunk) {
        /* min(chunk, limit - iv0 chunk): at least 1, as only chunks with rows run */
        LLVMValueRef chunk = LLVMConstInt(cg->i64, (uint64_t)k->chunk, 0);
        LLVMValueRef done = LLVMBuildMul(cg->b, k->iv[0], chunk, "");
        LLVMValueRef rest = LLVMBuildSub(cg->b, k->limit, done, "");
        n = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, rest, n, ""), rest, n, "");
    }
    k->iv[from] = ranged ? loop_begin_at(cg, &l, k->begin) : cg_loop_begin(cg, &l);
    k->depth = from + 1;
    emit_loops(k, from + 1, to, point);
    k->depth = from;
    LLVMValueRef br = loop_end_at(cg, &l, n);
    if (from < k->lanes)
        loop_no_vectorize(cg, br);
}

/* ---- elementwise ops ----------------------------------------------------------------------- */

static LLVMValueRef bool_to_f32(Cg *cg, LLVMValueRef c)
{
    return LLVMBuildSelect(cg->b, c, LLVMConstReal(cg->f32, 1.0), LLVMConstReal(cg->f32, 0.0), "");
}

/* One elementwise op on f32 values. NaN policy: max/min/relu propagate NaN (like numpy's
 * maximum and PyTorch), so a diverging computation shows up as nan instead of being
 * silently clamped; comparisons are IEEE (a NaN operand makes lt/le/gt/ge/eq false and ne
 * true); select tests c != 0, so a NaN condition picks a. relu(x) = maximum(x, +0). */
static LLVMValueRef emit_elementwise(Cg *cg, IrOp op, LLVMValueRef *a)
{
    LLVMBuilderRef b = cg->b;
    LLVMValueRef zero = LLVMConstReal(cg->f32, 0.0);
    /* comparisons of two i32 values (labels, argmax results) are signed integer ones */
    if (op >= IR_OP_CMP_LT && op <= IR_OP_CMP_NE && LLVMTypeOf(a[0]) == cg->i32) {
        static const LLVMIntPredicate pred[] = {LLVMIntSLT, LLVMIntSLE, LLVMIntSGT,
                                                LLVMIntSGE, LLVMIntEQ,  LLVMIntNE};
        return bool_to_f32(cg, LLVMBuildICmp(b, pred[op - IR_OP_CMP_LT], a[0], a[1], ""));
    }
    switch (op) {
    case IR_OP_NEG: return cg_fast(LLVMBuildFNeg(b, a[0], ""));
    case IR_OP_EXP: return cg_math_exp(cg, a[0]);
    case IR_OP_LOG: return cg_math_log(cg, a[0]);
    case IR_OP_SQRT: return cg_fast(cg_call_intrinsic(cg, "llvm.sqrt", a, 1));
    case IR_OP_TANH: return cg_math_tanh(cg, a[0]);
    case IR_OP_SIGMOID: return cg_math_sigmoid(cg, a[0]);
    case IR_OP_RELU:
        /* unordered-or-greater: NaN and x > 0 keep x; -0 and negatives give +0 */
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUGT, a[0], zero, ""), a[0], zero, "");
    case IR_OP_ADD: return cg_fast(LLVMBuildFAdd(b, a[0], a[1], ""));
    case IR_OP_SUB: return cg_fast(LLVMBuildFSub(b, a[0], a[1], ""));
    case IR_OP_MUL: return cg_fast(LLVMBuildFMul(b, a[0], a[1], ""));
    case IR_OP_DIV: return cg_fast(LLVMBuildFDiv(b, a[0], a[1], ""));
    case IR_OP_POW: return cg_fast(cg_call_intrinsic(cg, "llvm.pow", a, 2));
    case IR_OP_MAX: return cg_fast(cg_call_intrinsic(cg, "llvm.maximum", a, 2));
    case IR_OP_MIN: return cg_fast(cg_call_intrinsic(cg, "llvm.minimum", a, 2));
    case IR_OP_CMP_LT: return bool_to_f32(cg, LLVMBuildFCmp(b, LLVMRealOLT, a[0], a[1], ""));
    case IR_OP_CMP_LE: return bool_to_f32(cg, LLVMBuildFCmp(b, LLVMRealOLE, a[0], a[1], ""));
    case IR_OP_CMP_GT: return bool_to_f32(cg, LLVMBuildFCmp(b, LLVMRealOGT, a[0], a[1], ""));
    case IR_OP_CMP_GE: return bool_to_f32(cg, LLVMBuildFCmp(b, LLVMRealOGE, a[0], a[1], ""));
    case IR_OP_CMP_EQ: return bool_to_f32(cg, LLVMBuildFCmp(b, LLVMRealOEQ, a[0], a[1], ""));
    case IR_OP_CMP_NE: return bool_to_f32(cg, LLVMBuildFCmp(b, LLVMRealUNE, a[0], a[1], ""));
    case IR_OP_SELECT:
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNE, a[0], zero, ""), a[1], a[2], "");
    case IR_OP_BROADCAST: return a[0]; /* its input is already read at the broadcast index */
    default: UNREACHABLE();
    }
}

/* acc (op) v for the reductions: SUM adds, REDUCE_MAX takes the NaN-propagating maximum.
 * Both are reassoc so the vectorizer may split the accumulation into lanes. */
static LLVMValueRef combine(Cg *cg, IrOp reduce, LLVMValueRef acc, LLVMValueRef v)
{
    if (reduce == IR_OP_SUM)
        return cg_fast(LLVMBuildFAdd(cg->b, acc, v, ""));
    LLVMValueRef args[2] = {acc, v};
    return cg_fast(cg_call_intrinsic(cg, "llvm.maximum", args, 2));
}

static LLVMValueRef reduce_init(Cg *cg, IrOp reduce)
{
    return LLVMConstReal(cg->f32, reduce == IR_OP_SUM ? 0.0 : -INFINITY);
}

/* ---- FUSED kernels -------------------------------------------------------------------------- */

/* CAST: f32 -> i32 truncates toward zero and saturates (NaN -> 0), as the evaluator;
 * i32 -> f32 rounds to nearest; a cast to the same type is the value itself. */
static LLVMValueRef emit_cast(Cg *cg, const IrNode *n, LLVMValueRef x)
{
    bool from_int = LLVMTypeOf(x) == cg->i32;
    if (n->dtype == IR_I32 && !from_int) {
        LLVMTypeRef params[1] = {cg->f32};
        LLVMTypeRef fty = LLVMFunctionType(cg->i32, params, 1, 0);
        LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, "llvm.fptosi.sat.i32.f32");
        if (!fn)
            fn = LLVMAddFunction(cg->mod, "llvm.fptosi.sat.i32.f32", fty);
        return LLVMBuildCall2(cg->b, fty, fn, &x, 1, "");
    }
    if (n->dtype == IR_F32 && from_int)
        return LLVMBuildSIToFP(cg->b, x, cg->f32, "");
    return x;
}

/* The body's value at the current domain index: every input loaded at its broadcast
 * index (as i32 for an i32 tensor, else f32), then body[0 .. nvalue) in order (each reads
 * earlier values from cg->vals). */
static LLVMValueRef fused_value(Kernel *k)
{
    Cg *cg = k->cg;
    for (int i = 0; i < k->nin; i++) {
        LLVMTypeRef t = k->in[i]->dtype == IR_I32 ? cg->i32 : cg->f32;
        LLVMValueRef v = LLVMBuildLoad2(cg->b, t, element_ptr(k, i + 1), "");
        LLVMSetAlignment(v, 4);
        cg->vals[k->in[i]->id] = v;
    }
    for (int j = 0; j < k->nvalue; j++) {
        const IrNode *n = k->body[j];
        LLVMValueRef args[3];
        ASSERT(n->nin <= 3);
        for (int i = 0; i < n->nin; i++)
            args[i] = cg->vals[n->in[i]->id];
        cg->vals[n->id] = n->op == IR_OP_CAST ? emit_cast(cg, n, args[0])
                                              : emit_elementwise(cg, n->op, args);
    }
    return cg->vals[k->value->id];
}

static void point_store(Kernel *k)
{
    store_f32(k->cg, fused_value(k), element_ptr(k, 0));
}

static void point_accumulate_register(Kernel *k)
{
    Cg *cg = k->cg;
    LLVMValueRef v = fused_value(k);
    LLVMValueRef acc = LLVMBuildLoad2(cg->b, cg->f32, k->acc, "");
    LLVMBuildStore(cg->b, combine(cg, k->reduce, acc, v), k->acc);
}

static void point_accumulate_memory(Kernel *k)
{
    Cg *cg = k->cg;
    LLVMValueRef v = fused_value(k);
    LLVMValueRef p = element_ptr(k, 0);
    store_f32(cg, combine(cg, k->reduce, load_f32(cg, p), v), p);
}

/* One output element of a suffix reduction: the accumulator lives in a stack slot that
 * SROA turns into a register (a phi the vectorizer recognizes as a reduction). */
static void point_reduce_suffix(Kernel *k)
{
    Cg *cg = k->cg;
    LLVMBuildStore(cg->b, reduce_init(cg, k->reduce), k->acc);
    emit_loops(k, k->split, k->nest.rank, point_accumulate_register);
    k->depth = k->split;
    store_f32(cg, LLVMBuildLoad2(cg->b, cg->f32, k->acc, ""), element_ptr(k, 0));
}

/* out[0 .. count) = v, as its own flat loop. */
static void emit_fill(Cg *cg, LLVMValueRef out, int64_t count, LLVMValueRef v)
{
    if (count == 0)
        return;
    CgLoop l;
    LLVMValueRef i = cg_loop_begin(cg, &l);
    store_f32(cg, v, LLVMBuildInBoundsGEP2(cg->b, cg->f32, out, &i, 1, ""));
    cg_loop_end(cg, &l, count);
}

/* Initializes the output of a reduction accumulated in memory: all `count` elements, or
 * in a ranged kernel those of its outermost (kept) axis's range [begin, end), which are
 * contiguous (the output is, and that axis is its outermost): each thread must reset only
 * what it then accumulates into. */
static void emit_init(Kernel *k, int64_t count)
{
    Cg *cg = k->cg;
    LLVMValueRef v = reduce_init(cg, k->reduce);
    if (!k->begin) {
        emit_fill(cg, k->param[0], count, v);
        return;
    }
    ASSERT(!k->nest.reduced[0]);
    int64_t stride = k->nest.stride[0][0];
    LLVMValueRef per = LLVMConstInt(cg->i64, (uint64_t)stride, 0);
    LLVMValueRef from = LLVMBuildMul(cg->b, k->begin, per, "");
    LLVMValueRef to = LLVMBuildMul(cg->b, k->end, per, "");
    CgLoop l;
    LLVMValueRef i = loop_begin_at(cg, &l, from);
    store_f32(cg, v, LLVMBuildInBoundsGEP2(cg->b, cg->f32, k->param[0], &i, 1, ""));
    loop_end_at(cg, &l, to);
}

/* `void name_range(ptr ctx, i64 begin, i64 end)` for rt_parallel_for: ctx holds the
 * kernel's narr pointers; calls kernel(begin, end, ctx[0], ...). */
LLVMValueRef cg_range_function(Cg *cg, const char *name, const char *suffix)
{
    char fname[160];
    snprintf(fname, sizeof fname, "%s_%s", name, suffix);
    LLVMTypeRef params[3] = {cg->ptr, cg->i64, cg->i64};
    LLVMValueRef fn = LLVMAddFunction(cg->mod, fname, LLVMFunctionType(cg->void_, params, 3, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
    return fn;
}

/* With `rows`, ctx[narr] holds the kernel's row limit (an integer in a pointer). */
static LLVMValueRef range_trampoline(Cg *cg, const char *name, LLVMValueRef kernel, int narr,
                                     bool rows)
{
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(cg->b);
    LLVMValueRef fn = cg_range_function(cg, name, "range");
    LLVMValueRef *args = util_malloc(sizeof(LLVMValueRef) * (size_t)(narr + 3));
    args[0] = LLVMGetParam(fn, 1);
    args[1] = LLVMGetParam(fn, 2);
    for (int a = 0; a < narr + rows; a++) {
        LLVMValueRef at = LLVMConstInt(cg->i64, (uint64_t)a, 0);
        args[2 + a] = LLVMBuildLoad2(cg->b, cg->ptr,
                                     LLVMBuildInBoundsGEP2(cg->b, cg->ptr, LLVMGetParam(fn, 0),
                                                           &at, 1, ""),
                                     "");
    }
    if (rows)
        args[2 + narr] = LLVMBuildPtrToInt(cg->b, args[2 + narr], cg->i64, "limit");
    LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(kernel), kernel, args,
                   (unsigned)(narr + 2 + rows), "");
    LLVMBuildRetVoid(cg->b);
    util_free(args);
    LLVMPositionBuilderAtEnd(cg->b, saved);
    return fn;
}

/* The most partial results a chunked reduction keeps: the elements of the module's one
 * block for them, `nnc_partials` (1 MiB of zero-initialized static memory, which only
 * the kernels' largest [chunks, out] block touches; the kernels run one at a time). */
enum { MAX_PARTIALS = 1 << 18 };

/* For a reduction of CG_PARALLEL_POINTS or more over the outermost axis of its nest (of
 * `out` output elements): the number of chunks that axis is cut into, or 0 when it is
 * not. Up to 64 chunks of equal length: the axis's length if that is at most 64, else its
 * largest divisor up to 64 (the axis is split into [chunks, length / chunks]). The chunks
 * depend on the shape only, never on the number of threads, and neither do the results. */
static int64_t outer_chunks(const Nest *n, int64_t points, int64_t out)
{
    if (n->rank == 0 || !n->reduced[0] || points < CG_PARALLEL_POINTS)
        return 0;
    int64_t len = n->dims[0], chunks = len;
    if (len > 64) {
        if (n->rank == IR_MAX_RANK)
            return 0;
        for (chunks = 64; chunks > 1 && len % chunks; chunks--)
            ;
    }
    return chunks >= 2 && chunks * out <= MAX_PARTIALS ? chunks : 0;
}

/* Turns the nest's reduced outermost axis into a kept axis of `chunks` (outer_chunks)
 * along which the output, a [chunks, out] block of partial results, advances by `out`. */
static void nest_chunk_outer(Nest *n, int64_t chunks, int64_t out)
{
    if (chunks < n->dims[0]) {
        for (int d = n->rank; d > 0; d--) {
            n->dims[d] = n->dims[d - 1];
            n->reduced[d] = n->reduced[d - 1];
            for (int a = 0; a < n->narr; a++)
                n->stride[a][d] = n->stride[a][d - 1];
        }
        n->rank++;
        n->dims[1] /= chunks;
        n->dims[0] = chunks;
        for (int a = 0; a < n->narr; a++)
            n->stride[a][0] = n->stride[a][1] * n->dims[1];
    }
    n->reduced[0] = false;
    n->stride[0][0] = out;
}

/* `void name(out, in0, ...)` for a chunked reduction: runs range (the kernel's range
 * function) over the chunks on the thread pool into `nnc_partials`, then combines the
 * chunks' partial results in chunk order into out. With `rows` (a reduction of a batch's
 * rows), `void name(out, in0, ..., int64_t limit)`: only the chunks of `chunk` rows of
 * axis 0 that hold some of its first `limit` run (range cuts the last one short). */
static LLVMValueRef chunked_reduction(Cg *cg, const char *name, LLVMValueRef range, int narr,
                                      int64_t chunks, int64_t out, IrOp reduce, bool rows,
                                      int64_t chunk)
{
    ASSERT(chunks * out <= MAX_PARTIALS);
    LLVMValueRef partials = LLVMGetNamedGlobal(cg->mod, "nnc_partials");
    if (!partials) {
        LLVMTypeRef block = LLVMArrayType2(cg->f32, MAX_PARTIALS);
        partials = LLVMAddGlobal(cg->mod, block, "nnc_partials");
        LLVMSetInitializer(partials, LLVMConstNull(block));
        LLVMSetLinkage(partials, LLVMInternalLinkage);
        LLVMSetAlignment(partials, 64);
    }

    LLVMValueRef fn = kernel_begin(cg, name, narr, false, rows);
    LLVMTypeRef ctx_ty = LLVMArrayType2(cg->ptr, (uint64_t)(narr + rows));
    LLVMValueRef ctx = LLVMBuildAlloca(cg->b, ctx_ty, "ctx");
    for (int a = 0; a < narr + rows; a++) {
        LLVMValueRef at = LLVMConstInt(cg->i64, (uint64_t)a, 0);
        LLVMValueRef v = a == 0 ? partials : LLVMGetParam(fn, (unsigned)a);
        if (a == narr)
            v = LLVMBuildIntToPtr(cg->b, v, cg->ptr, "");
        LLVMBuildStore(cg->b, v, LLVMBuildInBoundsGEP2(cg->b, cg->ptr, ctx, &at, 1, ""));
    }
    LLVMValueRef run = LLVMConstInt(cg->i64, (uint64_t)chunks, 0);
    if (rows) { /* ceil(limit / chunk) */
        LLVMValueRef c = LLVMConstInt(cg->i64, (uint64_t)chunk, 0);
        run = LLVMBuildUDiv(cg->b,
                            LLVMBuildAdd(cg->b, LLVMGetParam(fn, (unsigned)narr),
                                         LLVMConstInt(cg->i64, (uint64_t)chunk - 1, 0), ""),
                            c, "chunks");
    }
    cg_parallel_for(cg, run, range, ctx);
    LLVMValueRef dst = LLVMGetParam(fn, 0);
    CgLoop l;
    LLVMValueRef i = cg_loop_begin(cg, &l);
    store_f32(cg, load_f32(cg, LLVMBuildInBoundsGEP2(cg->b, cg->f32, partials, &i, 1, "")),
              LLVMBuildInBoundsGEP2(cg->b, cg->f32, dst, &i, 1, ""));
    cg_loop_end(cg, &l, out);
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, fn, "combined");
    if (rows) { /* one chunk: nothing to combine (the loop below runs at least once) */
        LLVMBasicBlockRef more = LLVMAppendBasicBlockInContext(cg->ctx, fn, "combine");
        LLVMValueRef one = LLVMConstInt(cg->i64, 1, 0);
        LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntUGT, run, one, ""), more, done);
        LLVMPositionBuilderAtEnd(cg->b, more);
    }
    CgLoop lc;
    LLVMValueRef c = loop_begin_at(cg, &lc, LLVMConstInt(cg->i64, 1, 0));
    LLVMValueRef first = LLVMBuildMul(cg->b, c, LLVMConstInt(cg->i64, (uint64_t)out, 0), "");
    LLVMValueRef row = LLVMBuildInBoundsGEP2(cg->b, cg->f32, partials, &first, 1, "");
    i = cg_loop_begin(cg, &l);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->f32, dst, &i, 1, "");
    LLVMValueRef v = load_f32(cg, LLVMBuildInBoundsGEP2(cg->b, cg->f32, row, &i, 1, ""));
    store_f32(cg, combine(cg, reduce, load_f32(cg, p), v), p);
    cg_loop_end(cg, &l, out);
    loop_end_at(cg, &lc, run);
    LLVMBuildBr(cg->b, done);
    LLVMPositionBuilderAtEnd(cg->b, done);
    LLVMBuildRetVoid(cg->b);
    return fn;
}

/* cg_kernel_fused, or with `flat` (a flat elementwise kernel, ir_fused_flat) the ranged
 * kernel itself over its elements, whatever its size: cg_kernel_flat. */
static LLVMValueRef kernel_fused(Cg *cg, const char *name, const IrNode *node,
                                 IrNode *const *in, int nin, IrNode *const *body, int nbody,
                                 bool flat, int64_t *parallel, int64_t *rows_len)
{
    ASSERT(nbody >= 1);
    const IrNode *root = body[nbody - 1];
    bool reduces = ir_op_kind(root->op) == IR_KIND_REDUCE;
    IrShape domain = reduces ? root->in[0]->shape : root->shape;
    uint32_t axes = reduces ? root->attr.reduce.axes : 0;

    Kernel k = {.cg = cg, .in = in, .nin = nin, .body = body};
    k.reduce = reduces ? root->op : IR_OP_CONST;
    k.nvalue = reduces ? nbody - 1 : nbody;
    k.value = reduces ? root->in[0] : root;
    Nest *n = &k.nest;
    n->rank = domain.rank;
    n->narr = nin + 1;
    n->stride = util_malloc(sizeof *n->stride * (size_t)n->narr);
    for (int d = 0; d < domain.rank; d++) {
        n->dims[d] = domain.dims[d];
        n->reduced[d] = (axes >> d) & 1;
    }
    /* the output's strides: its own contiguous strides on the axes it keeps */
    int64_t out_strides[IR_MAX_RANK];
    ir_contiguous_strides(&root->shape, out_strides);
    for (int d = 0, o = 0; d < domain.rank; d++)
        n->stride[0][d] = n->reduced[d] ? 0 : out_strides[o++];
    for (int i = 0; i < nin; i++)
        ir_broadcast_strides(&in[i]->shape, &domain, n->stride[i + 1]);
    bool *blocked = util_malloc(sizeof(bool) * (size_t)n->narr);
    bool any_blocked = false;
    for (int a = 0; a < n->narr; a++) {
        blocked[a] = cg->blocked && cg->blocked[(a ? in[a - 1] : node)->id];
        any_blocked = any_blocked || blocked[a];
    }
    ASSERT(!(flat && any_blocked));
    if (any_blocked)
        nest_split_channels(n, blocked);
    util_free(blocked);
    nest_simplify(n);
    if (any_blocked && !reduces)
        nest_tile_layouts(n);
    /* A batch's rows on axis 0 (which stays the nest's first, merged with the axes after
     * it): only the rows the batch has run. A domain of no elements (a layer of width 0)
     * runs nothing whatever the rows, and nest_simplify may have left axis 0 empty. */
    bool rows = domain.rows && domain.rows_axis == 0 && ir_shape_numel(&domain) > 0;
    ASSERT(!rows || n->rank > 0);
    *rows_len = rows ? n->dims[0] : 0;

    /* Large kernels run on the thread pool, split along their outermost axis when it is
     * kept (each output element is then computed by one thread, in the same order as on
     * one: the results do not depend on the number of threads). A large reduction of
     * that axis runs in chunks of it instead (chunked_reduction). */
    int64_t points = 1;
    for (int d = 0; d < n->rank; d++)
        points *= n->dims[d];
    int64_t out_numel = ir_shape_numel(&root->shape);
    int64_t chunks = flat ? 0 : outer_chunks(n, points, out_numel);
    if (chunks)
        nest_chunk_outer(n, chunks, out_numel);
    /* a lane axis left unmerged (some array is not blocked) */
    k.lanes = any_blocked && n->rank > 1 && n->dims[n->rank - 1] == 16 ? n->rank - 1 : 0;
    bool ranged = n->rank > 0 && !n->reduced[0] && n->dims[0] >= 2 &&
                  (points >= CG_PARALLEL_POINTS || chunks);
    ASSERT(!flat || (n->rank == 1 && !reduces)); /* its inputs: its shape, or one element */
    ranged = ranged || flat;
    *parallel = ranged ? n->dims[0] : 0;

    LLVMBasicBlockRef caller = LLVMGetInsertBlock(cg->b);
    char chunk_name[160];
    snprintf(chunk_name, sizeof chunk_name, "%s_chunk", name);
    /* the row limit as a parameter, unless the range of a kernel split along its kept
     * axis 0 says it (the caller runs only the rows the batch has) */
    bool limited = rows && (!ranged || chunks);
    LLVMValueRef fn = kernel_begin(cg, chunks ? chunk_name : name, n->narr, ranged, limited);
    k.param = util_malloc(sizeof(LLVMValueRef) * (size_t)n->narr);
    for (int a = 0; a < n->narr; a++)
        k.param[a] = LLVMGetParam(fn, (unsigned)(a + (ranged ? 2 : 0)));
    if (ranged) {
        k.begin = LLVMGetParam(fn, 0);
        k.end = LLVMGetParam(fn, 1);
    }
    if (limited) {
        k.limit = LLVMGetParam(fn, (unsigned)(n->narr + (ranged ? 2 : 0)));
        k.chunk = chunks && chunks < *rows_len ? *rows_len / chunks : 0;
    }

    if (!reduces) {
        emit_loops(&k, 0, n->rank, point_store);
    } else {
        /* Register accumulation when the reduced axes are the innermost ones (after
         * simplification, usually one loop); otherwise the output is initialized and
         * accumulated in memory, with the kept axes inside, which vectorizes over them. */
        int split = n->rank;
        while (split > 0 && n->reduced[split - 1])
            split--;
        bool suffix = true;
        for (int d = 0; d < split; d++)
            suffix = suffix && !n->reduced[d];
        if (suffix) {
            k.split = split;
            k.acc = LLVMBuildAlloca(cg->b, cg->f32, "acc");
            emit_loops(&k, 0, split, point_reduce_suffix);
        } else {
            emit_init(&k, out_numel);
            emit_loops(&k, 0, n->rank, point_accumulate_memory);
        }
    }
    LLVMBuildRetVoid(cg->b);
    util_free(k.param);
    util_free(n->stride);
    if (ranged && !flat)
        fn = range_trampoline(cg, chunks ? chunk_name : name, fn, n->narr, limited);
    if (chunks) {
        fn = chunked_reduction(cg, name, fn, n->narr, chunks, out_numel, k.reduce, limited,
                               k.chunk ? k.chunk : 1);
        *parallel = 0;
    }
    LLVMPositionBuilderAtEnd(cg->b, caller);
    return fn;
}

LLVMValueRef cg_kernel_fused(Cg *cg, const char *name, const IrNode *node, IrNode *const *in,
                             int nin, IrNode *const *body, int nbody, int64_t *parallel,
                             int64_t *rows_len)
{
    return kernel_fused(cg, name, node, in, nin, body, nbody, false, parallel, rows_len);
}

LLVMValueRef cg_kernel_flat(Cg *cg, const char *name, const IrNode *f)
{
    int64_t parallel, rows_len;
    LLVMValueRef fn = kernel_fused(cg, name, f, f->in, f->nin, f->attr.fused.body,
                                   f->attr.fused.nbody, true, &parallel, &rows_len);
    ASSERT(rows_len == 0); /* elementwise: nothing reduces the rows */
    return fn;
}

/* ---- copies: transposes and the layout ops of layout.c ------------------------------------- */

/* Moves one 4-byte element as an integer, so f32 and i32 data (and every NaN payload)
 * are copied bit for bit. */
static void point_copy(Kernel *k)
{
    Cg *cg = k->cg;
    LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->i32, element_ptr(k, 1), "");
    LLVMSetAlignment(v, 4);
    LLVMSetAlignment(LLVMBuildStore(cg->b, v, element_ptr(k, 0)), 4);
}

static LLVMValueRef offset_ptr(Cg *cg, LLVMValueRef p, int64_t elements)
{
    if (elements == 0)
        return p;
    LLVMValueRef off = LLVMConstInt(cg->i64, (uint64_t)elements, 0);
    return LLVMBuildInBoundsGEP2(cg->b, cg->i32, p, &off, 1, "");
}

LLVMValueRef cg_kernel_copies(Cg *cg, const char *name, int nin, int64_t zero_fill,
                              const CgCopy *copies, int ncopies)
{
    LLVMValueRef fn = cg_kernel_begin(cg, name, nin + 1, false);
    LLVMValueRef out = LLVMGetParam(fn, 0);
    if (zero_fill > 0) {
        CgLoop l;
        LLVMValueRef i = cg_loop_begin(cg, &l);
        LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->i32, out, &i, 1, "");
        LLVMSetAlignment(LLVMBuildStore(cg->b, LLVMConstInt(cg->i32, 0, 0), p), 4);
        cg_loop_end(cg, &l, zero_fill);
    }
    for (int c = 0; c < ncopies; c++) {
        const CgCopy *cp = &copies[c];
        ASSERT(cp->src >= 0 && cp->src < nin && cp->rank <= IR_MAX_RANK);
        Kernel k = {.cg = cg};
        Nest *n = &k.nest;
        int64_t strides[2][IR_MAX_RANK];
        n->rank = cp->rank;
        n->narr = 2;
        n->stride = strides;
        for (int d = 0; d < cp->rank; d++) {
            n->dims[d] = cp->dims[d];
            n->reduced[d] = false;
            strides[0][d] = cp->dst_stride[d];
            strides[1][d] = cp->src_stride[d];
        }
        nest_simplify(n);
        LLVMValueRef params[2] = {offset_ptr(cg, out, cp->dst_offset),
                                  offset_ptr(cg, LLVMGetParam(fn, (unsigned)cp->src + 1),
                                             cp->src_offset)};
        k.param = params;
        emit_loops(&k, 0, n->rank, point_copy);
    }
    LLVMBuildRetVoid(cg->b);
    return fn;
}

/* Loops over the result in order (contiguous stores); the input is read with its strides
 * permuted: result axis d walks input axis perm[d]. */
LLVMValueRef cg_kernel_transpose(Cg *cg, const char *name, const IrNode *t)
{
    const IrShape *src = &t->in[0]->shape;
    Kernel k = {.cg = cg};
    Nest *n = &k.nest;
    n->rank = t->shape.rank;
    n->narr = 2;
    int64_t strides[2][IR_MAX_RANK];
    n->stride = strides;
    int64_t in_strides[IR_MAX_RANK];
    ir_contiguous_strides(src, in_strides);
    ir_contiguous_strides(&t->shape, strides[0]);
    for (int d = 0; d < n->rank; d++) {
        n->dims[d] = t->shape.dims[d];
        n->reduced[d] = false;
        strides[1][d] = in_strides[t->attr.transpose.perm[d]];
    }
    nest_simplify(n);

    LLVMValueRef fn = cg_kernel_begin(cg, name, 2, false);
    LLVMValueRef params[2] = {LLVMGetParam(fn, 0), LLVMGetParam(fn, 1)};
    k.param = params;
    emit_loops(&k, 0, n->rank, point_copy);
    LLVMBuildRetVoid(cg->b);
    return fn;
}
