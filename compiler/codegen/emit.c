/* emit.c — cg_compile: a graph after fusion becomes one LLVM module.
 *
 *   void nnc_program(void) {
 *       rt_target_cpu(AVX512);                   // the CPU compiled for (target.c)
 *       char *arena = rt_arena_new(TOTAL);       // every intermediate, one block
 *       fused_7(arena + 0, @const_1, arena + 64); // each top-level node in graph order
 *       rt_conv2d_f32(@geometry_8, arena + 64, @const_2, arena + 128); // oneDNN (nn.c)
 *       rt_print_f32(arena + 0, 2, @dims_9);
 *       ...
 *       rt_arena_release(arena);
 *   }
 *
 * Where each node's data lives is decided by plan_buffers alone, from the memory plan
 * (passes/memplan.c: buffers never live at once share arena bytes; constants are globals,
 * reshapes alias their input); the kernels are emitted by kernel.c. The module is then
 * optimized with LLVM's O3 pipeline for the host, and printed, JIT-run or emitted from
 * there. */
#include "codegen/cg_internal.h"
#include "passes/passes.h"
#include "util/util.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <string.h>

enum {
    CG_CONST_AS_FLOATS = 4096, /* larger constants are emitted as raw bytes (fast to build) */
};

/* ---- memory plan ------------------------------------------------------------------------ */

/* Gives every node whose result needs memory of its own a CG_BUFFER_ALIGN-aligned byte
 * offset into the program's one arena (offset[id]; -1 for the rest: constants, which are
 * globals, reshapes, which alias their input, and prints), and every kernel that writes
 * its slot in place that slot (in_place[id]; -1 for the rest). Returns the arena's size.
 * The offsets come from pass_memplan: buffers that are never live at once share bytes,
 * and a node's output never overlaps its inputs, as the kernels' noalias needs. */
static int64_t plan_buffers(const IrGraph *g, int64_t *offset, int *in_place)
{
    _Static_assert(MEM_ALIGN % CG_BUFFER_ALIGN == 0, "arena offsets must stay aligned");
    MemPlan plan = pass_memplan(g);
    for (int id = 0; id < g->next_id; id++)
        offset[id] = plan.slot[id].kind == MEM_ARENA ? plan.slot[id].offset : -1;
    pass_memplan_in_place(g, &plan, in_place);
    int64_t total = plan.arena_bytes;
    pass_memplan_free(&plan);
    return total;
}

/* ---- globals and runtime declarations ----------------------------------------------------- */

static LLVMValueRef add_private_constant(Cg *cg, const char *name, LLVMValueRef init,
                                         unsigned align)
{
    LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(gv, align);
    return gv;
}

/* A CONST node's values (doubles in the IR) rounded to f32, or converted to i32, as a
 * private constant. */
static LLVMValueRef emit_const(Cg *cg, const IrNode *n)
{
    int64_t count = ir_shape_numel(&n->shape);
    const double *values = n->attr.konst.values;
    char name[32];
    snprintf(name, sizeof name, "const_%d", n->id);
    LLVMValueRef init;
    if (n->dtype == IR_I32) {
        int32_t *data = util_malloc(sizeof(int32_t) * (size_t)(count ? count : 1));
        for (int64_t i = 0; i < count; i++)
            data[i] = (int32_t)values[i];
        init = LLVMConstStringInContext2(cg->ctx, (const char *)data,
                                         sizeof(int32_t) * (size_t)count, 1);
        util_free(data);
    } else if (count <= CG_CONST_AS_FLOATS) {
        LLVMValueRef *elems = util_malloc(sizeof(LLVMValueRef) * (size_t)(count ? count : 1));
        for (int64_t i = 0; i < count; i++)
            elems[i] = LLVMConstReal(cg->f32, (double)(float)values[i]);
        init = LLVMConstArray2(cg->f32, elems, (uint64_t)count);
        util_free(elems);
    } else {
        /* The host is the target, so its float layout is the target's. */
        float *data = util_malloc(sizeof(float) * (size_t)count);
        for (int64_t i = 0; i < count; i++)
            data[i] = (float)values[i];
        init = LLVMConstStringInContext2(cg->ctx, (const char *)data,
                                         sizeof(float) * (size_t)count, 1);
        util_free(data);
    }
    return add_private_constant(cg, name, init, CG_BUFFER_ALIGN);
}

typedef struct Runtime {
    LLVMTypeRef arena_new_ty, arena_release_ty, print_ty, print_i32_ty, matmul_ty;
    LLVMValueRef arena_new, arena_release, print, print_i32, matmul;
} Runtime;

/* The module's declaration of `name` (added on first use: a program's regions share it). */
static LLVMValueRef declare(Cg *cg, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                            unsigned n, LLVMTypeRef *fty)
{
    *fty = LLVMFunctionType(ret, params, n, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    return fn ? fn : LLVMAddFunction(cg->mod, name, *fty);
}

/* The nnc_rt.h functions generated code calls, with their C signatures. */
static void declare_runtime(Cg *cg, Runtime *rt)
{
    LLVMTypeRef p = cg->ptr, i32 = cg->i32, i64 = cg->i64;
    rt->arena_new = declare(cg, "rt_arena_new", p, &i64, 1, &rt->arena_new_ty);
    rt->arena_release = declare(cg, "rt_arena_release", cg->void_, &p, 1, &rt->arena_release_ty);
    LLVMTypeRef print_params[3] = {p, i32, p};
    rt->print = declare(cg, "rt_print_f32", cg->void_, print_params, 3, &rt->print_ty);
    rt->print_i32 = declare(cg, "rt_print_i32", cg->void_, print_params, 3, &rt->print_i32_ty);
    LLVMTypeRef mm_params[11] = {i64, i64, i64, i64, i32, i32, p, p, p, cg->f32, p};
    rt->matmul = declare(cg, "rt_matmul_batch_f32", cg->void_, mm_params, 11, &rt->matmul_ty);
}

/* ---- nnc_program --------------------------------------------------------------------------- */

static LLVMValueRef i64c(Cg *cg, int64_t v) { return LLVMConstInt(cg->i64, (uint64_t)v, 1); }
static LLVMValueRef i32c(Cg *cg, int32_t v) { return LLVMConstInt(cg->i32, (uint64_t)v, 1); }

/* A fused kernel from cg_kernel_fused: called directly (with limit as its last argument
 * when not NULL), or (parallel > 0) through rt_parallel_for(limit or parallel, fn, args)
 * with its pointers in a stack array. */
static void call_fused(Cg *cg, LLVMValueRef fn, int64_t parallel, LLVMValueRef out,
                       IrNode *const *in, int nin, LLVMValueRef *buf, LLVMValueRef limit);

/* fn(out, in..., [limit]) */
static void call_kernel(Cg *cg, LLVMValueRef fn, LLVMValueRef out, IrNode *const *in, int nin,
                        LLVMValueRef *buf, LLVMValueRef limit)
{
    LLVMValueRef *args = util_malloc(sizeof(LLVMValueRef) * (size_t)(nin + 2));
    args[0] = out;
    for (int i = 0; i < nin; i++)
        args[i + 1] = buf[in[i]->id];
    if (limit)
        args[nin + 1] = limit;
    LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)(nin + 1 + !!limit), "");
    util_free(args);
}

LLVMValueRef cg_rows_limit(Cg *cg, const CgEnv *env, int rows, int64_t size)
{
    ASSERT(rows > 0 && env && env->vars && env->rows_largest);
    int64_t largest = env->rows_largest[rows - 1];
    ASSERT(largest > 0 && size % largest == 0);
    LLVMTypeRef f64 = LLVMDoubleTypeInContext(cg->ctx);
    LLVMValueRef at = i64c(cg, rows - 1);
    LLVMValueRef var = LLVMBuildInBoundsGEP2(cg->b, f64, env->vars, &at, 1, "");
    LLVMValueRef r = LLVMBuildFPToSI(cg->b, LLVMBuildLoad2(cg->b, f64, var, ""), cg->i64, "rows");
    return size == largest ? r : LLVMBuildMul(cg->b, r, i64c(cg, size / largest), "");
}

void cg_parallel_for(Cg *cg, LLVMValueRef n, LLVMValueRef fn, LLVMValueRef ctx)
{
    LLVMTypeRef params[3] = {cg->i64, cg->ptr, cg->ptr};
    LLVMTypeRef fty = LLVMFunctionType(cg->void_, params, 3, 0);
    LLVMValueRef pf = LLVMGetNamedFunction(cg->mod, "rt_parallel_for");
    if (!pf)
        pf = LLVMAddFunction(cg->mod, "rt_parallel_for", fty);
    LLVMValueRef call_args[3] = {n, fn, ctx};
    LLVMBuildCall2(cg->b, fty, pf, call_args, 3, "");
}

static void call_fused(Cg *cg, LLVMValueRef fn, int64_t parallel, LLVMValueRef out,
                       IrNode *const *in, int nin, LLVMValueRef *buf, LLVMValueRef limit)
{
    if (!parallel) {
        call_kernel(cg, fn, out, in, nin, buf, limit);
        return;
    }
    LLVMTypeRef array = LLVMArrayType2(cg->ptr, (uint64_t)(nin + 1));
    LLVMValueRef args = LLVMBuildAlloca(cg->b, array, "args");
    for (int i = 0; i <= nin; i++) {
        LLVMValueRef at = i64c(cg, i);
        LLVMBuildStore(cg->b, i ? buf[in[i - 1]->id] : out,
                       LLVMBuildInBoundsGEP2(cg->b, cg->ptr, args, &at, 1, ""));
    }
    cg_parallel_for(cg, limit ? limit : i64c(cg, parallel), fn, args);
}

/* rt_random_<kind>(out, n, a, [b,] seed, counter), the runtime's generator that the
 * evaluator calls too; the returned counter is not needed (the IR carries counters). */
static void emit_random(Cg *cg, const IrNode *n, LLVMValueRef out, const CgEnv *env)
{
    const IrRandomAttr *r = &n->attr.random;
    const char *name = n->op == IR_OP_RANDOM_UNIFORM  ? "rt_random_uniform"
                       : n->op == IR_OP_RANDOM_NORMAL ? "rt_random_normal"
                                                      : "rt_random_bernoulli";
    LLVMTypeRef params[6];
    LLVMValueRef args[6];
    unsigned k = 0;
    params[k] = cg->ptr, args[k++] = out;
    params[k] = cg->i64, args[k++] = i64c(cg, ir_shape_numel(&n->shape));
    params[k] = cg->f32, args[k++] = LLVMConstReal(cg->f32, (double)(float)r->a);
    if (n->op != IR_OP_RANDOM_BERNOULLI)
        params[k] = cg->f32, args[k++] = LLVMConstReal(cg->f32, (double)(float)r->b);
    uint64_t seed = r->seed;
    LLVMValueRef counter = LLVMConstInt(cg->i64, r->counter, 0);
    if (r->run_var) {
        /* a region run many times: its own stream, from word vars[run_var - 1] (ir.h) */
        ASSERT(env && env->vars);
        LLVMTypeRef f64 = LLVMDoubleTypeInContext(cg->ctx);
        LLVMValueRef at = i64c(cg, r->run_var - 1);
        LLVMValueRef var = LLVMBuildLoad2(cg->b, f64,
                                          LLVMBuildInBoundsGEP2(cg->b, f64, env->vars, &at, 1, ""),
                                          "rng");
        seed += IR_RANDOM_RUN_BASE + r->counter;
        counter = LLVMBuildFPToUI(cg->b, var, cg->i64, "");
    }
    params[k] = cg->i64, args[k++] = LLVMConstInt(cg->i64, seed, 0);
    params[k] = cg->i64, args[k++] = counter;
    LLVMTypeRef fty = LLVMFunctionType(cg->i64, params, k, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    if (!fn)
        fn = LLVMAddFunction(cg->mod, name, fty);
    LLVMBuildCall2(cg->b, fty, fn, args, k, "");
}

/* The kernel of a FUSED node, or of a single node (its own body), and its call. */
static void call_fused_node(Cg *cg, const char *name, const IrNode *n, IrNode *const *in,
                            int nin, IrNode *const *body, int nbody, LLVMValueRef *buf,
                            const CgEnv *env)
{
    LLVMBasicBlockRef at = LLVMGetInsertBlock(cg->b);
    int64_t parallel, rows_len;
    LLVMValueRef fn = cg_kernel_fused(cg, name, n, in, nin, body, nbody, &parallel, &rows_len);
    LLVMPositionBuilderAtEnd(cg->b, at);
    LLVMValueRef limit = NULL;
    if (rows_len) { /* the domain: the reduction's input, or the result */
        const IrNode *root = body[nbody - 1];
        const IrShape *domain = ir_op_kind(root->op) == IR_KIND_REDUCE ? &root->in[0]->shape
                                                                       : &root->shape;
        limit = cg_rows_limit(cg, env, domain->rows, rows_len);
    }
    call_fused(cg, fn, parallel, buf[n->id], in, nin, buf, limit);
}

/* Emits the code of one top-level node; buf[id] holds the data pointer of every node
 * before it and receives n's. Kernels are defined on the way (which moves the builder,
 * so its position in nnc_program is restored after each). */
static void emit_node(Cg *cg, const Runtime *rt, const IrNode *n, LLVMValueRef *buf,
                      const CgEnv *env)
{
    LLVMBasicBlockRef at = LLVMGetInsertBlock(cg->b);
    char name[64];
    switch (n->op) {
    case IR_OP_CONST: buf[n->id] = emit_const(cg, n); return;
    case IR_OP_RESHAPE: buf[n->id] = buf[n->in[0]->id]; return;
    case IR_OP_TRANSPOSE: {
        snprintf(name, sizeof name, "transpose_%d", n->id);
        LLVMValueRef fn = cg_kernel_transpose(cg, name, n);
        LLVMPositionBuilderAtEnd(cg->b, at);
        call_kernel(cg, fn, buf[n->id], n->in, 1, buf, NULL);
        return;
    }
    case IR_OP_MATMUL:
    case IR_OP_MATMUL_ACC: {
        /* op(A) [M, K] @ op(B) [K, N] -> [M, N], all contiguous row-major; op transposes
         * an input marked by simplify; a stack of `batch` such products, one after the
         * other; matmul_acc adds beta * C0 (C0 is the result's own buffer when memory
         * planning put the result in C0's slot, pass_slots_in_place) */
        bool ta = n->attr.matmul.trans_a, tb = n->attr.matmul.trans_b;
        int r = n->shape.rank;
        int64_t m = n->shape.dims[r - 2], nn = n->shape.dims[r - 1];
        int64_t k = n->in[0]->shape.dims[r - (ta ? 2 : 1)];
        int64_t batch = m * nn > 0 ? ir_shape_numel(&n->shape) / (m * nn) : 0;
        /* a batch's rows (on axis 0: the stack, M, or K contracted: x^T dy): only the rows
         * the current batch has */
        const IrShape *a = &n->in[0]->shape;
        LLVMValueRef bv = i64c(cg, batch), mv = i64c(cg, m), kv = i64c(cg, k);
        if (a->rows && r > 2)
            bv = cg_rows_limit(cg, env, a->rows, batch);
        else if (a->rows && ta)
            kv = cg_rows_limit(cg, env, a->rows, k);
        else if (a->rows)
            mv = cg_rows_limit(cg, env, a->rows, m);
        bool acc = n->op == IR_OP_MATMUL_ACC;
        LLVMValueRef beta = acc ? LLVMBuildLoad2(cg->b, cg->f32, buf[n->in[3]->id], "beta")
                                : LLVMConstReal(cg->f32, 0.0);
        LLVMValueRef args[11] = {bv, mv, i64c(cg, nn), kv,
                                 i32c(cg, ta), i32c(cg, tb), buf[n->in[0]->id], buf[n->in[1]->id],
                                 buf[n->id], beta,
                                 acc ? buf[n->in[2]->id] : LLVMConstPointerNull(cg->ptr)};
        LLVMBuildCall2(cg->b, rt->matmul_ty, rt->matmul, args, 11, "");
        return;
    }
    case IR_OP_PRINT: {
        const IrShape *s = &n->in[0]->shape;
        LLVMValueRef dims = LLVMConstPointerNull(cg->ptr);
        if (s->rank > 0) {
            LLVMValueRef d[IR_MAX_RANK];
            for (int i = 0; i < s->rank; i++)
                d[i] = i64c(cg, s->dims[i]);
            snprintf(name, sizeof name, "dims_%d", n->id);
            dims = add_private_constant(cg, name, LLVMConstArray2(cg->i64, d, (uint64_t)s->rank), 8);
        }
        LLVMValueRef args[3] = {buf[n->in[0]->id], i32c(cg, s->rank), dims};
        if (n->in[0]->dtype == IR_I32)
            LLVMBuildCall2(cg->b, rt->print_i32_ty, rt->print_i32, args, 3, "");
        else
            LLVMBuildCall2(cg->b, rt->print_ty, rt->print, args, 3, "");
        return;
    }
    case IR_OP_CONCAT:
    case IR_OP_SLICE:
    case IR_OP_PAD:
    case IR_OP_UPSAMPLE2D:
    case IR_OP_GATHER:
    case IR_OP_SCATTER_ADD:
    case IR_OP_ARGMAX:
    case IR_OP_ONE_HOT: {
        snprintf(name, sizeof name, "%s_%d", ir_op_name(n->op), n->id);
        LLVMValueRef fn = cg_kernel_layout(cg, name, n);
        LLVMPositionBuilderAtEnd(cg->b, at);
        /* scatter_add of a batch's rows: only the rows the batch has; gather and one_hot
         * check the indices of those rows (layout.c, check_index) */
        const IrShape *idx = &n->in[n->op == IR_OP_GATHER ? 1 : 0]->shape;
        bool limited = n->op == IR_OP_SCATTER_ADD || n->op == IR_OP_GATHER ||
                       n->op == IR_OP_ONE_HOT;
        LLVMValueRef limit = limited && idx->rows
                                 ? cg_rows_limit(cg, env, idx->rows, ir_shape_numel(idx))
                                 : NULL;
        call_kernel(cg, fn, buf[n->id], n->in, n->nin, buf, limit);
        return;
    }
    case IR_OP_CONV2D:
    case IR_OP_CONV2D_BACKWARD_DATA:
    case IR_OP_CONV2D_BACKWARD_WEIGHTS:
    case IR_OP_MAX_POOL2D:
    case IR_OP_MAX_POOL2D_BACKWARD:
    case IR_OP_AVG_POOL2D:
    case IR_OP_AVG_POOL2D_BACKWARD: cg_emit_nn_call(cg, n, buf, env); return;
    case IR_OP_RANDOM_UNIFORM:
    case IR_OP_RANDOM_NORMAL:
    case IR_OP_RANDOM_BERNOULLI: emit_random(cg, n, buf[n->id], env); return;
    case IR_OP_FUSED: {
        snprintf(name, sizeof name, "fused_%d", n->id);
        call_fused_node(cg, name, n, n->in, n->nin, n->attr.fused.body, n->attr.fused.nbody,
                        buf, env);
        return;
    }
    case IR_OP_SLOT_LOAD:
    case IR_OP_SLOT_STORE:
    case IR_OP_SCALAR_INPUT:
    case IR_OP_SCALAR_OUTPUT: cg_emit_program_op(cg, n, buf, env); return;
    case IR_OP_GRAD: UNREACHABLE();
    default: break;
    }
    /* any other elementwise or reduce node: a kernel whose body is the node itself */
    IrOpKind kind = ir_op_kind(n->op);
    ASSERT(ir_op_is_elementwise(n->op) || kind == IR_KIND_REDUCE);
    snprintf(name, sizeof name, "%s_%d", ir_op_name(n->op), n->id);
    IrNode *self = (IrNode *)n;
    call_fused_node(cg, name, n, n->in, n->nin, &self, 1, buf, env);
}

/* Alike kernels run in blocks of this many elements of one node. The vectorized loop of a
 * flat kernel and its scalar remainder may round differently (the elementwise ops allow
 * reassociation and contraction), so which path computes an element must not depend on
 * how the work is cut among threads: each call starts at a block boundary of its node and
 * ends at one or at the node's end, and the vector step (at most 16 lanes times 8) divides
 * the block. */
enum { ALIKE_BLOCK = 4096 };

/* One run of a chain (pass_alike_chain): its r nodes, their flat kernel, and where their
 * rows of pointers (out, in0, ...: narr each) start in the chain's table. */
typedef struct ChainRun {
    IrNode *const *nodes;
    LLVMValueRef kernel;
    int narr;
    int64_t table_at;
} ChainRun;

/* `void name_group(void **table, int64_t begin, int64_t end)` over blocks [begin, end) of
 * the chain runs[0..k) of r members each, the blocks of each member after the previous
 * member's: for each member m with blocks in that range, and each such block, the flat
 * kernel of every run in turn on that block, with the run's row of the table for m. So one
 * call, or one rt_parallel_for, updates every parameter, and a later run of the chain
 * finds what an earlier one wrote of the block in cache. */
static LLVMValueRef group_function(Cg *cg, const char *name, const ChainRun *runs, int k,
                                   int r)
{
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(cg->b);
    LLVMValueRef fn = cg_range_function(cg, name, "group");
    LLVMValueRef table = LLVMGetParam(fn, 0), begin = LLVMGetParam(fn, 1);
    LLVMValueRef end = LLVMGetParam(fn, 2);
    int most = 0;
    for (int t = 0; t < k; t++)
        most = runs[t].narr > most ? runs[t].narr : most;
    /* each run's pointers for the current member, and one call's arguments */
    LLVMValueRef *ptrs = util_malloc(sizeof(LLVMValueRef) * (size_t)(k * most));
    LLVMValueRef *call = util_malloc(sizeof(LLVMValueRef) * (size_t)(most + 2));
    int64_t offset = 0; /* in blocks */
    for (int m = 0; m < r; m++) {
        int64_t count = ir_shape_numel(&runs[0].nodes[m]->shape);
        int64_t blocks = (count + ALIKE_BLOCK - 1) / ALIKE_BLOCK;
        LLVMValueRef lo_m = i64c(cg, offset), hi_m = i64c(cg, offset + blocks);
        LLVMValueRef lo = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, begin, lo_m, ""),
                                          begin, lo_m, "lo");
        LLVMValueRef hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, end, hi_m, ""),
                                          end, hi_m, "hi");
        LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "member");
        LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, fn, "block");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(cg->ctx, fn, "next");
        LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, lo, hi, ""), entry, next);
        LLVMPositionBuilderAtEnd(cg->b, entry);
        for (int t = 0; t < k; t++)
            for (int a = 0; a < runs[t].narr; a++) {
                LLVMValueRef at = i64c(cg, runs[t].table_at + (int64_t)m * runs[t].narr + a);
                ptrs[t * most + a] = LLVMBuildLoad2(
                    cg->b, cg->ptr, LLVMBuildInBoundsGEP2(cg->b, cg->ptr, table, &at, 1, ""), "");
            }
        LLVMBuildBr(cg->b, body);
        LLVMPositionBuilderAtEnd(cg->b, body);
        LLVMValueRef b = LLVMBuildPhi(cg->b, cg->i64, "b");
        LLVMValueRef first = LLVMBuildMul(cg->b, LLVMBuildSub(cg->b, b, lo_m, ""),
                                          i64c(cg, ALIKE_BLOCK), "");
        LLVMValueRef last = LLVMBuildAdd(cg->b, first, i64c(cg, ALIKE_BLOCK), "");
        LLVMValueRef whole = i64c(cg, count);
        last = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, last, whole, ""), last,
                               whole, "");
        for (int t = 0; t < k; t++) {
            call[0] = first;
            call[1] = last;
            memcpy(call + 2, ptrs + t * most, sizeof(LLVMValueRef) * (size_t)runs[t].narr);
            LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(runs[t].kernel), runs[t].kernel, call,
                           (unsigned)(runs[t].narr + 2), "");
        }
        LLVMValueRef b_next = LLVMBuildAdd(cg->b, b, i64c(cg, 1), "");
        LLVMValueRef phi_values[2] = {lo, b_next};
        LLVMBasicBlockRef phi_blocks[2] = {entry, body};
        LLVMAddIncoming(b, phi_values, phi_blocks, 2);
        LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, b_next, hi, ""), body, next);
        LLVMPositionBuilderAtEnd(cg->b, next);
        offset += blocks;
    }
    LLVMBuildRetVoid(cg->b);
    util_free(call);
    util_free(ptrs);
    LLVMPositionBuilderAtEnd(cg->b, saved);
    return fn;
}

/* The chain of k runs of r alike nodes each at run[0..k * r) (pass_alike_chain; buffers in
 * buf) as one kernel: one function for all, one call, or one rt_parallel_for over their
 * blocks when they have CG_PARALLEL_POINTS elements or more. */
static void emit_alike_chain(Cg *cg, IrNode *const *run, int k, int r, LLVMValueRef *buf)
{
    char name[48];
    snprintf(name, sizeof name, "fused_%d", run[0]->id);
    ChainRun *runs = util_malloc(sizeof(ChainRun) * (size_t)k);
    int64_t rows = 0;
    for (int t = 0; t < k; t++) {
        IrNode *const *nodes = run + (ptrdiff_t)t * r;
        char kernel[48];
        snprintf(kernel, sizeof kernel, "fused_%d", nodes[0]->id);
        runs[t] = (ChainRun){nodes, cg_kernel_flat(cg, kernel, nodes[0]), nodes[0]->nin + 1, rows};
        rows += (int64_t)r * runs[t].narr;
    }
    LLVMValueRef group = group_function(cg, name, runs, k, r);
    LLVMValueRef table = LLVMBuildAlloca(cg->b, LLVMArrayType2(cg->ptr, (uint64_t)rows), "table");
    for (int t = 0; t < k; t++)
        for (int m = 0; m < r; m++) {
            const IrNode *n = runs[t].nodes[m];
            for (int a = 0; a < runs[t].narr; a++) {
                LLVMValueRef at = i64c(cg, runs[t].table_at + (int64_t)m * runs[t].narr + a);
                LLVMBuildStore(cg->b, a ? buf[n->in[a - 1]->id] : buf[n->id],
                               LLVMBuildInBoundsGEP2(cg->b, cg->ptr, table, &at, 1, ""));
            }
        }
    int64_t total = 0, blocks = 0;
    for (int m = 0; m < r; m++) {
        total += ir_shape_numel(&run[m]->shape) * k;
        blocks += (ir_shape_numel(&run[m]->shape) + ALIKE_BLOCK - 1) / ALIKE_BLOCK;
    }
    util_free(runs);
    LLVMValueRef args[3] = {table, i64c(cg, 0), i64c(cg, blocks)};
    if (total < CG_PARALLEL_POINTS || blocks < 2) {
        LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(group), group, args, 3, "");
        return;
    }
    cg_parallel_for(cg, i64c(cg, blocks), group, table);
}

int64_t cg_plan_graph(const IrGraph *g, int64_t *offset, int *in_place)
{
    return plan_buffers(g, offset, in_place);
}

void cg_emit_graph(Cg *cg, const IrGraph *g, const int64_t *offset, const int *in_place,
                   LLVMValueRef arena, const CgEnv *env)
{
    Runtime rt;
    declare_runtime(cg, &rt);
    LLVMValueRef *buf = util_malloc(sizeof(LLVMValueRef) * (size_t)(g->next_id + 1));
    memset(buf, 0, sizeof(LLVMValueRef) * (size_t)(g->next_id + 1));
    bool *blocked = cg_blocked_layouts(g);
    cg->blocked = blocked;
    bool stored = false;
    for (int i = 0; i < g->len; i++) {
        const IrNode *n = g->nodes[i];
        ASSERT(n->dtype == IR_F32 || n->dtype == IR_I32); /* both 4 bytes */
        if (n->op == IR_OP_SLOT_STORE && !stored) {
            cg_emit_slot_snapshots(cg, g, i, buf, env);
            stored = true;
        }
        if (n->op == IR_OP_SLOT_STORE && in_place[n->in[0]->id] == n->attr.io.index)
            continue; /* its kernel wrote the slot */
        int r = pass_alike_run(g, i), len = pass_alike_chain(g, i, in_place);
        for (int m = i; m < i + len; m++) {
            const IrNode *x = g->nodes[m];
            if (in_place[x->id] >= 0)
                buf[x->id] = cg_slot_pointer(cg, env, in_place[x->id]);
            else if (offset[x->id] >= 0) {
                LLVMValueRef off = i64c(cg, offset[x->id]);
                char name[32];
                snprintf(name, sizeof name, "t%d", x->id);
                buf[x->id] = LLVMBuildInBoundsGEP2(cg->b, LLVMInt8TypeInContext(cg->ctx),
                                                   arena, &off, 1, name);
            }
        }
        if (r > 1) {
            emit_alike_chain(cg, g->nodes + i, len / r, r, buf);
            i += len - 1;
        } else {
            emit_node(cg, &rt, n, buf, env);
        }
    }
    cg->blocked = NULL;
    util_free(blocked);
    util_free(buf);
}

static bool has_slots(const IrGraph *g)
{
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i]->op == IR_OP_SLOT_LOAD || g->nodes[i]->op == IR_OP_SLOT_STORE)
            return true;
    return false;
}

static void emit_program(Cg *cg, const IrGraph *g)
{
    Runtime rt;
    declare_runtime(cg, &rt);
    LLVMTypeRef fty = LLVMFunctionType(cg->void_, NULL, 0, 0);
    LLVMValueRef fn = LLVMAddFunction(cg->mod, "nnc_program", fty);
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
    cg_emit_target_call(cg);

    int64_t *offset = util_malloc(sizeof(int64_t) * (size_t)(g->next_id + 1));
    int *in_place = util_malloc(sizeof(int) * (size_t)(g->next_id + 1));
    int64_t total = cg_plan_graph(g, offset, in_place);
    total = (total + CG_BUFFER_ALIGN - 1) / CG_BUFFER_ALIGN * CG_BUFFER_ALIGN;
    int64_t scratch = cg_slot_scratch_bytes(g);
    LLVMValueRef size = i64c(cg, total + scratch);
    LLVMValueRef arena = LLVMBuildCall2(cg->b, rt.arena_new_ty, rt.arena_new, &size, 1, "arena");
    /* A REPL entry's graph reads and writes the session's tensors as slots, through the
     * slot table the REPL keeps in the process (compiler/repl/repl.c). */
    CgEnv env = {0};
    if (has_slots(g)) {
        LLVMValueRef table = LLVMGetNamedGlobal(cg->mod, "nnc_repl_slots");
        if (!table)
            table = LLVMAddGlobal(cg->mod, cg->ptr, "nnc_repl_slots");
        LLVMValueRef off = i64c(cg, total);
        env.slot_ptrs = LLVMBuildLoad2(cg->b, cg->ptr, table, "slots");
        env.scratch = LLVMBuildInBoundsGEP2(cg->b, LLVMInt8TypeInContext(cg->ctx), arena, &off,
                                            1, "scratch");
    }
    cg_emit_graph(cg, g, offset, in_place, arena, env.slot_ptrs ? &env : NULL);
    LLVMBuildCall2(cg->b, rt.arena_release_ty, rt.arena_release, &arena, 1, "");
    LLVMBuildRetVoid(cg->b);
    util_free(in_place);
    util_free(offset);
}

/* ---- optimization and the public entry points ------------------------------------------------ */

static bool optimize(CgModule *m)
{
    char *msg = NULL;
    if (LLVMVerifyModule(m->mod, LLVMReturnStatusAction, &msg)) {
        fprintf(stderr, "nnc: internal error: invalid LLVM module: %s\n", msg);
        LLVMDisposeMessage(msg);
        return false;
    }
    LLVMDisposeMessage(msg);
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, 1);
    LLVMPassBuilderOptionsSetLoopInterleaving(opts, 1);
    LLVMPassBuilderOptionsSetLoopUnrolling(opts, 1);
    /* mergefunc first: kernels of the same code (an unrolled LSTM's 64 time steps, a
     * ResNet stage's blocks, a Transformer's layers) become one function before O3 and
     * instruction selection spend their time on each copy; ResNet-20 compiled in 20 s
     * without it, 4 s with it */
    LLVMErrorRef err = LLVMRunPasses(m->mod, "mergefunc,default<O3>", m->tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (err) {
        cg_report_error(err, "LLVM optimization failed");
        return false;
    }
    return true;
}

CgModule *cg_module_new(const char *module_name, Cg *cg, int nvals)
{
    CgModule *m = util_malloc(sizeof *m);
    *m = (CgModule){0};
    m->tm = cg_target_machine(LLVMRelocPIC, LLVMCodeModelDefault);
    if (!m->tm) {
        util_free(m);
        return NULL;
    }
    m->tsc = LLVMOrcCreateNewThreadSafeContext();
    m->ctx = LLVMOrcThreadSafeContextGetContext(m->tsc);
    m->mod = LLVMModuleCreateWithNameInContext(module_name, m->ctx);
    LLVMSetSourceFileName(m->mod, module_name, strlen(module_name));
    char *triple = LLVMGetTargetMachineTriple(m->tm);
    LLVMSetTarget(m->mod, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(m->tm);
    LLVMSetModuleDataLayout(m->mod, layout);
    LLVMDisposeTargetData(layout);

    *cg = (Cg){.ctx = m->ctx, .mod = m->mod};
    cg->b = LLVMCreateBuilderInContext(m->ctx);
    cg->f32 = LLVMFloatTypeInContext(m->ctx);
    cg->i1 = LLVMInt1TypeInContext(m->ctx);
    cg->i32 = LLVMInt32TypeInContext(m->ctx);
    cg->i64 = LLVMInt64TypeInContext(m->ctx);
    cg->ptr = LLVMPointerTypeInContext(m->ctx, 0);
    cg->void_ = LLVMVoidTypeInContext(m->ctx);
    cg->nvals = nvals;
    cg->vals = util_malloc(sizeof(LLVMValueRef) * (size_t)(nvals + 1));
    return m;
}

CgModule *cg_module_finish(CgModule *m, Cg *cg)
{
    util_free(cg->vals);
    LLVMDisposeBuilder(cg->b);
    if (!optimize(m)) {
        cg_module_free(m);
        return NULL;
    }
    return m;
}

CgModule *cg_compile(const IrGraph *g, const char *module_name)
{
    Cg cg;
    CgModule *m = cg_module_new(module_name, &cg, g->next_id);
    if (!m)
        return NULL;
    emit_program(&cg, g);
    return cg_module_finish(m, &cg);
}

void cg_module_free(CgModule *m)
{
    if (!m)
        return;
    if (m->mod)
        LLVMDisposeModule(m->mod);
    /* the context goes when its last user (this reference or a JIT's module) lets go */
    if (m->tsc)
        LLVMOrcDisposeThreadSafeContext(m->tsc);
    if (m->tm)
        LLVMDisposeTargetMachine(m->tm);
    util_free(m);
}

int cg_print_llvm(CgModule *m, FILE *out)
{
    char *text = LLVMPrintModuleToString(m->mod);
    int rc = fputs(text, out) < 0 ? 1 : 0;
    LLVMDisposeMessage(text);
    return rc;
}

/* Codegen passes rewrite the IR they run on (CodeGenPrepare), so assembly and objects are
 * made from a clone and the module stays as optimized, for the JIT and later emissions. */
LLVMMemoryBufferRef cg_emit_to_memory(CgModule *m, LLVMCodeGenFileType kind)
{
    LLVMModuleRef clone = LLVMCloneModule(m->mod);
    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(m->tm, clone, kind, &msg, &buf)) {
        fprintf(stderr, "nnc: LLVM code generation failed: %s\n", msg ? msg : "?");
        buf = NULL;
    }
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(clone);
    return buf;
}

int cg_print_asm(CgModule *m, FILE *out)
{
    LLVMMemoryBufferRef buf = cg_emit_to_memory(m, LLVMAssemblyFile);
    if (!buf)
        return 1;
    size_t size = LLVMGetBufferSize(buf);
    int rc = fwrite(LLVMGetBufferStart(buf), 1, size, out) == size ? 0 : 1;
    LLVMDisposeMemoryBuffer(buf);
    return rc;
}
