/* jit.c — cg_jit_run: the optimized module, compiled by ORC LLJIT in this process.
 *
 * Runtime symbols (rt_*, and libc/libm functions LLVM may call such as memset or powf)
 * are found in the process itself: nnc links the whole runtime and exports it
 * (-rdynamic), so the JIT'd code calls the very functions an executable would. */
#include "codegen/cg_internal.h"

#include <llvm-c/LLJIT.h>

#include "nnc_rt.h"
#include "util/util.h"

/* Creates an LLJIT for the chosen CPU (target.c) with the process's symbols visible;
 * NULL after printing why. */
static LLVMOrcLLJITRef make_jit(void)
{
    LLVMTargetMachineRef tm = cg_target_machine(LLVMRelocDefault, LLVMCodeModelJITDefault);
    if (!tm)
        return NULL;
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    /* the JIT target machine builder takes (and disposes of) tm; the LLJIT builder takes it */
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
    LLVMOrcLLJITRef jit = NULL;
    LLVMErrorRef err = LLVMOrcCreateLLJIT(&jit, builder); /* consumes builder */
    if (err) {
        cg_report_error(err, "cannot create the JIT");
        return NULL;
    }
    LLVMOrcDefinitionGeneratorRef gen = NULL;
    err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL);
    if (err) {
        cg_report_error(err, "cannot make the process's symbols visible to the JIT");
        LLVMConsumeError(LLVMOrcDisposeLLJIT(jit));
        return NULL;
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit), gen); /* takes gen */
    return jit;
}

struct CgJit {
    LLVMOrcLLJITRef jit;
};

CgJit *cg_jit_new(CgModule *m, void (**program)(void))
{
    LLVMOrcLLJITRef jit = make_jit();
    if (!jit)
        return NULL;
    /* The JIT takes the module it is given: hand it a clone (same context) and keep m's
     * module for printing and object emission. */
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(LLVMCloneModule(m->mod),
                                                                      m->tsc);
    LLVMErrorRef err = LLVMOrcLLJITAddLLVMIRModule(jit, LLVMOrcLLJITGetMainJITDylib(jit), tsm);
    LLVMOrcExecutorAddress addr = 0;
    if (err) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        cg_report_error(err, "cannot add the program to the JIT");
    } else if ((err = LLVMOrcLLJITLookup(jit, &addr, "nnc_program"))) {
        cg_report_error(err, "cannot compile the program");
    }
    CgJit *j = util_malloc(sizeof *j);
    j->jit = jit;
    if (!addr) {
        cg_jit_free(j);
        return NULL;
    }
    *program = (void (*)(void))(uintptr_t)addr;
    return j;
}

void cg_jit_free(CgJit *j)
{
    if (!j)
        return;
    LLVMErrorRef err = LLVMOrcDisposeLLJIT(j->jit);
    if (err)
        cg_report_error(err, "cannot shut the JIT down");
    util_free(j);
}

int cg_jit_run(CgModule *m, int argc, char **argv)
{
    void (*program)(void);
    CgJit *j = cg_jit_new(m, &program);
    if (!j)
        return 1;
    rt_init(argc, argv);
    program();
    int status = rt_exit();
    cg_jit_free(j);
    return status;
}
