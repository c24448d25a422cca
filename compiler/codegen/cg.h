/* cg.h — LLVM code generation (LLVM 19 C API) for a graph after fusion, and the two ways
 * to run it: ORC LLJIT in this process, or an object file linked into an executable. */
#ifndef NNC_CG_H
#define NNC_CG_H

#include "ir/ir.h"

#include <stdio.h>

typedef struct CgModule CgModule;

/* Initializes LLVM's native target, once per process (every entry point below does it
 * first; the REPL does it before it forks, so its children start ready). */
void cg_llvm_init(void);

/* Chooses the CPU that all code of this process is generated for, once, before anything
 * is compiled (else the first compilation chooses "native"): "native" or NULL (the host's
 * CPU name and features, or the x86-64-v3 level under NNC_ISA=avx2), x86-64-v3, x86-64-v4
 * or another x86-64 CPU name LLVM knows. False, with why, for an unknown name or an
 * unknown NNC_ISA. Code compiled for a CPU without AVX-512 caps the runtime at AVX2 too
 * (rt_target_cpu). */
bool cg_select_cpu(const char *name, char *why, size_t len);
/* Whether code for the chosen CPU runs on this host, as NNC_ISA=avx2 lets it seem: false,
 * with why, for AVX-512 code on a host without it. */
bool cg_target_runs_here(char *why, size_t len);

/* Builds the module for g (whose top level holds CONST, RESHAPE, TRANSPOSE, MATMUL, PRINT
 * and FUSED nodes, layout and opaque ops, and random tensors; any other elementwise or
 * reduce node is compiled as a one-node kernel) and optimizes it with the O3 pipeline for
 * the chosen CPU (cg_select_cpu). The module defines `void nnc_program(void)`; every FUSED node becomes one
 * noinline function `fused_<id>`, every layout or indexing op one `<op>_<id>`; convolution,
 * pooling and random tensors are runtime calls. F32 and I32 tensors are 4-byte buffers.
 * Returns NULL after printing "nnc: ..." to stderr if LLVM fails. */
CgModule *cg_compile(const IrGraph *g, const char *module_name);
void cg_module_free(CgModule *m);

/* Builds the module of a training program (prog.h, docs/training.md): every region graph
 * (after ad_run, pass_simplify and pass_fuse, which the caller runs) becomes a function
 * `region_<k>(float **slot_ptrs, double *vars, double *outs)` with its own arena,
 * allocated once; `void nnc_program(void)` declares the settings as flags and parses the
 * command line, allocates the slots (one zero-filled block), vars and outs, loads the
 * data, runs p->main and frees everything. The result is used like cg_compile's. */
typedef struct Prog Prog;
CgModule *cg_compile_program(const Prog *p, const char *module_name);
/* Whether every op on a batch's rows (IrShape.rows) in p's regions is one the code can run
 * on a partial batch; else false with the first reason in why. Then prog_drop_rows makes
 * every batch full. */
bool cg_rows_supported(const Prog *p, char *why, size_t len);

/* --emit=llvm and --emit=asm (the chosen CPU's assembly). Return 0 on success. */
int cg_print_llvm(CgModule *m, FILE *out);
int cg_print_asm(CgModule *m, FILE *out);

/* JIT-compiles and runs: rt_init(argc, argv), nnc_program(), then returns rt_exit(). */
int cg_jit_run(CgModule *m, int argc, char **argv);

/* JIT-compiles m and sets *program to its nnc_program, which stays callable (any number
 * of times, for the REPL's :time) until cg_jit_free; NULL after printing why. */
typedef struct CgJit CgJit;
CgJit *cg_jit_new(CgModule *m, void (**program)(void));
void cg_jit_free(CgJit *j);

/* Emits an object file and links it with the runtime into an executable at out_path
 * (rt_main.o, libnncrt.a, -ldnnl -lm; never LLVM). Returns 0, or 1 after printing why. */
int cg_emit_executable(CgModule *m, const char *out_path);

#endif
