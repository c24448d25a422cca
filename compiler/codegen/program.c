/* program.c — cg_compile_program: a Prog (prog.h) becomes one LLVM module.
 *
 *   void region_k(float **slot_ptrs, double *vars, double *outs)   // one per region
 *       { char *arena = @region_arena_k; ...the region's nodes, as cg_compile's... }
 *   void nnc_program(void) {
 *       rt_target_cpu(AVX512);  // the CPU compiled for (target.c)
 *       rt_flags_reset(); rt_flag_int("epochs", 2, ...); ...;
 *       rt_flags_allow_checkpoints(why_not, why_no_steps); rt_flags_parse_command_line();
 *       vars = rt_arena_new(...); outs = ...;  vars[setting] = rt_flag_get_int("epochs");
 *       rt_memory_check(parameters, optimizer state, other slots, arenas, data);
 *       block = rt_arena_new(slot bytes); slot_ptrs[k] = block + offset_k;
 *       state[] = RtTensorViews of the training loop's vars and slots (prog_checkpoint_plan)
 *       @region_arena_k = rt_arena_new(plan + snapshots);
 *       data_i = rt_dataset_fashion_mnist(...) ...;
 *       ...the host code of p->main: loops, ifs, host scalars in vars/outs; the training
 *          loop resumes (rt_train_resume) and saves (rt_train_save) the state...
 *       free everything
 *   }
 *
 * Host scalars are doubles in the vars and outs arrays (ints exactly up to 2^53); host
 * expressions follow prog.h: comparisons, `and`, `or` and `not` give 1.0 or 0.0, a
 * condition is true when it is not 0, PX_OP_FLOOR rounds toward -inf, PX_OP_TRUNC toward 0,
 * AST_OP_MOD is the floored remainder (the sign of the divisor), and PX_OP_IDIV and
 * PX_OP_IMOD divide as 64-bit ints (emit_int_div). Every
 * alloca lives in the function's first block, so loops do not grow the stack. */
#include "ast/ast.h"
#include "codegen/cg_internal.h"
#include "passes/passes.h"
#include "prog/prog.h"
#include "util/util.h"

#include "nnc_rt.h"

#include <string.h>

enum { SLOT_ALIGN = 64 };
_Static_assert((int)RT_MAX_RANK == (int)IR_MAX_RANK, "RtTensorView.dims holds every IR shape");

typedef struct Loop {
    const ProgStmt *stmt;
    LLVMBasicBlockRef cont, brk;
    LLVMValueRef lo, hi; /* PS_FOR_RANGE: the allocas holding the bounds */
    LLVMValueRef stepped; /* PS_FOR_BATCHES with a progress loss: an i1 alloca, 1 once this
                             iteration ran the region computing it (the step), else NULL */
} Loop;

typedef struct Pg {
    Cg *cg;
    const Prog *p;
    LLVMTypeRef f64, view_ty;
    LLVMBuilderRef allocas;      /* positioned before the first block's terminator */
    LLVMValueRef slot_ptrs, vars, outs;
    LLVMValueRef *region_fns;    /* by region */
    LLVMValueRef *datasets;      /* by ProgData: RtDataset * */
    Loop *loops;
    int nloops, caploops;
    ProgCheckpoint cp;           /* what --save and --resume hold */
    LLVMValueRef state_views;    /* RtTensorView[nstate] of cp's vars, then its slots */
    int nstate;
    LLVMBasicBlockRef train_exit; /* after the training statement: where --max-steps goes */
    int64_t *rows_largest;       /* CgEnv.rows_largest */
} Pg;

static LLVMValueRef i64c(Cg *cg, int64_t v) { return LLVMConstInt(cg->i64, (uint64_t)v, 1); }
static LLVMValueRef i32c(Cg *cg, int32_t v) { return LLVMConstInt(cg->i32, (uint64_t)v, 1); }
static LLVMValueRef f64c(Pg *pg, double v) { return LLVMConstReal(pg->f64, v); }

/* Calls the runtime function `name` (declared on first use) with the given C signature. */
static LLVMValueRef call_rt(Pg *pg, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                            LLVMValueRef *args, unsigned n)
{
    Cg *cg = pg->cg;
    LLVMTypeRef fty = LLVMFunctionType(ret, params, n, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    if (!fn)
        fn = LLVMAddFunction(cg->mod, name, fty);
    return LLVMBuildCall2(cg->b, fty, fn, args, n, "");
}

static LLVMValueRef call_rt0(Pg *pg, const char *name)
{
    return call_rt(pg, name, pg->cg->void_, NULL, NULL, 0);
}

static LLVMValueRef arena_new(Pg *pg, int64_t bytes, const char *name)
{
    LLVMTypeRef p = pg->cg->i64;
    LLVMValueRef size = i64c(pg->cg, bytes > 0 ? bytes : 1);
    LLVMValueRef v = call_rt(pg, "rt_arena_new", pg->cg->ptr, &p, &size, 1);
    LLVMSetValueName2(v, name, strlen(name));
    return v;
}

static void arena_release(Pg *pg, LLVMValueRef base)
{
    LLVMTypeRef p = pg->cg->ptr;
    call_rt(pg, "rt_arena_release", pg->cg->void_, &p, &base, 1);
}

static LLVMValueRef string_ptr(Pg *pg, const char *s)
{
    return LLVMBuildGlobalStringPtr(pg->cg->b, s, "str");
}

static LLVMValueRef entry_alloca(Pg *pg, LLVMTypeRef t, const char *name)
{
    LLVMValueRef a = LLVMBuildAlloca(pg->allocas, t, name);
    LLVMSetAlignment(a, 16);
    return a;
}

/* &array[index] of 8-byte elements of type t. */
static LLVMValueRef at8(Pg *pg, LLVMValueRef array, LLVMTypeRef t, int index)
{
    LLVMValueRef off = i64c(pg->cg, index);
    return LLVMBuildInBoundsGEP2(pg->cg->b, t, array, &off, 1, "");
}

static LLVMValueRef load_var(Pg *pg, LLVMValueRef array, int index)
{
    return LLVMBuildLoad2(pg->cg->b, pg->f64, at8(pg, array, pg->f64, index), "");
}

static void store_var(Pg *pg, int index, LLVMValueRef v)
{
    LLVMBuildStore(pg->cg->b, v, at8(pg, pg->vars, pg->f64, index));
}

static LLVMValueRef slot_ptr(Pg *pg, int slot)
{
    return LLVMBuildLoad2(pg->cg->b, pg->cg->ptr, at8(pg, pg->slot_ptrs, pg->cg->ptr, slot),
                          "slot");
}

/* A private constant i64 array (dims), or a null pointer when n is 0. */
static LLVMValueRef dims_constant(Pg *pg, const IrShape *s)
{
    Cg *cg = pg->cg;
    if (s->rank == 0)
        return LLVMConstPointerNull(cg->ptr);
    LLVMValueRef d[IR_MAX_RANK];
    for (int i = 0; i < s->rank; i++)
        d[i] = i64c(cg, s->dims[i]);
    LLVMValueRef init = LLVMConstArray2(cg->i64, d, (uint64_t)s->rank);
    LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), "dims");
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetAlignment(gv, 8);
    return gv;
}

/* ---- host expressions --------------------------------------------------------------------- */

static LLVMValueRef intrinsic_f64(Pg *pg, const char *name, LLVMValueRef *args, unsigned n)
{
    Cg *cg = pg->cg;
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    ASSERT(id != 0);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, &pg->f64, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(cg->ctx, id, &pg->f64, 1);
    return LLVMBuildCall2(cg->b, fty, fn, args, n, "");
}

static LLVMValueRef bool_to_f64(Pg *pg, LLVMValueRef c)
{
    return LLVMBuildSelect(pg->cg->b, c, f64c(pg, 1.0), f64c(pg, 0.0), "");
}

static LLVMValueRef truth(Pg *pg, LLVMValueRef v)
{
    return LLVMBuildFCmp(pg->cg->b, LLVMRealUNE, v, f64c(pg, 0.0), "");
}

static LLVMBasicBlockRef new_block(Pg *pg, const char *name);

/* PX_OP_IDIV, PX_OP_IMOD (prog.h) of the int-valued doubles a and c: floor division of
 * 64-bit ints, as int_arith does it when compiling; a divisor of 0 stops the program. */
static LLVMValueRef emit_int_div(Pg *pg, const ProgExpr *e, LLVMValueRef a, LLVMValueRef c)
{
    Cg *cg = pg->cg;
    LLVMBuilderRef b = cg->b;
    LLVMValueRef x = LLVMBuildFPToSI(b, a, cg->i64, ""), y = LLVMBuildFPToSI(b, c, cg->i64, "");
    LLVMBasicBlockRef zero = new_block(pg, "div.zero"), ok = new_block(pg, "div.ok");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, y, i64c(cg, 0), ""), zero, ok);
    LLVMPositionBuilderAtEnd(b, zero);
    char msg[600];
    if (e->span.file) {
        int line, col;
        diag_line_col(e->span.file, e->span.lo, &line, &col);
        snprintf(msg, sizeof msg, "%s:%d:%d: integer division by zero", e->span.file->name, line, col);
    } else {
        snprintf(msg, sizeof msg, "integer division by zero");
    }
    LLVMTypeRef fty = LLVMFunctionType(cg->void_, &cg->ptr, 1, 1);
    LLVMValueRef fatal = LLVMGetNamedFunction(cg->mod, "rt_fatal");
    if (!fatal)
        fatal = LLVMAddFunction(cg->mod, "rt_fatal", fty);
    LLVMValueRef args[2] = {string_ptr(pg, "%s"), string_ptr(pg, msg)};
    LLVMBuildCall2(b, fty, fatal, args, 2, "");
    LLVMBuildUnreachable(b);
    LLVMPositionBuilderAtEnd(b, ok);
    /* y == -1: the quotient is -a (sdiv would trap on INT64_MIN), the remainder 0 */
    LLVMValueRef minus1 = LLVMBuildICmp(b, LLVMIntEQ, y, i64c(cg, -1), "");
    LLVMValueRef d = LLVMBuildSelect(b, minus1, i64c(cg, 1), y, "");
    LLVMValueRef q = LLVMBuildSDiv(b, x, d, ""), m = LLVMBuildSRem(b, x, d, "");
    LLVMValueRef fix = LLVMBuildAnd(
        b, LLVMBuildICmp(b, LLVMIntNE, m, i64c(cg, 0), ""),
        LLVMBuildICmp(b, LLVMIntNE, LLVMBuildICmp(b, LLVMIntSLT, m, i64c(cg, 0), ""),
                      LLVMBuildICmp(b, LLVMIntSLT, d, i64c(cg, 0), ""), ""),
        "");
    if (e->op == PX_OP_IMOD) {
        m = LLVMBuildSelect(b, fix, LLVMBuildAdd(b, m, d, ""), m, "");
        return LLVMBuildSelect(b, minus1, f64c(pg, 0.0), LLVMBuildSIToFP(b, m, pg->f64, ""), "");
    }
    q = LLVMBuildSelect(b, fix, LLVMBuildSub(b, q, i64c(cg, 1), ""), q, "");
    return LLVMBuildSelect(b, minus1, LLVMBuildFNeg(b, a, ""), LLVMBuildSIToFP(b, q, pg->f64, ""), "");
}

static LLVMValueRef emit_expr(Pg *pg, const ProgExpr *e)
{
    LLVMBuilderRef b = pg->cg->b;
    switch (e->kind) {
    case PX_CONST: return f64c(pg, e->value);
    case PX_VAR: return load_var(pg, pg->vars, e->index);
    case PX_OUT: return load_var(pg, pg->outs, e->index);
    case PX_DATA_COUNT: { /* every dataset is loaded or made before any other statement */
        LLVMValueRef ds = pg->datasets[e->index];
        LLVMValueRef n = call_rt(pg, "rt_dataset_count", pg->cg->i64, &pg->cg->ptr, &ds, 1);
        return LLVMBuildSIToFP(b, n, pg->f64, "samples");
    }
    case PX_UNARY: {
        LLVMValueRef a = emit_expr(pg, e->a);
        if (e->op == PX_OP_FLOOR)
            return intrinsic_f64(pg, "llvm.floor", &a, 1);
        if (e->op == PX_OP_TRUNC)
            return intrinsic_f64(pg, "llvm.trunc", &a, 1);
        if (e->op == AST_OP_NEG)
            return LLVMBuildFNeg(b, a, "");
        ASSERT(e->op == AST_OP_NOT);
        return bool_to_f64(pg, LLVMBuildFCmp(b, LLVMRealOEQ, a, f64c(pg, 0.0), ""));
    }
    case PX_SELECT: { /* only the side chosen is computed: the other may divide by 0 */
        LLVMValueRef cond = LLVMBuildFCmp(b, LLVMRealUNE, emit_expr(pg, e->cond), f64c(pg, 0.0), "");
        LLVMBasicBlockRef then = new_block(pg, "sel.a"), els = new_block(pg, "sel.b");
        LLVMBasicBlockRef join = new_block(pg, "sel.end");
        LLVMBuildCondBr(b, cond, then, els);
        LLVMPositionBuilderAtEnd(b, then);
        LLVMValueRef v[2];
        LLVMBasicBlockRef from[2];
        v[0] = emit_expr(pg, e->a);
        from[0] = LLVMGetInsertBlock(b);
        LLVMBuildBr(b, join);
        LLVMPositionBuilderAtEnd(b, els);
        v[1] = emit_expr(pg, e->b);
        from[1] = LLVMGetInsertBlock(b);
        LLVMBuildBr(b, join);
        LLVMPositionBuilderAtEnd(b, join);
        LLVMValueRef phi = LLVMBuildPhi(b, pg->f64, "");
        LLVMAddIncoming(phi, v, from, 2);
        return phi;
    }
    case PX_BINARY: {
        LLVMValueRef a = emit_expr(pg, e->a), c = emit_expr(pg, e->b);
        LLVMValueRef args[2] = {a, c};
        if (e->op == PX_OP_IDIV || e->op == PX_OP_IMOD)
            return emit_int_div(pg, e, a, c);
        switch ((AstOp)e->op) {
        case AST_OP_ADD: return LLVMBuildFAdd(b, a, c, "");
        case AST_OP_SUB: return LLVMBuildFSub(b, a, c, "");
        case AST_OP_MUL: return LLVMBuildFMul(b, a, c, "");
        case AST_OP_DIV: return LLVMBuildFDiv(b, a, c, "");
        case AST_OP_POW: return intrinsic_f64(pg, "llvm.pow", args, 2);
        case AST_OP_MOD: {
            /* r = fmod(a, c), moved to the divisor's sign when it is not 0 */
            LLVMValueRef r = LLVMBuildFRem(b, a, c, "");
            LLVMValueRef zero = f64c(pg, 0.0);
            LLVMValueRef fix = LLVMBuildAnd(
                b, LLVMBuildFCmp(b, LLVMRealONE, r, zero, ""),
                LLVMBuildICmp(b, LLVMIntNE, LLVMBuildFCmp(b, LLVMRealOLT, r, zero, ""),
                              LLVMBuildFCmp(b, LLVMRealOLT, c, zero, ""), ""),
                "");
            return LLVMBuildSelect(b, fix, LLVMBuildFAdd(b, r, c, ""), r, "");
        }
        case AST_OP_EQ: return bool_to_f64(pg, LLVMBuildFCmp(b, LLVMRealOEQ, a, c, ""));
        case AST_OP_NE: return bool_to_f64(pg, LLVMBuildFCmp(b, LLVMRealUNE, a, c, ""));
        case AST_OP_LT: return bool_to_f64(pg, LLVMBuildFCmp(b, LLVMRealOLT, a, c, ""));
        case AST_OP_LE: return bool_to_f64(pg, LLVMBuildFCmp(b, LLVMRealOLE, a, c, ""));
        case AST_OP_GT: return bool_to_f64(pg, LLVMBuildFCmp(b, LLVMRealOGT, a, c, ""));
        case AST_OP_GE: return bool_to_f64(pg, LLVMBuildFCmp(b, LLVMRealOGE, a, c, ""));
        case AST_OP_AND: return bool_to_f64(pg, LLVMBuildAnd(b, truth(pg, a), truth(pg, c), ""));
        case AST_OP_OR: return bool_to_f64(pg, LLVMBuildOr(b, truth(pg, a), truth(pg, c), ""));
        default: UNREACHABLE();
        }
    }
    }
    UNREACHABLE();
}

/* ---- host statements ------------------------------------------------------------------------ */

static LLVMBasicBlockRef new_block(Pg *pg, const char *name)
{
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(pg->cg->b));
    return LLVMAppendBasicBlockInContext(pg->cg->ctx, fn, name);
}

static void push_loop(Pg *pg, const ProgStmt *s, LLVMBasicBlockRef cont, LLVMBasicBlockRef brk,
                      LLVMValueRef lo, LLVMValueRef hi)
{
    if (pg->nloops == pg->caploops) {
        pg->caploops = pg->caploops ? pg->caploops * 2 : 8;
        pg->loops = util_realloc(pg->loops, sizeof(Loop) * (size_t)pg->caploops);
    }
    pg->loops[pg->nloops++] = (Loop){s, cont, brk, lo, hi, NULL};
}

static void emit_block(Pg *pg, const ProgBlock *b);
static void emit_stmts(Pg *pg, const ProgBlock *b, int from, int to);

/* After region g ran: the loops over batches whose progress loss it computes ran their
 * step in this iteration (Loop.stepped). */
static void mark_stepped(Pg *pg, const IrGraph *g)
{
    for (int i = 0; i < pg->nloops; i++) {
        const Loop *l = &pg->loops[i];
        if (!l->stepped)
            continue;
        for (int k = 0; k < g->len; k++)
            if (g->nodes[k]->op == IR_OP_SCALAR_OUTPUT && g->nodes[k]->attr.io.index == l->stmt->loss_out)
                LLVMBuildStore(pg->cg->b, LLVMConstInt(pg->cg->i1, 1, 0), l->stepped);
    }
}

/* rt_train_resume of the state views: 0 (no --resume), 1 (the file ends an epoch) or 2
 * (it was saved inside one), as an i32. */
static LLVMValueRef emit_resume(Pg *pg)
{
    Cg *cg = pg->cg;
    LLVMTypeRef params[2] = {cg->ptr, cg->i32};
    LLVMValueRef args[2] = {pg->state_views, i32c(cg, pg->nstate)};
    return call_rt(pg, "rt_train_resume", cg->i32, params, args, 2);
}

/* A runtime predicate returning i32 (rt_train_resuming, rt_train_stopped), as an i1. */
static LLVMValueRef emit_rt_true(Pg *pg, const char *fn)
{
    LLVMValueRef v = call_rt(pg, fn, pg->cg->i32, NULL, NULL, 0);
    return LLVMBuildICmp(pg->cg->b, LLVMIntNE, v, i32c(pg->cg, 0), "");
}

/* The epoch recorded in a checkpoint: the training loop's variable (0 for a loop over
 * batches alone), as an i64. */
static LLVMValueRef training_epoch(Pg *pg)
{
    const ProgStmt *training = pg->p->main.items[pg->cp.stmt];
    if (training->kind != PS_FOR_RANGE)
        return i64c(pg->cg, 0);
    return LLVMBuildFPToSI(pg->cg->b, load_var(pg, pg->vars, training->index), pg->cg->i64, "");
}

/* rt_train_save of the state views (nothing happens without --save). */
static void emit_save_state(Pg *pg, LLVMValueRef epoch)
{
    Cg *cg = pg->cg;
    LLVMTypeRef params[3] = {cg->ptr, cg->i32, cg->i64};
    LLVMValueRef args[3] = {pg->state_views, i32c(cg, pg->nstate), epoch};
    call_rt(pg, "rt_train_save", cg->void_, params, args, 3);
}

/* Branches to `to` and continues in a fresh block no edge reaches (the statements after a
 * break or continue). */
static void jump_away(Pg *pg, LLVMBasicBlockRef to)
{
    LLVMBuildBr(pg->cg->b, to);
    LLVMPositionBuilderAtEnd(pg->cg->b, new_block(pg, "dead"));
}

/* A loop over a range. The training loop (checkpointed) also saves the state at the end of
 * every iteration, and with --resume starts after the saved iteration, or, with
 * --eval-only, runs just the saved iteration's evaluation (its body from cp.eval_from). */
static void emit_for_range(Pg *pg, const ProgStmt *s, bool checkpointed)
{
    LLVMBuilderRef b = pg->cg->b;
    LLVMValueRef lo = entry_alloca(pg, pg->f64, "lo"), hi = entry_alloca(pg, pg->f64, "hi");
    LLVMBuildStore(b, emit_expr(pg, s->lo), lo);
    LLVMBuildStore(b, emit_expr(pg, s->hi), hi);
    store_var(pg, s->index, LLVMBuildLoad2(b, pg->f64, lo, ""));
    LLVMBasicBlockRef header = new_block(pg, "for"), body = new_block(pg, "for.body");
    LLVMBasicBlockRef latch = new_block(pg, "for.next"), exit = new_block(pg, "for.end");
    if (checkpointed) {
        LLVMBasicBlockRef resume = new_block(pg, "resume"), next = new_block(pg, "resume.next");
        LLVMBasicBlockRef evaluate = new_block(pg, "evaluate");
        LLVMValueRef resumed = emit_resume(pg);
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, resumed, i32c(pg->cg, 0), ""), resume,
                        header);
        LLVMPositionBuilderAtEnd(b, resume);
        LLVMValueRef name = string_ptr(pg, "eval-only");
        LLVMValueRef eval_only = call_rt(pg, "rt_flag_get_bool", pg->cg->i32, &pg->cg->ptr, &name, 1);
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, eval_only, i32c(pg->cg, 0), ""), evaluate,
                        next);
        LLVMPositionBuilderAtEnd(b, evaluate);
        push_loop(pg, s, exit, exit, lo, hi);
        emit_stmts(pg, &s->body, pg->cp.eval_from, s->body.len);
        pg->nloops--;
        LLVMBuildBr(b, exit);
        /* saved at the end of the iteration: go on after it; inside it: go on in it */
        LLVMPositionBuilderAtEnd(b, next);
        LLVMBasicBlockRef after = new_block(pg, "resume.after");
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, resumed, i32c(pg->cg, 1), ""), after,
                        header);
        LLVMPositionBuilderAtEnd(b, after);
        store_var(pg, s->index, LLVMBuildFAdd(b, load_var(pg, pg->vars, s->index), f64c(pg, 1.0), ""));
        pg->train_exit = exit;
    }
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, header);
    LLVMValueRef more = LLVMBuildFCmp(b, LLVMRealOLT, load_var(pg, pg->vars, s->index),
                                      LLVMBuildLoad2(b, pg->f64, hi, ""), "");
    LLVMBuildCondBr(b, more, body, exit);
    LLVMPositionBuilderAtEnd(b, body);
    push_loop(pg, s, latch, exit, lo, hi);
    if (checkpointed && pg->cp.batch_item >= 0) {
        /* resumed inside an iteration: its statements before the batch loop ran before the
         * save (their results are state), so it starts at the batch loop */
        LLVMBasicBlockRef before = new_block(pg, "epoch.start");
        LLVMBasicBlockRef batches = new_block(pg, "epoch.batches");
        LLVMBuildCondBr(b, emit_rt_true(pg, "rt_train_resuming"), batches, before);
        LLVMPositionBuilderAtEnd(b, before);
        emit_stmts(pg, &s->body, 0, pg->cp.batch_item);
        LLVMBuildBr(b, batches);
        LLVMPositionBuilderAtEnd(b, batches);
        emit_stmts(pg, &s->body, pg->cp.batch_item, s->body.len);
    } else {
        emit_block(pg, &s->body);
    }
    pg->nloops--;
    LLVMBuildBr(b, latch);
    LLVMPositionBuilderAtEnd(b, latch);
    if (checkpointed)
        emit_save_state(pg, LLVMBuildFPToSI(b, load_var(pg, pg->vars, s->index), pg->cg->i64, ""));
    store_var(pg, s->index, LLVMBuildFAdd(b, load_var(pg, pg->vars, s->index), f64c(pg, 1.0), ""));
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, exit);
}

static void emit_while(Pg *pg, const ProgStmt *s)
{
    LLVMBuilderRef b = pg->cg->b;
    LLVMBasicBlockRef header = new_block(pg, "while"), body = new_block(pg, "while.body");
    LLVMBasicBlockRef exit = new_block(pg, "while.end");
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, header);
    LLVMBuildCondBr(b, truth(pg, emit_expr(pg, s->cond)), body, exit);
    LLVMPositionBuilderAtEnd(b, body);
    push_loop(pg, s, header, exit, NULL, NULL);
    emit_block(pg, &s->body);
    pg->nloops--;
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, exit);
}

static void emit_if(Pg *pg, const ProgStmt *s)
{
    LLVMBuilderRef b = pg->cg->b;
    LLVMBasicBlockRef then = new_block(pg, "then"), orelse = new_block(pg, "else");
    LLVMBasicBlockRef merge = new_block(pg, "endif");
    LLVMBuildCondBr(b, truth(pg, emit_expr(pg, s->cond)), then, orelse);
    LLVMPositionBuilderAtEnd(b, then);
    emit_block(pg, &s->body);
    LLVMBuildBr(b, merge);
    LLVMPositionBuilderAtEnd(b, orelse);
    emit_block(pg, &s->orelse);
    LLVMBuildBr(b, merge);
    LLVMPositionBuilderAtEnd(b, merge);
}

/* The epoch and the number of epochs for the progress line ("epoch 3/10"): counted from 1
 * over the enclosing loop on the epoch variable, else 1 of 1. */
static void progress_epoch(Pg *pg, const ProgStmt *s, LLVMValueRef *epoch, LLVMValueRef *epochs)
{
    Cg *cg = pg->cg;
    LLVMBuilderRef b = cg->b;
    *epoch = *epochs = i64c(cg, 1);
    for (int i = pg->nloops - 1; i >= 0 && s->epoch_var >= 0; i--) {
        const Loop *l = &pg->loops[i];
        if (l->stmt->kind != PS_FOR_RANGE || l->stmt->index != s->epoch_var)
            continue;
        LLVMValueRef lo = LLVMBuildLoad2(b, pg->f64, l->lo, "");
        LLVMValueRef hi = LLVMBuildLoad2(b, pg->f64, l->hi, "");
        LLVMValueRef at = LLVMBuildFSub(b, load_var(pg, pg->vars, s->epoch_var), lo, "");
        *epoch = LLVMBuildAdd(b, LLVMBuildFPToSI(b, at, cg->i64, ""), i64c(cg, 1), "");
        *epochs = LLVMBuildFPToSI(b, LLVMBuildFSub(b, hi, lo, ""), cg->i64, "");
        return;
    }
}

/* The progress line's count of one iteration of the loop over batches s: its step's loss,
 * or a tick when it has none. */
static void emit_batch_step(Pg *pg, const ProgStmt *s)
{
    if (s->loss_out >= 0) {
        LLVMTypeRef step_params[2] = {pg->f64, pg->f64};
        LLVMValueRef step_args[2] = {load_var(pg, pg->outs, s->loss_out), f64c(pg, 0.0)};
        call_rt(pg, "rt_progress_step", pg->cg->void_, step_params, step_args, 2);
    } else {
        call_rt0(pg, "rt_progress_tick");
    }
}

/* rt_train_step: counts the step of the training batch loop; maybe saves, or stops
 * (--save-every, --max-steps). Its i32 result is 1 to stop. */
static LLVMValueRef emit_train_step(Pg *pg, LLVMValueRef it)
{
    Cg *cg = pg->cg;
    LLVMTypeRef step_params[4] = {cg->ptr, cg->i32, cg->i64, cg->ptr};
    LLVMValueRef step_args[4] = {pg->state_views, i32c(cg, pg->nstate), training_epoch(pg), it};
    return call_rt(pg, "rt_train_step", cg->i32, step_params, step_args, 4);
}

static void emit_for_batches(Pg *pg, const ProgStmt *s)
{
    Cg *cg = pg->cg;
    LLVMBuilderRef b = cg->b;
    const Prog *p = pg->p;
    const ProgData *d = &p->datas[s->index];
    /* The slots hold [batch, sample], all of it with drop_last (every batch is full), the
     * first rows when the last batch is smaller (the batch's rows: IrShape.rows). */
    ASSERT(s->x_slot >= 0 && s->batch > 0);
    bool drop_last = !p->slots[s->x_slot].shape.rows;
    ASSERT(ir_shape_numel(&p->slots[s->x_slot].shape) == s->batch * ir_shape_numel(&d->x_shape));
    ASSERT(s->y_slot < 0 ||
           ir_shape_numel(&p->slots[s->y_slot].shape) == s->batch * ir_shape_numel(&d->y_shape));

    /* no seed named in the program: the run's (--seed) */
    LLVMValueRef seed = s->expr ? LLVMBuildFPToUI(b, emit_expr(pg, s->expr), cg->i64, "seed")
                                : call_rt(pg, "rt_run_seed", cg->i64, NULL, NULL, 0);
    LLVMValueRef epoch = s->epoch_var >= 0
                             ? LLVMBuildFPToSI(b, load_var(pg, pg->vars, s->epoch_var), cg->i64, "epoch")
                             : i64c(cg, 0);
    LLVMTypeRef begin_params[6] = {cg->ptr, cg->i64, cg->i32, cg->i32, cg->i64, cg->i64};
    LLVMValueRef size = i64c(cg, s->batch); /* a bounded setting's at most (rt_setting_bounded) */
    if (!drop_last && s->size)
        size = LLVMBuildFPToSI(b, emit_expr(pg, s->size), cg->i64, "batch");
    LLVMValueRef begin_args[6] = {pg->datasets[s->index], size,
                                  i32c(cg, s->shuffle), i32c(cg, drop_last), seed, epoch};
    LLVMValueRef it = call_rt(pg, "rt_batches_begin", cg->ptr, begin_params, begin_args, 6);
    LLVMValueRef steps = call_rt(pg, "rt_batches_count", cg->i64, &cg->ptr, &it, 1);
    LLVMValueRef shown, epochs;
    progress_epoch(pg, s, &shown, &epochs);
    LLVMTypeRef prog_params[4] = {cg->i64, cg->i64, cg->i64, cg->ptr};
    LLVMValueRef prog_args[4] = {shown, epochs, steps, LLVMConstPointerNull(cg->ptr)};
    call_rt(pg, "rt_progress_begin", cg->void_, prog_params, prog_args, 4);
    bool counted = prog_counts_steps(pg->p, &pg->cp, s);
    if (counted) /* a resumed epoch continues at the saved batch */
        call_rt(pg, "rt_train_batches", cg->void_, &cg->ptr, &it, 1);
    LLVMValueRef x = slot_ptr(pg, s->x_slot);
    LLVMValueRef y = s->y_slot >= 0 ? slot_ptr(pg, s->y_slot) : LLVMConstPointerNull(cg->ptr);

    LLVMBasicBlockRef header = new_block(pg, "batch"), body = new_block(pg, "batch.body");
    LLVMBasicBlockRef latch = new_block(pg, "batch.next"), exit = new_block(pg, "batch.end");
    LLVMBasicBlockRef brk = new_block(pg, "batch.break");
    LLVMValueRef stepped = s->loss_out >= 0 ? entry_alloca(pg, cg->i1, "stepped") : NULL;
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, header);
    LLVMTypeRef next_params[3] = {cg->ptr, cg->ptr, cg->ptr};
    LLVMValueRef next_args[3] = {it, x, y};
    LLVMValueRef got = call_rt(pg, "rt_batches_next", cg->i64, next_params, next_args, 3);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, got, i64c(cg, 0), ""), body, exit);
    LLVMPositionBuilderAtEnd(b, body);
    if (s->rows_var >= 0)
        store_var(pg, s->rows_var, LLVMBuildSIToFP(b, got, pg->f64, "rows"));
    if (stepped)
        LLVMBuildStore(b, LLVMConstInt(cg->i1, 0, 0), stepped);
    push_loop(pg, s, latch, brk, NULL, NULL);
    pg->loops[pg->nloops - 1].stepped = stepped;
    emit_block(pg, &s->body);
    pg->nloops--;
    LLVMBuildBr(b, latch);
    LLVMPositionBuilderAtEnd(b, latch);
    if (stepped) { /* an iteration left by continue before the step is no step */
        LLVMBasicBlockRef step = new_block(pg, "batch.step");
        LLVMBuildCondBr(b, LLVMBuildLoad2(b, cg->i1, stepped, ""), step, header);
        LLVMPositionBuilderAtEnd(b, step);
    }
    emit_batch_step(pg, s);
    if (counted) {
        LLVMValueRef stop = emit_train_step(pg, it);
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntNE, stop, i32c(cg, 0), ""), exit, header);
    } else {
        LLVMBuildBr(b, header);
    }
    /* A break: the iteration counts as a step when it ran the step (a break before it does
     * not). Its checkpoint, if --save-every or --max-steps writes one, is at the end of
     * the epoch's batches, so a resumed run goes on after the loop, as this one does. */
    LLVMPositionBuilderAtEnd(b, brk);
    if (stepped) {
        LLVMBasicBlockRef count = new_block(pg, "batch.break.step");
        LLVMValueRef ran = LLVMBuildLoad2(b, cg->i1, stepped, "");
        LLVMBuildCondBr(b, ran, count, exit);
        LLVMPositionBuilderAtEnd(b, count);
        emit_batch_step(pg, s);
        if (counted) {
            LLVMTypeRef seek_params[2] = {cg->ptr, cg->i64};
            LLVMValueRef seek_args[2] = {it, steps};
            call_rt(pg, "rt_batches_seek", cg->void_, seek_params, seek_args, 2);
            emit_train_step(pg, it);
        }
    } else {
        call_rt0(pg, "rt_progress_tick");
    }
    LLVMBuildBr(b, exit);
    LLVMPositionBuilderAtEnd(b, exit); /* the end of the epoch, or a break */
    call_rt0(pg, "rt_progress_end");
    call_rt(pg, "rt_batches_end", cg->void_, &cg->ptr, &it, 1);
    if (counted) {
        LLVMBasicBlockRef go_on = new_block(pg, "batch.after");
        LLVMBuildCondBr(b, emit_rt_true(pg, "rt_train_stopped"), pg->train_exit, go_on);
        LLVMPositionBuilderAtEnd(b, go_on);
    }
}

static void emit_log(Pg *pg, const ProgStmt *s)
{
    Cg *cg = pg->cg;
    LLVMTypeRef names_ty = LLVMArrayType2(cg->ptr, (uint64_t)s->n);
    LLVMTypeRef values_ty = LLVMArrayType2(pg->f64, (uint64_t)s->n);
    LLVMValueRef names = entry_alloca(pg, names_ty, "log.names");
    LLVMValueRef values = entry_alloca(pg, values_ty, "log.values");
    for (int i = 0; i < s->n; i++) {
        LLVMBuildStore(cg->b, string_ptr(pg, s->names[i]), at8(pg, names, cg->ptr, i));
        LLVMBuildStore(cg->b, emit_expr(pg, s->values[i]), at8(pg, values, pg->f64, i));
    }
    LLVMTypeRef params[3] = {cg->ptr, cg->ptr, cg->i32};
    LLVMValueRef args[3] = {names, values, i32c(cg, s->n)};
    call_rt(pg, "rt_log_metrics", cg->void_, params, args, 3);
}

static void emit_print(Pg *pg, const ProgStmt *s)
{
    Cg *cg = pg->cg;
    LLVMValueRef v = entry_alloca(pg, cg->f32, "print");
    LLVMBuildStore(cg->b, LLVMBuildFPTrunc(cg->b, emit_expr(pg, s->expr), cg->f32, ""), v);
    LLVMTypeRef params[3] = {cg->ptr, cg->i32, cg->ptr};
    LLVMValueRef args[3] = {v, i32c(cg, 0), LLVMConstPointerNull(cg->ptr)};
    call_rt(pg, "rt_print_f32", cg->void_, params, args, 3);
}

/* The runtime's name for a slot's or a dataset's element type (f32 or i32). */
static RtDtype rt_dtype_of(IrDType t)
{
    ASSERT(t == IR_F32 || t == IR_I32);
    return t == IR_I32 ? RT_DTYPE_I32 : RT_DTYPE_F32;
}

/* views[i] = {name, dtype, rank, dims, data, integer = 0}: nnc_rt.h's RtTensorView. */
static void set_view(Pg *pg, LLVMValueRef views, int i, const char *name, RtDtype dtype,
                     const IrShape *shape, LLVMValueRef data)
{
    Cg *cg = pg->cg;
    LLVMBuilderRef b = cg->b;
    LLVMValueRef at = i64c(cg, i);
    LLVMValueRef v = LLVMBuildInBoundsGEP2(b, pg->view_ty, views, &at, 1, "view");
    LLVMBuildStore(b, string_ptr(pg, name), LLVMBuildStructGEP2(b, pg->view_ty, v, 0, ""));
    LLVMBuildStore(b, i32c(cg, dtype), LLVMBuildStructGEP2(b, pg->view_ty, v, 1, ""));
    LLVMBuildStore(b, i32c(cg, shape->rank), LLVMBuildStructGEP2(b, pg->view_ty, v, 2, ""));
    LLVMValueRef dims = LLVMBuildStructGEP2(b, pg->view_ty, v, 3, "");
    for (int d = 0; d < IR_MAX_RANK; d++)
        LLVMBuildStore(b, i64c(cg, d < shape->rank ? shape->dims[d] : 0), at8(pg, dims, cg->i64, d));
    LLVMBuildStore(b, data, LLVMBuildStructGEP2(b, pg->view_ty, v, 4, ""));
    LLVMBuildStore(b, i32c(cg, 0), LLVMBuildStructGEP2(b, pg->view_ty, v, 5, ""));
}

/* Marks view i a host int (RtTensorView.integer): loading checks its value is one. */
static void set_view_integer(Pg *pg, LLVMValueRef views, int i)
{
    Cg *cg = pg->cg;
    LLVMValueRef at = i64c(cg, i);
    LLVMValueRef v = LLVMBuildInBoundsGEP2(cg->b, pg->view_ty, views, &at, 1, "view");
    LLVMBuildStore(cg->b, i32c(cg, 1), LLVMBuildStructGEP2(cg->b, pg->view_ty, v, 5, ""));
}

/* The file of save(net, path) / load(net, path): `path`, or the string setting's value. */
static LLVMValueRef checkpoint_path(Pg *pg, const ProgStmt *s)
{
    if (!s->path_setting)
        return string_ptr(pg, s->path);
    LLVMValueRef name = string_ptr(pg, s->path_setting);
    return call_rt(pg, "rt_flag_get_string", pg->cg->ptr, &pg->cg->ptr, &name, 1);
}

/* save(net, path) / load(net, path): an RtTensorView per listed slot. */
static void emit_checkpoint(Pg *pg, const ProgStmt *s)
{
    Cg *cg = pg->cg;
    int n = s->nslot_list;
    LLVMValueRef views = entry_alloca(pg, LLVMArrayType2(pg->view_ty, (uint64_t)(n ? n : 1)),
                                      "views");
    for (int i = 0; i < n; i++) {
        const ProgSlot *slot = &pg->p->slots[s->slot_list[i]];
        set_view(pg, views, i, s->names[i], rt_dtype_of(slot->dtype), &slot->shape,
                 slot_ptr(pg, s->slot_list[i]));
    }
    LLVMTypeRef params[4] = {cg->ptr, cg->ptr, cg->i32, cg->ptr};
    LLVMValueRef args[4] = {checkpoint_path(pg, s), views, i32c(cg, n),
                            LLVMConstPointerNull(cg->ptr)};
    call_rt(pg, s->kind == PS_SAVE ? "rt_checkpoint_save" : "rt_checkpoint_load", cg->void_,
            params, args, 4);
}

/* datas[s->n] = every sample of datas[s->index] through region s->region: a new dataset
 * filled once, sample by sample (map transforms are per sample). */
static void emit_map_data(Pg *pg, const ProgStmt *s)
{
    Cg *cg = pg->cg;
    LLVMBuilderRef b = cg->b;
    const Prog *p = pg->p;
    LLVMValueRef src = pg->datasets[s->index];
    LLVMValueRef count = call_rt(pg, "rt_dataset_count", cg->i64, &cg->ptr, &src, 1);
    const ProgSlot *xo = &p->slots[s->x_out], *yo = s->y_out >= 0 ? &p->slots[s->y_out] : NULL;
    LLVMTypeRef new_params[7] = {cg->i64, cg->i32, cg->i32, cg->ptr, cg->i32, cg->i32, cg->ptr};
    LLVMValueRef new_args[7] = {
        count, i32c(cg, rt_dtype_of(xo->dtype)), i32c(cg, xo->shape.rank),
        dims_constant(pg, &xo->shape), i32c(cg, yo ? rt_dtype_of(yo->dtype) : RT_DTYPE_I32),
        i32c(cg, yo ? yo->shape.rank : -1), yo ? dims_constant(pg, &yo->shape) : LLVMConstPointerNull(cg->ptr)};
    LLVMValueRef dst = call_rt(pg, "rt_dataset_new", cg->ptr, new_params, new_args, 7);

    LLVMValueRef i = entry_alloca(pg, cg->i64, "sample");
    LLVMBuildStore(b, i64c(cg, 0), i);
    LLVMBasicBlockRef header = new_block(pg, "map"), body = new_block(pg, "map.body");
    LLVMBasicBlockRef exit = new_block(pg, "map.end");
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, header);
    LLVMValueRef at = LLVMBuildLoad2(b, cg->i64, i, "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, at, count, ""), body, exit);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMTypeRef get_params[4] = {cg->ptr, cg->i64, cg->ptr, cg->ptr};
    LLVMValueRef get_args[4] = {src, at, slot_ptr(pg, s->x_slot),
                                s->y_slot >= 0 ? slot_ptr(pg, s->y_slot) : LLVMConstPointerNull(cg->ptr)};
    call_rt(pg, "rt_dataset_get", cg->void_, get_params, get_args, 4);
    LLVMValueRef fn = pg->region_fns[s->region];
    LLVMValueRef args[3] = {pg->slot_ptrs, pg->vars, pg->outs};
    LLVMBuildCall2(b, LLVMGlobalGetValueType(fn), fn, args, 3, "");
    LLVMValueRef set_args[4] = {dst, at, slot_ptr(pg, s->x_out),
                                s->y_out >= 0 ? slot_ptr(pg, s->y_out) : LLVMConstPointerNull(cg->ptr)};
    call_rt(pg, "rt_dataset_set", cg->void_, get_params, set_args, 4);
    if (s->rng_words) /* the next sample draws the words after these (PS_MAP_DATA) */
        store_var(pg, s->rng_var, LLVMBuildFAdd(b, load_var(pg, pg->vars, s->rng_var),
                                                f64c(pg, (double)s->rng_words), ""));
    LLVMBuildStore(b, LLVMBuildAdd(b, at, i64c(cg, 1), ""), i);
    LLVMBuildBr(b, header);
    LLVMPositionBuilderAtEnd(b, exit);
    pg->datasets[s->n] = dst;
}

/* datas[s->n] = its part of datas[s->index]; the other part is freed at once (the parts
 * share the samples with the whole, which is freed at the end). */
static void emit_split_data(Pg *pg, const ProgStmt *s)
{
    Cg *cg = pg->cg;
    const ProgData *d = &pg->p->datas[s->n];
    LLVMValueRef parts[2] = {entry_alloca(pg, cg->ptr, "first"), entry_alloca(pg, cg->ptr, "second")};
    LLVMTypeRef params[5] = {cg->ptr, pg->f64, cg->i64, cg->ptr, cg->ptr};
    LLVMValueRef args[5] = {pg->datasets[s->index], f64c(pg, d->fraction), i64c(cg, d->seed),
                            parts[0], parts[1]};
    call_rt(pg, "rt_dataset_split", cg->void_, params, args, 5);
    LLVMValueRef drop = LLVMBuildLoad2(cg->b, cg->ptr, parts[1 - d->part], "");
    call_rt(pg, "rt_dataset_free", cg->void_, &cg->ptr, &drop, 1);
    pg->datasets[s->n] = LLVMBuildLoad2(cg->b, cg->ptr, parts[d->part], "part");
}

static void emit_stmt(Pg *pg, const ProgStmt *s)
{
    Cg *cg = pg->cg;
    switch (s->kind) {
    case PS_REGION: {
        LLVMValueRef fn = pg->region_fns[s->index];
        LLVMValueRef args[3] = {pg->slot_ptrs, pg->vars, pg->outs};
        LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(fn), fn, args, 3, "");
        mark_stepped(pg, pg->p->regions.items[s->index]);
        return;
    }
    case PS_SET: store_var(pg, s->index, emit_expr(pg, s->expr)); return;
    case PS_FOR_RANGE: emit_for_range(pg, s, false); return;
    case PS_FOR_BATCHES: emit_for_batches(pg, s); return;
    case PS_WHILE: emit_while(pg, s); return;
    case PS_IF: emit_if(pg, s); return;
    case PS_BREAK:
    case PS_CONTINUE: {
        ASSERT(pg->nloops > 0);
        const Loop *l = &pg->loops[pg->nloops - 1];
        jump_away(pg, s->kind == PS_BREAK ? l->brk : l->cont);
        return;
    }
    case PS_LOG: emit_log(pg, s); return;
    case PS_PRINT: emit_print(pg, s); return;
    case PS_SAVE:
    case PS_LOAD: emit_checkpoint(pg, s); return;
    case PS_MAP_DATA: emit_map_data(pg, s); return;
    case PS_SPLIT_DATA: emit_split_data(pg, s); return;
    }
    UNREACHABLE();
}

static void emit_stmts(Pg *pg, const ProgBlock *b, int from, int to)
{
    for (int i = from; i < to; i++)
        emit_stmt(pg, b->items[i]);
}

static void emit_block(Pg *pg, const ProgBlock *b)
{
    emit_stmts(pg, b, 0, b->len);
}

/* The training statement (pg->cp.stmt): a loop over epochs is checkpointed per epoch
 * (emit_for_range); a loop over batches alone is one epoch, saved after it and skipped
 * whole by --resume of its final checkpoint and by --eval-only. Either is saved and
 * resumed inside the epoch too, and stopped by --max-steps, in its batch loop
 * (emit_for_batches). */
static void emit_training(Pg *pg, const ProgStmt *s)
{
    if (s->kind == PS_FOR_RANGE) {
        emit_for_range(pg, s, true);
        return;
    }
    ASSERT(s->kind == PS_FOR_BATCHES);
    LLVMBuilderRef b = pg->cg->b;
    LLVMBasicBlockRef train = new_block(pg, "train"), done = new_block(pg, "train.end");
    LLVMValueRef resumed = emit_resume(pg);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, resumed, i32c(pg->cg, 1), ""), done, train);
    LLVMPositionBuilderAtEnd(b, train);
    pg->train_exit = done;
    emit_for_batches(pg, s);
    emit_save_state(pg, i64c(pg->cg, 0));
    LLVMBuildBr(b, done);
    LLVMPositionBuilderAtEnd(b, done);
}

/* pg->state_views: one RtTensorView per var of the state ("$name", a rank-0 F64 view of
 * vars[k]), then per slot (its name). Filled once: the storage never moves. */
static void define_state_views(Pg *pg)
{
    const Prog *p = pg->p;
    const ProgCheckpoint *cp = &pg->cp;
    pg->nstate = cp->nvars + cp->nslots;
    pg->state_views = entry_alloca(
        pg, LLVMArrayType2(pg->view_ty, (uint64_t)(pg->nstate ? pg->nstate : 1)), "state");
    for (int i = 0; i < cp->nvars; i++) {
        char name[300];
        snprintf(name, sizeof name, "$%s", p->vars[cp->vars[i]].name);
        IrShape scalar = {.rank = 0};
        set_view(pg, pg->state_views, i, name, RT_DTYPE_F64, &scalar,
                 at8(pg, pg->vars, pg->f64, cp->vars[i]));
        if (p->vars[cp->vars[i]].is_int)
            set_view_integer(pg, pg->state_views, i);
    }
    for (int i = 0; i < cp->nslots; i++) {
        const ProgSlot *slot = &p->slots[cp->slots[i]];
        set_view(pg, pg->state_views, cp->nvars + i, slot->name, rt_dtype_of(slot->dtype),
                 &slot->shape, slot_ptr(pg, cp->slots[i]));
    }
}

/* ---- regions, state and data ---------------------------------------------------------------- */

/* Defines region_k and the global holding its arena; returns the arena's size. */
static int64_t define_region(Pg *pg, int k, LLVMValueRef *arena_global)
{
    Cg *cg = pg->cg;
    const IrGraph *g = pg->p->regions.items[k];
    char name[48];
    snprintf(name, sizeof name, "region_arena_%d", k);
    LLVMValueRef gv = LLVMAddGlobal(cg->mod, cg->ptr, name);
    LLVMSetInitializer(gv, LLVMConstPointerNull(cg->ptr));
    LLVMSetLinkage(gv, LLVMInternalLinkage);
    *arena_global = gv;

    LLVMTypeRef params[3] = {cg->ptr, cg->ptr, cg->ptr};
    snprintf(name, sizeof name, "region_%d", k);
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->void_, params, 3, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    pg->region_fns[k] = fn;

    LLVMBasicBlockRef saved = LLVMGetInsertBlock(cg->b);
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
    int64_t *offset = util_malloc(sizeof(int64_t) * (size_t)(g->next_id + 1));
    int *in_place = util_malloc(sizeof(int) * (size_t)(g->next_id + 1));
    int64_t planned = cg_plan_graph(g, offset, in_place);
    planned = (planned + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
    LLVMValueRef arena = LLVMBuildLoad2(cg->b, cg->ptr, gv, "arena");
    LLVMValueRef off = i64c(cg, planned);
    CgEnv env = {
        .slot_ptrs = LLVMGetParam(fn, 0),
        .vars = LLVMGetParam(fn, 1),
        .outs = LLVMGetParam(fn, 2),
        .scratch = LLVMBuildInBoundsGEP2(cg->b, LLVMInt8TypeInContext(cg->ctx), arena, &off, 1,
                                         "scratch"),
        .rows_largest = pg->rows_largest,
    };
    cg_emit_graph(cg, g, offset, in_place, arena, &env);
    LLVMBuildRetVoid(cg->b);
    util_free(in_place);
    util_free(offset);
    LLVMPositionBuilderAtEnd(cg->b, saved);
    return planned + cg_slot_scratch_bytes(g);
}

/* rt_check_output_path for the file of every save(net, path) in b, so that one that
 * cannot be written stops the program before it trains, not after. */
static void check_save_paths(Pg *pg, const ProgBlock *b)
{
    Cg *cg = pg->cg;
    for (int i = 0; i < b->len; i++) {
        const ProgStmt *s = b->items[i];
        if (s->kind == PS_SAVE) {
            LLVMValueRef path = checkpoint_path(pg, s);
            call_rt(pg, "rt_check_output_path", cg->void_, &cg->ptr, &path, 1);
        }
        check_save_paths(pg, &s->body);
        check_save_paths(pg, &s->orelse);
    }
}

/* Reads the command line into the settings' vars. */
static void emit_settings(Pg *pg)
{
    Cg *cg = pg->cg;
    const Prog *p = pg->p;
    call_rt0(pg, "rt_flags_reset"); /* a process may run several programs (the JIT, tests) */
    for (int i = 0; i < p->nsettings; i++) {
        const ProgSetting *st = &p->settings[i];
        LLVMValueRef name = string_ptr(pg, st->name);
        LLVMValueRef help = LLVMConstPointerNull(cg->ptr);
        if (st->text) {
            LLVMTypeRef params[3] = {cg->ptr, cg->ptr, cg->ptr};
            LLVMValueRef args[3] = {name, string_ptr(pg, st->text), help};
            call_rt(pg, "rt_flag_string", cg->void_, params, args, 3);
        } else if (st->is_bool) {
            LLVMTypeRef params[3] = {cg->ptr, cg->i32, cg->ptr};
            LLVMValueRef args[3] = {name, i32c(cg, st->dflt != 0), help};
            call_rt(pg, "rt_flag_bool", cg->void_, params, args, 3);
        } else if (st->is_int) {
            LLVMTypeRef params[4] = {cg->ptr, cg->i64, cg->i32, cg->ptr};
            RtFlagCheck check = st->bounded ? RT_FLAG_POSITIVE : RT_FLAG_ANY;
            LLVMValueRef args[4] = {name, i64c(cg, (int64_t)st->dflt), i32c(cg, check), help};
            call_rt(pg, "rt_flag_int", cg->void_, params, args, 4);
        } else {
            LLVMTypeRef params[4] = {cg->ptr, pg->f64, cg->i32, cg->ptr};
            LLVMValueRef args[4] = {name, f64c(pg, st->dflt), i32c(cg, RT_FLAG_ANY), help};
            call_rt(pg, "rt_flag_float", cg->void_, params, args, 4);
        }
    }
    LLVMValueRef why[2] = {
        pg->cp.stmt >= 0 ? LLVMConstPointerNull(cg->ptr) : string_ptr(pg, pg->cp.why),
        pg->cp.why_no_steps ? string_ptr(pg, pg->cp.why_no_steps) : LLVMConstPointerNull(cg->ptr)};
    LLVMTypeRef why_params[2] = {cg->ptr, cg->ptr};
    call_rt(pg, "rt_flags_allow_checkpoints", cg->void_, why_params, why, 2);
    call_rt0(pg, "rt_flags_parse_command_line");
    check_save_paths(pg, &p->main);
}

static void read_settings(Pg *pg)
{
    Cg *cg = pg->cg;
    const Prog *p = pg->p;
    for (int i = 0; i < p->nsettings; i++) {
        const ProgSetting *st = &p->settings[i];
        if (st->text)
            continue; /* a string setting is read where it is used */
        LLVMValueRef name = string_ptr(pg, st->name);
        LLVMValueRef v;
        if (st->is_bool)
            v = LLVMBuildSIToFP(cg->b, call_rt(pg, "rt_flag_get_bool", cg->i32, &cg->ptr, &name, 1),
                                pg->f64, "");
        else if (st->is_int)
            v = LLVMBuildSIToFP(cg->b, call_rt(pg, "rt_flag_get_int", cg->i64, &cg->ptr, &name, 1),
                                pg->f64, "");
        else
            v = call_rt(pg, "rt_flag_get_float", pg->f64, &cg->ptr, &name, 1);
        if (st->fixed) { /* its value is part of the compiled shapes */
            LLVMTypeRef params[4] = {cg->ptr, pg->f64, pg->f64, cg->ptr};
            LLVMValueRef why = st->why_full ? string_ptr(pg, st->why_full)
                                            : LLVMConstPointerNull(cg->ptr);
            LLVMValueRef args[4] = {name, f64c(pg, st->dflt), v, why};
            call_rt(pg, "rt_setting_fixed", cg->void_, params, args, 4);
        } else if (st->bounded) { /* the compiled shapes hold at most its default */
            LLVMTypeRef params[3] = {cg->ptr, pg->f64, pg->f64};
            LLVMValueRef args[3] = {name, f64c(pg, st->dflt), v};
            call_rt(pg, "rt_setting_bounded", cg->void_, params, args, 3);
        }
        store_var(pg, st->var, v);
    }
}

/* One zero-filled block for every slot, each SLOT_ALIGN-aligned; slot_ptrs[k] points into
 * it. Returns the block. */
static LLVMValueRef allocate_slots(Pg *pg)
{
    Cg *cg = pg->cg;
    const Prog *p = pg->p;
    int64_t total = 0;
    int64_t *offset = util_malloc(sizeof(int64_t) * (size_t)(p->nslots + 1));
    for (int i = 0; i < p->nslots; i++) {
        ASSERT(p->slots[i].dtype == IR_F32 || p->slots[i].dtype == IR_I32);
        offset[i] = total;
        int64_t bytes = ir_shape_numel(&p->slots[i].shape) * 4;
        total += (bytes + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
    }
    LLVMValueRef block = arena_new(pg, total, "slots");
    pg->slot_ptrs = arena_new(pg, 8 * (int64_t)p->nslots, "slot_ptrs");
    for (int i = 0; i < p->nslots; i++) {
        LLVMValueRef off = i64c(cg, offset[i]);
        LLVMValueRef ptr = LLVMBuildInBoundsGEP2(cg->b, LLVMInt8TypeInContext(cg->ctx), block,
                                                 &off, 1, p->slots[i].name);
        LLVMBuildStore(cg->b, ptr, at8(pg, pg->slot_ptrs, cg->ptr, i));
    }
    util_free(offset);
    return block;
}

static LLVMValueRef string_or_null(Pg *pg, const char *s)
{
    return s ? string_ptr(pg, s) : LLVMConstPointerNull(pg->cg->ptr);
}

/* ---- the range of a dataset's labels and ids ------------------------------------------- */

/* The dataset datas[d] is a part of (by splits), as loaded from its file; -1 for one a
 * map transform made. */
static int data_root(const Prog *p, int d)
{
    while (p->datas[d].kind == PD_SPLIT)
        d = p->datas[d].parent;
    return p->datas[d].kind == PD_MAPPED ? -1 : d;
}

/* Marks the x and y slots of every loop over batches of datas[root] or of a part of it. */
static void batch_slots(const Prog *p, const ProgBlock *b, int root, bool *x, bool *y)
{
    for (int i = 0; i < b->len; i++) {
        const ProgStmt *s = b->items[i];
        if (s->kind == PS_FOR_BATCHES && data_root(p, s->index) == root) {
            if (s->x_slot >= 0)
                x[s->x_slot] = true;
            if (s->y_slot >= 0)
                y[s->y_slot] = true;
        }
        batch_slots(p, &s->body, root, x, y);
        batch_slots(p, &s->orelse, root, x, y);
    }
}

/* The smallest bound [0, bound) that a one_hot (its depth) or a gather (its table's rows)
 * sets on the values of the marked slots, followed through the copies that keep them
 * (a reshape, a slice); 0 when none does. */
static int64_t slot_values_bound(const Prog *p, const bool *slots)
{
    int64_t bound = 0;
    for (int k = 0; k < p->regions.len; k++) {
        const IrGraph *g = p->regions.items[k];
        size_t size = sizeof(bool) * ((size_t)g->next_id + 1);
        bool *holds = memset(util_malloc(size), 0, size);
        for (int i = 0; i < g->len; i++) {
            const IrNode *n = g->nodes[i];
            int64_t here = 0;
            if (n->op == IR_OP_SLOT_LOAD) {
                holds[n->id] = slots[n->attr.io.index];
            } else if (n->op == IR_OP_RESHAPE || n->op == IR_OP_TRANSPOSE ||
                       n->op == IR_OP_BROADCAST || n->op == IR_OP_SLICE) {
                holds[n->id] = holds[n->in[0]->id];
            } else if (n->op == IR_OP_CONCAT) {
                for (int j = 0; j < n->nin; j++)
                    holds[n->id] |= holds[n->in[j]->id];
            } else if (n->op == IR_OP_ONE_HOT && holds[n->in[0]->id]) {
                here = n->attr.one_hot.depth;
            } else if (n->op == IR_OP_GATHER && holds[n->in[1]->id]) {
                here = n->in[0]->shape.dims[0];
            }
            if (here > 0 && (bound == 0 || here < bound))
                bound = here;
        }
        util_free(holds);
    }
    return bound;
}

/* rt_dataset_expect_classes for datas[i], a dataset loaded from files, when the program
 * bounds its ids or labels: each is checked when the file is read, naming the file and
 * the sample, rather than becoming a zero row (or a run-time error in the kernel that
 * meets it, far from the file: layout.c's check_index). */
static void expect_classes(Pg *pg, int i)
{
    const Prog *p = pg->p;
    size_t size = sizeof(bool) * ((size_t)p->nslots + 1);
    bool *x = memset(util_malloc(size), 0, size), *y = memset(util_malloc(size), 0, size);
    batch_slots(p, &p->main, i, x, y);
    int64_t x_bound = slot_values_bound(p, x), y_bound = slot_values_bound(p, y);
    util_free(x);
    util_free(y);
    if (x_bound == 0 && y_bound == 0)
        return;
    Cg *cg = pg->cg;
    LLVMTypeRef params[3] = {cg->ptr, cg->i64, cg->i64};
    LLVMValueRef args[3] = {pg->datasets[i], i64c(cg, x_bound), i64c(cg, y_bound)};
    call_rt(pg, "rt_dataset_expect_classes", cg->void_, params, args, 3);
}

/* Loads datas[i] at program start into pg->datasets[i]. */
static void load_data(Pg *pg, int i)
{
    Cg *cg = pg->cg;
    const ProgData *d = &pg->p->datas[i];
    LLVMValueRef rank = i32c(cg, d->x_shape.rank), dims = dims_constant(pg, &d->x_shape);
    switch (d->kind) {
    case PD_FASHION_MNIST:
    case PD_MNIST: {
        LLVMValueRef train = entry_alloca(pg, cg->ptr, "train");
        LLVMValueRef test = entry_alloca(pg, cg->ptr, "test");
        LLVMTypeRef params[5] = {cg->ptr, cg->i32, cg->ptr, cg->ptr, cg->ptr};
        LLVMValueRef args[5] = {string_or_null(pg, d->path), rank, dims, train, test};
        call_rt(pg, d->kind == PD_MNIST ? "rt_dataset_mnist" : "rt_dataset_fashion_mnist",
                cg->void_, params, args, 5);
        LLVMValueRef keep = LLVMBuildLoad2(cg->b, cg->ptr, d->test ? test : train, "data");
        LLVMValueRef drop = LLVMBuildLoad2(cg->b, cg->ptr, d->test ? train : test, "");
        call_rt(pg, "rt_dataset_free", cg->void_, &cg->ptr, &drop, 1);
        pg->datasets[i] = keep;
        expect_classes(pg, i);
        return;
    }
    case PD_IDX: {
        LLVMTypeRef params[4] = {cg->ptr, cg->ptr, cg->i32, cg->ptr};
        LLVMValueRef args[4] = {string_or_null(pg, d->path), string_or_null(pg, d->path2), rank,
                                dims};
        pg->datasets[i] = call_rt(pg, "rt_dataset_idx", cg->ptr, params, args, 4);
        expect_classes(pg, i);
        return;
    }
    case PD_CSV: {
        LLVMTypeRef params[3] = {cg->ptr, cg->i64, cg->i32};
        LLVMValueRef args[3] = {string_or_null(pg, d->path), i64c(cg, d->features),
                                i32c(cg, d->label)};
        pg->datasets[i] = call_rt(pg, "rt_dataset_csv", cg->ptr, params, args, 3);
        break;
    }
    case PD_NPY: {
        LLVMTypeRef params[2] = {cg->ptr, cg->ptr};
        LLVMValueRef args[2] = {string_or_null(pg, d->path), string_or_null(pg, d->path2)};
        pg->datasets[i] = call_rt(pg, "rt_dataset_npy", cg->ptr, params, args, 2);
        break;
    }
    case PD_TEXT: {
        LLVMTypeRef params[2] = {cg->ptr, cg->i64};
        LLVMValueRef args[2] = {string_or_null(pg, d->path), i64c(cg, d->seq)};
        pg->datasets[i] = call_rt(pg, "rt_dataset_text", cg->ptr, params, args, 2);
        if (d->vocab > 0) {
            LLVMTypeRef vocab_params[2] = {cg->ptr, cg->i32};
            LLVMValueRef vocab_args[2] = {pg->datasets[i], i32c(cg, (int)d->vocab)};
            call_rt(pg, "rt_dataset_expect_vocab", cg->void_, vocab_params, vocab_args, 2);
        }
        break;
    }
    case PD_MAPPED:
    case PD_SPLIT:
        pg->datasets[i] = NULL; /* made by its PS_MAP_DATA or PS_SPLIT_DATA statement */
        return;
    }
    /* the files' samples must be what the program was compiled for */
    LLVMTypeRef params[7] = {cg->ptr, cg->i32, cg->i32, cg->ptr, cg->i32, cg->i32, cg->ptr};
    LLVMValueRef args[7] = {pg->datasets[i], i32c(cg, rt_dtype_of(d->x_dtype)), rank, dims,
                            i32c(cg, rt_dtype_of(d->y_dtype)), i32c(cg, d->y_shape.rank),
                            dims_constant(pg, &d->y_shape)};
    call_rt(pg, "rt_dataset_expect", cg->void_, params, args, 7);
    expect_classes(pg, i);
}

/* out[var] = the batch size of the loop over batches whose rows var holds. */
static void rows_largest(const ProgBlock *b, int64_t *out)
{
    for (int i = 0; i < b->len; i++) {
        const ProgStmt *s = b->items[i];
        if (s->kind == PS_FOR_BATCHES && s->rows_var >= 0)
            out[s->rows_var] = s->batch;
        rows_largest(&s->body, out);
        rows_largest(&s->orelse, out);
    }
}

/* Before anything large is allocated: rt_memory_check with what the program holds at
 * once (the slots, the region arenas of arena_bytes[k], the data sets known by size). */
static void check_memory(Pg *pg, const int64_t *arena_bytes)
{
    Cg *cg = pg->cg;
    MemTotals t = {0};
    pass_memplan_add_prog(&t, pg->p);
    for (int k = 0; k < pg->p->regions.len; k++)
        t.activations += arena_bytes[k];
    LLVMTypeRef params[5] = {cg->i64, cg->i64, cg->i64, cg->i64, cg->i64};
    LLVMValueRef args[5] = {i64c(cg, t.parameters), i64c(cg, t.optimizer), i64c(cg, t.other),
                            i64c(cg, t.activations), i64c(cg, t.data)};
    call_rt(pg, "rt_memory_check", cg->void_, params, args, 5);
}

static void emit_nnc_program(Pg *pg)
{
    Cg *cg = pg->cg;
    const Prog *p = pg->p;
    LLVMValueRef fn = LLVMAddFunction(cg->mod, "nnc_program", LLVMFunctionType(cg->void_, NULL, 0, 0));
    LLVMBasicBlockRef allocas = LLVMAppendBasicBlockInContext(cg->ctx, fn, "allocas");
    LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(cg->ctx, fn, "start");
    LLVMPositionBuilderAtEnd(cg->b, allocas);
    LLVMValueRef to_start = LLVMBuildBr(cg->b, start);
    pg->allocas = LLVMCreateBuilderInContext(cg->ctx);
    LLVMPositionBuilderBefore(pg->allocas, to_start);
    LLVMPositionBuilderAtEnd(cg->b, start);

    cg_emit_target_call(cg);
    emit_settings(pg);
    pg->vars = arena_new(pg, 8 * (int64_t)p->nvars, "vars");
    pg->outs = arena_new(pg, 8 * (int64_t)p->nouts, "outs");
    read_settings(pg);

    pg->rows_largest = util_malloc(sizeof(int64_t) * (size_t)(p->nvars + 1));
    memset(pg->rows_largest, 0, sizeof(int64_t) * (size_t)(p->nvars + 1));
    rows_largest(&p->main, pg->rows_largest);
    int nregions = p->regions.len;
    pg->region_fns = util_malloc(sizeof(LLVMValueRef) * (size_t)(nregions + 1));
    LLVMValueRef *arena_globals = util_malloc(sizeof(LLVMValueRef) * (size_t)(nregions + 1));
    int64_t *arena_bytes = util_malloc(sizeof(int64_t) * (size_t)(nregions + 1));
    for (int k = 0; k < nregions; k++)
        arena_bytes[k] = define_region(pg, k, &arena_globals[k]);
    check_memory(pg, arena_bytes);
    LLVMValueRef slots = allocate_slots(pg);
    if (pg->cp.stmt >= 0)
        define_state_views(pg);
    for (int k = 0; k < nregions; k++)
        LLVMBuildStore(cg->b, arena_new(pg, arena_bytes[k], "region_arena"), arena_globals[k]);
    util_free(arena_bytes);
    pg->datasets = util_malloc(sizeof(LLVMValueRef) * (size_t)(p->ndatas + 1));
    for (int i = 0; i < p->ndatas; i++)
        load_data(pg, i);

    for (int i = 0; i < p->main.len; i++) {
        if (i == pg->cp.stmt)
            emit_training(pg, p->main.items[i]);
        else
            emit_stmt(pg, p->main.items[i]);
    }

    for (int i = 0; i < p->ndatas; i++)
        call_rt(pg, "rt_dataset_free", cg->void_, &cg->ptr, &pg->datasets[i], 1);
    for (int k = 0; k < nregions; k++) {
        arena_release(pg, LLVMBuildLoad2(cg->b, cg->ptr, arena_globals[k], ""));
        LLVMBuildStore(cg->b, LLVMConstPointerNull(cg->ptr), arena_globals[k]);
    }
    arena_release(pg, slots);
    arena_release(pg, pg->slot_ptrs);
    arena_release(pg, pg->outs);
    arena_release(pg, pg->vars);
    LLVMBuildRetVoid(cg->b);

    LLVMDisposeBuilder(pg->allocas);
    util_free(arena_globals);
    util_free(pg->datasets);
    util_free(pg->region_fns);
    util_free(pg->rows_largest);
    util_free(pg->loops);
}

/* Whether node n of a region (or of a FUSED body) with a batch's rows is one the code
 * runs on partial batches; else why not, in why. Rows must be every tensor's first axis:
 * kernels, matmuls, convolutions, pooling and scatter_add then run the rows the batch has
 * (cg_rows_limit); layout copies cover the largest batch, and no result depends on the
 * rows past the current batch's. Ops that would need the rows elsewhere are refused. */
static bool rows_supported(const IrNode *n, char *why, size_t len)
{
    const char *what = NULL;
    if (n->shape.rows && n->shape.rows_axis != 0)
        what = "rows on another axis than the first";
    for (int i = 0; !what && i < n->nin; i++)
        if (n->in[i]->shape.rows && n->in[i]->shape.rows_axis != 0)
            what = "rows on another axis than the first";
    bool rows_in = n->nin > 0 && n->in[0]->shape.rows;
    if (!what && n->op == IR_OP_CONCAT && n->shape.rows && n->attr.concat.axis == 0)
        what = "a concatenation of batches";
    if (!what && n->op == IR_OP_ARGMAX && rows_in && n->attr.argmax.axis == 0)
        what = "an argmax over the batch";
    if (!what && n->op == IR_OP_PRINT && rows_in)
        what = "printing a batch";
    for (int i = 0; !what && n->op == IR_OP_FUSED && i < n->attr.fused.nbody; i++)
        if (!rows_supported(n->attr.fused.body[i], why, len))
            return false;
    if (what)
        snprintf(why, len, "%s (%s)", what, ir_op_name(n->op));
    return !what;
}

bool cg_rows_supported(const Prog *p, char *why, size_t len)
{
    for (int k = 0; k < p->regions.len; k++) {
        const IrGraph *g = p->regions.items[k];
        for (int i = 0; i < g->len; i++)
            if (!rows_supported(g->nodes[i], why, len))
                return false;
    }
    return true;
}

CgModule *cg_compile_program(const Prog *p, const char *module_name)
{
    int nvals = 1;
    for (int k = 0; k < p->regions.len; k++) {
        const IrGraph *g = p->regions.items[k];
        if (g->next_id > nvals)
            nvals = g->next_id;
    }
    Cg cg;
    CgModule *m = cg_module_new(module_name, &cg, nvals);
    if (!m)
        return NULL;
    Pg pg = {.cg = &cg, .p = p, .f64 = LLVMDoubleTypeInContext(cg.ctx),
             .cp = prog_checkpoint_plan(p)};
    LLVMTypeRef fields[6] = {cg.ptr, cg.i32, cg.i32, LLVMArrayType2(cg.i64, IR_MAX_RANK), cg.ptr,
                             cg.i32};
    pg.view_ty = LLVMStructTypeInContext(cg.ctx, fields, 6, 0);
    emit_nnc_program(&pg);
    prog_checkpoint_free(&pg.cp);
    return cg_module_finish(m, &cg);
}
