/* cg_cpu.h — the x86-64 CPU names LLVM knows (cpu_x86.cpp, C++ because LLVM's C API has no
 * such query); included by cg_internal.h and by that C++ file. */
#ifndef NNC_CG_CPU_H
#define NNC_CG_CPU_H

#include <stdbool.h>

/* Whether name is an x86-64 CPU LLVM's -mcpu accepts (x86-64-v3, znver2, ...; not 32-bit
 * CPUs, not "native"). */
bool cg_x86_cpu_known(const char *name);
/* Whether that CPU has AVX-512 (name known). */
bool cg_x86_cpu_avx512(const char *name);

#endif
