/* target.c — LLVM start-up, TargetMachines for the host, and LLVM error reporting. */
#include "codegen/cg_internal.h"

#include <stdbool.h>
#include <stdio.h>

void cg_llvm_init(void)
{
    static bool done;
    if (done)
        return;
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    done = true;
}

/* The host's own CPU name and feature string (znver5 with AVX-512 on the project's
 * machines), so the vectorizer may use every instruction the machine has: the code only
 * ever runs where it was compiled, or on the same kind of machine for -o executables. */
LLVMTargetMachineRef cg_host_target_machine(LLVMRelocMode reloc, LLVMCodeModel model)
{
    cg_llvm_init();
    char *triple = LLVMGetDefaultTargetTriple();
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        fprintf(stderr, "nnc: no LLVM target for %s: %s\n", triple, err ? err : "?");
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(triple);
        return NULL;
    }
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu, features,
                                                      LLVMCodeGenLevelAggressive, reloc, model);
    if (!tm)
        fprintf(stderr, "nnc: cannot create an LLVM target machine for %s (%s)\n", triple, cpu);
    LLVMDisposeMessage(features);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(triple);
    return tm;
}

int cg_report_error(LLVMErrorRef err, const char *what)
{
    char *msg = LLVMGetErrorMessage(err);
    fprintf(stderr, "nnc: %s: %s\n", what, msg);
    LLVMDisposeErrorMessage(msg);
    return 1;
}
