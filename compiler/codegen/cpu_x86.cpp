// cpu_x86.cpp — what LLVM knows of x86-64 CPU names, which its C API does not say: whether
// a name is a CPU (LLVM itself would only warn and fall back to a generic one) and whether
// that CPU has AVX-512. The one C++ file of the compiler, behind two C functions
// (cg_internal.h).
#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/TargetParser/X86TargetParser.h>

extern "C" {
#include "codegen/cg_cpu.h"
}

bool cg_x86_cpu_known(const char *name)
{
    return llvm::X86::parseArchX86(name, /*Only64Bit=*/true) != llvm::X86::CK_None;
}

bool cg_x86_cpu_avx512(const char *name)
{
    llvm::SmallVector<llvm::StringRef, 64> features;
    llvm::X86::getFeaturesForCPU(name, features, /*NeedPlus=*/true);
    // The list holds a CPU's own features, not those they imply: x86-64-v4 names
    // avx512vl and avx512bw but not avx512f, which every AVX-512 feature implies.
    for (llvm::StringRef f : features)
        if (f.starts_with("+avx512"))
            return true;
    return false;
}
