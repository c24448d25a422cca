/* target.c — LLVM start-up, the TargetMachines of the CPU code is generated for (nnc
 * --cpu, NNC_ISA), and LLVM error reporting. */
#include "codegen/cg_internal.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cg_llvm_init(void)
{
    static bool done;
    if (done)
        return;
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    done = true;
}

/* The target every TargetMachine of this process is made for: an LLVM CPU name with its
 * features (NULL: those the name implies), kept for the process's lifetime. Chosen once,
 * by cg_select_cpu or on first use. */
static struct {
    bool chosen;
    const char *cpu;
    char *features;
    bool avx512; /* the CPU has AVX-512F */
} target;

/* x86-64-v3: the level of an AVX2 + FMA CPU without AVX-512 (Haswell, Zen 1 to 3), what
 * NNC_ISA=avx2 makes "native" mean. */
static const char *const avx2_level = "x86-64-v3";

/* NNC_ISA: true for none, avx2 (*capped) or native; false with why for another value. The
 * runtime reads it too and accepts the same (rt_core.c). */
static bool cg_isa_env(bool *capped, char *why, size_t len)
{
    const char *isa = getenv("NNC_ISA");
    *capped = isa && strcmp(isa, "avx2") == 0;
    if (!isa || !*isa || *capped || strcmp(isa, "native") == 0)
        return true;
    snprintf(why, len, "NNC_ISA=%s is not a known setting (expected avx2, or native: the "
                       "host's own instruction set, as when unset)", isa);
    return false;
}

static bool host_is_x86_64(void)
{
    char *triple = LLVMGetDefaultTargetTriple();
    bool x86 = strncmp(triple, "x86_64", 6) == 0;
    LLVMDisposeMessage(triple);
    return x86;
}

bool cg_select_cpu(const char *name, char *why, size_t len)
{
    ASSERT(!target.chosen);
    cg_llvm_init();
    bool capped;
    if (!cg_isa_env(&capped, why, len))
        return false;
    if (!name || strcmp(name, "native") == 0) {
        if (capped) {
            name = avx2_level;
        } else {
            target.cpu = LLVMGetHostCPUName();
            target.features = LLVMGetHostCPUFeatures();
            target.avx512 = strstr(target.features, "+avx512f") != NULL;
            target.chosen = true;
            return true;
        }
    }
    if (!host_is_x86_64() || !cg_x86_cpu_known(name)) {
        snprintf(why, len, "unknown CPU '%s' (expected native, x86-64-v3, x86-64-v4 or "
                           "another x86-64 CPU name LLVM knows, such as znver2 or "
                           "skylake-avx512: see 'llc -mcpu=help')", name);
        return false;
    }
    target.cpu = name;
    target.avx512 = cg_x86_cpu_avx512(name);
    target.chosen = true;
    return true;
}

/* Only AVX-512 is checked: the CPUs nnc supports all have AVX2 and FMA (x86-64-v3). */
bool cg_target_runs_here(char *why, size_t len)
{
    if (!target.chosen && !cg_select_cpu(NULL, why, len))
        return false;
    if (!target.avx512)
        return true;
    bool capped;
    if (!cg_isa_env(&capped, why, len))
        return false;
    char *host = LLVMGetHostCPUFeatures();
    bool host_avx512 = strstr(host, "+avx512f") != NULL && !capped;
    LLVMDisposeMessage(host);
    if (!host_avx512)
        snprintf(why, len, "code for CPU '%s' uses AVX-512, which this CPU lacks%s; build "
                           "an executable with -o to run it elsewhere", target.cpu,
                 capped ? " (NNC_ISA=avx2)" : "");
    return host_avx512;
}

void cg_emit_target_call(Cg *cg)
{
    /* the module was made with a TargetMachine, so the target is chosen */
    ASSERT(target.chosen);
    LLVMTypeRef fty = LLVMFunctionType(cg->void_, &cg->i32, 1, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, "rt_target_cpu");
    if (!fn)
        fn = LLVMAddFunction(cg->mod, "rt_target_cpu", fty);
    LLVMValueRef avx512 = LLVMConstInt(cg->i32, target.avx512, 0);
    LLVMBuildCall2(cg->b, fty, fn, &avx512, 1, "");
}

LLVMTargetMachineRef cg_target_machine(LLVMRelocMode reloc, LLVMCodeModel model)
{
    cg_llvm_init();
    char why[256];
    if (!target.chosen && !cg_select_cpu(NULL, why, sizeof why)) {
        fprintf(stderr, "nnc: %s\n", why);
        return NULL;
    }
    char *triple = LLVMGetDefaultTargetTriple();
    LLVMTargetRef llvm_target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &llvm_target, &err)) {
        fprintf(stderr, "nnc: no LLVM target for %s: %s\n", triple, err ? err : "?");
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(triple);
        return NULL;
    }
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(
        llvm_target, triple, target.cpu, target.features ? target.features : "",
        LLVMCodeGenLevelAggressive, reloc, model);
    if (!tm)
        fprintf(stderr, "nnc: cannot create an LLVM target machine for %s (%s)\n", triple,
                target.cpu);
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
