/* cg_internal.h — what the codegen files share; nothing outside compiler/codegen/ includes it.
 *
 *   target.c   LLVM start-up, the target CPU and its TargetMachines, error reporting
 *   cpu_x86.cpp   x86-64 CPU names (cg_cpu.h)
 *   emit.c     cg_compile: buffer plan, constants, nnc_program, the O3 pipeline, printing
 *   program.c  cg_compile_program: a Prog's host code and one function per region
 *   slots.c    the program ops of a region (slot loads and stores, host scalars)
 *   kernel.c   loop-nest kernels: FUSED bodies, one-node kernels, transposes, copies
 *   layout.c   kernels of the layout and indexing ops (slice, pad, concat, upsample2d,
 *              gather, scatter_add, argmax, one_hot)
 *   nn.c       convolution and pooling: calls into runtime/rt_conv.c (oneDNN)
 *   mathfn.c   exp, log, tanh, sigmoid as straight-line IR (no libm calls)
 *   jit.c      cg_jit_run (ORC LLJIT)
 *   link.c     cg_emit_executable (object file + the system cc) */
#ifndef NNC_CG_INTERNAL_H
#define NNC_CG_INTERNAL_H

#include "codegen/cg.h"
#include "codegen/cg_cpu.h"
#include "nnc_rt.h"

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/Orc.h>
#include <llvm-c/TargetMachine.h>

struct CgModule {
    /* The module lives in the context of this ThreadSafeContext, so the JIT can take a
     * clone of it without a round trip through bitcode. */
    LLVMOrcThreadSafeContextRef tsc;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    /* The target machine, PIC: drives the O3 pipeline, --emit=asm and the object file. The JIT
     * makes its own (its builder consumes the one it is given). */
    LLVMTargetMachineRef tm;
};

/* Emission state for one module. `vals` maps a node id to the SSA value of that node in
 * the loop body being emitted; it is scratch, written before every read within a kernel. */
typedef struct Cg {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef f32, i1, i32, i64, ptr, void_;
    LLVMValueRef *vals;
    int nvals;
    const bool *blocked; /* by node id: results kept in nChw16c (blocked.c); NULL: none */
} Cg;

/* ---- target.c ------------------------------------------------------------------------- */
/* A TargetMachine for the chosen CPU (cg_select_cpu; "native" unless chosen) at -O3; NULL
 * after printing why. */
LLVMTargetMachineRef cg_target_machine(LLVMRelocMode reloc, LLVMCodeModel model);
/* Emits, at the builder's position, nnc_program's first call: rt_target_cpu(whether the
 * chosen CPU has AVX-512). */
void cg_emit_target_call(Cg *cg);
/* Prints "nnc: <what>: <LLVM's message>" and consumes err. Returns 1 (for `return`). */
int cg_report_error(LLVMErrorRef err, const char *what);

/* Arena offsets and constant globals: a cache line, a zmm. */
enum { CG_BUFFER_ALIGN = 64 };

/* Where a region's program ops (SLOT_LOAD, SLOT_STORE, SCALAR_INPUT, SCALAR_OUTPUT) find
 * the program's state: the region function's parameters (float **slot_ptrs, double *vars,
 * double *outs), and `scratch`, CG_BUFFER_ALIGN-aligned room of cg_slot_scratch_bytes(g)
 * for the stores' snapshots. cg_compile's graphs hold no program ops (env NULL) except a
 * REPL entry's slot loads and stores, whose table is the process's `nnc_repl_slots`. */

typedef struct CgEnv {
    LLVMValueRef slot_ptrs, vars, outs, scratch;
    /* by program variable: the largest batch of the loop whose rows it holds (IrShape.rows),
     * or 0 */
    const int64_t *rows_largest;
} CgEnv;

/* ---- emit.c --------------------------------------------------------------------------- */
/* A module for the host with a Cg to emit into (cg->vals sized for node ids < nvals);
 * NULL after printing why. cg_module_finish verifies and optimizes it (NULL on failure,
 * having freed m) and releases the Cg. */
CgModule *cg_module_new(const char *module_name, Cg *cg, int nvals);
CgModule *cg_module_finish(CgModule *m, Cg *cg);
/* The memory plan of g: offset[id] into its arena (-1: no arena bytes), and in_place[id]
 * the slot a kernel writes directly (-1: none; pass_slots_in_place); returns the arena's
 * size in bytes. */
int64_t cg_plan_graph(const IrGraph *g, int64_t *offset, int *in_place);
/* Emits g's nodes in order at the builder's position, intermediates at arena + offset,
 * in-place kernels' values in their slots. */
void cg_emit_graph(Cg *cg, const IrGraph *g, const int64_t *offset, const int *in_place,
                   LLVMValueRef arena, const CgEnv *env);
/* Assembly or an object file of m for its TargetMachine; NULL after printing why. */
LLVMMemoryBufferRef cg_emit_to_memory(CgModule *m, LLVMCodeGenFileType kind);

/* `size`, a size proportional to the rows of variable rows - 1 at their largest batch
 * (IrShape.rows), scaled to the current batch's rows, as an i64 at the builder's position:
 * size / largest * vars[rows - 1]. */
LLVMValueRef cg_rows_limit(Cg *cg, const CgEnv *env, int rows, int64_t size);
/* rt_parallel_for(n, fn, ctx) at the builder's position. */
void cg_parallel_for(Cg *cg, LLVMValueRef n, LLVMValueRef fn, LLVMValueRef ctx);

/* ---- kernel.c ------------------------------------------------------------------------- */
/* Fused kernels of at least this many points run on the runtime's thread pool. */
enum { CG_PARALLEL_POINTS = 1 << 16 };

/* Defines `void name(float *out, const float *in0, ...)` computing body[nbody - 1] (see
 * ir.h for the meaning of a FUSED body) from the nin tensors `in` into the result of
 * `node` (the FUSED node, or the single node that is its own body), each array in its
 * layout (cg->blocked), and sets *parallel to 0. The body nodes are elementwise, except
 * possibly the last, a reduction. A kernel of CG_PARALLEL_POINTS or more whose outermost
 * loop is not reduced is split along that loop instead: *parallel is the loop's length
 * and the function returned is `void name_range(void **args, int64_t begin, int64_t end)`
 * for rt_parallel_for, args holding out, in0, ... One whose outermost loop is reduced
 * runs that loop in chunks on the pool itself, each into its own partial result, and
 * combines the partials in chunk order (*parallel 0). The builder is left where it was. */
/* A kernel over a batch's rows (IrShape.rows on its domain's axis 0) runs only the rows
 * the current batch has: how much of its outermost loop runs is that loop's length at the
 * largest batch, *rows_len, scaled to the batch (cg_rows_limit). Split on the pool
 * (*parallel > 0, then equal to *rows_len), it runs over that many; otherwise it takes
 * the limit as one more parameter, last. *rows_len is 0 for any other kernel. */
LLVMValueRef cg_kernel_fused(Cg *cg, const char *name, const IrNode *node, IrNode *const *in,
                             int nin, IrNode *const *body, int nbody, int64_t *parallel,
                             int64_t *rows_len);
/* Declares `internal void name_suffix(void *ctx, int64_t begin, int64_t end)`, a function
 * for rt_parallel_for, and positions the builder in its entry block (the caller restores
 * its own position). */
LLVMValueRef cg_range_function(Cg *cg, const char *name, const char *suffix);
/* Defines `void name(int64_t begin, int64_t end, float *out, const float *in0, ...)`
 * computing elements [begin, end) of the flat FUSED node f (ir_fused_flat): the same code
 * serves every FUSED node alike to f, each with its own pointers. */
LLVMValueRef cg_kernel_flat(Cg *cg, const char *name, const IrNode *f);
/* Defines `void name(float *out, const float *in)` copying the transpose t of its input. */
LLVMValueRef cg_kernel_transpose(Cg *cg, const char *name, const IrNode *t);

/* One strided copy of 4-byte elements: for every index i over dims,
 *     out[dst_offset + sum i[d] dst_stride[d]] = in_src[src_offset + sum i[d] src_stride[d]]
 * (strides and offsets in elements). */
typedef struct CgCopy {
    int rank;
    int src;   /* which input */
    int64_t dims[IR_MAX_RANK];
    int64_t dst_stride[IR_MAX_RANK], src_stride[IR_MAX_RANK];
    int64_t dst_offset, src_offset;
} CgCopy;
/* Defines `void name(void *out, const void *in0, ...)` (nin inputs) that zeroes
 * out[0 .. zero_fill) and then performs the copies in order, each as a simplified loop
 * nest (kernel.c's Nest). */
LLVMValueRef cg_kernel_copies(Cg *cg, const char *name, int nin, int64_t zero_fill,
                              const CgCopy *copies, int ncopies);

/* Scaffolding for hand-built kernels (layout.c). cg_kernel_begin declares
 * `internal noinline void name(ptr noalias align 64 out, ptr readonly ... in)` with narr
 * pointer parameters (and with `limit` an i64 last) and positions the builder in its
 * entry block. */
LLVMValueRef cg_kernel_begin(Cg *cg, const char *name, int narr, bool limit);
typedef struct CgLoop {
    LLVMBasicBlockRef header;
    LLVMValueRef iv;
} CgLoop;
/* `for (iv = 0; iv < n; iv++)` with n >= 1: begin returns iv and leaves the builder in the
 * body; end closes the loop and leaves the builder after it. */
LLVMValueRef cg_loop_begin(Cg *cg, CgLoop *l);
void cg_loop_end(Cg *cg, CgLoop *l, int64_t n);
void cg_loop_end_value(Cg *cg, CgLoop *l, LLVMValueRef n); /* n: an i64 >= 1 */

/* ---- layout.c ------------------------------------------------------------------------- */
/* Defines `void name(out, in0, ...)` computing n (SLICE, PAD, CONCAT, UPSAMPLE2D, GATHER,
 * SCATTER_ADD, ARGMAX, ONE_HOT) from its inputs, in input order. */
LLVMValueRef cg_kernel_layout(Cg *cg, const char *name, const IrNode *n);

/* ---- blocked.c ------------------------------------------------------------------------ */
/* By node id (util_malloc'd): true where g keeps the node's result in oneDNN's nChw16c
 * layout rather than NCHW, between convolutions and the kernels around them. */
bool *cg_blocked_layouts(const IrGraph *g);

/* ---- nn.c ----------------------------------------------------------------------------- */
/* The RtConv2d of a convolution node: x, w, y shapes from whichever of its operands and
 * result play those roles, and their layouts from `blocked` (by node id; NULL: NCHW). */
RtConv2d cg_conv_geometry(const IrNode *n, const bool *blocked);
/* Emits, at the builder's position, the runtime call computing the convolution or pooling
 * node n into buf[n->id] from its inputs' buffers; on a batch's rows, over the rows the
 * current batch has (env: cg_rows_limit). */
void cg_emit_nn_call(Cg *cg, const IrNode *n, LLVMValueRef *buf, const CgEnv *env);

/* ---- slots.c -------------------------------------------------------------------------- */
/* Emits a program op at the builder's position: SLOT_LOAD sets buf[id] to the slot's
 * pointer, SCALAR_INPUT fills its buffer with (float)vars[k], SLOT_STORE copies its input
 * into the slot, SCALAR_OUTPUT writes outs[k]. */
void cg_emit_program_op(Cg *cg, const IrNode *n, LLVMValueRef *buf, const CgEnv *env);
/* The storage of slot k (a load from env->slot_ptrs at the builder's position). */
LLVMValueRef cg_slot_pointer(Cg *cg, const CgEnv *env, int k);
/* Bytes of scratch the snapshots of g need (see cg_emit_slot_snapshots). */
int64_t cg_slot_scratch_bytes(const IrGraph *g);
/* Called before g->nodes[first_store], the region's first SLOT_STORE: every value read
 * after that point whose storage is a slot some store overwrites before the read (a swap
 * of two slots, a value printed after its slot is stored) is copied into env->scratch and
 * buf[] is redirected to the copy, so all reads see the slots' old values. */
void cg_emit_slot_snapshots(Cg *cg, const IrGraph *g, int first_store, LLVMValueRef *buf,
                            const CgEnv *env);

/* ---- mathfn.c ------------------------------------------------------------------------- */
/* Each emits, at the builder's position, IR computing the function of an f32 value: no
 * calls, so loops around it vectorize. Accuracy (measured by
 * tests/codegen): a few ulp over the whole float range; NaN in gives NaN out. */
LLVMValueRef cg_math_exp(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_log(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_tanh(Cg *cg, LLVMValueRef x);
LLVMValueRef cg_math_sigmoid(Cg *cg, LLVMValueRef x);
/* Calls the overloaded intrinsic `name` (e.g. "llvm.sqrt") at f32. */
LLVMValueRef cg_call_intrinsic(Cg *cg, const char *name, LLVMValueRef *args, int nargs);

/* Marks a float instruction reassoc + contract: enough for the vectorizer to reorder
 * reductions, and for FMA formation; never nnan/ninf, so NaN and inf stay meaningful.
 * Constants folded by the builder are left alone. Returns v. */
LLVMValueRef cg_fast(LLVMValueRef v);
/* Marks a float instruction contract only (FMA formation): for the approximations in
 * mathfn.c, whose range-reduction steps must not be reassociated. Returns v. */
LLVMValueRef cg_contract(LLVMValueRef v);

#endif
