/* rt_core.c — program lifecycle and fatal errors.
 * Both the AOT main() (rt_main.c) and the JIT bracket a program with rt_init / rt_exit. */
#include "rt_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

/* The command line of the running program, parsed once the program has declared its
 * settings (rt_flags_parse_command_line); the JIT passes its own argc/argv. */
static int rt_argument_count;
static char **rt_arguments;

void rt_init(int argc, char **argv)
{
    rt_argument_count = argc;
    rt_arguments = argv;
}

/* Whether the code of the running program was compiled for a CPU with AVX-512 (nnc
 * --cpu; rt_target_cpu). Until a program says otherwise: yes, so that unit tests calling
 * kernels directly follow the host and NNC_ISA alone. */
static bool rt_target_avx512 = true;
static bool rt_avx512;
static pthread_once_t rt_isa_once = PTHREAD_ONCE_INIT;

/* The one decision, taken before the first kernel or oneDNN call: AVX-512 only when the
 * host has it, NNC_ISA does not cap it and the program's code was compiled for it. When
 * not, oneDNN is capped at AVX2 too, which it allows only before it first generates code:
 * every oneDNN call in the runtime comes after rt_cpu_avx512() (rt_matmul.c, rt_conv.c). */
static void rt_isa_decide(void)
{
    const char *isa = getenv("NNC_ISA");
    bool env_capped = isa && strcmp(isa, "avx2") == 0;
    if (isa && *isa && !env_capped && strcmp(isa, "native") != 0)
        rt_fatal("NNC_ISA=%s is not a known setting (expected avx2, or native: the host's "
                 "own instruction set, as when unset)",
                 isa);
#if defined(__x86_64__)
    bool host_avx512 = __builtin_cpu_supports("avx512f");
    rt_avx512 = host_avx512 && !env_capped && rt_target_avx512;
    if (host_avx512 && !rt_avx512) {
        dnnl_status_t status = dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
        if (status != dnnl_success)
            rt_fatal("cannot cap oneDNN's instruction set at AVX2: %s",
                     dnnl_status2str(status));
    }
#else
    rt_avx512 = false;
#endif
}

bool rt_cpu_avx512(void)
{
    pthread_once(&rt_isa_once, rt_isa_decide);
    return rt_avx512;
}

void rt_target_cpu(int32_t avx512)
{
    if (!avx512)
        rt_target_avx512 = false;
    /* A process decides once: a later program compiled for a CPU without AVX-512 cannot
     * undo an earlier decision for AVX-512 (nnc never runs two such programs in one
     * process). */
    if (rt_cpu_avx512() && !avx512)
        rt_fatal("internal error: the runtime already chose AVX-512 before a program "
                 "compiled for a CPU without it");
}

void rt_flags_parse_command_line(void)
{
    rt_flags_parse_program_command_line(rt_argument_count, rt_arguments);
}

/* Returns the process exit status: 0, or 1 when stdout could not be written (a full disk,
 * a closed pipe), which would otherwise lose output silently. The error flag is cleared
 * so a REPL that runs several programs reports each failure once. */
int rt_exit(void)
{
    int failed = fflush(stdout) != 0 || ferror(stdout);
    clearerr(stdout);
    if (failed) {
        fputs("nnc: error writing output\n", stderr);
        return 1;
    }
    return 0;
}

void rt_vmessage(const char *fmt, va_list args)
{
    /* Flush first so what the program printed before failing appears before the error
     * when stdout and stderr go to the same terminal. */
    fflush(stdout);
    fputs("nnc: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
}

_Noreturn void rt_fatal(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    rt_vmessage(fmt, args);
    va_end(args);
    exit(1);
}

void rt_setting_bounded(const char *name, double compiled, double given)
{
    if (given <= compiled)
        return;
    fflush(stdout);
    fprintf(stderr, "nnc: --%s %g is larger than %g, the batch size this program's tensors were "
                    "compiled for; compile the program with the largest you want (nnc FILE -o EXE "
                    "-- --%s %g)\n",
            name, given, compiled, name, given);
    exit(2);
}

void rt_setting_fixed(const char *name, double compiled, double given, const char *why)
{
    if (!rt_flag_is_set(name) || given == compiled)
        return;
    fflush(stdout);
    fprintf(stderr, "nnc: --%s is %g in this program: it sizes the compiled tensors", name,
            compiled);
    if (why)
        fprintf(stderr, " (every batch is full: %s)", why);
    fprintf(stderr, "; compile the program with the value you want (nnc FILE -o EXE -- --%s %g)\n",
            name, given);
    exit(2);
}
