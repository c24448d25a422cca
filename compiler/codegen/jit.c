/* jit.c — cg_jit_run: the optimized module, compiled by ORC LLJIT in this process.
 *
 * Runtime symbols (rt_*, and libc/libm functions LLVM may call such as memset or powf)
 * are found in the process itself: nnc links the whole runtime and exports it
 * (-rdynamic), so the JIT'd code calls the very functions an executable would. */
#include "codegen/cg_internal.h"

#include <llvm-c/LLJIT.h>

#include "nnc_rt.h"

/* Creates an LLJIT for the host with the process's symbols visible; NULL after
 * printing why. */
static LLVMOrcLLJITRef make_jit(void)
{
    LLVMTargetMachineRef tm = cg_host_target_machine(LLVMRelocDefault, LLVMCodeModelJITDefault);
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

int cg_jit_run(CgModule *m, int argc, char **argv)
{
    LLVMOrcLLJITRef jit = make_jit();
    if (!jit)
        return 1;
    /* The JIT takes the module it is given: hand it a clone (same context) and keep m's
     * module for printing and object emission. */
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(LLVMCloneModule(m->mod),
                                                                      m->tsc);
    LLVMErrorRef err = LLVMOrcLLJITAddLLVMIRModule(jit, LLVMOrcLLJITGetMainJITDylib(jit), tsm);
    int status = 1;
    if (err) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        cg_report_error(err, "cannot add the program to the JIT");
        goto done;
    }
    LLVMOrcExecutorAddress addr = 0;
    err = LLVMOrcLLJITLookup(jit, &addr, "nnc_program");
    if (err) {
        cg_report_error(err, "cannot compile the program");
        goto done;
    }
    void (*program)(void) = (void (*)(void))(uintptr_t)addr;
    rt_init(argc, argv);
    program();
    status = rt_exit();
done:
    err = LLVMOrcDisposeLLJIT(jit);
    if (err)
        cg_report_error(err, "cannot shut the JIT down");
    return status;
}
